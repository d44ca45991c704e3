"""Where the files that ship with pamedge are: model bundles (``models/``), deployments, device
profiles, the hydrophone table and systemd units (``firmware-config/``), example recordings
(``examples/``).

In a source checkout they are the repository's folders.  A wheel (``pip install pamedge``)
carries copies under ``edge/_shipped/`` (setup.py's build step puts them there), so a buoy
with no repository finds them by name just the same.  Environment variables put other folders
first: ``PAMEDGE_MODELS`` (bundles), ``PAMEDGE_DEPLOYMENTS`` (deployment YAMLs),
``PAMEDGE_DEVICES`` (device profiles).
"""

from __future__ import annotations

import os
from pathlib import Path

from edge.errors import ConfigError

_PACKAGE = Path(__file__).resolve().parent
KINDS = ("models", "firmware-config", "examples")


def path(kind: str) -> Path:
    """The shipped folder ``kind`` (one of :data:`KINDS`): the wheel's copy when installed, else
    the source checkout's (it may not exist, e.g. ``examples`` in a trimmed install)."""
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r} is not one of {', '.join(KINDS)}")
    installed = _PACKAGE / "_shipped" / kind
    return installed if installed.is_dir() else _PACKAGE.parent / kind


def deployments_dirs() -> list[Path]:
    """Where deployments are looked up by name: ``$PAMEDGE_DEPLOYMENTS``, then the shipped ones."""
    env = os.environ.get("PAMEDGE_DEPLOYMENTS")
    return [*([Path(env)] if env else []), path("firmware-config") / "deployments"]


def deployment_names() -> list[str]:
    """The names ``--config`` takes: every deployment YAML in :func:`deployments_dirs`."""
    return sorted({c.stem for d in deployments_dirs() if d.is_dir() for c in d.glob("*.yaml")})


def is_name(ref: str) -> bool:
    """A bare name (``narw-upcall``), not a path (``./x.yaml``, ``a/b``, ``x.yaml``)."""
    return (
        bool(ref)
        and "/" not in ref
        and os.sep not in ref
        and not ref.startswith(".")
        and not ref.endswith((".yaml", ".yml"))
    )


def deployment(ref: str | os.PathLike[str]) -> Path:
    """The deployment YAML named by ``ref``: an existing file, or a shipped deployment's name."""
    p = Path(ref).expanduser()
    if p.is_file() or not is_name(str(ref)):
        return p
    for folder in deployments_dirs():
        candidate = folder / f"{ref}.yaml"
        if candidate.is_file():
            return candidate
    known = deployment_names()
    raise ConfigError(
        f"deployment {str(ref)!r}: no such file and no shipped deployment of that name "
        f"(known: {', '.join(known) or 'none'})"
    )


def table(ref: str, base: Path | None) -> Path:
    """A hydrophone table: a path (relative to ``base``, the deployment's folder) or a name:
    ``NAME.yaml`` beside the deployment, else the shipped ``firmware-config/NAME.yaml``."""
    if not is_name(ref):
        p = Path(ref).expanduser()
        return p if p.is_absolute() or base is None else base / p
    beside = base / f"{ref}.yaml" if base is not None else None
    if beside is not None and beside.is_file():
        return beside
    return path("firmware-config") / f"{ref}.yaml"

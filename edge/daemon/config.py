"""The ``run:`` section of a deployment YAML (``DeploymentConfig.run``, built by
:mod:`edge.config`): how ``edge-run`` runs on the buoy.

Validated on load like the rest of the deployment (an unknown key is an error naming the file
and key).  None of it changes what a recording's records are, so it is not part of the
deployment's hash; only the degradation level does, and each record says which level made it
through the ``processed`` table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge import _validate as v
from edge.errors import ConfigError
from edge.types import RetentionPolicy

RETENTION_POLICIES = ("delete", "keep", "snippets")


def _pair(name: str, value: Any, *, descending: bool) -> tuple[float, float]:
    v.require(
        isinstance(value, (list, tuple)) and len(value) == 2,
        f"{name}={value!r} must be two numbers: [limited, roi-only]",
    )
    for x in value:
        v.number(name, x, minimum=0)
    ok = value[0] >= value[1] if descending else value[0] <= value[1]
    order = ">=" if descending else "<="
    v.require(ok, f"{name}={list(value)!r}: the limited threshold must be {order} the roi-only one")
    return float(value[0]), float(value[1])


@dataclass(frozen=True)
class DegradeSettings:
    """Step down when the backlog exceeds (or the disk's free space falls below) a threshold,
    back up when it is comfortably clear of it: below ``backlog_s * recover`` and above
    ``min_free_mb / recover``."""

    backlog_s: tuple[float, float] = (1800.0, 7200.0)  # [to limited, to roi-only]
    min_free_mb: tuple[float, float] = (1024.0, 256.0)
    recover: float = 0.5
    classify_limit: int = 5  # ROIs classified per recording at the limited level

    def __post_init__(self) -> None:
        object.__setattr__(self, "backlog_s", _pair("backlog_s", self.backlog_s, descending=False))
        object.__setattr__(self, "min_free_mb", _pair("min_free_mb", self.min_free_mb, descending=True))
        v.number("recover", self.recover, minimum=0, exclusive=True)
        v.require(self.recover < 1, f"recover={self.recover!r} must be < 1 (hysteresis)")
        v.integer("classify_limit", self.classify_limit, minimum=1, maximum=100_000, why="ROIs held per recording")


@dataclass(frozen=True)
class RetentionSettings:
    """What happens to raw audio after it is processed (recorder folder and live capture
    only: ``--replay`` files are never touched)."""

    policy: RetentionPolicy = "delete"
    snippet_pad_s: float = 2.0  # seconds kept either side of each detection
    snippets_dir: str = "snippets"  # relative to the watched folder's parent
    disk_budget_mb: float | None = None  # raw audio + snippets; None: only the disk's own free space
    min_free_mb: float | None = 100.0  # free space kept on the filesystem, whatever the budget

    def __post_init__(self) -> None:
        v.require(
            self.policy in RETENTION_POLICIES, f"policy={self.policy!r} must be one of {', '.join(RETENTION_POLICIES)}"
        )
        v.number("snippet_pad_s", self.snippet_pad_s, minimum=0)
        v.require(
            isinstance(self.snippets_dir, str) and self.snippets_dir != "",
            f"snippets_dir={self.snippets_dir!r} must be a folder",
        )
        v.number("disk_budget_mb", self.disk_budget_mb, minimum=0, exclusive=True, allow_none=True)
        v.number("min_free_mb", self.min_free_mb, minimum=0, allow_none=True)


@dataclass(frozen=True)
class LiveSettings:
    """Capture from an ALSA device (``sounddevice``, extra ``live``) into WAV files in the
    watched folder, ``file_s`` seconds each, named by their UTC start."""

    device: str | None = None  # sounddevice name or index; None: the default input
    sample_rate: int = 48000
    channels: int = 1
    file_s: float = 600.0

    def __post_init__(self) -> None:
        v.integer("sample_rate", self.sample_rate, minimum=1)
        v.integer("channels", self.channels, minimum=1, maximum=64, why="capture buffers")
        v.number("file_s", self.file_s, minimum=1, maximum=86400, why="a day per file")


@dataclass(frozen=True)
class RunSettings:
    log: str | None = None  # default: the sync: section's log, else detections.sqlite beside the YAML
    watch: str | None = None  # the recorder's output folder
    stable_s: float = 10.0  # a file is complete when its size and mtime held this long
    poll_s: float = 2.0
    health_period_s: float = 60.0
    device: str | None = None  # device profile name (firmware-config/devices/NAME.yaml) or path
    # a recording that ended the daemon is retried in isolated workers: failed after this many
    # of them crash (None: retried in the daemon itself, for ever)
    max_attempts: int | None = 3
    live: LiveSettings | None = None
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    degrade: DegradeSettings = field(default_factory=DegradeSettings)
    # Testing: an artificial cost per block of audio at the full level (half at limited,
    # none at roi-only), standing in for the classifier on a slow CPU.
    simulate_block_cost_s: float = 0.0
    source: str = field(default="", metadata=v.SOURCE)

    def __post_init__(self) -> None:
        for name in ("log", "watch", "device"):
            value = getattr(self, name)
            v.require(value is None or (isinstance(value, str) and value != ""), f"{name}={value!r} must be a path")
        v.number("stable_s", self.stable_s, minimum=0)
        v.number("poll_s", self.poll_s, minimum=0, exclusive=True)
        v.number("health_period_s", self.health_period_s, minimum=0, exclusive=True)
        v.number("simulate_block_cost_s", self.simulate_block_cost_s, minimum=0)
        v.integer("max_attempts", self.max_attempts, minimum=1, allow_none=True)

    def path(self, value: str) -> Path:
        """``value`` relative to the YAML file's folder (:func:`edge._validate.relative_path`)."""
        return v.relative_path(value, self.source)


_SECTIONS = {"retention": RetentionSettings, "degrade": DegradeSettings, "live": LiveSettings}


def run_from_mapping(data: Any, where: str, *, source: str = "") -> RunSettings:
    """Run settings from the parsed ``run:`` section; ``where`` names it in errors."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of run settings")
    sections: dict[str, Any] = {k: v.build(cls, data[k], f"{where}: {k}") for k, cls in _SECTIONS.items() if k in data}
    top = {k: val for k, val in data.items() if k not in _SECTIONS}
    return v.build(RunSettings, top, where, **sections, source=source)

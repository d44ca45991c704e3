"""Model bundles (``models/NAME/``, docs/reference/bundles.md): load, verify, match to a deployment.

A loaded :class:`Bundle` is read-only and shared by every stream that classifies with it.
Loading checks the card's format and every file's size and sha256, so a bundle copied
half-way to an SD card or edited by hand is refused naming the file; :meth:`Bundle.check`
refuses a bundle whose features differ from the deployment's, naming both values
(ARCHITECTURE contract 2).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from edge import shipped
from edge._hashing import file_sha256
from edge.errors import BundleError
from edge.frontend import FrontendSpec
from edge.tethys.types import Species, species_map
from edge.types import Centre

# How a window is centred before the model (edge.classify.standardise): the card's
# input.standardise.centre
CENTRES = ("window_mean", "bin_median")

FORMAT = "pamedge-bundle/1"
TASKS = ("single", "multi_label", "multi_output")
ACTIVATIONS = ("softmax", "sigmoid")
MODEL_FILES = {"onnx": "model.int8.onnx", "tflite": "model.int8.tflite"}
GOLDEN = "golden.npz"
MODELS_ENV = "PAMEDGE_MODELS"  # a folder of bundles searched first for bare names


@dataclass(frozen=True)
class Output:
    """One graph output: its classes in order, its activation and its "no call" class."""

    name: str
    classes: tuple[str, ...]
    activation: str
    negative: str | None


@dataclass(frozen=True)
class Quant:
    """An int8 tensor's affine quantisation: ``q = round(x / scale) + zero_point``."""

    scale: float
    zero_point: int
    tensor: str | None = None  # the TFLite output tensor's name, when the card gives it


@dataclass(frozen=True)
class Bundle:
    path: Path
    name: str
    task: str
    outputs: tuple[Output, ...]
    sample_rate: int
    spec: FrontendSpec
    spec_hash: str
    n_frames: int
    n_features: int
    scale_db: float
    tflite_input: Quant | None
    tflite_outputs: dict[str, Quant]
    files: dict[str, dict[str, Any]]
    thresholds: dict[str, float]
    tolerance: float
    card: dict[str, Any]
    centre: Centre = "window_mean"  # input.standardise.centre (edge.classify.standardise); absent in older cards

    def file(self, kind: str) -> Path:
        """The model file a backend ``kind`` (onnx, tflite) runs; :class:`BundleError` when
        the bundle has none."""
        name = MODEL_FILES[kind]
        if name not in self.files:
            raise BundleError(f"{self.path}: bundle has no {name} (its card lists {', '.join(self.files)})")
        return self.path / name

    def identity(self, kind: str) -> str:
        """``NAME@`` + 12 hex digits of the sha256 of the file that runs (docs/reference/bundles.md)."""
        self.file(kind)
        return f"{self.name}@{self.files[MODEL_FILES[kind]]['sha256'][:12]}"

    def check(self, spec: FrontendSpec, sample_rate: int | None, where: str) -> None:
        """Refuse the bundle unless the deployment ``where`` computes the features it was
        trained on at its sample rate."""
        if sample_rate is not None and sample_rate != self.sample_rate:
            raise BundleError(
                f"model {self.name} ({self.path}) expects sample rate {self.sample_rate} Hz, "
                f"{where} has {sample_rate} Hz"
            )
        if spec.hash != self.spec_hash:
            raise BundleError(
                f"model {self.name} ({self.path}) was trained on frontend {self.spec_hash} "
                f"({_spec_text(self.spec)}); {where} computes frontend {spec.hash} ({_spec_text(spec)})"
            )

    @property
    def species(self) -> dict[str, Species]:
        """The card's ``species:`` (label -> ITIS number, name, call), empty when absent."""
        return species_map(self.card.get("species"), str(self.path / "card.yaml"))

    @property
    def labels(self) -> set[str]:
        """Every class that can become a detection."""
        return {c for o in self.outputs for c in o.classes if c != o.negative}


def _spec_text(spec: FrontendSpec) -> str:
    return ", ".join(
        f"{k}={getattr(spec, k)}" for k in ("sample_rate", "nfft", "hop", "window", "fmin", "fmax", "n_mels")
    )


def _get(data: dict[str, Any], key: str, where: str, kind: type | tuple[type, ...] = object) -> Any:
    if not isinstance(data, dict) or key not in data:
        raise BundleError(f"{where}: missing key {key!r}")
    value = data[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise BundleError(f"{where}: {key}={value!r} has the wrong type")
    return value


def _quant(data: Any, where: str) -> Quant:
    scale = _get(data, "scale", where, (int, float))
    zero = _get(data, "zero_point", where, int)
    if not scale > 0 or not -128 <= zero <= 127:
        raise BundleError(f"{where}: scale={scale}, zero_point={zero} is not an int8 quantisation")
    tensor = data.get("name")
    return Quant(float(scale), zero, str(tensor) if tensor is not None else None)


def _outputs(card: dict[str, Any], where: str, task: str) -> tuple[Output, ...]:
    negative = card.get("negative")
    outs = []
    for name, data in _get(card, "outputs", where, dict).items():
        w = f"{where}: outputs: {name}"
        classes = tuple(str(c) for c in _get(data, "classes", w, list))
        activation = _get(data, "activation", w, str)
        if activation not in ACTIVATIONS or len(classes) < 1 or len(set(classes)) != len(classes):
            raise BundleError(f"{w}: needs distinct classes and an activation in {', '.join(ACTIVATIONS)}")
        # a multi-output head's first class means "none of mine" (training's convention);
        # an output may also name its own
        neg = classes[0] if task == "multi_output" else (negative if negative in classes else None)
        neg = data.get("negative", neg)
        if neg is not None and neg not in classes:
            raise BundleError(f"{w}: negative={neg!r} is not one of its classes")
        outs.append(Output(str(name), classes, activation, neg))
    if not outs:
        raise BundleError(f"{where}: outputs is empty")
    return tuple(outs)


def load_bundle(path: str | Path, *, verify: bool = True) -> Bundle:
    """Read ``path/card.yaml``; with ``verify`` check each listed file's size and sha256."""
    from edge._validate import read_yaml
    from edge.errors import ConfigError

    path = Path(path)
    card_path = path / "card.yaml"
    if not card_path.is_file():
        raise BundleError(f"{path}: not a model bundle (no card.yaml)")
    try:
        card = read_yaml(card_path, "model card")
    except ConfigError as exc:
        raise BundleError(str(exc)) from None
    where = str(card_path)
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        got = card.get("format") if isinstance(card, dict) else None
        raise BundleError(f"{where}: format={got!r}, this runtime reads {FORMAT}")
    task = _get(card, "task", where, str)
    if task not in TASKS:
        raise BundleError(f"{where}: task={task!r} is not one of {', '.join(TASKS)}")
    frontend = _get(card, "frontend", where, dict)
    try:
        spec = FrontendSpec(**_get(frontend, "spec", f"{where}: frontend", dict))
    except (TypeError, ValueError) as exc:
        raise BundleError(f"{where}: frontend: spec: {exc}") from None
    spec_hash = str(_get(frontend, "hash", f"{where}: frontend"))
    if spec.hash != spec_hash:
        raise BundleError(f"{where}: frontend hash {spec_hash} is not the hash of its spec ({spec.hash})")
    sample_rate = _get(card, "sample_rate", where, int)
    if spec.sample_rate != sample_rate:
        raise BundleError(f"{where}: sample_rate={sample_rate} differs from the frontend spec's {spec.sample_rate}")
    window = _get(card, "window", where, dict)
    inp = _get(card, "input", where, dict)
    files = _get(card, "files", where, dict)
    if not any(name in files for name in MODEL_FILES.values()):
        raise BundleError(f"{where}: files lists no model file ({', '.join(MODEL_FILES.values())})")
    outputs = _outputs(card, where, task)
    tq = card.get("tflite_outputs") or {}
    tflite = "model.int8.tflite" in files
    standardise = _get(inp, "standardise", f"{where}: input", dict)
    centre = str(standardise.get("centre", "window_mean"))
    if centre not in CENTRES:
        raise BundleError(
            f"{where}: input: standardise: centre={centre!r} is not one of {', '.join(CENTRES)} "
            "(a newer pamedge wrote this bundle?)"
        )
    bundle = Bundle(
        path=path,
        name=str(_get(card, "name", where, str)),
        task=task,
        outputs=outputs,
        sample_rate=sample_rate,
        spec=spec,
        spec_hash=spec_hash,
        n_frames=_get(window, "n_frames", f"{where}: window", int),
        n_features=_get(window, "n_features", f"{where}: window", int),
        scale_db=float(_get(standardise, "scale_db", f"{where}: input: standardise", (int, float))),
        centre=cast(Centre, centre),
        tflite_input=_quant(inp["tflite"], f"{where}: input: tflite") if tflite and inp.get("tflite") else None,
        tflite_outputs={k: _quant(q, f"{where}: tflite_outputs: {k}") for k, q in tq.items()} if tflite else {},
        files=files,
        thresholds={str(k): float(p) for k, p in (card.get("thresholds") or {}).items()},
        tolerance=float((card.get("golden") or {}).get("tolerance", 0.02)),
        card=card,
    )
    if verify:
        verify_files(bundle)
    return bundle


def verify_files(bundle: Bundle) -> None:
    """Every file the card lists exists with its size and sha256."""
    for name, entry in bundle.files.items():
        file = bundle.path / name
        if not file.is_file():
            raise BundleError(f"{file}: listed in {bundle.path / 'card.yaml'} but missing")
        size = file.stat().st_size
        if "bytes" in entry and size != entry["bytes"]:
            raise BundleError(f"{file}: {size} bytes, the card says {entry['bytes']} (copied incompletely or changed)")
        digest = file_sha256(file)
        if digest != entry.get("sha256"):
            raise BundleError(
                f"{file}: sha256 {digest[:12]}... differs from the card's "
                f"{str(entry.get('sha256'))[:12]}... (the file was changed or damaged)"
            )


def resolve(ref: str | os.PathLike[str], *, relative_to: str | Path | None = None) -> Path:
    """The bundle folder named by ``ref``: a path (absolute, or relative to ``relative_to``,
    the deployment YAML's folder, then to the current folder) or a bare name looked up as
    ``models/NAME`` in ``$PAMEDGE_MODELS``, above ``relative_to``, the current folder and the
    shipped models (edge.shipped)."""
    ref = str(ref)
    candidates: list[Path] = []
    if os.sep in ref or "/" in ref or ref.startswith("."):
        p = Path(ref).expanduser()
        if not p.is_absolute() and relative_to is not None:
            candidates.append(Path(relative_to) / p)
        candidates.append(p)
    else:
        if os.environ.get(MODELS_ENV):
            candidates.append(Path(os.environ[MODELS_ENV]) / ref)
        if relative_to is not None:
            base = Path(relative_to).resolve()
            candidates += [d / "models" / ref for d in (base, *base.parents)]
        candidates += [Path("models") / ref, shipped.path("models") / ref, Path(ref)]
    for c in candidates:
        if (c / "card.yaml").is_file():
            return c.resolve()
    seen = list(dict.fromkeys(str(c) for c in candidates))
    raise BundleError(f"model {ref!r}: no bundle (card.yaml) found; looked in {', '.join(seen[:6])}")


def find_bundles() -> list[Path]:
    """Every bundle folder in ``$PAMEDGE_MODELS``, ``./models`` and the shipped models."""
    roots = [Path(os.environ[MODELS_ENV])] if os.environ.get(MODELS_ENV) else []
    roots += [Path("models"), shipped.path("models")]
    found: dict[Path, None] = {}
    for root in roots:
        if root.is_dir():
            for card in sorted(root.glob("*/card.yaml")):
                found[card.parent.resolve()] = None
    return list(found)

"""``edge-train`` configuration: one YAML, every key checked (unknown keys are errors).

Relative paths are taken from the YAML file's folder.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any


from edge import _validate as v
from edge.errors import ConfigError
from training.augment import AugmentSettings
from training.types import TrainConfigError


HEADS = ("single", "multi_label", "multi_output")


@dataclass(frozen=True)
class ModelSettings:
    """The ``model:`` section of an ``edge-train`` config."""

    width: int = 16  # channels of the first stage; doubles per stage
    depth: int = 2  # stages, each a residual block with stride 2
    head: str = "single"
    outputs: dict = field(default_factory=dict)  # multi_output: head name -> class list
    scale_db: float = 20.0

    def __post_init__(self) -> None:
        v.integer("width", self.width, minimum=1)
        v.integer("depth", self.depth, minimum=1)
        v.require(self.head in HEADS, f"head={self.head!r} is not one of {', '.join(HEADS)}")
        v.require(isinstance(self.outputs, dict), f"outputs={self.outputs!r} must be a mapping")
        if self.head == "multi_output":
            v.require(len(self.outputs) >= 2, "head=multi_output needs outputs: {name: [classes], ...} with >= 2 heads")
        v.number("scale_db", self.scale_db, minimum=0, exclusive=True)


@dataclass(frozen=True)
class SyntheticSettings:
    """``data.synthetic``: recordings generated into the run folder, with exact labels."""

    recordings: int = 6
    duration_s: float = 30.0
    sample_rate: int = 2000
    calls: dict = field(default_factory=lambda: {"upcall": 6})
    snr_db: tuple = (5.0, 15.0)
    noise_alpha: float = 1.0
    background: str | None = None  # a recording to mix calls into, else coloured noise

    def __post_init__(self) -> None:
        v.integer("recordings", self.recordings, minimum=2)
        v.number("duration_s", self.duration_s, minimum=0, exclusive=True)
        v.integer("sample_rate", self.sample_rate, minimum=1)
        v.require(isinstance(self.calls, dict) and self.calls, f"calls={self.calls!r} must map call type -> count")
        v.require(isinstance(self.snr_db, (list, tuple)) and len(self.snr_db) == 2, f"snr_db={self.snr_db!r} must be [low, high]")
        object.__setattr__(self, "snr_db", tuple(float(s) for s in self.snr_db))


@dataclass(frozen=True)
class DataSettings:
    """``data``: exactly one of ``annotations`` (CSV), ``clips`` (folder) or ``synthetic``."""

    annotations: str | None = None
    audio_dir: str | None = None  # where the CSV's file names are; default: the CSV's folder
    labels: dict | None = None  # raw label -> class name, e.g. {"1": upcall}
    background: list = field(default_factory=list)  # recordings with no calls (negatives)
    clips: str | None = None
    label_from: str = "folder"
    synthetic: dict | None = None
    jitter_s: float = 0.25
    positives_per_call: int = 2
    negatives_per_recording: int = 10
    hard_negatives: bool = True
    groups: dict = field(default_factory=dict)  # file name -> site/deployment: split unit (default: the file)

    def __post_init__(self) -> None:
        v.require(isinstance(self.groups, dict), f"groups={self.groups!r} must map file name -> site or deployment")
        given = [k for k in ("annotations", "clips", "synthetic") if getattr(self, k) is not None]
        v.require(len(given) == 1, f"data: give exactly one of annotations, clips, synthetic (got {given or 'none'})")
        v.require(self.label_from in ("folder", "name"), f"label_from={self.label_from!r} is not folder or name")
        v.number("jitter_s", self.jitter_s, minimum=0)
        v.integer("positives_per_call", self.positives_per_call, minimum=1)
        v.integer("negatives_per_recording", self.negatives_per_recording, minimum=0)


@dataclass(frozen=True)
class SplitSettings:
    """``split``: fractions of recordings; ``holdout`` (file names) fixes the test recordings
    instead (leave-one-recording-out), val then comes from the others."""

    val: float = 0.2
    test: float = 0.2
    holdout: list = field(default_factory=list)

    def __post_init__(self) -> None:
        v.require(isinstance(self.holdout, list) and all(isinstance(h, str) for h in self.holdout),
                  f"holdout={self.holdout!r} must be a list of recording file names")
        for name in ("val", "test"):
            v.number(name, getattr(self, name), minimum=0)
        v.require(self.val + self.test < 1, f"val={self.val} + test={self.test} must be < 1")


@dataclass(frozen=True)
class LoopSettings:
    """``train``: the optimisation loop."""

    epochs: int = 20
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 5  # epochs without a better validation balanced accuracy
    threads: int = 1
    steps_per_epoch: int | None = None  # default: one pass's worth of balanced batches
    progress: bool = True

    def __post_init__(self) -> None:
        v.integer("epochs", self.epochs, minimum=1)
        v.integer("batch_size", self.batch_size, minimum=1)
        v.number("lr", self.lr, minimum=0, exclusive=True)
        v.number("weight_decay", self.weight_decay, minimum=0)
        v.integer("patience", self.patience, minimum=1)
        v.integer("threads", self.threads, minimum=1)
        v.integer("steps_per_epoch", self.steps_per_epoch, minimum=1, allow_none=True)


@dataclass(frozen=True)
class TrainConfig:
    out: str
    deployment: str
    classes: tuple
    window_s: float = 2.0
    seed: int = 0
    hydrophones: str | None = None
    data: DataSettings = field(default_factory=DataSettings)
    split: SplitSettings = field(default_factory=SplitSettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    augment: AugmentSettings = field(default_factory=AugmentSettings)
    train: LoopSettings = field(default_factory=LoopSettings)
    source: str = ""

    def __post_init__(self) -> None:
        v.require(isinstance(self.classes, (list, tuple)) and len(self.classes) >= 2
                  and all(isinstance(c, str) for c in self.classes),
                  f"classes={self.classes!r} must list >= 2 class names (noise first)")
        object.__setattr__(self, "classes", tuple(self.classes))
        v.number("window_s", self.window_s, minimum=0, exclusive=True)
        v.integer("seed", self.seed, minimum=0)

    def path(self, value: str | None) -> Path | None:
        if value is None:
            return None
        p = Path(value)
        return p if p.is_absolute() or not self.source else Path(self.source).parent / p

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("source")
        return d


_SECTIONS = {"data": DataSettings, "split": SplitSettings, "model": ModelSettings,
             "augment": AugmentSettings, "train": LoopSettings}


def from_mapping(data: Any, where: str) -> TrainConfig:
    if not isinstance(data, dict):
        raise TrainConfigError(f"{where}: expected a mapping of training settings")
    try:
        sections = {k: v.build(cls, data[k], f"{where}: {k}") for k, cls in _SECTIONS.items() if k in data}
        if "synthetic" in (data.get("data") or {}) and data["data"]["synthetic"] is not None:
            v.build(SyntheticSettings, data["data"]["synthetic"], f"{where}: data: synthetic")
        top = {k: val for k, val in data.items() if k not in _SECTIONS}
        if "source" in top:
            raise ConfigError(f"{where}: unknown key 'source'")
        known = {f.name for f in fields(TrainConfig)} - {"source"}
        for key in top:
            if key not in known:
                raise ConfigError(f"{where}: unknown key {key!r} (known keys: {', '.join(sorted(known))})")
        try:
            return TrainConfig(**top, **sections, source=where)
        except TypeError as exc:  # a required key missing
            raise ConfigError(f"{where}: {exc}") from None
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    except ConfigError as exc:
        raise TrainConfigError(str(exc)) from None


def load_config(path: str | Path) -> TrainConfig:
    path = Path(path)
    try:
        data = v.read_yaml(path, "training config")
    except ConfigError as exc:
        raise TrainConfigError(str(exc)) from None
    return from_mapping(data, str(path))

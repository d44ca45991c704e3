"""Deployment configuration: one YAML file per deployment, validated on load.

Sections map onto the frozen settings of each stage (``frontend``, ``roi``, ``levels``,
``calibration``); an unknown key anywhere is an error naming the key and the file, because a
typo silently ignored is a deployment recorded with the wrong settings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from edge import _validate as v
from edge._hashing import stable_hash
from edge.calibration import CalibrationSettings
from edge.errors import ConfigError
from edge.frontend import FrontendSpec
from edge.levels import LevelSettings
from edge.roi import RoiSettings
from edge.sync.config import SyncConfig, sync_from_mapping

BACKENDS = ("auto", "onnx", "tflite")


@dataclass(frozen=True)
class LabelRule:
    """Per-site conditions a detection of one label must also meet (``model.rules.labels``)."""

    min_snr_db: float | None = None
    min_received_level_db: float | None = None
    band_hz: tuple[float, float] | None = None  # the detection's box must overlap this band

    def __post_init__(self) -> None:
        v.number("min_snr_db", self.min_snr_db, allow_none=True)
        v.number("min_received_level_db", self.min_received_level_db, allow_none=True)
        if self.band_hz is not None:
            band = self.band_hz
            v.require(isinstance(band, (list, tuple)) and len(band) == 2, f"band_hz={band!r} must be [low, high]")
            for x in band:
                v.number("band_hz", x, minimum=0)
            v.require(band[1] > band[0], f"band_hz={list(band)} must have high > low")
            object.__setattr__(self, "band_hz", (band[0], band[1]))


@dataclass(frozen=True)
class ModelRules:
    """``model.rules``: labels never reported at this site, and conditions per label."""

    ignore: tuple[str, ...] = ()
    labels: dict = field(default_factory=dict)  # label -> LabelRule

    def __post_init__(self) -> None:
        v.require(isinstance(self.ignore, (list, tuple)) and all(isinstance(x, str) for x in self.ignore),
                  f"ignore={self.ignore!r} must be a list of labels")
        object.__setattr__(self, "ignore", tuple(self.ignore))
        v.require(isinstance(self.labels, dict), f"labels={self.labels!r} must map label -> rule")
        for label, rule in self.labels.items():
            v.require(isinstance(rule, LabelRule), f"labels: {label}: expected a mapping of rule settings")


@dataclass(frozen=True)
class ModelSettings:
    """The ``model:`` section: which bundle classifies the ROIs, how, and what is kept."""

    bundle: str | None = None  # a name under models/, or a path (relative to the YAML's folder)
    backend: str = "auto"  # auto | onnx | tflite
    threads: int = 1
    batch_size: int = 32
    thresholds: dict = field(default_factory=dict)  # label -> probability; overrides the card's
    rules: ModelRules = field(default_factory=ModelRules)

    def __post_init__(self) -> None:
        v.require(self.bundle is None or (isinstance(self.bundle, str) and self.bundle != ""),
                  f"bundle={self.bundle!r} must be a bundle name or path")
        v.require(self.backend in BACKENDS, f"backend={self.backend!r} is not one of {', '.join(BACKENDS)}")
        v.integer("threads", self.threads, minimum=1)
        v.integer("batch_size", self.batch_size, minimum=1)
        v.require(isinstance(self.thresholds, dict), f"thresholds={self.thresholds!r} must map label -> probability")
        for label, p in self.thresholds.items():
            v.number(f"thresholds: {label}", p, minimum=0)
            v.require(p <= 1, f"thresholds: {label}={p} must be <= 1")


def model_from_mapping(data: Any, where: str) -> ModelSettings:
    """The ``model:`` section from YAML (or from :meth:`DeploymentConfig.as_dict`)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of model settings")
    rules = data.get("rules") or {}
    if not isinstance(rules, dict):
        raise ConfigError(f"{where}: rules: expected a mapping (ignore, labels)")
    labels = rules.get("labels") or {}
    if not isinstance(labels, dict):
        raise ConfigError(f"{where}: rules: labels: expected a mapping label -> rule")
    built = {str(k): v.build(LabelRule, r, f"{where}: rules: labels: {k}") for k, r in labels.items()}
    rule_set = v.build(ModelRules, {k: x for k, x in rules.items() if k != "labels"}, f"{where}: rules", labels=built)
    top = {k: x for k, x in data.items() if k != "rules"}
    return v.build(ModelSettings, top, where, rules=rule_set)


@dataclass(frozen=True)
class DeploymentConfig:
    """Everything that decides what a run computes.  ``source`` (the YAML path) is not part
    of the identity; ``hash`` is."""

    name: str = "generic"
    description: str = ""
    sample_rate: int | None = None  # None: each recording's own rate
    channel: int = 0
    block_s: float = 10.0
    frontend: FrontendSpec = field(default_factory=FrontendSpec)
    roi: RoiSettings = field(default_factory=RoiSettings)
    levels: LevelSettings = field(default_factory=LevelSettings)
    calibration: CalibrationSettings = field(default_factory=CalibrationSettings)
    sync: SyncConfig | None = None  # telemetry to shore (edge-sync); not part of ``hash``
    model: ModelSettings | None = None  # the classifier (None: ROI-only); part of ``hash``
    source: str = ""

    def __post_init__(self) -> None:
        v.identifier("name", self.name)
        v.require(isinstance(self.description, str), f"description={self.description!r} must be a string")
        v.integer("sample_rate", self.sample_rate, minimum=1, allow_none=True)
        v.integer("channel", self.channel, minimum=0)
        v.number("block_s", self.block_s, minimum=0, exclusive=True)
        if self.frontend.sample_rate is not None and self.sample_rate is not None:
            v.require(self.frontend.sample_rate == self.sample_rate,
                      f"frontend sample_rate={self.frontend.sample_rate} differs from sample_rate={self.sample_rate}")
        if self.sample_rate is not None:
            nyquist = self.sample_rate / 2
            for section, fmax in (("frontend", self.frontend.fmax), ("roi", self.roi.fmax)):
                v.require(fmax is None or fmax <= nyquist,
                          f"{section}.fmax={fmax} is above the Nyquist frequency of sample_rate={self.sample_rate}")

    def spec_for(self, sample_rate: int) -> FrontendSpec:
        """The frontend spec for a recording at ``sample_rate``."""
        return self.frontend.bound(self.sample_rate or sample_rate)

    def table_path(self) -> Path | None:
        """The hydrophone table: a path (relative ones from the YAML file's folder) or a name
        (``hydrophones``: ``NAME.yaml`` beside the YAML, else the shipped table; edge.shipped)."""
        from edge import shipped

        if self.calibration.table is None:
            return None
        return shipped.table(str(self.calibration.table), Path(self.source).parent if self.source else None)

    def as_dict(self) -> dict[str, Any]:
        """What the run computes from: every setting but the YAML's path and the telemetry."""
        data = asdict(self)
        data.pop("source")
        data.pop("sync")
        if data["model"] is None:
            data.pop("model")  # ROI-only deployments keep the hash they had before models existed
        return data

    def model_base(self) -> Path | None:
        """The folder a relative ``model.bundle`` is taken from: the YAML's."""
        return Path(self.source).parent if self.source else None

    @property
    def hash(self) -> str:
        """Stable identity; ``block_s: 10`` and ``block_s: 10.0`` (or the default) hash alike."""
        return stable_hash(self.as_dict())


_SECTIONS = {"frontend": FrontendSpec, "roi": RoiSettings, "levels": LevelSettings,
             "calibration": CalibrationSettings}


def from_mapping(data: Any, where: str) -> DeploymentConfig:
    """Build a deployment from parsed YAML; ``where`` names the file in errors."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of deployment settings")
    sections = {}
    for key, cls in _SECTIONS.items():
        if key in data:
            section = data[key]
            if key == "frontend" and isinstance(section, dict) and "sample_rate" in section:
                raise ConfigError(f"{where}: frontend: unknown key 'sample_rate' (set sample_rate at the top level)")
            sections[key] = v.build(cls, section, f"{where}: {key}")
    top = {k: val for k, val in data.items() if k not in _SECTIONS and k not in ("sync", "run", "model")}
    if data.get("model") is not None:
        sections["model"] = model_from_mapping(data["model"], f"{where}: model")
    if "run" in data:  # edge-run's settings (edge.daemon.config): checked here, read by edge-run
        from edge.daemon.config import run_from_mapping

        run_from_mapping(data["run"], f"{where}: run", source=where)
    if "sync" in data:
        name = top.get("name") if isinstance(top.get("name"), str) else None
        sections["sync"] = sync_from_mapping(data["sync"], f"{where}: sync", source=where, deployment=name)
    config = v.build(DeploymentConfig, top, where, **sections, source=where)
    if "source" in top:
        raise ConfigError(f"{where}: unknown key 'source'")
    if config.sample_rate is not None:
        config = replace(config, frontend=config.frontend.bound(config.sample_rate))
    return config


def load_deployment(path: str | Path | None) -> DeploymentConfig:
    """Load and validate a deployment YAML (a path, or a shipped deployment's name such as
    ``narw-upcall``: edge.shipped); None gives the built-in generic deployment."""
    from edge import shipped

    if path is None:
        return DeploymentConfig()
    path = shipped.deployment(path)
    return from_mapping(v.read_yaml(path, "deployment config"), str(path))


def from_settings(data: Any, where: str = "settings") -> DeploymentConfig:
    """The deployment whose :meth:`DeploymentConfig.as_dict` is ``data`` (as ``run.json``
    records it and cluster tasks carry it); the inverse of ``as_dict``, same hash."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of deployment settings")
    sections = {key: v.build(cls, data.get(key, {}), f"{where}: {key}") for key, cls in _SECTIONS.items()}
    top = {k: val for k, val in data.items() if k not in _SECTIONS and k != "model"}
    if data.get("model") is not None:
        sections["model"] = model_from_mapping(data["model"], f"{where}: model")
    return v.build(DeploymentConfig, top, where, **sections)

"""Deployment configuration: one YAML file per deployment, validated on load, and the one
loader that reads it (edge-detect, edge-run, edge-run --check, edge-sync, cluster workers and
training all come through here).

Each section maps onto the frozen settings of the part that uses it (:data:`SECTIONS`:
``frontend``, ``roi``, ``levels``, ``calibration``, ``model``, ``run``, ``sync``, ``clicks``,
``ranking``, ``soundscape``, ``site``), built by
that part's own builder; each field of :class:`DeploymentConfig` declares in its metadata
whether it enters the config hash (what the records are made with) or not (how the buoy runs
and talks to shore).  An unknown key anywhere is an error naming the key and the file,
because a typo silently ignored is a deployment recorded with the wrong settings.  Relative
paths follow one rule (:func:`edge._validate.relative_path`): from the YAML file's folder.

Sections are imported when built, so ``edge-sync`` reads its section without loading the
signal-processing stack (numpy is a third of its start-up time on a Pi).
"""

from __future__ import annotations

import copy
import datetime as dt
import importlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge import _validate as v
from edge._hashing import stable_hash
from edge.errors import ConfigError
from edge.types import BackendKind

if TYPE_CHECKING:
    from edge.calibration import CalibrationSettings
    from edge.clicks import ClickSettings
    from edge.daemon.config import RunSettings
    from edge.frontend import FrontendSpec
    from edge.levels import LevelSettings
    from edge.ranking import RankingSettings
    from edge.roi import RoiSettings
    from edge.site import SiteSettings
    from edge.soundscape.settings import SoundscapeSettings
    from edge.sync.config import SyncConfig

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
    labels: dict[str, LabelRule] = field(default_factory=dict)

    def __post_init__(self) -> None:
        v.require(
            isinstance(self.ignore, (list, tuple)) and all(isinstance(x, str) for x in self.ignore),
            f"ignore={self.ignore!r} must be a list of labels",
        )
        object.__setattr__(self, "ignore", tuple(self.ignore))
        v.require(isinstance(self.labels, dict), f"labels={self.labels!r} must map label -> rule")
        for label, rule in self.labels.items():
            v.require(isinstance(rule, LabelRule), f"labels: {label}: expected a mapping of rule settings")


@dataclass(frozen=True)
class ModelSettings:
    """The ``model:`` section: which bundle classifies the ROIs, how, and what is kept."""

    bundle: str | None = None  # a name under models/, or a path (relative to the YAML's folder)
    backend: BackendKind = "auto"
    threads: int = 1
    batch_size: int = 32
    thresholds: dict[str, float] = field(default_factory=dict)  # label -> probability; overrides the card's
    rules: ModelRules = field(default_factory=ModelRules)

    def __post_init__(self) -> None:
        v.require(
            self.bundle is None or (isinstance(self.bundle, str) and self.bundle != ""),
            f"bundle={self.bundle!r} must be a bundle name or path",
        )
        v.require(self.backend in BACKENDS, f"backend={self.backend!r} is not one of {', '.join(BACKENDS)}")
        v.integer(
            "threads", self.threads, minimum=1, maximum=32, why="more threads than cores only slow inference down"
        )
        v.integer("batch_size", self.batch_size, minimum=1, maximum=4096, why="windows held at once")
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
class Section:
    """How one section of the deployment YAML is built: ``builder`` is ``"module:name"``,
    a settings class (built from the mapping) or a function ``(data, where, context)``;
    ``optional`` sections are None when absent, the others take their defaults."""

    builder: str
    optional: bool = False

    def build(self, data: Any, where: str, context: dict[str, Any]) -> Any:
        module, name = self.builder.split(":")
        target = getattr(importlib.import_module(module), name)
        if isinstance(target, type):
            return v.build(target, data, where)
        return target(data, where, context)

    def default(self) -> Any:
        return None if self.optional else self.build({}, "defaults", {"source": "", "name": None})


def _frontend(data: Any, where: str, context: dict[str, Any]) -> FrontendSpec:
    from edge.frontend import FrontendSpec

    if context.get("yaml", True) and isinstance(data, dict) and "sample_rate" in data:
        raise ConfigError(f"{where}: unknown key 'sample_rate' (set sample_rate at the top level)")
    return v.build(FrontendSpec, data, where)


def _model(data: Any, where: str, context: dict[str, Any]) -> ModelSettings:
    return model_from_mapping(data, where)


def _run(data: Any, where: str, context: dict[str, Any]) -> RunSettings:
    from edge.daemon.config import run_from_mapping

    return run_from_mapping(data, where, source=context["source"])


def _sync(data: Any, where: str, context: dict[str, Any]) -> SyncConfig:
    from edge.sync.config import sync_from_mapping

    return sync_from_mapping(data, where, source=context["source"], deployment=context["name"])


SECTIONS: dict[str, Section] = {
    "frontend": Section("edge.config:_frontend"),
    "roi": Section("edge.roi:RoiSettings"),
    "levels": Section("edge.levels:LevelSettings"),
    "calibration": Section("edge.calibration:CalibrationSettings"),
    "model": Section("edge.config:_model", optional=True),
    "run": Section("edge.config:_run"),
    "sync": Section("edge.config:_sync", optional=True),
    "clicks": Section("edge.clicks:ClickSettings", optional=True),
    "ranking": Section("edge.ranking:RankingSettings", optional=True),
    "soundscape": Section("edge.soundscape.settings:SoundscapeSettings", optional=True),
    "site": Section("edge.site:SiteSettings", optional=True),
}


def _section(name: str, *, hashed: bool = True) -> Any:
    """A section field of :class:`DeploymentConfig`; ``hashed`` says whether it changes what
    the records are (and so enters the config hash)."""
    factory: Callable[[], Any] = lambda: SECTIONS[name].default()  # noqa: E731 (imports the section when used)
    return field(default_factory=factory, metadata={"hash": hashed})


@dataclass(frozen=True)
class DeploymentConfig:
    """Everything that decides what a run computes, and how the buoy runs and reports.
    ``hash`` covers the fields whose metadata says so (not ``run``, ``sync`` or ``source``)."""

    name: str = "generic"
    description: str = ""
    sample_rate: int | None = None  # None: each recording's own rate
    # the lowest recording rate taken when it cannot hold the whole band (None: such a recording
    # is refused); the band above its Nyquist frequency is then empty, and said per recording
    min_sample_rate: int | None = None
    # the recorders' clock where they write local time (Song Meter names, GUANO without an
    # offset, bext): UTC, an offset such as UTC+2, or an IANA zone; None: such times are taken
    # as UTC, and edge-detect says so
    timezone: str | None = None
    channel: int = 0
    block_s: float = 10.0
    frontend: FrontendSpec = _section("frontend")
    roi: RoiSettings = _section("roi")
    levels: LevelSettings = _section("levels")
    calibration: CalibrationSettings = _section("calibration")
    run: RunSettings = _section("run", hashed=False)  # edge-run on the buoy (edge.daemon.config)
    sync: SyncConfig | None = _section("sync", hashed=False)  # telemetry to shore (edge-sync)
    model: ModelSettings | None = _section("model")  # the classifier (None: ROI-only)
    # ``model: none`` in the YAML: a detector-only deployment (click trains, ROIs), run without a
    # classifier and without --no-model; None ``model`` alone may be one whose bundle was forgotten
    detector_only: bool = field(default=False, metadata={"hash": False, "yaml": False})
    clicks: ClickSettings | None = _section("clicks")  # the impulse detector (None: off)
    ranking: RankingSettings | None = _section("ranking")  # a ranked answer per recording (None: off)
    # hybrid millidecade levels per UTC minute (edge.soundscape; None: off unless --outputs hmd)
    soundscape: SoundscapeSettings | None = _section("soundscape")
    site: SiteSettings | None = _section("site", hashed=False)  # position and recorder (edge.site)
    source: str = field(default="", metadata=v.SOURCE)

    def __post_init__(self) -> None:
        v.identifier("name", self.name)
        v.require(isinstance(self.description, str), f"description={self.description!r} must be a string")
        v.integer(
            "sample_rate", self.sample_rate, minimum=1, allow_none=True, maximum=1_536_000, why="the fastest recorders"
        )
        v.integer("min_sample_rate", self.min_sample_rate, minimum=1, allow_none=True, maximum=1_536_000)
        if self.min_sample_rate is not None:
            v.require(
                self.sample_rate is not None and self.min_sample_rate <= self.sample_rate,
                f"min_sample_rate={self.min_sample_rate} needs a sample_rate (the analysis rate) at least as high",
            )
        if self.timezone is not None:
            v.require(isinstance(self.timezone, str), f"timezone={self.timezone!r} must be a string such as UTC+2")
            try:
                self.tz()
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        v.integer("channel", self.channel, minimum=0)
        v.require(
            not (self.detector_only and self.ranking is not None),
            "ranking: ranks a model's classes, but the deployment says model: none",
        )
        v.number("block_s", self.block_s, minimum=0.01, maximum=3600, why="a block is held in memory")
        if self.frontend.sample_rate is not None and self.sample_rate is not None:
            v.require(
                self.frontend.sample_rate == self.sample_rate,
                f"frontend sample_rate={self.frontend.sample_rate} differs from sample_rate={self.sample_rate}",
            )
        if self.sample_rate is not None:
            nyquist = self.sample_rate / 2
            click_fmax = self.clicks.fmax if self.clicks is not None else None
            for section, fmax in (("frontend", self.frontend.fmax), ("roi", self.roi.fmax), ("clicks", click_fmax)):
                v.require(
                    fmax is None or fmax <= nyquist,
                    f"{section}.fmax={fmax} is above the Nyquist frequency of sample_rate={self.sample_rate}",
                )

    def tz(self) -> dt.tzinfo | None:
        """The recorders' clock (``timezone``), None when not set."""
        from edge.timestamps import zone

        return zone(self.timezone) if self.timezone is not None else None

    def spec_for(self, sample_rate: int) -> FrontendSpec:
        """The frontend spec for a recording at ``sample_rate``."""
        return self.frontend.bound(self.sample_rate or sample_rate)

    def band_top_hz(self) -> float:
        """The highest frequency this deployment analyses (its frontend's or ROI band's top,
        else the Nyquist frequency of its rate): a recording resampled to the deployment's
        rate must hold it below its own Nyquist frequency."""
        nyquist = (self.sample_rate or 0) / 2
        clicks = (self.clicks.fmax or nyquist) if self.clicks is not None else 0.0
        return max(self.frontend.fmax or nyquist, self.roi.fmax or nyquist, clicks)

    def path(self, value: str | Path) -> Path:
        """``value`` relative to the YAML file's folder (:func:`edge._validate.relative_path`)."""
        return v.relative_path(value, self.source)

    def table_path(self) -> Path | None:
        """The hydrophone table: a path (relative ones from the YAML file's folder) or a name
        (``hydrophones``: ``NAME.yaml`` beside the YAML, else the shipped table; edge.shipped)."""
        from edge import shipped

        if self.calibration.table is None:
            return None
        return shipped.table(str(self.calibration.table), Path(self.source).parent if self.source else None)

    def log_path(self) -> Path:
        """The detection log: ``run.log``, else the ``sync:`` section's log (what edge-sync
        sends from), else ``detections.sqlite`` beside the YAML."""
        if self.run.log is not None:
            return self.path(self.run.log)
        if self.sync is not None:
            return self.path(self.sync.log)
        return self.path("detections.sqlite")

    def as_dict(self) -> dict[str, Any]:
        """What the run computes from: the fields that enter the hash."""
        data = {f.name: _plain(getattr(self, f.name)) for f in fields(self) if f.metadata.get("hash", True)}
        for optional in (
            "model",
            "clicks",
            "ranking",
            "soundscape",
            "min_sample_rate",
            "timezone",
        ):  # deployments keep the hash they had before these existed
            if data[optional] is None:
                data.pop(optional)
        if data.get("clicks") and not data["clicks"]["types"]:  # impulse detectors keep the hash they had before types
            for key in ("types", "unclassified"):
                data["clicks"].pop(key)
        return data

    def model_base(self) -> Path | None:
        """The folder a relative ``model.bundle`` is taken from: the YAML's."""
        return Path(self.source).parent if self.source else None

    @property
    def hash(self) -> str:
        """Stable identity; ``block_s: 10`` and ``block_s: 10.0`` (or the default) hash alike."""
        return stable_hash(self.as_dict())


def _plain(value: Any) -> Any:
    return asdict(value) if is_dataclass(value) and not isinstance(value, type) else copy.deepcopy(value)


def _build(
    data: Any,
    where: str,
    *,
    source: str,
    names: tuple[str, ...] | None = None,
    problems: list[str] | None = None,
    yaml: bool = True,
) -> DeploymentConfig | None:
    """The deployment from a parsed mapping: every section by its builder, then the top
    level.  With ``problems`` each failing section adds its one-line error there (and None
    is returned when any did); without, the first one raises.  ``names`` limits the
    sections read (the others keep their defaults, unread keys are refused)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of deployment settings")
    name = data.get("name") if isinstance(data.get("name"), str) else None
    context = {"source": source, "name": name, "yaml": yaml}
    detector_only = data.get("model") == "none"
    if detector_only:
        data = {k: val for k, val in data.items() if k != "model"}
    sections: dict[str, Any] = {}
    for key, section in SECTIONS.items():
        if names is not None and key not in names:
            continue
        if section.optional and data.get(key) is None:
            continue
        try:
            sections[key] = section.build(data.get(key), f"{where}: {key}", context)
        except ConfigError as exc:
            if problems is None:
                raise
            problems.append(str(exc))
    top = {k: val for k, val in data.items() if k not in SECTIONS}
    try:
        config = v.build(DeploymentConfig, top, where, **sections, source=source, detector_only=detector_only)
    except ConfigError as exc:
        if problems is None:
            raise
        problems.append(str(exc))
        return None
    if problems:
        return None
    if config.sample_rate is not None:
        config = replace(config, frontend=config.frontend.bound(config.sample_rate))
    return config


def from_mapping(data: Any, where: str) -> DeploymentConfig:
    """Build a deployment from parsed YAML; ``where`` names the file in errors (and is the
    folder relative paths are taken from)."""
    config = _build(data, where, source=where)
    assert config is not None
    return config


def _read(path: str | Path) -> tuple[Any, Path]:
    from edge import shipped

    path = shipped.deployment(path)
    return v.read_yaml(path, "deployment config"), path


def load_deployment(path: str | Path | None) -> DeploymentConfig:
    """Load and validate a deployment YAML (a path, or a shipped deployment's name such as
    ``narw-upcall``: edge.shipped); None gives the built-in generic deployment."""
    if path is None:
        return DeploymentConfig()
    data, path = _read(path)
    return from_mapping(data, str(path))


def check_deployment(path: str | Path) -> tuple[DeploymentConfig | None, list[str]]:
    """Every problem of every section of a deployment YAML (``edge-run --check``), one line
    each, and the deployment when there are none."""
    try:
        data, path = _read(path)
        problems: list[str] = []
        return _build(data, str(path), source=str(path), problems=problems), problems
    except ConfigError as exc:
        return None, [str(exc)]


def load_section(path: str | Path, name: str) -> tuple[Any, Any]:
    """One section of a deployment YAML, built by the same builder as a whole load (so
    ``edge-sync`` starts without the signal-processing stack), with the file's parsed
    mapping; the section is None when the file has none."""
    data, path = _read(path)
    if not isinstance(data, dict) or data.get(name) is None:
        return None, data
    name_value = data.get("name") if isinstance(data.get("name"), str) else None
    return SECTIONS[name].build(data[name], f"{path}: {name}", {"source": str(path), "name": name_value}), data


def from_settings(data: Any, where: str = "settings") -> DeploymentConfig:
    """The deployment whose :meth:`DeploymentConfig.as_dict` is ``data`` (as ``run.json``
    records it and cluster tasks carry it); the inverse of ``as_dict``, same hash."""
    hashed = tuple(f.name for f in fields(DeploymentConfig) if f.name in SECTIONS and f.metadata.get("hash", True))
    config = _build(data, where, source="", names=hashed, yaml=False)
    assert config is not None
    return config

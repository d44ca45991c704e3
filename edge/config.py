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
    source: str = ""

    def __post_init__(self) -> None:
        v.require(isinstance(self.name, str) and self.name != "", f"name={self.name!r} must be a non-empty string")
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
        """The hydrophone table, relative paths taken from the YAML file's folder."""
        if self.calibration.table is None:
            return None
        path = Path(self.calibration.table)
        return path if path.is_absolute() or not self.source else Path(self.source).parent / path

    def as_dict(self) -> dict[str, Any]:
        """What the run computes from: every setting but the YAML's path and the telemetry."""
        data = asdict(self)
        data.pop("source")
        data.pop("sync")
        return data

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
    top = {k: val for k, val in data.items() if k not in _SECTIONS and k != "sync"}
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
    """Load and validate a deployment YAML; None gives the built-in generic deployment."""
    if path is None:
        return DeploymentConfig()
    return from_mapping(v.read_yaml(path, "deployment config"), str(path))


def from_settings(data: Any, where: str = "settings") -> DeploymentConfig:
    """The deployment whose :meth:`DeploymentConfig.as_dict` is ``data`` (as ``run.json``
    records it and cluster tasks carry it); the inverse of ``as_dict``, same hash."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of deployment settings")
    sections = {key: v.build(cls, data.get(key, {}), f"{where}: {key}") for key, cls in _SECTIONS.items()}
    top = {k: val for k, val in data.items() if k not in _SECTIONS}
    return v.build(DeploymentConfig, top, where, **sections)

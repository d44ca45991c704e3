"""Sync settings: the ``sync:`` section of a deployment YAML (or a YAML of sync settings
alone), validated on load like the rest of the deployment (an unknown key is an error naming
the file and key)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from edge import _validate as v
from edge.errors import ConfigError
from edge.types import TransportName


@dataclass(frozen=True)
class IridiumSettings:
    port: str = "/dev/ttyUSB0"
    baud: int = 19200
    timeout_s: float = 5.0
    session_timeout_s: float = 90.0

    def __post_init__(self) -> None:
        v.require(isinstance(self.port, str) and self.port != "", f"port={self.port!r} must be a device path")
        v.integer("baud", self.baud, minimum=1)
        v.number("timeout_s", self.timeout_s, minimum=0, exclusive=True)
        v.number("session_timeout_s", self.session_timeout_s, minimum=0, exclusive=True)


@dataclass(frozen=True)
class MqttSettings:
    url: str = "mqtt://localhost:1883/pamedge/frames"
    client_id: str = ""  # default: pamedge-<deployment>
    tls: bool = False
    ca_file: str | None = None
    username: str | None = None
    password_file: str | None = None
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        v.require(
            isinstance(self.url, str) and self.url.startswith("mqtt://"),
            f"url={self.url!r} must be mqtt://host:port/topic",
        )
        v.require(isinstance(self.tls, bool), f"tls={self.tls!r} must be true or false")
        v.number("timeout_s", self.timeout_s, minimum=0, exclusive=True)


@dataclass(frozen=True)
class SyncConfig:
    deployment: str = ""
    log: str = "detections.sqlite"
    key_file: str = ""
    transport: TransportName = "iridium"
    max_bytes: int = 340
    daily_bytes: int | None = None
    daily_credits: int | None = None
    tally_period_s: int | None = None
    concern: tuple[str, ...] = ()
    health_hold_s: float = 3600.0  # edge-run's health rows wait this long for company (0: none)
    iridium: IridiumSettings = field(default_factory=IridiumSettings)
    mqtt: MqttSettings = field(default_factory=MqttSettings)
    source: str = field(default="", metadata=v.SOURCE)

    def __post_init__(self) -> None:
        v.identifier("deployment", self.deployment)
        v.require(isinstance(self.key_file, str) and self.key_file != "", "key_file must name the key file")
        v.require(self.transport in ("iridium", "mqtt"), f"transport={self.transport!r} must be iridium or mqtt")
        v.integer("max_bytes", self.max_bytes, minimum=40)
        v.require(
            self.transport != "iridium" or self.max_bytes <= 340,
            f"max_bytes={self.max_bytes} exceeds the 340-byte Iridium SBD MO limit",
        )
        v.integer("daily_bytes", self.daily_bytes, minimum=1, allow_none=True)
        v.integer("daily_credits", self.daily_credits, minimum=1, allow_none=True)
        v.integer("tally_period_s", self.tally_period_s, minimum=60, allow_none=True)
        v.number("health_hold_s", self.health_hold_s, minimum=0)
        object.__setattr__(self, "concern", tuple(self.concern or ()))

    def path(self, value: str) -> Path:
        """``value`` relative to the YAML file's folder (:func:`edge._validate.relative_path`)."""
        return v.relative_path(value, self.source)


def sync_from_mapping(data: Any, where: str, *, source: str, deployment: str | None = None) -> SyncConfig:
    """Sync settings from parsed YAML; ``deployment`` is the default deployment id (the
    deployment's name when the settings are its ``sync:`` section)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of sync settings")
    sections: dict[str, Any] = {}
    for key, cls in (("iridium", IridiumSettings), ("mqtt", MqttSettings)):
        if key in data:
            sections[key] = v.build(cls, data[key], f"{where}: {key}")
    top = {k: val for k, val in data.items() if k not in sections}
    if deployment is not None:
        top.setdefault("deployment", deployment)
    return v.build(SyncConfig, top, where, **sections, source=source)


def load_sync_config(path: str | Path) -> SyncConfig:
    """The sync settings of a deployment YAML (its ``sync:`` section, the usual form, read by
    :func:`edge.config.load_section`) or of a YAML holding only sync settings."""
    from edge import shipped
    from edge.config import load_section

    section, data = load_section(path, "sync")
    if section is not None:
        return cast(SyncConfig, section)
    path = shipped.deployment(path)
    if isinstance(data, dict) and "name" in data and "deployment" not in data:
        raise ConfigError(f"{path}: deployment {data['name']!r} has no sync: section (transport, key_file, ...)")
    return sync_from_mapping(data, str(path), source=str(path))


def read_key(path: str | Path) -> bytes:
    from edge.sync.frames import FrameError, parse_key

    v.private_file(path, "the key file")
    try:
        return parse_key(Path(path).read_text(), str(path))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read key: {exc.strerror}") from None
    except FrameError as exc:
        raise ConfigError(str(exc)) from None

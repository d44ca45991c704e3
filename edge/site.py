"""The ``site:`` section of a deployment: where and with what the recordings were made.

Not part of what a run computes (outside the config hash): the soundscape NetCDF's global
attributes and the Tethys Deployment document carry it, and archives refuse documents
without a position.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from edge import _validate as v


@dataclass(frozen=True)
class SiteSettings:
    latitude: float  # decimal degrees, north positive (WGS 84)
    longitude: float  # decimal degrees, east positive
    depth_m: float | None = None  # hydrophone depth below the surface
    name: str = ""  # site name, e.g. "CCB"
    project: str = ""
    deployment_id: int = 1  # the deployment's number within its project (Tethys DeploymentId)
    instrument: str = ""  # recorder type, e.g. "SoundTrap ST600"
    recorder_serial: str = ""
    platform: str = ""  # e.g. "mooring", "drifting buoy"
    deployed_utc: str = ""  # ISO 8601; empty: the first recording's start
    recovered_utc: str = ""  # ISO 8601; empty: the last recording's end

    def __post_init__(self) -> None:
        v.number("latitude", self.latitude, minimum=-90, maximum=90)
        v.number("longitude", self.longitude, minimum=-180, maximum=180)
        v.integer("deployment_id", self.deployment_id, minimum=0)
        v.number("depth_m", self.depth_m, minimum=0, maximum=11000, allow_none=True, why="the deepest ocean")
        for key in ("name", "project", "instrument", "recorder_serial", "platform", "deployed_utc", "recovered_utc"):
            value = getattr(self, key)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and key == "recorder_serial":
                object.__setattr__(self, key, str(value))  # a serial written as a number in YAML
                continue
            v.require(isinstance(value, str), f"{key}={value!r} must be a string")
        for key in ("deployed_utc", "recovered_utc"):
            value = getattr(self, key)
            v.require(
                not value or utc(value) is not None,
                f"{key}={value!r} is not an ISO 8601 time with its zone, such as 2024-05-01T12:00:00Z",
            )


def utc(text: str) -> dt.datetime | None:
    """An ISO 8601 time with its zone, in UTC; None when ``text`` is not one."""
    try:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t.astimezone(dt.timezone.utc) if t.tzinfo is not None else None

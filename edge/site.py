"""The ``site:`` section of a deployment: where and with what the recordings were made.

Not part of what a run computes (outside the config hash): the soundscape NetCDF's global
attributes and the Tethys Deployment document carry it, and archives refuse documents
without a position.  A deployment without the section whose recordings are HARP XWAVs takes
it from their ``harp`` chunks (:func:`harp_site`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from edge import _validate as v
from edge.errors import PamedgeError


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


class SiteConflict(PamedgeError):
    """Recordings whose own headers name more than one site."""


def harp_site(paths: Iterable[Path]) -> SiteSettings | None:
    """The site the XWAVs among ``paths`` name in their ``harp`` chunks (site, experiment,
    position, depth and instrument id, as HARP recorders write them), for a deployment without
    a ``site:`` section; None when none names a position (0, 0 is an unset header).  Raises
    :class:`SiteConflict` when they name two, since one Tethys Deployment is one place."""
    from edge.wavmeta import chunks, harp

    found: dict[tuple[str, str, float, float], tuple[Path, SiteSettings]] = {}
    for path in paths:
        data = chunks(path, (b"harp",)).get(b"harp")
        header = harp(data) if data else None
        if header is None or (header.latitude == 0 and header.longitude == 0):
            continue
        key = (header.site, header.experiment, header.latitude, header.longitude)
        if key in found:
            continue
        try:
            site = SiteSettings(
                latitude=header.latitude,
                longitude=header.longitude,
                depth_m=float(header.depth_m) if header.depth_m else None,
                name=header.site,
                project=header.experiment,
                instrument="HARP",
                recorder_serial=header.instrument,
            )
        except PamedgeError:  # a position no place has: a header written wrong, not a site
            continue
        found[key] = (path, site)
        if len(found) > 1:
            (a, one), (b, two) = found.values()
            raise SiteConflict(
                f"{a} and {b}: their XWAV headers name two sites ({_where(one)}; {_where(two)}): give the "
                "deployment a site: section, or run each site apart"
            )
    return next(iter(found.values()))[1] if found else None


def _where(site: SiteSettings) -> str:
    return f"{site.name or '?'} {site.project or '?'} at {site.latitude:.5f}, {site.longitude:.5f}"

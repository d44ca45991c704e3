"""What the Tethys documents are made from."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from edge import _validate as v
from edge.errors import ConfigError


@dataclass(frozen=True)
class Species:
    """A model label as Tethys names it: ITIS taxonomic serial number, scientific name (for
    the reader: Tethys keys on the number), and the call type."""

    tsn: int
    name: str
    call: str = ""

    def __post_init__(self) -> None:
        v.integer("tsn", self.tsn, minimum=1)
        v.require(
            isinstance(self.name, str) and self.name.strip() != "", f"name={self.name!r} must be a scientific name"
        )
        v.require(isinstance(self.call, str), f"call={self.call!r} must be a string")


def species_map(data: Any, where: str) -> dict[str, Species]:
    """A card's ``species:`` mapping, label -> :class:`Species`."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: species: expected a mapping label -> {{tsn, name, call}}")
    return {str(label): v.build(Species, entry, f"{where}: species: {label}") for label, entry in data.items()}


@dataclass(frozen=True)
class Recording:
    """One recording as the Deployment document and the effort need it."""

    path: str
    start_utc: dt.datetime
    duration_s: float
    sample_rate: int
    bits: int  # 0: not integer PCM
    channel: int
    gain_db: float

    @property
    def end_utc(self) -> dt.datetime:
        return self.start_utc + dt.timedelta(seconds=self.duration_s)


@dataclass(frozen=True)
class EffortPeriod:
    """A stretch of continuous recording: the detector listened from ``start`` to ``end``."""

    start: dt.datetime
    end: dt.datetime
    files: tuple[str, ...]

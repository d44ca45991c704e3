"""Click types: a kind of click told by its measurements, as PAMGuard's click classifier tells
them (a porpoise's narrow-band high-frequency click, a sperm whale's broadband low one, a snapping
shrimp's), for the impulse detector's ``clicks: types:``.

A type is a set of ranges over a click's peak and centroid frequency, its -3 dB bandwidth, its
duration, its SNR and its received level (each ``[low, high]``, ``null`` for an open end; a
measure not named is not looked at): PAMGuard's classifier also takes a minimum amplitude, which
keeps a sperm whale's strong usual clicks apart from the faint impulses between them.  A click
is of the first type, in the order written, all of whose ranges hold it.  A train is of the type
at least half of its clicks are of.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edge import _validate as v
from edge.errors import ConfigError

if TYPE_CHECKING:
    from edge.clicks import Click

Range = tuple[float | None, float | None]
MEASURES = ("peak_hz", "centroid_hz", "bandwidth3_hz", "duration_s", "snr_db", "received_level_db")


def measures(click: Click) -> dict[str, float]:
    """What a type's ranges are read against: the click's own measurements, and its -3 dB band's width."""
    return {m: click.high3_hz - click.low3_hz if m == "bandwidth3_hz" else getattr(click, m) for m in MEASURES}


@dataclass(frozen=True)
class ClickType:
    """One click type: its name (the label its trains take in a detector-only deployment) and
    the ranges a click's measurements must lie in."""

    name: str
    peak_hz: Range | None = None
    centroid_hz: Range | None = None
    bandwidth3_hz: Range | None = None  # the -3 dB band's width
    duration_s: Range | None = None
    snr_db: Range | None = None  # dB over the detector's floor
    received_level_db: Range | None = None  # dB re 1 uPa peak-to-peak

    def __post_init__(self) -> None:
        v.require(isinstance(self.name, str) and self.name.strip() != "", f"name={self.name!r} must be a label")
        v.require("," not in self.name, f"name={self.name!r} must not hold a comma (it is a CSV label)")
        for measure in MEASURES:
            object.__setattr__(self, measure, _range(measure, getattr(self, measure)))
        v.require(
            any(getattr(self, m) is not None for m in MEASURES),
            f"{self.name}: give at least one of {', '.join(MEASURES)}",
        )

    def holds(self, click: Click) -> bool:
        """Whether every range of this type holds ``click``'s :func:`measures`."""
        values = measures(click)
        for measure in MEASURES:
            bounds = getattr(self, measure)
            if bounds is None:
                continue
            low, high = bounds
            if (low is not None and values[measure] < low) or (high is not None and values[measure] > high):
                return False
        return True


def _range(name: str, value: Any) -> Range | None:
    if value is None:
        return None
    v.require(
        isinstance(value, (list, tuple)) and len(value) == 2,
        f"{name}={value!r} must be [low, high] (null for an open end)",
    )
    low, high = value
    for end in (low, high):
        v.number(name, end, minimum=None if name.endswith("_db") else 0, allow_none=True)
    v.require(low is not None or high is not None, f"{name}={value!r}: give low, high or both")
    v.require(low is None or high is None or low <= high, f"{name}={value!r} must have low <= high")
    return (None if low is None else float(low), None if high is None else float(high))


def click_types(value: Any) -> tuple[ClickType, ...]:
    """``clicks: types:`` as written (a mapping name -> ranges, in order) or as a deployment's
    settings record it (a list of types with their names); ConfigError naming the type."""
    if value is None or value == () or value == []:
        return ()
    if isinstance(value, Mapping):
        out = [v.build(ClickType, ranges, f"types: {name}", name=str(name)) for name, ranges in value.items()]
    elif isinstance(value, Sequence) and not isinstance(value, str):
        out = []
        for t in value:
            if isinstance(t, ClickType):
                out.append(t)
            elif isinstance(t, Mapping) and "name" in t:
                ranges = {k: x for k, x in t.items() if k != "name"}
                out.append(v.build(ClickType, ranges, f"types: {t['name']}", name=str(t["name"])))
            else:
                raise ConfigError(f"types: {t!r} is not a click type")
    else:
        raise ConfigError(f"types={value!r} must map a type's name to its ranges")
    names = [t.name for t in out]
    v.require(len(set(names)) == len(names), f"types: names must differ ({', '.join(names)})")
    return tuple(out)


def type_of(click: Click, types: Sequence[ClickType]) -> str:
    """The first type holding ``click``; "" when none does."""
    return next((t.name for t in types if t.holds(click)), "")


def train_type(types_of_clicks: Sequence[str], order: Sequence[str] = ()) -> str:
    """A train's type: the one at least half its clicks are of (of two at exactly half, the one
    written first in ``order``, the deployment's); "" when none is."""
    counts: dict[str, int] = {}
    for name in types_of_clicks:
        if name:
            counts[name] = counts.get(name, 0) + 1
    rank = {name: i for i, name in enumerate(order)}
    best = min(counts.items(), key=lambda kv: (-kv[1], rank.get(kv[0], len(rank))), default=("", 0))
    return best[0] if 2 * best[1] >= len(types_of_clicks) > 0 else ""

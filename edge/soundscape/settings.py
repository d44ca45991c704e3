"""The ``soundscape:`` section of a deployment."""

from __future__ import annotations

from dataclasses import dataclass

from edge import _validate as v

DEFAULT_PERCENTILES = (1.0, 5.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0)


@dataclass(frozen=True)
class SoundscapeSettings:
    """Hybrid millidecade levels per UTC minute (off when the section is absent, unless
    ``edge-detect --outputs`` names ``hmd``)."""

    percentiles: tuple[float, ...] = DEFAULT_PERCENTILES
    # minutes with less audio than this are written but left out of the percentiles and the
    # spectral probability density (a recording's first and last minutes are often partial)
    min_effort_s: float = 30.0
    fmax: float | None = None  # highest band edge, Hz; None: the recording's Nyquist frequency

    def __post_init__(self) -> None:
        v.require(
            isinstance(self.percentiles, (list, tuple)) and len(self.percentiles) > 0,
            f"percentiles={self.percentiles!r} must be a list of numbers in 0..100",
        )
        for p in self.percentiles:
            v.number("percentiles", p, minimum=0, maximum=100, why="a percentile")
        object.__setattr__(self, "percentiles", tuple(sorted(float(p) for p in self.percentiles)))
        v.number("min_effort_s", self.min_effort_s, minimum=0, maximum=60, why="a minute")
        v.number("fmax", self.fmax, minimum=435, allow_none=True)  # the millidecade bands start there

"""What the soundscape stage makes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Bands:
    """Contiguous bands: centre, lower and upper edge (Hz), and a name per band."""

    centres: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.centres)

    @property
    def widths(self) -> np.ndarray:
        widths: np.ndarray = self.upper - self.lower
        return widths


@dataclass(frozen=True)
class Minute:
    """One UTC minute of one recording: the mean PSD of its 1-s Hann segments (50 % overlap)
    integrated into HMD bands, uPa^2/Hz (linear), and the seconds of audio they cover."""

    start_utc: dt.datetime  # a whole UTC minute
    effort_s: float
    psd: np.ndarray  # (n_bands,) float64, the bands of :func:`edge.soundscape.bands.hmd_bands` at its rate


@dataclass(frozen=True)
class Day:
    """The minutes of one UTC day over every recording, on one band set (the widest met):
    ``psd`` is NaN above a recording's Nyquist frequency and in minutes without audio."""

    date: dt.date
    times: list[dt.datetime]
    effort_s: np.ndarray  # (n_minutes,)
    bands: Bands
    psd: np.ndarray  # (n_minutes, n_bands) uPa^2/Hz, linear
    sample_rate: int = 0  # the highest among its recordings (whose bands these are)

"""Noise levels: broadband and decidecade-band SPL per period, dB re 1 uPa.

The broadband level integrates from the lowest band's lower edge to Nyquist: a recorder's DC
offset (and the window's leakage of it) is not sound and must not raise the noise level.

Decidecade bands follow IEC 61260-1 base-10: centre ``1000 * 10**(n/10)`` Hz, edges a
factor ``10**(+-1/20)`` away; columns are named by the nominal (R10) centre, e.g.
``band_31.5hz``.  Each PSD bin contributes the fraction of its width inside a band, so
bands narrower than a bin are not mis-counted; bands below ``fmin`` (by default, those
narrower than one bin) or above Nyquist are left out.

A recording that holds less than the analysis band (one at a lower rate, resampled up: the
resampler's residue above its pass band; a lossy one: the decoder's zeros above its encoder's
low-pass) keeps the deployment's columns, but a band reaching above what it holds is NaN (an
empty cell: not measured) and the broadband level stops there: that residue reads -8 to -38 dB
re 1 uPa at 2.5-16 kHz for a 4 kHz recording analysed at 44.1 kHz, a level no sea has.

A frame belongs to the period holding its centre.  Periods start at the recording's first
sample; the last one may be shorter, and says so in ``duration_s``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edge import _validate as v
from edge.frontend import FrontendSpec
from edge.types import LevelRow, SpectralFrames

# a completed level period: (index, broadband mean square, per-band mean squares), uPa^2
Period = tuple[int, float, np.ndarray]

_R10 = (1.0, 1.25, 1.6, 2.0, 2.5, 3.15, 4.0, 5.0, 6.3, 8.0)


@dataclass(frozen=True)
class LevelSettings:
    """The ``levels:`` section of a deployment."""

    period_s: float = 60.0
    fmin: float | None = None  # lowest band centre; None: the first band at least one bin wide

    def __post_init__(self) -> None:
        v.number("period_s", self.period_s, minimum=0, exclusive=True, maximum=86400, why="a day")
        v.number("fmin", self.fmin, minimum=0, exclusive=True, allow_none=True)


@dataclass(frozen=True)
class DecidecadeBands:
    """Band centres, nominal names and the bin weights that integrate PSD into them."""

    centres: np.ndarray
    names: tuple[str, ...]
    weights: np.ndarray  # (n_bands, n_bins), Hz of each bin inside each band
    broadband: np.ndarray  # (n_bins,), Hz of each bin between the lowest band's lower edge and Nyquist
    measured: np.ndarray  # (n_bands,) bool: the band lies within what the recording holds

    @classmethod
    def for_spec(cls, spec: FrontendSpec, fmin: float | None = None, held_hz: float | None = None) -> DecidecadeBands:
        """The bands of ``spec``'s analysis; ``held_hz``, the top of what a recording holds when
        it is less than the analysis band, marks the bands above it unmeasured and ends the
        broadband level there."""
        df = spec.rate / spec.nfft
        nyquist = spec.rate / 2
        if fmin is not None:  # nominal centres (20, 80 Hz) lie up to 0.7 % above the exact ones
            n_lo = int(np.ceil(10 * np.log10(fmin / 1000) - 0.05))
        else:
            lowest = max(df / (10**0.05 - 10**-0.05), 10.0)
            n_lo = int(np.ceil(10 * np.log10(lowest / 1000) - 1e-9))
        n_hi = int(np.floor(10 * np.log10(nyquist / 1000) - 0.5 + 1e-9))  # upper edge <= Nyquist
        ns = np.arange(n_lo, n_hi + 1)
        centres = 1000.0 * 10.0 ** (ns / 10.0)
        lower, upper = centres * 10**-0.05, centres * 10**0.05
        freqs = spec.bin_freqs()
        b_lo = np.maximum(freqs - df / 2, 0.0)
        b_hi = np.minimum(freqs + df / 2, nyquist)
        overlap = np.minimum(b_hi[None, :], upper[:, None]) - np.maximum(b_lo[None, :], lower[:, None])
        weights = np.clip(overlap, 0.0, None)
        names = tuple(band_name(int(n)) for n in ns)
        top = nyquist if held_hz is None else min(held_hz, nyquist)
        broadband = np.clip(np.minimum(b_hi, top) - np.maximum(b_lo, lower[0] if len(lower) else 0.0), 0.0, None)
        return cls(centres, names, weights, broadband, upper <= top * (1 + 1e-9))


def band_name(n: int) -> str:
    """The column name of decidecade band ``n`` (centre ``1000 * 10**(n/10)`` Hz), by its
    nominal centre: ``band_31.5hz``."""
    return f"band_{_nominal(n):g}hz"


def _nominal(n: int) -> float:
    decade, step = divmod(n, 10)
    return round(_R10[step] * 1000.0 * 10.0**decade, 6)


class StreamingLevels:
    """Per-stream accumulation of PSD into periods."""

    def __init__(self, spec: FrontendSpec, settings: LevelSettings, held_hz: float | None = None) -> None:
        self.spec = spec
        self.settings = settings
        self.bands = DecidecadeBands.for_spec(spec, settings.fmin, held_hz)
        self._df = spec.rate / spec.nfft
        self._period = -1
        self._sum = np.zeros(spec.n_bins, np.float64)
        self._count = 0  # frames of the open period
        self._valid = 0  # of which usable (edge.quality)

    def push(self, frames: SpectralFrames, valid: np.ndarray | None = None) -> list[Period]:
        """Completed periods as ``(index, broadband_ms, band_ms)``, mean-square uPa^2; frames
        ``valid`` marks False (non-finite samples) are left out of the means, and a period of
        none but those is NaN."""
        if frames.n_frames == 0:
            return []
        period = self.period_of(frames.first_frame + np.arange(frames.n_frames))
        out = []
        cuts = np.flatnonzero(np.diff(period)) + 1
        masks = np.split(valid, cuts) if valid is not None else [None] * (len(cuts) + 1)
        for chunk, mask, p in zip(np.split(frames.psd, cuts), masks, period[np.r_[0, cuts]]):
            if p != self._period and self._count:
                out.append(self._emit())
            self._period = int(p)
            self._count += len(chunk)
            if mask is not None:
                chunk = chunk[mask]
            self._sum += chunk.sum(axis=0, dtype=np.float64)
            self._valid += len(chunk)
        return out

    def flush(self) -> list[Period]:
        return [self._emit()] if self._count else []

    def period_of(self, frames: np.ndarray) -> np.ndarray:
        """Period index of each absolute frame index in ``frames`` (the period holding the
        frame's centre), int64 of the same shape."""
        spec = self.spec
        centre_s = (np.asarray(frames, np.int64) * spec.hop + spec.nfft / 2) / spec.rate
        return np.floor(centre_s / self.settings.period_s).astype(np.int64)

    def first_frame_of(self, period: int) -> int:
        """The first frame belonging to ``period`` or a later one (0 for period 0)."""
        spec = self.spec
        guess = max(0, int(np.ceil((period * self.settings.period_s * spec.rate - spec.nfft / 2) / spec.hop)))
        cand = np.arange(max(0, guess - 3), guess + 4)
        return int(cand[np.argmax(self.period_of(cand) >= period)])

    def _emit(self) -> tuple[int, float, np.ndarray]:
        mean_psd = self._sum / self._valid if self._valid else np.full_like(self._sum, np.nan)
        in_bands = np.where(self.bands.measured, self.bands.weights @ mean_psd, np.nan)
        result = (self._period, float(self.bands.broadband @ mean_psd), in_bands)
        self._sum = np.zeros_like(self._sum)
        self._count = self._valid = 0
        return result


def to_rows(
    periods: list[Period], *, file: str, start_utc_of: Callable[[float], str], period_s: float, total_s: float
) -> list[LevelRow]:
    """Level records from accumulated periods; ``start_utc_of(offset_s)`` gives ISO time."""
    rows = []
    for index, broadband, bands in periods:
        start = index * period_s
        rows.append(
            LevelRow(
                file,
                start_utc_of(start),
                start,
                min(period_s, total_s - start),
                _db(broadband),
                tuple(_db(b) for b in bands),
            )
        )
    return rows


def _db(mean_square: float) -> float:
    if mean_square != mean_square:  # no usable frame in the period
        return float("nan")
    return float(10.0 * np.log10(mean_square)) if mean_square > 0 else float("-inf")

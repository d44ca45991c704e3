"""Hybrid millidecade bands (Martin et al. 2021, JASA Express Letters 1, 011203) and the
decidecades derived from them.

Below 435 Hz the bands are the 1 Hz bins of a 1-s FFT, centred on whole hertz from 1 Hz
(the 0 Hz bin is a recorder's DC offset, not sound); above, millidecade bands, centre
``1000 * 10**(i/1000)`` Hz and edges a factor ``10**(+-0.0005)`` away, the first from the
first millidecade lower edge at or above 434.5 Hz, widened down to 434.5 Hz so that the
bands tile the spectrum without a gap.  The last band is the last whose upper edge lies at
or below the Nyquist frequency (or ``fmax``).  Each band's level is the mean spectral
density over it: every bin contributes the fraction of its width inside the band.

Decidecade (IEC 61260-1 base-10) levels are band powers integrated from the HMD densities the
same way, named by their nominal centre as in ``levels.csv``.
"""

from __future__ import annotations

import numpy as np

from edge.levels import band_name
from edge.soundscape.types import Bands

LINEAR_TOP_HZ = 434  # the last 1 Hz band's centre
SWITCH_HZ = LINEAR_TOP_HZ + 0.5


def hmd_bands(sample_rate: int, fmax: float | None = None) -> Bands:
    """The HMD bands of a recording at ``sample_rate`` (1 Hz bins), up to ``fmax`` or its
    Nyquist frequency."""
    top = sample_rate / 2 if fmax is None else min(fmax, sample_rate / 2)
    k = np.arange(1, LINEAR_TOP_HZ + 1, dtype=np.float64)
    k = k[k + 0.5 <= top]
    centres, lower, upper = [k], [k - 0.5], [k + 0.5]
    if top >= SWITCH_HZ:
        i0 = int(np.ceil(1000 * np.log10(SWITCH_HZ / 1000) + 0.5 - 1e-9))  # lower edge >= 434.5 Hz
        i1 = int(np.floor(1000 * np.log10(top / 1000) - 0.5 + 1e-9))  # upper edge <= top
        i = np.arange(i0, i1 + 1, dtype=np.float64)
        c = 1000.0 * 10.0 ** (i / 1000)
        lo, hi = c * 10**-0.0005, c * 10**0.0005
        if len(i):
            lo[0] = SWITCH_HZ
        centres.append(c)
        lower.append(lo)
        upper.append(hi)
    cs = np.concatenate(centres)
    return Bands(
        cs, np.concatenate(lower), np.concatenate(upper), tuple(f"{x:.4f}".rstrip("0").rstrip(".") for x in cs)
    )


def decidecade_bands(top_hz: float, bottom_hz: float = 10.0) -> Bands:
    """Decidecade bands (base-10) from the one centred on ``bottom_hz`` to the last whose
    upper edge is at or below ``top_hz``."""
    n_lo = int(np.ceil(10 * np.log10(bottom_hz / 1000) - 0.05))
    n_hi = int(np.floor(10 * np.log10(top_hz / 1000) - 0.5 + 1e-9))
    n = np.arange(n_lo, n_hi + 1)
    c = 1000.0 * 10.0 ** (n / 10)
    names = tuple(band_name(int(x)) for x in n)
    return Bands(c, c * 10**-0.05, c * 10**0.05, names)


class Integrator:
    """Integrates a piecewise-constant density on contiguous source edges over target
    bands: ``power(density)[..., j]`` is the integral over target band ``j``.  Built once
    per pair of band sets; the density may be ``(..., n_source)``."""

    def __init__(self, edges: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        self.widths = np.diff(edges)
        self._lo = self._weights(edges, lower)
        self._hi = self._weights(edges, upper)

    @staticmethod
    def _weights(edges: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.clip(x, edges[0], edges[-1])
        i = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
        frac = (x - edges[i]) / (edges[i + 1] - edges[i])
        return i, frac

    def power(self, density: np.ndarray) -> np.ndarray:
        cum = np.cumsum(density * self.widths, axis=-1)
        cum = np.concatenate((np.zeros(cum.shape[:-1] + (1,)), cum), axis=-1)

        def at(w: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
            i, frac = w
            value: np.ndarray = cum[..., i] + frac * (cum[..., i + 1] - cum[..., i])
            return value

        power: np.ndarray = at(self._hi) - at(self._lo)
        return power


def bin_edges(sample_rate: int, nfft: int) -> np.ndarray:
    """Edges of the one-sided FFT bins (``nfft // 2 + 2`` values): bin k covers
    ``(k -+ 0.5) * df``, the first and last cut at 0 Hz and the Nyquist frequency."""
    df = sample_rate / nfft
    edges = (np.arange(nfft // 2 + 2) - 0.5) * df
    edges[0] = 0.0
    edges[-1] = min(edges[-1], sample_rate / 2)
    return edges


def hmd_integrator(sample_rate: int, nfft: int, bands: Bands) -> Integrator:
    return Integrator(bin_edges(sample_rate, nfft), bands.lower, bands.upper)


def hmd_to_decidecades(psd: np.ndarray, hmd: Bands, bottom_hz: float = 10.0) -> tuple[Bands, np.ndarray]:
    """Decidecade band powers (uPa^2) from HMD densities ``(..., n_hmd)``: the decidecades
    that the HMD bands cover entirely."""
    dd = decidecade_bands(float(hmd.upper[-1]), bottom_hz)
    keep = dd.lower >= hmd.lower[0]
    dd = Bands(dd.centres[keep], dd.lower[keep], dd.upper[keep], tuple(n for n, k in zip(dd.names, keep) if k))
    edges = np.concatenate((hmd.lower[:1], hmd.upper))
    power = Integrator(edges, dd.lower, dd.upper).power(psd)
    return dd, power

"""Daily soundscape products from the minutes of many recordings: the day's HMD table,
decidecades derived from it, percentiles and the spectral probability density.

Minutes are aligned to UTC minutes, so two recordings meeting inside a minute (files cut at
an odd second) each hold part of it: their densities are averaged weighted by effort, and
their efforts add up.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterable, Sequence

import numpy as np

from edge.soundscape.bands import hmd_bands, hmd_to_decidecades
from edge.soundscape.types import Bands, Day, Minute

SPD_STEP_DB = 1.0  # level bins of the spectral probability density (Merchant et al. 2015)


def days(recordings: Iterable[tuple[int, Sequence[Minute]]], fmax: float | None = None) -> list[Day]:
    """The days of ``recordings`` (each its sample rate and minutes), in time order; a day's
    band set is that of the highest rate among its recordings, NaN above a lower rate's."""
    by_day: dict[dt.date, dict[dt.datetime, tuple[float, np.ndarray]]] = {}
    rates: dict[dt.date, int] = {}
    for rate, recorded in recordings:
        for m in recorded:
            day = m.start_utc.date()
            rates[day] = max(rates.get(day, 0), rate)
            of_day = by_day.setdefault(day, {})
            of_day[m.start_utc] = _combine(of_day.get(m.start_utc), (m.effort_s, m.psd))
    out = []
    for day in sorted(by_day):
        bands = hmd_bands(rates[day], fmax)
        held = by_day[day]
        times = sorted(held)
        psd = np.full((len(times), len(bands)), np.nan)
        for i, t in enumerate(times):
            p = held[t][1]
            psd[i, : len(p)] = p
        effort = np.array([held[t][0] for t in times])
        out.append(Day(day, times, effort, bands, psd, rates[day]))
    return out


def _combine(held: tuple[float, np.ndarray] | None, new: tuple[float, np.ndarray]) -> tuple[float, np.ndarray]:
    if held is None:
        return new
    (e0, p0), (e1, p1) = held, new
    n = min(len(p0), len(p1))  # recordings at two rates meet: the bands both have
    return e0 + e1, (p0[:n] * e0 + p1[:n] * e1) / (e0 + e1)


def to_db(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        db: np.ndarray = 10.0 * np.log10(x)
    return db


def percentiles(day: Day, ps: Sequence[float], min_effort_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile levels (dB re 1 uPa^2/Hz) per band over the minutes with at least
    ``min_effort_s`` of audio, ``(len(ps), n_bands)``, and the power mean over them
    (``(n_bands,)``); NaN where no minute qualifies."""
    psd = day.psd[day.effort_s >= min_effort_s]
    if not len(psd):
        return np.full((len(ps), len(day.bands)), np.nan), np.full(len(day.bands), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN bands above a low rate
        return np.nanpercentile(to_db(psd), ps, axis=0), to_db(np.nanmean(psd, axis=0))


def spectral_probability_density(db: np.ndarray, step_db: float = SPD_STEP_DB) -> tuple[np.ndarray, np.ndarray]:
    """Per band, the empirical probability density of its levels ``db`` ``(n_minutes,
    n_bands)`` over level bins ``step_db`` wide: ``(edges, density)``, density
    ``(n_levels, n_bands)`` in 1/dB (each band's column integrates to 1 over its minutes)."""
    finite = db[np.isfinite(db)]
    if not len(finite):
        return np.array([0.0, step_db]), np.zeros((1, db.shape[1]))
    lo = np.floor(finite.min() / step_db) * step_db
    hi = np.ceil(finite.max() / step_db) * step_db + step_db
    edges = np.arange(lo, hi + step_db / 2, step_db)
    density = np.zeros((len(edges) - 1, db.shape[1]))
    for j in range(db.shape[1]):
        col = db[:, j][np.isfinite(db[:, j])]
        if len(col):
            density[:, j] = np.histogram(col, edges)[0] / (len(col) * step_db)
    return edges, density


def decidecades(day: Day) -> tuple[Bands, np.ndarray]:
    """Decidecade SPL (dB re 1 uPa) per minute, from the day's HMD densities."""
    bands, power = hmd_to_decidecades(day.psd, day.bands)
    return bands, to_db(power)

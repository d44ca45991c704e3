"""Daily products: minutes of several recordings on one band set, percentiles, SPD."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest

from edge.soundscape.bands import hmd_bands
from edge.soundscape.products import days, percentiles, spectral_probability_density
from edge.soundscape.types import Minute

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 5, 1, 23, 58, tzinfo=UTC)


def minute(k, effort, value, rate):
    return Minute(T0 + dt.timedelta(minutes=k), effort, np.full(len(hmd_bands(rate)), value))


def test_recordings_meeting_inside_a_minute_are_weighted_by_effort():
    a = (8000, [minute(0, 60.0, 1.0, 8000), minute(1, 20.0, 2.0, 8000)])
    b = (8000, [minute(1, 40.0, 5.0, 8000)])
    (day,) = [d for d in days([a, b]) if d.date == dt.date(2024, 5, 1)]
    assert day.effort_s.tolist() == [60.0, 60.0]
    np.testing.assert_allclose(day.psd[1], (2.0 * 20 + 5.0 * 40) / 60)


def test_days_split_at_utc_midnight_and_take_the_widest_band_set():
    low = (2000, [minute(k, 60.0, 1.0, 2000) for k in range(4)])  # 23:58 .. 00:01
    high = (8000, [minute(4, 60.0, 1.0, 8000)])  # 00:02
    first, second = days([low, high])
    assert (first.date, second.date) == (dt.date(2024, 5, 1), dt.date(2024, 5, 2))
    assert len(first.bands) == len(hmd_bands(2000)) and len(second.bands) == len(hmd_bands(8000))
    n = len(hmd_bands(2000))
    assert np.isnan(second.psd[:2, n:]).all() and np.isfinite(second.psd[2]).all()  # 00:00, 00:01: 2 kHz only


def test_percentiles_skip_short_minutes():
    rate = 2000
    ms = [minute(k, 60.0, 10.0 ** (v / 10), rate) for k, v in enumerate([60.0, 70.0, 80.0])]
    ms.append(minute(3, 5.0, 10.0**12, rate))  # a 5-s minute at 120 dB is left out
    ms = [dataclasses.replace(m, start_utc=m.start_utc - dt.timedelta(hours=1)) for m in ms]  # one day
    (day,) = days([(rate, ms)])
    pct, mean = percentiles(day, (0, 50, 100), min_effort_s=30)
    np.testing.assert_allclose(pct[:, 0], [60.0, 70.0, 80.0])
    assert mean[0] == pytest.approx(10 * np.log10(np.mean([1e6, 1e7, 1e8])))


def test_spectral_probability_density_integrates_to_one_per_band(rng):
    db = rng.normal(90, 5, size=(500, 3))
    db[:100, 2] = np.nan
    edges, density = spectral_probability_density(db)
    np.testing.assert_allclose(density.sum(axis=0) * np.diff(edges)[0], 1.0)
    assert edges[0] <= np.nanmin(db) and edges[-1] > np.nanmax(db)

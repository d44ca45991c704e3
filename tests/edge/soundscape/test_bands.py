"""Hybrid millidecade bands as Martin et al. (2021) lay them out, and band integration."""

from __future__ import annotations

import numpy as np
import pytest

from edge.soundscape.bands import Integrator, bin_edges, decidecade_bands, hmd_bands, hmd_to_decidecades


def test_one_hertz_bands_to_434_then_millidecades():
    b = hmd_bands(96000)
    np.testing.assert_array_equal(b.centres[:434], np.arange(1, 435))
    np.testing.assert_array_equal(b.widths[:434], 1.0)
    # the first millidecade band: i = -361, centre 435.51 Hz, widened down to 434.5 Hz
    assert b.lower[434] == 434.5
    assert b.centres[434] == pytest.approx(1000 * 10 ** (-361 / 1000))
    assert b.upper[434] == pytest.approx(1000 * 10 ** (-360.5 / 1000))
    np.testing.assert_allclose(b.upper[:-1], b.lower[1:], rtol=1e-12)  # no gap, no overlap
    ratio = b.upper[435:] / b.lower[435:]
    np.testing.assert_allclose(ratio, 10**0.001, rtol=1e-12)
    k = list(b.names).index("1000")  # i = 0: centred on 1 kHz exactly
    assert (b.lower[k], b.upper[k]) == pytest.approx((998.8494, 1001.1519), abs=1e-4)


@pytest.mark.parametrize("rate", [2000, 8000, 44100, 96000, 384000])
def test_last_band_ends_at_or_below_nyquist(rate):
    b = hmd_bands(rate)
    assert b.upper[-1] <= rate / 2
    assert b.upper[-1] * 10**0.001 > rate / 2  # the next one would not fit
    assert len(b) == 434 + int(np.floor(1000 * np.log10(rate / 2000) - 0.5 + 1e-9)) + 361 + 1


def test_fmax_cuts_the_band_set():
    assert hmd_bands(96000, fmax=10000).upper[-1] <= 10000 < hmd_bands(96000).upper[-1]


def test_integrator_gives_density_times_width_for_a_flat_density():
    rate = 8000
    edges = bin_edges(rate, rate)
    density = np.full(len(edges) - 1, 3.0)
    b = hmd_bands(rate)
    power = Integrator(edges, b.lower, b.upper).power(density)
    np.testing.assert_allclose(power, 3.0 * b.widths, rtol=1e-12)


def test_integrator_counts_the_fraction_of_a_bin_inside_a_band():
    edges = np.array([0.0, 1.0, 2.0, 3.0])
    density = np.array([1.0, 10.0, 100.0])
    power = Integrator(edges, np.array([0.5, 1.25]), np.array([1.5, 3.0])).power(density)
    np.testing.assert_allclose(power, [0.5 + 5.0, 7.5 + 100.0])


def test_decidecades_from_a_flat_hmd_density():
    hmd = hmd_bands(48000)
    dd, power = hmd_to_decidecades(np.full(len(hmd), 2.0), hmd)
    np.testing.assert_allclose(power, 2.0 * dd.widths, rtol=1e-9)
    assert dd.names[0] == "band_10hz" and "band_63hz" in dd.names and "band_125hz" in dd.names
    assert dd.upper[-1] <= hmd.upper[-1]


def test_decidecade_edges_are_base_ten():
    dd = decidecade_bands(20000)
    np.testing.assert_allclose(dd.upper / dd.lower, 10**0.1)
    assert dd.names[dd.names.index("band_1000hz")] == "band_1000hz"

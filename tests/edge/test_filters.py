"""The click detector's filters without scipy.signal: the Butterworth design's response and
output against scipy.signal's (band-pass and low-pass, from the narrow bands of the click bank
to a porpoise recorder's 384 kHz), the filter kernel's results scipy's bit for bit, streamed
in blocks with its state as whole, and scipy.signal not imported for any of it."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from edge._filters import butter_sos, sos_power_gain, sosfilt
from edge._native import extension_path

BANDS = [
    (44100, 2000, 19845),
    (44100, 2000, 2378),  # a quarter-octave sub-band of the bank
    (96000, 2000, 43200),
    (384000, 100000, 172800),
    (8000, 2000, 3600),
    (44100, 0, 5000),  # low-pass
]


@pytest.mark.parametrize(("rate", "low", "high"), BANDS)
def test_the_design_is_scipys_butterworth(rate, low, high):
    import scipy.signal

    mine = butter_sos(4, low, high, rate)
    wn = [low / (rate / 2), high / (rate / 2)] if low else high / (rate / 2)
    ref = scipy.signal.butter(4, wn, btype="bandpass" if low else "lowpass", output="sos")
    freqs = np.linspace(0, 0.999 * rate / 2, 4001)
    np.testing.assert_allclose(
        sos_power_gain(mine, freqs, rate), np.abs(scipy.signal.sosfreqz(ref, worN=freqs, fs=rate)[1]) ** 2, atol=1e-12
    )
    for edge in (low, high) if low else (high,):  # the edges are the -3 dB points
        assert 10 * np.log10(sos_power_gain(mine, np.array([edge]), rate)[0]) == pytest.approx(-3.0103, abs=1e-3)
    x = np.random.default_rng(rate + high).standard_normal(30000).astype(np.float32)
    want = scipy.signal.sosfilt(ref, x)
    got = sosfilt(mine, x)
    assert got.dtype == want.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * np.abs(want).max())
    assert np.array_equal(sosfilt(ref, x), want)  # scipy's own kernel, scipy's sections: the same bits


def test_streamed_with_its_state_equals_whole():
    sos = butter_sos(4, 2000, 20000, 96000)
    x = np.random.default_rng(3).standard_normal(50000)
    whole = sosfilt(sos, x)
    zi = np.zeros((sos.shape[0], 2))
    parts = []
    for block in np.array_split(x, [1, 333, 4096, 20000]):
        y, zi = sosfilt(sos, block, zi)
        parts.append(y)
    assert np.array_equal(np.concatenate(parts), whole)


def test_a_band_it_cannot_design_is_refused():
    with pytest.raises(ValueError, match="below the Nyquist frequency"):
        butter_sos(4, 2000, 50000, 96000)
    with pytest.raises(ValueError, match="real poles"):
        butter_sos(3, 0, 5000, 44100)


def test_no_scipy_signal_import():
    if extension_path("scipy.signal._sosfilt") is None:
        pytest.skip("this scipy keeps its sosfilt kernel elsewhere: scipy.signal.sosfilt runs (tested above)")
    script = (
        "import sys, numpy as np\n"
        "from edge._filters import _kernel, butter_sos, sosfilt\n"
        "sosfilt(butter_sos(4, 2000, 8000, 44100), np.ones(100))\n"
        "assert _kernel() is not None, 'scipy laid out otherwise: the fallback ran'\n"
        "assert not [m for m in sys.modules if m.startswith('scipy.signal') and m != 'scipy.signal._sosfilt']\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_where_the_kernel_is_not_as_expected_scipy_signal_runs(monkeypatch):
    import scipy.signal

    from edge import _filters

    _filters._kernel.cache_clear()
    monkeypatch.setattr(_filters, "scipy_extension", lambda name: None)
    try:
        sos = butter_sos(4, 2000, 8000, 44100)
        x = np.random.default_rng(5).standard_normal(5000)
        assert _filters._kernel() is None
        assert np.array_equal(sosfilt(sos, x), scipy.signal.sosfilt(sos, x))
        y, z = sosfilt(sos, x, np.zeros((sos.shape[0], 2)))
        want_y, want_z = scipy.signal.sosfilt(sos, x, zi=np.zeros((sos.shape[0], 2)))
        assert np.array_equal(y, want_y) and np.array_equal(z, want_z)
    finally:
        _filters._kernel.cache_clear()

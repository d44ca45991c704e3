"""The frontend's real FFT, scipy's pocketfft loaded on its own: scipy.fft.rfft's results bit
for bit (float32 and float64, frames of every length the deployments use), the same module a
later ``import scipy.fft`` finds, and without importing scipy.fft (what it is for)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from edge._fft import real_fft
from edge._native import extension_path


@pytest.mark.parametrize("n", [64, 256, 1000, 1024, 4096, 6615])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_transform_is_scipys_bit_for_bit(n, dtype):
    import scipy.fft

    x = np.random.default_rng(n).standard_normal((37, n)).astype(dtype)
    got = real_fft()(x)
    want = scipy.fft.rfft(x, axis=-1)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert np.array_equal(got, want)
    assert np.array_equal(real_fft()(x[3]), scipy.fft.rfft(x[3]))  # one frame


def test_it_loads_without_scipy_fft_and_scipy_fft_finds_the_same_module():
    if extension_path("scipy.fft._pocketfft.pypocketfft") is None:
        pytest.skip("this scipy keeps pocketfft elsewhere: scipy.fft.rfft runs (tested above)")
    script = (
        "import sys, numpy as np\n"
        "from edge._fft import _pocketfft, real_fft\n"
        "real_fft()(np.ones((2, 256), np.float32))\n"
        "assert _pocketfft() is not None, 'scipy laid out otherwise: the fallback ran'\n"
        "assert 'scipy.fft' not in sys.modules and 'scipy.special' not in sys.modules\n"
        "import scipy.fft\n"
        "assert scipy.fft._pocketfft.pypocketfft is _pocketfft()\n"
        "x = np.random.default_rng(0).standard_normal((4, 512)).astype(np.float32)\n"
        "assert np.array_equal(scipy.fft.rfft(x, axis=-1), real_fft()(x))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_where_the_kernel_is_not_as_expected_scipy_fft_runs(monkeypatch):
    import scipy.fft

    from edge import _fft

    _fft._pocketfft.cache_clear()
    monkeypatch.setattr(_fft, "scipy_extension", lambda name: None)
    try:
        x = np.random.default_rng(4).standard_normal((3, 256)).astype(np.float32)
        assert _fft._pocketfft() is None
        assert np.array_equal(real_fft()(x), scipy.fft.rfft(x, axis=-1))
    finally:
        _fft._pocketfft.cache_clear()

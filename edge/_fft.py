"""The real FFT of the frontend and the soundscape levels: scipy's pocketfft, loaded on its own.

``import scipy.fft`` spends about 0.25 s on this project's x86 host (more on a Raspberry Pi)
importing scipy's array-API layer, ``scipy.special`` and much of numpy around the transform,
at every process start: a sixth of edge-detect's whole hour of 2 kHz audio, and on the buoy
every wake-up of a duty-cycled edge-run.  The transform itself is one extension module, which
loads in a millisecond; numpy's own FFT is the same algorithm but transforms many short frames
several times slower (benchmarks/RESULTS.md, "The FFT's import").  So the module is loaded by
its file (:mod:`edge._native`): a later ``import scipy.fft`` finds the same module, and the
results are scipy.fft.rfft's bit for bit (tests/edge/test_fft.py).  Where scipy lays its files
out otherwise, scipy.fft.rfft is used.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np

from edge._native import scipy_extension

_MODULE = "scipy.fft._pocketfft.pypocketfft"


@cache
def _pocketfft() -> Any | None:
    """scipy's pocketfft extension module, or None where it is not found, or not as expected:
    it must transform an impulse and a cosine as the DFT does, called as scipy.fft calls it."""
    module = scipy_extension(_MODULE)
    if module is None:
        return None
    try:
        probe = np.array([[1, 0, 0, 0], [1, 0, -1, 0]], np.float32)
        got = module.r2c(probe, (1,), True, 0, None, 1)
    except Exception:  # a kernel of another signature: scipy.fft.rfft instead
        return None
    want = np.array([[1, 1, 1], [0, 2, 0]], np.complex64)
    return module if getattr(got, "dtype", None) == np.complex64 and np.allclose(got, want) else None


def real_fft() -> Callable[[np.ndarray], np.ndarray]:
    """``rfft(x)``: the one-sided FFT of real ``x`` along its last axis, unnormalised, in
    ``x``'s precision (float32 in, complex64 out), as ``scipy.fft.rfft(x, axis=-1)``."""
    module = _pocketfft()
    if module is None:
        import scipy.fft

        def fallback(x: np.ndarray) -> np.ndarray:
            out: np.ndarray = scipy.fft.rfft(x, axis=-1)
            return out

        return fallback
    r2c = module.r2c

    def rfft(x: np.ndarray) -> np.ndarray:
        out: np.ndarray = r2c(np.asarray(x), (x.ndim - 1,), True, 0, None, 1)
        return out

    return rfft

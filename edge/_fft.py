"""The real FFT of the frontend and the soundscape levels: scipy's pocketfft, loaded on its own.

``import scipy.fft`` spends about 0.25 s on this project's x86 host (more on a Raspberry Pi)
importing scipy's array-API layer, ``scipy.special`` and much of numpy around the transform,
at every process start: a sixth of edge-detect's whole hour of 2 kHz audio, and on the buoy
every wake-up of a duty-cycled edge-run.  The transform itself is one extension module, which
loads in a millisecond; numpy's own FFT is the same algorithm but transforms many short frames
several times slower (benchmarks/RESULTS.md, "The FFT's import").  So the module is loaded by
its file, as the interpreter caches it: a later ``import scipy.fft`` (clicks, resampling
checks) finds the same module, and the results are scipy.fft.rfft's bit for bit
(tests/edge/test_fft.py).  Where scipy lays its files out otherwise, scipy.fft.rfft is used.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np

_MODULE = "scipy.fft._pocketfft.pypocketfft"


@cache
def _pocketfft() -> Any | None:
    """scipy's pocketfft extension module, or None where it is not found as expected."""
    if _MODULE in sys.modules:
        return sys.modules[_MODULE]
    try:
        spec = importlib.util.find_spec("scipy")  # finds the package without importing it
        if spec is None or spec.origin is None:
            return None
        folder = os.path.join(os.path.dirname(spec.origin), "fft", "_pocketfft")
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = os.path.join(folder, "pypocketfft" + suffix)
            if os.path.exists(path):
                loader = importlib.machinery.ExtensionFileLoader(_MODULE, path)
                found = importlib.util.spec_from_file_location(_MODULE, path, loader=loader)
                if found is None:
                    return None
                module = importlib.util.module_from_spec(found)
                loader.exec_module(module)
                return module if callable(getattr(module, "r2c", None)) else None
    except (ImportError, OSError):
        return None
    return None


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

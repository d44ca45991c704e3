"""The click detector's filters without ``import scipy.signal``.

``import scipy.signal`` takes 1.1-1.5 s on this project's x86 host (it imports scipy.stats,
scipy.special, the array-API layer and most of scipy.signal's 30 modules), more than half of
``edge-detect`` over the six demo clips, for three things: a Butterworth design, its frequency
response, and the second-order-section filter.  The design and response are a few lines of
textbook arithmetic (the analogue prototype's poles, the band transform, the bilinear transform;
tests/edge/test_filters.py holds them to scipy.signal's responses); the filter is scipy's own
compiled kernel, loaded by its file (:mod:`edge._native`), so its results are
scipy.signal.sosfilt's bit for bit on the same sections.  Where scipy lays its files out
otherwise, scipy.signal.sosfilt is used (benchmarks/RESULTS.md, "scipy.signal's import").
"""

from __future__ import annotations

from functools import cache
from typing import Any, overload

import numpy as np

from edge._native import scipy_extension

_MODULE = "scipy.signal._sosfilt"


@cache
def _kernel() -> Any | None:
    """scipy's compiled second-order-section filter, ``_sosfilt(sos, x, zi)`` filtering the
    rows of ``x`` in place, or None where it is not found, or not as expected: a one-pole
    section must give an impulse its response and leave its state as the recursion does."""
    module = scipy_extension(_MODULE)
    kernel = getattr(module, "_sosfilt", None) if module is not None else None
    if kernel is None:
        return None
    sos = np.array([[1.0, 0.0, 0.0, 1.0, -0.5, 0.0]])  # y[n] = x[n] + y[n - 1] / 2
    x, zi = np.array([[1.0, 0.0, 0.0, 0.0]]), np.zeros((1, 1, 2))
    try:
        kernel(sos, x, zi)
    except Exception:  # a kernel of another signature: scipy.signal.sosfilt instead
        return None
    return kernel if np.allclose(x, [[1.0, 0.5, 0.25, 0.125]]) and np.allclose(zi[0, 0], [0.0625, 0.0]) else None


@overload
def sosfilt(sos: np.ndarray, x: np.ndarray, zi: None = None) -> np.ndarray: ...
@overload
def sosfilt(sos: np.ndarray, x: np.ndarray, zi: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...
def sosfilt(sos: np.ndarray, x: np.ndarray, zi: np.ndarray | None = None) -> Any:
    """``x`` (one dimension) through the sections ``sos`` ``(n, 6)``, from the state ``zi``
    ``(n, 2)`` (rest when None, and then only the output is returned), as
    ``scipy.signal.sosfilt(sos, x, zi=zi)``: in the common precision of the three."""
    kernel = _kernel()
    if kernel is None:
        from scipy.signal import sosfilt as scipy_sosfilt

        return scipy_sosfilt(sos, x) if zi is None else scipy_sosfilt(sos, x, zi=zi)
    n = sos.shape[0]
    dtype = np.result_type(sos, x, *(() if zi is None else (zi,)))
    y = np.array(x, dtype, order="C").reshape(1, -1)  # a copy: the kernel filters in place
    z = np.zeros((1, n, 2), dtype) if zi is None else np.array(zi, dtype, order="C").reshape(1, n, 2)
    kernel(sos.astype(dtype, copy=False), y, z)
    return y[0] if zi is None else (y[0], z[0])


def butter_sos(order: int, low_hz: float, high_hz: float, rate: float) -> np.ndarray:
    """A digital Butterworth filter of ``order`` as second-order sections ``(n, 6)``: band-pass
    ``low_hz``-``high_hz``, or low-pass at ``high_hz`` when ``low_hz`` is 0; the edges are the
    -3 dB points, pre-warped for the bilinear transform."""
    if not 0 <= low_hz < high_hz < rate / 2:
        raise ValueError(f"band {low_hz:g}-{high_hz:g} Hz does not lie below the Nyquist frequency {rate / 2:g} Hz")
    k = np.arange(order)
    prototype = np.exp(1j * np.pi * (2 * k + order + 1) / (2 * order))  # poles on the left half circle
    high = 2 * rate * np.tan(np.pi * high_hz / rate)
    if low_hz > 0:
        low = 2 * rate * np.tan(np.pi * low_hz / rate)
        width, centre2 = high - low, high * low
        half = prototype * width / 2
        root = np.sqrt(half**2 - centre2)
        poles = np.concatenate((half + root, half - root))
        zeros = np.concatenate((np.zeros(order), np.full(order, np.inf)))  # at 0 and at infinity
        gain = width**order
    else:
        poles = prototype * high
        zeros = np.full(order, np.inf)
        gain = high**order
    # the bilinear transform: s -> 2 rate (z - 1) / (z + 1); zeros at infinity go to z = -1
    c = 2 * rate
    zp = (c + poles) / (c - poles)
    finite = zeros[np.isfinite(zeros)]
    zz = np.concatenate(((c + finite) / (c - finite), -np.ones(np.count_nonzero(~np.isfinite(zeros)))))
    gain = gain * np.real(np.prod(c - finite) / np.prod(c - poles))
    return _sections(zz, zp, gain)


def _sections(zeros: np.ndarray, poles: np.ndarray, gain: float) -> np.ndarray:
    """Second-order sections of a filter whose poles come in conjugate pairs: each pair with
    the two zeros nearest it (real zeros, as a Butterworth's at +1 and -1), the pairs nearest
    the unit circle last (the most resonant sections last, as scipy orders them), the overall
    gain in the first section."""
    upper = poles[np.imag(poles) > 0]
    if 2 * len(upper) != len(poles):  # a real pole: an odd order, or a band too wide to have none
        raise ValueError("the filter has real poles: give an even order and a band narrower than its centre")
    upper = upper[np.argsort(np.abs(upper))]  # farthest from the unit circle first
    left = list(np.real(zeros))
    rows = []
    for p in upper:
        pair = sorted(left, key=lambda z: abs(z - p))[:2]
        for z in pair:
            left.remove(z)
        b = np.real(np.poly(pair))
        a = np.real(np.poly([p, np.conj(p)]))
        rows.append(np.concatenate((b, a)))
    sos = np.array(rows)
    sos[0, :3] *= gain
    return sos


def sos_power_gain(sos: np.ndarray, freqs_hz: np.ndarray, rate: float) -> np.ndarray:
    """``|H(f)|^2`` of the sections at ``freqs_hz``."""
    z = np.exp(-1j * 2 * np.pi * np.asarray(freqs_hz, float) / rate)  # z^-1 on the unit circle
    h = np.ones(z.shape, complex)
    for b0, b1, b2, a0, a1, a2 in sos:
        h *= (b0 + b1 * z + b2 * z**2) / (a0 + a1 * z + a2 * z**2)
    return np.asarray(np.abs(h) ** 2)

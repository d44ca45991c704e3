"""Quantisation shared by the frame bodies (``docs/reference/frames.md``): linear and logarithmic codes
with a reserved top code for "missing", the Exp-Golomb order choice, and UTC text to epoch
seconds.  Kept apart from ``frames`` so the body codecs (records, health) share one
definition of each grid without importing the envelope."""

from __future__ import annotations

import datetime as dt
import math
from typing import TypeGuard

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def utc_seconds(iso: str) -> float:
    return (dt.datetime.fromisoformat(iso.replace("Z", "+00:00")) - EPOCH).total_seconds()


def utc_text(seconds: int) -> str:
    """Epoch seconds as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return (EPOCH + dt.timedelta(seconds=seconds)).isoformat(timespec="seconds").replace("+00:00", "Z")


def missing(value: object) -> TypeGuard[None | float]:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def linear_code(value: float | None, lo: float, step: float, bits: int) -> int:
    """``round((value - lo) / step)``, saturating; the top code means missing."""
    top = (1 << bits) - 1  # reserved: missing
    if value is None or math.isnan(value):
        return top
    return min(max(round((value - lo) / step), 0), top - 1)


def linear_value(code: int, lo: float, step: float, bits: int) -> float:
    return float("nan") if code == (1 << bits) - 1 else round(lo + code * step, 2)


def log_code(value: float | None, lo: float, steps_per_octave: int, bits: int) -> int:
    """0 for a value <= 0, else ``1 + round(steps_per_octave * log2(value / lo))`` saturating
    at 1 and at the top code - 1; the top code means missing (None or not finite)."""
    top = (1 << bits) - 1
    if value is None or missing(value):
        return top
    if value <= 0:
        return 0
    return min(max(1 + round(steps_per_octave * math.log2(value / lo)), 1), top - 1)


def log_value(code: int, lo: float, steps_per_octave: int, bits: int) -> float | None:
    """The value of a :func:`log_code` (5 significant digits), None for missing."""
    if code == (1 << bits) - 1:
        return None
    return 0.0 if code == 0 else float(f"{lo * 2 ** ((code - 1) / steps_per_octave):.5g}")


def best_k(values: list[int]) -> int:
    """The Exp-Golomb order (0..15) coding ``values`` in the fewest bits, the smallest on a tie.
    Orders above the largest value's bit length only cost more (every value then takes k + 1
    bits), so they are not tried."""
    best_bits, best = None, 0
    for k in range(min(max(values).bit_length(), 15) + 1):
        nbits = 2 * sum((v + (1 << k)).bit_length() for v in values) - len(values) * (k + 1)
        if best_bits is None or nbits < best_bits:
            best_bits, best = nbits, k
    return best

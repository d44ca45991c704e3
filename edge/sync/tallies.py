"""The tally frame body (kind 1, ``docs/reference/frames.md``): detections per label over one period
(LFDCS style), for when the budget cannot carry every record."""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from edge.sync.bits import leb128, read_leb128, read_text
from edge.sync.quant import utc_seconds
from edge.types import Detection


@dataclass(frozen=True)
class Tally:
    start_s: int  # UTC epoch seconds
    period_s: int
    counts: tuple[tuple[str, int], ...]


def tallies(detections: Sequence[Detection], period_s: int) -> list[Tally]:
    """Per-period counts per label of the detections with a UTC start, periods aligned on
    multiples of ``period_s`` since the epoch."""
    bins: dict[int, dict[str, int]] = {}
    for d in detections:
        if d.start_utc:
            start = math.floor(utc_seconds(d.start_utc) // period_s * period_s)
            counts = bins.setdefault(start, {})
            counts[d.label] = counts.get(d.label, 0) + 1
    return [Tally(s, period_s, tuple(sorted(c.items()))) for s, c in sorted(bins.items())]


def encode(tally: Tally) -> bytes:
    body = bytearray(struct.pack(">I", tally.start_s)) + leb128(tally.period_s) + bytes((len(tally.counts),))
    for label, count in sorted(tally.counts):
        raw = label.encode()
        body += bytes((len(raw),)) + raw + leb128(count)
    return bytes(body)


def decode(body: bytes) -> Tally:
    """Strict: :class:`ValueError` for anything not made by :func:`encode`."""
    if len(body) < 6:
        raise ValueError("tally body too short")
    start = struct.unpack_from(">I", body)[0]
    period, pos = read_leb128(body, 4)
    if pos >= len(body):
        raise ValueError("tally body too short")
    n, pos = body[pos], pos + 1
    counts = []
    for _ in range(n):
        label, pos = read_text(body, pos, "tally")
        count, pos = read_leb128(body, pos)
        counts.append((label, count))
    if pos != len(body) or period == 0:
        raise ValueError("malformed tally")
    return Tally(start, period, tuple(counts))

"""The health frame body (kind 4, ``docs/reference/frames.md``): the buoy daemon's health and effort
records, so shore can tell "no detections" from "not listening".

``edge-run`` writes a row to the log's ``health`` table at start, stop, every level change
and every ``health_period_s``; the row's ``rowid`` is its sequence (the table is append
only).  Effort counters (seconds recorded, processed, dropped, in gaps; files; detections)
are the daemon's running totals, so each row stands alone and shore gets a period's effort
as the difference of two consecutive rows, whichever frames arrive first.  A frame holds a
run of consecutive rows: the first row's counters in full, the others delta-coded, and the
gauges (clipping, noise, real-time factor, disk, temperature, battery) in fixed-width codes
with a reserved "absent" code for a sensor that is not fitted.
"""

from __future__ import annotations

import math
import sqlite3
import struct
from dataclasses import dataclass, fields
from typing import Any

from edge.sync.bits import BitReader, BitWriter, leb128, read_leb128, unzigzag, zigzag
from edge.sync.quant import best_k, linear_code, linear_value, log_code, log_value, missing, utc_seconds, utc_text

MAX_ROWS = 255
EVENTS = ("start", "period", "level", "stop")  # 3-bit codes 0..3; 7: any other event
EVENT_OTHER, EVENT_BITS = 7, 3
LEVELS = ("full", "limited", "roi-only")  # 2-bit codes 0..2; 3: any other level
LEVEL_OTHER, LEVEL_BITS = 3, 2
# gauges: (field, kind, low end, step (linear) or steps per octave (log), bits); top code = absent
# (name, scale, lo, step or steps per octave, bits)
Gauge = tuple[str, str, float, float, int]
GAUGES: tuple[Gauge, ...] = (
    ("clipped_pct", "log", 1e-4, 12, 8),  # 0.0001 .. 100 %: 1/12 octave, 0 = none clipped
    ("noise_db", "linear", -100.0, 0.25, 10),  # -100 .. 155.5 dB (dB re 1 uPa, or dBFS uncalibrated)
    ("realtime_factor", "log", 0.01, 12, 8),  # 0.01 .. ~22,000 x real time
    ("disk_free_mb", "log", 1.0, 48, 10),  # 1 MB .. ~2.5 TB: 1/48 octave, 0 = full
    ("audio_mb", "log", 1.0, 48, 10),
    ("cpu_temp_c", "linear", -30.0, 0.5, 8),  # -30 .. 97 C
    ("battery_v", "linear", 0.0, 0.02, 11),  # 0 .. 40.92 V
)
# counters: whole seconds (or counts); the first row in full, then what each row adds less
# a prediction (_residuals)
COUNTERS = ("uptime_s", "recorded_s", "processed_s", "backlog_s", "dropped_s", "gaps_s", "files", "detections")


@dataclass(frozen=True)
class HealthRow:
    """One health record as a frame carries it: times and effort in whole seconds, gauges on
    their grids, None for what was not measured (no sensor, nothing processed yet)."""

    seq: int  # the row's rowid in the buoy's health table
    time_s: int  # UTC epoch seconds
    event: str
    level: str
    uptime_s: float
    recorded_s: float
    processed_s: float
    backlog_s: float
    dropped_s: float
    gaps_s: float
    files: int
    detections: int
    clipped_pct: float | None = None
    noise_db: float | None = None
    realtime_factor: float | None = None
    disk_free_mb: float | None = None
    audio_mb: float | None = None
    cpu_temp_c: float | None = None
    battery_v: float | None = None

    @property
    def utc(self) -> str:
        return utc_text(self.time_s)


_COLUMNS = [f.name for f in fields(HealthRow) if f.name not in ("seq", "time_s")]


def _has_table(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='health'").fetchone() is not None


def count(conn: sqlite3.Connection, *, after: int = 0) -> int:
    """How many rows :func:`read` would return."""
    return (
        conn.execute("SELECT COUNT(*) FROM health WHERE rowid > ?", (after,)).fetchone()[0] if _has_table(conn) else 0
    )


def read(conn: sqlite3.Connection, *, after: int = 0, limit: int | None = None) -> list[HealthRow]:
    """Rows of the log's ``health`` table with ``rowid > after``, oldest first; [] when the
    log has no such table (a log written by ``edge-detect``)."""
    if not _has_table(conn):
        return []
    sql = f"SELECT rowid, utc, {', '.join(_COLUMNS)} FROM health WHERE rowid > ? ORDER BY rowid"
    args: tuple[object, ...] = (after,)
    if limit is not None:
        sql, args = sql + " LIMIT ?", (after, limit)
    out = []
    for row in conn.execute(sql, args):
        values = dict(zip(_COLUMNS, row[2:]))
        for name in COUNTERS:
            values[name] = 0 if missing(values[name]) else values[name]
        out.append(HealthRow(row[0], math.floor(utc_seconds(row[1])), **values))
    return out


def _counter(row: HealthRow, name: str) -> int:
    return max(round(float(getattr(row, name))), 0)


def _gauge_code(row: HealthRow, gauge: Gauge) -> int:
    name, kind, lo, step, bits = gauge
    value = getattr(row, name)
    if kind == "log":
        return log_code(value, lo, int(step), bits)
    return linear_code(None if missing(value) else value, lo, step, bits)


def _gauge_value(code: int, gauge: Gauge) -> float | None:
    _, kind, lo, step, bits = gauge
    if kind == "log":
        return log_value(code, lo, int(step), bits)
    value = linear_value(code, lo, step, bits)
    return None if math.isnan(value) else value


def _residuals(prev: HealthRow, row: HealthRow) -> list[int]:
    """What a row adds to the previous one, less what is predicted: uptime and recorded
    seconds advance with the clock, processed seconds with recorded ones, the rest not at
    all; a steady buoy's residuals are all (about) zero."""
    step = row.time_s - prev.time_s
    change = [_counter(row, n) - _counter(prev, n) for n in COUNTERS]
    return [step, change[0] - step, change[1] - step, change[2] - change[1], *change[3:]]


def encode(rows: list[HealthRow]) -> bytes:
    """The body for consecutive rows (``seq`` increasing by one, 1..255 of them)."""
    if not 1 <= len(rows) <= MAX_ROWS:
        raise ValueError(f"{len(rows)} health rows: a frame holds 1..{MAX_ROWS}")
    if any(r.seq != rows[i - 1].seq + 1 for i, r in enumerate(rows) if i):
        raise ValueError("health rows in one frame must have consecutive sequence numbers")
    first = rows[0]
    if not all(0 <= r.time_s < 1 << 32 for r in rows):
        raise ValueError("a health row's time does not fit in 32 bits")
    out = bytearray(struct.pack(">I", first.time_s)) + leb128(first.seq) + bytes((len(rows),))
    for name in COUNTERS:
        out += leb128(_counter(first, name))
    deltas = [[zigzag(v) for v in _residuals(p, r)] for p, r in zip(rows, rows[1:])]
    if deltas:
        ks = [best_k(list(column)) for column in zip(*deltas)] + [0]
        out += bytes(a << 4 | b for a, b in zip(ks[::2], ks[1::2]))
    bits = BitWriter()
    for i, row in enumerate(rows):
        if i:
            for value, k in zip(deltas[i - 1], ks):
                bits.exp_golomb(value, k)
        bits.write(EVENTS.index(row.event) if row.event in EVENTS else EVENT_OTHER, EVENT_BITS)
        bits.write(LEVELS.index(row.level) if row.level in LEVELS else LEVEL_OTHER, LEVEL_BITS)
        for gauge in GAUGES:
            bits.write(_gauge_code(row, gauge), gauge[4])
    return bytes(out) + bits.to_bytes()


def decode(body: bytes) -> tuple[HealthRow, ...]:
    """Strict: :class:`ValueError` for anything not made by :func:`encode`."""
    if len(body) < 6:
        raise ValueError("health body too short")
    time_s = struct.unpack_from(">I", body)[0]
    seq, pos = read_leb128(body, 4)
    if pos >= len(body) or body[pos] == 0:
        raise ValueError("bad health row count")
    count, pos = body[pos], pos + 1
    counters: list[Any] = []
    for _ in COUNTERS:
        value, pos = read_leb128(body, pos)
        counters.append(value)
    ks: list[int] = []
    if count > 1:
        packed = body[pos : pos + 5]
        if len(packed) != 5 or packed[-1] & 0x0F:
            raise ValueError("bad health Exp-Golomb orders")
        ks = [n for b in packed for n in (b >> 4, b & 0x0F)][:9]
        pos += 5
    bits = BitReader(body[pos:])
    out = []
    for i in range(count):
        if i:
            residuals = [unzigzag(bits.exp_golomb(k)) for k in ks]
            step = residuals[0]
            time_s += step
            changes = [residuals[1] + step, residuals[2] + step]
            changes.append(residuals[3] + changes[1])
            changes += residuals[4:]
            counters = [c + d for c, d in zip(counters, changes)]
            if not 0 <= time_s < 1 << 32 or min(counters) < 0:
                raise ValueError("health value out of range")
        event, level = bits.read(EVENT_BITS), bits.read(LEVEL_BITS)
        if len(EVENTS) <= event < EVENT_OTHER:
            raise ValueError(f"reserved health event code {event}")
        gauges: dict[str, Any] = {g[0]: _gauge_value(bits.read(g[4]), g) for g in GAUGES}
        values: list[Any] = [float(c) if n.endswith("_s") else c for n, c in zip(COUNTERS, counters)]
        out.append(
            HealthRow(
                seq + i,
                time_s,
                EVENTS[event] if event < len(EVENTS) else "other",
                LEVELS[level] if level < len(LEVELS) else "other",
                *values,
                **gauges,
            )
        )
    bits.check_padding()
    return tuple(out)

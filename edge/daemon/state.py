"""The daemon's tables in the detection log, beside (never changing) edge.log's own.

``processed`` is the commit point of a recording: its row, its detections and its noise
levels go in one transaction, so after a crash a recording is either wholly in the log or
not at all, and is then processed again from the noise floor the previous row saved.
``health`` holds the periodic health and effort snapshots; ``attempts`` counts the starts of
each recording, so one that keeps ending the process is given up rather than retried forever.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import io
import json
import math
import sqlite3
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from edge.log import DetectionLog
from edge.soundscape.types import Minute
from edge.types import Detection, LevelRow

_SCHEMA = """
CREATE TABLE IF NOT EXISTS processed (
    key TEXT PRIMARY KEY,
    ord INTEGER NOT NULL UNIQUE,
    path TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL,
    start_utc TEXT NOT NULL,
    duration_s REAL NOT NULL,
    sample_rate INTEGER,
    gap_before_s REAL,
    processed_utc TEXT NOT NULL,
    processing_s REAL NOT NULL,
    level TEXT NOT NULL,
    rois INTEGER NOT NULL,
    detections INTEGER NOT NULL,
    clipped_pct REAL,
    deleted INTEGER NOT NULL DEFAULT 0,
    noise_state BLOB
);
CREATE TABLE IF NOT EXISTS noise_levels (
    file TEXT NOT NULL,
    start_utc TEXT NOT NULL,
    start_s REAL NOT NULL,
    duration_s REAL NOT NULL,
    broadband_db REAL,
    bands TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS soundscape_minutes (
    file TEXT NOT NULL,
    start_utc TEXT NOT NULL,
    effort_s REAL NOT NULL,
    sample_rate INTEGER NOT NULL,
    psd BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS attempts (
    key TEXT PRIMARY KEY,
    n INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS crashes (
    key TEXT PRIMARY KEY,
    n INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS health (
    seq INTEGER PRIMARY KEY,
    utc TEXT NOT NULL,
    event TEXT NOT NULL,
    uptime_s REAL NOT NULL,
    level TEXT NOT NULL,
    level_reason TEXT NOT NULL,
    recorded_s REAL NOT NULL,
    processed_s REAL NOT NULL,
    backlog_s REAL NOT NULL,
    dropped_s REAL NOT NULL,
    gaps_s REAL NOT NULL,
    clipped_pct REAL,
    noise_db REAL,
    realtime_factor REAL,
    disk_free_mb REAL,
    audio_mb REAL,
    cpu_temp_c REAL,
    battery_v REAL,
    files INTEGER NOT NULL,
    detections INTEGER NOT NULL
);
"""


@dataclass(frozen=True)
class Processed:
    """One recording's effort record (a ``processed`` row without its noise state)."""

    key: str
    path: str
    status: str  # ok | failed | dropped (deleted unprocessed to keep the disk from filling)
    reason: str
    start_utc: str
    duration_s: float
    sample_rate: int | None
    gap_before_s: float | None
    processed_utc: str
    processing_s: float
    level: str
    rois: int
    detections: int
    clipped_pct: float | None


@dataclass(frozen=True)
class HealthRecord:
    utc: str
    event: str  # start | period | level | stop
    uptime_s: float
    level: str
    level_reason: str
    recorded_s: float  # audio seen: processed + waiting + dropped
    processed_s: float
    backlog_s: float
    dropped_s: float
    gaps_s: float  # recording gaps between consecutive files
    clipped_pct: float | None  # over the recordings processed since the last record
    noise_db: float | None  # broadband level of the newest level period
    realtime_factor: float | None  # audio s per processing s since the last record
    disk_free_mb: float | None
    audio_mb: float | None  # raw audio + snippets against the disk budget
    cpu_temp_c: float | None
    battery_v: float | None
    files: int
    detections: int


def _none_nan(x: float | None) -> float | None:
    return None if isinstance(x, float) and not math.isfinite(x) else x


def pack_state(state: list[np.ndarray] | None) -> bytes | None:
    if not state:
        return None
    buf = io.BytesIO()
    arrays: dict[str, Any] = {f"s{i}": s for i, s in enumerate(state)}
    np.savez(buf, **arrays)
    return buf.getvalue()


def unpack_state(blob: bytes | None) -> list[np.ndarray] | None:
    if not blob:
        return None
    with np.load(io.BytesIO(blob)) as data:
        return [data[k] for k in sorted(data.files, key=lambda k: int(k[1:]))]


class DaemonLog(DetectionLog):
    """The detection log with the daemon's tables; transactions nest, so a recording's
    detections (:meth:`DetectionLog.append`) commit together with its ``processed`` row."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        with self.transaction():
            for statement in filter(str.strip, _SCHEMA.split(";")):
                self.conn.execute(statement)

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        if self.conn.in_transaction:
            return contextlib.nullcontext(self.conn)
        return super().transaction()

    def commit_file(
        self,
        row: Processed,
        detections: Sequence[Detection],
        levels: Sequence[LevelRow],
        noise_state: list[np.ndarray] | None,
        minutes: Sequence[Minute] = (),
    ) -> None:
        """Make one recording durable: detections, noise levels, its HMD minutes (at its
        sample rate, ``row.sample_rate``) and its ``processed`` row."""
        with self.transaction():
            self.append(detections)
            self.conn.executemany(
                "INSERT INTO soundscape_minutes VALUES (?, ?, ?, ?, ?)",
                [
                    (row.path, m.start_utc.isoformat(), m.effort_s, row.sample_rate, m.psd.astype("<f4").tobytes())
                    for m in minutes
                ],
            )
            self.conn.executemany(
                "INSERT INTO noise_levels VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        r.file,
                        r.start_utc,
                        r.start_s,
                        r.duration_s,
                        _none_nan(r.broadband_db),
                        json.dumps([_none_nan(b) for b in r.bands_db]),
                    )
                    for r in levels
                ],
            )
            ord_ = self.conn.execute("SELECT COALESCE(MAX(ord), 0) + 1 FROM processed").fetchone()[0]
            values = asdict(row)
            self.conn.execute(
                "INSERT INTO processed (key, ord, path, status, reason, start_utc, duration_s, sample_rate, "
                "gap_before_s, processed_utc, processing_s, level, rois, detections, clipped_pct, noise_state) "
                "VALUES (:key, :ord, :path, :status, :reason, :start_utc, :duration_s, :sample_rate, :gap_before_s, "
                ":processed_utc, :processing_s, :level, :rois, :detections, :clipped_pct, :noise_state)",
                {
                    **values,
                    "ord": ord_,
                    "noise_state": pack_state(noise_state),
                    "clipped_pct": _none_nan(row.clipped_pct),
                },
            )

    def soundscape_days(self) -> dict[dt.date, list[Callable[[], tuple[int, list[Minute]]]]]:
        """The UTC days holding HMD minutes, each with loaders of its recordings' minutes
        (:func:`edge.soundscape.write.write_days`)."""
        by_day: dict[dt.date, list[Callable[[], tuple[int, list[Minute]]]]] = {}
        for path, start in self.conn.execute(
            "SELECT DISTINCT file, substr(start_utc, 1, 10) FROM soundscape_minutes ORDER BY file"
        ):
            by_day.setdefault(dt.date.fromisoformat(start), []).append(functools.partial(self._minutes, path))
        return by_day

    def _minutes(self, path: str) -> tuple[int, list[Minute]]:
        rows = self.conn.execute(
            "SELECT start_utc, effort_s, sample_rate, psd FROM soundscape_minutes WHERE file=? ORDER BY start_utc",
            (path,),
        ).fetchall()
        minutes = [
            Minute(dt.datetime.fromisoformat(t), e, np.frombuffer(p, "<f4").astype(np.float64)) for t, e, _, p in rows
        ]
        return (rows[0][2] if rows else 0), minutes

    def attempt(self, key: str) -> int:
        """Count, durably, one more start of processing ``key``; returns the count.  A count
        above one means earlier attempts ended the process (crash, kill, power cut)."""
        with self.transaction():
            self.conn.execute("INSERT INTO attempts VALUES (?, 1) ON CONFLICT(key) DO UPDATE SET n = n + 1", (key,))
            return int(self.conn.execute("SELECT n FROM attempts WHERE key=?", (key,)).fetchone()[0])

    def crashed(self, key: str) -> int:
        """Count, durably, one more isolated worker that died processing ``key``; returns the
        count (:mod:`edge.daemon.isolate`)."""
        with self.transaction():
            self.conn.execute("INSERT INTO crashes VALUES (?, 1) ON CONFLICT(key) DO UPDATE SET n = n + 1", (key,))
            return int(self.conn.execute("SELECT n FROM crashes WHERE key=?", (key,)).fetchone()[0])

    def processed_keys(self) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT key FROM processed")}

    def is_processed(self, key: str) -> bool:
        return self.conn.execute("SELECT 1 FROM processed WHERE key=?", (key,)).fetchone() is not None

    def last(self) -> tuple[Processed, list[np.ndarray] | None] | None:
        """The newest committed recording and the noise floor it ended with."""
        names = [f.name for f in fields(Processed)]
        row = self.conn.execute(
            f"SELECT {', '.join(names)}, noise_state FROM processed ORDER BY ord DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        return Processed(*row[:-1]), unpack_state(row[-1])

    def processed(self) -> list[Processed]:
        names = [f.name for f in fields(Processed)]
        return [Processed(*r) for r in self.conn.execute(f"SELECT {', '.join(names)} FROM processed ORDER BY ord")]

    def mark_deleted(self, key: str) -> None:
        with self.transaction():
            self.conn.execute("UPDATE processed SET deleted=1 WHERE key=?", (key,))

    def totals(self) -> dict[str, float]:
        """Effort so far: seconds processed, dropped and in gaps; files; detections."""
        row = self.conn.execute(
            "SELECT COALESCE(SUM(CASE WHEN status != 'dropped' THEN duration_s END), 0), "
            "COALESCE(SUM(CASE WHEN status = 'dropped' THEN duration_s END), 0), "
            "COALESCE(SUM(CASE WHEN gap_before_s > 0 THEN gap_before_s END), 0), COUNT(*), "
            "COALESCE(SUM(detections), 0) FROM processed"
        ).fetchone()
        return {"processed_s": row[0], "dropped_s": row[1], "gaps_s": row[2], "files": row[3], "detections": row[4]}

    def add_health(self, record: HealthRecord) -> None:
        values = {k: _none_nan(val) for k, val in asdict(record).items()}
        with self.transaction():
            self.conn.execute(
                f"INSERT INTO health ({', '.join(values)}) VALUES ({', '.join(':' + k for k in values)})", values
            )

    def health(self) -> list[HealthRecord]:
        names = [f.name for f in fields(HealthRecord)]
        return [HealthRecord(*r) for r in self.conn.execute(f"SELECT {', '.join(names)} FROM health ORDER BY rowid")]

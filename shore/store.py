"""The shore database: every accepted frame once, every record once, counted outcomes.

A frame is accepted when its tag verifies under its deployment's key (``edge.sync.frames``)
and its ``(deployment, frame sequence)`` was not accepted before, in any order (the outbox
sends by priority, and a backlog may wait days).  A frame whose sequence was accepted before
is (docs/reference/frames.md, "Replay and duplicates"):

* a **duplicate** (MQTT QoS 1, an SBD session retried after a lost acknowledgement, a
  RockBLOCK POST retried): the same bytes, within ``window_s`` of the first copy and fewer
  than ``window_frames`` frames of the deployment accepted since; it stores nothing;
* a **replay**, rejected: the same bytes later than that, or other bytes under a used
  sequence.

Records are keyed by ``(deployment, log sequence)``; identity frames give every record the
model, config hash, hydrophone and calibration it was made with.  Health rows (the buoy
daemon's health and effort records) are keyed by ``(deployment, health sequence)``.
"""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

from edge.log import connect
from edge.sync import frames as fr
from edge.sync.health import HealthRow
from edge.types import Detection

ACCEPTED, DUPLICATE, REJECTED = "accepted", "duplicate", "rejected"
MAX_KEPT_REJECT_BYTES = 1024  # of a rejected frame, kept in the database for inspection
WINDOW_S = 3 * 86400.0  # a copy later than this after the first is a replay
WINDOW_FRAMES = 1024  # ... or one with this many newer frames accepted in between
_SCHEMA = """
CREATE TABLE IF NOT EXISTS frames (deployment TEXT NOT NULL, frame_seq INTEGER NOT NULL, kind INTEGER NOT NULL,
    received REAL NOT NULL, size INTEGER NOT NULL, digest BLOB NOT NULL, arrival INTEGER NOT NULL,
    PRIMARY KEY (deployment, frame_seq));
CREATE TABLE IF NOT EXISTS records (deployment TEXT NOT NULL, seq INTEGER NOT NULL, time_s REAL NOT NULL,
    file_time INTEGER NOT NULL, channel INTEGER NOT NULL, duration_s REAL NOT NULL, low_hz REAL NOT NULL,
    high_hz REAL NOT NULL, label TEXT NOT NULL, score REAL, snr_db REAL, received_level_db REAL,
    clicks INTEGER NOT NULL DEFAULT 0, ici_s REAL, PRIMARY KEY (deployment, seq));
CREATE TABLE IF NOT EXISTS tallies (deployment TEXT NOT NULL, start_s INTEGER NOT NULL, period_s INTEGER NOT NULL,
    label TEXT NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (deployment, start_s, period_s, label));
CREATE TABLE IF NOT EXISTS identity (deployment TEXT NOT NULL, frame_seq INTEGER NOT NULL, from_seq INTEGER NOT NULL,
    time_s INTEGER NOT NULL, model TEXT NOT NULL, config_hash TEXT NOT NULL, hydrophone TEXT NOT NULL,
    calibration_db REAL, software TEXT NOT NULL, status TEXT, PRIMARY KEY (deployment, frame_seq));
CREATE TABLE IF NOT EXISTS commands_sent (deployment TEXT NOT NULL, frame_seq INTEGER NOT NULL, created REAL NOT NULL,
    body TEXT NOT NULL, PRIMARY KEY (deployment, frame_seq));
CREATE TABLE IF NOT EXISTS rejected (received REAL NOT NULL, source TEXT NOT NULL, cause TEXT NOT NULL,
    reason TEXT NOT NULL, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS webhook (imei TEXT NOT NULL, momsn INTEGER NOT NULL, transmit_time TEXT NOT NULL,
    PRIMARY KEY (imei, momsn, transmit_time));
CREATE TABLE IF NOT EXISTS health (deployment TEXT NOT NULL, seq INTEGER NOT NULL, time_s INTEGER NOT NULL,
    event TEXT NOT NULL, level TEXT NOT NULL, uptime_s REAL NOT NULL, recorded_s REAL NOT NULL,
    processed_s REAL NOT NULL, backlog_s REAL NOT NULL, dropped_s REAL NOT NULL, gaps_s REAL NOT NULL,
    files INTEGER NOT NULL, detections INTEGER NOT NULL, clipped_pct REAL, noise_db REAL, realtime_factor REAL,
    disk_free_mb REAL, audio_mb REAL, cpu_temp_c REAL, battery_v REAL, PRIMARY KEY (deployment, seq))
"""
# columns a store made by an older pamedge lacks, added when it is opened
_ADDED = {"records": (("clicks", "INTEGER NOT NULL DEFAULT 0"), ("ici_s", "REAL"))}
_HEALTH_FIELDS = [f.name for f in dataclasses.fields(HealthRow)]


def _nan(value):
    return None if value != value else value


class ShoreStore:
    """``counts``: outcomes of this session's frames; ``rejected_by``: rejections by reason
    (:data:`edge.sync.frames.REASONS`)."""

    def __init__(
        self,
        path: str | Path,
        keys: fr.KeyRing,
        *,
        window_s: float = WINDOW_S,
        window_frames: int = WINDOW_FRAMES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.keys = keys
        self.window_s, self.window_frames, self.clock = window_s, window_frames, clock
        self.conn = connect(self.path, check_same_thread=False)  # the web hook's server thread; callers serialise
        self.counts: Counter = Counter()
        self.rejected_by: Counter = Counter()
        self.conn.execute("BEGIN IMMEDIATE")
        for statement in filter(str.strip, _SCHEMA.split(";")):
            self.conn.execute(statement)
        for table, columns in _ADDED.items():
            have = {row[1] for row in self.conn.execute(f"PRAGMA table_info({table})")}
            for name, kind in columns:
                if name not in have:
                    self.conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
        self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> ShoreStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def summary(self) -> str:
        """``accepted N  duplicate N  rejected N (bad MAC N, unknown deployment N, replay N, malformed N)``."""
        c = self.counts
        reasons = ", ".join(f"{r} {self.rejected_by[r]}" for r in fr.REASONS)
        return f"accepted {c[ACCEPTED]}  duplicate {c[DUPLICATE]}  rejected {c[REJECTED]} ({reasons})"

    def _reject(self, data: bytes, source: str, cause: str, reason: str) -> str:
        # a rejected frame is kept for inspection, but only its first bytes: a hostile sender
        # must not grow the database (the reason says how long it was)
        kept = bytes(data[:MAX_KEPT_REJECT_BYTES])
        if len(data) > MAX_KEPT_REJECT_BYTES:
            reason = f"{reason} ({len(data)} bytes; the first {MAX_KEPT_REJECT_BYTES} kept)"
        self.conn.execute("INSERT INTO rejected VALUES (?, ?, ?, ?, ?)", (self.clock(), source, cause, reason, kept))
        self.counts[REJECTED] += 1
        self.rejected_by[cause] += 1
        return REJECTED

    def _seen(self, frame: fr.Decoded, digest: bytes) -> str | None:
        """Inside a transaction: None for a new sequence, else DUPLICATE or why it is a replay."""
        row = self.conn.execute(
            "SELECT digest, received, arrival FROM frames WHERE deployment=? AND frame_seq=?",
            (frame.deployment, frame.seq),
        ).fetchone()
        if row is None:
            return None
        if bytes(row[0]) != digest:
            return f"frame {frame.seq} of {frame.deployment!r}: replay: its sequence was accepted with other bytes"
        newer = self._last_arrival(frame.deployment) - row[2]
        age = self.clock() - row[1]
        if age > self.window_s or newer >= self.window_frames:
            return (
                f"frame {frame.seq} of {frame.deployment!r}: replay: first accepted {age:.0f} s and "
                f"{newer} frames ago (duplicate window {self.window_s:.0f} s, {self.window_frames} frames)"
            )
        return DUPLICATE

    def _last_arrival(self, deployment: str) -> int:
        row = self.conn.execute("SELECT MAX(arrival) FROM frames WHERE deployment=?", (deployment,)).fetchone()
        return row[0] or 0

    def accept(self, data: bytes, source: str = "") -> str:
        """Verify, decode and store one frame; returns and counts the outcome."""
        try:
            frame = fr.decode(data, self.keys)
        except fr.FrameError as exc:
            return self._reject(data, source, exc.reason, str(exc))
        digest = hashlib.sha256(data).digest()[:16]
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            seen = self._seen(frame, digest)
            if seen is not None:
                self.conn.execute("ROLLBACK")
                if seen == DUPLICATE:
                    self.counts[DUPLICATE] += 1
                    return DUPLICATE
                return self._reject(data, source, fr.REPLAY, seen)
            self.conn.execute(
                "INSERT INTO frames VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    frame.deployment,
                    frame.seq,
                    frame.kind,
                    self.clock(),
                    len(data),
                    digest,
                    self._last_arrival(frame.deployment) + 1,
                ),
            )
            for r in frame.records:
                self.conn.execute(
                    "INSERT OR IGNORE INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        frame.deployment,
                        r.seq,
                        r.time_s,
                        int(r.file_time),
                        r.channel,
                        r.duration_s,
                        r.low_hz,
                        r.high_hz,
                        r.label,
                        _nan(r.score),
                        _nan(r.snr_db),
                        _nan(r.received_level_db),
                        r.clicks,
                        _nan(r.ici_s),
                    ),
                )
            if frame.identity is not None:
                f, who = frame.identity, frame.identity.identity
                self.conn.execute(
                    "INSERT INTO identity VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        frame.deployment,
                        frame.seq,
                        f.from_seq,
                        f.time_s,
                        who.model,
                        who.config_hash,
                        who.hydrophone,
                        who.calibration_db,
                        who.software,
                        json.dumps(dict(f.status)) if f.status else None,
                    ),
                )
            for h in frame.health:
                self.conn.execute(
                    f"INSERT OR IGNORE INTO health VALUES (?, {', '.join('?' * len(_HEALTH_FIELDS))})",
                    (frame.deployment, *(getattr(h, f) for f in _HEALTH_FIELDS)),
                )
            if frame.tally is not None:
                for label, count in frame.tally.counts:
                    self.conn.execute(
                        "INSERT OR REPLACE INTO tallies VALUES (?, ?, ?, ?, ?)",
                        (frame.deployment, frame.tally.start_s, frame.tally.period_s, label, count),
                    )
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.counts[ACCEPTED] += 1
        return ACCEPTED

    def accept_webhook(self, imei: str, momsn: int, transmit_time: str, data: bytes) -> str:
        """A RockBLOCK delivery: the same ``imei`` + ``momsn`` + ``transmit_time`` is a
        duplicate (RockBLOCK retries); MOMSN wraps at 65535, so a reused MOMSN with another
        transmit time is a new message (and the frame sequence still guards against replay).

        The delivery's key is kept only once its frame has been authenticated: the web hook is
        open to anyone, and a forged POST naming the buoy's IMEI and next MOMSN must not make
        the genuine delivery and its retries look like duplicates."""
        source = f"rockblock:{imei}:{momsn}"
        try:
            fr.decode(data, self.keys)
        except fr.FrameError as exc:
            return self._reject(data, source, exc.reason, str(exc))
        key = (imei, momsn % 65536, transmit_time)
        if self.conn.execute("SELECT 1 FROM webhook WHERE imei=? AND momsn=? AND transmit_time=?", key).fetchone():
            self.counts[DUPLICATE] += 1
            return DUPLICATE
        outcome = self.accept(data, source)
        if outcome != REJECTED:
            self.conn.execute("INSERT OR IGNORE INTO webhook VALUES (?, ?, ?)", key)
        return outcome

    def new_command(self, deployment: str, command: dict) -> bytes:
        """A downlink command frame for ``deployment`` with the next command sequence,
        recorded so that no sequence is used twice (the buoy refuses old ones)."""
        from edge.sync.commands import pack_command

        key = next((k for d, k in self.keys.by_tag.values() if d == deployment), None)
        if key is None:
            raise fr.FrameError(f"no key for deployment {deployment!r}")
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            row = self.conn.execute(
                "SELECT MAX(frame_seq) FROM commands_sent WHERE deployment=?", (deployment,)
            ).fetchone()
            seq = (row[0] or 0) + 1
            data = pack_command(command, deployment=deployment, key=key, frame_seq=seq)
            self.conn.execute(
                "INSERT INTO commands_sent VALUES (?, ?, ?, ?)",
                (deployment, seq, time.time(), data[fr.HEADER.size : -fr.TAG_BYTES].decode()),
            )
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        return data

    def identities(self, deployment: str) -> list[tuple[int, dict]]:
        """``(from_seq, identity fields)`` of the identity frames of ``deployment``, in the
        order they apply (by first record, then frame sequence)."""
        rows = self.conn.execute(
            "SELECT from_seq, model, config_hash, hydrophone, calibration_db FROM identity "
            "WHERE deployment=? ORDER BY from_seq, frame_seq",
            (deployment,),
        ).fetchall()
        return [
            (
                r[0],
                {
                    "model": r[1],
                    "config_hash": r[2],
                    "hydrophone": r[3],
                    "calibration_db": float("nan") if r[4] is None else r[4],
                },
            )
            for r in rows
        ]

    def records(self) -> Iterator[Detection]:
        """Every record, with the identity of the last identity frame that applies to it
        (``from_seq <= seq``); empty identity fields when none has arrived."""
        deployment, starts, idents = None, [], []
        for row in self.conn.execute(
            "SELECT deployment, seq, time_s, duration_s, low_hz, high_hz, label, score, "
            "snr_db, received_level_db, file_time, channel, clicks, ici_s FROM records "
            "ORDER BY deployment, seq"
        ):
            if row[0] != deployment:
                deployment = row[0]
                found = self.identities(deployment)
                starts, idents = [s for s, _ in found], [i for _, i in found]
            rec = fr.FrameRecord(
                row[1],
                row[2],
                row[3],
                row[4],
                row[5],
                row[6],
                *(float("nan") if v is None else v for v in row[7:10]),
                bool(row[10]),
                row[11],
                row[12],
                float("nan") if row[13] is None else row[13],
            )
            d = rec.detection(row[0])
            i = bisect.bisect_right(starts, row[1]) - 1
            yield dataclasses.replace(d, **idents[i]) if i >= 0 else d

    def seqs(self, deployment: str) -> list[int]:
        return [
            r[0] for r in self.conn.execute("SELECT seq FROM records WHERE deployment=? ORDER BY seq", (deployment,))
        ]

    def health(self) -> Iterator[tuple[str, HealthRow]]:
        """``(deployment, row)`` of every health row, by deployment and sequence."""
        for row in self.conn.execute(
            f"SELECT deployment, {', '.join(_HEALTH_FIELDS)} FROM health ORDER BY deployment, seq"
        ):
            yield row[0], HealthRow(*row[1:])

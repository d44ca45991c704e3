"""The shore database: every accepted frame once, every record once, counted outcomes.

A frame is accepted when its tag verifies under its deployment's key (``edge.sync.frames``)
and its ``(deployment, frame sequence)`` was not accepted before: a replayed old frame and a
QoS 1 or Iridium duplicate are the same bytes and are counted as duplicates, storing
nothing.  Records are keyed by ``(deployment, log sequence)``.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Iterator

from edge.sync import frames as fr
from edge.sync.log import connect
from edge.types import Detection

ACCEPTED, DUPLICATE, REJECTED = "accepted", "duplicate", "rejected"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS frames (deployment TEXT NOT NULL, frame_seq INTEGER NOT NULL, kind INTEGER NOT NULL,
    received REAL NOT NULL, size INTEGER NOT NULL, PRIMARY KEY (deployment, frame_seq));
CREATE TABLE IF NOT EXISTS records (deployment TEXT NOT NULL, seq INTEGER NOT NULL, time_s REAL NOT NULL,
    file_time INTEGER NOT NULL, channel INTEGER NOT NULL, duration_s REAL NOT NULL, low_hz REAL NOT NULL,
    high_hz REAL NOT NULL, label TEXT NOT NULL, score REAL, snr_db REAL, received_level_db REAL,
    PRIMARY KEY (deployment, seq));
CREATE TABLE IF NOT EXISTS tallies (deployment TEXT NOT NULL, start_s INTEGER NOT NULL, period_s INTEGER NOT NULL,
    label TEXT NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (deployment, start_s, period_s, label));
CREATE TABLE IF NOT EXISTS status (deployment TEXT NOT NULL, frame_seq INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (deployment, frame_seq));
CREATE TABLE IF NOT EXISTS commands_sent (deployment TEXT NOT NULL, frame_seq INTEGER NOT NULL, created REAL NOT NULL,
    body TEXT NOT NULL, PRIMARY KEY (deployment, frame_seq));
CREATE TABLE IF NOT EXISTS rejected (received REAL NOT NULL, source TEXT NOT NULL, reason TEXT NOT NULL,
    data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS webhook (imei TEXT NOT NULL, momsn INTEGER NOT NULL, transmit_time TEXT NOT NULL,
    PRIMARY KEY (imei, momsn, transmit_time))
"""


def _nan(value):
    return None if value != value else value


class ShoreStore:
    def __init__(self, path: str | Path, keys: fr.KeyRing) -> None:
        self.path = Path(path)
        self.keys = keys
        self.conn = connect(self.path, check_same_thread=False)  # the web hook's server thread; callers serialise
        self.counts: Counter = Counter()
        self.conn.execute("BEGIN IMMEDIATE")
        for statement in filter(str.strip, _SCHEMA.split(";")):
            self.conn.execute(statement)
        self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "ShoreStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def accept(self, data: bytes, source: str = "") -> str:
        """Verify, decode and store one frame; returns and counts the outcome."""
        try:
            frame = fr.decode(data, self.keys)
        except fr.FrameError as exc:
            self.conn.execute("INSERT INTO rejected VALUES (?, ?, ?, ?)", (time.time(), source, str(exc), bytes(data)))
            self.counts[REJECTED] += 1
            return REJECTED
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            cur = self.conn.execute("INSERT OR IGNORE INTO frames VALUES (?, ?, ?, ?, ?)",
                                    (frame.deployment, frame.seq, frame.kind, time.time(), len(data)))
            if cur.rowcount == 0:
                self.conn.execute("ROLLBACK")
                self.counts[DUPLICATE] += 1
                return DUPLICATE
            for r in frame.records:
                self.conn.execute("INSERT OR IGNORE INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                  (frame.deployment, r.seq, r.time_s, int(r.file_time), r.channel, r.duration_s,
                                   r.low_hz, r.high_hz, r.label, _nan(r.score), _nan(r.snr_db),
                                   _nan(r.received_level_db)))
            if frame.kind == fr.KIND_STATUS:
                self.conn.execute("INSERT INTO status VALUES (?, ?, ?)",
                                  (frame.deployment, frame.seq, frame.body.decode("utf-8", "replace")))
            if frame.tally is not None:
                for label, count in frame.tally.counts:
                    self.conn.execute("INSERT OR REPLACE INTO tallies VALUES (?, ?, ?, ?, ?)",
                                      (frame.deployment, frame.tally.start_s, frame.tally.period_s, label, count))
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.counts[ACCEPTED] += 1
        return ACCEPTED

    def accept_webhook(self, imei: str, momsn: int, transmit_time: str, data: bytes) -> str:
        """A RockBLOCK delivery: the same ``imei`` + ``momsn`` + ``transmit_time`` is a
        duplicate (RockBLOCK retries); MOMSN wraps at 65535, so a reused MOMSN with another
        transmit time is a new message (and the frame sequence still guards against replay)."""
        cur = self.conn.execute("INSERT OR IGNORE INTO webhook VALUES (?, ?, ?)", (imei, momsn % 65536, transmit_time))
        if cur.rowcount == 0:
            self.counts[DUPLICATE] += 1
            return DUPLICATE
        return self.accept(data, f"rockblock:{imei}:{momsn}")

    def new_command(self, deployment: str, command: dict) -> bytes:
        """A downlink command frame for ``deployment`` with the next command sequence,
        recorded so that no sequence is used twice (the buoy refuses old ones)."""
        from edge.sync.commands import pack_command

        key = next((k for d, k in self.keys.by_tag.values() if d == deployment), None)
        if key is None:
            raise fr.FrameError(f"no key for deployment {deployment!r}")
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            row = self.conn.execute("SELECT MAX(frame_seq) FROM commands_sent WHERE deployment=?",
                                    (deployment,)).fetchone()
            seq = (row[0] or 0) + 1
            data = pack_command(command, deployment=deployment, key=key, frame_seq=seq)
            self.conn.execute("INSERT INTO commands_sent VALUES (?, ?, ?, ?)",
                              (deployment, seq, time.time(), data[fr.HEADER.size:-fr.TAG_BYTES].decode()))
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        return data

    def records(self) -> Iterator[Detection]:
        for row in self.conn.execute("SELECT deployment, seq, time_s, duration_s, low_hz, high_hz, label, score, "
                                     "snr_db, received_level_db, file_time, channel FROM records "
                                     "ORDER BY deployment, seq"):
            rec = fr.FrameRecord(row[1], row[2], row[3], row[4], row[5], row[6],
                                 *(float("nan") if v is None else v for v in row[7:10]), bool(row[10]), row[11])
            yield rec.detection(row[0])

    def seqs(self, deployment: str) -> list[int]:
        return [r[0] for r in self.conn.execute("SELECT seq FROM records WHERE deployment=? ORDER BY seq",
                                                (deployment,))]

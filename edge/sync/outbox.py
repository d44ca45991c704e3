"""Store-and-forward over the detection log: frames wait in the log's own SQLite file until
the transport confirms them.

``fill`` packs the records logged since the last fill into frames and commits the frames and
the cursor in one transaction, so a frame sequence number is never given to two different
frames and a record is never packed twice, whenever the process dies.  An identity frame
(model, config hash, hydrophone, calibration) is queued before the first record and whenever
the identity changes; records scoring below a downlinked ``set_threshold`` override of their
label are left in the log, not sent.  Health rows of the buoy daemon (``edge.sync.health``)
are packed too, several to a frame.  ``next_frame`` picks what to send: highest priority first
(tallies and identity, then frames holding a species of concern, then health, then the rest),
oldest first, within the daily byte budget, and not before the backoff after a
failed session has passed.  A frame leaves the queue only when ``acked``; nothing is dropped.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from edge import __version__
from edge.log import DetectionLog
from edge.sync import frames as fr
from edge.sync import health as hl
from edge.sync.commands import threshold_overrides
from edge.sync.identity import STATUS_FIELDS, Identity, IdentityFrame
from edge.sync.quant import utc_seconds
from edge.sync.tallies import Tally, tallies
from edge.types import Detection

# health goes after what says what was heard (tallies, identity, species of concern) and
# before the other records: it is what tells "no detections" from "not listening"
PRIORITY_TALLY, PRIORITY_CONCERN, PRIORITY_HEALTH, PRIORITY_DEFAULT = 0, 1, 2, 5
MIN_BACKOFF_S = 60.0  # no new SBD session sooner than this after a failed one
MAX_BACKOFF_S = 3600.0
CREDIT_BYTES = 50  # Iridium bills MO messages per 50-byte credit
FILL_BATCH = 2000  # records (and health rows) packed per transaction
HEALTH_HOLD_S = 3600.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox_frames (
    deployment TEXT NOT NULL, frame_seq INTEGER NOT NULL, kind INTEGER NOT NULL,
    priority INTEGER NOT NULL, data BLOB NOT NULL, first_record INTEGER, last_record INTEGER,
    created REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, acked REAL,
    PRIMARY KEY (deployment, frame_seq));
CREATE TABLE IF NOT EXISTS outbox_cursor (
    deployment TEXT PRIMARY KEY, packed_through INTEGER NOT NULL, next_frame_seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS outbox_state (key TEXT PRIMARY KEY, value REAL NOT NULL);
CREATE TABLE IF NOT EXISTS outbox_spend (day TEXT PRIMARY KEY, bytes INTEGER NOT NULL, credits INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS outbox_identity (deployment TEXT PRIMARY KEY, identity TEXT NOT NULL,
    from_seq INTEGER NOT NULL)
"""


def passes(d: Detection, overrides: Mapping[str, float]) -> bool:
    """Whether ``d`` is sent under the per-label threshold ``overrides`` (a record without a
    score, e.g. an ROI-only run, always is)."""
    return math.isnan(d.score) or d.score >= overrides.get(d.label, -math.inf)


@dataclass(frozen=True)
class OutboxSettings:
    max_bytes: int = fr.SBD_MO_BYTES
    daily_bytes: int | None = None  # None: no budget
    daily_credits: int | None = None  # Iridium credits (50 bytes each, at least one per message)
    tally_period_s: int | None = None  # also queue per-period tallies per label (sent first)
    concern: tuple[str, ...] = ()  # labels sent first
    # health rows wait for more until the oldest is this old (or a frame is full, or one
    # reports a start, stop or level change), so one message carries several; 0: no wait
    health_hold_s: float = HEALTH_HOLD_S
    max_backoff_s: float = MAX_BACKOFF_S


@dataclass(frozen=True)
class QueuedFrame:
    deployment: str
    frame_seq: int
    kind: int
    priority: int
    data: bytes
    attempts: int


@dataclass
class Outbox:
    log: DetectionLog
    keys: Mapping[str, bytes]
    settings: OutboxSettings = field(default_factory=OutboxSettings)
    clock: Callable[[], float] = time.time  # seconds since the epoch

    def __post_init__(self) -> None:
        with self.log.transaction() as conn:
            for statement in filter(str.strip, _SCHEMA.split(";")):
                conn.execute(statement)

    @property
    def conn(self) -> sqlite3.Connection:
        return self.log.conn

    # -- filling ---------------------------------------------------------------------------

    def _cursor(self, deployment: str) -> tuple[int, int]:
        row = self.conn.execute(
            "SELECT packed_through, next_frame_seq FROM outbox_cursor WHERE deployment=?", (deployment,)
        ).fetchone()
        return row if row else (0, 1)

    def _store(
        self,
        deployment: str,
        frame_seq: int,
        kind: int,
        priority: int,
        data: bytes,
        first: int | None,
        last: int | None,
    ) -> None:
        self.conn.execute(
            "INSERT INTO outbox_frames (deployment, frame_seq, kind, priority, data, first_record, "
            "last_record, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (deployment, frame_seq, kind, priority, data, first, last, self.clock()),
        )

    def _identity(self, deployment: str) -> tuple[Identity, int] | None:
        """The identity last queued for ``deployment`` and the log sequence it starts at."""
        row = self.conn.execute(
            "SELECT identity, from_seq FROM outbox_identity WHERE deployment=?", (deployment,)
        ).fetchone()
        return (Identity(**json.loads(row[0])), row[1]) if row else None

    def _queue_identity(self, deployment: str, frame: IdentityFrame, frame_seq: int) -> None:
        """Inside a transaction: store an identity frame (sent first) and remember the identity."""
        data = fr.pack_identity(
            frame,
            deployment=deployment,
            key=self.keys[deployment],
            frame_seq=frame_seq,
            max_bytes=self.settings.max_bytes,
        )
        self._store(deployment, frame_seq, fr.KIND_IDENTITY, PRIORITY_TALLY, data, None, None)
        self.conn.execute(
            "INSERT OR REPLACE INTO outbox_identity VALUES (?, ?, ?)",
            (deployment, json.dumps(dataclasses.asdict(frame.identity)), frame.from_seq),
        )

    def fill(self) -> int:
        """Pack every record logged since the last fill; returns the number of new frames."""
        made = 0
        overrides = threshold_overrides(self.conn)
        for deployment in self.log.deployments():
            key = self.keys.get(deployment)
            if key is None:
                continue
            while (batch := self._fill_batch(deployment, key, overrides)) is not None:
                made += batch
            if self.settings.tally_period_s:
                made += self._fill_tallies(deployment)
        if len(self.keys) == 1:  # the health table has no deployment column: it is the outbox's
            deployment = next(iter(self.keys))
            while (batch := self._fill_health(deployment)) is not None:
                made += batch
        return made

    def _fill_health(self, deployment: str) -> int | None:
        """Pack up to :data:`FILL_BATCH` health rows (the daemon's ``health`` table) logged
        since the last fill, the cursor committed with the frames; the number of new frames,
        None when nothing (more) is ready."""
        state = f"health_through:{deployment}"
        made = 0
        with self.log.transaction() as conn:
            row = conn.execute("SELECT value FROM outbox_state WHERE key=?", (state,)).fetchone()
            rows = hl.read(conn, after=int(row[0]) if row else 0, limit=FILL_BATCH)
            if not rows:
                return None
            through, next_seq = self._cursor(deployment)
            hold = self.settings.health_hold_s
            urgent = any(r.event != "period" for r in rows)
            i = 0
            while i < len(rows):
                data, n = fr.pack_health(
                    rows[i:],
                    deployment=deployment,
                    key=self.keys[deployment],
                    frame_seq=next_seq,
                    max_bytes=self.settings.max_bytes,
                )
                if (
                    i + n == len(rows)
                    and not urgent
                    and len(rows) < FILL_BATCH
                    and self.clock() - rows[i].time_s < hold
                ):
                    break  # a frame with room to spare, nothing urgent, its oldest row still young
                self._store(deployment, next_seq, fr.KIND_HEALTH, PRIORITY_HEALTH, data, None, None)
                next_seq, made, i = next_seq + 1, made + 1, i + n
            if not i:
                return None
            conn.execute("INSERT OR REPLACE INTO outbox_state VALUES (?, ?)", (state, rows[i - 1].seq))
            conn.execute("INSERT OR REPLACE INTO outbox_cursor VALUES (?, ?, ?)", (deployment, through, next_seq))
        return made

    def _fill_batch(self, deployment: str, key: bytes, overrides: Mapping[str, float]) -> int | None:
        """Pack up to :data:`FILL_BATCH` records in one transaction (a process killed while
        packing a long backlog keeps what it committed); the number of new frames, None when
        there was nothing to pack."""
        made = 0
        with self.log.transaction():
            through, next_seq = self._cursor(deployment)
            records = self.log.read(deployment, after=through, limit=FILL_BATCH)
            if not records:
                return None
            kept = [(s, d) for s, d in records if passes(d, overrides)]
            current = self._identity(deployment)
            for who, start, stop in fr.identity_runs(kept):
                if current is None or current[0] != who:
                    current = (who, kept[start][0])
                    self._queue_identity(deployment, IdentityFrame(who, current[1], int(self.clock())), next_seq)
                    next_seq += 1
                    made += 1
                i = start
                while i < stop:
                    data, n = fr.pack_records(
                        kept[i:stop],
                        deployment=deployment,
                        key=key,
                        frame_seq=next_seq,
                        max_bytes=self.settings.max_bytes,
                    )
                    chunk = kept[i : i + n]
                    concern = any(d.label in self.settings.concern for _, d in chunk)
                    self._store(
                        deployment,
                        next_seq,
                        fr.KIND_RECORDS,
                        PRIORITY_CONCERN if concern else PRIORITY_DEFAULT,
                        data,
                        chunk[0][0],
                        chunk[-1][0],
                    )
                    next_seq += 1
                    made += 1
                    i += n
            self.conn.execute(
                "INSERT OR REPLACE INTO outbox_cursor VALUES (?, ?, ?)", (deployment, records[-1][0], next_seq)
            )
        return made

    def _fill_tallies(self, deployment: str) -> int:
        """Tallies of the periods that have ended (by the clock) since the last ones."""
        period = self.settings.tally_period_s
        if not period:
            return 0
        state = f"tallied_seq:{deployment}"
        made = 0
        with self.log.transaction() as conn:
            row = conn.execute("SELECT value FROM outbox_state WHERE key=?", (state,)).fetchone()
            after = int(row[0]) if row else 0
            done, last = [], after
            overrides = threshold_overrides(conn)
            for seq, d in self.log.read(deployment, after=after):
                if d.start_utc and (utc_seconds(d.start_utc) // period + 1) * period > self.clock():
                    break  # this record's period is still open
                if passes(d, overrides):
                    done.append(d)
                last = seq
            for tally in tallies(done, period):
                self._queue_tally(deployment, tally)
                made += 1
            conn.execute("INSERT OR REPLACE INTO outbox_state VALUES (?, ?)", (state, last))
        return made

    def add_tally(self, deployment: str, tally: Tally) -> int:
        """Queue a tally frame (sent before record frames); returns its frame sequence."""
        with self.log.transaction():
            return self._queue_tally(deployment, tally)

    def _queue_tally(self, deployment: str, tally: Tally) -> int:
        """Inside a transaction: store one tally frame and advance the frame sequence."""
        through, next_seq = self._cursor(deployment)
        data = fr.pack_tally(
            tally,
            deployment=deployment,
            key=self.keys[deployment],
            frame_seq=next_seq,
            max_bytes=self.settings.max_bytes,
        )
        self._store(deployment, next_seq, fr.KIND_TALLIES, PRIORITY_TALLY, data, None, None)
        self.conn.execute("INSERT OR REPLACE INTO outbox_cursor VALUES (?, ?, ?)", (deployment, through, next_seq + 1))
        return next_seq

    def add_status(self, deployment: str) -> int:
        """Queue a status frame: the current identity frame with the outbox counters (sent
        first); returns its frame sequence."""
        counters = self.status()
        with self.log.transaction():
            through, next_seq = self._cursor(deployment)
            who, from_seq = self._identity(deployment) or (Identity(software=__version__), 0)
            frame = IdentityFrame(
                who, from_seq, int(self.clock()), tuple((name, int(counters[name])) for name in STATUS_FIELDS)
            )
            self._queue_identity(deployment, frame, next_seq)
            self.conn.execute(
                "INSERT OR REPLACE INTO outbox_cursor VALUES (?, ?, ?)", (deployment, through, next_seq + 1)
            )
        return next_seq

    # -- sending ---------------------------------------------------------------------------

    def not_before(self) -> float:
        row = self.conn.execute("SELECT value FROM outbox_state WHERE key='not_before'").fetchone()
        return row[0] if row else 0.0

    def spent_today(self) -> tuple[int, int]:
        row = self.conn.execute("SELECT bytes, credits FROM outbox_spend WHERE day=?", (self._day(),)).fetchone()
        return row if row else (0, 0)

    def _day(self) -> str:
        return dt.datetime.fromtimestamp(self.clock(), dt.timezone.utc).strftime("%Y-%m-%d")

    def next_frame(self) -> QueuedFrame | None:
        """The frame to send now, or None (queue empty, backing off, or over today's budget)."""
        if self.clock() < self.not_before():
            return None
        row = self.conn.execute(
            "SELECT deployment, frame_seq, kind, priority, data, attempts FROM outbox_frames "
            "WHERE acked IS NULL ORDER BY priority, created, deployment, frame_seq "
            "LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        frame = QueuedFrame(row[0], row[1], row[2], row[3], bytes(row[4]), row[5])
        spent_bytes, spent_credits = self.spent_today()
        if self.settings.daily_bytes is not None and spent_bytes + len(frame.data) > self.settings.daily_bytes:
            return None
        if (
            self.settings.daily_credits is not None
            and spent_credits + max(1, math.ceil(len(frame.data) / CREDIT_BYTES)) > self.settings.daily_credits
        ):
            return None
        return frame

    def acked(self, frame: QueuedFrame) -> None:
        """The transport confirmed ``frame``: it leaves the queue, the session backoff resets."""
        with self.log.transaction() as conn:
            conn.execute(
                "UPDATE outbox_frames SET acked=?, attempts=attempts+1 WHERE deployment=? AND frame_seq=?",
                (self.clock(), frame.deployment, frame.frame_seq),
            )
            self._spend(conn, len(frame.data))
            conn.execute("INSERT OR REPLACE INTO outbox_state VALUES ('failures', 0)")
            conn.execute("INSERT OR REPLACE INTO outbox_state VALUES ('not_before', 0)")

    def failed(self, frame: QueuedFrame | None, *, charged: bool = False) -> float:
        """A session failed: back off (>= 60 s, doubling to ``max_backoff_s``); the frame stays
        queued.  Returns the time before which no session is tried."""
        with self.log.transaction() as conn:
            row = conn.execute("SELECT value FROM outbox_state WHERE key='failures'").fetchone()
            failures = int(row[0]) + 1 if row else 1
            wait = min(MIN_BACKOFF_S * 2 ** (failures - 1), max(self.settings.max_backoff_s, MIN_BACKOFF_S))
            until = self.clock() + wait
            conn.execute("INSERT OR REPLACE INTO outbox_state VALUES ('failures', ?)", (failures,))
            conn.execute("INSERT OR REPLACE INTO outbox_state VALUES ('not_before', ?)", (until,))
            if frame is not None:
                conn.execute(
                    "UPDATE outbox_frames SET attempts=attempts+1 WHERE deployment=? AND frame_seq=?",
                    (frame.deployment, frame.frame_seq),
                )
                if charged:
                    self._spend(conn, len(frame.data))
        return float(until)

    def _spend(self, conn: sqlite3.Connection, nbytes: int) -> None:
        credits = max(1, math.ceil(nbytes / CREDIT_BYTES))
        conn.execute(
            "INSERT INTO outbox_spend VALUES (?, ?, ?) ON CONFLICT(day) DO UPDATE SET "
            "bytes=bytes+excluded.bytes, credits=credits+excluded.credits",
            (self._day(), nbytes, credits),
        )

    def status(self) -> dict[str, Any]:
        pending = self.conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(data)), 0) FROM outbox_frames WHERE acked IS NULL"
        ).fetchone()
        acked = self.conn.execute("SELECT COUNT(*) FROM outbox_frames WHERE acked IS NOT NULL").fetchone()[0]
        spent = self.spent_today()
        return {
            "records": self.log.count(),
            "frames_pending": pending[0],
            "bytes_pending": pending[1],
            "frames_acked": acked,
            "bytes_today": spent[0],
            "credits_today": spent[1],
            "not_before": self.not_before(),
            "health_waiting": self._health_waiting(),
        }

    def _health_waiting(self) -> int:
        """Health rows logged but not yet packed (held for company, or logged since the fill)."""
        if len(self.keys) != 1:
            return 0
        row = self.conn.execute(
            "SELECT value FROM outbox_state WHERE key=?", (f"health_through:{next(iter(self.keys))}",)
        ).fetchone()
        return hl.count(self.conn, after=int(row[0]) if row else 0)

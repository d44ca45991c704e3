"""The detection log: SQLite in WAL mode, one durable transaction per append.

Every record gets a sequence number, per deployment, that only ever increases: the outbox,
the frames and the shore all name a record by ``(deployment, seq)``.  SQLite's journal makes
each append all-or-nothing, and ``synchronous=FULL`` makes a committed append survive a power
cut, so a process killed at any instant leaves a log holding exactly the appends that
returned.
"""

from __future__ import annotations

import errno
import math
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import fields
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from edge.errors import PamedgeError
from edge.types import DETECTION_FIELDS, Detection

L = TypeVar("L", bound="DetectionLog")

SCHEMA_VERSION = 2
# what each older schema lacks, added in place when a log of it is opened (a buoy's log outlives
# its software): 1 -> 2, a click train's click count and median inter-click interval
_MIGRATIONS = {
    "1": (
        "2",
        (
            "ALTER TABLE detections ADD COLUMN d_clicks INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE detections ADD COLUMN d_ici_s",
        ),
    ),
}
_FIELDS = DETECTION_FIELDS
# NaN is stored as NULL (SQLite has no NaN); these come back as NaN
_FLOAT_FIELDS = tuple(f.name for f in fields(Detection) if f.type in (float, "float"))
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS detections (
    deployment TEXT NOT NULL,
    seq INTEGER NOT NULL,
    {", ".join(f"d_{f}" for f in _FIELDS)},
    PRIMARY KEY (deployment, seq)
) WITHOUT ROWID;
"""


class LogError(PamedgeError, OSError):
    """The detection log cannot be opened or is not a pamedge log."""


def connect(path: str | Path, *, check_same_thread: bool = True) -> sqlite3.Connection:
    """Open (creating) a SQLite database in WAL mode with durable commits."""
    try:
        conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=check_same_thread)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
    except sqlite3.Error as exc:
        raise LogError(f"{path}: cannot open as SQLite: {exc}") from None
    return conn


def _nan_to_none(value: object) -> object:
    return None if isinstance(value, float) and math.isnan(value) else value


class DetectionLog:
    """Append-only store of :class:`Detection` records keyed by ``(deployment, seq)``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.conn = connect(self.path)
        try:
            with self.transaction():
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    self.conn.execute(statement)
                row = self.conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
                if row is None:
                    self.conn.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
                    row = (str(SCHEMA_VERSION),)
                version = row[0]
                while version in _MIGRATIONS:
                    version, statements = _MIGRATIONS[version]
                    for statement in statements:
                        self.conn.execute(statement)
                    self.conn.execute("UPDATE meta SET value=? WHERE key='schema'", (version,))
                if version != str(SCHEMA_VERSION):
                    raise LogError(f"{path}: detection log schema {row[0]}, this pamedge reads {SCHEMA_VERSION}")
        except sqlite3.OperationalError as exc:
            self.conn.close()
            if "full" in str(exc):
                raise _disk_error(exc, path) from None
            raise LogError(f"{path}: cannot be opened as a detection log: {exc}") from None
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            raise LogError(f"{path}: not a pamedge detection log: {exc}") from None

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return _Transaction(self.conn)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self: L) -> L:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def append(self, detections: Sequence[Detection]) -> list[int]:
        """Add ``detections`` in one durable transaction; returns their sequence numbers."""
        seqs = []
        with self.transaction():
            last: dict[str, int] = {}
            for d in detections:
                if d.deployment not in last:
                    last[d.deployment] = self.last_seq(d.deployment)
                last[d.deployment] += 1
                seqs.append(last[d.deployment])
                self.conn.execute(
                    f"INSERT INTO detections VALUES (?, ?, {', '.join('?' * len(_FIELDS))})",
                    (d.deployment, last[d.deployment], *(_nan_to_none(getattr(d, f)) for f in _FIELDS)),
                )
        return seqs

    def last_seq(self, deployment: str) -> int:
        row = self.conn.execute("SELECT MAX(seq) FROM detections WHERE deployment=?", (deployment,)).fetchone()
        return row[0] or 0

    def deployments(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT DISTINCT deployment FROM detections ORDER BY deployment")]

    def count(self, deployment: str | None = None) -> int:
        if deployment is None:
            return int(self.conn.execute("SELECT COUNT(*) FROM detections").fetchone()[0])
        return int(self.conn.execute("SELECT COUNT(*) FROM detections WHERE deployment=?", (deployment,)).fetchone()[0])

    def read(self, deployment: str, *, after: int = 0, limit: int | None = None) -> list[tuple[int, Detection]]:
        """``(seq, detection)`` of ``deployment`` with ``seq > after``, in sequence order."""
        sql = (
            f"SELECT seq, {', '.join(f'd_{f}' for f in _FIELDS)} FROM detections WHERE deployment=? AND seq>? "
            "ORDER BY seq"
        )
        args: tuple[object, ...] = (deployment, after)
        if limit is not None:
            sql += " LIMIT ?"
            args += (limit,)
        return [(row[0], _detection(row[1:])) for row in self.conn.execute(sql, args)]

    def iter_all(self) -> Iterator[tuple[int, Detection]]:
        for deployment in self.deployments():
            yield from self.read(deployment)


def _detection(values: Iterable[object]) -> Detection:
    data: dict[str, Any] = dict(zip(_FIELDS, values))
    for key in _FLOAT_FIELDS:
        if data[key] is None:
            data[key] = float("nan")
    return Detection(**data)


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (or ``ROLLBACK`` on an exception)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")


def build_log(tmp: Path, batches: Iterable[Sequence[Detection]], final: Path) -> None:
    """A new log at ``tmp`` holding the ``batches`` in order (one transaction each, so memory
    holds one batch), made one self-contained, synced file, ready to be renamed to ``final``."""
    for leftover in (tmp, tmp.with_name(tmp.name + "-wal"), tmp.with_name(tmp.name + "-shm")):
        leftover.unlink(missing_ok=True)
    try:
        with DetectionLog(tmp) as log:
            for batch in batches:
                log.append(batch)
            log.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            log.conn.execute("PRAGMA journal_mode=DELETE")  # one self-contained file to copy off the card
    except sqlite3.OperationalError as exc:
        raise _disk_error(exc, final) from None
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    for stale in (final.with_name(final.name + "-wal"), final.with_name(final.name + "-shm")):
        stale.unlink(missing_ok=True)  # a journal left by a reader must not be replayed onto the new file


def _disk_error(exc: sqlite3.OperationalError, path: str | Path) -> OSError:
    """SQLite's failure to write as the OSError it stands for ("database or disk is full":
    the card, not the log), naming the file."""
    return OSError(errno.ENOSPC if "full" in str(exc) else errno.EIO, str(exc), str(path))


def write_log(path: str | Path, detections: Sequence[Detection]) -> None:
    """Write a new log holding exactly ``detections`` at ``path``, atomically: a run killed
    while writing leaves the previous file (or none), never a partial one."""
    from edge.outputs import StagedFiles

    path = Path(path)
    staged = StagedFiles(path.parent)
    try:
        build_log(staged.path(path.name), [detections], path)
        staged.commit()
    except BaseException:
        staged.discard()
        raise

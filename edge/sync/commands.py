"""Downlink commands: authenticated MT frames (kind 3, <= 270 bytes) from shore to the buoy.

A command is compact JSON in a frame sealed with the deployment key; its frame sequence
must exceed the last command accepted (kept in the log's SQLite file), so a replayed or
reordered old command is refused.  Forged, malformed and replayed commands are ignored and
recorded in ``commands_rejected``; accepted ones in ``commands``, and their effect in
``buoy_settings`` (read by the detector and the sender).

Commands: ``{"cmd": "set_threshold", "label": L, "value": x}`` (score threshold of label L,
0..1: the outbox stops sending records of L scoring below x, and a classifier run can read it
with :func:`threshold_overrides`), ``{"cmd": "status"}`` (queue a status frame: the identity
frame with the outbox counters), ``{"cmd": "pause"}``, ``{"cmd": "resume"}`` (stop / restart
sending; a paused buoy still checks its mailbox).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.log import DetectionLog
from edge.sync import frames as fr

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS commands (deployment TEXT NOT NULL, frame_seq INTEGER NOT NULL, received REAL NOT NULL,
    body TEXT NOT NULL, PRIMARY KEY (deployment, frame_seq));
CREATE TABLE IF NOT EXISTS commands_rejected (received REAL NOT NULL, reason TEXT NOT NULL, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS buoy_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)
"""


def threshold_overrides(log: DetectionLog | sqlite3.Connection | str | Path) -> dict[str, float]:
    """``{label: threshold}`` set by downlink ``set_threshold`` commands, from the detection
    log (a :class:`edge.log.DetectionLog`, an open SQLite connection to it, or its path);
    empty when none arrived.  A label's detections scoring below its threshold are not sent,
    and a classifier run may apply the same thresholds."""
    if isinstance(log, (str, Path)):
        if not Path(log).is_file():
            return {}
        conn = sqlite3.connect(f"file:{Path(log).resolve()}?mode=ro", uri=True, timeout=30)
        try:
            return threshold_overrides(conn)
        finally:
            conn.close()
    conn = log.conn if isinstance(log, DetectionLog) else log
    try:
        rows = conn.execute("SELECT key, value FROM buoy_settings WHERE key LIKE 'threshold:%'").fetchall()
    except sqlite3.OperationalError:  # no command has been handled on this log yet
        return {}
    return {key.split(":", 1)[1]: float(value) for key, value in rows}


def buoy_setting(log: DetectionLog | sqlite3.Connection, key: str) -> str | None:
    """One value a downlink command set (``paused``: "1" or "0"), None when never set."""
    conn = log.conn if isinstance(log, DetectionLog) else log
    try:
        row = conn.execute("SELECT value FROM buoy_settings WHERE key=?", (key,)).fetchone()
    except sqlite3.OperationalError:  # no command has been handled on this log yet
        return None
    return row[0] if row else None


@dataclass(frozen=True)
class Command:
    seq: int
    cmd: str
    label: str = ""
    value: float | None = None


def pack_command(command: dict[str, Any], *, deployment: str, key: bytes, frame_seq: int) -> bytes:
    """Shore side: one command frame, at most :data:`frames.SBD_MT_BYTES`."""
    _validate(command)
    body = json.dumps(command, separators=(",", ":"), sort_keys=True).encode()
    data = fr.seal(fr.KIND_COMMAND, deployment, frame_seq, body, key)
    if len(data) > fr.SBD_MT_BYTES:
        raise fr.FrameError(f"command frame of {len(data)} bytes exceeds the {fr.SBD_MT_BYTES}-byte MT limit")
    return data


def _validate(command: object) -> Command:
    if not isinstance(command, dict) or command.get("cmd") not in ("set_threshold", "status", "pause", "resume"):
        raise ValueError(f"unknown command {command!r}")
    if command["cmd"] == "set_threshold":
        label, value = command.get("label"), command.get("value")
        if (
            set(command) != {"cmd", "label", "value"}
            or not isinstance(label, str)
            or not label
            or isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not 0 <= value <= 1
        ):
            raise ValueError(f"set_threshold needs a label and a value in 0..1: {command!r}")
        return Command(0, "set_threshold", label, float(value))
    if set(command) != {"cmd"}:
        raise ValueError(f"unexpected fields in {command!r}")
    return Command(0, command["cmd"])


class CommandHandler:
    """Buoy side: verify, apply and record downlink commands, in the log's database."""

    def __init__(self, conn: sqlite3.Connection, deployment: str, key: bytes) -> None:
        self.conn, self.deployment = conn, deployment
        self.keys = fr.KeyRing({deployment: key})
        self.conn.execute("BEGIN IMMEDIATE")
        for statement in filter(str.strip, _SCHEMA.split(";")):
            self.conn.execute(statement)
        self.conn.execute("COMMIT")

    def _reject(self, reason: str, data: bytes) -> None:
        log.warning("downlink command ignored: %s", reason)
        self.conn.execute("INSERT INTO commands_rejected VALUES (?, ?, ?)", (time.time(), reason, bytes(data)))

    def last_seq(self) -> int:
        row = self.conn.execute("SELECT MAX(frame_seq) FROM commands WHERE deployment=?", (self.deployment,)).fetchone()
        return row[0] or 0

    def handle(self, data: bytes) -> Command | None:
        """The command in ``data`` once applied, or None (ignored and recorded)."""
        try:
            frame = fr.decode(data, self.keys, kinds=(fr.KIND_COMMAND,))
            command = _validate(json.loads(frame.body.decode()))
        except (fr.FrameError, ValueError, UnicodeDecodeError) as exc:
            self._reject(str(exc), data)
            return None
        if frame.seq <= self.last_seq():
            self._reject(f"command {frame.seq} replayed (last accepted {self.last_seq()})", data)
            return None
        command = Command(frame.seq, command.cmd, command.label, command.value)
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.execute(
            "INSERT INTO commands VALUES (?, ?, ?, ?)", (self.deployment, frame.seq, time.time(), frame.body.decode())
        )
        if command.cmd == "set_threshold":
            self._set(f"threshold:{command.label}", str(command.value))
        elif command.cmd in ("pause", "resume"):
            self._set("paused", "1" if command.cmd == "pause" else "0")
        elif command.cmd == "status":
            self._set("status_requested", "1")
        self.conn.execute("COMMIT")
        return command

    def _set(self, key: str, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO buoy_settings VALUES (?, ?)", (key, value))

    def take_status_request(self) -> bool:
        """True once after a ``status`` command (the caller queues the status frame)."""
        if self.settings().get("status_requested") != "1":
            return False
        self._set("status_requested", "0")
        return True

    def settings(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT key, value FROM buoy_settings ORDER BY key"))

    @property
    def paused(self) -> bool:
        return self.settings().get("paused") == "1"

    def thresholds(self) -> dict[str, float]:
        return threshold_overrides(self.conn)

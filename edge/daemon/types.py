"""Interfaces and records of the daemon: where recordings come from, and what it reports."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


class Level(enum.IntEnum):
    """Degradation levels, cheapest last: ``FULL`` classifies every ROI, ``LIMITED`` only
    the strongest ``classify_limit`` of each recording, ``ROI_ONLY`` none (ROI records
    labelled 'roi', counted by the outbox's tallies)."""

    FULL = 0
    LIMITED = 1
    ROI_ONLY = 2

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "-")


@dataclass(frozen=True)
class PendingFile:
    """A complete recording ready to process.  ``owned`` says the daemon may delete it
    (a recorder's folder) rather than it being the user's (``--replay``)."""

    path: Path
    size: int
    owned: bool

    @property
    def key(self) -> str:
        """Identity in the ``processed`` table: the same file re-offered after a crash."""
        return f"{self.path.resolve()}:{self.size}"


class Source(Protocol):
    """Where recordings come from (``edge.daemon.sources``)."""

    def next(self, timeout_s: float) -> PendingFile | None:
        """The next complete recording in recording-time order, or None if none became
        ready within ``timeout_s``."""

    @property
    def exhausted(self) -> bool:
        """True when no recording will ever come again (the end of a replay)."""

    def backlog_s(self) -> float:
        """Seconds of complete audio waiting, not counting what ``next`` just returned."""

    def folders(self) -> list[Path]:
        """Folders whose audio counts against the disk budget (empty: none)."""

    def done(self, item: PendingFile) -> None:
        """``item`` is committed (or was already): do not offer it again."""

    def skip(self, keys: set[str]) -> None:
        """Recordings already in the log (a restart): not offered, not counted as backlog."""

    def close(self) -> None: ...

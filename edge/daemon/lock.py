"""One edge-run per detection log.  A second on the same log (a manual run beside the systemd
service) would analyse the same recordings again and, with live capture, take the first one's
file under way for what a power cut left and rename it.  The lock is an ``flock`` on a file
beside the log, so a daemon that dies (a crash, a kill, a power cut) never leaves it held."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from edge.errors import PamedgeError


class AlreadyRunningError(PamedgeError, OSError):
    """Another edge-run holds the detection log."""


class InstanceLock:
    """Held from :meth:`acquire` until :meth:`release` or the process's end."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = Path(log_path)
        self.path = self.log_path.with_name(self.log_path.name + ".lock")
        self._fh: IO[str] | None = None

    def acquire(self) -> InstanceLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            pid = fh.read().strip() or "?"
            fh.close()
            raise AlreadyRunningError(
                f"{self.log_path}: another edge-run (pid {pid}) is running on this detection log: stop it first "
                f"(systemctl stop pamedge), or give this run a log of its own (run.log)"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        self._fh = fh
        return self

    def release(self) -> None:
        if self._fh is not None:
            self._fh.close()  # closing the file lets go of the flock
            self._fh = None

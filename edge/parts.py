"""Committed per-recording results under ``OUTDIR/.parts``: what makes ``edge-detect`` resumable.

Each recording's outcome is a JSON part written atomically (the commit point), beside its
noise state and soundscape minutes as ``.npz`` files written before it; a run killed at any
instant keeps every part committed before, and ``--resume`` takes them as they are.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from edge.outputs import write_atomic
from edge.soundscape.types import Minute

PART_VERSION = 2  # a part of another version is not this run's (the run key holds it)


def source_identity(path: Path) -> dict[str, Any]:
    """What a committed part was made from: a recording changed since (size, time) is processed again."""
    st = path.stat()
    return {"path": os.path.abspath(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


class Parts:
    """Committed per-recording results under ``OUTDIR/.parts``."""

    def __init__(self, outdir: Path) -> None:
        self.dir = outdir / ".parts"
        self.dir.mkdir(parents=True, exist_ok=True)

    def _key(self, path: Path) -> str:
        return hashlib.sha1(os.path.abspath(path).encode()).hexdigest()[:16]

    def part(self, path: Path) -> dict[str, Any] | None:
        """The committed outcome of ``path`` (its records), without its noise state."""
        try:
            part: dict[str, Any] = json.loads((self.dir / f"{self._key(path)}.json").read_text())
        except (OSError, ValueError):
            return None
        return part

    def load(self, path: Path) -> tuple[dict[str, Any], list[np.ndarray] | None] | None:
        part = self.part(path)
        if part is None:
            return None
        state = None
        npz = self.dir / f"{self._key(path)}.npz"
        if npz.exists():
            with np.load(npz) as data:
                state = [data[k] for k in sorted(data.files, key=lambda k: int(k[1:]))]
        return part, state

    def _savez(self, name: str, arrays: dict[str, Any]) -> None:
        """``arrays`` into ``.parts/name`` whole or not at all."""
        tmp = self.dir / f".{name}.tmp"
        try:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.dir / name)
        except BaseException:  # a full card: no temporary left behind
            tmp.unlink(missing_ok=True)
            raise

    def save(self, path: Path, part: dict[str, Any], state: list[np.ndarray] | None) -> None:
        key = self._key(path)
        npz = self.dir / f"{key}.npz"
        if state:
            self._savez(npz.name, {f"s{i}": s for i, s in enumerate(state)})
        elif npz.exists():
            npz.unlink()
        write_atomic(self.dir / f"{key}.json", json.dumps(part, sort_keys=True))  # the commit point

    def save_hmd(self, path: Path, rate: int, minutes: list[Minute]) -> None:
        """The HMD minutes of ``path``, written before its part (whose commit makes them count)."""
        self._savez(
            f"{self._key(path)}.hmd.npz",
            {
                "rate": np.int64(rate),
                "start": np.array([m.start_utc.timestamp() for m in minutes], np.float64),
                "effort": np.array([m.effort_s for m in minutes], np.float64),
                "psd": np.array([m.psd for m in minutes], np.float64) if minutes else np.zeros((0, 0)),
            },
        )

    def hmd_days(self, path: Path) -> list[dt.date]:
        """The UTC days ``path``'s committed minutes fall on (their start times alone are read)."""
        npz = self.dir / f"{self._key(path)}.hmd.npz"
        if not npz.exists():
            return []
        with np.load(npz) as data:
            return sorted({dt.datetime.fromtimestamp(t, dt.timezone.utc).date() for t in data["start"].tolist()})

    def load_hmd(self, path: Path) -> tuple[int, list[Minute]]:
        """The HMD minutes committed for ``path`` (none when it has none)."""
        npz = self.dir / f"{self._key(path)}.hmd.npz"
        if not npz.exists():
            return 0, []
        with np.load(npz) as data:
            starts = [dt.datetime.fromtimestamp(t, dt.timezone.utc) for t in data["start"].tolist()]
            return int(data["rate"]), [Minute(t, float(e), p) for t, e, p in zip(starts, data["effort"], data["psd"])]

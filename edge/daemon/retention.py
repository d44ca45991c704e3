"""Raw-audio retention: what happens to a recorder's files once processed, within a disk
budget.  Only files the daemon owns (a recorder's folder, live capture) are ever deleted;
``--replay`` files are the user's.

Under budget pressure the oldest *processed* audio goes first, then the oldest snippets; only
when nothing processed is left and the budget is still exceeded is the oldest unprocessed
recording deleted, and it is then recorded as ``dropped`` (lost effort) in the ``processed``
table, because a full card stops the recorder and the daemon alike.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path

import soundfile as sf

from edge.daemon.config import RetentionSettings
from edge.daemon.health import disk_free_mb, folder_mb
from edge.daemon.state import DaemonLog
from edge.types import Detection


def merged_spans(detections: Sequence[Detection], pad_s: float, duration_s: float) -> list[tuple[float, float]]:
    """Time spans ``pad_s`` either side of each detection, overlapping ones merged."""
    spans = sorted((max(0.0, d.start_s - pad_s), min(duration_s, d.end_s + pad_s)) for d in detections)
    out: list[tuple[float, float]] = []
    for lo, hi in spans:
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def write_snippets(path: Path, detections: Sequence[Detection], pad_s: float, folder: Path) -> list[Path]:
    """WAV snippets of ``path`` around ``detections`` in ``folder``, named
    ``<stem>_<offset ms>.wav`` (same format and rate as the recording)."""
    written = []
    with sf.SoundFile(str(path)) as fh:
        duration = fh.frames / fh.samplerate
        for lo, hi in merged_spans(detections, pad_s, duration):
            fh.seek(int(lo * fh.samplerate))
            data = fh.read(int((hi - lo) * fh.samplerate), dtype="float32", always_2d=True)
            folder.mkdir(parents=True, exist_ok=True)
            out = folder / f"{path.stem}_{int(round(lo * 1000)):09d}.wav"
            tmp = out.with_name(f".{out.name}.part")
            sf.write(str(tmp), data, fh.samplerate, subtype=fh.subtype, format="WAV")
            tmp.replace(out)
            written.append(out)
    return written


class Retention:
    """``disk_free`` (MB free on the filesystem, None when unknown) defaults to statvfs of
    the watched folder; tests pass their own."""

    def __init__(
        self,
        settings: RetentionSettings,
        folders: list[Path],
        log: DaemonLog,
        *,
        drop: Callable[[Path], None],
        on_delete: Callable[[str], None] = lambda _: None,
        disk_free: Callable[[], float | None] | None = None,
    ) -> None:
        self.settings = settings
        self.folders = folders
        self.log = log
        self.drop = drop  # records an unprocessed file as dropped before it is deleted
        self.on_delete = on_delete  # told of each unprocessed file deleted (lost effort)
        self.snippets = folders[0].resolve().parent / settings.snippets_dir if folders else None
        self.disk_free = disk_free or (lambda: disk_free_mb(self.folders[0]) if self.folders else None)

    def after(self, path: Path, key: str, owned: bool, detections: Sequence[Detection]) -> None:
        """Apply the policy to a committed recording."""
        if not owned or self.settings.policy == "keep":
            return
        if self.settings.policy == "snippets" and detections and path.exists() and self.snippets is not None:
            write_snippets(path, detections, self.settings.snippet_pad_s, self.snippets)
        path.unlink(missing_ok=True)
        self.log.mark_deleted(key)

    def _owned(self, path: Path) -> bool:
        return any(path.resolve().is_relative_to(f.resolve()) for f in self.folders)

    def used_mb(self) -> float:
        return folder_mb(self.folders + ([self.snippets] if self.snippets else []))

    def free_mb(self, pending: Sequence[Path]) -> float | None:
        """Free space as degradation sees it: the disk's own, and with a budget the budget
        less what cannot be reclaimed (unprocessed audio; processed audio and snippets can be)."""
        free = self.disk_free() if self.folders else None
        if self.settings.disk_budget_mb is not None and self.folders:
            unprocessed = sum(p.stat().st_size for p in pending if p.exists()) / 1e6
            budget_free = self.settings.disk_budget_mb - unprocessed
            free = budget_free if free is None else min(free, budget_free)
        return free

    def _short_mb(self) -> float:
        """MB to delete: over the budget, or under the filesystem's ``min_free_mb``."""
        short = 0.0
        if self.settings.disk_budget_mb is not None:
            short = self.used_mb() - self.settings.disk_budget_mb
        free = self.disk_free()
        if self.settings.min_free_mb is not None and free is not None:
            short = max(short, self.settings.min_free_mb - free)
        return short

    def enforce(self, unprocessed: Callable[[], list[Path]]) -> list[str]:
        """Delete until the budget and the free-space floor hold; returns what was deleted
        ('processed: P', 'snippet: P', 'unprocessed: P'), oldest first in each kind."""
        if not self.folders:
            return []
        actions: list[str] = []
        short = self._short_mb()
        if short <= 0:
            return actions

        def remove(path: Path, kind: str) -> bool:
            nonlocal short
            size = path.stat().st_size / 1e6
            path.unlink(missing_ok=True)
            actions.append(f"{kind}: {path}")
            short -= size
            return short <= 0

        for row in self.log.processed():
            path = Path(row.path)
            if row.status == "dropped" or not path.exists() or not self._owned(path):
                continue
            done = remove(path, "processed")
            self.log.mark_deleted(row.key)
            if done:
                return actions
        if self.snippets and self.snippets.exists():
            for snip in sorted(self.snippets.glob("*.wav"), key=lambda p: p.stat().st_mtime_ns):
                if remove(snip, "snippet"):
                    return actions
        for path in unprocessed():  # oldest first: the last resort, recorded as lost effort
            self.drop(path)
            self.on_delete(f"dropped {path}: unprocessed, deleted to keep the disk from filling")
            if remove(path, "unprocessed"):
                break
        return actions


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")

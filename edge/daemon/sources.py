"""Where the daemon's recordings come from: a recorder's output folder, live capture (which
writes into such a folder), or a list of files replayed for testing.

Each gives complete recordings one at a time, in recording-time order (the order
:func:`edge.audio.discover` gives), and says how much complete audio waits (the backlog).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from edge.audio import (
    AUDIO_KINDS,
    discover,
    finalise_wav,
    probe,
    still_written,
    unfinished_name,
    unfinished_path,
)
from edge.daemon.types import PendingFile
from edge.errors import MissingExtraError, PamedgeError
from edge.timestamps import iso_utc

if TYPE_CHECKING:
    import numpy as np

T = TypeVar("T")

ABANDONED_FACTOR = 10  # a WAV whose header still declares more data after this many stable_s is taken as cut short


def _duration(path: Path) -> float:
    try:
        return probe(path, allow_truncated=True).duration_s
    except PamedgeError:
        return 0.0


class FolderSource:
    """A recorder's output folder (searched recursively).  A file is taken once it is
    complete: its size and mtime unchanged for ``stable_s`` and, for WAV, its header's data
    length matching the bytes present (a recorder finalises the header when it closes the
    file; one that held a declared length it never reached, or none, for ``ABANDONED_FACTOR *
    stable_s`` was cut short, e.g. by a power loss, and is taken as it is).

    With ``once``, the source is exhausted when nothing is left but what is done."""

    def __init__(
        self,
        folder: str | Path,
        *,
        stable_s: float,
        poll_s: float,
        once: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.stable_s, self.poll_s, self.once = stable_s, poll_s, once
        self.clock, self.sleep = clock, sleep
        self._seen: dict[Path, tuple[int, int, float]] = {}  # path -> (size, mtime_ns, unchanged since)
        self._done: set[str] = set()
        self._durations: dict[str, float] = {}
        self._waiting = 0  # files seen but not yet complete at the last scan
        self._ready: list[PendingFile] = []

    def _scan(self) -> list[PendingFile]:
        now = self.clock()
        ready, waiting, present = [], 0, set()
        for path in discover([self.folder]):
            present.add(path)
            try:
                st = path.stat()
            except OSError:  # deleted between listing and stat
                continue
            if f"{path.resolve()}:{st.st_size}" in self._done:
                continue
            old = self._seen.get(path)
            if old is None or old[:2] != (st.st_size, st.st_mtime_ns):
                self._seen[path] = (st.st_size, st.st_mtime_ns, now)
                waiting += 1
                continue
            stable_for = now - old[2]
            if (
                st.st_size == 0
                or stable_for < self.stable_s
                or (stable_for < ABANDONED_FACTOR * self.stable_s and still_written(path))
            ):
                waiting += 1
                continue
            ready.append(PendingFile(path, st.st_size, owned=True))
        for gone in set(self._seen) - present:
            del self._seen[gone]
        self._waiting = waiting
        return ready

    def next(self, timeout_s: float) -> PendingFile | None:
        deadline = self.clock() + timeout_s
        while True:
            self._ready = self._scan()
            if self._ready:
                return self._ready.pop(0)
            if self.exhausted or self.clock() >= deadline:
                return None
            self.sleep(min(self.poll_s, max(0.0, deadline - self.clock())))

    @property
    def exhausted(self) -> bool:
        return self.once and not self._ready and self._waiting == 0

    def backlog_s(self) -> float:
        total = 0.0
        for item in self._ready:
            if item.key not in self._durations:
                self._durations[item.key] = _duration(item.path)
            total += self._durations[item.key]
        return total

    def folders(self) -> list[Path]:
        return [self.folder]

    def done(self, item: PendingFile) -> None:
        self._done.add(item.key)
        self._durations.pop(item.key, None)

    def skip(self, keys: set[str]) -> None:
        self._done |= keys

    def close(self) -> None:
        pass


class ReplaySource:
    """Files given on the command line, in recording-time order.  ``realtime`` releases each
    when its audio would have ended had recording begun at start-up (a recorder's pace);
    otherwise all are taken as fast as they are processed, a recorder that never outruns the
    processor (no backlog, so no degradation: the same records every run)."""

    def __init__(
        self,
        paths: list[str | Path],
        *,
        realtime: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.paths = discover(list(paths))
        if not self.paths:
            raise PamedgeError(f"no recordings ({AUDIO_KINDS}) found in {', '.join(map(str, paths))}")
        self.realtime, self.clock, self.sleep = realtime, clock, sleep
        self.durations = [_duration(p) for p in self.paths]
        self.t0 = clock()
        ends, total = [], 0.0
        for d in self.durations:
            total += d
            ends.append(total)
        self.release = ends
        self.index = 0

    def _released(self) -> int:
        if not self.realtime:
            return len(self.paths)
        elapsed = self.clock() - self.t0
        return sum(1 for end in self.release if end <= elapsed)

    def next(self, timeout_s: float) -> PendingFile | None:
        if self.exhausted:
            return None
        if self.realtime and self._released() <= self.index:
            wait = self.t0 + self.release[self.index] - self.clock()
            self.sleep(max(0.0, min(timeout_s, wait)))
            if self._released() <= self.index:
                return None
        path = self.paths[self.index]
        self.index += 1
        return PendingFile(path, path.stat().st_size, owned=False)

    @property
    def exhausted(self) -> bool:
        return self.index >= len(self.paths)

    def backlog_s(self) -> float:
        if not self.realtime:
            return 0.0
        return sum(self.durations[self.index : self._released()])

    def folders(self) -> list[Path]:
        return []

    def done(self, item: PendingFile) -> None:
        pass

    def skip(self, keys: set[str]) -> None:
        pass  # replayed files are offered again and counted as already in the log

    def close(self) -> None:
        pass


def recover_unfinished(folder: str | Path) -> list[str]:
    """Recordings live capture was writing when the buoy lost power or the daemon was killed
    (``.NAME.wav.part``, its header never finalised): each is finalised and renamed
    ``NAME.wav``, so it is analysed, kept and sent like any other; one with no audio is removed.
    Called before capture starts (no file of the folder is then being written); one line
    each, naming the file."""
    notes: list[str] = []
    for part in sorted(Path(folder).glob(".*.wav.part")):
        name = unfinished_name(part)
        if name is None:
            continue
        final = part.with_name(name)
        if final.exists():
            notes.append(f"{part}: unfinished recording not recovered: {final.name} exists")
            continue
        try:
            frames, rate = finalise_wav(part)
            if frames == 0:
                part.unlink()
                notes.append(f"{part}: unfinished recording held no audio: removed")
                continue
            os.replace(part, final)
        except (OSError, PamedgeError) as exc:
            notes.append(f"{part}: unfinished recording not recovered: {getattr(exc, 'strerror', None) or exc}")
            continue
        notes.append(f"{final}: recovered {frames / rate:.1f} s that capture was writing when it stopped")
    return notes


RETRY_WRITE_S = 60.0  # after a failed write, live capture drops blocks this long before a new file
GAP_S = 1.0  # a block this much later (or earlier) than the file's samples reach starts a new file
STALL_S = 10.0  # no block from the device this long: the stream is reopened
BACKLOG_S = 60.0  # audio queued for the card beyond this is dropped (said), not held in memory
STOP_S = 30.0  # a stop waits this long for the writer to put the queued audio on the card
# a clock before this has never been set (a Raspberry Pi has no real-time clock: without network
# time it boots at 1970, or at fake-hwclock's last save); files named by it misdate every record
CLOCK_FLOOR = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


class _Unsaid(Generic[T]):
    """What capture's threads note (PortAudio's, the writer) for the daemon's thread to say, each
    once: appending to a list and reading it are atomic in CPython, so neither side waits."""

    def __init__(self) -> None:
        self._items: list[T] = []
        self._said = 0

    def add(self, item: T) -> None:
        self._items.append(item)

    def take(self) -> list[T]:
        new = self._items[self._said :]
        self._said += len(new)
        return new


LIVE_HINT = "live capture needs sounddevice (and PortAudio): pip install 'pamedge[live]'"


class LiveSource:
    """Live capture from an ALSA device through ``sounddevice`` into ``file_s``-second WAV
    files in ``folder`` (hidden while written, renamed when closed, named by UTC start as
    ``YYYYMMDD_HHMMSS.wav``), read back by a :class:`FolderSource` on the same folder.  A file
    left unfinished by a power loss is recovered first (:func:`recover_unfinished`, each said and
    kept in ``recovered``).

    PortAudio's callback only queues each block with its first sample's UTC time: a writer thread
    puts them on the card, whose writes can stall for longer than a block lasts (an SD card's wear
    levelling), which in the callback would lose samples.  Blocks PortAudio itself lost (an input
    overflow), a failed write, a device that stopped calling back (its stream reopened) and a
    clock never set are said through ``on_event`` from the daemon's thread (:meth:`next`), never
    from PortAudio's."""

    def __init__(
        self,
        folder: str | Path,
        *,
        device: int | str | None,
        sample_rate: int,
        channels: int,
        file_s: float,
        poll_s: float,
        on_event: Callable[[str], None] = lambda _: None,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        try:
            import sounddevice
        except (ImportError, OSError) as exc:  # OSError: the module is there, PortAudio is not
            raise MissingExtraError(f"{LIVE_HINT} ({exc})") from None
        import queue
        import threading

        import soundfile

        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.recovered = recover_unfinished(self.folder)  # what a power loss cut short, before capture writes
        for note in self.recovered:
            on_event(note)
        self.files = FolderSource(self.folder, stable_s=0.0, poll_s=poll_s)
        self._sf, self._rate, self._channels = soundfile, sample_rate, channels
        self._file_frames = max(1, int(file_s * sample_rate))
        self._now, self._on_event = now, on_event
        self._out: Any = None  # the soundfile.SoundFile being written (the writer thread's)
        self._tmp = self._final = self.folder
        self._frames = 0
        # each block with the UTC time of its first sample, taken as PortAudio hands it over
        self._blocks: queue.Queue[tuple[np.ndarray, dt.datetime] | None] = queue.Queue()
        self._overflows = _Unsaid[dt.datetime]()  # blocks PortAudio lost, by their time
        self._dropped = _Unsaid[dt.datetime]()  # blocks the card's backlog had no room for
        self._errors = _Unsaid[str]()  # the writer's failures (a full or read-only card)
        self._failed_at: float | None = None  # monotonic time of the last, while blocks are dropped
        self._expected: dt.datetime | None = None  # the time the file's next sample would have
        self._sd, self._device, self._monotonic = sounddevice, device, monotonic
        self._last_block = self._last_open = monotonic()
        self._clock_said = False
        self._writer = threading.Thread(target=self._write_blocks, name="capture-writer", daemon=True)
        self._writer.start()
        self.stream = self._stream()

    def _stream(self) -> Any:
        stream = self._sd.InputStream(
            device=self._device, samplerate=self._rate, channels=self._channels, dtype="int16", callback=self._callback
        )
        stream.start()
        return stream

    def _callback(
        self, indata: np.ndarray, frames: int, time_info: object, status: Any
    ) -> None:  # PortAudio's thread: nothing here may block
        self._last_block = self._monotonic()
        start = self._now() - dt.timedelta(seconds=frames / self._rate)
        if status and getattr(status, "input_overflow", False):
            self._overflows.add(start)
        if self._blocks.qsize() * frames > BACKLOG_S * self._rate:  # the card cannot keep up
            self._dropped.add(start)
            return
        self._blocks.put((indata.copy(), start))

    def _write_blocks(self) -> None:
        """The writer thread: blocks into files of ``file_s`` until the stream's end (None)."""
        while (item := self._blocks.get()) is not None:
            self._write(*item)
            self._blocks.task_done()
        self._keep_part()
        self._blocks.task_done()

    def _write(self, block: np.ndarray, start: dt.datetime) -> None:
        if self._failed_at is not None:
            if self._monotonic() - self._failed_at < RETRY_WRITE_S:
                return  # dropped: the queue must not grow without bound
            self._failed_at = None  # try a new file (retention may have freed the card)
        if self._out is not None and self._expected is not None and abs(start - self._expected).total_seconds() > GAP_S:
            self._keep_part()  # audio stopped and went on (a stall, an overflow, a reopened device): a new file
        try:
            while len(block):
                if self._out is None:
                    self._open(start)
                take = block[: self._file_frames - self._frames]
                self._out.write(take)
                self._frames += len(take)
                block = block[len(take) :]
                start += dt.timedelta(seconds=len(take) / self._rate)
                self._expected = start
                if self._frames >= self._file_frames:
                    self._rotate()
        except Exception as exc:  # the card's (OSError, libsndfile's RuntimeError) or any: a dead writer
            # would leave the queue growing until the buoy runs out of memory
            self._errors.add(f"{self._tmp}: live capture stopped writing for {RETRY_WRITE_S:.0f} s: {exc}")
            self._failed_at = self._monotonic()
            self._keep_part()

    def settle(self) -> None:
        """Wait until every block captured so far is on the card."""
        self._blocks.join()

    def _keep_part(self) -> None:
        """Close and rename the file under way, keeping what reached the card."""
        try:
            self._rotate()
        except Exception:  # as in _write; its .part stays, and is recovered at the next start
            self._out = None

    def _open(self, start: dt.datetime) -> None:
        name = start.strftime("%Y%m%d_%H%M%S")
        self._final = self.folder / f"{name}.wav"
        for k in range(1, 1000):  # a clock stepped back, or two files within a second: never replace one
            if not self._final.exists():
                break
            self._final = self.folder / f"{name}_{k}.wav"
        self._tmp = unfinished_path(self._final)
        self._out = self._sf.SoundFile(str(self._tmp), "w", self._rate, self._channels, "PCM_16", format="WAV")
        self._frames = 0

    def _rotate(self) -> None:
        if self._out is not None:
            self._out.close()
            os.replace(self._tmp, self._final)
            self._out = None

    def _report(self) -> None:
        if drops := self._dropped.take():
            self._on_event(
                f"live capture: {len(drops)} block(s) dropped from {iso_utc(drops[0])}: the card fell "
                f"{BACKLOG_S:.0f} s behind (its writes are too slow for {self._rate} Hz x {self._channels} channel(s))"
            )
        if times := self._overflows.take():
            self._on_event(
                f"live capture: input overflow: samples lost in {len(times)} block(s) from "
                f"{iso_utc(times[0])} (the CPU could not keep up: later times in that file run early by what was "
                f"lost, under {GAP_S:.0f} s; a longer loss starts a new file)"
            )
        for error in self._errors.take():
            self._on_event(error)

    def _watch(self) -> None:
        """Reopen a stream the device stopped feeding (a USB sound card reset or unplugged: PortAudio
        calls back no more), at most every STALL_S."""
        clock = self._monotonic()
        quiet = clock - self._last_block
        if quiet < STALL_S or clock - self._last_open < STALL_S:
            return
        self._last_open = clock
        name = "the default device" if self._device is None else f"device {self._device!r}"
        try:
            self.stream.close()
        except Exception:  # a dead stream may fail to close; a new one is what matters
            pass
        try:
            self.stream = self._stream()
        except Exception as exc:  # PortAudioError, or the OS's: said, and tried again
            self._on_event(
                f"live capture: no audio from {name} for {quiet:.0f} s, and it does not open: {exc} "
                f"(tried again every {STALL_S:.0f} s)"
            )
            return
        self._on_event(f"live capture: no audio from {name} for {quiet:.0f} s: stream reopened")

    def _check_clock(self) -> None:
        now = self._now()
        if now < CLOCK_FLOOR and not self._clock_said:
            self._clock_said = True
            self._on_event(
                f"live capture: the system clock reads {iso_utc(now)}, before {CLOCK_FLOOR.date()}: it was never "
                f"set (no real-time clock, no network time), and recordings are named and dated by it"
            )
        elif now >= CLOCK_FLOOR:
            self._clock_said = False

    def next(self, timeout_s: float) -> PendingFile | None:
        self._check_clock()
        self._report()
        self._watch()
        return self.files.next(timeout_s)

    @property
    def exhausted(self) -> bool:
        return False

    def backlog_s(self) -> float:
        return self.files.backlog_s()

    def folders(self) -> list[Path]:
        return [self.folder]

    def done(self, item: PendingFile) -> None:
        self.files.done(item)

    def skip(self, keys: set[str]) -> None:
        self.files.skip(keys)

    def close(self) -> None:
        """Stop the stream, then the writer once it has put every queued block on the card (a
        card whose write hangs is left after STOP_S: the file under way stays a .part, recovered
        at the next start, so a stop is never held up by the card)."""
        try:
            self.stream.stop()
            self.stream.close()
        except Exception as exc:  # a device gone (its stream dead): the queued audio is still written
            self._on_event(f"live capture: the stream did not close: {exc}")
        self._blocks.put(None)
        self._writer.join(STOP_S)
        if self._writer.is_alive():
            self._on_event(f"{self._tmp}: live capture's last writes did not finish in {STOP_S:.0f} s: left as it is")
        self._report()

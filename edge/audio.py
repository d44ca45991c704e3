"""Reading recordings in blocks of bounded size, whatever their sample format.

soundfile (libsndfile) decodes 16/24/32-bit integer and float WAV, FLAC and more to
float32 at full scale 1.0.  libsndfile quietly reads a truncated WAV up to where its data
stops; a field team needs to know a file was cut short (a recorder that lost power), so
WAV headers are checked here against the file's real size.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import stat
import struct
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf

from edge.errors import AudioError
from edge.timestamps import parse_start
from edge.types import AudioBlock, AudioInfo
from edge.wavmeta import harp_periods

# what a folder search takes: the containers libsndfile reads that recorders and clip libraries
# use (RF64 and W64 for files past 4 GB; Sun/NeXT AU of older archives and MATLAB; MP3 and Ogg for published clips, lossy: detection holds,
# received levels are approximate).  A file named on its own is read whatever its suffix.
AUDIO_SUFFIXES = (
    ".wav",
    ".wave",
    ".flac",
    ".aif",
    ".aiff",
    ".aifc",
    ".w64",
    ".rf64",
    ".caf",
    ".au",
    ".snd",
    ".mp3",
    ".ogg",
    ".oga",
    ".opus",
)
AUDIO_KINDS = "WAV, FLAC, AIFF, W64, RF64, CAF, AU, MP3 or Ogg"


def _data_chunk(fh: BinaryIO, size: int) -> tuple[int, int, int, int] | None:
    """Where a RIFF/WAVE file open as ``fh`` (``size`` bytes) keeps its audio: ``(offset of the
    data chunk's header, the size it declares, the fmt chunk's block align and sample rate)``,
    the last two 0 when no fmt chunk comes first; None for another file or one with no data chunk."""
    fh.seek(0)
    head = fh.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    offset, block_align, rate = 12, 0, 0
    while offset + 8 <= size:
        fh.seek(offset)
        chunk_id, chunk_size = struct.unpack("<4sI", fh.read(8))
        if chunk_id == b"fmt " and chunk_size >= 16:
            _, _, rate, _, block_align = struct.unpack("<HHIIH", fh.read(14))
        elif chunk_id == b"data":
            return offset, chunk_size, block_align, rate
        offset += 8 + chunk_size + (chunk_size & 1)
    return None


def _data_extent(path: Path) -> tuple[int, int] | None:
    """``(declared, present)`` data bytes of a RIFF/WAVE file's data chunk: what its header
    says and what follows it in the file; None for another file or one with no data chunk."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        data = _data_chunk(fh, size)
    return None if data is None else (data[1], size - data[0] - 8)


def wav_shortfall(path: Path) -> tuple[int, int] | None:
    """``(declared, present)`` data bytes when a RIFF/WAVE file holds less audio than its
    header declares, else None (also for non-WAV files and unfinalised headers)."""
    extent = _data_extent(path)
    if extent is None or extent[0] in (0, 0xFFFFFFFF):  # no WAV, or a header never finalised: length unknown
        return None
    return extent if extent[1] < extent[0] else None


def unfinalised_bytes(path: Path) -> int:
    """The bytes after a WAV's data chunk whose header declares none, as its writer leaves it
    until it closes the file (0 for any other file)."""
    extent = _data_extent(path)
    return extent[1] if extent is not None and extent[0] == 0 else 0


def still_written(path: Path) -> bool:
    """A WAV whose header says its writer has not closed it: a data length it has not reached,
    or none at all (sizes 0, as libsndfile and many recorders leave them until they close)."""
    extent = _data_extent(path)
    if extent is None:
        return False
    declared, present = extent
    return (declared == 0 and present > 0) or (declared != 0xFFFFFFFF and present < declared)


def _whole_frames(fh: BinaryIO, path: Path) -> tuple[int, int, int, int]:
    """A WAV's data as a finalised header would give it: ``(offset of the data chunk's header,
    its whole frames' bytes present, block align, sample rate)``, a last partial frame cut off;
    :class:`AudioError` when the file is no WAV with a fmt chunk before its data."""
    data = _data_chunk(fh, os.fstat(fh.fileno()).st_size)
    if data is None or not data[2]:
        raise AudioError(f"{path}: not a WAV file with a fmt chunk before its data (RIFF/WAVE)")
    offset, _, block_align, rate = data
    present = os.fstat(fh.fileno()).st_size - offset - 8
    return offset, present - present % block_align, block_align, rate


class _FinalisedView(io.RawIOBase):
    """A WAV whose header was never finalised (sizes 0), read as :func:`finalise_wav` would
    leave it (the sizes from the bytes present, a last partial frame cut off) without writing
    to it: a recovered card's file is evidence, and may be read-only."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._fh = open(path, "rb")  # closed with the view
        try:
            offset, whole, _, _ = _whole_frames(self._fh, path)
        except AudioError:
            self._fh.close()
            raise
        self._size = offset + 8 + whole
        self._patches = ((4, struct.pack("<I", offset + whole)), (offset + 4, struct.pack("<I", whole)))
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        view = memoryview(buffer).cast("B")
        want = max(0, min(len(view), self._size - self._pos))
        self._fh.seek(self._pos)
        got = self._fh.readinto(view[:want]) or 0
        for at, patch in self._patches:  # the header's sizes, where this read covers them
            lo, hi = max(at, self._pos), min(at + len(patch), self._pos + got)
            if lo < hi:
                view[lo - self._pos : hi - self._pos] = patch[lo - at : hi - at]
        self._pos += got
        return got

    def close(self) -> None:
        self._fh.close()
        super().close()


def open_sound(path: str | Path, *, unfinalised: bool | None = None) -> sf.SoundFile:
    """``path`` open for reading; a WAV whose header was never finalised (its recorder stopped
    before closing it) as its bytes present say (:class:`_FinalisedView`).  ``unfinalised``: what
    its probe found (:attr:`AudioInfo.unfinalised`); None: its header is read to tell."""
    path = Path(path)
    if unfinalised if unfinalised is not None else unfinalised_bytes(path) > 0:
        return sf.SoundFile(_FinalisedView(path))
    return sf.SoundFile(str(path))


def finalise_wav(path: Path) -> tuple[int, int]:
    """Write the sizes a WAV writer leaves at zero until it closes the file (libsndfile's
    header while a recording is under way) from the bytes present, a last partial frame cut
    off, so any reader (Raven, Audacity) takes the audio a power loss left: ``(frames,
    sample_rate)``.  The data chunk must be the file's last, as it is while one is written;
    :class:`AudioError` when the file is no such WAV."""
    with open(path, "r+b") as fh:
        offset, whole, block_align, rate = _whole_frames(fh, path)
        fh.truncate(offset + 8 + whole)
        fh.seek(offset + 4)
        fh.write(struct.pack("<I", whole))
        fh.seek(4)
        fh.write(struct.pack("<I", offset + whole))  # the RIFF size: all after its own 8 bytes
    return whole // block_align, rate


def probe(path: str | Path, *, allow_truncated: bool = False, timezone: dt.tzinfo | None = None) -> AudioInfo:
    """Header facts and start time of a recording, or :class:`AudioError` saying why not;
    ``timezone`` is the recorder's clock for times written in local time
    (:func:`edge.timestamps.parse_start`: the file's metadata, then its name)."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise AudioError(f"{path}: cannot open: {exc.strerror}") from None
    if size == 0:
        raise AudioError(f"{path}: empty file (0 bytes)")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioError(f"{path}: not a readable audio file ({_reason(exc)})") from None
    shortfall = wav_shortfall(path)
    if shortfall and not allow_truncated:
        declared, present = shortfall
        raise AudioError(
            f"{path}: truncated WAV: header declares {declared} bytes of audio, the file holds "
            f"{present}: cut short, e.g. by a power loss (edge-detect --allow-truncated processes the part present)"
        )
    frames, rate, channels, subtype = int(info.frames), int(info.samplerate), int(info.channels), str(info.subtype)
    if frames <= 0:
        unfinished = unfinalised_bytes(path)
        if unfinished and not allow_truncated:
            raise AudioError(
                f"{path}: no audio samples by its header, which was never finalised (sizes 0), though "
                f"{unfinished} bytes of audio follow it: its recorder stopped before closing the file "
                f"(edge-detect --allow-truncated processes the part present)"
            )
        if unfinished:  # read as its bytes present say; declared none, said per file (edge.pipeline)
            with open_sound(path, unfinalised=True) as fh:
                frames = int(fh.frames)
            shortfall = (0, unfinished)
        if frames <= 0:
            raise AudioError(f"{path}: no audio samples")
    start, serial, source = parse_start(path, timezone=timezone, metadata=True)
    periods = harp_periods(path) if source == "xwav" else ()  # a duty-cycled HARP's gaps
    return AudioInfo(
        str(path),
        rate,
        channels,
        frames,
        subtype,
        start,
        serial,
        source,
        shortfall,
        periods if len(periods) > 1 else (),
    )


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    return text.split(": ", 1)[-1] if text.startswith("Error opening") else text


def head_blocks(info: AudioInfo, frames: int, block_frames: int) -> Iterator[np.ndarray]:
    """Every channel's first ``frames`` samples (fewer in a shorter recording) as blocks
    ``(n, channels)`` float32 on edge's full scale of at most ``block_frames``, so a caller can stop
    at the first that tells it what it needs and a recording of many channels at a high rate is
    not held whole.  A lossy one comes in one read: libsndfile decodes an MP3's start right in one
    read, not always in parts (why :func:`_reader` decodes it whole), and it is not decoded whole
    for its head."""
    if info.subtype in LOSSY:
        block_frames = frames
    try:
        with open_sound(info.path, unfinalised=info.unfinalised) as fh:
            dtype, scale = _read_as(info.subtype)
            left = frames
            while left > 0:
                data = fh.read(min(block_frames, left), dtype=dtype, always_2d=True)
                if not len(data):
                    return
                left -= len(data)
                yield np.multiply(data, scale, dtype=np.float32)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioError(f"{info.path}: read failed at its start ({_reason(exc)})") from None


def read_head(info: AudioInfo, frames: int) -> np.ndarray:
    """:func:`head_blocks` in one block: every channel's first ``frames`` samples ``(n, channels)``."""
    blocks = list(head_blocks(info, frames, frames))
    return blocks[0] if blocks else np.zeros((0, info.channels), np.float32)


class Recording:
    """One channel of a recording as an :class:`~edge.types.AudioSource`.

    ``start`` begins reading at that sample; blocks still end on multiples of
    ``block_frames`` counted from the file's first sample (the first block is shorter), so
    a reading begun part-way cuts the stream where a whole-file reading does.  ``observe`` sees
    each block as read (edge.quality counts clipping on the recording's own samples)."""

    def __init__(
        self,
        info: AudioInfo,
        *,
        channel: int = 0,
        block_frames: int = 1 << 20,
        start: int = 0,
        observe: Callable[[AudioBlock], None] | None = None,
    ) -> None:
        if not 0 <= channel < info.channels:
            raise AudioError(f"{info.path}: channel {channel} requested, the file has {info.channels}")
        if block_frames < 1:
            raise ValueError(f"{block_frames=} must be >= 1")
        self.info = info
        self.channel = channel
        self.block_frames = int(block_frames)
        if not 0 <= start <= info.frames:
            raise ValueError(f"{start=} is outside the recording's {info.frames} samples")
        self.start = int(start)
        self.observe = observe

    def head(self, frames: int) -> np.ndarray:
        """The channel's first ``frames`` samples (fewer in a shorter recording) in one read from
        the start, for measuring a recording before it streams (:func:`read_head`)."""
        return read_head(self.info, frames)[:, self.channel]

    def blocks(self) -> Iterator[AudioBlock]:
        start = self.start
        try:
            with open_sound(self.info.path, unfinalised=self.info.unfinalised) as fh:
                dtype, scale = _read_as(self.info.subtype)
                read = _reader(fh, dtype, self.info, start)
                while True:
                    data = read(self.block_frames - start % self.block_frames)
                    if len(data) == 0:
                        break
                    block = AudioBlock(np.multiply(data[:, self.channel], scale, dtype=np.float32), start)
                    if self.observe is not None:
                        self.observe(block)
                    yield block
                    start += len(block.samples)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise AudioError(f"{self.info.path}: read failed after {start} samples ({_reason(exc)})") from None
        if start < self.info.frames and self.info.subtype not in MPEG:  # an MP3's count is an estimate
            raise AudioError(f"{self.info.path}: only {start} of {self.info.frames} samples could be read")


MPEG = ("MPEG_LAYER_I", "MPEG_LAYER_II", "MPEG_LAYER_III")
LOSSY = (*MPEG, "VORBIS", "OPUS")  # libsndfile subtypes of lossy encodings
WHOLE_DECODE_SAMPLES = 1 << 24  # 64 MB of float32: an MP3 up to this size is decoded in one read


def _reader(fh: sf.SoundFile, dtype: str, info: AudioInfo, start: int) -> Callable[[int], np.ndarray]:
    """``read(frames)`` from sample ``start`` on, ``(n, channels)``.  libsndfile 1.2's MPEG
    decoder gives runs of zeros for some streams read in parts or after a seek (a pure tone:
    tests/edge/test_audio.py) and decodes them right in one read from the start, so an MP3 clip is
    decoded whole and handed out in blocks."""
    if info.subtype not in MPEG or info.frames * info.channels > WHOLE_DECODE_SAMPLES:
        if start:
            fh.seek(start)
        return lambda frames: fh.read(frames, dtype=dtype, always_2d=True)
    decoded: np.ndarray = fh.read(dtype=dtype, always_2d=True)
    at = start

    def read(frames: int) -> np.ndarray:
        nonlocal at
        at += frames
        return decoded[at - frames : at]

    return read


def _read_as(subtype: str) -> tuple[str, np.float32]:
    """Read dtype and the factor to full scale 1.0.  Integer files are read as integers and
    scaled here: the same values libsndfile's float conversion gives, six times faster."""
    if subtype in ("PCM_16", "PCM_S8", "PCM_U8"):  # libsndfile left-aligns 8-bit into int16
        return "int16", np.float32(2.0**-15)
    if subtype in ("PCM_24", "PCM_32"):  # and 24-bit into int32
        return "int32", np.float32(2.0**-31)
    return "float32", np.float32(1.0)


def unfinished_path(final: Path) -> Path:
    """Where live capture writes the recording ``final`` until it closes it: hidden, ``.NAME.wav.part``."""
    return final.with_name(f".{final.name}.part")


def unfinished_name(path: Path) -> str | None:
    """The recording a live-capture file left unfinished would have become (the inverse of
    :func:`unfinished_path`), or None for another file."""
    name = path.name
    if name.startswith(".") and name.endswith(".wav.part") and len(name) > len("..wav.part"):
        return name[1 : -len(".part")]
    return None


def is_audio(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_SUFFIXES and not path.name.startswith(".")


def discover(inputs: Sequence[str | Path], skipped: list[str] | None = None) -> list[Path]:
    """Audio files named by ``inputs`` (files, or folders searched recursively, symbolic links
    to folders followed once).

    Each folder's files come in recording-time order (names without a time last, by path);
    inputs keep the order given and a file named twice is taken once, also when reached
    through a symbolic link (its real path decides), so no recording is processed twice.
    What the search could not take (an unreadable folder, a link loop, a dangling link, a
    FIFO or device with an audio name) is appended to ``skipped``, one line each naming it.
    """
    notes = skipped if skipped is not None else []
    seen: set[Path] = set()
    out: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found = _search(item, notes)
            found.sort(key=_time_key)
        elif item.exists():
            found = [item]
        else:
            raise AudioError(f"{item}: no such file or folder")
        for path in found:
            key = Path(os.path.realpath(path))
            if key not in seen:
                seen.add(key)
                out.append(path)
    return out


def _search(root: Path, notes: list[str]) -> list[Path]:
    """Audio files under ``root``, hidden files and folders left out; what cannot be taken is
    said in ``notes``."""
    found: list[Path] = []
    visited: set[str] = set()

    def unreadable(exc: OSError) -> None:
        notes.append(f"{exc.filename}: folder not searched: {(exc.strerror or str(exc)).lower()}")

    for folder, subfolders, names in os.walk(root, onerror=unreadable, followlinks=True):
        real = os.path.realpath(folder)
        if real in visited:  # a link back to a folder already searched (a loop, or a second way in)
            notes.append(f"{folder}: folder not searched again: a symbolic link to {real}, searched already")
            subfolders[:] = []
            continue
        visited.add(real)
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        for name in names:
            path = Path(folder, name)
            if not is_audio(path):
                if (final := unfinished_name(path)) is not None:
                    notes.append(
                        f"{path}: skipped: a recording edge-run's capture was writing when it stopped; "
                        f"edge-run recovers it at its next start, or rename it {final} (read to where it stops)"
                    )
                continue
            try:
                mode = os.stat(path).st_mode
            except FileNotFoundError:
                notes.append(f"{path}: skipped: a dangling symbolic link")
                continue
            except OSError as exc:
                notes.append(f"{path}: skipped: {(exc.strerror or str(exc)).lower()}")
                continue
            if not stat.S_ISREG(mode):
                notes.append(f"{path}: skipped: not a regular file ({_kind(mode)})")
                continue
            found.append(path)
    return found


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device")):
        if test(mode):
            return name
    return "a block device" if stat.S_ISBLK(mode) else "a folder"


def _time_key(path: Path) -> tuple[object, ...]:
    start, _, _ = parse_start(path)
    return (start is None, start.timestamp() if start else 0.0, str(path))

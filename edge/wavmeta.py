"""Recorder metadata inside WAV files: the start time and serial recorders write there.

* AudioMoth: the ``ICMT`` comment of the ``LIST``/``INFO`` chunk, ``Recorded at 12:00:00
  01/05/2024 (UTC+2) by AudioMoth 24E144085F256D8B ...``: local time with its offset;
* GUANO (Song Meter, Pettersson, Titley and others): a ``guan`` chunk of ``Key: value``
  lines; ``Timestamp`` is ISO 8601, with an offset or (per the GUANO spec) local time without
  one; ``Serial`` the recorder's serial;
* Broadcast WAV ``bext``: ``OriginationDate`` and ``OriginationTime``, local time, no zone;
* XWAV (HARP recorders, Scripps' Triton, the NCEI archive, also as FLAC keeping the WAV's
  chunks): a ``harp`` chunk naming the instrument, site and position, and a directory of the
  raw files the data chunk holds end to end, each with its UTC start to the millisecond and its
  length.  A duty-cycled HARP (e.g. 5 minutes in every 15) leaves gaps between raw files that
  the audio does not show: :func:`harp_periods` gives where each recording period starts in the
  file and when.

Only the RIFF chunk headers are walked (the audio is skipped), and a metadata chunk is read
only up to 64 kB, so a malformed or huge file costs a few reads.
"""

from __future__ import annotations

import datetime as dt
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from edge.timestamps import CONTIGUOUS_S  # raw files this close to end to end are one period

UTC = dt.timezone.utc
MAX_CHUNK = 1 << 16
MAX_CHUNKS = 64
_AUDIOMOTH = re.compile(
    r"Recorded at (\d{2}):(\d{2}):(\d{2}) (\d{2})/(\d{2})/(\d{4}) \(UTC(?:([+-])(\d{1,2})(?::(\d{2}))?)?\)"
    r"(?: by AudioMoth ([0-9A-Fa-f]+))?"
)


# the harp chunk: version, firmware, instrument, site, experiment, disk number and serial, raw
# files, longitude and latitude (signed, 1e-5 degrees: east and north positive), depth (m, signed,
# down positive), 8 reserved bytes: the layout Triton's XWAV reader gives
HARP_HEAD = struct.Struct("<B10s4s4s8sB8sHiih8x")
# a raw file: year - 2000, month, day, hour, minute, second, ms; byte location, byte length,
# write length, sample rate, gain, 7 reserved bytes
HARP_RAW = struct.Struct("<6BHIIIIB7x")


@dataclass(frozen=True)
class RecorderTime:
    """A start time from the file's metadata: aware (UTC) when the recorder said its zone,
    naive (the recorder's local clock) when it did not."""

    start: dt.datetime
    serial: str | None
    source: str  # "audiomoth", "guano", "bext" or "xwav"


@dataclass(frozen=True)
class HarpRawFile:
    """One raw file of an XWAV's directory: its first sample's UTC time and its audio bytes."""

    start: dt.datetime
    byte_length: int
    sample_rate: int


@dataclass(frozen=True)
class Harp:
    """An XWAV's ``harp`` chunk."""

    instrument: str
    site: str
    experiment: str
    latitude: float
    longitude: float
    depth_m: int
    raw_files: tuple[HarpRawFile, ...]


def harp(data: bytes) -> Harp | None:
    """An XWAV's ``harp`` chunk, or None when it is not one (too short, a raw file's time no date)."""
    if len(data) < HARP_HEAD.size:
        return None
    _, _, instrument, site, experiment, _, _, n, lon, lat, depth = HARP_HEAD.unpack_from(data)
    if n < 1 or len(data) < HARP_HEAD.size + n * HARP_RAW.size:
        return None
    raw = []
    for i in range(n):
        y, mo, d, h, mi, sec, ms, _, length, _, rate, _ = HARP_RAW.unpack_from(data, HARP_HEAD.size + i * HARP_RAW.size)
        try:
            start = dt.datetime(2000 + y, mo, d, h, mi, sec, ms * 1000, tzinfo=UTC)
        except ValueError:
            return None
        raw.append(HarpRawFile(start, length, rate))
    return Harp(_text(instrument), _text(site), _text(experiment), lat / 1e5, lon / 1e5, depth, tuple(raw))


def harp_periods(path: str | Path) -> tuple[tuple[float, dt.datetime], ...]:
    """Where each recording period of an XWAV starts, ``(seconds into the file, UTC)``: its
    first raw file, and each one that does not follow the one before end to end (within
    :data:`CONTIGUOUS_S`); empty for a file with no harp chunk."""
    found = chunks(path, (b"harp", b"fmt "))
    header = harp(found[b"harp"]) if b"harp" in found else None
    fmt = found.get(b"fmt ", b"")
    if header is None or len(fmt) < 14:
        return ()
    block_align = struct.unpack_from("<H", fmt, 12)[0] or 1
    periods = [(0.0, header.raw_files[0].start)]
    at = 0.0
    for prev, raw in zip(header.raw_files, header.raw_files[1:]):
        length_s = prev.byte_length / block_align / (prev.sample_rate or 1)
        at += length_s
        if abs((raw.start - prev.start).total_seconds() - length_s) > CONTIGUOUS_S:
            periods.append((at, raw.start))
    return tuple(periods)


def chunks(path: str | Path, wanted: tuple[bytes, ...] = (b"LIST", b"guan", b"bext", b"harp")) -> dict[bytes, bytes]:
    """The ``wanted`` chunks of a RIFF/WAVE file, or of the WAV a FLAC file was encoded from
    (:func:`_flac_chunks`); the first of each id, empty when the file is neither or cannot be read."""
    out: dict[bytes, bytes] = {}
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
            if head[:4] == b"fLaC":
                return _flac_chunks(fh, wanted)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return out
            for _ in range(MAX_CHUNKS):
                header = fh.read(8)
                if len(header) < 8:
                    break
                cid, size = header[:4], struct.unpack("<I", header[4:])[0]
                if cid in wanted and cid not in out:
                    out[cid] = fh.read(min(size, MAX_CHUNK))
                    fh.seek(size - len(out[cid]) + (size & 1), 1)
                else:
                    fh.seek(size + (size & 1), 1)
    except OSError:
        return {}
    return out


def _flac_chunks(fh: BinaryIO, wanted: tuple[bytes, ...]) -> dict[bytes, bytes]:
    """The ``wanted`` chunks of the WAV a FLAC file was encoded from, as ``flac
    --keep-foreign-metadata`` keeps them: an APPLICATION metadata block ``riff`` per chunk
    (how NCEI archives HARP XWAVs, their ``harp`` chunk among them)."""
    out: dict[bytes, bytes] = {}
    fh.seek(4)
    for _ in range(MAX_CHUNKS):
        header = fh.read(4)
        if len(header) < 4:
            break
        kind, length = header[0] & 0x7F, int.from_bytes(header[1:4], "big")
        if kind == 2 and length >= 12:  # APPLICATION
            head = fh.read(12)
            if len(head) < 12:  # cut short
                break
            cid, size = head[4:8], struct.unpack("<I", head[8:12])[0]
            if head[:4] == b"riff" and cid in wanted and cid not in out:
                out[cid] = fh.read(min(size, length - 12, MAX_CHUNK))
                fh.seek(length - 12 - len(out[cid]), 1)
            else:
                fh.seek(length - 12, 1)
        else:
            fh.seek(length, 1)
        if header[0] & 0x80:  # the last metadata block
            break
    return out


def _text(data: bytes) -> str:
    return data.split(b"\x00", 1)[0].decode("utf-8", errors="replace")


def info_comment(list_chunk: bytes) -> str | None:
    """The ``ICMT`` sub-chunk of a ``LIST``/``INFO`` chunk."""
    if list_chunk[:4] != b"INFO":
        return None
    i = 4
    while i + 8 <= len(list_chunk):
        sid, size = list_chunk[i : i + 4], struct.unpack("<I", list_chunk[i + 4 : i + 8])[0]
        if sid == b"ICMT":
            return _text(list_chunk[i + 8 : i + 8 + size])
        i += 8 + size + (size & 1)
    return None


def audiomoth_time(comment: str) -> RecorderTime | None:
    match = _AUDIOMOTH.search(comment)
    if match is None:
        return None
    hh, mm, ss, day, month, year, sign, oh, om, serial = match.groups()
    try:
        local = dt.datetime(int(year), int(month), int(day), int(hh), int(mm), int(ss))
    except ValueError:
        return None
    offset = dt.timedelta(hours=int(oh or 0), minutes=int(om or 0)) * (-1 if sign == "-" else 1)
    return RecorderTime((local - offset).replace(tzinfo=UTC), serial, "audiomoth")


def guano_time(text: str) -> RecorderTime | None:
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    stamp = fields.get("Timestamp")
    if not stamp:
        return None
    try:
        t = dt.datetime.fromisoformat(stamp[:-1] + "+00:00" if stamp.endswith("Z") else stamp)
    except ValueError:
        return None
    return RecorderTime(t.astimezone(UTC) if t.tzinfo else t, fields.get("Serial") or None, "guano")


def bext_time(data: bytes) -> RecorderTime | None:
    # Description 256, Originator 32, OriginatorReference 32, OriginationDate 10, OriginationTime 8
    if len(data) < 338:
        return None
    date, time = data[320:330].decode("ascii", "replace"), data[330:338].decode("ascii", "replace")
    try:
        t = dt.datetime.strptime(
            f"{date.replace(':', '-').replace('/', '-')} {time.replace('-', ':')}", "%Y-%m-%d %H:%M:%S"
        )
    except ValueError:
        return None
    return RecorderTime(t, None, "bext")


def recorder_time(path: str | Path) -> RecorderTime | None:
    """The start a WAV file's metadata gives: an XWAV's first raw file (HARP clocks keep UTC),
    else AudioMoth comment, else GUANO, else bext."""
    found = chunks(path)
    comment = info_comment(found[b"LIST"]) if b"LIST" in found else None
    header = harp(found[b"harp"]) if b"harp" in found else None
    for parsed in (
        RecorderTime(header.raw_files[0].start, None, "xwav") if header else None,  # its instrument is no hydrophone
        audiomoth_time(comment) if comment else None,
        guano_time(_text(found[b"guan"])) if b"guan" in found else None,
        bext_time(found[b"bext"]) if b"bext" in found else None,
    ):
        if parsed is not None:
            return parsed
    return None

"""Recorder metadata inside WAV files: the start time and serial recorders write there.

* AudioMoth: the ``ICMT`` comment of the ``LIST``/``INFO`` chunk, ``Recorded at 12:00:00
  01/05/2024 (UTC+2) by AudioMoth 24E144085F256D8B ...``: local time with its offset;
* GUANO (Song Meter, Pettersson, Titley and others): a ``guan`` chunk of ``Key: value``
  lines; ``Timestamp`` is ISO 8601, with an offset or (per the GUANO spec) local time without
  one; ``Serial`` the recorder's serial;
* Broadcast WAV ``bext``: ``OriginationDate`` and ``OriginationTime``, local time, no zone.

Only the RIFF chunk headers are walked (the audio is skipped), and a metadata chunk is read
only up to 64 kB, so a malformed or huge file costs a few reads.
"""

from __future__ import annotations

import datetime as dt
import re
import struct
from dataclasses import dataclass
from pathlib import Path

UTC = dt.timezone.utc
MAX_CHUNK = 1 << 16
MAX_CHUNKS = 64
_AUDIOMOTH = re.compile(
    r"Recorded at (\d{2}):(\d{2}):(\d{2}) (\d{2})/(\d{2})/(\d{4}) \(UTC(?:([+-])(\d{1,2})(?::(\d{2}))?)?\)"
    r"(?: by AudioMoth ([0-9A-Fa-f]+))?"
)


@dataclass(frozen=True)
class RecorderTime:
    """A start time from the file's metadata: aware (UTC) when the recorder said its zone,
    naive (the recorder's local clock) when it did not."""

    start: dt.datetime
    serial: str | None
    source: str  # "audiomoth", "guano" or "bext"


def chunks(path: str | Path, wanted: tuple[bytes, ...] = (b"LIST", b"guan", b"bext")) -> dict[bytes, bytes]:
    """The ``wanted`` chunks of a RIFF/WAVE file (the first of each id; empty when the file
    is not RIFF/WAVE or cannot be read)."""
    out: dict[bytes, bytes] = {}
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
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
    """The start a WAV file's metadata gives: AudioMoth comment, else GUANO, else bext."""
    found = chunks(path)
    comment = info_comment(found[b"LIST"]) if b"LIST" in found else None
    for parsed in (
        audiomoth_time(comment) if comment else None,
        guano_time(_text(found[b"guan"])) if b"guan" in found else None,
        bext_time(found[b"bext"]) if b"bext" in found else None,
    ):
        if parsed is not None:
            return parsed
    return None

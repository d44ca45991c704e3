"""Recording start time (UTC) and hydrophone serial from file names and recorder logs.

Recognised names (first match wins):

* SoundTrap ``<serial>.<yymmddHHMMSS>.wav`` (``6872.220716021453.wav``); the time in the
  name is the recorder's clock, which may be local, so ``<serial>.<yymmddHHMMSS>.log.xml``
  beside it, when present, gives the UTC start (``SamplingStartTimeUTC``, plus
  ``SamplingStartTimeSubS`` microseconds);
* ``YYYYMMDDTHHMMSS[.fff]Z`` (ISO 8601 basic);
* ``YYYYMMDD_HHMMSS`` anywhere in the name: AudioMoth ``20240501_120000.WAV`` (UTC by
  default), DCLDE ``NOPP6_EST_20090328_000000.wav``;
* ``YYYY-MM-DD_HH-MM-SS`` (``GSC_2000-05-19_00-30-00.wav``).

* Song Meter ``<prefix>_YYYYMMDD_HHMMSS`` (``SMM07257_20240501_120000.wav``, prefixes S4A, SMM,
  SMU, SMA, SM3, SM4): the recorder's local time by default.

Inside WAV files (:mod:`edge.wavmeta`), first: an AudioMoth comment or a GUANO timestamp with
its offset gives UTC exactly; a GUANO timestamp without one and a Broadcast WAV ``bext`` time
are the recorder's local clock.  A local time becomes UTC through the deployment's
``timezone``; without one it is taken as UTC, and the source says so (``... assumed UTC``:
edge-detect warns).  Other names are taken to be UTC (AudioMoth's default) except the
SoundTrap case above.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from pathlib import Path

UTC = dt.timezone.utc

_SOUNDTRAP = re.compile(r"^(?P<serial>\d+)\.(?P<ts>\d{12})$")
_ISO_BASIC = re.compile(r"(?<!\d)(\d{8})T(\d{6})(?:\.(\d{1,6}))?Z(?![A-Za-z0-9])")
_DATE_TIME = re.compile(r"(?<!\d)(\d{8})[_-](\d{6})(?!\d)")
_DASHED = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})[_T ](\d{2})-(\d{2})-(\d{2})(?!\d)")
_SONG_METER = re.compile(r"^(?:S4A|SMM|SMU|SMA|SM3|SM4)[A-Za-z0-9-]*_(\d{8})_(\d{6})(?!\d)")
_OFFSET = re.compile(r"^(?:UTC)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$")
ASSUMED_UTC = "assumed UTC"  # in a time source: a local time taken as UTC for want of a timezone


def zone(text: str) -> dt.tzinfo:
    """A deployment's ``timezone``: ``UTC``, an offset (``UTC+2``, ``-03:30``) or an IANA name
    (``Europe/Berlin``, daylight saving included); ValueError naming what is wrong."""
    text = text.strip()
    if text.upper() in ("UTC", "Z", "GMT"):
        return UTC
    match = _OFFSET.match(text)
    if match:
        sign, hours, minutes = match.groups()
        delta = dt.timedelta(hours=int(hours), minutes=int(minutes or 0))
        if delta > dt.timedelta(hours=14):
            raise ValueError(f"timezone {text!r}: offsets reach +-14 h")
        return dt.timezone(-delta if sign == "-" else delta)
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(text)
    except (ValueError, OSError, ImportError, KeyError) as exc:  # ZoneInfoNotFoundError is a KeyError
        raise ValueError(f"timezone {text!r}: not UTC, an offset like UTC+2, or a known IANA zone ({exc})") from None


def _local(moment: dt.datetime, timezone: dt.tzinfo | None, source: str) -> tuple[dt.datetime, str]:
    """A local (naive) time as UTC through ``timezone``, else taken as UTC and said so."""
    if timezone is None:
        return moment.replace(tzinfo=UTC), f"{source} (local time, {ASSUMED_UTC}: no timezone)"
    return moment.replace(tzinfo=timezone).astimezone(UTC), f"{source}+timezone"


def _make(text: str, fmt: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(text, fmt).replace(tzinfo=UTC)
    except ValueError:
        return None


def soundtrap_log_start(log_path: Path) -> dt.datetime | None:
    """UTC sampling start from a SoundTrap ``.log.xml``, or None when absent or unreadable."""
    try:
        root = ET.parse(log_path).getroot()
    except (OSError, ET.ParseError):
        return None
    for element in root.iter("WavFileHandler"):
        start = _make(element.get("SamplingStartTimeUTC", ""), "%Y-%m-%dT%H:%M:%S")
        if start is not None:  # the fraction comes from the same element as the seconds
            match = re.match(r"\s*(\d+)\s*us", element.get("SamplingStartTimeSubS", ""))
            return start + dt.timedelta(microseconds=int(match.group(1)) if match else 0)
    return None


def parse_start(
    path: str | Path, *, timezone: dt.tzinfo | None = None, metadata: bool = False
) -> tuple[dt.datetime | None, str | None, str | None]:
    """``(start_utc, serial, source)`` for a recording; source is ``"audiomoth"``,
    ``"guano"``, ``"bext"`` (with ``metadata``: read from the WAV file), ``"soundtrap-log"``,
    ``"filename"``, each with ``+timezone`` when a local time was converted or a note when it
    was assumed UTC, or None when nothing gives the time.  ``timezone`` is the recorder's
    clock for sources that write local time."""
    path = Path(path)
    parts = path.name.split(".")
    stem = ".".join(parts[:-1]) if len(parts) > 1 else path.name
    if metadata and path.suffix.lower() in (".wav", ".flac"):  # a FLAC keeps its WAV's chunks (XWAVs)
        from edge.wavmeta import recorder_time

        found = recorder_time(path)
        if found is not None:
            if found.start.tzinfo is not None:
                return found.start, found.serial, found.source
            utc, source = _local(found.start, timezone, found.source)
            return utc, found.serial, source
    match = _SONG_METER.match(stem)
    if match and (local := _make(match.group(1) + match.group(2), "%Y%m%d%H%M%S")):
        utc, source = _local(local.replace(tzinfo=None), timezone, "filename (Song Meter)")
        return utc, None, source
    match = _SOUNDTRAP.match(stem)
    if match:
        serial = match.group("serial")
        logged = soundtrap_log_start(path.with_name(f"{stem}.log.xml"))
        if logged is not None:
            return logged, serial, "soundtrap-log"
        return _make(match.group("ts"), "%y%m%d%H%M%S"), serial, "filename"
    match = _ISO_BASIC.search(stem)
    if match:
        start = _make(match.group(1) + match.group(2), "%Y%m%d%H%M%S")
        if start is not None and match.group(3):
            start += dt.timedelta(microseconds=int(match.group(3).ljust(6, "0")))
        if start is not None:
            return start, None, "filename"
    match = _DATE_TIME.search(stem)
    if match and (start := _make(match.group(1) + match.group(2), "%Y%m%d%H%M%S")):
        return start, None, "filename"
    match = _DASHED.search(stem)
    if match and (start := _make("".join(match.groups()), "%Y%m%d%H%M%S")):
        return start, None, "filename"
    return None, None, None


# recordings this close end-to-start are one stretch: the noise floor carries from one to the
# next (edge-detect, edge-run) and effort is unbroken (the run report, Tethys documents)
CONTIGUOUS_S = 1.0


def stretches(
    start_utc: dt.datetime, duration_s: float, periods: tuple[tuple[float, dt.datetime], ...] = ()
) -> list[tuple[float, dt.datetime, dt.datetime]]:
    """A recording's stretches of time, ``(seconds into the file, UTC start, UTC end)``: one, or
    a duty-cycled recording's each period (``periods``: seconds into the file and UTC start of
    each, :attr:`edge.types.AudioInfo.periods`)."""
    spans = periods or ((0.0, start_utc),)
    ends = [begins for begins, _ in spans[1:]] + [duration_s]
    return [(b, t, t + dt.timedelta(seconds=end - b)) for (b, t), end in zip(spans, ends)]


def parse_utc(text: str | None) -> dt.datetime | None:
    """An ISO 8601 time (``Z`` or offset; none: UTC) as an aware UTC datetime; None when empty."""
    if not text:
        return None
    value = dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


def iso_utc(moment: dt.datetime | None, offset_s: float = 0.0) -> str:
    """ISO 8601 in UTC with ``Z``, to the millisecond (fraction omitted when zero), or ""
    when ``moment`` is None."""
    if moment is None:
        return ""
    t = (moment + dt.timedelta(milliseconds=round(offset_s * 1000))).astimezone(UTC)
    t = t.replace(microsecond=0) + dt.timedelta(milliseconds=round(t.microsecond / 1000))  # .9996 s carries
    text = t.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{t.microsecond // 1000:03d}Z" if t.microsecond else f"{text}Z"

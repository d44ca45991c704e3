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

Names are taken to be UTC except the SoundTrap case above.
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


def parse_start(path: str | Path) -> tuple[dt.datetime | None, str | None, str | None]:
    """``(start_utc, serial, source)`` for a recording; source is ``"soundtrap-log"``,
    ``"filename"`` or None when nothing in the name gives the time."""
    path = Path(path)
    parts = path.name.split(".")
    stem = ".".join(parts[:-1]) if len(parts) > 1 else path.name
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


def iso_utc(moment: dt.datetime | None, offset_s: float = 0.0) -> str:
    """ISO 8601 in UTC with ``Z``, to the millisecond (fraction omitted when zero), or ""
    when ``moment`` is None."""
    if moment is None:
        return ""
    t = (moment + dt.timedelta(milliseconds=round(offset_s * 1000))).astimezone(UTC)
    t = t.replace(microsecond=0) + dt.timedelta(milliseconds=round(t.microsecond / 1000))  # .9996 s carries
    text = t.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{t.microsecond // 1000:03d}Z" if t.microsecond else f"{text}Z"

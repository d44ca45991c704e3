"""edge.timestamps: recording start (UTC) and serial from file names and SoundTrap logs."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.timestamps import iso_utc, parse_start, soundtrap_log_start

UTC = dt.timezone.utc

SOUNDTRAP_LOG = (
    '<ST><PROC_EVENT><WavFileHandler SamplingStartTimeUTC="{utc}" SamplingStartTimeSubS="{subs}"/></PROC_EVENT></ST>'
)


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("20240501_120000.WAV", at(2024, 5, 1, 12, 0, 0)),  # AudioMoth
        ("NOPP6_EST_20090328_001500.wav", at(2009, 3, 28, 0, 15, 0)),  # DCLDE 2013
        ("20240501T120000Z.flac", at(2024, 5, 1, 12, 0, 0)),  # ISO 8601 basic
        ("20240501T120000.25Z.flac", at(2024, 5, 1, 12, 0, 0, 250000)),
        ("site3_20240501T235959.123456Z.wav", at(2024, 5, 1, 23, 59, 59, 123456)),
        ("GSC_2000-05-19_00-30-00.wav", at(2000, 5, 19, 0, 30, 0)),
    ],
)
def test_names_give_utc_start_without_serial(name, expected):
    assert parse_start(name) == (expected, None, "filename")


def test_soundtrap_name_gives_start_and_serial(tmp_path):
    start, serial, source = parse_start(tmp_path / "6872.220716021453.wav")
    assert (start, serial, source) == (at(2022, 7, 16, 2, 14, 53), "6872", "filename")
    assert start.tzinfo is UTC


def test_soundtrap_log_beside_the_file_overrides_the_name(tmp_path):
    (tmp_path / "6872.220716021453.log.xml").write_text(
        SOUNDTRAP_LOG.format(utc="2022-07-16T01:14:53", subs="250000 us")
    )
    assert parse_start(tmp_path / "6872.220716021453.wav") == (
        at(2022, 7, 16, 1, 14, 53, 250000),
        "6872",
        "soundtrap-log",
    )


def test_soundtrap_log_takes_fraction_from_the_element_holding_the_start(tmp_path):
    log = tmp_path / "6872.220716021453.log.xml"
    log.write_text(
        "<ST>"
        '<PROC_EVENT><WavFileHandler SamplingStartTimeUTC="2022-07-16T01:14:53" '
        'SamplingStartTimeSubS="250000 us"/></PROC_EVENT>'
        '<PROC_EVENT><WavFileHandler SamplingStartTimeUTC="2022-07-16T03:00:00" '
        'SamplingStartTimeSubS="999999 us"/></PROC_EVENT></ST>'
    )
    assert soundtrap_log_start(log) == at(2022, 7, 16, 1, 14, 53, 250000)


@pytest.mark.parametrize(
    "content",
    [
        "<ST><unclosed",  # not XML
        "<ST><PROC_EVENT><WavFileHandler SamplingStopTimeUTC='2022-07-16T01:20:00'/></PROC_EVENT></ST>",
        SOUNDTRAP_LOG.format(utc="not a time", subs="0 us"),
    ],
)
def test_unusable_soundtrap_log_falls_back_to_the_name(tmp_path, content):
    (tmp_path / "6872.220716021453.log.xml").write_text(content)
    assert parse_start(tmp_path / "6872.220716021453.wav") == (at(2022, 7, 16, 2, 14, 53), "6872", "filename")


def test_missing_soundtrap_log_is_none(tmp_path):
    assert soundtrap_log_start(tmp_path / "absent.log.xml") is None


@pytest.mark.parametrize(
    "name",
    [
        "20241341_000000.wav",  # month 13
        "20240230_120000.wav",  # 30 February
        "20240501_250000.wav",  # hour 25
        "20240501T126000Z.flac",  # minute 60
        "GSC_2000-02-30_00-30-00.wav",
        "6872.221316021453.wav",  # SoundTrap name, month 13
    ],
)
def test_invalid_dates_give_no_start(name):
    start, _, _ = parse_start(name)
    assert start is None


@pytest.mark.parametrize("name", ["recording.wav", "track 7.flac", "20240501.wav", "120000.wav", "noext"])
def test_no_time_in_the_name(name):
    assert parse_start(name) == (None, None, None)


@pytest.mark.parametrize(
    ("moment", "offset_s", "expected"),
    [
        (at(2022, 7, 16, 2, 14, 53), 0.0, "2022-07-16T02:14:53Z"),
        (at(2022, 7, 16, 2, 14, 53), 60.0, "2022-07-16T02:15:53Z"),
        (at(2022, 7, 16, 2, 14, 53), 1.5, "2022-07-16T02:14:54.500Z"),
        (at(2022, 7, 16, 2, 14, 53, 250000), 0.0, "2022-07-16T02:14:53.250Z"),
        (at(2024, 5, 1, 12, 0, 0, 123456), 0.0, "2024-05-01T12:00:00.123Z"),
        (at(2024, 5, 1, 12, 0, 0, 123600), 0.0, "2024-05-01T12:00:00.124Z"),
        (at(2024, 5, 1, 12, 0, 0, 400), 0.0, "2024-05-01T12:00:00Z"),  # rounds to .000: no fraction
        (at(2024, 5, 1, 12, 0, 0, 999600), 0.0, "2024-05-01T12:00:01Z"),  # rounding carries into the second
        (at(2024, 12, 31, 23, 59, 59, 999700), 0.0, "2025-01-01T00:00:00Z"),
        (at(2024, 5, 1, 12, 0, 0), 0.0004, "2024-05-01T12:00:00Z"),
        (at(2024, 5, 1, 12, 0, 0), 3599.9996, "2024-05-01T13:00:00Z"),
        (at(2024, 5, 1, 12, 0, 0), 0.0126, "2024-05-01T12:00:00.013Z"),
    ],
)
def test_iso_utc(moment, offset_s, expected):
    assert iso_utc(moment, offset_s) == expected


def test_iso_utc_converts_other_time_zones_to_utc():
    plus_two = dt.timezone(dt.timedelta(hours=2))
    assert iso_utc(dt.datetime(2024, 5, 1, 14, 0, 0, tzinfo=plus_two)) == "2024-05-01T12:00:00Z"


def test_iso_utc_of_unknown_start_is_empty():
    assert iso_utc(None) == ""
    assert iso_utc(None, 12.0) == ""


moments = st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2099, 12, 31), timezones=st.just(UTC))


@given(moment=moments, offset_s=st.floats(min_value=0, max_value=86400 * 7, allow_nan=False))
def test_iso_utc_is_the_instant_to_the_millisecond(moment, offset_s):
    text = iso_utc(moment, offset_s)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z", text)
    assert not text.endswith(".000Z")
    back = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert back.microsecond % 1000 == 0
    # two roundings to the millisecond (offset, then instant): at most 1 ms apart
    assert abs(back - (moment + dt.timedelta(seconds=offset_s))) <= dt.timedelta(milliseconds=1)


@given(moment=moments)
def test_names_written_by_recorders_parse_back(moment):
    moment = moment.replace(microsecond=0)
    for name in (
        moment.strftime("%Y%m%d_%H%M%S.WAV"),
        moment.strftime("NOPP6_EST_%Y%m%d_%H%M%S.wav"),
        moment.strftime("%Y%m%dT%H%M%SZ.flac"),
        moment.strftime("GSC_%Y-%m-%d_%H-%M-%S.wav"),
    ):
        assert parse_start(name) == (moment, None, "filename")
    if 2000 <= moment.year <= 2068:  # two-digit years: strptime maps 69..99 to 19xx
        assert parse_start(moment.strftime("6872.%y%m%d%H%M%S.wav")) == (moment, "6872", "filename")

"""Recorder metadata and time zones: AudioMoth comments, GUANO, bext and Song Meter names give
the right UTC start; local clocks go through the deployment's timezone or are said to be
assumed UTC, once per run."""

from __future__ import annotations

import datetime as dt
import json
import struct

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from edge.audio import probe
from edge.cli.detect import main
from edge.config import ConfigError, load_deployment
from edge.timestamps import zone
from edge.wavmeta import recorder_time

UTC = dt.timezone.utc
NOON = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def wav_with(path, *chunks: tuple[bytes, bytes], rate=8000):
    """A 2-s WAV with ``chunks`` (id, payload) appended after its data, RIFF size fixed."""
    sf.write(path, (0.01 * np.random.default_rng(0).standard_normal(2 * rate)).astype(np.float32), rate)
    body = path.read_bytes()
    for cid, payload in chunks:
        body += cid + struct.pack("<I", len(payload)) + payload + (b"\x00" if len(payload) % 2 else b"")
    path.write_bytes(body[:4] + struct.pack("<I", len(body) - 8) + body[8:])
    return path


def info_list(comment: str) -> tuple[bytes, bytes]:
    text = comment.encode() + b"\x00"
    return b"LIST", b"INFO" + b"ICMT" + struct.pack("<I", len(text)) + text + (b"\x00" if len(text) % 2 else b"")


def guano(**fields) -> tuple[bytes, bytes]:
    return b"guan", ("GUANO|Version: 1.0\n" + "".join(f"{k}: {v}\n" for k, v in fields.items())).encode()


def bext(date: str, time: str) -> tuple[bytes, bytes]:
    return b"bext", b"\x00" * 320 + date.encode() + time.encode() + b"\x00" * 264


AUDIOMOTH = (
    "Recorded at 14:00:00 01/05/2024 (UTC+2) by AudioMoth 24E144085F256D8B at medium gain while battery "
    "state was 4.2V and temperature was 21.3C."
)


def test_audiomoth_local_time_comment_gives_utc(tmp_path):
    path = wav_with(tmp_path / "20240501_140000.WAV", info_list(AUDIOMOTH))
    info = probe(path)
    assert (info.start_utc, info.serial, info.time_source) == (NOON, "24E144085F256D8B", "audiomoth")


def test_guano_with_an_offset_gives_utc_and_without_one_needs_the_timezone(tmp_path):
    with_offset = wav_with(tmp_path / "a.wav", guano(Timestamp="2024-05-01T08:00:00-04:00", Serial="SMU01234"))
    info = probe(with_offset)
    assert (info.start_utc, info.serial, info.time_source) == (NOON, "SMU01234", "guano")
    local = wav_with(tmp_path / "b.wav", guano(Timestamp="2024-05-01T08:00:00"))
    assert probe(local, timezone=zone("UTC-4")).start_utc == NOON
    assumed = probe(local)
    assert assumed.start_utc == NOON - dt.timedelta(hours=4) and "assumed UTC" in assumed.time_source


def test_bext_local_time_and_song_meter_names_through_an_iana_zone(tmp_path):
    path = wav_with(tmp_path / "x.wav", bext("2024-05-01", "08:00:00"))
    assert probe(path, timezone=zone("America/New_York")).start_utc == NOON  # EDT in May
    song_meter = wav_with(tmp_path / "SMM07257_20240501_080000.wav")
    info = probe(song_meter, timezone=zone("America/New_York"))
    assert (info.start_utc, info.time_source) == (NOON, "filename (Song Meter)+timezone")
    winter = wav_with(tmp_path / "SMM07257_20240115_070000.wav")
    assert probe(winter, timezone=zone("America/New_York")).start_utc == dt.datetime(2024, 1, 15, 12, tzinfo=UTC)


def test_metadata_wins_over_the_name_and_a_plain_name_stays_utc(tmp_path):
    path = wav_with(tmp_path / "20240501_120000.wav", info_list(AUDIOMOTH.replace("14:00:00", "15:00:00")))
    assert probe(path).start_utc == NOON + dt.timedelta(hours=1)
    plain = wav_with(tmp_path / "20240501_120000_b.wav")
    assert (probe(plain).start_utc, probe(plain).time_source) == (NOON, "filename")


def test_malformed_chunks_are_ignored(tmp_path):
    path = wav_with(tmp_path / "m.wav", (b"guan", b"\xff\xfe not guano"), (b"bext", b"short"))
    assert recorder_time(path) is None
    path.write_bytes(path.read_bytes()[:-3])  # a chunk cut short
    assert recorder_time(path) is None


@pytest.mark.parametrize("text", ["Mars/Olympus", "UTC+15", "sometime"])
def test_a_bad_timezone_is_refused_on_load(tmp_path, text):
    (tmp_path / "d.yaml").write_text(f"name: d\ntimezone: {text}\n")
    with pytest.raises(ConfigError, match="timezone"):
        load_deployment(tmp_path / "d.yaml")


def test_edge_detect_says_an_assumed_utc_once_per_run_and_uses_the_timezone(tmp_path):
    folder = tmp_path / "card"
    folder.mkdir()
    for hour in ("08", "09", "10"):
        wav_with(folder / f"SMM07257_20240501_{hour}0000.wav")
    result = CliRunner().invoke(main, [str(folder), "-o", str(tmp_path / "a"), "--no-model", "-q"])
    assert result.exit_code == 0, result.output
    said = [line for line in result.output.splitlines() if "taken as UTC: set timezone:" in line]
    assert len(said) == 2 and "SMM07257_20240501_080000.wav" in said[0]  # said for the first recording,
    assert said[1].startswith("warning: ... and for 2 more recordings: its start time")  # then counted
    (tmp_path / "d.yaml").write_text("name: d\ntimezone: America/New_York\n")
    args = [str(folder), "-o", str(tmp_path / "b"), "--no-model", "-q", "--config", str(tmp_path / "d.yaml")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0 and "taken as UTC" not in result.output
    files = json.loads((tmp_path / "b" / "run.json").read_text())["files"]
    assert [f["start_utc"] for f in files] == [f"2024-05-01T1{h}:00:00+00:00" for h in (2, 3, 4)]
    assert {f["time_source"] for f in files} == {"filename (Song Meter)+timezone"}

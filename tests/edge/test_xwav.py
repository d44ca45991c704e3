"""XWAV (HARP) recordings: the start time from the harp chunk's raw-file directory, and a
duty-cycled file's detections, levels and soundscape minutes timed by its recording periods."""

from __future__ import annotations

import csv
import datetime as dt
import json
import struct

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from edge.audio import probe
from edge.calibration import Calibration
from edge.cli.detect import main
from edge.soundscape.welch import recording_minutes
from edge.wavmeta import harp, recorder_time
from tests.support.data import DEPLOYMENTS

UTC = dt.timezone.utc
RATE = 8000
T0 = dt.datetime(2015, 7, 3, 14, 0, 0, 250_000, tzinfo=UTC)


def xwav(path, raw_files: list[tuple[dt.datetime, np.ndarray]], *, rate=RATE, lat=32.6661, lon=-117.7441):
    """A mono 16-bit XWAV as HARP processing writes it: fmt, harp (its raw-file directory),
    then the raw files' samples end to end in one data chunk."""
    fmt = struct.pack("<HHIIHH", 1, 1, rate, 2 * rate, 2, 16)
    n = len(raw_files)
    harp_len = 56 + 32 * n
    data_at = 12 + (8 + len(fmt)) + (8 + harp_len) + 8  # the first audio byte
    head = struct.pack(
        "<B10s4s4s8sB8sHiih8x",
        1,
        b"V2.64",
        b"DL41",
        b"SOCL",
        b"SOCAL45",
        1,
        b"SN123",
        n,
        round(lon * 1e5),
        round(lat * 1e5),
        800,
    )
    entries, at = b"", data_at
    for start, samples in raw_files:
        length = 2 * len(samples)
        stamp = (start.year - 2000, start.month, start.day, start.hour, start.minute, start.second)
        entries += struct.pack("<6BHIIIIB7x", *stamp, start.microsecond // 1000, at, length, length, rate, 1)
        at += length
    audio = b"".join(np.round(s * 32767).astype("<i2").tobytes() for _, s in raw_files)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"harp" + struct.pack("<I", harp_len) + head + entries
    body += b"data" + struct.pack("<I", len(audio)) + audio
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def noise(seconds, seed):
    return 0.005 * np.random.default_rng(seed).standard_normal(int(seconds * RATE))


def with_sweep(x, at_s):
    t = np.arange(RATE) / RATE
    x = x.copy()
    x[int(at_s * RATE) : int(at_s * RATE) + RATE] += 0.3 * np.sin(2 * np.pi * (1000 * t + 500 * t**2))
    return x


def detect(path, out, outputs):
    """edge-detect of one recording with the generic deployment and no model; its output folder."""
    args = [
        str(path),
        "-o",
        str(out),
        "--no-model",
        "--config",
        str(DEPLOYMENTS / "generic.yaml"),
        "--outputs",
        outputs,
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return out


def test_the_harp_chunk_gives_the_first_raw_files_utc_start(tmp_path):
    path = xwav(
        tmp_path / "SOCAL45_DL41_150703_140000.x.wav", [(T0, noise(5, 1)), (T0 + dt.timedelta(seconds=5), noise(5, 2))]
    )
    found = recorder_time(path)
    assert found is not None and (found.start, found.source, found.serial) == (T0, "xwav", None)
    info = probe(path)
    assert info.start_utc == T0 and info.time_source == "xwav" and info.periods == ()  # end to end: one period
    assert info.end_utc == T0 + dt.timedelta(seconds=10)
    chunk = path.read_bytes()
    at = chunk.index(b"harp") + 8
    h = harp(chunk[at : at + 56 + 64])
    assert h is not None and (h.instrument, h.site, h.experiment, h.depth_m) == ("DL41", "SOCL", "SOCAL45", 800)
    assert (h.latitude, h.longitude) == pytest.approx((32.6661, -117.7441))
    assert [r.start for r in h.raw_files] == [T0, T0 + dt.timedelta(seconds=5)]


def test_a_duty_cycled_xwav_has_a_period_after_each_gap(tmp_path):
    on = dt.timedelta(seconds=10)
    gap = dt.timedelta(minutes=5)
    raw = [(T0, noise(5, 1)), (T0 + dt.timedelta(seconds=5), noise(5, 2)), (T0 + on + gap, noise(10, 3))]
    info = probe(xwav(tmp_path / "duty.x.wav", raw))
    assert info.periods == ((0.0, T0), (10.0, T0 + on + gap))
    assert info.utc_at(3.0) == (T0, 3.0)
    assert info.utc_at(12.5) == (T0 + on + gap, 2.5)
    assert info.end_utc == T0 + on + gap + dt.timedelta(seconds=10)
    assert info.duration_s == 20.0  # the audio held, not the span of time


def test_a_duty_cycled_xwavs_detections_levels_and_minutes_are_timed_by_their_period(tmp_path):
    second = T0 + dt.timedelta(minutes=15)
    raw = [(T0, with_sweep(noise(60, 1), 5.0)), (second, with_sweep(noise(60, 2), 8.0))]  # a minute in 15
    path = xwav(tmp_path / "duty.x.wav", raw)
    out = detect(path, tmp_path / "out", "csv,levels")
    with open(out / "detections.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    starts = sorted((float(r["start_s"]), r["start_utc"]) for r in rows)
    assert len(starts) == 2
    (first_s, first_utc), (second_s, second_utc) = starts
    assert first_s == pytest.approx(5.0, abs=0.3) and second_s == pytest.approx(68.0, abs=0.3)

    def at(text):
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))

    assert (at(first_utc) - T0).total_seconds() == pytest.approx(first_s, abs=0.002)
    assert (at(second_utc) - second).total_seconds() == pytest.approx(second_s - 60.0, abs=0.002)
    with open(out / "levels.csv", newline="") as fh:
        levels = list(csv.DictReader(fh))
    assert [at(r["start_utc"]) for r in levels] == [T0, second]  # each recording period's level on its own time
    run = json.loads((out / "run.json").read_text())
    assert run["files"][0]["audio_s"] == pytest.approx(120.0)
    assert not [w for w in run["files"][0]["warnings"] if "duty cycle" in w]

    from edge.report.data import load
    from edge.report.series import effort

    assert [(s, e) for s, e, _ in effort(load(out)).intervals] == [
        (T0, T0 + dt.timedelta(seconds=60)),
        (second, second + dt.timedelta(seconds=60)),
    ]  # the report's effort: two minutes, not one stretch from the first

    info = probe(path)
    minutes = recording_minutes(info, Calibration("default", 0.0, 0.0, (), "default"))[1]
    assert [m.start_utc for m in minutes] == [T0.replace(microsecond=0), second.replace(microsecond=0)]
    assert [round(m.effort_s) for m in minutes] == [60, 60]
    # a chunk of the file from 50 s (as a cluster unit owns it): the second period's minutes only
    chunk = recording_minutes(info, Calibration("default", 0.0, 0.0, (), "default"), owned=(50.0, 120.0))[1]
    assert [m.start_utc for m in chunk] == [second.replace(microsecond=0)]


def test_periods_that_level_periods_straddle_are_said(tmp_path):
    raw = [(T0, noise(20, 1)), (T0 + dt.timedelta(minutes=10), noise(20, 2))]
    out = detect(xwav(tmp_path / "duty.x.wav", raw), tmp_path / "out", "levels")
    (said,) = [w for w in json.loads((out / "run.json").read_text())["files"][0]["warnings"] if "duty cycle" in w]
    assert "starts 20 s into the file, not on a multiple of levels.period_s (60 s)" in said


def as_flac(wav, path):
    """``wav`` encoded to FLAC keeping its RIFF chunks as ``flac --keep-foreign-metadata`` does:
    an APPLICATION block ``riff`` per chunk after STREAMINFO (as NCEI archives HARP XWAVs)."""
    x, rate = sf.read(wav, dtype="int16")
    sf.write(path, x, rate, subtype="PCM_16", format="FLAC")
    body = path.read_bytes()
    blocks, at = [], 4
    while True:
        last, length = body[at] & 0x80, int.from_bytes(body[at + 1 : at + 4], "big")
        blocks.append(bytes([body[at] & 0x7F]) + body[at + 1 : at + 4 + length])
        at += 4 + length
        if last:
            break
    riff, pos = wav.read_bytes(), 12
    while pos < len(riff):
        cid, size = riff[pos : pos + 4], struct.unpack("<I", riff[pos + 4 : pos + 8])[0]
        if cid != b"data":
            payload = b"riff" + riff[pos : pos + 8 + size]
            blocks.insert(1, bytes([2]) + len(payload).to_bytes(3, "big") + payload)
        pos += 8 + size + (size & 1)
    blocks[-1] = bytes([blocks[-1][0] | 0x80]) + blocks[-1][1:]
    path.write_bytes(b"fLaC" + b"".join(blocks) + body[at:])
    return path


def test_an_xwav_kept_as_flac_is_timed_by_its_harp_chunk(tmp_path):
    later = T0 + dt.timedelta(minutes=15)
    wav = xwav(tmp_path / "duty.x.wav", [(T0, noise(5, 1)), (later, noise(5, 2))])
    info = probe(as_flac(wav, tmp_path / "duty.x.flac"))
    assert (info.start_utc, info.time_source, info.frames) == (T0, "xwav", 10 * RATE)
    assert info.periods == ((0.0, T0), (5.0, later))

"""HMD minutes: calibrated, aligned to UTC minutes, streamed equal to whole, and equal to an
independent reference (scipy.signal.welch and a band-by-band sum) within 0.1 dB on real
recordings."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
import scipy.signal

from edge.audio import probe
from edge.calibration import Calibration
from edge.soundscape.bands import decidecade_bands, hmd_bands, hmd_to_decidecades
from edge.soundscape.welch import MinuteSpectra, recording_minutes
from edge.types import AudioBlock
from tests.support.data import shared_path

UTC = dt.timezone.utc
START = dt.datetime(2024, 5, 1, 12, 0, 17, 250000, tzinfo=UTC)


FLAT = Calibration("test", 170.0)


def minutes_of(x, rate, start=START, calibration=FLAT, block=None, owned=None):
    spectra = MinuteSpectra(rate, start, calibration, owned=owned)
    out = []
    step = block or len(x)
    for i in range(0, len(x), step):
        out += spectra.push(AudioBlock(x[i : i + step], i))
    return out + spectra.flush()


def test_minutes_start_on_utc_minutes_with_their_effort(rng):
    rate = 4000
    x = (0.01 * rng.standard_normal(rate * 150)).astype(np.float32)  # 12:00:17.25 to 12:02:47.25
    got = minutes_of(x, rate)
    assert [m.start_utc for m in got] == [
        START.replace(second=0, microsecond=0) + dt.timedelta(minutes=k) for k in range(3)
    ]
    # half-second segments on the minute's grid: 12:00:17.5 .. 12:01:00, a whole minute, 12:02:00 .. 12:02:47
    assert [m.effort_s for m in got] == [42.5, 60.0, 47.0]


@pytest.mark.parametrize("block_s", [0.5, 60, None])
def test_streamed_equals_whole_recording(rng, block_s):
    rate = 8000
    x = (0.01 * rng.standard_normal(rate * 130)).astype(np.float32)
    whole = minutes_of(x, rate)
    got = minutes_of(x, rate, block=None if block_s is None else int(block_s * rate))
    assert [(m.start_utc, m.effort_s) for m in got] == [(m.start_utc, m.effort_s) for m in whole]
    for a, b in zip(got, whole):
        np.testing.assert_allclose(a.psd, b.psd, rtol=1e-6)


def test_non_finite_samples_leave_out_their_segments_not_the_minute(rng):
    rate = 4000
    x = (0.01 * rng.standard_normal(rate * 180)).astype(np.float32)
    clean = minutes_of(x, rate, start=START.replace(second=0, microsecond=0))
    x[rate * 70 : rate * 70 + 10] = np.nan  # 2.5 ms at 00:01:10: the two segments holding it
    x[rate * 120 :] = np.inf  # the whole third minute
    got = minutes_of(x, rate, start=START.replace(second=0, microsecond=0))
    assert [m.effort_s for m in got] == [60.0, 59.0, 0.0]
    np.testing.assert_allclose(got[0].psd, clean[0].psd, rtol=1e-6)
    diff = np.abs(10 * np.log10(got[1].psd / clean[1].psd))  # 117 of 119 segments: the same noise, nearly
    assert np.median(diff) < 0.05 and diff.max() < 0.5
    assert np.isnan(got[2].psd).all()


def test_chunks_own_the_minutes_starting_in_them(rng):
    rate = 4000
    x = (0.01 * rng.standard_normal(rate * 200)).astype(np.float32)
    whole = minutes_of(x, rate)
    parts = [minutes_of(x, rate, owned=span) for span in ((0.0, 50.0), (50.0, 130.0), (130.0, math.inf))]
    assert [len(p) for p in parts] == [2, 1, 1]  # 12:00 (begun before the recording) and 12:01; 12:02; 12:03
    joined = [m for p in parts for m in p]
    assert [m.start_utc for m in joined] == [m.start_utc for m in whole]
    for a, b in zip(joined, whole):
        np.testing.assert_allclose(a.psd, b.psd, rtol=1e-6)


@pytest.mark.parametrize(("freq", "rate"), [(1000.0, 48000), (100.0, 8000), (20000.0, 96000)])
def test_a_calibrated_tone_keeps_its_level(rng, freq, rate):
    """A tone's HMD densities, integrated over its decidecade, give its SPL within 0.1 dB,
    through the end-to-end calibration (full-scale SPL 175 dB, 10 dB gain)."""
    amplitude = 0.05
    t = np.arange(rate * 70) / rate
    x = (amplitude * np.sin(2 * np.pi * freq * t) + 1e-4 * rng.standard_normal(len(t))).astype(np.float32)
    calibration = Calibration("test", 175.0, gain_db=10.0)
    minute = minutes_of(x, rate, start=START.replace(second=0, microsecond=0), calibration=calibration)[0]
    assert minute.effort_s == 60.0
    dd, power = hmd_to_decidecades(minute.psd, hmd_bands(rate))
    k = int(np.argmin(np.abs(dd.centres - freq)))
    expected = 175.0 - 10.0 + 20 * np.log10(amplitude / np.sqrt(2))
    assert 10 * np.log10(power[k]) == pytest.approx(expected, abs=0.1)
    # and the tone sits in its own HMD band: the bands a few hertz away hold far less
    b = hmd_bands(rate)
    peak = int(np.argmax(minute.psd))
    assert b.lower[peak] - 1 <= freq <= b.upper[peak] + 1


def reference_minutes(x, rate, start, full_scale_spl):
    """An independent computation: for each UTC minute, scipy.signal.welch over its samples
    (segments from the minute's start, 1 s Hann, 50 %), then each band summed bin by bin."""
    bands = hmd_bands(rate)
    minute0 = start.replace(second=0, microsecond=0)
    origin = -round((start - minute0).total_seconds() * rate)
    hop, out, m = rate // 2, [], 0
    while origin + m * 60 * rate < len(x):
        a = origin + m * 60 * rate
        first = a if a >= 0 else a + math.ceil(-a / hop) * hop
        end = min(a + 60 * rate, len(x))
        if end - first >= rate:
            n_seg = (end - first - rate) // hop + 1
            seg = x[first : first + (n_seg - 1) * hop + rate].astype(np.float64)
            f, p = scipy.signal.welch(seg, rate, window="hann", nperseg=rate, noverlap=rate - hop, detrend=False)
            p = p * 10 ** (full_scale_spl / 10)
            levels = []
            for lo, hi in zip(bands.lower, bands.upper):
                k = np.arange(math.floor(lo + 0.5), math.ceil(hi + 0.5))
                k = k[k < len(p)]
                overlap = np.clip(np.minimum(hi, k + 0.5) - np.maximum(lo, k - 0.5), 0, None)
                levels.append(10 * np.log10(np.sum(p[k] * overlap) / (hi - lo)))
            out.append((minute0 + dt.timedelta(minutes=m), np.array(levels)))
        m += 1
    return out


@pytest.mark.parametrize(
    "parts",
    [
        ("meridian-osmose-narw", "task-2a", "data", "train", "narw", "NOPP6_EST_20090328_000000.wav"),  # 2 kHz, 15 min
        ("noaa-sanctsound", "files", "SanctSound_SB03_09_minkewhale_20200502T012119Z.wav"),  # 48 kHz
        ("noaa-sanctsound", "files", "SanctSound_CI05_03_bluewhale_20190926T230959Z.wav"),  # 48 kHz, two minutes
    ],
)
def test_real_recordings_agree_with_the_reference_within_0_1_db(parts):
    import soundfile as sf

    path = shared_path(*parts)
    info = probe(path)
    calibration = Calibration("test", 170.0)
    bands, got = recording_minutes(info, calibration, block_frames=info.sample_rate * 7)
    x, rate = sf.read(str(path), dtype="float32", always_2d=True)
    ref = reference_minutes(x[:, 0], rate, info.start_utc, 170.0)
    assert [m.start_utc for m in got] == [t for t, _ in ref]
    for minute, (_, levels) in zip(got, ref):
        db = 10 * np.log10(minute.psd)
        ok = np.isfinite(levels)
        assert ok.sum() > 0.99 * len(levels)
        assert np.max(np.abs(db[ok] - levels[ok])) < 0.1, minute.start_utc


def test_recording_without_a_utc_start_is_refused_by_name(write_audio, rng):
    path = write_audio("noclock.wav", 0.01 * rng.standard_normal(8000), 8000)
    with pytest.raises(ValueError, match=r"noclock\.wav: no UTC start time"):
        recording_minutes(probe(path), Calibration("test", 170.0))


def test_decidecade_names_match_levels_csv_names():
    assert decidecade_bands(1000).names[-1] == "band_800hz"

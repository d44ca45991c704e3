"""Unusable frames (edge.quality): a NaN sample costs its frames, not its level period, and
digital silence and clipping are said; counts and warnings are the same however a recording
is cut."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.audio import Recording, probe
from edge.cluster.engine import run_units
from edge.cluster.task import run_unit
from edge.config import load_deployment
from edge.detect import RunOptions, detect
from edge.pipeline import process_recording
from edge.quality import ClipCounter, full_scale
from edge.types import AudioBlock
from tests.support.data import DEPLOYMENTS

SR = 2000


@pytest.fixture(scope="module")
def config():
    return load_deployment(DEPLOYMENTS / "narw-upcall.yaml")


@pytest.fixture
def damaged(write_audio):
    """Four minutes of noise at 2 kHz (float): one NaN sample at 30 s, an inf at 31 s, and
    digital silence (exact zeros) from 120 to 180 s."""
    rng = np.random.default_rng(3)
    x = (0.01 * rng.standard_normal(SR * 240)).astype(np.float32)
    x[30 * SR] = np.nan
    x[31 * SR] = np.inf
    x[120 * SR : 180 * SR] = 0.0
    return write_audio("site_20240501_120000.wav", x, SR, subtype="FLOAT")


def test_a_nan_sample_costs_its_frames_and_silence_is_said(damaged, config):
    res = process_recording(damaged, config, None)
    levels = [r.broadband_db for r in res.levels]
    assert len(levels) == 4 and all(math.isfinite(b) for b in (levels[0], levels[1], levels[3]))
    assert abs(levels[0] - levels[1]) < 0.5  # the damaged first minute keeps its level
    assert levels[2] < levels[0] - 20  # the silent third minute (its edge frames overlap noise)
    # white noise gives the recall-first candidate stage its background ROIs, but none from
    # the damaged frames or the silence, and every SNR finite
    assert res.rois and all(math.isfinite(r.snr_db) for r in res.rois)
    assert not [r for r in res.rois if 29 < r.start_s < 32 or 119 < r.start_s < 181]
    nonfinite, silence = [w for w in res.warnings if "non-finite" in w or "digital silence" in w]
    assert str(damaged) in nonfinite and "from 29.8" in nonfinite and "NaN or inf" in nonfinite
    assert str(damaged) in silence and "59.90 s of digital silence" in silence and "from 120.00 s" in silence
    assert res.quality.nonfinite_frames > 0 and res.quality.nonfinite_frames * config.spec_for(SR).hop_s < 1.0


def test_a_run_of_inf_samples_is_said_once_and_numpy_stays_quiet(write_audio, config):
    # inf times the window's zero first sample is NaN: the quality check's to report, in one line
    rng = np.random.default_rng(4)
    x = (0.01 * rng.standard_normal(SR * 10)).astype(np.float32)
    x[3 * SR : 3 * SR + 300] = np.inf
    path = write_audio("site_20240501_120000.wav", x, SR, subtype="FLOAT")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        res = process_recording(path, config, None)
    assert [w for w in res.warnings if "non-finite" in w and "from 2.88 s" in w]
    assert res.quality.nonfinite_frames > 0


@pytest.mark.parametrize("block_s", [0.5, 7.0])
def test_counts_do_not_depend_on_the_blocks(damaged, config, block_s):
    whole = process_recording(damaged, config, None, block_s=600.0)
    cut = process_recording(damaged, config, None, block_s=block_s)
    assert cut.quality == whole.quality and cut.warnings == whole.warnings
    assert [r.broadband_db for r in cut.levels] == [r.broadband_db for r in whole.levels]


def _whole_and_units(path, config, tmp_path) -> tuple[dict, dict]:
    """run.json's entry for ``path`` run whole by edge-detect and as 60-s cluster units."""
    detect([path], tmp_path / "whole", config)
    run_units(
        [path],
        tmp_path / "units",
        config,
        RunOptions(),
        chunk_s=60,
        execute=lambda units, job: map(run_unit, units, [job] * len(units)),
    )
    whole, units = (json.loads((tmp_path / d / "run.json").read_text())["files"][0] for d in ("whole", "units"))
    return whole, units


def test_cluster_units_count_as_the_whole_run(damaged, config, tmp_path):
    whole, units = _whole_and_units(damaged, config, tmp_path)
    for key in ("warnings", "silent_s", "nonfinite_s"):
        assert units[key] == whole[key], key
    assert whole["silent_s"] == pytest.approx(60.0, abs=0.5) and 0 < whole["nonfinite_s"] < 1.0
    assert (tmp_path / "units" / "levels.csv").read_bytes() == (tmp_path / "whole" / "levels.csv").read_bytes()


def _reference_clipped(x: np.ndarray, rail: float) -> int:
    """Samples at a rail with a neighbour at the same rail, counted one by one."""
    return sum(_reference_clipped_at(x, rail, i) for i in range(len(x)))


@given(
    codes=st.lists(st.sampled_from([-1, 0, 0, 1]), min_size=1, max_size=60),
    cuts=st.lists(st.integers(1, 59), max_size=6),
    owned=st.tuples(st.integers(0, 60), st.integers(0, 60)),
)
@settings(max_examples=300, deadline=None)
def test_clipped_samples_are_counted_however_the_blocks_fall(codes, cuts, owned):
    rail = full_scale("PCM_16")
    x = np.array([rail if c == 1 else -1.0 if c == -1 else 0.25 for c in codes], np.float32)
    lo, hi = sorted(owned)
    counter = ClipCounter("PCM_16", (lo, hi))
    edges = sorted({0, len(x), *(c for c in cuts if c < len(x))})
    for a, b in zip(edges, edges[1:], strict=False):
        counter.push(AudioBlock(x[a:b], a))
    whole = ClipCounter("PCM_16")
    whole.push(AudioBlock(x, 0))
    assert whole.samples == _reference_clipped(x, rail)
    # the owned part of the recording counts its own clipped samples, the neighbours decided
    # over the whole (so chunks' counts add up to the whole recording's)
    expected = [i for i in range(len(x)) if lo <= i < hi and _reference_clipped_at(x, rail, i)]
    assert counter.samples == len(expected)
    assert counter.first == (expected[0] if expected else None)


def _reference_clipped_at(x: np.ndarray, rail: float, i: int) -> bool:
    """Sample ``i`` is at a rail and a neighbour at the same rail."""

    def s(j: int) -> int:
        return 0 if not 0 <= j < len(x) else 1 if x[j] == rail else -1 if x[j] == -1.0 else 0

    return s(i) != 0 and s(i) in (s(i - 1), s(i + 1))


@pytest.mark.parametrize(
    ("subtype", "dtype", "top"),
    [
        ("PCM_16", np.int16, 2**15 - 1),
        ("PCM_24", np.int32, 2**31 - 256),
        ("PCM_U8", np.int16, 127 * 256),
        ("FLOAT", np.float32, 1.0),
    ],
)
def test_a_hard_clipped_tone_is_counted_at_each_formats_full_scale(write_audio, subtype, dtype, top):
    """A 100-Hz tone driven 6 dB past full scale for 0.5 s of a 2-s file: its flat tops and
    bottoms are counted, and the same tone just under full scale, or peak-normalised so single
    samples touch it, is not; nor, in a float file, the tone written past 1.0 unclipped."""
    t = np.arange(2 * SR) / SR
    drive = np.where((t >= 1.0) & (t < 1.5), 2.0, 0.5) * np.sin(2 * np.pi * 100 * t)
    clipped = np.clip(drive, -1.0, 1.0)
    expected = int(np.count_nonzero(np.abs(drive) >= 1.0))

    def as_file(x: np.ndarray, name: str):
        if np.issubdtype(dtype, np.integer):
            x = np.where(x >= 1.0, top, np.where(x <= -1.0, np.iinfo(dtype).min, np.round(x * (top - 1)))).astype(dtype)
        return write_audio(name, x.astype(dtype), SR, subtype=subtype)

    for path, want in [
        (as_file(clipped, "clipped.wav"), expected),
        (as_file(0.99 * np.sin(2 * np.pi * 100 * t), "under.wav"), 0),
        (as_file(np.sin(2 * np.pi * 100 * t + 0.3) / np.abs(np.sin(2 * np.pi * 100 * t + 0.3)).max(), "peak.wav"), 0),
    ] + ([(as_file(drive, "over.wav"), 0)] if subtype == "FLOAT" else []):  # past 1.0, not clipped
        info = probe(path)
        counter = ClipCounter(info.subtype)
        for block in Recording(info, block_frames=777).blocks():
            counter.push(block)
        assert counter.samples == want, path.name
        if want:
            assert counter.first / SR == pytest.approx(1.0, abs=0.01)


@pytest.fixture
def clipped_48k(write_audio):
    """Three minutes of noise at 48 kHz (16-bit) with a loud 150-Hz tone clipped at full scale
    for 2 s at 100 s: as a recorder set with too much gain writes a close ship's pass."""
    rate = 48000
    rng = np.random.default_rng(11)
    x = 0.01 * rng.standard_normal(rate * 180)
    t = np.arange(2 * rate) / rate
    x[100 * rate : 102 * rate] += 3.0 * np.sin(2 * np.pi * 150 * t)
    pcm = np.clip(np.round(x * 32768), -32768, 32767).astype(np.int16)
    return write_audio("site_20240501_130000.wav", pcm, rate), int(np.count_nonzero((pcm == 32767) | (pcm == -32768)))


def test_clipping_is_said_before_resampling_and_counts_as_the_whole_run(clipped_48k, config, tmp_path):
    path, at_rail = clipped_48k
    whole, units = _whole_and_units(path, config, tmp_path)
    assert whole["sample_rate"] == 48000 and whole["analysis_rate"] == SR
    assert whole["clipped_samples"] == units["clipped_samples"] == at_rail > 10_000
    (line,) = [w for w in whole["warnings"] if "clipped at full scale" in w]
    assert line == next(w for w in units["warnings"] if "clipped at full scale" in w)
    assert str(path) in line and f"{at_rail} samples clipped at full scale from 100.00 s" in line


def test_an_unclipped_recording_says_nothing_of_clipping(damaged, config, tmp_path):
    detect([damaged], tmp_path / "out", config)
    files = json.loads((tmp_path / "out" / "run.json").read_text())["files"]
    assert files[0]["clipped_samples"] == 0 and not [w for w in files[0]["warnings"] if "clipped at full scale" in w]


def test_a_float_file_not_scaled_to_full_scale_is_said_whole_or_in_units(write_audio, config, tmp_path):
    """Pressure in pascals written as float: samples past +-1, not clipped, but received levels
    read 1.0 as full scale; its peak is said, the same for the whole run and for 60-s units (its
    non-finite samples said as such, not as its peak)."""
    rng = np.random.default_rng(8)
    x = (0.01 * rng.standard_normal(SR * 180)).astype(np.float32)
    x[70 * SR] = -37.5  # in the second unit
    x[130 * SR] = 12.0
    x[150 * SR] = np.inf
    path = write_audio("site_20240501_140000.wav", x, SR, subtype="FLOAT")
    whole, units = _whole_and_units(path, config, tmp_path)
    assert whole["peak_over_full_scale"] == units["peak_over_full_scale"] == 37.5
    (line,) = [w for w in whole["warnings"] if "x full scale" in w]
    assert line == next(w for w in units["warnings"] if "x full scale" in w)
    assert line.startswith(f"{path}: samples reach 37.5 x full scale from 70.00 s: a float file not scaled to +-1")
    assert whole["clipped_samples"] == 0  # beyond the rail is not at it


def test_a_float_file_within_full_scale_says_nothing_of_it(damaged, config, tmp_path):
    detect([damaged], tmp_path / "out", config)  # its inf sample is non-finite, not a peak
    (entry,) = json.loads((tmp_path / "out" / "run.json").read_text())["files"]
    assert entry["peak_over_full_scale"] is None and not [w for w in entry["warnings"] if "x full scale" in w]


def _channels(*columns: np.ndarray) -> np.ndarray:
    return np.stack(columns, axis=1)


@pytest.fixture
def noise_2k():
    return (0.01 * np.random.default_rng(5).standard_normal(SR * 40)).astype(np.float32)


def test_a_silent_channel_names_the_channel_that_holds_sound(write_audio, config, noise_2k):
    # a recorder with one hydrophone on its second input: channel 0 is zeros
    path = write_audio("two_20240501_120000.wav", _channels(np.zeros_like(noise_2k), noise_2k), SR)
    res = process_recording(path, config, None)
    (hint,) = [w for w in res.warnings if "holds sound" in w]
    assert hint.startswith(f"{path}: channel 0 is digital silence over its first 30 s, channel 1 holds sound")
    assert "--channel 1" in hint
    taken = process_recording(path, config, None, channel=1)
    assert taken.rois and not res.rois  # the hint is worth taking: the noise's ROIs are on channel 1
    assert not [w for w in taken.warnings if "holds sound" in w]


def test_a_short_recording_says_the_whole_of_it_and_names_every_sounding_channel(write_audio, config, noise_2k):
    short = noise_2k[: SR * 5]
    path = write_audio("three.wav", _channels(np.zeros_like(short), short, 0.5 * short), SR)
    (hint,) = [w for w in process_recording(path, config, None).warnings if "holds sound" in w or "hold sound" in w]
    assert "over the whole recording, channels 1, 2 hold sound: analyse it with --channel 1" in hint


@pytest.mark.parametrize(
    "ch0, ch1, said",
    [("zeros", "zeros", False), ("noise", "zeros", False), ("late", "noise", True)],
)
def test_the_hint_needs_a_silent_channel_and_another_that_sounds(write_audio, config, noise_2k, ch0, ch1, said):
    late = noise_2k.copy()
    late[: SR * 31] = 0.0  # silent over the 30 s looked at, sound after: the hint speaks of those 30 s
    columns = {"zeros": np.zeros_like(noise_2k), "noise": noise_2k, "late": late}
    path = write_audio("pair.wav", _channels(columns[ch0], columns[ch1]), SR)
    hints = [w for w in process_recording(path, config, None).warnings if "holds sound" in w]
    assert len(hints) == said
    assert all("over its first 30 s, channel 1 holds sound" in h for h in hints)

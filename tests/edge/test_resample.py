"""Audio at any rate (edge.resample through edge.pipeline): a recording at another rate than the
deployment's is resampled as it streams; streamed equals whole file, a tone keeps its level and
frequency, cluster chunks equal the whole run, and a rate that cannot hold the deployment's band
is refused in one line naming both."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf

from edge.cluster.engine import run_units
from edge.cluster.task import run_unit
from edge.config import load_deployment
from edge.detect import RunOptions, detect
from edge.errors import AudioError
from edge.pipeline import prepare, process_recording
from edge.resample import ResampledSource, output_length
from tests.support.data import DEPLOYMENTS, shared_path
from tests.support.outputs import assert_same_outputs

NATIVE = 48000


@pytest.fixture(scope="module")
def config():
    """narw-upcall without its model, with fixed ROI hysteresis (what is tested is the
    resampling, not the shipped deployment's candidate tuning)."""
    shipped = load_deployment(DEPLOYMENTS / "narw-upcall.yaml")
    return replace(shipped, model=None, roi=replace(shipped.roi, on_db=10, off_db=5, min_duration_s=0.4))


def upcalls(rate: int, seconds: float, seed: int) -> np.ndarray:
    """Noise with an upcall (60 -> 220 Hz, 1 s) every 12 s, at ``rate``."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 3e-3, int(seconds * rate))
    t = np.arange(rate) / rate
    chirp = 0.05 * np.sin(2 * np.pi * (60 * t + 80 * t**2)) * np.hanning(rate)
    for s in np.arange(4.0, seconds - 2, 12.0):
        x[int(s * rate) : int(s * rate) + rate] += chirp
    return x.astype(np.float32)


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    path = tmp_path_factory.mktemp("rate") / "calls48k.wav"
    sf.write(str(path), upcalls(NATIVE, 150.0, seed=4), NATIVE, subtype="PCM_16")
    return path


@pytest.mark.parametrize("in_rate, out_rate", [(48000, 2000), (96000, 32000), (44100, 2000), (1000, 2000)])
def test_output_length_is_what_the_resampler_writes(tmp_path, config, in_rate, out_rate):
    path = tmp_path / "x.wav"
    n = int(in_rate * 3.3) + 7
    sf.write(str(path), np.random.default_rng(1).normal(0, 0.1, n).astype(np.float32), in_rate, subtype="FLOAT")
    info = sf.info(str(path))
    from edge.audio import Recording, probe

    probed = probe(path)
    source = ResampledSource(Recording(probed, block_frames=in_rate // 3), probed, out_rate)
    blocks = list(source.blocks())
    assert sum(len(b.samples) for b in blocks) == output_length(info.frames, in_rate, out_rate) == source.frames
    assert [b.start_sample for b in blocks] == list(np.cumsum([0] + [len(b.samples) for b in blocks[:-1]]))
    skipped = list(ResampledSource(Recording(probed, block_frames=in_rate // 2), probed, out_rate, skip=1234).blocks())
    assert skipped[0].start_sample == 1234
    assert np.array_equal(
        np.concatenate([b.samples for b in skipped]), np.concatenate([b.samples for b in blocks])[1234:]
    )


def test_streamed_equals_whole_file_with_resampling(config, recording):
    results = [process_recording(recording, config, None, block_s=b) for b in (0.5, 60.0, 900.0)]
    first = results[0]
    assert first.info.sample_rate == NATIVE and len(first.rois) >= 10
    for other in results[1:]:
        assert other.rois == first.rois
        assert other.levels == first.levels
    # the same calls recorded at 2 kHz are found at the same times
    direct = recording.with_name("calls2k.wav")
    sf.write(str(direct), upcalls(2000, 150.0, seed=4), 2000, subtype="PCM_16")
    native = process_recording(direct, config, None)
    assert len(native.rois) >= 10
    for roi in (r for r in native.rois if r.snr_db > 15):
        assert any(abs(r.start_s - roi.start_s) < 0.2 for r in first.rois)


@pytest.mark.parametrize("freq", [80.0, 210.0, 440.0])
def test_a_resampled_tone_keeps_its_level_and_frequency(tmp_path, config, freq):
    t = np.arange(int(NATIVE * 120)) / NATIVE
    tone = (0.1 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    sf.write(str(tmp_path / "tone48k.wav"), tone, NATIVE, subtype="FLOAT")
    t2 = np.arange(2000 * 120) / 2000
    sf.write(
        str(tmp_path / "tone2k.wav"), (0.1 * np.sin(2 * np.pi * freq * t2)).astype(np.float32), 2000, subtype="FLOAT"
    )
    resampled = process_recording(tmp_path / "tone48k.wav", config, None)
    direct = process_recording(tmp_path / "tone2k.wav", config, None)
    assert len(resampled.levels) == len(direct.levels) == 2
    for a, b in zip(resampled.levels, direct.levels):
        assert abs(a.broadband_db - b.broadband_db) <= 0.1
        expected = 20 * np.log10(0.1 / np.sqrt(2)) + 170.0  # -170 dB re 1 V/uPa, full scale 1 V
        assert abs(a.broadband_db - expected) <= 0.1
    prep = prepare(tmp_path / "tone48k.wav", config, None)
    from edge.pipeline import Chain

    peaks = []
    Chain(prep, config, levels=False, on_frames=lambda f: peaks.extend(np.argmax(f.psd, axis=1))).run()
    df = prep.spec.sample_rate / prep.spec.nfft
    assert np.median(peaks) * df == pytest.approx(freq, abs=df)


def test_a_rate_that_cannot_hold_the_band_is_refused_naming_both(tmp_path, config):
    path = tmp_path / "low.wav"
    sf.write(str(path), np.zeros(800 * 10, np.float32), 800)
    with pytest.raises(AudioError) as err:
        prepare(path, config, None)
    text = str(err.value)
    assert "\n" not in text and str(path) in text and "800 Hz" in text and "2000 Hz" in text and "500 Hz" in text
    sf.write(str(tmp_path / "ok.wav"), np.zeros(1000 * 10, np.float32), 1000)
    assert prepare(tmp_path / "ok.wav", config, None).rate == 2000  # Nyquist 500 Hz covers 0-500 Hz


def test_edge_detect_records_both_rates_and_goes_on_past_a_refused_file(tmp_path, config, recording):
    low = tmp_path / "low.wav"
    sf.write(str(low), np.zeros(800 * 10, np.float32), 800)
    report = detect([low, recording], tmp_path / "out", config)
    failed, ok = report.files
    assert failed.status == "failed" and "800 Hz" in failed.reason
    assert ok.status == "ok" and ok.details["sample_rate"] == NATIVE and ok.details["analysis_rate"] == 2000
    assert ok.details["resampled_by"].startswith("soxr ")
    assert ok.details["frontend_hash"] == config.spec_for(2000).hash


def test_cluster_units_of_a_resampled_recording_equal_the_whole_run(tmp_path, config, recording):
    whole = tmp_path / "whole"
    detect([recording], whole, config)
    seen = []
    run_units(
        [recording],
        tmp_path / "units",
        config,
        chunk_s=30,
        execute=lambda units, job: (seen.extend(units), (run_unit(u, job) for u in units))[1],
    )
    assert len(seen) == 3  # 60-s level periods: chunks of 60, 60 and 30 s
    assert_same_outputs(whole, tmp_path / "units")


@pytest.mark.shared
def test_the_48_khz_noaa_right_whale_clip_runs_through_narw_upcall(tmp_path):
    clip = shared_path("noaa-sanctsound", "files", "SanctSound_GR01_01_northatlanticrightwhale_20181227T060148Z.wav")
    from edge.classify import load_classifier

    narw = load_deployment(DEPLOYMENTS / "narw-upcall.yaml")
    report = detect([clip], tmp_path / "out", narw, RunOptions(classifier=load_classifier(narw)))
    (only,) = report.files
    assert only.status == "ok" and only.details["sample_rate"] == 48000 and only.details["analysis_rate"] == 2000
    assert [d.label for d in report.full(only).detections] == ["upcall"]


def test_a_recording_resampled_up_gets_its_rois_in_the_band_it_holds():
    """PAMGuard's 2 kHz minke example under multispecies (44.1 kHz): above 910 Hz the stream holds
    the resampler's residue, whose floor is so low that its ringing placed ROIs at 1-20 kHz (5 of
    47 wholly there). Every ROI now lies in the band the recording holds; the minke pulses whose
    events that ringing lengthened past min_duration_s are still found (45 here; capping the
    residue out of the events kept 26 detections)."""
    minke = shared_path("pamguard-examples", "src", "Resources", "exampleSounds", "Minke_whale.wav")
    config = load_deployment(DEPLOYMENTS / "multispecies.yaml")
    prep = prepare(minke, config, None)
    assert prep.held_hz == pytest.approx(910.0)
    rois = process_recording(minke, config, None).rois
    half_bin = prep.spec.rate / prep.spec.nfft / 2
    assert len(rois) >= 40
    assert all(r.high_hz <= prep.held_hz + half_bin for r in rois)
    assert sum(r.low_hz < 300 for r in rois) >= 35  # from the ROI band's bottom (100 Hz): the pulses

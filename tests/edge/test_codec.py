"""edge.codec: the band a lossy recording holds, and the candidate stages kept inside it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from edge.audio import probe
from edge.codec import kept_top, recording_kept_top
from edge.config import load_deployment
from edge.pipeline import prepare, process_recording
from tests.support.data import ROOT

RATE = 48000
HAS_MP3 = "MPEG_LAYER_III" in sf.available_subtypes("MP3")


def red_noise(seconds: float, seed: int, rate: int = RATE) -> np.ndarray:
    """Noise whose power falls 6 dB an octave from 50 Hz, as the ocean's does: its band above
    16 kHz lies some 50 dB under its lowest, where an MP3 encoder spends bits only now and then."""
    n = int(seconds * rate)
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    spectrum /= np.maximum(np.fft.rfftfreq(n, 1 / rate), 50.0)
    x = np.fft.irfft(spectrum, n)
    return 0.1 * x / x.std()


def band_limited(x: np.ndarray, top_hz: float, gain_db: float, rate: int = RATE) -> np.ndarray:
    spectrum = np.fft.rfft(x)
    spectrum[np.fft.rfftfreq(len(x), 1 / rate) > top_hz] *= 10 ** (gain_db / 20)
    return np.fft.irfft(spectrum, len(x))


def test_a_whole_band_is_kept_and_an_emptied_one_is_found():
    white = 0.1 * np.random.default_rng(1).standard_normal(RATE * 5)
    assert kept_top(white, RATE) is None
    assert kept_top(red_noise(5, 2), RATE) is None  # 50 dB down at the top, not empty
    # a decoder's zeros above 12 kHz (exact zeros are -inf dB; 1e-8 of the amplitude, -160 dB)
    for gain_db in (-np.inf, -160.0):
        top = kept_top(band_limited(white, 12000, gain_db), RATE)
        assert top is not None and abs(top - 12000) <= 100  # two bins of 47 Hz
    # a low-pass that leaves the band 40 dB down, not empty: the drop below the octave under it
    top = kept_top(band_limited(red_noise(5, 3), 9000, -40.0), RATE)
    assert top is not None and 8500 <= top <= 9100


def test_silence_and_a_scrap_say_nothing():
    assert kept_top(np.zeros(RATE * 2), RATE) is None
    assert kept_top(np.ones(100), RATE) is None
    half = np.concatenate(
        [np.zeros(RATE), band_limited(0.1 * np.random.default_rng(5).standard_normal(RATE), 6000, -np.inf)]
    )
    top = kept_top(half, RATE)  # the silent second tells nothing; the sound's band does
    assert top is not None and abs(top - 6000) <= 100


@pytest.mark.skipif(not HAS_MP3, reason="this libsndfile has no MP3")
def test_an_mp3_holds_the_band_below_its_encoders_low_pass_and_a_flac_all_of_it(tmp_path):
    x = red_noise(10, 4)
    sf.write(tmp_path / "r.mp3", x, RATE, format="MP3")
    sf.write(tmp_path / "r.flac", x, RATE)
    top = recording_kept_top(probe(tmp_path / "r.mp3"), 0)
    assert top is not None and 12000 <= top <= 19000  # LAME's low-pass at its default rate: about 16 kHz
    assert recording_kept_top(probe(tmp_path / "r.flac"), 0) is None


@pytest.mark.skipif(not HAS_MP3, reason="this libsndfile has no MP3")
def test_no_region_of_interest_lies_in_the_band_an_encoder_left_empty(tmp_path):
    """Red noise as an MP3: where the encoder spent bits on the band above its low-pass now and
    then, the bursts stood 40-80 dB over a floor of zeros and the ROI detector made ROIs at 16 kHz
    of them (three in these 20 s before edge.codec); the same noise as FLAC makes none."""
    config = load_deployment(ROOT / "firmware-config" / "deployments" / "generic.yaml")
    x = red_noise(20, 3)
    sf.write(tmp_path / "r.mp3", x, RATE, format="MP3")
    sf.write(tmp_path / "r.flac", x, RATE)
    prep = prepare(tmp_path / "r.mp3", config, None)
    assert prep.kept_top_hz is not None and prep.held_hz == prep.kept_top_hz
    said = [w for w in prep.warnings if "kept nothing above" in w]
    assert said == [
        f"{tmp_path / 'r.mp3'}: its encoder (MPEG_LAYER_III) kept nothing above {prep.kept_top_hz:.0f} Hz: "
        "regions of interest and clicks are sought below it"
    ]
    assert process_recording(tmp_path / "r.mp3", config, None).rois == []
    flac = prepare(tmp_path / "r.flac", config, None)
    assert flac.kept_top_hz is None and flac.held_hz is None
    assert not any("kept nothing above" in w for w in flac.warnings)
    assert process_recording(tmp_path / "r.flac", config, None).rois == []


@pytest.mark.skipif(not HAS_MP3, reason="this libsndfile has no MP3")
def test_a_lossy_recording_keeps_its_calls_below_the_encoders_band(tmp_path):
    """The cap takes away the empty band, not the sound: upsweeps at 2-4 kHz in red noise are found
    in the MP3 as in the FLAC."""
    config = load_deployment(ROOT / "firmware-config" / "deployments" / "generic.yaml")
    x = red_noise(20, 6)
    t = np.arange(int(0.5 * RATE)) / RATE
    sweep = 0.02 * np.sin(2 * np.pi * (2000 * t + 2000 * t**2)) * np.hanning(len(t))
    for start_s in (3, 9, 15):
        x[int(start_s * RATE) : int(start_s * RATE) + len(t)] += sweep
    for name, fmt in (("s.mp3", "MP3"), ("s.flac", "FLAC")):
        sf.write(tmp_path / name, x, RATE, format=fmt)
    starts = {
        name: sorted(round(r.start_s) for r in process_recording(tmp_path / name, config, None).rois)
        for name in ("s.mp3", "s.flac")
    }
    assert starts["s.mp3"] == starts["s.flac"] == [3, 9, 15]


@pytest.mark.skipif(not HAS_MP3, reason="this libsndfile has no MP3")
def test_the_held_band_is_the_lower_of_the_encoders_and_the_resamplers(tmp_path):
    """An MP3 at 16 kHz analysed at 44.1 kHz: whichever band ends first caps the clicks."""
    config = load_deployment(ROOT / "firmware-config" / "deployments" / "multispecies.yaml")
    x = band_limited(red_noise(10, 7, rate=16000), 2200, -np.inf, rate=16000)  # nothing above 2.2 kHz
    sf.write(tmp_path / "low.mp3", x, 16000, format="MP3")
    prep = prepare(tmp_path / "low.mp3", config, None)
    assert prep.kept_top_hz is not None and 1800 <= prep.kept_top_hz <= 2300
    assert prep.held_hz == prep.kept_top_hz  # under the resampler's 0.91 x 8 kHz
    # the clicks band (from 2 kHz) then spans less than a quarter octave: no impulse detector
    res = process_recording(tmp_path / "low.mp3", config, None, keep_clicks=True)
    assert res.clicks == []


@pytest.mark.skipif(not HAS_MP3, reason="this libsndfile has no MP3")
def test_run_json_gives_the_encoders_band_and_cluster_units_find_the_same(tmp_path):
    """Measured from the recording's start, the band is the same for every reading of it: a cluster
    unit's chunk gets the whole run's ROIs and run.json says where the band ends."""
    import json

    from edge.cluster.engine import run_units
    from edge.cluster.task import run_unit
    from edge.detect import RunOptions, detect

    config = load_deployment(ROOT / "firmware-config" / "deployments" / "generic.yaml")
    x = red_noise(20, 3)
    t = np.arange(int(0.5 * RATE)) / RATE
    x[5 * RATE : 5 * RATE + len(t)] += 0.02 * np.sin(2 * np.pi * (3000 * t + 2000 * t**2)) * np.hanning(len(t))
    sf.write(tmp_path / "r.mp3", x, RATE, format="MP3")
    sf.write(tmp_path / "r.flac", x, RATE)
    options = RunOptions(outputs=frozenset({"csv"}))
    files = [tmp_path / "r.flac", tmp_path / "r.mp3"]
    detect(files, tmp_path / "whole", config, options)
    run_units(
        files, tmp_path / "units", config, options, chunk_s=4, execute=lambda us, job: [run_unit(u, job) for u in us]
    )
    assert (tmp_path / "units" / "detections.csv").read_bytes() == (tmp_path / "whole" / "detections.csv").read_bytes()
    run = json.loads((tmp_path / "whole" / "run.json").read_text())
    tops = {Path(f["file"]).name: f["encoder_top_hz"] for f in run["files"]}
    assert tops["r.flac"] is None and 12000 <= tops["r.mp3"] <= 19000
    rows = (tmp_path / "whole" / "detections.csv").read_text().splitlines()[1:]
    assert len(rows) == 2 and {r.split(",")[0].rsplit("/", 1)[-1] for r in rows} == {"r.flac", "r.mp3"}


@pytest.mark.skipif(not HAS_MP3, reason="this libsndfile has no MP3")
def test_noise_levels_end_where_the_encoders_band_does(tmp_path):
    """Levels above an encoder's low-pass are the decoder's zeros and stray bits, not the sea's:
    levels.csv leaves those bands empty and the HMD minutes end there; the FLAC keeps them all."""
    from edge.calibration import Calibration
    from edge.detect import soundscape_minutes

    config = load_deployment(ROOT / "firmware-config" / "deployments" / "generic.yaml")
    x = red_noise(20, 8)
    sf.write(tmp_path / "site_20240501_120000.mp3", x, RATE, format="MP3")
    sf.write(tmp_path / "site_20240501_120000.flac", x, RATE)
    lossy = process_recording(tmp_path / "site_20240501_120000.mp3", config, None)
    whole = process_recording(tmp_path / "site_20240501_120000.flac", config, None)
    top = prepare(tmp_path / "site_20240501_120000.mp3", config, None).kept_top_hz
    assert top is not None and lossy.level_bands == whole.level_bands
    upper = {b: float(b[5:-2]) * 10**0.05 for b in lossy.level_bands}  # nominal centres: within 1 %
    (mp3_row,), (flac_row,) = lossy.levels, whole.levels
    for band, mp3_db, flac_db in zip(lossy.level_bands, mp3_row.bands_db, flac_row.bands_db):
        assert np.isfinite(flac_db)
        if upper[band] > top * 1.02:
            assert np.isnan(mp3_db), band
        elif upper[band] < top * 0.98 and upper[band] < 8000:  # where the encoder spends its bits
            assert mp3_db == pytest.approx(flac_db, abs=1.0), band
    calibration = Calibration("default", 170.0)
    mp3, flac = probe(tmp_path / "site_20240501_120000.mp3"), probe(tmp_path / "site_20240501_120000.flac")
    mp3_minutes = soundscape_minutes(mp3, calibration, 0, config, encoder_top_hz=lossy.encoder_top_hz)
    flac_minutes = soundscape_minutes(flac, calibration, 0, config, encoder_top_hz=whole.encoder_top_hz)
    assert len(flac_minutes[0].psd) > len(mp3_minutes[0].psd) > 0
    assert len(mp3_minutes[0].psd) < len(flac_minutes[0].psd) * 0.95

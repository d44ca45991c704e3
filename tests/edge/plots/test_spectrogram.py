"""edge.plots.spectrogram: calibrated display spectrograms on the run's frame grid, with
memory bounded by the number of columns."""

from __future__ import annotations

import numpy as np
import pytest

from edge.calibration import Calibration
from edge.errors import AudioError
from edge.frontend import FrontendSpec
from edge.plots.spectrogram import DisplaySettings, band_bins, span_spectrogram
from tests.support.signals import tone

SR = 8000
SPEC = FrontendSpec(nfft=512, hop=256, sample_rate=SR)
CAL = Calibration("default", 170.0)


def band_spl(db: np.ndarray, bin_hz: float) -> np.ndarray:
    """SPL per column from PSD rows in dB re 1 uPa^2/Hz."""
    return 10 * np.log10(np.sum(10 ** (db.astype(np.float64) / 10), axis=0) * bin_hz)


def test_tone_level_is_calibrated_and_survives_column_averaging(write_audio):
    # 0.1 FS at 1 kHz with a full-scale SPL of 170 dB: 20 log10(0.1 / sqrt 2) + 170 = 146.99 dB
    path = write_audio("tone.wav", tone(1000, 0.1, 10, SR), SR, "FLOAT")
    full = span_spectrogram(path, spec=SPEC, calibration=CAL)
    averaged = span_spectrogram(path, spec=SPEC, calibration=CAL, settings=DisplaySettings(max_columns=7))
    assert full.frames_per_column == 1 and averaged.n_columns <= 7 and averaged.frames_per_column > 1
    for img in (full, averaged):
        assert np.allclose(band_spl(img.db, img.bin_hz), 146.99, atol=0.05)
    quieter = span_spectrogram(path, spec=SPEC, calibration=Calibration("x", 170.0, gain_db=6.0))
    assert np.allclose(quieter.db[full.db > 0] - full.db[full.db > 0], -6.0, atol=1e-3)


def test_columns_are_bounded_and_cover_the_file(write_audio, rng):
    path = write_audio("noise.wav", 0.01 * rng.standard_normal(60 * SR), SR)
    img = span_spectrogram(path, spec=SPEC, calibration=CAL, settings=DisplaySettings(max_columns=100, block_s=0.7))
    n_frames = (60 * SR - 512) // 256 + 1
    assert img.n_columns <= 100
    assert img.frames_per_column == -(-n_frames // 100)
    assert img.db.shape == (SPEC.n_bins - 1, img.n_columns)  # every bin but DC
    assert img.start_s == pytest.approx(128 / SR)  # half a hop before the first frame centre
    assert img.end_s == pytest.approx(((n_frames - 1) * 256 + 256 + 128) / SR)
    assert np.all(np.isfinite(img.db))


def test_a_span_is_on_the_frame_grid_of_the_whole_file(write_audio, rng):
    path = write_audio("noise.wav", 0.01 * rng.standard_normal(20 * SR), SR, "FLOAT")
    whole = span_spectrogram(path, spec=SPEC, calibration=CAL)
    span = span_spectrogram(path, spec=SPEC, calibration=CAL, start_s=3.3, end_s=5.0)
    k0 = int(3.3 * SR // 256)
    assert span.start_s == pytest.approx(whole.start_s + k0 * whole.column_s)
    np.testing.assert_allclose(span.db, whole.db[:, k0 : k0 + span.n_columns], atol=1e-4)
    assert span.end_s <= 5.0 + 256 / SR


def test_band_selection_and_dc(write_audio):
    path = write_audio("tone.wav", tone(1000, 0.1, 2, SR), SR)
    img = span_spectrogram(path, spec=SPEC, calibration=CAL, fmin=500, fmax=1500)
    df = SR / 512
    assert img.low_hz == pytest.approx(band_bins(SPEC, 500, 1500).start * df - df / 2)
    assert img.low_hz >= 500 - df and img.high_hz <= 1500 + df
    assert band_bins(SPEC, 0, 100).start == 1  # DC is the recorder's offset, never drawn


def test_a_recording_at_another_rate_is_drawn_resampled_as_the_chain_saw_it(write_audio):
    path = write_audio("tone.wav", tone(1000, 0.1, 2, SR), SR)
    spec = FrontendSpec(nfft=512, hop=256, sample_rate=4000)
    img = span_spectrogram(path, spec=spec, calibration=CAL)
    assert img.end_s == pytest.approx(2.0, abs=512 / 4000)
    peak = img.low_hz + (np.nanargmax(np.nanmean(img.db, axis=1)) + 0.5) * img.bin_hz
    assert peak == pytest.approx(1000, abs=img.bin_hz)


def test_a_recording_resampled_up_is_drawn_up_to_its_own_nyquist_frequency(write_audio):
    """Above it the stream holds only the resampler's residue: drawn, it squeezed a 4 kHz
    recording into the bottom tenth of a 44.1 kHz figure. A band asked for is drawn as asked."""
    path = write_audio("tone.wav", tone(1000, 0.1, 2, SR), SR)
    spec = FrontendSpec(nfft=1024, hop=512, sample_rate=48000)
    img = span_spectrogram(path, spec=spec, calibration=CAL)
    assert SR / 2 - img.bin_hz <= img.high_hz <= SR / 2 + img.bin_hz
    peak = img.low_hz + (np.nanargmax(np.nanmean(img.db, axis=1)) + 0.5) * img.bin_hz
    assert peak == pytest.approx(1000, abs=img.bin_hz)
    asked = span_spectrogram(path, spec=spec, calibration=CAL, fmin=100, fmax=12000)
    assert asked.high_hz >= 12000 - asked.bin_hz


def test_errors_name_the_file(write_audio, tmp_path):
    path = write_audio("tone.wav", tone(1000, 0.1, 1, SR), SR)
    with pytest.raises(AudioError, match="channel 1"):
        span_spectrogram(path, spec=SPEC, calibration=CAL, channel=1)
    with pytest.raises(ValueError, match="less than one 512-sample frame"):
        span_spectrogram(path, spec=SPEC, calibration=CAL, start_s=0.99, end_s=1.0)
    (tmp_path / "junk.wav").write_text("not audio")
    with pytest.raises(AudioError, match="junk.wav"):
        span_spectrogram(tmp_path / "junk.wav", spec=SPEC, calibration=CAL)

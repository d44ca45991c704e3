"""edge.frontend: the calibrated PSD, its streaming form, the spec's identity and the features."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.signal

from edge.errors import ConfigError
from edge.frontend import (
    FrontendSpec,
    StreamingFrontend,
    feature_bins,
    features,
    mel_filterbank,
    psd_scale,
    window_array,
)
from edge.types import AudioBlock

RATE = 2000


def psd_of(spec: FrontendSpec, samples: np.ndarray, bin_gain_db=0.0) -> np.ndarray:
    frames = StreamingFrontend(spec, bin_gain_db).push(AudioBlock(samples.astype(np.float32), 0))
    assert frames.first_frame == 0
    return frames.psd


@pytest.mark.parametrize("window", ["hann", "hamming", "blackman", "rect"])
@pytest.mark.parametrize(("nfft", "hop"), [(256, 64), (255, 100), (8, 8), (1024, 1024)])
def test_psd_matches_scipy_spectrogram(rng, window, nfft, hop):
    x = rng.standard_normal(20000).astype(np.float32)
    spec = FrontendSpec(nfft=nfft, hop=hop, window=window, sample_rate=RATE)
    psd = psd_of(spec, x)
    freqs, _, ref = scipy.signal.spectrogram(
        x.astype(np.float64),
        fs=RATE,
        window="boxcar" if window == "rect" else window,
        nperseg=nfft,
        noverlap=nfft - hop,
        nfft=nfft,
        detrend=False,
        scaling="density",
        mode="psd",
    )
    assert psd.dtype == np.float32
    assert psd.shape == ref.T.shape == ((20000 - nfft) // hop + 1, nfft // 2 + 1)
    np.testing.assert_allclose(spec.bin_freqs(), freqs)
    # float32 arithmetic: 1e-4 relative, plus a floor far below the typical bin for near-empty bins
    np.testing.assert_allclose(psd, ref.T, rtol=1e-4, atol=1e-5 * ref.mean())


def test_psd_applies_the_calibration_in_db(rng):
    x = (0.01 * rng.standard_normal(4096)).astype(np.float32)
    spec = FrontendSpec(nfft=256, hop=128, sample_rate=RATE)
    gain = np.linspace(150.0, 180.0, spec.n_bins)
    np.testing.assert_allclose(psd_of(spec, x, gain), psd_of(spec, x) * 10 ** (gain / 10), rtol=1e-5)


@pytest.mark.parametrize("window", ["hann", "rect"])
def test_white_noise_psd_integrates_to_variance_times_calibration(rng, window):
    sigma, cal_db = 0.05, 177.6
    x = (sigma * rng.standard_normal(200_000)).astype(np.float32)
    spec = FrontendSpec(nfft=512, hop=256, window=window, sample_rate=RATE)
    psd = psd_of(spec, x, cal_db).astype(np.float64)
    df = RATE / spec.nfft
    expected = sigma**2 * 10 ** (cal_db / 10)
    # Parseval, exactly per frame: sum(psd) df is the window-weighted mean square of the frame
    w = window_array(window, spec.nfft)
    frames = np.lib.stride_tricks.sliding_window_view(x.astype(np.float64), spec.nfft)[:: spec.hop]
    weighted_ms = (frames**2 * w**2).sum(axis=1) / (w**2).sum()
    np.testing.assert_allclose(psd.sum(axis=1) * df, weighted_ms * 10 ** (cal_db / 10), rtol=1e-4)
    # and on average the variance (781 frames: the mean is within about 1 %)
    assert psd.sum(axis=1).mean() * df == pytest.approx(expected, rel=0.02)
    # white: the level is flat across the band
    band = psd.mean(axis=0)[5:-5]
    assert band.mean() == pytest.approx(expected / (RATE / 2), rel=0.02)
    assert band.std() / band.mean() < 0.1


def test_tone_psd_peaks_at_its_bin_with_its_power():
    spec = FrontendSpec(nfft=256, hop=64, sample_rate=RATE)
    t = np.arange(RATE * 4) / RATE
    psd = psd_of(spec, 0.1 * np.sin(2 * np.pi * 250.0 * t))  # 250 Hz = bin 32 exactly
    assert np.all(psd.argmax(axis=1) == 32)
    np.testing.assert_allclose(psd.sum(axis=1) * RATE / spec.nfft, 0.005, rtol=1e-4)


def test_psd_scale_halves_dc_and_nyquist_only_for_even_nfft():
    even = psd_scale(FrontendSpec(nfft=8, hop=4, window="rect", sample_rate=8))
    np.testing.assert_allclose(even, [1 / 64, 2 / 64, 2 / 64, 2 / 64, 1 / 64])
    odd = psd_scale(FrontendSpec(nfft=9, hop=4, window="rect", sample_rate=9))
    np.testing.assert_allclose(odd, [1 / 81, 2 / 81, 2 / 81, 2 / 81, 2 / 81])


def test_streaming_with_random_blocks_equals_one_block_exactly(rng):
    x = rng.standard_normal(30000).astype(np.float32)
    spec = FrontendSpec(nfft=256, hop=64, sample_rate=RATE)
    gain = np.full(spec.n_bins, 170.0)
    whole = psd_of(spec, x, gain)
    frontend = StreamingFrontend(spec, gain)
    parts, expected_first, start = [], 0, 0
    while start < len(x):
        n = int(rng.choice([0, 1, 63, 64, 65, 255, 256, 257, int(rng.integers(1, 3000))]))
        frames = frontend.push(AudioBlock(x[start : start + n], start))
        assert frames.first_frame == expected_first
        assert frames.psd.shape[1] == spec.n_bins
        expected_first += frames.n_frames
        parts.append(frames.psd)
        start += n
    streamed = np.concatenate(parts)
    assert np.array_equal(streamed, whole)


def test_streaming_is_exact_when_grouped_and_leftover_transforms_round_differently(rng, monkeypatch):
    """pocketfft on 64-bit ARM transforms a batch four frames at a time (NEON lanes, fused
    multiply-adds) and the leftover frames one by one, and the two round differently: a
    transform with that property must still give the same bits for any block size."""
    import scipy.fft

    grouped_rfft = scipy.fft.rfft

    def lane_grouped_rfft(a, axis=-1):
        whole = len(a) // 4 * 4
        leftover = np.fft.rfft(a[whole:].astype(np.float64), axis=axis).astype(np.complex64)
        return np.concatenate([grouped_rfft(a[:whole], axis=axis), leftover])

    monkeypatch.setattr(scipy.fft, "rfft", lane_grouped_rfft)
    x = rng.standard_normal(20000).astype(np.float32)
    spec = FrontendSpec(nfft=256, hop=64, sample_rate=RATE)
    whole = psd_of(spec, x)
    frontend = StreamingFrontend(spec)
    parts, start = [], 0
    while start < len(x):
        n = int(rng.choice([1, 64, 65, 257, 300, int(rng.integers(1, 3000))]))
        parts.append(frontend.push(AudioBlock(x[start : start + n], start)).psd)
        start += n
    assert np.array_equal(np.concatenate(parts), whole)


def test_streaming_block_shorter_than_a_frame_returns_no_frames():
    spec = FrontendSpec(nfft=256, hop=64, sample_rate=RATE)
    frames = StreamingFrontend(spec).push(AudioBlock(np.zeros(255, np.float32), 0))
    assert frames.psd.shape == (0, 129) and frames.first_frame == 0


def test_spec_hash_is_stable_across_instances_and_interpreters():
    spec = FrontendSpec(nfft=256, hop=64, fmin=0.0, fmax=500.0, sample_rate=RATE)
    assert spec.hash == FrontendSpec(nfft=256, hop=64, fmin=0.0, fmax=500.0, sample_rate=RATE).hash
    assert len(spec.hash) == 16 and int(spec.hash, 16) >= 0
    code = (
        "from edge.frontend import FrontendSpec; "
        "print(FrontendSpec(nfft=256, hop=64, fmin=0.0, fmax=500.0, sample_rate=2000).hash)"
    )
    other = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
        timeout=300,
    )
    assert other.stdout.strip() == spec.hash


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("nfft", 512),
        ("hop", 32),
        ("window", "hamming"),
        ("fmin", 10.0),
        ("fmax", 400.0),
        ("n_mels", 32),
        ("sample_rate", 4000),
    ],
)
def test_spec_hash_changes_with_every_field(field, value):
    spec = FrontendSpec(nfft=256, hop=64, fmin=0.0, fmax=500.0, sample_rate=RATE)
    assert spec.hash != dataclasses.replace(spec, **{field: value}).hash


def test_spec_hash_does_not_depend_on_int_or_float():
    a = FrontendSpec(nfft=256, hop=64, fmin=0, fmax=500, sample_rate=RATE)
    b = FrontendSpec(nfft=256, hop=64, fmin=0.0, fmax=500.0, sample_rate=RATE)
    assert a == b
    assert a.hash == b.hash


def test_bound():
    spec = FrontendSpec(nfft=256, hop=64)
    bound = spec.bound(RATE)
    assert bound.sample_rate == RATE and spec.sample_rate is None
    assert dataclasses.replace(bound, sample_rate=None) == spec
    assert bound.bound(48000) is bound  # already bound: unchanged
    assert bound.frame_s == 0.128 and bound.hop_s == 0.032
    np.testing.assert_allclose(bound.bin_freqs()[:3], [0.0, 7.8125, 15.625])
    assert bound.bin_freqs()[-1] == 1000.0
    with pytest.raises(ValueError, match=r"not bound to a sample rate: call \.bound\(rate\)"):
        spec.bin_freqs()
    with pytest.raises(ConfigError, match=r"fmax=1500 is above the Nyquist frequency of sample_rate=2000"):
        FrontendSpec(fmax=1500).bound(RATE)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"nfft": 0}, r"nfft=0 must be >= 8"),
        ({"nfft": 256.0}, r"nfft=256\.0 is not an integer"),
        ({"nfft": 256, "hop": 512}, r"hop=512 must be <= nfft=256"),
        ({"hop": 0}, r"hop=0 must be >= 1"),
        ({"window": "kaiser"}, r"window='kaiser' is not one of hann, hamming, blackman, rect"),
        ({"fmin": -1}, r"fmin=-1 must be >= 0"),
        ({"fmax": 0}, r"fmax=0 must be > 0"),
        ({"fmin": 500, "fmax": 400}, r"fmax=400 must be > fmin=500"),
        ({"n_mels": 0}, r"n_mels=0 must be >= 1"),
        ({"sample_rate": "2k"}, r"sample_rate='2k' is not an integer"),
        ({"fmax": 1001, "sample_rate": 2000}, r"fmax=1001 is above the Nyquist frequency of sample_rate=2000"),
        ({"fmin": True}, r"fmin=True is not a number"),
    ],
)
def test_spec_validation_names_the_value(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        FrontendSpec(**kwargs)


def test_features_crop_the_band_to_db():
    spec = FrontendSpec(nfft=256, hop=64, fmin=100.0, fmax=500.0, sample_rate=RATE)
    bins = feature_bins(spec)
    assert (bins.start, bins.stop) == (13, 65)  # 101.6 .. 500.0 Hz
    psd = np.full((3, spec.n_bins), 1000.0, np.float32)
    psd[1, 13] = 0.0  # digital silence stays finite: clipped at floor_db
    out = features(spec, psd)
    assert out.shape == (3, 52) and out.dtype == np.float32
    assert out[0, 0] == pytest.approx(30.0)
    assert out[1, 0] == pytest.approx(-20.0)
    assert features(spec, psd, floor_db=-50.0)[1, 0] == pytest.approx(-50.0)


def test_features_whole_band_when_unset():
    spec = FrontendSpec(nfft=64, hop=32, sample_rate=RATE)
    assert features(spec, np.ones((2, 33), np.float32)).shape == (2, 33)


def test_mel_features_shape_and_filterbank():
    spec = FrontendSpec(nfft=1024, hop=512, fmin=50.0, fmax=900.0, n_mels=24, sample_rate=RATE)
    bank = mel_filterbank(spec)
    assert bank.shape == (24, spec.n_bins)
    freqs = spec.bin_freqs()
    assert np.all(bank[:, (freqs <= 50.0) | (freqs >= 900.0)] == 0)
    assert bank.max() <= 1.0 and np.all(bank.max(axis=1) > 0.5)
    peaks = freqs[bank.argmax(axis=1)]
    assert np.all(np.diff(peaks) > 0)  # filters rise in frequency
    out = features(spec, np.full((5, spec.n_bins), 10.0, np.float32))
    assert out.shape == (5, 24) and out.dtype == np.float32


def test_band_without_bins_is_rejected_by_name():
    with pytest.raises(ValueError, match="fmin=100.0..fmax=101.0 Hz holds no frequency bin"):
        FrontendSpec(nfft=256, hop=64, fmin=100.0, fmax=101.0, sample_rate=RATE)
    with pytest.raises(ValueError, match="holds no frequency bin"):
        FrontendSpec(nfft=256, hop=64, fmin=1500.0, sample_rate=RATE)  # fmin above Nyquist
    assert feature_bins(FrontendSpec(nfft=256, hop=64, fmin=100.0, fmax=110.0, sample_rate=RATE)) == slice(13, 15)

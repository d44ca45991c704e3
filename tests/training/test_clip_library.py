"""Clip-library training: grouped folds, band-limited renderings, synthetic clips in real ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("torch", reason="needs the train extra")

from edge.audio import probe
from edge.config import load_deployment
from tests.support.data import DEPLOYMENTS
from training.datasets import band_limited, band_tiers, build_clips, codec_copy
from training.folds import deal, print_summaries, summarise, summarise_rows
from training.sources import synthetic_clips
from training.synth import band_power, dolphins, minke, sperm_clicks
from training.types import TrainConfigError


def test_deal_puts_every_group_in_one_fold_and_spreads_each_class():
    groups = {f"k{i}": "killer_whale" for i in range(11)} | {f"m{i}": "minke" for i in range(3)}
    folds = deal(groups, 5)
    flat = [g for f in folds for g in f]
    assert sorted(flat) == sorted(groups)
    killer = [sum(g.startswith("k") for g in f) for f in folds]
    assert max(killer) - min(killer) <= 1  # 11 groups over 5 folds: 2 or 3 each
    assert sum(any(g.startswith("m") for g in f) for f in folds) == 3  # 3 minke groups in 3 folds
    assert deal(groups, 5) == folds  # stable


def test_summarise_counts_top1_and_top3_per_class():
    rows = [
        {"label": "a", "group": "g1", "top1": True, "top3": True},
        {"label": "a", "group": "g1", "top1": False, "top3": True},
        {"label": "b", "group": "g2", "top1": False, "top3": False},
    ]
    s = summarise(rows)
    assert s["top1"] == pytest.approx(1 / 3) and s["top3"] == pytest.approx(2 / 3)
    assert s["classes"]["a"] == {"recordings": 2, "groups": 1, "top1": 0.5, "top3": 1.0}
    assert s["class_mean_top1"] == pytest.approx(0.25)


def test_the_benchmarks_table_gives_each_set_its_counts_per_class_and_names_the_misranked(capsys):
    row = {"label": "a", "group": "g1", "top1": True, "top3": True, "file": "x.wav", "ranking": ["a 0.9"]}
    wrong = {**row, "label": "b", "top1": False, "file": "y.wav", "ranking": ["a 0.6"]}
    result = summarise_rows({"whole": [row, wrong], "1 s": [row]})
    assert result["whole"]["misranked"] == ["y.wav (b): a 0.6"] and result["1 s"]["misranked"] == []
    print_summaries(result, "cut to")
    head, whole, short = capsys.readouterr().out.splitlines()
    assert head.split()[:2] == ["cut", "to"] and head.split()[-2:] == ["a", "b"]
    assert whole.split() == ["whole", "2", "0.500", "1.000", "0.500", "1/1", "0/1"]
    assert short.split() == ["1", "s", "1", "1.000", "1.000", "1.000", "1/1", "-"]


def test_a_band_limited_rendering_keeps_the_band_below_its_nyquist(tmp_path):
    rate = 44100
    t = np.arange(rate) / rate
    x = 0.3 * np.sin(2 * np.pi * 1000 * t) + 0.3 * np.sin(2 * np.pi * 9000 * t)
    clip = tmp_path / "clip.wav"
    sf.write(clip, x.astype(np.float32), rate)
    out = band_limited(clip, 8000, 0, tmp_path / "work")
    assert probe(out).sample_rate == 8000
    y, _ = sf.read(out)
    spectrum = np.abs(np.fft.rfft(y[1000:-1000] * np.hanning(len(y) - 2000)))
    freqs = np.fft.rfftfreq(len(y) - 2000, 1 / 8000)
    assert abs(freqs[np.argmax(spectrum)] - 1000) < 2  # the 1 kHz tone stays, 9 kHz is gone
    assert out.stat().st_mtime_ns == band_limited(clip, 8000, 0, tmp_path / "work").stat().st_mtime_ns  # cached
    # the clip replaced in place (another tone) is rendered anew, never the stale rendering
    sf.write(clip, (0.3 * np.sin(2 * np.pi * 2000 * np.arange(2 * rate) / rate)).astype(np.float32), rate)
    y, _ = sf.read(band_limited(clip, 8000, 0, tmp_path / "work"))
    spectrum = np.abs(np.fft.rfft(y[1000:-1000] * np.hanning(len(y) - 2000)))
    assert abs(np.fft.rfftfreq(len(y) - 2000, 1 / 8000)[np.argmax(spectrum)] - 2000) < 2


def test_a_rendering_of_another_channel_is_another_file(tmp_path):
    rate = 16000
    t = np.arange(rate) / rate
    clip = tmp_path / "stereo.wav"
    sf.write(
        clip,
        np.stack([np.sin(2 * np.pi * 500 * t), np.sin(2 * np.pi * 1500 * t)], axis=1).astype(np.float32) * 0.3,
        rate,
    )
    peaks = []
    for channel in (0, 1):
        y, _ = sf.read(band_limited(clip, 4000, channel, tmp_path / "work"))
        spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
        peaks.append(np.fft.rfftfreq(len(y), 1 / 4000)[np.argmax(spectrum)])
    assert abs(peaks[0] - 500) < 5 and abs(peaks[1] - 1500) < 5


def test_an_mp3_copy_is_the_same_sound_at_the_same_rate_and_none_where_mp3_cannot_hold_the_rate(tmp_path):
    rate = 44100
    t = np.arange(2 * rate) / rate
    clip = tmp_path / "clip.wav"
    sf.write(clip, (0.3 * np.sin(2 * np.pi * 3000 * t)).astype(np.float32), rate)
    out = codec_copy(clip, "mp3", 0, tmp_path / "work")
    assert out is not None and out.suffix == ".mp3" and sf.info(str(out)).format == "MP3"
    y, got_rate = sf.read(out)
    assert got_rate == rate and abs(len(y) - len(t)) < 0.1 * rate  # the encoder's delay and padding aside
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    assert abs(np.fft.rfftfreq(len(y), 1 / rate)[np.argmax(spectrum)] - 3000) < 2
    assert 0.25 < np.sqrt(2 * np.mean(y[rate // 2 : -rate // 2] ** 2)) < 0.35  # level kept
    assert out.stat().st_mtime_ns == codec_copy(clip, "mp3", 0, tmp_path / "work").stat().st_mtime_ns  # cached
    odd = tmp_path / "odd.wav"
    sf.write(odd, np.zeros(36000, np.float32), 36000)  # MPEG layer III holds no 36 kHz
    assert codec_copy(odd, "mp3", 0, tmp_path / "work") is None


def test_each_clip_also_enters_as_an_mp3_of_itself_in_its_group(tmp_path):
    config = load_deployment(DEPLOYMENTS / "multispecies.yaml")
    rng = np.random.default_rng(5)
    entries = []
    for label, rate in (("humpback", 48000), ("dolphin", 96000)):
        p = tmp_path / f"{label}.wav"
        sf.write(p, (0.01 * rng.standard_normal(rate * 3)).astype(np.float32), rate)
        entries.append((p, label, f"g-{label}"))
    kwargs = {"window_s": 2.0, "max_windows_per_clip": 1, "band_limits": (16000,)}
    plain = build_clips(entries, config, work=tmp_path / "w", **kwargs)
    lossy = build_clips(entries, config, work=tmp_path / "w", codecs=("mp3",), **kwargs)
    new = [r for r in lossy.refs if r not in plain.refs]
    # one MP3 per clip MP3 can hold (48 kHz, not 96), at its own rate and in its group; renderings
    # at lower rates are of the clips, not of their MP3s
    assert [(Path(r.source).suffix, r.label, r.group) for r in new] == [(".mp3", "humpback", "g-humpback")]
    assert probe(new[0].source).sample_rate == 48000
    assert len(lossy.refs) == len(plain.refs) + 1


def test_sperm_clicks_are_a_regular_broadband_train(rng):
    x, low, high = sperm_clicks(rng, 48000, duration_s=4.0)
    assert (low, high) == (2000.0, 20000.0)
    envelope = np.abs(x) > 0.3
    onsets = np.flatnonzero(envelope[1:] & ~envelope[:-1])
    clicks = onsets[np.insert(np.diff(onsets) > 0.03 * 48000, 0, True)]  # pulses of one click are one
    assert len(clicks) >= 3
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / 48000)
    assert spectrum[(freqs > 2000) & (freqs < 20000)].sum() > 0.9 * spectrum.sum()


def test_synthetic_clips_take_the_group_of_their_background_and_are_reused(tmp_path):
    rng = np.random.default_rng(2)
    entries = []
    for i, rate in enumerate((48000, 8000)):
        p = tmp_path / f"bg{i}.wav"
        sf.write(p, (0.01 * rng.standard_normal(rate * 5)).astype(np.float32), rate)
        entries.append((p, "other", f"site{i}"))
    settings = {"sperm": {"call": "sperm_clicks", "count": 4, "into": "other", "min_rate": 32000, "duration_s": 3}}
    made = synthetic_clips(entries, settings, tmp_path / "syn", seed=1)
    assert [(label, group) for _, label, group in made] == [("sperm", "site0")] * 4  # only the 48 kHz clip
    assert all(probe(p).sample_rate == 48000 and abs(probe(p).duration_s - 3) < 1e-3 for p, _, _ in made)
    stamp = [p.stat().st_mtime_ns for p, _, _ in made]
    again = synthetic_clips(entries, settings, tmp_path / "syn", seed=1)
    assert again == made and [p.stat().st_mtime_ns for p, _, _ in again] == stamp


def test_a_label_is_not_rendered_below_its_band_limit_floor(tmp_path):
    config = load_deployment(DEPLOYMENTS / "multispecies.yaml")
    rng = np.random.default_rng(4)
    entries = []
    for label in ("dolphin", "humpback"):
        p = tmp_path / f"{label}.wav"
        sf.write(p, (0.01 * rng.standard_normal(44100 * 3)).astype(np.float32), 44100)
        entries.append((p, label, label))
    kwargs = {"window_s": 2.0, "max_windows_per_clip": 1, "band_limits": (4000, 8000, 16000)}
    every = build_clips(entries, config, work=tmp_path / "w", **kwargs)
    floored = build_clips(entries, config, work=tmp_path / "w", band_limit_floor={"dolphin": 16000}, **kwargs)
    rates = sorted(probe(r.source).sample_rate for r in floored.refs if r.label == "dolphin")
    assert sorted(r.label for r in every.refs).count("dolphin") == 4  # 44.1 kHz and three renderings
    assert rates == [16000, 44100]  # 4 and 8 kHz hold none of a dolphin's band
    assert [r.label for r in floored.refs].count("humpback") == 4  # a label not named: every rate
    # each window's band tier (train.balance: class_and_band) is its rendering's
    tiers = band_tiers(every, (4000, 8000, 16000))
    assert sorted(t for t, r in zip(tiers.tolist(), every.refs) if r.label == "humpback") == [0, 4000, 8000, 16000]


def test_dolphins_are_tonal_whistles_with_fast_click_trains_one_time_in_two():
    rng = np.random.default_rng(7)
    with_clicks = 0
    for _ in range(8):
        x, low, high = dolphins(rng, 48000, duration_s=4.0)
        assert 4000 <= low < high <= 0.48 * 48000
        assert band_power(x, 48000, 3500, 24000) > 0.95 * band_power(x, 48000, 0, 24000)
        # tonal: the loud 20-ms frames mostly hold their power in a few bins, unlike noise or clicks
        frames = x[: len(x) // 960 * 960].reshape(-1, 960)
        loud = frames[np.sqrt(np.mean(frames**2, axis=1)) > 0.05]
        spectra = np.abs(np.fft.rfft(loud * np.hanning(960), axis=1)) ** 2
        top = np.sort(spectra, axis=1)[:, -6:].sum(axis=1) / spectra.sum(axis=1)
        assert len(loud) > 0.3 * len(frames) and np.median(top) > 0.5
        # echolocation clicks: power above the whistles' band, in short pulses under 150 ms apart
        y = np.fft.irfft(np.where(np.fft.rfftfreq(len(x), 1 / 48000) > 19000, np.fft.rfft(x), 0), len(x))
        peaks = np.flatnonzero(np.abs(y) > 0.5 * np.abs(y).max())
        onsets = peaks[np.insert(np.diff(peaks) > 0.005 * 48000, 0, True)]
        if np.abs(y).max() > 0.05:
            with_clicks += 1
            assert len(onsets) >= 5 and np.median(np.diff(onsets)) < 0.16 * 48000
    assert 2 <= with_clicks <= 6
    with pytest.raises(ValueError, match="Nyquist"):
        dolphins(rng, 8000)


def test_minke_calls_are_pulsed_boings_near_1_4_khz_or_low_pulse_trains():
    rng = np.random.default_rng(5)
    kinds = []
    for _ in range(8):
        x, low, high = minke(rng, 44100, duration_s=5.0)
        spectrum = np.abs(np.fft.rfft(x)) ** 2
        freqs = np.fft.rfftfreq(len(x), 1 / 44100)
        if low > 500:  # a boing: a tone at 1.3-1.5 kHz with sidebands one pulse rate (90-120 Hz) apart
            kinds.append("boing")
            peak = freqs[np.argmax(spectrum)]
            assert 1250 <= peak <= 1550 and low < peak < high
            side = spectrum[(freqs > peak + 80) & (freqs < peak + 130)].max()
            gap = spectrum[(freqs > peak + 20) & (freqs < peak + 60)].mean()
            assert side > 10 * gap
        else:  # a pulse train: low-frequency pulses 0.3-0.8 s apart (drifting by up to 30 %)
            kinds.append("train")
            assert spectrum[freqs < 1000].sum() > 0.9 * spectrum.sum()
            env = np.convolve(np.abs(x), np.ones(441) / 441, mode="same")
            onsets = np.flatnonzero((env[1:] > 0.2 * env.max()) & (env[:-1] <= 0.2 * env.max()))
            gaps = np.diff(onsets) / 44100
            assert len(onsets) >= 4 and 0.2 <= np.median(gaps) <= 1.05
    assert set(kinds) == {"boing", "train"}


def test_a_clip_padded_with_digital_silence_trains_as_its_sound_and_silence_alone_is_refused(tmp_path):
    """As edge.ranking ranks it: the zeros and the frames holding part of them left out."""
    config = load_deployment(DEPLOYMENTS / "multispecies.yaml")
    x = (0.01 * np.random.default_rng(2).standard_normal(44100 * 3)).astype(np.float32)
    gap = np.zeros(44100, np.float32)
    plain, padded, silent = tmp_path / "plain.wav", tmp_path / "padded.wav", tmp_path / "silent.wav"
    sf.write(plain, x, 44100, subtype="FLOAT")
    sf.write(padded, np.concatenate([gap, x, gap]), 44100, subtype="FLOAT")
    sf.write(silent, np.concatenate([gap, gap]), 44100, subtype="FLOAT")
    kwargs = {"window_s": 2.0, "max_windows_per_clip": 1}
    a = build_clips([(plain, "humpback", "a")], config, **kwargs)
    b = build_clips([(padded, "humpback", "b")], config, **kwargs)
    # frames of noise alike (levels within a dB), none at the feature floor (-20 dB)
    assert a.x.shape == b.x.shape and b.x.min() > 0 and abs(float(np.median(a.x) - np.median(b.x))) < 1
    with pytest.raises(TrainConfigError, match="silent.wav: digital silence throughout"):
        build_clips([(silent, "humpback", "c")], config, **kwargs)

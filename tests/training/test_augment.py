"""Augmentation and class-balanced sampling."""

from __future__ import annotations

import numpy as np
import pytest

from edge.errors import ConfigError
from training.augment import AugmentSettings, augment, balanced_indices, mixup


def test_augment_is_seeded_and_keeps_shape(rng):
    x = rng.normal(60, 5, (32, 20)).astype(np.float32)
    bg = rng.normal(50, 5, (4, 32, 20)).astype(np.float32)
    s = AugmentSettings(background_p=1.0)
    a = augment(x, np.random.default_rng(1), s, bg)
    b = augment(x, np.random.default_rng(1), s, bg)
    assert a.shape == x.shape and a.dtype == np.float32 and np.array_equal(a, b)
    assert not np.array_equal(a, x)


def test_background_mixing_only_adds_power(rng):
    x = rng.normal(60, 5, (16, 8)).astype(np.float32)
    bg = rng.normal(55, 5, (1, 16, 8)).astype(np.float32)
    s = AugmentSettings(background_p=1.0, gain_db=0, shift_frames=0, time_masks=0, freq_masks=0)
    out = augment(x, rng, s, bg)
    assert np.all(out >= x - 1e-4)


def test_masks_fill_with_the_median(rng):
    x = rng.normal(60, 5, (40, 30)).astype(np.float32)
    s = AugmentSettings(background_p=0, gain_db=0, shift_frames=0, time_masks=1, time_mask_frames=40, freq_masks=0)
    out = augment(x, np.random.default_rng(5), s)
    masked = np.all(out == np.float32(np.median(x)), axis=1)
    assert masked.any()  # a mask of at least one frame was drawn with this seed
    assert np.array_equal(out[~masked], x[~masked])  # the other frames are untouched


def test_balanced_sampling(rng):
    y = np.array([0] * 950 + [1] * 50)
    idx = balanced_indices(y, 20000, rng)
    assert abs(np.mean(y[idx]) - 0.5) < 0.02


def test_band_balanced_sampling_gives_every_class_the_pooled_mix_of_bands(rng):
    """Class 0 holds mostly low-rate windows (tier 4000), class 1 mostly full-band ones (0):
    with ``bands`` each class is drawn with the pooled mix of its tiers, and still equally often;
    a class holding one tier only keeps it."""
    y = np.array([0] * 800 + [1] * 200 + [2] * 100)
    bands = np.array([4000] * 600 + [0] * 200 + [4000] * 20 + [0] * 180 + [0] * 100)
    idx = balanced_indices(y, 60000, rng, bands)
    pooled_low = 620 / 1100
    for c in (0, 1):
        mine = idx[y[idx] == c]
        assert abs(np.mean(bands[mine] == 4000) - pooled_low) < 0.02
    assert all(abs(np.mean(y[idx] == c) - 1 / 3) < 0.02 for c in (0, 1, 2))
    assert np.all(bands[idx[y[idx] == 2]] == 0)
    plain = balanced_indices(y, 60000, np.random.default_rng(0))  # without bands: class 0's own mix
    assert abs(np.mean(bands[plain[y[plain] == 0]] == 4000) - 0.75) < 0.02


def test_band_tiers_from_each_windows_recording_rate(tmp_path):
    import soundfile as sf

    from edge.frontend import FrontendSpec
    from training.datasets import Dataset, band_tiers
    from training.types import TrainConfigError, WindowRef

    refs = []
    for rate in (2000, 4000, 11025, 44100):
        path = tmp_path / f"r{rate}.wav"
        sf.write(path, np.zeros(rate // 10), rate)
        refs.append(WindowRef(str(path), "g", 0.0, "a", "clip"))
    ds = Dataset(np.zeros((4, 2, 2), np.float32), np.zeros(4, int), ("a",), refs, FrontendSpec())
    assert band_tiers(ds, [4000, 8000, 16000]).tolist() == [4000, 4000, 16000, 0]
    refs.append(WindowRef(str(tmp_path / "gone.wav"), "g", 0.0, "a", "clip"))
    gone = Dataset(np.zeros((5, 2, 2), np.float32), np.zeros(5, int), ("a",), refs, FrontendSpec())
    with pytest.raises(TrainConfigError, match="gone.wav: its sample rate is needed"):
        band_tiers(gone, [4000])


def test_settings_validated():
    with pytest.raises(ConfigError, match="background_p=2"):
        AugmentSettings(background_p=2)
    with pytest.raises(ConfigError, match="snr_db"):
        AugmentSettings(snr_db=(10, 0))


def test_frequency_shift_moves_the_call_and_repeats_the_edge_bin():
    from training.augment import shift_bins

    x = np.zeros((4, 8), np.float32)
    x[:, 3] = 10.0  # a tone in bin 3
    x[:, 0], x[:, 7] = 1.0, 2.0
    up, down = shift_bins(x, 2), shift_bins(x, -2)
    assert np.flatnonzero(up[0] == 10.0).tolist() == [5] and np.flatnonzero(down[0] == 10.0).tolist() == [1]
    assert up[0, :3].tolist() == [1.0, 1.0, 1.0] and down[0, -3:].tolist() == [2.0, 2.0, 2.0]  # not wrapped
    assert shift_bins(x, 0) is x


def test_no_frequency_shift_draws_nothing_so_older_recipes_augment_as_before():
    x = np.random.default_rng(0).normal(size=(10, 6)).astype(np.float32)
    off = AugmentSettings(shift_bins=0)
    a = augment(x, np.random.default_rng(3), off)
    b = augment(x, np.random.default_rng(3), AugmentSettings())
    assert np.array_equal(a, b)
    shifted = [
        augment(
            x,
            np.random.default_rng(s),
            AugmentSettings(shift_bins=2, gain_db=0, shift_frames=0, time_masks=0, freq_masks=0),
        )
        for s in range(20)
    ]
    assert any(not np.array_equal(s, x) for s in shifted)


@pytest.mark.parametrize("seed", range(5))
def test_mixup_mixes_each_window_and_its_target_with_one_partner_by_one_weight(seed):
    """Four windows of four classes (one-hot targets, so each mixed target names its window's
    weight and its partner): every window is lam * itself + (1 - lam) * its partner, one lam."""
    x = np.random.default_rng(seed).normal(size=(4, 6, 5)).astype(np.float32)
    t = np.eye(4, dtype=np.float32)
    mixed, target = mixup(x, t, 0.4, np.random.default_rng(seed))
    again = mixup(x, t, 0.4, np.random.default_rng(seed))
    assert np.array_equal(mixed, again[0]) and np.array_equal(target, again[1])  # seeded
    assert mixed.shape == x.shape and mixed.dtype == target.dtype == np.float32
    assert np.allclose(target.sum(axis=1), 1.0)
    lams = set()
    for i in range(4):
        lam = target[i, i] if target[i, i] < 1 else None  # 1: the window drew itself
        if lam is None:
            assert np.allclose(mixed[i], x[i], atol=1e-6)
            continue
        partner = int(np.argmax(np.where(np.arange(4) == i, -1, target[i])))
        assert np.allclose(mixed[i], lam * x[i] + (1 - lam) * x[partner], atol=1e-5)
        lams.add(round(float(lam), 5))
    assert len(lams) <= 1 and all(0 <= lam <= 1 for lam in lams)


def window_with_a_call(seed: int, frames: tuple[int, int]) -> tuple[np.ndarray, int, int]:
    """A window of noise with a call in one frame (its index), and a clip length drawn in ``frames``."""
    rng = np.random.default_rng(seed)
    x = rng.normal(50, 1, (40, 6)).astype(np.float32)
    loud = int(rng.integers(0, 40))
    x[loud] += 30
    return x, loud, int(rng.integers(*frames))


def rows_of(out: np.ndarray, x: np.ndarray) -> list[int]:
    """Which frame of ``x`` each frame of ``out`` is."""
    return [int(np.flatnonzero((x == r).all(axis=1))[0]) for r in out]


@pytest.mark.parametrize("seed", range(8))
def test_a_shortened_window_is_a_short_clip_around_the_loudest_frame_padded_as_clips_are(seed):
    """What build_clips makes of a clip of ``frames`` frames (its window at a random negative
    start, edge frames repeated), cut from the window around its loudest frame."""
    from training.augment import shorten
    from training.features import RecordingFeatures

    x, loud, frames = window_with_a_call(seed, (1, 40))
    out = shorten(x, frames, np.random.default_rng(seed))
    assert out.shape == x.shape
    rows = rows_of(out, x)
    kept = sorted(set(rows))
    assert kept == list(range(kept[0], kept[0] + frames)) and loud in kept  # consecutive, the call kept
    offset = rows.count(kept[0]) - 1  # frames of padding before the clip's first
    clip = RecordingFeatures("clip", None, x[kept[0] : kept[0] + frames], [], 0.0)  # type: ignore[arg-type]
    assert np.array_equal(out, clip.window(-offset, len(x)))


@pytest.mark.parametrize("seed", range(8))
def test_a_shortened_window_is_looped_when_the_model_loops_short_clips(seed):
    """With ``pad: loop`` the cut is what build_clips makes of a clip of ``frames`` frames with
    the same padding: the clip repeated, at some rotation."""
    from edge.crops import window_frames
    from training.augment import shorten

    x, loud, frames = window_with_a_call(seed, (2, 30))
    out = shorten(x, frames, np.random.default_rng(seed), "loop")
    rows = rows_of(out, x)
    first = min(rows)
    assert sorted(set(rows)) == list(range(first, first + frames)) and loud in rows
    # every frame of the clip is followed by the next, the last by the first
    assert all((b - first) == (a - first + 1) % frames for a, b in zip(rows, rows[1:]))
    offset = (first - rows[0]) % frames
    assert np.array_equal(out, x[first + window_frames([-offset], len(x), frames, "loop")[0]])


# only the option under test draws: no gain, shift or masks
QUIET = {"gain_db": 0, "shift_frames": 0, "time_masks": 0, "freq_masks": 0}


def assert_off_draws_nothing(x: np.ndarray, **off) -> None:
    """An option at its 'off' value augments as the defaults do, draw for draw (older recipes
    augment as before)."""
    assert np.array_equal(
        augment(x, np.random.default_rng(3), AugmentSettings(**off, **QUIET)),
        augment(x, np.random.default_rng(3), AugmentSettings(**QUIET)),
    )


def test_no_short_clips_draws_nothing_and_every_window_is_shortened_at_one():
    x = np.random.default_rng(0).normal(50, 1, (20, 4)).astype(np.float32)
    assert_off_draws_nothing(x, short_p=0)
    for s in range(10):
        out = augment(x, np.random.default_rng(s), AugmentSettings(short_p=1, short_frac=(0.3, 0.5), **QUIET))
        assert len({r.tobytes() for r in out}) <= 10  # at most half the frames are the clip's own


def test_short_clip_settings_validated():
    with pytest.raises(ConfigError, match="short_p=1.5"):
        AugmentSettings(short_p=1.5)
    with pytest.raises(ConfigError, match="short_frac"):
        AugmentSettings(short_frac=(0.0, 0.5))


def test_tonal_lines_are_a_harmonic_family_over_each_bins_floor():
    """Flat noise at 40 dB: a family of lines raises the fundamental's bin and its harmonics'
    by about lines_db (added in power) and leaves bins two or more from every line near 40 dB."""
    from training.augment import add_lines

    x = np.full((30, 40), 40.0, np.float32)
    x[:, 20:] = 60.0  # a louder upper band: each line sits over its own bin's floor
    s = AugmentSettings(lines_p=1, lines_db=(10, 10), lines_fundamental_bins=(8, 8), lines_harmonics=6)
    out = add_lines(x, np.random.default_rng(2), s)
    assert out.shape == x.shape and out.dtype == np.float32
    rise = out - x
    for centre in (8, 16, 24, 32):  # the fifth harmonic (bin 40) lies above the band
        assert np.all(rise[:, centre] > 9.0) and np.all(rise[:, centre] < 10.5)
    far = [b for b in range(40) if min(abs(b - c) for c in (8, 16, 24, 32)) >= 3]
    assert np.all(rise[:, far] < 0.1)
    assert np.all(rise >= 0)  # lines only add power


def test_no_lines_draws_nothing_and_lines_on_add_a_few_lines():
    x = np.random.default_rng(0).normal(50, 1, (20, 30)).astype(np.float32)
    assert_off_draws_nothing(x, lines_p=0)
    lined = augment(x, np.random.default_rng(3), AugmentSettings(lines_p=1, lines_db=(12, 12), **QUIET))
    loud = (lined - x).mean(axis=0) > 6  # bins a line holds, over the whole window
    assert 1 <= loud.sum() <= 4 * 3  # up to lines_harmonics lines, each within a bin or so


def test_line_settings_validated():
    with pytest.raises(ConfigError, match="lines_p=2"):
        AugmentSettings(lines_p=2)
    with pytest.raises(ConfigError, match="lines_db"):
        AugmentSettings(lines_db=(15, 3))
    with pytest.raises(ConfigError, match="lines_fundamental_bins"):
        AugmentSettings(lines_fundamental_bins=(0.5, 4))
    with pytest.raises(ConfigError, match="lines_harmonics"):
        AugmentSettings(lines_harmonics=0)

"""Augmentation of feature windows (training split only) and class-balanced sampling.

Features are dB (edge's ``features``), so mixing a background is a power sum, gain is an
offset and SpecAugment masks replace cells by the window's median level.  Mixup works on a
whole batch and its targets (the training loop's ``train.mixup``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge import _validate as v
from edge.crops import window_frames
from edge.types import PadName


@dataclass(frozen=True)
class AugmentSettings:
    """The ``augment:`` section of an ``edge-train`` config."""

    background_p: float = 0.5  # chance to mix a background window in
    snr_db: tuple[float, float] = (0.0, 20.0)  # window level over the background, dB
    gain_db: float = 6.0  # +- uniform
    shift_frames: int = 4  # +- circular time shift
    # +- frequency shift in feature bins, the edge bin repeated into the gap (not circular: the
    # top of the band must not wrap into its bottom): calls a few tens of hertz higher or lower
    # than the training days' (0: off, and no random draw, so recipes without it are unchanged)
    shift_bins: int = 0
    # a short clip's window: with this chance a window is cut to a part of it (a fraction in
    # short_frac of its frames, holding its loudest frame) with edge frames repeated around it, as
    # a clip shorter than the window is padded (training.datasets.build_clips; edge.ranking):
    # where one class's clips are mostly short, padding would otherwise tell that class
    # (0: off, and no random draw)
    short_p: float = 0.0
    short_frac: tuple[float, float] = (0.3, 0.9)
    # tonal lines (a ship's, a mooring's, the recorder's own: stationary lines and their
    # harmonics, which change from day to day and site to site while calls cross them): with this
    # chance a window, of any class, gets a harmonic family of lines, its fundamental in
    # lines_fundamental_bins (feature bins), up to lines_harmonics of it inside the band, each
    # lines_db over its bin's median level in the window and drifting by up to half a bin over it,
    # so that no class is told by the lines of the days it was recorded on (0: off, no random draw)
    lines_p: float = 0.0
    lines_db: tuple[float, float] = (3.0, 15.0)
    lines_fundamental_bins: tuple[float, float] = (3.0, 16.0)
    lines_harmonics: int = 4
    time_masks: int = 1
    time_mask_frames: int = 4
    freq_masks: int = 1
    freq_mask_bins: int = 3

    def __post_init__(self) -> None:
        v.number("background_p", self.background_p, minimum=0)
        v.require(self.background_p <= 1, f"background_p={self.background_p} must be <= 1")
        object.__setattr__(self, "snr_db", _pair("snr_db", self.snr_db))
        v.number("short_p", self.short_p, minimum=0)
        v.require(self.short_p <= 1, f"short_p={self.short_p} must be <= 1")
        frac = _pair(
            "short_frac", self.short_frac, lambda low, high: 0 < low and high <= 1, " with 0 < low <= high <= 1"
        )
        object.__setattr__(self, "short_frac", frac)
        v.number("lines_p", self.lines_p, minimum=0)
        v.require(self.lines_p <= 1, f"lines_p={self.lines_p} must be <= 1")
        object.__setattr__(self, "lines_db", _pair("lines_db", self.lines_db))
        bins = _pair(
            "lines_fundamental_bins", self.lines_fundamental_bins, lambda low, high: low >= 1, " with low >= 1"
        )
        object.__setattr__(self, "lines_fundamental_bins", bins)
        v.integer("lines_harmonics", self.lines_harmonics, minimum=1)
        v.number("gain_db", self.gain_db, minimum=0)
        for name in ("shift_frames", "shift_bins", "time_masks", "time_mask_frames", "freq_masks", "freq_mask_bins"):
            v.integer(name, getattr(self, name), minimum=0)


def _pair(name: str, value, ok=lambda low, high: True, rule: str = "") -> tuple[float, float]:
    """A setting's ``[low, high]`` (``low <= high`` and ``ok``) as floats; else ConfigError."""
    v.require(
        isinstance(value, (list, tuple)) and len(value) == 2 and value[0] <= value[1] and ok(*value),
        f"{name}={value!r} must be [low, high]{rule}",
    )
    return (float(value[0]), float(value[1]))


def augment(
    x: np.ndarray,
    rng: np.random.Generator,
    settings: AugmentSettings,
    backgrounds: np.ndarray | None = None,
    pad: PadName = "edge",
) -> np.ndarray:
    """One augmented copy of window ``x`` ``(n_frames, n_features)`` (dB); a window cut short
    (``short_p``) is padded as the model pads a short clip (``pad``)."""
    out = np.array(x, dtype=np.float32)
    if backgrounds is not None and len(backgrounds) and rng.random() < settings.background_p:
        bg = backgrounds[rng.integers(len(backgrounds))]
        shift = np.median(out) - np.median(bg) - rng.uniform(*settings.snr_db)
        out = 10 * np.log10(10 ** (out / 10) + 10 ** ((bg + shift) / 10)).astype(np.float32)
    if settings.gain_db:
        out += np.float32(rng.uniform(-settings.gain_db, settings.gain_db))
    if settings.lines_p and rng.random() < settings.lines_p:
        out = add_lines(out, rng, settings)
    if settings.short_p and rng.random() < settings.short_p:
        frames = max(1, int(round(rng.uniform(*settings.short_frac) * len(out))))
        out = shorten(out, frames, rng, pad)
    if settings.shift_frames:
        out = np.roll(out, int(rng.integers(-settings.shift_frames, settings.shift_frames + 1)), axis=0)
    if settings.shift_bins:
        out = shift_bins(out, int(rng.integers(-settings.shift_bins, settings.shift_bins + 1)))
    fill = np.float32(np.median(out))
    for _ in range(settings.time_masks):
        w = int(rng.integers(0, settings.time_mask_frames + 1))
        t0 = int(rng.integers(0, max(1, out.shape[0] - w)))
        out[t0 : t0 + w] = fill
    for _ in range(settings.freq_masks):
        w = int(rng.integers(0, settings.freq_mask_bins + 1))
        f0 = int(rng.integers(0, max(1, out.shape[1] - w)))
        out[:, f0 : f0 + w] = fill
    return out


# a line's power over neighbouring bins: a Hann window's main lobe, -6 dB one bin off its centre
_LINE_SIGMA_BINS = 1 / np.sqrt(2 * np.log(4))


def add_lines(x: np.ndarray, rng: np.random.Generator, settings: AugmentSettings) -> np.ndarray:
    """Window ``x`` ``(n_frames, n_features)`` (dB) with a harmonic family of stationary tonal
    lines added in power (``AugmentSettings.lines_*``)."""
    n_frames, n_bins = x.shape
    fundamental = rng.uniform(*settings.lines_fundamental_bins)
    drift = rng.uniform(-0.5, 0.5) * np.linspace(-0.5, 0.5, n_frames)[:, None]  # bins, over the window
    floor = np.median(x, axis=0)
    bins = np.arange(n_bins)
    power = 10 ** (x.astype(np.float64) / 10)
    for k in range(1, settings.lines_harmonics + 1):
        centre = k * fundamental
        if centre > n_bins - 1:
            break
        level = floor[int(round(centre))] + rng.uniform(*settings.lines_db)
        offset = bins[None, :] - (centre + k * drift)
        power += 10 ** (level / 10) * np.exp(-0.5 * (offset / _LINE_SIGMA_BINS) ** 2)
    return (10 * np.log10(power)).astype(np.float32)


def shorten(x: np.ndarray, frames: int, rng: np.random.Generator, pad: PadName = "edge") -> np.ndarray:
    """Window ``x`` ``(n_frames, n_features)`` as a clip of ``frames`` frames would give it: the
    ``frames`` consecutive frames holding its loudest (the most over each bin's median; a clip
    library cuts around the call), at a random offset, padded as ``pad`` says (its first and
    last frame repeated into the frames before and after, or looped:
    :func:`edge.crops.window_frames`)."""
    n = len(x)
    if frames >= n:
        return x
    loudest = int(np.argmax((x - np.median(x, axis=0)).sum(axis=1)))
    first = int(rng.integers(max(0, loudest - frames + 1), min(loudest, n - frames) + 1))
    offset = int(rng.integers(0, n - frames + 1))
    return x[first + window_frames([-offset], n, frames, pad)[0]]


def shift_bins(x: np.ndarray, k: int) -> np.ndarray:
    """Window ``x`` ``(n_frames, n_features)`` moved ``k`` feature bins up (``k`` < 0: down),
    the edge bin repeated into the bins left empty."""
    if k == 0:
        return x
    if k > 0:
        return np.concatenate((np.repeat(x[:, :1], k, axis=1), x[:, :-k]), axis=1)
    return np.concatenate((x[:, -k:], np.repeat(x[:, -1:], -k, axis=1)), axis=1)


def balanced_weights(y: np.ndarray, bands: np.ndarray | None = None) -> np.ndarray:
    """Each window's probability of being drawn, so every class present in ``y`` is equally
    likely; a run's windows do not change, so it is computed once per run.

    With ``bands`` (each window's band tier, :func:`training.datasets.band_tiers`), a class's
    windows are also weighted so that its mix of tiers is the pooled mix of all windows over the
    tiers it has: a class whose recordings are more often of a low rate than the others' would
    otherwise teach that a narrow band means that class."""
    y = np.asarray(y)
    classes, counts = np.unique(y, return_counts=True)
    weight = (1.0 / counts)[np.searchsorted(classes, y)]
    if bands is not None:
        bands = np.asarray(bands)
        tiers, pooled = np.unique(bands, return_counts=True)
        share = dict(zip(tiers.tolist(), (pooled / pooled.sum()).tolist()))
        weight = np.empty(len(y))
        for c in classes:
            mine = y == c
            held, n_held = np.unique(bands[mine], return_counts=True)
            total = sum(share[t] for t in held.tolist())
            per_window = {t: share[t] / total / k for t, k in zip(held.tolist(), n_held.tolist())}
            weight[mine] = [per_window[t] for t in bands[mine].tolist()]
    return weight / weight.sum()


def balanced_indices(y: np.ndarray, n: int, rng: np.random.Generator, bands: np.ndarray | None = None) -> np.ndarray:
    """``n`` indices drawn with :func:`balanced_weights`."""
    return rng.choice(len(y), size=n, replace=True, p=balanced_weights(y, bands))


def mixup(x: np.ndarray, target: np.ndarray, alpha: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A batch of windows ``x`` ``(batch, n_frames, n_features)`` and their targets ``(batch,
    n_classes)`` mixed with the same batch shuffled, by one weight drawn from Beta(alpha, alpha):
    the windows linearly in dB, which the model's own centring and scaling keep linear, so the
    network sees the mixture its targets describe."""
    lam = np.float32(rng.beta(alpha, alpha))
    order = rng.permutation(len(x))
    return lam * x + (1 - lam) * x[order], lam * target + (1 - lam) * target[order]

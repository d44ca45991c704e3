"""Frames that hold no usable signal (non-finite samples, digital silence) and samples clipped
at full scale.

A float WAV can hold NaN or inf samples (a recorder's or converter's fault); one of them would
make every frame it touches NaN, its whole level period ``-inf`` and the ROI detector's noise
floor NaN.  Such frames are set to zero for the stages, left out of the level means, and
counted.  Frames of exactly zero energy are digital silence: a dead or disconnected hydrophone,
a muted channel.  Both are counted over the frames a chain owns (a cluster unit's chunk), so a
recording's counts are the same however it is split, and each becomes one warning per
recording naming where it starts.

Clipping is counted on the recording's own samples, before any resampling (a resampled clip
rings past full scale and no longer sits on it): samples at the converter's rail (the largest
or smallest code of an integer file, exactly +-1.0 of a float one: a float sample beyond it was
not clipped) in runs of two or more of the same sign.  A file normalised to its peak touches
full scale at single samples; a clipped sound holds it.  A clipped call's received level is understated and its spectrum smeared with
harmonics, so the warning says where it starts, and the count goes to run.json.  A float file
whose samples pass +-1 was not scaled to full scale at all (pressure in pascals, raw counts): its
received levels, taken with 1.0 as full scale, are too high by its peak, so that is said too.

A recorder with one hydrophone plugged into a stereo input writes a channel of zeros; when the
channel analysed is the silent one, :func:`silent_channel` says which channel holds the sound
before the recording streams (from its first ``HEAD_S`` seconds, a second at a time, stopping as
soon as the channel analysed sounds), since the silence warning alone would leave a user guessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from edge.audio import head_blocks
from edge.types import AudioBlock, AudioInfo, SpectralFrames

N = TypeVar("N", int, float)

HEAD_S = 30.0  # seconds from the start that tell a silent channel of a multi-channel recording

# bits per sample of the integer subtypes libsndfile reads; others (float, lossy) are float
_BITS = {
    "PCM_S8": 8,
    "PCM_U8": 8,
    "PCM_16": 16,
    "ALAC_16": 16,
    "ALAC_20": 20,
    "PCM_24": 24,
    "ALAC_24": 24,
    "PCM_32": 32,
    "ALAC_32": 32,
}


@dataclass
class SignalQuality:
    """Counts of unusable frames, and the first of each (absolute frame index)."""

    nonfinite_frames: int = 0
    first_nonfinite: int | None = None
    silent_frames: int = 0
    first_silent: int | None = None
    clipped_samples: int = 0  # at the recording's own rate (:class:`ClipCounter`)
    first_clipped_s: float | None = None
    peak_over: float = 0.0  # a float file's largest sample magnitude, where it passes full scale
    first_over_s: float | None = None

    def check(self, frames: SpectralFrames, owned: tuple[int, int] | None) -> np.ndarray | None:
        """Zero the non-finite frames of ``frames`` in place and count both kinds among those in
        ``owned`` (all when None); returns the mask of usable frames, None when all are."""
        if frames.n_frames == 0:
            return None
        energy = frames.psd.sum(axis=1, dtype=np.float64)  # NaN or inf where any bin is
        finite = np.isfinite(energy)
        silent = energy == 0
        if finite.all() and not silent.any():  # the usual block: nothing to count
            return None
        index = frames.first_frame + np.arange(frames.n_frames)
        mine = np.ones(frames.n_frames, bool) if owned is None else (index >= owned[0]) & (index < owned[1])
        if silent.any():
            self.silent_frames += int(np.count_nonzero(silent & mine))
            self.first_silent = _earlier(self.first_silent, _first(index[silent & mine]))
        if finite.all():
            return None
        frames.psd[~finite] = 0.0
        self.nonfinite_frames += int(np.count_nonzero(~finite & mine))
        self.first_nonfinite = _earlier(self.first_nonfinite, _first(index[~finite & mine]))
        return finite

    def add(self, other: SignalQuality) -> None:
        """Fold in the counts of another stretch of the same recording (a later chunk)."""
        self.nonfinite_frames += other.nonfinite_frames
        self.silent_frames += other.silent_frames
        self.first_nonfinite = _earlier(self.first_nonfinite, other.first_nonfinite)
        self.first_silent = _earlier(self.first_silent, other.first_silent)
        self.clipped_samples += other.clipped_samples
        self.first_clipped_s = _earlier(self.first_clipped_s, other.first_clipped_s)
        self.peak_over = max(self.peak_over, other.peak_over)
        self.first_over_s = _earlier(self.first_over_s, other.first_over_s)

    def warnings(self, path: str, hop_s: float) -> list[str]:
        out = []
        if self.nonfinite_frames:
            out.append(
                f"{path}: {self.nonfinite_frames * hop_s:.2f} s of frames from {_at(self.first_nonfinite, hop_s)} "
                "held non-finite samples (NaN or inf): analysed as silence, left out of the noise levels"
            )
        if self.silent_frames:
            out.append(
                f"{path}: {self.silent_frames * hop_s:.2f} s of digital silence (frames of zero energy) from "
                f"{_at(self.first_silent, hop_s)}: a dead or disconnected hydrophone, or a muted channel?"
            )
        if self.clipped_samples:
            out.append(
                f"{path}: {self.clipped_samples} samples clipped at full scale from {self.first_clipped_s or 0:.2f} s: "
                "received levels of the loudest sounds are understated and their classification less sure "
                "(recorder gain too high?)"
            )
        if self.peak_over > 1.0:
            out.append(
                f"{path}: samples reach {self.peak_over:.3g} x full scale from {self.first_over_s or 0:.2f} s: a float "
                "file not scaled to +-1 (pascals, micropascals or raw counts?); received levels read 1.0 as the "
                "calibration's full scale, so they are wrong unless its calibration is for these units"
            )
        return out


def silent_channel(info: AudioInfo, channel: int) -> str | None:
    """A warning when ``channel`` of a multi-channel recording is digital silence over its first
    :data:`HEAD_S` seconds while another channel holds sound there, naming that channel; None
    otherwise (a single channel is read once, as it streams)."""
    if info.channels < 2:
        return None
    frames = int(HEAD_S * info.sample_rate)
    heard = np.zeros(info.channels, bool)
    for block in head_blocks(info, frames, info.sample_rate):  # a second at a time: most stop at the first
        heard |= np.any(block != 0, axis=0)
        if heard[channel]:
            return None
    sounding = np.flatnonzero(heard).tolist()
    if not sounding:
        return None
    span = f"its first {HEAD_S:g} s" if info.frames > frames else "the whole recording"
    others = f"channel {sounding[0]} holds" if len(sounding) == 1 else f"channels {', '.join(map(str, sounding))} hold"
    return (
        f"{info.path}: channel {channel} is digital silence over {span}, {others} sound: "
        f"analyse it with --channel {sounding[0]} (or channel: in the deployment)"
    )


def full_scale(subtype: str) -> float:
    """The largest sample value a file of ``subtype`` holds, on edge's full scale of 1.0 (the
    smallest is -1.0): one code below 1.0 for integer files, 1.0 for float and lossy ones."""
    bits = _BITS.get(subtype)
    return 1.0 if bits is None else float(np.float32(1.0 - 2.0 ** (1 - bits)))


class ClipCounter:
    """Counts the samples of a recording held at full scale (module docstring), pushed block by
    block at the recording's own rate in order; ``owned`` counts only samples ``[s0, s1)`` (a
    cluster unit's chunk), so a recording's count is the same however it is cut or blocked."""

    def __init__(self, subtype: str, owned: tuple[int, int] | None = None) -> None:
        self.rail = full_scale(subtype)
        self.owned = owned
        self.samples = 0
        self.first: int | None = None  # sample index
        self.peak = 0.0  # the largest magnitude past full scale (a float file not scaled to +-1)
        self.first_over: int | None = None
        self._last_sign = 0  # the previous block's last sample: +1, -1 at a rail, else 0
        self._last_counted = False

    def push(self, block: AudioBlock) -> None:
        x = block.samples
        if x.size == 0:
            return
        hi, lo = np.fmax.reduce(x), np.fmin.reduce(x)
        if not (hi >= self.rail or lo <= -1.0):  # the usual block (NaN ignored)
            self._last_sign = 0
            return
        if hi > 1.0 or lo < -1.0:
            self._past_full_scale(x, block.start_sample)
        sign = (x == self.rail).astype(np.int8) - (x == -1.0).astype(np.int8)
        # a sample is clipped when at a rail with a neighbour at the same rail
        same = (sign != 0) & (sign == np.concatenate(([self._last_sign], sign[:-1])))
        clipped = same.copy()
        clipped[:-1] |= same[1:]
        index = np.flatnonzero(clipped) + block.start_sample
        if same[0] and not self._last_counted:  # the last block's last sample began the run
            index = np.concatenate(([block.start_sample - 1], index))
        if self.owned is not None:
            index = index[(index >= self.owned[0]) & (index < self.owned[1])]
        if index.size:
            self.samples += int(index.size)
            self.first = _earlier(self.first, int(index[0]))
        self._last_sign = int(sign[-1])
        self._last_counted = bool(clipped[-1])

    def _past_full_scale(self, x: np.ndarray, start: int) -> None:
        over = np.abs(x) > 1.0  # only a float file's can be; NaN and inf are said as non-finite
        over &= np.isfinite(x)
        index = np.flatnonzero(over) + start
        if self.owned is not None:
            keep = (index >= self.owned[0]) & (index < self.owned[1])
            index = index[keep]
        if index.size:
            self.peak = max(self.peak, float(np.max(np.abs(x[index - start]))))
            self.first_over = _earlier(self.first_over, int(index[0]))

    def fold_into(self, quality: SignalQuality, sample_rate: int) -> None:
        quality.clipped_samples += self.samples
        if self.first is not None:
            quality.first_clipped_s = _earlier(quality.first_clipped_s, self.first / sample_rate)
        quality.peak_over = max(quality.peak_over, self.peak)
        if self.first_over is not None:
            quality.first_over_s = _earlier(quality.first_over_s, self.first_over / sample_rate)


def _first(index: np.ndarray) -> int | None:
    return int(index[0]) if index.size else None


def _earlier(a: N | None, b: N | None) -> N | None:
    return b if a is None else a if b is None else min(a, b)


def _at(frame: int | None, hop_s: float) -> str:
    return f"{(frame or 0) * hop_s:.2f} s"

"""Frames that hold no usable signal: non-finite samples and digital silence.

A float WAV can hold NaN or inf samples (a recorder's or converter's fault); one of them would
make every frame it touches NaN, its whole level period ``-inf`` and the ROI detector's noise
floor NaN.  Such frames are set to zero for the stages, left out of the level means, and
counted.  Frames of exactly zero energy are digital silence: a dead or disconnected hydrophone,
a muted channel.  Both are counted over the frames a chain owns (a cluster unit's chunk), so a
recording's counts are the same however it is split, and each becomes one warning per
recording naming where it starts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.types import SpectralFrames


@dataclass
class SignalQuality:
    """Counts of unusable frames, and the first of each (absolute frame index)."""

    nonfinite_frames: int = 0
    first_nonfinite: int | None = None
    silent_frames: int = 0
    first_silent: int | None = None

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
        return out


def _first(index: np.ndarray) -> int | None:
    return int(index[0]) if index.size else None


def _earlier(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def _at(frame: int | None, hop_s: float) -> str:
    return f"{(frame or 0) * hop_s:.2f} s"

"""Which windows of an ROI the classifier scores, and how their labels become detections.

The crop policy is part of the model (its card's ``window: crop``, from the recipe's
``inference:``), and this module is the only place it is implemented: ``edge.classify``
(device) and ``training.evaluate`` (LORO, ``edge-train evaluate``, the convert gate) both
call it, so every figure quoted for a model is the device's behaviour.

- ``centre`` (the default; cards without ``crop``): one window centred on the ROI.
- ``scan``: an ROI no longer than the window still gets the one centred window (so a scanning
  model gives exactly the centred result on short ROIs); a longer ROI gets windows evenly
  spaced at most ``scan_hop_s`` apart, the first starting at the ROI's start and the last
  ending at its end.  An ROI of 7-9 s merging a call with noise (or two calls) is then
  judged on windows that hold the call, not on its middle.

Labels of a scanned ROI: a run of consecutive crops keeping one label (and head) becomes one
detection spanning the union of those crops clipped to the ROI (from the ROI's own start or
end when the run holds its first or last crop), scored by the run's highest
score; two runs separated by a crop that dropped the label stay two detections (two calls in
one ROI).  Frequency bounds, SNR and received level stay the ROI's.

A recording shorter than the window (a catalogue clip cut around one call) fills it by the
policy's ``pad`` (:func:`window_frames`, which ``edge.ranking`` and the clip datasets of
``training`` call): ``edge`` (the default; cards without ``pad``) repeats its first and last
frames; ``loop`` repeats the recording from its start, as audio taggers repeat-pad, so a
short clip looks like its own sound rather than like a run of identical frames that only the
classes of short catalogue clips would ever show in training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from edge.errors import BundleError
from edge.types import CropName, PadName, Roi

CROPS = ("centre", "scan")
PADS = ("edge", "loop")
DEFAULT_SCAN_HOP_S = 1.0


@dataclass(frozen=True)
class Label:
    """One classification kept for an ROI: ``head`` is the output's name for multi-output
    models, "" otherwise; ``start_s``/``end_s`` the part of the ROI it covers (None: the
    whole ROI, as every centred crop gives)."""

    label: str
    score: float
    head: str = ""
    start_s: float | None = None
    end_s: float | None = None


@dataclass(frozen=True)
class CropPolicy:
    crop: CropName = "centre"
    scan_hop_s: float = DEFAULT_SCAN_HOP_S
    pad: PadName = "edge"

    def __post_init__(self) -> None:
        if self.crop not in CROPS:
            raise ValueError(f"crop={self.crop!r} is not one of {', '.join(CROPS)}")
        if self.pad not in PADS:
            raise ValueError(f"pad={self.pad!r} is not one of {', '.join(PADS)}")
        if (
            isinstance(self.scan_hop_s, bool)
            or not isinstance(self.scan_hop_s, (int, float))
            or not self.scan_hop_s > 0
            or not math.isfinite(self.scan_hop_s)
        ):
            raise ValueError(f"scan_hop_s={self.scan_hop_s!r} must be a number > 0")

    def as_card(self) -> dict[str, Any]:
        """The card's ``window:`` keys of this policy (``pad`` only when not the default, so
        the cards of models before it stay as they were)."""
        keys: dict[str, Any] = {"crop": self.crop}
        if self.crop == "scan":
            keys["scan_hop_s"] = float(self.scan_hop_s)
        if self.pad != "edge":
            keys["pad"] = self.pad
        return keys


CENTRE = CropPolicy()


def policy_of_card(window: dict[str, Any], where: str) -> CropPolicy:
    """The crop policy of a card's ``window:`` section (no ``crop``: centre)."""
    try:
        return CropPolicy(
            cast(CropName, str(window.get("crop", "centre"))),
            window.get("scan_hop_s", DEFAULT_SCAN_HOP_S),
            cast(PadName, str(window.get("pad", "edge"))),
        )
    except ValueError as exc:
        raise BundleError(f"{where}: window: {exc}") from None


def window_frames(starts: list[int] | np.ndarray, n_frames: int, total: int, pad: PadName = "edge") -> np.ndarray:
    """Frame indices ``(len(starts), n_frames)`` of the windows starting at ``starts`` in a
    recording of ``total`` frames.  Frames past its ends repeat its edge frames; a recording
    shorter than the window with ``pad: loop`` is repeated instead (a start before its first
    frame, as a clip placed at an offset in training, rotates the loop)."""
    idx = np.asarray(starts, dtype=np.int64)[:, None] + np.arange(n_frames)[None, :]
    out: np.ndarray = np.mod(idx, total) if pad == "loop" and total < n_frames else np.clip(idx, 0, total - 1)
    return out


def window_start(roi: Roi, n_frames: int, hop_s: float) -> int:
    """First frame of the ``n_frames`` window centred on ``roi``."""
    return int(round(((roi.start_s + roi.end_s) / 2 - n_frames * hop_s / 2) / hop_s))


def crop_starts(roi: Roi, n_frames: int, hop_s: float, policy: CropPolicy = CENTRE) -> list[int]:
    """First frame of each window the classifier scores for ``roi``, in time order."""
    length, window = roi.end_s - roi.start_s, n_frames * hop_s
    # longer than the window by less than half a frame (or a rounding error): one centred
    # window covers it to the frame
    if policy.crop == "centre" or length <= window + hop_s / 2:
        return [window_start(roi, n_frames, hop_s)]
    k = math.ceil((length - window) / policy.scan_hop_s - 1e-9) + 1
    step = (length - window) / (k - 1)
    # windows closer than a frame round to the same start: score each once
    return sorted({int(round((roi.start_s + i * step) / hop_s)) for i in range(k)})


def combine(roi: Roi, starts: list[int], n_frames: int, hop_s: float, per_crop: list[list[Label]]) -> list[Label]:
    """Labels of ``roi`` from the labels kept for each of its crops (``starts`` order): a
    single crop's labels as they are; otherwise one label per run of consecutive crops
    keeping it, spanning those crops within the ROI, with the run's highest score."""
    if len(starts) == 1:
        return list(per_crop[0])
    out: list[Label] = []
    keys = list(dict.fromkeys((lab.label, lab.head) for labs in per_crop for lab in labs))
    for label, head in keys:
        run: list[tuple[int, float]] = []
        for i, labs in enumerate(per_crop + [[]]):
            hit = [lab.score for lab in labs if (lab.label, lab.head) == (label, head)]
            if hit:
                run.append((i, max(hit)))
                continue
            if run:
                # the scan covers the ROI: the first and last windows reach its ends (to a frame)
                i0, i1 = run[0][0], run[-1][0]
                start = roi.start_s if i0 == 0 else max(roi.start_s, starts[i0] * hop_s)
                end = roi.end_s if i1 == len(starts) - 1 else min(roi.end_s, (starts[i1] + n_frames) * hop_s)
                out.append(Label(label, max(s for _, s in run), head, start, end))
                run = []
    out.sort(key=lambda lab: (lab.start_s, lab.head, lab.label))
    return out


def span(label: Label, roi: Roi) -> tuple[float, float]:
    """``(start_s, end_s)`` of a label's detection."""
    return (roi.start_s if label.start_s is None else label.start_s, roi.end_s if label.end_s is None else label.end_s)

"""A ranked answer per recording: which of the model's classes made it, most to least probable.

Every window of the recording (the model's window, every ``hop_s``) is scored, whether or
not a candidate stage found something there: a species whose calls the ROI detector misses
(a killer whale call under a shipping band, a click train) still counts.  A class's score is
the mean of its ``pool`` best windows' probabilities: a recording is ranked by its best
evidence, not diluted by the stretches between calls.  The model's negative class (``other``:
noise or species the model does not claim) is scored ``1 - the best class's score``: the
evidence that none of the claimed species is there.  It comes after every species whatever
its score: the answer says which species a recording holds, most to least probable, and the
first one's score says how sure that is (below 0.5, none of them is more likely than not).
Ranked among them by its score, it took the first place from the species a low-rate or faint
recording does hold (rendered at 4 kHz, 24 of 130 held-out killer whales had other first and
killer whale second: benchmarks/RESULTS.md, "The negative class after the species").
``windows`` counts the windows whose most probable class it is.

Frames of digital silence (a clip library's zero padding, a recorder's dropout) are left out
before the windows are cut, with the frames that hold part of it (:class:`SoundingFrames`):
they are no evidence of any class, and a window holding them beside sound is unlike anything a
model trained on (a second of zeros either side of each held-out recording turned 77 of 130
killer whales into other species: benchmarks/RESULTS.md, "Short clips and digital silence").
A recording of nothing else is ranked on no window.

Memory is bounded: the last window's frames and, per class, its ``pool`` best probabilities.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edge import _validate as v
from edge.classify import Classifier
from edge.crops import window_frames
from edge.frontend import FEATURE_FLOOR_DB, FrontendSpec, features
from edge.types import Rank, SpectralFrames


@dataclass(frozen=True)
class RankingSettings:
    """The ``ranking:`` section of a deployment (no section: no ranking)."""

    hop_s: float = 1.0  # a window every hop_s seconds
    pool: int = 3  # a class's score: the mean of its `pool` best windows
    top_k: int = 3  # rows per recording in ranking.csv (edge-detect --top-k overrides)

    def __post_init__(self) -> None:
        v.number("hop_s", self.hop_s, minimum=0.01, maximum=3600, why="a window is held in memory")
        v.integer("pool", self.pool, minimum=1, maximum=1000, why="probabilities held per class")
        v.integer("top_k", self.top_k, minimum=1, maximum=1000)


def window_starts(n_frames: int, window: int, hop: int) -> list[int]:
    """The first frames of the windows a recording of ``n_frames`` frames is ranked on: every
    ``hop`` frames while a whole window fits, and one ending at the recording's end when the
    last leaves frames out (a recording shorter than a window: one window from its start,
    its last frame repeated).  :class:`WindowRanker` streams exactly these."""
    if n_frames <= 0:
        return []
    starts = list(range(0, n_frames - window + 1, hop))
    if not starts or starts[-1] + window < n_frames:
        starts.append(max(0, n_frames - window))
    return starts


class SoundingFrames:
    """A recording's feature frames with those of digital silence left out (every feature at
    :func:`edge.frontend.features`' floor, which no ocean reaches), and the ``margin`` frames
    either side of each, which hold part of it; streamed, the last ``margin`` frames are held
    back until what follows them is known.  The frames kept do not depend on how the stream
    is cut (:func:`sounding` is the whole-recording form)."""

    def __init__(self, margin: int, floor_db: float = FEATURE_FLOOR_DB) -> None:
        self.margin = margin
        self.floor_db = floor_db
        self._held = np.zeros((0, 0), np.float32)
        self._before = np.zeros(0, bool)  # silence of the `margin` frames given out before `_held`

    @staticmethod
    def for_spec(spec: FrontendSpec) -> SoundingFrames:
        return SoundingFrames(-(-spec.nfft // spec.hop))  # frames overlapping one sample: nfft / hop

    def push(self, feats: np.ndarray) -> np.ndarray:
        return self._release(feats, final=False)

    def finish(self) -> np.ndarray:
        return self._release(np.zeros((0, self._held.shape[1] if self._held.size else 0), np.float32), final=True)

    def _release(self, feats: np.ndarray, *, final: bool) -> np.ndarray:
        frames = feats if not len(self._held) else np.concatenate([self._held, feats])
        silent = np.concatenate([self._before, np.all(frames <= self.floor_db + 1e-3, axis=1)])
        m, k = self.margin, len(self._before)
        if not len(silent):  # a recording shorter than one frame: nothing to release
            return frames
        near = np.convolve(silent, np.ones(2 * m + 1), mode="same")[k:] > 0 if m else silent[k:]
        ready = len(frames) if final else max(0, len(frames) - m)
        self._held = frames[ready:]
        self._before = silent[max(0, k + ready - m) : k + ready]
        return frames[:ready][~near[:ready]]


def sounding(feats: np.ndarray, spec: FrontendSpec) -> np.ndarray:
    """A whole recording's frames of sound, as :class:`SoundingFrames` streams them."""
    keep = SoundingFrames.for_spec(spec)
    kept = [keep.push(feats), keep.finish()]
    return np.concatenate(kept) if len(feats) else feats


class Tally:
    """Per class, the ``pool`` best window probabilities and the windows it tops."""

    def __init__(self, classes: tuple[str, ...], negative: str | None, pool: int) -> None:
        self.classes = classes
        self.negative = negative
        self.pool = pool
        self._best: list[list[float]] = [[] for _ in classes]  # min-heaps
        self._wins = [0] * len(classes)
        self.n_windows = 0

    def add(self, probs: np.ndarray) -> None:
        """Windows' probabilities ``(k, n_classes)``."""
        for p in np.asarray(probs, dtype=np.float64):
            self._wins[int(np.argmax(p))] += 1
            for i, value in enumerate(p.tolist()):
                best = self._best[i]
                if len(best) < self.pool:
                    heapq.heappush(best, value)
                elif value > best[0]:
                    heapq.heapreplace(best, value)
            self.n_windows += 1

    def ranking(self) -> list[Rank]:
        """Every class: the species most to least probable, then the negative class.  A
        recording ranked on no window (digital silence alone) holds no evidence of any
        species: the negative class first, scored 1."""
        score = [float(np.mean(b)) if b else 0.0 for b in self._best]
        last = -1
        if self.negative is not None:
            k = self.classes.index(self.negative)
            others = [s for i, s in enumerate(score) if i != k]
            score[k] = 1.0 - max(others) if others else 1.0
            last = k if self.n_windows else -1
        ranked = sorted(range(len(self.classes)), key=lambda i: (i == last, -score[i], i))
        return [Rank(self.classes[i], round(score[i], 4), self._wins[i]) for i in ranked]


def by_score(ranking: Sequence[Rank]) -> list[Rank]:
    """A ranked answer's classes by their scores alone, the negative class where its score puts
    it: how a recording of the negative class is scored (right when its score is above every
    species')."""
    return sorted(ranking, key=lambda r: -r.score)


class WindowRanker:
    """Scores every window of one recording as its frames stream in (frames from the first,
    counted without those of digital silence)."""

    def __init__(self, classifier: Classifier, spec: FrontendSpec, settings: RankingSettings) -> None:
        if len(classifier.bundle.outputs) != 1 or classifier.bundle.task == "multi_label":
            raise ValueError(
                f"ranking needs a single-label model; {classifier.bundle.name} is {classifier.bundle.task}"
            )
        self.classifier = classifier
        self.spec = spec
        self.settings = settings
        output = classifier.bundle.outputs[0]
        self.tally = Tally(tuple(output.classes), output.negative, settings.pool)
        self.n = classifier.bundle.n_frames
        self.pad = classifier.policy.pad  # how a recording shorter than the window fills it (the card's)
        self.hop = max(1, round(settings.hop_s / spec.hop_s))
        self._sound = SoundingFrames.for_spec(spec)
        self._buffer = np.zeros((0, 0), np.float32)
        self._first = 0  # frame index of the buffer's first row
        self._next = 0  # the next window's first frame
        self._total = 0  # frames seen
        self._last_start = -1

    def push(self, frames: SpectralFrames) -> None:
        if frames.n_frames:
            self._add(self._sound.push(features(self.spec, frames.psd)))

    def _add(self, feats: np.ndarray) -> None:
        if not len(feats):
            return
        self._buffer = feats if not len(self._buffer) else np.concatenate([self._buffer, feats])
        self._total += len(feats)
        starts = []
        while self._next + self.n <= self._total:
            starts.append(self._next)
            self._next += self.hop
        self._score(starts)
        # keep the next window's frames and the last window's (the end-aligned one of finish)
        drop = max(self._first, min(self._next, self._total - self.n)) - self._first
        if drop > 0:
            self._buffer = self._buffer[drop:]
            self._first += drop

    def finish(self) -> list[Rank]:
        """Score what is left (a last window ending at the recording's end; a recording
        shorter than a window is one window, padded as the card's ``window: pad`` says:
        :func:`edge.crops.window_frames`) and rank."""
        self._add(self._sound.finish())
        if self._total and (not self.tally.n_windows or self._last_start + self.n < self._total):
            self._score([max(0, self._total - self.n)])
        return self.tally.ranking()

    def _score(self, starts: list[int]) -> None:
        if not starts:
            return
        # the buffer starts at frame _first; a recording shorter than the window is all in it
        idx = window_frames(np.asarray(starts) - self._first, self.n, len(self._buffer), self.pad)
        windows = self._buffer[idx]
        self.tally.add(self.classifier.scores(windows)[self.classifier.bundle.outputs[0].name])
        self._last_start = starts[-1]

"""Units of work for a cluster run: chunks of recordings and the audio to replay before each.

Exactness (see the package docstring): the detector's state at a frame depends on a bounded
past, the noise floor's window plus the smoothing box (``warmup_segments``) and any event
still open, which lasts at most the margin below when ``max_duration_s`` bounds events.  A
unit replays at least that much before its first owned frame; when its recording starts
later than that, it replays the end of the contiguous recordings before it, which is where
the single-process run's noise floor comes from.  With a classifier, half a window more is
replayed, so the window of an ROI starting at the chunk's first frame holds the frames the
single-process run cuts it from (the tail is read until every owned window is complete).
A scanning model (card ``window: crop: scan``, edge/crops.py) needs no more: its extra windows
lie within their ROI, after the centred window's start, and the ROI itself is bounded by
``max_duration_s`` like any open event.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

from edge.config import DeploymentConfig
from edge.detect import RunOptions, contiguous
from edge.errors import PamedgeError
from edge.levels import StreamingLevels
from edge.pipeline import Prepared
from edge.roi import StreamingRoiDetector

DEFAULT_CHUNK_S = 1800.0
OPEN_EVENT_S = 60.0  # the margin for open events when max_duration_s does not bound them


@dataclass(frozen=True)
class Span:
    """A recording replayed from frame ``start`` (a segment boundary) to its end, only to
    hand its noise floor to the next recording."""

    path: str
    start: int


@dataclass(frozen=True)
class Unit:
    """Frames ``[c0, c1)`` of recording ``file_index``, processed from frame ``replay_from``
    after replaying ``predecessors`` (oldest first)."""

    file_index: int
    path: str
    chunk: int
    n_chunks: int
    c0: int
    c1: int
    replay_from: int
    predecessors: tuple[Span, ...] = ()
    carried: bool = False  # the recording continues the previous one: the floor carries
    key: str = ""

    @property
    def last(self) -> bool:
        return self.chunk == self.n_chunks - 1


def frame_count(samples: int, nfft: int, hop: int) -> int:
    """STFT frames the frontend makes from ``samples`` samples."""
    return (samples - nfft) // hop + 1 if samples >= nfft else 0


def margin_segments(config: DeploymentConfig, segment_frames: int, hop_s: float) -> int:
    """Segments covering the longest open event plus the merge gap."""
    longest = config.roi.max_duration_s if config.roi.max_duration_s is not None else OPEN_EVENT_S
    return math.ceil((longest + config.roi.merge_gap_s) / (segment_frames * hop_s)) + 1


def chunk_bounds(levels: StreamingLevels, n_frames: int, chunk_s: float) -> list[tuple[int, int]]:
    """``[(c0, c1), ...]`` covering ``n_frames`` frames; every bound but the file's end is
    the first frame of a level period, so each period falls in one chunk."""
    per_chunk = max(1, round(chunk_s / levels.settings.period_s))
    bounds = [0]
    while True:
        nxt = levels.first_frame_of(len(bounds) * per_chunk)
        if nxt >= n_frames:
            break
        bounds.append(nxt)
    bounds.append(max(n_frames, 0))
    return list(zip(bounds[:-1], bounds[1:]))


def plan_units(
    paths: list[Path],
    config: DeploymentConfig,
    options: RunOptions = RunOptions(),
    *,
    chunk_s: float = DEFAULT_CHUNK_S,
    salt: str = "",
    window_frames: int = 0,
) -> list[Unit]:
    """Every unit of the run, in input order; a recording that cannot be prepared is one
    unit whose task reports why (as the local run would).  ``window_frames``: the
    classifier's window, 0 for ROI-only runs."""
    prepared: list[Prepared | None] = []
    for path in paths:
        try:
            prepared.append(options.prepare(path, config))
        except (PamedgeError, ValueError, OSError):
            prepared.append(None)

    def carries(i: int) -> bool:
        before, this = prepared[i - 1] if i > 0 else None, prepared[i]
        return before is not None and this is not None and contiguous(before.info, this.info)

    units = []
    for i, (path, prep) in enumerate(zip(paths, prepared)):
        if prep is None:
            units.append(_keyed(Unit(i, str(path), 0, 1, 0, 0, 0), salt))
            continue
        spec = prep.spec
        detector = StreamingRoiDetector(config.roi, spec)
        seg, warm = detector.segment_frames, detector.warmup_segments
        need = warm + margin_segments(config, seg, spec.hop_s)
        if window_frames:  # an ROI's window reaches half a window (and the smoothing lag) before it
            need += -(-(window_frames // 2 + 2 + config.roi.smooth_frames // 2) // seg)
        n = frame_count(prep.frames, spec.nfft, spec.hop)
        bounds = chunk_bounds(StreamingLevels(spec, config.levels), n, chunk_s)
        # a click train and its floor, and a recording's ranking, do not split at a chunk: one unit per recording
        if config.clicks is not None or config.ranking is not None:
            bounds = [(0, n)]
        for k, (c0, c1) in enumerate(bounds):
            start = (c0 - need * seg) // seg * seg
            spans: list[Span] = []
            if start <= 0:
                start = 0
                j = i
                while carries(j):
                    prev = prepared[j - 1]
                    assert prev is not None  # carries(j) says so
                    segs = -(-frame_count(prev.frames, spec.nfft, spec.hop) // seg)
                    span = Span(str(paths[j - 1]), max(0, segs - warm) * seg)
                    spans.insert(0, span)
                    if span.start > 0:
                        break
                    j -= 1
            units.append(_keyed(Unit(i, str(path), k, len(bounds), c0, c1, start, tuple(spans), carries(i)), salt))
    return units


def _keyed(unit: Unit, salt: str) -> Unit:
    """The unit with a deterministic task key: the same work of the same run, same key."""
    text = json.dumps(
        [salt, unit.path, unit.c0, unit.c1, unit.replay_from, [(s.path, s.start) for s in unit.predecessors]]
    )
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return Unit(**{**unit.__dict__, "key": f"edge-unit-{Path(unit.path).stem[:40]}-{unit.chunk}-{digest}"})

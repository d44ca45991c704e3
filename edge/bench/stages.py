"""Timing each stage of the chain on real recordings: decode, frontend, ROI detection and
levels, inference (when a classifier is configured), logging to SQLite and frame encoding."""

from __future__ import annotations

import resource
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge.calibration import HydrophoneTable
from edge.classify import earliest_roi_frame
from edge.config import DeploymentConfig
from edge.levels import StreamingLevels
from edge.pipeline import prepare, records
from edge.roi import StreamingRoiDetector
from edge.run import contiguous
from edge.types import SpectralFrames

STAGES = ("decode", "frontend", "roi", "levels", "inference", "logging", "frames")
BENCH_KEY = bytes(range(32))  # frames are encoded for timing only, never sent


@dataclass
class StageTimes:
    seconds: dict[str, float | None] = field(default_factory=lambda: {s: 0.0 for s in STAGES})
    files: list[dict] = field(default_factory=list)
    audio_s: float = 0.0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_mb: float = 0.0


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_stages(paths: list[Path], config: DeploymentConfig, table: HydrophoneTable | None, *,
               classifier=None) -> StageTimes:
    """Process ``paths`` stage by stage (the same calls as :func:`edge.pipeline.process_recording`,
    each timed; inference only with ``classifier``, else its time is None), then log and
    frame-encode the detections."""
    from edge.sync.frames import pack_all
    from edge.sync.log import DetectionLog

    out = StageTimes()
    t = out.seconds
    if classifier is None:
        t["inference"] = None
    cpu0, wall0 = _cpu_s(), time.perf_counter()
    detections = []
    state, prev = None, None
    for path in paths:
        prep = prepare(path, config, table, allow_truncated=True)
        if not contiguous(prev, prep.info):  # the noise floor carries as in edge-detect and edge-run
            state = None
        frontend = prep.frontend()
        detector = StreamingRoiDetector(config.roi, prep.spec, noise_state=state)
        levels = StreamingLevels(prep.spec, config.levels)
        stream = classifier.stream(prep.spec) if classifier is not None else None
        rois, periods = [], []
        blocks = iter(prep.source().blocks())
        while True:
            t0 = time.perf_counter()
            block = next(blocks, None)
            t1 = time.perf_counter()
            t["decode"] += t1 - t0
            if block is None:
                break
            frames = frontend.push(block)
            t2 = time.perf_counter()
            found = detector.push(frames)
            rois += found
            t3 = time.perf_counter()
            periods += levels.push(frames)
            t4 = time.perf_counter()
            t["frontend"] += t2 - t1
            t["roi"] += t3 - t2
            t["levels"] += t4 - t3
            if stream is not None:
                stream.push(frames, found, earliest_roi_frame(detector))
                t["inference"] += time.perf_counter() - t4
        t0 = time.perf_counter()
        found = detector.flush()
        rois += found
        periods += levels.flush()
        t1 = time.perf_counter()
        t["roi"] += t1 - t0
        labels = None
        if stream is not None:
            stream.push(SpectralFrames(np.zeros((0, prep.spec.n_bins), np.float32), 0), found, 0)
            labels = stream.finish()
            t["inference"] += time.perf_counter() - t1
        state, prev = detector.noise_state(), prep.info
        dets, _ = records(prep, config, rois, periods, str(path), labels,
                          classifier.identity if classifier is not None else "")
        detections += dets
        out.audio_s += prep.info.duration_s
        out.files.append({"file": str(path), "audio_s": prep.info.duration_s, "sample_rate": prep.info.sample_rate,
                          "rois": len(rois)})
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        with DetectionLog(Path(tmp) / "bench.sqlite") as log:
            seqs = log.append(detections)
        t["logging"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    pack_all(list(zip(seqs, detections)), deployment=config.name, key=BENCH_KEY)
    t["frames"] = time.perf_counter() - t0
    out.wall_s = time.perf_counter() - wall0
    out.cpu_s = _cpu_s() - cpu0
    out.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return out

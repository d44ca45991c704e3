"""Timing each stage of the chain on real recordings: decode, frontend, ROI detection, the
impulse detector (when the deployment has one), levels, inference (when a classifier is
configured), logging to SQLite and frame encoding."""

from __future__ import annotations

import resource
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge.calibration import HydrophoneTable
from edge.classify import Classifier
from edge.config import DeploymentConfig
from edge.detect import contiguous
from edge.pipeline import Chain, prepare, records
from edge.types import AudioInfo, Detection

STAGES = ("decode", "frontend", "roi", "clicks", "levels", "inference", "logging", "frames")
BENCH_KEY = bytes(range(32))  # frames are encoded for timing only, never sent


@dataclass
class StageTimes:
    seconds: dict[str, float | None] = field(default_factory=lambda: {s: 0.0 for s in STAGES})
    files: list[dict[str, Any]] = field(default_factory=list)
    audio_s: float = 0.0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_mb: float = 0.0


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_stages(
    paths: list[Path], config: DeploymentConfig, table: HydrophoneTable | None, *, classifier: Classifier | None = None
) -> StageTimes:
    """Process ``paths`` through :class:`edge.pipeline.Chain` with each stage timed (inference
    only with ``classifier``, else its time is None), then log and frame-encode the
    detections."""
    from edge.log import DetectionLog
    from edge.sync.frames import pack_all

    out = StageTimes()
    t: dict[str, float] = {s: 0.0 for s in STAGES}
    cpu0, wall0 = _cpu_s(), time.perf_counter()
    detections: list[Detection] = []
    state: list[np.ndarray] | None = None
    prev: AudioInfo | None = None
    for path in paths:
        prep = prepare(path, config, table, allow_truncated=True)
        if not contiguous(prev, prep.info):  # the noise floor carries as in edge-detect and edge-run
            state = None
        result = Chain(prep, config, noise_state=state, classifier=classifier, times=t).run()
        state, prev = result.noise_state, prep.info
        dets, _ = records(
            prep,
            config,
            result.rois,
            result.periods,
            str(path),
            result.labels,
            classifier.identity if classifier is not None else "",
        )
        detections += dets
        out.audio_s += prep.info.duration_s
        out.files.append(
            {
                "file": str(path),
                "audio_s": prep.info.duration_s,
                "sample_rate": prep.info.sample_rate,
                "rois": len(result.rois),
            }
        )
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        with DetectionLog(Path(tmp) / "bench.sqlite") as log:
            seqs = log.append(detections)
        t["logging"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    pack_all(list(zip(seqs, detections)), deployment=config.name, key=BENCH_KEY)
    t["frames"] = time.perf_counter() - t0
    absent = {"inference": classifier is None, "clicks": config.clicks is None}  # not configured: None
    out.seconds = {s: None if absent.get(s) else t[s] for s in STAGES}
    out.wall_s = time.perf_counter() - wall0
    out.cpu_s = _cpu_s() - cpu0
    out.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return out

"""``edge-train evaluate``: the whole pipeline (ROI detector + classifier) over long
recordings, detections matched to annotations by time overlap.

Each ROI of edge's detector is classified on the window centred on it (the same crop the
device takes); an ROI becomes a detection of the most probable non-noise class when that
probability reaches ``threshold``.  Event-level: precision, recall, F1 and false positives
per hour, per class.  Window-level: the classifier on windows built from the same recordings
(positives around annotations, random and hard negatives).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from edge.calibration import HydrophoneTable
from edge.config import DeploymentConfig
from training.datasets import NEGATIVE, build_annotated
from training.features import recording_features
from training.loop import load_model, predict
from training.metrics import match_events, window_metrics
from training.types import Annotation, TrainConfigError


def detect(model, classes: list[str], path: str, config: DeploymentConfig, table: HydrophoneTable | None,
           window_s: float, threshold: float, name: str) -> tuple[list[Annotation], float]:
    """Detections of one recording and its duration (s)."""
    rf = recording_features(path, config, table)
    if not rf.rois:
        return [], rf.duration_s
    n = max(1, int(round(window_s / rf.spec.hop_s)))
    x = np.stack([rf.window(rf.frame_of((r.start_s + r.end_s) / 2 - n * rf.spec.hop_s / 2), n) for r in rf.rois])
    probs = predict(model, x)
    noise = classes.index(NEGATIVE) if NEGATIVE in classes else None
    out = []
    for roi, p in zip(rf.rois, probs):
        q = p.copy()
        if noise is not None:
            q[noise] = -1.0
        k = int(np.argmax(q))
        if q[k] >= threshold:
            out.append(Annotation(name, roi.start_s, roi.end_s, roi.low_hz, roi.high_hz, classes[k]))
    return out, rf.duration_s


def evaluate(run: Path, recordings: dict[str, list[Annotation]], config: DeploymentConfig,
             table: HydrophoneTable | None = None, *, threshold: float = 0.5, seed: int = 0) -> dict:
    """Event-level and window-level metrics of the run's model on ``recordings`` (path ->
    annotations, file names as in the annotations)."""
    model, ckpt = load_model(run)
    if ckpt["model_settings"]["head"] == "multi_output":
        raise TrainConfigError(f"{run}: evaluate handles single and multi_label models, this one is multi_output")
    classes = ckpt["classes"]
    spec = config.spec_for(ckpt["spec"]["sample_rate"])
    if spec.hash != ckpt["spec_hash"]:
        raise TrainConfigError(f"the deployment's frontend spec {spec.hash} differs from the model's "
                               f"{ckpt['spec_hash']} ({run / 'frontend.json'})")
    detections, truth, seconds = [], [], 0.0
    for path, anns in recordings.items():
        name = anns[0].file if anns else Path(path).name
        dets, dur = detect(model, classes, path, config, table, ckpt["window_s"], threshold, name)
        detections += dets
        truth += [a for a in anns]
        seconds += dur
    events = match_events(detections, truth, hours=seconds / 3600,
                          classes=[c for c in classes if c != NEGATIVE])
    ds = build_annotated(recordings, config, window_s=ckpt["window_s"], classes=tuple(classes), table=table,
                         seed=seed, jitter_s=0.0)
    windows = window_metrics(ds.y, predict(model, ds.x), classes)
    return {"threshold": threshold, "recordings": len(recordings), "events": events, "windows": windows,
            "detections": len(detections)}


def write(result: dict, path: Path) -> Path:
    path.write_text(json.dumps(result, indent=1))
    return path

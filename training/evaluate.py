"""``edge-train evaluate``: the whole pipeline (ROI detector + classifier) over long
recordings, detections matched to annotations by time overlap.

Each ROI of edge's detector is classified on the window centred on it (the same crop the
device takes); an ROI becomes a detection of the most probable non-noise class when that
probability reaches ``threshold``.  A multi-output model is scored per head: each head's
first class is its "none", and an ROI gives one detection per head whose best other class
reaches the threshold (truth: the annotations whose label is among that head's classes).
Event-level: precision, recall, F1 and false positives per hour, per class (per head for
multi-output), plus the same counts over a list of thresholds (the PR curve).  Window-level:
the classifier on windows built from the same recordings (positives around annotations,
random and hard negatives).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.calibration import HydrophoneTable
from edge.config import DeploymentConfig
from edge.types import Roi
from training.datasets import NEGATIVE, build_annotated
from training.features import recording_features
from training.loop import load_model, predict
from training.metrics import match_events, window_metrics
from training.types import Annotation, TrainConfigError

CURVE = tuple(round(t, 2) for t in np.arange(0.05, 1.0, 0.05))


@dataclass
class Scored:
    """The ROIs of one recording and the classifier's probabilities for each (per head)."""

    name: str  # the recording's name as in its annotations
    rois: list[Roi]
    probs: dict  # output name ("" for single/multi_label) -> (n_rois, n_classes)
    duration_s: float


def _outputs(ckpt: dict) -> dict[str, list[str]]:
    """Output name -> classes; one unnamed output unless the model is multi-output."""
    if ckpt["model_settings"]["head"] == "multi_output":
        return {h: list(c) for h, c in ckpt["model_settings"]["outputs"].items()}
    return {"": list(ckpt["classes"])}


def score(model, ckpt: dict, path: str, config: DeploymentConfig, table: HydrophoneTable | None,
          name: str, classify=None) -> Scored:
    rf = recording_features(path, config, table)
    n = max(1, int(round(ckpt["window_s"] / rf.spec.hop_s)))
    if not rf.rois:
        return Scored(name, [], {k: np.zeros((0, len(c))) for k, c in _outputs(ckpt).items()}, rf.duration_s)
    x = np.stack([rf.window(rf.frame_of((r.start_s + r.end_s) / 2 - n * rf.spec.hop_s / 2), n) for r in rf.rois])
    probs = predict(model, x) if classify is None else _classify(classify, ckpt, x)
    return Scored(name, rf.rois, probs if isinstance(probs, dict) else {"": probs}, rf.duration_s)


def detections(scored: Scored, outputs: dict[str, list[str]], threshold: float) -> list[Annotation]:
    """Detections at ``threshold``: per output, the best class that is not its none/noise."""
    out = []
    for head, classes in outputs.items():
        p = scored.probs[head]
        if not len(p):
            continue
        q = p.copy()
        if head:
            q[:, 0] = -1.0  # a head's first class is its "none"
        elif NEGATIVE in classes:
            q[:, classes.index(NEGATIVE)] = -1.0
        best = np.argmax(q, axis=1)
        for roi, k, row in zip(scored.rois, best, q):
            if row[k] >= threshold:
                out.append(Annotation(scored.name, roi.start_s, roi.end_s, roi.low_hz, roi.high_hz, classes[k]))
    return out


def _events(scored: list[Scored], truth: list[Annotation], outputs: dict[str, list[str]], threshold: float,
            hours: float) -> dict:
    dets = [d for s in scored for d in detections(s, outputs, threshold)]
    calls = [c for h, cls in outputs.items() for c in (cls[1:] if h else cls) if c != NEGATIVE]
    events = match_events(dets, [a for a in truth if a.label in calls], hours=hours, classes=calls)
    events["detections"] = len(dets)
    if len(outputs) > 1:
        events["heads"] = {h: match_events([d for d in dets if d.label in cls[1:]],
                                           [a for a in truth if a.label in cls[1:]], hours=hours,
                                           classes=cls[1:])["overall"] for h, cls in outputs.items()}
    return events


def _windows(ckpt: dict, y: np.ndarray, probs) -> dict:
    classes = list(ckpt["classes"])
    if not isinstance(probs, dict):
        return window_metrics(y, probs, classes)
    heads = {}
    for h, cls in _outputs(ckpt).items():
        t = np.array([cls.index(classes[i]) if classes[i] in cls else 0 for i in y], dtype=np.int64)
        heads[h] = window_metrics(t, probs[h], cls)
    return {"n": int(len(y)), "balanced_accuracy": float(np.mean([m["balanced_accuracy"] for m in heads.values()])),
            "accuracy": float(np.mean([m["accuracy"] for m in heads.values()])), "heads": heads}


def _classify(classify, ckpt: dict, x: np.ndarray):
    """``classify`` (any classifier of standardised windows, e.g. an INT8 file in edge-convert's
    gate) on the windows standardised as the model's own first step does."""
    x = (x - x.mean(axis=(1, 2), keepdims=True)) / np.float32(ckpt["model_settings"]["scale_db"])
    return classify(x.astype(np.float32))


def score_recordings(run: Path, recordings: dict[str, list[Annotation]], config: DeploymentConfig,
                     table: HydrophoneTable | None = None, classify=None) -> tuple[list[Scored], dict]:
    """Every recording's ROIs scored by the run's model, and the model's checkpoint."""
    model, ckpt = load_model(run)
    spec = config.spec_for(ckpt["spec"]["sample_rate"])
    if spec.hash != ckpt["spec_hash"]:
        raise TrainConfigError(f"the deployment's frontend spec {spec.hash} differs from the model's "
                               f"{ckpt['spec_hash']} ({run / 'frontend.json'})")
    scored = [score(model, ckpt, path, config, table, anns[0].file if anns else Path(path).name, classify)
              for path, anns in recordings.items()]
    return scored, ckpt


def evaluate(run: Path, recordings: dict[str, list[Annotation]], config: DeploymentConfig,
             table: HydrophoneTable | None = None, *, threshold: float = 0.5, curve: tuple = CURVE,
             seed: int = 0, classify=None) -> dict:
    """Event-level (at ``threshold`` and over ``curve``) and window-level metrics of the run's
    model on ``recordings`` (path -> annotations, file names as in the annotations).
    ``classify``: probabilities (per head for multi-output) from standardised windows, in
    place of the run's torch model."""
    scored, ckpt = score_recordings(run, recordings, config, table, classify)
    model, _ = load_model(run)
    outputs = _outputs(ckpt)
    truth = [a for anns in recordings.values() for a in anns]
    hours = sum(s.duration_s for s in scored) / 3600
    events = _events(scored, truth, outputs, threshold, hours)
    ds = build_annotated(recordings, config, window_s=ckpt["window_s"], classes=tuple(ckpt["classes"]),
                         table=table, seed=seed, jitter_s=0.0)
    return {"threshold": threshold, "recordings": len(recordings), "events": events,
            "curve": [{"threshold": t, **_events(scored, truth, outputs, t, hours)["overall"]} for t in curve],
            "windows": _windows(ckpt, ds.y, predict(model, ds.x) if classify is None else _classify(classify, ckpt, ds.x)), "detections": events["detections"]}


def write(result: dict, path: Path) -> Path:
    path.write_text(json.dumps(result, indent=1))
    return path

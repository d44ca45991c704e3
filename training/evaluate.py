"""``edge-train evaluate``: the whole pipeline (ROI detector + classifier) over long
recordings, detections matched to annotations by time overlap.

Each ROI of edge's detector is classified on the windows the model's crop policy takes
(:mod:`edge.crops`, the device's own code: the window centred on it, or for ``crop: scan``
windows scanning a long ROI); a window keeps the most probable non-noise class when that
probability reaches ``threshold``, and edge.crops turns the windows' labels into the ROI's
detections.  A multi-output model is scored per head: each head's
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
import yaml

from edge.calibration import HydrophoneTable
from edge.config import DeploymentConfig
from edge.crops import CENTRE, CropPolicy, Label, combine, crop_starts, span
from edge.types import Roi
from training.config import from_mapping
from training.datasets import NEGATIVE, build_annotated
from training.features import recording_features
from training.loop import load_model, predict
from training.metrics import event_outcomes, match_events, per_recording, window_metrics
from training.review import write_review_table
from training.types import Annotation, TrainConfigError

CURVE = tuple(round(t, 2) for t in np.arange(0.05, 1.0, 0.05))


@dataclass
class Scored:
    """The ROIs of one recording, the first frame of each window scored per ROI, and the
    classifier's probabilities for each window (per head), ROI by ROI in crop order."""

    name: str  # the recording's name as in its annotations
    rois: list[Roi]
    probs: dict  # output name ("" for single/multi_label) -> (n_windows, n_classes)
    duration_s: float
    starts: list[list[int]] | None = None  # per ROI; None: one window each
    n_frames: int = 0
    hop_s: float = 0.0


def _outputs(ckpt: dict) -> dict[str, list[str]]:
    """Output name -> classes; one unnamed output unless the model is multi-output."""
    if ckpt["model_settings"]["head"] == "multi_output":
        return {h: list(c) for h, c in ckpt["model_settings"]["outputs"].items()}
    return {"": list(ckpt["classes"])}


def _calls(outputs: dict[str, list[str]]) -> list[str]:
    """The classes a detection can carry: each named head's classes but its first ("none"),
    an unnamed output's but the noise class."""
    return [c for h, cls in outputs.items() for c in (cls[1:] if h else cls) if c != NEGATIVE]


def detectable(run: Path) -> set[str]:
    """The classes the events of ``run`` (a run folder, or a bundle with its ``card.yaml``) are
    scored for: an annotation of any other label is not."""
    if (run / "card.yaml").is_file():
        from edge.bundle import load_bundle

        return load_bundle(run, verify=False).labels
    import torch

    return set(_calls(_outputs(torch.load(run / "best.pt", weights_only=False))))


def run_policy(run: Path) -> CropPolicy:
    """The crop policy of a run: its ``config.yaml``'s ``inference:`` (none: centre)."""
    path = Path(run) / "config.yaml"
    if not path.is_file():
        return CENTRE
    data = yaml.safe_load(path.read_text()) or {}
    if not data.get("inference"):
        return CENTRE
    return from_mapping(data, str(path)).inference.policy()


def score(
    model,
    ckpt: dict,
    path: str,
    config: DeploymentConfig,
    table: HydrophoneTable | None,
    name: str,
    classify=None,
    policy: CropPolicy = CENTRE,
) -> Scored:
    rf = recording_features(path, config, table)
    n = max(1, int(round(ckpt["window_s"] / rf.spec.hop_s)))
    if not rf.rois:
        return Scored(
            name, [], {k: np.zeros((0, len(c))) for k, c in _outputs(ckpt).items()}, rf.duration_s, [], n, rf.spec.hop_s
        )
    starts = [crop_starts(r, n, rf.spec.hop_s, policy) for r in rf.rois]
    x = np.stack([rf.window(s, n) for ss in starts for s in ss])
    probs = predict(model, x) if classify is None else _classify(classify, ckpt, x)
    return Scored(
        name, rf.rois, probs if isinstance(probs, dict) else {"": probs}, rf.duration_s, starts, n, rf.spec.hop_s
    )


def _window_labels(scored: Scored, outputs: dict[str, list[str]], threshold: float) -> list[list[Label]]:
    """Per window: per output, the best class that is not its none/noise, when it reaches
    ``threshold``."""
    n = len(next(iter(scored.probs.values()))) if scored.probs else 0
    out: list[list[Label]] = [[] for _ in range(n)]
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
        for i, (k, row) in enumerate(zip(best, q)):
            if row[k] >= threshold:
                out[i].append(Label(classes[k], float(row[k]), head))
    return out


def detections(scored: Scored, outputs: dict[str, list[str]], threshold: float) -> list[Annotation]:
    """Detections at ``threshold``: each ROI's windows' labels combined by edge.crops."""
    per_window = _window_labels(scored, outputs, threshold)
    starts = scored.starts if scored.starts is not None else [[0] for _ in scored.rois]
    found, i = [], 0
    for roi, ss in zip(scored.rois, starts):
        found += [(roi, lab) for lab in combine(roi, ss, scored.n_frames, scored.hop_s, per_window[i : i + len(ss)])]
        i += len(ss)
    heads = list(outputs)
    found.sort(key=lambda rl: heads.index(rl[1].head))  # stable: head by head, ROIs in time order
    return [Annotation(scored.name, *span(lab, roi), roi.low_hz, roi.high_hz, lab.label) for roi, lab in found]


def _found(
    scored: list[Scored], recordings: dict[str, list[Annotation]], outputs: dict[str, list[str]], threshold: float
) -> tuple[list[Annotation], list[Annotation], list[str]]:
    """The detections at ``threshold``, the annotations of the classes the model detects, and
    those classes."""
    calls = _calls(outputs)
    truth = [a for anns in recordings.values() for a in anns if a.label in calls]
    return [d for s in scored for d in detections(s, outputs, threshold)], truth, calls


def _events(
    scored: list[Scored], recordings: dict[str, list[Annotation]], outputs: dict[str, list[str]], threshold: float
) -> dict:
    """Detections of the scored recordings at ``threshold`` matched to their annotations, false
    positives counted over the scored hours."""
    return _events_of(_found(scored, recordings, outputs, threshold), sum(s.duration_s for s in scored) / 3600, outputs)


def _events_of(
    found: tuple[list[Annotation], list[Annotation], list[str]], hours: float, outputs: dict[str, list[str]]
) -> dict:
    """:func:`_events` of detections already found (:func:`_found`)."""
    dets, truth, calls = found
    events = match_events(dets, truth, hours=hours, classes=calls)
    events["detections"] = len(dets)
    if len(outputs) > 1:
        events["heads"] = {
            h: match_events(
                [d for d in dets if d.label in cls[1:]],
                [a for a in truth if a.label in cls[1:]],
                hours=hours,
                classes=cls[1:],
            )["overall"]
            for h, cls in outputs.items()
        }
    return events


def _outcomes(
    found: tuple[list[Annotation], list[Annotation], list[str]],
    order: list[tuple[Path, str]],
    review: Path | None,
) -> dict[str, dict[str, int]]:
    """Each recording's tp, fp and fn (``order``: ``(path, name as annotated)`` of the recordings
    scored), and with ``review`` the outcomes one by one as a Raven table (:mod:`training.review`)."""
    outcomes = event_outcomes(*found)
    if review is not None:
        write_review_table(review, outcomes, order)
    return per_recording(outcomes, [name for _, name in order])


def _windows(ckpt: dict, y: np.ndarray, probs) -> dict:
    classes = list(ckpt["classes"])
    if not isinstance(probs, dict):
        return window_metrics(y, probs, classes)
    heads = {}
    for h, cls in _outputs(ckpt).items():
        t = np.array([cls.index(classes[i]) if classes[i] in cls else 0 for i in y], dtype=np.int64)
        heads[h] = window_metrics(t, probs[h], cls)
    return {
        "n": int(len(y)),
        "balanced_accuracy": float(np.mean([m["balanced_accuracy"] for m in heads.values()])),
        "accuracy": float(np.mean([m["accuracy"] for m in heads.values()])),
        "heads": heads,
    }


def _classify(classify, ckpt: dict, x: np.ndarray):
    """``classify`` (any classifier of standardised windows, e.g. an INT8 file in edge-convert's
    gate) on the windows standardised as the model's own first step does."""
    from edge.classify import standardise

    settings = ckpt["model_settings"]
    return classify(standardise(x, settings["scale_db"], settings.get("centre", "window_mean")))


def score_recordings(
    run: Path,
    recordings: dict[str, list[Annotation]],
    config: DeploymentConfig,
    table: HydrophoneTable | None = None,
    classify=None,
    policy: CropPolicy | None = None,
    epoch: int | None = None,
) -> tuple[list[Scored], dict]:
    """Every recording's ROIs scored by the run's model (on the windows of ``policy``, by
    default the run's own), and the model's checkpoint; with ``epoch``, by that epoch's
    weights (a run with ``train.keep_epochs``)."""
    policy = run_policy(run) if policy is None else policy
    model, ckpt = load_model(run, epoch)
    spec = config.spec_for(ckpt["spec"]["sample_rate"])
    if spec.hash != ckpt["spec_hash"]:
        raise TrainConfigError(
            f"the deployment's frontend spec {spec.hash} differs from the model's "
            f"{ckpt['spec_hash']} ({run / 'frontend.json'})"
        )
    scored = [
        score(model, ckpt, path, config, table, anns[0].file if anns else Path(path).name, classify, policy)
        for path, anns in recordings.items()
    ]
    return scored, ckpt


def held_out_events(
    run: Path,
    recordings: dict[str, list[Annotation]],
    config: DeploymentConfig,
    table: HydrophoneTable | None = None,
    *,
    threshold: float = 0.5,
    epoch: int | None = None,
) -> dict:
    """Event-level metrics (``overall``, ``per_class``, ``hours``, ``detections``) of the run's
    model, or of one epoch's weights, on ``recordings`` through the whole pipeline at
    ``threshold``: :func:`evaluate`'s ``events`` without its window-level part."""
    scored, ckpt = score_recordings(run, recordings, config, table, epoch=epoch)
    return _events(scored, recordings, _outputs(ckpt), threshold)


def evaluate(
    run: Path,
    recordings: dict[str, list[Annotation]],
    config: DeploymentConfig,
    table: HydrophoneTable | None = None,
    *,
    threshold: float = 0.5,
    curve: tuple = CURVE,
    seed: int = 0,
    classify=None,
    policy: CropPolicy | None = None,
    review: Path | None = None,
) -> dict:
    """Event-level (at ``threshold`` and over ``curve``) and window-level metrics of the run's
    model on ``recordings`` (path -> annotations, file names as in the annotations), and each
    recording's tp, fp and fn.  ``classify``: probabilities (per head for multi-output) from
    standardised windows, in place of the run's torch model.  ``policy``: the crop policy
    (default: the run's ``inference:``).  ``review``: where to write the outcomes as a Raven
    table to review (:mod:`training.review`)."""
    policy = run_policy(run) if policy is None else policy
    scored, ckpt = score_recordings(run, recordings, config, table, classify, policy)
    model, _ = load_model(run)
    outputs = _outputs(ckpt)
    found = _found(scored, recordings, outputs, threshold)  # once: for the events and each outcome
    events = _events_of(found, sum(s.duration_s for s in scored) / 3600, outputs)
    ds = build_annotated(
        recordings,
        config,
        window_s=ckpt["window_s"],
        classes=tuple(ckpt["classes"]),
        table=table,
        seed=seed,
        jitter_s=0.0,
    )
    per = _outcomes(found, [(Path(path), s.name) for path, s in zip(recordings, scored)], review)
    return {
        "threshold": threshold,
        "recordings": len(recordings),
        "inference": policy.as_card(),
        "events": events,
        "per_recording": per,
        "curve": [{"threshold": t, **_events(scored, recordings, outputs, t)["overall"]} for t in curve],
        "windows": _windows(ckpt, ds.y, predict(model, ds.x) if classify is None else _classify(classify, ckpt, ds.x)),
        "detections": events["detections"],
    }


def write(result: dict, path: Path) -> Path:
    path.write_text(json.dumps(result, indent=1))
    return path


def evaluate_bundle(
    bundle: Path,
    recordings: dict[str, list[Annotation]],
    config: DeploymentConfig,
    table: HydrophoneTable | None = None,
    *,
    backend: str = "auto",
    threshold: float | None = None,
    review: Path | None = None,
) -> dict:
    """Event-level metrics of a shipped INT8 bundle run exactly as ``edge-detect`` runs it (edge's
    classifier and backend, the card's crop policy and thresholds; ``threshold`` sets every
    class's), each recording on its own as :func:`evaluate` takes them, and each recording's tp,
    fp and fn (``review``: the outcomes as a Raven table to review).  What a card's
    ``metrics.events`` state is reproduced by this on the same recordings."""
    from dataclasses import replace

    from edge.classify import Classifier, load_classifier
    from edge.config import ModelSettings
    from edge.pipeline import process_recording

    settings = replace(config.model or ModelSettings(), bundle=str(Path(bundle).resolve()), backend=backend)
    classifier = load_classifier(replace(config, model=settings))
    calls = [c for o in classifier.bundle.outputs for c in o.classes if c != o.negative]
    if threshold is not None:  # the loaded bundle and backend again, with every class's threshold set
        settings = replace(settings, thresholds={c: threshold for c in calls})
        classifier = Classifier(classifier.bundle, classifier.backend, settings)
    config = replace(config, model=settings)
    dets, truth, seconds = [], [], 0.0
    order: list[tuple[Path, str]] = []
    for path, anns in recordings.items():
        name = anns[0].file if anns else Path(path).name
        result = process_recording(path, config, table, classifier=classifier)
        dets += [Annotation(name, d.start_s, d.end_s, d.low_hz, d.high_hz, d.label) for d in result.detections]
        truth += [a for a in anns if a.label in calls]
        seconds += result.info.duration_s
        order.append((Path(path), name))
    events = match_events(dets, truth, hours=seconds / 3600, classes=calls)
    events["detections"] = len(dets)
    return {
        "model": classifier.identity,
        "threshold": threshold,
        "recordings": len(recordings),
        "events": events,
        "per_recording": _outcomes((dets, truth, calls), order, review),
    }

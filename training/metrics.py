"""Window-level and event-level metrics (plain NumPy)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from training.types import Annotation


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """``(n_classes, n_classes)`` counts, rows = truth, columns = prediction."""
    m = np.zeros((n_classes, n_classes), dtype=int)
    np.add.at(m, (np.asarray(y_true, int), np.asarray(y_pred, int)), 1)
    return m


def _prf(tp: float, fp: float, fn: float) -> dict:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f, "tp": int(tp), "fp": int(fp), "fn": int(fn)}


def window_metrics(y_true: np.ndarray, probs: np.ndarray, classes: Sequence[str]) -> dict:
    """Accuracy, balanced accuracy, log loss, per-class P/R/F1 and the confusion matrix."""
    y_true = np.asarray(y_true, int)
    y_pred = np.argmax(probs, axis=1)
    m = confusion(y_true, y_pred, len(classes))
    per_class = {c: _prf(m[i, i], m[:, i].sum() - m[i, i], m[i, :].sum() - m[i, i]) for i, c in enumerate(classes)}
    present = [i for i in range(len(classes)) if m[i].sum()]
    ranked = np.argsort(-np.asarray(probs), axis=1, kind="stable") if len(y_true) else np.zeros((0, 0), int)
    top = {
        f"top{k}_accuracy": float(np.mean((ranked[:, :k] == y_true[:, None]).any(axis=1))) if len(y_true) else 0.0
        for k in (1, 3)
        if len(classes) > 3
    }  # ranking figures, for more classes than a top-3 holds
    return {
        **top,
        "n": int(len(y_true)),
        "accuracy": float(np.mean(y_pred == y_true)) if len(y_true) else 0.0,
        "balanced_accuracy": float(np.mean([m[i, i] / m[i].sum() for i in present])) if present else 0.0,
        "log_loss": log_loss(y_true, probs),
        "per_class": per_class,
        "confusion": m.tolist(),
    }


def log_loss(y_true: np.ndarray, probs: np.ndarray) -> float:
    """Mean of -ln(score of the true class) over windows (scores floored at 1e-7): how
    confidently right a model is where balanced accuracy only counts the argmax."""
    if not len(y_true):
        return 0.0
    p = np.asarray(probs, np.float64)[np.arange(len(y_true)), np.asarray(y_true, int)]
    return float(np.mean(-np.log(np.maximum(p, 1e-7))))


def pr_curve(y_true: np.ndarray, scores: np.ndarray) -> list[tuple[float, float, float]]:
    """``(threshold, precision, recall)`` at every distinct score (binary: truth is bool)."""
    y_true = np.asarray(y_true, bool)
    order = np.argsort(-scores, kind="stable")
    s, t = scores[order], y_true[order]
    tp, fp = np.cumsum(t), np.cumsum(~t)
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    total = max(int(t.sum()), 1)
    return [(float(s[i]), float(tp[i] / (tp[i] + fp[i])), float(tp[i] / total)) for i in last]


def _overlap(d: Annotation, a: Annotation) -> float:
    """Seconds a detection and an annotation share (0 for different recordings)."""
    return min(d.end_s, a.end_s) - max(d.start_s, a.start_s) if d.file == a.file else 0.0


OVERLAP_COUNTS = ("found", "missed", "hits", "fp")


def overlap_rates(counts: dict, hours: float) -> dict:
    """The rule of DCLDE-style scoring and of the right-whale issue: an annotation is found when
    any detection overlaps it, and a detection is false when it overlaps no annotation (unlike
    one-to-one matching, a second detection on a call is not false, and one detection over two
    abutting calls finds both).  Precision (detections on a call), recall (calls a detection
    overlaps) and FP per hour of ``counts`` (:data:`OVERLAP_COUNTS`), which may be summed over
    classes, recordings or folds first (:func:`sum_overlap`)."""
    dets, anns = counts["hits"] + counts["fp"], counts["found"] + counts["missed"]
    return {
        **counts,
        "precision": counts["hits"] / dets if dets else 0.0,
        "recall": counts["found"] / anns if anns else 0.0,
        "fp_per_hour": counts["fp"] / hours if hours else float("nan"),
    }


def sum_overlap(counts: Sequence[dict]) -> dict:
    """:data:`OVERLAP_COUNTS` summed over ``counts``."""
    return {k: sum(c[k] for c in counts) for k in OVERLAP_COUNTS}


def overlap_text(events: dict) -> str:
    """``events``' overlap-rule figures as a clause for a line of output ("" without them)."""
    o = events.get("overlap")
    if not o:
        return ""
    return (
        f"; overlap rule: precision {o['precision']:.3f} recall {o['recall']:.3f} FP/h {o['fp_per_hour']:.2f} "
        f"({o['found']} calls found, {o['fp']} detections on none)"
    )


def _matched(
    dets: Sequence[Annotation], anns: Sequence[Annotation]
) -> tuple[list[tuple[float, int, int]], set[int], set[int]]:
    """Every (overlap, detection, annotation) pair of one class, and the detections and
    annotations matched one to one, strongest overlap first."""
    pairs = [(ov, i, j) for i, d in enumerate(dets) for j, a in enumerate(anns) if (ov := _overlap(d, a)) > 0]
    used_d: set[int] = set()
    used_a: set[int] = set()
    for _, i, j in sorted(pairs, reverse=True):
        if i not in used_d and j not in used_a:
            used_d.add(i)
            used_a.add(j)
    return pairs, used_d, used_a


def event_outcomes(
    detections: Sequence[Annotation], truth: Sequence[Annotation], classes: Sequence[str]
) -> list[tuple[Annotation, str]]:
    """What :func:`match_events` counts, one by one: each detection of ``classes`` with ``tp``
    (it matched an annotation) or ``fp``, then each annotation no detection matched with
    ``fn``, by file and time."""
    out: list[tuple[Annotation, str]] = []
    for c in classes:
        dets = [d for d in detections if d.label == c]
        anns = [a for a in truth if a.label == c]
        _, used_d, used_a = _matched(dets, anns)
        out += [(d, "tp" if i in used_d else "fp") for i, d in enumerate(dets)]
        out += [(a, "fn") for j, a in enumerate(anns) if j not in used_a]
    return sorted(out, key=lambda o: (o[0].file, o[0].start_s, o[1]))


def per_recording(outcomes: Sequence[tuple[Annotation, str]], names: Sequence[str]) -> dict[str, dict[str, int]]:
    """tp, fp and fn of each recording (by its name in the annotations), every one named."""
    counts = {name: {"tp": 0, "fp": 0, "fn": 0} for name in names}
    for ann, outcome in outcomes:
        counts.setdefault(ann.file, {"tp": 0, "fp": 0, "fn": 0})[outcome] += 1
    return counts


def match_events(
    detections: Sequence[Annotation], truth: Sequence[Annotation], *, hours: float, classes: Sequence[str] | None = None
) -> dict:
    """Event-level metrics: a detection matches an annotation of the same file and label that
    it overlaps in time (each annotation at most once, strongest overlap first).  Per class
    and overall: precision, recall, F1, false positives per hour, and under ``overlap`` the
    same by :func:`overlap_rates`' rule (each figure at least the one-to-one one)."""
    classes = list(classes or sorted({a.label for a in truth} | {d.label for d in detections}))
    out = {}
    totals = np.zeros(3)
    loose = []
    for c in classes:
        dets = [d for d in detections if d.label == c]
        anns = [a for a in truth if a.label == c]
        pairs, used_d, used_a = _matched(dets, anns)
        tp, fp, fn = len(used_a), len(dets) - len(used_d), len(anns) - len(used_a)
        # the overlap rule from the same pairs: every detection and annotation in one
        hits, found = len({i for _, i, _ in pairs}), len({j for _, _, j in pairs})
        counts = {"found": found, "missed": len(anns) - found, "hits": hits, "fp": len(dets) - hits}
        loose.append(counts)
        out[c] = {
            **_prf(tp, fp, fn),
            "fp_per_hour": fp / hours if hours else float("nan"),
            "overlap": overlap_rates(counts, hours),
        }
        totals += (tp, fp, fn)
    overall = {
        **_prf(*totals),
        "fp_per_hour": totals[1] / hours if hours else float("nan"),
        "overlap": overlap_rates(sum_overlap(loose), hours),
    }
    return {"hours": hours, "per_class": out, "overall": overall}

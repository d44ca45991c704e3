"""Pooling rules for the ranked answer per recording, compared on the grouped folds of a
multispecies recipe run: every held-out recording's window probabilities from the fold model
that never saw its group (as ``edge-train`` evaluates, FP32), then each rule's ranking.

Rules: the class score is the mean of its ``k`` best windows, ``other`` is 1 minus the best
species; ``k`` is 3 (the shipped ``ranking.pool``) or a fraction of the recording's windows
(at least 3), so that a 15-min recording needs sustained evidence and a clip of a few
windows is ranked as before.

    python benchmarks/bench_ranking_pooling.py --run RUN_DIR [--json]

The second table asks what a length-scaled pool costs a species heard briefly in a long
recording: each species recording's windows among the windows of a long (>= 5 min) background
recording that the same fold model never saw (a clip once in 15 min of noise), ranked by each
rule; windows are scored one at a time, so the pooled answer is the one edge-detect gives that
recording but for the few windows that would straddle the clip's edges.

RUN_DIR is the output folder of ``edge-train training/recipes/multispecies.yaml`` (its
``folds/`` hold the fold models and ``folds/recordings.json`` the groups dealt).
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge.crops import window_frames  # noqa: E402
from edge.frontend import FrontendSpec  # noqa: E402
from edge.ranking import Tally, by_score, window_starts  # noqa: E402
from training.features import recording_features  # noqa: E402
from training.folds import FoldsRun  # noqa: E402
from training.loop import predict  # noqa: E402

# rule -> (fewest windows pooled, fraction of the recording's windows pooled)
RULES = {
    "k = 1": (1, 0.0),
    "k = 3": (3, 0.0),
    "k = 5 % of windows": (3, 0.05),
    "k = 10 %": (3, 0.10),
    "k = 25 %": (3, 0.25),
}


LONG_WINDOWS = 300  # a recording of at least this many windows (5 min at the 1-s hop) is long


def window_probabilities(run: Path) -> tuple[list[str], str, list[tuple[str, str, np.ndarray, int]]]:
    """(classes, the negative class, [(label, file, probabilities (n_windows, n_classes), fold)])
    over the real recordings."""
    folds = FoldsRun(run)
    deployment, table = folds.deployment, folds.table
    hop_s = deployment.ranking.hop_s if deployment.ranking else 1.0
    out = []
    for rec in folds.held_out():
        feats = recording_features(rec.path, deployment, table, with_rois=False).feats
        frame_s = FrontendSpec(**rec.ckpt["spec"]).hop_s
        n = max(1, int(round(folds.config.window_s / frame_s)))
        starts = window_starts(len(feats), n, max(1, round(hop_s / frame_s)))
        idx = window_frames(starts, n, len(feats), folds.config.inference.pad)
        p = np.asarray(predict(rec.model, feats[idx].astype(np.float32)))
        out.append((rec.label, rec.path.name, p, rec.fold))
    classes = list(folds.config.classes)  # the fold models' classes: the recipe's
    return classes, folds.config.negative or classes[0], out


def rank(p: np.ndarray, rule: tuple[int, float], classes: list[str], negative: str, truth: str) -> list[str]:
    """edge-detect's ranking (edge.ranking.Tally) with the ``rule``'s best windows pooled; for a
    recording of the ``negative`` class, by score alone (as the model card scores it)."""
    fewest, fraction = rule
    tally = Tally(tuple(classes), negative, min(len(p), max(fewest, math.ceil(fraction * len(p)))))
    tally.add(p)
    ranked = tally.ranking()
    return [r.label for r in (by_score(ranked) if truth == negative else ranked)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    classes, negative, recordings = window_probabilities(args.run)
    result = {}
    for name, rule in RULES.items():
        per: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0, 0])
        for label, _, p, _ in recordings:
            r = rank(p, rule, classes, negative, label)
            per[label][0] += r[0] == label
            per[label][1] += label in r[:3]
            per[label][2] += 1
        n = sum(v[2] for v in per.values())
        result[name] = {
            "top1": sum(v[0] for v in per.values()) / n,
            "top3": sum(v[1] for v in per.values()) / n,
            "recordings": n,
            "per_class_top1": {c: f"{per[c][0]}/{per[c][2]}" for c in classes},
        }
    sparse = sparse_calls(recordings, classes, negative)
    if args.json:
        print(json.dumps({"rules": result, "sparse": sparse}, indent=2))
        return
    for name, r in result.items():
        classes_text = "  ".join(f"{c} {v}" for c, v in r["per_class_top1"].items())
        print(f"{name:<20} top-1 {r['top1']:.3f}  top-3 {r['top3']:.3f}  ({r['recordings']})  {classes_text}")
    print("one species recording in a long background its fold model never saw; the background alone:")
    for name, r in sparse.items():
        classes_text = "  ".join(f"{c} {v}" for c, v in r["per_class"].items())
        print(
            f"{name:<20} species first {r['first']}  in top 3 {r['top3']}  ({classes_text})  "
            f"background alone {negative} first {r['background']}"
        )


def sparse_calls(recordings: list, classes: list[str], negative: str) -> dict:
    """Per rule: how often a species recording's windows, set among a long held-out background's,
    still rank the species first (and in the top 3), and how often the long background alone
    ranks ``negative`` first."""
    long = [(name, p, fold) for label, name, p, fold in recordings if label == negative and len(p) >= LONG_WINDOWS]
    out = {}
    for name, rule in RULES.items():
        first = top3 = n = 0
        per: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
        for label, _, p, fold in recordings:
            if label == negative:
                continue
            for bg_name, bg, bg_fold in long:
                if bg_fold != fold:  # the fold model trained on that background
                    continue
                r = rank(np.concatenate((bg[: len(bg) // 2], p, bg[len(bg) // 2 :])), rule, classes, negative, label)
                first += r[0] == label
                top3 += label in r[:3]
                n += 1
                for key in (label, f"{'< 3' if len(p) < 3 else '>= 3'} windows", bg_name.split("_")[0]):
                    per[key][0] += r[0] == label
                    per[key][1] += 1
        alone = sum(rank(bg, rule, classes, negative, negative)[0] == negative for _, bg, _ in long)
        out[name] = {
            "first": f"{first}/{n}",
            "top3": f"{top3}/{n}",
            "per_class": {c: f"{v[0]}/{v[1]}" for c, v in sorted(per.items())},
            "background": f"{alone}/{len(long)}",
            "backgrounds": sorted(name for name, _, _ in long),
        }
    return out


if __name__ == "__main__":
    main()

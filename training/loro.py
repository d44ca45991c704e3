"""Leave-one-recording-out: one ``edge-train`` run per fold, each evaluated with the whole
pipeline on its held-out recordings, event counts pooled over the folds.

Each held-out recording is classified with the recipe's crop policy (``inference:``, written
into each fold's ``config.yaml``, so a finished fold re-evaluated under a new policy gives
that policy's figures).  The operating threshold is fixed before the folds run (the
config's ``evaluation.threshold`` or ``--threshold``); the pooled counts at the other
thresholds (the PR curve) are reported for reading, never to pick the threshold the
held-out figures are quoted at.

``python -m training.loro CONFIG.yaml --fold A.wav,B.wav --fold C.wav,D.wav ... -o OUT``
writes ``OUT/fold_<k>/`` (run folders with ``evaluation.json``) and ``OUT/loro.json``.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import click

from edge.calibration import HydrophoneTable
from edge.config import load_deployment
from training.config import TrainConfig, load_config
from training.evaluate import evaluate, write
from training.loop import train
from training.metrics import overlap_rates, overlap_text, sum_overlap
from training.sources import config_recordings
from training.types import TrainConfigError


def pool(counts: list[dict], hours: list[float]) -> dict:
    """Precision, recall, F1 and FP per hour of event counts summed over folds (and under
    ``overlap``, the overlap rule's, when every fold has them)."""
    tp, fp, fn = (sum(c[k] for c in counts) for k in ("tp", "fp", "fn"))
    h = sum(hours)
    p = tp / (tp + fp) if tp + fp else 0.0
    rc = tp / (tp + fn) if tp + fn else 0.0
    loose = {}
    if all("overlap" in c for c in counts):
        loose = {"overlap": overlap_rates(sum_overlap([c["overlap"] for c in counts]), h)}
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "hours": h,
        "precision": p,
        "recall": rc,
        "f1": 2 * p * rc / (p + rc) if p + rc else 0.0,
        "fp_per_hour": fp / h if h else float("nan"),
        **loose,
    }


def leave_one_out(
    config: TrainConfig, folds: list[list[str]], out: Path, threshold: float, *, resume: bool = True
) -> dict:
    deployment = load_deployment(config.path(config.deployment))
    table = HydrophoneTable.load(deployment.table_path()) if deployment.table_path() else None
    out.mkdir(parents=True, exist_ok=True)
    recordings = config_recordings(config, out)
    known = {Path(p).name for p in recordings}
    for held in folds:
        missing = sorted(set(held) - known)
        if missing:
            raise TrainConfigError(f"{config.source}: evaluation: folds: {missing} are not among the recordings")
    results, summary = [], {"threshold": threshold, "inference": config.inference.policy().as_card(), "folds": []}
    for k, held in enumerate(folds):
        run = (out / f"fold_{k}").resolve()
        fold = replace(config, out=str(run), split=replace(config.split, holdout=list(held)), evaluation=None)
        window = train(fold, resume=resume)
        subset = {p: a for p, a in recordings.items() if Path(p).name in held}
        result = evaluate(run, subset, deployment, table, threshold=threshold)
        write(result, run / "evaluation.json")
        results.append(result)
        summary["folds"].append(
            {
                "holdout": held,
                "run": str(run),
                "windows": window["windows"],
                "events": result["events"]["overall"],
                "hours": result["events"]["hours"],
                "curve": result["curve"],
            }
        )
    hours = [r["events"]["hours"] for r in results]
    summary["pooled"] = pool([r["events"]["overall"] for r in results], hours)
    summary["curve"] = [
        {"threshold": point["threshold"], **pool([r["curve"][i] for r in results], hours)}
        for i, point in enumerate(results[0]["curve"])
    ]
    (out / "loro.json").write_text(json.dumps(summary, indent=1))
    return summary


@click.command()
@click.argument("config", type=click.Path(dir_okay=False, exists=True))
@click.option("--fold", "folds", multiple=True, required=True, help="comma-separated file names held out together")
@click.option("--threshold", type=float, default=0.5, show_default=True, help="fixed before the folds run")
@click.option("-o", "--out", type=click.Path(file_okay=False), required=True)
def main(config, folds, threshold, out) -> None:
    summary = leave_one_out(load_config(config), [f.split(",") for f in folds], Path(out), threshold)
    for point in [summary["pooled"]] + summary["curve"]:
        t = point.get("threshold", threshold)
        click.echo(
            f"threshold {t:g}: precision {point['precision']:.3f} recall {point['recall']:.3f} "
            f"FP/h {point['fp_per_hour']:.2f} (tp {point['tp']}, fp {point['fp']}, fn {point['fn']}, "
            f"{point['hours']:.2f} h)" + overlap_text(point)
        )


if __name__ == "__main__":
    sys.exit(main())

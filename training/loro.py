"""Leave-one-recording-out: one ``edge-train`` run per fold, each evaluated with the whole
pipeline on its held-out recordings, event counts pooled over the folds.

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
from training.sources import annotated_recordings


def _pool(results: list[dict]) -> dict:
    tp = sum(r["events"]["overall"]["tp"] for r in results)
    fp = sum(r["events"]["overall"]["fp"] for r in results)
    fn = sum(r["events"]["overall"]["fn"] for r in results)
    hours = sum(r["events"]["hours"] for r in results)
    p = tp / (tp + fp) if tp + fp else 0.0
    rc = tp / (tp + fn) if tp + fn else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "hours": hours, "precision": p, "recall": rc,
            "f1": 2 * p * rc / (p + rc) if p + rc else 0.0, "fp_per_hour": fp / hours if hours else float("nan")}


def leave_one_out(config: TrainConfig, folds: list[list[str]], out: Path, thresholds: list[float]) -> dict:
    d = config.data
    deployment = load_deployment(config.path(config.deployment))
    table = HydrophoneTable.load(deployment.table_path()) if deployment.table_path() else None
    csv_path = config.path(d.annotations)
    labels = {str(k): str(v) for k, v in d.labels.items()} if d.labels else None
    recordings = annotated_recordings(csv_path, config.path(d.audio_dir) if d.audio_dir else csv_path.parent,
                                      labels, [config.path(b) for b in d.background])
    per_threshold = {t: [] for t in thresholds}
    summary = {"folds": []}
    for k, held in enumerate(folds):
        run = (out / f"fold_{k}").resolve()
        fold = replace(config, out=str(run), split=replace(config.split, holdout=list(held)))
        window = train(fold)
        subset = {p: a for p, a in recordings.items() if Path(p).name in held}
        entry = {"holdout": held, "windows": window["windows"]}
        for t in thresholds:
            result = evaluate(run, subset, deployment, table, threshold=t)
            write(result, run / f"evaluation_{t:g}.json")
            per_threshold[t].append(result)
            entry[f"events_{t:g}"] = result["events"]["overall"]
        summary["folds"].append(entry)
    summary["pooled"] = {f"{t:g}": _pool(rs) for t, rs in per_threshold.items()}
    (out / "loro.json").write_text(json.dumps(summary, indent=1))
    return summary


@click.command()
@click.argument("config", type=click.Path(dir_okay=False, exists=True))
@click.option("--fold", "folds", multiple=True, required=True, help="comma-separated file names held out together")
@click.option("--threshold", "thresholds", multiple=True, type=float, default=(0.5,), show_default=True)
@click.option("-o", "--out", type=click.Path(file_okay=False), required=True)
def main(config, folds, thresholds, out) -> None:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary = leave_one_out(load_config(config), [f.split(",") for f in folds], out, list(thresholds))
    for t, pooled in summary["pooled"].items():
        click.echo(f"threshold {t}: precision {pooled['precision']:.3f} recall {pooled['recall']:.3f} "
                   f"FP/h {pooled['fp_per_hour']:.2f} (tp {pooled['tp']}, fp {pooled['fp']}, fn {pooled['fn']}, "
                   f"{pooled['hours']:.2f} h)")


if __name__ == "__main__":
    sys.exit(main())

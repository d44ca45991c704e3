"""Which epoch a leave-one-day-out fold keeps, and what each epoch would have scored held out.

Trains the recipe's leave-one-day-out folds (``evaluation: {kind: loro}``) as
``python -m training.loro`` does, with ``train.keep_epochs`` on and the seed given, then scores
every epoch's model on its fold's held-out recordings through the whole pipeline (edge's
frontend and candidate stage, the crop policy, FP32 torch weights) at a fixed threshold.  Per
fold and epoch: the balanced accuracy the run chose its epoch by (on the training windows
when the recipe holds no validation recordings), calls found / false positives / missed,
false positives per hour and F1; then, over the epochs from ``--from-epoch`` on, the range of
F1, its Spearman correlation with that balanced accuracy, and the rank of the kept epoch and
of the last one.  An accuracy study on two days, not a speed benchmark: benchmarks/RESULTS.md,
"The epoch kept".

    python benchmarks/bench_narw_epochs.py --out runs/epochs-s0 [--recipe training/recipes/narw-upcall.yaml]
        [--seed 0] [--threshold 0.5] [--from-epoch 5] [--json]

A run folder already trained is scored again without training (the folds resume).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def train_folds(recipe: Path, seed: int, out: Path, threshold: float) -> tuple[object, list[list[str]]]:
    from training.config import load_config
    from training.loro import leave_one_out

    config = load_config(recipe)
    if config.evaluation is None or config.evaluation.kind != "loro":
        sys.exit(f"{recipe}: evaluation: kind: loro is needed (the folds to hold out)")
    config = replace(config, seed=seed, train=replace(config.train, keep_epochs=True, progress=False))
    leave_one_out(config, config.evaluation.folds, out, threshold)
    return config, config.evaluation.folds


def kept_epoch(run: Path, epochs: list[int]) -> int | None:
    """The epoch whose weights are the run's kept model (None: an average of epochs)."""
    import torch

    kept = torch.load(run / "best.pt", weights_only=False)["model"]
    for n in epochs:
        weights = torch.load(run / "epochs" / f"epoch{n:02d}.pt", weights_only=True)
        if all(torch.equal(kept[k], t) for k, t in weights.items()):
            return n
    return None


def score_epochs(config, held: list[str], run: Path, threshold: float) -> list[dict]:
    from edge.calibration import HydrophoneTable
    from edge.config import load_deployment
    from training.evaluate import held_out_events
    from training.sources import config_recordings

    deployment = load_deployment(config.path(config.deployment))
    table = HydrophoneTable.load(deployment.table_path()) if deployment.table_path() else None
    recordings = {p: a for p, a in config_recordings(config, run.parent).items() if Path(p).name in held}
    history = json.loads((run / "history.json").read_text())
    rows = []
    for entry in history:
        n = entry["epoch"]
        o = held_out_events(run, recordings, deployment, table, threshold=threshold, epoch=n)["overall"]
        p, r = o["precision"], o["recall"]
        rows.append(
            {
                "epoch": n,
                "balanced_accuracy": float(entry["val_balanced_accuracy"]),
                "found": int(o["tp"]),
                "false": int(o["fp"]),
                "missed": int(o["fn"]),
                "fp_per_hour": float(o["fp_per_hour"]),
                "f1": float(2 * p * r / (p + r)) if p + r else 0.0,
            }
        )
        print(f"  epoch {n:2d}: {o['tp']}/{o['fp']}/{o['fn']}", file=sys.stderr, flush=True)
    return rows


def summary(rows: list[dict], kept: int | None, first: int) -> dict:
    from scipy.stats import spearmanr

    late = [r for r in rows if r["epoch"] >= first]
    f1 = [r["f1"] for r in late]

    def rank(epoch: int | None) -> int | None:
        mine = next((r["f1"] for r in late if r["epoch"] == epoch), None)
        return None if mine is None else 1 + sum(f > mine for f in f1)

    rho = spearmanr([r["balanced_accuracy"] for r in late], f1).statistic if len(late) > 2 else float("nan")
    return {
        "from_epoch": first,
        "epochs": len(late),
        "f1_range": [min(f1), max(f1)] if f1 else None,
        "fp_per_hour_range": [min(r["fp_per_hour"] for r in late), max(r["fp_per_hour"] for r in late)]
        if late
        else None,
        "spearman_balanced_accuracy_f1": float(rho),
        "kept_epoch": kept,
        "kept_rank": rank(kept),
        "last_epoch": rows[-1]["epoch"] if rows else None,
        "last_rank": rank(rows[-1]["epoch"]) if rows else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--recipe", type=Path, default=ROOT / "training" / "recipes" / "narw-upcall.yaml")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, required=True, help="run folder (fold_K inside)")
    ap.add_argument("--threshold", type=float, default=0.5, help="fixed before the folds run")
    ap.add_argument("--from-epoch", type=int, default=5, help="the first epoch the summary reads")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    config, folds = train_folds(args.recipe, args.seed, args.out, args.threshold)
    result = []
    for k, held in enumerate(folds):
        run = (args.out / f"fold_{k}").resolve()
        rows = score_epochs(config, held, run, args.threshold)
        kept = kept_epoch(run, [r["epoch"] for r in rows])
        result.append({"holdout": held, "rows": rows, "summary": summary(rows, kept, args.from_epoch)})
    if args.json:
        print(json.dumps({"recipe": str(args.recipe), "seed": args.seed, "folds": result}, indent=1))
        return
    for fold in result:
        s = fold["summary"]
        print(f"\nheld out: {', '.join(fold['holdout'])} (seed {args.seed}, threshold {args.threshold})\n")
        print("| epoch | balanced accuracy (chosen by) | found/FP/missed | FP/h | F1 |")
        print("|---|---|---|---|---|")
        for r in fold["rows"]:
            mark = "**" if r["epoch"] == s["kept_epoch"] else ""
            print(
                f"| {r['epoch']} | {mark}{r['balanced_accuracy']:.4f}{mark} | {r['found']}/{r['false']}/{r['missed']} "
                f"| {r['fp_per_hour']:.0f} | {r['f1']:.3f} |"
            )
        lo, hi = s["f1_range"]
        if s["kept_epoch"] is None:
            kept = "the kept weights are no single epoch's (an average)"
        elif s["kept_rank"] is None:
            kept = f"kept epoch {s['kept_epoch']}, before those read"
        else:
            kept = f"kept epoch {s['kept_epoch']} ranks {s['kept_rank']} of {s['epochs']}"
        print(
            f"\nepochs {s['from_epoch']}-{s['last_epoch']}: F1 {lo:.3f}-{hi:.3f}, FP/h "
            f"{s['fp_per_hour_range'][0]:.0f}-{s['fp_per_hour_range'][1]:.0f}; Spearman (balanced accuracy, F1) "
            f"{s['spearman_balanced_accuracy_f1']:.2f}; {kept}, the last {s['last_rank']}"
        )


if __name__ == "__main__":
    main()

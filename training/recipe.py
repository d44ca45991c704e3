"""A recipe: ``edge-train CONFIG.yaml`` with an ``evaluation:`` section trains the model and
writes the held-out figures to ``RUN/evaluation.json``, so a run folder is self-contained
(``edge-convert`` reads it with ``config.yaml``, ``frontend.json``, ``best.pt``, ``metrics.json``).

- ``kind: loro``: one run per fold under ``RUN/loro/fold_<k>/`` (the fold's recordings held
  out), pooled event-level figures at the fixed threshold and the pooled PR curve; then the
  shipped model trains on every recording into ``RUN``.
- ``kind: split``: the run's own grouped test split: window-level metrics (top-1/top-3 for
  more than three classes) and, for annotated or synthetic recordings, the whole pipeline's
  event-level figures on the test recordings.
"""

from __future__ import annotations

import json
from pathlib import Path

from edge.calibration import HydrophoneTable
from edge.config import load_deployment
from training.config import TrainConfig
from training.evaluate import evaluate
from training.loop import train
from training.loro import leave_one_out
from training.sources import config_recordings
from training.types import TrainConfigError


def shipped_model_note(split: dict, metrics: dict, kept: str | None = None) -> str:
    """What a recipe's shipped model trained on, and its window figure: with no validation part
    (``split: {val: 0}``) the training windows stand in for it (training.loop), and a figure on them
    says nothing of held-out recordings, so the note says whose windows."""
    bacc = metrics["windows"]["balanced_accuracy"]
    how = f", {kept}" if kept else ""
    if split.get("val") == split.get("train") and not split.get("test"):
        return f"trained on every recording{how}; its own training-set windows: balanced accuracy {bacc:.3f}"
    return f"trained on the groups of its train split{how}; its windows: balanced accuracy {bacc:.3f} on its {metrics['split']} part"


def run_recipe(config: TrainConfig, *, resume: bool = True) -> dict:
    """Train the config's model and, when it has an ``evaluation:`` section, write
    ``evaluation.json`` into its run folder; returns the evaluation (else the metrics)."""
    ev = config.evaluation
    run = config.path(config.out)
    if ev is None:
        return train(config, resume=resume)
    if ev.kind == "group_folds":
        from training.folds import group_folds

        result = group_folds(config, run, ev.k, resume=resume)
        metrics = train(config, resume=resume)
        kept = {
            "last": f"the last of {config.train.epochs} epochs kept",
            "average": f"the mean weights of the last {config.train.average_epochs} of {config.train.epochs} epochs kept",
        }.get(config.train.select, "its validation split choosing the epoch")
        result["shipped_model"] = shipped_model_note(json.loads((run / "split.json").read_text()), metrics, kept)
    elif ev.kind == "loro":
        summary = leave_one_out(config, [list(f) for f in ev.folds], run / "loro", ev.threshold, resume=resume)
        metrics = train(config, resume=resume)
        result = {
            "kind": "loro",
            "threshold": ev.threshold,
            "inference": summary["inference"],
            "threshold_rule": "fixed in the recipe before any held-out figure was seen",
            "data": "each fold's held-out recordings (never seen by that fold's model), pooled",
            "events": summary["pooled"],
            "curve": summary["curve"],
            # each held-out day's own curve too: the pooled one hides that two days may want
            # opposite ends of it
            "folds": [{k: f[k] for k in ("holdout", "events", "hours", "curve")} for f in summary["folds"]],
            "shipped_model": shipped_model_note(json.loads((run / "split.json").read_text()), metrics),
        }
    else:
        metrics = train(config, resume=resume)
        split = json.loads((run / "split.json").read_text())
        if metrics["split"] != "test":
            raise TrainConfigError(f"{config.source}: evaluation: kind=split needs a test split (split: test > 0)")
        result = {
            "kind": "split",
            "threshold": ev.threshold,
            "data": "the run's grouped test split",
            "test_groups": split["test"],
            "windows": metrics["windows"],
        }
        if config.data.clips is None:
            deployment = load_deployment(config.path(config.deployment))
            table = HydrophoneTable.load(deployment.table_path()) if deployment.table_path() else None
            groups = set(split["test"])
            recordings = {
                p: a for p, a in config_recordings(config, run).items() if p in groups or str(Path(p)) in groups
            }
            full = evaluate(run, recordings, deployment, table, threshold=ev.threshold, seed=config.seed)
            result.update(events=full["events"], curve=full["curve"], recordings=len(recordings))
    (run / "evaluation.json").write_text(json.dumps(result, indent=1))
    return result

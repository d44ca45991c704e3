"""Grouped k-fold evaluation of a clip-library model, per recording: the ranked answer
``edge-detect`` gives (:mod:`edge.ranking`), for every recording, from a model that never saw
its split group.

The groups (source recordings, or a call type of one catalogue) are dealt into ``k`` folds,
class by class, so every class with at least ``k`` groups is in every fold.  Each fold trains
on the other folds' windows (its own validation split drawn from them) and ranks each of its
held-out recordings: every window at the deployment's ``ranking.hop_s``, scores pooled as the
device pools them.  Synthetic clips are scored too but reported apart: they are not evidence
that a class is heard in real recordings.  The shipped model is then trained on everything.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from edge.calibration import HydrophoneTable
from edge.config import DeploymentConfig, load_deployment
from edge.crops import window_frames
from edge.frontend import FrontendSpec
from edge.ranking import RankingSettings, Tally, by_score, sounding, window_starts
from edge.types import PadName, Rank
from training.config import TrainConfig, load_config
from training.features import RecordingFeatures, recording_features
from training.loop import _strata, load_model, predict, train
from training.sources import build_dataset, clip_sources


def deal(groups: dict[str, str], k: int) -> list[list[str]]:
    """Groups (name -> class) into ``k`` folds: each class's groups in a stable shuffled
    order, dealt round-robin, continuing where the previous class stopped."""
    folds: list[list[str]] = [[] for _ in range(k)]
    turn = 0
    by_class: dict[str, list[str]] = defaultdict(list)
    for g, c in groups.items():
        by_class[c].append(g)
    for c in sorted(by_class):
        for g in sorted(by_class[c], key=lambda name: hashlib.sha1(name.encode()).hexdigest()):
            folds[turn % k].append(g)
            turn += 1
    return folds


def rank_recording(
    model: object,
    rf: RecordingFeatures,
    n: int,
    hop: int,
    classes: tuple[str, ...],
    negative: str,
    pool: int,
    pad: PadName = "edge",
) -> list[Rank]:
    """The ranked answer for one recording's features, as edge-detect computes it."""
    feats = sounding(rf.feats, rf.spec)
    starts = window_starts(len(feats), n, hop)
    tally = Tally(classes, negative if negative in classes else None, pool)
    if starts:
        idx = window_frames(starts, n, len(feats), pad)
        tally.add(predict(model, feats[idx].astype(np.float32)))  # type: ignore[arg-type]
    return tally.ranking()


def summarise(rows: list[dict]) -> dict:
    """Top-1 / top-3 per class and over the recordings (and the mean over classes)."""
    per: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        per[r["label"]].append(r)
    classes = {
        c: {
            "recordings": len(rs),
            "groups": len({r["group"] for r in rs}),
            "top1": float(np.mean([r["top1"] for r in rs])),
            "top3": float(np.mean([r["top3"] for r in rs])),
        }
        for c, rs in sorted(per.items())
    }
    return {
        "recordings": len(rows),
        "top1": float(np.mean([r["top1"] for r in rows])) if rows else float("nan"),
        "top3": float(np.mean([r["top3"] for r in rows])) if rows else float("nan"),
        "class_mean_top1": float(np.mean([c["top1"] for c in classes.values()])) if classes else float("nan"),
        "class_mean_top3": float(np.mean([c["top3"] for c in classes.values()])) if classes else float("nan"),
        "classes": classes,
    }


def summarise_rows(rows: dict[str, list[dict]]) -> dict[str, dict]:
    """:func:`summarise` of each named set of recordings, with the recordings ranked wrong."""
    result = {name: summarise(rs) for name, rs in rows.items()}
    for name, rs in rows.items():
        result[name]["misranked"] = [f"{r['file']} ({r['label']}): {r['ranking'][0]}" for r in rs if not r["top1"]]
    return result


def report(rows: dict[str, list[dict]], heading: str, as_json: bool) -> None:
    """The benchmarks' output: :func:`summarise_rows` as JSON, or as :func:`print_summaries`' table."""
    result = summarise_rows(rows)
    if as_json:
        print(json.dumps(result, indent=1))
    else:
        print_summaries(result, heading)


def print_summaries(result: dict[str, dict], heading: str) -> None:
    """:func:`summarise` results as a table, a row each: top-1, top-3, the mean over classes
    and each class's recordings right first (the benchmarks' printout)."""
    classes = sorted({c for s in result.values() for c in s["classes"]})
    width = max(len(heading), *(len(name) for name in result))
    print(f"{heading:<{width}} {'n':>4} {'top-1':>6} {'top-3':>6} {'class mean':>10}  " + "  ".join(classes))
    for name, s in result.items():
        per = "  ".join(
            f"{round(s['classes'][c]['top1'] * s['classes'][c]['recordings'])}/{s['classes'][c]['recordings']}"
            if c in s["classes"]
            else "-"
            for c in classes
        )
        print(
            f"{name:<{width}} {s['recordings']:>4} {s['top1']:>6.3f} {s['top3']:>6.3f} {s['class_mean_top1']:>10.3f}  {per}"
        )


def group_folds(config: TrainConfig, run: Path, k: int, *, resume: bool = True) -> dict:
    deployment = load_deployment(config.path(config.deployment))
    table = HydrophoneTable.load(deployment.table_path()) if deployment.table_path() else None
    run.mkdir(parents=True, exist_ok=True)
    ds = build_dataset(config, run)
    strata = _strata(ds, config.negative)
    group_class = {g: str(s) for g, s in zip(ds.groups.tolist(), strata.tolist())}
    folds = deal(group_class, k)
    synthetic_dir = (run / "synthetic_clips").resolve()
    entries = clip_sources(config, run, deployment.channel)
    ranking = deployment.ranking or RankingSettings()
    rows = []
    for i, held in enumerate(folds):
        fold_dir = (run / "folds" / f"fold_{i}").resolve()
        fold = replace(config, out=str(fold_dir), split=replace(config.split, holdout=held, test=0.0), evaluation=None)
        train(fold, resume=resume, dataset=ds)
        model, ckpt = load_model(fold_dir)
        held_set = set(held)
        for path, label, group in entries:
            if group not in held_set or label not in config.classes:
                continue
            rows.append(
                score_recording(model, ckpt, path, label, group, i, deployment, table, ranking, config, synthetic_dir)
            )
    return summary(rows, k, folds, ranking, run)


@dataclass(frozen=True)
class HeldOut:
    """A real recording of a ``group_folds`` run and the fold model that never saw its group."""

    path: Path
    label: str
    group: str
    fold: int
    model: object
    ckpt: dict


class FoldsRun:
    """A finished ``group_folds`` run read back (benchmarks compare rules on it): its config,
    deployment and calibration table, and its real recordings each with the fold model that
    never saw its group, every fold model loaded once."""

    def __init__(self, run: Path) -> None:
        self.run = Path(run).resolve()
        self.config = load_config(self.run / "config.yaml")
        self.deployment = load_deployment(self.config.path(self.config.deployment))
        path = self.deployment.table_path()
        self.table = HydrophoneTable.load(path) if path else None
        self.ranking = self.deployment.ranking or RankingSettings()
        self.synthetic_dir = (self.run / "synthetic_clips").resolve()
        self._fold_of = {
            r["group"]: r["fold"] for r in json.loads((self.run / "folds" / "recordings.json").read_text())
        }
        self._models: dict[int, tuple] = {}

    def held_out(self) -> Iterator[HeldOut]:
        """Every real recording of a class, with its fold's model."""
        for path, label, group in clip_sources(self.config, self.run, self.deployment.channel):
            if group not in self._fold_of or label not in self.config.classes:
                continue
            if Path(path).resolve().is_relative_to(self.synthetic_dir):
                continue
            fold = self._fold_of[group]
            if fold not in self._models:
                self._models[fold] = load_model(self.run / "folds" / f"fold_{fold}")
            yield HeldOut(Path(path), label, group, fold, *self._models[fold])

    def score(self, rec: HeldOut, audio: Path | None = None) -> dict:
        """``rec`` ranked by its fold's model as edge-detect ranks it (:func:`score_recording`),
        from ``audio`` (the same sound, e.g. resampled) when given."""
        return score_recording(
            rec.model,
            rec.ckpt,
            rec.path if audio is None else audio,
            rec.label,
            rec.group,
            rec.fold,
            self.deployment,
            self.table,
            self.ranking,
            self.config,
            self.synthetic_dir,
        )


def summary(rows: list[dict], k: int, folds: list[list[str]], ranking: RankingSettings, run: Path) -> dict:
    """The evaluation (it goes into the model card, so it stays small): figures per class, and
    the real recordings ranked wrong; every recording's ranking in ``folds/recordings.json``."""
    (run / "folds").mkdir(parents=True, exist_ok=True)
    (run / "folds" / "recordings.json").write_text(json.dumps(rows, indent=1))
    real = [r for r in rows if not r["synthetic"]]
    return {
        "kind": "group_folds",
        "k": k,
        "data": "every recording of the clip list, ranked by the model of the fold that held its group out "
        "(each recording's ranking: folds/recordings.json)",
        "pooling": {"hop_s": ranking.hop_s, "pool": ranking.pool},
        "folds": folds,
        "real": summarise(real),
        "synthetic": summarise([r for r in rows if r["synthetic"]]),
        "misranked": [f"{r['file']} ({r['label']}): {r['ranking'][0]}" for r in real if not r["top1"]],
    }


def score_recording(
    model: object,
    ckpt: dict,
    path: Path,
    label: str,
    group: str,
    fold: int,
    deployment: DeploymentConfig,
    table: HydrophoneTable | None,
    ranking: RankingSettings,
    config: TrainConfig,
    synthetic_dir: Path,
) -> dict:
    rf = recording_features(path, deployment, table, with_rois=False)  # each recording is held out once
    hop_s = FrontendSpec(**ckpt["spec"]).hop_s
    n = max(1, int(round(config.window_s / hop_s)))
    hop = max(1, round(ranking.hop_s / hop_s))
    ranked = rank_recording(
        model, rf, n, hop, tuple(ckpt["classes"]), config.negative, ranking.pool, config.inference.pad
    )
    # a recording of the negative class is right when none of the species outscores it
    labels = [r.label for r in (by_score(ranked) if label == config.negative else ranked)]
    scored = [r.label for r in by_score(ranked)]  # the negative class ranked by its score (the rule before)
    return {
        "file": Path(path).name,
        "label": label,
        "group": group,
        "fold": fold,
        "synthetic": Path(path).resolve().is_relative_to(synthetic_dir),
        "ranking": [f"{r.label} {r.score:.3f}" for r in ranked[:3]],
        "top1": labels[0] == label,
        "top3": label in labels[:3],
        "top1_by_score": scored[0] == label,
        "top3_by_score": label in scored[:3],
    }

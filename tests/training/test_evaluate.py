"""Event-level matching and `edge-train evaluate` over whole recordings."""

from __future__ import annotations

import json

import pytest
import torch

from tests.support.training import write_config
from training.cli.train import main
from training.config import SyntheticSettings, load_config
from training.loop import train
from training.metrics import event_outcomes, match_events, per_recording, pr_curve
from training.sources import write_synthetic
from training.types import Annotation

torch.set_num_threads(1)


def ev(file, start, end, label="upcall"):
    return Annotation(file, start, end, 50, 250, label)


def test_match_events_by_time_overlap():
    truth = [ev("a", 10, 11), ev("a", 20, 21), ev("b", 5, 6), ev("a", 40, 41, "moan")]
    dets = [
        ev("a", 10.5, 11.5),
        ev("a", 10.8, 12),  # two on one call: one TP, one FP
        ev("b", 20, 21),  # right time, wrong file: FP
        ev("a", 40, 41, "moan"),
        ev("a", 60, 61, "moan"),
    ]
    m = match_events(dets, truth, hours=2.0)
    up, moan = m["per_class"]["upcall"], m["per_class"]["moan"]
    assert (up["tp"], up["fp"], up["fn"]) == (1, 2, 2)
    assert up["precision"] == pytest.approx(1 / 3) and up["recall"] == pytest.approx(1 / 3)
    assert up["fp_per_hour"] == 1.0
    assert (moan["tp"], moan["fp"], moan["fn"]) == (1, 1, 0)
    assert m["overall"]["tp"] == 2 and m["overall"]["fp_per_hour"] == 1.5
    # the overlap rule: the second detection on the first call is on a call, not false
    o = m["per_class"]["upcall"]["overlap"]
    assert (o["found"], o["missed"], o["hits"], o["fp"]) == (1, 2, 2, 1)
    assert o["precision"] == pytest.approx(2 / 3) and o["recall"] == pytest.approx(1 / 3)
    assert o["fp_per_hour"] == 0.5
    assert m["overall"]["overlap"]["fp"] == 2 and m["overall"]["overlap"]["found"] == 2


def test_each_outcome_is_what_match_events_counts():
    truth = [ev("a", 10, 11), ev("a", 20, 21), ev("b", 5, 6), ev("a", 40, 41, "moan")]
    dets = [ev("a", 10.5, 11.5), ev("a", 10.8, 12), ev("b", 20, 21), ev("a", 40, 41, "moan"), ev("a", 60, 61, "moan")]
    outcomes = event_outcomes(dets, truth, ["upcall", "moan"])
    assert [(a.file, a.start_s, a.label, o) for a, o in outcomes] == [
        ("a", 10.5, "upcall", "tp"),  # the stronger overlap of the two on one call
        ("a", 10.8, "upcall", "fp"),  # a second detection on one call
        ("a", 20.0, "upcall", "fn"),
        ("a", 40.0, "moan", "tp"),
        ("a", 60.0, "moan", "fp"),
        ("b", 5.0, "upcall", "fn"),
        ("b", 20.0, "upcall", "fp"),  # right time, wrong file
    ]
    m = match_events(dets, truth, hours=1.0)["overall"]
    counts = per_recording(outcomes, ["a", "b", "c"])
    assert counts == {
        "a": {"tp": 2, "fp": 2, "fn": 1},
        "b": {"tp": 0, "fp": 1, "fn": 1},
        "c": {"tp": 0, "fp": 0, "fn": 0},
    }
    assert sum(c["tp"] for c in counts.values()) == m["tp"] and sum(c["fp"] for c in counts.values()) == m["fp"]
    assert sum(c["fn"] for c in counts.values()) == m["fn"]


def test_overlap_rule_one_detection_over_abutting_calls():
    # a chorus: two upcalls that abut make one candidate and one detection
    truth = [ev("a", 10, 11), ev("a", 11.2, 12.0), ev("a", 30, 31)]
    dets = [ev("a", 9.8, 12.1)]
    m = match_events(dets, truth, hours=1.0)["overall"]
    assert (m["tp"], m["fp"], m["fn"]) == (1, 0, 2)
    o = m["overlap"]
    assert (o["found"], o["missed"], o["hits"], o["fp"]) == (2, 1, 1, 0)
    assert o["recall"] == pytest.approx(2 / 3) and o["precision"] == 1.0


def test_pooled_overlap_counts_sum_over_folds():
    from training.loro import pool

    a = match_events([ev("a", 10, 11), ev("a", 50, 51)], [ev("a", 10, 11)], hours=0.5)["overall"]
    b = match_events([ev("b", 1, 2)], [ev("b", 1, 2), ev("b", 5, 6)], hours=0.25)["overall"]
    p = pool([a, b], [0.5, 0.25])
    assert (p["tp"], p["fp"], p["fn"]) == (2, 1, 1)
    assert (p["overlap"]["found"], p["overlap"]["fp"]) == (2, 1)
    assert p["overlap"]["fp_per_hour"] == pytest.approx(1 / 0.75)


def test_pr_curve():
    import numpy as np

    curve = pr_curve(np.array([1, 0, 1, 0]), np.array([0.9, 0.8, 0.7, 0.1]))
    assert curve == [(0.9, 1.0, 0.5), (0.8, 0.5, 0.5), (0.7, 2 / 3, 1.0), (0.1, 0.5, 1.0)]


@pytest.mark.slow
def test_evaluate_runs_detector_and_classifier_on_unseen_recordings(tmp_path, capsys):
    config = write_config(
        tmp_path,
        train={"epochs": 5, "batch_size": 32, "patience": 5, "threads": 1, "steps_per_epoch": 8, "progress": False},
    )
    train(load_config(config))
    unseen = write_synthetic(
        SyntheticSettings(recordings=2, duration_s=60, calls={"upcall": 6}, snr_db=(8, 15)),
        tmp_path / "unseen",
        seed=99,
    )
    with pytest.raises(SystemExit) as info:
        main(["evaluate", str(tmp_path / "run"), "--annotations", str(unseen), "--review", str(tmp_path / "r.txt")])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "events: precision" in out and f"review table: {tmp_path / 'r.txt'}" in out
    result = json.loads((tmp_path / "run" / "evaluate.json").read_text())
    events = result["events"]
    assert events["hours"] == pytest.approx(120 / 3600)
    assert set(events["per_class"]) == {"upcall"}
    assert events["overall"]["recall"] >= 0.6 and events["overall"]["precision"] >= 0.6
    assert result["windows"]["balanced_accuracy"] >= 0.75
    per = result["per_recording"]
    assert len(per) == 2 and sum(c["tp"] + c["fn"] for c in per.values()) == 12  # six calls in each
    outcomes = [line.split("\t")[8] for line in (tmp_path / "r.txt").read_text().splitlines()[1:]]
    assert len(outcomes) == events["overall"]["tp"] + events["overall"]["fp"] + events["overall"]["fn"]


@pytest.mark.slow
def test_evaluation_and_edge_detect_scan_an_roi_alike(tmp_path_factory):
    """One implementation of the crop policy: training.evaluate with the bundle's own ONNX
    file as its classifier gives edge-detect's detections of a scanning bundle, window
    positions, spans and merged runs included."""
    from dataclasses import replace

    import soundfile as sf

    from edge.calibration import HydrophoneTable
    from edge.classify import activate, load_classifier
    from edge.config import ModelSettings, load_deployment
    from edge.pipeline import process_recording
    from tests.support.bundles import scanning
    from tests.support.data import DEPLOYMENTS
    from tests.support.signals import SR, long_events
    from tests.support.tiny_models import tiny_run
    from training.evaluate import _outputs, detections, score_recordings

    config = load_deployment(DEPLOYMENTS / "narw-upcall.yaml")
    table = HydrophoneTable.load(config.table_path())
    path = tmp_path_factory.mktemp("scan") / "long.wav"
    sf.write(str(path), long_events(120.0, seed=5), SR, subtype="PCM_16")
    run, bundle = tiny_run(tmp_path_factory), scanning(tmp_path_factory)
    classifier = load_classifier(replace(config, model=ModelSettings(bundle=str(bundle), backend="onnx")))
    edge = process_recording(path, config, table, classifier=classifier).detections

    def onnx(x):
        return activate(classifier.backend.run(x)["logits"], "softmax")

    scored, ckpt = score_recordings(run, {str(path): []}, config, table, classify=onnx, policy=classifier.policy)
    ours = detections(scored[0], _outputs(ckpt), classifier.thresholds["upcall"])
    assert [(round(d.start_s, 6), round(d.end_s, 6), d.label) for d in edge] == [
        (round(a.start_s, 6), round(a.end_s, 6), a.label) for a in ours
    ]
    rois = scored[0].rois
    assert sum(len(s) for s in scored[0].starts) > len(rois)  # long ROIs were scanned
    assert edge and len(rois) == len(scored[0].starts)


@pytest.mark.slow
def test_held_out_events_of_the_kept_epoch_are_evaluates_and_each_kept_epoch_can_be_scored(tmp_path):
    from edge.config import load_deployment
    from training.evaluate import evaluate, held_out_events
    from training.sources import annotated_recordings

    config = load_config(
        write_config(
            tmp_path,
            train={
                "epochs": 3,
                "batch_size": 32,
                "patience": 3,
                "threads": 1,
                "steps_per_epoch": 8,
                "progress": False,
                "keep_epochs": True,
            },
        )
    )
    train(config)
    run = tmp_path / "run"
    csv = write_synthetic(
        SyntheticSettings(recordings=2, duration_s=30, calls={"upcall": 3}, snr_db=(8, 15)), tmp_path / "unseen", seed=7
    )
    recordings = annotated_recordings(csv, csv.parent, None, [])
    deployment = load_deployment(config.path(config.deployment))
    whole = evaluate(run, recordings, deployment)["events"]
    kept = held_out_events(run, recordings, deployment)
    assert kept["overall"] == whole["overall"] and kept["hours"] == pytest.approx(60 / 3600)
    history = [h["val_balanced_accuracy"] for h in json.loads((run / "history.json").read_text())]
    best = 1 + history.index(max(history))
    assert held_out_events(run, recordings, deployment, epoch=best)["overall"] == kept["overall"]
    for epoch in (1, 2, 3):  # each epoch's weights go through the whole pipeline
        overall = held_out_events(run, recordings, deployment, epoch=epoch)["overall"]
        assert overall["tp"] + overall["fn"] == 6


def _bundle_evaluate(tmp_path, rows, capsys):
    import numpy as np
    import soundfile as sf

    from tests.support.data import DEPLOYMENTS, ROOT

    rng = np.random.default_rng(4)
    sf.write(str(tmp_path / "quiet.wav"), 0.01 * rng.standard_normal(20 * 2000), 2000, subtype="PCM_16")
    csv = tmp_path / "calls.csv"
    csv.write_text("filename,start,end,label\n" + "".join(f"quiet.wav,{a},{b},{lab}\n" for a, b, lab in rows))
    with pytest.raises(SystemExit) as info:
        main(
            [
                "evaluate",
                str(ROOT / "models" / "narw-upcall"),
                "--config",
                str(DEPLOYMENTS / "narw-upcall.yaml"),
                "--annotations",
                str(csv),
            ]
        )
    return info.value.code, capsys.readouterr()


def test_evaluate_refuses_annotations_whose_labels_the_model_cannot_detect(tmp_path, capsys):
    code, out = _bundle_evaluate(tmp_path, [(2, 3, "up"), (8, 9, "up")], capsys)
    assert code == 2
    assert "no annotation has a label the model detects (2 'up')" in out.err
    assert "--label RAW=CLASS" in out.err and "upcall" in out.err


def test_evaluate_warns_of_the_annotations_it_does_not_score(tmp_path, capsys):
    code, out = _bundle_evaluate(tmp_path, [(2, 3, "upcall"), (8, 9, "moan")], capsys)
    assert code == 0
    assert "annotations not scored, their labels unknown to the model: 1 'moan'" in out.err
    assert "events: precision" in out.out


def test_evaluate_scores_the_selections_of_the_channel_analysed(tmp_path, capsys):
    """A two-hydrophone recording's Raven table: the deployment analyses channel 0 (Raven's 1),
    so the call drawn on channel 2 is no missed call of channel 1; edge-train says it left it out."""
    import numpy as np
    import soundfile as sf

    from tests.support.data import DEPLOYMENTS, ROOT

    rng = np.random.default_rng(4)
    sf.write(str(tmp_path / "pair.wav"), 0.01 * rng.standard_normal((20 * 2000, 2)), 2000, subtype="PCM_16")
    table = tmp_path / "pair.Table.1.selections.txt"
    table.write_text(
        "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tHigh Freq (Hz)\tLabel\n"
        "1\tSpectrogram 1\t1\t2.0\t3.0\t50\t250\tupcall\n"
        "2\tSpectrogram 2\t2\t8.0\t9.0\t50\t250\tupcall\n"
    )
    out = tmp_path / "evaluate.json"
    args = ["evaluate", str(ROOT / "models" / "narw-upcall"), "--config", str(DEPLOYMENTS / "narw-upcall.yaml")]
    with pytest.raises(SystemExit) as info:
        main([*args, "--annotations", str(table), "-o", str(out)])
    err = capsys.readouterr().err
    assert info.value.code == 0, err
    assert f"warning: {table}: 1 selections left out (1 on channel 2): the deployment analyses channel 0" in err
    overall = json.loads(out.read_text())["events"]["overall"]
    assert overall["tp"] + overall["fn"] == 1


@pytest.mark.shared
def test_evaluate_with_a_raven_pro_sequence_table_scores_as_the_csv(tmp_path, capsys):
    """An analyst's Raven Pro table over the day's file sequence (no label column: every
    selection an upcall) gives the shipped bundle the same events as the day's CSV."""
    from edge.audio import probe
    from tests.support.data import DEPLOYMENTS, ROOT, shared_path
    from tests.training.test_annotations import raven_pro_sequence
    from training.annotations import read_csv

    data = shared_path("meridian-osmose-narw", "task-2a", "data", "train")
    durations = {p.name: probe(p).duration_s for p in (data / "narw").glob("*.wav")}
    table = tmp_path / "day.selections.txt"
    table.write_text(
        raven_pro_sequence(read_csv(data / "annotations_train.csv", labels={"1": "upcall"}), durations, label=False)
    )
    common = ["--config", str(DEPLOYMENTS / "narw-upcall.yaml"), "--audio-dir", str(data / "narw")]
    common += ["--only", "NOPP6_EST_20090328_000000.wav"]
    runs = {
        "csv": ["--annotations", str(data / "annotations_train.csv"), "--label", "1=upcall"],
        "raven": ["--annotations", str(table), "--default-label", "upcall"],
    }
    events = {}
    for kind, args in runs.items():
        out = tmp_path / f"{kind}.json"
        with pytest.raises(SystemExit) as info:
            main(["evaluate", str(ROOT / "models" / "narw-upcall"), *args, *common, "-o", str(out)])
        assert info.value.code == 0, capsys.readouterr().err
        events[kind] = json.loads(out.read_text())["events"]["overall"]
    assert events["raven"] == events["csv"]
    assert events["csv"]["tp"] + events["csv"]["fn"] == sum(
        1 for a in read_csv(data / "annotations_train.csv") if a.file == "NOPP6_EST_20090328_000000.wav"
    )
    assert events["csv"]["tp"] >= 5

"""The review round trip: edge-detect's run-level Raven table, reviewed by an analyst (a
Verdict column), read back by edge-train as annotations and hard negatives."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

pytest.importorskip("torch", reason="needs the train extra")

from edge.config import load_deployment
from edge.detect import RunOptions, detect
from tests.support.data import DEPLOYMENTS, ROOT
from training.annotations import read_raven_multi
from training.config import load_config
from training.sources import build_dataset, config_recordings
from training.types import AnnotationError

RECORDINGS = ROOT / "examples" / "recordings"


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory):
    """raven/all.selections.txt of a --no-model run over the bundled recordings, with a
    Verdict column: true, false, unreviewed and a corrected label, in turn."""
    out = tmp_path_factory.mktemp("review")
    config = load_deployment(DEPLOYMENTS / "narw-upcall.yaml")
    detect([RECORDINGS], out / "run", config, RunOptions(outputs=frozenset({"raven", "audacity"})))
    with open(out / "run" / "raven" / "all.selections.txt", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    assert len(rows) >= 8
    verdicts = ["true", "false", "", "gunshot"]
    for i, row in enumerate(rows):
        row["Verdict"] = verdicts[i % 4]
    table = out / "reviewed.selections.txt"
    with open(table, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=[*rows[0], "Verdict"], delimiter="\t", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return table, rows


def test_verdicts_become_labels_hard_negatives_or_nothing(reviewed):
    table, rows = reviewed
    anns = read_raven_multi(table, negative="noise", labels={"roi": "upcall", "gunshot": "gunshot"})
    expected = [
        (
            r["Begin File"],
            round(float(r["File Offset (s)"]), 3),
            {"true": "upcall", "false": "noise"}.get(r["Verdict"], r["Verdict"]),
        )
        for r in rows
        if r["Verdict"]
    ]
    assert [(a.file, round(a.start_s, 3), a.label) for a in anns] == expected
    length = float(rows[0]["End Time (s)"]) - float(rows[0]["Begin Time (s)"])
    assert anns[0].end_s - anns[0].start_s == pytest.approx(length)


def test_a_bad_row_is_named_by_file_and_line(reviewed, tmp_path):
    table, _ = reviewed
    lines = table.read_text().splitlines()
    cells = lines[2].split("\t")
    cells[lines[0].split("\t").index("File Offset (s)")] = "soon"  # of the second selection
    bad = tmp_path / "bad.selections.txt"
    bad.write_text("\n".join([lines[0], lines[1], "\t".join(cells), *lines[3:]]) + "\n")
    with pytest.raises(AnnotationError, match=rf"{bad}: line 3: column 'File Offset \(s\)' holds 'soon'"):
        read_raven_multi(bad, negative="noise")
    with pytest.raises(AnnotationError, match=r"unknown label 'gunshot'"):
        read_raven_multi(table, negative="noise", labels={"roi": "upcall"})


def test_edge_train_builds_its_windows_from_the_review(reviewed, tmp_path):
    """A recipe naming the reviewed table trains on the confirmed calls as upcalls and the
    rejected detections as noise; unreviewed rows give no window."""
    table, rows = reviewed
    recipe = tmp_path / "review.yaml"
    recipe.write_text(
        yaml.safe_dump(
            {
                "out": "run",
                "deployment": str(DEPLOYMENTS / "narw-upcall.yaml"),
                "classes": ["noise", "upcall"],
                "data": {
                    "annotations": str(table),
                    "audio_dir": str(RECORDINGS),
                    "labels": {"roi": "upcall", "gunshot": "upcall"},
                    "positives_per_call": 1,
                    "negatives_per_recording": 0,
                    "hard_negatives": False,
                },
            }
        )
    )
    config = load_config(recipe)
    recordings = config_recordings(config, tmp_path / "run")
    labels = sorted(a.label for anns in recordings.values() for a in anns)
    reviewed_rows = [r for r in rows if r["Verdict"]]
    assert labels.count("noise") == sum(r["Verdict"] == "false" for r in reviewed_rows)
    assert labels.count("upcall") == sum(r["Verdict"] != "false" for r in reviewed_rows)
    ds = build_dataset(config, tmp_path / "run")
    assert len(ds) == len(reviewed_rows)  # one window per reviewed selection, none for the others
    assert sorted(r.label for r in ds.refs) == labels


def test_edge_detects_raven_folder_gives_each_selection_once(reviewed, tmp_path):
    """edge-detect's raven/ holds each recording's table and all.selections.txt: as annotations
    (the model's detections taken as they are) every selection comes once; a reviewed table
    beside tables that label its rejected selections otherwise is refused, naming both."""
    from edge.audio import discover
    from training.sources import read_annotations

    table, rows = reviewed
    raven = table.parent / "run" / "raven"
    names = {p.name: p for p in discover([RECORDINGS])}
    anns = read_annotations(raven, names, {"roi": "upcall"})
    assert sorted((a.file, round(a.start_s, 3)) for a in anns) == sorted(
        (r["Begin File"], round(float(r["File Offset (s)"]), 3)) for r in rows
    )
    assert len(list(raven.glob("*.selections.txt"))) > 2  # the recordings' tables and the run's
    both = tmp_path / "both"
    both.mkdir()
    for p in raven.glob("*.selections.txt"):
        if p.name != "all.selections.txt":
            (both / p.name).write_bytes(p.read_bytes())
    (both / "reviewed.selections.txt").write_bytes(table.read_bytes())
    with pytest.raises(AnnotationError, match=r"reviewed.selections.txt: the selection of .* is labelled 'noise' here"):
        read_annotations(both, names, {"roi": "upcall", "gunshot": "gunshot"})


def test_edge_detects_audacity_label_tracks_read_back_as_its_raven_tables(reviewed):
    """Audacity label tracks (edge-detect's audacity/REC.txt: the label, its score, its
    frequency line) read as the same selections as the Raven tables of the same run."""
    from edge.audio import discover
    from training.sources import read_annotations

    table, _ = reviewed
    run = table.parent / "run"
    names = {p.name: p for p in discover([RECORDINGS])}
    tracks = read_annotations(run / "audacity", names, {"roi": "upcall"})
    raven = read_annotations(run / "raven", names, {"roi": "upcall"})  # its run table counted once

    def key(a):
        return (a.file, round(a.start_s, 3), round(a.end_s, 3), a.low_hz, a.high_hz, a.label)

    assert sorted(map(key, tracks)) == sorted(map(key, raven)) and len(tracks) >= 8


@pytest.mark.shared
def test_an_evaluations_review_table_opens_the_recordings_and_reads_back_reviewed(tmp_path, capsys):
    """edge-train evaluate --review: each detection (tp, fp) and missed call (fn) of the
    shipped bundle on two annotated files, on one time line naming each row's file; reviewed
    (a Verdict per row), it reads back as the annotations and hard negatives it says."""
    from tests.support.data import shared_path
    from training.cli.train import main

    data = shared_path("meridian-osmose-narw", "task-2a", "data", "train")
    files = ["NOPP6_EST_20090328_000000.wav", "NOPP6_EST_20090328_001500.wav"]
    table, out = tmp_path / "review.selections.txt", tmp_path / "evaluate.json"
    args = ["evaluate", str(ROOT / "models" / "narw-upcall"), "--config", str(DEPLOYMENTS / "narw-upcall.yaml")]
    args += ["--annotations", str(data / "annotations_train.csv"), "--audio-dir", str(data / "narw")]
    args += ["--label", "1=upcall", "--only", files[0], "--only", files[1], "-o", str(out), "--review", str(table)]
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 0
    result = json.loads(out.read_text())
    o = result["events"]["overall"]
    assert (
        f"review table: {table} ({o['fp']} false positives, {o['fn']} calls missed, {o['tp']} found"
        in capsys.readouterr().out
    )
    with open(table, newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    assert [sum(r["Outcome"] == k for r in rows) for k in ("tp", "fp", "fn")] == [o["tp"], o["fp"], o["fn"]]
    assert {r["Begin File"] for r in rows} == set(files)
    assert result["per_recording"].keys() == set(files)
    for r in rows:  # the second file's rows lie after the first file's 900 s on the time line
        shift = 900.0 if r["Begin File"] == files[1] else 0.0
        assert float(r["Begin Time (s)"]) == pytest.approx(float(r["File Offset (s)"]) + shift, abs=2e-3)
        assert Path(r["Begin Path"]).is_file()
    verdicts = {"tp": "true", "fp": "false", "fn": "true"}
    for r in rows:
        r["Verdict"] = verdicts[r["Outcome"]]
    with open(table, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter="\t", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    anns = read_raven_multi(table, negative="noise", labels={"upcall": "upcall"})
    assert [a.label for a in anns] == ["noise" if r["Outcome"] == "fp" else "upcall" for r in rows]
    assert [round(a.start_s, 3) for a in anns] == [float(r["File Offset (s)"]) for r in rows]

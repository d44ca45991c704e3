"""The scores output: every window the model scored for an ROI, kept or rejected, from which
an analyst recomputes the run's detections at any threshold (issue: thresholds after the run)."""

from __future__ import annotations

import csv
import json
from collections import defaultdict

import pytest
from click.testing import CliRunner

from edge.cli.detect import main
from edge.crops import Label, combine
from edge.types import Roi
from tests.support.data import ROOT

RECORDINGS = ROOT / "examples" / "recordings"
NARW = ROOT / "firmware-config" / "deployments" / "narw-upcall.yaml"


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _recompute(scores, thresholds, negative, n_frames, hop_s):
    """Detections (file, start, end, label, score) from scores.csv and thresholds alone: per
    window the best class other than the negative when it reaches its threshold, a scanned
    ROI's windows combined as the device combines them (edge.crops.combine)."""
    by_roi = defaultdict(list)
    for r in scores:
        by_roi[(r["file"], r["roi_start_s"], r["roi_end_s"])].append(r)
    classes = [c for c in thresholds if c != negative]
    out = []
    for (file, start, end), rows in by_roi.items():
        rows.sort(key=lambda r: float(r["window_start_s"]))
        per_crop = []
        for r in rows:
            best = max(classes, key=lambda c: float(r[c]))
            per_crop.append([Label(best, float(r[best]))] if float(r[best]) >= thresholds[best] else [])
        roi = Roi(float(start), float(end), 0.0, 0.0, 0.0, 0.0)
        starts = [round(float(r["window_start_s"]) / hop_s) for r in rows]
        for lab in combine(roi, starts, n_frames, hop_s, per_crop):
            s = float(start) if lab.start_s is None else lab.start_s
            e = float(end) if lab.end_s is None else lab.end_s
            out.append((file, f"{s:.3f}", f"{e:.3f}", lab.label, f"{lab.score:.4f}"))
    return sorted(out)


def test_scores_recompute_every_detection_at_the_runs_thresholds_and_at_another(tmp_path):
    out = tmp_path / "run"
    args = [str(RECORDINGS), "-o", str(out), "--config", str(NARW), "-q", "--outputs", "csv,scores"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "run.json").read_text())
    model = doc["model"]
    n_frames, hop_s = 62, model["window"].get("hop_s", 0.032)
    scores = _rows(out / "scores.csv")
    detections = _rows(out / "detections.csv")
    assert set(scores[0]) >= {"window_start_s", "window_end_s", "snr_db", "noise", "upcall"}
    rejected = {(r["file"], r["roi_start_s"]) for r in scores} - {
        (d["file"], f"{float(d['start_s']):.3f}") for d in detections
    }
    assert rejected, "the scores output holds ROIs the model rejected too"
    kept = sorted((d["file"], d["start_s"], d["end_s"], d["label"], d["score"]) for d in detections)
    assert _recompute(scores, model["thresholds"], "noise", n_frames, hop_s) == kept

    # a lower threshold afterwards gives what a run at that threshold gives
    low = tmp_path / "low"
    result = CliRunner().invoke(main, [*args[:2], str(low), *args[3:], "--min-score", "0.001"])
    assert result.exit_code == 0, result.output
    at_low = sorted(
        (d["file"], d["start_s"], d["end_s"], d["label"], d["score"]) for d in _rows(low / "detections.csv")
    )
    assert _recompute(scores, {"upcall": 0.001}, "noise", n_frames, hop_s) == at_low
    assert len(at_low) > len(kept)


def test_scores_are_not_written_unless_asked_or_without_a_model(tmp_path):
    result = CliRunner().invoke(main, [str(RECORDINGS), "-o", str(tmp_path / "a"), "--config", str(NARW), "-q"])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "a" / "scores.csv").exists()
    args = [str(RECORDINGS), "-o", str(tmp_path / "b"), "--config", str(NARW), "-q", "--no-model"]
    result = CliRunner().invoke(main, [*args, "--outputs", "csv,scores"])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "b" / "scores.csv").exists()
    assert "scores" not in json.loads((tmp_path / "b" / "run.json").read_text())["outputs"]


def test_the_report_draws_the_score_distribution_per_class(tmp_path):
    pytest.importorskip("matplotlib", reason="the report's charts need pamedge[plot]")
    from edge.report.build import write_report
    from edge.report.data import load

    out = tmp_path / "run"
    args = [str(RECORDINGS), "-o", str(out), "--config", str(NARW), "-q", "--outputs", "csv,scores"]
    assert CliRunner().invoke(main, args).exit_code == 0
    rows = _rows(out / "scores.csv")
    data = load(out)
    assert data.score_windows == len(rows)
    upcall = [float(r["upcall"]) for r in rows]
    assert data.score_counts["upcall"][0] == sum(s < 0.05 for s in upcall)
    assert data.score_counts["upcall"][-1] == sum(s >= 0.95 for s in upcall)
    assert f'id="scores">Scores per class ({len(rows)} windows)' in write_report(out).read_text()


def test_audacity_label_tracks_hold_each_recordings_detections(tmp_path):
    out = tmp_path / "run"
    args = [str(RECORDINGS), "-o", str(out), "--config", str(NARW), "-q", "--no-model", "--outputs", "csv,audacity"]
    assert CliRunner().invoke(main, args).exit_code == 0
    detections = _rows(out / "detections.csv")
    tracks = sorted((out / "audacity").iterdir())
    assert [t.stem for t in tracks] == sorted({p.stem for p in RECORDINGS.glob("*.wav")})
    for track in tracks:
        lines = track.read_text().splitlines()
        labels, bands = lines[0::2], lines[1::2]
        mine = [d for d in detections if d["file"].endswith(f"{track.stem}.wav")]
        assert [line.split("\t") for line in labels] == [
            [f"{float(d['start_s']):.6f}", f"{float(d['end_s']):.6f}", d["label"]] for d in mine
        ]
        assert [line.split("\t") for line in bands] == [["\\", d["low_hz"], d["high_hz"]] for d in mine]


def test_scores_parquet_holds_the_csv_rows_typed(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "run"
    args = [str(RECORDINGS), "-o", str(out), "--config", str(NARW), "-q", "--outputs", "csv,scores,parquet"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    table = pq.read_table(out / "scores.parquet")
    rows = _rows(out / "scores.csv")
    assert table.num_rows == len(rows) > 0
    assert table.column_names == list(rows[0])
    assert str(table.schema.field("upcall").type) == "float" and str(table.schema.field("channel").type) == "int32"
    got = table.to_pylist()
    for a, b in zip(got, rows):
        assert a["file"] == b["file"] and a["window_start_s"] == pytest.approx(float(b["window_start_s"]), abs=5e-4)
        assert a["upcall"] == pytest.approx(float(b["upcall"]), abs=1e-6)


def test_parquet_without_pyarrow_is_refused_before_processing(tmp_path, monkeypatch):
    import edge.detect

    monkeypatch.setattr(edge.detect, "have_pyarrow", lambda: False)
    out = tmp_path / "run"
    args = [str(RECORDINGS), "-o", str(out), "--config", str(NARW), "-q", "--outputs", "csv,scores,parquet"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "pip install 'pamedge[parquet]'" in result.output, result.output
    assert not out.exists()

"""Acceptance on real data: the ROI detector finds the annotated right-whale upcalls of
DCLDE 2013 (meridian-osmose-narw) without marking everything in background recordings, and
streaming with any block size gives the whole-file results."""

from __future__ import annotations

import csv
from collections import defaultdict

import pytest

from edge.config import load_deployment
from edge.detect import detect
from edge.pipeline import process_recording
from tests.conftest import DEPLOYMENTS, shared_path

NARW = ("meridian-osmose-narw", "task-2a", "data", "train")


@pytest.fixture(scope="module")
def narw_run(tmp_path_factory):
    root = shared_path(*NARW)
    config = load_deployment(DEPLOYMENTS / "narw-upcall.yaml")
    out = tmp_path_factory.mktemp("narw")
    report = detect([root / "narw", root / "background"], out, config)
    return root, out, report


def test_upcall_recall_and_background_false_alarms(narw_run):
    root, out, report = narw_run
    assert not report.failed
    annotations = defaultdict(list)
    with open(root / "annotations_train.csv") as fh:
        for row in csv.DictReader(fh):
            annotations[row["filename"]].append((float(row["start"]), float(row["end"])))
    assert sum(map(len, annotations.values())) == 53
    rois = defaultdict(list)
    with open(out / "detections.csv") as fh:
        for row in csv.DictReader(fh):
            rois[row["file"].rsplit("/", 1)[-1]].append((float(row["start_s"]), float(row["end_s"])))
            assert row["label"] == "roi" and row["deployment"] == "narw-upcall"
    hits = sum(any(s < e_ann and e > s_ann for s, e in rois[name])
               for name, calls in annotations.items() for s_ann, e_ann in calls)
    recall = hits / 53
    background = [f for f in report.files if "/background/" in f.file]
    assert len(background) == 3
    bg_hours = sum(f.audio_s for f in background) / 3600
    bg_rois = sum(f.roi_count for f in background)
    bg_cover = sum(e - s for f in background for s, e in rois[f.file.rsplit("/", 1)[-1]])
    print(f"recall {hits}/53 = {recall:.3f}; background {bg_rois / bg_hours:.0f} ROIs/h, "
          f"{bg_cover / (bg_hours * 3600):.3f} of the time")
    assert recall >= 0.90
    assert bg_rois / bg_hours <= 360
    assert bg_cover / (bg_hours * 3600) <= 0.10


def test_detections_carry_identity_and_time(narw_run):
    _, out, _ = narw_run
    with open(out / "detections.csv") as fh:
        row = next(r for r in csv.DictReader(fh) if "NOPP6_EST_20090328_001500" in r["file"])
    # DCLDE names carry the start time: 2009-03-28 00:15:00 UTC plus the offset
    assert row["start_utc"].startswith("2009-03-28T00:") and row["start_utc"].endswith("Z")
    assert row["config_hash"] and row["hydrophone"] == "default" and row["calibration_db"] == "170.00"


def test_streaming_equivalence_on_real_recording():
    path = shared_path(*NARW, "narw", "NOPP6_EST_20090328_000000.wav")
    config = load_deployment(DEPLOYMENTS / "narw-upcall.yaml")
    results = [process_recording(path, config, None, block_s=b) for b in (0.5, 60.0, 900.0)]
    whole = results[-1]
    assert len(whole.rois) > 20
    for streamed in results[:-1]:
        assert len(streamed.rois) == len(whole.rois)
        for a, b in zip(streamed.rois, whole.rois):
            assert (a.start_s, a.end_s, a.low_hz, a.high_hz) == (b.start_s, b.end_s, b.low_hz, b.high_hz)
            assert abs(a.snr_db - b.snr_db) <= 1e-3 and abs(a.received_level_db - b.received_level_db) <= 1e-3
        assert len(streamed.levels) == len(whole.levels) == 15
        for a, b in zip(streamed.levels, whole.levels):
            assert abs(a.broadband_db - b.broadband_db) <= 1e-3
            assert max(abs(x - y) for x, y in zip(a.bands_db, b.bands_db)) <= 1e-3

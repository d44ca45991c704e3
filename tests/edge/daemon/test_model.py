"""With a model: edge-run --replay writes edge-detect's records, and the degraded levels
classify only the strongest ROIs (limited) or none (roi-only)."""

from __future__ import annotations

from collections import Counter

import pytest
import yaml

from edge.classify import load_classifier
from edge.config import load_deployment
from edge.daemon.daemon import Daemon
from edge.daemon.sources import ReplaySource
from edge.daemon.state import DaemonLog
from edge.detect import RunOptions, detect
from tests.support.bundles import single
from tests.support.daemon import NARW, deployment_yaml, edge_run, log_rows
from tests.support.data import shared_path

LIMIT = 3


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return single(tmp_path_factory)


def with_model(tmp_path, tiny, run=None):
    path = deployment_yaml(tmp_path, run)
    data = yaml.safe_load(path.read_text())
    data["model"] = {"bundle": str(tiny), "thresholds": {"upcall": 0.3}}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.slow
def test_replay_with_the_model_equals_edge_detect(tmp_path, tiny):
    files = sorted(shared_path(*NARW).glob("*.wav"))
    yaml_path = with_model(tmp_path, tiny)
    result = edge_run("--config", yaml_path, "--replay", *files)
    assert result.returncode == 0, result.stderr
    config = load_deployment(yaml_path)
    detect(files, tmp_path / "detect", config, RunOptions(classifier=load_classifier(config)))
    expected = log_rows(tmp_path / "detect" / "detections.sqlite")
    assert {r[8] for r in expected} - {"roi"}  # classified labels, not ROI-only records
    assert log_rows(tmp_path / "log.sqlite") == expected


@pytest.mark.parametrize("min_free_mb, level", [([1e12, 0], "limited"), ([1e12, 1e12], "roi-only")])
def test_degraded_levels_classify_the_strongest_rois_or_none(tmp_path, tiny, make_recordings, min_free_mb, level):
    files = make_recordings(3, 120.0)
    yaml_path = with_model(tmp_path, tiny, {"degrade": {"min_free_mb": min_free_mb, "classify_limit": LIMIT}})
    deployment = load_deployment(yaml_path)
    Daemon(deployment, ReplaySource(files), classifier=load_classifier(deployment)).run()
    with DaemonLog(tmp_path / "log.sqlite") as log:
        processed = log.processed()
        records = [d for _, d in log.iter_all()]
    assert {p.level for p in processed} == {level}
    roi_only = Counter(d.file for d in records if d.label == "roi")
    for p in processed:
        expected = p.rois if level == "roi-only" else max(0, p.rois - LIMIT)
        assert roi_only[p.path] == expected
    assert all(d.model == "" for d in records if d.label == "roi")
    assert all(d.model for d in records if d.label != "roi")
    assert sum(p.rois for p in processed) > 3 * LIMIT  # the limit did bite

"""edge-run --replay writes the records edge-detect writes, and a rerun adds nothing."""

from __future__ import annotations

import pytest

from edge.classify import load_classifier
from edge.config import load_deployment
from edge.detect import RunOptions, detect
from tests.support.daemon import NARW, deployment_yaml, edge_run, log_rows
from tests.support.data import shared_path


def batch(files, out, yaml_path) -> None:
    """What edge-detect does with the same deployment (its model included)."""
    config = load_deployment(yaml_path)
    detect(files, out, config, RunOptions(classifier=load_classifier(config) if config.model else None))


@pytest.mark.slow
def test_replay_of_the_narw_recordings_equals_edge_detect(tmp_path):
    files = sorted(shared_path(*NARW).glob("*.wav"))
    assert len(files) == 3
    yaml_path = deployment_yaml(tmp_path)
    result = edge_run("--config", yaml_path, "--replay", *files)
    assert result.returncode == 0, result.stderr
    assert "processed 3 recordings (0 failed, 0 already in the log)" in result.stdout
    batch(files, tmp_path / "detect", yaml_path)
    expected = log_rows(tmp_path / "detect" / "detections.sqlite")
    assert len(expected) >= 30 and {row[8] for row in expected} == {"upcall"}  # classified by narw-upcall
    assert log_rows(tmp_path / "log.sqlite") == expected
    again = edge_run("--config", yaml_path, "--replay", *files)
    assert "processed 0 recordings (0 failed, 3 already in the log), 0 detections" in again.stdout
    assert log_rows(tmp_path / "log.sqlite") == expected


@pytest.mark.slow
def test_noise_floor_carries_across_contiguous_files(tmp_path, make_recordings):
    """Per-file replay equals edge-detect's run (which carries the floor) on synthetic files
    too, so the carry is not an accident of the real data."""
    files = make_recordings(4, 90.0)
    yaml_path = deployment_yaml(tmp_path)
    assert edge_run("--config", yaml_path, "--replay", *files).returncode == 0
    batch(files, tmp_path / "detect", yaml_path)
    expected = log_rows(tmp_path / "detect" / "detections.sqlite")
    assert len(expected) >= 10
    assert log_rows(tmp_path / "log.sqlite") == expected

"""Degradation: the steps and their hysteresis, then a slow CPU and a disk budget seen
through the health records of real runs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from edge.config import load_deployment
from edge.daemon.config import DegradeSettings
from edge.daemon.daemon import Daemon
from edge.daemon.degrade import Degrader
from edge.daemon.sources import FolderSource, ReplaySource
from edge.daemon.state import DaemonLog
from edge.daemon.types import Level
from tests.support.daemon import deployment_yaml


def test_steps_down_at_once_and_up_one_level_at_a_time_with_hysteresis():
    d = Degrader(DegradeSettings(backlog_s=(100, 200), min_free_mb=(50, 10), recover=0.5))
    assert not d.update(100, 1000) and d.level == Level.FULL  # at the limit is not over it
    assert d.update(250, 1000) and d.level == Level.ROI_ONLY  # straight down to what is needed
    assert not d.update(150, 1000) and d.level == Level.ROI_ONLY  # under 200 but not under 100
    assert d.update(99, 1000) and d.level == Level.LIMITED
    assert not d.update(60, 1000) and d.level == Level.LIMITED  # under 100 but not under 50
    assert d.update(49, 1000) and d.level == Level.FULL and d.reason == "recovered"
    assert d.update(0, 9) and d.level == Level.ROI_ONLY and "disk free" in d.reason
    assert not d.update(0, 19) and d.level == Level.ROI_ONLY  # over 10 but not over 20
    assert d.update(0, 21) and d.level == Level.LIMITED
    assert not d.update(0, 99) and d.update(0, 101) and d.level == Level.FULL


def levels_in(health) -> list[str]:
    """The level after each change, in order, from the health records."""
    out: list[str] = []
    for h in health:
        if not out or h.level != out[-1]:
            out.append(h.level)
    return out


@pytest.mark.slow
def test_slow_cpu_steps_down_then_recovers(tmp_path, make_recordings):
    """Real-time replay of 0.5-s recordings costing 1.5 s each at the full level (0.75 s at
    limited, nothing ROI-only): the backlog grows and the daemon steps down; after the
    fourth recording the CPU is fast again and it steps back up to full."""
    files = make_recordings(10, 0.5, spacing_s=1)
    yaml_path = deployment_yaml(
        tmp_path, {"simulate_block_cost_s": 1.5, "degrade": {"backlog_s": [0.75, 1.25], "recover": 0.5}}
    )
    deployment = load_deployment(yaml_path)
    daemon: Daemon

    def on_file(row):
        if daemon.log.totals()["files"] == 4:
            daemon.settings = replace(daemon.settings, simulate_block_cost_s=0.0)

    daemon = Daemon(deployment, ReplaySource(files, realtime=True), on_file=on_file)
    summary = daemon.run()
    assert summary.files == 10 and summary.failed == 0
    with DaemonLog(tmp_path / "log.sqlite") as log:
        health, processed = log.health(), log.processed()
    changes = levels_in(health)
    assert changes[0] == "full" and "roi-only" in changes and changes[-1] == "full"
    last_down = len(changes) - 1 - changes[::-1].index("roi-only")
    assert changes[last_down:] == ["roi-only", "limited", "full"]  # back up one level at a time
    assert [h.level_reason for h in health if h.event == "level"][-1] == "recovered"
    assert {p.level for p in processed} == {"full", "limited", "roi-only"}
    assert max(h.backlog_s for h in health) > 1.25
    assert health[-1].event == "stop" and health[-1].processed_s == 5.0


def test_disk_budget_steps_down_deletes_processed_first_and_recovers(tmp_path, make_recordings):
    """A recorder folder over its budget: 'keep' retention deletes the oldest processed
    files (never an unprocessed one while a processed one is left), the level follows the
    free space the unprocessed audio leaves, and recovers as the backlog clears."""
    rec = tmp_path / "rec"
    files = make_recordings(9, 10.0, folder=rec)
    size_mb = files[0].stat().st_size / 1e6
    budget = 10 * size_mb
    yaml_path = deployment_yaml(
        tmp_path,
        {
            "watch": str(rec),
            "retention": {"policy": "keep", "disk_budget_mb": budget},
            "degrade": {
                "backlog_s": [10000, 20000],
                "min_free_mb": [4 * size_mb + 1e-6, 3 * size_mb + 1e-6],
                "recover": 0.5,
            },
        },
    )
    deployment = load_deployment(yaml_path)
    added = []
    unprocessed_when_deleted = []

    def on_file(row):  # the recorder keeps writing for three more files
        if len(added) < 3:
            added.extend(make_recordings(1, 10.0, folder=rec, start=9 + len(added)))
        present = sorted(rec.glob("*.wav"))
        with DaemonLog(tmp_path / "log.sqlite") as log:
            done = {Path(p.path).name for p in log.processed()}
        unprocessed_when_deleted.append([p.name for p in present if p.name not in done])

    daemon = Daemon(deployment, FolderSource(rec, stable_s=0.0, poll_s=0.01, once=True), on_file=on_file)
    summary = daemon.run()
    assert summary.files == 12 and summary.failed == 0
    with DaemonLog(tmp_path / "log.sqlite") as log:
        health, processed = log.health(), log.processed()
    assert [p.status for p in processed] == ["ok"] * 12  # nothing unprocessed was dropped
    remaining = sorted(p.name for p in rec.glob("*.wav"))
    all_names = sorted(Path(p.path).name for p in processed)
    assert remaining == all_names[-len(remaining) :]  # the oldest went first
    assert sum(p.stat().st_size for p in rec.glob("*.wav")) / 1e6 <= budget
    assert all(h.audio_mb is None or h.audio_mb <= budget + 1e-9 for h in health if h.event != "start")
    changes = levels_in(health)
    assert changes == ["full", "roi-only", "limited", "full"], changes
    assert "disk free" in [h for h in health if h.level == "roi-only"][0].level_reason


def test_unprocessed_audio_is_dropped_only_as_a_last_resort(tmp_path, make_recordings):
    rec = tmp_path / "rec"
    files = make_recordings(6, 10.0, folder=rec)
    budget = 3.5 * files[0].stat().st_size / 1e6
    yaml_path = deployment_yaml(
        tmp_path, {"watch": str(rec), "retention": {"policy": "keep", "disk_budget_mb": budget}}
    )
    daemon = Daemon(load_deployment(yaml_path), FolderSource(rec, stable_s=0.0, poll_s=0.01, once=True))
    daemon.run()
    with DaemonLog(tmp_path / "log.sqlite") as log:
        processed, totals, health = log.processed(), log.totals(), log.health()
    statuses = {Path(p.path).name: p.status for p in processed}
    assert list(statuses.values()).count("dropped") == 3  # the three oldest, before any processing
    assert [statuses[f.name] for f in files[:3]] == ["dropped"] * 3
    assert totals["dropped_s"] == 30.0 and health[-1].dropped_s == 30.0
    assert health[-1].recorded_s == 60.0 and health[-1].processed_s == 30.0

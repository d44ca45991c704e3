"""Retention policies: delete after processing, keep, or keep snippets around detections;
replayed files are never touched."""

from __future__ import annotations

import soundfile as sf

from edge.config import load_deployment
from edge.daemon.daemon import Daemon
from edge.daemon.retention import merged_spans
from edge.daemon.sources import FolderSource, ReplaySource
from edge.daemon.state import DaemonLog
from edge.types import Detection
from tests.support.daemon import RATE, deployment_yaml, log_rows


def det(start, end) -> Detection:
    return Detection("f", 0, "", start, end, 50, 250, "roi", float("nan"), 10, 100)


def test_merged_spans_pad_and_merge_within_the_recording():
    spans = merged_spans([det(5, 6), det(1, 2), det(7.5, 8)], 1.0, 8.5)
    assert spans == [(0.0, 3.0), (4.0, 8.5)]


def run_folder(tmp_path, files, policy):
    rec = files[0].parent
    yaml_path = deployment_yaml(tmp_path, {"watch": str(rec), "retention": {"policy": policy, "snippet_pad_s": 1.0}})
    Daemon(load_deployment(yaml_path), FolderSource(rec, stable_s=0.0, poll_s=0.01, once=True)).run()
    return rec


def test_snippets_hold_each_detection_and_the_recordings_are_deleted(tmp_path, make_recordings):
    files = make_recordings(3, 60.0)
    rec = run_folder(tmp_path, files, "snippets")
    assert list(rec.glob("*.wav")) == []
    snippets = sorted((tmp_path / "snippets").glob("*.wav"))
    rows = log_rows(tmp_path / "log.sqlite")
    assert rows and snippets
    for row in rows:
        _, file, _, _, start_s, end_s = row[:6]
        stem = file.rsplit("/", 1)[-1][:-4]
        covering = [
            s
            for s in snippets
            if s.name.startswith(stem)
            and int(s.stem.rsplit("_", 1)[1]) / 1000 <= start_s
            and int(s.stem.rsplit("_", 1)[1]) / 1000 + sf.info(str(s)).duration >= end_s
        ]
        assert covering, row
    assert all(sf.info(str(s)).samplerate == RATE for s in snippets)
    with DaemonLog(tmp_path / "log.sqlite") as log:
        assert all(log.conn.execute("SELECT deleted FROM processed").fetchall()[i][0] == 1 for i in range(3))


def test_delete_and_keep(tmp_path, make_recordings):
    files = make_recordings(2, 30.0, folder=tmp_path / "a")
    assert list(run_folder(tmp_path / "a", files, "delete").glob("*.wav")) == []
    files = make_recordings(2, 30.0, folder=tmp_path / "b")
    assert sorted(run_folder(tmp_path / "b", files, "keep").glob("*.wav")) == files


def test_replayed_files_are_never_deleted(tmp_path, make_recordings):
    files = make_recordings(2, 30.0)
    yaml_path = deployment_yaml(tmp_path, {"retention": {"policy": "delete", "disk_budget_mb": 0.001}})
    Daemon(load_deployment(yaml_path), ReplaySource(files)).run()
    assert all(f.exists() for f in files)


def test_the_free_space_floor_deletes_oldest_processed_then_unprocessed(tmp_path, make_recordings):
    """A filesystem faked by its free space (capacity less the folder's bytes; a tmpfs cannot
    be mounted here): under the floor, processed files go oldest first, and an unprocessed
    one only when no processed one is left, recorded as dropped."""
    from edge.daemon.config import RetentionSettings
    from edge.daemon.health import folder_mb
    from edge.daemon.retention import Retention
    from edge.daemon.state import Processed

    rec = tmp_path / "rec"
    files = make_recordings(5, 10.0, folder=rec)
    size = files[0].stat().st_size / 1e6
    capacity = 6 * size
    dropped = []
    with DaemonLog(tmp_path / "log.sqlite") as log:
        for f in files[:2]:
            log.commit_file(
                Processed(f"{f}:k", str(f), "ok", "", "", 10.0, RATE, None, "", 0.0, "full", 0, 0, None), [], [], None
            )
        retention = Retention(
            RetentionSettings(policy="keep", min_free_mb=1.5 * size),
            [rec],
            log,
            drop=dropped.append,
            disk_free=lambda: capacity - folder_mb([rec]),
        )
        assert retention.enforce(lambda: sorted(p for p in files[2:] if p.exists())) == [f"processed: {files[0]}"]
        capacity = 4.2 * size  # the card shrinks (another process wrote to it)
        actions = retention.enforce(lambda: sorted(p for p in files[2:] if p.exists()))
        assert actions == [f"processed: {files[1]}", f"unprocessed: {files[2]}"]
        assert dropped == [files[2]]
        assert sorted(rec.glob("*.wav")) == files[3:]

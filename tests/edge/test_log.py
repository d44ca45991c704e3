"""The detection log: sequence numbers, round trip, and a process killed at random instants."""

from __future__ import annotations

import dataclasses
import math
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from edge.log import DetectionLog, write_log
from tests.support.data import ROOT
from tests.support.telemetry import make_detections


def same(a, b) -> bool:
    return all(
        x == y or (isinstance(x, float) and math.isnan(x) and math.isnan(y))
        for x, y in zip(a.__dict__.values(), b.__dict__.values())
    )


def test_round_trip_and_sequence_per_deployment(tmp_path):
    a = make_detections(5, deployment="a", scores=False)
    b = make_detections(3, deployment="b")
    with DetectionLog(tmp_path / "log.sqlite") as log:
        assert log.append(a[:2] + b[:1]) == [1, 2, 1]
        assert log.append(a[2:] + b[1:]) == [3, 4, 5, 2, 3]
        assert log.deployments() == ["a", "b"] and log.count() == 8
        got = log.read("a")
        assert [s for s, _ in got] == [1, 2, 3, 4, 5]
        assert all(same(x, y) for (_, x), y in zip(got, a))
        assert [s for s, _ in log.read("b", after=1)] == [2, 3]
    with DetectionLog(tmp_path / "log.sqlite") as log:  # reopened: the sequence continues
        assert log.append(a[:1]) == [6]
        assert log.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_write_log_replaces_atomically(tmp_path):
    path = tmp_path / "detections.sqlite"
    write_log(path, make_detections(4))
    write_log(path, make_detections(2))
    with DetectionLog(path) as log:
        assert log.count() == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["detections.sqlite"]


WRITER = """
import sys
from edge.log import DetectionLog
from tests.support.telemetry import make_detections
log = DetectionLog(sys.argv[1])
batch = 0
while True:
    batch += 1
    dets = [d.__class__(**{**d.__dict__, 'file': f'{sys.argv[2]}-{batch}'}) for d in make_detections(7, seed=batch)]
    log.append(dets)
    print(batch, flush=True)
"""


@pytest.mark.slow
def test_killed_at_random_instants_leaves_a_consistent_log(tmp_path):
    """SIGKILL mid-append 12 times: every batch is whole or absent, the sequence has no gap
    and never repeats, and every batch the writer reported committed is there."""
    rnd = random.Random(11)
    path = tmp_path / "log.sqlite"
    reported = 0
    for run in range(12):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(run)], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        proc.stdout.readline()  # the writer is running
        time.sleep(rnd.uniform(0.0, 0.15))
        os.kill(proc.pid, signal.SIGKILL)
        out = proc.communicate()[0]
        lines = out.split()
        reported += 1 + len(lines)
        with DetectionLog(path) as log:
            rows = log.read("buoy-1")
            assert [s for s, _ in rows] == list(range(1, len(rows) + 1))
            sizes: dict[str, int] = {}
            for _, d in rows:
                sizes[d.file] = sizes.get(d.file, 0) + 1
            assert set(sizes.values()) == {7}
            assert len(rows) >= 7 * reported
            reported = len(rows) // 7


def test_edge_detect_writes_the_log_with_the_csv_records(tmp_path, write_audio, rng):
    import csv

    import numpy as np

    from edge.config import load_deployment
    from edge.detect import detect
    from edge.outputs import detection_row
    from tests.support.data import DEPLOYMENTS

    sr = 8000
    t = np.arange(sr) / sr
    x = 0.01 * rng.standard_normal(20 * sr)
    for k in (5, 12):
        x[k * sr : (k + 1) * sr] += 0.3 * np.sin(2 * np.pi * (1000 * t + 500 * t**2))
    wav = write_audio("20240501_120000.wav", x.astype(np.float32), sr)
    config = load_deployment(DEPLOYMENTS / "generic.yaml")
    detect([wav], tmp_path / "a", config)
    detect([wav], tmp_path / "b", config)
    # the same run gives the same bytes (as the CSVs), so --resume ends with identical outputs
    assert (tmp_path / "a" / "detections.sqlite").read_bytes() == (tmp_path / "b" / "detections.sqlite").read_bytes()
    with open(tmp_path / "a" / "detections.csv") as fh:
        rows = list(csv.reader(fh))[1:]
    assert len(rows) >= 2
    with DetectionLog(tmp_path / "a" / "detections.sqlite") as log:
        logged = list(log.iter_all())
    assert [detection_row(d) for _, d in logged] == rows
    assert [s for s, _ in logged] == list(range(1, len(rows) + 1))


def test_a_click_train_round_trips_and_a_schema_1_log_is_brought_up_to_date(tmp_path):
    path = tmp_path / "old.sqlite"
    old = make_detections(3)
    # a log as pamedge wrote it before click trains were records (schema 1: no click columns)
    fields_1 = [f.name for f in dataclasses.fields(old[0]) if f.name not in ("clicks", "ici_s")]
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO meta VALUES ('schema', '1');"
        f"CREATE TABLE detections (deployment TEXT NOT NULL, seq INTEGER NOT NULL, "
        f"{', '.join(f'd_{f}' for f in fields_1)}, PRIMARY KEY (deployment, seq)) WITHOUT ROWID;"
    )
    for seq, d in enumerate(old, 1):
        conn.execute(
            f"INSERT INTO detections VALUES ({', '.join('?' * (len(fields_1) + 2))})",
            (d.deployment, seq, *(getattr(d, f) for f in fields_1)),
        )
    conn.commit()
    conn.close()
    train = dataclasses.replace(old[0], label="sperm", clicks=14, ici_s=0.845)
    with DetectionLog(path) as log:
        assert all(same(x, y) for (_, x), y in zip(log.read("buoy-1"), old))  # kept, as tonal records
        assert log.append([train]) == [4]
        assert log.conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()[0] == "2"
    with DetectionLog(path) as log:
        got = log.read("buoy-1")
        assert [d.clicks for _, d in got] == [0, 0, 0, 14] and same(got[3][1], train)
        assert all(math.isnan(d.ici_s) for _, d in got[:3])

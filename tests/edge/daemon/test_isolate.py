"""A recording under way when the daemon ended is retried in an isolated worker: kills and power
cuts of the daemon never cost a recording (even with max_attempts: 1), a recording that crashes
its worker is failed after max_attempts crashes and the others go on."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

from edge.daemon.isolate import CRASH_FOR_TESTS_ENV
from edge.daemon.state import DaemonLog
from edge.daemon.types import PendingFile
from tests.support.daemon import deployment_yaml, log_rows
from tests.support.data import ROOT


def edge_run(yaml_path, files, *, env=None, notify_socket=None) -> subprocess.Popen:
    env = {**os.environ, **(env or {})}
    if notify_socket:
        env["NOTIFY_SOCKET"] = str(notify_socket)
    return subprocess.Popen(
        [sys.executable, "-m", "edge.cli.run", "--config", str(yaml_path), "--replay", "-q", *map(str, files)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def processed(log_path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(str(log_path)) as conn:
        return conn.execute("SELECT path, status, reason FROM processed ORDER BY ord").fetchall()


@pytest.mark.slow
def test_kills_of_the_daemon_never_cost_a_recording(tmp_path, make_recordings):
    files = make_recordings(4, 120.0)
    (tmp_path / "ref").mkdir()
    reference = deployment_yaml(tmp_path / "ref")
    assert edge_run(reference, files).wait(timeout=120) == 0
    expected = log_rows(tmp_path / "ref" / "log.sqlite")

    (tmp_path / "killed").mkdir()
    # the strictest setting: one crash of its own worker fails a recording; 0.3 s per recording
    yaml_path = deployment_yaml(tmp_path / "killed", {"simulate_block_cost_s": 0.15, "max_attempts": 1})
    log_path = tmp_path / "killed" / "log.sqlite"
    rng = np.random.default_rng(11)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.settimeout(60)
    for _ in range(8):
        proc = edge_run(yaml_path, files, notify_socket=tmp_path / "notify")
        while sock.recv(64) != b"READY=1":
            pass
        time.sleep(rng.uniform(0.05, 0.5))  # within the first recording or its isolated retry
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    sock.close()
    proc = edge_run(yaml_path, files)
    assert proc.wait(timeout=300) == 0, proc.stderr.read().decode()[-2000:]
    with sqlite3.connect(str(log_path)) as conn:
        most = conn.execute("SELECT MAX(n) FROM attempts").fetchone()[0]
    assert most >= 3  # a recording was under way at three kills or more: once a give-up
    assert [status for _, status, _ in processed(log_path)] == ["ok"] * len(files)
    assert log_rows(log_path) == expected  # isolated processing writes the same records


@pytest.mark.slow
def test_a_recording_that_crashes_its_worker_is_failed_and_the_others_go_on(tmp_path, make_recordings):
    files = make_recordings(3, 60.0)
    yaml_path = deployment_yaml(tmp_path, {"max_attempts": 2})
    poison = files[1]
    # as if processing it had ended the daemon once already (the daemon's first try, in process)
    with DaemonLog(tmp_path / "log.sqlite") as log:
        log.attempt(PendingFile(poison, poison.stat().st_size, True).key)
    proc = edge_run(yaml_path, files, env={CRASH_FOR_TESTS_ENV: poison.name})
    assert proc.wait(timeout=300) == 1  # a replay with a failed recording
    err = proc.stderr.read().decode()
    rows = processed(tmp_path / "log.sqlite")
    assert [status for _, status, _ in rows] == ["ok", "failed", "ok"]
    reason = rows[1][2]
    assert str(poison) in reason and "given up" in reason and "2 times" in reason and "SIGSEGV" in reason
    assert "\n" not in reason and f"failed: {poison}" in err
    with sqlite3.connect(str(tmp_path / "log.sqlite")) as conn:
        assert conn.execute("SELECT n FROM crashes").fetchall() == [(2,)]
    # the next start skips it: failed for good, not retried in a loop
    assert edge_run(yaml_path, files, env={CRASH_FOR_TESTS_ENV: poison.name}).wait(timeout=120) == 0
    assert len(processed(tmp_path / "log.sqlite")) == 3

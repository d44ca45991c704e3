"""SIGKILL at 20 random moments of a replay, restarting each time: the log stays consistent
and ends with exactly the records of an uninterrupted run."""

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

from tests.support.daemon import deployment_yaml, log_rows
from tests.support.data import ROOT

KILLS = 20


def start(yaml_path, files, notify_socket=None) -> subprocess.Popen:
    env = {**os.environ, "NOTIFY_SOCKET": str(notify_socket)} if notify_socket else None
    return subprocess.Popen(
        [sys.executable, "-m", "edge.cli.run", "--config", str(yaml_path), "--replay", "-q", *map(str, files)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wait_ready(sock: socket.socket, timeout_s: float = 60.0) -> None:
    """Until the daemon says READY=1 (its log is open: interpreter start-up is over)."""
    sock.settimeout(timeout_s)
    while sock.recv(64) != b"READY=1":
        pass


def assert_consistent(log_path) -> None:
    conn = sqlite3.connect(str(log_path))
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        seqs = [r[0] for r in conn.execute("SELECT seq FROM detections ORDER BY seq")]
        assert seqs == list(range(1, len(seqs) + 1))  # no gap, no duplicate
        files = conn.execute("SELECT path, detections FROM processed ORDER BY ord").fetchall()
        assert len({f for f, _ in files}) == len(files)
        # a recording is in the log wholly or not at all
        per_file = dict(conn.execute("SELECT d_file, COUNT(*) FROM detections GROUP BY d_file").fetchall())
        assert per_file == {f: n for f, n in files if n}
        levels = {r[0] for r in conn.execute("SELECT DISTINCT file FROM noise_levels")}
        assert levels == {f for f, _ in files}
    finally:
        conn.close()


@pytest.mark.slow
def test_sigkill_at_random_moments_then_restart(tmp_path, make_recordings):
    files = make_recordings(8, 120.0)
    # ~0.1 s per recording on top of the real work, so kills land mid-run and mid-recording
    (tmp_path / "ref").mkdir()
    reference = deployment_yaml(tmp_path / "ref")
    subprocess.run(
        [sys.executable, "-m", "edge.cli.run", "--config", str(reference), "--replay", "-q", *map(str, files)],
        cwd=ROOT,
        check=True,
        timeout=600,
    )
    expected = log_rows(tmp_path / "ref" / "log.sqlite")
    assert len(expected) >= 20

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    settings = {"simulate_block_cost_s": 0.05, "max_attempts": None}
    # How long the replay runs after READY on this machine (about 0.8 s here, several times that
    # on a Raspberry Pi or under emulation): the kills are drawn over that span, not a fixed one.
    (tmp_path / "timed").mkdir()
    proc = start(deployment_yaml(tmp_path / "timed", settings), files, tmp_path / "notify")
    wait_ready(sock)
    ready = time.monotonic()
    assert proc.wait(timeout=600) == 0, proc.stderr.read().decode()
    replay_s = time.monotonic() - ready

    (tmp_path / "killed").mkdir()
    # max_attempts: null -- a recording killed three times must still be processed in the end here
    yaml_path = deployment_yaml(tmp_path / "killed", settings)
    log_path = tmp_path / "killed" / "log.sqlite"
    rng = np.random.default_rng(7)
    finished_early = 0
    progress: list[int] = []  # recordings committed after each kill
    for _ in range(KILLS):
        proc = start(yaml_path, files, tmp_path / "notify")
        wait_ready(sock)
        time.sleep(rng.uniform(0.0, 1.25 * replay_s))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        else:
            finished_early += 1
        proc.wait(timeout=60)
        if log_path.exists():
            assert_consistent(log_path)
            with sqlite3.connect(str(log_path)) as conn:
                progress.append(conn.execute("SELECT COUNT(*) FROM processed").fetchone()[0])
    sock.close()
    proc = start(yaml_path, files)
    assert proc.wait(timeout=600) == 0, proc.stderr.read().decode()
    assert_consistent(log_path)
    assert finished_early < KILLS
    assert any(0 < n < len(files) for n in progress), progress  # kills landed mid-run
    assert log_rows(log_path) == expected

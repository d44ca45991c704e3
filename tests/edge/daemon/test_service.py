"""edge-run as systemd runs it: sd_notify messages on $NOTIFY_SOCKET, SIGTERM finishing the
recording under way and exiting 0, and a restart continuing where it stopped."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time

import pytest

from edge.daemon.notify import notify
from tests.support.daemon import deployment_yaml, log_rows
from tests.support.data import ROOT


def committed(log_path) -> int:
    if not log_path.exists():
        return 0
    with sqlite3.connect(str(log_path)) as conn:
        try:
            return conn.execute("SELECT COUNT(*) FROM processed").fetchone()[0]
        except sqlite3.OperationalError:  # tables not created yet
            return 0


def test_notify_sends_a_datagram_to_the_socket_and_is_a_noop_without_one(tmp_path, monkeypatch):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
    assert notify("WATCHDOG=1")
    assert sock.recv(64) == b"WATCHDOG=1"
    monkeypatch.delenv("NOTIFY_SOCKET")
    assert not notify("WATCHDOG=1")
    sock.close()


@pytest.mark.slow
def test_sigterm_finishes_the_recording_under_way_exits_0_and_a_restart_continues(tmp_path, make_recordings):
    files = make_recordings(8, 60.0)
    (tmp_path / "ref").mkdir()
    ref = deployment_yaml(tmp_path / "ref")
    subprocess.run(
        [sys.executable, "-m", "edge.cli.run", "--config", str(ref), "--replay", "-q", *map(str, files)],
        cwd=ROOT,
        check=True,
        timeout=120,
    )
    yaml_path = deployment_yaml(tmp_path, {"simulate_block_cost_s": 0.3})  # 0.3 s per recording
    log_path = tmp_path / "log.sqlite"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.settimeout(0.05)
    env = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify")}
    cmd = [sys.executable, "-m", "edge.cli.run", "--config", str(yaml_path), "--replay", *map(str, files)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while committed(log_path) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    at_signal = committed(log_path)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    stopped_at = committed(log_path)
    assert at_signal <= stopped_at <= at_signal + 1 and stopped_at < len(files)
    messages = []
    while True:
        try:
            messages.append(sock.recv(64).decode())
        except (TimeoutError, BlockingIOError):
            break
    sock.close()
    assert messages[0] == "READY=1" and "WATCHDOG=1" in messages and messages[-1] == "STOPPING=1"
    again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0
    assert f"processed {len(files) - stopped_at} recordings (0 failed, {stopped_at} already in the log)" in again.stdout
    assert log_rows(log_path) == log_rows(tmp_path / "ref" / "log.sqlite")


def test_a_recording_that_ended_the_daemon_before_is_retried_in_isolation(tmp_path, make_recordings):
    """Three earlier starts of the second recording never finished (three power cuts in it, or
    crashes): the next start processes it in a worker of its own, where it succeeds, with the
    records the daemon itself would have written (a start count alone once failed it)."""
    from edge.config import load_deployment
    from edge.daemon.daemon import Daemon
    from edge.daemon.sources import ReplaySource
    from edge.daemon.state import DaemonLog
    from edge.daemon.types import PendingFile

    files = make_recordings(3, 60.0)
    yaml_path = deployment_yaml(tmp_path)
    with DaemonLog(tmp_path / "log.sqlite") as log:
        key = PendingFile(files[1], files[1].stat().st_size, False).key
        for _ in range(3):
            log.attempt(key)
    summary = Daemon(load_deployment(yaml_path), ReplaySource(files)).run()
    assert summary.files == 3 and summary.failed == 0
    with DaemonLog(tmp_path / "log.sqlite") as log:
        rows = log.processed()
    assert [r.status for r in rows] == ["ok", "ok", "ok"]
    (tmp_path / "plain").mkdir()
    plain = deployment_yaml(tmp_path / "plain")
    Daemon(load_deployment(plain), ReplaySource(files)).run()
    assert log_rows(tmp_path / "log.sqlite") == log_rows(tmp_path / "plain" / "log.sqlite")


@pytest.mark.slow
def test_status_prints_the_newest_health_record_and_totals(tmp_path, make_recordings):
    files = make_recordings(2, 60.0)
    yaml_path = deployment_yaml(tmp_path)
    run = [sys.executable, "-m", "edge.cli.run", "--config", str(yaml_path)]
    missing = subprocess.run([*run, "--status"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "no log yet" in missing.stderr
    subprocess.run([*run, "--replay", *map(str, files)], cwd=ROOT, check=True, capture_output=True, timeout=60)
    out = subprocess.run([*run, "--status"], cwd=ROOT, capture_output=True, text=True, timeout=60).stdout
    fields = dict(line.split(None, 1) for line in out.splitlines())
    assert fields["event"] == "stop" and fields["level"] == "full" and fields["files"] == "2"
    assert float(fields["processed_s"]) == 120.0 and fields["total_files"] == "2"

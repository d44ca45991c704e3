"""One edge-run per detection log: a second is refused naming the first's pid; a holder that
dies (a kill, a power cut) leaves no lock behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from edge.daemon.lock import AlreadyRunningError, InstanceLock
from tests.support.daemon import deployment_yaml, edge_run


def test_a_second_holder_is_refused_until_the_first_lets_go(tmp_path):
    log = tmp_path / "log.sqlite"
    first = InstanceLock(log).acquire()
    with pytest.raises(AlreadyRunningError, match=rf"log.sqlite: another edge-run \(pid {os.getpid()}\) is running"):
        InstanceLock(log).acquire()
    first.release()
    InstanceLock(log).acquire().release()


def test_a_killed_holder_leaves_no_lock(tmp_path):
    log = tmp_path / "log.sqlite"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from edge.daemon.lock import InstanceLock; lock = InstanceLock({str(log)!r}).acquire(); "
            "print('held', flush=True); import time; time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    with pytest.raises(AlreadyRunningError, match=rf"pid {holder.pid}"):
        InstanceLock(log).acquire()
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    InstanceLock(log).acquire().release()


def test_edge_run_beside_another_on_the_same_log_is_refused(tmp_path, make_recordings):
    files = make_recordings(1, 10.0)
    config = deployment_yaml(tmp_path)
    held = InstanceLock(tmp_path / "log.sqlite").acquire()
    result = edge_run("--config", config, "--replay", *files)
    assert result.returncode == 2
    assert f"another edge-run (pid {os.getpid()}) is running on this detection log" in result.stderr
    assert not (tmp_path / "log.sqlite").exists()  # nothing was processed
    held.release()
    assert edge_run("--config", config, "--replay", "-q", *files).returncode == 0

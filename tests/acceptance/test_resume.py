"""Acceptance: a run killed with SIGKILL mid-way and resumed ends with the same bytes as an
uninterrupted run."""

from __future__ import annotations

import filecmp
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.support.data import DEPLOYMENTS, shared_path

pytestmark = pytest.mark.slow  # kills and resumes edge-detect runs


def _cmd(inputs, out, *extra):
    return [
        sys.executable,
        "-m",
        "edge.cli.detect",
        *map(str, inputs),
        "-o",
        str(out),
        "--no-model",
        "--config",
        str(DEPLOYMENTS / "narw-upcall.yaml"),
        "--block-s",
        "0.5",
        *extra,
    ]


def test_resume_after_sigkill_is_byte_identical(tmp_path):
    root = shared_path("meridian-osmose-narw", "task-2a", "data", "train")
    inputs = [root / "background", root / "narw"]
    whole = tmp_path / "whole"
    done = subprocess.run(_cmd(inputs, whole), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr

    killed = tmp_path / "killed"
    proc = subprocess.Popen(_cmd(inputs, killed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parts = killed / ".parts"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if parts.is_dir() and any(p.suffix == ".json" for p in parts.iterdir()):
            break
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    committed = [p for p in parts.iterdir() if p.suffix == ".json"]
    assert 1 <= len(committed) < 6, "the run should have been killed part-way"
    assert not (killed / "detections.csv").exists()

    resumed = subprocess.run(_cmd(inputs, killed, "--resume"), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    for name in ("detections.csv", "levels.csv", "detections.sqlite"):
        assert (killed / name).read_bytes() == (whole / name).read_bytes(), name
    match, mismatch, errors = filecmp.cmpfiles(
        whole / "raven", killed / "raven", sorted(os.listdir(whole / "raven")), shallow=False
    )
    assert len(match) == 7 and not mismatch and not errors  # six recordings' tables and the run's

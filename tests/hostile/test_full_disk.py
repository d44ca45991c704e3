"""A card that fills up under edge-detect: one line naming the folder and the cause, exit 2, no
temporary left, no mix of new and old outputs, and every recording already committed kept, so
``--resume`` finishes the run once there is room.  The full card is real: the run's process
may not write files past a size (RLIMIT_FSIZE; writes past it fail as on a full disk)."""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys

import numpy as np
import pytest

from tests.support.data import DEPLOYMENTS, ROOT

SR = 2000
LIMIT = 48_000  # bytes: each recording's part and Raven table fit, the run's tables do not


def edge_detect(args: list[str], limit: int | None = None) -> subprocess.CompletedProcess:
    def cap() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG) instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run(
        [sys.executable, "-m", "edge.cli.detect", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=cap if limit else None,
    )


@pytest.fixture
def card(tmp_path, write_audio):
    """Twenty 3-minute recordings of noise at 2 kHz: the recall-first candidate stage finds
    enough ROIs in them for tables of about 80 kB."""
    rng = np.random.default_rng(5)
    for i in range(20):
        write_audio(
            f"site_20240501_{12 + i // 20:02d}{(i % 20) * 3:02d}00.wav",
            0.01 * rng.standard_normal(SR * 180),
            SR,
            folder=tmp_path / "card",
        )
    return tmp_path / "card"


@pytest.mark.slow
def test_a_full_card_costs_nothing_committed_and_resume_finishes(card, tmp_path):
    args = ["--config", str(DEPLOYMENTS / "narw-upcall.yaml"), "--no-model", "-q"]
    clean = edge_detect([str(card), "-o", str(tmp_path / "clean"), *args])
    assert clean.returncode == 0, clean.stderr
    assert (tmp_path / "clean" / "detections.csv").stat().st_size > LIMIT  # the case is real

    out = tmp_path / "out"
    full = edge_detect([str(card), "-o", str(out), *args], limit=LIMIT)
    assert full.returncode == 2, full.stderr
    errors = [line for line in full.stderr.splitlines() if not line.startswith("warning: ")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {out}: the run's outputs could not be written (")
    assert "--resume" in errors[0] and "Traceback" not in full.stderr
    names = {p.name for p in out.iterdir()}
    assert names == {".parts", "raven"}  # no table, log or run.json: none half-new, none left as a temporary
    assert len(list((out / ".parts").glob("*.json"))) == 20  # every recording committed

    resumed = edge_detect([str(card), "-o", str(out), *args, "--resume"])
    assert resumed.returncode == 0, resumed.stderr
    for name in ("detections.csv", "levels.csv", "detections.sqlite"):
        assert (out / name).read_bytes() == (tmp_path / "clean" / name).read_bytes(), name
    assert json.loads((out / "run.json").read_text())["totals"]["ok"] == 20
    assert not [p for p in out.iterdir() if p.name.endswith((".tmp", ".staged", "-wal", "-shm"))]


@pytest.mark.slow
def test_a_card_full_before_the_first_commit_says_so_and_resume_starts_over(card, tmp_path):
    args = ["--config", str(DEPLOYMENTS / "narw-upcall.yaml"), "--no-model", "-q"]
    out = tmp_path / "out"
    full = edge_detect([str(card), "-o", str(out), *args], limit=2_000)  # not even one Raven table
    assert full.returncode == 2
    errors = [line for line in full.stderr.splitlines() if not line.startswith("warning: ")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {out}: the results of {card}/site_20240501_120000.wav")
    assert "--resume" in errors[0]
    leftovers = [p for p in out.rglob("*") if p.name.startswith(".") and p.is_file()]
    assert leftovers == []  # no temporary of the failed write
    resumed = edge_detect([str(card), "-o", str(out), *args, "--resume"])
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((out / "run.json").read_text())["totals"]["ok"] == 20

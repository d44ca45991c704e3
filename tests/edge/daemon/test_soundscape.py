"""The buoy computes the soundscape too: edge-run with a soundscape: section keeps each
recording's HMD minutes in its log, and edge-run --soundscape writes the daily tables
edge-detect writes for the same recordings."""

from __future__ import annotations

import csv

from edge.config import load_deployment
from edge.detect import RunOptions, detect
from tests.support.daemon import deployment_yaml, edge_run


def test_edge_run_keeps_hmd_minutes_and_writes_edge_detects_tables(tmp_path, make_recordings):
    files = make_recordings(3, 90.0)  # contiguous 90-s files: minutes shared by two files
    yaml_path = deployment_yaml(tmp_path, soundscape={"min_effort_s": 30})
    result = edge_run("--config", yaml_path, "--replay", *files)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "soundscape"
    result = edge_run("--config", yaml_path, "--soundscape", out)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("1 days -> ")
    detect(files, tmp_path / "detect", load_deployment(yaml_path), RunOptions(outputs=frozenset({"csv", "hmd"})))
    names = sorted(p.name for p in (tmp_path / "detect" / "soundscape").glob("*.csv"))
    assert names and sorted(p.name for p in out.glob("*.csv")) == names
    for name in names:  # float32 in the log: the same to the tables' 0.01 dB (one rounding step at most)
        got, want = (read(p / name) for p in (out, tmp_path / "detect" / "soundscape"))
        assert [r[:2] for r in got] == [r[:2] for r in want], name  # header, then time and effort (or statistic)
        values = [(a, b) for g, w in zip(got[1:], want[1:]) for a, b in zip(g[2:], w[2:])]
        assert all((a == b == "") or abs(float(a) - float(b)) <= 0.0101 for a, b in values), name


def read(path):
    with open(path, newline="") as fh:
        return list(csv.reader(fh))


def test_soundscape_export_without_minutes_is_one_line(tmp_path, make_recordings):
    files = make_recordings(1, 30.0)
    yaml_path = deployment_yaml(tmp_path)  # no soundscape: section
    assert edge_run("--config", yaml_path, "--replay", *files).returncode == 0
    result = edge_run("--config", yaml_path, "--soundscape", tmp_path / "s")
    assert result.returncode == 2 and "no soundscape minutes" in result.stderr

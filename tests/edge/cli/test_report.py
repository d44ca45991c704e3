"""edge-report, and edge-detect --plots: one-line errors, exit codes, the missing-extra hint."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from edge.cli.detect import main as detect_main
from edge.cli.report import main as report_main
from tests.support.data import DEPLOYMENTS

HINT = 'pip install "pamedge[plot]"'


def one_error_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert lines[0].startswith("error: ") and "Traceback" not in text
    return lines[0]


def test_usage_errors_are_one_line_and_exit_2(tmp_path):
    result = CliRunner().invoke(report_main, [str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "nowhere: no such folder" in one_error_line(result.stderr)
    result = CliRunner().invoke(report_main, [str(tmp_path)])
    assert result.exit_code == 2 and "no run.json" in one_error_line(result.stderr)


@pytest.fixture
def card(tmp_path, write_audio, rng):
    """Two 20-s recordings at 8 kHz with a 1 -> 2 kHz sweep, named with their start time."""
    sr = 8000
    t = np.arange(sr) / sr
    for name in ("20240501_120000.wav", "20240501_120020.wav"):
        x = 0.01 * rng.standard_normal(20 * sr)
        x[8 * sr : 9 * sr] += 0.3 * np.sin(2 * np.pi * (1000 * t + 500 * t**2))
        write_audio(name, x, sr, folder=tmp_path / "card")
    return tmp_path / "card"


@pytest.mark.slow
def test_detect_with_plots_then_report(card, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        detect_main,
        [
            str(card),
            "-o",
            str(out),
            "--no-model",
            "--plots",
            "--plots-per-label",
            "1",
            "--config",
            str(DEPLOYMENTS / "generic.yaml"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "plots             1 detections, 2 recordings" in result.stdout
    assert len(list((out / "plots" / "detections" / "roi").glob("*.png"))) == 1
    assert len(list((out / "plots" / "files").glob("*.png"))) == 2
    result = CliRunner().invoke(report_main, [str(out), "-o", str(tmp_path / "r" / "page.html"), "--top", "3"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(tmp_path / "r" / "page.html")
    assert (tmp_path / "r" / "page.html").read_text().startswith("<!DOCTYPE html>")


def _without_matplotlib(module: str, *args: str) -> subprocess.CompletedProcess:
    """Run a command in a fresh interpreter where ``import matplotlib`` fails."""
    code = f"import sys; sys.modules['matplotlib'] = None\nfrom {module} import main\nmain()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)


def test_missing_matplotlib_gives_the_install_hint(card, tmp_path):
    out = tmp_path / "out"
    result = _without_matplotlib("edge.cli.detect", str(card), "-o", str(out), "--no-model", "--plots")
    assert result.returncode == 2 and HINT in one_error_line(result.stderr)
    assert not out.exists()  # said before the run, not after hours of processing
    done = CliRunner().invoke(detect_main, [str(card), "-o", str(out), "--no-model", "-q"])
    assert done.exit_code == 0, done.output
    result = _without_matplotlib("edge.cli.report", str(out))
    assert result.returncode == 2 and HINT in one_error_line(result.stderr)
    assert not (out / "report.html").exists()

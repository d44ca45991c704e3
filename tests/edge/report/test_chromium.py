"""The demo's report in a real browser: headless Chromium renders it to a screenshot that is
not blank and shows the embedded charts (``make system-deps`` installs Chromium)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.support.data import DEPLOYMENTS, ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHART_BLUE = np.array([0x1F, 0x77, 0xB4]) / 255  # the first label's bars in the detections chart


@pytest.mark.slow
def test_demo_report_renders_in_headless_chromium(tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: `make system-deps` installs Debian's chromium")
    pytest.importorskip("matplotlib")
    from click.testing import CliRunner
    from matplotlib.image import imread

    from edge.cli.detect import main as detect_main
    from edge.cli.report import main as report_main

    out = tmp_path / "demo-out"
    result = CliRunner().invoke(
        detect_main,
        [
            str(ROOT / "examples" / "recordings"),
            "-o",
            str(out),
            "--no-model",
            "--plots",
            "-q",
            "--config",
            str(DEPLOYMENTS / "generic.yaml"),
        ],
    )
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(report_main, [str(out)])
    assert result.exit_code == 0, result.output
    page = Path(result.stdout.strip())
    shot = tmp_path / "report.png"
    cmd = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--screenshot={shot}",
        "--window-size=1280,2000",
        page.resolve().as_uri(),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(tmp_path)})
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]

    pixels = imread(shot)[..., :3]
    assert pixels.shape[:2] == (2000, 1280)
    assert float(pixels.std()) > 0.05, "the screenshot is nearly uniform"
    assert np.mean(np.all(pixels > 0.97, axis=-1)) < 0.95, "the screenshot is (nearly) all white"
    assert np.mean(np.all(pixels < 0.03, axis=-1)) < 0.5, "the screenshot is mostly black"
    blue = np.mean(np.all(np.abs(pixels - CHART_BLUE) < 0.04, axis=-1))
    assert blue > 0.002, f"the embedded detections chart is not on screen ({blue:.4%} of pixels chart blue)"

"""The daemon tests' world: a right-whale deployment with a run: section, contiguous synthetic
2 kHz recordings with upcalls (the chain runs at >1000x real time), the log's rows, and
edge-run as a subprocess."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import yaml

from tests.support.data import DEPLOYMENTS, HYDROPHONES, ROOT

RATE = 2000


T0 = dt.datetime(2026, 3, 1, 0, 0, 0)


def deployment_yaml(folder: Path, run: dict | None = None, **top) -> Path:
    """narw-upcall.yaml with an absolute hydrophone table, no sync: section, ``run``, and the
    committed tiny test bundle as its model (what the daemon does must not hang on how the
    shipped model, retrained from time to time, judges synthetic sweeps)."""
    from tests.support.bundles import single

    data = yaml.safe_load((DEPLOYMENTS / "narw-upcall.yaml").read_text())
    data.pop("sync", None)
    data["calibration"]["table"] = str(HYDROPHONES)
    data["model"] = {"bundle": str(single()), "thresholds": {"upcall": 0.3}}
    data["run"] = {
        "log": str(folder / "log.sqlite"),
        "poll_s": 0.01,
        "stable_s": 0.0,
        "health_period_s": 3600,
        **(run or {}),
    }
    data.update(top)
    path = folder / "deployment.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def upcalls(seconds: float, rng: np.random.Generator, calls_per_min: float = 6.0) -> np.ndarray:
    """Noise with 1-s 60->220 Hz sweeps at random times, full scale 1."""
    n = int(round(seconds * RATE))
    x = 0.01 * rng.standard_normal(n)
    t = np.arange(RATE) / RATE
    sweep = 0.2 * np.sin(2 * np.pi * (60 * t + 80 * t**2)) * np.hanning(RATE)
    for _ in range(rng.poisson(calls_per_min * seconds / 60)):
        at = rng.integers(0, max(1, n - RATE))
        x[at : at + RATE] += sweep[: n - at]
    return x


def recordings(
    folder: Path,
    count: int,
    seconds: float,
    rng: np.random.Generator,
    *,
    start: int = 0,
    spacing_s: float | None = None,
) -> list[Path]:
    """``count`` recordings named by their start (``site_YYYYMMDD_HHMMSS.wav``), the first
    ``start`` files' worth after :data:`T0`; contiguous unless ``spacing_s`` (whole seconds:
    names hold no fraction) says otherwise."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(start, start + count):
        when = T0 + dt.timedelta(seconds=i * (spacing_s or seconds))
        path = folder / f"site_{when:%Y%m%d_%H%M%S}.wav"
        sf.write(str(path), upcalls(seconds, rng), RATE, subtype="PCM_16")
        paths.append(path)
    return paths


def log_rows(path: Path) -> list[tuple]:
    """Every detection record of a log as comparable tuples (NaN made None)."""
    from edge.log import DetectionLog

    with DetectionLog(path) as log:
        return [
            (seq, *(None if isinstance(x, float) and x != x else x for x in vars(d).values()))
            for seq, d in log.iter_all()
        ]


NARW = ("meridian-osmose-narw", "task-2a", "data", "train", "narw")


def edge_run(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "edge.cli.run", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        **kwargs,
    )

"""Shared fixtures: the real recordings in ../shared/data, seeded randomness, WAV factories."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
SHARED_REAL = Path(os.environ.get("PAMEDGE_SHARED_DATA", ROOT.parent / "shared" / "data" / "real"))
DEPLOYMENTS = ROOT / "firmware-config" / "deployments"
HYDROPHONES = ROOT / "firmware-config" / "hydrophones.yaml"


def shared_path(*parts: str) -> Path:
    """A path under ../shared/data/real, or skip the test saying why it cannot run."""
    path = SHARED_REAL.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real recordings not available: {path} is absent (a fresh clone has no ../shared; CI has it)")
    return path


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261121)


@pytest.fixture
def write_audio(tmp_path):
    """Factory: write samples (n,) or (n, channels) to ``tmp_path/name``; returns the path."""

    def write(
        name: str, samples: np.ndarray, sample_rate: int, subtype: str = "PCM_16", folder: Path | None = None
    ) -> Path:
        path = (folder or tmp_path) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(path), samples, sample_rate, subtype=subtype)
        return path

    return write


def tone(freq_hz: float, amplitude: float, seconds: float, sample_rate: int) -> np.ndarray:
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    return amplitude * np.sin(2 * np.pi * freq_hz * t)


@pytest.fixture(autouse=True, scope="session")
def _umask_022():
    """Key files the tests write must not be group-writable (edge refuses those), whatever
    umask the developer's shell has (Debian and Ubuntu users often have 002)."""
    old = os.umask(0o022)
    yield
    os.umask(old)

"""Where the tests find things: the repository, the shipped deployments and calibration table,
and the real recordings in ../shared/data (absent from a fresh clone: tests that need them skip)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


SHARED_REAL = Path(os.environ.get("PAMEDGE_SHARED_DATA", ROOT.parent / "shared" / "data" / "real"))


DEPLOYMENTS = ROOT / "firmware-config" / "deployments"


HYDROPHONES = ROOT / "firmware-config" / "hydrophones.yaml"


def shared_path(*parts: str) -> Path:
    """A path under ../shared/data/real, or skip the test saying why it cannot run."""
    path = SHARED_REAL.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real recordings not available: {path} is absent (a fresh clone has no ../shared; CI has it)")
    return path

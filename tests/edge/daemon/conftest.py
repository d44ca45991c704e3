"""Factories for the daemon tests: a right-whale deployment with a run: section, and
contiguous synthetic 2 kHz recordings with upcalls (fast: the chain runs at >1000x real time)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.daemon import recordings


@pytest.fixture
def make_recordings(tmp_path, rng):
    def make(
        count: int, seconds: float, folder: Path | None = None, start: int = 0, spacing_s: float | None = None
    ) -> list[Path]:
        return recordings(folder or tmp_path / "rec", count, seconds, rng, start=start, spacing_s=spacing_s)

    return make

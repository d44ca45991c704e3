"""Fixtures for cluster runs: the real NARW folder and a single-process run of it to match."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.calibration import HydrophoneTable
from edge.config import load_deployment
from edge.detect import RunOptions, detect
from tests.support.data import shared_path
from tests.support.outputs import DEPLOYMENT


@pytest.fixture(scope="session")
def narw_inputs() -> list[Path]:
    """Both sub-folders: the background files are contiguous, so the carried floor matters."""
    root = shared_path("meridian-osmose-narw", "task-2a", "data", "train")
    return [root / "background", root / "narw"]


@pytest.fixture(scope="session")
def narw_config():
    config = load_deployment(DEPLOYMENT)
    return config, HydrophoneTable.load(config.table_path())


@pytest.fixture(scope="session")
def single_process(narw_inputs, narw_config, tmp_path_factory) -> Path:
    """``edge.detect.detect`` over the NARW folder: the outputs every cluster run must equal."""
    out = tmp_path_factory.mktemp("single") / "out"
    config, table = narw_config
    detect(narw_inputs, out, config, RunOptions(table=table))
    return out

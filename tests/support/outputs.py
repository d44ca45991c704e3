"""Comparison of two edge-detect output folders (a cluster or resumed run against the
single-process one): the same bytes in every output."""

from __future__ import annotations

import filecmp
import os
from pathlib import Path

from tests.support.data import DEPLOYMENTS

DEPLOYMENT = DEPLOYMENTS / "narw-upcall.yaml"


def assert_same_outputs(expected: Path, got: Path) -> None:
    for name in ("detections.csv", "levels.csv", "detections.sqlite"):
        assert (got / name).read_bytes() == (expected / name).read_bytes(), name
    names = sorted(os.listdir(expected / "raven"))
    assert sorted(os.listdir(got / "raven")) == names
    match, mismatch, errors = filecmp.cmpfiles(expected / "raven", got / "raven", names, shallow=False)
    assert match == names and not mismatch and not errors
    rows = (got / "detections.csv").read_text().splitlines()[1:]
    assert len(rows) == len(set(rows)) > 0, "duplicated detections"

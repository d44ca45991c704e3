"""Unusable frames (edge.quality): a NaN sample costs its frames, not its level period, and
digital silence is said; counts and warnings are the same however a recording is cut."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from edge.cluster.engine import run_units
from edge.cluster.task import run_unit
from edge.config import load_deployment
from edge.detect import RunOptions, detect
from edge.pipeline import process_recording
from tests.support.data import DEPLOYMENTS

SR = 2000


@pytest.fixture(scope="module")
def config():
    return load_deployment(DEPLOYMENTS / "narw-upcall.yaml")


@pytest.fixture
def damaged(write_audio):
    """Four minutes of noise at 2 kHz (float): one NaN sample at 30 s, an inf at 31 s, and
    digital silence (exact zeros) from 120 to 180 s."""
    rng = np.random.default_rng(3)
    x = (0.01 * rng.standard_normal(SR * 240)).astype(np.float32)
    x[30 * SR] = np.nan
    x[31 * SR] = np.inf
    x[120 * SR : 180 * SR] = 0.0
    return write_audio("site_20240501_120000.wav", x, SR, subtype="FLOAT")


def test_a_nan_sample_costs_its_frames_and_silence_is_said(damaged, config):
    res = process_recording(damaged, config, None)
    levels = [r.broadband_db for r in res.levels]
    assert len(levels) == 4 and all(math.isfinite(b) for b in (levels[0], levels[1], levels[3]))
    assert abs(levels[0] - levels[1]) < 0.5  # the damaged first minute keeps its level
    assert levels[2] < levels[0] - 20  # the silent third minute (its edge frames overlap noise)
    # white noise gives the recall-first candidate stage its background ROIs, but none from
    # the damaged frames or the silence, and every SNR finite
    assert res.rois and all(math.isfinite(r.snr_db) for r in res.rois)
    assert not [r for r in res.rois if 29 < r.start_s < 32 or 119 < r.start_s < 181]
    nonfinite, silence = [w for w in res.warnings if "non-finite" in w or "digital silence" in w]
    assert str(damaged) in nonfinite and "from 29.8" in nonfinite and "NaN or inf" in nonfinite
    assert str(damaged) in silence and "59.90 s of digital silence" in silence and "from 120.00 s" in silence
    assert res.quality.nonfinite_frames > 0 and res.quality.nonfinite_frames * config.spec_for(SR).hop_s < 1.0


@pytest.mark.parametrize("block_s", [0.5, 7.0])
def test_counts_do_not_depend_on_the_blocks(damaged, config, block_s):
    whole = process_recording(damaged, config, None, block_s=600.0)
    cut = process_recording(damaged, config, None, block_s=block_s)
    assert cut.quality == whole.quality and cut.warnings == whole.warnings
    assert [r.broadband_db for r in cut.levels] == [r.broadband_db for r in whole.levels]


def test_cluster_units_count_as_the_whole_run(damaged, config, tmp_path):
    detect([damaged], tmp_path / "whole", config)
    run_units(
        [damaged],
        tmp_path / "units",
        config,
        RunOptions(),
        chunk_s=60,
        execute=lambda units, job: map(run_unit, units, [job] * len(units)),
    )
    whole, units = (json.loads((tmp_path / d / "run.json").read_text())["files"][0] for d in ("whole", "units"))
    for key in ("warnings", "silent_s", "nonfinite_s"):
        assert units[key] == whole[key], key
    assert whole["silent_s"] == pytest.approx(60.0, abs=0.5) and 0 < whole["nonfinite_s"] < 1.0
    assert (tmp_path / "units" / "levels.csv").read_bytes() == (tmp_path / "whole" / "levels.csv").read_bytes()

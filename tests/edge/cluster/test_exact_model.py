"""Cluster units with a classifier give the single-process run's detections byte for byte:
each unit replays half a window more and reads on until its ROIs' windows are complete."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from edge.classify import load_classifier
from edge.cluster.engine import run_units
from edge.cluster.plan import plan_units
from edge.cluster.task import run_unit
from edge.config import ModelSettings
from edge.detect import RunOptions, detect
from tests.support.bundles import scanning, single
from tests.support.outputs import assert_same_outputs

pytestmark = pytest.mark.shared


@pytest.mark.slow
@pytest.mark.parametrize("model", [single, scanning], ids=["centre", "scan"])
def test_units_with_a_model_equal_single_process(tmp_path, tmp_path_factory, narw_inputs, narw_config, model):
    """Also with a scanning model (crop: scan): the real recordings' 7-9 s ROIs are scanned,
    and the replay margin (max_duration_s + half a window) still covers their windows."""
    config, table = narw_config
    bundle = model(tmp_path_factory)
    config = replace(config, model=ModelSettings(bundle=str(bundle), thresholds={"upcall": 0.0}))
    classifier = load_classifier(config)
    inputs = narw_inputs[1:]  # the three recordings with upcalls
    detect(inputs, tmp_path / "single", config, RunOptions(table=table, classifier=classifier))

    def shuffled(units, job):
        order = list(units)
        random.Random(3).shuffle(order)
        for unit in order:
            yield run_unit(unit, job)

    report = run_units(
        inputs, tmp_path / "units", config, RunOptions(table=table, classifier=classifier), chunk_s=60, execute=shuffled
    )
    assert_same_outputs(tmp_path / "single", tmp_path / "units")
    text = (tmp_path / "units" / "detections.csv").read_text()
    assert classifier.identity in text and ",roi," not in text
    assert sum(f.roi_count for f in report.files) == len(text.splitlines()) - 1  # threshold 0: one per ROI


def test_units_replay_half_a_window_more_with_a_model(narw_inputs, narw_config, tmp_path_factory):
    config, table = narw_config
    paths = sorted(narw_inputs[1].glob("*.wav"))[:1]
    plain = plan_units(paths, config, RunOptions(table=table), chunk_s=120)
    with_model = plan_units(paths, config, RunOptions(table=table), chunk_s=120, window_frames=94)
    later = [(p.c0, w.c0, p.replay_from - w.replay_from) for p, w in zip(plain, with_model) if p.replay_from > 0]
    assert later and all(a == b and d >= 94 // 2 for a, b, d in later)

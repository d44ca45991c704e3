"""The units' task, run in-process without Dask, reproduces the single-process run byte for
byte: every NARW recording cut into 2-minute chunks (several per file), the contiguous
background files replaying their predecessors' ends for the carried noise floor."""

from __future__ import annotations

import dataclasses
import random

import pytest

from edge.cluster.engine import run_units
from edge.cluster.plan import plan_units
from edge.cluster.task import Job, run_unit
from edge.detect import RunOptions, detect
from edge.errors import ConfigError
from tests.support.outputs import assert_same_outputs

pytestmark = pytest.mark.shared


def shuffled(units, job):
    """Units in a scrambled order, as a cluster completes them."""
    order = list(units)
    random.Random(7).shuffle(order)
    for unit in order:
        yield run_unit(unit, job)


@pytest.mark.slow
@pytest.mark.parametrize("chunk_s", [120, 60])
def test_units_in_process_equal_single_process(tmp_path, narw_inputs, narw_config, single_process, chunk_s):
    config, table = narw_config
    seen = []
    report = run_units(
        narw_inputs,
        tmp_path / "out",
        config,
        RunOptions(table=table),
        chunk_s=chunk_s,
        execute=lambda units, job: (seen.extend(units), shuffled(units, job))[1],
    )
    assert_same_outputs(single_process, tmp_path / "out")
    per_file = {u.file_index: u.n_chunks for u in seen}
    assert len(per_file) == 6 and min(per_file.values()) >= 7  # 15-minute files
    assert any(u.predecessors for u in seen)  # the contiguous background files
    carried = [f.details["noise_floor_carried"] for f in report.files]
    assert carried == [False, True, True, False, True, True]


@pytest.mark.slow
def test_parts_resume_across_local_and_unit_runs(tmp_path, narw_inputs, narw_config, single_process):
    """A run committed part-way by units and resumed by the local engine (and the reverse)
    ends with the same bytes, noise-floor states included."""
    config, table = narw_config

    def first_files(units, job):
        for unit in units:
            if unit.file_index < 2:
                yield run_unit(unit, job)

    with pytest.raises(RuntimeError, match="no result for"):
        run_units(narw_inputs, tmp_path / "a", config, RunOptions(table=table), chunk_s=120, execute=first_files)
    detect(narw_inputs, tmp_path / "a", config, RunOptions(table=table, resume=True))
    assert_same_outputs(single_process, tmp_path / "a")
    for npz in (single_process / ".parts").glob("*.npz"):
        assert (tmp_path / "a" / ".parts" / npz.name).read_bytes() == npz.read_bytes()
    run_units(
        narw_inputs,
        tmp_path / "a",
        config,
        RunOptions(table=table, resume=True),
        chunk_s=120,
        execute=lambda units, job: [] if not units else pytest.fail("nothing left to do"),
    )
    assert_same_outputs(single_process, tmp_path / "a")


def test_worker_refuses_settings_that_hash_differently(narw_config):
    config, table = narw_config
    job = Job.of(config, RunOptions(table=table))
    [unit] = plan_units([__import__("pathlib").Path(__file__)], config, RunOptions(table=table))
    with pytest.raises(ConfigError, match="deployment hash mismatch on the worker"):
        run_unit(unit, dataclasses.replace(job, config_hash="0" * 16))
    with pytest.raises(ConfigError, match="hydrophone table sha256 mismatch"):
        run_unit(unit, dataclasses.replace(job, table_bytes=job.table_bytes + b"\n"))
    result = run_unit(unit, job)  # not audio: a failed unit naming the file, like the local run
    assert result.status == "failed" and __file__ in result.reason

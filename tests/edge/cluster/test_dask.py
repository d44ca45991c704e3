"""End to end on a real Dask cluster on loopback: 2 worker processes, byte-identical
outputs to the single-process run, also when a worker is SIGKILLed mid-run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from tests.support.outputs import DEPLOYMENT, assert_same_outputs

distributed = pytest.importorskip("distributed")
pytestmark = [pytest.mark.shared, pytest.mark.slow]


def test_cli_local_cluster_is_byte_identical(tmp_path, narw_inputs, single_process):
    out = tmp_path / "out"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "edge.cli.detect",
            *map(str, narw_inputs),
            "-o",
            str(out),
            "--no-model",
            "--config",
            str(DEPLOYMENT),
            "--scheduler",
            "local:2",
            "--chunk-s",
            "120",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "files ok          6" in done.stdout
    assert_same_outputs(single_process, out)


def test_killed_worker_has_its_units_rerun_without_duplicates(tmp_path, narw_inputs, narw_config, single_process):
    from edge.cluster.client import detect_on_cluster
    from edge.detect import RunOptions

    config, table = narw_config
    killed = []
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        pids = client.run(os.getpid)

        def on_file(outcome, audio_s):
            if not killed:  # a file is complete: dozens of units are still queued or running
                victim = sorted(pids.values())[0]
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)

        report = detect_on_cluster(
            narw_inputs,
            tmp_path / "out",
            config,
            RunOptions(table=table),
            scheduler=cluster.scheduler_address,
            chunk_s=60,
            on_file=on_file,
        )
        client.wait_for_workers(2, timeout=30)
        after = client.run(os.getpid)
    assert killed and killed[0] not in after.values()  # the nanny started a new worker
    assert not report.failed
    assert_same_outputs(single_process, tmp_path / "out")


def test_missing_dask_is_one_error_line(tmp_path, narw_inputs):
    code = (
        "import sys; sys.modules['distributed'] = None\n"
        "from edge.cli.detect import main\n"
        f"main([{str(narw_inputs[0])!r}, '-o', {str(tmp_path / 'o')!r}, '--no-model', '--scheduler', 'local:2'])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        'error: --scheduler needs dask.distributed, which is not installed: pip install "pamedge[dask]"'
    )


@pytest.mark.parametrize("address", ["local:0", "local:x", "nowhere"])
def test_bad_scheduler_address_is_a_usage_error(tmp_path, narw_inputs, address):
    from click.testing import CliRunner

    from edge.cli.detect import main

    result = CliRunner().invoke(
        main, [str(narw_inputs[0]), "-o", str(tmp_path / "o"), "--no-model", "--scheduler", address]
    )
    assert result.exit_code == 2 and "--scheduler" in result.output

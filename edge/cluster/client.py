"""Scheduling on Dask: connect (or start a local cluster), submit units, gather them.

``distributed`` is imported only here and only when a run asks for a scheduler, so the
runtime and ``edge-detect --help`` never load it; without it the run stops with the
``pip install "pamedge[dask]"`` hint.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from edge.cluster.engine import run_units
from edge.cluster.plan import DEFAULT_CHUNK_S, Unit

__all__ = ["DEFAULT_CHUNK_S", "connect", "detect_on_cluster", "parse_scheduler", "require_distributed"]
from edge.cluster.task import Job, UnitResult, run_unit
from edge.config import DeploymentConfig
from edge.detect import FileOutcome, RunOptions, RunReport
from edge.errors import ConfigError, MissingExtraError

INSTALL_HINT = 'pip install "pamedge[dask]"'
RETRIES = 2
# Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, and setting any malloc
# threshold switches off glibc's adaptive mmap threshold: every array over 128 KiB is then
# a fresh mmap and its pages fault in again, which halved the detector's speed in a worker
# (benchmarks/RESULTS.md).  Workers of clusters started elsewhere need the same environment
# (README, "Archive scale").
WORKER_ENVIRON = {"MALLOC_TRIM_THRESHOLD_": 268_435_456, "MALLOC_MMAP_THRESHOLD_": 33_554_432}


def require_distributed() -> Any:
    """The ``distributed`` module, or :class:`MissingExtraError` with the install hint."""
    try:
        import distributed
    except ImportError:
        raise MissingExtraError(f"--scheduler needs dask.distributed, which is not installed: {INSTALL_HINT}") from None
    return distributed


def parse_scheduler(address: str) -> int | str:
    """``local:N`` -> N worker processes to start here; otherwise the address itself."""
    if address.startswith("local:"):
        n = address.split(":", 1)[1]
        if not n.isdigit() or int(n) < 1:
            raise ConfigError(f"--scheduler {address!r}: expected local:N with N >= 1 worker processes")
        return int(n)
    if "://" not in address and ":" not in address:
        raise ConfigError(f"--scheduler {address!r}: expected a scheduler address (tcp://host:8786) or local:N")
    return address


@contextlib.contextmanager
def connect(address: str) -> Iterator[Any]:
    """A ``distributed.Client`` for ``address`` (``local:N`` starts and stops a cluster of N
    single-threaded worker processes on 127.0.0.1)."""
    distributed = require_distributed()
    target = parse_scheduler(address)
    if isinstance(target, int):
        import dask

        environ = {f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in WORKER_ENVIRON.items()}
        with (
            dask.config.set(environ),
            distributed.LocalCluster(
                n_workers=target, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            yield client
    else:
        with distributed.Client(target, timeout="30s") as client:
            yield client


def dask_execute(client: Any) -> Callable[[list[Unit], Job], Iterator[UnitResult]]:
    """Run units as tasks (``pure=False``, ``retries``, the unit's key), yielding results as
    they complete; a worker that dies has its tasks re-run elsewhere by the scheduler."""
    distributed = require_distributed()

    def execute(units: list[Unit], job: Job) -> Iterator[UnitResult]:
        if not units:
            return
        # the job is a few kB (settings and table), so it travels inside each task
        futures = [client.submit(run_unit, unit, job, key=unit.key, pure=False, retries=RETRIES) for unit in units]
        try:
            for future in distributed.as_completed(futures):
                yield future.result()
                future.release()
        finally:
            client.cancel(futures)

    return execute


def detect_on_cluster(
    inputs: Sequence[str | Path],
    outdir: str | Path,
    config: DeploymentConfig,
    options: RunOptions = RunOptions(),
    *,
    scheduler: str,
    chunk_s: float = DEFAULT_CHUNK_S,
    on_start: Callable[[float], None] | None = None,
    on_file: Callable[[FileOutcome, float], None] | None = None,
) -> RunReport:
    """:func:`edge.detect.detect` on a Dask cluster: same outputs, byte for byte."""
    with connect(scheduler) as client:
        return run_units(
            inputs,
            outdir,
            config,
            options,
            execute=dask_execute(client),
            chunk_s=chunk_s,
            on_start=on_start,
            on_file=on_file,
        )

"""A recording that has ended the daemon before is processed again in a worker process of
its own.

A start count alone cannot tell a recording that crashes its decoder or backend (a signal,
an abort in a native library, the OOM killer) from power cuts that happened to land while it
was being processed: counted alike, three power cuts cost a good recording.  In a worker the
two part: the worker dying while the daemon lives is the recording's doing and counts against
it; the daemon dying (the worker goes with it, ``PR_SET_PDEATHSIG``) counts against nothing.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge.calibration import HydrophoneTable
from edge.classify import Classifier
from edge.config import DeploymentConfig
from edge.errors import PamedgeError
from edge.pipeline import RecordingResult

# Testing only: the worker processing a file of this name kills itself with SIGSEGV, standing
# in for a decoder or backend that crashes on it (nothing else in pamedge reads this).
CRASH_FOR_TESTS_ENV = "PAMEDGE_TEST_CRASH_ON"
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class WorkerCrash:
    """The worker ended without a result: ``how`` says by which signal, exit status or timeout."""

    how: str


def process_isolated(
    path: Path,
    config: DeploymentConfig,
    table: HydrophoneTable | None,
    classifier: Classifier | None,
    *,
    noise_state: list[np.ndarray] | None,
    classify_limit: int | None,
    timeout_s: float,
    on_wait: Callable[[], object] = lambda: None,
) -> RecordingResult | WorkerCrash:
    """:func:`edge.pipeline.process_recording` of ``path`` in a fresh worker process; raises
    what it raises (a bad recording), returns :class:`WorkerCrash` when the worker dies or
    outlives ``timeout_s``.  ``on_wait`` is called about once a second meanwhile (the
    systemd watchdog)."""
    import multiprocessing

    from edge.cluster.task import Job
    from edge.detect import RunOptions

    job = Job.of(config, RunOptions(table=table, classifier=classifier))
    context = multiprocessing.get_context("spawn")  # no inherited threads (backends' pools)
    receive, send = context.Pipe(duplex=False)
    worker = context.Process(
        target=_work,
        args=(send, os.getpid(), job, str(path), noise_state, classify_limit),
        name=f"pamedge-isolated-{path.name}",
        daemon=True,
    )
    worker.start()
    send.close()
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            if receive.poll(1.0):
                try:
                    kind, value = receive.recv()
                except EOFError:  # the worker died before it answered
                    break
                worker.join(30)
                if kind == "error":
                    raise value
                return value  # type: ignore[no-any-return]
            on_wait()
            if not worker.is_alive():
                break
            if time.monotonic() > deadline:
                worker.kill()
                worker.join(30)
                return WorkerCrash(f"no result after {timeout_s:.0f} s")
        worker.join(30)
        code = worker.exitcode
        if code is not None and code < 0:
            return WorkerCrash(f"killed by {signal.Signals(-code).name}")
        return WorkerCrash(f"exited with status {code} without a result")
    finally:
        receive.close()
        if worker.is_alive():
            worker.kill()
            worker.join(30)


def _die_with(parent: int) -> None:
    """Ask the kernel to SIGKILL this process when the daemon dies (Linux), and leave at once
    if it already has."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the worker finishes its one recording alone
        pass
    if os.getppid() != parent:
        os._exit(1)


def _work(
    send: Any,
    parent: int,
    job: Any,
    path: str,
    noise_state: list[np.ndarray] | None,
    classify_limit: int | None,
) -> None:
    _die_with(parent)
    from edge.pipeline import process_recording

    if os.environ.get(CRASH_FOR_TESTS_ENV) == Path(path).name:
        os.kill(os.getpid(), signal.SIGSEGV)
    try:
        config, table = job.restore()
        classifier = job.classifier(config)
        result = process_recording(
            path,
            config,
            table,
            allow_truncated=True,
            noise_state=noise_state,
            display_name=path,
            classifier=classifier,
            classify_limit=classify_limit,
        )
        send.send(("ok", result))
    except (PamedgeError, ValueError, OSError) as exc:  # a bad recording: failed as in the daemon
        send.send(("error", PamedgeError(" ".join(str(exc).split()) or type(exc).__name__)))
    finally:
        send.close()

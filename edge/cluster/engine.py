"""A run made of units, whoever executes them: plan, gather, merge, commit, assemble.

:func:`run_units` is the cluster run without the cluster: ``execute`` receives the units
and yields their :class:`~edge.cluster.task.UnitResult` in any order (Dask's
``as_completed``, or a plain loop in tests).  A recording is merged and committed as soon as
all its chunks are in, with the functions the local run uses, so parts, ``--resume`` and the
outputs are the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from edge.cluster.plan import DEFAULT_CHUNK_S, Unit, plan_units
from edge.cluster.task import Job, UnitResult
from edge.config import DeploymentConfig
from edge.detect import (
    FileOutcome,
    RunOptions,
    RunReport,
    commit,
    committed,
    failed_outcome,
    finish,
    ok_outcome,
    start_run,
)
from edge.pipeline import stamped_config
from edge.quality import SignalQuality
from edge.soundscape.welch import no_utc_start

Execute = Callable[[list[Unit], Job], Iterable[UnitResult]]


def run_units(
    inputs: Sequence[str | Path],
    outdir: str | Path,
    config: DeploymentConfig,
    options: RunOptions = RunOptions(),
    *,
    execute: Execute,
    chunk_s: float = DEFAULT_CHUNK_S,
    salt: str = "",
    on_start: Callable[[float], None] | None = None,
    on_file: Callable[[FileOutcome, float], None] | None = None,
) -> RunReport:
    """Process ``inputs`` into ``outdir`` as :func:`edge.detect.detect` does, one unit per chunk."""
    classifier = options.classifier
    config = stamped_config(config, classifier)
    ctx = start_run(inputs, outdir, config, options, on_start)
    outcomes: list[FileOutcome | None] = [None] * len(ctx.paths)
    for i, path in enumerate(ctx.paths):
        done = committed(ctx, path) if options.resume else None
        if done:
            outcomes[i] = done[0].light()
            if on_file:
                on_file(done[0], done[0].details.get("duration_s", done[0].audio_s))
    units = [
        u
        for u in plan_units(
            ctx.paths,
            config,
            options,
            chunk_s=chunk_s,
            salt=salt + ctx.run_key["config_hash"],
            window_frames=classifier.bundle.n_frames if classifier is not None else 0,
        )
        if outcomes[u.file_index] is None
    ]
    expected = {u.file_index: u.n_chunks for u in units}
    received: dict[int, dict[int, UnitResult]] = {i: {} for i in expected}
    processing_s = 0.0
    job = Job.of(config, options)
    for result in execute(units, job):
        chunks = received[result.file_index]
        if result.chunk in chunks:
            continue  # a unit re-run after its worker died: the first result stands
        chunks[result.chunk] = result
        processing_s += result.seconds
        if len(chunks) < expected[result.file_index]:
            continue
        path = ctx.paths[result.file_index]
        outcome, state = merge(path, [chunks[k] for k in sorted(chunks)], ctx.config, options)
        commit(ctx, path, outcome, state)
        outcomes[result.file_index] = outcome.light()
        if on_file:
            on_file(outcome, outcome.details.get("duration_s", outcome.audio_s))
    done_outcomes = [o for o in outcomes if o is not None]
    if len(done_outcomes) < len(outcomes):
        missing = [str(ctx.paths[i]) for i, o in enumerate(outcomes) if o is None]
        raise RuntimeError(f"no result for {', '.join(missing)}")
    return finish(ctx, done_outcomes, processing_s)


def merge(
    path: Path, chunks: list[UnitResult], config: DeploymentConfig, options: RunOptions
) -> tuple[FileOutcome, list[np.ndarray] | None]:
    """One recording's outcome from its chunks in order (ROIs by start, levels by period)."""
    failed = [c for c in chunks if c.status != "ok"]
    if failed:
        return FileOutcome(str(path), "failed", failed[0].reason), None
    try:
        prep = options.prepare(path, config)
    except Exception as exc:  # e.g. the file vanished since the worker read it
        return failed_outcome(path, exc), None
    detections = [d for c in chunks for d in c.detections]
    levels = [r for c in chunks for r in c.levels]
    quality = SignalQuality()
    for c in chunks:
        quality.add(c.quality)
    warnings = (
        prep.warnings + [w for c in chunks for w in c.warnings] + quality.warnings(str(prep.info.path), prep.spec.hop_s)
    )
    hmd = [m for c in chunks for m in c.hmd]
    if "hmd" in options.outputs and prep.info.start_utc is None:
        warnings.append(no_utc_start(prep.info.path))
    outcome = ok_outcome(
        path,
        prep.info,
        prep.calibration,
        warnings,
        prep.channel,
        config,
        sum(c.roi_count for c in chunks),
        detections,
        levels,
        chunks[0].level_bands,
        carried=chunks[0].carried,
        quality=quality,
        ranking=[r for c in chunks for r in c.ranking],
        scores=[s for c in chunks for s in c.scores],
        clicks=[k for c in chunks for k in c.clicks],
        encoder_top_hz=prep.kept_top_hz,
    )
    return replace(outcome, hmd=hmd, hmd_rate=prep.info.sample_rate), chunks[-1].noise_state

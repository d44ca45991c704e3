"""What runs on a worker: one unit of work, from the recording on the shared filesystem.

The deployment travels as its settings mapping plus its hash and the hydrophone table as its
bytes plus their sha256; both are rebuilt and checked here, so a worker with a different
pamedge (whose settings would hash differently) fails loudly instead of computing something
else.  Nothing here imports Dask: the function is plain and is also called in-process by
tests.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge.calibration import HydrophoneTable
from edge.classify import Classifier, load_classifier
from edge.cluster.plan import Span, Unit
from edge.config import DeploymentConfig, from_settings
from edge.detect import RunOptions, failed_outcome, soundscape_minutes
from edge.errors import ConfigError, PamedgeError
from edge.pipeline import Chain, Prepared, click_records, failure_warnings, prepare, records, score_rows
from edge.quality import SignalQuality
from edge.soundscape.types import Minute
from edge.types import ClickRecord, Detection, LevelRow, Rank, WindowScore


@dataclass(frozen=True)
class Job:
    """What every unit of a run shares, in a form that travels to workers."""

    settings: dict[str, Any]
    config_hash: str
    table_bytes: bytes | None = None
    table_path: str = ""
    table_sha256: str = ""
    channel: int | None = None
    block_s: float | None = None
    allow_truncated: bool = False
    # the classifier: its bundle folder (on the shared filesystem), backend and identity
    model_path: str = ""
    model_kind: str = ""
    model_identity: str = ""
    scores: bool = False  # keep every classified window's scores (the scores output)
    clicks: bool = False  # keep every click (the clicks output)
    hmd: bool = False  # hybrid millidecade minutes (the hmd output)

    @classmethod
    def of(cls, config: DeploymentConfig, options: RunOptions) -> Job:
        table, classifier = options.table, options.classifier
        data = Path(table.path).read_bytes() if table is not None else None
        model = (str(classifier.bundle.path), classifier.kind, classifier.identity) if classifier else ("", "", "")
        return cls(
            config.as_dict(),
            config.hash,
            data,
            table.path if table else "",
            hashlib.sha256(data).hexdigest() if data is not None else "",
            options.channel,
            options.block_s,
            options.allow_truncated,
            *model,
            "scores" in options.outputs and classifier is not None,
            "clicks" in options.outputs and config.clicks is not None,
            "hmd" in options.outputs,
        )

    def classifier(self, config: DeploymentConfig) -> Classifier | None:
        """The client's classifier, rebuilt here and checked to run the same model file."""
        if not self.model_path:
            return None
        classifier = load_classifier(config, bundle=self.model_path, backend=self.model_kind)
        if classifier.identity != self.model_identity:
            raise ConfigError(
                f"{self.model_path}: model identity mismatch on the worker: the client ran "
                f"{self.model_identity}, this worker loads {classifier.identity}"
            )
        return classifier

    def restore(self) -> tuple[DeploymentConfig, HydrophoneTable | None]:
        """The deployment and table, checked against the hashes the client computed."""
        config = from_settings(self.settings, "deployment settings sent by the client")
        if config.hash != self.config_hash:
            raise ConfigError(
                f"deployment hash mismatch on the worker: the client sent {self.config_hash}, the "
                f"settings rebuilt here hash to {config.hash} (is the same pamedge version installed "
                "on the workers?)"
            )
        if self.table_bytes is None:
            return config, None
        got = hashlib.sha256(self.table_bytes).hexdigest()
        if got != self.table_sha256:
            raise ConfigError(
                f"{self.table_path}: hydrophone table sha256 mismatch on the worker "
                f"(sent {self.table_sha256}, received {got})"
            )
        return config, HydrophoneTable.from_text(self.table_bytes.decode(), self.table_path)


@dataclass
class UnitResult:
    """One unit's share of its recording's outcome."""

    file_index: int
    chunk: int
    status: str = "ok"
    reason: str = ""
    detections: list[Detection] = field(default_factory=list)
    levels: list[LevelRow] = field(default_factory=list)
    level_bands: tuple[str, ...] = ()
    noise_state: list[np.ndarray] | None = None  # the last chunk's, at the recording's end
    carried: bool = False
    roi_count: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)  # ROIs whose classification failed
    quality: SignalQuality = field(default_factory=SignalQuality)  # over the chunk's frames
    ranking: list[Rank] = field(default_factory=list)  # the recording's, from its one unit
    scores: list[WindowScore] = field(default_factory=list)  # the chunk's classified windows
    clicks: list[ClickRecord] = field(default_factory=list)  # the chunk's clicks
    hmd: list[Minute] = field(default_factory=list)  # the HMD minutes starting in the chunk


def run_unit(unit: Unit, job: Job) -> UnitResult:
    """Process one unit.  A recording that cannot be processed gives a failed result whose
    reason names the file; a mismatched deployment or table raises :class:`ConfigError`."""
    config, table = job.restore()
    classifier = job.classifier(config)
    t0 = time.perf_counter()
    try:
        result = _process(unit, job, config, table, classifier)
    except Exception as exc:  # failed_outcome re-raises what is not a per-file failure
        result = UnitResult(unit.file_index, unit.chunk, "failed", failed_outcome(Path(unit.path), exc).reason)
    result.seconds = time.perf_counter() - t0
    return result


def _prepare(path: str, job: Job, config: DeploymentConfig, table: HydrophoneTable | None) -> Prepared:
    return prepare(path, config, table, channel=job.channel, block_s=job.block_s, allow_truncated=job.allow_truncated)


def _replay(
    spans: tuple[Span, ...], job: Job, config: DeploymentConfig, table: HydrophoneTable | None
) -> tuple[list[np.ndarray] | None, bool]:
    """The noise floor at the end of the last span, and whether it carries (a recording the
    single-process run would fail does not hand its floor on)."""
    state, ok = None, False
    for span in spans:
        try:
            prep = _prepare(span.path, job, config, table)
            state = Chain(prep, config, noise_state=state, first_frame=span.start, levels=False).run().noise_state
            ok = True
        except (PamedgeError, ValueError, OSError, MemoryError):
            state, ok = None, False
    return state, ok


def _process(
    unit: Unit, job: Job, config: DeploymentConfig, table: HydrophoneTable | None, classifier: Classifier | None = None
) -> UnitResult:
    prep = _prepare(unit.path, job, config, table)
    carried = unit.carried
    state = None
    if unit.predecessors:
        state, ok = _replay(unit.predecessors, job, config, table)
        carried = carried and ok
    start, c0, c1 = unit.replay_from, unit.c0, unit.c1
    chain = Chain(
        prep,
        config,
        noise_state=state if carried and start == 0 else None,
        first_frame=start,
        classifier=classifier,
        owned=(c0, c1),
        rank=start == 0 and c0 == 0 and unit.last,  # plan_units gives a ranked recording one unit
        scores=job.scores,
        clicks=job.clicks,
    )

    detector = chain.detector
    assert detector is not None  # a chain runs its candidate stages unless told not to

    def chunk_done(chain: Chain) -> bool:
        """Every event started in the chunk has closed, and its classifier window is complete."""
        open_start = detector.open_event_start
        return (
            not unit.last
            and detector.processed_frames >= c1
            and (open_start is None or open_start >= c1)
            and chain.pending == 0
        )

    out = chain.run(stop=chunk_done)
    detections, level_rows = records(
        prep,
        config,
        out.rois,
        out.periods,
        unit.path,
        out.labels,
        classifier.identity if classifier is not None else "",
    )
    return UnitResult(
        unit.file_index,
        unit.chunk,
        "ok",
        "",
        detections,
        level_rows,
        out.level_bands,
        out.noise_state if unit.last else None,
        carried,
        len(out.rois),
        warnings=failure_warnings(prep, out.failures),
        quality=out.quality,
        ranking=out.ranking,
        scores=score_rows(prep, out.rois, out.window_scores, unit.path, classifier)
        if classifier and job.scores
        else [],
        clicks=click_records(prep, out.rois, out.clicks, unit.path),
        hmd=_hmd(prep, config, unit) if job.hmd else [],
    )


def _hmd(prep: Prepared, config: DeploymentConfig, unit: Unit) -> list[Minute]:
    """The HMD minutes starting in the unit's chunk (the minute the recording begins in
    belongs to its first chunk), at the recording's own rate; none without a UTC start
    (the merge says so once for the recording)."""
    if prep.info.start_utc is None:
        return []
    t1 = float("inf") if unit.last else unit.c1 * prep.spec.hop_s
    owned = (unit.c0 * prep.spec.hop_s, t1)
    return soundscape_minutes(
        prep.info, prep.calibration, prep.channel, config, owned=owned, encoder_top_hz=prep.kept_top_hz
    )

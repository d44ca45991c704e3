"""Batch detection over many recordings: the engine behind ``edge-detect``.

Each recording is a unit of work whose result is committed to ``OUTDIR/.parts/`` (a JSON
written atomically, plus the ROI detector's noise history) before the next starts.  The
analyst-facing outputs are assembled from the parts at the end, in input order, so a run
killed at any instant and resumed with ``resume=True`` ends with the same bytes as an
uninterrupted run, and a failed recording never stops the others.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import hashlib
import json
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from edge import __version__, resample
from edge._hashing import file_sha256, stable_hash
from edge.audio import AUDIO_KINDS, discover, probe
from edge.calibration import Calibration, HydrophoneTable
from edge.classify import Classifier
from edge.config import DeploymentConfig
from edge.errors import PamedgeError
from edge.levels import DecidecadeBands
from edge.log import build_log
from edge.outputs import (
    CLICK_COLUMNS,
    DETECTION_COLUMNS,
    LEVEL_COLUMNS,
    PARQUET_HINT,
    RANKING_COLUMNS,
    RAVEN_RUN_COLUMNS,
    RAVEN_RUN_TABLE,
    SCORE_COLUMNS,
    ScoresParquet,
    StagedFiles,
    audacity_labels,
    click_row,
    detection_row,
    have_pyarrow,
    level_row,
    ranking_rows,
    raven_rows,
    raven_table,
    score_row,
    unique_stems,
    write_atomic,
)
from edge.pipeline import Prepared, analysis_rate, prepare, process_recording, stamped_config
from edge.quality import SignalQuality
from edge.soundscape.settings import SoundscapeSettings
from edge.soundscape.types import Minute
from edge.soundscape.welch import recording_minutes
from edge.soundscape.write import netcdf_attrs, write_days
from edge.tethys.documents import (
    TethysError,
    deployment_document,
    detections_documents,
    effort_periods,
    to_text,
)
from edge.tethys.types import Recording as TethysRecording
from edge.tethys.types import Species
from edge.timestamps import CONTIGUOUS_S, parse_utc
from edge.types import AudioInfo, ClickRecord, Detection, LevelRow, Rank, WindowScore

PART_VERSION = 1
# what edge-detect can write besides run.json: detections.csv, levels.csv, detections.sqlite,
# the Raven tables (raven/: one per recording and raven/all.selections.txt), ranking.csv (when
# the deployment ranks and a model runs), and those below
OUTPUTS = frozenset(
    {"csv", "levels", "sqlite", "raven", "audacity", "ranking", "scores", "parquet", "clicks", "hmd", "tethys"}
)
# asked for, not written by default: scores.csv and scores.parquet (every window the classifier
# scored, kept or rejected) and clicks.csv (every click of the impulse detector), as they can be
# large; Audacity label tracks; Tethys documents (tethys/: they need a site: section and a model
# whose card names its species); the soundscape products (hmd: soundscape/), which edge-detect
# also writes by default when the deployment has a soundscape: section
DEFAULT_OUTPUTS = OUTPUTS - {"scores", "parquet", "clicks", "audacity", "hmd", "tethys"}
# what a run (and edge-detect --plots, edge-report) writes in OUTDIR: an earlier run's are never
# replaced silently, and --overwrite removes them all (no stale Raven table stays beside new ones)
RUN_OUTPUTS = (
    "run.json",
    ".parts",
    "detections.csv",
    "levels.csv",
    "detections.sqlite",
    "ranking.csv",
    "scores.csv",
    "scores.parquet",
    "clicks.csv",
    "raven",
    "audacity",
    "soundscape",
    "tethys",
    "plots",
    "report.html",
)


@dataclass(frozen=True)
class RunOptions:
    """How a run reads and classifies its recordings, beside the deployment that says what
    to compute: the one value edge-detect, the cluster engine and their callers pass along."""

    table: HydrophoneTable | None = None  # hydrophone calibrations by serial
    classifier: Classifier | None = None  # None: every ROI is a record labelled roi
    channel: int | None = None  # None: the deployment's
    block_s: float | None = None  # None: the deployment's
    allow_truncated: bool = False  # process the samples a short WAV holds (said per file)
    resume: bool = False  # keep what an earlier run with the same settings committed
    overwrite: bool = False  # replace an earlier run's outputs in OUTDIR (else refused)
    outputs: frozenset[str] = DEFAULT_OUTPUTS  # which of the run's files to write (run.json always)
    top_k: int | None = None  # classes per recording in ranking.csv; None: the deployment's ranking.top_k
    command: tuple[str, ...] | None = None  # for run.json; None: this process's argv

    def written(self, config: DeploymentConfig) -> frozenset[str]:
        """The outputs a run writes: those asked for that it has (no ranking without a
        ranking section and a model)."""
        out = self.outputs if self.classifier is not None else self.outputs - {"scores", "parquet", "ranking"}
        out = out if config.clicks is not None else out - {"clicks"}
        return out if config.ranking is not None else out - {"ranking"}

    def ranked(self, config: DeploymentConfig) -> int:
        """Classes per recording in the ranking (0: no ranking)."""
        if "ranking" not in self.written(config) or config.ranking is None:
            return 0
        return self.top_k or config.ranking.top_k

    def prepare(self, path: str | Path, config: DeploymentConfig) -> Prepared:
        """:func:`edge.pipeline.prepare` with these options."""
        return prepare(
            path,
            config,
            self.table,
            channel=self.channel,
            block_s=self.block_s,
            allow_truncated=self.allow_truncated,
        )


@dataclass
class FileOutcome:
    file: str
    status: str  # "ok" or "failed"
    reason: str = ""
    audio_s: float = 0.0
    roi_count: int = 0
    detections: list[Detection] = field(default_factory=list)
    levels: list[LevelRow] = field(default_factory=list)
    level_bands: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    ranking: list[Rank] = field(default_factory=list)  # every class, most probable first (edge.ranking)
    scores: list[WindowScore] = field(default_factory=list)  # every window classified (the scores output)
    clicks: list[ClickRecord] = field(default_factory=list)  # every click measured (the clicks output)
    hmd: list[Minute] = field(default_factory=list)  # HMD minutes (the hmd output), kept beside the part
    hmd_rate: int = 0  # the rate they were computed at: the recording's own
    # set by light(): the records are in the recording's part, not here
    n_detections: int | None = None
    label_counts: dict[str, int] | None = None

    @property
    def detection_count(self) -> int:
        return len(self.detections) if self.n_detections is None else self.n_detections

    def per_label(self) -> dict[str, int]:
        if self.label_counts is not None:
            return self.label_counts
        counts: dict[str, int] = {}
        for d in self.detections:
            counts[d.label] = counts.get(d.label, 0) + 1
        return counts

    def light(self) -> FileOutcome:
        """This outcome without its records (kept in its committed part): a run holds one
        recording's records at a time, however many recordings and records it has."""
        if self.n_detections is not None:
            return self
        return replace(
            self,
            detections=[],
            levels=[],
            scores=[],
            clicks=[],
            hmd=[],
            n_detections=len(self.detections),
            label_counts=self.per_label(),
        )


@dataclass
class RunReport:
    outdir: Path
    files: list[FileOutcome]  # light (FileOutcome.light): records are read back by full()
    wall_s: float
    processing_s: float
    skipped: list[str] = field(default_factory=list)  # what the search of the inputs could not take
    parts: _Parts | None = None

    def full(self, f: FileOutcome) -> FileOutcome:
        """``f`` with its detections and level rows, read back from its committed part."""
        if f.n_detections is None or f.status != "ok" or self.parts is None:
            return f
        part = self.parts.part(Path(f.file))
        if part is None:
            raise PamedgeError(f"{self.outdir}: the committed part of {f.file} is missing")
        return _outcome_from_part(part)

    @property
    def failed(self) -> list[FileOutcome]:
        return [f for f in self.files if f.status != "ok"]

    @property
    def audio_s(self) -> float:
        return sum(f.audio_s for f in self.files if f.status == "ok")

    def per_label(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for f in self.files:
            for label, n in f.per_label().items():
                counts[label] = counts.get(label, 0) + n
        return dict(sorted(counts.items()))

    @property
    def realtime_factor(self) -> float:
        return self.audio_s / self.processing_s if self.processing_s > 0 else float("nan")


def _identity(path: Path) -> dict[str, Any]:
    st = path.stat()
    return {"path": os.path.abspath(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _raven_names(paths: list[Path]) -> dict[Path, str]:
    """One selection-table name per recording (edge.outputs.unique_stems)."""
    names = {p: f"{stem}.selections.txt" for p, stem in unique_stems(paths).items()}
    # a recording called all.wav must not take the run-level table's name
    return {
        p: name if name != RAVEN_RUN_TABLE else f"all_{stable_hash(os.path.abspath(p))[:8]}.selections.txt"
        for p, name in names.items()
    }


class _Parts:
    """Committed per-recording results under ``OUTDIR/.parts``."""

    def __init__(self, outdir: Path) -> None:
        self.dir = outdir / ".parts"
        self.dir.mkdir(parents=True, exist_ok=True)

    def _key(self, path: Path) -> str:
        return hashlib.sha1(os.path.abspath(path).encode()).hexdigest()[:16]

    def part(self, path: Path) -> dict[str, Any] | None:
        """The committed outcome of ``path`` (its records), without its noise state."""
        try:
            part: dict[str, Any] = json.loads((self.dir / f"{self._key(path)}.json").read_text())
        except (OSError, ValueError):
            return None
        return part

    def load(self, path: Path) -> tuple[dict[str, Any], list[np.ndarray] | None] | None:
        part = self.part(path)
        if part is None:
            return None
        state = None
        npz = self.dir / f"{self._key(path)}.npz"
        if npz.exists():
            with np.load(npz) as data:
                state = [data[k] for k in sorted(data.files, key=lambda k: int(k[1:]))]
        return part, state

    def _savez(self, name: str, arrays: dict[str, Any]) -> None:
        """``arrays`` into ``.parts/name`` whole or not at all."""
        tmp = self.dir / f".{name}.tmp"
        try:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.dir / name)
        except BaseException:  # a full card: no temporary left behind
            tmp.unlink(missing_ok=True)
            raise

    def save(self, path: Path, part: dict[str, Any], state: list[np.ndarray] | None) -> None:
        key = self._key(path)
        npz = self.dir / f"{key}.npz"
        if state:
            self._savez(npz.name, {f"s{i}": s for i, s in enumerate(state)})
        elif npz.exists():
            npz.unlink()
        write_atomic(self.dir / f"{key}.json", json.dumps(part, sort_keys=True))  # the commit point

    def save_hmd(self, path: Path, rate: int, minutes: list[Minute]) -> None:
        """The HMD minutes of ``path``, written before its part (whose commit makes them count)."""
        self._savez(
            f"{self._key(path)}.hmd.npz",
            {
                "rate": np.int64(rate),
                "start": np.array([m.start_utc.timestamp() for m in minutes], np.float64),
                "effort": np.array([m.effort_s for m in minutes], np.float64),
                "psd": np.array([m.psd for m in minutes], np.float64) if minutes else np.zeros((0, 0)),
            },
        )

    def hmd_days(self, path: Path) -> list[dt.date]:
        """The UTC days ``path``'s committed minutes fall on (their start times alone are read)."""
        npz = self.dir / f"{self._key(path)}.hmd.npz"
        if not npz.exists():
            return []
        with np.load(npz) as data:
            return sorted({dt.datetime.fromtimestamp(t, dt.timezone.utc).date() for t in data["start"].tolist()})

    def load_hmd(self, path: Path) -> tuple[int, list[Minute]]:
        """The HMD minutes committed for ``path`` (none when it has none)."""
        npz = self.dir / f"{self._key(path)}.hmd.npz"
        if not npz.exists():
            return 0, []
        with np.load(npz) as data:
            starts = [dt.datetime.fromtimestamp(t, dt.timezone.utc) for t in data["start"].tolist()]
            return int(data["rate"]), [Minute(t, float(e), p) for t, e, p in zip(starts, data["effort"], data["psd"])]


def _probe_all(paths: list[Path], config: DeploymentConfig) -> dict[Path, AudioInfo | None]:
    """Each recording's header (None where unreadable), read once per run."""
    infos: dict[Path, AudioInfo | None] = {}
    timezone = config.tz()
    for p in paths:
        try:
            infos[p] = probe(p, allow_truncated=True, timezone=timezone)
        except PamedgeError:
            infos[p] = None
    return infos


def _level_header(infos: dict[Path, AudioInfo | None], config: DeploymentConfig) -> list[str]:
    """Union of decidecade band columns over every readable recording, low to high."""
    bands: dict[str, float] = {}
    for info in filter(None, infos.values()):
        try:
            db = DecidecadeBands.for_spec(config.spec_for(info.sample_rate), config.levels.fmin)
        except (PamedgeError, ValueError):
            continue
        bands.update(zip(db.names, db.centres.tolist()))
    return list(LEVEL_COLUMNS) + sorted(bands, key=lambda name: bands[name])


def _outcome_from_part(part: dict[str, Any]) -> FileOutcome:
    return FileOutcome(
        part["file"],
        part["status"],
        part["reason"],
        part["audio_s"],
        part["roi_count"],
        [Detection(**d) for d in part["detections"]],
        [LevelRow(**{**r, "bands_db": tuple(r["bands_db"])}) for r in part["levels"]],
        part["level_bands"],
        part["details"],
        [Rank(**r) for r in part.get("ranking", [])],
        [WindowScore(**s) for s in part.get("scores", [])],
        [ClickRecord(**c) for c in part.get("clicks", [])],
    )


@dataclass
class RunContext:
    """A run in progress: what :func:`start_run` found and prepared, shared by the local
    loop (:func:`detect`) and the cluster engine."""

    outdir: Path
    config: DeploymentConfig
    options: RunOptions
    paths: list[Path]
    infos: dict[Path, AudioInfo | None]  # headers as probed at the start (None: unreadable)
    parts: _Parts
    raven_names: dict[Path, str]
    level_header: list[str]
    table_hash: str
    run_key: dict[str, Any]
    started: float
    started_utc: str
    skipped: list[str]


def start_run(
    inputs: Sequence[str | Path],
    outdir: str | Path,
    config: DeploymentConfig,
    options: RunOptions,
    on_start: Callable[[float], None] | None = None,
) -> RunContext:
    """Discover the recordings, read their headers once and prepare ``outdir``;
    ``on_start(audio_s)`` gets the run's total audio (a progress bar's length).  Raises
    :class:`PamedgeError` when there is nothing to do."""
    started = time.time()
    started_utc = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    outdir = Path(outdir)
    if "tethys" in options.outputs:
        tethys_species(config, options.classifier)  # refused now, not after hours of processing
    if "parquet" in options.outputs and not have_pyarrow():
        raise PamedgeError(
            f"--outputs parquet writes scores.parquet with pyarrow, which is not installed: {PARQUET_HINT}"
        )
    skipped: list[str] = []
    paths = discover(list(inputs), skipped)
    if not paths:
        why = f" ({len(skipped)} skipped, the first: {skipped[0]})" if skipped else ""
        raise PamedgeError(f"no recordings ({AUDIO_KINDS}) found in {', '.join(map(str, inputs))}{why}")
    _clear_earlier_run(outdir, options)
    outdir.mkdir(parents=True, exist_ok=True)
    table_hash = file_sha256(Path(options.table.path)) if options.table is not None else ""
    run_key: dict[str, Any] = {
        "config_hash": config.hash,
        "table_sha256": table_hash,
        "channel": options.channel,
        "allow_truncated": options.allow_truncated,
        "part_version": PART_VERSION,
    }
    if "hmd" in options.outputs:  # a part committed without its HMD minutes is not this run's
        run_key["hmd"] = asdict(config.soundscape or SoundscapeSettings())
    if options.classifier is not None:  # the same settings with another bundle file are another run
        run_key["model"] = options.classifier.identity
    infos = _probe_all(paths, config)
    if on_start:
        on_start(sum(i.duration_s for i in infos.values() if i is not None))
    return RunContext(
        outdir,
        config,
        options,
        paths,
        infos,
        _Parts(outdir),
        _raven_names(paths),
        _level_header(infos, config),
        table_hash,
        run_key,
        started,
        started_utc,
        skipped,
    )


def _clear_earlier_run(outdir: Path, options: RunOptions) -> None:
    if options.resume:
        return
    earlier = [name for name in RUN_OUTPUTS if (outdir / name).exists() or (outdir / name).is_symlink()]
    if not earlier:
        return
    if not options.overwrite:
        raise PamedgeError(
            f"{outdir}: holds an earlier run ({', '.join(earlier)}): --resume continues it, "
            "--overwrite replaces it, or give another folder"
        )
    for name in earlier:
        path = outdir / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def committed(ctx: RunContext, path: Path) -> tuple[FileOutcome, list[np.ndarray] | None] | None:
    """The outcome and noise state of ``path`` committed by an earlier run with the same
    settings (``--resume``), or None."""
    loaded = ctx.parts.load(path)
    if (
        loaded
        and loaded[0].get("run_key") == ctx.run_key
        and loaded[0].get("source") == _identity(path)
        and loaded[0]["status"] == "ok"
    ):
        part, state = loaded
        return _outcome_from_part(part), state
    return None


def commit(ctx: RunContext, path: Path, outcome: FileOutcome, state: list[np.ndarray] | None) -> None:
    """Make one recording's results durable: its Raven table, then its part."""
    try:
        if outcome.status == "ok" and "raven" in ctx.options.outputs:
            write_atomic(ctx.outdir / "raven" / ctx.raven_names[path], raven_table(outcome.detections))
        if outcome.status == "ok" and "audacity" in ctx.options.outputs:
            stem = ctx.raven_names[path].removesuffix(".selections.txt")
            write_atomic(ctx.outdir / "audacity" / f"{stem}.txt", audacity_labels(outcome.detections))
        if outcome.status == "ok" and "hmd" in ctx.options.outputs:
            ctx.parts.save_hmd(path, outcome.hmd_rate, outcome.hmd)
        ctx.parts.save(path, _part_dict(outcome, ctx.run_key, path), state)
    except OSError as exc:  # a full or read-only card: stop here, keep what is committed
        raise PamedgeError(
            f"{ctx.outdir}: the results of {path} could not be written ({exc.strerror or exc}); the "
            "recordings before it are kept in .parts: make room, then run again with --resume"
        ) from None


def finish(ctx: RunContext, outcomes: list[FileOutcome], processing_s: float) -> RunReport:
    """Assemble ``detections.csv``, ``detections.sqlite`` (the detection log), ``levels.csv``
    and ``run.json`` from ``outcomes`` (in input order)."""
    report = RunReport(ctx.outdir, outcomes, time.time() - ctx.started, processing_s, ctx.skipped, ctx.parts)
    staged = StagedFiles(ctx.outdir)
    try:
        _assemble(
            report,
            ctx.level_header,
            staged,
            ctx.options.written(ctx.config),
            ctx.options.ranked(ctx.config),
            score_classes(ctx.options.classifier),
        )
        days = _soundscape(report, ctx, staged) if "hmd" in ctx.options.outputs else None
        if "tethys" in ctx.options.outputs:
            _tethys(report, ctx, staged)
        staged.text("run.json", _run_json(report, ctx, days))
        staged.commit()
    except (OSError, MemoryError) as exc:
        staged.discard()
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
        raise PamedgeError(
            f"{ctx.outdir}: the run's outputs could not be written ({why}); none was replaced, and every "
            "recording's results are kept in .parts: make room, then run again with --resume"
        ) from None
    return report


def detect(
    inputs: Sequence[str | Path],
    outdir: str | Path,
    config: DeploymentConfig,
    options: RunOptions = RunOptions(),
    *,
    on_start: Callable[[float], None] | None = None,
    on_file: Callable[[FileOutcome, float], None] | None = None,
) -> RunReport:
    """Process every recording named by ``inputs`` into ``outdir``; with
    ``options.classifier`` the ROIs are classified (:func:`edge.pipeline.process_recording`).

    ``on_start(audio_s)`` is called once with the total audio, ``on_file(outcome, audio_s)``
    after each recording (progress, warnings).
    Raises :class:`PamedgeError` only for problems with the whole run (no inputs, an
    unwritable ``outdir``); a bad recording is reported in its outcome.
    """
    config = stamped_config(config, options.classifier)
    ctx = start_run(inputs, outdir, config, options, on_start)
    outcomes: list[FileOutcome] = []
    processing_s = 0.0
    prev_state: list[np.ndarray] | None = None
    prev_info: AudioInfo | None = None  # of the previous recording, when it was processed
    for path in ctx.paths:
        done = committed(ctx, path) if options.resume else None
        if done:
            outcome, state = done
        else:
            t0 = time.perf_counter()
            info = ctx.infos[path]
            carry = info is not None and contiguous(prev_info, info)
            outcome, state = _process_one(path, config, options, prev_state if carry else None)
            processing_s += time.perf_counter() - t0
            commit(ctx, path, outcome, state)
        outcomes.append(outcome.light())
        ok = outcome.status == "ok"
        prev_state = state if ok else None
        prev_info = ctx.infos[path] if ok else None
        if on_file:
            on_file(outcome, outcome.details.get("duration_s", outcome.audio_s))
    return finish(ctx, outcomes, processing_s)


def contiguous(prev: AudioInfo | None, info: AudioInfo) -> bool:
    """True when ``info`` starts where ``prev`` ended (within :data:`edge.timestamps.CONTIGUOUS_S`)
    at the same sample rate: the noise floor carries from one to the other."""
    if prev is None or prev.start_utc is None or info.start_utc is None or info.sample_rate != prev.sample_rate:
        return False
    prev_end = prev.start_utc + dt.timedelta(seconds=prev.duration_s)
    return abs((info.start_utc - prev_end).total_seconds()) <= CONTIGUOUS_S


def _process_one(
    path: Path, config: DeploymentConfig, options: RunOptions, noise_state: list[np.ndarray] | None
) -> tuple[FileOutcome, list[np.ndarray] | None]:
    try:
        res = process_recording(
            path,
            config,
            options.table,
            channel=options.channel,
            block_s=options.block_s,
            allow_truncated=options.allow_truncated,
            noise_state=noise_state,
            display_name=str(path),
            classifier=options.classifier,
            keep_scores="scores" in options.outputs,
            keep_clicks="clicks" in options.outputs,
        )
    except Exception as exc:  # only the kinds failed_outcome accepts are caught
        return failed_outcome(path, exc), None
    channel = config.channel if options.channel is None else options.channel
    hmd: list[Minute] = []
    if "hmd" in options.outputs:
        try:
            hmd = soundscape_minutes(res.info, res.calibration, channel, config)
        except ValueError as exc:  # no UTC start: its detections stand, its levels cannot be per UTC minute
            res.warnings.append(str(exc))
        except Exception as exc:
            return failed_outcome(path, exc), None
    outcome = ok_outcome(
        path,
        res.info,
        res.calibration,
        res.warnings,
        channel,
        config,
        len(res.rois),
        res.detections,
        res.levels,
        res.level_bands,
        carried=noise_state is not None,
        quality=res.quality,
        ranking=res.ranking,
        scores=res.scores,
        clicks=res.clicks,
    )
    return replace(outcome, hmd=hmd, hmd_rate=res.info.sample_rate), res.noise_state


def failed_outcome(path: Path, exc: Exception) -> FileOutcome:
    """The outcome of a recording that could not be processed, its reason on one line
    naming the file; re-raises what is not a per-recording failure."""
    if isinstance(exc, MemoryError):
        return FileOutcome(str(path), "failed", f"{path}: out of memory")
    if not isinstance(exc, (PamedgeError, ValueError, OSError)):
        raise exc
    return FileOutcome(str(path), "failed", _one_line(exc, path))


def ok_outcome(
    path: Path,
    info: AudioInfo,
    calibration: Calibration,
    warnings: list[str],
    channel: int,
    config: DeploymentConfig,
    roi_count: int,
    detections: list[Detection],
    levels: list[LevelRow],
    level_bands: Sequence[str],
    *,
    carried: bool,
    quality: SignalQuality | None = None,
    ranking: list[Rank] | None = None,
    scores: list[WindowScore] | None = None,
    clicks: list[ClickRecord] | None = None,
) -> FileOutcome:
    """The outcome of a recording processed whole; ``carried`` says the noise floor came
    from the previous recording, ``quality`` counts its unusable frames."""
    rate = analysis_rate(config, info)
    hop_s = config.spec_for(rate).hop_s
    quality = quality or SignalQuality()
    details = {
        "sample_rate": info.sample_rate,
        "analysis_rate": rate,
        "resampled_by": resample.describe() if rate != info.sample_rate else "",
        "channels": info.channels,
        "channel": channel,
        "subtype": info.subtype,
        "duration_s": info.duration_s,
        "start_utc": info.start_utc.isoformat() if info.start_utc else "",
        "time_source": info.time_source or "",
        "serial": info.serial or "",
        "calibration": {**calibration.as_dict(), "hash": calibration.hash},
        "frontend_hash": config.spec_for(rate).hash,
        "warnings": warnings,
        "noise_floor_carried": carried,
        "silent_s": round(quality.silent_frames * hop_s, 3),  # digital silence (edge.quality)
        "nonfinite_s": round(quality.nonfinite_frames * hop_s, 3),  # frames with NaN or inf samples
        "clipped_samples": quality.clipped_samples,  # at full scale, the recording's own rate (edge.quality)
    }
    return FileOutcome(
        str(path),
        "ok",
        "",
        info.duration_s,
        roi_count,
        detections,
        levels,
        list(level_bands),
        details,
        ranking or [],
        scores or [],
        clicks or [],
    )


def _one_line(exc: Exception, path: Path) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if str(path) in text else f"{path}: {text}"


def _part_dict(outcome: FileOutcome, run_key: dict[str, Any], path: Path) -> dict[str, Any]:
    data = asdict(replace(outcome, hmd=[]))  # the minutes are in their own file (_Parts.save_hmd)
    data.pop("hmd")
    data["run_key"] = run_key
    data["source"] = _identity(path)
    return data


def score_classes(classifier: Classifier | None) -> list[str]:
    """The class columns of ``scores.csv``: every output's classes, in order, once."""
    if classifier is None:
        return []
    return list(dict.fromkeys(c for o in classifier.bundle.outputs for c in o.classes))


def _assemble(
    report: RunReport,
    level_header: list[str],
    staged: StagedFiles,
    outputs: frozenset[str],
    top_k: int = 0,
    classes: Sequence[str] = (),
) -> None:
    """The run's tables (``detections.csv``, ``levels.csv``, ``raven/all.selections.txt``,
    ``ranking.csv`` with ``top_k`` classes per recording) and
    detection log, those of ``outputs``, streamed one recording's part at a time into ``staged``
    (memory holds one recording's records, however many)."""
    files: list[Any] = []
    writers: dict[str, Any] = {}

    def table(kind: str, name: str, header: Sequence[str], delimiter: str = ",") -> None:
        if kind in outputs:
            fh = open(staged.path(name), "w", encoding="utf-8", newline="")
            files.append(fh)
            writers[kind] = csv.writer(fh, delimiter=delimiter, lineterminator="\n")
            writers[kind].writerow(header)

    try:
        if "raven" in outputs:
            (report.outdir / "raven").mkdir(exist_ok=True)
        table("csv", "detections.csv", DETECTION_COLUMNS)
        table("levels", "levels.csv", level_header)
        table("raven", f"raven/{RAVEN_RUN_TABLE}", RAVEN_RUN_COLUMNS, "\t")
        table("ranking", "ranking.csv", RANKING_COLUMNS)
        table("scores", "scores.csv", [*SCORE_COLUMNS, *classes])
        table("clicks", "clicks.csv", CLICK_COLUMNS)
        parquet = ScoresParquet(staged.path("scores.parquet"), classes) if "parquet" in outputs else None

        def batches() -> Iterator[list[Detection]]:
            offset_s, selections = 0.0, 0
            for light in report.files:
                f = report.full(light)
                if "csv" in writers:
                    writers["csv"].writerows(detection_row(d) for d in f.detections)
                if "scores" in writers:
                    writers["scores"].writerows(score_row(s, classes) for s in f.scores)
                if "clicks" in writers:
                    writers["clicks"].writerows(click_row(c) for c in f.clicks)
                if parquet is not None:
                    parquet.write(f.scores)
                if "ranking" in writers and f.ranking:
                    writers["ranking"].writerows(ranking_rows(f.file, f.details.get("channel", 0), f.ranking, top_k))
                if "raven" in writers and f.status == "ok":  # recordings end to end, as Raven opens a file list
                    path = os.path.abspath(f.file)
                    writers["raven"].writerows(
                        raven_rows(f.detections, first=selections + 1, offset_s=offset_s, path=path)
                    )
                    selections += len(f.detections)
                    offset_s += f.details.get("duration_s", f.audio_s)
                if "levels" in writers:
                    index = {name: i for i, name in enumerate(f.level_bands)}
                    for row in f.levels:
                        cells = level_row(row)
                        base, bands = cells[: len(LEVEL_COLUMNS)], cells[len(LEVEL_COLUMNS) :]
                        writers["levels"].writerow(
                            base + [bands[index[c]] if c in index else "" for c in level_header[len(LEVEL_COLUMNS) :]]
                        )
                yield f.detections

        if "sqlite" in outputs:
            log = report.outdir / "detections.sqlite"
            build_log(staged.path(log.name), batches(), log)
        else:
            for _ in batches():
                pass
        if parquet is not None:
            parquet.close()
        for fh in files:
            fh.flush()
            os.fsync(fh.fileno())
    finally:
        for fh in files:
            fh.close()


def soundscape_minutes(
    info: AudioInfo,
    calibration: Calibration,
    channel: int,
    config: DeploymentConfig,
    owned: tuple[float, float] | None = None,
) -> list[Minute]:
    """The HMD minutes of a recording (of a chunk of it with ``owned``), at its own rate."""
    settings = config.soundscape or SoundscapeSettings()
    return recording_minutes(info, calibration, channel=channel, fmax=settings.fmax, owned=owned)[1]


def _soundscape(report: RunReport, ctx: RunContext, staged: StagedFiles) -> dict[str, Any]:
    """``soundscape/``: the daily HMD, decidecade and percentile tables (and NetCDF with the
    soundscape extra) from the committed minutes, one day in memory at a time."""
    by_day: dict[dt.date, list[Callable[[], tuple[int, list[Minute]]]]] = {}
    for f in report.files:
        if f.status == "ok":
            path = Path(f.file)
            for held in ctx.parts.hmd_days(path):
                by_day.setdefault(held, []).append(functools.partial(ctx.parts.load_hmd, path))
    if by_day:
        (report.outdir / "soundscape").mkdir(exist_ok=True)
    ok = [f for f in report.files if f.status == "ok"]
    calibration = ", ".join(sorted({f.details.get("calibration", {}).get("hash", "") for f in ok} - {""}))
    return write_days(
        by_day,
        ctx.config.soundscape or SoundscapeSettings(),
        lambda name, text: staged.text(f"soundscape/{name}", text),
        lambda name: staged.path(f"soundscape/{name}"),
        lambda day: netcdf_attrs(
            day, deployment=ctx.config.name, site=ctx.config.site, calibration=calibration, version=__version__
        ),
    )


def tethys_species(config: DeploymentConfig, classifier: Classifier | None) -> dict[str, Species]:
    """The species a run's Tethys documents name; raises :class:`PamedgeError` when the run
    cannot write them (no site: section, no model, a card without species:)."""
    if config.site is None:
        raise TethysError(
            f"--outputs tethys: deployment {config.name!r} has no site: section (latitude, longitude, depth_m, "
            "instrument, recorder_serial): Tethys documents need where the recordings were made"
        )
    if classifier is None:
        raise TethysError("--outputs tethys: no model runs, and Tethys detections name species (ITIS numbers)")
    species = classifier.bundle.species
    if not species:
        raise TethysError(
            f"--outputs tethys: model {classifier.identity} has no species: mapping (label -> ITIS number) in "
            f"{classifier.bundle.path / 'card.yaml'}"
        )
    return species


_BITS = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}


def _tethys(report: RunReport, ctx: RunContext, staged: StagedFiles) -> None:
    """``tethys/``: the Deployment document and a Detections document per stretch of
    continuous recording (effort), as Tethys takes them."""
    classifier = ctx.options.classifier
    assert classifier is not None  # tethys_species refused the run otherwise
    species = tethys_species(ctx.config, classifier)
    recordings, detections = [], []
    for f in report.files:
        d = f.details
        start = parse_utc(d.get("start_utc")) if f.status == "ok" else None
        if start is None:
            continue
        recordings.append(
            TethysRecording(
                f.file,
                start,
                float(d["duration_s"]),
                int(d["sample_rate"]),
                _BITS.get(d.get("subtype", ""), 0),
                int(d.get("channel", 0)),
                float((d.get("calibration") or {}).get("gain_db", 0.0)),
            )
        )
        if f.detection_count:
            detections += report.full(f).detections
    (report.outdir / "tethys").mkdir(exist_ok=True)
    name = ctx.config.name
    staged.text(f"tethys/{name}_deployment.xml", to_text(deployment_document(name, ctx.config.site, recordings)))
    docs = detections_documents(
        name,
        effort_periods(recordings),
        detections,
        species,
        model=classifier.identity,
        version=__version__,
        thresholds=classifier.thresholds,
    )
    for k, doc in enumerate(docs, start=1):
        staged.text(f"tethys/{name}_detections_{k}.xml", to_text(doc))


def _versions() -> dict[str, str]:
    import scipy
    import soundfile

    return {
        "pamedge": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "soundfile": soundfile.__version__,
        "libsndfile": soundfile.__libsndfile_version__,
        "resampler": resample.describe(),
        "platform": platform.platform(),
        "machine": platform.machine(),
    }


def _run_json(report: RunReport, ctx: RunContext, soundscape: dict[str, Any] | None = None) -> str:
    config, table, classifier = ctx.config, ctx.options.table, ctx.options.classifier
    top_k = ctx.options.ranked(config)
    names = {str(p): ctx.raven_names[p] for p in ctx.paths}
    files = []
    for f in report.files:
        entry = {
            "file": f.file,
            "status": f.status,
            "reason": f.reason,
            "audio_s": round(f.audio_s, 3),
            "roi_count": f.roi_count,
            "detections": f.detection_count,
            **f.details,
        }
        if f.status == "ok" and "raven" in ctx.options.outputs:
            entry["raven"] = f"raven/{names[f.file]}"
        if top_k and f.ranking:
            entry["ranking"] = [asdict(r) for r in f.ranking[:top_k]]
        files.append(entry)
    doc = {
        "tool": "edge-detect",
        "command": list(ctx.options.command or sys.argv),
        "versions": _versions(),
        "started_utc": ctx.started_utc,
        "finished_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "config": {"source": config.source, "hash": config.hash, "settings": config.as_dict()},
        "calibration_table": {"path": table.path if table else "", "sha256": ctx.table_hash},
        "model": classifier.describe() if classifier is not None else None,
        "files": files,
        "outputs": sorted(ctx.options.written(config)),
        "top_k": top_k or None,
        **({"soundscape": soundscape} if soundscape is not None else {}),
        "skipped": report.skipped,
        "totals": {
            "files": len(report.files),
            "ok": len(report.files) - len(report.failed),
            "failed": len(report.failed),
            "audio_s": round(report.audio_s, 3),
            "detections": sum(f.detection_count for f in report.files),
            "detections_per_label": report.per_label(),
            "wall_s": round(report.wall_s, 3),
            "processing_s": round(report.processing_s, 3),
            "realtime_factor": round(report.realtime_factor, 1) if report.processing_s else None,
        },
    }
    return json.dumps(doc, indent=2, default=str) + "\n"

"""Batch detection over many recordings: the engine behind ``edge-detect``.

Each recording is a unit of work whose result is committed to ``OUTDIR/.parts/`` (a JSON
written atomically, plus the ROI detector's noise history) before the next starts.  The
analyst-facing outputs are assembled from the parts at the end, in input order, so a run
killed at any instant and resumed with ``resume=True`` ends with the same bytes as an
uninterrupted run, and a failed recording never stops the others.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from edge import resample
from edge._hashing import file_sha256, stable_hash
from edge.assemble import run_json, score_classes, tethys_species, write_soundscape, write_tables, write_tethys
from edge.audio import AUDIO_KINDS, discover, probe
from edge.calibration import Calibration, HydrophoneTable
from edge.classify import Classifier
from edge.config import DeploymentConfig
from edge.errors import PamedgeError
from edge.levels import DecidecadeBands
from edge.outputs import (
    LEVEL_COLUMNS,
    PARQUET_HINT,
    RAVEN_RUN_TABLE,
    StagedFiles,
    audacity_labels,
    have_pyarrow,
    raven_table,
    unique_stems,
    write_atomic,
)
from edge.parts import PART_VERSION, Parts, source_identity
from edge.pipeline import Prepared, analysis_rate, prepare, process_recording, stamped_config
from edge.quality import SignalQuality
from edge.site import SiteConflict, harp_site
from edge.soundscape.settings import SoundscapeSettings
from edge.soundscape.types import Minute
from edge.soundscape.welch import recording_minutes
from edge.tethys.documents import TethysError
from edge.timestamps import CONTIGUOUS_S
from edge.types import AudioInfo, ClickRecord, Detection, LevelRow, Rank, WindowScore

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
# also writes by default when the deployment has a soundscape: section (and clicks.csv when a
# detector-only deployment has a clicks: section)
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
    parts: Parts | None = None
    notes: list[str] = field(default_factory=list)  # the run's own warnings (not of one recording)

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


def _raven_names(paths: list[Path]) -> dict[Path, str]:
    """One selection-table name per recording (edge.outputs.unique_stems)."""
    names = {p: f"{stem}.selections.txt" for p, stem in unique_stems(paths).items()}
    # a recording called all.wav must not take the run-level table's name
    return {
        p: name if name != RAVEN_RUN_TABLE else f"all_{stable_hash(os.path.abspath(p))[:8]}.selections.txt"
        for p, name in names.items()
    }


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
    parts: Parts
    raven_names: dict[Path, str]
    level_header: list[str]
    table_hash: str
    run_key: dict[str, Any]
    started: float
    started_utc: str
    skipped: list[str]
    notes: list[str] = field(default_factory=list)  # the run's own warnings, said after it


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
    if "parquet" in options.outputs and not have_pyarrow():
        raise PamedgeError(
            f"--outputs parquet writes scores.parquet with pyarrow, which is not installed: {PARQUET_HINT}"
        )
    skipped: list[str] = []
    paths = discover(list(inputs), skipped)
    if not paths:
        why = f" ({len(skipped)} skipped, the first: {skipped[0]})" if skipped else ""
        raise PamedgeError(f"no recordings ({AUDIO_KINDS}) found in {', '.join(map(str, inputs))}{why}")
    notes: list[str] = []
    config = _site_of_recordings(config, paths, options, notes)
    if "tethys" in options.outputs:  # refused now, not after hours of processing
        tethys_species(config, options.classifier)
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
        Parts(outdir),
        _raven_names(paths),
        _level_header(infos, config),
        table_hash,
        run_key,
        started,
        started_utc,
        skipped,
        notes,
    )


def _site_of_recordings(
    config: DeploymentConfig, paths: list[Path], options: RunOptions, notes: list[str]
) -> DeploymentConfig:
    """The deployment with the site its XWAVs' headers name, when it has no ``site:`` section
    and an output carries the site (Tethys documents, the soundscape NetCDF); only Tethys
    documents, one place each, need one and refuse recordings of two sites (the soundscape
    files are then written without a position, and ``notes`` says so)."""
    if config.site is not None or not {"tethys", "hmd"} & options.outputs:
        return config
    try:
        site = harp_site(paths)
    except SiteConflict as exc:
        if "tethys" in options.outputs:
            raise TethysError(f"--outputs tethys: {exc}") from None
        notes.append(f"the soundscape files carry no position: {exc}")
        return config
    return config if site is None else replace(config, site=site)


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
        and loaded[0].get("source") == source_identity(path)
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
    report = RunReport(ctx.outdir, outcomes, time.time() - ctx.started, processing_s, ctx.skipped, ctx.parts, ctx.notes)
    staged = StagedFiles(ctx.outdir)
    try:
        write_tables(
            report,
            ctx.level_header,
            staged,
            ctx.options.written(ctx.config),
            ctx.options.ranked(ctx.config),
            score_classes(ctx.options.classifier),
        )
        days = write_soundscape(report, ctx, staged) if "hmd" in ctx.options.outputs else None
        if "tethys" in ctx.options.outputs:
            write_tethys(report, ctx, staged)
        staged.text("run.json", run_json(report, ctx, days))
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
    prev_end = prev.end_utc
    return prev_end is not None and abs((info.start_utc - prev_end).total_seconds()) <= CONTIGUOUS_S


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
            hmd = soundscape_minutes(res.info, res.calibration, channel, config, encoder_top_hz=res.encoder_top_hz)
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
        encoder_top_hz=res.encoder_top_hz,
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
    encoder_top_hz: float | None = None,
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
        "encoder_top_hz": encoder_top_hz,  # a lossy encoder kept nothing above (edge.codec); None: all of it
        "channels": info.channels,
        "channel": channel,
        "subtype": info.subtype,
        "duration_s": info.duration_s,
        "start_utc": info.start_utc.isoformat() if info.start_utc else "",
        # a duty-cycled recording's periods: [seconds into the file, UTC start] each (an XWAV's gaps)
        **({"periods": [[begins, utc.isoformat()] for begins, utc in info.periods]} if info.periods else {}),
        "time_source": info.time_source or "",
        "serial": info.serial or "",
        "calibration": {**calibration.as_dict(), "hash": calibration.hash},
        "frontend_hash": config.spec_for(rate).hash,
        "warnings": warnings,
        "noise_floor_carried": carried,
        "silent_s": round(quality.silent_frames * hop_s, 3),  # digital silence (edge.quality)
        "nonfinite_s": round(quality.nonfinite_frames * hop_s, 3),  # frames with NaN or inf samples
        "clipped_samples": quality.clipped_samples,  # at full scale, the recording's own rate (edge.quality)
        "peak_over_full_scale": quality.peak_over if quality.peak_over > 1.0 else None,  # a float file not at +-1
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
    data = asdict(replace(outcome, hmd=[]))  # the minutes are in their own file (Parts.save_hmd)
    data.pop("hmd")
    data["run_key"] = run_key
    data["source"] = source_identity(path)
    return data


def soundscape_minutes(
    info: AudioInfo,
    calibration: Calibration,
    channel: int,
    config: DeploymentConfig,
    owned: tuple[float, float] | None = None,
    *,
    encoder_top_hz: float | None,
) -> list[Minute]:
    """The HMD minutes of a recording (of a chunk of it with ``owned``), at its own rate; a lossy
    recording's bands end at ``encoder_top_hz``, the top of its encoder's band as ``prepare``
    measured it (edge.codec: above it, the decoder's zeros and the bits it spends now and then are
    not the sea's levels; NaN in the day's products)."""
    settings = config.soundscape or SoundscapeSettings()
    fmax = settings.fmax
    if encoder_top_hz is not None:
        fmax = encoder_top_hz if fmax is None else min(fmax, encoder_top_hz)
    return recording_minutes(info, calibration, channel=channel, fmax=fmax, owned=owned)[1]

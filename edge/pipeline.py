"""One recording through the chain: blocks -> frontend -> candidate stages -> classifier,
with noise levels beside (:class:`Chain`), and the records it makes.

The one streaming loop of the runtime: ``edge-detect``, the buoy daemon, cluster units,
training features and ``edge-bench`` all drive :class:`Chain`.  It holds no state between
recordings except what the caller passes in (the ROI detector's noise history).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from edge.audio import LOSSY, Recording, probe
from edge.calibration import Calibration, HydrophoneTable, resolve
from edge.classify import Classifier
from edge.clicks import Click, ImpulseDetector, heard_top
from edge.codec import recording_kept_top
from edge.config import DeploymentConfig
from edge.crops import Label
from edge.crops import span as crop_span
from edge.errors import AudioError
from edge.frontend import FrontendSpec, StreamingFrontend
from edge.levels import Period, StreamingLevels, to_rows
from edge.quality import ClipCounter, SignalQuality, silent_channel
from edge.ranking import WindowRanker
from edge.resample import PASS_BAND, ResampledSource, output_length
from edge.roi import StreamingRoiDetector
from edge.timestamps import ASSUMED_UTC, iso_utc
from edge.types import (
    AudioBlock,
    AudioInfo,
    AudioSource,
    CandidateStage,
    ClickRecord,
    Detection,
    Frontend,
    LevelRow,
    Rank,
    Roi,
    SpectralFrames,
    WindowScore,
)

ROI_LABEL = "roi"
T = TypeVar("T")


@dataclass
class RecordingResult:
    """What one recording produced."""

    info: AudioInfo
    calibration: Calibration
    rois: list[Roi]
    detections: list[Detection]
    levels: list[LevelRow]
    level_bands: tuple[str, ...]
    warnings: list[str] = field(default_factory=list)
    noise_state: list[np.ndarray] = field(default_factory=list)
    quality: SignalQuality = field(default_factory=SignalQuality)
    ranking: list[Rank] = field(default_factory=list)  # every class, most probable first (edge.ranking)
    scores: list[WindowScore] = field(default_factory=list)  # with keep_scores: every window classified
    clicks: list[ClickRecord] = field(default_factory=list)  # with keep_clicks: every click measured
    encoder_top_hz: float | None = None  # a lossy recording's encoder kept nothing above this (edge.codec)

    @property
    def end_utc(self) -> dt.datetime | None:
        return self.info.end_utc


@dataclass(frozen=True)
class Prepared:
    """A recording checked against the deployment, with what processing it needs: ``rate``
    is the analysis rate (the deployment's, else the recording's own), ``spec`` the frontend
    at that rate."""

    info: AudioInfo
    calibration: Calibration
    warnings: list[str]
    spec: FrontendSpec
    channel: int
    block_frames: int  # samples read at once, at the recording's own rate
    rate: int
    kept_top_hz: float | None = None  # a lossy recording's encoder kept nothing above this (edge.codec)

    @property
    def resampled(self) -> bool:
        return self.rate != self.info.sample_rate

    @property
    def held_hz(self) -> float | None:
        """The top of the band the recording holds at the analysis rate, where it holds less than
        the whole band: the resampler's pass band for a recording at a lower rate, the encoder's
        for a lossy one.  Above it the stream holds a filter's residue or a decoder's zeros, whose
        floor is so low that any fluctuation passes a detector's threshold."""
        tops = [self.kept_top_hz] if self.kept_top_hz is not None else []
        if self.info.sample_rate < self.rate:
            tops.append(PASS_BAND * self.info.sample_rate / 2)
        return min(tops) if tops else None

    @property
    def frames(self) -> int:
        """Samples at the analysis rate."""
        return output_length(self.info.frames, self.info.sample_rate, self.rate) if self.resampled else self.info.frames

    def source(self, start: int = 0, observe: Callable[[AudioBlock], None] | None = None) -> AudioSource:
        """Its samples at the analysis rate in blocks, from (analysis-rate) sample ``start``;
        ``observe`` sees the blocks at the recording's own rate, as read."""
        if not self.resampled:
            return Recording(
                self.info, channel=self.channel, block_frames=self.block_frames, start=start, observe=observe
            )
        if not 0 <= start <= self.frames:
            raise ValueError(f"{start=} is outside the recording's {self.frames} samples at {self.rate} Hz")
        whole = Recording(self.info, channel=self.channel, block_frames=self.block_frames, observe=observe)
        return ResampledSource(whole, self.info, self.rate, skip=start)

    def frontend(self, first_frame: int = 0) -> StreamingFrontend:
        return StreamingFrontend(
            self.spec, self.calibration.bin_gain_db(self.spec.bin_freqs()), first_frame=first_frame
        )


def analysis_rate(config: DeploymentConfig, info: AudioInfo) -> int:
    """The rate a recording is analysed at: the deployment's, else the recording's own."""
    return config.sample_rate or info.sample_rate


def prepare(
    path: str | Path,
    config: DeploymentConfig,
    table: HydrophoneTable | None,
    *,
    channel: int | None = None,
    block_s: float | None = None,
    allow_truncated: bool = False,
) -> Prepared:
    """Probe a recording and resolve its calibration; raises :class:`AudioError` when it
    cannot be processed with this deployment."""
    info = probe(path, allow_truncated=allow_truncated, timezone=config.tz())
    rate = analysis_rate(config, info)
    narrow = ""
    bottom = max(config.roi.fmin, config.frontend.fmin)
    if rate == info.sample_rate and rate / 2 <= bottom:  # at its own rate, below the whole band
        raise AudioError(
            f"{info.path}: sample rate {info.sample_rate} Hz cannot be analysed by deployment {config.name!r}: "
            f"its Nyquist frequency {rate / 2:g} Hz is below the deployment's band, which starts at {bottom:g} Hz"
        )
    if rate != info.sample_rate:
        top = config.band_top_hz()
        if info.sample_rate / 2 < top:
            if config.min_sample_rate is None or info.sample_rate < config.min_sample_rate:
                floor = f" (min_sample_rate {config.min_sample_rate} Hz)" if config.min_sample_rate else ""
                raise AudioError(
                    f"{info.path}: sample rate {info.sample_rate} Hz cannot be analysed by deployment "
                    f"{config.name!r} at {rate} Hz: its Nyquist frequency {info.sample_rate / 2:g} Hz is below "
                    f"the deployment's band, which reaches {top:g} Hz{floor}"
                )
            narrow = (
                f"{info.path}: recorded at {info.sample_rate} Hz: nothing above {info.sample_rate / 2:g} Hz, "
                f"where deployment {config.name!r} analyses up to {top:g} Hz"
            )
    calibration, warning = resolve(info.serial, config.calibration, table)
    warnings = [f"{info.path}: {warning}"] if warning else []
    if narrow:
        warnings.append(narrow)
    if info.time_source and ASSUMED_UTC in info.time_source:
        warnings.append(
            f"{info.path}: its start time ({info.time_source.split(' (')[0]}) is the recorder's local clock, "
            "taken as UTC: set timezone: in the deployment (e.g. UTC+2 or Europe/Berlin)"
        )
    period_s = config.levels.period_s
    astride = [b for b, _ in info.periods[1:] if abs(b / period_s - round(b / period_s)) * period_s > 1e-3]
    if astride:  # a duty-cycled recording whose periods do not start on a level period's start
        warnings.append(
            f"{info.path}: a recording period (duty cycle) starts {astride[0]:g} s into the file, not on a "
            f"multiple of levels.period_s ({period_s:g} s): a level period holding that gap mixes audio of both "
            "sides, timed by the first (a period_s that divides the periods' length avoids it)"
        )
    if info.shortfall and info.unfinalised:  # said per file (CLI line, run.json), not only allowed by the flag
        warnings.append(
            f"{info.path}: WAV header never finalised (sizes 0; its recorder stopped before closing the file): "
            f"processed the {info.frames} samples of the {info.shortfall[1]} bytes present"
        )
    elif info.shortfall:
        warnings.append(
            f"{info.path}: truncated WAV: header declares {info.shortfall[0]} bytes of audio, the "
            f"file holds {info.shortfall[1]}; processed the {info.frames} samples present"
        )
    if config.ranking is not None and info.subtype in LOSSY:
        warnings.append(
            f"{info.path}: a lossy recording ({info.subtype}): the encoder's noise in quiet bands can move "
            "its ranked answer (docs/explanation/limits.md)"
        )
    spec = config.spec_for(rate)
    if info.frames * rate / info.sample_rate < spec.nfft:  # the frontend gives no frame: said, not silent
        warnings.append(
            f"{info.path}: {info.frames} samples ({info.frames / info.sample_rate:.4f} s) is shorter than one "
            f"analysis frame ({spec.nfft} samples at {rate} Hz, {spec.nfft / rate:.4f} s): nothing analysed"
        )
    channel = config.channel if channel is None else channel
    block_frames = max(1, round((block_s or config.block_s) * info.sample_rate))
    prepared = Prepared(info, calibration, warnings, spec, channel, block_frames, rate)
    prepared.source()  # checks the channel (and, when resampling, that soxr is installed)
    hint = silent_channel(info, channel)
    if hint:
        warnings.append(hint)
    kept = recording_kept_top(info, channel)
    if kept is None:
        return prepared
    sought = max(config.roi.fmax or rate / 2, config.clicks.top_hz(rate) if config.clicks is not None else 0.0)
    if kept < min(sought, rate / 2):
        warnings.append(
            f"{info.path}: its encoder ({info.subtype}) kept nothing above {kept:.0f} Hz: regions of interest "
            "and clicks are sought below it"
        )
    return replace(prepared, kept_top_hz=kept)


def stamped_config(config: DeploymentConfig, classifier: Classifier | None) -> DeploymentConfig:
    """The config records are stamped with: without a classifier no model ran, whatever the
    YAML names, so ROI-only records carry the hash of ``--no-model`` (from edge-detect, its
    cluster units and the buoy daemon alike)."""
    return replace(config, model=None) if classifier is None and config.model is not None else config


def records(
    prep: Prepared,
    config: DeploymentConfig,
    rois: list[Roi],
    periods: list[Period],
    name: str,
    labels: list[list[Label] | None] | None = None,
    model: str = "",
) -> tuple[list[Detection], list[LevelRow]]:
    """Detection and level records of a recording from its ROIs and level periods.

    ``labels`` (one entry per ROI, from a classifier ``model``) turns each ROI into a
    detection per kept label, none when the model kept none; an entry of None leaves its ROI
    an ROI-only record."""
    info, calibration = prep.info, prep.calibration
    config_hash = (config if model else stamped_config(config, None)).hash

    def utc(offset_s: float) -> str:  # a duty-cycled recording's from its period's start
        found = info.utc_at(offset_s)
        return iso_utc(*found) if found else ""

    def record(
        r: Roi, label: str, score: float, head: str = "", by: str = "", span: tuple[float, float] | None = None
    ) -> Detection:
        start_s, end_s = span or (r.start_s, r.end_s)  # a scanned ROI's label covers part of it
        return Detection(
            name,
            prep.channel,
            utc(start_s),
            start_s,
            end_s,
            r.low_hz,
            r.high_hz,
            label,
            score,
            r.snr_db,
            r.received_level_db,
            head=head,
            deployment=config.name,
            model=by,
            config_hash=config_hash,
            hydrophone=calibration.hydrophone,
            calibration_db=calibration.full_scale_spl_db,
            clicks=r.clicks,
            ici_s=r.ici_s if r.clicks else float("nan"),
        )

    detections = []
    for i, r in enumerate(rois):
        kept = labels[i] if labels is not None else None
        if kept is None:
            detections.append(record(r, r.kind or ROI_LABEL, float("nan")))
        else:
            detections += [record(r, k.label, k.score, k.head, model, crop_span(k, r)) for k in kept]
    level_rows = to_rows(periods, file=name, start_utc_of=utc, period_s=config.levels.period_s, total_s=info.duration_s)
    return detections, level_rows


@dataclass
class ChainResult:
    """What a chain produced from its stretch of a recording."""

    rois: list[Roi]
    periods: list[Period]  # noise-level periods (edge.levels), made into rows by :func:`records`
    labels: list[list[Label] | None] | None  # per ROI, None without a classifier
    failures: list[tuple[Roi, str]]  # ROIs whose classification failed (kept ROI-only), and why
    noise_state: list[np.ndarray]
    level_bands: tuple[str, ...]
    completed: bool  # the recording's end was reached (not stopped early)
    quality: SignalQuality  # unusable frames among those owned
    ranking: list[Rank]  # empty unless the deployment ranks and a classifier runs
    window_scores: list[tuple[int, int, dict[str, np.ndarray]]]  # (ROI index, first frame, scores) with scores=True
    clicks: list[Click]  # with clicks=True: the impulse detector's clicks (those in the chunk owned)


class Chain:
    """The streaming chain of one recording: blocks -> frontend -> candidate stages ->
    classifier, with noise levels beside.  edge-detect, the buoy daemon, cluster units,
    training features and edge-bench all drive this one loop.

    ``first_frame`` starts at that STFT frame (a cluster unit's replay point), ``owned``
    keeps only the ROIs starting and the level frames lying in ``[c0, c1)`` (a unit's chunk),
    ``levels=False`` skips noise levels, ``candidates=False`` skips the candidate stages (only
    frames wanted: clip features), ``on_frames`` sees every batch of frames (training
    features), ``rank`` says whether to rank the recording's classes (default: when the
    deployment ranks, a classifier runs and the chain holds the whole recording), and ``times`` (a dict of stage -> seconds) accumulates each stage's time."""

    def __init__(
        self,
        prep: Prepared,
        config: DeploymentConfig,
        *,
        noise_state: list[np.ndarray] | None = None,
        first_frame: int = 0,
        classifier: Classifier | None = None,
        classify_limit: int | None = None,
        levels: bool = True,
        candidates: bool = True,
        owned: tuple[int, int] | None = None,
        on_frames: Callable[[SpectralFrames], None] | None = None,
        times: dict[str, float] | None = None,
        rank: bool | None = None,
        scores: bool = False,
        clicks: bool = False,
    ) -> None:
        if classifier is not None and not candidates:
            raise ValueError("a classifier needs the candidate stages (candidates=True)")
        self.clicks: list[Click] = []  # with clicks=True: every click the impulse detector measured
        self.prep = prep
        self.first_frame = first_frame
        self.frontend: Frontend = prep.frontend(first_frame)
        self.detector = (
            # heard up to the encoder's band; measured up to the band the recording holds: above a
            # low-rate recording's band the resampler's residue lengthens short calls' events past
            # min_duration_s (PAMGuard's minke pulses at 2 kHz under multispecies: 45 detections
            # with it, 26 without), but an ROI is placed only on what the recording holds
            StreamingRoiDetector(
                config.roi,
                prep.spec,
                noise_state=noise_state,
                first_frame=first_frame,
                heard_top_hz=prep.kept_top_hz,
                recorded_top_hz=prep.held_hz,
            )
            if candidates
            else None
        )
        self.candidates: list[CandidateStage] = [self.detector] if self.detector is not None else []
        # a recording whose band lies below the clicks band (a 2-kHz recording analysed at
        # 44.1 kHz, an MP3 whose encoder kept 1.5 kHz) holds no clicks: no stage, rather than one
        # listening to the resampler's residue or the decoder's zeros
        if candidates and config.clicks is not None and heard_top(config.clicks, prep.rate, prep.held_hz) is not None:
            self.candidates.append(
                ImpulseDetector(
                    config.clicks,
                    prep.rate,
                    level_db=prep.calibration.full_scale_spl_db - prep.calibration.gain_db,
                    hop=prep.spec.hop,
                    first_frame=first_frame,
                    on_click=self.clicks.append if clicks else None,
                    held_hz=prep.held_hz,
                )
            )
        self.levels = StreamingLevels(prep.spec, config.levels, prep.held_hz) if levels else None
        self.stream = (
            classifier.stream(prep.spec, first_frame=first_frame, limit=classify_limit, keep_scores=scores)
            if classifier is not None
            else None
        )
        # the ranking scores every window of the whole recording (a cluster unit says whether
        # it holds the whole recording: ``rank``)
        whole = first_frame == 0 and owned is None if rank is None else rank
        self.ranker = (
            WindowRanker(classifier, prep.spec, config.ranking)
            if classifier is not None and config.ranking is not None and whole
            else None
        )
        self.owned = owned
        self.on_frames = on_frames
        self.times = times
        self.rois: list[Roi] = []
        self.periods: list[Period] = []
        self.quality = SignalQuality()

        def own(frame: int) -> int:  # clipping is counted at the recording's own rate
            return frame * prep.spec.hop * prep.info.sample_rate // prep.rate

        self.clipping = ClipCounter(prep.info.subtype, None if owned is None else (own(owned[0]), own(owned[1])))

    @property
    def earliest_frame(self) -> int:
        """The first frame an ROI not yet returned by any candidate stage can start at."""
        return min(stage.earliest_frame for stage in self.candidates)

    @property
    def pending(self) -> int:
        """ROIs found whose classifier windows still wait for frames."""
        return self.stream.pending if self.stream is not None else 0

    def run(self, stop: Callable[[Chain], bool] | None = None) -> ChainResult:
        """Stream the recording from ``first_frame`` to its end, or until ``stop(self)`` is
        true after a block (the stages are then not flushed: what is open stays open)."""
        blocks = iter(self.prep.source(self.first_frame * self.prep.spec.hop, self.clipping.push).blocks())
        completed = True
        while (block := self._timed("decode", next, blocks, None)) is not None:
            self._step(block)
            if stop is not None and stop(self):
                completed = False
                break
        if completed:
            found = self._own([r for stage in self.candidates for r in self._timed(stage.name, stage.flush)])
            self.rois += found
            if self.stream is not None:
                empty = SpectralFrames(np.zeros((0, self.prep.spec.n_bins), np.float32), 0)
                self._timed("inference", self.stream.push, empty, found, 0)
        if self.levels is not None:
            self.periods += self._timed("levels", self.levels.flush)
        labels = self._timed("inference", self.stream.finish) if self.stream is not None else None
        ranking = self._timed("inference", self.ranker.finish) if self.ranker is not None and completed else []
        failures = self.stream.failures if self.stream is not None else []
        noise_state = self.detector.noise_state() if self.detector is not None else []
        self.clipping.fold_into(self.quality, self.prep.info.sample_rate)
        return ChainResult(
            self.rois,
            self.periods,
            labels,
            failures,
            noise_state,
            self.levels.bands.names if self.levels is not None else (),
            completed,
            self.quality,
            ranking,
            (self.stream.window_scores or []) if self.stream is not None else [],
            self._own_clicks(),
        )

    def _own_clicks(self) -> list[Click]:
        if self.owned is None:
            return self.clicks
        c0, c1 = (c * self.prep.spec.hop / self.prep.rate for c in self.owned)
        return [c for c in self.clicks if c0 <= c.time_s < c1]

    def _step(self, block: AudioBlock) -> None:
        frames = self._timed("frontend", self.frontend.push, block)
        valid = self.quality.check(frames, self.owned)  # non-finite frames zeroed in place
        if self.on_frames is not None:
            self.on_frames(frames)
        found = self._own([r for stage in self.candidates for r in self._timed(stage.name, stage.push, frames, block)])
        self.rois += found
        if self.levels is not None and (span := self._owned_span(frames)) is not None:
            lo, hi = span
            owned = (
                frames
                if (lo, hi) == (0, frames.n_frames)
                else SpectralFrames(frames.psd[lo:hi], frames.first_frame + lo)
            )
            self.periods += self._timed("levels", self.levels.push, owned, None if valid is None else valid[lo:hi])
        if self.stream is not None:
            self._timed("inference", self.stream.push, frames, found, self.earliest_frame)
        if self.ranker is not None:
            self._timed("inference", self.ranker.push, frames)

    def _own(self, rois: list[Roi]) -> list[Roi]:
        if self.owned is None:
            return rois
        c0, c1 = self.owned
        return [r for r in rois if c0 <= r.start_frame < c1]

    def _owned_span(self, frames: SpectralFrames) -> tuple[int, int] | None:
        """Rows ``[lo, hi)`` of ``frames`` whose levels this chain reports: all, or those in its
        chunk (None when none of them is)."""
        if self.owned is None:
            return (0, frames.n_frames) if frames.n_frames else None
        c0, c1 = self.owned
        lo, hi = max(c0 - frames.first_frame, 0), min(c1 - frames.first_frame, frames.n_frames)
        return (lo, hi) if hi > lo else None

    def _timed(self, stage: str, fn: Callable[..., T], *args: Any) -> T:
        if self.times is None:
            return fn(*args)
        t0 = time.perf_counter()
        out = fn(*args)
        self.times[stage] = self.times.get(stage, 0.0) + time.perf_counter() - t0
        return out


def score_rows(
    prep: Prepared,
    rois: list[Roi],
    window_scores: list[tuple[int, int, dict[str, np.ndarray]]],
    name: str,
    classifier: Classifier,
) -> list[WindowScore]:
    """The scores output of a recording: a row per window and output, in ROI order."""
    hop_s, n = prep.spec.hop_s, classifier.bundle.n_frames
    classes = {o.name: o.classes for o in classifier.bundle.outputs}
    multi = classifier.bundle.task == "multi_output"
    rows = []
    for i, start, per_output in sorted(window_scores, key=lambda w: (w[0], w[1])):
        r = rois[i]
        for output, p in per_output.items():
            rows.append(
                WindowScore(
                    name,
                    prep.channel,
                    r.start_s,
                    r.end_s,
                    r.low_hz,
                    r.high_hz,
                    r.snr_db,
                    r.received_level_db,
                    start * hop_s,
                    (start + n) * hop_s,
                    output if multi else "",
                    {c: float(v) for c, v in zip(classes[output], p.tolist())},
                )
            )
    return rows


def click_records(prep: Prepared, rois: list[Roi], clicks: list[Click], name: str) -> list[ClickRecord]:
    """The clicks output of a recording: each click with the click train holding it (a train
    spans its first click's start to its last click's end, so its clicks' peaks lie within)."""
    trains = sorted((r.start_s, r.end_s) for r in rois if r.clicks)
    out, k = [], 0
    for c in clicks:
        while k < len(trains) and trains[k][1] < c.time_s:
            k += 1
        train = trains[k][0] if k < len(trains) and trains[k][0] <= c.time_s <= trains[k][1] else float("nan")
        out.append(ClickRecord(name, prep.channel, train, **asdict(c)))  # a click's measurements, as measured
    return out


def failure_warnings(prep: Prepared, failures: list[tuple[Roi, str]]) -> list[str]:
    """One warning line per ROI whose classification failed, naming the file and time."""
    return [
        f"{prep.info.path}: classifying the ROI at {roi.start_s:.2f}-{roi.end_s:.2f} s failed ({why}); "
        "kept as an ROI-only record"
        for roi, why in failures
    ]


def process_recording(
    path: str | Path,
    config: DeploymentConfig,
    table: HydrophoneTable | None,
    *,
    channel: int | None = None,
    block_s: float | None = None,
    allow_truncated: bool = False,
    noise_state: list[np.ndarray] | None = None,
    display_name: str | None = None,
    classifier: Classifier | None = None,
    classify_limit: int | None = None,
    keep_scores: bool = False,
    keep_clicks: bool = False,
) -> RecordingResult:
    """Process one recording; raises :class:`AudioError` when it cannot be.

    With ``classifier`` each ROI is classified as the frames arrive (ROIs the model keeps
    no label for give no record); ``classify_limit`` classifies only that many ROIs, the
    strongest by SNR, and leaves the others ROI-only records labelled ``roi``."""
    prep = prepare(path, config, table, channel=channel, block_s=block_s, allow_truncated=allow_truncated)
    out = Chain(
        prep,
        config,
        noise_state=noise_state,
        classifier=classifier,
        classify_limit=classify_limit,
        scores=keep_scores,
        clicks=keep_clicks,
    ).run()
    warnings = (
        prep.warnings
        + failure_warnings(prep, out.failures)
        + out.quality.warnings(str(prep.info.path), prep.spec.hop_s)
    )
    detections, level_rows = records(
        prep,
        config,
        out.rois,
        out.periods,
        display_name or str(path),
        out.labels,
        classifier.identity if classifier is not None else "",
    )
    return RecordingResult(
        prep.info,
        prep.calibration,
        out.rois,
        detections,
        level_rows,
        out.level_bands,
        warnings,
        out.noise_state,
        out.quality,
        out.ranking,
        score_rows(prep, out.rois, out.window_scores, display_name or str(path), classifier)
        if classifier is not None and keep_scores
        else [],
        click_records(prep, out.rois, out.clicks, display_name or str(path)),
        prep.kept_top_hz,
    )

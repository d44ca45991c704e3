"""One recording through the chain: blocks -> frontend -> ROI detector and noise levels.

This is the per-recording unit of work shared by ``edge-detect`` (and, later, the buoy
daemon and cluster workers).  It holds no state between recordings except what the caller
passes in (the ROI detector's noise history).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from edge.audio import Recording, probe
from edge.calibration import Calibration, HydrophoneTable, resolve
from edge.classify import Classifier, Label, earliest_roi_frame
from edge.config import DeploymentConfig
from edge.crops import span as crop_span
from edge.errors import AudioError
from edge.frontend import FrontendSpec, StreamingFrontend
from edge.levels import StreamingLevels, to_rows
from edge.roi import StreamingRoiDetector
from edge.timestamps import iso_utc
from edge.types import AudioInfo, Detection, LevelRow, Roi, SpectralFrames

ROI_LABEL = "roi"


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

    @property
    def end_utc(self) -> dt.datetime | None:
        if self.info.start_utc is None:
            return None
        return self.info.start_utc + dt.timedelta(seconds=self.info.duration_s)


@dataclass(frozen=True)
class Prepared:
    """A recording checked against the deployment, with what processing it needs."""

    info: AudioInfo
    calibration: Calibration
    warnings: list[str]
    spec: FrontendSpec
    channel: int
    block_frames: int

    def source(self, start: int = 0) -> Recording:
        """Its samples in blocks, from sample ``start``."""
        return Recording(self.info, channel=self.channel, block_frames=self.block_frames, start=start)

    def frontend(self, first_frame: int = 0) -> StreamingFrontend:
        return StreamingFrontend(self.spec, self.calibration.bin_gain_db(self.spec.bin_freqs()),
                                 first_frame=first_frame)


def prepare(path: str | Path, config: DeploymentConfig, table: HydrophoneTable | None, *,
            channel: int | None = None, block_s: float | None = None,
            allow_truncated: bool = False) -> Prepared:
    """Probe a recording and resolve its calibration; raises :class:`AudioError` when it
    cannot be processed with this deployment."""
    info = probe(path, allow_truncated=allow_truncated)
    if config.sample_rate is not None and info.sample_rate != config.sample_rate:
        raise AudioError(f"{info.path}: sample rate {info.sample_rate} Hz, but deployment "
                         f"{config.name!r} expects {config.sample_rate} Hz")
    calibration, warning = resolve(info.serial, config.calibration, table)
    warnings = [f"{info.path}: {warning}"] if warning else []
    if info.shortfall:  # said per file (CLI line, run.json), not only allowed by the run's flag
        warnings.append(f"{info.path}: truncated WAV: header declares {info.shortfall[0]} bytes of audio, the "
                        f"file holds {info.shortfall[1]}; processed the {info.frames} samples present")
    channel = config.channel if channel is None else channel
    block_frames = max(1, round((block_s or config.block_s) * info.sample_rate))
    prepared = Prepared(info, calibration, warnings, config.spec_for(info.sample_rate), channel, block_frames)
    prepared.source()  # checks the channel
    return prepared


def stamped_config(config: DeploymentConfig, classifier: Classifier | None) -> DeploymentConfig:
    """The config records are stamped with: without a classifier no model ran, whatever the
    YAML names, so ROI-only records carry the hash of ``--no-model`` (from edge-detect, its
    cluster units and the buoy daemon alike)."""
    return replace(config, model=None) if classifier is None and config.model is not None else config


def records(prep: Prepared, config: DeploymentConfig, rois: list[Roi], periods: list, name: str,
            labels: list[list[Label] | None] | None = None, model: str = ""
            ) -> tuple[list[Detection], list[LevelRow]]:
    """Detection and level records of a recording from its ROIs and level periods.

    ``labels`` (one entry per ROI, from a classifier ``model``) turns each ROI into a
    detection per kept label, none when the model kept none; an entry of None leaves its ROI
    an ROI-only record."""
    info, calibration = prep.info, prep.calibration
    config_hash = (config if model else stamped_config(config, None)).hash

    def utc(offset_s: float) -> str:
        return iso_utc(info.start_utc, offset_s)

    def record(r: Roi, label: str, score: float, head: str = "", by: str = "", span=None) -> Detection:
        start_s, end_s = span or (r.start_s, r.end_s)  # a scanned ROI's label covers part of it
        return Detection(name, prep.channel, utc(start_s), start_s, end_s, r.low_hz, r.high_hz, label,
                         score, r.snr_db, r.received_level_db, head=head, deployment=config.name, model=by,
                         config_hash=config_hash, hydrophone=calibration.hydrophone,
                         calibration_db=calibration.full_scale_spl_db)

    detections = []
    for i, r in enumerate(rois):
        kept = labels[i] if labels is not None else None
        if kept is None:
            detections.append(record(r, ROI_LABEL, float("nan")))
        else:
            detections += [record(r, k.label, k.score, k.head, model, crop_span(k, r)) for k in kept]
    level_rows = to_rows(periods, file=name, start_utc_of=utc, period_s=config.levels.period_s,
                         total_s=info.duration_s)
    return detections, level_rows


def process_recording(path: str | Path, config: DeploymentConfig, table: HydrophoneTable | None, *,
                      channel: int | None = None, block_s: float | None = None,
                      allow_truncated: bool = False, noise_state: list[np.ndarray] | None = None,
                      display_name: str | None = None, classifier: Classifier | None = None,
                      classify_limit: int | None = None) -> RecordingResult:
    """Process one recording; raises :class:`AudioError` when it cannot be.

    With ``classifier`` each ROI is classified as the frames arrive (ROIs the model keeps
    no label for give no record); ``classify_limit`` classifies only that many ROIs, the
    strongest by SNR, and leaves the others ROI-only records labelled ``roi``."""
    prep = prepare(path, config, table, channel=channel, block_s=block_s, allow_truncated=allow_truncated)
    frontend = prep.frontend()
    detector = StreamingRoiDetector(config.roi, prep.spec, noise_state=noise_state)
    levels = StreamingLevels(prep.spec, config.levels)
    stream = classifier.stream(prep.spec, limit=classify_limit) if classifier is not None else None
    rois: list[Roi] = []
    periods = []
    for block in prep.source().blocks():
        frames = frontend.push(block)
        found = detector.push(frames)
        rois += found
        periods += levels.push(frames)
        if stream is not None:
            stream.push(frames, found, earliest_roi_frame(detector))
    found = detector.flush()
    rois += found
    periods += levels.flush()
    labels = None
    if stream is not None:
        stream.push(SpectralFrames(np.zeros((0, prep.spec.n_bins), np.float32), 0), found, 0)
        labels = stream.finish()
    detections, level_rows = records(prep, config, rois, periods, display_name or str(path), labels,
                                     classifier.identity if classifier is not None else "")
    return RecordingResult(prep.info, prep.calibration, rois, detections, level_rows, levels.bands.names,
                           prep.warnings, detector.noise_state())

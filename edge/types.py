"""Interfaces and records shared across the runtime.

Implementations live in sibling modules named by role (``audio``, ``frontend``, ``roi``,
``levels``, ``sinks``); pipelines are built by passing them in.  Records are frozen so a
detection cannot change after it is made.

Time convention: ``start_s``/``end_s`` are seconds from the first sample of the file (or
stream); ``start_utc`` is that instant in UTC when the recording's start is known.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class AudioInfo:
    """What is known about one recording before its samples are read."""

    path: str
    sample_rate: int
    channels: int
    frames: int
    subtype: str
    start_utc: dt.datetime | None = None
    serial: str | None = None
    time_source: str | None = None  # "soundtrap-log", "filename" or None
    shortfall: tuple[int, int] | None = (
        None  # (declared, present) data bytes of a WAV cut short; declared 0: never finalised
    )
    # a duty-cycled recording's periods, (seconds into the file, UTC) each, its samples end to
    # end with the gaps between them left out (an XWAV's raw files); empty: one period from start_utc
    periods: tuple[tuple[float, dt.datetime], ...] = ()

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate

    @property
    def unfinalised(self) -> bool:
        """A WAV whose header was never finalised (sizes 0), read as its bytes present say."""
        return self.shortfall is not None and self.shortfall[0] == 0

    def utc_at(self, offset_s: float) -> tuple[dt.datetime, float] | None:
        """The UTC start of the recording period holding the moment ``offset_s`` seconds into
        the file, and the seconds from it; None when the recording's time is unknown."""
        if self.start_utc is None:
            return None
        at, start = 0.0, self.start_utc
        for begins, utc in self.periods:
            if begins > offset_s:
                break
            at, start = begins, utc
        return start, offset_s - at

    @property
    def end_utc(self) -> dt.datetime | None:
        """When the recording's last sample ends (its last period's end for a duty-cycled one)."""
        found = self.utc_at(self.duration_s)
        return None if found is None else found[0] + dt.timedelta(seconds=found[1])


@dataclass(frozen=True)
class AudioBlock:
    """Mono samples, full scale = 1.0, shape ``(n,)`` float32; ``start_sample`` counts from
    the first sample of the recording."""

    samples: np.ndarray
    start_sample: int


@dataclass(frozen=True)
class SpectralFrames:
    """A run of consecutive STFT frames.

    ``psd`` has shape ``(n_frames, n_bins)``: calibrated one-sided PSD in uPa^2/Hz (linear).
    Frame ``k`` (absolute index ``first_frame + i``) covers samples ``[k*hop, k*hop + nfft)``.
    """

    psd: np.ndarray
    first_frame: int

    @property
    def n_frames(self) -> int:
        return int(self.psd.shape[0])


@dataclass(frozen=True)
class Roi:
    """A region of interest: a time-frequency box where the band SNR exceeded the threshold."""

    start_s: float
    end_s: float
    low_hz: float
    high_hz: float
    snr_db: float  # peak SNR over the noise floor
    received_level_db: float  # RMS SPL over the box, dB re 1 uPa
    # The STFT frame (absolute index in the stream) at which the event first reached the
    # detector's on threshold; -1 when unknown.  ``start_s`` lies up to the smoothing lag
    # before it.  Splitting a stream into chunks assigns each ROI to the chunk holding it.
    start_frame: int = -1
    # a click train (edge.clicks): its click count and median inter-click interval; 0 otherwise
    clicks: int = 0
    ici_s: float = 0.0
    # a click train's type (edge.click_types), its label where no classifier runs; "" otherwise
    kind: str = ""

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class Detection:
    """One record of the product (ARCHITECTURE contract 4)."""

    file: str
    channel: int
    start_utc: str  # ISO 8601 with Z, "" when the recording's start is unknown
    start_s: float
    end_s: float
    low_hz: float
    high_hz: float
    label: str
    score: float
    snr_db: float
    received_level_db: float
    head: str = ""
    deployment: str = ""
    model: str = ""  # model sha256, "" for ROI-only runs
    config_hash: str = ""
    hydrophone: str = ""
    calibration_db: float = float("nan")  # full-scale SPL used, dB re 1 uPa
    # a click train's (edge.clicks) click count and median inter-click interval; 0 and NaN otherwise
    clicks: int = 0
    ici_s: float = float("nan")


# a record's fields in order: the columns of detections.csv and of the detection log
DETECTION_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Detection))


@dataclass(frozen=True)
class LevelRow:
    """Noise levels over one period: broadband and decidecade band SPL, dB re 1 uPa."""

    file: str
    start_utc: str
    start_s: float
    duration_s: float
    broadband_db: float
    bands_db: tuple[float, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ClickRecord:
    """One click of the impulse detector (edge.clicks) as the clicks output lists it: its
    measurements and the click train (ROI) it belongs to, if any."""

    file: str
    channel: int
    train_start_s: float  # the start of its click train's ROI; NaN when in no train
    time_s: float  # its peak, seconds from the recording's start
    duration_s: float
    peak_hz: float
    centroid_hz: float
    low3_hz: float
    high3_hz: float
    low10_hz: float
    high10_hz: float
    received_level_db: float  # dB re 1 uPa peak-to-peak
    snr_db: float
    type: str = ""  # its click type (the deployment's clicks: types:), "" for none


@dataclass(frozen=True)
class WindowScore:
    """One window the classifier scored for an ROI, whatever it decided (the scores output):
    the ROI, the window's span and the score of every class of one output (``head``)."""

    file: str
    channel: int
    roi_start_s: float
    roi_end_s: float
    low_hz: float
    high_hz: float
    snr_db: float
    received_level_db: float
    start_s: float  # the window's span, seconds from the recording's start
    end_s: float
    head: str  # the output's name for multi-output models, "" otherwise
    scores: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Rank:
    """One class of a recording's ranked answer (edge.ranking): its score and the number of
    windows whose most probable class it is."""

    label: str
    score: float
    windows: int


# The string options of the configs, as types (each is also validated where it is read)
BackendKind = Literal["auto", "onnx", "tflite"]
WindowName = Literal["hann", "hamming", "blackman", "rect"]
CropName = Literal["centre", "scan"]
PadName = Literal["edge", "loop"]
Centre = Literal["window_mean", "bin_median"]
RetentionPolicy = Literal["delete", "keep", "snippets"]
TransportName = Literal["iridium", "mqtt"]


class AudioSource(Protocol):
    """Yields a recording's samples in blocks of bounded size."""

    info: AudioInfo

    def blocks(self) -> Iterator[AudioBlock]: ...


class Frontend(Protocol):
    """Turns blocks of samples into calibrated STFT frames, carrying the overlap."""

    def push(self, block: AudioBlock) -> SpectralFrames: ...


class CandidateStage(Protocol):
    """A candidate stage of the chain (:class:`edge.pipeline.Chain`): finds ROIs in a stream of
    frames (and, for stages that need them, the samples the frames were made from).

    ``push`` returns the ROIs completed so far, ``flush`` closes what is open at the stream's
    end, and ``earliest_frame`` is the first frame an ROI not yet returned can start at: the
    classifier keeps the frames from there on, so a stage must never return an ROI before it.
    ``name`` is the stage's in edge-bench's timings (``roi``, ``clicks``)."""

    name: str

    def push(self, frames: SpectralFrames, block: AudioBlock | None = None) -> list[Roi]: ...

    def flush(self) -> list[Roi]: ...

    @property
    def earliest_frame(self) -> int: ...


class Backend(Protocol):
    """Runs one INT8 model file of a bundle (``edge.backends``): ``kind`` is ``onnx`` or
    ``tflite``, ``file`` the bundle file it runs.  ``run`` takes standardised windows
    ``(batch, n_frames, n_features)`` float32 and returns the logits of each output,
    ``{output name: (batch, n_classes)}`` float32."""

    kind: str
    file: str

    def run(self, windows: np.ndarray) -> dict[str, np.ndarray]: ...


class SendResult(Protocol):
    """What a transport reports for one session: ``ok`` when the frame reached the gateway
    or broker (SBDIX MO status 0-4, MQTT PUBACK), ``detail`` for the log, ``mt`` the downlink
    payloads that came with the session, ``mt_queued`` the downlink messages still waiting at
    the gateway (Iridium's SBDIX MT queued; 0 where there is no mailbox)."""

    ok: bool
    detail: str
    mt: list[bytes]

    @property
    def mt_queued(self) -> int: ...


class Transport(Protocol):
    """Carries one frame to shore per call (``edge.sync.iridium``, ``edge.sync.mqtt``);
    ``check_mailbox`` fetches downlink without sending (a mailbox check), None where the
    transport has no downlink (MQTT)."""

    def send(self, data: bytes) -> SendResult: ...

    def check_mailbox(self) -> SendResult | None: ...

    def close(self) -> None: ...

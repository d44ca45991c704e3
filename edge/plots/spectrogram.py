"""Calibrated display spectrograms of a span of a recording, with bounded memory.

The picture must show what the detector saw, so the PSD comes from the one frontend
(:class:`~edge.frontend.StreamingFrontend`) with the file's calibration, on the file's own
frame grid (frame ``k`` covers samples ``[k*hop, k*hop + nfft)``, as in the run).  A whole
file at full resolution can be millions of frames, far more than a picture has pixels, so
consecutive frames are averaged (in power, like a long-term spectral average) into at most
``max_columns`` columns while the audio streams through in blocks: memory is
``max_columns x bins`` whatever the recording length.  No matplotlib here.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from edge import _validate as v
from edge.audio import open_sound
from edge.calibration import Calibration
from edge.errors import AudioError
from edge.frontend import FrontendSpec, StreamingFrontend
from edge.resample import output_length, resample_blocks
from edge.types import AudioBlock


@dataclass(frozen=True)
class DisplaySettings:
    """How a display spectrogram is reduced."""

    max_columns: int = 2000  # about the pixel width of a wide figure; more is invisible
    block_s: float = 10.0  # seconds of audio read at once
    floor_db: float = -20.0  # dB re 1 uPa^2/Hz given to digital silence, so it stays finite

    def __post_init__(self) -> None:
        v.integer("max_columns", self.max_columns, minimum=1)
        v.number("block_s", self.block_s, minimum=0, exclusive=True)
        v.number("floor_db", self.floor_db)


@dataclass(frozen=True)
class DisplaySpectrogram:
    """A calibrated spectrogram ready to draw.

    ``db`` has shape ``(n_freqs, n_columns)``, low frequencies first, in dB re 1 uPa^2/Hz;
    columns with no audio (a file shorter than its header says) are NaN.  Column ``j``
    spans ``[start_s + j*column_s, start_s + (j+1)*column_s)`` seconds from the start of
    the file; row ``i`` is centred on ``low_hz + (i + 0.5) * bin_hz``.  ``end_s`` is where
    the data end (the last column may hold fewer frames than the others).
    """

    db: np.ndarray
    start_s: float
    column_s: float
    end_s: float
    low_hz: float
    bin_hz: float
    frames_per_column: int

    @property
    def n_columns(self) -> int:
        return int(self.db.shape[1])

    @property
    def high_hz(self) -> float:
        return self.low_hz + self.db.shape[0] * self.bin_hz

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """``(left, right, bottom, top)`` for ``imshow``, seconds and Hz; ``right`` may pass
        ``end_s`` by less than one column (a partial last column is drawn full width)."""
        return (self.start_s, self.start_s + self.n_columns * self.column_s, self.low_hz, self.high_hz)


def band_bins(spec: FrontendSpec, fmin: float, fmax: float) -> slice:
    """The PSD bins whose centre lies in ``[fmin, fmax]`` (at least one bin), without the
    DC bin: it holds the recorder's offset, not sound, and would set the colour scale."""
    freqs = spec.bin_freqs()
    idx = np.flatnonzero((freqs >= fmin - 1e-9) & (freqs <= fmax + 1e-9) & (freqs > 0))
    if len(idx) == 0:  # a band narrower than a bin: the nearest bin
        idx = np.array([int(np.argmin(np.abs(freqs - (fmin + fmax) / 2)))])
    return slice(int(idx[0]), int(idx[-1]) + 1)


def span_spectrogram(
    path: str | Path,
    *,
    spec: FrontendSpec,
    calibration: Calibration,
    channel: int = 0,
    start_s: float = 0.0,
    end_s: float | None = None,
    fmin: float | None = None,
    fmax: float | None = None,
    settings: DisplaySettings = DisplaySettings(),
) -> DisplaySpectrogram:
    """The calibrated spectrogram of ``[start_s, end_s)`` of one channel of a recording.

    ``spec`` is bound to the analysis rate (a recording at another rate is resampled to it);
    ``fmin``/``fmax`` default to the spec's feature band (up to the recording's own Nyquist
    frequency when it is lower: the band above holds only the resampler's residue, and drawn it
    squeezed a 4 kHz recording into the bottom tenth of a 44.1 kHz figure).  ``end_s`` None (or past the end) means to the end of the file.
    Raises :class:`AudioError` when the file cannot be read as the spec needs, and
    ``ValueError`` when the span holds less than one frame.
    """
    path = Path(path)
    try:
        with open_sound(path) as info:  # its frames, rate and channels (a never-finalised WAV's as present)
            pass
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioError(f"{path}: not a readable audio file ({exc})") from None
    if not 0 <= channel < info.channels:
        raise AudioError(f"{path}: channel {channel} requested, the file has {info.channels}")
    # A recording at another rate than the spec's is resampled as the chain resamples it
    # (edge.resample), from the span's start: a display needs no sample-exact warm-up.
    sr, native, nfft, hop = spec.rate, info.samplerate, spec.nfft, spec.hop
    total = output_length(info.frames, native, sr) if native != sr else info.frames
    first_frame = max(0, int(math.floor(start_s * sr / hop)))  # on the run's frame grid
    first_sample = first_frame * hop
    stop = total if end_s is None else min(total, int(math.ceil(end_s * sr)))
    n_frames = (stop - first_sample - nfft) // hop + 1 if stop - first_sample >= nfft else 0
    if n_frames < 1:
        raise ValueError(
            f"{path}: span {start_s:g}-{end_s if end_s is not None else 'end'} s holds less "
            f"than one {nfft}-sample frame"
        )
    per_column = -(-n_frames // settings.max_columns)
    n_columns = -(-n_frames // per_column)
    top = (spec.fmax or sr / 2) if fmax is None else fmax
    if fmax is None and native < sr:  # resampled up: above its own Nyquist frequency, nothing to draw
        top = min(top, native / 2)
    band = band_bins(spec, spec.fmin if fmin is None else fmin, top)

    frontend = StreamingFrontend(spec, calibration.bin_gain_db(spec.bin_freqs()))
    sums = np.zeros((n_columns, band.stop - band.start), np.float64)
    counts = np.zeros(n_columns, np.int64)
    for block in _blocks(path, channel, first_sample, stop, max(nfft, round(settings.block_s * sr)), native, sr):
        frames = frontend.push(block)
        if frames.n_frames == 0:
            continue
        column = (frames.first_frame + np.arange(frames.n_frames)) // per_column
        starts = np.r_[0, np.flatnonzero(np.diff(column)) + 1]
        sums[column[starts]] += np.add.reduceat(frames.psd[:, band], starts, axis=0, dtype=np.float64)
        counts[column[starts]] += np.diff(np.r_[starts, frames.n_frames])

    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums / counts[:, None]  # NaN where a short file left columns empty
    db = 10.0 * np.log10(np.maximum(mean, 10.0 ** (settings.floor_db / 10.0)))
    db[counts == 0] = np.nan
    frames_read = int(counts.sum())
    df = sr / nfft
    return DisplaySpectrogram(
        db=db.T.astype(np.float32),
        start_s=(first_sample + nfft / 2 - hop / 2) / sr,  # column edges half a hop around frame centres
        column_s=per_column * hop / sr,
        end_s=(first_sample + (max(frames_read, 1) - 1) * hop + nfft / 2 + hop / 2) / sr,
        low_hz=band.start * df - df / 2,
        bin_hz=df,
        frames_per_column=per_column,
    )


def _blocks(
    path: Path, channel: int, start: int, stop: int, block_frames: int, native: int, rate: int
) -> Iterator[AudioBlock]:
    """Samples ``[start, stop)`` (at ``rate``) of one channel as :class:`AudioBlock`\\ s numbered
    from ``start`` (so frame indices count from the first frame of the span), read at the
    file's ``native`` rate and resampled when it differs; stops early, quietly, where a file
    cut short ends."""
    if native == rate:
        yield from _read(path, channel, start, stop, block_frames)
        return
    a, b = start * native // rate, -(-stop * native // rate)
    offset = 0
    raw = (blk.samples for blk in _read(path, channel, a, b, max(1, block_frames * native // rate)))
    for samples in resample_blocks(raw, native, rate):
        samples = samples[: max(stop - start - offset, 0)]
        if len(samples):
            yield AudioBlock(samples, offset)
            offset += len(samples)


def _read(path: Path, channel: int, start: int, stop: int, block_frames: int) -> Iterator[AudioBlock]:
    """Samples ``[start, stop)`` of one channel at the file's own rate, numbered from ``start``."""
    offset = 0
    try:
        with open_sound(path) as fh:
            fh.seek(start)
            while start + offset < stop:
                data = fh.read(min(block_frames, stop - start - offset), dtype="float32", always_2d=True)
                if len(data) == 0:
                    break
                yield AudioBlock(np.ascontiguousarray(data[:, channel]), offset)
                offset += len(data)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioError(f"{path}: read failed after {start + offset} samples ({exc})") from None

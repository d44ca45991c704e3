"""Welch PSD per UTC minute, streamed: 1-s Hann segments (``nfft`` = the sample rate, so
1 Hz bins), 50 % overlap, laid on a grid that starts on each UTC minute, averaged (mean)
over each minute and integrated into HMD bands.

A minute holds the segments lying entirely inside it and inside the recording: 119 for a
whole minute (the segment straddling the next minute is in neither, as in MANTA and pbp), so
a minute's level does not depend on where a recording or a block starts.  Its effort is the
audio those segments cover (60 s for a whole minute).  Samples are calibrated like every
other level: full-scale SPL minus gain, minus the hydrophone's frequency response.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from edge._fft import real_fft
from edge.audio import Recording
from edge.calibration import Calibration
from edge.frontend import window_array
from edge.soundscape.bands import hmd_bands, hmd_integrator
from edge.soundscape.types import Bands, Minute
from edge.types import AudioBlock, AudioInfo

MINUTE_S = 60
_CHUNK_SAMPLES = 1 << 20  # segments transformed at once: about 4 MB of float32 work array


def floor_minute(t: dt.datetime) -> dt.datetime:
    return t.replace(second=0, microsecond=0)


class MinuteSpectra:
    """Per-recording state: the samples not yet in a segment, the open minute's sum.

    ``start_utc`` is the recording's first sample; ``owned`` (file-relative seconds
    ``[t0, t1)``) keeps only the minutes whose start lies there, so chunks of one recording
    processed apart give the minutes of the whole (a minute begun before the recording
    belongs to the chunk at 0)."""

    def __init__(
        self,
        sample_rate: int,
        start_utc: dt.datetime,
        calibration: Calibration,
        *,
        fmax: float | None = None,
        owned: tuple[float, float] | None = None,
    ) -> None:
        self.rate = int(sample_rate)
        self.nfft = self.rate
        self.hop = self.rate // 2
        self.per_minute = MINUTE_S * self.rate
        self.segments_per_minute = (self.per_minute - self.nfft) // self.hop + 1
        self.first_minute = floor_minute(start_utc)
        # sample index (from the recording's first sample) where the first minute begins: <= 0
        self.origin = -round((start_utc - self.first_minute).total_seconds() * self.rate)
        self.bands: Bands = hmd_bands(self.rate, fmax)
        self._integrate = hmd_integrator(self.rate, self.nfft, self.bands)
        window = window_array("hann", self.nfft)
        scale = np.full(self.nfft // 2 + 1, 2.0 / (self.rate * np.sum(window**2)))
        scale[0] /= 2  # DC and Nyquist have no mirror image to fold in
        if self.nfft % 2 == 0:
            scale[-1] /= 2
        freqs = np.arange(self.nfft // 2 + 1) * (self.rate / self.nfft)
        self._scale = scale * 10.0 ** (calibration.bin_gain_db(freqs) / 10.0)
        self._window = window.astype(np.float32)
        self._owned = owned
        self._buf = np.zeros(0, np.float32)
        self._buf_start = 0  # sample index of _buf[0]
        self._minute = -1  # index of the open minute (from first_minute)
        self._sum = np.zeros(self.nfft // 2 + 1, np.float64)
        self._count = 0  # segments summed in the open minute
        self._skipped = 0  # and left out of it (non-finite samples)
        self._rfft = real_fft()

    def first_sample(self) -> int:
        """The first sample a reading needs (the owned chunk's first minute, or 0)."""
        if self._owned is None or self._owned[0] <= 0:
            return 0
        m = self._minute_at(self._owned[0])
        return max(0, self.origin + m * self.per_minute)

    def _minute_at(self, offset_s: float) -> int:
        """Index of the first minute starting at or after file offset ``offset_s``."""
        return int(np.ceil((offset_s * self.rate - self.origin) / self.per_minute - 1e-9))

    def _wanted(self, minute: int) -> bool:
        if self._owned is None:
            return True
        start_s = (self.origin + minute * self.per_minute) / self.rate
        t0, t1 = self._owned
        return (t0 <= start_s or (t0 <= 0 and minute == 0)) and start_s < t1

    def push(self, block: AudioBlock) -> list[Minute]:
        """Minutes completed by ``block`` (blocks in order; the first may start anywhere at
        or before :meth:`first_sample`)."""
        x = block.samples.astype(np.float32, copy=False)
        if not len(self._buf):
            self._buf_start = block.start_sample
            buf = x
        else:
            buf = np.concatenate((self._buf, x))
        out: list[Minute] = []
        starts, minutes = self._segments(self._buf_start, self._buf_start + len(buf))
        if len(starts):
            out += self._accumulate(buf, starts - self._buf_start, minutes)
        # every segment that fits has been taken: the next one starts after the last nfft - 1
        keep_from = max(0, len(buf) - self.nfft + 1)
        self._buf = buf[keep_from:].copy()
        self._buf_start += keep_from
        return out

    def flush(self) -> list[Minute]:
        return [self._emit()] if self._count or self._skipped else []

    def _segments(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """Segment starts lying in ``[lo, hi - nfft]`` (absolute samples), with their minutes."""
        if hi - lo < self.nfft:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        m0 = max(0, (lo - self.origin) // self.per_minute)
        m1 = (hi - self.nfft - self.origin) // self.per_minute
        minutes = np.arange(m0, m1 + 1, dtype=np.int64)
        minutes = minutes[[self._wanted(int(m)) for m in minutes]] if self._owned is not None else minutes
        j = np.arange(self.segments_per_minute, dtype=np.int64)
        starts = (self.origin + minutes[:, None] * self.per_minute + j[None, :] * self.hop).ravel()
        mins = np.repeat(minutes, len(j))
        ok = (starts >= max(lo, 0)) & (starts + self.nfft <= hi)
        return starts[ok], mins[ok]

    def _accumulate(self, buf: np.ndarray, local: np.ndarray, minutes: np.ndarray) -> list[Minute]:
        out = []
        views = sliding_window_view(buf, self.nfft)
        step = max(1, _CHUNK_SAMPLES // self.nfft)
        cuts = np.flatnonzero(np.diff(minutes)) + 1
        for idx, m in zip(np.split(np.arange(len(local)), cuts), minutes[np.r_[0, cuts]]):
            if m != self._minute and (self._count or self._skipped):
                out.append(self._emit())
            self._minute = int(m)
            for i in range(0, len(idx), step):
                seg = views[local[idx[i : i + step]]]
                finite = np.isfinite(seg).all(axis=1)
                self._skipped += int(len(seg) - finite.sum())
                if not finite.all():  # a segment with NaN or inf samples is left out, not the minute
                    seg = seg[finite]
                spectrum = self._rfft(seg * self._window)
                self._sum += (spectrum.real.astype(np.float64) ** 2 + spectrum.imag.astype(np.float64) ** 2).sum(axis=0)
                self._count += len(seg)
        return out

    def _emit(self) -> Minute:
        if not self._count:  # every segment of the minute held non-finite samples
            mean = np.full_like(self._sum, np.nan)
            effort = 0.0
        else:
            mean = self._sum / self._count * self._scale
            # the audio the minute's usable segments cover (exact when none was left out)
            effort = ((self._count - 1) * self.hop + self.nfft) / self.rate
        start = self.first_minute + dt.timedelta(minutes=self._minute)
        minute = Minute(start, effort, self._integrate.power(mean) / self.bands.widths)
        self._sum = np.zeros_like(self._sum)
        self._count = self._skipped = 0
        return minute


def no_utc_start(path: str) -> str:
    return (
        f"{path}: no UTC start time (from its name or metadata): no hybrid millidecade levels, which are per UTC minute"
    )


def recording_minutes(
    info: AudioInfo,
    calibration: Calibration,
    *,
    channel: int = 0,
    block_frames: int | None = None,
    fmax: float | None = None,
    owned: tuple[float, float] | None = None,
) -> tuple[Bands, list[Minute]]:
    """The HMD minutes of one recording at its own rate (``owned``: those of a chunk);
    raises ValueError when it has no UTC start time.  A duty-cycled recording's periods
    (``AudioInfo.periods``) are each measured from its own UTC start, none across a gap."""
    if info.start_utc is None:
        raise ValueError(no_utc_start(info.path))
    periods = info.periods or ((0.0, info.start_utc),)
    bounds = [round(begins * info.sample_rate) for begins, _ in periods] + [info.frames]
    bands, out = hmd_bands(info.sample_rate, fmax), []
    for (begins, utc), lo, hi in zip(periods, bounds, bounds[1:]):
        mine = None if owned is None else (owned[0] - begins, owned[1] - begins)
        if mine is not None and (mine[1] <= 0 or mine[0] * info.sample_rate >= hi - lo):
            continue  # the chunk holds nothing of this period (its first minute: the chunk holding its start)
        spectra = MinuteSpectra(info.sample_rate, utc, calibration, fmax=fmax, owned=mine)
        bands = spectra.bands
        out += _period_minutes(info, spectra, channel, block_frames, lo, hi, None if mine is None else mine[1])
    return bands, out


def _period_minutes(
    info: AudioInfo, spectra: MinuteSpectra, channel: int, block_frames: int | None, lo: int, hi: int, end: float | None
) -> list[Minute]:
    """The minutes of samples ``[lo, hi)`` of the file (one recording period), numbered from ``lo``."""
    start = lo + spectra.first_sample()
    recording = Recording(info, channel=channel, block_frames=block_frames or 10 * info.sample_rate, start=start)
    out: list[Minute] = []
    for block in recording.blocks():
        if block.start_sample >= hi:
            break
        out += spectra.push(AudioBlock(block.samples[: hi - block.start_sample], block.start_sample - lo))
        if end is not None and (block.start_sample - lo) / info.sample_rate > end + MINUTE_S:
            break  # the chunk's last minute is complete
    return out + spectra.flush()

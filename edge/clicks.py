"""The impulse detector: echolocation clicks (sperm whales, dolphins, porpoises, beaked whales)
as a candidate stage beside the tonal ROI detector.

Each block of samples (at the analysis rate) is band-passed (Butterworth, state carried), its
Teager-Kaiser energy ``x[n]^2 - x[n-1] x[n+1]`` compared with a running floor (the median of
the medians of the last ``noise_window_s`` of 10-ms segments), and every excursion
``threshold_db`` above it is a click; excursions closer than ``min_separation_s`` are one.
Each click is measured on the band-passed samples around its peak: peak and centroid
frequency, -3 and -10 dB bandwidth, duration (above -20 dB of its peak), received level in dB
re 1 uPa peak-to-peak (calibrated) and SNR.  Clicks closer in time than ``train_max_ici_s``
form a train; a train of ``train_min_clicks`` or more is a region of interest (its band the
median -10 dB band of its clicks, its level the median click level, with its click count and
median inter-click interval), which the classifier and every output handle like any ROI.

The work is done in whole 10-ms segments counted from the stream's first sample, so the clicks
do not depend on how the stream is cut into blocks, and memory holds a segment, a click's
window and the open train.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edge import _validate as v
from edge.types import AudioBlock, Roi, SpectralFrames

SEGMENT_S = 0.01  # floor and detection work unit
_TINY = 1e-30


@dataclass(frozen=True)
class ClickSettings:
    """The ``clicks:`` section of a deployment (no section: no impulse detector)."""

    fmin: float = 2000.0  # band-pass, Hz
    fmax: float | None = None  # None: 0.9 x Nyquist
    threshold_db: float = 10.0  # Teager-Kaiser energy (smoothed) over its running floor
    smooth_s: float = 0.0001  # moving mean of the energy: about a click's length
    noise_window_s: float = 2.0
    min_separation_s: float = 0.002  # excursions closer than this are one click
    window_s: float = 0.002  # measured around each click's peak (half before, half after)
    train_max_ici_s: float = 2.0  # clicks closer than this belong to one train
    train_min_clicks: int = 3
    train_max_s: float = 300.0  # a train this long is closed and another begins (snapping shrimp never stop)

    def __post_init__(self) -> None:
        v.number("fmin", self.fmin, minimum=0)
        v.number("fmax", self.fmax, minimum=0, exclusive=True, allow_none=True)
        if self.fmax is not None:
            v.require(self.fmax > self.fmin, f"fmax={self.fmax} must be > fmin={self.fmin}")
        v.number("threshold_db", self.threshold_db, minimum=0, exclusive=True, maximum=60, why="dB over the floor")
        v.number("smooth_s", self.smooth_s, minimum=0, maximum=0.01, why="samples held")
        v.number("noise_window_s", self.noise_window_s, minimum=SEGMENT_S, maximum=600, why="segments held")
        v.number("min_separation_s", self.min_separation_s, minimum=0, maximum=1, why="a second")
        v.number("window_s", self.window_s, minimum=0.0002, maximum=0.1, why="samples held per click")
        v.number("train_max_ici_s", self.train_max_ici_s, minimum=0, exclusive=True, maximum=60, why="a minute")
        v.integer("train_min_clicks", self.train_min_clicks, minimum=1, maximum=1000, why="clicks held per train")
        v.number("train_max_s", self.train_max_s, minimum=0, exclusive=True, maximum=3600, why="clicks held per train")


@dataclass(frozen=True)
class Click:
    """One click: time of its peak, and what it measured."""

    time_s: float
    duration_s: float
    peak_hz: float
    centroid_hz: float
    low3_hz: float
    high3_hz: float
    low10_hz: float
    high10_hz: float
    received_level_db: float  # dB re 1 uPa peak-to-peak
    snr_db: float  # Teager-Kaiser energy over the floor


class ImpulseDetector:
    """A :class:`~edge.types.CandidateStage` finding click trains in a stream at ``rate``;
    ``level_db`` is the calibration's full-scale SPL minus its gain, ``hop`` the frontend's
    (ROIs carry the frame they start in)."""

    def __init__(
        self,
        settings: ClickSettings,
        rate: int,
        *,
        level_db: float,
        hop: int,
        first_frame: int = 0,
        on_click: Callable[[Click], None] | None = None,
    ) -> None:
        from scipy.signal import butter, sosfilt  # once per stream

        nyquist = rate / 2
        fmax = settings.fmax if settings.fmax is not None else 0.9 * nyquist
        if not settings.fmin < fmax < nyquist:
            raise ValueError(
                f"clicks band {settings.fmin:g}-{fmax:g} Hz does not fit below the Nyquist frequency "
                f"{nyquist:g} Hz of the analysis rate {rate} Hz"
            )
        self.settings, self.rate, self.hop, self.level_db = settings, rate, hop, level_db
        low = settings.fmin / nyquist
        self._sos = (
            butter(4, [low, fmax / nyquist], btype="bandpass", output="sos")
            if low > 0
            else butter(4, fmax / nyquist, btype="lowpass", output="sos")
        )
        self._zi = np.zeros((self._sos.shape[0], 2))
        self._sosfilt = sosfilt
        self._seg = max(3, round(SEGMENT_S * rate))
        self._half = max(2, round(settings.window_s * rate / 2))
        self._sep = round(settings.min_separation_s * rate)
        self._smooth = max(1, round(settings.smooth_s * rate))
        self._psi_tail = np.zeros(self._smooth - 1)
        self._window = max(1, round(settings.noise_window_s / SEGMENT_S))
        self._medians: deque[float] = deque(maxlen=self._window)
        self._start = first_frame * hop  # absolute index of the stream's first sample
        self._y = np.zeros(0)  # band-passed samples from self._y0 on, still needed
        self._y0 = self._start
        self._done = self._start  # energy is known for the samples before this
        self._run: list[int] | None = None  # open excursion: [start, end, peak] (absolute)
        self._peak_psi = 0.0
        self._floor_at_peak = 1.0
        self._pending: list[tuple[int, int, int, float]] = []  # excursions waiting for their window
        self._train: list[Click] = []  # the open train: memory holds it, never every click of a recording
        self.n_clicks = 0
        self.on_click = on_click  # sees every click measured, in time order (per-click outputs)

    # -- the CandidateStage protocol ----------------------------------------------------------

    def push(self, frames: SpectralFrames, block: AudioBlock | None = None) -> list[Roi]:
        if block is None:
            raise ValueError("the impulse detector needs the samples the frames were made from")
        y, self._zi = self._sosfilt(self._sos, np.asarray(block.samples, np.float64), zi=self._zi)
        self._y = np.concatenate((self._y, y))
        return self._advance(final=False)

    def flush(self) -> list[Roi]:
        return self._advance(final=True)

    @property
    def earliest_frame(self) -> int:
        """No train returned later starts before its first click, nor before what is still
        waiting to be measured."""
        candidates = [self._y0 + len(self._y) - self._seg - self._half]
        if self._train:
            candidates.append(round((self._train[0].time_s - self.settings.window_s) * self.rate))
        if self._pending:
            candidates.append(self._pending[0][0] - self._half)
        if self._run is not None:
            candidates.append(self._run[0] - self._half)
        return max(0, min(candidates)) // self.hop

    # -- detection -------------------------------------------------------------------------

    def _advance(self, *, final: bool) -> list[Roi]:
        end = self._y0 + len(self._y)
        # whole segments from the stream's start (the energy of n needs n + 1), and at the
        # stream's end the partial last one
        whole = max(0, (end - 1 - self._done) // self._seg)
        stop = self._done + whole * self._seg
        if final and stop < end:
            stop = end
        if stop > self._done:
            self._span(self._done, stop, end)
            self._done = stop
        out = self._measure(final)
        if final:
            self._close_run()
            out += self._measure(final=True)
            out += self._close_train()
        else:
            keep = min([self._done - 1 - self._half, *(p[2] - self._half for p in self._pending)])
            if self._run is not None:
                keep = min(keep, self._run[2] - self._half)
            keep = max(keep, self._y0)
            self._y = self._y[keep - self._y0 :]
            self._y0 = keep
        return out

    def _span(self, a: int, b: int, end: int) -> None:
        """Samples ``[a, b)`` (absolute; whole segments, the last possibly partial at the
        stream's end): their energy against the floor of the segments before each (the stream's
        first and last samples take a zero neighbour)."""
        lo, hi = a - 1 - self._y0, b + 1 - self._y0
        y = np.concatenate(([0.0] if lo < 0 else [], self._y[max(lo, 0) : hi], [0.0] if b + 1 > end else []))
        psi = y[1:-1] ** 2 - y[:-2] * y[2:]
        if self._smooth > 1:  # a moving mean over about a click's length: noise averages out, a click does not
            full = np.concatenate((self._psi_tail, psi))
            self._psi_tail = full[-(self._smooth - 1) :]
            # each output sums the same samples in the same order however the stream is cut
            # (a running cumsum would carry rounding from wherever the span began)
            psi = np.convolve(full, np.full(self._smooth, 1.0 / self._smooth), mode="valid")
        psi = np.maximum(psi, 0.0)
        seg = self._seg
        whole = len(psi) // seg
        medians = list(np.median(psi[: whole * seg].reshape(whole, seg), axis=1)) if whole else []
        if len(psi) > whole * seg:
            medians.append(float(np.median(psi[whole * seg :])))
        floors = np.empty(len(medians))
        history = list(self._medians)
        for i, median in enumerate(medians):  # each segment's floor: the segments before it
            floors[i] = max(float(np.median(history[-self._window :])) if history else median, _TINY)
            history.append(median)
        self._medians.extend(medians)
        threshold = np.repeat(floors * 10 ** (self.settings.threshold_db / 10), seg)[: len(psi)]
        for k in np.flatnonzero(psi > threshold):
            n = a + int(k)
            if self._run is not None and n - self._run[1] > self._sep:
                self._close_run()
            floor = float(floors[k // seg])
            if self._run is None:
                self._run = [n, n + 1, n]
                self._peak_psi, self._floor_at_peak = float(psi[k]), floor
            else:
                self._run[1] = n + 1
                if psi[k] > self._peak_psi:
                    self._run[2], self._peak_psi, self._floor_at_peak = n, float(psi[k]), floor
        if self._run is not None and b - self._run[1] > self._sep:
            self._close_run()

    def _close_run(self) -> None:
        if self._run is not None:
            start, stop, peak = self._run
            self._pending.append((start, stop, peak, 10 * math.log10(self._peak_psi / self._floor_at_peak)))
            self._run = None

    def _measure(self, final: bool) -> list[Roi]:
        """Measure the excursions whose window is in, in order; clicks into trains."""
        out: list[Roi] = []
        end = self._y0 + len(self._y)
        while self._pending and (final or self._pending[0][2] + self._half <= end):
            start, stop, peak, snr = self._pending.pop(0)
            out += self._add(self._click(start, stop, peak, snr))
        return out

    def _click(self, start: int, stop: int, peak: int, snr: float) -> Click:
        a = max(peak - self._half, self._y0)
        w = self._y[a - self._y0 : peak + self._half - self._y0]
        level = 20 * math.log10(max(float(w.max() - w.min()), _TINY)) + self.level_db
        # duration: the contiguous stretch around the peak of the smoothed energy within -10 dB of it
        k = max(1, self._smooth)
        env = np.convolve(w**2, np.ones(k) / k, mode="same")
        top_env = int(np.argmax(env))
        lo_env, hi_env = _contiguous(env >= 0.1 * env[top_env], top_env)
        duration = (hi_env - lo_env + 1) / self.rate
        # the spectrum of the click itself (its extent and as much again each side), not of the window's noise
        pad = max(8, hi_env - lo_env + 1)
        part = w[max(lo_env - pad, 0) : hi_env + pad + 1]
        n = max(256, 1 << (len(part) - 1).bit_length())
        power = np.abs(np.fft.rfft(part * np.hanning(len(part)), n)) ** 2
        freqs = np.fft.rfftfreq(n, 1 / self.rate)
        top = int(np.argmax(power))
        centroid = float((freqs * power).sum() / max(power.sum(), _TINY))
        low3, high3 = _band(power, freqs, top, 10**-0.3)
        low10, high10 = _band(power, freqs, top, 0.1)
        return Click(peak / self.rate, duration, float(freqs[top]), centroid, low3, high3, low10, high10, level, snr)

    # -- trains ----------------------------------------------------------------------------

    def _add(self, click: Click) -> list[Roi]:
        self.n_clicks += 1
        if self.on_click is not None:
            self.on_click(click)
        out: list[Roi] = []
        train = self._train
        if train and (
            click.time_s - train[-1].time_s > self.settings.train_max_ici_s
            or click.time_s - train[0].time_s > self.settings.train_max_s
        ):
            out = self._close_train()
        self._train.append(click)
        return out

    def _close_train(self) -> list[Roi]:
        clicks, self._train = self._train, []
        if len(clicks) < self.settings.train_min_clicks:
            return []
        start = max(clicks[0].time_s - clicks[0].duration_s / 2, 0.0)
        end = clicks[-1].time_s + clicks[-1].duration_s / 2
        icis = np.diff([c.time_s for c in clicks])
        return [
            Roi(
                start,
                end,
                float(np.median([c.low10_hz for c in clicks])),
                float(np.median([c.high10_hz for c in clicks])),
                float(np.median([c.snr_db for c in clicks])),
                float(np.median([c.received_level_db for c in clicks])),
                start_frame=int(start * self.rate) // self.hop,
                clicks=len(clicks),
                ici_s=float(np.median(icis)),
            )
        ]


def _band(power: np.ndarray, freqs: np.ndarray, top: int, fraction: float) -> tuple[float, float]:
    """Edges of the contiguous bins around ``top`` holding at least ``fraction`` of its power."""
    lo, hi = _contiguous(power >= fraction * power[top], top)
    return float(freqs[lo]), float(freqs[hi])


def _contiguous(keep: np.ndarray, at: int) -> tuple[int, int]:
    """First and last index of the run of True in ``keep`` holding ``at``."""
    lo = at
    while lo > 0 and keep[lo - 1]:
        lo -= 1
    hi = at
    while hi < len(keep) - 1 and keep[hi + 1]:
        hi += 1
    return lo, hi

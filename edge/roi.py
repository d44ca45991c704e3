"""Region-of-interest detector: adaptive noise floor, band SNR with hysteresis.

Per stream (whisper.cpp's context/state split: settings are shared, this state is not):

1. Band power is smoothed over ``smooth_bins`` bins and ``smooth_frames`` frames (a causal
   box; a single STFT cell of noise fluctuates by +-5 dB, a 3x3 box by about +-2 dB).
2. The noise floor per frequency is the median, over the last ``noise_window_s``, of the
   mean dB level of each ``noise_segment_s`` segment.  The median ignores calls that fill
   less than half of the window in a band; the finite window makes the floor depend on the
   last ``noise_window_s`` only, so a stream cut into chunks with that much overlap gives the
   same floor.  Segments are counted from the stream's first frame, so any block size gives
   the same results.  The floor for a segment includes that segment (one segment of latency).
3. The detection statistic of a frame is the largest SNR over the band.  An event starts at a
   frame >= ``on_db`` and lasts while frames stay >= ``off_db``; events less than
   ``merge_gap_s`` apart merge; events shorter than ``min_duration_s`` or longer than
   ``max_duration_s`` (continuous noise, a passing ship) are dropped.
4. Each ROI's band is the contiguous run of bins around its strongest bin whose peak SNR is
   >= ``off_db``; its received level is the RMS SPL over that band and duration.

The noise-floor history can be handed to the next recording of a deployment
(``noise_state``), which is how the state carries across consecutive files.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from numpy.lib.stride_tricks import sliding_window_view

from edge import _validate as v
from edge.frontend import FrontendSpec
from edge.types import Roi, SpectralFrames

_TINY = np.float32(1e-30)


@dataclass(frozen=True)
class RoiSettings:
    """The ``roi:`` section of a deployment."""

    fmin: float = 0.0
    fmax: float | None = None
    on_db: float = 10.0
    off_db: float = 6.0
    min_duration_s: float = 0.1
    max_duration_s: float | None = None
    merge_gap_s: float = 0.1
    smooth_bins: int = 3
    smooth_frames: int = 3
    noise_window_s: float = 60.0
    noise_segment_s: float = 1.0

    def __post_init__(self) -> None:
        v.number("fmin", self.fmin, minimum=0)
        v.number("fmax", self.fmax, minimum=0, exclusive=True, allow_none=True)
        if self.fmax is not None:
            v.require(self.fmax > self.fmin, f"fmax={self.fmax} must be > fmin={self.fmin}")
        v.number("on_db", self.on_db, minimum=0, exclusive=True)
        v.number("off_db", self.off_db, minimum=0)
        v.require(self.off_db <= self.on_db, f"off_db={self.off_db} must be <= on_db={self.on_db} (hysteresis)")
        v.number("min_duration_s", self.min_duration_s, minimum=0)
        v.number("max_duration_s", self.max_duration_s, minimum=0, exclusive=True, allow_none=True)
        if self.max_duration_s is not None:
            v.require(self.max_duration_s > self.min_duration_s,
                      f"max_duration_s={self.max_duration_s} must be > min_duration_s={self.min_duration_s}")
        v.number("merge_gap_s", self.merge_gap_s, minimum=0)
        for name in ("smooth_bins", "smooth_frames"):
            value = getattr(self, name)
            v.integer(name, value, minimum=1)
            v.require(value % 2 == 1, f"{name}={value} must be odd (the box is centred)")
        v.number("noise_segment_s", self.noise_segment_s, minimum=0, exclusive=True)
        v.number("noise_window_s", self.noise_window_s, minimum=0, exclusive=True)
        v.require(self.noise_window_s >= self.noise_segment_s,
                  f"noise_window_s={self.noise_window_s} must be >= noise_segment_s={self.noise_segment_s}")


def _box_mean(x: np.ndarray, width: int) -> np.ndarray:
    """Centred moving mean over bins (axis 1) of ``(n_frames, n_bins)``; edges average the
    values that exist.

    Sums are differences of float64 running sums along the bins.  The running sum is built
    bin by bin for all frames at once (numpy's ``cumsum`` is not vectorised and was most of
    the detector's time); each frame's arithmetic is the same whatever the batch.
    """
    if width == 1:
        return x
    n, nb = x.shape
    half = width // 2
    cs = np.empty((n, nb + 1), np.float64)
    cs[:, 0] = 0.0
    cs[:, 1:] = x
    for j in range(1, nb + 1):
        np.add(cs[:, j - 1], cs[:, j], out=cs[:, j])
    hi = np.minimum(np.arange(nb) + half + 1, nb)
    lo = np.maximum(np.arange(nb) - half, 0)
    sums = np.empty((n, nb), np.float64)
    if nb > 2 * half:
        np.subtract(cs[:, width:], cs[:, : nb + 1 - width], out=sums[:, half : nb - half])
    for j in [*range(min(half, nb)), *range(max(nb - half, half), nb)]:  # where the box is cut
        np.subtract(cs[:, hi[j]], cs[:, lo[j]], out=sums[:, j])
    sums /= hi - lo
    return sums.astype(np.float32)


def _time_box_mean(hist: np.ndarray, fs: np.ndarray, n: int, k: int) -> np.ndarray:
    """Causal mean over ``k`` frames of each of ``len(fs) // n`` segments of ``n`` frames.

    ``hist`` holds the (at most ``k - 1``) frames before ``fs``.  As in a per-segment float64
    cumsum, each segment's running sum starts at the first of the ``k - 1`` frames before it
    (fewer at the stream's start); all segments are summed together, frame by frame.
    Returns ``(n_seg, n, n_bins)`` float32.
    """
    n_seg, nb = len(fs) // n, fs.shape[1]
    h = len(hist)
    # Zero rows in front of the stream's start add nothing, so one shape fits every segment:
    # c[s, i] is the running sum of segment s's window up to row i - 1, c[s, 0] = 0.
    ext = np.concatenate((np.zeros((k - 1 - h, nb), np.float32), hist, fs))
    c = np.empty((n_seg, k + n, nb), np.float64)
    c[:, 0] = 0.0
    c[:, 1:] = sliding_window_view(ext, k - 1 + n, axis=0)[::n].transpose(0, 2, 1)
    for i in range(1, k + n):
        np.add(c[:, i - 1], c[:, i], out=c[:, i])
    sums = c[:, k:] - c[:, :n]
    real_hist = np.minimum(h + n * np.arange(n_seg), k - 1)  # frames that exist before each segment
    count = np.minimum(real_hist[:, None] + 1 + np.arange(n), k)
    sums /= count[:, :, None]
    return sums.astype(np.float32)


class _NoiseFloor:
    """Median, per bin, of the last ``size`` segment levels (oldest first in ``history``).

    Sorting a ``(n_bins, size)`` copy replaces ``np.median(np.stack(...), axis=0)``: the same
    values (the mean of the two middle ones for an even count), several times faster.
    """

    def __init__(self, n_bins: int, size: int, history: list[np.ndarray]) -> None:
        self.history: deque[np.ndarray] = deque(maxlen=size)
        self.history.extend(s.copy() for s in history)
        self._table = np.zeros((n_bins, size), np.float32)
        for i, s in enumerate(self.history):
            self._table[:, i] = s
        self._pos = len(self.history) % size

    def push(self, level: np.ndarray) -> np.ndarray:
        """Add one segment's mean level; the floor including it, shape ``(n_bins,)``."""
        self.history.append(level)
        self._table[:, self._pos] = level
        self._pos = (self._pos + 1) % self.history.maxlen
        count = len(self.history)
        if count == 1:
            return level
        ranked = np.sort(self._table[:, :count], axis=1)
        mid = count // 2
        floor = ranked[:, mid] if count % 2 else (ranked[:, mid - 1] + ranked[:, mid]) / 2
        floor[np.isnan(ranked[:, -1])] = np.nan  # as np.median: a NaN makes the median NaN
        return floor


class _Event:
    __slots__ = ("start", "last", "peak", "bin_max", "power", "n_power", "p_bin_max", "p_power", "p_n", "cursor")

    def __init__(self, start: int, n_bins: int) -> None:
        self.start = start
        self.last = start
        self.peak = -np.inf
        self.bin_max = np.full(n_bins, -np.inf, np.float32)
        self.power = np.zeros(n_bins, np.float64)
        self.n_power = 0
        self.cursor = start  # next stat frame not yet added to the pending sums
        self._clear_pending(n_bins)

    def _clear_pending(self, n_bins: int) -> None:
        self.p_bin_max = np.full(n_bins, -np.inf, np.float32)
        self.p_power = np.zeros(n_bins, np.float64)
        self.p_n = 0

    def add(self, snr: np.ndarray, raw: np.ndarray, peak: float) -> None:
        """Add frames (rows) to the pending sums."""
        if len(snr):
            np.maximum(self.p_bin_max, snr.max(axis=0), out=self.p_bin_max)
            self.peak = max(self.peak, peak)
        if len(raw):
            self.p_power += raw.sum(axis=0, dtype=np.float64)
            self.p_n += len(raw)

    def commit(self, last: int) -> None:
        np.maximum(self.bin_max, self.p_bin_max, out=self.bin_max)
        self.power += self.p_power
        self.n_power += self.p_n
        self.last = last
        self._clear_pending(len(self.power))


class StreamingRoiDetector:
    """Finds ROIs in a stream of :class:`SpectralFrames` from one recording or deployment."""

    def __init__(self, settings: RoiSettings, spec: FrontendSpec, *,
                 noise_state: list[np.ndarray] | None = None) -> None:
        self.settings = settings
        self.spec = spec
        freqs = spec.bin_freqs()
        fmax = settings.fmax if settings.fmax is not None else freqs[-1]
        idx = np.flatnonzero((freqs >= settings.fmin) & (freqs <= fmax))
        if len(idx) == 0:
            raise ValueError(f"ROI band {settings.fmin}-{fmax} Hz holds no frequency bin at "
                             f"sample_rate={spec.sample_rate}, nfft={spec.nfft}")
        self._bins = slice(int(idx[0]), int(idx[-1]) + 1)
        self._freqs = freqs[self._bins]
        self._df = spec.sample_rate / spec.nfft
        hop_s = spec.hop_s
        self._seg = max(1, round(settings.noise_segment_s / hop_s))
        history = noise_state if noise_state and all(s.shape == (len(idx),) for s in noise_state) else []
        self._floor = _NoiseFloor(len(idx), max(1, round(settings.noise_window_s / settings.noise_segment_s)),
                                  history)
        self._lag = settings.smooth_frames // 2
        self._gap = int(np.floor(settings.merge_gap_s / hop_s + 1e-9))
        self._rows: list[np.ndarray] = []
        self._n_rows = 0
        self._next = 0  # absolute index of the first buffered row
        nb = len(idx)
        self._hist_fs = np.zeros((0, nb), np.float32)  # freq-smoothed rows before the buffer
        self._hist_raw = np.zeros((0, nb), np.float32)  # raw rows before the buffer
        self._event: _Event | None = None
        self._event_open_run = False  # the event's run reached the end of the last segment

    def noise_state(self) -> list[np.ndarray]:
        """The noise-floor history, to continue with the next recording."""
        return [s.copy() for s in self._floor.history]

    def push(self, frames: SpectralFrames) -> list[Roi]:
        if frames.n_frames == 0:
            return []
        if frames.first_frame != self._next + self._n_rows:
            raise ValueError(f"frames start at {frames.first_frame}, expected {self._next + self._n_rows}")
        self._rows.append(frames.psd[:, self._bins])
        self._n_rows += frames.n_frames
        out: list[Roi] = []
        if self._n_rows >= self._seg:
            rows = np.concatenate(self._rows) if len(self._rows) > 1 else self._rows[0]
            n_full = (self._n_rows // self._seg) * self._seg
            out += self._segments(rows[:n_full], self._seg)
            rest = rows[n_full:]
            self._rows = [rest] if len(rest) else []
            self._n_rows = len(rest)
        return out

    def flush(self) -> list[Roi]:
        """Process what is buffered and close the open event: the stream has ended."""
        out: list[Roi] = []
        if self._n_rows:
            rows = np.concatenate(self._rows)
            out += self._segments(rows, len(rows))
            self._rows, self._n_rows = [], 0
        if self._event is not None:
            out += self._close(self._event)
            self._event = None
        return out

    # -- internals --------------------------------------------------------------------
    def _segments(self, raw: np.ndarray, n: int) -> list[Roi]:
        """Consecutive segments of ``n`` frames (``len(raw)`` is a multiple of ``n``)."""
        st = self.settings
        k = st.smooth_frames
        fs = _box_mean(raw, st.smooth_bins)
        if k > 1:
            ts = _time_box_mean(self._hist_fs, fs, n, k)
            self._hist_fs = (fs if len(fs) >= k - 1 else np.concatenate((self._hist_fs, fs)))[-(k - 1):].copy()
        else:
            ts = fs.reshape(-1, n, fs.shape[1])
        level = np.maximum(ts, _TINY, out=ts)
        np.log10(level, out=level)
        level *= 10.0
        raw_ext = np.concatenate((self._hist_raw, raw)) if len(self._hist_raw) else raw
        raw0 = self._next - len(self._hist_raw)  # absolute frame of raw_ext[0]
        out: list[Roi] = []
        for seg_level in level:
            floor = self._floor.push(seg_level.mean(axis=0))
            snr = seg_level - floor
            out += self._events(self._next, snr, snr.max(axis=1), raw_ext, raw0)
            self._next += n
        keep = max(k - 1, self._lag)
        self._hist_raw = raw_ext[-keep:].copy() if keep else self._hist_raw
        return out

    def _add(self, ev: _Event, upto: int, a: int, snr, stat, raw_ext, raw0) -> None:
        """Add stat frames [ev.cursor, upto] of this segment to the event's pending sums."""
        lo = max(ev.cursor, a)
        if upto < lo:
            return
        s = slice(lo - a, upto - a + 1)
        r_lo = max(lo - self._lag, raw0, 0) - raw0
        r_hi = upto - self._lag - raw0 + 1
        ev.add(snr[s], raw_ext[max(r_lo, 0) : max(r_hi, 0)], float(stat[s].max()))
        ev.cursor = upto + 1

    def _events(self, a: int, snr, stat, raw_ext, raw0) -> list[Roi]:
        st = self.settings
        out: list[Roi] = []
        above = stat >= st.off_db
        m = np.concatenate(([False], above, [False]))
        edges = np.flatnonzero(m[1:] != m[:-1])
        on = np.flatnonzero(stat >= st.on_db)
        n = len(stat)
        for s, e in zip(edges[0::2], edges[1::2]):
            ev = self._event
            if ev is not None and s == 0 and self._event_open_run:
                self._add(ev, a + e - 1, a, snr, stat, raw_ext, raw0)
                ev.commit(a + e - 1)
                continue
            j = np.searchsorted(on, s)
            if j == len(on) or on[j] >= e:
                continue  # a run that never reached on_db
            first_on = a + int(on[j])
            if ev is not None and first_on - ev.last - 1 <= self._gap:
                self._add(ev, a + e - 1, a, snr, stat, raw_ext, raw0)
                ev.commit(a + e - 1)
                continue
            if ev is not None:
                out += self._close(ev)
            ev = self._event = _Event(first_on, snr.shape[1])
            self._add(ev, a + e - 1, a, snr, stat, raw_ext, raw0)
            ev.commit(a + e - 1)
        ev = self._event
        self._event_open_run = bool(ev is not None and ev.last == a + n - 1)
        if ev is not None and not self._event_open_run:
            if a + n - ev.last - 1 > self._gap:
                out += self._close(ev)
                self._event = None
            else:
                self._add(ev, a + n - 1, a, snr, stat, raw_ext, raw0)  # pending gap frames
        return out

    def _close(self, ev: _Event) -> list[Roi]:
        spec, st = self.spec, self.settings
        raw_first = max(ev.start - self._lag, 0)
        raw_last = ev.last - self._lag
        start_s = raw_first * spec.hop / spec.sample_rate
        end_s = (raw_last * spec.hop + spec.nfft) / spec.sample_rate
        duration = end_s - start_s
        if duration < st.min_duration_s or (st.max_duration_s is not None and duration > st.max_duration_s):
            return []
        peak_bin = int(np.argmax(ev.bin_max))
        strong = ev.bin_max >= st.off_db
        lo = hi = peak_bin
        while lo > 0 and strong[lo - 1]:
            lo -= 1
        while hi < len(strong) - 1 and strong[hi + 1]:
            hi += 1
        half = self._df / 2
        low_hz = max(float(self._freqs[lo]) - half, 0.0)
        high_hz = min(float(self._freqs[hi]) + half, spec.sample_rate / 2)
        mean_psd = ev.power[lo : hi + 1] / max(ev.n_power, 1)
        mean_square = float(mean_psd.sum() * self._df)
        level = 10.0 * np.log10(mean_square) if mean_square > 0 else float("-inf")
        return [Roi(start_s, end_s, low_hz, high_hz, float(ev.peak), float(level))]

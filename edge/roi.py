"""Region-of-interest detector: adaptive noise floor, band SNR with hysteresis.

Per stream (whisper.cpp's context/state split: settings are shared, this state is not):

1. Band power is smoothed over ``smooth_bins`` bins and ``smooth_frames`` frames (a causal
   box; a single STFT cell of noise fluctuates by +-5 dB, a 3x3 box by about +-2 dB).
2. The noise floor per frequency is the median, over the last ``noise_window_s``, of the
   level of each ``noise_segment_s`` segment (its mean smoothed power, in dB).  The median ignores calls that fill
   less than half of the window in a band; the finite window makes the floor depend on the
   last ``noise_window_s`` only, so a stream cut into chunks with that much overlap gives the
   same floor.  Segments are counted from the stream's first frame, so any block size gives
   the same results.  The floor for a segment includes that segment (one segment of latency).
   Segments holding digital silence stay out of the median (:class:`_NoiseFloor`).
3. The detection statistic of a frame is the largest SNR over the band.  It is computed as a
   power ratio and only the per-frame maximum goes through a logarithm: on 96 kHz data a
   log per cell would cost as much as the FFT.  An event starts at a
   frame >= ``on_db`` and lasts while frames stay >= ``off_db``; events less than
   ``merge_gap_s`` apart merge; events shorter than ``min_duration_s`` or longer than
   ``max_duration_s`` (continuous noise, a passing ship) are dropped.
4. Each ROI's band is the contiguous run of bins around its strongest bin whose peak SNR is
   >= ``off_db``; its received level is the RMS SPL over that band and duration.

The noise-floor history can be handed to the next recording of a deployment
(``noise_state``), which is how the state carries across consecutive files.

A detector can also start at an absolute frame of a recording (``first_frame``, a multiple of
:attr:`StreamingRoiDetector.segment_frames` counted from the recording's first frame): after
:attr:`~StreamingRoiDetector.warmup_segments` segments its noise floor and smoothing equal
those of a detector that saw the whole recording, which is how a long recording is split into
chunks processed apart (``edge.cluster``).  Each :class:`~edge.types.Roi` carries the frame at
which its event started (``start_frame``), so a chunk can keep the events it owns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge import _validate as v
from edge.frontend import FrontendSpec
from edge.types import AudioBlock, Roi, SpectralFrames

_TINY = np.float32(1e-30)
_SILENCE_DB = np.float32(10.0) * np.log10(_TINY)  # a segment level of digital silence, as levels are computed
_MAX_SNR = np.float32(1e30)  # 300 dB over the floor is no signal: a cap, so power ratios stay finite
_BATCH_CELLS = 1 << 16  # float32 cells of a batch of segments: 256 kB, within a core's L2 cache


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
        v.number(
            "max_duration_s",
            self.max_duration_s,
            minimum=0,
            exclusive=True,
            allow_none=True,
            maximum=3600,
            why="an open event is held in memory",
        )
        if self.max_duration_s is not None:
            v.require(
                self.max_duration_s > self.min_duration_s,
                f"max_duration_s={self.max_duration_s} must be > min_duration_s={self.min_duration_s}",
            )
        v.number("merge_gap_s", self.merge_gap_s, minimum=0)
        for name in ("smooth_bins", "smooth_frames"):
            value = getattr(self, name)
            v.integer(name, value, minimum=1, maximum=101, why="smoothing box: time grows with its area")
            v.require(value % 2 == 1, f"{name}={value} must be odd (the box is centred)")
        v.number("noise_segment_s", self.noise_segment_s, minimum=0, exclusive=True)
        v.number(
            "noise_window_s",
            self.noise_window_s,
            minimum=0,
            exclusive=True,
            maximum=86400,
            why="a day of noise history",
        )
        v.require(
            self.noise_window_s / self.noise_segment_s <= 100_000,
            f"noise_window_s / noise_segment_s = {self.noise_window_s / self.noise_segment_s:g} segments of "
            "noise history must be <= 100000 (the history is held in memory)",
        )
        v.require(
            self.noise_window_s >= self.noise_segment_s,
            f"noise_window_s={self.noise_window_s} must be >= noise_segment_s={self.noise_segment_s}",
        )


def _freq_box_sum(raw: np.ndarray, width: int) -> np.ndarray:
    """Sum over ``width`` neighbouring bins (fewer at the band edges), float32 ``(n, nb)``.

    The edge bins' smaller count is a constant per bin, which the SNR cancels: the noise
    floor is computed from the same sums."""
    out = raw.copy()
    for d in range(1, width // 2 + 1):
        out[:, d:] += raw[:, :-d]
        out[:, :-d] += raw[:, d:]
    return out


class _NoiseFloor:
    """The last ``size`` segment levels per bin and their median over the segments of sound: a
    segment holding digital silence (a recorder's dropout, a clip's zero padding; pushed as
    ``None``) is kept in the window as silence's level but not in the median, so the floor does
    not fall to -300 dB and make the half minute after a dropout one event; it still depends on
    the last ``size`` segments only.  A segment holding silence with no segment of sound in the
    window has no floor to be measured against and starts no event (its floor is +300 dB).

    Stored bins x segments so the median is a sort of short contiguous rows (a numpy median
    across a deque of segments cost more than the rest of the detector)."""

    def __init__(self, n_bins: int, size: int, history: list[np.ndarray]) -> None:
        self._levels = np.empty((n_bins, size), np.float32)
        self._sound = np.zeros(size, bool)
        self.size = self._size = size
        self._count = 0
        self._next = 0
        for level in history[-size:]:
            if level.shape == (n_bins,):
                self.push(level)

    def push(self, level: np.ndarray | None) -> np.ndarray:
        """Add a segment's level (dB per bin; ``None``: it holds digital silence); return the
        floor (dB per bin)."""
        self._levels[:, self._next] = _SILENCE_DB if level is None else level
        self._sound[self._next] = level is not None and bool(np.any(level > _SILENCE_DB))
        self._next = (self._next + 1) % self._size
        self._count = min(self._count + 1, self._size)
        sound = self._sound[: self._count]
        if sound.all():
            held = self._levels[:, : self._count]
        elif sound.any():
            held = self._levels[:, : self._count][:, sound]
        else:
            return np.full(len(self._levels), -_SILENCE_DB, np.float32)
        ordered = np.sort(held, axis=1)
        n = ordered.shape[1]
        mid = n // 2
        if n % 2:
            return ordered[:, mid]
        return (ordered[:, mid - 1] + ordered[:, mid]) * np.float32(0.5)

    def state(self) -> list[np.ndarray]:
        """The levels, oldest first."""
        order = [(self._next - self._count + i) % self._size for i in range(self._count)]
        return [self._levels[:, i].copy() for i in order]


class _Rows:
    """Past rows followed by this segment's, sliced without joining them all."""

    def __init__(self, past: np.ndarray, rows: np.ndarray) -> None:
        self.past, self.rows = past, rows

    def __getitem__(self, s: slice) -> np.ndarray:
        p = len(self.past)
        lo, hi = s.start, s.stop
        if hi <= p:
            return self.past[lo:hi]
        if lo >= p:
            return self.rows[lo - p : hi - p]
        return np.concatenate((self.past[lo:], self.rows[: hi - p]))


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
        """Add frames to the pending sums: ``snr`` power ratios and ``raw`` PSD rows."""
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
    """Finds ROIs in a stream of :class:`SpectralFrames` from one recording or deployment;
    ``heard_top_hz`` is the top of the band heard (a lossy recording's encoder top: bins above it
    trigger nothing), ``recorded_top_hz`` (``Prepared.held_hz``) the top of the band the
    recording holds: bins above it may extend an event (a resampler's residue rings with the
    short calls below it, whose events it lengthens past ``min_duration_s``) but never place
    one, and an event that no bin below it raised to ``on_db`` is no ROI."""

    name = "roi"  # the stage edge-bench times it as

    def __init__(
        self,
        settings: RoiSettings,
        spec: FrontendSpec,
        *,
        noise_state: list[np.ndarray] | None = None,
        first_frame: int = 0,
        heard_top_hz: float | None = None,
        recorded_top_hz: float | None = None,
    ) -> None:
        if first_frame < 0:
            raise ValueError(f"{first_frame=} must be >= 0")
        self.settings = settings
        self.spec = spec
        freqs = spec.bin_freqs()
        fmax = settings.fmax if settings.fmax is not None else freqs[-1]
        idx = np.flatnonzero((freqs >= settings.fmin) & (freqs <= fmax))
        if len(idx) == 0:
            raise ValueError(
                f"ROI band {settings.fmin}-{fmax} Hz holds no frequency bin at "
                f"sample_rate={spec.rate}, nfft={spec.nfft}"
            )
        self._bins = slice(int(idx[0]), int(idx[-1]) + 1)
        self._freqs = freqs[self._bins]
        # bins above the band the recording holds (a lossy encoder's, a resampler's) keep their
        # floor, so the noise history stays the deployment's shape, but are heard nowhere: the
        # decoder's zeros, broken by a burst now and then, would be calls 40-80 dB over the floor
        self._heard = self._bins_to(heard_top_hz)
        # an event's band, peak and level are measured on the bins the recording holds: a recording
        # resampled up gave ROIs at up to 19 kHz from an 8 kHz file, placed on the residue's SNR, whose
        # floor is so low that it outshines the call below that raised the event
        self._recorded = self._bins_to(recorded_top_hz)
        self._df = spec.rate / spec.nfft
        hop_s = spec.hop_s
        self._seg = max(1, round(settings.noise_segment_s / hop_s))
        self._floor = _NoiseFloor(
            len(idx), max(1, round(settings.noise_window_s / settings.noise_segment_s)), noise_state or []
        )
        self._lag = settings.smooth_frames // 2
        self._gap = int(np.floor(settings.merge_gap_s / hop_s + 1e-9))
        nb = len(idx)
        self._buf = np.empty((self._seg, nb), np.float32)  # a segment being filled
        self._n_buf = 0
        self._next = int(first_frame)  # absolute index of the first frame not yet processed
        # Whole segments go through together, as many as fit a cache-sized work array: at 2 kHz
        # a segment is 31 frames of 33 bins and one at a time spent its time in numpy calls.
        self._batch = max(1, _BATCH_CELLS // (self._seg * nb))
        rows = self._batch * self._seg
        self._fs_ext = np.empty((rows + settings.smooth_frames - 1, nb), np.float32)
        self._ts = np.empty((rows, nb), np.float32)
        self._started = False
        self._hist_raw = np.zeros((0, nb), np.float32)  # the last ``lag`` raw rows
        self._event: _Event | None = None
        self._event_open_run = False  # the event's run reached the end of the last segment

    def _bins_to(self, top_hz: float | None) -> int:
        """How many of the detector's bins lie at or below ``top_hz`` (all of them for None)."""
        return len(self._freqs) if top_hz is None else int(np.searchsorted(self._freqs, top_hz, side="right"))

    def noise_state(self) -> list[np.ndarray]:
        """The noise-floor history, to continue with the next recording."""
        return self._floor.state()

    @property
    def segment_frames(self) -> int:
        """Frames per noise segment; segments are counted from the stream's first frame."""
        return self._seg

    @property
    def warmup_segments(self) -> int:
        """Whole segments to replay before a segment boundary so that a detector started
        there (``first_frame``) has the noise floor and smoothing history of one that saw the
        stream from its start: the floor's window plus the segments the smoothing box spans.
        Open events need a further margin covering the longest event."""
        return self._floor.size + -(-(self.settings.smooth_frames - 1) // self._seg)

    @property
    def processed_frames(self) -> int:
        """Absolute index of the first frame not yet through the detector (frames of a
        partly filled segment wait in a buffer until it is complete or :meth:`flush`)."""
        return self._next

    @property
    def open_event_start(self) -> int | None:
        """Start frame of the event still open (it may yet grow or merge), or None."""
        return self._event.start if self._event is not None else None

    @property
    def earliest_frame(self) -> int:
        """The first frame an ROI not yet returned can start at: the open event's start, or
        the first frame not yet processed, less the smoothing lag."""
        first = self._next
        if self._event is not None:
            first = min(first, self._event.start)
        return first - self._lag

    def push(self, frames: SpectralFrames, block: AudioBlock | None = None) -> list[Roi]:
        """ROIs completed by ``frames`` (consecutive with the last push); ``block`` is unused:
        this stage works on the spectrogram alone."""
        if frames.n_frames == 0:
            return []
        if frames.first_frame != self._next + self._n_buf:
            raise ValueError(f"frames start at {frames.first_frame}, expected {self._next + self._n_buf}")
        rows = frames.psd[:, self._bins]
        seg, out = self._seg, []
        i, n = 0, len(rows)
        if self._n_buf:  # complete the segment being filled
            take = min(seg - self._n_buf, n)
            self._buf[self._n_buf : self._n_buf + take] = rows[:take]
            self._n_buf += take
            i = take
            if self._n_buf == seg:
                self._n_buf = 0
                out += self._segments(self._buf, seg)
        while n - i >= seg:  # whole segments in place, no copy
            k = min((n - i) // seg, self._batch)
            out += self._segments(rows[i : i + k * seg], seg)
            i += k * seg
        if i < n:
            self._buf[: n - i] = rows[i:]
            self._n_buf = n - i
        return out

    def flush(self) -> list[Roi]:
        """Process what is buffered and close the open event: the stream has ended."""
        out: list[Roi] = []
        if self._n_buf:
            n, self._n_buf = self._n_buf, 0
            out += self._segments(self._buf[:n], n)
        if self._event is not None:
            out += self._close(self._event)
            self._event = None
        return out

    # -- internals --------------------------------------------------------------------
    def _segments(self, raw: np.ndarray, seg: int) -> list[Roi]:
        """Whole noise segments of ``seg`` band rows each, ``raw`` ``(k * seg, nb)`` (one shorter
        segment only at the stream's end).

        Each segment gets the floor of the segments up to it and the events are walked segment
        by segment, exactly as one segment at a time would (the event sums are added in the
        same pieces), so results do not depend on how many segments a push holds."""
        st = self.settings
        a, m = self._next, len(raw)
        n_seg, nb = m // seg, raw.shape[1]
        k, h = st.smooth_frames, st.smooth_bins // 2
        fsx = self._fs_ext  # rows 0..k-2: the previous smoothed rows; then these segments'
        f = fsx[k - 1 : k - 1 + m]
        if h and nb > 1:  # sum over neighbouring bins; the copy folded into the first add
            np.add(raw[:, :-1], raw[:, 1:], out=f[:, :-1])
            f[:, -1] = raw[:, -1]
            f[:, 1:] += raw[:, :-1]
            for d in range(2, h + 1):
                f[:, d:] += raw[:, :-d]
                f[:, :-d] += raw[:, d:]
        else:
            f[:] = raw
        if not self._started:  # stream start: no past frames, repeat the first
            fsx[: k - 1] = f[:1]
            self._started = True
        ts = self._ts[:m]
        if k > 1:  # causal sum over frames
            np.add(f, fsx[k - 2 : k - 2 + m], out=ts)
            for d in range(2, k):
                ts += fsx[k - 1 - d : k - 1 - d + m]
        else:
            ts[:] = f
        fsx[: k - 1] = fsx[m : m + k - 1]
        cells = ts.reshape(n_seg, seg, nb)
        level = 10.0 * np.log10(np.maximum(cells.mean(axis=1), _TINY))
        # a segment with a frame of digital silence (every band power zero) is no noise sample
        silent = np.all(raw.reshape(n_seg, seg, nb) <= 0, axis=2).any(axis=1)
        floor_db = np.stack([self._floor.push(None if quiet else row) for row, quiet in zip(level, silent)])
        with np.errstate(over="ignore"):  # a floor far under the cells' power: SNR capped below
            cells *= (10.0 ** (-floor_db / 10.0)).astype(np.float32)[:, None, :]  # -> SNR as a power ratio
        np.minimum(ts, _MAX_SNR, out=ts)
        if self._heard < nb:
            ts[:, self._heard :] = 0.0
        stat = 10.0 * np.log10(np.maximum(ts.max(axis=1), _TINY))
        out = self._events(a, seg, ts, stat, _Rows(self._hist_raw, raw), a - len(self._hist_raw))
        if self._lag:
            self._hist_raw = np.concatenate((self._hist_raw, raw[-self._lag :]))[-self._lag :]
        self._next = a + m
        return out

    def _add(
        self, ev: _Event, upto: int, lo: int, a: int, snr: np.ndarray, stat: np.ndarray, raw_ext: _Rows, raw0: int
    ) -> None:
        """Add stat frames [max(ev.cursor, lo), upto] (``snr`` and ``stat`` start at frame ``a``)
        to the event's pending sums."""
        lo = max(ev.cursor, lo)
        if upto < lo:
            return
        s = slice(lo - a, upto - a + 1)
        r_lo = max(lo - self._lag, raw0, 0) - raw0
        r_hi = upto - self._lag - raw0 + 1
        ev.add(snr[s], raw_ext[max(r_lo, 0) : max(r_hi, 0)], float(stat[s].max()))
        ev.cursor = upto + 1

    def _events(self, a: int, seg: int, snr: np.ndarray, stat: np.ndarray, raw_ext: _Rows, raw0: int) -> list[Roi]:
        """Hysteresis events over segments of ``seg`` frames starting at frame ``a``.

        Runs of frames >= off_db are cut at segment ends; a run continues an open event across
        one, and an event's pending gap frames are added at each.  Only the runs that can
        matter (reaching on_db, or starting a segment while an event is open) and the ends of
        segments while an event is open are walked in Python."""
        st = self.settings
        out: list[Roi] = []
        n_seg = len(stat) // seg
        padded = np.zeros((n_seg, seg + 2), bool)
        padded[:, 1:-1] = (stat >= st.off_db).reshape(n_seg, seg)
        seg_of, pos = np.nonzero(padded[:, 1:] != padded[:, :-1])
        runs_seg, starts, ends = seg_of[0::2], pos[0::2], pos[1::2]
        on = np.flatnonzero(stat >= st.on_db)
        first = runs_seg * seg + starts
        j = np.searchsorted(on, first)
        first_on = on[np.minimum(j, len(on) - 1)] if len(on) else first
        reaches = (j < len(on)) & (first_on < runs_seg * seg + ends)
        keep = np.flatnonzero(reaches | (starts == 0))
        done = 0  # segments whose end has been handled

        def segment_ends(upto: int) -> None:
            nonlocal done, out
            while done < upto:
                ev = self._event
                if ev is None:  # nothing open: the ends of the segments between change nothing
                    self._event_open_run = False
                    done = upto
                    return
                a_seg, end = a + done * seg, a + (done + 1) * seg - 1
                self._event_open_run = ev.last == end
                if not self._event_open_run:
                    if end - ev.last > self._gap:
                        out += self._close(ev)
                        self._event = None
                    else:
                        self._add(ev, end, a_seg, a, snr, stat, raw_ext, raw0)  # pending gap frames
                done += 1

        for r in keep.tolist():
            jseg = int(runs_seg[r])
            segment_ends(jseg)
            a_seg = a + jseg * seg
            e = a_seg + int(ends[r]) - 1  # the run's last frame
            ev = self._event
            if ev is not None and starts[r] == 0 and self._event_open_run:
                self._add(ev, e, a_seg, a, snr, stat, raw_ext, raw0)
                ev.commit(e)
                continue
            if not reaches[r]:
                continue  # a run that never reached on_db
            start = a + int(first_on[r])
            if ev is not None and start - ev.last - 1 <= self._gap:
                self._add(ev, e, a_seg, a, snr, stat, raw_ext, raw0)
                ev.commit(e)
                continue
            if ev is not None:
                out += self._close(ev)
            ev = self._event = _Event(start, snr.shape[1])
            self._add(ev, e, a_seg, a, snr, stat, raw_ext, raw0)
            ev.commit(e)
        segment_ends(n_seg)
        return out

    def _close(self, ev: _Event) -> list[Roi]:
        spec, st = self.spec, self.settings
        raw_first = max(ev.start - self._lag, 0)
        raw_last = ev.last - self._lag
        start_s = raw_first * spec.hop / spec.rate
        end_s = (raw_last * spec.hop + spec.nfft) / spec.rate
        duration = end_s - start_s
        if duration < st.min_duration_s or (st.max_duration_s is not None and duration > st.max_duration_s):
            return []
        bin_max, peak = ev.bin_max, float(ev.peak)
        if self._recorded < len(bin_max):
            bin_max = bin_max[: self._recorded]
            best = float(bin_max.max()) if len(bin_max) else 0.0
            if not best >= 10.0 ** (st.on_db / 10.0):  # only the band above the recording's rose
                return []
            peak = float(10.0 * np.log10(best))
        peak_bin = int(np.argmax(bin_max))
        strong = bin_max >= 10.0 ** (st.off_db / 10.0)  # bin_max holds power ratios
        lo = hi = peak_bin
        while lo > 0 and strong[lo - 1]:
            lo -= 1
        while hi < len(strong) - 1 and strong[hi + 1]:
            hi += 1
        half = self._df / 2
        low_hz = max(float(self._freqs[lo]) - half, 0.0)
        high_hz = min(float(self._freqs[hi]) + half, spec.rate / 2)
        mean_psd = ev.power[lo : hi + 1] / max(ev.n_power, 1)
        mean_square = float(mean_psd.sum() * self._df)
        level = 10.0 * np.log10(mean_square) if mean_square > 0 else float("-inf")
        return [Roi(start_s, end_s, low_hz, high_hz, peak, float(level), ev.start)]

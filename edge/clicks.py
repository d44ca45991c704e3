"""The impulse detector: echolocation clicks (sperm whales, dolphins, porpoises, beaked whales)
as a candidate stage beside the tonal ROI detector.

Each block of samples (at the analysis rate) is band-passed (Butterworth, state carried) in
the whole band and in ``bands_per_octave`` sub-bands of it; in each band the energy (squared
samples) is averaged over ``time_bandwidth`` / the band's width, about as long as a click
filling that band lasts, and compared with the band's running floor (the median of the medians
of the last ``noise_window_s`` of 10-ms segments). Where any band is ``threshold_db`` above its
floor there is a click; excursions closer than ``min_separation_s`` are one.  A bank rather
than one broad band because a click's energy sits in part of the band: a narrow or low click
in the whole band competes with all of the band's noise (and Teager-Kaiser energy, tried
first, weights a sample by its frequency squared, so clicks at 5 kHz lost about 10 dB against
noise at 40 kHz); the same time-bandwidth product in every band gives every band the same
noise statistics in white noise, so one threshold serves all.  The sea's noise is not white: it
falls with frequency (5-6 dB an octave above the shipping band), a recorder's self-noise may rise
towards the top, and then a band's energy comes mostly from part of it, averaged over a time that
suits the whole band's width: fewer independent squares, larger fluctuations (Gaussian noise
falling 6 dB an octave from 2 kHz passed the threshold 237 times a minute in the whole band;
white noise: none).  So each band's threshold over its floor is raised by
:func:`colour_margins`, from the noise's spectrum over the last noise window (the median of
``SPECTRUM_S`` frames of the raw samples), to what gives that band's fluctuations the chance
white noise has of passing the threshold.

Each click is measured on the whole band's samples around its peak: peak and centroid
frequency, -3 and -10 dB bandwidth, duration (energy within -10 dB of its peak), received level in dB
re 1 uPa peak-to-peak (calibrated) and SNR.  Clicks closer in time than ``train_max_ici_s``
form a train; a train of ``train_min_clicks`` or more is a region of interest (its band the
median -10 dB band of its clicks, its level the median click level, with its click count and
median inter-click interval between its principal clicks, those within ``PRINCIPAL_DB`` of its
strongest, unless they are too far apart to be a train of their own), which the classifier and
every output handle like any ROI.

The work is done in whole 10-ms segments counted from the stream's first sample, so the clicks
do not depend on how the stream is cut into blocks, and memory holds a segment, a click's
window, the open train and the noise spectrum's frames of up to two noise windows (and, until the
stream has that much sound, its first ``LEAD_S``).

A recording starts mid-waveform, not after silence: its low-frequency sound (far louder than
the band, 50 dB on a shallow site) enters the band-pass filters as a step, and the first
segments' floor, a median of a few, is no floor. So no click starts before the filters have rung
down 80 dB from the sound's first sample (:func:`_settling`: 7 ms from 2 kHz, the one stretch of
a recording the detector does not hear), and each band's floor history starts from a lead-in: the
segment medians of the first ``LEAD_S`` of sound, filtered apart before it goes through (its own
filters' ringing is one segment of fifty in that median).  Digital silence (``SILENCE_S``
or more of exact zeros: a clip library's padding, a recorder's dropout) is no sound: its
segments stay out of every floor, nothing is heard in it, leading silence comes before the
lead-in, and sound resuming after it rings down like a start.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from edge import _validate as v
from edge._filters import butter_sos, sos_power_gain, sosfilt
from edge.click_types import ClickType, click_types, train_type, type_of
from edge.types import AudioBlock, Roi, SpectralFrames

SEGMENT_S = 0.01  # floor and detection work unit
# samples filtered at once: each band holds a few arrays of this many float64 values, so memory
# does not grow with the block (a 5-s block at 384 kHz held about 300 MB whole)
CHUNK_SAMPLES = 1 << 17
# a train's interval is read from its principal clicks, those within this of its strongest's SNR:
# faint impulses between a sperm whale's clicks (shrimp, a distant animal) would otherwise halve it
PRINCIPAL_DB = 10.0
_TINY = 1e-30
# the lead-in each band's floor history starts from (see the module's docstring): 50 segments give
# the first segments' floor a median of its own
LEAD_S = 0.5
# exact zeros in a row that are digital silence (a dropout, a clip library's padding): a quiet
# recording's low-frequency sound a few bits deep stays at zero for up to 1.75 ms as it crosses it
# (the SanctSound clips of ../shared), so ten times that
SILENCE_S = 0.02
# frames (to the next power of two samples) of the noise spectrum the thresholds' margins are read from
SPECTRUM_S = 0.02
SMOOTH_BINS = 5  # the noise spectrum smoothed over this many bins: a median of 87 frames still varies


@dataclass(frozen=True)
class ClickSettings:
    """The ``clicks:`` section of a deployment (no section: no impulse detector)."""

    fmin: float = 2000.0  # band-pass, Hz
    fmax: float | None = None  # None: 0.9 x Nyquist
    threshold_db: float = 8.5  # a band's averaged energy over its running floor
    bands_per_octave: int = 1  # sub-bands of [fmin, fmax] beside the whole band; 0: the whole band alone
    time_bandwidth: float = 4.0  # each band's energy averaged over this / its width (Hz), seconds
    noise_window_s: float = 2.0
    min_separation_s: float = 0.002  # excursions closer than this are one click
    window_s: float = 0.002  # measured around each click's peak (half before, half after)
    train_max_ici_s: float = 2.0  # clicks closer than this belong to one train
    train_min_clicks: int = 3
    train_max_s: float = 300.0  # a train this long is closed and another begins (snapping shrimp never stop)
    # click types (edge.click_types), in order: a mapping name -> ranges of peak_hz, centroid_hz,
    # bandwidth3_hz, duration_s; each click is of the first that holds it, a train of the type of
    # at least half its clicks (its label where no classifier runs)
    types: tuple[ClickType, ...] = ()
    unclassified: str = "keep"  # keep | drop: clicks of no type (drop: neither listed nor in a train)

    def __post_init__(self) -> None:
        object.__setattr__(self, "types", click_types(self.types))
        v.require(self.unclassified in ("keep", "drop"), f"unclassified={self.unclassified!r} must be keep or drop")
        v.require(self.unclassified == "keep" or bool(self.types), "unclassified: drop needs types: to drop by")
        v.number("fmin", self.fmin, minimum=0)
        v.number("fmax", self.fmax, minimum=0, exclusive=True, allow_none=True)
        if self.fmax is not None:
            v.require(self.fmax > self.fmin, f"fmax={self.fmax} must be > fmin={self.fmin}")
        v.number("threshold_db", self.threshold_db, minimum=0, exclusive=True, maximum=60, why="dB over the floor")
        v.integer("bands_per_octave", self.bands_per_octave, minimum=0, maximum=6, why="filters run per sample")
        v.number("time_bandwidth", self.time_bandwidth, minimum=1, maximum=100, why="samples averaged")
        v.number("noise_window_s", self.noise_window_s, minimum=SEGMENT_S, maximum=600, why="segments held")
        v.number("min_separation_s", self.min_separation_s, minimum=0, maximum=1, why="a second")
        v.number("window_s", self.window_s, minimum=0.0002, maximum=0.1, why="samples held per click")
        v.number("train_max_ici_s", self.train_max_ici_s, minimum=0, exclusive=True, maximum=60, why="a minute")
        v.integer("train_min_clicks", self.train_min_clicks, minimum=1, maximum=1000, why="clicks held per train")
        v.number("train_max_s", self.train_max_s, minimum=0, exclusive=True, maximum=3600, why="clicks held per train")

    def top_hz(self, rate: int) -> float:
        """The band's top at analysis ``rate``: ``fmax``, else 90 % of the Nyquist frequency."""
        return self.fmax if self.fmax is not None else 0.9 * rate / 2


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
    snr_db: float  # the highest band's averaged energy over its floor
    type: str = ""  # its click type (ClickSettings.types); "" for none


class ImpulseDetector:
    """A :class:`~edge.types.CandidateStage` finding click trains in a stream at ``rate``;
    ``level_db`` is the calibration's full-scale SPL minus its gain, ``hop`` the frontend's
    (ROIs carry the frame they start in).  ``held_hz``, the top of the band the recording holds
    when it holds less than the whole band (``Prepared.held_hz``: a recording resampled up to
    ``rate``, a lossy one), caps the band (see :func:`heard_top`)."""

    name = "clicks"  # the stage edge-bench times it as

    def __init__(
        self,
        settings: ClickSettings,
        rate: int,
        *,
        level_db: float,
        hop: int,
        first_frame: int = 0,
        on_click: Callable[[Click], None] | None = None,
        held_hz: float | None = None,
    ) -> None:
        nyquist = rate / 2
        fmax = settings.top_hz(rate)
        if not settings.fmin < fmax < nyquist:
            raise ValueError(
                f"clicks band {settings.fmin:g}-{fmax:g} Hz does not fit below the Nyquist frequency "
                f"{nyquist:g} Hz of the analysis rate {rate} Hz"
            )
        top = heard_top(settings, rate, held_hz)
        if top is None:
            raise ValueError(
                f"clicks band {settings.fmin:g}-{fmax:g} Hz lies above what the recording holds (up to {held_hz:g} Hz)"
            )
        fmax = top
        self.settings, self.rate, self.hop, self.level_db = settings, rate, hop, level_db
        edges = bank(settings.fmin, fmax, settings.bands_per_octave)
        self._bands = [
            _Band(butter_sos(4, lo, hi, rate), max(1, round(settings.time_bandwidth / (hi - lo) * rate)))
            for lo, hi in edges
        ]
        # each band's power gain on the bins of the noise spectrum (its margin's weights)
        self._nfft = 1 << max(4, math.ceil(math.log2(SPECTRUM_S * rate)))
        bins = np.fft.rfftfreq(self._nfft, 1 / rate)
        self._gains = np.array([sos_power_gain(band.sos, bins, rate) for band in self._bands])
        # the filters start from rest: low-frequency sound far louder than the band rings them at the
        # sound's start (and where it resumes after silence), so no click starts before they settle
        self._settle = max(_settling(band, lo or hi, rate) for band, (lo, hi) in zip(self._bands, edges))
        self._seg = max(3, round(SEGMENT_S * rate))
        self._chunk = max(1, CHUNK_SAMPLES // self._seg) * self._seg  # whole segments
        self._half = max(2, round(settings.window_s * rate / 2))
        self._sep = round(settings.min_separation_s * rate)
        self._window = max(1, round(settings.noise_window_s / SEGMENT_S))
        self._start = first_frame * hop  # absolute index of the stream's first sample
        self._z = max(2, round(SILENCE_S * rate))
        self._zeros = np.zeros(0, bool)  # which samples are exactly zero, from self._zeros0 on
        self._zeros0 = self._start
        self._was_silent = False  # the last sample before self._done lies in digital silence
        self._quiet_until = self._start  # no click starts before this sample (set where sound starts)
        # the stream's first samples of sound, held until the lead-in can be made of them (whole
        # segments, at most the floor's window): then the floors are primed and these go through
        self._lead = min(round(LEAD_S / SEGMENT_S), self._window) * self._seg
        self._head: list[np.ndarray] | None = []
        self._y = np.zeros(0)  # band-passed samples from self._y0 on, still needed
        self._y0 = self._start
        self._done = self._start  # energy is known for the samples before this
        self._run: list[int] | None = None  # open excursion: [start, end, peak] (absolute)
        self._peak_ratio = 1.0
        self._pending: list[tuple[int, int, int, float]] = []  # excursions waiting for their window
        self._train: list[Click] = []  # the open train: memory holds it, never every click of a recording
        # the noise spectrum: raw samples not yet in a frame (frames count from the stream's first
        # sample), the recent frames' power with the sample each ends at, and the margins of the
        # noise window being heard (see colour_margins)
        self._raw = np.zeros(0)
        self._raw0 = self._start
        self._spectra: list[tuple[int, np.ndarray]] = []
        self._epoch_len = self._window * self._seg
        self._epoch = -1
        self._margins = np.ones(len(self._bands))
        self._lead_margins = np.ones(len(self._bands))
        self.n_clicks = 0
        self.on_click = on_click  # sees every click measured, in time order (per-click outputs)

    # -- the CandidateStage protocol ----------------------------------------------------------

    def push(self, frames: SpectralFrames, block: AudioBlock | None = None) -> list[Roi]:
        if block is None:
            raise ValueError("the impulse detector needs the samples the frames were made from")
        samples = np.asarray(block.samples)
        finite = np.isfinite(samples)
        if not finite.all():  # a float recording's NaN or inf would stay in the filters' state to its end
            samples = np.where(finite, samples, 0).astype(samples.dtype)  # as the frames: silence
        if self._head is None:
            return self._filter(samples)
        out: list[Roi] = []
        if not self._head:  # no sound yet: leading zeros go through at once (silence, nothing held)
            nonzero = samples != 0
            if not nonzero.any():
                return self._filter(samples)
            first = int(nonzero.argmax())
            out, samples = self._filter(samples[:first]), samples[first:]
        held = sum(len(h) for h in self._head)
        if held + len(samples) <= self._lead:  # still gathering the lead-in
            self._head.append(np.array(samples, np.float64))  # a copy: the caller may reuse its buffer
            return out
        parts = [*self._head, samples]
        self._prime(np.concatenate((*self._head, samples[: self._lead + 1 - held])))
        return out + [roi for part in parts for roi in self._filter(part)]

    def flush(self) -> list[Roi]:
        out: list[Roi] = []
        if self._head:  # a stream whose sound is shorter than the lead-in
            parts = self._head
            self._prime(np.concatenate(parts))
            out = [roi for part in parts for roi in self._filter(part)]
        self._head = None
        return out + self._advance(final=True)

    def _prime(self, first: np.ndarray) -> None:
        """The floor history each band starts from: its segment medians over the lead-in made of
        the ``first`` samples of the stream's sound, filtered apart (the stream's own filters start
        from rest, their ringing at its start left unheard); once, before the sound goes through."""
        self._head = None
        sound = self._y0 + len(self._y)  # what went through before the sound: leading zeros
        self._quiet_until = max(self._quiet_until, sound + self._settle)
        n = min(self._lead, (len(first) - 1) // self._seg * self._seg)  # whole segments
        if n <= 0:
            return
        lead = np.asarray(first[:n], np.float64)  # as the stream is filtered, however it arrives
        pad = np.zeros(self._z - 1, bool)
        loud = _loud(_silent(np.concatenate((pad, lead == 0, pad)), self._z, n), self._seg)
        for band in self._bands:
            y = sosfilt(band.sos, lead)
            averaged = _mean_by_segment(
                np.concatenate((np.zeros(band.length - 1), y * y)), band.length, self._seg, n // self._seg
            )
            band.medians = _segment_medians(averaged, self._seg)[loud][-self._window :]
        frames = _spectra(lead, self._nfft)
        frames = frames[frames.any(axis=1)]  # digital silence tells nothing of the noise
        if len(frames):
            self._lead_margins = self._margins_of(frames)

    def _filter(self, samples: np.ndarray) -> list[Roi]:
        out: list[Roi] = []
        for a in range(0, len(samples), self._chunk):
            x = np.asarray(samples[a : a + self._chunk], np.float64)
            for i, band in enumerate(self._bands):
                y, band.zi = sosfilt(band.sos, x, band.zi)
                if i == 0:  # the whole band: what clicks are measured on
                    self._y = np.concatenate((self._y, y))
                band.energy = np.concatenate((band.energy, y * y))
            self._zeros = np.concatenate((self._zeros, x == 0))
            self._frame(x)
            out += self._advance(final=False)
        return out

    @property
    def earliest_frame(self) -> int:
        """No train returned later starts before its first click, nor before what is still
        waiting to be measured."""
        candidates = [min(self._y0 + len(self._y) - self._seg, self._done) - self._half]
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
        # whole segments from the stream's start, and at the stream's end the partial last one; a
        # silence's length is known only self._z - 1 samples on, so those wait for the next block
        whole = max(0, (end - (self._z - 1) - self._done) // self._seg)
        stop = self._done + whole * self._seg
        if final and stop < end:
            stop = end
        if stop > self._done:
            self._span(self._done, stop)
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

    def _span(self, a: int, b: int) -> None:
        """Samples ``[a, b)`` (absolute; whole segments, the last possibly partial at the
        stream's end): each band's averaged energy against the band's floor of the segments
        before each; a sample's ratio is its highest band's."""
        seg, n = self._seg, b - a
        nseg = -(-n // seg)
        silent = self._silence(a, b)
        loud = _loud(silent, seg)
        ratio = np.zeros(n)
        margins = self._segment_margins(a, nseg)
        for i, band in enumerate(self._bands):
            energy = _mean_by_segment(band.energy[: n + band.length - 1], band.length, seg, nseg)[:n]
            band.energy = band.energy[n:]  # the band's own history: its last length - 1 samples before b
            # digital silence is no floor: its segments stay out of the median, and nothing is heard there
            floors = self._floor_of(band, energy, loud) * margins[i]
            np.maximum(ratio, energy / np.repeat(floors, seg)[:n], out=ratio)
        heard = ~silent
        # sound resuming after silence enters the filters as a step, as a stream's start would: they
        # ring down first
        for k in np.flatnonzero(heard & ~np.concatenate(([not self._was_silent], heard[:-1]))):
            self._quiet_until = max(self._quiet_until, a + int(k) + self._settle)
        heard[: max(0, self._quiet_until - a)] = False
        self._was_silent = bool(silent[-1])
        self._excursions(a, ratio, np.flatnonzero(heard & (ratio > 10 ** (self.settings.threshold_db / 10))))
        if self._run is not None and b - self._run[1] > self._sep:
            self._close_run()

    def _excursions(self, a: int, ratio: np.ndarray, over: np.ndarray) -> None:
        """Extend the open excursion and open new ones over the samples ``over`` (indices into
        ``ratio``, from absolute sample ``a``) that pass the threshold: samples at most ``_sep``
        apart are one excursion, its peak its first highest ratio.  A group at a time, not a sample:
        snapping shrimp put hundreds of thousands of samples an hour over the threshold."""
        if not len(over):
            return
        # group g spans over[starts[g] : starts[g + 1]]
        starts = np.concatenate(([0], np.flatnonzero(np.diff(over) - 1 > self._sep) + 1, [len(over)]))
        for s, e in zip(starts[:-1].tolist(), starts[1:].tolist()):
            values = ratio[over[s:e]]
            top = int(np.argmax(values))
            first, last, peak = a + int(over[s]), a + int(over[e - 1]), a + int(over[s + top])
            if self._run is not None and first - self._run[1] > self._sep:
                self._close_run()
            if self._run is None:
                self._run, self._peak_ratio = [first, last + 1, peak], float(values[top])
            else:
                self._run[1] = last + 1
                if values[top] > self._peak_ratio:
                    self._run[2], self._peak_ratio = peak, float(values[top])

    def _frame(self, x: np.ndarray) -> None:
        """The noise spectrum's frames of raw samples ``x`` (the stream's next), whole ones kept
        with the sample each ends at; frames of digital silence tell nothing and are left out."""
        raw = np.concatenate((self._raw, x))
        whole = len(raw) // self._nfft * self._nfft
        if whole:
            ends = self._raw0 + self._nfft * np.arange(1, whole // self._nfft + 1)
            power = _spectra(raw[:whole], self._nfft)
            self._spectra += [(int(e), p) for e, p in zip(ends, power) if p.any()]
        self._raw, self._raw0 = raw[whole:], self._raw0 + whole

    def _segment_margins(self, a: int, nseg: int) -> np.ndarray:
        """Each band's margin for each segment from sample ``a`` (bands x segments): the margins of
        the noise window holding the segment's start, read from the noise of the window before it
        (the lead-in's for the first window, and for a window after silence)."""
        epochs = (a + self._seg * np.arange(nseg) - self._start) // self._epoch_len
        out = np.empty((len(self._bands), nseg))
        for epoch in np.unique(epochs):
            if epoch != self._epoch:
                begin = self._start + int(epoch) * self._epoch_len
                self._spectra = [f for f in self._spectra if f[0] > begin - self._epoch_len]
                frames = [p for end, p in self._spectra if end <= begin]
                self._margins = self._margins_of(np.array(frames)) if frames else self._lead_margins
                self._epoch = int(epoch)
            out[:, epochs == epoch] = self._margins[:, None]
        return out

    def _margins_of(self, frames: np.ndarray) -> np.ndarray:
        st = self.settings
        return colour_margins(np.median(frames, axis=0), self._gains, st.time_bandwidth, 10 ** (st.threshold_db / 10))

    def _floor_of(self, band: _Band, energy: np.ndarray, loud: np.ndarray) -> np.ndarray:
        """Each segment's floor of ``energy`` (the band's averaged energy over a span of whole
        segments): the median of the band's last segment medians before it, infinite in silence."""
        medians = _segment_medians(energy, self._seg)
        floors = np.full(len(medians), np.inf)
        floors[loud] = _floors(band.medians, medians[loud], self._window)
        band.medians = np.concatenate((band.medians, medians[loud]))[-self._window :]
        return floors

    def _silence(self, a: int, b: int) -> np.ndarray:
        """Which samples of ``[a, b)`` lie in a run of at least ``self._z`` exact zeros (what is
        known of the run up to ``self._z - 1`` samples on; before the stream, none)."""
        z = self._z
        lo, hi = a - (z - 1) - self._zeros0, b + (z - 1) - self._zeros0
        flags = self._zeros[max(lo, 0) : hi]
        ext = np.concatenate((np.zeros(max(0, -lo), bool), flags, np.zeros(hi - max(lo, 0) - len(flags), bool)))
        cut = max(0, b - (z - 1) - self._zeros0)
        self._zeros, self._zeros0 = self._zeros[cut:], self._zeros0 + cut
        return _silent(ext, z, b - a)

    def _close_run(self) -> None:
        if self._run is not None:
            start, stop, peak = self._run
            self._pending.append((start, stop, peak, 10 * math.log10(self._peak_ratio)))
            self._run = None

    def _measure(self, final: bool) -> list[Roi]:
        """Measure the excursions whose window is in, in order; clicks into trains."""
        out: list[Roi] = []
        end = self._y0 + len(self._y)
        while self._pending and (final or self._pending[0][2] + self._half <= end):
            start, stop, peak, snr = self._pending.pop(0)
            click = self._click(start, stop, peak, snr)
            if self.settings.types:
                click = replace(click, type=type_of(click, self.settings.types))
                if not click.type and self.settings.unclassified == "drop":
                    continue
            out += self._add(click)
        return out

    def _click(self, start: int, stop: int, peak: int, snr: float) -> Click:
        a = max(peak - self._half, self._y0)
        w = self._y[a - self._y0 : peak + self._half - self._y0]
        level = 20 * math.log10(max(float(w.max() - w.min()), _TINY)) + self.level_db
        # duration: the contiguous stretch around the peak of the smoothed energy within -10 dB of it
        k = self._bands[0].length
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
        strongest = max(c.snr_db for c in clicks)
        icis = np.diff([c.time_s for c in clicks if c.snr_db >= strongest - PRINCIPAL_DB])
        if not len(icis) or np.median(icis) > self.settings.train_max_ici_s:
            # one principal click, or a few far apart (no train of their own): every click's
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
                ici_s=float(np.median(icis)) if len(icis) else float("nan"),  # one click: no interval
                kind=train_type([c.type for c in clicks], [t.name for t in self.settings.types]),
            )
        ]


def train_text(clicks: int, ici_s: float) -> str:
    """A click train as plots and the report say it: "14 clicks, ICI 0.845 s"; "" for a record
    that is not one."""
    if not clicks:
        return ""
    count = f"{clicks} click{'s' if clicks != 1 else ''}"
    return count if math.isnan(ici_s) else f"{count}, ICI {ici_s:.3g} s"


@dataclass
class _Band:
    """One band of the bank: its filter and state, the averaging length (samples), the squared
    samples not yet averaged (with the ``length - 1`` before them), its recent segment medians."""

    sos: np.ndarray
    length: int
    zi: np.ndarray = field(init=False)
    energy: np.ndarray = field(init=False)
    medians: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.zi = np.zeros((self.sos.shape[0], 2))
        self.energy = np.zeros(self.length - 1)  # before the lead-in: silence
        self.medians = np.zeros(0)


def heard_top(settings: ClickSettings, rate: int, held_hz: float | None) -> float | None:
    """The top of the band the detector listens in: the settings' ``fmax`` (default 90 % of
    the analysis Nyquist frequency), lowered to ``held_hz``, the top of the band the recording
    holds (``Prepared.held_hz``: the resampler's pass band for a recording resampled up, the
    encoder's for a lossy one); None when that leaves less than a quarter octave above ``fmin``.
    Above a low-rate recording's Nyquist frequency the resampled stream holds only the filter's
    residue, whose floor is so low that its fluctuations pass any threshold: thousands of clicks
    an hour that no sound made (and a decoder's zeros, broken by the bursts a lossy encoder
    spends on the band now and then, as many)."""
    fmax = settings.top_hz(rate)
    if held_hz is not None:
        fmax = min(fmax, held_hz)
    return fmax if fmax > settings.fmin * 2**0.25 else None


def colour_margins(noise: np.ndarray, gains: np.ndarray, time_bandwidth: float, threshold: float) -> np.ndarray:
    """Each band's margin: the factor its threshold over its floor is raised by so that its noise
    passes it no more often than white noise passes ``threshold``.  ``noise`` is the noise's power
    spectrum (on any bins; smoothed here over ``SMOOTH_BINS``), ``gains`` each band's power gain on
    those bins (bands x bins).  A band's energy averaged over ``time_bandwidth`` / its width is a sum
    of about ``2 time_bandwidth`` independent squares in white noise; coloured by the noise, the band
    is as if only its effective bandwidth wide, ``(sum N G)^2 / sum (N G)^2`` against the same of a
    flat ``N``, and fewer squares fluctuate more.  Gaussian noise is the model (the energy
    chi-squared), the floor the energy's median."""
    from scipy.special import gammaincc, gammainccinv

    smooth = np.convolve(noise, np.ones(SMOOTH_BINS) / SMOOTH_BINS, mode="same")
    weighted = smooth[None, :] * gains
    effective = weighted.sum(axis=1) ** 2 / np.maximum((weighted**2).sum(axis=1), _TINY)
    white = gains.sum(axis=1) ** 2 / np.maximum((gains**2).sum(axis=1), _TINY)
    nominal = 2 * time_bandwidth
    k = np.clip(nominal * effective / white, 1.0, nominal)
    # the chance white noise passes the threshold, over its median: the same chance at k squares
    chance = gammaincc(nominal / 2, threshold * gammainccinv(nominal / 2, 0.5))
    margins = gammainccinv(k / 2, chance) / gammainccinv(k / 2, 0.5) / threshold
    return np.asarray(np.maximum(margins, 1.0))


def _spectra(x: np.ndarray, n: int) -> np.ndarray:
    """The power spectra of ``x``'s whole frames of ``n`` samples (Hann window)."""
    frames = x[: len(x) // n * n].reshape(-1, n)
    power: np.ndarray = np.abs(np.fft.rfft(frames * np.hanning(n), axis=1)).astype(np.float32) ** 2
    return power


def _silent(zeros: np.ndarray, z: int, n: int) -> np.ndarray:
    """For the ``n`` samples after the first ``z - 1`` of ``zeros`` (whether each sample is exactly
    zero, with ``z - 1`` more either side): whether each lies in a run of ``z`` or more zeros."""
    if np.count_nonzero(zeros) < z:  # most spans of sound: no run of zeros can be there
        return np.zeros(n, bool)
    c = np.concatenate(([0], np.cumsum(zeros, dtype=np.int64)))
    full = c[z:] - c[:-z] == z  # full[j]: zeros[j : j + z] are all zero
    d = np.concatenate(([0], np.cumsum(full, dtype=np.int64)))
    return np.asarray(d[z : z + n] - d[:n] > 0)


def _segment_medians(values: np.ndarray, seg: int) -> np.ndarray:
    """The median of each ``seg`` values (the last segment possibly partial)."""
    whole = len(values) // seg
    medians = _row_medians(values[: whole * seg].reshape(whole, seg)) if whole else np.zeros(0)
    return np.append(medians, _row_medians(values[None, whole * seg :])) if len(values) > whole * seg else medians


def _row_medians(rows: np.ndarray) -> np.ndarray:
    """``np.median(rows, axis=1)``, the same values, for rows without NaN (the detector's samples
    are made finite first): numpy's median also partitions each row for a NaN at its end, which
    made it several times the cost of the selection itself, the detector's largest."""
    n = rows.shape[1]
    half = n // 2
    part = np.partition(rows, half, axis=1)
    if n % 2:
        return part[:, half]
    middle: np.ndarray = (part[:, :half].max(axis=1) + part[:, half]) / 2
    return middle


def _loud(silent: np.ndarray, seg: int) -> np.ndarray:
    """Which segments of ``seg`` samples (the last possibly partial) hold a sample not in silence."""
    padded = np.concatenate((silent, np.ones(-len(silent) % seg, bool)))  # padding silent: changes no "all"
    return np.asarray(~padded.reshape(-1, seg).all(axis=1))


def _settling(band: _Band, edge_hz: float, rate: int) -> int:
    """Samples until ``band``'s filter has rung down by 80 dB from an impulse (40 periods of
    ``edge_hz``, its lower edge or a low-pass's cut-off, are simulated), plus its averaging length."""
    n = max(64, round(40 * rate / edge_hz))
    h = np.abs(sosfilt(band.sos, np.r_[1.0, np.zeros(n - 1)]))
    return int(np.flatnonzero(h > 1e-4 * h.max())[-1]) + band.length


def bank(fmin: float, fmax: float, per_octave: int) -> list[tuple[float, float]]:
    """The whole band, then its sub-bands ``per_octave`` to the octave from ``fmin`` up (from
    ``fmax`` / 64 when ``fmin`` is 0); a last sub-band narrower than half a step joins the one
    below it."""
    bands = [(fmin, fmax)]
    if per_octave == 0:
        return bands
    step = 2 ** (1 / per_octave)
    edges = [fmin if fmin > 0 else fmax / 64]
    while edges[-1] * step < fmax:
        edges.append(edges[-1] * step)
    if len(edges) > 1 and fmax / edges[-1] < step**0.5:
        edges.pop()
    edges.append(fmax)
    if len(edges) > 2:  # one sub-band would be the whole band again
        bands += list(zip(edges[:-1], edges[1:]))
    return bands


def _mean_by_segment(values: np.ndarray, length: int, seg: int, nseg: int) -> np.ndarray:
    """Moving mean over ``length`` samples of ``values`` (which begins with the ``length - 1``
    before the first output), summed afresh in each segment: each output sums the same samples
    in the same order however the stream is cut (a running cumsum would carry rounding from
    wherever the span began)."""
    if length == 1:
        return values
    need = nseg * seg + length - 1
    padded = np.concatenate((values, np.zeros(need - len(values)))) if len(values) < need else values
    windows = np.lib.stride_tricks.sliding_window_view(padded, seg + length - 1)[::seg]
    sums = np.cumsum(windows, axis=1)
    out = np.empty((nseg, seg))
    out[:, 0] = sums[:, length - 1]
    out[:, 1:] = sums[:, length:] - sums[:, : seg - 1]
    return out.ravel() / length


def _floors(history: np.ndarray, medians: np.ndarray, window: int) -> np.ndarray:
    """Each new segment's floor: the median of the (up to ``window``) segment medians before it;
    the stream's first segment is its own floor."""
    both = np.concatenate((history, medians))
    floors = np.empty(len(medians))
    h = len(history)
    first = min(len(medians), window - h) if h < window else 0  # windows still filling
    for i in range(first):
        past = both[: h + i]
        floors[i] = np.median(past) if len(past) else medians[i]
    if first < len(medians):
        full = np.lib.stride_tricks.sliding_window_view(both, window)  # full[j] = both[j : j + window]
        floors[first:] = _row_medians(full[h + first - window : h + len(medians) - window])
    return np.maximum(floors, _TINY)


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

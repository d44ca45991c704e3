"""Calibrated STFT frontend: blocks of samples -> PSD frames in uPa^2/Hz.

This is the one feature computation of the project (ARCHITECTURE contract 1): the ROI
detector, the noise levels, the classifier's input and the training datasets all use it.
Streaming keeps the last ``nfft - hop`` samples between blocks, so any block size gives the
frames a whole-file pass would give.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from edge import _validate as v
from edge._fft import real_fft
from edge._hashing import stable_hash
from edge.types import AudioBlock, SpectralFrames, WindowName

WINDOWS = ("hann", "hamming", "blackman", "rect")


@dataclass(frozen=True)
class FrontendSpec:
    """Frozen, hashable description of the features.

    ``sample_rate`` None means "the rate of each recording" (ROI-only runs); a model bundle
    always carries a bound spec.  ``fmin``/``fmax`` crop the feature band (``fmax`` None =
    Nyquist); ``n_mels`` replaces linear bins by a mel filterbank over that band.
    """

    nfft: int = 1024
    hop: int = 512
    window: WindowName = "hann"
    fmin: float = 0.0
    fmax: float | None = None
    n_mels: int | None = None
    sample_rate: int | None = None

    def __post_init__(self) -> None:
        v.integer("nfft", self.nfft, minimum=8, maximum=1 << 17, why="0.34 s at 384 kHz; work arrays grow with it")
        v.integer("hop", self.hop, minimum=1)
        v.require(self.hop <= self.nfft, f"hop={self.hop} must be <= nfft={self.nfft}")
        v.require(self.window in WINDOWS, f"window={self.window!r} is not one of {', '.join(WINDOWS)}")
        v.number("fmin", self.fmin, minimum=0)
        v.number("fmax", self.fmax, minimum=0, exclusive=True, allow_none=True)
        v.integer("n_mels", self.n_mels, minimum=1, allow_none=True, maximum=1024, why="mel bands")
        v.integer(
            "sample_rate", self.sample_rate, minimum=1, allow_none=True, maximum=1_536_000, why="the fastest recorders"
        )
        if self.fmax is not None:
            v.require(self.fmax > self.fmin, f"fmax={self.fmax} must be > fmin={self.fmin}")
        if self.sample_rate is not None and self.fmax is not None:
            v.require(
                self.fmax <= self.sample_rate / 2,
                f"fmax={self.fmax} is above the Nyquist frequency of sample_rate={self.sample_rate}",
            )
        if self.sample_rate is not None:
            df = self.sample_rate / self.nfft
            top = self.fmax if self.fmax is not None else self.sample_rate / 2
            v.require(
                np.floor(top / df) >= np.ceil(self.fmin / df),
                f"band fmin={self.fmin}..fmax={top} Hz holds no frequency bin "
                f"(bins are {df:g} Hz apart at sample_rate={self.sample_rate}, nfft={self.nfft})",
            )

    def bound(self, sample_rate: int) -> FrontendSpec:
        """This spec at a concrete sample rate (unchanged when already bound)."""
        return self if self.sample_rate is not None else replace(self, sample_rate=int(sample_rate))

    @property
    def hash(self) -> str:
        """Stable 16-hex-digit identity of the features; model cards store it."""
        return stable_hash(asdict(self))

    @property
    def n_bins(self) -> int:
        return self.nfft // 2 + 1

    @property
    def rate(self) -> int:
        """The bound sample rate; :class:`ValueError` for an unbound spec."""
        if self.sample_rate is None:
            raise ValueError("FrontendSpec is not bound to a sample rate: call .bound(rate)")
        return self.sample_rate

    def bin_freqs(self) -> np.ndarray:
        """Centre frequency of each PSD bin, Hz, shape ``(n_bins,)``."""
        return np.arange(self.n_bins) * (self.rate / self.nfft)

    @property
    def frame_s(self) -> float:
        return self.nfft / self.rate

    @property
    def hop_s(self) -> float:
        return self.hop / self.rate


def window_array(name: str, n: int) -> np.ndarray:
    """Periodic (DFT-even) window of length ``n``, float64."""
    k = np.arange(n)
    if name == "rect":
        return np.ones(n)
    if name == "hann":
        return 0.5 - 0.5 * np.cos(2 * np.pi * k / n)
    if name == "hamming":
        return 0.54 - 0.46 * np.cos(2 * np.pi * k / n)
    return 0.42 - 0.5 * np.cos(2 * np.pi * k / n) + 0.08 * np.cos(4 * np.pi * k / n)  # blackman


def psd_scale(spec: FrontendSpec, bin_gain_db: np.ndarray | float = 0.0) -> np.ndarray:
    """Per-bin factor from |rfft|^2 of a windowed full-scale frame to calibrated one-sided PSD.

    ``bin_gain_db`` is added in dB: the calibration (full-scale SPL minus system gain, minus
    any frequency-dependent response), so the result is in uPa^2/Hz.
    """
    win = window_array(spec.window, spec.nfft)
    scale = np.full(spec.n_bins, 2.0 / (spec.rate * np.sum(win**2)))
    scale[0] /= 2  # DC and Nyquist have no mirror image to fold in
    if spec.nfft % 2 == 0:
        scale[-1] /= 2
    return (scale * 10.0 ** (np.asarray(bin_gain_db) / 10.0)).astype(np.float32)


# Frames are transformed about this many samples at a time into reused work arrays that stay
# in the CPU's cache: block-sized temporaries made the frontend 3x slower, mostly page faults.
_CHUNK_SAMPLES = 1 << 17
# scipy.fft (pocketfft) transforms a batch in groups of SIMD lanes (4 float32 lanes on NEON and
# SSE, up to 16 with AVX-512) and the frames left over one at a time.  On 64-bit ARM the two
# paths round differently (fused multiply-adds), so a frame's PSD would depend on where a block
# boundary put it.  Batches are padded with zero frames to whole groups of the widest lanes:
# every frame takes the grouped path, and any block size gives the same bits.
_FFT_GROUP = 16


def _whole_groups(n: int) -> int:
    return -(-n // _FFT_GROUP) * _FFT_GROUP


class StreamingFrontend:
    """Per-stream state: the sample tail and the next frame index.  Cheap to create; the
    window and scale are computed once here and reused for every block.

    ``first_frame`` starts the stream at that absolute frame: the first block pushed must then
    begin at sample ``first_frame * hop`` (a chunk of a recording read from there gives the
    same frames, with the same indices, as the whole recording)."""

    def __init__(self, spec: FrontendSpec, bin_gain_db: np.ndarray | float = 0.0, *, first_frame: int = 0) -> None:
        if first_frame < 0:
            raise ValueError(f"{first_frame=} must be >= 0")
        self.spec = spec
        self._window = window_array(spec.window, spec.nfft).astype(np.float32)
        self._scale = psd_scale(spec, bin_gain_db)
        self._tail = np.zeros(0, dtype=np.float32)
        self._next_frame = int(first_frame)
        self._chunk = max(1, _CHUNK_SAMPLES // spec.nfft)
        rows = _whole_groups(self._chunk)
        self._windowed = np.empty((rows, spec.nfft), np.float32)  # work arrays
        self._squares = np.empty((rows, 2 * spec.n_bins), np.float32)
        self._rfft = real_fft()

    def push(self, block: AudioBlock) -> SpectralFrames:
        """Frames completed by ``block``; shape ``(n, n_bins)``, possibly ``n == 0``."""
        nfft, hop = self.spec.nfft, self.spec.hop
        x = block.samples.astype(np.float32, copy=False)
        tail = self._tail
        total = len(tail) + len(x)
        n = (total - nfft) // hop + 1 if total >= nfft else 0
        first = self._next_frame
        if n == 0:
            self._tail = np.concatenate((tail, x))
            return SpectralFrames(np.zeros((0, self.spec.n_bins), np.float32), first)
        power = np.empty((n, self.spec.n_bins), np.float32)
        # Frames starting in the tail come from a small joined buffer, the others straight
        # from the block (joining the whole block would copy it).
        n_head = min(n, -(-len(tail) // hop))
        if n_head:
            head = np.concatenate((tail, x[: (n_head - 1) * hop + nfft - len(tail)]))
            self._frames(sliding_window_view(head, nfft)[::hop], power[:n_head])
        if n > n_head:
            start = n_head * hop - len(tail)
            self._frames(sliding_window_view(x[start:], nfft)[: (n - n_head - 1) * hop + 1 : hop], power[n_head:])
        cut = n * hop - len(tail)  # where the next tail starts, in ``x``
        self._tail = x[cut:].copy() if cut >= 0 else np.concatenate((tail[n * hop :], x))
        self._next_frame += n
        return SpectralFrames(power, first)

    def _frames(self, frames: np.ndarray, out: np.ndarray) -> None:
        """PSD of ``frames`` ``(m, nfft)`` into ``out``, a cache-sized chunk at a time."""
        # an inf sample times the window's zero end is NaN: such frames are the quality check's
        # to blank and report (edge.quality), not numpy's to warn about
        with np.errstate(invalid="ignore"):
            for i in range(0, len(frames), self._chunk):
                self._power(frames[i : i + self._chunk], out[i : i + self._chunk])

    def _power(self, frames: np.ndarray, out: np.ndarray) -> None:
        """Calibrated PSD of ``frames`` ``(m, nfft)`` into ``out`` ``(m, n_bins)``."""
        m = len(frames)
        padded = _whole_groups(m)
        np.multiply(frames, self._window, out=self._windowed[:m])
        self._windowed[m:padded] = 0.0
        spectrum = self._rfft(self._windowed[:padded])[:m]
        squares = np.square(spectrum.view(np.float32), out=self._squares[:m])  # re^2, im^2 interleaved
        np.add(squares[:, 0::2], squares[:, 1::2], out=out)
        out *= self._scale


def mel_filterbank(spec: FrontendSpec) -> np.ndarray:
    """Triangular mel (HTK) filters over ``[fmin, fmax]``, shape ``(n_mels, n_bins)``."""
    assert spec.n_mels is not None
    fmax = spec.fmax if spec.fmax is not None else spec.rate / 2

    def mel(f: float) -> float:
        return float(2595.0 * np.log10(1.0 + f / 700.0))

    edges_hz = 700.0 * (10 ** (np.linspace(mel(spec.fmin), mel(fmax), spec.n_mels + 2) / 2595.0) - 1)
    freqs = spec.bin_freqs()
    lower, centre, upper = edges_hz[:-2, None], edges_hz[1:-1, None], edges_hz[2:, None]
    rising = (freqs - lower) / (centre - lower)
    falling = (upper - freqs) / (upper - centre)
    return np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)


def feature_bins(spec: FrontendSpec) -> slice:
    """PSD bins inside the spec's band."""
    freqs = spec.bin_freqs()
    fmax = spec.fmax if spec.fmax is not None else freqs[-1]
    idx = np.flatnonzero((freqs >= spec.fmin) & (freqs <= fmax))
    return slice(int(idx[0]), int(idx[-1]) + 1)


FEATURE_FLOOR_DB = -20.0  # dB re 1 uPa^2/Hz: far below any ocean's level, so only digital silence reaches it


def features(spec: FrontendSpec, psd: np.ndarray, *, floor_db: float = FEATURE_FLOOR_DB) -> np.ndarray:
    """Model input from PSD frames: dB re 1 uPa^2/Hz over the band (or mel bands).

    ``psd`` shape ``(n_frames, n_bins)`` -> ``(n_frames, n_features)`` float32.  Values below
    ``floor_db`` are clipped so silence (digital zeros) stays finite.
    """
    if spec.n_mels is not None:
        band = psd @ mel_filterbank(spec).T
    else:
        band = psd[:, feature_bins(spec)]
    out = 10.0 * np.log10(np.maximum(band, np.float32(10 ** (floor_db / 10))))
    return out.astype(np.float32, copy=False)

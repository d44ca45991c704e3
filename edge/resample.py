"""Audio at any rate: a recording's blocks resampled, as they stream, to the analysis rate.

A deployment (or the model it names) analyses at one rate; recordings at another rate are
resampled on the way into the frontend, as BirdNET and OpenSoundscape do on load, so the
frontend, the ROI detector, the classifier and training all see the same samples.  The
resampler is soxr (python-soxr, high quality: a linear-phase polyphase filter whose pass band
is flat to 0.01 dB up to 91 % of the lower Nyquist frequency, stop band 120 dB down), chosen
over ``scipy.signal.resample_poly`` for being a streaming resampler whose output does not
depend on how the input is cut into blocks, and for its speed (benchmarks/bench_resample.py).

Sample numbering: output samples count from the recording's first sample at the analysis
rate; a recording of ``n`` samples gives :func:`output_length` of them.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from importlib import metadata
from typing import Any

import numpy as np

from edge.errors import MissingExtraError
from edge.types import AudioBlock, AudioInfo, AudioSource

QUALITY = "HQ"
PASS_BAND = 0.91  # QUALITY's pass band: the fraction of the lower Nyquist frequency kept flat


def output_length(frames: int, in_rate: int, out_rate: int) -> int:
    """Samples at ``out_rate`` of a recording of ``frames`` samples at ``in_rate``: the
    nearest integer to ``frames * out_rate / in_rate``, halves up (what soxr writes)."""
    return (2 * frames * out_rate + in_rate) // (2 * in_rate)


@functools.cache  # read once per process, not once per resampled file
def describe() -> str:
    """The resampler as run.json records it."""
    try:
        return f"soxr {metadata.version('soxr')} {QUALITY}"
    except metadata.PackageNotFoundError:
        return f"soxr (not installed) {QUALITY}"


def _soxr() -> Any:
    try:
        import soxr
    except ImportError:
        raise MissingExtraError(
            "resampling a recording to the deployment's rate needs soxr: pip install soxr==1.1.0"
        ) from None
    return soxr


def resample_blocks(blocks: Iterator[np.ndarray], in_rate: int, out_rate: int) -> Iterator[np.ndarray]:
    """Float32 sample blocks at ``in_rate`` -> blocks at ``out_rate``, streamed (one input
    block held back: soxr must be told which block is the last).  The output does not depend
    on how the input is cut into blocks."""
    stream = _soxr().ResampleStream(in_rate, out_rate, 1, dtype="float32", quality=QUALITY)
    pending = None
    for block in blocks:
        if pending is not None:
            yield stream.resample_chunk(pending, last=False)
        pending = block
    yield stream.resample_chunk(pending if pending is not None else np.zeros(0, np.float32), last=True)


class ResampledSource:
    """An :class:`~edge.types.AudioSource` at ``rate`` over ``source`` (a recording's blocks
    at its own rate).  ``skip`` drops that many output samples first: a reading that starts
    part-way still resamples from the recording's first sample, because a resampler started
    elsewhere would give (slightly) different samples and chunks of a recording must give
    exactly the whole recording's frames."""

    def __init__(self, source: AudioSource, info: AudioInfo, rate: int, *, skip: int = 0) -> None:
        self.source = source
        self.info = info
        self.rate = int(rate)
        self.skip = int(skip)
        self.frames = output_length(info.frames, info.sample_rate, self.rate)
        _soxr()

    def blocks(self) -> Iterator[AudioBlock]:
        written = 0  # output samples so far, counted from the recording's start
        for out in resample_blocks((b.samples for b in self.source.blocks()), self.info.sample_rate, self.rate):
            out = out[: max(self.frames - written, 0)]  # soxr writes output_length(); this guards the contract
            yield from self._emit(out, written)
            written += len(out)
        if written < self.frames:
            yield from self._emit(np.zeros(self.frames - written, np.float32), written)

    def _emit(self, samples: np.ndarray, written: int) -> Iterator[AudioBlock]:
        if written + len(samples) <= self.skip or len(samples) == 0:
            return
        cut = max(self.skip - written, 0)
        yield AudioBlock(np.ascontiguousarray(samples[cut:], dtype=np.float32), written + cut)

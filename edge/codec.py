"""The band a lossy recording holds: what its encoder kept.

An MP3, Ogg Vorbis or Opus encoder leaves out what a listener would not hear: everything above a
low-pass that falls with the bit rate (16-20 kHz at the usual rates, 8 kHz or less at low ones),
and in a quiet recording, whose high band lies 60-90 dB under its low one as the ocean's does,
most of the band above a few kHz.  The decoder gives exact zeros there, except in the frames
where the encoder spent bits on the band after all; against a floor of zeros those bursts stand
40-80 dB out, and the ROI and impulse detectors took them for sound (the 22 SanctSound clips at
44.1-48 kHz encoded as MP3s gave 39 detections at 16-18 kHz, the same clips as FLAC none).

So a lossy recording holds the band up to the lower of two edges, found on the frames of its
first ``HEAD_S``: the highest frequency whose bins are still filled (a bin is empty in a frame when
its power is ``EMPTY_DB`` or more under the frame's mean bin power, where a decoder's zeros lie,
90-150 dB under it; filled when empty in fewer than ``EMPTY_SHARE`` of the frames, the share taken
as a running median over ``SMOOTH_HZ`` so that one tone the encoder kept does not hold an empty
band open), and the encoder's low-pass, where a band's median level falls ``DROP_DB`` under that
of the octave below it (LAME's starts about 300 Hz under its empty band, and the bits it spends
there now and then were detected too).  No PCM or FLAC clip of ../shared at its own rate has a band
that empty, nor a fall that steep from 1 kHz up (the HALLO clips resampled to 44.1 kHz from 22.05
kHz have the resampler's), and the edges are sought only in lossy recordings.  Measured once per
recording, from its start, so every reading of it (a cluster unit's chunk, a resumed run) gets the
same band.
"""

from __future__ import annotations

import numpy as np

from edge.audio import LOSSY, Recording
from edge.types import AudioInfo

HEAD_S = 30.0  # seconds read from the recording's start
EMPTY_DB = -90.0  # under the frame's mean bin power: nothing there
EMPTY_SHARE = 0.1  # of the frames: a band empty this often is not held
SMOOTH_HZ = 500.0  # the running median's width, either side
FRAME_S = 0.02  # frame length (to the next power of two samples): 21-23 Hz bins at 44.1-48 kHz
KEEPS_ALL = 0.9  # a band held to this fraction of the Nyquist frequency is the whole band
DROP_DB = 20.0  # a band's median level this far under the octave below it: a low-pass
FROM_HZ = 1000.0  # the low-pass is sought from here up (below, recorders' and sites' spectra vary most)


def kept_top(samples: np.ndarray, rate: int) -> float | None:
    """The top (Hz) of the band ``samples`` (at ``rate``) still hold, or None when they hold it
    to ``KEEPS_ALL`` of the Nyquist frequency (or hold too little sound to say)."""
    n = 1 << max(int(np.ceil(np.log2(FRAME_S * rate))), 4)
    x = np.asarray(samples[: int(HEAD_S * rate)], np.float64)
    if len(x) < n:
        return None
    frames = x[: len(x) // n * n].reshape(-1, n) * np.hanning(n)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    mean = power.mean(axis=1)
    sounding = mean > 0  # frames of digital silence tell nothing
    if not sounding.any():
        return None
    with np.errstate(divide="ignore"):  # an exact zero is -inf dB: empty
        level = 10 * np.log10(power[sounding] / mean[sounding, None])
    half = max(1, round(SMOOTH_HZ * n / rate))
    filled = np.flatnonzero(_running_median((level < EMPTY_DB).mean(axis=0), half) < EMPTY_SHARE)
    top = int(filled[-1]) if len(filled) else 0
    median = _running_median(np.median(level, axis=0), half)
    for b in range(max(int(np.ceil(FROM_HZ * n / rate)), 1), top + 1):
        if median[b] < np.median(median[b // 2 : b + 1]) - DROP_DB:  # the encoder's low-pass
            top = b - 1
            break
    top_hz = top * rate / n
    return None if top_hz >= KEEPS_ALL * rate / 2 else top_hz


def _running_median(values: np.ndarray, half: int) -> np.ndarray:
    padded = np.pad(values, half, mode="edge")
    medians: np.ndarray = np.median(np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1), axis=1)
    return medians


def recording_kept_top(info: AudioInfo, channel: int) -> float | None:
    """:func:`kept_top` of a lossy recording's ``channel`` from its start (read once, an MP3 not
    decoded whole); None for any other (a PCM or FLAC recording holds its whole band)."""
    if info.subtype not in LOSSY:
        return None
    return kept_top(Recording(info, channel=channel).head(int(HEAD_S * info.sample_rate)), info.sample_rate)

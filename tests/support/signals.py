"""Synthetic signals: tones, and noise with right-whale upcalls or long tonal events at 2 kHz."""

from __future__ import annotations

import numpy as np


def tone(freq_hz: float, amplitude: float, seconds: float, sample_rate: int) -> np.ndarray:
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    return amplitude * np.sin(2 * np.pi * freq_hz * t)


SR = 2000


def upcalls(seconds: float, calls: int, seed: int) -> np.ndarray:
    """Coloured noise with ``calls`` 1-s upcalls (60 -> 220 Hz) of varied level, the first
    and last at the recording's very ends (windows there repeat the edge frames)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    x = np.cumsum(rng.normal(0, 1, n)) * 2e-4
    x -= np.convolve(x, np.ones(401) / 401, mode="same")
    x += rng.normal(0, 2e-3, n)
    t = np.arange(SR) / SR
    chirp = np.sin(2 * np.pi * (60 * t + 80 * t**2)) * np.hanning(SR)
    starts = np.linspace(0.05, seconds - 1.05, calls)
    for k, s in enumerate(starts):
        i = int(s * SR)
        x[i : i + SR] += chirp * 0.02 * (1 + k % 4)
    return (x / np.abs(x).max() * 0.5).astype(np.float32)


def long_events(seconds: float, seed: int) -> np.ndarray:
    """:func:`upcalls` plus events longer than the 2-s window: three calls 0.1 s apart
    (twice; one ROI of about 3.3 s each) and a 6-s tone with a call on its second half."""
    x = upcalls(seconds, 8, seed).astype(np.float64)
    t = np.arange(SR) / SR
    chirp = np.sin(2 * np.pi * (60 * t + 80 * t**2)) * np.hanning(SR)
    for s in (20.0, 70.0):
        for k in range(3):
            i = int((s + 1.1 * k) * SR)
            x[i : i + SR] += chirp * 0.3
    tone = np.arange(6 * SR) / SR
    x[40 * SR : 46 * SR] += 0.1 * np.sin(2 * np.pi * 150 * tone) * np.hanning(len(tone)) ** 0.1
    x[int(43.5 * SR) : int(43.5 * SR) + SR] += chirp * 0.4
    return (x / np.abs(x).max() * 0.5).astype(np.float32)


def porpoise_clicks(rng: np.random.Generator, seconds: float, times: np.ndarray, noise: float, rate: int = 384_000):
    """White noise (RMS ``noise``) at ``rate`` with a porpoise's narrow-band 130-kHz click (about
    100 us) at each of ``times``, its peak 14-20 dB over the noise RMS (float64)."""
    x = noise * rng.standard_normal(int(seconds * rate))
    sigma = 1 / (2 * np.pi * 16_000)
    t = np.arange(-int(4 * sigma * rate), int(4 * sigma * rate) + 1) / rate
    click = np.exp(-0.5 * (t / sigma) ** 2) * np.cos(2 * np.pi * 130_000 * t)
    for at in times:
        i = int(at * rate) - len(click) // 2
        x[i : i + len(click)] += noise * 10 ** (rng.uniform(14, 20) / 20) * click
    return x

"""The impulse detector at 96 kHz: its cost per audio hour beside the tonal stage, and what it
finds against the clicks' SNR.

Cost: a seeded synthetic recording (white noise with a click train, 96 kHz) goes block by
block (10 s) through the frontend and the tonal ROI detector, and through the impulse
detector; each is timed on its own (one core, medians of ``--repeats``), reported as seconds per
audio hour and as the ratio of the two.

Recall: a minute of white noise with a 50-us 20-kHz click every 0.5 s, each click's peak
amplitude 6-20 dB (uniform) over the noise RMS, and a minute of the same noise alone: clicks
found (within 1 ms of a true one), false clicks, and false clicks per minute of noise alone,
at several ``threshold_db``.

    python benchmarks/bench_clicks.py [--minutes 10] [--repeats 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge.clicks import ClickSettings, ImpulseDetector  # noqa: E402
from edge.frontend import FrontendSpec, StreamingFrontend  # noqa: E402
from edge.roi import RoiSettings, StreamingRoiDetector  # noqa: E402
from edge.types import AudioBlock, SpectralFrames  # noqa: E402

SR = 96_000
BLOCK = 10 * SR


def recording(minutes: float) -> np.ndarray:
    rng = np.random.default_rng(8)
    x = 0.01 * rng.standard_normal(int(minutes * 60 * SR))
    t = np.arange(-48, 48) / SR
    click = 0.06 * np.exp(-((t / 50e-6) ** 2)) * np.cos(2 * np.pi * 20_000 * t)
    for at in np.arange(0.5, minutes * 60 - 0.5, 0.4):
        i = int(at * SR)
        x[i - 48 : i + 48] += click
    return x.astype(np.float32)


def tonal(x: np.ndarray) -> float:
    spec = FrontendSpec(nfft=1024, hop=512, sample_rate=SR)
    frontend = StreamingFrontend(spec, 0.0)
    detector = StreamingRoiDetector(RoiSettings(fmin=1000), spec)
    t0 = time.perf_counter()
    for start in range(0, len(x), BLOCK):
        block = AudioBlock(x[start : start + BLOCK], start)
        detector.push(frontend.push(block), block)
    detector.flush()
    return time.perf_counter() - t0


def clicks(x: np.ndarray) -> tuple[float, int]:
    spec = FrontendSpec(nfft=1024, hop=512, sample_rate=SR)
    frontend = StreamingFrontend(spec, 0.0)
    detector = ImpulseDetector(ClickSettings(fmin=5000), SR, level_db=170.0, hop=512)
    frames = [frontend.push(AudioBlock(x[s : s + BLOCK], s)) for s in range(0, len(x), BLOCK)]  # not timed
    t0 = time.perf_counter()
    for i, start in enumerate(range(0, len(x), BLOCK)):
        detector.push(frames[i], AudioBlock(x[start : start + BLOCK], start))
    detector.flush()
    return time.perf_counter() - t0, detector.n_clicks


def recall(thresholds: list[float]) -> list[dict]:
    rng = np.random.default_rng(1)
    times = np.arange(0.5, 59.5, 0.5) + rng.uniform(-0.05, 0.05, 118)
    x = 0.01 * rng.standard_normal(60 * SR)
    t = np.arange(-48, 48) / SR
    for at, snr in zip(times, rng.uniform(6, 20, len(times))):
        i = int(at * SR)
        x[i - 48 : i + 48] += 0.01 * 10 ** (snr / 20) * np.exp(-((t / 50e-6) ** 2)) * np.cos(2 * np.pi * 20_000 * t)
    noise = (0.01 * rng.standard_normal(60 * SR)).astype(np.float32)
    out = []
    for threshold in thresholds:
        settings = ClickSettings(fmin=5000, threshold_db=threshold)
        found = _times(x.astype(np.float32), settings)
        hits = sum(bool(np.any(np.abs(found - s) < 0.001)) for s in times)
        false = sum(not np.any(np.abs(times - f) < 0.001) for f in found)
        out.append(
            {
                "threshold_db": threshold,
                "clicks": len(times),
                "found": hits,
                "false": false,
                "false_per_min_noise": len(_times(noise, settings)),
            }
        )
    return out


def _times(x: np.ndarray, settings: ClickSettings) -> np.ndarray:
    seen: list[float] = []
    detector = ImpulseDetector(settings, SR, level_db=170.0, hop=512, on_click=lambda c: seen.append(c.time_s))
    empty = SpectralFrames(np.zeros((0, 3), np.float32), 0)  # the impulse detector reads the samples only
    for start in range(0, len(x), BLOCK):
        detector.push(empty, AudioBlock(x[start : start + BLOCK], start))
    detector.flush()
    return np.array(seen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    x = recording(args.minutes)
    hours = len(x) / SR / 3600
    tonal_s, click_s, found = [], [], 0
    for _ in range(args.repeats):  # interleaved: the same machine state for both
        tonal_s.append(tonal(x))
        seconds, found = clicks(x)
        click_s.append(seconds)
    result = {
        "audio_h": hours,
        "frontend_and_tonal_s_per_audio_h": statistics.median(tonal_s) / hours,
        "impulse_detector_s_per_audio_h": statistics.median(click_s) / hours,
        "clicks_found": found,
        "clicks_in_recording": len(np.arange(0.5, args.minutes * 60 - 0.5, 0.4)),
    }
    result["ratio"] = result["impulse_detector_s_per_audio_h"] / result["frontend_and_tonal_s_per_audio_h"]
    result["recall_6_to_20_db"] = recall([8.0, 10.0, 12.0])
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(
        f"96 kHz, per audio hour (median of {args.repeats}): frontend + tonal ROI detector "
        f"{result['frontend_and_tonal_s_per_audio_h']:.1f} s, impulse detector "
        f"{result['impulse_detector_s_per_audio_h']:.1f} s ({result['ratio']:.2f}x); "
        f"{found} of {result['clicks_in_recording']} clicks found"
    )
    for r in result["recall_6_to_20_db"]:
        print(
            f"clicks at 6-20 dB, threshold {r['threshold_db']:g} dB: {r['found']} of {r['clicks']} found, "
            f"{r['false']} false; {r['false_per_min_noise']} false per minute of noise alone"
        )


if __name__ == "__main__":
    main()

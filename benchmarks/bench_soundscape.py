"""The soundscape stage (hybrid millidecade levels per UTC minute) at 96 kHz: its cost per
audio hour beside the detector's frontend and decidecade levels, and beside a plain
reference (scipy.signal.welch over each minute's samples, held whole in memory).

A seeded synthetic recording (white noise with a tone, 96 kHz) goes block by block (10 s)
through each; each is timed on its own, one core, medians of ``--repeats`` interleaved
runs, reported as seconds per audio hour, ratios to the detector's frontend, and the peak
memory each holds beyond the audio (tracemalloc).  Beside them, what the stage's own reading
of a recording costs (it reads each file a second time, at the file's rate): the same audio
as a 16-bit WAV decoded block by block through ``edge.audio.Recording``, from the page cache.

    python benchmarks/bench_soundscape.py [--minutes 10] [--repeats 3] [--rate 96000] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge.audio import Recording, probe  # noqa: E402
from edge.calibration import Calibration  # noqa: E402
from edge.frontend import FrontendSpec, StreamingFrontend  # noqa: E402
from edge.levels import LevelSettings, StreamingLevels  # noqa: E402
from edge.soundscape.bands import hmd_bands, hmd_integrator  # noqa: E402
from edge.soundscape.welch import MinuteSpectra  # noqa: E402
from edge.types import AudioBlock  # noqa: E402

START = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)
CAL = Calibration("bench", 170.0)


def recording(minutes: float, rate: int) -> np.ndarray:
    rng = np.random.default_rng(8)
    t = np.arange(int(minutes * 60 * rate)) / rate
    return (0.01 * rng.standard_normal(len(t)) + 0.02 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)


def blocks(x: np.ndarray, rate: int):
    step = 10 * rate
    for s in range(0, len(x), step):
        yield AudioBlock(x[s : s + step], s)


def soundscape(x: np.ndarray, rate: int) -> float:
    t0 = time.perf_counter()
    spectra = MinuteSpectra(rate, START, CAL)
    for b in blocks(x, rate):
        spectra.push(b)
    spectra.flush()
    return time.perf_counter() - t0


def detector_levels(x: np.ndarray, rate: int) -> float:
    t0 = time.perf_counter()
    spec = FrontendSpec(nfft=1024, hop=512, sample_rate=rate)
    frontend = StreamingFrontend(spec, CAL.bin_gain_db(spec.bin_freqs()))
    levels = StreamingLevels(spec, LevelSettings())
    for b in blocks(x, rate):
        levels.push(frontend.push(b))
    levels.flush()
    return time.perf_counter() - t0


def reference(x: np.ndarray, rate: int) -> float:
    import scipy.signal

    t0 = time.perf_counter()
    integrate = hmd_integrator(rate, rate, hmd_bands(rate))
    widths = hmd_bands(rate).widths
    per_minute = 60 * rate
    for s in range(0, len(x), per_minute):
        seg = x[s : s + per_minute].astype(np.float64)
        if len(seg) >= rate:
            _, p = scipy.signal.welch(seg, rate, window="hann", nperseg=rate, noverlap=rate // 2, detrend=False)
            integrate.power(p * 1e17) / widths
    return time.perf_counter() - t0


def decode(path: Path) -> float:
    info = probe(path)
    t0 = time.perf_counter()
    for _ in Recording(info, block_frames=10 * info.sample_rate).blocks():
        pass
    return time.perf_counter() - t0


def peak_mib(fn, x: np.ndarray, rate: int) -> float:
    tracemalloc.start()
    fn(x, rate)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rate", type=int, default=96_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    x = recording(args.minutes, args.rate)
    hours = len(x) / args.rate / 3600
    runs: dict[str, list[float]] = {"soundscape": [], "detector_levels": [], "reference_welch": [], "decode_wav": []}
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "bench.wav"
        sf.write(str(wav), x, args.rate, subtype="PCM_16")
        decode(wav)  # into the page cache
        for _ in range(args.repeats):  # interleaved: the same machine state for each
            runs["soundscape"].append(soundscape(x, args.rate))
            runs["detector_levels"].append(detector_levels(x, args.rate))
            runs["reference_welch"].append(reference(x, args.rate))
            runs["decode_wav"].append(decode(wav))
    per_h = {k: statistics.median(v) / hours for k, v in runs.items()}
    result = {
        "rate": args.rate,
        "audio_h": hours,
        "s_per_audio_h": per_h,
        "soundscape_over_detector_levels": per_h["soundscape"] / per_h["detector_levels"],
        "soundscape_over_reference": per_h["soundscape"] / per_h["reference_welch"],
        "peak_mib": {
            "soundscape": peak_mib(soundscape, x, args.rate),
            "reference_welch": peak_mib(reference, x, args.rate),
        },
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{args.rate} Hz, {hours * 60:.0f} min of audio, medians of {args.repeats}, one core")
    for k, v in per_h.items():
        print(f"  {k:<16} {v:7.1f} s per audio hour ({3600 / v:6.0f}x real time)")
    print(f"  soundscape / detector levels: {result['soundscape_over_detector_levels']:.2f}x")
    print(f"  soundscape / reference:       {result['soundscape_over_reference']:.2f}x")
    print(
        f"  peak memory beyond the audio: soundscape {result['peak_mib']['soundscape']:.1f} MiB, "
        f"reference {result['peak_mib']['reference_welch']:.1f} MiB"
    )


if __name__ == "__main__":
    main()

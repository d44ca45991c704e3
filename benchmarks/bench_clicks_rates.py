"""The impulse detector at the rates click recorders use (96, 192, 384 kHz): its cost per audio
hour and its peak memory, beside another checkout's detector (the baseline) in the same run.

Each rate: a seeded minute of white noise (RMS 0.01 of full scale) with a click train (one click
every 60 ms, 16 dB over the noise: 50-us Gabor clicks at 20 kHz below 300 kHz, narrow-band
130-kHz clicks of about 100 us, as porpoises make, at 300 kHz and up), pushed in blocks of ``--block-s`` seconds through
``ImpulseDetector(ClickSettings(fmin=2000))``. Each detector runs in its own process (the two
checkouts' ``edge`` cannot share one), alternated ``--repeats`` times, on one core; reported:
median seconds per audio hour, the peak of memory allocated while it ran (tracemalloc, the
recording itself excluded) and the clicks it reported (nearly every true one at 16 dB), and the
ratios of the two checkouts.

    python benchmarks/bench_clicks_rates.py [--baseline WORKTREE] [--rates 96000 192000 384000]
                                            [--block-s 10] [--repeats 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECONDS = 60
ICI_S = 0.06


def measure(rate: int, block_s: float) -> dict:
    """One detector (the ``edge`` first on sys.path) over the rate's recording."""
    import time
    import tracemalloc

    import numpy as np

    from edge.clicks import ClickSettings, ImpulseDetector
    from edge.types import AudioBlock, SpectralFrames

    rng = np.random.default_rng(rate)
    x = 0.01 * rng.standard_normal(SECONDS * rate)
    if rate < 300_000:  # 130-kHz clicks need a Nyquist frequency above them
        t = np.arange(-48, 48) / rate
        click = np.exp(-((t / 50e-6) ** 2)) * np.cos(2 * np.pi * 20_000 * t)
    else:
        sigma = 1 / (2 * np.pi * 16_000)  # about 16 kHz wide, 100 us long
        t = np.arange(-int(4 * sigma * rate), int(4 * sigma * rate) + 1) / rate
        click = np.exp(-0.5 * (t / sigma) ** 2) * np.cos(2 * np.pi * 130_000 * t)
    times = np.arange(0.5, SECONDS - 0.5, ICI_S)
    for at in times:
        i = int(at * rate) - len(click) // 2
        x[i : i + len(click)] += 0.01 * 10 ** (16 / 20) * click
    x = x.astype(np.float32)
    empty = SpectralFrames(np.zeros((0, 3), np.float32), 0)
    block = int(block_s * rate)
    ImpulseDetector(ClickSettings(fmin=2000), rate, level_db=170.0, hop=512)  # scipy.signal imported, not counted
    tracemalloc.start()
    t0 = time.perf_counter()
    detector = ImpulseDetector(ClickSettings(fmin=2000), rate, level_db=170.0, hop=512)
    for start in range(0, len(x), block):
        detector.push(empty, AudioBlock(x[start : start + block], start))
    detector.flush()
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "s_per_audio_h": seconds * 3600 / SECONDS,
        "peak_mb": peak / 1e6,
        "clicks": detector.n_clicks,
        "true_clicks": len(times),
    }


def run_in(checkout: Path, rate: int, block_s: float) -> dict:
    env = dict(os.environ, PYTHONPATH=str(checkout))
    out = subprocess.run(
        [sys.executable, __file__, "--one", str(rate), "--block-s", str(block_s)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", type=Path, help="a checkout (git worktree) whose detector is compared")
    parser.add_argument("--rates", type=int, nargs="+", default=[96_000, 192_000, 384_000])
    parser.add_argument("--block-s", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: measure one rate here
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    if args.one:
        sys.path.insert(0, os.environ.get("PYTHONPATH", str(ROOT)))
        print(json.dumps(measure(args.one, args.block_s)))
        return
    checkouts = {"this": ROOT} | ({"baseline": args.baseline.resolve()} if args.baseline else {})
    rows = []
    for rate in args.rates:
        runs: dict[str, list[dict]] = {name: [] for name in checkouts}
        for _ in range(args.repeats):  # alternated: the same machine state for both
            for name, checkout in checkouts.items():
                runs[name].append(run_in(checkout, rate, args.block_s))
        row: dict = {"rate": rate, "block_s": args.block_s}
        for name, got in runs.items():
            row[name] = {
                "s_per_audio_h": statistics.median(r["s_per_audio_h"] for r in got),
                "peak_mb": max(r["peak_mb"] for r in got),
                "clicks": got[-1]["clicks"],
                "true_clicks": got[-1]["true_clicks"],
            }
        if "baseline" in row:
            row["time_ratio"] = row["this"]["s_per_audio_h"] / row["baseline"]["s_per_audio_h"]
            row["memory_ratio"] = row["this"]["peak_mb"] / row["baseline"]["peak_mb"]
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    names = list(checkouts)
    print(
        f"blocks of {args.block_s:g} s, medians of {args.repeats}; s per audio hour / peak MB / clicks reported (true clicks)"
    )
    print("| rate | " + " | ".join(names) + (" | time ratio | memory ratio |" if len(names) > 1 else " |"))
    for row in rows:
        cells = [
            f"{row[n]['s_per_audio_h']:.0f} s / {row[n]['peak_mb']:.0f} MB / {row[n]['clicks']} ({row[n]['true_clicks']})"
            for n in names
        ]
        ratios = f" | {row['time_ratio']:.2f}x | {row['memory_ratio']:.3f}x |" if len(names) > 1 else " |"
        print(f"| {row['rate'] / 1000:g} kHz | " + " | ".join(cells) + ratios)


if __name__ == "__main__":
    main()

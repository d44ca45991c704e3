"""Resampling for "audio at any rate": cost per audio hour and quality, soxr (edge.resample, the
runtime's choice) beside scipy.signal.resample_poly, in one run.

Conversions: 48 kHz -> 2 kHz (a broadband recorder feeding narw-upcall) and 96 kHz -> 32 kHz.
For each: seconds per audio hour (median of ``--repeats`` runs over ``--minutes`` of seeded
noise; soxr streamed in 10-s blocks as the chain does, resample_poly on the whole signal, which
is what it can do without hand-written state), the ratio, the largest level error of tones in
the pass band (up to 0.4 x the output rate), the attenuation of a tone between the output
Nyquist frequency and 0.6 x the output rate (what aliases into the band), and whether cutting the
input into other blocks changes the output (soxr only).  Also the time to import each.

    python benchmarks/bench_resample.py [--minutes 10] [--repeats 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from math import gcd
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CONVERSIONS = ((48000, 2000), (96000, 32000))


def soxr_stream(x: np.ndarray, in_rate: int, out_rate: int, block: int) -> np.ndarray:
    from edge.resample import resample_blocks

    return np.concatenate(list(resample_blocks((x[i : i + block] for i in range(0, len(x), block)), in_rate, out_rate)))


def poly(x: np.ndarray, in_rate: int, out_rate: int) -> np.ndarray:
    from scipy.signal import resample_poly

    g = gcd(in_rate, out_rate)
    return resample_poly(x, out_rate // g, in_rate // g).astype(np.float32)


def level_db(y: np.ndarray) -> float:
    edge = len(y) // 10  # both resamplers' edge transients left out
    return 10 * np.log10(np.mean(np.square(y[edge:-edge], dtype=np.float64)))


def quality(fn, in_rate: int, out_rate: int) -> dict:
    t = np.arange(in_rate * 4) / in_rate
    errors = []
    for f in np.linspace(0.02, 0.4, 8) * out_rate:
        x = (0.1 * np.sin(2 * np.pi * f * t)).astype(np.float32)
        errors.append(abs(level_db(fn(x, in_rate, out_rate)) - level_db(x)))
    alias = (0.1 * np.sin(2 * np.pi * 0.6 * out_rate * t)).astype(np.float32)
    return {
        "passband_max_error_db": round(max(errors), 4),
        "alias_attenuation_db": round(level_db(alias) - level_db(fn(alias, in_rate, out_rate)), 1),
    }


def import_s(module: str) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    runs = [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
        for _ in range(3)
    ]
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    rows = []
    for in_rate, out_rate in CONVERSIONS:
        x = rng.normal(0, 0.1, int(args.minutes * 60 * in_rate)).astype(np.float32)
        per_hour = 60 / args.minutes
        times = {"soxr": [], "resample_poly": []}
        for _ in range(args.repeats):  # interleaved, so drift hits both
            t0 = time.perf_counter()
            a = soxr_stream(x, in_rate, out_rate, 10 * in_rate)
            times["soxr"].append((time.perf_counter() - t0) * per_hour)
            t0 = time.perf_counter()
            poly(x, in_rate, out_rate)
            times["resample_poly"].append((time.perf_counter() - t0) * per_hour)
        b = soxr_stream(x, in_rate, out_rate, in_rate // 2 + 17)
        med = {k: statistics.median(v) for k, v in times.items()}
        rows.append(
            {
                "conversion": f"{in_rate // 1000} kHz -> {out_rate // 1000} kHz",
                "s_per_audio_hour": {k: round(v, 3) for k, v in med.items()},
                "resample_poly_over_soxr": round(med["resample_poly"] / med["soxr"], 2),
                "soxr_blocking_invariant": bool(np.array_equal(a, b)),
                "quality": {
                    "soxr": quality(lambda s, i, o: soxr_stream(s, i, o, i), in_rate, out_rate),
                    "resample_poly": quality(poly, in_rate, out_rate),
                },
            }
        )
    result = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
        "audio_minutes": args.minutes,
        "repeats": args.repeats,
        "rows": rows,
        "import_s": {"soxr": round(import_s("soxr"), 3), "scipy.signal": round(import_s("scipy.signal"), 3)},
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(
        f"{'conversion':<18} {'soxr s/h':>9} {'poly s/h':>9} {'poly/soxr':>9} {'soxr pass dB':>12} "
        f"{'poly pass dB':>12} {'soxr alias dB':>13} {'poly alias dB':>13} blocking-invariant"
    )
    for r in rows:
        s, p = r["quality"]["soxr"], r["quality"]["resample_poly"]
        print(
            f"{r['conversion']:<18} {r['s_per_audio_hour']['soxr']:>9.3f} {r['s_per_audio_hour']['resample_poly']:>9.3f} "
            f"{r['resample_poly_over_soxr']:>9.2f} {s['passband_max_error_db']:>12.4f} {p['passband_max_error_db']:>12.4f} "
            f"{s['alias_attenuation_db']:>13.1f} {p['alias_attenuation_db']:>13.1f} {r['soxr_blocking_invariant']}"
        )
    print(f"import: soxr {result['import_s']['soxr']:.3f} s, scipy.signal {result['import_s']['scipy.signal']:.3f} s")


if __name__ == "__main__":
    main()

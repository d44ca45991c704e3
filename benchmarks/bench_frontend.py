"""Frontend + ROI throughput and peak memory against two baselines (issue: foundation).

Contenders, each in a fresh interpreter pinned to one core with BLAS/OpenMP threads = 1, so
the peak RSS (VmHWM) and the time are its own:

* ``pamedge``      ``process_recording`` with the beluga deployment: frontend, ROI, levels.
* ``pamedge-roi``  ``StreamingFrontend`` + ``StreamingRoiDetector`` over ``Recording`` blocks.
* ``baseline``     (a) soundfile blocks, stride-trick frames, window, ``scipy.fft.rfft``
                   (float32), ``|X|^2``, ``log10``; nothing else.
* ``scipy``        (b) ``scipy.signal.spectrogram`` (nperseg 1024, noverlap 512, float32
                   input, scipy's defaults otherwise, as OpenSoundscape calls it) + ``log10``.

All read the same blocks (the deployment's ``block_s``) and carry the ``nfft - hop`` tail, so
they compute the same frames.  Contenders are interleaved across repeats and medians reported,
because other work on the machine makes single timings noisy.  The input is a seeded
synthetic recording (coloured noise plus FM whistles, 2-12 kHz) cached in benchmarks/.cache/.

    python benchmarks/bench_frontend.py [--hours 2] [--repeats 3] [--rss-hours 4] [--json]

Prints a Markdown summary (or JSON); exits 1 when pamedge misses a target.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "benchmarks" / ".cache"
DEPLOYMENT = ROOT / "firmware-config" / "deployments" / "beluga.yaml"
SAMPLE_RATE, NFFT, HOP = 96_000, 1024, 512
CONTENDERS = ("baseline", "scipy", "pamedge", "pamedge-roi")
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
TARGET_RTF, TARGET_VS_BASELINE, TARGET_VS_SCIPY, TARGET_RSS_MB = 1000.0, 1.5, 2.0, 200.0


# -- synthetic input -------------------------------------------------------------------
def synthetic_recording(hours: float, *, seed: int = 20240601, chunk_s: int = 60) -> Path:
    """A cached mono PCM_16 WAV at 96 kHz, written a minute at a time (bounded memory)."""
    import numpy as np
    import scipy.signal
    import soundfile as sf

    path = CACHE / f"synthetic_{hours:g}h_{SAMPLE_RATE // 1000}k_seed{seed}.wav"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    total = round(hours * 3600 * SAMPLE_RATE)
    fmt = "WAV" if 2 * total < 2**32 - 1024 else "RF64"
    tmp = path.with_suffix(".partial")
    b, a = [1.0], [1.0, -0.995]  # one-pole low-pass: red noise under the white floor
    zi = np.zeros(1)
    white_rms = 0.01
    with sf.SoundFile(tmp, "w", SAMPLE_RATE, 1, "PCM_16", format=fmt) as out:
        for index, start in enumerate(range(0, total, chunk_s * SAMPLE_RATE)):
            n = min(chunk_s * SAMPLE_RATE, total - start)
            rng = np.random.default_rng([seed, index])
            red, zi = scipy.signal.lfilter(b, a, rng.standard_normal(n), zi=zi)
            x = white_rms * rng.standard_normal(n) + 0.002 * red
            for _ in range(rng.poisson(n / SAMPLE_RATE / 5)):  # a whistle every 5 s on average
                x += _whistle(rng, n, white_rms)
            out.write(np.clip(x, -1.0, 1.0).astype(np.float32))
    tmp.rename(path)
    return path


def _whistle(rng, n: int, noise_rms: float):
    """An FM tone (2-12 kHz, 0.2-1.2 s) at a random place in a chunk of ``n`` samples."""
    import numpy as np

    length = int(rng.uniform(0.2, 1.2) * SAMPLE_RATE)
    start = int(rng.integers(0, n - length))
    t = np.arange(length) / SAMPLE_RATE
    f0, f1 = rng.uniform(2000, 12000, size=2)
    freq = f0 + (f1 - f0) * t / t[-1] + rng.uniform(0, 1500) * np.sin(2 * np.pi * rng.uniform(1, 6) * t)
    freq = np.clip(freq, 2000, 12000)
    tone = np.sin(2 * np.pi * np.cumsum(freq) / SAMPLE_RATE + rng.uniform(0, 2 * np.pi))
    ramp = min(length // 2, SAMPLE_RATE // 100)  # 10 ms raised-cosine ends
    taper = np.ones(length)
    taper[:ramp] = taper[-ramp:][::-1] = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)
    amplitude = noise_rms * 10 ** (rng.uniform(-22, -4) / 20)  # about 2-20 dB SNR per bin
    out = np.zeros(n)
    out[start : start + length] = amplitude * taper * tone
    return out


# -- one contender, in a child process ------------------------------------------------
def _vm(field: str) -> float:
    """``VmHWM``/``VmRSS`` of this process in MB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


# Each ``run_*`` does its imports and set-up, and returns the work to time.  The two baselines
# are plain loops, as one would write them: each block's arrays live until the next block's
# replace them (freeing them first changes glibc's reuse of memory and costs the baseline 40%
# in page faults on this machine).
def run_baseline(path: str, block_frames: int):
    import numpy as np
    import scipy.fft
    import soundfile as sf
    from numpy.lib.stride_tricks import sliding_window_view

    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(NFFT) / NFFT)).astype(np.float32)

    def run():
        tail, frames = np.zeros(0, np.float32), 0
        with sf.SoundFile(path) as fh:
            while len(block := fh.read(block_frames, dtype="float32")):
                buf = np.concatenate((tail, block))
                n = (len(buf) - NFFT) // HOP + 1
                x = scipy.fft.rfft(sliding_window_view(buf, NFFT)[: (n - 1) * HOP + 1 : HOP] * window, axis=-1)
                power = x.real * x.real
                power += x.imag * x.imag
                np.log10(power, out=power)
                tail, frames = buf[n * HOP :], frames + n
        return {"frames": frames}

    return run


def run_scipy(path: str, block_frames: int):
    import numpy as np
    import scipy.signal
    import soundfile as sf

    def run():
        tail, frames = np.zeros(0, np.float32), 0
        with sf.SoundFile(path) as fh:
            while len(block := fh.read(block_frames, dtype="float32")):
                buf = np.concatenate((tail, block))
                n = (len(buf) - NFFT) // HOP + 1
                _, _, sxx = scipy.signal.spectrogram(
                    buf, fs=SAMPLE_RATE, window="hann", nperseg=NFFT, noverlap=NFFT - HOP
                )
                np.log10(sxx, out=sxx)
                tail, frames = buf[n * HOP :], frames + n
        return {"frames": frames}

    return run


def run_pamedge(path: str, block_frames: int):
    from edge.config import load_deployment
    from edge.pipeline import process_recording

    config = load_deployment(DEPLOYMENT)
    assert round(config.block_s * SAMPLE_RATE) == block_frames

    def run():
        result = process_recording(path, config, None)
        return {"rois": len(result.rois), "level_rows": len(result.levels)}

    return run


def run_pamedge_roi(path: str, block_frames: int):
    from edge.audio import Recording, probe
    from edge.calibration import resolve
    from edge.config import load_deployment
    from edge.frontend import StreamingFrontend
    from edge.roi import StreamingRoiDetector

    config = load_deployment(DEPLOYMENT)

    def run():
        info = probe(path)
        calibration, _ = resolve(info.serial, config.calibration, None)
        spec = config.spec_for(info.sample_rate)
        frontend = StreamingFrontend(spec, calibration.bin_gain_db(spec.bin_freqs()))
        detector = StreamingRoiDetector(config.roi, spec)
        rois, frames = [], 0
        for block in Recording(info, block_frames=block_frames).blocks():
            out = frontend.push(block)
            frames += out.n_frames
            rois += detector.push(out)
        rois += detector.flush()
        return {"rois": len(rois), "frames": frames}

    return run


RUNNERS = {"baseline": run_baseline, "scipy": run_scipy, "pamedge": run_pamedge, "pamedge-roi": run_pamedge_roi}


def child(name: str, path: str, block_frames: int, cpu: int) -> None:
    os.sched_setaffinity(0, {cpu})
    run = RUNNERS[name](path, block_frames)  # imports and set-up are not timed
    rss_start = _vm("VmRSS")
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    c0, t0 = time.process_time(), time.perf_counter()
    result = run()
    result.update(
        name=name,
        wall_s=time.perf_counter() - t0,
        cpu_s=time.process_time() - c0,
        page_faults=resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults,
        rss_start_mb=rss_start,
        peak_rss_mb=_vm("VmHWM"),
    )
    print(json.dumps(result))


# -- the parent: schedule, collect, report --------------------------------------------
def spawn(name: str, path: Path, block_frames: int, cpu: int) -> dict:
    warm_cache(path)  # the host may have evicted some of it since the last run
    env = dict(os.environ, **{var: "1" for var in THREAD_VARS})
    cmd = [
        sys.executable,
        __file__,
        "--child",
        name,
        "--file",
        str(path),
        "--block-frames",
        str(block_frames),
        "--cpu",
        str(cpu),
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"{name} failed:\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


def warm_cache(path: Path) -> None:
    """Read the file once so every contender reads it from the page cache."""
    with open(path, "rb") as fh:
        while fh.read(1 << 24):
            pass


def machine() -> dict:
    import numpy
    import scipy
    import soundfile

    def first(path: str, key: str) -> str:
        with open(path) as fh:
            for line in fh:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
        return "?"

    return {
        "cpu": f"{first('/proc/cpuinfo', 'model name')} (family {first('/proc/cpuinfo', 'cpu family')}, "
        f"model {first('/proc/cpuinfo', 'model')}, {first('/proc/cpuinfo', 'cpu MHz')} MHz, "
        f"L2 {first('/proc/cpuinfo', 'cache size')})",
        "cores": os.cpu_count(),
        "memory": first("/proc/meminfo", "MemTotal"),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "soundfile": f"{soundfile.__version__} ({soundfile.__libsndfile_version__})",
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load_avg": os.getloadavg(),
    }


def summarise(runs: list[dict], duration_s: float) -> dict:
    by = {name: [r for r in runs if r["name"] == name] for name in CONTENDERS}
    by = {name: rs for name, rs in by.items() if rs}
    med = {name: statistics.median(r["wall_s"] for r in rs) for name, rs in by.items()}
    rows = {}
    for name, rs in by.items():
        rows[name] = {
            "median_s": med[name],
            "walls_s": [round(r["wall_s"], 3) for r in rs],
            "median_cpu_s": statistics.median(r["cpu_s"] for r in rs),
            "median_page_faults": statistics.median(r["page_faults"] for r in rs),
            "realtime_x": duration_s / med[name],
            "vs_baseline": med[name] / med["baseline"],
            "vs_baseline_paired": statistics.median(  # same repeat: less exposed to drift
                r["wall_s"] / b["wall_s"] for r, b in zip(rs, by["baseline"])
            ),
            "speedup_vs_scipy": med["scipy"] / med[name],
            "peak_rss_mb": max(r["peak_rss_mb"] for r in rs),
            "rss_after_imports_mb": statistics.median(r["rss_start_mb"] for r in rs),
            **{k: rs[0][k] for k in ("frames", "rois", "level_rows") if k in rs[0]},
        }
    return rows


def verdicts(rows: dict, rss_long: dict) -> dict:
    out = {}
    for name in ("pamedge", "pamedge-roi"):
        if name not in rows:
            continue
        r = rows[name]
        rss = max(r["peak_rss_mb"], rss_long.get(name, 0.0))
        out[name] = {
            f">= {TARGET_RTF:g}x real time": r["realtime_x"] >= TARGET_RTF,
            f"<= {TARGET_VS_BASELINE:g}x baseline time": r["vs_baseline"] <= TARGET_VS_BASELINE,
            f">= {TARGET_VS_SCIPY:g}x faster than scipy": r["speedup_vs_scipy"] >= TARGET_VS_SCIPY,
            f"peak RSS <= {TARGET_RSS_MB:g} MB": rss <= TARGET_RSS_MB,
        }
    return out


def markdown(report: dict) -> str:
    rows, hours = report["rows"], report["hours"]
    long = report["rss_long"]
    lines = [
        f"{hours:g} h synthetic 96 kHz mono PCM_16, nfft {NFFT}, hop {HOP}, blocks of "
        f"{report['block_frames']} samples, one core, {report['repeats']} interleaved repeats.",
        "",
        f"| contender | median wall s | real time | x baseline (a) | speed-up vs (b) | median CPU s "
        f"| page faults | peak RSS MB ({hours:g} h) | peak RSS MB ({report['rss_hours']:g} h) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    labels = {
        "baseline": "(a) bare baseline",
        "scipy": "(b) scipy.signal.spectrogram",
        "pamedge": "(1) pamedge process_recording",
        "pamedge-roi": "(1b) pamedge frontend + ROI",
    }
    for name, r in rows.items():
        rss_l = f"{long[name]:.0f}" if name in long else "-"
        lines.append(
            f"| {labels[name]} | {r['median_s']:.2f} | {r['realtime_x']:.0f}x | {r['vs_baseline']:.2f} "
            f"| {r['speedup_vs_scipy']:.2f} | {r['median_cpu_s']:.2f} | {r['median_page_faults']:,.0f} "
            f"| {r['peak_rss_mb']:.0f} | {rss_l} |"
        )
    work = {name: {k: r[k] for k in ("frames", "rois") if k in r} for name, r in rows.items()}
    lines += ["", "Same work: " + "; ".join(f"{labels[n]} {w}" for n, w in work.items())]
    lines += ["", "Targets:", ""]
    for name, checks in report["verdicts"].items():
        lines.append(f"- {labels[name]}: " + "; ".join(f"{k} {'met' if ok else 'MISSED'}" for k, ok in checks.items()))
    lines += ["", "Machine: " + ", ".join(f"{k} {v}" for k, v in report["machine"].items())]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=2.0, help="length of the timed recording")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each contender (interleaved)")
    parser.add_argument(
        "--rss-hours",
        type=float,
        default=4.0,
        help="length of a second recording, run once, to show peak RSS does not grow with the file (0: skip)",
    )
    parser.add_argument("--cpu", type=int, default=max(os.sched_getaffinity(0)), help="core to pin to")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=CONTENDERS,
        default=CONTENDERS,
        help="run only these contenders (baseline and scipy are always run)",
    )
    parser.add_argument("--json", action="store_true", help="print the full report as JSON")
    parser.add_argument("--child", choices=CONTENDERS, help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--block-frames", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.file, args.block_frames, args.cpu)
        return 0

    sys.path.insert(0, str(ROOT))
    from edge.config import load_deployment

    config = load_deployment(DEPLOYMENT)
    assert (config.sample_rate, config.frontend.nfft, config.frontend.hop) == (SAMPLE_RATE, NFFT, HOP)
    block_frames = round(config.block_s * SAMPLE_RATE)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731

    log(f"preparing {args.hours:g} h recording in {CACHE}")
    path = synthetic_recording(args.hours)
    names = [name for name in CONTENDERS if name in {"baseline", "scipy", *args.only}]
    runs = []
    for repeat in range(args.repeats):
        for name in names:
            runs.append(spawn(name, path, block_frames, args.cpu))
            log(
                f"repeat {repeat + 1}/{args.repeats} {name:12s} {runs[-1]['wall_s']:7.2f} s "
                f"{runs[-1]['peak_rss_mb']:6.0f} MB"
            )
    rss_long = {}
    if args.rss_hours:
        log(f"preparing {args.rss_hours:g} h recording for the memory check")
        long_path = synthetic_recording(args.rss_hours)
        for name in names:
            rss_long[name] = spawn(name, long_path, block_frames, args.cpu)["peak_rss_mb"]
            log(f"{args.rss_hours:g} h {name:12s} {rss_long[name]:6.0f} MB")

    rows = summarise(runs, args.hours * 3600)
    report = {
        "hours": args.hours,
        "rss_hours": args.rss_hours,
        "repeats": args.repeats,
        "block_frames": block_frames,
        "cpu": args.cpu,
        "rows": rows,
        "rss_long": rss_long,
        "verdicts": verdicts(rows, rss_long),
        "machine": machine(),
        "runs": runs,
    }
    print(json.dumps(report, indent=2) if args.json else markdown(report))
    return 0 if all(all(v.values()) for v in report["verdicts"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())

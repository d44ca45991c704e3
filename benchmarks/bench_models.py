"""Model bundles at run time, per bundle and backend (issue: INT8 bundles, runtime half).

* cold start: a fresh interpreter imports the runtime, loads and verifies the bundle, opens
  the backend and classifies one window; the wall time of the whole process (interpreter
  start included) and, inside it, each step.  Median of ``--repeats``.
* latency per window: batch 1, one intra-op thread, median over ``--windows`` windows.
* end to end: ``edge-detect -q`` on the NARW recordings (the three NOPP6_EST files of
  ../shared/data, 45 min at 2 kHz) with the model and with ``--no-model``; the real-time
  factor is audio seconds over ``processing_s`` of ``run.json``.  Each run is pinned to one
  core (taskset) with BLAS/OpenMP threads = 1.  Median of ``--repeats``.
* sizes: the INT8 files and the FP32 ONNX from the card.

    python benchmarks/bench_models.py [BUNDLE ...] [--repeats 5] [--windows 200] [--json]

BUNDLE is a folder or a name under models/; default: every bundle in models/.  Prints a
Markdown summary (or JSON).  Targets (issue): cold start <= 150 ms, INT8 file <= 1/3 of FP32,
end to end >= 2000x real time on 2 kHz data on one core.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NARW = ROOT.parent / "shared" / "data" / "real" / "meridian-osmose-narw" / "task-2a" / "data" / "train" / "narw"
DEPLOYMENT = ROOT / "firmware-config" / "deployments" / "narw-upcall.yaml"
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
TARGET_COLD_MS, TARGET_SIZE_RATIO, TARGET_RTF = 150.0, 1 / 3, 2000.0
NARW_RATE = 2000

COLD = r"""
import time, sys
t0 = time.perf_counter()
import numpy as np
from edge.bundle import load_bundle
from edge.backends import open_backend
t1 = time.perf_counter()
bundle = load_bundle(sys.argv[1])
t2 = time.perf_counter()
backend = open_backend(bundle, sys.argv[2], threads=1)
t3 = time.perf_counter()
backend.run(np.zeros((1, bundle.n_frames, bundle.n_features), np.float32))
t4 = time.perf_counter()
print(f"{t1 - t0} {t2 - t1} {t3 - t2} {t4 - t3}")
"""


def env_one_core() -> dict:
    env = dict(os.environ)
    env.update({k: "1" for k in THREAD_VARS})
    return env


def pinned(cmd: list[str]) -> list[str]:
    return (["taskset", "-c", "0"] if shutil.which("taskset") else []) + cmd


def cold_start(bundle: Path, kind: str, repeats: int) -> dict:
    walls, steps = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = subprocess.run(
            pinned([sys.executable, "-c", COLD, str(bundle), kind]),
            capture_output=True,
            text=True,
            env=env_one_core(),
            cwd=ROOT,
            check=True,
        )
        walls.append(time.perf_counter() - t0)
        steps.append([float(x) for x in out.stdout.split()])
    med = [statistics.median(s[i] for s in steps) * 1000 for i in range(4)]
    return {
        "process_ms": statistics.median(walls) * 1000,
        "imports_ms": med[0],
        "load_verify_ms": med[1],
        "open_backend_ms": med[2],
        "first_inference_ms": med[3],
    }


def latency(bundle: Path, kind: str, windows: int) -> float:
    import numpy as np

    from edge.backends import open_backend
    from edge.bundle import load_bundle

    b = load_bundle(bundle)
    backend = open_backend(b, kind, threads=1)
    x = np.random.default_rng(0).normal(size=(windows, b.n_frames, b.n_features)).astype(np.float32)
    backend.run(x[:1])
    times = []
    for i in range(windows):
        t0 = time.perf_counter()
        backend.run(x[i : i + 1])
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def end_to_end(args: list[str], repeats: int) -> dict:
    """Median real-time factor of ``edge-detect`` over the NARW files with ``args``."""
    files = sorted(NARW.glob("NOPP6_EST_*.wav"))
    rtfs, detections = [], None
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [
                sys.executable,
                "-m",
                "edge.cli.detect",
                *map(str, files),
                "-o",
                tmp,
                "-q",
                "--config",
                str(DEPLOYMENT),
                *args,
            ]
            subprocess.run(pinned(cmd), check=True, env=env_one_core(), cwd=ROOT, capture_output=True)
            totals = json.loads((Path(tmp) / "run.json").read_text())["totals"]
            rtfs.append(totals["audio_s"] / totals["processing_s"])
            detections = totals["detections_per_label"]
    return {"realtime_factor": statistics.median(rtfs), "audio_s": totals["audio_s"], "detections": detections}


def sizes(bundle: Path) -> dict:
    from edge.bundle import load_bundle

    b = load_bundle(bundle)
    fp32 = (b.card.get("fp32") or {}).get("onnx_bytes")
    out = {name: entry["bytes"] for name, entry in b.files.items()}
    out["fp32_onnx"] = fp32
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bundles", nargs="*")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--windows", type=int, default=200)
    parser.add_argument("--e2e-repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from edge.bundle import find_bundles, load_bundle, resolve

    paths = [resolve(b) for b in args.bundles] if args.bundles else find_bundles()
    if not paths:
        print("no bundles: name one (a folder) or put bundles in models/", file=sys.stderr)
        return 2
    kinds = ["onnx"] + (["tflite"] if __import__("importlib").util.find_spec("ai_edge_litert") else [])
    result = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
        },
        "no_model": end_to_end(["--no-model"], args.e2e_repeats) if NARW.exists() else None,
        "bundles": [],
    }
    for path in paths:
        bundle = load_bundle(path)
        entry = {"bundle": bundle.name, "path": str(path), "sizes": sizes(path), "backends": {}}
        for kind in kinds:
            if f"model.int8.{kind}" not in bundle.files:
                continue
            entry["backends"][kind] = {
                "identity": bundle.identity(kind),
                "cold_start": cold_start(path, kind, args.repeats),
                "latency_ms": latency(path, kind, args.windows),
                # the NARW hour is 2 kHz: other bundles have no recordings at their rate here
                "end_to_end": end_to_end(["--model", str(path), "--backend", kind], args.e2e_repeats)
                if NARW.exists() and bundle.sample_rate == NARW_RATE
                else None,
            }
        result["bundles"].append(entry)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(markdown(result))
    return 0


def markdown(r: dict) -> str:
    lines = [
        f"Machine: {r['machine']['platform']}, {r['machine']['processor']}, {r['machine']['cpus']} CPUs, "
        f"Python {r['machine']['python']}; one core (taskset), 1 thread.",
        "",
    ]
    if r["no_model"]:
        lines.append(
            f"edge-detect --no-model on the NARW files ({r['no_model']['audio_s'] / 60:.0f} min): "
            f"{r['no_model']['realtime_factor']:.0f}x real time."
        )
        lines.append("")
    lines += [
        "| bundle | backend | cold start ms (process) | imports / load+verify / open / first | "
        "latency ms/window | edge-detect x real time | INT8 bytes | FP32 ONNX bytes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for b in r["bundles"]:
        for kind, x in b["backends"].items():
            c = x["cold_start"]
            e2e = f"{x['end_to_end']['realtime_factor']:.0f}x" if x["end_to_end"] else "n/a"
            lines.append(
                f"| {b['bundle']} | {kind} | {c['process_ms']:.0f} | {c['imports_ms']:.0f} / "
                f"{c['load_verify_ms']:.1f} / {c['open_backend_ms']:.1f} / {c['first_inference_ms']:.2f} | "
                f"{x['latency_ms']:.3f} | {e2e} | {b['sizes'].get(f'model.int8.{kind}')} | "
                f"{b['sizes'].get('fp32_onnx')} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

"""INT8 conversion: file sizes and per-window latency per backend (issue: INT8 bundles,
conversion half).

For each run: FP32 ONNX, INT8 ONNX in the u8s7 (default) and s8s8 schemes, INT8 TFLite (as
``edge-convert`` makes them, calibrated on the same windows), their sizes (target: INT8 <= 1/3
of FP32) and the median latency of one window through each, 1 thread, warm (FP32 torch
alongside), plus argmax agreement with FP32 on the held-out windows.  Runs: the ``--run``
folders given, else two synthetic right-whale runs trained here into benchmarks/.cache/ (the
shipped recipes' architecture, width 16 / depth 3, and a tiny width 8 / depth 2).

    python benchmarks/bench_convert.py [--run runs/narw-upcall ...] [--repeats 200] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CACHE = ROOT / "benchmarks" / ".cache" / "convert"
DEPLOYMENT = ROOT / "firmware-config" / "deployments" / "narw-upcall.yaml"
SYNTHETIC = {"recipe-arch": {"width": 16, "depth": 3}, "tiny": {"width": 8, "depth": 2}}


def synthetic_run(name: str, model: dict) -> Path:
    import yaml

    from training.config import load_config
    from training.loop import train

    folder = CACHE / name
    if (folder / "run" / "best.pt").exists():
        return folder / "run"
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "out": "run",
        "deployment": str(DEPLOYMENT),
        "classes": ["noise", "upcall"],
        "window_s": 2.0,
        "seed": 11,
        "data": {
            "synthetic": {
                "recordings": 8,
                "duration_s": 60,
                "sample_rate": 2000,
                "calls": {"upcall": 8},
                "snr_db": [3, 15],
            }
        },
        "split": {"val": 0.2, "test": 0.2},
        "model": model,
        "train": {"epochs": 8, "batch_size": 32, "patience": 4, "threads": 1, "steps_per_epoch": 10, "progress": False},
    }
    (folder / "train.yaml").write_text(yaml.safe_dump(config))
    train(load_config(folder / "train.yaml"))
    return folder / "run"


def bench(run_dir: Path, repeats: int) -> dict:
    import torch

    from convert.export import export_fp32
    from convert.graph import torch_logits
    from convert.infer import OnnxModel, TfliteModel, batched
    from convert.measure import latency_ms
    from convert.quantise_onnx import quantise_onnx
    from convert.run import load_run
    from convert.tflite import convert_tflite, io_quantisation

    torch.set_num_threads(1)
    run = load_run(run_dir)
    cal = run.calibration(512, 0)
    _, held = run.held_out()
    names = run.graph.names
    fp32 = export_fp32(run.graph, cal, {})
    files = {
        "onnx_fp32": fp32,
        "onnx_int8_u8s7": quantise_onnx(fp32, cal, scheme="u8s7"),
        "onnx_int8_s8s8": quantise_onnx(fp32, cal, scheme="s8s8"),
    }
    tfl = convert_tflite(run.graph, cal)
    tin, touts = io_quantisation(tfl, names)
    models = {k: OnnxModel(v, names) for k, v in files.items()}
    models["tflite_int8"] = TfliteModel(tfl, tin, touts)
    files["tflite_int8"] = tfl
    ref = torch_logits(run.graph, held)
    window = held[0]
    latency = {"torch_fp32": latency_ms(lambda w: torch_logits(run.graph, w), window, repeats)}
    agreement = {}
    for k, m in models.items():
        latency[k] = latency_ms(m, window, repeats)
        got = batched(m, held)
        agreement[k] = min(float(np.mean(got[n].argmax(1) == ref[n].argmax(1))) for n in names)
    params = sum(p.numel() for p in run.model.parameters())
    return {
        "run": str(run_dir),
        "params": int(params),
        "held_out_windows": int(len(held)),
        "bytes": {k: len(v) for k, v in files.items()},
        "int8_over_fp32": {k: round(len(v) / len(fp32), 3) for k, v in files.items() if k != "onnx_fp32"},
        "latency_ms": {k: round(v, 4) for k, v in latency.items()},
        "agreement": agreement,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", action="append", type=Path, help="an edge-train run folder (repeatable)")
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    runs = args.run or [synthetic_run(name, model) for name, model in SYNTHETIC.items()]
    results = [bench(r, args.repeats) for r in runs]
    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    from convert.measure import machine

    print(f"machine: {machine()}\n")
    print("| run | params | held-out windows | FP32 ONNX | INT8 ONNX u8s7 | INT8 ONNX S8S8 | INT8 TFLite |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        b, q = r["bytes"], r["int8_over_fp32"]
        print(
            f"| {Path(r['run']).parent.name}/{Path(r['run']).name} | {r['params']} | {r['held_out_windows']} | {b['onnx_fp32']} B | "
            f"{b['onnx_int8_u8s7']} B ({q['onnx_int8_u8s7']}) | {b['onnx_int8_s8s8']} B ({q['onnx_int8_s8s8']}) | "
            f"{b['tflite_int8']} B ({q['tflite_int8']}) |"
        )
    print("\nper-window latency, median, 1 thread, ms (argmax agreement with FP32 on held-out windows)\n")
    print("| run | torch FP32 | ONNX FP32 | ONNX u8s7 | ONNX S8S8 | TFLite INT8 |")
    print("|---|---|---|---|---|---|")
    for r in results:
        lat, ag = r["latency_ms"], r["agreement"]
        cells = " | ".join(
            f"{lat[k]:.3f} ({ag[k]:.3f})" for k in ("onnx_fp32", "onnx_int8_u8s7", "onnx_int8_s8s8", "tflite_int8")
        )
        print(f"| {Path(r['run']).parent.name}/{Path(r['run']).name} | {lat['torch_fp32']:.3f} | {cells} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

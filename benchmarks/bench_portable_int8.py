"""Portable INT8: the ONNX quantisation schemes side by side, on every kernel path reachable here.

For each run and scheme (convert.quantise_onnx.SCHEMES: u8s7 default, u8s8, u8u8, s8s8),
quantised from one FP32 export on the same calibration windows: argmax agreement with FP32 on
the held-out windows on the reference path (the unfused QDQ arithmetic, which VNNI x86-64 and
ARM64 kernels compute) and on the AVX2 path (natively on an AVX2-only host, else under
``qemu-x86_64 -cpu Haswell``); the largest deviation of activated scores of the AVX2 path from
the reference (edge-selftest's tolerance is 0.03); and the median latency of one window through
the native fused kernels, 1 thread, the schemes interleaved.

    python benchmarks/bench_portable_int8.py [--run runs/narw-upcall ...] [--repeats 300] [--json]

Runs: the ``--run`` folders given, else runs/{narw-upcall,multispecies,beluga-demo} that exist
(``make models`` trains them).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SCHEMES = ("u8s7", "u8s8", "u8u8", "s8s8")


def bench(run_dir: Path, repeats: int) -> dict:
    import torch

    from convert import kernels
    from convert.bundle import _metadata
    from convert.card import window
    from convert.export import export_fp32
    from convert.graph import torch_logits
    from convert.infer import batched
    from convert.quantise_onnx import quantise_onnx
    from convert.run import load_run
    from edge.classify import activate

    torch.set_num_threads(1)
    run = load_run(run_dir)
    cal = run.calibration(512, 0)
    _, held = run.held_out()
    names, outputs = run.graph.names, run.outputs
    fp32 = export_fp32(run.graph, cal, _metadata(run, window(run)))
    ref32 = torch_logits(run.graph, held)
    native_is_avx2 = kernels.cpu_kind() == "x86-64 AVX2"
    row: dict = {"run": str(run_dir), "windows": int(len(held)), "cpu": kernels.cpu_kind(), "schemes": {}}
    sessions = {}
    for scheme in SCHEMES:
        model = quantise_onnx(fp32, cal, scheme=scheme)
        sessions[scheme] = kernels.onnx_session(model)
        ref_s = kernels.onnx_session(model, reference=True)
        paths = {"reference": batched(lambda x, s=ref_s: dict(zip(names, s.run(names, {"input": x}))), held)}
        if native_is_avx2:
            paths["avx2"] = batched(lambda x, s=sessions[scheme]: dict(zip(names, s.run(names, {"input": x}))), held)
        elif kernels.emulated_avx2_reason() is None:
            paths["avx2"] = kernels.emulated_avx2("onnx", model, held)
        agreement = {
            p: min(float(np.mean(v[o.name].argmax(1) == ref32[o.name].argmax(1))) for o in outputs)
            for p, v in paths.items()
        }
        deviation = None
        if "avx2" in paths:
            deviation = max(
                float(
                    np.max(
                        np.abs(
                            activate(paths["avx2"][o.name], o.activation)
                            - activate(paths["reference"][o.name], o.activation)
                        )
                    )
                )
                for o in outputs
            )
        row["schemes"][scheme] = {"agreement": agreement, "avx2_deviation": deviation, "bytes": len(model)}
    x = np.ascontiguousarray(held[:1], dtype=np.float32)
    times: dict = {s: [] for s in SCHEMES}
    for s in SCHEMES:
        sessions[s].run(None, {"input": x})
    for _ in range(repeats):  # interleaved, so load on the machine hits every scheme alike
        for s in SCHEMES:
            t = time.perf_counter()
            sessions[s].run(None, {"input": x})
            times[s].append(time.perf_counter() - t)
    for s in SCHEMES:
        row["schemes"][s]["latency_ms"] = round(float(np.median(times[s])) * 1000, 4)
        row["schemes"][s]["latency_vs_u8s8"] = round(float(np.median(times[s]) / np.median(times["u8s8"])), 3)
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", action="append", type=Path, help="an edge-train run folder (repeatable)")
    ap.add_argument("--repeats", type=int, default=300)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    runs = args.run or [
        p
        for p in (ROOT / "runs" / n for n in ("narw-upcall", "multispecies", "beluga-demo"))
        if (p / "best.pt").is_file()
    ]
    if not runs:
        print("no runs: give --run RUN_DIR or run `make models` first", file=sys.stderr)
        return 2
    results = [bench(r, args.repeats) for r in runs]
    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    from convert.measure import machine

    print(f"machine: {machine()}; kernel family: {results[0]['cpu']}\n")
    print(
        "| run | scheme | agreement (reference = VNNI/ARM) | agreement (AVX2) | AVX2 max score deviation | "
        "latency ms (x u8s8) |"
    )
    print("|---|---|---|---|---|---|")
    for r in results:
        for s, v in r["schemes"].items():
            ag = v["agreement"]
            dev = "-" if v["avx2_deviation"] is None else f"{v['avx2_deviation']:.4f}"
            avx2 = f"{ag['avx2']:.4f}" if "avx2" in ag else "-"
            print(
                f"| {Path(r['run']).name} ({r['windows']} windows) | {s} | {ag['reference']:.4f} | {avx2} | {dev} | "
                f"{v['latency_ms']:.3f} ({v['latency_vs_u8s8']:.2f}) |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

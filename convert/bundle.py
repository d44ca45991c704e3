"""``convert_run``: a run folder -> a gated, self-describing INT8 bundle (docs/reference/bundles.md).

Nothing is written unless every step succeeds and the gate passes; the bundle is assembled in
a temporary sibling folder and renamed into place, so a reader never sees half a bundle.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import yaml

from convert.types import Converted, ConvertError, ConvertOptions, GateError
from edge.errors import MissingExtraError

HINT = 'pip install torch==2.13.0 "pamedge[convert]"'
_NEEDS = ("torch", "onnx", "onnxscript", "onnxruntime", "litert_torch", "ai_edge_litert")
FP32_TOLERANCE = 1e-4  # max |ONNX - torch| of FP32 logits: export must not change the model


def check_extras() -> None:
    missing = [m for m in _NEEDS if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingExtraError(f"edge-convert needs {', '.join(missing)}: {HINT}")


def _metadata(run, window: dict) -> dict:
    from convert.card import outputs

    return {
        "task": run.task,
        "classes": list(run.ckpt["classes"]),
        "outputs": outputs(run),
        "frontend_spec": run.ckpt["spec"],
        "frontend_hash": run.ckpt["spec_hash"],
        "sample_rate": int(run.ckpt["spec"]["sample_rate"]),
        "window_s": window["length_s"],
        "hop_s": window["hop_s"],
        "n_frames": window["n_frames"],
        "n_features": window["n_features"],
        "standardise_scale_db": run.scale_db,
        **({"standardise_centre": run.centre} if run.centre != "window_mean" else {}),
    }


def convert_models(run, options: ConvertOptions) -> Converted:
    """FP32 ONNX (checked against torch), INT8 ONNX, INT8 TFLite and their float-op lists."""
    from convert.card import window
    from convert.export import export_fp32
    from convert.float_ops import onnx_float_ops, tflite_float_ops
    from convert.graph import torch_logits
    from convert.infer import OnnxModel, batched
    from convert.quantise_onnx import quantise_onnx
    from convert.tflite import convert_tflite, io_quantisation

    calibration = run.calibration(options.calibration_windows, options.seed)
    fp32 = export_fp32(run.graph, calibration, _metadata(run, window(run)))
    _, held = run.held_out()
    ref, got = torch_logits(run.graph, held), batched(OnnxModel(fp32, run.graph.names), held)
    worst = max(float(np.max(np.abs(ref[k] - got[k]), initial=0.0)) for k in ref)
    if worst > FP32_TOLERANCE:
        raise ConvertError(f"{run.path}: FP32 ONNX differs from torch by {worst:.3g} (> {FP32_TOLERANCE})")
    onnx_int8 = quantise_onnx(fp32, calibration, scheme=options.onnx_scheme)
    tflite_int8 = convert_tflite(run.graph, calibration)
    tin, touts = io_quantisation(tflite_int8, run.graph.names)
    return Converted(
        fp32,
        onnx_int8,
        tflite_int8,
        tin,
        touts,
        {"onnx": onnx_float_ops(onnx_int8), "tflite": tflite_float_ops(tflite_int8)},
        calibration_windows=len(calibration),
    )


def convert_run(run_dir: str | Path, out: str | Path, options: ConvertOptions = ConvertOptions()) -> tuple[Path, str]:
    """Convert, gate and write the bundle ``out``; returns its path and the gate's table.
    Raises :class:`GateError` (nothing written) when the INT8 files fail the gate."""
    check_extras()
    import torch

    from convert.card import build_card
    from convert.gate import run_gate
    from convert.infer import OnnxModel, TfliteModel
    from convert.measure import golden, golden_inputs, latency_ms, machine
    from convert.run import load_run

    out = Path(out)
    if out.exists() and not options.force:
        raise ConvertError(f"{out}: exists (use --force to replace it)")
    torch.manual_seed(options.seed)
    torch.set_num_threads(1)
    run = load_run(run_dir)
    options = replace(options, name=options.name or out.name)
    conv = convert_models(run, options)
    onnx_model = OnnxModel(conv.onnx_int8, run.graph.names)
    tflite_model = TfliteModel(conv.tflite_int8, conv.tflite_input, conv.tflite_outputs)
    gate = run_gate(run, conv, onnx_model, tflite_model, options)
    for fmt, ops in conv.float_ops.items():
        if ops:  # "INT8" that is really mixed precision is refused, not shipped
            gate.failures.append(f"{fmt} file keeps float compute ops: {', '.join(ops)}")
            gate.passed = False
    table = gate.table(options)
    if not gate.passed:
        raise GateError(f"{run.path}: the INT8 files fail the accuracy gate; no bundle written", table)
    _, held = run.held_out()
    files = {"model.int8.onnx": conv.onnx_int8, "model.int8.tflite": conv.tflite_int8}
    # the ONNX golden is the file's reference arithmetic, not this CPU's kernels, so a bundle
    # converted on any machine holds the same vectors (convert.kernels)
    files["golden.npz"] = golden(
        run.graph,
        golden_inputs(held, options.golden_windows, options.seed),
        {"onnx_int8": OnnxModel(conv.onnx_int8, run.graph.names, reference=True), "tflite_int8": tflite_model},
    )
    latency = {
        "onnx_int8": latency_ms(onnx_model, held[0], options.latency_repeats),
        "tflite_int8": latency_ms(tflite_model, held[0], options.latency_repeats),
        "machine": machine(),
    }
    threshold = options.threshold
    evaluation = run.config.get("evaluation") or {}
    if isinstance(evaluation, dict) and "threshold" in evaluation:
        threshold = float(evaluation["threshold"])
    card = build_card(run, options.name, conv, files, gate, latency, options, threshold)
    _write_atomic(out, {**files, "card.yaml": yaml.safe_dump(card, sort_keys=False).encode()})
    return out, table


def _write_atomic(out: Path, files: dict[str, bytes]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp's 0700 would hide the bundle from the runtime's user
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        old = None
        if out.exists():
            old = out.parent / f"{tmp.name}.old"
            out.rename(old)
        tmp.rename(out)
        if old is not None:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise

"""``card.yaml``: what the bundle is, what it expects, how well it does, proof of its files
(docs/reference/bundles.md)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from convert.gate import GateResult
from convert.run import Run, negative
from convert.types import SCHEMES, Converted, ConvertOptions

FORMAT = "pamedge-bundle/1"


def file_entry(data: bytes) -> dict:
    return {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def window(run: Run) -> dict:
    """The model's input window and crop policy (the recipe's ``inference:``; edge/crops.py)."""
    from training.evaluate import run_policy

    spec = run.ckpt["spec"]
    hop_s = spec["hop"] / spec["sample_rate"]
    return {
        "length_s": float(run.ckpt["window_s"]),
        "n_frames": int(run.dataset.x.shape[1]),
        "n_features": int(run.dataset.x.shape[2]),
        "hop_s": hop_s,
        **run_policy(run.path).as_card(),
    }


def outputs(run: Run) -> dict:
    """Output name -> classes, activation and its "no call" class (a head's first class for
    multi-output; the run's negative class otherwise)."""
    neg = negative(run)
    return {
        o.name: {
            "classes": list(o.classes),
            "activation": o.activation,
            "negative": o.classes[0] if run.task == "multi_output" else neg,
        }
        for o in run.outputs
    }


def thresholds(run: Run, threshold: float) -> dict:
    out = {}
    for o in outputs(run).values():
        out.update({c: threshold for c in o["classes"] if c != o["negative"]})
    return out


def provenance(run: Run) -> dict:
    """The run's ``card:`` section and ``evaluation.json`` (written by edge-train), as they are."""
    card = run.config.get("card") or {}
    out = {"run": str(run.path.resolve()), **card}
    out.setdefault("split", {k: len(v) for k, v in run.split.items()})
    evaluation = run.path / "evaluation.json"
    if evaluation.is_file():
        out["evaluation"] = json.loads(evaluation.read_text())
    return _portable(out, Path.cwd())


def _portable(value, base: Path):
    """``value`` with absolute paths made relative to ``base`` (the converting folder, usually
    the repository), so a shipped card names no path of the machine that wrote it."""
    if isinstance(value, dict):
        return {k: _portable(v, base) for k, v in value.items()}
    if isinstance(value, list):
        return [_portable(v, base) for v in value]
    if isinstance(value, str) and value.startswith("/") and "\n" not in value:
        return os.path.relpath(value, base)
    return value


def golden_section(gate: GateResult, options: ConvertOptions) -> dict:
    """edge-selftest's tolerance, what the vectors are, and the margin the kernel paths left."""
    paths = gate.portability
    worst = paths.worst() if paths is not None else None
    tolerance = paths.selftest_tolerance(options.golden_tolerance) if paths is not None else options.golden_tolerance
    return {
        # at least one output step's score change: a CPU whose exact kernels round the last
        # requantisation the other way must pass (convert.portability)
        "tolerance": tolerance,
        "reference": {
            "onnx_int8": "unfused QDQ arithmetic (what exact integer kernels compute, on any CPU)",
            "tflite_int8": "the converting machine's TFLite kernels",
        },
        "worst_path_deviation": None if worst is None else round(float(worst), 6),
        "margin": None if not worst else round(tolerance / worst, 2),
    }


def build_card(
    run: Run,
    name: str,
    converted: Converted,
    files: dict[str, bytes],
    gate: GateResult,
    latency: dict,
    options: ConvertOptions,
    threshold: float,
) -> dict:
    card_section = run.config.get("card") or {}
    return {
        "format": FORMAT,
        "name": name,
        "description": options.description
        or card_section.get("description")
        or f"{run.task} classifier of {run.path.name}",
        "task": run.task,
        "negative": None if run.task == "multi_output" else negative(run),
        "outputs": outputs(run),
        "sample_rate": int(run.ckpt["spec"]["sample_rate"]),
        "frontend": {"spec": dict(run.ckpt["spec"]), "hash": run.ckpt["spec_hash"]},
        "window": window(run),
        "input": {
            "standardise": {
                "scale_db": run.scale_db,
                **({"centre": run.centre} if run.centre != "window_mean" else {}),
            },
            "tflite": converted.tflite_input,
        },
        "tflite_outputs": converted.tflite_outputs,
        "files": {k: file_entry(v) for k, v in files.items()},
        "fp32": {"onnx_bytes": len(converted.fp32_onnx)},
        "quantisation": {
            "onnx": {
                "format": "QDQ",
                "per_channel": True,
                "scheme": options.onnx_scheme,
                "activations": SCHEMES[options.onnx_scheme][0],
                "weights": SCHEMES[options.onnx_scheme][1],
            },
            "tflite": {"scheme": "PT2E", "full_integer": True, "input": "int8", "output": "int8"},
            "calibration_windows": converted.calibration_windows,
            "float_ops": converted.float_ops,
        },
        "metrics": gate.as_card(options),
        "latency_ms": latency,
        "thresholds": thresholds(run, threshold),
        **({"species": card_section["species"]} if card_section.get("species") else {}),
        "training": provenance(run),
        "golden": golden_section(gate, options),
    }

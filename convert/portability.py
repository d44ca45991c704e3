"""Does each INT8 file give the same scores on every CPU?  The gate's second half.

Each file runs on the held-out windows along every kernel path this machine can reach
(convert.kernels): the ONNX file as the unfused reference, natively and, on a VNNI host with
QEMU, on the AVX2 path; the TFLite file natively and on the AVX2 path.  Each path's argmax
agreement with FP32 counts in the gate (the lowest wins), and each path's largest deviation of
activated scores from the file's reference must stay within ``golden_tolerance /
golden_margin``, so ``edge-selftest`` passes on those CPUs with that margin.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from convert import kernels
from convert.infer import OnnxModel, batched
from edge.classify import activate


@dataclass
class PortabilityResult:
    cpu: str  # this machine's kernel family (convert.kernels.cpu_kind)
    agreement: dict = field(default_factory=dict)  # file -> path -> lowest argmax agreement with FP32
    deviation: dict = field(default_factory=dict)  # file -> path -> max |scores - reference scores|
    notes: list = field(default_factory=list)  # paths not checked, and why

    def worst(self) -> float:
        return max((d for paths in self.deviation.values() for d in paths.values()), default=0.0)

    def as_card(self) -> dict:
        return {
            "cpu": self.cpu,
            "agreement": {f: {p: round(float(v), 6) for p, v in paths.items()} for f, paths in self.agreement.items()},
            "max_abs_deviation": {
                f: {p: round(float(v), 6) for p, v in paths.items()} for f, paths in self.deviation.items()
            },
            "not_checked": list(self.notes),
        }


def _scores(logits: dict, outputs) -> dict:
    return {o.name: activate(np.asarray(logits[o.name], np.float32), o.activation) for o in outputs}


def _deviation(a: dict, b: dict) -> float:
    return max(float(np.max(np.abs(a[k] - b[k]), initial=0.0)) for k in a)


def _agreement(logits: dict, fp32: dict, outputs) -> float:
    return min(float(np.mean(np.argmax(logits[o.name], 1) == np.argmax(fp32[o.name], 1))) for o in outputs)


def check(run, converted, onnx_model, tflite_model, x: np.ndarray, fp32: dict) -> PortabilityResult:
    """Every reachable path of both files on windows ``x``; ``fp32`` their FP32 logits."""
    outputs, names = run.outputs, run.graph.names
    result = PortabilityResult(kernels.cpu_kind())
    native = f"native ({result.cpu})"
    tflite_io = {"input": converted.tflite_input, "outputs": converted.tflite_outputs}
    paths = {
        "onnx_int8": {
            "reference": batched(OnnxModel(converted.onnx_int8, names, reference=True), x),
            native: batched(onnx_model, x),
        },
        "tflite_int8": {native: batched(tflite_model, x)},
    }
    reason = kernels.emulated_avx2_reason()
    if reason is None:
        for f, kind, data, io in (
            ("onnx_int8", "onnx", converted.onnx_int8, None),
            ("tflite_int8", "tflite", converted.tflite_int8, tflite_io),
        ):
            got = kernels.emulated_avx2(kind, data, x, io)
            paths[f]["avx2 (qemu Haswell)"] = {n: got[n] for n in names} if kind == "onnx" else got
    else:
        result.notes.append(reason)
    for f, by_path in paths.items():
        ref_name = "reference" if "reference" in by_path else native
        ref = _scores(by_path[ref_name], outputs)
        result.agreement[f] = {p: _agreement(v, fp32, outputs) for p, v in by_path.items()}
        result.deviation[f] = {p: _deviation(_scores(v, outputs), ref) for p, v in by_path.items() if p != ref_name}
    return result

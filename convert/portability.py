"""Does each INT8 file give the same scores on every CPU?  The gate's second half.

Each file runs on the held-out windows along every kernel path this machine can reach
(convert.kernels): the ONNX file as the unfused reference, natively and, on a VNNI host with
QEMU, on the AVX2 path; the TFLite file natively and on the AVX2 path.  Each path's argmax
agreement with FP32 counts in the gate (the lowest wins), and each path's largest deviation of
activated scores from the file's reference must stay within ``golden_tolerance /
golden_margin``, so ``edge-selftest`` passes on those CPUs with that margin.

A path whose logits lie within one output step of the reference (the scale the file
dequantises its outputs by) differs by the last requantisation's rounding only: exact integer
kernels on any CPU may round a borderline value the other way, and no kernel path can do better
than the file's own resolution.  Such a path passes whatever its score deviation (one step of a
softmax's logits moves a score by up to step / 2: 0.04-0.06 for 2-class models whose logits
span +-10), and the selftest's tolerance is raised to at least that change, so a CPU that rounds
the other way still passes.  A saturating kernel path moves logits by many steps (scores by
0.2-0.85, benchmarks/RESULTS.md) and still fails.
"""

from __future__ import annotations

import math
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
    steps: dict = field(default_factory=dict)  # file -> path -> max |logits - reference logits| in output steps
    one_step: dict = field(default_factory=dict)  # file -> the largest score change one output step can make
    notes: list = field(default_factory=list)  # paths not checked, and why

    def rounding_only(self, f: str, path: str) -> bool:
        """Whether ``path`` of file ``f`` differs from its reference by one output step at most."""
        steps = self.steps.get(f, {}).get(path)
        return steps is not None and steps <= 1 + 1e-3

    def selftest_tolerance(self, tolerance: float) -> float:
        """``tolerance``, raised to the score change of one output step where that is larger."""
        return max([tolerance, *(round(math.ceil(v * 1e4) / 1e4, 4) for v in self.one_step.values())])

    def worst(self) -> float:
        return max((d for paths in self.deviation.values() for d in paths.values()), default=0.0)

    def as_card(self) -> dict:
        return {
            "cpu": self.cpu,
            "agreement": {f: {p: round(float(v), 6) for p, v in paths.items()} for f, paths in self.agreement.items()},
            "max_abs_deviation": {
                f: {p: round(float(v), 6) for p, v in paths.items()} for f, paths in self.deviation.items()
            },
            "max_output_steps": {
                f: {p: None if v is None else round(float(v), 3) for p, v in paths.items()}
                for f, paths in self.steps.items()
            },
            "one_step_score_change": {f: round(float(v), 6) for f, v in self.one_step.items()},
            "not_checked": list(self.notes),
        }


def _scores(logits: dict, outputs) -> dict:
    return {o.name: activate(np.asarray(logits[o.name], np.float32), o.activation) for o in outputs}


def _deviation(a: dict, b: dict) -> float:
    return max(float(np.max(np.abs(a[k] - b[k]), initial=0.0)) for k in a)


def _steps(a: dict, b: dict, step: dict) -> float | None:
    """The largest logit difference in output steps (None when an output's step is unknown)."""
    if any(step.get(k) is None for k in a):
        return None
    return max(float(np.max(np.abs(a[k] - b[k]), initial=0.0)) / step[k] for k in a)


def _one_step(step: dict, outputs) -> float:
    """The largest score change of one step on every logit: softmax scores move by at most
    2 p (1 - p) step <= step / 2, sigmoid scores by step / 4."""
    return max(
        (step[o.name] / (4 if o.activation == "sigmoid" else 2) for o in outputs if step.get(o.name)),
        default=0.0,
    )


def onnx_output_steps(model: bytes) -> dict[str, float | None]:
    """Each graph output's dequantisation scale (None when no scalar DequantizeLinear makes it)."""
    import onnx
    from onnx import numpy_helper

    m = onnx.load_from_string(model)
    producer = {o: n for n in m.graph.node for o in n.output}
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    out: dict[str, float | None] = {}
    for o in m.graph.output:
        node = producer.get(o.name)
        scale = inits.get(node.input[1]) if node is not None and node.op_type == "DequantizeLinear" else None
        out[o.name] = float(scale) if scale is not None and np.size(scale) == 1 else None
    return out


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
    steps = {
        "onnx_int8": onnx_output_steps(converted.onnx_int8),
        "tflite_int8": {n: float(o["scale"]) for n, o in converted.tflite_outputs.items()},
    }
    for f, by_path in paths.items():
        ref_name = "reference" if "reference" in by_path else native
        ref = _scores(by_path[ref_name], outputs)
        result.agreement[f] = {p: _agreement(v, fp32, outputs) for p, v in by_path.items()}
        result.deviation[f] = {p: _deviation(_scores(v, outputs), ref) for p, v in by_path.items() if p != ref_name}
        result.steps[f] = {p: _steps(v, by_path[ref_name], steps[f]) for p, v in by_path.items() if p != ref_name}
        result.one_step[f] = _one_step(steps[f], outputs)
    return result

"""The kernel-path check: rounding of the last requantisation against real divergence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from convert.portability import PortabilityResult, _one_step, _steps, onnx_output_steps
from convert.types import Output

TINY = Path(__file__).resolve().parents[1] / "fixtures" / "bundles" / "tiny-single"


def test_the_output_step_is_read_from_the_files_last_dequantisation():
    import onnx
    from onnx import numpy_helper

    data = (TINY / "model.int8.onnx").read_bytes()
    steps = onnx_output_steps(data)
    m = onnx.load_from_string(data)
    (out,) = [o.name for o in m.graph.output]
    producer = {o: n for n in m.graph.node for o in n.output}[out]
    assert producer.op_type == "DequantizeLinear"
    scale = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}[producer.input[1]]
    assert steps == {out: pytest.approx(float(scale))}


def test_logits_one_step_apart_are_rounding_and_more_is_not():
    step = {"logits": 0.1}
    ref = {"logits": np.array([[1.0, -1.0], [0.3, 0.2]], np.float32)}
    one = {"logits": ref["logits"] + np.float32([[0.1, -0.1], [0.0, 0.0]])}
    three = {"logits": ref["logits"] + np.float32([[0.0, 0.3], [0.0, 0.0]])}
    assert _steps(one, ref, step) == pytest.approx(1.0, abs=1e-5)
    assert _steps(three, ref, step) == pytest.approx(3.0, abs=1e-5)
    assert _steps(one, ref, {"logits": None}) is None
    result = PortabilityResult("x86-64 AVX2", steps={"onnx_int8": {"native": 1.0000004, "avx2": 3.0, "arm": None}})
    assert result.rounding_only("onnx_int8", "native")
    assert not result.rounding_only("onnx_int8", "avx2")
    assert not result.rounding_only("onnx_int8", "arm")  # no step known: the score limit alone decides


def test_one_step_moves_a_softmax_score_by_half_a_step_at_most():
    rng = np.random.default_rng(3)
    step = 0.12
    outputs = [Output("logits", ("noise", "upcall"), "softmax")]
    bound = _one_step({"logits": step}, outputs)
    assert bound == pytest.approx(step / 2)
    worst = 0.0
    for _ in range(2000):  # every logit moved by one step either way, at any operating point
        z = rng.uniform(-3, 3, size=2)
        dz = rng.choice([-step, step], size=2)
        p, q = (np.exp(v - v.max()) / np.exp(v - v.max()).sum() for v in (z, z + dz))
        worst = max(worst, float(np.max(np.abs(p - q))))
    assert 0.9 * bound < worst <= bound + 1e-9
    assert _one_step({"h": step}, [Output("h", ("none", "call"), "sigmoid")]) == pytest.approx(step / 4)


def test_the_selftest_tolerance_is_raised_to_one_steps_change_only_where_larger():
    result = PortabilityResult("x86-64 VNNI", one_step={"onnx_int8": 0.04481, "tflite_int8": 0.0585})
    assert result.selftest_tolerance(0.03) == pytest.approx(0.0585)
    assert result.selftest_tolerance(0.06) == 0.06
    assert PortabilityResult("arm64").selftest_tolerance(0.03) == 0.03

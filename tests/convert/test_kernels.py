"""The kernel paths of convert.kernels on a controlled QDQ convolution whose exact answer is known.

Eight input channels at full scale (uint8 255) through a 3x3 convolution of equal int8 weights:
each output sums 72 products.  With full 8-bit weights (127) the AVX2 U8S8 kernel's int16 pair
sums (255 * 127 * 2 = 64,770) saturate; with 7-bit weights (64: 32,640) they cannot.
"""

from __future__ import annotations

import numpy as np
import pytest

from convert import kernels

onnx = pytest.importorskip("onnx", reason="needs the convert extra (onnx)")
pytest.importorskip("onnxruntime")

X = np.ones((1, 8, 6, 6), np.float32)  # quantised to 255 with scale 1/255


def conv(weight: int) -> bytes:
    from onnx import TensorProto, helper, numpy_helper

    cin, cout = 8, 4
    init = [
        numpy_helper.from_array(np.array(1 / 255, np.float32), "xs"),
        numpy_helper.from_array(np.array(0, np.uint8), "xz"),
        numpy_helper.from_array(np.full((cout, cin, 3, 3), weight, np.int8), "wq"),
        numpy_helper.from_array(np.full(cout, 0.01, np.float32), "ws"),
        numpy_helper.from_array(np.zeros(cout, np.int8), "wz"),
        numpy_helper.from_array(np.array(1.0, np.float32), "ys"),
        numpy_helper.from_array(np.array(0, np.uint8), "yz"),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["input", "xs", "xz"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"]),
        helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["wd"], axis=0),
        helper.make_node("Conv", ["xd", "wd"], ["y"], pads=[1, 1, 1, 1]),
        helper.make_node("QuantizeLinear", ["y", "ys", "yz"], ["yq"]),
        helper.make_node("DequantizeLinear", ["yq", "ys", "yz"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes,
        "conv",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, cin, 6, 6])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, cout, 6, 6])],
        init,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def exact(weight: int) -> float:
    """An inner output (all 72 taps inside the image) in exact integer arithmetic."""
    return float(np.round(255 * weight * 72 * (1 / 255) * 0.01))


def inner(out: np.ndarray) -> np.ndarray:
    return out[0, :, 1:-1, 1:-1]


def avx2_path(model: bytes) -> np.ndarray:
    """The fused graph on AVX2 kernels: natively on an AVX2-only host, else under QEMU."""
    kind = kernels.cpu_kind()
    if kind == "x86-64 AVX2":
        return kernels.onnx_session(model).run(None, {"input": X})[0]
    if kind == "x86-64 VNNI" and kernels.emulated_avx2_reason() is None:
        return kernels.emulated_avx2("onnx", model, X)["output"]
    pytest.skip(f"no AVX2 kernel path here ({kind}; {kernels.emulated_avx2_reason()})")


@pytest.mark.parametrize("weight", [127, 64])
def test_the_reference_path_is_exact_integer_arithmetic(weight):
    out = kernels.onnx_session(conv(weight), reference=True).run(None, {"input": X})[0]
    assert np.all(inner(out) == exact(weight))


def test_full_8_bit_weights_saturate_on_avx2_and_7_bit_weights_do_not():
    saturated = inner(avx2_path(conv(127)))
    assert np.all(saturated < 0.6 * exact(127))  # the int16 pair sums clipped at 32,767
    assert np.all(inner(avx2_path(conv(64))) == exact(64))


def test_vnni_and_arm_kernels_are_exact_for_both():
    kind = kernels.cpu_kind()
    if kind not in ("x86-64 VNNI", "arm64"):
        pytest.skip(f"this host is {kind}")
    for weight in (127, 64):
        assert np.all(inner(kernels.onnx_session(conv(weight)).run(None, {"input": X})[0]) == exact(weight))


def test_cpu_kind_names_a_kernel_family():
    assert kernels.cpu_kind() in ("x86-64 VNNI", "x86-64 AVX2", "x86-64", "arm64") or "x86" not in kernels.cpu_kind()


@pytest.mark.slow
def test_qemu_haswell_runs_the_avx2_kernels_on_any_x86_64_host():
    """The gate's emulated path itself (on a VNNI host it is the only AVX2 path there is)."""
    import shutil

    if not kernels.cpu_kind().startswith("x86-64") or shutil.which(kernels.QEMU) is None:
        pytest.skip(f"needs an x86-64 host with {kernels.QEMU} (Debian qemu-user; make system-deps)")
    assert np.all(inner(kernels.emulated_avx2("onnx", conv(127), X)["output"]) < 0.6 * exact(127))
    assert np.all(inner(kernels.emulated_avx2("onnx", conv(64), X)["output"]) == exact(64))

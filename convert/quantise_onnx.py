"""INT8 ONNX: ``quant_pre_process`` then ``quantize_static`` (QDQ, per-channel weights)
calibrated on windows of the run's training data.

Schemes (activations, weights), measured in benchmarks/RESULTS.md ("Portable INT8"):

``u8s7`` (default)
    uint8 activations, int8 weights limited to 7 bits (``reduce_range``).  A U8S8 pair sum is
    then at most 255 * 64 * 2 = 32,640 and cannot saturate the int16 of AVX2's VPMADDUBSW, so
    the file gives the same answers on AVX2-only x86-64, VNNI x86-64 and ARM64, at U8S8 speed.
``u8s8``
    full 8-bit weights: fastest on VNNI and ARM64, but saturates on AVX2-only CPUs (scores
    differ by CPU; the gate refuses it where the difference exceeds the tolerance).
``u8u8``
    uint8 weights: exact everywhere, about 1.5-2x slower on x86-64.
``s8s8``
    int8 activations (symmetric): onnxruntime's x86 kernels shift them to U8S8, so it
    saturates like ``u8s8`` and is slower.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process


class _Windows(CalibrationDataReader):
    def __init__(self, x: np.ndarray, batch: int = 32) -> None:
        self._batches = iter([{"input": x[i : i + batch]} for i in range(0, len(x), batch)])

    def get_next(self):
        return next(self._batches, None)


SCHEMES = {  # name -> (activation type, weight type, 7-bit weights)
    "u8s7": (QuantType.QUInt8, QuantType.QInt8, True),
    "u8s8": (QuantType.QUInt8, QuantType.QInt8, False),
    "u8u8": (QuantType.QUInt8, QuantType.QUInt8, False),
    "s8s8": (QuantType.QInt8, QuantType.QInt8, False),
}


def quantise_onnx(fp32: bytes, calibration: np.ndarray, *, scheme: str = "u8s7") -> bytes:
    """INT8 QDQ ONNX bytes in ``scheme`` (a key of :data:`SCHEMES`); metadata carried over."""
    activations, weights, reduce_range = SCHEMES[scheme]
    with tempfile.TemporaryDirectory() as tmp:
        src, pre, out = (Path(tmp) / n for n in ("fp32.onnx", "pre.onnx", "int8.onnx"))
        src.write_bytes(fp32)
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        quantize_static(
            str(pre),
            str(out),
            _Windows(np.ascontiguousarray(calibration, dtype=np.float32)),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=activations,
            weight_type=weights,
            reduce_range=reduce_range,
            # the graph's tail is the logits: quantise every op, keep no float island
            extra_options={"ActivationSymmetric": activations == QuantType.QInt8},
        )
        model = onnx.load(str(out))
        source = onnx.load_from_string(fp32)
        del model.metadata_props[:]
        model.metadata_props.extend(source.metadata_props)
        _short_names(model.graph)
        return model.SerializeToString()


def _short_names(graph: onnx.GraphProto) -> None:
    """Inner tensor and node names as short ids: QDQ repeats each long torch name in several
    ``..._DequantizeLinear_Output`` tensors, about a tenth of a small INT8 file."""
    keep = {v.name for v in [*graph.input, *graph.output]}
    names: dict[str, str] = {}

    def short(name: str) -> str:
        if not name or name in keep:
            return name
        return names.setdefault(name, f"t{len(names)}")

    for t in graph.initializer:
        t.name = short(t.name)
    for v in graph.value_info:
        v.name = short(v.name)
    for k, node in enumerate(graph.node):
        node.name = f"n{k}"
        node.input[:] = [short(i) for i in node.input]
        node.output[:] = [short(o) for o in node.output]

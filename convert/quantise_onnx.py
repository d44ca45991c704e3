"""INT8 ONNX: ``quant_pre_process`` then ``quantize_static`` (QDQ, per-channel weights)
calibrated on windows of the run's training data."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process


class _Windows(CalibrationDataReader):
    def __init__(self, x: np.ndarray, batch: int = 32) -> None:
        self._batches = iter([{"input": x[i:i + batch]} for i in range(0, len(x), batch)])

    def get_next(self):
        return next(self._batches, None)


def quantise_onnx(fp32: bytes, calibration: np.ndarray, *, activations: str = "uint8") -> bytes:
    """INT8 QDQ ONNX bytes; ``activations`` uint8 (U8S8) or int8 (S8S8); metadata carried over."""
    with tempfile.TemporaryDirectory() as tmp:
        src, pre, out = (Path(tmp) / n for n in ("fp32.onnx", "pre.onnx", "int8.onnx"))
        src.write_bytes(fp32)
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        quantize_static(str(pre), str(out), _Windows(np.ascontiguousarray(calibration, dtype=np.float32)),
                        quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8 if activations == "uint8" else QuantType.QInt8,
                        weight_type=QuantType.QInt8,
                        # the graph's tail is the logits: quantise every op, keep no float island
                        extra_options={"ActivationSymmetric": activations == "int8"})
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

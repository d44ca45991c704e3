"""``model.int8.tflite`` through ai-edge-litert, or tflite-runtime where only that exists.

The file's batch dimension is 1; the input is resized to the batch when the graph allows it,
else windows run one at a time.  An int8 input is quantised, int8 outputs dequantised, with the
card's scale and zero point (docs/reference/bundles.md); float tensors pass as they are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edge.bundle import Bundle, Quant
from edge.errors import BundleError, MissingExtraError

INSTALL_HINT = 'pip install "pamedge[tflite]" (32-bit ARM: pip install "pamedge[tflite-legacy]")'


def _interpreter_class() -> Any:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            raise MissingExtraError(
                f"--backend tflite needs ai-edge-litert, which is not installed: {INSTALL_HINT}"
            ) from None
    return Interpreter


def quantise(x: np.ndarray, q: Quant) -> np.ndarray:
    return np.clip(np.round(x / q.scale) + q.zero_point, -128, 127).astype(np.int8)


def dequantise(x: np.ndarray, q: Quant) -> np.ndarray:
    return ((x.astype(np.float32) - q.zero_point) * np.float32(q.scale)).astype(np.float32)


class TfliteBackend:
    kind = "tflite"

    def __init__(self, bundle: Bundle, *, threads: int = 1) -> None:
        Interpreter = _interpreter_class()
        path = bundle.file("tflite")
        self.file = path.name
        try:
            self._it = Interpreter(model_path=str(path), num_threads=threads)
            self._it.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise BundleError(f"{path}: the TFLite interpreter cannot load it: {exc}") from None
        self._in = self._it.get_input_details()[0]
        self._outs = self._match_outputs(bundle, path)
        int8_in = self._in["dtype"] == np.int8
        if int8_in and bundle.tflite_input is None:
            raise BundleError(f"{path}: int8 input but the card has no input.tflite scale/zero_point")
        self._in_q = bundle.tflite_input if int8_in else None
        self._out_q = {}
        for name, d in self._outs:
            if d["dtype"] == np.int8:
                if name not in bundle.tflite_outputs:
                    raise BundleError(f"{path}: int8 output {name} but the card has no tflite_outputs: {name}")
                self._out_q[name] = bundle.tflite_outputs[name]
        self._batch = 1
        self._resizable = True

    def _match_outputs(self, bundle: Bundle, path: str | Path) -> list[tuple[str, dict[str, Any]]]:
        """Card output -> output tensor: by the tensor name the card records, else by the
        signature's output order (``output_0``, ``output_1``, ...), which is the graph's."""
        outs = self._it.get_output_details()
        if len(outs) != len(bundle.outputs):
            raise BundleError(f"{path}: {len(outs)} outputs, the card lists {len(bundle.outputs)}")
        by_name = {d["name"]: d for d in outs}
        named = [bundle.tflite_outputs.get(o.name) for o in bundle.outputs]
        tensors = [q.tensor for q in named if q is not None and q.tensor in by_name]
        if len(tensors) == len(named):
            return [(o.name, by_name[t]) for o, t in zip(bundle.outputs, tensors)]
        try:
            sig = self._it.get_signature_list()
            key = next(iter(sig))
            details = self._it.get_signature_runner(key).get_output_details()
            order = sorted(sig[key]["outputs"], key=lambda s: (len(s), s))  # output_2 before output_10
            by_index = {d["index"]: d for d in outs}
            return [(o.name, by_index[details[s]["index"]]) for o, s in zip(bundle.outputs, order)]
        except (StopIteration, KeyError, ValueError, RuntimeError):
            return [(o.name, d) for o, d in zip(bundle.outputs, outs)]

    def _resize(self, batch: int) -> bool:
        if batch == self._batch:
            return True
        if not self._resizable:
            return False
        shape = list(self._in["shape"])
        try:
            self._it.resize_tensor_input(self._in["index"], [batch, *shape[1:]])
            self._it.allocate_tensors()
        except (ValueError, RuntimeError):
            self._resizable = False
            self._it.resize_tensor_input(self._in["index"], shape)
            self._it.allocate_tensors()
            self._batch = shape[0]
            return False
        self._batch = batch
        return True

    def _invoke(self, x: np.ndarray) -> dict[str, np.ndarray]:
        self._it.set_tensor(self._in["index"], quantise(x, self._in_q) if self._in_q else x.astype(np.float32))
        self._it.invoke()
        out = {}
        for name, d in self._outs:
            y = self._it.get_tensor(d["index"])
            out[name] = dequantise(y, self._out_q[name]) if name in self._out_q else y.astype(np.float32)
        return out

    def run(self, windows: np.ndarray) -> dict[str, np.ndarray]:
        x = np.asarray(windows, np.float32)
        n = len(x)
        if n and self._resize(n):
            out = self._invoke(x)
            if all(len(v) == n for v in out.values()):
                return out
            self._resizable = False  # the graph keeps batch 1 inside (e.g. a fixed reshape)
            self._resize(1)
        self._resize(1)
        parts = [self._invoke(x[i : i + 1]) for i in range(n)]
        return {
            name: np.concatenate([p[name] for p in parts]) if parts else np.zeros((0, 0), np.float32)
            for name, _ in self._outs
        }

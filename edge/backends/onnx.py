"""``model.int8.onnx`` through onnxruntime (QDQ graph, float32 input, dynamic batch)."""

from __future__ import annotations

import numpy as np

from edge.bundle import Bundle
from edge.errors import BundleError, MissingExtraError

INSTALL_HINT = 'pip install pamedge (onnxruntime is a base dependency: pip install "onnxruntime==1.31.1")'


class OnnxBackend:
    kind = "onnx"

    def __init__(self, bundle: Bundle, *, threads: int = 1) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise MissingExtraError(
                f"--backend onnx needs onnxruntime, which is not installed: {INSTALL_HINT}"
            ) from None
        path = bundle.file("onnx")
        self.file = path.name
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own kinds for a bad file
            raise BundleError(f"{path}: onnxruntime cannot load it: {exc}") from None
        self._input = self._session.get_inputs()[0].name
        names = [o.name for o in self._session.get_outputs()]
        wanted = [o.name for o in bundle.outputs]
        # outputs are named as in the card; a single output may carry any name
        if set(wanted) <= set(names):
            self._names = wanted
        elif len(names) == len(wanted):
            self._names = names
        else:
            raise BundleError(f"{path}: outputs {names} do not match the card's {wanted}")
        self._keys = wanted

    def run(self, windows: np.ndarray) -> dict[str, np.ndarray]:
        x = np.ascontiguousarray(windows, dtype=np.float32)
        results = self._session.run(self._names, {self._input: x})
        return {k: np.asarray(r, np.float32) for k, r in zip(self._keys, results)}

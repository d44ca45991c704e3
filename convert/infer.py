"""Run an INT8 file on standardised windows as the device will: logits per output name."""

from __future__ import annotations

import numpy as np


def onnx_session(model: bytes | str, *, reference: bool = False, threads: int = 1):
    """An onnxruntime session on the CPU; ``reference`` runs the QDQ graph unfused (the
    arithmetic exact integer kernels compute, on any CPU: convert.kernels)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    if reference:
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])


class OnnxModel:
    def __init__(self, model: bytes, names: list[str], threads: int = 1, *, reference: bool = False) -> None:
        self.session = onnx_session(model, reference=reference, threads=threads)
        self.names = names

    def __call__(self, x: np.ndarray) -> dict[str, np.ndarray]:
        out = self.session.run(self.names, {"input": np.ascontiguousarray(x, dtype=np.float32)})
        return dict(zip(self.names, out))


class TfliteModel:
    """Quantises the input with the file's own scale and zero point and dequantises each
    output: the arithmetic the runtime does with the card's numbers."""

    def __init__(self, model: bytes, inp: dict, outputs: dict, threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.it = Interpreter(model_content=model, num_threads=threads)
        self.inp, self.outputs = inp, outputs
        self.in_index = self.it.get_input_details()[0]["index"]
        by_name = {d["name"]: d["index"] for d in self.it.get_output_details()}
        self.out_index = {n: by_name[o["name"]] for n, o in outputs.items()}
        self.it.allocate_tensors()

    def __call__(self, x: np.ndarray) -> dict[str, np.ndarray]:
        x = np.asarray(x, dtype=np.float32)
        q = np.clip(np.round(x / self.inp["scale"]) + self.inp["zero_point"], -128, 127).astype(np.int8)
        out: dict[str, list] = {n: [] for n in self.out_index}
        for window in q:  # the file has batch 1 (see convert.tflite)
            self.it.set_tensor(self.in_index, window[None])
            self.it.invoke()
            for n, i in self.out_index.items():
                out[n].append(self.it.get_tensor(i)[0])
        return {
            n: (np.stack(v).astype(np.float32) - self.outputs[n]["zero_point"]) * np.float32(self.outputs[n]["scale"])
            for n, v in out.items()
        }


def batched(model, x: np.ndarray, batch_size: int = 64) -> dict[str, np.ndarray]:
    parts = [model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]} if parts else {}

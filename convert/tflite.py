"""INT8 TFLite through litert-torch's PT2E flow: full integer, int8 input and output.

PT2E leaves a float model with quantize/dequantize pairs; the LiteRT converter folds them into
integer kernels.  ``modify_model_interface`` then makes the graph's input and outputs int8 if
the converter kept a float boundary, so the device never quantises inside the graph.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

from convert.graph import Exported

_INT8 = 9  # tflite TensorType.INT8


def convert_tflite(graph: Exported, calibration: np.ndarray) -> bytes:
    """The INT8 TFLite file's bytes (batch 1)."""
    import litert_torch
    from ai_edge_litert import _pywrap_modify_model_interface as interface
    from litert_torch._config import config as litert_config
    from litert_torch.quantize import pt2e_quantizer as pq
    from litert_torch.quantize.quant_config import QuantConfig
    from torchao.quantization.pt2e import quantize_pt2e

    litert_config.show_progress = False  # its progress lines would bury edge-convert's own output
    x = np.ascontiguousarray(calibration, dtype=np.float32)
    # batch 1: litert-torch cannot lower the unsqueeze with a dynamic batch, and a RESHAPE
    # constant then fixes the batch, so the runtime invokes the file once per window
    sample = (torch.from_numpy(x[:1]),)
    module = torch.export.export(graph, sample).module()
    quantizer = pq.PT2EQuantizer().set_global(pq.get_symmetric_quantization_config(is_per_channel=True))
    module = quantize_pt2e.prepare_pt2e(module, quantizer)
    with torch.no_grad():
        for i in range(len(x)):
            module(torch.from_numpy(x[i : i + 1]))
    module = quantize_pt2e.convert_pt2e(module, fold_quantize=False)
    edge = litert_torch.convert(module, sample, quant_config=QuantConfig(pt2e_quantizer=quantizer))
    with tempfile.TemporaryDirectory() as tmp:
        raw, final = Path(tmp) / "raw.tflite", Path(tmp) / "int8.tflite"
        edge.export(str(raw))
        status = interface.modify_model_interface(str(raw), str(final), _INT8, _INT8)
        return (final if status == 0 and final.exists() else raw).read_bytes()


def io_quantisation(model: bytes, names: list[str]) -> tuple[dict, dict]:
    """``({scale, zero_point}`` of the input, output name -> ``{name, scale, zero_point}``)``;
    graph outputs are matched to ``names`` by their signature order (``output_0``, ...)."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=model)
    inp = it.get_input_details()[0]
    scale, zp = inp["quantization"]
    sig = it.get_signature_list()
    key = next(iter(sig))
    runner = it.get_signature_runner(key)
    by_sig = runner.get_output_details()
    outs = {}
    order = sorted(sig[key]["outputs"], key=lambda s: (len(s), s))  # output_2 before output_10
    for name, sig_name in zip(names, order):
        d = by_sig[sig_name]
        q = d["quantization"]
        tensor = (
            next(o["name"] for o in it.get_output_details() if o["index"] == d["index"]) if "index" in d else sig_name
        )
        outs[name] = {"name": tensor, "scale": float(q[0]), "zero_point": int(q[1])}
    return {"scale": float(scale), "zero_point": int(zp)}, outs

"""FP32 ONNX export (dynamo, one self-contained file, dynamic batch) with the bundle's
identity stored as metadata."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import numpy as np
import onnx
import torch

from convert.graph import Exported


def export_fp32(graph: Exported, example: np.ndarray, metadata: dict[str, object]) -> bytes:
    """The FP32 ONNX file's bytes; each ``metadata`` value is stored JSON-encoded in
    ``metadata_props`` (the INT8 file inherits them)."""
    x = torch.from_numpy(np.ascontiguousarray(example[:2]))
    batch = torch.export.Dim("batch", min=1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fp32.onnx"
        torch.onnx.export(
            graph,
            (x,),
            str(path),
            dynamo=True,
            external_data=False,
            input_names=["input"],
            output_names=list(graph.names),
            dynamic_shapes=({0: batch},),
            verbose=False,
        )
        model = onnx.load(str(path))
    for node in model.graph.node:  # the exporter's per-node stack traces: most of a small file
        del node.metadata_props[:]
        node.doc_string = ""
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)
    buf = io.BytesIO()
    onnx.save(model, buf)
    return buf.getvalue()

"""Which float compute ops are left in an INT8 file.

ONNX (QDQ): a node other than QuantizeLinear / DequantizeLinear is a float compute op when a
tensor it reads or writes is float and is not produced by a DequantizeLinear or consumed only
by QuantizeLinear: i.e. the op would run in float even with QDQ fusion.  Shape-only ops are
not compute.  TFLite: an operator whose inputs or outputs (constants aside) are float32,
QUANTIZE/DEQUANTIZE at the graph's boundaries aside.
"""

from __future__ import annotations

import onnx

_QDQ = {"QuantizeLinear", "DequantizeLinear"}
_SHAPE = {
    "Shape",
    "Reshape",
    "Flatten",
    "Squeeze",
    "Unsqueeze",
    "Transpose",
    "Identity",
    "Constant",
    "Gather",
    "Concat",
    "Slice",
    "Cast",
}
_FLOATS = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE, onnx.TensorProto.BFLOAT16}


def onnx_float_ops(model: bytes) -> list[str]:
    """``"OpType name"`` of each float compute node of an ONNX QDQ file."""
    m = onnx.load_from_string(model)
    m = onnx.shape_inference.infer_shapes(m)
    g = m.graph
    types = {v.name: v.type.tensor_type.elem_type for v in [*g.value_info, *g.input, *g.output]}
    types.update({t.name: t.data_type for t in g.initializer})
    producer = {o: n for n in g.node for o in n.output}
    consumers: dict[str, list] = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    found = []
    for n in g.node:
        if n.op_type in _QDQ or n.op_type in _SHAPE:
            continue
        ins = [i for i in n.input if i and types.get(i) in _FLOATS and i not in {t.name for t in g.initializer}]
        outs = [o for o in n.output if o and types.get(o) in _FLOATS]
        fed_float = any(producer.get(i) is None or producer[i].op_type != "DequantizeLinear" for i in ins)
        gives_float = any(
            not consumers.get(o) or any(c.op_type != "QuantizeLinear" for c in consumers[o]) for o in outs
        )
        if fed_float or gives_float:
            found.append(f"{n.op_type} {n.name}")
    return found


def tflite_float_ops(model: bytes) -> list[str]:
    """``"OPNAME #index"`` of each TFLite operator computing in float."""
    from ai_edge_litert import schema_py_generated as schema

    m = schema.ModelT.InitFromPackedBuf(model, 0)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    found = []
    for g in m.subgraphs:
        boundary = set(g.inputs.tolist()) | set(g.outputs.tolist())
        for k, op in enumerate(g.operators):
            code = m.operatorCodes[op.opcodeIndex]
            opname = names.get(max(code.builtinCode, code.deprecatedBuiltinCode), str(code.builtinCode))
            tensors = [t for t in [*op.inputs.tolist(), *op.outputs.tolist()] if t >= 0]
            if opname in ("QUANTIZE", "DEQUANTIZE") and boundary & set(tensors):
                continue
            live = [t for t in tensors if m.buffers[g.tensors[t].buffer].data is None]  # constants aside
            if any(g.tensors[t].type in (schema.TensorType.FLOAT32, schema.TensorType.FLOAT16) for t in live):
                found.append(f"{opname} #{k}")
    return found

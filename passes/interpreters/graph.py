"""Graph level: `eval_graph` runs a graph-level module with each op's NumPy reference
(the `host` of its entry in the op registry, `targets/onnx_ops.py`), and `signature`
gives the input names and shapes and the output names of a graph- or loop-level
module.

    outputs = eval_graph(module, {"input": x})  # {"probs": array, ...}
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from tidal.dialects.graph import OnnxValueType
from tidal.passes.interpreters.common import Arrays, CannotEvaluate
from xdsl.dialects import func
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, ModuleOp, StringAttr
from xdsl.ir import SSAValue


def _function(module: ModuleOp) -> func.FuncOp:
    funcs = [op for op in module.body.block.ops if isinstance(op, func.FuncOp)]
    mains = [f for f in funcs if f.sym_name.data == "main"]
    if len(funcs) > 1 and len(mains) == 1:  # main and the functions it names (a loop body)
        return mains[0]
    if len(funcs) != 1:
        raise CannotEvaluate(f"expects one func.func, found {len(funcs)}")
    return funcs[0]


def _names(attrs: object, n: int, prefix: str) -> list[str]:
    out = []
    for i in range(n):
        entry = attrs.data[i] if attrs is not None else None  # type: ignore[attr-defined]
        name = entry.data.get("tidal.name") if isinstance(entry, DictionaryAttr) else None
        out.append(name.data if isinstance(name, StringAttr) else f"{prefix}{i}")
    return out


def signature(module: ModuleOp) -> tuple[dict[str, tuple[int, ...] | None], list[str]]:
    """Input names with shapes (None for a sequence, an optional or a map: an
    `!graph.onnx_value`), and output names, of a graph- or loop-level module."""
    fn = _function(module)
    ins = _names(fn.arg_attrs, len(fn.body.block.args), "arg")
    ret = fn.body.block.last_op
    outs = _names(fn.res_attrs, len(ret.operands) if ret else 0, "result")
    shapes = {
        n: None if isinstance(a.type, OnnxValueType) else tuple(a.type.get_shape())  # type: ignore[attr-defined]
        for n, a in zip(ins, fn.body.block.args)
    }
    return shapes, outs


def input_dtypes(module: ModuleOp) -> dict[str, str]:
    """The NumPy dtype name of each input of a graph-level module ('float32' for
    most; framework-tier models may take int64 indices, bool masks, float64)."""
    from tidal.dialects.graph import numpy_dtype

    fn = _function(module)
    ins = _names(fn.arg_attrs, len(fn.body.block.args), "arg")
    return {
        n: numpy_dtype(a.type.get_element_type())  # type: ignore[attr-defined]
        for n, a in zip(ins, fn.body.block.args)
        if not isinstance(a.type, OnnxValueType)
    }


def string_inputs(module: ModuleOp) -> dict[str, tuple[int, ...] | None]:
    """The string-tensor inputs (`!graph.onnx_value<"tensor(string)">`) of a
    graph-level module, each with the static shape the model declares for it
    (`tidal.shape`, set by the importer), or None where it declares none."""
    fn = _function(module)
    ins = _names(fn.arg_attrs, len(fn.body.block.args), "arg")
    out: dict[str, tuple[int, ...] | None] = {}
    for i, (name, arg) in enumerate(zip(ins, fn.body.block.args)):
        if not isinstance(arg.type, OnnxValueType) or arg.type.text != "tensor(string)":
            continue
        entry = fn.arg_attrs.data[i] if fn.arg_attrs is not None else None
        shape = entry.data.get("tidal.shape") if isinstance(entry, DictionaryAttr) else None
        out[name] = tuple(d.value.data for d in shape.data) if isinstance(shape, ArrayAttr) else None  # type: ignore[attr-defined]
    return out


def eval_graph(module: ModuleOp, inputs: Mapping[str, np.ndarray]) -> Arrays:
    from tidal.targets.onnx_ops import graph_entry  # the registry's NumPy references

    fn = _function(module)
    shapes, outs = signature(module)
    env: dict[SSAValue, np.ndarray] = dict(zip(fn.body.block.args, (inputs[n] for n in shapes)))
    for op in fn.body.block.ops:
        if isinstance(op, func.ReturnOp):
            return {n: env[v] for n, v in zip(outs, op.arguments)}
        entry = graph_entry(op)
        if entry is None or entry.host is None:
            raise CannotEvaluate(f"no NumPy reference for '{op.name}'")
        value = entry.host(op, *(env[v] for v in op.operands))
        if isinstance(value, tuple):  # several results (a framework-tier op)
            env.update(zip(op.results, value))
        else:
            env[op.results[0]] = np.asarray(value, np.float32)
    raise CannotEvaluate("function has no return")



"""Graph level: a NumPy reference for every graph op (`eval_graph`), and the
signature (input names and shapes, output names) of a graph- or loop-level module."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
from tidal.dialects import graph
from tidal.passes.interpreters.common import Arrays, CannotEvaluate
from xdsl.dialects import func
from xdsl.dialects.builtin import DictionaryAttr, ModuleOp, StringAttr
from xdsl.ir import Operation, SSAValue

# ---------------------------------------------------------------------------
# graph level: a NumPy reference
# ---------------------------------------------------------------------------


def _conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, op: graph.Conv2dOp) -> np.ndarray:
    (sh, sw), (dh, dw), g = op.strides_val, op.dilations_val, op.group_val
    pt, pl, pb, pr = op.pads_val
    x = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    n, c, h, wd = x.shape
    cout, cg, kh, kw = w.shape
    oh = (h - (kh - 1) * dh - 1) // sh + 1
    ow = (wd - (kw - 1) * dw - 1) // sw + 1
    out = np.zeros((n, cout, oh, ow), np.float64)
    per = cout // g
    for grp in range(g):
        xs = x[:, grp * cg : (grp + 1) * cg]
        ws = w[grp * per : (grp + 1) * per].astype(np.float64)
        for r in range(kh):
            for s in range(kw):
                win = xs[:, :, r * dh : r * dh + sh * (oh - 1) + 1 : sh, s * dw : s * dw + sw * (ow - 1) + 1 : sw]
                out[:, grp * per : (grp + 1) * per] += np.einsum("nchw,oc->nohw", win, ws[:, :, r, s])
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out.astype(np.float32)


def _maxpool(x: np.ndarray, op: graph.MaxPoolOp) -> np.ndarray:
    (kh, kw), (sh, sw) = op.kernel_shape_val, op.strides_val
    pt, pl, pb, pr = op.pads_val
    x = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)), constant_values=-np.inf)
    oh = (x.shape[2] - kh) // sh + 1
    ow = (x.shape[3] - kw) // sw + 1
    out = np.full(x.shape[:2] + (oh, ow), -np.inf, np.float32)
    for r in range(kh):
        for s in range(kw):
            out = np.maximum(out, x[:, :, r : r + sh * (oh - 1) + 1 : sh, s : s + sw * (ow - 1) + 1 : sw])
    return out


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return (e / e.sum(axis=axis, keepdims=True)).astype(np.float32)


def _gemm(op: graph.GemmOp, a: np.ndarray, b: np.ndarray, c: np.ndarray | None) -> np.ndarray:
    a = a.T if op.trans_a_val else a
    b = b.T if op.trans_b_val else b
    y = op.alpha_val * (a.astype(np.float64) @ b)
    if c is not None:
        y = y + op.beta_val * c
    return y.astype(np.float32)


GRAPH_EVAL: dict[type[Operation], Callable[..., np.ndarray]] = {
    graph.ConstantOp: lambda op: op.to_numpy(),
    graph.MatMulOp: lambda op, a, b: (a.astype(np.float64) @ b).astype(np.float32),
    graph.GemmOp: lambda op, a, b, c=None: _gemm(op, a, b, c),
    graph.Conv2dOp: lambda op, x, w, b=None: _conv2d(x, w, b, op),
    graph.AddOp: lambda op, a, b: a + b,
    graph.MulOp: lambda op, a, b: a * b,
    graph.ReluOp: lambda op, x: np.maximum(x, 0),
    graph.MaxPoolOp: lambda op, x: _maxpool(x, op),
    graph.ReshapeOp: lambda op, x: x.reshape(op.result.type.get_shape()),
    graph.FlattenOp: lambda op, x: x.reshape(op.result.type.get_shape()),
    graph.SoftmaxOp: lambda op, x: _softmax(x, op.axis_val),
}


def _function(module: ModuleOp) -> func.FuncOp:
    funcs = [op for op in module.body.block.ops if isinstance(op, func.FuncOp)]
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


def signature(module: ModuleOp) -> tuple[dict[str, tuple[int, ...]], list[str]]:
    """Input names with shapes, and output names, of a graph- or loop-level module."""
    fn = _function(module)
    ins = _names(fn.arg_attrs, len(fn.body.block.args), "arg")
    ret = fn.body.block.last_op
    outs = _names(fn.res_attrs, len(ret.operands) if ret else 0, "result")
    shapes = {n: tuple(a.type.get_shape()) for n, a in zip(ins, fn.body.block.args)}  # type: ignore[attr-defined]
    return shapes, outs


def eval_graph(module: ModuleOp, inputs: Mapping[str, np.ndarray]) -> Arrays:
    from tidal.passes.graph.partition import host_kernels  # the zoo ops' NumPy kernels

    rules = host_kernels()
    fn = _function(module)
    shapes, outs = signature(module)
    env: dict[SSAValue, np.ndarray] = dict(zip(fn.body.block.args, (inputs[n] for n in shapes)))
    for op in fn.body.block.ops:
        if isinstance(op, func.ReturnOp):
            return {n: env[v] for n, v in zip(outs, op.arguments)}
        rule = rules.get(type(op))
        if rule is None:
            raise CannotEvaluate(f"no NumPy reference for '{op.name}'")
        env[op.results[0]] = np.asarray(rule(op, *(env[v] for v in op.operands)), np.float32)
    raise CannotEvaluate("function has no return")



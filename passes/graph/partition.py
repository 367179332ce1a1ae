"""graph-partition: place every graph op on the accelerator, on the host, or refuse it.

Hierarchical partitioning (after the seed patent "hierarchical partitioning of
operators"): each op goes to the first tier that can run it.

1. `accel`: graph-to-loop has a lowering for it and its tiles fit the chip. This is
   decided by lowering the op alone, in a scratch function, for the chip preset;
   ops with the same kind, properties and operand types share the verdict.
2. `host`: NumPy can run it (`HOST_KERNELS`, with the graph-level reference of
   `passes/interpreters/numerics.py`); the reason says why the accelerator cannot.
3. `reject`: nothing can; the pass fails naming the op, its origin and why.

Expects graph ops on static f32 tensors, after graph-canonicalize. Every op except
constants gets two discardable attributes:

    %y = graph.lrn %x {size = 5 : i64, tidal.origin = "norm1",
                       tidal.placement = "accel",
                       tidal.reason = "PE band matmul and ACT (tiles fit chip 'default')"} : ...

`placement_report(module)` lists them (annotating first if needed) for tools.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.ir import Block, Operation, Region
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import PassFailedException

from tidal.dialects import graph
from tidal.passes.utils.expect import expect_level

PLACEMENT = "tidal.placement"
REASON = "tidal.reason"

# What runs each op on the accelerator, for the report.
_ENGINES: dict[type[Operation], str] = {
    graph.Conv2dOp: "PE array, filter taps accumulated in PSUM",
    graph.GemmOp: "PE array",
    graph.MatMulOp: "PE array",
    graph.ReluOp: "ACT",
    graph.AddOp: "POOL tensor-tensor",
    graph.MulOp: "POOL tensor-tensor",
    graph.SumOp: "POOL tensor-tensor, one nest",
    graph.MaxPoolOp: "POOL window reduction",
    graph.AvgPoolOp: "POOL window reduction",
    graph.GlobalAvgPoolOp: "POOL reduction",
    graph.SoftmaxOp: "ACT exp and POOL reductions",
    graph.LRNOp: "PE band matmul and ACT",
    graph.ConcatOp: "DRAM placement (DMA where a copy is needed)",
    graph.TransposeOp: "DMA access pattern",
    graph.ReshapeOp: "a view (free)",
    graph.FlattenOp: "a view (free)",
    graph.UnsqueezeOp: "a view (free)",
    graph.DropoutOp: "a view (free)",
    graph.ConstantOfShapeOp: "a DRAM constant",
}


# ------------------------------------------------------------- the host tier


def _batchnorm(op: graph.BatchNormOp, x, scale, bias, mean, var) -> np.ndarray:
    c = (1, -1) + (1,) * (x.ndim - 2)
    inv = scale / np.sqrt(var + np.float32(op.epsilon_val))
    return ((x - mean.reshape(c)) * inv.reshape(c) + bias.reshape(c)).astype(np.float32)


def _avgpool(op: graph.AvgPoolOp, x: np.ndarray) -> np.ndarray:
    (kh, kw), (sh, sw) = op.kernel_shape_val, op.strides_val
    pt, pl, pb, pr = op.pads_val
    pad = ((0, 0), (0, 0), (pt, pb), (pl, pr))
    xp = np.pad(x.astype(np.float64), pad)
    ones = np.pad(np.ones(x.shape[2:]), pad[2:], constant_values=op.count_include_pad_val)
    oh, ow = op.result.type.get_shape()[2:]

    def windows(a: np.ndarray) -> np.ndarray:
        return sum(
            a[..., i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw]
            for i in range(kh)
            for j in range(kw)
        )

    return (windows(xp) / windows(ones)).astype(np.float32)


def _lrn(op: graph.LRNOp, x: np.ndarray) -> np.ndarray:
    size, c = op.size_val, x.shape[1]
    sq = np.pad(x.astype(np.float64) ** 2, ((0, 0), ((size - 1) // 2, size // 2), (0, 0), (0, 0)))
    window = sum(sq[:, i : i + c] for i in range(size))
    scale = (op.bias_val + op.alpha_val / size * window) ** op.beta_val
    return (x / scale).astype(np.float32)


HOST_KERNELS: dict[type[Operation], Callable[..., np.ndarray]] = {
    graph.BatchNormOp: _batchnorm,
    graph.AvgPoolOp: _avgpool,
    graph.GlobalAvgPoolOp: lambda op, x: x.mean(axis=(2, 3), keepdims=True, dtype=np.float64).astype(np.float32),
    graph.ConcatOp: lambda op, *xs: np.concatenate(xs, axis=op.axis_val),
    graph.TransposeOp: lambda op, x: np.ascontiguousarray(x.transpose(op.perm_val)),
    graph.LRNOp: _lrn,
    graph.SumOp: lambda op, *xs: np.sum(np.broadcast_arrays(*xs), axis=0, dtype=np.float32),
    graph.UnsqueezeOp: lambda op, x: x.reshape(op.result.type.get_shape()),
    graph.ConstantOfShapeOp: lambda op: np.full(op.result.type.get_shape(), op.value_val, np.float32),
    graph.DropoutOp: lambda op, x: x,
}


def host_kernels() -> dict[type[Operation], Callable[..., np.ndarray]]:
    """NumPy for every graph op: `kernel(op, *operand_arrays) -> result array`."""
    from tidal.passes.interpreters.graph import GRAPH_EVAL

    return {**GRAPH_EVAL, **HOST_KERNELS}


def host_eval(op: Operation, *operands: np.ndarray) -> np.ndarray:
    """Run one graph op with NumPy (the host tier)."""
    return np.asarray(host_kernels()[type(op)](op, *operands), dtype=np.float32)


# --------------------------------------------------------------- placement


def _origin(op: Operation) -> str:
    attr = op.attributes.get("tidal.origin")
    return attr.data if isinstance(attr, StringAttr) else op.name


# Stands for the op's origin in a verdict shared by ops of the same signature.
_THIS_OP = "<this op>"


def _try_lowering(op: Operation, chip: str) -> str | None:
    """None if graph-to-loop lowers `op` alone for `chip`, else why not."""
    from tidal.passes.conversion.graph_to_loop import GraphToLoopPass

    types = [v.type for v in op.operands]
    block = Block(arg_types=types)
    clone = op.clone(value_mapper=dict(zip(op.operands, block.args, strict=True)))
    for name in (PLACEMENT, REASON):
        clone.attributes.pop(name, None)
    clone.attributes["tidal.origin"] = StringAttr(_THIS_OP)
    block.add_ops([clone, func.ReturnOp(*clone.results)])
    fn = func.FuncOp(
        "trial", (types, [r.type for r in clone.results]), Region(block)
    )
    try:
        GraphToLoopPass(chip=chip).apply(Context(), ModuleOp([fn]))
    except PassFailedException as e:
        message = str(e).splitlines()[0]
        return message.removeprefix("graph-to-loop: ")
    return None


@dataclass
class Partitioner:
    """Places ops for one chip, remembering verdicts by op signature."""

    chip: str
    verdicts: dict[tuple[Any, ...], tuple[str, str]] = field(default_factory=dict)

    def place(self, op: Operation) -> tuple[str, str]:
        if not isinstance(op, graph.GraphOp | graph.ConstantOfShapeOp):
            return "reject", f"'{op.name}' is not a graph op"
        key = (
            op.name,
            tuple(sorted((k, str(v)) for k, v in op.properties.items())),
            tuple(str(v.type) for v in op.operands),
        )
        if key not in self.verdicts:
            self.verdicts[key] = self._decide(op)
        placement, reason = self.verdicts[key]
        return placement, reason.replace(_THIS_OP, _origin(op))

    def _decide(self, op: Operation) -> tuple[str, str]:
        engines = _ENGINES.get(type(op))
        why_not = (
            _try_lowering(op, self.chip)
            if engines is not None
            else f"no accelerator lowering for '{op.name}'"
        )
        if why_not is None:
            if engines.startswith("a "):  # views and constants: no tiles
                return "accel", engines
            return "accel", f"{engines}; tiles fit chip '{self.chip}'"
        if type(op) in host_kernels():
            return "host", why_not
        return "reject", why_not


def _placeable(fn: func.FuncOp) -> list[Operation]:
    return [
        op
        for op in fn.body.block.ops
        if not isinstance(op, graph.ConstantOp | func.ReturnOp)
    ]


def annotate(module: ModuleOp, chip: str = "default") -> list[Operation]:
    """Set `tidal.placement` and `tidal.reason` on every op; returns the ops."""
    partitioner = Partitioner(chip)
    ops: list[Operation] = []
    for fn in module.walk():
        if not isinstance(fn, func.FuncOp):
            continue
        for op in _placeable(fn):
            placement, reason = partitioner.place(op)
            op.attributes[PLACEMENT] = StringAttr(placement)
            op.attributes[REASON] = StringAttr(reason)
            ops.append(op)
    return ops


def placement_report(module: ModuleOp, chip: str = "default") -> list[dict[str, str]]:
    """One row per op (constants aside), in program order: `op` (the graph op's
    name), `origin` (the ONNX node), `placement` (accel | host | reject) and
    `reason`. Annotates the module first when graph-partition has not run."""
    rows: list[dict[str, str]] = []
    for fn in module.walk():
        if not isinstance(fn, func.FuncOp):
            continue
        ops = _placeable(fn)
        if any(PLACEMENT not in op.attributes for op in ops):
            annotate(module, chip)
        for op in ops:
            rows.append(
                {
                    "op": op.name,
                    "origin": _origin(op),
                    "placement": op.attributes[PLACEMENT].data,  # type: ignore[union-attr]
                    "reason": op.attributes[REASON].data,  # type: ignore[union-attr]
                }
            )
    return rows


def placement_counts(rows: Sequence[dict[str, str]]) -> dict[str, Any]:
    """For stats: ops per placement and the host and rejected ops by origin.

        {"accel": 120, "host": 0, "reject": 0, "host_ops": [], "reject_ops": []}
    """
    counts: dict[str, Any] = {"accel": 0, "host": 0, "reject": 0}
    for row in rows:
        counts[row["placement"]] += 1
    counts["host_ops"] = [r["origin"] for r in rows if r["placement"] == "host"]
    counts["reject_ops"] = [r["origin"] for r in rows if r["placement"] == "reject"]
    return counts


@dataclass(frozen=True)
class GraphPartitionPass(ModulePass):
    """Place every graph op on the accelerator, the host or nowhere (then fail)."""

    name = "graph-partition"

    chip: str = field(default="default")

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        expect_level(op, self.name, "graph")
        for placed in annotate(op, self.chip):
            if placed.attributes[PLACEMENT] == StringAttr("reject"):
                reason = placed.attributes[REASON].data  # type: ignore[union-attr]
                raise PassFailedException(
                    f"graph-partition: '{_origin(placed)}' ({placed.name}) cannot run "
                    f"on the accelerator or the host: {reason}"
                )


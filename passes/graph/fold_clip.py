"""graph-fold-clip: a clip to [0, hi] (ReLU6) after a conv2d or gemm becomes that op's
fused activation `clip01` with its weights scaled by 1 / hi, and the readers of the
clipped value take the factor hi back in their own weights.

ACT has no clip to [0, hi] of its own (`clip01` clips to [0, 1]), so a
`graph.piecewise_linear {kind = "clip"}` ran as a nest of its own: two ACTs per tile
over the whole tensor, in the flat layout of element-wise nests, which is not the
channels-on-partitions layout of the convs around it, so loop-keep-on-chip could keep
neither tensor on chip and both went through DRAM. MobileNet v2 (every expansion and
depthwise conv is followed by a ReLU6) moved 127 MB for a 14.6 MB minimum.

Since clip(z, 0, hi) = hi * clip01(z / hi) for hi > 0:

- the producer (a conv2d or gemm with one reader, no activation and no fused addend,
  with constant weights and bias) computes z / hi: its weights and bias (a gemm: its
  alpha, and its constant c, else its beta) divided by hi, then `activation =
  "clip01"`, applied as the accumulator is evacuated;
- each reader computes from hi times its input: a conv2d that reads the value as its
  input gets its (constant) weights times hi, a gemm that reads it as one of its two
  factors its alpha times hi, and ops that commute with a positive scale (max and
  average poolings, whose pads are -inf and 0, global average pooling, reshape,
  flatten, transpose, slice) pass it on to their own readers.

The clip is folded only when every reader, through those ops, is such a conv2d or
gemm (a clip whose value is returned, added, concatenated, ... stays); the clip's
bounds must be 0 and a finite hi > 0 (a lower bound would not pass through zero
padding). Exact in real arithmetic; in float32 the weights round once more (a
relative 6e-8).

    %c = graph.conv2d %x, %w, %b : ...
    %r = graph.piecewise_linear %c {kind = "clip", alpha = 0.0 : f32, beta = 6.0 : f32} : ...
    %y = graph.conv2d %r, %v, %d {group = 32 : i64, ...} : ...
  becomes
    %r = graph.conv2d %x, %w6, %b6 {activation = "clip01", tidal.fused = [...]} : ...
    %y = graph.conv2d %r, %v6, %d {group = 32 : i64, ...} : ...
  with %w6 = %w / 6, %b6 = %b / 6 and %v6 = %v * 6.

`--disable-opt fold-clip` keeps the clip nests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import FloatAttr, ModuleOp, StringAttr, f32
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.rewriter import InsertPoint

from tidal.dialects import graph
from tidal.passes.graph.canonicalize import _const, _new_const
from tidal.passes.graph.fuse_epilogue import _on_host, _record_fused
from tidal.passes.utils.expect import expect_level
from tidal.passes.utils.quiet import quiet_diagnostics

PASS_THROUGH = (
    graph.MaxPoolOp,
    graph.AvgPoolOp,
    graph.GlobalAvgPoolOp,
    graph.ReshapeOp,
    graph.FlattenOp,
    graph.TransposeOp,
    graph.SliceOp,
)
"""Ops of one tensor operand that commute with a positive scale of it."""

DEPTH = 8
"""How many pass-through ops deep the readers are looked for."""


def _readers(value: SSAValue, depth: int = DEPTH) -> list[Operation] | None:
    """The conv2d and gemm ops that read `value`, directly or through PASS_THROUGH
    ops, each able to take a factor of its input into its weights or alpha; None when
    any other op (or a function's return) reads it, or one reads it twice."""
    found: list[Operation] = []
    for use in value.uses:
        op = use.operation
        if _on_host(op):
            return None
        if isinstance(op, graph.Conv2dOp):
            if use.index != 0 or _const(op.weight) is None:
                return None
            found.append(op)
        elif isinstance(op, graph.GemmOp):
            if op.a is op.b or op.c is value:
                return None
            found.append(op)
        elif isinstance(op, PASS_THROUGH) and depth > 0 and use.index == 0:
            more = _readers(op.results[0], depth - 1)
            if more is None:
                return None
            found += more
        else:
            return None
    return found if len({id(op) for op in found}) == len(found) else None


def _scaled(value: SSAValue, factor: float) -> graph.ConstantOp:
    """A new constant: the constant `value` times `factor` (in float64, rounded once)."""
    data = _const(value)
    assert data is not None and value.owner is not None
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = (data.astype(np.float64) * factor).astype(data.dtype)
    return _new_const(scaled, value.owner)  # type: ignore[arg-type]


def _producer(value: SSAValue) -> graph.Conv2dOp | graph.GemmOp | None:
    """The conv2d or gemm that defines `value` and can take the clip: one reader, no
    activation, no addend, constant weights and bias (a conv2d)."""
    op = value.owner
    if not isinstance(op, graph.Conv2dOp | graph.GemmOp) or not value.has_one_use():
        return None
    if op.activation is not None or _on_host(op):
        return None
    if isinstance(op, graph.Conv2dOp):
        if op.addend is not None or _const(op.weight) is None:
            return None
        if op.bias is not None and _const(op.bias) is None:
            return None
    return op


def _set_operand(op: Operation, index: int, value: SSAValue) -> None:
    op.operands = [*op.operands[:index], value, *op.operands[index + 1 :]]


def _set_alpha(op: graph.GemmOp, name: str, factor: float) -> None:
    current = op.alpha_val if name == "alpha" else op.beta_val
    op.properties[name] = FloatAttr(float(np.float32(current * factor)), f32)


@dataclass
class FoldClipPattern(RewritePattern):
    """clip(producer, 0, hi) -> producer / hi with activation clip01, its readers
    times hi (module docstring)."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.PiecewiseLinearOp, rewriter: PatternRewriter) -> None:
        kind, lo, hi = op.params
        if kind != "clip" or lo != 0.0 or not (math.isfinite(hi) and hi > 0.0) or _on_host(op):
            return
        producer = _producer(op.input)
        readers = _readers(op.result)
        if producer is None or not readers:
            return
        new: list[tuple[Operation, int, graph.ConstantOp]] = []
        if isinstance(producer, graph.Conv2dOp):
            new.append((producer, 1, _scaled(producer.weight, 1.0 / hi)))
            if producer.bias is not None:
                new.append((producer, 2, _scaled(producer.bias, 1.0 / hi)))
        else:
            _set_alpha(producer, "alpha", 1.0 / hi)
            if producer.c is not None and _const(producer.c) is not None:
                new.append((producer, 2, _scaled(producer.c, 1.0 / hi)))
            elif producer.c is not None:
                _set_alpha(producer, "beta", 1.0 / hi)
        for reader in readers:
            if isinstance(reader, graph.Conv2dOp):
                new.append((reader, 1, _scaled(reader.weight, hi)))
            else:
                assert isinstance(reader, graph.GemmOp)
                _set_alpha(reader, "alpha", hi)
                rewriter.notify_op_modified(reader)
        for target, index, const in new:
            old = target.operands[index].owner
            rewriter.insert(const, InsertPoint.before(target))
            _set_operand(target, index, const.result)
            rewriter.notify_op_modified(target)
            if isinstance(old, graph.ConstantOp) and not old.result.uses:
                rewriter.erase(old)  # (no weights left in the binary unread)
        producer.properties["activation"] = StringAttr("clip01")
        _record_fused(producer, op)
        producer.results[0].name_hint = op.result.name_hint or producer.results[0].name_hint
        rewriter.notify_op_modified(producer)
        rewriter.replace(op, [], [producer.results[0]])


@dataclass(frozen=True)
class GraphFoldClipPass(ModulePass):
    """Fold a clip to [0, hi] after a conv2d or gemm into its epilogue, the factor hi
    into its readers' weights (module docstring)."""

    name = "graph-fold-clip"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        expect_level(op, self.name, "graph")
        with quiet_diagnostics():
            PatternRewriteWalker(
                GreedyRewritePatternApplier([FoldClipPattern()]), apply_recursively=False
            ).rewrite_module(op)


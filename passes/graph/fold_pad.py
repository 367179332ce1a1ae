"""graph-fold-pad: a conv2d whose input is its producer's value with zeros
concatenated along a spatial dim (ONNX Pad, constant mode, value 0, as the
importer builds it) reads the unpadded value, the zeros going into its `pads`.

Keras pads a strided 'same' conv explicitly (ZeroPadding2D, MobileNet's and
EfficientNet's `correct_pad`, ResNet's stem), and PyTorch's F.pad before a conv
does the same; the importer joins the value and blocks of zeros with a
`graph.concat` per padded axis, a DRAM-to-DRAM copy of the whole tensor that also
keeps it from staying on chip. A conv's own padding costs nothing (the kernels read
the border as zeros or skip it), so

    %p = graph.concat %x, %zeros {axis = 2 : i64} : (tensor<1x16x48x48xf32>, tensor<1x16x1x48xf32>) -> tensor<1x16x49x48xf32>
    %c = graph.conv2d %p, %w {strides = array<i64: 2, 2>, group = 16 : i64} : ...
  becomes
    %c = graph.conv2d %x, %w {strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 1, 0>, group = 16 : i64} : ...

A TensorFlow export pads its NHWC input before the transpose to NCHW (the pad
lies between the graph's input and the transpose, where graph-sink-transposes,
which moves transposes down, does not reach): a transpose of a zero padding whose
readers end in convs moves above it (HoistTransposeAbovePad), the zeros' blocks
transposed with it, so that the convs can take them.

The concat must be along dim 2 or 3 of an NCHW value and hold that value with
constant blocks of zeros before it, after it or both, and the conv's pads on that
dim must stay below its kernel's extent (no window wholly in the padding); repeated, it takes a pad of
both spatial dims (two concats). The padded value stays for its other readers.
Exact for finite weights: the conv sums the same products, a border zero times a
weight being zero (an infinite or NaN weight against the padded copy's zeros gives
NaN, against the conv's own padding, which its kernels skip, nothing).

`--disable-opt fold-pad` keeps the concatenations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from tidal.dialects import graph
from tidal.passes.graph.canonicalize import _copy_origin
from tidal.passes.utils.expect import expect_level
from tidal.passes.utils.quiet import quiet_diagnostics


def _zeros(value: SSAValue) -> bool:
    """Whether `value` is a constant of zeros."""
    owner = value.owner
    return isinstance(owner, graph.ConstantOp) and not owner.to_numpy().any()


def _padded_index(concat: graph.ConcatOp) -> int | None:
    """The index of the one operand of `concat` that is not a constant of zeros, when
    the others (at most two) are; else None."""
    kept = [i for i, v in enumerate(concat.inputs) if not _zeros(v)]
    return kept[0] if len(kept) == 1 and len(concat.inputs) <= 3 else None


def zero_padding(value: SSAValue) -> tuple[SSAValue, int, int, int] | None:
    """(x, axis, before, after) when `value` is x concatenated with zeros along
    spatial dim `axis` (2 or 3) of an NCHW tensor, `before` rows or columns of them
    before x and `after` after; else None."""
    concat = value.owner
    if not isinstance(concat, graph.ConcatOp) or concat.axis_val not in (2, 3):
        return None
    if len(concat.inputs[0].type.get_shape()) != 4:  # type: ignore[attr-defined]
        return None
    k = _padded_index(concat)
    if k is None:
        return None
    axis = concat.axis_val
    sizes = [v.type.get_shape()[axis] for v in concat.inputs]  # type: ignore[attr-defined]
    return concat.inputs[k], axis, sum(sizes[:k]), sum(sizes[k + 1 :])


def _pads_into_convs(value: SSAValue, depth: int = 4) -> bool:
    """Whether every reader of `value` is a conv2d reading it as its input, or a zero
    padding of it along dim 2 or 3 whose own readers are (at most `depth` deep)."""
    if not value.uses or depth == 0:
        return False
    for use in value.uses:
        reader = use.operation
        if isinstance(reader, graph.Conv2dOp) and use.index == 0:
            continue
        padding = zero_padding(reader.results[0]) if isinstance(reader, graph.ConcatOp) else None
        if padding is None or padding[0] is not value or not _pads_into_convs(reader.results[0], depth - 1):
            return False
    return True


class HoistTransposeAbovePad(RewritePattern):
    """T(concat(zeros, x, zeros, axis a), p) -> concat(T(zeros), T(x, p), T(zeros), axis
    j) with p[j] = a, when the padding then lies along dim 2 or 3 and ends in convs:
    a TensorFlow export pads its NHWC input (ZeroPadding2D, or a strided 'same' conv's
    explicit Pad) before the transpose to NCHW, so the zeros reach the conv only once
    the transpose is above them. The transpose copies x instead of the padded x."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.TransposeOp, rewriter: PatternRewriter) -> None:
        concat = op.input.owner
        if not isinstance(concat, graph.ConcatOp) or not op.input.has_one_use():
            return
        perm = tuple(op.perm_val)
        if len(perm) != 4:
            return
        axis = perm.index(concat.axis_val)
        k = _padded_index(concat)
        if axis not in (2, 3) or k is None or not _pads_into_convs(op.result):
            return
        new_ops: list[Operation] = []
        for i, v in enumerate(concat.inputs):
            moved = [v.type.get_shape()[j] for j in perm]  # type: ignore[attr-defined]
            if i == k:
                new_ops.append(graph.TransposeOp(v, perm, graph._f32_tensor(moved)))  # pyright: ignore[reportPrivateUsage]
            else:
                new_ops.append(graph.ConstantOp.from_numpy(np.zeros(moved, np.float32)))
            _copy_origin(op, new_ops[-1])
        pad = graph.ConcatOp([o.results[0] for o in new_ops], axis, op.result.type)  # type: ignore[arg-type]
        _copy_origin(concat, pad)
        pad.result.name_hint = op.result.name_hint
        rewriter.replace(op, [*new_ops, pad])
        rewriter.erase(concat)


class FoldZeroPadIntoConv(RewritePattern):
    """conv2d(concat(zeros, x, zeros)) -> conv2d(x) with the zeros in its pads."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.Conv2dOp, rewriter: PatternRewriter) -> None:
        padding = zero_padding(op.input)
        if padding is None:
            return
        x, axis, before, after = padding
        top, left, bottom, right = op.pads_val
        if axis == 2:
            top, bottom = top + before, bottom + after
        else:
            left, right = left + before, right + after
        kh, kw = op.weight.type.get_shape()[2:]  # type: ignore[attr-defined]
        dh, dw = op.dilations_val
        extent = (kh - 1) * dh + 1 if axis == 2 else (kw - 1) * dw + 1
        if max((top, bottom) if axis == 2 else (left, right)) >= extent:
            return  # a window wholly in the padding: the kernels assume none
        op.operands[0] = x
        op.pads = graph._i64_array((top, left, bottom, right))  # pyright: ignore[reportPrivateUsage]
        rewriter.notify_op_modified(op)


@dataclass(frozen=True)
class GraphFoldPadPass(ModulePass):
    """Fold zero padding by concatenation into the conv2d that reads it (module
    docstring)."""

    name = "graph-fold-pad"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        expect_level(op, self.name, "graph")
        with quiet_diagnostics():
            PatternRewriteWalker(
                GreedyRewritePatternApplier([HoistTransposeAbovePad(), FoldZeroPadIntoConv()])
            ).rewrite_module(op)

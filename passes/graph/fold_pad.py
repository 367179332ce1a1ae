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

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from tidal.dialects import graph
from tidal.passes.utils.expect import expect_level
from tidal.passes.utils.quiet import quiet_diagnostics


def _zeros(value: SSAValue) -> bool:
    """Whether `value` is a constant of zeros."""
    owner = value.owner
    return isinstance(owner, graph.ConstantOp) and not owner.to_numpy().any()


def zero_padding(value: SSAValue) -> tuple[SSAValue, int, int, int] | None:
    """(x, axis, before, after) when `value` is x concatenated with zeros along
    spatial dim `axis` (2 or 3) of an NCHW tensor, `before` rows or columns of them
    before x and `after` after; else None."""
    concat = value.owner
    if not isinstance(concat, graph.ConcatOp) or concat.axis_val not in (2, 3):
        return None
    inputs = list(concat.inputs)
    if len(inputs[0].type.get_shape()) != 4:  # type: ignore[attr-defined]
        return None
    kept = [i for i, v in enumerate(inputs) if not _zeros(v)]
    if len(kept) != 1 or len(inputs) > 3:
        return None
    (k,) = kept
    axis = concat.axis_val
    sizes = [v.type.get_shape()[axis] for v in inputs]  # type: ignore[attr-defined]
    return inputs[k], axis, sum(sizes[:k]), sum(sizes[k + 1 :])


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
                GreedyRewritePatternApplier([FoldZeroPadIntoConv()])
            ).rewrite_module(op)

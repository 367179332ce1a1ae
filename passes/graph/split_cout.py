"""graph-split-cout: a conv whose output channels leave a narrow last tile becomes a
conv of the full tiles and a conv of the rest, their results concatenated.

Kernels tile channels uniformly, by the largest divisor of the count up to the PE
columns, so that one loop walks tiles of one size. 192 output channels are two tiles
of 96: every matmul fills three quarters of the columns. As a conv of 128 channels and
one of 64, the first fills the columns and the second, at most half of them, takes
conv.py's `row_pack`: k adjacent output rows per matmul in k column groups, so its
3x3 matmuls stream OH / k rows each. Inception's 3x3 convs to 192 channels at 56x56
(Inception v1's conv2, Inception v2's): 12 matmul passes over the image become
6 + 4.

The split takes a dense (one group), stride-1 conv2d with a kernel of more than one
row (row-pack gains nothing on a 1x1 conv), constant weights, no fused addend, and
more output channels than the PE columns whose remainder past whole tiles is at
most half the columns. Both convs read the same input and keep the activation;
graph.concat joins them along the channels, which graph-to-loop's concat placement
lets the two convs write in place (no copy):

    %r = graph.conv2d %x, %w, %b {pads = [1, 1, 1, 1]} : (..., tensor<192x64x3x3xf32>, ...) -> tensor<1x192x56x56xf32>
  becomes
    %a = graph.conv2d %x, %w0, %b0 ... -> tensor<1x128x56x56xf32>
    %c = graph.conv2d %x, %w1, %b1 ... -> tensor<1x64x56x56xf32>
    %r = graph.concat %a, %c {axis = 1} -> tensor<1x192x56x56xf32>

`--disable-opt split-cout` keeps every conv whole.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, StringAttr, TensorType
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.rewriter import InsertPoint

from tidal.dialects import graph
from tidal.passes.conversion.kernels.nest_builder import largest_divisor
from tidal.passes.graph.fold_shuffle import _constant
from tidal.passes.utils.chip import ChipPass
from tidal.passes.utils.expect import expect_level
from tidal.passes.utils.quiet import quiet_diagnostics


def split_point(cout: int, kernel_rows: int, strides: tuple[int, ...], out_rows: int, cols: int) -> int:
    """The output channels of the first conv (whole tiles of `cols`) when a conv of
    `cout` outputs and `out_rows` output rows should split, else 0: the split must
    take fewer output tiles than the uniform tiling (320: 3 against 4 of 80), or
    the rest must take row-pack, k >= 2 groups of its channels on the columns, k
    dividing the output rows (192 at 13 rows: neither, the split would only move
    bytes)."""
    rest = cout % cols
    if cout <= cols or not 0 < rest <= cols // 2 or kernel_rows < 2 or tuple(strides) != (1, 1):
        return 0
    fewer = -(-cout // cols) < cout // largest_divisor(cout, cols)
    if not fewer and not any(out_rows % k == 0 for k in range(2, cols // rest + 1)):
        return 0
    return cout - rest


@dataclass
class SplitCoutPattern(RewritePattern):
    """A conv2d that `split_point` splits -> two convs and a graph.concat."""

    cols: int

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.Conv2dOp, rewriter: PatternRewriter) -> None:
        if op.group_val != 1 or op.interleave_val or op.addend is not None:
            return
        weight = _constant(op.weight)
        bias = _constant(op.bias) if op.bias is not None else None
        if weight is None or (op.bias is not None and bias is None) or weight.ndim != 4:
            return
        cout = weight.shape[0]
        result = op.result.type
        assert isinstance(result, TensorType)
        shape = list(result.get_shape())
        cut = split_point(cout, weight.shape[2], op.strides_val, shape[2], self.cols)
        if not cut:
            return
        if not all(isinstance(u.operation, graph.ConcatOp | graph.Conv2dOp) for u in op.result.uses):
            return
        parts: list[graph.Conv2dOp] = []
        new_ops = []
        origin = op.attributes.get("tidal.origin")
        for i, (lo, hi) in enumerate(((0, cut), (cut, cout))):
            w = graph.ConstantOp.from_numpy(np.ascontiguousarray(weight[lo:hi]))
            b = graph.ConstantOp.from_numpy(np.ascontiguousarray(bias[lo:hi])) if bias is not None else None
            conv = graph.Conv2dOp(
                op.input, w.result, b.result if b is not None else None,
                strides=op.strides_val, pads=op.pads_val, dilations=op.dilations_val,
                activation=op.activation_val,
                result_type=TensorType(result.element_type, [shape[0], hi - lo, *shape[2:]]),
            )
            conv.attributes.update(op.attributes)
            if isinstance(origin, StringAttr):  # the nests: "conv2.0" and "conv2.1"
                conv.attributes["tidal.origin"] = StringAttr(f"{origin.data}.{i}")
            new_ops += [w, *([b] if b is not None else []), conv]
            parts.append(conv)
        cat = graph.ConcatOp([p.result for p in parts], 1, result)
        cat.attributes.update({k: v for k, v in op.attributes.items() if k == "tidal.origin"})
        cat.result.name_hint = op.result.name_hint
        rewriter.insert([*new_ops, cat], InsertPoint.before(op))
        rewriter.replace(op, [], [cat.result])
        for old in (op.weight.owner, op.bias.owner if op.bias is not None else None):
            if isinstance(old, graph.ConstantOp) and not old.result.uses:
                rewriter.erase(old)


@dataclass(frozen=True)
class GraphSplitCoutPass(ChipPass):
    """Split convs whose output channels leave a narrow last tile into a conv of the
    full tiles and one of the rest, concatenated (module docstring)."""

    name = "graph-split-cout"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        expect_level(op, self.name, "graph")
        chip = self.chip_config()
        with quiet_diagnostics():
            PatternRewriteWalker(
                GreedyRewritePatternApplier([SplitCoutPattern(chip.pe_cols)]),
                apply_recursively=False,
            ).rewrite_module(op)

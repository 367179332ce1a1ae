"""graph-dense-groups: a grouped conv whose groups do not fill the PE array becomes
one dense conv, its weight the groups' blocks on the diagonal (zeros elsewhere).

A conv of g groups runs on the accelerator group by group: each group's input
channels are their own PE rows, its output channels their own columns and PSUM
partitions. When a group holds fewer channels than the array has rows (ShuffleNet's
4 groups of 34, 68 or 136 channels), three costs follow that a dense conv does not
pay:

- the group's input channels sit mid-tile in the producer's channel tiles, so each
  group's rows are copied to a tile of their own (a DMA, with its fixed latency, on
  the layer's critical path) and the tensor between the layers often cannot stay in
  SBUF at all: its readers and writers tile the channels differently
  (loop-keep-on-chip needs one layout every copy maps to);
- each group loads its weights into a tile the next group reuses, so the weight loads
  wait on the matmuls and hold up the weight queue;
- each matmul uses cin/g of the array's rows.

The dense conv streams the same pixels through fuller matmuls (a block-diagonal
weight of g groups costs at most g times the group's columns), every tensor keeps one
channel tiling, and its weights load once. The weight grows g times: the pass takes
convs of up to `MAX_GROUPS` groups (as graph-fold-shuffle), not depthwise ones
(one channel per group: kernels/depthwise.py runs those), only with constant weights,
only when a group's input channels are fewer than the chip's PE rows, and only when
the dense conv needs no more matmuls per pixel block than the groups do:
ceil(cin / rows) * ceil(cout / cols) <= g * ceil(cin_g / rows) * ceil(cout_g / cols).
Four groups of 34 channels (136 in all) take 2 x 2 dense matmuls against 4 grouped
ones: dense. Four groups of 68 (272) take 3 x 3 against 4, most of the dense ones
multiplying zero blocks: the groups stay (on ShuffleNet's 68-channel tiles each group
is a tile of its own, so nothing is copied).

    %y = graph.conv2d %x, %w, %b {group = 4 : i64} : (..x136x28x28, 136x34x1x1, 136) -> ..x136x28x28
  becomes
    %y = graph.conv2d %x, %w2, %b : (..x136x28x28, 136x136x1x1, 136) -> ..x136x28x28

`--disable-opt dense-groups` keeps the groups.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.rewriter import InsertPoint

from tidal.dialects import graph
from tidal.passes.graph.fold_shuffle import MAX_GROUPS, block_diagonal, one_group_conv
from tidal.passes.utils.chip import ChipPass
from tidal.passes.utils.expect import expect_level
from tidal.passes.utils.quiet import quiet_diagnostics


def dense_pays(groups: int, cin_g: int, cout: int, rows: int, cols: int) -> bool:
    """Whether a conv of `groups` groups of `cin_g` input channels and `cout` output
    channels runs dense on a `rows` x `cols` PE array: a group's input channels are
    fewer than the rows, and the dense conv takes no more matmuls per pixel block than
    the groups do."""
    if cin_g >= rows:
        return False
    dense = -(-cin_g * groups // rows) * -(-cout // cols)
    grouped = groups * -(-cin_g // rows) * -(-(cout // groups) // cols)
    return dense <= grouped


@dataclass
class DenseGroupsPattern(RewritePattern):
    """A grouped conv2d (2 to MAX_GROUPS groups, not depthwise, constant weight, a
    group's input channels fewer than `rows`, no more dense matmuls than grouped
    ones) -> the one-group conv of its block-diagonal weight."""

    rows: int
    cols: int

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.Conv2dOp, rewriter: PatternRewriter) -> None:
        groups = op.group_val
        if not 1 < groups <= MAX_GROUPS:
            return
        owner = op.weight.owner
        if not isinstance(owner, graph.ConstantOp):
            return
        weight = owner.to_numpy()
        cout, cin_g = weight.shape[:2]
        if cin_g == 1 and cout == groups:  # depthwise
            return
        if not dense_pays(groups, cin_g, cout, self.rows, self.cols):
            return
        dense = graph.ConstantOp.from_numpy(np.ascontiguousarray(block_diagonal(weight, groups)))
        new = one_group_conv(op, dense, op.bias, op.addend)
        new.result.name_hint = op.result.name_hint
        rewriter.insert([dense, new], InsertPoint.before(op))
        rewriter.replace(op, [], [new.result])
        if not owner.result.uses:
            rewriter.erase(owner)


@dataclass(frozen=True)
class GraphDenseGroupsPass(ChipPass):
    """Make grouped convs whose groups underfill the PE rows dense (block-diagonal
    weights) where that takes no more matmuls."""

    name = "graph-dense-groups"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        expect_level(op, self.name, "graph")
        chip = self.chip_config()
        with quiet_diagnostics():
            PatternRewriteWalker(
                GreedyRewritePatternApplier([DenseGroupsPattern(chip.pe_rows, chip.pe_cols)]),
                apply_recursively=False,
            ).rewrite_module(op)

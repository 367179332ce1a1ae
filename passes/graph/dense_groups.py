"""graph-dense-groups: neighbouring groups of a grouped conv whose groups do not fill
the PE array merge into fewer groups, each merged group's weight its groups' blocks on
the diagonal (zeros elsewhere); all of them into one dense conv where that is best.

A conv of g groups runs on the accelerator group by group: each group's input
channels are their own PE rows, its output channels their own columns and PSUM
partitions. When a group holds fewer channels than the array has rows (ShuffleNet's
4 groups of 34, 68 or 136 channels), three costs follow that a merged group does not
pay:

- the group's input channels sit mid-tile in the producer's channel tiles, so each
  group's rows are copied to a tile of their own (a DMA, with its fixed latency, on
  the layer's critical path) and the tensor between the layers often cannot stay in
  SBUF at all: its readers and writers tile the channels differently
  (loop-keep-on-chip needs one layout every copy maps to);
- each group loads its weights into a tile the next group reuses, so the weight loads
  wait on the matmuls and hold up the weight queue;
- each matmul uses cin/g of the array's rows.

A merged group streams the same pixels through fuller matmuls (a block-diagonal
weight of m groups costs at most m times the group's columns) and its weights load
once. The weight grows m times: the pass takes convs of up to `MAX_GROUPS` groups (as
graph-fold-shuffle), not depthwise ones (one channel per group: kernels/depthwise.py
runs those) nor ones whose groups read interleaved channel blocks (`interleave`),
only with constant weights, only when a group's input channels are fewer than the
chip's PE rows, and merges the m (a divisor of g) that takes the fewest
matmuls per pixel block, (g / m) x ceil(m cin_g / rows) x ceil(m cout_g / cols), the
largest m among equals (`merge_factor`). Four groups of 34 channels (136 in all,
ShuffleNet's 28x28 units) take 2 groups of 68: 2 matmuls, against 4 grouped and
2 x 2 dense ones (half of them multiplying zero blocks, and each output tile waiting
for both input tiles). Four groups of 28 (112) take one dense conv: 1 matmul. Four
groups of 68 (272) stay: 4 matmuls, against 2 x (2 x 2) merged in pairs and 3 x 3
dense.

    %y = graph.conv2d %x, %w, %b {group = 4 : i64} : (..x136x28x28, 136x34x1x1, 136) -> ..x136x28x28
  becomes
    %y = graph.conv2d %x, %w2, %b {group = 2 : i64} : (..x136x28x28, 136x68x1x1, 136) -> ..x136x28x28

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
from tidal.passes.graph.fold_shuffle import MAX_GROUPS, block_diagonal, regrouped_conv
from tidal.passes.utils.chip import ChipPass
from tidal.passes.utils.expect import expect_level
from tidal.passes.utils.quiet import quiet_diagnostics


def merge_factor(groups: int, cin_g: int, cout: int, rows: int, cols: int, partial: bool = True) -> int:
    """How many neighbouring groups of a conv (`groups` groups of `cin_g` input
    channels, `cout` output channels in all) to merge into one block-diagonal group on
    a `rows` x `cols` PE array: the divisor m of `groups` whose groups/m merged groups
    take the fewest matmuls per pixel block, (groups / m) x ceil(m cin_g / rows) x
    ceil(m cout_g / cols), the largest m among equals (fewer groups, fewer copies of
    their rows); 1 (the groups stay) when a group already fills the rows. Without
    `partial`, all or none: `groups` when one dense conv takes no more matmuls than
    the groups, else 1."""
    if cin_g >= rows:
        return 1
    cout_g = cout // groups

    def matmuls(m: int) -> int:
        return groups // m * -(-m * cin_g // rows) * -(-m * cout_g // cols)

    if not partial:
        return groups if matmuls(groups) <= matmuls(1) else 1
    return min((m for m in range(1, groups + 1) if groups % m == 0), key=lambda m: (matmuls(m), -m))


def merged_weight(weight: np.ndarray, groups: int, m: int) -> np.ndarray:
    """The weight [Cout, Cin / groups, kh, kw] of `groups` groups as that of groups / m
    groups [Cout, m Cin / groups, kh, kw]: each m neighbouring groups' blocks on the
    diagonal of their merged group's block."""
    per = weight.shape[0] // (groups // m)
    return np.concatenate([block_diagonal(weight[j * per : (j + 1) * per], m) for j in range(groups // m)])


@dataclass
class DenseGroupsPattern(RewritePattern):
    """A grouped conv2d (2 to MAX_GROUPS groups, not depthwise, constant weight, a
    group's input channels fewer than `rows`) -> the conv of g / m groups, each m
    groups' blocks on its weight's diagonal (`merge_factor`; unchanged when m = 1)."""

    rows: int
    cols: int
    partial: bool = True

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.Conv2dOp, rewriter: PatternRewriter) -> None:
        groups = op.group_val
        if not 1 < groups <= MAX_GROUPS or op.interleave_val:
            return
        owner = op.weight.owner
        if not isinstance(owner, graph.ConstantOp):
            return
        weight = owner.to_numpy()
        cout, cin_g = weight.shape[:2]
        if cin_g == 1 and cout == groups:  # depthwise
            return
        m = merge_factor(groups, cin_g, cout, self.rows, self.cols, self.partial)
        if m == 1:
            return
        merged = graph.ConstantOp.from_numpy(np.ascontiguousarray(merged_weight(weight, groups, m)))
        new = regrouped_conv(op, merged, op.bias, op.addend, group=groups // m)
        new.result.name_hint = op.result.name_hint
        rewriter.insert([merged, new], InsertPoint.before(op))
        rewriter.replace(op, [], [new.result])
        if not owner.result.uses:
            rewriter.erase(owner)


@dataclass(frozen=True)
class GraphDenseGroupsPass(ChipPass):
    """Merge neighbouring groups of grouped convs whose groups underfill the PE rows
    into block-diagonal groups (all into one dense conv where best) where that takes
    fewer matmuls."""

    name = "graph-dense-groups"

    partial: bool = True
    """Merge some groups where that takes fewer matmuls than merging all or none (off:
    one dense conv or the groups as they are)."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        expect_level(op, self.name, "graph")
        chip = self.chip_config()
        with quiet_diagnostics():
            PatternRewriteWalker(
                GreedyRewritePatternApplier([DenseGroupsPattern(chip.pe_rows, chip.pe_cols, self.partial)]),
                apply_recursively=False,
            ).rewrite_module(op)

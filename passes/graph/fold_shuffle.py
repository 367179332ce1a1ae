"""graph-fold-shuffle: a channel shuffle after a conv becomes a permutation of the
conv's output channels, so no tensor is transposed.

ShuffleNet's channel shuffle is reshape [N, C, H, W] -> [N, g, C/g, H, W], transpose
(0, 2, 1, 3, 4), reshape back: channel i * C/g + j moves to j * g + i. Lowered as
written it is a transpose nest through DRAM between two layers. When the shuffled
tensor comes straight from a `graph.conv2d` (nothing else using it, constant
weights and bias, no addend), the conv can compute the channels in shuffled order
instead: output channel n of the new conv is old channel o = (n % g) * C/g + n // g,
its weight row and bias o's. A conv of several groups no longer has its groups'
outputs together, so it becomes a one-group conv whose weight is the old groups'
blocks on the diagonal, zeros elsewhere (up to `MAX_GROUPS` groups: the weight
grows by the group count). On the PE array a block-diagonal conv of a few groups
costs no more than the groups' one by one (the same rows and columns streamed, in
fewer, fuller matmuls); the weight bytes grow, the transpose's round trip goes.

    %c = graph.conv2d %x, %w, %b {group = 4, activation = "relu"} : (..x24x56x56, 112x6x1x1, 112) -> ..x112x56x56
    %r = graph.reshape %c : (..x112x56x56) -> ..x4x28x56x56
    %t = graph.transpose %r {perm = array<i64: 0, 2, 1, 3, 4>} : ... -> ..x28x4x56x56
    %y = graph.reshape %t : (..x28x4x56x56) -> ..x112x56x56
  becomes
    %y = graph.conv2d %x, %w2, %b2 {activation = "relu"} : (..x24x56x56, 112x24x1x1, 112) -> ..x112x56x56
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.ir import SSAValue
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
from tidal.passes.utils.expect import expect_level
from tidal.passes.utils.quiet import quiet_diagnostics

MAX_GROUPS = 8
"""The most groups a conv may have to take a shuffle (its weight grows that many
times when made block-diagonal)."""


def _shape(value: SSAValue) -> tuple[int, ...]:
    t = value.type
    assert isinstance(t, TensorType)
    return tuple(t.get_shape())


def _constant(value: SSAValue | None) -> np.ndarray | None:
    owner = value.owner if value is not None else None
    return owner.to_numpy() if isinstance(owner, graph.ConstantOp) else None


def shuffle_groups(first: graph.ReshapeOp) -> int | None:
    """g when `first` starts a channel shuffle reshape -> transpose -> reshape of an
    NC... tensor into g groups (each op the single user of the one before), else
    None."""
    src, mid = _shape(first.input), _shape(first.result)
    if len(src) < 2 or len(mid) != len(src) + 1 or not first.result.has_one_use():
        return None
    n, c, *rest = src
    if mid[0] != n or tuple(mid[3:]) != tuple(rest) or mid[1] * mid[2] != c or mid[1] < 2:
        return None
    transpose = next(iter(first.result.uses)).operation
    if not isinstance(transpose, graph.TransposeOp) or not transpose.result.has_one_use():
        return None
    perm = [0, 2, 1, *range(3, len(mid))]
    if list(transpose.perm_val) != perm:
        return None
    last = next(iter(transpose.result.uses)).operation
    if not isinstance(last, graph.ReshapeOp) or _shape(last.result) != src:
        return None
    return mid[1]


def shuffled_order(channels: int, groups: int) -> np.ndarray:
    """For each channel n after the shuffle, the channel it was before."""
    n = np.arange(channels)
    return (n % groups) * (channels // groups) + n // groups


def block_diagonal(weight: np.ndarray, groups: int) -> np.ndarray:
    """A grouped conv's weight [Cout, Cin / groups, kh, kw] as one group's
    [Cout, Cin, kh, kw], each group's block on the diagonal."""
    cout, cin_g = weight.shape[:2]
    dense = np.zeros((cout, cin_g * groups, *weight.shape[2:]), weight.dtype)
    per = cout // groups
    for gi in range(groups):
        dense[gi * per : (gi + 1) * per, gi * cin_g : (gi + 1) * cin_g] = weight[gi * per : (gi + 1) * per]
    return dense


def regrouped_conv(
    conv: graph.Conv2dOp,
    weight: SSAValue,
    bias: SSAValue | None,
    addend: SSAValue | None = None,
    group: int = 1,
) -> graph.Conv2dOp:
    """A conv of `group` groups (one unless told) of `conv`'s input with `weight` and
    `bias` (and `addend`), with `conv`'s strides, pads, dilations, activation, result
    type and attributes (origin, fused)."""
    new = graph.Conv2dOp(
        conv.input,
        weight,
        bias,
        addend=addend,
        strides=conv.strides_val,
        pads=conv.pads_val,
        dilations=conv.dilations_val,
        group=group,
        activation=conv.activation_val,
        result_type=conv.result.type,  # type: ignore[arg-type]
    )
    new.attributes.update(conv.attributes)
    return new


class FoldShufflePattern(RewritePattern):
    """reshape -> transpose -> reshape (a channel shuffle) of a single-use conv ->
    the conv with its output channels permuted (see the module docstring)."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.ReshapeOp, rewriter: PatternRewriter) -> None:
        groups = shuffle_groups(op)
        conv = op.input.owner
        if groups is None or not isinstance(conv, graph.Conv2dOp):
            return
        if not conv.result.has_one_use() or conv.addend is not None or conv.group_val > MAX_GROUPS:
            return
        weight = _constant(conv.weight)
        if weight is None:
            return
        bias = np.zeros(weight.shape[0], np.float32) if conv.bias is None else _constant(conv.bias)
        if bias is None:
            return
        transpose = next(iter(op.result.uses)).operation
        last = next(iter(transpose.results[0].uses)).operation
        order = shuffled_order(weight.shape[0], groups)
        dense = block_diagonal(weight, conv.group_val) if conv.group_val > 1 else weight
        new_w = graph.ConstantOp.from_numpy(np.ascontiguousarray(dense[order]))
        new_b = graph.ConstantOp.from_numpy(np.ascontiguousarray(bias[order]).astype(np.float32))
        folded = regrouped_conv(conv, new_w, new_b)
        folded.result.name_hint = last.results[0].name_hint or conv.result.name_hint
        rewriter.insert([new_w, new_b, folded], InsertPoint.before(conv))
        rewriter.replace(last, [], [folded.result])
        rewriter.erase(transpose)
        rewriter.erase(op)
        old = [v.owner for v in (conv.weight, conv.bias) if v is not None]
        rewriter.erase(conv)
        for constant in old:
            if isinstance(constant, graph.ConstantOp) and not constant.result.uses:
                rewriter.erase(constant)


@dataclass(frozen=True)
class GraphFoldShufflePass(ModulePass):
    """Fold channel shuffles into the convs that produce them."""

    name = "graph-fold-shuffle"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        expect_level(op, self.name, "graph")
        with quiet_diagnostics():
            PatternRewriteWalker(
                GreedyRewritePatternApplier([FoldShufflePattern()]), apply_recursively=False
            ).rewrite_module(op)

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

Interleaved (`interleave`, InterleaveShufflePattern, tried first): ShuffleNet reads
the shuffled tensor through a depthwise conv (one channel per group, so it does not
care about the order) into a grouped 1x1 conv. There the shuffle can go instead:
the depthwise conv runs on the unshuffled channels (its weights and bias permuted),
and the grouped conv reads each group's channels where they lie, which are runs of
`block` channels spread over the tensor: with G groups, group q's channels
a * block .. (a + 1) * block - 1 are channels (a * G + q) * block .. of the input
(graph.conv2d's `interleave`; the conv's weight columns permuted to that order).
Neighbouring groups are merged (block-diagonal, as graph-dense-groups) until a
block is whole channel tiles, so every input tile the conv reads is one the
depthwise conv wrote (and the tensor stays on chip, read in place). The producer
keeps its groups. The pass takes this form where the datasheet says the PE array
spends fewer cycles on the producer and the reader (`_pe_cycles`) than on the
folded form's dense producer and the reader: ShuffleNet's 7x7 units (544 channels,
4 groups: 16 + 32 matmuls against 64 + 16), not its 14x14 or 28x28 ones (a tie or
worse).

    %r = graph.reshape %c ... ; %t = graph.transpose %r ...; %s = graph.reshape %t ...
    %d = graph.conv2d %s, %wd, %bd {group = 544 : i64, pads = ...} : ...
    %y = graph.conv2d %d, %w, %b {group = 4 : i64} : (..x544x7x7, 544x136x1x1, 544) -> ..x544x7x7
  becomes
    %d = graph.conv2d %c, %wd2, %bd2 {group = 544 : i64, pads = ...} : ...
    %y = graph.conv2d %d, %w2, %b {group = 2 : i64, interleave = 68 : i64} : (..x544x7x7, 544x272x1x1, 544) -> ..x544x7x7

`--disable-opt interleave-shuffle` folds every shuffle into its producer (or leaves
it); `--disable-opt fold-shuffle` runs no part of this pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.ir import Operation, SSAValue
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.rewriter import InsertPoint

from tidal.dialects import graph
from tidal.passes.conversion.kernels.nest_builder import largest_divisor, psum_free_max
from tidal.passes.utils.chip import ChipPass
from tidal.passes.utils.expect import expect_level
from tidal.passes.utils.quiet import quiet_diagnostics
from tidal.sim.config import ChipConfig

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


def _foldable(conv: Operation | None) -> bool:
    """Whether FoldShufflePattern can take a shuffle of `conv`'s result."""
    return (
        isinstance(conv, graph.Conv2dOp) and conv.result.has_one_use() and conv.addend is None
        and conv.group_val <= MAX_GROUPS and not conv.interleave_val
        and _constant(conv.weight) is not None and (conv.bias is None or _constant(conv.bias) is not None)
    )


class FoldShufflePattern(RewritePattern):
    """reshape -> transpose -> reshape (a channel shuffle) of a single-use conv ->
    the conv with its output channels permuted (see the module docstring)."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.ReshapeOp, rewriter: PatternRewriter) -> None:
        groups = shuffle_groups(op)
        conv = op.input.owner
        if groups is None or not _foldable(conv):
            return
        assert isinstance(conv, graph.Conv2dOp)
        weight = _constant(conv.weight)
        assert weight is not None
        bias = np.zeros(weight.shape[0], np.float32) if conv.bias is None else _constant(conv.bias)
        assert bias is not None
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


def _unshuffled(per_channel: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Per-channel values (along axis 0) of the shuffled channels, for the channels
    before the shuffle: channel order[n] takes value n."""
    out = np.empty_like(per_channel)
    out[order] = per_channel
    return out


def _tiles(channels: int, width: int) -> int:
    """Channel tiles of a conv's input or output: `channels` over the largest divisor
    up to `width` (the kernels' uniform tiles)."""
    return channels // largest_divisor(channels, width)


def _pe_cycles(
    conv: graph.Conv2dOp, chip: ChipConfig, *, dense: bool = False, block: int = 0, merge: int = 1
) -> float:
    """The datasheet's PE cycles of `conv` (as one dense conv with `dense`; with
    `block`, its groups merged `merge` at a time reading interleaved blocks of
    `block` channels) as the stationary nest runs it: per group, input tile, output
    tile and tap one matmul, each at the larger of its pixels (up to one PSUM bank)
    and a stationary load; input tiles inside the blocks when interleaved. Grouped
    convs as graph-dense-groups would merge them."""
    from tidal.passes.graph.dense_groups import merge_factor  # (it imports this module)

    cout, cin_g, kh, kw = _shape(conv.weight)
    groups = 1 if dense else conv.group_val // merge
    cin_g *= conv.group_val if dense else merge
    if not dense and not block and 1 < groups <= MAX_GROUPS and cin_g > 1:
        m = merge_factor(groups, cin_g, cout, chip.pe_rows, chip.pe_cols)
        groups, cin_g = groups // m, cin_g * m
    k_tiles = cin_g // block if block else _tiles(cin_g, chip.pe_rows)  # (a block is one tile)
    pixels = math.prod(_shape(conv.result)[2:])
    per = max(min(pixels, psum_free_max(chip)), chip.pe_min_cycles, chip.pe_weight_load_cycles)
    return groups * k_tiles * _tiles(cout // groups, chip.pe_cols) * kh * kw * per


def _shuffle_reader(last: graph.ReshapeOp, channels: int) -> tuple[graph.Conv2dOp, graph.Conv2dOp] | None:
    """(depthwise conv, grouped conv) when the shuffled tensor's only reader is a
    depthwise conv (constant weight and bias, no addend) whose result only a grouped
    conv (constant weight, not depthwise, not interleaved already) reads."""
    if not last.results[0].has_one_use():
        return None
    dw = next(iter(last.results[0].uses)).operation
    if not (
        isinstance(dw, graph.Conv2dOp) and dw.input is last.results[0] and dw.group_val == channels
        and _shape(dw.weight)[0] == channels and dw.addend is None and dw.result.has_one_use()
        and _constant(dw.weight) is not None and (dw.bias is None or _constant(dw.bias) is not None)
    ):
        return None
    conv = next(iter(dw.result.uses)).operation
    if (
        not isinstance(conv, graph.Conv2dOp) or conv.input is not dw.result or conv.interleave_val
        or conv.group_val < 2 or _shape(conv.weight)[1] == 1 or _constant(conv.weight) is None
    ):
        return None
    return dw, conv


def interleave_merge(channels: int, groups: int, g2: int, rows: int) -> tuple[int, int] | None:
    """(merge, block) for a conv of `g2` groups reading a shuffle of `groups`
    groups of `channels` channels: its groups merged `merge` at a time read blocks of
    `block` = channels merge / (g2 groups) channels. The fewest merged whose block is
    whole channel tiles of the kernels' uniform tiling (largest divisor of
    `channels` up to `rows`: each input tile the conv reads is one its producer
    wrote), else the fewest whose block divides evenly; every block at most `rows`
    (one input tile); all groups merged (one dense conv) when nothing smaller fits;
    None when no merge divides evenly."""
    tile = largest_divisor(channels, rows)
    valid = [
        (m, channels * m // (g2 * groups)) for m in range(1, g2 + 1)
        if g2 % m == 0 and channels * m % (g2 * groups) == 0
        and (m == g2 or channels * m // (g2 * groups) <= rows)
    ]
    if not valid:
        return None
    return next((v for v in valid if v[1] % tile == 0), valid[0])


@dataclass
class InterleaveShufflePattern(RewritePattern):
    """reshape -> transpose -> reshape (a channel shuffle) -> depthwise conv ->
    grouped conv: the depthwise conv on the unshuffled channels (its weights
    permuted), the grouped conv reading its groups' channels interleaved
    (`interleave`, its weight's columns permuted), where the datasheet says that
    takes the PE array fewer cycles than folding the shuffle into its producer
    (FoldShufflePattern, which makes a grouped producer dense). See the module
    docstring."""

    chip: ChipConfig

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.ReshapeOp, rewriter: PatternRewriter) -> None:
        groups = shuffle_groups(op)
        if groups is None:
            return
        transpose = next(iter(op.result.uses)).operation
        last = next(iter(transpose.results[0].uses)).operation
        assert isinstance(last, graph.ReshapeOp)
        channels = _shape(op.input)[1]
        found = _shuffle_reader(last, channels)
        if found is None:
            return
        dw, conv = found
        chip, g2 = self.chip, conv.group_val
        chosen = interleave_merge(channels, groups, g2, chip.pe_rows)
        if chosen is None:
            return
        merge, block = chosen
        dense = merge == g2  # (one group: a dense conv, its columns in channel order)
        producer = op.input.owner
        if _foldable(producer):  # the cheaper of the two on the PE array, folding on a tie
            assert isinstance(producer, graph.Conv2dOp)
            folded = _pe_cycles(producer, chip, dense=producer.group_val > 1) + _pe_cycles(conv, chip)
            reads = _pe_cycles(conv, chip, dense=True) if dense else _pe_cycles(conv, chip, block=block, merge=merge)
            if _pe_cycles(producer, chip) + reads >= folded:
                return
        order = shuffled_order(channels, groups)  # order[n]: the channel shuffled to n
        w, b = _constant(dw.weight), _constant(dw.bias)
        assert w is not None
        made: list[Operation] = [w_op := graph.ConstantOp.from_numpy(_unshuffled(w, order))]
        b_val: SSAValue | None = None
        if b is not None:
            made.append(b_op := graph.ConstantOp.from_numpy(_unshuffled(b, order)))
            b_val = b_op.result
        new_dw = regrouped_conv(dw, w_op.result, b_val, group=channels)
        new_dw.operands[0] = op.input
        new_dw.result.name_hint = dw.result.name_hint
        # The merged groups' blocks on their diagonals, each merged group's columns in
        # the shuffle's order; column a * block + i of merged group p reads channel
        # (a * g2 / merge + p) * block + i, which the shuffle put at its column
        # i * groups + a.
        from tidal.passes.graph.dense_groups import merged_weight  # (it imports this module)

        cw = _constant(conv.weight)
        assert cw is not None
        cols = [i * groups + a for a in range(groups) for i in range(block)]
        new_cw = np.ascontiguousarray(merged_weight(cw, g2, merge)[:, cols])
        made.append(cw_op := graph.ConstantOp.from_numpy(new_cw))
        new_conv = graph.Conv2dOp(
            new_dw.result, cw_op.result, conv.bias, addend=conv.addend,
            strides=conv.strides_val, pads=conv.pads_val, dilations=conv.dilations_val,
            group=g2 // merge, activation=conv.activation_val,
            result_type=conv.result.type,  # type: ignore[arg-type]
            interleave=0 if dense else block,
        )
        new_conv.attributes.update(conv.attributes)
        new_conv.result.name_hint = conv.result.name_hint
        rewriter.insert([*made, new_dw, new_conv], InsertPoint.before(conv))
        rewriter.replace(conv, [], [new_conv.result])
        old = [v.owner for v in (dw.weight, dw.bias, conv.weight) if v is not None]
        for dead in (dw, last, transpose, op):
            rewriter.erase(dead)
        for constant in old:
            if isinstance(constant, graph.ConstantOp) and not constant.result.uses:
                rewriter.erase(constant)


@dataclass(frozen=True)
class GraphFoldShufflePass(ChipPass):
    """Fold channel shuffles into the convs that produce them, or (`interleave`)
    into the grouped convs that read them through a depthwise conv."""

    name = "graph-fold-shuffle"

    interleave: bool = True
    """Take a shuffle that a depthwise conv and then a grouped conv read into that
    conv's interleaved groups where the datasheet says the PE array gains."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        expect_level(op, self.name, "graph")
        chip = self.chip_config()
        patterns: list[RewritePattern] = [FoldShufflePattern()]
        if self.interleave:
            patterns.insert(0, InterleaveShufflePattern(chip))
        with quiet_diagnostics():
            PatternRewriteWalker(
                GreedyRewritePatternApplier(patterns), apply_recursively=False
            ).rewrite_module(op)

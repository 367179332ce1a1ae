"""graph-pad-channels: widen a tensor whose channel count the partitions do not divide
to whole 128-channel tiles, the added channels zero, where that takes fewer tiles.

Every accelerator kernel puts channels on the SBUF partitions in tiles of the largest
divisor of the channel count up to the partition count (so one loop walks tiles of
one size). A count with no large divisor under 128 takes many thin tiles: ShuffleNet's
272 channels take four tiles of 68, its 544 eight of 68. Every instruction of ACT and
POOL costs the same for 68 partitions as for 128, so a depthwise conv, a pooling or
a residual add over 272 channels costs four instructions per step where three would
do; a 1x1 conv over them is 4 x 4 matmuls where 3 x 3 would do. Three tiles of 128 are
272 channels widened to 384: this pass widens them in the graph, before any kernel
tiles them, and keeps the model's results exact:

- a conv2d that writes a widened tensor gets zero weight rows and zero bias for the
  added channels (so they are zero, and stay zero through its relu); a conv2d that
  reads one gets zero weight columns for them (so they add nothing); a grouped conv
  whose input or output is widened becomes one dense conv of block-diagonal weight
  (graph-dense-groups' form);
- ops that keep each channel to itself share the widening: a depthwise conv's input
  and output (zero weights and bias for the added channels, one group per channel),
  a max or average pooling's input and output (over zeros: zeros), a conv's residual
  `addend` and its result;
- every other reader (a concatenation, a gemm, a reshape, the graph's result) reads
  a `graph.slice` of the real channels, and a tensor that an op of any other kind
  writes (a concatenation, a function argument), with every tensor that must share
  its channels, stays as it is.

A set of tensors that share their channels is widened only when their real channels
number more than the partitions, the widened tensors take fewer tiles than the
uniform tiling (272: 3 < 4; 544: 5 < 8; 136: 2 = 2, unchanged), and, by the
datasheet, the ACT and POOL cycles that saves (one instruction per tile fewer for
each depthwise tap, pooling window position and residual add over them) exceed both
what it adds to the PE array (the matmuls of the convs that read or write them, a
grouped one made dense, each at the larger of its pixels and a stationary load) and
to the weights' DMA (their bytes at the DRAM bandwidth). ShuffleNet's 14x14
depthwise convs pass (9 taps x 1 tile x 260 cycles saved; 784 PE cycles and 1,607
DMA cycles added); its 7x7 ones do not (their 4-group 1x1 convs' weights would grow
4.7 times: 4,500 DMA cycles against 3,050 saved), nor its stride-2 one. The added
channels cost SBUF bytes too; the model's MACs, and so the ideal roofline, are
counted from the ONNX model, not from this.

    %r = graph.conv2d %x, %w, %b {group = 272 : i64, pads = ...} : (tensor<1x272x14x14xf32>, tensor<272x1x3x3xf32>, tensor<272xf32>) -> tensor<1x272x14x14xf32>
  becomes
    %r = graph.conv2d %x', %w', %b' {group = 384 : i64, pads = ...} : (tensor<1x384x14x14xf32>, tensor<384x1x3x3xf32>, tensor<384xf32>) -> tensor<1x384x14x14xf32>

An LRN over such a channel count reads its input widened the same way, by a
concatenation with a zero constant, to the fewest tiles of one size (163 channels,
a prime: 2 tiles of 82, not 163 of one channel), and its readers a slice
(`pad_lrn_channels`). So does a dense conv whose input or output channel count is
thin (more than THIN_TILES times the fewest tiles) where the sets above left it: a
widened input takes zero weight columns, a widened output zero weight rows and bias
and a slice (`pad_thin_convs`; a 3x3 conv of 163 channels to 163 at 33 x 33 ran
1.4 million instructions). A gemm's or a 2-D matmul's thin contraction (K) or
output-column (N) count is widened likewise: K on both operands, N on B's columns
and C's, the result sliced (`pad_thin_matmuls`; [163, 1009] x [1009, 997] ran 9
million). An op that keeps each channel to itself over a thin count (a pooling, a
per-channel affine, a depthwise conv) is widened too, a chain of them and the thin
convs before them sharing one widening (`pad_thin_channelwise`: a 3x3 max pooling
over 163 channels at 56 x 56 ran 1.4 million cycles).

On ShuffleNet (default chip): 204,369 cycles without, 200,760 with.
`--disable-opt pad-channels` keeps every tensor's channels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, TensorType, f32
from xdsl.ir import Operation, SSAValue

from tidal.dialects import graph
from tidal.passes.conversion.kernels.nest_builder import largest_divisor, thin
from tidal.passes.graph.fold_shuffle import _constant, _shape, block_diagonal
from tidal.passes.utils.chip import ChipPass
from tidal.passes.utils.expect import expect_level
from tidal.sim.config import ChipConfig



def uniform_tiles(channels: int, parts: int) -> int:
    """Channel tiles of the kernels' uniform tiling (the largest divisor up to `parts`)."""
    return channels // largest_divisor(channels, parts)


def widened(channels: int, parts: int) -> int:
    """`channels` rounded up to whole tiles of `parts`."""
    return -(-channels // parts) * parts


def _nchw(value: SSAValue) -> bool:
    return isinstance(value.type, TensorType) and len(_shape(value)) == 4


def _depthwise(op: graph.Conv2dOp) -> bool:
    """One input and one output channel per group (so the input has `group` channels)."""
    w = _shape(op.weight)
    return w[1] == 1 and op.group_val == w[0] > 1


class _Sets:
    """Union-find over values: the tensors that must share one channel layout."""

    def __init__(self) -> None:
        self.parent: dict[SSAValue, SSAValue] = {}

    def find(self, v: SSAValue) -> SSAValue:
        self.parent.setdefault(v, v)
        while self.parent[v] is not v:
            self.parent[v] = self.parent[self.parent[v]]
            v = self.parent[v]
        return v

    def alias(self, new: SSAValue, old: SSAValue) -> None:
        """`new` replaces `old`: the same set, whose root stays the root."""
        self.parent[new] = self.find(old)

    def union(self, a: SSAValue, b: SSAValue) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra is not rb:
            self.parent[ra] = rb


def _reads_widened(user: Operation, index: int) -> bool:
    """Whether operand `index` of `user` may be a widened tensor (else it reads a
    slice of the real channels)."""
    if isinstance(user, graph.Conv2dOp):
        return _writes_widened(user) and user.operands[index] in (user.input, user.addend)
    return isinstance(user, graph.MaxPoolOp | graph.AvgPoolOp) and index == 0


def _writes_widened(op: Operation | None) -> bool:
    if isinstance(op, graph.Conv2dOp):  # (not one whose groups read interleaved blocks)
        return (
            _constant(op.weight) is not None and (op.bias is None or _constant(op.bias) is not None)
            and not op.interleave_val
        )
    return isinstance(op, graph.MaxPoolOp | graph.AvgPoolOp)


def _tiles(channels: int, parts: int, wide: bool) -> int:
    return -(-channels // parts) if wide else uniform_tiles(channels, parts)


@dataclass
class _Plan:
    """Which tensors to widen (`widths`, by union-find root) in a graph's ops."""

    ops: list[Operation]
    chip: ChipConfig

    def __post_init__(self) -> None:
        self.parts = self.chip.sbuf_partitions
        self.sets = _Sets()
        self.values = [r for op in self.ops for r in op.results if _nchw(r)]
        for op in self.ops:
            if isinstance(op, graph.Conv2dOp) and _nchw(op.result):
                if _depthwise(op):
                    self.sets.union(op.input, op.result)
                if op.addend is not None:
                    self.sets.union(op.addend, op.result)
            elif isinstance(op, graph.MaxPoolOp | graph.AvgPoolOp) and _nchw(op.result):
                self.sets.union(op.input, op.result)
        known = set(self.values)
        pinned = {v for v in self.values if not _writes_widened(v.owner)}
        pinned |= {o for op in self.ops for o in op.operands if _nchw(o) and o not in known}
        pinned_roots = {self.sets.find(v) for v in pinned}
        members: dict[SSAValue, list[SSAValue]] = {}
        for v in self.values:
            members.setdefault(self.sets.find(v), []).append(v)
        self.widths: dict[SSAValue, int] = {}
        """Channels in all of each widened set (by root), its real ones first."""
        for root, vs in members.items():
            c = _shape(vs[0])[1]
            gain = c > self.parts and -(-c // self.parts) < uniform_tiles(c, self.parts)
            if gain and root not in pinned_roots and self.pays(vs):
                self.widths[root] = widened(c, self.parts)

    def pays(self, members: list[SSAValue]) -> bool:
        """Whether widening `members` (one layout's tensors) saves ACT and POOL more
        cycles than it adds to the PE array's and to the weights' DMA, each by the
        datasheet: one instruction per channel tile fewer for every depthwise tap,
        pooling window position and residual add over them; the matmuls of the convs
        that read or write them (a grouped one made dense) at the larger of their
        pixels and a stationary load each; their weights' bytes."""
        chip, parts = self.chip, self.parts
        inside = set(members)
        vector = pe = dma = 0.0

        def step(pixels: int) -> float:  # one ACT or POOL instruction over a tile
            return chip.pool_fixed_cycles + pixels / chip.pool_elems_per_cycle_per_lane

        for v in members:
            op, pixels = v.owner, math.prod(_shape(v)[2:])
            c = _shape(v)[1]
            fewer = uniform_tiles(c, parts) - -(-c // parts)
            if isinstance(op, graph.Conv2dOp) and _depthwise(op):
                vector += fewer * math.prod(_shape(op.weight)[2:]) * step(pixels)
            elif isinstance(op, graph.MaxPoolOp | graph.AvgPoolOp):
                vector += fewer * math.prod(op.kernel_shape_val) * step(pixels)
            if isinstance(op, graph.Conv2dOp) and op.addend is not None:
                vector += fewer * step(pixels)
        convs = {
            u.operation for v in members for u in v.uses
            if isinstance(u.operation, graph.Conv2dOp) and u.operation.input is v
        } | {v.owner for v in members if isinstance(v.owner, graph.Conv2dOp)}
        for conv in convs:
            assert isinstance(conv, graph.Conv2dOp)
            if _depthwise(conv):
                continue
            cin, cout, g = _shape(conv.input)[1], _shape(conv.result)[1], conv.group_val
            win, wout = conv.input in inside, conv.result in inside
            taps = math.prod(_shape(conv.weight)[2:])
            per = max(math.prod(_shape(conv.result)[2:]), chip.pe_min_cycles, chip.pe_weight_load_cycles)
            before = g * uniform_tiles(cin // g, parts) * uniform_tiles(cout // g, parts)
            after = _tiles(cin, parts, win) * _tiles(cout, parts, wout)
            pe += (after - before) * taps * per
            w_in = widened(cin, parts) if win else cin
            w_out = widened(cout, parts) if wout else cout
            dma += (w_in * w_out - cin // g * cout) * taps * 4 / chip.dram_bytes_per_cycle
        return vector > max(pe, dma)

    def width(self, value: SSAValue) -> int | None:
        """`value`'s channels widened, None when it keeps its own."""
        return self.widths.get(self.sets.find(value)) if _nchw(value) else None


def _widened_type(value: SSAValue, width: int) -> TensorType:
    n, _, h, w = _shape(value)
    return TensorType(value.type.get_element_type(), [n, width, h, w])  # type: ignore[union-attr]


def _spread(values: np.ndarray, width: int, axis: int) -> np.ndarray:
    """`values` with its `axis` widened to `width` by zeros after its own."""
    pad = [(0, 0)] * values.ndim
    pad[axis] = (0, width - values.shape[axis])
    return np.pad(values.astype(np.float32, copy=False), pad)


def _rewrite(plan: _Plan, op: Operation) -> list[Operation] | None:
    """The ops that replace `op` (the last one's result replaces op's), or None."""
    if not op.results or not _nchw(op.results[0]):
        return None
    out = plan.width(op.results[0])
    if isinstance(op, graph.Conv2dOp):
        lin = plan.width(op.input)
        if out is None and lin is None:
            return None
        weight = _constant(op.weight)
        bias = _constant(op.bias)
        assert weight is not None
        cin = _shape(op.input)[1]
        if _depthwise(op):
            assert out is not None
            new_w = _spread(weight, out, 0)
            group = out
        else:
            dense = block_diagonal(weight, op.group_val) if op.group_val > 1 else weight
            new_w = dense
            if out is not None:
                new_w = _spread(new_w, out, 0)
            if lin is not None:
                new_w = _spread(new_w, lin, 1)
            group = 1
            assert new_w.shape[1] == (lin if lin is not None else cin)
        w_op = graph.ConstantOp.from_numpy(new_w)
        made: list[Operation] = [w_op]
        b_val: SSAValue | None = op.bias
        if bias is not None and out is not None:
            b_op = graph.ConstantOp.from_numpy(_spread(bias, out, 0))
            made.append(b_op)
            b_val = b_op.result
        width = out if out is not None else _shape(op.result)[1]
        new = graph.Conv2dOp(
            op.input, w_op.result, b_val, addend=op.addend,
            strides=op.strides_val, pads=op.pads_val, dilations=op.dilations_val,
            group=group, activation=op.activation_val,
            result_type=_widened_type(op.result, width),
        )
        new.attributes.update(op.attributes)
        return [*made, new]
    if out is None:
        return None
    new = op.__class__.create(  # a pooling: the same op over the widened channels
        operands=list(op.operands),
        result_types=[_widened_type(op.results[0], out)],
        properties=dict(op.properties),
        attributes=dict(op.attributes),
    )
    return [new]


def _erase_with_constants(op: Operation) -> None:
    """Erase the replaced `op`, and the constants it read that nothing else reads."""
    old = [o.owner for o in op.operands if isinstance(o.owner, graph.ConstantOp)]
    op.parent_block().erase_op(op)  # type: ignore[union-attr]
    for const in old:
        if not const.result.uses:
            const.parent_block().erase_op(const)  # type: ignore[union-attr]


def pad_channels(block_ops: list[Operation], chip: ChipConfig) -> int:
    """Widen the tensors of `block_ops` (one block's ops, in order) as the module doc
    says; the number of ops replaced."""
    plan = _Plan(block_ops, chip)
    done = 0
    for op in block_ops:
        # (the operands of `op` already are the widened values where they are widened)
        if (new := _rewrite(plan, op)) is None:
            continue
        block = op.parent_block()
        assert block is not None
        block.insert_ops_before(new, op)
        result = new[-1].results[0]
        result.name_hint = op.results[0].name_hint
        plan.sets.alias(result, op.results[0])
        op.results[0].replace_all_uses_with(result)
        wide = plan.width(result) is not None
        uses = [u for u in result.uses if wide and not _reads_widened(u.operation, u.index)]
        if uses:  # the readers of the model's channels: a slice of them
            n, c, h, w = _shape(op.results[0])
            cut = graph.SliceOp(result, [0, 0, 0, 0], [n, c, h, w], result_type=op.results[0].type)  # type: ignore[arg-type]
            block.insert_op_after(cut, new[-1])
            for u in uses:
                u.operation.operands[u.index] = cut.result
        _erase_with_constants(op)
        done += 1
    return done


def _widened(value: SSAValue, axis: int, width: int, made: list[Operation]) -> SSAValue:
    """`value` with dim `axis` widened to `width` by zeros after its own: a new
    constant for a constant, else a concatenation with a zero constant (the ops
    made appended to `made`)."""
    shape = list(_shape(value))
    if (array := _constant(value)) is not None:
        const = graph.ConstantOp.from_numpy(_spread(array, width, axis))
        made.append(const)
        return const.result
    zeros = graph.ConstantOp.from_numpy(
        np.zeros([*shape[:axis], width - shape[axis], *shape[axis + 1 :]], np.float32)
    )
    wide_shape = [*shape[:axis], width, *shape[axis + 1 :]]
    cat = graph.ConcatOp([value, zeros.result], axis, result_type=TensorType(f32, wide_shape))
    made += [zeros, cat]
    return cat.result


def fewest_tiles_width(channels: int, parts: int, slack: int = 1) -> int | None:
    """ct x ceil(channels / ct), ct = ceil(channels / parts), the fewest tiles of
    one size: what `channels` is widened to when the uniform tiling takes more than
    `slack` x ct tiles; None otherwise. An LRN's with slack 1 (192: 2 tiles of 96,
    kept; 272: 4 of 68, widened to 273, 3 of 91), a thin count's with THIN_TILES."""
    if not thin(channels, parts, slack):
        return None
    tiles = -(-channels // parts)
    return tiles * -(-channels // tiles)


def pad_lrn_channels(block_ops: list[Operation], chip: ChipConfig) -> int:
    """Widen the input of each LRN whose channel count has no large divisor under
    the partition count (163, a prime, takes 163 tiles of one channel and 163 x 163
    banded matmuls per pixel block: a million instructions at 33 x 33) with zero
    channels, a concatenation of the input and a zero constant, and read the
    model's channels back with a slice. Exact: a zero channel adds nothing to its
    neighbours' sums of squares, and its own result (0 times a power) is cut off.
    The number of LRNs widened."""
    done = 0
    for op in block_ops:
        if not isinstance(op, graph.LRNOp) or not _nchw(op.input):
            continue
        n, c, h, w = _shape(op.input)
        width = fewest_tiles_width(c, chip.sbuf_partitions)
        if width is None:
            continue
        made: list[Operation] = []
        wide = _widened(op.input, 1, width, made)
        new = graph.LRNOp(
            wide, size=op.size_val, alpha=op.alpha_val, beta=op.beta_val,
            bias=op.bias_val, result_type=_widened_type(op.result, width),
        )
        new.attributes.update(op.attributes)
        cut = graph.SliceOp(new.result, [0, 0, 0, 0], [n, c, h, w], result_type=op.result.type)  # type: ignore[arg-type]
        block = op.parent_block()
        assert block is not None
        block.insert_ops_before([*made, new, cut], op)
        cut.result.name_hint = op.result.name_hint
        op.result.replace_all_uses_with(cut.result)
        block.erase_op(op)
        done += 1
    return done


THIN_TILES = 2
"""A channel count is thin when the uniform tiling takes more than THIN_TILES times
the fewest tiles of one size (163, a prime: 163 tiles of one channel, not 2)."""


def _thin_width(channels: int, parts: int) -> int | None:
    return fewest_tiles_width(channels, parts, THIN_TILES)


def pad_thin_convs(block_ops: list[Operation], chip: ChipConfig) -> int:
    """Widen a conv's thin input or output channel count (`_thin_width`, as
    `pad_lrn_channels` does an LRN's) where `pad_channels` left it: its input by a
    concatenation with a zero constant and zero weight columns, its output by zero
    weight rows and bias, read back by a slice; a grouped conv (not a depthwise one) becomes one dense conv of
    block-diagonal weight first. Every kernel tiles channels by the largest divisor
    up to the partitions: a 3x3 conv of 163 channels to 163 at 33 x 33 took 1.4
    million instructions, its ci and co tiles one channel each. The number of convs
    widened."""
    parts = chip.sbuf_partitions
    done = 0
    for op in block_ops:
        if (
            not isinstance(op, graph.Conv2dOp) or _depthwise(op)
            or not _nchw(op.input) or (weight := _constant(op.weight)) is None
            or (op.bias is not None and _constant(op.bias) is None)
        ):
            continue
        cin = _shape(op.input)[1]
        cout = _shape(op.result)[1]
        win, wout = _thin_width(cin, parts), _thin_width(cout, parts)
        if win is None and wout is None:
            continue
        if op.group_val > 1:  # one dense conv of block-diagonal weight, as pad_channels makes
            weight = block_diagonal(weight, op.group_val)
        made: list[Operation] = []
        x = op.input
        if win is not None:
            x = _widened(x, 1, win, made)
            weight = _spread(weight, win, 1)
        b_val = op.bias
        if wout is not None:
            weight = _spread(weight, wout, 0)
            if op.bias is not None:
                b_op = graph.ConstantOp.from_numpy(_spread(_constant(op.bias), wout, 0))  # type: ignore[arg-type]
                made.append(b_op)
                b_val = b_op.result
        addend = op.addend
        if addend is not None and wout is not None:  # (a residual: zeros beside it too)
            same = addend == op.input and win == wout  # (the input, widened once)
            addend = x if same else _widened(addend, 1, wout, made)
        w_op = graph.ConstantOp.from_numpy(weight)
        width = wout if wout is not None else cout
        new = graph.Conv2dOp(
            x, w_op.result, b_val, addend=addend, strides=op.strides_val, pads=op.pads_val,
            dilations=op.dilations_val, group=1, activation=op.activation_val,
            result_type=_widened_type(op.result, width),
        )
        new.attributes.update(op.attributes)
        made += [w_op, new]
        result = new.result
        if wout is not None:
            oshape = _shape(op.result)
            cut = graph.SliceOp(result, [0, 0, 0, 0], list(oshape), result_type=op.result.type)  # type: ignore[arg-type]
            made.append(cut)
            result = cut.result
        block = op.parent_block()
        assert block is not None
        block.insert_ops_before(made, op)
        result.name_hint = op.result.name_hint
        op.result.replace_all_uses_with(result)
        _erase_with_constants(op)
        done += 1
    return done


_CHANNELWISE = (graph.MaxPoolOp, graph.AvgPoolOp, graph.GlobalAvgPoolOp, graph.ChannelAffineOp)
"""Ops that keep each channel to itself (with a depthwise conv: `pad_thin_channelwise`)."""


def _zero_beyond(value: SSAValue, channels: int, depth: int = 8) -> bool:
    """Whether every channel of NCHW `value` from `channels` on is zero, as this pass
    makes them: a concatenation with a zero constant, or a conv, depthwise conv or
    per-channel affine whose weights (scale) and bias (shift) are zero there, with no
    activation or one that keeps zero exactly (relu, clip01) and an addend (input) that is
    zero there too, or a pooling of such a tensor (a window of zeros: zero)."""
    op = value.owner
    if depth == 0 or not isinstance(op, Operation):
        return False
    if isinstance(op, graph.ConcatOp):
        last = op.operands[-1]
        tail = _constant(last)
        return (
            op.axis_val == 1 and tail is not None and not tail.any()
            and _shape(value)[1] - _shape(last)[1] <= channels
        )
    if isinstance(op, graph.MaxPoolOp | graph.AvgPoolOp | graph.GlobalAvgPoolOp):
        return _zero_beyond(op.operands[0], channels, depth - 1)
    if isinstance(op, graph.ChannelAffineOp):
        scale, shift = _constant(op.scale), _constant(op.shift)
        return (
            scale is not None and shift is not None
            and not scale[channels:].any() and not shift[channels:].any()
        )
    if isinstance(op, graph.Conv2dOp):
        weight, bias = _constant(op.weight), _constant(op.bias)
        if weight is None or (op.bias is not None and (bias is None or bias[channels:].any())):
            return False
        if weight[channels:].any() or op.activation_val not in (None, "relu", "clip01"):
            return False  # (silu(0) from ACT's table is only near zero)
        if _depthwise(op) and not _zero_beyond(op.input, channels, depth - 1):
            return False
        return op.addend is None or _zero_beyond(op.addend, channels, depth - 1)
    return False


def _widened_reusing(value: SSAValue, width: int, parts: int, made: list[Operation]) -> SSAValue:
    """`value` (NCHW) with its channels widened by zeros: the tensor it is the first
    channels of, when that one's channels past `value`'s are zero (`_zero_beyond`:
    the result of an op widened before) and take no more tiles than `width` does,
    else `_widened` to `width`."""
    op = value.owner
    if isinstance(op, graph.SliceOp) and _nchw(op.input):
        src, shape = op.input, _shape(value)
        wide = _shape(src)[1]
        if (
            list(op.starts_val) == [0, 0, 0, 0] and all(step == 1 for step in op.steps_val)
            and [_shape(src)[0], *_shape(src)[2:]] == [shape[0], *shape[2:]]
            and uniform_tiles(wide, parts) <= uniform_tiles(width, parts)
            and _zero_beyond(src, shape[1])
        ):
            return src
    return _widened(value, 1, width, made)


def pad_thin_channelwise(block_ops: list[Operation], chip: ChipConfig) -> int:
    """Widen the thin channel count (`_thin_width`) of an op that keeps each channel to
    itself, where `pad_channels` left it: a max, average or global average pooling,
    a per-channel affine (a batch norm) or a depthwise conv. Its input is widened by
    a concatenation with a zero constant, or is the widened tensor it was sliced
    from when the channels added there are zero (`_zero_beyond`: a chain of such ops
    and thin convs shares one widening); its scale and shift, weights and bias get
    zeros for the added channels; its result is read back by a slice. Exact: each
    channel is computed from itself alone, and the added ones are cut off. Every
    kernel tiles channels by the largest divisor up to the partitions: a 3x3 max
    pooling over 163 channels at 56 x 56 ran 1.4 million cycles, 163 tiles of one
    channel each. The number of ops widened."""
    parts = chip.sbuf_partitions
    done = 0
    for op in block_ops:
        if isinstance(op, graph.Conv2dOp):
            if (
                not _depthwise(op) or _constant(op.weight) is None
                or (op.bias is not None and _constant(op.bias) is None)
            ):
                continue
        elif not isinstance(op, _CHANNELWISE):
            continue
        x = op.operands[0]
        if not _nchw(x) or not _nchw(op.results[0]) or x.type.element_type != f32:  # type: ignore[attr-defined]
            continue
        channels = _shape(x)[1]
        width = _thin_width(channels, parts)
        if width is None:
            continue
        made: list[Operation] = []
        wide = _widened_reusing(x, width, parts, made)
        width = _shape(wide)[1]
        wide_type = _widened_type(op.results[0], width)
        if isinstance(op, graph.Conv2dOp):
            w_op = graph.ConstantOp.from_numpy(_spread(_constant(op.weight), width, 0))  # type: ignore[arg-type]
            made.append(w_op)
            b_val = op.bias
            if op.bias is not None:
                b_op = graph.ConstantOp.from_numpy(_spread(_constant(op.bias), width, 0))  # type: ignore[arg-type]
                made.append(b_op)
                b_val = b_op.result
            addend = op.addend
            if addend is not None:
                addend = wide if addend == x else _widened(addend, 1, width, made)
            new: Operation = graph.Conv2dOp(
                wide, w_op.result, b_val, addend=addend, strides=op.strides_val, pads=op.pads_val,
                dilations=op.dilations_val, group=width, activation=op.activation_val,
                result_type=wide_type,
            )
        elif isinstance(op, graph.ChannelAffineOp):
            scale, shift = _constant(op.scale), _constant(op.shift)
            if scale is None or shift is None or scale.ndim != 1 or shift.ndim != 1:
                continue
            s_op = graph.ConstantOp.from_numpy(_spread(scale, width, 0))
            t_op = graph.ConstantOp.from_numpy(_spread(shift, width, 0))
            made += [s_op, t_op]
            new = graph.ChannelAffineOp(
                wide, s_op.result, t_op.result, activation=op.activation_val, result_type=wide_type
            )
        else:
            new = op.__class__.create(
                operands=[wide], result_types=[wide_type],
                properties=dict(op.properties), attributes=dict(op.attributes),
            )
        new.attributes.update(op.attributes)
        cut = graph.SliceOp(
            new.results[0], [0, 0, 0, 0], list(_shape(op.results[0])), result_type=op.results[0].type  # type: ignore[arg-type]
        )
        made += [new, cut]
        op.parent_block().insert_ops_before(made, op)  # type: ignore[union-attr]
        cut.result.name_hint = op.results[0].name_hint
        op.results[0].replace_all_uses_with(cut.result)
        _erase_with_constants(op)
        if wide is not x and isinstance(x.owner, graph.SliceOp) and not x.uses:
            x.owner.parent_block().erase_op(x.owner)  # type: ignore[union-attr]  # (read through)
        done += 1
    return done


def pad_thin_matmuls(block_ops: list[Operation], chip: ChipConfig) -> int:
    """Widen a gemm's or a matmul's thin contraction (K) or output-column (N) count
    (a batched matmul's: its last two dims; a ViT's attention over 197 tokens) with
    zeros, as `pad_thin_convs` does a conv's channels: K on both operands
    (zero columns of A meet zero rows of B), N on B's columns and on C's where it
    has them, the result read back by a slice. The gemm kernel tiles K by its
    largest divisor up to the PE rows and N up to the columns: a gemm of
    [163, 1009] x [1009, 997] (primes) ran 9 million instructions. The number of
    ops widened."""
    done = 0
    for op in block_ops:
        if isinstance(op, graph.GemmOp):
            a, b = op.a, op.b
            ka, kb, nb = (0 if op.trans_a_val else 1), (1 if op.trans_b_val else 0), (0 if op.trans_b_val else 1)
        elif isinstance(op, graph.MatMulOp) and len(_shape(op.rhs)) >= 2 and len(_shape(op.lhs)) >= 2:
            a, b = op.lhs, op.rhs  # (batched: the last two dims of each; the batch dims broadcast)
            ka, kb, nb = len(_shape(a)) - 1, len(_shape(b)) - 2, len(_shape(b)) - 1
        else:
            continue
        if op.results[0].type.element_type != f32 or any(v.type.element_type != f32 for v in op.operands):  # type: ignore[attr-defined]
            continue
        k, n = _shape(b)[kb], _shape(b)[nb]
        wk, wn = _thin_width(k, chip.pe_rows), _thin_width(n, chip.pe_cols)
        if wk is None and wn is None:
            continue
        made: list[Operation] = []
        if wk is not None:
            a = _widened(a, ka, wk, made)
            b = _widened(b, kb, wk, made)
        out = list(_shape(op.results[0]))
        if wn is not None:
            b = _widened(b, nb, wn, made)
        wide_out = TensorType(f32, [*out[:-1], wn if wn is not None else n])
        if isinstance(op, graph.GemmOp):
            c = op.c
            if c is not None and wn is not None and _shape(c) and _shape(c)[-1] == n and n > 1:
                c = _widened(c, len(_shape(c)) - 1, wn, made)
            new: Operation = graph.GemmOp(
                a, b, c, alpha=op.alpha_val, beta=op.beta_val, trans_a=op.trans_a_val,
                trans_b=op.trans_b_val, activation=op.activation_val, result_type=wide_out,
            )
        else:
            new = graph.MatMulOp(a, b, result_type=wide_out)
        new.attributes.update(op.attributes)
        made.append(new)
        result = new.results[0]
        if wn is not None:
            cut = graph.SliceOp(result, [0] * len(out), out, result_type=op.results[0].type)  # type: ignore[arg-type]
            made.append(cut)
            result = cut.result
        # (a constant widened twice, along K then N, leaves its first widening unread)
        made = [o for o in made if not (isinstance(o, graph.ConstantOp) and not o.result.uses)]
        op.parent_block().insert_ops_before(made, op)  # type: ignore[union-attr]
        result.name_hint = op.results[0].name_hint
        op.results[0].replace_all_uses_with(result)
        _erase_with_constants(op)
        done += 1
    return done


@dataclass(frozen=True)
class GraphPadChannelsPass(ChipPass):
    """Widen tensors whose channel count the partitions do not divide to whole tiles
    of zero channels where that takes fewer tiles (module doc)."""

    name = "graph-pad-channels"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        expect_level(op, self.name, "graph")
        chip = self.chip_config()
        for region_op in op.walk():
            for region in region_op.regions:
                for block in region.blocks:
                    if any(isinstance(o, graph.Conv2dOp) for o in block.ops):
                        pad_channels(list(block.ops), chip)
                        pad_thin_convs(list(block.ops), chip)
                    if any(isinstance(o, graph.LRNOp) for o in block.ops):
                        pad_lrn_channels(list(block.ops), chip)
                    if any(isinstance(o, graph.GemmOp | graph.MatMulOp) for o in block.ops):
                        pad_thin_matmuls(list(block.ops), chip)
                    if any(isinstance(o, (graph.Conv2dOp, *_CHANNELWISE)) for o in block.ops):
                        pad_thin_channelwise(list(block.ops), chip)

"""Element-wise ops: dims are coalesced across all operands, the second-to-last
coalesced dim goes on partitions and broadcasting is a stride-0 DMA pattern.

By channels (`channels=True`, KernelOptions.eltwise_channels, for an op that
`beside_channel_nests`, KernelOptions.eltwise_beside): an NCHW (or NC...) tensor whose channel tiles fill at least
CHANNEL_MIN_PARTITIONS partitions keeps channel c on partition c % tp and its plane
on the free dim, in chunks of at most FREE_MAX, instead of spreading the flat tensor
over every partition. That is the layout of the convs, poolings and per-channel
affines beside it, so loop-keep-on-chip can keep its operands and its result on chip
(the flat layout, one row of C·H·W / 128 elements per partition, fits no other
nest's copies, and every such tensor went through DRAM). A per-channel operand
([1, C, 1, 1], a squeeze-excitation's scale) is then a column broadcast along the
free dim. torchvision's EfficientNet-B0 (its SiLUs, x · sigmoid(x), and its
squeeze-excitations): DRAM 205 MB -> 71 MB, 1,406,217 -> 727,848 cycles on the
default chip; MobileNet v3 large (hard-swishes): 704,364 -> 472,674.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
import math
from dataclasses import dataclass, replace
from math import prod

from xdsl.ir import SSAValue

from tidal.dialects.loop import (
    ActOp,
    BernoulliOp,
    CopyOp,
    DropoutOp,
    NestOp,
    RandomOp,
    TensorTensorOp,
)
from tidal.passes.conversion.kernels.nest_builder import (
    F32,
    FREE_MAX,
    Nest,
    largest_divisor,
    thin,
    tile_ap as _tile,
)
from tidal.passes.conversion.kernels.plan import NestPlan, Refusal, over_sbuf, sbuf_bytes
from tidal.passes.conversion.kernels.base import (
    Kernel,
    alloc_result,
    broadcast_strides,
    origin_of,
    planned,
    shape_of,
)
from tidal.passes.conversion.kernels.plan import DEFAULT_OPTIONS, KernelOptions, Lowered, TilePlan
from xdsl.dialects.builtin import MemRefType, f32
from xdsl.ir import Operation
from tidal.dialects import graph
from tidal.dialects.loop import ViewOp
from tidal.sim.config import ChipConfig


def coalesce(shape: Sequence[int], strides: Sequence[Sequence[int]]) -> tuple[list[int], list[list[int]]]:
    """Merge adjacent dims that every operand walks contiguously; drop size-1 dims.
    `strides[k][i]` is operand k's element stride along dim i."""
    dims = [(s, [st[i] for st in strides]) for i, s in enumerate(shape) if s != 1]
    merged: list[tuple[int, list[int]]] = []
    for size, st in dims:
        if merged:
            psize, pst = merged[-1]
            if all(p == q * size for p, q in zip(pst, st)):
                merged[-1] = (psize * size, st)
                continue
        merged.append((size, st))
    if not merged:
        merged = [(1, [0] * len(strides))]
    sizes = [s for s, _ in merged]
    per_operand = [[st[k] for _, st in merged] for k in range(len(strides))]
    return sizes, per_operand


def _split_last(sizes: list[int], strides: list[list[int]], limit: int) -> None:
    """Split the last dim in two (outer, inner <= limit), in place."""
    size = sizes[-1]
    inner = largest_divisor(size, limit)
    sizes[-1:] = [size // inner, inner]
    for st in strides:
        st[-1:] = [st[-1] * inner, st[-1]]


@dataclass(frozen=True, kw_only=True)
class EltwiseTiles(NestPlan):
    """The coalesced iteration space (`sizes`, and per operand, output first, its
    element `strides`): the second-to-last dim on tp partitions, the last (tf
    elements) free, the others loops."""

    sizes: tuple[int, ...]
    strides: tuple[tuple[int, ...], ...]
    tp: int
    tf: int
    rem: int = 0
    """`ragged_rows`: the partition dim's rows past its whole tiles of tp, one tile
    of its own (sizes[-2] = tp x whole tiles + rem); 0: tp divides it."""


THIN_ROWS = 2
"""A row count (the partition dim of an element-wise or softmax nest) is thin when
its largest divisor up to the partitions makes more than THIN_ROWS times the fewest
tiles (a ViT's 197 tokens, a prime: 197 tiles of one row, not 2)."""


def ragged_rows(rows: int, partitions: int) -> int:
    """The rows of a last partial tile when `rows` is thin (`thin`, THIN_ROWS): tiles
    of `partitions` then these; else 0."""
    return rows % partitions if thin(rows, partitions, THIN_ROWS) else 0


CHANNEL_MIN_PARTITIONS = 32
"""The fewest partitions a channel tile must fill for an element-wise nest to lay
out by channels (a quarter of the default chip's): with fewer (a 16-channel
tensor) the flat layout's 128 lanes do the work 8 times faster. Measured on
MobileNet v3 large: 472,674 cycles with 32 (or 64), 479,291 with any channel count."""


def _by_channels(
    chip: ChipConfig, origin: str, out_shape: Sequence[int], strides: Sequence[Sequence[int]]
) -> EltwiseTiles | None:
    """The by-channels plan (module docstring) of an op of output `out_shape` [N, C,
    ...] whose operands (output first) walk `strides`; None when the channel tiles
    fill fewer than CHANNEL_MIN_PARTITIONS partitions or an operand does not walk
    each channel's plane contiguously or not at all (broadcast)."""
    if len(out_shape) < 3:
        return None
    n, c, dims = out_shape[0], out_shape[1], list(out_shape[2:])
    tp = largest_divisor(c, chip.sbuf_partitions)
    if tp < CHANNEL_MIN_PARTITIONS:
        return None
    plane = prod(dims)
    per_operand: list[tuple[int, int, int]] = []  # strides over (image, channel, plane element)
    for st in strides:
        inner = list(st[2:])
        if any(inner):  # contiguous over the plane (row-major, size-1 dims free)
            expected = 1
            for size, stride in zip(reversed(dims), reversed(inner)):
                if size != 1 and stride != expected:
                    return None
                expected *= size
        per_operand.append((st[0], st[1], 1 if any(inner) else 0))
    tf = largest_divisor(plane, FREE_MAX)
    need = sbuf_bytes(*[tf] * len(strides))
    if need > chip.sbuf_partition_bytes:
        return None
    return EltwiseTiles(
        origin, tp, need, sizes=(n, plane // tf, c, tf),
        strides=tuple((sn, sp * tf, sc, sp) for sn, sc, sp in per_operand), tp=tp, tf=tf,
    )


def _partition_dim_last_but_one(
    sizes: list[int], strides: list[list[int]], partitions: int, ragged: bool = False
) -> None:
    """Move the loop dim that fills the most partitions (the innermost, on a tie) to
    the second-to-last place, in place. Element-wise iterations are independent, so
    any order of the non-free dims computes the same result. With `ragged`, a thin
    dim fills them all (`ragged_rows`: whole tiles, then one of the rest)."""

    def fill(size: int) -> int:
        return partitions if ragged and ragged_rows(size, partitions) else largest_divisor(size, partitions)

    outer = range(len(sizes) - 1)
    best = max(outer, key=lambda i: (fill(sizes[i]), i))
    for dims in (sizes, *strides):
        dims.insert(len(dims) - 2, dims.pop(best))


def plan_eltwise(
    chip: ChipConfig,
    origin: str,
    out_shape: Sequence[int],
    input_strides: Sequence[Sequence[int]],
    *,
    by_partitions: bool = True,
    channels: bool = False,
    ragged: bool = False,
) -> EltwiseTiles | Refusal:
    """`input_strides`: each input's (broadcast, possibly 0) element strides over
    `out_shape`. `by_partitions`: put the dim that fills the most partitions on
    partitions (false: the second-to-last coalesced dim, whatever its size).
    `channels`: by channels where `_by_channels` can (module docstring). `ragged`
    (`ragged_rows`): a thin partition dim runs as whole tiles of the partitions and
    a last partial one (`EltwiseTiles.rem`)."""
    out_strides = [prod(out_shape[i + 1 :]) for i in range(len(out_shape))]
    if channels and (by_channel := _by_channels(chip, origin, out_shape, [out_strides, *input_strides])):
        return by_channel
    sizes, strides = coalesce(out_shape, [out_strides, *input_strides])
    if len(sizes) == 1:
        _split_last(sizes, strides, max(1, sizes[0] // largest_divisor(sizes[0], chip.sbuf_partitions)))
    if sizes[-1] > FREE_MAX:
        _split_last(sizes, strides, FREE_MAX)
    if by_partitions:
        _partition_dim_last_but_one(sizes, strides, chip.sbuf_partitions, ragged)
    tp = largest_divisor(sizes[-2], chip.sbuf_partitions)
    rem = ragged_rows(sizes[-2], chip.sbuf_partitions) if ragged else 0
    if rem:
        tp = chip.sbuf_partitions
    tf = sizes[-1]
    need = sbuf_bytes(*[tf] * (len(input_strides) + 1))
    if refusal := over_sbuf(chip, origin, need):
        return refusal
    return EltwiseTiles(
        origin, tp, need, sizes=tuple(sizes), strides=tuple(tuple(st) for st in strides), tp=tp,
        tf=tf, rem=rem,
    )


def eltwise(
    plan: EltwiseTiles,
    kind: str,
    y: SSAValue,
    inputs: Sequence[SSAValue],
    params: Sequence[float | int | str] = (),
    row0: int = 0,
) -> NestOp:
    """y = kind(inputs...) for kind in add | mul | sub | max | min (POOL), div (ACT's
    reciprocal, then POOL) or relu | an ACT table function (graph.activation's),
    tiled by `plan` (made from the inputs' strides, in this order), over the
    partition dim's rows from `row0` on. `add` takes two or more inputs (an n-ary
    sum, accumulated in one tile)."""
    sizes, strides, tp, tf = plan.sizes, plan.strides, plan.tp, plan.tf
    assert not plan.rem  # (eltwise_nests splits a ragged plan)
    outer = sizes[:-2]
    dims = [(f"o{i}", s) for i, s in enumerate(outer)] + [("p", sizes[-2] // tp)]
    nest = Nest(plan.name, dims)

    def dram_ap(st: Sequence[int]):
        coeffs = {f"o{i}": st[i] * F32 for i in range(len(outer))}
        coeffs["p"] = st[-2] * tp * F32
        return nest.dram(nest.aff(row0 * st[-2] * F32, **coeffs), [(st[-2], tp), (st[-1], tf)])

    tile_ap = lambda t: _tile(t, "sbuf", nest, tp, [(1, tf)])
    in_tiles = []
    body = []
    for buf, st in zip(inputs, strides[1:]):
        t = nest.tile("sbuf", tp, tf)
        in_tiles.append(t)
        body.append(CopyOp(buf, dram_ap(st), t, tile_ap(t)))
    out = nest.tile("sbuf", tp, tf)
    if kind == "random":  # POOL's generators: low, high, seed
        low, high, seed = params
        body.append(RandomOp(out, tile_ap(out), float(low), float(high), int(seed)))
    elif kind == "bernoulli":  # POOL's generators: seed
        (seed,) = params
        t = in_tiles[0]
        body.append(BernoulliOp(out, tile_ap(out), t, tile_ap(t), int(seed)))
    elif kind == "dropout":  # POOL's generators: ratio, seed
        ratio, seed = params
        t = in_tiles[0]
        body.append(DropoutOp(out, tile_ap(out), t, tile_ap(t), float(ratio), int(seed)))
    elif kind == "piecewise_linear":
        body += _piecewise(nest, tp, tf, out, in_tiles[0], tile_ap, *params)
    elif kind == "div":  # a * (1 / b): ACT's reciprocal table, then POOL
        a, b = in_tiles
        body.append(ActOp("reciprocal", b, tile_ap(b), b, tile_ap(b)))
        body.append(TensorTensorOp("mul", out, tile_ap(out), a, tile_ap(a), b, tile_ap(b)))
    elif kind not in _POOL_BINARY:  # relu or a graph.activation function: ACT
        body.append(ActOp(kind, out, tile_ap(out), in_tiles[0], tile_ap(in_tiles[0])))
    else:
        a, b, *rest = in_tiles
        body.append(TensorTensorOp(kind, out, tile_ap(out), a, tile_ap(a), b, tile_ap(b)))
        for t in rest:
            body.append(TensorTensorOp(kind, out, tile_ap(out), out, tile_ap(out), t, tile_ap(t)))
    body.append(CopyOp(out, tile_ap(out), y, dram_ap(strides[0])))
    nest.put("p", *body)
    return nest.build()


def eltwise_nests(
    plan: EltwiseTiles,
    kind: str,
    y: SSAValue,
    inputs: Sequence[SSAValue],
    params: Sequence[float | int | str] = (),
) -> list[NestOp]:
    """`eltwise`'s nest, or with a ragged partition dim (`plan.rem`) two: its whole
    tiles of tp rows, then the rem rows after them as one tile."""
    if not plan.rem:
        return [eltwise(plan, kind, y, inputs, params)]
    *outer, rows, tf = plan.sizes
    whole = rows - plan.rem
    main = replace(plan, sizes=(*outer, whole, tf), rem=0)
    tail = replace(plan, sizes=(*outer, plan.rem, tf), tp=plan.rem, rem=0)
    return [eltwise(main, kind, y, inputs, params), eltwise(tail, kind, y, inputs, params, row0=whole)]


def _piecewise(nest, tp: int, tf: int, out, x, tile_ap, kind: str, alpha: float, beta: float) -> list:
    """graph.piecewise_linear's instructions: ACT's clip01, relu and identity with its
    scale and bias; POOL where x is needed twice (HardSwish's product, LeakyRelu's
    maximum)."""
    act = lambda func, dst, src, scale=1.0, bias=0.0: ActOp(
        func, dst, tile_ap(dst), src, tile_ap(src), scale=scale, bias=bias
    )
    inf = math.inf
    if kind == "affine":
        return [act("identity", out, x, alpha, beta)]
    if kind == "hard_sigmoid":
        return [act("clip01", out, x, alpha, beta)]
    if kind == "hard_swish":
        t = nest.tile("sbuf", tp, tf)
        return [act("clip01", t, x, 1.0 / 6.0, 0.5),
                TensorTensorOp("mul", out, tile_ap(out), x, tile_ap(x), t, tile_ap(t))]
    if kind == "leaky_relu":
        t = nest.tile("sbuf", tp, tf)
        pick = "max" if alpha <= 1.0 else "min"
        return [act("identity", t, x, alpha),
                TensorTensorOp(pick, out, tile_ap(out), x, tile_ap(x), t, tile_ap(t))]
    lo, hi = alpha, beta  # clip
    if lo == -inf and hi == inf:
        return [act("identity", out, x)]
    if hi == inf:  # max(x, lo) = relu(x - lo) + lo
        return [act("relu", out, x, 1.0, -lo), act("identity", out, out, 1.0, lo)]
    if lo == -inf:  # min(x, hi) = hi - relu(hi - x)
        return [act("relu", out, x, -1.0, hi), act("identity", out, out, -1.0, hi)]
    span = hi - lo  # lo + span * clip01((x - lo) / span)
    return [act("clip01", out, x, 1.0 / span, -lo / span), act("identity", out, out, span, lo)]


# POOL's tensor-tensor ops (AluOp), by the graph op that computes them.
_POOL_BINARY = ("add", "mul", "sub", "max", "min")
_BINARY_KINDS: dict[type[Operation], str] = {
    graph.AddOp: "add", graph.MulOp: "mul", graph.SubOp: "sub", graph.MaxOp: "max",
    graph.MinOp: "min", graph.DivOp: "div",
}


def _eltwise_operands(op: Operation) -> tuple[str, list[SSAValue]]:
    if isinstance(op, graph.ReluOp):
        return "relu", [op.input]
    if isinstance(op, graph.ActivationOp):
        return op.func_val, [op.input]
    if isinstance(op, graph.DropoutOp):  # training mode (inference is a view)
        return "dropout", [op.input]
    if isinstance(op, graph.BernoulliOp):
        return "bernoulli", [op.input]
    if isinstance(op, graph.PiecewiseLinearOp):
        return "piecewise_linear", [op.input]
    if isinstance(op, graph.RandomUniformLikeOp):  # the input gives the shape only
        return "random", []
    if isinstance(op, graph.SumOp):
        return "add", list(op.inputs)
    assert type(op) in _BINARY_KINDS
    return _BINARY_KINDS[type(op)], [op.lhs, op.rhs]  # type: ignore[attr-defined]


CHANNEL_OPS = (
    graph.Conv2dOp, graph.MaxPoolOp, graph.AvgPoolOp, graph.GlobalAvgPoolOp,
    graph.ChannelAffineOp, graph.BatchNormOp, graph.LRNOp,
)
"""Graph ops whose nests keep an NCHW tensor's channels on partitions."""

ELTWISE_OPS = (
    graph.ReluOp, graph.ActivationOp, graph.PiecewiseLinearOp, graph.SumOp, *_BINARY_KINDS,
)


def _neighbours(op: Operation) -> list[Operation]:
    """The ops that write what `op` reads or read what it writes."""
    return [
        o for v in op.operands if isinstance(o := v.owner, Operation)
    ] + [u.operation for r in op.results for u in r.uses]


def beside_channel_nests(ops: Iterable[Operation], depth: int = 3) -> set[Operation]:
    """The element-wise ops among `ops` that read or write a tensor that a
    CHANNEL_OPS op writes or reads, directly or through up to `depth` other
    element-wise ops (a SiLU's sigmoid and multiply between two convs; not a
    channels-last transformer block's). On graph ops: graph-to-loop asks before it
    lowers any (`KernelOptions.eltwise_beside`). A breadth-first search from the ops
    beside a channel op, each op once: linear in the uses (a Sum of 2,000 inputs)."""
    near: set[Operation] = set()
    frontier: list[Operation] = []
    for op in ops:
        if isinstance(op, ELTWISE_OPS) and any(
            isinstance(x, CHANNEL_OPS) for x in _neighbours(op)
        ):
            near.add(op)
            frontier.append(op)
    for _ in range(depth):
        reached: list[Operation] = []
        for op in frontier:
            for x in _neighbours(op):
                if isinstance(x, ELTWISE_OPS) and x not in near:
                    near.add(x)
                    reached.append(x)
        frontier = reached
    return near


class EltwiseKernel(Kernel):
    """Element-wise ops (relu, graph.activation, add, mul, an n-ary sum): one nest over the coalesced
    dims, broadcasting by stride-0 access patterns. A one-operand sum is a view."""

    def plan(
        self, op: Operation, chip: ChipConfig, options: KernelOptions = DEFAULT_OPTIONS
    ) -> TilePlan | Refusal:
        if (isinstance(op, graph.SumOp) and len(op.inputs) == 1) or (
            isinstance(op, graph.DropoutOp) and not op.training_val
        ):
            return TilePlan(op, chip, options=options)  # a view
        out_shape = shape_of(op.results[0])
        _, operands = _eltwise_operands(op)
        strides = [broadcast_strides(shape_of(v), out_shape) for v in operands]
        channels = options.eltwise_channels and options.eltwise_beside
        kind, _ = _eltwise_operands(op)
        # (POOL's generators draw per lane: the random ops keep their lanes)
        ragged = options.ragged_rows and kind not in ("random", "bernoulli", "dropout")
        return planned(op, chip, plan_eltwise(
            chip, origin_of(op), out_shape, strides, by_partitions=options.eltwise_partitions,
            channels=channels, ragged=ragged,
        ), options=options)

    def emit(self, plan: TilePlan) -> Lowered:
        op = plan.op
        tiles = plan.nest(EltwiseTiles)
        if tiles is None:  # a one-operand sum, an inference dropout
            view = ViewOp(op.operands[0], MemRefType(f32, shape_of(op.results[0])))
            return Lowered([view], view.result)
        kind, operands = _eltwise_operands(op)
        y = alloc_result(op)
        params: tuple[float | int, ...] = ()
        if isinstance(op, graph.DropoutOp):
            params = (op.ratio_val, op.seed_val)
        elif isinstance(op, graph.RandomUniformLikeOp):
            params = (op.low_val, op.high_val, op.seed_val)
        elif isinstance(op, graph.BernoulliOp):
            params = (op.seed_val,)
        elif isinstance(op, graph.PiecewiseLinearOp):
            params = op.params
        return Lowered([y, *eltwise_nests(tiles, kind, y.result, operands, params)], y.result)


ELTWISE = EltwiseKernel()

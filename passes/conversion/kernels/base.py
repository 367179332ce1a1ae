"""What every accelerator kernel shares: the `Kernel` base class (`plan` then
`emit`), and the helpers kernels use to read graph ops (`shape_of`, `origin_of`,
`broadcast_strides`) and to return what they build (`alloc_result`, `planned`,
`one_nest`).

    class ReluKernel(Kernel):
        def plan(self, op, chip, options=DEFAULT_OPTIONS):
            return planned(op, chip, plan_eltwise(...), options=options)
        def emit(self, plan):
            ...
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import replace
from math import prod

from xdsl.dialects.builtin import MemRefType, TensorType, f32
from xdsl.ir import Operation, SSAValue

from tidal.dialects.loop import AllocOp, NestOp
from tidal.passes.conversion.kernels.nest_builder import largest_divisor
from tidal.passes.conversion.kernels.plan import (
    DEFAULT_OPTIONS,
    KernelOptions,
    Lowered,
    N,
    NestPlan,
    Refusal,
    TilePlan,
)
from tidal.sim.config import ChipConfig


def shape_of(value: SSAValue) -> tuple[int, ...]:
    t = value.type
    assert isinstance(t, TensorType | MemRefType), t
    return tuple(t.get_shape())


def origin_of(op: Operation) -> str:
    attr = op.attributes.get("tidal.origin")
    return attr.data if attr is not None else op.name  # type: ignore[union-attr]


def broadcast_strides(in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> list[int]:
    """Element strides of a row-major `in_shape` tensor broadcast to `out_shape`."""
    pad = len(out_shape) - len(in_shape)
    full = (1,) * pad + tuple(in_shape)
    contiguous = [prod(full[i + 1 :]) for i in range(len(full))]
    return [0 if full[i] == 1 and out_shape[i] != 1 else contiguous[i] for i in range(len(full))]


def alloc_result(op: Operation) -> AllocOp:
    return AllocOp(MemRefType(f32, shape_of(op.results[0])))


def one_nest(
    plan: TilePlan, kind: type[N], build: Callable[[N, SSAValue, SSAValue], NestOp]
) -> Lowered:
    """A one-input op as one nest, `build(tiles, input, result buffer)`, from the
    plan's nest of type `kind`, into a new DRAM buffer."""
    tiles = plan.nest(kind)
    assert tiles is not None
    y = alloc_result(plan.op)
    return Lowered([y, build(tiles, plan.op.operands[0], y.result)], y.result)


def planned(
    op: Operation,
    chip: ChipConfig,
    *nests: NestPlan | Refusal,
    options: KernelOptions = DEFAULT_OPTIONS,
) -> TilePlan | Refusal:
    """The op's plan from its nests' plans, or the first nest's refusal."""
    for nest in nests:
        if isinstance(nest, Refusal):
            return nest
    return TilePlan(op, chip, tuple(nests), options)  # type: ignore[arg-type]


class Kernel(ABC):
    """An accelerator kernel. By default an op costs no tiles: it plans to an empty
    `TilePlan`, which fits any chip."""

    def plan(
        self, op: Operation, chip: ChipConfig, options: KernelOptions = DEFAULT_OPTIONS
    ) -> TilePlan | Refusal:
        return TilePlan(op, chip, options=options)

    @abstractmethod
    def emit(self, plan: TilePlan) -> Lowered:
        """The ops that replace `plan.op`, built from `plan`."""


def _unaligned_concat(producer: Operation | None, partitions: int = 128) -> bool:
    """A channel concatenation some of whose pieces start inside a tile of the
    uniform tiling (the largest divisor of its channels up to `partitions`):
    ShuffleNet's 112 + 24 = 136 channels, uniform tiles of 68. Its writers' copies
    then fit 128-channel tiles and a partial one (split where a piece crosses
    partition 128) but not the uniform ones, so a conv reading it reads it ragged
    and the concatenation can stay on chip."""
    from tidal.dialects import graph

    if not isinstance(producer, graph.ConcatOp) or producer.axis_val != 1:
        return False
    sizes = [o.type.get_shape()[1] for o in producer.operands]  # (tensors or memrefs)
    channels = sum(sizes)
    if channels <= partitions:
        return False
    tile = largest_divisor(channels, partitions)
    offset = 0
    for size in sizes[:-1]:
        offset += size
        if offset % tile:
            return True
    return False


def _writes_ragged(
    producer: Operation | None, producer_of: Callable[[Operation], Operation | None], pools: bool
) -> bool:
    """Whether `producer` leaves its result in 128-channel tiles and a partial last
    one: a concatenation whose pieces do not start on its uniform tiles
    (`_unaligned_concat`), or, with `pools` (`pool_ragged`), a pooling that reads
    such a tensor (it reads ragged where its input is, kernels/pool.py
    `ragged_parts`, and writes the tiles it read)."""
    from tidal.dialects import graph

    if _unaligned_concat(producer):
        return True
    return pools and isinstance(producer, graph.MaxPoolOp | graph.AvgPoolOp) and _writes_ragged(
        producer_of(producer), producer_of, pools
    )


def first_producer(op: Operation) -> Operation | None:
    """The op that writes `op`'s first operand (None: a block argument, or no operand)."""
    owner = op.operands[0].owner if op.operands else None
    return owner if isinstance(owner, Operation) else None


def options_for(
    op: Operation,
    producer: Operation | None,
    options: KernelOptions,
    producer_of: Callable[[Operation], Operation | None] = first_producer,
) -> KernelOptions:
    """`options` for planning `op` whose first operand `producer` wrote (as it was in
    the graph, before anything was lowered; `producer_of` gives another op's, the
    graph's by default). `ragged_tiles` stays on only where the input is written in
    128-channel-aligned tiles, so that reading it in full 128-channel tiles and a
    partial one keeps one on-chip layout: a channel_affine reading a concatenation
    (whose slices sit at their channel offsets: DenseNet's), a conv reading a
    channel_affine, and a conv or a pooling reading a tensor left in such tiles
    (`_writes_ragged`: a concatenation whose pieces do not start on its uniform
    tiles, or, with `pool_ragged`, a pooling of one: Inception's pool branches and
    their projections). A conv's own output tiles are its largest divisor under
    128, which uniform tiles of the reader match instead (Inception)."""
    from tidal.dialects import graph

    conv = isinstance(op, graph.Conv2dOp)
    pool = isinstance(op, graph.MaxPoolOp | graph.AvgPoolOp)
    ragged = (
        (isinstance(op, graph.ChannelAffineOp) and isinstance(producer, graph.ConcatOp))
        or (conv and isinstance(producer, graph.ChannelAffineOp))
        or ((conv or (pool and options.pool_ragged)) and _writes_ragged(producer, producer_of, options.pool_ragged))
    )
    if options.ragged_tiles and not ragged:
        return replace(options, ragged_tiles=False)
    return options

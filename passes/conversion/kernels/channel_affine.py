"""graph.channel_affine: y = activation(x * scale[c] + shift[c]), one ACT instruction
per tile.

Channels on partitions (tiles of tc <= 128 channels), each partition a row of the
plane (H * W elements) of its channel: the DRAM side of every copy walks rows of
H * W on its partition dim, the layout loop-keep-on-chip keeps on chip. The scale
and the shift are loaded once, as [tc, channel tiles] tiles whose column t is
channel tile t's per-partition scale and shift, so each tile is one ACT:
func(x * scale column + shift column), in place.

Merged (`merge=True`, KernelOptions.dma_merge, where SBUF holds it): each image's
planes of every channel tile are loaded in one descriptor, [tc, channel tiles x
plane], scaled by one ACT per channel tile, and stored in one descriptor. Otherwise
the plane is cut into chunks (of at most FREE_MAX elements, or with `merge` as
large as SBUF holds), a load, an ACT and a store each:

    tiles = plan_channel_affine(get_chip("default"), "bn", (1, 256, 14, 14), merge=True)
    tiles.merged, tiles.tc  # True, 128: 2 descriptors and 2 ACTs in all

Ragged (`ragged=True`, KernelOptions.ragged_tiles, merged only): a channel
count that 128 does not divide (DenseNet's 992-channel concatenations) runs as full
tiles of 128 channels and one last tile of the rest (7 x 128 + 96), not as uniform
tiles of its largest divisor under 128 (8 x 124). Channel c then sits on partition
c % 128 as in every other nest, so loop-keep-on-chip can keep a tensor that nests of
other channel counts also read and write (a dense block's concatenation) on chip.

In pieces (`pieces=True`, KernelOptions.affine_pieces, merged only): a plane past
FREE_MAX elements is scaled in equal pieces of at most FREE_MAX, pieces outermost
and the channel tiles inside, so a reader that streams the plane in blocks of
pixels (a 1x1 conv: 512 pixels per matmul) starts after the first piece of every
tile instead of after the whole plane. DenseNet-121's 56x56 batch norms before each
1x1 conv: 3,136-element ACTs become two of 1,568 and the model takes 425,229
cycles instead of 434,051 (`bench/bench_dataflow.py`).

Split (`affine_split`, merged only): an affine over a concatenation that no other
op reads (a dense block's last one, read by its transition's batch norm) runs as
two nests, the channel tiles of the operands before the last and the tiles from
the one that holds the last operand's channels (`split_at`), so the first does
not wait for the layer that writes the last operand. With `affine_split_shared`
(graph-to-loop's `newest_channels`) also over a concatenation that the next one
reads too (a dense block's running one) whose planes are past FREE_MAX elements.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from math import prod
from typing import Any

from tidal.dialects import graph
from tidal.dialects.accel import AccessAttr
from tidal.dialects.loop import ActOp, CopyOp, NestOp
from tidal.passes.conversion.kernels.base import (
    Kernel,
    alloc_result,
    origin_of,
    planned,
    shape_of,
)
from tidal.passes.conversion.kernels.eltwise import ragged_rows
from tidal.passes.conversion.kernels.nest_builder import (
    F32,
    FREE_MAX,
    TILE_ALIGN_BYTES,
    Nest,
    largest_divisor,
)
from tidal.passes.conversion.kernels.plan import (
    DEFAULT_OPTIONS,
    KernelOptions,
    Lowered,
    NestPlan,
    Refusal,
    TilePlan,
    over_sbuf,
    sbuf_bytes,
)
from tidal.sim.config import ChipConfig
from xdsl.ir import Operation, SSAValue


@dataclass(frozen=True, kw_only=True)
class ChannelAffineTiles(NestPlan):
    """`images` x `channels` rows of `plane` elements; tc channels on partitions;
    each tile `chunk` elements of a row, or with `merged` every channel tile's
    whole row (channels // tc x plane elements)."""

    images: int
    channels: int
    plane: int
    tc: int
    chunk: int
    merged: bool = False
    rem: int = 0
    """Merged only: the channels of a last, partial tile after channels // tc full
    ones (0: every tile is full)."""
    pieces: int = 1
    """Merged only: the ACTs run over this many equal pieces of the plane."""


def plan_channel_affine(
    chip: ChipConfig,
    origin: str,
    shape: tuple[int, ...],
    *,
    merge: bool = False,
    ragged: bool = False,
    pieces: bool = False,
) -> ChannelAffineTiles | Refusal:
    """Tiles for an NCHW (or NC) input of `shape`; with `merge` and `ragged`, full
    tiles and a partial last one when the partitions do not divide the channels."""
    images, channels = shape[0], shape[1]
    plane = prod(shape[2:])
    parts = chip.sbuf_partitions
    split = plane // largest_divisor(plane, FREE_MAX) if pieces else 1
    if merge and ragged and channels > parts and channels % parts:
        ct = -(-channels // parts)
        cols = sbuf_bytes(ct, ct)
        need = sbuf_bytes((ct - 1) * plane, plane) + cols
        if need <= chip.sbuf_partition_bytes:
            return ChannelAffineTiles(
                origin, parts, need, images=images, channels=channels, plane=plane,
                tc=parts, chunk=plane, merged=True, rem=channels % parts, pieces=split,
            )
    tc = largest_divisor(channels, parts)
    ct = channels // tc
    cols = sbuf_bytes(ct, ct)
    fields: dict[str, Any] = {
        "images": images,
        "channels": channels,
        "plane": plane,
        "tc": tc,
    }
    if tc < chip.sbuf_partitions:
        fields["narrow"] = (
            f"{channels} channels in tiles of {tc}: each partition holds one channel, "
            "whose scale and shift are its per-partition columns"
        )
    if merge:
        need = sbuf_bytes(ct * plane) + cols
        if need <= chip.sbuf_partition_bytes:
            return ChannelAffineTiles(
                origin, tc, need, chunk=plane, merged=True, pieces=split, **fields
            )
    room = (chip.sbuf_partition_bytes - cols - TILE_ALIGN_BYTES) // F32
    chunk = largest_divisor(plane, max(1, room) if merge else FREE_MAX)
    need = sbuf_bytes(chunk) + cols
    if refusal := over_sbuf(chip, origin, need):
        return refusal
    return ChannelAffineTiles(origin, tc, need, chunk=chunk, **fields)


def channel_affine(
    plan: ChannelAffineTiles,
    x: SSAValue,
    scale: SSAValue,
    shift: SSAValue,
    y: SSAValue,
    activation: str | None,
) -> NestOp:
    """y = activation(x * scale[c] + shift[c]) on `x` [N, C, ...], `scale` and
    `shift` DRAM [C] vectors."""
    func = activation or "identity"
    if plan.merged:
        return _merged(plan, x, scale, shift, y, func)
    images, channels, plane, tc, chunk = plan.images, plan.channels, plan.plane, plan.tc, plan.chunk
    image = channels * plane * F32
    nest = Nest(plan.name, [("n", images), ("c", channels // tc), ("k", plane // chunk)])
    (scale_t, shift_t), column = _columns(nest, plan, scale, shift)
    xt = nest.tile("sbuf", tc, chunk)
    part = nest.onchip("sbuf", 0, [(1, tc), (1, chunk)])
    rows = nest.dram(
        nest.aff(n=image, c=tc * plane * F32, k=chunk * F32), [(plane, tc), (1, chunk)]
    )
    nest.put(
        "k",
        CopyOp(x, rows, xt, part),
        ActOp(func, xt, part, xt, part, scale_col=(scale_t, column), bias_col=(shift_t, column)),
        CopyOp(xt, part, y, rows),
    )
    return nest.build()


def _columns(
    nest: Nest, plan: ChannelAffineTiles, scale: SSAValue, shift: SSAValue, c0: int = 0
) -> tuple[list[SSAValue], AccessAttr]:
    """Load the scale and shift vectors (from channel `c0` on) once as [tc, channel
    tiles] tiles (a partial last tile's column on its first `rem` partitions); both
    tiles, and the access to channel tile `c`'s column in either."""
    tc, rem = plan.tc, plan.rem
    ct = plan.channels // tc
    columns = [nest.tile("sbuf", tc, ct + (rem > 0)) for _ in (scale, shift)]
    all_columns = nest.onchip("sbuf", 0, [(1, tc), (1, ct)])
    for vector, tile in zip((scale, shift), columns, strict=True):
        nest.put(
            None, CopyOp(vector, nest.dram(c0 * F32, [(1, tc), (tc, ct)]), tile, all_columns)
        )
        if rem:
            last = nest.onchip("sbuf", ct * F32, [(1, rem), (1, 1)])
            nest.put(None, CopyOp(vector, nest.dram((c0 + ct * tc) * F32, [(1, rem), (1, 1)]), tile, last))
    return columns, nest.onchip("sbuf", nest.aff(c=F32), [(1, tc), (1, 1)])


def _merged(
    plan: ChannelAffineTiles,
    x: SSAValue,
    scale: SSAValue,
    shift: SSAValue,
    y: SSAValue,
    func: str,
    c0: int = 0,
    total: int | None = None,
) -> NestOp:
    """Each image's planes of every channel tile in one load and one store, the ACT
    in `plan.pieces` pieces of the plane, pieces outermost: a reader that streams
    the plane in blocks of pixels (a 1x1 conv) waits for the first piece only.
    `c0`, `total`: the plan's channels are channels c0 .. of tensors of `total`
    channels (`split_at`)."""
    images, channels, plane, tc, rem = (
        plan.images, plan.channels, plan.plane, plan.tc, plan.rem
    )
    ct = channels // tc
    piece = plane // plan.pieces
    nest = Nest(plan.name, [("n", images), ("k", plan.pieces), ("c", ct)])
    columns, column = _columns(nest, plan, scale, shift, c0)
    image = (total or channels) * plane * F32
    first = c0 * plane * F32
    xt = nest.tile("sbuf", tc, ct * plane)
    whole = nest.onchip("sbuf", 0, [(1, tc), (1, ct * plane)])
    planes = nest.dram(nest.aff(first, n=image), [(plane, tc), (tc * plane, ct), (1, plane)])
    block = nest.onchip("sbuf", nest.aff(c=plane * F32, k=piece * F32), [(1, tc), (1, piece)])
    nest.put("n", CopyOp(x, planes, xt, whole))
    stores = [CopyOp(xt, whole, y, planes)]
    if rem:  # the partial tile: a tile, load, ACT and store of its own
        rt = nest.tile("sbuf", rem, plane)
        part = nest.onchip("sbuf", 0, [(1, rem), (1, plane)])
        rows = nest.dram(nest.aff(first + ct * tc * plane * F32, n=image), [(plane, rem), (1, plane)])
        col = nest.onchip("sbuf", ct * F32, [(1, rem), (1, 1)])
        nest.put("n", CopyOp(x, rows, rt, part))
        bit = nest.onchip("sbuf", nest.aff(k=piece * F32), [(1, rem), (1, piece)])
        act = ActOp(func, rt, bit, rt, bit, scale_col=(columns[0], col), bias_col=(columns[1], col))
        nest.put_after("k", act)
        stores.append(CopyOp(rt, part, y, rows))
    nest.put("c", ActOp(func, xt, block, xt, block, scale_col=(columns[0], column), bias_col=(columns[1], column)))
    nest.put_after("n", *stores)
    return nest.build()


def split_at(tiles: ChannelAffineTiles, newest: int) -> int:
    """With `newest` > 0 (`KernelOptions.affine_newest`: the input is a
    concatenation that graph-to-loop's `newest_channels` lets this op split, and
    its last operand has that many channels), the first channel of the tile that
    holds those newest channels when tiles before it hold only older ones, else 0.
    The affine then runs as two nests, of the older tiles and of the rest: the
    first reads nothing the last operand's writer writes, so it runs while that
    layer still computes (a dense block's concatenations into their batch norms)."""
    if not newest or not tiles.merged or tiles.images != 1:
        return 0
    at = (tiles.channels - newest) // tiles.tc * tiles.tc
    return at if 0 < at < tiles.channels else 0


class ChannelAffineKernel(Kernel):
    """graph.channel_affine: channels on partitions, one ACT per tile."""

    def plan(
        self, op: Operation, chip: ChipConfig, options: KernelOptions = DEFAULT_OPTIONS
    ) -> TilePlan | Refusal:
        assert isinstance(op, graph.ChannelAffineOp)
        shape = shape_of(op.input)
        # (ragged_rows: a thin channel count, a ViT's 197 tokens scaled as channels,
        # takes whole tiles and a partial one wherever its input comes from)
        thin = options.ragged_rows and ragged_rows(shape[1], chip.sbuf_partitions) > 0
        tiles = plan_channel_affine(
            chip,
            origin_of(op),
            shape,
            merge=options.dma_merge,
            ragged=options.ragged_tiles or thin,
            pieces=options.affine_pieces,
        )
        return planned(op, chip, tiles, options=options)

    def emit(self, plan: TilePlan) -> Lowered:
        op = plan.op
        tiles = plan.nest(ChannelAffineTiles)
        assert isinstance(op, graph.ChannelAffineOp) and tiles is not None
        y = alloc_result(op)
        if at := split_at(tiles, plan.options.affine_newest):
            func = op.activation_val or "identity"
            rest = tiles.channels - at
            old = replace(tiles, channels=at, rem=0)
            new = (
                replace(tiles, channels=rest) if rest > tiles.tc
                else replace(tiles, channels=rest, tc=rest, rem=0)  # one tile, partial
            )
            nests = [
                _merged(old, op.input, op.scale, op.shift, y.result, func, 0, tiles.channels),
                _merged(new, op.input, op.scale, op.shift, y.result, func, at, tiles.channels),
            ]
            return Lowered([y, *nests], y.result)
        nest = channel_affine(
            tiles, op.input, op.scale, op.shift, y.result, op.activation_val
        )
        return Lowered([y, nest], y.result)


CHANNEL_AFFINE = ChannelAffineKernel()

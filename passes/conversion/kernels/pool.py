"""Window pooling (max, average): a window reduction on POOL over a 4-free-dim
access pattern of an input band, channels on partitions.

With halos (`KernelOptions.pool_halo`), a pooling whose padded plane fits SBUF reads
whole planes: the unpadded input is copied into the middle of a [channels, padded
plane] tile whose borders were filled once with the pad value (-inf for max, 0 for
average), so there is no padded copy in DRAM and one load and one store per
group of channel tiles (all of them when SBUF holds their planes):

    tiles = plan_pool_plane(chip, "mp", PoolShape((1, 64, 114, 114), (1, 64, 56, 56),
                                                  (3, 3), (2, 2)), with_recip=False)
    tiles.plane, tiles.rb, tiles.hb  # True, 56 output rows, 114 padded input rows

Separable (`separable=True`, KernelOptions.pool_separable, max pooling over whole
planes): the kh x kw window maximum is the maximum over kh rows of the maximum over
kw columns, as element-wise maxima of shifted views on POOL: kw - 1 over every
padded row (hp x ow elements each), then kh - 1 over the output rows (oh x ow), in
place of one reduction over oh x ow x kh x kw elements. For a 3x3, stride-2 pool of
a 112x112 plane: 2 x 114 x 56 + 2 x 56 x 56 = 19,040 elements per partition on
POOL instead of 28,224.

Row bands (`bands=True`, KernelOptions.pool_bands, one channel tile of at most half
the partitions): a pooling of few channels leaves most POOL lanes idle (ShuffleNet's
24-channel stem max pool, 24 of 128). The output rows are cut into k bands of rb
rows, k the largest divisor of OH with k x C partitions at most; band b's channels
take partitions b x C onwards and hold the padded input rows its windows read
(overlapping the next band's by kh - sh rows, each band loaded by a copy of its
own), so every POOL instruction covers k bands of every channel: k times fewer
elements per partition, for k loads and k stores instead of one (so only where the
elements saved outweigh a load's and a store's DMA latency).

    tiles = plan_pool_plane(chip, "mp", PoolShape((1, 24, 114, 114), (1, 24, 56, 56),
                                                  (3, 3), (2, 2)), with_recip=False,
                            bands=True)
    tiles.bands, tiles.rb, tiles.hb  # 4 bands of 14 output rows, 29 padded input rows
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from tidal.dialects import graph
from tidal.dialects.accel import AccessAttr
from tidal.dialects.loop import (
    ConstOp,
    CopyOp,
    MemsetOp,
    NestOp,
    ReduceOp,
    TensorTensorOp,
    dense_f32,
)
from tidal.passes.conversion.kernels.base import (
    Kernel,
    alloc_result,
    origin_of,
    planned,
    shape_of,
)
from tidal.passes.conversion.kernels.conv import emit_pad, padded_shape, plan_pad_nest, written_in_bands
from tidal.passes.conversion.kernels.depthwise import valid_outputs
from tidal.passes.conversion.kernels.nest_builder import (
    F32,
    FREE_MAX,
    Nest,
    largest_divisor,
)
from tidal.passes.conversion.kernels.nest_builder import (
    tile_ap as _tile,
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


@dataclass(frozen=True)
class PoolShape:
    """The sizes of a window pooling on an already padded NCHW input: `padded` and
    `out` are NCHW, `kernel` the window (KH, KW)."""

    padded: tuple[int, int, int, int]
    out: tuple[int, int, int, int]
    kernel: tuple[int, int]
    strides: tuple[int, int]


@dataclass(frozen=True, kw_only=True)
class PoolTiles(NestPlan):
    """Channels on tc partitions, rb output rows (hb input rows) per step."""

    rb: int
    hb: int
    tc: int
    plane: bool = False  # one band is the whole padded plane, borders filled in SBUF
    cb: int = 1  # with `plane`: channel tiles loaded (and stored) by one descriptor
    separable: bool = False  # with `plane`: max over rows of maxima over columns
    bands: int = 1  # with `plane`: bands of rb output rows side by side on partitions
    inplace: bool = False  # with `separable`: the unpadded planes as they lie
    c0: int = 0  # with `plane`: the first channel this nest pools (`ragged_parts`)
    channels: int = 0  # with `plane`: how many (0: every channel from c0)
    pipe: int = 1
    """Not separable, unbanded (`KernelOptions.pool_pieces`): the one reduction runs
    in this many pieces of output rows (`_reduce_pieces`). With `separable`,
    unbanded (`KernelOptions.pool_pipeline`): the maxima run in
    this many bands of output rows, each band's column maxima over only the input
    rows its windows add, so a band's instructions read no row below its windows
    and POOL starts on the first band while the producer still writes the rest.
    Banded in place (`KernelOptions.pool_bands_pipeline`): every band's rows in this
    many pieces the same way, the halo rows (the band before's last rows, written
    last by a conv-bands producer) and the output rows that read them in the last
    piece (`_pool_bands_inplace`)."""


def plan_window_pool(
    chip: ChipConfig, origin: str, shape: PoolShape, *, with_recip: bool
) -> PoolTiles | Refusal:
    c, wp = shape.padded[1], shape.padded[3]
    _, _, oh, ow = shape.out
    if ow > FREE_MAX:
        return Refusal(f"'{origin}': output rows of {ow} pixels exceed {FREE_MAX}")
    # The reduction reads rb x ow windows of kh x kw: one access of that many elements
    # per partition, which must not exceed what a partition holds (the loader's rule).
    window = ow * shape.kernel[0] * shape.kernel[1]
    cap = chip.sbuf_partition_bytes // F32
    if window > cap:
        return Refusal(
            f"'{origin}': one output row's windows read {window} elements per partition, "
            f"more than the {cap} a partition holds"
        )
    rb = largest_divisor(oh, min(FREE_MAX // ow, cap // window))
    hb = (rb - 1) * shape.strides[0] + shape.kernel[0]
    tc = largest_divisor(c, chip.sbuf_partitions)
    need = sbuf_bytes(hb * wp, rb * ow, *([rb * ow] if with_recip else []))
    if refusal := over_sbuf(chip, origin, need):
        return refusal
    return PoolTiles(origin, tc, need, rb=rb, hb=hb, tc=tc)


def plan_pool_plane(
    chip: ChipConfig,
    origin: str,
    shape: PoolShape,
    *,
    with_recip: bool,
    separable: bool = False,
    bands: bool = False,
    inplace: bool = False,
    pads: tuple[int, int, int, int] = (0, 0, 0, 0),
    pipeline: bool = False,
    bands_pipeline: bool = False,
    sums: bool = False,
    producer_bands: int = 0,
    pieces: bool = False,
) -> PoolTiles | Refusal:
    """Whole padded planes of tc channels, of every channel tile at once when SBUF
    holds them (else one tile per step), or a refusal when one tile's plane, its
    output (and its reciprocal map) do not fit one SBUF partition. `separable` (a
    max pooling whose window has two rows and two columns at least): the column
    maxima of one channel tile take a tile of their own (hp x ow). `bands`: with
    at most half the partitions' channels, row bands side by side on partitions
    (see the module docstring) when two or more fit. `inplace` (separable, not
    banded, padded, a column tap and a row tap that every output's window keeps
    inside the image): the planes unpadded (`PoolTiles.inplace`). `sums` (an
    average pooling, `KernelOptions.avgpool_inplace`): `separable` means column
    sums then row sums, in place only (the clipped taps add no padding, then a map
    of reciprocal window counts scales them, `with_recip` its tile); where the
    plan cannot read in place, the one reduction over padded planes.
    `producer_bands`: the bands its input's writer left it in (`written_in_bands`);
    as many bands here read them where they lie, so fewer than
    MIN_PIPELINED_BANDS still pay. `pieces` (`KernelOptions.pool_pieces`): the one
    reduction over a whole plane in pieces of output rows (`_reduce_pieces`)."""
    c, hp, wp = shape.padded[1], shape.padded[2], shape.padded[3]
    _, _, oh, ow = shape.out
    tc = largest_divisor(c, chip.sbuf_partitions)
    separable = separable and min(shape.kernel) > 1
    k = largest_divisor(oh, chip.sbuf_partitions // c) if bands and 2 * c <= chip.sbuf_partitions else 1
    kh, kw = shape.kernel
    # POOL elements per partition of the unbanded nest (the separable maxima, or one
    # reduction); banding saves (k - 1) / k of them but adds a copy in and out per
    # band, each paying the DMA's fixed latency: band only when the saving exceeds
    # one load's and one store's latency (small planes, like the CNN demo's, do not).
    work = (kw - 1) * hp * ow + (kh - 1) * oh * ow if separable else oh * ow * kh * kw
    if k > 1 and work * (k - 1) / k / chip.pool_elems_per_cycle_per_lane <= 2 * chip.dma_fixed_latency_cycles:
        k = 1
    # With `pipeline`, the unbanded plane's maxima run band by band behind the
    # producer; bands on partitions must also beat that: they do from
    # MIN_PIPELINED_BANDS on (see the constant).
    if (
        k > 1 and pipeline and separable and k < MIN_PIPELINED_BANDS and k != producer_bands
        and _pipe_bands(chip, shape) > 1
    ):
        k = 1
    # Bands refine a whole plane that fits SBUF; a plane that does not (VGG-19's
    # 64 channels of 224x224) keeps the banded-in-DRAM window nest, whose tiles the
    # layers around it were sized against (banding it cost VGG-19 0.45 %).
    plane = sbuf_bytes(hp * wp, oh * ow, *([oh * ow] if with_recip else []), *([hp * ow] if separable else []))
    if k > 1 and plane > chip.sbuf_partition_bytes:
        k = 1
    if k > 1 and inplace and separable and _bands_in_place(shape, pads, k):
        rb = oh // k
        own = rb * shape.strides[0]  # each band's own input rows
        below = _rows_below(shape, pads, k)
        need = sbuf_bytes(
            own * (wp - pads[1] - pads[3]), pads[0] * (wp - pads[1] - pads[3]), (pads[0] + own + below) * ow, rb * ow,
            *([below * (wp - pads[1] - pads[3])] if below else []), *([rb * ow] if with_recip or sums else []),
        )
        if not over_sbuf(chip, origin, need):
            return PoolTiles(
                origin, c, need, rb=rb, hb=own, tc=c, plane=True, separable=True, bands=k, inplace=True,
                pipe=_pipe_pieces(chip, shape, k, pads) if bands_pipeline else 1,
            )
    if sums:  # column and row sums only in place
        in_place = inplace and separable and any(pads) and _full_taps(shape, pads) is not None
        separable = in_place and k == 1
    if k > 1:
        rb = oh // k
        hb = (rb - 1) * shape.strides[0] + shape.kernel[0]
        extra = [rb * ow] if with_recip else []
        extra += [hb * ow] if separable else []
        need = sbuf_bytes(hb * wp, rb * ow, *extra)
        if rb * ow * shape.kernel[0] * shape.kernel[1] <= chip.sbuf_partition_bytes // F32 and not over_sbuf(
            chip, origin, need
        ):
            return PoolTiles(
                origin, c, need, rb=rb, hb=hb, tc=c, plane=True, separable=separable, bands=k
            )
    windows = oh * ow * shape.kernel[0] * shape.kernel[1]
    if not separable and windows > chip.sbuf_partition_bytes // F32:
        return Refusal(  # the one reduction over every window of the plane
            f"'{origin}': the plane's windows read {windows} elements per partition, "
            f"more than the {chip.sbuf_partition_bytes // F32} a partition holds"
        )
    best: PoolTiles | Refusal | None = None
    for cb in (c // tc, 1):
        extra = [oh * ow] if with_recip or (sums and separable) else []
        extra += [hp * ow] if separable else []
        need = sbuf_bytes(cb * hp * wp, cb * oh * ow, *extra)
        best = over_sbuf(chip, origin, need) or PoolTiles(
            origin, tc, need, rb=oh, hb=hp, tc=tc, plane=True, cb=cb, separable=separable,
            inplace=inplace and separable and any(pads) and _full_taps(shape, pads) is not None,
            pipe=_pipe_bands(chip, shape) if pipeline and separable else _reduce_pieces(shape) if pieces and not separable else 1,
        )
        if isinstance(best, PoolTiles):
            return best
    assert best is not None
    return best


def _reduce_pieces(shape: PoolShape) -> int:
    """`pool_pieces`: how many pieces of output rows the one reduction over a
    whole padded plane runs in, the fewest (dividing the output rows) whose windows
    each read at most FREE_MAX input elements; 1 for a plane within FREE_MAX."""
    hp, wp = shape.padded[2], shape.padded[3]
    oh = shape.out[2]
    if hp * wp <= FREE_MAX:
        return 1
    for p in range(2, oh + 1):
        if oh % p == 0 and ((oh // p - 1) * shape.strides[0] + shape.kernel[0]) * wp <= FREE_MAX:
            return p
    return 1


def _rows_below(shape: PoolShape, pads: tuple[int, int, int, int], k: int) -> int:
    """How many rows below its own (rb x sh) the windows of each of `k` row bands
    reach: the next band's first rows, the bottom pad's for the last band (a pool
    padded below only, as ceil mode: Inception v2's stem pool)."""
    (kh, _), (sh, _) = shape.kernel, shape.strides
    rb = shape.out[2] // k
    return max(0, (rb - 1) * sh + kh - 1 - pads[0] - (rb * sh - 1))


def _bands_in_place(shape: PoolShape, pads: tuple[int, int, int, int], k: int) -> bool:
    """Whether `k` row bands can read the unpadded input in place
    (`_pool_bands_inplace`): a batch of one, the bands' own input rows (rb x sh
    each) tile the plane exactly, and a band's windows reach at most its own rows
    and a band's rows (the next band's, `_rows_below`) below them (they reach
    pads[0] rows above: the halo rows)."""
    n, _, hp, wp = shape.padded
    _, _, oh, ow = shape.out
    kw, (sh, sw) = shape.kernel[1], shape.strides
    pt, pl, pb, pr = pads
    h, w = hp - pt - pb, wp - pl - pr
    rb = oh // k
    cols = _taps(ow, w, sw, pl, kw)
    return (
        n == 1 and k * rb * sh == h and _rows_below(shape, pads, k) <= min(pb, rb * sh)
        and pt >= 0 and bool(cols) and cols[0][1:] == (0, ow)
    )


PIPE_BANDS = 4
"""The most bands of output rows `pool_pipeline` cuts a plane's maxima into."""

MIN_PIPELINED_BANDS = 3
"""With `pool_pipeline`, the fewest row bands side by side on partitions
(`pool_bands`) that a max pool takes over its unbanded plane in bands behind the
producer. Measured on the default chip (bench/bench_dataflow.py): 2 bands (64
channels: ResNet-50's, DenseNet-121's, Inception v2's stem pools, whose band copies
are SBUF-to-SBUF DMA) lose 0.7 %, 2.9 % and 4.1 % of the whole model against the
pipelined plane; 4 bands (ShuffleNet's 24 channels) win 14 %."""


def _pipe_bands(chip: ChipConfig, shape: PoolShape) -> int:
    """Bands of output rows for a separable plane (`PoolTiles.pipe`): PIPE_BANDS (at
    most one a row) when each band's maxima take at least 16 instructions' fixed
    cost of POOL elements, else 1. Each band adds kh + kw - 2 instructions."""
    _, _, hp, _ = shape.padded
    _, _, oh, ow = shape.out
    kh, kw = shape.kernel
    bands = min(PIPE_BANDS, oh)
    work = ((kw - 1) * hp * ow + (kh - 1) * oh * ow) / chip.pool_elems_per_cycle_per_lane
    return bands if bands > 1 and work / bands >= 16 * chip.pool_fixed_cycles else 1


def _halo_rows_read(pt: int, sh: int) -> int:
    """How many of a band's first output rows read the pt rows above it (the halo
    rows) at row stride sh."""
    return -(-pt // sh)


def _pipe_pieces(chip: ChipConfig, shape: PoolShape, k: int, pads: tuple[int, int, int, int]) -> int:
    """Pieces of a banded in-place pool's rows (`PoolTiles.pipe`): PIPE_BANDS (at
    most one an output row after those that read the halo rows) when each piece's
    maxima take at least 16 instructions' fixed cost of POOL elements per
    partition, else 1."""
    _, _, oh, ow = shape.out
    kh, kw = shape.kernel
    rb, own = oh // k, oh // k * shape.strides[0]
    pieces = min(PIPE_BANDS, rb - _halo_rows_read(pads[0], shape.strides[0]))
    work = ((kw - 1) * (pads[0] + own) * ow + (kh - 1) * rb * ow) / chip.pool_elems_per_cycle_per_lane
    return pieces if pieces > 1 and work / pieces >= 16 * chip.pool_fixed_cycles else 1


def _band_rows(
    plan: PoolTiles, shape: PoolShape, pads: tuple[int, int, int, int], rows: int, oh: int
) -> list[tuple[int, int, int, int]]:
    """Per band of `plan.pipe` over `oh` output rows (output rows [a, b)): (a, b, lo,
    hi), the input rows [lo, hi) (of `rows` rows; padded rows, or unpadded with
    `pads`' top) its windows reach below the previous band's."""
    kh, sh, pt = shape.kernel[0], shape.strides[0], pads[0]
    out, done = [], 0
    for j in range(plan.pipe):
        a, b = j * oh // plan.pipe, (j + 1) * oh // plan.pipe
        hi = rows if j == plan.pipe - 1 else min(rows, (b - 1) * sh - pt + kh)
        out.append((a, b, done, max(done, hi)))
        done = max(done, hi)
    return out


def pool_plane(
    plan: PoolTiles,
    op: str,
    x: SSAValue,
    y: SSAValue,
    shape: PoolShape,
    pads: tuple[int, int, int, int],
    fill: float,
    *,
    scale: float = 1.0,
    recip: SSAValue | None = None,
) -> NestOp:
    """y = reduce `op` (max | add) over kh x kw windows of the NCHW input `x` padded
    by `pads` with `fill`, times `scale` and `recip` (a DRAM [OH, OW] map, loaded
    once): cb channel tiles of tc channels per step, their unpadded planes copied by
    one descriptor into the middles of a tile of cb padded planes whose borders were
    filled once, before the loops (no copy writes them); one reduction per channel
    tile, one store per step. With row bands, `_pool_bands`."""
    if plan.bands > 1 and plan.inplace:
        return _pool_bands_inplace(plan, x, y, shape, pads, fill, op, recip)
    if plan.bands > 1:
        return _pool_bands(plan, op, x, y, shape, pads, fill, scale=scale, recip=recip)
    n, c, hp, wp = shape.padded
    _, _, oh, ow = shape.out
    kh, kw = shape.kernel
    sh, sw = shape.strides
    pt, pl, pb, pr = pads
    h, w = hp - pt - pb, wp - pl - pr
    tc, cb, c0 = plan.tc, plan.cb, plan.c0
    nest = Nest(plan.name, [("n", n), ("g", (plan.channels or c - c0) // tc // cb), ("c", cb)])
    if plan.inplace:
        return _pool_inplace(plan, nest, x, y, shape, pads, op, recip)
    xt = nest.tile("sbuf", tc, cb * hp * wp)
    out = nest.tile("sbuf", tc, cb * oh * ow)
    if any(pads):
        nest.put(None, MemsetOp(xt, _tile(xt, "sbuf", nest, tc, [(1, cb * hp * wp)]), fill))
    rt = None
    if recip is not None:
        rt = nest.tile("sbuf", tc, oh * ow)
        rt_ap = _tile(rt, "sbuf", nest, tc, [(1, oh * ow)])
        nest.put(None, CopyOp(recip, nest.dram(0, [(0, tc), (1, oh * ow)]), rt, rt_ap))
    def tiles(stride: int) -> list[tuple[int, int]]:  # the channel-tile dim, when it counts
        return [(stride, cb)] if cb > 1 else []

    step = {"n": c * h * w * F32, "g": cb * tc * h * w * F32}
    x_ap = nest.dram(nest.aff(c0 * h * w * F32, **step), [(h * w, tc), *tiles(tc * h * w), (w, h), (1, w)])
    interior = nest.onchip("sbuf", (pt * wp + pl) * F32, [(1, tc), *tiles(hp * wp), (wp, h), (1, w)])
    nest.put("g", CopyOp(x, x_ap, xt, interior))
    out_c = nest.onchip("sbuf", nest.aff(c=oh * ow * F32), [(1, tc), (1, oh * ow)])
    nest.put("c", *_reduce_plane(nest, plan, op, xt, out, (tc, hp, wp, oh, ow), shape, scale))
    if rt is not None:
        nest.put("c", TensorTensorOp("mul", out, out_c, out, out_c, rt, rt_ap))
    y_ap = nest.dram(
        nest.aff(c0 * oh * ow * F32, n=c * oh * ow * F32, g=cb * tc * oh * ow * F32),
        [(oh * ow, tc), *tiles(tc * oh * ow), (1, oh * ow)],
    )
    nest.put_after("g", CopyOp(out, _tile(out, "sbuf", nest, tc, [(1, cb * oh * ow)]), y, y_ap))
    return nest.build()


def _pool_inplace(
    plan: PoolTiles,
    nest: Nest,
    x: SSAValue,
    y: SSAValue,
    shape: PoolShape,
    pads: tuple[int, int, int, int],
    op: str = "max",
    recip: SSAValue | None = None,
) -> NestOp:
    """`pool_plane`'s separable maxima on the unpadded planes as they lie (one copy
    loads every channel tile's, which loop-keep-on-chip replaces by the producer's
    tile when it keeps the input): the column maxima of every row take each column
    tap over the outputs whose input column lies inside the plane, the tap that has
    every output first (a copy), then the row maxima each row tap likewise. With `op`
    "add" (an average pooling), sums instead (a clipped tap adds no padding), times
    `recip`, the map of reciprocal window counts (loaded once)."""
    n, c, hp, wp = shape.padded
    _, _, oh, ow = shape.out
    sh, sw = shape.strides
    pt, pl, pb, pr = pads
    h, w = hp - pt - pb, wp - pl - pr
    tc, cb = plan.tc, plan.cb
    taps = _full_taps(shape, pads)
    assert taps is not None, "the plan checked a full tap each way"
    row_taps, col_taps = taps
    xt = nest.tile("sbuf", tc, cb * h * w)
    out = nest.tile("sbuf", tc, cb * oh * ow)
    cols = nest.tile("sbuf", tc, h * ow)
    rt = rt_ap = None
    if recip is not None:
        rt = nest.tile("sbuf", tc, oh * ow)
        rt_ap = nest.onchip("sbuf", 0, [(1, tc), (1, oh * ow)])
        nest.put(None, CopyOp(recip, nest.dram(0, [(0, tc), (1, oh * ow)]), rt, rt_ap))
    per_tile = [(tc * h * w, cb)] if cb > 1 else []
    src = nest.dram(
        nest.aff(plan.c0 * h * w * F32, n=c * h * w * F32, g=cb * tc * h * w * F32), [(h * w, tc), *per_tile, (1, h * w)]
    )
    nest.put("g", CopyOp(x, src, xt, nest.onchip("sbuf", 0, [(1, tc), (1, cb * h * w)])))
    body: list[Operation] = []
    for a, b, lo, hi in _band_rows(plan, shape, pads, h, oh):
        for i, (s, x0, x1) in enumerate(col_taps if hi > lo else []):
            dst = nest.onchip("sbuf", (lo * ow + x0) * F32, [(1, tc), (ow, hi - lo), (1, x1 - x0)])
            win = nest.onchip(
                "sbuf", nest.aff((lo * w + x0 * sw - pl + s) * F32, c=h * w * F32), [(1, tc), (w, hi - lo), (sw, x1 - x0)]
            )
            body.append(TensorTensorOp("max", cols, dst, xt, win, xt, win) if i == 0 else TensorTensorOp(op, cols, dst, cols, dst, xt, win))
        for i, (r, y0, y1) in enumerate(row_taps):
            y0, y1 = max(y0, a), min(y1, b)
            if y1 <= y0:
                continue  # (never the first, full tap)
            dst = nest.onchip("sbuf", nest.aff(y0 * ow * F32, c=oh * ow * F32), [(1, tc), (ow, y1 - y0), (1, ow)])
            win = nest.onchip("sbuf", (y0 * sh - pt + r) * ow * F32, [(1, tc), (sh * ow, y1 - y0), (1, ow)])
            body.append(TensorTensorOp("max", out, dst, cols, win, cols, win) if i == 0 else TensorTensorOp(op, out, dst, out, dst, cols, win))
    if rt is not None:
        assert rt_ap is not None
        out_c = nest.onchip("sbuf", nest.aff(c=oh * ow * F32), [(1, tc), (1, oh * ow)])
        body.append(TensorTensorOp("mul", out, out_c, out, out_c, rt, rt_ap))
    nest.put("c", *body)
    y_ap = nest.dram(
        nest.aff(plan.c0 * oh * ow * F32, n=c * oh * ow * F32, g=cb * tc * oh * ow * F32),
        [(oh * ow, tc), *([(tc * oh * ow, cb)] if cb > 1 else []), (1, oh * ow)],
    )
    nest.put_after("g", CopyOp(out, _tile(out, "sbuf", nest, tc, [(1, cb * oh * ow)]), y, y_ap))
    return nest.build()


def _reduce_plane(
    nest: Nest,
    plan: PoolTiles,
    op: str,
    xt: SSAValue,
    out: SSAValue,
    sizes: tuple[int, int, int, int, int],
    shape: PoolShape,
    scale: float,
) -> list[Operation]:
    """The window reduction of `parts` partitions of padded rows (hp x wp) in `xt`
    into `oh` x `ow` outputs in `out` (both stepping with the nest's channel-tile
    dim "c", when it has one): the separable maxima, or one reduction."""
    parts, hp, wp, oh, ow = sizes
    kh, kw = shape.kernel
    sh, sw = shape.strides
    if plan.separable:
        assert op == "max" and scale == 1.0
        cols = nest.tile("sbuf", parts, hp * ow)  # the maximum over kw columns, every row
        body: list[Operation] = []
        # (with `pipe`, band by band of output rows: the column maxima of the rows
        # each band's windows add, then the band's row maxima)
        for a, b, lo, hi in _band_rows(plan, shape, (0, 0, 0, 0), hp, oh):
            if hi > lo:
                some_cols = nest.onchip("sbuf", lo * ow * F32, [(1, parts), (ow, hi - lo), (1, ow)])

                def shifted(s: int) -> AccessAttr:  # input columns s, s + sw, ... of rows lo..hi
                    return nest.onchip(
                        "sbuf", nest.aff((lo * wp + s) * F32, c=hp * wp * F32), [(1, parts), (wp, hi - lo), (sw, ow)]
                    )

                body.append(TensorTensorOp("max", cols, some_cols, xt, shifted(0), xt, shifted(1)))
                body += [TensorTensorOp("max", cols, some_cols, cols, some_cols, xt, shifted(s)) for s in range(2, kw)]
            out_rows = nest.onchip("sbuf", nest.aff(a * ow * F32, c=oh * ow * F32), [(1, parts), (ow, b - a), (1, ow)])

            def rows(r: int) -> AccessAttr:  # column maxima of rows a x sh + r, + sh, ...
                return nest.onchip("sbuf", (a * sh + r) * ow * F32, [(1, parts), (sh * ow, b - a), (1, ow)])

            body.append(TensorTensorOp("max", out, out_rows, cols, rows(0), cols, rows(1)))
            body += [TensorTensorOp("max", out, out_rows, out, out_rows, cols, rows(r)) for r in range(2, kh)]
        return body
    # (with `pipe`, one reduction per piece of output rows: `_reduce_pieces`)
    body = []
    for k in range(plan.pipe):
        a, b = k * oh // plan.pipe, (k + 1) * oh // plan.pipe
        out_c = nest.onchip("sbuf", nest.aff(a * ow * F32, c=oh * ow * F32), [(1, parts), (1, (b - a) * ow)])
        window = nest.onchip(
            "sbuf", nest.aff(a * sh * wp * F32, c=hp * wp * F32), [(1, parts), (sh * wp, b - a), (sw, ow), (wp, kh), (1, kw)]
        )
        body.append(ReduceOp(op, out, out_c, xt, window, 2, scale))
    return body


def _unpadded(shape: PoolShape, pads: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """N, C, H, W of the input `shape.padded` pads by `pads` (top, left, bottom, right)."""
    n, c, hp, wp = shape.padded
    return n, c, hp - pads[0] - pads[2], wp - pads[1] - pads[3]


def _pool_bands(
    plan: PoolTiles,
    op: str,
    x: SSAValue,
    y: SSAValue,
    shape: PoolShape,
    pads: tuple[int, int, int, int],
    fill: float,
    *,
    scale: float = 1.0,
    recip: SSAValue | None = None,
) -> NestOp:
    """`pool_plane` with `plan.bands` bands of rb output rows side by side on
    partitions (band b's C channels on partitions b x C onwards): the tile of hb
    padded rows per band filled with the pad value, each band's real input rows
    copied into it (one copy per band), one reduction over every band's windows,
    one store per band."""
    n, c, h, w = _unpadded(shape, pads)
    hp, wp = shape.padded[2:]
    _, _, oh, ow = shape.out
    sh = shape.strides[0]
    pt, pl = pads[:2]
    k, rb, hb = plan.bands, plan.rb, plan.hb
    parts = k * c
    nest = Nest(plan.name, [("n", n)])
    xt = nest.tile("sbuf", parts, hb * wp)
    out = nest.tile("sbuf", parts, rb * ow)
    if any(pads):
        nest.put(None, MemsetOp(xt, _tile(xt, "sbuf", nest, parts, [(1, hb * wp)]), fill))
    rt = None
    if recip is not None:
        rt = nest.tile("sbuf", parts, rb * ow)
        for b in range(k):
            dst = nest.onchip("sbuf", 0, [(1, c), (1, rb * ow)], pstart=b * c)
            nest.put(None, CopyOp(recip, nest.dram(b * rb * ow * F32, [(0, c), (1, rb * ow)]), rt, dst))
    loads, stores = [], []
    for b in range(k):
        first = b * rb * sh  # the band's first padded row
        lo, hi = max(first, pt), min(first + hb, pt + h)  # its rows that hold input
        src = nest.dram(nest.aff((lo - pt) * w * F32, n=c * h * w * F32), [(h * w, c), (w, hi - lo), (1, w)])
        dst = nest.onchip("sbuf", ((lo - first) * wp + pl) * F32, [(1, c), (wp, hi - lo), (1, w)], pstart=b * c)
        loads.append(CopyOp(x, src, xt, dst))
        y_ap = nest.dram(nest.aff(b * rb * ow * F32, n=c * oh * ow * F32), [(oh * ow, c), (1, rb * ow)])
        stores.append(CopyOp(out, nest.onchip("sbuf", 0, [(1, c), (1, rb * ow)], pstart=b * c), y, y_ap))
    body = _reduce_plane(nest, plan, op, xt, out, (parts, hb, wp, rb, ow), shape, scale)
    if rt is not None:
        all_out = _tile(out, "sbuf", nest, parts, [(1, rb * ow)])
        all_rt = _tile(rt, "sbuf", nest, parts, [(1, rb * ow)])
        body.append(TensorTensorOp("mul", out, all_out, out, all_out, rt, all_rt))
    nest.put("n", *loads, *body, *stores)
    return nest.build()


def _pool_bands_inplace(
    plan: PoolTiles,
    x: SSAValue,
    y: SSAValue,
    shape: PoolShape,
    pads: tuple[int, int, int, int],
    fill: float,
    op: str = "max",
    recip: SSAValue | None = None,
) -> NestOp:
    """`_pool_bands` on the unpadded input as it lies (`PoolTiles.inplace` with
    bands): band b's own input rows (rb x sh of them, hb) on partitions b x C by one
    copy each, which loop-keep-on-chip replaces by the producer's tile when it keeps
    the input in the same band layout (conv-bands' output: ShuffleNet's stem); the
    pads[0] rows above each band (the last rows of the bands before, the pad value
    for those above the plane: all of the first band's) in a small tile of their
    own, and likewise the rows below it its windows reach (`_rows_below`: the next
    band's first rows, the pad value for the last band's). Column maxima of the halo rows and of the band's rows, each column tap over the output columns whose input column lies
    inside the plane (the tap that has every output first), then the row maxima, no
    row clipped (the halo rows stand for the top pad). With `op` "add" (an average
    pooling, the pad rows 0), sums instead, times `recip`, the map of reciprocal
    window counts, band b's rows on band b's partitions (a copy each, before the
    loop)."""
    n, c, h, w = _unpadded(shape, pads)
    _, _, oh, ow = shape.out
    (kh, kw), (sh, sw) = shape.kernel, shape.strides
    pt, pl = pads[:2]
    k, rb, own = plan.bands, plan.rb, plan.hb
    parts = k * c
    nest = Nest(plan.name, [("n", n)])
    xt = nest.tile("sbuf", parts, own * w)
    halo = nest.tile("sbuf", parts, pt * w) if pt else None
    # The rows below each band its windows reach (`_rows_below`): the next band's
    # first rows, the pad value below the plane (the last band's).
    e = _rows_below(shape, pads, k)
    low = nest.tile("sbuf", parts, e * w) if e else None
    cols = nest.tile("sbuf", parts, (pt + own + e) * ow)
    out = nest.tile("sbuf", parts, rb * ow)
    loads, stores = [], []
    rt = None
    if recip is not None:
        rt = nest.tile("sbuf", parts, rb * ow)
        for b in range(k):
            src = nest.dram(b * rb * ow * F32, [(0, c), (1, rb * ow)])
            nest.put(None, CopyOp(recip, src, rt, nest.onchip("sbuf", 0, [(1, c), (1, rb * ow)], pstart=b * c)))
    for b in range(k):
        src = nest.dram(b * own * w * F32, [(h * w, c), (1, own * w)])
        loads.append(CopyOp(x, src, xt, nest.onchip("sbuf", 0, [(1, c), (1, own * w)], pstart=b * c)))
        # The pt rows above band b: those above the plane are the pad (all of the
        # first band's; a band's own rows can be fewer than pt), the rest the rows
        # of the bands before.
        above = max(0, pt - b * own)
        if halo is not None:
            if above:
                nest.put(None, MemsetOp(halo, nest.onchip("sbuf", 0, [(1, c), (1, above * w)], pstart=b * c), fill))
            if above < pt:
                src = nest.dram((b * own - pt + above) * w * F32, [(h * w, c), (1, (pt - above) * w)])
                dst = nest.onchip("sbuf", above * w * F32, [(1, c), (1, (pt - above) * w)], pstart=b * c)
                loads.append(CopyOp(x, src, halo, dst))
        if low is not None:
            inside = max(0, min(e, h - (b + 1) * own))  # the rest is below the plane
            if inside:
                src = nest.dram((b + 1) * own * w * F32, [(h * w, c), (1, inside * w)])
                loads.append(CopyOp(x, src, low, nest.onchip("sbuf", 0, [(1, c), (1, inside * w)], pstart=b * c)))
            if inside < e:
                pad = nest.onchip("sbuf", inside * w * F32, [(1, c), (1, (e - inside) * w)], pstart=b * c)
                nest.put(None, MemsetOp(low, pad, fill))
        y_ap = nest.dram(b * rb * ow * F32, [(oh * ow, c), (1, rb * ow)])
        stores.append(CopyOp(out, nest.onchip("sbuf", 0, [(1, c), (1, rb * ow)], pstart=b * c), y, y_ap))
    body: list[Operation] = []

    def col_max(tile: SSAValue, first: int, r0: int, rows: int) -> None:
        """Column maxima of `tile`'s rows [r0, r0 + rows) into rows first + r0 on."""
        for i, (s_, x0, x1) in enumerate(_taps(ow, w, sw, pl, kw)):
            dst = nest.onchip("sbuf", ((first + r0) * ow + x0) * F32, [(1, parts), (ow, rows), (1, x1 - x0)])
            win = nest.onchip("sbuf", (r0 * w + x0 * sw - pl + s_) * F32, [(1, parts), (w, rows), (sw, x1 - x0)])
            body.append(
                TensorTensorOp("max", cols, dst, tile, win, tile, win) if i == 0
                else TensorTensorOp(op, cols, dst, cols, dst, tile, win)
            )

    def row_max(j0: int, j1: int) -> None:
        """Output rows [j0, j1): the maxima over kh rows of column maxima (halo rows
        first in `cols`), rows j * sh + r."""
        part = nest.onchip("sbuf", j0 * ow * F32, [(1, parts), (ow, j1 - j0), (1, ow)])

        def rows_of(r: int) -> AccessAttr:
            return nest.onchip("sbuf", (j0 * sh + r) * ow * F32, [(1, parts), (sh * ow, j1 - j0), (1, ow)])

        body.append(TensorTensorOp(op, out, part, cols, rows_of(0), cols, rows_of(1)))
        body.extend(TensorTensorOp(op, out, part, out, part, cols, rows_of(r)) for r in range(2, kh))

    if plan.pipe <= 1:
        if halo is not None:
            col_max(halo, 0, 0, pt)
        col_max(xt, pt, 0, own)
        if low is not None:
            col_max(low, pt + own, 0, e)
        row_max(0, rb)
    else:
        # Pieces of output rows, each after the column maxima of the band rows its
        # windows reach; the output rows that read the halo rows (the first
        # ceil(pt / sh)), which a conv-bands producer writes last (the band
        # before's last rows), go last, with them; the rows below (`_rows_below`)
        # before the first piece whose windows reach them.
        start = _halo_rows_read(pt, sh)
        below_from = (own - kh + pt) // sh + 1  # the first output row that reads a row below
        done, low_done = 0, low is None
        for j in range(plan.pipe):
            a = start + j * (rb - start) // plan.pipe
            b = start + (j + 1) * (rb - start) // plan.pipe
            last = j == plan.pipe - 1
            hi = own if last else min(own, (b - 1) * sh + kh - pt)
            if hi > done:
                col_max(xt, pt, done, hi - done)
                done = hi
            if not low_done and (last or b - 1 >= below_from):
                col_max(low, pt + own, 0, e)  # type: ignore[arg-type]
                low_done = True
            if last and halo is not None:
                col_max(halo, 0, 0, pt)
                row_max(0, start)
            row_max(a, b)
    if rt is not None:
        whole = nest.onchip("sbuf", 0, [(1, parts), (1, rb * ow)])
        body.append(TensorTensorOp("mul", out, whole, out, whole, rt, whole))
    nest.put("n", *loads, *body, *stores)
    return nest.build()


def window_pool(
    plan: PoolTiles,
    op: str,
    xp: SSAValue,
    y: SSAValue,
    shape: PoolShape,
    *,
    scale: float = 1.0,
    recip: SSAValue | None = None,
) -> NestOp:
    """y = reduce `op` (max | add) over kh x kw windows of the padded NCHW input,
    times `scale`, and times `recip` (a DRAM [OH, OW] map, broadcast over channels
    by a stride-0 partition pattern) when given: channels on partitions, a band of
    output rows per step."""
    n, c, hp, wp = shape.padded
    _, _, oh, ow = shape.out
    kh, kw = shape.kernel
    sh, sw = shape.strides
    rb, hb, tc = plan.rb, plan.hb, plan.tc
    nest = Nest(plan.name, [("n", n), ("c", c // tc), ("b", oh // rb)])
    xt = nest.tile("sbuf", tc, hb * wp)
    out = nest.tile("sbuf", tc, rb * ow)
    out_ap = _tile(out, "sbuf", nest, tc, [(1, rb * ow)])
    x_ap = nest.dram(
        nest.aff(n=c * hp * wp * F32, c=tc * hp * wp * F32, b=rb * sh * wp * F32),
        [(hp * wp, tc), (1, hb * wp)],
    )
    window = _tile(xt, "sbuf", nest, tc, [(sh * wp, rb), (sw, ow), (wp, kh), (1, kw)])
    y_ap = nest.dram(
        nest.aff(n=c * oh * ow * F32, c=tc * oh * ow * F32, b=rb * ow * F32),
        [(oh * ow, tc), (1, rb * ow)],
    )
    body = [
        CopyOp(xp, x_ap, xt, _tile(xt, "sbuf", nest, tc, [(1, hb * wp)])),
        ReduceOp(op, out, out_ap, xt, window, 2, scale),
    ]
    if recip is not None:
        rt = nest.tile("sbuf", tc, rb * ow)
        rt_ap = _tile(rt, "sbuf", nest, tc, [(1, rb * ow)])
        r_ap = nest.dram(nest.aff(b=rb * ow * F32), [(0, tc), (1, rb * ow)])
        body += [
            CopyOp(recip, r_ap, rt, rt_ap),
            TensorTensorOp("mul", out, out_ap, out, out_ap, rt, rt_ap),
        ]
    body.append(CopyOp(out, out_ap, y, y_ap))
    nest.put("b", *body)
    return nest.build()


def _taps(out: int, size: int, stride: int, pad: int, k: int) -> list[tuple[int, int, int]]:
    """Per tap t of a k-wide window along one axis: (t, o0, o1), the outputs o in
    [o0, o1) whose input o * stride - pad + t lies in [0, size), for the taps that
    have some, a tap that has every output first."""
    taps = [(t, *valid_outputs(out, size, stride, t - pad)) for t in range(k)]
    taps = [tap for tap in taps if tap[2] > tap[1]]
    taps.sort(key=lambda tap: (tap[1], tap[2]) != (0, out))  # stable: the full one first
    return taps


def _full_taps(
    shape: PoolShape, pads: tuple[int, int, int, int]
) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]] | None:
    """The row and column taps (`_taps`) of the unpadded plane (`pads` taken off
    `shape.padded`) when some row tap and some column tap cover every output, else
    None."""
    _, _, hp, wp = shape.padded
    _, _, oh, ow = shape.out
    (kh, kw), (sh, sw) = shape.kernel, shape.strides
    pt, pl, pb, pr = pads
    rows = _taps(oh, hp - pt - pb, sh, pt, kh)
    cols = _taps(ow, wp - pl - pr, sw, pl, kw)
    if not rows or not cols or rows[0][1:] != (0, oh) or cols[0][1:] != (0, ow):
        return None
    return rows, cols


def _recip_counts(op: graph.AvgPoolOp) -> np.ndarray:
    """1 / (number of real input pixels in each output window): [OH, OW]."""
    _, _, h, w = shape_of(op.input)
    _, _, oh, ow = shape_of(op.result)
    (kh, kw), (sh, sw) = op.kernel_shape_val, op.strides_val
    pt, pl, _, _ = op.pads_val

    def counts(size: int, out: int, k: int, s: int, p: int) -> np.ndarray:
        start = np.arange(out) * s - p
        return np.minimum(start + k, size) - np.maximum(start, 0)

    per_row, per_col = counts(h, oh, kh, sh, pt), counts(w, ow, kw, sw, pl)
    return (1.0 / np.outer(per_row, per_col)).astype(np.float32)


def _counts_padding(op: graph.MaxPoolOp | graph.AvgPoolOp) -> bool:
    """An average pool whose padding must not count: scaled by a reciprocal map."""
    return (
        isinstance(op, graph.AvgPoolOp) and any(op.pads_val) and not op.count_include_pad_val
    )


def _pool_shape(op: graph.MaxPoolOp | graph.AvgPoolOp) -> PoolShape:
    return PoolShape(
        padded_shape(op), shape_of(op.result), op.kernel_shape_val, op.strides_val,  # type: ignore[arg-type]
    )


def plan_pool_op(
    op: graph.MaxPoolOp | graph.AvgPoolOp,
    chip: ChipConfig,
    options: KernelOptions,
    producer_bands: int,
    part: tuple[int, int] | None = None,
) -> PoolTiles | Refusal:
    """The whole-plane plan of pooling `op` (`plan_pool_plane` with the options'
    choices), its input written in `producer_bands` bands (0: not in bands). With
    `part` (first channel, channels: `ragged_parts`), the plan of those channels
    only, in tiles of their largest divisor and not banded."""
    shape = _pool_shape(op)
    if part is not None:
        n, _, hp, wp = shape.padded
        shape = PoolShape((n, part[1], hp, wp), (n, part[1], *shape.out[2:]), shape.kernel, shape.strides)
    tiles = plan_pool_plane(
        chip,
        origin_of(op),
        shape,
        with_recip=_counts_padding(op),
        separable=options.pool_separable and (isinstance(op, graph.MaxPoolOp) or options.avgpool_inplace),
        bands=options.pool_bands and part is None,
        inplace=options.pool_inplace,
        pads=op.pads_val,  # type: ignore[arg-type]
        pipeline=options.pool_pipeline,
        bands_pipeline=options.pool_bands_pipeline,
        sums=isinstance(op, graph.AvgPoolOp),
        producer_bands=producer_bands,
        pieces=options.pool_pieces,
    )
    if part is None or isinstance(tiles, Refusal):
        return tiles
    return replace(tiles, c0=part[0], channels=part[1])


def ragged_parts(op: graph.MaxPoolOp | graph.AvgPoolOp, chip: ChipConfig, options: KernelOptions) -> list[tuple[int, int]]:
    """With `ragged_tiles` and `pool_ragged`, a pooling of more channels than the
    partitions, which they do not divide: (first channel, channels) of its full
    tiles of 128 and of its partial last tile, each part a nest of its own
    (`plan_pool_op`'s `part`); else []. `base.options_for` leaves `ragged_tiles` on where
    the input lies in such tiles, so the pooling reads (and writes) them where they
    lie instead of through copies that move channels between partitions:
    Inception v2's 3x3 average pools of a 576-channel concatenation read it as
    6 x 96 channels, shifting 452 KB on chip each (kernels/plan.py, `pool_ragged`)."""
    c, parts = shape_of(op.input)[1], chip.sbuf_partitions
    if not (options.ragged_tiles and options.pool_ragged) or c <= parts or c % parts == 0:
        return []
    full = c - c % parts
    return [(0, full), (full, c - full)]


def reads_bands(op: graph.MaxPoolOp | graph.AvgPoolOp, chip: ChipConfig, options: KernelOptions) -> int:
    """How many bands of rows side by side on the partitions pooling `op` would read
    in place if its input's writer left it in that many (`producer_bands`); 0 when
    it reads no bands in place."""
    c, oh = _pool_shape(op).padded[1], shape_of(op.result)[2]
    if not options.pool_halo or not options.pool_bands or 2 * c > chip.sbuf_partitions:
        return 0
    k = largest_divisor(oh, chip.sbuf_partitions // c)
    tiles = plan_pool_op(op, chip, options, k)
    return k if isinstance(tiles, PoolTiles) and tiles.bands == k and tiles.inplace else 0


class PoolKernel(Kernel):
    """Max pooling pads with -inf; average pooling pads with 0 and scales by
    1 / (kh * kw), or, when padding must not count (count_include_pad = 0), by a
    constant map of reciprocal window counts."""

    def plan(
        self, op: Operation, chip: ChipConfig, options: KernelOptions = DEFAULT_OPTIONS
    ) -> TilePlan | Refusal:
        assert isinstance(op, graph.MaxPoolOp | graph.AvgPoolOp)
        if options.pool_halo and (parts := ragged_parts(op, chip, options)):
            plans = [plan_pool_op(op, chip, options, 0, part) for part in parts]
            if not any(isinstance(p, Refusal) for p in plans):
                return planned(op, chip, *plans, options=options)
        if options.pool_halo:
            plane = plan_pool_op(op, chip, options, written_in_bands(op.input) if options.pool_bands else 0)
            if not isinstance(plane, Refusal):
                return planned(op, chip, plane, options=options)
        pool = plan_window_pool(
            chip, origin_of(op), _pool_shape(op), with_recip=_counts_padding(op)
        )
        return planned(op, chip, *plan_pad_nest(op, chip), pool, options=options)

    def emit(self, plan: TilePlan) -> Lowered:
        op = plan.op
        tiles = plan.nest(PoolTiles)
        assert isinstance(op, graph.MaxPoolOp | graph.AvgPoolOp) and tiles is not None
        is_max = isinstance(op, graph.MaxPoolOp)
        kh, kw = op.kernel_shape_val
        y = alloc_result(op)
        fill = float("-inf") if is_max else 0.0
        x, ops = (op.input, []) if tiles.plane else emit_pad(op, plan, fill)
        recip = None
        scale = 1.0
        if _counts_padding(op):
            const = ConstOp(dense_f32(_recip_counts(op)))  # type: ignore[arg-type]
            ops.insert(0, const)
            recip = const.result
        elif not is_max and any(p.inplace for p in plan.nests if isinstance(p, PoolTiles)):
            # sums in place: scaled by a uniform map
            oh, ow = shape_of(op.result)[2:]
            const = ConstOp(dense_f32(np.full((oh, ow), 1.0 / (kh * kw), np.float32)))
            ops.insert(0, const)
            recip = const.result
        elif not is_max:
            scale = 1.0 / (kh * kw)
        if tiles.plane:  # (with `ragged_parts`, one nest a part)
            for part in (n for n in plan.nests if isinstance(n, PoolTiles)):
                ops.append(pool_plane(
                    part, "max" if is_max else "add", x, y.result, _pool_shape(op),
                    op.pads_val, fill, scale=scale, recip=recip,  # type: ignore[arg-type]
                ))
            return Lowered([y, *ops], y.result)
        ops.append(window_pool(
            tiles, "max" if is_max else "add", x, y.result, _pool_shape(op),
            scale=scale, recip=recip,
        ))
        return Lowered([y, *ops], y.result)


POOL = PoolKernel()

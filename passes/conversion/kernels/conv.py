"""Convolution nests: channels on partitions, filter taps contracted on the PE array.

The stationary nest (`StationaryTiles`, KernelOptions.stationary) keeps a whole
input (its padded planes, the borders zeroed in SBUF: no pad nest) or a band of it
resident for every output-channel tile, the weights of one output-channel tile
loaded once, and accumulates up to `psum_banks` row blocks at once, one bank each,
the blocks innermost so the array keeps each (channel tile, tap) weight across
them; ACT evacuates each bank (activation(acc + bias [+ addend on POOL])) and one
DMA stores the group's rows. With `pack_taps`, an input with few channels per group
(the 3-channel stems) puts several taps on the PE rows: an im2col of shifted
windows of the padded input, one DMA per run of kernel rows, so one matmul
contracts taps x channels. With both off, the old nest (`ConvTiles`): the input
padded in DRAM (`pad`), one PSUM bank per output row block over input-channel
tiles (a loop) and taps (one matmul each). Depthwise convs go to depthwise.py.

`plan_*` picks the tiles and checks they fit (a `NestPlan` subclass, or a
`Refusal`), building nothing; `conv2d` and `pad` build the nest from that plan:

    tiles = plan_conv2d(chip, "conv1", shape)        # StationaryTiles(rb=8, nb=7, ...)
    nest = conv2d(tiles, x, w, b, y, shape, activation="relu")
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from tidal.dialects import graph
from tidal.dialects.accel import AccessAttr
from tidal.dialects.affine_expr import Aff
from tidal.dialects.loop import (
    ActOp,
    AllocOp,
    ConstOp,
    CopyOp,
    MatmulOp,
    MemsetOp,
    NestOp,
    TensorTensorOp,
)
from tidal.passes.conversion.kernels.base import (
    Kernel,
    alloc_result,
    origin_of,
    planned,
    shape_of,
)
from tidal.passes.conversion.kernels.nest_builder import (
    F32,
    Nest,
    aligned,
    largest_divisor,
    psum_free_max,
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
from xdsl.dialects.builtin import MemRefType, f32
from xdsl.ir import Operation, SSAValue


@dataclass(frozen=True, kw_only=True)
class PadTiles(NestPlan):
    """A copy of the input into the padded buffer and the borders filled from one
    [tc partitions, zlen] tile of the fill value."""

    tc: int
    zlen: int


def _borders(
    shape: tuple[int, int, int, int], pads: tuple[int, int, int, int]
) -> list[tuple[int, int, list[tuple[int, int]]]]:
    """(elements, start element, free dims) of each non-empty border of one plane."""
    _, _, h, w = shape
    pt, pl, pb, pr = pads
    wp = w + pl + pr
    borders = [
        (pt * wp, 0, [(1, pt * wp)]),  # top rows
        (pb * wp, (pt + h) * wp, [(1, pb * wp)]),  # bottom rows
        (h * pl, pt * wp, [(wp, h), (1, pl)]),  # left columns
        (h * pr, pt * wp + pl + w, [(wp, h), (1, pr)]),  # right columns
    ]
    return [b for b in borders if b[0] > 0]


def plan_pad(
    chip: ChipConfig, origin: str, shape: tuple[int, int, int, int], pads: tuple[int, int, int, int]
) -> PadTiles | Refusal:
    tc = largest_divisor(shape[1], chip.sbuf_partitions)
    zlen = max([count for count, _, _ in _borders(shape, pads)], default=0)
    need = sbuf_bytes(zlen)
    if refusal := over_sbuf(chip, origin, need):
        return refusal
    return PadTiles(origin, tc, need, tc=tc, zlen=zlen)


def pad(
    plan: PadTiles,
    x: SSAValue,
    xp: SSAValue,
    shape: tuple[int, int, int, int],
    pads: tuple[int, int, int, int],
    fill: float,
) -> NestOp:
    """xp = x padded with `fill` (pads: top, left, bottom, right) on NCHW."""
    n, c, h, w = shape
    pt, pl, pb, pr = pads
    hp, wp = h + pt + pb, w + pl + pr
    tc, zlen = plan.tc, plan.zlen
    nest = Nest(plan.name, [("n", n), ("c", c // tc)])
    borders = _borders(shape, pads)
    x_base = nest.aff(n=c * h * w * F32, c=tc * h * w * F32)
    xp_base = nest.aff(n=c * hp * wp * F32, c=tc * hp * wp * F32)
    ops = [
        CopyOp(
            x, nest.dram(x_base, [(h * w, tc), (w, h), (1, w)]),
            xp, nest.dram(xp_base + (pt * wp + pl) * F32, [(hp * wp, tc), (wp, h), (1, w)]),
        )
    ]
    if borders:
        z = nest.tile("sbuf", tc, zlen)
        nest.put(None, MemsetOp(z, _tile(z, "sbuf", nest, tc, [(1, zlen)]), fill))
        for count, start, dims in borders:
            ops.append(
                CopyOp(
                    z, _tile(z, "sbuf", nest, tc, [(1, count)]),
                    xp, nest.dram(xp_base + start * F32, [(hp * wp, tc), *dims]),
                )
            )
    nest.put("c", *ops)
    return nest.build()


@dataclass(frozen=True)
class ConvShape:
    """The sizes of a conv2d on an already padded NCHW input: `padded` and `out` are
    NCHW, `weight` is [Cout, Cin / group, KH, KW]."""

    padded: tuple[int, int, int, int]
    weight: tuple[int, int, int, int]
    out: tuple[int, int, int, int]
    strides: tuple[int, int]
    dilations: tuple[int, int]
    group: int
    pads: tuple[int, int, int, int] = (0, 0, 0, 0)
    """The pads (top, left, bottom, right) `padded` includes: a stationary plan may
    load the unpadded input into an SBUF tile with a halo of zeros instead."""
    interleave: int = 0
    """graph.conv2d's `interleave`: each group's input channels in blocks of this
    many, interleaved across the groups (0: each group's together). The stationary
    nest takes input-channel tiles that divide a block and loads each from its block."""

    @property
    def taps(self) -> int:
        return self.weight[2] * self.weight[3]


@dataclass(frozen=True, kw_only=True)
class ConvTiles(NestPlan):
    """Blocks of rb output rows (hb input rows) per PSUM bank, tci input and tco
    output channels per step (the nest without `stationary` and `pack_taps`)."""

    rb: int
    hb: int
    tci: int
    tco: int


@dataclass(frozen=True, kw_only=True)
class StationaryTiles(NestPlan):
    """The stationary nest: `nb` row blocks of `rb` output rows accumulate at once,
    one PSUM bank each; an input band of `rows` output rows (`hband` input rows
    per input-channel tile) is loaded once for every output-channel tile, and the
    weights of one output-channel tile (all `tci`-channel tiles and taps) once per
    band. `halo`: the band is the whole input, loaded unpadded into an SBUF tile
    whose borders hold zeros (no pad nest). `pack` > 0: `pack` filter taps share the
    PE rows (`tci` = Cin per group, im2col of shifted windows from the padded
    input, `rows` output rows per band); 0: taps one matmul each. `addend`: the
    epilogue adds a tensor of the result's shape (one more [tco, nb*rb*ow] tile)."""

    rb: int
    nb: int
    rows: int
    hband: int
    tci: int
    tco: int
    halo: bool
    pack: int
    addend: bool
    all_weights: bool = False
    all_outputs: bool = False
    rem: int = 0
    """Not packed, `ragged_tiles`: the input channels of a last, partial channel
    tile after Cin // tci full ones of `tci` = 128 (0: every tile is full)."""
    chunked: bool = False
    """Packed, `im2col_chunks`: each im2col load is split by the matmuls' row groups
    (`_conv2d_stationary`)."""
    clip: bool = False
    """Packed, padded, `im2col_clip`, the band loop one iteration: the im2col loads
    read the unpadded input, each tap's window clipped to the outputs whose input
    lies inside the image, memsets zero the rest, and the taps lie on the PE rows
    column by column (`_im2col_clipped`); no pad nest."""
    bands: int = 1
    """Packed, `conv_bands`: this many bands of oh / bands output rows side by side,
    band b's im2col rows on partitions b x pack x tci onwards and its output channels
    on partitions b x tco onwards, against a block-diagonal stationary operand of
    the weights repeated per band (one group, one output tile, all taps in one
    pack): the array's rows and columns and ACT's lanes do `bands` bands at once."""
    inplace: bool = False
    """Not packed, with a halo, `conv_inplace` (one copy, full input-channel tiles,
    every row block in PSUM at once, a tap whose window stays inside the image for
    every output): no padded planes. The input tile is an exact copy of the
    unpadded input, which loop-keep-on-chip replaces by the producer's tile when it
    keeps the input, and each tap runs over the rectangle of each row block whose
    windows stay inside the image, that tap first (`_conv2d_stationary`)."""
    copies: int = 1
    """Not packed, `row_taps` (one input-channel tile of at most half the PE rows,
    kw > 1): the input band lies `copies` times on the partitions, copy k on
    partitions k x tci onwards, k dilated columns to the left, and the weights
    there k taps on, so one matmul contracts taps (r, s) .. (r, s + copies - 1) of
    a kernel row: kh * ceil(kw / copies) matmuls per block instead of kh * kw
    (`_conv2d_stationary`)."""

    rowpack: int = 1
    """Not packed, `row_pack` (one group, one output tile of at most half the PE
    columns, stride 1, full input-channel tiles, no addend; a halo or bands of a
    multiple of this many rows; with or without row-taps `copies`): this many
    adjacent output rows per matmul, row k r + (k - 1 - j) of column group j's
    partitions j x tco onwards, against input row k r + dy: the weight tile holds
    each channel tile's kernel rows (each copy's) with k - 1 zero rows before and
    after, and the stationary operand of (dy, kx) is the window of group j at
    padded kernel row dy + j; `rb` and `nb` count rows of the packed output
    (`rows` / k a band)."""

    mbands: bool = False
    """With `bands`, the bands side by side on the PE columns only: a band's im2col
    rows (pack x tci, any number of packs) on the same partitions as every other
    band's, in columns of their own, each band's matmuls against a stationary
    operand whose columns hold the weights in that band's column group and zeros in
    the others (a window of one pack's weights with kb - 1 zero column groups on
    either side). No PE time saved (each band streams its own columns), but the
    output lies in bands on the partitions: ACT's lanes evacuate kb bands at once
    and a pooling reads the bands in place (`reader_bands`)."""

    halo_parts: int = 1
    """With a halo, not in place, `halo_chunks`: each channel tile's input (each
    row-taps copy's) is loaded in this many pieces of rows, each ending where the
    windows of a row block end (`halo_bounds`), so a block's matmuls wait for the
    pieces of its rows only."""

    reuse: int = 0
    """Packed, `clip`, `im2col_reuse`: the im2col holds the taps of kernel
    columns 0 .. reuse - 1 only (`pack` = reuse x kh taps, column-major), each
    row `reuse_shift` outputs wider than the output's; the taps of columns reuse ..
    kw - 1 contract the partitions of columns 0 .. kw - reuse - 1, read
    `reuse_shift` columns on (their windows lie reuse x dw input columns to the
    right). Two matmuls per block, as without; 0: every tap loaded."""

    def reuse_shift(self, shape: ConvShape) -> int:
        """Output columns between a loaded tap's window and the reused one's."""
        return self.reuse * shape.dilations[1] // shape.strides[1] if self.reuse else 0

    @property
    def unpadded(self) -> bool:
        """The nest reads the unpadded input (a halo in SBUF, or a clipped im2col):
        no pad nest before it."""
        return self.halo or self.clip


def _plan_legacy(chip: ChipConfig, origin: str, shape: ConvShape, addend: bool) -> ConvTiles | Refusal:
    wp = shape.padded[3]
    cout, cg_in, kh, kw = shape.weight
    _, _, oh, ow = shape.out
    free_max = psum_free_max(chip)
    rb = largest_divisor(oh, free_max // ow)
    hb = (rb - 1) * shape.strides[0] + (kh - 1) * shape.dilations[0] + 1
    tci = largest_divisor(cg_in, chip.pe_rows)
    tco = largest_divisor(cout // shape.group, chip.pe_cols)
    need = sbuf_bytes(kh * kw * tco, hb * wp, rb * ow, 1, *([rb * ow] if addend else []))
    if refusal := over_sbuf(chip, origin, need):
        return refusal
    return ConvTiles(origin, max(tci, tco), need, rb * ow * F32, rb=rb, hb=hb, tci=tci, tco=tco)


def packable(chip: ChipConfig, shape: ConvShape) -> bool:
    """Whether several taps fit the PE rows: at least two taps of Cin per group."""
    return shape.taps > 1 and 2 * shape.weight[1] <= chip.pe_rows


def row_copies(chip: ChipConfig, shape: ConvShape) -> int:
    """How many adjacent taps of a kernel row one matmul can contract from shifted
    copies of the input: as many input-channel groups (one tile each) as the PE rows
    hold, up to the kernel's width (1: none)."""
    return max(1, min(shape.weight[3], chip.pe_rows // shape.weight[1]))


def _divisors_desc(n: int) -> list[int]:
    return [d for d in range(n, 0, -1) if n % d == 0]


def _estimate(chip: ChipConfig, shape: ConvShape, t: StationaryTiles) -> float:
    """Rough cycles of a stationary plan by the datasheet's costs: its matmuls (each
    (step, group) pays one stationary load) after its input loads (im2col bytes and
    the pad nest's round trip when packed; the input once when not), which the
    matmuls wait for. Only to choose between packing taps and not."""
    n, _, hp, wp = shape.padded
    cout, cg_in, _, _ = shape.weight
    _, _, oh, ow = shape.out
    g, taps = shape.group, shape.taps
    pt, pl, pb, pr = shape.pads
    h, w = hp - pt - pb, wp - pl - pr
    groups = oh // (t.bands * t.rowpack * t.nb * t.rb)
    kh, kw = shape.weight[2:]
    per_row = -(-kw // t.copies)  # matmuls per kernel row, `copies` taps each
    # (with `rowpack`, kh + rowpack - 1 input rows per packed output row)
    steps = -(-taps // t.pack) if t.pack else -(-cg_in // t.tci) * (kh + t.rowpack - 1) * per_row
    reload = chip.pe_weight_load_cycles + chip.pe_fill_drain_cycles
    per_step = t.nb * max(t.rb * ow, chip.pe_min_cycles) + reload
    pe = n * g * (cout // g // t.tco) * groups * steps * per_step * (t.bands if t.mbands else 1)
    if t.pack:
        stored = t.pack if t.reuse else taps  # (`reuse`: one pack's taps, wider rows)
        loads = stored * cg_in * oh * (ow + t.reuse_shift(shape)) + (
            2 * cg_in * hp * wp if any(shape.pads) and not t.clip else 0
        )
        most = max(1, n * shape.padded[1] * hp * wp // (t.tci * t.rows * ow))
        runs = sum(
            len(_kernel_row_runs(t0, min(t0 + t.pack, taps), shape.weight[3], most))
            for t0 in range(0, stored, t.pack)
        )
        descriptors = runs * (oh // t.rows)
    else:
        loads = t.copies * cg_in * (h * w if t.halo else hp * wp)
        descriptors = t.copies * -(-cg_in // t.tci) * (oh // t.rows)
    dma = n * g * (loads * F32 / chip.dram_bytes_per_cycle + descriptors * chip.dma_fixed_latency_cycles)
    return pe + dma


def clippable(shape: ConvShape, tiles: StationaryTiles, options: KernelOptions) -> bool:
    """Whether a packed plan loads its im2col clipped from the unpadded input
    (`StationaryTiles.clip`): the conv pads, and each band's im2col is one tile
    (the band loop runs once), so which outputs a tap's window clips does not
    depend on a loop index."""
    return options.im2col_clip and any(shape.pads) and tiles.rows * tiles.bands == shape.out[2]


def _plan_stationary(
    chip: ChipConfig, origin: str, shape: ConvShape, options: KernelOptions, addend: bool, reader_bands: int = 0
) -> StationaryTiles | None:
    """The stationary and/or tap-packed plan (with both options, packing only when
    `_estimate` says it is faster), or None when no band fits."""
    tiles = _plan_stationary_tiles(chip, origin, shape, options, addend, reader_bands)
    if tiles is not None and tiles.pack and options.im2col_chunks:
        tiles = replace(tiles, chunked=True)
    if tiles is not None and tiles.pack and clippable(shape, tiles, options):
        tiles = replace(tiles, clip=True)
    if tiles is None:
        return None
    unpacked = tiles
    if tiles.pack and options.stationary:
        unpacked = _plan_stationary_tiles(chip, origin, shape, replace(options, pack_taps=False), addend)
        if unpacked is not None and _estimate(chip, shape, unpacked) <= _estimate(chip, shape, tiles):
            tiles = unpacked
    # Rows packed on the PE columns (from the plan without packed taps) where that
    # is faster than the plan chosen.
    if options.row_pack and unpacked is not None and not unpacked.pack:
        packed = _plan_rowpack(chip, shape, unpacked, options)
        if packed is not None and _estimate(chip, shape, packed) < _estimate(chip, shape, tiles):
            tiles = packed
    # (after the choice above, which `reuse` would tilt towards packing: measured,
    # SqueezeNet's 16-channel 3x3 expands then packed and ran 4 % slower)
    if options.im2col_reuse and tiles.pack and tiles.clip:
        tiles = _with_reuse(chip, shape, tiles)
    if options.halo_chunks and tiles.halo and not tiles.inplace and not shape.interleave:
        tiles = replace(tiles, halo_parts=min(HALO_PARTS, shape.out[2] // (tiles.rowpack * tiles.rb)))
    return tiles


def reuse_columns(chip: ChipConfig, shape: ConvShape, t: StationaryTiles) -> int:
    """The kernel columns C an `im2col_reuse` plan of `t` loads: the fewest with
    2 C >= kw whose dilated width C x dw the column stride divides and whose taps'
    rows fit the PE array. 0 when `t` does not qualify (packed in at least two
    packs, clipped, one group, one band of rows or bands on the PE columns only)
    or its im2col would not shrink."""
    kh, kw = shape.weight[2:]
    sw, dw = shape.strides[1], shape.dilations[1]
    ow = shape.out[3]
    if not (t.pack and t.clip) or -(-shape.taps // t.pack) < 2 or shape.group != 1:
        return 0
    if t.bands > 1 and not t.mbands:
        return 0
    for c in range(-(-kw // 2), kw):
        if (c * dw) % sw or c * kh * t.tci > chip.pe_rows:
            continue
        if c * kh * (ow + c * dw // sw) < shape.taps * ow:
            return c
    return 0


def _with_reuse(chip: ChipConfig, shape: ConvShape, t: StationaryTiles) -> StationaryTiles:
    """`t` with `reuse` (`reuse_columns`) where it qualifies and fits, else `t`."""
    c = reuse_columns(chip, shape, t)
    if not c:
        return t
    kh = shape.weight[2]
    ow = shape.out[3]
    sets = t.bands if t.mbands else 1  # im2cols side by side in the tile's columns
    old = sets * -(-shape.taps // t.pack) * t.rows * ow
    packed = replace(t, pack=c * kh, reuse=c)
    new = sets * t.rows * (ow + packed.reuse_shift(shape))
    need = t.sbuf_bytes - aligned(old * F32) + aligned(new * F32)
    if need > chip.sbuf_partition_bytes:
        return t
    parts = max(c * kh * t.tci, t.bands * t.tco)
    return replace(packed, sbuf_bytes=need, partitions=parts)


def row_pack(chip: ChipConfig, shape: ConvShape) -> int:
    """How many adjacent output rows `row_pack` computes per matmul: the most rows
    (at least 2, dividing the output height) whose output channels the PE columns
    and PSUM partitions hold; 1 when the conv does not qualify by its shape (one
    group, stride and dilation 1, a kernel more than one row high)."""
    cout, _, kh, _ = shape.weight
    if shape.group != 1 or shape.interleave or shape.strides != (1, 1) or shape.dilations != (1, 1) or kh < 2:
        return 1
    most = min(chip.pe_cols, chip.psum_partitions) // cout
    oh = shape.out[2]
    return next((k for k in range(most, 1, -1) if oh % k == 0), 1)


def _rowpacked_shape(shape: ConvShape, k: int) -> ConvShape:
    """The conv `row_pack` runs with k rows packed, as a conv over the packed output
    rows: kernel rows dy = 0 .. KH + k - 2 (input row k r + dy of packed row r),
    stride k over rows, each packed output as wide as the real one. Only its taps'
    windows are meaningful (`tap_rects`), not its weights. `shape` itself for k = 1."""
    if k == 1:
        return shape
    cout, cin, kh, kw = shape.weight
    n, _, oh, ow = shape.out
    return replace(shape, weight=(cout, cin, kh + k - 1, kw), out=(n, cout, oh // k, ow), strides=(k, 1))


def _plan_rowpack(
    chip: ChipConfig, shape: ConvShape, t: StationaryTiles, options: KernelOptions
) -> StationaryTiles | None:
    """`t` (a stationary plan, not packed: a halo or bands of rows) with `rowpack`
    output rows per matmul (`StationaryTiles.rowpack`), or None when the plan or the
    conv does not qualify or its tiles do not fit SBUF."""
    k = row_pack(chip, shape)
    cout, cg_in, kh, kw = shape.weight
    if k < 2 or t.pack or t.rem or t.addend or t.tco != cout or t.rows % k:
        return None
    oh, ow = shape.out[2:]
    # (in bands of rows, `rows` output rows a band: rows / k packed rows)
    rb = largest_divisor(t.rows // k, psum_free_max(chip) // ow)
    nb = largest_divisor(t.rows // k // rb, chip.psum_banks)
    nci = cg_in // t.tci
    _, _, hp, wp = shape.padded
    pt, pl, pb, pr = shape.pads
    # In place (`conv_inplace`), as `StationaryTiles.inplace`: every packed row block
    # in PSUM at once and a (dy, kx) whose window lies inside the image for every
    # packed output, which starts the sums.
    from tidal.passes.conversion.kernels.depthwise import first_full_tap  # (imports this module)

    inplace = (
        options.conv_inplace and t.halo and t.copies == 1 and any(shape.pads) and nb * rb == oh // k
        and first_full_tap(_rowpacked_shape(shape, k)) is not None
    )
    band = nci * (hp - pt - pb) * (wp - pl - pr) if inplace else nci * (hp if t.halo else t.hband) * wp
    weights = nci * (kh + 2 * (k - 1)) * kw * cout
    out = t.rows // k * ow if t.all_outputs else nb * rb * ow
    need = sbuf_bytes(band, weights, out, 1)
    if need > chip.sbuf_partition_bytes:
        return None
    return replace(
        t, partitions=max(t.copies * t.tci, k * cout), sbuf_bytes=need, psum_bytes=nb * rb * ow * F32,
        rb=rb, nb=nb, inplace=inplace, rowpack=k,
    )


MAX_ADDEND_TILES = 8
"""The most output tiles whose addends `addend_tiles` loads by copies of their own."""


IM2COL_PARTS = 4
"""The most pieces `im2col_chunks` splits a tap-packed conv's im2col loads into.
Each piece of each run of taps is a descriptor with its fixed latency: by row
groups alone, SqueezeNet's stem (37 groups of 3 rows) ran 22 % slower and
ZFNet-512's 15 %; 4 pieces of ResNet-50's 7x7 stem (7.4 MB) let the array start
after a quarter of it."""


HALO_PARTS = 8
"""The most pieces `halo_chunks` splits a halo plane's load into (each one more
descriptor per channel tile and copy)."""


def halo_bounds(shape: ConvShape, t: StationaryTiles) -> list[int]:
    """The unpadded input rows at which the pieces of a halo load start, and its
    height last: piece i - 1 ends with the last input row that the windows of the
    row blocks before block floor(i x blocks / parts) read (blocks of `rowpack` x
    `rb` output rows)."""
    _, _, hp, _ = shape.padded
    pt, _, pb, _ = shape.pads
    h, kh = hp - pt - pb, shape.weight[2]
    sh, dh = shape.strides[0], shape.dilations[0]
    step = t.rowpack * t.rb
    blocks = shape.out[2] // step
    ends = {
        min(h, max(0, ((blocks * i // t.halo_parts) * step - 1) * sh + (kh - 1) * dh - pt + 1))
        for i in range(1, t.halo_parts)
    }
    return sorted({0, h} | ends)


MIN_CONV_BANDS = 3
"""The fewest bands a packed conv runs side by side. Each band's rows leave the nest
by a copy of their own, which, where the next layer keeps the tensor on chip
unbanded, is an SBUF-to-SBUF DMA instead of no copy at all: measured on the default
chip, 4 bands (ShuffleNet's 24-channel stem) gain 1 %, 2 bands (VGG-19's 64-channel
stem) lose 0.6 % (bench/bench_dataflow.py)."""


def _plan_bands(
    chip: ChipConfig,
    origin: str,
    shape: ConvShape,
    options: KernelOptions,
    addend: bool,
    pack: int,
    tci: int,
    tco: int,
    rb: int,
    reader_bands: int = 0,
) -> StationaryTiles | None:
    """The packed plan with `bands` > 1 (`StationaryTiles.bands`): as many bands as
    the PE rows hold one band's im2col rows (pack x tci) and the columns and PSUM
    partitions its output channels, among the divisors of the row blocks; each
    band's blocks then share up to `psum_banks` banks. None when fewer than
    `MIN_CONV_BANDS` bands fit (unless the conv's one reader, a pooling, reads
    `reader_bands` bands in place: then that many), or no band group fits SBUF."""
    oh, ow = shape.out[2:]
    nblk = oh // rb
    npack = -(-shape.taps // pack)
    most = min(chip.pe_rows // (pack * tci) if npack == 1 else 1, chip.pe_cols // tco, chip.psum_partitions // tco)
    counts = [d for d in range(most, 1, -1) if nblk % d == 0 and (d >= MIN_CONV_BANDS or d == reader_bands)]
    # Bands on the PE columns only (`mbands`): for a reader that takes them in place.
    mbands = not counts and reader_bands > 1 and oh % reader_bands == 0 and (
        reader_bands * tco <= min(chip.pe_cols, chip.psum_partitions)
    )
    if mbands:
        counts = [reader_bands]
    if not counts:
        return None
    bands = counts[0]
    if not mbands:
        nb = largest_divisor(nblk // bands, chip.psum_banks) if options.stationary else 1
    else:
        # Blocks of rows within a band; with `im2col_chunks`, such that a band's
        # row groups split into IM2COL_PARTS pieces where they can (every band's
        # first rows start the matmuls: the first piece then a quarter of the
        # im2col, as without bands); then the widest blocks, then the most in PSUM
        # at once.
        rows_b = oh // bands

        def score(r_nb: tuple[int, int]) -> tuple[int, int, int]:
            r, b = r_nb
            return (largest_divisor(rows_b // r // b, IM2COL_PARTS) if options.im2col_chunks else 1, r, b)

        rb, nb = max(
            ((r, b) for r in _divisors_desc(rows_b) if r * ow <= psum_free_max(chip)
             for b in _divisors_desc(rows_b // r) if b <= (chip.psum_banks if options.stationary else 1)),
            key=score,
        )
        nblk = oh // rb
    blk = nb * rb * ow
    for outs in (True, False):
        for k in _divisors_desc(nblk // bands // nb):
            rows = k * nb * rb
            out = rows * ow if outs else blk
            im2col, weights = (bands * npack * rows * ow, npack * (2 * bands - 1) * tco) if mbands else (rows * ow, bands * tco)
            need = sbuf_bytes(im2col, weights, out, 1, *([out] if addend else []))
            if need <= chip.sbuf_partition_bytes:
                return StationaryTiles(
                    origin, max((1 if mbands else bands) * pack * tci, bands * tco), need, blk * F32,
                    rb=rb, nb=nb, rows=rows, hband=0, tci=tci, tco=tco, halo=False, pack=pack,
                    addend=addend, all_outputs=outs, bands=bands, mbands=mbands,
                )
    return None


def _plan_stationary_tiles(
    chip: ChipConfig, origin: str, shape: ConvShape, options: KernelOptions, addend: bool, reader_bands: int = 0
) -> StationaryTiles | None:
    """The stationary (and/or tap-packed) plan, or None when even one band of one
    row block does not fit (the caller falls back to the old nest)."""
    _, _, hp, wp = shape.padded
    cout, cg_in, kh, _ = shape.weight
    _, _, oh, ow = shape.out
    from tidal.passes.conversion.kernels.depthwise import first_full_tap  # (imports this module)

    sh, dh, dw = shape.strides[0], shape.dilations[0], shape.dilations[1]
    taps = shape.taps
    rb = largest_divisor(oh, psum_free_max(chip) // ow)
    nblk = oh // rb
    nb = largest_divisor(nblk, chip.psum_banks) if options.stationary else 1
    tco = largest_divisor(cout // shape.group, chip.pe_cols)
    blk = nb * rb * ow  # output elements per group, per partition
    nco = cout // shape.group // tco
    pack = 0
    if shape.interleave:  # a block a tile (no packing)
        if shape.interleave > chip.pe_rows:
            return None
        tci = shape.interleave
    elif options.pack_taps and packable(chip, shape):
        npack = -(-taps // (chip.pe_rows // cg_in))
        pack = -(-taps // npack)
        tci = cg_in
    elif options.ragged_tiles and cg_in > chip.pe_rows:
        tci = chip.pe_rows  # a partial last tile when pe_rows does not divide cg_in
    else:
        tci = largest_divisor(cg_in, chip.pe_rows)
    nci = -(-cg_in // tci)
    fits = chip.sbuf_partition_bytes
    # (weights per partition, all output tiles' weights, all output tiles' rows):
    # the most resident first; without `stationary`, one output tile at a time.
    one_w = nci * taps * tco if not pack else -(-taps // pack) * tco
    choices = [(one_w, False, False)]
    if options.stationary:
        every_w = shape.group * nco * one_w  # every group's, each in its own region
        choices = [(every_w, True, True), (every_w, True, False), (one_w, False, True), *choices]

    def need(band: int, rows: int, weights: int, outs: bool) -> int:
        out = (nco if outs else 1) * (rows * ow if outs else blk)
        return sbuf_bytes(band, weights, out, shape.group * nco, *([out] if addend else []))

    # Taps of a kernel row together: the input (and the weights) again on the rows
    # above, shifted.
    copies = row_copies(chip, shape) if options.row_taps and not pack and not shape.interleave else 1

    def tiles(rows: int, hband: int, halo: bool, need: int, everyw: bool, outs: bool) -> StationaryTiles:
        # (a halo copy shifted back must start inside the tile)
        fit = copies if not halo or shape.pads[0] * wp + shape.pads[1] >= (copies - 1) * dw else 1
        parts = max(pack * tci, tco) if pack else max(fit * tci, tco)
        rem = 0 if pack else cg_in % tci
        inplace = (
            options.conv_inplace and halo and not pack and fit == 1 and not rem and not shape.interleave
            and rows == nb * rb and any(shape.pads) and first_full_tap(shape) is not None
        )
        return StationaryTiles(
            origin, parts, need, nb * rb * ow * F32,
            rb=rb, nb=nb, rows=rows, hband=hband, tci=tci, tco=tco, halo=halo, pack=pack, addend=addend,
            all_weights=everyw, all_outputs=outs, rem=rem, copies=fit, inplace=inplace,
        )

    if pack:
        npack = -(-taps // pack)
        if options.conv_bands and (npack == 1 or reader_bands > 1) and shape.group == 1 and nco == 1:
            banded = _plan_bands(chip, origin, shape, options, addend, pack, tci, tco, rb, reader_bands)
            if banded is not None:
                return banded
        for weights, everyw, outs in choices:
            if everyw:  # the packed weights are small: one tile's per output tile
                continue
            for k in _divisors_desc(nblk // nb):
                rows = k * nb * rb
                if (b := need(npack * rows * ow, rows, weights, outs)) <= fits:
                    return tiles(rows, 0, False, b, False, outs)
        return None
    slots = nci * (shape.group if shape.interleave else 1)  # input tiles held (conv2d)
    if options.stationary:
        for weights, everyw, outs in choices:
            if (b := need(slots * hp * wp, oh, weights, outs)) <= fits:
                return tiles(oh, hp, True, b, everyw, outs)
    for weights, everyw, outs in choices:
        for k in _divisors_desc(nblk // nb):
            rows = k * nb * rb
            hband = (rows - 1) * sh + (kh - 1) * dh + 1
            if (b := need(slots * hband * wp, rows, weights, outs)) <= fits:
                return tiles(rows, hband, False, b, everyw, outs)
    return None


def plan_conv2d(
    chip: ChipConfig,
    origin: str,
    shape: ConvShape,
    options: KernelOptions = DEFAULT_OPTIONS,
    *,
    addend: bool = False,
    reader_bands: int = 0,
) -> ConvTiles | StationaryTiles | Refusal:
    """The conv nest's tiles: the stationary (or tap-packed) nest when its option is
    on and a band of one group of row blocks fits SBUF, else the old nest (which
    refuses when its tiles do not fit). `reader_bands`: the conv's one reader is a
    pooling that reads that many bands of rows in place (`pool.reads_bands`)."""
    ow = shape.out[3]
    free_max = psum_free_max(chip)
    if ow > free_max:
        return Refusal(
            f"'{origin}': output rows of {ow} pixels exceed one PSUM bank "
            f"({free_max} fp32) on chip '{chip.name}'"
        )
    if shape.interleave:  # only the stationary nest reads interleaved groups
        tiles = _plan_stationary_tiles(chip, origin, shape, replace(options, stationary=True), addend)
        if tiles is not None:
            return tiles
        return Refusal(f"'{origin}': no band of the interleaved-group conv fits SBUF on chip '{chip.name}'")
    if options.stationary or (options.pack_taps and packable(chip, shape)):
        tiles = _plan_stationary(chip, origin, shape, options, addend, reader_bands)
        if tiles is not None:
            return tiles
    return _plan_legacy(chip, origin, shape, addend)


def _epilogue(
    acc: SSAValue,
    acc_ap: AccessAttr,
    out: SSAValue,
    out_ap: AccessAttr,
    col: tuple[SSAValue, AccessAttr] | None,
    activation: str,
    add: tuple[SSAValue, AccessAttr] | None,
    read_addend: bool = False,
) -> list[Operation]:
    """out = activation(acc + bias column + addend tile): one ACT instruction, after
    a POOL add (POOL reads PSUM) when there is an addend: into the addend tile, or,
    with `read_addend`, into the output tile, so the addend tile is only read (and
    loop-keep-on-chip can let the add read a kept addend in place of the copy)."""
    ops: list[Operation] = []
    src, src_ap = acc, acc_ap
    if add is not None:
        dst, dst_ap = (out, out_ap) if read_addend else add
        ops.append(TensorTensorOp("add", dst, dst_ap, acc, acc_ap, add[0], add[1]))
        src, src_ap = dst, dst_ap
    ops.append(ActOp(activation, out, out_ap, src, src_ap, bias_col=col))
    return ops


def conv2d(
    plan: ConvTiles | StationaryTiles,
    xp: SSAValue,
    wgt: SSAValue,
    bias: SSAValue | None,
    y: SSAValue,
    shape: ConvShape,
    *,
    activation: str = "identity",
    addend: SSAValue | None = None,
    read_addend: bool = False,
    addend_tiles: bool = False,
) -> NestOp:
    """y = activation(conv(xp, w) + bias + addend) on an NCHW input: `xp` is the
    padded input, or the unpadded one when the plan has a halo. `read_addend`
    (KernelOptions.read_addend): the epilogue adds the addend into the output tile,
    never writing the addend's tile. `addend_tiles` (KernelOptions.addend_tiles):
    a stationary nest of few output tiles loads each one's addend by a copy of its
    own before the loops."""
    if isinstance(plan, StationaryTiles):
        return _conv2d_stationary(plan, xp, wgt, bias, y, shape, activation, addend, read_addend, addend_tiles)
    n, c, hp, wp = shape.padded
    cout, cg_in, kh, kw = shape.weight
    _, _, oh, ow = shape.out
    sh, sw = shape.strides
    dh, dw = shape.dilations
    group = shape.group
    cg_out = cout // group
    taps = kh * kw
    rb, hb, tci, tco = plan.rb, plan.hb, plan.tci, plan.tco

    nest = Nest(
        plan.name,
        [("n", n), ("g", group), ("co", cg_out // tco), ("b", oh // rb), ("ci", cg_in // tci)],
    )
    wt = nest.tile("sbuf", tci, taps * tco)
    xt = nest.tile("sbuf", tci, hb * wp)
    acc = nest.tile("psum", tco, rb * ow)
    out = nest.tile("sbuf", tco, rb * ow)
    acc_ap = _tile(acc, "psum", nest, tco, [(1, rb * ow)])
    out_ap = _tile(out, "sbuf", nest, tco, [(1, rb * ow)])

    w_ap = nest.dram(
        nest.aff(g=cg_out * cg_in * taps * F32, co=tco * cg_in * taps * F32, ci=tci * taps * F32),
        [(taps, tci), (1, taps), (cg_in * taps, tco)],
    )
    x_ap = nest.dram(
        nest.aff(n=c * hp * wp * F32, g=cg_in * hp * wp * F32, ci=tci * hp * wp * F32, b=rb * sh * wp * F32),
        [(hp * wp, tci), (1, hb * wp)],
    )
    body = [
        CopyOp(wgt, w_ap, wt, _tile(wt, "sbuf", nest, tci, [(1, taps * tco)])),
        CopyOp(xp, x_ap, xt, _tile(xt, "sbuf", nest, tci, [(1, hb * wp)])),
    ]
    for t in range(taps):
        r, s = divmod(t, kw)
        body.append(
            MatmulOp(
                acc, acc_ap,
                wt, _tile(wt, "sbuf", nest, tci, [(1, tco)], offset=t * tco * F32),
                xt, _tile(xt, "sbuf", nest, tci, [(sh * wp, rb), (sw, ow)], offset=(r * dh * wp + s * dw) * F32),
                nest.zero_at("ci") if t == 0 else None,
            )
        )
    nest.put("ci", *body)

    col = None
    if bias is not None:
        bt = nest.tile("sbuf", tco, 1)
        col = (bt, _tile(bt, "sbuf", nest, tco, [(1, 1)]))
        nest.put("co", CopyOp(bias, nest.dram(nest.aff(g=cg_out * F32, co=tco * F32), [(1, tco), (1, 1)]), *col))
    y_ap = nest.dram(
        nest.aff(n=cout * oh * ow * F32, g=cg_out * oh * ow * F32, co=tco * oh * ow * F32, b=rb * ow * F32),
        [(oh * ow, tco), (1, rb * ow)],
    )
    add = None
    epilogue: list[Operation] = []
    if addend is not None:
        at = nest.tile("sbuf", tco, rb * ow)
        add = (at, _tile(at, "sbuf", nest, tco, [(1, rb * ow)]))
        epilogue.append(CopyOp(addend, y_ap, *add))
    epilogue += _epilogue(acc, acc_ap, out, out_ap, col, activation, add, read_addend)
    epilogue.append(CopyOp(out, out_ap, y, y_ap))
    nest.put_after("b", *epilogue)
    return nest.build()


def _free(dims: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """`dims` without the dims of count 1 (at least one kept)."""
    kept = [d for d in dims if d[1] > 1]
    return kept or [(1, 1)]


def _halo_borders(
    pads: tuple[int, int, int, int], h: int, w: int, wp: int
) -> list[tuple[int, list[tuple[int, int]]]]:
    """(start element, free dims) of the border of one padded plane in at most
    three strided runs: the top rows with the first left columns, each right
    column run with the next row's left one, the last right columns with the bottom
    rows."""
    pt, pl, pb, pr = pads
    runs = [
        (0, [(1, pt * wp + pl)]),
        (pt * wp + pl + w, [(wp, h - 1), (1, pr + pl)]),
        ((pt + h - 1) * wp + pl + w, [(1, pr + pb * wp)]),
    ]
    return [(start, dims) for start, dims in runs if all(c > 0 for _, c in dims)]


def _shifted(
    runs: list[tuple[int, list[tuple[int, int]]]], shift: int
) -> list[tuple[int, list[tuple[int, int]]]]:
    """Border runs (`_halo_borders`) `shift` elements earlier: the borders of a copy
    of the plane that lies `shift` elements back. A run that would start before the
    plane loses its first elements (only a first run of one dim can)."""
    out = []
    for start, dims in runs:
        if start >= shift:
            out.append((start - shift, dims))
            continue
        (stride, count), = dims  # the first run: one contiguous dim from 0
        assert stride == 1 and start == 0, (start, dims)
        if count > shift:
            out.append((0, [(1, count - shift)]))
    return out


def _inplace_matmuls(
    nest: Nest,
    shape: ConvShape,
    plan: StationaryTiles,
    accs: list[SSAValue],
    wt: SSAValue,
    xt: SSAValue,
    regions: tuple[int, int],
) -> list[Operation]:
    """The matmuls of an in-place plan (`StationaryTiles.inplace`), per tap and row
    block: the tap's rectangle of the block's outputs whose windows lie inside the
    unpadded input, into that rectangle of the block's PSUM bank. A tap whose
    rectangle is every output goes first and starts each bank's accumulation (at
    the first input-channel tile); the blocks of one tap follow each other with its
    stationary weights. With `rowpack` (k), the taps are (input row dy, column kx)
    of the packed rows, as a conv of stride k over rows
    (`_rowpacked_shape`): an input row outside the image holds zeros for every
    group alike."""
    from tidal.passes.conversion.kernels.depthwise import tap_rects  # (imports this module)

    kp = plan.rowpack
    pt, pl, pb, pr = shape.pads
    _, _, hp, wp = shape.padded
    h, w = hp - pt - pb, wp - pl - pr
    ow = shape.out[3]
    kh, kw = shape.weight[2:]
    wrows = kh + 2 * (kp - 1)
    tci, tco, rb = plan.tci, plan.tco, plan.rb
    w_co, w_g = regions
    virtual = _rowpacked_shape(shape, kp)
    sh, sw = virtual.strides
    ops: list[Operation] = []
    for i, (t, (ny, nx), (oy, ox), (iy, ix)) in enumerate(tap_rects(virtual)):
        st = nest.onchip(
            "sbuf", nest.aff(t * tco * F32, ci=wrows * kw * tco * F32, co=w_co, g=w_g),
            [(1, tci), *_free([(kw * tco, kp), (1, tco)])],
        )
        for j, acc in enumerate(accs):
            y0, y1 = max(oy, j * rb), min(oy + ny, (j + 1) * rb)
            if y1 <= y0:
                continue
            y = iy + (y0 - oy) * sh  # the input row of the rectangle's first output
            mv = nest.onchip("sbuf", nest.aff((y * w + ix) * F32, ci=h * w * F32), [(1, tci), (sh * w, y1 - y0), (sw, nx)])
            dst = nest.onchip("psum", ((y0 - j * rb) * ow + ox) * F32, [(1, kp * tco), (ow, y1 - y0), (1, nx)])
            ops.append(MatmulOp(acc, dst, wt, st, xt, mv, nest.zero_at("ci") if i == 0 else None))
    return ops


def _kernel_row_runs(t0: int, t1: int, kw: int, most: int) -> list[tuple[int, int, int]]:
    """Taps [t0, t1) (row-major over the kh x kw window) as runs one DMA each loads:
    (first tap, kernel rows, taps per row), a partial row at either end and the
    whole rows between, at most `most` taps a run (a DMA may not touch more
    elements than DRAM holds, counting repeats: the machine's rule)."""
    runs: list[tuple[int, int, int]] = []
    t = t0
    while t < t1:
        s = t % kw
        if s == 0 and t1 - t >= kw and most >= kw:
            nr = min((t1 - t) // kw, most // kw)
            runs.append((t, nr, kw))
            t += nr * kw
        else:
            ns = min(kw - s, t1 - t, most)
            runs.append((t, 1, ns))
            t += ns
    return runs


def _im2col_padded(
    nest: Nest, plan: StationaryTiles, shape: ConvShape, xp: SSAValue, xt: SSAValue, parts: int
) -> None:
    """The im2col loads of a packed plan from the padded input `xp`: for each piece
    of rows (the first rows of every pack first), pack and band, one DMA per run of
    taps within a kernel row (`_kernel_row_runs`)."""
    n, c, hp, wp = shape.padded
    _, cg_in, _, kw = shape.weight
    oh, ow = shape.out[2:]
    sh, sw = shape.strides
    dh, dw = shape.dilations
    taps, tci, rows, pack, kb = shape.taps, plan.tci, plan.rows, plan.pack, plan.bands
    k0 = pack * tci
    rows_b = oh // kb
    chunk = rows // parts
    most = max(1, n * c * hp * wp // (tci * rows * ow))  # the padded input's elements
    # (band b's partitions and columns: its own partitions, or with `mbands` columns)
    npack = -(-taps // pack)
    band_at = [(0, b * npack * rows) if plan.mbands else (b * k0, 0) for b in range(kb)]
    for part in range(parts):
        for p in range(-(-taps // pack)):
            t0 = p * pack
            for b in range(kb):
                for first, nr, ns in _kernel_row_runs(t0, min(t0 + pack, taps), kw, most):
                    r, s = divmod(first, kw)
                    taps_dims = [(dh * wp, nr), (dw, ns)] if nr > 1 else [(dw, ns)]
                    src = nest.dram(
                        nest.aff(
                            (r * dh * wp + s * dw + (b * rows_b + part * chunk) * sh * wp) * F32,
                            n=c * hp * wp * F32, g=cg_in * hp * wp * F32, band=rows * sh * wp * F32,
                        ),
                        _free([*taps_dims, (hp * wp, tci), (sh * wp, chunk), (sw, ow)]),
                    )
                    dst = nest.onchip(
                        "sbuf", (band_at[b][1] + p * rows + part * chunk) * ow * F32, [(1, nr * ns * tci), (1, chunk * ow)],
                        pstart=band_at[b][0] + (first - t0) * tci,
                    )
                    nest.put("band", CopyOp(xp, src, xt, dst))


def _tap(q: int, shape: ConvShape, by_column: bool) -> tuple[int, int]:
    """The filter tap (r, s) at position q of the taps' order on the PE rows:
    row-major, or column-major (`StationaryTiles.clip`)."""
    kh, kw = shape.weight[2:]
    if by_column:
        s, r = divmod(q, kh)
        return r, s
    return divmod(q, kw)


def _valid(count: int, size: int, pad: int, stride: int, offset: int) -> tuple[int, int]:
    """The outputs [lo, hi) of `count` along one dim whose input, output x stride +
    offset - pad, lies inside [0, size)."""
    lo = min(count, max(0, -(-(pad - offset) // stride)))
    hi = min(count, (size - 1 + pad - offset) // stride + 1)
    return lo, max(lo, hi)


def _im2col_clipped(
    nest: Nest, plan: StationaryTiles, shape: ConvShape, x: SSAValue, xt: SSAValue, parts: int
) -> None:
    """The im2col loads of a `clip` plan, from the unpadded input `x`: for each
    piece of rows (the first rows of every pack first), pack and band, the taps in
    runs of the column-major order whose windows the image clips alike, one DMA
    each over the rectangle of the piece's outputs inside the image; then, per band
    and pack, memsets of the clipped-off rectangles of each run of taps clipped
    alike (they touch no byte a load writes, so nothing orders them)."""
    n, c, hp, wp = shape.padded
    _, cg_in, kh, kw = shape.weight
    oh, ow = shape.out[2:]
    sh, sw = shape.strides
    dh, dw = shape.dilations
    pt, pl, pb, pr = shape.pads
    h, w = hp - pt - pb, wp - pl - pr
    taps, tci, rows, pack, kb = shape.taps, plan.tci, plan.rows, plan.pack, plan.bands
    k0 = pack * tci
    # (with `reuse`, one pack of taps loaded, each row xw columns wide)
    npack = 1 if plan.reuse else -(-taps // pack)
    xw = ow + plan.reuse_shift(shape)
    chunk = rows // parts
    # (band b's partitions and columns: its own partitions, or with `mbands` columns)
    band_at = [(0, b * npack * rows) if plan.mbands else (b * k0, 0) for b in range(kb)]

    def rect(q: int, y0: int, y1: int) -> tuple[int, int, int, int]:
        """Tap q's outputs inside the image among rows [y0, y1): rows, columns."""
        r, s = _tap(q, shape, True)
        ry0, ry1 = _valid(oh, h, pt, sh, r * dh)
        cx0, cx1 = _valid(xw, w, pl, sw, s * dw)
        lo, hi = max(y0, ry0), min(y1, ry1)
        return (lo, hi, cx0, cx1) if lo < hi and cx0 < cx1 else (y0, y0, 0, 0)

    def alike(q0: int, q1: int, key) -> list[tuple[int, int]]:  # runs of equal key(q)
        runs: list[tuple[int, int]] = []
        for q in range(q0, q1):
            if runs and key(q) == key(runs[-1][0]):
                runs[-1] = (runs[-1][0], q + 1)
            else:
                runs.append((q, q + 1))
        return runs

    def free(y: int, ny: int, xa: int, nx: int) -> tuple[int, list[tuple[int, int]]]:
        """(element offset, dims) of rows [y, y + ny) x columns [xa, xa + nx) of a
        band's rows in the im2col tile."""
        return y * xw + xa, _free([(1, ny * nx)] if nx == xw else [(xw, ny), (1, nx)])

    for part in range(parts):
        for p in range(npack):
            t0, t1 = p * pack, min((p + 1) * pack, taps)
            for b in range(kb):
                y0 = b * rows + part * chunk
                for qa, qb in alike(t0, t1, lambda q: rect(q, y0, y0 + chunk)):
                    ya, yb, xa, xb = rect(qa, y0, y0 + chunk)
                    if ya == yb:
                        continue
                    most = max(1, n * c * h * w // (tci * (yb - ya) * (xb - xa)))
                    for q, no, ni in _kernel_row_runs(qa, qb, kh, most):
                        r, s = _tap(q, shape, True)
                        tdims = [(dw, no), (dh * w, ni)] if no > 1 else [(dh * w, ni)]
                        start = (ya * sh + r * dh - pt) * w + xa * sw + s * dw - pl
                        src = nest.dram(
                            nest.aff(start * F32, n=c * h * w * F32, g=cg_in * h * w * F32),
                            _free([*tdims, (h * w, tci), (sh * w, yb - ya), (sw, xb - xa)]),
                        )
                        off, dims = free(band_at[b][1] + p * rows + ya - b * rows, yb - ya, xa, xb - xa)
                        dst = nest.onchip(
                            "sbuf", off * F32, [(1, no * ni * tci), *dims], pstart=band_at[b][0] + (q - t0) * tci
                        )
                        nest.put("band", CopyOp(x, src, xt, dst))

    def clipped(q: int, y0: int, y1: int) -> list[tuple[int, int, int, int]]:
        """Tap q's outputs outside the image among rows [y0, y1), as rectangles
        (first row, rows, first column, columns)."""
        ya, yb, xa, xb = rect(q, y0, y1)
        if ya == yb:
            return [(y0, y1 - y0, 0, xw)]
        strips = [(y0, ya - y0, 0, xw), (yb, y1 - yb, 0, xw), (ya, yb - ya, 0, xa), (ya, yb - ya, xb, xw - xb)]
        return [st for st in strips if st[1] > 0 and st[3] > 0]

    for p in range(npack):
        t0, t1 = p * pack, min((p + 1) * pack, taps)
        for b in range(kb):
            y0 = b * rows
            for qa, qb in alike(t0, t1, lambda q: clipped(q, y0, y0 + rows)):
                for y, ny, xa, nx in clipped(qa, y0, y0 + rows):
                    off, dims = free(band_at[b][1] + p * rows + y - y0, ny, xa, nx)
                    ap = nest.onchip("sbuf", off * F32, [(1, (qb - qa) * tci), *dims], pstart=band_at[b][0] + (qa - t0) * tci)
                    nest.put("band", MemsetOp(xt, ap, 0.0))


def _conv2d_stationary(
    plan: StationaryTiles,
    x: SSAValue,
    wgt: SSAValue,
    bias: SSAValue | None,
    y: SSAValue,
    shape: ConvShape,
    activation: str,
    addend: SSAValue | None,
    read_addend: bool = False,
    addend_tiles: bool = False,
) -> NestOp:
    """The nest of a `StationaryTiles` plan:

        n, g: [halo: zero the borders once; load the whole input]
          band: [load the input band (packed: one im2col DMA per tap)]
            co: load the weights of the output-channel tile (and its bias)
              grp: [load the addend rows]
                ci: tap t: block j = 0..nb-1: matmul acc_j (+)= w[ci, t] x window(t, j)
                block j: act(acc_j + bias [+ addend]) -> out; one DMA of the rows
    """
    n, c, hp, wp = shape.padded
    cout, cg_in, kh, kw = shape.weight
    _, _, oh, ow = shape.out
    sh, sw = shape.strides
    dh, dw = shape.dilations
    group, taps = shape.group, shape.taps
    cg_out = cout // group
    rb, nb, rows, tci, tco, rem = plan.rb, plan.nb, plan.rows, plan.tci, plan.tco, plan.rem
    nci = -(-cg_in // tci)  # channel tiles, the last one partial when rem > 0
    full = nci - (rem > 0)  # the full ones, which the ci loop runs
    blk = rb * ow
    kb = plan.bands  # bands side by side on partitions (packed), 1 otherwise
    kp = plan.rowpack  # adjacent output rows side by side on partitions, 1 otherwise
    assert kp == 1 or (kb == 1 and not plan.pack and addend is None and not rem)
    rows_b = oh // kb  # output rows per band
    nest = Nest(
        plan.name,
        [
            ("n", n), ("g", group), ("band", rows_b // rows), ("co", cg_out // tco),
            ("grp", rows // (kp * nb * rb)), ("ci", full),
        ],
    )
    po = kb * kp * tco  # output partitions
    accs = [nest.tile("psum", po, blk) for _ in range(nb)]
    acc_ap = nest.onchip("psum", 0, [(1, po), (1, blk)])

    tail: list[Operation] = []  # matmuls of a partial input-channel tile
    if plan.pack:
        pack = plan.pack
        npack = -(-taps // pack)  # matmuls per block (each pack's taps)
        k0 = pack * tci  # one band's im2col rows
        # With `reuse`, one pack's taps loaded (kernel columns 0 .. reuse - 1), each
        # row xw columns wide; pack 1 (columns reuse on) contracts the partitions of
        # columns 0 .. kw - reuse - 1 read `shift` columns on.
        stored = 1 if plan.reuse else npack
        shift = plan.reuse_shift(shape)
        xw = ow + shift
        # With `mbands`, every band's im2col on the same partitions, band b's in
        # columns of its own, and each pack's weights in the middle of 2 kb - 1
        # column groups, zeros on either side (`StationaryTiles.mbands`).
        mb = plan.mbands
        xt = nest.tile("sbuf", k0 if mb else kb * k0, (kb if mb else 1) * stored * rows * xw)
        wcols = 2 * kb - 1 if mb else kb  # column groups of one pack's weights
        wt = nest.tile("sbuf", k0 if mb else kb * k0, npack * wcols * tco)
        # With `im2col_chunks`, each load is split into up to IM2COL_PARTS pieces of
        # whole row groups, so the first group's matmuls wait for their piece only
        # and the array streams while the others load.
        groups = rows // (nb * rb)
        parts = largest_divisor(groups, IM2COL_PARTS) if plan.chunked else 1
        if plan.clip:
            _im2col_clipped(nest, plan, shape, x, xt, parts)
        else:
            _im2col_padded(nest, plan, shape, x, xt, parts)
        if mb:  # zeros around each pack's weights, once
            nest.put(None, MemsetOp(wt, nest.onchip("sbuf", 0, [(1, k0), (1, npack * wcols * tco)]), 0.0))
        elif kb > 1:  # the block-diagonal weights: zeros, then each band's copy, once
            nest.put(None, MemsetOp(wt, nest.onchip("sbuf", 0, [(1, kb * k0), (1, kb * tco)]), 0.0))
        for p in range(npack):
            t0 = p * pack
            tp = min(pack, taps - t0)
            # (first tap position, its weights' DRAM offset, tap dims, taps): one run
            # of consecutive taps (row-major), or with `clip` runs of the column-major
            # order, each within a column or of whole columns. With `reuse`, pack 1's
            # taps lie on the partitions of the loaded taps p x reuse columns left.
            w_runs = [(t0, t0, [(1, tp)], tp)]
            if plan.clip:
                at, cols = (0, p * plan.reuse) if plan.reuse else (t0, 0)
                w_runs = [
                    (q - at + t0, r * kw + s + cols, [(1, no), (kw, ni)], no * ni)
                    for q, no, ni in _kernel_row_runs(at, at + tp, shape.weight[2], taps)
                    for r, s in [_tap(q, shape, True)]
                ]
            for q, off, tdims, nt in w_runs:
                src = nest.dram(
                    nest.aff(off * F32, g=cg_out * cg_in * taps * F32, co=tco * cg_in * taps * F32),
                    _free([*tdims, (taps, tci), (cg_in * taps, tco)]),
                )
                for b in range(1 if mb else kb):
                    at, pstart = ((p * wcols + kb - 1), 0) if mb else (p * kb + b, b * k0)
                    dst = nest.onchip("sbuf", at * tco * F32, [(1, nt * tci), (1, tco)], pstart=pstart + (q - t0) * tci)
                    nest.put(None if kb > 1 else "co", CopyOp(wgt, src, wt, dst))
        body: list[Operation] = []
        for p in range(npack):
            k = min(pack, taps - p * pack) * tci
            kk = kb * k0 if kb > 1 and not mb else k
            # (band b's matmuls with `mbands`: its im2col columns, its weight window)
            q = 0 if plan.reuse else p  # the loaded pack it reads
            for b in range(kb if mb else 1):
                w_at, x_at = ((p * wcols + kb - 1 - b) * tco, (b * stored + q) * rows * xw) if mb else (p * kb * tco, q * rows * xw)
                x_at += p * shift  # (0 without `reuse`)
                st = nest.onchip("sbuf", w_at * F32, [(1, kk), (1, po)])
                rows_ap = [(1, blk)] if xw == ow else [(xw, rb), (1, ow)]
                for j in range(nb):
                    mv = nest.onchip("sbuf", nest.aff((x_at + j * rb * xw) * F32, grp=nb * rb * xw * F32), [(1, kk), *rows_ap])
                    body.append(MatmulOp(accs[j], acc_ap, wt, st, xt, mv, -1 if p == 0 and b == 0 else None))
        matmuls_at = "grp"
    else:
        hband = plan.hband
        # With `copies`, partitions k x tci onwards hold the band again, each element
        # k x dw earlier (the window of tap (r, s + k) where tap (r, s)'s lies below).
        shifts = tuple(k * dw for k in range(plan.copies))
        # Interleaved groups (tci = the block): the input tile holds every group's
        # blocks in channel order, tile k of group g in slot k * group + g, loaded by
        # one copy of every channel (the whole input, before the group loop) or one
        # per group and band, so a kept input is read in place (loop-keep-on-chip).
        block = shape.interleave
        assert not block or (tci == block and len(shifts) == 1 and not plan.inplace and not rem)
        slots, slot_g = (nci * group, 1) if block else (nci, 0)
        pt, pl, pb, pr = shape.pads
        h, w = hp - pt - pb, wp - pl - pr
        if plan.inplace:  # the unpadded input as it lies, every channel tile by one copy
            xt = nest.tile("sbuf", tci, nci * h * w)
            per_tile = [(tci * h * w, nci)] if nci > 1 else []
            src = nest.dram(nest.aff(n=c * h * w * F32, g=cg_in * h * w * F32), [(h * w, tci), *per_tile, (1, h * w)])
            nest.put("band", CopyOp(x, src, xt, nest.onchip("sbuf", 0, [(1, tci), (1, nci * h * w)])))
        elif plan.halo:
            xt = nest.tile("sbuf", len(shifts) * tci, slots * hband * wp)
            for shift in shifts:
                for start, dims in _shifted(_halo_borders(shape.pads, h, w, wp), shift):
                    ap = nest.onchip("sbuf", start * F32, [(1, tci), *_free([(hband * wp, slots), *dims])], pstart=shift // dw * tci)
                    nest.put(None, MemsetOp(xt, ap, 0.0))

            def plane_rows(ny: int, stride: int) -> list[tuple[int, int]]:
                """ny rows of the input, `stride` elements apart (one run when unpadded)."""
                return [(1, ny * w)] if pl == pr == 0 else [(stride, ny), (1, w)]

            if block:
                src = nest.dram(nest.aff(n=c * h * w * F32), [(h * w, tci), *_free([(tci * h * w, slots), *plane_rows(h, w)])])
                dst = nest.onchip(
                    "sbuf", (pt * wp + pl) * F32, [(1, tci), *_free([(hband * wp, slots), *plane_rows(h, wp)])]
                )
                nest.put("n", CopyOp(x, src, xt, dst))
            # One DMA per channel tile (per piece of rows with `halo_parts`): its
            # matmuls start when it lands.
            bounds = halo_bounds(shape, plan)
            for k in range(0 if block else nci):
                kc = rem if k == full else tci
                for y0, y1 in zip(bounds, bounds[1:]):
                    src = nest.dram(
                        nest.aff((k * tci * h + y0) * w * F32, n=c * h * w * F32, g=cg_in * h * w * F32),
                        _free([(h * w, kc), *plane_rows(y1 - y0, w)]),
                    )
                    dims = _free(plane_rows(y1 - y0, wp))
                    for shift in shifts:
                        start = k * hband * wp + (pt + y0) * wp + pl - shift  # (the plan made it >= 0)
                        dst = nest.onchip("sbuf", start * F32, [(1, kc), *dims], pstart=shift // dw * tci)
                        nest.put("band", CopyOp(x, src, xt, dst))
        else:
            xt = nest.tile("sbuf", len(shifts) * tci, slots * hband * wp)
            if block:
                src = nest.dram(
                    nest.aff(n=c * hp * wp * F32, g=block * hp * wp * F32, band=rows * sh * wp * F32),
                    [(hp * wp, tci), *_free([(group * block * hp * wp, nci), (1, hband * wp)])],
                )
                dst = nest.onchip(
                    "sbuf", nest.aff(g=hband * wp * F32), [(1, tci), *_free([(group * hband * wp, nci), (1, hband * wp)])]
                )
                nest.put("band", CopyOp(x, src, xt, dst))
            for k in range(0 if block else nci):
                kc = rem if k == full else tci
                for shift in shifts:
                    src = nest.dram(
                        nest.aff(
                            (k * tci * hp * wp + shift) * F32,
                            n=c * hp * wp * F32, g=cg_in * hp * wp * F32, band=rows * sh * wp * F32,
                        ),
                        [(hp * wp, kc), (1, hband * wp - shift)],
                    )
                    dst = nest.onchip("sbuf", k * hband * wp * F32, [(1, kc), (1, hband * wp - shift)], pstart=shift // dw * tci)
                    nest.put("band", CopyOp(x, src, xt, dst))
        # With `rowpack`, each channel tile's kernel rows lie between kp - 1 zero
        # rows before and after them (wrows rows of kw taps).
        wrows = kh + 2 * (kp - 1)
        wsize = nci * wrows * kw * tco  # one output-channel tile's weights per partition
        w_dims = _free([(taps, tci), (tci * taps, full), (1, taps), (cg_in * taps, tco)])
        w_base = nest.aff(g=cg_out * cg_in * taps * F32, co=tco * cg_in * taps * F32)
        if plan.all_weights:
            nco = cg_out // tco
            wt = nest.tile("sbuf", len(shifts) * tci, group * nco * wsize)
            # Each output tile's (and group's) weights into their own region, loaded
            # in the co loop: the DMA queue runs ahead (no region is reused), and a
            # matmul waits for its own tile's load only (a wait count affine in co).
            w_co, w_g = wsize * F32, nco * wsize * F32
        else:
            wt = nest.tile("sbuf", len(shifts) * tci, wsize)
            w_co = w_g = 0
        if kp > 1:
            pad_rows = (kp - 1) * kw * tco
            for start in (0, (kp - 1 + kh) * kw * tco):
                zeros = nest.onchip(
                    "sbuf", start * F32, [(1, len(shifts) * tci), *_free([(wrows * kw * tco, nci), (1, pad_rows)])]
                )
                nest.put(None, MemsetOp(wt, zeros, 0.0))
            w_dst = nest.onchip(
                "sbuf", nest.aff(pad_rows * F32, co=w_co, g=w_g),
                [(1, tci), *_free([(wrows * kw * tco, full), (1, taps * tco)])],
            )
        else:
            w_dst = nest.onchip("sbuf", nest.aff(co=w_co, g=w_g), [(1, tci), (1, full * taps * tco)])
        nest.put("co", CopyOp(wgt, nest.dram(w_base, w_dims), wt, w_dst))
        for k in range(1, plan.copies):  # copy k: tap t + k's weights at tap t's columns
            src = nest.dram(w_base + k * F32, [(taps, tci), (1, taps - k), (cg_in * taps, tco)])
            dst = nest.onchip(
                "sbuf", nest.aff((kp - 1) * kw * tco * F32, co=w_co, g=w_g), [(1, tci), (1, (taps - k) * tco)],
                pstart=k * tci,
            )
            nest.put("co", CopyOp(wgt, src, wt, dst))
        if rem:  # the partial tile's weights, after the full tiles' in each region
            src = nest.dram(w_base + full * tci * taps * F32, [(taps, rem), (1, taps), (cg_in * taps, tco)])
            dst = nest.onchip("sbuf", nest.aff(full * taps * tco * F32, co=w_co, g=w_g), [(1, rem), (1, taps * tco)])
            nest.put("co", CopyOp(wgt, src, wt, dst))
        body = _inplace_matmuls(nest, shape, plan, accs, wt, xt, (w_co, w_g)) if plan.inplace else []
        # (kernel row r, first column s, rows contracted): taps one by one, or with
        # `copies` taps (r, s) .. (r, s + copies - 1) together on copies x tci rows,
        # the last ones of a kernel row on fewer (in place: the rectangles above
        # instead). With `rowpack`, r is input row dy of each packed row, against
        # group j's kernel row dy - (kp - 1 - j), at padded kernel row dy + j.
        steps = [] if plan.inplace else [
            (r, s, tci * min(len(shifts), kw - s)) for r in range(kh + kp - 1) for s in range(0, kw, len(shifts))
        ]
        for r, s, k_rows in steps:
            st = nest.onchip(
                "sbuf", nest.aff((r * kw + s) * tco * F32, ci=wrows * kw * tco * F32, co=w_co, g=w_g),
                [(1, k_rows), *_free([(kw * tco, kp), (1, tco)])],
            )
            for j in range(nb):
                mv = nest.onchip(
                    "sbuf",
                    nest.aff(
                        (j * rb * sh * kp * wp + r * dh * wp + s * dw) * F32,
                        ci=(group if block else 1) * hband * wp * F32, g=slot_g * hband * wp * F32,
                        grp=nb * rb * sh * kp * wp * F32,
                    ),
                    [(1, k_rows), (sh * kp * wp, rb), (sw, ow)],
                )
                first = r == 0 and s == 0
                body.append(MatmulOp(accs[j], acc_ap, wt, st, xt, mv, nest.zero_at("ci") if first else None))
        matmuls_at = "ci"
        if rem:  # the partial tile's matmuls after the ci loop, accumulating onto it
            for t in range(taps):
                r, s = divmod(t, kw)
                st = nest.onchip("sbuf", nest.aff((full * taps + t) * tco * F32, co=w_co, g=w_g), [(1, rem), (1, tco)])
                for j in range(nb):
                    mv = nest.onchip(
                        "sbuf",
                        nest.aff(
                            (full * hband * wp + j * rb * sh * wp + r * dh * wp + s * dw) * F32,
                            grp=nb * rb * sh * wp * F32,
                        ),
                        [(1, rem), (sh * wp, rb), (sw, ow)],
                    )
                    tail.append(MatmulOp(accs[j], acc_ap, wt, st, xt, mv, None))

    nco = cg_out // tco
    col = None
    if bias is not None:  # every output tile's bias column, once (each group's in its own columns)
        bt = nest.tile("sbuf", po, group * nco)
        col = (bt, nest.onchip("sbuf", nest.aff(co=F32, g=nco * F32), [(1, po), (1, 1)]))
        b_src = nest.dram(nest.aff(g=cg_out * F32), _free([(1, tco), (tco, nco)]))
        for b in range(kb * kp):  # with bands (packed rows), one copy per band's (row's) partitions
            b_dst = nest.onchip("sbuf", nest.aff(g=nco * F32), [(1, tco), (1, nco)], pstart=b * tco)
            nest.put("g", CopyOp(bias, b_src, bt, b_dst))
    # the output tile: this group's rows, or every output tile's rows of the band
    region = nest.aff(co=rows * ow * F32, grp=nb * blk * F32) if plan.all_outputs else nest.aff()
    size = nco * rows // kp * ow if plan.all_outputs else nb * blk
    out = nest.tile("sbuf", po, size)
    y_ap = nest.dram(
        nest.aff(
            n=cout * oh * ow * F32, g=cg_out * oh * ow * F32, co=tco * oh * ow * F32,
            band=rows * ow * F32, grp=nb * blk * F32,
        ),
        [(oh * ow, tco), (1, nb * blk)],
    )

    def y_band(b: int) -> AccessAttr:  # band b's rows of y
        return AccessAttr.get(y_ap.space, 0, y_ap.offset + b * rows_b * ow * F32, y_ap.dims)

    def whole(b: int) -> AccessAttr:  # band b's partitions of the output tile
        return nest.onchip("sbuf", region, [(1, tco), (1, nb * blk)], pstart=b * tco)

    at = None
    add_region = region
    # Every output tile's addend by a copy of its own with constant addresses, before
    # the loops (`addend_tiles`), when the nest is one image, band and row group and
    # has few output tiles: loop-keep-on-chip can then split a copy whose channels
    # cross a kept layout's partition groups (a copy in the co loop walks them all
    # alike) and keep the addend in the layout its other readers take.
    tiles_out = group * nco
    unrolled = (
        addend is not None and addend_tiles and kb == 1 and 1 < tiles_out <= MAX_ADDEND_TILES
        and n == 1 and rows_b == rows and rows == nb * rb
    )
    if unrolled:
        assert addend is not None
        at = nest.tile("sbuf", po, tiles_out * nb * blk)
        for k in range(tiles_out):
            g_k, co_k = divmod(k, nco)
            src = nest.dram((g_k * cg_out + co_k * tco) * oh * ow * F32, [(oh * ow, tco), (1, nb * blk)])
            dst = nest.onchip("sbuf", k * nb * blk * F32, [(1, tco), (1, nb * blk)])
            nest.put(None, CopyOp(addend, src, at, dst))
        add_region = nest.aff(co=nb * blk * F32, g=nco * nb * blk * F32)
    elif addend is not None:
        at = nest.tile("sbuf", po, size)
        nest.put("grp", *(CopyOp(addend, y_band(b), at, whole(b)) for b in range(kb)))
    nest.put(matmuls_at, *body)
    epilogue: list[Operation] = list(tail)
    for j in range(nb):
        part = nest.onchip("sbuf", region + j * blk * F32, [(1, po), (1, blk)])
        add = None if at is None else (at, nest.onchip("sbuf", add_region + j * blk * F32, [(1, po), (1, blk)]))
        epilogue += _epilogue(accs[j], acc_ap, out, part, col, activation, add, read_addend)
        # With `rowpack`, each block's rows leave as soon as it is evacuated (a
        # reader of its rows starts on them): group g's partitions hold rows
        # kp r + kp - 1 - g.
        for g in range(kp if kp > 1 else 0):
            y_rows = nest.dram(
                nest.aff(
                    (kp * j * rb + kp - 1 - g) * ow * F32, n=cout * oh * ow * F32, band=rows * ow * F32,
                    grp=nb * rb * kp * ow * F32,
                ),
                _free([(oh * ow, tco), (kp * ow, rb), (1, ow)]),
            )
            src = nest.onchip("sbuf", region + j * blk * F32, [(1, tco), (1, blk)], pstart=g * tco)
            epilogue.append(CopyOp(out, src, y, y_rows))
    if kp == 1:
        epilogue += [CopyOp(out, whole(b), y, y_band(b)) for b in range(kb)]
    nest.put_after("grp", *epilogue)
    return nest.build()


def _writes(value: SSAValue) -> list[CopyOp]:
    """The copies that write the buffer `value` (its writer nests' stores)."""
    return [u.operation for u in value.uses if isinstance(u.operation, CopyOp) and u.operation.dst is value]


def written_in_bands(value: SSAValue) -> int:
    """How many bands of rows side by side on the partitions the nest that wrote
    `value` (an NCHW buffer of one image) holds it in, as conv-bands and pool-bands
    leave it: k copies from one SBUF tile, copy b its partitions b x C onwards (C
    the channels, every free element from 0) to rows b x H / k onwards of every
    channel, the whole band at once or, in the nest's loops, one run of its rows
    after another (conv-bands' row groups). 0 when it was written otherwise (or not
    yet)."""
    from tidal.dialects.loop import enclosing_nest

    if not isinstance(value.type, MemRefType) or len(shape := shape_of(value)) != 4 or shape[0] != 1:
        return 0
    _, c, h, w = shape
    writes = _writes(value)
    k = len(writes)
    if k < 2 or h % k or any(op.src is not writes[0].src for op in writes):
        return 0
    size = h // k * w
    starts = set()
    for op in writes:
        src, dst = op.src_ap, op.dst_ap
        nest = enclosing_nest(op)
        trips = nest.domain_val if nest is not None else ()
        run = dst.dims[1][1] if len(dst.dims) == 2 else 0
        # the rows the loops walk: each step one run on from the last
        walked = [(step, trips[i]) for i, step in enumerate(dst.offset.steps) if step and i < len(trips) and trips[i] > 1]
        # (the tile's free offset 0, or stepping with the rows: all of a band's rows)
        if src.space.name.lower() != "sbuf" or src.offset.base or src.dims != ((1, c), (1, run)):
            return 0
        if any(a and a != b for a, b in zip(src.offset.steps, dst.offset.steps)):
            return 0
        if dst.dims != ((h * w, c), (1, run)) or dst.offset.base % (size * F32) or run <= 0:
            return 0
        if len(walked) > 1 or (walked and walked[0][0] != run * F32) or run * (walked[0][1] if walked else 1) != size:
            return 0
        band = dst.offset.base // (size * F32)
        if src.pstart != Aff(band * c):
            return 0
        starts.add(band)
    return k if starts == set(range(k)) else 0


@dataclass(frozen=True, kw_only=True)
class BandInputTiles(NestPlan):
    """A 1x1 conv (`conv_band_input`) whose input lies in `bands` bands of rows
    side by side on the partitions, as its writer left it: the input tile is that
    layout (each band's rows loaded onto its own partitions, copies that
    loop-keep-on-chip matches to the writer's, so the conv reads the writer's tile
    in place), the stationary operand holds the weights once per band, each on its
    band's rows (block-diagonal, zeros elsewhere), and one matmul per block of `rb`
    rows of a band contracts every band's partitions against that band's block:
    the other bands meet zeros. The output is the usual layout, every row of each
    output tile of `tco` channels (one tile when Cout fits the PE columns)."""

    bands: int
    rb: int
    tco: int
    """Output channels a tile (all of them when they fit the PE columns)."""


def plan_band_input(
    chip: ChipConfig, origin: str, shape: ConvShape, bands: int, addend: bool = False
) -> BandInputTiles | None:
    """The banded-input plan of a 1x1, stride-1, unpadded dense conv of one image
    whose input channels fit the PE rows once per band (its output channels in
    tiles of the PE columns: ResNet-50's 64 -> 256 shortcut after its banded stem
    pool), or None."""
    n, cin, h, w = shape.padded
    cout = shape.weight[0]
    tco = largest_divisor(cout, min(chip.pe_cols, chip.psum_partitions))
    if (
        shape.weight[2:] != (1, 1) or shape.strides != (1, 1) or any(shape.pads) or shape.group != 1
        or n != 1 or shape.interleave or bands * cin > chip.pe_rows
        or h % bands or w > psum_free_max(chip)
    ):
        return None
    rows = h // bands
    rb = largest_divisor(rows, psum_free_max(chip) // w)
    nco = cout // tco
    need = sbuf_bytes(rows * w, bands * cout, nco, nco * h * w, *([h * w] * nco if addend else []))
    if need > chip.sbuf_partition_bytes:
        return None
    return BandInputTiles(origin, max(bands * cin, tco), need, rb * w * F32, bands=bands, rb=rb, tco=tco)


def _blocks(x: SSAValue, size: int, most: int) -> list[tuple[int, int]]:
    """The pieces (first element, elements) of a band's `size` elements that a
    banded-input conv's matmuls take, at most `most` each: in the order the nest
    that wrote `x`'s band tile finished them (each element by the last of its
    writer's instructions that writes it: a pipelined pool's pieces, its first
    rows last), or in order when that nest is not known."""
    writes = _writes(x)
    last = np.full(size, -1)
    if writes:
        tile = writes[0].src
        nest = writes[0].parent_op()
        ops = [] if nest is None else [o for o in nest.walk() if getattr(o, "dst", None) is tile]
        for i, op in enumerate(ops):
            ap = op.dst_ap  # type: ignore[attr-defined]
            if ap.offset.steps:
                return [(s, min(most, size - s)) for s in range(0, size, most)]
            index = np.array([ap.offset.base // F32])
            for stride, count in ap.dims[1:]:
                index = (index[:, None] + stride * np.arange(count)[None, :]).reshape(-1)
            last[index[index < size]] = i
    runs: list[tuple[int, int, int]] = []  # (finished by, first, elements)
    for e in range(size):
        if runs and runs[-1][0] == last[e] and runs[-1][2] < most:
            runs[-1] = (runs[-1][0], runs[-1][1], runs[-1][2] + 1)
        else:
            runs.append((int(last[e]), e, 1))
    return [(first, count) for _, first, count in sorted(runs, key=lambda r: r[0])]


def conv_band_input(
    plan: BandInputTiles,
    x: SSAValue,
    wgt: SSAValue,
    bias: SSAValue | None,
    y: SSAValue,
    shape: ConvShape,
    activation: str,
    addend: SSAValue | None = None,
    read_addend: bool = False,
) -> NestOp:
    """y = activation(conv1x1(x, w) + bias [+ addend]) for a `BandInputTiles` plan:

        load band b's rows of x onto partitions b x Cin (one copy per band)
        zeros, then W^T onto rows b x Cin, columns b x Cout (one copy per band)
        output tile co: [load its addend rows]
          piece j (`_blocks`, at most rb rows): band b = 0..k-1:
            matmul acc = w[co tile, band b] x x[:, piece j]
            act(acc + bias [+ addend]) -> band b's piece j of the output
          one DMA of the output tile
    """
    _, cin, h, w = shape.padded
    cout = shape.weight[0]
    k, rb = plan.bands, plan.rb
    tco = plan.tco
    nco = cout // tco
    rows = h // k
    kk = k * cin
    nest = Nest(plan.name, [])
    blocks = _blocks(x, rows * w, rb * w)
    banks = min(nco * k * len(blocks), 8)
    accs = [nest.tile("psum", tco, rb * w) for _ in range(banks)]
    xt = nest.tile("sbuf", kk, rows * w)
    wt = nest.tile("sbuf", kk, k * cout)
    for b in range(k):
        src = nest.dram(b * rows * w * F32, [(h * w, cin), (1, rows * w)])
        nest.put(None, CopyOp(x, src, xt, nest.onchip("sbuf", 0, [(1, cin), (1, rows * w)], pstart=b * cin)))
    nest.put(None, MemsetOp(wt, nest.onchip("sbuf", 0, [(1, kk), (1, k * cout)]), 0.0))
    w_src = nest.dram(0, [(1, cin), (cin, cout)])
    for b in range(k):
        dst = nest.onchip("sbuf", b * cout * F32, [(1, cin), (1, cout)], pstart=b * cin)
        nest.put(None, CopyOp(wgt, w_src, wt, dst))
    bt = nest.tile("sbuf", tco, nco) if bias is not None else None
    if bt is not None:  # every output tile's bias column
        src = nest.dram(0, _free([(1, tco), (tco, nco)]))
        nest.put(None, CopyOp(bias, src, bt, nest.onchip("sbuf", 0, [(1, tco), (1, nco)])))
    i = 0
    for co in range(nco):
        col = None if bt is None else (bt, nest.onchip("sbuf", co * F32, [(1, tco), (1, 1)]))
        # a tile of its own for each output tile (and its addend), stored (loaded)
        # whole by one copy: loop-keep-on-chip forwards it to a kept tensor
        out = nest.tile("sbuf", tco, h * w)
        at = None
        if addend is not None:  # this output tile's addend: a tile and one copy of its own (forwarded when kept)
            at = nest.tile("sbuf", tco, h * w)
            src = nest.dram(co * tco * h * w * F32, [(h * w, tco), (1, h * w)])
            nest.put(None, CopyOp(addend, src, at, nest.onchip("sbuf", 0, [(1, tco), (1, h * w)])))

        for start, count in blocks:
            for b in range(k):
                acc = accs[i % banks]
                i += 1
                acc_ap = nest.onchip("psum", 0, [(1, tco), (1, count)])
                st = nest.onchip("sbuf", (b * cout + co * tco) * F32, [(1, kk), (1, tco)])
                mv = nest.onchip("sbuf", start * F32, [(1, kk), (1, count)])
                part = nest.onchip("sbuf", (b * rows * w + start) * F32, [(1, tco), (1, count)])
                add = None if at is None else (at, nest.onchip("sbuf", (b * rows * w + start) * F32, [(1, tco), (1, count)]))
                nest.put(None, MatmulOp(acc, acc_ap, wt, st, xt, mv, -1))
                nest.put(None, *_epilogue(acc, acc_ap, out, part, col, activation, add, read_addend))
        whole = nest.onchip("sbuf", 0, [(1, tco), (1, h * w)])
        nest.put(None, CopyOp(out, whole, y, nest.dram(co * tco * h * w * F32, [(h * w, tco), (1, h * w)])))
    return nest.build()


def padded_shape(op: graph.Conv2dOp | graph.MaxPoolOp | graph.AvgPoolOp) -> tuple[int, int, int, int]:
    n, c, h, w = shape_of(op.input)
    pt, pl, pb, pr = op.pads_val
    return (n, c, h + pt + pb, w + pl + pr)


def plan_pad_nest(
    op: graph.Conv2dOp | graph.MaxPoolOp | graph.AvgPoolOp, chip: ChipConfig
) -> list[NestPlan | Refusal]:
    """The pad nest's plan, when the op pads (its input is padded once, in DRAM)."""
    if not any(op.pads_val):
        return []
    shape = shape_of(op.input)
    return [plan_pad(chip, f"{origin_of(op)}.pad", shape, op.pads_val)]  # type: ignore[arg-type]


def emit_pad(
    op: graph.Conv2dOp | graph.MaxPoolOp | graph.AvgPoolOp, plan: TilePlan, fill: float
) -> tuple[SSAValue, list[Operation]]:
    """The padded input (the input itself when the op does not pad) and its ops."""
    tiles = plan.nest(PadTiles)
    if tiles is None:
        return op.input, []
    xp = AllocOp(MemRefType(f32, padded_shape(op)))
    shape = shape_of(op.input)
    return xp.result, [xp, pad(tiles, op.input, xp.result, shape, op.pads_val, fill)]  # type: ignore[arg-type]


def _conv_shape(op: graph.Conv2dOp) -> ConvShape:
    return ConvShape(
        padded_shape(op), shape_of(op.weight), shape_of(op.result),  # type: ignore[arg-type]
        op.strides_val, op.dilations_val, op.group_val, op.pads_val,  # type: ignore[arg-type]
        op.interleave_val,
    )


def _weight_values(op: graph.Conv2dOp) -> np.ndarray | None:
    """The conv's weight as an array when it is a constant (a graph constant, or the
    loop constant graph-to-loop already made of it), else None."""
    owner = op.weight.owner
    if isinstance(owner, graph.ConstantOp):
        return owner.to_numpy()
    if isinstance(owner, ConstOp):
        return owner.to_numpy()
    return None


def _producer_cycles(value: SSAValue, chip: ChipConfig) -> dict[str, float]:
    """The datasheet's cycles per compute engine (`nest_cost.nest_cycles`) of the loop nests
    that write `value`, when it is a buffer graph-to-loop has already lowered its
    writer into; empty when its writer is still a graph op (as graph-partition plans)
    or it is an argument."""
    from tidal.dialects.loop import CopyOp, ViewOp, enclosing_nest
    from tidal.passes.analysis.nest_cost import nest_cycles
    from tidal.passes.loop.schedule import root_buffer

    names, pending = [], [root_buffer(value)]
    while pending:  # the buffer and every view of it
        names.append(name := pending.pop())
        pending += [u.operation.result for u in name.uses if isinstance(u.operation, ViewOp)]
    writers: dict[Operation, None] = {}  # nests, in order
    for name in names:  # DMAs are what write a DRAM buffer
        for use in name.uses:
            if isinstance(use.operation, CopyOp) and use.operation.dst is name:
                if (nest := enclosing_nest(use.operation)) is not None:
                    writers[nest] = None
    total: dict[str, float] = {}
    for nest in writers:
        for engine, cycles in nest_cycles(nest, chip).items():
            total[engine] = total.get(engine, 0.0) + cycles
    return total


def _readers_take_bands(value: SSAValue, k: int, chip: ChipConfig, options: KernelOptions) -> bool:
    """Whether every reader of `value`, which its writer left in `k` bands side by
    side on the partitions (`written_in_bands`), reads those bands as they lie: a
    1x1 conv of banded input (`plan_band_input`), a pooling of `k` bands
    (`pool.reads_bands`), or a nest already lowered that loads band by band. One
    reader of the plane makes loop-keep-on-chip keep the plane, and a banded reader
    would then copy its bands out of it."""
    from tidal.passes.conversion.kernels.pool import reads_bands  # (imports this module)

    _, c, h, w = shape_of(value)
    for use in value.uses:
        reader = use.operation
        if isinstance(reader, CopyOp):
            if reader.dst is value:  # the writer's band stores
                continue
            src = reader.src_ap
            run = src.dims[1][1] if len(src.dims) == 2 else 0
            if src.dims != ((h * w, c), (1, run)) or run > h // k * w:
                return False
        elif isinstance(reader, graph.Conv2dOp):
            if reader.input is not value or not options.conv_band_input:
                return False
            if plan_band_input(chip, origin_of(reader), _conv_shape(reader), k, reader.addend is not None) is None:
                return False
        elif isinstance(reader, graph.MaxPoolOp | graph.AvgPoolOp):
            if reads_bands(reader, chip, options) != k:
                return False
        else:
            return False
    return True


def _reader_bands(op: graph.Conv2dOp, chip: ChipConfig, options: KernelOptions) -> int:
    """The bands of rows the conv's result's one reader, a pooling, would read in
    place from a writer that left them side by side on the partitions
    (`pool.reads_bands`; 0 for any other reader, or several, or with
    `conv_reader_bands` off)."""
    from tidal.passes.conversion.kernels.pool import reads_bands  # (imports this module)

    if not options.conv_reader_bands or not options.conv_bands:
        return 0
    uses = list(op.result.uses)
    if len(uses) != 1 or not isinstance(reader := uses[0].operation, graph.MaxPoolOp | graph.AvgPoolOp):
        return 0
    return reads_bands(reader, chip, options)


class ConvKernel(Kernel):
    """graph.conv2d: the PE-array nest, after a pad nest when the op pads and the
    nest does not pad in SBUF (a halo); depthwise convs (with `options.depthwise`)
    go to kernels/depthwise.py."""

    def plan(
        self, op: Operation, chip: ChipConfig, options: KernelOptions = DEFAULT_OPTIONS
    ) -> TilePlan | Refusal:
        # depthwise.py imports ConvShape from here: imported when used.
        from tidal.passes.conversion.kernels import depthwise

        assert isinstance(op, graph.Conv2dOp)
        shape = _conv_shape(op)
        if options.depthwise and depthwise.applies(shape):
            # With `stationary`, convs pad in SBUF: the depthwise nest too, when its
            # plan takes the halo (then no pad nest).
            dw = depthwise.plan_depthwise(
                chip,
                origin_of(op),
                shape,
                halo=options.stationary,
                inplace=options.depthwise_inplace,
                pe_split=options.depthwise_pe_split and _weight_values(op) is not None,
                beside=_producer_cycles(op.input, chip) if options.depthwise_split_context else None,
                fma=options.depthwise_fma,
                pool_first=options.depthwise_pool_first,
                pe_rows=options.depthwise_pe_rows,
                bands=options.depthwise_bands,
            )
            halo = isinstance(dw, depthwise.DepthwiseTiles) and dw.halo
            return planned(op, chip, *([] if halo else plan_pad_nest(op, chip)), dw, options=options)
        if options.conv_band_input and (k := written_in_bands(op.input)):
            banded = plan_band_input(chip, origin_of(op), shape, k, addend=op.addend is not None)
            if banded is not None and _readers_take_bands(op.input, k, chip, options):
                return planned(op, chip, banded, options=options)
        conv = plan_conv2d(
            chip, origin_of(op), shape, options, addend=op.addend is not None, reader_bands=_reader_bands(op, chip, options)
        )
        halo = isinstance(conv, StationaryTiles) and conv.unpadded
        pads = [] if halo else plan_pad_nest(op, chip)
        return planned(op, chip, *pads, conv, options=options)

    def emit(self, plan: TilePlan) -> Lowered:
        from tidal.passes.conversion.kernels import depthwise

        op = plan.op
        assert isinstance(op, graph.Conv2dOp)
        y = alloc_result(op)
        x, ops = emit_pad(op, plan, 0.0)
        activation = op.activation_val or "identity"
        if (dw := plan.nest(depthwise.DepthwiseTiles)) is not None:
            ops += depthwise.depthwise(
                dw, x, op.weight, op.bias, y.result, _conv_shape(op), activation=activation, addend=op.addend,
                weights=_weight_values(op),
            )
            return Lowered([y, *ops], y.result)
        if (banded := plan.nest(BandInputTiles)) is not None:
            ops.append(conv_band_input(
                banded, x, op.weight, op.bias, y.result, _conv_shape(op), activation, op.addend, plan.options.read_addend
            ))
            return Lowered([y, *ops], y.result)
        tiles = plan.nest(StationaryTiles) or plan.nest(ConvTiles)
        assert tiles is not None
        ops.append(
            conv2d(
                tiles, x, op.weight, op.bias, y.result, _conv_shape(op), activation=activation, addend=op.addend,
                read_addend=plan.options.read_addend, addend_tiles=plan.options.addend_tiles,
            )
        )
        return Lowered([y, *ops], y.result)


CONV = ConvKernel()

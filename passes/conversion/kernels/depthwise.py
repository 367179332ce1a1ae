"""Depthwise convolutions (one input channel per group) over many channels at once:
block-diagonal matmuls on the PE array, or products and sums on ACT and POOL,
whichever the datasheet says is cheaper.

Through the general conv nest a depthwise conv is one single-row matmul per channel
and filter tap, each loading a new 1x1 stationary operand. Both forms here put up
to 128 channels (`tc`) on partitions and run one instruction per tap for a whole
block of output rows of all of them:

- "pe": for tap t the stationary operand is diag(w[:, t]), so one matmul adds
  w[c, t] * window_t[c, :] for every channel c of the tile, and the kh*kw taps
  accumulate in PSUM. The diagonals are built on chip: the nest loads a `tc`x`tc`
  identity (a `loop.const`) once, and per channel tile one ACT per tap writes
  identity * w[:, t] (ACT's per-partition scale column). Taps run outermost and row blocks innermost, each block in its own PSUM
  bank, so the array loads each diagonal once per band of up to `psum_banks`
  blocks; each bank is evacuated by ACT (activation(. + bias), after a POOL add of
  the addend when there is one).
- "vector": per block, ACT writes window_0 * w[:, 0] + bias into the sum, then for
  each other tap the product window_t * w[:, t] into one of two tiles, which POOL
  adds into the sum while ACT writes the next; blocks hold up to FREE_MAX pixels.
  When every channel tile's whole image fits SBUF (`resident`: ShuffleNet's 28x28
  and smaller layers), the layer's input is loaded by one DMA before the loop and
  its output stored by one after it, instead of a DMA each way per channel tile;
  with `halo` (when the caller asks, to drop its pad nest) the nest reads the
  unpadded input into zeroed planes in SBUF.
- "vector" in place (`inplace`, KernelOptions.depthwise_inplace, one image whose
  channel tiles' planes, sums and two products fit SBUF, whatever their pixel
  count, and a tap whose window stays inside the image for every output): no
  padded planes at all. That tap, times its weight column plus
  the bias, writes the whole sum; every other tap runs over the rectangle of
  outputs whose window stays inside the image (`tap_rects`: a 3x3 pad-1 conv's
  corner taps over (h-1) x (w-1) outputs). The input tile is then a plain copy of
  the input, which loop-keep-on-chip's forwarding replaces by the producer's tile
  itself: no DMA between the layers. On ShuffleNet (default chip) this and
  graph-dense-groups take 537,995 cycles to 413,835.
- "vector" in bands (`bands`, KernelOptions.depthwise_bands, one channel tile of at
  most half the partitions, not resident): k bands of oh / k output rows lie side
  by side on the partitions, band b's channels on partitions b x tc onwards, each
  loading its own input rows and holding its own copy of the weight and bias
  columns, so each ACT and POOL instruction covers k blocks and each band stores
  its own rows. MobileNet v2's first depthwise conv (32 channels at 112x112): 4
  bands, POOL 104 k -> 26 k cycles; torchvision's MobileNet v2 351,371 -> 292,719
  cycles, MobileNet v3 large (16 channels: 8 bands) 472,674 -> 377,129,
  EfficientNet-B0 727,848 -> 666,242.
- in place, split (`pe_tiles`, KernelOptions.depthwise_pe_split, constant weights):
  the last channel tiles go to the otherwise idle PE array as diagonal matmuls
  (the diagonals a constant, loaded once; each tap accumulates over its
  rectangle of each PSUM block of `pe_rb` output rows), the others to ACT and
  POOL as above; `_plan_inplace` takes the count that makes the busiest engine's
  datasheet cycles fewest (ShuffleNet's 272-channel 14x14 layer: 2 of 4 tiles).
  ShuffleNet's logits: 386,219 cycles without, 320,033 with. The PE array takes the
  last tiles, not the first: the 1x1 conv before the layer (on the array) writes
  its output tiles in order, so ACT and POOL start on the first one while the array
  finishes the conv (with accel-schedule's `chains`, ShuffleNet 243,182 cycles with
  the first tiles on the array, 237,728 with the last).

Both load the weights and biases of every channel tile with one DMA each.

    load weights, biases [, pe: identity]
    ct (channel tiles):  [pe: 9 x act(diag_t = I * w[:, t])]
      n (images):
        bg (bands): load the input rows
          pe:     tap t: bank j: matmul acc_j (+)= diag_t^T @ window(t, j); per bank
                  [copy addend, pool add] act -> out_j -> y
          vector: act(sum = win_0 * w_0 + b); tap t > 0: act(p = win_t * w_t),
                  pool(sum += p); [copy addend, pool add] [act] -> y

`plan_depthwise` sizes both forms and keeps the one whose busiest engine the
datasheet (`tidal.sim.spec`, the costs `passes/analysis/cost.py` sums) charges
fewer cycles per channel tile. The PE form streams one pixel per cycle per tap but
pays a 382-cycle stationary load per tap and band (a band holds at most 8 banks of
512 pixels) and at least 64 cycles per matmul; the vector form streams one pixel
per cycle per tap on ACT (POOL in parallel) and pays 64 cycles per instruction, on
blocks of up to 2048 pixels. On both preset chips the vector form comes out
cheaper for every shape tried (the PE form 4-8% over on 56x56 to 112x112 images,
2-4x over on ShuffleNet's 14x14 and 7x7 layers); the PE form is kept for chips
that hide the stationary load, where it would win and free ACT and POOL. Measured on the default chip
(`program_cost` of the layer's nest alone, busiest engine, all channel tiles):

    ShuffleNet layer              pe form (PE)   vector form (ACT)
    112 ch 56x56 stride 2              10,494          7,632
    136 ch 28x28                       20,988         15,264
    272 ch 14x14                       20,808          9,360

and on the whole of ShuffleNet (`tidal-run --stats`, onnxruntime max rel err
5.6e-7, with the stationary conv nests of conv.py): 20,523,728 cycles with
`--disable-opt depthwise` (PE busy 2.81 M in 28,377 instructions), 2,369,177
with the PE form forced, 2,039,272 with the vector form the plan chooses (PE busy
0.16 M, ACT 0.26 M, POOL 0.21 M), and 1,568,166 when the caller also takes
the halo and drops the pad nests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from tidal.dialects.accel import AccessAttr
from tidal.dialects.loop import (
    ActOp,
    ConstOp,
    CopyOp,
    MatmulOp,
    MemsetOp,
    TensorTensorOp,
    dense_f32,
)
from tidal.passes.conversion.kernels.nest_builder import (
    F32,
    FREE_MAX,
    Nest,
    aligned,
    largest_divisor,
    psum_free_max,
)
from tidal.passes.conversion.kernels.nest_builder import (
    tile_ap as _tile,
)
from tidal.passes.conversion.kernels.plan import (
    NestPlan,
    Refusal,
    over_sbuf,
    sbuf_bytes,
)
from tidal.sim.config import ChipConfig
from tidal.sim.spec import INSTRUCTIONS, Opcode
from tidal.sim.spec.opcodes import matmul_load_cycles
from xdsl.ir import Operation, SSAValue

if TYPE_CHECKING:
    from tidal.passes.conversion.kernels.conv import ConvShape


def applies(shape: ConvShape) -> bool:
    """Whether `shape` is a depthwise conv this kernel runs: one input and one output
    channel per group (weight [C, 1, kh, kw], group == C input == C output)."""
    c = shape.padded[1]
    cout, cg_in, _, _ = shape.weight
    return cg_in == 1 and shape.group == c == cout and c > 1


def valid_outputs(out: int, size: int, stride: int, offset: int) -> tuple[int, int]:
    """The outputs o in [lo, hi) whose input o * stride + offset lies in [0, size)."""
    lo = max(0, -(offset // stride))
    hi = min(out, (size - 1 - offset) // stride + 1)
    return lo, max(lo, hi)


def tap_rects(
    shape: ConvShape, rows: tuple[int, int] | None = None
) -> list[tuple[int, tuple[int, int], tuple[int, int], tuple[int, int]]]:
    """For every tap whose window meets the unpadded image: (tap, (rows, cols) of
    the output rectangle where it does, that rectangle's first output (oy, ox), the
    input pixel (iy, ix) it reads), the first tap one that covers every output
    (`first_full_tap`) when there is one. `rows`: only the output rows [r0, r1)
    (a PSUM block), the first tap then one that covers all of them."""
    _, _, kh, kw = shape.weight
    _, _, oh, ow = shape.out
    hp, wp = shape.padded[2:]
    pt, pl, pb, pr = shape.pads
    h, w = hp - pt - pb, wp - pl - pr
    (sh, sw), (dh, dw) = shape.strides, shape.dilations
    rects = []
    for t in range(kh * kw):
        r, c = divmod(t, kw)
        y0, y1 = valid_outputs(oh, h, sh, r * dh - pt)
        if rows is not None:
            y0, y1 = max(y0, rows[0]), min(y1, rows[1])
        x0, x1 = valid_outputs(ow, w, sw, c * dw - pl)
        if y1 > y0 and x1 > x0:
            rects.append((t, (y1 - y0, x1 - x0), (y0, x0), (y0 * sh + r * dh - pt, x0 * sw + c * dw - pl)))
    r0, r1 = rows if rows is not None else (0, oh)
    full = [rect for rect in rects if rect[1] == (r1 - r0, ow)]
    if full:
        rects.remove(full[0])
        rects.insert(0, full[0])
    return rects


def first_full_tap(shape: ConvShape) -> int | None:
    """A tap whose window lies inside the image for every output, or None."""
    _, _, oh, ow = shape.out
    rects = tap_rects(shape)
    return rects[0][0] if rects and rects[0][1] == (oh, ow) else None


@dataclass(frozen=True, kw_only=True)
class DepthwiseTiles(NestPlan):
    """`form` "pe" (block-diagonal matmuls) or "vector" (ACT and POOL); `tc`
    channels per tile (on partitions, and the diagonals' size); blocks of `rb`
    output rows (one PSUM bank each in the PE form), `nb` blocks per band of `hb`
    input rows (always 1 in the vector form); `resident`: every channel tile's input
    and sum stay in SBUF together (one image, one block per tile, vector form), so
    the layer moves its input and its output with one DMA each; `halo` (resident
    only, when the caller asks): the nest reads the unpadded input and pads it in
    SBUF (zeroed planes, the interior copied in), so no pad nest runs; `inplace`
    (with `halo`): no padded planes either, each tap runs over the rectangle of
    outputs whose window lies inside the image, so the input tile is an exact copy
    of the input (which loop-keep-on-chip can then read in place); `pe_tiles`
    (in place, weights known): the first that many channel tiles run on the PE
    array as diagonal matmuls, in PSUM blocks of `pe_rb` output rows, while ACT
    and POOL run the others; `cycles`: the
    busiest engine's estimated cycles per channel tile, by the datasheet, that chose
    the form."""

    form: str
    tc: int
    rb: int
    nb: int
    hb: int
    resident: bool = False
    halo: bool = False
    inplace: bool = False
    pe_tiles: int = 0
    pe_rb: int = 0
    pe_rows: int = 0
    """With `pe_tiles` (`depthwise_pe_rows`): the PE array also takes output rows [0,
    pe_rows) of the last vector tile (whole PSUM blocks), ACT and POOL its rows from
    pe_rows on, so one tile's work splits between the engines (a layer of one tile,
    or tiles the PE and the vectors would otherwise share unevenly)."""
    fma: bool = False
    """Vector form: POOL multiplies each tap after the first by its weight column and
    adds it into the sum in one instruction (a tensor_tensor with a scale column);
    ACT writes the first tap only."""
    pool_first: bool = False
    """In place, with `fma`: POOL writes each vector tile's first tap too (one
    tensor_tensor: the window times its weight column plus the bias column read by a
    stride-0 broadcast, or, without a bias, the window times the weight column read
    by a broadcast), so a vector tile needs nothing from ACT, whose in-order
    stream holds the producer's evacuations: POOL starts on the first tile as soon
    as the producer has evacuated it."""
    bands: int = 1
    """Vector form, one channel tile of at most half the partitions, not resident
    (`KernelOptions.depthwise_bands`): this many bands of oh / bands output rows side
    by side on the partitions, band b's channels on partitions b x tc onwards, each
    with its own input rows and a copy of the weight and bias columns, so every ACT
    and POOL instruction covers `bands` blocks (`_vector_nest`)."""
    cycles: int


def _cost(
    opcode: Opcode, chip: ChipConfig, shape: tuple[int, ...], reload: bool = True
) -> float:
    """The datasheet's cycles of one instruction whose accesses have `shape`."""
    shapes = dict.fromkeys(("src", "dst", "a", "b", "moving", "stationary"), shape)
    return INSTRUCTIONS[opcode].cost(chip, shapes, reload)


def _need(
    shape: ConvShape,
    form: str,
    tc: int,
    rb: int,
    nb: int,
    resident: bool = False,
    halo: bool = False,
    inplace: bool = False,
    pe_tiles: int = 0,
) -> tuple[int, int]:
    """Input rows per band (with a halo: the whole padded plane) and bytes per SBUF
    partition of the nest's tiles: the weights and biases of every channel tile,
    then the form's own."""
    c, hp, wp = shape.padded[1:]
    _, _, kh, kw = shape.weight
    ow = shape.out[3]
    hb = (nb * rb - 1) * shape.strides[0] + (kh - 1) * shape.dilations[0] + 1
    hb = hp if halo else hb
    taps, tiles = kh * kw, c // tc
    held = sbuf_bytes(tiles * taps, tiles)
    if inplace:  # the unpadded planes, the sums and two products
        h, w = hp - shape.pads[0] - shape.pads[2], wp - shape.pads[1] - shape.pads[3]
        oh = shape.out[2]
        diag = [pe_tiles * taps * tc] if pe_tiles else []
        return h, held + sbuf_bytes(tiles * h * w, tiles * oh * ow, oh * ow, oh * ow, *diag)
    if form == "vector":  # band(s), sum(s) and two products
        copies = tiles if resident else 1
        return hb, held + sbuf_bytes(
            copies * hb * wp, copies * rb * ow, rb * ow, rb * ow
        )
    # identity, diagonals, band, one output tile per bank
    return hb, held + sbuf_bytes(tc, taps * tc, hb * wp) + nb * aligned(rb * ow * F32)


def _plan_pe(
    chip: ChipConfig, origin: str, shape: ConvShape, tc: int
) -> DepthwiseTiles | Refusal:
    n = shape.padded[0]
    _, _, kh, kw = shape.weight
    _, _, oh, ow = shape.out
    free_max = psum_free_max(chip)
    if ow > free_max:
        return Refusal(
            f"'{origin}': output rows of {ow} pixels exceed one PSUM bank "
            f"({free_max} fp32) on chip '{chip.name}'"
        )
    rb = largest_divisor(oh, free_max // ow)
    blocks = oh // rb
    # The most banks (row blocks sharing one load of each diagonal) that fit SBUF.
    nbs = [nb for nb in range(min(blocks, chip.psum_banks), 0, -1) if blocks % nb == 0]
    for nb in nbs:
        hb, need = _need(shape, "pe", tc, rb, nb)
        if need > chip.sbuf_partition_bytes:
            continue
        taps, block = kh * kw, (tc, rb * ow)
        band = taps * (
            _cost(Opcode.MATMUL, chip, block)
            + (nb - 1) * _cost(Opcode.MATMUL, chip, block, reload=False)
        )
        pe = n * blocks // nb * band
        act = taps * _cost(Opcode.ACT, chip, (tc, tc)) + n * blocks * _cost(
            Opcode.ACT, chip, block
        )
        psum = nb * aligned(rb * ow * F32)
        cycles = round(max(pe, act))
        return DepthwiseTiles(
            origin, tc, need, psum, form="pe", tc=tc, rb=rb, nb=nb, hb=hb, cycles=cycles
        )
    refusal = over_sbuf(chip, origin, _need(shape, "pe", tc, rb, 1)[1])
    assert refusal is not None  # nb = 1 was tried
    return refusal


def _pe_block_rows(chip: ChipConfig, shape: ConvShape) -> int:
    """Output rows per PSUM block of the in-place PE tiles (0: a row is over a bank)."""
    oh, ow = shape.out[2:]
    free_max = psum_free_max(chip)
    return largest_divisor(oh, free_max // ow) if ow <= free_max else 0


def _inplace_costs(
    chip: ChipConfig,
    shape: ConvShape,
    tc: int,
    fma: bool = False,
    rows: tuple[int, int] | None = None,
    pool_first: bool = False,
    warm: bool = False,
) -> tuple[float, float, float, float]:
    """Per channel tile (`rows`: its output rows [r0, r1) only; the PE's in whole
    blocks), by the datasheet: ACT and POOL cycles of the vector form in place
    (`fma`: ACT the first tap only; with `pool_first` too, POOL every tap and ACT
    none), and PE cycles (diagonal matmuls, each tap over
    its rectangle of every PSUM block, the stationary load the previous matmul's
    streaming does not hide; `warm`: the tile's first matmul follows another, as
    every PE tile after the first does, and the first when the producer's matmuls
    precede it) and ACT cycles (one evacuation per block) of the PE
    form in place."""
    oh, ow = shape.out[2:]
    r0, r1 = rows or (0, oh)
    act = pool = 0.0
    on_pool = fma and pool_first  # the first tap too
    for i, (_, (ny, nx), _, _) in enumerate(tap_rects(shape, rows)):
        if (i == 0 and not on_pool) or not fma:
            act += _cost(Opcode.ACT, chip, (tc, ny * nx))
        pool += _cost(Opcode.TENSOR_TENSOR, chip, (tc, ny * nx))
    if not on_pool:  # ACT writes the first tap into the sum: no POOL add for it
        pool -= _cost(Opcode.TENSOR_TENSOR, chip, (tc, (r1 - r0) * ow))
    rb = _pe_block_rows(chip, shape)
    if not rb:
        return act, pool, float("inf"), float("inf")
    pe, behind = 0.0, (float(chip.pe_min_cycles) if warm else None)
    for b0 in range(r0, r1, rb):
        for _, (ny, nx), _, _ in tap_rects(shape, (b0, b0 + rb)):
            pe += _cost(Opcode.MATMUL, chip, (tc, ny * nx), reload=False)
            pe += matmul_load_cycles(chip, behind)
            behind = max(ny * nx, chip.pe_min_cycles)
    evac = -(-(r1 - r0) // rb) * _cost(Opcode.ACT, chip, (tc, rb * ow))
    return act, pool, pe, evac


def _plan_inplace(
    chip: ChipConfig,
    origin: str,
    shape: ConvShape,
    tc: int,
    pe_split: bool,
    beside: Mapping[str, float] | None = None,
    fma: bool = False,
    pe_rows: bool = False,
    pool_first: bool = False,
) -> DepthwiseTiles | None:
    """The in-place vector form (None when it does not fit SBUF), with the number of
    channel tiles the PE array takes (`pe_split`; with `pe_rows`, and the number of
    output rows of one more tile, in whole PSUM blocks) that makes the busiest
    engine's cycles fewest by the datasheet (ties to fewer on the PE), counting on
    each engine the cycles `beside` says other work near the layer keeps it busy
    (the producer's nest: its matmuls and evacuations overlap this nest's tiles)."""
    oh, ow = shape.out[2:]
    tiles = shape.padded[1] // tc
    pool_first = pool_first and fma
    act, pool, pe, evac = _inplace_costs(chip, shape, tc, fma, pool_first=pool_first)
    near = beside or {}
    # The PE tiles run back to back: every tile's first matmul but the first's loads
    # its diagonal while the one before streams (the first's too when the producer's
    # matmuls come just before it).
    _, _, pe_warm, _ = _inplace_costs(chip, shape, tc, fma, pool_first=pool_first, warm=True)
    cold = not near.get("pe")

    def on_array(n: int, behind: bool) -> float:  # `behind`: after the split tile's
        return (pe if cold and not behind else pe_warm) + (n - 1) * pe_warm if n else 0.0
    # ACT and POOL start on the first channel tile once the producer's matmuls have
    # written it (its share of the producer's PE cycles, tile by tile); the PE tiles
    # queue behind all of them.
    lead = near.get("pe", 0.0) / tiles if fma else 0.0
    rb = _pe_block_rows(chip, shape)
    # (PE tiles, rows of one more tile on the PE): whole tiles, then with `pe_rows`
    # every split of a tile beside them in whole blocks. (Lower blocks, to split
    # finer, measured slower on ShuffleNet: 220 k cycles against 214 k; the
    # datasheet sum misses how the extra matmuls' stationary loads queue.)
    splits = [(k, 0) for k in range(tiles + 1 if pe_split and rb else 1)]
    if pe_split and rb and pe_rows:
        splits += [(k, r) for k in range(tiles) for r in range(rb, oh, rb)]
    # a split tile's cycles per rows [0, r) on the PE array: PE, ACT (its evacuations
    # and the vector form of the other rows) and POOL, once per r
    split_costs: dict[int, tuple[float, float, float]] = {}
    for r in {r for _, r in splits if r}:
        s_act, s_pool, _, _ = _inplace_costs(chip, shape, tc, fma, (r, oh), pool_first)
        _, _, s_pe, s_evac = _inplace_costs(chip, shape, tc, fma, (0, r), warm=not cold)
        split_costs[r] = (s_pe, s_act + s_evac, s_pool)
    best: tuple[float, int, int, float] | None = None
    for k, r in splits:
        split = r > 0
        banks = k * (oh // rb) + r // rb if k or split else 0
        if banks > chip.psum_banks or banks * aligned(rb * ow * F32) > chip.psum_partition_bytes:
            continue
        if _need(shape, "vector", tc, oh, 1, True, True, inplace=True, pe_tiles=k + split)[1] > chip.sbuf_partition_bytes:
            continue
        on_pe = (on_array(k, split), k * evac)
        own = [on_pe[0], (tiles - k - split) * act + on_pe[1], (tiles - k - split) * pool]
        if split:  # rows [0, r) of tile tiles - k - 1 on the PE, the rest on ACT and POOL
            own = [a + b for a, b in zip(own, split_costs[r])]
        loaded = max(
            near.get("pe", 0.0) + own[0],
            near.get("act", 0.0) + own[1] + lead,
            near.get("pool", 0.0) + own[2] + lead,
        )
        if best is None or loaded < best[0]:
            best = (loaded, k, r, max(own))
    if best is None:
        return None
    _, k, r, busiest = best
    hb, need = _need(shape, "vector", tc, oh, 1, True, True, inplace=True, pe_tiles=k + (r > 0))
    psum = (k * (oh // rb) + r // rb) * aligned(rb * ow * F32) if k or r else 0
    return DepthwiseTiles(
        origin, tc, need, psum, form="vector", tc=tc, rb=oh, nb=1, hb=hb, resident=True,
        halo=True, inplace=True, pe_tiles=k, pe_rb=rb if k or r else 0, pe_rows=r, fma=fma,
        pool_first=pool_first, cycles=round(busiest / tiles),
    )


def _vector_bands(chip: ChipConfig, shape: ConvShape, tc: int) -> int:
    """How many bands of output rows the vector form lays side by side on the
    partitions (`DepthwiseTiles.bands`): the most that the partitions hold (one
    channel tile of tc channels each) among the divisors of the output rows; 1 when
    the layer has several channel tiles or fewer than two fit."""
    if shape.padded[1] != tc:
        return 1
    oh = shape.out[2]
    return max((k for k in range(2, chip.sbuf_partitions // tc + 1) if oh % k == 0), default=1)


def _plan_vector(
    chip: ChipConfig,
    origin: str,
    shape: ConvShape,
    tc: int,
    halo: bool,
    inplace: bool = False,
    pe_split: bool = False,
    beside: Mapping[str, float] | None = None,
    fma: bool = False,
    pe_rows: bool = False,
    pool_first: bool = False,
    bands: bool = False,
) -> DepthwiseTiles | Refusal:
    n = shape.padded[0]
    _, _, kh, kw = shape.weight
    _, _, oh, ow = shape.out
    if ow > FREE_MAX:
        return Refusal(
            f"'{origin}': output rows of {ow} pixels exceed one tile ({FREE_MAX} fp32)"
        )
    if inplace and n == 1 and first_full_tap(shape) is not None:
        planned = _plan_inplace(chip, origin, shape, tc, pe_split, beside, fma, pe_rows, pool_first)
        if planned is not None:
            return planned
    # Every channel tile whole in SBUF when it fits, else the most output rows per
    # block whose tiles fit, in k bands side by side with `bands` (`_vector_bands`).
    k = _vector_bands(chip, shape, tc) if bands else 1
    rows = oh // k  # per band
    candidates = [(oh, True, 1)] if n == 1 and oh * ow <= FREE_MAX else []
    candidates += [
        (rb, False, k) for rb in range(min(rows, FREE_MAX // ow), 0, -1) if rows % rb == 0
    ]
    for rb, resident, k in candidates:
        hb, need = _need(shape, "vector", tc, rb, 1, resident, halo and resident)
        if need > chip.sbuf_partition_bytes:
            continue
        taps, block, blocks = kh * kw, (k * tc, rb * ow), n * oh // (rb * k)
        act = blocks * (1 if fma else taps) * _cost(Opcode.ACT, chip, block)
        pool = blocks * (taps - 1) * _cost(Opcode.TENSOR_TENSOR, chip, block)
        cycles = round(max(act, pool))
        return DepthwiseTiles(
            origin,
            tc,
            need,
            0,
            form="vector",
            tc=tc,
            rb=rb,
            nb=1,
            hb=hb,
            resident=resident,
            halo=halo and resident,
            fma=fma,
            bands=k,
            cycles=cycles,
        )
    refusal = over_sbuf(chip, origin, _need(shape, "vector", tc, 1, 1)[1])
    assert refusal is not None  # rb = 1 was tried
    return refusal


def plan_depthwise(
    chip: ChipConfig,
    origin: str,
    shape: ConvShape,
    form: str | None = None,
    *,
    halo: bool = False,
    inplace: bool = False,
    pe_split: bool = False,
    beside: Mapping[str, float] | None = None,
    fma: bool = False,
    pe_rows: bool = False,
    pool_first: bool = False,
    bands: bool = False,
) -> DepthwiseTiles | Refusal:
    """The tiles of the cheaper form by the datasheet (the PE form on a tie), or of
    `form` when given; a refusal when no form fits (the vector form's reason when
    neither does, as it has fewer limits). `halo`: the caller can pass the unpadded
    input (and skip the pad nest) when the plan says `halo` (a padded conv whose
    channel tiles are resident); the plan says so only when asked. With `inplace`
    (and `halo`) the vector form reads the unpadded input as it is
    (`DepthwiseTiles.inplace`) where its taps allow; with `pe_split` too (the
    caller knows the weights) it hands channel tiles to the PE array where the
    datasheet says that evens the engines' load, counting the cycles per engine
    `beside` names (the producer's nest, when the caller has lowered it). `fma`:
    the vector form adds each tap's product on POOL in one instruction
    (`DepthwiseTiles.fma`); `pool_first`: in place, POOL writes each vector tile's
    first tap too (`DepthwiseTiles.pool_first`)."""
    limit = min(chip.pe_rows, chip.pe_cols, chip.sbuf_partitions, chip.psum_partitions)
    tc = largest_divisor(shape.padded[1], limit)
    pe = _plan_pe(chip, origin, shape, tc) if form in (None, "pe") else None
    asked = halo
    halo = halo and any(shape.pads)
    vector = (
        _plan_vector(
            chip, origin, shape, tc, halo, inplace and asked, pe_split, beside, fma, pe_rows, pool_first, bands
        )
        if form in (None, "vector")
        else None
    )
    fits = [p for p in (pe, vector) if isinstance(p, DepthwiseTiles)]
    if fits:
        return min(fits, key=lambda p: p.cycles)
    refusal = vector if vector is not None else pe
    assert isinstance(refusal, Refusal)
    return refusal


def depthwise(
    plan: DepthwiseTiles,
    xp: SSAValue,
    wgt: SSAValue,
    bias: SSAValue | None,
    y: SSAValue,
    shape: ConvShape,
    *,
    activation: str = "identity",
    addend: SSAValue | None = None,
    weights: np.ndarray | None = None,
) -> list[Operation]:
    """y = activation(depthwise_conv(xp, wgt) + bias + addend) on an already padded
    NCHW input: the PE form's identity constant and its nest, or the vector form's
    nest. `weights`: the values of `wgt`, which the in-place form's PE tiles need
    (their diagonals are a constant)."""
    if plan.inplace:
        layer = _Layer(plan, shape, Nest(plan.name, []))
        return _inplace_nest(layer, xp, wgt, bias, y, activation, addend, weights)
    build = _pe_nest if plan.form == "pe" else _vector_nest
    return build(
        _Layer(plan, shape, Nest(plan.name, _dims(plan, shape))),
        xp,
        wgt,
        bias,
        y,
        activation,
        addend,
    )


def _dims(plan: DepthwiseTiles, shape: ConvShape) -> list[tuple[str, int]]:
    n, c = shape.padded[:2]
    return [("ct", c // plan.tc), ("n", n), ("bg", shape.out[2] // (plan.rb * plan.nb * plan.bands))]


@dataclass
class _Layer:
    """The accesses both forms share, in a nest over (channel tile, image, band)."""

    plan: DepthwiseTiles
    shape: ConvShape
    nest: Nest

    def held(
        self, wgt: SSAValue, bias: SSAValue | None
    ) -> tuple[SSAValue, SSAValue | None]:
        """The weights [tc, tiles * taps] and biases [tc, tiles] of every channel
        tile, each loaded by one copy at the top of the nest."""
        nest, tc, k = self.nest, self.plan.tc, self.plan.bands
        tiles, taps = self.shape.padded[1] // tc, self.taps
        wt = nest.tile("sbuf", k * tc, tiles * taps)
        w_src = nest.dram(0, [(taps, tc), (tc * taps, tiles), (1, taps)])
        for b in range(k):  # (with bands, a copy on each band's partitions)
            dst = nest.onchip("sbuf", 0, [(1, tc), (1, tiles * taps)], pstart=b * tc)
            nest.put(None, CopyOp(wgt, w_src, wt, dst))
        if bias is None:
            return wt, None
        bt = nest.tile("sbuf", k * tc, tiles)
        b_src = nest.dram(0, [(1, tc), (tc, tiles)])
        for b in range(k):
            dst = nest.onchip("sbuf", 0, [(1, tc), (1, tiles)], pstart=b * tc)
            nest.put(None, CopyOp(bias, b_src, bt, dst))
        return wt, bt

    @property
    def taps(self) -> int:
        return self.shape.weight[2] * self.shape.weight[3]

    def column(
        self, held: SSAValue, t: int, per_tile: int, k: int = 0
    ) -> tuple[SSAValue, AccessAttr]:
        """Channel tile ct's column t of a held tile of `per_tile` columns per tile
        (in an unrolled nest, channel tile `k`'s)."""
        ap = self.nest.onchip(
            "sbuf",
            self.nest.aff((k * per_tile + t) * F32, ct=per_tile * F32),
            [(1, self.plan.bands * self.plan.tc), (1, 1)],
        )
        return held, ap

    def band(self, xp: SSAValue, xt: SSAValue, tiles: int, b: int = 0) -> CopyOp:
        """The copy of the input rows of a band: of the loop's channel tile, or of
        all `tiles` at once (before the loops); with `DepthwiseTiles.bands`, of
        band `b`'s block, onto its partitions."""
        c, hp, wp = self.shape.padded[1:]
        tc, plan, nest = self.plan.tc, self.plan, self.nest
        sh = self.shape.strides[0]
        row = plan.nb * plan.rb * sh * wp
        first = b * (self.shape.out[2] // plan.bands) * sh * wp  # band b's first row
        at = nest.aff(first * F32, ct=tc * hp * wp * F32, n=c * hp * wp * F32, bg=row * F32)
        dims = [(hp * wp, tc), (1, plan.hb * wp)]
        if tiles > 1:
            at, dims = nest.aff(), [dims[0], (tc * hp * wp, tiles), dims[1]]
        dst = nest.onchip("sbuf", 0, [(1, tc), (1, tiles * plan.hb * wp)], pstart=b * tc)
        return CopyOp(xp, nest.dram(at, dims), xt, dst)

    def halo(self, x: SSAValue, xt: SSAValue, tiles: int) -> list[Operation]:
        """Every channel tile's plane padded in SBUF from the unpadded input `x`:
        the planes zeroed, then one copy of the interiors."""
        hp, wp = self.shape.padded[2:]
        pt, pl, pb, pr = self.shape.pads
        h, w = hp - pt - pb, wp - pl - pr
        tc, nest = self.plan.tc, self.nest
        zero = MemsetOp(xt, _tile(xt, "sbuf", nest, tc, [(1, tiles * hp * wp)]), 0.0)
        per_tile = [(tc * h * w, tiles)] if tiles > 1 else []
        src = nest.dram(0, [(h * w, tc), *per_tile, (w, h), (1, w)])
        planes = [(hp * wp, tiles)] if tiles > 1 else []
        dst = nest.onchip(
            "sbuf", (pt * wp + pl) * F32, [(1, tc), *planes, (wp, h), (1, w)]
        )
        return [zero, CopyOp(x, src, xt, dst)]

    def window(self, xt: SSAValue, t: int, j: int, per_tile: int = 0) -> AccessAttr:
        """Tap t's strided window of block j's output rows in the band tile (of
        channel tile ct at `per_tile` elements per tile when it holds them all)."""
        wp = self.shape.padded[3]
        kw, ow = self.shape.weight[3], self.shape.out[3]
        (sh, sw), (dh, dw) = self.shape.strides, self.shape.dilations
        r, s = divmod(t, kw)
        offset = ((j * self.plan.rb * sh + r * dh) * wp + s * dw) * F32
        dims = [(1, self.plan.bands * self.plan.tc), (sh * wp, self.plan.rb), (sw, ow)]
        return self.nest.onchip("sbuf", self.nest.aff(offset, ct=per_tile * F32), dims)

    def y_at(self, j: int, b: int = 0) -> AccessAttr:
        """Block j of the band in y (and in the addend); with
        `DepthwiseTiles.bands`, of band `b`."""
        c, oh, ow = self.shape.out[1:]
        tc, block = self.plan.tc, self.plan.rb * ow
        at = self.nest.aff(
            (j * block + b * (oh // self.plan.bands) * ow) * F32,
            ct=tc * oh * ow * F32,
            n=c * oh * ow * F32,
            bg=self.plan.nb * block * F32,
        )
        return self.nest.dram(at, [(oh * ow, tc), (1, block)])

    def y_all(self) -> AccessAttr:
        """All of y, channel tile by channel tile (one image, one block each)."""
        c, oh, ow = self.shape.out[1:]
        tc = self.plan.tc
        return self.nest.dram(0, [(oh * ow, tc), (tc * oh * ow, c // tc), (1, oh * ow)])


def _pe_nest(
    layer: _Layer,
    xp: SSAValue,
    wgt: SSAValue,
    bias: SSAValue | None,
    y: SSAValue,
    activation: str,
    addend: SSAValue | None,
) -> list[Operation]:
    """Per channel tile, the tap diagonals by ACT (identity * weight column); per
    band, tap-outer bank-inner matmuls, then each bank evacuated."""
    plan, nest, taps = layer.plan, layer.nest, layer.taps
    tc, nb, block = plan.tc, plan.nb, plan.rb * layer.shape.out[3]
    ident = ConstOp(dense_f32(np.eye(tc, dtype=np.float32)))
    wt, bt = layer.held(wgt, bias)
    it = nest.tile("sbuf", tc, tc)
    diag = nest.tile("sbuf", tc, taps * tc)
    xt = nest.tile("sbuf", tc, plan.hb * layer.shape.padded[3])
    accs = [nest.tile("psum", tc, block) for _ in range(nb)]
    outs = [nest.tile("sbuf", tc, block) for _ in range(nb)]
    it_ap = _tile(it, "sbuf", nest, tc, [(1, tc)])
    nest.put(None, CopyOp(ident.result, nest.dram(0, [(tc, tc), (1, tc)]), it, it_ap))

    diag_aps = [
        _tile(diag, "sbuf", nest, tc, [(1, tc)], offset=t * tc * F32)
        for t in range(taps)
    ]
    for t in range(taps):
        scale = layer.column(wt, t, taps)
        nest.put("ct", ActOp("identity", diag, diag_aps[t], it, it_ap, scale_col=scale))

    bias_col = layer.column(bt, 0, 1) if bt is not None else None
    band: list[Operation] = [layer.band(xp, xt, 1)]
    acc_aps = [_tile(acc, "psum", nest, tc, [(1, block)]) for acc in accs]
    out_aps = [_tile(out, "sbuf", nest, tc, [(1, block)]) for out in outs]
    for t in range(taps):
        for j in range(nb):
            moving = layer.window(xt, t, j)
            zero = -1 if t == 0 else None
            band.append(
                MatmulOp(accs[j], acc_aps[j], diag, diag_aps[t], xt, moving, zero)
            )
    for j in range(nb):
        y_ap = layer.y_at(j)
        src, src_ap = accs[j], acc_aps[j]
        if addend is not None:
            band.append(CopyOp(addend, y_ap, outs[j], out_aps[j]))
            band.append(
                TensorTensorOp(
                    "add", outs[j], out_aps[j], accs[j], acc_aps[j], outs[j], out_aps[j]
                )
            )
            src, src_ap = outs[j], out_aps[j]
        band.append(
            ActOp(activation, outs[j], out_aps[j], src, src_ap, bias_col=bias_col)
        )
        band.append(CopyOp(outs[j], out_aps[j], y, y_ap))
    nest.put("bg", *band)
    return [ident, nest.build()]


def _vector_nest(
    layer: _Layer,
    xp: SSAValue,
    wgt: SSAValue,
    bias: SSAValue | None,
    y: SSAValue,
    activation: str,
    addend: SSAValue | None,
) -> list[Operation]:
    """Per block, ACT writes tap 0 times its weight column plus the bias into the
    sum, then for every other tap the product into one of two tiles (ACT writes one
    while POOL adds the other into the sum). Resident, the input of every channel
    tile is loaded before the loop and every sum stored after it."""
    plan, nest, taps = layer.plan, layer.nest, layer.taps
    tc, block = plan.tc, plan.rb * layer.shape.out[3]
    k = plan.bands  # (bands side by side: k x tc partitions)
    tiles = layer.shape.padded[1] // tc if plan.resident else 1
    band_elems = plan.hb * layer.shape.padded[3]
    wt, bt = layer.held(wgt, bias)
    xt = nest.tile("sbuf", k * tc, tiles * band_elems)
    acc = nest.tile("sbuf", k * tc, tiles * block)
    prods = [nest.tile("sbuf", k * tc, block) for _ in range(2)]

    per_tile = band_elems if plan.resident else 0
    acc_ap = nest.onchip(
        "sbuf", nest.aff(ct=block * F32 if plan.resident else 0), [(1, k * tc), (1, block)]
    )
    prod_aps = [_tile(p, "sbuf", nest, k * tc, [(1, block)]) for p in prods]
    bias_col = layer.column(bt, 0, 1) if bt is not None else None
    ops: list[Operation] = []
    for t in range(taps):
        scale = layer.column(wt, t, taps)
        window = layer.window(xt, t, 0, per_tile)
        if t == 0:
            ops.append(
                ActOp(
                    "identity",
                    acc,
                    acc_ap,
                    xt,
                    window,
                    scale_col=scale,
                    bias_col=bias_col,
                )
            )
            continue
        if plan.fma:  # sum += window * w[:, t], one POOL instruction
            ops.append(TensorTensorOp("add", acc, acc_ap, xt, window, acc, acc_ap, scale_col=scale))
            continue
        prod, prod_ap = prods[t % 2], prod_aps[t % 2]
        ops.append(ActOp("identity", prod, prod_ap, xt, window, scale_col=scale))
        ops.append(TensorTensorOp("add", acc, acc_ap, acc, acc_ap, prod, prod_ap))
    if addend is not None:
        for b in range(k):
            part = nest.onchip("sbuf", 0, [(1, tc), (1, block)], pstart=b * tc)
            ops.append(CopyOp(addend, layer.y_at(0, b), prods[0], part))
        ops.append(
            TensorTensorOp("add", acc, acc_ap, acc, acc_ap, prods[0], prod_aps[0])
        )
    if activation != "identity":
        ops.append(ActOp(activation, acc, acc_ap, acc, acc_ap))

    whole = _tile(acc, "sbuf", nest, tc, [(1, tiles * block)])
    if plan.resident:  # one load before the channel tiles, one store after them
        nest.put(
            None,
            *(layer.halo(xp, xt, tiles) if plan.halo else [layer.band(xp, xt, tiles)]),
        )
        nest.put("ct", *ops)
        nest.put_after(None, CopyOp(acc, whole, y, layer.y_all()))
    else:
        loads = [layer.band(xp, xt, 1, b) for b in range(k)]
        stores = [
            CopyOp(acc, nest.onchip("sbuf", 0, [(1, tc), (1, block)], pstart=b * tc), y, layer.y_at(0, b))
            for b in range(k)
        ] if k > 1 else [CopyOp(acc, whole, y, layer.y_at(0))]
        nest.put("bg", *loads, *ops, *stores)
    return [nest.build()]


def _diagonals(weights: np.ndarray, tc: int, tiles: int) -> np.ndarray:
    """[tiles * tc, taps * tc]: for channel tile k and tap t, diag(w[k*tc:(k+1)*tc, t])."""
    w = weights.reshape(weights.shape[0], -1)[: tiles * tc]
    taps = w.shape[1]
    out = np.zeros((tiles, tc, taps, tc), np.float32)
    i = np.arange(tc)
    out[:, i, :, i] = w.reshape(tiles, tc, taps).transpose(1, 0, 2)
    return out.reshape(tiles * tc, taps * tc)


def _inplace_nest(
    layer: _Layer,
    x: SSAValue,
    wgt: SSAValue,
    bias: SSAValue | None,
    y: SSAValue,
    activation: str,
    addend: SSAValue | None,
    weights: np.ndarray | None,
) -> list[Operation]:
    """The vector form on the unpadded input, one image, every channel tile
    resident, unrolled over the channel tiles: one copy loads every plane as it
    lies. The last `pe_tiles` tiles go to the PE array, emitted first: per PSUM block of
    output rows, the block's full tap (diag(w[:, t]) from a constant of diagonals,
    loaded once) starts the block, every other tap accumulates over its rectangle.
    Then per first tile ACT (POOL with `pool_first`, the bias or the weight column
    read by a broadcast) writes the full tap times its weight column plus the bias
    into the sum, and for every other tap the product over the rectangle of
    outputs its window keeps inside the image (ACT writes one product tile while
    POOL adds the other into the sum's rectangle). Then ACT evacuates the PE
    blocks into the sum (plus the bias); the addend and the activation; one copy
    stores every sum."""
    plan, nest, shape = layer.plan, layer.nest, layer.shape
    tc, taps = plan.tc, layer.taps
    c, hp, wp = shape.padded[1:]
    pt, pl, pb, pr = shape.pads
    h, w = hp - pt - pb, wp - pl - pr
    oh, ow = shape.out[2:]
    (sh, sw) = shape.strides
    tiles = c // tc
    plane, block = h * w, oh * ow
    wt, bt = layer.held(wgt, bias)
    xt = nest.tile("sbuf", tc, tiles * plane)
    acc = nest.tile("sbuf", tc, tiles * block)
    prods = [nest.tile("sbuf", tc, block) for _ in range(2)]
    per_tile = [(tc * plane, tiles)] if tiles > 1 else []
    load = CopyOp(
        x,
        nest.dram(0, [(plane, tc), *per_tile, (1, plane)]),
        xt,
        _tile(xt, "sbuf", nest, tc, [(1, tiles * plane)]),
    )
    ops: list[Operation] = [load]

    def window(k: int, iy: int, ix: int, ny: int, nx: int) -> AccessAttr:
        return nest.onchip("sbuf", (k * plane + iy * w + ix) * F32, [(1, tc), (sh * w, ny), (sw, nx)])

    def rect(base: int, oy: int, ox: int, ny: int, nx: int) -> AccessAttr:
        return nest.onchip("sbuf", (base + oy * ow + ox) * F32, [(1, tc), (ow, ny), (1, nx)])

    const: list[Operation] = []
    evacuations: list[Operation] = []
    first_pe = tiles - plan.pe_tiles  # the PE array takes the last tiles
    split = first_pe - 1 if plan.pe_rows else None  # and rows [0, pe_rows) of this one
    first_diag = first_pe - (split is not None)
    if first_diag < tiles:
        assert weights is not None, "the PE tiles of the in-place form need the weights"
        ndiag = tiles - first_diag
        diag_const = ConstOp(dense_f32(_diagonals(weights[first_diag * tc :], tc, ndiag)))
        const.append(diag_const)
        dt = nest.tile("sbuf", tc, ndiag * taps * tc)
        per_pe = [(tc * taps * tc, ndiag)] if ndiag > 1 else []
        src = nest.dram(0, [(taps * tc, tc), *per_pe, (1, taps * tc)])
        ops.append(CopyOp(diag_const.result, src, dt, _tile(dt, "sbuf", nest, tc, [(1, ndiag * taps * tc)])))
        rb = plan.pe_rb
        for k in range(first_diag, tiles):
            for b0 in range(0, plan.pe_rows if k == split else oh, rb):
                ps = nest.tile("psum", tc, rb * ow)
                for i, (t, (ny, nx), (oy, ox), (iy, ix)) in enumerate(tap_rects(shape, (b0, b0 + rb))):
                    st = nest.onchip("sbuf", ((k - first_diag) * taps + t) * tc * F32, [(1, tc), (1, tc)])
                    dst = nest.onchip("psum", ((oy - b0) * ow + ox) * F32, [(1, tc), (ow, ny), (1, nx)])
                    ops.append(MatmulOp(ps, dst, dt, st, xt, window(k, iy, ix, ny, nx), -1 if i == 0 else None))
                whole = nest.onchip("psum", 0, [(1, tc), (1, rb * ow)])
                out = nest.onchip("sbuf", (k * block + b0 * ow) * F32, [(1, tc), (1, rb * ow)])
                bias_col = layer.column(bt, 0, 1, k) if bt is not None else None
                evacuations.append(ActOp("identity", acc, out, ps, whole, bias_col=bias_col))
    for k in range(first_pe):
        bias_col = layer.column(bt, 0, 1, k) if bt is not None else None
        rows = (plan.pe_rows, oh) if k == split else None
        for i, (t, (ny, nx), (oy, ox), (iy, ix)) in enumerate(tap_rects(shape, rows)):
            scale = layer.column(wt, t, taps, k)
            if i == 0 and plan.pool_first:  # on POOL: sum = window * w[:, t] (+ bias)
                # the bias column (else the weight column) read by a broadcast
                col_tile, col_ap = bias_col if bias_col is not None else scale
                bcast = nest.onchip("sbuf", col_ap.offset, [(1, tc), (0, ny), (0, nx)])
                sum_ap, win = rect(k * block, oy, ox, ny, nx), window(k, iy, ix, ny, nx)
                if bias_col is not None:
                    ops.append(TensorTensorOp("add", acc, sum_ap, xt, win, col_tile, bcast, scale_col=scale))
                else:
                    ops.append(TensorTensorOp("mul", acc, sum_ap, xt, win, col_tile, bcast))
                continue
            if i == 0:
                ops.append(ActOp("identity", acc, rect(k * block, oy, ox, ny, nx), xt, window(k, iy, ix, ny, nx), scale_col=scale, bias_col=bias_col))
                continue
            acc_ap = rect(k * block, oy, ox, ny, nx)
            if plan.fma:  # the sum's rectangle += window * w[:, t], one POOL instruction
                ops.append(TensorTensorOp("add", acc, acc_ap, xt, window(k, iy, ix, ny, nx), acc, acc_ap, scale_col=scale))
                continue
            prod = prods[i % 2]
            prod_ap = rect(0, oy, ox, ny, nx)
            ops.append(ActOp("identity", prod, prod_ap, xt, window(k, iy, ix, ny, nx), scale_col=scale))
            ops.append(TensorTensorOp("add", acc, acc_ap, acc, acc_ap, prod, prod_ap))
    ops += evacuations
    for k in range(tiles):
        acc_all = nest.onchip("sbuf", k * block * F32, [(1, tc), (1, block)])
        if addend is not None:
            prod_all = _tile(prods[0], "sbuf", nest, tc, [(1, block)])
            add_ap = nest.dram(k * tc * block * F32, [(block, tc), (1, block)])
            ops.append(CopyOp(addend, add_ap, prods[0], prod_all))
            ops.append(TensorTensorOp("add", acc, acc_all, acc, acc_all, prods[0], prod_all))
        if activation != "identity":
            ops.append(ActOp(activation, acc, acc_all, acc, acc_all))
    whole = _tile(acc, "sbuf", nest, tc, [(1, tiles * block)])
    ops.append(CopyOp(acc, whole, y, layer.y_all()))
    nest.put(None, *ops)
    return [*const, nest.build()]

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
  identity (a `loop.const`) once and the weights [tc, kh*kw] once per channel
  tile, and one ACT per tap writes identity * w[:, t] (ACT's per-partition scale
  column). Taps run outermost and row blocks innermost, each block in its own PSUM
  bank, so the array loads each diagonal once per band of up to `psum_banks`
  blocks; each bank is evacuated by ACT (activation(. + bias), after a POOL add of
  the addend when there is one).
- "vector": per block, ACT writes window_0 * w[:, 0] + bias into the sum, then for
  each other tap the product window_t * w[:, t] into one of two tiles, which POOL
  adds into the sum while ACT writes the next; blocks hold up to FREE_MAX pixels.

    ct (channel tiles): load weights, bias  [pe: 9 x act(diag_t = I * w[:, t])]
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
blocks of up to 2048 pixels. On both preset chips the vector form is the cheaper
one for every shape (the PE form is ~9% over for large images, 2-4x over for
ShuffleNet's 14x14 and 7x7 layers); the PE form is kept for chips that hide the
stationary load, where it frees ACT and POOL. Measured on the default chip
(`program_cost` of the layer's nest alone, busiest engine):

    ShuffleNet layer              pe form (PE)   vector form (ACT)
    112 ch 56x56 stride 2              10,494          7,632
    136 ch 28x28                       20,988         15,264
    272 ch 14x14                       20,808          9,360

and on the whole of ShuffleNet (`tidal-run --stats`, onnxruntime max rel err
5.6e-7): 45,536,453 cycles with `--disable-opt depthwise` (PE busy 25.9 M in
70,553 matmuls), 3,430,527 with the PE form forced, 3,058,903 with the vector
form the plan chooses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from tidal.dialects.accel import AccessAttr, Aff
from tidal.dialects.loop import (
    ActOp,
    ConstOp,
    CopyOp,
    MatmulOp,
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
from xdsl.ir import Operation, SSAValue

if TYPE_CHECKING:
    from tidal.passes.conversion.kernels.conv import ConvShape


def applies(shape: ConvShape) -> bool:
    """Whether `shape` is a depthwise conv this kernel runs: one input and one output
    channel per group (weight [C, 1, kh, kw], group == C input == C output)."""
    c = shape.padded[1]
    cout, cg_in, _, _ = shape.weight
    return cg_in == 1 and shape.group == c == cout and c > 1


@dataclass(frozen=True, kw_only=True)
class DepthwiseTiles(NestPlan):
    """`form` "pe" (block-diagonal matmuls) or "vector" (ACT and POOL); `tc`
    channels per tile (on partitions, and the diagonals' size); blocks of `rb`
    output rows (one PSUM bank each in the PE form), `nb` blocks per band of `hb`
    input rows (always 1 in the vector form); `cycles`: the busiest engine's
    estimated cycles per channel tile, by the datasheet, that chose the form."""

    form: str
    tc: int
    rb: int
    nb: int
    hb: int
    cycles: int


def _cost(
    opcode: Opcode, chip: ChipConfig, shape: tuple[int, ...], reload: bool = True
) -> float:
    """The datasheet's cycles of one instruction whose accesses have `shape`."""
    shapes = dict.fromkeys(("src", "dst", "a", "b", "moving", "stationary"), shape)
    return INSTRUCTIONS[opcode].cost(chip, shapes, reload)


def _need(shape: ConvShape, form: str, tc: int, rb: int, nb: int) -> tuple[int, int]:
    """Input rows per band and bytes per SBUF partition of the nest's tiles."""
    wp = shape.padded[3]
    _, _, kh, kw = shape.weight
    ow = shape.out[3]
    hb = (nb * rb - 1) * shape.strides[0] + (kh - 1) * shape.dilations[0] + 1
    taps = kh * kw
    if form == "vector":  # weights, band, bias, sum and two products
        return hb, sbuf_bytes(taps, hb * wp, 1, rb * ow, rb * ow, rb * ow)
    # identity, weights, diagonals, band, bias, one output tile per bank
    return hb, sbuf_bytes(tc, taps, taps * tc, hb * wp, 1) + nb * aligned(rb * ow * F32)


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
        return DepthwiseTiles(
            origin,
            tc,
            need,
            psum,
            form="pe",
            tc=tc,
            rb=rb,
            nb=nb,
            hb=hb,
            cycles=round(max(pe, act)),
        )
    refusal = over_sbuf(chip, origin, _need(shape, "pe", tc, rb, 1)[1])
    assert refusal is not None  # nb = 1 was tried
    return refusal


def _plan_vector(
    chip: ChipConfig, origin: str, shape: ConvShape, tc: int
) -> DepthwiseTiles | Refusal:
    n = shape.padded[0]
    _, _, kh, kw = shape.weight
    _, _, oh, ow = shape.out
    if ow > FREE_MAX:
        return Refusal(
            f"'{origin}': output rows of {ow} pixels exceed one tile ({FREE_MAX} fp32)"
        )
    # The most output rows per block whose tiles fit SBUF.
    rbs = [rb for rb in range(min(oh, FREE_MAX // ow), 0, -1) if oh % rb == 0]
    for rb in rbs:
        hb, need = _need(shape, "vector", tc, rb, 1)
        if need > chip.sbuf_partition_bytes:
            continue
        taps, block, blocks = kh * kw, (tc, rb * ow), n * oh // rb
        act = blocks * taps * _cost(Opcode.ACT, chip, block)
        pool = blocks * (taps - 1) * _cost(Opcode.TENSOR_TENSOR, chip, block)
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
            cycles=round(max(act, pool)),
        )
    return over_sbuf(chip, origin, _need(shape, "vector", tc, 1, 1)[1]) or Refusal(
        origin
    )


def plan_depthwise(
    chip: ChipConfig, origin: str, shape: ConvShape, form: str | None = None
) -> DepthwiseTiles | Refusal:
    """The tiles of the cheaper form by the datasheet (the PE form on a tie), or of
    `form` when given; a refusal when no form fits (the vector form's reason when
    neither does, as it has fewer limits)."""
    limit = min(chip.pe_rows, chip.pe_cols, chip.sbuf_partitions, chip.psum_partitions)
    tc = largest_divisor(shape.padded[1], limit)
    pe = _plan_pe(chip, origin, shape, tc) if form in (None, "pe") else None
    vector = _plan_vector(chip, origin, shape, tc) if form in (None, "vector") else None
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
) -> list[Operation]:
    """y = activation(depthwise_conv(xp, wgt) + bias + addend) on an already padded
    NCHW input: the PE form's identity constant and its nest, or the vector form's
    nest."""
    build = _pe_nest if plan.form == "pe" else _vector_nest
    return build(plan, xp, wgt, bias, y, shape, activation, addend)


def _common(
    plan: DepthwiseTiles,
    xp: SSAValue,
    wgt: SSAValue,
    bias: SSAValue | None,
    shape: ConvShape,
) -> tuple[
    Nest,
    SSAValue,
    list[Operation],
    tuple[SSAValue, AccessAttr] | None,
    SSAValue,
    Operation,
]:
    """The nest over (channel tile, image, band), its weight tile [tc, taps] with the
    copy of a channel tile's weights (and bias column), and the input band tile with
    its copy."""
    n, c, hp, wp = shape.padded
    _, _, kh, kw = shape.weight
    oh = shape.out[2]
    taps, tc, rb, nb, hb = kh * kw, plan.tc, plan.rb, plan.nb, plan.hb
    sh = shape.strides[0]
    nest = Nest(plan.name, [("ct", c // tc), ("n", n), ("bg", oh // (rb * nb))])
    wt = nest.tile("sbuf", tc, taps)
    w_ap = nest.dram(nest.aff(ct=tc * taps * F32), [(taps, tc), (1, taps)])
    per_tile: list[Operation] = [
        CopyOp(wgt, w_ap, wt, _tile(wt, "sbuf", nest, tc, [(1, taps)]))
    ]
    bias_col = None
    if bias is not None:
        col = nest.tile("sbuf", tc, 1)
        col_ap = _tile(col, "sbuf", nest, tc, [(1, 1)])
        per_tile.append(
            CopyOp(
                bias, nest.dram(nest.aff(ct=tc * F32), [(1, tc), (1, 1)]), col, col_ap
            )
        )
        bias_col = (col, col_ap)
    xt = nest.tile("sbuf", tc, hb * wp)
    x_ap = nest.dram(
        nest.aff(
            ct=tc * hp * wp * F32, n=c * hp * wp * F32, bg=nb * rb * sh * wp * F32
        ),
        [(hp * wp, tc), (1, hb * wp)],
    )
    load = CopyOp(xp, x_ap, xt, _tile(xt, "sbuf", nest, tc, [(1, hb * wp)]))
    return nest, wt, per_tile, bias_col, xt, load


def _window(
    nest: Nest, plan: DepthwiseTiles, xt: SSAValue, shape: ConvShape, t: int, j: int
) -> AccessAttr:
    """Tap t's strided window of block j's output rows in the input band."""
    wp = shape.padded[3]
    kw, ow = shape.weight[3], shape.out[3]
    (sh, sw), (dh, dw) = shape.strides, shape.dilations
    r, s = divmod(t, kw)
    offset = ((j * plan.rb * sh + r * dh) * wp + s * dw) * F32
    return _tile(
        xt, "sbuf", nest, plan.tc, [(sh * wp, plan.rb), (sw, ow)], offset=offset
    )


def _y_at(nest: Nest, plan: DepthwiseTiles, shape: ConvShape, j: int) -> Aff:
    """DRAM offset of block j of the band in y (and in the addend)."""
    c, oh, ow = shape.out[1], shape.out[2], shape.out[3]
    block = plan.rb * ow
    return nest.aff(
        j * block * F32,
        ct=plan.tc * oh * ow * F32,
        n=c * oh * ow * F32,
        bg=plan.nb * block * F32,
    )


def _pe_nest(
    plan: DepthwiseTiles,
    xp: SSAValue,
    wgt: SSAValue,
    bias: SSAValue | None,
    y: SSAValue,
    shape: ConvShape,
    activation: str,
    addend: SSAValue | None,
) -> list[Operation]:
    """Per channel tile, the tap diagonals by ACT (identity * weight column); per
    band, tap-outer bank-inner matmuls, then each bank evacuated."""
    _, _, kh, kw = shape.weight
    oh, ow = shape.out[2], shape.out[3]
    taps, tc, nb, block = kh * kw, plan.tc, plan.nb, plan.rb * ow
    ident = ConstOp(dense_f32(np.eye(tc, dtype=np.float32)))
    nest, wt, per_tile, bias_col, xt, load = _common(plan, xp, wgt, bias, shape)
    it = nest.tile("sbuf", tc, tc)
    diag = nest.tile("sbuf", tc, taps * tc)
    accs = [nest.tile("psum", tc, block) for _ in range(nb)]
    outs = [nest.tile("sbuf", tc, block) for _ in range(nb)]
    it_ap = _tile(it, "sbuf", nest, tc, [(1, tc)])
    nest.put(None, CopyOp(ident.result, nest.dram(0, [(tc, tc), (1, tc)]), it, it_ap))

    diag_aps = [
        _tile(diag, "sbuf", nest, tc, [(1, tc)], offset=t * tc * F32)
        for t in range(taps)
    ]
    for t in range(taps):
        scale = (wt, _tile(wt, "sbuf", nest, tc, [(1, 1)], offset=t * F32))
        per_tile.append(
            ActOp("identity", diag, diag_aps[t], it, it_ap, scale_col=scale)
        )
    nest.put("ct", *per_tile)

    band: list[Operation] = [load]
    acc_aps = [_tile(acc, "psum", nest, tc, [(1, block)]) for acc in accs]
    out_aps = [_tile(out, "sbuf", nest, tc, [(1, block)]) for out in outs]
    for t in range(taps):
        for j in range(nb):
            moving = _window(nest, plan, xt, shape, t, j)
            band.append(
                MatmulOp(
                    accs[j],
                    acc_aps[j],
                    diag,
                    diag_aps[t],
                    xt,
                    moving,
                    -1 if t == 0 else None,
                )
            )
    for j in range(nb):
        y_ap = nest.dram(_y_at(nest, plan, shape, j), [(oh * ow, tc), (1, block)])
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
    plan: DepthwiseTiles,
    xp: SSAValue,
    wgt: SSAValue,
    bias: SSAValue | None,
    y: SSAValue,
    shape: ConvShape,
    activation: str,
    addend: SSAValue | None,
) -> list[Operation]:
    """Per block, ACT writes tap 0 times its weight column plus the bias into the
    sum, then for every other tap the product into one of two tiles (ACT writes one
    while POOL adds the other into the sum)."""
    _, _, kh, kw = shape.weight
    oh, ow = shape.out[2], shape.out[3]
    taps, tc, block = kh * kw, plan.tc, plan.rb * ow
    nest, wt, per_tile, bias_col, xt, load = _common(plan, xp, wgt, bias, shape)
    acc = nest.tile("sbuf", tc, block)
    prods = [nest.tile("sbuf", tc, block) for _ in range(2)]
    nest.put("ct", *per_tile)

    acc_ap = _tile(acc, "sbuf", nest, tc, [(1, block)])
    prod_aps = [_tile(p, "sbuf", nest, tc, [(1, block)]) for p in prods]
    band: list[Operation] = [load]
    for t in range(taps):
        scale = (wt, _tile(wt, "sbuf", nest, tc, [(1, 1)], offset=t * F32))
        window = _window(nest, plan, xt, shape, t, 0)
        if t == 0:
            band.append(
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
        prod, prod_ap = prods[t % 2], prod_aps[t % 2]
        band.append(ActOp("identity", prod, prod_ap, xt, window, scale_col=scale))
        band.append(TensorTensorOp("add", acc, acc_ap, acc, acc_ap, prod, prod_ap))
    y_ap = nest.dram(_y_at(nest, plan, shape, 0), [(oh * ow, tc), (1, block)])
    if addend is not None:
        band.append(CopyOp(addend, y_ap, prods[0], prod_aps[0]))
        band.append(
            TensorTensorOp("add", acc, acc_ap, acc, acc_ap, prods[0], prod_aps[0])
        )
    if activation != "identity":
        band.append(ActOp(activation, acc, acc_ap, acc, acc_ap))
    band.append(CopyOp(acc, acc_ap, y, y_ap))
    nest.put("bg", *band)
    return [nest.build()]

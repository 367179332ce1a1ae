"""Depthwise convolutions (one input channel per group) as block-diagonal matmuls
on the whole PE array.

A depthwise conv through the general conv nest is one single-row matmul per
channel and filter tap, each loading a new 1x1 stationary operand. Here up to 128
channels go on partitions at once: for filter tap t the stationary operand is the
diagonal matrix diag(w[:, t]), so one matmul computes tap t of every channel of the
tile for a whole block of output rows (acc[c, :] += w[c, t] * window_t[c, :]), and
the kh*kw taps accumulate in PSUM.

The diagonals are built on chip, not stored in DRAM: the nest loads a `tc`x`tc`
identity (a `loop.const`) once and the layer's weights [tc channels, kh*kw] once
per channel tile, and one ACT instruction per tap writes identity * w[:, t] (ACT's
per-partition scale column) into the tap's slice of the diagonal tile. Loops run
taps outermost and row blocks innermost, each block accumulating in its own PSUM
bank, so the array loads each diagonal once per band of up to `psum_banks` row
blocks (the machine reloads only when the stationary access changes):

    ct (channel tiles): load weights, bias; 9 x act(diag_t = I * w[:, t])
      n (batch):
        bg (bands of nb row blocks): load the input band
          tap t = 0..8: bank j = 0..nb-1: matmul acc_j (+)= diag_t^T @ window(t, j)
          bank j: [addend: copy, pool add] act(acc_j + bias) -> out_j -> y

Why the PE array and not the vector engines, by the datasheet's costs
(`tidal.sim.spec`, `passes/analysis/cost.py`) for ShuffleNet's 136-channel 28x28
3x3 layer on the default chip (two tiles of 68 channels, two row blocks of 392
pixels in two banks), per channel tile:

- block-diagonal (this kernel): PE 9 taps x (2 x 392 + 382 reload) = 10,494 cycles;
  ACT 9 x (64 + 68) to build the diagonals + 2 x (64 + 392) to evacuate = 2,100;
- vector engines (per tap and block, ACT multiplies the shifted window by w[:, t]
  and POOL accumulates): ACT 18 x (64 + 392) = 8,208 and POOL the same, in
  parallel, so about 8,200 cycles, but on the two engines every other kernel's
  epilogue (bias, activations, the residual adds, pooling) also needs, where the
  PE array is otherwise idle during a depthwise layer;
- the general conv nest it replaces: 68 channels x 9 taps x (392 + 382) x 2
  blocks = 947,376 PE cycles.

The block-diagonal form is within 1.3x of the vector form on its own engine time
and leaves ACT and POOL free, and its cost shrinks towards 9 x pixels as bands
hold more banks (the reload is paid once per band); the vector form pays the
64-cycle fixed cost twice per tap and block. Measured on the whole ShuffleNet
(`tidal-run --stats`): see the commit that routes the conv helper here.

`plan_depthwise` decides the tiles and checks they fit (or refuses), building
nothing; `depthwise` builds the identity constant and the nest from the plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
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
    """`tc` channels per tile (on partitions, and the diagonals' size); blocks of
    `rb` output rows, one PSUM bank each, `nb` blocks per band of `hb` input rows."""

    tc: int
    rb: int
    nb: int
    hb: int


def _need(shape: ConvShape, tc: int, rb: int, nb: int) -> tuple[int, int]:
    """Input rows per band and bytes per SBUF partition of the nest's tiles."""
    wp = shape.padded[3]
    _, _, kh, kw = shape.weight
    ow = shape.out[3]
    hb = (nb * rb - 1) * shape.strides[0] + (kh - 1) * shape.dilations[0] + 1
    taps = kh * kw
    need = sbuf_bytes(tc, taps, taps * tc, hb * wp, 1) + nb * aligned(rb * ow * F32)
    return hb, need


def plan_depthwise(
    chip: ChipConfig, origin: str, shape: ConvShape
) -> DepthwiseTiles | Refusal:
    c = shape.padded[1]
    _, _, oh, ow = shape.out
    free_max = psum_free_max(chip)
    if ow > free_max:
        return Refusal(
            f"'{origin}': output rows of {ow} pixels exceed one PSUM bank "
            f"({free_max} fp32) on chip '{chip.name}'"
        )
    limit = min(chip.pe_rows, chip.pe_cols, chip.sbuf_partitions, chip.psum_partitions)
    tc = largest_divisor(c, limit)
    rb = largest_divisor(oh, free_max // ow)
    blocks = oh // rb
    # The most banks (row blocks sharing one load of each diagonal) that fit SBUF.
    for nb in range(min(blocks, chip.psum_banks), 0, -1):
        if blocks % nb:
            continue
        hb, need = _need(shape, tc, rb, nb)
        if need <= chip.sbuf_partition_bytes:
            psum = nb * aligned(rb * ow * F32)
            return DepthwiseTiles(origin, tc, need, psum, tc=tc, rb=rb, nb=nb, hb=hb)
    _, need = _need(shape, tc, rb, 1)
    refusal = over_sbuf(chip, origin, need)
    assert refusal is not None
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
    NCHW input: the identity constant, then the nest."""
    n, c, hp, wp = shape.padded
    _, _, kh, kw = shape.weight
    _, _, oh, ow = shape.out
    sh, sw = shape.strides
    dh, dw = shape.dilations
    taps = kh * kw
    tc, rb, nb, hb = plan.tc, plan.rb, plan.nb, plan.hb
    block = rb * ow

    ident = ConstOp(dense_f32(np.eye(tc, dtype=np.float32)))
    nest = Nest(plan.name, [("ct", c // tc), ("n", n), ("bg", oh // (rb * nb))])
    it = nest.tile("sbuf", tc, tc)
    wt = nest.tile("sbuf", tc, taps)
    diag = nest.tile("sbuf", tc, taps * tc)
    xt = nest.tile("sbuf", tc, hb * wp)
    accs = [nest.tile("psum", tc, block) for _ in range(nb)]
    outs = [nest.tile("sbuf", tc, block) for _ in range(nb)]
    it_ap = _tile(it, "sbuf", nest, tc, [(1, tc)])
    nest.put(None, CopyOp(ident.result, nest.dram(0, [(tc, tc), (1, tc)]), it, it_ap))

    # Per channel tile: its weights, its bias column and the tap diagonals.
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

    # Per band: the input rows of nb blocks, then tap-outer, bank-inner matmuls.
    x_ap = nest.dram(
        nest.aff(
            ct=tc * hp * wp * F32, n=c * hp * wp * F32, bg=nb * rb * sh * wp * F32
        ),
        [(hp * wp, tc), (1, hb * wp)],
    )
    band: list[Operation] = [
        CopyOp(xp, x_ap, xt, _tile(xt, "sbuf", nest, tc, [(1, hb * wp)]))
    ]
    acc_aps = [_tile(acc, "psum", nest, tc, [(1, block)]) for acc in accs]
    out_aps = [_tile(out, "sbuf", nest, tc, [(1, block)]) for out in outs]
    for t in range(taps):
        r, s = divmod(t, kw)
        for j in range(nb):
            window = ((j * rb * sh + r * dh) * wp + s * dw) * F32
            moving = _tile(
                xt, "sbuf", nest, tc, [(sh * wp, rb), (sw, ow)], offset=window
            )
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

    # Evacuation, per bank: [addend + acc on POOL], activation(. + bias) on ACT.
    for j in range(nb):
        at = nest.aff(
            ct=tc * oh * ow * F32,
            n=c * oh * ow * F32,
            bg=nb * block * F32,
            base=j * block * F32,
        )
        src, src_ap = accs[j], acc_aps[j]
        if addend is not None:
            band.append(
                CopyOp(
                    addend,
                    nest.dram(at, [(oh * ow, tc), (1, block)]),
                    outs[j],
                    out_aps[j],
                )
            )
            band.append(
                TensorTensorOp(
                    "add", outs[j], out_aps[j], accs[j], acc_aps[j], outs[j], out_aps[j]
                )
            )
            src, src_ap = outs[j], out_aps[j]
        band.append(
            ActOp(activation, outs[j], out_aps[j], src, src_ap, bias_col=bias_col)
        )
        band.append(
            CopyOp(outs[j], out_aps[j], y, nest.dram(at, [(oh * ow, tc), (1, block)]))
        )
    nest.put("bg", *band)
    return [ident, nest.build()]

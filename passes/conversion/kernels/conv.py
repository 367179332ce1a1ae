"""Convolution nests: channels on partitions; the input is zero-padded once in DRAM
(`pad`), then each output row block accumulates in one PSUM bank over input-channel
tiles (a loop) and filter taps (one matmul per tap, moving operand = a strided
window of the input band in SBUF).

`plan_*` picks the tiles and checks they fit (a `NestPlan` subclass, or a
`Refusal`), building nothing; `conv2d` and `pad` build the nest from that plan.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.ir import SSAValue

from tidal.dialects.loop import (
    ActOp,
    CopyOp,
    MatmulOp,
    MemsetOp,
    NestOp,
)
from tidal.passes.conversion.kernels.nest_builder import (
    F32,
    Nest,
    largest_divisor,
    psum_free_max,
    tile_ap as _tile,
)
from tidal.passes.conversion.kernels.plan import NestPlan, Refusal, over_sbuf, sbuf_bytes
from tidal.passes.conversion.kernels.base import (
    Kernel,
    alloc_result,
    origin_of,
    planned,
    shape_of,
)
from tidal.passes.conversion.kernels.plan import DEFAULT_OPTIONS, KernelOptions, Lowered, TilePlan
from xdsl.dialects.builtin import MemRefType, f32
from xdsl.ir import Operation
from tidal.dialects import graph
from tidal.dialects.loop import AllocOp
from tidal.sim.config import ChipConfig


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


@dataclass(frozen=True, kw_only=True)
class ConvTiles(NestPlan):
    """Blocks of rb output rows (hb input rows) per PSUM bank, tci input and tco
    output channels per step."""

    rb: int
    hb: int
    tci: int
    tco: int


def plan_conv2d(chip: ChipConfig, origin: str, shape: ConvShape) -> ConvTiles | Refusal:
    wp = shape.padded[3]
    cout, cg_in, kh, kw = shape.weight
    _, _, oh, ow = shape.out
    free_max = psum_free_max(chip)
    if ow > free_max:
        return Refusal(
            f"'{origin}': output rows of {ow} pixels exceed one PSUM bank "
            f"({free_max} fp32) on chip '{chip.name}'"
        )
    rb = largest_divisor(oh, free_max // ow)
    hb = (rb - 1) * shape.strides[0] + (kh - 1) * shape.dilations[0] + 1
    tci = largest_divisor(cg_in, chip.pe_rows)
    tco = largest_divisor(cout // shape.group, chip.pe_cols)
    need = sbuf_bytes(kh * kw * tco, hb * wp, rb * ow, 1)
    if refusal := over_sbuf(chip, origin, need):
        return refusal
    return ConvTiles(origin, max(tci, tco), need, rb * ow * F32, rb=rb, hb=hb, tci=tci, tco=tco)


def conv2d(
    plan: ConvTiles,
    xp: SSAValue,
    wgt: SSAValue,
    bias: SSAValue | None,
    y: SSAValue,
    shape: ConvShape,
) -> NestOp:
    """y = conv(xp, w) + bias on an already padded NCHW input."""
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

    epilogue = []
    if bias is not None:
        col = nest.tile("sbuf", tco, 1)
        col_ap = _tile(col, "sbuf", nest, tco, [(1, 1)])
        nest.put("co", CopyOp(bias, nest.dram(nest.aff(g=cg_out * F32, co=tco * F32), [(1, tco), (1, 1)]), col, col_ap))
        epilogue.append(ActOp("identity", out, out_ap, acc, acc_ap, bias_col=(col, col_ap)))
    else:
        epilogue.append(ActOp("identity", out, out_ap, acc, acc_ap))
    y_ap = nest.dram(
        nest.aff(n=cout * oh * ow * F32, g=cg_out * oh * ow * F32, co=tco * oh * ow * F32, b=rb * ow * F32),
        [(oh * ow, tco), (1, rb * ow)],
    )
    epilogue.append(CopyOp(out, out_ap, y, y_ap))
    nest.put_after("b", *epilogue)
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
        op.strides_val, op.dilations_val, op.group_val,
    )


class ConvKernel(Kernel):
    """graph.conv2d: a pad nest when it pads, then the PE-array nest."""

    def plan(
        self, op: Operation, chip: ChipConfig, options: KernelOptions = DEFAULT_OPTIONS
    ) -> TilePlan | Refusal:
        assert isinstance(op, graph.Conv2dOp)
        conv = plan_conv2d(chip, origin_of(op), _conv_shape(op))
        return planned(op, chip, *plan_pad_nest(op, chip), conv, options=options)

    def emit(self, plan: TilePlan) -> Lowered:
        op = plan.op
        tiles = plan.nest(ConvTiles)
        assert isinstance(op, graph.Conv2dOp) and tiles is not None
        y = alloc_result(op)
        x, ops = emit_pad(op, plan, 0.0)
        ops.append(conv2d(tiles, x, op.weight, op.bias, y.result, _conv_shape(op)))
        return Lowered([y, *ops], y.result)


CONV = ConvKernel()

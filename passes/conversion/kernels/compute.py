"""Tiled loop nests for each graph operator, sized from the chip preset.

Layout conventions (fp32 everywhere, tensors row-major in DRAM):
- matmul/gemm: the PE array computes Y^T tiles: weights (B) are the stationary
  operand with the contraction dim K on partitions, activations (A^T) stream as the
  moving operand; PSUM holds [N-tile partitions, M-tile]. Transposes are DMA access
  patterns, never copies.
- conv2d: channels on partitions; the input is zero-padded once in DRAM (`pad`),
  then each output row block accumulates in one PSUM bank over input-channel tiles
  (a loop) and filter taps (one matmul per tap, moving operand = a strided window of
  the input band in SBUF).
- element-wise ops: dims are coalesced across all operands, the second-to-last
  coalesced dim goes on partitions and broadcasting is a stride-0 DMA pattern.
- max pooling: a window reduction on POOL over a 4-free-dim access pattern.
- softmax: rows on partitions; max, exp(x - max), sum, reciprocal, scale.

Each kernel comes in two parts: `plan_<kernel>(chip, origin, sizes...)` picks the
tiles and checks they fit (a `NestPlan` subclass, or a `Refusal`), building nothing;
`<kernel>(plan, buffers...)` builds the nest from that plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import prod

from xdsl.ir import SSAValue

from tidal.dialects.loop import (
    ActOp,
    CopyOp,
    MatmulOp,
    MemsetOp,
    NestOp,
    ReduceOp,
    TensorTensorOp,
)
from tidal.passes.conversion.kernels.nest_builder import F32, Nest, largest_divisor
from tidal.passes.conversion.kernels.plan import NestPlan, Refusal, over_sbuf, sbuf_bytes
from tidal.sim.config import ChipConfig

# Largest free size of one element-wise / pooling tile, in elements per partition.
FREE_MAX = 2048


def psum_free_max(chip: ChipConfig) -> int:
    return min(chip.matmul_moving_max, chip.psum_bank_bytes // F32)


def _tile(dst: SSAValue, space: str, nest: Nest, parts: int, free: Sequence[tuple[int, int]], offset: int = 0):
    return nest.onchip(space, offset, [(1, parts), *free])


@dataclass(frozen=True, kw_only=True)
class GemmTiles(NestPlan):
    """Y[m, n] in [tn partitions, tm] PSUM tiles, contracting k in tk-row steps."""

    m: int
    n: int
    k: int
    tm: int
    tn: int
    tk: int


def plan_gemm(chip: ChipConfig, origin: str, *, m: int, n: int, k: int) -> GemmTiles | Refusal:
    tk = largest_divisor(k, chip.pe_rows)
    tn = largest_divisor(n, chip.pe_cols)
    tm = largest_divisor(m, psum_free_max(chip))
    need = sbuf_bytes(tn, tm, tm, 1, tm)
    if refusal := over_sbuf(chip, origin, need):
        return refusal
    return GemmTiles(origin, max(tk, tn), need, tm * F32, m=m, n=n, k=k, tm=tm, tn=tn, tk=tk)


def gemm(
    plan: GemmTiles,
    a: SSAValue,
    b: SSAValue,
    y: SSAValue,
    *,
    trans_a: bool,
    trans_b: bool,
    alpha: float = 1.0,
    beta: float = 1.0,
    c: tuple[SSAValue, tuple[int, int]] | None = None,
) -> NestOp:
    """Y[m, n] = alpha * op(A) @ op(B) + beta * C; `c` is (buffer, its broadcast
    strides over [m, n] in elements)."""
    m, n, k = plan.m, plan.n, plan.k
    tm, tn, tk = plan.tm, plan.tn, plan.tk
    nest = Nest(plan.name, [("n", n // tn), ("m", m // tm), ("k", k // tk)])

    acc = nest.tile("psum", tn, tm)
    wt = nest.tile("sbuf", tk, tn)
    xt = nest.tile("sbuf", tk, tm)
    out = nest.tile("sbuf", tn, tm)

    # moving X[kk, mm] = op(A)[m0 + mm, k0 + kk]
    if trans_a:  # A is [K, M]
        a_ap = nest.dram(nest.aff(k=tk * m * F32, m=tm * F32), [(m, tk), (1, tm)])
    else:  # A is [M, K]
        a_ap = nest.dram(nest.aff(m=tm * k * F32, k=tk * F32), [(1, tk), (k, tm)])
    # stationary W[kk, nn] = op(B)[k0 + kk, n0 + nn]
    if trans_b:  # B is [N, K]
        b_ap = nest.dram(nest.aff(n=tn * k * F32, k=tk * F32), [(1, tk), (k, tn)])
    else:  # B is [K, N]
        b_ap = nest.dram(nest.aff(k=tk * n * F32, n=tn * F32), [(n, tk), (1, tn)])
    nest.put(
        "k",
        CopyOp(b, b_ap, wt, _tile(wt, "sbuf", nest, tk, [(1, tn)])),
        CopyOp(a, a_ap, xt, _tile(xt, "sbuf", nest, tk, [(1, tm)])),
        MatmulOp(
            acc, _tile(acc, "psum", nest, tn, [(1, tm)]),
            wt, _tile(wt, "sbuf", nest, tk, [(1, tn)]),
            xt, _tile(xt, "sbuf", nest, tk, [(1, tm)]),
            nest.zero_at("k"),
        ),
    )

    out_ap = _tile(out, "sbuf", nest, tn, [(1, tm)])
    acc_ap = _tile(acc, "psum", nest, tn, [(1, tm)])
    epilogue = []
    if c is None:
        epilogue.append(ActOp("identity", out, out_ap, acc, acc_ap, scale=alpha))
    else:
        cbuf, (sm, sn) = c
        if sm == 0:  # one value per output column: a per-partition bias column
            col = nest.tile("sbuf", tn, 1)
            col_ap = _tile(col, "sbuf", nest, tn, [(1, 1)])
            nest.put("n", CopyOp(cbuf, nest.dram(nest.aff(n=tn * sn * F32), [(sn, tn), (1, 1)]), col, col_ap))
            if beta != 1.0:
                nest.put("n", ActOp("identity", col, col_ap, col, col_ap, scale=beta))
            epilogue.append(
                ActOp("identity", out, out_ap, acc, acc_ap, scale=alpha, bias_col=(col, col_ap))
            )
        else:  # a full [m, n] (or [m, 1]) addend: load C^T tiles and add on POOL
            ct = nest.tile("sbuf", tn, tm)
            ct_ap = _tile(ct, "sbuf", nest, tn, [(1, tm)])
            c_ap = nest.dram(nest.aff(n=tn * sn * F32, m=tm * sm * F32), [(sn, tn), (sm, tm)])
            epilogue.append(CopyOp(cbuf, c_ap, ct, ct_ap))
            if beta != 1.0:
                epilogue.append(ActOp("identity", ct, ct_ap, ct, ct_ap, scale=beta))
            epilogue.append(ActOp("identity", out, out_ap, acc, acc_ap, scale=alpha))
            epilogue.append(TensorTensorOp("add", out, out_ap, out, out_ap, ct, ct_ap))
    y_ap = nest.dram(nest.aff(m=tm * n * F32, n=tn * F32), [(1, tn), (n, tm)])
    epilogue.append(CopyOp(out, out_ap, y, y_ap))
    nest.put_after("m", *epilogue)
    return nest.build()


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


def plan_window_pool(
    chip: ChipConfig, origin: str, shape: PoolShape, *, with_recip: bool
) -> PoolTiles | Refusal:
    c, wp = shape.padded[1], shape.padded[3]
    _, _, oh, ow = shape.out
    if ow > FREE_MAX:
        return Refusal(f"'{origin}': output rows of {ow} pixels exceed {FREE_MAX}")
    rb = largest_divisor(oh, FREE_MAX // ow)
    hb = (rb - 1) * shape.strides[0] + shape.kernel[0]
    tc = largest_divisor(c, chip.sbuf_partitions)
    need = sbuf_bytes(hb * wp, rb * ow, *([rb * ow] if with_recip else []))
    if refusal := over_sbuf(chip, origin, need):
        return refusal
    return PoolTiles(origin, tc, need, rb=rb, hb=hb, tc=tc)


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


def plan_eltwise(
    chip: ChipConfig, origin: str, out_shape: Sequence[int], input_strides: Sequence[Sequence[int]]
) -> EltwiseTiles | Refusal:
    """`input_strides`: each input's (broadcast, possibly 0) element strides over
    `out_shape`."""
    out_strides = [prod(out_shape[i + 1 :]) for i in range(len(out_shape))]
    sizes, strides = coalesce(out_shape, [out_strides, *input_strides])
    if len(sizes) == 1:
        _split_last(sizes, strides, max(1, sizes[0] // largest_divisor(sizes[0], chip.sbuf_partitions)))
    if sizes[-1] > FREE_MAX:
        _split_last(sizes, strides, FREE_MAX)
    tp = largest_divisor(sizes[-2], chip.sbuf_partitions)
    tf = sizes[-1]
    need = sbuf_bytes(*[tf] * (len(input_strides) + 1))
    if refusal := over_sbuf(chip, origin, need):
        return refusal
    return EltwiseTiles(
        origin, tp, need, sizes=tuple(sizes), strides=tuple(tuple(st) for st in strides), tp=tp, tf=tf
    )


def eltwise(plan: EltwiseTiles, kind: str, y: SSAValue, inputs: Sequence[SSAValue]) -> NestOp:
    """y = kind(inputs...) for kind in relu | add | mul, tiled by `plan` (made from
    the inputs' strides, in this order). `add` takes two or more inputs (an n-ary
    sum, accumulated in one tile)."""
    sizes, strides, tp, tf = plan.sizes, plan.strides, plan.tp, plan.tf
    outer = sizes[:-2]
    dims = [(f"o{i}", s) for i, s in enumerate(outer)] + [("p", sizes[-2] // tp)]
    nest = Nest(plan.name, dims)

    def dram_ap(st: Sequence[int]):
        coeffs = {f"o{i}": st[i] * F32 for i in range(len(outer))}
        coeffs["p"] = st[-2] * tp * F32
        return nest.dram(nest.aff(**coeffs), [(st[-2], tp), (st[-1], tf)])

    tile_ap = lambda t: _tile(t, "sbuf", nest, tp, [(1, tf)])  # noqa: E731
    in_tiles = []
    body = []
    for buf, st in zip(inputs, strides[1:]):
        t = nest.tile("sbuf", tp, tf)
        in_tiles.append(t)
        body.append(CopyOp(buf, dram_ap(st), t, tile_ap(t)))
    out = nest.tile("sbuf", tp, tf)
    if kind == "relu":
        body.append(ActOp("relu", out, tile_ap(out), in_tiles[0], tile_ap(in_tiles[0])))
    else:
        a, b, *rest = in_tiles
        body.append(TensorTensorOp(kind, out, tile_ap(out), a, tile_ap(a), b, tile_ap(b)))
        for t in rest:
            body.append(TensorTensorOp(kind, out, tile_ap(out), out, tile_ap(out), t, tile_ap(t)))
    body.append(CopyOp(out, tile_ap(out), y, dram_ap(strides[0])))
    nest.put("p", *body)
    return nest.build()


@dataclass(frozen=True, kw_only=True)
class SoftmaxTiles(NestPlan):
    """`outer` x `inner` rows of `length` (the axis), tr rows on partitions."""

    outer: int
    length: int
    inner: int
    tr: int


def plan_softmax(chip: ChipConfig, origin: str, shape: Sequence[int], axis: int) -> SoftmaxTiles | Refusal:
    outer, length, inner = prod(shape[:axis]), shape[axis], prod(shape[axis + 1 :])
    need = sbuf_bytes(length, 1, 1, 1, 1)
    if refusal := over_sbuf(chip, origin, need):
        return refusal
    tr = largest_divisor(outer if inner == 1 else inner, chip.sbuf_partitions)
    return SoftmaxTiles(origin, tr, need, outer=outer, length=length, inner=inner, tr=tr)


def softmax(plan: SoftmaxTiles, x: SSAValue, y: SSAValue) -> NestOp:
    """y = exp(x - max) / sum(exp(x - max)) along the axis, rows on partitions."""
    outer, length, inner, tr = plan.outer, plan.length, plan.inner, plan.tr
    if inner == 1:
        nest = Nest(plan.name, [("o", 1), ("r", outer // tr)])
        io_ap = nest.dram(nest.aff(r=tr * length * F32), [(length, tr), (1, length)])
    else:
        nest = Nest(plan.name, [("o", outer), ("r", inner // tr)])
        io_ap = nest.dram(
            nest.aff(o=length * inner * F32, r=tr * F32), [(1, tr), (inner, length)]
        )
    xt = nest.tile("sbuf", tr, length)
    cols = [nest.tile("sbuf", tr, 1) for _ in range(4)]
    mx, neg, total, recip = cols
    row = _tile(xt, "sbuf", nest, tr, [(1, length)])
    col = {t: _tile(t, "sbuf", nest, tr, [(1, 1)]) for t in cols}
    nest.put(
        "r",
        CopyOp(x, io_ap, xt, row),
        ReduceOp("max", mx, col[mx], xt, row, 1),
        ActOp("identity", neg, col[neg], mx, col[mx], scale=-1.0),
        ActOp("exp", xt, row, xt, row, bias_col=(neg, col[neg])),
        ReduceOp("add", total, col[total], xt, row, 1),
        ActOp("reciprocal", recip, col[recip], total, col[total]),
        ActOp("identity", xt, row, xt, row, scale_col=(recip, col[recip])),
        CopyOp(xt, row, y, io_ap),
    )
    return nest.build()

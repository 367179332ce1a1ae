"""Nests for reductions across a whole plane and for normalisation across channels.

- global average pooling: one row per (image, channel) on partitions; the plane is
  summed on POOL in chunks of at most FREE_MAX elements into a column of partial
  sums, which one more reduction turns into the mean.
- LRN: channels on partitions. The sum of squares over a window of neighbouring
  channels crosses partitions, which POOL and ACT cannot do, so it is a matmul on
  the PE array with a constant banded [C, C] matrix (alpha / size inside the band):
  acc[co, f] = sum over ci of band[ci, co] * x[ci, f]^2, accumulated in PSUM over
  input-channel tiles. Then y = x * (bias + acc)^-beta = x * exp(-beta * ln(bias +
  acc)) on ACT, whose `log` and `exp` are table functions like the others.
  Merged with `pieces` (KernelOptions.lrn_pieces), the squares run in runs of 1, 1,
  2, 4, ... blocks of the matmuls' pixels instead of one instruction over every
  plane, so the array starts after one block's squares: Inception v1 (LRNs over
  64 and 192 channels at 56x56) 297,257 -> 286,306 cycles, AlexNet 977,519 ->
  973,374, ZFNet-512 1,368,728 -> 1,364,552 (default chip).

Merged (`merge=True`, KernelOptions.dma_merge, where SBUF holds it): global average
pooling loads every row tile in one descriptor and reduces them in one instruction;
LRN loads the band once and each image's planes once, [tc, channel tiles x plane],
and stores them once, instead of a descriptor per (pixel block, channel tile):

    tiles = plan_lrn(get_chip("default"), "norm1", (1, 192, 56, 56), bias=1.0, merge=True)
    tiles.merged  # True: 4 descriptors, against 84 unmerged

As in `conv` and the others, `plan_<kernel>` picks the tiles (or refuses) and `<kernel>` builds
the nest from the plan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from tidal.dialects.loop import (
    ActOp,
    CopyOp,
    MatmulOp,
    NestOp,
    ReduceOp,
    TensorTensorOp,
)
from tidal.passes.conversion.kernels.nest_builder import (
    F32,
    FREE_MAX,
    Nest,
    largest_divisor,
    psum_free_max,
)
from tidal.passes.conversion.kernels.nest_builder import tile_ap as _tile
from tidal.passes.conversion.kernels.plan import (
    NestPlan,
    Refusal,
    over_sbuf,
    sbuf_bytes,
)
from tidal.sim.config import ChipConfig
from xdsl.ir import SSAValue


@dataclass(frozen=True, kw_only=True)
class GlobalPoolTiles(NestPlan):
    """`rows` (image, channel) rows, tr on partitions; each `plane` summed in
    `chunks` chunks of `chunk` elements."""

    rows: int
    plane: int
    tr: int
    chunk: int
    chunks: int
    merged: bool = False  # every row tile's whole plane at once, no loops


def plan_global_avgpool(
    chip: ChipConfig, origin: str, shape: tuple[int, ...], *, merge: bool = False
) -> GlobalPoolTiles | Refusal:
    """Chunks of at most FREE_MAX pixels per step; with `merge`, all of it in one
    step when every row tile's plane fits one SBUF partition."""
    n, c, h, w = shape
    rows, plane = n * c, h * w
    tr = largest_divisor(rows, chip.sbuf_partitions)
    if merge:
        need = sbuf_bytes(rows // tr * plane, rows // tr)
        if need <= chip.sbuf_partition_bytes:
            return GlobalPoolTiles(
                origin, tr, need, rows=rows, plane=plane, tr=tr, chunk=plane, chunks=1, merged=True
            )
    chunk = largest_divisor(plane, FREE_MAX)
    chunks = plane // chunk
    need = sbuf_bytes(chunk, chunks, 1)
    if refusal := over_sbuf(chip, origin, need):
        return refusal
    return GlobalPoolTiles(
        origin, tr, need, rows=rows, plane=plane, tr=tr, chunk=chunk, chunks=chunks
    )


def global_avgpool(plan: GlobalPoolTiles, x: SSAValue, y: SSAValue) -> NestOp:
    """y[n, c, 1, 1] = mean of x[n, c, :, :]."""
    rows, plane, tr = plan.rows, plan.plane, plan.tr
    chunk, chunks = plan.chunk, plan.chunks
    if plan.merged:
        return _global_avgpool_merged(plan, x, y)
    nest = Nest(plan.name, [("r", rows // tr), ("k", chunks)])
    xt = nest.tile("sbuf", tr, chunk)
    part = nest.tile("sbuf", tr, chunks)
    out = nest.tile("sbuf", tr, 1)
    xt_ap = _tile(xt, "sbuf", nest, tr, [(1, chunk)])
    part_all = _tile(part, "sbuf", nest, tr, [(1, chunks)])
    out_ap = _tile(out, "sbuf", nest, tr, [(1, 1)])
    x_ap = nest.dram(nest.aff(r=tr * plane * F32, k=chunk * F32), [(plane, tr), (1, chunk)])
    part_col = nest.onchip("sbuf", nest.aff(k=F32), [(1, tr), (1, 1)])
    nest.put(
        "k",
        CopyOp(x, x_ap, xt, xt_ap),
        ReduceOp("add", part, part_col, xt, xt_ap, 1),
    )
    nest.put_after(
        "r",
        ReduceOp("add", out, out_ap, part, part_all, 1, 1.0 / plane),
        CopyOp(out, out_ap, y, nest.dram(nest.aff(r=tr * F32), [(1, tr), (1, 1)])),
    )
    return nest.build()


def _global_avgpool_merged(plan: GlobalPoolTiles, x: SSAValue, y: SSAValue) -> NestOp:
    """Every row tile at once: xt[p, t * plane + j] = x row t * tr + p, pixel j; one
    reduction over the plane gives [tr, row tiles] means, stored in one descriptor."""
    rows, plane, tr = plan.rows, plan.plane, plan.tr
    rt = rows // tr
    nest = Nest(plan.name, [])
    xt = nest.tile("sbuf", tr, rt * plane)
    out = nest.tile("sbuf", tr, rt)
    out_ap = _tile(out, "sbuf", nest, tr, [(1, rt)])
    nest.put(
        None,
        CopyOp(x, nest.dram(0, [(plane, tr), (tr * plane, rt), (1, plane)]),
               xt, _tile(xt, "sbuf", nest, tr, [(1, rt * plane)])),
        ReduceOp("add", out, out_ap, xt, _tile(xt, "sbuf", nest, tr, [(plane, rt), (1, plane)]), 1, 1.0 / plane),
        CopyOp(out, out_ap, y, nest.dram(0, [(1, tr), (tr, rt)])),
    )
    return nest.build()


def lrn_band(channels: int, size: int, alpha: float) -> np.ndarray:
    """band[ci, co] = alpha / size where input channel ci is in output channel co's
    window [co - (size - 1) // 2, co + ceil((size - 1) / 2)] (ONNX LRN)."""
    ci = np.arange(channels)[:, None]
    co = np.arange(channels)[None, :]
    inside = (ci >= co - (size - 1) // 2) & (ci <= co + math.ceil((size - 1) / 2))
    return np.where(inside, np.float32(alpha / size), np.float32(0.0)).astype(np.float32)


@dataclass(frozen=True, kw_only=True)
class LrnTiles(NestPlan):
    """Channels tc at a time on partitions (as rows and as columns of the band),
    f pixels of the plane per PSUM tile."""

    tc: int
    f: int
    merged: bool = False  # the band and each image's planes in SBUF whole
    pieces: bool = False
    """Merged, more than one block of f pixels (KernelOptions.lrn_pieces): the
    squares in runs of 1, 1, 2, 4, ... blocks (one instruction per channel tile and
    run, all before POOL's products in its stream), instead of the whole planes in
    one instruction: the array starts after one block's squares, and each run is
    done before the matmuls reach it."""


def plan_lrn(
    chip: ChipConfig,
    origin: str,
    shape: tuple[int, int, int, int],
    *,
    bias: float,
    merge: bool = False,
    pieces: bool = False,
) -> LrnTiles | Refusal:
    """With `merge`, whole planes of every channel tile per image when x, its
    squares, the result and the band fit one SBUF partition; with `pieces` too,
    the squares in blocks of the matmuls' pixels (`LrnTiles.pieces`)."""
    c, plane = shape[1], shape[2] * shape[3]
    tc = min(largest_divisor(c, chip.pe_rows), largest_divisor(c, chip.pe_cols))
    f = largest_divisor(plane, psum_free_max(chip))
    if bias <= 0.0:
        return Refusal(f"'{origin}': LRN bias {bias} must be positive")
    if merge:
        ct = c // tc
        need = sbuf_bytes(ct * plane, ct * plane, ct * plane, ct * c, f, f)
        if need <= chip.sbuf_partition_bytes:
            return LrnTiles(origin, tc, need, f * F32, tc=tc, f=f, merged=True, pieces=pieces and plane > f)
    need = sbuf_bytes(f, f, tc, f, f)
    if refusal := over_sbuf(chip, origin, need):
        return refusal
    return LrnTiles(origin, tc, need, f * F32, tc=tc, f=f)


def lrn(
    plan: LrnTiles,
    x: SSAValue,
    band: SSAValue,
    y: SSAValue,
    shape: tuple[int, int, int, int],
    *,
    beta: float,
    bias: float,
) -> NestOp:
    """y = x * (bias + band^T @ x^2)^-beta on NCHW input, `band` a DRAM [C, C]
    constant (see `lrn_band`)."""
    if plan.merged:
        return _lrn_merged(plan, x, band, y, shape, beta=beta, bias=bias)
    n, c, h, w = shape
    plane = h * w
    tc, f = plan.tc, plan.f
    nest = Nest(plan.name, [("n", n), ("b", plane // f), ("co", c // tc), ("ci", c // tc)])
    xt = nest.tile("sbuf", tc, f)
    sq = nest.tile("sbuf", tc, f)
    bt = nest.tile("sbuf", tc, tc)
    acc = nest.tile("psum", tc, f)
    yv = nest.tile("sbuf", tc, f)
    tmp = nest.tile("sbuf", tc, f)
    ap = {t: _tile(t, "sbuf", nest, tc, [(1, f)]) for t in (xt, sq, yv, tmp)}
    acc_ap = _tile(acc, "psum", nest, tc, [(1, f)])
    bt_ap = _tile(bt, "sbuf", nest, tc, [(1, tc)])

    def x_at(dim: str):
        coeffs = {"n": c * plane * F32, "b": f * F32, dim: tc * plane * F32}
        return nest.dram(nest.aff(**coeffs), [(plane, tc), (1, f)])

    band_ap = nest.dram(nest.aff(ci=tc * c * F32, co=tc * F32), [(c, tc), (1, tc)])
    nest.put(
        "ci",
        CopyOp(x, x_at("ci"), xt, ap[xt]),
        TensorTensorOp("mul", sq, ap[sq], xt, ap[xt], xt, ap[xt]),
        CopyOp(band, band_ap, bt, bt_ap),
        MatmulOp(acc, acc_ap, bt, bt_ap, sq, ap[sq], nest.zero_at("ci")),
    )
    # ln(bias + acc) on ACT, then p = exp(-beta * ln(bias + acc)); y = x * p
    epilogue = [
        ActOp("log", yv, ap[yv], acc, acc_ap, bias=bias),
        ActOp("exp", tmp, ap[tmp], yv, ap[yv], scale=-beta),
        CopyOp(x, x_at("co"), xt, ap[xt]),
        TensorTensorOp("mul", tmp, ap[tmp], tmp, ap[tmp], xt, ap[xt]),
        CopyOp(tmp, ap[tmp], y, x_at("co")),
    ]
    nest.put_after("co", *epilogue)
    return nest.build()


def _lrn_merged(
    plan: LrnTiles,
    x: SSAValue,
    band: SSAValue,
    y: SSAValue,
    shape: tuple[int, int, int, int],
    *,
    beta: float,
    bias: float,
) -> NestOp:
    """`lrn` with the band loaded once, bt[p, t * C + co] = band[t * tc + p, co], and
    per image every channel tile's plane loaded once, xt[p, t * plane + j] = x[n,
    t * tc + p, j], squared in one instruction, and the result stored once."""
    n, c, h, w = shape
    plane = h * w
    tc, f = plan.tc, plan.f
    ct = c // tc
    nest = Nest(plan.name, [("n", n), ("b", plane // f), ("co", ct), ("ci", ct)])
    xt = nest.tile("sbuf", tc, ct * plane)
    sq = nest.tile("sbuf", tc, ct * plane)
    out = nest.tile("sbuf", tc, ct * plane)
    bt = nest.tile("sbuf", tc, ct * c)
    acc = nest.tile("psum", tc, f)
    yv = nest.tile("sbuf", tc, f)
    tmp = nest.tile("sbuf", tc, f)
    whole = _tile(xt, "sbuf", nest, tc, [(1, ct * plane)])
    block = {t: _tile(t, "sbuf", nest, tc, [(1, f)]) for t in (yv, tmp)}
    acc_ap = _tile(acc, "psum", nest, tc, [(1, f)])
    planes = nest.dram(nest.aff(n=c * plane * F32), [(plane, tc), (tc * plane, ct), (1, plane)])

    def at(dim: str):  # the f-pixel block b of channel tile `dim`
        return nest.onchip("sbuf", nest.aff(**{dim: plane * F32, "b": f * F32}), [(1, tc), (1, f)])

    nest.put(None, CopyOp(band, nest.dram(0, [(c, tc), (tc * c, ct), (1, c)]), bt,
                          _tile(bt, "sbuf", nest, tc, [(1, ct * c)])))
    nest.put("n", CopyOp(x, planes, xt, whole))
    if plan.pieces:  # the squares in runs of 1, 1, 2, 4, ... blocks, every tile's per run
        blocks, start, runs = plane // f, 0, []
        while start < blocks:
            runs.append((start, min(max(1, start), blocks - start)))
            start += runs[-1][1]
        for first, count in runs:
            for t in range(ct):
                run = nest.onchip("sbuf", (t * plane + first * f) * F32, [(1, tc), (1, count * f)])
                nest.put("n", TensorTensorOp("mul", sq, run, xt, run, xt, run))
    else:
        nest.put("n", TensorTensorOp("mul", sq, whole, xt, whole, xt, whole))
    band_at = nest.onchip("sbuf", nest.aff(ci=c * F32, co=tc * F32), [(1, tc), (1, tc)])
    nest.put("ci", MatmulOp(acc, acc_ap, bt, band_at, sq, at("ci"), nest.zero_at("ci")))
    nest.put_after(
        "co",
        ActOp("log", yv, block[yv], acc, acc_ap, bias=bias),
        ActOp("exp", tmp, block[tmp], yv, block[yv], scale=-beta),
        TensorTensorOp("mul", out, at("co"), tmp, block[tmp], xt, at("co")),
    )
    nest.put_after("n", CopyOp(out, whole, y, planes))
    return nest.build()

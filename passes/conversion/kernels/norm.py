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

As in `conv` and the others, `plan_<kernel>` picks the tiles (or refuses) and `<kernel>` builds
the nest from the plan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from xdsl.ir import SSAValue

from tidal.dialects.loop import ActOp, CopyOp, MatmulOp, NestOp, ReduceOp, TensorTensorOp
from tidal.passes.conversion.kernels.nest_builder import FREE_MAX, psum_free_max
from tidal.passes.conversion.kernels.nest_builder import tile_ap as _tile
from tidal.passes.conversion.kernels.nest_builder import F32, Nest, largest_divisor
from tidal.passes.conversion.kernels.plan import NestPlan, Refusal, over_sbuf, sbuf_bytes
from tidal.sim.config import ChipConfig


@dataclass(frozen=True, kw_only=True)
class GlobalPoolTiles(NestPlan):
    """`rows` (image, channel) rows, tr on partitions; each `plane` summed in
    `chunks` chunks of `chunk` elements."""

    rows: int
    plane: int
    tr: int
    chunk: int
    chunks: int


def plan_global_avgpool(
    chip: ChipConfig, origin: str, shape: tuple[int, ...]
) -> GlobalPoolTiles | Refusal:
    n, c, h, w = shape
    rows, plane = n * c, h * w
    tr = largest_divisor(rows, chip.sbuf_partitions)
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


def plan_lrn(
    chip: ChipConfig, origin: str, shape: tuple[int, int, int, int], *, bias: float
) -> LrnTiles | Refusal:
    c, plane = shape[1], shape[2] * shape[3]
    tc = min(largest_divisor(c, chip.pe_rows), largest_divisor(c, chip.pe_cols))
    f = largest_divisor(plane, psum_free_max(chip))
    if bias <= 0.0:
        return Refusal(f"'{origin}': LRN bias {bias} must be positive")
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

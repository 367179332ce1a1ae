"""The PE-array matmul nest (graph.gemm, graph.matmul): the PE array computes Y^T
tiles: weights (B) are the stationary operand with the contraction dim K on
partitions, activations (A^T) stream as the moving operand; PSUM holds [N-tile
partitions, M-tile]. Transposes are DMA access patterns, never copies.

`plan_gemm` picks the tiles and checks they fit, `gemm` builds the nest.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.ir import SSAValue

from tidal.dialects.loop import (
    ActOp,
    CopyOp,
    MatmulOp,
    NestOp,
    TensorTensorOp,
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
    broadcast_strides,
    origin_of,
    planned,
    shape_of,
)
from tidal.passes.conversion.kernels.plan import DEFAULT_OPTIONS, KernelOptions, Lowered, TilePlan
from xdsl.ir import Operation
from tidal.dialects import graph
from tidal.sim.config import ChipConfig


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


class GemmKernel(Kernel):
    """graph.gemm and graph.matmul: one PE-array nest (kernels/gemm.py)."""

    def plan(
        self, op: Operation, chip: ChipConfig, options: KernelOptions = DEFAULT_OPTIONS
    ) -> TilePlan | Refusal:
        assert isinstance(op, graph.GemmOp | graph.MatMulOp)
        m, n = shape_of(op.result)
        if isinstance(op, graph.MatMulOp):
            k = shape_of(op.lhs)[1]
        else:
            k = shape_of(op.a)[0] if op.trans_a_val else shape_of(op.a)[1]
        return planned(op, chip, plan_gemm(chip, origin_of(op), m=m, n=n, k=k), options=options)

    def emit(self, plan: TilePlan) -> Lowered:
        op = plan.op
        tiles = plan.nest(GemmTiles)
        assert isinstance(op, graph.GemmOp | graph.MatMulOp) and tiles is not None
        if isinstance(op, graph.MatMulOp):
            a, b, c = op.lhs, op.rhs, None
            trans_a = trans_b = False
            alpha = beta = 1.0
        else:
            a, b, c = op.a, op.b, op.c
            trans_a, trans_b = op.trans_a_val, op.trans_b_val
            alpha, beta = op.alpha_val, op.beta_val
        c_arg = None
        if c is not None:
            c_arg = (c, tuple(broadcast_strides(shape_of(c), (tiles.m, tiles.n))))
        y = alloc_result(op)
        nest = gemm(
            tiles, a, b, y.result,
            trans_a=trans_a, trans_b=trans_b, alpha=alpha, beta=beta, c=c_arg,  # type: ignore[arg-type]
        )
        return Lowered([y, nest], y.result)


GEMM = GemmKernel()

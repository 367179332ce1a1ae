"""The PE-array matmul nest (graph.gemm, graph.matmul), in one of two orientations.

Weights stationary (`gemm`): the PE array computes Y^T tiles: weights (B) are the
stationary operand with the contraction dim K on partitions, activations (A^T)
stream as the moving operand; PSUM holds [N-tile partitions, M-tile].

Activations stationary (`gemm_small_m`, for few rows M, e.g. a batch-1 fully
connected layer): X^T = op(A)^T is loaded once and each [K-tile, M] slice of it is
the stationary operand, reused for every block of up to `matmul_moving_max`
weight columns streamed as the moving operand, one block per PSUM bank; PSUM holds
Y tiles [M partitions, N-block], and each K step loads [K-tile rows, all the banks'
columns] of weights in one descriptor. Transposes are DMA access patterns, never
copies.

    tiles = plan_gemm(chip, "fc6", m=1, n=4096, k=9216, small_m=True)
    tiles.tnn, tiles.nb  # 512 columns per matmul, 8 banks: the K loop streams 4096

`plan_gemm` picks the tiles and checks they fit, `gemm` and `gemm_small_m` build the
nest; both end in the fused epilogue act(alpha * AB + beta * C), with the bias
loaded once per nest (`bias_once`, KernelOptions.dma_merge; the activations-stationary
nest always loads it once per group of columns).
"""

from __future__ import annotations

from dataclasses import dataclass

from tidal.dialects import graph
from tidal.dialects.loop import (
    ActOp,
    CopyOp,
    MatmulOp,
    NestOp,
    TensorTensorOp,
)
from tidal.passes.conversion.kernels.base import (
    Kernel,
    alloc_result,
    broadcast_strides,
    origin_of,
    planned,
    shape_of,
)
from tidal.passes.conversion.kernels.nest_builder import (
    F32,
    Nest,
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
from xdsl.ir import Operation, SSAValue


@dataclass(frozen=True, kw_only=True)
class GemmTiles(NestPlan):
    """Y[m, n] contracting k in tk-row steps. Weights stationary: [tn partitions,
    tm] PSUM tiles. Activations stationary (`small_m`): [m partitions, tn] PSUM
    tiles, `nb` of them (one per bank) per K step, whose weights arrive as one
    [tk, nb * tn] descriptor into one of `slots` buffers (a K step's load overlaps
    the previous step's matmuls)."""

    m: int
    n: int
    k: int
    tm: int
    tn: int
    tk: int
    small_m: bool = False
    nb: int = 1
    slots: int = 1
    bias_once: bool = False  # weights stationary: every n-tile's bias column in one load


def plan_gemm(
    chip: ChipConfig,
    origin: str,
    *,
    m: int,
    n: int,
    k: int,
    small_m: bool = False,
    bias_once: bool = False,
) -> GemmTiles | Refusal:
    """The tiles of Y[m, n] = op(A)[m, k] @ op(B)[k, n]; with `small_m`, the
    activations-stationary orientation when m fits the PE columns and its tiles
    fit SBUF (else the weights-stationary one, whose bias columns `bias_once`
    loads in one descriptor, [tn, n / tn], before the loops)."""
    tk = largest_divisor(k, chip.pe_rows)
    if small_m and m <= chip.pe_cols:
        tn = largest_divisor(n, psum_free_max(chip))
        nb = largest_divisor(n // tn, chip.psum_banks)
        kt = k // tk
        slots = 2 if kt % 2 == 0 else 1
        width = nb * tn
        need = sbuf_bytes(kt * m, slots * width, width, width)
        if need <= chip.sbuf_partition_bytes:
            return GemmTiles(
                origin, max(tk, m), need, nb * tn * F32,
                m=m, n=n, k=k, tm=m, tn=tn, tk=tk, small_m=True, nb=nb, slots=slots,
            )
    tn = largest_divisor(n, chip.pe_cols)
    tm = largest_divisor(m, psum_free_max(chip))
    bias_once = bias_once and n > tn  # with one n-tile there is nothing to merge
    need = sbuf_bytes(tn, tm, tm, n // tn if bias_once else 1, tm)
    if refusal := over_sbuf(chip, origin, need):
        return refusal
    return GemmTiles(
        origin, max(tk, tn), need, tm * F32, m=m, n=n, k=k, tm=tm, tn=tn, tk=tk, bias_once=bias_once
    )


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
    activation: str = "identity",
) -> NestOp:
    """Y[m, n] = activation(alpha * op(A) @ op(B) + beta * C), weights stationary;
    `c` is (buffer, its broadcast strides over [m, n] in elements), `activation`
    an ACT function."""
    if plan.small_m:
        return gemm_small_m(
            plan, a, b, y, trans_a=trans_a, trans_b=trans_b, alpha=alpha, beta=beta,
            c=c, activation=activation,
        )
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
        epilogue.append(ActOp(activation, out, out_ap, acc, acc_ap, scale=alpha))
    else:
        cbuf, (sm, sn) = c
        if sm == 0 and plan.bias_once:  # all n-tiles' bias columns, loaded once
            cols = nest.tile("sbuf", tn, n // tn)
            cols_ap = _tile(cols, "sbuf", nest, tn, [(1, n // tn)])
            nest.put(None, CopyOp(cbuf, nest.dram(0, [(sn, tn), (tn * sn, n // tn)]), cols, cols_ap))
            if beta != 1.0:
                nest.put(None, ActOp("identity", cols, cols_ap, cols, cols_ap, scale=beta))
            col_ap = nest.onchip("sbuf", nest.aff(n=F32), [(1, tn), (1, 1)])
            epilogue.append(
                ActOp(activation, out, out_ap, acc, acc_ap, scale=alpha, bias_col=(cols, col_ap))
            )
        elif sm == 0:  # one value per output column: a per-partition bias column
            col = nest.tile("sbuf", tn, 1)
            col_ap = _tile(col, "sbuf", nest, tn, [(1, 1)])
            nest.put("n", CopyOp(cbuf, nest.dram(nest.aff(n=tn * sn * F32), [(sn, tn), (1, 1)]), col, col_ap))
            if beta != 1.0:
                nest.put("n", ActOp("identity", col, col_ap, col, col_ap, scale=beta))
            epilogue.append(
                ActOp(activation, out, out_ap, acc, acc_ap, scale=alpha, bias_col=(col, col_ap))
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
            if activation != "identity":
                epilogue.append(ActOp(activation, out, out_ap, out, out_ap))
    y_ap = nest.dram(nest.aff(m=tm * n * F32, n=tn * F32), [(1, tn), (n, tm)])
    epilogue.append(CopyOp(out, out_ap, y, y_ap))
    nest.put_after("m", *epilogue)
    return nest.build()


def gemm_small_m(
    plan: GemmTiles,
    a: SSAValue,
    b: SSAValue,
    y: SSAValue,
    *,
    trans_a: bool,
    trans_b: bool,
    alpha: float,
    beta: float,
    c: tuple[SSAValue, tuple[int, int]] | None,
    activation: str,
) -> NestOp:
    """Y = activation(alpha * op(A) @ op(B) + beta * C), activations stationary:
    X^T = op(A)^T is loaded once, [tk, kt * m]; for each group of nb * tn output
    columns, each K step loads its weights in one descriptor and streams them as nb
    matmuls of tn columns against the same stationary X^T slice, one PSUM bank
    each. K steps come `slots` at a time, each into its own weight buffer, so a
    step's load does not wait for the previous step's matmuls."""
    m, n, k = plan.m, plan.n, plan.k
    tn, tk, nb, slots = plan.tn, plan.tk, plan.nb, plan.slots
    width, kt = nb * tn, k // tk
    nest = Nest(plan.name, [("g", n // width), ("k", kt // slots)])

    xt = nest.tile("sbuf", tk, kt * m)
    wt = nest.tile("sbuf", tk, slots * width)
    accs = [nest.tile("psum", m, tn) for _ in range(nb)]
    out = nest.tile("sbuf", m, width)

    # X^T[kk, t * m + mm] = op(A)[mm, t * tk + kk], every K step t at once
    if trans_a:  # A is [K, M]
        a_ap = nest.dram(0, [(m, tk), (tk * m, kt), (1, m)])
    else:  # A is [M, K]
        a_ap = nest.dram(0, [(1, tk), (tk, kt), (k, m)])
    nest.put(None, CopyOp(a, a_ap, xt, _tile(xt, "sbuf", nest, tk, [(1, kt * m)])))

    acc_ap = _tile(accs[0], "psum", nest, m, [(1, tn)])
    for s in range(slots):
        # W[kk, nn] = op(B)[t * tk + kk, g * width + nn] for K step t = k * slots + s
        if trans_b:  # B is [N, K]
            b_ap = nest.dram(
                nest.aff(s * tk * F32, k=slots * tk * F32, g=width * k * F32), [(1, tk), (k, width)]
            )
        else:  # B is [K, N]
            b_ap = nest.dram(
                nest.aff(s * tk * n * F32, k=slots * tk * n * F32, g=width * F32), [(n, tk), (1, width)]
            )
        w_slot = nest.onchip("sbuf", s * width * F32, [(1, tk), (1, width)])
        x_slice = nest.onchip("sbuf", nest.aff(s * m * F32, k=slots * m * F32), [(1, tk), (1, m)])
        # only the first K step of a group starts the sums afresh
        zero_at = nest.zero_at("k") if s == 0 else None
        nest.put("k", CopyOp(b, b_ap, wt, w_slot))
        nest.put("k", *(
            MatmulOp(
                acc, acc_ap, xt, x_slice,
                wt, nest.onchip("sbuf", (s * width + j * tn) * F32, [(1, tk), (1, tn)]),
                zero_at,
            )
            for j, acc in enumerate(accs)
        ))

    out_ap = _tile(out, "sbuf", nest, m, [(1, width)])
    epilogue: list[Operation] = []
    ct = None
    if c is not None:  # C[m, g * width + nn], broadcast by stride-0 dims
        cbuf, (sm, sn) = c
        ct = nest.tile("sbuf", m, width)
        c_ap = nest.dram(nest.aff(g=width * sn * F32), [(sm, m), (sn, width)])
        nest.put("g", CopyOp(cbuf, c_ap, ct, out_ap))
        if beta != 1.0:
            nest.put("g", ActOp("identity", ct, out_ap, ct, out_ap, scale=beta))
    for j, acc in enumerate(accs):
        out_j = nest.onchip("sbuf", j * tn * F32, [(1, m), (1, tn)])
        if ct is None:
            epilogue.append(ActOp(activation, out, out_j, acc, acc_ap, scale=alpha))
        elif alpha == 1.0:
            epilogue.append(TensorTensorOp("add", out, out_j, acc, acc_ap, ct, out_j))
        else:
            epilogue.append(ActOp("identity", out, out_j, acc, acc_ap, scale=alpha))
            epilogue.append(TensorTensorOp("add", out, out_j, out, out_j, ct, out_j))
    if ct is not None and activation != "identity":
        epilogue.append(ActOp(activation, out, out_ap, out, out_ap))
    y_ap = nest.dram(nest.aff(g=width * F32), [(n, m), (1, width)])
    epilogue.append(CopyOp(out, out_ap, y, y_ap))
    nest.put_after("g", *epilogue)
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
        tiles = plan_gemm(
            chip, origin_of(op), m=m, n=n, k=k,
            small_m=options.gemm_small_m, bias_once=options.dma_merge,
        )
        return planned(op, chip, tiles, options=options)

    def emit(self, plan: TilePlan) -> Lowered:
        op = plan.op
        tiles = plan.nest(GemmTiles)
        assert isinstance(op, graph.GemmOp | graph.MatMulOp) and tiles is not None
        if isinstance(op, graph.MatMulOp):
            a, b, c = op.lhs, op.rhs, None
            trans_a = trans_b = False
            alpha = beta = 1.0
            activation = None
        else:
            a, b, c = op.a, op.b, op.c
            trans_a, trans_b = op.trans_a_val, op.trans_b_val
            alpha, beta = op.alpha_val, op.beta_val
            activation = op.activation_val
        c_arg = None
        if c is not None:
            c_arg = (c, tuple(broadcast_strides(shape_of(c), (tiles.m, tiles.n))))
        y = alloc_result(op)
        nest = gemm(
            tiles, a, b, y.result,
            trans_a=trans_a, trans_b=trans_b, alpha=alpha, beta=beta, c=c_arg,  # type: ignore[arg-type]
            activation=activation or "identity",
        )
        return Lowered([y, nest], y.result)


GEMM = GemmKernel()

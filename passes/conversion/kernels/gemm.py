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

from dataclasses import dataclass, replace
from math import prod

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
from xdsl.dialects import func
from xdsl.ir import Operation, SSAValue

# Weight buffers of the activations-stationary nest: loads run WEIGHT_BUFFERS - 1 K
# steps ahead of the matmuls, so a step's load overlaps the matmuls of the step
# before it and DMA keeps streaming while the PE array works. Not more: the loads
# take the DMA queues in turn, and with a third buffer one of them would share a
# queue with X^T, whose every reader then waits for that queue's latest load.
WEIGHT_BUFFERS = 2

# The most K steps gemm_resident gives a buffer each. Resident steps are not a loop
# (each has its own buffer and load), so the nest unrolls into one load and nb
# matmuls a step: a classifier's 8 to 32 steps, but a reduction's product with a
# column of ones (ReduceSum over 2^20 elements: 8,192 steps) would be that many
# instructions, compile time growing with them. Past this, two buffers stream.
RESIDENT_STEPS_MAX = 256


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
    spread: int = 0
    """Activations stationary, one row, one group of columns (`spread_output`): the
    weights of `spread` outputs at a time stationary against X^T's one column, so
    y[t * spread + p] lands on partition p, column t: the layout a spread softmax
    reads (kernels/softmax.py). 0: Y on one partition."""
    batch: int = 1  # a batched matmul: this many [m, k] x [k, n] products, one loop


def plan_gemm(
    chip: ChipConfig,
    origin: str,
    *,
    m: int,
    n: int,
    k: int,
    small_m: bool = False,
    bias_once: bool = False,
    resident: bool = False,
) -> GemmTiles | Refusal:
    """The tiles of Y[m, n] = op(A)[m, k] @ op(B)[k, n]; with `small_m`, the
    activations-stationary orientation when m fits the PE columns and its tiles
    fit SBUF (else the weights-stationary one, whose bias columns `bias_once`
    loads in one descriptor, [tn, n / tn], before the loops). With `resident`
    (KernelOptions.gemm_resident), an activations-stationary gemm of one group of
    columns whose every K step's weights fit SBUF beside its other tiles gives each
    step a buffer of its own (`slots` = K steps): no load waits for a matmul, so
    with loop-allocate's prefetch the weights stream in while earlier layers run
    (at most RESIDENT_STEPS_MAX steps: they unroll)."""
    tk = largest_divisor(k, chip.pe_rows)
    if small_m and m <= chip.pe_cols:
        tn = largest_divisor(n, psum_free_max(chip))
        nb = largest_divisor(n // tn, chip.psum_banks)
        kt = k // tk
        slots = min(kt, WEIGHT_BUFFERS)
        width = nb * tn
        need = sbuf_bytes(kt * m, slots * width, width, width)
        if resident and width == n and slots < kt <= RESIDENT_STEPS_MAX:
            whole = sbuf_bytes(kt * m, kt * width, width, width)
            if whole <= chip.sbuf_partition_bytes // 2:  # leave room for the nests it overlaps
                slots, need = kt, whole
        if need <= chip.sbuf_partition_bytes:
            narrow = ""
            if max(tk, m) < largest_divisor(n, chip.pe_cols):
                narrow = (
                    f"the weights stream past {m} stationary rows of activations "
                    f"(cheaper than {n} output partitions reloading weights), and "
                    f"k = {k} tiles by {tk} rows"
                )
            return GemmTiles(
                origin, max(tk, m), need, nb * tn * F32, narrow=narrow,
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
    # A batched matmul's products are one more loop, outermost; each steps its
    # operands and result by one matrix.
    nest = Nest(plan.name, [("b", plan.batch), ("n", n // tn), ("m", m // tm), ("k", k // tk)])
    a_b, b_b, y_b = m * k * F32, k * n * F32, m * n * F32

    acc = nest.tile("psum", tn, tm)
    wt = nest.tile("sbuf", tk, tn)
    xt = nest.tile("sbuf", tk, tm)
    out = nest.tile("sbuf", tn, tm)

    # moving X[kk, mm] = op(A)[m0 + mm, k0 + kk]
    if trans_a:  # A is [K, M]
        a_ap = nest.dram(nest.aff(k=tk * m * F32, m=tm * F32, b=a_b), [(m, tk), (1, tm)])
    else:  # A is [M, K]
        a_ap = nest.dram(nest.aff(m=tm * k * F32, k=tk * F32, b=a_b), [(1, tk), (k, tm)])
    # stationary W[kk, nn] = op(B)[k0 + kk, n0 + nn]
    if trans_b:  # B is [N, K]
        b_ap = nest.dram(nest.aff(n=tn * k * F32, k=tk * F32, b=b_b), [(1, tk), (k, tn)])
    else:  # B is [K, N]
        b_ap = nest.dram(nest.aff(k=tk * n * F32, n=tn * F32, b=b_b), [(n, tk), (1, tn)])
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
    y_ap = nest.dram(nest.aff(m=tm * n * F32, n=tn * F32, b=y_b), [(1, tn), (n, tm)])
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
    columns, each K step t loads its weights in one descriptor into buffer t % slots
    and streams them as nb matmuls of tn columns against the same stationary X^T
    slice, one PSUM bank each. The loads run slots - 1 steps ahead (software
    pipelined): with 2 buffers the loop body over 2 steps is load(t + 1),
    matmuls(t), load(t + 2), matmuls(t + 1), so a load waits only for the matmuls
    that last read its buffer (a wait counts every earlier signal of the engine)
    and overlaps the matmuls of the step before."""
    m, n, k = plan.m, plan.n, plan.k
    tn, tk, nb, slots = plan.tn, plan.tk, plan.nb, plan.slots
    width, kt = nb * tn, k // tk
    ahead = slots - 1  # steps loaded ahead of the one multiplied
    # loop iterations of `slots` steps, each loading `ahead` steps ahead of its own
    groups = max(0, (kt - slots - ahead) // slots + 1)
    nest = Nest(plan.name, [("g", n // width), ("k", groups)])

    xt = nest.tile("sbuf", tk, kt * m)
    wt = nest.tile("sbuf", tk, slots * width)
    ts = plan.spread
    if ts:  # Y spread: y[t * ts + p] on partition p, column t (one row, one group)
        nt = n // ts
        accs = [nest.tile("psum", ts, nt)]
        out = nest.tile("sbuf", ts, nt)
    else:
        accs = [nest.tile("psum", m, tn) for _ in range(nb)]
        out = nest.tile("sbuf", m, width)

    # X^T[kk, t * m + mm] = op(A)[mm, t * tk + kk], every K step t at once
    if trans_a:  # A is [K, M]
        a_ap = nest.dram(0, [(m, tk), (tk * m, kt), (1, m)])
    else:  # A is [M, K]
        a_ap = nest.dram(0, [(1, tk), (tk, kt), (k, m)])
    x_load = CopyOp(a, a_ap, xt, _tile(xt, "sbuf", nest, tk, [(1, kt * m)]))

    # W[kk, nn] = op(B)[t * tk + kk, g * width + nn]: bytes per K step and per group
    if trans_b:  # B is [N, K]
        per_step, per_group, b_dims = tk * F32, width * k * F32, [(1, tk), (k, width)]
    else:  # B is [K, N]
        per_step, per_group, b_dims = tk * n * F32, width * F32, [(n, tk), (1, width)]
    acc_ap = _tile(accs[0], "psum", nest, m, [(1, tn)])

    def load(t: int, looped: bool) -> CopyOp:
        """K step t (slots * k + t inside the loop) into buffer t % slots."""
        at = nest.aff(t * per_step, k=slots * per_step if looped else 0, g=per_group)
        slot = nest.onchip("sbuf", t % slots * width * F32, [(1, tk), (1, width)])
        return CopyOp(b, nest.dram(at, b_dims), wt, slot)

    def matmuls(t: int, looped: bool, zero_at: int | None) -> list[MatmulOp]:
        x_slice = nest.onchip(
            "sbuf", nest.aff(t * m * F32, k=slots * m * F32 if looped else 0), [(1, tk), (1, m)]
        )
        if ts:  # the weights of ts outputs stationary, X^T's one column moving
            return [
                MatmulOp(
                    accs[0], nest.onchip("psum", j * F32, [(1, ts), (1, 1)]),
                    wt, nest.onchip("sbuf", (t % slots * width + j * ts) * F32, [(1, tk), (1, ts)]),
                    xt, x_slice,
                    zero_at,
                )
                for j in range(nt)
            ]
        return [
            MatmulOp(
                acc, acc_ap, xt, x_slice,
                wt, nest.onchip("sbuf", (t % slots * width + j * tn) * F32, [(1, tk), (1, tn)]),
                zero_at,
            )
            for j, acc in enumerate(accs)
        ]

    out_ap = _tile(out, "sbuf", nest, ts, [(1, nt)]) if ts else _tile(out, "sbuf", nest, m, [(1, width)])
    ct = None
    bias_col = None
    if ts:
        if c is not None:  # C[g * width + nn] spread like Y (plan_gemm: varies along n)
            cbuf, (_, sn) = c
            ct = nest.tile("sbuf", ts, nt)
            nest.put(None, CopyOp(cbuf, nest.dram(0, [(sn, ts), (ts * sn, nt)]), ct, out_ap))
            if beta != 1.0:
                nest.put(None, ActOp("identity", ct, out_ap, ct, out_ap, scale=beta))
    elif c is not None and c[1][1] == 0:  # C constant along n: ACT's per-row bias column
        cbuf, (sm, _) = c
        col = nest.tile("sbuf", m, 1)
        col_ap = _tile(col, "sbuf", nest, m, [(1, 1)])
        nest.put(None, CopyOp(cbuf, nest.dram(0, [(sm, m), (1, 1)]), col, col_ap))
        if beta != 1.0:
            nest.put(None, ActOp("identity", col, col_ap, col, col_ap, scale=beta))
        bias_col = (col, col_ap)
    elif c is not None:  # C[m, g * width + nn], broadcast by stride-0 dims
        cbuf, (sm, sn) = c
        ct = nest.tile("sbuf", m, width)
        c_ap = nest.dram(nest.aff(g=width * sn * F32), [(sm, m), (sn, width)])
        nest.put("g", CopyOp(cbuf, c_ap, ct, out_ap))
        if beta != 1.0:
            nest.put("g", ActOp("identity", ct, out_ap, ct, out_ap, scale=beta))
    # X^T after the first weights: the DMA queues take loads in turn, and a wait
    # counts every earlier load of its queue, so X^T must not share a queue with
    # the weights the loop streams
    nest.put("g", *(load(t, looped=False) for t in range(min(ahead, kt))))
    nest.put(None, x_load)
    if groups:  # only step 0 (k = 0) starts the sums afresh
        body: list[Operation] = []
        for i in range(slots):
            body.append(load(i + ahead, looped=True))
            body += matmuls(i, looped=True, zero_at=nest.zero_at("k") if i == 0 else None)
        nest.put("k", *body)
    tail: list[Operation] = []  # the steps after the loop
    for t in range(slots * groups, kt):
        if t + ahead < kt:
            tail.append(load(t + ahead, looped=False))
        tail += matmuls(t, looped=False, zero_at=-1 if t == 0 else None)

    epilogue: list[Operation] = []
    for j, acc in enumerate(accs):
        out_j = out_ap if ts else nest.onchip("sbuf", j * tn * F32, [(1, m), (1, tn)])
        if ts:
            acc_ap = _tile(acc, "psum", nest, ts, [(1, nt)])
        if ct is None:
            epilogue.append(ActOp(activation, out, out_j, acc, acc_ap, scale=alpha, bias_col=bias_col))
        elif alpha == 1.0:
            epilogue.append(TensorTensorOp("add", out, out_j, acc, acc_ap, ct, out_j))
        else:
            epilogue.append(ActOp("identity", out, out_j, acc, acc_ap, scale=alpha))
            epilogue.append(TensorTensorOp("add", out, out_j, out, out_j, ct, out_j))
    if ct is not None and activation != "identity":
        epilogue.append(ActOp(activation, out, out_ap, out, out_ap))
    if ts:
        y_ap = nest.dram(0, [(1, ts), (ts, nt)])
    else:
        y_ap = nest.dram(nest.aff(g=width * F32), [(n, m), (1, width)])
    epilogue.append(CopyOp(out, out_ap, y, y_ap))
    nest.put_after("g", *tail, *epilogue)
    return nest.build()


def spread_output(op: graph.GemmOp | graph.MatMulOp, tiles: GemmTiles, chip: ChipConfig) -> int:
    """The partitions over which an activations-stationary gemm of one row and one
    group of columns spreads its result (`GemmTiles.spread`) when that result's one
    reader (besides the function's return) is a softmax that spreads it over as
    many (kernels/softmax.py); else 0.
    A per-row bias (C constant along n) keeps the row on one partition."""
    from tidal.passes.conversion.kernels.softmax import SoftmaxTiles, plan_softmax

    if not tiles.small_m or tiles.m != 1 or tiles.batch != 1 or tiles.nb * tiles.tn != tiles.n:
        return 0
    if isinstance(op, graph.GemmOp) and op.c is not None:
        if broadcast_strides(shape_of(op.c), (tiles.m, tiles.n))[1] == 0:
            return 0
    readers = [u.operation for u in op.result.uses if not isinstance(u.operation, func.ReturnOp)]
    if len(readers) != 1 or not isinstance(reader := readers[0], graph.SoftmaxOp | graph.LogSoftmaxOp):
        return 0
    plan = plan_softmax(chip, "", shape_of(reader.input), reader.axis_val, spread=True)
    ts = plan.spread if isinstance(plan, SoftmaxTiles) else 0
    return ts if ts and tiles.n % ts == 0 else 0


class GemmKernel(Kernel):
    """graph.gemm and graph.matmul: one PE-array nest (kernels/gemm.py)."""

    def plan(
        self, op: Operation, chip: ChipConfig, options: KernelOptions = DEFAULT_OPTIONS
    ) -> TilePlan | Refusal:
        assert isinstance(op, graph.GemmOp | graph.MatMulOp)
        *batch_dims, m, n = shape_of(op.result)
        batch = prod(batch_dims)
        if isinstance(op, graph.MatMulOp):
            k = shape_of(op.lhs)[-1]
        else:
            k = shape_of(op.a)[0] if op.trans_a_val else shape_of(op.a)[1]
        tiles = plan_gemm(
            chip, origin_of(op), m=m, n=n, k=k,
            small_m=options.gemm_small_m and batch == 1, bias_once=options.dma_merge,
            resident=options.gemm_resident,
        )
        if batch > 1 and isinstance(tiles, GemmTiles):
            tiles = replace(tiles, batch=batch)
        if isinstance(tiles, GemmTiles) and options.softmax_spread and (ts := spread_output(op, tiles, chip)):
            tiles = replace(tiles, spread=ts)
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

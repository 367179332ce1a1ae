"""Softmax: rows on partitions; max, exp(x - max) into a second row, sum, reciprocal,
scale (in place when two rows do not fit SBUF). Log-softmax: max, exp(x - max) into a
second row, sum, log, then x - max and -log(sum), each as ACT's bias (x - max first:
one bias -max - log(sum) rounds log(sum) away when |max| is large). With the second
row the nest never writes the row it loads, so loop-keep-on-chip may forward a kept
input tile to it: no copy of the row on chip.

Spread (`spread`, KernelOptions.softmax_spread): a single long row (a batch-1
classifier's 1000 logits) on one partition costs four passes of its length on ACT
and POOL (4.4 k cycles for 1000). Spread, element i = t * ts + p lies on partition p,
column t (`ts` the largest divisor of the length up to the partitions: 125 x 8 for
1000), the layout of a channel-tiled [1, C, 1, 1] (a global average pooling's
result) and of gemm's `spread` output, so loop-keep-on-chip keeps it on chip between
them. The cross-partition steps run on the PE array against a [ts, ts] tile of ones:

    m[p]    = max_t x[p, t]                      (POOL; and at least -FLT_MAX, so
                                                  that the next product is finite)
    d       = I * m (per-partition scale)        (ACT, the identity a loop.const)
    a[q, p] = sum_k ones[k, q] d[k, p] = m[p]    (PE: every partition holds all m)
    g[q]    = max_p a[q, p]                      (POOL: the row max on every partition)
    e       = exp(x - g)                         (ACT)
    s[q, t] = sum_k ones[k, q] e[k, t]           (PE: column sums on every partition)
    z[q]    = sum_t s[q, t]                      (POOL)
    y       = e * (1 / z)  or  (x - g) - log(z)  (ACT)

every step over ts x at most ts elements: about 1.3 k cycles for 1000 instead of
4.4 k. The sum adds in another order than one reduction (fp32 rounding only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from math import prod

from xdsl.ir import SSAValue

import numpy as np

from tidal.dialects.loop import (
    ActOp,
    ConstOp,
    CopyOp,
    MatmulOp,
    MemsetOp,
    NestOp,
    ReduceOp,
    dense_f32,
)
from tidal.passes.conversion.kernels.nest_builder import (
    F32,
    Nest,
    largest_divisor,
    psum_free_max,
    tile_ap as _tile,
)
from tidal.passes.conversion.kernels.eltwise import ragged_rows
from tidal.passes.conversion.kernels.plan import NestPlan, Refusal, over_sbuf, sbuf_bytes
from tidal.passes.conversion.kernels.base import (
    Kernel,
    alloc_result,
    one_nest,
    origin_of,
    planned,
    shape_of,
)
from tidal.passes.conversion.kernels.plan import DEFAULT_OPTIONS, KernelOptions, Lowered, TilePlan
from xdsl.ir import Operation
from tidal.dialects import graph
from tidal.sim.config import ChipConfig


@dataclass(frozen=True, kw_only=True)
class SoftmaxTiles(NestPlan):
    """`outer` x `inner` rows of `length` (the axis), tr rows on partitions."""

    outer: int
    length: int
    inner: int
    tr: int
    log: bool = False
    second_row: bool = True
    """exp(x - max) into a row of its own (always with `log`); False: in place."""
    spread: int = 0
    """One row spread over this many partitions (module docstring); 0: rows on
    partitions."""
    rem: int = 0
    """`ragged_rows`: the rows past the whole tiles of tr, one tile of their own
    (`softmax_nests`); 0: tr divides the rows."""
    rows: int = 0
    """The rows one nest of a ragged plan covers (`softmax_nests`); 0: every row."""


# A single row is spread only over at least this many partitions and columns: for
# shorter rows the PE round trips cost more than the passes they shorten.
SPREAD_MIN_PARTITIONS = 32
SPREAD_MIN_COLUMNS = 4


def spread_partitions(chip: ChipConfig, shape: Sequence[int], axis: int) -> int:
    """The partitions a softmax over `axis` of `shape` spreads its one row over, or
    0 when it has several rows or the row does not split well."""
    length = shape[axis]
    if prod(shape) != length:
        return 0
    ts = largest_divisor(length, min(chip.sbuf_partitions, chip.pe_rows, chip.pe_cols))
    return ts if ts >= SPREAD_MIN_PARTITIONS and length // ts >= SPREAD_MIN_COLUMNS else 0


def plan_softmax(
    chip: ChipConfig, origin: str, shape: Sequence[int], axis: int, *, log: bool = False,
    spread: bool = False, ragged: bool = False,
) -> SoftmaxTiles | Refusal:
    outer, length, inner = prod(shape[:axis]), shape[axis], prod(shape[axis + 1 :])
    if spread and (ts := spread_partitions(chip, shape, axis)):
        nt = length // ts
        need = sbuf_bytes(nt, nt, ts, ts, ts, 2, 1, 1, 1)
        # the column sums' [ts, nt] accumulator: one matmul into one PSUM bank
        if need <= chip.sbuf_partition_bytes and nt <= psum_free_max(chip):
            return SoftmaxTiles(
                origin, ts, need, max(ts, nt) * F32, outer=1, length=length, inner=1, tr=ts,
                log=log, spread=ts,
            )
    need = sbuf_bytes(length, length, 1, 1, 1, 1)
    second = log or need <= chip.sbuf_partition_bytes
    if not second:
        need = sbuf_bytes(length, 1, 1, 1, 1)
    if refusal := over_sbuf(chip, origin, need):
        return refusal
    rows = outer if inner == 1 else inner
    tr = largest_divisor(rows, chip.sbuf_partitions)
    rem = ragged_rows(rows, chip.sbuf_partitions) if ragged else 0
    if rem:
        tr = chip.sbuf_partitions
    return SoftmaxTiles(
        origin, tr, need, outer=outer, length=length, inner=inner, tr=tr, log=log, second_row=second,
        rem=rem,
    )


def softmax_spread(plan: SoftmaxTiles, x: SSAValue, y: SSAValue) -> list[Operation]:
    """The spread form (module docstring): one row of `plan.length` as [ts, nt]."""
    ts, nt = plan.spread, plan.length // plan.spread
    ident = ConstOp(dense_f32(np.eye(ts, dtype=np.float32)))
    nest = Nest(plan.name, [])
    io_ap = nest.dram(0, [(1, ts), (ts, nt)])
    xt, et = nest.tile("sbuf", ts, nt), nest.tile("sbuf", ts, nt)
    it, ones, dg = (nest.tile("sbuf", ts, ts) for _ in range(3))
    pair = nest.tile("sbuf", ts, 2)
    gm, neg, total, last = (nest.tile("sbuf", ts, 1) for _ in range(4))
    bcast, sums = nest.tile("psum", ts, ts), nest.tile("psum", ts, nt)
    row = _tile(xt, "sbuf", nest, ts, [(1, nt)])
    erow = _tile(et, "sbuf", nest, ts, [(1, nt)])
    square = {t: _tile(t, "sbuf", nest, ts, [(1, ts)]) for t in (it, ones, dg)}
    col = {t: _tile(t, "sbuf", nest, ts, [(1, 1)]) for t in (gm, neg, total, last)}
    pcol = [nest.onchip("sbuf", j * F32, [(1, ts), (1, 1)]) for j in range(2)]
    both = _tile(pair, "sbuf", nest, ts, [(1, 2)])
    bc_ap = _tile(bcast, "psum", nest, ts, [(1, ts)])
    sums_ap = _tile(sums, "psum", nest, ts, [(1, nt)])
    ops = [
        CopyOp(x, io_ap, xt, row),
        CopyOp(ident.result, nest.dram(0, [(ts, ts), (1, ts)]), it, square[it]),
        MemsetOp(ones, square[ones], 1.0),
        MemsetOp(pair, pcol[1], float(np.finfo(np.float32).min)),
        ReduceOp("max", pair, pcol[0], xt, row, 1),
        ReduceOp("max", pair, pcol[0], pair, both, 1),
        ActOp("identity", dg, square[dg], it, square[it], scale_col=(pair, pcol[0])),
        MatmulOp(bcast, bc_ap, ones, square[ones], dg, square[dg], -1),
        ReduceOp("max", gm, col[gm], bcast, bc_ap, 1),
        ActOp("identity", neg, col[neg], gm, col[gm], scale=-1.0),
        ActOp("exp", et, erow, xt, row, bias_col=(neg, col[neg])),
        MatmulOp(sums, sums_ap, ones, square[ones], et, erow, -1),
        ReduceOp("add", total, col[total], sums, sums_ap, 1),
    ]
    if plan.log:  # y = (x - max) - log(sum): x - max first, exact however large max
        ops += [
            ActOp("log", last, col[last], total, col[total]),
            ActOp("identity", last, col[last], last, col[last], scale=-1.0),
            ActOp("identity", et, erow, xt, row, bias_col=(neg, col[neg])),
            ActOp("identity", et, erow, et, erow, bias_col=(last, col[last])),
        ]
    else:
        ops += [
            ActOp("reciprocal", last, col[last], total, col[total]),
            ActOp("identity", et, erow, et, erow, scale_col=(last, col[last])),
        ]
    nest.put(None, *ops, CopyOp(et, erow, y, io_ap))
    return [ident, nest.build()]


def softmax_nests(plan: SoftmaxTiles, x: SSAValue, y: SSAValue) -> list[NestOp]:
    """`softmax`'s nest, or with ragged rows (`plan.rem`) two: the whole tiles of tr
    rows, then the rem rows after them as one tile."""
    if not plan.rem:
        return [softmax(plan, x, y)]
    rows = plan.outer if plan.inner == 1 else plan.inner
    whole = rows - plan.rem
    main = replace(plan, rem=0, rows=whole)
    tail = replace(plan, rem=0, rows=plan.rem, tr=plan.rem)
    return [softmax(main, x, y), softmax(tail, x, y, row0=whole)]


def softmax(plan: SoftmaxTiles, x: SSAValue, y: SSAValue, row0: int = 0) -> NestOp:
    """y = exp(x - max) / sum(exp(x - max)) along the axis (with `plan.log`, x - max -
    log(sum(exp(x - max)))), rows on partitions: `plan.rows` of them (every row when
    0) from `row0` on."""
    outer, length, inner, tr = plan.outer, plan.length, plan.inner, plan.tr
    if inner == 1:
        rows = plan.rows or outer
        nest = Nest(plan.name, [("o", 1), ("r", rows // tr)])
        io_ap = nest.dram(nest.aff(row0 * length * F32, r=tr * length * F32), [(length, tr), (1, length)])
    else:
        rows = plan.rows or inner
        nest = Nest(plan.name, [("o", outer), ("r", rows // tr)])
        io_ap = nest.dram(
            nest.aff(row0 * F32, o=length * inner * F32, r=tr * F32), [(1, tr), (inner, length)]
        )
    xt = nest.tile("sbuf", tr, length)
    cols = [nest.tile("sbuf", tr, 1) for _ in range(4)]
    mx, neg, total, recip = cols
    row = _tile(xt, "sbuf", nest, tr, [(1, length)])
    col = {t: _tile(t, "sbuf", nest, tr, [(1, 1)]) for t in cols}
    head = [
        CopyOp(x, io_ap, xt, row),
        ReduceOp("max", mx, col[mx], xt, row, 1),
        ActOp("identity", neg, col[neg], mx, col[mx], scale=-1.0),
    ]
    # exp(x - max) into a row of its own: the loaded row is only read.
    et = nest.tile("sbuf", tr, length) if plan.second_row else xt
    erow = _tile(et, "sbuf", nest, tr, [(1, length)])
    if plan.log:  # y = (x - max) - log(sum): x - max first, exact however large max
        lse = recip  # the fourth column holds -log(sum)
        body = [
            ActOp("exp", et, erow, xt, row, bias_col=(neg, col[neg])),
            ReduceOp("add", total, col[total], et, erow, 1),
            ActOp("log", lse, col[lse], total, col[total]),
            ActOp("identity", lse, col[lse], lse, col[lse], scale=-1.0),
            ActOp("identity", et, erow, xt, row, bias_col=(neg, col[neg])),
            ActOp("identity", et, erow, et, erow, bias_col=(lse, col[lse])),
        ]
    else:
        body = [
            ActOp("exp", et, erow, xt, row, bias_col=(neg, col[neg])),
            ReduceOp("add", total, col[total], et, erow, 1),
            ActOp("reciprocal", recip, col[recip], total, col[total]),
            ActOp("identity", et, erow, et, erow, scale_col=(recip, col[recip])),
        ]
    nest.put("r", *head, *body, CopyOp(et, erow, y, io_ap))
    return nest.build()


class SoftmaxKernel(Kernel):
    """graph.softmax and graph.log_softmax: rows on partitions, one nest
    (kernels/softmax.py)."""

    def plan(
        self, op: Operation, chip: ChipConfig, options: KernelOptions = DEFAULT_OPTIONS
    ) -> TilePlan | Refusal:
        assert isinstance(op, graph.SoftmaxOp | graph.LogSoftmaxOp)
        tiles = plan_softmax(
            chip, origin_of(op), shape_of(op.input), op.axis_val,
            log=isinstance(op, graph.LogSoftmaxOp), spread=options.softmax_spread,
            ragged=options.ragged_rows,
        )
        return planned(op, chip, tiles, options=options)

    def emit(self, plan: TilePlan) -> Lowered:
        assert isinstance(plan.op, graph.SoftmaxOp | graph.LogSoftmaxOp)
        tiles = plan.nest(SoftmaxTiles)
        if tiles is not None and tiles.spread:
            y = alloc_result(plan.op)
            return Lowered([y, *softmax_spread(tiles, plan.op.operands[0], y.result)], y.result)
        if tiles is not None and tiles.rem:
            y = alloc_result(plan.op)
            return Lowered([y, *softmax_nests(tiles, plan.op.operands[0], y.result)], y.result)
        return one_nest(plan, SoftmaxTiles, softmax)


SOFTMAX = SoftmaxKernel()

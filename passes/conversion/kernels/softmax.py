"""Softmax: rows on partitions; max, exp(x - max) into a second row, sum, reciprocal,
scale (in place when two rows do not fit SBUF). Log-softmax: max, exp(x - max) into a
second row, sum, log, and x - max - log(sum) as ACT's bias. With the second row the
nest never writes the row it loads, so loop-keep-on-chip may forward a kept input tile
to it: no copy of the row on chip.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import prod

from xdsl.ir import SSAValue

from tidal.dialects.loop import (
    ActOp,
    CopyOp,
    NestOp,
    ReduceOp,
    TensorTensorOp,
)
from tidal.passes.conversion.kernels.nest_builder import (
    F32,
    Nest,
    largest_divisor,
    tile_ap as _tile,
)
from tidal.passes.conversion.kernels.plan import NestPlan, Refusal, over_sbuf, sbuf_bytes
from tidal.passes.conversion.kernels.base import (
    Kernel,
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


def plan_softmax(
    chip: ChipConfig, origin: str, shape: Sequence[int], axis: int, *, log: bool = False
) -> SoftmaxTiles | Refusal:
    outer, length, inner = prod(shape[:axis]), shape[axis], prod(shape[axis + 1 :])
    need = sbuf_bytes(length, length, 1, 1, 1, 1)
    second = log or need <= chip.sbuf_partition_bytes
    if not second:
        need = sbuf_bytes(length, 1, 1, 1, 1)
    if refusal := over_sbuf(chip, origin, need):
        return refusal
    tr = largest_divisor(outer if inner == 1 else inner, chip.sbuf_partitions)
    return SoftmaxTiles(
        origin, tr, need, outer=outer, length=length, inner=inner, tr=tr, log=log, second_row=second
    )


def softmax(plan: SoftmaxTiles, x: SSAValue, y: SSAValue) -> NestOp:
    """y = exp(x - max) / sum(exp(x - max)) along the axis (with `plan.log`, x - max -
    log(sum(exp(x - max)))), rows on partitions."""
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
    head = [
        CopyOp(x, io_ap, xt, row),
        ReduceOp("max", mx, col[mx], xt, row, 1),
        ActOp("identity", neg, col[neg], mx, col[mx], scale=-1.0),
    ]
    # exp(x - max) into a row of its own: the loaded row is only read.
    et = nest.tile("sbuf", tr, length) if plan.second_row else xt
    erow = _tile(et, "sbuf", nest, tr, [(1, length)])
    if plan.log:  # y = x + (-max - log(sum(exp(x - max)))): every value finite
        lse = recip  # the fourth column holds log(sum), then the shift
        body = [
            ActOp("exp", et, erow, xt, row, bias_col=(neg, col[neg])),
            ReduceOp("add", total, col[total], et, erow, 1),
            ActOp("log", lse, col[lse], total, col[total]),
            TensorTensorOp("sub", lse, col[lse], neg, col[neg], lse, col[lse]),
            ActOp("identity", et, erow, xt, row, bias_col=(lse, col[lse])),
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
            log=isinstance(op, graph.LogSoftmaxOp),
        )
        return planned(op, chip, tiles, options=options)

    def emit(self, plan: TilePlan) -> Lowered:
        assert isinstance(plan.op, graph.SoftmaxOp | graph.LogSoftmaxOp)
        return one_nest(plan, SoftmaxTiles, softmax)


SOFTMAX = SoftmaxKernel()

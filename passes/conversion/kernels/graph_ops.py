"""One accelerator kernel per kind of graph op (the small ones here; the tiled ones
beside their nests: `conv.CONV`, `gemm.GEMM`, `pool.POOL`, `eltwise.ELTWISE`,
`softmax.SOFTMAX`): `plan(op, chip)` reads the op's shapes
and properties and decides its tiles (a `TilePlan`, or a `Refusal` saying why the
chip cannot hold it) without building IR; `emit(plan)` builds the loop-level ops
that replace the op, from that plan. The op registry (`targets/onnx_ops.py`) names
each op's kernel; graph-partition asks `plan`, graph-to-loop runs `plan` then `emit`.

    planned = SOFTMAX.plan(softmax_op, get_chip("small"))
    # Refusal("'sm' needs 80256 bytes per SBUF partition, chip 'small' has 65536")
    lowered = SOFTMAX.emit(SOFTMAX.plan(softmax_op, get_chip("default")))
    # Lowered(ops=[loop.alloc, loop.nest "sm"], result=<the loop.alloc's buffer>)

Every graph op's result becomes a DRAM buffer (`loop.alloc`) written by its nests;
constants become `loop.const`, and reshapes, flattens, unsqueezes and dropouts (and a
one-operand sum) `loop.view`, which cost nothing.
"""

from __future__ import annotations

from math import prod

import numpy as np
from xdsl.dialects.builtin import MemRefType, f32
from xdsl.ir import Operation

from tidal.dialects import graph
from tidal.dialects.loop import ConstOp, ViewOp, dense_f32
from tidal.passes.conversion.kernels import move, norm
from tidal.passes.conversion.kernels.base import (
    Kernel,
    alloc_result,
    one_nest,
    origin_of,
    planned,
    shape_of,
)
from tidal.passes.conversion.kernels.concat_placement import ConcatCopy
from tidal.passes.conversion.kernels.conv import CONV
from tidal.passes.conversion.kernels.eltwise import ELTWISE
from tidal.passes.conversion.kernels.gemm import GEMM
from tidal.passes.conversion.kernels.plan import DEFAULT_OPTIONS, KernelOptions, Lowered, Refusal, TilePlan
from tidal.passes.conversion.kernels.pool import POOL
from tidal.passes.conversion.kernels.softmax import SOFTMAX
from tidal.sim.config import ChipConfig

__all__ = [
    "CONCAT",
    "CONSTANT",
    "CONSTANT_OF_SHAPE",
    "CONV",
    "ELTWISE",
    "GEMM",
    "GLOBAL_AVGPOOL",
    "LRN",
    "POOL",
    "SOFTMAX",
    "TRANSPOSE",
    "SLICE",
    "VIEW",
    "Kernel",
    "origin_of",
    "shape_of",
]


class ConstantKernel(Kernel):
    """graph.constant -> loop.const (a non-splat constant keeps its bytes, shared)."""

    def emit(self, plan: TilePlan) -> Lowered:
        op = plan.op
        assert isinstance(op, graph.ConstantOp)
        value = op.value
        if len(value.data.data) == 4 * prod(shape_of(op.result)):  # not a splat: keep the bytes
            const = ConstOp(value)
        else:
            const = ConstOp(dense_f32(op.to_numpy()))
        return Lowered([const], const.result)


CONSTANT = ConstantKernel()


class ConstantOfShapeKernel(Kernel):
    """graph.constant_of_shape -> a filled loop.const."""

    def emit(self, plan: TilePlan) -> Lowered:
        op = plan.op
        assert isinstance(op, graph.ConstantOfShapeOp)
        const = ConstOp(dense_f32(np.full(shape_of(op.result), op.value_val, np.float32)))
        return Lowered([const], const.result)


CONSTANT_OF_SHAPE = ConstantOfShapeKernel()


class ViewKernel(Kernel):
    """Reshapes, flattens, unsqueezes and inference dropouts: views (free)."""

    def emit(self, plan: TilePlan) -> Lowered:
        op = plan.op
        view = ViewOp(op.operands[0], MemRefType(f32, shape_of(op.results[0])))
        return Lowered([view], view.result)


VIEW = ViewKernel()


class GlobalAvgPoolKernel(Kernel):
    """graph.global_avgpool: chunked POOL reductions (kernels/norm.py)."""

    def plan(
        self, op: Operation, chip: ChipConfig, options: KernelOptions = DEFAULT_OPTIONS
    ) -> TilePlan | Refusal:
        assert isinstance(op, graph.GlobalAvgPoolOp)
        return planned(
            op, chip,
            norm.plan_global_avgpool(chip, origin_of(op), shape_of(op.input), merge=options.dma_merge),
            options=options,
        )

    def emit(self, plan: TilePlan) -> Lowered:
        assert isinstance(plan.op, graph.GlobalAvgPoolOp)
        return one_nest(plan, norm.GlobalPoolTiles, norm.global_avgpool)


GLOBAL_AVGPOOL = GlobalAvgPoolKernel()


class LRNKernel(Kernel):
    """The cross-channel window sum is a matmul with a constant banded matrix."""

    def plan(
        self, op: Operation, chip: ChipConfig, options: KernelOptions = DEFAULT_OPTIONS
    ) -> TilePlan | Refusal:
        assert isinstance(op, graph.LRNOp)
        shape = shape_of(op.input)
        return planned(
            op, chip,
            norm.plan_lrn(chip, origin_of(op), shape, bias=op.bias_val, merge=options.dma_merge, pieces=options.lrn_pieces),  # type: ignore[arg-type]
            options=options,
        )

    def emit(self, plan: TilePlan) -> Lowered:
        op = plan.op
        tiles = plan.nest(norm.LrnTiles)
        assert isinstance(op, graph.LRNOp) and tiles is not None
        shape = shape_of(op.input)
        y = alloc_result(op)
        band = ConstOp(dense_f32(norm.lrn_band(shape[1], op.size_val, op.alpha_val)))
        nest = norm.lrn(
            tiles, op.input, band.result, y.result, shape,  # type: ignore[arg-type]
            beta=op.beta_val, bias=op.bias_val,
        )
        return Lowered([y, band, nest], y.result)


LRN = LRNKernel()


class TransposeKernel(Kernel):
    """graph.transpose: a DRAM-to-DRAM copy by access pattern (no tiles)."""

    def emit(self, plan: TilePlan) -> Lowered:
        op = plan.op
        assert isinstance(op, graph.TransposeOp)
        y = alloc_result(op)
        nest = move.transpose(origin_of(op), op.input, y.result, shape_of(op.input), op.perm_val)
        return Lowered([y, nest], y.result)


TRANSPOSE = TransposeKernel()


class SliceKernel(Kernel):
    """graph.slice: a DRAM-to-DRAM copy by a strided access pattern (no tiles)."""

    def emit(self, plan: TilePlan) -> Lowered:
        op = plan.op
        assert isinstance(op, graph.SliceOp)
        y = alloc_result(op)
        nest = move.window(
            origin_of(op), op.input, y.result, shape_of(op.input), op.starts_val,
            op.steps_val, shape_of(op.result),
        )
        return Lowered([y, nest], y.result)


SLICE = SliceKernel()


class ConcatKernel(Kernel):
    """One copy nest per operand into its slice of the result, returned as `copies`
    so that `place_concat_operands` can let producers write in place."""

    def emit(self, plan: TilePlan) -> Lowered:
        op = plan.op
        assert isinstance(op, graph.ConcatOp)
        out_shape = shape_of(op.result)
        axis = op.axis_val
        origin = origin_of(op)
        y = alloc_result(op)
        lowered = Lowered([y], y.result)
        start = 0
        for i, x in enumerate(op.inputs):
            in_shape = shape_of(x)
            nest = move.concat_slice(f"{origin}.{i}", x, y.result, in_shape, out_shape, axis, start)
            offset = start * prod(out_shape[axis + 1 :]) * 4
            in_place = prod(out_shape[:axis]) == 1
            lowered.copies.append(ConcatCopy(nest, x, y.result, offset, in_place))
            lowered.ops.append(nest)
            start += in_shape[axis]
        return lowered


CONCAT = ConcatKernel()

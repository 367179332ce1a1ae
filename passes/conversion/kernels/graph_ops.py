"""One accelerator kernel per kind of graph op: `plan(op, chip)` reads the op's shapes
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

from abc import ABC, abstractmethod
from collections.abc import Callable
from math import prod

import numpy as np
from xdsl.dialects.builtin import MemRefType, TensorType, f32
from xdsl.ir import Operation, SSAValue

from tidal.dialects import graph
from tidal.dialects.loop import AllocOp, ConstOp, NestOp, ViewOp, dense_f32
from tidal.passes.conversion.kernels import move, norm
from tidal.passes.conversion.kernels.gemm import GemmTiles, gemm, plan_gemm
from tidal.passes.conversion.kernels.conv import ConvShape, ConvTiles, PadTiles, conv2d, pad, plan_conv2d, plan_pad
from tidal.passes.conversion.kernels.pool import PoolShape, PoolTiles, plan_window_pool, window_pool
from tidal.passes.conversion.kernels.eltwise import EltwiseTiles, eltwise, plan_eltwise
from tidal.passes.conversion.kernels.softmax import SoftmaxTiles, plan_softmax, softmax
from tidal.passes.conversion.kernels.concat_placement import ConcatCopy
from tidal.passes.conversion.kernels.plan import (
    DEFAULT_OPTIONS,
    KernelOptions,
    Lowered,
    N,
    NestPlan,
    Refusal,
    TilePlan,
)
from tidal.sim.config import ChipConfig


def shape_of(value: SSAValue) -> tuple[int, ...]:
    t = value.type
    assert isinstance(t, TensorType | MemRefType), t
    return tuple(t.get_shape())


def origin_of(op: Operation) -> str:
    attr = op.attributes.get("tidal.origin")
    return attr.data if attr is not None else op.name  # type: ignore[union-attr]


def broadcast_strides(in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> list[int]:
    """Element strides of a row-major `in_shape` tensor broadcast to `out_shape`."""
    pad = len(out_shape) - len(in_shape)
    full = (1,) * pad + tuple(in_shape)
    contiguous = [prod(full[i + 1 :]) for i in range(len(full))]
    return [0 if full[i] == 1 and out_shape[i] != 1 else contiguous[i] for i in range(len(full))]


def _alloc(op: Operation) -> AllocOp:
    return AllocOp(MemRefType(f32, shape_of(op.results[0])))


def _one_nest(
    plan: TilePlan, kind: type[N], build: Callable[[N, SSAValue, SSAValue], NestOp]
) -> Lowered:
    """A one-input op as one nest, `build(tiles, input, result buffer)`, from the
    plan's nest of type `kind`, into a new DRAM buffer."""
    tiles = plan.nest(kind)
    assert tiles is not None
    y = _alloc(plan.op)
    return Lowered([y, build(tiles, plan.op.operands[0], y.result)], y.result)


def _planned(
    op: Operation,
    chip: ChipConfig,
    *nests: NestPlan | Refusal,
    options: KernelOptions = DEFAULT_OPTIONS,
) -> TilePlan | Refusal:
    """The op's plan from its nests' plans, or the first nest's refusal."""
    for nest in nests:
        if isinstance(nest, Refusal):
            return nest
    return TilePlan(op, chip, tuple(nests), options)  # type: ignore[arg-type]


class Kernel(ABC):
    """An accelerator kernel. By default an op costs no tiles: it plans to an empty
    `TilePlan`, which fits any chip."""

    def plan(
        self, op: Operation, chip: ChipConfig, options: KernelOptions = DEFAULT_OPTIONS
    ) -> TilePlan | Refusal:
        return TilePlan(op, chip, options=options)

    @abstractmethod
    def emit(self, plan: TilePlan) -> Lowered:
        """The ops that replace `plan.op`, built from `plan`."""


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
        return _planned(op, chip, plan_gemm(chip, origin_of(op), m=m, n=n, k=k), options=options)

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
        y = _alloc(op)
        nest = gemm(
            tiles, a, b, y.result,
            trans_a=trans_a, trans_b=trans_b, alpha=alpha, beta=beta, c=c_arg,  # type: ignore[arg-type]
        )
        return Lowered([y, nest], y.result)


GEMM = GemmKernel()


def _padded(op: graph.Conv2dOp | graph.MaxPoolOp | graph.AvgPoolOp) -> tuple[int, int, int, int]:
    n, c, h, w = shape_of(op.input)
    pt, pl, pb, pr = op.pads_val
    return (n, c, h + pt + pb, w + pl + pr)


def _plan_pad(
    op: graph.Conv2dOp | graph.MaxPoolOp | graph.AvgPoolOp, chip: ChipConfig
) -> list[NestPlan | Refusal]:
    """The pad nest's plan, when the op pads (its input is padded once, in DRAM)."""
    if not any(op.pads_val):
        return []
    shape = shape_of(op.input)
    return [plan_pad(chip, f"{origin_of(op)}.pad", shape, op.pads_val)]  # type: ignore[arg-type]


def _emit_pad(
    op: graph.Conv2dOp | graph.MaxPoolOp | graph.AvgPoolOp, plan: TilePlan, fill: float
) -> tuple[SSAValue, list[Operation]]:
    """The padded input (the input itself when the op does not pad) and its ops."""
    tiles = plan.nest(PadTiles)
    if tiles is None:
        return op.input, []
    xp = AllocOp(MemRefType(f32, _padded(op)))
    shape = shape_of(op.input)
    return xp.result, [xp, pad(tiles, op.input, xp.result, shape, op.pads_val, fill)]  # type: ignore[arg-type]


def _conv_shape(op: graph.Conv2dOp) -> ConvShape:
    return ConvShape(
        _padded(op), shape_of(op.weight), shape_of(op.result),  # type: ignore[arg-type]
        op.strides_val, op.dilations_val, op.group_val,
    )


class ConvKernel(Kernel):
    """graph.conv2d: a pad nest when it pads, then the PE-array nest."""

    def plan(
        self, op: Operation, chip: ChipConfig, options: KernelOptions = DEFAULT_OPTIONS
    ) -> TilePlan | Refusal:
        assert isinstance(op, graph.Conv2dOp)
        conv = plan_conv2d(chip, origin_of(op), _conv_shape(op))
        return _planned(op, chip, *_plan_pad(op, chip), conv, options=options)

    def emit(self, plan: TilePlan) -> Lowered:
        op = plan.op
        tiles = plan.nest(ConvTiles)
        assert isinstance(op, graph.Conv2dOp) and tiles is not None
        y = _alloc(op)
        x, ops = _emit_pad(op, plan, 0.0)
        ops.append(conv2d(tiles, x, op.weight, op.bias, y.result, _conv_shape(op)))
        return Lowered([y, *ops], y.result)


CONV = ConvKernel()


def _recip_counts(op: graph.AvgPoolOp) -> np.ndarray:
    """1 / (number of real input pixels in each output window): [OH, OW]."""
    _, _, h, w = shape_of(op.input)
    _, _, oh, ow = shape_of(op.result)
    (kh, kw), (sh, sw) = op.kernel_shape_val, op.strides_val
    pt, pl, _, _ = op.pads_val

    def counts(size: int, out: int, k: int, s: int, p: int) -> np.ndarray:
        start = np.arange(out) * s - p
        return np.minimum(start + k, size) - np.maximum(start, 0)

    per_row, per_col = counts(h, oh, kh, sh, pt), counts(w, ow, kw, sw, pl)
    return (1.0 / np.outer(per_row, per_col)).astype(np.float32)


def _counts_padding(op: graph.MaxPoolOp | graph.AvgPoolOp) -> bool:
    """An average pool whose padding must not count: scaled by a reciprocal map."""
    return (
        isinstance(op, graph.AvgPoolOp) and any(op.pads_val) and not op.count_include_pad_val
    )


def _pool_shape(op: graph.MaxPoolOp | graph.AvgPoolOp) -> PoolShape:
    return PoolShape(
        _padded(op), shape_of(op.result), op.kernel_shape_val, op.strides_val,  # type: ignore[arg-type]
    )


class PoolKernel(Kernel):
    """Max pooling pads with -inf; average pooling pads with 0 and scales by
    1 / (kh * kw), or, when padding must not count (count_include_pad = 0), by a
    constant map of reciprocal window counts."""

    def plan(
        self, op: Operation, chip: ChipConfig, options: KernelOptions = DEFAULT_OPTIONS
    ) -> TilePlan | Refusal:
        assert isinstance(op, graph.MaxPoolOp | graph.AvgPoolOp)
        pool = plan_window_pool(
            chip, origin_of(op), _pool_shape(op), with_recip=_counts_padding(op)
        )
        return _planned(op, chip, *_plan_pad(op, chip), pool, options=options)

    def emit(self, plan: TilePlan) -> Lowered:
        op = plan.op
        tiles = plan.nest(PoolTiles)
        assert isinstance(op, graph.MaxPoolOp | graph.AvgPoolOp) and tiles is not None
        is_max = isinstance(op, graph.MaxPoolOp)
        kh, kw = op.kernel_shape_val
        y = _alloc(op)
        x, ops = _emit_pad(op, plan, float("-inf") if is_max else 0.0)
        recip = None
        scale = 1.0
        if _counts_padding(op):
            const = ConstOp(dense_f32(_recip_counts(op)))  # type: ignore[arg-type]
            ops.insert(0, const)
            recip = const.result
        elif not is_max:
            scale = 1.0 / (kh * kw)
        ops.append(window_pool(
            tiles, "max" if is_max else "add", x, y.result, _pool_shape(op),
            scale=scale, recip=recip,
        ))
        return Lowered([y, *ops], y.result)


POOL = PoolKernel()


class GlobalAvgPoolKernel(Kernel):
    """graph.global_avgpool: chunked POOL reductions (kernels/norm.py)."""

    def plan(
        self, op: Operation, chip: ChipConfig, options: KernelOptions = DEFAULT_OPTIONS
    ) -> TilePlan | Refusal:
        assert isinstance(op, graph.GlobalAvgPoolOp)
        return _planned(op, chip, norm.plan_global_avgpool(chip, origin_of(op), shape_of(op.input)), options=options)

    def emit(self, plan: TilePlan) -> Lowered:
        assert isinstance(plan.op, graph.GlobalAvgPoolOp)
        return _one_nest(plan, norm.GlobalPoolTiles, norm.global_avgpool)


GLOBAL_AVGPOOL = GlobalAvgPoolKernel()


class LRNKernel(Kernel):
    """The cross-channel window sum is a matmul with a constant banded matrix."""

    def plan(
        self, op: Operation, chip: ChipConfig, options: KernelOptions = DEFAULT_OPTIONS
    ) -> TilePlan | Refusal:
        assert isinstance(op, graph.LRNOp)
        shape = shape_of(op.input)
        return _planned(op, chip, norm.plan_lrn(chip, origin_of(op), shape, bias=op.bias_val), options=options)  # type: ignore[arg-type]

    def emit(self, plan: TilePlan) -> Lowered:
        op = plan.op
        tiles = plan.nest(norm.LrnTiles)
        assert isinstance(op, graph.LRNOp) and tiles is not None
        shape = shape_of(op.input)
        y = _alloc(op)
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
        y = _alloc(op)
        nest = move.transpose(origin_of(op), op.input, y.result, shape_of(op.input), op.perm_val)
        return Lowered([y, nest], y.result)


TRANSPOSE = TransposeKernel()


class ConcatKernel(Kernel):
    """One copy nest per operand into its slice of the result, returned as `copies`
    so that `place_concat_operands` can let producers write in place."""

    def emit(self, plan: TilePlan) -> Lowered:
        op = plan.op
        assert isinstance(op, graph.ConcatOp)
        out_shape = shape_of(op.result)
        axis = op.axis_val
        origin = origin_of(op)
        y = _alloc(op)
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


def _eltwise_operands(op: Operation) -> tuple[str, list[SSAValue]]:
    if isinstance(op, graph.ReluOp):
        return "relu", [op.input]
    if isinstance(op, graph.SumOp):
        return "add", list(op.inputs)
    assert isinstance(op, graph.AddOp | graph.MulOp)
    return ("add" if isinstance(op, graph.AddOp) else "mul"), [op.lhs, op.rhs]


class EltwiseKernel(Kernel):
    """Element-wise ops (relu, add, mul, an n-ary sum): one nest over the coalesced
    dims, broadcasting by stride-0 access patterns. A one-operand sum is a view."""

    def plan(
        self, op: Operation, chip: ChipConfig, options: KernelOptions = DEFAULT_OPTIONS
    ) -> TilePlan | Refusal:
        if isinstance(op, graph.SumOp) and len(op.inputs) == 1:
            return TilePlan(op, chip, options=options)
        out_shape = shape_of(op.results[0])
        _, operands = _eltwise_operands(op)
        strides = [broadcast_strides(shape_of(v), out_shape) for v in operands]
        return _planned(op, chip, plan_eltwise(
            chip, origin_of(op), out_shape, strides, by_partitions=options.eltwise_partitions
        ), options=options)

    def emit(self, plan: TilePlan) -> Lowered:
        op = plan.op
        tiles = plan.nest(EltwiseTiles)
        if tiles is None:  # a one-operand sum
            return VIEW.emit(plan)
        kind, operands = _eltwise_operands(op)
        y = _alloc(op)
        return Lowered([y, eltwise(tiles, kind, y.result, operands)], y.result)


ELTWISE = EltwiseKernel()


class SoftmaxKernel(Kernel):
    """graph.softmax: rows on partitions, one nest (kernels/softmax.py)."""

    def plan(
        self, op: Operation, chip: ChipConfig, options: KernelOptions = DEFAULT_OPTIONS
    ) -> TilePlan | Refusal:
        assert isinstance(op, graph.SoftmaxOp)
        tiles = plan_softmax(chip, origin_of(op), shape_of(op.input), op.axis_val)
        return _planned(op, chip, tiles, options=options)

    def emit(self, plan: TilePlan) -> Lowered:
        assert isinstance(plan.op, graph.SoftmaxOp)
        return _one_nest(plan, SoftmaxTiles, softmax)


SOFTMAX = SoftmaxKernel()

"""graph-to-loop: lower whole-tensor graph ops to tiled loop nests over DRAM buffers.

Expects a `func.func` on f32 tensors holding graph ops with static shapes. Produces the
same function on `memref`s: every graph op becomes a DRAM buffer (`loop.alloc`) and
one `loop.nest` (or a pad nest and a compute nest) sized for the chip preset;
constants become `loop.const`, reshapes and flattens become `loop.view` (free).

    %y = graph.relu %x {tidal.origin = "r1"} : (tensor<8x512xf32>) -> tensor<8x512xf32>
  becomes
    %y = loop.alloc : memref<8x512xf32>
    loop.nest "r1" domain [...] order [...] { ... loop.act "relu" ... }
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod

from xdsl.context import Context
from xdsl.dialects import func
import numpy as np
from xdsl.dialects.builtin import FunctionType, MemRefType, ModuleOp, TensorType, f32
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.rewriter import Rewriter
from xdsl.utils.exceptions import PassFailedException

from tidal.dialects import graph
from tidal.dialects.loop import AllocOp, ConstOp, ViewOp, dense_f32
from tidal.passes import kernels
from tidal.sim.config import ChipConfig, get_chip


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


@dataclass
class LowerOp(RewritePattern):
    """Base of the per-op patterns: the chip and a way to fail with the op's name."""

    chip: ChipConfig

    def lower(self, op: Operation, rewriter: PatternRewriter, build) -> None:
        y = _alloc(op)
        try:
            nests = build(y.result)
        except kernels.DoesNotFitError as e:
            raise PassFailedException(f"graph-to-loop: {e}") from None
        rewriter.replace(op, [y, *nests], [y.result])


class LowerConstant(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.ConstantOp, rewriter: PatternRewriter) -> None:
        rewriter.replace(op, ConstOp(dense_f32(op.to_numpy())))


class LowerConstantOfShape(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(
        self, op: graph.ConstantOfShapeOp, rewriter: PatternRewriter
    ) -> None:
        fill = np.full(shape_of(op.result), op.value_val, np.float32)
        rewriter.replace(op, ConstOp(dense_f32(fill)))


class LowerReshape(RewritePattern):
    """Reshapes, flattens, unsqueezes and inference dropouts: views (free)."""

    @op_type_rewrite_pattern
    def match_and_rewrite(
        self,
        op: graph.ReshapeOp | graph.FlattenOp | graph.UnsqueezeOp | graph.DropoutOp,
        rewriter: PatternRewriter,
    ) -> None:
        rewriter.replace(op, ViewOp(op.input, MemRefType(f32, shape_of(op.result))))


class LowerGemm(LowerOp):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.GemmOp | graph.MatMulOp, rewriter: PatternRewriter) -> None:
        if isinstance(op, graph.MatMulOp):
            a, b, c = op.lhs, op.rhs, None
            trans_a = trans_b = False
            alpha = beta = 1.0
        else:
            a, b, c = op.a, op.b, op.c
            trans_a, trans_b = op.trans_a_val, op.trans_b_val
            alpha, beta = op.alpha_val, op.beta_val
        m, n = shape_of(op.result)
        k = shape_of(a)[0] if trans_a else shape_of(a)[1]
        c_arg = None
        if c is not None:
            c_arg = (c, tuple(broadcast_strides(shape_of(c), (m, n))))
        self.lower(op, rewriter, lambda y: [kernels.gemm(
            self.chip, origin_of(op), a, b, y, m=m, n=n, k=k,
            trans_a=trans_a, trans_b=trans_b, alpha=alpha, beta=beta, c=c_arg,
        )])


class LowerConv2d(LowerOp):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.Conv2dOp, rewriter: PatternRewriter) -> None:
        n, c, h, w = shape_of(op.input)
        pt, pl, pb, pr = op.pads_val
        padded = (n, c, h + pt + pb, w + pl + pr)
        origin = origin_of(op)

        def build(y: SSAValue) -> list[Operation]:
            ops: list[Operation] = []
            x = op.input
            if any(op.pads_val):
                xp = AllocOp(MemRefType(f32, padded))
                ops += [xp, kernels.pad(self.chip, f"{origin}.pad", x, xp.result, (n, c, h, w), op.pads_val, 0.0)]
                x = xp.result
            ops.append(kernels.conv2d(
                self.chip, origin, x, op.weight, op.bias, y,
                padded_shape=padded, weight_shape=shape_of(op.weight),  # type: ignore[arg-type]
                out_shape=shape_of(op.result),  # type: ignore[arg-type]
                strides=op.strides_val, dilations=op.dilations_val, group=op.group_val,
            ))
            return ops

        self.lower(op, rewriter, build)


class LowerMaxPool(LowerOp):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.MaxPoolOp, rewriter: PatternRewriter) -> None:
        n, c, h, w = shape_of(op.input)
        pt, pl, pb, pr = op.pads_val
        padded = (n, c, h + pt + pb, w + pl + pr)
        origin = origin_of(op)

        def build(y: SSAValue) -> list[Operation]:
            ops: list[Operation] = []
            x = op.input
            if any(op.pads_val):
                xp = AllocOp(MemRefType(f32, padded))
                ops += [xp, kernels.pad(self.chip, f"{origin}.pad", x, xp.result, (n, c, h, w), op.pads_val, float("-inf"))]
                x = xp.result
            ops.append(kernels.maxpool(
                self.chip, origin, x, y, padded_shape=padded,
                out_shape=shape_of(op.result),  # type: ignore[arg-type]
                kernel=op.kernel_shape_val, strides=op.strides_val,
            ))
            return ops

        self.lower(op, rewriter, build)


class LowerElementwise(LowerOp):
    @op_type_rewrite_pattern
    def match_and_rewrite(
        self, op: graph.AddOp | graph.MulOp | graph.ReluOp, rewriter: PatternRewriter
    ) -> None:
        out_shape = shape_of(op.result)
        if isinstance(op, graph.ReluOp):
            kind, operands = "relu", [op.input]
        else:
            kind, operands = ("add" if isinstance(op, graph.AddOp) else "mul"), [op.lhs, op.rhs]
        inputs = [(v, broadcast_strides(shape_of(v), out_shape)) for v in operands]
        self.lower(op, rewriter, lambda y: [
            kernels.eltwise(self.chip, origin_of(op), kind, y, out_shape, inputs)
        ])


class LowerSoftmax(LowerOp):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.SoftmaxOp, rewriter: PatternRewriter) -> None:
        self.lower(op, rewriter, lambda y: [kernels.softmax(
            self.chip, origin_of(op), op.input, y, shape_of(op.input), op.axis_val
        )])


def _retype_signature(fn: func.FuncOp) -> None:
    for arg in fn.body.block.args:
        if isinstance(arg.type, TensorType):
            Rewriter.replace_value_with_new_type(arg, MemRefType(f32, arg.type.get_shape()))


def _fix_function_type(fn: func.FuncOp) -> None:
    ret = fn.body.block.last_op
    assert isinstance(ret, func.ReturnOp)
    fn.function_type = FunctionType.from_lists(
        [a.type for a in fn.body.block.args], [v.type for v in ret.arguments]
    )


@dataclass(frozen=True)
class GraphToLoopPass(ModulePass):
    """Lower graph ops to loop nests sized for the chip preset `chip`."""

    name = "graph-to-loop"

    chip: str = field(default="default")

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        chip = get_chip(self.chip)
        funcs = [f for f in op.walk() if isinstance(f, func.FuncOp)]
        for fn in funcs:
            _retype_signature(fn)
        PatternRewriteWalker(
            GreedyRewritePatternApplier([
                LowerConstant(),
                LowerConstantOfShape(),
                LowerReshape(),
                LowerGemm(chip),
                LowerConv2d(chip),
                LowerMaxPool(chip),
                LowerElementwise(chip),
                LowerSoftmax(chip),
            ]),
            apply_recursively=False,
        ).rewrite_module(op)
        for fn in funcs:
            leftover = [o for o in fn.walk() if o.dialect_name() == "graph"]
            if leftover:
                raise PassFailedException(
                    f"graph-to-loop: no lowering for '{leftover[0].name}' "
                    f"('{origin_of(leftover[0])}')"
                )
            _fix_function_type(fn)

"""graph-to-loop: lower whole-tensor graph ops to tiled loop nests over DRAM buffers.

Expects a `func.func` on f32 tensors holding graph ops with static shapes, after
graph-canonicalize (no batchnorm left) and graph-partition (every op placed on the
accelerator). Produces the same function on `memref`s: every graph op becomes a DRAM
buffer (`loop.alloc`) and one `loop.nest` (or a pad nest and a compute nest) sized
for the chip preset (kernels.py, kernels_norm.py, kernels_move.py); constants
become `loop.const` (their bytes shared, not copied), reshapes, flattens,
unsqueezes and dropouts `loop.view` (free). A concat is one copy nest per operand,
and then producers are made to write into their slice instead where the layout
allows (concat_placement.py), so the nine light-zoo models copy nothing.

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
from tidal.passes.conversion.kernels import compute as kernels
from tidal.passes.conversion.kernels import move as kernels_move
from tidal.passes.conversion.kernels import norm as kernels_norm
from tidal.passes.conversion.kernels.concat_placement import ConcatCopy, place_concat_operands
from tidal.passes.utils.quiet import quiet_diagnostics
from tidal.sim.config import ChipConfig, get_chip
from tidal.passes.utils.expect import expect_constants_fit, expect_level


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
        """Replace `op` by a DRAM buffer and the ops `build(buffer)` returns (nests,
        and any constants they read)."""
        y = _alloc(op)
        try:
            nests = build(y.result)
        except kernels.DoesNotFitError as e:
            raise PassFailedException(f"graph-to-loop: {e}") from None
        rewriter.replace(op, [y, *nests], [y.result])


class LowerConstant(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.ConstantOp, rewriter: PatternRewriter) -> None:
        value = op.value
        if len(value.data.data) == 4 * prod(shape_of(op.result)):  # not a splat: keep the bytes
            rewriter.replace(op, ConstOp(value))
            return
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


class LowerPool(LowerOp):
    """Max pooling pads with -inf; average pooling pads with 0 and scales by
    1 / (kh * kw), or, when padding must not count (count_include_pad = 0), by a
    constant map of reciprocal window counts."""

    @op_type_rewrite_pattern
    def match_and_rewrite(
        self, op: graph.MaxPoolOp | graph.AvgPoolOp, rewriter: PatternRewriter
    ) -> None:
        n, c, h, w = shape_of(op.input)
        pt, pl, pb, pr = op.pads_val
        padded = (n, c, h + pt + pb, w + pl + pr)
        origin = origin_of(op)
        is_max = isinstance(op, graph.MaxPoolOp)
        kh, kw = op.kernel_shape_val

        def build(y: SSAValue) -> list[Operation]:
            ops: list[Operation] = []
            x = op.input
            if any(op.pads_val):
                fill = float("-inf") if is_max else 0.0
                xp = AllocOp(MemRefType(f32, padded))
                ops += [xp, kernels.pad(self.chip, f"{origin}.pad", x, xp.result, (n, c, h, w), op.pads_val, fill)]
                x = xp.result
            recip = None
            scale = 1.0
            if not is_max:
                assert isinstance(op, graph.AvgPoolOp)
                if any(op.pads_val) and not op.count_include_pad_val:
                    const = ConstOp(dense_f32(_recip_counts(op)))
                    ops.insert(0, const)
                    recip = const.result
                else:
                    scale = 1.0 / (kh * kw)
            ops.append(kernels.window_pool(
                self.chip, origin, "max" if is_max else "add", x, y, padded_shape=padded,
                out_shape=shape_of(op.result),  # type: ignore[arg-type]
                kernel=op.kernel_shape_val, strides=op.strides_val, scale=scale, recip=recip,
            ))
            return ops

        self.lower(op, rewriter, build)


class LowerGlobalAvgPool(LowerOp):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.GlobalAvgPoolOp, rewriter: PatternRewriter) -> None:
        self.lower(op, rewriter, lambda y: [kernels_norm.global_avgpool(
            self.chip, origin_of(op), op.input, y, shape_of(op.input)
        )])


class LowerLRN(LowerOp):
    """The cross-channel window sum is a matmul with a constant banded matrix."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.LRNOp, rewriter: PatternRewriter) -> None:
        shape = shape_of(op.input)
        band = ConstOp(dense_f32(kernels_norm.lrn_band(shape[1], op.size_val, op.alpha_val)))
        self.lower(op, rewriter, lambda y: [band, kernels_norm.lrn(
            self.chip, origin_of(op), op.input, band.result, y, shape,  # type: ignore[arg-type]
            beta=op.beta_val, bias=op.bias_val,
        )])


class LowerTranspose(LowerOp):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.TransposeOp, rewriter: PatternRewriter) -> None:
        self.lower(op, rewriter, lambda y: [kernels_move.transpose(
            origin_of(op), op.input, y, shape_of(op.input), op.perm_val
        )])


@dataclass
class LowerConcat(LowerOp):
    """One copy nest per operand into its slice of the result, recorded in `copies`
    so that `place_concat_operands` can let producers write in place."""

    copies: list[ConcatCopy] = field(default_factory=list)

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.ConcatOp, rewriter: PatternRewriter) -> None:
        out_shape = shape_of(op.result)
        axis = op.axis_val
        origin = origin_of(op)

        def build(y: SSAValue) -> list[Operation]:
            nests: list[Operation] = []
            start = 0
            for i, x in enumerate(op.inputs):
                in_shape = shape_of(x)
                nest = kernels_move.concat_slice(
                    f"{origin}.{i}", x, y, in_shape, out_shape, axis, start
                )
                offset = start * prod(out_shape[axis + 1 :]) * 4
                in_place = prod(out_shape[:axis]) == 1
                self.copies.append(ConcatCopy(nest, x, y, offset, in_place))
                nests.append(nest)
                start += in_shape[axis]
            return nests

        self.lower(op, rewriter, build)


class LowerElementwise(LowerOp):
    @op_type_rewrite_pattern
    def match_and_rewrite(
        self, op: graph.AddOp | graph.MulOp | graph.ReluOp | graph.SumOp, rewriter: PatternRewriter
    ) -> None:
        out_shape = shape_of(op.result)
        if isinstance(op, graph.ReluOp):
            kind, operands = "relu", [op.input]
        elif isinstance(op, graph.SumOp):
            if len(op.inputs) == 1:
                rewriter.replace(op, ViewOp(op.inputs[0], MemRefType(f32, out_shape)))
                return
            kind, operands = "add", list(op.inputs)
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


def _reject_host_ops(fn: func.FuncOp) -> None:
    """graph-partition placed these on the host: the accelerator program cannot
    run them (tidal-run's host path must split the function first)."""
    for op in fn.body.block.ops:
        placement = op.attributes.get("tidal.placement")
        if placement is None or placement.data == "accel":  # type: ignore[union-attr]
            continue
        reason = op.attributes.get("tidal.reason")
        why = f": {reason.data}" if reason is not None else ""  # type: ignore[union-attr]
        raise PassFailedException(
            f"graph-to-loop: '{origin_of(op)}' ({op.name}) is placed on the "
            f"{placement.data}, which an accelerator binary cannot run{why}"  # type: ignore[union-attr]
        )


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
        expect_level(op, self.name, "graph")
        chip = get_chip(self.chip)
        expect_constants_fit(op, self.name, chip.dram_bytes, f"chip '{chip.name}'")
        funcs = [f for f in op.walk() if isinstance(f, func.FuncOp)]
        for fn in funcs:
            _reject_host_ops(fn)
            _retype_signature(fn)
        concat = LowerConcat(chip)
        with quiet_diagnostics():
            PatternRewriteWalker(
                GreedyRewritePatternApplier([
                    LowerConstant(),
                    LowerConstantOfShape(),
                    LowerReshape(),
                    LowerGemm(chip),
                    LowerConv2d(chip),
                    LowerPool(chip),
                    LowerGlobalAvgPool(chip),
                    LowerLRN(chip),
                    LowerTranspose(chip),
                    concat,
                    LowerElementwise(chip),
                    LowerSoftmax(chip),
                ]),
                apply_recursively=False,
            ).rewrite_module(op)
        place_concat_operands(concat.copies)
        for fn in funcs:
            leftover = [o for o in fn.walk() if o.dialect_name() == "graph"]
            if leftover:
                raise PassFailedException(
                    f"graph-to-loop: no lowering for '{leftover[0].name}' "
                    f"('{origin_of(leftover[0])}')"
                )
            _fix_function_type(fn)

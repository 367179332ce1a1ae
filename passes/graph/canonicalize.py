"""graph-canonicalize: fold what inference makes constant, before lowering.

Expects graph ops on static f32 tensors (the importer's output). Rewrites, each a
pattern applied to a fixed point:

- `graph.constant_of_shape` -> a splat `graph.constant`;
- reshape / flatten / unsqueeze / transpose of a constant -> a constant (a reshape
  keeps the bytes); any other unsqueeze -> `graph.reshape` (a view);
- `graph.dropout` (inference) -> its input;
- `graph.batchnorm` after a single-use conv -> the conv's weights and bias scaled
  (w * s, (b - mean) * s + beta with s = scale / sqrt(var + eps)); elsewhere a
  per-channel `graph.mul` then `graph.add`;
- a per-channel constant `graph.mul` / `graph.add` after a single-use conv -> folded
  into its weights / bias (DenseNet's scale layers);
- constant chains: mul(mul(x, a), b) -> mul(x, a * b), add(add(x, a), b) ->
  add(x, a + b), mul(add(x, a), b) -> add(mul(x, b), a * b), and ops on constants
  only are computed;
- sums: a one-operand sum is its operand, a two-operand sum an add, and a
  single-use add/sum feeding an add/sum merges into one n-ary `graph.sum` (one
  nest, no intermediate tensor).

    %w = graph.constant_of_shape {value = 2.0e-02 : f32} : tensor<8x3x3x3xf32>
    %c = graph.conv2d %x, %w, %b : ...
    %y = graph.batchnorm %c, %s, %t, %m, %v : ...
  becomes
    %w2 = graph.constant dense<...> : tensor<8x3x3x3xf32>
    %b2 = graph.constant dense<...> : tensor<8xf32>
    %y = graph.conv2d %x, %w2, %b2 : ...
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import (
    BytesAttr,
    DenseIntOrFPElementsAttr,
    ModuleOp,
    TensorType,
)
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from tidal.dialects import graph
from tidal.passes.utils.quiet import quiet_diagnostics
from tidal.passes.utils.expect import expect_constants_fit, expect_level
from tidal.sim.config import PRESETS


def _type(value: SSAValue) -> TensorType:
    """A graph value's type: a static f32 tensor (the graph dialect verifies it)."""
    ty = value.type
    assert isinstance(ty, TensorType)
    return ty


def _shape(value: SSAValue) -> tuple[int, ...]:
    return tuple(_type(value).get_shape())


def _const(value: SSAValue) -> np.ndarray | None:
    """The value of a constant operand, else None."""
    owner = value.owner
    return owner.to_numpy() if isinstance(owner, graph.ConstantOp) else None


def _is_const(value: SSAValue) -> bool:
    return isinstance(value.owner, graph.ConstantOp)


def _new_const(array: np.ndarray, origin: Operation) -> graph.ConstantOp:
    c = graph.ConstantOp.from_numpy(array)
    _copy_origin(origin, c)
    return c


def _copy_origin(source: Operation, target: Operation) -> None:
    if "tidal.origin" in source.attributes:
        target.attributes["tidal.origin"] = source.attributes["tidal.origin"]


def _single_use(value: SSAValue) -> bool:
    return value.has_one_use()


def _channel_vector(c: np.ndarray, out_shape: tuple[int, ...]) -> np.ndarray | None:
    """`c` as a [C] vector if, broadcast to NCHW `out_shape`, it varies at most
    along the channels; else None."""
    if c.ndim > len(out_shape):
        return None
    full = (1,) * (len(out_shape) - c.ndim) + c.shape
    if any(d != 1 for i, d in enumerate(full) if i != 1):
        return None
    return np.broadcast_to(c.reshape(full[1]), (out_shape[1],)).astype(np.float32)


# ----------------------------------------------------------------- constants


class FoldConstantOfShape(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(
        self, op: graph.ConstantOfShapeOp, rewriter: PatternRewriter
    ) -> None:
        splat = DenseIntOrFPElementsAttr(
            _type(op.result), BytesAttr(np.float32(op.value_val).tobytes())
        )
        c = graph.ConstantOp(splat)
        _copy_origin(op, c)
        rewriter.replace(op, c)


class FoldViewOfConstant(RewritePattern):
    """A reshape-like op on a constant is the same bytes with another type."""

    @op_type_rewrite_pattern
    def match_and_rewrite(
        self,
        op: graph.ReshapeOp | graph.FlattenOp | graph.UnsqueezeOp,
        rewriter: PatternRewriter,
    ) -> None:
        source = op.input.owner
        if not isinstance(source, graph.ConstantOp):
            return
        value = DenseIntOrFPElementsAttr(_type(op.result), source.value.data)
        c = graph.ConstantOp(value)
        _copy_origin(source, c)
        rewriter.replace(op, c)


class UnsqueezeToReshape(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.UnsqueezeOp, rewriter: PatternRewriter) -> None:
        if _is_const(op.input):
            return
        r = graph.ReshapeOp(op.input, op.result.type)  # type: ignore[arg-type]
        _copy_origin(op, r)
        rewriter.replace(op, r)


class FoldTransposeOfConstant(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.TransposeOp, rewriter: PatternRewriter) -> None:
        value = _const(op.input)
        if value is not None:
            rewriter.replace(op, _new_const(value.transpose(op.perm_val), op.input.owner))  # type: ignore[arg-type]


class DropDropout(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.DropoutOp, rewriter: PatternRewriter) -> None:
        if not op.training_val:  # inference: the identity
            rewriter.replace(op, [], [op.input])


# ----------------------------------------------------------------- batchnorm


def _bn_factors(op: graph.BatchNormOp) -> tuple[np.ndarray, np.ndarray] | None:
    """(s, t) with batchnorm(x) = x * s + t per channel, if the params are constant."""
    params = [_const(v) for v in (op.scale, op.bias, op.mean, op.var)]
    if any(p is None for p in params):
        return None
    scale, bias, mean, var = (p.astype(np.float64) for p in params)  # type: ignore[union-attr]
    # A negative variance: NaN; a zero one with epsilon 0: infinite (0 x inf: NaN), as
    # ONNX's formula gives.
    with np.errstate(invalid="ignore", divide="ignore"):
        s = scale / np.sqrt(var + op.epsilon_val)
        return s, bias - mean * s


def _fold_into_conv(
    conv: graph.Conv2dOp,
    scale: np.ndarray | None,
    shift: np.ndarray | None,
    replaced: Operation,
    rewriter: PatternRewriter,
) -> bool:
    """Replace `replaced` (a per-channel x * scale + shift of conv's single-use
    result) by conv with scaled weights and bias. False if conv's weights are not
    constant."""
    if conv.addend is not None or conv.activation is not None:
        return False  # a scale after the fused epilogue does not fold into the weights
    w = _const(conv.weight)
    if w is None or (conv.bias is not None and not _is_const(conv.bias)):
        return False
    cout = w.shape[0]
    b = np.zeros(cout) if conv.bias is None else _const(conv.bias).astype(np.float64)  # type: ignore[union-attr]
    with np.errstate(invalid="ignore", over="ignore"):  # an infinite scale: inf, NaN, as ONNX
        if scale is not None:
            w = (w.astype(np.float64) * scale.reshape(cout, 1, 1, 1)).astype(np.float32)
            b = b * scale
        if shift is not None:
            b = b + shift
    new_w = _new_const(w, conv.weight.owner)  # type: ignore[arg-type]
    new_b = _new_const(b, conv.bias.owner if conv.bias is not None else conv)  # type: ignore[arg-type]
    new_conv = graph.Conv2dOp(
        conv.input,
        new_w,
        new_b,
        strides=conv.strides_val,
        pads=conv.pads_val,
        dilations=conv.dilations_val,
        group=conv.group_val,
        result_type=conv.result.type,  # type: ignore[arg-type]
        interleave=conv.interleave_val,
    )
    _copy_origin(conv, new_conv)
    new_conv.result.name_hint = replaced.results[0].name_hint or conv.result.name_hint
    rewriter.replace(replaced, [new_w, new_b, new_conv], [new_conv.result])
    return True


class FoldBatchNorm(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.BatchNormOp, rewriter: PatternRewriter) -> None:
        factors = _bn_factors(op)
        if factors is None:
            return
        s, t = factors
        conv = op.input.owner
        if (
            isinstance(conv, graph.Conv2dOp)
            and _single_use(op.input)
            and _fold_into_conv(conv, s, t, op, rewriter)
        ):
            return
        shape = _shape(op.input)
        per_channel = (shape[1],) + (1,) * (len(shape) - 2)
        sc = _new_const(s.reshape(per_channel), op)
        sh = _new_const(t.reshape(per_channel), op)
        mul = graph.MulOp(op.input, sc)
        add = graph.AddOp(mul, sh)
        _copy_origin(op, mul)
        _copy_origin(op, add)
        add.result.name_hint = op.result.name_hint
        rewriter.replace(op, [sc, sh, mul, add], [add.result])


class FoldChannelAffineIntoConv(RewritePattern):
    """mul/add of a single-use conv result by a per-channel constant -> conv."""

    @op_type_rewrite_pattern
    def match_and_rewrite(
        self, op: graph.MulOp | graph.AddOp, rewriter: PatternRewriter
    ) -> None:
        for data, other in ((op.lhs, op.rhs), (op.rhs, op.lhs)):
            conv = data.owner
            if not isinstance(conv, graph.Conv2dOp) or not _is_const(other):
                continue
            if not _single_use(data) or _shape(op.result) != _shape(data):
                continue
            c = _const(other)  # made only once the pattern matches: it may be a large splat
            assert c is not None
            vector = _channel_vector(c, _shape(data))
            if vector is None:
                continue
            vector = vector.astype(np.float64)
            if isinstance(op, graph.MulOp):
                _fold_into_conv(conv, vector, None, op, rewriter)
            else:
                _fold_into_conv(conv, None, vector, op, rewriter)
            return


# ------------------------------------------------------------ constant chains


def _split_const(op: graph.AddOp | graph.MulOp) -> tuple[SSAValue, SSAValue] | None:
    """(data operand, constant operand) of a binary op with one constant."""
    lc, rc = _is_const(op.lhs), _is_const(op.rhs)
    if rc and not lc:
        return op.lhs, op.rhs
    if lc and not rc:
        return op.rhs, op.lhs
    return None


class FoldConstantChains(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(
        self, op: graph.AddOp | graph.MulOp, rewriter: PatternRewriter
    ) -> None:
        if _is_const(op.lhs) and _is_const(op.rhs):  # constants only: compute it
            lc, rc = _const(op.lhs), _const(op.rhs)
            value = lc + rc if isinstance(op, graph.AddOp) else lc * rc  # type: ignore[operator]
            rewriter.replace(op, _new_const(value, op))
            return
        outer = _split_const(op)
        if outer is None:
            return
        x, b_value = outer
        inner = x.owner
        if not isinstance(inner, graph.AddOp | graph.MulOp) or not _single_use(x):
            return
        split = _split_const(inner)
        if split is None:
            return
        y, a_value = split
        same = isinstance(inner, type(op))
        if not same and not (isinstance(inner, graph.AddOp) and isinstance(op, graph.MulOp)):
            return
        # Constants are made only once the pattern matches (a large splat would
        # otherwise be expanded for every add or mul that merely uses it).
        a, b = _const(a_value), _const(b_value)
        assert a is not None and b is not None
        ops: list[Operation]
        if same:  # (y . a) . b = y . (a . b)
            c = _new_const(a + b if isinstance(op, graph.AddOp) else a * b, op)
            new = type(op)(y, c, op.result.type)  # type: ignore[arg-type]
            ops = [c, new]
        else:  # (y + a) * b = y * b + a * b: mul before add, so chains keep folding
            cb = _new_const(b, op)
            cab = _new_const(a * b, op)
            mul = graph.MulOp(y, cb)
            new = graph.AddOp(mul, cab, op.result.type)  # type: ignore[arg-type]
            _copy_origin(op, mul)
            ops = [cb, cab, mul, new]
        if _shape(new.results[0]) != _shape(op.result):
            return
        _copy_origin(op, new)
        new.results[0].name_hint = op.result.name_hint
        rewriter.replace(op, ops, [new.results[0]])


# ---------------------------------------------------------------------- sums


class CanonicalizeSum(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.SumOp, rewriter: PatternRewriter) -> None:
        inputs = list(op.inputs)
        if len(inputs) == 1 and _shape(inputs[0]) == _shape(op.result):
            rewriter.replace(op, [], [inputs[0]])
        elif len(inputs) == 2:
            add = graph.AddOp(inputs[0], inputs[1], op.result.type)  # type: ignore[arg-type]
            _copy_origin(op, add)
            add.result.name_hint = op.result.name_hint
            rewriter.replace(op, add)


def _merges_into(v: SSAValue, out: tuple[int, ...]) -> bool:
    """Whether add/sum result `v` becomes operands of the add/sum of shape `out` that
    reads it (MergeSums): its only use, the same shape, no constant operand."""
    inner = v.owner
    return (
        isinstance(inner, graph.AddOp | graph.SumOp)
        and _single_use(v)
        and _shape(v) == out
        and not any(_is_const(u) for u in inner.operands)
    )


class MergeSums(RewritePattern):
    """A tree of single-use adds/sums (no constants, same shape) -> one sum, built at
    its root with every leaf at once (in order). Merged one level at a time, a chain
    of n adds built sums of 3, 4, ..., n operands: quadratic."""

    @op_type_rewrite_pattern
    def match_and_rewrite(
        self, op: graph.AddOp | graph.SumOp, rewriter: PatternRewriter
    ) -> None:
        out = _shape(op.result)
        user = next(iter(op.result.uses)).operation if _single_use(op.result) else None
        if (
            isinstance(user, graph.AddOp | graph.SumOp)
            and not any(_is_const(v) for v in user.operands)
            and _merges_into(op.result, _shape(user.result))
        ):
            return  # the root merges this one with the rest
        merged: list[SSAValue] = []
        changed = False
        stack = list(reversed(op.operands))
        while stack:
            v = stack.pop()
            if _merges_into(v, out):
                assert isinstance(v.owner, Operation)
                stack.extend(reversed(v.owner.operands))
                changed = True
            else:
                merged.append(v)
        if not changed or any(_is_const(v) for v in merged):
            return
        total = graph.SumOp(merged, op.result.type)  # type: ignore[arg-type]
        _copy_origin(op, total)
        total.result.name_hint = op.result.name_hint
        rewriter.replace(op, total)


def canonicalize_patterns() -> list[RewritePattern]:
    return [
        FoldConstantOfShape(),
        FoldViewOfConstant(),
        UnsqueezeToReshape(),
        FoldTransposeOfConstant(),
        DropDropout(),
        FoldBatchNorm(),
        FoldChannelAffineIntoConv(),
        FoldConstantChains(),
        CanonicalizeSum(),
        MergeSums(),
    ]


@dataclass(frozen=True)
class GraphCanonicalizePass(ModulePass):
    """Fold BatchNorm, constants, inference Dropout and element-wise chains."""

    name = "graph-canonicalize"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        expect_level(op, self.name, "graph")
        # Folding makes arrays of constants: none may exceed the largest chip's DRAM.
        largest = max(PRESETS.values(), key=lambda c: c.dram_bytes)
        expect_constants_fit(
            op, self.name, largest.dram_bytes, f"the largest chip preset ('{largest.name}')"
        )
        with quiet_diagnostics():
            PatternRewriteWalker(
                GreedyRewritePatternApplier(canonicalize_patterns())
            ).rewrite_module(op)


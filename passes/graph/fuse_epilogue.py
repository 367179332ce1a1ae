"""graph-fuse-epilogue: merge the element-wise ops after a conv2d or gemm into its epilogue.

After the seed patent "reconfigurable neural network processing based on subgraph
recognition": a single-entry single-exit chain of element-wise ops that follows an
accumulating op becomes one merged operator, computed as the accumulator is evacuated
(ACT reads PSUM, adds the bias, applies the activation) instead of by its own nests
that read and write the whole tensor again. Expects graph ops on static f32 tensors,
after graph-canonicalize (BatchNorm and per-channel affines already folded into the
conv, two-operand sums already adds). Rewrites, each a pattern applied to a fixed point:

- a `graph.relu` whose input is the single-use result of a conv2d or gemm without an
  activation -> that conv2d or gemm with `activation = "relu"`;
- a `graph.add` (or two-operand `graph.sum`) of the single-use result of a conv2d
  without an epilogue (no addend, no activation) and another tensor of exactly the
  result's shape (no broadcasting) -> the conv2d with that tensor as its `addend`
  (ResNet's residual add). When both operands are such conv results, the conv defined
  later takes the other as its addend: its evacuation comes last, when the other is
  already written, and no op moves. A conv whose addend is defined after it moves to
  just before the add (legal: the add was its only user).
- a `graph.relu` of the single-use result of a `graph.concat` at least one of whose
  operands is such a conv2d or gemm -> the concat of the operands, each conv2d or
  gemm with `activation = "relu"`, each other operand through a relu of its own
  (`through_concat`): no relu nest over the whole concatenation; an operand that is
  provably non-negative already (a relu's result, a pooling of one, ...) needs none,
  and with `through_concat` a `graph.relu` of such a value goes altogether;
- with `silu`, a `graph.mul` of a value and its own sigmoid -> one `graph.activation`
  silu (SiluPattern); with `gelu`, GELU's erf form x * 0.5 * (1 + erf(x / sqrt 2))
  and its tanh form (GPT-2's gelu_new), in any grouping of their products -> one
  `graph.activation` gelu_erf or gelu (GeluPattern): ACT evaluates each from one
  table (`tidal.sim.spec.lut`);
- such a `graph.activation` of the single-use result of a conv2d or gemm without an
  activation -> the producer with that `activation` (FuseTableActivationPattern), and
  with `sigmoid` a sigmoid too (a squeeze-and-excite gate);
- with `hard_swish`, clip(a x + b, 0, hi) * (1 / hi) -> one `graph.piecewise_linear`
  hard_sigmoid (HardSigmoidPattern), and x times a hard sigmoid of x with alpha 1/6,
  beta 1/2 -> one hard_swish (HardSwishPattern): Keras' hard_sigmoid and hard_swish
  as tf2onnx exports them, one nest each instead of three and four; and a
  hard_sigmoid of a conv2d -> the conv with its weights and bias scaled and shifted
  and `activation = "clip01"` (HardSigmoidEpiloguePattern).

Anything else is left alone: a result with several uses, a broadcasting add, a conv
that already has that part of the epilogue, ops placed on the host
(`tidal.placement = "host"`). The merged op keeps the producer's `tidal.origin` and
lists the origins of the ops merged into it in `tidal.fused`, in order, for reports:

    %c = graph.conv2d %x, %w, %b {tidal.origin = "conv"} : ...
    %s = graph.add %c, %id {tidal.origin = "add"} : ...
    %r = graph.relu %s {tidal.origin = "relu"} : ...
  becomes
    %r = graph.conv2d %x, %w, %b addend %id {activation = "relu",
           tidal.fused = ["add", "relu"], tidal.origin = "conv"} : ...
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tidal.dialects import graph
from tidal.passes.graph.canonicalize import _new_const
from tidal.passes.utils.expect import expect_level
from tidal.passes.utils.quiet import quiet_diagnostics
from xdsl.context import Context
from xdsl.dialects.builtin import ArrayAttr, ModuleOp, StringAttr, TensorType
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.rewriter import InsertPoint

FUSED = "tidal.fused"
"""The discardable attribute listing the origins of the ops merged into an op."""


def _origin(op: Operation) -> str:
    attr = op.attributes.get("tidal.origin")
    return attr.data if isinstance(attr, StringAttr) else op.name


def _on_host(op: Operation) -> bool:
    return op.attributes.get("tidal.placement") == StringAttr("host")


def _shape(value: SSAValue) -> tuple[int, ...]:
    ty = value.type
    assert isinstance(ty, TensorType)
    return tuple(ty.get_shape())


def _record_fused(target: Operation, merged: Operation) -> None:
    """Append `merged`'s origin (after whatever `merged` had absorbed itself) to
    `target`'s `tidal.fused`."""
    names: list[StringAttr] = []
    for op in (target, merged):
        previous = op.attributes.get(FUSED)
        if isinstance(previous, ArrayAttr):
            names.extend(previous.data)  # type: ignore[arg-type]
    names.append(StringAttr(_origin(merged)))
    target.attributes[FUSED] = ArrayAttr(names)


def _fusable_producer(value: SSAValue) -> graph.Conv2dOp | graph.GemmOp | None:
    """The conv2d or gemm defining `value` if `value` has no other use and the op can
    take an activation, else None."""
    producer = value.owner
    if not isinstance(producer, graph.Conv2dOp | graph.GemmOp):
        return None
    if not value.has_one_use() or producer.activation is not None or _on_host(producer):
        return None
    return producer


def merge_relu(
    producer: Operation,
    relu: graph.ReluOp | graph.ActivationOp,
    rewriter: PatternRewriter,
    activation: str = "relu",
) -> None:
    """Make `relu` (or another op computing `activation`) the activation of its
    producer (which has none): the producer records the op's origin in
    `tidal.fused`, takes its result's name and replaces it."""
    producer.properties["activation"] = StringAttr(activation)
    _record_fused(producer, relu)
    producer.result.name_hint = relu.result.name_hint or producer.result.name_hint  # type: ignore[attr-defined]
    rewriter.notify_op_modified(producer)
    rewriter.replace(relu, [], [producer.results[0]])


class FuseActivationPattern(RewritePattern):
    """relu(conv2d or gemm) -> the producer with `activation = "relu"`.

      %c = graph.conv2d %x, %w, %b {tidal.origin = "conv"} : ...
      %r = graph.relu %c {tidal.origin = "relu"} : ...
    becomes
      %r = graph.conv2d %x, %w, %b {activation = "relu", tidal.fused = ["relu"],
                                    tidal.origin = "conv"} : ...
    """

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.ReluOp, rewriter: PatternRewriter) -> None:
        producer = _fusable_producer(op.input)
        if producer is None or _on_host(op):
            return
        merge_relu(producer, op, rewriter)


def non_negative(value: SSAValue, depth: int = 8) -> bool:
    """Whether `value` is provably >= 0 (or NaN) everywhere: a relu's result, a conv2d
    or gemm with a relu or clip01 activation, a max or average pooling or global average
    pooling of such a value (every window holds at least one input element; average
    pooling pads with zeros), or a concatenation of such values. `depth` bounds the
    walk up the producers."""
    op = value.owner
    if depth == 0 or not isinstance(op, Operation):
        return False
    if isinstance(op, graph.ReluOp):
        return True
    if isinstance(op, graph.Conv2dOp | graph.GemmOp):
        return op.activation_val in ("relu", "clip01")
    if isinstance(op, graph.MaxPoolOp | graph.AvgPoolOp | graph.GlobalAvgPoolOp):
        return non_negative(op.operands[0], depth - 1)
    if isinstance(op, graph.ConcatOp):
        return all(non_negative(v, depth - 1) for v in op.operands)
    return False


class RedundantReluPattern(RewritePattern):
    """relu(x) -> x when x is provably non-negative (`non_negative`): ShuffleNet's
    downsampling units average-pool the previous unit's relu output."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.ReluOp, rewriter: PatternRewriter) -> None:
        if _on_host(op) or not non_negative(op.input):
            return
        rewriter.replace(op, [], [op.input])


class ReluThroughConcatPattern(RewritePattern):
    """relu(concat(x1, ..., xn)) -> concat(relu(x1), ..., relu(xn)) when the concat
    has no other use and at least one operand comes from a conv2d or gemm that can
    take the relu as its activation (ShuffleNet's downsampling units): those take
    it, the other operands get a relu of their own (each the size of one operand),
    and the concat, placed by its producers, is no longer read and written again
    by a relu nest over the whole result."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.ReluOp, rewriter: PatternRewriter) -> None:
        concat = op.input.owner
        if not isinstance(concat, graph.ConcatOp) or _on_host(op) or _on_host(concat):
            return
        if not op.input.has_one_use() or len(set(concat.operands)) != len(concat.operands):
            return
        producers = [_fusable_producer(v) for v in concat.operands]
        if not any(producers):
            return
        inputs: list[SSAValue] = []
        for value, producer in zip(concat.operands, producers):
            if producer is None and non_negative(value):
                inputs.append(value)  # already >= 0: no relu
            elif producer is not None:
                producer.properties["activation"] = StringAttr("relu")
                _record_fused(producer, op)
                rewriter.notify_op_modified(producer)
                inputs.append(value)
            else:
                relu = graph.ReluOp(value)
                relu.attributes["tidal.origin"] = StringAttr(f"{_origin(op)}.{len(inputs)}")
                rewriter.insert(relu, InsertPoint.before(concat))
                inputs.append(relu.result)
        new = graph.ConcatOp(inputs, concat.axis_val, result_type=concat.result.type)  # type: ignore[arg-type]
        new.attributes.update(concat.attributes)
        new.result.name_hint = op.result.name_hint or concat.result.name_hint
        rewriter.insert(new, InsertPoint.before(concat))
        rewriter.replace(op, [], [new.result])
        rewriter.erase(concat)


class SiluPattern(RewritePattern):
    """mul(x, sigmoid(x)) (either order) -> one `graph.activation`
    silu of x: a SiLU as PyTorch exports it (EfficientNet's, YOLO's), one pass of
    ACT's silu table (NKI's nki.language.silu) instead of a sigmoid on ACT and a
    multiply on POOL, each reading and writing the whole tensor. The sigmoid stays
    while something else reads it.

      %s = graph.activation %c {func = "sigmoid", tidal.origin = "sig"} : ...
      %y = graph.mul %c, %s {tidal.origin = "mul"} : ...
    becomes
      %y = graph.activation %c {func = "silu", tidal.fused = ["sig"],
                                tidal.origin = "mul"} : ...
    """

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.MulOp, rewriter: PatternRewriter) -> None:
        gated = _self_gated(
            op, lambda g: isinstance(g, graph.ActivationOp) and g.func_val == "sigmoid"
        )
        if gated is not None:
            x, gate = gated
            _replace_gated(op, graph.ActivationOp(x, "silu", op.result.type), gate, rewriter)  # type: ignore[arg-type]


def _self_gated(
    op: graph.MulOp, is_gate: Callable[[Operation], bool]
) -> tuple[SSAValue, Operation] | None:
    """(x, gate) when `op` is x times gate(x) in either order, `is_gate` accepting the
    op that makes the gate (neither on the host); else None."""
    if _on_host(op) or op.lhs == op.rhs:
        return None
    for x, g in ((op.lhs, op.rhs), (op.rhs, op.lhs)):
        gate = g.owner
        if isinstance(gate, Operation) and is_gate(gate) and gate.operands[0] == x and not _on_host(gate):
            return x, gate
    return None


def _replace_gated(op: graph.MulOp, new: Operation, gate: Operation, rewriter: PatternRewriter) -> None:
    """Replace x * gate(x) by `new`, which takes the product's attributes and name and
    lists the gate as fused; the gate goes when nothing else reads it."""
    new.attributes.update(op.attributes)
    _record_fused(new, gate)
    new.results[0].name_hint = op.result.name_hint
    rewriter.replace(op, new)
    if not gate.results[0].uses:
        rewriter.erase(gate)


def _close(a: float, b: float) -> bool:
    """Equal but for float32 rounding (1/6 in float32 times 6 is 1 + 3e-8)."""
    return abs(a - b) <= 1e-6 * max(abs(a), abs(b))


class HardSigmoidPattern(RewritePattern):
    """clip(a x + b, 0, hi) * k with k hi = 1 -> one `graph.piecewise_linear`
    hard_sigmoid of x, alpha a / hi, beta b / hi: Keras' hard_sigmoid, relu6(x + 3) / 6,
    as tf2onnx exports it (an Add of a scalar, a Clip, a Mul by 1/6; the Mul, or a
    Div by 6, may be a piecewise affine as the importer builds it), one ACT clip01
    with its scale and bias instead of three nests. a x + b is an add of a splat
    constant (a = 1), a piecewise affine, or x itself (a = 1, b = 0: the add already
    folded into a conv's bias); the clip and the add must have no other reader.

      %a = graph.add %x, %three : ...
      %c = graph.piecewise_linear %a {kind = "clip", alpha = 0.0 : f32, beta = 6.0 : f32} : ...
      %h = graph.mul %c, %sixth : ...
    becomes
      %h = graph.piecewise_linear %x {kind = "hard_sigmoid", alpha = 0.166666672 : f32, beta = 5.000000e-01 : f32} : ...
    """

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, graph.MulOp | graph.PiecewiseLinearOp):
            return
        scaled = _scaled(op.result)
        if _on_host(op) or scaled is None:
            return
        y, k = scaled
        clip = y.owner
        if not (
            isinstance(clip, graph.PiecewiseLinearOp) and clip.result.has_one_use()
            and not _on_host(clip)
        ):
            return
        kind, lo, hi = clip.params
        if kind != "clip" or lo != 0.0 or not (0.0 < hi < math.inf) or not _close(k * hi, 1.0):
            return
        x, a, b = clip.input, 1.0, 0.0
        inner = x.owner
        if isinstance(inner, graph.AddOp) and x.has_one_use() and not _on_host(inner):
            for v, c in ((inner.lhs, inner.rhs), (inner.rhs, inner.lhs)):
                if (shift := _splat(c)) is not None and _shape(v) == _shape(x):
                    x, b = v, shift
                    break
        elif isinstance(inner, graph.PiecewiseLinearOp) and x.has_one_use() and not _on_host(inner):
            if inner.params[0] == "affine":
                x, a, b = inner.input, inner.params[1], inner.params[2]
        consumed: list[Operation] = [clip] if x is clip.input else [inner, clip]  # type: ignore[list-item]
        hs = graph.PiecewiseLinearOp(x, "hard_sigmoid", a / hi, b / hi, op.result.type)  # type: ignore[arg-type]
        hs.attributes.update(op.attributes)
        for merged in consumed:
            _record_fused(hs, merged)
        hs.result.name_hint = op.result.name_hint
        rewriter.replace(op, hs)
        for dead in reversed(consumed):  # the clip read the add
            rewriter.erase(dead)


class HardSwishPattern(RewritePattern):
    """mul(x, hard_sigmoid(x)) with alpha 1/6 and beta 1/2 (either order) -> one
    `graph.piecewise_linear` hard_swish of x (ONNX HardSwish): Keras' hard_swish,
    x * relu6(x + 3) / 6, after HardSigmoidPattern, one nest (ACT's clip01, POOL's
    product) instead of two. The hard sigmoid stays while something else reads it."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.MulOp, rewriter: PatternRewriter) -> None:
        gated = _self_gated(
            op,
            lambda g: isinstance(g, graph.PiecewiseLinearOp)
            and g.params[0] == "hard_sigmoid"
            and _close(g.params[1], 1.0 / 6.0)
            and _close(g.params[2], 0.5),
        )
        if gated is not None:
            x, gate = gated
            new = graph.PiecewiseLinearOp(x, "hard_swish", 1.0 / 6.0, 0.5, op.result.type)  # type: ignore[arg-type]
            _replace_gated(op, new, gate, rewriter)


class MatMulBiasPattern(RewritePattern):
    """add(matmul(a, w), c), or add(reshape(matmul(a, w)), c) where the reshape keeps
    the last dim (a token-major [S, N] product viewed as [1, S, N]), with c a constant
    bias along that last dim ([N], [1, N], [1, 1, N], either operand order) -> a
    `graph.gemm` of a and w with c as its bias (reshaped back): how PyTorch and
    Hugging Face export nn.Linear over tokens (MatMul, then Add) and tf2onnx Keras'
    Dense. The bias is added as the accumulator is evacuated, one nest instead of a
    matmul's and an add's over the whole result, and an activation after it can then
    be the gemm's too (ActivationThroughReshape). The matmul and the view must have
    no other reader."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.AddOp, rewriter: PatternRewriter) -> None:
        if _on_host(op):
            return
        for y, c in ((op.lhs, op.rhs), (op.rhs, op.lhs)):
            view = y.owner if isinstance(y.owner, graph.ReshapeOp) and y.has_one_use() else None
            product = view.input if view is not None else y
            mm = product.owner
            if not isinstance(mm, graph.MatMulOp) or not product.has_one_use() or _on_host(mm):
                continue
            if len(_shape(mm.lhs)) != 2 or len(_shape(mm.rhs)) != 2 or _shape(op.result) != _shape(y):
                continue
            n = _shape(product)[1]
            bias = c.owner
            if not isinstance(bias, graph.ConstantOp) or _shape(c)[-1:] != (n,) or math.prod(_shape(c)) != n:
                continue
            if view is not None and _shape(y)[-1] != n:
                continue
            vector = _new_const(bias.to_numpy().reshape(n), bias)
            gemm = graph.GemmOp(mm.lhs, mm.rhs, vector.result, result_type=product.type)  # type: ignore[arg-type]
            gemm.attributes.update(mm.attributes)
            _record_fused(gemm, op)
            new: list[Operation] = [vector, gemm]
            if view is not None:
                new.append(graph.ReshapeOp(gemm.result, op.result.type))  # type: ignore[arg-type]
            new[-1].results[0].name_hint = op.result.name_hint
            rewriter.replace(op, new)
            if view is not None:
                rewriter.erase(view)
            rewriter.erase(mm)
            if not bias.result.uses:
                rewriter.erase(bias)
            return


class MatMulActivationPattern(RewritePattern):
    """A 2-D matmul whose one reader is a relu or table activation, directly or
    through a single-use view, -> a `graph.gemm` without bias (the same product),
    which the activation then joins (ActivationThroughReshape, FuseActivationPattern,
    FuseTableActivationPattern): a bias-free linear and its activation (T5's and
    LLaMA's feed-forward layers) in one nest."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.MatMulOp, rewriter: PatternRewriter) -> None:
        if _on_host(op) or len(_shape(op.lhs)) != 2 or len(_shape(op.rhs)) != 2:
            return
        if not op.result.has_one_use():
            return
        reader = next(iter(op.result.uses)).operation
        if isinstance(reader, graph.ReshapeOp) and reader.result.has_one_use():
            reader = next(iter(reader.result.uses)).operation
        if not isinstance(reader, graph.ReluOp | graph.ActivationOp) or _on_host(reader):
            return
        if isinstance(reader, graph.ActivationOp) and reader.func_val not in FUSED_TABLES:
            return
        gemm = graph.GemmOp(op.lhs, op.rhs, result_type=op.result.type)  # type: ignore[arg-type]
        gemm.attributes.update(op.attributes)
        gemm.result.name_hint = op.result.name_hint
        rewriter.replace(op, gemm)


# The table activations a gemm can apply as its epilogue.
FUSED_TABLES = frozenset(f for f in graph.FUSED_ACTIVATIONS if f not in ("relu", "clip01"))


class ActivationThroughReshape(RewritePattern):
    """act(reshape(y)) -> reshape(act(y)) for an element-wise relu or table activation
    of a single-use view of a gemm's or conv's single-use result: the activation then
    meets its producer (FuseActivationPattern, FuseTableActivationPattern)."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, graph.ReluOp | graph.ActivationOp) or _on_host(op):
            return
        view = op.operands[0].owner
        if not isinstance(view, graph.ReshapeOp) or not view.result.has_one_use():
            return
        if _fusable_producer(view.input) is None:
            return
        moved = type(op).create(
            operands=[view.input], result_types=[view.input.type],
            properties=dict(op.properties), attributes=dict(op.attributes),
        )
        back = graph.ReshapeOp(moved.results[0], op.results[0].type)  # type: ignore[arg-type]
        back.result.name_hint = op.results[0].name_hint
        rewriter.replace(op, [moved, back])
        rewriter.erase(view)


class HardSigmoidEpiloguePattern(RewritePattern):
    """hard_sigmoid(conv2d, alpha, beta) -> the conv2d with weights times alpha, bias
    times alpha plus beta, and `activation = "clip01"`: clip01(alpha (W x + b) + beta)
    = clip01((alpha W) x + (alpha b + beta)). A squeeze-and-excite gate (MobileNetV3's,
    PyTorch's Hardsigmoid or Keras' after HardSigmoidPattern) is then evacuated by its
    conv, no nest of its own. The conv must have one reader, constant weights (and
    bias), no addend and no activation (graph-fold-clip's conditions); without a bias
    it gets one of beta. The weights round once more in float32."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.PiecewiseLinearOp, rewriter: PatternRewriter) -> None:
        from tidal.passes.graph.fold_clip import _producer, _scaled as _times  # (it imports this module)

        kind, alpha, beta = op.params
        conv = _producer(op.input)
        if kind != "hard_sigmoid" or _on_host(op) or not isinstance(conv, graph.Conv2dOp):
            return
        weight = _times(conv.weight, alpha)
        if conv.bias is not None:
            bias = _times(conv.bias, alpha)
            data = bias.to_numpy().astype(np.float64) + beta
            bias = _new_const(data.astype(np.float32), conv.bias.owner)  # type: ignore[arg-type]
        else:
            cout = _shape(conv.result)[1]
            bias = _new_const(np.full(cout, beta, np.float32), conv)
        old = [conv.weight.owner, conv.bias.owner if conv.bias is not None else None]
        rewriter.insert([weight, bias], InsertPoint.before(conv))
        fused = graph.Conv2dOp(
            conv.input, weight.result, bias.result,
            strides=conv.strides_val, pads=conv.pads_val, dilations=conv.dilations_val,
            group=conv.group_val, activation="clip01", result_type=conv.result.type,  # type: ignore[arg-type]
            interleave=conv.interleave_val,
        )
        fused.attributes.update(conv.attributes)
        _record_fused(fused, op)
        fused.result.name_hint = op.result.name_hint or conv.result.name_hint
        rewriter.replace(op, fused)
        rewriter.erase(conv)
        for const in old:
            if isinstance(const, graph.ConstantOp) and not const.result.uses:
                rewriter.erase(const)


def _splat(value: SSAValue) -> float | None:
    """The one value of a small constant whose elements are all equal, else None."""
    op = value.owner
    if not isinstance(op, graph.ConstantOp) or math.prod(_shape(value)) > _SPLAT_MAX:
        return None
    array = op.to_numpy()
    if array.size == 0 or not (array == array.flat[0]).all():
        return None
    return float(array.flat[0])


_SPLAT_MAX = 4096  # elements: a scalar broadcast or a splat, not a weight


def _scaled(value: SSAValue) -> tuple[SSAValue, float] | None:
    """(x, k) when `value` is x times a constant k: a `graph.piecewise_linear` affine
    without offset (ONNX Mul or Div by a scalar) or a `graph.mul` by a splat."""
    op = value.owner
    if isinstance(op, graph.PiecewiseLinearOp):
        kind, alpha, beta = op.params
        return (op.input, alpha) if kind == "affine" and beta == 0.0 else None
    if isinstance(op, graph.MulOp):
        for x, c in ((op.lhs, op.rhs), (op.rhs, op.lhs)):
            if (k := _splat(c)) is not None and _shape(x) == _shape(value):
                return x, k
    return None


def _gelu_gate(value: SSAValue) -> tuple[SSAValue, float, str] | None:
    """(x, c, func) when `value` is c (1 + erf(x / sqrt 2)) (func "gelu_erf") or
    c (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))) (func "gelu", the tanh form): the
    gate an add of a constant 1 or a scalar affine c t + c (x (0.5 + 0.5 erf(...)),
    as ONNX Gelu decomposes); else None."""
    op = value.owner
    inner: SSAValue | None = None
    scale = 1.0
    if isinstance(op, graph.PiecewiseLinearOp) and not _on_host(op):
        kind, alpha, beta = op.params
        if kind == "affine" and alpha == beta and alpha != 0.0:
            inner, scale = op.input, alpha
    elif isinstance(op, graph.AddOp) and not _on_host(op):
        for e, c in ((op.lhs, op.rhs), (op.rhs, op.lhs)):
            if _splat(c) == 1.0 and _shape(e) == _shape(value):
                inner = e
    act = None if inner is None else inner.owner
    if not isinstance(act, graph.ActivationOp) or _on_host(act):
        return None
    scaled = _scaled(act.input)
    if scaled is None:
        return None
    if act.func_val == "erf" and abs(scaled[1] - _RSQRT2) <= 1e-6:
        return scaled[0], scale, "gelu_erf"
    if act.func_val == "tanh" and abs(scaled[1] - _SQRT2_PI) <= 1e-6:
        x = _cubic_of(scaled[0])
        return None if x is None else (x, scale, "gelu")
    return None


def _cubic_of(value: SSAValue) -> SSAValue | None:
    """x when `value` is x + 0.044715 x^3 (either order; the cube a product tree of
    three x), else None."""
    op = value.owner
    if not isinstance(op, graph.AddOp) or _on_host(op):
        return None
    for x, cube in ((op.lhs, op.rhs), (op.rhs, op.lhs)):
        if not cube.has_one_use():
            continue
        factors, k = _factors(cube, False)
        if factors == [x, x, x] and abs(k - _GELU_CUBIC) <= 1e-7 and _shape(x) == _shape(value):
            return x
    return None


_RSQRT2 = 1.0 / math.sqrt(2.0)
_SQRT2_PI = math.sqrt(2.0 / math.pi)
_GELU_CUBIC = 0.044715


def _factors(
    value: SSAValue, root: bool = True, depth: int = 6
) -> tuple[list[SSAValue], float]:
    """(the non-constant factors, the product of the constant ones) of the product
    tree of `graph.mul`s and scalar multiples (`_scaled`) at `value`, each inner
    product only read by the tree. `depth` bounds the walk (GELU's trees are three
    deep; a chain of thousands of multiplies must not recurse through all of them
    from each one)."""
    if (k := _splat(value)) is not None:
        return [], k
    if depth == 0 or (not root and not value.has_one_use()):
        return [value], 1.0
    op = value.owner
    if isinstance(op, graph.MulOp) and not _on_host(op):
        (a, ka), (b, kb) = _factors(op.lhs, False, depth - 1), _factors(op.rhs, False, depth - 1)
        return a + b, ka * kb
    if isinstance(op, graph.PiecewiseLinearOp) and not _on_host(op) and (scaled := _scaled(value)):
        inner, k = _factors(scaled[0], False, depth - 1)
        return inner, k * scaled[1]
    return [value], 1.0


class GeluPattern(RewritePattern):
    """x * 0.5 * (1 + erf(x / sqrt 2)), in any grouping of its products and with the
    0.5 inside the gate or not (PyTorch's nn.GELU(), Hugging Face's BERT and ViT) ->
    one `graph.activation` gelu_erf of x: one pass of ACT's table of the erf form
    (NKI's nki.language.gelu) instead of five nests (a scale, the erf, an add, a
    multiply on POOL and a scale). Likewise the tanh form,
    x * 0.5 * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3))) (GPT-2's gelu_new,
    nn.GELU(approximate="tanh")), -> one gelu (ACT's table of that form, NKI's
    gelu_apprx_tanh) instead of nine nests.

      %d = graph.piecewise_linear %x {kind = "affine", alpha = 0.707106769, beta = 0.0}
      %e = graph.activation %d {func = "erf"}
      %a = graph.add %e, %one          (%one: a constant 1.0)
      %m = graph.mul %x, %a
      %y = graph.mul %m, %half         (%half: a constant 0.5)
    becomes
      %y = graph.activation %x {func = "gelu_erf"}
    """

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.MulOp, rewriter: PatternRewriter) -> None:
        if _on_host(op):
            return
        values, constant = _factors(op.result)
        if len(values) != 2:
            return
        for x, gate in (values, values[::-1]):
            form = _gelu_gate(gate)
            if form is not None and form[0] == x and _shape(x) == _shape(op.result):
                break
        else:
            return
        if abs(constant * form[1] - 0.5) > 1e-7:
            return
        gelu = graph.ActivationOp(x, form[2], op.result.type)  # type: ignore[arg-type]
        gelu.attributes.update(op.attributes)
        gelu.result.name_hint = op.result.name_hint
        dead = [v.owner for v in (op.lhs, op.rhs, gate) if isinstance(v.owner, Operation)]
        block = op.parent_block()
        position = {id(o): i for i, o in enumerate(block.ops)} if block is not None else {}
        rewriter.replace(op, gelu)
        erased = _erase_dead(dead, rewriter)
        origins = [
            StringAttr(_origin(o)) for o in sorted(erased, key=lambda o: position.get(id(o), 0))
            if not isinstance(o, graph.ConstantOp)
        ]
        if origins:
            gelu.attributes[FUSED] = ArrayAttr(origins)


def _erase_dead(ops: list[Operation], rewriter: PatternRewriter) -> list[Operation]:
    """Erase each element-wise op or constant of `ops` that nothing reads, then the
    ones only they read; the erased ops (detached, their attributes kept)."""
    erased: list[Operation] = []
    work = list(ops)
    while work:
        op = work.pop()
        if op.parent is None or any(r.uses for r in op.results) or _on_host(op):
            continue
        if not isinstance(op, graph.MulOp | graph.AddOp | graph.ActivationOp | graph.PiecewiseLinearOp | graph.ConstantOp):
            continue
        inputs = [v.owner for v in op.operands if isinstance(v.owner, Operation)]
        rewriter.erase(op)
        erased.append(op)
        work.extend(inputs)
    return erased


@dataclass
class FuseTableActivationPattern(RewritePattern):
    """An activation of `funcs` (silu, gelu_erf, gelu, sigmoid) of a conv2d or gemm ->
    the producer with that `activation`: ACT applies the table as it evacuates the
    accumulator."""

    funcs: frozenset[str]

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.ActivationOp, rewriter: PatternRewriter) -> None:
        if op.func_val not in self.funcs or _on_host(op):
            return
        producer = _fusable_producer(op.input)
        if producer is not None:
            merge_relu(producer, op, rewriter, op.func_val)


def _addend_candidate(value: SSAValue, out: tuple[int, ...]) -> graph.Conv2dOp | None:
    """The conv2d defining `value` if it can take an addend of shape `out`."""
    conv = _fusable_producer(value)
    if not isinstance(conv, graph.Conv2dOp) or conv.addend is not None:
        return None
    return conv if _shape(value) == out else None


def _defined_after(value: SSAValue, op: Operation) -> bool:
    """Whether `value` is the result of an op after `op` in its block."""
    owner = value.owner
    return isinstance(owner, Operation) and op.is_before_in_block(owner)


class FuseResidualAddPattern(RewritePattern):
    """add(conv2d, t) with t of the result's shape -> conv2d with addend t.

      %c = graph.conv2d %x, %w, %b {tidal.origin = "conv"} : ...
      %s = graph.add %c, %t {tidal.origin = "add"} : ...
    becomes
      %s = graph.conv2d %x, %w, %b addend %t {tidal.fused = ["add"],
                                              tidal.origin = "conv"} : ...
    """

    @op_type_rewrite_pattern
    def match_and_rewrite(
        self, op: graph.AddOp | graph.SumOp, rewriter: PatternRewriter
    ) -> None:
        operands = list(op.operands)
        if len(operands) != 2 or _on_host(op):
            return
        out = _shape(op.result)
        if any(_shape(v) != out for v in operands):
            return  # a broadcasting add: the addend must be a whole tensor
        candidates = [
            (conv, other)
            for value, other in ((operands[0], operands[1]), (operands[1], operands[0]))
            if (conv := _addend_candidate(value, out)) is not None
        ]
        if not candidates:
            return
        if len(candidates) == 2 and candidates[1][0].is_before_in_block(
            candidates[0][0]
        ):
            candidates.reverse()
        conv, addend = candidates[-1]  # of two convs, the one defined later
        fused = graph.Conv2dOp(
            conv.input,
            conv.weight,
            conv.bias,
            strides=conv.strides_val,
            pads=conv.pads_val,
            dilations=conv.dilations_val,
            group=conv.group_val,
            addend=addend,
            result_type=conv.result.type,  # type: ignore[arg-type]
            interleave=conv.interleave_val,
        )
        fused.attributes.update(conv.attributes)  # origin (and placement, if any)
        _record_fused(fused, op)
        fused.result.name_hint = op.result.name_hint or conv.result.name_hint
        if _defined_after(addend, conv):
            rewriter.replace(op, fused)  # the conv moves to the add
        else:
            rewriter.insert(fused, InsertPoint.before(conv))
            rewriter.replace(op, [], [fused.result])
        rewriter.erase(conv)


@dataclass(frozen=True)
class GraphFuseEpiloguePass(ModulePass):
    """Merge a relu or a residual add after a conv2d or gemm into its epilogue;
    with `through_concat` (`graph-fuse-epilogue{through_concat=false}` turns it
    off), a relu after a concatenation too (ReluThroughConcatPattern)."""

    name = "graph-fuse-epilogue"

    through_concat: bool = True
    silu: bool = True
    """A Sigmoid and a Mul that make x sigmoid(x) become one silu activation, which
    a conv2d or gemm before it takes as its own (SiluPattern,
    FuseTableActivationPattern)."""
    gelu: bool = True
    """The ops that make GELU's erf or tanh form become one gelu_erf or gelu
    activation, which a conv2d or gemm before it takes as its own (GeluPattern,
    FuseTableActivationPattern)."""
    sigmoid: bool = True
    """A sigmoid of a conv2d or gemm (a squeeze-and-excite gate: EfficientNet's) becomes
    its activation (FuseTableActivationPattern)."""
    matmul_bias: bool = True
    """A matmul plus a constant bias along its last dim becomes a gemm with that bias,
    a matmul that only a relu or table activation reads a gemm, and a relu or table
    activation of a view of a gemm moves before the view (MatMulBiasPattern,
    MatMulActivationPattern, ActivationThroughReshape)."""
    hard_swish: bool = True
    """relu6(x + 3) / 6 becomes one hard_sigmoid, x times that one hard_swish, and a
    hard_sigmoid of a conv2d that conv's clip01 epilogue (HardSigmoidPattern,
    HardSwishPattern, HardSigmoidEpiloguePattern)."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        expect_level(op, self.name, "graph")
        patterns: list[RewritePattern] = [FuseResidualAddPattern(), FuseActivationPattern()]
        funcs: set[str] = set()
        if self.silu:
            patterns.append(SiluPattern())
            funcs.add("silu")
        if self.gelu:
            patterns.append(GeluPattern())
            funcs |= {"gelu_erf", "gelu"}
        if self.sigmoid:
            funcs.add("sigmoid")
        if funcs:
            patterns.append(FuseTableActivationPattern(frozenset(funcs)))
        if self.hard_swish:
            patterns += [HardSigmoidPattern(), HardSwishPattern(), HardSigmoidEpiloguePattern()]
        if self.matmul_bias:
            patterns += [MatMulBiasPattern(), MatMulActivationPattern(), ActivationThroughReshape()]
        if self.through_concat:
            patterns += [ReluThroughConcatPattern(), RedundantReluPattern()]
        with quiet_diagnostics():
            PatternRewriteWalker(GreedyRewritePatternApplier(patterns)).rewrite_module(op)

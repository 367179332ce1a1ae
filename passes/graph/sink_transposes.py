"""graph-sink-transposes: transposes move down through element-wise ops and
concatenations until they meet another transpose, and the two compose (an
identity goes); a transpose that moves only dims of size 1 becomes a reshape.

TensorFlow's exporter (tf2onnx) keeps a Keras model's NHWC layout and wraps every
conv in a pair of transposes: NHWC -> NCHW before it, NCHW -> NHWC after it, with
the batch norm's per-channel Mul and Add, the activations (Relu, Clip, hard swish's
Add, Clip and Muls), Pad and ReduceMean between one conv's pair and the next's.
Each `graph.transpose` is a strided DRAM-to-DRAM copy of the whole tensor and
splits the nests around it, so nothing stays on chip: MobileNetV3Small took 938 k
cycles, 43x its ideal roofline. In real arithmetic, for a transpose T with perm p:

- u(T(x)) = T(u(x)) for an element-wise u (relu, piecewise_linear, activation);
- b(T(x), T(y)) = T(b(x, y)) for a broadcasting binary b (add, mul, sub, div,
  max, min), and b(T(x), c) = T(b(x, c')) for a constant c, c' = c (raised to the
  rank with leading 1s) transposed by p's inverse; an operand that is neither but
  broadcast (fewer elements than the result: a squeeze-and-excite's [1, 1, 1, C]
  gate) gets a transpose by p's inverse of its own;
- concat(T(x), c, axis a) = T(concat(x, c', axis p[a]));
- T(T(x, p), q) = T(x, p∘q), and an identity perm is x;
- a transpose whose non-unit dims keep their order is a reshape (a view).

A transpose whose reader is none of those stays where it is. The rewrites are
exact (the same arithmetic on the same elements, in another layout). Applied to
a fixed point, the NHWC -> NCHW -> NHWC pairs cancel, the batch norms become
per-channel ops on the conv's NCHW output (which graph-canonicalize then folds into
the conv), and the pads concatenations run in NCHW.

A transpose with several readers moves through each that takes it, so for a while
there are more transposes than before. The pass rewrites a copy of each function
and keeps it only when the elements that its non-constant, non-unit transposes
copy fall (or, as many, there are fewer transposes): a transpose that moves through one reader and stops at the next, while
another reader keeps the original, would be a second copy of it. The decision is
per function, not per transpose: a function where most transposes cancel keeps
the few that moved and did not.

    %t = graph.transpose %c {perm = array<i64: 0, 2, 3, 1>} : (tensor<1x16x8x8xf32>) -> tensor<1x8x8x16xf32>
    %s = graph.mul %t, %scale : (tensor<1x8x8x16xf32>, tensor<16xf32>) -> tensor<1x8x8x16xf32>
    %r = graph.relu %s : (tensor<1x8x8x16xf32>) -> tensor<1x8x8x16xf32>
    %u = graph.transpose %r {perm = array<i64: 0, 3, 1, 2>} : (tensor<1x8x8x16xf32>) -> tensor<1x16x8x8xf32>
  becomes
    %s = graph.mul %c, %scale2 : (tensor<1x16x8x8xf32>, tensor<1x16x1x1xf32>) -> tensor<1x16x8x8xf32>
    %u = graph.relu %s : (tensor<1x16x8x8xf32>) -> tensor<1x16x8x8xf32>

`--disable-opt sink-transposes` keeps the model's transposes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.traits import is_side_effect_free

from tidal.dialects import graph
from tidal.passes.graph.canonicalize import _copy_origin
from tidal.passes.utils.expect import expect_level
from tidal.passes.utils.quiet import quiet_diagnostics

# Element-wise ops of one operand, whose value at an element depends on that
# element alone.
ELEMENTWISE = (graph.ReluOp, graph.PiecewiseLinearOp, graph.ActivationOp)
BINARY = (graph.AddOp, graph.MulOp, graph.SubOp, graph.DivOp, graph.MaxOp, graph.MinOp)


def _shape(value: SSAValue) -> tuple[int, ...]:
    t = value.type
    assert isinstance(t, TensorType)
    return tuple(t.get_shape())


def _size(shape: Sequence[int]) -> int:
    return int(np.prod(shape, dtype=np.int64))


def _inverse(perm: Sequence[int]) -> tuple[int, ...]:
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return tuple(inv)


def _moves_units_only(shape: Sequence[int], perm: Sequence[int]) -> bool:
    """Whether transposing `shape` by `perm` keeps the order of its dims of size
    other than 1 (then the elements keep their order: a reshape)."""
    kept = [p for p in perm if shape[p] != 1]
    return kept == sorted(kept)


def _transpose(value: SSAValue) -> graph.TransposeOp | None:
    """The transpose that makes `value`, else None."""
    op = value.owner
    return op if isinstance(op, graph.TransposeOp) else None


def _tensor(shape: Sequence[int]) -> TensorType:
    return graph._f32_tensor(tuple(shape))  # pyright: ignore[reportPrivateUsage]


def _origin(source: Operation, *targets: Operation) -> None:
    for target in targets:
        _copy_origin(source, target)


def _like(op: Operation, operands: Sequence[SSAValue], shape: Sequence[int]) -> Operation:
    """`op` again, of the same kind and properties, on `operands`, of result `shape`."""
    new = type(op).create(
        operands=list(operands),
        result_types=[_tensor(shape)],
        properties=dict(op.properties),
        attributes=dict(op.attributes),
    )
    new.results[0].name_hint = op.results[0].name_hint
    return new


def _replace_by_transposed(
    rewriter: PatternRewriter, op: Operation, new_ops: list[Operation], perm: Sequence[int]
) -> None:
    """Insert `new_ops` before `op`, the last computing op's result in the layout
    before `perm`; replace `op` by that result transposed by `perm`."""
    back = graph.TransposeOp(new_ops[-1].results[0], perm, op.results[0].type)  # type: ignore[arg-type]
    _origin(op, back)
    rewriter.replace(op, [*new_ops, back])


class ComposeTransposes(RewritePattern):
    """T(T(x, p), q) -> T(x, p∘q), or x when that is the identity."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.TransposeOp, rewriter: PatternRewriter) -> None:
        inner = op.input.owner
        if not isinstance(inner, graph.TransposeOp):
            return
        p, q = inner.perm_val, op.perm_val
        composed = tuple(p[i] for i in q)
        if composed == tuple(range(len(composed))):
            rewriter.replace(op, [], [inner.input])
            return
        new = graph.TransposeOp(inner.input, composed, op.result.type)  # type: ignore[arg-type]
        _origin(op, new)
        rewriter.replace(op, new)


class UnitTransposeToReshape(RewritePattern):
    """A transpose that moves only dims of size 1 is a reshape."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.TransposeOp, rewriter: PatternRewriter) -> None:
        if not _moves_units_only(_shape(op.input), op.perm_val):
            return
        new = graph.ReshapeOp(op.input, op.result.type)  # type: ignore[arg-type]
        _origin(op, new)
        rewriter.replace(op, new)


class ComposeReshapes(RewritePattern):
    """reshape(reshape(x)) -> reshape(x), and a reshape to x's own shape is x."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.ReshapeOp, rewriter: PatternRewriter) -> None:
        x = op.input
        if isinstance(x.owner, graph.ReshapeOp):
            x = x.owner.input
        if _shape(x) == _shape(op.result):
            rewriter.replace(op, [], [x])
        elif x is not op.input:
            new = graph.ReshapeOp(x, op.result.type)  # type: ignore[arg-type]
            _origin(op, new)
            rewriter.replace(op, new)


class SinkThroughElementwise(RewritePattern):
    """u(T(x, p)) -> T(u(x), p)."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, ELEMENTWISE):
            return
        t = _transpose(op.operands[0])
        if t is None:
            return
        new = _like(op, [t.input], _shape(t.input))
        _replace_by_transposed(rewriter, op, [new], t.perm_val)


class SinkThroughBinary(RewritePattern):
    """b(T(x, p), y) -> T(b(x, y'), p) for a broadcasting binary b, where y' is y's
    transpose's input (same p), a constant transposed by p's inverse, or a small
    operand given a transpose of its own."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, BINARY):
            return
        out = _shape(op.results[0])
        rank = len(out)
        # The perm: a full-size transposed operand's (a broadcast one would move the
        # transpose onto the larger result).
        perm = next(
            (
                t.perm_val
                for t in map(_transpose, op.operands)
                if t is not None and _shape(t.result) == out
            ),
            None,
        )
        if perm is None:
            return
        # Every operand must take the move; decided before any op is built.
        same = lambda v: (t := _transpose(v)) is not None and tuple(t.perm_val) == tuple(perm)  # noqa: E731
        if not all(
            same(v) or isinstance(v.owner, graph.ConstantOp) or _size(_shape(v)) < _size(out)
            for v in op.operands
        ):
            return
        inv = _inverse(perm)
        before: list[Operation] = []
        operands: list[SSAValue] = []
        for v in op.operands:
            if same(v):
                operands.append(v.owner.input)  # type: ignore[union-attr]
                continue
            shape = _shape(v)
            raised = (1,) * (rank - len(shape)) + shape
            if isinstance(v.owner, graph.ConstantOp):
                c = graph.ConstantOp.from_numpy(
                    np.ascontiguousarray(v.owner.to_numpy().reshape(raised).transpose(inv))
                )
                _origin(v.owner, c)
                c.result.name_hint = v.name_hint
                before.append(c)
                operands.append(c.result)
                continue
            own: list[Operation] = []
            if len(shape) != rank:
                own.append(graph.ReshapeOp(v, _tensor(raised)))
            src = own[-1].results[0] if own else v
            own.append(graph.TransposeOp(src, inv, _tensor(tuple(raised[i] for i in inv))))
            _origin(op, *own)
            before.extend(own)
            operands.append(own[-1].results[0])
        new = _like(op, operands, tuple(out[i] for i in inv))
        _replace_by_transposed(rewriter, op, [*before, new], perm)


class SinkThroughConcat(RewritePattern):
    """concat(T(x, p), c, axis a) -> T(concat(x, c', axis p[a]), p), every operand a
    transpose by the same p or a constant (c' = c transposed by p's inverse)."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.ConcatOp, rewriter: PatternRewriter) -> None:
        perms = {tuple(t.perm_val) for t in map(_transpose, op.inputs) if t is not None}
        if len(perms) != 1:
            return
        (perm,) = perms
        if not all(_transpose(v) is not None or isinstance(v.owner, graph.ConstantOp) for v in op.inputs):
            return
        inv = _inverse(perm)
        before: list[Operation] = []
        operands: list[SSAValue] = []
        for v in op.inputs:
            t = _transpose(v)
            if t is not None:
                operands.append(t.input)
            else:
                assert isinstance(v.owner, graph.ConstantOp)
                c = graph.ConstantOp.from_numpy(np.ascontiguousarray(v.owner.to_numpy().transpose(inv)))
                _origin(v.owner, c)
                c.result.name_hint = v.name_hint
                before.append(c)
                operands.append(c.result)
        new = graph.ConcatOp(operands, perm[op.axis_val])
        _origin(op, new)
        new.result.name_hint = op.result.name_hint
        _replace_by_transposed(rewriter, op, [*before, new], perm)


def sink_patterns() -> list[RewritePattern]:
    """Move every transpose down as far as it goes (those of dims of size 1 too, so
    that a squeeze-and-excite's [1, C, 1, 1] <-> [1, 1, 1, C] pairs cancel)."""
    return [
        ComposeTransposes(),
        SinkThroughElementwise(),
        SinkThroughBinary(),
        SinkThroughConcat(),
    ]


def view_patterns() -> list[RewritePattern]:
    """Then the transposes left that move dims of size 1 only are reshapes, and
    reshapes in a row one."""
    return [UnitTransposeToReshape(), ComposeReshapes()]


def transposed_elements(function: Operation) -> tuple[int, int]:
    """The elements that the transposes in `function` copy (those of non-constant
    operands that move dims of size other than 1), and how many transposes it has."""
    total = count = 0
    for op in function.walk():
        if isinstance(op, graph.TransposeOp):
            count += 1
            if not isinstance(op.input.owner, graph.ConstantOp) and not _moves_units_only(
                _shape(op.input), op.perm_val
            ):
                total += _size(_shape(op.input))
    return total, count


def _erase_dead(function: Operation) -> None:
    """Erase the side-effect-free ops in `function` that no one reads, last first."""
    for op in reversed(list(function.walk())):
        if op is not function and op.results and not any(r.uses for r in op.results):
            if is_side_effect_free(op):
                op.erase()


@dataclass(frozen=True)
class GraphSinkTransposesPass(ModulePass):
    """Move transposes down through element-wise ops and concatenations until they
    cancel (module docstring); kept only when fewer elements are transposed."""

    name = "graph-sink-transposes"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        expect_level(op, self.name, "graph")
        for function in list(op.body.block.ops):
            before = transposed_elements(function)
            if before == (0, 0):
                continue
            work = function.clone()
            with quiet_diagnostics():
                for patterns in (sink_patterns(), view_patterns()):
                    walker = PatternRewriteWalker(GreedyRewritePatternApplier(patterns))
                    for region in work.regions:
                        walker.rewrite_region(region)
            _erase_dead(work)
            if transposed_elements(work) < before:
                op.body.block.insert_op_after(work, function)
                function.detach()
                function.erase()
            else:
                work.erase()

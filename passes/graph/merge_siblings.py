"""graph-merge-siblings: two convs of one input whose results sit side by side in
one concatenation become one conv, when together they fit the PE columns.

A conv's matmuls stream its input past the PE array once per output tile, however
few of the array's columns the tile fills. SqueezeNet's fire modules expand a
16-channel squeeze twice, a 1x1 and a 3x3 conv to 64 channels each, concatenated:
two passes over the 55x55 input, each filling half the columns, and two
evacuations on half of ACT's lanes. As one 3x3 conv of 128 outputs whose first 64
have the 1x1 weights at the centre tap (zeros around them), the 1x1 conv's pass is
gone: the 3x3's matmuls fill the columns, one ACT evacuation writes both halves,
and the result is the concatenation itself.

The pattern takes a graph.concat along the channels and two adjacent operands,
each the only use of a conv's result, with: the same input; dense (one group, no
interleave) convs with constant weights and biases, no fused addend, the same
activation, strides and dilations 1; one kernel inside the other, placed so that
every output reads the same input pixels (for the larger kernel's pads: the smaller
kernel's pads plus its offset in the larger); both outputs at most the PE columns
together. It leaves convs that conv.py's `row_pack` would take (k >= 2 adjacent
output rows per matmul, k dividing the output rows, k times the channels within
the columns: a 3x3 conv of 64 channels at 56 rows streams 28-row blocks, and merged
it would stream 56), since row-pack already halves the larger one's passes.

    %a = graph.conv2d %x, %w1, %b1 {activation = "relu"} -> tensor<1x64x55x55xf32>
    %b = graph.conv2d %x, %w3, %b3 {activation = "relu", pads = [1, 1, 1, 1]} -> tensor<1x64x55x55xf32>
    %r = graph.concat %a, %b {axis = 1} -> tensor<1x128x55x55xf32>
  becomes
    %r = graph.conv2d %x, %w, %b {activation = "relu", pads = [1, 1, 1, 1]} -> tensor<1x128x55x55xf32>

`--disable-opt merge-siblings` keeps the convs apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, StringAttr, TensorType
from xdsl.ir import SSAValue
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.rewriter import InsertPoint

from tidal.dialects import graph
from tidal.passes.graph.fold_shuffle import _constant
from tidal.passes.utils.chip import ChipPass
from tidal.passes.utils.expect import expect_level
from tidal.passes.utils.quiet import quiet_diagnostics


def row_packs(cout: int, kernel_rows: int, out_rows: int, cols: int) -> bool:
    """Whether conv.py's row_pack may take a stride-1 conv of `cout` outputs: a
    kernel of more than one row and some k >= 2 with k * cout within the columns
    that divides the output rows."""
    return kernel_rows > 1 and any(out_rows % k == 0 for k in range(2, cols // cout + 1))


@dataclass(frozen=True)
class _Conv:
    op: graph.Conv2dOp
    weight: np.ndarray
    bias: np.ndarray | None


def _conv(value: SSAValue) -> _Conv | None:
    """The dense, stride-1, constant-weight conv without addend whose only use makes
    `value`, or None."""
    op = value.owner
    if not isinstance(op, graph.Conv2dOp) or not value.has_one_use():
        return None
    if op.group_val != 1 or op.interleave_val or op.addend is not None:
        return None
    if tuple(op.strides_val) != (1, 1) or tuple(op.dilations_val) != (1, 1):
        return None
    weight = _constant(op.weight)
    bias = _constant(op.bias) if op.bias is not None else None
    if weight is None or weight.ndim != 4 or (op.bias is not None and bias is None):
        return None
    return _Conv(op, weight, bias)


def _offsets(inner: _Conv, outer: _Conv) -> tuple[int, int] | None:
    """Where `inner`'s kernel lies in `outer`'s (rows, columns) so that each output
    reads the same input pixels through both (pads: outer's = inner's + offset on
    the top and left, and likewise on the bottom and right), or None."""
    kh, kw = inner.weight.shape[2:]
    big_h, big_w = outer.weight.shape[2:]
    (it, il, ib, ir), (ot, ol, ob, o_r) = inner.op.pads_val, outer.op.pads_val
    dh, dw = ot - it, ol - il
    if not (0 <= dh <= big_h - kh and 0 <= dw <= big_w - kw):
        return None
    if ob - (big_h - kh - dh) != ib or o_r - (big_w - kw - dw) != ir:
        return None
    return dh, dw


@dataclass
class MergeSiblingsPattern(RewritePattern):
    """A channel concat of two convs of one input that fit the columns together ->
    one conv (module docstring)."""

    cols: int

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.ConcatOp, rewriter: PatternRewriter) -> None:
        if op.axis.value.data != 1:
            return
        operands = list(op.operands)
        for i in range(len(operands) - 1):
            pair = _conv(operands[i]), _conv(operands[i + 1])
            merged = self._merge(*pair, rewriter)
            if merged is None:
                continue
            rest = [*operands[:i], merged, *operands[i + 2 :]]
            if len(rest) == 1:
                rewriter.replace(op, [], [merged])
            else:
                cat = graph.ConcatOp(rest, 1, op.result.type)
                cat.attributes.update(op.attributes)
                cat.result.name_hint = op.result.name_hint
                rewriter.replace(op, cat)
            for c in pair:
                assert c is not None
                rewriter.erase(c.op)
                for old in (c.op.weight.owner, c.op.bias.owner if c.op.bias is not None else None):
                    if isinstance(old, graph.ConstantOp) and not old.result.uses:
                        rewriter.erase(old)
            return

    def _merge(self, a: _Conv | None, b: _Conv | None, rewriter: PatternRewriter) -> SSAValue | None:
        if a is None or b is None or a.op.input is not b.op.input:
            return None
        if a.op.activation_val != b.op.activation_val:
            return None
        shape_a = list(a.op.result.type.get_shape())  # type: ignore[attr-defined]
        shape_b = list(b.op.result.type.get_shape())  # type: ignore[attr-defined]
        ma, mb = shape_a[1], shape_b[1]
        if shape_a[:1] + shape_a[2:] != shape_b[:1] + shape_b[2:] or ma + mb > self.cols:
            return None
        rows = shape_a[2]
        if row_packs(ma, a.weight.shape[2], rows, self.cols) or row_packs(mb, b.weight.shape[2], rows, self.cols):
            return None
        outer, inner = (b, a) if b.weight.shape[2:] >= a.weight.shape[2:] else (a, b)
        if not all(o >= i for o, i in zip(outer.weight.shape[2:], inner.weight.shape[2:], strict=True)):
            return None
        at = _offsets(inner, outer)
        if at is None:
            return None
        kh, kw = inner.weight.shape[2:]
        cin = a.weight.shape[1]
        weight = np.zeros((ma + mb, cin, *outer.weight.shape[2:]), np.float32)
        lo = slice(0, ma) if inner is a else slice(ma, ma + mb)
        weight[lo, :, at[0] : at[0] + kh, at[1] : at[1] + kw] = inner.weight
        weight[slice(ma, ma + mb) if inner is a else slice(0, ma)] = outer.weight
        bias = None
        if a.bias is not None or b.bias is not None:
            bias = np.concatenate([
                a.bias if a.bias is not None else np.zeros(ma, np.float32),
                b.bias if b.bias is not None else np.zeros(mb, np.float32),
            ]).astype(np.float32)
        w = graph.ConstantOp.from_numpy(weight)
        bconst = graph.ConstantOp.from_numpy(bias) if bias is not None else None
        result = a.op.result.type
        assert isinstance(result, TensorType)
        conv = graph.Conv2dOp(
            a.op.input, w.result, bconst.result if bconst is not None else None,
            pads=outer.op.pads_val, activation=a.op.activation_val,
            result_type=TensorType(result.element_type, [shape_a[0], ma + mb, *shape_a[2:]]),
        )
        origins = [c.op.attributes.get("tidal.origin") for c in (a, b)]
        if all(isinstance(o, StringAttr) for o in origins):  # the nest: "n5+n7"
            conv.attributes["tidal.origin"] = StringAttr("+".join(o.data for o in origins))  # type: ignore[union-attr]
        rewriter.insert([w, *([bconst] if bconst is not None else []), conv], InsertPoint.before(a.op))
        return conv.result


@dataclass(frozen=True)
class GraphMergeSiblingsPass(ChipPass):
    """Merge two convs of one input, side by side in a concatenation, that fit the PE
    columns together into one conv (module docstring)."""

    name = "graph-merge-siblings"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        expect_level(op, self.name, "graph")
        chip = self.chip_config()
        with quiet_diagnostics():
            PatternRewriteWalker(
                GreedyRewritePatternApplier([MergeSiblingsPattern(chip.pe_cols)]),
                apply_recursively=False,
            ).rewrite_module(op)

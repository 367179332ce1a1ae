"""graph-fuse-affine: merge per-channel scales, shifts and the relu after them into one
`graph.channel_affine`.

A BatchNorm that graph-canonicalize cannot fold into a conv (DenseNet's
concat -> BatchNorm -> Relu -> Conv) becomes a per-channel `graph.mul` and
`graph.add`, then the relu: three element-wise nests, each a round trip of the whole
tensor. As one `graph.channel_affine` it is one ACT instruction per tile,
func(x * scale column + shift column), with channels on partitions. Expects graph
ops on static f32 tensors, after graph-canonicalize (constant chains folded) and
graph-fuse-epilogue (a relu after a conv is already in the conv). Rewrites, each a
pattern applied to a fixed point:

- a `graph.mul` (`graph.add`) of x by a constant that varies at most along dim 1
  ([C, 1, 1], [1, C, 1, 1], [C] on an NC tensor, a scalar) and does not broadcast
  x -> `graph.channel_affine` of x with that scale (shift), the shift 0 (scale 1);
- a mul or add by such a constant of the single-use result of a channel_affine with
  constant parameters and no activation -> that channel_affine with its scale and
  shift multiplied (shift added);
- a `graph.relu` of the single-use result of a channel_affine without an
  activation -> that channel_affine with `activation = "relu"`.

A relu alone stays a relu; ops placed on the host (`tidal.placement = "host"`) are
left alone. The merged op keeps the first op's `tidal.origin` and lists the others'
in `tidal.fused`, as graph-fuse-epilogue does:

    %s = graph.constant dense<...> : tensor<8x1x1xf32>
    %t = graph.constant dense<...> : tensor<8x1x1xf32>
    %m = graph.mul %x, %s {tidal.origin = "bn"} : ...
    %a = graph.add %m, %t {tidal.origin = "bn"} : ...
    %r = graph.relu %a {tidal.origin = "relu"} : ...
  becomes
    %s2 = graph.constant dense<...> : tensor<8xf32>
    %t2 = graph.constant dense<...> : tensor<8xf32>
    %r = graph.channel_affine %x, %s2, %t2 {activation = "relu",
           tidal.fused = ["bn", "relu"], tidal.origin = "bn"} : ...
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tidal.dialects import graph
from tidal.passes.graph.canonicalize import (
    _channel_vector,
    _const,
    _new_const,
    _shape,
    _split_const,
)
from tidal.passes.graph.fuse_epilogue import _on_host, _record_fused, merge_relu
from tidal.passes.utils.expect import expect_level
from tidal.passes.utils.quiet import quiet_diagnostics
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.rewriter import InsertPoint


def _open_affine(value: SSAValue) -> graph.ChannelAffineOp | None:
    """The channel_affine defining `value` if `value` has no other use and the op
    has no activation yet, else None."""
    producer = value.owner
    if not isinstance(producer, graph.ChannelAffineOp) or not value.has_one_use():
        return None
    if producer.activation is not None or _on_host(producer):
        return None
    return producer


class FuseScaleShiftPattern(RewritePattern):
    """x * s or x + t, s and t per-channel constants -> channel_affine, or merged
    into the channel_affine that x is the single-use result of.

      %m = graph.mul %x, %s {tidal.origin = "bn"} : ...
      %a = graph.add %m, %t {tidal.origin = "bn"} : ...
    becomes
      %a = graph.channel_affine %x, %s2, %t2 {tidal.fused = ["bn"], tidal.origin = "bn"} : ...
    """

    @op_type_rewrite_pattern
    def match_and_rewrite(
        self, op: graph.MulOp | graph.AddOp, rewriter: PatternRewriter
    ) -> None:
        split = _split_const(op)
        if split is None or _on_host(op):
            return
        x, constant = split
        out = _shape(op.result)
        if len(out) < 2 or _shape(x) != out:
            return  # a per-channel op needs channels; x must not be broadcast
        c = _const(constant)
        assert c is not None
        vector = _channel_vector(c, out)
        if vector is None:
            return
        vector = vector.astype(np.float64)
        mul = isinstance(op, graph.MulOp)
        producer = _open_affine(x)
        if producer is not None:
            scale, shift = _const(producer.scale), _const(producer.shift)
            if scale is not None and shift is not None:
                scale, shift = scale.astype(np.float64), shift.astype(np.float64)
                if mul:
                    scale, shift = scale * vector, shift * vector
                else:
                    shift = shift + vector
                self._replace(op, producer.input, scale, shift, producer, rewriter)
                return
        ones, zeros = np.ones_like(vector), np.zeros_like(vector)
        scale, shift = (vector, zeros) if mul else (ones, vector)
        self._replace(op, x, scale, shift, None, rewriter)

    @staticmethod
    def _replace(
        op: graph.MulOp | graph.AddOp,
        x: SSAValue,
        scale: np.ndarray,
        shift: np.ndarray,
        producer: graph.ChannelAffineOp | None,
        rewriter: PatternRewriter,
    ) -> None:
        """Replace `op` (and `producer`, which it merges into) by the affine of x."""
        first = producer if producer is not None else op
        sc, sh = (
            _new_const(scale.astype(np.float32), first),
            _new_const(shift.astype(np.float32), first),
        )
        fused = graph.ChannelAffineOp(x, sc, sh, result_type=op.result.type)  # type: ignore[arg-type]
        fused.attributes.update(
            first.attributes
        )  # origin, fused list (placement, if any)
        if producer is not None:
            _record_fused(fused, op)
        fused.result.name_hint = op.result.name_hint or first.results[0].name_hint
        rewriter.insert([sc, sh], InsertPoint.before(op))
        rewriter.replace(op, fused)
        if producer is not None:
            rewriter.erase(producer)


class FuseAffineActivationPattern(RewritePattern):
    """relu(channel_affine) -> the channel_affine with `activation = "relu"`.

      %a = graph.channel_affine %x, %s, %t {tidal.origin = "bn"} : ...
      %r = graph.relu %a {tidal.origin = "relu"} : ...
    becomes
      %r = graph.channel_affine %x, %s, %t {activation = "relu", tidal.fused = ["relu"],
                                            tidal.origin = "bn"} : ...
    """

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.ReluOp, rewriter: PatternRewriter) -> None:
        producer = _open_affine(op.input)
        if producer is None or _on_host(op):
            return
        merge_relu(producer, op, rewriter)


@dataclass(frozen=True)
class GraphFuseAffinePass(ModulePass):
    """Merge per-channel constant muls and adds, and a relu after them, into one
    graph.channel_affine."""

    name = "graph-fuse-affine"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        expect_level(op, self.name, "graph")
        with quiet_diagnostics():
            PatternRewriteWalker(
                GreedyRewritePatternApplier(
                    [FuseScaleShiftPattern(), FuseAffineActivationPattern()]
                )
            ).rewrite_module(op)

"""graph-swap-avgpool: a 1x1 conv followed by an average pooling of side-by-side
windows becomes the pooling followed by the conv, which then runs over fewer pixels.

Both are linear: the 1x1 conv mixes channels pixel by pixel, the average pooling
mixes pixels channel by channel, so avgpool(conv(x)) = conv(avgpool(x)) exactly in
real arithmetic (fp32 rounds the sums in another order), and the conv's bias passes
through a pooling whose windows' weights sum to one. DenseNet-121's transitions (a
1x1 conv 256 -> 128 at 56x56, then a 2x2 stride-2 average; and at 28x28, 14x14): the
pooling first, over the conv's 256 input channels, then the conv over a quarter of
the pixels. POOL does twice the work (twice the channels, two tiles of 128 instead
of one), the PE array a quarter: DenseNet-121 425,229 -> 417,145 cycles on the
default chip.

The pattern takes a conv with one reader, 1x1, stride 1, unpadded, dense, with
constant weights, no fused addend and no activation (an activation would have to
come after the pooling), and a pooling with kernel = stride > 1 and no padding.

    %c = graph.conv2d %x, %w, %b -> tensor<1x128x56x56xf32>
    %y = graph.avgpool %c {kernel_shape = [2, 2], strides = [2, 2]} -> tensor<1x128x28x28xf32>
  becomes
    %p = graph.avgpool %x {kernel_shape = [2, 2], strides = [2, 2]} -> tensor<1x256x28x28xf32>
    %y = graph.conv2d %p, %w, %b -> tensor<1x128x28x28xf32>

The other direction (an average pooling of stride 1 before a 1x1 conv to fewer
channels: Inception v2's pool projections, 576 -> 128) would pool over a sixth of
the channel tiles; measured, POOL's busy cycles fell by 52 k but the model took
6 k cycles more (the layouts around the moved pooling cost SBUF-to-SBUF copies),
so it is not done.

`--disable-opt swap-avgpool` keeps the order of the model.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, TensorType
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


def _pointwise(conv: graph.Conv2dOp) -> bool:
    """A 1x1, stride-1, unpadded, dense conv with constant weights, no addend."""
    weight = _constant(conv.weight)
    return (
        weight is not None and weight.ndim == 4 and weight.shape[2:] == (1, 1)
        and tuple(conv.strides_val) == (1, 1) and not any(conv.pads_val)
        and tuple(conv.dilations_val) == (1, 1) and conv.group_val == 1 and not conv.interleave_val
        and conv.addend is None and (conv.bias is None or _constant(conv.bias) is not None)
    )


def _shape(value: SSAValue) -> list[int]:
    t = value.type
    assert isinstance(t, TensorType)
    return list(t.get_shape())


def _like(value: SSAValue, channels: int, spatial: list[int]) -> TensorType:
    t = value.type
    assert isinstance(t, TensorType)
    return TensorType(t.element_type, [_shape(value)[0], channels, *spatial])


def _pool_like(pool: graph.AvgPoolOp, x: SSAValue, result_type: TensorType) -> graph.AvgPoolOp:
    new = graph.AvgPoolOp(
        x, count_include_pad=pool.count_include_pad_val, kernel_shape=pool.kernel_shape_val,
        strides=pool.strides_val, pads=pool.pads_val, result_type=result_type,
    )
    new.attributes.update(pool.attributes)
    return new


@dataclass
class ConvThenPoolPattern(RewritePattern):
    """1x1 conv (no activation, one reader) -> avgpool of side-by-side windows ->
    avgpool over the conv's input -> the conv over the pooled pixels."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, pool: graph.AvgPoolOp, rewriter: PatternRewriter) -> None:
        conv = pool.input.owner
        if not isinstance(conv, graph.Conv2dOp) or not _pointwise(conv) or not conv.result.has_one_use():
            return
        if conv.activation_val or any(pool.pads_val):
            return
        if tuple(pool.kernel_shape_val) != tuple(pool.strides_val) or tuple(pool.strides_val) == (1, 1):
            return
        cin = _shape(conv.input)[1]
        spatial_out = _shape(pool.result)[2:]
        pooled = _pool_like(pool, conv.input, _like(conv.input, cin, spatial_out))
        second = graph.Conv2dOp(
            pooled.result, conv.weight, conv.bias, result_type=pool.result.type,  # type: ignore[arg-type]
        )
        second.attributes.update(conv.attributes)
        second.result.name_hint = pool.result.name_hint
        rewriter.insert([pooled, second], InsertPoint.before(pool))
        rewriter.replace(pool, [], [second.result])
        rewriter.erase(conv)


@dataclass(frozen=True)
class GraphSwapAvgPoolPass(ChipPass):
    """Run a 1x1 conv after the average pooling of side-by-side windows that follows
    it, over fewer pixels (module docstring)."""

    name = "graph-swap-avgpool"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        expect_level(op, self.name, "graph")
        self.chip_config()  # (checks the preset name, as every graph pass does)
        with quiet_diagnostics():
            PatternRewriteWalker(
                GreedyRewritePatternApplier([ConvThenPoolPattern()]),
                apply_recursively=False,
            ).rewrite_module(op)

"""graph-to-loop: lower whole-tensor graph ops to tiled loop nests over DRAM buffers.

Expects a `func.func` on f32 tensors holding graph ops with static shapes, after
graph-canonicalize (no batchnorm left) and graph-partition (every op placed on the
accelerator). Produces the same function on `memref`s: every graph op becomes a DRAM
buffer (`loop.alloc`) and one `loop.nest` (or a pad nest and a compute nest) sized
for the chip preset; constants become `loop.const` (their bytes shared, not
copied), reshapes, flattens, unsqueezes and dropouts `loop.view` (free). Each op is
lowered by its kernel, named in the op registry (`targets/onnx_ops.py`): the
kernel's `plan` tiles it for the chip (a refusal is this pass's error) and its
`emit` builds the nests (`kernels/graph_ops.py`). A concat is one copy nest per
operand, and then producers are made to write into their slice instead where the
layout allows (`kernels/concat_placement.py`), so the nine light-zoo models copy
nothing.

    %y = graph.relu %x {tidal.origin = "r1"} : (tensor<8x512xf32>) -> tensor<8x512xf32>
  becomes
    %y = loop.alloc : memref<8x512xf32>
    loop.nest "r1" domain [...] order [...] { ... loop.act "relu" ... }
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from math import prod

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import FunctionType, MemRefType, ModuleOp, TensorType, i8
from xdsl.ir import Operation
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
)
from xdsl.rewriter import Rewriter
from xdsl.utils.exceptions import PassFailedException

from tidal.dialects.graph import OnnxValueType
from tidal.passes.conversion.kernels.base import first_producer, options_for, shape_of
from tidal.passes.conversion.kernels.concat_placement import ConcatCopy, place_concat_operands
from tidal.passes.conversion.kernels.eltwise import beside_channel_nests
from tidal.passes.conversion.kernels.graph_ops import origin_of
from tidal.passes.conversion.kernels.nest_builder import FREE_MAX
from tidal.passes.conversion.kernels.plan import DEFAULT_OPTIONS, KernelOptions, Refusal
from tidal.passes.utils.chip import ChipPass
from tidal.passes.utils.expect import expect_constants_fit, expect_level, expect_tensors_fit
from tidal.passes.utils.quiet import quiet_diagnostics
from tidal.sim.config import ChipConfig, get_chip
from tidal.targets.onnx_ops import graph_entry


PER_OP = frozenset({"affine_newest", "eltwise_beside"})
"""KernelOptions fields that graph-to-loop sets for each op, not pass options."""


def newest_channels(op: Operation, shared: bool = False) -> int:
    """The channels of the last operand of the channel concatenation that graph op
    `op` (a channel_affine) reads, when no other op reads that concatenation, or
    (`shared`) when its planes are past FREE_MAX elements; 0 otherwise
    (`KernelOptions.affine_newest`, before anything is lowered).

    A dense block's running concatenation is read by its layer's batch norm and by
    the next concatenation. Split there, the norm of the older channels runs while
    the layer before computes its 3x3 conv, and the next 1x1 conv's first input
    tiles are ready when that conv ends. That pays on DenseNet-121's 56x56 planes
    (3,136-element ACTs; 393,122 -> 387,145 cycles) and costs on smaller ones,
    where each ACT is short: the list schedules then pull the older channels of
    layers several ahead onto ACT and PE, whose in-order streams wait on them
    (split on 28x28 as well, 393,358 cycles; on every plane, 400,462)."""
    from tidal.dialects import graph

    concat = op.operands[0].owner if op.operands else None
    if not isinstance(op, graph.ChannelAffineOp) or not isinstance(concat, graph.ConcatOp):
        return 0
    if concat.axis_val != 1 or len(concat.operands) < 2:
        return 0
    if len(list(concat.result.uses)) != 1 and not (
        shared and prod(shape_of(concat.result)[2:]) > FREE_MAX
    ):
        return 0
    return shape_of(concat.operands[-1])[1]


@dataclass
class LowerGraphOp(RewritePattern):
    """Any graph op with a kernel in the op registry: plan it for the chip, then
    replace it by what the kernel emits from the plan. Concat copies are kept in
    `copies` for `place_concat_operands`."""

    chip: ChipConfig
    options: KernelOptions = DEFAULT_OPTIONS
    copies: list[ConcatCopy] = field(default_factory=list[ConcatCopy])
    producers: dict[Operation, Operation | None] = field(default_factory=dict[Operation, "Operation | None"])
    """Each graph op's first operand's writer as it was before lowering began (by
    the time an op is lowered its producers are loop ops)."""
    newest: dict[Operation, int] = field(default_factory=dict[Operation, int])
    """`newest_channels` of each op that has them, before lowering began."""
    beside: set[Operation] = field(default_factory=set[Operation])
    """The element-wise ops `beside_channel_nests`, found before lowering began (by
    the time an op is lowered, the graph ops before it are loop ops)."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        entry = graph_entry(op)
        if entry is None or entry.kernel is None:
            return
        options = options_for(op, self.producers.get(op), self.options, self.producers.get)
        if self.options.affine_split and op in self.newest:
            options = replace(options, affine_newest=self.newest[op])
        if self.options.eltwise_channels and op in self.beside:
            options = replace(options, eltwise_beside=True)
        planned = entry.kernel.plan(op, self.chip, options)
        if isinstance(planned, Refusal):
            raise PassFailedException(f"graph-to-loop: {planned.reason}")
        lowered = entry.kernel.emit(planned)
        self.copies += lowered.copies
        rewriter.replace(op, lowered.ops, [lowered.result])


def _reject_host_ops(fn: func.FuncOp) -> None:
    """graph-partition placed these on the host: the accelerator program cannot
    run them (tidal-run's host path must split the function first)."""
    for op in fn.body.block.ops:
        placement = op.attributes.get("tidal.placement")
        if placement is None or placement.data == "accel":  # type: ignore[union-attr]
            continue
        reason = op.attributes.get("tidal.reason")
        why = f": {reason.data}" if reason is not None else ""  # type: ignore[union-attr]
        tier = {"host": "host", "framework": "framework tier (onnxruntime)"}.get(
            placement.data, placement.data  # type: ignore[union-attr]
        )
        raise PassFailedException(
            f"graph-to-loop: '{origin_of(op)}' ({op.name}) is placed on the "
            f"{tier}, which an accelerator binary cannot run{why}"
        )


def _retype_signature(fn: func.FuncOp) -> None:
    for arg in fn.body.block.args:
        if isinstance(arg.type, OnnxValueType):
            # (a string tensor, a sequence: only framework-tier ops read one, so the
            # accelerator's function takes it unused or returns it as it is, and
            # tidal-run returns the value it fed; a byte stands for it, which
            # loop-to-accel leaves out of the program's f32 io table)
            Rewriter.replace_value_with_new_type(arg, MemRefType(i8, [1]))
        elif isinstance(arg.type, TensorType):
            # (an input of another element type keeps it: nothing here reads one,
            # and loop-to-accel leaves it out of the program's f32 io table)
            elem = arg.type.get_element_type()
            Rewriter.replace_value_with_new_type(arg, MemRefType(elem, arg.type.get_shape()))


def _fix_function_type(fn: func.FuncOp) -> None:
    ret = fn.body.block.last_op
    assert isinstance(ret, func.ReturnOp)
    fn.function_type = FunctionType.from_lists(
        [a.type for a in fn.body.block.args], [v.type for v in ret.arguments]
    )


@dataclass(frozen=True)
class GraphToLoopPass(ChipPass):
    """Lower graph ops to loop nests sized for the chip preset `chip`. The other
    options switch the kernels' optimisations (`kernels.plan.KernelOptions`):
    `graph-to-loop{chip=default stationary=false}`."""

    name = "graph-to-loop"

    eltwise_partitions: bool = True
    eltwise_channels: bool = True
    stationary: bool = True
    pack_taps: bool = True
    depthwise: bool = True
    depthwise_inplace: bool = True
    depthwise_pe_split: bool = True
    depthwise_split_context: bool = True
    gemm_small_m: bool = True
    gemm_resident: bool = True
    pool_halo: bool = True
    dma_merge: bool = True
    ragged_tiles: bool = True
    pool_ragged: bool = True
    pool_separable: bool = True
    pool_bands: bool = True
    conv_bands: bool = True
    read_addend: bool = True
    im2col_chunks: bool = True
    row_taps: bool = True
    conv_inplace: bool = True
    pool_inplace: bool = True
    depthwise_fma: bool = True
    depthwise_pool_first: bool = True
    depthwise_bands: bool = True
    depthwise_pe_rows: bool = True
    pool_pipeline: bool = True
    pool_bands_pipeline: bool = True
    avgpool_inplace: bool = True
    addend_tiles: bool = True
    im2col_clip: bool = True
    conv_band_input: bool = True
    row_pack: bool = True
    halo_chunks: bool = True
    conv_reader_bands: bool = True
    affine_pieces: bool = True
    affine_split: bool = True
    affine_split_shared: bool = True
    ragged_rows: bool = True
    pool_pieces: bool = True
    softmax_spread: bool = True
    lrn_pieces: bool = True
    im2col_reuse: bool = True

    def kernel_options(self) -> KernelOptions:
        """The pass's options of the same names as KernelOptions' fields (the
        per-op facts, PER_OP, left at their defaults)."""
        return KernelOptions(**{f.name: getattr(self, f.name) for f in fields(KernelOptions) if f.name not in PER_OP})

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        expect_level(op, self.name, "graph")
        chip = get_chip(self.chip)
        expect_constants_fit(op, self.name, chip.dram_bytes, f"chip '{chip.name}'")
        funcs = [f for f in op.walk() if isinstance(f, func.FuncOp)]
        for fn in funcs:
            _reject_host_ops(fn)
        expect_tensors_fit(op, self.name, chip.dram_bytes, f"chip '{chip.name}'")
        for fn in funcs:
            _retype_signature(fn)
        lower = LowerGraphOp(chip, self.kernel_options())
        for fn in funcs:
            graph_ops = [
                o for o in fn.walk() if o.dialect_name() == "graph" and o.operands
            ]
            for graph_op in graph_ops:
                lower.producers[graph_op] = first_producer(graph_op)
                if newest := newest_channels(graph_op, self.affine_split_shared):
                    lower.newest[graph_op] = newest
            lower.beside |= beside_channel_nests(graph_ops)
        with quiet_diagnostics():
            PatternRewriteWalker(
                GreedyRewritePatternApplier([lower]), apply_recursively=False
            ).rewrite_module(op)
        place_concat_operands(lower.copies)
        for fn in funcs:
            leftover = [o for o in fn.walk() if o.dialect_name() == "graph"]
            if leftover:
                raise PassFailedException(
                    f"graph-to-loop: no lowering for '{leftover[0].name}' "
                    f"('{origin_of(leftover[0])}')"
                )
            _fix_function_type(fn)

"""No compute nest uses fewer partitions than its tensors could fill, unless its
plan says why (issue 11: a tiling defect ran ResNet-50's Relu and Sum on 2-4 of 128
partitions). For every op of the nine light zoo models, each kernel's plan on the
default chip is held to the largest number of partitions (a divisor of at most 128,
tiles being uniform) of a dim that could go there:

- conv2d: input or output channels per group (depthwise: the channels);
- max/average pooling, global average pooling, LRN, channel_affine: the channels;
- element-wise ops: any dim of the result; softmax: any dim but its axis;
- gemm/matmul: M, N or K.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tidal.dialects import graph
from tidal.passes.conversion.kernels.nest_builder import largest_divisor
from tidal.passes.conversion.kernels.plan import TilePlan
from tidal.passes.graph.partition import GraphPartitionPass
from tidal.passes.pipeline import lowering_passes, run_passes, split_after
from tidal.sim.config import get_chip
from tidal.targets.onnx_import import import_onnx
from tidal.targets.onnx_ops import graph_entry

sys.path.insert(0, str(Path(__file__).resolve().parents[4] / "examples"))
import zoo  # noqa: E402

CHIP = get_chip("default")


def _shape(value) -> tuple[int, ...]:
    return tuple(value.type.get_shape())


def _fillable(op) -> int | None:
    """The most partitions the op's tensors could fill, or None for ops that do not
    compute on an engine (views, constants, copies)."""
    parts = CHIP.sbuf_partitions
    best = lambda *dims: max(largest_divisor(d, parts) for d in dims)  # noqa: E731
    if isinstance(op, graph.Conv2dOp):
        cout, cg_in = _shape(op.weight)[:2]
        g = op.group_val
        if cg_in == 1 and g > 1:
            return best(_shape(op.input)[1])
        return best(cg_in, cout // g)
    if isinstance(op, graph.MaxPoolOp | graph.AvgPoolOp | graph.GlobalAvgPoolOp | graph.LRNOp):
        return best(_shape(op.input)[1])
    if isinstance(op, graph.SoftmaxOp):  # rows (the axis is reduced along a partition)
        shape, axis = _shape(op.input), op.axis_val
        rows = [d for i, d in enumerate(shape) if i != axis] or [1]
        return best(*rows)
    if isinstance(op, graph.ChannelAffineOp):
        return best(_shape(op.input)[1])
    if isinstance(op, graph.ReluOp | graph.AddOp | graph.MulOp | graph.SumOp):
        if isinstance(op, graph.SumOp) and len(op.inputs) == 1:
            return None
        return best(*_shape(op.results[0]))
    if isinstance(op, graph.GemmOp | graph.MatMulOp):
        a = op.a if isinstance(op, graph.GemmOp) else op.lhs
        return best(*_shape(op.results[0]), *_shape(a))
    return None


@pytest.mark.parametrize("name", zoo.MODELS)
def test_every_compute_nest_fills_the_partitions_or_says_why(name):
    module = import_onnx(zoo.model_path(name))
    # the graph the kernels see in the pipeline: BatchNorm folded, epilogues and
    # per-channel chains merged
    passes = lowering_passes("default")
    graph_level, _ = split_after(passes, GraphPartitionPass)
    run_passes(graph_level, module)
    narrow = []
    for op in module.walk():
        want = _fillable(op)
        entry = graph_entry(op)
        if want is None or entry is None or entry.kernel is None:
            continue
        planned = entry.kernel.plan(op, CHIP)
        assert isinstance(planned, TilePlan), planned
        main = max(planned.nests, key=lambda n: n.partitions)
        if main.partitions < want and not main.narrow:
            origin = op.attributes.get("tidal.origin")
            where = origin.data if origin else "?"
            narrow.append(f"{where} ({op.name}): {main.partitions} < {want}")
    assert not narrow, f"{len(narrow)} nests use fewer partitions than they could: {narrow[:8]}"

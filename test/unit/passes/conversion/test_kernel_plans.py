"""Kernels plan before they build: `plan(op, chip)` gives the tiling (or why the chip
cannot hold the op) without IR, and `emit` builds nests that use exactly those tiles."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from tidal.dialects import graph
from tidal.dialects.loop import AllocTileOp, NestOp
from tidal.passes.conversion.kernels import gemm, norm, softmax
from tidal.passes.conversion.kernels.conv import ConvTiles, PadTiles, StationaryTiles
from tidal.passes.conversion.kernels.plan import KernelOptions, Refusal, TilePlan
from tidal.sim.config import get_chip
from tidal.targets.onnx_import import import_onnx
from tidal.targets.onnx_ops import graph_entry
from xdsl.ir import Operation

SMALL = get_chip("small")
DEFAULT = get_chip("default")


def _one_op(node: onnx.NodeProto, inputs: dict, output: list[int], weights=None) -> Operation:
    """The graph op that a one-node model imports into."""
    model = helper.make_model(
        helper.make_graph(
            [node],
            "t",
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs.items()],
            [helper.make_tensor_value_info(node.output[0], TensorProto.FLOAT, output)],
            [numpy_helper.from_array(a, n) for n, a in (weights or {}).items()],
        ),
        opset_imports=[helper.make_opsetid("", 13)],
    )
    ops = [op for op in import_onnx(model).walk() if isinstance(op, graph.GraphOp)]
    return ops[-1]


def _plan(op: Operation, chip) -> TilePlan | Refusal:
    entry = graph_entry(op)
    assert entry is not None and entry.kernel is not None
    return entry.kernel.plan(op, chip)


def test_a_softmax_row_too_long_for_the_small_chip_is_refused_with_the_sizes():
    op = _one_op(helper.make_node("Softmax", ["x"], ["y"], name="wide", axis=1), {"x": [2, 20000]}, [2, 20000])
    refused = _plan(op, SMALL)
    assert refused == Refusal("'wide' needs 80256 bytes per SBUF partition, chip 'small' has 65536")
    planned = _plan(op, DEFAULT)
    assert isinstance(planned, TilePlan)
    (tiles,) = planned.nests
    assert isinstance(tiles, softmax.SoftmaxTiles)
    assert (tiles.outer, tiles.length, tiles.inner, tiles.tr) == (2, 20000, 1, 2)
    # exp(x - max) into a second row, so the loaded row is only read
    assert tiles.second_row and tiles.sbuf_bytes == 160256 <= DEFAULT.sbuf_partition_bytes


def test_a_softmax_whose_two_rows_do_not_fit_runs_in_place():
    """Two rows of 10,000 (80 KB) do not fit the small chip's 64 KB partitions, one
    does: exp(x - max) then overwrites the loaded row. Its nest allocates one row."""
    op = _one_op(helper.make_node("Softmax", ["x"], ["y"], name="sm", axis=1), {"x": [2, 10000]}, [2, 10000])
    planned = _plan(op, SMALL)
    assert isinstance(planned, TilePlan)
    (tiles,) = planned.nests
    assert isinstance(tiles, softmax.SoftmaxTiles)
    assert not tiles.second_row and tiles.sbuf_bytes == 40256
    nest = softmax.softmax(tiles, op.operands[0], op.results[0])
    rows = [t for t in nest.walk() if isinstance(t, AllocTileOp) and t.result.type.elems.data == 10000]
    assert len(rows) == 1
    (wide,) = [t for t in _plan(op, DEFAULT).nests]  # type: ignore[union-attr]
    assert wide.second_row and wide.sbuf_bytes == 80256


def test_refusals_come_in_the_order_the_nests_are_emitted():
    """A padded conv whose border tile does not fit is refused for its pad nest,
    before the conv's own PSUM limit is looked at."""
    w = np.ones((4, 1, 3, 3), np.float32)
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="c", pads=[1, 1, 1, 1])
    op = _one_op(node, {"x": [1, 1, 4, 20000]}, [1, 4, 4, 20000], {"w": w})
    assert _plan(op, SMALL) == Refusal("'c.pad' needs 80064 bytes per SBUF partition, chip 'small' has 65536")
    assert _plan(op, DEFAULT) == Refusal(
        "'c': output rows of 20000 pixels exceed one PSUM bank (512 fp32) on chip 'default'"
    )


def test_lrn_with_a_non_positive_bias_is_refused_not_raised():
    op = _one_op(
        helper.make_node("LRN", ["x"], ["y"], name="l", size=3, bias=0.0), {"x": [1, 4, 5, 5]}, [1, 4, 5, 5]
    )
    assert _plan(op, DEFAULT) == Refusal("'l': LRN bias 0.0 must be positive")


def test_conv_plan_tiles_on_the_small_chip():
    """48 input channels and 40 output channels on a 32x32 PE array: 32 + 16 input
    channels per step (`ragged_tiles`; 24 + 24 without) and 20 output; all 7 output rows of 9 pixels (63 fp32) in one PSUM bank. The stationary
    plan keeps both 9x11 padded planes of 24 channels and the weights of both
    output tiles for all 18 (channel tile, tap) steps (2 x 18 x 20 fp32) and both
    tiles' outputs (2 x 63 fp32) in SBUF, and pads there (no pad nest); with uniform
    tiles it reads the unpadded input in place instead (`conv_inplace`: a partial
    tile keeps the padded planes); with `stationary` and `pack_taps` off, the input
    is padded in DRAM first."""
    w = np.ones((40, 48, 3, 3), np.float32)
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="c", pads=[1, 1, 1, 1])
    op = _one_op(node, {"x": [1, 48, 7, 9]}, [1, 40, 7, 9], {"w": w})
    planned = _plan(op, SMALL)
    assert isinstance(planned, TilePlan)
    (conv,) = planned.nests
    assert conv == StationaryTiles(
        "c", 32, 832 + 2880 + 512 + 64, 63 * 4,
        rb=7, nb=1, rows=7, hband=9, tci=32, tco=20, halo=True, pack=0, addend=False,
        all_weights=True, all_outputs=True, rem=16,
    )
    entry_plan = graph_entry(op)
    assert entry_plan is not None and entry_plan.kernel is not None
    uniform = entry_plan.kernel.plan(op, SMALL, KernelOptions(ragged_tiles=False))
    assert isinstance(uniform, TilePlan)
    assert uniform.nests[0] == StationaryTiles(
        "c", 24, 832 + 2880 + 512 + 64, 63 * 4,
        rb=7, nb=1, rows=7, hband=9, tci=24, tco=20, halo=True, pack=0, addend=False,
        all_weights=True, all_outputs=True, inplace=True,
    )
    entry = graph_entry(op)
    assert entry is not None and entry.kernel is not None
    old = entry.kernel.plan(op, SMALL, KernelOptions(stationary=False, pack_taps=False))
    assert isinstance(old, TilePlan)
    pad, conv = old.nests
    assert pad == PadTiles("c.pad", 24, 64, tc=24, zlen=11)
    assert conv == ConvTiles("c", 24, 768 + 448 + 256 + 64, 63 * 4, rb=7, hb=9, tci=24, tco=20)


def test_matmul_plan_tiles_and_the_nest_emitted_from_it():
    """Weights stationary (gemm_small_m, dma_merge off): K = 3000 in steps of 30 rows, N = 70
    in 14 PSUM partitions, M = 8 moving."""
    w = np.ones((3000, 70), np.float32)
    op = _one_op(helper.make_node("MatMul", ["x", "w"], ["y"], name="mm"), {"x": [8, 3000]}, [8, 70], {"w": w})
    entry = graph_entry(op)
    assert entry is not None and entry.kernel is not None
    planned = entry.kernel.plan(op, SMALL, KernelOptions(gemm_small_m=False, dma_merge=False))
    assert isinstance(planned, TilePlan)
    (tiles,) = planned.nests
    assert tiles == gemm.GemmTiles("mm", 30, 5 * 64, 8 * 4, m=8, n=70, k=3000, tm=8, tn=14, tk=30)
    lowered = entry.kernel.emit(planned)
    (nest,) = [o for o in lowered.ops if isinstance(o, NestOp)]
    partitions = [t.result.type.partitions.data for t in nest.walk() if isinstance(t, AllocTileOp)]
    assert max(partitions) == tiles.partitions
    assert list(nest.domain_val) == [70 // 14, 3000 // 30]  # n and k (m is one tile)


def test_views_plan_no_tiles():
    op = _one_op(helper.make_node("Flatten", ["x"], ["y"], name="f"), {"x": [2, 3, 4]}, [2, 12])
    assert _plan(op, SMALL) == TilePlan(op, SMALL, ())


def test_global_avgpool_plan():
    op = _one_op(helper.make_node("GlobalAveragePool", ["x"], ["y"], name="g"), {"x": [1, 64, 70, 70]}, [1, 64, 1, 1])
    entry = graph_entry(op)
    assert entry is not None and entry.kernel is not None
    planned = entry.kernel.plan(op, SMALL, KernelOptions(dma_merge=False))  # test_pool_merge: on
    assert isinstance(planned, TilePlan)
    (tiles,) = planned.nests
    assert isinstance(tiles, norm.GlobalPoolTiles)
    # a 4900-pixel plane in 4 chunks of 1225; 32 of the 64 rows per step
    assert (tiles.rows, tiles.plane, tiles.tr, tiles.chunk, tiles.chunks) == (64, 4900, 32, 1225, 4)


def test_ragged_tiles_only_where_the_writer_tiles_alike():
    """options_for keeps ragged_tiles for a channel_affine of a concatenation, a
    conv of a channel_affine (DenseNet) and a conv of a concatenation whose pieces
    do not start on its uniform tiles (128 + 32 channels: tiles of 80), and drops it
    for a conv of an aligned concatenation (80 + 80), of another conv or of an input,
    whose tiles are uniform."""
    from tidal.passes.conversion.kernels.base import options_for
    from tidal.targets.onnx_import import import_onnx

    w = np.ones((8, 160, 1, 1), np.float32)
    nodes = [
        helper.make_node("Concat", ["a", "b"], ["c"], axis=1),
        helper.make_node("Mul", ["c", "s"], ["m"]),
        helper.make_node("Add", ["m", "t"], ["n"]),
        helper.make_node("Conv", ["n", "w"], ["y"]),
        helper.make_node("Conv", ["c", "w"], ["z"]),
        helper.make_node("Concat", ["d", "e"], ["f"], axis=1),
        helper.make_node("Conv", ["f", "w"], ["v"]),
    ]
    model = helper.make_model(
        helper.make_graph(
            nodes, "t",
            [helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 128, 2, 2]),
             helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 32, 2, 2]),
             helper.make_tensor_value_info("d", TensorProto.FLOAT, [1, 80, 2, 2]),
             helper.make_tensor_value_info("e", TensorProto.FLOAT, [1, 80, 2, 2])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 2, 2]),
             helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 8, 2, 2]),
             helper.make_tensor_value_info("v", TensorProto.FLOAT, [1, 8, 2, 2])],
            [numpy_helper.from_array(w, "w"),
             numpy_helper.from_array(np.ones((160, 1, 1), np.float32), "s"),
             numpy_helper.from_array(np.zeros((160, 1, 1), np.float32), "t")],
        ),
        opset_imports=[helper.make_opsetid("", 13)],
    )
    from tidal.passes.graph.canonicalize import GraphCanonicalizePass
    from tidal.passes.graph.fuse_affine import GraphFuseAffinePass
    from xdsl.context import Context

    module = import_onnx(model)
    for p in (GraphCanonicalizePass(), GraphFuseAffinePass()):
        p.apply(Context(), module)
    ops = {op.name: op for op in module.walk() if op.name in ("graph.channel_affine",)}
    convs = [op for op in module.walk() if op.name == "graph.conv2d"]
    affine = ops["graph.channel_affine"]
    on = KernelOptions()
    assert options_for(affine, affine.operands[0].owner, on).ragged_tiles
    of_affine, of_concat, of_aligned = convs
    assert of_affine.operands[0].owner.name == "graph.channel_affine"
    assert options_for(of_affine, of_affine.operands[0].owner, on).ragged_tiles
    assert options_for(of_concat, of_concat.operands[0].owner, on).ragged_tiles
    assert not options_for(of_aligned, of_aligned.operands[0].owner, on).ragged_tiles
    assert not options_for(affine, affine.operands[0].owner, KernelOptions(ragged_tiles=False)).ragged_tiles

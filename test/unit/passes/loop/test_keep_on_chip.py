"""loop-keep-on-chip: which DRAM accesses an on-chip layout can address, and that a
model whose intermediates move into SBUF computes the same at every level."""

import importlib.util
from pathlib import Path

import numpy as np
from xdsl.context import Context
from xdsl.dialects import func

from tidal.dialects import loop
from tidal.dialects.accel import AccessAttr
from tidal.dialects.affine_expr import Aff
from tidal.passes.conversion.graph_to_loop import GraphToLoopPass
from tidal.passes.graph.canonicalize import GraphCanonicalizePass
from tidal.passes.graph.partition import GraphPartitionPass
from tidal.passes.interpreters.loop import eval_loop
from tidal.passes.interpreters.numerics import eval_graph, random_inputs
from tidal.passes.loop.keep_on_chip import Layout, keep_on_chip
from tidal.sim.config import get_chip
from tidal.targets.onnx_import import import_onnx

_spec = importlib.util.spec_from_file_location(
    "tidal_example_models", Path(__file__).resolve().parents[4] / "examples" / "models.py"
)
models = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(models)

# 256 rows of 64 elements (e.g. 256 channels of 8x8) on 128 partitions: 2 groups.
LAYOUT = Layout(partitions=128, minor=64, groups=2)


def dram(offset: int | Aff, dims: list[tuple[int, int]]) -> AccessAttr:
    return AccessAttr.get("dram", 0, offset, dims)


def test_rows_on_partitions_and_groups_as_free_steps():
    # channels 128..255, all 64 pixels: group 1 of every partition
    got = LAYOUT.map(dram(128 * 64 * 4, [(64, 128), (1, 64)]), ())
    assert got == AccessAttr.get("sbuf", 0, 64 * 4, [(1, 128), (1, 64)])
    # a loop over the two groups (a step of 128 rows) steps the free offset
    got = LAYOUT.map(dram(Aff(0, (128 * 64 * 4,)), [(64, 128), (1, 64)]), (2,))
    assert got == AccessAttr.get("sbuf", 0, Aff(0, (256,)), [(1, 128), (1, 64)])


def test_a_loop_over_row_blocks_steps_the_partition_start():
    # 4 steps of 32 channels, a band of 16 pixels at pixel 8
    ap = dram(Aff(8 * 4, (32 * 64 * 4,)), [(64, 32), (1, 16)])
    got = LAYOUT.map(ap, (4,))
    assert got == AccessAttr.get("sbuf", Aff(0, (32,)), 32, [(1, 32), (1, 16)])


def test_accesses_that_cross_a_row_or_a_partition_do_not_map():
    assert LAYOUT.map(dram(0, [(32, 128), (1, 32)]), ()) is None  # half rows per partition
    assert LAYOUT.map(dram(60 * 4, [(64, 128), (1, 8)]), ()) is None  # past the row's end
    assert LAYOUT.map(dram(Aff(0, (32 * 64 * 4,)), [(64, 32), (1, 64)]), (5,)) is None
    assert LAYOUT.map(dram(2, [(64, 128), (1, 64)]), ()) is None  # not element-aligned


def test_a_copy_that_crosses_into_the_next_group_splits_there_once():
    # channels 112..135 (24 rows): 16 on partitions 112..127 of group 0, then 8 on
    # partitions 0..7 of group 1
    pieces = LAYOUT.split(dram(112 * 64 * 4, [(64, 24), (1, 64)]), ())
    assert pieces == [
        (0, 16, AccessAttr.get("sbuf", 112, 0, [(1, 16), (1, 64)])),
        (16, 8, AccessAttr.get("sbuf", 0, 64 * 4, [(1, 8), (1, 64)])),
    ]
    # a copy that maps whole is not split
    assert LAYOUT.split(dram(0, [(64, 128), (1, 64)]), ()) is None
    # three pieces (rows on 2 partitions, 5 rows from row 1) are too many
    assert Layout(partitions=2, minor=64, groups=4).split(dram(64 * 4, [(64, 5), (1, 64)]), ()) is None
    # a piece that would cross a row does not map either
    assert LAYOUT.split(dram(112 * 64 * 4 + 8, [(64, 24), (1, 64)]), ()) is None


def _lowered_to_loop(chip: str):
    module = import_onnx(models.make_cnn())
    for p in (GraphCanonicalizePass(), GraphPartitionPass(chip=chip), GraphToLoopPass(chip=chip)):
        p.apply(Context(), module)
    return module


def test_the_cnn_keeps_intermediates_on_chip_and_computes_the_same():
    module = _lowered_to_loop("small")
    inputs = random_inputs(import_onnx(models.make_cnn()))
    before = eval_loop(module, inputs)
    fn = next(op for op in module.body.block.ops if isinstance(op, func.FuncOp))
    allocs = sum(isinstance(op, loop.AllocOp) for op in fn.body.block.ops)
    kept = keep_on_chip(fn, get_chip("small"))
    assert kept, "no intermediate of the CNN stayed on chip"
    assert sum(isinstance(op, loop.AllocOp) for op in fn.body.block.ops) == allocs - len(kept)
    module.verify()
    after = eval_loop(module, inputs)
    ref = eval_graph(import_onnx(models.make_cnn()), inputs)
    for name in ref:
        np.testing.assert_array_equal(after[name], before[name])
        np.testing.assert_allclose(after[name], ref[name], rtol=1e-4, atol=1e-5)


def test_channel_tiles_of_96_keep_192_channels_on_96_partitions():
    """A kernel tiles 192 channels as two tiles of 96 (a loop steps 96 rows): on 128
    partitions the second tile would wrap; on 96 partitions it is the next group."""
    ap = dram(Aff(0, (96 * 729 * 4,)), [(729, 96), (1, 729)])
    assert Layout(128, 729, 2).map(ap, (2,)) is None
    assert Layout(96, 729, 2).map(ap, (2,)) == AccessAttr.get(
        "sbuf", 0, Aff(0, (729 * 4,)), [(1, 96), (1, 729)]
    )


def test_a_tensor_concatenated_with_itself_keeps_both_halves():
    """Concat(x, x): the second half is a copy within the kept buffer, whose source
    and destination both map into SBUF (once each: a regression where the copy's
    two slots were mapped twice, the destination landing on the source; found by
    bench/difftest.py, seed 12 graph 57 on the default chip)."""
    from harness import onnx_model
    from onnx import helper

    def make():
        nodes = [
            helper.make_node("GlobalAveragePool", ["x"], ["g"]),
            helper.make_node("Concat", ["g", "g"], ["c"], axis=0),
            helper.make_node("Add", ["c", "k"], ["y"]),
        ]
        k = np.array([[-0.1]], dtype=np.float32)
        return onnx_model(nodes, {"x": [1, 14, 3, 21]}, {"y": [2, 14, 1, 1]}, {"k": k})

    for chip in ("small", "default"):
        module = import_onnx(make())
        for p in (GraphCanonicalizePass(), GraphPartitionPass(chip=chip), GraphToLoopPass(chip=chip)):
            p.apply(Context(), module)
        inputs = random_inputs(import_onnx(make()))
        fn = next(op for op in module.body.block.ops if isinstance(op, func.FuncOp))
        assert keep_on_chip(fn, get_chip(chip)), "the concat buffer stayed in DRAM"
        module.verify()
        got = eval_loop(module, inputs)["y"]
        want = eval_graph(import_onnx(make()), inputs)["y"]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def _dense_block():
    """A conv, then two DenseNet layers on its 32 channels with growth 16 (BatchNorm,
    relu, 1x1 conv, concat: 48 then 64 channels) and a third layer's BatchNorm, relu
    and conv. On the small chip's 32 partitions 48 is not a multiple of 32."""
    from harness import onnx_model
    from onnx import helper

    rng = np.random.default_rng(5)
    weights: dict[str, np.ndarray] = {}
    weights["w_in"] = (0.2 * rng.standard_normal((32, 24, 1, 1))).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w_in"], ["c0"])]
    channels, prev = 32, "c0"
    for i in range(3):
        for p, init in (("s", 1.0), ("b", 0.0), ("m", 0.0), ("v", 1.0)):
            weights[f"{p}{i}"] = (init + 0.1 * rng.standard_normal(channels)).astype(np.float32)
        weights[f"v{i}"] = np.abs(weights[f"v{i}"]) + 0.5
        weights[f"w{i}"] = (0.2 * rng.standard_normal((16, channels, 1, 1))).astype(np.float32)
        nodes += [
            helper.make_node("BatchNormalization", [prev, f"s{i}", f"b{i}", f"m{i}", f"v{i}"], [f"n{i}"]),
            helper.make_node("Relu", [f"n{i}"], [f"r{i}"]),
            helper.make_node("Conv", [f"r{i}", f"w{i}"], [f"g{i}"]),
        ]
        if i < 2:
            nodes.append(helper.make_node("Concat", [prev, f"g{i}"], [f"c{i + 1}"], axis=1))
        channels, prev = channels + 16, f"c{i + 1}"
    return onnx_model(nodes, {"x": [1, 24, 6, 6]}, {"g2": [1, 16, 6, 6]}, weights)


def test_ragged_tiles_keep_a_dense_block_on_chip():
    """With ragged_tiles the concatenations and the BatchNorm results stay in SBUF:
    the 48-channel ones are tiled 32 + 16 by every nest, channel c on partition
    c % 32. Without, the BatchNorm and the conv read 48 channels in tiles of 24,
    which the concatenation's writers (32 channels, then 16 at 32) do not fit: they
    stay in DRAM. Both lower to programs that agree with the graph."""
    from tidal.passes.graph.fuse_affine import GraphFuseAffinePass
    from tidal.passes.interpreters.accel import eval_binary
    from tidal.passes.pipeline import lowering_passes, run_passes

    left = {}
    for ragged in (True, False):
        module = import_onnx(_dense_block())
        for p in (
            GraphCanonicalizePass(),
            GraphFuseAffinePass(),
            GraphPartitionPass(chip="small"),
            GraphToLoopPass(chip="small", ragged_tiles=ragged),
        ):
            p.apply(Context(), module)
        fn = next(op for op in module.body.block.ops if isinstance(op, func.FuncOp))
        keep_on_chip(fn, get_chip("small"))
        left[ragged] = sorted(
            op.result.type.get_shape()[1] for op in fn.body.block.ops if isinstance(op, loop.AllocOp)
        )
    assert left[True] == [16]  # the returned result only
    assert left[False] == [16, 64]  # the concatenations share one buffer (placement)
    inputs = random_inputs(import_onnx(_dense_block()))
    want = eval_graph(import_onnx(_dense_block()), inputs)["g2"]
    for disabled in ((), ("ragged-tiles",)):
        module = import_onnx(_dense_block())
        run_passes(lowering_passes("small", disabled), module)
        np.testing.assert_allclose(eval_binary(module, inputs)["g2"], want, rtol=1e-4, atol=1e-5)

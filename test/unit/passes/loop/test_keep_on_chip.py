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


def _lowered_to_loop(chip: str, model=None):
    module = import_onnx(models.make_cnn() if model is None else model)
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


def test_past_its_scan_budget_the_pass_keeps_no_more_buffers(monkeypatch):
    """The fit check's work is bounded (SCAN_BUDGET): once it is spent, the later
    buffers stay in DRAM and the program computes the same."""
    from onnx import TensorProto, helper

    from tidal.passes.loop import keep_on_chip as koc

    ops = ["Relu", "Sigmoid", "Relu", "Tanh", "Relu"]
    nodes = [helper.make_node(op, [f"t{k}"], [f"t{k + 1}"]) for k, op in enumerate(ops)]
    model = helper.make_model(
        helper.make_graph(
            nodes, "chain",
            [helper.make_tensor_value_info("t0", TensorProto.FLOAT, [1, 16, 8, 8])],
            [helper.make_tensor_value_info(f"t{len(ops)}", TensorProto.FLOAT, [1, 16, 8, 8])],
        ),
        opset_imports=[helper.make_opsetid("", 17)],
    )

    def kept(budget: int | None) -> tuple[int, dict, dict]:
        if budget is not None:
            monkeypatch.setattr(koc, "SCAN_BUDGET", budget)
            monkeypatch.setattr(koc, "SCAN_BUDGET_PER_TILE", 0)
        module = _lowered_to_loop("small", model)
        inputs = random_inputs(import_onnx(model))
        fn = next(op for op in module.body.block.ops if isinstance(op, func.FuncOp))
        names = keep_on_chip(fn, get_chip("small"))
        module.verify()
        return len(names), eval_loop(module, inputs), eval_graph(import_onnx(model), inputs)

    everything = kept(None)[0]
    assert everything == len(ops) - 1
    count, after, ref = kept(0)
    assert count == 1  # the first candidate's scan spends the budget
    for name in ref:
        np.testing.assert_allclose(after[name], ref[name], rtol=1e-5, atol=1e-6)


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
            # (affine_split off: it splits the last BatchNorm by the uniform tiles
            # too, whose nests then fit the concatenation's writers)
            GraphToLoopPass(chip="small", ragged_tiles=ragged, affine_split=False),
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


def _inception_concat(couts: tuple[int, ...] = (128, 192, 96, 64), conv_reader: bool = False):
    """Four 1x1 convs of a 16-channel input concatenated (by default 128 + 192 + 96
    + 64 = 480 channels, Inception 3b), then a 3x3 max pooling of stride 2, which
    reads the concatenation in tiles of its largest divisor under 128 (120). The
    192-channel conv writes its output in two tiles of 96, the second crossing
    channel 240, where the reader's second tile ends. With `conv_reader` a 1x1 conv
    reads the concatenation too, in tiles of 128 and a partial one (ragged)."""
    from harness import onnx_model
    from onnx import helper

    rng = np.random.default_rng(7)
    weights: dict[str, np.ndarray] = {}
    nodes = []
    for i, cout in enumerate(couts):
        weights[f"w{i}"] = (0.3 * rng.standard_normal((cout, 16, 1, 1))).astype(np.float32)
        nodes.append(helper.make_node("Conv", ["x", f"w{i}"], [f"c{i}"]))
    nodes.append(helper.make_node("Concat", [f"c{i}" for i in range(len(couts))], ["cat"], axis=1))
    nodes.append(
        helper.make_node("MaxPool", ["cat"], ["y"], kernel_shape=[3, 3], strides=[2, 2])
    )
    outputs = {"y": [1, sum(couts), 3, 3]}
    if conv_reader:
        weights["wz"] = (0.1 * rng.standard_normal((32, sum(couts), 1, 1))).astype(np.float32)
        nodes.append(helper.make_node("Conv", ["cat", "wz"], ["z"]))
        outputs["z"] = [1, 32, 7, 7]
    return onnx_model(nodes, {"x": [1, 16, 7, 7]}, outputs, weights)


def test_peeling_the_writer_keeps_an_inception_concatenation_and_computes_the_same():
    """The concatenation stays in DRAM unless the 192-channel conv's nest is split
    into one nest per output tile (`peel_writers`): each tile's copy then maps or
    splits on 120 partitions. The program agrees with the unpeeled one and the
    graph, bit for bit with the former."""
    from tidal.passes.loop.keep_on_chip import peel_writers

    inputs = random_inputs(import_onnx(_inception_concat()))
    ref = eval_graph(import_onnx(_inception_concat()), inputs)["y"]
    results = {}
    for peel in (False, True):
        module = import_onnx(_inception_concat())
        for p in (GraphCanonicalizePass(), GraphPartitionPass(chip="default"), GraphToLoopPass(chip="default")):
            p.apply(Context(), module)
        before = eval_loop(module, inputs)["y"]
        fn = next(op for op in module.body.block.ops if isinstance(op, func.FuncOp))
        nests = [op.origin.data for op in fn.body.block.ops if isinstance(op, loop.NestOp)]
        kept = keep_on_chip(fn, get_chip("default"), peel=peel)
        module.verify()
        after = [op.origin.data for op in fn.body.block.ops if isinstance(op, loop.NestOp)]
        shapes = [op.result.type.get_shape() for op in fn.body.block.ops if isinstance(op, loop.AllocOp)]
        if peel:
            assert len(after) == len(nests) + 1  # one conv's nest in two
            assert (1, 480, 7, 7) not in shapes, f"the concatenation stayed in DRAM ({kept})"
        else:
            assert after == nests and (1, 480, 7, 7) in shapes
        results[peel] = eval_loop(module, inputs)["y"]
        np.testing.assert_array_equal(results[peel], before)
        np.testing.assert_allclose(results[peel], ref, rtol=1e-4, atol=1e-5)
    # Nothing left to peel: a second run splits no nest.
    assert peel_writers(fn, get_chip("default"), True, True) == []


_PEEL = """
func.func @f(%x: memref<256xf32>, %w: memref<128x128xf32>, %o: memref<2x128x4xf32>) {
  loop.nest "m" domain [2] order [0] {
    %a = loop.alloc_tile : !loop.tile<psum, 128, 4>
    %s = loop.alloc_tile : !loop.tile<sbuf, 128, 128>
    %v = loop.alloc_tile : !loop.tile<sbuf, 128, 4>
    %t = loop.alloc_tile : !loop.tile<sbuf, 128, 4>
    loop.copy %w <dram 0, [[128, 128], [1, 128]]> -> %s <sbuf 0, 0, [[1, 128], [1, 128]]> : memref<128x128xf32> -> !loop.tile<sbuf, 128, 128>
    loop.for d0 {
      loop.copy %x <dram 0 + 512 * i0, [[1, 128], [128, 1]]> -> %v <sbuf 0, 0, [[1, 128], [1, 1]]> : memref<256xf32> -> !loop.tile<sbuf, 128, 4>
      loop.matmul %a <psum 0, 0, [[1, 128], [1, 1]]>, %s <sbuf 0, 0, [[1, 128], [1, 128]]>, %v <sbuf 0, 0, [[1, 128], [1, 1]]> {zero_at = ZERO : i64} : !loop.tile<psum, 128, 4>, !loop.tile<sbuf, 128, 128>, !loop.tile<sbuf, 128, 4>
      loop.copy %a <psum 0, 0, [[1, 128], [1, 1]]> -> %t <sbuf 0, 0, [[1, 128], [1, 1]]> : !loop.tile<psum, 128, 4> -> !loop.tile<sbuf, 128, 4>
      loop.copy %t <sbuf 0, 0, [[1, 128], [1, 1]]> -> %o <dram 0 + 2048 * i0, [[4, 128], [1, 1]]> : !loop.tile<sbuf, 128, 4> -> memref<2x128x4xf32>
    }
  }
  func.return
}
"""


def test_a_nest_is_peeled_only_where_its_meaning_survives():
    """A loop over d0 that is the nest's last op may be split per iteration, unless
    a matmul restarts its sums on d0 (a sum over the iterations would span the
    pieces). The pieces are the iterations in order, d0 folded into each access."""
    from xdsl.parser import Parser

    from tidal.passes.loop.keep_on_chip import _peelable, peel_nest
    from tidal.tools.common import context

    restarted = Parser(context(), _PEEL.replace("ZERO", "0")).parse_module()
    nest = next(op for op in restarted.walk() if isinstance(op, loop.NestOp))
    assert not _peelable(nest, 0)
    module = Parser(context(), _PEEL.replace("ZERO", "-1")).parse_module()
    nest = next(op for op in module.walk() if isinstance(op, loop.NestOp))
    assert _peelable(nest, 0) and not _peelable(nest, 1)
    pieces = peel_nest(nest, 0)
    module.verify()
    assert [p.domain_val for p in pieces] == [(1,), (1,)]
    stores = [
        op.dst_ap for p in pieces for op in p.walk() if isinstance(op, loop.CopyOp) and op.dst_ap.space == "dram"
    ]
    assert [s.offset for s in stores] == [Aff(0), Aff(2048)]


def test_group_pieces_keep_a_concatenation_a_pooling_reads_in_tiles_of_88():
    """Inception 4d: 112 + 288 + 64 + 64 = 528 channels, which the pooling reads in
    six tiles of 88 in one copy, the next conv in tiles of 128 and one of 16, and
    the 288-channel conv writes in three tiles of 96. No layout maps the pooling's
    copy whole or split once: only as one copy per tile of 88 (group pieces), on
    96 partitions (where the writer's loop steps by whole groups) or, once the
    writer's nest is peeled, on 128 (fewer elements per partition). Without group
    pieces the concatenation stays in DRAM. With ragged-pools the pooling reads
    it in tiles of 128 and one of 16 like the conv, and it stays on chip on 128
    partitions without group pieces (the writer's nest peeled). The programs agree bit for bit
    and with the graph."""
    couts = (112, 288, 64, 64)
    inputs = random_inputs(import_onnx(_inception_concat(couts, True)))
    ref = eval_graph(import_onnx(_inception_concat(couts, True)), inputs)
    for peel, groups, ragged in ((True, True, False), (True, False, False), (False, True, False), (True, False, True)):
        module = import_onnx(_inception_concat(couts, True))
        lower = GraphToLoopPass(chip="default", pool_ragged=ragged)
        for p in (GraphCanonicalizePass(), GraphPartitionPass(chip="default"), lower):
            p.apply(Context(), module)
        before = eval_loop(module, inputs)
        fn = next(op for op in module.body.block.ops if isinstance(op, func.FuncOp))
        nests = sum(isinstance(op, loop.NestOp) for op in fn.body.block.ops)
        keep_on_chip(fn, get_chip("default"), peel=peel, groups=groups)
        module.verify()
        shapes = [op.result.type.get_shape() for op in fn.body.block.ops if isinstance(op, loop.AllocOp)]
        assert ((1, 528, 7, 7) not in shapes) == (groups or ragged)
        kept = [op for op in fn.body.block.ops if isinstance(op, loop.AllocTileOp) and op.result.type.elems.data % 49 == 0]
        peeled = sum(isinstance(op, loop.NestOp) for op in fn.body.block.ops) - nests
        if ragged:
            assert [t.result.type.partitions.data for t in kept if t.result.type.elems.data >= 5 * 49] == [128]
            assert peeled == 2  # the 288-channel conv in three
        elif groups:
            assert [t.result.type.partitions.data for t in kept if t.result.type.elems.data >= 5 * 49] == [128 if peel else 96]
            assert peeled == (2 if peel else 0)  # the 288-channel conv in three
        after = eval_loop(module, inputs)
        for name in ("y", "z"):
            np.testing.assert_array_equal(after[name], before[name])
            np.testing.assert_allclose(after[name], ref[name], rtol=1e-4, atol=1e-5)


def test_group_pieces_need_whole_blocks_of_rows_and_enough_elements():
    """A tile's contiguous free elements reshape to the copy's counts; a copy of a
    vector's rows (one element each, AlexNet's classifier) never splits by group."""
    from tidal.passes.loop.keep_on_chip import _as_counts

    assert _as_counts([(1, 3136)], [4, 784]) == [(784, 4), (1, 784)]
    assert _as_counts([(1, 4), (10, 3)], [12]) is None
    vector = Layout(128, 1, 32, groups_split=True)
    ap = dram(0, [(1, 96), (96, 2)])
    tile = AccessAttr.get("sbuf", 0, 0, [(1, 96), (1, 2)])
    assert vector.pieces(ap, tile, ()) is None
    rows = Layout(128, 16, 2, groups_split=True)
    pieces = rows.pieces(dram(0, [(16, 96), (1536, 2), (1, 16)]), AccessAttr.get("sbuf", 0, 0, [(1, 96), (1, 32)]), ())
    assert pieces is not None and len(pieces) == 3
    assert Layout(128, 16, 2).pieces(dram(0, [(16, 96), (1536, 2), (1, 16)]), AccessAttr.get("sbuf", 0, 0, [(1, 96), (1, 32)]), ()) is None


def test_the_incremental_fit_agrees_with_whole_scans():
    """_SbufFit answers each candidate as a whole linear scan of the tiles, the
    kept buffers and the candidate would (it only starts the scan at the
    candidate and stops where it meets the scan it kept), on random lifetimes and
    sizes near SBUF's capacity, accepting and refusing."""
    from types import SimpleNamespace

    from tidal.passes.loop.allocate import LinearScan
    from tidal.passes.loop.keep_on_chip import _SbufFit

    def whole(limit, tiles, kept):
        regions = [(t[0], 0, t[1], t[2]) for t in tiles]
        regions += [(c.first, -1, c.last, c.layout.elements * 4) for c in kept]
        scan = LinearScan()
        return all(
            scan.place(f, last, b).end <= limit
            for f, _, last, b in sorted(regions, key=lambda r: (r[0], r[1]))
        )

    rng = np.random.default_rng(3)
    answers = set()
    for _ in range(40):
        limit = int(rng.integers(2_000, 8_000))
        n = int(rng.integers(5, 60))
        tiles = []
        for _ in range(int(rng.integers(0, 80))):
            first = int(rng.integers(0, n))
            tiles.append((first, first + int(rng.integers(0, 3)), int(rng.integers(64, 1_500))))
        fit, kept = _SbufFit(limit, tiles, []), []
        for first in sorted(rng.choice(n, size=min(n, 12), replace=False).tolist()):
            c = SimpleNamespace(
                first=first,
                last=first + int(rng.integers(0, n // 2 + 1)),
                layout=SimpleNamespace(elements=int(rng.integers(16, 600))),
            )
            want = whole(limit, tiles, [*kept, c])
            assert fit.add(c) == want
            if want:
                kept.append(c)
            answers.add(want)
    assert answers == {True, False}

"""conv_band_input (kernels/conv.py): a 1x1 conv reading its input in the bands of
rows its writer (a banded max pool) left side by side on the partitions: the
layout found from the writer's copies, the matmuls in the order the writer
finishes its pieces, and the nest's numbers against NumPy."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper
from tidal.dialects.loop import CopyOp, MatmulOp, MemsetOp, NestOp
from tidal.passes.conversion.graph_to_loop import GraphToLoopPass
from tidal.passes.conversion.kernels.conv import written_in_bands
from tidal.passes.graph.canonicalize import GraphCanonicalizePass
from tidal.passes.graph.fuse_epilogue import GraphFuseEpiloguePass
from tidal.passes.graph.partition import GraphPartitionPass
from tidal.passes.interpreters.loop import eval_loop
from tidal.targets.onnx_import import import_onnx
from xdsl.context import Context
from xdsl.dialects.func import FuncOp


def _model(c: int, h: int, cout: int, rng: np.random.Generator):
    w = rng.uniform(-0.5, 0.5, (cout, c, 1, 1)).astype(np.float32)
    b = rng.uniform(-0.1, 0.1, cout).astype(np.float32)
    nodes = [
        helper.make_node("MaxPool", ["x"], ["m"], name="pool", kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4),
        helper.make_node("Conv", ["m", "w", "b"], ["y"], name="conv"),
    ]
    graph = helper.make_graph(
        nodes, "t",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, h, h])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, cout, h // 2, h // 2])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), w, b


def _lower(model, fuse: bool = False, **options):
    module = import_onnx(model)
    ctx = Context()
    GraphCanonicalizePass().apply(ctx, module)
    if fuse:
        GraphFuseEpiloguePass().apply(ctx, module)
    GraphPartitionPass(chip="default").apply(ctx, module)
    GraphToLoopPass(chip="default", **options).apply(ctx, module)
    return module


def _nest(module, origin: str) -> NestOp:
    return next(op for op in module.walk() if isinstance(op, NestOp) and op.origin.data == origin)


def _reference(x, w, b):
    pool = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    h = x.shape[2] // 2
    m = np.max([pool[:, :, r : r + 2 * h : 2, s : s + 2 * h : 2] for r in range(3) for s in range(3)], axis=0)
    return np.einsum("nchw,oc->nohw", m, w[:, :, 0, 0]) + b[None, :, None, None]


def test_a_1x1_conv_reads_a_pipelined_pools_bands_in_its_order():
    """ShuffleNet's stem pool (24 channels, 112x112 -> 56x56) in 4 bands of 14 rows,
    its maxima in pieces of rows, each band's first row last (it reads the halo):
    the 1x1 conv (24 -> 112) finds the 4 bands, loads each onto partitions 24b, and
    runs one matmul of all 96 rows per band and piece, against the weights at
    columns 112b, the pieces in the pool's order (row 0 after rows 1-9), each at
    most one PSUM bank; its output equals NumPy's. Off (halo_chunks off too), the input is one copy of
    24 partitions."""
    rng = np.random.default_rng(5)
    model, w, b = _model(24, 112, 112, rng)
    module = _lower(model)
    conv = _nest(module, "conv")
    pool_load = next(op for op in _nest(module, "pool").walk() if isinstance(op, CopyOp))
    assert written_in_bands(pool_load.src) == 0 and written_in_bands(pool_load.dst) == 0  # an argument, a tile
    loads = [op for op in conv.walk() if isinstance(op, CopyOp) and op.dst_ap.space.name.lower() == "sbuf"]
    banded_in = loads[0].src
    assert written_in_bands(banded_in) == 4
    assert [op.dst_ap.pstart.base for op in loads[:4]] == [0, 24, 48, 72]
    assert [op.dst_ap.dims for op in conv.walk() if isinstance(op, MemsetOp)] == [((1, 96), (1, 448))]
    matmuls = [op for op in conv.walk() if isinstance(op, MatmulOp)]
    assert {m.stationary_ap.dims for m in matmuls} == {((1, 96), (1, 112))}
    assert [m.stationary_ap.offset.base // 4 for m in matmuls[:4]] == [0, 112, 224, 336]
    pieces = [(m.moving_ap.offset.base // 4, m.moving_ap.free_elements) for m in matmuls[::4]]
    assert sorted(pieces) == [(0, 56), (56, 168), (224, 168), (392, 168), (560, 224)]
    assert pieces.index((0, 56)) > pieces.index((392, 168))  # row 0 after rows 1-9
    x = rng.uniform(-1, 1, (1, 24, 112, 112)).astype(np.float32)
    (got,) = eval_loop(module, {"x": x}).values()
    np.testing.assert_allclose(got, _reference(x, w, b), rtol=1e-4, atol=1e-4)
    off = _nest(_lower(model, conv_band_input=False, halo_chunks=False), "conv")
    first = next(op for op in off.walk() if isinstance(op, CopyOp))
    assert first.dst_ap.dims == ((1, 24), (1, 3136))


def test_only_a_banded_writer_counts():
    """A conv after an unbanded pool (128 channels fill the partitions: no bands)
    takes its usual plan."""
    model, _, _ = _model(128, 16, 32, np.random.default_rng(6))
    conv = _nest(_lower(model), "conv")
    loads = [op for op in conv.walk() if isinstance(op, CopyOp) and op.dst_ap.space.name.lower() == "sbuf"]
    assert written_in_bands(loads[0].src) == 0
    assert not [op for op in conv.walk() if isinstance(op, MemsetOp)]


def test_output_tiles_and_an_addend_read_the_bands_too():
    """A 1x1 conv of the pool's 4 bands to 200 channels (two output tiles of 100)
    with a residual addend (`x2`, fused into the conv): per output tile one matmul
    per band and piece against that tile's columns of W^T, its addend loaded whole
    into a tile of its own (forwarded when the addend is kept) and each output tile
    stored from a tile of its own by one copy; its output equals NumPy's. A second
    reader of the pooled tensor that cannot read bands (a 3x3 conv) keeps the 1x1
    conv on the plane."""
    rng = np.random.default_rng(7)
    c, h, cout = 24, 112, 200
    w = rng.uniform(-0.5, 0.5, (cout, c, 1, 1)).astype(np.float32)
    b = rng.uniform(-0.1, 0.1, cout).astype(np.float32)
    nodes = [
        helper.make_node("MaxPool", ["x"], ["m"], name="pool", kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4),
        helper.make_node("Conv", ["m", "w", "b"], ["y0"], name="conv"),
        helper.make_node("Add", ["y0", "x2"], ["y"], name="add"),
    ]
    graph = helper.make_graph(
        nodes, "t",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, h, h]),
         helper.make_tensor_value_info("x2", TensorProto.FLOAT, [1, cout, h // 2, h // 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, cout, h // 2, h // 2])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    module = _lower(model, fuse=True)
    conv = _nest(module, "conv")
    loads = [op for op in conv.walk() if isinstance(op, CopyOp) and op.dst_ap.space.name.lower() == "sbuf"]
    assert [op.dst_ap.pstart.base for op in loads[:4]] == [0, 24, 48, 72]  # the pool's bands
    x2_arg = next(op for op in module.walk() if isinstance(op, FuncOp)).body.block.args[1]
    addend_loads = [op for op in loads if op.src is x2_arg]  # the Add fused: the conv's addend
    assert [op.dst_ap.dims for op in addend_loads] == [((1, 100), (1, 3136))] * 2
    matmuls = [op for op in conv.walk() if isinstance(op, MatmulOp)]
    assert {m.stationary_ap.dims for m in matmuls} == {((1, 96), (1, 100))}
    assert {m.stationary_ap.offset.base // 4 % 200 for m in matmuls} == {0, 100}  # both output tiles
    stores = [op for op in conv.walk() if isinstance(op, CopyOp) and op.dst_ap.space.name.lower() == "dram"]
    assert len(stores) == 2 and stores[0].src is not stores[1].src
    x = rng.uniform(-1, 1, (1, c, h, h)).astype(np.float32)
    x2 = rng.uniform(-1, 1, (1, cout, h // 2, h // 2)).astype(np.float32)
    (got,) = eval_loop(module, {"x": x, "x2": x2}).values()
    np.testing.assert_allclose(got, _reference(x, w, b) + x2, rtol=1e-4, atol=1e-4)
    # a 3x3 conv beside it reads the plane: the 1x1 conv then loads the plane too
    k3 = rng.uniform(-0.5, 0.5, (8, c, 3, 3)).astype(np.float32)
    graph.node.append(helper.make_node("Conv", ["m", "k3"], ["z"], name="k3", pads=[1] * 4))
    graph.initializer.append(numpy_helper.from_array(k3, "k3"))
    graph.output.append(helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 8, h // 2, h // 2]))
    plane = _nest(_lower(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), fuse=True), "conv")
    plane_loads = [op for op in plane.walk() if isinstance(op, CopyOp) and op.dst_ap.space.name.lower() == "sbuf"]
    assert plane_loads and {op.dst_ap.pstart.base for op in plane_loads} == {0}

"""conv_reader_bands (kernels/conv.py) from ONNX: a stem whose pooling reads its
bands in place writes them (its plans and nests: test_conv_stationary.py), the
pooling reads them where they lie (pool.py's `producer_bands`), loop-keep-on-chip
keeps them in a band layout of the conv's row-group stores, and a 1x1 conv takes
banded input only when every reader of it does; the numbers against NumPy."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper
from tidal.dialects.accel import AccessAttr
from tidal.dialects.affine_expr import Aff
from tidal.dialects.loop import AllocTileOp, CopyOp, NestOp
from tidal.passes.conversion.graph_to_loop import GraphToLoopPass
from tidal.passes.conversion.kernels.conv import written_in_bands
from tidal.passes.graph.canonicalize import GraphCanonicalizePass
from tidal.passes.graph.fuse_epilogue import GraphFuseEpiloguePass
from tidal.passes.graph.partition import GraphPartitionPass
from tidal.passes.interpreters.loop import eval_loop
from tidal.passes.loop.keep_on_chip import BandLayout, LoopKeepOnChipPass
from tidal.targets.onnx_import import import_onnx
from xdsl.context import Context
from xdsl.dialects.func import FuncOp


def _conv(x, w, b, stride: int, pad: int) -> np.ndarray:
    """NumPy's conv (one image, float64)."""
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    k = w.shape[2]
    oh = (xp.shape[2] - k) // stride + 1
    y = np.zeros((1, w.shape[0], oh, oh))
    for r in range(k):
        for s in range(k):
            win = xp[:, :, r : r + stride * (oh - 1) + 1 : stride, s : s + stride * (oh - 1) + 1 : stride]
            y += np.einsum("nchw,oc->nohw", win, w[:, :, r, s])
    return y if b is None else y + b[None, :, None, None]


# -- from ONNX: the pool reads the bands in place ------------------------------


def _stem_pool(c: int, size: int, readers: int, rng: np.random.Generator):
    """A 7x7 stride-2 stem of `c` channels, ReLU, a 3x3 stride-2 max pool, then a
    1x1 conv of the pooled tensor (c -> c), and with `readers` 2 a 3x3 conv of it
    too (c -> 4c)."""
    w = rng.uniform(-0.2, 0.2, (c, 3, 7, 7)).astype(np.float32)
    b = rng.uniform(-0.1, 0.1, c).astype(np.float32)
    w1 = rng.uniform(-0.3, 0.3, (c, c, 1, 1)).astype(np.float32)
    w2 = rng.uniform(-0.3, 0.3, (4 * c, c, 3, 3)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["s"], name="stem", kernel_shape=[7, 7], strides=[2, 2], pads=[3] * 4),
        helper.make_node("Relu", ["s"], ["r"]),
        helper.make_node("MaxPool", ["r"], ["m"], name="pool", kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4),
        helper.make_node("Conv", ["m", "w1"], ["y1"], name="a"),
    ]
    outputs = [helper.make_tensor_value_info("y1", TensorProto.FLOAT, [1, c, size // 4, size // 4])]
    if readers == 2:
        nodes.append(helper.make_node("Conv", ["m", "w2"], ["y2"], name="b", pads=[1] * 4))
        outputs.append(helper.make_tensor_value_info("y2", TensorProto.FLOAT, [1, 4 * c, size // 4, size // 4]))
    graph = helper.make_graph(
        nodes, "t", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, size, size])], outputs,
        [numpy_helper.from_array(a, n) for a, n in ((w, "w"), (b, "b"), (w1, "w1"), (w2, "w2"))][: 3 + (readers == 2)],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), (w, b, w1, w2)


def _lower(model, keep: bool, **options):
    module = import_onnx(model)
    ctx = Context()
    GraphCanonicalizePass().apply(ctx, module)
    GraphFuseEpiloguePass().apply(ctx, module)
    GraphPartitionPass(chip="default").apply(ctx, module)
    GraphToLoopPass(chip="default", **options).apply(ctx, module)
    if keep:
        LoopKeepOnChipPass(chip="default").apply(ctx, module)
    return module


def _nest(module, origin: str) -> NestOp:
    return next(op for op in module.walk() if isinstance(op, NestOp) and op.origin.data == origin)


def _pooled(x, w, b):
    size = x.shape[2]
    s = np.maximum(_conv(x, w, b, 2, 3), 0)
    p = np.pad(s, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    h = size // 4
    return np.max([p[:, :, r : r + 2 * h : 2, q : q + 2 * h : 2] for r in range(3) for q in range(3)], axis=0)


def _loads(module, origin: str) -> list[CopyOp]:
    return [op for op in _nest(module, origin).walk() if isinstance(op, CopyOp) and op.dst_ap.space.name.lower() == "sbuf"]


def test_the_pool_reads_the_stems_bands_where_they_lie():
    """A 64-channel 7x7 stem on the default chip (128 partitions): its pool would
    read 2 bands, so the stem writes 2 bands on the PE columns, stored band by band
    in its row groups (written_in_bands finds them), and loop-keep-on-chip keeps
    its output in that band layout (128 partitions of 32 rows), the stem
    evacuating into it (no copy out of the bands); the 1x1 conv, the pool's only
    reader, reads the pool's 2 bands (conv-band-input). The numbers equal NumPy's
    before and after loop-keep-on-chip."""
    rng = np.random.default_rng(21)
    model, (w, b, w1, _) = _stem_pool(64, 128, 1, rng)
    module = _lower(model, keep=False)
    stores = [op for op in _nest(module, "stem").walk() if isinstance(op, CopyOp) and op.dst_ap.space.name.lower() == "dram"]
    assert written_in_bands(stores[0].dst) == 2
    assert [op.dst_ap.pstart.base for op in _loads(module, "a")[:2]] == [0, 64]  # conv-band-input
    kept = _lower(model, keep=True)
    fn = next(op for op in kept.walk() if isinstance(op, FuncOp))
    top = [op for op in fn.body.block.ops if isinstance(op, AllocTileOp)]
    assert [op.result.type.partitions.data for op in top][:1] == [128]  # the stem's output in 2 bands
    stem = _nest(kept, "stem")
    assert not [op for op in stem.walk() if isinstance(op, CopyOp) and op.src_ap.space.name.lower() == "sbuf"]
    x = rng.uniform(-1, 1, (1, 3, 128, 128)).astype(np.float32)
    want = np.einsum("nchw,oc->nohw", _pooled(x, w, b), w1[:, :, 0, 0])
    for m in (module, kept):
        (got,) = eval_loop(m, {"x": x}).values()
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_a_reader_of_the_plane_keeps_the_others_off_the_bands():
    """With a second reader of the pooled tensor that cannot read bands (a 3x3
    conv), the 1x1 conv loads the plane too: one reader of the plane makes the
    tensor kept as a plane, and a banded reader would copy its bands out of it."""
    rng = np.random.default_rng(22)
    model, (w, b, w1, w2) = _stem_pool(64, 128, 2, rng)
    module = _lower(model, keep=False)
    loads = _loads(module, "a")
    assert loads and not [op for op in loads if op.dst_ap.pstart.base]
    x = rng.uniform(-1, 1, (1, 3, 128, 128)).astype(np.float32)
    pooled = _pooled(x, w, b)
    got = list(eval_loop(module, {"x": x}).values())
    np.testing.assert_allclose(got[0], np.einsum("nchw,oc->nohw", pooled, w1[:, :, 0, 0]), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got[1], _conv(pooled, w2, None, 1, 1), rtol=1e-4, atol=1e-4)


def test_with_the_option_off_the_stem_writes_the_plane():
    model, _ = _stem_pool(64, 128, 1, np.random.default_rng(23))
    module = _lower(model, keep=False, conv_reader_bands=False)
    stores = [op for op in _nest(module, "stem").walk() if isinstance(op, CopyOp) and op.dst_ap.space.name.lower() == "dram"]
    assert written_in_bands(stores[0].dst) == 0


# -- loop-keep-on-chip: a band layout of row-group stores ----------------------


def test_a_band_layout_maps_a_copy_that_steps_through_a_bands_rows():
    """4 channels of 8 x 6 in 2 bands of 4 rows: a store of 2 rows at row 4 stepping
    2 rows an iteration over 2 iterations stays in band 1 and maps to partitions
    4-7 with the same step; over 3 iterations it would leave the band (None), and
    a step of a whole plane (a channel) never maps."""
    layout = BandLayout(4, 2, 4, 6)
    plane = 8 * 6
    ap = AccessAttr.get("dram", 0, Aff(4 * 6 * 4, (2 * 6 * 4,)), [(plane, 4), (1, 12)])
    got = layout.map(ap, (2,))
    assert got is not None and got.pstart.base == 4 and got.offset == Aff(0, (2 * 6 * 4,))
    assert layout.map(ap, (3,)) is None
    channel = AccessAttr.get("dram", 0, Aff(0, (plane * 4,)), [(plane, 1), (1, 12)])
    assert layout.map(channel, (2,)) is None

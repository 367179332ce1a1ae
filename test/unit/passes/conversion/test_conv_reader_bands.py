"""conv_reader_bands (kernels/conv.py): a tap-packed conv whose one reader, a
pooling, reads k bands of rows side by side on the partitions in place writes its
output in those k bands: conv-bands' block-diagonal operand when the bands' im2col
rows fit the PE rows (even fewer than MIN_CONV_BANDS), else the bands on the PE
columns only (`StationaryTiles.mbands`). Its plans, its nests against NumPy (loop
interpreter) and the lowered programs against the nests (accel interpreter); and,
from ONNX, the pooling that follows reading the bands where they lie (pool.py's
`producer_bands`, loop-keep-on-chip's band layout of a conv's row-group stores),
and a 1x1 conv taking banded input only when every reader of it does."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from tidal.dialects.accel import AccessAttr
from tidal.dialects.affine_expr import Aff
from tidal.dialects.loop import AllocOp, AllocTileOp, CopyOp, MatmulOp, MemsetOp, NestOp
from tidal.passes.conversion.graph_to_loop import GraphToLoopPass
from tidal.passes.conversion.kernels.conv import (
    ConvShape,
    StationaryTiles,
    conv2d,
    plan_conv2d,
    written_in_bands,
)
from tidal.passes.conversion.kernels.plan import KernelOptions
from tidal.passes.graph.canonicalize import GraphCanonicalizePass
from tidal.passes.graph.fuse_epilogue import GraphFuseEpiloguePass
from tidal.passes.graph.partition import GraphPartitionPass
from tidal.passes.interpreters.accel import eval_binary
from tidal.passes.interpreters.loop import eval_loop
from tidal.passes.loop.keep_on_chip import BandLayout, LoopKeepOnChipPass
from tidal.passes.pipeline import lowering_passes, run_passes, split_after
from tidal.sim.config import get_chip
from tidal.targets.onnx_import import import_onnx
from xdsl.context import Context
from xdsl.dialects.builtin import MemRefType, ModuleOp, f32
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Region

SMALL = get_chip("small")
DEFAULT = get_chip("default")
ON = KernelOptions()


def _shape(cin, cout, h, k, stride, pad) -> ConvShape:
    hp = h + 2 * pad
    oh = (hp - k) // stride + 1
    return ConvShape((1, cin, hp, hp), (cout, cin, k, k), (1, cout, oh, oh), (stride, stride), (1, 1), 1, (pad,) * 4)


RESNET_STEM = _shape(3, 64, 224, 7, 2, 3)


# -- plans --------------------------------------------------------------------


def test_a_7x7_stem_whose_pool_reads_2_bands_runs_them_on_the_pe_columns():
    """ResNet's stem (147 im2col rows: two packs, so conv-bands never bands it)
    before a 64-channel pool that reads 2 bands: 2 bands of 56 rows on the PE
    columns only (mbands), each pack's weights with a zero column group on either
    side; blocks of 2 rows, 7 a group, so a band's 28 rows split into 4 im2col
    pieces (a quarter of the im2col starts the array, as without bands). Without
    a banded reader, or with the option off, one band."""
    tiles = plan_conv2d(DEFAULT, "stem", RESNET_STEM, reader_bands=2)
    assert isinstance(tiles, StationaryTiles) and tiles.bands == 2 and tiles.mbands
    assert (tiles.pack, tiles.rb, tiles.nb, tiles.rows, tiles.partitions) == (25, 2, 7, 56, 128)
    # the im2col of both bands (2 packs each), the weights of 2 packs x 3 groups
    assert tiles.sbuf_bytes >= (2 * 2 * 56 * 112 + 2 * 3 * 64) * 4
    for plain in (
        plan_conv2d(DEFAULT, "stem", RESNET_STEM),
        plan_conv2d(DEFAULT, "stem", RESNET_STEM, replace(ON, conv_reader_bands=False), reader_bands=0),
    ):
        assert isinstance(plain, StationaryTiles) and plain.bands == 1 and not plain.mbands


def test_a_3x3_stem_takes_2_block_diagonal_bands_for_its_pool():
    """A 3x3 stride-2 stem of 64 channels (27 im2col rows): conv-bands alone takes
    3 bands or more, which 64 channels cannot; for a pool that reads 2, 2 bands of
    the block-diagonal operand (54 rows x 128 columns), not on the columns only."""
    stem = _shape(3, 64, 224, 3, 2, 1)
    alone = plan_conv2d(DEFAULT, "c", stem)
    assert isinstance(alone, StationaryTiles) and alone.bands == 1
    tiles = plan_conv2d(DEFAULT, "c", stem, reader_bands=2)
    assert isinstance(tiles, StationaryTiles) and tiles.bands == 2 and not tiles.mbands


def test_bands_must_divide_the_row_blocks():
    """111 output rows (SqueezeNet's stem) split into no 2 bands of whole blocks."""
    tiles = plan_conv2d(DEFAULT, "c", _shape(3, 64, 223, 3, 2, 0), reader_bands=2)
    assert isinstance(tiles, StationaryTiles) and tiles.bands == 1


# -- nests against NumPy ------------------------------------------------------


def _module(shape: ConvShape, chip, bands: int, bias: bool, activation: str, options=ON):
    tiles = plan_conv2d(chip, "c", shape, options, reader_bands=bands)
    assert isinstance(tiles, StationaryTiles) and tiles.bands == bands
    n, c, hp, wp = shape.padded
    pt, pl, pb, pr = shape.pads
    x_shape = (n, c, hp - pt - pb, wp - pl - pr) if tiles.unpadded else shape.padded
    types = [MemRefType(f32, x_shape), MemRefType(f32, shape.weight)]
    if bias:
        types.append(MemRefType(f32, (shape.out[1],)))
    block = Block(arg_types=types)
    x, w, *rest = block.args
    y = AllocOp(MemRefType(f32, shape.out))
    nest = conv2d(tiles, x, w, rest[0] if bias else None, y.result, shape, activation=activation)
    block.add_ops([y, nest, ReturnOp(y.result)])
    module = ModuleOp([FuncOp("main", (types, [MemRefType(f32, shape.out)]), Region(block))])
    module.verify()
    return module, tiles, nest


def _reference(x, w, b, shape: ConvShape, unpadded: bool, activation: str) -> np.ndarray:
    pt, pl, pb, pr = shape.pads
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr))) if unpadded else x
    _, _, oh, ow = shape.out
    kh, kw = shape.weight[2:]
    sh, sw = shape.strides
    y = np.zeros(shape.out, np.float64)
    for r in range(kh):
        for s in range(kw):
            win = xp[:, :, r : r + sh * (oh - 1) + 1 : sh, s : s + sw * (ow - 1) + 1 : sw]
            y += np.einsum("nchw,oc->nohw", win, w[:, :, r, s])
    if b is not None:
        y += b[None, :, None, None]
    return np.maximum(y, 0) if activation == "relu" else y


PACKED = KernelOptions(stationary=False)  # (the small chip's row-taps plan wins otherwise)
MBANDS = [
    # (shape, chip, bands, bias, activation, options): a 7x7 stride-2 stem of 8
    # channels on the small chip's 32 PE rows and columns (147 im2col rows: 5
    # packs) in 2 and 4 bands on the columns, clipped from the unpadded input and
    # padded in DRAM (im2col-clip off), in one im2col piece (im2col-chunks off), in
    # several bands of rows (128 x 128: not clipped); a 5x5 stride-1 conv of 2
    # channels (50 rows: 2 packs) in 2 bands; the default chip's ResNet-like stem
    (_shape(3, 8, 64, 7, 2, 3), SMALL, 2, True, "relu", PACKED),
    (_shape(3, 8, 64, 7, 2, 3), SMALL, 4, False, "identity", PACKED),
    (_shape(3, 8, 64, 7, 2, 3), SMALL, 2, True, "relu", replace(PACKED, im2col_clip=False)),
    (_shape(3, 8, 64, 7, 2, 3), SMALL, 4, True, "identity", replace(PACKED, im2col_chunks=False)),
    (_shape(3, 8, 128, 7, 2, 3), SMALL, 4, True, "relu", PACKED),
    (_shape(2, 16, 32, 5, 1, 2), SMALL, 2, True, "relu", PACKED),
    (_shape(3, 64, 128, 7, 2, 3), DEFAULT, 2, True, "relu", ON),
]


@pytest.mark.parametrize("shape,chip,bands,bias,activation,options", MBANDS)
def test_a_conv_in_bands_on_the_pe_columns_computes_the_conv(shape, chip, bands, bias, activation, options):
    """mbands: the nest (loop interpreter) against NumPy's conv, and the lowered
    program (accel interpreter) against the nest."""
    module, tiles, nest = _module(shape, chip, bands, bias, activation, options)
    assert tiles.mbands
    # each band's matmuls read its own im2col columns against its weight window
    matmuls = [op for op in nest.walk() if isinstance(op, MatmulOp)]
    assert {m.stationary_ap.free_elements for m in matmuls} == {bands * shape.weight[0]}
    rng = np.random.default_rng(11)
    fn = module.ops.first
    inputs = {
        f"arg{i}": rng.uniform(-1, 1, a.type.get_shape()).astype(np.float32)  # type: ignore[attr-defined]
        for i, a in enumerate(fn.body.block.args)  # type: ignore[union-attr]
    }
    args = list(inputs.values())
    want = _reference(args[0], args[1], args[2] if bias else None, shape, tiles.unpadded, activation)
    (got,) = eval_loop(module, inputs).values()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    _, after_graph_to_loop = split_after(lowering_passes(chip.name), GraphToLoopPass)
    run_passes(after_graph_to_loop, module)
    np.testing.assert_allclose(eval_binary(module, inputs)["result0"], got, rtol=1e-5, atol=1e-6)


def test_each_band_has_its_own_weight_window():
    """2 bands of 8 channels, 5 packs: the weight tile holds each pack's weights at
    column group 1 of 3 (zeros memset once around them); band 0's operand starts
    at group 1 (the weights in its columns 0-7), band 1's at group 0 (in 8-15);
    the im2col of band 1 lies after band 0's 5 packs of 16 rows x 32 columns."""
    _, tiles, nest = _module(_shape(3, 8, 64, 7, 2, 3), SMALL, 2, True, "relu", PACKED)
    assert (tiles.pack, tiles.rows, tiles.rb, tiles.nb) == (10, 16, 4, 1)
    memsets = [op.dst_ap for op in nest.walk() if isinstance(op, MemsetOp) and op.dst_ap.dims[1][1] == 5 * 3 * 8]
    assert memsets and memsets[0].dims == ((1, 30), (1, 120))
    first = [m for m in nest.walk() if isinstance(m, MatmulOp)][:2]
    assert [m.stationary_ap.offset.base // 4 for m in first] == [8, 0]
    assert [m.moving_ap.offset.base // 4 for m in first] == [0, 5 * 16 * 32]


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
    stem = ConvShape((1, 3, size + 6, size + 6), w.shape, (1, w.shape[0], size // 2, size // 2), (2, 2), (1, 1), 1, (3,) * 4)
    s = np.maximum(_reference(x, w, b, stem, True, "identity"), 0)
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
    k3 = ConvShape((1, 64, 34, 34), w2.shape, (1, 256, 32, 32), (1, 1), (1, 1), 1, (1,) * 4)
    np.testing.assert_allclose(got[1], _reference(pooled, w2, None, k3, True, "identity"), rtol=1e-4, atol=1e-4)


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

"""Padded poolings with halos (KernelOptions.pool_halo): whole padded planes in SBUF
whose borders hold the pad value, no padded copy in DRAM. The plan's sizes and its
fallback, and NumPy-checked results through the loop interpreter (and the lowered
binary on the hardware model) for max pooling (-inf borders) and average pooling
with count_include_pad 0 and 1."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper
from tidal.dialects.loop import AllocOp, AllocTileOp, CopyOp, MemsetOp, NestOp
from tidal.passes.conversion.graph_to_loop import GraphToLoopPass
from tidal.passes.conversion.kernels.pool import PoolShape, PoolTiles, plan_pool_plane
from tidal.passes.graph.canonicalize import GraphCanonicalizePass
from tidal.passes.graph.partition import GraphPartitionPass
from tidal.passes.interpreters.accel import eval_binary
from tidal.passes.interpreters.loop import eval_loop
from tidal.passes.pipeline import lowering_passes, run_passes
from tidal.sim.config import get_chip
from tidal.targets.onnx_import import import_onnx
from xdsl.context import Context

SMALL = get_chip("small")
DEFAULT = get_chip("default")


def test_a_resnet_stem_maxpool_is_one_plane_per_channel_tile():
    shape = PoolShape((1, 64, 114, 114), (1, 64, 56, 56), (3, 3), (2, 2))
    tiles = plan_pool_plane(DEFAULT, "mp", shape, with_recip=False)
    assert isinstance(tiles, PoolTiles) and tiles.plane
    assert (tiles.tc, tiles.cb, tiles.rb, tiles.hb) == (64, 1, 56, 114)
    assert tiles.sbuf_bytes == 52032 + 12544  # 114 * 114 and 56 * 56 fp32, 64-byte aligned


def test_channel_tiles_share_a_descriptor_while_their_planes_fit():
    """256 channels in 8 tiles of 32 on the small chip: 8 padded 30x30 planes and
    their 14x14 outputs fit 64 KiB; 8 padded 58x58 planes do not, one tile per step."""
    fits = plan_pool_plane(SMALL, "mp", PoolShape((1, 256, 30, 30), (1, 256, 14, 14), (3, 3), (2, 2)), with_recip=False)
    assert isinstance(fits, PoolTiles) and (fits.tc, fits.cb) == (32, 8)
    one = plan_pool_plane(SMALL, "mp", PoolShape((1, 256, 58, 58), (1, 256, 28, 28), (3, 3), (2, 2)), with_recip=False)
    assert isinstance(one, PoolTiles) and (one.tc, one.cb) == (32, 1)
    for side, planes in ((40, 3), (72, 1)):  # 3 x (42 * 42 + 20 * 20) fp32 fit, 3 x (74 * 74 + ...) not
        module = _lower(_pool_model("MaxPool", [1, 96, side, side], kernel=3, stride=2, pads=1), halo=True)
        tiles = [op.result.type for op in module.walk() if isinstance(op, AllocTileOp)]
        assert tiles[0].elems.data == planes * (side + 2) ** 2


def test_on_the_small_chip_a_plane_over_sbuf_is_refused_and_the_kernel_pads_in_dram():
    """130 x 130 fp32 is 67600 bytes, over the small chip's 64 KiB partitions (24
    channels, over half its 32 partitions: no row bands either)."""
    shape = PoolShape((1, 24, 130, 130), (1, 24, 64, 64), (3, 3), (2, 2))
    assert not isinstance(plan_pool_plane(SMALL, "mp", shape, with_recip=False, bands=True), PoolTiles)
    module = _lower(_pool_model("MaxPool", [1, 24, 128, 128], kernel=3, stride=2, pads=1), halo=True)
    names = [op.properties["origin"].data for op in module.walk() if isinstance(op, NestOp)]
    assert names == ["p.pad", "p"]


def _pads4(pads) -> tuple[int, int, int, int]:
    """ONNX pads (top, left, bottom, right) from one pad for every side or four."""
    return (pads,) * 4 if isinstance(pads, int) else tuple(pads)


def _pool_model(kind: str, shape, *, kernel: int, stride: int, pads, count_include_pad=None):
    pt, pl, pb, pr = _pads4(pads)
    attrs = {"kernel_shape": [kernel, kernel], "strides": [stride, stride], "pads": [pt, pl, pb, pr]}
    if count_include_pad is not None:
        attrs["count_include_pad"] = count_include_pad
    node = helper.make_node(kind, ["x"], ["y"], name="p", **attrs)
    n, c, h, w = shape
    oh = (h + pt + pb - kernel) // stride + 1
    ow = (w + pl + pr - kernel) // stride + 1
    return helper.make_model(
        helper.make_graph(
            [node], "t",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, c, oh, ow])],
        ),
        opset_imports=[helper.make_opsetid("", 13)],
    )


def _lower(model, *, halo: bool, chip: str = "small", inplace: bool = False):
    module = import_onnx(model)
    ctx = Context()
    GraphCanonicalizePass().apply(ctx, module)
    GraphPartitionPass(chip=chip).apply(ctx, module)
    GraphToLoopPass(chip=chip, pool_halo=halo, pool_inplace=inplace).apply(ctx, module)
    return module


def _reference(x, kind: str, *, kernel: int, stride: int, pads, count_include_pad: int = 0):
    fill = -np.inf if kind == "MaxPool" else 0.0
    pt, pl, pb, pr = _pads4(pads)
    xp = np.pad(x.astype(np.float64), [(0, 0), (0, 0), (pt, pb), (pl, pr)], constant_values=fill)
    real = np.pad(np.ones_like(x, np.float64), [(0, 0), (0, 0), (pt, pb), (pl, pr)])
    _, _, hp, wp = xp.shape
    oh, ow = (hp - kernel) // stride + 1, (wp - kernel) // stride + 1
    out = np.zeros(x.shape[:2] + (oh, ow))
    for i in range(oh):
        for j in range(ow):
            win = xp[:, :, i * stride : i * stride + kernel, j * stride : j * stride + kernel]
            if kind == "MaxPool":
                out[:, :, i, j] = win.max(axis=(2, 3))
            else:
                cnt = kernel * kernel if count_include_pad else real[
                    0, 0, i * stride : i * stride + kernel, j * stride : j * stride + kernel
                ].sum()
                out[:, :, i, j] = win.sum(axis=(2, 3)) / cnt
    return out


CASES = [
    # all-negative input: a zero border would win every edge window of a max pool
    pytest.param("MaxPool", [1, 40, 9, 11], 3, 2, 1, None, id="max-3x3s2-40ch"),
    pytest.param("MaxPool", [1, 96, 40, 40], 3, 2, 1, None, id="max-3-channel-tiles-one-load"),
    pytest.param("MaxPool", [1, 96, 72, 72], 3, 2, 1, None, id="max-3-channel-tiles-one-per-step"),
    # separable max pools (the default): 2x2, 3x3 stride 1, 5x5 stride 2
    pytest.param("MaxPool", [1, 8, 9, 9], 2, 2, 1, None, id="max-2x2s2"),
    pytest.param("MaxPool", [1, 48, 13, 13], 3, 1, 1, None, id="max-3x3s1-48ch"),
    pytest.param("MaxPool", [1, 8, 11, 11], 5, 2, 2, None, id="max-5x5s2"),
    pytest.param("AveragePool", [1, 8, 7, 7], 3, 1, 1, 0, id="avg-exclude-pad"),
    pytest.param("AveragePool", [1, 8, 6, 6], 2, 2, 1, 1, id="avg-include-pad"),
    # row bands side by side on partitions (8 and 6 channels on the small chip's 32):
    # two images in 4 bands, and 5 bands of 3 rows with their rows of the reciprocal map
    pytest.param("MaxPool", [2, 8, 40, 40], 3, 2, 1, None, id="max-bands-two-images"),
    pytest.param("AveragePool", [1, 6, 30, 30], 3, 2, 1, 0, id="avg-bands-exclude-pad"),
]


@pytest.mark.parametrize(("kind", "shape", "kernel", "stride", "pads", "cip"), CASES)
def test_the_halo_nest_computes_the_padded_pooling(kind, shape, kernel, stride, pads, cip):
    model = _pool_model(kind, shape, kernel=kernel, stride=stride, pads=pads, count_include_pad=cip)
    module = _lower(model, halo=True)
    nests = [op for op in module.walk() if isinstance(op, NestOp)]
    assert len(nests) == 1  # no pad nest
    assert len([op for op in module.walk() if isinstance(op, AllocOp)]) == 1  # only y
    (memset,) = [op for op in module.walk() if isinstance(op, MemsetOp)]
    assert memset.value.value.data == (-np.inf if kind == "MaxPool" else 0.0)
    x = -np.random.default_rng(1).uniform(0.5, 2.0, shape).astype(np.float32)
    got = eval_loop(module, {"x": x})["y"]
    want = _reference(x, kind, kernel=kernel, stride=stride, pads=pads, count_include_pad=cip or 0)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    off = eval_loop(_lower(model, halo=False), {"x": x})["y"]
    np.testing.assert_allclose(got, off, rtol=1e-6)


def test_a_separable_max_pool_takes_row_maxima_of_column_maxima():
    """pool_separable: ResNet's stem pool (3x3, stride 2, 64 channels of 112x112)
    plans a [64, 114 x 56] tile of column maxima and runs 2 + 2 element-wise maxima
    per channel tile instead of one reduction; a 1x3 window (one row) reduces.
    Lowered (pool_pipeline, its two partition bands fewer than MIN_PIPELINED_BANDS):
    the padded plane in 4 bands of output rows, 2 + 2 maxima each."""
    shape = PoolShape((1, 64, 114, 114), (1, 64, 56, 56), (3, 3), (2, 2))
    tiles = plan_pool_plane(DEFAULT, "mp", shape, with_recip=False, separable=True)
    assert isinstance(tiles, PoolTiles) and tiles.separable
    assert tiles.sbuf_bytes == 52032 + 12544 + 114 * 56 * 4
    row = PoolShape((1, 64, 10, 12), (1, 64, 10, 10), (1, 3), (1, 1))
    assert not plan_pool_plane(DEFAULT, "mp", row, with_recip=False, separable=True).separable  # type: ignore[union-attr]
    module = _lower(_pool_model("MaxPool", [1, 64, 112, 112], kernel=3, stride=2, pads=1), halo=True, chip="default")
    ops = [op.name for op in module.walk() if op.name in ("loop.tensor_tensor", "loop.reduce")]
    assert ops == ["loop.tensor_tensor"] * 4 * 4


def test_few_channels_pool_in_row_bands_side_by_side():
    """pool_bands: ShuffleNet's stem max pool (24 channels of 112x112) puts 4 bands
    of 14 output rows on 96 partitions, each with the 29 padded input rows its
    windows read; ResNet's (64 channels) 2 bands of 28 rows on 128. 80 channels are
    over half the partitions: one band. Lowered, the nest loads and stores each
    band by a copy of its own and reduces all of them at once."""
    stem = PoolShape((1, 24, 114, 114), (1, 24, 56, 56), (3, 3), (2, 2))
    tiles = plan_pool_plane(DEFAULT, "mp", stem, with_recip=False, separable=True, bands=True)
    assert isinstance(tiles, PoolTiles) and (tiles.bands, tiles.rb, tiles.hb, tiles.tc) == (4, 14, 29, 24)
    resnet = PoolShape((1, 64, 114, 114), (1, 64, 56, 56), (3, 3), (2, 2))
    tiles = plan_pool_plane(DEFAULT, "mp", resnet, with_recip=False, bands=True)
    assert isinstance(tiles, PoolTiles) and (tiles.bands, tiles.rb, tiles.hb) == (2, 28, 57)
    wide = PoolShape((1, 80, 114, 114), (1, 80, 56, 56), (3, 3), (2, 2))
    assert plan_pool_plane(DEFAULT, "mp", wide, with_recip=False, bands=True).bands == 1  # type: ignore[union-attr]
    # a small plane: 2 bands would save 2 x 10 x 5 + 2 x 5 x 5 = 150 / 2 POOL
    # elements, less than a load's and a store's 1,400-cycle latency
    # a plane over SBUF (VGG-19's 64 channels of 224x224) keeps the window nest
    vgg = PoolShape((1, 64, 224, 224), (1, 64, 112, 112), (2, 2), (2, 2))
    assert not isinstance(plan_pool_plane(DEFAULT, "mp", vgg, with_recip=False, separable=True, bands=True), PoolTiles)
    small = PoolShape((1, 24, 12, 12), (1, 24, 5, 5), (3, 3), (2, 2))
    assert plan_pool_plane(DEFAULT, "mp", small, with_recip=False, separable=True, bands=True).bands == 1  # type: ignore[union-attr]
    module = _lower(_pool_model("MaxPool", [1, 24, 112, 112], kernel=3, stride=2, pads=1), halo=True, chip="default")
    copies = [op for op in module.walk() if op.name == "loop.copy"]
    maxima = [op for op in module.walk() if op.name == "loop.tensor_tensor"]
    assert len(copies) == 8 and len(maxima) == 4
    assert {op.dst_ap.pcount for op in maxima} == {96}


@pytest.mark.parametrize("shape", [[1, 64, 8, 8], [1, 6, 40, 40]])
def test_the_lowered_program_on_the_hardware_model_agrees(shape):
    """64 channels on the small chip's 32 partitions: two channel tiles' planes in
    one tile whose borders were filled once, loaded by one descriptor; 6 channels:
    5 row bands side by side on 30 partitions, in place (pool_inplace: each band's
    own 8 input rows as they lie, the row above in a tile of its own)."""
    if shape[1] == 6:
        stem = PoolShape((1, 6, 42, 42), (1, 6, 20, 20), (3, 3), (2, 2))
        planned = plan_pool_plane(SMALL, "p", stem, with_recip=False, separable=True, bands=True)
        assert isinstance(planned, PoolTiles) and planned.bands == 5 and not planned.inplace
        planned = plan_pool_plane(
            SMALL, "p", stem, with_recip=False, separable=True, bands=True, inplace=True, pads=(1, 1, 1, 1)
        )
        assert isinstance(planned, PoolTiles) and (planned.bands, planned.inplace, planned.hb) == (5, True, 8)
        # a stride-1 window reaches the row below the band: read from the next
        # band (`_rows_below`), in place all the same
        s1 = PoolShape((1, 6, 42, 42), (1, 6, 40, 40), (3, 3), (1, 1))
        tiles = plan_pool_plane(SMALL, "p", s1, with_recip=False, separable=True, bands=True, inplace=True, pads=(1, 1, 1, 1))
        assert isinstance(tiles, PoolTiles) and tiles.bands > 1 and tiles.inplace
    model = _pool_model("MaxPool", shape, kernel=3, stride=2, pads=1)
    module = import_onnx(model)
    run_passes(lowering_passes("small"), module, Context(), [])
    x = -np.random.default_rng(2).uniform(0.5, 2.0, shape).astype(np.float32)
    got = eval_binary(module, {"x": x})["y"]
    np.testing.assert_allclose(got, _reference(x, "MaxPool", kernel=3, stride=2, pads=1), rtol=1e-6)


@pytest.mark.parametrize(
    ("kind", "shape", "kernel", "stride", "pads", "cip"),
    [case for case in CASES if case.values[0] == "MaxPool" and case.id != "max-bands-two-images"],
)
def test_a_separable_max_pool_reads_its_planes_in_place(kind, shape, kernel, stride, pads, cip):
    """pool_inplace: the unpadded planes as they lie, loaded by one whole copy (no
    memset, no border), each column tap over the output columns whose input column
    is inside the plane (the one covering every column first, a copy), then each row
    tap likewise over the column maxima; the same result as the padded plane (a 2x2
    stride-2 window with padding 1 too: its second tap covers every output)."""
    model = _pool_model(kind, shape, kernel=kernel, stride=stride, pads=pads)
    module = _lower(model, halo=True, inplace=True)
    tiles = [op.result.type for op in module.walk() if isinstance(op, AllocTileOp)]
    assert not [op for op in module.walk() if isinstance(op, MemsetOp)]
    assert tiles[0].elems.data % (shape[2] * shape[3]) == 0  # whole unpadded planes
    x = -np.random.default_rng(3).uniform(0.5, 2.0, shape).astype(np.float32)
    got = eval_loop(module, {"x": x})["y"]
    want = _reference(x, kind, kernel=kernel, stride=stride, pads=pads)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_the_in_place_pool_lowered_to_the_hardware_model_agrees():
    """Two channel tiles of 48 channels' 3x3 stride-1 pool on the small chip, in
    place, through the whole pipeline and the hardware model."""
    model = _pool_model("MaxPool", [1, 48, 13, 13], kernel=3, stride=1, pads=1)
    module = import_onnx(model)
    run_passes(lowering_passes("small"), module, Context(), [])
    x = -np.random.default_rng(4).uniform(0.5, 2.0, [1, 48, 13, 13]).astype(np.float32)
    got = eval_binary(module, {"x": x})["y"]
    np.testing.assert_allclose(got, _reference(x, "MaxPool", kernel=3, stride=1, pads=1), rtol=1e-6)


def test_a_large_plane_pools_in_bands_of_output_rows():
    """pool_pipeline: SqueezeNet's stem pool (64 channels of 111x111, 3x3 stride 2,
    no pads) runs its separable maxima in 4 bands of output rows, each band's column
    maxima over the input rows its windows add (the bands' rows meet, never
    overlap); a small plane (5x5 outputs), or the option off, runs one band."""
    squeeze = PoolShape((1, 64, 111, 111), (1, 64, 55, 55), (3, 3), (2, 2))
    tiles = plan_pool_plane(DEFAULT, "mp", squeeze, with_recip=False, separable=True, pipeline=True)
    assert isinstance(tiles, PoolTiles) and tiles.pipe == 4
    off = plan_pool_plane(DEFAULT, "mp", squeeze, with_recip=False, separable=True)
    assert isinstance(off, PoolTiles) and off.pipe == 1
    small = PoolShape((1, 8, 12, 12), (1, 8, 5, 5), (3, 3), (2, 2))
    assert plan_pool_plane(DEFAULT, "mp", small, with_recip=False, separable=True, pipeline=True).pipe == 1  # type: ignore[union-attr]
    model = _pool_model("MaxPool", [1, 64, 111, 111], kernel=3, stride=2, pads=0)
    module = _lower(model, halo=True, chip="default")
    maxima = [op for op in module.walk() if op.name == "loop.tensor_tensor"]
    assert len(maxima) == 4 * 4  # per band: 2 column maxima, 2 row maxima
    col_rows = [op.dst_ap.dims[1][1] for op in maxima[::4]]  # each band's first column maxima
    out_rows = [op.dst_ap.dims[1][1] for op in maxima[2::4]]  # and its first row maxima
    assert sum(col_rows) == 111 and sum(out_rows) == 55  # every row once


@pytest.mark.parametrize(
    ("shape", "kernel", "stride", "pads"),
    [([1, 24, 40, 40], 3, 2, 1), ([1, 24, 24, 24], 3, 1, 1), ([1, 20, 41, 41], 3, 2, 0), ([1, 24, 36, 36], 5, 2, 2)],
)
def test_the_banded_pool_on_the_hardware_model_agrees(shape, kernel, stride, pads):
    """Row bands of output rows (`pool_pipeline`) in place (padded) or on the plane
    (unpadded), through the whole pipeline of the small chip and the hardware model,
    against NumPy; the plan picked bands."""
    model = _pool_model("MaxPool", shape, kernel=kernel, stride=stride, pads=pads)
    module = import_onnx(model)
    run_passes(lowering_passes("small"), module, Context(), [])
    origins = [op for op in module.walk() if op.name == "accel.tensor_tensor"]
    assert len(origins) > 2 * (kernel - 1)  # more maxima than one band's
    x = -np.random.default_rng(5).uniform(0.5, 2.0, shape).astype(np.float32)
    got = eval_binary(module, {"x": x})["y"]
    np.testing.assert_allclose(got, _reference(x, "MaxPool", kernel=kernel, stride=stride, pads=pads), rtol=1e-6)



def test_banded_pools_in_place_pipeline_in_pieces_of_output_rows():
    """pool_bands_pipeline: ShuffleNet's stem pool (24 channels of 112x112, 4 bands in
    place on the default chip) runs each band's maxima in PIPE_BANDS pieces, enough
    POOL work each to pay their instructions' fixed cost; off, or on a small plane
    (5 bands of 4 output rows: 520 elements a partition), in one."""
    shape = PoolShape((1, 24, 114, 114), (1, 24, 56, 56), (3, 3), (2, 2))

    def plan(**kw):
        tiles = plan_pool_plane(
            DEFAULT, "mp", shape, with_recip=False, separable=True, bands=True, inplace=True,
            pads=(1, 1, 1, 1), pipeline=True, **kw,
        )
        assert isinstance(tiles, PoolTiles) and tiles.bands == 4 and tiles.inplace
        return tiles.pipe

    assert plan(bands_pipeline=True) == 4 and plan() == 1
    small = PoolShape((1, 6, 42, 42), (1, 6, 20, 20), (3, 3), (2, 2))
    tiles = plan_pool_plane(
        SMALL, "mp", small, with_recip=False, separable=True, bands=True, inplace=True,
        pads=(1, 1, 1, 1), pipeline=True, bands_pipeline=True,
    )
    assert isinstance(tiles, PoolTiles) and tiles.bands == 5 and tiles.pipe == 1


@pytest.mark.parametrize(
    ("shape", "kernel", "stride", "pads", "cip", "bands"),
    [
        ([1, 8, 7, 7], 3, 1, 1, 0, 1),
        ([1, 8, 7, 7], 3, 2, 1, 1, 1),  # the padding counts: a uniform map
        ([1, 40, 14, 14], 3, 2, 1, 0, 1),  # two channel tiles of 20
        ([1, 6, 40, 40], 3, 2, 1, 0, 5),  # bands side by side, in place
    ],
)
def test_average_pools_in_place_sum_the_taps_inside_the_plane(shape, kernel, stride, pads, cip, bands):
    """avgpool_inplace: an average pooling reads its unpadded planes as they lie
    (no zero-filled plane; the banded form's halo rows of the first band are the
    only memset, zeros), sums the column taps then the row taps over the outputs
    whose input stays inside the plane, and multiplies by a map of reciprocal window
    counts (uniform when the padding counts). On the loop interpreter and, through
    the whole pipeline of the small chip, on the hardware model, against NumPy; off,
    the one reduction over zero-padded planes."""
    model = _pool_model("AveragePool", shape, kernel=kernel, stride=stride, pads=pads, count_include_pad=cip)
    module = import_onnx(model)
    ctx = Context()
    GraphCanonicalizePass().apply(ctx, module)
    GraphPartitionPass(chip="small").apply(ctx, module)
    GraphToLoopPass(chip="small").apply(ctx, module)
    parts = max(op.result.type.partitions.data for op in module.walk() if isinstance(op, AllocTileOp))
    assert parts == (bands * shape[1] if bands > 1 else min(shape[1], 20 if shape[1] == 40 else 32))
    names = [op.name for op in module.walk() if op.name.startswith("loop.")]
    assert "loop.reduce" not in names
    assert names.count("loop.tensor_tensor") >= 2 * (kernel - 1) + 1
    memsets = [op for op in module.walk() if isinstance(op, MemsetOp)]
    assert all(m.value.value.data == 0.0 for m in memsets) and len(memsets) == (1 if bands > 1 else 0)
    x = np.random.default_rng(3).uniform(-2.0, 2.0, shape).astype(np.float32)
    want = _reference(x, "AveragePool", kernel=kernel, stride=stride, pads=pads, count_include_pad=cip)
    np.testing.assert_allclose(eval_loop(module, {"x": x})["y"], want, rtol=1e-5, atol=1e-6)
    lowered = import_onnx(model)
    run_passes(lowering_passes("small"), lowered, Context(), [])
    np.testing.assert_allclose(eval_binary(lowered, {"x": x})["y"], want, rtol=1e-5, atol=1e-6)
    off = _lower(model, halo=True)  # (avgpool_inplace's default with pool_inplace off)
    assert "loop.reduce" in [op.name for op in off.walk()]


@pytest.mark.parametrize(
    ("kind", "cip", "shape", "kernel", "stride", "pads", "memsets"),
    [
        ("MaxPool", None, [1, 7, 4, 160], 3, 1, (2, 0, 0, 2), [(0, 2 * 160), (7, 160)]),
        ("AveragePool", 1, [1, 7, 4, 160], 3, 1, (2, 0, 0, 2), [(0, 2 * 160), (7, 160)]),
        ("AveragePool", 0, [1, 7, 4, 160], 3, 1, (2, 0, 0, 2), [(0, 2 * 160), (7, 160)]),
        ("MaxPool", None, [1, 5, 136, 5], 2, 2, (0, 0, 0, 1), []),  # no top pad: no halo
    ],
)
def test_banded_pools_in_place_pad_the_rows_above_every_band_the_top_pad_reaches(
    kind, cip, shape, kernel, stride, pads, memsets
):
    """A 3x3 stride-1 pooling of 7 channels of 4 x 160 with pads (2, 0, 0, 2) on the
    small chip: 4 bands of one output row side by side, in place. Each band's
    windows reach 2 rows above it, more than the band's own one row, so the rows
    above the plane are the pad value for the second band too (a memset of one row
    on its partitions), not rows before the plane (which a difftest graph read:
    seed 902, graph 41); the third and fourth read the rows of the bands before.
    Without a top pad (a 2x2 stride-2 pool whose last column is padded, ceil mode's
    form), no halo rows and no memset, each band's rows stored."""
    model = _pool_model(kind, shape, kernel=kernel, stride=stride, pads=pads, count_include_pad=cip)
    module = _lower(model, halo=True, inplace=True)
    tiles = [op.result.type.partitions.data for op in module.walk() if isinstance(op, AllocTileOp)]
    assert max(tiles) > shape[1]  # bands side by side
    assert [(ap.pstart.base, ap.dims[1][1]) for ap in (op.dst_ap for op in module.walk() if isinstance(op, MemsetOp))] == memsets
    x = np.random.default_rng(4).uniform(-2.0, 2.0, shape).astype(np.float32)
    want = _reference(x, kind, kernel=kernel, stride=stride, pads=pads, count_include_pad=cip or 0)
    np.testing.assert_allclose(eval_loop(module, {"x": x})["y"], want, rtol=1e-5, atol=1e-6)
    lowered = import_onnx(model)
    run_passes(lowering_passes("small"), lowered, Context(), [])
    np.testing.assert_allclose(eval_binary(lowered, {"x": x})["y"], want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("kind", "cip", "stride", "pads", "memsets"),
    [
        ("MaxPool", None, 2, (0, 0, 1, 1), [(21, 40)]),
        ("AveragePool", 1, 2, (0, 0, 1, 1), [(21, 40)]),
        ("AveragePool", 0, 2, (0, 0, 1, 1), [(21, 40)]),
        ("MaxPool", None, 1, (1, 1, 1, 1), [(0, 40), (21, 40)]),
        ("AveragePool", 1, 1, (1, 1, 1, 1), [(0, 40), (21, 40)]),
    ],
)
def test_banded_pools_in_place_read_the_rows_below_a_band_from_the_next(kind, cip, stride, pads, memsets):
    """A 3x3 pooling whose windows reach a row below each band's own rows, 7
    channels of 16 x 40 on the small chip in 4 bands side by side, in place:
    stride 2 padded below and right only (ceil mode's form: Inception v2's stem
    pool), and stride 1 padded all round (Inception's pool branches, which also
    read the row above). Each band's last output row reads the first row of the
    next band (`_rows_below`), loaded onto the band's partitions beside its own
    rows; the last band's is the bottom pad (a memset of one row on its
    partitions, the pad value; with a top pad the first band's row above too). The
    numbers equal NumPy's."""
    shape = [1, 7, 16, 40]
    model = _pool_model(kind, shape, kernel=3, stride=stride, pads=pads, count_include_pad=cip)
    module = _lower(model, halo=True, inplace=True)
    tiles = [op.result.type.partitions.data for op in module.walk() if isinstance(op, AllocTileOp)]
    assert max(tiles) == 28  # 4 bands of 7 channels
    got = [(ap.pstart.base, ap.dims[1][1]) for ap in (op.dst_ap for op in module.walk() if isinstance(op, MemsetOp))]
    assert got == memsets
    own = 4  # each band's own input rows
    rows = {
        (op.src_ap.offset.base // 4 // 40, op.dst_ap.pstart.base)
        for op in module.walk()
        if isinstance(op, CopyOp) and op.src_ap.space.name.lower() == "dram" and op.dst_ap.dims == ((1, 7), (1, 40))
    }
    assert {((b + 1) * own, 7 * b) for b in range(3)} <= rows  # the next band's first row
    x = np.random.default_rng(5).uniform(-2.0, 2.0, shape).astype(np.float32)
    want = _reference(x, kind, kernel=3, stride=stride, pads=pads, count_include_pad=cip or 0)
    np.testing.assert_allclose(eval_loop(module, {"x": x})["y"], want, rtol=1e-5, atol=1e-6)
    lowered = import_onnx(model)
    run_passes(lowering_passes("small"), lowered, Context(), [])
    np.testing.assert_allclose(eval_binary(lowered, {"x": x})["y"], want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["MaxPool", "AveragePool"])
@pytest.mark.parametrize("shape", [[1, 7, 16, 40], [1, 7, 32, 64], [1, 5, 64, 20]])
def test_a_5x5_stride_1_pool_in_bands_reads_two_rows_above_and_below(kind, shape):
    """A 5x5 stride-1 pooling padded by 2 in bands side by side, in place: a band's
    first two output rows read the 2 halo rows above it and its last two the 2 rows
    below it (`_rows_below`), and its rows come in pieces (pool-bands-pipeline):
    the pieces whose rows read the rows below wait for their maxima, the rows that
    read the halo rows go last with them (both missed once: two rows, where 3x3
    pools read one). The numbers equal NumPy's."""
    model = _pool_model(kind, shape, kernel=5, stride=1, pads=(2, 2, 2, 2), count_include_pad=1 if kind == "AveragePool" else None)
    module = _lower(model, halo=True, inplace=True)
    tiles = [op.result.type.partitions.data for op in module.walk() if isinstance(op, AllocTileOp)]
    assert max(tiles) > shape[1]  # bands side by side
    x = np.random.default_rng(6).uniform(-2.0, 2.0, shape).astype(np.float32)
    want = _reference(x, kind, kernel=5, stride=1, pads=(2, 2, 2, 2), count_include_pad=1 if kind == "AveragePool" else 0)
    np.testing.assert_allclose(eval_loop(module, {"x": x})["y"], want, rtol=1e-5, atol=1e-6)

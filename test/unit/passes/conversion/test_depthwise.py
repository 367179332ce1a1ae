"""The depthwise kernel (kernels/depthwise.py): its plan's sizes and refusals, and
its nest run by the loop interpreter against a NumPy depthwise conv, with and
without bias, activation and addend; then lowered to the machine (loop-allocate
through the binary) and run on the hardware model."""

from __future__ import annotations

import numpy as np
from tidal.passes.conversion.graph_to_loop import GraphToLoopPass
from tidal.passes.pipeline import lowering_passes, run_passes, split_after
import pytest
from dataclasses import replace

from tidal.dialects.loop import (
    ActOp,
    AllocOp,
    ConstOp,
    CopyOp,
    MatmulOp,
    NestOp,
    TensorTensorOp,
    dense_f32,
)
from tidal.passes.conversion.kernels.conv import ConvShape
from tidal.passes.conversion.kernels.depthwise import (
    DepthwiseTiles,
    _inplace_costs,  # pyright: ignore[reportPrivateUsage]
    _need,  # pyright: ignore[reportPrivateUsage]
    _pe_block_rows,  # pyright: ignore[reportPrivateUsage]
    applies,
    depthwise,
    first_full_tap,
    plan_depthwise,
    tap_rects,
)
from tidal.passes.conversion.kernels.plan import Refusal
from tidal.passes.interpreters.accel import eval_binary
from tidal.passes.interpreters.loop import eval_loop
from tidal.sim.config import get_chip
from xdsl.dialects.builtin import MemRefType, ModuleOp, f32
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Region

SMALL = get_chip("small")
DEFAULT = get_chip("default")


def _shape(n, c, h, w, k=3, stride=1, dilation=1, pad=1) -> ConvShape:
    hp, wp = h + 2 * pad, w + 2 * pad
    oh = (hp - dilation * (k - 1) - 1) // stride + 1
    ow = (wp - dilation * (k - 1) - 1) // stride + 1
    return ConvShape(
        (n, c, hp, wp),
        (c, 1, k, k),
        (n, c, oh, ow),
        (stride, stride),
        (dilation, dilation),
        c,
        (pad, pad, pad, pad),
    )


def test_applies_to_one_channel_per_group_only():
    assert applies(_shape(1, 136, 28, 28))
    grouped = ConvShape((1, 8, 6, 6), (8, 2, 3, 3), (1, 8, 4, 4), (1, 1), (1, 1), 4)
    multiplier = ConvShape((1, 4, 6, 6), (8, 1, 3, 3), (1, 8, 4, 4), (1, 1), (1, 1), 4)
    single = ConvShape((1, 1, 6, 6), (1, 1, 3, 3), (1, 1, 4, 4), (1, 1), (1, 1), 1)
    assert not applies(grouped) and not applies(multiplier) and not applies(single)


def test_shufflenet_layer_plan_on_the_default_chip():
    """136 channels: two tiles of 68; 28 output rows of 28 pixels: blocks of 14 rows
    (392 fp32, one bank each), both blocks in one band of 30 padded input rows."""
    tiles = plan_depthwise(DEFAULT, "dw", _shape(1, 136, 28, 28), "pe")
    assert isinstance(tiles, DepthwiseTiles)
    assert (tiles.tc, tiles.rb, tiles.nb, tiles.hb, tiles.partitions) == (
        68,
        14,
        2,
        30,
        68,
    )
    # weights 2 x 9 and biases 2 of both tiles, identity 68, diagonals 9 x 68, band
    # 30 x 30, two 392-pixel outputs
    assert tiles.sbuf_bytes == 128 + 64 + 320 + 2496 + 3648 + 2 * 1600
    assert tiles.psum_bytes == 2 * 1600


def test_bands_hold_at_most_the_psum_banks_and_shrink_to_fit_sbuf():
    """112 rows of 112 pixels: blocks of 4 rows (448 fp32), 28 blocks; the default
    chip's 8 banks take 7 of them per band. On the small chip (4 banks, 64 KiB) a
    19x19 kernel over rows of 500 pixels fits bands of two blocks, not four."""
    big = plan_depthwise(DEFAULT, "dw", _shape(1, 32, 112, 112), "pe")
    assert isinstance(big, DepthwiseTiles) and (big.rb, big.nb, big.hb) == (4, 7, 30)
    shape = _shape(1, 8, 8, 500, k=19, pad=9)
    wide = plan_depthwise(SMALL, "dw", shape, "pe")
    assert isinstance(wide, DepthwiseTiles) and (
        wide.tc,
        wide.rb,
        wide.nb,
        wide.hb,
    ) == (8, 1, 2, 20)
    assert (
        wide.sbuf_bytes
        == 58752
        <= SMALL.sbuf_partition_bytes
        < _need(shape, "pe", 8, 1, 4)[1]
    )


def test_the_plan_keeps_the_form_the_datasheet_charges_less():
    """ShuffleNet's layers: the PE form pays a 382-cycle stationary load per tap and
    band and 64 cycles at least per matmul, the vector form 64 per instruction; on
    7x7 images the vector form is 4x cheaper, on 112x112 still 8%."""
    for shape, pe_cycles, vector_cycles in [
        (_shape(1, 544, 7, 7), 9 * (64 + 382), 9 * (64 + 49)),
        (_shape(1, 136, 28, 28), 9 * (2 * 392 + 382), 9 * (64 + 784)),
        (_shape(1, 32, 112, 112), 4 * 9 * (7 * 448 + 382), 7 * 9 * (64 + 16 * 112)),
    ]:
        pe = plan_depthwise(DEFAULT, "dw", shape, "pe")
        vector = plan_depthwise(DEFAULT, "dw", shape, "vector")
        assert isinstance(pe, DepthwiseTiles) and isinstance(vector, DepthwiseTiles)
        assert (pe.cycles, vector.cycles) == (pe_cycles, vector_cycles)
        assert plan_depthwise(DEFAULT, "dw", shape) == vector


def test_bands_side_by_side_when_one_tile_leaves_partitions_idle():
    """MobileNet v2's first depthwise conv (32 channels at 112x112, too big to stay
    whole in SBUF): 4 bands of 28 rows on the 128 partitions, blocks of 14 rows, a
    quarter of the ACT and POOL cycles. A layer that fits whole, or of several
    channel tiles, keeps one band."""
    shape = _shape(1, 32, 112, 112)
    one = plan_depthwise(DEFAULT, "dw", shape, "vector", fma=True)
    four = plan_depthwise(DEFAULT, "dw", shape, "vector", fma=True, bands=True)
    assert isinstance(one, DepthwiseTiles) and isinstance(four, DepthwiseTiles)
    assert (one.bands, four.bands, four.rb, four.resident) == (1, 4, 14, False)
    assert four.cycles * 3 < one.cycles
    for whole in (_shape(1, 32, 16, 16), _shape(1, 96, 112, 112)):
        tiles = plan_depthwise(DEFAULT, "dw", whole, "vector", fma=True, bands=True)
        assert isinstance(tiles, DepthwiseTiles) and tiles.bands == 1


def test_small_images_stay_whole_in_sbuf():
    """ShuffleNet's 544-channel 7x7 layer: eight tiles of 68 channels, each image of
    49 pixels one block, all of them resident: one DMA in, one out for the layer.
    Two images, or a 64x64 image (4096 pixels, over one tile), go block by block."""
    tiles = plan_depthwise(DEFAULT, "dw", _shape(1, 544, 7, 7))
    assert isinstance(tiles, DepthwiseTiles) and tiles.form == "vector"
    assert (tiles.tc, tiles.rb, tiles.resident) == (68, 7, True)
    for shape in (_shape(2, 544, 7, 7), _shape(1, 32, 64, 64)):
        tiles = plan_depthwise(DEFAULT, "dw", shape)
        assert isinstance(tiles, DepthwiseTiles) and not tiles.resident


def test_a_halo_only_when_asked_for_a_padded_resident_conv():
    """The caller that can skip the pad nest asks for a halo: resident channel
    tiles then hold whole padded planes (9x9 for a 7x7 image) zeroed in SBUF. Not
    resident (two images) or not padded, no halo."""
    shape = _shape(1, 544, 7, 7)
    assert plan_depthwise(DEFAULT, "dw", shape).halo is False  # type: ignore[union-attr]
    tiles = plan_depthwise(DEFAULT, "dw", shape, halo=True)
    assert (
        isinstance(tiles, DepthwiseTiles)
        and tiles.halo
        and (tiles.hb, tiles.resident) == (9, True)
    )
    for other in (_shape(2, 544, 7, 7), _shape(1, 544, 9, 9, pad=0)):
        assert plan_depthwise(DEFAULT, "dw", other, halo=True).halo is False  # type: ignore[union-attr]


def test_in_place_taps_cover_the_outputs_their_windows_keep_inside_the_image():
    """A 3x3 pad-1 conv: the centre tap covers all outputs and goes first; the
    corner taps cover one row and one column fewer. Stride 2 on an even image: the
    centre tap still covers all (rows 0, 2, ... of the input); taps of the first
    row and column miss the first output row or column. A 4x4 kernel padded by 2 on
    a 4x4 image has no tap that covers every output, so the plan keeps the padded
    planes (halo) instead of reading in place."""
    rects = tap_rects(_shape(1, 8, 6, 6))
    assert rects[0] == (4, (6, 6), (0, 0), (0, 0))
    assert (0, (5, 5), (1, 1), (0, 0)) in rects and (8, (5, 5), (0, 0), (1, 1)) in rects
    strided = _shape(1, 8, 8, 8, stride=2)
    assert first_full_tap(strided) == 4
    assert (0, (3, 3), (1, 1), (1, 1)) in tap_rects(strided)
    assert (8, (4, 4), (0, 0), (1, 1)) in tap_rects(strided)
    no_full = _shape(1, 8, 4, 4, k=4, pad=2)
    assert first_full_tap(no_full) is None
    tiles = plan_depthwise(DEFAULT, "dw", no_full, halo=True, inplace=True)
    assert isinstance(tiles, DepthwiseTiles) and tiles.halo and not tiles.inplace
    tiles = plan_depthwise(DEFAULT, "dw", _shape(1, 544, 7, 7), halo=True, inplace=True)
    assert isinstance(tiles, DepthwiseTiles) and tiles.inplace and tiles.halo
    assert tiles.hb == 7  # the unpadded plane
    # no pixel limit but SBUF's: MobileNet v2's 144 channels at 56x56 (3,136 pixels
    # per channel tile) run in place; its 32 channels at 112x112 do not fit
    big = plan_depthwise(DEFAULT, "dw", _shape(1, 144, 56, 56), halo=True, inplace=True)
    assert isinstance(big, DepthwiseTiles) and big.inplace
    huge = plan_depthwise(DEFAULT, "dw", _shape(1, 32, 112, 112), halo=True, inplace=True)
    assert isinstance(huge, DepthwiseTiles) and not huge.inplace
    # two images are not resident: no in-place form
    tiles = plan_depthwise(DEFAULT, "dw", _shape(2, 544, 7, 7), halo=True, inplace=True)
    assert isinstance(tiles, DepthwiseTiles) and not tiles.inplace


def test_the_pe_array_takes_the_channel_tiles_that_even_the_engines():
    """depthwise_pe_split: ShuffleNet's 272-channel 14x14 layer (4 tiles of 68) on the
    default chip: ACT would run 9 taps per tile; the PE array takes 2 tiles (9
    diagonal matmuls of one 196-pixel block each) and ACT only evacuates those.
    Its 136-channel 28x28 layer takes blocks of 14 rows (392 pixels, one PSUM bank
    each). Without the split, or without a block row that fits a bank, none."""
    tiles = plan_depthwise(DEFAULT, "dw", _shape(1, 272, 14, 14), halo=True, inplace=True, pe_split=True)
    assert isinstance(tiles, DepthwiseTiles) and (tiles.tc, tiles.pe_tiles, tiles.pe_rb) == (68, 2, 14)
    tiles = plan_depthwise(DEFAULT, "dw", _shape(1, 136, 28, 28), halo=True, inplace=True, pe_split=True)
    assert isinstance(tiles, DepthwiseTiles) and (tiles.pe_tiles, tiles.pe_rb) == (1, 14)
    tiles = plan_depthwise(DEFAULT, "dw", _shape(1, 272, 14, 14), halo=True, inplace=True)
    assert isinstance(tiles, DepthwiseTiles) and tiles.pe_tiles == 0
    wide = plan_depthwise(SMALL, "dw", _shape(1, 8, 2, 600, k=1, pad=0), halo=True, inplace=True, pe_split=True)
    assert isinstance(wide, DepthwiseTiles) and wide.pe_tiles == 0  # a 600-pixel row is over a bank


def test_the_split_counts_the_work_beside_the_layer():
    """depthwise_split_context: ShuffleNet's 544-channel 7x7 layer (8 tiles of 68)
    alone puts 4 tiles on the PE array (back to back, each tile's first diagonal
    loading while the tile before streams); after the 544-channel 1x1 conv that writes
    its input (8.5 k PE cycles, 0.9 k ACT) every tile goes to ACT and POOL. The
    272-channel 14x14 layer keeps 2 of 4 beside its 3.5 k-cycle conv; a load on ACT
    moves more tiles to the PE array."""
    def split(shape, beside):
        tiles = plan_depthwise(DEFAULT, "dw", shape, halo=True, inplace=True, pe_split=True, beside=beside)
        assert isinstance(tiles, DepthwiseTiles)
        return tiles.pe_tiles

    small = _shape(1, 544, 7, 7)
    assert split(small, None) == 4
    assert split(small, {"pe": 8510.0, "act": 904.0}) == 0
    mid = _shape(1, 272, 14, 14)
    assert split(mid, {"pe": 3518.0, "act": 1040.0}) == 2
    assert split(mid, {"act": 20000.0}) == 4


def test_fma_leaves_act_the_first_tap_and_the_split_weighs_pool():
    """depthwise_fma: per vector tile ACT writes the first (centre) tap only, POOL one
    instruction per other tap, as without it. ShuffleNet's 136-channel 28x28 layer
    after its 1x1 conv keeps one tile on the PE array; the 14x14 one, whose
    producer's PE cycles delay ACT and POOL by a quarter of them (one of 4 tiles),
    keeps one (POOL 3 x 1.9 k + lead against PE 3.5 k + 2 x 2.0 k)."""
    shape = _shape(1, 136, 28, 28)
    act, pool, _, _ = _inplace_costs(DEFAULT, shape, 68, fma=True)
    act_pair, pool_pair, _, _ = _inplace_costs(DEFAULT, shape, 68)
    first = tap_rects(shape)[0][1]
    assert act == DEFAULT.act_fixed_cycles + first[0] * first[1]
    assert pool == pool_pair and act_pair > 8 * act

    def split(shape, beside):
        tiles = plan_depthwise(
            DEFAULT, "dw", shape, halo=True, inplace=True, pe_split=True, beside=beside, fma=True
        )
        assert isinstance(tiles, DepthwiseTiles) and tiles.fma
        return tiles.pe_tiles

    assert split(shape, {"pe": 3518.0, "act": 1824.0}) == 1
    assert split(_shape(1, 272, 14, 14), {"pe": 3518.0, "act": 1040.0}) == 1


def test_pool_first_moves_the_first_tap_to_pool_and_the_split_follows():
    """depthwise_pool_first: per vector tile POOL runs every tap (the first one's
    tensor_tensor over the whole sum, which depthwise_fma leaves to ACT) and ACT none,
    so POOL's cycles grow by exactly that instruction. ShuffleNet's 544-channel 7x7
    layer after its 1x1 conv (2.4 k PE cycles) then hands 3 of its 8 tiles to the PE
    array instead of 2: POOL 5 x 0.94 k beside PE 2.4 k + 3 x 1.15 k. Without fma it
    does nothing."""
    shape = _shape(1, 544, 7, 7)
    act, pool, pe, _ = _inplace_costs(DEFAULT, shape, 68, fma=True)
    act_p, pool_p, pe_p, _ = _inplace_costs(DEFAULT, shape, 68, fma=True, pool_first=True)
    first = tap_rects(shape)[0][1]
    assert act_p == 0.0 and pe_p == pe
    assert pool_p - pool == DEFAULT.pool_fixed_cycles + first[0] * first[1]
    assert _inplace_costs(DEFAULT, shape, 68, pool_first=True)[:2] == _inplace_costs(DEFAULT, shape, 68)[:2]

    def plan(**kw):
        tiles = plan_depthwise(
            DEFAULT, "dw", shape, halo=True, inplace=True, pe_split=True,
            beside={"pe": 2366.0, "act": 904.0}, fma=True, **kw,
        )
        assert isinstance(tiles, DepthwiseTiles)
        return tiles

    assert (plan().pe_tiles, plan().pool_first) == (2, False)
    assert (plan(pool_first=True).pe_tiles, plan(pool_first=True).pool_first) == (3, True)
    unfused = plan_depthwise(DEFAULT, "dw", shape, halo=True, inplace=True, pe_split=True, pool_first=True)
    assert isinstance(unfused, DepthwiseTiles) and not unfused.pool_first


def test_warm_pe_tiles_pay_the_stationary_load_their_streaming_does_not_hide():
    """The PE tiles of a split run back to back: a tile after another (or after the
    producer's matmuls) loads its first diagonal while the matmul before streams, so
    only 128 - 64 cycles of that load show, not the cold array's load and fill/drain
    (the 7x7 tile: 9 matmuls of 128 cycles, 1,152, against 1,470 cold)."""
    shape = _shape(1, 544, 7, 7)
    cold = _inplace_costs(DEFAULT, shape, 68)[2]
    warm = _inplace_costs(DEFAULT, shape, 68, warm=True)[2]
    assert (cold, warm) == (1470.0, 1152.0)


@pytest.mark.parametrize("fma", [False, True, "pool_first"])
@pytest.mark.parametrize("chip", [SMALL, DEFAULT])
@pytest.mark.parametrize(
    "shape,bias,addend,activation",
    [
        (_shape(1, 40, 9, 9), True, False, "relu"),
        (_shape(1, 60, 12, 12, stride=2), False, True, "identity"),
        (_shape(1, 20, 10, 10, k=5, pad=2), True, True, "relu"),
        (_shape(1, 40, 24, 24), True, False, "identity"),  # several PSUM blocks on small
    ],
)
def test_pe_tiles_and_vector_tiles_compute_a_depthwise_conv(chip, shape, bias, addend, activation, fma):
    """The in-place nest with the first channel tile on the PE array (diagonals of
    constant weights, each tap accumulating over its rectangle of each PSUM block)
    and the others on ACT and POOL (`fma`: POOL's multiply-adds; "pool_first":
    POOL's first tap too, plus the broadcast bias, or without a bias times the
    broadcast weight column), on the loop
    interpreter and, lowered, on the hardware model, against NumPy."""
    planned = plan_depthwise(chip, "dw", shape, halo=True, inplace=True)
    assert isinstance(planned, DepthwiseTiles) and planned.inplace
    rb = _pe_block_rows(chip, shape)
    tiles = replace(planned, pe_tiles=1, pe_rb=rb, fma=bool(fma), pool_first=fma == "pool_first")
    rng = np.random.default_rng(5)
    wv = rng.uniform(-1, 1, shape.weight).astype(np.float32)
    types = [MemRefType(f32, _input_shape(shape, tiles))]
    if bias:
        types.append(MemRefType(f32, (shape.out[1],)))
    if addend:
        types.append(MemRefType(f32, shape.out))
    block = Block(arg_types=types)
    xp, *rest = block.args
    b = rest.pop(0) if bias else None
    add = rest.pop(0) if addend else None
    w = ConstOp(dense_f32(wv))
    y = AllocOp(MemRefType(f32, shape.out))
    ops = depthwise(tiles, xp, w.result, b, y.result, shape, activation=activation, addend=add, weights=wv)
    block.add_ops([w, y, *ops, ReturnOp(y.result)])
    module = ModuleOp([FuncOp("main", (types, [MemRefType(f32, shape.out)]), Region(block))])
    module.verify()
    nest = next(op for op in module.walk() if isinstance(op, NestOp))
    matmuls = [op for op in nest.walk() if isinstance(op, MatmulOp)]
    blocks = shape.out[2] // rb
    assert len(matmuls) == sum(len(tap_rects(shape, (b0, b0 + rb))) for b0 in range(0, shape.out[2], rb))
    assert blocks >= 1 and {m.stationary_ap.pcount for m in matmuls} == {tiles.tc}
    inputs = _inputs(module, 3)
    args = list(inputs.values())
    xv = np.pad(args[0], ((0, 0), (0, 0), *[(p, p) for p in shape.pads[:2]]))
    want = _reference(xv, wv, args[1] if bias else None, args[-1] if addend else None, shape, activation)
    got = eval_loop(module, inputs)["result0"]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    _, after_graph_to_loop = split_after(lowering_passes(chip.name), GraphToLoopPass)
    run_passes(after_graph_to_loop, module)
    np.testing.assert_allclose(eval_binary(module, inputs)["result0"], want, rtol=1e-5, atol=1e-5)


def test_the_pe_array_takes_rows_of_a_tile_the_vectors_would_run_alone():
    """depthwise_pe_rows: ShuffleNet's first 28x28 depthwise conv (112 channels, one
    tile, stride 2 from 56x56) ran every tap on ACT and POOL (6.6 k cycles by the
    datasheet): the PE array now takes its first 14 output rows (one PSUM block),
    ACT and POOL the other 14. Without the option, none; a layer of several tiles
    whose whole-tile split is even keeps it."""
    shape = _shape(1, 112, 56, 56, stride=2)
    plain = plan_depthwise(DEFAULT, "dw", shape, halo=True, inplace=True, pe_split=True, fma=True)
    rows = plan_depthwise(DEFAULT, "dw", shape, halo=True, inplace=True, pe_split=True, fma=True, pe_rows=True)
    assert isinstance(plain, DepthwiseTiles) and (plain.pe_tiles, plain.pe_rows) == (0, 0)
    assert isinstance(rows, DepthwiseTiles) and (rows.pe_tiles, rows.pe_rb, rows.pe_rows) == (0, 14, 14)
    assert rows.cycles < 0.6 * plain.cycles
    even = plan_depthwise(DEFAULT, "dw", _shape(1, 272, 14, 14), halo=True, inplace=True, pe_split=True, pe_rows=True)
    assert isinstance(even, DepthwiseTiles) and (even.pe_tiles, even.pe_rows) == (2, 0)


@pytest.mark.parametrize("chip", [SMALL, DEFAULT])
@pytest.mark.parametrize("fma", [False, True])
@pytest.mark.parametrize("whole", [0, 1])
def test_rows_of_a_tile_on_the_pe_array_compute_a_depthwise_conv(chip, fma, whole):
    """`pe_rows`: the first PSUM block of output rows of the last vector tile on the
    PE array (after `whole` whole PE tiles), the tile's other rows on ACT and POOL
    (each tap over its rectangle within them): the loop interpreter and, lowered,
    the hardware model against NumPy."""
    shape = _shape(1, 40, 24, 24)
    planned = plan_depthwise(chip, "dw", shape, halo=True, inplace=True)
    assert isinstance(planned, DepthwiseTiles) and planned.inplace
    rb = _pe_block_rows(chip, shape)
    tiles_n = shape.padded[1] // planned.tc
    if whole >= tiles_n:
        whole = tiles_n - 1  # (one tile on the default chip: its rows only)
    tiles = replace(planned, pe_tiles=whole, pe_rb=rb, pe_rows=rb, fma=fma)
    rng = np.random.default_rng(7)
    wv = rng.uniform(-1, 1, shape.weight).astype(np.float32)
    types = [MemRefType(f32, _input_shape(shape, tiles)), MemRefType(f32, (shape.out[1],))]
    block = Block(arg_types=types)
    xp, b = block.args
    w = ConstOp(dense_f32(wv))
    y = AllocOp(MemRefType(f32, shape.out))
    ops = depthwise(tiles, xp, w.result, b, y.result, shape, activation="relu", weights=wv)
    block.add_ops([w, y, *ops, ReturnOp(y.result)])
    module = ModuleOp([FuncOp("main", (types, [MemRefType(f32, shape.out)]), Region(block))])
    module.verify()
    nest = next(op for op in module.walk() if isinstance(op, NestOp))
    matmuls = [op for op in nest.walk() if isinstance(op, MatmulOp)]
    per_tile = sum(len(tap_rects(shape, (b0, b0 + rb))) for b0 in range(0, shape.out[2], rb))
    assert len(matmuls) == whole * per_tile + len(tap_rects(shape, (0, rb)))
    inputs = _inputs(module, 3)
    args = list(inputs.values())
    xv = np.pad(args[0], ((0, 0), (0, 0), *[(p, p) for p in shape.pads[:2]]))
    want = _reference(xv, wv, args[1], None, shape, "relu")
    np.testing.assert_allclose(eval_loop(module, inputs)["result0"], want, rtol=1e-5, atol=1e-5)
    _, after_graph_to_loop = split_after(lowering_passes(chip.name), GraphToLoopPass)
    run_passes(after_graph_to_loop, module)
    np.testing.assert_allclose(eval_binary(module, inputs)["result0"], want, rtol=1e-5, atol=1e-5)


def test_refusals_on_the_small_chip():
    """A 31x31 kernel's 961 diagonals of 32 channels take 120 KiB per partition, over
    the small chip's 64 KiB, so the PE form is refused (the default chip's 192 KiB
    holds them) and the vector form, which needs no diagonals, runs it. Rows of 600
    pixels exceed a PSUM bank but fit a vector tile; with a 9x9 kernel, rows of
    2000 pixels fit neither form: the vector form's reason is given."""
    huge = _shape(1, 32, 40, 40, k=31, pad=15)
    assert plan_depthwise(SMALL, "lk", huge, "pe") == Refusal(
        "'lk' needs 139904 bytes per SBUF partition, chip 'small' has 65536"
    )
    assert isinstance(plan_depthwise(DEFAULT, "lk", huge, "pe"), DepthwiseTiles)
    planned = plan_depthwise(SMALL, "lk", huge)
    assert isinstance(planned, DepthwiseTiles) and planned.form == "vector"
    wide = _shape(1, 4, 2, 600)
    assert plan_depthwise(SMALL, "w", wide, "pe") == Refusal(
        "'w': output rows of 600 pixels exceed one PSUM bank (512 fp32) on chip 'small'"
    )
    planned = plan_depthwise(SMALL, "w", wide)
    assert isinstance(planned, DepthwiseTiles) and planned.form == "vector"
    assert plan_depthwise(SMALL, "w", _shape(1, 4, 2, 2000, k=9, pad=4)) == Refusal(
        "'w' needs 96768 bytes per SBUF partition, chip 'small' has 65536"
    )


# ---------------------------------------------------------------------------
# The nest against NumPy
# ---------------------------------------------------------------------------


def _reference(xp, w, b, add, shape: ConvShape, activation: str) -> np.ndarray:
    _, _, oh, ow = shape.out
    _, _, kh, kw = shape.weight
    sh, sw = shape.strides
    dh, dw = shape.dilations
    y = np.zeros(shape.out, np.float64)
    for r in range(kh):
        for s in range(kw):
            win = xp[
                :,
                :,
                r * dh : r * dh + (oh - 1) * sh + 1 : sh,
                s * dw : s * dw + (ow - 1) * sw + 1 : sw,
            ]
            y += win * w[None, :, 0, r, s, None, None]
    if b is not None:
        y += b[None, :, None, None]
    if add is not None:
        y += add
    return np.maximum(y, 0) if activation == "relu" else y


def _module(
    shape: ConvShape, chip, bias: bool, addend: bool, activation: str, form: str
) -> tuple[ModuleOp, DepthwiseTiles]:
    """The nest of `form` ("pe", "vector", "halo": the vector form asked for a
    halo, whose input is then unpadded, or "inplace": asked to read the unpadded
    input as it lies; "fma", "fma-inplace": "vector" and "inplace" with POOL's
    multiply-adds) in a function of its operands."""
    if form == "halo":
        tiles = plan_depthwise(chip, "dw", shape, "vector", halo=True, inplace=False)
    elif form == "inplace":
        tiles = plan_depthwise(chip, "dw", shape, "vector", halo=True, inplace=True)
    elif form == "fma":
        tiles = plan_depthwise(chip, "dw", shape, "vector", fma=True)
    elif form == "fma-inplace":
        tiles = plan_depthwise(chip, "dw", shape, "vector", halo=True, inplace=True, fma=True)
    elif form == "bands":
        tiles = plan_depthwise(chip, "dw", shape, "vector", fma=True, bands=True)
    elif form == "bands-act":
        tiles = plan_depthwise(chip, "dw", shape, "vector", bands=True)
    else:
        tiles = plan_depthwise(chip, "dw", shape, form)
    assert isinstance(tiles, DepthwiseTiles)
    types = [MemRefType(f32, _input_shape(shape, tiles)), MemRefType(f32, shape.weight)]
    if bias:
        types.append(MemRefType(f32, (shape.out[1],)))
    if addend:
        types.append(MemRefType(f32, shape.out))
    block = Block(arg_types=types)
    xp, w, *rest = block.args
    b = rest.pop(0) if bias else None
    add = rest.pop(0) if addend else None
    y = AllocOp(MemRefType(f32, shape.out))
    ops = depthwise(tiles, xp, w, b, y.result, shape, activation=activation, addend=add)
    block.add_ops([y, *ops, ReturnOp(y.result)])
    fn = FuncOp("main", (types, [MemRefType(f32, shape.out)]), Region(block))
    module = ModuleOp([fn])
    module.verify()
    return module, tiles


def _input_shape(shape: ConvShape, tiles: DepthwiseTiles) -> tuple[int, ...]:
    if not tiles.halo:
        return shape.padded
    n, c, hp, wp = shape.padded
    pt, pl, pb, pr = shape.pads
    return (n, c, hp - pt - pb, wp - pl - pr)


CASES = [
    # (shape, chip, bias, addend, activation)
    (_shape(1, 136, 28, 28), DEFAULT, False, False, "identity"),
    (_shape(2, 12, 10, 7, stride=2), SMALL, True, False, "relu"),
    (_shape(1, 40, 9, 9, k=3, dilation=2, pad=2), SMALL, True, True, "relu"),
    (_shape(1, 6, 20, 30, k=5, pad=2), SMALL, False, True, "identity"),
    (_shape(1, 24, 8, 8, stride=2), SMALL, True, False, "relu"),
    (_shape(1, 10, 9, 9, k=5, stride=2, pad=2), DEFAULT, True, True, "identity"),
    # too big to stay whole: with bands, 4 bands of 16 rows side by side
    (_shape(1, 8, 64, 64), SMALL, True, True, "relu"),
]


def _structure(
    module: ModuleOp, tiles: DepthwiseTiles, shape: ConvShape, bias: bool, addend: bool
) -> None:
    """The instructions each form promises: one per tap for a whole block of the
    channel tile, and the PE form's diagonals built on chip from one identity."""
    nest = next(op for op in module.walk() if isinstance(op, NestOp))
    scaled = [op for op in nest.walk() if isinstance(op, ActOp) and op.scale_col]
    matmuls = [op for op in nest.walk() if isinstance(op, MatmulOp)]
    adds = [op for op in nest.walk() if isinstance(op, TensorTensorOp)]
    consts = [op for op in module.walk() if isinstance(op, ConstOp)]
    extra = 1 if addend else 0
    taps = shape.weight[2] * shape.weight[3]
    block = tiles.rb * shape.out[3]
    copies = [op for op in nest.walk() if isinstance(op, CopyOp)]
    # weights and biases of every channel tile: one copy each, before the loops
    held = list(module.ops.first.body.block.args[1 : 3 if bias else 2])  # type: ignore[union-attr]
    loads = [c for c in copies if c.src in held]
    assert len(loads) == len(held) * tiles.bands and all(c.parent_op() is nest for c in loads)
    if tiles.inplace:  # per channel tile, every tap whose window meets the image, one full
        rects, n_tiles = tap_rects(shape), shape.padded[1] // tiles.tc
        assert len(scaled) == n_tiles * len(rects) and not matmuls and not consts
        assert scaled[0].dst_ap.free_elements == shape.out[2] * shape.out[3]
        assert len(adds) == n_tiles * (len(rects) - 1 + extra)
        assert len(copies) == (2 if bias else 1) + 2 + n_tiles * extra
        return
    if tiles.form == "vector":
        assert len(scaled) == taps and not matmuls and not consts
        # every instruction covers the bands' partitions; each band loads and
        # stores its own rows, and holds its own copy of the weights and biases
        assert {a.dst_ap.pcount for a in scaled} == {tiles.bands * tiles.tc}
        band_loads = [c for c in copies if c.src is module.ops.first.body.block.args[0]]  # type: ignore[union-attr]
        assert sorted(c.dst_ap.pstart.base for c in band_loads) == [b * tiles.tc for b in range(tiles.bands)]
        if tiles.resident:  # [weights, bias,] input, [addend per tile,] output
            assert len(copies) == (2 if bias else 1) + 2 + extra
        assert len(adds) == taps - 1 + extra
        assert {a.dst_ap.free_elements for a in scaled} == {block}
        return
    assert len(scaled) == taps and len(matmuls) == taps * tiles.nb
    assert {a.dst_ap.free_elements for a in scaled} == {tiles.tc}  # the diagonals
    assert {m.moving_ap.free_elements for m in matmuls} == {block}
    assert len(adds) == tiles.nb * extra
    # every matmul spans the channel tile on rows and columns of the array
    assert {
        (m.stationary_ap.pcount, m.stationary_ap.free_elements) for m in matmuls
    } == {(tiles.tc, tiles.tc)}
    (ident,) = consts
    assert ident.result.type.get_shape() == (tiles.tc, tiles.tc)


def _inputs(module: ModuleOp, seed: int) -> dict[str, np.ndarray]:
    fn = module.ops.first
    assert isinstance(fn, FuncOp)
    rng = np.random.default_rng(seed)
    return {
        f"arg{i}": rng.uniform(-1, 1, a.type.get_shape()).astype(np.float32)  # type: ignore[attr-defined]
        for i, a in enumerate(fn.body.block.args)
    }


@pytest.mark.parametrize("form", ["pe", "vector", "halo", "inplace", "fma", "fma-inplace", "bands-act"])
@pytest.mark.parametrize("shape,chip,bias,addend,activation", CASES)
def test_the_nest_computes_a_depthwise_conv(
    shape, chip, bias, addend, activation, form
):
    module, tiles = _module(shape, chip, bias, addend, activation, form)
    inputs = _inputs(module, 1)
    args = list(inputs.values())
    xp, w = args[0], args[1]
    if tiles.halo:
        pt, pl, pb, pr = shape.pads
        xp = np.pad(xp, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    b = args[2] if bias else None
    add = args[-1] if addend else None
    (got,) = eval_loop(module, inputs).values()
    want = _reference(xp, w, b, add, shape, activation)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    if tiles.fma:  # per tile: ACT's first tap, then one multiply-add per other tap
        fmas = [op for op in module.walk() if isinstance(op, TensorTensorOp) and op.scale_col is not None]
        firsts = [op for op in module.walk() if isinstance(op, ActOp) and op.scale_col is not None]
        taps = len(tap_rects(shape)) if tiles.inplace else shape.taps
        assert firsts and len(fmas) == (taps - 1) * len(firsts)
    else:
        _structure(module, tiles, shape, bias, addend)


@pytest.mark.parametrize("form", ["pe", "vector", "halo", "inplace", "fma", "fma-inplace", "bands"])
@pytest.mark.parametrize("case", [CASES[1], CASES[2], CASES[4], CASES[5], CASES[6]])
def test_the_lowered_program_computes_the_same(case, form):
    """loop-allocate through the split streams, then the hardware model on the
    binary: what the array holds is the diagonals ACT built (PE form), the two
    product tiles alternate safely between ACT and POOL (vector form)."""
    shape, chip, bias, addend, activation = case
    module, _ = _module(shape, chip, bias, addend, activation, form)
    inputs = _inputs(module, 2)
    want = eval_loop(module, inputs)["result0"]
    _, after_graph_to_loop = split_after(lowering_passes(chip.name), GraphToLoopPass)
    run_passes(after_graph_to_loop, module)
    got = eval_binary(module, inputs)["result0"]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)

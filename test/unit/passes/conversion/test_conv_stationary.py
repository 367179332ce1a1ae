"""The stationary and tap-packed conv nests (kernels/conv.py): their plans' sizes,
fallbacks and refusals, and the nests run by the loop interpreter against a NumPy
conv (with bias, activation and addend), then lowered to the machine and run on the
hardware model; with `stationary` and `pack_taps` off, the old plan."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from tidal.passes.conversion.graph_to_loop import GraphToLoopPass
from tidal.passes.pipeline import lowering_passes, run_passes, split_after
import pytest
from tidal.dialects.loop import (
    ActOp,
    AllocOp,
    CopyOp,
    MatmulOp,
    MemsetOp,
    TensorTensorOp,
)
from tidal.passes.conversion.kernels.conv import (
    ConvShape,
    ConvTiles,
    StationaryTiles,
    HALO_PARTS,
    conv2d,
    halo_bounds,
    plan_conv2d,
)
from tidal.passes.conversion.kernels.plan import KernelOptions, Refusal
from tidal.passes.interpreters.accel import eval_binary
from tidal.passes.interpreters.loop import eval_loop
from tidal.sim.config import get_chip
from xdsl.dialects.builtin import MemRefType, ModuleOp, f32
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Region

SMALL = get_chip("small")
DEFAULT = get_chip("default")
OFF = KernelOptions(stationary=False, pack_taps=False)
STATIONARY = KernelOptions(pack_taps=False)
PACKED = KernelOptions(stationary=False)
ON = KernelOptions()
UNIFORM = KernelOptions(ragged_tiles=False)
UNPAIRED = KernelOptions(row_taps=False)
PADDED = KernelOptions(conv_inplace=False)
UNCLIPPED = KernelOptions(stationary=False, im2col_clip=False)
NO_ROW_PACK = KernelOptions(row_pack=False)
WHOLE_HALO = KernelOptions(halo_chunks=False)


def _shape(n, cin, cout, h, w, k=3, stride=1, pad=1, dilation=1, group=1) -> ConvShape:
    hp, wp = h + 2 * pad, w + 2 * pad
    oh = (hp - dilation * (k - 1) - 1) // stride + 1
    ow = (wp - dilation * (k - 1) - 1) // stride + 1
    return ConvShape(
        (n, cin, hp, wp), (cout, cin // group, k, k), (n, cout, oh, ow),
        (stride, stride), (dilation, dilation), group, (pad, pad, pad, pad),
    )


# -- plans --------------------------------------------------------------------


def test_a_resnet_3x3_layer_keeps_its_input_resident_with_a_halo():
    """128 -> 64 channels at 56x56: blocks of 8 rows of 56 (448 fp32), all 7 blocks
    in 7 PSUM banks at once; the padded 58x58 planes (13456 bytes, 64-aligned) and
    the 9 taps' weights stay in SBUF, the borders zeroed on chip (no pad nest); with
    `conv_inplace` the input is read unpadded where it lies (the bytes reserved are
    the padded plane's either way); without it the plane is loaded in one piece
    per block (`halo_chunks`). (Without row-pack: 64 output channels would take
    two rows a matmul.)"""
    tiles = plan_conv2d(DEFAULT, "c", _shape(1, 128, 64, 56, 56), replace(PADDED, row_pack=False))
    # one output tile: its 56 rows are the one group's 7 banks
    assert tiles == StationaryTiles(
        "c", 128, 13504 + 9 * 64 * 4 + 7 * 448 * 4 + 64, 7 * 448 * 4,
        rb=8, nb=7, rows=56, hband=58, tci=128, tco=64, halo=True, pack=0, addend=False,
        all_weights=True, all_outputs=True, halo_parts=7,
    )
    assert plan_conv2d(DEFAULT, "c", _shape(1, 128, 64, 56, 56), NO_ROW_PACK) == replace(tiles, inplace=True, halo_parts=1)


def test_the_weights_of_every_output_tile_stay_when_they_fit():
    """128 -> 512 channels, 3x3 on the small chip: 16 output tiles of 32 x 4 input
    tiles x 9 taps = 73728 bytes per partition do not fit 64 KiB, so one output
    tile's weights load per tile (4608 bytes), while the outputs of all 16 tiles
    (64 pixels each) and their bias columns stay; 128 -> 64 channels fit whole."""
    big = plan_conv2d(SMALL, "c", _shape(1, 128, 512, 8, 8))
    assert isinstance(big, StationaryTiles) and big.halo and not big.all_weights and big.all_outputs
    assert big.sbuf_bytes == 4 * 10 * 10 * 4 + 4 * 9 * 32 * 4 + 16 * 64 * 4 + 64
    small = plan_conv2d(SMALL, "c", _shape(1, 128, 64, 8, 8))
    assert isinstance(small, StationaryTiles) and small.all_weights and small.all_outputs
    assert small.sbuf_bytes == 4 * 10 * 10 * 4 + 4 * 9 * 64 * 4 + 2 * 64 * 4 + 64
    # without room for every output tile's rows: one group's rows at a time
    tight = plan_conv2d(SMALL, "c", _shape(1, 32, 512, 60, 60))
    assert isinstance(tight, StationaryTiles) and tight.halo and not tight.all_outputs


def test_each_group_keeps_its_weights_and_bias_in_regions_of_its_own():
    """A conv of 4 groups whose weights all fit (ShuffleNet's 544-channel 7x7
    grouped conv, 136 input channels per group, on the default chip): the weight
    tile holds every group's output tiles and the bias tile every group's columns,
    and the copies into them step with the group loop, so no group's loads wait
    for the previous group's matmuls or evacuations (the weight queue runs ahead)."""
    shape = _shape(1, 544, 544, 7, 7, k=1, pad=0, group=4)
    module, tiles, nest = _module(shape, DEFAULT, ON, True, False, "identity")
    assert isinstance(tiles, StationaryTiles) and tiles.all_weights
    w, b = list(module.ops.first.body.block.args[1:3])  # type: ignore[union-attr]
    (g_dim,) = [i for i, trip in enumerate(nest.domain_val) if trip == 4]
    for arg in (w, b):
        copies = [op for op in nest.walk() if isinstance(op, CopyOp) and op.src is arg]
        assert copies and all(c.dst_ap.offset.step(g_dim) > 0 for c in copies)


def test_a_packed_stem_of_few_output_channels_runs_bands_side_by_side():
    """conv_bands: ShuffleNet's stem (3 -> 24 channels, 3x3 stride 2, 224x224): 27
    im2col rows and 24 output channels, so 4 bands of 28 output rows fill 108 PE
    rows and 96 columns; the stationary operand is [108, 96], block-diagonal; one
    matmul per block of 4 rows does all 4 bands. With conv_bands off, one band;
    ResNet's 7x7 stem (147 im2col rows, two packs) never bands."""
    stem = _shape(1, 3, 24, 224, 224, stride=2)
    tiles = plan_conv2d(DEFAULT, "c", stem)
    assert isinstance(tiles, StationaryTiles) and (tiles.bands, tiles.pack, tiles.rows, tiles.nb) == (4, 9, 28, 7)
    off = plan_conv2d(DEFAULT, "c", stem, replace(ON, conv_bands=False))
    assert isinstance(off, StationaryTiles) and off.bands == 1
    resnet = plan_conv2d(DEFAULT, "c", _shape(1, 3, 64, 224, 224, k=7, stride=2, pad=3))
    assert isinstance(resnet, StationaryTiles) and resnet.bands == 1
    vgg = plan_conv2d(DEFAULT, "c", _shape(1, 3, 64, 224, 224))
    assert isinstance(vgg, StationaryTiles) and vgg.bands == 1
    _, _, nest = _module(stem, DEFAULT, ON, True, False, "relu")
    (mm, *rest) = [op for op in nest.walk() if isinstance(op, MatmulOp)]
    assert (mm.stationary_ap.pcount, mm.stationary_ap.free_elements) == (108, 96)
    assert mm.acc.type.partitions.data == 96 and len(rest) == 6  # 7 blocks, one matmul each


def test_the_stem_packs_taps_on_the_pe_rows():
    """3 channels, 7x7 taps: 42 taps fit 128 rows, so two packs of 25 (75 rows)
    and 24; the im2col of all 112 output rows (two packs of 112x112) fits SBUF.
    With im2col-reuse (the default), one pack of kernel columns 0-3 (28 taps, 84
    rows), each of its 112 rows 114 columns wide."""
    shape = _shape(1, 3, 64, 224, 224, k=7, stride=2, pad=3)
    tiles = plan_conv2d(DEFAULT, "stem", shape, replace(ON, im2col_reuse=False))
    assert isinstance(tiles, StationaryTiles)
    assert (tiles.pack, tiles.tci, tiles.partitions, tiles.rows, tiles.nb, tiles.rb) == (25, 3, 75, 112, 7, 4)
    assert not tiles.halo  # the packed nest reads the padded input
    assert tiles.sbuf_bytes == 2 * 112 * 112 * 4 + 2 * 64 * 4 + 112 * 112 * 4 + 64
    reused = plan_conv2d(DEFAULT, "stem", shape)
    assert isinstance(reused, StationaryTiles)
    assert (reused.pack, reused.reuse, reused.partitions, reused.rows) == (28, 4, 84, 112)
    assert reused.sbuf_bytes == 112 * 114 * 4 + 2 * 64 * 4 + 112 * 112 * 4 + 64
    # pack_taps alone: one bank per group; stationary alone: one tap per matmul
    alone = plan_conv2d(DEFAULT, "stem", shape, replace(PACKED, im2col_reuse=False))
    assert isinstance(alone, StationaryTiles) and (alone.pack, alone.nb) == (25, 1)
    unpacked = plan_conv2d(DEFAULT, "stem", _shape(1, 3, 64, 224, 224, k=7, stride=2, pad=3), STATIONARY)
    assert isinstance(unpacked, StationaryTiles) and unpacked.pack == 0
    assert not unpacked.halo and unpacked.rows < 112  # 3 x 230 x 230 planes do not fit: bands


def test_an_input_too_big_to_stay_resident_falls_back_to_bands():
    """128 channels of 66x66 padded planes (four tiles of 32 on the small chip) do
    not fit 64 KiB: bands of one group (4 banks of 8 rows of 64) = 32 output rows,
    34 padded input rows, read from the padded input in DRAM."""
    tiles = plan_conv2d(SMALL, "c", _shape(1, 128, 32, 64, 64))
    assert isinstance(tiles, StationaryTiles)
    assert (tiles.halo, tiles.rows, tiles.hband, tiles.nb, tiles.rb, tiles.tci) == (False, 32, 34, 4, 8, 32)
    assert tiles.sbuf_bytes <= SMALL.sbuf_partition_bytes


def test_with_both_options_off_the_plan_is_the_old_nest():
    shape = _shape(1, 48, 40, 7, 9)
    assert plan_conv2d(SMALL, "c", shape, OFF) == ConvTiles(
        "c", 24, 768 + 448 + 256 + 64, 63 * 4, rb=7, hb=9, tci=24, tco=20
    )


def test_an_addend_reserves_one_more_output_tile():
    shape = _shape(1, 48, 40, 7, 9)
    plain, added = plan_conv2d(SMALL, "c", shape), plan_conv2d(SMALL, "c", shape, addend=True)
    assert isinstance(plain, StationaryTiles) and isinstance(added, StationaryTiles)
    assert added.sbuf_bytes - plain.sbuf_bytes == 512  # both output tiles' 63 fp32, 64-byte aligned
    old = plan_conv2d(SMALL, "c", shape, OFF, addend=True)
    assert isinstance(old, ConvTiles) and old.sbuf_bytes == 768 + 448 + 256 + 64 + 256


def test_refused_only_when_the_old_nest_does_not_fit_either():
    """One input row of 20000 pixels (stride 40: 500 output pixels) holds 80000
    bytes per partition in any band: refused with the old nest's sizes."""
    shape = ConvShape((1, 4, 1, 20000), (8, 4, 1, 1), (1, 8, 1, 500), (40, 40), (1, 1), 1)
    assert plan_conv2d(SMALL, "c", shape) == Refusal(
        "'c' needs 82176 bytes per SBUF partition, chip 'small' has 65536"
    )
    wide = ConvShape((1, 4, 1, 600), (8, 4, 1, 1), (1, 8, 1, 600), (1, 1), (1, 1), 1)
    assert plan_conv2d(SMALL, "w", wide) == Refusal(
        "'w': output rows of 600 pixels exceed one PSUM bank (512 fp32) on chip 'small'"
    )


# -- nests --------------------------------------------------------------------


def _module(shape: ConvShape, chip, options, bias: bool, addend: bool, activation: str, reader_bands: int = 0):
    tiles = plan_conv2d(chip, "c", shape, options, addend=addend, reader_bands=reader_bands)
    assert not isinstance(tiles, Refusal)
    halo = isinstance(tiles, StationaryTiles) and tiles.unpadded
    n, c, hp, wp = shape.padded
    pt, pl, pb, pr = shape.pads
    x_shape = (n, c, hp - pt - pb, wp - pl - pr) if halo else shape.padded
    types = [MemRefType(f32, x_shape), MemRefType(f32, shape.weight)]
    if bias:
        types.append(MemRefType(f32, (shape.out[1],)))
    if addend:
        types.append(MemRefType(f32, shape.out))
    block = Block(arg_types=types)
    x, w, *rest = block.args
    b = rest.pop(0) if bias else None
    add = rest.pop(0) if addend else None
    y = AllocOp(MemRefType(f32, shape.out))
    nest = conv2d(tiles, x, w, b, y.result, shape, activation=activation, addend=add)
    block.add_ops([y, nest, ReturnOp(y.result)])
    module = ModuleOp([FuncOp("main", (types, [MemRefType(f32, shape.out)]), Region(block))])
    module.verify()
    return module, tiles, nest


def _reference(x, w, b, add, shape: ConvShape, halo: bool, activation: str) -> np.ndarray:
    pt, pl, pb, pr = shape.pads
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr))) if halo else x
    _, _, oh, ow = shape.out
    cout, cg, kh, kw = shape.weight
    (sh, sw), (dh, dw), g = shape.strides, shape.dilations, shape.group
    y = np.zeros(shape.out, np.float64)
    for co in range(cout):
        gi = co // (cout // g)
        for r in range(kh):
            for s in range(kw):
                win = xp[:, gi * cg : (gi + 1) * cg, r * dh : r * dh + sh * (oh - 1) + 1 : sh, s * dw : s * dw + sw * (ow - 1) + 1 : sw]
                y[:, co] += np.einsum("nchw,c->nhw", win, w[co, :, r, s])
    if b is not None:
        y += b[None, :, None, None]
    if add is not None:
        y += add
    return np.maximum(y, 0) if activation == "relu" else y


CASES = [
    # (shape, chip, options, bias, addend, activation)
    (_shape(1, 48, 40, 7, 9), SMALL, ON, True, False, "identity"),  # resident, halo
    (_shape(2, 40, 24, 12, 10, stride=2, group=2), SMALL, STATIONARY, True, True, "relu"),
    (_shape(1, 8, 8, 11, 11, dilation=2, pad=2), SMALL, STATIONARY, False, True, "identity"),
    (_shape(1, 3, 16, 30, 30, k=7, stride=2, pad=3), SMALL, ON, True, False, "relu"),  # packed stem
    (_shape(1, 3, 8, 33, 33, k=11, stride=4, pad=2), SMALL, PACKED, True, True, "relu"),
    (_shape(1, 128, 32, 64, 64), SMALL, ON, True, False, "identity"),  # bands
    (_shape(1, 128, 512, 8, 8), SMALL, ON, True, True, "relu"),  # one output tile's weights at a time
    (_shape(1, 48, 40, 7, 9), SMALL, OFF, True, True, "relu"),  # the old nest's epilogue
    # ragged input-channel tiles: 40 per group as 32 + 8, two images, bands of rows
    (_shape(2, 80, 24, 12, 10, stride=2, group=2), SMALL, ON, True, True, "relu"),
    (_shape(1, 80, 32, 64, 64, k=1, pad=0), SMALL, ON, True, False, "identity"),
    (_shape(1, 48, 40, 7, 9), SMALL, UNIFORM, True, False, "identity"),  # 24 + 24
    # conv_bands: one-channel 3x3 convs, 9 im2col rows, three bands side by side
    (_shape(1, 1, 8, 48, 48), SMALL, ON, True, True, "relu"),
    (_shape(2, 1, 6, 96, 96, stride=2), SMALL, ON, True, False, "identity"),
    # row_taps: 16 channels on the small chip's 32 rows (2 copies), resident with a
    # halo, in bands of a padded input, strided; 8 channels of a 5x5 kernel (4
    # copies, then the row's fifth tap alone)
    (_shape(1, 16, 8, 12, 20), SMALL, STATIONARY, True, False, "relu"),
    (_shape(1, 16, 8, 128, 128), SMALL, STATIONARY, True, True, "identity"),
    (_shape(2, 16, 40, 13, 13, stride=2), SMALL, STATIONARY, False, False, "relu"),
    (_shape(1, 8, 16, 14, 11, k=5, pad=2), SMALL, STATIONARY, True, False, "identity"),
    # conv_inplace: the unpadded input read where it lies, with an addend; strided;
    # two uniform input-channel tiles, dilated; a 5x5 kernel over two images
    (_shape(1, 24, 16, 24, 40), SMALL, ON, True, True, "relu"),
    (_shape(1, 32, 16, 13, 13, stride=2), SMALL, ON, True, False, "identity"),
    (_shape(1, 40, 8, 11, 11, dilation=2, pad=2), SMALL, UNIFORM, False, True, "relu"),
    (_shape(2, 64, 16, 9, 9, k=5, pad=2), SMALL, ON, True, False, "identity"),
    # im2col_clip: a 7x7 stride-2 stem read padded in DRAM (off); clipped, asymmetric
    # pads, two images; dilated 5x5 taps in two packs that split a kernel column;
    # one-channel bands side by side, strided, clipped
    (_shape(1, 3, 16, 30, 30, k=7, stride=2, pad=3), SMALL, UNCLIPPED, True, False, "relu"),
    (_shape(1, 3, 16, 30, 30, k=7, stride=2, pad=3), SMALL, PACKED, True, False, "relu"),
    (ConvShape((2, 3, 21, 19), (8, 3, 3, 3), (2, 8, 10, 9), (2, 2), (1, 1), 1, (0, 2, 1, 1)), SMALL, ON, True, True, "relu"),
    (_shape(1, 2, 8, 14, 14, k=5, pad=4, dilation=2), SMALL, PACKED, False, False, "identity"),
    (_shape(1, 1, 6, 96, 96, stride=2), SMALL, ON, True, True, "relu"),
]


def _inputs(module: ModuleOp, seed: int) -> dict[str, np.ndarray]:
    fn = module.ops.first
    assert isinstance(fn, FuncOp)
    rng = np.random.default_rng(seed)
    return {
        f"arg{i}": rng.uniform(-1, 1, a.type.get_shape()).astype(np.float32)  # type: ignore[attr-defined]
        for i, a in enumerate(fn.body.block.args)
    }


@pytest.mark.parametrize("shape,chip,options,bias,addend,activation", CASES)
def test_the_nest_computes_the_conv(shape, chip, options, bias, addend, activation):
    module, tiles, _ = _module(shape, chip, options, bias, addend, activation)
    inputs = _inputs(module, 1)
    args = list(inputs.values())
    halo = isinstance(tiles, StationaryTiles) and tiles.unpadded
    want = _reference(args[0], args[1], args[2] if bias else None, args[-1] if addend else None, shape, halo, activation)
    (got,) = eval_loop(module, inputs).values()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("case", [CASES[0], CASES[1], CASES[3], CASES[8], CASES[11], CASES[12], CASES[13], CASES[14], CASES[16], CASES[17], CASES[19], CASES[20], *CASES[-4:]])
def test_the_lowered_program_computes_the_same(case):
    shape, chip, options, bias, addend, activation = case
    module, _, _ = _module(shape, chip, options, bias, addend, activation)
    inputs = _inputs(module, 2)
    want = eval_loop(module, inputs)["result0"]
    _, after_graph_to_loop = split_after(lowering_passes(chip.name), GraphToLoopPass)
    run_passes(after_graph_to_loop, module)
    got = eval_binary(module, inputs)["result0"]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_a_partial_input_channel_tile_follows_the_full_ones():
    """48 input channels on the small chip's 32 PE rows: with `ragged_tiles` one
    full tile of 32 channels and one of 16 (channel c on partition c % 32, as every
    nest puts it); without, two uniform tiles of 24. Each tile is its own load and
    its own matmuls, the partial tile's after the full ones' and accumulating onto
    them (never starting the accumulation)."""
    shape = _shape(1, 48, 40, 7, 9)
    ragged = plan_conv2d(SMALL, "c", shape, ON)
    uniform = plan_conv2d(SMALL, "c", shape, UNIFORM)
    assert isinstance(ragged, StationaryTiles) and isinstance(uniform, StationaryTiles)
    assert (ragged.tci, ragged.rem, uniform.tci, uniform.rem) == (32, 16, 24, 0)
    _, _, nest = _module(shape, SMALL, ON, True, False, "identity")
    matmuls = [op for op in nest.walk() if isinstance(op, MatmulOp)]
    rows = [op.moving_ap.dims[0][1] for op in matmuls]
    assert rows == [32] * 9 + [16] * 9  # 9 taps of the full tile, then the partial
    assert all(op.zero_at is None for op in matmuls[9:])
    x = nest.parent_block().args[0]  # type: ignore[union-attr]
    loads = [op for op in nest.walk() if isinstance(op, CopyOp) and op.src is x]
    assert [op.dst_ap.dims[0][1] for op in loads] == [32, 16]


def test_the_stationary_nest_shares_each_weight_across_the_banks():
    """Per (ci, tap) the nb matmuls of a group follow each other with one stationary
    access (the array loads it once), each into its own PSUM bank; the halo is three
    border memsets, the input one DMA per channel tile (halo_chunks off), the
    group's rows one store."""
    shape = _shape(1, 64, 32, 24, 24)
    _, tiles, nest = _module(shape, SMALL, replace(PADDED, halo_chunks=False), True, False, "identity")
    assert isinstance(tiles, StationaryTiles) and tiles.halo and tiles.nb == 2
    matmuls = [op for op in nest.walk() if isinstance(op, MatmulOp)]
    assert len(matmuls) == 9 * tiles.nb
    for t in range(9):
        pair = matmuls[t * tiles.nb : (t + 1) * tiles.nb]
        assert len({m.stationary_ap for m in pair}) == 1
        assert len({m.acc for m in pair}) == tiles.nb
    assert len([op for op in nest.walk() if isinstance(op, MemsetOp)]) == 3
    copies = [op for op in nest.walk() if isinstance(op, CopyOp)]
    stores = [op for op in copies if op.dst_ap.space == "dram"]
    # the input (one DMA per channel tile), the weights, the bias, the store
    assert len(copies) == 5 and len(stores) == 1
    assert len([op for op in nest.walk() if isinstance(op, ActOp)]) == tiles.nb
    assert not [op for op in nest.walk() if isinstance(op, TensorTensorOp)]


def test_the_packed_nest_contracts_taps_times_channels():
    """7x7 taps of 3 channels on 32 rows: 10 taps a pack, 5 packs; one matmul per
    pack and bank, each over up to 30 rows; the im2col in one DMA per kernel-row run
    (with `row_taps` off: on, the estimate prefers 7 shifted copies of the plane)."""
    shape = _shape(1, 3, 16, 30, 30, k=7, stride=2, pad=3)
    _, tiles, nest = _module(shape, SMALL, UNPAIRED, True, False, "relu")
    assert isinstance(tiles, StationaryTiles) and tiles.pack == 10
    matmuls = [op for op in nest.walk() if isinstance(op, MatmulOp)]
    assert len(matmuls) == 5 * tiles.nb
    assert sorted({m.stationary_ap.pcount for m in matmuls}) == [27, 30]
    loads = [op for op in nest.walk() if isinstance(op, CopyOp) and op.dst == matmuls[0].moving]
    assert len(loads) < 49


def test_the_zero_at_flag_starts_each_bank_on_the_first_tap_only():
    shape = _shape(1, 64, 32, 24, 24)  # two input-channel tiles of 32
    _, tiles, nest = _module(shape, SMALL, ON, False, False, "identity")
    assert isinstance(tiles, StationaryTiles) and tiles.tci == 32
    starts = [m.zero_at for m in nest.walk() if isinstance(m, MatmulOp) and m.zero_at is not None]
    assert len(starts) == tiles.nb  # tap 0 of each bank, at ci == 0
    (ci,) = [i for i, trip in enumerate(nest.domain_val) if trip == 64 // tiles.tci]
    assert {m.value.data for m in starts} == {ci}


def test_taps_are_packed_only_where_the_estimate_says_it_is_faster():
    """64 channels at 56x56 (ResNet-50's 3x3 layers) would pack 2 taps a matmul, but
    the im2col reads 9 shifted copies of the input through a pad nest: unpacked, the
    input loads once into the halo, and the estimate prefers that. The 3-channel
    stems pack (49 single-tap matmuls against 2 packed ones). With `stationary` off
    there is no stationary nest to compare with: a packable conv packs."""
    layer = _shape(1, 64, 64, 56, 56)
    chosen = plan_conv2d(DEFAULT, "c", layer)
    assert isinstance(chosen, StationaryTiles) and chosen.pack == 0 and chosen.halo
    packed = plan_conv2d(DEFAULT, "c", layer, PACKED)
    assert isinstance(packed, StationaryTiles) and packed.pack == 2
    for stem in (_shape(1, 3, 64, 224, 224, k=7, stride=2, pad=3), _shape(1, 3, 96, 227, 227, k=11, stride=4, pad=0)):
        tiles = plan_conv2d(DEFAULT, "stem", stem)
        assert isinstance(tiles, StationaryTiles) and tiles.pack > 0


def test_taps_of_a_kernel_row_share_a_matmul_when_the_channels_fill_half():
    """ResNet-50's 64-channel 3x3 layer on the default chip (row-pack off: below):
    partitions 64-127 hold the input again one column to the left, and the weights
    one tap on, so each kernel row is one matmul over 128 rows (taps s, s + 1) and
    one over 64 (the last column): 6 matmuls per bank instead of 9. One more input
    load and one more weight load; the halo's borders zeroed on both copies. Off,
    or with more than half the rows' channels, taps one by one; with a third of
    them, three copies."""
    layer = _shape(1, 64, 64, 56, 56)
    paired = plan_conv2d(DEFAULT, "c", layer, NO_ROW_PACK)
    assert isinstance(paired, StationaryTiles) and paired.copies == 2 and paired.halo
    assert paired.partitions == 128
    unpaired = plan_conv2d(DEFAULT, "c", layer, replace(UNPAIRED, row_pack=False))
    assert isinstance(unpaired, StationaryTiles) and unpaired.copies == 1
    assert replace(paired, copies=1, partitions=64, inplace=True, halo_parts=1) == unpaired  # same SBUF bytes
    wide = plan_conv2d(DEFAULT, "c", _shape(1, 96, 64, 56, 56))
    assert isinstance(wide, StationaryTiles) and wide.copies == 1
    thirds = plan_conv2d(DEFAULT, "c", _shape(1, 32, 64, 56, 56), replace(STATIONARY, row_pack=False))
    assert isinstance(thirds, StationaryTiles) and thirds.copies == 3 and thirds.partitions == 96
    _, tiles, nest = _module(layer, DEFAULT, replace(NO_ROW_PACK, halo_chunks=False), True, False, "relu")
    matmuls = [op for op in nest.walk() if isinstance(op, MatmulOp)]
    assert len(matmuls) == 6 * tiles.nb
    assert [m.moving_ap.dims[0][1] for m in matmuls[:: tiles.nb]] == [128, 64] * 3
    assert [m.stationary_ap.offset.base for m in matmuls[:: tiles.nb]] == [0, 512, 768, 1280, 1536, 2048]
    x = nest.parent_block().args[0]  # type: ignore[union-attr]
    loads = [op for op in nest.walk() if isinstance(op, CopyOp) and op.src is x]
    assert [(op.dst_ap.pstart.base, op.dst_ap.offset.base) for op in loads] == [(0, 59 * 4), (64, 58 * 4)]
    memsets = [op for op in nest.walk() if isinstance(op, MemsetOp)]
    assert [op.dst_ap.pstart.base for op in memsets] == [0, 0, 0, 64, 64, 64]
    _, _, plain = _module(layer, DEFAULT, replace(UNPAIRED, row_pack=False), True, False, "relu")
    assert len([op for op in plain.walk() if isinstance(op, MatmulOp)]) == 9 * tiles.nb


def test_row_taps_and_row_pack_together():
    """With row-pack too, the same layer computes 2 rows a matmul on the copies:
    input rows dy = 0..3 of each packed row, taps (0, 1) on 128 rows and tap 2 on
    64, against the weights between a zero kernel row before and after them on
    both copies' partitions (8 steps of 28 packed rows instead of 6 of 56); the
    copy-1 weights one tap on, below the zero row."""
    layer = _shape(1, 64, 64, 56, 56)
    _, tiles, nest = _module(layer, DEFAULT, ON, True, False, "relu")
    assert isinstance(tiles, StationaryTiles) and tiles.copies == 2 and tiles.rowpack == 2 and not tiles.inplace
    matmuls = [op for op in nest.walk() if isinstance(op, MatmulOp)]
    assert len(matmuls) == 8 * tiles.nb and tiles.nb * tiles.rb == 28
    assert [m.moving_ap.dims[0][1] for m in matmuls[:: tiles.nb]] == [128, 64] * 4
    assert {m.stationary_ap.dims[1:] for m in matmuls} == {((3 * 64, 2), (1, 64))}
    w = nest.parent_block().args[1]  # type: ignore[union-attr]
    weights = [op for op in nest.walk() if isinstance(op, CopyOp) and op.src is w]
    assert [(op.dst_ap.pstart.base, op.dst_ap.offset.base) for op in weights] == [(0, 3 * 64 * 4), (64, 3 * 64 * 4)]
    assert weights[1].src_ap.offset.base == 4  # tap s + 1's weights
    zeros = [op.dst_ap for op in nest.walk() if isinstance(op, MemsetOp) and op.dst is weights[0].dst]
    assert [ap.dims[0] for ap in zeros] == [(1, 128)] * 2


def test_a_halo_input_loads_in_pieces_that_end_with_row_blocks():
    """ResNet-50's 64-channel 3x3 convs (56 x 56, row-taps copies, row-pack): four
    blocks of 14 output rows, so the input comes in four pieces per copy, each
    ending with the last input row its block's windows read (14 i + 1), every
    copy's first piece first; one piece each with halo_chunks off, and none for a
    conv that reads its input in place. At most HALO_PARTS pieces."""
    layer = _shape(1, 64, 64, 56, 56)
    _, tiles, nest = _module(layer, DEFAULT, ON, True, False, "relu")
    assert isinstance(tiles, StationaryTiles) and tiles.halo and tiles.copies == 2
    assert tiles.halo_parts == 4 and halo_bounds(layer, tiles) == [0, 15, 29, 43, 56]
    x = nest.parent_block().args[0]  # type: ignore[union-attr]
    loads = [op for op in nest.walk() if isinstance(op, CopyOp) and op.src is x]
    assert [(op.src_ap.offset.base // (56 * 4), op.dst_ap.pstart.base) for op in loads] == [
        (y, p) for y in (0, 15, 29, 43) for p in (0, 64)
    ]
    assert [op.src_ap.dims[1] for op in loads[::2]] == [(56, 15), (56, 14), (56, 14), (56, 13)]
    whole = plan_conv2d(DEFAULT, "c", layer, WHOLE_HALO)
    assert isinstance(whole, StationaryTiles) and whole.halo_parts == 1 and halo_bounds(layer, whole) == [0, 56]
    inplace = plan_conv2d(DEFAULT, "c", _shape(1, 128, 64, 28, 28), NO_ROW_PACK)
    assert isinstance(inplace, StationaryTiles) and inplace.inplace and inplace.halo_parts == 1
    many = plan_conv2d(SMALL, "c", _shape(1, 24, 16, 100, 40), replace(PADDED, row_pack=False))
    assert isinstance(many, StationaryTiles) and many.halo and many.halo_parts == HALO_PARTS
    assert len(halo_bounds(_shape(1, 24, 16, 100, 40), many)) == HALO_PARTS + 1


HALO = [
    # (shape, chip, options, bias, addend, activation): a padded plane in pieces
    # (conv_inplace off) with an addend; row-taps copies in pieces, strided and
    # uneven; a 5x5 kernel's four copies; dilated; two images, a partial
    # input-channel tile; more row blocks than HALO_PARTS
    (_shape(1, 24, 16, 24, 40), SMALL, PADDED, True, True, "relu"),
    (_shape(1, 16, 8, 50, 80, stride=2), SMALL, STATIONARY, True, False, "relu"),
    (_shape(1, 8, 16, 28, 40, k=5, pad=2), SMALL, STATIONARY, False, False, "identity"),
    (_shape(1, 16, 8, 36, 40, dilation=2, pad=2), SMALL, STATIONARY, True, False, "identity"),
    (_shape(2, 48, 16, 24, 40), SMALL, PADDED, True, False, "relu"),
    (_shape(1, 24, 16, 100, 40), SMALL, PADDED, True, False, "identity"),
]


@pytest.mark.parametrize("shape,chip,options,bias,addend,activation", HALO)
def test_a_conv_whose_halo_loads_in_pieces_computes_the_conv(shape, chip, options, bias, addend, activation):
    """halo_chunks: the nest (loop interpreter) against NumPy's conv and against
    the nest with the whole plane in one piece, and the lowered program (accel
    interpreter, the sync passes ordering each block after its pieces) against it."""
    module, tiles, _ = _module(shape, chip, options, bias, addend, activation)
    assert isinstance(tiles, StationaryTiles) and tiles.halo and tiles.halo_parts > 1
    whole, _, _ = _module(shape, chip, replace(options, halo_chunks=False), bias, addend, activation)
    inputs = _inputs(module, 4)
    args = list(inputs.values())
    want = _reference(args[0], args[1], args[2] if bias else None, args[-1] if addend else None, shape, True, activation)
    (got,) = eval_loop(module, inputs).values()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(got, eval_loop(whole, inputs)["result0"])
    _, after_graph_to_loop = split_after(lowering_passes(chip.name), GraphToLoopPass)
    run_passes(after_graph_to_loop, module)
    # The scheduled program accumulates each output's products in another order
    # than the nest, and how a float32 sum rounds depends on the host's BLAS kernel:
    # outputs near zero in a conv whose outputs reach 5 differ by up to ~1e-6 of
    # that scale (3 of 131,072 elements were 1.4e-6 apart on one host).
    scale = max(1.0, float(np.abs(got).max()))
    np.testing.assert_allclose(eval_binary(module, inputs)["result0"], got, rtol=1e-5, atol=1e-6 * scale)


def test_a_padded_conv_reads_its_input_in_place():
    """conv_inplace: a halo plan of full input-channel tiles whose row blocks are all
    in PSUM at once reads the unpadded input: one whole copy of every channel tile
    (no memsets), and per tap and block a matmul over the block's rectangle of
    outputs whose windows stay inside the image, the centre tap first in every bank
    (the only ones that start an accumulation). Not with a partial channel tile, nor
    when the row blocks take several groups of banks."""
    shape = _shape(1, 64, 32, 24, 24)  # two channel tiles of 32, two blocks of 12 rows
    _, tiles, nest = _module(shape, SMALL, ON, True, False, "identity")
    assert isinstance(tiles, StationaryTiles) and tiles.inplace and tiles.nb == 2
    assert not [op for op in nest.walk() if isinstance(op, MemsetOp)]
    x = nest.parent_block().args[0]  # type: ignore[union-attr]
    (load,) = [op for op in nest.walk() if isinstance(op, CopyOp) and op.src is x]
    assert load.dst_ap.dims == ((1, 32), (1, 2 * 24 * 24))
    matmuls = [op for op in nest.walk() if isinstance(op, MatmulOp)]
    assert len(matmuls) == 9 * tiles.nb
    assert [m.zero_at is not None for m in matmuls] == [True] * 2 + [False] * 16
    assert [m.acc_ap.dims for m in matmuls[:2]] == [((1, 32), (24, 12), (1, 24))] * 2
    assert matmuls[2].acc_ap.dims == ((1, 32), (24, 11), (1, 23))  # tap 0, first block
    ragged = plan_conv2d(SMALL, "c", _shape(1, 48, 40, 7, 9))
    assert isinstance(ragged, StationaryTiles) and ragged.rem and not ragged.inplace
    groups = plan_conv2d(DEFAULT, "c", _shape(1, 64, 64, 112, 112), UNPAIRED)
    assert isinstance(groups, StationaryTiles) and groups.halo and groups.rows > groups.nb * groups.rb
    assert not groups.inplace


def test_a_padded_packed_stem_loads_a_clipped_im2col():
    """im2col_clip: ShuffleNet's stem (3 -> 24 channels, 3x3 stride 2, pads 1, in 4
    bands) reads its unpadded input: taps column by column on the rows, so per
    band one load for the column-0 taps (outputs from column 1) and one for the
    others, band 0 split further where row 0 clips the row-0 taps; memsets zero the
    clipped outputs (column 0 of every band's column-0 taps, row 0 of band 0's
    row-0 taps), and the plan needs no pad nest. Off, or in several bands of rows
    (VGG-19's stem), the input is padded in DRAM."""
    stem = _shape(1, 3, 24, 224, 224, stride=2)
    _, tiles, nest = _module(stem, DEFAULT, ON, True, False, "relu")
    assert isinstance(tiles, StationaryTiles) and tiles.clip and tiles.unpadded and tiles.bands == 4
    x = nest.parent_block().args[0]  # type: ignore[union-attr]
    loads = [op for op in nest.walk() if isinstance(op, CopyOp) and op.src is x]
    assert [op.dst_ap.pstart.base for op in loads] == [0, 3, 9, 12, 18, 21, 27, 36, 54, 63, 81, 90]
    assert loads[-1].dst_ap.dims == ((1, 18), (1, 28 * 112))  # taps of columns 1 and 2, whole rows
    assert loads[-2].dst_ap.dims == ((1, 9), (112, 28), (1, 111))  # column 0: outputs from column 1
    memsets = [op.dst_ap for op in nest.walk() if isinstance(op, MemsetOp)]
    assert [(ap.pstart.base, ap.dims) for ap in memsets[:-1]] == [
        (0, ((1, 3), (1, 112))), (0, ((1, 3), (112, 27))), (3, ((1, 6), (112, 28))),
        (9, ((1, 3), (1, 112))), (18, ((1, 3), (1, 112))),
        *[(b * 27, ((1, 9), (112, 28))) for b in (1, 2, 3)],
    ]
    assert memsets[-1].dims == ((1, 108), (1, 96))  # the block-diagonal weights' zeros
    assert not plan_conv2d(DEFAULT, "c", stem, UNCLIPPED).clip
    vgg = plan_conv2d(DEFAULT, "c", _shape(1, 3, 64, 224, 224))
    assert isinstance(vgg, StationaryTiles) and vgg.pack and vgg.rows < 224 and not vgg.clip


ROW_PACK = [
    # (shape, chip, options, bias, addend, activation): 8 channels on the small chip's
    # 32 columns, 4 rows a matmul, in place and padded (conv_inplace off); two images
    # of two input-channel tiles, 2 rows; a 5x5 kernel; asymmetric pads; several
    # packed row blocks in PSUM at once (halo: more blocks than banks)
    (_shape(1, 32, 8, 16, 16), SMALL, ON, True, False, "relu"),
    (_shape(1, 32, 8, 16, 16), SMALL, PADDED, True, False, "identity"),
    (_shape(2, 64, 16, 12, 10), SMALL, ON, True, False, "relu"),
    (_shape(1, 32, 8, 12, 12, k=5, pad=2), SMALL, ON, False, False, "identity"),
    (ConvShape((1, 32, 15, 18), (8, 32, 3, 3), (1, 8, 12, 16), (1, 1), (1, 1), 1, (0, 1, 1, 1)), SMALL, ON, True, False, "relu"),
    (_shape(1, 32, 16, 64, 32), SMALL, ON, True, False, "identity"),
    # with row-taps copies (padded): 2 copies of 16 channels, 3 of 8
    (_shape(1, 16, 8, 16, 20), SMALL, ON, True, False, "relu"),
    (_shape(1, 8, 16, 12, 12), SMALL, ON, False, False, "identity"),
    # in bands of rows of a padded input (too big to stay whole), with copies; a
    # 5x5 kernel in bands
    (_shape(1, 16, 8, 128, 128), SMALL, ON, True, False, "relu"),
    (_shape(1, 32, 8, 96, 96, k=5, pad=2), SMALL, PADDED, True, False, "identity"),
]


def _check_nest_and_program(module, tiles, shape: ConvShape, chip, bias: bool, activation: str, seed: int) -> None:
    """The nest (loop interpreter) against NumPy's conv, then the lowered program
    (accel interpreter) against the nest."""
    inputs = _inputs(module, seed)
    args = list(inputs.values())
    want = _reference(args[0], args[1], args[2] if bias else None, None, shape, tiles.unpadded, activation)
    (got,) = eval_loop(module, inputs).values()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    _, after_graph_to_loop = split_after(lowering_passes(chip.name), GraphToLoopPass)
    run_passes(after_graph_to_loop, module)
    # The scheduled program accumulates each output's products in another order
    # than the nest, and how a float32 sum rounds depends on the host's BLAS kernel:
    # outputs near zero in a conv whose outputs reach 5 differ by up to ~1e-6 of
    # that scale (3 of 131,072 elements were 1.4e-6 apart on one host).
    scale = max(1.0, float(np.abs(got).max()))
    np.testing.assert_allclose(eval_binary(module, inputs)["result0"], got, rtol=1e-5, atol=1e-6 * scale)


@pytest.mark.parametrize("shape,chip,options,bias,addend,activation", ROW_PACK)
def test_a_row_packed_conv_computes_the_conv(shape, chip, options, bias, addend, activation):
    """row_pack: the nest (loop interpreter) against NumPy's conv, and the lowered
    program (accel interpreter) against the nest."""
    module, tiles, _ = _module(shape, chip, options, bias, addend, activation)
    assert isinstance(tiles, StationaryTiles) and tiles.rowpack > 1
    _check_nest_and_program(module, tiles, shape, chip, bias, activation, seed=3)


def test_a_conv_of_few_output_channels_packs_adjacent_rows():
    """DenseNet's 3x3 convs (128 -> 32 channels, 56 x 56) on the default chip: 4 rows
    a matmul on the 128 columns, in place, (3 + 3) x 3 = 18 (dy, kx) steps per block
    instead of 9 taps over 4x the rows, each group's rows of each block stored by
    a copy of its own. Not with row-pack off, nor for a strided or grouped conv, one whose output
    channels take more than half the columns, whose height no pack divides, or one
    whose input channels row-taps packs (ResNet-50's 64-channel convs)."""
    dense = _shape(1, 128, 32, 56, 56)
    _, tiles, nest = _module(dense, DEFAULT, ON, False, False, "identity")
    assert isinstance(tiles, StationaryTiles) and tiles.rowpack == 4 and tiles.inplace
    assert tiles.partitions == 128 and tiles.rb * tiles.nb == 14
    matmuls = [op for op in nest.walk() if isinstance(op, MatmulOp)]
    assert {m.stationary_ap.dims for m in matmuls} == {((1, 128), (3 * 32, 4), (1, 32))}
    assert len({m.stationary_ap.offset for m in matmuls}) == 18
    y = nest.parent_block().ops.first.result  # type: ignore[union-attr]
    stores = [op for op in nest.walk() if isinstance(op, CopyOp) and op.dst is y]
    # per block of 7 packed rows, as soon as it is evacuated: group g's rows 4r + 3 - g
    assert [s.src_ap.pstart.base for s in stores] == [0, 32, 64, 96] * 2
    assert [s.dst_ap.offset.base for s in stores] == [4 * 56 * (28 * b + k) for b in (0, 1) for k in (3, 2, 1, 0)]
    assert {s.dst_ap.dims for s in stores} == {((56 * 56, 32), (4 * 56, 7), (1, 56))}
    off = plan_conv2d(DEFAULT, "c", dense, NO_ROW_PACK)
    assert isinstance(off, StationaryTiles) and off.rowpack == 1
    for shape in (
        _shape(1, 128, 32, 56, 56, stride=2),
        _shape(1, 128, 32, 56, 56, group=2),
        _shape(1, 128, 96, 56, 56),
        _shape(1, 128, 32, 53, 53),
    ):
        plan = plan_conv2d(DEFAULT, "c", shape)
        assert isinstance(plan, StationaryTiles) and plan.rowpack == 1, shape


# -- conv_reader_bands: bands for a pooling that reads them in place -----------


def _stem(cin, cout, h, k, stride, pad) -> ConvShape:
    return _shape(1, cin, cout, h, h, k=k, stride=stride, pad=pad)


RESNET_STEM_SHAPE = _stem(3, 64, 224, 7, 2, 3)


def test_a_7x7_stem_whose_pool_reads_2_bands_runs_them_on_the_pe_columns():
    """ResNet's stem (147 im2col rows: two packs, so conv-bands never bands it)
    before a 64-channel pool that reads 2 bands: 2 bands of 56 rows on the PE
    columns only (mbands), each pack's weights with a zero column group on either
    side; blocks of 2 rows, 7 a group, so a band's 28 rows split into 4 im2col
    pieces (a quarter of the im2col starts the array, as without bands). Without
    a banded reader, or with the option off, one band. With im2col-reuse (the
    default), each band's im2col is one pack of 28 taps, 114 columns a row."""
    tiles = plan_conv2d(DEFAULT, "stem", RESNET_STEM_SHAPE, replace(ON, im2col_reuse=False), reader_bands=2)
    assert isinstance(tiles, StationaryTiles) and tiles.bands == 2 and tiles.mbands
    assert (tiles.pack, tiles.rb, tiles.nb, tiles.rows, tiles.partitions) == (25, 2, 7, 56, 128)
    # the im2col of both bands (2 packs each), the weights of 2 packs x 3 groups
    assert tiles.sbuf_bytes >= (2 * 2 * 56 * 112 + 2 * 3 * 64) * 4
    reused = plan_conv2d(DEFAULT, "stem", RESNET_STEM_SHAPE, reader_bands=2)
    assert isinstance(reused, StationaryTiles) and reused.bands == 2 and reused.mbands
    assert (reused.pack, reused.reuse, reused.partitions) == (28, 4, 128)
    # both bands' one pack each, 114 columns a row: 41 % fewer im2col bytes
    assert reused.sbuf_bytes == tiles.sbuf_bytes - 2 * 2 * 56 * 112 * 4 + 2 * 56 * 114 * 4
    for plain in (
        plan_conv2d(DEFAULT, "stem", RESNET_STEM_SHAPE),
        plan_conv2d(DEFAULT, "stem", RESNET_STEM_SHAPE, replace(ON, conv_reader_bands=False), reader_bands=0),
    ):
        assert isinstance(plain, StationaryTiles) and plain.bands == 1 and not plain.mbands


def test_a_3x3_stem_takes_2_block_diagonal_bands_for_its_pool():
    """A 3x3 stride-2 stem of 64 channels (27 im2col rows): conv-bands alone takes
    3 bands or more, which 64 channels cannot; for a pool that reads 2, 2 bands of
    the block-diagonal operand (54 rows x 128 columns), not on the columns only."""
    stem = _stem(3, 64, 224, 3, 2, 1)
    alone = plan_conv2d(DEFAULT, "c", stem)
    assert isinstance(alone, StationaryTiles) and alone.bands == 1
    tiles = plan_conv2d(DEFAULT, "c", stem, reader_bands=2)
    assert isinstance(tiles, StationaryTiles) and tiles.bands == 2 and not tiles.mbands


def test_bands_must_divide_the_row_blocks():
    """111 output rows (SqueezeNet's stem) split into no 2 bands of whole blocks."""
    tiles = plan_conv2d(DEFAULT, "c", _stem(3, 64, 223, 3, 2, 0), reader_bands=2)
    assert isinstance(tiles, StationaryTiles) and tiles.bands == 1


# -- nests against NumPy ------------------------------------------------------


MBANDS = [
    # (shape, chip, bands, bias, activation, options): a 7x7 stride-2 stem of 8
    # channels on the small chip's 32 PE rows and columns (147 im2col rows: 5
    # packs) in 2 and 4 bands on the columns, clipped from the unpadded input and
    # padded in DRAM (im2col-clip off), in one im2col piece (im2col-chunks off), in
    # several bands of rows (128 x 128: not clipped); a 5x5 stride-1 conv of 2
    # channels (50 rows: 2 packs) in 2 bands; the default chip's ResNet-like stem
    (_stem(3, 8, 64, 7, 2, 3), SMALL, 2, True, "relu", PACKED),
    (_stem(3, 8, 64, 7, 2, 3), SMALL, 4, False, "identity", PACKED),
    (_stem(3, 8, 64, 7, 2, 3), SMALL, 2, True, "relu", replace(PACKED, im2col_clip=False)),
    (_stem(3, 8, 64, 7, 2, 3), SMALL, 4, True, "identity", replace(PACKED, im2col_chunks=False)),
    (_stem(3, 8, 128, 7, 2, 3), SMALL, 4, True, "relu", PACKED),
    (_stem(2, 16, 32, 5, 1, 2), SMALL, 2, True, "relu", PACKED),
    (_stem(3, 64, 128, 7, 2, 3), DEFAULT, 2, True, "relu", ON),
]


@pytest.mark.parametrize("shape,chip,bands,bias,activation,options", MBANDS)
def test_a_conv_in_bands_on_the_pe_columns_computes_the_conv(shape, chip, bands, bias, activation, options):
    """mbands: the nest (loop interpreter) against NumPy's conv, and the lowered
    program (accel interpreter) against the nest."""
    module, tiles, nest = _module(shape, chip, options, bias, False, activation, reader_bands=bands)
    assert isinstance(tiles, StationaryTiles) and tiles.bands == bands and tiles.mbands
    # each band's matmuls read its own im2col columns against its weight window
    matmuls = [op for op in nest.walk() if isinstance(op, MatmulOp)]
    assert {m.stationary_ap.free_elements for m in matmuls} == {bands * shape.weight[0]}
    _check_nest_and_program(module, tiles, shape, chip, bias, activation, seed=11)


def test_each_band_has_its_own_weight_window():
    """2 bands of 8 channels, 5 packs: the weight tile holds each pack's weights at
    column group 1 of 3 (zeros memset once around them); band 0's operand starts
    at group 1 (the weights in its columns 0-7), band 1's at group 0 (in 8-15);
    the im2col of band 1 lies after band 0's 5 packs of 16 rows x 32 columns."""
    _, tiles, nest = _module(_stem(3, 8, 64, 7, 2, 3), SMALL, PACKED, True, False, "relu", reader_bands=2)
    assert (tiles.pack, tiles.rows, tiles.rb, tiles.nb) == (10, 16, 4, 1)
    memsets = [op.dst_ap for op in nest.walk() if isinstance(op, MemsetOp) and op.dst_ap.dims[1][1] == 5 * 3 * 8]
    assert memsets and memsets[0].dims == ((1, 30), (1, 120))
    first = [m for m in nest.walk() if isinstance(m, MatmulOp)][:2]
    assert [m.stationary_ap.offset.base // 4 for m in first] == [8, 0]
    assert [m.moving_ap.offset.base // 4 for m in first] == [0, 5 * 16 * 32]

"""The channel_affine kernel (kernels/channel_affine.py): its plans, and its nests
run by the loop interpreter and, lowered, by the hardware model, against NumPy;
each tile is one ACT instruction, and merged each image is one load and one store."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from tidal.dialects.loop import ActOp, CopyOp, ForOp, NestOp
from tidal.passes.conversion.graph_to_loop import GraphToLoopPass
from tidal.passes.conversion.kernels.channel_affine import (
    ChannelAffineTiles,
    plan_channel_affine,
)
from tidal.passes.conversion.kernels.plan import Refusal
from tidal.passes.graph.canonicalize import GraphCanonicalizePass
from tidal.passes.graph.fuse_affine import GraphFuseAffinePass
from tidal.passes.graph.partition import GraphPartitionPass
from tidal.passes.interpreters.accel import eval_binary
from tidal.passes.interpreters.loop import eval_loop
from tidal.passes.pipeline import lowering_passes, run_passes
from tidal.sim.config import get_chip
from tidal.targets.onnx_import import import_onnx
from xdsl.context import Context
from xdsl.dialects.builtin import MemRefType

SMALL = get_chip("small")


def test_plans_on_the_small_chip():
    """32 partitions of 64 KiB."""
    merged = plan_channel_affine(SMALL, "a", (1, 256, 14, 14), merge=True)
    assert isinstance(merged, ChannelAffineTiles) and merged.merged
    assert (merged.tc, merged.chunk) == (32, 196)
    # 8 channel tiles x 196 elements, and the [32, 8] scale and shift columns
    assert merged.sbuf_bytes == 8 * 196 * 4 + 2 * 64
    # 64 KiB per partition cannot hold 2 x 112 x 112 elements: chunks as large as fit
    big = plan_channel_affine(SMALL, "a", (1, 256, 112, 112), merge=True)
    assert isinstance(big, ChannelAffineTiles) and not big.merged and big.tc == 32
    assert big.chunk == 12544 and big.sbuf_bytes <= SMALL.sbuf_partition_bytes
    plain = plan_channel_affine(SMALL, "a", (1, 256, 112, 112))
    assert isinstance(plain, ChannelAffineTiles) and plain.chunk == 1792  # <= FREE_MAX
    odd = plan_channel_affine(SMALL, "a", (2, 40, 7, 7), merge=True)
    assert isinstance(odd, ChannelAffineTiles) and (odd.tc, odd.partitions) == (20, 20)
    # ragged: a full tile of 32 channels and one of 8, channel c on partition c % 32
    ragged = plan_channel_affine(SMALL, "a", (2, 40, 7, 7), merge=True, ragged=True)
    assert isinstance(ragged, ChannelAffineTiles)
    assert (ragged.tc, ragged.rem, ragged.partitions, ragged.narrow) == (32, 8, 32, "")
    # 9000 tiles of 32 channels: the scale and shift columns alone exceed 64 KiB
    huge = plan_channel_affine(SMALL, "a", (1, 32 * 9000, 1, 1), merge=True)
    assert isinstance(huge, Refusal) and "'a' needs" in huge.reason


def _model(shape: list[int], relu: bool, rng: np.random.Generator):
    """y = [relu](x * s + t), s and t [C, 1, ..] constants (an unfolded BatchNorm)."""
    per_channel = [shape[1]] + [1] * (len(shape) - 2)
    s = rng.standard_normal(per_channel).astype(np.float32)
    t = rng.standard_normal(per_channel).astype(np.float32)
    nodes = [
        helper.make_node("Mul", ["x", "s"], ["m"], name="bn"),
        helper.make_node("Add", ["m", "t"], ["a" if relu else "y"], name="bn_add"),
    ]
    if relu:
        nodes.append(helper.make_node("Relu", ["a"], ["y"], name="relu"))
    g = helper.make_graph(
        nodes,
        "t",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)],
        [numpy_helper.from_array(s, "s"), numpy_helper.from_array(t, "t")],
    )
    x = rng.standard_normal(shape).astype(np.float32)
    want = x.astype(np.float64) * s + t
    return (
        helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]),
        x,
        np.maximum(want, 0) if relu else want,
    )


def _to_loop(model, **options):
    """`model` imported and lowered to loop nests for the small chip, with
    graph-to-loop's `options`."""
    module = import_onnx(model)
    ctx = Context()
    for p in (
        GraphCanonicalizePass(),
        GraphFuseAffinePass(),
        GraphPartitionPass(chip="small"),
        GraphToLoopPass(chip="small", **options),
    ):
        p.apply(ctx, module)
    return module


def _acts_and_copies(module) -> tuple[int, int]:
    """ACT instructions and copies executed (each times its loops' trips)."""

    def count(ops, trips: int, domain: list[int]) -> tuple[int, int]:
        acts = copies = 0
        for op in ops:
            if isinstance(op, ForOp):
                a, c = count(
                    op.body.block.ops, trips * domain[op.dim.value.data], domain
                )
                acts, copies = acts + a, copies + c
            elif isinstance(op, ActOp):
                acts += trips
            elif isinstance(op, CopyOp):
                copies += trips
        return acts, copies

    nests = [op for op in module.walk() if isinstance(op, NestOp)]
    assert len(nests) == 1
    return count(nests[0].body.block.ops, 1, list(nests[0].domain_val))


@pytest.mark.parametrize(
    "shape, merge, counts",
    [
        # 256 channels, 8 tiles of 32: 8 ACTs; merged one load and one store (plus
        # the scale and the shift), else a load and a store per tile
        ([1, 256, 5, 5], True, (8, 4)),
        ([1, 256, 5, 5], False, (8, 18)),
        # two images of 192 channels (6 tiles): a load and a store per image
        ([2, 192, 3, 3], True, (12, 6)),
        # NC: 40 channels as 2 tiles of 20 (an input, not a concatenation: no
        # ragged tiles), rows of one element
        ([3, 40], True, (6, 8)),
        ([3, 40], False, (6, 14)),
    ],
)
@pytest.mark.parametrize("relu", [True, False])
def test_the_nest_computes_the_affine(shape, merge, counts, relu):
    model, x, want = _model(shape, relu, np.random.default_rng(len(shape) + shape[1]))
    module = _to_loop(model, dma_merge=merge)
    assert _acts_and_copies(module) == counts
    np.testing.assert_allclose(
        eval_loop(module, {"x": x})["y"], want, rtol=1e-5, atol=1e-6
    )


def test_the_lowered_program_on_the_hardware_model_agrees():
    model, x, want = _model([1, 160, 6, 6], True, np.random.default_rng(9))
    module = import_onnx(model)
    run_passes(lowering_passes("small"), module, Context(), [])
    np.testing.assert_allclose(
        eval_binary(module, {"x": x})["y"], want, rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("pieces", [True, False])
def test_pieces_of_the_plane(pieces):
    """affine_pieces: a 64x64 plane (past FREE_MAX) in two pieces of 2048 per
    channel tile, pieces outermost; off, one ACT per tile."""
    model, x, want = _model([1, 64, 64, 64], True, np.random.default_rng(3))
    module = _to_loop(model, affine_pieces=pieces)
    # 2 channel tiles of 32; one load and one store, plus the scale and the shift
    assert _acts_and_copies(module) == ((4, 4) if pieces else (2, 4))
    np.testing.assert_allclose(eval_loop(module, {"x": x})["y"], want, rtol=1e-5, atol=1e-6)


def _concat_model(rng: np.random.Generator, older: int, newest: int, hw: int):
    """y = relu(concat(relu(a), relu(b)) * s + t) over hw x hw planes: a batch norm
    that is the only reader of its concatenation (a dense block's last, into its
    transition); a has `older` channels, b `newest`."""
    c = older + newest
    s = rng.standard_normal([c, 1, 1]).astype(np.float32)
    t = rng.standard_normal([c, 1, 1]).astype(np.float32)
    g = helper.make_graph(
        [
            helper.make_node("Relu", ["a"], ["ra"], name="ra"),
            helper.make_node("Relu", ["b"], ["rb"], name="rb"),
            helper.make_node("Concat", ["ra", "rb"], ["c"], name="cat", axis=1),
            helper.make_node("Mul", ["c", "s"], ["m"], name="bn"),
            helper.make_node("Add", ["m", "t"], ["n"], name="bn_add"),
            helper.make_node("Relu", ["n"], ["y"], name="relu"),
        ],
        "t",
        [
            helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, older, hw, hw]),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, newest, hw, hw]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, c, hw, hw])],
        [numpy_helper.from_array(s, "s"), numpy_helper.from_array(t, "t")],
    )
    a = rng.standard_normal([1, older, hw, hw]).astype(np.float32)
    b = rng.standard_normal([1, newest, hw, hw]).astype(np.float32)
    cat = np.concatenate([np.maximum(a, 0), np.maximum(b, 0)], axis=1).astype(np.float64)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), a, b, np.maximum(cat * s + t, 0)


@pytest.mark.parametrize("pieces", [True, False])
def test_ragged_pieces_on_the_hardware_model(pieces):
    """A batch norm of a 40-channel concatenation (ragged: a tile of 32 and one of
    8) over 48x48 planes, in two pieces of 1152 (the partial tile's ACT in each
    piece too), kept on chip and run by the hardware model, against NumPy; one
    nest (affine-split off: it would split off the partial tile)."""
    model, a, b, want = _concat_model(np.random.default_rng(11), 32, 8, 48)
    module = _to_loop(model, affine_pieces=pieces, affine_split=False)
    (nest,) = [op for op in module.walk() if isinstance(op, NestOp) and op.origin.data == "bn"]
    acts = [op for op in nest.walk() if isinstance(op, ActOp)]
    # per piece: the full tile's ACT (in the channel-tile loop) and the partial one's
    assert len(acts) == 2 and list(nest.domain_val) == ([2] if pieces else [])
    module = import_onnx(model)
    off = ["affine-split"] + ([] if pieces else ["affine-pieces"])
    run_passes(lowering_passes("small", disabled=off), module, Context(), [])
    np.testing.assert_allclose(eval_binary(module, {"a": a, "b": b})["y"], want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("split", [True, False])
@pytest.mark.parametrize("older, newest", [(64, 8), (48, 40)])
def test_split_affine_on_the_hardware_model(split, older, newest):
    """affine_split: a batch norm that alone reads a concatenation runs as two nests,
    the channel tiles of the older operand (2 tiles of 32 on the small chip) and
    the tiles from the one holding the newest channels (one partial tile of 8; for
    48 + 40 = 88 channels, the tile at 32 holds channels of both operands: tile 0
    alone, then tiles 1-2), the first reading none of the newest channels; off,
    one nest. Kept on chip and run by the hardware model, against NumPy."""
    model, a, b, want = _concat_model(np.random.default_rng(older), older, newest, 12)
    module = _to_loop(model, affine_split=split)
    nests = [op for op in module.walk() if isinstance(op, NestOp) and op.origin.data == "bn"]
    assert len(nests) == (2 if split else 1)
    if split:
        first = older // 32 * 32  # the tile holding the newest channels starts here
        # the first nest's load of the input: channels 0 .. first - 1 only
        (load,) = [op for op in nests[0].walk() if isinstance(op, CopyOp) and isinstance(op.src.type, MemRefType) and len(op.src.type.get_shape()) == 4]
        ap = load.src_ap
        assert ap.offset.base == 0 and ap.dims[0][1] * ap.dims[1][1] == first
    module = import_onnx(model)
    off = [] if split else ["affine-split"]
    run_passes(lowering_passes("small", disabled=off), module, Context(), [])
    np.testing.assert_allclose(eval_binary(module, {"a": a, "b": b})["y"], want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("hw, shared, split", [(6, True, False), (48, True, True), (48, False, False)])
def test_split_where_another_op_reads_the_concatenation(hw, shared, split):
    """A concatenation that another op also reads (a dense layer's, which the next
    concatenation takes whole) is split only with affine_split_shared and planes
    past FREE_MAX elements (48 x 48 = 2,304, not 6 x 6: on small planes the split
    cost DenseNet-121 cycles). Both readers' results, lowered and run by the
    hardware model, agree with NumPy either way."""
    model, a, b, want = _concat_model(np.random.default_rng(5), 64, 8, hw)
    model.graph.node.append(helper.make_node("Relu", ["c"], ["z"], name="other"))
    model.graph.output.append(helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 72, hw, hw]))
    module = _to_loop(model, affine_split_shared=shared)
    nests = [op for op in module.walk() if isinstance(op, NestOp) and op.origin.data == "bn"]
    assert len(nests) == (2 if split else 1)
    module = import_onnx(model)
    off = [] if shared else ["affine-split-shared"]
    run_passes(lowering_passes("small", disabled=off), module, Context(), [])
    out = eval_binary(module, {"a": a, "b": b})
    cat = np.concatenate([np.maximum(a, 0), np.maximum(b, 0)], axis=1)
    np.testing.assert_allclose(out["y"], want, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(out["z"], cat)
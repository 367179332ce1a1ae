"""Plane reductions in fewer, larger descriptors (`merge=True` of norm.plan_lrn and
norm.plan_global_avgpool, KernelOptions.dma_merge): their plans on the small chip,
and NumPy-checked results through the loop interpreter and the lowered binary.

graph-to-loop's `dma_merge` option (on by default) switches the merge."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper
from tidal.dialects.loop import CopyOp, ForOp, NestOp
from tidal.passes.conversion.graph_to_loop import GraphToLoopPass
from tidal.passes.conversion.kernels import norm
from tidal.passes.graph.canonicalize import GraphCanonicalizePass
from tidal.passes.graph.partition import GraphPartitionPass
from tidal.passes.interpreters.accel import eval_binary
from tidal.passes.interpreters.loop import eval_loop
from tidal.passes.pipeline import lowering_passes, run_passes
from tidal.sim.config import get_chip
from tidal.targets.onnx_import import import_onnx
from xdsl.context import Context

SMALL = get_chip("small")


def test_the_merged_plans_and_their_fallbacks_on_the_small_chip():
    lrn = norm.plan_lrn(SMALL, "l", (1, 48, 10, 10), bias=2.0, merge=True)
    assert isinstance(lrn, norm.LrnTiles) and lrn.merged and (lrn.tc, lrn.f) == (24, 100)
    # x, x^2 and y: 2 tiles x 100 pixels; the band: 2 tiles x 48 columns; two blocks
    assert lrn.sbuf_bytes == 3 * 832 + 384 + 2 * 448
    big = norm.plan_lrn(SMALL, "l", (1, 64, 80, 80), bias=2.0, merge=True)
    assert isinstance(big, norm.LrnTiles) and not big.merged  # 3 x 2 x 6400 fp32 > 64 KiB
    assert not norm.plan_lrn(SMALL, "l", (1, 48, 10, 10), bias=2.0).merged
    gap = norm.plan_global_avgpool(SMALL, "g", (1, 64, 70, 70), merge=True)
    assert isinstance(gap, norm.GlobalPoolTiles) and gap.merged and (gap.tr, gap.chunk) == (32, 4900)
    wide = norm.plan_global_avgpool(SMALL, "g", (1, 128, 70, 70), merge=True)
    assert isinstance(wide, norm.GlobalPoolTiles) and not wide.merged  # 4 x 4900 fp32 > 64 KiB


def _model(node, in_shape, out_shape):
    return helper.make_model(
        helper.make_graph(
            [node], "t",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
        ),
        opset_imports=[helper.make_opsetid("", 13)],
    )


def _lower(model, merge: bool):
    module = import_onnx(model)
    ctx = Context()
    GraphCanonicalizePass().apply(ctx, module)
    GraphPartitionPass(chip="small").apply(ctx, module)
    GraphToLoopPass(chip="small", dma_merge=merge).apply(ctx, module)
    return module


def _descriptors(module) -> int:
    """Copies executed: each copy times the trips of its enclosing loops."""

    def count(ops, trips: int, domain: list[int]) -> int:
        total = 0
        for op in ops:
            if isinstance(op, ForOp):
                total += count(op.body.block.ops, trips * domain[op.dim.value.data], domain)
            elif isinstance(op, CopyOp):
                total += trips
        return total

    nests = [op for op in module.walk() if isinstance(op, NestOp)]
    return sum(count(n.body.block.ops, 1, list(n.domain_val)) for n in nests)


def _lrn_reference(x, size, alpha, beta, bias):
    c = x.shape[1]
    sq = x.astype(np.float64) ** 2
    out = np.empty_like(sq)
    for ch in range(c):
        lo, hi = max(0, ch - (size - 1) // 2), min(c - 1, ch + int(np.ceil((size - 1) / 2)))
        out[:, ch] = x[:, ch] * (bias + alpha / size * sq[:, lo : hi + 1].sum(axis=1)) ** -beta
    return out


def test_lrn_merged_computes_the_same_in_fewer_descriptors():
    """48 channels in two tiles of 24, a 10x10 plane: the band, x and y once each
    (3 descriptors) against 2 per (channel tile pair) plus 2 per output tile."""
    node = helper.make_node("LRN", ["x"], ["y"], name="l", size=5, alpha=1e-2, beta=0.75, bias=2.0)
    model = _model(node, [1, 48, 10, 10], [1, 48, 10, 10])
    x = np.random.default_rng(3).standard_normal((1, 48, 10, 10)).astype(np.float32)
    merged = _lower(model, True)
    unmerged = _lower(model, False)
    assert (_descriptors(merged), _descriptors(unmerged)) == (3, 12)
    want = _lrn_reference(x, 5, 1e-2, 0.75, 2.0)
    np.testing.assert_allclose(eval_loop(merged, {"x": x})["y"], want, rtol=1e-5, atol=1e-6)


def test_global_avgpool_merged_is_one_load_one_reduction_one_store():
    node = helper.make_node("GlobalAveragePool", ["x"], ["y"], name="g")
    model = _model(node, [1, 64, 13, 13], [1, 64, 1, 1])
    x = np.random.default_rng(4).standard_normal((1, 64, 13, 13)).astype(np.float32)
    merged = _lower(model, True)
    assert (_descriptors(merged), _descriptors(_lower(model, False))) == (2, 4)
    want = x.astype(np.float64).mean(axis=(2, 3), keepdims=True)
    np.testing.assert_allclose(eval_loop(merged, {"x": x})["y"], want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["LRN", "GlobalAveragePool"])
def test_the_lowered_programs_on_the_hardware_model_agree(kind):
    if kind == "LRN":
        node = helper.make_node("LRN", ["x"], ["y"], name="l", size=3, alpha=0.1, beta=0.5, bias=1.0)
        shape, out_shape = [1, 48, 6, 6], [1, 48, 6, 6]
    else:
        node = helper.make_node("GlobalAveragePool", ["x"], ["y"], name="g")
        shape, out_shape = [1, 64, 5, 5], [1, 64, 1, 1]
    model = _model(node, shape, out_shape)
    x = np.random.default_rng(5).standard_normal(shape).astype(np.float32)
    module = import_onnx(model)
    run_passes(lowering_passes("small"), module, Context(), [])  # dma-merge on
    if kind == "LRN":
        want = _lrn_reference(x, 3, 0.1, 0.5, 1.0)
    else:
        want = x.astype(np.float64).mean(axis=(2, 3), keepdims=True)
    np.testing.assert_allclose(eval_binary(module, {"x": x})["y"], want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("pieces", [True, False])
def test_lrn_squares_in_runs_of_blocks(pieces):
    """lrn_pieces: a 40x40 plane is 4 blocks of 400 pixels; the squares of each of
    the two channel tiles run over blocks [0], [1], [2, 3] (6 instructions, all
    before the loops) instead of one instruction over both whole planes. Same
    result on the loop interpreter and on the hardware model."""
    from tidal.dialects.loop import TensorTensorOp

    node = helper.make_node("LRN", ["x"], ["y"], name="l", size=5, alpha=1e-2, beta=0.75, bias=2.0)
    model = _model(node, [1, 48, 40, 40], [1, 48, 40, 40])
    x = np.random.default_rng(6).standard_normal((1, 48, 40, 40)).astype(np.float32)
    module = import_onnx(model)
    ctx = Context()
    GraphCanonicalizePass().apply(ctx, module)
    GraphPartitionPass(chip="small").apply(ctx, module)
    GraphToLoopPass(chip="small", lrn_pieces=pieces).apply(ctx, module)
    (nest,) = [op for op in module.walk() if isinstance(op, NestOp)]
    squares = [op for op in nest.body.block.ops if isinstance(op, TensorTensorOp)]
    assert [op.a_ap.dims[1][1] for op in squares] == ([400, 400, 400, 400, 800, 800] if pieces else [3200])
    want = _lrn_reference(x, 5, 1e-2, 0.75, 2.0)
    np.testing.assert_allclose(eval_loop(module, {"x": x})["y"], want, rtol=1e-5, atol=1e-6)
    module = import_onnx(model)
    run_passes(lowering_passes("small", disabled=[] if pieces else ["lrn-pieces"]), module, Context(), [])
    np.testing.assert_allclose(eval_binary(module, {"x": x})["y"], want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("pieces", [True, False])
def test_an_average_pool_in_pieces_of_rows_on_the_hardware_model(pieces):
    """pool_pieces: a 2x2 stride-2 average pool of 32 channels of 64x64 (a plane
    past FREE_MAX, one reduction over whole planes) in two reductions of 16 output
    rows each; off, one. Lowered and run by the hardware model, against NumPy."""
    from tidal.dialects.loop import ReduceOp

    node = helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[2, 2], strides=[2, 2], name="pool")
    model = _model(node, [1, 32, 64, 64], [1, 32, 32, 32])
    x = np.random.default_rng(4).standard_normal([1, 32, 64, 64]).astype(np.float32)
    want = x.reshape(1, 32, 32, 2, 32, 2).mean(axis=(3, 5))
    module = import_onnx(model)
    ctx = Context()
    for p in (GraphCanonicalizePass(), GraphPartitionPass(chip="small"), GraphToLoopPass(chip="small", pool_pieces=pieces)):
        p.apply(ctx, module)
    assert len([op for op in module.walk() if isinstance(op, ReduceOp)]) == (2 if pieces else 1)
    module = import_onnx(model)
    run_passes(lowering_passes("small", disabled=[] if pieces else ["pool-pieces"]), module, Context(), [])
    np.testing.assert_allclose(eval_binary(module, {"x": x})["y"], want, rtol=1e-5, atol=1e-6)

"""Batch-1 matmuls with the activations stationary (KernelOptions.gemm_small_m): the
plan's tiles, and NumPy-checked results of the loop nests (and, for one case, of the
whole lowered program on the hardware model) for M = 1, 2, 8, with a bias, a full
addend, transposed operands, alpha/beta and a fused activation."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from tidal.dialects import graph
from tidal.dialects.loop import CopyOp, ForOp, MatmulOp
from tidal.passes.conversion.graph_to_loop import GraphToLoopPass
from tidal.passes.conversion.kernels.gemm import RESIDENT_STEPS_MAX, WEIGHT_BUFFERS, GemmTiles, plan_gemm
from tidal.passes.graph.canonicalize import GraphCanonicalizePass
from tidal.passes.graph.partition import GraphPartitionPass
from tidal.passes.interpreters.accel import eval_binary
from tidal.passes.interpreters.loop import eval_loop
from tidal.passes.pipeline import lowering_passes, run_passes
from tidal.sim.config import get_chip
from tidal.targets.onnx_import import import_onnx
from xdsl.context import Context
from xdsl.dialects.builtin import MemRefType, StringAttr

SMALL = get_chip("small")
DEFAULT = get_chip("default")


def test_a_batch_1_fc_layer_streams_512_weight_columns_per_matmul_across_the_banks():
    tiles = plan_gemm(DEFAULT, "fc6", m=1, n=4096, k=25088, small_m=True)
    assert isinstance(tiles, GemmTiles) and tiles.small_m
    assert (tiles.tm, tiles.tn, tiles.tk, tiles.nb, tiles.slots) == (1, 512, 128, 8, 2)
    # X^T (196 K steps of 1 column), two 4096-column weight buffers, out and C rows
    assert tiles.sbuf_bytes == 832 + 2 * 4096 * 4 + 2 * 4096 * 4
    assert tiles.partitions == 128 and tiles.psum_bytes == 8 * 512 * 4


def test_the_small_chip_plan_and_its_fallbacks():
    """On the 32x32 array: 1000 classes are 2 banks of 500 columns; 3 K steps share
    two weight buffers, one K step needs one; M above the PE columns, or tiles over
    SBUF, keep the weights stationary."""
    tiles = plan_gemm(SMALL, "fc", m=2, n=1000, k=96, small_m=True)
    assert isinstance(tiles, GemmTiles) and tiles.small_m
    assert (tiles.tm, tiles.tn, tiles.tk, tiles.nb, tiles.slots) == (2, 500, 32, 2, 2)
    one = plan_gemm(SMALL, "fc", m=2, n=1000, k=32, small_m=True)
    assert isinstance(one, GemmTiles) and one.slots == 1
    assert not plan_gemm(SMALL, "fc", m=33, n=1000, k=96, small_m=True).small_m
    # 16384 K steps of 2 columns is 128 KiB of X^T per partition: over 64 KiB
    assert not plan_gemm(SMALL, "fc", m=2, n=64, k=32 * 16384, small_m=True).small_m
    off = plan_gemm(SMALL, "fc", m=2, n=1000, k=96, small_m=False)
    assert isinstance(off, GemmTiles) and not off.small_m
    assert (off.tm, off.tn, off.tk) == (2, 25, 32)


def test_weights_that_fit_get_a_buffer_per_k_step():
    """gemm_resident: ShuffleNet's classifier (544 -> 1000, 8 K steps of 68 rows, one
    group of 1000 columns) holds all 8 steps' weights, 32 KB per partition, so no
    load waits for a matmul; ResNet-50's (2048 -> 1000) 16 steps, 64 KB. VGG's fc6
    streams 4096 columns in one group but its 196 steps would take 3 MB: two
    buffers. Off, two buffers. Lowered (the small chip, 3 K steps), the loads go
    into three distinct regions, all before the first matmul."""
    tiles = plan_gemm(DEFAULT, "fc", m=1, n=1000, k=544, small_m=True, resident=True)
    assert isinstance(tiles, GemmTiles) and (tiles.tk, tiles.slots) == (68, 8)
    tiles = plan_gemm(DEFAULT, "fc", m=1, n=1000, k=2048, small_m=True, resident=True)
    assert isinstance(tiles, GemmTiles) and (tiles.tk, tiles.slots) == (128, 16)
    assert plan_gemm(DEFAULT, "fc6", m=1, n=4096, k=25088, small_m=True, resident=True).slots == 2  # type: ignore[union-attr]
    assert plan_gemm(DEFAULT, "fc", m=1, n=1000, k=544, small_m=True).slots == 2  # type: ignore[union-attr]
    model, a, want = _gemm_model(m=1, k=96, n=1000, c_shape=[1000], trans_b=1)
    module = _lower(model, "small", small_m=True)
    walk = list(module.walk())
    matmuls = [i for i, op in enumerate(walk) if isinstance(op, MatmulOp)]
    loads = [i for i, op in enumerate(walk) if isinstance(op, CopyOp) and op.src.name_hint == "b"]
    regions = {walk[i].dst_ap.offset.base for i in loads}  # type: ignore[union-attr]
    assert len(loads) == len(regions) == 3 and max(loads) < min(matmuls)
    np.testing.assert_allclose(eval_loop(module, {"a": a})["y"], want, rtol=1e-4, atol=1e-4)


def test_resident_steps_are_bounded():
    """Resident steps unroll (a load and the matmuls each), so a contraction past
    RESIDENT_STEPS_MAX steps streams through two buffers: a global ReduceSum over
    2^20 elements (a [1, 2^20] product with a column of ones, 8,192 steps of one
    column) would otherwise be 8,192 loads and matmuls, and compile for a minute."""
    at_most = plan_gemm(DEFAULT, "sum", m=1, n=1, k=128 * RESIDENT_STEPS_MAX, small_m=True, resident=True)
    assert isinstance(at_most, GemmTiles) and at_most.slots == RESIDENT_STEPS_MAX
    past = plan_gemm(DEFAULT, "sum", m=1, n=1, k=1 << 20, small_m=True, resident=True)
    assert isinstance(past, GemmTiles) and past.slots == WEIGHT_BUFFERS


def _gemm_model(m: int, k: int, n: int, *, trans_a=0, trans_b=0, c_shape=None, alpha=1.0, beta=1.0):
    rng = np.random.default_rng(m * 1000 + k + n)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(np.float32)
    weights = {"b": b}
    inputs = ["a", "b"]
    if c_shape is not None:
        weights["c"] = rng.standard_normal(c_shape).astype(np.float32)
        inputs.append("c")
    node = helper.make_node(
        "Gemm", inputs, ["y"], name="fc", transA=trans_a, transB=trans_b, alpha=alpha, beta=beta
    )
    a_shape = [k, m] if trans_a else [m, k]
    model = helper.make_model(
        helper.make_graph(
            [node], "t",
            [helper.make_tensor_value_info("a", TensorProto.FLOAT, a_shape)],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [m, n])],
            [numpy_helper.from_array(v, name) for name, v in weights.items()],
        ),
        opset_imports=[helper.make_opsetid("", 13)],
    )
    a = rng.standard_normal(a_shape).astype(np.float32)
    op_a = a.T if trans_a else a
    op_b = b.T if trans_b else b
    want = alpha * (op_a.astype(np.float64) @ op_b)
    if c_shape is not None:
        want = want + beta * weights["c"]
    return model, a, want


def _lower(model, chip: str, *, small_m: bool, activation: str | None = None):
    module = import_onnx(model)
    ctx = Context()
    GraphCanonicalizePass().apply(ctx, module)
    GraphPartitionPass(chip=chip).apply(ctx, module)
    if activation is not None:
        (gemm,) = [op for op in module.walk() if isinstance(op, graph.GemmOp)]
        gemm.properties["activation"] = StringAttr(activation)
    GraphToLoopPass(chip=chip, gemm_small_m=small_m).apply(ctx, module)
    return module


CASES = [
    pytest.param({"m": 1, "k": 96, "n": 1000, "c_shape": [1000], "trans_b": 1}, id="m1-bias-transB"),
    pytest.param({"m": 2, "k": 64, "n": 600, "c_shape": [2, 600], "alpha": 0.5, "beta": 2.0}, id="m2-full-C-alpha-beta"),
    pytest.param({"m": 8, "k": 40, "n": 96, "trans_a": 1}, id="m8-transA-noC"),
    pytest.param({"m": 8, "k": 128, "n": 2048, "c_shape": [8, 1], "trans_b": 1}, id="m8-column-C"),
    # a loop of 4 iterations (steps 0-7), two steps after it, 2 groups of 2048 columns
    pytest.param({"m": 1, "k": 320, "n": 4096, "c_shape": [4096]}, id="m1-10-K-steps-2-groups"),
    pytest.param({"m": 2, "k": 288, "n": 1000, "trans_b": 1}, id="m2-9-K-steps"),
]


@pytest.mark.parametrize("case", CASES)
def test_the_activations_stationary_nest_computes_the_gemm(case):
    model, a, want = _gemm_model(**case)
    module = _lower(model, "small", small_m=True)
    mm = [op for op in module.walk() if isinstance(op, MatmulOp)]
    # the stationary operand is X^T: M columns
    assert {op.stationary_ap.free_elements for op in mm} == {case["m"]}
    got = eval_loop(module, {"a": a})["y"]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("small_m", [True, False], ids=["small-m", "weights-stationary"])
@pytest.mark.parametrize("c_shape", [None, [600], [2, 600]], ids=["no-C", "bias", "full-C"])
def test_a_fused_relu_after_the_addend(small_m, c_shape):
    """The epilogue's activation in both orientations: fused into the evacuating ACT
    (no C, or a bias column when the weights are stationary), or applied after the
    addend."""
    model, a, want = _gemm_model(m=2, k=64, n=600, c_shape=c_shape, alpha=1.5, beta=0.5)
    module = _lower(model, "small", small_m=small_m, activation="relu")
    got = eval_loop(module, {"a": a})["y"]
    np.testing.assert_allclose(got, np.maximum(want, 0.0), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("k", [320, 96], ids=["two-buffers", "a-buffer-per-step"])
def test_the_lowered_program_on_the_hardware_model_agrees(k):
    """Two weight buffers, two PSUM banks, loads one K step ahead (10 K steps of 1000
    columns, over half the small chip's partition), or every K step in a buffer of
    its own (3 steps): the whole pipeline and the binary."""
    model, a, want = _gemm_model(m=1, k=k, n=1000, c_shape=[1000], trans_b=1)
    module = import_onnx(model)
    run_passes(lowering_passes("small"), module, Context(), [])
    got = eval_binary(module, {"a": a})["y"]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("merge", [True, False], ids=["bias-once", "bias-per-tile"])
def test_weights_stationary_bias_columns_load_once_per_nest(merge):
    """M = 40 is over the small chip's 32 PE columns: the weights stay stationary;
    N = 96 is three 32-column tiles, whose bias columns dma_merge loads in one
    descriptor (scaled by beta once) instead of one per tile."""
    model, a, want = _gemm_model(m=40, k=64, n=96, c_shape=[96], trans_b=1, beta=0.5)
    module = import_onnx(model)
    ctx = Context()
    GraphCanonicalizePass().apply(ctx, module)
    GraphPartitionPass(chip="small").apply(ctx, module)
    GraphToLoopPass(chip="small", dma_merge=merge).apply(ctx, module)
    mm = [op for op in module.walk() if isinstance(op, MatmulOp)]
    assert {op.stationary_ap.free_elements for op in mm} == {32}  # weights stationary
    bias_loads = [
        op for op in module.walk()
        if isinstance(op, CopyOp) and isinstance(op.src.type, MemRefType) and op.src.type.get_shape() == (96,)
    ]
    (load,) = bias_loads
    in_loop = isinstance(load.parent_op(), ForOp)
    assert in_loop != merge
    np.testing.assert_allclose(eval_loop(module, {"a": a})["y"], want, rtol=1e-4, atol=1e-4)

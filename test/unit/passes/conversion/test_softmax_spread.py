"""softmax_spread (kernels/softmax.py, kernels/gemm.py): one long row spread over the
partitions, its max and sum taken across them on the PE array, and a batch-1 gemm
that writes its row in that layout. Which rows spread, and the results of the
lowered programs on the hardware model (and of the loop nests) against NumPy."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from tidal.dialects.loop import MatmulOp, NestOp
from tidal.passes.conversion.graph_to_loop import GraphToLoopPass
from tidal.passes.conversion.kernels.softmax import SoftmaxTiles, plan_softmax, spread_partitions
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


def test_which_rows_spread():
    # 1000 logits: 125 partitions x 8 columns, as a [1, 1000] row or a [1, 1000, 1, 1]
    # pooled tensor; several rows, short rows and prime lengths stay on one partition
    assert spread_partitions(DEFAULT, (1, 1000), 1) == 125
    assert spread_partitions(DEFAULT, (1, 1000, 1, 1), 1) == 125
    assert spread_partitions(DEFAULT, (2, 1000), 1) == 0
    assert spread_partitions(DEFAULT, (1, 256), 1) == 0  # 128 x 2: too few columns
    assert spread_partitions(DEFAULT, (1, 997), 1) == 0
    assert spread_partitions(SMALL, (1, 320), 1) == 32
    tiles = plan_softmax(DEFAULT, "p", (1, 1000), 1, spread=True)
    assert isinstance(tiles, SoftmaxTiles) and (tiles.spread, tiles.partitions) == (125, 125)
    # 20000 on the small chip: 32 x 625, but 625 column sums overflow a PSUM bank
    long = plan_softmax(SMALL, "p", (1, 20000), 1, spread=True)
    assert not isinstance(long, SoftmaxTiles) or not long.spread
    row = plan_softmax(DEFAULT, "p", (1, 1000), 1, spread=False)
    assert isinstance(row, SoftmaxTiles) and (row.spread, row.tr) == (0, 1)


def _softmax(x: np.ndarray, log: bool) -> np.ndarray:
    x = x.astype(np.float64)
    z = x - x.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True)) if log else np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)


def _classifier(k: int, n: int, op: str, rng: np.random.Generator):
    """x [1, k] -> Gemm (weights [k, n], bias [n]) -> Softmax / LogSoftmax."""
    w = (rng.standard_normal((k, n)) * 0.5).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32)
    g = helper.make_graph(
        [
            helper.make_node("Gemm", ["x", "w", "b"], ["y"], name="fc"),
            helper.make_node(op, ["y"], ["p"], name="prob", axis=1),
        ],
        "t",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, k])],
        [helper.make_tensor_value_info("p", TensorProto.FLOAT, [1, n])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")],
    )
    x = rng.standard_normal((1, k)).astype(np.float32)
    logits = x.astype(np.float64) @ w + b
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), x, _softmax(logits, op == "LogSoftmax")


@pytest.mark.parametrize("spread", [True, False])
@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
def test_a_classifier_on_the_hardware_model(spread, op):
    """Gemm -> softmax on the small chip: with the option, the gemm's matmuls write
    a [32, 10] PSUM tile (the spread row) and the result matches NumPy."""
    model, x, want = _classifier(96, 320, op, np.random.default_rng(5))
    module = import_onnx(model)
    ctx = Context()
    for p in (GraphCanonicalizePass(), GraphPartitionPass(chip="small"), GraphToLoopPass(chip="small", softmax_spread=spread)):
        p.apply(ctx, module)
    (fc,) = [n for n in module.walk() if isinstance(n, NestOp) and n.origin.data == "fc"]
    accs = {m.acc.type for m in fc.walk() if isinstance(m, MatmulOp)}
    assert [(t.partitions.data, t.elems.data) for t in accs] == ([(32, 10)] if spread else [(1, 320)])
    np.testing.assert_allclose(eval_loop(module, {"x": x})["p"], want, rtol=1e-5, atol=1e-6)
    module = import_onnx(model)
    run_passes(lowering_passes("small", disabled=[] if spread else ["softmax-spread"]), module, Context(), [])
    np.testing.assert_allclose(eval_binary(module, {"x": x})["p"], want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("log", [False, True])
def test_extreme_rows(log):
    """A row straight from the input: large logits (exp would overflow without the
    max), masked entries of -inf (exp gives 0; a partition of only -inf keeps a
    finite max, so the ones^T @ diag(max) product has no 0 x inf), and a row whose
    every value is hugely negative."""
    rng = np.random.default_rng(8)
    op = "LogSoftmax" if log else "Softmax"
    g = helper.make_graph(
        [helper.make_node(op, ["x"], ["p"], name="prob", axis=1)],
        "t",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 320])],
        [helper.make_tensor_value_info("p", TensorProto.FLOAT, [1, 320])],
    )
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    big = (rng.standard_normal((1, 320)) * 10 + 300).astype(np.float32)
    masked = rng.standard_normal((1, 320)).astype(np.float32)
    masked[0, 32 * np.arange(10) + 3] = -np.inf  # all of partition 3
    masked[0, ::7] = -np.inf
    low = (rng.standard_normal((1, 320)) - 1e30).astype(np.float32)
    for x in (big, masked, low):
        module = import_onnx(model)
        run_passes(lowering_passes("small"), module, Context(), [])
        with np.errstate(divide="ignore", invalid="ignore"):
            want = _softmax(x, log)
        got = eval_binary(module, {"x": x})["p"]
        finite = np.isfinite(want)
        np.testing.assert_array_equal(np.isfinite(got), finite)
        np.testing.assert_allclose(got[finite], want[finite], rtol=2e-5, atol=1e-6)


def test_log_softmax_rows_with_large_logits():
    """Several rows (one per partition, not spread): x - max is taken first, then
    log(sum) is subtracted. Taken as one bias, -max - log(sum) rounds log(sum) away
    when |max| is near 1e30, and every maximum came out 0 instead of -log(count)."""
    rng = np.random.default_rng(21)
    g = helper.make_graph(
        [helper.make_node("LogSoftmax", ["x"], ["p"], name="prob", axis=1)],
        "t",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 10])],
        [helper.make_tensor_value_info("p", TensorProto.FLOAT, [4, 10])],
    )
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    x = np.full((4, 10), 1e30, np.float32)
    x[1] *= -1
    x[2] = (1e30 * (1 + rng.uniform(0, 1e-6, 10))).astype(np.float32)
    x[3] = rng.standard_normal(10).astype(np.float32)
    module = import_onnx(model)
    run_passes(lowering_passes("small"), module, Context(), [])
    got = eval_binary(module, {"x": x})["p"]
    want = _softmax(x, True)
    np.testing.assert_allclose(got[:2], np.full((2, 10), -np.log(10.0)), rtol=1e-6)
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6)


def test_a_pooled_classifier_on_the_hardware_model():
    """SqueezeNet's tail: a global average pooling's [1, C, 1, 1] result (channel
    tiles on partitions: channel t * 32 + p on partition p) straight into a softmax
    over the channels, which reads that layout."""
    rng = np.random.default_rng(12)
    g = helper.make_graph(
        [
            helper.make_node("GlobalAveragePool", ["x"], ["g"], name="gap"),
            helper.make_node("Softmax", ["g"], ["p"], name="prob", axis=1),
        ],
        "t",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 320, 5, 5])],
        [helper.make_tensor_value_info("p", TensorProto.FLOAT, [1, 320, 1, 1])],
    )
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    x = (rng.standard_normal((1, 320, 5, 5)) * 3).astype(np.float32)
    want = _softmax(x.astype(np.float64).mean(axis=(2, 3)), False).reshape(1, 320, 1, 1)
    for off in ([], ["softmax-spread"]):
        module = import_onnx(model)
        run_passes(lowering_passes("small", disabled=off), module, Context(), [])
        np.testing.assert_allclose(eval_binary(module, {"x": x})["p"], want, rtol=1e-5, atol=1e-7)

"""graph-swap-avgpool (passes/graph/swap_avgpool.py): a transition (relu, 1x1 conv
with bias, 2x2 stride-2 average) pools before the conv, and the lowered program's
results on the hardware model match onnxruntime with the pass on and off."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from tidal.dialects import graph
from tidal.passes.graph.swap_avgpool import GraphSwapAvgPoolPass
from tidal.passes.interpreters.accel import eval_binary
from tidal.passes.pipeline import lowering_passes, run_passes
from tidal.targets.onnx_import import import_onnx
from xdsl.context import Context


def _model(rng: np.random.Generator):
    w = (rng.standard_normal((24, 48, 1, 1)) * 0.2).astype(np.float32)
    b = rng.standard_normal(24).astype(np.float32)
    g = helper.make_graph(
        [
            helper.make_node("Relu", ["x"], ["r"], name="relu"),
            helper.make_node("Conv", ["r", "w", "b"], ["c"], name="conv"),
            helper.make_node("AveragePool", ["c"], ["y"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        ],
        "t",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 48, 12, 12])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 24, 6, 6])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def test_the_pool_moves_before_the_conv():
    module = import_onnx(_model(np.random.default_rng(1)))
    passes = lowering_passes("small")
    upto = [type(p) for p in passes].index(GraphSwapAvgPoolPass)
    run_passes(passes[: upto + 1], module, Context(), [])
    order = [op.name for op in module.walk() if isinstance(op, graph.Conv2dOp | graph.AvgPoolOp)]
    assert order == ["graph.avgpool", "graph.conv2d"]
    (pool,) = [op for op in module.walk() if isinstance(op, graph.AvgPoolOp)]
    assert list(pool.result.type.get_shape()) == [1, 48, 6, 6]


@pytest.mark.parametrize("swap", [True, False])
def test_results_on_the_hardware_model(swap):
    model = _model(np.random.default_rng(2))
    x = np.random.default_rng(3).standard_normal((1, 48, 12, 12)).astype(np.float32)
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    module = import_onnx(model)
    run_passes(lowering_passes("small", disabled=[] if swap else ["swap-avgpool"]), module, Context(), [])
    np.testing.assert_allclose(eval_binary(module, {"x": x})["y"], want, rtol=1e-4, atol=1e-5)

"""fuse-matmul-bias (passes/graph/fuse_epilogue.py): a linear as exporters write it (a
MatMul, with or without a bias Add, and its activation) runs as one gemm whose
epilogue adds the bias and applies the activation; tidal-run's results match
onnxruntime's with the option on and off, and take fewer cycles with it on."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from tidal.tools.tidal_run import run_model


def _linear(rng: np.random.Generator, activation: str, bias: bool):
    inits = [numpy_helper.from_array(rng.standard_normal((40, 16)).astype(np.float32), "w")]
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"])]
    last = "m"
    if bias:
        inits.append(numpy_helper.from_array(rng.standard_normal(16).astype(np.float32), "b"))
        nodes.append(helper.make_node("Add", ["m", "b"], ["a"]))
        last = "a"
    nodes.append(helper.make_node(activation, [last], ["out"]))
    g = helper.make_graph(
        nodes, "linear",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [24, 40])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [24, 16])], inits,
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize(("activation", "bias"), [("Relu", False), ("Sigmoid", False), ("Relu", True), ("Sigmoid", True)])
def test_linear_and_activation_is_one_gemm(activation, bias):
    rng = np.random.default_rng(0)
    model = _linear(rng, activation, bias)
    feeds = {"x": rng.standard_normal((24, 40)).astype(np.float32)}
    (want,) = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)
    cycles = {}
    for off in ((), ("fuse-matmul-bias",)):
        got, stats = run_model(model, feeds, "small", disabled=off)
        np.testing.assert_allclose(got["out"], want, rtol=1e-4, atol=1e-5)
        cycles[off] = stats["cycles"]
    assert cycles[()] < cycles[("fuse-matmul-bias",)]

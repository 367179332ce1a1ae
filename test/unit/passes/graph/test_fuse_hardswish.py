"""graph-fuse-epilogue's hard sigmoid and hard swish patterns
(passes/graph/fuse_epilogue.py): Keras' hard_swish and hard_sigmoid as tf2onnx
exports them become one piecewise-linear op each, and the graph agrees with
onnxruntime."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from tidal.dialects import graph
from tidal.passes.graph.canonicalize import GraphCanonicalizePass
from tidal.passes.graph.fuse_epilogue import GraphFuseEpiloguePass
from tidal.passes.interpreters.graph import eval_graph
from tidal.targets.onnx_import import import_onnx
from xdsl.context import Context


def _hard_swish_model(rng: np.random.Generator):
    """A conv, Keras' hard_swish (x * (relu6(x + 3) * (1/6))) and a squeeze-and-excite
    gate (relu6(conv + 3) / 6, the Div by a scalar) multiplying it, as tf2onnx
    exports them."""
    f = lambda a, n: numpy_helper.from_array(np.asarray(a, np.float32), n)  # noqa: E731
    inits = [
        f(rng.standard_normal((8, 3, 3, 3)), "w"), f(rng.standard_normal(8), "b"),
        f(3.0, "three"), f(0.0, "zero"), f(6.0, "six"), f(1 / 6, "sixth"),
        f(rng.standard_normal((8, 8, 1, 1)) * 0.3, "gw"), f(rng.standard_normal(8), "gb"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c", "three"], ["a"]),
        helper.make_node("Clip", ["a", "zero", "six"], ["r6"]),
        helper.make_node("Mul", ["r6", "sixth"], ["hsig"]),
        helper.make_node("Mul", ["c", "hsig"], ["hs"]),
        helper.make_node("GlobalAveragePool", ["hs"], ["pool"]),
        helper.make_node("Conv", ["pool", "gw", "gb"], ["g"]),
        helper.make_node("Add", ["g", "three"], ["g3"]),
        helper.make_node("Clip", ["g3", "zero", "six"], ["g6"]),
        helper.make_node("Div", ["g6", "six"], ["gate"]),
        helper.make_node("Mul", ["hs", "gate"], ["y"]),
    ]
    g = helper.make_graph(
        nodes, "hard_swish",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 6, 6])], inits,
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_keras_hard_swish_and_gate_fuse_and_agree_with_onnxruntime():
    """graph-fuse-epilogue's hard sigmoid and hard swish patterns after
    graph-canonicalize (which moves the gate's + 3 into its conv's bias): one
    hard_swish, the gate's hard sigmoid the clip01 epilogue of its conv, no clip
    left, and the graph's numbers (NumPy references) match onnxruntime's."""
    rng = np.random.default_rng(0)
    model = _hard_swish_model(rng)
    x = rng.standard_normal((1, 3, 6, 6)).astype(np.float32)
    (expected,) = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    module = import_onnx(model)
    GraphCanonicalizePass().apply(Context(), module)
    GraphFuseEpiloguePass().apply(Context(), module)
    module.verify()
    kinds = sorted(op.params[0] for op in module.walk() if isinstance(op, graph.PiecewiseLinearOp))
    assert kinds == ["hard_swish"]  # the gate's hard sigmoid is its conv's epilogue
    activations = [op.activation_val for op in module.walk() if isinstance(op, graph.Conv2dOp)]
    assert activations == [None, "clip01"]
    np.testing.assert_allclose(eval_graph(module, {"x": x})["y"], expected, rtol=1e-5, atol=1e-5)

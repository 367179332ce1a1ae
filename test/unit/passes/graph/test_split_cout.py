"""graph-split-cout (passes/graph/split_cout.py): which convs split, and a split
model's results on the hardware model against onnxruntime, with the pass on and
off."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from tidal.dialects import graph
from tidal.passes.graph.split_cout import GraphSplitCoutPass, split_point
from tidal.passes.interpreters.accel import eval_binary
from tidal.passes.pipeline import lowering_passes, run_passes
from tidal.targets.onnx_import import import_onnx
from xdsl.context import Context


def test_split_points():
    # (cout, kernel rows, strides, output rows, PE columns) -> the first conv's outputs
    assert split_point(192, 3, (1, 1), 56, 128) == 128  # 2 x 96 -> 128 + 64 (row-pack)
    assert split_point(160, 3, (1, 1), 14, 128) == 128  # 2 x 80 -> 128 + 32
    assert split_point(320, 3, (1, 1), 7, 128) == 256  # 3 tiles, not 4 of 80
    assert split_point(192, 3, (1, 1), 13, 128) == 0  # 2 tiles either way, 13 rows
    assert split_point(192, 1, (1, 1), 56, 128) == 0  # 1x1
    assert split_point(192, 3, (2, 2), 28, 128) == 0  # stride 2
    assert split_point(224, 3, (1, 1), 28, 128) == 0  # rest 96 > 64
    assert split_point(256, 3, (1, 1), 28, 128) == 0  # whole tiles
    assert split_point(96, 3, (1, 1), 28, 128) == 0  # one tile
    assert split_point(48, 3, (1, 1), 8, 32) == 32  # the small chip's 32 columns


def _model(rng: np.random.Generator):
    """x [1, 16, 8, 8] -> conv 3x3 (48 outputs, relu) -> concat with x -> conv 1x1."""
    w = (rng.standard_normal((48, 16, 3, 3)) * 0.2).astype(np.float32)
    b = rng.standard_normal(48).astype(np.float32)
    w2 = (rng.standard_normal((8, 64, 1, 1)) * 0.2).astype(np.float32)
    g = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["c"], ["r"], name="relu"),
            helper.make_node("Concat", ["r", "x"], ["cat"], name="cat", axis=1),
            helper.make_node("Conv", ["cat", "w2"], ["y"], name="proj"),
        ],
        "t",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 8, 8])],
        [numpy_helper.from_array(a, n) for a, n in ((w, "w"), (b, "b"), (w2, "w2"))],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def test_the_pass_splits_the_conv():
    module = import_onnx(_model(np.random.default_rng(1)))
    passes = lowering_passes("small")  # the graph passes up to this one (relu fused)
    upto = [type(p) for p in passes].index(GraphSplitCoutPass)
    run_passes(passes[: upto + 1], module, Context(), [])
    convs = [op for op in module.walk() if isinstance(op, graph.Conv2dOp)]
    assert sorted(tuple(op.result.type.get_shape())[1] for op in convs) == [8, 16, 32]


@pytest.mark.parametrize("split", [True, False])
def test_results_on_the_hardware_model(split):
    model = _model(np.random.default_rng(2))
    x = np.random.default_rng(3).standard_normal((1, 16, 8, 8)).astype(np.float32)
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    module = import_onnx(model)
    run_passes(lowering_passes("small", disabled=[] if split else ["split-cout"]), module, Context(), [])
    np.testing.assert_allclose(eval_binary(module, {"x": x})["y"], want, rtol=1e-4, atol=1e-5)

"""graph-fold-clip (passes/graph/fold_clip.py): the ReLU6s of a small MobileNet v2
(ONNX Clip with min 0 and max 6 as inputs) become clip01 epilogues of the convs and
the gemm before them, and the lowered program's results on the hardware model match
onnxruntime with the pass on and off."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from tidal.dialects import graph
from tidal.passes.graph.fold_clip import GraphFoldClipPass
from tidal.passes.interpreters.accel import eval_binary
from tidal.passes.pipeline import lowering_passes, run_passes
from tidal.targets.onnx_import import import_onnx
from xdsl.context import Context


def _model(rng: np.random.Generator):
    """stem 3x3/2 -> ReLU6 -> [1x1 expand -> ReLU6 -> 3x3 depthwise -> ReLU6 ->
    1x1 project, + the block's input] -> 1x1 -> ReLU6 -> global average -> flatten
    -> gemm -> ReLU6. The stem's ReLU6 stays (the residual add reads it), and so
    does the last (returned)."""
    inits: list = [
        numpy_helper.from_array(np.array(0.0, np.float32), "lo"),
        numpy_helper.from_array(np.array(6.0, np.float32), "hi"),
    ]
    nodes: list = []

    def conv(x: str, cin: int, cout: int, k: int, s: int, g: int, name: str) -> str:
        w = (rng.standard_normal((cout, cin // g, k, k)) * np.sqrt(2.0 / (cin // g * k * k))).astype(np.float32)
        inits.extend([numpy_helper.from_array(w, f"{name}_w"), numpy_helper.from_array(rng.standard_normal(cout).astype(np.float32), f"{name}_b")])
        nodes.append(helper.make_node("Conv", [x, f"{name}_w", f"{name}_b"], [name], name=name, kernel_shape=[k, k], strides=[s, s], pads=[k // 2] * 4, group=g))
        return name

    def relu6(x: str) -> str:
        nodes.append(helper.make_node("Clip", [x, "lo", "hi"], [f"{x}_r6"], name=f"{x}_r6"))
        return f"{x}_r6"

    s = relu6(conv("x", 3, 16, 3, 2, 1, "stem"))
    e = relu6(conv(s, 16, 48, 1, 1, 1, "expand"))
    d = relu6(conv(e, 48, 48, 3, 1, 48, "dw"))
    p = conv(d, 48, 16, 1, 1, 1, "project")
    nodes.append(helper.make_node("Add", [p, s], ["res"], name="res"))
    h = relu6(conv("res", 16, 64, 1, 1, 1, "head"))
    nodes += [
        helper.make_node("GlobalAveragePool", [h], ["gap"], name="gap"),
        helper.make_node("Flatten", ["gap"], ["flat"], name="flat"),
        helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["fc"], name="fc", transB=1),
    ]
    inits += [
        numpy_helper.from_array((rng.standard_normal((10, 64)) * 0.3).astype(np.float32), "fc_w"),
        numpy_helper.from_array(rng.standard_normal(10).astype(np.float32), "fc_b"),
    ]
    y = relu6("fc")
    g = helper.make_graph(
        nodes, "mnv2",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info(y, TensorProto.FLOAT, [1, 10])], inits,
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def test_the_clips_fold_into_the_epilogues():
    module = import_onnx(_model(np.random.default_rng(1)))
    passes = lowering_passes("small")
    upto = [type(p) for p in passes].index(GraphFoldClipPass)
    run_passes(passes[: upto + 1], module, Context(), [])
    clips = [op for op in module.walk() if isinstance(op, graph.PiecewiseLinearOp)]
    assert sorted(c.attributes["tidal.origin"].data for c in clips) == ["fc_r6", "stem_r6"]  # type: ignore[union-attr]
    fused = sorted(
        op.attributes["tidal.origin"].data  # type: ignore[union-attr]
        for op in module.walk()
        if isinstance(op, graph.Conv2dOp | graph.GemmOp) and op.activation_val == "clip01"
    )
    assert fused == ["dw", "expand", "head"]
    (fc,) = [op for op in module.walk() if isinstance(op, graph.GemmOp)]
    assert fc.alpha_val == 6.0 and fc.activation_val is None


@pytest.mark.parametrize("fold", [True, False])
def test_results_on_the_hardware_model(fold):
    model = _model(np.random.default_rng(2))
    x = np.random.default_rng(3).standard_normal((1, 3, 16, 16)).astype(np.float32)
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    module = import_onnx(model)
    run_passes(lowering_passes("small", disabled=[] if fold else ["fold-clip"]), module, Context(), [])
    got = eval_binary(module, {"x": x})[model.graph.output[0].name]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)

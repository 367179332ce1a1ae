"""ConvTranspose as imported (`build_conv_transpose`: kernel = stride as a 1x1 conv
and a transpose between views, otherwise zeros between the pixels and a conv by the
flipped weights) against onnxruntime over strides, pads, output_padding, dilations,
groups, biases and 1-D; test_node_ops.py runs four through the hardware model."""

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from tidal.passes.interpreters.graph import eval_graph
from tidal.targets.onnx_import import import_onnx

CASES = {
    "k2s2": ([1, 8, 5, 6], [8, 4, 2, 2], {"strides": [2, 2]}),
    "k2s2-batch2-rect": ([2, 4, 5, 6], [4, 3, 2, 3], {"strides": [2, 3]}),
    "k3s2p1-output_padding": ([1, 8, 5, 6], [8, 4, 3, 3], {"strides": [2, 2], "pads": [1, 1, 1, 1], "output_padding": [1, 1]}),
    "k4s2p1": ([1, 8, 5, 6], [8, 4, 4, 4], {"strides": [2, 2], "pads": [1, 1, 1, 1]}),
    "grouped": ([1, 8, 5, 6], [8, 2, 3, 3], {"pads": [1, 1, 1, 1], "group": 2}),
    "depthwise-dilated": ([1, 6, 5, 6], [6, 1, 3, 3], {"strides": [2, 2], "group": 6, "dilations": [2, 1]}),
    "asymmetric-pads": ([1, 4, 5, 6], [4, 3, 3, 2], {"strides": [3, 2], "pads": [2, 0, 0, 1]}),
    "pads-past-the-kernel": ([1, 4, 5, 6], [4, 3, 1, 1], {"pads": [1, 1, 1, 1]}),
    "valid": ([1, 4, 5, 6], [4, 3, 3, 3], {"strides": [2, 2], "auto_pad": "VALID"}),
    "1d": ([1, 4, 9], [4, 3, 4], {"strides": [2], "pads": [1, 1]}),
    "1d-k2s2": ([1, 4, 9], [4, 3, 2], {"strides": [2]}),
}


def _model(x_shape, w_shape, attrs, bias):
    rng = np.random.default_rng(len(x_shape) * 10 + w_shape[-1])
    inits = [numpy_helper.from_array(rng.standard_normal(w_shape).astype(np.float32), "w")]
    inputs = ["x", "w"]
    if bias:
        out_channels = w_shape[1] * attrs.get("group", 1)
        inits.append(numpy_helper.from_array(rng.standard_normal(out_channels).astype(np.float32), "b"))
        inputs.append("b")
    graph = helper.make_graph(
        [helper.make_node("ConvTranspose", inputs, ["y"], **attrs)], "ct",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("bias", [False, True], ids=["no-bias", "bias"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_conv_transpose_matches_onnxruntime(name, bias):
    x_shape, w_shape, attrs = CASES[name]
    model = _model(x_shape, w_shape, attrs, bias)
    x = np.random.default_rng(9).standard_normal(x_shape).astype(np.float32)
    ref = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    module = import_onnx(model)
    ops = {op.name for op in module.walk()}
    assert "graph.onnx_node" not in ops
    if name.startswith("k2s2"):  # blocks: no zeros
        assert "graph.transpose" in ops and "graph.concat" not in ops
    got = eval_graph(module, {"x": x})["y"]
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("attrs", "words"),
    [
        ({"strides": [2, 2], "auto_pad": "SAME_UPPER"}, "auto_pad=SAME_UPPER"),
        ({"strides": [2, 2], "output_shape": [10, 12]}, "output_shape=[10, 12]"),
        ({"strides": [2, 2], "output_padding": [2, 0]}, "output_padding [2, 0]"),
    ],
)
def test_refused_conv_transposes_run_on_the_framework_tier(attrs, words):
    framework = [
        op for op in import_onnx(_model([1, 4, 5, 6], [4, 3, 3, 3], attrs, False)).walk()
        if op.name == "graph.onnx_node"
    ]
    assert framework and words in str(framework[0].attributes["tidal.reason"])

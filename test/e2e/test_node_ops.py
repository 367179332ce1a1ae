"""The ONNX operators imported as compositions of accelerator ops (issue 14's
element-wise, slicing and 1-D/3-D families), each compared with onnxruntime on the
hardware model on both chip presets, with every op on the accelerator."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from tidal.tools.tidal_run import run_model

RNG = np.random.default_rng(7)


def _w(*shape, scale=0.5):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def _i64(*values):
    return np.array(values, np.int64)


# name: (node, {input: shape}, {initializer: array}, opset)
CASES = {
    "sub": (helper.make_node("Sub", ["x", "b"], ["y"]), {"x": [2, 3, 8]}, {"b": _w(3, 1)}, 17),
    "sub_scalar_left": (helper.make_node("Sub", ["c", "x"], ["y"]), {"x": [4, 8]}, {"c": np.array(1.5, np.float32)}, 17),
    "sub_tensors": (helper.make_node("Sub", ["x", "x2"], ["y"]), {"x": [4, 8], "x2": [4, 8]}, {}, 17),
    "div_scalar": (helper.make_node("Div", ["x", "c"], ["y"]), {"x": [4, 8]}, {"c": np.array(8.0, np.float32)}, 17),
    "div_const": (helper.make_node("Div", ["x", "d"], ["y"]), {"x": [4, 8]}, {"d": np.abs(_w(8)) + 0.5}, 17),
    "div_tensors": (helper.make_node("Div", ["x", "x2"], ["y"]), {"x": [4, 8], "x2": [4, 1]}, {}, 17),
    "max3": (helper.make_node("Max", ["x", "x2", "b"], ["y"]), {"x": [4, 8], "x2": [4, 8]}, {"b": _w(8)}, 17),
    "min2": (helper.make_node("Min", ["x", "x2"], ["y"]), {"x": [4, 8], "x2": [1, 8]}, {}, 17),
    "neg": (helper.make_node("Neg", ["x"], ["y"]), {"x": [3, 5]}, {}, 17),
    "abs": (helper.make_node("Abs", ["x"], ["y"]), {"x": [3, 5]}, {}, 17),
    "elu": (helper.make_node("Elu", ["x"], ["y"], alpha=0.7), {"x": [2, 4, 6]}, {}, 17),
    "celu": (helper.make_node("Celu", ["x"], ["y"], alpha=2.0), {"x": [2, 4, 6]}, {}, 17),
    "selu": (helper.make_node("Selu", ["x"], ["y"]), {"x": [2, 4, 6]}, {}, 17),
    "prelu": (helper.make_node("PRelu", ["x", "s"], ["y"]), {"x": [1, 4, 3, 3]}, {"s": _w(4, 1, 1)}, 17),
    "softsign": (helper.make_node("Softsign", ["x"], ["y"]), {"x": [3, 7]}, {}, 17),
    "gelu": (helper.make_node("Gelu", ["x"], ["y"]), {"x": [2, 4, 6]}, {}, 20),
    "gelu_tanh": (helper.make_node("Gelu", ["x"], ["y"], approximate="tanh"), {"x": [2, 4, 6]}, {}, 20),
    "mean": (helper.make_node("Mean", ["x", "x2", "b"], ["y"]), {"x": [4, 8], "x2": [4, 1]}, {"b": _w(8)}, 17),
    "expand": (helper.make_node("Expand", ["x", "s"], ["y"]), {"x": [3, 1, 5]}, {"s": _i64(2, 3, 4, 5)}, 17),
    "global_maxpool": (helper.make_node("GlobalMaxPool", ["x"], ["y"]), {"x": [1, 40, 9, 7]}, {}, 17),
    "pow2": (helper.make_node("Pow", ["x", "e"], ["y"]), {"x": [3, 7]}, {"e": np.array(2.0, np.float32)}, 17),
    "pow3": (helper.make_node("Pow", ["x", "e"], ["y"]), {"x": [3, 7]}, {"e": np.array(3.0, np.float32)}, 17),
    "log_softmax": (helper.make_node("LogSoftmax", ["x"], ["y"], axis=-1), {"x": [4, 10]}, {}, 17),
    # rows of 10,000: exp into a second row on the default chip, in place on the small
    # one (two rows of 40 KB do not fit its 64 KB partitions)
    "softmax_long_row": (helper.make_node("Softmax", ["x"], ["y"], axis=-1), {"x": [2, 10000]}, {}, 17),
    # Resize axis by axis (targets/onnx_resize.py): nearest as copies, linear and
    # cubic as a matmul by each axis's weights; DepthToSpace a transpose between views
    "resize_nearest_x2": (
        helper.make_node("Resize", ["x", "", "sc"], ["y"], mode="nearest",
                         coordinate_transformation_mode="asymmetric", nearest_mode="floor"),
        {"x": [1, 3, 5, 6]}, {"sc": np.array([1, 1, 2, 2], np.float32)}, 17),
    "resize_nearest_half": (
        helper.make_node("Resize", ["x", "", "sc"], ["y"], mode="nearest"),
        {"x": [1, 3, 6, 8]}, {"sc": np.array([1, 1, 0.5, 0.5], np.float32)}, 17),
    "resize_linear_sizes": (
        helper.make_node("Resize", ["x", "", "", "sz"], ["y"], mode="linear",
                         coordinate_transformation_mode="align_corners"),
        {"x": [1, 3, 5, 6]}, {"sz": _i64(1, 3, 9, 11)}, 17),
    "resize_cubic": (
        helper.make_node("Resize", ["x", "", "sc"], ["y"], mode="cubic", exclude_outside=1),
        {"x": [1, 2, 8, 6]}, {"sc": np.array([1, 1, 0.5, 2], np.float32)}, 17),
    "upsample_linear": (
        helper.make_node("Upsample", ["x", "sc"], ["y"], mode="linear"),
        {"x": [1, 2, 4, 5]}, {"sc": np.array([1, 1, 2, 3], np.float32)}, 9),
    # ConvTranspose: kernel = stride as a 1x1 conv and a transpose; else zeros
    # between the pixels and a conv by the flipped weights
    "conv_transpose_k2s2": (
        helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], strides=[2, 2]),
        {"x": [1, 8, 5, 6]}, {"w": _w(8, 4, 2, 2), "b": _w(4)}, 17),
    "conv_transpose_k3s2": (
        helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], strides=[2, 2], pads=[1, 1, 1, 1],
                         output_padding=[1, 1]),
        {"x": [1, 8, 5, 6]}, {"w": _w(8, 4, 3, 3), "b": _w(4)}, 17),
    "conv_transpose_grouped": (
        helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[2, 1], dilations=[1, 2], group=2,
                         pads=[0, 2, 1, 0]),
        {"x": [1, 6, 4, 5]}, {"w": _w(6, 2, 3, 3)}, 17),
    "conv_transpose_1d": (
        helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[2], pads=[1, 1]),
        {"x": [1, 4, 9]}, {"w": _w(4, 3, 4)}, 17),
    "depth_to_space_crd": (
        helper.make_node("DepthToSpace", ["x"], ["y"], blocksize=2, mode="CRD"), {"x": [1, 8, 3, 5]}, {}, 17),
    "space_to_depth": (helper.make_node("SpaceToDepth", ["x"], ["y"], blocksize=3), {"x": [1, 2, 6, 9]}, {}, 17),
    "squeeze": (helper.make_node("Squeeze", ["x", "ax"], ["y"]), {"x": [1, 6, 1, 4]}, {"ax": _i64(0, 2)}, 17),
    "slice": (helper.make_node("Slice", ["x", "st", "en", "ax", "sp"], ["y"]), {"x": [4, 10, 6]},
              {"st": _i64(1, -5), "en": _i64(9, 100), "ax": _i64(1, 2), "sp": _i64(3, 2)}, 17),
    "pad_constant": (helper.make_node("Pad", ["x", "p", "v"], ["y"], mode="constant"), {"x": [1, 2, 4, 5]},
                     {"p": _i64(0, 0, 1, 2, 0, 0, 2, 0), "v": np.array(0.25, np.float32)}, 17),
    "pad_reflect": (helper.make_node("Pad", ["x", "p"], ["y"], mode="reflect"), {"x": [1, 2, 4, 5]},
                    {"p": _i64(0, 0, 2, 1, 0, 0, 1, 3)}, 17),
    "pad_edge_crop": (helper.make_node("Pad", ["x", "p"], ["y"], mode="edge"), {"x": [1, 2, 4, 5]},
                      {"p": _i64(0, 0, 2, -1, 0, 0, -1, 2)}, 17),
    "tile": (helper.make_node("Tile", ["x", "r"], ["y"]), {"x": [2, 3]}, {"r": _i64(2, 3)}, 17),
    "conv1d": (helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 2], strides=[2], dilations=[1]),
               {"x": [1, 4, 17]}, {"w": _w(6, 4, 4), "b": _w(6)}, 17),
    "maxpool1d": (helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3], strides=[2], pads=[1, 1]),
                  {"x": [1, 3, 16]}, {}, 17),
    "conv3d": (helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 0, 1, 1, 0, 1], strides=[2, 1, 1]),
               {"x": [1, 3, 5, 6, 6]}, {"w": _w(4, 3, 3, 2, 3), "b": _w(4)}, 17),
    "maxpool3d": (helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2, 2], strides=[2, 2, 2], pads=[1, 0, 0, 0, 0, 0]),
                  {"x": [1, 2, 5, 6, 6]}, {}, 17),
    "layer_norm": (helper.make_node("LayerNormalization", ["x", "s", "b"], ["y"]), {"x": [2, 5, 24]},
                   {"s": _w(24), "b": _w(24)}, 17),
    "gather_const": (helper.make_node("Gather", ["x", "i"], ["y"], axis=1), {"x": [2, 6, 3]},
                     {"i": np.array([[5, 0], [1, 2]], np.int64)}, 17),
    "cast_f32": (helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT), {"x": [3, 4]}, {}, 17),
    "reduce_mean": (helper.make_node("ReduceMean", ["x"], ["y"], axes=[1, 3], keepdims=1), {"x": [2, 3, 4, 5]}, {}, 17),
    "reduce_sum": (helper.make_node("ReduceSum", ["x", "ax"], ["y"], keepdims=0), {"x": [2, 3, 4]},
                   {"ax": _i64(-1)}, 17),
    "reduce_sum_all": (helper.make_node("ReduceSum", ["x"], ["y"]), {"x": [3, 7]}, {}, 17),
    "reduce_sum_square": (helper.make_node("ReduceSumSquare", ["x"], ["y"], axes=[2, 3]), {"x": [2, 3, 4, 5]}, {}, 17),
    "reduce_l1": (helper.make_node("ReduceL1", ["x"], ["y"], axes=[1], keepdims=0), {"x": [2, 6, 5]}, {}, 17),
    "reduce_l2": (helper.make_node("ReduceL2", ["x", "ax"], ["y"]), {"x": [2, 3, 4]}, {"ax": _i64(-1)}, 18),
    "reduce_max": (helper.make_node("ReduceMax", ["x"], ["y"], axes=[1, 3]), {"x": [2, 40, 4, 9]}, {}, 17),
    "reduce_min": (helper.make_node("ReduceMin", ["x", "ax"], ["y"], keepdims=0), {"x": [3, 50, 7]}, {"ax": _i64(1)}, 18),
    "instance_norm": (helper.make_node("InstanceNormalization", ["x", "s", "b"], ["y"], epsilon=1e-3),
                      {"x": [2, 3, 4, 5]}, {"s": _w(3), "b": _w(3)}, 17),
    "avgpool3d": (helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 2, 2], strides=[1, 2, 2]),
                  {"x": [1, 2, 5, 6, 6]}, {}, 17),
}


def _split_model():
    node = helper.make_node("Split", ["x", "s"], ["a", "b", "c"], axis=1)
    graph = helper.make_graph(
        [node, helper.make_node("Relu", ["b"], ["br"])], "split",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 9, 3])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("a", "br", "c")],
        [numpy_helper.from_array(_i64(2, 3, 4), "s")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _model(name):
    if name == "split":
        return onnx.shape_inference.infer_shapes(_split_model())
    node, inputs, inits, opset = CASES[name]
    graph = helper.make_graph(
        [node], name,
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs.items()],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(a, n) for n, a in inits.items()],
    )
    return onnx.shape_inference.infer_shapes(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    )


@pytest.mark.parametrize("chip", ["small", "default"])
@pytest.mark.parametrize("name", [*CASES, "split"])
def test_op_on_the_accelerator_matches_onnxruntime(name, chip):
    model = _model(name)
    rng = np.random.default_rng(3)
    feeds = {}
    for i in model.graph.input:
        if i.name in {t.name for t in model.graph.initializer}:
            continue
        shape = [d.dim_value for d in i.type.tensor_type.shape.dim]
        feeds[i.name] = rng.standard_normal(shape).astype(np.float32)
    if name == "div_tensors":  # away from 0
        feeds["x2"] = np.abs(feeds["x2"]) + np.float32(0.5)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    expected = dict(zip(names, session.run(names, feeds), strict=True))
    got, stats = run_model(model, feeds, chip)
    placement = stats["placement"]
    assert (placement["host"], placement["framework"]) == (0, 0), placement
    for n, ref in expected.items():
        assert got[n].shape == ref.shape, (n, got[n].shape, ref.shape)
        err = float(np.abs(got[n].astype(np.float64) - ref).max())
        assert err <= 1e-3 * max(float(np.abs(ref).max()), 1e-6), (n, err)

"""Resize and Upsample as imported (targets/onnx_resize.py's per-axis maps, lowered by
`build_resize`) against onnxruntime over its modes, coordinate transforms, nearest
roundings, scales and sizes: every case either runs on the accelerator's ops with
onnxruntime's numbers (the graph level, `eval_graph`; test_node_ops.py runs some
through the hardware model) or goes to the framework tier with its reason."""

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from tidal.passes.interpreters.graph import eval_graph
from tidal.targets.onnx_import import import_onnx

TRANSFORMS = ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn"]


def _model(attrs, *, scales=None, sizes=None, opset=13, shape=(1, 2, 6, 10), op="Resize"):
    inits = []
    if op == "Upsample" or opset == 10:
        inputs = ["x", "s"]
    else:
        inputs = ["x", "", "s" if scales is not None else "", *([] if scales is not None else ["z"])]
    if scales is not None:
        inits.append(numpy_helper.from_array(np.array(scales, np.float32), "s"))
    else:
        inits.append(numpy_helper.from_array(np.array(sizes, np.int64), "z"))
    graph = helper.make_graph(
        [helper.make_node(op, inputs, ["y"], **attrs)], "resize",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def _cases():
    for mode in ("nearest", "linear", "cubic"):
        for transform in TRANSFORMS:
            if transform == "tf_half_pixel_for_nn" and mode != "nearest":
                continue
            rounds = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil") if mode == "nearest" else ("floor",)
            for rounding in rounds:
                attrs = {"mode": mode, "coordinate_transformation_mode": transform, "nearest_mode": rounding}
                for scales in ([1, 1, 2, 2], [1, 1, 3, 1], [1, 1, 0.5, 0.5], [1, 1, 1.5, 2.5]):
                    yield f"{mode}-{transform}-{rounding}-s{scales[2]}x{scales[3]}", _model(attrs, scales=scales)
                yield f"{mode}-{transform}-{rounding}-sizes", _model(attrs, sizes=[1, 2, 12, 15])
    yield "cubic-a-exclude", _model({"mode": "cubic", "cubic_coeff_a": -0.5, "exclude_outside": 1}, scales=[1, 1, 2, 0.5])
    for mode in ("nearest", "linear"):
        yield f"resize10-{mode}", _model({"mode": mode}, scales=[1, 1, 2, 3], opset=10)
        yield f"upsample9-{mode}", _model({"mode": mode}, scales=[1, 1, 2, 3], opset=9, op="Upsample")
    yield "axes18", _model({"mode": "linear", "axes": [3, 2]}, scales=[2.0, 0.5], opset=18)
    yield "rank3", _model({"mode": "linear"}, scales=[1, 2, 2], shape=(2, 3, 5))
    # scales that change no length (floor(1.25 * 2) = 2, floor(1.25 * 3) = 3):
    # onnxruntime copies the input, though a scale-1.25 map would move every value
    yield "same-shape-linear", _model({"mode": "linear", "coordinate_transformation_mode": "asymmetric"},
                                      scales=[1, 1, 1.25, 1.25], shape=(1, 2, 2, 3))
    yield "same-shape-nearest-ceil", _model({"mode": "nearest", "nearest_mode": "ceil"},
                                            scales=[1, 1, 1.2, 1.1], shape=(1, 2, 3, 4))
    # align_corners where scale * in is not whole (1.75 x 6 = 10.5 -> 10): onnxruntime
    # maps by the integer length
    yield "align_corners-fractional-linear", _model(
        {"mode": "linear", "coordinate_transformation_mode": "align_corners"}, scales=[1, 1, 1.75, 0.75], shape=(1, 2, 6, 7))
    yield "align_corners-fractional-cubic", _model(
        {"mode": "cubic", "coordinate_transformation_mode": "align_corners"}, scales=[1, 1, 1.75, 1], shape=(1, 2, 6, 7))
    yield "half_pixel_symmetric", _model({"mode": "linear", "coordinate_transformation_mode": "half_pixel_symmetric"},
                                         scales=[1, 1, 2, 0.5], opset=19)


CASES = dict(_cases())


@pytest.mark.parametrize("name", sorted(CASES))
def test_resize_matches_onnxruntime(name):
    model = CASES[name]
    x = np.random.default_rng(5).standard_normal([d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim])
    x = x.astype(np.float32)
    ref = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    module = import_onnx(model)
    framework = [op for op in module.walk() if op.name == "graph.onnx_node"]
    if framework:  # refused: it must say why, and only where a map is not pinned down
        reason = str(framework[0].attributes["tidal.reason"])
        assert "depend on float rounding" in reason or "then map differently" in reason, reason
        assert "-s1.5x2.5" in name or "-sizes" in name or "-s0.5x0.5" in name, (name, reason)
        return
    got = eval_graph(module, {"x": x})["y"]
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def test_integer_scales_import_on_the_accelerator():
    """The resizes networks export (a feature pyramid's nearest x2, a U-Net's bilinear
    x2 with aligned corners, PyTorch's bilinear, a nearest or cubic half) are never
    refused; a nearest x2 is copies, no matmul."""
    for name in (
        "nearest-asymmetric-floor-s2x2", "nearest-half_pixel-round_prefer_floor-s2x2",
        "nearest-half_pixel-round_prefer_floor-s0.5x0.5", "linear-align_corners-floor-s2x2",
        "linear-pytorch_half_pixel-floor-s2x2", "linear-half_pixel-floor-s0.5x0.5", "cubic-half_pixel-floor-s0.5x0.5",
    ):
        ops = {op.name for op in import_onnx(CASES[name]).walk()}
        assert "graph.onnx_node" not in ops, name
        if name.startswith("nearest") and "s2x2" in name:
            assert "graph.concat" in ops and "graph.matmul" not in ops


@pytest.mark.parametrize(
    ("attrs", "scales", "opset", "words"),
    [
        ({"mode": "linear", "coordinate_transformation_mode": "tf_crop_and_resize"}, [1, 1, 2, 2], 13,
         "coordinate_transformation_mode=tf_crop_and_resize"),
        ({"mode": "linear", "antialias": 1}, [1, 1, 0.5, 0.5], 18, "antialias when an axis shrinks"),
        ({"mode": "nearest", "keep_aspect_ratio_policy": "not_larger"}, None, 18, "keep_aspect_ratio_policy"),
        ({"mode": "nearest", "coordinate_transformation_mode": "tf_half_pixel_for_nn", "nearest_mode": "ceil"},
         [1, 1, 1 / 6, 1], 13, "depend on float rounding"),
    ],
)
def test_refused_resizes_run_on_the_framework_tier(attrs, scales, opset, words):
    model = _model(attrs, scales=scales, sizes=None if scales else [1, 2, 3, 4], opset=opset)
    framework = [op for op in import_onnx(model).walk() if op.name == "graph.onnx_node"]
    assert framework and words in str(framework[0].attributes["tidal.reason"])


@pytest.mark.parametrize("mode", ["DCR", "CRD"])
def test_space_to_depth_modes(mode):
    """SpaceToDepth's mode (CRD since opset 28; DCR before and by default) as the
    ONNX definition gives it, a reshape, transpose and reshape, and the inverse of
    DepthToSpace of the same mode (which onnxruntime runs)."""
    x = np.random.default_rng(2).standard_normal((1, 2, 4, 6)).astype(np.float32)
    perm = (0, 3, 5, 1, 2, 4) if mode == "DCR" else (0, 1, 3, 5, 2, 4)
    want = x.reshape(1, 2, 2, 2, 3, 2).transpose(perm).reshape(1, 8, 2, 3)
    nodes = [helper.make_node("SpaceToDepth", ["x"], ["y"], blocksize=2, mode=mode)]
    graph = helper.make_graph(
        nodes, "s2d", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 28)])
    module = import_onnx(model)
    assert "graph.onnx_node" not in {op.name for op in module.walk()}
    y = eval_graph(module, {"x": x})["y"]
    np.testing.assert_array_equal(y, want)
    back = helper.make_graph(
        [helper.make_node("DepthToSpace", ["y"], ["z"], blocksize=2, mode=mode)], "d2s",
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 2, 3])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, None)],
    )
    inverse = helper.make_model(back, opset_imports=[helper.make_opsetid("", 13)])
    z = ort.InferenceSession(inverse.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"y": y})[0]
    np.testing.assert_array_equal(z, x)


def test_scales_concatenated_from_constants_are_folded():
    """Exporters write Resize's scales as Concat(Constant [1, 1], Constant [2, 2]):
    a float Concat of constants of at most 8 elements is folded at import (it was
    folded only of one-element values), so the Resize is on the accelerator."""
    nodes = [
        helper.make_node("Constant", [], ["a"], value=numpy_helper.from_array(np.ones(2, np.float32))),
        helper.make_node("Constant", [], ["b"], value=numpy_helper.from_array(np.full(2, 2.0, np.float32))),
        helper.make_node("Concat", ["a", "b"], ["s"], axis=0),
        helper.make_node("Resize", ["x", "", "s"], ["y"], mode="linear"),
    ]
    graph = helper.make_graph(
        nodes, "concat-scales", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 3, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    module = import_onnx(model)
    assert "graph.onnx_node" not in {op.name for op in module.walk()}
    x = np.random.default_rng(4).standard_normal((1, 2, 3, 4)).astype(np.float32)
    ref = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_allclose(eval_graph(module, {"x": x})["y"], ref, rtol=1e-5, atol=1e-5)

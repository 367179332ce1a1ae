"""graph-fuse-epilogue keeps what the graph computes: the graph interpreter (each op's
NumPy reference) gives the same outputs before and after on random inputs, for small
ONNX graphs built for each rule and for ResNet-50 of the onnx light zoo, and the
relu and add ops the rules name are gone."""

from __future__ import annotations

from collections import Counter

import numpy as np
import onnx
import pytest
from harness import example, onnx_model
from onnx import helper
from tidal.dialects import graph
from tidal.passes.graph.canonicalize import GraphCanonicalizePass
from tidal.passes.graph.fuse_epilogue import FUSED, GraphFuseEpiloguePass
from tidal.passes.interpreters.graph import eval_graph
from tidal.passes.interpreters.numerics import random_inputs
from tidal.targets.onnx_import import import_onnx
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp

RNG = np.random.default_rng(7)


def _w(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def _model(nodes, inputs, outputs, weights) -> onnx.ModelProto:
    return onnx_model(nodes, inputs, outputs, weights)


def _conv(x: str, w: str, y: str, **attrs) -> onnx.NodeProto:
    return helper.make_node("Conv", [x, w, f"{w}_b"], [y], name=y, **attrs)


def _conv_weights(name: str, cout: int, cin: int, k: int) -> dict[str, np.ndarray]:
    return {name: _w(cout, cin, k, k), f"{name}_b": _w(cout)}


def _counts(module: ModuleOp) -> Counter[str]:
    return Counter(op.name for op in module.walk() if op.name.startswith("graph."))


def _fuse_and_compare(
    module: ModuleOp, inputs: dict[str, np.ndarray] | None = None
) -> tuple[Counter[str], Counter[str], ModuleOp]:
    """Canonicalize, then fuse; the interpreter's outputs agree before and after.
    Returns the op counts before and after fusion and the fused module."""
    GraphCanonicalizePass().apply(Context(), module)
    inputs = inputs if inputs is not None else random_inputs(module, seed=3)
    before = eval_graph(module, inputs)
    counts = _counts(module)
    GraphFuseEpiloguePass().apply(Context(), module)
    module.verify()
    after = eval_graph(module, inputs)
    assert after.keys() == before.keys()
    for name, ref in before.items():
        err = float(np.abs(after[name] - ref).max())
        assert err <= 1e-5 * float(np.abs(ref).max()), (name, err)
    return counts, _counts(module), module


def _fused(module: ModuleOp) -> dict[str, list[str]]:
    """origin -> the origins merged into it, for every op with `tidal.fused`."""
    return {
        op.attributes["tidal.origin"].data: [s.data for s in op.attributes[FUSED].data]  # type: ignore[union-attr]
        for op in module.walk()
        if FUSED in op.attributes
    }


def test_conv_batchnorm_relu_and_gemm_relu():
    nodes = [
        _conv("x", "w1", "c1", pads=[1, 1, 1, 1]),
        helper.make_node(
            "BatchNormalization", ["c1", "s", "t", "m", "v"], ["bn"], name="bn"
        ),
        helper.make_node("Relu", ["bn"], ["r1"], name="relu1"),
        helper.make_node("Flatten", ["r1"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "fw", "fb"], ["g"], name="fc", transB=1),
        helper.make_node("Relu", ["g"], ["y"], name="relu2"),
    ]
    weights = {
        **_conv_weights("w1", 4, 3, 3),
        "s": _w(4),
        "t": _w(4),
        "m": _w(4),
        "v": np.abs(_w(4)) + 0.5,
        "fw": _w(5, 4 * 6 * 6),
        "fb": _w(5),
    }
    model = _model(nodes, {"x": [2, 3, 6, 6]}, {"y": [2, 5]}, weights)
    before, after, module = _fuse_and_compare(import_onnx(model))
    assert before["graph.relu"] == 2 and after["graph.relu"] == 0
    assert _fused(module) == {"c1": ["relu1"], "fc": ["relu2"]}


def test_silu_after_conv_gemm_and_residual_add():
    """x * sigmoid(x) after a conv with a residual addend, after a gemm (gate first)
    and after a global average pooling: the first two become their producer's silu
    activation, the third one silu op; no sigmoid or mul is left."""
    nodes = [
        _conv("x", "w1", "c1", pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c1", "x"], ["r"], name="add"),
        helper.make_node("Sigmoid", ["r"], ["rs"], name="sig1"),
        helper.make_node("Mul", ["r", "rs"], ["a"], name="mul1"),
        helper.make_node("GlobalAveragePool", ["a"], ["p"], name="gap"),
        helper.make_node("Sigmoid", ["p"], ["ps"], name="sig2"),
        helper.make_node("Mul", ["p", "ps"], ["q"], name="mul2"),
        helper.make_node("Flatten", ["q"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "fw", "fb"], ["g"], name="fc", transB=1),
        helper.make_node("Sigmoid", ["g"], ["gs"], name="sig3"),
        helper.make_node("Mul", ["gs", "g"], ["y"], name="mul3"),
    ]
    weights = {**_conv_weights("w1", 4, 4, 3), "fw": _w(5, 4), "fb": _w(5)}
    model = _model(nodes, {"x": [2, 4, 6, 6]}, {"y": [2, 5]}, weights)
    inputs = {"x": (8 * RNG.standard_normal((2, 4, 6, 6))).astype(np.float32)}
    before, after, module = _fuse_and_compare(import_onnx(model), inputs)
    assert before["graph.mul"] == 3 and after["graph.mul"] == 0
    assert after["graph.activation"] == 1  # the pooled one's silu
    assert _fused(module) == {"c1": ["add", "sig1", "mul1"], "mul2": ["sig2"], "fc": ["sig3", "mul3"]}
    acts = [op for op in module.walk() if isinstance(op, graph.Conv2dOp | graph.GemmOp)]
    assert [op.activation_val for op in acts] == ["silu", "silu"]


def test_gelu_erf_forms_after_a_conv_and_alone():
    """GELU's erf form as PyTorch writes it after a conv (the conv's gelu_erf
    activation) and as Hugging Face writes it after a pooling (one gelu_erf op): the
    interpreter's outputs agree, no erf, add or mul is left."""
    consts = {"sqrt2": np.array(np.sqrt(2.0), np.float32), "one": np.array(1.0, np.float32),
              "half": np.array(0.5, np.float32)}
    nodes = [
        _conv("x", "w1", "c1", pads=[1, 1, 1, 1]),
        helper.make_node("Div", ["c1", "sqrt2"], ["d1"], name="div1"),
        helper.make_node("Erf", ["d1"], ["e1"], name="erf1"),
        helper.make_node("Add", ["e1", "one"], ["a1"], name="add1"),
        helper.make_node("Mul", ["c1", "a1"], ["m1"], name="mul1"),
        helper.make_node("Mul", ["m1", "half"], ["g1"], name="gelu1"),
        helper.make_node("MaxPool", ["g1"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Mul", ["p", "half"], ["h"], name="half2"),
        helper.make_node("Div", ["p", "sqrt2"], ["d2"], name="div2"),
        helper.make_node("Erf", ["d2"], ["e2"], name="erf2"),
        helper.make_node("Add", ["one", "e2"], ["a2"], name="add2"),
        helper.make_node("Mul", ["h", "a2"], ["y"], name="gelu2"),
    ]
    weights = {**_conv_weights("w1", 4, 3, 3), **consts}
    model = _model(nodes, {"x": [1, 3, 6, 6]}, {"y": [1, 4, 3, 3]}, weights)
    inputs = {"x": (3 * RNG.standard_normal((1, 3, 6, 6))).astype(np.float32)}
    before, after, module = _fuse_and_compare(import_onnx(model), inputs)
    assert before["graph.mul"] >= 3 and after["graph.mul"] == 0 and after["graph.add"] == 0
    funcs = [op.func_val for op in module.walk() if isinstance(op, graph.ActivationOp)]
    assert funcs == ["gelu_erf"]
    conv = next(op for op in module.walk() if isinstance(op, graph.Conv2dOp))
    assert conv.activation_val == "gelu_erf"


def _residual_block(residual_first: bool) -> onnx.ModelProto:
    """relu(conv(x) + relu(x)), the identity branch's node before or after the conv."""
    identity = helper.make_node("Relu", ["x"], ["id"], name="block_in")
    conv = _conv("x", "w1", "c1", pads=[1, 1, 1, 1])
    nodes = [identity, conv] if residual_first else [conv, identity]
    nodes += [
        helper.make_node("Add", ["c1", "id"], ["s"], name="add"),
        helper.make_node("Relu", ["s"], ["y"], name="relu"),
    ]
    return _model(
        nodes, {"x": [1, 4, 5, 5]}, {"y": [1, 4, 5, 5]}, _conv_weights("w1", 4, 4, 3)
    )


@pytest.mark.parametrize("residual_first", [True, False])
def test_residual_add_and_relu(residual_first: bool):
    before, after, module = _fuse_and_compare(
        import_onnx(_residual_block(residual_first))
    )
    assert (before["graph.add"], before["graph.relu"]) == (1, 2)
    assert (after["graph.add"], after["graph.relu"]) == (0, 1)  # block_in stays
    (conv,) = [op for op in module.walk() if isinstance(op, graph.Conv2dOp)]
    assert conv.addend is not None and conv.activation_val == "relu"
    assert _fused(module) == {"c1": ["add", "relu"]}


def test_projection_block_the_later_conv_takes_the_addend():
    nodes = [
        _conv("x", "wa", "main", strides=[2, 2]),
        _conv("x", "wb", "proj", strides=[2, 2]),
        helper.make_node("Add", ["main", "proj"], ["s"], name="add"),
        helper.make_node("Relu", ["s"], ["y"], name="relu"),
    ]
    weights = {**_conv_weights("wa", 8, 4, 1), **_conv_weights("wb", 8, 4, 1)}
    model = _model(nodes, {"x": [1, 4, 6, 6]}, {"y": [1, 8, 3, 3]}, weights)
    _, after, module = _fuse_and_compare(import_onnx(model))
    assert (after["graph.add"], after["graph.relu"]) == (0, 0)
    convs = {
        op.attributes["tidal.origin"].data: op
        for op in module.walk()
        if isinstance(op, graph.Conv2dOp)
    }  # type: ignore[union-attr]
    assert convs["main"].addend is None and convs["main"].activation is None
    assert convs["proj"].addend is convs["main"].result


def test_left_alone():
    """Several uses, a broadcasting add and an add after a relu-fused conv stay."""
    nodes = [
        _conv("x", "w1", "c1"),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),  # c1 has two uses
        helper.make_node("Add", ["c1", "r1"], ["a1"], name="add1"),
        _conv("a1", "w2", "c2"),
        helper.make_node("Add", ["c2", "v"], ["a2"], name="add2"),  # broadcasting
        _conv("a2", "w3", "c3"),
        helper.make_node("Relu", ["c3"], ["r3"], name="relu3"),  # fuses
        helper.make_node("Add", ["r3", "a2"], ["y"], name="add3"),  # c3 has its relu
    ]
    weights = {
        **_conv_weights("w1", 4, 4, 1),
        **_conv_weights("w2", 4, 4, 1),
        **_conv_weights("w3", 4, 4, 1),
    }
    model = _model(
        nodes, {"x": [1, 4, 3, 3], "v": [4, 1, 1]}, {"y": [1, 4, 3, 3]}, weights
    )
    before, after, module = _fuse_and_compare(import_onnx(model))
    assert (before["graph.relu"], before["graph.add"]) == (2, 3)
    assert (after["graph.relu"], after["graph.add"]) == (1, 3)
    assert _fused(module) == {"c3": ["relu3"]}


def test_resnet50():
    """Every relu and every residual add of ResNet-50 (BatchNorm folded) merges into
    a conv: 49 relus (16 after an add) and 16 adds."""
    zoo = example("zoo")
    model, inputs = zoo.load_zoo_model("resnet50")
    before, after, module = _fuse_and_compare(import_onnx(model), inputs)
    assert (before["graph.relu"], before["graph.add"]) == (49, 16)
    assert (after["graph.relu"], after["graph.add"]) == (0, 0)
    assert after["graph.conv2d"] == before["graph.conv2d"] == 53
    convs = [op for op in module.walk() if isinstance(op, graph.Conv2dOp)]
    assert sum(op.addend is not None for op in convs) == 16
    assert sum(op.activation_val == "relu" for op in convs) == 49

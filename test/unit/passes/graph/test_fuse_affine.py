"""graph-fuse-affine keeps what the graph computes: the graph interpreter gives the
same outputs before and after on random inputs, for a DenseNet dense layer (concat
-> BatchNorm -> Relu -> Conv, the BatchNorm left as a mul and an add by
graph-canonicalize) and for chains the pass leaves partly alone."""

from __future__ import annotations

from collections import Counter

import numpy as np
from harness import onnx_model
import onnx
from onnx import helper
from tidal.dialects import graph
from tidal.passes.graph.canonicalize import GraphCanonicalizePass
from tidal.passes.graph.fuse_affine import GraphFuseAffinePass
from tidal.passes.graph.fuse_epilogue import FUSED, GraphFuseEpiloguePass
from tidal.passes.interpreters.graph import eval_graph
from tidal.passes.interpreters.numerics import random_inputs
from tidal.targets.onnx_import import import_onnx
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp

RNG = np.random.default_rng(11)


def _w(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def _model(nodes, inputs, outputs, weights) -> onnx.ModelProto:
    return onnx_model(nodes, inputs, outputs, weights)


def _bn(x: str, y: str, c: int) -> tuple[onnx.NodeProto, dict[str, np.ndarray]]:
    names = [f"{y}_{p}" for p in "stmv"]
    weights = dict(zip(names, [_w(c), _w(c), _w(c), np.abs(_w(c)) + 0.5], strict=True))
    return helper.make_node("BatchNormalization", [x, *names], [y], name=y), weights


def _counts(module: ModuleOp) -> Counter[str]:
    return Counter(op.name for op in module.walk() if op.name.startswith("graph."))


def _fuse_and_compare(module: ModuleOp) -> tuple[Counter[str], Counter[str], ModuleOp]:
    """Canonicalize and fuse epilogues, then fuse affines; the interpreter's outputs
    agree before and after."""
    GraphCanonicalizePass().apply(Context(), module)
    GraphFuseEpiloguePass().apply(Context(), module)
    inputs = random_inputs(module, seed=5)
    before = eval_graph(module, inputs)
    counts = _counts(module)
    GraphFuseAffinePass().apply(Context(), module)
    module.verify()
    after = eval_graph(module, inputs)
    assert after.keys() == before.keys()
    for name, ref in before.items():
        err = float(np.abs(after[name] - ref).max())
        assert err <= 1e-5 * float(np.abs(ref).max()), (name, err)
    return counts, _counts(module), module


def test_densenet_dense_layer():
    """concat(x, y) -> BN -> relu -> conv: the BN and relu become one channel_affine
    with a relu (the conv takes its input); the conv's own BN -> relu folds into it."""
    bn1, w1 = _bn("cat", "bn1", 12)
    bn2, w2 = _bn("c1", "bn2", 8)
    nodes = [
        helper.make_node("Concat", ["x", "y"], ["cat"], name="cat", axis=1),
        bn1,
        helper.make_node("Relu", ["bn1"], ["r1"], name="relu1"),
        helper.make_node(
            "Conv", ["r1", "w", "b"], ["c1"], name="conv", pads=[1, 1, 1, 1]
        ),
        bn2,
        helper.make_node("Relu", ["bn2"], ["out"], name="relu2"),
    ]
    weights = {**w1, **w2, "w": _w(8, 12, 3, 3), "b": _w(8)}
    model = _model(
        nodes, {"x": [1, 4, 5, 5], "y": [1, 8, 5, 5]}, {"out": [1, 8, 5, 5]}, weights
    )
    before, after, module = _fuse_and_compare(import_onnx(model))
    assert (before["graph.mul"], before["graph.add"], before["graph.relu"]) == (1, 1, 1)
    assert (after["graph.mul"], after["graph.add"], after["graph.relu"]) == (0, 0, 0)
    (affine,) = [op for op in module.walk() if isinstance(op, graph.ChannelAffineOp)]
    assert affine.activation_val == "relu"
    assert [s.data for s in affine.attributes[FUSED].data] == ["bn1", "relu1"]  # type: ignore[union-attr]
    (conv,) = [op for op in module.walk() if isinstance(op, graph.Conv2dOp)]
    assert conv.input == affine.result


def test_scale_alone_shift_of_a_shared_result_and_a_relu_alone():
    """A mul by a [C, 1, 1] constant whose result feeds an add (of a [1, C, 1, 1]
    constant) and a relu: the mul and the add become an affine each (the mul's
    result has two uses), the relu after the shared result and a relu alone stay."""
    nodes = [
        helper.make_node("Mul", ["x", "s"], ["m"], name="scale"),
        helper.make_node("Add", ["m", "t"], ["a"], name="shift"),
        helper.make_node("Relu", ["m"], ["r"], name="relu_shared"),
        helper.make_node("Relu", ["x"], ["q"], name="relu_alone"),
        helper.make_node("Mul", ["x", "h"], ["v"], name="rows"),
    ]
    weights = {"s": _w(6, 1, 1), "t": _w(1, 6, 1, 1), "h": _w(3, 1)}
    outputs = {
        "a": [2, 6, 3, 3],
        "r": [2, 6, 3, 3],
        "q": [2, 6, 3, 3],
        "v": [2, 6, 3, 3],
    }
    model = _model(nodes, {"x": [2, 6, 3, 3]}, outputs, weights)
    before, after, _ = _fuse_and_compare(import_onnx(model))
    assert (before["graph.mul"], before["graph.add"], before["graph.relu"]) == (2, 1, 2)
    # the scale has two users: it stays an affine of its own, so does the shift;
    # the per-row mul (varies along H) and both relus stay
    assert (
        after["graph.channel_affine"],
        after["graph.mul"],
        after["graph.add"],
        after["graph.relu"],
    ) == (2, 1, 0, 2)


def test_a_shift_then_a_scale_merge_into_one_affine():
    """(x + t) * s (graph-canonicalize would reorder this; here the pass sees it
    as it is) -> one affine: scale s, shift t * s."""
    nodes = [
        helper.make_node("Add", ["x", "t"], ["a"], name="shift"),
        helper.make_node("Mul", ["a", "s"], ["y"], name="scale"),
    ]
    weights = {"s": _w(5), "t": _w(5)}
    module = import_onnx(_model(nodes, {"x": [4, 5]}, {"y": [4, 5]}, weights))
    inputs = random_inputs(module, seed=2)
    before = eval_graph(module, inputs)
    GraphFuseAffinePass().apply(Context(), module)
    module.verify()
    (affine,) = [op for op in module.walk() if isinstance(op, graph.ChannelAffineOp)]
    assert _counts(module)["graph.mul"] == _counts(module)["graph.add"] == 0
    assert [s.data for s in affine.attributes[FUSED].data] == ["scale"]  # type: ignore[union-attr]
    np.testing.assert_allclose(
        eval_graph(module, inputs)["y"], before["y"], rtol=1e-5, atol=1e-6
    )

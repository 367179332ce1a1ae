"""graph-sink-transposes and graph-fold-pad (passes/graph/sink_transposes.py,
fold_pad.py): on random graphs of transposes, element-wise ops, broadcast constants
and zero pads the rewritten graph computes what onnxruntime computes on the ONNX
model; equal to the bit to the graph before the pass; on a Keras MobileNetV3Small exported by tf2onnx, 107 of its 108 transposes
go (the input's NHWC -> NCHW stays) and so do its pads' concatenations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from tidal.dialects import graph
from tidal.passes.graph.fold_pad import GraphFoldPadPass
from tidal.passes.graph.sink_transposes import GraphSinkTransposesPass, transposed_elements
from tidal.passes.interpreters.graph import eval_graph
from tidal.targets.onnx_import import import_onnx
from xdsl.context import Context

KERAS = Path(__file__).resolve().parents[3] / "data" / "real" / "keras_mobilenet_v3_small.onnx"
NHWC, NCHW = (0, 2, 3, 1), (0, 3, 1, 2)


def _random_model(rng: np.random.Generator):
    """An NCHW input through 12 random steps: a transpose (NHWC <-> NCHW or another
    perm), an element-wise op (Relu, Sigmoid, Clip), a binary op against a broadcast
    constant or another value of the same shape, or zeros concatenated along a dim;
    two values returned."""
    nodes, inits = [], []
    values = [("x", (1, 4, 5, 6))]
    for i in range(12):
        name, shape = values[rng.integers(len(values))] if rng.random() < 0.3 else values[-1]
        out = f"v{i}"
        kind = rng.choice(["transpose", "transpose", "unary", "const", "pair", "pad"])
        if kind == "transpose":
            perm = [NHWC, NCHW, tuple(rng.permutation(4))][rng.integers(3)]
            nodes.append(helper.make_node("Transpose", [name], [out], perm=list(perm)))
            shape = tuple(shape[p] for p in perm)
        elif kind == "unary":
            op = rng.choice(["Relu", "Sigmoid", "Clip"])
            extra = {"min": -0.5, "max": 0.5} if op == "Clip" else {}
            if op == "Clip":
                lo, hi = f"{out}_lo", f"{out}_hi"
                inits += [numpy_helper.from_array(np.float32(-0.5), lo), numpy_helper.from_array(np.float32(0.5), hi)]
                nodes.append(helper.make_node("Clip", [name, lo, hi], [out]))
            else:
                nodes.append(helper.make_node(str(op), [name], [out], **extra))
        elif kind == "const":
            keep = rng.random(4) < 0.5
            cshape = tuple(d if k else 1 for d, k in zip(shape, keep, strict=True))
            cshape = cshape[rng.integers(0, 3):]  # maybe of lower rank
            c = f"{out}_c"
            inits.append(numpy_helper.from_array(rng.uniform(0.5, 1.5, cshape).astype(np.float32), c))
            op = str(rng.choice(["Add", "Mul", "Sub", "Div", "Max", "Min"]))
            operands = [name, c] if rng.random() < 0.5 else [c, name]
            nodes.append(helper.make_node(op, operands, [out]))
        elif kind == "pair":
            same = [v for v, s in values if s == shape and v != name]
            other = same[rng.integers(len(same))] if same else name
            nodes.append(helper.make_node(str(rng.choice(["Add", "Mul", "Sub"])), [name, other], [out]))
        else:
            axis = int(rng.integers(4))
            zshape = list(shape)
            zshape[axis] = int(rng.integers(1, 3))
            z = f"{out}_z"
            inits.append(numpy_helper.from_array(np.zeros(zshape, np.float32), z))
            nodes.append(helper.make_node("Concat", [name, z], [out], axis=axis))
            shape = tuple(s + (zshape[axis] if d == axis else 0) for d, s in enumerate(shape))
        values.append((out, shape))
    outputs = [values[-1], values[1 + rng.integers(len(values) - 1)]]
    outputs = list(dict(outputs).items())
    g = helper.make_graph(
        nodes, "random",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 5, 6])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(s)) for n, s in outputs], inits,
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("seed", range(40))
def test_random_graphs_agree_with_onnxruntime(seed):
    rng = np.random.default_rng(seed)
    model = _random_model(rng)
    x = rng.standard_normal((1, 4, 5, 6)).astype(np.float32)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    expected = dict(zip(names, session.run(names, {"x": x}), strict=True))
    module = import_onnx(model)
    before = transposed_elements(module)
    unmoved = eval_graph(module, {"x": x})
    GraphSinkTransposesPass().apply(Context(), module)
    GraphFoldPadPass().apply(Context(), module)
    module.verify()
    assert transposed_elements(module) <= before
    got = eval_graph(module, {"x": x})
    for n in names:
        # The same arithmetic on the same elements: equal to the bit (NaN included)
        # to the graph before the pass, and to onnxruntime up to its rounding.
        np.testing.assert_array_equal(got[n], unmoved[n], err_msg=n)
        np.testing.assert_allclose(got[n], expected[n], rtol=1e-5, atol=1e-6, err_msg=n)


def _count(module, kind) -> int:
    return sum(isinstance(op, kind) for op in module.walk())


def test_keras_mobilenet_v3_loses_its_transpose_pairs_and_pad_copies():
    module = import_onnx(str(KERAS))
    assert _count(module, graph.TransposeOp) == 118  # 108 nodes and 10 ReduceMeans' moves
    assert _count(module, graph.ConcatOp) == 8  # 4 Pads, 2 dims each
    GraphSinkTransposesPass().apply(Context(), module)
    GraphFoldPadPass().apply(Context(), module)
    module.verify()
    transposes = [op for op in module.walk() if isinstance(op, graph.TransposeOp)]
    assert [t.input.name_hint for t in transposes] == ["MobileNetV3Small_1_rescaling_1_add"]
    assert _count(module, graph.ConcatOp) == 0



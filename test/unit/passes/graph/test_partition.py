"""graph-partition's Python API: the placement report and counts tools print, that
placement asks the kernels' plans (nothing is lowered), and the host tier's NumPy
references (checked against onnxruntime)."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from tidal.passes.graph.canonicalize import GraphCanonicalizePass
from tidal.passes.graph.partition import (
    GraphPartitionPass,
    placement_counts,
    placement_report,
)
from tidal.targets.onnx_import import import_onnx
from tidal.targets.onnx_ops import host_eval
from xdsl.context import Context
from xdsl.dialects import func


def _model(nodes, inputs, outputs, weights=None, opset=9) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        "t",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs.items()],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs.items()],
        [numpy_helper.from_array(a, n) for n, a in (weights or {}).items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def test_report_rows_and_counts():
    rng = np.random.default_rng(0)
    model = _model(
        [
            helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["c"], ["r"], name="relu"),
            helper.make_node("GlobalAveragePool", ["r"], ["g"], name="gap"),
            helper.make_node("Flatten", ["g"], ["f"], name="flat"),
            helper.make_node("Softmax", ["f"], ["y"], name="softmax"),
        ],
        {"x": [1, 3, 8, 8]},
        {"y": [1, 4]},
        {"w": rng.standard_normal((4, 3, 3, 3)).astype(np.float32)},
    )
    module = import_onnx(model)
    rows = placement_report(module, "small")
    assert [(r["op"], r["origin"], r["placement"]) for r in rows] == [
        ("graph.conv2d", "conv", "accel"),
        ("graph.relu", "relu", "accel"),
        ("graph.global_avgpool", "gap", "accel"),
        ("graph.flatten", "flat", "accel"),
        ("graph.softmax", "softmax", "accel"),
    ]
    assert all(r["reason"] for r in rows)
    counts = placement_counts(rows)
    assert counts == {
        "accel": 5, "host": 0, "framework": 0, "reject": 0,
        "host_ops": [], "framework_ops": [], "reject_ops": [],
    }


def test_what_does_not_fit_goes_to_the_host():
    model = _model(
        [helper.make_node("Softmax", ["x"], ["y"], name="wide", axis=1)],
        {"x": [2, 20000]},
        {"y": [2, 20000]},
    )
    module = import_onnx(model)
    GraphPartitionPass(chip="small").apply(Context(), module)
    (row,) = placement_report(module, "small")
    assert row["placement"] == "host"
    assert "needs 80256 bytes per SBUF partition" in row["reason"]
    assert placement_counts([row])["host_ops"] == ["wide"]
    # the default chip's partitions hold the row
    assert placement_report(import_onnx(model), "default")[0]["placement"] == "accel"


def _host_run(model: onnx.ModelProto, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every op through the host tier, in program order."""
    module = import_onnx(model)
    GraphCanonicalizePass().apply(Context(), module)
    (fn,) = [op for op in module.walk() if isinstance(op, func.FuncOp)]
    env = dict(zip(fn.body.block.args, inputs.values(), strict=True))
    for op in fn.body.block.ops:
        if isinstance(op, func.ReturnOp):
            return {o.name: env[v] for o, v in zip(model.graph.output, op.operands, strict=True)}
        env[op.results[0]] = host_eval(op, *(env[v] for v in op.operands))
    raise AssertionError("no return")


def test_host_references_match_onnxruntime():
    rng = np.random.default_rng(1)
    c = 6
    weights = {
        "s": rng.uniform(0.5, 1.5, c).astype(np.float32),
        "b": rng.uniform(-1, 1, c).astype(np.float32),
        "m": rng.uniform(-1, 1, c).astype(np.float32),
        "v": rng.uniform(0.5, 1.5, c).astype(np.float32),
        "shape": np.array([1, 2, 3, 5, 5], np.int64),
    }
    nodes = [
        helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["bn"]),
        helper.make_node("LRN", ["bn"], ["lrn"], size=3, alpha=0.5, beta=0.75, bias=2.0),
        helper.make_node(
            "AveragePool", ["lrn"], ["ap"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]
        ),
        helper.make_node("Reshape", ["ap", "shape"], ["r5"]),
        helper.make_node("Transpose", ["r5"], ["t5"], perm=[0, 2, 1, 3, 4]),
        helper.make_node("Sum", ["x", "ap", "bn"], ["sum"]),
        helper.make_node("Concat", ["sum", "x"], ["cat"], axis=1),
        helper.make_node("GlobalAveragePool", ["cat"], ["gap"]),
    ]
    model = _model(
        nodes,
        {"x": [1, c, 5, 5]},
        {"t5": [1, 3, 2, 5, 5], "gap": [1, 2 * c, 1, 1]},
        weights,
    )
    inputs = {"x": rng.standard_normal((1, c, 5, 5)).astype(np.float32)}
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    expected = dict(zip(["t5", "gap"], session.run(["t5", "gap"], inputs), strict=True))
    got = _host_run(model, inputs)
    for name, ref in expected.items():
        np.testing.assert_allclose(got[name], ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("chip", ["small", "default"])
def test_pass_annotates_without_changing_ops(chip):
    model = _model(
        [helper.make_node("Relu", ["x"], ["y"], name="r")], {"x": [4, 4]}, {"y": [4, 4]}
    )
    module = import_onnx(model)
    before = [op.name for op in module.walk()]
    GraphPartitionPass(chip=chip).apply(Context(), module)
    assert [op.name for op in module.walk()] == before
    relu = next(op for op in module.walk() if op.name == "graph.relu")
    assert relu.attributes["tidal.placement"].data == "accel"


def test_placement_plans_and_never_emits(monkeypatch):
    """graph-partition decides from `plan` alone: with every kernel's `emit` broken,
    the placements and reasons are the same."""
    from tidal.passes.conversion.kernels import graph_ops

    model = _model(
        [
            helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
            helper.make_node("Reshape", ["c", "shape"], ["f"], name="flat"),
            helper.make_node("Softmax", ["f"], ["y"], name="sm", axis=1),
        ],
        {"x": [1, 8, 50, 50]},
        {"y": [1, 20000]},
        {
            "w": np.ones((8, 8, 3, 3), np.float32),
            "shape": np.array([1, 20000], np.int64),
        },
    )
    expected = placement_report(import_onnx(model), "small")

    def no_emit(self, plan):
        raise AssertionError(f"{type(self).__name__}.emit called while placing")

    for kernel in {type(k) for k in vars(graph_ops).values() if isinstance(k, graph_ops.Kernel)}:
        monkeypatch.setattr(kernel, "emit", no_emit)
    assert placement_report(import_onnx(model), "small") == expected
    assert [(r["origin"], r["placement"]) for r in expected] == [
        ("conv", "accel"), ("flat", "accel"), ("sm", "host"),
    ]

"""Models with local functions (ModelProto.functions: an exporter's modules as
functions, a custom domain's composite ops) are inlined at import, as onnxruntime
does when it loads them: their ops run on the accelerator, and the framework tier
never gets a node whose definition its extracted subgraph would lack. Outputs are
compared with onnxruntime on the whole model."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from harness import tool
from onnx import TensorProto, helper, numpy_helper


def assert_ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return result.stdout


def function_model(path: Path) -> Path:
    """x -> custom.Block(x, w) -> y, where Block = custom.Act(Conv(x, w)) and Act
    is LeakyRelu with its alpha an attribute of the call (a reference inside the
    function): a function that calls a function, and an attribute parameter."""
    leaky = helper.make_node("LeakyRelu", ["X"], ["Y"])
    leaky.attribute.append(helper.make_attribute_ref("alpha", onnx.AttributeProto.FLOAT))
    act = helper.make_function(
        "custom", "Act", ["X"], ["Y"], [leaky],
        opset_imports=[helper.make_opsetid("", 17)], attributes=["alpha"],
    )
    block = helper.make_function(
        "custom", "Block", ["X", "W"], ["Y"],
        [helper.make_node("Conv", ["X", "W"], ["c"], pads=[1, 1, 1, 1]),
         helper.make_node("Act", ["c"], ["Y"], domain="custom", alpha=0.2)],
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("custom", 1)],
    )
    rng = np.random.default_rng(7)
    w = numpy_helper.from_array(rng.standard_normal((8, 4, 3, 3)).astype(np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Block", ["x", "w"], ["y"], domain="custom", name="block")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 8, 8])],
        [w],
    )
    model = helper.make_model(
        graph, functions=[act, block],
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("custom", 1)],
    )
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def test_functions_are_inlined_onto_the_accelerator(tmp_path):
    model = function_model(tmp_path / "f.onnx")
    x = np.random.default_rng(1).standard_normal((1, 4, 8, 8)).astype(np.float32)
    np.savez(tmp_path / "x.npz", x=x)
    want = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    report = assert_ok(tool("tidal-compile", model, "-o", tmp_path / "f.tbin", "--report"))
    assert "local functions inlined: custom.Act, custom.Block" in report
    assert "framework" not in report.split("ops on the accelerator")[0].split("reason", 1)[1]
    assert_ok(tool("tidal-sim", tmp_path / "f.tbin", "--inputs", tmp_path / "x.npz",
                   "--outputs", tmp_path / "y.npz"))
    np.testing.assert_allclose(np.load(tmp_path / "y.npz")["y"], want, rtol=1e-4, atol=1e-5)
    run = assert_ok(tool("tidal-run", model, "--inputs", tmp_path / "x.npz",
                         "--outputs", tmp_path / "y2.npz"))
    assert "0 on the host" in run and "onnxruntime" not in run
    np.testing.assert_allclose(np.load(tmp_path / "y2.npz")["y"], want, rtol=1e-4, atol=1e-5)


def _doubling(levels: int, recursive: bool = False) -> onnx.ModelProto:
    """F0 calls F1 twice, F1 calls F2 twice, ..., the last is a Relu (or calls F0)."""
    functions = []
    for k in range(levels):
        if k == levels - 1:
            body = [helper.make_node("F0" if recursive else "Relu", ["x"], ["y"], domain="local" if recursive else "")]
        else:
            body = [helper.make_node(f"F{k + 1}", ["x"], ["t"], domain="local"),
                    helper.make_node(f"F{k + 1}", ["t"], ["y"], domain="local")]
        functions.append(helper.make_function(
            "local", f"F{k}", ["x"], ["y"], body, [helper.make_opsetid("", 17), helper.make_opsetid("local", 1)]))
    graph = helper.make_graph(
        [helper.make_node("F0", ["x"], ["y"], domain="local")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])],
    )
    return helper.make_model(graph, functions=functions,
                             opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("local", 1)])


def test_functions_that_double_at_every_level_are_refused_before_inlining(tmp_path):
    """30 levels of functions that each call the next twice: 2 KB of model, 2^29
    nodes once inlined (the inliner ran 59 s and aborted out of memory)."""
    path = tmp_path / "m.onnx"
    onnx.save(_doubling(30), path)
    r = tool("tidal-compile", path, "-o", tmp_path / "m.tbin", limit=2 << 30, timeout=120)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert "inlining its local functions makes more than 1,048,576 nodes" in r.stderr


def test_a_function_that_calls_itself_is_refused(tmp_path):
    path = tmp_path / "m.onnx"
    onnx.save(_doubling(3, recursive=True), path)
    r = tool("tidal-compile", path, "-o", tmp_path / "m.tbin", timeout=120)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert "local function 'F0' calls itself" in r.stderr


def test_an_attribute_default_the_function_declares_is_applied(tmp_path):
    """custom.Act declares alpha=0.7 as its default (`attribute_proto`) and one call
    leaves alpha out: onnx's inliner dropped the reference, so that LeakyRelu ran
    with its own 0.01 where onnxruntime applies 0.7; the call that sets alpha keeps
    its 0.2. Both inside an If branch too, which the defaults must reach."""
    leaky = helper.make_node("LeakyRelu", ["X"], ["Y"])
    leaky.attribute.append(helper.make_attribute_ref("alpha", onnx.AttributeProto.FLOAT))
    act = helper.make_function(
        "custom", "Act", ["X"], ["Y"], [leaky],
        opset_imports=[helper.make_opsetid("", 17)], attribute_protos=[helper.make_attribute("alpha", 0.7)],
    )
    out = lambda name: helper.make_tensor_value_info(name, TensorProto.FLOAT, [2, 6])  # noqa: E731
    branch = helper.make_graph([helper.make_node("Act", ["x"], ["b"], domain="custom")], "then", [], [out("b")])
    graph = helper.make_graph(
        [helper.make_node("Act", ["x"], ["d"], domain="custom"),
         helper.make_node("Act", ["x"], ["s"], domain="custom", alpha=0.2),
         helper.make_node("If", ["c"], ["i"], then_branch=branch, else_branch=branch)],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 6])], [out("d"), out("s"), out("i")],
        [numpy_helper.from_array(np.array(True), "c")],
    )
    model = helper.make_model(
        graph, functions=[act], opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("custom", 1)],
    )
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, tmp_path / "f.onnx")
    x = np.random.default_rng(4).standard_normal((2, 6)).astype(np.float32)
    np.savez(tmp_path / "x.npz", x=x)
    session = ort.InferenceSession(str(tmp_path / "f.onnx"), providers=["CPUExecutionProvider"])
    want = dict(zip(["d", "s", "i"], session.run(None, {"x": x}), strict=True))
    np.testing.assert_allclose(want["d"], np.where(x < 0, 0.7 * x, x), rtol=1e-6)
    assert_ok(tool("tidal-run", tmp_path / "f.onnx", "--inputs", tmp_path / "x.npz", "--outputs", tmp_path / "y.npz"))
    got = np.load(tmp_path / "y.npz")
    for name, value in want.items():
        np.testing.assert_allclose(got[name], value, rtol=1e-6, err_msg=name)

"""ONNX Loop with a data-dependent exit, end to end (docs/early-exit.md): the body is
compiled once, laid out in max_trips blocks that overwrite the following ones with
NOPs when the condition fails; results against onnxruntime for several trip counts,
on both presets; cycles fall with earlier exits; the NOP'd blocks show in the stats
and the trace."""

from __future__ import annotations

from harness import run_example

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from tidal.tools.tidal_run import run_model

SHAPE = (4, 40)


def loop_model(trips: int, eps: float, cond: str = "Greater", reduce: str = "ReduceMax",
               body_extra: list | None = None, scan: bool = False) -> onnx.ModelProto:
    """v <- tanh(0.5 v + 0.1) up to `trips` times while reduce(|v_new - v|) cond eps."""
    nodes = [
        helper.make_node("Mul", ["v_in", "a"], ["s"]),
        helper.make_node("Add", ["s", "b"], ["t"]),
        helper.make_node("Tanh", ["t"], ["v_out"]),
        helper.make_node("Sub", ["v_out", "v_in"], ["d"]),
        helper.make_node("Abs", ["d"], ["ad"]),
        helper.make_node(reduce, ["ad"], ["m"], keepdims=0),
        helper.make_node(cond, ["m", "eps"], ["cond_out"]),
        *(body_extra or []),
    ]
    outs = [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_out", TensorProto.FLOAT, list(SHAPE))]
    if scan:
        outs.append(helper.make_tensor_value_info("m", TensorProto.FLOAT, []))
    body = helper.make_graph(
        nodes, "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_in", TensorProto.FLOAT, list(SHAPE))],
        outs,
        [numpy_helper.from_array(np.array(v, np.float32), n) for n, v in (("a", 0.5), ("b", 0.1), ("eps", eps))],
    )
    graph = helper.make_graph(
        [helper.make_node("Loop", ["M", "c", "x"], ["y", "ms"] if scan else ["y"], body=body)], "loop",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(SHAPE))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(SHAPE))],
        [numpy_helper.from_array(np.array(trips, np.int64), "M"), numpy_helper.from_array(np.array(True), "c")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    return model


def _run(model: onnx.ModelProto, tmp_path, chip: str = "small", trace: bool = False):
    path = tmp_path / "loop.onnx"
    onnx.save(model, path)
    x = np.random.default_rng(0).uniform(-2, 2, SHAPE).astype(np.float32)
    ref = ort.InferenceSession(str(path)).run(None, {"x": x})[0]
    out, stats = run_model(str(path), {"x": x}, chip)
    return out["y"], ref, stats


@pytest.mark.parametrize("chip", ["small", "default"])
# With x in [-2, 2): 8 blocks for eps 0, 6 for 0.03, 5 for 0.1, 3 for 0.3, 2 for 1.0.
@pytest.mark.parametrize(("trips", "eps"), [(1, 0.0), (3, 0.0), (8, 0.0), (8, 0.03), (8, 0.1), (8, 0.3), (8, 1.0)])
def test_loop_agrees_with_onnxruntime(trips: int, eps: float, chip: str, tmp_path) -> None:
    y, ref, stats = _run(loop_model(trips, eps), tmp_path, chip)
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=2e-5)
    assert stats["placement"]["host"] == 0


def test_earlier_exits_take_fewer_cycles_and_nop_the_rest(tmp_path) -> None:
    runs = [_run(loop_model(8, eps), tmp_path) for eps in (0.0, 0.03, 0.3, 1.0)]  # 8, 6, 3, 2 blocks
    cycles = [s["cycles"] for _, _, s in runs]
    assert cycles[0] > cycles[1] > cycles[2] > cycles[3]
    assert runs[0][2]["instr_fetch"]["overwrites"] == 0  # ran all 8 blocks
    for _, _, s in runs[1:]:
        assert s["instr_fetch"]["overwrites"] > 0 and s["instr_fetch"]["overwritten_records"] > 0


@pytest.mark.parametrize(("cond", "reduce"), [("Less", "ReduceSum"), ("GreaterOrEqual", "ReduceMean")])
def test_other_conditions(cond: str, reduce: str, tmp_path) -> None:
    y, ref, _ = _run(loop_model(6, 0.3 if cond != "Less" else 50.0, cond, reduce), tmp_path)
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=2e-5)


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (lambda: loop_model(4, 0.1, scan=True), "no scan outputs"),
        (lambda: loop_model(4, 0.1, cond="Equal"), "condition must be Less"),
        (lambda: loop_model(4, 0.1, reduce="ReduceMin"), "ReduceMax, ReduceSum or ReduceMean"),
        # the program would hold 10^12 copies of the body (a MemoryError after minutes)
        (lambda: loop_model(10**12, 0.1), "unrolls to as many copies of the body; at most 4096"),
    ],
)
def test_loops_outside_the_supported_form_run_on_the_framework_tier(model, message: str, tmp_path) -> None:
    """A Loop the early-exit lowering does not take runs in onnxruntime (the framework
    tier), its reason saying why, with onnxruntime's results."""
    from tidal.dialects.graph import OnnxNodeOp
    from tidal.targets.onnx_import import import_onnx

    path = tmp_path / "loop.onnx"
    onnx.save(model(), path)
    (op,) = [op for op in import_onnx(path).walk() if isinstance(op, OnnxNodeOp)]
    assert message in op.attributes["tidal.reason"].data
    x = np.random.default_rng(1).uniform(-2, 2, SHAPE).astype(np.float32)
    got, stats = run_model(str(path), {"x": x})
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    for name, ref in zip(names, session.run(names, {"x": x}), strict=True):
        np.testing.assert_allclose(got[name], ref, rtol=1e-6, atol=1e-6)
    assert stats["placement"]["framework"] == 1


def test_the_trace_shows_the_nop_blocks(tmp_path) -> None:
    """Compiled with tidal-compile's path, run with a trace: exiting after 2 of 8
    blocks leaves the ACT work of 2 blocks and NOPs where the other 6 were."""
    from tidal.sim.machine import run_program
    from tidal.tools.tidal_compile import compile_to_program

    path = tmp_path / "loop.onnx"
    x = np.random.default_rng(0).uniform(-2, 2, SHAPE).astype(np.float32)
    counts = {}
    for eps in (0.0, 1.0):
        onnx.save(loop_model(8, eps), path)
        _, stats = run_program(compile_to_program(str(path), "small"), {"x": x}, trace=True)
        trace = stats["trace"]
        counts[eps] = (
            sum(t["opcode"] == "ACT" for t in trace),
            sum(t["opcode"] == "NOP" for t in trace),
        )
    (act_all, nop_all), (act_two, nop_two) = counts[0.0], counts[1.0]
    assert act_all == 4 * act_two  # 8 blocks of ACT work against 2
    assert nop_two > nop_all  # the 6 overwritten blocks ran as NOPs


def test_the_early_exit_example_runs() -> None:
    """examples/early_exit.py, as docs/early-exit.md tells a user to run it."""
    out = run_example("early_exit")
    assert "2 of 8 blocks" in out

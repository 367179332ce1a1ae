"""The pass driver (`run_passes`) and its callbacks: order, verification, progress
lines, the placement report found by pass type, the numerics checker; split_after;
TerminalProgress."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import onnx
from onnx import TensorProto, helper, numpy_helper
from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import PassFailedException, VerifyException

from tidal.passes.conversion.graph_to_loop import GraphToLoopPass
from tidal.passes.conversion.loop_to_accel import LoopToAccelPass
from tidal.passes.graph.canonicalize import GraphCanonicalizePass
from tidal.passes.graph.partition import GraphPartitionPass
from tidal.passes.interpreters.numerics import NumericsChecker, NumericsMismatch, random_inputs
from tidal.passes.pipeline import (
    UnknownOptimization,
    PassCallback,
    PassTimes,
    PlacementReport,
    Progress,
    TerminalProgress,
    Verify,
    compile_module,
    lowering_passes,
    run_passes,
    split_after,
)
from tidal.passes.testing.break_numerics import BreakNumericsForTestPass
from tidal.targets.onnx_import import import_onnx


def _module() -> ModuleOp:
    """x -> Conv 1x1 -> Relu -> y."""
    w = np.ones((4, 3, 1, 1), np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
            helper.make_node("Relu", ["c"], ["y"], name="relu"),
        ],
        "m",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 4, 4])],
        [numpy_helper.from_array(w, "w")],
    )
    return import_onnx(helper.make_model(graph))


class _Recorder(PassCallback):
    """A callback that writes every hook it receives into `events`."""

    def __init__(self, tag: str, events: list[tuple[str, ...]]):
        self.tag, self.events = tag, events

    def begin(self, passes, module) -> None:
        self.events.append((self.tag, "begin", *(p.name for p in passes)))

    def before(self, pass_, module) -> None:
        self.events.append((self.tag, "before", pass_.name))

    def after(self, pass_, module) -> None:
        self.events.append((self.tag, "after", pass_.name))

    def end(self, module) -> None:
        self.events.append((self.tag, "end"))


def _pass(name_: str, run: Callable[[ModuleOp], object]) -> ModulePass:
    """A pass called `name_` (of a class of its own) whose apply is `run(module)`."""

    @dataclass(frozen=True)
    class FromFunction(ModulePass):
        name = name_

        def apply(self, ctx: Context, op: ModuleOp) -> None:
            run(op)

    return FromFunction()


def _logging_pass(name_: str, events: list[tuple[str, ...]]) -> ModulePass:
    return _pass(name_, lambda module: events.append(("apply", name_)))


def test_callbacks_run_in_order_between_the_passes():
    events: list[tuple[str, ...]] = []

    def xdsl_shaped(previous, module, next_pass) -> None:  # as xdsl-opt builds one
        events.append(("xdsl", getattr(previous, "name", "-"), getattr(next_pass, "name", "-")))

    passes = [_logging_pass("a", events), _logging_pass("b", events)]
    callbacks = [_Recorder("r1", events), xdsl_shaped, _Recorder("r2", events)]
    run_passes(passes, _module(), Context(), callbacks)
    assert events == [
        ("r1", "begin", "a", "b"), ("r2", "begin", "a", "b"),
        ("xdsl", "-", "a"), ("r1", "before", "a"), ("r2", "before", "a"),
        ("apply", "a"),
        ("r1", "after", "a"), ("xdsl", "a", "b"), ("r2", "after", "a"),
        ("r1", "before", "b"), ("r2", "before", "b"),
        ("apply", "b"),
        ("r1", "after", "b"), ("xdsl", "b", "-"), ("r2", "after", "b"),
        ("r1", "end"), ("r2", "end"),
    ]


def test_pass_times_counts_each_pass_and_not_what_runs_between(monkeypatch):
    now = [0.0]  # a fake clock: passes and callbacks advance it, nothing else does
    monkeypatch.setattr(time, "perf_counter", lambda: now[0])

    def pass_taking(name_: str, seconds: float) -> ModulePass:
        def tick(module: ModuleOp) -> None:
            now[0] += seconds

        return _pass(name_, tick)

    class SlowBetween(PassCallback):
        def after(self, pass_, module) -> None:
            now[0] += 100.0

    timer = PassTimes()
    passes = [pass_taking("a", 1.0), pass_taking("b", 2.0), pass_taking("a", 4.0)]
    run_passes(passes, _module(), Context(), [timer, SlowBetween()])
    assert timer.seconds == {"a": 5.0, "b": 2.0}


def test_a_failing_pass_stops_the_pipeline_with_its_own_message():
    events: list[tuple[str, ...]] = []

    def fail(module: ModuleOp) -> None:
        raise PassFailedException("failing: cannot do this")

    passes = [_logging_pass("a", events), _pass("failing", fail), _logging_pass("b", events)]
    with pytest.raises(PassFailedException) as caught:
        run_passes(passes, _module(), Context(), [_Recorder("r", events)])
    assert str(caught.value) == "failing: cannot do this"
    assert ("apply", "b") not in events and ("r", "end") not in events
    assert ("r", "after", "a") in events and ("r", "after", "failing") not in events


def test_verify_stops_right_after_the_pass_that_broke_the_ir():
    events: list[tuple[str, ...]] = []

    def drop_return(module: ModuleOp) -> None:
        fn = next(o for o in module.walk() if isinstance(o, func.FuncOp))
        fn.body.block.last_op.detach()  # type: ignore[union-attr]

    passes = [_pass("drop-return", drop_return), _logging_pass("b", events)]
    with pytest.raises(VerifyException, match="is not a terminator") as caught:
        run_passes(passes, _module(), Context(), [Verify(each=True)])
    assert "\n" not in str(caught.value)  # the module is not printed in
    assert str(caught.value).startswith("verifier failed after pass 'drop-return': ")
    assert events == []


def test_progress_per_pass_and_report():
    lines: list[str] = []
    report = PlacementReport()
    compile_module(_module(), "small", callbacks=[Progress(lines.append), report])
    names = [p.name for p in lowering_passes("small")]
    assert lines[:-1] == [f"[{i}/{len(names)}] {n}" for i, n in enumerate(names, start=1)]
    assert lines[-1].startswith("compiled in ")
    # graph-fuse-epilogue made the relu the conv's activation before placement
    assert [(r["origin"], r["placement"]) for r in report.rows] == [("conv", "accel")]


def test_disabled_optimisations_leave_their_passes_out_or_off():
    names = [p.name for p in lowering_passes("small", ["fuse-epilogue", "keep-on-chip"])]
    assert "graph-fuse-epilogue" not in names and "loop-keep-on-chip" not in names
    everything = [p.name for p in lowering_passes("small")]
    assert {"graph-fuse-epilogue", "loop-keep-on-chip"} <= set(everything)
    (g2l,) = [p for p in lowering_passes("small", ["all"]) if p.name == "graph-to-loop"]
    assert not (g2l.stationary or g2l.pack_taps or g2l.eltwise_partitions)
    with pytest.raises(UnknownOptimization, match="unknown optimisation 'fast'"):
        lowering_passes("small", ["fast"])


def test_the_report_finds_graph_partition_by_type_not_by_name():
    @dataclass(frozen=True)
    class RenamedPartition(GraphPartitionPass):
        name = "my-partition"

    impostor = _pass("graph-partition", lambda module: None)
    report = PlacementReport()
    run_passes([GraphCanonicalizePass(), impostor], _module(), Context(), [report])
    assert report.rows == []
    run_passes(
        [GraphCanonicalizePass(), RenamedPartition(chip="small")], _module(), Context(), [report]
    )
    assert [(r["origin"], r["placement"]) for r in report.rows] == [
        ("conv", "accel"), ("relu", "accel"),
    ]


def test_the_numerics_checker_stops_at_the_first_breaking_pass():
    module = _module()
    events: list[tuple[str, ...]] = []
    checker = NumericsChecker(random_inputs(module))  # `begin` evaluates the reference
    passes = [
        GraphCanonicalizePass(),
        GraphToLoopPass(chip="small"),
        BreakNumericsForTestPass(),
        LoopToAccelPass(chip="small"),
    ]
    with pytest.raises(NumericsMismatch, match="'test-break-numerics' changed the result"):
        run_passes(passes, module, Context(), [Verify(), _Recorder("r", events), checker])
    assert [e[2] for e in events if e[1] == "after"] == [
        "graph-canonicalize", "graph-to-loop", "test-break-numerics",
    ]
    assert ("r", "before", "loop-to-accel") not in events
    assert checker.log == [
        "numerics: graph level evaluated (reference)",
        "numerics: after 'graph-canonicalize' (graph level): agrees",
        "numerics: after 'graph-to-loop' (loop level): agrees",
    ]


def test_split_after_cuts_after_the_first_pass_of_the_type():
    passes = lowering_passes("small")
    whole, rest = split_after(passes, GraphPartitionPass)
    assert whole + rest == passes
    assert isinstance(whole[-1], GraphPartitionPass)
    assert not any(isinstance(p, GraphPartitionPass) for p in rest)
    assert isinstance(rest[0], GraphToLoopPass)
    with pytest.raises(ValueError, match="no BreakNumericsForTestPass among"):
        split_after(passes, BreakNumericsForTestPass)


def test_the_rest_of_the_pipeline_compiles_a_partitioned_module():
    """What tidal-run does with each accelerator segment: the passes after
    graph-partition, on a module that has been through it, give the same program."""
    whole, rest = split_after(lowering_passes("small"), GraphPartitionPass)
    resumed = run_passes(whole, _module(), Context(), [Verify()])
    run_passes(rest, resumed, Context(), [Verify()])
    full = compile_module(_module(), "small", Context())
    assert str(resumed) == str(full)


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_progress_overwrites_one_line_and_is_quiet_off_a_terminal():
    tty = _Tty()
    with TerminalProgress("tidal-compile", tty) as progress:
        compile_module(_module(), "small", callbacks=[Progress(progress)])
    text = tty.getvalue()
    assert text.startswith("\r\x1b[Ktidal-compile: [1/")
    assert text.endswith(" s\n")
    assert text.count("\n") == 1
    pipe = io.StringIO()
    with TerminalProgress("tidal-compile", pipe) as progress:
        compile_module(_module(), "small", callbacks=[Progress(progress)])
    assert pipe.getvalue() == ""


def test_tidal_run_compiles_each_segment_from_graph_to_loop(tmp_path, monkeypatch):
    """tidal-run canonicalises and partitions the whole model once; each accelerator
    segment around the host op then goes straight from graph-to-loop."""
    import tidal.tools.tidal_run as tidal_run

    runs: list[list[str]] = []

    def recording(passes, module, ctx=None, callbacks=()):
        runs.append([p.name for p in passes])
        return run_passes(passes, module, ctx, callbacks)

    monkeypatch.setattr(tidal_run, "run_passes", recording)
    n = 20000  # a softmax row of 80 KB: more than a 64 KiB SBUF partition of chip small
    graph = helper.make_graph(
        [
            helper.make_node("Relu", ["x"], ["h"], name="relu1"),
            helper.make_node("Softmax", ["h"], ["p"], name="sm", axis=-1),
            helper.make_node("Relu", ["p"], ["y"], name="relu2"),
        ],
        "host_tier",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, n])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, n])],
    )
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    x = np.random.default_rng(0).standard_normal((1, n)).astype(np.float32)
    outputs, stats = tidal_run.run_model(str(path), {"x": x}, "small")
    assert stats["segments"] == ["accel", "host", "accel"]
    whole, rest = split_after(lowering_passes("small"), GraphPartitionPass)
    assert runs == [[p.name for p in whole]] + [[p.name for p in rest]] * 2
    e = np.exp(np.maximum(x, 0) - np.maximum(x, 0).max())
    np.testing.assert_allclose(outputs["y"], e / e.sum(), rtol=1e-4, atol=1e-9)

"""When the tools verify the IR: once after the last pass by default, after every
pass with `--verify-each` (tidal-compile, tidal-run, and tidal-opt inside
tidal-lower). A pass that breaks the IR (`test-break-ir`, put into the pipeline here)
is caught both ways, in one line naming the pass or saying "after the pipeline"."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from harness import onnx_model
from onnx import helper
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import VerifyException

from tidal.passes import pipeline
from tidal.passes.pipeline import Verify, compile_module, lowering_passes, run_passes
from tidal.passes.testing.break_ir import BreakIRForTestPass
from tidal.targets.onnx_import import import_onnx
from tidal.tools import tidal_compile, tidal_opt, tidal_run
from tidal.tools.files import ToolError

BROKEN = "Operation func.func contains empty block"
AT_THE_END = "verifier failed after the pipeline (last pass 'test-break-ir'; "
AFTER_THE_PASS = "verifier failed after pass 'test-break-ir': "


def _graph() -> onnx.ModelProto:
    """x -> Conv 1x1 -> Relu -> y."""
    w = np.random.default_rng(0).standard_normal((4, 3, 1, 1)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
        helper.make_node("Relu", ["c"], ["y"], name="relu"),
    ]
    return onnx_model(nodes, {"x": [1, 3, 4, 4]}, {"y": [1, 4, 4, 4]}, {"w": w}, opset=13)


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "m.onnx"
    onnx.save(_graph(), path)
    return path


def _with_break(chip: str, disabled=()) -> list[ModulePass]:
    """The lowering pipeline and test-break-ir after it (a pass after it would
    refuse the extra func.func as input of the wrong level): the default check
    (after the pipeline) and --verify-each (after the pass) tell it differently."""
    return [*lowering_passes(chip, disabled), BreakIRForTestPass()]


@pytest.fixture
def broken(monkeypatch):
    """Every tool's lowering pipeline breaks the IR (test-break-ir)."""
    monkeypatch.setattr(pipeline, "lowering_passes", _with_break)
    monkeypatch.setattr(tidal_run, "lowering_passes", _with_break)


def _count_verifications(monkeypatch) -> list[int]:
    calls = [0]
    verify = ModuleOp.verify

    def counting(self, verify_nested_ops: bool = True) -> None:
        calls[0] += 1
        verify(self, verify_nested_ops)

    monkeypatch.setattr(ModuleOp, "verify", counting)
    return calls


def test_compile_module_verifies_once_by_default_and_after_every_pass_on_request(
    monkeypatch,
):
    calls = _count_verifications(monkeypatch)
    once, each = import_onnx(_graph()), import_onnx(_graph())  # the importer verifies
    calls[0] = 0
    compile_module(once, "small")
    assert calls[0] == 1
    calls[0] = 0
    compile_module(each, "small", verify_each=True)
    assert calls[0] == len(lowering_passes("small"))


def test_verify_counts_its_cpu_seconds():
    check = Verify(each=True)
    run_passes(lowering_passes("small"), import_onnx(_graph()), callbacks=[check])
    assert check.seconds > 0


class _Seen(pipeline.PassCallback):
    def __init__(self) -> None:
        self.ran: list[str] = []

    def after(self, pass_, module) -> None:
        self.ran.append(pass_.name)


def _graph_passes() -> list[ModulePass]:
    """Graph-level passes around test-break-ir, which they let through."""
    canonicalize = next(p for p in lowering_passes("small") if p.name == "graph-canonicalize")
    return [canonicalize, BreakIRForTestPass(), canonicalize]


def test_the_default_check_runs_every_pass_then_says_after_the_pipeline():
    seen = _Seen()
    with pytest.raises(VerifyException) as caught:
        run_passes(_graph_passes(), import_onnx(_graph()), callbacks=[Verify(), seen])
    assert str(caught.value).startswith(
        "verifier failed after the pipeline (last pass 'graph-canonicalize'; "
        f"--verify-each names the pass that broke it): {BROKEN}"
    )
    assert "\n" not in str(caught.value)
    assert seen.ran == ["graph-canonicalize", "test-break-ir", "graph-canonicalize"]


def test_verify_each_stops_right_after_the_pass_that_broke_the_ir():
    seen = _Seen()
    with pytest.raises(VerifyException) as caught:
        run_passes(_graph_passes(), import_onnx(_graph()), callbacks=[Verify(each=True), seen])
    assert str(caught.value).startswith(AFTER_THE_PASS + BROKEN)
    assert seen.ran == ["graph-canonicalize"]  # Verify stopped the run before Seen's turn


@pytest.mark.parametrize("each", [False, True])
def test_tidal_compile_catches_the_broken_pass_both_ways(model, tmp_path, broken, capsys, each):
    out = tmp_path / "m.tbin"
    argv = [str(model), "-o", str(out), "--chip", "small", *(["--verify-each"] if each else [])]
    with pytest.raises(SystemExit) as exit_:
        tidal_compile.main(argv)
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    expected = AFTER_THE_PASS if each else AT_THE_END
    assert err.startswith(f"tidal-compile: error: {model}: {expected}")
    assert err.count("\n") == 1 and BROKEN in err
    assert not out.exists()


def test_tidal_compile_verify_each_writes_the_same_binary(model, tmp_path):
    plain = tidal_compile.compile_to_bytes(str(model), "small")
    each = tidal_compile.compile_to_bytes(str(model), "small", verify_each=True)
    assert plain == each


@pytest.mark.parametrize("each", [False, True])
def test_tidal_run_catches_the_broken_pass_both_ways(model, broken, each):
    inputs = {"x": np.ones((1, 3, 4, 4), np.float32)}
    expected = AFTER_THE_PASS if each else AT_THE_END
    with pytest.raises(ToolError) as caught:
        tidal_run.run_model(str(model), inputs, "small", verify_each=each)
    assert str(caught.value).startswith(f"{model}: {expected}")


def test_tidal_run_verify_each_runs_the_same_program(model):
    inputs = {"x": np.random.default_rng(1).standard_normal((1, 3, 4, 4)).astype(np.float32)}
    out, stats = tidal_run.run_model(str(model), inputs, "small")
    out_each, stats_each = tidal_run.run_model(str(model), inputs, "small", verify_each=True)
    assert np.array_equal(out["y"], out_each["y"]) and stats == stats_each


@pytest.mark.parametrize(
    ("flags", "expected"),
    [([], "verifier failed after pass 'tidal-lower': "), (["--verify-each"], AFTER_THE_PASS)],
)
def test_tidal_opt_names_tidal_lower_or_with_verify_each_its_pass(
    model, broken, capsys, flags, expected
):
    with pytest.raises(SystemExit) as exit_:
        tidal_opt.main([str(model), "-p", "tidal-lower{chip=small}", *flags])
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith(f"tidal-opt: error: {expected}{BROKEN}")


def test_tidal_opt_verify_each_and_disable_verify_exclude_each_other(model):
    # a child process: xdsl-opt's --disable-verify switches attribute checks off for
    # the whole process
    run = subprocess.run(
        [str(Path(sys.executable).parent / "tidal-opt"), str(model),
         "-p", "tidal-lower{chip=small}", "--verify-each", "--disable-verify"],
        capture_output=True, text=True, check=False, timeout=300,
    )
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr == (
        "tidal-opt: error: --verify-each and --disable-verify exclude each other\n"
    )

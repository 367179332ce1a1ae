"""tidal-opt as a user of an MLIR opt tool expects it: ONNX models are an input
format (imported to graph-level IR, then any pipeline), `--version` names Tidal's
version beside xDSL's, and `-o` is written whole, only when the run succeeds."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

BIN = Path(sys.executable).parent


def opt(*args: str | Path, stdin: bytes | None = None):
    return subprocess.run(
        [str(BIN / "tidal-opt"), *map(str, args)],
        input=stdin, capture_output=True, check=False, timeout=300,
    )


def _model(path: Path) -> Path:
    w = np.arange(32, dtype=np.float32).reshape(8, 4)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
        [numpy_helper.from_array(w, "w")],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


def test_onnx_input_is_imported_to_graph_ir(tmp_path):
    r = opt(_model(tmp_path / "m.onnx"))
    assert r.returncode == 0, r.stderr
    text = r.stdout.decode()
    assert "graph.matmul" in text and '{tidal.origin = "mm"}' in text
    assert 'tidal.name = "x"' in text and 'tidal.name = "y"' in text


def test_onnx_input_runs_a_pipeline(tmp_path):
    r = opt(_model(tmp_path / "m.onnx"), "-p", "graph-to-loop{chip=small}")
    assert r.returncode == 0, r.stderr
    assert "loop.nest" in r.stdout.decode()


def test_onnx_from_stdin_with_frontend(tmp_path):
    data = _model(tmp_path / "m.onnx").read_bytes()
    r = opt("--frontend", "onnx", stdin=data)
    assert r.returncode == 0, r.stderr
    assert "graph.matmul" in r.stdout.decode()


def test_version_names_tidal_and_xdsl():
    r = opt("--version")
    assert r.returncode == 0
    assert r.stdout.decode().strip() == f"tidal-opt {version('tidal')} (xDSL {version('xdsl')})"


def test_output_written_only_on_success(tmp_path):
    src = tmp_path / "g.mlir"
    src.write_text(
        'func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {\n'
        '  %r = graph.relu %x {tidal.origin = "r"} : (tensor<4xf32>) -> tensor<4xf32>\n'
        "  func.return %r : tensor<4xf32>\n}\n"
    )
    out = tmp_path / "o.mlir"
    out.write_text("previous")
    r = opt(src, "-p", "loop-to-accel", "-o", out)  # graph IR: the pass refuses it
    assert r.returncode == 1 and out.read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.mlir", "o.mlir"]
    r = opt(src, "-p", "graph-to-loop", "-o", out)
    assert r.returncode == 0, r.stderr
    assert "loop.nest" in out.read_text()


def test_a_diagnostic_instead_of_a_module_leaves_the_output_file_alone(tmp_path):
    """--verify-diagnostics prints a failing module's diagnostic instead of the
    module: the `-o` file was emptied (exit 0); with no module written it is kept."""
    src = tmp_path / "bad.mlir"
    src.write_text(
        'func.func @main(%x: tensor<1x8xf32> {tidal.name = "x"}) -> tensor<1x8xf32> {\n'
        "  %y = graph.softmax %x {axis = 5 : i64} : (tensor<1x8xf32>) -> tensor<1x8xf32>\n"
        "  func.return %y : tensor<1x8xf32>\n"
        "}\n"
    )
    out = tmp_path / "kept.mlir"
    out.write_text("PRECIOUS\n")
    r = opt(src, "--verify-diagnostics", "-o", out)
    assert r.returncode == 0, r.stderr
    assert "bad.mlir:2:" in r.stdout.decode(), r.stdout
    assert out.read_text() == "PRECIOUS\n"


def test_an_upstream_pass_error_that_prints_the_module_says_what_failed(tmp_path):
    """xDSL's transform-interpreter fails with "ModuleOp(", the module, then
    ") could not find ...": the one line was "ModuleOp(", now the reason."""
    src = tmp_path / "m.mlir"
    src.write_text("func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {\n  func.return %x : tensor<4xf32>\n}\n")
    r = opt(src, "-p", "transform-interpreter")
    assert r.returncode == 1
    assert r.stderr.decode().strip() == (
        "tidal-opt: error: could not find a nested named sequence with name: __transform_main"
    )


def test_an_error_line_shows_control_characters_escaped_and_is_bounded(tmp_path):
    """tidal-opt echoed a pipeline's byte-order mark and control bytes raw (a terminal
    acts on an escape sequence) and a 100 KB option value whole. Every tool's error
    line now shows such characters as Python escapes them and stops at 2,000
    characters, saying how many it left out (below)."""
    source = tmp_path / "id.mlir"
    source.write_text(
        'func.func @main(%x: tensor<2xf32> {tidal.name = "x"}) -> (tensor<2xf32> {tidal.name = "y"}) {\n'
        "  func.return %x : tensor<2xf32>\n}\n"
    )
    run = opt(source, "-p", "canon\ufeffica\x1b[2Jlize")
    assert run.returncode == 1
    err = run.stderr.decode()
    assert "canon\\ufeffica\\x1b[2Jlize" in err and "\x1b" not in err and "\ufeff" not in err
    assert err.count("\n") == 1


def test_a_long_error_line_is_cut(capsys):
    from tidal.tools.files import MESSAGE_MAX_CHARS, fail

    with pytest.raises(SystemExit):
        fail("tool", "value '" + "x" * 100_000 + "' is wrong")
    err = capsys.readouterr().err
    assert len(err) < MESSAGE_MAX_CHARS + 40
    assert err.rstrip().endswith("more characters)")

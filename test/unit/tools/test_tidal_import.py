"""tidal-import: ONNX to graph-dialect IR text. The text holds the model's weights
exactly (compared with the ONNX initializers in NumPy), runs like the model
(compared with onnxruntime), and bad input is one line, exit 1, no file written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from harness import example, tool
from onnx import numpy_helper

from tidal.dialects.graph import ConstantOp
from tidal.tools.common import context, parse_and_verify
from tidal.tools.tidal_import import main

models = example("models")


@pytest.fixture(scope="module")
def mlp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("mlp") / "mlp.onnx"
    onnx.save(models.make_mlp(batch=4, sizes=(40, 24, 10)), path)
    return path


@pytest.fixture(scope="module")
def imported(mlp: Path) -> Path:
    """`tidal-import mlp.onnx -o mlp.mlir`, as a user runs it."""
    out = mlp.with_suffix(".mlir")
    run = tool("tidal-import", mlp, "-o", out)
    assert run.returncode == 0, run.stderr
    assert run.stdout == f"tidal-import: wrote {out} ({out.stat().st_size} bytes)\n"
    return out


def test_text_holds_the_weights_exactly(mlp: Path, imported: Path):
    out = imported
    module = parse_and_verify(context(), out.read_text(), str(out))
    constants = {
        op.attributes["tidal.origin"].data: op  # pyright: ignore[reportAttributeAccessIssue]
        for op in module.walk()
        if isinstance(op, ConstantOp)
    }
    initializers = onnx.load(mlp).graph.initializer
    assert set(constants) == {t.name for t in initializers}
    for tensor in initializers:
        got = constants[tensor.name].to_numpy()
        assert np.array_equal(got, numpy_helper.to_array(tensor)), tensor.name


def test_standard_output_is_the_same_text(mlp: Path, imported: Path):
    run = tool("tidal-import", mlp)
    assert run.returncode == 0, run.stderr
    assert run.stdout == imported.read_text()


def test_text_runs_like_onnxruntime(mlp: Path, imported: Path, tmp_path: Path):
    text = imported
    inputs = models.make_inputs(onnx.load(mlp))
    np.savez(tmp_path / "in.npz", **inputs)
    run = tool(
        "tidal-run", text, "--inputs", tmp_path / "in.npz",
        "--outputs", tmp_path / "out.npz", "--chip", "small",
    )
    assert run.returncode == 0, run.stderr
    session = ort.InferenceSession(str(mlp), providers=["CPUExecutionProvider"])
    (expected,) = session.run(["probs"], inputs)
    with np.load(tmp_path / "out.npz") as got:
        assert np.abs(got["probs"] - expected).max() <= 1e-3 * np.abs(expected).max()


@pytest.mark.parametrize(
    ("case", "fragment"),
    [
        ("missing", "missing.onnx: cannot read"),
        ("not-onnx", "not a valid ONNX model"),
        ("same-file", "is the same file as the input"),
        ("unknown-chip", "--chip: unknown chip preset 'tiny'"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    mlp: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, fragment: str
):
    """In-process (the console script's entry point is the same `main`)."""
    out = tmp_path / "out.mlir"
    out.write_text("previous\n")
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\xff\xfe not a protobuf \x00" * 8)
    args: list[str] = [str(a) for a in {
        "missing": [tmp_path / "missing.onnx", "-o", out],
        "not-onnx": [garbage, "-o", out],
        "same-file": [mlp, "-o", mlp],
        "unknown-chip": [mlp, "-o", out, "--chip", "tiny"],
    }[case]]
    before = mlp.read_bytes()
    with pytest.raises(SystemExit) as exit:
        main(args)
    assert exit.value.code == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith("tidal-import: error: ") and fragment in line, line
    assert out.read_text() == "previous\n"
    assert mlp.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["garbage.onnx", "out.mlir"]

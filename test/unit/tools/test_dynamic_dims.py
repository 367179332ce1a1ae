"""Models exported with dynamic dimensions (PyTorch's dynamic_axes, a Hugging Face
export's "batch_size"): `--dim NAME=SIZE` fixes a named dimension for
tidal-compile and tidal-import, and tidal-run takes the sizes from the inputs it is
given. The binaries' outputs are compared with onnxruntime on the same inputs; bad
sizes and names get one error line naming them."""

from __future__ import annotations

from pathlib import Path

import subprocess

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from harness import assert_one_line_error, tool
from onnx import TensorProto, helper, numpy_helper

from tidal.targets.onnx_import import OnnxImportError, dynamic_dims, import_onnx


@pytest.fixture
def work(tmp_path: Path) -> tuple[Path, Path]:
    """(a directory for models and inputs, an empty directory for outputs)."""
    out = tmp_path / "out"
    out.mkdir()
    return tmp_path, out


def assert_ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return result.stdout


def assert_nothing_written(out: Path) -> None:
    assert sorted(p.name for p in out.iterdir()) == []


def onnxruntime(path: Path, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, feed), strict=True))


def dynamic_model(path: Path) -> Path:
    """x [N, 4, 6, 6] -> Conv -> Relu -> GlobalAveragePool -> flatten as PyTorch
    exports it with a dynamic batch (Shape, Gather, Unsqueeze, Concat, Reshape) ->
    Gemm -> y [N, 5]; the value infos keep the symbolic batch as the exporter
    writes them."""
    rng = np.random.default_rng(4)
    inits = [
        numpy_helper.from_array(rng.standard_normal((8, 4, 3, 3)).astype(np.float32), "w"),
        numpy_helper.from_array(rng.standard_normal((5, 8)).astype(np.float32), "fc"),
        numpy_helper.from_array(np.array(0, np.int64), "zero"),
        numpy_helper.from_array(np.array([-1], np.int64), "minus_one"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], name="conv"),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("GlobalAveragePool", ["r"], ["g"], name="gap"),
        helper.make_node("Shape", ["g"], ["s"], name="shape"),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0, name="batch"),
        helper.make_node("Unsqueeze", ["n"], ["n1"], axes=[0], name="unsq"),
        helper.make_node("Concat", ["n1", "minus_one"], ["target"], axis=0, name="cat"),
        helper.make_node("Reshape", ["g", "target"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "fc"], ["y"], transB=1, name="fc"),
    ]
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5])],
        inits,
        value_info=[helper.make_tensor_value_info("r", TensorProto.FLOAT, ["N", 8, 6, 6])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    onnx.save(model, path)
    return path


def inputs(path: Path, batch: int) -> dict[str, np.ndarray]:
    x = np.random.default_rng(batch).standard_normal((batch, 4, 6, 6)).astype(np.float32)
    np.savez(path, x=x)
    return {"x": x}


def test_compile_with_a_dim_and_simulate(work):
    src, out = work
    model = dynamic_model(src / "m.onnx")
    feed = inputs(src / "x3.npz", 3)
    assert_ok(tool("tidal-compile", model, "-o", out / "m.tbin", "--dim", "N=3"))
    assert_ok(tool("tidal-sim", out / "m.tbin", "--inputs", src / "x3.npz", "--outputs", out / "y.npz"))
    got = np.load(out / "y.npz")["y"]
    want = onnxruntime(model, feed)["y"]
    assert got.shape == (3, 5)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("batch", [1, 2])
def test_tidal_run_takes_the_sizes_from_its_inputs(work, batch):
    src, out = work
    model = dynamic_model(src / "m.onnx")
    feed = inputs(src / "x.npz", batch)
    assert_ok(tool("tidal-run", model, "--inputs", src / "x.npz", "--outputs", out / "y.npz"))
    got = np.load(out / "y.npz")["y"]
    np.testing.assert_allclose(got, onnxruntime(model, feed)["y"], rtol=1e-4, atol=1e-5)


def test_tidal_import_with_a_dim(work):
    src, _ = work
    model = dynamic_model(src / "m.onnx")
    text = assert_ok(tool("tidal-import", model, "--dim", "N=2"))
    assert "tensor<2x4x6x6xf32>" in text and "tensor<2x5xf32>" in text


def test_without_sizes_the_error_says_how_to_give_them(work):
    src, out = work
    model = dynamic_model(src / "m.onnx")
    message = assert_one_line_error(
        tool("tidal-compile", model, "-o", out / "m.tbin"), "tidal-compile",
        "tensor 'x'", "[N, 4, 6, 6]", "--dim NAME=SIZE",
    )
    assert "tidal-run" in message
    assert_nothing_written(out)


@pytest.mark.parametrize(
    ("dims", "fragments"),
    [
        (["--dim", "B=2"], ["no dimension named 'B'", "its dynamic dimensions: N"]),
        (["--dim", "N=2", "--dim", "N=3"], ["--dim N given twice: 2 and 3"]),
    ],
)
def test_bad_dims_are_refused(work, dims, fragments):
    src, out = work
    model = dynamic_model(src / "m.onnx")
    assert_one_line_error(tool("tidal-compile", model, "-o", out / "m.tbin", *dims), "tidal-compile", *fragments)
    assert_nothing_written(out)


@pytest.mark.parametrize("text", ["N", "N=", "=2", "N=0", "N=-1", "N=two", f"N={2**63}", "N=" + "9" * 30])
def test_malformed_dims_are_usage_errors(work, text):
    src, out = work
    model = dynamic_model(src / "m.onnx")
    result = tool("tidal-compile", model, "-o", out / "m.tbin", "--dim", text)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "expected NAME=SIZE" in result.stderr
    assert_nothing_written(out)


def test_the_importer_binds_fed_sizes_and_leaves_the_callers_model(tmp_path):
    model = onnx.load(dynamic_model(tmp_path / "m.onnx"))
    assert dynamic_dims(model) == ["N"]
    import_onnx(model, overrides={"x": np.zeros((2, 4, 6, 6), np.float32)})
    assert dynamic_dims(model) == ["N"]  # the caller's proto is not changed
    with pytest.raises(OnnxImportError, match="no dimension named 'M'"):
        import_onnx(model, dims={"M": 2})
    with pytest.raises(OnnxImportError, match="a size is from 1 to 9223372036854775807"):
        import_onnx(model, dims={"N": 2**63})
    with pytest.raises(OnnxImportError, match="is 2 in input 'x' but 3 in input 'x2'"):
        two = onnx.load(tmp_path / "m.onnx")
        two.graph.input.append(helper.make_tensor_value_info("x2", TensorProto.FLOAT, ["N", 4, 6, 6]))
        import_onnx(two, overrides={"x": np.zeros((2, 4, 6, 6), np.float32),
                                    "x2": np.zeros((3, 4, 6, 6), np.float32)})
    fixed = onnx.load(tmp_path / "m.onnx")
    for vi in [*fixed.graph.input, *fixed.graph.output, *fixed.graph.value_info]:
        for d in vi.type.tensor_type.shape.dim:
            if d.dim_param == "N":
                d.Clear()
                d.dim_value = 1
    with pytest.raises(OnnxImportError, match="every shape is static"):
        import_onnx(fixed, dims={"N": 1})


def test_an_array_of_another_rank_is_named_as_such(work):
    """A [6, 6] array fed for x [N, 4, 6, 6]: the error said x "has a dynamic shape
    ... feed inputs of that shape", not that the rank differs."""
    src, out = work
    model = dynamic_model(src / "m.onnx")
    np.savez(src / "x.npz", x=np.zeros((6, 6), np.float32))
    r = tool("tidal-run", model, "--inputs", src / "x.npz", "--outputs", out / "y.npz")
    assert_one_line_error(r, "tidal-run", "input 'x': the model declares rank 4 ([N, 4, 6, 6]), the array fed for it has shape [6, 6]")
    assert_nothing_written(out)

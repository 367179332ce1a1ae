"""ONNX models that the importer must refuse, or handle on its own, as the console
scripts show it: one line `<tool>: error: <message>` naming the node, tensor or
file, exit status 1, no traceback and nothing written; or, where the importer
handles the model (an old opset, an output listed twice, a fed initializer), a
binary that the simulator loads and outputs that match onnxruntime.

The size checks run under an address-space limit, so that a regression (a constant
materialised before it is sized) fails at once instead of swapping.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from harness import assert_one_line_error, tool
from onnx import TensorProto, helper, numpy_helper

MEMORY_LIMIT = 3 << 30  # bytes of address space for a tool that must refuse early


def assert_ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return result.stdout


def f32(name: str, shape: list[int]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def save(path: Path, nodes, inputs, outputs, initializers=(), opset=13, ir_version=None) -> Path:
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    if ir_version is not None:
        model.ir_version = ir_version
    path.write_bytes(model.SerializeToString())
    return path


def onnxruntime(path: Path, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, inputs), strict=True))


@pytest.fixture
def work(tmp_path: Path) -> tuple[Path, Path]:
    """(a directory for models and inputs, an empty directory for outputs)."""
    out = tmp_path / "out"
    out.mkdir()
    return tmp_path, out


def assert_nothing_written(out: Path) -> None:
    assert sorted(p.name for p in out.iterdir()) == []


# ------------------------------------------------------------------ sizes


def test_constant_of_shape_larger_than_dram(work):
    """The issue's 169-byte model (100000x100000 int64, a MemoryError traceback):
    sized from its shape and refused before anything is made. (The float twin and
    the other sizes are tested on the importer itself.)"""
    directory, out = work
    fill = helper.make_tensor("value", TensorProto.INT64, [1], [1])
    model = save(
        directory / "bomb.onnx",
        [
            helper.make_node("ConstantOfShape", ["s"], ["c"], name="fill", value=fill),
            helper.make_node("Reshape", ["x", "c"], ["y"]),
        ],
        [f32("x", [1, 1])],
        [f32("y", [1])],
        [numpy_helper.from_array(np.array([100000, 100000], np.int64), "s")],
    )
    assert model.stat().st_size < 200
    result = tool("tidal-compile", model, "-o", out / "b.tbin", limit=MEMORY_LIMIT)
    assert assert_one_line_error(result, "tidal-compile") == (
        f"{model}: node 'fill' (op ConstantOfShape): constant of shape [100000, 100000] (int64) "
        "needs 80000000000 bytes, more than the 4294967296 bytes of DRAM of the largest "
        "chip preset ('default')"
    )
    assert_nothing_written(out)


# ---------------------------------------------------------------- external data


def external_model(directory: Path, location: str) -> Path:
    w = numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3), "w")
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["y"])], "g", [f32("x", [2, 3])], [f32("y", [2, 3])], [w]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    tensor = model.graph.initializer[0]
    onnx.external_data_helper.set_external_data(tensor, location=location)
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "model.onnx"
    path.write_bytes(model.SerializeToString())
    return path


WEIGHTS = np.arange(6, dtype=np.float32).tobytes()


def test_external_data_outside_the_model_directory(work):
    """One line naming the model file, the tensor and the location (absolute and
    missing locations are tested on the importer itself)."""
    directory, out = work
    (directory / "weights.bin").write_bytes(WEIGHTS)
    model = external_model(directory / "m", "../weights.bin")
    result = tool("tidal-compile", model, "-o", out / "b.tbin")
    assert assert_one_line_error(result, "tidal-compile") == (
        f"{model}: tensor 'w': external data location '../weights.bin' is outside the "
        f"model's directory '{directory / 'm'}'"
    )
    assert_nothing_written(out)


@pytest.mark.parametrize("location", ["/dev/zero", "sub"])
def test_external_data_that_is_a_device_or_a_directory_names_its_tensor(work, location):
    """The tools' early check of the files a model reads named only the path
    ("cannot read '/dev/zero': it is a character device"); the import names the
    model and the tensor."""
    directory, out = work
    (directory / "m").mkdir()
    (directory / "m" / "sub").mkdir()
    model = external_model(directory / "m", location)
    message = assert_one_line_error(tool("tidal-compile", model, "-o", out / "b.tbin"), "tidal-compile")
    assert message.startswith(f"{model}: tensor 'w': external data"), message
    assert_nothing_written(out)


def write_inputs(directory: Path, **arrays: np.ndarray) -> Path:
    path = directory / "in.npz"
    np.savez(path, **(arrays or {"x": np.ones((2, 3), np.float32)}))  # type: ignore[arg-type]
    return path


def test_external_data_inside_the_model_directory_compiles_and_runs(work):
    directory, out = work
    model = external_model(directory / "m", "weights.bin")
    (directory / "m" / "weights.bin").write_bytes(WEIGHTS)
    inputs = write_inputs(directory)
    assert_ok(tool("tidal-compile", model, "-o", out / "b.tbin"))
    assert_ok(tool("tidal-sim", out / "b.tbin", "--inputs", inputs, "--outputs", out / "o.npz"))
    expected = onnxruntime(model, {"x": np.ones((2, 3), np.float32)})
    np.testing.assert_allclose(np.load(out / "o.npz")["y"], expected["y"])


# ----------------------------------------------------------------- outputs


def test_outputs_listed_twice_or_aliased_give_a_binary_that_loads(work):
    """y listed twice (deduplicated, said in --report), the input x as an output, and
    z, the same tensor as y through Identity."""
    directory, out = work
    outputs = ["y", "x", "z", "y"]
    model = save(
        directory / "m.onnx",
        [helper.make_node("Relu", ["x"], ["y"]), helper.make_node("Identity", ["y"], ["z"])],
        [f32("x", [2, 3])],
        [f32(o, [2, 3]) for o in outputs],
    )
    x = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    inputs = write_inputs(directory, x=x)
    report = assert_ok(tool("tidal-compile", model, "-o", out / "b.tbin", "--report"))
    assert "import: output 'y' is listed 2 times: one output" in report.splitlines()
    assert_ok(tool("tidal-sim", out / "b.tbin", "--inputs", inputs, "--outputs", out / "o.npz"))
    actual = dict(np.load(out / "o.npz"))
    expected = onnxruntime(model, {"x": x})
    assert sorted(actual) == sorted(expected) == ["x", "y", "z"]
    for name, value in expected.items():
        np.testing.assert_allclose(actual[name], value)


# ------------------------------------------------------------------ opsets


def test_opset_newer_than_onnx_knows(work):
    directory, out = work
    model = save(directory / "m.onnx", [helper.make_node("Relu", ["x"], ["y"])],
                 [f32("x", [2, 3])], [f32("y", [2, 3])], opset=99)
    message = assert_one_line_error(tool("tidal-compile", model, "-o", out / "b.tbin"), "tidal-compile")
    known = onnx.defs.onnx_opset_version()
    assert message == (
        f"{model}: opset 99 is newer than the installed onnx {onnx.__version__} knows "
        f"(opset {known} at most)"
    )
    assert_nothing_written(out)


def test_old_opset_is_upgraded_and_said_in_the_report(work):
    directory, out = work
    rng = np.random.default_rng(7)
    model = save(
        directory / "m.onnx",
        [
            helper.make_node("Gemm", ["x", "w", "b"], ["g"], transB=1),
            helper.make_node("Relu", ["g"], ["y"]),
        ],
        [f32("x", [4, 16])],
        [f32("y", [4, 8])],
        [
            numpy_helper.from_array(rng.standard_normal((8, 16)).astype(np.float32), "w"),
            numpy_helper.from_array(rng.standard_normal(8).astype(np.float32), "b"),
        ],
        opset=7,
    )
    x = rng.standard_normal((4, 16)).astype(np.float32)
    report = assert_ok(tool("tidal-compile", model, "-o", out / "b.tbin", "--report"))
    assert report.splitlines()[0] == "import: opset 7 upgraded to opset 9 by onnx's version converter"
    inputs = write_inputs(directory, x=x)
    assert_ok(tool("tidal-sim", out / "b.tbin", "--inputs", inputs, "--outputs", out / "o.npz"))
    np.testing.assert_allclose(
        np.load(out / "o.npz")["y"], onnxruntime(model, {"x": x})["y"], rtol=1e-5, atol=1e-5
    )


# --------------------------------------------------------------- zero-size


def test_zero_size_input_is_not_called_dynamic(work):
    """A zero-size input is onnxruntime's (the framework tier): tidal-compile, which
    builds accelerator binaries only, says so, not that the shape is dynamic."""
    directory, out = work
    model = save(directory / "m.onnx", [helper.make_node("Relu", ["x"], ["y"])],
                 [f32("x", [0, 3])], [f32("y", [0, 3])])
    message = assert_one_line_error(tool("tidal-compile", model, "-o", out / "b.tbin"), "tidal-compile")
    assert "input 'x' is float32 [0, 3]" in message and "framework tier" in message
    assert "dynamic" not in message
    assert_nothing_written(out)


def test_negative_dim_is_not_called_dynamic(work):
    """A negative dim_value is a malformed shape, not a dimension --dim could size."""
    directory, out = work
    model = save(directory / "m.onnx", [helper.make_node("Relu", ["x"], ["y"])],
                 [f32("x", [4, -8])], [f32("y", [4, -8])])
    message = assert_one_line_error(tool("tidal-compile", model, "-o", out / "b.tbin"), "tidal-compile")
    assert "tensor 'x' has shape [4, -8]: dimension 1 is -8" in message
    assert "--dim" not in message
    assert_nothing_written(out)


# ------------------------------------------------------- the checker's messages


def test_the_checkers_message_keeps_the_node_it_names(work):
    """onnx's checker names the node on the lines after its first: the one-line
    message keeps them (a graph whose nodes are not in order)."""
    directory, out = work
    nodes = [helper.make_node("Add", ["x", "b"], ["a"], name="n1"), helper.make_node("Relu", ["a"], ["b"], name="n2")]
    model = save(directory / "m.onnx", nodes, [f32("x", [2])], [f32("b", [2])])
    message = assert_one_line_error(tool("tidal-compile", model, "-o", out / "b.tbin"), "tidal-compile")
    assert "topologically sorted" in message and "name: n1 OpType: Add" in message
    assert_nothing_written(out)


def test_an_input_without_shape_is_named_and_tidal_run_takes_the_fed_one(work):
    """An input that declares no shape: tidal-compile names it; tidal-run, like
    onnxruntime, takes the shape of the array fed for it."""
    directory, out = work
    shapeless = helper.make_tensor_value_info("x", TensorProto.FLOAT, None)
    model = save(directory / "m.onnx", [helper.make_node("Relu", ["x"], ["y"])], [shapeless],
                 [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    message = assert_one_line_error(tool("tidal-compile", model, "-o", out / "b.tbin"), "tidal-compile")
    assert "input 'x' declares no shape" in message and "tidal-run" in message
    assert_nothing_written(out)
    feeds = {"x": np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)}
    np.savez(directory / "in.npz", **feeds)
    assert_ok(tool("tidal-run", model, "--inputs", directory / "in.npz", "--outputs", out / "y.npz"))
    np.testing.assert_array_equal(np.load(out / "y.npz")["y"], onnxruntime(model, feeds)["y"])


def test_a_dimension_without_size_or_name_takes_the_fed_size(work):
    """A "?" dimension (neither dim_value nor dim_param, as some exporters leave a
    batch): tidal-run sizes it from the array fed; tidal-compile says so, as it
    cannot be given with --dim."""
    directory, out = work
    x = f32("x", [None, 3])  # type: ignore[list-item]
    model = save(directory / "m.onnx", [helper.make_node("Relu", ["x"], ["y"])], [x],
                 [f32("y", [None, 3])])  # type: ignore[list-item]
    message = assert_one_line_error(tool("tidal-compile", model, "-o", out / "b.tbin"), "tidal-compile")
    assert "[?, 3]" in message and "neither a size nor a name" in message
    feeds = {"x": np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)}
    np.savez(directory / "in.npz", **feeds)
    assert_ok(tool("tidal-run", model, "--inputs", directory / "in.npz", "--outputs", out / "y.npz"))
    np.testing.assert_array_equal(np.load(out / "y.npz")["y"], onnxruntime(model, feeds)["y"])


def test_outputs_without_type_or_shape_get_the_inferred_ones(work):
    """Graph outputs declared by name only or without a shape, and a value_info
    without a shape (onnxruntime runs the model; onnx's checker refuses it): they
    take the types shape inference gives."""
    directory, out = work
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Neg", ["r"], ["y"]),
             helper.make_node("Abs", ["r"], ["z"])]
    graph = helper.make_graph(
        nodes, "g", [f32("x", [2, 3])],
        [onnx.ValueInfoProto(name="y"), helper.make_tensor_value_info("z", TensorProto.FLOAT, None)],
        value_info=[helper.make_tensor_value_info("r", TensorProto.FLOAT, None)],
    )
    model = directory / "m.onnx"
    model.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString())
    assert_ok(tool("tidal-compile", model, "-o", out / "b.tbin"))
    feeds = {"x": np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)}
    np.savez(directory / "in.npz", **feeds)
    assert_ok(tool("tidal-run", model, "--inputs", directory / "in.npz", "--outputs", out / "y.npz"))
    got, ref = np.load(out / "y.npz"), onnxruntime(model, feeds)
    for name in ("y", "z"):
        np.testing.assert_array_equal(got[name], ref[name])


# ------------------------------------------------- initializers fed as inputs


def overridable(path: Path, ir_version: int) -> Path:
    """y = x * k, where k is an initializer the model also lists as an input."""
    k = numpy_helper.from_array(np.full((2, 3), 3.0, np.float32), "k")
    return save(path, [helper.make_node("Mul", ["x", "k"], ["y"])],
                [f32("x", [2, 3]), f32("k", [2, 3])], [f32("y", [2, 3])], [k],
                ir_version=ir_version)


def test_tidal_run_feeds_an_initializer_listed_as_input_like_onnxruntime(work):
    directory, out = work
    model = overridable(directory / "m.onnx", ir_version=8)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    k = np.full((2, 3), -0.5, np.float32)
    for feeds in ({"x": x}, {"x": x, "k": k}):
        inputs = write_inputs(directory, **feeds)
        assert_ok(tool("tidal-run", model, "--inputs", inputs, "--outputs", out / "o.npz"))
        np.testing.assert_allclose(np.load(out / "o.npz")["y"], onnxruntime(model, feeds)["y"])
        (out / "o.npz").unlink()
    # a value of another shape than the initializer's
    inputs = write_inputs(directory, x=x, k=np.ones((3, 2), np.float32))
    message = assert_one_line_error(
        tool("tidal-run", model, "--inputs", inputs, "--outputs", out / "o.npz"), "tidal-run"
    )
    assert message == (
        "input 'k': expected shape (2, 3), got (3, 2) (the shape of the initializer it overrides)"
    )
    assert_nothing_written(out)


def test_a_fed_initializer_is_not_folded_at_import(work):
    """An initializer listed as an input and fed, read by a node that import folds
    on constants (Round, computed with onnx's reference evaluator): the node reads
    the value fed, as in onnxruntime, not the file's (it did: wrong numbers)."""
    directory, out = work
    w = np.array([[1.2, -2.7, 3.4], [0.4, 5.6, -0.6]], np.float32)
    model = save(directory / "m.onnx",
                 [helper.make_node("Round", ["w"], ["r"]), helper.make_node("Add", ["x", "r"], ["y"])],
                 [f32("x", [2, 3]), f32("w", [2, 3])], [f32("y", [2, 3])],
                 [numpy_helper.from_array(w, "w")], ir_version=8)
    for feeds in ({"x": np.zeros((2, 3), np.float32)}, {"x": np.zeros((2, 3), np.float32), "w": 2 * w}):
        inputs = write_inputs(directory, **feeds)
        assert_ok(tool("tidal-run", model, "--inputs", inputs, "--outputs", out / "o.npz"))
        np.testing.assert_array_equal(np.load(out / "o.npz")["y"], onnxruntime(model, feeds)["y"])
        (out / "o.npz").unlink()


def test_tidal_sim_refuses_a_feed_for_a_compiled_constant(work):
    """A compiled binary holds the initializer as a constant: feeding it is refused
    in one line naming it and saying why (the binary's metadata lists it)."""
    directory, out = work
    model = overridable(directory / "m.onnx", ir_version=8)
    assert_ok(tool("tidal-compile", model, "-o", directory / "b.tbin"))
    inputs = write_inputs(directory, x=np.ones((2, 3), np.float32), k=np.ones((2, 3), np.float32))
    result = tool("tidal-sim", directory / "b.tbin", "--inputs", inputs, "--outputs", out / "o.npz")
    message = assert_one_line_error(result, "tidal-sim")
    assert "input 'k' was compiled as a constant" in message and "tidal-run feeds it" in message
    assert_nothing_written(out)


def test_unused_inputs_of_other_dtypes_and_one_returned_as_it_is(work):
    """Inputs of int64 and float16 that no node reads run as in onnxruntime: fed
    with their own dtypes, the int64 one returned as it is; the binary's io table
    (float32 tensors) leaves both out."""
    directory, out = work
    i64 = helper.make_tensor_value_info("u", TensorProto.INT64, [2])
    f16 = helper.make_tensor_value_info("h", TensorProto.FLOAT16, [3])
    model = save(directory / "m.onnx", [helper.make_node("Relu", ["x"], ["y"])],
                 [f32("x", [2, 3]), i64, f16], [f32("y", [2, 3]), i64])
    feeds = {"x": np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3),
             "u": np.array([7, -8], np.int64), "h": np.ones(3, np.float16)}
    np.savez(directory / "in.npz", **feeds)
    assert_ok(tool("tidal-run", model, "--inputs", directory / "in.npz", "--outputs", out / "y.npz"))
    got, ref = np.load(out / "y.npz"), onnxruntime(model, feeds)
    for name in ("y", "u"):
        assert got[name].dtype == ref[name].dtype
        np.testing.assert_array_equal(got[name], ref[name])
    assert_ok(tool("tidal-compile", model, "-o", out / "m.tbin"))
    from tidal.sim.isa import decode_container

    program = decode_container((out / "m.tbin").read_bytes())
    assert [e["name"] for e in program.inputs] == ["x"]
    assert [e["name"] for e in program.outputs] == ["y"]


def test_sparse_initializers_are_made_dense(work):
    """graph.sparse_initializer, with linear and with coordinate indices, is read as
    the dense tensor onnxruntime sees; an index past the shape is named."""
    directory, out = work

    def model(name, indices, index_dims):
        sparse = helper.make_sparse_tensor(
            helper.make_tensor("s", TensorProto.FLOAT, [2], [1.5, -5.0]),
            helper.make_tensor("si", TensorProto.INT64, index_dims, indices), [2, 3])
        graph = helper.make_graph([helper.make_node("Add", ["x", "s"], ["y"])], "g",
                                  [f32("x", [2, 3])], [f32("y", [2, 3])], sparse_initializer=[sparse])
        path = directory / f"{name}.onnx"
        path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString())
        return path

    feeds = {"x": np.ones((2, 3), np.float32)}
    inputs = write_inputs(directory, **feeds)
    for path in (model("linear", [0, 4], [2]), model("coords", [0, 0, 1, 1], [2, 2])):
        assert_ok(tool("tidal-run", path, "--inputs", inputs, "--outputs", out / "o.npz"))
        np.testing.assert_array_equal(np.load(out / "o.npz")["y"], onnxruntime(path, feeds)["y"])
        (out / "o.npz").unlink()
    bad = model("bad", [0, 6], [2])
    message = assert_one_line_error(tool("tidal-compile", bad, "-o", out / "b.tbin"), "tidal-compile")
    assert "sparse initializer 's'" in message and "indices" in message
    assert_nothing_written(out)


def test_a_batchnorm_of_zero_variance_and_epsilon_folds_without_numpy_warnings(work):
    """A BatchNormalization with epsilon 0 and a zero variance folded into its conv:
    infinite scales, NaN weights, as ONNX's formula gives; nothing on stderr (NumPy's
    'invalid value encountered in multiply' leaked before)."""
    directory, out = work
    rng = np.random.default_rng(6)
    inits = [numpy_helper.from_array(rng.standard_normal((2, 3, 1, 1)).astype(np.float32), "w"),
             numpy_helper.from_array(np.ones(2, np.float32), "sc"),
             numpy_helper.from_array(np.zeros(2, np.float32), "bi"),
             numpy_helper.from_array(np.zeros(2, np.float32), "mu"),
             numpy_helper.from_array(np.array([0.0, 1.0], np.float32), "va")]
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]),
             helper.make_node("BatchNormalization", ["c", "sc", "bi", "mu", "va"], ["y"], epsilon=0.0)]
    model = save(directory / "m.onnx", nodes, [f32("x", [1, 3, 2, 2])], [f32("y", [1, 2, 2, 2])], inits)
    result = tool("tidal-compile", model, "-o", out / "b.tbin")
    assert_ok(result)
    assert "Warning" not in result.stderr, result.stderr


def test_a_stale_value_info_shape_gives_way_to_the_inferred_one(work):
    """A value_info whose shape contradicts what its node computes (an editing tool's
    leftover): onnxruntime runs the model with the inferred shape, and so does
    Tidal; a graph output declared with a wrong shape is still refused."""
    directory, out = work
    nodes = [helper.make_node("Relu", ["x"], ["c"]), helper.make_node("Neg", ["c"], ["y"])]
    graph = helper.make_graph(nodes, "g", [f32("x", [2, 3])], [f32("y", [2, 3])],
                              value_info=[f32("c", [2, 7])])
    model = directory / "m.onnx"
    model.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString())
    feeds = {"x": np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)}
    inputs = write_inputs(directory, **feeds)
    assert_ok(tool("tidal-run", model, "--inputs", inputs, "--outputs", out / "o.npz"))
    np.testing.assert_array_equal(np.load(out / "o.npz")["y"], onnxruntime(model, feeds)["y"])
    (out / "o.npz").unlink()
    wrong = save(directory / "w.onnx", nodes, [f32("x", [2, 3])], [f32("y", [2, 7])])
    message = assert_one_line_error(tool("tidal-compile", wrong, "-o", out / "b.tbin"), "tidal-compile")
    assert "not a valid ONNX model" in message
    assert_nothing_written(out)


def test_the_onnx_domain_named_ai_onnx(work):
    """Nodes and an opset import that name the ONNX domain "ai.onnx" instead of ""
    (both mean it; onnxruntime reads either): imported as the ONNX domain."""
    directory, out = work
    node = helper.make_node("Relu", ["x"], ["y"], domain="ai.onnx")
    graph = helper.make_graph([node], "g", [f32("x", [2, 3])], [f32("y", [2, 3])])
    for opsets in ([helper.make_opsetid("", 13)], [helper.make_opsetid("ai.onnx", 13)]):
        model = directory / "m.onnx"
        model.write_bytes(helper.make_model(graph, opset_imports=opsets).SerializeToString())
        feeds = {"x": np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)}
        inputs = write_inputs(directory, **feeds)
        assert_ok(tool("tidal-run", model, "--inputs", inputs, "--outputs", out / "o.npz"))
        np.testing.assert_array_equal(np.load(out / "o.npz")["y"], np.maximum(feeds["x"], 0))
        (out / "o.npz").unlink()


# ------------------------------------------------------------------ malformed protos


@pytest.mark.parametrize(
    ("field", "where"),
    [
        ("name", "graph.node[0].name"),
        ("op", "graph.node[0].op_type"),
        ("tensor", "graph.input[0].name"),
        ("graph", "graph.name"),
    ],
)
@pytest.mark.parametrize("script", ["tidal-compile", "tidal-import", "tidal-run"])
def test_text_that_is_not_utf8_is_named(work, field, where, script):
    """A name, op type or graph name whose bytes are not UTF-8 (protobuf then hands
    over bytes, not str): one line naming the field, in every tool that reads ONNX."""
    directory, out = work
    node = helper.make_node("QQQQ" if field == "op" else "Relu", ["QQQQ" if field == "tensor" else "x"], ["y"],
                            name="QQQQ" if field == "name" else "n")
    graph = helper.make_graph([node], "QQQQ" if field == "graph" else "g",
                              [f32("QQQQ" if field == "tensor" else "x", [1, 4])], [f32("y", [1, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = directory / "m.onnx"
    path.write_bytes(model.SerializeToString().replace(b"QQQQ", b"\xe3QQQ"))
    args = {"tidal-compile": ["-o", out / "b.tbin"], "tidal-import": ["-o", out / "m.mlir"]}.get(script)
    if args is None:
        np.savez(directory / "in.npz", x=np.zeros((1, 4), np.float32))
        args = ["--inputs", directory / "in.npz", "--outputs", out / "o.npz"]
    message = assert_one_line_error(tool(script, path, *args), script)
    assert message == f"{path}: not a valid ONNX model ({where} is not valid UTF-8 text: b'\\xe3QQQ')"
    assert_nothing_written(out)


def test_a_loop_without_its_body_is_refused(work):
    """onnx's shape inference fails on it in C++ (ValueError "vector::reserve"):
    one line, as for any other invalid model."""
    directory, out = work
    model = save(directory / "m.onnx", [helper.make_node("Loop", ["x"], ["y"])],
                 [f32("x", [1, 3, 8, 8])], [helper.make_empty_tensor_value_info("y")], opset=17)
    message = assert_one_line_error(tool("tidal-compile", model, "-o", out / "b.tbin"), "tidal-compile")
    assert message.startswith(f"{model}: not a valid ONNX model (")
    assert_nothing_written(out)


@pytest.mark.parametrize(("name", "words"), [("y" * 70_000, "name of 70000 characters"), ("y\x00z", "control character")])
def test_an_output_name_no_npz_can_key_is_refused(work, name, words):
    """An output named past 4,096 characters crashed the .npz writer (struct.error);
    one with a NUL was written as key 'y'."""
    d, out = work
    model = save(d / "m.onnx", [helper.make_node("Relu", ["x"], [name])], [f32("x", [1, 8])], [f32(name, [1, 8])])
    assert_one_line_error(tool("tidal-compile", model, "-o", out / "m.tbin"), "tidal-compile", words)
    assert_nothing_written(out)



def test_a_window_past_its_input_or_past_32_bits_is_named(work):
    """A MaxPool kernel of 2^20 over an 8x8 plane: onnx infers a negative output
    size, which was reported as 17 TB of DRAM; an AveragePool stride of 2^40 failed
    deep in the lowering ("access dims must fit 32-bit words") without its node."""
    d, out = work
    big_kernel = save(
        d / "k.onnx", [helper.make_node("MaxPool", ["x"], ["y"], name="mp", kernel_shape=[1 << 20, 1 << 20])],
        [f32("x", [1, 4, 8, 8])], [f32("y", None)],
    )
    assert_one_line_error(tool("tidal-compile", big_kernel, "-o", out / "m.tbin"), "tidal-compile", "negative size")
    big_stride = save(
        d / "s.onnx", [helper.make_node("AveragePool", ["x"], ["y"], name="ap", kernel_shape=[2, 2], strides=[1 << 40, 1 << 40])],
        [f32("x", [1, 4, 8, 8])], [f32("y", None)],
    )
    assert_one_line_error(tool("tidal-compile", big_stride, "-o", out / "m.tbin"), "tidal-compile", "'ap'", "within 32 bits")
    assert_nothing_written(out)


@pytest.mark.parametrize("op", ["Div", "Mod"])
def test_an_integer_division_by_zero_of_constants_is_left_to_onnxruntime(work, op):
    """7 / 0 and 7 mod 0 of int64 constants: onnx's reference folded them into 0 with
    NumPy's 'divide by zero' warning on stderr, and tidal-run gave the 0 where
    onnxruntime refuses the model. The node now stays for onnxruntime, whose
    refusal tidal-run reports on one line."""
    directory, out = work
    inits = [numpy_helper.from_array(np.array([7, 8], np.int64), "a"),
             numpy_helper.from_array(np.array([0, 2], np.int64), "b")]
    nodes = [helper.make_node(op, ["a", "b"], ["m"]),
             helper.make_node("Cast", ["m"], ["c"], to=TensorProto.FLOAT),
             helper.make_node("Add", ["x", "c"], ["y"])]
    model = save(directory / "m.onnx", nodes, [f32("x", [2])], [f32("y", [2])], inits)
    np.savez(directory / "in.npz", x=np.ones(2, np.float32))
    result = tool("tidal-run", model, "--inputs", directory / "in.npz", "--outputs", out / "o.npz")
    assert_one_line_error(result, "tidal-run", f"Integer {'division' if op == 'Div' else 'modulo'} by zero")
    assert "Warning" not in result.stderr, result.stderr
    assert_nothing_written(out)


def test_auto_pad_beside_explicit_pads(work):
    """ONNX says auto_pad and pads "cannot be used simultaneously". onnxruntime refuses
    such a Conv, and Tidal took the auto_pad: tidal-compile now refuses the node by
    name and tidal-run reports onnxruntime's refusal (a ConvTranspose's is refused by
    onnx's shape inference). onnxruntime takes such a MaxPool, auto_pad winning, and
    so does Tidal."""
    directory, out = work
    x = np.random.default_rng(3).standard_normal((1, 2, 6, 6)).astype(np.float32)
    np.savez(directory / "in.npz", x=x)
    w = [numpy_helper.from_array(np.ones((2, 2, 3, 3), np.float32), "w")]
    for op, why in (("Conv", "both 'auto_pad' and 'pads'"),
                    ("ConvTranspose", "pads attribute cannot be used simultaneously with auto_pad")):
        node = helper.make_node(op, ["x", "w"], ["y"], kernel_shape=[3, 3], auto_pad="VALID", pads=[1, 1, 1, 1])
        model = save(directory / f"{op}.onnx", [node], [f32("x", [1, 2, 6, 6])], [f32("y", None)], w)
        result = tool("tidal-compile", model, "-o", out / "b.tbin")
        assert_one_line_error(result, "tidal-compile", f"{op}_0", "cannot")
        result = tool("tidal-run", model, "--inputs", directory / "in.npz", "--outputs", out / "o.npz")
        assert_one_line_error(result, "tidal-run", why)
        assert_nothing_written(out)
    node = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], auto_pad="SAME_UPPER", pads=[0, 0, 2, 2])
    model = save(directory / "pool.onnx", [node], [f32("x", [1, 2, 6, 6])], [f32("y", [1, 2, 6, 6])])
    assert_ok(tool("tidal-run", model, "--inputs", directory / "in.npz", "--outputs", out / "o.npz"))
    got = np.load(out / "o.npz")["y"]
    np.testing.assert_array_equal(got, onnxruntime(model, {"x": x})["y"])

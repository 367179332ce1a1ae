"""Every class of bad input to the console scripts ends the same way: exactly one
line `<tool>: error: <message>` on stderr, exit status 1, no traceback, and no output
file (or temporary file) left behind.

The scripts run as the installed console scripts (`.venv/bin/tidal-*`) in
subprocesses, so their entry points are what is tested.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import onnx
import pytest
from harness import assert_one_line_error, tool
from onnx import TensorProto, helper, numpy_helper

# ------------------------------------------------------------------------- helpers


def assert_nothing_written(directory: Path) -> None:
    """The output directory holds no file at all: no output, no temporary file."""
    left = sorted(p.name for p in directory.iterdir())
    assert left == [], f"left behind in {directory}: {left}"


def save_model(
    path: Path,
    nodes: list[onnx.NodeProto],
    inputs: list[onnx.ValueInfoProto],
    outputs: list[onnx.ValueInfoProto],
    initializers: list[onnx.TensorProto] | None = None,
) -> Path:
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializers or [])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def f32(name: str, shape: list[int]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Good and bad inputs, made once: a tiny model (x [4, 40] -> Gemm -> Relu -> y),
    its binary for the 'small' chip, input archives, and broken files."""
    d = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((40, 8)).astype(np.float32), "w")
    model = save_model(
        d / "model.onnx",
        [
            helper.make_node("Gemm", ["x", "w"], ["h"]),
            helper.make_node("Relu", ["h"], ["y"]),
        ],
        [f32("x", [4, 40])],
        [f32("y", [4, 8])],
        [w],
    )
    data = model.read_bytes()
    f: dict[str, Path] = {"model": model}

    f["not_onnx"] = d / "notes.onnx"
    f["not_onnx"].write_text("this is not a protobuf, just some text\n" * 20)
    f["truncated_onnx"] = d / "truncated.onnx"
    f["truncated_onnx"].write_bytes(data[: len(data) // 2])
    f["empty_onnx"] = d / "empty.onnx"
    f["empty_onnx"].write_bytes(b"")

    f["hardmax"] = save_model(
        d / "hardmax.onnx",
        [helper.make_node("Hardmax", ["x"], ["y"])],
        [f32("x", [2, 3])],
        [f32("y", [2, 3])],
    )
    f["lstm"] = save_model(
        d / "lstm.onnx",
        [helper.make_node("LSTM", ["x", "W", "R"], ["Y"], hidden_size=3)],
        [f32("x", [5, 2, 4])],
        [f32("Y", [5, 1, 2, 3])],
        [
            numpy_helper.from_array(np.zeros((1, 12, 4), np.float32), "W"),
            numpy_helper.from_array(np.zeros((1, 12, 3), np.float32), "R"),
        ],
    )

    good = np.random.default_rng(1).standard_normal((4, 40)).astype(np.float32)
    for name, arrays in {
        "good_npz": {"x": good},
        "missing_npz": {"not_x": good},
        "extra_npz": {"x": good, "bogus": good},
        "shape_npz": {"x": good[:, :39]},
        "f64_npz": {"x": good.astype(np.float64)},
    }.items():
        f[name] = d / f"{name}.npz"
        np.savez(f[name], **arrays)
    f["empty_npz"] = d / "empty.npz"
    f["empty_npz"].write_bytes(b"")
    f["truncated_npz"] = d / "truncated.npz"
    f["truncated_npz"].write_bytes(f["good_npz"].read_bytes()[:200])
    f["npy"] = d / "single.npy"
    np.save(f["npy"], good)
    f["text_npz"] = d / "text.npz"
    f["text_npz"].write_text("x = 1, 2, 3\n")

    f["tbin"] = d / "model.tbin"
    compiled = tool("tidal-compile", model, "-o", f["tbin"], "--chip", "small")
    assert compiled.returncode == 0, compiled.stderr
    binary = f["tbin"].read_bytes()
    f["truncated_tbin"] = d / "truncated.tbin"
    f["truncated_tbin"].write_bytes(binary[: len(binary) // 2])
    f["header_only_tbin"] = d / "header.tbin"
    f["header_only_tbin"].write_bytes(binary[:20])
    f["garbage_tbin"] = d / "garbage.tbin"
    f["garbage_tbin"].write_bytes(np.random.default_rng(2).bytes(4096))
    f["empty_tbin"] = d / "empty.tbin"
    f["empty_tbin"].write_bytes(b"")
    corrupt = bytearray(binary)
    middle = len(corrupt) // 2
    corrupt[middle : middle + 64] = b"\xff" * 64
    f["corrupt_tbin"] = d / "corrupt.tbin"
    f["corrupt_tbin"].write_bytes(bytes(corrupt))
    f["onnx_as_tbin"] = d / "model_onnx.tbin"
    f["onnx_as_tbin"].write_bytes(data)

    mlir = (
        "builtin.module {{\n"
        "  func.func @main(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {{\n"
        "    {op}\n"
        "    func.return %y : tensor<2x3xf32>\n"
        "  }}\n"
        "}}\n"
    )
    f["syntax_mlir"] = d / "syntax.mlir"
    f["syntax_mlir"].write_text(
        mlir.format(op="%y = graph.relu %x : (tensor<2x3xf32>) -> tensor<2x3xf32")
    )
    f["unknown_op_mlir"] = d / "unknown_op.mlir"
    f["unknown_op_mlir"].write_text(
        mlir.format(
            op="%y = graph.frobnicate %x : (tensor<2x3xf32>) -> tensor<2x3xf32>"
        )
    )
    f["undefined_value_mlir"] = d / "undefined.mlir"
    f["undefined_value_mlir"].write_text(
        mlir.format(op="%y = graph.relu %nope : (tensor<2x3xf32>) -> tensor<2x3xf32>")
    )
    f["verify_mlir"] = d / "verify.mlir"  # parses, but graph.relu does not verify
    f["verify_mlir"].write_text(
        mlir.format(op="%y = graph.relu %x : (tensor<2x3xf32>) -> tensor<3x3xf32>")
        .replace("-> tensor<2x3xf32> {", "-> tensor<3x3xf32> {")
        .replace("%y : tensor<2x3xf32>", "%y : tensor<3x3xf32>")
    )
    f["binary_mlir"] = d / "binary.mlir"
    f["binary_mlir"].write_bytes(b"\xff\xfe\x00\x81 not utf-8 \xc3\x28\n")
    relu = "%y = graph.relu %x : (tensor<2x3xf32>) -> tensor<2x3xf32>"
    f["use_before_def_mlir"] = d / "use_before_def.mlir"
    f["use_before_def_mlir"].write_text(
        mlir.format(
            op="%y = graph.relu %z : (tensor<2x3xf32>) -> tensor<2x3xf32>\n"
            "    %z = graph.relu %x : (tensor<2x3xf32>) -> tensor<2x3xf32>"
        )
    )
    f["self_use_mlir"] = d / "self_use.mlir"
    f["self_use_mlir"].write_text(mlir.format(op=relu.replace("relu %x", "relu %y")))
    f["declaration_mlir"] = d / "declaration.mlir"
    f["declaration_mlir"].write_text(
        "func.func private @main(%x: tensor<2x3xf32>) -> tensor<2x3xf32>\n"
    )
    huge = "tensor<4294967296x4294967296xf32>"
    f["huge_mlir"] = d / "huge.mlir"
    f["huge_mlir"].write_text(mlir.format(op=relu).replace("tensor<2x3xf32>", huge))
    f["deep_mlir"] = d / "deep.mlir"
    f["deep_mlir"].write_text(
        "func.func @f(%x: " + "tensor<" * 3000 + "f32" + ">" * 3000 + ") -> () {\n  func.return\n}\n"
    )
    f["pad_huge"] = save_model(
        d / "pad_huge.onnx",
        [helper.make_node("Pad", ["x", "p"], ["y"])],
        [f32("x", [1, 4, 8, 8])],
        [f32("y", [1, 4, (1 << 30) + 8, 8])],
        [numpy_helper.from_array(np.array([0, 0, 1 << 30, 0, 0, 0, 0, 0], np.int64), "p")],
    )
    # An .npz member whose header declares 10^15 elements but holds 16 bytes, and
    # one whose header does not parse.
    import zipfile

    def forged(path: Path, header: bytes) -> Path:
        header = header + b" " * (118 - len(header)) + b"\n"
        npy = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + b"\0" * 16
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("x.npy", npy)
        return path

    f["forged_npz"] = forged(
        d / "forged.npz", b"{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000, 100000), }"
    )
    f["garbled_npz"] = forged(d / "garbled.npz", b"{'descr': '<f4', 'fortran_order': False, 'shape': (4, 40) ")
    return f


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """An empty directory for the outputs of one failing run."""
    d = tmp_path / "out"
    d.mkdir()
    return d


LOCATED = re.compile(r"(?P<file>[^\s:]+\.mlir):(?P<line>\d+):(?P<col>\d+)")


# ------------------------------------------------------------------ tidal-compile


@pytest.mark.parametrize("key", ["not_onnx", "truncated_onnx", "empty_onnx"])
def test_compile_not_an_onnx_model(files, out, key):
    result = tool("tidal-compile", files[key], "-o", out / "m.tbin")
    message = assert_one_line_error(result, "tidal-compile", str(files[key]))
    assert "not a valid ONNX model" in message
    assert_nothing_written(out)


@pytest.mark.parametrize("key,op", [("hardmax", "Hardmax"), ("lstm", "LSTM")])
def test_compile_unsupported_operator(files, out, key, op):
    """tidal-compile builds accelerator binaries: an op of the framework tier is
    refused, saying that tidal-run runs it."""
    result = tool("tidal-compile", files[key], "-o", out / "m.tbin")
    assert_one_line_error(
        result, "tidal-compile", f"no kernel or NumPy reference for ONNX op {op}",
        "framework tier", "tidal-run runs it with onnxruntime",
    )
    assert_nothing_written(out)


def test_compile_unknown_chip(files, out):
    result = tool(
        "tidal-compile", files["model"], "-o", out / "m.tbin", "--chip", "huge"
    )
    assert_one_line_error(result, "tidal-compile", "--chip: unknown chip preset 'huge'", "default", "small")
    assert_nothing_written(out)


def test_compile_missing_file(files, out):
    missing = files["model"].parent / "no_such_model.onnx"
    result = tool("tidal-compile", missing, "-o", out / "m.tbin")
    assert_one_line_error(result, "tidal-compile", "no_such_model.onnx")
    assert_nothing_written(out)


def test_compile_missing_mlir_file(files, out):
    missing = files["model"].parent / "no_such_module.mlir"
    result = tool("tidal-compile", missing, "-o", out / "m.tbin")
    assert_one_line_error(result, "tidal-compile", "no_such_module.mlir")
    assert_nothing_written(out)


@pytest.mark.parametrize(
    "key,line,words",
    [
        ("syntax_mlir", None, ">"),
        ("unknown_op_mlir", 3, "graph.frobnicate"),
        # xDSL reports an undefined value where the module ends, not where used
        ("undefined_value_mlir", None, "nope"),
        ("verify_mlir", 3, "shape"),
    ],
)
def test_compile_malformed_mlir_is_located(files, out, key, line, words):
    """Parse and verify errors carry file:line:col of the offending text."""
    result = tool("tidal-compile", files[key], "-o", out / "m.tbin")
    message = assert_one_line_error(result, "tidal-compile", words)
    located = LOCATED.search(message)
    assert located, f"no file:line:col in {message!r}"
    assert Path(located["file"]).name == files[key].name
    assert int(located["line"]) >= 1 and int(located["col"]) >= 1
    if line is not None:
        assert int(located["line"]) == line, message
    assert_nothing_written(out)


@pytest.mark.parametrize(
    "key,line,words",
    [
        ("use_before_def_mlir", 3, ("%z", "before it is defined")),
        ("self_use_mlir", 3, ("%y", "before it is defined")),
        ("declaration_mlir", 1, ("@main", "declaration")),
        ("huge_mlir", 2, ("73786976294838206464 bytes", "DRAM")),
        ("deep_mlir", 1, ("nested too deeply",)),
    ],
)
def test_compile_mlir_the_passes_cannot_take(files, out, key, line, words):
    """IR that parses and verifies but that no pass could take (a value used
    before its definition, which xDSL's verifier lets through; a declaration; a
    tensor no chip holds) or that is nested too deeply to parse is refused at its
    line, in one line."""
    result = tool("tidal-compile", files[key], "-o", out / "m.tbin")
    message = assert_one_line_error(result, "tidal-compile", *words)
    located = LOCATED.search(message)
    assert located and int(located["line"]) == line, message
    assert_nothing_written(out)


def test_opt_refuses_use_before_definition_and_directories(files, tmp_path):
    result = tool("tidal-opt", files["use_before_def_mlir"])
    assert_one_line_error(result, "tidal-opt", "%z", "before it is defined")
    folder = tmp_path / "model.mlir"
    folder.mkdir()
    assert_one_line_error(tool("tidal-opt", folder), "tidal-opt", "is a directory")


def test_compile_pad_larger_than_dram(files, out):
    """The constant fill of a Pad is sized before it is made (128 GiB here)."""
    result = tool("tidal-compile", files["pad_huge"], "-o", out / "m.tbin")
    assert_one_line_error(result, "tidal-compile", "Pad", "bytes of DRAM")
    assert_nothing_written(out)


def test_compile_mlir_that_is_not_text(files, out):
    """A .mlir file that is not UTF-8 text."""
    result = tool("tidal-compile", files["binary_mlir"], "-o", out / "m.tbin")
    assert_one_line_error(result, "tidal-compile", str(files["binary_mlir"]))
    assert_nothing_written(out)


def test_compile_output_directory_missing(files, out):
    result = tool("tidal-compile", files["model"], "-o", out / "no_dir" / "m.tbin")
    assert_one_line_error(result, "tidal-compile", "no_dir")
    assert_nothing_written(out)


def test_compile_failure_keeps_previous_output(files, out):
    """A failed compile neither removes nor truncates an existing output."""
    target = out / "m.tbin"
    target.write_bytes(b"previous")
    result = tool("tidal-compile", files["hardmax"], "-o", target)
    assert_one_line_error(result, "tidal-compile", "Hardmax")
    assert target.read_bytes() == b"previous"
    assert sorted(p.name for p in out.iterdir()) == ["m.tbin"]


# ---------------------------------------------------------------------- tidal-run


def io_tool(
    name: str,
    target: Path,
    inputs: Path,
    outputs: Path,
    stats: Path | None,
    *extra: str | Path,
):
    """`<name> <target> --inputs <inputs> --outputs <outputs> [--stats <stats>]
    <extra>`: tidal-run and tidal-sim take their files the same way."""
    stats_args = () if stats is None else ("--stats", stats)
    return tool(
        name, target, "--inputs", inputs, "--outputs", outputs, *stats_args, *extra
    )


def run(files, out, inputs: Path, *extra: str | Path):
    return io_tool(
        "tidal-run",
        files["model"],
        inputs,
        out / "o.npz",
        out / "s.json",
        "--chip",
        "small",
        *extra,
    )


def test_run_good_inputs_succeeds(files, out):
    """The baseline the error cases below differ from."""
    result = run(files, out, files["good_npz"])
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["o.npz", "s.json"]


@pytest.mark.parametrize(
    "key,fragments",
    [
        ("missing_npz", ("'x'",)),
        ("extra_npz", ("'bogus'",)),
        ("shape_npz", ("'x'", "(4, 40)", "(4, 39)")),
        ("f64_npz", ("'x'", "float32", "float64")),
    ],
)
def test_run_bad_inputs(files, out, key, fragments):
    result = run(files, out, files[key])
    assert_one_line_error(result, "tidal-run", *fragments)
    assert_nothing_written(out)


@pytest.mark.parametrize("key", ["empty_npz", "truncated_npz", "npy", "model"])
def test_run_inputs_not_an_npz_archive(files, out, key):
    """An empty file, a cut-off .npz, a single-array .npy, an ONNX file given as
    --inputs."""
    result = run(files, out, files[key])
    assert_one_line_error(result, "tidal-run", files[key].name)
    assert_nothing_written(out)


def test_run_inputs_missing_file(files, out):
    result = run(files, out, out.parent / "no_such_inputs.npz")
    assert_one_line_error(result, "tidal-run", "no_such_inputs.npz")
    assert_nothing_written(out)


@pytest.mark.parametrize("key", ["not_onnx", "truncated_onnx", "empty_onnx"])
def test_run_bad_model(files, out, key):
    result = io_tool(
        "tidal-run", files[key], files["good_npz"], out / "o.npz", out / "s.json"
    )
    assert_one_line_error(result, "tidal-run")
    assert_nothing_written(out)


def test_run_unknown_chip(files, out):
    result = run(files, out, files["good_npz"], "--chip", "huge")
    assert_one_line_error(result, "tidal-run", "--chip: unknown chip preset 'huge'")
    assert_nothing_written(out)


def test_run_unwritable_stats_writes_no_outputs(files, out):
    """If the stats file cannot be written, the outputs file is not written either
    (all or nothing, as tidal-sim does)."""
    result = io_tool(
        "tidal-run",
        files["model"],
        files["good_npz"],
        out / "o.npz",
        out / "no_dir" / "s.json",
        "--chip",
        "small",
    )
    assert_one_line_error(result, "tidal-run", "no_dir")
    assert_nothing_written(out)


def test_run_output_directory_missing(files, out):
    result = io_tool(
        "tidal-run",
        files["model"],
        files["good_npz"],
        out / "no_dir" / "o.npz",
        None,
        "--chip",
        "small",
    )
    assert_one_line_error(result, "tidal-run", "no_dir")
    assert_nothing_written(out)


# ------------------------------------------------------------ tidal-objdump / -sim

BAD_BINARIES = [
    "truncated_tbin",
    "header_only_tbin",
    "garbage_tbin",
    "empty_tbin",
    "corrupt_tbin",
    "onnx_as_tbin",
]


def test_objdump_good_binary_succeeds(files):
    result = tool("tidal-objdump", files["tbin"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


@pytest.mark.parametrize("key", BAD_BINARIES)
def test_objdump_bad_binary(files, key):
    result = tool("tidal-objdump", files[key])
    assert_one_line_error(result, "tidal-objdump", files[key].name)
    assert result.stdout == ""


def test_objdump_missing_file(files):
    result = tool("tidal-objdump", files["tbin"].parent / "no_such.tbin")
    assert_one_line_error(result, "tidal-objdump", "no_such.tbin")


def sim(files, out, binary: Path, inputs: Path, *extra: str | Path):
    return io_tool("tidal-sim", binary, inputs, out / "o.npz", out / "s.json", *extra)


@pytest.mark.parametrize("key", BAD_BINARIES)
def test_sim_bad_binary(files, out, key):
    result = sim(files, out, files[key], files["good_npz"])
    assert_one_line_error(result, "tidal-sim", files[key].name)
    assert_nothing_written(out)


def test_sim_missing_binary(files, out):
    result = sim(files, out, out.parent / "no_such.tbin", files["good_npz"])
    assert_one_line_error(result, "tidal-sim", "no_such.tbin")
    assert_nothing_written(out)


@pytest.mark.parametrize(
    "key,fragments",
    [
        ("missing_npz", ("missing_npz.npz", "'x'")),
        ("shape_npz", ("shape_npz.npz", "'x'")),
        ("f64_npz", ("f64_npz.npz", "float64")),
        ("empty_npz", ("empty.npz",)),
        ("text_npz", ("text.npz", "not an .npz archive")),
        ("truncated_npz", ("truncated.npz",)),
        ("npy", ("single.npy",)),
        ("forged_npz", ("'x'", "(100000, 100000, 100000)", "holds 16 bytes")),
        ("garbled_npz", ("'x'", "malformed header")),
    ],
)
def test_sim_bad_inputs(files, out, key, fragments):
    """Each names the inputs file (and never suggests loading it unsafely)."""
    result = sim(files, out, files["tbin"], files[key])
    assert_one_line_error(result, "tidal-sim", *fragments)
    assert "allow_pickle" not in result.stderr
    assert_nothing_written(out)


def test_sim_bad_inputs_of_a_later_run(files, out):
    """With several runs, the inputs file of the run that does not match is named,
    before any run, and nothing is written."""
    result = tool(
        "tidal-sim", files["tbin"], "--runs", "2",
        "--inputs", f"{files['good_npz']},{files['shape_npz']}",
        "--outputs", f"{out / 'o1.npz'},{out / 'o2.npz'}",
    )
    assert_one_line_error(result, "tidal-sim", "shape_npz.npz", "(4, 40)", "(4, 39)")
    assert_nothing_written(out)


@pytest.mark.parametrize("chip,fragment", [("huge", "'huge'"), ("default", "small")])
def test_sim_chip_mismatch(files, out, chip, fragment):
    result = sim(files, out, files["tbin"], files["good_npz"], "--chip", chip)
    assert_one_line_error(result, "tidal-sim", fragment)
    assert_nothing_written(out)


def test_compile_graph_without_outputs(tmp_path: Path, out: Path):
    """A valid ONNX file whose graph has no outputs computes nothing: one line."""
    model = helper.make_model(helper.make_graph([], "g", [], []), opset_imports=[helper.make_opsetid("", 13)])
    path = tmp_path / "nothing.onnx"
    onnx.save(model, path)
    result = tool("tidal-compile", path, "-o", out / "m.tbin")
    assert_one_line_error(result, "tidal-compile", "nothing.onnx", "no outputs")
    assert_nothing_written(out)


def test_compile_inputs_without_check_numerics(files, out):
    """--inputs only feeds --check-numerics: alone it would be silently ignored."""
    result = tool("tidal-compile", files["model"], "-o", out / "m.tbin", "--inputs", files["good_npz"])
    assert_one_line_error(result, "tidal-compile", "--inputs", "--check-numerics")
    assert_nothing_written(out)


def test_sim_refuses_a_zip_bomb_before_inflating_it(files, out, tmp_path: Path):
    """An input member that decompresses to far more than the program's input (a
    zip bomb: 64 MB of zeros in about 64 KB), under the input's own name or another,
    is refused from the archive's directory, under an address-space limit well
    below what inflating it would take with the simulator loaded."""
    big = np.zeros(16 << 20, np.float32)  # 64 MiB
    for name, fragments in (("x", ("'x'", "more than input 'x' takes (640)")), ("extra", ("unknown input 'extra'",))):
        bomb = tmp_path / f"bomb_{name}.npz"
        arrays = {"x": np.zeros((4, 40), np.float32)} if name != "x" else {}
        np.savez_compressed(bomb, **arrays, **{name: big})
        assert bomb.stat().st_size < 1 << 20
        result = tool(
            "tidal-sim", files["tbin"], "--inputs", bomb, "--outputs", out / "o.npz", limit=1 << 30
        )
        assert_one_line_error(result, "tidal-sim", *fragments)
        assert_nothing_written(out)


def test_run_and_check_numerics_refuse_an_unknown_member_unread(files, out, tmp_path: Path, monkeypatch):
    """tidal-run learns its model's inputs only by importing it with the values fed,
    and --check-numerics once the module is read: each reads an array of the .npz
    only when a name it takes asks for it (`open_npz`), so a member of another name
    (a zip bomb under a wrong name) is refused by its name, never decompressed."""
    from tidal.tools import common, files as files_module, tidal_run

    path = tmp_path / "in.npz"
    np.savez_compressed(path, x=np.zeros((4, 40), np.float32), extra=np.zeros(1 << 20, np.float32))
    read: list[str] = []
    real = np.lib.npyio.NpzFile.__getitem__

    def spy(self, key):
        read.append(key)
        return real(self, key)

    monkeypatch.setattr(np.lib.npyio.NpzFile, "__getitem__", spy)
    with pytest.raises(SystemExit):
        tidal_run.main([str(files["model"]), "--inputs", str(path), "--outputs", str(out / "o.npz"), "--chip", "small"])
    assert "extra" not in read
    read.clear()
    module = common.load_model(str(files["model"]), common.context())
    with pytest.raises(files_module.ToolError, match="unknown input 'extra'"):
        common.numerics_checker(module, str(path))
    assert "extra" not in read
    # Fed with the name it takes, the array is read once however often it is asked for.
    arrays = files_module.open_npz(str(path)).without(["extra"])
    assert list(arrays) == ["x"] and arrays["x"] is arrays["x"] and "extra" not in arrays
    assert read == ["x"]
    result = run(files, out, path)
    assert_one_line_error(result, "tidal-run", "unknown input 'extra'")
    assert_nothing_written(out)


def _broken_deflate_npz(path: Path, name: str, array: np.ndarray, good: int) -> None:
    """An .npz whose member `name` holds a deflate stream that decodes its first
    `good` bytes (the .npy header and some data) and then has an invalid block
    type: zipfile raises zlib.error, not BadZipFile, when it reaches it. The
    directory's CRC and sizes are the real array's."""
    buf = io.BytesIO()
    np.save(buf, array)
    raw = buf.getvalue()
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    stream = c.compress(raw[:good]) + c.flush(zlib.Z_FULL_FLUSH) + b"\xff" * 16
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{name}.npy", raw)
    data = bytearray(out.getvalue())
    name_len, extra_len = struct.unpack_from("<HH", data, 26)
    start, size = 30 + name_len + extra_len, struct.unpack_from("<I", data, 18)[0]
    data[start : start + size] = stream
    struct.pack_into("<I", data, 18, len(stream))  # the local header's compressed size
    directory = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, directory + 20, len(stream))
    struct.pack_into("<I", data, data.index(b"PK\x05\x06") + 16, directory)
    path.write_bytes(bytes(data))


def test_a_corrupt_deflate_stream_is_one_line(files, out, tmp_path: Path):
    """A member whose compressed data breaks (zlib.error "invalid block type", which
    was a traceback): one line naming the file, from every tool that reads inputs;
    in a small member it breaks where its .npy header is read."""
    path = tmp_path / "broken.npz"
    _broken_deflate_npz(path, "x", np.zeros((4, 40), np.float32), 64)
    for result, name in (
        (tool("tidal-sim", files["tbin"], "--inputs", path, "--outputs", out / "o.npz"), "tidal-sim"),
        (run(files, out, path), "tidal-run"),
        (tool("tidal-compile", files["model"], "-o", out / "m.tbin", "--check-numerics", "--inputs", path), "tidal-compile"),
    ):
        assert_one_line_error(result, name, "broken.npz", "invalid block type")
        assert_nothing_written(out)


def test_a_deflate_stream_that_breaks_past_the_header_is_a_tool_error(tmp_path: Path):
    """Past the header (a large member), where the array itself is read: read_npz
    and open_npz's arrays raise ToolError, which every tool reports in one line."""
    from tidal.tools.files import ToolError, open_npz, read_npz

    path = tmp_path / "broken.npz"
    _broken_deflate_npz(path, "x", np.zeros(1 << 18, np.float32), 1 << 18)
    with pytest.raises(ToolError, match="broken.npz.*invalid block type"):
        read_npz(str(path))
    arrays = open_npz(str(path))  # (the header reads)
    with pytest.raises(ToolError, match="broken.npz': array 'x': .*invalid block type"):
        arrays["x"]


def test_inputs_larger_than_any_dram_are_refused_unread(tmp_path: Path, monkeypatch):
    """read_npz refuses an archive whose members decompress to more than any chip's
    DRAM (here the bound made small), and with `expect` leaves unexpected members
    unread (their name is all that refusing them takes)."""
    from tidal.tools import files as files_module

    path = tmp_path / "in.npz"
    np.savez(path, x=np.zeros(100, np.float32), extra=np.ones(10, np.float32))
    got = files_module.read_npz(str(path), {"x": 400})
    assert got["x"].shape == (100,) and got["extra"].size == 0
    monkeypatch.setattr(files_module, "NPZ_MAX_BYTES", 256)
    with pytest.raises(files_module.ToolError, match="more than any chip's DRAM"):
        files_module.read_npz(str(path))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("builtin.module {}\n", "tidal-run runs one func.func at the top level, found 0"),
        (
            "builtin.module {\n  builtin.module {\n    func.func @main(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {\n"
            "      func.return %x : tensor<4x8xf32>\n    }\n  }\n}\n",
            "tidal-run runs one func.func at the top level, found 0",
        ),
        (
            "func.func @a(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {\n  func.return %x : tensor<4x8xf32>\n}\n"
            "func.func @b(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {\n  func.return %x : tensor<4x8xf32>\n}\n",
            "tidal-run runs one func.func at the top level, found 2",
        ),
        ("func.func @main(%x: f32) -> f32 {\n  func.return %x : f32\n}\n", "@main's argument 0 is f32, not a tensor"),
    ],
)
def test_run_mlir_that_is_not_one_tensor_function(tmp_path: Path, out: Path, text: str, message: str):
    model = tmp_path / "m.mlir"
    model.write_text(text)
    inputs = tmp_path / "in.npz"
    np.savez(inputs, x=np.zeros((4, 8), np.float32))
    result = tool("tidal-run", model, "--inputs", inputs, "--outputs", out / "o.npz")
    assert assert_one_line_error(result, "tidal-run") == f"{model}: {message}"
    assert_nothing_written(out)


def test_input_nested_past_the_recursion_limit_is_one_line(tmp_path: Path, out: Path):
    """An affine map of 20,000 terms parses, but printing it recurses once per term:
    one line, nothing written, not a RecursionError traceback."""
    terms = "+".join(["d0"] * 20000)
    model = tmp_path / "deep.mlir"
    model.write_text(
        f"func.func @main(%x: tensor<4x8xf32>) -> tensor<4x8xf32> attributes {{a = affine_map<(d0) -> ({terms})>}} {{\n"
        "  func.return %x : tensor<4x8xf32>\n}\n"
    )
    result = tool("tidal-opt", model, "-o", out / "m.mlir")
    assert assert_one_line_error(result, "tidal-opt") == "the input nests too deeply to process (past Python's recursion limit)"
    assert_nothing_written(out)


def test_tool_main_turns_memory_exhaustion_into_one_line(capsys):
    from tidal.tools.files import tool_main

    @tool_main("tidal-x")
    def main() -> int:
        raise MemoryError

    with pytest.raises(SystemExit) as stop:
        main()
    assert stop.value.code == 1
    assert capsys.readouterr().err == "tidal-x: error: out of memory on this input\n"


def test_memory_exhaustion_names_what_the_tool_was_doing(capsys):
    """A MemoryError has no location of its own; the tools say what they are doing
    as they go (`files.at`), and the one line names it (a crafted-input sweep's
    3 GB Expand was "out of memory on this input" alone). Each run starts afresh."""
    from tidal.tools.files import at, tool_main

    @tool_main("tidal-x")
    def main(stage: str | None) -> int:
        if stage:
            at(stage)
        raise MemoryError

    for stage, said in (("importing m.onnx", " while importing m.onnx"), (None, "")):
        with pytest.raises(SystemExit):
            main(stage)
        assert capsys.readouterr().err == f"tidal-x: error: out of memory on this input{said}\n"


def test_mlir_text_past_the_parse_bound_is_refused(monkeypatch):
    """xDSL's parser holds about 60 times a dense constant's hex text: text past
    MLIR_MAX_BYTES is refused before parsing (the bound made small here)."""
    from tidal.tools import common

    monkeypatch.setattr(common, "MLIR_MAX_BYTES", 10)
    with pytest.raises(common.ToolError, match="m.mlir: 17 characters of MLIR, more than the 10 the tools parse"):
        common.parse_and_verify(common.context(), "builtin.module {}", "m.mlir")


def test_small_option_mistakes_are_one_line(files, tmp_path: Path, out: Path):
    """An empty output path, and tidal-opt's --numerics-inputs without the check it
    feeds (tidal-compile refuses --inputs without it alike)."""
    result = tool("tidal-compile", files["model"], "-o", "")
    assert assert_one_line_error(result, "tidal-compile") == "an output path is empty"
    inputs = tmp_path / "in.npz"
    np.savez(inputs, x=np.zeros((4, 40), np.float32))
    result = tool("tidal-opt", files["model"], "--numerics-inputs", inputs, "-o", out / "m.mlir")
    assert assert_one_line_error(result, "tidal-opt") == "--numerics-inputs feeds --check-numerics, which is not given"
    assert_nothing_written(out)


def test_objdump_error_is_one_line_whatever_the_binary_names(files, tmp_path: Path):
    """A binary whose chip name holds a newline: the error stays on one line (the
    decoder now refuses the field itself, showing it escaped)."""
    from tidal.sim import isa

    program = isa.decode_container(files["tbin"].read_bytes())
    program.chip = "small\nFAKE LINE"
    path = tmp_path / "nl.tbin"
    path.write_bytes(isa.encode_container(program))
    message = assert_one_line_error(tool("tidal-objdump", path), "tidal-objdump")
    assert "small\\nFAKE LINE" in message and "not a printable ASCII name" in message


def _unused_input_model(tmp_path: Path) -> Path:
    """y = relu(x), beside an int64 model input no node reads (token_type_ids)."""
    graph_ = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3]),
         helper.make_tensor_value_info("token_type_ids", TensorProto.INT64, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
    )
    path = tmp_path / "unused.onnx"
    onnx.save(helper.make_model(graph_, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


def test_tidal_sim_takes_the_inputs_the_binary_does_not_read(tmp_path: Path, out: Path):
    """The .npz that tidal-run and onnxruntime are fed names a model input no node
    reads (an int64 token_type_ids), which the binary does not take: tidal-sim
    refused it as an unknown input. The binary now names it (META "unread_inputs"):
    fed, it is checked against the model's dtype and shape and ignored; left out,
    nothing is missing; fed wrong, one line names it."""
    path = _unused_input_model(tmp_path)
    x = np.array([[-1, 2, -3], [4, -5, 6]], np.float32)
    feeds = {
        "all": {"x": x, "token_type_ids": np.zeros((2, 3), np.int64)},
        "only": {"x": x},
        "shape": {"x": x, "token_type_ids": np.zeros((3, 2), np.int64)},
        "dtype": {"x": x, "token_type_ids": np.zeros((2, 3), np.float32)},
    }
    for key, arrays in feeds.items():
        np.savez(tmp_path / f"{key}.npz", **arrays)  # type: ignore[arg-type]
    binary = out / "m.tbin"
    assert tool("tidal-compile", path, "-o", binary).returncode == 0
    for key in ("all", "only"):
        result = tool("tidal-sim", binary, "--inputs", tmp_path / f"{key}.npz", "--outputs", out / f"{key}.out.npz")
        assert result.returncode == 0, result.stderr
        np.testing.assert_array_equal(np.load(out / f"{key}.out.npz")["y"], np.maximum(x, 0))
    for key, words in (("shape", "expected shape (2, 3), got (3, 2)"), ("dtype", "expected dtype int64, got float32")):
        result = tool("tidal-sim", binary, "--inputs", tmp_path / f"{key}.npz", "--outputs", out / f"{key}.out.npz")
        assert_one_line_error(result, "tidal-sim", "token_type_ids", "does not read", words)
        assert not (out / f"{key}.out.npz").exists()


def test_check_numerics_with_an_input_no_node_reads(tmp_path: Path, out: Path):
    """A model input that no node reads (Hugging Face exports keep token_type_ids):
    the compiler drops it from the binary, and --check-numerics ran the binary with
    every array of --inputs, so the machine refused the extra one with a traceback
    (InputError: unknown input 'token_type_ids'). The binary level is now fed the
    inputs it takes; every level agrees and the binary is written."""
    path = _unused_input_model(tmp_path)
    npz = tmp_path / "in.npz"
    np.savez(npz, x=np.ones((2, 3), np.float32), token_type_ids=np.zeros((2, 3), np.int64))
    result = tool("tidal-compile", path, "-o", out / "m.tbin", "--check-numerics", "--inputs", npz)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "binary level): agrees" in result.stderr
    assert (out / "m.tbin").exists()


# ---- the crafted inputs of issue 12's last bad-input sweep (session 48)


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("tidal-compile", ("{dev}", "-o", "{out}/m.tbin")),
        ("tidal-import", ("{dev}", "-o", "{out}/m.mlir")),
        ("tidal-opt", ("{dev}",)),
        ("tidal-objdump", ("{dev}",)),
        ("tidal-sim", ("{dev}", "--inputs", "{npz}", "--outputs", "{out}/o.npz")),
        ("tidal-run", ("{model}", "--inputs", "{dev}", "--outputs", "{out}/o.npz")),
    ],
)
def test_a_device_is_refused_before_it_is_read(files, out, tmp_path: Path, name, args):
    """/dev/zero (or a link to it named like a model) was read until memory ran out:
    5 GB before an address-space cap stopped it. Every tool now refuses a device
    before reading it."""
    link = tmp_path / "zero.onnx"
    link.symlink_to("/dev/zero")
    npz = tmp_path / "in.npz"
    np.savez(npz, x=np.zeros((4, 40), np.float32))
    filled = [a.format(dev=link if name in ("tidal-compile", "tidal-import") else "/dev/zero", out=out,
                       npz=npz, model=files["model"]) for a in args]
    result = tool(name, *filled, limit=2 << 30, timeout=60)
    assert_one_line_error(result, name, "it is a character device")


def test_an_onnx_file_past_protobufs_limit_is_refused_by_its_size(tmp_path: Path, out: Path):
    """A 3 GiB (sparse) .onnx cannot be a valid protobuf: refused from its size, not
    read (it was: 5 GB of memory, 25 s); a .tbin of zeros from its first bytes."""
    big = tmp_path / "big.onnx"
    with open(big, "wb") as f:
        f.truncate(3 << 30)
    assert_one_line_error(tool("tidal-compile", big, "-o", out / "m.tbin", limit=2 << 30), "tidal-compile",
                          "more than the 2,147,483,648 a .onnx file may hold")
    zeros = tmp_path / "zeros.tbin"
    with open(zeros, "wb") as f:
        f.truncate(3 << 30)
    for name, args in (("tidal-objdump", ()), ("tidal-sim", ("--inputs", big, "--outputs", out / "o.npz"))):
        if name == "tidal-sim":
            np.savez(tmp_path / "in.npz", x=np.zeros(1, np.float32))
            args = ("--inputs", tmp_path / "in.npz", "--outputs", out / "o.npz")
        assert_one_line_error(tool(name, zeros, *args, limit=2 << 30), name, "bad magic")


def _one_node_model(path: Path, node, inputs, outputs, inits=(), opset: int = 17) -> Path:
    graph_ = helper.make_graph([node], "g", inputs, outputs, list(inits))
    model = helper.make_model(graph_, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def test_crafted_attributes_and_initializers_are_one_line(tmp_path: Path, out: Path):
    """An initializer of an unknown data type (999, which onnx's checker passes), a
    Resize whose constant scale is infinite, a Bernoulli whose seed is NaN: each was a
    traceback in the importer (KeyError, OverflowError, ValueError)."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 3, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    weird = numpy_helper.from_array(np.arange(4, dtype=np.float32), "w")  # raw data
    weird.data_type = 999
    cases = {
        "initializer 'w': malformed data": _one_node_model(
            tmp_path / "dtype.onnx", helper.make_node("Add", ["x", "w"], ["y"]), [x], [y], [weird]),
        "each positive and finite": _one_node_model(
            tmp_path / "resize.onnx", helper.make_node("Resize", ["x", "", "s"], ["y"], name="resize"), [x], [y],
            [numpy_helper.from_array(np.array([1, 1, np.inf, 2], np.float32), "s")]),
        "seed nan is not a finite number": _one_node_model(
            tmp_path / "seed.onnx", helper.make_node("Bernoulli", ["x"], ["y"], seed=float("nan")), [x], [y]),
    }
    for words, path in cases.items():
        assert_one_line_error(tool("tidal-compile", path, "-o", out / "m.tbin"), "tidal-compile", words)
        assert not (out / "m.tbin").exists()


def test_an_invalid_node_is_named_when_its_output_declares_no_shape(tmp_path: Path, out: Path):
    """A Gemm whose K differs (9 against 8), its output declared without a shape: the
    message blamed the output ("Field 'shape' of 'type' is required"); strict shape
    inference now names the node."""
    path = _one_node_model(
        tmp_path / "gemm.onnx", helper.make_node("Gemm", ["x", "w"], ["y"], name="gm"),
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 9])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.ones((8, 3), np.float32), "w")],
    )
    assert_one_line_error(tool("tidal-compile", path, "-o", out / "m.tbin"), "tidal-compile",
                          "node name: gm", "Dimension mismatch")


def test_an_integer_attribute_out_of_range_is_located(tmp_path: Path, out: Path):
    """`300 : i8` in an .mlir file: IntegerAttr's verifier refuses it as the parser
    builds it, which gave the message without a file:line:col."""
    path = tmp_path / "m.mlir"
    path.write_text(
        'builtin.module {\n  func.func @main(%x: tensor<4xf32> {tidal.name = "x"}) -> (tensor<4xf32> {tidal.name = "y"}) {\n'
        '    %y = graph.relu %x {tidal.origin = "r", n = 300 : i8} : (tensor<4xf32>) -> tensor<4xf32>\n'
        "    func.return %y : tensor<4xf32>\n  }\n}\n"
    )
    for name, args in (("tidal-opt", ()), ("tidal-compile", ("-o", out / "m.tbin"))):
        assert_one_line_error(tool(name, path, *args), name, f"{path}:3:", "out of range for type i8")


def test_an_array_twice_in_an_npz_is_refused(tmp_path: Path):
    """A zip may hold two members of one name: np.load kept the last, silently (a
    crafted-input sweep's find). Both readers refuse the archive, naming the array."""
    import warnings
    import zipfile

    from tidal.tools.files import ToolError, open_npz, read_npz

    path = tmp_path / "twice.npz"
    with warnings.catch_warnings(), zipfile.ZipFile(path, "w") as archive:
        warnings.simplefilter("ignore")  # (zipfile's "Duplicate name", where it warns)
        for value in (1.0, 2.0):
            buf = io.BytesIO()
            np.save(buf, np.full(3, value, np.float32))
            archive.writestr("x.npy", buf.getvalue())
    for read in (read_npz, open_npz):
        with pytest.raises(ToolError, match="twice.npz': array 'x' is in the archive twice"):
            read(str(path))


# ---------------------------------------------------- Tidal's attributes in graph IR

_RELU_IR = """func.func @main(%x: tensor<4xf32> {{tidal.name = {x}}}) -> (tensor<4xf32> {{tidal.name = {y}}}) {{
  %y = graph.relu %x {{tidal.origin = {origin}}} : (tensor<4xf32>) -> tensor<4xf32>
  func.return {ret} : tensor<4xf32>
}}
"""


@pytest.mark.parametrize(
    ("x", "y", "origin", "ret", "message"),
    [
        ('"x"', '"y"', "5", "%y", "2:3: 'tidal.origin' must be a string, got 5 : i64"),
        ('"x"', "7", '"r"', "%y", "1:1: output 0's 'tidal.name' must be a string, got 7 : i64"),
        ('"x"', '"y\\00z"', '"r"', "%y", "1:1: output 0's 'tidal.name' cannot name it: a control character"),
        ('""', '"y"', '"r"', "%y", "1:1: input 0's 'tidal.name' cannot name it: an empty name"),
        ('"x"', '"x"', '"r"', "%y", "1:1: output 0 is named 'x' as input 0 is, but is another value"),
    ],
)
def test_tidal_attributes_of_graph_ir_are_checked_where_they_stand(tmp_path, out, x, y, origin, ret, message):
    """An integer `tidal.origin` was a traceback in every lowering that labels an op
    ('IntegerAttr' object has no attribute 'data'); an output named with a NUL was
    compiled into a binary that tidal-sim refused, and tidal-run wrote it as the key
    'y'; an empty name, or an output named as an input that it is not, compiled.
    Each is refused at its file:line:col, for tidal-opt as for the compilers."""
    source = tmp_path / "m.mlir"
    source.write_text(_RELU_IR.format(x=x, y=y, origin=origin, ret=ret))
    for name, *rest in (("tidal-compile", "-o", out / "m.tbin"), ("tidal-opt", "-p", "tidal-lower")):
        result = tool(name, source, *rest)
        assert_one_line_error(result, name, f"{source}:{message}")
    assert_nothing_written(out)
    # an output that returns the input it is named after is that input
    source.write_text(_RELU_IR.format(x='"x"', y='"x"', origin='"r"', ret="%x"))
    assert tool("tidal-compile", source, "-o", out / "m.tbin").returncode == 0


@pytest.mark.parametrize(
    ("chip_field", "fragments"),
    [
        (b"small\0\xff", ("offset 12: the chip name field", "not a printable ASCII name padded with NUL")),
        (b"bogus", ("the binary names unknown chip preset 'bogus'",)),
    ],
)
def test_sim_names_the_binary_for_its_chip(files, out, tmp_path, chip_field, fragments):
    """A flipped byte in the header's chip name was echoed raw (a NUL, U+FFFD) as
    "unknown chip preset", without the file: the field is now checked where it is
    decoded, and an unknown chip names the binary."""
    binary = bytearray(files["tbin"].read_bytes())
    binary[12:44] = chip_field.ljust(32, b"\0")
    path = tmp_path / "chip.tbin"
    path.write_bytes(bytes(binary))
    result = sim(files, out, path, files["good_npz"])
    assert_one_line_error(result, "tidal-sim", str(path), *fragments)
    assert_nothing_written(out)


def test_a_model_or_inputs_in_a_pipe_are_refused_not_misread(files, out, tmp_path):
    """A model and an .npz are read more than once (external data and member sizes
    first): through a pipe (`<(cat m.onnx)`) the second read found nothing and the
    message blamed the model ("not a valid ONNX model"), and a FIFO with no writer
    blocked for ever. Both are refused before they are opened."""
    import os

    fifo = tmp_path / "m.onnx"
    os.mkfifo(fifo)
    result = tool("tidal-compile", fifo, "-o", out / "m.tbin")
    assert_one_line_error(result, "tidal-compile", str(fifo), "a pipe or FIFO", "give a regular file")
    npz = tmp_path / "in.npz"
    os.mkfifo(npz)
    result = sim(files, out, files["tbin"], npz)
    assert_one_line_error(result, "tidal-sim", str(npz), "a pipe or FIFO")
    assert_nothing_written(out)

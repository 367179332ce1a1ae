"""No tool ever destroys data: an output that is an input (or another output) is
refused before any work; special files are written in place, symlinks through; the
replaced file's mode is kept; a signal removes the temporary file and exits 130/143
with one line; temporary files left by a hard kill are cleaned up by the next write.

The console scripts run in subprocesses; the signal and stale-file cases drive
`tools/files.py` directly, in a subprocess, where their timing is deterministic.
"""

from __future__ import annotations

import os
import stat
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from harness import BIN, assert_one_line_error, tool
from onnx import TensorProto, helper, numpy_helper


def no_temps(directory: Path) -> bool:
    return not [p for p in directory.iterdir() if p.name.endswith(".tmp")]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """A small model, its binary and inputs, each a distinct file."""
    d = tmp_path_factory.mktemp("safety")
    rng = np.random.default_rng(0)
    w = rng.standard_normal((8, 4)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"),
         helper.make_node("Relu", ["h"], ["y"], name="relu")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
        [numpy_helper.from_array(w, "w")],
    )
    model = d / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), model)
    inputs = d / "i.npz"
    np.savez(inputs, x=rng.standard_normal((2, 8)).astype(np.float32))
    binary = d / "m.tbin"
    r = tool("tidal-compile", model, "-o", binary)
    assert r.returncode == 0, r.stderr
    return {"model": model, "inputs": inputs, "binary": binary}


@pytest.fixture
def work(files, tmp_path) -> dict[str, Path]:
    """Private copies, so that a test that fails by overwriting breaks only itself."""
    out = {}
    for key, path in files.items():
        out[key] = tmp_path / path.name
        out[key].write_bytes(path.read_bytes())
    return out


# ------------------------------------------------------------ aliasing outputs


def test_compile_refuses_to_overwrite_its_model(work):
    before = work["model"].read_bytes()
    r = tool("tidal-compile", work["model"], "-o", work["model"])
    assert_one_line_error(r, "tidal-compile", "same file as the input")
    assert work["model"].read_bytes() == before


@pytest.mark.parametrize("target", ["binary", "inputs"])
def test_sim_refuses_outputs_over_its_inputs(work, target):
    before = work[target].read_bytes()
    r = tool("tidal-sim", work["binary"], "--inputs", work["inputs"],
             "--outputs", work[target])
    assert_one_line_error(r, "tidal-sim", "same file as the input")
    assert work[target].read_bytes() == before


@pytest.mark.parametrize("option", ["--stats", "--trace", "--plot"])
def test_sim_refuses_two_outputs_in_one_file(work, tmp_path, option):
    out = tmp_path / "o.npz"
    r = tool("tidal-sim", work["binary"], "--inputs", work["inputs"],
             "--outputs", out, option, out)
    assert_one_line_error(r, "tidal-sim", "same file as the output")
    assert not out.exists()


def test_run_refuses_outputs_over_inputs_and_each_other(work, tmp_path):
    r = tool("tidal-run", work["model"], "--inputs", work["inputs"], "--outputs", work["inputs"])
    assert_one_line_error(r, "tidal-run", "same file as the input")
    out = tmp_path / "o.npz"
    r = tool("tidal-run", work["model"], "--inputs", work["inputs"], "--outputs", out,
             "--stats", out)
    assert_one_line_error(r, "tidal-run", "same file as the output")
    assert not out.exists()


def test_opt_refuses_to_overwrite_its_input(tmp_path):
    src = tmp_path / "g.mlir"
    src.write_text("func.func @f() {\n  func.return\n}\n")
    before = src.read_bytes()
    r = tool("tidal-opt", src, "-o", src)
    assert_one_line_error(r, "tidal-opt", "same file as the input")
    assert src.read_bytes() == before


def test_a_closed_stdout_pipe_stops_the_tool_without_a_traceback(tmp_path):
    """`tidal-opt m.mlir | true`: the reader is gone before the tool writes; the
    tool stops with SIGPIPE's status, 141, and says nothing (it printed a
    BrokenPipeError traceback)."""
    src = tmp_path / "g.mlir"
    src.write_text("func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {\n  func.return %x : tensor<4xf32>\n}\n")
    proc = subprocess.Popen([str(BIN / "tidal-opt"), str(src)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 141
    assert err.decode() == ""


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("name", ["tidal-opt", "tidal-compile"])
def test_a_full_standard_output_is_one_line(work, tmp_path, name):
    """stdout on a full disk (`> /dev/full`): one line and exit 1 (it was an OSError
    traceback: ENOSPC was handled only for a closed pipe)."""
    if name == "tidal-opt":
        src = tmp_path / "g.mlir"
        src.write_text("func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {\n  func.return %x : tensor<4xf32>\n}\n")
        args: tuple = (src,)
    else:
        args = (work["model"], "-o", tmp_path / "m2.tbin")
    with open("/dev/full", "w") as full:
        r = subprocess.run([str(BIN / name), *map(str, args)], stdout=full, stderr=subprocess.PIPE, text=True, timeout=300)
    assert r.returncode == 1
    assert r.stderr.strip() == f"{name}: error: cannot write standard output: No space left on device"


def test_an_output_path_ending_in_a_slash_is_refused(work, tmp_path):
    """`-o m.tbin/` named a directory that does not exist; open() wrote `m.tbin`."""
    r = tool("tidal-compile", work["model"], "-o", f"{tmp_path / 'new.tbin'}/")
    assert_one_line_error(r, "tidal-compile", "names a directory")
    assert not (tmp_path / "new.tbin").exists()


@pytest.mark.parametrize("link", ["hard", "symbolic", "dotted"])
def test_aliases_of_an_input_are_the_same_file(work, tmp_path, link):
    """Hard links share the inode; symlinks and `dir/../name` resolve to the file."""
    alias = tmp_path / "alias.npz"
    if link == "hard":
        os.link(work["inputs"], alias)
    elif link == "symbolic":
        alias.symlink_to(work["inputs"])
    else:
        (tmp_path / "sub").mkdir()
        alias = tmp_path / "sub" / ".." / work["inputs"].name
    before = work["inputs"].read_bytes()
    r = tool("tidal-sim", work["binary"], "--inputs", work["inputs"], "--outputs", alias)
    assert_one_line_error(r, "tidal-sim", "same file as the input")
    assert work["inputs"].read_bytes() == before


def test_missing_output_directory_is_refused_before_work(work, tmp_path):
    r = tool("tidal-compile", work["model"], "-o", tmp_path / "nowhere" / "m.tbin")
    assert_one_line_error(r, "tidal-compile", "does not exist")


def test_output_that_is_a_directory_is_refused(work, tmp_path):
    r = tool("tidal-compile", work["model"], "-o", tmp_path)
    assert_one_line_error(r, "tidal-compile", "is a directory")


# ------------------------------------------------------------ special files


def test_dev_null_is_written_in_place(work):
    before = os.stat("/dev/null")
    r = tool("tidal-compile", work["model"], "-o", "/dev/null")
    assert r.returncode == 0, r.stderr
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino
    r = tool("tidal-sim", work["binary"], "--inputs", work["inputs"], "--outputs",
             "/dev/null", "--stats", "/dev/null")  # a sink may take several outputs
    assert r.returncode == 0, r.stderr


def test_fifo_is_written_in_place(work, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = bytearray()

    def read() -> None:
        with open(fifo, "rb") as f:
            got.extend(f.read())

    reader = threading.Thread(target=read)
    reader.start()
    r = tool("tidal-compile", work["model"], "-o", fifo)
    reader.join(timeout=60)
    assert r.returncode == 0, r.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert bytes(got) == work["binary"].read_bytes()  # same model, same binary
    assert no_temps(tmp_path)


def test_fifo_without_reader_is_an_error_not_a_hang(work, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    r = tool("tidal-compile", work["model"], "-o", fifo)
    assert_one_line_error(r, "tidal-compile", "a FIFO with no reader")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and no_temps(tmp_path)


def test_symlink_output_writes_through_to_its_target(work, tmp_path):
    target = tmp_path / "real.tbin"
    target.write_bytes(b"old")
    link = tmp_path / "link.tbin"
    link.symlink_to(target)
    r = tool("tidal-compile", work["model"], "-o", link)
    assert r.returncode == 0, r.stderr
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_bytes() == work["binary"].read_bytes()


def test_dangling_symlink_creates_its_target(work, tmp_path):
    link = tmp_path / "link.tbin"
    link.symlink_to(tmp_path / "made.tbin")
    r = tool("tidal-compile", work["model"], "-o", link)
    assert r.returncode == 0, r.stderr
    assert link.is_symlink() and (tmp_path / "made.tbin").read_bytes()[:4]


def test_replaced_file_keeps_its_mode(work, tmp_path):
    out = tmp_path / "o.tbin"
    out.write_bytes(b"old")
    out.chmod(0o600)
    r = tool("tidal-compile", work["model"], "-o", out)
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert out.read_bytes() == work["binary"].read_bytes()


def test_new_file_gets_the_umask_mode(work, tmp_path):
    out = tmp_path / "o.tbin"
    r = subprocess.run(
        ["sh", "-c", f"umask 027 && exec {BIN / 'tidal-compile'} {work['model']} -o {out}"],
        capture_output=True, text=True, check=False,
    )
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o640


# ------------------------------------------------------------ signals and stale temps

_WRITER = textwrap.dedent(
    """
    import os, signal, sys
    from tidal.tools.files import tool_main, write_files

    def payload(f):
        f.write(b"partial")
        f.flush()
        os.kill(os.getpid(), signal.{sig})   # arrives in the middle of the write
        f.write(b"never")

    @tool_main("tidal-x")
    def main():
        write_files([(sys.argv[1], b"whole"), (sys.argv[2], payload)])

    main()
    """
)


@pytest.mark.parametrize("sig, code, word", [("SIGTERM", 143, "terminated"),
                                             ("SIGINT", 130, "interrupted")])
def test_signal_during_write_removes_temps_and_exits_in_one_line(tmp_path, sig, code, word):
    a, b = tmp_path / "a.npz", tmp_path / "b.json"
    b.write_bytes(b"previous")
    # A shell without job control starts background jobs with SIGINT ignored, and
    # Python installs its KeyboardInterrupt handler only where SIGINT is not ignored
    # (an ignored signal stays ignored, as it should): the writer gets the default.
    r = subprocess.run(
        [sys.executable, "-c", _WRITER.format(sig=sig), a, b],
        capture_output=True, text=True, check=False, timeout=60,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert r.returncode == code, r.stderr
    assert r.stderr.strip() == f"tidal-x: {word}"
    assert not a.exists() and b.read_bytes() == b"previous"  # nothing half-written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.json"]


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process `pid` so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
@pytest.mark.parametrize("sig, code, word", [("SIGTERM", 143, "terminated"),
                                             ("SIGINT", 130, "interrupted")])
def test_signal_during_an_onnxruntime_run_stops_it(tmp_path, sig, code, word):
    """A framework-tier Loop of 2^40 iterations runs inside onnxruntime, where
    Python's signal handlers never ran: `timeout` and ^C did not stop tidal-run.
    The Run now happens on a worker thread; the signal ends the tool in one line
    with its status, the Run is told to stop, and no output file is left."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["c"], ["co"]), helper.make_node("Add", ["v", "v"], ["vo"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("c", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("co", TensorProto.BOOL, []),
         helper.make_tensor_value_info("vo", TensorProto.FLOAT, [1])],
    )
    graph = helper.make_graph(
        [helper.make_node("Loop", ["trips", "cond", "x"], ["y"], body=body)], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
        [numpy_helper.from_array(np.array(1 << 40, np.int64), "trips"),
         numpy_helper.from_array(np.array(True), "cond")],
    )
    model, inputs, out = tmp_path / "loop.onnx", tmp_path / "in.npz", tmp_path / "out.npz"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), model)
    np.savez(inputs, x=np.ones(1, np.float32))
    proc = subprocess.Popen(
        [BIN / "tidal-run", model, "--inputs", inputs, "--outputs", out],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        # Past imports and compilation (about a second of CPU), well into the Loop.
        deadline = time.monotonic() + 60
        while _cpu_seconds(proc.pid) < 3.0 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(getattr(signal, sig))
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == code, err
    assert err.strip() == f"tidal-run: {word}"
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["in.npz", "loop.onnx"]


def _dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_stale_temp_of_a_killed_process_is_removed_by_the_next_write(work, tmp_path):
    out = tmp_path / "o.tbin"
    stale = tmp_path / f".o.tbin.tidal-{_dead_pid()}-abc123.tmp"
    stale.write_bytes(b"left by kill -9")
    live = tmp_path / f".o.tbin.tidal-{os.getpid()}-def456.tmp"  # a live writer's
    live.write_bytes(b"still being written")
    other = tmp_path / f".x.tbin.tidal-{_dead_pid()}-abc123.tmp"  # another target's
    other.write_bytes(b"not ours")
    r = tool("tidal-compile", work["model"], "-o", out)
    assert r.returncode == 0, r.stderr
    assert not stale.exists() and live.exists() and other.exists()


def test_hard_kill_leaves_one_recognisable_temp(work, tmp_path):
    """What kill -9 leaves is named after its target, and only the next write to
    that target (not any write) removes it."""
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "o.npz"
    script = textwrap.dedent(
        """
        import os, signal, sys
        from tidal.tools.files import write_files
        def payload(f):
            f.write(b"x")
            f.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        write_files([(sys.argv[1], payload)])
        """
    )
    r = subprocess.run([sys.executable, "-c", script, out], check=False, timeout=60)
    assert r.returncode == -9
    (left,) = [p.name for p in out.parent.iterdir()]
    assert left.startswith(".o.npz.tidal-") and left.endswith(".tmp")
    r = tool("tidal-sim", work["binary"], "--inputs", work["inputs"], "--outputs", out)
    assert r.returncode == 0, r.stderr
    assert [p.name for p in out.parent.iterdir()] == ["o.npz"]


def test_external_data_files_are_inputs_too(tmp_path):
    """A model's external data file is read by the import: every tool refuses to
    write over it, as over the model."""
    w = np.arange(64, dtype=np.float32).reshape(8, 8)
    tensor = numpy_helper.from_array(w, "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 8])],
        [tensor],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    path = tmp_path / "m.onnx"
    onnx.save(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
              location="weights.bin", size_threshold=0)
    weights = tmp_path / "weights.bin"
    before = weights.read_bytes()
    inputs = tmp_path / "i.npz"
    np.savez(inputs, x=np.ones((2, 8), np.float32))
    for r in (
        tool("tidal-compile", path, "-o", weights),
        tool("tidal-run", path, "--inputs", inputs, "--outputs", tmp_path / "o.npz",
             "--stats", weights),
        tool("tidal-opt", path, "-o", weights),
        tool("tidal-import", path, "-o", weights),
    ):
        assert_one_line_error(r, Path(r.args[0]).name, "same file as the input", "weights.bin")
        assert weights.read_bytes() == before
    r = tool("tidal-compile", path, "-o", tmp_path / "m.tbin")  # the model is fine
    assert r.returncode == 0, r.stderr


def test_an_npz_of_outputs_is_streamed_into_its_file(tmp_path):
    """tidal-sim and tidal-run built the outputs' .npz in memory before writing it,
    which doubled the outputs' memory: a binary with three aliased 1 GiB outputs
    died in zipfile with a MemoryError and two chained tracebacks under a 6 GB
    limit. The archive is now written array by array into the staged file (the
    same bytes np.savez writes), string tensors as NumPy str arrays."""
    import numpy as np

    from tidal.tools.files import npz_payload, write_files

    payload = npz_payload({"y": np.arange(6, dtype=np.float32).reshape(2, 3), "s": np.array(["a", "bc"], dtype=object)})
    assert callable(payload)
    write_files([(str(tmp_path / "o.npz"), payload)])
    with np.load(tmp_path / "o.npz", allow_pickle=False) as npz:
        np.testing.assert_array_equal(npz["y"], np.arange(6, dtype=np.float32).reshape(2, 3))
        assert npz["s"].tolist() == ["a", "bc"]

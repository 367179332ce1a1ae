"""What tests across the tree share (pytest puts test/e2e on `sys.path`): the
installed console scripts run in a subprocess, the example modules under examples/,
and the checks on what they give.

    from harness import assert_one_line_error, example, tool

    models = example("models")
    result = tool("tidal-compile", path, "-o", out)
    assert_one_line_error(result, "tidal-compile", "does not exist")
"""

from __future__ import annotations

import functools
import importlib.util
import resource
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def tool(
    name: str,
    *args: str | Path,
    cwd: Path | None = None,
    limit: int | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run the console script `name` (.venv/bin/tidal-*) with `args`; `limit` caps
    its address space in bytes."""
    exe = BIN / name
    assert exe.exists(), f"console script {exe} is not installed"

    def limit_memory() -> None:
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return subprocess.run(
        [str(exe), *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        timeout=timeout,
        preexec_fn=limit_memory,
    )


def assert_one_line_error(
    result: subprocess.CompletedProcess[str], name: str, *fragments: str
) -> str:
    """Exit 1, one `<name>: error: ...` line on stderr, no traceback; the message
    (after the prefix) is not empty and contains every fragment. Returns it."""
    stderr = result.stderr
    assert "Traceback" not in stderr, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, f"expected one stderr line, got {len(lines)}:\n{stderr}"
    prefix = f"{name}: error: "
    assert lines[0].startswith(prefix), lines[0]
    assert result.returncode == 1, (result.returncode, stderr)
    message = lines[0][len(prefix) :]
    assert message.strip(), "empty error message"
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


@functools.cache
def example(name: str) -> ModuleType:
    """examples/<name>.py (`models`, `zoo`), loaded from its file: examples/ is not
    a package."""
    spec = importlib.util.spec_from_file_location(
        f"tidal_examples_{name}", ROOT / "examples" / f"{name}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_example(name: str, *args: str) -> str:
    """Run examples/<name>.py as a user would (its own process, from the checkout);
    its stdout, after asserting it exits 0."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / f"{name}.py"), *args],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def assert_close(got: np.ndarray, ref: np.ndarray, rel: float = 1e-3) -> None:
    """max|got - ref| <= rel * max|ref|, with equal shapes and a float32 result."""
    assert got.shape == ref.shape, f"shape {got.shape} != reference {ref.shape}"
    assert got.dtype == np.float32, f"dtype {got.dtype}"
    assert np.all(np.isfinite(got)), "non-finite values in the result"
    err = float(np.max(np.abs(got.astype(np.float64) - ref.astype(np.float64))))
    scale = float(np.max(np.abs(ref)))
    assert err <= rel * scale, f"max|err| {err:.3g} > {rel} * max|ref| {scale:.3g}"


def onnx_model(nodes, inputs, outputs, weights, opset: int = 9):
    """A one-graph float32 ONNX model: `inputs`/`outputs` map names to shapes,
    `weights` names to arrays (initializers)."""
    from onnx import TensorProto, helper, numpy_helper

    def info(items):
        return [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in items.items()]

    graph = helper.make_graph(
        nodes, "t", info(inputs), info(outputs),
        [numpy_helper.from_array(a, n) for n, a in weights.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def loop_level(model, chip: str):
    """`model` (an ONNX model) imported and lowered to loop nests for `chip`, tensors
    kept on chip: graph-canonicalize, graph-partition, graph-to-loop and
    loop-keep-on-chip, what the loop passes after them start from."""
    from tidal.passes.conversion.graph_to_loop import GraphToLoopPass
    from tidal.passes.graph.canonicalize import GraphCanonicalizePass
    from tidal.passes.graph.partition import GraphPartitionPass
    from tidal.passes.loop.keep_on_chip import LoopKeepOnChipPass
    from tidal.targets.onnx_import import import_onnx
    from xdsl.context import Context

    module = import_onnx(model)
    for p in (
        GraphCanonicalizePass(),
        GraphPartitionPass(chip=chip),
        GraphToLoopPass(chip=chip),
        LoopKeepOnChipPass(chip=chip),
    ):
        p.apply(Context(), module)
    return module

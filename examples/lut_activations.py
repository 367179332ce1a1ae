"""ACT's lookup tables at work: a small ONNX model using Sigmoid, Tanh, Erf, Softplus,
Exp, Log and Sqrt runs on the hardware model (whose ACT engine evaluates each function
from the table the compiler shipped in the binary) and is compared with onnxruntime;
then one table is evaluated at three resolutions against float64 NumPy.

    .venv/bin/python examples/lut_activations.py

docs/lut.md explains the tables.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

from tidal.sim.spec import ActFunc
from tidal.sim.spec.lut import build_table, evaluate
from tidal.tools.tidal_run import run_model


def make_model() -> onnx.ModelProto:
    """x -> Sigmoid * x (SiLU) -> Tanh -> Erf -> Softplus -> Exp -> Log -> Sqrt -> y."""
    nodes = [
        helper.make_node("Sigmoid", ["x"], ["s"]),
        helper.make_node("Mul", ["x", "s"], ["silu"]),
        helper.make_node("Tanh", ["silu"], ["t"]),
        helper.make_node("Erf", ["t"], ["e"]),
        helper.make_node("Softplus", ["e"], ["sp"]),
        helper.make_node("Exp", ["sp"], ["ex"]),
        helper.make_node("Log", ["ex"], ["lg"]),
        helper.make_node("Sqrt", ["lg"], ["y"]),
    ]
    shape = [1, 64, 16, 16]
    graph = helper.make_graph(
        nodes, "lut_demo",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def main() -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    x = np.random.default_rng(0).uniform(-6, 6, (1, 64, 16, 16)).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "lut_demo.onnx")
        onnx.save(make_model(), path)
        ref = ort.InferenceSession(path).run(None, {"x": x})[0]
        outputs, stats = run_model(path, {"x": x}, "default")
    err = float(np.abs(outputs["y"] - ref).max())
    print(f"model on the accelerator: {stats['cycles']} cycles, "
          f"max|err| vs onnxruntime {err:.2e} (max|y| {np.abs(ref).max():.2f})")

    t = np.linspace(-12, 12, 100_001, dtype=np.float32)
    for rows in (16, 64, 256):
        y = evaluate(build_table(ActFunc.TANH, rows), t)
        print(f"tanh table of {rows:3d} rows: max|err| {np.abs(y - np.tanh(t.astype(np.float64))).max():.2e}")
    return 0 if err <= 1e-3 * float(np.abs(ref).max()) else 1


if __name__ == "__main__":
    sys.exit(main())

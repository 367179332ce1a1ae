"""Early exit by self-modifying code: an ONNX Loop (v <- tanh(0.5 v + 0.1) while
max |v_new - v| > eps, at most 8 times) compiled into 8 blocks that overwrite the
following ones with NOPs once the condition fails; run at several thresholds against
onnxruntime, printing the blocks onnxruntime ran, the error and the cycles.

    .venv/bin/python examples/early_exit.py

docs/early-exit.md explains the blocks.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from tidal.tools.tidal_run import run_model

SHAPE = [4, 40]


def make_loop(eps: float, trips: int = 8) -> onnx.ModelProto:
    body = helper.make_graph(
        [
            helper.make_node("Mul", ["v_in", "a"], ["s"]),
            helper.make_node("Add", ["s", "b"], ["t"]),
            helper.make_node("Tanh", ["t"], ["v_out"]),
            helper.make_node("Sub", ["v_out", "v_in"], ["d"]),
            helper.make_node("Abs", ["d"], ["ad"]),
            helper.make_node("ReduceMax", ["ad"], ["m"], keepdims=0),
            helper.make_node("Greater", ["m", "eps"], ["cond_out"]),
        ],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_in", TensorProto.FLOAT, SHAPE)],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_out", TensorProto.FLOAT, SHAPE)],
        [numpy_helper.from_array(np.array(v, np.float32), n) for n, v in (("a", 0.5), ("b", 0.1), ("eps", eps))],
    )
    graph = helper.make_graph(
        [helper.make_node("Loop", ["M", "c", "x"], ["y"], body=body)], "early_exit",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, SHAPE)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, SHAPE)],
        [numpy_helper.from_array(np.array(trips, np.int64), "M"), numpy_helper.from_array(np.array(True), "c")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def blocks_run(x: np.ndarray, eps: float, trips: int = 8) -> int:
    v = x.astype(np.float64)
    for k in range(trips):
        w = np.tanh(0.5 * v + 0.1)
        done = not np.abs(w - v).max() > eps
        v = w
        if done:
            return k + 1
    return trips


def main() -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    x = np.random.default_rng(0).uniform(-2, 2, SHAPE).astype(np.float32)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "loop.onnx")
        for eps in (0.0, 0.03, 0.1, 0.3, 1.0):
            onnx.save(make_loop(eps), path)
            ref = ort.InferenceSession(path).run(None, {"x": x})[0]
            out, stats = run_model(path, {"x": x}, "small")
            err = float(np.abs(out["y"] - ref).max())
            print(f"eps {eps:4}: {blocks_run(x, eps)} of 8 blocks, max|err| vs onnxruntime "
                  f"{err:.1e}, {stats['cycles']} cycles, "
                  f"{stats['instr_fetch']['overwritten_records']} records overwritten with NOPs")
            ok &= err < 1e-4
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Training-mode dropout on the POOL engine's pseudo-random generators: a small ONNX
model (Gemm -> Relu -> Dropout(training) -> Gemm) runs on the hardware model three
times, twice with one seed and once with another, beside onnxruntime; prints the
mask rate of each, whether the kept values are x / (1 - ratio), and whether runs
repeat for a seed.

    .venv/bin/python examples/dropout_training.py [--ratio 0.3]

docs/random.md explains the generators.
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


def make_model(ratio: float, seed: int) -> onnx.ModelProto:
    """x [16, 256] -> Gemm -> Relu ("r") -> Dropout(ratio, training, seed) ("h") -> Gemm ("y")."""
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.standard_normal((512, 256)).astype(np.float32) * 0.06, "w1"),
        numpy_helper.from_array(rng.standard_normal((10, 512)).astype(np.float32) * 0.04, "w2"),
        numpy_helper.from_array(np.array(ratio, np.float32), "ratio"),
        numpy_helper.from_array(np.array(True), "training"),
    ]
    nodes = [
        helper.make_node("Gemm", ["x", "w1"], ["a"], transB=1),
        helper.make_node("Relu", ["a"], ["r"]),
        helper.make_node("Dropout", ["r", "ratio", "training"], ["h"], seed=seed),
        helper.make_node("Gemm", ["h", "w2"], ["y"], transB=1),
    ]
    graph = helper.make_graph(
        nodes, "dropout_demo",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [16, 256])],
        [helper.make_tensor_value_info("r", TensorProto.FLOAT, [16, 512]),
         helper.make_tensor_value_info("h", TensorProto.FLOAT, [16, 512]),
         helper.make_tensor_value_info("y", TensorProto.FLOAT, [16, 10])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratio", type=float, default=0.3)
    ratio = parser.parse_args().ratio
    x = np.random.default_rng(1).standard_normal((16, 256)).astype(np.float32)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        runs = {}
        for name, seed in (("seed 7", 7), ("seed 7 again", 7), ("seed 8", 8)):
            path = str(Path(tmp) / f"{seed}.onnx")
            onnx.save(make_model(ratio, seed), path)
            runs[name], stats = run_model(path, {"x": x}, "default")
        r, h = ort.InferenceSession(path).run(["r", "h"], {"x": x})
        runs["onnxruntime"] = {"r": r, "h": h}
        for name, out in runs.items():
            r, h = out["r"], out["h"]
            live = r != 0  # Relu's zeros stay zero whatever the mask
            dropped = ((h == 0) & live).sum() / live.sum()
            kept = h != 0
            exact = np.array_equal(h[kept], r[kept] / (np.float32(1) - np.float32(ratio)))
            print(f"{name:13s} dropped {dropped:.3f} of {live.sum()} (ratio {ratio}), "
                  f"kept values r / (1 - ratio): {exact}")
            ok &= exact and abs(dropped - ratio) < 0.05
    same = np.array_equal(runs["seed 7"]["h"], runs["seed 7 again"]["h"])
    differ = not np.array_equal(runs["seed 7"]["h"], runs["seed 8"]["h"])
    print(f"same seed, same mask: {same}; another seed, another mask: {differ}; "
          f"last run {stats['cycles']} cycles")
    return 0 if ok and same and differ else 1


if __name__ == "__main__":
    sys.exit(main())

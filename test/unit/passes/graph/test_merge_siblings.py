"""graph-merge-siblings on fire-like modules: a squeeze, then two convs of its
result concatenated. The merge happens where the module docstring says (one conv
left of the two), and the program agrees with onnxruntime on the hardware model,
with the pass and without it, on both chip presets."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from xdsl.context import Context

from tidal.dialects import graph
from tidal.passes.graph.canonicalize import GraphCanonicalizePass
from tidal.passes.graph.fuse_epilogue import GraphFuseEpiloguePass
from tidal.passes.graph.merge_siblings import GraphMergeSiblingsPass
from tidal.targets.onnx_import import import_onnx
from tidal.tools.tidal_run import run_model


def fire(first: int, second: int, cout: tuple[int, int], size: int, bias: bool = True, seed: int = 0):
    """x [1, 8, size, size] -> 1x1 squeeze to 16 -> relu -> conv k=first and conv
    k=second (each padded to keep the size) -> relu each -> concat."""
    rng = np.random.default_rng(seed)
    inits = [numpy_helper.from_array((rng.standard_normal((16, 8, 1, 1)) * 0.4).astype(np.float32), "ws")]
    nodes = [helper.make_node("Conv", ["x", "ws"], ["s"], name="squeeze"),
             helper.make_node("Relu", ["s"], ["sr"], name="squeeze_relu")]
    outs = []
    for i, (k, m) in enumerate(zip((first, second), cout, strict=True)):
        inits.append(numpy_helper.from_array((rng.standard_normal((m, 16, k, k)) * 0.3).astype(np.float32), f"w{i}"))
        ins = ["sr", f"w{i}"]
        if bias:
            inits.append(numpy_helper.from_array((rng.standard_normal(m) * 0.1).astype(np.float32), f"b{i}"))
            ins.append(f"b{i}")
        p = (k - 1) // 2
        nodes += [helper.make_node("Conv", ins, [f"c{i}"], pads=[p, p, p, p], name=f"expand{i}"),
                  helper.make_node("Relu", [f"c{i}"], [f"r{i}"], name=f"relu{i}")]
        outs.append(f"r{i}")
    nodes.append(helper.make_node("Concat", outs, ["y"], axis=1, name="cat"))
    g = helper.make_graph(
        nodes, "fire", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, size, size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, sum(cout), size, size])], inits,
    )
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    x = rng.standard_normal((1, 8, size, size)).astype(np.float32)
    return model, x


def convs_after_merge(model, chip: str) -> int:
    module = import_onnx(model)
    for p in (GraphCanonicalizePass(), GraphFuseEpiloguePass(), GraphMergeSiblingsPass(chip=chip)):
        p.apply(Context(), module)
    return sum(isinstance(op, graph.Conv2dOp) for op in module.walk())


@pytest.mark.parametrize(
    ("first", "second", "cout", "size", "bias", "merged"),
    [
        # prime row counts that no k <= cols / cout divides: no row-pack
        (1, 3, (16, 16), 11, True, True),  # the fire expand
        (3, 1, (12, 20), 11, True, True),  # the larger kernel first
        (1, 5, (8, 16), 13, False, True),  # 5x5, no biases
        (1, 3, (24, 24), 11, True, True),  # 48 outputs: over the small chip's 32 columns
    ],
)
@pytest.mark.parametrize("chip", ["small", "default"])
def test_fire_modules_against_onnxruntime(first, second, cout, size, bias, merged, chip):
    model, x = fire(first, second, cout, size, bias)
    fits = sum(cout) <= (32 if chip == "small" else 128)
    assert convs_after_merge(model, chip) == (2 if merged and fits else 3)
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    for disabled in ((), ("merge-siblings",)):
        got, _ = run_model(model, {"x": x}, chip, disabled)
        np.testing.assert_allclose(got["y"], want, rtol=1e-4, atol=1e-5)


def test_row_packed_expand_stays_apart():
    """At 56 rows a 3x3 conv of 64 channels takes row-pack (2 rows per matmul), which
    halves its passes already: the merge would make it stream all 56 rows."""
    model, _ = fire(1, 3, (64, 64), 56)
    assert convs_after_merge(model, "default") == 3

"""A conv whose input does not fit SBUF is loaded band by band (on the small chip, an
8-channel 3x3 conv of a 128x128 image), and two optimisations are for it:

- double-buffer-partial (passes/loop/double_buffer.py): with row-taps each band lies
  twice on the partitions, one load per copy; the band gets a second buffer, so the
  next band loads while this one computes;
- hoist-loads (passes/loop/hoist_loads.py): the weight tile, loaded again for every
  band, is loaded once before the band loop.

For each, the binary changes with it off, tidal-run's results match onnxruntime's
with it on and off, and the conv takes fewer cycles with it on."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from tidal.tools.tidal_run import run_model
from tidal.tools.tidal_compile import compile_to_bytes


def _conv(rng: np.random.Generator, channels: int, size: int):
    w = (0.1 * rng.standard_normal((channels, channels, 3, 3))).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["y"]),
    ]
    g = helper.make_graph(
        nodes, "banded_conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, channels, size, size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, channels, size, size])],
        [numpy_helper.from_array(w, "w")],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


@pytest.mark.parametrize("option", ["double-buffer-partial", "hoist-loads"])
def test_a_banded_conv_with_and_without(option, tmp_path):
    rng = np.random.default_rng(0)
    model = _conv(rng, 8, 128)
    path = tmp_path / "conv.onnx"
    path.write_bytes(model.SerializeToString())
    on = compile_to_bytes(str(path), "small")
    off = compile_to_bytes(str(path), "small", disabled=(option,))
    assert on != off, f"{option} changed nothing: the conv no longer takes its path"
    feeds = {"x": rng.standard_normal((1, 8, 128, 128)).astype(np.float32)}
    (want,) = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)
    cycles = {}
    for disabled in ((), (option,)):
        got, stats = run_model(model, feeds, "small", disabled=disabled)
        np.testing.assert_allclose(got["y"], want, rtol=1e-4, atol=1e-5)
        cycles[disabled] = stats["cycles"]
    assert cycles[()] < cycles[(option,)]

"""ragged-pools: a pooling whose input lies in 128-channel tiles and a partial last
one (a concatenation whose pieces do not start on its uniform tiles, or a pooling
of one) pools those tiles where they lie, a nest for the full tiles and one for
the partial tile, and the conv that reads it reads it ragged too. Which ops run
ragged (`options_for`), the plan's two parts (`ragged_parts`), and the programs
against onnxruntime on the hardware model, with the option and without, on both
chip presets: max and average poolings (padding counted and not), strided and
not, several full tiles and a pooling of a pooling (Inception)."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from tidal.dialects import graph
from tidal.passes.conversion.kernels.base import options_for
from tidal.passes.conversion.kernels.plan import KernelOptions
from tidal.passes.conversion.kernels.pool import POOL, PoolTiles, ragged_parts
from tidal.sim.config import get_chip
from tidal.targets.onnx_import import import_onnx
from tidal.tools.tidal_run import run_model


def branch(sizes: tuple[int, ...], pools: list[tuple[str, dict]], size: int = 7, seed: int = 0):
    """Inputs of `sizes` channels concatenated, then each pooling of `pools` in turn
    (op type, attributes), then a 1x1 conv (a pool projection) to 16 channels."""
    rng = np.random.default_rng(seed)
    names = [f"x{i}" for i in range(len(sizes))]
    nodes = [helper.make_node("Concat", names, ["p0"], axis=1, name="cat")]
    for i, (kind, attrs) in enumerate(pools):
        nodes.append(helper.make_node(kind, [f"p{i}"], [f"p{i + 1}"], name=f"pool{i}", **attrs))
    channels, out = sum(sizes), size
    for _, attrs in pools:
        (k, _), (stride, _), (top, _, bottom, _) = attrs["kernel_shape"], attrs["strides"], attrs["pads"]
        out = (out + top + bottom - k) // stride + 1
    w = (rng.standard_normal((16, channels, 1, 1)) * 0.1).astype(np.float32)
    nodes.append(helper.make_node("Conv", [f"p{len(pools)}", "w"], ["y"], name="proj"))
    probe = helper.make_graph(
        nodes, "branch",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, c, size, size]) for n, c in zip(names, sizes, strict=True)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16, out, out])], [numpy_helper.from_array(w, "w")],
    )
    model = helper.make_model(probe, opset_imports=[helper.make_opsetid("", 13)])
    inputs = {n: rng.standard_normal((1, c, size, size)).astype(np.float32) for n, c in zip(names, sizes, strict=True)}
    return model, inputs


MAX_S1 = ("MaxPool", {"kernel_shape": [3, 3], "strides": [1, 1], "pads": [1, 1, 1, 1]})
MAX_S2 = ("MaxPool", {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [0, 0, 1, 1]})
AVG = ("AveragePool", {"kernel_shape": [3, 3], "strides": [1, 1], "pads": [1, 1, 1, 1]})
AVG_COUNT = ("AveragePool", {"kernel_shape": [3, 3], "strides": [1, 1], "pads": [1, 1, 1, 1], "count_include_pad": 1})


def _ops(model, kind):
    return [op for op in import_onnx(model).walk() if isinstance(op, kind)]


def test_options_for_runs_ragged_where_the_input_lies_so():
    """A pooling of an unaligned concatenation (112 + 24), a pooling of that
    pooling and the conv of the last run ragged; a pooling of an aligned one
    (80 + 80: uniform tiles of 80) does not, nor anything with pool_ragged off
    (the conv of an unaligned concatenation itself still reads it ragged)."""
    on, off = KernelOptions(), KernelOptions(pool_ragged=False)
    model, _ = branch((112, 24), [MAX_S1, MAX_S1])
    first, second = _ops(model, graph.MaxPoolOp)
    (conv,) = _ops(model, graph.Conv2dOp)
    for op in (first, second, conv):
        assert options_for(op, op.operands[0].owner, on).ragged_tiles, op
        assert not options_for(op, op.operands[0].owner, off).ragged_tiles, op
    aligned, _ = branch((80, 80), [MAX_S1])
    (pool,) = _ops(aligned, graph.MaxPoolOp)
    assert not options_for(pool, pool.operands[0].owner, on).ragged_tiles


@pytest.mark.parametrize(("channels", "parts"), [(136, [(0, 128), (128, 8)]), (576, [(0, 512), (512, 64)]), (256, []), (96, [])])
def test_ragged_parts(channels, parts):
    model, _ = branch((channels - 24, 24) if channels > 24 else (channels,), [AVG])
    (pool,) = _ops(model, graph.AvgPoolOp)
    assert ragged_parts(pool, get_chip("default"), KernelOptions()) == parts
    assert ragged_parts(pool, get_chip("default"), KernelOptions(pool_ragged=False)) == []
    if parts:
        plan = POOL.plan(pool, get_chip("default"), KernelOptions())
        tiles = [n for n in plan.nests if isinstance(n, PoolTiles)]
        assert [(t.c0, t.channels, t.tc) for t in tiles] == [(c0, n, min(n, 128)) for c0, n in parts]


@pytest.mark.parametrize(
    ("sizes", "pools", "size"),
    [
        ((112, 24), [MAX_S1], 7),  # one full tile and 8 channels
        ((160, 96, 320), [MAX_S2], 14),  # Inception v2's 576: 4 full tiles, strided, ceil-mode pad
        ((192, 64, 64), [AVG], 7),  # 320: average, padding not counted
        ((112, 24), [AVG_COUNT], 5),  # average, padding counted
        ((128, 192, 96, 64), [MAX_S2, MAX_S1], 13),  # 480: a pooling of a pooling (Inception v1)
    ],
)
@pytest.mark.parametrize("chip", ["small", "default"])
def test_against_onnxruntime(sizes, pools, size, chip):
    model, inputs = branch(sizes, pools, size)
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, inputs)[0]
    for disabled in ((), ("ragged-pools",)):
        got, _ = run_model(model, inputs, chip, disabled)
        np.testing.assert_allclose(got["y"], want, rtol=1e-4, atol=1e-5)

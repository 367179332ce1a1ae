"""im2col-reuse: a tap-packed, clipped conv whose kernel columns from C on read the
input a multiple of the column stride to the right of columns 0 .. kw - C - 1
loads only the first C columns' taps, each row wider, and contracts the others
against the same partitions read further on. Which convs qualify
(`reuse_columns`: packed in two packs, clipped, one band or bands on the PE
columns only, the im2col smaller), the DMA bytes it saves, and the programs
against onnxruntime on the hardware model, with the option and without, on both
chip presets: 7x7 stride-2 stems (one band of rows, and two bands on the PE
columns that a max pool reads in place), stride 1, odd widths, dilation 2."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from tidal.dialects import graph
from tidal.passes.conversion.kernels.conv import CONV, StationaryTiles
from tidal.passes.conversion.kernels.plan import KernelOptions
from tidal.sim.config import get_chip
from tidal.targets.onnx_import import import_onnx
from tidal.tools.tidal_run import run_model


def stem(cin: int, cout: int, size: int, k: int, stride: int, pad: int, dilation: int = 1, pool: bool = False, seed: int = 0):
    """A conv (k x k, cin -> cout, size x size input) and relu, then optionally a
    3x3 stride-2 max pool."""
    rng = np.random.default_rng(seed)
    w = (rng.standard_normal((cout, cin, k, k)) * 0.1).astype(np.float32)
    b = (rng.standard_normal(cout) * 0.1).astype(np.float32)
    out = (size + 2 * pad - dilation * (k - 1) - 1) // stride + 1
    nodes = [
        helper.make_node(
            "Conv", ["x", "w", "b"], ["c"], name="stem", strides=[stride] * 2, pads=[pad] * 4, dilations=[dilation] * 2
        ),
        helper.make_node("Relu", ["c"], ["r" if pool else "y"]),
    ]
    if pool:
        nodes.append(helper.make_node("MaxPool", ["r"], ["y"], name="pool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]))
        out = (out + 2 - 3) // 2 + 1
    model = helper.make_model(
        helper.make_graph(
            nodes, "stem",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, cin, size, size])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, cout, out, out])],
            [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")],
        ),
        opset_imports=[helper.make_opsetid("", 13)],
    )
    return model, {"x": rng.standard_normal((1, cin, size, size)).astype(np.float32)}


def _plan(model, chip: str, options: KernelOptions) -> StationaryTiles:
    (conv,) = [op for op in import_onnx(model).walk() if isinstance(op, graph.Conv2dOp)]
    plan = CONV.plan(conv, get_chip(chip), options)
    (tiles,) = [n for n in plan.nests if isinstance(n, StationaryTiles)]
    return tiles


def test_which_convs_load_the_first_columns_only():
    """A 3-channel 7x7 stride-2 stem (49 taps, two packs on 128 rows) loads kernel
    columns 0-3 (84 rows), each row 2 outputs wider; without the option, every tap.
    A 3x3 stem fits one pack (27 rows): reusing would add a matmul, so it does not.
    An unpadded one is not clipped, so it does not either."""
    tiles = _plan(stem(3, 64, 224, 7, 2, 3)[0], "default", KernelOptions())
    assert (tiles.reuse, tiles.pack, tiles.clip, tiles.partitions) == (4, 28, True, 84)
    off = _plan(stem(3, 64, 224, 7, 2, 3)[0], "default", KernelOptions(im2col_reuse=False))
    assert (off.reuse, off.pack) == (0, 25)
    assert tiles.sbuf_bytes < off.sbuf_bytes
    assert _plan(stem(3, 64, 224, 3, 2, 1)[0], "default", KernelOptions()).reuse == 0
    assert _plan(stem(3, 64, 224, 7, 2, 0)[0], "default", KernelOptions()).reuse == 0


def test_the_stem_moves_fewer_bytes():
    """ResNet's stem at 112x112: of the im2col's bytes (the program's DMA bytes but
    the output's and the weights'), about 41 % fewer move (28 taps of 58 columns
    against 49 of 56; clipping moves a little less of each)."""
    model, inputs = stem(3, 64, 112, 7, 2, 3)
    _, on = run_model(model, inputs, "default")
    _, off = run_model(model, inputs, "default", ("im2col-reuse",))
    other = 4 * (64 * 56 * 56 + 64 * 3 * 49 + 64)  # output, weights, bias
    saved = (off["dma_bytes"] - on["dma_bytes"]) / (off["dma_bytes"] - other)
    assert 0.35 < saved < 0.5, saved


CASES = [
    # (cin, cout, size, k, stride, pad, dilation, pool), chip, optimisations off
    ((3, 64, 112, 7, 2, 3, 1, False), "default", ()),  # a stem, one band of rows
    ((3, 64, 128, 7, 2, 3, 1, True), "default", ()),  # bands on the PE columns, read in place by the pool
    ((3, 16, 29, 7, 2, 3, 1, False), "default", ("stationary",)),  # odd width: the last columns clipped
    ((1, 8, 33, 7, 2, 3, 1, False), "small", ()),  # odd width on the small chip
    ((1, 8, 16, 7, 1, 3, 1, False), "small", ("stationary",)),  # stride 1: columns 4-6 are 0-2 four on
    ((2, 8, 20, 5, 1, 2, 1, False), "small", ("stationary",)),  # 5x5: columns 3-4 are 0-1 three on
    ((2, 8, 24, 5, 1, 4, 2, False), "small", ("stationary",)),  # dilation 2: six input columns on
]


@pytest.mark.parametrize(("args", "chip", "off"), CASES)
def test_against_onnxruntime(args, chip, off):
    model, inputs = stem(*args)
    assert _plan(model, chip, KernelOptions(stationary="stationary" not in off)).reuse, "the case does not reuse"
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, inputs)[0]
    for disabled in (off, (*off, "im2col-reuse")):
        got, _ = run_model(model, inputs, chip, disabled)
        np.testing.assert_allclose(got["y"], want, rtol=1e-4, atol=1e-5)

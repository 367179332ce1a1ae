"""graph-fold-shuffle's interleaved form keeps what the graph computes and is taken
where its rule says: ShuffleNet units (grouped 1x1 conv, relu, channel shuffle,
depthwise 3x3 conv, grouped 1x1 conv, residual add, relu) over 544, 272 and 136
channels give onnxruntime's outputs after the graph passes with the interleaved form
on and off (the graph interpreter); the 7x7 unit of 544 channels takes it (its
grouped conv reads interleaved blocks, its producer keeps its groups), the 14x14
unit of 272 does not (folding ties)."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from harness import onnx_model
from onnx import helper, numpy_helper
from tidal.dialects import graph
from tidal.dialects.graph import interleaved_channels
from tidal.passes.graph.canonicalize import GraphCanonicalizePass
from tidal.passes.graph.dense_groups import GraphDenseGroupsPass
from tidal.passes.graph.fold_shuffle import GraphFoldShufflePass, interleave_merge
from tidal.passes.graph.fuse_affine import GraphFuseAffinePass
from tidal.passes.graph.fuse_epilogue import GraphFuseEpiloguePass
from tidal.passes.graph.pad_channels import GraphPadChannelsPass
from tidal.passes.interpreters.graph import eval_graph
from tidal.targets.onnx_import import import_onnx
from xdsl.context import Context


def shuffle_unit(c: int, h: int, seed: int = 0) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    """x [1, c, h, h] -> 4-group 1x1 conv, relu, shuffle of 4 groups, depthwise 3x3
    conv, 4-group 1x1 conv, + x, relu (ShuffleNet's unit, batch norms folded)."""
    rng = np.random.default_rng(seed)
    weights: dict[str, np.ndarray] = {}

    def w(name: str, *shape: int) -> str:
        weights[name] = (rng.standard_normal(shape) / np.sqrt(np.prod(shape[1:]))).astype(np.float32)
        return name

    nodes = [
        helper.make_node("Conv", ["x", w("w1", c, c // 4, 1, 1), w("b1", c)], ["a"], group=4),
        helper.make_node("Relu", ["a"], ["r"]),
        helper.make_node("Reshape", ["r", "s5"], ["r5"]),
        helper.make_node("Transpose", ["r5"], ["t5"], perm=[0, 2, 1, 3, 4]),
        helper.make_node("Reshape", ["t5", "s4"], ["s"]),
        helper.make_node("Conv", ["s", w("wd", c, 1, 3, 3), w("bd", c)], ["d"], group=c, pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["d", w("w2", c, c // 4, 1, 1), w("b2", c)], ["g"], group=4),
        helper.make_node("Add", ["g", "x"], ["p"]),
        helper.make_node("Relu", ["p"], ["y"]),
    ]
    model = onnx_model(nodes, {"x": [1, c, h, h]}, {"y": [1, c, h, h]}, weights)
    model.graph.initializer.extend([
        numpy_helper.from_array(np.array([1, 4, c // 4, h, h], np.int64), "s5"),
        numpy_helper.from_array(np.array([1, c, h, h], np.int64), "s4"),
    ])
    return model, {"x": rng.standard_normal((1, c, h, h)).astype(np.float32)}


def _graph_passes(model: onnx.ModelProto, interleave: bool):
    module = import_onnx(model)
    for p in (
        GraphCanonicalizePass(), GraphFuseEpiloguePass(), GraphFuseAffinePass(),
        GraphFoldShufflePass(interleave=interleave), GraphDenseGroupsPass(), GraphPadChannelsPass(),
    ):
        p.apply(Context(), module)
    module.verify()
    return module


def _convs(module) -> list[graph.Conv2dOp]:
    return [op for op in module.walk() if isinstance(op, graph.Conv2dOp)]


@pytest.mark.parametrize("interleave", [True, False], ids=["interleave", "fold"])
@pytest.mark.parametrize("c, h", [(544, 7), (272, 14), (136, 28)])
def test_units_agree_with_onnxruntime(c, h, interleave):
    model, inputs = shuffle_unit(c, h)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (ref,) = session.run(["y"], inputs)
    out = eval_graph(_graph_passes(model, interleave), inputs)["y"]
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)


def test_takes_the_interleaved_form_where_the_pe_array_gains():
    model, _ = shuffle_unit(544, 7)
    convs = _convs(_graph_passes(model, True))
    assert not any(isinstance(op, graph.TransposeOp) for op in convs[0].parent_block().ops)
    producer, dw, reader = convs
    assert producer.group_val == 4 and producer.interleave_val == 0  # kept its groups
    assert dw.group_val == 544 and dw.input is producer.result
    assert (reader.group_val, reader.interleave_val) == (2, 68)  # merged pairs, 68-channel blocks
    # 272 channels at 14x14: folding into the producer takes no more PE cycles
    model, _ = shuffle_unit(272, 14)
    assert all(op.interleave_val == 0 for op in _convs(_graph_passes(model, True)))


def test_interleave_merge():
    """(merge, block): the fewest merged groups whose block is whole uniform tiles
    (68 for 544 and 272 channels), else the fewest that divide evenly; all of them
    (a dense conv) when that is the only tile-aligned choice."""
    assert interleave_merge(544, 4, 4, 128) == (2, 68)
    assert interleave_merge(272, 4, 4, 128) == (4, 68)
    assert interleave_merge(136, 4, 4, 128) == (2, 17)  # 8.5 channels per block unmerged
    assert interleave_merge(544, 4, 4, 32) == (4, 136)  # blocks of 34 or 68 exceed 32 rows: dense
    assert interleave_merge(10, 4, 4, 128) is None


def test_interleaved_channels():
    assert interleaved_channels(8, 2, 2) == [0, 1, 4, 5, 2, 3, 6, 7]
    assert interleaved_channels(6, 3, 0) == list(range(6))
    assert sorted(interleaved_channels(544, 2, 68)) == list(range(544))

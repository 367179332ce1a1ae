"""eltwise_channels (kernels/eltwise.py): element-wise nests beside convs lay an NCHW
tensor's channels on partitions, and a squeeze-excitation block with SiLUs (as
EfficientNet's) computes the same on the hardware model as onnxruntime with the
option on and off."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from tidal.passes.conversion.kernels.eltwise import CHANNEL_MIN_PARTITIONS, plan_eltwise
from tidal.passes.interpreters.accel import eval_binary
from tidal.passes.pipeline import lowering_passes, run_passes
from tidal.sim.config import get_chip
from tidal.targets.onnx_import import import_onnx
from xdsl.context import Context


def test_channels_on_partitions_planes_free():
    chip = get_chip("default")
    shape = (1, 96, 112, 112)
    plane = [112 * 112 * 96, 112 * 112, 112, 1]
    column = [96, 1, 0, 0]  # a [1, 96, 1, 1] operand
    tiles = plan_eltwise(chip, "mul", shape, [plane, column], channels=True)
    assert (tiles.tp, tiles.sizes[-2]) == (96, 96)
    assert tiles.sizes[0] * tiles.sizes[1] * tiles.tf == 112 * 112
    assert tiles.strides[2][-2:] == (1, 0)  # the column: one value per partition
    # Without it a whole-tensor op spreads over every partition (the channel dim
    # coalesced with the plane: 128 rows of 96 x 112 x 112 / 128 elements).
    assert plan_eltwise(chip, "relu", shape, [plane], channels=False).tp == 128
    assert plan_eltwise(chip, "relu", shape, [plane], channels=True).tp == 96
    # Channel tiles of fewer partitions keep the flat layout, as do operands that
    # walk a plane in another order (a transposed view).
    narrow = (1, CHANNEL_MIN_PARTITIONS // 2, 56, 56)
    assert plan_eltwise(chip, "relu", narrow, [[0, 56 * 56, 56, 1]], channels=True).tp == 128
    transposed = [0, 1, 96, 96 * 112]
    assert plan_eltwise(chip, "add", shape, [plane, transposed], channels=True).tp != 96


def _se_block(rng: np.random.Generator):
    """conv 1x1 -> SiLU -> depthwise 3x3 -> SiLU -> squeeze-excitation (global
    average, 1x1 reduce, SiLU, 1x1 expand, sigmoid, scale) -> conv 1x1."""
    inits: list = []
    nodes: list = []

    def conv(x: str, cin: int, cout: int, k: int, g: int, name: str) -> str:
        w = (rng.standard_normal((cout, cin // g, k, k)) * np.sqrt(2.0 / (cin // g * k * k))).astype(np.float32)
        inits.extend([numpy_helper.from_array(w, f"{name}_w"), numpy_helper.from_array(rng.standard_normal(cout).astype(np.float32) * 0.1, f"{name}_b")])
        nodes.append(helper.make_node("Conv", [x, f"{name}_w", f"{name}_b"], [name], name=name, kernel_shape=[k, k], pads=[k // 2] * 4, group=g))
        return name

    def silu(x: str) -> str:
        nodes.append(helper.make_node("Sigmoid", [x], [f"{x}_s"], name=f"{x}_s"))
        nodes.append(helper.make_node("Mul", [x, f"{x}_s"], [f"{x}_m"], name=f"{x}_m"))
        return f"{x}_m"

    e = silu(conv("x", 16, 64, 1, 1, "expand"))
    d = silu(conv(e, 64, 64, 3, 64, "dw"))
    nodes.append(helper.make_node("GlobalAveragePool", [d], ["gap"], name="gap"))
    r = silu(conv("gap", 64, 16, 1, 1, "reduce"))
    x = conv(r, 16, 64, 1, 1, "excite")
    nodes.append(helper.make_node("Sigmoid", [x], ["gate"], name="gate"))
    nodes.append(helper.make_node("Mul", [d, "gate"], ["scaled"], name="scaled"))
    y = conv("scaled", 64, 24, 1, 1, "project")
    g = helper.make_graph(
        nodes, "se",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, 20, 20])],
        [helper.make_tensor_value_info(y, TensorProto.FLOAT, [1, 24, 20, 20])], inits,
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


@pytest.mark.parametrize("channels", [True, False])
def test_results_on_the_hardware_model(channels):
    model = _se_block(np.random.default_rng(4))
    x = np.random.default_rng(5).standard_normal((1, 16, 20, 20)).astype(np.float32)
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    module = import_onnx(model)
    run_passes(lowering_passes("default", disabled=[] if channels else ["eltwise-channels"]), module, Context(), [])
    np.testing.assert_allclose(eval_binary(module, {"x": x})["project"], want, rtol=1e-4, atol=1e-5)


def _chain_model(extra_hops: int):
    """relu A -> relu B; add C = A + B; then `extra_hops` relus, then a conv. From A,
    C is one hop (A's own use) and two through B."""
    w = numpy_helper.from_array(np.ones((8, 8, 1, 1), np.float32), "w")
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="A"),
        helper.make_node("Relu", ["a"], ["b"], name="B"),
        helper.make_node("Add", ["a", "b"], ["c"], name="C"),
    ]
    last = "c"
    for k in range(extra_hops):
        nodes.append(helper.make_node("Relu", [last], [f"r{k}"], name=f"R{k}"))
        last = f"r{k}"
    nodes.append(helper.make_node("Conv", [last, "w"], ["y"], name="conv"))
    t = helper.make_tensor_value_info
    graph_proto = helper.make_graph(
        nodes, "chain", [t("x", TensorProto.FLOAT, [1, 8, 4, 4])],
        [t("y", TensorProto.FLOAT, [1, 8, 4, 4])], [w],
    )
    return helper.make_model(graph_proto, opset_imports=[helper.make_opsetid("", 13)])


@pytest.mark.parametrize(("extra_hops", "a_beside"), [(1, True), (2, True), (3, False)])
def test_beside_channel_nests_counts_the_shortest_path(extra_hops, a_beside):
    """A is beside the conv when a path of at most three other element-wise ops
    leads to it: A -> C -> R0 .. (the shortest), whichever neighbour a search
    meets first (a depth-first search that marked B's way to C as seen missed it)."""
    from tidal.dialects import graph
    from tidal.passes.conversion.kernels.eltwise import beside_channel_nests

    module = import_onnx(_chain_model(extra_hops))
    ops = [o for o in module.walk() if o.dialect_name() == "graph"]
    names = {o: o.attributes["tidal.origin"].data for o in ops if "tidal.origin" in o.attributes}
    near = {names.get(o) for o in beside_channel_nests(ops)}
    assert ("A" in near) is a_beside
    assert f"R{extra_hops - 1}" in near and "C" in near
    assert not any(isinstance(o, graph.Conv2dOp) for o in beside_channel_nests(ops))

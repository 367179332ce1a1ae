"""graph-pad-channels keeps what the graph computes: random ShuffleNet-like chains
over channel counts the partitions do not divide (1x1 convs dense and grouped,
depthwise convs, poolings, residual adds, concatenations, a gemm at the end) give
onnxruntime's outputs after the graph passes up to and including graph-pad-channels
(the graph interpreter), and the pass widens what its rule says it should."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from harness import onnx_model
from onnx import helper
from tidal.dialects import graph
from tidal.passes.graph.canonicalize import GraphCanonicalizePass
from tidal.passes.graph.dense_groups import GraphDenseGroupsPass
from tidal.passes.graph.fuse_epilogue import GraphFuseEpiloguePass
from tidal.passes.graph.pad_channels import GraphPadChannelsPass, uniform_tiles, widened
from tidal.passes.interpreters.graph import eval_graph
from tidal.targets.onnx_import import import_onnx
from xdsl.context import Context


def _chain(seed: int) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    """x [1, C, H, W] -> a few units of: 1x1 conv (+relu), depthwise 3x3 conv, 1x1
    conv of 1 or 4 groups, + residual, relu; sometimes a max or average pooling or a
    concatenation with the input in between; a global average pool and a gemm."""
    rng = np.random.default_rng(seed)
    c = int(rng.choice([136, 260, 272, 340, 544]))
    h = int(rng.choice([7, 14, 16]))
    weights: dict[str, np.ndarray] = {}
    nodes: list[onnx.NodeProto] = []

    def w(name: str, *shape: int) -> str:
        weights[name] = (rng.standard_normal(shape) / np.sqrt(np.prod(shape[1:]))).astype(np.float32)
        return name

    x = "x"
    extra: dict[str, list[int]] = {}  # depthwise results the graph returns too
    for u in range(int(rng.integers(1, 4))):
        p = f"u{u}"
        nodes.append(helper.make_node("Conv", [x, w(f"{p}w1", c, c, 1, 1), w(f"{p}b1", c)], [f"{p}a"]))
        nodes.append(helper.make_node("Relu", [f"{p}a"], [f"{p}r"]))
        nodes.append(helper.make_node(
            "Conv", [f"{p}r", w(f"{p}wd", c, 1, 3, 3), w(f"{p}bd", c)], [f"{p}d"], group=c, pads=[1, 1, 1, 1]
        ))
        d = f"{p}d"
        if rng.random() < 0.3:
            extra[d] = [1, c, h, h]
        if rng.random() < 0.3:  # a pooling between the depthwise conv and the 1x1 conv
            nodes.append(helper.make_node("MaxPool", [d], [f"{p}q"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]))
            d = f"{p}q"
        groups = 4 if c % 4 == 0 and rng.random() < 0.6 else 1
        nodes.append(helper.make_node(
            "Conv", [d, w(f"{p}w2", c, c // groups, 1, 1), w(f"{p}b2", c)], [f"{p}g"], group=groups
        ))
        nodes.append(helper.make_node("Add", [f"{p}g", x], [f"{p}s"]))
        nodes.append(helper.make_node("Relu", [f"{p}s"], [f"{p}y"]))
        x = f"{p}y"
        kind = rng.integers(0, 4)
        if kind == 1:
            nodes.append(helper.make_node("MaxPool", [x], [f"{p}m"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]))
            x = f"{p}m"
        elif kind == 2:
            nodes.append(helper.make_node("AveragePool", [x], [f"{p}m"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]))
            x = f"{p}m"
        elif kind == 3:  # a concatenation halved again by a 1x1 conv
            nodes.append(helper.make_node("Concat", [x, "x"], [f"{p}c"], axis=1))
            nodes.append(helper.make_node("Conv", [f"{p}c", w(f"{p}wc", c, 2 * c, 1, 1)], [f"{p}k"]))
            x = f"{p}k"
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["gp"]))
    nodes.append(helper.make_node("Flatten", ["gp"], ["f"]))
    nodes.append(helper.make_node("Gemm", ["f", w("fc", 10, c), w("fcb", 10)], ["y"], transB=1))
    model = onnx_model(nodes, {"x": [1, c, h, h]}, {"y": [1, 10], x: [1, c, h, h], **extra}, weights)
    inputs = {"x": rng.standard_normal((1, c, h, h)).astype(np.float32)}
    return model, inputs


def _widened(module) -> list[int]:
    return [
        op.result.type.get_shape()[1]
        for op in module.walk()
        if isinstance(op, graph.Conv2dOp) and op.result.type.get_shape()[1] % 128 == 0
        and uniform_tiles(op.weight.type.get_shape()[0], 128) > 1
    ]


@pytest.mark.parametrize("seed", range(16))
def test_random_chains_agree_with_onnxruntime(seed):
    model, inputs = _chain(seed)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in model.graph.output]
    refs = dict(zip(names, session.run(names, inputs), strict=True))
    module = import_onnx(model)
    for p in (GraphCanonicalizePass(), GraphFuseEpiloguePass(), GraphDenseGroupsPass(), GraphPadChannelsPass()):
        p.apply(Context(), module)
    module.verify()
    outs = eval_graph(module, inputs)
    for name in names:
        assert outs[name].shape == refs[name].shape
        err = float(np.abs(outs[name] - refs[name]).max())
        assert err <= 1e-4 * max(1.0, float(np.abs(refs[name]).max())), (name, err)


def test_widens_where_the_rule_says():
    """272 channels at 14x14 (ShuffleNet's units) widen to 384; 136 channels (no fewer
    tiles) and 272 at 7x7 (the depthwise tap saving below the grouped conv's weight
    growth) do not."""
    assert widened(272, 128) == 384 and uniform_tiles(272, 128) == 4
    counts = {}
    for c, h in ((272, 14), (136, 14), (272, 7)):
        rng = np.random.default_rng(1)
        wt = {
            "w1": rng.standard_normal((c, c, 1, 1)).astype(np.float32),
            "wd": rng.standard_normal((c, 1, 3, 3)).astype(np.float32),
            "w2": rng.standard_normal((c, c // 4, 1, 1)).astype(np.float32),
        }
        nodes = [
            helper.make_node("Conv", ["x", "w1"], ["a"]),
            helper.make_node("Conv", ["a", "wd"], ["d"], group=c, pads=[1, 1, 1, 1]),
            helper.make_node("Conv", ["d", "w2"], ["y"], group=4),
        ]
        module = import_onnx(onnx_model(nodes, {"x": [1, c, h, h]}, {"y": [1, c, h, h]}, wt))
        GraphPadChannelsPass().apply(Context(), module)
        counts[(c, h)] = _widened(module)
    assert counts[(272, 14)] == [384, 384]  # the 1x1 conv's output and the depthwise conv
    assert counts[(136, 14)] == [] and counts[(272, 7)] == []

"""Clip, HardSigmoid, HardSwish and LeakyRelu (MobileNet's and EfficientNet's
activations) on the accelerator, against onnxruntime on both presets: ACT's clip01,
relu and identity with its scale and bias, POOL where x is needed twice."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper
from test_ops import build, check

BOUNDS = {
    "lo": np.array(0.0, np.float32), "hi": np.array(6.0, np.float32), "neg": np.array(-1.5, np.float32),
}

CASES = [
    ("relu6", [helper.make_node("Clip", ["x", "lo", "hi"], ["y"])], 13),
    ("clip-min-only", [helper.make_node("Clip", ["x", "neg"], ["y"])], 13),
    ("clip-max-only", [helper.make_node("Clip", ["x", "", "hi"], ["y"])], 13),
    ("clip-attrs-opset6", [helper.make_node("Clip", ["x"], ["y"], min=-2.0, max=3.0)], 6),
    ("hard-sigmoid", [helper.make_node("HardSigmoid", ["x"], ["y"], alpha=0.25, beta=0.4)], 13),
    ("hard-swish", [helper.make_node("HardSwish", ["x"], ["y"])], 14),
    ("leaky-relu", [helper.make_node("LeakyRelu", ["x"], ["y"], alpha=0.1)], 13),
    ("leaky-relu-steep", [helper.make_node("LeakyRelu", ["x"], ["y"], alpha=3.0)], 13),
]


@pytest.mark.parametrize("chip", ["small", "default"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_piecewise_linear_against_onnxruntime(case, chip: str, tmp_path) -> None:
    _, nodes, opset = case
    used = {i for node in nodes for i in node.input}
    weights = {k: v for k, v in BOUNDS.items() if k in used}
    model = build(nodes, {"x": (1, 40, 7, 9)}, ["y"], weights, opset)
    x = np.random.default_rng(0).uniform(-9, 9, (1, 40, 7, 9)).astype(np.float32)
    _, stats = check(model, tmp_path, chip=chip, inputs={"x": x})
    # A Clip's missing bound is float32's limit (ONNX's default, onnxruntime's +-3.4e38
    # for +-inf): a Min or Max after the clip.
    ops = 2 if case[0] in ("clip-min-only", "clip-max-only") else 1
    assert stats["placement"]["accel"] == ops and stats["placement"]["host"] == 0


def test_a_mobilenet_style_block(tmp_path) -> None:
    """conv -> Clip(0, 6) -> depthwise conv -> HardSwish -> conv: every op on the
    accelerator."""
    rng = np.random.default_rng(1)
    w = lambda *s: (rng.standard_normal(s) * 0.3).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["a"], kernel_shape=[1, 1]),
        helper.make_node("Clip", ["a", "lo", "hi"], ["b"]),
        helper.make_node("Conv", ["b", "w2"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=32),
        helper.make_node("HardSwish", ["c"], ["d"]),
        helper.make_node("Conv", ["d", "w3"], ["y"], kernel_shape=[1, 1]),
    ]
    weights = {"w1": w(32, 16, 1, 1), "w2": w(32, 1, 3, 3), "w3": w(24, 32, 1, 1), **{k: BOUNDS[k] for k in ("lo", "hi")}}
    model = build(nodes, {"x": (1, 16, 9, 9)}, ["y"], weights, 14)
    _, stats = check(model, tmp_path, chip="small")
    assert stats["placement"]["host"] == 0

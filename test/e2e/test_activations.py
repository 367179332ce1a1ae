"""The ONNX activation ops that ACT evaluates from its lookup tables (Exp, Log,
Reciprocal, Sqrt, Sigmoid, Tanh, Erf, Softplus; x * sigmoid(x) as one silu, GELU's
erf form as one gelu_erf),
end to end against onnxruntime, on
both chip presets (256-row tables on 'default', 64 on 'small'), over inputs that
reach past each table's range, and chained into a model with a conv and a softmax.
The accuracy of each table against NumPy is `test/unit/sim/test_lut.py`'s."""

from __future__ import annotations

from harness import run_example

import numpy as np
import onnxruntime as ort
import pytest
from onnx import helper
from test_ops import build, check, weight

# (ONNX op, input sampler): inputs spread over and past each table's range; positive
# for the functions defined on positives only.
CASES = {
    "Exp": lambda rng, shape: rng.uniform(-20, 20, shape),
    "Log": lambda rng, shape: np.exp(rng.uniform(-30, 30, shape)),
    "Reciprocal": lambda rng, shape: np.exp(rng.uniform(-10, 10, shape)) * rng.choice([-1, 1], shape),
    "Sqrt": lambda rng, shape: np.exp(rng.uniform(-20, 20, shape)),
    "Sigmoid": lambda rng, shape: rng.uniform(-25, 25, shape),
    "Tanh": lambda rng, shape: rng.uniform(-12, 12, shape),
    "Erf": lambda rng, shape: rng.uniform(-5, 5, shape),
    "Softplus": lambda rng, shape: rng.uniform(-25, 25, shape),
}


@pytest.mark.parametrize("chip", ["small", "default"])
@pytest.mark.parametrize("op", sorted(CASES))
def test_activation_matches_onnxruntime(op: str, chip: str, tmp_path) -> None:
    shape = (2, 40, 9, 7)
    model = build([helper.make_node(op, ["x"], ["y"])], {"x": shape}, ["y"])
    rng = np.random.default_rng(3)
    x = CASES[op](rng, shape).astype(np.float32)
    outputs, stats = check(model, tmp_path, chip=chip, inputs={"x": x})
    assert stats["placement"]["accel"] == 1 and stats["placement"]["host"] == 0
    # Relative to each element, not only to the largest: the tables are accurate
    # everywhere, not just where the output is large.
    ref = ort.InferenceSession(str(tmp_path / "model.onnx")).run(None, {"x": x})[0]
    tol = 2e-5 if chip == "small" else 2e-6
    np.testing.assert_allclose(outputs["y"], ref, rtol=tol, atol=tol)


def test_activations_in_a_model(tmp_path) -> None:
    """conv -> sigmoid * x (SiLU) -> tanh -> gemm -> softplus -> softmax."""
    rng = np.random.default_rng(0)
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Sigmoid", ["c"], ["s"]),
        helper.make_node("Mul", ["c", "s"], ["silu"]),
        helper.make_node("Tanh", ["silu"], ["t"]),
        helper.make_node("Flatten", ["t"], ["f"]),
        helper.make_node("Gemm", ["f", "g"], ["z"], transB=1),
        helper.make_node("Softplus", ["z"], ["sp"]),
        helper.make_node("Softmax", ["sp"], ["y"], axis=1),
    ]
    weights = {"w": weight(rng, (16, 8, 3, 3), 72), "g": weight(rng, (10, 16 * 6 * 6), 576)}
    model = build(nodes, {"x": (1, 8, 6, 6)}, ["y"], weights)
    _, stats = check(model, tmp_path, chip="small")
    assert stats["placement"]["host"] == 0


@pytest.mark.parametrize("chip", ["small", "default"])
@pytest.mark.parametrize("gate_first", [False, True])
def test_silu_matches_onnxruntime(chip: str, gate_first: bool, tmp_path) -> None:
    """x * sigmoid(x), as PyTorch exports a SiLU, over and past the silu table's range
    ([-20, 16)): one pass of ACT's silu table (graph-fuse-epilogue{silu}), within the
    tables' accuracy of onnxruntime's two ops."""
    shape = (2, 40, 9, 7)
    mul = ["s", "x"] if gate_first else ["x", "s"]
    nodes = [helper.make_node("Sigmoid", ["x"], ["s"]), helper.make_node("Mul", mul, ["y"])]
    model = build(nodes, {"x": shape}, ["y"])
    x = np.random.default_rng(5).uniform(-30, 30, shape).astype(np.float32)
    outputs, stats = check(model, tmp_path, chip=chip, inputs={"x": x})
    assert stats["placement"]["accel"] == 1  # one op: the silu
    ref = ort.InferenceSession(str(tmp_path / "model.onnx")).run(None, {"x": x})[0]
    tol = 2e-5 if chip == "small" else 2e-6
    np.testing.assert_allclose(outputs["y"], ref, rtol=tol, atol=tol)


@pytest.mark.parametrize("disabled", [(), ("fuse-silu",)])
def test_conv_silu_epilogue(disabled: tuple[str, ...], tmp_path) -> None:
    """EfficientNet's conv -> SiLU -> depthwise conv -> SiLU -> 1x1 conv, with
    fuse-silu (each SiLU the conv's epilogue: ACT's silu table as the accumulator is
    evacuated) and without it (a sigmoid on ACT and a multiply on POOL), both against
    onnxruntime; with it, no op of its own is left for a SiLU."""
    rng = np.random.default_rng(1)
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Sigmoid", ["c1"], ["s1"]),
        helper.make_node("Mul", ["c1", "s1"], ["a1"]),
        helper.make_node("Conv", ["a1", "w2", "b2"], ["c2"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=32),
        helper.make_node("Sigmoid", ["c2"], ["s2"]),
        helper.make_node("Mul", ["s2", "c2"], ["a2"]),
        helper.make_node("Conv", ["a2", "w3"], ["y"], kernel_shape=[1, 1]),
    ]
    weights = {
        "w1": weight(rng, (32, 3, 3, 3), 27),
        "w2": weight(rng, (32, 1, 3, 3), 9),
        "b2": weight(rng, (32,), 1),
        "w3": weight(rng, (16, 32, 1, 1), 32),
    }
    model = build(nodes, {"x": (1, 3, 32, 32)}, ["y"], weights)
    x = {"x": (4 * np.random.default_rng(2).standard_normal((1, 3, 32, 32))).astype(np.float32)}
    _, stats = check(model, tmp_path, chip="default", inputs=x, disabled=disabled)
    assert stats["placement"]["host"] == 0
    ops = stats["placement"]["accel"]
    assert ops == (3 if not disabled else 7), stats["placement"]


GELU_FORMS = {
    # PyTorch's nn.GELU() at opset 17: x / sqrt 2 -> Erf -> + 1 -> x * . -> * 0.5
    "torch": [
        helper.make_node("Div", ["x", "sqrt2"], ["d"]),
        helper.make_node("Erf", ["d"], ["e"]),
        helper.make_node("Add", ["e", "one"], ["a"]),
        helper.make_node("Mul", ["x", "a"], ["m"]),
        helper.make_node("Mul", ["m", "half"], ["y"]),
    ],
    # Hugging Face's BERT: x * 0.5 * (1 + erf(x / sqrt 2))
    "hf": [
        helper.make_node("Mul", ["x", "half"], ["h"]),
        helper.make_node("Div", ["x", "sqrt2"], ["d"]),
        helper.make_node("Erf", ["d"], ["e"]),
        helper.make_node("Add", ["one", "e"], ["a"]),
        helper.make_node("Mul", ["h", "a"], ["y"]),
    ],
    "onnx-gelu": [helper.make_node("Gelu", ["x"], ["y"])],  # opset 20
    # GPT-2's gelu_new, the tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    "gpt2-tanh": [
        helper.make_node("Mul", ["x", "half"], ["h"]),
        helper.make_node("Pow", ["x", "three"], ["p"]),
        helper.make_node("Mul", ["p", "cubic"], ["c"]),
        helper.make_node("Add", ["x", "c"], ["s"]),
        helper.make_node("Mul", ["s", "sqrt2pi"], ["u"]),
        helper.make_node("Tanh", ["u"], ["t"]),
        helper.make_node("Add", ["t", "one"], ["a"]),
        helper.make_node("Mul", ["h", "a"], ["y"]),
    ],
}


@pytest.mark.parametrize("chip", ["small", "default"])
@pytest.mark.parametrize("form", sorted(GELU_FORMS))
def test_gelu_erf_matches_onnxruntime(form: str, chip: str, tmp_path) -> None:
    """GELU as exporters write it: the erf form one pass of ACT's gelu_erf table
    (graph-fuse-epilogue{gelu}; ONNX Gelu imports as it), GPT-2's tanh form one of
    its gelu table, over and past the tables' range ([-6, 6)), within the tables'
    accuracy of onnxruntime."""
    shape = (2, 40, 9, 7)
    consts = {
        "sqrt2": np.array(np.sqrt(2.0), np.float32),
        "one": np.array(1.0, np.float32),
        "half": np.array(0.5, np.float32),
        "three": np.array(3.0, np.float32),
        "cubic": np.array(0.044715, np.float32),
        "sqrt2pi": np.array(np.sqrt(2.0 / np.pi), np.float32),
    }
    nodes = GELU_FORMS[form]
    used = {i for node in nodes for i in node.input}
    weights = {k: v for k, v in consts.items() if k in used}
    model = build(nodes, {"x": shape}, ["y"], weights, opset=20 if form == "onnx-gelu" else 17)
    x = np.random.default_rng(6).uniform(-10, 10, shape).astype(np.float32)
    outputs, stats = check(model, tmp_path, chip=chip, inputs={"x": x})
    assert stats["placement"]["accel"] == 1  # one op: the gelu_erf or gelu
    ref = ort.InferenceSession(str(tmp_path / "model.onnx")).run(None, {"x": x})[0]
    tol = 2e-5 if chip == "small" else 2e-6
    np.testing.assert_allclose(outputs["y"], ref, rtol=tol, atol=tol)


@pytest.mark.parametrize("disabled", [(), ("fuse-gelu",)])
def test_gemm_gelu_epilogue(disabled: tuple[str, ...], tmp_path) -> None:
    """A transformer MLP exported with Gemms: Gemm -> GELU (PyTorch's form) -> Gemm;
    with fuse-gelu the GELU is the first Gemm's epilogue (ACT's gelu_erf table as the
    accumulator is evacuated), without it five nests; both against onnxruntime."""
    rng = np.random.default_rng(4)
    nodes = [
        helper.make_node("Gemm", ["x", "w1", "b1"], ["g"], transB=1),
        *[helper.make_node(n.op_type, [{"x": "g"}.get(i, i) for i in n.input], list(n.output)) for n in GELU_FORMS["torch"][:-1]],
        helper.make_node("Mul", ["m", "half"], ["h"]),
        helper.make_node("Gemm", ["h", "w2"], ["y"], transB=1),
    ]
    weights = {
        "w1": weight(rng, (64, 32), 32),
        "b1": weight(rng, (64,), 1),
        "w2": weight(rng, (16, 64), 64),
        "sqrt2": np.array(np.sqrt(2.0), np.float32),
        "one": np.array(1.0, np.float32),
        "half": np.array(0.5, np.float32),
    }
    model = build(nodes, {"x": (8, 32)}, ["y"], weights)
    _, stats = check(model, tmp_path, chip="default", disabled=disabled)
    assert stats["placement"]["host"] == 0
    assert stats["placement"]["accel"] == (2 if not disabled else 7), stats["placement"]


def test_the_lut_example_runs() -> None:
    """examples/lut_activations.py, as docs/lut.md tells a user to run it."""
    out = run_example("lut_activations")
    assert "vs onnxruntime" in out and "tanh table of 256 rows" in out

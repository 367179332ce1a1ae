"""Differential testing of the layer patterns that random graphs seldom draw: random
instances of each, compiled, run on the hardware model and compared with onnxruntime.

    .venv/bin/python bench/pattern_difftest.py --cases 150 --seed 2 [--chip small]
        [--disable-opt NAME ...] [--pattern NAME ...]

`bench/difftest.py`'s random graphs have small tensors, so the shapes that switch
on some optimisations never come up (0 of 500 graphs there took any of these).
Each case here is one of twelve patterns, with random sizes around the chip's partition
count P (32 on `small`, 128 on `default`):

- gemm: x [1, K] -> Gemm (bias, transB or not) -> Softmax or LogSoftmax over a row of
  nt x ts logits (softmax-spread's gemm and spread softmax);
- pooled: GlobalAveragePool over C channels -> Softmax over them (the spread
  softmax reading a channel-tiled row);
- narrow: a 3x3 or 5x5 conv to a P-multiple plus r <= P/2 outputs, relu, concatenated
  with its input (graph-split-cout);
- lrn: LRN over planes of 24x24 to 49x49 (lrn-pieces);
- transition: relu, 1x1 conv with bias, an s x s stride-s average pooling
  (graph-swap-avgpool);
- norm: a per-channel scale and shift with relu over planes of 40x40 to 69x69, then a
  1x1 conv (affine-pieces);
- fire: two convs of one input, one kernel inside the other, concatenated
  (graph-merge-siblings);
- branch: an Inception pool branch: inputs of random channel counts concatenated
  to more than P channels that P does not divide, one or two max or average
  poolings (3x3, stride 1 or 2), then a 1x1 conv (ragged-pools);
- stem: a conv of 1-4 channels, 3x3 to 7x7, stride 1 or 2, dilation 1 or 2, padded
  to keep the size (over the stride), relu, and half the time a 3x3 stride-2 max
  pooling (im2col-clip, im2col-reuse, conv-reader-bands);
- mobile: an inverted residual block as MobileNet v2 and EfficientNet have them: a
  1x1 expansion to P/16 to 2P channels over a plane of P/2 to 3P (at most 160)
  pixels a side, an
  activation (ReLU6, SiLU or relu), a 3x3 depthwise conv (stride 1 or 2), the
  activation, half the time a squeeze-excitation (global average, 1x1, relu, 1x1,
  sigmoid, scale), and a 1x1 projection (graph-fold-clip, eltwise-channels,
  depthwise-bands: a narrow depthwise layer too big for SBUF whole);
- mlp: a transformer MLP over P-ish tokens (P, P + 1, 2P - 3 or any up to 3P): a Gemm
  or a MatMul and a bias Add to a hidden width, GELU in PyTorch's erf form, Hugging
  Face's, or GPT-2's tanh form, a MatMul and a bias Add back (fuse-gelu);
- keras: a MobileNetV3 block as tf2onnx exports a Keras model: an NHWC input (half
  the time padded by a row and a column of zeros for a 3x3 stride-2 stem), each
  conv between a transpose to NCHW and one back, the batch norms a Mul and an Add of
  [C] constants in NHWC, hard swish (Add 3, Clip to [0, 6], Mul by 1/6, Mul) or relu,
  a stride-2 depthwise conv after a Pad of one row and column of zeros (ZeroPadding2D),
  half the time a squeeze-excitation (ReduceMean over H and W, 1x1, relu, 1x1, hard
  sigmoid, scale), a 1x1 projection (graph-sink-transposes, graph-fold-pad,
  fuse-hardswish).

A case passes when max|tidal - ort| < 1e-4 * max|ort|. Prints each failing case
(pattern, shapes, error or exception) and the counts per pattern; exits 1 when any
case fails.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import numpy as np
import onnxruntime as ort
from onnx import ModelProto, TensorProto, helper, numpy_helper
from tidal.passes.interpreters.accel import eval_binary
from tidal.passes.pipeline import lowering_passes, run_passes
from tidal.sim.config import get_chip
from tidal.targets.onnx_import import import_onnx
from xdsl.context import Context

Case = tuple[list, list, dict[str, list[int]], list[int]]  # nodes, weights, inputs, output shape


def _gemm(rng: np.random.Generator, p: int) -> Case:
    k = int(rng.integers(8, 3 * p))
    ts = int(rng.choice([p, p // 2, p - 3]))
    n = ts * int(rng.integers(4, 12))
    w = (rng.standard_normal((k, n)) * 0.3).astype(np.float32)
    trans = bool(rng.integers(2))
    op = str(rng.choice(["Softmax", "LogSoftmax"]))
    weights = [numpy_helper.from_array(w.T.copy() if trans else w, "w"),
               numpy_helper.from_array(rng.standard_normal(n).astype(np.float32), "b")]
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=int(trans)),
             helper.make_node(op, ["y"], ["out"], axis=1)]
    return nodes, weights, {"x": [1, k]}, [1, n]


def _pooled(rng: np.random.Generator, p: int) -> Case:
    c = p * int(rng.integers(4, 10)) - int(rng.integers(0, 2)) * (p // 4)
    h = int(rng.integers(1, 6))
    nodes = [helper.make_node("GlobalAveragePool", ["x"], ["g"]),
             helper.make_node("Softmax", ["g"], ["out"], axis=1)]
    return nodes, [], {"x": [1, c, h, h]}, [1, c, 1, 1]


def _narrow(rng: np.random.Generator, p: int) -> Case:
    cin, r = int(rng.integers(4, p)), int(rng.integers(1, p // 2 + 1))
    cout = p * int(rng.integers(1, 3)) + r
    k, h = int(rng.choice([3, 5])), int(rng.integers(4, 15))
    weights = [numpy_helper.from_array((rng.standard_normal((cout, cin, k, k)) * 0.2).astype(np.float32), "w"),
               numpy_helper.from_array(rng.standard_normal(cout).astype(np.float32), "b")]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[k // 2] * 4),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("Concat", ["r", "x"], ["out"], axis=1)]
    return nodes, weights, {"x": [1, cin, h, h]}, [1, cout + cin, h, h]


def _lrn(rng: np.random.Generator, p: int) -> Case:
    c, h = int(rng.integers(8, 2 * p)), int(rng.integers(24, 50))
    nodes = [helper.make_node("LRN", ["x"], ["out"], size=int(rng.choice([3, 5])), alpha=1e-3, beta=0.75, bias=1.0)]
    return nodes, [], {"x": [1, c, h, h]}, [1, c, h, h]


def _transition(rng: np.random.Generator, p: int) -> Case:
    cin, cout, s = int(rng.integers(4, 3 * p)), int(rng.integers(4, 2 * p)), int(rng.choice([2, 3]))
    h = s * int(rng.integers(2, 9))
    weights = [numpy_helper.from_array((rng.standard_normal((cout, cin, 1, 1)) * 0.2).astype(np.float32), "w"),
               numpy_helper.from_array(rng.standard_normal(cout).astype(np.float32), "b")]
    nodes = [helper.make_node("Relu", ["x"], ["r"]),
             helper.make_node("Conv", ["r", "w", "b"], ["c"]),
             helper.make_node("AveragePool", ["c"], ["out"], kernel_shape=[s, s], strides=[s, s])]
    return nodes, weights, {"x": [1, cin, h, h]}, [1, cout, h // s, h // s]


def _norm(rng: np.random.Generator, p: int) -> Case:
    c, h, cout = int(rng.integers(8, 2 * p)), int(rng.integers(40, 70)), int(rng.integers(8, p + 1))
    weights = [numpy_helper.from_array(rng.standard_normal((c, 1, 1)).astype(np.float32), "s"),
               numpy_helper.from_array(rng.standard_normal((c, 1, 1)).astype(np.float32), "t"),
               numpy_helper.from_array((rng.standard_normal((cout, c, 1, 1)) * 0.2).astype(np.float32), "w")]
    nodes = [helper.make_node("Mul", ["x", "s"], ["m"]), helper.make_node("Add", ["m", "t"], ["a"]),
             helper.make_node("Relu", ["a"], ["r"]), helper.make_node("Conv", ["r", "w"], ["out"])]
    return nodes, weights, {"x": [1, c, h, h]}, [1, cout, h, h]


def _fire(rng: np.random.Generator, p: int) -> Case:
    """Two convs of one input concatenated, one kernel inside the other (1x1 and 3x3
    or 5x5, or 3x3 and 5x5; each padded to keep the size), relu on both or neither,
    the pair in either order, together at most the columns or a little more."""
    cin, h = int(rng.integers(4, p)), int(rng.integers(5, 20))
    small, big = [(1, 3), (1, 5), (3, 5)][int(rng.integers(3))]
    m1 = int(rng.integers(1, p // 2 + 2))
    m2 = int(rng.integers(1, p + 3 - m1))
    relu = bool(rng.integers(2))
    weights, outs, nodes = [], [], []
    pair = [(small, m1), (big, m2)]
    if rng.integers(2):
        pair.reverse()
    for i, (k, m) in enumerate(pair):
        weights += [numpy_helper.from_array((rng.standard_normal((m, cin, k, k)) * 0.2).astype(np.float32), f"w{i}"),
                    numpy_helper.from_array(rng.standard_normal(m).astype(np.float32), f"b{i}")]
        nodes.append(helper.make_node("Conv", ["x", f"w{i}", f"b{i}"], [f"c{i}"], pads=[k // 2] * 4))
        if relu:
            nodes.append(helper.make_node("Relu", [f"c{i}"], [f"r{i}"]))
        outs.append(f"r{i}" if relu else f"c{i}")
    nodes.append(helper.make_node("Concat", outs, ["out"], axis=1))
    return nodes, weights, {"x": [1, cin, h, h]}, [1, m1 + m2, h, h]


def _branch(rng: np.random.Generator, p: int) -> Case:
    """Two or three inputs concatenated to P < C < 5P channels, C not a multiple of
    P; one or two poolings, each a 3x3 max or average (padding counted or not),
    stride 1 with pads 1 or stride 2 with the bottom and right padded by one (a
    ceil-mode pooling's); then a 1x1 conv."""
    while True:
        sizes = [int(rng.integers(1, 2 * p)) for _ in range(int(rng.integers(2, 4)))]
        if p < sum(sizes) < 5 * p and sum(sizes) % p:
            break
    size = h = int(rng.integers(5, 16))
    names = [f"x{i}" for i in range(len(sizes))]
    nodes = [helper.make_node("Concat", names, ["p0"], axis=1)]
    pools = int(rng.integers(1, 3))
    for i in range(pools):
        kind = str(rng.choice(["MaxPool", "AveragePool"]))
        stride = int(rng.integers(1, 3)) if h >= 5 else 1
        pads = [1, 1, 1, 1] if stride == 1 else [0, 0, 1, 1]
        attrs = {"count_include_pad": int(rng.integers(2))} if kind == "AveragePool" else {}
        nodes.append(helper.make_node(kind, [f"p{i}"], [f"p{i + 1}"], kernel_shape=[3, 3], strides=[stride] * 2,
                                      pads=pads, **attrs))
        h = (h + pads[0] + pads[2] - 3) // stride + 1
    cout = int(rng.integers(1, p + 1))
    weights = [numpy_helper.from_array((rng.standard_normal((cout, sum(sizes), 1, 1)) * 0.1).astype(np.float32), "w")]
    nodes.append(helper.make_node("Conv", [f"p{pools}", "w"], ["out"]))
    return nodes, weights, {n: [1, c, size, size] for n, c in zip(names, sizes, strict=True)}, [1, cout, h, h]


def _stem(rng: np.random.Generator, p: int) -> Case:
    """A conv of cin = 1-4 channels to 4-64 (k x k, k odd from 3 to 7, stride 1
    or 2, dilation 1 or 2, pads dilation x (k // 2)) over a plane of P / 2 to P + 32
    pixels a side, relu, then half the time a 3x3 stride-2 max pooling (pads 1)."""
    cin, cout = int(rng.integers(1, 5)), int(rng.integers(4, 65))
    k = int(rng.choice([3, 5, 7]))
    stride, dilation = int(rng.integers(1, 3)), int(rng.choice([1, 1, 2]))
    pad = dilation * (k // 2)
    size = int(rng.integers(p // 2, p + 33))
    h = (size + 2 * pad - dilation * (k - 1) - 1) // stride + 1
    weights = [numpy_helper.from_array((rng.standard_normal((cout, cin, k, k)) * 0.2).astype(np.float32), "w"),
               numpy_helper.from_array(rng.standard_normal(cout).astype(np.float32), "b")]
    pool = bool(rng.integers(2)) and h >= 3
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], strides=[stride] * 2, pads=[pad] * 4,
                              dilations=[dilation] * 2),
             helper.make_node("Relu", ["c"], ["r" if pool else "out"])]
    if pool:
        nodes.append(helper.make_node("MaxPool", ["r"], ["out"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]))
        h = (h + 2 - 3) // 2 + 1
    return nodes, weights, {"x": [1, cin, size, size]}, [1, cout, h, h]


def _mobile(rng: np.random.Generator, p: int) -> Case:
    """An inverted residual block (the module docstring's "mobile")."""
    cin = int(rng.integers(3, 17))
    c = int(rng.integers(max(2, p // 16), 2 * p + 1))
    size = int(rng.integers(p // 2, min(3 * p, 160) + 1))
    stride = int(rng.integers(1, 3))
    act = str(rng.choice(["relu6", "silu", "relu"]))
    weights = []
    if act == "relu6":
        weights += [numpy_helper.from_array(np.array(v, np.float32), n) for n, v in (("lo", 0.0), ("hi", 6.0))]
    nodes: list = []

    def conv(x: str, out: str, shape: tuple[int, ...], **attrs: object) -> None:
        fan_in = int(np.prod(shape[1:]))
        weights.extend([
            numpy_helper.from_array((rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32), f"{out}_w"),
            numpy_helper.from_array((rng.standard_normal(shape[0]) * 0.1).astype(np.float32), f"{out}_b"),
        ])
        nodes.append(helper.make_node("Conv", [x, f"{out}_w", f"{out}_b"], [out], **attrs))

    def activate(x: str, out: str) -> None:
        if act == "relu6":
            nodes.append(helper.make_node("Clip", [x, "lo", "hi"], [out]))
        elif act == "silu":
            nodes.extend([helper.make_node("Sigmoid", [x], [f"{x}_s"]), helper.make_node("Mul", [x, f"{x}_s"], [out])])
        else:
            nodes.append(helper.make_node("Relu", [x], [out]))

    conv("x", "e", (c, cin, 1, 1))
    activate("e", "ea")
    conv("ea", "d", (c, 1, 3, 3), group=c, strides=[stride] * 2, pads=[1] * 4)
    activate("d", "da")
    last = "da"
    if rng.integers(2):
        squeeze = max(1, c // 4)
        nodes.append(helper.make_node("GlobalAveragePool", ["da"], ["g"]))
        conv("g", "r", (squeeze, c, 1, 1))
        nodes.append(helper.make_node("Relu", ["r"], ["rr"]))
        conv("rr", "u", (c, squeeze, 1, 1))
        nodes += [helper.make_node("Sigmoid", ["u"], ["gate"]), helper.make_node("Mul", ["da", "gate"], ["se"])]
        last = "se"
    cout = int(rng.integers(4, 33))
    conv(last, "out", (cout, c, 1, 1))
    h = (size + 2 - 3) // stride + 1
    return nodes, weights, {"x": [1, cin, size, size]}, [1, cout, h, h]


def _mlp(rng: np.random.Generator, p: int) -> Case:
    """A transformer MLP (the module docstring's "mlp")."""
    tokens = int(rng.choice([p, p + 1, 2 * p - 3, int(rng.integers(2, 3 * p))]))
    d = int(rng.integers(8, 2 * p + 1))
    hidden = int(rng.integers(d, 4 * d + 1))
    form = str(rng.choice(["torch", "hf", "tanh"]))
    gemm = bool(rng.integers(2))
    weights = [numpy_helper.from_array(np.array(v, np.float32), n) for n, v in (
        ("half", 0.5), ("one", 1.0), ("sqrt2", np.sqrt(2.0)), ("cubic", 0.044715),
        ("sqrt2pi", np.sqrt(2.0 / np.pi)), ("three", 3.0))]
    nodes: list = []
    for name, (rows, cols) in (("w1", (d, hidden)), ("w2", (hidden, d))):
        weights += [
            numpy_helper.from_array((rng.standard_normal((rows, cols)) * np.sqrt(2.0 / rows)).astype(np.float32), name),
            numpy_helper.from_array((rng.standard_normal(cols) * 0.5).astype(np.float32), f"{name}_b"),
        ]
    if gemm:
        nodes.append(helper.make_node("Gemm", ["x", "w1", "w1_b"], ["h"]))
    else:
        nodes += [helper.make_node("MatMul", ["x", "w1"], ["hm"]), helper.make_node("Add", ["hm", "w1_b"], ["h"])]
    n = helper.make_node
    if form == "torch":
        nodes += [n("Div", ["h", "sqrt2"], ["u"]), n("Erf", ["u"], ["e"]), n("Add", ["e", "one"], ["a"]),
                  n("Mul", ["h", "a"], ["m"]), n("Mul", ["m", "half"], ["g"])]
    elif form == "hf":
        nodes += [n("Mul", ["h", "half"], ["hh"]), n("Div", ["h", "sqrt2"], ["u"]), n("Erf", ["u"], ["e"]),
                  n("Add", ["one", "e"], ["a"]), n("Mul", ["hh", "a"], ["g"])]
    else:
        nodes += [n("Mul", ["h", "half"], ["hh"]), n("Pow", ["h", "three"], ["c3"]), n("Mul", ["c3", "cubic"], ["c"]),
                  n("Add", ["h", "c"], ["s"]), n("Mul", ["s", "sqrt2pi"], ["u"]), n("Tanh", ["u"], ["t"]),
                  n("Add", ["t", "one"], ["a"]), n("Mul", ["hh", "a"], ["g"])]
    nodes += [n("MatMul", ["g", "w2"], ["o"]), n("Add", ["o", "w2_b"], ["out"])]
    read = {i for node in nodes for i in node.input}
    return nodes, [w for w in weights if w.name in read], {"x": [tokens, d]}, [tokens, d]


def _keras(rng: np.random.Generator, p: int) -> Case:
    """A MobileNetV3 block as tf2onnx exports a Keras model (the module docstring's
    "keras")."""
    cin = int(rng.integers(3, 17))
    c = int(rng.integers(max(2, p // 16), 2 * p + 1))
    size = int(rng.integers(p // 4, min(2 * p, 96) + 1))
    side = size
    stride = int(rng.integers(1, 3))
    act = str(rng.choice(["hard_swish", "relu"]))
    n = helper.make_node
    f = lambda a, name: numpy_helper.from_array(np.asarray(a, np.float32), name)  # noqa: E731
    weights = [f(3.0, "three"), f(0.0, "zero"), f(6.0, "six"), f(1 / 6, "sixth")]
    nodes: list = []
    nhwc, nchw = [0, 2, 3, 1], [0, 3, 1, 2]

    def conv(x: str, out: str, shape: tuple[int, ...], **attrs: object) -> None:
        """NHWC in and out: a transpose to NCHW, the conv, a transpose back."""
        fan_in = int(np.prod(shape[1:]))
        weights.extend([f(rng.standard_normal(shape) * np.sqrt(2.0 / fan_in), f"{out}_w"),
                        f(rng.standard_normal(shape[0]) * 0.1, f"{out}_b")])
        nodes.extend([n("Transpose", [x], [f"{out}_t"], perm=nchw),
                      n("Conv", [f"{out}_t", f"{out}_w", f"{out}_b"], [f"{out}_c"], **attrs),
                      n("Transpose", [f"{out}_c"], [out], perm=nhwc)])

    def norm(x: str, out: str, channels: int) -> None:
        weights.extend([f(rng.uniform(0.5, 1.5, channels), f"{out}_s"), f(rng.normal(0, 0.2, channels), f"{out}_h")])
        nodes.extend([n("Mul", [x, f"{out}_s"], [f"{out}_m"]), n("Add", [f"{out}_m", f"{out}_h"], [out])])

    def hard_sigmoid(x: str, out: str) -> None:
        nodes.extend([n("Add", [x, "three"], [f"{out}_a"]), n("Clip", [f"{out}_a", "zero", "six"], [f"{out}_r"]),
                      n("Mul", [f"{out}_r", "sixth"], [out])])

    def activate(x: str, out: str) -> None:
        if act == "relu":
            nodes.append(n("Relu", [x], [out]))
        else:
            hard_sigmoid(x, f"{out}_g")
            nodes.append(n("Mul", [x, f"{out}_g"], [out]))

    first = "x"
    if rng.integers(2):  # a stem: the NHWC input padded, then a 3x3 stride-2 'valid' conv
        weights.append(numpy_helper.from_array(np.array([0, 0, 0, 0, 0, 1, 1, 0], np.int64), "stem_pads"))
        nodes.append(n("Pad", ["x", "stem_pads"], ["xp"]))
        conv("xp", "s", (cin, cin, 3, 3), strides=[2, 2])
        first, size = "s", (size + 1 - 3) // 2 + 1
    conv(first, "e", (c, cin, 1, 1))
    norm("e", "en", c)
    activate("en", "ea")
    if stride == 2:  # ZeroPadding2D(((0, 1), (0, 1))) and a 'valid' strided depthwise conv
        weights.append(numpy_helper.from_array(np.array([0, 0, 0, 0, 0, 1, 1, 0], np.int64), "pads"))
        nodes.append(n("Pad", ["ea", "pads"], ["ep"]))
        conv("ep", "d", (c, 1, 3, 3), group=c, strides=[2, 2])
        h = (size + 1 - 3) // 2 + 1
    else:
        conv("ea", "d", (c, 1, 3, 3), group=c, pads=[1] * 4)
        h = size
    norm("d", "dn", c)
    activate("dn", "da")
    last = "da"
    if rng.integers(2):
        squeeze = max(1, c // 4)
        nodes.append(n("ReduceMean", ["da"], ["g"], axes=[1, 2], keepdims=1))  # opset 13
        conv("g", "r", (squeeze, c, 1, 1))
        nodes.append(n("Relu", ["r"], ["rr"]))
        conv("rr", "u", (c, squeeze, 1, 1))
        hard_sigmoid("u", "gate")
        nodes.append(n("Mul", ["da", "gate"], ["se"]))
        last = "se"
    cout = int(rng.integers(4, 33))
    conv(last, "out", (cout, c, 1, 1))
    read = {i for node in nodes for i in node.input}
    return nodes, [w for w in weights if w.name in read], {"x": [1, side, side, cin]}, [1, h, h, cout]


PATTERNS: dict[str, Callable[[np.random.Generator, int], Case]] = {
    "gemm": _gemm, "pooled": _pooled, "narrow": _narrow, "lrn": _lrn, "transition": _transition, "norm": _norm,
    "fire": _fire, "branch": _branch, "stem": _stem, "mobile": _mobile, "mlp": _mlp, "keras": _keras,
}


def as_model(case: Case) -> ModelProto:
    nodes, weights, inputs, out = case
    graph = helper.make_graph(
        nodes, "pattern",
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, v) for k, v in inputs.items()],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, out)], weights,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=150)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--chip", default="small")
    ap.add_argument("--disable-opt", action="append", default=[], metavar="NAME")
    ap.add_argument("--pattern", action="append", choices=list(PATTERNS), help="draw only these (repeatable)")
    args = ap.parse_args()
    p = get_chip(args.chip).sbuf_partitions
    rng = np.random.default_rng(args.seed)
    names = args.pattern or list(PATTERNS)
    tried = dict.fromkeys(names, 0)
    failed = dict.fromkeys(names, 0)
    for i in range(args.cases):
        name = names[int(rng.integers(len(names)))]
        case = PATTERNS[name](rng, p)
        model = as_model(case)
        x = {k: (rng.standard_normal(v) * 2).astype(np.float32) for k, v in case[2].items()}
        want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, x)[0]
        tried[name] += 1
        try:
            module = import_onnx(model)
            run_passes(lowering_passes(args.chip, disabled=args.disable_opt), module, Context(), [])
            got = eval_binary(module, x)["out"]
            err = float(np.abs(got - want).max() / max(1e-6, float(np.abs(want).max())))
            if not err < 1e-4:
                failed[name] += 1
                print(f"case {i} ({name}, inputs {case[2]}): relative error {err:.2e}", flush=True)
        except Exception as e:  # a crash is a failure to report, not to stop on
            failed[name] += 1
            print(f"case {i} ({name}, inputs {case[2]}): {type(e).__name__}: {e}"[:400], flush=True)
    print(f"chip {args.chip}, seed {args.seed}: " + ", ".join(f"{n} {tried[n]} ({failed[n]} failed)" for n in names))
    return 1 if any(failed.values()) else 0


if __name__ == "__main__":
    sys.exit(main())

"""Random valid ONNX graphs (opset 13) over Tidal's operators, for differential
testing against onnxruntime, in the style of Csmith.

Every decision of the generator goes through a `Chooser` (an integer in a range, an
option from a list), so one generator serves two drivers:

- `graphs()`, a hypothesis strategy: each choice is a hypothesis draw, so a failing
  graph shrinks (choices fall toward their first option, node counts toward 1) to a
  minimal one, and a run is deterministic under `derandomize=True` or `@seed`;
- `RngChooser`, a seeded NumPy driver for the long runs (`bench/difftest.py`, which
  shrinks a failure at the graph level instead).

A graph starts from one or two random inputs and appends 1..`max_nodes` nodes; each
node takes an earlier tensor it accepts (the newest one half the time, so chains are
as common as branches). Every tensor that no node consumes is a graph output, and a
consumed one sometimes is too. Weights are He-initialised and biases PyTorch-style,
so fp32 comparisons stay meaningful; no tensor exceeds `MAX_ELEMS` elements.

Adding an operator is one `OpEntry` in `OPS`: the shapes it accepts and a builder
that draws its attributes and appends its node(s) through a `GraphBuilder`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from math import prod
from typing import Any, Protocol, TypeVar

import numpy as np
import onnx
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
MAX_ELEMS = 12288  # largest tensor, in elements (keeps one case well under a second)
MAX_NODES = 10

T = TypeVar("T")
Shape = tuple[int, ...]


# ---------------------------------------------------------------------- choosers


class Chooser(Protocol):
    def integer(self, lo: int, hi: int) -> int:
        """An integer in [lo, hi]; shrinks toward lo."""
        ...


def choice(ch: Chooser, options: Sequence[T]) -> T:
    """One of `options`; shrinks toward the first."""
    return options[ch.integer(0, len(options) - 1)]


def weighted(ch: Chooser, options: Sequence[tuple[T, int]]) -> T:
    """One of `options` (value, weight); shrinks toward the first."""
    k = ch.integer(0, sum(w for _, w in options) - 1)
    for value, w in options:
        if k < w:
            return value
        k -= w
    raise AssertionError("unreachable")


def chance(ch: Chooser, percent: int) -> bool:
    """True with probability `percent`/100; shrinks toward False."""
    return ch.integer(0, 99) >= 100 - percent


class DrawChooser:
    """Choices drawn by hypothesis (inside `st.composite`)."""

    def __init__(self, draw: Callable[[st.SearchStrategy[Any]], Any]):
        self.draw = draw

    def integer(self, lo: int, hi: int) -> int:
        return lo if lo >= hi else int(self.draw(st.integers(lo, hi)))


class RngChooser:
    """Uniform choices from a seeded NumPy generator."""

    def __init__(self, seed: int | Sequence[int]):
        self.rng = np.random.default_rng(seed)

    def integer(self, lo: int, hi: int) -> int:
        return lo if lo >= hi else int(self.rng.integers(lo, hi + 1))


# ------------------------------------------------------------------ graph builder


@dataclass(frozen=True)
class Tensor:
    name: str
    shape: Shape


@dataclass
class Case:
    """A generated model with its inputs; `ops` lists its node op types."""

    model: onnx.ModelProto
    inputs: dict[str, np.ndarray]
    ops: list[str]

    def describe(self) -> str:
        ins = ", ".join(f"{k}{list(v.shape)}" for k, v in self.inputs.items())
        return f"{len(self.ops)} nodes ({' '.join(self.ops)}) on {ins}"

    def __repr__(self) -> str:  # what hypothesis prints for a falsifying example
        return f"Case({self.describe()}):\n{to_python(self.model)}"


@dataclass
class GraphBuilder:
    """Collects nodes, constants and inputs; tracks every activation's shape."""

    value_seed: int
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    initializers: dict[str, np.ndarray] = field(default_factory=dict)
    constant_nodes: set[str] = field(default_factory=set)
    inputs: list[Tensor] = field(default_factory=list)
    tensors: list[Tensor] = field(default_factory=list)  # activations, in order
    consumed: set[str] = field(default_factory=set)
    counter: itertools.count[int] = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.value_seed)

    def fresh(self, prefix: str) -> str:
        return f"{prefix}{next(self.counter)}"

    def add_input(self, shape: Shape) -> Tensor:
        t = Tensor(f"in{len(self.inputs)}", shape)
        self.inputs.append(t)
        self.tensors.append(t)
        return t

    # -- constants: initializers, or (one in ten) Constant nodes

    def const(self, ch: Chooser, prefix: str, array: np.ndarray) -> str:
        name = self.fresh(prefix)
        if chance(ch, 10):
            self.constant_nodes.add(name)
            self.nodes.append(
                helper.make_node(
                    "Constant", [], [name], name=f"{name}_const",
                    value=numpy_helper.from_array(array, name),
                )
            )
        self.initializers[name] = array
        return name

    def weight(self, ch: Chooser, prefix: str, shape: Shape, fan_in: int) -> str:
        """He-initialised: std sqrt(2 / fan_in)."""
        std = np.sqrt(2.0 / max(fan_in, 1))
        return self.const(ch, prefix, (self.rng.standard_normal(shape) * std).astype(np.float32))

    def bias(self, ch: Chooser, prefix: str, shape: Shape, fan_in: int) -> str:
        """Uniform in +-1/sqrt(fan_in)."""
        bound = 1.0 / np.sqrt(max(fan_in, 1))
        return self.const(ch, prefix, self.rng.uniform(-bound, bound, shape).astype(np.float32))

    def normal(self, ch: Chooser, prefix: str, shape: Shape, std: float = 1.0) -> str:
        return self.const(ch, prefix, (self.rng.standard_normal(shape) * std).astype(np.float32))

    def uniform(self, ch: Chooser, prefix: str, shape: Shape, lo: float, hi: float) -> str:
        return self.const(ch, prefix, self.rng.uniform(lo, hi, shape).astype(np.float32))

    # -- nodes

    def node(self, op_type: str, inputs: Sequence[str], shape: Shape, **attrs: Any) -> Tensor:
        out = Tensor(self.fresh(op_type.lower()), shape)
        self.consumed.update(inputs)
        self.nodes.append(
            helper.make_node(op_type, list(inputs), [out.name], name=f"{out.name}_node", **attrs)
        )
        self.tensors.append(out)
        return out

    # -- the model

    def outputs(self, ch: Chooser) -> list[Tensor]:
        produced = [t for t in self.tensors if t.name not in self.initializers]
        produced = produced[len(self.inputs) :]
        return [t for t in produced if t.name not in self.consumed or chance(ch, 15)]

    def to_model(self, outputs: Sequence[Tensor]) -> onnx.ModelProto:
        initializers = {n: a for n, a in self.initializers.items() if n not in self.constant_nodes}
        return make_model(
            self.nodes,
            {t.name: t.shape for t in self.inputs},
            {t.name: t.shape for t in outputs},
            initializers,
        )


def make_model(
    nodes: Sequence[onnx.NodeProto],
    inputs: dict[str, Shape],
    outputs: dict[str, Shape],
    initializers: dict[str, np.ndarray],
) -> onnx.ModelProto:
    """An opset-13 model of float32 inputs and outputs with these static shapes."""

    def info(name: str, shape: Shape) -> onnx.ValueInfoProto:
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))

    graph = helper.make_graph(
        list(nodes), "randgraph", [info(n, s) for n, s in inputs.items()],
        [info(n, s) for n, s in outputs.items()],
        [numpy_helper.from_array(a, n) for n, a in initializers.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    return model


def _array_expr(a: np.ndarray) -> str:
    """Python for an array: literal if small or integer, else a seeded draw of the
    same kind and scale (`normal(shape, std)`, or `uniform(shape, lo, hi)` for data
    of one sign, which keeps variances positive)."""
    if a.size <= 8 or a.dtype != np.float32:
        return f"np.array({a.tolist()!r}, dtype=np.{a.dtype})"
    lo, hi = float(a.min()), float(a.max())
    if lo > 0 or hi < 0:
        return f"uniform({list(a.shape)}, {lo:.4g}, {hi:.4g})"
    return f"normal({list(a.shape)}, {float(a.std()):.4g})"


def to_python(model: onnx.ModelProto) -> str:
    """The model as the Python code of a regression test: `nodes`, `weights`,
    `inputs` and `outputs` for `make_model` (with `normal` and `uniform` helpers)."""
    g = model.graph
    lines = ["nodes = ["]
    for n in g.node:
        args = ""
        for a in n.attribute:
            v = helper.get_attribute_value(a)
            if isinstance(v, onnx.TensorProto):
                text = f"numpy_helper.from_array({_array_expr(numpy_helper.to_array(v))})"
            else:
                text = repr(v.decode() if isinstance(v, bytes) else v)
            args += f", {a.name}={text}"
        lines.append(f"    helper.make_node({n.op_type!r}, {list(n.input)!r}, {list(n.output)!r}{args}),")
    lines.append("]")
    lines.append("weights = {")
    for t in g.initializer:
        lines.append(f"    {t.name!r}: {_array_expr(numpy_helper.to_array(t))},")
    lines.append("}")

    def shapes(values: Sequence[onnx.ValueInfoProto]) -> str:
        return ", ".join(
            f"{v.name!r}: {[d.dim_value for d in v.type.tensor_type.shape.dim]}" for v in values
        )

    inits = {t.name for t in g.initializer}
    lines.append(f"inputs = {{{shapes([v for v in g.input if v.name not in inits])}}}")
    lines.append(f"outputs = {{{shapes(list(g.output))}}}")
    return "\n".join(lines)


# ------------------------------------------------------------------ shape helpers


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def broadcast(a: Shape, b: Shape) -> Shape | None:
    """The NumPy broadcast of two shapes, or None if they do not broadcast."""
    r = max(len(a), len(b))
    pa, pb = (1,) * (r - len(a)) + a, (1,) * (r - len(b)) + b
    out: list[int] = []
    for x, y in zip(pa, pb):
        if x != y and 1 not in (x, y):
            return None
        out.append(max(x, y))
    return tuple(out)


def conv_out(size: int, k: int, s: int, d: int, p0: int, p1: int) -> int:
    return (size + p0 + p1 - (k - 1) * d - 1) // s + 1


def feature(ch: Chooser) -> int:
    """A channel or feature count: mostly small, sometimes past the small chip's 32."""
    lo, hi = weighted(ch, [((1, 8), 6), ((9, 24), 3), ((25, 48), 2), ((49, 160), 1)])
    return ch.integer(lo, hi)


def spatial(ch: Chooser) -> int:
    """A height or width: mostly up to 12."""
    lo, hi = weighted(ch, [((1, 12), 16), ((13, 24), 3), ((25, 600), 1)])
    return ch.integer(lo, hi)


def fits(shape: Shape) -> bool:
    return prod(shape) <= MAX_ELEMS


# -------------------------------------------------------------------- operators


def _relu(ch: Chooser, g: GraphBuilder, x: Tensor) -> None:
    g.node("Relu", [x.name], x.shape)


def _clip(ch: Chooser, g: GraphBuilder, x: Tensor) -> None:
    """Clip with constant bounds (opset 13: inputs, either may be absent): ReLU6 most
    often (graph-fold-clip folds it into a conv or gemm before it), also [0, 1], a
    lower bound that is not 0, or one bound alone."""
    lo, hi = weighted(ch, [((0.0, 6.0), 4), ((0.0, 1.0), 1), ((-1.0, 1.0), 1), ((None, 0.5), 1), ((0.0, None), 1)])
    bounds = [g.const(ch, name, np.array(v, np.float32)) if v is not None else "" for name, v in (("lo", lo), ("hi", hi))]
    while bounds and bounds[-1] == "":
        bounds.pop()
    g.node("Clip", [x.name, *bounds], x.shape)


def _silu(ch: Chooser, g: GraphBuilder, x: Tensor) -> None:
    """x * sigmoid(x) (EfficientNet's activation), or the sigmoid alone."""
    s = g.node("Sigmoid", [x.name], x.shape)
    if chance(ch, 70):
        g.node("Mul", [x.name, s.name] if chance(ch, 50) else [s.name, x.name], x.shape)


def _identity(ch: Chooser, g: GraphBuilder, x: Tensor) -> None:
    g.node("Identity", [x.name], x.shape)


def _dropout(ch: Chooser, g: GraphBuilder, x: Tensor) -> None:
    extra: list[str] = []
    mode = ch.integer(0, 2)  # no optional inputs, ratio, ratio + training_mode=false
    if mode >= 1:
        extra.append(g.const(ch, "ratio", np.array(choice(ch, [0.5, 0.1, 0.0]), np.float32)))
    if mode == 2:
        extra.append(g.const(ch, "training", np.array(False)))
    g.node("Dropout", [x.name, *extra], x.shape)


def _binary(op_type: str) -> Callable[[Chooser, GraphBuilder, Tensor], None]:
    def build(ch: Chooser, g: GraphBuilder, x: Tensor) -> None:
        others = [t for t in g.tensors if (s := broadcast(x.shape, t.shape)) is not None and fits(s)]
        how = weighted(ch, [("const", 5), ("tensor", 3), ("self", 1)])
        if how == "tensor" and others:
            other = choice(ch, others).name
            oshape = next(t.shape for t in others if t.name == other)
        elif how == "self":
            other, oshape = x.name, x.shape
        else:
            oshape = _broadcastable_shape(ch, x.shape)
            std = 1.0 if op_type == "Add" else 0.7
            other = g.normal(ch, "k", oshape, std)
        out = broadcast(x.shape, oshape)
        assert out is not None
        operands = [other, x.name] if chance(ch, 50) else [x.name, other]
        g.node(op_type, operands, out)

    return build


def _broadcastable_shape(ch: Chooser, shape: Shape) -> Shape:
    """A shape that broadcasts with `shape`: a suffix of it with some dims set to 1,
    where it has a 1 sometimes a larger dim, and sometimes extra leading dims."""
    keep = ch.integer(0, len(shape)) if chance(ch, 60) else len(shape)
    dims = list(shape[len(shape) - keep :])
    for i, d in enumerate(dims):
        if d != 1 and chance(ch, 35):
            dims[i] = 1
        elif d == 1 and chance(ch, 25):
            dims[i] = ch.integer(2, 6)
    if len(dims) < 5 and chance(ch, 10):
        dims.insert(0, ch.integer(1, 3))
    out = broadcast(shape, tuple(dims))
    if out is None or not fits(out):
        return tuple(1 if i % 2 else d for i, d in enumerate(shape))  # 1s: always fits
    return tuple(dims)


def _conv(ch: Chooser, g: GraphBuilder, x: Tensor) -> None:
    n, c, h, w = x.shape
    kind = weighted(ch, [("one", 6), ("divisor", 3), ("depthwise", 2)])
    group = {"one": 1, "depthwise": c}.get(kind) or choice(ch, divisors(c))
    kh, kw = ch.integer(1, 3) if chance(ch, 80) else ch.integer(1, 5), ch.integer(1, 3)
    if chance(ch, 30):
        kw = kh
    dh, dw = (ch.integer(1, 3), ch.integer(1, 3)) if chance(ch, 20) else (1, 1)
    sh, sw = (ch.integer(1, 3), ch.integer(1, 3)) if chance(ch, 40) else (1, 1)
    attrs: dict[str, Any] = {}
    auto = weighted(ch, [("NOTSET", 8), ("SAME_UPPER", 1), ("SAME_LOWER", 1), ("VALID", 1)])
    eh, ew = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    if auto in ("SAME_UPPER", "SAME_LOWER") and (dh, dw) == (1, 1):  # as onnxruntime
        oh, ow = -(-h // sh), -(-w // sw)
        attrs["auto_pad"] = auto
    elif auto == "VALID" and h >= eh and w >= ew:
        oh, ow = conv_out(h, kh, sh, dh, 0, 0), conv_out(w, kw, sw, dw, 0, 0)
        attrs["auto_pad"] = auto
    else:
        pads = [ch.integer(0, e - 1) if chance(ch, 60) else 0 for e in (eh, ew, eh, ew)]
        pads[2] = max(pads[2], eh - h - pads[0])  # at least one output row
        pads[3] = max(pads[3], ew - w - pads[1])
        oh = conv_out(h, kh, sh, dh, pads[0], pads[2])
        ow = conv_out(w, kw, sw, dw, pads[1], pads[3])
        if any(pads) or chance(ch, 30):
            attrs["pads"] = pads
    per_group = max(1, min(48 // group, MAX_ELEMS // (n * group * oh * ow)))
    cout = group * (ch.integer(1, min(per_group, 8)) if group > 1 else ch.integer(1, per_group))
    fan_in = c // group * kh * kw
    wname = g.weight(ch, "w", (cout, c // group, kh, kw), fan_in)
    ins = [x.name, wname]
    if chance(ch, 60):
        ins.append(g.bias(ch, "b", (cout,), fan_in))
    if group > 1 or chance(ch, 20):
        attrs["group"] = group
    if (sh, sw) != (1, 1) or chance(ch, 20):
        attrs["strides"] = [sh, sw]
    if (dh, dw) != (1, 1) or chance(ch, 20):
        attrs["dilations"] = [dh, dw]
    if chance(ch, 30):
        attrs["kernel_shape"] = [kh, kw]
    g.node("Conv", ins, (n, cout, oh, ow), **attrs)


def _pool_window(
    ch: Chooser, h: int, w: int, kh: int, kw: int, sh: int, sw: int
) -> tuple[int, int, dict[str, Any]]:
    """A pooling window's padding (auto_pad, explicit pads or none) and strides
    attributes, and the output height and width they give."""
    attrs: dict[str, Any] = {"kernel_shape": [kh, kw]}
    auto = weighted(ch, [("NOTSET", 8), ("SAME_UPPER", 1), ("SAME_LOWER", 1), ("VALID", 1)])
    oh, ow = -(-h // sh), -(-w // sw)
    same_ok = (oh - 1) * sh + kh >= h and (ow - 1) * sw + kw >= w  # ort: no negative pads
    if auto in ("SAME_UPPER", "SAME_LOWER") and same_ok:
        attrs["auto_pad"] = auto
    elif auto == "VALID" and h >= kh and w >= kw:
        oh, ow = conv_out(h, kh, sh, 1, 0, 0), conv_out(w, kw, sw, 1, 0, 0)
        attrs["auto_pad"] = auto
    else:
        pads = [ch.integer(0, k - 1) if chance(ch, 50) else 0 for k in (kh, kw, kh, kw)]
        pads[2] = max(pads[2], kh - h - pads[0])
        pads[3] = max(pads[3], kw - w - pads[1])
        oh = conv_out(h, kh, sh, 1, pads[0], pads[2])
        ow = conv_out(w, kw, sw, 1, pads[1], pads[3])
        if any(pads) or chance(ch, 30):
            attrs["pads"] = pads
    if (sh, sw) != (1, 1) or chance(ch, 30):
        attrs["strides"] = [sh, sw]
    return oh, ow, attrs


def _maxpool(ch: Chooser, g: GraphBuilder, x: Tensor) -> None:
    n, c, h, w = x.shape
    kh, kw = ch.integer(1, 3), ch.integer(1, 3)
    if chance(ch, 40):
        kw = kh
    sh, sw = (ch.integer(1, 3), ch.integer(1, 3)) if chance(ch, 70) else (1, 1)
    oh, ow, attrs = _pool_window(ch, h, w, kh, kw, sh, sw)
    g.node("MaxPool", [x.name], (n, c, oh, ow), **attrs)


def _gemm(ch: Chooser, g: GraphBuilder, x: Tensor) -> None:
    trans_a = chance(ch, 30)
    k, m = x.shape if trans_a else x.shape[::-1]
    trans_b = chance(ch, 50)
    tensors = [
        t for t in g.tensors
        if len(t.shape) == 2 and t.shape[1 if trans_b else 0] == k and t.name != x.name
    ]
    tensors = [t for t in tensors if m * t.shape[0 if trans_b else 1] <= MAX_ELEMS]
    if tensors and chance(ch, 25):
        b = choice(ch, tensors)
        bname, nn = b.name, b.shape[0 if trans_b else 1]
    else:
        nn = max(1, min(feature(ch), MAX_ELEMS // m))
        bname = g.weight(ch, "w", (nn, k) if trans_b else (k, nn), k)
    ins = [x.name, bname]
    attrs: dict[str, Any] = {}
    if trans_a:
        attrs["transA"] = 1
    if trans_b:
        attrs["transB"] = 1
    if chance(ch, 70):
        cshape = choice(ch, [(nn,), (1, nn), (m, nn), (m, 1), (1,), (1, 1), ()])
        ins.append(g.bias(ch, "c", cshape, k))
        if chance(ch, 30):
            attrs["beta"] = choice(ch, [0.5, 2.0, -1.0, 0.0, 1.0])
    if chance(ch, 30):
        attrs["alpha"] = choice(ch, [0.5, 2.0, -1.0, 0.25, 1.0])
    g.node("Gemm", ins, (m, nn), **attrs)


def _matmul(ch: Chooser, g: GraphBuilder, x: Tensor) -> None:
    m, k = x.shape
    if chance(ch, 30):  # x on the right: A[p, m] @ x
        p = max(1, min(feature(ch), MAX_ELEMS // k))
        a = g.weight(ch, "w", (p, m), m)
        g.node("MatMul", [a, x.name], (p, k))
        return
    tensors = [
        t for t in g.tensors
        if len(t.shape) == 2 and t.shape[0] == k and m * t.shape[1] <= MAX_ELEMS
    ]
    if tensors and chance(ch, 30):
        b = choice(ch, tensors)
        g.node("MatMul", [x.name, b.name], (m, b.shape[1]))
        return
    nn = max(1, min(feature(ch), MAX_ELEMS // m))
    g.node("MatMul", [x.name, g.weight(ch, "w", (k, nn), k)], (m, nn))


def _factor(ch: Chooser, total: int, rank: int) -> list[int]:
    """A random shape of `rank` dims with product `total`."""
    dims = [1] * rank
    rest, p = total, 2
    while rest > 1:
        while rest % p:
            p += 1
        rest //= p
        dims[ch.integer(0, rank - 1)] *= p
    return dims


def _reshape(ch: Chooser, g: GraphBuilder, x: Tensor) -> None:
    dims = _factor(ch, prod(x.shape), ch.integer(1, 4))
    spec = list(dims)
    for i, d in enumerate(dims):
        if i < len(x.shape) and x.shape[i] == d and chance(ch, 20):
            spec[i] = 0  # copy the input's dim
    if chance(ch, 40):
        spec[ch.integer(0, len(spec) - 1)] = -1
    shape_name = g.const(ch, "shape", np.array(spec, dtype=np.int64))
    g.node("Reshape", [x.name, shape_name], tuple(dims))


def _flatten(ch: Chooser, g: GraphBuilder, x: Tensor) -> None:
    r = len(x.shape)
    axis = ch.integer(-r, r)
    a = axis + r if axis < 0 else axis
    shape = (prod(x.shape[:a]), prod(x.shape[a:]))
    if axis == 1 and chance(ch, 50):
        g.node("Flatten", [x.name], shape)
    else:
        g.node("Flatten", [x.name], shape, axis=axis)


def _softmax(ch: Chooser, g: GraphBuilder, x: Tensor) -> None:
    r = len(x.shape)
    axis = ch.integer(-r, r - 1)
    if axis == -1 and chance(ch, 50):
        g.node("Softmax", [x.name], x.shape)
    else:
        g.node("Softmax", [x.name], x.shape, axis=axis)


def _batchnorm(ch: Chooser, g: GraphBuilder, x: Tensor) -> None:
    c = (x.shape[1],)
    ins = [
        x.name,
        g.uniform(ch, "scale", c, 0.5, 1.5),
        g.uniform(ch, "beta", c, -0.5, 0.5),
        g.normal(ch, "mean", c, 0.5),
        g.uniform(ch, "var", c, 0.5, 2.0),  # positive
    ]
    attrs: dict[str, Any] = {}
    if chance(ch, 40):
        attrs["epsilon"] = choice(ch, [1e-3, 1e-5, 0.1])
    g.node("BatchNormalization", ins, x.shape, **attrs)


def _avgpool(ch: Chooser, g: GraphBuilder, x: Tensor) -> None:
    n, c, h, w = x.shape
    kh, kw = ch.integer(1, 3), ch.integer(1, 3)
    sh, sw = (ch.integer(1, 3), ch.integer(1, 3)) if chance(ch, 60) else (1, 1)
    oh, ow, attrs = _pool_window(ch, h, w, kh, kw, sh, sw)
    if chance(ch, 50):
        attrs["count_include_pad"] = ch.integer(0, 1)
    g.node("AveragePool", [x.name], (n, c, oh, ow), **attrs)


def _global_avgpool(ch: Chooser, g: GraphBuilder, x: Tensor) -> None:
    g.node("GlobalAveragePool", [x.name], (*x.shape[:2], 1, 1))


def _concat(ch: Chooser, g: GraphBuilder, x: Tensor) -> None:
    r = len(x.shape)
    axis = ch.integer(0, r - 1)

    def agrees(t: Tensor) -> bool:
        return len(t.shape) == r and all(
            a == b for i, (a, b) in enumerate(zip(t.shape, x.shape)) if i != axis
        )

    parts = [x.name]
    total = x.shape[axis]
    for _ in range(ch.integer(1, 3)):
        others = [t for t in g.tensors if agrees(t)]
        if chance(ch, 50):
            t = choice(ch, others)  # x itself agrees: never empty
            parts.append(t.name)
            total += t.shape[axis]
        else:
            size = ch.integer(1, 6)
            shape = tuple(size if i == axis else d for i, d in enumerate(x.shape))
            parts.append(g.normal(ch, "part", shape))
            total += size
        if chance(ch, 50):
            break
    if chance(ch, 30):
        parts = parts[1:] + parts[:1]
    shape = tuple(total if i == axis else d for i, d in enumerate(x.shape))
    if not fits(shape):
        return _relu(ch, g, x)
    g.node("Concat", parts, shape, axis=axis - r if chance(ch, 30) else axis)


def _transpose(ch: Chooser, g: GraphBuilder, x: Tensor) -> None:
    r = len(x.shape)
    if chance(ch, 20):
        g.node("Transpose", [x.name], x.shape[::-1])
        return
    perm = list(range(r))
    for i in range(r - 1, 0, -1):  # Fisher-Yates; all-zero draws keep the identity
        j = ch.integer(0, i)
        perm[i], perm[j] = perm[j], perm[i]
    g.node("Transpose", [x.name], tuple(x.shape[p] for p in perm), perm=perm)


def _lrn(ch: Chooser, g: GraphBuilder, x: Tensor) -> None:
    attrs: dict[str, Any] = {"size": choice(ch, [1, 3, 5, 7])}  # odd, as onnxruntime
    if chance(ch, 60):
        attrs["alpha"] = choice(ch, [1e-4, 1e-3, 0.01, 0.1])
    if chance(ch, 60):
        attrs["beta"] = choice(ch, [0.75, 0.5, 1.0])
    if chance(ch, 60):
        attrs["bias"] = choice(ch, [1.0, 2.0, 0.5])
    g.node("LRN", [x.name], x.shape, **attrs)


def _sum(ch: Chooser, g: GraphBuilder, x: Tensor) -> None:
    parts, shape = [x.name], x.shape
    for _ in range(ch.integer(0, 3)):
        others = [t for t in g.tensors if (s := broadcast(shape, t.shape)) is not None and fits(s)]
        if others and chance(ch, 50):
            t = choice(ch, others)
            parts.append(t.name)
            out = broadcast(shape, t.shape)
        else:
            oshape = _broadcastable_shape(ch, shape)
            parts.append(g.normal(ch, "k", oshape))
            out = broadcast(shape, oshape)
        assert out is not None
        shape = out
    if chance(ch, 30):
        parts = parts[::-1]
    g.node("Sum", parts, shape)


def _unsqueeze(ch: Chooser, g: GraphBuilder, x: Tensor) -> None:
    count = 1 if len(x.shape) >= 4 or chance(ch, 60) else 2
    rank = len(x.shape) + count
    free = list(range(rank))
    axes = [free.pop(ch.integer(0, len(free) - 1)) for _ in range(count)]
    rest = iter(x.shape)
    shape = tuple(1 if i in axes else next(rest) for i in range(rank))
    spec = [a - rank if chance(ch, 30) else a for a in axes]
    name = g.const(ch, "axes", np.array(spec, dtype=np.int64))
    g.node("Unsqueeze", [x.name, name], shape)


def _constant_of_shape(ch: Chooser, g: GraphBuilder, x: Tensor) -> None:
    """A fill of a shape that broadcasts with x, added to or multiplied with x."""
    shape = _broadcastable_shape(ch, x.shape) or (1,)
    value = choice(ch, [0.5, 0.0, -1.0, 2.0])
    spec = g.const(ch, "dims", np.array(shape, dtype=np.int64))
    fill = Tensor(g.fresh("fill"), shape)
    g.nodes.append(
        helper.make_node(
            "ConstantOfShape", [spec], [fill.name], name=f"{fill.name}_node",
            value=numpy_helper.from_array(np.array([value], np.float32)),
        )
    )
    g.consumed.add(fill.name)
    out = broadcast(x.shape, shape)
    assert out is not None
    g.node(choice(ch, ["Add", "Mul"]), [x.name, fill.name], out)


# --------------------------------------------- issue 14's operators (composites)


def _unary(op_type: str) -> Callable[[Chooser, GraphBuilder, Tensor], None]:
    def build(ch: Chooser, g: GraphBuilder, x: Tensor) -> None:
        attrs: dict[str, Any] = {}
        if op_type in ("Elu", "Celu") and chance(ch, 60):
            attrs["alpha"] = choice(ch, [0.5, 1.0, 2.0])
        if op_type == "Selu" and chance(ch, 30):
            attrs["alpha"], attrs["gamma"] = choice(ch, [(1.5, 1.1), (1.0, 2.0)])
        g.node(op_type, [x.name], x.shape, **attrs)

    return build


def _div(ch: Chooser, g: GraphBuilder, x: Tensor) -> None:
    """x / d with |d| >= 0.5: a constant, or |t| + 0.5 of an earlier tensor."""
    others = [t for t in g.tensors if (s := broadcast(x.shape, t.shape)) is not None and fits(s)]
    if others and chance(ch, 40):
        t = choice(ch, others)
        a = g.node("Abs", [t.name], t.shape)
        half = g.const(ch, "half", np.array(0.5, np.float32))
        d = g.node("Add", [a.name, half], t.shape)
        other, oshape = d.name, t.shape
    else:
        oshape = _broadcastable_shape(ch, x.shape)
        v = g.rng.standard_normal(oshape).astype(np.float32)
        other = g.const(ch, "d", np.sign(v) * (np.abs(v) + np.float32(0.5)) + np.float32(0) * v)
    out = broadcast(x.shape, oshape)
    assert out is not None
    g.node("Div", [x.name, other], out)


def _prelu(ch: Chooser, g: GraphBuilder, x: Tensor) -> None:
    """A slope that broadcasts to x (per channel for images, mostly)."""
    if len(x.shape) == 4 and chance(ch, 60):
        shape: Shape = (x.shape[1], 1, 1)
    else:
        keep = ch.integer(1, len(x.shape))
        shape = tuple(1 if chance(ch, 40) else d for d in x.shape[len(x.shape) - keep :])
    g.node("PRelu", [x.name, g.uniform(ch, "slope", shape, -0.5, 0.5)], x.shape)


def _pow(ch: Chooser, g: GraphBuilder, x: Tensor) -> None:
    e = g.const(ch, "e", np.array(choice(ch, [2.0, 3.0, 1.0]), np.float32))
    g.node("Pow", [x.name, e], x.shape)


def _log_softmax(ch: Chooser, g: GraphBuilder, x: Tensor) -> None:
    r = len(x.shape)
    g.node("LogSoftmax", [x.name], x.shape, axis=ch.integer(-r, r - 1))


def _has_one(shape: Shape) -> bool:
    return 1 in shape and len(shape) >= 2


def _squeeze(ch: Chooser, g: GraphBuilder, x: Tensor) -> None:
    ones = [i for i, d in enumerate(x.shape) if d == 1]
    if len(ones) == len(x.shape):
        ones = ones[:-1]  # keep one dim
    axes = [a for a in ones if chance(ch, 70)] or ones[:1]
    shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
    r = len(x.shape)
    spec = [a - r if chance(ch, 30) else a for a in axes]
    g.node("Squeeze", [x.name, g.const(ch, "axes", np.array(spec, np.int64))], shape)


def _sliceable(shape: Shape) -> bool:
    return any(d >= 2 for d in shape)


def _slice(ch: Chooser, g: GraphBuilder, x: Tensor) -> None:
    dims = [i for i, d in enumerate(x.shape) if d >= 2]
    axes = [a for a in dims if chance(ch, 50)] or dims[:1]
    out = list(x.shape)
    starts, ends, steps = [], [], []
    for a in axes:
        size = x.shape[a]
        lo = ch.integer(0, size - 1)
        hi = ch.integer(lo + 1, size)
        step = choice(ch, [1, 1, 2, 3])
        out[a] = -(-(hi - lo) // step)
        starts.append(lo - size if chance(ch, 20) else lo)
        ends.append(hi + 100 if hi == size and chance(ch, 30) else hi)
        steps.append(step)
    ins = [x.name] + [g.const(ch, n, np.array(v, np.int64)) for n, v in
                      (("starts", starts), ("ends", ends), ("axes", axes), ("steps", steps))]
    g.node("Slice", ins, tuple(out))


def _split(ch: Chooser, g: GraphBuilder, x: Tensor) -> None:
    dims = [i for i, d in enumerate(x.shape) if d >= 2]
    axis = choice(ch, dims)
    size = x.shape[axis]
    parts = min(size, ch.integer(2, 3))
    cuts = sorted({ch.integer(1, size - 1) for _ in range(parts - 1)})
    sizes = [b - a for a, b in zip([0, *cuts], [*cuts, size])]
    names = [g.fresh("split") for _ in sizes]
    g.consumed.add(x.name)
    spec = g.const(ch, "sizes", np.array(sizes, np.int64))
    g.nodes.append(helper.make_node("Split", [x.name, spec], names, name=f"{names[0]}_node", axis=axis))
    for name, n in zip(names, sizes):
        g.tensors.append(Tensor(name, tuple(n if i == axis else d for i, d in enumerate(x.shape))))


def _pad(ch: Chooser, g: GraphBuilder, x: Tensor) -> None:
    r = len(x.shape)
    mode = weighted(ch, [("constant", 3), ("edge", 2), ("reflect", 2)])
    pads = [0] * (2 * r)
    for a in range(max(0, r - 2), r):
        limit = x.shape[a] - 1 if mode == "reflect" else 2
        pads[a], pads[a + r] = ch.integer(0, min(2, limit)), ch.integer(0, min(2, limit))
    shape = tuple(d + pads[i] + pads[i + r] for i, d in enumerate(x.shape))
    if not fits(shape):
        return _relu(ch, g, x)
    ins = [x.name, g.const(ch, "pads", np.array(pads, np.int64))]
    if mode == "constant" and chance(ch, 50):
        ins.append(g.const(ch, "value", np.array(choice(ch, [0.5, -1.0]), np.float32)))
    g.node("Pad", ins, shape, mode=mode)


def _tile(ch: Chooser, g: GraphBuilder, x: Tensor) -> None:
    reps = [ch.integer(1, 3) if chance(ch, 40) else 1 for _ in x.shape]
    shape = tuple(d * k for d, k in zip(x.shape, reps))
    if not fits(shape):
        return _relu(ch, g, x)
    g.node("Tile", [x.name, g.const(ch, "reps", np.array(reps, np.int64))], shape)


def _resize(ch: Chooser, g: GraphBuilder, x: Tensor) -> None:
    """Resize of H and W as exporters write it: nearest by whole scales (a feature
    pyramid's x2) or halving, linear and cubic by any of a few scales, and
    align_corners by sizes (its scale then exactly out / in); every form
    targets/onnx_resize.py takes."""
    n, c, h, w = x.shape
    mode = weighted(ch, [("nearest", 3), ("linear", 3), ("cubic", 1)])
    attrs: dict[str, Any] = {"mode": mode}
    if mode == "nearest":
        scales = [choice(ch, [1.0, 2.0, 3.0, 0.5] if d % 2 == 0 else [1.0, 2.0, 3.0]) for d in (h, w)]
        attrs["coordinate_transformation_mode"] = choice(ch, ["asymmetric", "half_pixel"])
        attrs["nearest_mode"] = "floor" if attrs["coordinate_transformation_mode"] == "asymmetric" else "round_prefer_floor"
    else:
        attrs["coordinate_transformation_mode"] = choice(
            ch, ["half_pixel", "pytorch_half_pixel", "asymmetric", "align_corners"]
        )
        scales = [choice(ch, [1.0, 2.0, 0.5, 1.5, 3.0] if d > 1 else [1.0, 2.0, 1.5, 3.0]) for d in (h, w)]
        if mode == "cubic" and chance(ch, 50):
            attrs["exclude_outside"] = 1
    oh, ow = (int(s * d) for s, d in zip(scales, (h, w)))  # (ONNX: the floor)
    shape = (n, c, oh, ow)
    if not fits(shape):
        return _relu(ch, g, x)
    if attrs["coordinate_transformation_mode"] == "align_corners":
        sizes = g.const(ch, "sizes", np.array(shape, np.int64))
        g.node("Resize", [x.name, "", "", sizes], shape, **attrs)
        return
    sc = g.const(ch, "scales", np.array([1.0, 1.0, *scales], np.float32))
    g.node("Resize", [x.name, "", sc], shape, **attrs)


def _conv_transpose(ch: Chooser, g: GraphBuilder, x: Tensor) -> None:
    """ConvTranspose: a kernel as large as its stride (a U-Net's 2x2 stride 2) or any
    kernel, stride, padding, output_padding, dilation and group."""
    n, c, h, w = x.shape
    if chance(ch, 40):
        k = choice(ch, [2, 3])
        kh = kw = sh = sw = k
        pads, extra, dh, dw, group = [0, 0, 0, 0], [0, 0], 1, 1, 1
    else:
        kh, kw = ch.integer(1, 4), ch.integer(1, 4)
        sh, sw = ch.integer(1, 3), ch.integer(1, 3)
        dh, dw = (ch.integer(1, 2), ch.integer(1, 2)) if chance(ch, 20) else (1, 1)
        pads = [ch.integer(0, (k - 1) * d) if chance(ch, 50) else 0 for k, d in ((kh, dh), (kw, dw), (kh, dh), (kw, dw))]
        # ONNX allows output_padding below the stride or the dilation; onnxruntime's
        # shape check refuses one at or past the stride (stride 1, dilation 2,
        # output_padding 1: "may be too large for stride"), so the reference
        # cannot run it.
        extra = [ch.integer(0, s - 1) if chance(ch, 30) else 0 for s in (sh, sw)]
        group = choice(ch, divisors(c)) if chance(ch, 20) else 1
    oh = sh * (h - 1) + extra[0] + (kh - 1) * dh + 1 - pads[0] - pads[2]
    ow = sw * (w - 1) + extra[1] + (kw - 1) * dw + 1 - pads[1] - pads[3]
    per_group = max(1, min(16 // group, MAX_ELEMS // max(1, n * group * oh * ow)))
    cout = group * ch.integer(1, per_group)
    shape = (n, cout, oh, ow)
    if oh < 1 or ow < 1 or not fits(shape):
        return _relu(ch, g, x)
    fan_in = c // group * kh * kw
    ins = [x.name, g.weight(ch, "w", (c, cout // group, kh, kw), fan_in)]
    if chance(ch, 50):
        ins.append(g.bias(ch, "b", (cout,), fan_in))
    attrs: dict[str, Any] = {"strides": [sh, sw]}
    if any(pads):
        attrs["pads"] = pads
    if any(extra):
        attrs["output_padding"] = extra
    if (dh, dw) != (1, 1):
        attrs["dilations"] = [dh, dw]
    if group > 1:
        attrs["group"] = group
    g.node("ConvTranspose", ins, shape, **attrs)


def _depth_to_space(ch: Chooser, g: GraphBuilder, x: Tensor) -> None:
    """DepthToSpace (DCR or CRD) where b * b divides the channels, else SpaceToDepth
    where b divides H and W; a ReLU where neither does."""
    n, c, h, w = x.shape
    for b in (2, 3):
        if c % (b * b) == 0 and chance(ch, 60):
            g.node("DepthToSpace", [x.name], (n, c // (b * b), h * b, w * b), blocksize=b,
                   mode=choice(ch, ["DCR", "CRD"]))
            return
        if h % b == 0 and w % b == 0:
            g.node("SpaceToDepth", [x.name], (n, c * b * b, h // b, w // b), blocksize=b)
            return
    return _relu(ch, g, x)


def _seq(shape: Shape) -> bool:
    return len(shape) == 3


def _conv1d(ch: Chooser, g: GraphBuilder, x: Tensor) -> None:
    n, c, length = x.shape
    group = choice(ch, [1, 1, c] if c > 1 else [1])
    k = ch.integer(1, min(3, length))
    o = group * ch.integer(1, 4)
    s, d = (ch.integer(1, 2), 1) if chance(ch, 70) else (1, ch.integer(1, 2))
    p0, p1 = ch.integer(0, k - 1), ch.integer(0, k - 1)
    out = conv_out(length, k, s, d, p0, p1)
    if out < 1 or not fits((n, o, out)):
        return _relu(ch, g, x)
    w = g.weight(ch, "w", (o, c // group, k), c // group * k)
    g.node("Conv", [x.name, w], (n, o, out), group=group, strides=[s], dilations=[d], pads=[p0, p1])


def _maxpool1d(ch: Chooser, g: GraphBuilder, x: Tensor) -> None:
    n, c, length = x.shape
    k = ch.integer(1, min(3, length))
    s = ch.integer(1, 2)
    g.node("MaxPool", [x.name], (n, c, (length - k) // s + 1), kernel_shape=[k], strides=[s])


def _maxpool_ceil(ch: Chooser, g: GraphBuilder, x: Tensor) -> None:
    n, c, h, w = x.shape
    k, s = ch.integer(2, 3), 2
    if min(h, w) < k:
        return _relu(ch, g, x)

    def size(v: int) -> int:
        out = -(-(v - k) // s) + 1
        return out - 1 if (out - 1) * s >= v else out

    g.node("MaxPool", [x.name], (n, c, size(h), size(w)), kernel_shape=[k, k], strides=[s, s], ceil_mode=1)


def _rank3plus(shape: Shape) -> bool:
    return len(shape) >= 3


def _matmul_batched(ch: Chooser, g: GraphBuilder, x: Tensor) -> None:
    """[..., M, K] times a [K, N] matrix or a [..., K, N] batch of them."""
    *batch, m, k = x.shape
    nn = max(1, min(feature(ch), MAX_ELEMS // max(1, prod(batch) * m)))
    wshape = (k, nn) if chance(ch, 50) else (*batch, k, nn)
    g.node("MatMul", [x.name, g.weight(ch, "w", wshape, k)], (*batch, m, nn))


@dataclass(frozen=True)
class OpEntry:
    """How to generate one operator: which activation shapes it takes, how it builds
    its node(s), and how often it is picked (relative weight)."""

    accepts: Callable[[Shape], bool]
    build: Callable[[Chooser, GraphBuilder, Tensor], None]
    weight: int = 2


def _any(shape: Shape) -> bool:
    return True


def _image(shape: Shape) -> bool:
    return len(shape) == 4


def _matrix(shape: Shape) -> bool:
    return len(shape) == 2


def _rank2plus(shape: Shape) -> bool:
    return len(shape) >= 2


def _ranked(shape: Shape) -> bool:
    return len(shape) >= 1


def _max4(shape: Shape) -> bool:
    return len(shape) <= 4


# Ordered simplest first: a shrinking choice falls toward the start.
OPS: dict[str, OpEntry] = {
    "Relu": OpEntry(_any, _relu),
    "Identity": OpEntry(_any, _identity, 1),
    "Add": OpEntry(_any, _binary("Add"), 3),
    "Mul": OpEntry(_any, _binary("Mul"), 3),
    "Reshape": OpEntry(_any, _reshape),
    "Flatten": OpEntry(_any, _flatten),
    "Softmax": OpEntry(_any, _softmax),
    "Dropout": OpEntry(_any, _dropout, 1),
    "MatMul": OpEntry(_matrix, _matmul, 3),
    "Gemm": OpEntry(_matrix, _gemm, 4),
    "MaxPool": OpEntry(_image, _maxpool, 4),
    "Conv": OpEntry(_image, _conv, 6),
    "BatchNormalization": OpEntry(_rank2plus, _batchnorm, 2),
    "AveragePool": OpEntry(_image, _avgpool, 2),
    "GlobalAveragePool": OpEntry(_image, _global_avgpool, 1),
    "Concat": OpEntry(_ranked, _concat, 2),
    "Transpose": OpEntry(_ranked, _transpose, 2),
    "LRN": OpEntry(_image, _lrn, 1),
    "Sum": OpEntry(_any, _sum, 1),
    "Unsqueeze": OpEntry(_max4, _unsqueeze, 1),
    "ConstantOfShape": OpEntry(_any, _constant_of_shape, 1),
    # issue 14: arithmetic, activations, slicing and 1-D / batched forms
    "Sub": OpEntry(_any, _binary("Sub"), 2),
    "Max": OpEntry(_any, _binary("Max"), 1),
    "Min": OpEntry(_any, _binary("Min"), 1),
    "Div": OpEntry(_any, _div, 2),
    "Neg": OpEntry(_any, _unary("Neg"), 1),
    "Abs": OpEntry(_any, _unary("Abs"), 1),
    "Elu": OpEntry(_any, _unary("Elu"), 1),
    "Celu": OpEntry(_any, _unary("Celu"), 1),
    "Selu": OpEntry(_any, _unary("Selu"), 1),
    "Softsign": OpEntry(_any, _unary("Softsign"), 1),
    "PRelu": OpEntry(_ranked, _prelu, 1),
    "Pow": OpEntry(_any, _pow, 1),
    "LogSoftmax": OpEntry(_ranked, _log_softmax, 1),
    "Squeeze": OpEntry(_has_one, _squeeze, 1),
    "Slice": OpEntry(_sliceable, _slice, 2),
    "Split": OpEntry(_sliceable, _split, 1),
    "Pad": OpEntry(_ranked, _pad, 1),
    "Tile": OpEntry(_ranked, _tile, 1),
    "Conv1d": OpEntry(_seq, _conv1d, 2),
    "MaxPool1d": OpEntry(_seq, _maxpool1d, 1),
    "MaxPoolCeil": OpEntry(_image, _maxpool_ceil, 1),
    "MatMulBatched": OpEntry(_rank3plus, _matmul_batched, 2),
    # the activations of today's depthwise networks (graph-fold-clip, eltwise-channels)
    "Clip": OpEntry(_any, _clip, 2),
    "SiLU": OpEntry(_any, _silu, 2),
    # up-sampling and transposed convolutions (feature pyramids, U-Nets, pixel shuffles)
    "Resize": OpEntry(_image, _resize, 2),
    "ConvTranspose": OpEntry(_image, _conv_transpose, 2),
    "DepthToSpace": OpEntry(_image, _depth_to_space, 1),
}


# ------------------------------------------------------------------------ graphs


def _input_shape(ch: Chooser) -> Shape:
    kind = weighted(ch, [("matrix", 3), ("image", 5), ("other", 1), ("sequence", 1)])
    if kind == "matrix":
        return (spatial(ch), feature(ch))
    if kind == "sequence":  # [N, C, L]: 1-D convs and pools, batched matmuls
        c, length = feature(ch), spatial(ch) * ch.integer(1, 4)
        while c * length > MAX_ELEMS:
            length = max(1, length // 2)
        return (1, c, length)
    if kind == "image":
        n = 2 if chance(ch, 20) else 1
        c = feature(ch)
        h, w = spatial(ch), spatial(ch)
        while n * c * h * w > MAX_ELEMS:
            h, w = max(1, h // 2), max(1, w // 2)
        return (n, c, h, w)
    dims = [ch.integer(1, 8) for _ in range(choice(ch, [1, 3, 2, 5]))]
    while prod(dims) > MAX_ELEMS:
        dims[dims.index(max(dims))] //= 2
    return tuple(dims)


def build_graph(
    ch: Chooser,
    max_nodes: int = MAX_NODES,
    ops: Sequence[str] | None = None,
) -> tuple[GraphBuilder, list[Tensor]]:
    """Draw a graph: its builder and its outputs."""
    entries = {k: OPS[k] for k in (ops or OPS)}
    g = GraphBuilder(value_seed=ch.integer(0, 2**31 - 1))
    g.add_input(_input_shape(ch))
    if chance(ch, 25):
        g.add_input(_input_shape(ch) if chance(ch, 50) else g.inputs[0].shape)
    if chance(ch, 10):  # a constant that ops take like an activation
        shape = _input_shape(ch)
        g.tensors.append(Tensor(g.normal(ch, "data", shape), shape))
    for _ in range(ch.integer(1, max_nodes)):
        usable = [(k, e) for k, e in entries.items() if any(e.accepts(t.shape) for t in g.tensors)]
        entry = weighted(ch, [(e, e.weight) for _, e in usable])
        candidates = [t for t in g.tensors if entry.accepts(t.shape)]
        x = candidates[-1] if chance(ch, 50) else choice(ch, candidates)
        entry.build(ch, g, x)
    return g, g.outputs(ch)


def make_case(ch: Chooser, max_nodes: int = MAX_NODES, ops: Sequence[str] | None = None) -> Case:
    g, outputs = build_graph(ch, max_nodes, ops)
    model = g.to_model(outputs)
    rng = np.random.default_rng(g.value_seed + 1)
    inputs = {t.name: rng.standard_normal(t.shape).astype(np.float32) for t in g.inputs}
    return Case(model, inputs, [n.op_type for n in g.nodes if n.op_type != "Constant"])


def check_model(model: onnx.ModelProto) -> None:
    """The model passes the ONNX checker and its declared output shapes agree with
    strict shape inference (a generator self-check)."""
    onnx.checker.check_model(model)
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    for out in inferred.graph.output:
        dims = [d.dim_value for d in out.type.tensor_type.shape.dim]
        declared = next(o for o in model.graph.output if o.name == out.name)
        want = [d.dim_value for d in declared.type.tensor_type.shape.dim]
        assert dims == want, f"{out.name}: inferred {dims}, generator says {want}"


@st.composite
def graphs(draw: Callable[[st.SearchStrategy[Any]], Any], max_nodes: int = MAX_NODES,
           ops: Sequence[str] | None = None) -> Case:
    """A hypothesis strategy of `Case`s (a valid opset-13 model and its inputs)."""
    return make_case(DrawChooser(draw), max_nodes, ops)


def case_from_seed(
    seed: int | Sequence[int], max_nodes: int = MAX_NODES, ops: Sequence[str] | None = None
) -> Case:
    """The case a seeded NumPy driver draws (the long runs: seed (run seed, index))."""
    return make_case(RngChooser(seed), max_nodes, ops)

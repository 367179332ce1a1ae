"""Small ONNX models built in code, with seeded random weights, for tests and demos.

    make_mlp()   input [8, 784] -> Gemm -> Relu -> Gemm -> Softmax -> probs [8, 10]
    make_cnn()   input [1, 3, 32, 32] -> Conv -> Relu -> MaxPool -> Conv -> Relu
                 -> Flatten -> Gemm -> logits [1, 10]
    make_inputs(model)   seeded random float32 inputs for any model

Run `python examples/models.py OUTDIR [NAME ...]` to write NAME.onnx and seeded inputs
NAME-inputs.npz (keys: the graph's input names) to OUTDIR for mlp and cnn, or the named
models (mlp, cnn, resnet50-trunk).
Weights use He initialisation (std sqrt(2 / fan_in)) and PyTorch-style biases
(uniform in +-1/sqrt(fan_in)), so activations stay in a sensible range.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13


def _he(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int) -> np.ndarray:
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)


def _bias(rng: np.random.Generator, size: int, fan_in: int) -> np.ndarray:
    bound = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, size).astype(np.float32)


def _model(
    name: str,
    nodes: list[onnx.NodeProto],
    inputs: list[onnx.ValueInfoProto],
    outputs: list[onnx.ValueInfoProto],
    weights: dict[str, np.ndarray],
) -> onnx.ModelProto:
    initializers = [numpy_helper.from_array(a, n) for n, a in weights.items()]
    graph = helper.make_graph(nodes, name, inputs, outputs, initializers)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="tidal"
    )
    onnx.checker.check_model(model)
    return model


def make_mlp(
    seed: int = 0, batch: int = 8, sizes: tuple[int, ...] = (784, 512, 10)
) -> onnx.ModelProto:
    """Gemm -> Relu -> ... -> Gemm -> Softmax, with transB=1 weights as PyTorch
    exports them: `fc<i>.weight` is [out, in]. Input "input", output "probs"."""
    rng = np.random.default_rng(seed)
    weights: dict[str, np.ndarray] = {}
    nodes: list[onnx.NodeProto] = []
    x = "input"
    layers = list(itertools.pairwise(sizes))
    for i, (fan_in, fan_out) in enumerate(layers, start=1):
        w, b, y = f"fc{i}.weight", f"fc{i}.bias", f"fc{i}"
        weights[w] = _he(rng, (fan_out, fan_in), fan_in)
        weights[b] = _bias(rng, fan_out, fan_in)
        nodes.append(helper.make_node("Gemm", [x, w, b], [y], name=f"fc{i}", transB=1))
        x = y
        if i < len(layers):
            nodes.append(helper.make_node("Relu", [x], [f"relu{i}"], name=f"relu{i}"))
            x = f"relu{i}"
    nodes.append(helper.make_node("Softmax", [x], ["probs"], name="softmax", axis=-1))
    return _model(
        "mlp",
        nodes,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, sizes[0]])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [batch, sizes[-1]])],
        weights,
    )


def make_cnn(seed: int = 0, batch: int | str = 1) -> onnx.ModelProto:
    """A tiny LeNet-like CNN on [batch, 3, 32, 32]. Input "input", output "logits".
    A `batch` named by a string ("N") is a dynamic dimension, as an export with
    dynamic axes writes it (`tidal-compile --dim N=SIZE`)."""
    rng = np.random.default_rng(seed)
    weights = {
        "conv1.weight": _he(rng, (8, 3, 3, 3), 3 * 9),
        "conv1.bias": _bias(rng, 8, 3 * 9),
        "conv2.weight": _he(rng, (16, 8, 3, 3), 8 * 9),
        "conv2.bias": _bias(rng, 16, 8 * 9),
        "fc.weight": _he(rng, (10, 16 * 16 * 16), 16 * 16 * 16),
        "fc.bias": _bias(rng, 10, 16 * 16 * 16),
    }
    conv = {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "strides": [1, 1]}
    pool = {"kernel_shape": [2, 2], "strides": [2, 2]}
    nodes = [
        helper.make_node(
            "Conv", ["input", "conv1.weight", "conv1.bias"], ["conv1"], "conv1", **conv
        ),
        helper.make_node("Relu", ["conv1"], ["relu1"], "relu1"),
        helper.make_node("MaxPool", ["relu1"], ["pool1"], "pool1", **pool),
        helper.make_node(
            "Conv", ["pool1", "conv2.weight", "conv2.bias"], ["conv2"], "conv2", **conv
        ),
        helper.make_node("Relu", ["conv2"], ["relu2"], "relu2"),
        helper.make_node("Flatten", ["relu2"], ["flat"], "flatten", axis=1),
        helper.make_node(
            "Gemm", ["flat", "fc.weight", "fc.bias"], ["logits"], "fc", transB=1
        ),
    ]
    return _model(
        "cnn",
        nodes,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 3, 32, 32])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, 10])],
        weights,
    )


def make_resnet50_trunk(seed: int = 0, size: int = 224) -> onnx.ModelProto:
    """A ResNet-50-sized network from the ops the spine supports: the real trunk
    (7x7/2 stem, 3x3/2 max pool, bottleneck stages [3, 4, 6, 3] of widths 64..512
    with projection shortcuts and residual Adds: 53 convolutions, 25.5M weights)
    with BatchNorm folded into conv biases, and a head of 1x1 conv to 16 channels,
    Flatten and Gemm to 1000 classes (no GlobalAveragePool yet). Used to check that
    IR size grows with layers, not with instructions. Input "input", output "logits"."""
    rng = np.random.default_rng(seed)
    weights: dict[str, np.ndarray] = {}
    nodes: list[onnx.NodeProto] = []

    def conv(x: str, name: str, cin: int, cout: int, k: int, stride: int = 1, relu: bool = True) -> str:
        weights[f"{name}.w"] = _he(rng, (cout, cin, k, k), cin * k * k)
        weights[f"{name}.b"] = _bias(rng, cout, cin * k * k)
        p = k // 2
        nodes.append(helper.make_node(
            "Conv", [x, f"{name}.w", f"{name}.b"], [name], name=name,
            kernel_shape=[k, k], strides=[stride, stride], pads=[p, p, p, p],
        ))
        if not relu:
            return name
        nodes.append(helper.make_node("Relu", [name], [f"{name}.relu"], name=f"{name}.relu"))
        return f"{name}.relu"

    x = conv("input", "stem", 3, 64, 7, 2)
    nodes.append(helper.make_node(
        "MaxPool", [x], ["pool"], name="pool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]
    ))
    x, cin = "pool", 64
    for stage, (blocks, width) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512)), start=1):
        for block in range(blocks):
            name = f"s{stage}b{block}"
            stride = 2 if stage > 1 and block == 0 else 1
            y = conv(x, f"{name}.c1", cin, width, 1)
            y = conv(y, f"{name}.c2", width, width, 3, stride)
            y = conv(y, f"{name}.c3", width, 4 * width, 1, relu=False)
            short = conv(x, f"{name}.proj", cin, 4 * width, 1, stride, relu=False) if block == 0 else x
            nodes.append(helper.make_node("Add", [y, short], [f"{name}.add"], name=f"{name}.add"))
            nodes.append(helper.make_node("Relu", [f"{name}.add"], [f"{name}.out"], name=f"{name}.out"))
            x, cin = f"{name}.out", 4 * width
    x = conv(x, "head", cin, 16, 1)
    nodes.append(helper.make_node("Flatten", [x], ["flat"], name="flat", axis=1))
    side = size // 32
    weights["fc.w"] = _he(rng, (1000, 16 * side * side), 16 * side * side)
    weights["fc.b"] = _bias(rng, 1000, 16 * side * side)
    nodes.append(helper.make_node("Gemm", ["flat", "fc.w", "fc.b"], ["logits"], name="fc", transB=1))
    return _model(
        "resnet50_trunk",
        nodes,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 1000])],
        weights,
    )


def _rows_model(
    name: str, nodes: list[onnx.NodeProto], batch: int, width: int, weights: dict[str, np.ndarray]
) -> onnx.ModelProto:
    """A model from "input" to "out", both [batch, width] (the compile-scaling families)."""
    rows = [batch, width]
    return _model(
        name,
        nodes,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, rows)],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, rows)],
        weights,
    )


def make_chain(seed: int = 0, blocks: int = 100, width: int = 64, batch: int = 16) -> onnx.ModelProto:
    """`blocks` residual MLP blocks in a row, y = relu(x W_i) + x (MatMul, Relu, Add
    each): a long straight-line program, for how compile time grows with the
    number of ops (bench/bench_compile_scaling.py). Input "input", output "out"."""
    rng = np.random.default_rng(seed)
    weights: dict[str, np.ndarray] = {}
    nodes: list[onnx.NodeProto] = []
    x = "input"
    for i in range(blocks):
        weights[f"w{i}"] = _he(rng, (width, width), width) / np.float32(2 * np.sqrt(blocks))
        nodes += [
            helper.make_node("MatMul", [x, f"w{i}"], [f"mm{i}"], name=f"mm{i}"),
            helper.make_node("Relu", [f"mm{i}"], [f"relu{i}"], name=f"relu{i}"),
            helper.make_node("Add", [f"relu{i}", x], [f"add{i}"], name=f"add{i}"),
        ]
        x = f"add{i}"
    nodes.append(helper.make_node("Identity", [x], ["out"], name="out"))
    return _rows_model("chain", nodes, batch, width, weights)


def make_fan_out(seed: int = 0, branches: int = 100, width: int = 64, batch: int = 16) -> onnx.ModelProto:
    """One input read by `branches` MatMuls whose results are summed in a row: one
    tensor with many readers, for how compile time grows with fan-out
    (bench/bench_compile_scaling.py). Input "input", output "out"."""
    rng = np.random.default_rng(seed)
    weights: dict[str, np.ndarray] = {}
    nodes: list[onnx.NodeProto] = []
    total = ""
    for i in range(branches):
        weights[f"w{i}"] = _he(rng, (width, width), width) / np.float32(np.sqrt(branches))
        nodes.append(helper.make_node("MatMul", ["input", f"w{i}"], [f"mm{i}"], name=f"mm{i}"))
        if total:
            nodes.append(helper.make_node("Add", [total, f"mm{i}"], [f"sum{i}"], name=f"sum{i}"))
            total = f"sum{i}"
        else:
            total = f"mm{i}"
    nodes.append(helper.make_node("Identity", [total], ["out"], name="out"))
    return _rows_model("fan_out", nodes, batch, width, weights)


DYNAMIC_SIZE = 2
"""The size `input_shapes` gives a named (dynamic) dimension."""


def input_shapes(model: onnx.ModelProto) -> dict[str, tuple[int, ...]]:
    """The shape of every graph input that is not an initializer, by name (a
    dynamic dimension: DYNAMIC_SIZE)."""
    initializers = {t.name for t in model.graph.initializer}
    return {
        value.name: tuple(
            d.dim_value if d.HasField("dim_value") else DYNAMIC_SIZE
            for d in value.type.tensor_type.shape.dim
        )
        for value in model.graph.input
        if value.name not in initializers
    }


def make_inputs(model: onnx.ModelProto, seed: int = 0) -> dict[str, np.ndarray]:
    """Standard-normal float32 data for every graph input that is not an initializer."""
    rng = np.random.default_rng(seed)
    shapes = input_shapes(model)
    return {n: rng.standard_normal(s).astype(np.float32) for n, s in shapes.items()}


MODELS = {
    "mlp": make_mlp,
    "cnn": make_cnn,
    "cnn-dynamic": lambda seed=0: make_cnn(seed, batch="N"),
    "resnet50-trunk": make_resnet50_trunk,
    "chain": make_chain,
    "fan-out": make_fan_out,
}


def write_models(
    argv: list[str] | None,
    description: str,
    load: Callable[[str], tuple[onnx.ModelProto, dict[str, np.ndarray]]],
    known: Sequence[str],
    default: Sequence[str],
) -> int:
    """The command line of the example writers (this file and zoo.py): write
    OUTDIR/NAME.onnx and its inputs OUTDIR/NAME-inputs.npz for each NAME, a model
    and seeded inputs from `load(NAME)`."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("outdir", type=Path, help="directory to write to (created if missing)")
    parser.add_argument(
        "names", nargs="*", metavar="NAME",
        help=f"models to write ({', '.join(known)}; default: {' '.join(default)})",
    )
    args = parser.parse_args(argv)
    names = args.names or list(default)
    if unknown := [n for n in names if n not in known]:
        parser.error(f"unknown model '{unknown[0]}' (known: {', '.join(known)})")
    args.outdir.mkdir(parents=True, exist_ok=True)
    for name in names:
        model, inputs = load(name)
        onnx.save(model, args.outdir / f"{name}.onnx")
        np.savez(args.outdir / f"{name}-inputs.npz", **inputs)  # type: ignore[arg-type]
        print(args.outdir / f"{name}.onnx", args.outdir / f"{name}-inputs.npz")
    return 0


def main(argv: list[str] | None = None) -> int:
    def load(name: str) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
        model = MODELS[name]()
        return model, make_inputs(model)

    description = "Write Tidal's example ONNX models and seeded random inputs for them."
    return write_models(argv, description, load, list(MODELS), ["mlp", "cnn"])


if __name__ == "__main__":
    sys.exit(main())

"""The onnx "light" model zoo with seeded random weights, for end-to-end tests.

The `onnx` package ships nine real architectures under
`onnx/backend/test/data/light/` (opset 9, 1x3x224x224 inputs) whose weights are
`ConstantOfShape` fills: uniform weights make uniform outputs, which prove nothing.
`load_zoo_model(name)` returns the model with every weight replaced by seeded random
values and a seeded random input:

- every `ConstantOfShape` that makes a weight becomes a float initializer (the
  model stays old-style, IR version 3: initializers are also graph inputs);
- every float initializer that feeds a compute op is redrawn by its role: conv and
  Gemm weights He-scaled (std sqrt(2 / fan_in)), biases small, BatchNorm scales
  near 1 and variances in [0.5, 1.5], per-channel Mul scales near 1;
- the input of the final Softmax (the logits) becomes an extra graph output, since
  a saturated softmax hides wrong logits.

Compare with onnxruntime on the *same* modified model (`reference(model, inputs)`).

    python examples/zoo.py OUTDIR [NAME ...]   # writes NAME.onnx and NAME-inputs.npz
"""

from __future__ import annotations

import sys
from math import prod
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parent))  # examples/ is not a package
from models import input_shapes, write_models  # noqa: E402

MODELS = (
    "bvlc_alexnet",
    "densenet121",
    "inception_v1",
    "inception_v2",
    "resnet50",
    "shufflenet",
    "squeezenet",
    "vgg19",
    "zfnet512",
)

# Ops a weight may pass through before its consumer (views of the same numbers).
_VIEWS = ("Reshape", "Unsqueeze", "Identity", "Flatten")


def light_dir() -> Path:
    return Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"


def model_path(name: str) -> Path:
    path = light_dir() / f"light_{name}.onnx"
    if not path.exists():
        known = ", ".join(MODELS)
        raise FileNotFoundError(f"no light model '{name}' (known: {known})")
    return path


def _consumers(graph: onnx.GraphProto) -> dict[str, list[tuple[onnx.NodeProto, int]]]:
    uses: dict[str, list[tuple[onnx.NodeProto, int]]] = {}
    for node in graph.node:
        for i, name in enumerate(node.input):
            uses.setdefault(name, []).append((node, i))
    return uses


def _role(
    name: str, uses: dict[str, list[tuple[onnx.NodeProto, int]]]
) -> tuple[onnx.NodeProto, int] | None:
    """The compute op (and operand index) a weight feeds, looking through views."""
    seen = 0
    while seen < 8:
        users = uses.get(name, [])
        if not users:
            return None
        node, index = users[0]
        if node.op_type not in _VIEWS or index != 0:
            return node, index
        name = node.output[0]
        seen += 1
    return None


def _shapes(model: onnx.ModelProto) -> dict[str, tuple[int, ...]]:
    inferred = onnx.shape_inference.infer_shapes(model)
    g = inferred.graph
    return {
        v.name: tuple(d.dim_value for d in v.type.tensor_type.shape.dim)
        for v in [*g.input, *g.value_info, *g.output]
    }


def _draw(
    rng: np.random.Generator,
    shape: tuple[int, ...],
    role: tuple[onnx.NodeProto, int] | None,
    shapes: dict[str, tuple[int, ...]],
    what: str,
) -> np.ndarray:
    """Random values for a weight of `shape` by the role it plays."""
    if role is None:
        raise ValueError(f"weight '{what}' feeds no op")
    node, index = role
    op = node.op_type

    def uniform(lo: float, hi: float) -> np.ndarray:
        return rng.uniform(lo, hi, shape).astype(np.float32)

    def he(fan_in: int) -> np.ndarray:
        std = np.float32(np.sqrt(2.0 / max(fan_in, 1)))
        return rng.standard_normal(shape, dtype=np.float32) * std

    if op == "Conv" and index == 1:
        return he(prod(shape[1:]))
    if op == "Gemm" and index == 1:
        a_shape = shapes[node.input[0]]
        trans_a = any(a.name == "transA" and a.i for a in node.attribute)
        return he(a_shape[0] if trans_a else a_shape[-1])
    if op in ("Conv", "Gemm") and index == 2:
        return uniform(-0.1, 0.1)
    if op == "BatchNormalization":
        return {
            1: lambda: uniform(0.8, 1.2),  # scale
            2: lambda: uniform(-0.1, 0.1),  # bias
            3: lambda: uniform(-0.1, 0.1),  # mean
            4: lambda: uniform(0.5, 1.5),  # variance
        }[index]()
    if op == "Mul":
        return uniform(0.8, 1.2)
    if op in ("Add", "Sum"):
        return uniform(-0.1, 0.1)
    raise ValueError(f"weight '{what}' feeds {op} input #{index}: no rule to draw it")


def randomize(model: onnx.ModelProto, seed: int = 0) -> onnx.ModelProto:
    """A copy of `model` with seeded random weights and its logits as an extra output."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    rng = np.random.default_rng(seed)
    graph = model.graph
    shapes = _shapes(model)
    uses = _consumers(graph)
    old_style = model.ir_version < 4
    inits = {t.name: t for t in graph.initializer}

    # ConstantOfShape fills -> random float initializers.
    fills = [n for n in graph.node if n.op_type == "ConstantOfShape"]
    new_inits: list[onnx.TensorProto] = []
    for node in fills:
        shape_name, out = node.input[0], node.output[0]
        shape = tuple(int(d) for d in numpy_helper.to_array(inits[shape_name]))
        values = _draw(rng, shape, _role(out, uses), shapes, out)
        new_inits.append(numpy_helper.from_array(values, out))
    for node in fills:
        graph.node.remove(node)
    uses = _consumers(graph)

    # Float initializers feeding compute ops are redrawn in place; unused ones
    # (the fills' shapes among them) go.
    dead: set[str] = set()
    for name, tensor in list(inits.items()):
        if name not in uses:
            graph.initializer.remove(inits.pop(name))
            dead.add(name)
            continue
        if tensor.data_type != onnx.TensorProto.FLOAT:
            continue
        role = _role(name, uses)
        if role is None:
            continue
        values = _draw(rng, tuple(tensor.dims), role, shapes, name)
        tensor.CopyFrom(numpy_helper.from_array(values, name))
    graph.initializer.extend(new_inits)

    # Keep the old style: an initializer is also a graph input; drop dead ones.
    kept = [i for i in graph.input if i.name not in dead]
    del graph.input[:]
    graph.input.extend(kept)
    if old_style:
        graph.input.extend(
            helper.make_tensor_value_info(t.name, onnx.TensorProto.FLOAT, list(t.dims))
            for t in new_inits
        )

    # The logits: the input of a Softmax that makes a graph output.
    outputs = {o.name for o in graph.output}
    for node in graph.node:
        if node.op_type == "Softmax" and node.output[0] in outputs:
            logits = node.input[0]
            if logits not in outputs:
                graph.output.append(
                    helper.make_tensor_value_info(
                        logits, onnx.TensorProto.FLOAT, list(shapes[logits])
                    )
                )
    onnx.checker.check_model(model)
    return model


def random_input(model: onnx.ModelProto, seed: int = 0) -> dict[str, np.ndarray]:
    """Standard-normal float32 data for every graph input that is not an initializer
    (drawn as float32, so not the numbers `models.make_inputs` draws)."""
    rng = np.random.default_rng(seed + 1)
    shapes = input_shapes(model)
    return {n: rng.standard_normal(s, dtype=np.float32) for n, s in shapes.items()}


def load_zoo_model(
    name: str, seed: int = 0
) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    """The light model `name` with seeded random weights and logits exposed, and a
    seeded random input: (model, inputs)."""
    model = randomize(onnx.load(model_path(name)), seed)
    return model, random_input(model, seed)


def reference(
    model: onnx.ModelProto | str | Path, inputs: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Every graph output computed by onnxruntime (CPU)."""
    import onnxruntime as ort

    source = model if isinstance(model, str | Path) else model.SerializeToString()
    session = ort.InferenceSession(
        str(source) if isinstance(source, Path) else source,
        providers=["CPUExecutionProvider"],
    )
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, inputs), strict=True))


def main(argv: list[str] | None = None) -> int:
    description = "Write the onnx light-zoo models with seeded random weights and inputs."
    return write_models(argv, description, load_zoo_model, MODELS, MODELS)


if __name__ == "__main__":
    sys.exit(main())

"""ONNX import: the IR it builds, its numerics against onnxruntime, and its errors."""

from pathlib import Path

import math

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from harness import example
from onnx import TensorProto, helper, numpy_helper
from tidal.dialects import graph
from tidal.sim.config import PRESETS
from tidal.targets.onnx_import import (
    OnnxImportError,
    constant_inputs,
    import_notes,
    import_onnx,
)
from tidal.tools.tidal_run import run_model
from xdsl.dialects.builtin import ModuleOp, StringAttr, TensorType, f32
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Operation, SSAValue

models = example("models")


# ----------------------------------------------------------- a NumPy reference


def _conv2d(op: graph.Conv2dOp, x, w, b=None):
    (sh, sw), (dh, dw), group = op.strides_val, op.dilations_val, op.group_val
    top, left, bottom, right = op.pads_val
    x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    n, _, oh, ow = op.result.type.get_shape()
    cout, cin_g, kh, kw = w.shape
    out = np.zeros((n, cout, oh, ow), np.float64)
    cout_g = cout // group
    for g in range(group):
        xs = x[:, g * cin_g : (g + 1) * cin_g]
        ws = w[g * cout_g : (g + 1) * cout_g]
        for i in range(kh):
            for j in range(kw):
                patch = xs[
                    :, :, i * dh : i * dh + sh * oh : sh, j * dw : j * dw + sw * ow : sw
                ]
                out[:, g * cout_g : (g + 1) * cout_g] += np.einsum(
                    "nchw,oc->nohw", patch, ws[:, :, i, j]
                )
    return out if b is None else out + b.reshape(1, -1, 1, 1)


def _maxpool(op: graph.MaxPoolOp, x):
    (kh, kw), (sh, sw) = op.kernel_shape_val, op.strides_val
    top, left, bottom, right = op.pads_val
    x = np.pad(
        x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=-np.inf
    )
    oh, ow = op.result.type.get_shape()[2:]
    windows = [
        x[:, :, i : i + sh * oh : sh, j : j + sw * ow : sw]
        for i in range(kh)
        for j in range(kw)
    ]
    return np.max(windows, axis=0)


def _gemm(op: graph.GemmOp, a, b, c=None):
    a = a.T if op.trans_a_val else a
    b = b.T if op.trans_b_val else b
    out = op.alpha_val * (a @ b)
    return out if c is None else out + op.beta_val * c


def _softmax(op: graph.SoftmaxOp, x):
    e = np.exp(x - x.max(axis=op.axis_val, keepdims=True))
    return e / e.sum(axis=op.axis_val, keepdims=True)


def _shape(op: Operation) -> tuple[int, ...]:
    ty = op.results[0].type
    assert isinstance(ty, TensorType)
    return ty.get_shape()


def _batchnorm(op: graph.BatchNormOp, x, scale, bias, mean, var):
    c = (1, -1) + (1,) * (x.ndim - 2)
    inv = scale / np.sqrt(var + op.epsilon_val)
    return (x - mean.reshape(c)) * inv.reshape(c) + bias.reshape(c)


def _avgpool(op: graph.AvgPoolOp, x):
    (kh, kw), (sh, sw) = op.kernel_shape_val, op.strides_val
    top, left, bottom, right = op.pads_val
    pad = ((0, 0), (0, 0), (top, bottom), (left, right))
    xp = np.pad(x, pad)
    ones = np.pad(np.ones_like(x), pad, constant_values=op.count_include_pad_val)
    oh, ow = op.result.type.get_shape()[2:]

    def windows(a):
        return sum(
            a[:, :, i : i + sh * oh : sh, j : j + sw * ow : sw]
            for i in range(kh)
            for j in range(kw)
        )

    return windows(xp) / windows(ones)


def _lrn(op: graph.LRNOp, x):
    size, c = op.size_val, x.shape[1]
    sq = np.pad(x * x, ((0, 0), ((size - 1) // 2, size // 2), (0, 0), (0, 0)))
    window = sum(sq[:, i : i + c] for i in range(size))
    return x / (op.bias_val + op.alpha_val / size * window) ** op.beta_val


REFERENCE = {
    graph.ConstantOp: lambda op: op.to_numpy(),
    graph.MatMulOp: lambda op, a, b: a @ b,
    graph.GemmOp: _gemm,
    graph.Conv2dOp: _conv2d,
    graph.AddOp: lambda op, a, b: a + b,
    graph.MulOp: lambda op, a, b: a * b,
    graph.ReluOp: lambda op, x: np.maximum(x, 0),
    graph.MaxPoolOp: _maxpool,
    graph.ReshapeOp: lambda op, x: x.reshape(_shape(op)),
    graph.FlattenOp: lambda op, x: x.reshape(_shape(op)),
    graph.SoftmaxOp: _softmax,
    graph.BatchNormOp: _batchnorm,
    graph.AvgPoolOp: _avgpool,
    graph.GlobalAvgPoolOp: lambda op, x: x.mean(axis=(2, 3), keepdims=True),
    graph.ConcatOp: lambda op, *xs: np.concatenate(xs, axis=op.axis_val),
    graph.TransposeOp: lambda op, x: x.transpose(op.perm_val),
    graph.LRNOp: _lrn,
    graph.SumOp: lambda op, *xs: sum(xs[1:], xs[0]),
    graph.UnsqueezeOp: lambda op, x: x.reshape(_shape(op)),
    graph.ConstantOfShapeOp: lambda op: np.full(_shape(op), op.value_val),
    graph.DropoutOp: lambda op, x: x,
    graph.ActivationOp: lambda op, x: {
        "exp": np.exp, "log": np.log, "reciprocal": np.reciprocal, "sqrt": np.sqrt,
        "sigmoid": lambda v: 1 / (1 + np.exp(-v)), "tanh": np.tanh,
        "erf": np.vectorize(math.erf), "softplus": lambda v: np.logaddexp(0, v),
    }[op.func_val](x.astype(np.float64)),
}


def _onnx_reference(op: graph.OnnxNodeOp, *xs: np.ndarray) -> list[np.ndarray]:
    """A framework-tier op run by onnx's reference evaluator (not onnxruntime)."""
    from onnx.reference import ReferenceEvaluator

    model = onnx.load_from_string(op.model_bytes())
    feeds = {
        i.name: x.astype(helper.tensor_dtype_to_np_dtype(i.type.tensor_type.elem_type))
        for i, x in zip(model.graph.input, xs, strict=True)
    }
    return [np.asarray(v) for v in ReferenceEvaluator(model).run(None, feeds)]


def evaluate(module: ModuleOp, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run @main in float64 NumPy, feeding and naming values by `tidal.name`."""
    func = _main(module)
    env: dict[SSAValue, np.ndarray] = {
        arg: inputs[name].astype(np.float64)
        for arg, name in zip(func.body.block.args, _names(func.arg_attrs), strict=False)
    }
    for op in func.body.block.ops:
        if isinstance(op, ReturnOp):
            return {
                name: env[v]
                for name, v in zip(_names(func.res_attrs), op.arguments, strict=False)
            }
        if isinstance(op, graph.OnnxNodeOp):  # the framework tier: onnx's reference
            env.update(zip(op.results, _onnx_reference(op, *(env[v] for v in op.operands))))
            continue
        result = REFERENCE[type(op)](op, *(env[v] for v in op.operands))
        assert result.shape == _shape(op), op.name
        env[op.results[0]] = result
    raise AssertionError("no func.return")


def run_onnxruntime(model: onnx.ModelProto, inputs: dict[str, np.ndarray]):
    session = ort.InferenceSession(
        model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, inputs), strict=False))


def assert_matches_onnxruntime(
    model: onnx.ModelProto, seed: int = 0, positive: bool = False
) -> None:
    """`positive`: inputs' magnitudes (for functions defined on positives only)."""
    inputs = models.make_inputs(model, seed)
    if positive:
        inputs = {k: np.abs(v) + np.float32(0.01) for k, v in inputs.items()}
    expected = run_onnxruntime(model, inputs)
    actual = evaluate(import_onnx(model), inputs)
    assert actual.keys() == expected.keys()
    for name, value in expected.items():
        np.testing.assert_allclose(actual[name], value, rtol=1e-4, atol=1e-5)


# -------------------------------------------------------------------- helpers


def _main(module: ModuleOp) -> FuncOp:
    (func,) = module.ops
    assert isinstance(func, FuncOp)
    assert func.sym_name.data == "main"
    return func


def _names(attrs) -> list[str]:
    assert attrs is not None
    return [d.data["tidal.name"].data for d in attrs.data]


def _ops(module: ModuleOp) -> list[Operation]:
    return list(_main(module).body.block.ops)


def _origin(op: Operation) -> str:
    attr = op.attributes["tidal.origin"]
    assert isinstance(attr, StringAttr)
    return attr.data


def _model(nodes, inputs, outputs, initializers=(), opset=13, value_info=()):
    graph_proto = helper.make_graph(
        nodes, "test", inputs, outputs, list(initializers), value_info=list(value_info)
    )
    return helper.make_model(
        graph_proto, opset_imports=[helper.make_opsetid("", opset)]
    )


def _f32(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _init(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def _refusal(model, **kwargs) -> str:
    """The message `import_onnx(model, **kwargs)` refuses the model with."""
    with pytest.raises(OnnxImportError) as info:
        import_onnx(model, **kwargs)
    return str(info.value)


def _fallback(model, **kwargs) -> str:
    """Why the first node of `model` that the accelerator and host tiers cannot take
    went to the framework tier (a `graph.onnx_node`), as "node 'n' (op T): why"."""
    ops = [op for op in _ops(import_onnx(model, **kwargs)) if isinstance(op, graph.OnnxNodeOp)]
    assert ops, "no op went to the framework tier"
    op = ops[0]
    return (
        f"node '{op.attributes['tidal.origin'].data}' (op {op.op_type_val}): "
        f"{op.attributes['tidal.reason'].data}"
    )


# ------------------------------------------------------------ example models


@pytest.mark.parametrize("make", [models.make_mlp, models.make_cnn])
def test_examples_are_valid_and_run(make):
    model = make()
    onnx.checker.check_model(model, full_check=True)
    outputs = run_onnxruntime(model, models.make_inputs(model))
    assert all(np.isfinite(v).all() for v in outputs.values())


def test_examples_are_deterministic():
    assert models.make_mlp(seed=3) == models.make_mlp(seed=3)
    assert models.make_cnn(seed=1) != models.make_cnn(seed=2)
    a, b = (
        models.make_inputs(models.make_cnn(), 5),
        models.make_inputs(models.make_cnn(), 5),
    )
    np.testing.assert_array_equal(a["input"], b["input"])


def test_examples_main_writes_models_and_inputs(tmp_path):
    assert models.main([str(tmp_path)]) == 0
    assert {p.name for p in tmp_path.iterdir()} == {
        "mlp.onnx", "mlp-inputs.npz", "cnn.onnx", "cnn-inputs.npz"
    }
    onnx.checker.check_model(str(tmp_path / "cnn.onnx"))
    expected = models.make_inputs(models.make_cnn())
    with np.load(tmp_path / "cnn-inputs.npz") as inputs:
        assert inputs.files == list(expected)
        assert np.array_equal(inputs["input"], expected["input"])


def test_import_mlp():
    module = import_onnx(models.make_mlp())
    module.verify()
    func = _main(module)
    assert func.function_type.inputs.data == (TensorType(f32, [8, 784]),)
    assert func.function_type.outputs.data == (TensorType(f32, [8, 10]),)
    assert _names(func.arg_attrs) == ["input"]
    assert _names(func.res_attrs) == ["probs"]
    computing = [op for op in _ops(module) if not isinstance(op, graph.ConstantOp)]
    assert [op.name for op in computing] == [
        "graph.gemm",
        "graph.relu",
        "graph.gemm",
        "graph.softmax",
        "func.return",
    ]
    assert [_origin(op) for op in computing[:-1]] == ["fc1", "relu1", "fc2", "softmax"]
    fc1 = computing[0]
    assert isinstance(fc1, graph.GemmOp)
    assert fc1.trans_b_val
    assert fc1.c is not None
    assert _shape(fc1) == (8, 512)
    softmax = computing[3]
    assert isinstance(softmax, graph.SoftmaxOp)
    assert softmax.axis_val == 1
    constants = [op for op in _ops(module) if isinstance(op, graph.ConstantOp)]
    assert sorted(_origin(op) for op in constants) == [
        "fc1.bias",
        "fc1.weight",
        "fc2.bias",
        "fc2.weight",
    ]
    weight = next(op for op in constants if _origin(op) == "fc1.weight")
    expected = numpy_helper.to_array(models.make_mlp().graph.initializer[0])
    np.testing.assert_array_equal(weight.to_numpy(), expected)


def test_import_cnn():
    module = import_onnx(models.make_cnn())
    module.verify()
    func = _main(module)
    assert func.function_type.inputs.data == (TensorType(f32, [1, 3, 32, 32]),)
    assert _names(func.arg_attrs) == ["input"]
    assert _names(func.res_attrs) == ["logits"]
    computing = [op for op in _ops(module) if not isinstance(op, graph.ConstantOp)]
    assert [(op.name, _origin(op)) for op in computing[:-1]] == [
        ("graph.conv2d", "conv1"),
        ("graph.relu", "relu1"),
        ("graph.maxpool", "pool1"),
        ("graph.conv2d", "conv2"),
        ("graph.relu", "relu2"),
        ("graph.flatten", "flatten"),
        ("graph.gemm", "fc"),
    ]
    conv1, pool = computing[0], computing[2]
    assert isinstance(conv1, graph.Conv2dOp)
    assert conv1.pads_val == (1, 1, 1, 1)
    assert _shape(conv1) == (1, 8, 32, 32)
    assert isinstance(pool, graph.MaxPoolOp)
    assert pool.kernel_shape_val == (2, 2)
    assert _shape(pool) == (1, 8, 16, 16)
    assert _shape(computing[5]) == (1, 4096)


@pytest.mark.parametrize("make", [models.make_mlp, models.make_cnn])
def test_examples_match_onnxruntime(make):
    assert_matches_onnxruntime(make())


def test_import_from_path_and_print_round_trip(tmp_path):
    path = tmp_path / "cnn.onnx"
    onnx.save(models.make_cnn(), path)
    module = import_onnx(path)
    text = str(module)
    assert 'tidal.origin = "conv1"' in text
    assert '{tidal.name = "input"}' in text
    assert str(import_onnx(str(path))) == text


# ----------------------------------------------------------- graph features


def test_old_style_initializers_as_inputs():
    w = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    model = _model(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        [_f32("x", [2, 4]), _f32("w", [4, 3])],
        [_f32("y", [2, 3])],
        [_init("w", w)],
        opset=9,
    )
    module = import_onnx(model)
    func = _main(module)
    assert _names(func.arg_attrs) == ["x"]
    matmul = next(op for op in _ops(module) if isinstance(op, graph.MatMulOp))
    assert _origin(matmul) == "MatMul_0"
    assert isinstance(matmul.rhs.owner, graph.ConstantOp)
    assert_matches_onnxruntime(model)


def test_softmax_opset11_on_3d_input_coerces_to_2d():
    model = _model(
        [helper.make_node("Softmax", ["x"], ["y"], name="sm", axis=1)],
        [_f32("x", [2, 3, 4])],
        [_f32("y", [2, 3, 4])],
        opset=11,
    )
    module = import_onnx(model)
    ops = _ops(module)[:-1]
    assert [op.name for op in ops] == [
        "graph.reshape",
        "graph.softmax",
        "graph.reshape",
    ]
    assert [_shape(op) for op in ops] == [(2, 12), (2, 12), (2, 3, 4)]
    assert isinstance(ops[1], graph.SoftmaxOp)
    assert ops[1].axis_val == 1
    assert {_origin(op) for op in ops} == {"sm"}
    assert_matches_onnxruntime(model)


def test_softmax_opset11_last_axis_is_one_op():
    model = _model(
        [helper.make_node("Softmax", ["x"], ["y"], axis=-1)],
        [_f32("x", [2, 3, 4])],
        [_f32("y", [2, 3, 4])],
        opset=11,
    )
    ops = _ops(import_onnx(model))[:-1]
    assert [op.name for op in ops] == ["graph.softmax"]
    assert isinstance(ops[0], graph.SoftmaxOp)
    assert ops[0].axis_val == 2


def test_softmax_opset13_middle_axis():
    model = _model(
        [helper.make_node("Softmax", ["x"], ["y"], axis=1)],
        [_f32("x", [2, 3, 4])],
        [_f32("y", [2, 3, 4])],
    )
    ops = _ops(import_onnx(model))[:-1]
    assert [op.name for op in ops] == ["graph.softmax"]
    assert_matches_onnxruntime(model)


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER", "VALID"])
def test_conv_auto_pad(auto_pad):
    rng = np.random.default_rng(1)
    model = _model(
        [
            helper.make_node(
                "Conv", ["x", "w"], ["y"], name="c", auto_pad=auto_pad, strides=[2, 2]
            )
        ],
        [_f32("x", [1, 2, 7, 8])],
        [_f32("y", [1, 4, 3, 3] if auto_pad == "VALID" else [1, 4, 4, 4])],
        [_init("w", rng.standard_normal((4, 2, 2, 3)).astype(np.float32))],
    )
    conv = next(op for op in _ops(import_onnx(model)) if isinstance(op, graph.Conv2dOp))
    assert conv.bias is None
    if auto_pad == "SAME_UPPER":
        assert conv.pads_val == (0, 0, 1, 1)
    if auto_pad == "SAME_LOWER":
        assert conv.pads_val == (1, 1, 0, 0)
    assert_matches_onnxruntime(model)


def test_conv_group_dilation_and_maxpool_pads():
    rng = np.random.default_rng(2)
    model = _model(
        [
            helper.make_node(
                "Conv",
                ["x", "w", "b"],
                ["c"],
                group=2,
                dilations=[2, 1],
                pads=[1, 0, 2, 1],
            ),
            helper.make_node(
                "MaxPool",
                ["c"],
                ["y"],
                kernel_shape=[3, 3],
                strides=[2, 1],
                pads=[1, 1, 1, 1],
            ),
        ],
        [_f32("x", [2, 4, 9, 9])],
        [_f32("y", [2, 6, 4, 8])],
        [
            _init("w", rng.standard_normal((6, 2, 3, 3)).astype(np.float32)),
            _init("b", rng.standard_normal(6).astype(np.float32)),
        ],
    )
    assert_matches_onnxruntime(model)


def test_elementwise_broadcast_matmul_reshape_flatten():
    rng = np.random.default_rng(3)
    model = _model(
        [
            helper.make_node("Mul", ["x", "s"], ["m"]),
            helper.make_node("Add", ["m", "t"], ["a"]),
            helper.make_node("Relu", ["a"], ["r"]),
            helper.make_node("Reshape", ["r", "shape"], ["rs"]),
            helper.make_node("MatMul", ["rs", "w"], ["mm"]),
            helper.make_node("Flatten", ["mm"], ["y"], axis=0),
        ],
        [_f32("x", [2, 3, 4]), _f32("t", [4])],
        [_f32("y", [1, 10])],
        [
            _init("s", rng.standard_normal((3, 1)).astype(np.float32)),
            _init("shape", np.array([0, -1], dtype=np.int64)),
            _init("w", rng.standard_normal((12, 5)).astype(np.float32)),
        ],
    )
    module = import_onnx(model)
    names = [op.name for op in _ops(module)]
    assert "graph.mul" in names
    assert "graph.add" in names
    reshape = next(op for op in _ops(module) if isinstance(op, graph.ReshapeOp))
    assert _shape(reshape) == (2, 12)
    # The int64 shape is folded, never materialised.
    assert all(
        _origin(op) != "shape"
        for op in _ops(module)
        if isinstance(op, graph.ConstantOp)
    )
    assert_matches_onnxruntime(model)


def test_gemm_attributes_and_constant_node():
    rng = np.random.default_rng(4)
    c_tensor = numpy_helper.from_array(rng.standard_normal((1, 5)).astype(np.float32))
    model = _model(
        [
            helper.make_node("Constant", [], ["c"], name="bias", value=c_tensor),
            helper.make_node(
                "Gemm",
                ["a", "b", "c"],
                ["y"],
                name="g",
                alpha=0.5,
                beta=2.0,
                transA=1,
            ),
        ],
        [_f32("a", [3, 4])],
        [_f32("y", [4, 5])],
        [_init("b", rng.standard_normal((3, 5)).astype(np.float32))],
    )
    module = import_onnx(model)
    gemm = next(op for op in _ops(module) if isinstance(op, graph.GemmOp))
    assert (gemm.alpha_val, gemm.beta_val) == (0.5, 2.0)
    assert (gemm.trans_a_val, gemm.trans_b_val) == (True, False)
    assert gemm.c is not None
    assert _origin(gemm.c.owner) == "bias"
    assert_matches_onnxruntime(model)


def test_identity_passes_through_and_dropout_is_kept_for_canonicalisation():
    model = _model(
        [
            helper.make_node("Identity", ["x"], ["i"]),
            helper.make_node("Dropout", ["i"], ["d"], name="drop"),
            helper.make_node("Relu", ["d"], ["y"]),
        ],
        [_f32("x", [2, 3])],
        [_f32("y", [2, 3])],
    )
    module = import_onnx(model)
    ops = _ops(module)
    assert [op.name for op in ops] == ["graph.dropout", "graph.relu", "func.return"]
    assert isinstance(ops[0], graph.DropoutOp)
    assert ops[0].input == _main(module).body.block.args[0]
    assert ops[0].ratio_val == 0.5
    assert_matches_onnxruntime(model)


@pytest.mark.parametrize("opset", [9, 12])
def test_dropout_ratio_attribute_or_input(opset):
    ratio = [_init("r", np.array(0.25, np.float32))] if opset >= 12 else []
    node = helper.make_node(
        "Dropout",
        ["x", "r"] if opset >= 12 else ["x"],
        ["y"],
        **({} if opset >= 12 else {"ratio": 0.25}),
    )
    model = _model([node], [_f32("x", [2, 3])], [_f32("y", [2, 3])], ratio, opset=opset)
    (dropout,) = [op for op in _ops(import_onnx(model)) if isinstance(op, graph.DropoutOp)]
    assert dropout.ratio_val == 0.25
    assert not dropout.training_val


@pytest.mark.parametrize("seed", [None, 42])
def test_dropout_training_mode_keeps_the_op_with_a_seed(seed):
    inits = [_init("r", np.array(0.3, np.float32)), _init("t", np.array(True))]
    attrs = {} if seed is None else {"seed": seed}
    nodes = [
        helper.make_node("Relu", ["x"], ["h"]),
        helper.make_node("Dropout", ["h", "r", "t"], ["y"], **attrs),
    ]
    model = _model(nodes, [_f32("x", [2, 3])], [_f32("y", [2, 3])], inits, opset=13)
    (dropout,) = [op for op in _ops(import_onnx(model)) if isinstance(op, graph.DropoutOp)]
    assert dropout.training_val and dropout.ratio_val == pytest.approx(0.3)
    assert dropout.seed_val == (1 if seed is None else 42)  # by default the node's index


def test_dropout_training_mode_refusals():
    inits = [_init("r", np.array(0.3, np.float32)), _init("t", np.array(True))]
    mask = helper.make_node("Dropout", ["x", "r", "t"], ["y", "m"], name="d")
    model = _model([mask], [_f32("x", [2, 3])],
                   [_f32("y", [2, 3]), helper.make_tensor_value_info("m", onnx.TensorProto.BOOL, [2, 3])],
                   inits, opset=13)
    assert _fallback(model) == "node 'd' (op Dropout): output 'm' is bool [2, 3]"


def test_random_uniform_like_imports_with_its_bounds_and_seed():
    node = helper.make_node("RandomUniformLike", ["x"], ["y"], low=-1.0, high=4.0, seed=9.0)
    model = _model([node], [_f32("x", [2, 3])], [_f32("y", [2, 3])], opset=13)
    (op,) = [op for op in _ops(import_onnx(model)) if isinstance(op, graph.RandomUniformLikeOp)]
    assert (op.low_val, op.high_val, op.seed_val) == (-1.0, 4.0, 9)
    bad = helper.make_node("RandomUniformLike", ["x"], ["y"], dtype=onnx.TensorProto.DOUBLE, name="r")
    model = _model([bad], [_f32("x", [2, 3])],
                   [helper.make_tensor_value_info("y", onnx.TensorProto.DOUBLE, [2, 3])], opset=13)
    assert _fallback(model) == "node 'r' (op RandomUniformLike): output 'y' is float64 [2, 3]"


# ------------------------------------------------------ the light-zoo operators


def _rand(*shape, seed=0, lo=None):
    rng = np.random.default_rng(seed)
    if lo is not None:
        return rng.uniform(lo, lo + 1.0, shape).astype(np.float32)
    return rng.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("opset", [9, 15])
def test_batchnorm(opset):
    params = ["s", "b", "m", "v"]
    model = _model(
        [helper.make_node("BatchNormalization", ["x", *params], ["y"], epsilon=1e-3)],
        [_f32("x", [2, 6, 5, 4])],
        [_f32("y", [2, 6, 5, 4])],
        [
            _init("s", _rand(6, seed=1)),
            _init("b", _rand(6, seed=2)),
            _init("m", _rand(6, seed=3)),
            _init("v", _rand(6, seed=4, lo=0.5)),
        ],
        opset=opset,
    )
    (bn,) = [op for op in _ops(import_onnx(model)) if isinstance(op, graph.BatchNormOp)]
    assert bn.epsilon_val == pytest.approx(1e-3)
    assert_matches_onnxruntime(model)


@pytest.mark.parametrize("count_include_pad", [0, 1])
@pytest.mark.parametrize(
    ("kernel", "strides", "pads", "out"),
    [
        ([3, 3], [1, 1], [1, 1, 1, 1], [7, 6]),
        ([3, 3], [2, 2], [1, 1, 1, 1], [4, 3]),
        ([7, 7], [1, 1], [0, 0, 1, 1], [2, 1]),  # Inception v1's head, ONNX-exact
        ([2, 2], [2, 2], [0, 0, 0, 0], [3, 3]),
    ],
)
def test_avgpool(kernel, strides, pads, out, count_include_pad):
    node = helper.make_node(
        "AveragePool",
        ["x"],
        ["y"],
        kernel_shape=kernel,
        strides=strides,
        pads=pads,
        count_include_pad=count_include_pad,
    )
    model = _model([node], [_f32("x", [1, 3, 7, 6])], [_f32("y", [1, 3, *out])])
    (pool,) = [op for op in _ops(import_onnx(model)) if isinstance(op, graph.AvgPoolOp)]
    assert pool.count_include_pad_val == bool(count_include_pad)
    assert_matches_onnxruntime(model)


def test_avgpool_auto_pad_same_upper():
    node = helper.make_node(
        "AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER"
    )
    model = _model([node], [_f32("x", [1, 2, 6, 6])], [_f32("y", [1, 2, 3, 3])])
    assert_matches_onnxruntime(model)


def test_global_avgpool_concat_transpose():
    model = _model(
        [
            helper.make_node("GlobalAveragePool", ["x"], ["g"]),
            helper.make_node("Concat", ["g", "x2", "g"], ["c"], axis=-3),
            helper.make_node("Transpose", ["c"], ["t"], perm=[0, 2, 1, 3]),
            helper.make_node("Transpose", ["t"], ["y"]),
        ],
        [_f32("x", [1, 4, 5, 3]), _f32("x2", [1, 2, 1, 1])],
        [_f32("y", [1, 10, 1, 1])],
        opset=9,
    )
    module = import_onnx(model)
    concat = next(op for op in _ops(module) if isinstance(op, graph.ConcatOp))
    assert concat.axis_val == 1
    assert len(concat.inputs) == 3
    perms = [op.perm_val for op in _ops(module) if isinstance(op, graph.TransposeOp)]
    assert perms == [(0, 2, 1, 3), (3, 2, 1, 0)]
    assert_matches_onnxruntime(model)


@pytest.mark.parametrize(
    ("size", "alpha", "beta", "bias"), [(5, 1e-4, 0.75, 1.0), (3, 0.5, 0.6, 2.0), (1, 2.0, 1.0, 1.5)]
)
def test_lrn(size, alpha, beta, bias):
    node = helper.make_node("LRN", ["x"], ["y"], size=size, alpha=alpha, beta=beta, bias=bias)
    model = _model([node], [_f32("x", [1, 7, 3, 4])], [_f32("y", [1, 7, 3, 4])], opset=9)
    (lrn,) = [op for op in _ops(import_onnx(model)) if isinstance(op, graph.LRNOp)]
    assert (lrn.size_val, lrn.beta_val) == (size, pytest.approx(beta))
    assert_matches_onnxruntime(model)


@pytest.mark.parametrize(
    "onnx_op", ["Exp", "Log", "Reciprocal", "Sqrt", "Sigmoid", "Tanh", "Erf", "Softplus"]
)
def test_activation_ops_import_as_graph_activation(onnx_op):
    model = _model(
        [helper.make_node(onnx_op, ["a"], ["y"])],
        [_f32("a", [2, 3, 4])],
        [_f32("y", [2, 3, 4])],
        opset=13,
    )
    (op,) = [op for op in _ops(import_onnx(model)) if isinstance(op, graph.ActivationOp)]
    assert op.func_val == onnx_op.lower()
    assert_matches_onnxruntime(model, positive=onnx_op in ("Log", "Sqrt"))


def test_sum_is_one_nary_op():
    model = _model(
        [helper.make_node("Sum", ["a", "b", "c"], ["y"])],
        [_f32("a", [2, 3, 4]), _f32("b", [3, 1]), _f32("c", [4])],
        [_f32("y", [2, 3, 4])],
        opset=9,
    )
    (total,) = [op for op in _ops(import_onnx(model)) if isinstance(op, graph.SumOp)]
    assert len(total.inputs) == 3
    assert_matches_onnxruntime(model)


@pytest.mark.parametrize("opset", [9, 13])
def test_unsqueeze_of_a_constant_and_of_data(opset):
    def unsqueeze(x, y, axes):
        if opset >= 13:
            return helper.make_node("Unsqueeze", [x, f"{y}_axes"], [y])
        return helper.make_node("Unsqueeze", [x], [y], axes=axes)

    axes_inits = (
        [
            _init("s_axes", np.array([1, -1], np.int64)),
            _init("v_axes", np.array([0], np.int64)),
        ]
        if opset >= 13
        else []
    )
    model = _model(
        [
            unsqueeze("scale", "s", [1, 2]),
            helper.make_node("Mul", ["x", "s"], ["m"]),
            unsqueeze("m", "v", [0]),
        ],
        [_f32("x", [2, 4, 3, 3])],
        [_f32("v", [1, 2, 4, 3, 3])],
        [_init("scale", _rand(4, seed=5)), *axes_inits],
        opset=opset,
    )
    module = import_onnx(model)
    unsqueezes = [op for op in _ops(module) if isinstance(op, graph.UnsqueezeOp)]
    assert [op.axes_val for op in unsqueezes] == [(1, 2), (0,)]
    assert isinstance(unsqueezes[0].input.owner, graph.ConstantOp)
    assert_matches_onnxruntime(model)


def test_constant_of_shape_float_fill_and_integer_shape_data():
    fill = helper.make_tensor("value", TensorProto.FLOAT, [1], [0.5])
    ones = helper.make_tensor("value", TensorProto.INT64, [1], [1])
    model = _model(
        [
            helper.make_node("ConstantOfShape", ["w_shape"], ["w"], value=fill),
            helper.make_node("ConstantOfShape", ["rank"], ["ones"], value=ones),
            helper.make_node("Concat", ["ones", "tail"], ["shape"], axis=0),
            helper.make_node("Add", ["x", "w"], ["a"]),
            helper.make_node("Reshape", ["a", "new_shape"], ["y"]),
        ],
        [_f32("x", [3, 4])],
        [_f32("y", [12])],
        [
            _init("w_shape", np.array([3, 4], np.int64)),
            _init("rank", np.array([1], np.int64)),
            _init("tail", np.array([4], np.int64)),
            _init("new_shape", np.array([12], np.int64)),
        ],
        opset=9,
    )
    module = import_onnx(model)  # integer data is computed at import (Concat)
    assert not any(isinstance(op, graph.OnnxNodeOp) for op in _ops(module))
    assert_matches_onnxruntime(model)
    del model.graph.node[1:3]
    module = import_onnx(model)
    (fill_op,) = [op for op in _ops(module) if isinstance(op, graph.ConstantOfShapeOp)]
    assert (_shape(fill_op), fill_op.value_val) == ((3, 4), 0.5)
    assert_matches_onnxruntime(model)


@pytest.mark.parametrize("name", example("zoo").MODELS)
def test_light_zoo_models_import(name):
    """Every op of the nine onnx light models imports (their ConstantOfShape weight
    fills become graph.constant_of_shape, folded later by canonicalisation)."""
    module = import_onnx(example("zoo").model_path(name))
    module.verify()
    kinds = {op.name for op in _ops(module)}
    assert "graph.constant_of_shape" in kinds
    assert "graph.conv2d" in kinds


def test_error_batchnorm_training_outputs():
    model = _model(
        [
            helper.make_node(
                "BatchNormalization",
                ["x", "s", "s", "s", "s"],
                ["y", "mean", "var", "saved_mean", "saved_var"],
            )
        ],
        [_f32("x", [1, 2, 3, 3])],
        [_f32("y", [1, 2, 3, 3]), _f32("mean", [2])],
        [_init("s", np.ones(2, np.float32))],
        opset=9,
    )
    assert _fallback(model) == (
        "node 'BatchNormalization_0' (op BatchNormalization): "
        "unsupported use of output #1 'mean'"
    )


def test_error_avgpool_ceil_mode():
    node = helper.make_node(
        "AveragePool", ["x"], ["y"], name="p", kernel_shape=[2, 2], ceil_mode=1
    )
    model = _model([node], [_f32("x", [1, 2, 5, 5])], [_f32("y", [1, 2, 4, 4])])
    assert _fallback(model) == "node 'p' (op AveragePool): unsupported attribute ceil_mode=1"
    assert_matches_onnxruntime(model)


def test_error_constant_of_shape_from_data():
    model = _model(
        [helper.make_node("ConstantOfShape", ["s"], ["y"], name="fill")],
        [helper.make_tensor_value_info("s", TensorProto.INT64, [2])],
        [_f32("y", [2, 2])],
        opset=9,
    )
    assert _fallback(model) == (
        "node 'fill' (op ConstantOfShape): input 's' is int64 [2] (the accelerator "
        "and host tiers take static, non-empty f32 tensors)"
    )


@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_a_constant_of_shape_of_a_scalar_shape_is_not_folded(dtype):
    """ConstantOfShape's input is a 1-D shape; of a scalar 3 Tidal made a [3] (and
    compiled it), where onnxruntime's kernel refuses it ("Must have a valid input
    shape"). The node now stays with onnxruntime, whose refusal tidal-run reports."""
    fill = numpy_helper.from_array(np.array([2], dtype), "v")
    model = _model(
        [helper.make_node("ConstantOfShape", ["s"], ["c"], name="fill", value=fill),
         helper.make_node("Cast", ["c"], ["y"], to=TensorProto.FLOAT)],
        [], [_f32("y", [3])], [_init("s", np.array(3, np.int64))], opset=17,
    )
    assert _fallback(model) == (
        "node 'fill' (op ConstantOfShape): the shape input must be a 1-D tensor, not one of rank 0"
    )


@pytest.mark.parametrize("opset", [13, 21])
def test_dequantized_weights_of_a_qdq_model_are_constants(opset):
    """A QDQ model's weights are integers dequantized in the graph (onnxruntime's
    quantize_static writes DequantizeLinear(int8 weight, per-channel scales)).
    onnx's reference has no DequantizeLinear before opset 19, so each stayed a
    framework-tier node and the model could not compile; onnxruntime now computes
    it at import, so the model is all accelerator ops, and its result is
    onnxruntime's."""
    rng = np.random.default_rng(0)
    w = rng.integers(-128, 128, (8, 4, 3, 3)).astype(np.int8)
    scales = (rng.random(8) * 0.01 + 0.001).astype(np.float32)
    zero = np.zeros(8, np.int8)
    bias = rng.integers(-1000, 1000, 8).astype(np.int32)
    model = _model(
        [helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["w"], axis=0, name="w_dq"),
         helper.make_node("DequantizeLinear", ["bq", "bs"], ["b"], name="b_dq"),
         helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
         helper.make_node("Relu", ["c"], ["y"])],
        [_f32("x", [1, 4, 8, 8])], [_f32("y", [1, 8, 8, 8])],
        [_init("wq", w), _init("ws", scales), _init("wz", zero), _init("bq", bias),
         _init("bs", np.float32(0.0005))],
        opset=opset,
    )
    model.ir_version = 8
    module = import_onnx(model)
    assert not [op for op in _ops(module) if isinstance(op, graph.OnnxNodeOp)]
    (weights,) = [
        op for op in _ops(module) if isinstance(op, graph.ConstantOp) and _shape(op) == (8, 4, 3, 3)
    ]
    want = (w.astype(np.float32) * scales[:, None, None, None]).astype(np.float32)
    np.testing.assert_array_equal(weights.to_numpy(), want)
    assert_matches_onnxruntime(model)


# ----------------------------------------------------------------- errors


def test_error_not_onnx(tmp_path):
    path = tmp_path / "garbage.onnx"
    path.write_bytes(b"\xff\xfe this is not a protobuf \x00\x01" * 10)
    message = _refusal(path)
    assert message.startswith(f"{path}: not a valid ONNX model (")
    assert "\n" not in message


def test_error_empty_file(tmp_path):
    path = tmp_path / "empty.onnx"
    path.write_bytes(b"")
    with pytest.raises(
        OnnxImportError, match=r"empty\.onnx: not a valid ONNX model \("
    ):
        import_onnx(path)


@pytest.mark.parametrize("fraction", [0.3, 0.6, 0.999])
def test_error_truncated_model(tmp_path, fraction):
    data = models.make_cnn().SerializeToString()
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[: int(len(data) * fraction)])
    message = _refusal(path)
    assert message.startswith(f"{path}: not a valid ONNX model (")
    assert "\n" not in message


def test_error_missing_file(tmp_path):
    with pytest.raises(OnnxImportError, match=r"nope\.onnx: cannot read"):
        import_onnx(tmp_path / "nope.onnx")


def test_error_unsupported_operator():
    model = _model(
        [helper.make_node("Hardmax", ["x"], ["y"], name="conv7")],
        [_f32("x", [2, 3])],
        [_f32("y", [2, 3])],
    )
    assert _fallback(model) == (
        "node 'conv7' (op Hardmax): Tidal has no kernel or NumPy reference for ONNX op Hardmax"
    )
    assert_matches_onnxruntime(model)


def test_error_unsupported_operator_unnamed_node():
    model = _model(
        [
            helper.make_node("Relu", ["x"], ["r"]),
            helper.make_node("Hardmax", ["r"], ["y"]),
        ],
        [_f32("x", [2, 3])],
        [_f32("y", [2, 3])],
    )
    assert _fallback(model).startswith("node 'Hardmax_1' (op Hardmax): ")


@pytest.mark.parametrize(
    ("attributes", "size", "message"),
    [
        ({"storage_order": 1}, 4, "unsupported attribute storage_order=1"),
        ({"dilations": [2, 2]}, 3, "unsupported attribute dilations=[2, 2]"),
    ],
)
def test_error_unsupported_attribute(attributes, size, message):
    pool = helper.make_node(
        "MaxPool",
        ["x"],
        ["y"],
        "pool1",
        kernel_shape=[2, 2],
        strides=[2, 2],
        **attributes,
    )
    model = _model([pool], [_f32("x", [1, 1, 8, 8])], [_f32("y", [1, 1, size, size])])
    assert _fallback(model) == f"node 'pool1' (op MaxPool): {message}"
    assert_matches_onnxruntime(model)


@pytest.mark.parametrize(("size", "kernel", "stride", "pad"), [(13, 3, 2, 0), (8, 3, 2, 1), (7, 2, 2, 0)])
def test_maxpool_ceil_mode_is_end_padding(tmp_path, size, kernel, stride, pad):
    """ceil_mode rounds each output size up (SqueezeNet 1.1's pools): the partial
    last windows read -inf end padding; on the accelerator, like onnxruntime."""
    pool = helper.make_node(
        "MaxPool", ["x"], ["y"], "pool", kernel_shape=[kernel] * 2, strides=[stride] * 2,
        pads=[pad] * 4, ceil_mode=1,
    )
    out = -(-(size + 2 * pad - kernel) // stride) + 1
    out -= (out - 1) * stride >= size + pad
    model = _model([pool], [_f32("x", [1, 2, size, size])], [_f32("y", [1, 2, out, out])])
    (op,) = [op for op in _ops(import_onnx(model)) if isinstance(op, graph.MaxPoolOp)]
    assert _shape(op) == (1, 2, out, out)
    _assert_runs_like_onnxruntime(model, tmp_path)


def test_error_dynamic_input_shape():
    model = _model(
        [helper.make_node("Relu", ["x"], ["y"])],
        [_f32("x", ["batch", 3])],
        [_f32("y", ["batch", 3])],
    )
    assert _refusal(model) == (
        "model 'test': tensor 'x' has a dynamic shape [batch, 3] (all shapes must be static: give "
        "each named dimension a size, tidal-compile --dim NAME=SIZE, or feed inputs of "
        "that shape to tidal-run)"
    )


def test_error_non_float_input():
    model = _model(
        [helper.make_node("Relu", ["x"], ["y"])],
        [helper.make_tensor_value_info("x", TensorProto.INT32, [2])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, [2])],
    )
    assert _fallback(model).startswith("node 'Relu_0' (op Relu): input 'x' is int32 [2]")


def test_error_integer_graph_input():
    model = _model(
        [helper.make_node("Reshape", ["x", "s"], ["y"], name="r")],
        [_f32("x", [2, 3]), helper.make_tensor_value_info("s", TensorProto.INT64, [1])],
        [_f32("y", [6])],
    )
    assert _fallback(model) == (
        "node 'r' (op Reshape): input 's' is int64 [1] (the accelerator and host tiers "
        "take static, non-empty f32 tensors)"
    )


def test_matmul_of_higher_ranks(tmp_path):
    """[B, S, K] x [K, N] (a transformer's linear layer) is one 2-D product between
    two views; equal batch dims a batched matmul; a broadcast batch dim goes to the
    framework tier."""
    linear = _model(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")],
        [_f32("x", [2, 3, 4]), _f32("w", [4, 5])],
        [_f32("y", [2, 3, 5])],
    )
    kinds = [op.name for op in _ops(import_onnx(linear)) if not isinstance(op, ReturnOp)]
    assert kinds == ["graph.reshape", "graph.matmul", "graph.reshape"]
    _assert_runs_like_onnxruntime(linear, tmp_path)
    batched = _model(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")],
        [_f32("x", [2, 3, 4]), _f32("w", [2, 4, 5])],
        [_f32("y", [2, 3, 5])],
    )
    (op,) = [op for op in _ops(import_onnx(batched)) if not isinstance(op, ReturnOp)]
    assert isinstance(op, graph.MatMulOp) and _shape(op) == (2, 3, 5)
    _assert_runs_like_onnxruntime(batched, tmp_path)
    broadcast = _model(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")],
        [_f32("x", [2, 3, 4]), _f32("w", [1, 4, 5])],
        [_f32("y", [2, 3, 5])],
    )
    assert _fallback(broadcast) == (
        "node 'mm' (op MatMul): unsupported operand shapes [2, 3, 4] and [1, 4, 5] "
        "(2-D, [..., M, K] x [K, N], or equal batch dims)"
    )
    assert_matches_onnxruntime(broadcast)


@pytest.mark.parametrize(
    ("equation", "a", "b", "kinds"),
    [
        # attention scores: k's last two dims swapped, one batched product, the
        # result already in the output's order (a view)
        ("bhqd,bhkd->bhqk", [1, 2, 5, 8], [1, 2, 7, 8],
         ["graph.reshape", "graph.transpose", "graph.reshape", "graph.matmul", "graph.reshape"]),
        # b is free in a only (a linear layer): one 2-D product of [15, 7] x [7, 11]
        ("bij,jk->bik", [3, 5, 7], [7, 11], ["graph.reshape", "graph.reshape", "graph.matmul", "graph.reshape"]),
        ("ij,kj->ki", [4, 6], [3, 6], ["graph.reshape", "graph.transpose", "graph.reshape", "graph.matmul", "graph.reshape", "graph.transpose"]),
        ("i,j->ij", [7], [9], ["graph.reshape", "graph.reshape", "graph.matmul", "graph.reshape"]),
    ],
)
def test_einsum_as_a_batched_matmul(equation, a, b, kinds, tmp_path):
    """An Einsum of two operands that is a batched matrix product imports as
    transposes and reshapes around one graph.matmul, and runs as onnxruntime does."""
    model = _model(
        [helper.make_node("Einsum", ["a", "b"], ["y"], name="e", equation=equation)],
        [_f32("a", a), _f32("b", b)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    ops = [op.name for op in _ops(import_onnx(model)) if not isinstance(op, ReturnOp)]
    assert ops == kinds
    _assert_runs_like_onnxruntime(model, tmp_path)


@pytest.mark.parametrize(
    ("equation", "shapes", "why"),
    [
        ("ii,ij->j", [[3, 3], [3, 3]], "unsupported equation 'ii,ij->j' (two operands, letters, an explicit output)"),
        ("ij,jk", [[2, 3], [3, 4]], "unsupported equation 'ij,jk' (two operands, letters, an explicit output)"),
        ("...ij,...jk->...ik", [[2, 3], [3, 4]], "unsupported equation '...ij,...jk->...ik' (two operands, letters, an explicit output)"),
        ("ij,jk->i", [[2, 3], [3, 4]], "unsupported equation 'ij,jk->i' (an index summed within one operand, or new in the output)"),
        ("ij,jk->ik", [[2, 3], [1, 4]], "index 'j' of 'ij,jk->ik' has sizes 3 and 1"),
        ("ij->ji", [[2, 3]], "unsupported equation 'ij->ji' (two operands, letters, an explicit output)"),
    ],
)
def test_einsum_otherwise_on_the_framework_tier(equation, shapes, why):
    """Other equations (a repeated index, an implicit output, an ellipsis, an index
    summed within one operand, broadcast sizes, one operand) go to the framework
    tier with the reason, and the model still runs as onnxruntime does."""
    names = ["a", "b"][: len(shapes)]
    model = _model(
        [helper.make_node("Einsum", names, ["y"], name="e", equation=equation)],
        [_f32(n, s) for n, s in zip(names, shapes)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    assert _fallback(model) == f"node 'e' (op Einsum): {why}"
    assert_matches_onnxruntime(model)


def test_error_dropout_mask_used():
    model = _model(
        [helper.make_node("Dropout", ["x"], ["y", "mask"], name="drop")],
        [_f32("x", [2, 3])],
        [
            _f32("y", [2, 3]),
            helper.make_tensor_value_info("mask", TensorProto.BOOL, [2, 3]),
        ],
    )
    assert _fallback(model) == "node 'drop' (op Dropout): output 'mask' is bool [2, 3]"
    assert_matches_onnxruntime(model)


def test_error_invalid_model_in_memory():
    model = _model(
        [helper.make_node("Relu", ["x"], ["y"])],
        [_f32("x", [2, 3])],
        [_f32("z", [2, 3])],
    )
    with pytest.raises(
        OnnxImportError, match=r"^model 'test': not a valid ONNX model \("
    ):
        import_onnx(model)


def test_symbolic_output_dims_are_inferred_from_static_inputs():
    model = _model(
        [
            helper.make_node("Flatten", ["x"], ["f"]),
            helper.make_node("Relu", ["f"], ["y"]),
        ],
        [_f32("x", [2, 3, 4])],
        [_f32("y", ["n", "m"])],
    )
    func = _main(import_onnx(model))
    assert func.function_type.outputs.data == (TensorType(f32, [2, 12]),)


def test_shapes_onnx_left_unknown_are_inferred_by_the_ops(monkeypatch):
    model = _model(
        [
            helper.make_node("Flatten", ["x"], ["f"]),
            helper.make_node("Softmax", ["f"], ["y"], axis=0),
        ],
        [_f32("x", [2, 3, 4])],
        [_f32("y", ["n", "m"])],
        opset=11,
    )
    # As if ONNX shape inference had given up on every intermediate.
    monkeypatch.setattr(onnx.shape_inference, "infer_shapes", lambda m, **_: m)
    module = import_onnx(model)
    func = _main(module)
    assert func.function_type.outputs.data == (TensorType(f32, [2, 12]),)
    assert [_shape(op) for op in _ops(module)[:-1]] == [
        (2, 12),
        (1, 24),
        (1, 24),
        (2, 12),
    ]


# ------------------------------------------------ sizes before materialising

DRAM = max(c.dram_bytes for c in PRESETS.values())
LARGEST = f"the {DRAM} bytes of DRAM of the largest chip preset ('default')"


def _fill(name, shape, dtype, value, output):
    """A ConstantOfShape node `name` filling `shape` (an initializer) with `value`."""
    fill = helper.make_tensor("value", dtype, [1], [value])
    node = helper.make_node("ConstantOfShape", [f"{name}_shape"], [output], name=name, value=fill)
    return node, _init(f"{name}_shape", np.array(shape, np.int64))


def test_dram_bound_is_the_largest_preset():
    assert DRAM == PRESETS["default"].dram_bytes == 1 << 32


@pytest.mark.parametrize(
    ("dtype", "value", "nbytes", "elem"),
    [(TensorProto.INT64, 1, 80_000_000_000, "int64"), (TensorProto.FLOAT, 1.0, 40_000_000_000, "float32")],
)
def test_error_constant_of_shape_larger_than_dram(dtype, value, nbytes, elem):
    """Sized from the shape before np.full: 100000x100000 of int64 is 80 GB."""
    node, shape = _fill("fill", [100000, 100000], dtype, value, "c")
    model = _model(
        [node, helper.make_node("Reshape", ["x", "c"], ["y"])] if elem == "int64"
        else [node, helper.make_node("Add", ["x", "c"], ["y"])],
        [_f32("x", [1, 1])],
        [_f32("y", [6] if elem == "int64" else [100000, 100000])],
        [shape],
    )
    assert _refusal(model) == (
        f"model 'test': node 'fill' (op ConstantOfShape): constant of shape [100000, 100000] "
        f"({elem}) needs {nbytes} bytes, more than {LARGEST}"
    )


def test_error_constants_together_larger_than_dram():
    """Two fills of 3.6 GB each fit one at a time, not together."""
    a, a_shape = _fill("a", [30000, 30000], TensorProto.FLOAT, 1.0, "ca")
    b, b_shape = _fill("b", [30000, 30000], TensorProto.FLOAT, 2.0, "cb")
    model = _model(
        [a, b, helper.make_node("Sum", ["x", "ca", "cb"], ["y"])],
        [_f32("x", [1, 1])],
        [_f32("y", [30000, 30000])],
        [a_shape, b_shape],
    )
    assert _refusal(model) == (
        "model 'test': node 'b' (op ConstantOfShape): constant of shape [30000, 30000] (float32) "
        "(3600000000 bytes) brings the model's constants, inputs and outputs to "
        f"7200000044 bytes, more than {LARGEST}"  # and 44 bytes of x and shapes
    )
    # A chip given by the caller bounds it instead.
    with pytest.raises(OnnxImportError, match=r"1073741824 bytes of DRAM of chip 'small'$"):
        import_onnx(model, chip=PRESETS["small"])


def test_error_initializer_larger_than_dram_is_refused_before_conversion():
    """The dims say 40 GB, the data is 4 bytes: refused from the dims."""
    w = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[100000, 100000], raw_data=b"\0" * 4)
    model = _model(
        [helper.make_node("Add", ["x", "w"], ["y"])],
        [_f32("x", [1, 1])],
        [_f32("y", [100000, 100000])],
        [w],
    )
    assert _refusal(model) == (
        f"model 'test': tensor 'w' (FLOAT [100000, 100000]) needs 40000000000 bytes, "
        f"more than {LARGEST}"
    )


def test_error_input_and_intermediate_larger_than_dram():
    model = _model(
        [helper.make_node("Relu", ["x"], ["y"])],
        [_f32("x", [70000, 70000])],
        [_f32("y", [70000, 70000])],
    )
    assert _refusal(model) == (
        f"model 'test': input 'x' [70000, 70000] needs 19600000000 bytes, more than {LARGEST}"
    )
    outer = _model(  # two 400 KB inputs, a 40 GB broadcast sum
        [helper.make_node("Add", ["a", "b"], ["y"], name="outer")],
        [_f32("a", [100000, 1]), _f32("b", [1, 100000])],
        [_f32("y", [100000, 100000])],
    )
    assert _refusal(outer) == (
        "model 'test': node 'outer' (op Add): result [100000, 100000] needs 40000000000 bytes, "
        f"more than {LARGEST}"
    )


def test_constant_of_shape_within_dram_still_folds_to_a_splat():
    node, shape = _fill("fill", [300, 400], TensorProto.FLOAT, 0.25, "c")
    model = _model(
        [node, helper.make_node("Add", ["x", "c"], ["y"])],
        [_f32("x", [300, 400])],
        [_f32("y", [300, 400])],
        [shape],
    )
    assert_matches_onnxruntime(model)


# ---------------------------------------------------------------- external data


def _external_model(directory: Path, location: str, *, length=None, name="m.onnx"):
    """m.onnx in `directory`: y = x + w, with w [2, 3] stored at `location`."""
    w = _init("w", np.arange(6, dtype=np.float32).reshape(2, 3))
    model = _model(
        [helper.make_node("Add", ["x", "w"], ["y"])], [_f32("x", [2, 3])], [_f32("y", [2, 3])], [w]
    )
    tensor = model.graph.initializer[0]
    onnx.external_data_helper.set_external_data(tensor, location=location, length=length)
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_bytes(model.SerializeToString())
    return path


WEIGHTS = np.arange(6, dtype=np.float32).tobytes()


def test_external_data_inside_the_model_directory(tmp_path):
    path = _external_model(tmp_path / "m", "data/weights.bin")
    (tmp_path / "m" / "data").mkdir()
    (tmp_path / "m" / "data" / "weights.bin").write_bytes(WEIGHTS)
    x = np.ones((2, 3), np.float32)
    expected = run_onnxruntime(onnx.load(str(path)), {"x": x})
    actual = evaluate(import_onnx(path), {"x": x})
    np.testing.assert_allclose(actual["y"], expected["y"])
    outputs, _ = run_model(str(path), {"x": x}, "small")  # compiled and simulated
    np.testing.assert_allclose(outputs["y"], expected["y"])


def test_error_external_data_absolute_path(tmp_path):
    (tmp_path / "weights.bin").write_bytes(WEIGHTS)
    path = _external_model(tmp_path / "m", str(tmp_path / "weights.bin"))
    assert _refusal(path) == (
        f"{path}: tensor 'w': external data location '{tmp_path / 'weights.bin'}' is an "
        "absolute path (it must be relative to the model's directory)"
    )


@pytest.mark.parametrize("location", ["../weights.bin", "data/../../weights.bin", "link.bin"])
def test_error_external_data_outside_the_model_directory(tmp_path, location):
    (tmp_path / "weights.bin").write_bytes(WEIGHTS)
    path = _external_model(tmp_path / "m", location)
    (tmp_path / "m" / "link.bin").symlink_to(tmp_path / "weights.bin")  # resolves outside
    assert _refusal(path) == (
        f"{path}: tensor 'w': external data location '{location}' is outside the "
        f"model's directory '{tmp_path / 'm'}'"
    )


def test_error_external_data_missing_or_not_a_file(tmp_path):
    path = _external_model(tmp_path, "nothere.bin")
    assert _refusal(path) == (
        f"{path}: tensor 'w': external data file 'nothere.bin' does not exist"
    )
    (tmp_path / "dir.bin").mkdir()
    path = _external_model(tmp_path, "dir.bin")
    with pytest.raises(OnnxImportError, match=r"external data file 'dir.bin' is not a regular file$"):
        import_onnx(path)


def test_error_external_data_of_the_wrong_size(tmp_path):
    """The bytes read must be what the tensor's shape needs: a 1 GB file is not read
    into memory for a 24-byte tensor."""
    (tmp_path / "big.bin").write_bytes(WEIGHTS * 3)
    path = _external_model(tmp_path, "big.bin")
    assert _refusal(path) == (
        f"{path}: tensor 'w': external data in 'big.bin' is 72 bytes at offset 0, "
        "FLOAT [2, 3] needs 24"
    )
    path = _external_model(tmp_path, "big.bin", length=1000)
    with pytest.raises(OnnxImportError, match=r"external data \[0, 1000\) is outside 'big.bin' \(72 bytes\)$"):
        import_onnx(path)


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({"location": "a\0b"}, "external data location 'a\\x00b' is not a valid path"),
        ({"location": ""}, "external data without a location"),
        ({"location": "w.bin", "offset": "abc"}, "external data offset or length is not an integer"),
        ({"location": "w.bin", "offset": "-4"}, "external data offset -4 is negative"),
        ({"location": "w.bin", "length": "-1"}, "external data length -1 is negative"),
        ({"location": "w.bin", "offset": "40"}, "external data [40, 40) is outside 'w.bin' (24 bytes)"),
        ({"location": "w.bin", "offset": "4"}, "external data in 'w.bin' is 20 bytes at offset 4, FLOAT [2, 3] needs 24"),
    ],
)
def test_error_external_data_entries(tmp_path, entries, message):
    (tmp_path / "w.bin").write_bytes(WEIGHTS)
    path = _external_model(tmp_path, "w.bin")
    model = onnx.load(str(path), load_external_data=False)
    tensor = model.graph.initializer[0]
    del tensor.external_data[:]
    for key, value in entries.items():
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    path.write_bytes(model.SerializeToString())
    assert _refusal(path) == f"{path}: tensor 'w': {message}"


def test_error_external_data_of_an_in_memory_model(tmp_path):
    path = _external_model(tmp_path, "weights.bin")
    (tmp_path / "weights.bin").write_bytes(WEIGHTS)
    model = onnx.load(str(path), load_external_data=False)
    assert _refusal(model) == (
        "model 'test': tensor 'w' keeps its data in external file 'weights.bin', which "
        "an in-memory model cannot reach (import the model from its path)"
    )


# ------------------------------------------------------------------- outputs


def test_output_listed_twice_is_one_output(tmp_path):
    model = _model(
        [helper.make_node("Relu", ["x"], ["y"])], [_f32("x", [2, 3])], [_f32("y", [2, 3])] * 2
    )
    module = import_onnx(model)
    assert _names(_main(module).res_attrs) == ["y"]
    assert import_notes(module) == ["output 'y' is listed 2 times: one output"]
    _assert_runs_like_onnxruntime(model, tmp_path)


@pytest.mark.parametrize(
    ("nodes", "outputs"),
    [
        ([helper.make_node("Relu", ["x"], ["y"])], ["y", "x"]),  # an output that is an input
        ([helper.make_node("Relu", ["x"], ["y"]), helper.make_node("Identity", ["y"], ["z"])], ["y", "z"]),
        ([helper.make_node("Identity", ["x"], ["z"])], ["z"]),
        # three names for x: together more bytes than the program's DRAM
        ([helper.make_node("Identity", ["x"], ["z"]), helper.make_node("Identity", ["z"], ["u"])],
         ["x", "z", "u"]),
    ],
)
def test_outputs_that_are_the_same_tensor_compile_and_run(tmp_path, nodes, outputs):
    model = _model(nodes, [_f32("x", [2, 3])], [_f32(o, [2, 3]) for o in outputs])
    _assert_runs_like_onnxruntime(model, tmp_path)


def _assert_runs_like_onnxruntime(model, tmp_path, inputs=None, chip="small"):
    """Compile and simulate (tidal-run's path, whose binary the loader checks)."""
    path = tmp_path / "model.onnx"
    onnx.save(model, path)
    inputs = inputs if inputs is not None else models.make_inputs(model)
    expected = run_onnxruntime(model, inputs)
    actual, _ = run_model(str(path), inputs, chip)
    assert actual.keys() == expected.keys()
    for name, value in expected.items():
        np.testing.assert_allclose(actual[name], value, rtol=1e-4, atol=1e-5)


# -------------------------------------------------------------------- opsets


def test_error_opset_newer_than_onnx_knows():
    known = onnx.defs.onnx_opset_version()
    model = _model([helper.make_node("Relu", ["x"], ["y"])], [_f32("x", [2, 3])], [_f32("y", [2, 3])], opset=99)
    assert _refusal(model) == (
        f"model 'test': opset 99 is newer than the installed onnx {onnx.__version__} "
        f"knows (opset {known} at most)"
    )
    model.opset_import[0].version = known  # the newest it knows is fine
    assert_matches_onnxruntime(model)


BACKEND = Path(onnx.__file__).parent / "backend/test/data"


@pytest.mark.parametrize(
    "case",
    [
        "pytorch-converted/test_Conv2d_groups",
        "pytorch-converted/test_MaxPool2d",
        "pytorch-converted/test_BatchNorm2d_eval",  # BatchNormalization-6 (is_test)
        "pytorch-converted/test_Linear",  # Gemm-6 (broadcast)
        "pytorch-operator/test_operator_mm",  # Constant and Gemm-6
    ],
)
def test_opset6_models_are_upgraded(case):
    """onnx's own opset-6 test models: upgraded, compiled and simulated, compared
    with onnxruntime where it still runs opset 6 and with the stored reference
    outputs where it does not (Gemm-6, BatchNormalization-6)."""
    directory = BACKEND / case
    model = onnx.load(str(directory / "model.onnx"))
    assert model.opset_import[0].version == 6
    module = import_onnx(directory / "model.onnx")
    assert import_notes(module) == ["opset 6 upgraded to opset 9 by onnx's version converter"]
    data = directory / "test_data_set_0"
    inputs = {
        name: numpy_helper.to_array(onnx.load_tensor(str(data / f"input_{k}.pb")))
        for k, name in enumerate(_names(_main(module).arg_attrs))
    }
    (output,) = model.graph.output
    reference = numpy_helper.to_array(onnx.load_tensor(str(data / "output_0.pb")))
    actual, _ = run_model(str(directory / "model.onnx"), inputs, "small")
    np.testing.assert_allclose(actual[output.name], reference, rtol=1e-4, atol=1e-5)
    try:
        expected = run_onnxruntime(model, inputs)
    except Exception as e:  # noqa: BLE001 - onnxruntime has no kernel for these old ops
        assert "NOT_IMPLEMENTED" in str(e), e
        return
    np.testing.assert_allclose(actual[output.name], expected[output.name], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("opset", [7, 8])
def test_opset7_and_8_models_are_upgraded(tmp_path, opset):
    """Conv, BatchNormalization-7, MaxPool, Dropout-7, Gemm-7 and Sum: the model as
    written, run by onnxruntime, against Tidal's upgrade compiled and simulated (the
    Gemm weight is large enough to be left out of the converted skeleton)."""
    rng = np.random.default_rng(opset)
    params = [
        _init("w", rng.standard_normal((4, 2, 3, 3)).astype(np.float32)),
        _init("s", rng.uniform(0.5, 1.5, 4).astype(np.float32)),
        _init("t", rng.standard_normal(4).astype(np.float32)),
        _init("m", rng.standard_normal(4).astype(np.float32)),
        _init("v", rng.uniform(0.5, 1.5, 4).astype(np.float32)),
        _init("g", rng.standard_normal((40, 144)).astype(np.float32) / 12),
        _init("gb", rng.standard_normal(40).astype(np.float32)),
    ]
    model = _model(
        [
            helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
            helper.make_node("BatchNormalization", ["c", "s", "t", "m", "v"], ["b"]),
            helper.make_node("MaxPool", ["b"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
            helper.make_node("Dropout", ["p"], ["d"]),
            helper.make_node("Flatten", ["d"], ["f"]),
            helper.make_node("Gemm", ["f", "g", "gb"], ["y0"], transB=1),
            helper.make_node("Sum", ["y0", "y0", "y0"], ["y"]),
        ],
        [_f32("x", [1, 2, 12, 12])],
        [_f32("y", [1, 40])],
        params,
        opset=opset,
    )
    module = import_onnx(model)
    assert import_notes(module) == [
        f"opset {opset} upgraded to opset 9 by onnx's version converter"
    ]
    _assert_runs_like_onnxruntime(model, tmp_path)


def test_error_opset_the_converter_cannot_upgrade():
    model = _model(
        [helper.make_node("Dropout", ["x"], ["y"], is_test=0)],
        [_f32("x", [2, 3])],
        [_f32("y", [2, 3])],
        opset=6,
    )
    why = (
        "opset 6 cannot be upgraded to opset 9 (onnx version converter: "
        "Attribute is_test must not have value 0)"
    )
    assert _fallback(model) == f"node 'Dropout_0' (op Dropout): {why}"
    assert import_notes(import_onnx(model)) == [f"{why}: every node runs on the framework tier"]


def test_an_upgrade_that_changes_the_graphs_signature_is_not_taken(tmp_path):
    """onnx's converter upgrades a Scan 8 by taking its batch axis out of the graph's
    own inputs and outputs too: its [1, 2] input became [2], and tidal-run refused
    the caller's [1, 2] array. The upgrade is not taken now: every node runs on the
    framework tier at the model's opset, as onnxruntime runs it."""
    body = helper.make_graph(
        [helper.make_node("Add", ["s_in", "xi"], ["s_out"]), helper.make_node("Identity", ["s_out"], ["zo"])],
        "body", [_f32("s_in", [2]), _f32("xi", [2])], [_f32("s_out", [2]), _f32("zo", [2])],
    )
    model = _model(
        [helper.make_node("Scan", ["", "initial", "x"], ["y", "z"], num_scan_inputs=1, body=body)],
        [_f32("initial", [1, 2]), _f32("x", [1, 3, 2])], [_f32("y", [1, 2]), _f32("z", [1, 3, 2])],
        opset=8,
    )
    why = (
        "opset 8 cannot be upgraded to opset 9: onnx's version converter changes graph "
        "input 'initial' from float [1, 2] to float [2]"
    )
    assert _fallback(model) == f"node 'Scan_0' (op Scan): {why}"
    _assert_runs_like_onnxruntime(model, tmp_path)


@pytest.mark.parametrize("ir_version", [3, 7])
@pytest.mark.parametrize("listed", [True, False])
def test_an_old_model_whose_output_shape_the_upgrade_infers(tmp_path, ir_version, listed):
    """A Reshape-5 model whose output is declared without a shape: the converter's
    model has the inferred [2, 8] there, which only refines the declared type, so the
    upgrade is taken and the model compiles. Under IR version 3 an initializer must be
    a graph input too; one that is not made onnx's converter raise its ConvertError
    ("Input s is undefined!"), a traceback in every tool, where onnxruntime runs it."""
    shape = _init("s", np.array([2, 8], np.int64))
    model = _model(
        [helper.make_node("Reshape", ["x", "s"], ["y"])],
        [_f32("x", [4, 4])] + ([helper.make_tensor_value_info("s", TensorProto.INT64, [2])] if listed else []),
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [shape],
        opset=5,
    )
    model.ir_version = ir_version
    module = import_onnx(model)
    assert import_notes(module) == ["opset 5 upgraded to opset 9 by onnx's version converter"]
    assert not [op for op in _ops(module) if isinstance(op, graph.OnnxNodeOp)]
    _assert_runs_like_onnxruntime(model, tmp_path)


def test_an_upgrade_that_changes_an_output_s_rank_or_type_is_not_taken():
    """Refining an open shape is fine (above); a different rank, dim or element type
    is not the model given."""
    from tidal.targets.onnx_import import _refines

    def t(elem, shape):
        return helper.make_tensor_type_proto(elem, shape)

    f, i = TensorProto.FLOAT, TensorProto.INT64
    assert _refines(t(f, [2, 8]), t(f, None))
    assert _refines(t(f, [2, 8]), t(f, ["n", 8]))
    assert _refines(t(f, [2, 8]), t(f, [None, None]))
    assert not _refines(t(f, [2]), t(f, [1, 2]))
    assert not _refines(t(f, [2, 7]), t(f, [2, 8]))
    assert not _refines(t(f, ["n", 8]), t(f, [2, 8]))
    assert not _refines(t(i, [2, 8]), t(f, None))


def test_a_shapeless_output_names_the_node_that_makes_it():
    """An output declared without a shape whose producer inference cannot see into
    (an op of a domain no local function defines, a function that never sets its
    output) was "output 'y' has no shape ..." without the node or the cause."""
    unknown = _model(
        [helper.make_node("MyF", ["x"], ["y"], name="f0", domain="local")],
        [_f32("x", [2])], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    unknown.opset_import.append(helper.make_opsetid("local", 1))
    assert (
        "output 'y' (of node 'f0', op MyF of domain 'local', which no local function of "
        "the model defines) has no shape" in _refusal(unknown)
    )


def test_a_declared_type_that_contradicts_its_node_is_refused_a_stale_shape_is_not():
    """value_info is a hint: a stale shape is dropped, as onnxruntime takes the
    inferred one, but a declared element type the node does not compute was
    dropped too, where onnxruntime refuses the model ("Type (tensor(int64)) of
    output arg (c) ... does not match")."""
    nodes = [helper.make_node("Relu", ["x"], ["c"], name="r"), helper.make_node("Add", ["c", "c"], ["y"])]
    typed = _model(nodes, [_f32("x", [2, 3])], [_f32("y", [2, 3])],
                   value_info=[helper.make_tensor_value_info("c", TensorProto.INT64, [2, 3])])
    assert _refusal(typed) == (
        "model 'test': value_info declares 'c' INT64, but node 'r' (Relu) computes FLOAT "
        "(onnxruntime refuses a declared type that contradicts its node)"
    )
    stale = _model(nodes, [_f32("x", [2, 3])], [_f32("y", [2, 3])], value_info=[_f32("c", [7, 7])])
    assert_matches_onnxruntime(stale)


def test_inputs_of_one_type_parameter_must_share_their_type():
    """A Clip of float data with an int64 bound: onnx's inference leaves it, and
    Tidal clipped with it, where onnxruntime refuses the model ("Type parameter (T)
    of Optype (Clip) bound to different types"). A Concat's variadic inputs are
    checked alike; a Scan's, which may differ, are not."""
    model = _model(
        [helper.make_node("Clip", ["x", "lo"], ["y"], name="clip0")],
        [_f32("x", [4])], [_f32("y", [4])], [_init("lo", np.array(0, np.int64))], opset=17,
    )
    assert _refusal(model) == (
        "model 'test': node 'clip0' (op Clip): inputs 'x' (FLOAT) and 'lo' (INT64) are both "
        "of its type T, which must be one type (onnxruntime refuses the model)"
    )


def test_two_nodes_of_one_name_are_refused():
    """onnxruntime refuses a graph with two nodes of one name; Tidal took it, and
    its messages, which name nodes by name, became ambiguous. Unnamed nodes, and one
    name in two different graphs (a node and one in its If branch), are fine."""
    relu = helper.make_node("Relu", ["x"], ["a"], name="same")
    neg = helper.make_node("Neg", ["a"], ["y"], name="same")
    model = _model([relu, neg], [_f32("x", [2])], [_f32("y", [2])])
    assert _refusal(model) == (
        "model 'test': nodes 0 and 1 of the graph are both named 'same' "
        "(node names are unique in a graph; onnxruntime refuses this model)"
    )
    unnamed = _model(
        [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Neg", ["a"], ["y"])],
        [_f32("x", [2])], [_f32("y", [2])],
    )
    import_onnx(unnamed)


# -------------------------------------------------------------- zero-size tensors


def test_zero_size_input_runs_on_the_framework_tier():
    model = _model([helper.make_node("Relu", ["x"], ["y"])], [_f32("x", [0, 3])], [_f32("y", [0, 3])])
    assert _fallback(model) == (
        "node 'Relu_0' (op Relu): input 'x' is float32 [0, 3] (the accelerator and host "
        "tiers take static, non-empty f32 tensors)"
    )


def test_zero_size_initializer_into_concat_is_left_out(tmp_path):
    model = _model(
        [helper.make_node("Concat", ["x", "empty", "x"], ["y"], axis=1, name="cat")],
        [_f32("x", [1, 2, 3, 3])],
        [_f32("y", [1, 4, 3, 3])],
        [_init("empty", np.zeros((1, 0, 3, 3), np.float32))],
    )
    (concat,) = [op for op in _ops(import_onnx(model)) if isinstance(op, graph.ConcatOp)]
    assert len(concat.operands) == 2
    _assert_runs_like_onnxruntime(model, tmp_path)
    only_empty = _model(
        [helper.make_node("Concat", ["empty", "empty"], ["y"], axis=1, name="cat")],
        [],
        [_f32("y", [1, 0, 3, 3])],
        [_init("empty", np.zeros((1, 0, 3, 3), np.float32))],
    )
    assert _fallback(only_empty) == (  # onnxruntime makes the empty output
        "node 'cat' (op Concat): every input is a zero-size tensor "
        "(zero-size tensors are not supported)"
    )


def test_error_zero_size_initializer_elsewhere_names_the_node():
    model = _model(
        [helper.make_node("Add", ["x", "empty"], ["y"], name="add")],
        [_f32("x", [2, 1])],
        [_f32("y", [2, 0])],
        [_init("empty", np.zeros((0,), np.float32))],
    )
    assert _fallback(model) == (
        "node 'add' (op Add): tensor 'empty' has shape [0], with no elements "
        "(zero-size tensors are not supported)"
    )


# ------------------------------------------------ initializers that inputs override


def _overridable(ir_version=8, listed=True):
    """y = batchnorm(conv(x, w)) * k, where `k` is an initializer that the model also
    lists as an input (and every weight, in the old style, when `listed`)."""
    rng = np.random.default_rng(0)
    params = {
        "w": rng.standard_normal((3, 2, 3, 3)).astype(np.float32),
        "s": rng.uniform(0.5, 1.5, 3).astype(np.float32),
        "t": rng.standard_normal(3).astype(np.float32),
        "m": rng.standard_normal(3).astype(np.float32),
        "v": rng.uniform(0.5, 1.5, 3).astype(np.float32),
        "k": rng.standard_normal((1, 3, 1, 1)).astype(np.float32),
    }
    inputs = [_f32("x", [1, 2, 5, 5])]
    if listed:
        inputs += [_f32(n, list(a.shape)) for n, a in params.items()]
    model = _model(
        [
            helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
            helper.make_node("BatchNormalization", ["c", "s", "t", "m", "v"], ["b"]),
            helper.make_node("Mul", ["b", "k"], ["y"]),
        ],
        inputs,
        [_f32("y", [1, 3, 5, 5])],
        [_init(n, a) for n, a in params.items()],
    )
    model.ir_version = ir_version
    return model


def test_initializer_listed_as_input_stays_constant_unless_fed(tmp_path):
    """onnxruntime (IR >= 4): an initializer that is also an input is a default a
    feed may override. Without a feed it is a constant (BatchNorm still folds)."""
    model = _overridable()
    module = import_onnx(model)
    assert _names(_main(module).arg_attrs) == ["x"]
    assert constant_inputs(module) == ["w", "s", "t", "m", "v", "k"]
    x = np.random.default_rng(1).standard_normal((1, 2, 5, 5)).astype(np.float32)
    _assert_runs_like_onnxruntime(model, tmp_path, {"x": x})
    k = np.full((1, 3, 1, 1), -2.0, np.float32)
    w = np.ones((3, 2, 3, 3), np.float32)
    _assert_runs_like_onnxruntime(model, tmp_path, {"x": x, "k": k})
    _assert_runs_like_onnxruntime(model, tmp_path, {"x": x, "k": k, "w": w})
    fed = import_onnx(model, overrides={"x": x, "w": w})
    (conv,) = [op for op in _ops(fed) if isinstance(op, graph.Conv2dOp)]
    np.testing.assert_array_equal(conv.weight.owner.to_numpy(), w)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (np.ones((1, 3, 1, 1)), "input 'k': expected dtype float32, got float64 "
         "(inputs are never cast; convert with .astype(np.float32))"),
        (np.ones((3,), np.float32), "input 'k': expected shape (1, 3, 1, 1), got (3,) "
         "(the shape of the initializer it overrides)"),
        ([1.0, 2.0, 3.0], "input 'k': expected a float32 array of shape (1, 3, 1, 1), got list"),
    ],
)
def test_error_override_of_the_wrong_dtype_or_shape(value, message):
    assert _refusal(_overridable(), overrides={"k": value}) == message


def test_error_override_of_an_initializer_that_is_not_an_input():
    k = np.ones((1, 3, 1, 1), np.float32)
    assert _refusal(_overridable(ir_version=3), overrides={"k": k}) == (
        "input 'k' is an initializer that cannot be fed: the model's IR version 3 "
        "makes initializers constants (from IR version 4 on, an initializer that is "
        "also a graph input may be fed)"
    )
    assert _refusal(_overridable(listed=False), overrides={"k": k}) == (
        "input 'k' is an initializer that cannot be fed: the model does not list it "
        "as a graph input"
    )
    assert constant_inputs(import_onnx(_overridable(ir_version=3))) == []
    # onnxruntime agrees: neither is an input it accepts
    for model in (_overridable(ir_version=3), _overridable(listed=False)):
        x = np.zeros((1, 2, 5, 5), np.float32)
        with pytest.raises(Exception, match="Invalid input name: k"):
            run_onnxruntime(model, {"x": x, "k": k})


def test_error_override_of_an_integer_initializer():
    model = _model(
        [helper.make_node("Reshape", ["x", "shape"], ["y"])],
        [_f32("x", [2, 3]), helper.make_tensor_value_info("shape", TensorProto.INT64, [1])],
        [_f32("y", [6])],
        [_init("shape", np.array([6], np.int64))],
    )
    assert _refusal(model, overrides={"shape": np.array([6], np.int64)}) == (
        "input 'shape' overrides an initializer of dtype int64 (only float32 "
        "initializers can be overridden)"
    )


# ----------------------------------------------------------------- the op registry


def test_every_builder_and_graph_op_has_one_registry_entry():
    """The importer dispatches through the registry: each of its builders is one
    entry's, each graph op belongs to one entry, and whatever has an accelerator
    kernel says which engines run it (for --report)."""
    from tidal.targets import onnx_import
    from tidal.targets.onnx_ops import ENTRIES, graph_entry, onnx_entry

    builders = {
        name for name, f in vars(onnx_import).items() if name.startswith("build_") and callable(f)
    }
    assert builders == {e.builder for e in ENTRIES if e.builder is not None}
    onnx_types = [(e.domain, name) for e in ENTRIES for name in e.onnx_ops]
    assert len(set(onnx_types)) == len(onnx_types)
    graph_ops = [e.graph_op for e in ENTRIES if e.graph_op is not None]
    assert len(set(graph_ops)) == len(graph_ops)
    assert set(graph_ops) == set(graph.Graph.operations)
    for e in ENTRIES:
        # an entry without an ONNX op is a graph op that only passes make
        assert (e.onnx is None) == (e.builder is None), e.graph_op
        assert all(onnx_entry(name, e.domain) is e for name in e.onnx_ops)
        assert e.onnx is not None or not e.also
        assert e.graph_op is None or graph_entry(e.graph_op) is e
        assert e.kernel is None or e.engines, e.onnx
        assert e.graph_op is None or e.host is not None, e.onnx


def test_an_operator_without_an_entry_goes_to_the_framework_tier():
    model = helper.make_model(
        helper.make_graph(
            [helper.make_node("Round", ["x"], ["y"], name="n")],
            "t",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
        ),
        opset_imports=[helper.make_opsetid("", 13)],
    )
    assert _fallback(model) == "node 'n' (op Round): Tidal has no kernel or NumPy reference for ONNX op Round"
    assert_matches_onnxruntime(model)


@pytest.mark.parametrize(
    "node,inits,out_shape,why",
    [
        (
            helper.make_node("Pad", ["x", "p"], ["y"], mode="edge"),
            [_init("p", np.array([0, 0, 300, 0, 0, 0, 0, 0], np.int64))],
            [1, 4, 308, 8],
            "edge pads 300, 0 on axis 2 take one slice per padded element, more than 256",
        ),
        (
            helper.make_node("Tile", ["x", "r"], ["y"]),
            [_init("r", np.array([1, 1, 300, 1], np.int64))],
            [1, 4, 2400, 8],
            "repeats [1, 1, 300, 1] take one copy of the input per repeat, more than 256 on an axis",
        ),
    ],
)
def test_pad_and_tile_of_many_pieces_run_on_the_framework_tier(node, inits, out_shape, why):
    """An edge Pad or a Tile joins one slice or copy per padded element or repeat;
    past MAX_CONCAT_PIECES on an axis (10,000 took minutes to lower) onnxruntime
    runs the node instead."""
    model = _model([node], [_f32("x", [1, 4, 8, 8])], [_f32("y", out_shape)], inits)
    assert _fallback(model).endswith(why)


@pytest.mark.parametrize("name", ["_0", "%0", "/0_1", ":0", "0", 'a"b c/€'])
def test_tensor_names_xdsl_would_strip_to_nothing(name, tmp_path):
    """A tensor named `_0` (or one the sanitizer makes `_0`: `%0`, `/0`, `:0`), or
    `_0_1`: xDSL keeps a value's name without its `_<digits>` suffix, so the copy a
    rewrite makes of such a name was the empty name and every tool died with a
    traceback (`Invalid OpResult name format`). The model runs."""
    nodes = [
        helper.make_node("Relu", ["x"], [name]),
        helper.make_node("Neg", [name], ["y"]),
    ]
    graph_ = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])],
    )
    model = helper.make_model(graph_, opset_imports=[helper.make_opsetid("", 13)])
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    x = np.array([1.0, -2.0, 3.0], np.float32)
    got, _ = run_model(str(path), {"x": x}, "small")
    np.testing.assert_array_equal(got["y"], -np.maximum(x, 0))


def test_elu_family_and_prelu_at_infinity(tmp_path):
    """Elu, Selu, Celu and PRelu take min(x, 0) as a clip, not x - relu(x), which is
    NaN at +inf: +inf in gives +inf out, as onnxruntime."""
    ops = [helper.make_node(o, ["x"], [f"y_{o}"]) for o in ("Elu", "Selu", "Celu")]
    ops.append(helper.make_node("PRelu", ["x", "slope"], ["y_PRelu"]))
    names = [n.output[0] for n in ops]
    graph_ = helper.make_graph(
        ops, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [5])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [5]) for n in names],
        [numpy_helper.from_array(np.array([0.25], np.float32), "slope")],
    )
    model = helper.make_model(graph_, opset_imports=[helper.make_opsetid("", 13)])
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    x = np.array([-np.inf, -1.0, 0.5, 1e30, np.inf], np.float32)
    got, _ = run_model(str(path), {"x": x}, "small")
    refs = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(names, {"x": x})
    for name, ref in zip(names, refs, strict=True):
        np.testing.assert_allclose(got[name], ref, rtol=2e-5, err_msg=name)


def test_nodes_out_of_topological_order_are_sorted(tmp_path):
    """A graph-surgery tool can leave nodes out of order; onnxruntime sorts them and
    runs the model, so tidal does (before: 'not a valid ONNX model (Nodes in a graph
    must be topologically sorted ...)'). A Loop whose body reads a value produced
    after it in the file counts that read. A cycle is still refused, by the checker."""
    body = helper.make_graph(
        [helper.make_node("Add", ["acc", "s"], ["acc_out"]),
         helper.make_node("Identity", ["cond"], ["cond_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_out", TensorProto.FLOAT, [3])],
    )
    nodes = [
        helper.make_node("Add", ["a", "looped"], ["y"]),
        helper.make_node("Loop", ["trips", "", "a"], ["looped"], body=body),
        helper.make_node("Sigmoid", ["x"], ["s"]),  # read inside the Loop's body
        helper.make_node("Relu", ["x"], ["a"]),
    ]
    graph_ = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])],
        [numpy_helper.from_array(np.array(2, np.int64), "trips")],
    )
    model = helper.make_model(graph_, opset_imports=[helper.make_opsetid("", 13)])
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    x = np.array([1.0, -2.0, 3.0], np.float32)
    got, _ = run_model(str(path), {"x": x}, "small")
    ref = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_allclose(got["y"], ref, rtol=2e-5)  # (the small chip's sigmoid table)
    cycle = helper.make_graph(
        [helper.make_node("Add", ["x", "c"], ["b"]), helper.make_node("Relu", ["b"], ["c"]),
         helper.make_node("Neg", ["b"], ["y"])],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])],
    )
    bad = tmp_path / "cycle.onnx"
    onnx.save(helper.make_model(cycle, opset_imports=[helper.make_opsetid("", 13)]), bad)
    with pytest.raises(OnnxImportError, match="not a valid ONNX model"):
        import_onnx(str(bad))


@pytest.mark.parametrize("exponent", [np.array(3, np.int64), np.array([2], np.int32), np.array(0.5, np.float64)])
def test_pow_exponent_of_another_numeric_type(exponent, tmp_path):
    """ONNX Pow's exponent has a type of its own (torch writes x ** 3 with an int64
    3): a constant one-element exponent of any numeric type is the same product or
    ACT function as a float32 one, on the accelerator (before: 'only a constant
    scalar exponent is supported', on the framework tier)."""
    graph_ = helper.make_graph(
        [helper.make_node("Pow", ["x", "p"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 4])],
        [numpy_helper.from_array(exponent, "p")],
    )
    path = tmp_path / "pow.onnx"
    onnx.save(helper.make_model(graph_, opset_imports=[helper.make_opsetid("", 15)]), path)
    x = np.abs(np.random.default_rng(2).standard_normal((3, 4))).astype(np.float32) + 0.1
    got, stats = run_model(str(path), {"x": x}, "small")
    ref = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_allclose(got["y"], ref, rtol=2e-5)
    assert stats["placement"]["framework"] == 0


def test_shape_inference_sees_large_weights_by_shape_only():
    """Weights past INFER_INITIALIZER_MAX elements reach onnx's inference as inputs of
    their shape (inference copied every weight four times: a folded Range to 2^26
    took 5.8 GB); the result is onnx's own, the weights back in their order."""
    from tidal.targets import onnx_import as oi

    n = oi.INFER_INITIALIZER_MAX + 1
    big = numpy_helper.from_array(np.arange(n, dtype=np.float32), "big")
    shape = numpy_helper.from_array(np.array([1, n], np.int64), "shape")
    small = numpy_helper.from_array(np.ones(3, np.float32), "small")
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["big", "shape"], ["r"]), helper.make_node("Add", ["x", "r"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, n])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [small, big, shape],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    got = oi._infer_shapes(model, strict_mode=True, data_prop=True)
    want = onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
    assert got.graph.value_info == want.graph.value_info
    assert list(got.graph.output) == list(want.graph.output)
    assert [t.name for t in got.graph.initializer] == ["small", "big", "shape"]
    assert list(got.graph.initializer) == list(model.graph.initializer)
    assert [i.name for i in got.graph.input] == ["x"]


@pytest.mark.parametrize(("limit", "propagated"), [(1 << 16, [False, True]), (1 << 26, [False])])
def test_a_long_range_on_constants_is_inferred_without_data_propagation(monkeypatch, limit, propagated):
    """onnx's data propagation carries a Range's values as protobuf dimensions: a
    Range(0, 2^26) took 5.4 GB inside inference, then ran out of memory."""
    from tidal.targets import onnx_import as oi

    scalars = [numpy_helper.from_array(np.array(v, np.int64), n) for n, v in (("a", 0), ("b", limit), ("s", 1))]
    graph = helper.make_graph(
        [helper.make_node("Range", ["a", "b", "s"], ["r"]), helper.make_node("Cast", ["r"], ["y"], to=TensorProto.FLOAT)],
        "g", [], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], scalars,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    asked: list[bool] = []
    monkeypatch.setattr(oi, "_infer_shapes", lambda m, **o: asked.append(o["data_prop"]) or m)
    oi._infer_strict(model)
    assert asked == propagated  # (a short one: inference without it first, to look for long vectors)


@pytest.mark.parametrize(("size", "asked"), [(1 << 16, [False, True]), ((1 << 16) + 1, [False])])
@pytest.mark.parametrize("reshaped", [False, True])
def test_a_long_vector_is_inferred_without_data_propagation(size, asked, reshaped):
    """onnx's data propagation gives each element of a vector an Add reads a protobuf
    dimension: an input of [2^24] added to a scalar took 2.4 GB inside inference
    (Range(0, 2^26) folded, then cast and added, 13.4 GB in all). A vector that
    inference alone finds (a Reshape's output) counts too."""
    from tidal.targets import onnx_import as oi

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, size] if reshaped else [size])
    s = helper.make_tensor_value_info("s", TensorProto.FLOAT, [1])
    nodes = [helper.make_node("Add", ["v", "s"], ["y"])]
    inits = []
    if reshaped:
        nodes.insert(0, helper.make_node("Reshape", ["x", "flat"], ["v"]))
        inits.append(numpy_helper.from_array(np.array([-1], np.int64), "flat"))
    else:
        nodes[0].input[0] = "x"
    graph = helper.make_graph(nodes, "g", [x, s], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    seen: list[bool] = []
    real = oi._infer_shapes

    def spy(m, **options):
        seen.append(options["data_prop"])
        return real(m, **options)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(oi, "_infer_shapes", spy)
        inferred = oi._infer_strict(model)
    assert seen == asked
    assert [d.dim_value for d in inferred.graph.output[0].type.tensor_type.shape.dim] == [size]


def test_large_folded_values_stay_out_of_the_protobuf(tmp_path: Path) -> None:
    """A folded value of more than INFER_INITIALIZER_MAX elements is kept as an array
    and goes to inference as a graph input of its shape: as an initializer it was
    copied about five times (Range(0, 2^26) folded and cast peaked at 5 GB). The
    result is onnxruntime's; the stand-in inputs do not become the program's."""
    from tidal.targets import onnx_import as oi

    n = oi.INFER_INITIALIZER_MAX * 2
    scalars = [numpy_helper.from_array(np.array(v, np.int64), k) for k, v in (("a", 0), ("b", n), ("s", 1))]
    graph = helper.make_graph(
        [
            helper.make_node("Range", ["a", "b", "s"], ["r"]),
            helper.make_node("Cast", ["r"], ["c"], to=TensorProto.FLOAT),
            helper.make_node("Add", ["c", "x"], ["y"]),
        ],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], scalars,
    )
    path = tmp_path / "range.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    largest: list[int] = []
    real = oi._infer_strict

    def spy(model):
        largest.append(max((math.prod(t.dims) for t in model.graph.initializer), default=0))
        return real(model)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(oi, "_infer_strict", spy)
        module = import_onnx(str(path))
    assert largest and max(largest) <= oi.INFER_INITIALIZER_MAX
    main = next(op for op in module.walk() if isinstance(op, FuncOp))
    assert [a.name_hint for a in main.args] == ["x"]
    x = np.array([0.5], np.float32)
    got, _ = run_model(str(path), {"x": x}, "small")
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_array_equal(got["y"], want)


@pytest.mark.parametrize("equation", ["a-b,bc->", "a.b,bc->ac", "ab,bc,cd->ad", "ab->a", "a...b...,bc->ac"])
@pytest.mark.parametrize("nested", [False, True])
def test_a_bad_einsum_equation_is_refused_before_shape_inference(equation, nested):
    """onnx's shape inference loops forever on a '-' or a lone '.' among an Einsum's
    input terms, inside C++ where SIGTERM does not reach Python (a crafted-input
    sweep's tidal-compile ran until SIGKILL). The equation is checked first, in If
    branches too; a valid one with spaces still imports."""
    einsum = helper.make_node("Einsum", ["a", "b"], ["y"], equation=equation)
    inputs = [_f32("a", [2, 3]), _f32("b", [3, 4])]
    if nested:
        branch = helper.make_graph([einsum], "then", [], [_f32("y", None)])
        other = helper.make_graph([helper.make_node("MatMul", ["a", "b"], ["y2"])], "else", [], [_f32("y2", None)])
        cond = helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(np.array(True)))
        node = helper.make_node("If", ["c"], ["y"], then_branch=branch, else_branch=other, name="branchy")
        model = _model([cond, node], inputs, [_f32("y", None)], opset=17)
        where = "a node of a subgraph of node 'branchy'"
    else:
        model = _model([einsum], inputs, [_f32("y", None)], opset=17)
        where = "node 'Einsum_0'"
    message = _refusal(model)
    assert f"{where} (op Einsum): equation '{equation}' is not an einsum equation for 2 input(s)" in message


def test_an_einsum_equation_with_spaces_imports():
    model = _model([helper.make_node("Einsum", ["a", "b"], ["y"], equation=" ab , bc -> ac ")],
                   [_f32("a", [2, 3]), _f32("b", [3, 4])], [_f32("y", None)], opset=17)
    import_onnx(model)


@pytest.mark.parametrize("bounds", ["none", "min", "max", "both", "min-attribute"])
def test_clip_without_a_bound_clips_to_float32s_range(tmp_path, bounds):
    """ONNX's Clip defaults a missing bound to float32's lowest or max, not to an
    infinity: onnxruntime gives 3.4e38 for inf and -3.4e38 for -inf, NaN stays NaN
    (a crafted-input sweep: Tidal passed the infinities through). Bit-exact against
    onnxruntime on the accelerator, for each bound given or left out."""
    inits, inputs, attrs, opset = [], ["x"], {}, 17
    if bounds in ("min", "both"):
        inits.append(_init("lo", np.array(-1.5, np.float32)))
    if bounds in ("max", "both"):
        inits.append(_init("hi", np.array(2.0, np.float32)))
    if bounds == "min":
        inputs.append("lo")
    elif bounds == "max":
        inputs += ["", "hi"]
    elif bounds == "both":
        inputs += ["lo", "hi"]
    elif bounds == "min-attribute":
        attrs, opset = {"min": 0.0}, 9
    model = _model([helper.make_node("Clip", inputs, ["y"], **attrs)], [_f32("x", [1, 8])], [_f32("y", [1, 8])], inits, opset=opset)
    model.ir_version = 8
    path = tmp_path / "clip.onnx"
    onnx.save(model, path)
    x = np.array([[np.inf, -np.inf, np.nan, 1.0, -2.0, 3e38, -3e38, 5.0]], np.float32)
    got, stats = run_model(str(path), {"x": x}, "small")
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_array_equal(got["y"], want)
    assert stats["placement"]["host"] == stats["placement"]["framework"] == 0


@pytest.mark.parametrize(
    ("op", "attrs", "why"),
    [
        ("RandomUniformLike", {"low": 5.0, "high": -5.0}, "low 5.0 and high -5.0 are not finite and ordered"),
        ("RandomUniform", {"low": float("nan"), "shape": [2, 3]}, "low nan and high 1.0 are not finite and ordered"),
        ("RandomNormalLike", {"scale": 0.0}, "mean 0.0 and scale 0.0: the scale must be positive"),
        ("RandomNormalLike", {"scale": -1.0}, "mean 0.0 and scale -1.0: the scale must be positive"),
        ("RandomNormal", {"scale": float("nan"), "shape": [2, 3]}, "mean 0.0 and scale nan: the scale must be positive"),
    ],
)
def test_a_random_op_onnxruntime_aborts_on_is_refused(op, attrs, why):
    """onnxruntime aborts the process (a libstdc++ assertion, SIGABRT) on a uniform
    range out of order or a normal scale that is not positive: tidal-run died with
    the framework tier's signal. Such a node is refused, named, before it runs."""
    inputs = [] if "shape" in attrs else ["x"]
    model = _model([helper.make_node(op, inputs, ["y"], **attrs)], [_f32("x", [2, 3])], [_f32("y", [2, 3])], opset=17)
    assert f"node '{op}_0' (op {op}): {why}" in _refusal(model)


def test_an_output_whose_shape_depends_on_the_data_is_named_as_such():
    """An If whose branches give different shapes is valid ONNX (onnxruntime runs
    it): the refusal said "not a valid ONNX model (output 'y': Field 'shape' of
    'type' is required but missing.)". It now says inference finds no shape."""
    then = helper.make_graph([helper.make_node("Relu", ["x"], ["t"])], "then", [], [_f32("t", [2, 3])])
    other = helper.make_graph(
        [helper.make_node("ReduceSum", ["x"], ["e"], keepdims=0)], "else", [], [_f32("e", [])]
    )
    model = _model(
        [helper.make_node("If", ["c"], ["y"], then_branch=then, else_branch=other)],
        [_f32("x", [2, 3]), helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], opset=17,
    )
    message = _refusal(model)
    assert "output 'y' (of node 'If_0', op If) has no shape that shape inference finds" in message, message
    assert "not a valid ONNX model" not in message


@pytest.mark.parametrize("to", [TensorProto.COMPLEX64, TensorProto.COMPLEX128])
def test_a_cast_to_an_element_type_tidal_does_not_carry_names_the_type(to):
    """A Cast to complex64 was refused as "ONNX shape inference gave it no tensor
    type", which it did: the type is one Tidal has no representation for, and the
    message now names it. (float8 and int4, refused so before, are carried now.)"""
    model = _model([helper.make_node("Cast", ["x"], ["y"], to=to)], [_f32("x", [2])],
                   [helper.make_tensor_value_info("y", to, [2])], opset=21)
    name = TensorProto.DataType.Name(to)
    assert f"node 'Cast_0' (op Cast): output 'y' has element type {name}, which Tidal does not carry" in _refusal(model)


def test_onnxruntimes_errors_name_an_unnamed_node_by_its_label(tmp_path):
    """Two unnamed Gathers in one framework-tier segment, the second out of range:
    onnxruntime's message said "Name:''". The extracted nodes carry Tidal's labels."""
    from tidal.tools.files import ToolError

    model = _model(
        [helper.make_node("Gather", ["x", "i1"], ["t"], axis=0), helper.make_node("Gather", ["t", "i2"], ["y"], axis=0)],
        [_f32("x", [4, 5]), helper.make_tensor_value_info("i1", TensorProto.INT64, [2]),
         helper.make_tensor_value_info("i2", TensorProto.INT64, [2])],
        [_f32("y", None)], opset=17,
    )
    path = tmp_path / "gathers.onnx"
    onnx.save(model, path)
    feeds = {"x": np.zeros((4, 5), np.float32), "i1": np.array([0, 1]), "i2": np.array([0, 9])}
    with pytest.raises(ToolError, match="Name:'Gather_1'"):
        run_model(str(path), feeds, "small")


def test_a_split_whose_num_outputs_is_not_its_outputs_is_refused():
    """Split-18 with num_outputs 3 and two outputs: onnxruntime refuses it, Tidal split
    [5] into [3, 2] (the third crafted-input sweep)."""
    model = _model([helper.make_node("Split", ["x"], ["a", "b"], axis=0, num_outputs=3)],
                   [_f32("x", [5])], [_f32("a", None), _f32("b", None)], opset=18)
    assert "node 'Split_0' (op Split): num_outputs 3 but 2 outputs" in _refusal(model)


def test_shape_inference_errors_name_an_unnamed_node():
    """Two unnamed Expands, the second incompatible: onnx's message said only
    "(op_type:Expand)". Unnamed nodes carry the importer's label while inference
    runs, and lose it after (the model is left as it was)."""
    shapes = [numpy_helper.from_array(np.array(v, np.int64), n) for n, v in (("s1", [2, 4, 5]), ("s2", [3, 4, 5]))]
    model = _model(
        [helper.make_node("Expand", ["x", "s1"], ["t"]), helper.make_node("Expand", ["t", "s2"], ["y"])],
        [_f32("x", [4, 5])], [_f32("y", None)], shapes, opset=17,
    )
    assert "(op_type:Expand, node name: Expand_1)" in _refusal(model)
    assert [n.name for n in model.graph.node] == ["", ""]


@pytest.mark.parametrize(
    ("op", "shape", "axes", "stages"),
    [
        ("ReduceSum", [2, 300, 300], [1, 2], [45000, 2]),  # 90,000 = 45,000 x 2
        ("ReduceMean", [3, 70000], [1], [35000, 2]),
        ("ReduceMean", [65537, 2], [0], [65537]),  # a prime past the limit: one column
        ("ReduceSumSquare", [4, 5], [1], [5]),
    ],
)
def test_a_long_reduction_sums_in_stages_of_short_columns(tmp_path, op, shape, axes, stages):
    """ReduceSum and ReduceMean multiply by a column of ones as long as the reduced
    elements: a whole-tensor sum of a 3 GB tensor made a 3 GB constant. Past
    REDUCE_ONES_MAX the elements are summed in stages, one short column each."""
    from tidal.targets.onnx_import import REDUCE_ONES_MAX, _reduce_stages

    assert _reduce_stages(math.prod(shape[a] for a in axes)) == stages
    assert all(s <= REDUCE_ONES_MAX for s in stages[:-1])
    model = _model([helper.make_node(op, ["x"], ["y"], axes=axes, keepdims=0)], [_f32("x", shape)],
                   [_f32("y", None)], opset=11)
    columns = [op for op in _ops(import_onnx(model)) if isinstance(op, graph.ConstantOp)]
    assert sorted(c.result.type.get_shape()[0] for c in columns) == sorted(stages)
    x = np.random.default_rng(5).standard_normal(shape).astype(np.float32)
    _assert_runs_like_onnxruntime(model, tmp_path, {"x": x}, chip="default")


def test_special_values_follow_the_engines(tmp_path):
    """docs/hardware-model.md's "Special values": maxima propagate NaN (onnxruntime's
    MaxPool and ReduceMax may skip it), Pow(-inf, 0.5) is ACT's sqrt (NaN), Gelu(-inf)
    is its limit 0, all on the accelerator."""
    nan, inf = np.float32(np.nan), np.float32(np.inf)
    model = _model(
        [helper.make_node("MaxPool", ["x"], ["m"], kernel_shape=[2, 2]),
         helper.make_node("ReduceMax", ["v"], ["r"], keepdims=0),
         helper.make_node("Pow", ["v", "h"], ["p"]),
         helper.make_node("Gelu", ["v"], ["g"], domain="")],
        [_f32("x", [1, 1, 2, 2]), _f32("v", [3])],
        [_f32("m", [1, 1, 1, 1]), _f32("r", []), _f32("p", [3]), _f32("g", [3])],
        [_init("h", np.float32(0.5))],
        opset=20,
    )
    path = tmp_path / "special.onnx"
    onnx.save(model, path)
    inputs = {"x": np.array([nan, 1, 4, 5], np.float32).reshape(1, 1, 2, 2), "v": np.array([-inf, nan, 4], np.float32)}
    got, stats = run_model(str(path), inputs, "small")
    assert stats["placement"]["framework"] == stats["placement"]["host"] == 0
    assert np.isnan(got["m"]).all() and np.isnan(got["r"])
    np.testing.assert_array_equal(got["p"], [nan, nan, 2])
    assert got["g"][0] == 0 and np.isnan(got["g"][1]) and abs(got["g"][2] - 4) < 1e-3


def test_a_constant_gather_elements_onnxs_reference_fails_on_folds_by_onnxruntime(tmp_path):
    """RoBERTa's position ids: GatherElements of a constant [1, 514] along an axis of
    64 or more entries, which onnx 1.23's reference fails on ("cannot reshape array
    of size 1"), so the node went to the framework tier and the model did not
    compile. Data movement is exact whoever computes it: onnxruntime folds it."""
    data = np.arange(100, dtype=np.int64).reshape(1, 100) * 3
    model = _model(
        [helper.make_node("GatherElements", ["d", "i"], ["g"], axis=1),
         helper.make_node("Cast", ["g"], ["f"], to=TensorProto.FLOAT),
         helper.make_node("Add", ["x", "f"], ["y"])],
        [_f32("x", [1, 12])], [_f32("y", [1, 12])],
        [_init("d", data), _init("i", np.array([[5, 0, 99, 64, 1, 2, 3, 70, 80, 90, 63, 64]], np.int64))],
    )
    module = import_onnx(model)
    assert not [op for op in _ops(module) if isinstance(op, graph.OnnxNodeOp)]
    _assert_runs_like_onnxruntime(model, tmp_path)


@pytest.mark.parametrize("op", ["GlobalAveragePool", "GlobalMaxPool"])
@pytest.mark.parametrize("shape", [[1, 6, 10], [2, 3, 4, 5, 6]])
def test_global_pools_of_1d_and_3d_inputs(tmp_path, op, shape):
    """FocalNet's pooler (rank 3) and torchvision's video ResNets (rank 5) end in a
    global pooling, which took only NCHW: the rest of r3d_18 compiled, its last op
    did not. The spatial elements become one row of a 2-D plane (a view)."""
    out = [*shape[:2], *[1] * (len(shape) - 2)]
    model = _model([helper.make_node(op, ["x"], ["y"])], [_f32("x", shape)], [_f32("y", out)])
    module = import_onnx(model)
    assert not [o for o in _ops(module) if isinstance(o, graph.OnnxNodeOp)]
    _assert_runs_like_onnxruntime(model, tmp_path)


def test_a_node_on_values_made_from_constants_alone_is_folded_by_onnxruntime(tmp_path):
    """T5's relative-position buckets (Log, Div, Mul of constants, then a Cast to
    int64) and BEiT's and Swin v2's bias tables (float ops on parameters, then a
    Gather of a constant index in hundreds of runs): each float op was imported as a
    graph op, so the Cast's or Gather's input was no constant at import and the node
    went to the framework tier; those models did not compile. Such a node is now
    computed at import by onnxruntime over the nodes that make its inputs."""
    rng = np.random.default_rng(9)
    table = rng.standard_normal(300).astype(np.float32)
    index = rng.permutation(300).astype(np.int64)
    model = _model(
        [helper.make_node("Abs", ["r"], ["a"]),
         helper.make_node("Log", ["a"], ["l"]),
         helper.make_node("Mul", ["l", "k"], ["m"]),
         helper.make_node("Cast", ["m"], ["bucket"], to=TensorProto.INT64),
         helper.make_node("Cast", ["bucket"], ["bf"], to=TensorProto.FLOAT),
         helper.make_node("Exp", ["t"], ["e"]),
         helper.make_node("Gather", ["e", "i"], ["g"], axis=0),
         helper.make_node("Add", ["x", "bf"], ["s"]),
         helper.make_node("Add", ["s", "g"], ["y"])],
        [_f32("x", [300])], [_f32("y", [300])],
        [_init("r", rng.uniform(1, 100, 300).astype(np.float32)), _init("k", np.float32(2.5)),
         _init("t", table), _init("i", index)],
    )
    module = import_onnx(model)
    assert not [op for op in _ops(module) if isinstance(op, graph.OnnxNodeOp)]
    _assert_runs_like_onnxruntime(model, tmp_path)


@pytest.mark.parametrize("side", ["x", "y"])
def test_where_of_a_constant_mask_and_a_constant_runs_on_the_accelerator(tmp_path, side):
    """GPT-Neo's causal mask: Where(constant mask, scores, float32's lowest) went to
    the framework tier, so the model did not compile. It is now a Max and a Min of
    the scores against bounds that hold the constant where it is selected; exact for
    infinities too (an input of -inf, +inf where the scores are kept). A Where of
    constants alone is data."""
    rng = np.random.default_rng(11)
    mask = np.tril(np.ones((6, 6), bool)).reshape(1, 6, 6)
    fill = np.float32(np.finfo(np.float32).min)
    inputs = ["m", "s", "f"] if side == "x" else ["m", "f", "s"]
    model = _model(
        [helper.make_node("Relu", ["x"], ["s"]),
         helper.make_node("Where", inputs, ["w"]),
         helper.make_node("Where", ["m", "one", "zero"], ["k"]),
         helper.make_node("Add", ["w", "k"], ["y"])],
        [_f32("x", [2, 6, 6])], [_f32("y", [2, 6, 6])],
        [_init("m", mask), _init("f", fill), _init("one", np.float32(1)), _init("zero", np.float32(0))],
    )
    module = import_onnx(model)
    assert not [op for op in _ops(module) if isinstance(op, graph.OnnxNodeOp)]
    x = rng.standard_normal((2, 6, 6)).astype(np.float32)
    x[0, 5, 0], x[1, 0, 5] = np.inf, -np.inf
    _assert_runs_like_onnxruntime(model, tmp_path, {"x": x})


def test_where_of_a_computed_condition_is_onnxruntimes():
    model = _model(
        [helper.make_node("Greater", ["x", "z"], ["c"]), helper.make_node("Where", ["c", "x", "z"], ["y"])],
        [_f32("x", [4])], [_f32("y", [4])], [_init("z", np.float32(0))],
    )
    reasons = {
        op.op_type_val: op.attributes["tidal.reason"].data
        for op in _ops(import_onnx(model)) if isinstance(op, graph.OnnxNodeOp)
    }
    assert reasons["Where"].startswith("input 'c' is bool [4]")


def test_a_resize_whose_size_onnx_and_onnxruntime_round_differently(tmp_path):
    """tf2onnx's Resizing(17, 13) of a 10 x 10 map: scales [1, 1, 1.7, 1.3], and
    10 x float32(1.3) is 13 in onnxruntime (the float32 product, truncated, which
    the declared output agrees with) but 12 in onnx's inference (in double): strict
    inference refused the model at the node after the Resize. Inference now sees
    onnxruntime's sizes, and the Resize is imported as written (its scales)."""
    rng = np.random.default_rng(12)
    model = _model(
        [helper.make_node("Resize", ["x", "", "s"], ["r"], mode="linear"),
         helper.make_node("Conv", ["r", "w"], ["y"], pads=[1, 1, 1, 1])],
        [_f32("x", [1, 2, 10, 10])], [_f32("y", [1, 3, 17, 13])],
        [_init("s", np.array([1, 1, 1.7, 1.3], np.float32)),
         _init("w", rng.standard_normal((3, 2, 3, 3)).astype(np.float32))],
    )
    module = import_onnx(model)
    assert not [op for op in _ops(module) if isinstance(op, graph.OnnxNodeOp)]
    _assert_runs_like_onnxruntime(model, tmp_path)

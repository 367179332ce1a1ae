"""Builders, inferred result types and `_val` accessors of the graph dialect."""

import numpy as np
import pytest
from tidal.dialects import graph
from xdsl.context import Context
from xdsl.dialects import test as xdsl_test
from xdsl.dialects.builtin import Builtin, Float32Type, ModuleOp, TensorType, f32, f64
from xdsl.dialects.func import Func, FuncOp, ReturnOp
from xdsl.ir import Block, Region
from xdsl.parser import Parser
from xdsl.utils.exceptions import VerifyException


def tensor(*shape: int) -> TensorType[Float32Type]:
    return TensorType(f32, shape)


def value(*shape: int):
    return xdsl_test.TestOp(result_types=[tensor(*shape)]).results[0]


def parse(text: str) -> ModuleOp:
    ctx = Context()
    for dialect in (Builtin, Func, graph.Graph):
        ctx.load_dialect(dialect)
    return Parser(ctx, text).parse_module()


def shape_of(op) -> tuple[int, ...]:
    return op.result.type.get_shape()


def test_dialect_lists_every_op():
    names = {op.name for op in graph.Graph.operations}
    assert names == {
        "graph.constant",
        "graph.onnx_node",
        "graph.log_softmax",
        "graph.sub",
        "graph.div",
        "graph.max",
        "graph.min",
        "graph.slice",
        "graph.matmul",
        "graph.gemm",
        "graph.conv2d",
        "graph.add",
        "graph.mul",
        "graph.relu",
        "graph.activation",
        "graph.maxpool",
        "graph.reshape",
        "graph.flatten",
        "graph.softmax",
        "graph.batchnorm",
        "graph.channel_affine",
        "graph.avgpool",
        "graph.global_avgpool",
        "graph.concat",
        "graph.transpose",
        "graph.lrn",
        "graph.sum",
        "graph.unsqueeze",
        "graph.constant_of_shape",
        "graph.dropout",
        "graph.random_uniform_like",
        "graph.loop",
        "graph.bernoulli",
        "graph.piecewise_linear",
    }


@pytest.mark.parametrize("func", graph.ACTIVATION_FUNCTIONS)
def test_activation_builder_keeps_shape_and_func(func):
    op = graph.ActivationOp(value(2, 3, 4), func)
    op.verify()
    assert shape_of(op) == (2, 3, 4) and op.func_val == func


def test_activation_refuses_an_unknown_function():
    with pytest.raises(VerifyException, match="func 'softsign' is not one of: exp"):
        graph.ActivationOp(value(2, 3), "softsign")


def test_constant_numpy_round_trip():
    array = np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 7
    op = graph.ConstantOp.from_numpy(array)
    op.verify()
    assert op.result.type == tensor(2, 3, 4)
    out = op.to_numpy()
    assert out.dtype == np.float32
    assert out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out, array)
    out[0, 0, 0] = 42.0  # writable, and a copy
    assert op.to_numpy()[0, 0, 0] == 0.0


def test_constant_from_non_contiguous_float64():
    array = np.linspace(-1, 1, 12).reshape(3, 4).T
    op = graph.ConstantOp.from_numpy(array)
    np.testing.assert_array_equal(op.to_numpy(), array.astype(np.float32))


def test_constant_large_weights_are_bytes():
    array = np.random.default_rng(0).standard_normal((512, 784)).astype(np.float32)
    op = graph.ConstantOp.from_numpy(array)
    assert op.value.data.data == array.tobytes()
    np.testing.assert_array_equal(op.to_numpy(), array)


def test_constant_splat_to_numpy():
    module = parse("%c = graph.constant dense<2.5> : tensor<2x3xf32>")
    (op,) = module.ops
    assert isinstance(op, graph.ConstantOp)
    np.testing.assert_array_equal(op.to_numpy(), np.full((2, 3), 2.5, np.float32))


def test_matmul_infers_result():
    op = graph.MatMulOp(value(4, 8), value(8, 16))
    op.verify()
    assert shape_of(op) == (4, 16)
    with pytest.raises(VerifyException, match="contraction dimensions differ"):
        graph.MatMulOp(value(4, 8), value(4, 16))


def test_gemm_defaults_and_vals():
    op = graph.GemmOp(value(8, 784), value(512, 784), value(512), trans_b=True)
    op.verify()
    assert shape_of(op) == (8, 512)
    assert (op.alpha_val, op.beta_val) == (1.0, 1.0)
    assert (op.trans_a_val, op.trans_b_val) == (False, True)
    assert op.c is not None


def test_gemm_without_c_and_transposed_a():
    op = graph.GemmOp(value(3, 5), value(3, 7), trans_a=True, alpha=0.5, beta=2.0)
    op.verify()
    assert op.c is None
    assert shape_of(op) == (5, 7)
    assert (op.alpha_val, op.beta_val, op.trans_a_val) == (0.5, 2.0, True)


def test_gemm_rejects_unbroadcastable_c():
    with pytest.raises(VerifyException, match="not broadcastable to"):
        graph.GemmOp(value(2, 3), value(3, 4), value(3))


def test_conv2d_fused_epilogue_builder_and_accessors():
    """An addend without a bias, and an activation: each optional operand is found
    by name, and the reference computes relu(conv + addend)."""
    from tidal.targets.onnx_ops import graph_entry

    x, w, s = value(1, 2, 3, 3), value(2, 2, 1, 1), value(1, 2, 3, 3)
    op = graph.Conv2dOp(x, w, addend=s, activation="relu")
    op.verify()
    assert op.bias is None and op.addend is s and op.activation_val == "relu"
    plain = graph.Conv2dOp(x, w, value(2))
    assert plain.addend is None and plain.activation_val is None
    rng = np.random.default_rng(0)
    xv, wv, sv = (rng.standard_normal(t, dtype=np.float32) for t in ((1, 2, 3, 3), (2, 2, 1, 1), (1, 2, 3, 3)))
    entry = graph_entry(op)
    assert entry is not None and entry.host is not None
    want = np.maximum(np.einsum("nchw,oc->nohw", xv, wv[:, :, 0, 0]) + sv, 0)
    np.testing.assert_allclose(entry.host(op, xv, wv, sv), want, rtol=1e-5, atol=1e-6)


def test_conv2d_epilogue_syntax_errors():
    text = (
        'func.func @f(%x: tensor<1x8x4x4xf32>, %w: tensor<8x8x1x1xf32>, %s: tensor<1x8x4x4xf32>) {\n'
        "  %r = graph.conv2d %x, %w addend %s : (tensor<1x8x4x4xf32>, tensor<8x8x1x1xf32>) -> tensor<1x8x4x4xf32>\n"
        "  func.return\n}"
    )
    with pytest.raises(Exception, match="expected 3 operand types and one result type"):
        parse(text)
    with pytest.raises(Exception, match="expected input, weight and an optional bias, got 4"):
        parse(text.replace("%x, %w addend %s", "%x, %w, %s, %s"))


def test_conv2d_vals_and_shape():
    op = graph.Conv2dOp(
        value(1, 4, 17, 17),
        value(8, 2, 3, 3),
        value(8),
        strides=(2, 2),
        pads=(1, 0, 1, 0),
        dilations=(2, 1),
        group=2,
    )
    op.verify()
    assert op.strides_val == (2, 2)
    assert op.pads_val == (1, 0, 1, 0)
    assert op.dilations_val == (2, 1)
    assert op.group_val == 2
    # H: (17 + 2 - 5) // 2 + 1 = 8; W: (17 - 3) // 2 + 1 = 8
    assert shape_of(op) == (1, 8, 8, 8)


def test_conv2d_defaults():
    op = graph.Conv2dOp(value(1, 3, 8, 8), value(4, 3, 3, 3))
    op.verify()
    assert op.bias is None
    assert (op.strides_val, op.pads_val, op.dilations_val, op.group_val) == (
        (1, 1),
        (0, 0, 0, 0),
        (1, 1),
        1,
    )
    assert shape_of(op) == (1, 4, 6, 6)


def test_conv2d_rejects_channel_mismatch():
    with pytest.raises(VerifyException, match="expects 4 input channels"):
        graph.Conv2dOp(value(1, 3, 8, 8), value(4, 4, 3, 3))


@pytest.mark.parametrize("op_class", [graph.AddOp, graph.MulOp])
def test_broadcasting_binary_ops(op_class):
    op = op_class(value(1, 8, 4, 4), value(8, 1, 1))
    op.verify()
    assert shape_of(op) == (1, 8, 4, 4)
    assert shape_of(op_class(value(3, 1), value(1, 5))) == (3, 5)
    with pytest.raises(VerifyException, match="not broadcastable"):
        op_class(value(3, 4), value(5))


def test_relu_keeps_shape():
    op = graph.ReluOp(value(2, 3))
    op.verify()
    assert shape_of(op) == (2, 3)


def test_maxpool_vals_and_shape():
    op = graph.MaxPoolOp(value(1, 8, 32, 32), kernel_shape=(2, 2), strides=(2, 2))
    op.verify()
    assert op.kernel_shape_val == (2, 2)
    assert op.strides_val == (2, 2)
    assert op.pads_val == (0, 0, 0, 0)
    assert shape_of(op) == (1, 8, 16, 16)
    padded = graph.MaxPoolOp(value(1, 1, 5, 5), kernel_shape=(3, 3), pads=(1, 1, 1, 1))
    assert shape_of(padded) == (1, 1, 5, 5)


def test_reshape_from_shape_or_type():
    op = graph.ReshapeOp(value(2, 3, 4), (6, 4))
    op.verify()
    assert shape_of(op) == (6, 4)
    assert op.shape_val == (6, 4)
    assert shape_of(graph.ReshapeOp(value(2, 3, 4), tensor(24))) == (24,)
    with pytest.raises(VerifyException, match="cannot reshape"):
        graph.ReshapeOp(value(2, 3), (5,))


def test_flatten_axis():
    op = graph.FlattenOp(value(2, 3, 4, 5), axis=2)
    op.verify()
    assert op.axis_val == 2
    assert shape_of(op) == (6, 20)
    assert shape_of(graph.FlattenOp(value(2, 3, 4, 5))) == (2, 60)
    assert shape_of(graph.FlattenOp(value(2, 3), axis=0)) == (1, 6)


def test_softmax_axis():
    op = graph.SoftmaxOp(value(8, 10), axis=1)
    op.verify()
    assert op.axis_val == 1
    assert shape_of(op) == (8, 10)
    with pytest.raises(VerifyException, match="out of range"):
        graph.SoftmaxOp(value(8, 10), axis=2)


def test_explicit_result_type_is_verified():
    op = graph.ReluOp(value(2, 3), result_type=tensor(3, 2))
    with pytest.raises(VerifyException, match="does not match the inferred shape"):
        op.verify()


def test_non_f32_operand_rejected():
    x = xdsl_test.TestOp(result_types=[TensorType(f64, [2, 3])]).results[0]
    op = graph.ReluOp(x, result_type=tensor(2, 3))
    with pytest.raises(VerifyException, match="must be a tensor of f32"):
        op.verify()


def test_built_ops_print_and_parse_back():
    block = Block(arg_types=[tensor(1, 3, 8, 8)])
    weight = graph.ConstantOp.from_numpy(np.ones((4, 3, 3, 3)))
    conv = graph.Conv2dOp(block.args[0], weight, pads=(1, 1, 1, 1))
    gemm = graph.GemmOp(
        graph.FlattenOp(conv),
        graph.ConstantOp.from_numpy(np.ones((10, 256))),
        trans_b=True,
    )
    block.add_ops([weight, conv, gemm.a.owner, gemm.b.owner, gemm, ReturnOp(gemm)])
    func = FuncOp("main", ([tensor(1, 3, 8, 8)], [tensor(1, 10)]), Region(block))
    module = ModuleOp([func])
    module.verify()
    text = str(module)
    assert "pads = array<i64: 1, 1, 1, 1>" in text
    assert "strides" not in text  # defaults are elided
    assert "trans_b = 1 : i64" in text
    assert str(parse(text)) == text

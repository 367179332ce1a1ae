"""graph.channel_affine: the builder infers the result, the verifier rejects
parameters that are not [C] and activations it does not know, and the registry's
NumPy reference computes activation(x * scale[c] + shift[c])."""

from __future__ import annotations

import numpy as np
import pytest
from tidal.dialects import graph
from tidal.targets.onnx_ops import graph_entry, host_eval
from xdsl.dialects.builtin import TensorType, f32
from xdsl.utils.exceptions import VerifyException
from xdsl.utils.test_value import create_ssa_value


def _value(*shape: int):
    return create_ssa_value(TensorType(f32, shape))


def test_builder_infers_the_input_shape_and_keeps_the_activation():
    op = graph.ChannelAffineOp(
        _value(1, 8, 4, 4), _value(8), _value(8), activation="relu"
    )
    op.verify()
    assert op.result.type == TensorType(f32, (1, 8, 4, 4))
    assert op.activation_val == "relu"
    plain = graph.ChannelAffineOp(_value(3, 8), _value(8), _value(8))
    plain.verify()
    assert plain.activation_val is None and plain.result.type == TensorType(f32, (3, 8))


@pytest.mark.parametrize(
    "x, scale, shift, activation, message",
    [
        ((1, 8, 4, 4), (8, 1, 1), (8,), None, r"scale must have shape \[8\]"),
        (
            (1, 8, 4, 4),
            (8,),
            (4,),
            None,
            r"shift must have shape \[8\] \(the channels of input \[1, 8, 4, 4\]\), got \[4\]",
        ),
        ((8,), (8,), (8,), None, r"input must have rank 2 or more"),
        ((1, 8, 4, 4), (8,), (8,), "tanh", r"activation 'tanh' is not one of: relu"),
    ],
)
def test_verifier_errors(x, scale, shift, activation, message):
    with pytest.raises(VerifyException, match=message):
        graph.ChannelAffineOp(
            _value(*x), _value(*scale), _value(*shift), activation=activation
        )


@pytest.mark.parametrize("shape", [(2, 5, 3, 4), (3, 5)])
@pytest.mark.parametrize("activation", [None, "relu"])
def test_host_reference(shape, activation):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(np.float32)
    s, t = rng.standard_normal((2, 5)).astype(np.float32)
    op = graph.ChannelAffineOp(
        _value(*shape), _value(5), _value(5), activation=activation
    )
    got = host_eval(op, x, s, t)
    c = (1, 5) + (1,) * (len(shape) - 2)
    want = x.astype(np.float64) * s.reshape(c) + t.reshape(c)
    if activation == "relu":
        want = np.maximum(want, 0.0)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    entry = graph_entry(graph.ChannelAffineOp)
    assert entry is not None and entry.onnx is None and entry.engines

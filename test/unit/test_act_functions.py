"""Every activation function of the datasheet (`sim/spec`), through every reader of
it: the accel dialect's parser and printer, the sequential accel interpreter, the
binary encoder and decoder, and the hardware model, each compared with a NumPy
formula written here. A member added to `ActFunc` without a reference below fails."""

from __future__ import annotations

import math

import numpy as np
import pytest
from xdsl.context import Context

from tidal.passes.accel.insert_sync import AccelInsertSyncPass
from tidal.passes.accel.split_streams import AccelSplitStreamsPass
from tidal.passes.interpreters.accel import eval_accel, eval_binary
from tidal.passes.pipeline import run_passes
from tidal.sim.spec import ActFunc
from tidal.sim.spec.lut import LUT_SPECS
from tidal.tools.common import context, parse_and_verify

REFERENCE = {  # float64 formulas, independent of the datasheet's float32 ones
    ActFunc.IDENTITY: lambda y: y,
    ActFunc.RELU: lambda y: np.maximum(y, 0),
    ActFunc.EXP: np.exp,
    ActFunc.RECIPROCAL: lambda y: 1 / y,
    ActFunc.SIGMOID: lambda y: 1 / (1 + np.exp(-y)),
    ActFunc.TANH: np.tanh,
    ActFunc.LOG: np.log,
    ActFunc.GELU: lambda y: 0.5 * y * (1 + np.tanh(np.sqrt(2 / np.pi) * (y + 0.044715 * y**3))),
    ActFunc.ERF: np.vectorize(math.erf),
    ActFunc.SOFTPLUS: lambda y: np.log1p(np.exp(y)),
    ActFunc.RSQRT: lambda y: 1 / np.sqrt(y),
    ActFunc.SQRT: np.sqrt,
    ActFunc.CLIP01: lambda y: np.clip(y, 0, 1),
    ActFunc.SILU: lambda y: y / (1 + np.exp(-y)),
    ActFunc.GELU_ERF: lambda y: 0.5 * y * (1 + np.vectorize(math.erf)(y / math.sqrt(2))),
}
# The small chip's 64-row tables (sim/config.py act_lut_intervals) are within 1.7e-5
# of every function (docs/lut.md); the other functions are exact in float32.
ATOL = {f: 2e-5 for f in LUT_SPECS}

# y = func(0.5 * x + 0.25) on a 4x8 tile: load, activate, store.
PROGRAM = """
accel.program "small" dram 4096 {{
  accel.io input "x" at 0 : tensor<4x8xf32>
  accel.io output "y" at 128 : tensor<4x8xf32>
  accel.dma 0 <dram 0, [[8, 4], [1, 8]]> -> <sbuf 0, 0, [[1, 4], [1, 8]]>
  accel.act {func} <sbuf 0, 64, [[1, 4], [1, 8]]>, <sbuf 0, 0, [[1, 4], [1, 8]]> scale 0.5 bias 0.25
  accel.dma 1 <sbuf 0, 64, [[1, 4], [1, 8]]> -> <dram 128, [[8, 4], [1, 8]]>
}}
"""


def test_every_function_has_a_reference():
    assert set(REFERENCE) == set(ActFunc)


@pytest.mark.parametrize("func", list(ActFunc))
def test_function_through_interpreter_encoder_and_machine(func: ActFunc):
    text = PROGRAM.format(func=func.value)
    module = parse_and_verify(context(), text, "act.mlir")
    assert f"accel.act {func.value} " in str(module)  # printed as parsed

    # Positive inputs keep log and reciprocal defined; relu still sees y > 0 only,
    # so a second range below checks its negative side.
    rng = np.random.default_rng(7)
    x = rng.uniform(0.1, 3.0, (4, 8)).astype(np.float32)
    if func is ActFunc.RELU or func is ActFunc.GELU:
        x[:2] = -x[:2]
    want = REFERENCE[func](0.5 * x.astype(np.float64) + 0.25)

    atol = ATOL.get(func, 1e-6)
    sequential = eval_accel(module, {"x": x})["y"]
    np.testing.assert_allclose(sequential, want, rtol=1e-5, atol=atol)

    run_passes([AccelInsertSyncPass(), AccelSplitStreamsPass()], module, Context())
    on_machine = eval_binary(module, {"x": x})["y"]  # encoder, decoder, machine
    np.testing.assert_allclose(on_machine, want, rtol=1e-5, atol=atol)
    # Both evaluate the chip's tables: the same float32 results.
    np.testing.assert_array_equal(on_machine, sequential)

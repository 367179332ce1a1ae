"""The loop interpreter runs what the loop dialect allows across nests: a tile
allocated in the function keeps its data from one nest to the next, and a nest may
hold sibling loops. The lowered program (loop-allocate through the split streams,
the hardware model on the binary) computes the same."""

import numpy as np
from tidal.dialects.accel import Accel
from tidal.dialects.loop import Loop, NestOp
from tidal.passes.accel.assign_queues import AccelAssignQueuesPass
from tidal.passes.accel.insert_sync import AccelInsertSyncPass
from tidal.passes.accel.split_streams import AccelSplitStreamsPass
from tidal.passes.conversion.loop_to_accel import LoopToAccelPass
from tidal.passes.interpreters.accel import eval_accel, eval_binary
from tidal.passes.interpreters.loop import eval_loop
from tidal.passes.loop.allocate import LoopAllocatePass
from xdsl.context import Context
from xdsl.dialects.builtin import Builtin, ModuleOp
from xdsl.dialects.func import Func
from xdsl.parser import Parser

# Nest "load" copies x into the function's tile %keep in 16x16 blocks and, in a
# sibling loop over the same dimension, takes exp of each block in place; nest
# "out" reads %keep (its data from "load") into relu(2 * . - 1) and stores it.
_ACROSS_NESTS = """
func.func @main(%x: memref<32x32xf32>) -> memref<32x32xf32> {
  %y = loop.alloc : memref<32x32xf32>
  %keep = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
  loop.nest "load" domain [2, 2] order [0, 1] {
    loop.for d0 {
      loop.for d1 {
        loop.copy %x <dram 0 + 2048 * i0 + 64 * i1, [[32, 16], [1, 16]]> -> %keep <sbuf 0 + 16 * i0, 0 + 64 * i1, [[1, 16], [1, 16]]> : memref<32x32xf32> -> !loop.tile<sbuf, 32, 32>
      }
      loop.for d1 {
        loop.act "exp" %keep <sbuf 0 + 16 * i0, 0 + 64 * i1, [[1, 16], [1, 16]]>, %keep <sbuf 0 + 16 * i0, 0 + 64 * i1, [[1, 16], [1, 16]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 32, 32>, !loop.tile<sbuf, 32, 32>
      }
    }
  }
  loop.nest "out" domain [] order [] {
    %u = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
    loop.act "relu" %u <sbuf 0, 0, [[1, 32], [1, 32]]>, %keep <sbuf 0, 0, [[1, 32], [1, 32]]> {scale = 2.0 : f32, bias = -1.0 : f32} : !loop.tile<sbuf, 32, 32>, !loop.tile<sbuf, 32, 32>
    loop.copy %u <sbuf 0, 0, [[1, 32], [1, 32]]> -> %y <dram 0, [[32, 32], [1, 32]]> : !loop.tile<sbuf, 32, 32> -> memref<32x32xf32>
  }
  func.return %y : memref<32x32xf32>
}
"""


def _module() -> tuple[Context, ModuleOp]:
    ctx = Context()
    for dialect in (Builtin, Func, Accel, Loop):
        ctx.load_dialect(dialect)
    module = Parser(ctx, _ACROSS_NESTS).parse_module()
    module.verify()
    return ctx, module


def _inputs() -> dict[str, np.ndarray]:
    x = np.random.default_rng(0).uniform(-2.0, 2.0, (32, 32)).astype(np.float32)
    return {"arg0": x}


def _expected(x: np.ndarray) -> np.ndarray:
    return np.maximum(2.0 * np.exp(x.astype(np.float64)) - 1.0, 0.0)


def test_a_function_tile_carries_data_from_one_nest_to_the_next():
    _, module = _module()
    inputs = _inputs()
    got = eval_loop(module, inputs)["result0"]
    np.testing.assert_allclose(got, _expected(inputs["arg0"]), rtol=1e-5, atol=1e-6)


def test_a_nest_tile_starts_from_zero_in_every_nest():
    """Without "load" the function's tile is still zeros: relu(2 * 0 - 1) = 0,
    against relu(-1 + 2 * 1) = 1 had the nest's own tile %u been read."""
    _, module = _module()
    load = next(op for op in module.walk() if isinstance(op, NestOp))
    load.detach()
    got = eval_loop(module, _inputs())["result0"]
    assert np.array_equal(got, np.zeros((32, 32), np.float32))


def test_the_lowered_program_computes_the_same():
    ctx, module = _module()
    inputs = _inputs()
    want = eval_loop(module, inputs)["result0"]
    LoopAllocatePass(chip="small").apply(ctx, module)
    LoopToAccelPass().apply(ctx, module)
    np.testing.assert_allclose(eval_accel(module, inputs)["result0"], want, rtol=1e-5)
    for p in (AccelAssignQueuesPass(), AccelInsertSyncPass(), AccelSplitStreamsPass()):
        p.apply(ctx, module)
    np.testing.assert_allclose(eval_binary(module, inputs)["result0"], want, rtol=1e-5)

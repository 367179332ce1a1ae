"""loop-double-buffer: which tiles a loop fills afresh, that the unrolled nests
compute what they did (the loop-level interpreter against the graph's NumPy
semantics), and that second buffers are only made where the chip holds them."""

import dataclasses

import numpy as np
from harness import loop_level, onnx_model
from onnx import helper
from tidal.dialects import loop
from tidal.passes.interpreters.loop import eval_loop
from tidal.passes.interpreters.numerics import eval_graph, random_inputs
from tidal.passes.loop.allocate import _allocate_tiles
from tidal.passes.loop.double_buffer import LoopDoubleBufferPass, _fits, _plan
from tidal.sim.config import get_chip
from tidal.targets.onnx_import import import_onnx
from tidal.tools.common import context
from xdsl.context import Context
from xdsl.dialects import func


def _loop_level(make, chip: str = "small"):
    return loop_level(make(), chip)


def _fn(module) -> func.FuncOp:
    return next(op for op in module.body.block.ops if isinstance(op, func.FuncOp))


def _tiles(module) -> int:
    return sum(isinstance(op, loop.AllocTileOp) for op in module.walk())


def _conv(cin: int, cout: int, size: int, k: int = 1):
    """Conv (k x k, cin -> cout, size x size, same padding) + Relu: on the small chip
    its nest loops over output-channel blocks whose weight tile is filled afresh."""

    def make():
        w = np.random.default_rng(0).standard_normal((cout, cin, k, k)).astype(np.float32)
        nodes = [
            helper.make_node("Conv", ["x", "w"], ["c"], pads=[k // 2] * 4),
            helper.make_node("Relu", ["c"], ["y"]),
        ]
        return onnx_model(nodes, {"x": [1, cin, size, size]}, {"y": [1, cout, size, size]}, {"w": w})

    make.__name__ = f"conv{k}x{k}_{cin}_{cout}_{size}"
    return make


def test_double_buffered_models_compute_the_same():
    for make in (_conv(64, 64, 16), _conv(32, 64, 8, k=3)):
        module = _loop_level(make)
        inputs = random_inputs(import_onnx(make()))
        before = eval_loop(module, inputs)
        tiles = _tiles(module)
        LoopDoubleBufferPass(chip="small").apply(Context(), module)
        module.verify()
        assert _tiles(module) > tiles, f"{make.__name__}: no tile got a second buffer"
        after = eval_loop(module, inputs)
        ref = eval_graph(import_onnx(make()), inputs)
        for name, want in ref.items():
            np.testing.assert_array_equal(after[name], before[name])
            np.testing.assert_allclose(after[name], want, rtol=1e-4, atol=1e-5)


NEST = """
func.func @main(%x: memref<96xf32> {tidal.name = "input"}) -> (memref<96xf32> {tidal.name = "out"}) {
  %y = loop.alloc : memref<96xf32>
  loop.nest "sum" domain [3] order [0] {
    %t = loop.alloc_tile : !loop.tile<sbuf, 32, 1>
    %s = loop.alloc_tile : !loop.tile<sbuf, 32, 1>
    %p = loop.alloc_tile : !loop.tile<sbuf, 32, 2>
    loop.memset %s <sbuf 0, 0, [[1, 32], [1, 1]]> = 0.0 : f32 : !loop.tile<sbuf, 32, 1>
    loop.for d0 {
      loop.copy %x <dram 0 + 4 * i0, [[3, 32], [1, 1]]> -> %t <sbuf 0, 0, [[1, 32], [1, 1]]> : memref<96xf32> -> !loop.tile<sbuf, 32, 1>
      loop.copy %x <dram 0 + 4 * i0, [[3, 32], [1, 1]]> -> %p <sbuf 0, 0, [[1, 32], [1, 1]]> : memref<96xf32> -> !loop.tile<sbuf, 32, 2>
      loop.tensor_tensor "add" %s <sbuf 0, 0, [[1, 32], [1, 1]]>, %s <sbuf 0, 0, [[1, 32], [1, 1]]>, %t <sbuf 0, 0, [[1, 32], [1, 1]]> : !loop.tile<sbuf, 32, 1>, !loop.tile<sbuf, 32, 1>, !loop.tile<sbuf, 32, 1>
      loop.copy %p <sbuf 0, 0, [[1, 32], [1, 2]]> -> %y <dram 0 + 4 * i0, [[3, 32], [1, 2]]> : !loop.tile<sbuf, 32, 2> -> memref<96xf32>
    }
    loop.copy %s <sbuf 0, 0, [[1, 32], [1, 1]]> -> %y <dram 0, [[3, 32], [1, 1]]> : !loop.tile<sbuf, 32, 1> -> memref<96xf32>
  }
  func.return %y : memref<96xf32>
}
"""


def _parsed(text: str):
    """(module, its first nest) of loop IR `text`."""
    from xdsl.parser import Parser

    module = Parser(context(), text).parse_module()
    return module, next(op for op in module.walk() if isinstance(op, loop.NestOp))


def _names(plan) -> set[str]:
    """The names of the tiles a `_plan` doubles."""
    return {t.result.name_hint for loops in plan.values() for ts in loops.values() for t in ts}


def test_only_tiles_written_whole_before_any_read_are_private():
    """%t is loaded whole every iteration (private); %s carries a sum across the
    iterations and is used after the loop; %p is written only half before the
    copy reads all of it (the other half comes from the iteration before)."""
    _, nest = _parsed(NEST)
    assert _names(_plan(nest)) == {"t"}


ACT2 = """
func.func @main(%x: memref<4x32xf32> {tidal.name = "input"}) -> (memref<4x32xf32> {tidal.name = "out"}) {
  %y = loop.alloc : memref<4x32xf32>
  loop.nest "act2" domain [4] order [0] {
    %t = loop.alloc_tile : !loop.tile<sbuf, 32, 1>
    %u = loop.alloc_tile : !loop.tile<sbuf, 32, 1>
    %v = loop.alloc_tile : !loop.tile<sbuf, 32, 1>
    loop.for d0 {
      loop.copy %x <dram 0 + 128 * i0, [[1, 32], [1, 1]]> -> %t <sbuf 0, 0, [[1, 32], [1, 1]]> : memref<4x32xf32> -> !loop.tile<sbuf, 32, 1>
      loop.act "relu" %u <sbuf 0, 0, [[1, 32], [1, 1]]>, %t <sbuf 0, 0, [[1, 32], [1, 1]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 32, 1>, !loop.tile<sbuf, 32, 1>
      loop.act "exp" %v <sbuf 0, 0, [[1, 32], [1, 1]]>, %u <sbuf 0, 0, [[1, 32], [1, 1]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 32, 1>, !loop.tile<sbuf, 32, 1>
      loop.copy %v <sbuf 0, 0, [[1, 32], [1, 1]]> -> %y <dram 0 + 128 * i0, [[1, 32], [1, 1]]> : !loop.tile<sbuf, 32, 1> -> memref<4x32xf32>
    }
  }
  func.return %y : memref<4x32xf32>
}
"""


def test_with_crossing_a_tile_one_engine_touches_keeps_one_buffer():
    """%t (DMA then ACT) and %v (ACT then DMA) are private and cross engines; %u is
    private but only ACT touches it. With `crossing` it keeps one buffer, without
    it gets two; either way the nest computes exp(relu(x)) (NumPy)."""
    x = np.random.default_rng(1).standard_normal((4, 32)).astype(np.float32)
    for crossing, want in ((True, {"t", "v"}), (False, {"t", "u", "v"})):
        module, nest = _parsed(ACT2)
        names = _names(_plan(nest, crossing=crossing))
        assert names == want, (crossing, names)
        tiles = _tiles(module)
        LoopDoubleBufferPass(chip="small", crossing=crossing).apply(Context(), module)
        module.verify()
        assert _tiles(module) == tiles + len(want)
        out = eval_loop(module, {"input": x})["out"]
        np.testing.assert_allclose(out, np.exp(np.maximum(x, 0)), rtol=1e-6)


def test_second_buffers_only_where_the_chip_holds_them():
    """However tight SBUF is, the nests still allocate after the pass (a nest keeps
    its single buffers where the second ones do not fit), and more room never
    means fewer second buffers."""
    make = _conv(64, 64, 16)
    small = get_chip("small")

    def fits(chip) -> bool:
        return _fits(_fn(_loop_level(make)), chip, set())

    # the smallest SBUF (in 64-byte steps) that holds the tiles once
    lo, hi = 64, small.sbuf_partition_bytes
    while lo < hi:
        mid = (lo + hi) // 128 * 64
        if fits(dataclasses.replace(small, sbuf_partition_bytes=mid)):
            hi = mid
        else:
            lo = mid + 64
    added = []
    for size in (lo, lo + 1024, small.sbuf_partition_bytes):
        chip = dataclasses.replace(small, sbuf_partition_bytes=size)
        module = _loop_level(make)
        tiles = _tiles(module)
        LoopDoubleBufferPass().run(_fn(module), chip)
        _allocate_tiles(_fn(module), chip, overlap=False)  # raises if they do not fit
        added.append(_tiles(module) - tiles)
    assert added == sorted(added) and added[-1] > 0, added


def test_odd_trip_counts_holding_a_loop_are_unrolled_whole():
    """A conv of 3 output-channel tiles on the small chip (96 channels on 32
    partitions), each summing over 2 input-channel tiles: its co loop holds the ci
    loop, so the last of 3 iterations cannot run after it. With `odd` the loop is
    unrolled whole (domain 1 along co, its PSUM sum in two buffers), the results
    unchanged; without, co keeps 3 iterations and one PSUM buffer."""
    make = _conv(64, 96, 8)
    inputs = random_inputs(import_onnx(make()))
    ref = eval_graph(import_onnx(make()), inputs)

    def run(odd: bool):
        module = _loop_level(make)
        LoopDoubleBufferPass(chip="small", odd=odd).apply(Context(), module)
        module.verify()
        nest = next(
            op for op in module.walk()
            if isinstance(op, loop.NestOp) and any(isinstance(o, loop.MatmulOp) for o in op.walk())
        )
        psum = sum(
            isinstance(op, loop.AllocTileOp) and op.result.type.space.data == "psum" for op in nest.walk()
        )
        return nest, psum, eval_loop(module, inputs)

    whole, psum_whole, out = run(odd=True)
    kept, psum_kept, out_kept = run(odd=False)
    assert 3 not in whole.domain_val and 3 in kept.domain_val, (whole.domain_val, kept.domain_val)
    assert psum_whole == 2 * psum_kept, (psum_whole, psum_kept)
    for name, want in ref.items():
        np.testing.assert_array_equal(out[name], out_kept[name])
        np.testing.assert_allclose(out[name], want, rtol=1e-4, atol=1e-5)


BANDS = """
func.func @main(%x: memref<4x64x9xf32> {tidal.name = "input"}) -> (memref<4x64x8xf32> {tidal.name = "out"}) {
  %y = loop.alloc : memref<4x64x8xf32>
  loop.nest "bands" domain [4] order [0] {
    %b = loop.alloc_tile : !loop.tile<sbuf, 128, 9>
    %c = loop.alloc_tile : !loop.tile<sbuf, 128, 9>
    %o = loop.alloc_tile : !loop.tile<sbuf, 128, 8>
    loop.for d0 {
      loop.copy %x <dram 0 + 2304 * i0, [[9, 64], [1, 9]]> -> %b <sbuf 0, 0, [[1, 64], [1, 9]]> : memref<4x64x9xf32> -> !loop.tile<sbuf, 128, 9>
      loop.copy %x <dram 4 + 2304 * i0, [[9, 64], [1, 8]]> -> %b <sbuf 64, 0, [[1, 64], [1, 8]]> : memref<4x64x9xf32> -> !loop.tile<sbuf, 128, 9>
      loop.copy %x <dram 0 + 2304 * i0, [[9, 64], [1, 9]]> -> %c <sbuf 0, 0, [[1, 64], [1, 9]]> : memref<4x64x9xf32> -> !loop.tile<sbuf, 128, 9>
      loop.copy %x <dram 4 + 2304 * i0, [[9, 64], [1, 8]]> -> %c <sbuf 64, 0, [[1, 64], [1, 8]]> : memref<4x64x9xf32> -> !loop.tile<sbuf, 128, 9>
      loop.tensor_tensor "add" %o <sbuf 0, 0, [[1, 128], [1, 8]]>, %b <sbuf 0, 0, [[1, 128], [1, 8]]>, %c <sbuf 0, 4, [[1, 128], [1, 8]]> : !loop.tile<sbuf, 128, 8>, !loop.tile<sbuf, 128, 9>, !loop.tile<sbuf, 128, 9>
      loop.copy %o <sbuf 0, 0, [[1, 64], [1, 8]]> -> %y <dram 0 + 2048 * i0, [[8, 64], [1, 8]]> : !loop.tile<sbuf, 128, 8> -> memref<4x64x8xf32>
    }
  }
  func.return %y : memref<4x64x8xf32>
}
"""


def test_with_partial_a_tile_filled_by_several_loads_is_private():
    """As a row-taps band: each of %b and %c is loaded in two blocks, partitions
    0-63 and 64-127 (the second one element shorter), before anything reads it.
    The add reads %b's elements 0-7 on every partition, which the two loads fill,
    so with `partial` %b is private; it reads %c's elements 1-8, and element 8 of
    partitions 64-127 comes from no load (it would be the last iteration's), so %c
    stays single. Doubled, the nest computes what it did."""
    x = np.random.default_rng(2).standard_normal((4, 64, 9)).astype(np.float32)
    for partial, want in ((False, {"o"}), (True, {"b", "o"})):
        module, nest = _parsed(BANDS)
        before = eval_loop(module, {"input": x})["out"]
        assert _names(_plan(nest, partial=partial)) == want, partial
        LoopDoubleBufferPass(chip="default", partial=partial).apply(Context(), module)
        module.verify()
        np.testing.assert_array_equal(eval_loop(module, {"input": x})["out"], before)
    np.testing.assert_array_equal(before, x[:, :, :8] + x[:, :, 1:])

"""loop-const-layout: convs and gemms compute the same with their constants laid out
in reading order (the loop-level interpreter before and after, and against the
graph's NumPy semantics), each load then reads contiguous runs, and constants read
twice or by anything but a copy keep their layout."""

import numpy as np
import pytest
from harness import loop_level, onnx_model
from onnx import helper
from tidal.dialects import loop
from tidal.passes.interpreters.loop import eval_loop
from tidal.passes.interpreters.numerics import eval_graph, random_inputs
from tidal.passes.loop.const_layout import LoopConstLayoutPass, relayout
from tidal.targets.onnx_import import import_onnx
from tidal.tools.common import context
from xdsl.context import Context
from xdsl.dialects import func
from xdsl.parser import Parser


def _conv_gemm(cin: int, cout: int, size: int, k: int, classes: int):
    """Conv (k x k, cin -> cout, same padding) + bias + Relu, then a Gemm to
    `classes`: weights read transposed by both."""
    rng = np.random.default_rng(cin * 1000 + cout + k)
    w = rng.standard_normal((cout, cin, k, k)).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    fc = rng.standard_normal((classes, cout * size * size)).astype(np.float32)
    fcb = rng.standard_normal(classes).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[k // 2] * 4),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Flatten", ["r"], ["f"]),
        helper.make_node("Gemm", ["f", "fc", "fcb"], ["y"], transB=1),
    ]
    return onnx_model(
        nodes, {"x": [1, cin, size, size]}, {"y": [1, classes]}, {"w": w, "b": b, "fc": fc, "fcb": fcb}
    )


def _const_source(copy: loop.CopyOp) -> loop.ConstOp | None:
    """The constant a copy reads, through views, if it reads one."""
    owner = copy.src.owner
    while isinstance(owner, loop.ViewOp):
        owner = owner.source.owner
    return owner if isinstance(owner, loop.ConstOp) else None


def _run_lengths(copy: loop.CopyOp) -> int:
    """Elements per contiguous run of the copy's DRAM source (its innermost dim)."""
    stride, count = copy.src_ap.dims[-1]
    return count if stride == 1 else 1


@pytest.mark.parametrize(
    ("cin", "cout", "size", "k", "classes", "chip"),
    [(3, 16, 8, 3, 10, "small"), (64, 96, 6, 3, 20, "small"), (130, 200, 4, 1, 300, "default")],
)
def test_laid_out_constants_compute_the_same(cin, cout, size, k, classes, chip):
    model = _conv_gemm(cin, cout, size, k, classes)
    module = loop_level(model, chip)
    inputs = random_inputs(import_onnx(model))
    before = eval_loop(module, inputs)
    const_reads = [
        op for op in module.walk() if isinstance(op, loop.CopyOp) and _const_source(op)
    ]
    runs_before = sum(_run_lengths(c) for c in const_reads)
    LoopConstLayoutPass().apply(Context(), module)
    module.verify()
    after = eval_loop(module, inputs)
    ref = eval_graph(import_onnx(model), inputs)
    for name, want in ref.items():
        np.testing.assert_array_equal(after[name], before[name])
        np.testing.assert_allclose(after[name], want, rtol=1e-4, atol=1e-4)
    reads = [
        op for op in module.walk()
        if isinstance(op, loop.CopyOp) and isinstance(op.src.owner, loop.ConstOp)
    ]
    # Every constant is now read directly (no view of one is left), in longer runs.
    assert len(reads) == len(const_reads)
    assert sum(_run_lengths(c) for c in reads) > runs_before


TWICE = """
func.func @main(%x: memref<4xf32> {tidal.name = "input"}) -> (memref<4xf32> {tidal.name = "out"}) {
  %w = loop.const dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32> : memref<2x2xf32>
  %y = loop.alloc : memref<4xf32>
  loop.nest "twice" domain [2] order [0] {
    %t = loop.alloc_tile : !loop.tile<sbuf, 2, 2>
    loop.for d0 {
      loop.copy %w <dram 0, [[1, 2], [2, 2]]> -> %t <sbuf 0, 0, [[1, 2], [1, 2]]> : memref<2x2xf32> -> !loop.tile<sbuf, 2, 2>
    }
    loop.copy %t <sbuf 0, 0, [[1, 2], [1, 2]]> -> %y <dram 0, [[2, 2], [1, 2]]> : !loop.tile<sbuf, 2, 2> -> memref<4xf32>
  }
  func.return %y : memref<4xf32>
}
"""


def test_a_constant_read_again_in_every_iteration_keeps_its_layout():
    """The copy reads all of %w in both iterations of d0 (its offset does not step
    along d0): laying it out per read would store it twice."""
    module = Parser(context(), TWICE).parse_module()
    fn = next(op for op in module.body.block.ops if isinstance(op, func.FuncOp))
    const = next(op for op in fn.body.block.ops if isinstance(op, loop.ConstOp))
    order = {o: i for i, o in enumerate(fn.walk())}
    assert not relayout(const, order)
    assert const.parent is not None


def test_a_constant_above_max_bytes_keeps_its_layout():
    model = _conv_gemm(8, 8, 4, 3, 10)
    module = loop_level(model, "small")
    text = str(module)
    LoopConstLayoutPass(max_bytes=4).apply(Context(), module)
    assert str(module) == text

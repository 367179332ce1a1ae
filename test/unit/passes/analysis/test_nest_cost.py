"""nest_work (from NestOp.model()) against the accel program the nests lower to: per
nest and engine class, the instructions issued and the elements written agree."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from tidal.dialects.accel import ProgramOp
from tidal.dialects.loop import NestOp
from tidal.passes.accel.insert_sync import AccelInsertSyncPass
from tidal.passes.analysis.nest_cost import Work, accel_work, engine_class, nest_work
from tidal.passes.conversion.loop_to_accel import LoopToAccelPass
from tidal.passes.pipeline import lowering_passes
from tidal.targets.onnx_import import import_onnx
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp


def _model() -> ModuleOp:
    """x -> Conv 3x3 (pad 1) -> Relu -> MaxPool 2x2 -> Flatten -> Gemm -> y."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((16, 3, 3, 3)).astype(np.float32)
    fc = rng.standard_normal((10, 16 * 8 * 8)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["c"], ["r"], name="relu"),
            helper.make_node(
                "MaxPool",
                ["r"],
                ["p"],
                name="pool",
                kernel_shape=[2, 2],
                strides=[2, 2],
            ),
            helper.make_node("Flatten", ["p"], ["f"], name="flat"),
            helper.make_node("Gemm", ["f", "fc"], ["y"], name="fc", transB=1),
        ],
        "m",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(fc, "fc")],
    )
    return import_onnx(helper.make_model(graph))


@pytest.fixture(scope="module")
def lowered() -> tuple[dict[str, dict[str, Work]], dict[str, dict[str, Work]]]:
    """(nest_work per nest origin at the last loop-level step, accel_work per origin
    of the program loop-to-accel makes from it)."""
    module, ctx = _model(), Context()
    predicted: dict[str, dict[str, Work]] = {}
    for p in lowering_passes("small"):
        if isinstance(p, AccelInsertSyncPass):
            break
        if isinstance(p, LoopToAccelPass):
            for nest in (op for op in module.walk() if isinstance(op, NestOp)):
                predicted[nest.origin.data] = nest_work(nest)
        p.apply(ctx, module)
    program = next(op for op in module.walk() if isinstance(op, ProgramOp))
    return predicted, accel_work(program.body.block)


def test_every_nest_predicts_its_instructions_and_elements(lowered):
    predicted, actual = lowered
    assert predicted and set(predicted) == set(actual)
    for origin, work in predicted.items():
        assert work == actual[origin], origin


def test_the_model_sees_repeats(lowered):
    """Some nest issues more instructions than it has tile ops (its loops repeat),
    and the matmuls land on the PE only."""
    predicted, _ = lowered
    assert any(w.instructions > 6 for per in predicted.values() for w in per.values())
    assert any("pe" in per for per in predicted.values())
    assert {e for per in predicted.values() for e in per} <= {
        "dma",
        "pe",
        "act",
        "pool",
    }


def test_engine_class():
    assert [engine_class(e) for e in ("dma0", "dma12", "pe", "pool")] == [
        "dma",
        "dma",
        "pe",
        "pool",
    ]
    assert Work(2, 10) + Work(1, 5) == Work(3, 15)


def test_nest_cycles_charges_the_datasheet_and_hides_loads_behind_streaming():
    """A 1x1 conv of 256 channels into 64 on the small chip (32x32 array): 2 x 8
    matmuls of 16 pixels in a loop, one evacuation per output tile. Each matmul
    streams max(16, pe_min_cycles) cycles; the first pays the whole stationary load
    (the array is empty), each later one the load its predecessor's 16 cycles of
    streaming do not hide (two weight buffers). Copies are not counted."""
    from tidal.passes.analysis.nest_cost import nest_cycles
    from tidal.passes.conversion.graph_to_loop import GraphToLoopPass
    from tidal.sim.config import get_chip
    from xdsl.parser import Parser

    from tidal.tools.common import context  # every Tidal dialect loaded

    text = """
    func.func @pw(%x: tensor<1x256x4x4xf32>) -> tensor<1x64x4x4xf32> {
      %w = graph.constant dense<0.25> : tensor<64x256x1x1xf32>
      %y = graph.conv2d %x, %w {tidal.origin = "pw"} : (tensor<1x256x4x4xf32>, tensor<64x256x1x1xf32>) -> tensor<1x64x4x4xf32>
      func.return %y : tensor<1x64x4x4xf32>
    }
    """
    ctx = context()
    module = Parser(ctx, text).parse_module()
    GraphToLoopPass(chip="small").apply(ctx, module)
    nest = next(op for op in module.walk() if isinstance(op, NestOp))
    chip = get_chip("small")
    stream = max(16, chip.pe_min_cycles)
    load = chip.pe_weight_load_cycles
    first = load + chip.pe_fill_drain_cycles
    cycles = nest_cycles(nest, chip)
    assert set(cycles) == {"pe", "act"}
    assert cycles["pe"] == 16 * stream + first + 15 * max(0, load - stream)
    assert cycles["act"] == 2 * (chip.act_fixed_cycles + 16)

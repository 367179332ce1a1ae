"""model_work against hand-computed figures: MACs of convolutions (groups, strides,
pads), gemm and matmul; weight bytes of the constants ops use; input and output bytes
from the signature; the ideal roofline and its bound; the attribute round trip; the
on-chip capacity bound."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from tidal.passes.analysis.model_work import ModelWork, capacity_bound_cycles, model_work
from tidal.sim.config import get_chip
from tidal.targets.onnx_import import import_onnx
from xdsl.dialects.builtin import DictionaryAttr, IntegerAttr, StringAttr, i64


def _graph(
    nodes: list[onnx.NodeProto],
    inputs: dict[str, list[int]],
    outputs: dict[str, list[int]],
    weights: dict[str, tuple[int, ...]],
) -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.standard_normal(s).astype(np.float32), n)
        for n, s in weights.items()
    ]
    vi = helper.make_tensor_value_info
    graph = helper.make_graph(
        nodes,
        "g",
        [vi(n, TensorProto.FLOAT, s) for n, s in inputs.items()],
        [vi(n, TensorProto.FLOAT, s) for n, s in outputs.items()],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def test_grouped_strided_padded_conv():
    # x [2, 8, 15, 15], w [12, 4, 3, 3], group 2, stride 2, pads 1:
    # OH = OW = (15 + 2 - 3) // 2 + 1 = 8; MACs = 2 * 12 * 8 * 8 * 4 * 3 * 3.
    conv = helper.make_node(
        "Conv", ["x", "w", "b"], ["y"], group=2, strides=[2, 2], pads=[1, 1, 1, 1]
    )
    work = model_work(
        import_onnx(
            _graph(
                [conv],
                {"x": [2, 8, 15, 15]},
                {"y": [2, 12, 8, 8]},
                {"w": (12, 4, 3, 3), "b": (12,)},
            )
        )
    )
    assert work == ModelWork(
        macs=2 * 12 * 8 * 8 * 4 * 9,
        weight_bytes=4 * (12 * 4 * 9 + 12),
        input_bytes=4 * 2 * 8 * 15 * 15,
        output_bytes=4 * 2 * 12 * 8 * 8,
    )


def test_asymmetric_pads_and_depthwise():
    # Depthwise: group = Cin = Cout = 6, one input channel per filter; pads
    # (top 0, left 1, bottom 2, right 0) on a 10x9 input with a 3x2 kernel, stride 1:
    # OH = 10 + 0 + 2 - 3 + 1 = 10, OW = 9 + 1 + 0 - 2 + 1 = 9.
    conv = helper.make_node("Conv", ["x", "w"], ["y"], group=6, pads=[0, 1, 2, 0])
    work = model_work(
        import_onnx(
            _graph([conv], {"x": [1, 6, 10, 9]}, {"y": [1, 6, 10, 9]}, {"w": (6, 1, 3, 2)})
        )
    )
    assert work.macs == 6 * 10 * 9 * 1 * 3 * 2
    assert work.weight_bytes == 4 * 6 * 6


def test_gemm_transposed_and_matmul():
    # Gemm: A^T with A [32, 4] (K 32, M 4), B^T with B [16, 32] (N 16), bias [16];
    # then MatMul [4, 16] x [16, 5]. An initializer nothing uses is not loaded.
    nodes = [
        helper.make_node("Gemm", ["a", "b", "c"], ["g"], transA=1, transB=1),
        helper.make_node("MatMul", ["g", "m"], ["y"]),
    ]
    work = model_work(
        import_onnx(
            _graph(
                nodes,
                {"a": [32, 4]},
                {"y": [4, 5]},
                {"b": (16, 32), "c": (16,), "m": (16, 5), "unused": (100,)},
            )
        )
    )
    assert work.macs == 4 * 16 * 32 + 4 * 5 * 16
    assert work.weight_bytes == 4 * (16 * 32 + 16 + 16 * 5)
    assert (work.input_bytes, work.output_bytes) == (4 * 32 * 4, 4 * 4 * 5)


def _examples():
    path = Path(__file__).resolve().parents[4] / "examples" / "models.py"
    spec = importlib.util.spec_from_file_location("tidal_examples_models", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cnn_of_the_examples():
    # input [1,3,32,32] -> conv 8x3x3x3 pad 1 -> relu -> maxpool 2 -> conv 16x8x3x3
    # pad 1 -> relu -> flatten (4096) -> gemm 10x4096 -> logits [1, 10].
    work = model_work(import_onnx(_examples().make_cnn()))
    conv1 = 8 * 32 * 32 * 3 * 9
    conv2 = 16 * 16 * 16 * 8 * 9
    fc = 10 * 4096
    assert work.macs == conv1 + conv2 + fc == 557056
    assert work.weight_bytes == 4 * (8 * 27 + 8 + 16 * 72 + 16 + 10 * 4096 + 10)
    assert work.input_bytes == 4 * 3 * 32 * 32
    assert work.output_bytes == 4 * 10
    chip = get_chip("default")  # 128 x 128 PEs, 290 DRAM bytes a cycle
    assert work.min_dram_bytes == 181776
    assert work.ideal_cycles(chip) == 627  # ceil(181776 / 290) > 557056 / 16384 = 34
    assert work.bound(chip) == "memory"


def test_bound_and_rounding():
    chip = get_chip("default")
    pe = chip.pe_rows * chip.pe_cols
    compute = ModelWork(macs=10 * pe + 1, weight_bytes=0, input_bytes=0, output_bytes=4)
    assert compute.ideal_cycles(chip) == 11
    assert compute.bound(chip) == "compute"
    memory = ModelWork(macs=pe, weight_bytes=int(5 * chip.dram_bytes_per_cycle), input_bytes=0,
                       output_bytes=0)
    assert memory.ideal_cycles(chip) == 5
    assert memory.bound(chip) == "memory"


def test_attribute_round_trip():
    work = ModelWork(macs=3, weight_bytes=5, input_bytes=7, output_bytes=11)
    assert ModelWork.from_attr(work.to_attr()) == work
    assert work.as_dict() == {"macs": 3, "weight_bytes": 5, "input_bytes": 7, "output_bytes": 11}


@pytest.mark.parametrize(
    "attr",
    [
        StringAttr("x"),
        DictionaryAttr({"macs": IntegerAttr(1, i64)}),
        DictionaryAttr(
            {
                "macs": IntegerAttr(1, i64),
                "weight_bytes": StringAttr("2"),
                "input_bytes": IntegerAttr(3, i64),
                "output_bytes": IntegerAttr(4, i64),
            }
        ),
    ],
)
def test_from_attr_refuses_other_attributes(attr):
    assert ModelWork.from_attr(attr) is None


def _chain() -> onnx.ModelProto:
    """As VGG in small: x [1, 8, 16, 16] -> two Convs of [8, 8, 3, 3] (pads 1;
    147,456 MACs and 2,304 bytes each) -> Flatten [1, 2048] -> MatMul w [2048, 64]
    (131,072 MACs, 524,288 bytes: each weight used once)."""
    return _graph(
        [
            helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1]),
            helper.make_node("Conv", ["c1", "w2"], ["c2"], pads=[1, 1, 1, 1]),
            helper.make_node("Flatten", ["c2"], ["f"]),
            helper.make_node("MatMul", ["f", "w3"], ["y"]),
        ],
        {"x": [1, 8, 16, 16]},
        {"y": [1, 64]},
        {"w1": (8, 8, 3, 3), "w2": (8, 8, 3, 3), "w3": (2048, 64)},
    )


def test_capacity_bound_is_the_ideal_when_the_weights_fit():
    module = import_onnx(_chain())
    chip = get_chip("default")  # 26 MiB on chip
    assert capacity_bound_cycles(module, chip) == model_work(module).ideal_cycles(chip)


def test_capacity_bound_streams_what_does_not_fit_after_the_compute_before_it():
    from dataclasses import replace

    # 128 partitions x (64 + 64) bytes = 16 KiB on chip, a 2x2 PE array (4 MACs a
    # cycle), 4 bytes a cycle.
    chip = replace(
        get_chip("default"), name="tiny", pe_rows=2, pe_cols=2, sbuf_partition_bytes=64,
        psum_partition_bytes=64, psum_banks=2, dram_bytes_per_cycle=4.0,
    )
    module = import_onnx(_chain())
    ideal = model_work(module).ideal_cycles(chip)
    # memory: (2 x 2,304 + 524,288 weights + 8,192 in + 256 out) / 4 = 134,336
    # cycles; compute: (2 x 147,456 + 131,072) / 4 = 106,496.
    assert ideal == 134_336
    # k = 2: the first conv finishes before the matmul (layer 2) may start, and
    # only 16 KiB of its weights can wait on chip meanwhile:
    # 147,456 / 4 + (524,288 - 16,384) / 4 = 36,864 + 126,976.
    assert capacity_bound_cycles(module, chip) == 163_840

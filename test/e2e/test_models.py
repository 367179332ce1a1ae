"""Acceptance: the example MLP and CNN, compiled and simulated by the `tidal-run`
console script on both chip presets, agree with onnxruntime, and the stats JSON
reports the model's true MAC count and sane engine figures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from harness import assert_close, example, tool
from onnx import helper
from tidal.sim.config import get_chip

CHIPS = ["small", "default"]
models = example("models")
zoo = example("zoo")


# ------------------------------------------------------------------------- helpers


def true_macs(model: onnx.ModelProto) -> int:
    """Multiply-accumulates of every Conv, Gemm and MatMul, from the ONNX shapes
    alone (padded positions count, as the PE array computes them)."""
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    shapes: dict[str, tuple[int, ...]] = {}
    for value in [
        *inferred.graph.input,
        *inferred.graph.value_info,
        *inferred.graph.output,
    ]:
        shapes[value.name] = tuple(
            d.dim_value for d in value.type.tensor_type.shape.dim
        )
    for tensor in inferred.graph.initializer:
        shapes[tensor.name] = tuple(tensor.dims)
    total = 0
    for node in inferred.graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "Conv":
            _, c_in_per_group, kh, kw = shapes[node.input[1]]
            n, c_out, oh, ow = shapes[node.output[0]]
            total += n * c_out * oh * ow * c_in_per_group * kh * kw
        elif node.op_type == "Gemm":
            a = shapes[node.input[0]]
            k = a[0] if attrs.get("transA", 0) else a[1]
            m, n = shapes[node.output[0]]
            total += m * k * n
        elif node.op_type == "MatMul":
            m, k = shapes[node.input[0]]
            total += m * k * shapes[node.input[1]][1]
    return total


def mlp_logits_model() -> onnx.ModelProto:
    """make_mlp() with its final Softmax removed: the output is fc2's logits."""
    model = models.make_mlp()
    softmax = model.graph.node[-1]
    assert softmax.op_type == "Softmax"
    logits = softmax.input[0]
    model.graph.node.remove(softmax)
    del model.graph.output[:]
    model.graph.output.append(
        helper.make_tensor_value_info(logits, onnx.TensorProto.FLOAT, [8, 10])
    )
    onnx.checker.check_model(model)
    return model


def run_cli(
    model: onnx.ModelProto, tmp_path: Path, chip: str
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict]:
    """Save the model and inputs, run `tidal-run`; (outputs, references, stats)."""
    model_path = tmp_path / "model.onnx"
    onnx.save(model, model_path)
    inputs = models.make_inputs(model)
    np.savez(tmp_path / "in.npz", **inputs)
    result = tool(
        "tidal-run",
        model_path,
        "--inputs",
        tmp_path / "in.npz",
        "--outputs",
        tmp_path / "out.npz",
        "--stats",
        tmp_path / "stats.json",
        "--chip",
        chip,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    with np.load(tmp_path / "out.npz", allow_pickle=False) as f:
        outputs = {k: f[k] for k in f.files}
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert str(stats["cycles"]) in result.stdout
    return outputs, zoo.reference(model_path, inputs), stats


def check_stats(stats: dict, model: onnx.ModelProto, chip: str) -> None:
    config = get_chip(chip)
    cycles = stats["cycles"]
    assert isinstance(cycles, int) and cycles > 0
    # Every model MAC is performed; row-pack's zero kernel rows (k packed rows of a
    # KH-row kernel take KH + k - 1 input rows each) add MACs of zeros: at most
    # (KH + k - 1) / KH times a conv's (2x for 3x3 kernels in 4 rows).
    macs = true_macs(model)
    assert macs <= stats["macs"] <= 2 * macs
    assert stats["chip"] == chip

    instructions = stats["instructions"]
    assert isinstance(instructions, dict) and instructions
    engine_names = {"pe", "act", "pool"} | {f"dma{q}" for q in range(config.dma_queues)}
    assert "pe" in instructions and set(instructions) <= engine_names
    assert all(isinstance(v, int) and v >= 0 for v in instructions.values())
    assert instructions["pe"] > 0
    assert any(name.startswith("dma") and n > 0 for name, n in instructions.items())

    engines = stats["engines"]
    assert set(engines) == set(instructions)
    for name, engine in engines.items():
        busy = engine["busy_cycles"]
        assert isinstance(busy, int) and 0 <= busy <= cycles, (name, busy, cycles)
        assert engine["instructions"] == instructions[name]
    assert engines["pe"]["busy_cycles"] > 0

    utilization = stats["pe_mac_utilization"]
    assert 0 < utilization <= 1
    expected = stats["macs"] / (cycles * config.pe_rows * config.pe_cols)
    assert utilization == pytest.approx(expected, rel=1e-9)


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("chip", CHIPS)
def test_mlp(chip, tmp_path):
    model = models.make_mlp()
    outputs, refs, stats = run_cli(model, tmp_path, chip)
    assert sorted(outputs) == ["probs"]
    assert outputs["probs"].shape == (8, 10)
    assert_close(outputs["probs"], refs["probs"])
    np.testing.assert_allclose(outputs["probs"].sum(axis=1), 1.0, rtol=1e-4)
    check_stats(stats, model, chip)
    assert stats["macs"] == 8 * 784 * 512 + 8 * 512 * 10


# The MLP's pre-softmax logits (fc2) agree too: a near-uniform softmax can hide
# errors in its input. The CNN's MACs: conv1, conv2 and the fully connected layer.
CNN_MACS = 8 * 32 * 32 * 3 * 9 + 16 * 16 * 16 * 8 * 9 + 16 * 16 * 16 * 10


@pytest.mark.parametrize("chip", CHIPS)
@pytest.mark.parametrize(
    ("make", "output", "shape", "macs"),
    [
        (mlp_logits_model, "fc2", (8, 10), 8 * 784 * 512 + 8 * 512 * 10),
        (models.make_cnn, "logits", (1, 10), CNN_MACS),
    ],
    ids=["mlp_logits", "cnn"],
)
def test_model_output(make, output, shape, macs, chip, tmp_path):
    model = make()
    outputs, refs, stats = run_cli(model, tmp_path, chip)
    assert sorted(outputs) == [output]
    assert outputs[output].shape == shape
    assert_close(outputs[output], refs[output])
    check_stats(stats, model, chip)
    assert macs <= stats["macs"] <= 2 * macs  # (row-pack: see check_stats)


@pytest.mark.parametrize("make", [models.make_mlp, models.make_cnn], ids=["mlp", "cnn"])
def test_compile_then_sim_matches_run(make, tmp_path):
    """tidal-compile + tidal-sim give what tidal-run gives, bit for bit."""
    model = make()
    outputs, _, stats = run_cli(model, tmp_path, "small")
    binary = tmp_path / "model.tbin"
    compiled = tool(
        "tidal-compile", tmp_path / "model.onnx", "-o", binary, "--chip", "small"
    )
    assert compiled.returncode == 0, compiled.stderr
    assert binary.stat().st_size > 0
    simulated = tool(
        "tidal-sim",
        binary,
        "--inputs",
        tmp_path / "in.npz",
        "--outputs",
        tmp_path / "sim.npz",
        "--stats",
        tmp_path / "sim.json",
    )
    assert simulated.returncode == 0, simulated.stderr
    with np.load(tmp_path / "sim.npz", allow_pickle=False) as f:
        assert sorted(f.files) == sorted(outputs)
        for name in f.files:
            np.testing.assert_array_equal(f[name], outputs[name])
    sim_stats = json.loads((tmp_path / "sim.json").read_text())
    for key in ("cycles", "macs", "instructions", "engines", "pe_mac_utilization"):
        assert sim_stats[key] == stats[key], key


@pytest.mark.parametrize("chip", ["small", "default"])
def test_critical_path_of_a_compiled_model_covers_its_run(chip, tmp_path):
    """tidal-sim --critical-path on the CNN demo: the chain it reports accounts for
    every cycle of the run once (instructions, fetch stalls, sync gaps), runs
    through engines the run used, and is printed as one summary line and the top
    source ops; the outputs are those of a run without it."""
    model = models.make_cnn()
    outputs, _, _ = run_cli(model, tmp_path, chip)
    binary = tmp_path / "model.tbin"
    compiled = tool("tidal-compile", tmp_path / "model.onnx", "-o", binary, "--chip", chip)
    assert compiled.returncode == 0, compiled.stderr
    simulated = tool(
        "tidal-sim", binary, "--inputs", tmp_path / "in.npz", "--outputs", tmp_path / "sim.npz",
        "--stats", tmp_path / "sim.json", "--critical-path",
    )
    assert simulated.returncode == 0, simulated.stderr
    with np.load(tmp_path / "sim.npz", allow_pickle=False) as f:
        for name in f.files:
            np.testing.assert_array_equal(f[name], outputs[name])
    stats = json.loads((tmp_path / "sim.json").read_text())
    path = stats["critical_path"]
    covered = sum(path["engines"].values()) + sum(path["fetch"].values()) + path["gaps"]
    assert abs(covered - path["cycles"]) <= len(path["engines"]) + len(path["fetch"]) + 1
    assert stats["cycles"] - 1 < path["cycles"] <= stats["cycles"]  # (stats: whole cycles)
    assert 0 < path["instructions"] <= sum(stats["instructions"].values())
    assert set(path["engines"]) <= set(stats["engines"])
    assert path["sources"] and all(s["cycles"] > 0 for s in path["sources"])
    lines = simulated.stdout.splitlines()
    assert lines[1].startswith("tidal-sim: critical path: ")
    assert len(lines) == 2 + len(path["sources"])


def test_true_macs_counts_grouped_and_transposed():
    """The independent MAC counter itself, on shapes worked out by hand."""
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], group=2, strides=[2, 2]),
        helper.make_node("Flatten", ["c"], ["f"]),
        helper.make_node("Gemm", ["f", "g"], ["y"], transA=1),
    ]
    graph = helper.make_graph(
        nodes,
        "m",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4, 6, 6])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [24, 5])],
        [
            onnx.numpy_helper.from_array(np.zeros((6, 2, 3, 3), np.float32), "w"),
            onnx.numpy_helper.from_array(np.zeros((1, 5), np.float32), "g"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    # conv: c [1, 6, 2, 2], each output 2 (channels per group) * 3 * 3 MACs;
    # gemm: f [1, 24] transposed is A' [24, 1], times [1, 5]
    assert true_macs(model) == 6 * 2 * 2 * (2 * 3 * 3) + 24 * 1 * 5

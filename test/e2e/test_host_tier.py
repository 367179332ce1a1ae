"""Hierarchical partitioning's host tier: an op the chip cannot hold runs with NumPy
inside tidal-run, between accelerator segments; tidal-compile refuses it clearly."""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from tidal.sim.config import get_chip

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """MatMul -> Softmax over 20000 classes -> Relu: on the small chip a 20000-long
    softmax row (80 KB) does not fit a 64 KiB SBUF partition, so it goes to the host."""
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((64, 20000)) * 0.1).astype(np.float32)
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"),
        helper.make_node("Softmax", ["h"], ["p"], name="sm", axis=-1),
        helper.make_node("Relu", ["p"], ["y"], name="relu"),
    ]
    graph = helper.make_graph(
        nodes, "host_tier",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 20000])],
        [numpy_helper.from_array(w, "w")],
    )
    path = tmp_path_factory.mktemp("host") / "host.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    x = rng.standard_normal((4, 64)).astype(np.float32)
    np.savez(path.with_suffix(".npz"), x=x)
    ref = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    return path, ref


def test_host_op_runs_between_accelerator_segments(model, tmp_path):
    path, ref = model
    out, stats = tmp_path / "out.npz", tmp_path / "stats.json"
    r = subprocess.run(
        [BIN / "tidal-run", path, "--inputs", path.with_suffix(".npz"), "--outputs", out,
         "--stats", stats, "--chip", "small"],
        check=True, capture_output=True, text=True,
    )
    got = np.load(out)["y"]
    assert np.abs(got - ref).max() <= 1e-3 * np.abs(ref).max()
    s = json.loads(stats.read_text())
    assert s["placement"]["host_ops"] == ["sm"]
    assert (s["placement"]["accel"], s["placement"]["host"]) == (2, 1)
    assert s["segments"] == ["accel", "host", "accel"]
    assert s["cycles"] > 0 and s["macs"] == 4 * 64 * 20000
    for name, e in s["engines"].items():  # of the whole run, not summed per segment
        assert e["busy_fraction"] == e["busy_cycles"] / s["cycles"], name
    # The whole model's ideal, counted once on the whole graph (not per segment).
    chip = get_chip("small")
    min_bytes = 4 * (64 * 20000 + 4 * 64 + 4 * 20000)  # weight, input, output
    ideal = math.ceil(max(4 * 64 * 20000 / (chip.pe_rows * chip.pe_cols),
                          min_bytes / chip.dram_bytes_per_cycle))
    assert (s["model_macs"], s["model_min_dram_bytes"]) == (4 * 64 * 20000, min_bytes)
    assert s["ideal_roofline_cycles"] == ideal
    assert s["ideal_ratio"] == s["cycles"] / ideal
    assert s["dram_over_min"] == s["dma_dram_bytes"] / min_bytes
    assert f"({s['cycles'] / ideal:.1f}× the ideal roofline)" in r.stdout


def test_same_model_fits_the_default_chip_entirely(model, tmp_path):
    path, ref = model
    stats = tmp_path / "stats.json"
    subprocess.run(
        [BIN / "tidal-run", path, "--inputs", path.with_suffix(".npz"), "--outputs",
         tmp_path / "o.npz", "--stats", stats],
        check=True, capture_output=True,
    )
    assert json.loads(stats.read_text())["placement"]["host"] == 0


def test_compile_refuses_host_ops_and_reports_them(model, tmp_path):
    path, _ = model
    out = tmp_path / "m.tbin"
    r = subprocess.run(
        [BIN / "tidal-compile", path, "-o", out, "--chip", "small", "--report"],
        capture_output=True, text=True,
    )
    assert r.returncode == 1 and not out.exists()
    assert "sm      graph.softmax  host" in r.stdout
    assert "2 ops on the accelerator, 1 on the host, 0 on the framework tier (onnxruntime), 0 rejected" in r.stdout
    (line,) = r.stderr.strip().splitlines()
    assert "'sm' (graph.softmax) is placed on the host" in line and "tidal-run" in line


def test_model_entirely_on_the_host_is_a_run_of_zero_cycles(tmp_path):
    """Zero accelerator segments is a valid run (was `KeyError: 'cycles'` after the
    outputs were written): the outputs agree with onnxruntime and --stats says no
    cycle ran on the chip and which ops ran where."""
    graph = helper.make_graph(
        [helper.make_node("Softmax", ["x"], ["y"], name="sm", axis=-1)],
        "all_host",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 20000])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 20000])],
    )
    path = tmp_path / "all_host.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    x = np.random.default_rng(1).standard_normal((4, 20000)).astype(np.float32)
    np.savez(tmp_path / "in.npz", x=x)
    out, stats = tmp_path / "out.npz", tmp_path / "stats.json"
    r = subprocess.run(
        [BIN / "tidal-run", path, "--inputs", tmp_path / "in.npz", "--outputs", out,
         "--stats", stats, "--chip", "small"],
        capture_output=True, text=True,
    )
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    # no accelerator work: no cycles or roofline ratio on the summary line
    assert "no op on the accelerator: 1 on the host" in r.stdout and "cycles" not in r.stdout
    ref = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    assert np.abs(np.load(out)["y"] - ref).max() <= 1e-5
    s = json.loads(stats.read_text())
    assert s["cycles"] == 0 and s["macs"] == 0 and s["segments"] == ["host"]
    assert s["model_macs"] == 0 and s["ideal_bound"] == "memory"
    assert s["ideal_ratio"] == 0.0 and s["model_mac_utilization"] == 0.0
    assert s["placement"]["host_ops"] == ["sm"] and s["placement"]["accel"] == 0

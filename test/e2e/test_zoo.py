"""Acceptance: the nine onnx "light" models (AlexNet, DenseNet-121, Inception v1/v2,
ResNet-50, ShuffleNet, SqueezeNet, VGG-19, ZFNet-512) compile for the default chip,
run on the hardware model through `run_model` (what tidal-run does), and agree with
onnxruntime on the same randomly weighted model: every output, including the
pre-softmax logits, within max|err| <= 1e-3 * max|ref|; no compute op is left
to the host; and accel-verify-sync's checker proves the program synchronised (no
wait nothing satisfies, no deadlock, no race) before it runs.

Weights and inputs are seeded random (examples/zoo.py). Marked `slow`; select with
`pytest -m slow test/e2e/test_zoo.py`.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from harness import example
from tidal.passes.accel.verify_sync import checked
from tidal.passes.graph.canonicalize import GraphCanonicalizePass
from tidal.passes.graph.partition import placement_counts, placement_report
from tidal.targets.onnx_import import import_onnx
from tidal.tools import tidal_run
from tidal.tools.tidal_run import run_model
from xdsl.context import Context

zoo = example("zoo")


def assert_close(name: str, got: np.ndarray, ref: np.ndarray, rel: float = 1e-3) -> None:
    assert got.shape == ref.shape, f"{name}: shape {got.shape} != reference {ref.shape}"
    assert got.dtype == np.float32, f"{name}: dtype {got.dtype}"
    assert np.all(np.isfinite(got)), f"{name}: non-finite values"
    err = float(np.max(np.abs(got.astype(np.float64) - ref.astype(np.float64))))
    scale = float(np.max(np.abs(ref)))
    assert err <= rel * scale, f"{name}: max|err| {err:.3g} > {rel} * max|ref| {scale:.3g}"


@pytest.mark.slow
@pytest.mark.parametrize("name", zoo.MODELS)
def test_light_model_on_the_accelerator(name, tmp_path, monkeypatch):
    model, inputs = zoo.load_zoo_model(name)
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, path)
    del model
    refs = zoo.reference(path, inputs)
    assert len(refs) == (1 if name == "densenet121" else 2)  # + logits, but DenseNet has no softmax

    # The program is proved synchronised before it runs (SyncError otherwise).
    monkeypatch.setattr(tidal_run, "run_program", checked(tidal_run.run_program))
    outputs, stats = run_model(str(path), inputs, "default")

    assert sorted(outputs) == sorted(refs)
    for out, ref in refs.items():
        assert_close(out, outputs[out], ref)
    assert stats["cycles"] > 0
    assert stats["macs"] > 0

    placement = stats.get("placement")
    if placement is None:  # the placement of the graph ops, as tidal-run reports it
        module = import_onnx(path)
        GraphCanonicalizePass().apply(Context(), module)
        placement = placement_counts(placement_report(module, "default"))
    assert placement["host"] == 0, f"host ops: {placement.get('host_ops')}"
    assert placement["reject"] == 0


@pytest.mark.parametrize("name", ["squeezenet", "resnet50", "densenet121"])
def test_zoo_weights_are_random_and_the_logits_exposed(name):
    """No weight fill is left, BatchNorm variances are positive, initializers stay
    graph inputs (IR version 3, old style), the same seed gives the same model."""
    model, inputs = zoo.load_zoo_model(name, seed=3)
    graph = model.graph
    assert not [n for n in graph.node if n.op_type == "ConstantOfShape"]
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in graph.initializer}
    assert {t for t in inits} <= {i.name for i in graph.input}
    for node in graph.node:
        if node.op_type == "BatchNormalization":
            assert inits[node.input[4]].min() >= 0.5
    assert all(np.unique(a).size > 1 for a in inits.values() if a.size > 1)
    softmax = [n for n in graph.node if n.op_type == "Softmax"]
    outputs = [o.name for o in graph.output]
    assert outputs[1:] == [n.input[0] for n in softmax]
    again, inputs_again = zoo.load_zoo_model(name, seed=3)
    assert again.SerializeToString() == model.SerializeToString()
    assert all(np.array_equal(inputs[k], inputs_again[k]) for k in inputs)

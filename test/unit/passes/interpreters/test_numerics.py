"""The per-pass numerical checker: its evaluators agree with onnxruntime, and it
names the pass that changes a result."""

import importlib.util
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from xdsl.context import Context

from tidal.passes.conversion.graph_to_loop import GraphToLoopPass
from tidal.passes.interpreters.numerics import (
    NumericsChecker,
    NumericsMismatch,
    eval_graph,
    random_inputs,
)
from tidal.passes.pipeline import lowering_passes, run_passes
from tidal.passes.testing.break_numerics import BreakNumericsForTestPass
from tidal.targets.onnx_import import import_onnx

_spec = importlib.util.spec_from_file_location(
    "tidal_example_models", Path(__file__).resolve().parents[4] / "examples" / "models.py"
)
models = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(models)


@pytest.mark.parametrize("make", [models.make_mlp, models.make_cnn])
def test_graph_reference_agrees_with_onnxruntime(make, tmp_path):
    model = make()
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    inputs = models.make_inputs(model)
    ref = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, inputs)
    got = eval_graph(import_onnx(path), inputs)
    for r, g in zip(ref, got.values()):
        assert np.abs(g - r).max() <= 1e-4 * np.abs(r).max()


@pytest.mark.parametrize("chip", ["small", "default"])
def test_every_level_agrees_after_every_pass(chip):
    module = import_onnx(models.make_cnn())
    checker = NumericsChecker(random_inputs(module))
    run_passes(lowering_passes(chip), module, Context(), [checker])
    levels = [line.split("(")[1].split(" ")[0] for line in checker.log[1:]]
    graph_passes = len(levels) - 16  # graph-canonicalize and friends stay at graph level
    # graph-to-loop, loop-schedule, loop-keep-on-chip, loop-hoist-loads,
    # loop-double-buffer, loop-const-layout, loop-allocate; loop-to-accel,
    # accel-schedule, accel-assign-queues, accel-insert-sync; accel-split-streams,
    # accel-hoist-waits, accel-prune-waits, accel-fold-waits, accel-verify-sync
    loop_and_after = ["loop"] * 7 + ["accel"] * 4 + ["binary"] * 5
    assert levels == ["graph"] * graph_passes + loop_and_after


def test_a_miscompiling_pass_is_named():
    module = import_onnx(models.make_mlp(batch=4, sizes=(40, 24, 10)))
    checker = NumericsChecker(random_inputs(module))
    checker.start(module)
    GraphToLoopPass(chip="small").apply(Context(), module)
    checker.after("graph-to-loop", module)
    BreakNumericsForTestPass().apply(Context(), module)
    with pytest.raises(NumericsMismatch, match="'test-break-numerics' changed the result"):
        checker.after("test-break-numerics", module)


def test_nan_where_the_reference_has_it_agrees_and_elsewhere_differs():
    """A model whose weights make NaN (a negative BatchNorm variance, as ONNX
    defines it) agrees with itself after every pass, silently; a pass that makes a
    NaN where the reference has a number is named."""
    import warnings

    from onnx import TensorProto, helper, numpy_helper

    c = 4
    params = {"s": np.ones(c), "b": np.zeros(c), "m": np.zeros(c), "v": np.array([1.0, -2.0, 1.0, 1.0])}
    model = helper.make_model(
        helper.make_graph(
            [helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"])],
            "g",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, 2, 2])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, c, 2, 2])],
            [numpy_helper.from_array(a.astype(np.float32), n) for n, a in params.items()],
        ),
        opset_imports=[helper.make_opsetid("", 13)],
    )
    module = import_onnx(model)
    checker = NumericsChecker(random_inputs(module))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning from NumPy either
        run_passes(lowering_passes("small"), module, Context(), [checker])
    assert all(line.endswith("agrees") for line in checker.log[1:])
    assert np.isnan(checker.reference["y"][0, 1]).all() and np.isfinite(checker.reference["y"][0, 0]).all()
    # The reference with a NaN where the module computes a number: they differ.
    module = import_onnx(models.make_mlp(batch=4, sizes=(40, 24, 10)))
    checker = NumericsChecker(random_inputs(module))
    checker.start(module)
    checker.reference = {k: np.where(np.arange(v.size).reshape(v.shape) == 0, np.nan, v) for k, v in checker.reference.items()}
    with pytest.raises(NumericsMismatch, match="NaN or infinity"):
        checker.after("a-pass", module)


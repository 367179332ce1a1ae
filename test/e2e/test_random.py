"""Training-mode Dropout and RandomUniformLike on the POOL engine's generators, end to
end against onnxruntime: the numbers differ (each uses its own generator), so what is
compared is what both must satisfy: the mask rate (within 5 sigma of the ratio, for
both), the kept values (x / (1 - ratio) bit for bit), the range and moments of the
uniform numbers; and, of Tidal alone, that a run is reproducible for a seed and that
seeds differ."""

from __future__ import annotations

from harness import run_example

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from tidal.tools.tidal_run import run_model

SHAPE = (2, 48, 17, 19)  # 31,008 elements: odd sizes, tiles of every preset


def _dropout_model(ratio: float, training: bool, seed: int | None, mask: bool = False) -> onnx.ModelProto:
    attrs = {} if seed is None else {"seed": seed}
    outputs = ["y", "m"] if mask else ["y"]
    node = helper.make_node("Dropout", ["x", "ratio", "train"], outputs, **attrs)
    inits = [
        numpy_helper.from_array(np.array(ratio, np.float32), "ratio"),
        numpy_helper.from_array(np.array(training), "train"),
    ]
    outs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(SHAPE))]
    if mask:
        outs.append(helper.make_tensor_value_info("m", TensorProto.BOOL, list(SHAPE)))
    graph = helper.make_graph(
        [node], "dropout", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(SHAPE))],
        outs, inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def _run(model: onnx.ModelProto, tmp_path, x: np.ndarray, chip: str = "small"):
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    return run_model(str(path), {"x": x}, chip), ort.InferenceSession(str(path)).run(None, {"x": x})


def _x() -> np.ndarray:
    return np.random.default_rng(0).uniform(0.5, 2.0, SHAPE).astype(np.float32)  # no zeros


@pytest.mark.parametrize("chip", ["small", "default"])
@pytest.mark.parametrize("ratio", [0.1, 0.5, 0.8])
def test_training_dropout_against_onnxruntime(ratio: float, chip: str, tmp_path) -> None:
    x = _x()
    ((out, stats), (ref,)) = _run(_dropout_model(ratio, True, 5), tmp_path, x, chip)
    assert stats["placement"] == {**stats["placement"], "accel": 1, "host": 0}
    y = out["y"]
    sigma = np.sqrt(ratio * (1 - ratio) / x.size)
    for got in (y, ref):
        assert abs((got == 0).mean() - ratio) < 5 * sigma
        kept = got != 0
        np.testing.assert_array_equal(got[kept], x[kept] / (np.float32(1) - np.float32(ratio)))
    # the masks are different draws: they agree about as often as two independent ones
    agree = ((y == 0) == (ref == 0)).mean()
    assert abs(agree - (ratio**2 + (1 - ratio) ** 2)) < 0.02


def test_training_dropout_is_reproducible_and_seeded(tmp_path) -> None:
    x = _x()
    ((a, _), _) = _run(_dropout_model(0.5, True, 5), tmp_path, x)
    ((b, _), _) = _run(_dropout_model(0.5, True, 5), tmp_path, x)
    ((c, _), _) = _run(_dropout_model(0.5, True, 6), tmp_path, x)
    np.testing.assert_array_equal(a["y"], b["y"])
    assert abs(((a["y"] == 0) == (c["y"] == 0)).mean() - 0.5) < 0.02


def test_inference_dropout_is_the_identity(tmp_path) -> None:
    x = _x()
    ((out, stats), (ref,)) = _run(_dropout_model(0.5, False, 5), tmp_path, x)
    np.testing.assert_array_equal(out["y"], x)
    np.testing.assert_array_equal(ref, x)
    assert stats["cycles"] >= 0


def test_the_mask_output_runs_on_onnxruntime(tmp_path) -> None:
    """A training-mode Dropout whose mask output is used: the builder refuses it
    (POOL's DROPOUT makes no mask), so onnxruntime runs the node (framework tier),
    its ratio a scalar as the model has it. (Refused before, for the wrong reason:
    the payload fed the ratio as a [1] graph constant, "Ratio of Dropout must be a
    scalar".) The mask selects the kept elements, scaled by 1 / (1 - ratio), and
    keeps about half."""
    path = tmp_path / "m.onnx"
    onnx.save(_dropout_model(0.5, True, 5, mask=True), path)
    x = _x()
    out, stats = run_model(str(path), {"x": x})
    y, m = out["y"], out["m"]
    assert m.dtype == np.bool_ and m.shape == x.shape
    assert stats["placement"]["framework"] == 1
    np.testing.assert_array_equal(y[m], x[m] * np.float32(2.0))
    assert not y[~m].any()
    assert abs(m.mean() - 0.5) < 5 * np.sqrt(0.25 / m.size)


@pytest.mark.parametrize("chip", ["small", "default"])
def test_random_uniform_like_against_onnxruntime(chip: str, tmp_path) -> None:
    node = helper.make_node("RandomUniformLike", ["x"], ["r"], low=-2.0, high=3.0, seed=4.0)
    graph = helper.make_graph(
        [node], "r", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(SHAPE))],
        [helper.make_tensor_value_info("r", TensorProto.FLOAT, list(SHAPE))],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    ((out, _), (ref,)) = _run(model, tmp_path, _x(), chip)
    n = float(np.prod(SHAPE))
    for r in (out["r"].astype(np.float64), ref.astype(np.float64)):
        assert r.min() >= -2.0 and r.max() < 3.0
        assert abs(r.mean() - 0.5) < 5 * np.sqrt(25 / 12 / n)
        assert abs(r.var() - 25 / 12) < 0.05
        counts = np.bincount(((r + 2) / 5 * 10).astype(int).ravel(), minlength=10)
        assert np.abs(counts - n / 10).max() < 5 * np.sqrt(n / 10)


def test_the_dropout_example_runs() -> None:
    """examples/dropout_training.py, as docs/random.md tells a user to run it."""
    out = run_example("dropout_training", "--ratio", "0.4")
    assert "same seed, same mask: True" in out

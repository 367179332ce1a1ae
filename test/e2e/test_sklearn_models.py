"""scikit-learn pipelines converted by skl2onnx (`bench/export_sklearn.py`; the
fixtures in test/data/sklearn/, sklearn and skl2onnx are needed only to regenerate
them): classifiers whose labels are class names (string outputs), a table with a
string column and a TF-IDF text pipeline (string inputs), gradient-boosted trees
(an ai.onnx.ml opset-1 TreeEnsembleClassifier that onnx's inference leaves
untyped: strict inference failed at its reader, "not a valid ONNX model"). Each runs through
tidal-run and agrees with onnxruntime on every output: the string ones equal, the
probabilities within 1e-3 of their largest. Their ai.onnx.ml and com.microsoft
operators (LinearClassifier, TreeEnsembleClassifier, OneHotEncoder, Scaler,
Tokenizer) run on the framework tier."""

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from tidal.tools.tidal_run import run_model

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "sklearn"
MODELS = ("iris_labels", "tree_labels", "boosted_trees", "mixed_columns", "text_tfidf")


@pytest.mark.parametrize("name", MODELS)
def test_sklearn_pipeline_agrees_with_onnxruntime(name):
    path = FIXTURES / f"{name}.onnx"
    with np.load(FIXTURES / f"{name}-inputs.npz") as npz:
        feeds = dict(npz)
    got, stats = run_model(str(path), feeds, "small")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    for n, ref in zip(names, session.run(names, feeds), strict=True):
        assert got[n].shape == ref.shape, n
        if ref.dtype == object:  # strings
            assert got[n].tolist() == ref.tolist(), n
        else:
            assert got[n].dtype == ref.dtype, n
            scale = max(float(np.abs(ref).max()), 1e-30)
            assert float(np.abs(got[n].astype(np.float64) - ref).max()) <= 1e-3 * scale, n
    assert stats["placement"]["reject"] == 0


def test_string_labels_are_written_as_str_arrays(tmp_path):
    """tidal-run writes a string output as an array of NumPy's str dtype, which
    np.load reads without allowing pickles."""
    from harness import tool

    out = tmp_path / "o.npz"
    r = tool("tidal-run", FIXTURES / "iris_labels.onnx", "--inputs", FIXTURES / "iris_labels-inputs.npz",
             "--outputs", out)
    assert r.returncode == 0, r.stderr
    with np.load(out, allow_pickle=False) as npz:
        label = npz["label"]
    assert label.dtype.kind == "U" and set(label.tolist()) <= {"setosa", "versicolor", "virginica"}

"""Export scikit-learn pipelines to ONNX with skl2onnx: the models the framework tier
runs with string tensors (class names as labels, categorical and text columns), and
tree ensembles as skl2onnx writes them (ai.onnx.ml opset 1, which onnx's shape
inference does not type).

Each model is fitted on a small seeded dataset (iris for the classifiers, a
synthetic table and corpus for the pipelines; nothing is downloaded) and converted
at opset 17 with `zipmap=False`, so the probabilities are a float tensor, not a
sequence of maps (which tidal-run's .npz files cannot hold). For a model NAME the
script writes, in the output directory:

    NAME.onnx          the converted model
    NAME-inputs.npz    its inputs, keyed by the ONNX input names (float32 features,
                       str arrays for string columns)

and prints one line per model: name, file size and the sorted set of op types
(domain-qualified when not the default domain). The committed fixtures in
test/data/sklearn/ (test/e2e/test_sklearn_models.py) are regenerated with

    python -m venv /tmp/sklenv
    /tmp/sklenv/bin/pip install scikit-learn skl2onnx pandas onnx==1.23.2
    /tmp/sklenv/bin/python bench/export_sklearn.py test/data/sklearn

(checked with scikit-learn 1.9.1 and skl2onnx 1.20.0). The text pipeline's
StringNormalizer gets locale C.UTF-8 (skl2onnx's `locale` option): onnxruntime
builds a C++ locale of that name, and without the option it asks for en_US.UTF-8,
which a machine without that language pack lacks (onnxruntime then refuses the
model).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

OPSET = 17
SEED = 0


def _need(module: str) -> Any:
    try:
        return __import__(module)
    except ImportError:
        sys.exit(
            f"export_sklearn: needs {module} (pip install scikit-learn skl2onnx pandas; "
            "see this script's docstring)"
        )


def _iris() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_iris

    iris = load_iris()
    return iris.data.astype(np.float32), np.asarray(iris.target_names)[iris.target]


def iris_labels() -> tuple[Any, dict[str, np.ndarray]]:
    """Logistic regression on iris, its classes the species' names (a string label
    output) beside the probabilities."""
    from sklearn.linear_model import LogisticRegression
    from skl2onnx import to_onnx

    x, y = _iris()
    clf = LogisticRegression(max_iter=500).fit(x, y)
    model = to_onnx(clf, x[:1], options={id(clf): {"zipmap": False}}, target_opset=OPSET)
    return model, {"X": x[::30]}


def tree_labels() -> tuple[Any, dict[str, np.ndarray]]:
    """A depth-3 decision tree on iris with string labels (ai.onnx.ml TreeEnsembleClassifier)."""
    from sklearn.tree import DecisionTreeClassifier
    from skl2onnx import to_onnx

    x, y = _iris()
    clf = DecisionTreeClassifier(max_depth=3, random_state=SEED).fit(x, y)
    model = to_onnx(clf, x[:1], options={id(clf): {"zipmap": False}}, target_opset=OPSET)
    return model, {"X": x[5::30]}


def boosted_trees() -> tuple[Any, dict[str, np.ndarray]]:
    """Gradient-boosted trees on two iris classes: skl2onnx writes an ai.onnx.ml
    opset-1 TreeEnsembleClassifier, which onnx's shape inference does not type,
    and an Identity reading its probabilities (strict inference fails there)."""
    from sklearn.ensemble import GradientBoostingClassifier
    from skl2onnx import to_onnx

    x, y = _iris()
    two = y != "setosa"
    clf = GradientBoostingClassifier(n_estimators=5, max_depth=2, random_state=SEED).fit(x[two], y[two])
    model = to_onnx(clf, x[:1], options={id(clf): {"zipmap": False}}, target_opset=OPSET)
    return model, {"X": x[55::15]}


def mixed_columns() -> tuple[Any, dict[str, np.ndarray]]:
    """A table of one string column (one-hot encoded) and two float columns (scaled)
    into a logistic regression: a string graph input."""
    pd = _need("pandas")
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    rng = np.random.RandomState(SEED)
    colour = rng.choice(["red", "green", "blue"], 120)
    a, b = rng.randn(2, 120).astype(np.float32)
    y = ((a + (colour == "red")) > 0.5).astype(np.int64)
    frame = pd.DataFrame({"colour": colour, "a": a, "b": b})
    columns = ColumnTransformer(
        [("cat", OneHotEncoder(handle_unknown="ignore"), ["colour"]), ("num", StandardScaler(), ["a", "b"])]
    )
    pipe = Pipeline([("columns", columns), ("lr", LogisticRegression())]).fit(frame, y)
    types = [("colour", StringTensorType([None, 1])), ("a", FloatTensorType([None, 1])), ("b", FloatTensorType([None, 1]))]
    model = convert_sklearn(pipe, initial_types=types, options={id(pipe): {"zipmap": False}}, target_opset=OPSET)
    rows = slice(0, 6)
    inputs = {
        # one word the encoder never saw (handle_unknown="ignore": all zeros)
        "colour": np.array([*colour[rows][:5], "purple"]).reshape(-1, 1),
        "a": a[rows].reshape(-1, 1),
        "b": b[rows].reshape(-1, 1),
    }
    return model, inputs


def text_tfidf() -> tuple[Any, dict[str, np.ndarray]]:
    """TF-IDF of short sentences into a logistic regression: StringNormalizer,
    com.microsoft Tokenizer, TfIdfVectorizer, Normalizer and LinearClassifier."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import StringTensorType

    words = ["cat", "dog", "bird", "sat", "ran", "sang", "the", "a", "loud", "small"]
    rng = np.random.RandomState(SEED)
    docs = np.array([" ".join(rng.choice(words, rng.randint(2, 6))) for _ in range(80)])
    y = np.array([("dog" in d) or ("ran" in d) for d in docs], np.int64)
    tfidf = TfidfVectorizer()
    pipe = Pipeline([("tfidf", tfidf), ("lr", LogisticRegression())]).fit(docs, y)
    model = convert_sklearn(
        pipe, initial_types=[("text", StringTensorType([None, 1]))],
        options={id(pipe): {"zipmap": False}, id(tfidf): {"locale": "C.UTF-8"}}, target_opset=OPSET,
    )
    # upper case (the normalizer lowers it) and a word the vocabulary lacks
    text = np.array([*docs[:4], "The LOUD Dog", "zebra"]).reshape(-1, 1)
    return model, {"text": text}


MODELS: dict[str, Callable[[], tuple[Any, dict[str, np.ndarray]]]] = {
    "iris_labels": iris_labels,
    "tree_labels": tree_labels,
    "boosted_trees": boosted_trees,
    "mixed_columns": mixed_columns,
    "text_tfidf": text_tfidf,
}


def op_types(model: Any) -> list[str]:
    return sorted({f"{n.domain}.{n.op_type}" if n.domain else n.op_type for n in model.graph.node})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="directory to write NAME.onnx and NAME-inputs.npz into")
    parser.add_argument("--only", default="", help="comma-separated model names")
    args = parser.parse_args(argv)
    for module in ("sklearn", "skl2onnx", "onnx"):
        _need(module)
    import onnx

    names = [n for n in args.only.split(",") if n] or list(MODELS)
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        parser.error(f"unknown model {unknown[0]!r} (models: {', '.join(MODELS)})")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in names:
        model, inputs = MODELS[name]()
        path = out / f"{name}.onnx"
        onnx.save(model, path)
        np.savez(out / f"{name}-inputs.npz", **inputs)
        print(f"{name}: {path.stat().st_size} bytes, ops {' '.join(op_types(model))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Export Keras models (TensorFlow's exporter, tf2onnx) to ONNX.

Each model is a `keras.applications` network with seeded random weights (no
downloads: weights=None, 10 classes) whose batch norms get random statistics (scale
and variance in [0.5, 1.5], shift and mean N(0, 0.2)), so that their outputs are not
vanishingly small, exported by `tf2onnx.convert.from_keras` at opset 13 with a
static [1, H, W, 3] NHWC input named "input". tf2onnx keeps Keras' NHWC layout: it
wraps each conv in NHWC <-> NCHW transposes and removes the pairs its own optimizer
can push through, not those around hard swish, squeeze-and-excite or ReduceMean
(MobileNetV3 keeps 108 of them), which is what graph-sink-transposes is for. For a
model NAME the script writes, in the output directory:

    NAME.onnx          the exported model
    NAME-inputs.npz    its input, standard normal, keyed "input"
    NAME-ort.npz       onnxruntime's outputs on it (not with --fixtures)

and prints one line per model: name, file size, node count, onnxruntime's relative
error against Keras, the number of Transpose nodes and the op types.

tensorflow, keras and tf2onnx are optional extras, needed by this script only:

    python -m venv /tmp/tfenv
    /tmp/tfenv/bin/pip install tensorflow==2.21.0 tf2onnx==1.17.0 onnx==1.23.2 onnxruntime==1.32.0
    /tmp/tfenv/bin/python bench/export_keras.py /tmp/keras [--only mobilenet_v3_small]

With --fixtures the script writes the reduced set committed as CI test data in
test/data/real/ (keras_*.onnx and its inputs, no onnxruntime outputs: the tests
compute those):

    /tmp/tfenv/bin/python bench/export_keras.py --fixtures test/data/real

The fixture is MobileNetV3Small at width 0.35 on 64x64 images (1.4 MB; its four
Pads are the ZeroPadding2D before the strided depthwise convs). Each model must
match Keras in onnxruntime (relative error below MAX_REL_ERR), or the
export fails.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

OPSET = 13
SEED = 0
MAX_REL_ERR = 1e-4


def _applications() -> dict[str, Callable[[], tuple[Any, int]]]:
    """name -> (a function making the Keras model, its image side)."""
    import keras

    apps = keras.applications
    common = {"weights": None, "classes": 10, "classifier_activation": None}

    def make(factory: Callable[..., Any], side: int, **kwargs: Any) -> Callable[[], tuple[Any, int]]:
        return lambda: (factory(input_shape=(side, side, 3), **common, **kwargs), side)

    return {
        "mobilenet_v2": make(apps.MobileNetV2, 96, alpha=0.35),
        "mobilenet_v3_small": make(apps.MobileNetV3Small, 96),
        "mobilenet_v3_large": make(apps.MobileNetV3Large, 128),
        "efficientnet_b0": make(apps.EfficientNetB0, 96),
        "resnet50": make(apps.ResNet50, 64),
        "densenet121": make(apps.DenseNet121, 64),
    }


def _fixtures() -> dict[str, Callable[[], tuple[Any, int]]]:
    import keras

    apps = keras.applications
    common = {"weights": None, "classes": 10, "classifier_activation": None, "alpha": 0.35}
    return {
        "keras_mobilenet_v3_small": lambda: (
            apps.MobileNetV3Small(input_shape=(64, 64, 3), **common), 64
        ),
    }


def _randomise_batchnorms(model: Any, rng: np.random.Generator) -> None:
    from keras import layers

    for layer in model.layers:
        if not isinstance(layer, layers.BatchNormalization):
            continue
        new = []
        for w, v in zip(layer.get_weights(), layer.weights, strict=True):
            kind = v.path.split("/")[-1]
            if "gamma" in kind or "moving_variance" in kind:
                w = rng.uniform(0.5, 1.5, w.shape)
            elif "beta" in kind or "moving_mean" in kind:
                w = rng.normal(0.0, 0.2, w.shape)
            new.append(np.asarray(w, np.float32))
        layer.set_weights(new)


def export(name: str, make: Callable[[], tuple[Any, int]], out: Path, with_outputs: bool) -> str:
    import keras
    import onnxruntime as ort
    import tensorflow as tf
    import tf2onnx

    keras.utils.set_random_seed(SEED)
    model, side = make()
    _randomise_batchnorms(model, np.random.default_rng(SEED + 1))
    spec = [tf.TensorSpec([1, side, side, 3], tf.float32, name="input")]
    path = out / f"{name}.onnx"
    proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=OPSET, output_path=str(path))
    x = np.random.default_rng(SEED).standard_normal((1, side, side, 3)).astype(np.float32)
    expected = np.asarray(model(x, training=False))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    outputs = session.run(None, {"input": x})
    err = float(np.abs(outputs[0] - expected).max() / np.abs(expected).max())
    if err > MAX_REL_ERR:
        path.unlink()
        raise SystemExit(f"{name}: onnxruntime differs from Keras by {err:.1e}")
    np.savez(out / f"{name}-inputs.npz", input=x)
    if with_outputs:
        np.savez(out / f"{name}-ort.npz", **{o.name: v for o, v in zip(session.get_outputs(), outputs, strict=True)})
    ops = Counter(n.op_type for n in proto.graph.node)
    return (
        f"{name}: {path.stat().st_size:,} bytes, {len(proto.graph.node)} nodes, rel err {err:.1e}, "
        f"{ops.get('Transpose', 0)} Transpose, {' '.join(sorted(ops))}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="output directory")
    parser.add_argument("--fixtures", action="store_true", help="the reduced CI set")
    parser.add_argument("--only", default="", help="comma-separated model names")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    models = _fixtures() if args.fixtures else _applications()
    only = [n for n in args.only.split(",") if n]
    unknown = [n for n in only if n not in models]
    if unknown:
        print(f"export_keras: unknown model {', '.join(unknown)} (known: {', '.join(models)})", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    for name, make in models.items():
        if not only or name in only:
            print(export(name, make, args.out, not args.fixtures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

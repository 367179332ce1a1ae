"""The short run of `bench/pattern_difftest.py`: random instances of the layer patterns
that random graphs seldom draw (a batch-1 classifier's softmax, a pooled one, a conv
with a narrow last output tile, LRN and batch norms over large planes, a transition's
1x1 conv before a strided average, two convs of one input concatenated, a pooling of
an unaligned concatenation, a few-channel stem conv and its pooling, an inverted
residual block, a transformer MLP, a MobileNetV3 block as tf2onnx exports it), on the small
chip, against onnxruntime. The long run is the script itself, on both chips."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from tidal.passes.interpreters.accel import eval_binary
from tidal.passes.pipeline import lowering_passes, run_passes
from tidal.targets.onnx_import import import_onnx
from xdsl.context import Context

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import pattern_difftest  # noqa: E402


@pytest.mark.parametrize("name", list(pattern_difftest.PATTERNS))
@pytest.mark.parametrize("seed", [0, 1])
def test_a_random_instance_matches_onnxruntime(name, seed):
    rng = np.random.default_rng([seed, len(name)])
    case = pattern_difftest.PATTERNS[name](rng, 32)
    model = pattern_difftest.as_model(case)
    x = {k: (rng.standard_normal(v) * 2).astype(np.float32) for k, v in case[2].items()}
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, x)[0]
    module = import_onnx(model)
    run_passes(lowering_passes("small"), module, Context(), [])
    got = eval_binary(module, x)["out"]
    assert np.abs(got - want).max() < 1e-4 * max(1e-6, float(np.abs(want).max()))

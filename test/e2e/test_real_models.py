"""Models exported from today's frameworks (torchvision CNNs; ViT, BERT and GPT-2 from
transformers configs; random weights, opset 17; and a Keras MobileNetV3Small exported
by tf2onnx at opset 13), the reduced set committed under test/data/real/
(`bench/export_models.py --fixtures`, `bench/export_keras.py --fixtures`; torch,
transformers and TensorFlow are needed only to regenerate them): each runs through tidal-run and agrees with onnxruntime on
every output. The CNNs run with every op on the accelerator; the transformers with
every MAC on it (the ops left on the framework tier are LayerNormalization, the
embedding Gathers and the attention-mask code on int64 and bool tensors); ten Swin
blocks, whose shapes the export computes block after block, too.
`bench/bench_real.py` prints the same figures, for the full-size exports too."""

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from tidal.tools.tidal_run import run_model

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "real"
CNNS = ("mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0", "keras_mobilenet_v3_small")
TRANSFORMERS = ("vit", "bert", "gpt2")


def _run_and_compare(name: str, path: Path, reference: Path, disabled: tuple[str, ...] = ()) -> dict:
    """tidal-run's `path` on fixture `name`'s inputs against onnxruntime running
    `reference`, every output; tidal-run's stats."""
    with np.load(FIXTURES / f"{name}-inputs.npz") as npz:
        feeds = dict(npz)
    got, stats = run_model(str(path), feeds, "small", disabled=disabled)
    session = ort.InferenceSession(str(reference), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    for n, ref in zip(names, session.run(names, feeds), strict=True):
        assert got[n].shape == ref.shape and got[n].dtype == ref.dtype, n
        scale = float(np.abs(ref).max())
        assert scale > 1e-3, f"{n}: a degenerate reference"
        assert float(np.abs(got[n].astype(np.float64) - ref).max()) <= 1e-3 * scale, n
    return stats


@pytest.mark.parametrize("name", [*CNNS, *TRANSFORMERS])
def test_exported_model_agrees_with_onnxruntime(name):
    path = FIXTURES / f"{name}.onnx"
    stats = _run_and_compare(name, path, path)
    placement = stats["placement"]
    assert placement["reject"] == 0
    if name in CNNS:
        assert (placement["host"], placement["framework"]) == (0, 0), placement
    else:
        macs = placement["macs"]
        assert macs["accel"] >= 0.95 * sum(macs.values()), macs
    assert stats["cycles"] > 0


@pytest.mark.parametrize(
    ("name", "off"),
    [
        ("keras_mobilenet_v3_small", ("sink-transposes",)),
        ("keras_mobilenet_v3_small", ("fold-pad",)),
        ("keras_mobilenet_v3_small", ("fuse-hardswish",)),
        ("keras_mobilenet_v3_small", ("sink-transposes", "fold-pad")),
        ("efficientnet_b0", ("fuse-sigmoid",)),
        ("vit", ("fuse-matmul-bias",)),
        ("bert", ("fuse-matmul-bias",)),
    ],
)
def test_exported_model_agrees_without_its_layout_and_gate_passes(name, off):
    """The Keras MobileNetV3Small (tf2onnx: NHWC, transposes around every conv,
    ZeroPadding2D as Pad, hard swish as Add, Clip and two Muls) with
    graph-sink-transposes, graph-fold-pad or the hard swish fusion off, and the
    torchvision EfficientNet-B0 without its squeeze-and-excite gates' sigmoid
    epilogue, ViT and BERT without their linears' bias in the gemm: the same numbers,
    and more cycles than with all on (the transposes and the pads' concatenations
    are DRAM-to-DRAM copies, each hard swish four nests, each gate and each bias a
    nest of its own)."""
    path = FIXTURES / f"{name}.onnx"
    on = _run_and_compare(name, path, path)
    without = _run_and_compare(name, path, path, off)
    assert without["cycles"] > on["cycles"]


@pytest.mark.parametrize("name", ["mobilenet_v2", "bert", "gpt2", "vit"])
def test_onnxruntime_optimized_model_runs_its_fused_ops_on_the_accelerator(name, tmp_path):
    """The export as onnxruntime saves it optimized (ORT_ENABLE_EXTENDED,
    `optimized_model_filepath`): its com.microsoft fusions (FusedConv, FusedGemm,
    FusedMatMul, Gelu, FastGelu, SkipLayerNormalization) are imported as the ONNX
    operators they fuse, on the accelerator, and the model agrees with onnxruntime
    running the original. (Before, the first fused op without an inferred type
    stopped the import.)"""
    import onnx

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(tmp_path / f"{name}-optimized.onnx")
    options.log_severity_level = 3
    ort.InferenceSession(str(FIXTURES / f"{name}.onnx"), options, providers=["CPUExecutionProvider"])
    optimized = onnx.load(options.optimized_model_filepath)
    fused = {n.op_type for n in optimized.graph.node if n.domain == "com.microsoft"}
    assert fused, "onnxruntime fused nothing: the test would test nothing"
    stats = _run_and_compare(name, Path(options.optimized_model_filepath), FIXTURES / f"{name}.onnx")
    origins = {n.name: n for n in optimized.graph.node}
    on_framework = [origins[o] for o in stats["placement"]["framework_ops"] if o in origins]
    assert not [n.op_type for n in on_framework if n.domain == "com.microsoft"], fused


@pytest.mark.parametrize("name", ["bert", "gpt2", "vit"])
def test_transformers_optimizer_output_runs(name, tmp_path):
    """The export as onnxruntime's transformers optimizer writes it
    (`onnxruntime.transformers.optimizer.optimize_model`, 2 heads of the fixtures'
    64 features): SkipLayerNormalization, BiasGelu, FastGelu and BERT's fused
    Attention on the accelerator, only Attention's mask made from integer data on
    the framework tier; every MAC on the accelerator. (Before, BERT's was refused:
    the Attention output had no type.) Compared with onnxruntime running the
    optimized file."""
    from onnxruntime.transformers import optimizer

    optimized = optimizer.optimize_model(
        str(FIXTURES / f"{name}.onnx"), model_type=name, num_heads=2, hidden_size=64, opt_level=0
    )
    path = tmp_path / f"{name}-fused.onnx"
    optimized.save_model_to_file(str(path))
    fused = {n.op_type for n in optimized.model.graph.node if n.domain == "com.microsoft"}
    assert "SkipLayerNormalization" in fused, fused
    stats = _run_and_compare(name, path, path)
    kinds = {n.name: n.op_type for n in optimized.model.graph.node if n.domain == "com.microsoft"}
    on_framework = {kinds[o] for o in stats["placement"]["framework_ops"] if o in kinds}
    assert on_framework <= {"Attention"}, on_framework  # (its mask)
    assert ("Attention" in fused) == (name == "bert")
    assert stats["placement"]["macs"]["framework"] == 0, stats["placement"]["macs"]


def test_swin_blocks_fold_their_computed_shapes_and_run_on_the_accelerator():
    """Ten torchvision Swin blocks as the TorchScript exporter writes them: each
    block's padding, shift and attention mask come from the shapes of the block
    before, which import folds one round of shape inference at a time. After 8 rounds
    it stopped (the later blocks on onnxruntime: 439 of 1,209 ops; with swin_t's 12
    blocks at 224x224 an Expand left untyped crashed the import); now most ops run
    on the accelerator, every MAC among them."""
    path = FIXTURES / "swin_blocks.onnx"
    placement = _run_and_compare("swin_blocks", path, path)["placement"]
    assert placement["reject"] == 0 and placement["host"] == 0
    assert placement["framework"] <= 0.15 * (placement["accel"] + placement["framework"]), placement
    macs = placement["macs"]
    assert macs["accel"] == sum(macs.values()) > 0, macs

"""Export real-framework models (PyTorch, torchvision, Hugging Face transformers) to ONNX.

Each model is built with seeded random weights (torch.manual_seed(0), no downloads:
torchvision with weights=None, transformers from small config objects), batch 1, and
exported with the classic TorchScript exporter at opset 17 with static shapes. The
CNNs' BatchNorm statistics are measured on random images first (see
calibrate_batchnorm; --raw-batchnorm skips it) so that their outputs are not
vanishingly small. For a model NAME the script writes, in the output directory:

    NAME.onnx          the exported model
    NAME-inputs.npz    its inputs, keyed by the ONNX input names (float32 images,
                       int64 token ids and attention masks)
    NAME-ort.npz       onnxruntime's outputs on those inputs, keyed by output names

and prints one line per model: name, file size, node count, onnxruntime's error
against PyTorch, the largest output magnitude and the sorted set of ONNX op types
(domain-qualified when not the default domain).

torch, torchvision and transformers are optional extras, needed by this script only.
Install a matching torch/torchvision pair (a CPU-only torch beside PyPI's CUDA
torchvision fails with "operator torchvision::nms does not exist"), e.g.

    python -m venv /tmp/torchenv
    /tmp/torchenv/bin/pip install torch==2.14.1 torchvision==0.29.1
    /tmp/torchenv/bin/pip install transformers onnx==1.23.2 onnxruntime==1.32.0 onnxscript
    /tmp/torchenv/bin/python bench/export_models.py /tmp/models [--small] [--only vit,bert]

(or torch and torchvision both from PyTorch's CPU wheel index where it is reachable).
Checked with torch 2.14.1, torchvision 0.29.1, transformers 5.24.0.

With --fixtures the script writes instead the reduced set committed as CI test data
in test/data/real/ (NAME.onnx and NAME-inputs.npz only, no onnxruntime outputs: the
tests compute those), regenerated with

    /tmp/torchenv/bin/python bench/export_models.py --fixtures test/data/real

The fixtures are narrow torchvision CNNs on 1x3x64x64 images (mobilenet_v2 and
mobilenet_v3_small at width 0.25, efficientnet_b0 at width 0.25 and depth 0.5, each
with 10 classes), the three tiny transformers above and ten torchvision Swin blocks
(dim 16, on a 14x14 map), about 5.2 MB in all. ResNet-18
and SqueezeNet 1.1 have no width setting (47 and 2.9 MB even with 10 classes), so
they are in the full-size set only. Each fixture must match PyTorch in onnxruntime (relative error below FIXTURE_MAX_REL_ERR)
and have an output larger than FIXTURE_MIN_PEAK in magnitude, or the export fails.
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

# Text models: sequence length and vocabulary size.
SEQ_LEN = 16
VOCAB = 1000


def _need(module: str, extra: str) -> Any:
    """Import an optional framework module, or exit with a clear message."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        sys.exit(
            f"export_models.py needs {extra} ({module} could not be imported: {e}).\n"
            "Install the optional extras into a separate environment, e.g.\n"
            "  python -m venv /tmp/torchenv\n"
            "  /tmp/torchenv/bin/pip install torch==2.14.1 torchvision==0.29.1\n"
            "  /tmp/torchenv/bin/pip install transformers onnx==1.23.2 "
            "onnxruntime==1.32.0 onnxscript"
        )


# ---------------------------------------------------------------------------
# Model builders: each returns (module, input names, example input tensors).
# ---------------------------------------------------------------------------


def _image(size: int) -> Any:
    torch = _need("torch", "PyTorch")
    return torch.randn(1, 3, size, size, dtype=torch.float32)


def _torchvision(arch: str) -> Callable[[bool], tuple[Any, list[str], tuple[Any, ...]]]:
    def build(small: bool) -> tuple[Any, list[str], tuple[Any, ...]]:
        models = _need("torchvision.models", "torchvision")
        model = getattr(models, arch)(weights=None)
        # 96x96 suits every CNN here (squeezenet needs about 64 or more).
        return model, ["input"], (_image(96 if small else 224),)

    return build


def calibrate_batchnorm(model: Any, image_size: int, batch: int = 4) -> bool:
    """Fill the BatchNorm running statistics from one train-mode pass on random images.

    With torchvision's default initialisation and fresh running statistics (mean 0,
    variance 1), eval-mode activations shrink layer after layer: the MobileNets'
    and EfficientNet's outputs come out around 1e-9 to 1e-14, useless as a numeric
    reference. Statistics measured on random images (a separate seeded batch, not the
    saved inputs) keep every layer's activations around unit scale, as in a trained
    network. Returns whether the model has any BatchNorm.
    """
    torch = _need("torch", "PyTorch")
    bns = [
        m
        for m in model.modules()
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
    ]
    if not bns:
        return False
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average: one pass sets the statistics
    gen = torch.Generator().manual_seed(SEED + 1)
    images = torch.randn(batch, 3, image_size, image_size, generator=gen)
    model.train()
    with torch.no_grad():
        model(images)
    for m, momentum in zip(bns, momenta, strict=True):
        m.momentum = momentum
    model.eval()
    return True


def _transformers_config(cls_name: str, **kw: Any) -> Any:
    transformers = _need("transformers", "transformers")
    cfg = getattr(transformers, cls_name)(**kw)
    # The eager attention exports as plain MatMul/Softmax (no SDPA special cases).
    cfg._attn_implementation = "eager"
    return cfg


def _token_ids(torch: Any) -> Any:
    return torch.randint(0, VOCAB, (1, SEQ_LEN), dtype=torch.int64)


def build_vit(small: bool) -> tuple[Any, list[str], tuple[Any, ...]]:
    transformers = _need("transformers", "transformers")
    cfg = _transformers_config(
        "ViTConfig",
        image_size=32,
        patch_size=8,
        num_channels=3,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=128,
        num_labels=10,
    )
    model = transformers.ViTForImageClassification(cfg)
    return model, ["pixel_values"], (_image(32),)


def build_bert(small: bool) -> tuple[Any, list[str], tuple[Any, ...]]:
    torch = _need("torch", "PyTorch")
    transformers = _need("transformers", "transformers")
    cfg = _transformers_config(
        "BertConfig",
        vocab_size=VOCAB,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=128,
        max_position_embeddings=64,
        add_pooling_layer=True,
    )
    model = transformers.BertModel(cfg)
    ids = _token_ids(torch)
    mask = torch.ones(1, SEQ_LEN, dtype=torch.int64)
    mask[0, SEQ_LEN - 3 :] = 0  # some padding, so the mask matters
    return model, ["input_ids", "attention_mask"], (ids, mask)


def build_gpt2(small: bool) -> tuple[Any, list[str], tuple[Any, ...]]:
    torch = _need("torch", "PyTorch")
    transformers = _need("transformers", "transformers")
    cfg = _transformers_config(
        "GPT2Config",
        vocab_size=VOCAB,
        n_embd=64,
        n_layer=2,
        n_head=4,
        n_positions=64,
        use_cache=False,
        bos_token_id=VOCAB - 1,
        eos_token_id=VOCAB - 1,
    )
    model = transformers.GPT2LMHeadModel(cfg)
    return model, ["input_ids"], (_token_ids(torch),)


# ---------------------------------------------------------------------------
# Fixtures (--fixtures): reduced real-framework models small enough to commit.
# ---------------------------------------------------------------------------

FIXTURE_IMAGE = 64
FIXTURE_CLASSES = 10
FIXTURE_MAX_REL_ERR = 1e-4
FIXTURE_MIN_PEAK = 1e-3
# What the whole set (.onnx and -inputs.npz) should stay under to be committed; the
# script only warns when it is over.
FIXTURE_BUDGET_BYTES = 6 * 1024 * 1024


def _fixture_mobilenet_v2(small: bool) -> tuple[Any, list[str], tuple[Any, ...]]:
    models = _need("torchvision.models", "torchvision")
    model = models.MobileNetV2(width_mult=0.25, num_classes=FIXTURE_CLASSES)
    return model, ["input"], (_image(FIXTURE_IMAGE),)


def _fixture_mobilenet_v3_small(
    small: bool,
) -> tuple[Any, list[str], tuple[Any, ...]]:
    mnv3 = _need("torchvision.models.mobilenetv3", "torchvision")
    setting, last_channel = mnv3._mobilenet_v3_conf(
        "mobilenet_v3_small", width_mult=0.25
    )
    model = mnv3.MobileNetV3(setting, last_channel, num_classes=FIXTURE_CLASSES)
    return model, ["input"], (_image(FIXTURE_IMAGE),)


def _fixture_efficientnet_b0(small: bool) -> tuple[Any, list[str], tuple[Any, ...]]:
    effnet = _need("torchvision.models.efficientnet", "torchvision")
    setting, last_channel = effnet._efficientnet_conf(
        "efficientnet_b0", width_mult=0.25, depth_mult=0.5
    )
    # EfficientNet(inverted_residual_setting, dropout, stochastic_depth_prob=0.2,
    # num_classes=1000, norm_layer=None, last_channel=None), as torchvision's
    # efficientnet_b0 builds it (last_channel None: 4x the last stage's width).
    model = effnet.EfficientNet(
        setting, dropout=0.2, last_channel=last_channel, num_classes=FIXTURE_CLASSES
    )
    return model, ["input"], (_image(FIXTURE_IMAGE),)


def _fixture_swin_blocks(small: bool) -> tuple[Any, list[str], tuple[Any, ...]]:
    """Ten torchvision SwinTransformerBlocks (dim 16, 2 heads, 7x7 windows, shifts 0
    and 3 alternating) on a 1x14x14x16 map, channels last: the TorchScript export
    computes each block's padding, shift and mask from the shapes of the block
    before, a chain Tidal's import folds round by round (swin_t's 224x224 export
    crashed the import, its later blocks stayed on onnxruntime)."""
    torch = _need("torch", "PyTorch")
    swin = _need("torchvision.models.swin_transformer", "torchvision")
    blocks = [swin.SwinTransformerBlock(16, 2, [7, 7], [0 if i % 2 == 0 else 3] * 2) for i in range(10)]
    return torch.nn.Sequential(*blocks), ["input"], (torch.randn(1, 14, 14, 16),)


# name -> builder
FIXTURES: dict[str, Callable[[bool], tuple[Any, list[str], tuple[Any, ...]]]] = {
    "mobilenet_v2": _fixture_mobilenet_v2,
    "mobilenet_v3_small": _fixture_mobilenet_v3_small,
    "efficientnet_b0": _fixture_efficientnet_b0,
    "vit": build_vit,
    "bert": build_bert,
    "gpt2": build_gpt2,
    "swin_blocks": _fixture_swin_blocks,
}


BUILDERS: dict[str, Callable[[bool], tuple[Any, list[str], tuple[Any, ...]]]] = {
    "resnet18": _torchvision("resnet18"),
    "mobilenet_v2": _torchvision("mobilenet_v2"),
    "mobilenet_v3_small": _torchvision("mobilenet_v3_small"),
    "mobilenet_v3_large": _torchvision("mobilenet_v3_large"),
    "efficientnet_b0": _torchvision("efficientnet_b0"),
    "squeezenet1_1": _torchvision("squeezenet1_1"),
    "vit": build_vit,
    "bert": build_bert,
    "gpt2": build_gpt2,
}

# Constant keyword arguments of the transformers models (not graph inputs). GPT-2 gets
# an all-ones attention mask: without one, transformers looks for packed sequences in
# the position ids with torch.diff, which the TorchScript exporter cannot export.
FIXED_KWARGS: dict[str, dict[str, Any]] = {
    "gpt2": {"attention_mask": "ones"},
}

OUTPUT_NAMES = {
    "vit": ["logits"],
    "bert": ["last_hidden_state", "pooler_output"],
    "gpt2": ["logits"],
}


def _positional(
    model: Any, names: list[str], outputs: list[str], fixed: dict[str, Any]
) -> Any:
    """Wrap a transformers model so that it takes its inputs positionally (passed on
    by keyword, with the constant keyword arguments `fixed`) and returns the named
    fields of its output as plain tensors."""
    torch = _need("torch", "PyTorch")

    class Positional(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *args: Any) -> Any:
            kwargs = dict(zip(names, args, strict=True))
            out = self.model(**kwargs, **fixed, return_dict=True)
            return tuple(out[k] for k in outputs)

    return Positional()


# ---------------------------------------------------------------------------


def op_summary(path: Path) -> tuple[int, list[str]]:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    ops: set[str] = set()
    count = 0

    def walk(graph: Any) -> None:
        nonlocal count
        for node in graph.node:
            count += 1
            dom = node.domain if node.domain not in ("", "ai.onnx") else ""
            ops.add(f"{dom}::{node.op_type}" if dom else node.op_type)
            for attr in node.attribute:
                if attr.HasField("g"):
                    walk(attr.g)
                for g in attr.graphs:
                    walk(g)

    walk(model.graph)
    return count, sorted(ops)


def export_one(
    name: str,
    out_dir: Path,
    small: bool,
    calibrate: bool = True,
    *,
    fixture: bool = False,
) -> str:
    """Export model `name` (from FIXTURES if `fixture`, else BUILDERS). A fixture
    gets no -ort.npz and must pass the FIXTURE_* checks (AssertionError otherwise)."""
    torch = _need("torch", "PyTorch")
    import onnx
    import onnxruntime as ort

    builder = FIXTURES[name] if fixture else BUILDERS[name]
    torch.manual_seed(SEED)
    model, input_names, inputs = builder(small)
    model.eval()
    if calibrate and name not in OUTPUT_NAMES:
        calibrate_batchnorm(model, inputs[0].shape[-1])
    fixed = {
        k: torch.ones(1, SEQ_LEN, dtype=torch.int64) if v == "ones" else v
        for k, v in FIXED_KWARGS.get(name, {}).items()
    }
    output_names = OUTPUT_NAMES.get(name, ["output"])
    module = model
    if name in OUTPUT_NAMES:
        module = _positional(model, input_names, output_names, fixed)
    module.eval()

    with torch.no_grad():
        expected = module(*inputs)
    expected = expected if isinstance(expected, tuple) else (expected,)
    assert len(output_names) == len(expected), (name, len(expected))

    path = out_dir / f"{name}.onnx"
    with torch.no_grad():
        torch.onnx.export(
            module,
            inputs,
            str(path),
            dynamo=False,
            opset_version=OPSET,
            do_constant_folding=True,
            input_names=input_names,
            output_names=output_names,
        )
    onnx.checker.check_model(str(path))
    feeds = {n: t.numpy() for n, t in zip(input_names, inputs, strict=True)}
    np.savez(out_dir / f"{name}-inputs.npz", **feeds)

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    ort_names = [o.name for o in sess.get_outputs()]
    results = sess.run(None, feeds)
    if not fixture:
        np.savez(
            out_dir / f"{name}-ort.npz", **dict(zip(ort_names, results, strict=True))
        )

    peak = max(float(np.max(np.abs(r))) for r in results)
    err = max(
        float(np.max(np.abs(r - e.numpy())) / (np.max(np.abs(e.numpy())) + 1e-12))
        for r, e in zip(results, expected, strict=True)
    )
    if fixture:
        assert err < FIXTURE_MAX_REL_ERR, f"ort vs torch rel err {err:.1e}"
        assert peak > FIXTURE_MIN_PEAK, f"degenerate outputs, max|out| {peak:.2g}"
    count, ops = op_summary(path)
    size_kib = path.stat().st_size / 1024
    return (
        f"{name}: {size_kib:.0f} KiB, {count} nodes, ort vs torch rel err {err:.1e}, "
        f"max|out| {peak:.2g}, "
        f"ops {', '.join(ops)}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=f"models: {', '.join(BUILDERS)}; fixtures: {', '.join(FIXTURES)}",
    )
    parser.add_argument(
        "out_dir", type=Path, help="directory for NAME.onnx and .npz files"
    )
    parser.add_argument(
        "--fixtures",
        action="store_true",
        help="write the reduced CI test-data set instead (narrow CNNs on 64x64 "
        "images and the tiny transformers; NAME.onnx and NAME-inputs.npz only), "
        "as committed in test/data/real/",
    )
    parser.add_argument(
        "--only",
        metavar="NAME[,NAME]",
        help="export only these models (comma-separated)",
    )
    parser.add_argument(
        "--small",
        action="store_true",
        help="smaller images (1x3x96x96) for the torchvision CNNs (the "
        "transformers models are small already)",
    )
    parser.add_argument(
        "--raw-batchnorm",
        action="store_true",
        help="keep the fresh BatchNorm statistics (mean 0, variance 1) instead of "
        "calibrating them on random images (the MobileNets' and EfficientNet's "
        "outputs then vanish to 1e-9 and below)",
    )
    args = parser.parse_args(argv)

    known = list(FIXTURES if args.fixtures else BUILDERS)
    if args.fixtures and args.small:
        parser.error("--small does not apply to --fixtures (always 1x3x64x64)")
    names = known
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in known]
        if unknown:
            parser.error(
                f"unknown model(s) {', '.join(unknown)}; known: {', '.join(known)}"
            )

    _need("torch", "PyTorch")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    failed = []
    for name in names:
        try:
            print(
                export_one(
                    name,
                    args.out_dir,
                    args.small,
                    not args.raw_batchnorm,
                    fixture=args.fixtures,
                ),
                flush=True,
            )
        except Exception as e:  # noqa: BLE001 (report it, go on with the next model)
            failed.append(name)
            print(f"{name}: FAILED: {type(e).__name__}: {e}", flush=True)
    if args.fixtures:
        total = sum(
            (args.out_dir / f"{n}{suffix}").stat().st_size
            for n in names
            for suffix in (".onnx", "-inputs.npz")
            if (args.out_dir / f"{n}{suffix}").exists()
        )
        print(f"total {total / 2**20:.2f} MiB (.onnx and -inputs.npz)", flush=True)
        if total > FIXTURE_BUDGET_BYTES:
            print(
                f"warning: over the {FIXTURE_BUDGET_BYTES / 2**20:.0f} MiB budget "
                "for committed fixtures (see --only)",
                file=sys.stderr,
            )
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

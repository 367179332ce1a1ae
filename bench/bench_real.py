"""Models exported from today's frameworks, through tidal-run, against onnxruntime:
one Markdown row per model.

The models are ONNX files from `bench/export_models.py` (torchvision CNNs; ViT, BERT
and GPT-2 built by transformers from small configs; random weights, opset 17), each
beside its `NAME-inputs.npz`. By default the reduced set committed under
test/data/real/ (what `make test` runs); the full-size exports with

    /tmp/torchenv/bin/python bench/export_models.py /tmp/models   # torch, torchvision, transformers
    .venv/bin/python bench/bench_real.py --dir /tmp/models --chip default

(torch and transformers are needed only to export, never by tidal-run). For each
model: ops on the accelerator, the host and the framework tier (onnxruntime), the
share of the model's MACs on the accelerator, simulated cycles of its accelerator
segments and their ratio to the model's ideal roofline, tidal-run's wall time,
onnxruntime's on the same inputs in the same run (the peer), and the worst relative
error over every output (max|tidal - ort| / max|ort|). With `--ablate NAME`
(repeatable) each model runs again with those optimisations off, a column giving
its cycles and their ratio to all on (the error column covers both runs); the
Keras exports of `bench/export_keras.py`, for instance:

    .venv/bin/python bench/bench_real.py --dir /tmp/keras --chip default \
        --ablate sink-transposes --ablate fold-pad
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from common import ROOT, print_table, ratio
from tidal.passes.pipeline import OPTIMIZATIONS
from tidal.tools.tidal_run import run_model

FIXTURES = ROOT / "test" / "data" / "real"


def models_in(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.onnx") if (p.parent / f"{p.stem}-inputs.npz").exists())


def bench(path: Path, chip: str, ablate: list[str] | None = None) -> dict[str, str]:
    with np.load(path.parent / f"{path.stem}-inputs.npz") as npz:
        feeds = dict(npz)
    t = time.perf_counter()
    outputs, stats = run_model(str(path), feeds, chip)
    tidal_s = time.perf_counter() - t
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    t = time.perf_counter()
    refs = session.run(names, feeds)
    ort_s = time.perf_counter() - t
    err = max(
        float(np.abs(outputs[n].astype(np.float64) - r).max() / max(np.abs(r).max(), 1e-30))
        for n, r in zip(names, refs, strict=True)
    )
    p = stats["placement"]
    macs = p.get("macs", {})
    total = sum(macs.values())
    off: dict[str, str] = {}
    if ablate:
        without, off_stats = run_model(str(path), feeds, chip, disabled=ablate)
        err = max(err, *(
            float(np.abs(without[n].astype(np.float64) - r).max() / max(np.abs(r).max(), 1e-30))
            for n, r in zip(names, refs, strict=True)
        ))
        off = {f"no {', '.join(ablate)}": f"{off_stats['cycles']:,} ({ratio(off_stats['cycles'] / stats['cycles'])})"}
    return {
        "model": path.stem,
        "accel / host / framework ops": f"{p['accel']} / {p['host']} / {p['framework']}",
        "MACs on accel": f"{100 * macs.get('accel', 0) / total:.1f}%" if total else "-",
        "cycles": f"{stats['cycles']:,}",
        "× ideal": ratio(stats["ideal_ratio"]) if stats.get("ideal_ratio") else "-",
        **off,
        "tidal-run s": f"{tidal_s:.2f}",
        "onnxruntime ms": f"{1e3 * ort_s:.2f}",
        "max rel err": f"{err:.1e}",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", default=str(FIXTURES), help="a directory of NAME.onnx + NAME-inputs.npz")
    parser.add_argument("--chip", default="small", help="chip preset")
    parser.add_argument("--ablate", action="append", default=[], metavar="NAME",
                        choices=list(OPTIMIZATIONS),
                        help="also run with this optimisation off (repeatable: all of them "
                        "off at once); a column of those cycles and their ratio to all on")
    parser.add_argument("models", nargs="*", help="model names (default: every model in --dir)")
    args = parser.parse_args()
    directory = Path(args.dir)
    paths = models_in(directory)
    if args.models:
        paths = [p for p in paths if p.stem in args.models]
    if not paths:
        parser.error(f"no NAME.onnx with NAME-inputs.npz in {directory}")
    rows = []
    for path in paths:
        rows.append(bench(path, args.chip, args.ablate))
        print(rows[-1], file=sys.stderr, flush=True)
    print(f"chip '{args.chip}', models in {directory}")
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())

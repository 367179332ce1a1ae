"""Compile time per pass: one Markdown row per pass of the lowering pipeline, and the
whole compile, on a model (the ResNet-50-sized trunk of `examples/models.py` by
default, or any .onnx file).

Each pass of `lowering_passes(chip)` is timed by the pass driver's `PassTimes`
callback (`time.perf_counter` around its `apply`), `--repeat` times on fresh imports
of the model; the table gives the median. The import from ONNX is timed apart. `graph-partition` is the row the redesign is
judged on: it used to decide placement by lowering every distinct op through
graph-to-loop and reading the error text; it now asks each kernel's `plan`.

    .venv/bin/python bench/bench_passes.py [--chip default] [--repeat 3] [MODEL.onnx]

The figures are wall times on a shared machine: compare rows of one run, not runs.

Measured for issue 10 (the redesign), on the trunk, median of 5; "before" is the code
at 47c2e0a run in the same session (seconds):

    pass                 before  after
    graph-canonicalize    0.003  0.003
    graph-partition       0.112  0.005   (plans instead of trial lowering)
    graph-to-loop         0.192  0.246
    loop-allocate             -  0.020   (was inside loop-to-accel)
    loop-to-accel         0.194  0.167
    accel-assign-queues       -  0.014   (was inside loop-to-accel)
    accel-insert-sync     0.188  0.216
    accel-split-streams   0.105  0.105
    all passes            0.912  0.785
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _model(path: str | None):
    import onnx

    if path is not None:
        return Path(path).name, onnx.load(path)
    sys.path.insert(0, str(ROOT / "examples"))
    import models  # examples/models.py

    return "resnet50-trunk", models.make_resnet50_trunk()


def time_passes(model, chip: str) -> dict[str, float]:
    """Seconds per pass (and "import", "total") for one compile of `model`."""
    from tidal.passes.pipeline import PassTimes, lowering_passes, run_passes
    from tidal.targets.onnx_import import import_onnx

    start = time.perf_counter()
    module = import_onnx(model)
    imported = time.perf_counter() - start
    timer = PassTimes()
    run_passes(lowering_passes(chip), module, callbacks=[timer])
    return {"import": imported, **timer.seconds, "total (passes)": sum(timer.seconds.values())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", help="an .onnx model (default: the ResNet-50 trunk)")
    parser.add_argument("--chip", default="default", help="chip preset (default, small)")
    parser.add_argument("--repeat", type=int, default=3, help="compiles to take the median of")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    name, model = _model(args.model)
    runs = [time_passes(model, args.chip) for _ in range(args.repeat)]
    print(f"{name}, chip {args.chip}, median of {args.repeat}\n")
    print("| pass | seconds |")
    print("|---|---:|")
    for key in runs[0]:
        print(f"| {key} | {statistics.median(r[key] for r in runs):.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

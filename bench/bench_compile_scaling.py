"""How compile time grows with the size of the program.

Two families of examples/models.py, each at growing sizes: `chain` (N residual MLP
blocks in a row, 3 ops each: a long straight-line program) and `fan-out` (one input
read by N MatMuls summed in a row: one tensor with N readers). Each model is
compiled as a user compiles it, `tidal-compile MODEL.onnx -o OUT.tbin` in a child
process, the run of least wall time of `--repeat`; the table gives the graph's ops,
the wall and CPU seconds, milliseconds per op, and the growth exponent from the
size before (log(t2 / t1) / log(n2 / n1): 1 is linear, 2 quadratic). The
exponent against 1 is the figure: a pass whose work is quadratic in the ops shows
as an exponent well above 1 at the larger sizes.

    .venv/bin/python bench/bench_compile_scaling.py [--sizes 100 200 400 800]
        [--families chain fan-out] [--repeat 1] [--chip default]

Wall and CPU times on a shared machine: compare within one run.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import onnx
from common import example, print_table

BIN = Path(sys.executable).parent  # the venv's console scripts, as a user runs them
FAMILIES = {"chain": "blocks", "fan-out": "branches"}  # examples/models.py's size argument


def compile_once(model: Path, chip: str) -> tuple[float, float]:
    """(wall, CPU) seconds of one `tidal-compile` child process."""
    out = model.with_suffix(".tbin")
    before = os.times()
    t = time.perf_counter()
    subprocess.run(
        [str(BIN / "tidal-compile"), str(model), "-o", str(out), "--chip", chip],
        check=True, stdout=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - t
    after = os.times()
    return wall, (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[100, 200, 400, 800])
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    parser.add_argument("--repeat", type=int, default=1, help="compiles per size, the best is kept")
    parser.add_argument("--chip", default="default")
    args = parser.parse_args()
    models = example("models")
    rows: list[dict[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for family in args.families:
            before: tuple[int, float] | None = None
            for n in sorted(args.sizes):
                model = models.MODELS[family](**{FAMILIES[family]: n})
                path = Path(tmp) / f"{family}{n}.onnx"
                onnx.save(model, path)
                ops = len(model.graph.node)
                runs = [compile_once(path, args.chip) for _ in range(args.repeat)]
                wall, cpu = min(runs)
                growth = (
                    f"{math.log(wall / before[1]) / math.log(ops / before[0]):.2f}"
                    if before else "-"
                )
                rows.append({
                    "family": family,
                    "N": str(n),
                    "ops": f"{ops:,}",
                    "wall s": f"{wall:.2f}",
                    "CPU s": f"{cpu:.2f}",
                    "ms / op": f"{1e3 * wall / ops:.1f}",
                    "growth exponent": growth,
                })
                before = (ops, wall)
    print(f"chip '{args.chip}', best of {args.repeat} compile(s) per size")
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())

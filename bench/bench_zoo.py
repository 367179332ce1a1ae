"""The onnx light zoo on the accelerator: one Markdown row per model.

For each of the nine models (random weights, examples/zoo.py): ops placed on the
accelerator and on the host, simulated cycles, how many times the model's ideal
roofline they are (bench_dataflow.py has the rest of the roofline figures) and PE
utilisation, compile wall time (import, lowering, encoding), simulate wall time,
onnxruntime's wall time on the same inputs in the same run (the peer) and the worst
relative error against it.

    .venv/bin/python bench/bench_zoo.py [--chip default] [NAME ...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import onnx
from common import example, figures, max_rel_err, print_table
from tidal.sim.config import get_chip
from tidal.sim.isa import decode_container
from tidal.sim.machine import run_program
from tidal.tools.tidal_compile import compile_to_bytes

zoo = example("zoo")


def bench(name: str, chip: str) -> dict[str, str]:
    model, inputs = zoo.load_zoo_model(name)
    path = Path(tempfile.mkdtemp()) / f"{name}.onnx"
    onnx.save(model, path)
    report: list[dict[str, str]] = []
    t = time.perf_counter()
    data = compile_to_bytes(str(path), chip, report=report)
    compile_s = time.perf_counter() - t
    t = time.perf_counter()
    outputs, stats = run_program(decode_container(data), inputs, get_chip(chip))
    sim_s = time.perf_counter() - t
    t = time.perf_counter()
    ref = zoo.reference(path, inputs)
    ort_s = time.perf_counter() - t
    err = max_rel_err(outputs, ref.items())
    accel = sum(r["placement"] == "accel" for r in report)
    host = sum(r["placement"] == "host" for r in report)
    return {
        "model": name,
        "accel / host ops": f"{accel} / {host}",
        **figures(stats, compile_s, sim_s, ort_s, err),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chip", default="default")
    parser.add_argument("models", nargs="*", default=list(zoo.MODELS))
    args = parser.parse_args()
    rows = []
    for name in args.models:
        rows.append(bench(name, args.chip))
        print(rows[-1], file=sys.stderr, flush=True)
    print(f"chip '{args.chip}'")
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())

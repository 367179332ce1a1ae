"""The onnx light zoo on the accelerator: one Markdown row per model.

For each of the nine models (random weights, examples/zoo.py): ops placed on the
accelerator and on the host, simulated cycles and PE utilisation, compile wall time
(import, lowering, encoding), simulate wall time, onnxruntime's wall time on the
same inputs in the same run (the peer) and the worst relative error against it.

    .venv/bin/python bench/bench_zoo.py [--chip default] [NAME ...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
from zoo import MODELS, load_zoo_model, reference  # noqa: E402

from tidal.sim.config import get_chip  # noqa: E402
from tidal.sim.isa import decode_container  # noqa: E402
from tidal.sim.machine import run_program  # noqa: E402
from tidal.tools.tidal_compile import compile_to_bytes  # noqa: E402


def bench(name: str, chip: str) -> dict[str, str]:
    model, inputs = load_zoo_model(name)
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
    ref = reference(path, inputs)
    ort_s = time.perf_counter() - t
    err = max(float(np.abs(outputs[k] - r).max() / np.abs(r).max()) for k, r in ref.items())
    accel = sum(r["placement"] == "accel" for r in report)
    host = sum(r["placement"] == "host" for r in report)
    return {
        "model": name,
        "accel / host ops": f"{accel} / {host}",
        "cycles": f"{stats['cycles']:,}",
        "PE MAC util": f"{100 * stats['pe_mac_utilization']:.2f}%",
        "compile s": f"{compile_s:.1f}",
        "simulate s": f"{sim_s:.1f}",
        "onnxruntime s": f"{ort_s:.2f}",
        "max rel err": f"{err:.1e}",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chip", default="default")
    parser.add_argument("models", nargs="*", default=list(MODELS))
    args = parser.parse_args()
    rows = []
    for name in args.models:
        rows.append(bench(name, args.chip))
        print(rows[-1], file=sys.stderr, flush=True)
    keys = list(rows[0])
    print(f"chip '{args.chip}'")
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(row[k] for k in keys) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

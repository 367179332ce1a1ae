"""Compile and simulate the example models; print a Markdown table of figures.

For each model: accel IR size (ops after the full pipeline), compile wall time,
binary size, instructions after repeat expansion, simulated cycles and PE
utilisation, simulator wall time and its throughput (simulated instructions per
wall second), and onnxruntime's wall time on the same inputs in the same run (the
peer), with the ratio simulator / onnxruntime.

    .venv/bin/python bench/bench_models.py [--chip default] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from xdsl.context import Context

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
from models import make_cnn, make_inputs, make_mlp, make_resnet50_trunk  # noqa: E402

from tidal.passes.pipeline import compile_module  # noqa: E402
from tidal.sim.config import get_chip  # noqa: E402
from tidal.sim.isa import decode_container  # noqa: E402
from tidal.sim.machine import run_program  # noqa: E402
from tidal.targets.binary import encode  # noqa: E402
from tidal.targets.onnx_import import import_onnx  # noqa: E402

MODELS = {"mlp": make_mlp, "cnn": make_cnn, "resnet50-trunk": make_resnet50_trunk}


def best(fn, repeat: int):
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times), result


def bench(name: str, chip: str, repeat: int) -> dict[str, object]:
    model = MODELS[name]()
    inputs = make_inputs(model)
    path = Path(tempfile.mkdtemp()) / f"{name}.onnx"
    onnx.save(model, path)

    def compile_once() -> tuple[int, bytes]:
        module = import_onnx(path)
        compile_module(module, chip, Context())
        return sum(1 for _ in module.walk()), encode(module)

    compile_s, _, (ops, data) = best(compile_once, repeat)
    program = decode_container(data)
    sim_s, _, (outputs, stats) = best(lambda: run_program(program, inputs, get_chip(chip)), repeat)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    session.run(None, inputs)  # warm-up
    ort_s, _, ref = best(lambda: session.run(None, inputs), max(repeat, 5))
    err = max(
        float(np.abs(outputs[o.name] - r).max() / np.abs(r).max())
        for o, r in zip(session.get_outputs(), ref)
    )
    instructions = sum(stats["instructions"].values())
    return {
        "model": name,
        "accel ops": ops,
        "compile s": f"{compile_s:.2f}",
        "binary MB": f"{len(data) / 1e6:.1f}",
        "instructions": instructions,
        "cycles": stats["cycles"],
        "PE MAC util": f"{100 * stats['pe_mac_utilization']:.2f}%",
        "sim ms": f"{1e3 * sim_s:.1f}",
        "instr/s": f"{instructions / sim_s:,.0f}",
        "onnxruntime ms": f"{1e3 * ort_s:.3f}",
        "sim/ort": f"{sim_s / ort_s:.1f}x",
        "max rel err": f"{err:.1e}",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chip", default="default")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    args = parser.parse_args()
    rows = [bench(m, args.chip, args.repeat) for m in args.models]
    keys = list(rows[0])
    print(f"chip '{args.chip}', best of {args.repeat}")
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(str(row[k]) for k in keys) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

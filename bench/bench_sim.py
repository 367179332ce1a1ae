"""Simulator throughput: how fast the hardware model runs the example models.

For each model: the instructions the binary runs (after repeat expansion), simulated
cycles (and how many times the model's ideal roofline they are), the simulator's wall
time (best of --repeat runs of `run_program`, the compiled binary already decoded), its
throughput in simulated instructions per wall second and its wall time per
instruction, and, measured in the same run, onnxruntime's wall time on the same model
and inputs (the peer) with the ratio simulator / onnxruntime. A benchmark, not a test: it asserts nothing about time.

    .venv/bin/python bench/bench_sim.py [--chip default] [--repeat 3]
        [--models mlp cnn resnet50-trunk] [--check-races] [--trace]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

import onnx
import onnxruntime as ort
from common import best, example, figures, max_rel_err, print_table
from tidal.sim.config import get_chip
from tidal.sim.isa import decode_container
from tidal.sim.machine import run_program
from tidal.tools.tidal_compile import compile_to_bytes


def bench(models: ModuleType, name: str, chip: str, repeat: int, **run: bool) -> dict[str, str]:
    model = models.MODELS[name]()
    inputs = models.make_inputs(model)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.onnx"
        onnx.save(model, path)
        t = time.perf_counter()
        data = compile_to_bytes(str(path), chip)
        compile_s = time.perf_counter() - t
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    program = decode_container(data)
    config = get_chip(chip)
    sim_s, sim_med, (outputs, stats) = best(lambda: run_program(program, inputs, config, **run), repeat)
    session.run(None, inputs)  # warm-up
    ort_s, _, ref = best(lambda: session.run(None, inputs), max(repeat, 5))
    err = max_rel_err(outputs, zip([o.name for o in session.get_outputs()], ref, strict=True))
    instructions = sum(stats["instructions"].values())
    return {
        "model": name,
        "instructions": f"{instructions:,}",
        "sim median ms": f"{1e3 * sim_med:.1f}",
        "sim instr/s": f"{instructions / sim_s:,.0f}",
        "us / instr": f"{1e6 * sim_s / instructions:.1f}",
        **figures(stats, compile_s, sim_s, ort_s, err),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chip", default="default", help="chip preset (default: default)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="simulator runs per model, the best is reported (default 3)")
    models = ["mlp", "cnn", "resnet50-trunk"]
    parser.add_argument("--models", nargs="*", default=models, choices=models,
                        help="example models to run (default: all three)")
    parser.add_argument("--check-races", action="store_true", help="run with race checking on")
    parser.add_argument("--trace", action="store_true", help="run with the per-instruction trace on")
    args = parser.parse_args()
    models = example("models")
    run = {"check_races": args.check_races, "trace": args.trace} if (args.check_races or args.trace) else {}
    rows = [bench(models, m, args.chip, args.repeat, **run) for m in args.models]
    flags = ", ".join(k for k, v in run.items() if v) or "no checking, no trace"
    print(f"chip '{args.chip}', best of {args.repeat} simulator runs ({flags}); onnxruntime CPU, best of {max(args.repeat, 5)}")
    print()
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())

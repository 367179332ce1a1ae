"""Simulator throughput: how fast the hardware model runs the example models.

For each model: the instructions the binary runs (after repeat expansion), simulated
cycles, the simulator's wall time (best of --repeat runs of `run_program`, the
compiled binary already decoded), its throughput in simulated instructions per wall
second and its wall time per instruction, and, measured in the same run, onnxruntime's
wall time on the same model and inputs (the peer) with the ratio simulator /
onnxruntime. A benchmark, not a test: it asserts nothing about time.

    .venv/bin/python bench/bench_sim.py [--chip default] [--repeat 3]
        [--models mlp cnn resnet50-trunk] [--check-races] [--trace]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import numpy as np
import onnx
import onnxruntime as ort

from tidal.sim.config import get_chip
from tidal.sim.isa import decode_container
from tidal.sim.machine import run_program
from tidal.tools.tidal_compile import compile_to_bytes

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def _examples() -> ModuleType:
    """examples/models.py, loaded from its file (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location("tidal_examples_models", ROOT / "examples" / "models.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _best(fn: Callable[[], T], repeat: int) -> tuple[float, float, T]:
    """(best, median) wall seconds of `repeat` calls, and the last result."""
    times: list[float] = []
    result: Any = None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times), result


def bench(models: ModuleType, name: str, chip: str, repeat: int, **run: bool) -> dict[str, str]:
    make = {"mlp": models.make_mlp, "cnn": models.make_cnn, "resnet50-trunk": models.make_resnet50_trunk}[name]
    model = make()
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
    sim_s, sim_med, (outputs, stats) = _best(lambda: run_program(program, inputs, config, **run), repeat)
    session.run(None, inputs)  # warm-up
    ort_s, _, ref = _best(lambda: session.run(None, inputs), max(repeat, 5))
    err = max(
        float(np.abs(outputs[o.name] - r).max() / np.abs(r).max())
        for o, r in zip(session.get_outputs(), ref, strict=True)
    )
    instructions = sum(stats["instructions"].values())
    return {
        "model": name,
        "compile s": f"{compile_s:.2f}",
        "instructions": f"{instructions:,}",
        "cycles": f"{stats['cycles']:,}",
        "PE MAC util": f"{100 * stats['pe_mac_utilization']:.1f}%",
        "sim wall ms (best / median)": f"{1e3 * sim_s:.1f} / {1e3 * sim_med:.1f}",
        "sim instr/s": f"{instructions / sim_s:,.0f}",
        "us / instr": f"{1e6 * sim_s / instructions:.1f}",
        "onnxruntime ms": f"{1e3 * ort_s:.3f}",
        "sim / ort": f"{sim_s / ort_s:,.0f}x",
        "max rel err": f"{err:.1e}",
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
    models = _examples()
    run = {"check_races": args.check_races, "trace": args.trace} if (args.check_races or args.trace) else {}
    rows = [bench(models, m, args.chip, args.repeat, **run) for m in args.models]
    keys = list(rows[0])
    flags = ", ".join(k for k, v in run.items() if v) or "no checking, no trace"
    print(f"chip '{args.chip}', best of {args.repeat} simulator runs ({flags}); onnxruntime CPU, best of {max(args.repeat, 5)}")
    print()
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(row[k] for k in keys) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

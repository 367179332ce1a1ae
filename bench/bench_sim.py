"""Simulator throughput: how fast the hardware model runs the example models.

For each model (examples/models.py's mlp, cnn and resnet50-trunk, and ResNet-50 of
the onnx light zoo with seeded random weights, examples/zoo.py): the instructions
the binary runs (after repeat expansion), simulated cycles (and how many times the
model's ideal roofline they are), the simulator's wall time (best of --repeat runs of
`run_program`, the compiled binary already decoded) and the CPU time of that run,
its throughput in simulated instructions per wall second and its wall time per
instruction, the wall time of one inference on a machine the program is already
loaded into (best of --repeat reruns: the inputs written, every engine started; the
program's constants stay in DRAM, as onnxruntime's session keeps the weights it
loaded when it was created), and, measured in the same run, onnxruntime's wall time on the same model
and inputs (the peer, on --ort-threads intra-op threads) with the ratio simulator /
onnxruntime. A benchmark, not a test: it asserts nothing about time.

    .venv/bin/python bench/bench_sim.py [--chip default] [--repeat 3]
        [--models mlp cnn resnet50-trunk resnet50] [--check-races] [--trace]
        [--blas-threads N] [--ort-threads 2] [--without NAME ...]

`--without NAME` adds, for each model, a row compiled with optimisation NAME off
(`tidal-compile --disable-opt NAME`), measured in the same run: what NAME does to
the simulator's time (loop-const-layout changes no cycle, only how much gathering
the hardware model's DMAs do).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import onnx
import onnxruntime as ort
from common import best, example, figures, max_rel_err, print_table
from tidal.passes.pipeline import OPTIMIZATIONS
from tidal.sim.config import get_chip
from tidal.sim.isa import decode_container
from tidal.sim.machine import Machine, run_program
from tidal.tools.tidal_compile import compile_to_bytes

EXAMPLES = ["mlp", "cnn", "resnet50-trunk"]  # examples/models.py
ZOO = ["resnet50"]  # examples/zoo.py


def load(name: str) -> tuple[onnx.ModelProto, dict[str, Any]]:
    """(model, inputs) of an example or zoo model, as the other benches make them."""
    if name in ZOO:
        return example("zoo").load_zoo_model(name)
    models = example("models")
    model = models.MODELS[name]()
    return model, models.make_inputs(model)


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, float, Any]:
    """(best wall, median wall, CPU seconds of the best run, last result) of
    `repeat` calls."""
    runs: list[tuple[float, float]] = []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        runs.append((time.perf_counter() - wall, time.process_time() - cpu))
    walls = sorted(w for w, _ in runs)
    return walls[0], walls[len(walls) // 2], min(runs)[1], result


def bench(
    name: str, chip: str, repeat: int, ort_threads: int, without: str | None = None, **run: Any
) -> dict[str, str]:
    model, inputs = load(name)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.onnx"
        onnx.save(model, path)
        t = time.perf_counter()
        data = compile_to_bytes(str(path), chip, disabled=[without] if without else ())
        compile_s = time.perf_counter() - t
        options = ort.SessionOptions()
        options.intra_op_num_threads = ort_threads
        session = ort.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
    del model
    program = decode_container(data)
    config = get_chip(chip)
    sim_s, sim_med, sim_cpu, (outputs, stats) = timed(
        lambda: run_program(program, inputs, config, **run), repeat
    )
    # Inference on a loaded machine, as onnxruntime's session.run on a session
    # whose creation loaded the weights: the program and its constants stay in the
    # machine's DRAM, each run writes the inputs and starts every engine.
    machine = Machine(program, config, **{k: v for k, v in run.items() if k != "blas_threads"})
    machine.load_inputs(inputs)
    machine.run(run.get("blas_threads"))
    infer_s, _, _, _ = timed(lambda: machine.rerun(inputs, run.get("blas_threads")), repeat)
    again = machine.read_outputs()
    session.run(None, inputs)  # warm-up
    ort_s, _, ref = best(lambda: session.run(None, inputs), max(repeat, 5))
    names = [o.name for o in session.get_outputs()]
    err = max(
        max_rel_err(outputs, zip(names, ref, strict=True)),
        max_rel_err(again, zip(names, ref, strict=True)),
    )
    instructions = sum(stats["instructions"].values())
    return {
        "model": name if without is None else f"{name} (no {without})",
        "instructions": f"{instructions:,}",
        "sim median ms": f"{1e3 * sim_med:.1f}",
        "sim CPU ms": f"{1e3 * sim_cpu:.1f}",
        "sim instr/s": f"{instructions / sim_s:,.0f}",
        "us / instr": f"{1e6 * sim_s / instructions:.1f}",
        **figures(stats, compile_s, sim_s, ort_s, err),
        "loaded: infer ms": f"{1e3 * infer_s:,.1f}",
        "infer / ort": f"{infer_s / ort_s:,.1f}x",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chip", default="default", help="chip preset (default: default)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="simulator runs per model, the best is reported (default 3)")
    models = EXAMPLES + ZOO
    parser.add_argument("--models", nargs="*", default=models, choices=models,
                        help="models to run (default: all four)")
    parser.add_argument("--check-races", action="store_true", help="run with race checking on")
    parser.add_argument("--trace", action="store_true", help="run with the per-instruction trace on")
    parser.add_argument("--blas-threads", type=int, metavar="N",
                        help="threads NumPy's BLAS may use in the simulator (default: its own, 1)")
    parser.add_argument("--ort-threads", type=int, default=2, metavar="N",
                        help="onnxruntime's intra-op threads (default 2)")
    parser.add_argument("--without", action="append", default=[], metavar="NAME",
                        choices=sorted(OPTIMIZATIONS),
                        help="also run each model compiled with optimisation NAME off "
                        "(repeatable)")
    args = parser.parse_args()
    run: dict[str, Any] = {k: True for k in ("check_races", "trace") if getattr(args, k)}
    if args.blas_threads is not None:
        run["blas_threads"] = args.blas_threads
    rows = [
        bench(m, args.chip, args.repeat, args.ort_threads, without, **run)
        for m in args.models
        for without in (None, *args.without)
    ]
    flags = ", ".join(k for k, v in run.items() if v is True) or "no checking, no trace"
    blas = args.blas_threads or 1
    print(
        f"chip '{args.chip}', best of {args.repeat} simulator runs ({flags}; BLAS on "
        f"{blas} thread{'s' if blas > 1 else ''}); onnxruntime CPU on "
        f"{args.ort_threads} intra-op threads, best of {max(args.repeat, 5)}"
    )
    print()
    print_table(rows)
    for row in rows:
        if row["model"].split(" ")[0] in ZOO:
            print(
                f"\n{row['model']}: simulate {row['sim ms']} ms = {row['sim / ort']} "
                f"onnxruntime's {row['onnxruntime ms']} ms (target: at most 3x); "
                f"on a loaded machine {row['loaded: infer ms']} ms = {row['infer / ort']}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

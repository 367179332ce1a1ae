"""Compile and simulate the example models; print a Markdown table of figures.

For each model: accel IR size (ops after the full pipeline), compile wall time,
binary size, instructions after repeat expansion, simulated cycles, how many times
the model's ideal roofline they are, and PE utilisation, simulator wall time and its throughput (simulated instructions per
wall second), and onnxruntime's wall time on the same inputs in the same run (the
peer), with the ratio simulator / onnxruntime.

    .venv/bin/python bench/bench_models.py [--chip default] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import onnx
import onnxruntime as ort
from common import best, example, figures, max_rel_err, print_table
from tidal.passes.pipeline import compile_module
from tidal.sim.config import get_chip
from tidal.sim.isa import decode_container
from tidal.sim.machine import run_program
from tidal.targets.binary import encode
from tidal.targets.onnx_import import import_onnx
from tidal.tools.common import attach_model_work
from xdsl.context import Context

models = example("models")


def bench(name: str, chip: str, repeat: int) -> dict[str, object]:
    model = models.MODELS[name]()
    inputs = models.make_inputs(model)
    path = Path(tempfile.mkdtemp()) / f"{name}.onnx"
    onnx.save(model, path)

    def compile_once() -> tuple[int, bytes]:
        module = import_onnx(path)
        attach_model_work(module)  # as tidal-compile does: the stats' ideal roofline
        compile_module(module, chip, Context())
        return sum(1 for _ in module.walk()), encode(module)

    compile_s, _, (ops, data) = best(compile_once, repeat)
    program = decode_container(data)
    sim_s, _, (outputs, stats) = best(lambda: run_program(program, inputs, get_chip(chip)), repeat)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    session.run(None, inputs)  # warm-up
    ort_s, _, ref = best(lambda: session.run(None, inputs), max(repeat, 5))
    err = max_rel_err(outputs, zip([o.name for o in session.get_outputs()], ref))
    instructions = sum(stats["instructions"].values())
    return {
        "model": name,
        "accel ops": ops,
        "binary MB": f"{len(data) / 1e6:.1f}",
        "instr/s": f"{instructions / sim_s:,.0f}",
        **figures(stats, compile_s, sim_s, ort_s, err),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chip", default="default")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--models", nargs="*", default=["mlp", "cnn", "resnet50-trunk"],
                        choices=list(models.MODELS))
    args = parser.parse_args()
    rows = [bench(m, args.chip, args.repeat) for m in args.models]
    print(f"chip '{args.chip}', best of {args.repeat}")
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())

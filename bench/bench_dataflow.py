"""How far each model runs from its ideal roofline, and what each optimisation buys.

For the nine light zoo models (random weights, examples/zoo.py), the two demo
models (examples/models.py: mlp and cnn, with their seeded inputs) and a model
exported by TensorFlow's exporter (test/data/real/keras_mobilenet_v3_small.onnx,
bench/export_keras.py: NHWC, a transpose pair around every conv), compiled with
`tidal_compile.compile_to_bytes` and run with `machine.run_program`: one Markdown
row per model,

| model | cycles | ideal (bound) | × ideal | model MAC util | DRAM MB moved / min | max rel err | no eltwise-partitions | ... | all off |
|---|---|---|---|---|---|---|---|---|---|
| resnet50 | 2,084,554 | 355,348 (memory) | 5.87× | 11.97% | 116.6 / 103.1 (1.13×) | 6.1e-07 | 1.00× | ... | 7.24× |

(ResNet-50 on the default chip with every optimisation of issue 11; the README
has the whole table)

- cycles: simulated cycles with every optimisation on;
- ideal (bound): the model's ideal roofline, max(model MACs / (pe_rows * pe_cols),
  (weight + input + output bytes) / dram_bytes_per_cycle), counted on the ONNX
  graph's shapes (passes/analysis/model_work.py), and which term bounds it;
- capacity bound (× ideal): a tighter lower bound when the weights do not fit on
  chip (`model_work.capacity_bound_cycles`: the weights of the layers still to run
  wait in SBUF and PSUM at most, so what does not fit streams after the compute
  before it), and its ratio to the ideal; × capacity bound: cycles / that bound;
- PE busy (× ideal): the cycles the PE array spends on its instructions (matmuls
  streaming and the weight loads they expose) and their ratio to the ideal: no
  schedule runs the program in fewer cycles, so a ratio above a target says the
  kernels' matmuls, not the overlap of engines, stand between the model and it
  (few channels or pixels fill part of the 128 x 128 array: a 7x7 plane streams
  49 columns in an instruction of at least 64 cycles);
- × ideal: cycles / ideal; model MAC util: model MACs / (cycles * pe_rows * pe_cols);
- DRAM MB moved / min: bytes the program moved through DRAM, the model's minimum
  (each weight, input and output once) and their ratio;
- WAITs / instructions: WAIT records of the binary (each runs once) over all its
  records, HALTs included; the waits folded into other instructions
  (accel-fold-waits) are not records of their own;
- max rel err: the worst max|out - ref| / max|ref| against onnxruntime over every
  run of the model (all on, each off, all off);
- no NAME: cycles with that one optimisation off (every name of
  passes.pipeline.OPTIMIZATIONS, read when the script runs) over cycles with all on:
  "1.8×" is 1.8 times slower without it; all off: every optimisation off.

Every run's outputs are compared with onnxruntime on the same model and inputs; a
run that disagrees (max rel err > 1e-3) or fails to compile or run is named on
stderr after the table and the script exits 1. Progress goes to stderr. The figures
are deterministic (simulated cycles): one run of each configuration is enough.

    .venv/bin/python bench/bench_dataflow.py [--chip default] [--no-ablation] [--only-opt NAME]
        [--json figures.json] [NAME ...]

12 models x (2 + optimisations) compiles and simulations take many minutes.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from common import ROOT, example, max_rel_err, print_table, ratio
from tidal.passes.analysis.model_work import capacity_bound_cycles
from tidal.passes.pipeline import OPTIMIZATIONS
from tidal.sim.config import UnknownChipError, get_chip
from tidal.sim.errors import SimError
from tidal.sim.isa import W_OPCODE, Opcode, decode_container
from tidal.sim.machine import run_program
from tidal.tools.files import ToolError
from tidal.targets.onnx_import import import_onnx
from tidal.tools.tidal_compile import compile_to_bytes

TOLERANCE = 1e-3
DEMOS = ("mlp", "cnn")
# Exported models committed as test data, each beside its NAME-inputs.npz.
REAL = ("keras_mobilenet_v3_small",)
REAL_DIR = ROOT / "test" / "data" / "real"


def load(name: str) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    """A zoo model with random weights and its input, a demo model and its seeded
    inputs, or an exported model and its committed inputs."""
    if name in REAL:
        with np.load(REAL_DIR / f"{name}-inputs.npz") as npz:
            return onnx.load(REAL_DIR / f"{name}.onnx"), dict(npz)
    if name in DEMOS:
        models = example("models")
        model = models.MODELS[name]()
        return model, models.make_inputs(model)
    return example("zoo").load_zoo_model(name)


def configurations(
    ablation: bool, only: Collection[str] = ()
) -> list[tuple[str, frozenset[str]]]:
    """(label, optimisations off): all on, then each one off, then all off; with
    `only`, just those off ("all" among them: all off)."""
    if not ablation:
        return [("all on", frozenset())]
    names = [n for n in OPTIMIZATIONS if not only or n in only]
    each = [(f"no {name}", frozenset({name})) for name in names]
    last = [("all off", frozenset({"all"}))] if not only or "all" in only else []
    return [("all on", frozenset()), *each, *last]


def run(
    path: Path, inputs: dict[str, np.ndarray], chip: str, disabled: Collection[str]
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    program = decode_container(compile_to_bytes(str(path), chip, disabled=disabled))
    outputs, stats = run_program(program, inputs, get_chip(chip))
    records = np.concatenate(list(program.streams.values()))
    stats["records"] = len(records)
    stats["wait_records"] = int(np.count_nonzero(records[:, W_OPCODE] == Opcode.WAIT))
    stats["pe_busy_cycles"] = stats["engines"]["pe"]["busy_cycles"]
    return outputs, stats


FIGURES = (
    "cycles", "macs", "dma_dram_bytes", "moved_roofline_cycles", "pe_mac_utilization",
    "model_macs", "model_min_dram_bytes", "ideal_roofline_cycles", "ideal_bound",
    "ideal_ratio", "model_mac_utilization", "dram_over_min", "records", "wait_records",
    "pe_busy_cycles",
)


def bench(
    name: str, chip: str, ablation: bool, failures: list[str], only: Collection[str] = ()
) -> dict[str, Any]:
    """Every configuration of model `name`: {"model", "runs": {label: figures}}, the
    figures being the stats' FIGURES and "max_rel_err" (or "error": a message)."""
    model, inputs = load(name)
    runs: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.onnx"
        onnx.save(model, path)
        del model
        ref = example("zoo").reference(path, inputs)
        bound = capacity_bound_cycles(import_onnx(onnx.load(path)), get_chip(chip))
        for label, disabled in configurations(ablation, only):
            started = time.perf_counter()
            try:
                outputs, stats = run(path, inputs, chip, disabled)
            except (ToolError, SimError) as e:
                runs[label] = {"error": str(e)}
                failures.append(f"{name} ({label}): {e}")
                print(f"  {name} ({label}): {e}", file=sys.stderr, flush=True)
                continue
            err = max_rel_err(outputs, ref.items())
            runs[label] = {k: stats[k] for k in FIGURES if k in stats} | {"max_rel_err": err}
            if not err <= TOLERANCE:  # a NaN disagrees too
                failures.append(
                    f"{name} ({label}): max rel err {err:.2e} against onnxruntime "
                    f"(tolerance {TOLERANCE:g})"
                )
            note = f" ({ratio(stats['ideal_ratio'])} ideal)" if "ideal_ratio" in stats else ""
            print(
                f"  {name} ({label}): {stats['cycles']:,} cycles{note}, max rel err "
                f"{err:.1e}, {time.perf_counter() - started:.0f} s",
                file=sys.stderr, flush=True,
            )
    return {"model": name, "capacity_bound_cycles": bound, "runs": runs}


def row(result: dict[str, Any]) -> dict[str, str]:
    """One table row (see the module docstring)."""
    runs = result["runs"]
    on = runs["all on"]
    if "error" in on:
        return {"model": result["model"], "cycles": "error"}
    cycles = on["cycles"]
    errs = [r["max_rel_err"] for r in runs.values() if "max_rel_err" in r]
    cells = {"model": result["model"], "cycles": f"{cycles:,}"}
    if "ideal_roofline_cycles" in on:
        moved, least = on["dma_dram_bytes"] / 1e6, on["model_min_dram_bytes"] / 1e6
        cells |= {
            "ideal (bound)": f"{on['ideal_roofline_cycles']:,} ({on['ideal_bound']})",
            "× ideal": ratio(on["ideal_ratio"]),
            "capacity bound (× ideal)": f"{result['capacity_bound_cycles']:,} "
            f"({ratio(result['capacity_bound_cycles'] / on['ideal_roofline_cycles'])})",
            "× capacity bound": ratio(cycles / result["capacity_bound_cycles"]),
            "PE busy (× ideal)": f"{on['pe_busy_cycles']:,.0f} "
            f"({ratio(on['pe_busy_cycles'] / on['ideal_roofline_cycles'])})",
            "model MAC util": f"{100 * on['model_mac_utilization']:.2f}%",
            "DRAM MB moved / min": f"{moved:,.1f} / {least:,.1f} "
            f"({ratio(on['dram_over_min'])})",
        }
    if "wait_records" in on:
        cells["WAITs / instructions"] = (
            f"{on['wait_records']:,} / {on['records']:,} "
            f"({100 * on['wait_records'] / on['records']:.1f}%)"
        )
    cells["max rel err"] = f"{max(errs):.1e}"
    for label, figures in runs.items():
        if label == "all on":
            continue
        cells[label] = ratio(figures["cycles"] / cycles) if "cycles" in figures else "error"
    return cells


def main() -> int:
    zoo = example("zoo")
    known = [*zoo.MODELS, *DEMOS, *REAL]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chip", default="default", help="chip preset (default: default)")
    parser.add_argument("--no-ablation", action="store_true",
                        help="run with every optimisation on only (no column per optimisation)")
    parser.add_argument("--json", metavar="FILE", help="write the raw figures of every run here")
    parser.add_argument("--only-opt", action="append", default=[], metavar="NAME",
                        choices=[*OPTIMIZATIONS, "all"],
                        help="ablate only this optimisation (repeatable; 'all': the all-off "
                        "column; default: every one and all off)")
    parser.add_argument("models", nargs="*", metavar="NAME",
                        help=f"models to run (default: all of {', '.join(known)})")
    args = parser.parse_args()
    if unknown := [n for n in args.models if n not in known]:
        parser.error(f"unknown model '{unknown[0]}' (known: {', '.join(known)})")
    try:
        get_chip(args.chip)  # an unknown preset fails before minutes of work
    except UnknownChipError as e:
        parser.error(str(e))
    names = args.models or known
    configs = configurations(not args.no_ablation, args.only_opt)
    print(f"{len(names)} models x {len(configs)} configurations on chip '{args.chip}' "
          f"(optimisations: {', '.join(OPTIMIZATIONS)})", file=sys.stderr, flush=True)
    failures: list[str] = []
    results = []
    for i, name in enumerate(names, 1):
        print(f"[{i}/{len(names)}] {name}", file=sys.stderr, flush=True)
        results.append(bench(name, args.chip, not args.no_ablation, failures, args.only_opt))
    if args.json:
        payload = {"chip": args.chip, "optimizations": list(OPTIMIZATIONS), "models": results}
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"chip '{args.chip}'; no NAME: cycles with NAME off / cycles with all on")
    rows = [row(r) for r in results]
    keys = list(dict.fromkeys(k for r in rows for k in r))
    print_table([{k: r.get(k, "-") for k in keys} for r in rows])
    for failure in failures:
        print(f"bench_dataflow: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

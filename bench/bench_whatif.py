"""What binds each model: its binary run again with one of the chip's costs made
(almost) free, `tidal-sim --what-if` (tidal.sim.config.what_if).

For each model of the onnx light zoo (random weights, examples/zoo.py), compiled once
for the preset: its cycles as a multiple of its ideal roofline on the preset, then the
same binary's cycles, as a multiple of the same ideal, on the preset with

- DRAM ×10: ten times the DRAM bandwidth (`dram_bytes_per_cycle`);
- no DMA latency: descriptors without their fixed cost (`dma_fixed_latency_cycles` 0);
- PE loads free: stationary operands without load or fill/drain cycles;
- ACT ×100, POOL ×100: those engines a hundred times as fast, without their fixed
  cost per instruction;
- only PE: all of the above at once, which leaves the PE array's own instructions
  (and the order the program gives them) as the bound.

"binds" names the single change that saves the most (when it saves at least 2 %).
"critical path" is the preset run's own (`tidal-sim --critical-path`,
tidal.sim.critical): the share of its chain of instructions, each started by the
one before it, on each engine, and the source op with the most cycles on it; what a
change saves is at most what that change takes off this chain.
What a change saves is what that resource costs the program as compiled: the
compiler chose its tiles, overlap and synchronisation for the preset, so a free
resource shows how much of the time waits on it, not what a compiler targeting a
faster chip would reach. The outputs of every what-if run must equal the preset's
run bit for bit (costs move when instructions end, never what they compute): the
"same outputs" column says so. A benchmark, not a test: it asserts nothing about
time.

    .venv/bin/python bench/bench_whatif.py [--chip default] [NAME ...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
from common import example, print_table, ratio
from tidal.sim.config import ChipConfig, get_chip, what_if
from tidal.sim.critical import summary
from tidal.sim.isa import decode_container
from tidal.sim.machine import run_program
from tidal.tools.tidal_compile import compile_to_bytes

zoo = example("zoo")

SCENARIOS: dict[str, Callable[[ChipConfig], dict[str, float]]] = {
    "DRAM ×10": lambda c: {"dram_bytes_per_cycle": 10 * c.dram_bytes_per_cycle},
    "no DMA latency": lambda c: {"dma_fixed_latency_cycles": 0},
    "PE loads free": lambda c: {"pe_weight_load_cycles": 0, "pe_fill_drain_cycles": 0},
    "ACT ×100": lambda c: {"act_elems_per_cycle_per_lane": 100 * c.act_elems_per_cycle_per_lane, "act_fixed_cycles": 0},
    "POOL ×100": lambda c: {"pool_elems_per_cycle_per_lane": 100 * c.pool_elems_per_cycle_per_lane, "pool_fixed_cycles": 0},
}
ONLY_PE = ("DRAM ×10", "no DMA latency", "ACT ×100", "POOL ×100")
BINDS_MIN = 0.02  # the least saving "binds" names


def bench(name: str, chip_name: str) -> dict[str, str]:
    model, inputs = zoo.load_zoo_model(name)
    path = Path(tempfile.mkdtemp()) / f"{name}.onnx"
    onnx.save(model, path)
    program = decode_container(compile_to_bytes(str(path), chip_name))
    chip = get_chip(chip_name)
    base_out, base = run_program(program, inputs, chip, critical_path=True)
    ideal = base["ideal_roofline_cycles"]
    row = {"model": name, "cycles": f"{base['cycles']:,}", "× ideal": ratio(base["cycles"] / ideal)}
    same = True
    savings: dict[str, float] = {}
    runs = {label: make(chip) for label, make in SCENARIOS.items()}
    runs["only PE"] = {k: v for label in ONLY_PE for k, v in SCENARIOS[label](chip).items()}
    for label, changes in runs.items():
        out, stats = run_program(program, inputs, what_if(chip, changes))
        same = same and all(np.array_equal(out[k], base_out[k]) for k in base_out)
        row[label] = ratio(stats["cycles"] / ideal)
        if label in SCENARIOS:
            savings[label] = 1 - stats["cycles"] / base["cycles"]
    top = max(savings, key=savings.__getitem__)
    row["binds"] = f"{top} (-{100 * savings[top]:.0f} %)" if savings[top] >= BINDS_MIN else "-"
    row["critical path"] = summary(base["critical_path"])
    row["same outputs"] = "yes" if same else "NO"
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chip", default="default")
    parser.add_argument("models", nargs="*", default=list(zoo.MODELS))
    args = parser.parse_args()
    unknown = [m for m in args.models if m not in zoo.MODELS]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)} (known: {', '.join(zoo.MODELS)})")
    rows = [bench(name, args.chip) for name in args.models]
    print(f"chip '{args.chip}': cycles as a multiple of each model's ideal roofline on the preset\n")
    print_table(rows)
    return 0 if all(r["same outputs"] == "yes" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

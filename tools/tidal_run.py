"""tidal-run MODEL -o/--outputs OUT.npz --inputs IN.npz [--stats S.json] [--chip P]:
compile a model and run it on the hardware model."""

from __future__ import annotations

import argparse
import json

import numpy as np

from tidal.sim.config import PRESETS, get_chip
from tidal.sim.errors import SimError
from tidal.sim.isa import BinaryFormatError, decode_container
from tidal.sim.machine import run_program
from tidal.tools.common import ToolError, fail, write_atomic
from tidal.tools.tidal_compile import compile_to_bytes

TOOL = "tidal-run"


def run_model(path: str, inputs: dict[str, np.ndarray], chip: str = "default"):
    """Compile `path` for `chip` and simulate it: (outputs, stats)."""
    data = compile_to_bytes(path, chip)
    try:
        return run_program(decode_container(data), inputs, get_chip(chip))
    except (SimError, BinaryFormatError) as e:
        raise ToolError(str(e)) from None


def load_npz(path: str) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except (OSError, ValueError) as e:
        raise ToolError(f"{path}: cannot read inputs ({e})") from None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=TOOL, description=__doc__)
    parser.add_argument("model", help="ONNX model (.onnx) or graph-level IR (.mlir)")
    parser.add_argument("--inputs", required=True, help=".npz keyed by the model's input names")
    parser.add_argument("--outputs", required=True, help=".npz to write, keyed by output names")
    parser.add_argument("--stats", help="JSON file for cycles, utilisation, per-engine counts")
    parser.add_argument("--chip", default="default", help=f"chip preset ({', '.join(PRESETS)})")
    args = parser.parse_args(argv)
    try:
        outputs, stats = run_model(args.model, load_npz(args.inputs), args.chip)
    except ToolError as e:
        fail(TOOL, str(e))

    def save_outputs(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **outputs)

    def save_stats(tmp: str) -> None:
        with open(tmp, "w") as f:
            json.dump(stats, f, indent=2)

    write_atomic(args.outputs, save_outputs)
    if args.stats:
        write_atomic(args.stats, save_stats)
    print(
        f"{TOOL}: {stats['cycles']} cycles, PE utilisation "
        f"{100 * stats['pe_utilization']:.2f}% -> {args.outputs}"
    )


if __name__ == "__main__":
    main()

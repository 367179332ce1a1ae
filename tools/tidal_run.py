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
from tidal.tools.files import ToolError, fail, npz_bytes, read_npz, write_files
from tidal.tools.tidal_compile import compile_to_bytes

TOOL = "tidal-run"


def run_model(path: str, inputs: dict[str, np.ndarray], chip: str = "default"):
    """Compile `path` for `chip` and simulate it: (outputs, stats)."""
    data = compile_to_bytes(path, chip)
    try:
        return run_program(decode_container(data), inputs, get_chip(chip))
    except (SimError, BinaryFormatError) as e:
        raise ToolError(str(e)) from None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=TOOL, description=__doc__)
    parser.add_argument("model", help="ONNX model (.onnx) or graph-level IR (.mlir)")
    parser.add_argument("--inputs", required=True, help=".npz keyed by the model's input names")
    parser.add_argument("--outputs", required=True, help=".npz to write, keyed by output names")
    parser.add_argument("--stats", help="JSON file for cycles, utilisation, per-engine counts")
    parser.add_argument("--chip", default="default", help=f"chip preset ({', '.join(PRESETS)})")
    args = parser.parse_args(argv)
    try:
        outputs, stats = run_model(args.model, read_npz(args.inputs), args.chip)
        payloads = [(args.outputs, npz_bytes(outputs))]
        if args.stats:
            payloads.append((args.stats, json.dumps(stats, indent=2).encode()))
        write_files(payloads)
    except ToolError as e:
        fail(TOOL, str(e))
    print(
        f"{TOOL}: {stats['cycles']} cycles, PE utilisation "
        f"{100 * stats['pe_utilization']:.2f}% -> {args.outputs}"
    )


if __name__ == "__main__":
    main()

"""tidal-sim: run a Tidal binary on the hardware model.

    tidal-sim model.tbin --inputs in.npz --outputs out.npz [--stats s.json] [--chip P]

Bad input of any kind ends in one line `tidal-sim: error: <message>` on stderr and
exit status 1; the outputs and stats files are written whole or not at all.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence


from tidal.sim import isa
from tidal.sim.config import UnknownChipError, get_chip
from tidal.sim.errors import SimError
from tidal.sim.machine import run_program
from tidal.tools.files import ToolError, npz_bytes, read_npz, write_files

PROG = "tidal-sim"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG, description="Run a Tidal binary on the hardware model."
    )
    p.add_argument("binary", help="the .tbin file to run")
    p.add_argument(
        "--inputs", required=True, help=".npz with one array per program input"
    )
    p.add_argument(
        "--outputs", required=True, help=".npz to write the program's outputs to"
    )
    p.add_argument("--stats", help="JSON file to write the run statistics to")
    p.add_argument("--chip", help="chip preset to run on (default: the binary's)")
    return p


def _read_binary(path: str) -> isa.Program:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as err:
        raise ToolError(f"cannot read binary '{path}': {err.strerror or err}") from None
    try:
        return isa.decode_container(data)
    except isa.BinaryFormatError as err:
        raise ToolError(f"{path}: {err}") from None


def _run(args: argparse.Namespace) -> str:
    program = _read_binary(args.binary)
    chip = get_chip(args.chip if args.chip is not None else program.chip)
    inputs = read_npz(args.inputs)
    outputs, stats = run_program(program, inputs, chip)
    payloads = [(args.outputs, npz_bytes(outputs))]
    if args.stats:
        payloads.append((args.stats, json.dumps(stats, indent=2).encode() + b"\n"))
    write_files(payloads)
    return (
        f"{PROG}: {stats['cycles']} cycles, {stats['seconds'] * 1e6:.3f} us "
        f"on chip '{chip.name}', PE utilisation {100 * stats['pe_utilization']:.1f}%"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        summary = _run(args)
    except (ToolError, SimError, UnknownChipError) as err:
        message = " ".join(str(err).split())  # one line, whatever the source
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 1
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())

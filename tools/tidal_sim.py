"""tidal-sim: run a Tidal binary on the hardware model.

    tidal-sim model.tbin --inputs in.npz --outputs out.npz [--stats s.json] [--chip P]

Bad input of any kind ends in one line `tidal-sim: error: <message>` on stderr and
exit status 1; the outputs and stats files are written whole or not at all.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import zipfile
from collections.abc import Sequence

import numpy as np

from tidal.sim import isa
from tidal.sim.config import UnknownChipError, get_chip
from tidal.sim.errors import SimError
from tidal.sim.machine import run_program

PROG = "tidal-sim"


class _Failure(Exception):
    """Bad input; the message is the whole diagnostic."""


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
        raise _Failure(f"cannot read binary '{path}': {err.strerror or err}") from None
    try:
        return isa.decode_container(data)
    except isa.BinaryFormatError as err:
        raise _Failure(f"{path}: {err}") from None


def _read_inputs(path: str) -> dict[str, np.ndarray]:
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise _Failure(f"inputs file '{path}' holds one array, not an .npz archive")
        with loaded as npz:
            return {name: npz[name] for name in npz.files}
    except OSError as err:
        raise _Failure(f"cannot read inputs '{path}': {err.strerror or err}") from None
    except (ValueError, EOFError, zipfile.BadZipFile) as err:
        raise _Failure(f"cannot read inputs '{path}': {err}") from None


def _write_all(payloads: list[tuple[str, bytes]]) -> None:
    """Write every file or none: each goes to a temporary file beside its target,
    and only when all are written are they renamed into place."""
    staged: list[tuple[str, str]] = []
    path = ""
    try:
        for path, data in payloads:
            directory = os.path.dirname(os.path.abspath(path))
            fd, tmp = tempfile.mkstemp(
                dir=directory, prefix=".tidal-sim-", suffix=".tmp"
            )
            staged.append((tmp, path))
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        for tmp, path in staged:
            os.replace(tmp, path)
    except OSError as err:
        raise _Failure(f"cannot write '{path}': {err.strerror or err}") from None
    finally:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]
    return buf.getvalue()


def _run(args: argparse.Namespace) -> str:
    program = _read_binary(args.binary)
    chip = get_chip(args.chip if args.chip is not None else program.chip)
    inputs = _read_inputs(args.inputs)
    outputs, stats = run_program(program, inputs, chip)
    payloads = [(args.outputs, _npz_bytes(outputs))]
    if args.stats:
        payloads.append((args.stats, json.dumps(stats, indent=2).encode() + b"\n"))
    _write_all(payloads)
    return (
        f"{PROG}: {stats['cycles']} cycles, {stats['seconds'] * 1e6:.3f} us "
        f"on chip '{chip.name}', PE utilisation {100 * stats['pe_utilization']:.1f}%"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        summary = _run(args)
    except (_Failure, SimError, UnknownChipError) as err:
        message = " ".join(str(err).split())  # one line, whatever the source
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 1
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())

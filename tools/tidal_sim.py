"""tidal-sim: run a Tidal binary on the hardware model.

    tidal-sim model.tbin --inputs in.npz --outputs out.npz [--stats s.json]
        [--trace trace.json] [--plot timeline.png] [--check-races] [--chip P]
        [--blas-threads N] [--what-if FIELD=VALUE ...]

`--what-if` runs the binary with some of the chip's costs changed (rates and
latencies only, `tidal.sim.config.WHAT_IF_FIELDS`), to ask what binds it: with
`--what-if dram_bytes_per_cycle=2900` the cycles are those of a DRAM ten times as
fast. The figures then describe that chip, not the preset (the stats say so under
"what_if").

Bad input of any kind (a corrupt binary, a program that does not fit the chip, wrong
inputs, a deadlock, a race in --check-races mode) ends in one line
`tidal-sim: error: <message>` on stderr and exit status 1; the output files are
written all whole or none at all.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from tidal.sim import critical, isa
from tidal.sim.config import WHAT_IF_FIELDS, UnknownChipError, get_chip, what_if
from tidal.sim.errors import InputError, LoadError, SimError
from tidal.sim.inputs import unread_inputs
from tidal.sim.machine import Machine
from tidal.sim.trace import chrome_trace, plot_timeline
from tidal.tools.common import add_blas_threads, check_chip_option, ideal_note
from tidal.tools.files import (
    NPZ_MAX_BYTES,
    ToolError,
    at,
    check_paths,
    npz_payload,
    read_npz,
    tool_main,
    write_files,
)

PROG = "tidal-sim"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG, description="Run a Tidal binary on the hardware model."
    )
    p.add_argument("binary", help="the .tbin file to run")
    p.add_argument(
        "--inputs", required=True,
        help=".npz with one array per program input; with --runs, a comma-separated "
        "list, one per run (the last repeats)",
    )
    p.add_argument(
        "--outputs", required=True,
        help=".npz to write the program's outputs to; with --runs, one per run, "
        "comma-separated",
    )
    p.add_argument(
        "--runs", type=int, default=1, metavar="N",
        help="run the program N times on the loaded machine: between runs the host "
        "only writes the next inputs (stats 'runs' says what instructions it had to "
        "load; none for a --self-refill binary)",
    )
    p.add_argument(
        "--stats",
        help="JSON file for the run statistics (cycles, per-engine busy/stall/idle, "
        "DMA bytes per queue, fetch stalls, PE utilisation, moved and ideal roofline)",
    )
    p.add_argument(
        "--trace",
        help="Chrome trace-event JSON file of every instruction, stall and "
        "instruction fetch (open in Perfetto)",
    )
    p.add_argument(
        "--plot", help="PNG file: engine occupancy over time and utilisation"
    )
    p.add_argument(
        "--check-races",
        action="store_true",
        help="fail on overlapping SBUF/PSUM accesses in flight on two engines",
    )
    p.add_argument(
        "--critical-path",
        action="store_true",
        help="print the run's critical path: its share on each engine and the source "
        "ops with the most cycles on it (with --stats, also as 'critical_path')",
    )
    p.add_argument("--chip", help="chip preset to run on (default: the binary's)")
    add_blas_threads(p)
    p.add_argument(
        "--what-if",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="run with one of the chip's costs changed, to see what binds the program "
        f"(repeatable; FIELD one of {', '.join(WHAT_IF_FIELDS)})",
    )
    return p


def _what_if(items: Sequence[str]) -> dict[str, float]:
    """--what-if FIELD=VALUE items as {field: value} (each field once)."""
    out: dict[str, float] = {}
    for item in items:
        name, eq, value = item.partition("=")
        name = name.strip()
        if not eq or not name:
            raise ToolError(f"--what-if '{item}': expected FIELD=VALUE")
        if name in out:
            raise ToolError(f"--what-if '{item}': {name} is given twice")
        try:
            out[name] = float(value)
        except ValueError:
            raise ToolError(f"--what-if '{item}': '{value}' is not a number") from None
    return out


def _input_bytes(program: isa.Program) -> dict[str, int]:
    """Each input the program takes and its bytes (float32), for `read_npz` to refuse
    larger arrays before decompressing them; the inputs compiled as constants with
    no bound (feeding one is refused with its own message); the model's inputs the
    program does not read with their declared bytes (one fed is checked, then
    ignored)."""
    out = {str(e["name"]): 4 * math.prod(int(d) for d in e["shape"]) for e in program.inputs}  # type: ignore[union-attr]
    constants = program.meta.get("constant_inputs")
    for name in constants if isinstance(constants, list) else ():
        out.setdefault(str(name), NPZ_MAX_BYTES)
    for name, (shape, dtype) in unread_inputs(program).items():  # checked, then ignored
        if dtype in ("str", "other"):  # (any array: the bound any input has)
            out.setdefault(name, NPZ_MAX_BYTES)
        else:  # (the container's decoder took only NumPy's plain names: UNREAD_DTYPES)
            out.setdefault(name, np.dtype(dtype).itemsize * math.prod(shape))
    return out


def _read_binary(path: str) -> isa.Program:
    try:
        with open(path, "rb") as f:
            data = isa.read_container(f)
        return isa.decode_container(data)
    except OSError as err:
        raise ToolError(f"cannot read binary '{path}': {err.strerror or err}") from None
    except isa.BinaryFormatError as err:
        raise ToolError(f"{path}: {err}") from None


def _run(args: argparse.Namespace) -> str:
    input_paths = args.inputs.split(",")
    output_paths = args.outputs.split(",")
    if len(output_paths) != args.runs:
        raise ToolError(
            f"--outputs names {len(output_paths)} file(s) for {args.runs} run(s): one per run"
        )
    if len(input_paths) > args.runs:
        raise ToolError(f"--inputs names {len(input_paths)} files for {args.runs} run(s)")
    check_chip_option(args.chip)
    check_paths(
        [args.binary, *input_paths], [*output_paths, args.trace, args.plot, args.stats]
    )
    at(f"loading {args.binary}")
    program = _read_binary(args.binary)
    if args.chip is None:
        try:
            chip = get_chip(program.chip)
        except UnknownChipError as err:
            raise ToolError(f"{args.binary}: the binary names {err}") from None
    else:
        chip = get_chip(args.chip)
    changes = _what_if(args.what_if)
    if changes:
        try:
            chip = what_if(chip, changes)
        except ValueError as err:
            raise ToolError(f"--what-if: {err}") from None
    expect = _input_bytes(program)
    feeds = [read_npz(p, expect) for p in input_paths]
    traced = bool(args.trace or args.plot)
    runs: list[dict[str, np.ndarray]] = []
    at(f"simulating {args.binary}")
    try:
        machine = Machine(
            program, chip, trace=traced, check_races=args.check_races,
            critical_path=args.critical_path,
        )
    except LoadError as err:
        raise ToolError(f"{args.binary}: {err}") from None
    for path, feed in zip(input_paths, feeds, strict=True):
        try:
            machine.check_inputs(feed)
        except InputError as err:
            raise ToolError(f"{path}: {err}") from None
    for r in range(args.runs):
        inputs = feeds[min(r, len(feeds) - 1)]
        if r == 0:
            machine.load_inputs(inputs)
            stats = machine.run(args.blas_threads)
        else:
            stats = machine.rerun(inputs, args.blas_threads)
        runs.append(machine.read_outputs())
    payloads = [(path, npz_payload(outputs)) for path, outputs in zip(output_paths, runs)]
    if args.trace:
        events = chrome_trace(stats, chip)
        payloads.append((args.trace, json.dumps(events).encode() + b"\n"))
    if args.plot:
        payloads.append((args.plot, plot_timeline(stats, chip)))
    if changes:
        stats["what_if"] = {k: getattr(chip, k) for k in changes}
    if args.stats:
        summary = {k: v for k, v in stats.items() if not k.endswith("trace")}
        payloads.append((args.stats, json.dumps(summary, indent=2).encode() + b"\n"))
    at(f"writing {', '.join(p for p, _ in payloads)}")
    write_files(payloads)
    summary = (
        f"{PROG}: {stats['cycles']} cycles{ideal_note(stats) if args.runs == 1 else f' in {args.runs} runs'}, "
        f"{stats['seconds'] * 1e6:.3f} us on chip "
        f"'{chip.name}'{_what_if_note(stats)}, PE MAC utilisation "
        f"{100 * stats['pe_mac_utilization']:.2f}%"
    )
    if args.runs > 1:
        summary += f"\n{PROG}: " + "; ".join(
            f"run {i + 1}: {r['cycles']} cycles, host loaded {r['host_instr_bytes']} "
            "instruction bytes"
            for i, r in enumerate(stats["runs"])
        )
    if args.check_races:
        checked = stats["race_check"]["accesses"]
        summary += f"\n{PROG}: no races in {checked} on-chip accesses"
    if args.critical_path:
        summary += "\n" + _critical_report(stats["critical_path"], args.runs > 1)
    return summary


def _critical_report(path: dict[str, Any], last_run: bool = False) -> str:
    """The critical path's summary line (of the last run, with --runs) and its top
    source ops, one per line."""
    which = " of the last run" if last_run else ""
    lines = [f"{PROG}: critical path{which}: {critical.summary(path)}"]
    total = path.get("cycles") or 1.0
    for s in path.get("sources", []):
        source = s["source"] if s["source"] is not None else "(no source)"
        lines.append(
            f"{PROG}:   {s['engine']:<6} {source:<24} {s['opcode']:<13} "
            f"{s['cycles']:>10} cycles {100 * s['cycles'] / total:5.1f}%"
        )
    return "\n".join(lines)


def _what_if_note(stats: dict[str, object]) -> str:
    changes = stats.get("what_if")
    if not isinstance(changes, dict):
        return ""
    return " (what-if " + ", ".join(f"{k}={v:g}" for k, v in changes.items()) + ")"


@tool_main(PROG)
def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs must be at least 1, got {args.runs}")
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

"""tidal-compile MODEL.onnx|MODEL.mlir -o OUT.tbin [--chip PRESET] [--check-numerics]
[--verify-each] [--disable-opt NAME] [--cache-dir DIR] [--self-refill]: compile a model to a Tidal
binary. The module is verified once after the last pass, after every pass with
--verify-each. With a cache (--cache-dir, or $TIDAL_CACHE_DIR), a model whose
accelerator program is cached is not lowered again (docs/cache.md)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, BinaryIO

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation
from xdsl.utils.exceptions import DiagnosticException

from tidal.passes.graph.partition import GraphPartitionPass, placement_counts
from tidal.passes.interpreters.numerics import CannotEvaluate, NumericsMismatch
from tidal.passes.pipeline import (
    Callback,
    PlacementReport,
    Progress,
    TerminalProgress,
    Verify,
    compile_module,
    lowering_passes,
    run_passes,
    split_after,
)
from tidal.passes.utils.expect import PassInputError
from tidal.sim import isa
from tidal.sim.config import PRESETS, UnknownChipError
from tidal.targets.binary import EncodeError, to_program
from tidal.targets.refill import self_refill
from tidal.tools.loop import compile_loop, loop_of
from tidal.tools.cache import (
    BadEntry,
    Cache,
    CacheError,
    StoredBinary,
    add_cache_options,
    cache_from_args,
)
from tidal.tools.common import (
    add_dim_option,
    add_disable_opt,
    add_verify_each,
    attach_model_work,
    check_chip_option,
    context,
    dims_of,
    disabled_opts,
    load_model,
    model_files,
    numerics_checker,
)
from tidal.tools.files import ToolError, at, check_paths, fail, tool_main, write_files

TOOL = "tidal-compile"


def compile_to_program(path: str, chip: str, **options: Any) -> isa.Program:
    """Import, lower and check a model: its binary, ready to be written with
    `isa.write_container` (constants are views of the IR, so the file is never held
    in memory whole). Raises ToolError with one line. The options are
    `compile_to_binary`'s."""
    program = compile_to_binary(path, chip, verbatim=False, **options)
    assert isinstance(program, isa.Program)
    return program


def compile_to_binary(
    path: str,
    chip: str,
    *,
    check_numerics: bool = False,
    inputs: str | None = None,
    report: list[dict[str, str]] | None = None,
    progress: Callable[[str], None] | None = None,
    notes: list[str] | None = None,
    numerics_log: list[str] | None = None,
    disabled: Collection[str] = (),
    verify_each: bool = False,
    cache: Cache | None = None,
    cache_log: list[str] | None = None,
    verbatim: bool = True,
    dims: Mapping[str, int] | None = None,
) -> isa.Program | StoredBinary:
    """Import, lower and check a model: its binary, a program ready to be written
    with `isa.write_container` (constants are views of the IR, so the file is never
    held in memory whole), or with `verbatim` a cache hit stored under the same
    names, to be copied (`StoredBinary.write_to`, then `close`). Raises ToolError
    with one line. `report` collects the
    placement of every op (see graph_partition.placement_report), `notes` what the
    importer did on its own (onnx_import.import_notes), `progress` a line per pass.
    `check_numerics` runs the IR after every pass on `inputs` (an .npz; seeded random
    by default), stops at the first pass that changes the result and puts what it
    checked in `numerics_log` (see passes/interpreters/numerics.py). `disabled`
    switches optimisations off (names of passes.pipeline.OPTIMIZATIONS). The module
    is verified after the last pass, and after every pass with `verify_each` or
    `check_numerics` (the checker evaluates the IR after every pass: it must be
    valid). With a `cache`, the passes up to graph-partition run, then the program
    comes from the cache if the module's key is there, else the rest of the passes
    run and the program is stored; `cache_log` receives what happened ("hit",
    "miss", ...; `verify_each` and `check_numerics` compile and store without
    looking, since they ask for the lowering to be checked)."""
    ctx = context()
    starts: dict[Operation, str] = {}
    module = load_model(path, ctx, starts=starts, dims=dims)
    attach_model_work(module)  # on the graph as the file holds it, before the passes
    if notes is not None and not path.endswith(".mlir"):  # an ONNX model: onnx is loaded
        from tidal.targets.onnx_import import import_notes

        notes.extend(import_notes(module))
    callbacks: list[Callback] = [PlacementReport(report if report is not None else [])]
    if progress is not None:
        callbacks.append(Progress(progress))
    try:
        if check_numerics:
            checker = numerics_checker(module, inputs)
            callbacks.append(checker)
        each = verify_each or check_numerics
        if (loop := loop_of(module)) is not None:  # a loop model: its body, then its blocks
            if check_numerics:
                raise CannotEvaluate(
                    "a graph.loop model's blocks run only on the hardware model "
                    "(--check-numerics cannot evaluate its passes)"
                )
            return compile_loop(module, loop, chip, ctx, disabled=disabled, verify_each=each)
        if cache is None:
            compile_module(module, chip, ctx, callbacks=callbacks, disabled=disabled,
                           verify_each=each)
            program = to_program(module)
        else:
            program = _compile_cached(module, chip, ctx, callbacks, disabled, each,
                                      cache, path, cache_log, verbatim)
        if check_numerics and numerics_log is not None:
            numerics_log.extend(checker.log)
        return program
    except (DiagnosticException, UnknownChipError, EncodeError, NumericsMismatch, CannotEvaluate) as e:
        where = isinstance(e, PassInputError) and starts.get(e.op)
        message = f"{where or path}: {e}"
        if "placed on the host" in message:
            message += " (tidal-run runs host ops with NumPy)"
        elif "placed on the framework tier" in message:
            message += " (tidal-run runs it with onnxruntime)"
        raise ToolError(message) from None


def _compile_cached(
    module: ModuleOp, chip: str, ctx: Context, callbacks: list[Callback], disabled: Collection[str],
    each: bool, cache: Cache, path: str, cache_log: list[str] | None, verbatim: bool,
) -> isa.Program | StoredBinary:
    """`compile_module` and `to_program`, the passes after graph-partition replaced
    by the cache's program when the module's key is there (see compile_to_program)."""
    from tidal.tools.cache_key import segment_key

    whole, rest = split_after(lowering_passes(chip, disabled), GraphPartitionPass)
    run_passes(whole, module, ctx, [Verify(each=each), *callbacks])
    keyed = segment_key(module, chip, disabled)

    def lower() -> isa.Program:
        run_passes(rest, module, ctx, [Verify(each=each), *callbacks])
        return to_program(module)

    warnings: list[str] = []
    program, status = cache.fetch(
        keyed, lower, model=path, lookup=not each, verbatim=verbatim, warn=warnings.append
    )
    if cache_log is not None:
        checked = " (--verify-each and --check-numerics check the lowering)" if each else ""
        cache_log.append(f"cache {status}{checked}: {keyed.key[:12]} in {cache.directory}")
        cache_log.extend(f"warning: {w}" for w in warnings)
    return program


def compile_to_bytes(path: str, chip: str, **options: Any) -> bytes:
    """`compile_to_program` (same options), encoded as one bytes object."""
    return isa.encode_container(compile_to_program(path, chip, **options))


def print_report(rows: list[dict[str, str]], notes: Sequence[str] = ()) -> None:
    """What the importer did on its own, then the placement of every op and why,
    as an aligned table."""
    for note in notes:
        print(f"import: {note}")
    width = max([len(r["origin"]) for r in rows] + [6])
    opw = max([len(r["op"]) for r in rows] + [2])
    print(f"{'origin':<{width}}  {'op':<{opw}}  {'placement':<9}  reason")
    for r in rows:
        print(f"{r['origin']:<{width}}  {r['op']:<{opw}}  {r['placement']:<9}  {r['reason']}")
    counts = placement_counts(rows)
    print(f"{counts['accel']} ops on the accelerator, {counts['host']} on the host, "
          f"{counts['framework']} on the framework tier (onnxruntime), {counts['reject']} rejected")


@tool_main(TOOL)
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=TOOL, description=__doc__)
    parser.add_argument("model", help="ONNX model (.onnx) or graph-level IR (.mlir)")
    parser.add_argument("-o", "--output", required=True, help="binary to write (.tbin)")
    parser.add_argument("--chip", default="default", help=f"chip preset ({', '.join(PRESETS)})")
    parser.add_argument(
        "--check-numerics",
        action="store_true",
        help="run the IR after every pass and stop at the first pass that changes the result",
    )
    parser.add_argument("--inputs", help=".npz inputs for --check-numerics (default: seeded random)")
    parser.add_argument(
        "--report", action="store_true",
        help="print where each op is placed (accelerator, host, rejected) and why",
    )
    parser.add_argument(
        "--self-refill", action="store_true",
        help="split each engine's stream into sections that the engine loads itself "
        "from a DMA ring (REFILL instructions; a rerun needs no host load; "
        "docs/self-refill.md)",
    )
    add_dim_option(parser)
    add_disable_opt(parser)
    add_verify_each(parser)
    add_cache_options(parser)
    args = parser.parse_args(argv)
    report: list[dict[str, str]] = []
    notes: list[str] = []
    numerics_log: list[str] = []
    cache_log: list[str] = []
    try:
        check_chip_option(args.chip)
        if args.inputs is not None and not args.check_numerics:
            raise ToolError(
                "--inputs feeds --check-numerics, which is not given (a binary takes its "
                "inputs when it runs: tidal-sim --inputs)"
            )
        check_paths([*model_files(args.model), args.inputs], [args.output])
        try:
            cache = cache_from_args(args)
        except CacheError as e:
            raise ToolError(str(e)) from None
        at(f"compiling {args.model}")
        with TerminalProgress(TOOL) as progress:
            program = compile_to_binary(
                args.model, args.chip, check_numerics=args.check_numerics,
                inputs=args.inputs, report=report, progress=progress, notes=notes,
                numerics_log=numerics_log, disabled=disabled_opts(args.disable_opt),
                verify_each=args.verify_each, cache=cache, cache_log=cache_log,
                verbatim=not args.self_refill, dims=dims_of(args),
            )
        if args.self_refill:
            assert isinstance(program, isa.Program)
            try:
                program = self_refill(program, PRESETS[args.chip])
            except ValueError as e:
                raise ToolError(f"{args.model}: --self-refill: {e}") from None
        for line in numerics_log:  # once the progress line is closed
            print(line, file=sys.stderr)
        for line in cache_log:
            print(f"{TOOL}: {line}", file=sys.stderr)

        def write_binary(f: BinaryIO) -> None:  # streamed: the weights are never copied
            nonlocal size
            if isinstance(program, StoredBinary):
                try:
                    size = program.write_to(f)
                except BadEntry as e:  # changed under us since it was checked
                    raise ToolError(f"cache entry {program.f.name}: {e}") from None
            else:
                size = isa.write_container(program, f)

        size = 0
        try:
            at(f"writing {args.output}")
            write_files([(args.output, write_binary)])
        finally:
            if isinstance(program, StoredBinary):
                program.close()
    except ToolError as e:
        if args.report and report:
            print_report(report, notes)
        fail(TOOL, str(e))
    if args.report:
        print_report(report, notes)
    print(f"{TOOL}: wrote {args.output} ({size} bytes, chip '{args.chip}')")


if __name__ == "__main__":
    main()

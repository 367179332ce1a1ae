"""tidal-lower: the named pipeline from graph IR to split accel streams.

    graph-canonicalize, graph-partition{chip=C}, graph-to-loop{chip=C},
    loop-to-accel{chip=C}, accel-insert-sync, accel-split-streams

`tidal-opt -p 'tidal-lower{chip=small}'` runs it; tidal-compile runs the same list.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from tidal.passes.utils.quiet import quiet_diagnostics
from tidal.passes.utils.expect import expect_level


def lowering_passes(chip: str) -> list[ModulePass]:
    from tidal.passes.accel.insert_sync import AccelInsertSyncPass
    from tidal.passes.accel.split_streams import AccelSplitStreamsPass
    from tidal.passes.graph.canonicalize import GraphCanonicalizePass
    from tidal.passes.graph.partition import GraphPartitionPass
    from tidal.passes.conversion.graph_to_loop import GraphToLoopPass
    from tidal.passes.conversion.loop_to_accel import LoopToAccelPass

    return [
        GraphCanonicalizePass(),
        GraphPartitionPass(chip=chip),
        GraphToLoopPass(chip=chip),
        LoopToAccelPass(chip=chip),
        AccelInsertSyncPass(),
        AccelSplitStreamsPass(),
    ]


@dataclass(frozen=True)
class TidalLowerPass(ModulePass):
    """Run the whole lowering pipeline for chip preset `chip`."""

    name = "tidal-lower"

    chip: str = field(default="default")

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        expect_level(op, self.name, "graph")
        with quiet_diagnostics():
            for p in lowering_passes(self.chip):
                p.apply(ctx, op)
                op.verify()


def compile_module(
    module: ModuleOp,
    chip: str,
    ctx: Context | None = None,
    *,
    progress: Callable[[str], None] | None = None,
    report: list[dict[str, Any]] | None = None,
) -> ModuleOp:
    """Lower a graph-level module to split accel streams in place; returns it.
    Raises PassFailedException (or UnknownChipError) with a one-line message.

    `progress`, if given, is called with one line before each pass
    ("[3/6] graph-to-loop") and once at the end ("compiled in 2.4 s");
    `TerminalProgress` shows them on a terminal. `report`, if given, is extended with
    graph-partition's placement rows (see `graph_partition.placement_report`) while
    the graph ops still exist."""
    ctx = ctx or Context()
    passes = lowering_passes(chip)
    start = time.perf_counter()
    with quiet_diagnostics():
        for i, p in enumerate(passes, start=1):
            if progress is not None:
                progress(f"[{i}/{len(passes)}] {p.name}")
            p.apply(ctx, module)
            module.verify()
            if report is not None and p.name == "graph-partition":
                from tidal.passes.graph.partition import placement_report

                report.extend(placement_report(module, chip))
    if progress is not None:
        progress(f"compiled in {time.perf_counter() - start:.1f} s")
    return module


class TerminalProgress:
    """Progress lines for `compile_module`, on one overwritten line of `stream`
    (stderr by default) when it is a terminal, and nothing otherwise:

        with TerminalProgress("tidal-compile") as progress:
            compile_module(module, chip, ctx, progress=progress)
    """

    def __init__(self, prefix: str = "", stream: IO[str] | None = None):
        self.stream = stream if stream is not None else sys.stderr
        self.prefix = f"{prefix}: " if prefix else ""
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.shown = False

    def __call__(self, message: str) -> None:
        if not self.enabled:
            return
        self.stream.write(f"\r\x1b[K{self.prefix}{message}")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
            self.shown = False

    def __enter__(self) -> TerminalProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

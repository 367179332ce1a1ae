"""tidal-lower: the named pipeline from graph IR to split accel streams.

    graph-canonicalize, graph-partition{chip=C}, graph-to-loop{chip=C},
    loop-to-accel{chip=C}, accel-insert-sync, accel-split-streams

`tidal-opt -p 'tidal-lower{chip=small}'` runs it; tidal-compile runs the same list.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass


def lowering_passes(chip: str) -> list[ModulePass]:
    from tidal.passes.accel_insert_sync import AccelInsertSyncPass
    from tidal.passes.accel_split_streams import AccelSplitStreamsPass
    from tidal.passes.graph_canonicalize import GraphCanonicalizePass
    from tidal.passes.graph_partition import GraphPartitionPass
    from tidal.passes.graph_to_loop import GraphToLoopPass
    from tidal.passes.loop_to_accel import LoopToAccelPass

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
        for p in lowering_passes(self.chip):
            p.apply(ctx, op)
            op.verify()


def compile_module(module: ModuleOp, chip: str, ctx: Context | None = None) -> ModuleOp:
    """Lower a graph-level module to split accel streams in place; returns it.
    Raises PassFailedException (or UnknownChipError) with a one-line message."""
    ctx = ctx or Context()
    for p in lowering_passes(chip):
        p.apply(ctx, module)
        module.verify()
    return module

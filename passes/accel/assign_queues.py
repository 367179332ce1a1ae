"""accel-assign-queues: choose the DMA queue of every accel.dma.

Expects an accel.program in unified order (as loop-to-accel emits it, every DMA on
queue 0), before accel-insert-sync: synchronisation waits for engines, and a DMA's
queue is its engine. Walking the program in order, a DMA that writes DRAM (a store)
goes on the chip's last queue, and every other DMA (loads, on-chip copies) on the
other queues in turn, so that loads overlap with each other and with stores. A chip
with one queue puts every DMA on it. Queues already chosen are chosen again by the
same rule, so running the pass twice changes nothing.

    accel.program "small" dram 5952 {          (the small chip has two queues)
      accel.dma 0 <dram 0, ...> -> <sbuf 0, 0, ...>
      accel.dma 0 <dram 512, ...> -> <sbuf 0, 64, ...>
      accel.dma 0 <sbuf 0, 128, ...> -> <dram 1024, ...>
  becomes
      accel.dma 0 <dram 0, ...> -> <sbuf 0, 0, ...>
      accel.dma 0 <dram 512, ...> -> <sbuf 0, 64, ...>
      accel.dma 1 <sbuf 0, 128, ...> -> <dram 1024, ...>
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, i64
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from tidal.dialects.accel import DmaOp, InstructionOp, ProgramOp, WaitOp
from tidal.passes.utils.expect import PassInputError, expect_level
from tidal.sim.config import UnknownChipError, get_chip


def queue_order(stores: list[bool], queues: int) -> list[int]:
    """The queue of each DMA in program order, given which ones are stores:
    `queue_order([False, False, True, False], 3)` is `[0, 1, 2, 0]`."""
    last = queues - 1
    out: list[int] = []
    loads = 0
    for store in stores:
        if store or last == 0:
            out.append(last)
            continue
        out.append(loads % last)
        loads += 1
    return out


class AssignQueuesPattern(RewritePattern):
    """Set the queue of every DMA of a unified-order program (module docstring)."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, program: ProgramOp, rewriter: PatternRewriter) -> None:
        if program.streams:  # (a program without instructions is not split)
            raise PassInputError(
                "accel-assign-queues: the program is split into streams, whose "
                "engines fix the queues; assign queues before accel-split-streams",
                program,
            )
        for op in program.walk():
            if isinstance(op, WaitOp) or (
                isinstance(op, InstructionOp) and op.signal is not None
            ):
                raise PassInputError(
                    "accel-assign-queues: the program is synchronised (waits and "
                    "signals name DMA queues); assign queues before accel-insert-sync",
                    op,
                )
        try:
            queues = get_chip(program.chip.data).dma_queues
        except UnknownChipError as e:
            raise PassInputError(f"accel-assign-queues: {e}", program) from None
        dmas = [op for op in program.walk() if isinstance(op, DmaOp)]
        chosen = queue_order([dma.dst.space == "dram" for dma in dmas], queues)
        for dma, queue in zip(dmas, chosen, strict=True):
            if dma.queue.value.data != queue:
                dma.queue = IntegerAttr(queue, i64)
                rewriter.notify_op_modified(dma)


@dataclass(frozen=True)
class AccelAssignQueuesPass(ModulePass):
    """Put stores on the last DMA queue and spread the other DMAs over the rest."""

    name = "accel-assign-queues"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        expect_level(op, self.name, "accel")
        PatternRewriteWalker(
            AssignQueuesPattern(), apply_recursively=False
        ).rewrite_module(op)

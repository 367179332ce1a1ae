"""accel-prune-waits: erase the waits that other waits already imply.

A wait that accel-insert-sync placed for one dependence is often implied by the
others: the engine already waited for an instruction that itself followed the one
this wait is for (a load the matmul's wait on the queue covers; a DMA's wait on its
own queue when it also waits for the matmul that read the previous tile). The pass
runs the program abstractly with vector clocks, as accel-verify-sync does
(`verify_sync.implied_waits`), and erases every wait op none of whose instances
(over its repeats' iterations) orders anything its engine's clock did not already
order. Happens-before is unchanged, so a program free of races stays free of them;
the transitive reduction of the synchronisation across engines and iterations. A
program that deadlocks is left as it is (accel-verify-sync reports it).

    accel.stream pe {
      accel.wait pe sem 3 >= 2        (the load of %w; the act below waited for it)
      accel.wait pe sem 1 >= 1        (act, which waited for dma0 sem 3 >= 2)
      accel.matmul ...
  becomes
    accel.stream pe {
      accel.wait pe sem 1 >= 1
      accel.matmul ...
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from tidal.passes.accel.verify_sync import implied_waits
from tidal.passes.utils.expect import PassInputError, accel_programs
from tidal.sim.config import UnknownChipError


@dataclass(frozen=True)
class AccelPruneWaitsPass(ModulePass):
    """Erase every wait whose ordering the engine's other waits already give."""

    name = "accel-prune-waits"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for program in accel_programs(op, self.name):
            try:
                waits = implied_waits(program)
            except UnknownChipError as e:
                raise PassInputError(f"{self.name}: {e}", program) from None
            for wait in waits:
                wait.detach()
                wait.erase()

"""accel-fold-waits: a wait becomes a field of the instruction it holds back.

US11175919B1 ("Synchronization of concurrent computation engines", Amazon) describes
instructions that "include the ability to wait on a condition associated with a value
in a checkpoint register": a matrix multiply with an optional wait parameter, so that
"an explicit 'checkpoint wait' instruction may not be needed". The Tidal record has
that parameter (header words 5 and 6, `tidal.sim.spec.opcodes`); in the IR it is the
`wait_sem` and `wait_value` properties of any instruction but accel.wait.

An accel.wait whose engine's next instruction in the same block (nothing of that
engine between them, no repeat holding one of its instructions) carries no wait of
its own moves into that instruction. The engine then issues the instruction once the
semaphore holds, exactly when it would have after the wait, so happens-before, and
the verdict of accel-verify-sync, are unchanged; the wait's record, its fetch and its
`sync_cycles` are saved. A wait followed by another wait keeps its own record (an
instruction holds one condition), as does a wait that ends its block.

A wait just before a repeat goes into its engine's first instruction in the repeat's
body (at any depth of nested repeats). That instruction then checks it in every
iteration, but semaphores only count up during a run, so after the first iteration
the condition always holds: the engine waits for the same thing at the same point,
and the instruction costs nothing more (accel-hoist-waits moved most such waits out
of the repeat; this puts them in an instruction, not back in a record of their own).

    accel.stream pe {                        accel.stream pe {
      accel.wait pe sem 3 >= 2 + 1 * i0  ->    accel.matmul ... {wait_sem = 3 : i64,
      accel.matmul ...                            wait_value = #accel.aff<2 + 1 * i0>}

A program with self-modifying instructions (accel.eval, accel.overwrite) is left
alone: they may overwrite an instruction whose wait was meant to stay.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block
from xdsl.passes import ModulePass

from tidal.dialects.accel import (
    InstructionOp,
    ProgramOp,
    RepeatOp,
    WaitOp,
)
from tidal.passes.utils.expect import accel_programs


def _fold_block(block: Block) -> int:
    folded = 0
    pending: dict[str, WaitOp] = {}  # engine -> its last wait, nothing of it after
    for op in list(block.ops):
        if isinstance(op, RepeatOp):
            folded += _fold_block(op.body.block)
            first: dict[str, InstructionOp] = {}  # engine -> its first in the body
            for inner in op.walk():
                if isinstance(inner, InstructionOp):
                    first.setdefault(inner.engine_name(), inner)
            for engine, inner in first.items():
                wait = pending.pop(engine, None)
                if wait is not None and _fold(wait, inner):
                    folded += 1
        elif isinstance(op, WaitOp):
            pending[op.engine_name()] = op
        elif isinstance(op, InstructionOp):
            wait = pending.pop(op.engine_name(), None)
            if wait is not None and _fold(wait, op):
                folded += 1
    return folded


def _fold(wait: WaitOp, op: InstructionOp) -> bool:
    """Move `wait` into `op` if op holds no wait and the wait signals nothing."""
    if isinstance(op, WaitOp) or op.wait is not None or wait.signal is not None:
        return False
    op.set_wait(wait.sem.value.data, wait.value.data)
    wait.detach()
    wait.erase()
    return True


def fold_waits(program: ProgramOp) -> int:
    """Fold every wait of `program` that can go into the instruction after it;
    returns how many were folded."""
    if program.self_modifying:
        return 0
    blocks = [s.body.block for s in program.streams] or [program.body.block]
    return sum(_fold_block(b) for b in blocks)


@dataclass(frozen=True)
class AccelFoldWaitsPass(ModulePass):
    """Fold each wait into the next instruction of its engine."""

    name = "accel-fold-waits"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for program in accel_programs(op, self.name):
            fold_waits(program)

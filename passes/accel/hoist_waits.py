"""accel-hoist-waits: a wait that every iteration of a repeat repeats moves before it.

accel-insert-sync puts a wait where its instruction is, so a wait inside a repeat
runs once per iteration even when its value does not grow with the repeat's index:
a matmul of an accumulation group waits again, in every one of its K steps, for the
evacuation of the bank's previous group, which the first step already waited for.
Semaphores only count up during a run, so once an engine has passed `sem >= v`,
every later wait of that engine for `sem >= v' <= v` is satisfied when it is
reached: it costs an instruction (its fetch and `sync_cycles`) and orders nothing.
accel-prune-waits cannot erase it, since its first instance is needed.

This pass moves such a wait out of its repeat, to just before it: a wait whose value
has a step of at most 0 in the repeat's own index (its value in the first iteration
is its largest), that signals nothing, and that no instruction of its engine precedes
in the repeat's body (other waits of the engine may: waits commute). The engine then
waits for the same conditions before the same first instruction of the first
iteration, and for nothing in the later ones, so no instruction of any engine can
start earlier than before nor wait for anything new (no new deadlock), and
happens-before is unchanged. Repeats are taken innermost first, so a wait keeps
moving out while it heads the body of the repeat it lands in.

    accel.repeat 8 {                      accel.wait pe sem 3 >= 155
      accel.wait pe sem 3 >= 155    ->    accel.repeat 8 {
      accel.matmul ...                      accel.matmul ...
    }                                     }

A program with self-modifying instructions (accel.eval, accel.overwrite) is left
alone: they may rewrite the records a wait's later instances would run.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation
from xdsl.passes import ModulePass

from tidal.dialects.accel import (
    Aff,
    AffAttr,
    InstructionOp,
    ProgramOp,
    RepeatOp,
    WaitOp,
    repeat_depth,
)
from tidal.passes.utils.expect import accel_programs


def _engines(op: Operation) -> set[str]:
    """The engines of the instructions in `op` (itself, or its repeat's body)."""
    return {i.engine_name() for i in op.walk() if isinstance(i, InstructionOp)}


def _hoistable(repeat: RepeatOp, index: int) -> list[tuple[WaitOp, Aff]]:
    """The waits of `repeat`'s body that move before it, in order, each with the
    value it takes there (`index`: the repeat's own index, iK)."""
    out: list[tuple[WaitOp, Aff]] = []
    blocked: set[str] = set()  # engines with an instruction earlier in the body
    for op in repeat.body.block.ops:
        if isinstance(op, WaitOp) and op.engine_name() not in blocked:
            value = op.value.data
            if op.signal is None and value.step(index) <= 0:
                steps = list(value.steps)
                if index < len(steps):
                    steps[index] = 0
                out.append((op, Aff(value.base, tuple(steps))))
            continue
        blocked |= _engines(op)
    return out


def hoist_waits(program: ProgramOp) -> int:
    """Move the waits that every iteration of a repeat repeats before the repeat;
    returns how many moves were made (a wait that leaves two repeats counts twice)."""
    if program.self_modifying:
        return 0
    repeats = [op for op in program.walk() if isinstance(op, RepeatOp)]
    depth = {id(r): repeat_depth(r) for r in repeats}
    moved = 0
    # Innermost first; among equal depths, any order (they are disjoint).
    for repeat in sorted(repeats, key=lambda r: -depth[id(r)]):
        for wait, value in _hoistable(repeat, depth[id(repeat)]):
            wait.detach()
            wait.properties["value"] = AffAttr(value)
            block = repeat.parent_block()
            assert block is not None
            block.insert_op_before(wait, repeat)
            moved += 1
    return moved


@dataclass(frozen=True)
class AccelHoistWaitsPass(ModulePass):
    """Move each wait whose every iteration repeats the first out of its repeat."""

    name = "accel-hoist-waits"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for program in accel_programs(op, self.name):
            hoist_waits(program)

"""The cost in cycles of accel instructions and programs, by the chip's datasheet.

An instruction's cost is its entry's formula in `tidal.sim.spec` (the one the
hardware model charges) applied to the shapes of its access operands, so a pass that
asks here gets the number the machine would record as the engine's busy time::

    chip = get_chip("small")
    instruction_cost(act_op, chip)  # act_fixed_cycles + ceil(free / elems per cycle)
    program_cost(program, chip)  # {"pe": 1234.0, "act": 300.0, "dma0": 2940.0, ...}

Two costs depend on more than the instruction, and the analysis says what it assumes:

- a MATMUL pays `pe_weight_load_cycles + pe_fill_drain_cycles` when the PE array must
  load a new stationary operand (`reload`). `program_cost` charges it when the
  stationary access differs from the previous matmul's on the PE stream, or moves with
  a repeat index; the machine also reloads after another engine writes the SBUF bytes
  the array holds, which depends on timing and is not counted here;
- a DMA's cost is its uncontended time (fixed latency plus bytes at the full DRAM
  bandwidth); transfers in flight together share the bandwidth on the machine.

A WAIT costs `sync_cycles` (its time once satisfied; the time it is parked is a stall,
not work) and a HALT nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from tidal.dialects.accel import (
    AccessAttr,
    InstructionOp,
    MatmulOp,
    ProgramOp,
    RepeatOp,
)
from tidal.sim.config import ChipConfig
from tidal.sim.spec import Shapes, by_mnemonic
from xdsl.ir import Operation

__all__ = ["instruction_cost", "program_cost", "shapes_of"]


def shapes_of(op: InstructionOp) -> Shapes:
    """The shape (partitions, *free counts) of each access operand of `op`, by the
    datasheet's field names."""
    entry = by_mnemonic(op.name)
    out: dict[str, tuple[int, ...]] = {}
    for f in entry.accesses:
        ap = getattr(op, f.ir_name)
        assert isinstance(ap, AccessAttr)
        out[f.name] = tuple(c for _, c in ap.dims)
    return out


def instruction_cost(
    op: InstructionOp, chip: ChipConfig, *, reload: bool = True
) -> float:
    """Cycles `op` keeps its engine busy on `chip` (see the module docstring for
    `reload` and DMAs)."""
    return by_mnemonic(op.name).cost(chip, shapes_of(op), reload)


@dataclass
class _Walk:
    chip: ChipConfig
    totals: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    stationary: AccessAttr | None = None  # the PE array's operand, if known

    def block(self, ops: Iterable[Operation], times: int) -> None:
        for op in ops:
            if isinstance(op, RepeatOp):
                body = list(op.body.block.ops)
                # The first iteration may pay what later ones do not (a weight load);
                # the second is the steady state every later iteration repeats.
                self.block(body, times)
                if op.count > 1:
                    self.block(body, times * (op.count - 1))
            elif isinstance(op, InstructionOp):
                self.totals[op.engine_name()] += times * self.one(op)

    def one(self, op: InstructionOp) -> float:
        if not isinstance(op, MatmulOp):
            return instruction_cost(op, self.chip)
        st = op.stationary
        moves = st.pstart.depth > 0 or st.offset.depth > 0
        reload = moves or st != self.stationary
        self.stationary = None if moves else st
        return instruction_cost(op, self.chip, reload=reload)


def program_cost(program: ProgramOp, chip: ChipConfig) -> dict[str, float]:
    """Busy cycles per engine of `program` on `chip`: every instruction's cost times
    the trip counts of its enclosing repeats, in unified or split (per-stream) form.
    Engines without instructions are absent."""
    walk = _Walk(chip)
    ops = program.body.block.ops
    if program.is_split:
        for stream in program.streams:
            walk.stationary = None
            walk.block(stream.body.block.ops, 1)
    else:
        walk.block(ops, 1)
    return dict(walk.totals)

"""The cost in cycles of accel instructions and programs, by the chip's datasheet.

An instruction's cost is its entry's formula in `tidal.sim.spec` (the one the
hardware model charges) applied to the shapes of its access operands, so a pass that
asks here gets the number the machine would record as the engine's busy time::

    chip = get_chip("small")
    instruction_cost(act_op, chip)  # act_fixed_cycles + ceil(free / elems per cycle)
    program_cost(program, chip)  # {"pe": 1234.0, "act": 300.0, "dma0": 2940.0, ...}

Two costs depend on more than the instruction, and the analysis says what it assumes:

- a MATMUL pays a weight load when the PE array must load a new stationary operand
  (`reload`): `pe_weight_load_cycles + pe_fill_drain_cycles` into an empty array,
  and with two weight buffers only the load time the previous matmul's streaming does
  not hide (`tidal.sim.spec.matmul_load_cycles`). `program_cost` charges it when the
  stationary operand (its address at the repeat indices) differs from the previous
  matmul's on the PE stream, behind that matmul's streaming, as the machine does; the
  machine also reloads, with nothing hidden, after another engine writes the SBUF
  bytes the array holds, which depends on timing and is not counted here;
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
    Aff,
    InstructionOp,
    MatmulOp,
    ProgramOp,
    RepeatOp,
)
from tidal.sim.config import ChipConfig
from tidal.sim.spec import Shapes, by_mnemonic, matmul_load_cycles
from xdsl.ir import Operation

__all__ = ["instruction_cost", "operand_at", "program_cost", "repeat_cost", "shapes_of"]


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
    op: InstructionOp,
    chip: ChipConfig,
    *,
    reload: bool = True,
    behind: float | None = None,
) -> float:
    """Cycles `op` keeps its engine busy on `chip` (see the module docstring for
    `reload` and DMAs). A reloading MATMUL hides its load behind `behind` cycles of
    the previous matmul's streaming (None: the array is empty)."""
    entry = by_mnemonic(op.name)
    if not reload or not isinstance(op, MatmulOp):
        return entry.cost(chip, shapes_of(op), reload)
    return entry.cost(chip, shapes_of(op), False) + matmul_load_cycles(chip, behind)


def _at(aff: Aff, index: list[int]) -> int:
    return aff.base + sum(s * i for s, i in zip(aff.steps, index))


@dataclass
class _Walk:
    """Sums costs over a block, each repeat body walked twice: its first iteration
    (index 0) and its second (index 1), which stands for every later one: with affine
    addresses, whether a matmul's stationary operand differs from the one before it is
    the same in iterations 1, 2, ... (the addresses move by the same steps)."""

    chip: ChipConfig
    totals: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    index: list[int] = field(default_factory=list)  # of the enclosing repeats
    held: AccessAttr | None = None  # the last matmul's stationary operand ...
    held_at: list[int] = field(default_factory=list)  # ... and its repeat indices
    behind: float | None = None  # ... and its streaming cycles
    matmuls: int = 0

    def block(self, ops: Iterable[Operation], times: int) -> None:
        for op in ops:
            if isinstance(op, RepeatOp):
                self.repeat(op, times)
            elif isinstance(op, InstructionOp):
                self.totals[op.engine_name()] += times * self.one(op)

    def repeat(self, op: RepeatOp, times: int) -> None:
        body = list(op.body.block.ops)
        level = len(self.index)
        self.index.append(0)
        self.block(body, times)
        if op.count > 1:
            self.index[level] = 1
            before = self.matmuls
            self.block(body, times * (op.count - 1))
            if self.matmuls > before:  # the array holds the last iteration's operand
                self.held_at[level] = op.count - 1
        self.index.pop()

    def one(self, op: InstructionOp) -> float:
        if not isinstance(op, MatmulOp):
            return instruction_cost(op, self.chip)
        st = op.stationary
        reload = self.held is None or operand_at(st, self.index) != operand_at(
            self.held, self.held_at
        )
        cost = instruction_cost(op, self.chip, reload=reload, behind=self.behind)
        self.held, self.held_at = st, list(self.index)
        self.behind = instruction_cost(op, self.chip, reload=False)
        self.matmuls += 1
        return cost


def operand_at(ap: AccessAttr, index: list[int]) -> tuple[object, ...]:
    """The concrete operand `ap` names at repeat indices `index` (equal for two
    accesses exactly when they name the same bytes the same way)."""
    return (ap.space, _at(ap.pstart, index), _at(ap.offset, index), ap.dims)


def repeat_cost(repeat: RepeatOp, chip: ChipConfig) -> dict[str, float]:
    """Busy cycles per engine of every iteration of `repeat` on `chip`, its first
    matmul loading into an empty array."""
    walk = _Walk(chip)
    walk.repeat(repeat, 1)
    return dict(walk.totals)


def program_cost(program: ProgramOp, chip: ChipConfig) -> dict[str, float]:
    """Busy cycles per engine of `program` on `chip`: every instruction's cost times
    the trip counts of its enclosing repeats, in unified or split (per-stream) form.
    Engines without instructions are absent."""
    walk = _Walk(chip)
    ops = program.body.block.ops
    if program.is_split:
        for stream in program.streams:
            walk.held = walk.behind = None
            walk.block(stream.body.block.ops, 1)
    else:
        walk.block(ops, 1)
    return dict(walk.totals)

"""Per-engine work of a loop nest, read from its symbolic model, and of accel code.

`nest_work` reads `NestOp.model()`: the domain gives every loop's trip count, the
accesses give each tile op's written tile (one write per op). Each tile op becomes
one accel instruction per iteration of the loops around it (loop-to-accel maps
`loop.for` to `accel.repeat` and tile ops one to one), so the nest's work is known
before lowering: instructions and elements written per engine class (`dma` for every
DMA queue, `pe`, `act`, `pool`). `accel_work` counts the same on accel IR, expanding
repeats arithmetically, so the two can be compared, e.g. per nest origin::

    nest_work(nest)["pe"]                 # Work(instructions=36, elements=9216)
    accel_work(program.body.block)["n0"]["pe"]   # the same after loop-to-accel

The model lists accesses in walk order without saying which loops enclose each op;
the loop depth is taken from the tile op the access belongs to (same walk order).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from math import prod

from tidal.dialects.accel import AccessAttr, InstructionOp, RepeatOp
from tidal.dialects.loop import CopyOp, ForOp, MatmulOp, NestOp, TileOp
from tidal.sim.config import ChipConfig
from tidal.sim.spec import INSTRUCTIONS, engine_from_name, engine_kind, matmul_load_cycles
from xdsl.ir import Block, Operation



@dataclass(frozen=True)
class Work:
    """Instructions issued and elements written, over all iterations."""

    instructions: int = 0
    elements: int = 0

    def __add__(self, other: Work) -> Work:
        return Work(
            self.instructions + other.instructions, self.elements + other.elements
        )


def engine_class(engine: str) -> str:
    """`dma3` -> `dma`; other engines are their own class (the datasheet's kinds)."""
    return engine_kind(engine_from_name(engine)).value


def engine_of(op: TileOp) -> str:
    """The engine class (`pe`, `act`, `pool`, `dma`) of the instruction a loop tile
    op becomes (its datasheet entry)."""
    kind = INSTRUCTIONS[op.OPCODE].engine
    assert kind is not None, op.name  # tile ops become engine-bound instructions
    return kind.value


def _trips(op: Operation, nest: NestOp) -> int:
    """Iterations of the loops of `nest` around `op`."""
    domain = nest.domain_val
    dims: list[int] = []
    parent = op.parent_op()
    while parent is not None and parent is not nest:
        if isinstance(parent, ForOp):
            dims.append(parent.dim.value.data)
        parent = parent.parent_op()
    return prod(domain[d] for d in dims)


def nest_work(nest: NestOp) -> dict[str, Work]:
    """Per engine class, the work the nest's tile ops will issue."""
    model = nest.model()
    accesses = iter(model.accesses)
    out: dict[str, Work] = {}
    for op in nest.walk():
        if not isinstance(op, TileOp):
            continue
        mine = [next(accesses) for _ in op.accesses()]
        if any(a.op != op.name for a in mine):
            raise ValueError(
                f"{nest.origin.data}: the nest's model does not list {op.name}'s accesses in walk order"
            )
        written = [a for a in mine if a.role == "write"]
        if len(written) != 1:
            raise ValueError(
                f"{nest.origin.data}: {op.name} writes {len(written)} accesses, expected 1"
            )
        engine = engine_of(op)
        trips = _trips(op, nest)
        out[engine] = out.get(engine, Work()) + Work(
            trips, trips * written[0].ap.num_elements
        )
    return out


def nest_cycles(nest: NestOp, chip: ChipConfig) -> dict[str, float]:
    """Per compute engine class (`pe`, `act`, `pool`), the cycles the datasheet
    charges the nest's tile ops over all their iterations: each op's cost on the
    shapes of its accesses, and a matmul's stationary load as far as the previous
    matmul's streaming does not hide it (`matmul_load_cycles`; in a loop, an
    iteration follows the op's own previous one). Copies are left out:
    a DMA's time depends on what else moves."""
    out: dict[str, float] = {}
    behind: float | None = None
    for op in nest.walk():
        if not isinstance(op, TileOp) or isinstance(op, CopyOp):
            continue
        entry = INSTRUCTIONS[op.OPCODE]
        written = next(ap for role, _, ap in op.accesses() if role == "write")
        shapes: dict[str, tuple[int, ...]] = {}
        for f in entry.accesses:
            ap = op.properties.get(f"{f.ir_name}_ap")
            if not isinstance(ap, AccessAttr) and f.name == "dst":
                ap = written  # the matmul's accumulator
            if isinstance(ap, AccessAttr):
                shapes[f.name] = tuple(c for _, c in ap.dims)
        cycles = entry.cost(chip, shapes, False)
        trips = _trips(op, nest)
        total = trips * cycles
        if isinstance(op, MatmulOp):  # later iterations follow the op itself
            total += matmul_load_cycles(chip, behind)
            total += (trips - 1) * matmul_load_cycles(chip, cycles)
            behind = cycles
        engine = engine_of(op)
        out[engine] = out.get(engine, 0.0) + total
    return out


def _instances(block: Block, trips: int = 1) -> Iterator[tuple[InstructionOp, int]]:
    for op in block.ops:
        if isinstance(op, RepeatOp):
            yield from _instances(op.body.block, trips * op.count)
        elif isinstance(op, InstructionOp):
            yield op, trips


def accel_work(block: Block) -> dict[str, dict[str, Work]]:
    """Per instruction origin (the nest's name) and engine class, the work of the
    memory instructions under `block` (waits and signals are not counted)."""
    out: dict[str, dict[str, Work]] = {}
    for op, trips in _instances(block):
        written = op.writes()
        if not written:
            continue
        origin = op.origin.data if op.origin is not None else ""
        per = out.setdefault(origin, {})
        engine = engine_class(op.engine_name())
        per[engine] = per.get(engine, Work()) + Work(
            trips, trips * written[0].num_elements
        )
    return out

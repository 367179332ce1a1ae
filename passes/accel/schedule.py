"""accel-schedule: order a unified-order program's instructions by a list schedule.

Each engine runs its stream in program order, and loop-to-accel emits a nest's
instructions together, nest after nest. So an engine that finishes its part of a nest
early waits for the whole nest before it starts on the next one, even when the next
nest's first tiles are ready: ACT evacuates a 1x1 conv's last output tile before it
starts the depthwise conv that reads the first, and the PE array idles meanwhile (the
seeds' "scheduling of operations based on estimated execution time" and "operation
reordering for parallel execution"). This pass reorders the top-level items of an
`accel.program` (instructions, and repeats as one item) so that each engine's stream
follows a list schedule on estimated time:

0. Small top-level repeats (at most PEEL_MAX iterations, PEEL_BUDGET instructions
   once peeled) become one item per iteration, the index bound (`peel`); a repeat
   of one iteration (a loop loop-double-buffer unrolled whole) is inlined, so its
   copies are items of their own.
1. Dependences: the memory dependence graph (`tidal.passes.analysis.dependence`,
   exact footprints, every engine): RAW, WAR and WAW between items, so any order that
   keeps its edges computes the same bytes. DMAs keep their order among themselves
   (queues are chosen from it afterwards, by `accel-assign-queues`, and the loop
   passes already put weight loads as far ahead as their tiles allow): a DMA starts
   no earlier than the one before it.
2. Estimated time, from the datasheet (`tidal.passes.analysis.cost`): on PE, ACT and
   POOL an item's busy cycles (a matmul pays its weight load when the stationary
   operand differs from the one the schedule put before it on the array); a DMA's
   result comes its descriptor latency after it starts, its bytes sharing the DRAM
   bandwidth with every other DMA (`dram_bytes_per_cycle`), at most
   `dma_queues x dma_queue_depth` descriptors in flight. A repeat holds each of its
   engines for its total there.
3. List scheduling: an item's priority is its bottom level (the longest chain of
   estimated time from it to the end). Among the items whose predecessors are all
   placed, the one that can start earliest goes next (ties: with `chains`, a
   matmul that depends on the array's previous matmul and writes the same PSUM bank,
   so an accumulation group the array started finishes before another starts; then
   the longer chain, then the original order); an engine is busy until its last
   item finishes. With `instances`, an item that needs only a top-level repeat's
   first iterations (the last whose instance touches its bytes, as
   accel-insert-sync's instance-waits count them) is ready that share of the
   repeat's time after it starts: a pooling band on a conv's first row blocks goes
   on POOL between the conv's evacuations, not after the whole conv. Each engine
   runs its stream in order, so an estimate that runs ahead of the machine costs most where two groups interleave: the PE array waits
   inside one group for the other's input (ShuffleNet's depthwise tiles on the
   array, whose inputs the evacuations of the 1x1 conv before them deliver one tile
   at a time).

The new order sorts items by their scheduled start, which keeps every dependence (an
item starts after its predecessors finish). io and const ops move to the top, in their
order. A program with self-modifying or random-number instructions (accel.overwrite,
accel.eval, accel.random, accel.dropout, accel.bernoulli) keeps its order: their
positions, or their order among themselves, matter beyond their memory accesses. A
program already synchronised or split into streams is refused.

    accel.dma  load x0 ; accel.act  evac c0 (conv)     accel.dma  load x0
    accel.act  evac c1 (conv)                      ->  accel.act  evac c0
    accel.act  dw c0 (reads c0)                        accel.act  dw c0
    accel.act  dw c1 (reads c1)                        accel.act  evac c1 ...
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from math import prod

from xdsl.context import Context
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, i64
from xdsl.ir import Operation
from xdsl.passes import ModulePass

from tidal.dialects.accel import (
    AccessAttr,
    Aff,
    AffAttr,
    BernoulliOp,
    DropoutOp,
    EvalOp,
    InstructionOp,
    MatmulOp,
    OverwriteOp,
    ProgramOp,
    RandomOp,
    RepeatOp,
)
from tidal.passes.analysis.cost import instruction_cost, operand_at, repeat_cost
from tidal.passes.analysis.dependence import DependenceGraph, latest_instance_of
from tidal.passes.analysis.nest_cost import engine_class
from tidal.passes.utils.expect import PassInputError, expect_level, expect_unsynchronised
from tidal.sim.config import ChipConfig, UnknownChipError, get_chip
from tidal.sim.spec import matmul_load_cycles

# Instructions whose place matters beyond their memory accesses.
_PINNED = (OverwriteOp, EvalOp, RandomOp, DropoutOp, BernoulliOp)


@dataclass(eq=False)
class _Item:
    """A top-level instruction or repeat, its cost per engine and its graph."""

    op: Operation
    index: int
    costs: dict[str, float]  # engine -> busy cycles (a DMA: its bytes' time)
    latency: float  # a DMA's descriptor latency, before its bytes move
    stationary: tuple[object, ...] | None  # a lone matmul's operand
    streaming: float  # a lone matmul's cycles without the load
    succs: list[int] = field(default_factory=list)  # items touching what this one does
    # With `instances`, for a repeat: successor -> the share of its iterations that
    # successor waits for (absent: all of them).
    share: dict[int, float] = field(default_factory=dict)
    after: list[int] = field(default_factory=list)  # items that only start later
    preds: int = 0
    ready: float = 0.0  # the latest finish of its predecessors
    level: float = 0.0  # bottom level
    start: float = 0.0
    placed: int = 0


def _item(op: Operation, index: int, chip: ChipConfig) -> _Item:
    if isinstance(op, MatmulOp):
        streaming = instruction_cost(op, chip, reload=False)
        return _Item(op, index, {"pe": streaming}, 0.0, operand_at(op.stationary, []), streaming)
    assert isinstance(op, InstructionOp | RepeatOp)
    if isinstance(op, RepeatOp):
        totals = repeat_cost(op, chip)
    else:
        totals = {op.engine_name(): instruction_cost(op, chip)}
    costs: dict[str, float] = {}
    for engine, cost in totals.items():
        costs[engine_class(engine)] = costs.get(engine_class(engine), 0.0) + cost
    latency = 0.0
    if "dma" in costs:  # one descriptor's latency, then its bytes
        latency = float(chip.dma_fixed_latency_cycles)
        costs["dma"] = max(costs["dma"] - latency, 0.0)
    return _Item(op, index, costs, latency, None, 0.0)


def _edges(
    program: ProgramOp, items: list[_Item], where: dict[int, int], instances: bool = False
) -> None:
    # Bounding boxes: conservative (never fewer edges than exact footprints), and
    # a third of the time on ResNet-50, with the same schedule on the zoo.
    graph = DependenceGraph.build(program, exact=False)
    seen: set[tuple[int, int]] = set()
    if instances:
        _shares(graph, items, where)
    # DMAs keep their order: the queues are chosen from it (accel-assign-queues),
    # and the loop-level passes already ordered them (weights on their own queue
    # run ahead as far as their tiles allow).
    dmas = [item.index for item in items if "dma" in item.costs]
    for a, b in zip(dmas, dmas[1:]):
        items[a].after.append(b)
        items[b].preds += 1
    for dep in graph.deps:
        a = where[id(dep.src.path[0] if dep.src.path else dep.src.op)]
        b = where[id(dep.dst.path[0] if dep.dst.path else dep.dst.op)]
        if a == b or (a, b) in seen:
            continue
        assert a < b, "a forward dependence between items points backwards"
        seen.add((a, b))
        items[a].succs.append(b)
        items[b].preds += 1


def _shares(graph: DependenceGraph, items: list[_Item], where: dict[int, int]) -> None:
    """`_Item.share` of each top-level repeat: per later item, the share of the
    repeat's iterations up to the last one whose instance touches a byte that item
    touches (`latest_instance_of`, exact footprints, as accel-insert-sync's
    instance-waits count signals), the largest over their dependences. So a pooling
    band that reads a conv's first row blocks is ready after those blocks in the
    estimate, as it is in the machine, not after the whole conv."""
    whole: set[tuple[int, int]] = set()
    for dep in graph.deps:
        if dep.carried or not dep.src.path or dep.dst.path[:1] == dep.src.path[:1]:
            continue
        a = where[id(dep.src.path[0])]
        b = where[id(dep.dst.path[0] if dep.dst.path else dep.dst.op)]
        if (a, b) in whole:
            continue
        at = latest_instance_of(dep.src, dep.dst, dep.pairs)
        trips = [r.count for r in dep.src.path]
        if at is None or len(at) != len(trips):
            whole.add((a, b))
            items[a].share.pop(b, None)
            continue
        done = 0
        for i, n in zip(at, trips):
            done = done * n + i
        share = (done + 1) / prod(trips)
        items[a].share[b] = max(items[a].share.get(b, 0.0), share)


def _cost(item: _Item, chip: ChipConfig) -> float:
    """The item's longest engine time, for its bottom level (a lone matmul with its
    weight load, behind nothing: the conservative end)."""
    longest = max(item.costs.values(), default=0.0) + item.latency
    if item.stationary is not None:
        longest += chip.pe_weight_load_cycles
    return longest


# A top-level repeat of at most this many iterations, and at most PEEL_BUDGET
# instructions once peeled, becomes one item per iteration, so other nests' items
# can go between its iterations.
PEEL_MAX = 8
PEEL_BUDGET = 256


def _bind_outer(ap: AccessAttr, k: int) -> AccessAttr:
    """`ap` with the outermost repeat index fixed at k (the others move up)."""

    def bound(a: AffAttr) -> AffAttr:
        aff = a.data
        if not aff.steps:
            return a
        return AffAttr(Aff(aff.base + aff.step(0) * k, aff.steps[1:]))

    return AccessAttr(
        ap.space_attr, bound(ap.pstart_attr), bound(ap.offset_attr), ap.dims_attr
    )


def peel(repeat: RepeatOp) -> list[Operation]:
    """The body of `repeat` once per iteration, its index bound in every affine
    operand and `zero_at` (a matmul overwriting at the peeled level overwrites in the
    first copy and accumulates in the others)."""
    out: list[Operation] = []
    for k in range(repeat.count):
        for op in repeat.body.block.ops:
            copy = op.clone()
            for inner in copy.walk():
                if not isinstance(inner, InstructionOp):
                    continue
                for name, value in list(inner.properties.items()):
                    if isinstance(value, AccessAttr):
                        inner.properties[name] = _bind_outer(value, k)
                if isinstance(inner, MatmulOp) and inner.zero_at is not None:
                    level = inner.zero_at_level
                    if level == 0 and k == 0:
                        inner.properties["zero_at"] = IntegerAttr(-1, i64)
                    elif level == 0:
                        del inner.properties["zero_at"]
                    elif level is not None and level > 0:
                        inner.properties["zero_at"] = IntegerAttr(level - 1, i64)
            out.append(copy)
    return out


def peel_small_repeats(program: ProgramOp) -> None:
    """Replace each small top-level repeat of `program` by its peeled iterations
    (PEEL_MAX, PEEL_BUDGET)."""
    block = program.body.block
    for op in list(block.ops):
        if isinstance(op, RepeatOp) and op.count <= PEEL_MAX:
            size = sum(isinstance(o, InstructionOp) for o in op.walk())
            if size * op.count <= PEEL_BUDGET:
                block.insert_ops_before(peel(op), op)
                op.detach()
                op.erase()


def keeps_order(program: ProgramOp) -> bool:
    """Must the program keep its order (module docstring)? PassInputError for one
    already split or synchronised."""
    expect_unsynchronised(
        program,
        "accel-schedule: the program is split into streams; schedule the "
        "unified order, before accel-split-streams",
        "accel-schedule: the program is synchronised (its waits count "
        "signals in program order); schedule before accel-insert-sync",
    )
    return any(isinstance(op, _PINNED) for op in program.body.block.walk())


def _continues(item: _Item, last: _Item | None, chip: ChipConfig) -> bool:
    """Whether `item` is a matmul that depends on `last`, the array's previous
    matmul, and writes the same PSUM bank (one accumulation group)."""
    if last is None or item.index not in last.succs:
        return False
    a, b = last.op, item.op
    if not isinstance(a, MatmulOp) or not isinstance(b, MatmulOp):
        return False
    bank = chip.psum_bank_bytes
    return operand_at(a.dst, [])[2] // bank == operand_at(b.dst, [])[2] // bank


def schedule(
    program: ProgramOp, chip: ChipConfig, chains: bool = True, instances: bool = False
) -> list[Operation]:
    """The program's top-level instructions and repeats in list-schedule order
    (`chains`, `instances`: see the module docstring, step 3)."""
    body = [
        op
        for op in program.body.block.ops
        if isinstance(op, InstructionOp | RepeatOp)
    ]
    items = [_item(op, i, chip) for i, op in enumerate(body)]
    _edges(program, items, {id(op): i for i, op in enumerate(body)}, instances)
    for item in reversed(items):
        own = _cost(item, chip)
        item.level = own + max((items[s].level for s in item.succs), default=0.0)

    free: dict[str, float] = {}  # engine -> when it is free
    dram = 0.0  # when the DRAM bandwidth is free
    # Descriptors in flight: each queue keeps `dma_queue_depth` (when each ends).
    slots = [0.0] * (chip.dma_queues * chip.dma_queue_depth)
    held: tuple[object, ...] | None = None
    behind: float | None = None
    waiting = [item.preds for item in items]
    ready = [item for item in items if item.preds == 0]
    order: list[_Item] = []
    last_pe: _Item | None = None  # the array's latest matmul
    while ready:
        best = None
        best_key: tuple[float, bool, float, int] | None = None
        for item in ready:
            start = item.ready
            for engine in item.costs:
                if engine == "dma":
                    start = max(start, slots[0])
                else:
                    start = max(start, free.get(engine, 0.0))
            key = (start, not (chains and _continues(item, last_pe, chip)), -item.level, item.index)
            if best_key is None or key < best_key:
                best, best_key = item, key
        assert best is not None and best_key is not None
        if "pe" in best.costs:
            last_pe = best
        ready.remove(best)
        start = best.start = best_key[0]
        finish = start
        for engine, cost in best.costs.items():
            if engine == "dma":
                data = max(start + best.latency, dram)
                dram = data + cost
                finish = max(finish, dram)
                heapq.heapreplace(slots, dram)
                continue
            if engine == "pe" and best.stationary is not None:
                if best.stationary != held:
                    cost += matmul_load_cycles(chip, behind)
                held, behind = best.stationary, best.streaming
            elif engine == "pe":
                held = behind = None  # a repeat of matmuls: the array's operand unknown
            free[engine] = start + cost
            finish = max(finish, start + cost)
        best.placed = len(order)
        order.append(best)
        # (a repeat's successor that needs its first iterations only: that share
        # of the repeat's time)
        done = [(s, start + best.share.get(s, 1.0) * (finish - start)) for s in best.succs]
        for s, at in done + [(s, start) for s in best.after]:
            succ = items[s]
            succ.ready = max(succ.ready, at)
            waiting[s] -= 1
            if waiting[s] == 0:
                ready.append(succ)
    assert len(order) == len(items), "the dependence graph has a cycle"
    # Placement order is topological; an item starts no earlier than its
    # predecessors, so sorting by start (placement breaking ties) stays topological.
    order.sort(key=lambda item: (item.start, item.placed))
    return [item.op for item in order]


@dataclass(frozen=True)
class AccelSchedulePass(ModulePass):
    """Reorder a unified-order accel.program by a list schedule on estimated time
    (module docstring), for the chip the program names."""

    name = "accel-schedule"

    peel: bool = True
    """Peel small top-level repeats first (PEEL_MAX, PEEL_BUDGET)."""
    chains: bool = True
    """Ties go to the matmul that continues the array's accumulation group
    (`schedule`; module docstring, step 3)."""
    instances: bool = True
    """An item that needs only a repeat's first iterations is ready when they are
    estimated done (`_shares`; module docstring, step 3)."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        expect_level(op, self.name, "accel")
        for program in op.walk():
            if not isinstance(program, ProgramOp) or keeps_order(program):
                continue
            try:
                chip = get_chip(program.chip.data)
            except UnknownChipError as e:
                raise PassInputError(f"accel-schedule: {e}", program) from None
            if self.peel:
                peel_small_repeats(program)
            new = schedule(program, chip, self.chains, self.instances)
            block = program.body.block
            for item in new:
                item.detach()
            for item in new:
                block.add_op(item)

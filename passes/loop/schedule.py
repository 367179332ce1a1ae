"""loop-schedule: order a function's nests by list scheduling on estimated time.

Each engine runs its instructions in program order, and a nest's instructions sit
where graph-to-loop emitted the nest: in the graph's order, so a branch that waits
for its input holds up its engines even when a nest of another branch is ready
(the seed's "scheduling of operations based on estimated execution time"). This
pass reorders the top-level nests of the function (every later pass follows the
new order: keep-on-chip, the allocator, loop-to-accel, so each engine stream does
too):

1. Dependences. Nest B depends on an earlier nest A when they touch overlapping
   DRAM bytes of one buffer (views resolved to their source, each access's byte
   range over all its loop iterations) and one of them writes: producer and
   consumer, and the reads a later write must not overtake. Two branches writing
   disjoint slices of one concatenation do not depend on each other.
2. Estimated time. Per nest and engine (PE, ACT, POOL, DMA), the datasheet's cost
   of every instruction it will issue: fixed cost plus elements per partition at
   one per cycle on the compute engines; on DMA the descriptor latency over the
   descriptors a queue keeps in flight, spread over the queues, plus the bytes
   over the DRAM bandwidth. Its result comes one descriptor latency later for its
   first load and one for its last store (a chain of DMAs around its compute).
3. List scheduling. A nest's priority is its bottom level: the longest chain of
   estimated time from it to the end of the function (through dependences). Among
   the nests whose predecessors are all scheduled, the one that can start
   earliest on its busiest engine goes first (engines as resources, a nest on
   each of its engines for its estimated time there), ties broken by the longer
   chain: the critical branch first, other branches filling the gaps. A nest
   that copies its input onto partitions past the first (row-taps' shifted
   copies, which loop-keep-on-chip cannot replace by the kept tensor) starts
   its loads when a DMA queue is free and its compute engines only once those
   copies can have landed (`staged`): SqueezeNet's fire modules then run their
   1x1 expand while the 3x3 expand's copies load, not after them (132,023 ->
   120,956 cycles).

Nothing else moves: constants, buffers and views stay at the top, in their order,
and the return at the end. A function whose nests form one chain keeps its order.

    loop.nest "a" ...   (reads %x, writes %p)      loop.nest "a"
    loop.nest "b" ...   (reads %p, long)       ->  loop.nest "c"   (a short branch
    loop.nest "c" ...   (reads %x, writes %q)      loop.nest "b"    runs while "b"
                                                                    waits for "a")
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, Operation, SSAValue

from tidal.dialects import loop
from tidal.dialects.accel import AccessAttr, Aff
from tidal.passes.analysis.dependence import IntervalMap
from tidal.passes.utils.chip import ChipPass
from tidal.passes.utils.expect import expect_level
from tidal.sim.config import ChipConfig
from tidal.sim.spec import INSTRUCTIONS

F32 = 4
ENGINES = ("pe", "act", "pool", "dma")


def root_buffer(value: SSAValue) -> SSAValue:
    """The buffer a memref value addresses: a view's source, transitively."""
    while isinstance(value.owner, loop.ViewOp):
        value = value.owner.source
    return value


def _byte_range(ap: AccessAttr, trips: tuple[int, ...]) -> tuple[int, int]:
    """[first, last] byte of a DRAM access over all the nest's iterations."""
    lo, hi = ap.offset.bounds(trips)
    down = sum(min(0, stride * (count - 1)) for stride, count in ap.dims)
    up = sum(max(0, stride * (count - 1)) for stride, count in ap.dims)
    return lo + down * F32, hi + up * F32 + F32 - 1


@dataclass
class NestInfo:
    """A nest's DRAM accesses (buffer, first byte, last byte, writes) and its
    estimated cycles per engine."""

    op: loop.NestOp
    accesses: list[tuple[SSAValue, int, int, bool]] = field(default_factory=list)
    cycles: dict[str, float] = field(default_factory=dict)
    latency: float = 0.0
    """Cycles its result comes later than its busiest engine finishes: the fixed
    latency of its first load and of its last store (DMAs in a chain)."""
    lead: float = 0.0
    """Cycles from its start until its compute engines can start: one descriptor
    latency plus the bytes over the DRAM bandwidth of the loads of tensors (not
    constants) to a partition other than the first (copies of an input shifted
    onto more partitions, as row-taps makes, which loop-keep-on-chip cannot replace
    by the tensor kept on chip as it can a plain load); 0 without such loads."""

    @property
    def duration(self) -> float:
        return max(self.cycles.values(), default=0.0) + self.latency


def _trips_of(op: Operation, nest: loop.NestOp) -> int:
    domain = nest.domain_val
    trips = 1
    parent = op.parent_op()
    while parent is not None and parent is not nest:
        if isinstance(parent, loop.ForOp):
            trips *= domain[parent.dim.value.data]
        parent = parent.parent_op()
    return trips


def nest_info(nest: loop.NestOp, chip: ChipConfig) -> NestInfo:
    """The DRAM accesses and estimated per-engine cycles of `nest`."""
    info = NestInfo(nest)
    trips = tuple(nest.domain_val)
    dma_rate = chip.dma_fixed_latency_cycles / (chip.dma_queue_depth * chip.dma_queues)
    shifted = 0
    for op in nest.walk():
        if not isinstance(op, loop.TileOp):
            continue
        accesses = op.accesses()
        if (
            isinstance(op, loop.CopyOp) and op.src_ap.space.value == "dram"
            and op.dst_ap.space.value != "dram" and op.dst_ap.pstart != Aff(0)
            and not isinstance(root_buffer(op.src).owner, loop.ConstOp)
        ):  # (a load to partition 0 onwards may be forwarded from the tensor kept on chip)
            shifted += op.dst_ap.num_elements * F32
        for role, value, ap in accesses:
            if ap.space.value == "dram":
                lo, hi = _byte_range(ap, trips)
                info.accesses.append((root_buffer(value), lo, hi, role == "write"))
        written = [ap for role, _, ap in accesses if role == "write"]
        if not written:
            continue
        count = _trips_of(op, nest)
        elements = written[0].num_elements
        entry = INSTRUCTIONS[op.OPCODE]
        kind = entry.engine.value if entry.engine is not None else None
        if isinstance(op, loop.CopyOp):
            cost = dma_rate + elements * F32 / chip.dram_bytes_per_cycle / chip.dma_queues
            kind = "dma"
            info.latency = min(2, info.latency / chip.dma_fixed_latency_cycles + 1) * chip.dma_fixed_latency_cycles
        else:
            partitions = max(1, written[0].dims[0][1])
            cost = 64 + elements / partitions
        if kind in ENGINES:
            info.cycles[kind] = info.cycles.get(kind, 0.0) + count * cost
    if shifted:
        info.lead = chip.dma_fixed_latency_cycles + shifted / chip.dram_bytes_per_cycle
    return info


def dependences(infos: list[NestInfo]) -> list[set[int]]:
    """For each nest, the earlier nests it depends on (overlapping bytes of one
    buffer, one of the two writing), less those implied through another: a sweep
    over each buffer's byte ranges that keeps the last writers and the readers since
    (an `IntervalMap`), so a nest meets the writer of each byte, not every earlier
    one. The closure is that of every overlapping pair, and so is the schedule: a
    nest finishes after its predecessors and its chain to the end is at least theirs
    (the pairs took n^2 on a concatenation of n pieces, whose column ranges all
    overlap)."""
    preds: list[set[int]] = [set() for _ in infos]
    maps: dict[SSAValue, IntervalMap] = {}
    for j, info in enumerate(infos):
        for buf, lo, hi, write in info.accesses:
            m = maps.get(buf)
            if m is None:
                continue
            for i in m.span(lo, hi + 1):
                seg = m.segments[i]
                preds[j].update(seg.writers)
                if write:
                    preds[j].update(seg.readers)
        for buf, lo, hi, write in info.accesses:
            m = maps.setdefault(buf, IntervalMap())
            spanned = m.span(lo, hi + 1)
            for i in spanned:
                seg = m.segments[i]
                if write:
                    seg.writers, seg.readers = [j], []
                elif seg.readers[-1:] != [j]:
                    seg.readers.append(j)
            m.coalesce(spanned.start, spanned.stop)
        preds[j].discard(j)
    return preds


def list_schedule(infos: list[NestInfo], preds: list[set[int]], staged: bool = True) -> list[int]:
    """An order of the nests: among the ready ones (every predecessor placed), the
    one that can start earliest on its engines, ties to the longest chain of
    estimated time to the end (its bottom level)."""
    n = len(infos)
    succs: list[list[int]] = [[] for _ in range(n)]
    for j, ps in enumerate(preds):
        for i in ps:
            succs[i].append(j)
    bottom = [0.0] * n
    for i in range(n - 1, -1, -1):  # predecessors come earlier in program order
        bottom[i] = infos[i].duration + max((bottom[j] for j in succs[i]), default=0.0)
    free = dict.fromkeys(ENGINES, 0.0)  # when each engine is next free
    finish = [0.0] * n
    waiting = [len(ps) for ps in preds]

    def gate(i: int) -> tuple[float, tuple[str, ...]]:
        """i's compute start is max(at, when every engine of `on` is free): with
        `staged` and a `lead`, the loads begin once the predecessors finish and a
        DMA queue is free, the compute engines `lead` after the predecessors
        finish, once free, so a nest that waits long for its inputs does not go
        ahead of one ready to compute; otherwise every engine of the nest at once.
        Fixed once i is ready (its predecessors are placed)."""
        after = max((finish[p] for p in preds[i]), default=0.0)
        cycles = infos[i].cycles
        if not staged or not infos[i].lead:
            return after, tuple(e for e in ENGINES if cycles.get(e))
        compute = tuple(e for e in ENGINES if e != "dma" and cycles.get(e))
        if not compute:
            return after, ("dma",) if cycles.get("dma") else ()
        return after + infos[i].lead, compute

    # The ready nests by the engines that gate them: within one group every nest's
    # start is max(its own gate, the group's engines' free time), and free times
    # only grow (a nest starts no earlier than its engines are free, and every
    # engine in `cycles` has positive cycles: nest_info counts each op's trips
    # times a positive cost), so a nest whose gate has passed stays among the group's
    # `passed` (ordered by bottom level) and the others wait in `pending` (by
    # gate): the earliest start is found without rescanning every ready nest.
    pending: dict[tuple[str, ...], list[tuple[float, float, int]]] = {}
    passed: dict[tuple[str, ...], list[tuple[float, int]]] = {}

    def make_ready(i: int) -> None:
        at, on = gate(i)
        heapq.heappush(pending.setdefault(on, []), (at, -bottom[i], i))
        passed.setdefault(on, [])

    for i in range(n):
        if waiting[i] == 0:
            make_ready(i)
    order: list[int] = []
    while True:
        best: tuple[float, float, int] | None = None
        source: list = []
        for on, waits in pending.items():
            now = max((free[e] for e in on), default=0.0)
            ready_now = passed[on]
            while waits and waits[0][0] <= now:
                _, neg_bottom, i = heapq.heappop(waits)
                heapq.heappush(ready_now, (neg_bottom, i))
            if ready_now:
                key, heap = (now, *ready_now[0]), ready_now
            elif waits:
                key, heap = waits[0], waits
            else:
                continue
            if best is None or key < best:
                best, best_on, source = key, on, heap
        if best is None:
            break
        heapq.heappop(source)
        k = best[2]
        after = max((finish[p] for p in preds[k]), default=0.0)
        cycles = infos[k].cycles
        if not staged or not infos[k].lead:
            dma_at = at = best[0]
        else:
            dma_at = max(after, free["dma"]) if cycles.get("dma") else after
            at = best[0] if best_on != ("dma",) and best_on else dma_at
        for e, c in cycles.items():
            free[e] = (dma_at if e == "dma" else at) + c
        done = max([dma_at + cycles.get("dma", 0.0), *(at + c for e, c in cycles.items() if e != "dma")])
        finish[k] = done + infos[k].latency
        order.append(k)
        for j in succs[k]:
            waiting[j] -= 1
            if waiting[j] == 0:
                make_ready(j)
    assert len(order) == n, "the dependences of program order are acyclic"
    return order


def schedule_function(fn: func.FuncOp, chip: ChipConfig, staged: bool = True) -> list[str]:
    """Reorder `fn`'s nests (see the module docstring); returns their origins in
    the new order."""
    block: Block = fn.body.block
    nests = [op for op in block.ops if isinstance(op, loop.NestOp)]
    if len(nests) < 2:
        return [n.origin.data for n in nests]
    infos = [nest_info(n, chip) for n in nests]
    order = list_schedule(infos, dependences(infos), staged)
    if order == sorted(order):
        return [n.origin.data for n in nests]
    # Each buffer, constant and view goes right before the first nest that uses it
    # (loop-keep-on-chip and loop-allocate take a buffer's position as the start
    # of its life), the others before the return, all in their old relative order.
    tops = [op for op in block.ops if not isinstance(op, loop.NestOp)]
    terminator = tops.pop()
    position = {op: i for i, op in enumerate(tops)}
    placed: set[Operation] = set()

    def needs(nest: loop.NestOp) -> list[Operation]:
        found: set[Operation] = set()
        pending = [v for op in nest.walk() for v in op.operands]
        while pending:
            owner = pending.pop().owner
            if owner in position and owner not in placed and owner not in found:
                found.add(owner)
                pending.extend(owner.operands)
        return sorted(found, key=position.__getitem__)

    new: list[Operation] = []
    for i in order:
        for op in needs(nests[i]):
            placed.add(op)
            new.append(op)
        new.append(nests[i])
    new += [op for op in tops if op not in placed]
    for op in [*new, terminator]:
        op.detach()
    block.add_ops([*new, terminator])
    return [nests[i].origin.data for i in order]


@dataclass(frozen=True)
class LoopSchedulePass(ChipPass):
    """Order each function's nests by list scheduling on estimated time."""

    name = "loop-schedule"

    staged: bool = True
    """A nest whose compute waits for shifted copies of its input (`NestInfo.lead`)
    starts its loads at once and its compute engines that much later, so a nest
    ready to compute goes ahead of it (off: all its engines start together)."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        expect_level(op, self.name, "loop")
        chip = self.chip_config()
        for fn in [f for f in op.body.block.ops if isinstance(f, func.FuncOp)]:
            schedule_function(fn, chip, self.staged)

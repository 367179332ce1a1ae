"""accel-insert-sync: make a unified-order accel.program safe to run on parallel engines.

Expects an `accel.program` in unified order (one sequential order across engines,
as loop-to-accel emits it). Every engine owns one semaphore (its engine id), which
an instruction increments when it completes if it carries `signal`. Before an
instruction X on engine A, for every other engine B that has an instruction Y which
may run before X and touches memory X touches (at least one of them writing), the
pass inserts

    accel.wait A >= <number of signalling B instructions before X>

which is affine in the enclosing repeat indices, so it stays one op inside a repeat.
Y and every such instruction of B get `signal`. Engines run in order, so waiting for
the count covers every conflicting Y before X. Conflicts are judged on the bounding
box of each access over all iterations: correct, not yet minimal (a later pass can
sharpen the boxes and drop redundant waits). Waits only point backwards in the
unified order, so the program cannot deadlock. Signals already present in the input
are counted and a wait identical to one already in place is not added again, so
running the pass twice changes nothing.

    accel.dma 0 <dram 0, ...> -> <sbuf 0, 0, ...>
    accel.matmul <psum 0, 0, ...>, <sbuf 0, 0, ...>, <sbuf ...>
  becomes
    accel.dma 0 <dram 0, ...> -> <sbuf 0, 0, ...> {signal = 3 : i64}
    accel.wait pe sem 3 >= 1
    accel.matmul ...
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, Operation
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter

from tidal.dialects.accel import (
    AccessAttr,
    Aff,
    InstructionOp,
    ProgramOp,
    RepeatOp,
    StreamOp,
    WaitOp,
)
from tidal.sim.isa import engine_from_name
from tidal.passes.utils.expect import PassInputError, expect_level

Box = tuple[str, int, int, int, int, bool]  # space, part lo, part hi, byte lo, byte hi, write


def _box(ap: AccessAttr, counts: list[int], write: bool) -> Box:
    """Partitions and bytes an access may touch over all iterations."""
    plo, phi = ap.pstart.bounds(counts)
    olo, ohi = ap.offset.bounds(counts)
    dims = ap.dims if ap.space == "dram" else ap.dims[1:]
    extent = 4 * sum(abs(s) * (c - 1) for s, c in dims) + 4
    if ap.space == "dram":
        return ("dram", 0, 1, olo, ohi + extent, write)
    return (ap.space, plo, phi + ap.pcount, olo, ohi + extent, write)


def _overlap(x: Box, y: Box) -> bool:
    return (
        x[0] == y[0]
        and (x[5] or y[5])
        and x[1] < y[2] and y[1] < x[2]
        and x[3] < y[4] and y[3] < x[4]
    )


@dataclass
class _Site:
    op: InstructionOp
    engine: str
    path: tuple[RepeatOp, ...]
    index: int
    boxes: list[Box]


def _collect(block: Block, path: tuple[RepeatOp, ...], sites: list[_Site]) -> None:
    for op in block.ops:
        if isinstance(op, RepeatOp):
            _collect(op.body.block, path + (op,), sites)
        elif isinstance(op, InstructionOp):
            counts = [r.count for r in path]
            boxes = [_box(a, counts, False) for a in op.reads()]
            boxes += [_box(a, counts, True) for a in op.writes()]
            sites.append(_Site(op, op.engine_name(), path, len(sites), boxes))


@dataclass
class _Segment:
    """Accesses of one byte range still to be ordered against: each with the
    partitions it touched ((site, part lo, part hi))."""

    writers: list[tuple[_Site, int, int]] = field(default_factory=list)
    readers: list[tuple[_Site, int, int]] = field(default_factory=list)


class _IntervalMap:
    """Byte ranges of one memory space, each with its last writers and the readers
    since those writes."""

    def __init__(self) -> None:
        self.starts: list[int] = [0]
        self.segments: list[_Segment] = [_Segment()]

    def _split(self, at: int) -> int:
        i = bisect.bisect_right(self.starts, at) - 1
        if self.starts[i] != at:
            seg = self.segments[i]
            self.starts.insert(i + 1, at)
            self.segments.insert(i + 1, _Segment(list(seg.writers), list(seg.readers)))
            i += 1
        return i

    def span(self, lo: int, hi: int) -> range:
        first = self._split(lo)
        last = self._split(hi)
        return range(first, last)


def _conflicts(sites: list[_Site]) -> list[list[_Site]]:
    """For every site, the sites of other engines it must wait for: the last writers
    of what it reads or writes and, for a write, the readers since (earlier
    conflicts are ordered before those by the waits they got themselves), plus,
    inside a repeat, the conflicting sites later in the body, whose previous
    iteration runs first."""
    maps: dict[str, _IntervalMap] = {}
    found: list[list[_Site]] = []
    for x in sites:
        hits: dict[int, _Site] = {}
        for space, plo, phi, lo, hi, write in x.boxes:
            m = maps.setdefault(space, _IntervalMap())
            for i in m.span(lo, hi):
                seg = m.segments[i]
                against = seg.writers + seg.readers if write else seg.writers
                hits.update((y.index, y) for y, a, b in against if a < phi and plo < b)
                if not write:
                    seg.readers.append((x, plo, phi))
                    continue
                # A write retires what it covers: those accesses are ordered before
                # it (it waits for them), so later accesses need only wait for it.
                covered = lambda e: plo <= e[1] and e[2] <= phi  # noqa: E731
                seg.writers = [e for e in seg.writers if not covered(e)] + [(x, plo, phi)]
                seg.readers = [e for e in seg.readers if not covered(e)]
        found.append([y for y in hits.values() if y.engine != x.engine])

    by_repeat: dict[int, list[_Site]] = {}
    for s in sites:
        if s.path:
            by_repeat.setdefault(id(s.path[0]), []).append(s)
    for group in by_repeat.values():
        for x in group:
            for y in group:
                if y.index > x.index and y.engine != x.engine and any(
                    _overlap(bx, by) for bx in x.boxes for by in y.boxes
                ):
                    found[x.index].append(y)
    return found


@dataclass
class _Counter:
    """Signalling instructions of one engine, counted in expanded program order."""

    engine: str
    signalling: set[int]  # id() of signalling ops
    memo: dict[int, int] = field(default_factory=dict)
    prefixes: dict[int, dict[Operation, int]] = field(default_factory=dict)

    def count(self, op: Operation) -> int:
        if isinstance(op, RepeatOp):
            return op.count * self.per_iteration(op)
        if isinstance(op, InstructionOp):
            return int(op.engine_name() == self.engine and id(op) in self.signalling)
        return 0

    def per_iteration(self, repeat: RepeatOp) -> int:
        key = id(repeat)
        if key not in self.memo:
            self.memo[key] = sum(self.count(o) for o in repeat.body.block.ops)
        return self.memo[key]

    def before(self, x: Operation, path: tuple[RepeatOp, ...], program: ProgramOp) -> Aff:
        """Signalling instructions of the engine that run before x, as an Aff."""
        base = 0
        block = program.body.block
        for element in (*path, x):
            base += self.prefix(block)[element]
            if isinstance(element, RepeatOp):
                block = element.body.block
        return Aff(base, tuple(self.per_iteration(r) for r in path))

    def prefix(self, block: Block) -> dict[Operation, int]:
        """For every op of the block: the count of everything before it."""
        key = id(block)
        if key not in self.prefixes:
            total, table = 0, {}
            for op in block.ops:
                table[op] = total
                total += self.count(op)
            self.prefixes[key] = table
        return self.prefixes[key]


def _already_waits(op: Operation, sem: int, value: Aff) -> bool:
    """Is `op` directly preceded by a wait on `sem` for at least `value`?"""
    prev = op.prev_op
    while isinstance(prev, WaitOp):
        have = prev.value.data
        if prev.sem.value.data == sem and have.steps == value.steps and have.base >= value.base:
            return True
        prev = prev.prev_op
    return False


@dataclass(frozen=True)
class AccelInsertSyncPass(ModulePass):
    """Insert semaphore signals and waits for every cross-engine memory conflict."""

    name = "accel-insert-sync"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        expect_level(op, self.name, "accel")
        for program in [p for p in op.walk() if isinstance(p, ProgramOp)]:
            self.sync(program)

    def sync(self, program: ProgramOp) -> None:
        if any(isinstance(o, StreamOp) for o in program.body.block.ops):
            raise PassInputError(
                "accel-insert-sync: expects a unified-order accel.program; this one is "
                "already split into streams (run accel-insert-sync before accel-split-streams)",
                program,
            )
        sites: list[_Site] = []
        _collect(program.body.block, (), sites)
        by_engine: dict[str, list[_Site]] = {}
        for s in sites:
            by_engine.setdefault(s.engine, []).append(s)

        signalling: dict[str, set[int]] = {e: set() for e in by_engine}
        for s in sites:
            if s.op.signal is not None:  # signals the input already carries count too
                signalling[s.engine].add(id(s.op))
        conflicts = _conflicts(sites)
        waits: list[tuple[_Site, str]] = []
        for x in sites:
            engines = sorted({y.engine for y in conflicts[x.index]})
            for y in conflicts[x.index]:
                signalling[y.engine].add(id(y.op))
            waits += [(x, e) for e in engines]

        counters = {e: _Counter(e, ids) for e, ids in signalling.items()}
        for s in sites:
            if id(s.op) in signalling[s.engine]:
                s.op.set_signal(engine_from_name(s.engine))
        done: dict[tuple[int, str, str], Aff] = {}
        for x, engine in waits:
            value = counters[engine].before(x.op, x.path, program)
            block = x.op.parent_block()
            key = (id(block), x.engine, engine)
            seen = done.get(key)
            if seen is not None and seen.steps == value.steps and seen.base >= value.base:
                continue
            done[key] = value
            if _already_waits(x.op, engine_from_name(engine), value):
                continue
            wait = WaitOp(x.engine, engine_from_name(engine), value)
            Rewriter.insert_op(wait, InsertPoint.before(x.op))

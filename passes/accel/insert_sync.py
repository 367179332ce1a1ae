"""accel-insert-sync: make a unified-order accel.program safe to run on parallel engines.

Expects an `accel.program` in unified order (one sequential order across engines,
as loop-to-accel emits it). Every engine owns one semaphore (its engine id), which
an instruction increments when it completes if it carries `signal`. Before an
instruction X on engine A, for every other engine B that has an instruction Y which
may run before X and touches memory X touches (at least one of them writing), the
pass inserts

    accel.wait A >= <number of signalling B instructions before X>

which is affine in the enclosing repeat indices, so it stays one op inside a repeat.
Y gets `signal`. Engines run in order and a DMA queue's signals come in issue order,
so waiting for the count covers every conflicting Y before X. A DMA queue whose chip
lets several descriptors be in flight (`dma_queue_depth` > 1) does not order its own
DMAs: a DMA X that conflicts with an earlier DMA Y of its own queue waits on the
queue's own semaphore in the same way (`accel.wait dma0 sem 3 >= n`). The conflicts
are those edges of the dependence graph (`tidal.passes.analysis.dependence`), judged on exact footprints: strided accesses
that interleave, or tiles of different iterations, do not conflict (option
`exact=false` judges on bounding boxes instead). Of the sources of X on one engine,
only those not followed by another source in the same block before X signal
(`prune_signals=false`: all do); the count still covers them. Waits only point
backwards in the unified order, so the program cannot deadlock. Signals already
present in the input are counted and a wait identical to one already in place is
not added again, so running the pass twice changes nothing.

    accel.dma 0 <dram 0, ...> -> <sbuf 0, 0, ...>
    accel.matmul <psum 0, 0, ...>, <sbuf 0, 0, ...>, <sbuf ...>
  becomes
    accel.dma 0 <dram 0, ...> -> <sbuf 0, 0, ...> {signal = 3 : i64}
    accel.wait pe sem 3 >= 1
    accel.matmul ...
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import pairwise

from tidal.dialects.accel import (
    Aff,
    AffAttr,
    ProgramOp,
    RepeatOp,
    StreamOp,
    WaitOp,
)
from tidal.passes.analysis.dependence import (
    Dep,
    DependenceGraph,
    Operand,
    Site,
    fixed_at,
    last_conflict,
    latest_instance_of,
)
from tidal.passes.utils.expect import PassInputError, accel_programs
from tidal.sim.config import UnknownChipError, get_chip
from tidal.sim.isa import engine_from_name
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, Operation
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter


@dataclass
class _Counter:
    """Signalling instructions of one engine, counted in expanded program order."""

    engine: str
    signalling: set[int]  # id() of the engine's signalling instruction ops
    memo: dict[int, int] = field(default_factory=dict)
    prefixes: dict[int, dict[Operation, int]] = field(default_factory=dict)

    def count(self, op: Operation) -> int:
        if id(op) in self.signalling:
            return 1
        if isinstance(op, RepeatOp):
            return op.count * self.per_iteration(op)
        return 0

    def per_iteration(self, repeat: RepeatOp) -> int:
        key = id(repeat)
        if key not in self.memo:
            self.memo[key] = sum(self.count(o) for o in repeat.body.block.ops)
        return self.memo[key]

    def before(
        self, x: Operation, path: tuple[RepeatOp, ...], program: ProgramOp
    ) -> Aff:
        """Signalling instructions of the engine that run before x, as an Aff."""
        base = 0
        block = program.body.block
        for element in (*path, x):
            base += self.prefix(block)[element]
            if isinstance(element, RepeatOp):
                block = element.body.block
        return Aff(base, tuple(self.per_iteration(r) for r in path))

    def through(
        self, y: Site, x: Site, program: ProgramOp, last: tuple[int, ...] | None = None
    ) -> Aff:
        """Signalling instructions of the engine up to and including the latest
        instance of the signalling site y that runs before an instance of x, as an
        Aff in x's repeat indices: y's instance in the same iteration of their
        common repeats if y comes first in program order, else in the previous
        iteration of the innermost common repeat; of y's own repeats, the iteration
        `last` (indices of y's repeats below the common ones), by default the last.
        Where x is in the first iteration of that repeat the value counts no more
        than is signalled before x, so the wait holds at once."""
        c = y.common(x)
        a = self.before(y.op, y.path, program)
        base = a.base + 1
        if y.index >= x.index:  # only an earlier iteration of repeat c - 1 runs first
            base -= a.step(c - 1)
        for k in range(c, len(y.path)):
            base += a.step(k) * (y.path[k].count - 1 if last is None else last[k - c])
        return Aff(base, tuple(a.step(k) for k in range(c)))

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


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector (restored after, also on error).
    The dependence graph allocates tens of thousands of small objects (footprints,
    lattices, sweep entries) without cycles, and each collection they trigger
    rescans the whole module's IR: a third of the pass's time on ResNet-50."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _already_waits(op: Operation, sem: int, value: Aff) -> bool:
    """Is `op` directly preceded by a wait on `sem` for at least `value`?"""
    prev = op.prev_op
    while isinstance(prev, WaitOp):
        have = prev.value.data
        if (
            prev.sem.value.data == sem
            and have.steps == value.steps
            and have.base >= value.base
        ):
            return True
        prev = prev.prev_op
    return False


def _position(op: Operation, block: Block, index: dict[Operation, int]) -> int | None:
    """Index in `block` of the op of `block` that holds `op`; None if none does."""
    while op.parent_block() is not block:
        parent = op.parent_op()
        if parent is None:
            return None
        op = parent
    return index[op]


ITERATION_MAX = 16
"""The most iterations of a waiter's own repeat `_per_iteration` looks at one by one."""
OUTER_MAX = 16
"""The most iterations of a second own repeat around it that `_per_iteration` takes."""

# Per iteration of the waiter's own repeat, the sources it conflicts with and the
# iteration of each source's own repeats to count through (None: the last).
PerIteration = list[list[tuple[Site, tuple[int, ...] | None]]]


def _per_iteration(x: Site, deps: list[Dep]) -> PerIteration | None:
    """For a waiter x inside repeats of its own (ones its sources `deps`, all on one
    engine, do not share: the innermost of at most ITERATION_MAX iterations, at
    most one more around it, of at most OUTER_MAX; no dependence loop-carried), per
    iteration i of the innermost the sources whose instances conflict with x's
    instance i in any iteration of the other, each with its last conflicting
    iteration: the wait in iteration i then needs only their signals, so x's first
    iterations can start on a producer's first tiles. None where that does not
    apply."""
    if not deps or any(d.carried for d in deps):
        return None
    c = deps[0].src.common(x)
    own = x.path[c:]
    if any(d.src.common(x) != c for d in deps) or not 1 <= len(own) <= 2:
        return None
    if not 2 <= own[-1].count <= ITERATION_MAX or (len(own) == 2 and own[0].count > OUTER_MAX):
        return None
    pairs: dict[int, tuple[Site, list[tuple[Operand, Operand]]]] = {}
    for d in deps:
        pairs.setdefault(d.src.index, (d.src, []))[1].extend(d.pairs)
    outer = range(own[0].count) if len(own) == 2 else [None]
    out: PerIteration = []
    for i in range(own[-1].count):
        row: list[tuple[Site, tuple[int, ...] | None]] = []
        for a in outer:
            at_x = (i,) if a is None else (a, i)
            for y, yp in pairs.values():
                xfp = [fixed_at(xo.footprint, c, at_x) for xo, _ in yp]
                at = last_conflict(y, c, xfp, yp)
                if at is not False and (y, at) not in row:
                    row.append((y, at))  # type: ignore[arg-type]
        out.append(row)
    return out


def _fit(counts: list[int | None], cap: int) -> tuple[int, int] | None:
    """(base, step) of a count affine in the iteration, at least counts[i] in
    iteration i (None: nothing to wait for) and never above `cap` (the count the
    whole repeat waits for, which the program order guarantees); None when no step
    above 0 does."""
    n = len(counts)
    known = [(i, v) for i, v in enumerate(counts) if v is not None]
    if not known or n < 2:
        return None
    for step in sorted({-(-(v - w) // (i - j)) for i, v in known for j, w in known if i > j} | {0}):
        if step <= 0:
            continue
        base = max(v - step * i for i, v in known)
        if base + step * (n - 1) <= cap:
            return base, step
    return None


def _strongest(values: list[Aff]) -> list[Aff]:
    """`values` without those another one implies: of the counts with the same
    steps, the highest."""
    best: dict[tuple[int, ...], Aff] = {}
    for v in values:
        if v.steps not in best or best[v.steps].base < v.base:
            best[v.steps] = v
    return list(best.values())


def _undominated(
    x: Site, sources: list[Site], index: dict[Operation, int]
) -> list[Site]:
    """The sources of x whose signal is needed: a source Y is left out when a later
    source Y2 on the same engine sits in the same block and x is not between them
    (nor Y2 itself: a queue's DMA whose own earlier instance is a source),
    since then every instance of Y that runs before an instance of x is followed,
    before it, by an instance of Y2 (same iteration of the block's repeats), and
    the wait counts Y2's signal."""
    groups: dict[tuple[str, int], list[Site]] = {}
    for y in sorted({y.index: y for y in sources}.values(), key=lambda s: s.index):
        groups.setdefault((y.engine, id(y.op.parent_block())), []).append(y)
    kept: list[Site] = []
    for group in groups.values():
        block = group[0].op.parent_block()
        assert block is not None
        at = _position(x.op, block, index)
        for y, later in pairwise(group):
            # (x at the later source itself is between them too: the later
            # source is then x's own earlier instance, which runs before the
            # earlier source's instance of x's iteration, not after it)
            if at is not None and index[y.op] < at <= index[later.op]:
                kept.append(y)
        kept.append(group[-1])
    return kept


def _iteration_count(
    counter: _Counter, x: Site, program: ProgramOp, own: PerIteration, whole: Aff
) -> Aff:
    """The count x waits for, affine in its own repeat's index where one fits
    (`_fit`) between what each iteration needs (`own`) and `whole`, the count for
    the whole repeat; else `whole`."""
    counts: list[int | None] = []
    for row in own:
        values = [counter.through(y, x, program, at) for y, at in row]
        if any(v.steps != whole.steps for v in values):
            return whole
        counts.append(max((v.base for v in values), default=None))
    fit = _fit(counts, whole.base)
    if fit is None:
        return whole
    base, step = fit
    c = len(x.path) - 1  # the step on the innermost repeat; none on any other own one
    steps = (*whole.steps, *([0] * (c - len(whole.steps))), step)
    return Aff(base, steps)


@dataclass(frozen=True)
class AccelInsertSyncPass(ModulePass):
    """Insert semaphore signals and waits for every cross-engine memory conflict."""

    name = "accel-insert-sync"

    exact: bool = True
    """Judge conflicts on exact footprints; false: on bounding boxes (the
    conservative behaviour before the dependence graph)."""

    latest_source: bool = True
    """Wait for the signal of the latest instance of each source that runs before
    the waiting instruction; false: for every signal of the source's engine before
    it (an engine's unrelated later work then holds the waiter up too)."""

    latest_instance: bool = True
    """With `latest_source`, of a source's own repeats (those it does not share with
    the waiting instruction) wait for the last iteration whose instance conflicts
    with it (`latest_instance_of`), not the last iteration: a pooling band waits for
    the rows its windows read, not the whole plane; false: the last iteration."""

    per_iteration: bool = True
    """With `latest_instance`, a waiter inside one or two repeats of its own (a
    matmul's accumulation over input tiles, per output tile) waits in iteration i
    of the innermost for the sources its instance i conflicts with
    (`_per_iteration`), by a count affine in i where one fits, instead of for every
    source of the whole repeat before its first iteration; false: one count for
    the whole repeat."""

    prune_signals: bool = True
    """Leave out the signal of a source that a later source of the same engine in
    the same block always follows before the waiting instruction (its count covers
    it); false: every source signals."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for program in accel_programs(op, self.name):
            with _collector_paused():
                self.sync(program)

    def sync(self, program: ProgramOp) -> None:
        if any(isinstance(o, StreamOp) for o in program.body.block.ops):
            raise PassInputError(
                "accel-insert-sync: expects a unified-order accel.program; this one is "
                "already split into streams (run accel-insert-sync before accel-split-streams)",
                program,
            )
        try:
            chip = get_chip(program.chip.data)
        except UnknownChipError as e:
            raise PassInputError(f"accel-insert-sync: {e}", program) from None
        # A queue with several descriptors in flight does not order its own DMAs.
        unordered = frozenset(
            f"dma{q}" for q in range(chip.dma_queues) if chip.dma_queue_depth > 1
        )
        graph = DependenceGraph.build(
            program, exact=self.exact, cross_engine=True, unordered=unordered
        )
        sites = graph.sites
        by_engine: dict[str, list[Site]] = {}
        for s in sites:
            by_engine.setdefault(s.engine, []).append(s)

        signalling: dict[str, set[int]] = {e: set() for e in by_engine}
        for s in sites:
            if s.op.signal is not None:  # signals the input already carries count too
                signalling[s.engine].add(id(s.op))
        index = {
            o: i
            for b in [
                program.body.block,
                *(r.body.block for r in program.walk() if isinstance(r, RepeatOp)),
            ]
            for i, o in enumerate(b.ops)
        }
        waits: list[
            tuple[Site, str, list[Site], dict[int, tuple[int, ...] | None], PerIteration | None]
        ] = []
        for x in sites:
            deps = [d for d in graph.into(x) if d.src.engine != x.engine or x.engine in unordered]
            sources = [d.src for d in deps]
            # With `latest_instance`, per source the last iteration of its own
            # repeats that conflicts with x; a pruned source's counts for the kept
            # one of its engine and block (the latest of theirs: same repeats).
            latest: dict[int, tuple[int, ...] | None] = {}
            if self.latest_source and self.latest_instance:
                pairs: dict[int, list[tuple[Operand, Operand]]] = {}
                for d in deps:
                    if d.carried:
                        latest[d.src.index] = None  # (carried: every iteration)
                    else:
                        pairs.setdefault(d.src.index, []).extend(d.pairs)
                for y in {y.index: y for y in sources}.values():
                    if y.index not in latest:
                        latest[y.index] = latest_instance_of(y, x, pairs.get(y.index, []))
            # Waits on compute engines first: those engines waited for the loads
            # they read, so a later wait on a queue is often implied (and erased
            # by accel-prune-waits).
            engines = sorted(
                {y.engine for y in sources}, key=lambda e: (e.startswith("dma"), e)
            )
            everyone = sources
            if self.prune_signals:
                sources = _undominated(x, sources, index)
            for y in sources:
                signalling[y.engine].add(id(y.op))
            if latest:
                kept: dict[int, tuple[int, ...] | None] = {}
                for y in sources:
                    group = [z for z in everyone if z.engine == y.engine and z.path == y.path]
                    tops = [latest.get(z.index) for z in group]
                    kept[y.index] = None if any(t is None for t in tops) else max(tops)  # type: ignore[type-var]
                latest = kept
            for e in engines:
                own = None
                if self.latest_source and self.latest_instance and self.per_iteration:
                    own = _per_iteration(x, [d for d in deps if d.src.engine == e])
                    for row in own or []:
                        for y, _ in row:
                            signalling[y.engine].add(id(y.op))
                waits.append((x, e, [y for y in sources if y.engine == e], latest, own))

        counters = {e: _Counter(e, ids) for e, ids in signalling.items()}
        for s in sites:
            if id(s.op) in signalling[s.engine]:
                s.op.set_signal(engine_from_name(s.engine))
        # Per (block, waiting engine, signalling engine) and steps: the highest base
        # waited for (a wait for a lower count with the same steps adds nothing).
        done: dict[tuple[int, str, str], dict[tuple[int, ...], int]] = {}
        # One wait built by its constructor per (engine, semaphore); the others
        # share its attributes and differ in the count only.
        templates: dict[tuple[str, str], WaitOp] = {}
        for x, engine, ys, latest, own in waits:
            counter = counters[engine]
            if self.latest_source:
                values = _strongest([counter.through(y, x, program, latest.get(y.index)) for y in ys])
                if own is not None and len(values) == 1:
                    values = [_iteration_count(counter, x, program, own, values[0])]
            else:
                values = [counter.before(x.op, x.path, program)]
            block = x.op.parent_block()
            seen = done.setdefault((id(block), x.engine, engine), {})
            for value in values:
                highest = seen.get(value.steps)
                if highest is not None and highest >= value.base:
                    continue
                seen[value.steps] = value.base
                if _already_waits(x.op, engine_from_name(engine), value):
                    continue
                template = templates.get((x.engine, engine))
                if template is None:
                    wait = WaitOp(x.engine, engine_from_name(engine), value)
                    templates[x.engine, engine] = wait
                else:
                    props = {**template.properties, "value": AffAttr(value)}
                    wait = WaitOp.create(properties=props)
                Rewriter.insert_op(wait, InsertPoint.before(x.op))

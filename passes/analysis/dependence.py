"""The memory dependence graph of a unified-order accel program.

Nodes are the instructions of an `accel.program` (before `accel-split-streams`), in
program order, each with its engine and the `accel.repeat` ops around it. An edge
`src -> dst` says an instance of `src` runs before an instance of `dst` in the
sequential order and both touch a byte of one partition, at least one writing: RAW
(src writes, dst reads), WAR (src reads, dst writes) or WAW. Overlap is decided on
exact footprints (`tidal.passes.analysis.footprint`), never bounding boxes (unless
asked: `exact=False`). Operand roles are the ops' `reads()`/`writes()`, which read
them from each opcode's datasheet entry (`tidal.sim.spec`); a matmul that
accumulates also reads its PSUM tile.

Forward edges (src earlier in program order) come from a sweep that keeps, per byte
range, the last writers and the readers since: a write that covers an earlier access
(`footprint.covers`) hides it from later accesses, which depend on the covering write
instead (the graph keeps the nearest dependences; a hidden one is implied by a path).
Backward edges (src later in the body of a common repeat) are loop-carried: they exist
only through an earlier iteration of that repeat.

    graph = DependenceGraph.build(program)
    for dep in graph.into(site):     # dep.kind "RAW", dep.space "sbuf", dep.carried
        ...
    dep.levels()                     # (None: same iteration, l: carried at level l)
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from itertools import islice
from math import prod
from dataclasses import dataclass, field
from typing import Any

from tidal.dialects.accel import AccessAttr, InstructionOp, ProgramOp, RepeatOp
from tidal.passes.analysis.footprint import (
    Cover,
    Footprint,
    Lattice,
    carried,
    carried_levels,
    overlaps,
    same_iteration,
)
from xdsl.ir import Block


@dataclass(frozen=True)
class Operand:
    """One memory operand of a site: its access, whether it is written (and, if
    so, also read: an accumulating matmul's PSUM tile), and its footprint over all
    iterations of the enclosing repeats."""

    ap: AccessAttr
    write: bool
    footprint: Footprint
    box: tuple[int, int, int, int]  # partition lo, hi, byte lo, hi (exclusive)
    read: bool = True


@dataclass(eq=False)
class Site:
    """An instruction op of the program, its engine, the repeats around it
    (outermost first) and its position in program order."""

    op: InstructionOp
    engine: str
    path: tuple[RepeatOp, ...]
    index: int
    operands: list[Operand]

    def common(self, other: Site) -> int:
        """How many enclosing repeats the two sites share."""
        n = 0
        for a, b in zip(self.path, other.path):
            if a is not b:
                break
            n += 1
        return n


@dataclass(eq=False)
class Dep:
    """`src` runs before `dst` (in some instance pair) and they conflict on `space`
    in the way `kind` says (a pair of sites has one edge per kind and space).
    `carried`: src follows dst in program order, so the pair runs in different
    iterations of a common repeat. `pairs`: the (dst, src) operands that conflict."""

    src: Site
    dst: Site
    kind: str  # RAW, WAR or WAW
    space: str
    carried: bool
    pairs: list[tuple[Operand, Operand]] = field(default_factory=list)

    def levels(self) -> list[int | None]:
        """Where instance pairs conflict with src first: None for the same iteration
        of every common repeat (forward edges only), l for src in an earlier
        iteration of common repeat l (indices equal above l)."""
        common = self.src.common(self.dst)
        out: set[int | None] = set()
        for d, s in self.pairs:
            if not self.carried and same_iteration(d.footprint, s.footprint, common):
                out.add(None)
            out.update(carried_levels(d.footprint, s.footprint, common))
        return sorted(out, key=lambda x: -1 if x is None else x)


def _kinds(src: Operand, dst: Operand) -> list[str]:
    out = ["RAW"] if src.write and dst.read else []
    out += ["WAR"] if src.read and dst.write else []
    return out + (["WAW"] if src.write and dst.write else [])


def _operands(op: InstructionOp, trips: list[int]) -> list[Operand]:
    writes, reads = op.writes(), op.reads()
    out = [
        Operand(a, True, f := Footprint.of(a, trips), f.box(), a in reads)
        for a in writes
    ]
    out += [
        Operand(a, False, f := Footprint.of(a, trips), f.box())
        for a in reads
        if a not in writes
    ]
    return out


def collect(
    block: Block, path: tuple[RepeatOp, ...] = (), sites: list[Site] | None = None
) -> list[Site]:
    """The instruction sites under `block`, in program order."""
    sites = [] if sites is None else sites
    for op in block.ops:
        if isinstance(op, RepeatOp):
            collect(op.body.block, path + (op,), sites)
        elif isinstance(op, InstructionOp):
            trips = [r.count for r in path]
            sites.append(
                Site(op, op.engine_name(), path, len(sites), _operands(op, trips))
            )
    return sites


_Add = Callable[[Site, Operand, Site, Operand, bool], None]

# An access still visible to later ones: (site, operand, partition lo, hi).
_Entry = tuple[Site, Operand, int, int]


@dataclass
class Segment:
    """What one byte range of an `IntervalMap` holds: its last writers and the
    readers since (the sweep's `_Entry`s; loop-schedule's nest indices)."""

    writers: list[Any] = field(default_factory=list)
    readers: list[Any] = field(default_factory=list)


class IntervalMap:
    """Byte ranges of one memory space, each with its last writers and the readers
    since those writes."""

    def __init__(self) -> None:
        self.starts: list[int] = [0]
        self.segments: list[Segment] = [Segment()]

    def _split(self, at: int) -> int:
        i = bisect.bisect_right(self.starts, at) - 1
        if self.starts[i] != at:
            seg = self.segments[i]
            self.starts.insert(i + 1, at)
            self.segments.insert(i + 1, Segment(list(seg.writers), list(seg.readers)))
            i += 1
        return i

    def window(self, i: int) -> tuple[int, int]:
        """The byte range of segment i."""
        end = self.starts[i + 1] if i + 1 < len(self.starts) else 1 << 62
        return self.starts[i], end

    def span(self, lo: int, hi: int) -> range:
        first = self._split(lo)
        return range(first, self._split(hi))

    def coalesce(self, first: int, end: int) -> None:
        """Merge each segment of `first`..`end` (and the one after) into the one
        before it where both hold the same entries, in the same order: one segment
        then stands for both. What each access meets is unchanged on bounding
        boxes, where a write hides by partitions, not by the bytes of a segment;
        the box sweep of columns of a concatenation spanned all n earlier ends
        before (n^2)."""
        segments = self.segments
        for k in range(min(end, len(segments) - 1), max(first, 1) - 1, -1):
            a, b = segments[k - 1], segments[k]
            if _same(a.writers, b.writers) and _same(a.readers, b.readers):
                del self.starts[k]
                del segments[k]


def _same(a: list[Any], b: list[Any]) -> bool:
    """The same entries in the same order: the same objects (the sweep's tuples),
    or equal numbers (loop-schedule's nest indices)."""
    return len(a) == len(b) and all(x is y or (type(x) is int and x == y) for x, y in zip(a, b))


@dataclass
class DependenceGraph:
    """Sites in program order and the dependence edges between them."""

    sites: list[Site]
    deps: list[Dep]
    _into: dict[int, list[Dep]] = field(default_factory=dict)

    def into(self, site: Site) -> list[Dep]:
        """Edges ending at `site`."""
        return self._into.get(site.index, [])

    @staticmethod
    def build(
        program: ProgramOp | Block,
        *,
        exact: bool = True,
        cross_engine: bool = False,
        unordered: frozenset[str] = frozenset(),
    ) -> DependenceGraph:
        """`exact=False` judges overlap and cover on bounding boxes instead
        (conservative: more edges, never fewer real ones). `cross_engine=True`
        keeps only the edges that the engines' own order does not enforce (what
        accel-insert-sync asks for): those between sites of different engines, and
        those within an engine named in `unordered` (a DMA queue with several
        descriptors in flight). They are the same as in the whole graph: a
        same-engine access still hides what it covers, it just gets no edges."""
        block = program.body.block if isinstance(program, ProgramOp) else program
        sites = collect(block)
        graph = DependenceGraph(sites, [])
        edges: dict[tuple[int, int, bool, str, str], Dep] = {}

        def add(x: Site, xo: Operand, y: Site, yo: Operand, carried: bool) -> None:
            for kind in _kinds(yo, xo):
                key = (y.index, x.index, carried, kind, xo.ap.space)
                dep = edges.get(key)
                if dep is None:
                    dep = Dep(y, x, kind, xo.ap.space, carried)
                    edges[key] = dep
                    graph.deps.append(dep)
                    graph._into.setdefault(x.index, []).append(dep)
                if (xo, yo) not in dep.pairs:
                    dep.pairs.append((xo, yo))

        def ordered(y: Site, x: Site) -> bool:
            return cross_engine and y.engine == x.engine and x.engine not in unordered

        def self_carried(x: Site) -> bool:
            # An instance of x may still be in flight when the next one issues.
            return cross_engine and x.engine in unordered

        _forward(sites, add, exact, ordered)
        _backward(sites, add, exact, ordered, self_carried)
        return graph


_Ordered = Callable[[Site, Site], bool]


def _forward(sites: list[Site], add: _Add, exact: bool, ordered: _Ordered) -> None:
    """Edges from earlier sites: the sweep over byte ranges."""
    maps: dict[str, IntervalMap] = {}
    for x in sites:
        for xo in x.operands:
            plo, phi = xo.box[0], xo.box[1]
            m = maps.get(xo.ap.space)
            if m is None:
                m = maps[xo.ap.space] = IntervalMap()
            entry = (x, xo, plo, phi)
            tested: set[int] = set()  # id() of the operands tested against xo
            covers: dict[int, Cover] = {}  # id() of an operand xo may hide
            spanned = range(0)
            for i in _segments(m, xo, exact):
                spanned = range(spanned.start if spanned else i, i + 1)
                seg = m.segments[i]
                for entries in (
                    (seg.writers, seg.readers) if xo.write else (seg.writers,)
                ):
                    for y, yo, a, b in entries:
                        if not (a < phi and plo < b) or id(yo) in tested:
                            continue
                        if ordered(y, x):
                            continue
                        tested.add(id(yo))
                        if not exact or overlaps(xo.footprint, yo.footprint):
                            add(x, xo, y, yo, False)
                if not xo.write:
                    seg.readers.append(entry)
                    continue
                # A write hides what it covers: those accesses are ordered before it,
                # and whatever overlaps them later overlaps the write too.
                window = m.window(i)
                seg.writers = _unhidden(seg.writers, xo, exact, covers, window)
                seg.writers.append(entry)
                seg.readers = _unhidden(seg.readers, xo, exact, covers, window)
            if not exact and spanned:
                m.coalesce(spanned.start, spanned.stop)


RUNS_MAX = 64
"""The most byte runs an access is entered in the sweep's map as, each its own
range; an access of more (or one whose repeats move partition and bytes together)
is entered over its bounding byte range."""


def _segments(m: IntervalMap, xo: Operand, exact: bool) -> Iterator[int]:
    """The segments of `m` the operand's bytes span, split at their ends: over its
    bounding byte range, or, exactly, over each of its runs when it has a few
    (a column of a row-major tensor is one run per row, and the columns a
    concatenation writes then meet no other column's entries)."""
    lo, hi = xo.box[2], xo.box[3]
    runs = None
    if exact and not xo.footprint.is_box():
        spans = xo.footprint.intervals(RUNS_MAX)
        runs = None if spans is None else spans[1]
    for rlo, rhi in runs or [(lo, hi)]:
        yield from m.span(rlo, rhi)


def _unhidden(
    entries: list[_Entry],
    xo: Operand,
    exact: bool,
    covers: dict[int, Cover],
    window: tuple[int, int],
) -> list[_Entry]:
    """The entries the write `xo` does not hide from later accesses in the byte
    range `window` (a segment the write spans): on boxes, those outside its
    partitions; exactly, those it does not cover there (one `Cover` per operand
    pair, kept in `covers` across the write's segments)."""
    plo, phi = xo.box[0], xo.box[1]
    kept: list[_Entry] = []
    for e in entries:
        if plo <= e[2] and e[3] <= phi:  # on boxes, the write spans the bytes
            if not exact:
                continue
            cover = covers.get(id(e[1]))
            if cover is None:
                cover = covers[id(e[1])] = Cover(xo.footprint, e[1].footprint)
            if cover.always if cover.always is not None else cover(window):
                continue
        kept.append(e)
    return kept


def _backward(
    sites: list[Site],
    add: _Add,
    exact: bool,
    ordered: _Ordered,
    self_carried: Callable[[Site], bool],
) -> None:
    """Loop-carried edges: a site later in a common repeat's body (or, where
    `self_carried` says so, the site itself) whose earlier iteration conflicts with
    an earlier site."""
    groups: dict[int, list[Site]] = {}
    for s in sites:
        if s.path:
            groups.setdefault(id(s.path[0]), []).append(s)
    for group in groups.values():
        for x in group:
            for y in group:
                if y.index < x.index or ordered(y, x):
                    continue
                if y is x and not self_carried(x):
                    continue
                common = x.common(y)
                for xo in x.operands:
                    for yo in y.operands:
                        if not (xo.write or yo.write) or xo.ap.space != yo.ap.space:
                            continue
                        if not _boxes_meet(xo.box, yo.box):
                            continue
                        if not exact or carried(xo.footprint, yo.footprint, common):
                            add(x, xo, y, yo, True)


def _boxes_meet(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]


# ------------------------------------------------ instances of a repeated source


LATEST_SCAN = 256
"""The most iterations of a source's own repeats `latest_instance_of` tries, from the
last one back, before it settles for the last."""


def fixed_at(f: Footprint, c: int, at: tuple[int, ...]) -> Footprint:
    """Footprint `f` with the repeat indices from level c on fixed to `at` (the
    levels above c still over all their iterations).

    Every footprint fixed at level c has the same terms, only its bases differ: the
    first one's derived values (terms, whether it is a box, its lattices' dims) are
    kept on `f` and the others take them shifted, not computed again (the sync pass
    fixes footprints tens of thousands of times on ResNet-50)."""
    loops = f.loops
    pbase = f.pbase + sum(t.part * i for t, i in zip(loops[c:], at) if t is not None)
    bbase = f.bbase + sum(t.byte * i for t, i in zip(loops[c:], at) if t is not None)
    out = Footprint(f.space, pbase, bbase, f.free, loops[:c])
    shapes = f.__dict__.setdefault("_fixed_shapes", {})
    shape = shapes.get(c)
    if shape is None:
        shapes[c] = out  # (its values are computed as they are read)
        return out
    derived = shape.__dict__
    dp, db = pbase - shape.pbase, bbase - shape.bbase
    for name in ("_terms", "coupled", "_is_box"):
        if name in derived:
            out.__dict__[name] = derived[name]
    if "_partitions" in derived:
        lat = derived["_partitions"]
        out.__dict__["_partitions"] = Lattice(lat.base + dp, lat.dims)
    if "_bytes" in derived:
        lat = derived["_bytes"]
        out.__dict__["_bytes"] = Lattice(lat.base + db, lat.dims)
    if "_box" in derived:
        p0, p1, b0, b1 = derived["_box"]
        out.__dict__["_box"] = (p0 + dp, p1 + dp, b0 + db, b1 + db)
    return out


def last_conflict(
    y: Site, c: int, xfp: list[Footprint], pairs: list[tuple[Operand, Operand]]
) -> tuple[int, ...] | None | bool:
    """The last iteration of y's own repeats (below level c) whose instance touches a
    byte of the waiter's footprints `xfp` (one per pair of `pairs`, the waiter's own
    repeat index fixed); () when y has no repeats of its own and conflicts; None
    when none of the last LATEST_SCAN iterations does (count through the last);
    False when y conflicts with none of them at all."""
    trips = [r.count for r in y.path[c:]]
    if not trips:
        return () if any(overlaps(f, yo.footprint) for f, (_, yo) in zip(xfp, pairs)) else False
    if not any(overlaps(f, yo.footprint) for f, (_, yo) in zip(xfp, pairs)):
        return False
    backwards = _backwards(trips)
    boxes = _box_pairs(y, c, xfp, pairs)
    if boxes is not None:  # every pair two boxes: shift y's box, no footprints
        for at in islice(backwards, LATEST_SCAN):
            for a, (p0, p1, b0, b1), steps in boxes:
                dp = sum(sp * i for (sp, _), i in zip(steps, at))
                db = sum(sb * i for (_, sb), i in zip(steps, at))
                if a[0] < p1 + dp and p0 + dp < a[1] and a[2] < b1 + db and b0 + db < a[3]:
                    return at
        return None
    for at in islice(backwards, LATEST_SCAN):
        if any(overlaps(f, fixed_at(yo.footprint, c, at)) for f, (_, yo) in zip(xfp, pairs)):
            return at
    return None


def _backwards(trips: list[int]) -> Iterator[tuple[int, ...]]:
    """The index vectors of repeats with `trips` iterations from the last one back
    (the innermost fastest), made one at a time: `itertools.product` would first
    hold every index of each range (a repeat of 2^31 iterations: gigabytes)."""
    n = prod(trips)
    for flat in range(n - 1, -1, -1):
        at = []
        for t in reversed(trips):
            flat, i = divmod(flat, t)
            at.append(i)
        yield tuple(reversed(at))


def _box_pairs(
    y: Site, c: int, xfp: list[Footprint], pairs: list[tuple[Operand, Operand]]
) -> list[tuple[tuple[int, int, int, int], tuple[int, int, int, int], list[tuple[int, int]]]] | None:
    """For `last_conflict`, when each waiter footprint and each of y's footprints
    fixed at level c (any iteration: they differ by a shift) touch every byte of
    their bounding boxes: per pair the waiter's box, y's box in iteration 0 of its
    own repeats and the (partition, byte) shift per step of each; else None. Two
    boxes overlap exactly when they meet (`footprint.overlaps`)."""
    out = []
    zeros = (0,) * (len(y.path) - c)
    for f, (_, yo) in zip(xfp, pairs):
        first = fixed_at(yo.footprint, c, zeros)
        if f.space != first.space or not (f.is_box() and first.is_box()):
            return None
        steps = [(0, 0) if t is None else (t.part, t.byte) for t in yo.footprint.loops[c:]]
        out.append((f.box(), first.box(), steps))
    return out


def latest_instance_of(y: Site, x: Site, pairs: list[tuple[Operand, Operand]]) -> tuple[int, ...] | None:
    """The last iteration of y's own repeats (below those it shares with x) whose
    instance of y touches a byte of x's operands in `pairs` (x's, y's), in any
    iteration of the common repeats; None when y has no repeats of its own or none
    of the last LATEST_SCAN iterations does (then every iteration counts)."""
    at = last_conflict(y, y.common(x), [xo.footprint for xo, _ in pairs], pairs)
    return at if isinstance(at, tuple) and at else None  # (): no repeats of its own

"""Exact affine footprints of accel memory operands, and exact overlap tests.

An operand `#accel.ap<space pstart, offset, dims>` inside `accel.repeat` ops with trip
counts `trips` touches, for every repeat index vector `i` and every element index `j`,

    partition  pstart(i) + j_0                           (on chip; dim 0, stride 1)
    bytes      offset(i) + 4 * sum_k stride_k * j_k       [.., + 4)  (k >= 1 on chip,
                                                          k >= 0 in DRAM)

so it is a set of integer points `base + sum(term * v)` over a box of variables, each
term moving the partition, the byte address or both (a repeat index whose step moves
both). A `Footprint` keeps exactly that description, never a bounding box: two
footprints intersect when the difference of their points reaches partition 0 and a
byte distance below 4 (the element width), which `Lattice` decides by arithmetic on
strides (merging contiguous dims, gcd tests, a branch-and-bound over the largest
stride) rather than by enumerating elements::

    x = Footprint.of(AccessAttr.get("sbuf", 0, Aff(0, (8,)), [(1, 32), (2, 2)]), [4])
    y = Footprint.of(AccessAttr.get("sbuf", 0, 4, [(1, 32), (2, 2)]), [])
    overlaps(x, y)                       # True: iteration 0 touches bytes 0-3, 8-11;
                                         # y bytes 4-7, 12-15; iteration 1 bytes 8-..
    Footprint.of(ap, trips, at=(2,))      # one iteration: the indices fold into bases

For accesses under common repeats, `same_iteration`, `carried_levels` and
`carried_distances` answer which iteration pairs conflict: the same iteration of
every common repeat, or the source d iterations earlier at level l (indices equal
above l). `Footprint.intervals` lists the merged byte intervals per partition range
when they are wanted explicitly (one per row, never one per element). For the
dependence sweep, `carried` is `bool(carried_levels(...))` stopping early, and
`Cover(w, e)(window)` is `covers(w, e, window)` for one pair and many windows.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

import numpy as np
from tidal.dialects.accel import AccessAttr

ELEM_BYTES = 4  # fp32, the only element type (see tidal.sim.isa)

Dims = tuple[tuple[int, int], ...]
T = TypeVar("T")


class _memo(Generic[T]):
    """A lazily computed attribute, as `functools.cached_property` but without its
    lock (Python 3.11 takes one per attribute on every first access, which costs
    more than the value here: the dependence sweep reads thousands of footprints)."""

    def __init__(self, func: Callable[[Any], T]) -> None:
        self.func = func
        self.name = func.__name__

    def __get__(self, obj: Any, owner: type | None = None) -> T:
        value = obj.__dict__[self.name] = self.func(obj)
        return value


def canonical(base: int, dims: Sequence[tuple[int, int]]) -> tuple[int, Dims]:
    """The same point set `{base + sum(s * j), 0 <= j < c}` with positive strides,
    sorted largest first, no trivial dims, and dims merged where they tile: a stride
    that is a multiple m <= c0 of the next smaller stride s0 leaves no gap, so the two
    dims are one dim of stride s0."""
    kept: list[tuple[int, int]] = []
    for s, c in dims:
        if c <= 1 or s == 0:
            continue
        if s < 0:
            base += s * (c - 1)
            s = -s
        kept.append((s, c))
    merged: list[tuple[int, int]] = []
    for s, c in sorted(kept):
        if merged:
            s0, c0 = merged[-1]
            if s % s0 == 0 and s // s0 <= c0:
                merged[-1] = (s0, (s // s0) * (c - 1) + c0)
                continue
        merged.append((s, c))
    return base, tuple(reversed(merged))


def reaches(base: int, dims: Dims, lo: int, hi: int) -> bool:
    """Does `{base + sum(s * j)}` (canonical dims) hold a point in [lo, hi]?"""
    if not dims:
        return lo <= base <= hi
    span = sum(s * (c - 1) for s, c in dims)
    if base > hi or base + span < lo:
        return False
    if base >= lo and base + span <= hi:
        return True
    g = 0
    for s, _ in dims:
        g = math.gcd(g, s)
    if lo + (base - lo) % g > hi:  # no value of the right residue in the window
        return False
    s, c = dims[0]
    rest = dims[1:]
    if not rest:
        j = max(0, -((base - lo) // s))  # ceil((lo - base) / s)
        return j < c and base + s * j <= hi
    rest_span = span - s * (c - 1)
    first = max(0, -((base + rest_span - lo) // s))
    last = min(c - 1, (hi - base) // s)
    return any(reaches(base + s * j, rest, lo, hi) for j in range(first, last + 1))


@dataclass(frozen=True)
class Lattice:
    """`{base + sum(s * j) : 0 <= j < c}` over canonical dims (see `canonical`)."""

    base: int
    dims: Dims = ()

    @staticmethod
    def of(base: int, dims: Sequence[tuple[int, int]] = ()) -> Lattice:
        return Lattice(*canonical(base, dims))

    @property
    def lo(self) -> int:
        return self.base

    @_memo
    def hi(self) -> int:
        return self.base + sum(s * (c - 1) for s, c in self.dims)

    def is_run(self, width: int) -> bool:
        """Are the points, each widened to [x, x + width), one gapless interval?"""
        return not self.dims or (len(self.dims) == 1 and self.dims[0][0] <= width)

    def meets(self, other: Lattice, lo: int, hi: int) -> bool:
        """Is there x in self and y in other with lo <= x - y <= hi?"""
        neg = tuple((-s, c) for s, c in other.dims)
        return reaches(*canonical(self.base - other.base, self.dims + neg), lo, hi)

    def runs(self, width: int, limit: int = 1 << 16) -> list[tuple[int, int]] | None:
        """The points widened to [x, x + width) as sorted, merged intervals [lo, hi);
        None when there would be more than `limit` before merging. The innermost
        dim is one run when its stride is at most `width`, so a row-major tile is
        one interval per row, never one per element."""
        dims = list(self.dims)
        inner = 0
        if dims and dims[-1][0] <= width:
            s, c = dims.pop()
            inner = s * (c - 1)
        if math.prod(c for _, c in dims) > limit:
            return None
        starts = Lattice(self.base, tuple(dims)).points()
        out: list[tuple[int, int]] = []
        for x in starts:
            lo, hi = x, x + inner + width
            if out and lo <= out[-1][1]:
                out[-1] = (out[-1][0], max(out[-1][1], hi))
            else:
                out.append((lo, hi))
        return out

    def points(self) -> list[int]:
        """Every point, sorted (for tests and small sets only)."""
        out = [self.base]
        for s, c in self.dims:
            out = [x + s * j for x in out for j in range(c)]
        return sorted(set(out))


class Term(NamedTuple):
    """One variable of a footprint, 0 <= v < count, moving the partition by `part`
    and the byte address by `byte` per step."""

    part: int
    byte: int
    count: int


@dataclass(frozen=True)
class Footprint:
    """The points an access touches: (pbase, bbase) + sum(term * v) over the terms'
    box. `free` are the element dims (and the partition dim), `loops[k]` the term of
    repeat index i_k (None once fixed by `at`)."""

    space: str
    pbase: int
    bbase: int
    free: tuple[Term, ...]
    loops: tuple[Term | None, ...]

    @staticmethod
    def of(
        ap: AccessAttr, trips: Sequence[int], at: Sequence[int] | None = None
    ) -> Footprint:
        """The footprint over all iterations of repeats with trip counts `trips`
        (outermost first), or at the repeat indices `at` when given."""
        dims = ap.dims
        if ap.space == "dram":
            free = tuple(Term(0, ELEM_BYTES * s, c) for s, c in dims)
        else:
            free = (Term(1, 0, dims[0][1]),)
            free += tuple(Term(0, ELEM_BYTES * s, c) for s, c in dims[1:])
        pstart, offset = ap.pstart, ap.offset
        if at is not None:
            return Footprint(ap.space, pstart.at(at), offset.at(at), free, ())
        loops = tuple(
            Term(pstart.step(k), offset.step(k), trip) for k, trip in enumerate(trips)
        )
        return Footprint(ap.space, pstart.base, offset.base, free, loops)

    def terms(self) -> tuple[Term, ...]:
        return self._terms

    @_memo
    def _terms(self) -> tuple[Term, ...]:
        return (*self.free, *(t for t in self.loops if t is not None))

    @_memo
    def coupled(self) -> bool:
        """Does a term move both the partition and the bytes?"""
        return any(t.part and t.byte for t in self._terms)

    def partitions(self) -> Lattice:
        """Partitions touched (exact when no repeat moves both partition and bytes)."""
        return self._partitions

    @_memo
    def _partitions(self) -> Lattice:
        return Lattice.of(self.pbase, [(t.part, t.count) for t in self._terms])

    def bytes(self) -> Lattice:
        """Element start addresses (exact when no term moves both)."""
        return self._bytes

    @_memo
    def _bytes(self) -> Lattice:
        return Lattice.of(self.bbase, [(t.byte, t.count) for t in self._terms])

    def intervals(
        self, limit: int = 1 << 16
    ) -> tuple[Lattice, list[tuple[int, int]]] | None:
        """(partitions, byte intervals [lo, hi) touched in each of them), or None
        when a term moves both (the bytes then differ per partition) or there are
        more than `limit` intervals before merging."""
        if self.coupled:
            return None
        runs = self._bytes.runs(ELEM_BYTES, limit)
        return None if runs is None else (self._partitions, runs)

    def is_box(self) -> bool:
        """Does it touch every byte of every partition of its bounding box?"""
        return self._is_box

    @_memo
    def _is_box(self) -> bool:
        if self.coupled:
            return False
        return self._partitions.is_run(1) and self._bytes.is_run(ELEM_BYTES)

    def box(self) -> tuple[int, int, int, int]:
        """Bounding box: partition lo, hi (exclusive), byte lo, hi (exclusive)."""
        return self._box

    @_memo
    def _box(self) -> tuple[int, int, int, int]:
        # The lattices' bounds, without building the lattices.
        plo = phi = self.pbase
        blo = bhi = self.bbase
        for t in self._terms:
            dp, db = t.part * (t.count - 1), t.byte * (t.count - 1)
            if dp < 0:
                plo += dp
            else:
                phi += dp
            if db < 0:
                blo += db
            else:
                bhi += db
        return plo, phi + 1, blo, bhi + ELEM_BYTES


def _neg(t: Term) -> Term:
    return Term(-t.part, -t.byte, t.count)


def solvable(pbase: int, bbase: int, terms: Sequence[Term]) -> bool:
    """Is there v in the terms' box with partition difference 0 and byte difference
    in (-4, 4)? Terms that move both are enumerated (pruned by bounds); the rest
    split into two independent lattice problems."""
    coupled = [t for t in terms if t.part and t.byte]
    parts = canonical(
        pbase, [(t.part, t.count) for t in terms if t.part and not t.byte]
    )
    data = canonical(bbase, [(t.byte, t.count) for t in terms if t.byte and not t.part])
    if not coupled:
        return reaches(*parts, 0, 0) and reaches(*data, 1 - ELEM_BYTES, ELEM_BYTES - 1)
    pspan = [
        (min(0, t.part * (t.count - 1)), max(0, t.part * (t.count - 1)))
        for t in coupled
    ]
    bspan = [
        (min(0, t.byte * (t.count - 1)), max(0, t.byte * (t.count - 1)))
        for t in coupled
    ]
    p_lo, p_hi = parts[0], parts[0] + sum(s * (c - 1) for s, c in parts[1])
    b_lo, b_hi = data[0], data[0] + sum(s * (c - 1) for s, c in data[1])

    def go(k: int, dp: int, db: int) -> bool:
        if k == len(coupled):
            return reaches(parts[0] + dp, parts[1], 0, 0) and reaches(
                data[0] + db, data[1], 1 - ELEM_BYTES, ELEM_BYTES - 1
            )
        rp = (sum(a for a, _ in pspan[k:]), sum(b for _, b in pspan[k:]))
        rb = (sum(a for a, _ in bspan[k:]), sum(b for _, b in bspan[k:]))
        if p_lo + dp + rp[0] > 0 or p_hi + dp + rp[1] < 0:
            return False
        if b_lo + db + rb[0] >= ELEM_BYTES or b_hi + db + rb[1] <= -ELEM_BYTES:
            return False
        t = coupled[k]
        return any(go(k + 1, dp + t.part * v, db + t.byte * v) for v in range(t.count))

    return go(0, 0, 0)


def overlaps(x: Footprint, y: Footprint) -> bool:
    """Do x and y share a byte of a partition, over all their iterations?"""
    if x.space != y.space:
        return False
    if x._is_box and y._is_box:  # every byte of both boxes: do the boxes meet?
        a, b = x._box, y._box
        return a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]
    if x._is_box or y._is_box:
        box, other = (x, y) if x._is_box else (y, x)
        if not other.coupled:  # a partition of the box's, an element meeting its bytes
            plo, phi, blo, bhi = box._box
            parts, data = other._partitions, other._bytes
            return reaches(parts.base, parts.dims, plo, phi - 1) and reaches(
                data.base, data.dims, blo - ELEM_BYTES + 1, bhi - 1
            )
    return solvable(
        x.pbase - y.pbase, x.bbase - y.bbase, [*x.terms(), *map(_neg, y.terms())]
    )


def _system(
    x: Footprint, y: Footprint, common: int, level: int | None
) -> tuple[int, int, list[Term], list[Term], list[Term]]:
    """The difference x - y with the indices of the `common` shared repeats equal
    above `level` and free below it; `level` itself is left out (None: equal at
    every common level). Returns (partition base, byte base, terms, x's and y's
    repeat terms)."""
    if None in x.loops or None in y.loops:
        raise ValueError("ordered overlap tests need footprints over all iterations")
    xl = [t for t in x.loops if t is not None]
    yl = [t for t in y.loops if t is not None]
    terms = [*x.free, *map(_neg, y.free), *xl[common:], *map(_neg, yl[common:])]
    for k in range(common):
        tx, ty = xl[k], yl[k]
        if level is None or k < level:
            terms.append(Term(tx.part - ty.part, tx.byte - ty.byte, tx.count))
        elif k > level:
            terms += [tx, _neg(ty)]
    return x.pbase - y.pbase, x.bbase - y.bbase, terms, xl, yl


def _ordered(x: Footprint, y: Footprint, common: int, level: int | None) -> bool:
    """Conflict with the indices of the `common` shared repeats equal above `level`
    and, at `level`, y's index below x's (None: equal at every common level)."""
    if x.space != y.space:
        return False
    dp, db, terms, xl, yl = _system(x, y, common, level)
    if level is None:
        return solvable(dp, db, terms)
    return bool(_distances(xl[level], yl[level], dp, db, terms, first=True))


def _distances(
    tx: Term, ty: Term, dp: int, db: int, terms: list[Term], first: bool
) -> list[int]:
    """Distances d >= 1 with a conflict for i_x = a + d, i_y = a, 0 <= a < count - d
    (only the smallest when `first`)."""
    out: list[int] = []
    for d in range(1, tx.count):
        shared = Term(tx.part - ty.part, tx.byte - ty.byte, tx.count - d)
        if solvable(dp + tx.part * d, db + tx.byte * d, [*terms, shared]):
            out.append(d)
            if first:
                break
    return out


def carried_distances(x: Footprint, y: Footprint, common: int, level: int) -> list[int]:
    """The iteration distances d at which y, d iterations earlier at repeat `level`
    (indices equal above it, any below), conflicts with x."""
    if x.space != y.space:
        return []
    dp, db, terms, xl, yl = _system(x, y, common, level)
    return _distances(xl[level], yl[level], dp, db, terms, first=False)


def same_iteration(x: Footprint, y: Footprint, common: int) -> bool:
    """Do x and y conflict in one iteration of their `common` outermost repeats?"""
    return _ordered(x, y, common, None)


def carried_levels(x: Footprint, y: Footprint, common: int) -> list[int]:
    """Levels l < common at which y in an earlier iteration (indices equal above l,
    smaller at l) conflicts with x."""
    return [level for level in range(common) if _ordered(x, y, common, level)]


def carried(x: Footprint, y: Footprint, common: int) -> bool:
    """Is `carried_levels` non-empty? Stops at the first level, and first asks
    whether x and y meet at all over all their iterations (one lattice test, where
    each level tries every distance)."""
    if None in x.loops or None in y.loops:
        raise ValueError("ordered overlap tests need footprints over all iterations")
    if not overlaps(x, y):
        return False
    return any(_ordered(x, y, common, level) for level in range(common))


def _within(
    inner: Lattice,
    outer: Lattice,
    width: int,
    window: tuple[int, int],
    limit: int = 4096,
) -> bool:
    """Is every point of `inner` whose [x, x + width) meets `window` inside one of
    `outer`'s? Sound; exact when `outer` is one run or `inner` is small."""
    lo, hi = max(inner.lo, window[0] - width + 1), min(inner.hi, window[1] - 1)
    g = 0
    for s, _ in inner.dims:
        g = math.gcd(g, s)
    if g:  # to the residue class of inner's points
        lo, hi = lo + (inner.base - lo) % g, hi - (hi - inner.base) % g
    if lo > hi:
        return True
    if outer.is_run(width):
        return outer.lo <= lo and hi <= outer.hi
    if inner == outer:
        return True
    if math.prod(c for _, c in inner.dims) > limit:
        return False
    return all(outer.meets(Lattice(x), 0, 0) for x in inner.points() if lo <= x <= hi)


class Cover:
    """`covers(w, e, window)` for one pair and many windows, as the dependence sweep
    asks it (once per byte segment a write spans): what does not depend on the
    window is decided once, and when e's byte points must be checked one by one,
    the points that are not w's are found once and each window is a bisection.

        cover = Cover(w, e)
        cover((0, 64)) == covers(w, e, (0, 64))
    """

    def __init__(self, w: Footprint, e: Footprint, limit: int = 4096) -> None:
        self.inner, self.outer = e._bytes, w._bytes
        self.limit = limit
        self._missing: list[int] | None = None
        # None: it depends on the window.
        self.always: bool | None = None
        if w.space == e.space and w._is_box and e._is_box:
            # What `_within` finds for runs: containment of the boxes.
            a, b = w._box, e._box
            if not (a[0] <= b[0] and b[1] <= a[1]):
                self.always = False
            elif a[2] <= b[2] and b[3] <= a[3]:
                self.always = True
        elif not covers_partitions(w, e):
            self.always = False
        elif self(self.full):
            self.always = True  # `_within` is monotone in the window

    @_memo
    def _bounds(self) -> tuple[int, int, int, int, bool, int, int]:
        """What every window reads: inner's bounds, base and stride gcd, whether
        outer is one run, and its bounds."""
        inner, outer = self.inner, self.outer
        g = 0
        for s, _ in inner.dims:
            g = math.gcd(g, s)
        run = outer.is_run(ELEM_BYTES)
        return inner.lo, inner.hi, inner.base, g, run, outer.lo, outer.hi

    @property
    def full(self) -> tuple[int, int]:
        return self.inner.lo, self.inner.hi + ELEM_BYTES

    def __call__(self, window: tuple[int, int] | None = None) -> bool:
        if self.always is not None:
            return self.always
        # `_within(inner, outer, ELEM_BYTES, window)`, step by step.
        ilo, ihi, base, g, run, olo, ohi = self._bounds
        window = window or self.full
        lo = max(ilo, window[0] - ELEM_BYTES + 1)
        hi = min(ihi, window[1] - 1)
        if g:
            lo, hi = lo + (base - lo) % g, hi - (hi - base) % g
        if lo > hi:
            return True
        if run:
            return olo <= lo and hi <= ohi
        if self.inner == self.outer:
            return True
        if math.prod(c for _, c in self.inner.dims) > self.limit:
            return False
        if self._missing is None:
            self._missing = self.missing()
        i = bisect.bisect_left(self._missing, lo)
        return i == len(self._missing) or self._missing[i] > hi

    def missing(self, limit: int = 1 << 20) -> list[int]:
        """e's byte points that are not w's, sorted (NumPy over both point sets,
        or a lattice test per point when w has more than `limit` points)."""
        inner = _enumerate(self.inner)
        if math.prod(c for _, c in self.outer.dims) > limit:
            return [x for x in inner.tolist() if not self.outer.meets(Lattice(x), 0, 0)]
        outer = _enumerate(self.outer)
        at = np.minimum(np.searchsorted(outer, inner), len(outer) - 1)
        return inner[outer[at] != inner].tolist()


def _enumerate(lattice: Lattice) -> np.ndarray:
    """Every point of `lattice` as int64, sorted (repeated where the lattice
    repeats a point)."""
    out = np.array([lattice.base], dtype=np.int64)
    for s, c in lattice.dims:
        out = (out[:, None] + s * np.arange(c, dtype=np.int64)).ravel()
    out.sort()
    return out


def covers_partitions(w: Footprint, e: Footprint) -> bool:
    """The byte-independent half of `covers`: same space, neither coupled, and w
    touches every partition e touches. When it fails, `covers` fails in every
    window; when it holds, `covers` is the byte test alone."""
    if w.space != e.space or w.coupled or e.coupled:
        return False
    parts = e.partitions()
    return _within(parts, w.partitions(), 1, (parts.lo, parts.hi + 1))


def covers(w: Footprint, e: Footprint, window: tuple[int, int] | None = None) -> bool:
    """Does w touch every byte e touches (within the byte `window`, if given)? Sound
    (True only when it does); exact for boxes and small footprints, else False.
    Monotone in the window: True without one means True in every window."""
    if not covers_partitions(w, e):
        return False
    data = e.bytes()
    window = window or (data.lo, data.hi + ELEM_BYTES)
    return _within(data, w.bytes(), ELEM_BYTES, window)

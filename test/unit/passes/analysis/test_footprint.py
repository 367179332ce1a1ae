"""Exact footprints of accel operands: lattice arithmetic against brute-force
enumeration, strided interleavings, partition ranges, DRAM against SBUF, repeats
(per iteration against across iterations), covers within a byte window, and large
counts answered without enumerating; the sweep's fast paths (`Cover`, `carried`)
against the functions they stand for."""

from __future__ import annotations

import itertools
import random
import time

import pytest
from tidal.dialects.accel import AccessAttr, Aff
from tidal.passes.analysis.footprint import (
    Cover,
    Footprint,
    Lattice,
    canonical,
    carried,
    carried_distances,
    carried_levels,
    covers,
    overlaps,
    reaches,
    same_iteration,
)


def ap(space: str, pstart: int | Aff, offset: int | Aff, dims: list[tuple[int, int]]):
    return AccessAttr.get(space, pstart, offset, dims)


def touched(a: AccessAttr, trips: list[int], at: tuple[int, ...] | None = None):
    """Every (partition, byte) the access touches, by enumeration."""
    out: set[tuple[int, int]] = set()
    points = [at] if at is not None else itertools.product(*(range(t) for t in trips))
    for i in points:
        p0, off = a.pstart.at(i), a.offset.at(i)
        dims = a.dims if a.space == "dram" else a.dims[1:]
        parts = [0] if a.space == "dram" else range(p0, p0 + a.pcount)
        for j in itertools.product(*(range(c) for _, c in dims)):
            x = off + 4 * sum(s * k for (s, _), k in zip(dims, j))
            out.update((p, x + b) for p in parts for b in range(4))
    return out


def test_canonical_merges_tiling_dims_and_flips_negative_strides():
    assert canonical(0, [(4, 8), (32, 3)]) == (0, ((4, 24),))  # rows back to back
    assert canonical(0, [(4, 8), (16, 3)]) == (0, ((4, 16),))  # rows overlapping
    assert canonical(0, [(4, 8), (40, 3)]) == (0, ((40, 3), (4, 8)))  # a gap stays
    assert canonical(100, [(-4, 5), (7, 1), (0, 9)]) == (84, ((4, 5),))


def test_reaches_uses_residues_and_bounds():
    assert not reaches(0, ((8, 100),), 1, 7)  # between two points
    assert reaches(0, ((8, 100),), 7, 8)
    assert not reaches(1, ((6, 50), (4, 50)), 0, 0)  # all odd
    assert not reaches(0, ((10, 3),), 21, 1000)  # past the end


def test_lattice_meets_agrees_with_enumeration():
    rng = random.Random(7)
    for _ in range(400):
        dims_a = [
            (rng.choice([1, 2, 3, 5, -2]), rng.randint(1, 5))
            for _ in range(rng.randint(0, 3))
        ]
        dims_b = [
            (rng.choice([1, 2, 4, 6, -3]), rng.randint(1, 5))
            for _ in range(rng.randint(0, 3))
        ]
        a, b = (
            Lattice.of(rng.randint(-5, 5), dims_a),
            Lattice.of(rng.randint(-5, 5), dims_b),
        )
        lo = rng.randint(-4, 2)
        hi = lo + rng.randint(0, 3)
        want = any(lo <= x - y <= hi for x in a.points() for y in b.points())
        assert a.meets(b, lo, hi) == want, (a, b, lo, hi)


def test_random_accesses_agree_with_enumeration():
    """overlaps, same_iteration and carried_levels against brute force on random
    accesses inside up to two repeats (affine partition starts included)."""
    rng = random.Random(11)
    for _ in range(300):
        space = rng.choice(["sbuf", "dram"])
        trips = [rng.randint(1, 4) for _ in range(rng.randint(0, 2))]

        def draw(space: str, trips: list[int]) -> AccessAttr:
            pstart = Aff(0)
            if space == "sbuf":
                pstart = Aff(
                    rng.randint(0, 6), tuple(rng.choice([0, 0, 1, 2]) for _ in trips)
                )
            offset = Aff(
                rng.choice([0, 4, 8, 16]),
                tuple(rng.choice([0, 4, 8, 12]) for _ in trips),
            )
            first = (1 if space == "sbuf" else rng.choice([1, 3, 5]), rng.randint(1, 3))
            rest = [
                (rng.choice([1, 2, 3, -1, 5]), rng.randint(1, 3))
                for _ in range(rng.randint(0, 2))
            ]
            return ap(space, pstart, offset + 40, [first, *rest])

        a, b = draw(space, trips), draw(space, trips)
        fa, fb = Footprint.of(a, trips), Footprint.of(b, trips)
        assert overlaps(fa, fb) == bool(touched(a, trips) & touched(b, trips))
        indices = list(itertools.product(*(range(t) for t in trips)))
        same = any(touched(a, trips, i) & touched(b, trips, i) for i in indices)
        assert same_iteration(fa, fb, len(trips)) == same
        for level in range(len(trips)):
            want = any(
                touched(a, trips, i) & touched(b, trips, k)
                for i in indices
                for k in indices
                if i[:level] == k[:level] and k[level] < i[level]
            )
            assert (level in carried_levels(fa, fb, len(trips))) == want


def test_strided_accesses_interleave_without_overlap():
    even = Footprint.of(ap("sbuf", 0, 0, [(1, 16), (2, 64)]), [])
    odd = Footprint.of(ap("sbuf", 0, 4, [(1, 16), (2, 64)]), [])
    assert not overlaps(even, odd)
    assert overlaps(even, Footprint.of(ap("sbuf", 0, 8, [(1, 16), (2, 64)]), []))
    # their bounding boxes do overlap: the box test would see a conflict
    assert even.box()[2] < odd.box()[3] and odd.box()[2] < even.box()[3]


def test_same_bytes_in_other_partitions_do_not_overlap():
    low = Footprint.of(ap("sbuf", 0, 0, [(1, 16), (1, 8)]), [])
    high = Footprint.of(ap("sbuf", 16, 0, [(1, 16), (1, 8)]), [])
    wide = Footprint.of(ap("sbuf", 8, 16, [(1, 16), (1, 8)]), [])
    assert not overlaps(low, high)
    assert overlaps(low, wide) and overlaps(
        high, wide
    )  # bytes 16-31 of partitions 8-23
    assert not overlaps(low, Footprint.of(ap("sbuf", 8, 32, [(1, 16), (1, 8)]), []))


def test_dram_has_no_partitions_and_never_meets_sbuf():
    # DRAM dim 0 is an ordinary strided dim: rows of 8 elements 64 elements apart
    rows = Footprint.of(ap("dram", 0, 0, [(64, 4), (1, 8)]), [])
    assert rows.bytes().points() == [
        r * 256 + 4 * k for r in range(4) for k in range(8)
    ]
    assert overlaps(rows, Footprint.of(ap("dram", 0, 768 + 28, [(1, 1)]), []))
    assert not overlaps(rows, Footprint.of(ap("dram", 0, 32, [(64, 4), (1, 8)]), []))
    assert not overlaps(rows, Footprint.of(ap("sbuf", 0, 0, [(1, 4), (1, 8)]), []))


def test_partial_element_overlap_counts():
    a = Footprint.of(ap("dram", 0, 0, [(1, 4)]), [])  # bytes 0-15
    assert overlaps(a, Footprint.of(ap("dram", 0, 14, [(1, 1)]), []))  # bytes 14-17
    assert not overlaps(a, Footprint.of(ap("dram", 0, 16, [(1, 1)]), []))


def test_repeat_disjoint_per_iteration_but_carried_across():
    """A tile written at 32 * i0 and read at 32 * i0 + 32 (the next iteration's tile):
    no conflict within an iteration, a conflict with an earlier iteration's write."""
    write = Footprint.of(ap("sbuf", 0, Aff(0, (32,)), [(1, 8), (1, 8)]), [4])
    read = Footprint.of(ap("sbuf", 0, Aff(32, (32,)), [(1, 8), (1, 8)]), [4])
    assert overlaps(write, read)
    assert not same_iteration(write, read, 1)
    assert carried_levels(write, read, 1) == [0]  # write(i) after read(i - 1)
    assert carried_levels(read, write, 1) == []  # read(i) never meets an earlier write
    one = Footprint.of(ap("sbuf", 0, Aff(0, (32,)), [(1, 8), (1, 8)]), [4], at=(2,))
    assert one.bbase == 64 and one.loops == ()


def test_carried_level_of_a_nest():
    """Inner index moves bytes, outer index does not: iterations of the outer repeat
    rewrite the same bytes (carried at level 0), iterations of the inner do not."""
    x = Footprint.of(ap("sbuf", 0, Aff(0, (0, 32)), [(1, 8), (1, 8)]), [3, 4])
    assert carried_levels(x, x, 2) == [0]
    assert same_iteration(x, x, 2)


def test_affine_partition_start_moves_partitions_only():
    per_iter = Footprint.of(ap("sbuf", Aff(0, (16,)), 0, [(1, 16), (1, 8)]), [8])
    assert per_iter.partitions().points() == list(range(128))
    assert not same_iteration(
        per_iter, Footprint.of(ap("sbuf", Aff(16, (16,)), 0, [(1, 16), (1, 8)]), [8]), 1
    )


def test_covers_within_a_window():
    whole = Footprint.of(ap("sbuf", 0, 0, [(1, 3), (1, 3136)]), [])  # bytes 0-12543
    half = Footprint.of(
        ap("sbuf", 0, 6272, [(1, 4), (1, 1568)]), []
    )  # bytes 6272-12543
    assert not covers(half, whole)
    assert covers(half, whole, (6272, 12544))
    assert not covers(half, whole, (6268, 12544))
    assert not covers(
        Footprint.of(ap("sbuf", 1, 6272, [(1, 4), (1, 1568)]), []), whole, (6272, 12544)
    )
    strided = Footprint.of(ap("sbuf", 0, 0, [(1, 3), (2, 100)]), [])
    assert covers(whole, strided)
    assert not covers(strided, whole)
    assert covers(strided, Footprint.of(ap("sbuf", 0, 16, [(1, 2), (4, 10)]), []))


def test_large_counts_are_answered_by_arithmetic():
    """128 partitions x 100,000 elements inside repeats of 1,000 x 64: far too many
    to enumerate, answered at once."""
    a = Footprint.of(
        ap("sbuf", 0, Aff(0, (0, 800)), [(1, 128), (2, 100000)]), [1000, 64]
    )
    b = Footprint.of(
        ap("sbuf", 0, Aff(4, (0, 800)), [(1, 128), (2, 100000)]), [1000, 64]
    )
    start = time.perf_counter()
    assert not overlaps(a, b)
    assert overlaps(a, a)
    assert carried_levels(a, a, 2) == [0, 1]
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("space", ["sbuf", "psum"])
def test_is_box(space: str):
    assert Footprint.of(ap(space, 0, Aff(0, (32,)), [(1, 4), (1, 8)]), [5]).is_box()
    assert not Footprint.of(ap(space, 0, Aff(0, (64,)), [(1, 4), (1, 8)]), [5]).is_box()


def test_carried_distances():
    """A write at 32 * i0 conflicts with the read at 32 * i0 + 64 two iterations
    earlier, and only then."""
    write = Footprint.of(ap("sbuf", 0, Aff(0, (32,)), [(1, 8), (1, 8)]), [6])
    read = Footprint.of(ap("sbuf", 0, Aff(64, (32,)), [(1, 8), (1, 8)]), [6])
    assert carried_distances(write, read, 1, 0) == [2]
    assert carried_distances(read, write, 1, 0) == []
    again = Footprint.of(ap("sbuf", 0, 0, [(1, 8), (1, 8)]), [6])
    assert carried_distances(again, again, 1, 0) == [1, 2, 3, 4, 5]


def test_intervals_one_per_row_merged():
    rows = Footprint.of(ap("sbuf", 4, 0, [(1, 2), (16, 3), (1, 8)]), [])
    got = rows.intervals()
    assert got is not None
    parts, runs = got
    assert parts.points() == [4, 5]
    assert runs == [(0, 32), (64, 96), (128, 160)]
    tiled = Footprint.of(ap("sbuf", 0, Aff(0, (32,)), [(1, 2), (1, 8)]), [100])
    assert tiled.intervals() == (Lattice.of(0, [(1, 2)]), [(0, 3200)])
    coupled = Footprint.of(
        ap("sbuf", Aff(0, (1,)), Aff(0, (32,)), [(1, 2), (1, 8)]), [4]
    )
    assert coupled.intervals() is None
    many = Footprint.of(ap("dram", 0, 0, [(3, 1000), (2, 1000)]), [])
    assert many.intervals(limit=10_000) is None


def _draw(rng: random.Random, space: str, trips: list[int]) -> AccessAttr:
    pstart = Aff(0)
    if space == "sbuf":
        pstart = Aff(rng.randint(0, 3), tuple(rng.choice([0, 0, 1, 2]) for _ in trips))
    offset = Aff(
        rng.choice([0, 4, 8, 16]), tuple(rng.choice([0, 4, 8, 12, 32]) for _ in trips)
    )
    first = (1 if space == "sbuf" else rng.choice([1, 3, 8]), rng.randint(1, 4))
    rest = [
        (rng.choice([1, 2, 3, -1, 5, 8]), rng.randint(1, 6))
        for _ in range(rng.randint(0, 2))
    ]
    return ap(space, pstart, offset + 40, [first, *rest])


def test_cover_agrees_with_covers_in_every_window():
    """`Cover(w, e)(window)` is `covers(w, e, window)`, for random pairs (strided,
    repeated, some equal) and windows inside, across and outside e's bytes, with
    the point lists of `Cover.missing` both by NumPy and by lattice tests."""
    rng = random.Random(5)
    for _ in range(400):
        space = rng.choice(["sbuf", "dram"])
        trips = [rng.randint(1, 4) for _ in range(rng.randint(0, 2))]
        a = _draw(rng, space, trips)
        b = a if rng.random() < 0.1 else _draw(rng, space, trips)
        w, e = Footprint.of(a, trips), Footprint.of(b, trips)
        lo, hi = e.box()[2], e.box()[3]
        windows = [None] + [
            (x, x + rng.randint(1, 24))
            for x in (rng.randint(lo - 8, hi + 8) for _ in range(12))
        ]
        for limit in (1 << 20, 0):  # NumPy point sets, or a lattice test per point
            cover = Cover(w, e)
            cover.missing = lambda cover=cover, limit=limit: Cover.missing(cover, limit)
            for window in windows:
                assert cover(window) == covers(w, e, window), (a, b, trips, window)


def test_carried_is_whether_carried_levels_has_one():
    rng = random.Random(13)
    for _ in range(300):
        space = rng.choice(["sbuf", "dram"])
        trips = [rng.randint(1, 4) for _ in range(rng.randint(1, 3))]
        fa = Footprint.of(_draw(rng, space, trips), trips)
        fb = Footprint.of(_draw(rng, space, trips), trips)
        common = rng.randint(0, len(trips))
        assert carried(fa, fb, common) == bool(carried_levels(fa, fb, common))


def test_fixed_footprints_share_derived_values_exactly():
    """dependence.fixed_at hands a footprint fixed at level c the first one's
    derived values (terms, box-ness, lattices, bounding box) shifted: on random
    accesses in up to three repeats, each equals what a fresh footprint computes,
    and overlaps with a random other access answer alike."""
    from tidal.passes.analysis.dependence import fixed_at

    rng = random.Random(23)
    for _ in range(200):
        space = rng.choice(["sbuf", "dram"])
        trips = [rng.randint(1, 4) for _ in range(rng.randint(1, 3))]
        pstart = Aff(rng.randint(0, 6), tuple(rng.choice([0, 1, 2]) for _ in trips)) if space == "sbuf" else Aff(0)
        offset = Aff(rng.choice([0, 4, 16]), tuple(rng.choice([0, 4, 8, -4]) for _ in trips)) + 64
        first = (1 if space == "sbuf" else rng.choice([1, 3]), rng.randint(1, 3))
        a = ap(space, pstart, offset, [first, *[(rng.choice([1, 2, 5]), rng.randint(1, 3)) for _ in range(rng.randint(0, 2))]])
        other = Footprint.of(ap(space, rng.randint(0, 4) if space == "sbuf" else 0, rng.choice([0, 48, 96]), [(1, 2), (1, rng.randint(1, 8))]), [])
        f = Footprint.of(a, trips)
        c = rng.randint(0, len(trips) - 1)
        for at in itertools.product(*(range(t) for t in trips[c:])):
            got = fixed_at(f, c, at)
            got.is_box(), got.box(), got.partitions(), got.bytes()  # (the first computes them)
            want = Footprint(got.space, got.pbase, got.bbase, got.free, got.loops)
            assert (got.is_box(), got.box(), got.partitions(), got.bytes(), got.terms(), got.coupled) == (
                want.is_box(), want.box(), want.partitions(), want.bytes(), want.terms(), want.coupled
            )
            assert overlaps(got, other) == overlaps(want, other)

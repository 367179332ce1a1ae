"""loop-keep-on-chip: intermediate tensors stay in SBUF between the nests that write
and read them, instead of going through DRAM (issue 11; the seed's "virtual data
nodes" that join fused operators).

Expects the output of graph-to-loop: one `func.func` on memrefs whose intermediate
tensors are `loop.alloc` DRAM buffers, written and read by the `loop.copy` ops (DMAs)
of the nests. For each such buffer (not an input, not a constant, not returned, and
touched only through copies, directly or through `loop.view`s of it), the pass looks
for an on-chip layout that every one of those copies can address:

    element e of the flat tensor -> partition (e // M) % P,
                                    element (e // (P * M)) * M + e % M of that partition

(`M` elements per row, rows spread round-robin over `P` partitions: for an NCHW
tensor with M = H * W, channel c lives on partition c % P.) A copy maps when its DRAM
access walks rows on its partition dim (stride M) and, along every other dim and
every loop step, moves either within a row or by whole groups of P rows, without
crossing a row or partition boundary; its access then becomes an SBUF access (the
partition start may step with the loops). When every copy maps, the buffer becomes a
function-level `loop.alloc_tile` (live from its writer to its last reader, placed by
loop-allocate) and its copies SBUF-to-SBUF: no DRAM traffic, nothing else changes.

Buffers are kept in program order while they fit: the pass simulates loop-allocate's
SBUF placement (`LinearScan`) of every nest's tiles and the kept buffers, so a kept
buffer never makes a nest run out of SBUF; the others stay in DRAM.

    %h = loop.alloc : memref<1x64x8x8xf32>
    loop.nest "c1" ... { loop.copy %o <sbuf 0, 0, [[1, 64], [1, 64]]>
                             -> %h <dram 0, [[64, 64], [1, 64]]> ... }
    loop.nest "c2" ... { loop.copy %h <dram 0, [[64, 64], [1, 64]]> -> %x <sbuf ...> ... }
  becomes
    %h = loop.alloc_tile : !loop.tile<sbuf, 64, 64>
    loop.nest "c1" ... { loop.copy %o <sbuf 0, 0, ...> -> %h <sbuf 0, 0, [[1, 64], [1, 64]]> ... }
    loop.nest "c2" ... { loop.copy %h <sbuf 0, 0, [[1, 64], [1, 64]]> -> %x <sbuf ...> ... }
"""

from __future__ import annotations

from bisect import bisect_right
from heapq import heapify, heappop, heappush
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from math import prod

import numpy as np
from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import DenseArrayBase, ModuleOp, i64
from xdsl.ir import Block, Operation, SSAValue
from xdsl.rewriter import InsertPoint, Rewriter

from tidal.dialects import loop
from tidal.dialects.accel import AccessAttr
from tidal.dialects.affine_expr import Aff
from tidal.passes.conversion.kernels.nest_builder import aligned
from tidal.passes.utils.chip import ChipPass
from tidal.passes.utils.expect import expect_level
from tidal.sim.config import ChipConfig

F32 = 4


# A copy is split where its rows cross one boundary between groups of partitions,
# not more: a 4096-element vector kept on one partition would make every reader's
# copy of 128 rows 128 descriptors (AlexNet's classifier: 3.7 % slower).
MAX_PIECES = 2

# A copy of several groups of rows at once may become one copy per group, each
# split once, up to this many pieces (Inception's poolings read a 528-channel
# concatenation as 6 tiles of 88 in one copy: 10 pieces on 128 partitions).
MAX_GROUP_PIECES = 16
MIN_GROUP_PIECE = 16  # elements per partition of each such piece (a 4x4 plane)


@dataclass(frozen=True)
class Layout:
    """Rows of `minor` elements spread round-robin over `partitions` partitions, in
    `groups` groups of `partitions` rows (see the module docstring)."""

    partitions: int
    minor: int
    groups: int
    groups_split: bool = False
    """`pieces` may also split a copy of several groups of rows into one per group
    (`_group_pieces`)."""

    @property
    def elements(self) -> int:
        """Elements per partition."""
        return self.groups * self.minor

    def map(self, ap: AccessAttr, trips: tuple[int, ...]) -> AccessAttr | None:
        """The SBUF access for DRAM access `ap` in a nest of domain `trips`, or None
        when `ap` crosses a row or partition boundary or does not walk rows on its
        partition dim."""
        p_count, m_size = self.partitions, self.minor
        group = p_count * m_size
        base, steps = ap.offset.base, ap.offset.steps
        if base % F32 or any(s % F32 for s in steps):
            return None
        e0 = base // F32
        a0, rest = divmod(e0, group)
        p0, m0 = divmod(rest, m_size)
        p_reach = m_reach = 0
        p_steps: list[int] = []
        f_steps: list[int] = []
        for k, step in enumerate(steps):
            delta, trip = step // F32, trips[k] if k < len(trips) else 1
            if delta == 0 or trip == 1:
                p_steps.append(0)
                f_steps.append(0)
            elif delta < 0:
                return None
            elif delta % group == 0:
                p_steps.append(0)
                f_steps.append(delta // group * m_size * F32)
            elif delta % m_size == 0 and delta < group:
                p_steps.append(delta // m_size)
                f_steps.append(0)
                p_reach += delta // m_size * (trip - 1)
            elif delta < m_size:
                p_steps.append(0)
                f_steps.append(delta * F32)
                m_reach += delta * (trip - 1)
            else:
                return None
        (s0, n0), *free = ap.dims
        if n0 > 1 and s0 != m_size:
            return None
        p_reach += n0 - 1
        dims: list[tuple[int, int]] = [(1, n0)]
        for stride, count in free:
            if count == 1 or stride == 0:
                dims.append((0 if count == 1 else stride, count))
            elif stride < 0:
                return None
            elif stride % group == 0:
                dims.append((stride // group * m_size, count))
            elif stride < m_size:
                dims.append((stride, count))
                m_reach += stride * (count - 1)
            else:
                return None
        if p0 + p_reach >= p_count or m0 + m_reach >= m_size:
            return None
        return AccessAttr.get(
            "sbuf",
            Aff(p0, tuple(p_steps)),
            Aff((a0 * m_size + m0) * F32, tuple(f_steps)),
            dims,
        )

    def pieces(
        self, ap: AccessAttr, other: AccessAttr, trips: tuple[int, ...]
    ) -> list[tuple[AccessAttr, AccessAttr]] | None:
        """`split`'s pieces as (kept access, the other side's access), the other
        side's partitions following the rows (as `BandLayout.pieces`)."""
        pieces = self.split(ap, trips)
        if pieces is None:
            return self._group_pieces(ap, other, trips) if self.groups_split else None
        return [
            (kept, AccessAttr.get(other.space, other.pstart + row, other.offset, [(1, rows), *other.dims[1:]]))
            for row, rows, kept in pieces
        ]

    def _group_pieces(
        self, ap: AccessAttr, other: AccessAttr, trips: tuple[int, ...]
    ) -> list[tuple[AccessAttr, AccessAttr]] | None:
        """A copy of several groups of rows at once (a free dim whose stride is a
        whole number of rows: a pooling's channel tiles of 88, all six in one
        copy) as one copy per group, each mapped or split (`split`): at most
        MAX_GROUP_PIECES pieces in all."""
        dims = ap.dims
        (s0, n0), counts = dims[0], [c for _, c in dims[1:]]
        # The groups are consecutive blocks of n0 rows, each piece moving at least
        # MIN_GROUP_PIECE elements per partition (not a vector's one element).
        rows_dims = [
            k for k in range(1, len(dims)) if dims[k][1] > 1 and dims[k][0] == n0 * s0 == n0 * self.minor
        ]
        free = _as_counts(other.dims[1:], counts)
        if len(rows_dims) != 1 or free is None:
            return None
        if prod(counts) // dims[rows_dims[0]][1] < MIN_GROUP_PIECE:
            return None
        odims = [other.dims[0], *free]
        k = rows_dims[0]
        (stride, count), ostride = dims[k], odims[k][0]
        out: list[tuple[AccessAttr, AccessAttr]] = []
        for g in range(count):
            sub = AccessAttr.get(ap.space, ap.pstart, ap.offset + g * stride * F32, [*dims[:k], *dims[k + 1 :]])
            osub = AccessAttr.get(
                other.space, other.pstart, other.offset + g * ostride * F32, [*odims[:k], *odims[k + 1 :]]
            )
            mapped = self.map(sub, trips)
            pieces = (
                [(mapped, osub)]
                if mapped is not None
                else replace(self, groups_split=False).pieces(sub, osub, trips)
            )
            if pieces is None:
                return None
            out += pieces
            if len(out) > MAX_GROUP_PIECES:
                return None
        return out

    def split(self, ap: AccessAttr, trips: tuple[int, ...]) -> list[tuple[int, int, AccessAttr]] | None:
        """A copy's DRAM access `ap` whose rows (its partition dim, stride `minor`)
        run past the last partition into the next group of rows: the pieces
        `(first row, rows, SBUF access)` that each stay within one group, or None
        when a piece does not map, when it would take more than MAX_PIECES pieces
        (or `ap` maps whole, or walks no rows)."""
        (s0, n0), *free = ap.dims
        if n0 < 2 or s0 != self.minor or self.map(ap, trips) is not None:
            return None
        if ap.offset.base % F32:
            return None
        out: list[tuple[int, int, AccessAttr]] = []
        row = 0
        while row < n0:
            if len(out) == MAX_PIECES:
                return None  # (many descriptors: DRAM is the better place)
            p0 = (ap.offset.base // F32 // self.minor + row) % self.partitions
            rows = min(n0 - row, self.partitions - p0)
            piece = AccessAttr.get(
                ap.space,
                ap.pstart,
                ap.offset + row * self.minor * F32,
                [(s0, rows), *free],
            )
            mapped = self.map(piece, trips)
            if mapped is None:
                return None
            out.append((row, rows, mapped))
            row += rows
        return out


@dataclass(frozen=True)
class BandLayout:
    """One image's [C, H, W] planes cut into `bands` bands of `rows` rows, band b's C
    channels on partitions b x C onwards, each holding its band's rows: the layout in
    which conv-bands writes its output tile and pool-bands reads its input bands
    (kernels/conv.py, kernels/pool.py). Element (c, r, w) -> partition
    (r // rows) x C + c, element (r % rows) x W + w of it. A copy maps when its
    partition dim walks channels (stride H x W) and its other dims stay within one
    band; a copy whose rows run from one band into the next (a pooling band's halo
    row) maps in two pieces (`pieces`)."""

    channels: int
    bands: int
    rows: int
    width: int

    @property
    def partitions(self) -> int:
        return self.bands * self.channels

    @property
    def elements(self) -> int:
        """Elements per partition."""
        return self.rows * self.width

    def map(self, ap: AccessAttr, trips: tuple[int, ...]) -> AccessAttr | None:
        """The SBUF access for DRAM access `ap`, or None (see the class)."""
        plane = self.bands * self.rows * self.width
        base = ap.offset.base
        if base % F32:
            return None
        # A loop step moves the access along the plane's rows (less than a plane):
        # within a band the same step, so long as every iteration stays in the
        # band (conv-bands' stores of a band's row groups, in its grp loop).
        reach = 0
        steps: list[int] = []
        for k, step in enumerate(ap.offset.steps):
            trip = trips[k] if k < len(trips) else 1
            if step == 0 or trip == 1:
                steps.append(0)
                continue
            if step < 0 or step % F32 or step // F32 >= plane:
                return None
            steps.append(step)
            reach += step // F32 * (trip - 1)
        c0, rest = divmod(base // F32, plane)
        r0, w0 = divmod(rest, self.width)
        (s0, n0), *free = ap.dims
        if (n0 > 1 and s0 != plane) or c0 + n0 > self.channels:
            return None
        # Within a band its rows lie as in the plane (row-major, W apart), so the
        # other dims keep their strides while every element stays in the band.
        for stride, count in free:
            if count == 1 or stride == 0:
                continue
            if not 0 < stride < plane:
                return None
            reach += stride * (count - 1)
        band, r = divmod(r0, self.rows)
        if r * self.width + w0 + reach >= self.rows * self.width:
            return None
        return AccessAttr.get(
            "sbuf", band * self.channels + c0, Aff((r * self.width + w0) * F32, tuple(steps)),
            [(1, n0), *((0 if count == 1 else stride, count) for stride, count in free)],
        )

    def pieces(self, ap: AccessAttr, other: AccessAttr, trips: tuple[int, ...]) -> list[tuple[AccessAttr, AccessAttr]] | None:
        """A copy whose rows (its first row-stepping dim, stride W, on both sides the
        same count) run from one band into the next: (kept access, other side's
        access) for the rows in each band, or None (more than MAX_PIECES pieces, or a
        piece that does not map)."""
        if self.map(ap, trips) is not None or len(ap.dims) != len(other.dims):
            return None
        dims = list(ap.dims)
        k = next((i for i, (s, n) in enumerate(dims) if i and s == self.width and n > 1), None)
        if k is None or other.dims[k][1] != dims[k][1]:
            return None
        r0 = (ap.offset.base // F32) % (self.bands * self.rows * self.width) // self.width
        out: list[tuple[AccessAttr, AccessAttr]] = []
        row, count = 0, dims[k][1]
        while row < count:
            if len(out) == MAX_PIECES:
                return None
            n = min(count - row, self.rows - (r0 + row) % self.rows)
            piece = AccessAttr.get(ap.space, ap.pstart, ap.offset + row * self.width * F32,
                                   [*dims[:k], (self.width, n), *dims[k + 1 :]])
            kept = self.map(piece, trips)
            if kept is None:
                return None
            ostride = other.dims[k][0]
            mine = AccessAttr.get(other.space, other.pstart, other.offset + row * ostride * F32,
                                  [*other.dims[:k], (ostride, n), *other.dims[k + 1 :]])
            out.append((kept, mine))
            row += n
        return out


def band_layouts(shape: tuple[int, ...], uses: list["_Use"], partitions: int) -> Iterator[BandLayout]:
    """The band layouts worth trying for a buffer of `shape`: one image [1, C, H, W]
    with a copy whose on-chip side starts past partition 0 by a multiple of C
    (a band's), `bands` the divisors of H whose bands of C fit the partitions."""
    if len(shape) != 4 or shape[0] != 1:
        return
    _, c, h, w = shape
    others = [o for o in map(_other_side, uses) if o is not None]
    if not any(o.pstart.base and o.pstart.base % c == 0 and o.dims[0][1] == c for o in others):
        return
    for k in range(2, h + 1):
        if h % k == 0 and k * c <= partitions:
            yield BandLayout(c, k, h // k, w)


@dataclass(frozen=True)
class _Use:
    """A tile op's access to the buffer (or a view of it): operand `slot`, access
    property `prop`; with `fixed` = (d, j), the access of iteration j of domain dim
    d alone (what it would be once `peel_nest` split the nest there)."""

    op: loop.TileOp
    slot: str
    prop: str
    fixed: tuple[int, int] | None = None

    @property
    def ap(self) -> AccessAttr:
        ap = self.op.properties[self.prop]
        assert isinstance(ap, AccessAttr)
        return ap if self.fixed is None else _at(ap, *self.fixed)

    @property
    def trips(self) -> tuple[int, ...]:
        trips = _trips(self.op)
        if self.fixed is None:
            return trips
        d = self.fixed[0]
        return (*trips[:d], 1, *trips[d + 1 :])


def _at(ap: AccessAttr, dim: int, j: int) -> AccessAttr:
    """`ap` at iteration j of domain dim `dim` (that dim's steps folded in)."""

    def fold(a: Aff) -> Aff:
        steps = list(a.steps)
        if dim >= len(steps):
            return a
        base, steps[dim] = a.base + steps[dim] * j, 0
        return Aff(base, tuple(steps))

    return AccessAttr.get(ap.space, fold(ap.pstart), fold(ap.offset), ap.dims)


_nest_of = loop.enclosing_nest


def _as_counts(dims: Sequence[tuple[int, int]], counts: Sequence[int]) -> list[tuple[int, int]] | None:
    """`dims` (stride, count) reshaped to `counts`, as a view: each dim of `dims`
    split into consecutive ones of `counts` (a tile's contiguous 4 x 784 elements as
    4 rows of 784), or None when that takes merging dims."""
    rest = [d for d in dims if d[1] != 1]
    out: list[tuple[int, int]] = []
    for count in reversed(counts):
        if count == 1:
            out.append((0, 1))
            continue
        if not rest:
            return None
        stride, n = rest[-1]
        if n % count:
            return None
        out.append((stride, count))
        rest[-1] = (stride * count, n // count)
        if rest[-1][1] == 1:
            rest.pop()
    return None if rest else out[::-1]


def _uses(buffer: SSAValue, returned: bool = False) -> tuple[list[_Use], list[loop.ViewOp]] | None:
    """Every tile-op access to `buffer` and its views, and the views; None when
    something else uses it (an op that is not a copy; a return unless `returned`
    allows the buffer itself to be returned)."""
    accesses: list[_Use] = []
    views: list[loop.ViewOp] = []
    pending = [buffer]
    while pending:
        value = pending.pop()
        # A copy within the buffer (a concat of one tensor with itself) uses it
        # twice: its two slots are listed once, not once per use.
        copies: set[loop.CopyOp] = set()
        for use in value.uses:
            op = use.operation
            if isinstance(op, loop.ViewOp):
                views.append(op)
                pending.append(op.result)
            elif returned and value is buffer and isinstance(op, func.ReturnOp):
                continue
            elif isinstance(op, loop.CopyOp):
                if op in copies:
                    continue
                copies.add(op)
                for slot, prop, _ in op.SLOTS:
                    if getattr(op, slot) is value:
                        accesses.append(_Use(op, slot, prop))
            else:
                return None
    return accesses, views


def _candidates(shapes: list[tuple[int, ...]], uses: list[_Use]) -> Iterator[int]:
    """Row sizes worth trying: every split of the tensor's shapes (NCHW: H * W,
    C * H * W, W, ...) and every row stride the copies walk on their partition dim."""
    seen: set[int] = set()
    for shape in shapes:
        for k in range(1, len(shape) + 1):
            seen.add(prod(shape[k:]))
    for u in uses:
        s0, n0 = u.ap.dims[0]
        if n0 > 1 and s0 > 0:
            seen.add(s0)
    yield from sorted(seen)


def choose_layout(
    elements: int,
    shapes: list[tuple[int, ...]],
    uses: list[_Use],
    partitions: int,
    split: bool = False,
    bands: bool = False,
    groups: bool = False,
    _groups: bool = False,
) -> Layout | BandLayout | None:
    """The layout that every use maps to (with `split`, a copy may map in pieces;
    with `groups` too, a copy of several groups of rows in one piece per group:
    `Layout._group_pieces`) with the fewest elements per partition, then the fewest
    elements in split copies, then the most partitions; with `bands` (and `split`)
    band layouts compete too (`band_layouts`). Layouts that need no copy split by
    groups win over those that do."""
    if groups:
        return choose_layout(elements, shapes, uses, partitions, split, bands) or choose_layout(
            elements, shapes, uses, partitions, split, False, False, _groups=True
        )
    best: Layout | BandLayout | None = None
    best_cost = (0, 0, 0)

    def consider(layout: Layout | BandLayout) -> None:
        nonlocal best, best_cost
        if best is not None and layout.elements > best.elements:
            return
        moved = [_split_elements(layout, u, split) for u in uses]
        if None in moved:
            return
        # Then the fewest elements in split copies (a split copy cannot be
        # forwarded, loop-keep-on-chip{forward}: better a pooling's small band
        # copies split than a conv's whole output tile), then the most
        # partitions (128-channel tiles, as ragged readers use).
        cost = (layout.elements, sum(m for m in moved if m is not None), -layout.partitions)
        if best is None or cost < best_cost:
            best, best_cost = layout, cost

    counts = {u.ap.dims[0][1] for u in uses}
    for minor in _candidates(shapes, uses):
        if minor <= 0 or elements % minor:
            continue
        rows = elements // minor
        # all the partitions, or as many as a copy spans (channel tiles of 96: 192
        # channels as two groups on 96 partitions, which a loop over tiles steps)
        for p in sorted({min(partitions, rows)} | {c for c in counts if c <= partitions}):
            consider(Layout(p, minor, -(-rows // p), groups_split=split and _groups))
    for band in band_layouts(shapes[0], uses, partitions) if split and bands else ():
        consider(band)
    return best


def _split_elements(layout: Layout | BandLayout, use: _Use, split: bool) -> int | None:
    """0 when `use` addresses `layout` whole; its elements when (`split`) it does as
    a copy split at the groups' boundaries (its other side an on-chip tile whose
    partitions the rows follow); None when it does not."""
    trips = use.trips
    if layout.map(use.ap, trips) is not None:
        return 0
    other = _other_side(use)
    if split and other is not None and layout.pieces(use.ap, other, trips) is not None:
        return use.ap.num_elements
    return None


def _other_side(use: _Use) -> AccessAttr | None:
    """The on-chip access on the other side of the copy `use`, when its partitions
    follow the kept access's rows one to one."""
    if not isinstance(use.op, loop.CopyOp):
        return None
    other = use.op.dst_ap if use.slot == "src" else use.op.src_ap
    if other.space == "dram" or other.dims[0] != (1, use.ap.dims[0][1]):
        return None
    return other


def _trips(op: Operation) -> tuple[int, ...]:
    nest = _nest_of(op)
    assert nest is not None, "a copy outside a nest"
    return nest.domain_val


@dataclass
class _Candidate:
    alloc: loop.AllocOp
    layout: Layout | BandLayout
    uses: list[_Use]
    views: list[loop.ViewOp]
    first: int
    last: int
    shadow: bool = False
    """The buffer is returned: it stays in DRAM, written as before, and the kept
    tile is a copy of it that the readers read (`_rewrite`)."""


def _top_index(op: Operation, index: dict[Operation, int]) -> int:
    while op not in index:
        parent = op.parent_op()
        assert parent is not None
        op = parent
    return index[op]


class _Scan:
    """LinearScan's lowest-gap placement (`LinearScan.place` without banks or `top`)
    kept as the free gaps below the highest live byte, so a placement looks at gaps,
    not at every live region, and nothing is sorted: a wide fan-out (n tensors kept
    until one nest reads them all) keeps its live regions in one stack with no gap,
    where the list scan took time in the number of live regions at every region.
    Regions are named by an index `k`; a zero-byte region goes at 0 and takes no
    bytes (as LinearScan places it)."""

    def __init__(self) -> None:
        self.starts: list[int] = []  # live regions by start (they never overlap)
        self.ends: list[int] = []
        self.gs: list[int] = []  # free gaps [gs, ge) below the highest live byte
        self.ge: list[int] = []
        self.heap: list[tuple[int, int, int]] = []  # (last, start, k) of live regions

    @classmethod
    def of(cls, starts: np.ndarray, ends: np.ndarray, lasts: np.ndarray, ids: np.ndarray) -> _Scan:
        """The scan whose live regions `ids` take [starts, ends) until `lasts`
        (none of them overlap), built at once."""
        scan = cls()
        keep = ends > starts  # zero-byte regions take no bytes
        starts, ends, lasts, ids = starts[keep], ends[keep], lasts[keep], ids[keep]
        order = np.argsort(starts, kind="stable")
        s, e = starts[order], ends[order]
        below = np.concatenate(([0], e[:-1]))  # where the gap before each region starts
        gap = s > below
        scan.starts, scan.ends = s.tolist(), e.tolist()
        scan.gs, scan.ge = below[gap].tolist(), s[gap].tolist()
        scan.heap = list(zip(lasts.tolist(), starts.tolist(), ids.tolist()))
        heapify(scan.heap)
        return scan

    def occupy(self, start: int, end: int, last: int, k: int) -> None:
        """Take [start, end) (free) for region `k`, live until `last`."""
        if end == start:
            return
        top = self.ends[-1] if self.ends else 0
        if start >= top:
            if start > top:
                self.gs.append(top)
                self.ge.append(start)
        else:
            q = bisect_right(self.gs, start) - 1
            a, b = self.gs[q], self.ge[q]
            assert a <= start and end <= b, "a region over a live one"
            pieces = [(x, y) for x, y in ((a, start), (end, b)) if x < y]
            self.gs[q : q + 1] = [x for x, _ in pieces]
            self.ge[q : q + 1] = [y for _, y in pieces]
        p = bisect_right(self.starts, start)
        self.starts.insert(p, start)
        self.ends.insert(p, end)
        heappush(self.heap, (last, start, k))

    def expire(self, first: int) -> list[int]:
        """Free the regions whose lifetime ends before `first`; their indices."""
        out: list[int] = []
        while self.heap and self.heap[0][0] < first:
            _, start, k = heappop(self.heap)
            out.append(k)
            p = bisect_right(self.starts, start) - 1
            end = self.ends[p]
            del self.starts[p], self.ends[p]
            if p == len(self.starts):  # the highest: the gap below it goes too
                top = self.ends[-1] if self.ends else 0
                while self.gs and self.gs[-1] >= top:
                    self.gs.pop()
                    self.ge.pop()
                continue
            q = bisect_right(self.gs, start)
            lo, hi = start, end
            if q and self.ge[q - 1] == start:
                q -= 1
                lo = self.gs[q]
                del self.gs[q], self.ge[q]
            if q < len(self.gs) and self.gs[q] == end:
                hi = self.ge[q]
                del self.gs[q], self.ge[q]
            self.gs.insert(q, lo)
            self.ge.insert(q, hi)
        return out

    def place(self, size: int, last: int, k: int) -> int:
        """The start of region `k` of `size` bytes (64-aligned) in the lowest gap
        that fits it, taken until `last`."""
        if size == 0:
            return 0
        for a, b in zip(self.gs, self.ge):
            if b - a >= size:
                self.occupy(a, a + size, last, k)
                return a
        start = self.ends[-1] if self.ends else 0
        self.occupy(start, start + size, last, k)
        return start


_Region = tuple[int, int, int, int]  # (first, kind: -1 kept, 0 tile, last, bytes)

PLACEMENTS = [0]
"""Regions placed one by one by `_SbufFit` (its `_Scan.place` calls), for tests:
the work a candidate costs."""

SCAN_BUDGET = 200_000
SCAN_BUDGET_PER_TILE = 100
"""The placements `keep_on_chip` spends deciding which buffers fit, at most
SCAN_BUDGET + SCAN_BUDGET_PER_TILE per SBUF tile of the function; the buffers
after that stay in DRAM. A candidate placed in a gap below the live regions is
checked by scanning the nests it lives across, so candidates that each live
across most of the others cost quadratic work (a Concat of 1,000 inputs:
730,000 placements; 2,000: 2.9 million, 22 s of compile). The zoo's models
spend at most about 2,300."""


class _SbufFit:
    """Whether loop-allocate's linear scan places the nests' SBUF tiles (first,
    last, bytes per partition) and the kept buffers within SBUF, asked once per
    candidate buffer: the placements of the accepted scan are kept, and a
    candidate's scan starts from that scan's state just before the candidate's
    first position and stops where it meets that scan again (the same live regions
    in the same places after the same region: from there on the two agree, and the
    accepted one fits). Rescanning everything for each of n candidates took
    quadratic time (12 s of 30 on a chain of 1,200 ops).

    A candidate placed above every live region, live until position P, moves the
    regions the accepted scan places from there up to P and at or above the
    candidate's start by its bytes and leaves the others where they were, unless one
    of those straddles its start (the gaps above it move up by its bytes, the ones
    below stay): those placements come from the accepted scan at once (`_shifted`)
    and the scan runs from P on. A wide fan-out (n tensors kept until one nest reads
    them all) never met the accepted scan again, and each candidate rescanned every
    nest after its own: cubic time in n (64 s for 400 Relus into one Sum)."""

    def __init__(self, limit: int, tiles: Sequence[tuple[int, int, int]], kept: Sequence[_Candidate]) -> None:
        self.limit = limit
        regions = [(t[0], 0, t[1], t[2]) for t in tiles]
        regions += [(c.first, -1, c.last, c.layout.elements * F32) for c in kept]
        self._set(sorted(regions, key=_order))
        start = np.full(len(self.regions), -1, dtype=np.int64)
        # None: the accepted regions do not fit (each candidate scans them whole)
        self.start: np.ndarray | None = start if self._scan(start, 0, -1) else None

    def _set(self, regions: list[_Region], at: int | None = None) -> None:
        """Take `regions`; with `at`, those of now with one inserted at index `at`
        (its arrays grow by one, not rebuilt)."""
        if at is not None:
            r = regions[at]
            self.first = np.insert(self.first, at, r[0])
            self.last = np.insert(self.last, at, r[2])
            self.size = np.insert(self.size, at, aligned(r[3]))
        else:
            self.first = np.array([r[0] for r in regions], dtype=np.int64)
            self.last = np.array([r[2] for r in regions], dtype=np.int64)
            self.size = np.array([aligned(r[3]) for r in regions], dtype=np.int64)
        self.regions = regions

    def _scan(self, start: np.ndarray, a: int, hold: int, old: np.ndarray | None = None) -> bool:
        """Place regions `a` on into `start` from the state after region a - 1 (its
        placements in `start`); False if one ends past the limit. With `old` (the
        accepted scan's placements, by the same indices), stop where the scan meets
        it, the regions live after `hold` aside, and copy the rest from it."""
        first, last, size = self.first, self.last, self.size
        if a >= len(first):
            return True
        differ: set[int] = set()
        if a:
            live = np.nonzero(last[:a] >= first[a - 1])[0]
            at = start[live]
            scan = _Scan.of(at, at + size[live], last[live], live)
            if old is not None:
                differ = set(live[at != old[live]].tolist())
        else:
            scan = _Scan()
        firsts, lasts, sizes = first[a:].tolist(), last[a:].tolist(), size[a:].tolist()
        before = old[a:].tolist() if old is not None else None
        limit = self.limit
        for j, (f, lt, sz) in enumerate(zip(firsts, lasts, sizes)):
            for k in scan.expire(f):
                differ.discard(k)
            PLACEMENTS[0] += 1
            s = scan.place(sz, lt, a + j)
            if s + sz > limit:
                return False
            start[a + j] = s
            if before is None:
                continue
            if s != before[j]:
                differ.add(a + j)
            elif f > hold and not differ:  # the accepted scan's state from here
                start[a + j + 1 :] = old[a + j + 1 :]
                return True
        return True

    def add(self, c: _Candidate) -> bool:
        """Whether the scan still fits with `c` kept too; if so, `c` is added."""
        new: _Region = (c.first, -1, c.last, c.layout.elements * F32)
        i = bisect_right(self.regions, _order(new), key=_order)
        regions = [*self.regions[:i], new, *self.regions[i:]]
        if self.start is None:  # no accepted scan to meet: the whole scan, as before
            saved = self.regions, self.first, self.last, self.size
            self._set(regions, i)
            start = np.full(len(regions), -1, dtype=np.int64)
            if not self._scan(start, 0, -1):
                self.regions, self.first, self.last, self.size = saved
                return False
            self.start = start
            return True
        old = np.insert(self.start, i, -1)  # the accepted placements; none for `c`
        last, size = self.last, self.size
        nbytes = aligned(new[3])
        # `c` where the scan puts it: the lowest gap among the regions live at its
        # first position (all before it)
        live = np.nonzero(last[:i] >= c.first)[0]
        order = live[np.argsort(self.start[live], kind="stable")]
        starts, ends = self.start[order], self.start[order] + size[order]
        reach = np.maximum.accumulate(np.concatenate(([0], ends)))
        fits = np.nonzero(reach[:-1] + nbytes <= starts)[0]
        at = int(reach[fits[0]]) if len(fits) else int(reach[-1])
        if nbytes == 0:
            at = 0
        if at + nbytes > self.limit:
            return False
        hold = c.last
        saved = self.regions, self.first, self.last, self.size
        self._set(regions, i)
        start = old.copy()
        start[i] = at
        a = self._shifted(start, old, i, at, nbytes, int(reach[-1]))
        if a is None:
            return self._restore(saved, False)
        if not self._scan(start, a, hold, old):
            return self._restore(saved, False)
        self.start = start
        return True

    def _shifted(
        self, start: np.ndarray, old: np.ndarray, i: int, at: int, nbytes: int, top: int
    ) -> int | None:
        """With `c` (index i) placed at `at` above every live region: fill `start`
        for the regions placed while `c` lives, the accepted scan's placements at or
        above `at` moved up by `nbytes`; the index to scan on from, i when that does
        not hold (a region straddles `at`, `c` not on top), None when a moved
        region ends past the limit."""
        if at < top or nbytes == 0:
            return i
        end = int(np.searchsorted(self.first, self.last[i], side="right"))
        was = old[i + 1 : end]
        was_end = was + self.size[i + 1 : end]
        if np.any((was < at) & (was_end > at)):
            return i
        up = was >= at
        if np.any(up) and int(was_end[up].max()) + nbytes > self.limit:
            return None
        start[i + 1 : end] = was + nbytes * up
        return end

    def _restore(self, saved: tuple, answer: bool) -> bool:
        self.regions, self.first, self.last, self.size = saved
        return answer

    def without(self, tiles: Sequence[tuple[int, int, int]]) -> _SbufFit:
        """A copy with the tile regions `tiles` (first, last, bytes) left out, as
        `_SbufFit` of the other tiles and the same kept buffers would be: the scan
        runs from the first one left out until it meets this one's."""
        if self.start is None:
            raise ValueError("no accepted scan")
        out = _SbufFit.__new__(_SbufFit)
        out.limit = self.limit
        drop: list[int] = []
        for t in sorted(tiles):
            r = (t[0], 0, t[1], t[2])
            lo = bisect_right(self.regions, _order(r), key=_order) - 1
            k = lo
            while k >= 0 and (self.regions[k] != r or k in drop):
                k -= 1
            assert k >= 0 and self.regions[k][0] == r[0], "a tile not in the scan"
            drop.append(k)
        drop.sort()
        out.regions = list(self.regions)
        for k in reversed(drop):
            del out.regions[k]
        out.first = np.delete(self.first, drop)
        out.last = np.delete(self.last, drop)
        out.size = np.delete(self.size, drop)
        old = np.delete(self.start, drop)
        start = old.copy()
        hold = max((self.regions[k][2] for k in drop), default=-1)
        a = drop[0] if drop else len(out.regions)
        out.start = start if out._scan(start, a, hold, old) else None
        return out


def _order(r: _Region) -> tuple[int, int]:
    """Regions in order of their first position, kept buffers before tiles there."""
    return r[0], r[1]


MAX_PEEL = 8
"""`peel_writers` splits a nest along a dimension of at most this many iterations
(its body is repeated as many times)."""


def _peelable(nest: loop.NestOp, dim: int) -> bool:
    """Whether `peel_nest(nest, dim)` keeps the nest's meaning: a loop over `dim` of
    2 to MAX_PEEL iterations, the last op of the nest's body and the only loop over
    it, that no matmul starts its sums by (a sum over `dim` would span the pieces)."""
    trips = nest.domain_val
    if not (dim < len(trips) and 1 < trips[dim] <= MAX_PEEL):
        return False
    body = list(nest.body.block.ops)
    if not body or not isinstance(body[-1], loop.ForOp) or body[-1].dim.value.data != dim:
        return False
    for op in nest.walk():
        if isinstance(op, loop.ForOp) and op is not body[-1] and op.dim.value.data == dim:
            return False
        if isinstance(op, loop.MatmulOp) and op.zero_at is not None and op.zero_at.value.data == dim:
            return False
    return True


def peel_nest(nest: loop.NestOp, dim: int) -> list[loop.NestOp]:
    """Replace `nest` by one nest per iteration of domain dim `dim`, in order, each
    with that dim's trip count 1 and its iteration folded into every access (the
    ops before the loop over it run in each: `_peelable` says when that is sound)."""
    block = nest.parent_block()
    assert block is not None
    trips = nest.domain_val
    domain = (*trips[:dim], 1, *trips[dim + 1 :])
    pieces: list[loop.NestOp] = []
    for j in range(trips[dim]):
        piece = nest.clone()
        piece.properties["domain"] = DenseArrayBase.from_list(i64, domain)
        for op in piece.walk():
            for name, attr in list(op.properties.items()):
                if isinstance(attr, AccessAttr):
                    op.properties[name] = _at(attr, dim, j)
        block.insert_op_before(piece, nest)
        pieces.append(piece)
    nest.detach()
    nest.erase()
    return pieces


def _stepped_dim(use: _Use) -> int | None:
    """The one domain dim (of more than one iteration) that the DRAM side of copy
    `use` steps along, if it steps along exactly one."""
    trips = use.trips
    ap = use.ap
    dims = {
        d
        for a in (ap.pstart, ap.offset)
        for d, step in enumerate(a.steps)
        if step and d < len(trips) and trips[d] > 1
    }
    return dims.pop() if len(dims) == 1 else None


def peel_writers(
    fn: func.FuncOp, chip: ChipConfig, split: bool, bands: bool, groups: bool = False
) -> list[str]:
    """Split the nests that write a buffer no layout holds (`choose_layout`) along
    the dimension their copies into it step along, when each iteration's copy alone
    would map or split: Inception's 192 channels written at channel 128 of a
    480-channel concatenation in two tiles of 96, the second of which crosses
    partition 128 of the layout the reader's tiles need, where the loop over both
    cannot. Returns the origins of the nests split."""
    block = fn.body.block
    returned = {v for op in block.ops if isinstance(op, func.ReturnOp) for v in op.arguments}
    done: list[str] = []
    for op in list(block.ops):
        if not isinstance(op, loop.AllocOp) or op.result in returned:
            continue
        found = _uses(op.result)
        if found is None or not found[0] or any(v.result in returned for v in found[1]):
            continue
        uses, views = found
        expanded: list[_Use] = []
        plan: dict[loop.NestOp, int] = {}
        for u in uses:
            dim = _stepped_dim(u) if u.slot == "dst" else None
            nest = _nest_of(u.op)
            if dim is None or nest is None or not _peelable(nest, dim) or plan.get(nest, dim) != dim:
                expanded.append(u)
                continue
            plan[nest] = dim
            expanded += [replace(u, fixed=(dim, j)) for j in range(u.trips[dim])]
        if not plan:
            continue  # no writer to peel (most buffers: decided without a layout)
        shapes = [tuple(op.result.type.get_shape())]
        shapes += [tuple(v.result.type.get_shape()) for v in views]
        elements = prod(shapes[0])
        if choose_layout(elements, shapes, uses, chip.sbuf_partitions, split, bands) is not None:
            continue
        layout = choose_layout(elements, shapes, expanded, chip.sbuf_partitions, split, bands, groups)
        if layout is None:
            continue
        needed = {
            nest
            for u in uses
            if (nest := _nest_of(u.op)) in plan and _split_elements(layout, u, split) is None
        }
        for nest in [n for n in plan if n in needed]:
            done.append(nest.origin.data)
            peel_nest(nest, plan[nest])
    return done


def keep_on_chip(
    fn: func.FuncOp,
    chip: ChipConfig,
    split: bool = True,
    outputs: bool = False,
    forward: bool = False,
    bands: bool = True,
    peel: bool = False,
    groups: bool = False,
) -> list[str]:
    """Move the buffers of `fn` that fit on chip into SBUF; returns their names
    (the writing nest's origin) in program order. `split`: copies may be split
    where their rows cross a group of partitions. `outputs`: a returned buffer that
    later nests read (the logits a softmax reads) also gets a kept copy, which its
    writers fill beside their stores and its readers read instead of DRAM.
    `forward`: `forward_copies` runs next, so a writer's tile that forwarding will
    replace by the kept buffer (a tile only stored into it: `_forwards`) does not
    count against SBUF once the buffer is kept (ResNet-50's stem: its 64 x 12,544
    output tile and the kept output would not both fit beside its im2col).
    `bands`: a tensor that conv-bands writes or pool-bands reads band by band may
    be kept in their band layout (`BandLayout`). `peel`: first split the nests
    whose loop-stepped copies alone keep a buffer off chip (`peel_writers`).
    `groups`: a copy of several groups of rows may split per group (`choose_layout`)."""
    if peel:
        peel_writers(fn, chip, split, bands, groups)
    block = fn.body.block
    index = {op: i for i, op in enumerate(block.ops)}
    returned = {v for op in block.ops if isinstance(op, func.ReturnOp) for v in op.arguments}
    tiles: dict[loop.AllocTileOp, tuple[int, int, int]] = {}
    for op in fn.body.walk():
        if isinstance(op, loop.AllocTileOp) and op.result.type.space.data == "sbuf":
            first = _top_index(op, index)
            last = max((_top_index(u.operation, index) for u in op.result.uses), default=first)
            tiles[op] = (first, max(first, last), op.result.type.bytes_per_partition)
    kept: list[_Candidate] = []
    fit = _SbufFit(chip.sbuf_partition_bytes, list(tiles.values()), kept)
    budget = PLACEMENTS[0] + SCAN_BUDGET + SCAN_BUDGET_PER_TILE * len(tiles)
    for op in list(block.ops):
        if not isinstance(op, loop.AllocOp):
            continue
        if PLACEMENTS[0] > budget:
            break  # the rest stay in DRAM (SCAN_BUDGET)
        shadow = op.result in returned
        if shadow and not outputs:
            continue
        found = _uses(op.result, returned=shadow)
        if found is None or not found[0]:
            continue
        uses, views = found
        if any(v.result in returned for v in views):
            continue
        if shadow and not _worth_shadowing(uses):
            continue
        shapes = [tuple(op.result.type.get_shape())]
        shapes += [tuple(v.result.type.get_shape()) for v in views]
        layout = choose_layout(
            prod(shapes[0]), shapes, uses, chip.sbuf_partitions, split and not shadow, bands, groups
        )
        if layout is None:
            continue
        positions = [_top_index(u.op, index) for u in uses]
        candidate = _Candidate(op, layout, uses, views, index[op], max(positions), shadow)
        if fit.add(candidate):
            kept.append(candidate)
            continue
        freed = _forwarded_tiles(candidate, bands) if forward and not shadow else set()
        if freed:
            # (the scan without the freed tiles from the kept one, not rebuilt:
            # each refused buffer of a wide fan-out rescanned every tile)
            gone = [o for o in freed if o in tiles]
            fit_rest = (
                fit.without([tiles[o] for o in gone])
                if fit.start is not None
                else _SbufFit(
                    chip.sbuf_partition_bytes, [t for o, t in tiles.items() if o not in freed], kept
                )
            )
            if fit_rest.add(candidate):
                kept.append(candidate)
                for o in gone:
                    del tiles[o]
                fit = fit_rest
    # The shadows last, their uses gathered again: a shadow's writer may copy from a
    # buffer kept here (a pad's reflected column, through DRAM before), and the
    # shadow's twin of that copy must read the kept tile, not the DRAM buffer the
    # rewrite leaves unwritten (or a copy the rewrite split into pieces).
    named: list[tuple[int, str]] = []
    for c in [c for c in kept if not c.shadow] + [c for c in kept if c.shadow]:
        if c.shadow:
            found = _uses(c.alloc.result, returned=True)
            if found is None or any(c.layout.map(u.ap, _trips(u.op)) is None for u in found[0]):
                continue
            c = replace(c, uses=found[0], views=found[1])
        _rewrite(c)
        named.append((c.first, _writer_name(c)))
    return [name for _, name in sorted(named, key=lambda fn: fn[0])]


def _forwarded_tiles(c: _Candidate, merged: bool = False) -> set[loop.AllocTileOp]:
    """The writers' tiles that `forward_copies` will replace by `c`'s kept buffer:
    each store into the buffer that maps whole onto the layout and that `_forwards`
    accepts (its source tile only stored there); with `merged`
    (`merge_partition_copies` runs first), also the stores that it joins into one
    that `_forwards` accepts."""
    freed: set[loop.AllocTileOp] = set()
    stores: list[tuple[loop.CopyOp, AccessAttr]] = []
    for u in c.uses:
        if u.slot != "dst":
            continue
        kept_ap = c.layout.map(u.ap, _trips(u.op))
        nest = _nest_of(u.op)
        if kept_ap is None or nest is None:
            continue
        order = {op: i for i, op in enumerate(nest.walk())}
        if _forwards(u.op, False, kept_ap, order, nest.domain_val):
            owner = u.op.src.owner
            assert isinstance(owner, loop.AllocTileOp)
            freed.add(owner)
        else:
            stores.append((u.op, kept_ap))
    # Stores of one tile's following partition ranges into following partitions of
    # the kept tensor (conv-bands' band stores, in a band layout), which
    # `merge_partition_copies` joins into one copy before forwarding.
    by_tile: dict[tuple[SSAValue, Block | None], list[tuple[loop.CopyOp, AccessAttr]]] = {}
    for copy, kept_ap in stores:
        by_tile.setdefault((copy.src, copy.parent_block()), []).append((copy, kept_ap))
    for group in by_tile.values() if merged else ():
        group.sort(key=lambda ck: ck[0].src_ap.pstart.base)
        merged = _merged_stores(group)
        nest = _nest_of(group[0][0])
        if merged is None or nest is None:
            continue
        tile_ap, kept_ap = merged
        order = {op: i for i, op in enumerate(nest.walk())}
        copies = [copy for copy, _ in group]
        if _forwards(copies[0], False, kept_ap, order, nest.domain_val, also=copies[1:], tile_ap=tile_ap):
            owner = copies[0].src.owner
            assert isinstance(owner, loop.AllocTileOp)
            freed.add(owner)
    return freed


def _merged_stores(group: list[tuple[loop.CopyOp, AccessAttr]]) -> tuple[AccessAttr, AccessAttr] | None:
    """(tile access, kept access) of the stores in `group` (copy, its access on the
    kept layout; by partition) joined into one, as `merge_partition_copies` would
    join them once they address the kept tile, or None when they do not follow one
    another on both sides with the same free pattern."""
    if len(group) < 2:
        return None
    (first, kept0), *rest = group
    tile0 = first.src_ap
    parts = tile0.dims[0][1]
    for copy, kept_ap in rest:
        for x, x0 in ((copy.src_ap, tile0), (kept_ap, kept0)):
            if x.dims[1:] != x0.dims[1:] or x.offset != x0.offset or x.pstart.steps != x0.pstart.steps:
                return None
            if x.pstart.base != x0.pstart.base + parts:
                return None
        parts += copy.src_ap.dims[0][1]
    return (
        AccessAttr.get(tile0.space, tile0.pstart, tile0.offset, [(1, parts), *tile0.dims[1:]]),
        AccessAttr.get(kept0.space, kept0.pstart, kept0.offset, [(1, parts), *kept0.dims[1:]]),
    )


def _writer_name(c: _Candidate) -> str:
    for u in c.uses:
        if u.slot == "dst":
            nest = _nest_of(u.op)
            if nest is not None:
                return nest.origin.data
    return "?"


def _worth_shadowing(uses: list[_Use]) -> bool:
    """A returned buffer is worth a kept copy when a nest that does not write it
    reads it (its copies then read SBUF, not the stores' round trip through DRAM)."""
    writers = {_nest_of(u.op) for u in uses if u.slot == "dst"}
    return any(u.slot == "src" and _nest_of(u.op) not in writers for u in uses)


def _rewrite(c: _Candidate) -> None:
    layout = c.layout
    tile = loop.AllocTileOp("sbuf", layout.partitions, layout.elements)
    hint = c.alloc.result.name_hint
    tile.result.name_hint = f"{hint}_kept" if c.shadow and hint else hint
    Rewriter.insert_op(tile, InsertPoint.before(c.alloc))
    for u in c.uses:
        operand = 0 if u.slot == "src" else 1
        new_ap = layout.map(u.ap, _trips(u.op))
        if c.shadow and u.slot == "dst":
            # The store stays; a copy of the same tile into the kept tensor follows
            # it (forwarding then lets the writer fill the kept tensor and the store
            # read it).
            assert new_ap is not None  # shadows are never split (keep_on_chip)
            twin = u.op.clone()
            twin.properties[u.prop] = new_ap
            twin.operands[operand] = tile.result
            Rewriter.insert_op(twin, InsertPoint.after(u.op))
            continue
        if new_ap is not None:
            u.op.properties[u.prop] = new_ap
            u.op.operands[operand] = tile.result
            continue
        # A copy whose rows cross into the next group (or band): one copy per piece.
        other = _other_side(u)
        assert other is not None
        pieces = layout.pieces(u.ap, other, _trips(u.op))
        assert pieces is not None
        other_prop = "dst_ap" if u.slot == "src" else "src_ap"
        for kept_ap, other_ap in pieces:
            piece = u.op.clone()
            piece.properties[u.prop] = kept_ap
            piece.properties[other_prop] = other_ap
            piece.operands[operand] = tile.result
            Rewriter.insert_op(piece, InsertPoint.before(u.op))
        Rewriter.erase_op(u.op)
    for view in reversed(c.views):
        if not view.result.uses:
            Rewriter.erase_op(view)
    if not c.alloc.result.uses:
        Rewriter.erase_op(c.alloc)


# ---------------------------------------------------------------------------
# Reading and writing kept tensors in place
# ---------------------------------------------------------------------------


def _contiguous(ap: AccessAttr) -> tuple[Aff, Aff, int, int] | None:
    """(partition start, byte offset, partitions, elements per partition) of an
    on-chip access whose free dims walk one contiguous run, else None."""
    if ap.space.value == "dram":
        return None
    (_, parts), *free = ap.dims
    run = 1
    for stride, count in reversed(free):  # innermost first
        if count == 1:
            continue
        if stride != run:
            return None
        run *= count
    return ap.pstart, ap.offset, parts, run


def _inside(ap: AccessAttr, window: tuple[Aff, Aff, int, int], trips: tuple[int, ...]) -> bool:
    """Whether every element `ap` touches lies in the tile window `window` of the
    same iteration (its partition start and offset may step with the loops too:
    the differences must stay in range over every iteration)."""
    p0, o0, parts, run = window
    plo, phi = (ap.pstart + p0.scaled(-1)).bounds(trips)
    olo, ohi = (ap.offset + o0.scaled(-1)).bounds(trips)
    (_, count), *free = ap.dims
    if any(stride < 0 for stride, _ in free):
        return False
    reach = sum(stride * (n - 1) for stride, n in free) * F32
    return plo >= 0 and phi + count <= parts and olo >= 0 and ohi + reach + F32 <= run * F32


def _moved(ap: AccessAttr, tile: tuple[Aff, Aff, int, int], kept: tuple[Aff, Aff, int, int]) -> AccessAttr:
    """`ap` on the tile window `tile`, re-addressed to the same elements of the kept
    tensor's window `kept` (both contiguous runs of the same size)."""
    pstart = ap.pstart + kept[0] + tile[0].scaled(-1)
    offset = ap.offset + kept[1] + tile[1].scaled(-1)
    return AccessAttr.get(ap.space, pstart, offset, ap.dims)


def _writes(nest: loop.NestOp, value: SSAValue, besides: Operation | None = None) -> bool:
    """Whether a tile op of `nest` other than `besides` writes `value`. Looks at
    the value's uses, not at every op of the nest: a nest that reads n kept tensors
    (a Sum of n) asked this once per tensor, walking its n loads each time."""
    for use in value.uses:
        op = use.operation
        if op is besides or not isinstance(op, loop.TileOp) or _nest_of(op) is not nest:
            continue
        if any(role == "write" and v is value for role, v, _ in op.accesses()):
            return True
    return False


def _forwards(
    copy: loop.CopyOp,
    load: bool,
    kept_ap: AccessAttr,
    order: dict[Operation, int],
    trips: tuple[int, ...],
    also: list[loop.CopyOp] | tuple[()] = (),
    tile_ap: AccessAttr | None = None,
) -> bool:
    """Whether `_forward` can drop `copy`, a load from (`load`) or a store to the
    kept tensor at `kept_ap` (see `_forward` for the conditions). Changes nothing.
    `also` and `tile_ap`: `copy` joined with the copies `also` into one of tile
    access `tile_ap` (`_merged_stores`)."""
    kept_value, tile_value = (copy.src, copy.dst) if load else (copy.dst, copy.src)
    if tile_ap is None:
        tile_ap = copy.dst_ap if load else copy.src_ap
    tile_op = tile_value.owner
    if not isinstance(tile_op, loop.AllocTileOp) or _nest_of(tile_op) is None:
        return False
    tw, kw = _contiguous(tile_ap), _contiguous(kept_ap)
    if tw is None or kw is None or tw[2:] != kw[2:]:
        return False
    block = copy.parent_block()
    users = {u.operation for u in tile_value.uses} - {copy, *also}
    for user in users:
        if not isinstance(user, loop.TileOp) or not _under(user, block):
            return False
        if (order[user] > order[copy]) != load:
            return False
        for role, value, ap in user.accesses():
            if value is tile_value and not _inside(ap, tw, trips):
                return False
            if value is tile_value and load and role == "write":
                return False
    if load:
        nest = _nest_of(copy)
        assert nest is not None
        if _writes(nest, kept_value):
            return False
    elif users:
        first = min(users, key=order.__getitem__)
        roles = {role for role, value, _ in first.accesses() if value is tile_value}
        if roles != {"write"}:
            return False
    return True


def _forward(copy: loop.CopyOp, order: dict[Operation, int], trips: tuple[int, ...], kept: set[SSAValue]) -> bool:
    """Let the nest's ops use the kept tensor in place of the tile `copy` fills from
    it (a load) or empties into it (a store), and drop the copy. False (nothing
    changed) unless: the tile is the nest's and used only by tile ops after the
    load (before the store) at or under the copy's block, through accesses inside
    the copied window of the same iteration; both windows are contiguous runs (a
    pure shift of addresses, which may step with the loops: a conv's output tile
    region per output-channel tile); for a load, nothing else writes the tile and the nest never writes
    the kept tensor; for a store, the tile's first access writes it."""
    load = copy.src in kept
    kept_value, tile_value = (copy.src, copy.dst) if load else (copy.dst, copy.src)
    kept_ap, tile_ap = (copy.src_ap, copy.dst_ap) if load else (copy.dst_ap, copy.src_ap)
    if not _forwards(copy, load, kept_ap, order, trips):
        return False
    tile_op = tile_value.owner
    assert isinstance(tile_op, loop.AllocTileOp)
    tw, kw = _contiguous(tile_ap), _contiguous(kept_ap)
    assert tw is not None and kw is not None
    users = {u.operation for u in tile_value.uses} - {copy}
    for user in users:
        _retarget(user, tile_value, kept_value, lambda ap: _moved(ap, tw, kw))
    Rewriter.erase_op(copy)
    if not tile_value.uses:
        Rewriter.erase_op(tile_op)
    return True


def _forward_loads(
    copies: list[loop.CopyOp], order: dict[Operation, int], trips: tuple[int, ...], kept: set[SSAValue]
) -> bool:
    """Several loads that fill one tile from one kept tensor (a conv's input-channel
    tiles, one copy each) at the same shift of addresses: the nest's ops read the
    kept tensor in place of the tile and the copies go. False (nothing changed)
    unless each copy's windows are contiguous runs of the same size, every copy
    shifts partitions and bytes by the same amounts, they share one block, and the
    tile's other users are tile ops after the last copy, under that block, that only
    read it within the copies' bounding window; the nest never writes the kept
    tensor."""
    first = copies[0]
    kept_value, tile_value = first.src, first.dst
    tile_op = tile_value.owner
    if not isinstance(tile_op, loop.AllocTileOp) or _nest_of(tile_op) is None:
        return False
    block = first.parent_block()
    shift: tuple[Aff, Aff] | None = None
    windows = []
    for copy in copies:
        if copy.src is not kept_value or copy.parent_block() is not block:
            return False
        tw, kw = _contiguous(copy.dst_ap), _contiguous(copy.src_ap)
        if tw is None or kw is None or tw[2:] != kw[2:] or not tw[0].is_const or not tw[1].is_const:
            return False
        this = (kw[0] + tw[0].scaled(-1), kw[1] + tw[1].scaled(-1))
        if shift is not None and this != shift:
            return False
        shift = this
        windows.append(tw)
    assert shift is not None
    p0 = min(w[0].base for w in windows)
    o0 = min(w[1].base for w in windows)
    parts = max(w[0].base + w[2] for w in windows) - p0
    run = (max(w[1].base + w[3] * F32 for w in windows) - o0) // F32
    box = (Aff(p0), Aff(o0), parts, run)
    last = max(order[c] for c in copies)
    users = {u.operation for u in tile_value.uses} - set(copies)
    for user in users:
        if not isinstance(user, loop.TileOp) or not _under(user, block) or order[user] < last:
            return False
        for role, value, ap in user.accesses():
            if value is tile_value and (role == "write" or not _inside(ap, box, trips)):
                return False
    nest = _nest_of(first)
    assert nest is not None
    if _writes(nest, kept_value):
        return False
    for user in users:
        _retarget(
            user,
            tile_value,
            kept_value,
            lambda ap: AccessAttr.get(ap.space, ap.pstart + shift[0], ap.offset + shift[1], ap.dims),
        )
    for copy in copies:
        Rewriter.erase_op(copy)
    if not tile_value.uses:
        Rewriter.erase_op(tile_op)
    return True


def _retarget(
    user: loop.TileOp,
    tile: SSAValue,
    value: SSAValue,
    move: Callable[[AccessAttr], AccessAttr],
    role: str | None = None,
) -> None:
    """Point each of `user`'s accesses to `tile` (of `role`, when given) at `value`,
    through `move` of its access."""
    for index, (slot, prop, slot_role) in enumerate(user.SLOTS):
        if getattr(user, slot) is not tile or role not in (None, slot_role):
            continue
        ap = user.properties[prop]
        assert isinstance(ap, AccessAttr)
        user.properties[prop] = move(ap)
        user.operands[_operand_index(user, slot, index)] = value


def _forward_through(
    load: loop.CopyOp, store: loop.CopyOp, order: dict[Operation, int], kept: set[SSAValue]
) -> bool:
    """A tile loaded from kept tensor X, updated in place by one op and stored to
    kept tensor Y (channel_affine: load, ACT tile -> tile, store): the op reads X
    and writes Y directly and both copies go. False (nothing changed) unless the
    tile is the nest's, filled by `load` and emptied by `store` (same block, load
    first) over the same contiguous window, with exactly one other user between
    them, under that block, reading and writing the tile through one and the same
    access inside the window, and, when that op is inside loops below the block,
    loops that move the access without touching an element twice: taken from the
    smallest step up, each loop's step (partitions fixed) at least the extent its
    access and the smaller steps' loops reach (channel_affine's pieces of a plane
    inside its channel tiles). The nest must not otherwise write X."""
    tile_value = load.dst
    tile_op = tile_value.owner
    if (
        store.src is not tile_value
        or load.src is store.dst
        or not isinstance(tile_op, loop.AllocTileOp)
        or _nest_of(tile_op) is None
        or load.parent_block() is not store.parent_block()
        or order[load] > order[store]
    ):
        return False
    tw, sw = _contiguous(load.dst_ap), _contiguous(store.src_ap)
    xw, yw = _contiguous(load.src_ap), _contiguous(store.dst_ap)
    if None in (tw, sw, xw, yw) or tw != sw:
        return False
    assert tw is not None and xw is not None and yw is not None
    if tw[2:] != xw[2:] or tw[2:] != yw[2:] or not tw[0].is_const or not tw[1].is_const:
        return False
    users = {u.operation for u in tile_value.uses} - {load, store}
    if len(users) != 1:
        return False
    (user,) = users
    block = load.parent_block()
    if not isinstance(user, loop.TileOp) or not _under(user, block):
        return False
    if not order[load] < order[user] < order[store]:
        return False
    mine = [(role, ap) for role, value, ap in user.accesses() if value is tile_value]
    aps = {ap for _, ap in mine}
    if {role for role, _ in mine} != {"read", "write"} or len(aps) != 1:
        return False
    (ap,) = aps
    nest = _nest_of(load)
    assert nest is not None
    trips = nest.domain_val
    if not _inside(ap, tw, trips):
        return False
    # the loops between the block and the op move the access without overlap: each
    # step, smallest first, clears everything the access and the smaller steps reach
    dims = []
    walker = user.parent_op()
    while walker is not None and walker is not block.parent_op():
        if isinstance(walker, loop.ForOp):
            dims.append(walker.dim.value.data)
        walker = walker.parent_op()
    iterating = [d for d in dims if trips[d] > 1]
    _, *free = ap.dims
    reach = (sum(stride * (n - 1) for stride, n in free) + 1) * F32
    for d in sorted(iterating, key=lambda d: abs(ap.offset.step(d))):
        step = abs(ap.offset.step(d))
        if ap.pstart.step(d) != 0 or step < reach:
            return False
        reach += step * (trips[d] - 1)
    if _writes(nest, load.src, besides=load):
        return False
    _retarget(user, tile_value, load.src, lambda a: _moved(a, tw, xw), role="read")
    _retarget(user, tile_value, store.dst, lambda a: _moved(a, tw, yw), role="write")
    Rewriter.erase_op(load)
    Rewriter.erase_op(store)
    Rewriter.erase_op(tile_op)
    return True


def _operand_index(op: loop.TileOp, slot: str, slot_index: int) -> int:
    """The operand index of `slot` (optional slots that are absent take none)."""
    index = 0
    for name, _, _ in op.SLOTS[:slot_index]:
        if getattr(op, name) is not None:
            index += 1
    return index


def _under(op: Operation, block: Block | None) -> bool:
    while op is not None:
        if op.parent_block() is block:
            return True
        op = op.parent_op()
    return False


def merge_partition_copies(fn: func.FuncOp) -> int:
    """Join consecutive on-chip copies between the same two tiles whose partition
    ranges follow one another on both sides with the same free pattern (conv-bands'
    band stores into a tensor kept in its band layout: one copy of the whole tile,
    which forwarding can then drop); returns the copies removed."""
    merged = 0
    for nest in [op for op in fn.body.block.ops if isinstance(op, loop.NestOp)]:
        for block in [b for op in nest.walk() for r in op.regions for b in r.blocks]:
            prev: loop.CopyOp | None = None
            for op in list(block.ops):
                if not isinstance(op, loop.CopyOp):
                    prev = None
                    continue
                if prev is not None and _follows(prev, op):
                    a, b = prev.src_ap, prev.dst_ap
                    n = a.dims[0][1] + op.src_ap.dims[0][1]
                    prev.properties["src_ap"] = AccessAttr.get(a.space, a.pstart, a.offset, [(1, n), *a.dims[1:]])
                    prev.properties["dst_ap"] = AccessAttr.get(b.space, b.pstart, b.offset, [(1, n), *b.dims[1:]])
                    Rewriter.erase_op(op)
                    merged += 1
                    continue
                prev = op
    return merged


def _follows(a: loop.CopyOp, b: loop.CopyOp) -> bool:
    """Whether copy `b` continues copy `a` on the next partitions of both tiles."""
    if a.src is not b.src or a.dst is not b.dst:
        return False
    for x, y in ((a.src_ap, b.src_ap), (a.dst_ap, b.dst_ap)):
        if x.space == "dram" or y.space != x.space or x.dims[1:] != y.dims[1:] or x.offset != y.offset:
            return False
        if x.pstart.steps != y.pstart.steps or x.pstart.base + x.dims[0][1] != y.pstart.base:
            return False
    return True


def forward_copies(fn: func.FuncOp) -> int:
    """Let nests read and write the tensors kept on chip in place of the tiles
    their copies fill and empty (see `_forward`); returns the copies dropped."""
    kept = {
        op.result
        for op in fn.body.block.ops
        if isinstance(op, loop.AllocTileOp) and op.result.type.space.data == "sbuf"
    }
    dropped = 0
    for nest in [op for op in fn.body.block.ops if isinstance(op, loop.NestOp)]:
        order = {op: i for i, op in enumerate(nest.walk())}
        copies = [
            op
            for op in nest.walk()
            if isinstance(op, loop.CopyOp) and (op.src in kept) != (op.dst in kept)
        ]
        loads = [c for c in copies if c.src in kept]
        stores = {c.src: c for c in copies if c.dst in kept}
        through: set[loop.CopyOp] = set()
        for load in loads:
            store = stores.get(load.dst)
            if store is not None and _forward_through(load, store, order, kept):
                through |= {load, store}
                dropped += 2
        copies = [c for c in copies if c not in through]
        by_tile: dict[SSAValue, list[loop.CopyOp]] = {}
        for c in copies:
            if c.src in kept:
                by_tile.setdefault(c.dst, []).append(c)
        for group in by_tile.values():
            if len(group) > 1 and _forward_loads(group, order, nest.domain_val, kept):
                through |= set(group)
                dropped += len(group)
        copies = [c for c in copies if c not in through]
        for copy in copies:
            if _forward(copy, order, nest.domain_val, kept):
                dropped += 1
    return dropped


@dataclass(frozen=True)
class LoopKeepOnChipPass(ChipPass):
    """Keep intermediate tensors in SBUF across nests where their copies allow
    and, with `forward` (the default), let nests use them in place of the tiles
    their copies fill and empty."""

    name = "loop-keep-on-chip"

    forward: bool = True
    split: bool = True
    """A copy whose rows cross into the next group of partitions is split there
    (`Layout.split`): ShuffleNet's 24 channels at offset 112 of a 136-channel
    concatenation read in a 128-channel tile and an 8-channel one."""
    outputs: bool = True
    """A returned buffer that later nests read keeps a copy on chip for them (the
    zoo models return their logits, which the softmax reads): `keep_on_chip`."""
    forwarded: bool = True
    """With `forward`, a writer's tile that forwarding will replace by the kept
    buffer does not count against SBUF (`keep_on_chip`)."""
    bands: bool = True
    """A tensor written or read band by band (conv-bands, pool-bands: band b's
    channels on partitions b x C onwards) may be kept in that band layout
    (`BandLayout`), and consecutive copies between the same two tiles on following
    partitions are joined (`merge_partition_copies`), so conv-bands' band stores
    become one copy of its output tile, which forwarding drops: ShuffleNet's stem
    no longer copies its 1.2 MB output out of the band layout and back."""
    peel: bool = True
    """A nest whose copies into a buffer step across a boundary between groups of
    partitions differently at each iteration (so no layout holds the buffer) is
    split into one nest per iteration first, when each of those copies alone would
    map or split (`peel_writers`): Inception's concatenations stay on chip."""
    group_pieces: bool = True
    """With `split`, a copy of several groups of rows at once (a pooling's channel
    tiles of 88, all six in one copy) that no layout maps may become one copy per
    group, each split where it crosses (`Layout._group_pieces`)."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        expect_level(op, self.name, "loop")
        chip = self.chip_config()
        for fn in op.body.block.ops:
            if isinstance(fn, func.FuncOp):
                keep_on_chip(
                    fn, chip, self.split, self.outputs, self.forward and self.forwarded,
                    self.bands, self.peel and self.split, self.group_pieces,
                )
                if self.bands:
                    merge_partition_copies(fn)
                if self.forward:
                    forward_copies(fn)

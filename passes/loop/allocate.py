"""loop-allocate: give every DRAM buffer and on-chip tile an address, as attributes.

Expects one `func.func` on memrefs holding `loop.alloc/const/view/nest` ops (the
output of graph-to-loop). Changes no op; it records where each value lives, for
loop-to-accel to read:

- DRAM: the inputs first, then constants and intermediate buffers in program order,
  each on a 64-byte boundary; a view aliases its source. Inputs get `tidal.addr` in
  their argument attributes, `loop.alloc/const/view` ops a `tidal.addr` attribute,
  and the function `tidal.chip` and `tidal.dram_bytes` (the DRAM the program uses).
- SBUF/PSUM: every `loop.alloc_tile` gets `tidal.addr`, the byte offset of its region
  in each partition (regions start at partition 0). One allocator runs over the whole
  function (`LinearScan`, one per space): a tile is live from the top-level op that
  defines it to the last top-level op that uses it, so a tile lives for its nest, and
  a tile defined outside a nest or used by two nests lives across the nests between.
  A tile goes into the lowest gap left by the placed tiles whose lifetimes overlap
  its own: tiles of disjoint lifetimes share bytes, a long-lived tile keeps its region
  while the nests it spans allocate around it, and within a nest tiles stack in
  definition order. A
  PSUM tile stays inside one bank (a matmul accumulator). A tile that does not fit is
  an error naming its nest and the sizes.

    %h = loop.alloc : memref<8x12xf32>
    loop.nest "relu" domain [] order [] {
      %t = loop.alloc_tile : !loop.tile<sbuf, 32, 3>
      %r = loop.alloc_tile : !loop.tile<sbuf, 32, 3>
  becomes
    %h = loop.alloc {tidal.addr = 5184 : i64} : memref<8x12xf32>
    loop.nest "relu" domain [] order [] {
      %t = loop.alloc_tile {tidal.addr = 0 : i64} : !loop.tile<sbuf, 32, 3>
      %r = loop.alloc_tile {tidal.addr = 64 : i64} : !loop.tile<sbuf, 32, 3>
"""

from __future__ import annotations

import bisect
import itertools

from dataclasses import dataclass, field
from math import prod

from tidal.dialects import loop
from tidal.dialects.accel import WORD_MAX
from tidal.passes.conversion.kernels.nest_builder import aligned
from tidal.passes.utils.chip import ChipPass
from tidal.passes.utils.expect import PassInputError, expect_level
from tidal.sim.config import ChipConfig
from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import (
    ArrayAttr,
    DictionaryAttr,
    IntegerAttr,
    MemRefType,
    ModuleOp,
    StringAttr,
    i64,
)
from xdsl.ir import Block, Operation, SSAValue
from xdsl.utils.exceptions import PassFailedException

ADDR = "tidal.addr"  # byte address (DRAM) or byte offset in each partition (tiles)
CHIP = "tidal.chip"  # on the function: the chip preset it is allocated for
DRAM_BYTES = "tidal.dram_bytes"  # on the function: DRAM the program uses


@dataclass(frozen=True)
class Region:
    """Bytes [start, end) of one memory space, live over top-level positions
    [first, last] of the function."""

    first: int
    last: int
    start: int
    end: int


def _start_of(region: Region) -> int:
    return region.start


@dataclass
class LinearScan:
    """Places regions of one memory space by a linear scan over their lifetimes.

    Regions come in order of their first position, padded to 64 bytes; overlapping
    lifetimes never share a byte. Without `bank_bytes` (SBUF) each goes into the
    lowest gap between the placed regions whose lifetimes overlap its own, so bytes
    freed by a tensor that died are reused while a longer-lived one stays above them.
    With `bank_bytes` (PSUM) each goes right above every live region and never
    straddles a bank boundary. Tiles of one nest, which all live together, stack in
    definition order either way.

        scan = LinearScan()
        scan.place(0, 2, 100)  # Region(first=0, last=2, start=0, end=128)
        scan.place(1, 1, 64)   # Region(first=1, last=1, start=128, end=192)
        scan.place(3, 3, 64)   # Region(first=3, last=3, start=0, end=64)
    """

    bank_bytes: int = 0
    rotate: int = 0
    """(PSUM) The bytes of a partition, to place each region from the end of the last
    one placed instead of from 0 (`_rotated`)."""
    live: list[Region] = field(default_factory=list[Region])
    """The regions live at `now`, by start (placing one needs no sort: a nest of
    2,000 tiles, a Sum's operands, placed them in quadratic time)."""
    now: int = 0  # the first position of the last region placed
    expired: int = -1  # the position up to which dead regions have left `live`
    cursor: int = 0  # (rotate) the end of the last region placed

    def place(self, first: int, last: int, nbytes: int, top: int = 0) -> Region:
        """The region of `nbytes` live over [first, last]; with `top` (SBUF), in the
        highest gap that ends at or below byte `top` instead of the lowest (its start
        is negative when none fits)."""
        if last < first:
            raise ValueError(f"lifetime [{first}, {last}] ends before it starts")
        if first < self.now:
            raise ValueError("regions are placed in order of their first position")
        self.now = first
        if self.bank_bytes and nbytes > self.bank_bytes:
            raise ValueError(f"{nbytes} bytes do not fit a {self.bank_bytes}-byte bank")
        if first != self.expired:  # (once per position: the tiles of a nest share it)
            self.live = [r for r in self.live if r.last >= first]
            self.expired = first
        size = aligned(nbytes)
        if self.bank_bytes:  # PSUM accumulators: above every live one, within a bank
            start = self._in_bank(max((r.end for r in self.live), default=0), nbytes)
            if self.rotate:
                start = self._rotated(size, nbytes, start)
                self.cursor = start + size
        elif top:  # the highest gap that fits below `top`
            end = top
            for r in reversed(self.live):
                if r.end + size <= end:
                    break
                end = min(end, r.start)
            start = end - size
        else:  # the lowest gap that fits
            start = 0
            for r in self.live:
                if start + size <= r.start:
                    break
                if r.end > start:
                    start = r.end
        region = Region(first, last, start, start + size)
        bisect.insort(self.live, region, key=_start_of)
        return region


    def _rotated(self, size: int, nbytes: int, default: int) -> int:
        """Where a PSUM region of `size` bytes goes with `rotate`: the first start from
        the cursor on, wrapping to 0 once, that overlaps no live region, stays within
        a bank and within the partition; `default` when none does.

        Accumulators of consecutive nests then take different bytes, so a nest's
        first matmuls need not wait until the engine that evacuates the last
        nest's accumulator has read it (without: every nest's first accumulator is at
        0, and a nest whose operands are ready waits for the previous one's
        evacuation all the same). The hardware's PSUM is eight banks, which the
        accumulators of successive nests go round."""
        start, wrapped = self._in_bank(self.cursor, nbytes), False
        while True:
            if start + size > self.rotate:
                if wrapped:
                    return default
                start, wrapped = 0, True
            hit = [r.end for r in self.live if r.start < start + size and start < r.end]
            if not hit:
                return start
            start = self._in_bank(max(hit), nbytes)

    def _in_bank(self, start: int, nbytes: int) -> int:
        """`start`, or the next bank's start when `nbytes` from it would straddle."""
        bank = self.bank_bytes
        if bank and start % bank + nbytes > bank:
            return (start // bank + 1) * bank
        return start


def _addr_attr(addr: int) -> IntegerAttr:
    return IntegerAttr(addr, i64)


def _top_index(op: Operation, block: Block, index: dict[Operation, int]) -> int:
    """Position in `block` of the top-level op that holds `op`."""
    while op not in index:
        parent = op.parent_op()
        assert parent is not None, "an op outside the function"
        op = parent
    return index[op]


def _origin(op: Operation) -> str:
    parent = op.parent_op()
    while parent is not None and not isinstance(parent, loop.NestOp):
        parent = parent.parent_op()
    return f"nest '{parent.origin.data}'" if parent is not None else "the function"


@dataclass
class _Tiles:
    """The SBUF and PSUM allocators of one function, with the chip's limits."""

    chip: ChipConfig
    rotate: bool = False
    sbuf: LinearScan = field(init=False)
    psum: LinearScan = field(init=False)

    def __post_init__(self) -> None:
        self.sbuf = LinearScan()
        self.psum = LinearScan(
            bank_bytes=self.chip.psum_bank_bytes,
            rotate=self.chip.psum_partition_bytes if self.rotate else 0,
        )

    def place(
        self,
        tile: loop.AllocTileOp,
        first: int,
        last: int,
        longer: int | None = None,
        high: bool = False,
    ) -> int:
        """The tile's start in its space, live over [first, last]; over [first,
        longer] instead where it fits that way. `high` (SBUF): in the highest gap
        that fits, so a tile that lives long does not split the bytes below it."""
        t = tile.result.type
        space, parts, nbytes = t.space.data, t.partitions.data, t.bytes_per_partition
        chip = self.chip
        limit = chip.sbuf_partitions if space == "sbuf" else chip.psum_partitions
        if parts > limit:
            self._fail(
                tile,
                f"a {parts}-partition {space} tile; the chip has {limit} partitions",
            )
        if space == "psum" and nbytes > chip.psum_bank_bytes:
            self._fail(
                tile,
                f"a {nbytes}-byte PSUM accumulator; a bank holds {chip.psum_bank_bytes}",
            )
        scan, name, limit = (
            (self.sbuf, "SBUF", chip.sbuf_partition_bytes)
            if space == "sbuf"
            else (self.psum, "PSUM", chip.psum_partition_bytes)
        )
        top = limit if high and space == "sbuf" else 0
        if longer is not None and longer > last:
            region = scan.place(first, longer, nbytes, top)
            if 0 <= region.start and region.end <= limit:
                return region.start
            scan.live.remove(region)
        return self._start(tile, scan.place(first, last, nbytes, top), name, limit)

    def _start(
        self, tile: loop.AllocTileOp, region: Region, space: str, partition_bytes: int
    ) -> int:
        """The region's start, when it ends within the `partition_bytes` of `space`."""
        if region.start < 0 or region.end > partition_bytes:
            self._fail(
                tile,
                f"{region.end} bytes of {space} per partition; the chip has "
                f"{partition_bytes}",
            )
        return region.start

    def _fail(self, tile: loop.AllocTileOp, what: str) -> None:
        raise PassFailedException(
            f"loop-allocate: {_origin(tile)} needs {what} (chip '{self.chip.name}')"
        )


def _allocate_dram(fn: func.FuncOp, chip: ChipConfig) -> int:
    """Give inputs, constants and buffers DRAM addresses; returns the bytes used.
    Fails naming the first value that does not fit the chip's DRAM, or that ends
    past the 2 GiB an access's offset (a signed 32-bit word) reaches."""
    top = 0
    reach = WORD_MAX + 1

    def place(value: SSAValue, what: str) -> IntegerAttr:
        nonlocal top
        addr = top
        nbytes = 4 * prod(value.type.get_shape())  # type: ignore[attr-defined]
        top += aligned(nbytes)
        if top > chip.dram_bytes:
            raise PassFailedException(
                f"loop-allocate: {what} ({value.type}, {nbytes} bytes) ends at DRAM byte "
                f"{top}, past the {chip.dram_bytes} bytes of chip '{chip.name}'"
            )
        if top > reach:
            raise PassFailedException(
                f"loop-allocate: {what} ({value.type}, {nbytes} bytes) ends at DRAM byte "
                f"{top}, past the {reach} bytes an access's offset (a signed 32-bit "
                "word) reaches"
            )
        return _addr_attr(addr)

    args = fn.body.block.args
    old = (
        fn.arg_attrs.data
        if fn.arg_attrs is not None
        else [DictionaryAttr({})] * len(args)
    )
    new: list[DictionaryAttr] = []
    for arg, attrs in zip(args, old, strict=True):
        if not isinstance(arg.type, MemRefType):
            raise PassInputError(
                f"loop-allocate: function arguments must be memrefs; argument {arg.index} "
                f"is {arg.type}",
                fn,
            )
        name = attrs.data.get("tidal.name")
        what = f"argument '{name.data}'" if isinstance(name, StringAttr) else f"argument {arg.index}"
        new.append(DictionaryAttr({**attrs.data, ADDR: place(arg, what)}))
    fn.arg_attrs = ArrayAttr(new)
    for op in fn.body.block.ops:
        if isinstance(op, loop.ConstOp | loop.AllocOp):
            op.attributes[ADDR] = place(op.result, f"%{op.result.name_hint or '?'} ({op.name})")
        elif isinstance(op, loop.ViewOp):
            source = op.source.owner
            attr = (
                fn.arg_attrs.data[op.source.index].data[ADDR]
                if isinstance(source, Block)
                else source.attributes[ADDR]
            )
            op.attributes[ADDR] = attr
        elif not isinstance(op, loop.NestOp | loop.AllocTileOp | func.ReturnOp):
            raise PassInputError(f"loop-allocate: unexpected '{op.name}' in the function", op)
    return top


def _constant_filled(tile: loop.AllocTileOp) -> bool:
    """Whether every op that writes `tile` is a copy from a DRAM constant (a
    `loop.const`, or a view of one), or a memset, and at least one is a copy: the
    tile holds weights or biases (with zeros around them: row-pack's kernel rows,
    a block-diagonal operand)."""
    writers = 0
    for use in tile.result.uses:
        op = use.operation
        if not isinstance(op, loop.TileOp):
            return False
        if not any(role == "write" and value is tile.result for role, value, _ in op.accesses()):
            continue
        if isinstance(op, loop.MemsetOp):
            continue
        source = op.src if isinstance(op, loop.CopyOp) else None
        while source is not None and isinstance(source.owner, loop.ViewOp):
            source = source.owner.source
        if source is None or not isinstance(source.owner, loop.ConstOp):
            return False
        writers += 1
    return writers > 0


def _weight_tile(tile: loop.AllocTileOp) -> bool:
    """A tile of a nest that only constants fill (weights, biases): one that
    prefetch may reserve ahead of its nest."""
    return not isinstance(tile.parent_op(), func.FuncOp) and _constant_filled(tile)


def tile_lifetimes(
    fn: func.FuncOp, *, overlap: bool, prefetch: int | None = 0
) -> list[tuple[loop.AllocTileOp, int, int, int]]:
    """Every tile of `fn` with its lifetime [first, last] in top-level positions, in
    order of `first`, and the longer lifetime [first, longer] it gets where it fits.
    With `overlap`, a tile of a nest would rather stay live until the end of the next
    nest: the next nest's tiles then take other bytes, so nothing it writes (its
    weights, its input bands, its accumulators) waits for this nest to finish
    reading (without, `longer` is `last`). With `prefetch` = D > 0 (None: no
    limit), a tile that only constants fill (weights, biases) lives from D nests
    before its own: no tile of those nests shares its bytes, so its loads, which
    wait for nothing else, can run that far ahead on their DMA queue."""
    block = fn.body.block
    ops = list(block.ops)
    index = {op: i for i, op in enumerate(ops)}
    next_nest: dict[int, int] = {}
    following = len(ops) - 1
    for i in range(len(ops) - 1, -1, -1):
        next_nest[i] = following
        if isinstance(ops[i], loop.NestOp):
            following = i
    nests = [i for i, op in enumerate(ops) if isinstance(op, loop.NestOp)]
    rank = {pos: k for k, pos in enumerate(nests)}
    out: list[tuple[loop.AllocTileOp, int, int, int]] = []
    for op in fn.body.walk():
        if not isinstance(op, loop.AllocTileOp):
            continue
        first = _top_index(op, block, index)
        last = max(
            (_top_index(use.operation, block, index) for use in op.result.uses),
            default=first,
        )
        last = max(first, last)
        in_nest = not isinstance(op.parent_op(), func.FuncOp)
        longer = next_nest[last] if overlap and in_nest else last
        if prefetch != 0 and first in rank and _weight_tile(op):
            k = rank[first]
            first = nests[0] if prefetch is None else nests[max(0, k - prefetch)]
        out.append((op, first, last, longer))
    out.sort(key=lambda t: t[1])  # stable: walk order among equal starts
    return out


PREFETCH_DISTANCES: tuple[int | None, ...] = (None, 16, 8, 4, 2, 1, 0)
"""How many nests ahead weight tiles are reserved with `prefetch`, tried in turn
until the placement fits (None: from the first nest on)."""


FILL_MARGINS = (0.9, 0.8, 0.75, 0.74, 0.73, 0.72, 0.71, 0.7, 0.65, 0.5)
"""The fractions of an SBUF partition that `fill_ahead` lets the tiles live at a
position and the weight tiles reserved over it take, tried in turn until the
placement fits (the scan leaves gaps: the live tiles' sum is not the highest byte
placed). An earlier round measured finer steps worse (Inception v2 +7 %: more
weights in flight early take DRAM bandwidth from the transfers the first layers
wait for), and so did steps of 1 % between 0.8 and 0.75 later (Inception v2 +1.2 %,
Inception v1 +0.4 %); 0.75 and 0.7 were added where 0.8 does not fit (Inception v1
with ragged-pools fell back to 0.65 at 299,845 cycles, 279,947 with 0.75), and
steps of 1 % below 0.75, where the placement fails by a few gaps: with
im2col-reuse, Inception v1 fell back from 0.75 to 0.7 at 288,475 cycles and places
at 0.74 at 280,734 (ResNet-50 510,580 -> 509,833, the other zoo models
unchanged)."""


def fill_ahead(
    fn: func.FuncOp,
    chip: ChipConfig,
    lifetimes: list[tuple[loop.AllocTileOp, int, int, int]],
    margin: float,
) -> tuple[list[tuple[loop.AllocTileOp, int, int, int]], frozenset[int]]:
    """`lifetimes` (without prefetch) with each weight tile's start moved back, nest
    by nest, as far as the SBUF bytes live at every position it passes, counting the
    weight tiles moved before it, stay within `margin` of a partition. Earlier
    layers' weights go first, so the weight queue streams them in the order they
    are used, each as far ahead as SBUF holds it: the few big layers where SBUF is
    tight hold back only the weights that would pass them, not every layer's. Also
    the id()s of the tiles moved, which `_place_tiles` puts in the highest gaps."""
    block = fn.body.block
    ops = list(block.ops)
    nests = [i for i, op in enumerate(ops) if isinstance(op, loop.NestOp)]
    rank = {pos: k for k, pos in enumerate(nests)}
    # SBUF bytes per partition live at each position: each tile adds its size from
    # its first position and takes it off after its last (prefix sums, linear in
    # the tiles and positions however long they live: 2,000 ReLUs into one Sum).
    change = [0] * (len(ops) + 1)
    sizes: dict[int, int] = {}
    for op, first, _, longer in lifetimes:
        if op.result.type.space.data == "sbuf":
            sizes[id(op)] = aligned(op.result.type.bytes_per_partition)
            change[first] += sizes[id(op)]
            change[longer + 1] -= sizes[id(op)]
    used = list(itertools.accumulate(change[:-1]))
    cap = margin * chip.sbuf_partition_bytes
    out: list[tuple[loop.AllocTileOp, int, int, int]] = []
    moved: set[int] = set()
    for op, first, last, longer in lifetimes:
        size = sizes.get(id(op))
        if size is not None and first in rank and _weight_tile(op):
            k, start = rank[first], first
            while k > 0 and all(used[pos] + size <= cap for pos in range(nests[k - 1], start)):
                k, start = k - 1, nests[k - 1]
            for pos in range(start, first):
                used[pos] += size
            if start < first:
                moved.add(id(op))
            first = start
        out.append((op, first, last, longer))
    # By start; among equal starts the tiles that stay in walk order, then the moved
    # ones (placed from the top down) the longest-lived first, so the first to die
    # lie lowest and their bytes join the free ones below when they do.
    out.sort(key=lambda t: (t[1], id(t[0]) in moved, -t[2] if id(t[0]) in moved else 0))
    return out, frozenset(moved)


def _allocate_tiles(
    fn: func.FuncOp,
    chip: ChipConfig,
    *,
    overlap: bool,
    prefetch: bool = False,
    fill: bool = False,
    rotate: bool = False,
) -> None:
    """Give every tile an SBUF or PSUM region (`_place_tiles`); with `prefetch`,
    weight tiles reserved ahead: with `fill`, each as far as SBUF holds it
    (`fill_ahead`, FILL_MARGINS), else (or when no margin fits) as many nests ahead
    as fits for all (PREFETCH_DISTANCES)."""
    if prefetch and fill:
        base = tile_lifetimes(fn, overlap=overlap)
        for margin in FILL_MARGINS:
            lifetimes, moved = fill_ahead(fn, chip, base, margin)
            for high in (moved, frozenset()):
                try:
                    _place_tiles(fn, chip, lifetimes, high, rotate)
                    return
                except PassFailedException:
                    continue
    for distance in PREFETCH_DISTANCES if prefetch else (0,):
        try:
            _place_tiles(
                fn, chip, tile_lifetimes(fn, overlap=overlap, prefetch=distance), rotate=rotate
            )
            return
        except PassFailedException:
            if distance == 0:
                raise


def _place_tiles(
    fn: func.FuncOp,
    chip: ChipConfig,
    lifetimes: list[tuple[loop.AllocTileOp, int, int, int]],
    high: frozenset[int] = frozenset(),
    rotate: bool = False,
) -> None:
    """Give every tile an SBUF or PSUM region, over lifetimes in top-level positions
    (`tile_lifetimes`): each tile the longer one where it fits, else its own; when
    a tile placed later does not fit, the tiles whose longer lifetimes reach its
    start take their own and the placement starts over. The tiles whose id() is in
    `high` take the highest gaps (weights reserved far ahead: the lowest would leave
    holes below them when the tiles under them die)."""
    own: set[int] = set()  # id() of the tiles that keep their own lifetime
    while True:
        tiles = _Tiles(chip, rotate)
        placed: list[tuple[loop.AllocTileOp, int]] = []
        try:
            for op, first, last, longer in lifetimes:
                at = first
                placed.append(
                    (op, tiles.place(op, first, last, last if id(op) in own else longer, id(op) in high))
                )
            break
        except PassFailedException:
            # Tiles that took longer lifetimes may hold the bytes a tile placed
            # later needs (a kept tensor): those live at its start keep their own.
            # When there are none, those live at the start of a tile still in
            # place there, which they may have pushed up (VGG-19: a kept tensor
            # placed above the tiles of the nest before it, which outlived it).
            culprits = {
                id(op)
                for op, first, last, longer in lifetimes
                if last < at <= longer and id(op) not in own
            }
            if not culprits:
                starts = {r.first for r in (*tiles.sbuf.live, *tiles.psum.live)}
                culprits = {
                    id(op)
                    for op, first, last, longer in lifetimes
                    if id(op) not in own and any(last < p <= longer for p in starts)
                }
            if not culprits:
                raise
            own |= culprits
    for op, addr in placed:
        op.attributes[ADDR] = _addr_attr(addr)


@dataclass(frozen=True)
class LoopAllocatePass(ChipPass):
    """Record DRAM addresses and SBUF/PSUM regions as `tidal.addr` attributes."""

    name = "loop-allocate"

    overlap: bool = True
    """Keep a nest's tiles apart from the next nest's (see `tile_lifetimes`), each
    tile where it fits that way."""

    prefetch: bool = True
    """Reserve the tiles that hold weights some nests ahead of their own, as many as
    fit (`tile_lifetimes`, PREFETCH_DISTANCES), so their loads run ahead."""

    fill: bool = True
    """With `prefetch`: each weight tile as far ahead as SBUF holds it, earlier
    layers' first (`fill_ahead`), instead of one distance for every tile."""

    rotate: bool = True
    """Each PSUM accumulator from the end of the last one placed, wrapping round the
    partition (`LinearScan._rotated`), instead of from 0."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        expect_level(op, self.name, "loop")
        chip = self.chip_config()
        funcs = [f for f in op.body.block.ops if isinstance(f, func.FuncOp)]
        if len(funcs) != 1:
            raise PassInputError(
                f"loop-allocate: expects one func.func, found {len(funcs)}",
                funcs[1] if funcs else op,
            )
        fn = funcs[0]
        dram_bytes = _allocate_dram(fn, chip)
        _allocate_tiles(
            fn,
            chip,
            overlap=self.overlap,
            prefetch=self.prefetch,
            fill=self.fill,
            rotate=self.rotate,
        )
        fn.attributes[CHIP] = StringAttr(chip.name)
        fn.attributes[DRAM_BYTES] = _addr_attr(dram_bytes)

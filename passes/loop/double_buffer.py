"""loop-double-buffer: give the tiles a loop fills afresh in every iteration a second
buffer, so that iteration i + 1 fills one while iteration i still reads the other.

Expects loop nests before loop-allocate. A tile of a nest is *private* to the
innermost loop F that holds all its uses when, in every iteration of F, the first op
that touches it writes all of it without reading it (a copy, ACT, POOL op or memset
whose access covers the whole tile with a constant pattern, or a matmul that starts
a fresh sum there); nothing then flows from one iteration of F to the next through
it. Every loop over that dimension d of trip count n is unrolled by two: its body
runs for iterations 2j (the tiles as they are) and 2j + 1 (each tile private to that
loop replaced by its second buffer), the nest's domain gives d n // 2 iterations, an
access that steps s along d steps 2s (plus s in the odd copy), and an odd n gets a
last copy of the body after the loop for iteration n - 1 (first buffers, no step
along d; not done where a loop over d holds another loop, which would then sit at
the wrong depth: there, with `odd` and n at most MAX_ODD_UNROLL, the loop is unrolled
whole instead, n copies of the body for iterations k = 0 .. n - 1, the odd ones on
the second buffers, and d keeps one iteration). A matmul whose fresh sum starts where
d is 0 keeps that in the first copy only. The second buffers must fit beside everything else: the pass places every
nest's tiles as loop-allocate will (`LinearScan`, without the overlap of nests) and
doubles only a nest's SBUF tiles where its PSUM accumulators do not fit twice, and
leaves a nest as it was where neither fits. With `crossing`, a tile only one
engine touches (an ACT result ACT reads again, a pooling's running sum on POOL)
keeps one buffer: that engine runs its instructions in order, so a second buffer
would let nothing overlap, and would only take SBUF from the other tiles and from
the weights loop-allocate reserves ahead.

Same-engine order no longer serialises a loop's iterations through such a tile:
accel-insert-sync then makes iteration 2j + 1's load wait for the reader of
iteration 2j - 1 only, so loads run ahead of compute by one iteration.

    loop.nest "relu" domain [4] order [0] {
      %t = loop.alloc_tile : !loop.tile<sbuf, 32, 8>
      %r = loop.alloc_tile : !loop.tile<sbuf, 32, 8>
      loop.for d0 {
        loop.copy %x <dram 0 + 32 * i0, ...> -> %t <sbuf 0, 0, ...>
        loop.act "relu" %r <sbuf 0, 0, ...>, %t <sbuf 0, 0, ...>
        loop.copy %r <sbuf 0, 0, ...> -> %y <dram 0 + 32 * i0, ...>
      }
    }
  becomes
    loop.nest "relu" domain [2] order [0] {
      %t = loop.alloc_tile ...
      %r = loop.alloc_tile ...
      %t2 = loop.alloc_tile ...
      %r2 = loop.alloc_tile ...
      loop.for d0 {
        loop.copy %x <dram 0 + 64 * i0, ...> -> %t <sbuf 0, 0, ...>
        ... (%t, %r)
        loop.copy %x <dram 32 + 64 * i0, ...> -> %t2 <sbuf 0, 0, ...>
        ... (%t2, %r2)
      }
    }
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from tidal.dialects import loop
from tidal.dialects.accel import AccessAttr, Aff, AffAttr
from tidal.passes.analysis.nest_cost import engine_of
from tidal.passes.loop.allocate import _Tiles, tile_lifetimes
from tidal.passes.utils.chip import ChipPass
from tidal.passes.utils.expect import expect_level
from tidal.sim.config import ChipConfig
from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import DenseArrayBase, ModuleOp, i64
from xdsl.ir import Block, Operation, SSAValue
from xdsl.utils.exceptions import PassFailedException

_OVERWRITES = (
    loop.CopyOp, loop.ActOp, loop.TensorTensorOp, loop.MemsetOp, loop.RandomOp, loop.DropoutOp,
    loop.BernoulliOp,
)
# Per domain dim to unroll, each loop over it and the tiles private to that loop.
Plan = dict[int, dict[loop.ForOp, list[loop.AllocTileOp]]]


def _loops_of(op: Operation, nest: loop.NestOp) -> list[loop.ForOp]:
    """The loops around `op` inside `nest`, outermost first."""
    out: list[loop.ForOp] = []
    parent = op.parent_op()
    while parent is not None and parent is not nest:
        if isinstance(parent, loop.ForOp):
            out.append(parent)
        parent = parent.parent_op()
    return out[::-1]


def _in_order(block: Block) -> Iterator[Operation]:
    """The ops of `block` and of the loops in it, in program order."""
    for op in block.ops:
        yield op
        if isinstance(op, loop.ForOp):
            yield from _in_order(op.body.block)


def _dense_box(ap: AccessAttr) -> tuple[int, int, int, int] | None:
    """(first partition, end partition, first element, end element) of the block
    that a write `ap` fills, the same in every iteration; None unless its pstart and
    offset are constants and its free dims one contiguous run."""
    if not (ap.pstart.is_const and ap.offset.is_const) or ap.offset.base % 4:
        return None
    size = 1
    for stride, count in sorted(d for d in ap.dims[1:] if d[1] > 1):
        if stride != size:
            return None
        size *= count
    p0, f0 = ap.pstart.base, ap.offset.base // 4
    return p0, p0 + ap.pcount, f0, f0 + size


def _covers(ap: AccessAttr, tile: loop.TileType) -> bool:
    """Does `ap` touch every element of `tile`, the same ones in every iteration?"""
    return _dense_box(ap) == (0, tile.partitions.data, 0, tile.bytes_per_partition // 4)


def _fresh_write(op: Operation, tile: SSAValue, inside: list[loop.ForOp]) -> bool:
    """Does `op`, the first toucher of `tile` in an iteration of a loop, write all of
    it without reading it, every time it first runs in that iteration? `inside`:
    the loops around `op` within that loop."""
    if not isinstance(op, loop.TileOp):
        return False
    writes = [ap for role, v, ap in op.accesses() if v == tile and role == "write"]
    reads = [ap for role, v, ap in op.accesses() if v == tile and role != "write"]
    if reads or len(writes) != 1 or not _covers(writes[0], tile.type):
        return False
    if isinstance(op, _OVERWRITES):
        return True
    if isinstance(op, loop.MatmulOp) and op.zero_at is not None:
        d = op.zero_at.value.data
        return d < 0 or any(f.dim.value.data == d for f in inside)
    return False


def _span(a: Aff, domain: tuple[int, ...]) -> tuple[int, int]:
    """The least and greatest value of `a` over the nest's domain."""
    lo = hi = a.base
    for k, step in enumerate(a.steps):
        reach = step * (domain[k] - 1)
        lo, hi = lo + min(0, reach), hi + max(0, reach)
    return lo, hi


def _bounding_box(ap: AccessAttr, domain: tuple[int, ...]) -> tuple[int, int, int, int] | None:
    """The box of partitions and elements `ap` may touch in any iteration, as
    `_dense_box` gives it; None for a negative stride."""
    if any(stride < 0 for stride, _ in ap.dims[1:]):
        return None
    plo, phi = _span(ap.pstart, domain)
    olo, ohi = _span(ap.offset, domain)
    reach = sum(stride * (count - 1) for stride, count in ap.dims[1:])
    return plo, phi + ap.pcount, olo // 4, ohi // 4 + reach + 1


def _inside(box: tuple[int, int, int, int], blocks: list[tuple[int, int, int, int]]) -> bool:
    """Does the union of `blocks` hold every element of `box`?"""
    p0, p1, f0, f1 = box
    for p in range(p0, p1):
        reach = f0
        for _, _, b0, b1 in sorted(b for b in blocks if b[0] <= p < b[1]):
            if b0 > reach:
                break
            reach = max(reach, b1)
        if reach < f1:
            return False
    return True


def _written_before_read(tile: loop.AllocTileOp, common: loop.ForOp, nest: loop.NestOp) -> bool:
    """`partial`'s test of an SBUF tile whose first toucher fills only part of it
    (a row-taps band: one load per copy, each on its own partitions): do the
    writes that open every iteration of `common`, before anything reads the tile,
    each fill a fixed dense block, and do those blocks hold everything the tile's
    readers may read (`_bounding_box`)? Nothing then flows from one iteration to
    the next through the tile. (Measured: also counting writes that come between
    reads, as each evacuation of an output tile does, VGG-19 ran 0.35 % slower,
    its output tiles doubled and fewer weights reserved ahead.)"""
    if tile.result.type.space.data != "sbuf":
        return False
    users = {u.operation for u in tile.result.uses}
    if not all(isinstance(o, loop.TileOp) for o in users):  # (a view's readers are not seen)
        return False
    ops = [o for o in _in_order(common.body.block) if o in users]
    blocks: list[tuple[int, int, int, int]] = []
    for op in ops:
        touches = [(role, ap) for role, v, ap in op.accesses() if v == tile.result]
        box = _dense_box(touches[0][1]) if len(touches) == 1 and touches[0][0] == "write" else None
        if not isinstance(op, _OVERWRITES) or box is None:
            break
        blocks.append(box)
    if not blocks:
        return False
    domain = nest.domain_val
    for op in ops[len(blocks) :]:
        for role, v, ap in op.accesses():
            if v == tile.result and role != "write":
                box = _bounding_box(ap, domain)
                if box is None or not _inside(box, blocks):
                    return False
    return True


def _private_loop(tile: loop.AllocTileOp, nest: loop.NestOp, partial: bool = False) -> loop.ForOp | None:
    """The innermost loop holding every use of `tile` if the tile is private to it
    (module docstring; with `partial`, also by `_written_before_read`), else
    None."""
    uses = [u.operation for u in tile.result.uses]
    if not uses:
        return None
    paths = [_loops_of(u, nest) for u in uses]
    common: loop.ForOp | None = None
    for level in zip(*paths):
        if any(f is not level[0] for f in level):
            break
        common = level[0]
    if common is None:
        return None
    users = set(uses)
    first = next(o for o in _in_order(common.body.block) if o in users)
    inside = _loops_of(first, nest)
    inside = inside[inside.index(common) + 1 :]
    if _fresh_write(first, tile.result, inside):
        return common
    return common if partial and _written_before_read(tile, common, nest) else None


def _shifted(a: Aff, dim: int, scale: int, add: int) -> Aff:
    """`a` with i_dim replaced by scale * i_dim + add."""
    s = a.step(dim)
    if not s:
        return a
    steps = [a.step(k) for k in range(max(a.depth, dim + 1))]
    steps[dim] = s * scale
    return Aff(a.base + s * add, tuple(steps))


def _retarget(op: Operation, dim: int, scale: int, add: int, even: bool) -> None:
    """Rewrite the accesses of `op` and the ops inside it for i_dim = scale * i_dim
    + add; a matmul's fresh sum at dim stays only where `even`."""
    for inner in op.walk():
        if not isinstance(inner, loop.TileOp):
            continue
        for name, attr in list(inner.properties.items()):
            if isinstance(attr, AccessAttr):
                inner.properties[name] = AccessAttr(
                    attr.space_attr,
                    AffAttr(_shifted(attr.pstart, dim, scale, add)),
                    AffAttr(_shifted(attr.offset, dim, scale, add)),
                    attr.dims_attr,
                )
        if (
            isinstance(inner, loop.MatmulOp)
            and inner.zero_at is not None
            and inner.zero_at.value.data == dim
            and not even
        ):
            del inner.properties["zero_at"]


def _unroll(
    nest: loop.NestOp, dim: int, private: dict[loop.ForOp, list[loop.AllocTileOp]]
) -> None:
    """Unroll every loop of `nest` over `dim` by two, or, for an odd trip count the
    pass may not leave a last iteration after (`_factor`), by the whole trip count
    (module docstring); the tiles `private` to a loop get second buffers in its odd
    copies."""
    n = nest.domain_val[dim]
    factor = _factor(nest, dim)
    block = nest.body.block
    seconds: dict[SSAValue, SSAValue] = {}
    for tiles in private.values():
        for t in tiles:
            second = t.clone()
            block.insert_op_after(second, t)
            seconds[t.result] = second.result
    loops = [
        f for f in nest.walk() if isinstance(f, loop.ForOp) and f.dim.value.data == dim
    ]
    for f in loops:
        body = f.body.block
        originals = list(body.ops)
        mapper = {t.result: seconds[t.result] for t in private.get(f, [])}
        copies = [
            [o.clone(value_mapper=dict(mapper) if k % 2 else None) for o in originals]
            for k in range(1, factor)
        ]
        tail = [o.clone() for o in originals] if n % factor else []
        for o in originals:
            _retarget(o, dim, factor, 0, even=True)
        for k, copy in enumerate(copies, start=1):
            for o in copy:
                _retarget(o, dim, factor, k, even=False)
                body.add_op(o)
        for o in tail:
            _retarget(o, dim, 0, n - 1, even=False)
        parent = f.parent_block()
        assert parent is not None
        parent.insert_ops_after(tail, f)
    domain = list(nest.domain_val)
    domain[dim] = n // factor
    nest.domain = DenseArrayBase.from_list(i64, domain)


MAX_ODD_UNROLL = 7
"""The largest odd trip count `odd` unrolls whole (that many copies of the body)."""


def _holds_loops(nest: loop.NestOp, dim: int) -> bool:
    """Does a loop of `nest` over `dim` hold another loop?"""
    return any(
        isinstance(inner, loop.ForOp) and inner is not f
        for f in nest.walk()
        if isinstance(f, loop.ForOp) and f.dim.value.data == dim
        for inner in f.walk()
    )


def _factor(nest: loop.NestOp, dim: int) -> int:
    """How many copies of the body `_unroll` makes along `dim`: two, but the whole
    trip count when it is odd and a loop over `dim` holds another loop (the last
    iteration of an odd trip count runs after the loop, one level up, where a loop
    inside it would sit at a depth whose dimension is another)."""
    n = nest.domain_val[dim]
    return n if n % 2 and _holds_loops(nest, dim) else 2


def _crosses_engines(tile: loop.AllocTileOp) -> bool:
    """Do the ops that touch `tile` run on more than one engine class (a DMA queue
    counting as `dma`)?"""
    engines = {engine_of(u.operation) for u in tile.result.uses if isinstance(u.operation, loop.TileOp)}
    return len(engines) > 1


def _plan(nest: loop.NestOp, odd: bool = True, crossing: bool = False, partial: bool = False) -> Plan:
    """Per domain dim, the loops over it and the tiles private to each (with
    `crossing`, only those that two engines touch). An odd trip count whose loop
    holds another loop is unrolled whole when `odd` and it is at most
    MAX_ODD_UNROLL, else left alone."""
    out: Plan = {}
    domain = nest.domain_val
    for t in nest.body.block.ops:
        if not isinstance(t, loop.AllocTileOp):
            continue
        if crossing and not _crosses_engines(t):
            continue
        f = _private_loop(t, nest, partial)
        if f is not None and domain[f.dim.value.data] >= 2:
            out.setdefault(f.dim.value.data, {}).setdefault(f, []).append(t)
    for dim in list(out):
        if domain[dim] % 2 and _holds_loops(nest, dim):
            if not odd or domain[dim] > MAX_ODD_UNROLL:
                del out[dim]
    return out


def _only(plan: Plan, space: str) -> Plan:
    """`plan` restricted to the tiles in `space` (loops and dims left without one
    dropped)."""
    out: Plan = {}
    for dim, loops in plan.items():
        for f, tiles in loops.items():
            kept = [t for t in tiles if t.result.type.space.data == space]
            if kept:
                out.setdefault(dim, {})[f] = kept
    return out


def double_buffer(nest: loop.NestOp, plan: Plan) -> None:
    """Double-buffer the tiles of `nest` that `plan` (`_plan`) names."""
    # Inner loops first: an outer loop's copies then hold them unrolled already.
    order = nest.order_val
    for dim in sorted(plan, key=lambda d: -order.index(d)):
        _unroll(nest, dim, plan[dim])


Lifetimes = list[tuple[loop.AllocTileOp, int, int, int]]


def _fits(
    fn: func.FuncOp, chip: ChipConfig, doubled: set[loop.AllocTileOp], lifetimes: Lifetimes | None = None
) -> bool:
    """Would every tile of `fn` fit, placed as loop-allocate places them (without
    the overlap of nests), with a second buffer right after each tile of
    `doubled`? `lifetimes`: `tile_lifetimes(fn, overlap=False)` when the caller
    has it (doubling a tile does not move any tile's lifetime, and computing them
    is most of the cost: ResNet-50 asks 40 times)."""
    tiles = _Tiles(chip)
    if lifetimes is None:
        lifetimes = tile_lifetimes(fn, overlap=False)
    try:
        for op, first, last, _ in lifetimes:
            for _ in range(2 if op in doubled else 1):
                tiles.place(op, first, last)
    except PassFailedException:
        return False
    return True


@dataclass(frozen=True)
class LoopDoubleBufferPass(ChipPass):
    """Give the tiles a loop fills afresh every iteration a second buffer, unrolling
    the loop by two, where the chip's SBUF and PSUM hold them."""

    name = "loop-double-buffer"

    odd: bool = True
    """Also double-buffer along an odd trip count (at most MAX_ODD_UNROLL) whose
    loop holds another loop, by unrolling it whole: a conv's 3 output-channel tiles
    accumulating in alternate PSUM buffers. False: leave such a dimension alone."""

    crossing: bool = True
    """Only tiles that two engines touch get a second buffer (module docstring).
    False: every private tile that fits."""

    partial: bool = True
    """Also an SBUF tile that several writes fill between them before anything reads
    it in an iteration, each its own fixed block (a row-taps band: one load per
    copy), when those blocks hold everything its readers read
    (`_written_before_read`). False: only a tile whose first toucher fills it all."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        expect_level(op, self.name, "loop")
        chip = self.chip_config()
        for fn in [f for f in op.body.block.ops if isinstance(f, func.FuncOp)]:
            self.run(fn, chip)

    def run(self, fn: func.FuncOp, chip: ChipConfig) -> None:
        lifetimes = tile_lifetimes(fn, overlap=False)
        if not _fits(fn, chip, set(), lifetimes):
            return  # loop-allocate reports it
        # Nest by nest, in program order: a nest's second buffers are kept if every
        # tile still fits with them and those of the nests kept before it.
        doubled: set[loop.AllocTileOp] = set()
        plans: list[tuple[loop.NestOp, Plan]] = []
        for nest in [n for n in fn.body.block.ops if isinstance(n, loop.NestOp)]:
            whole = _plan(nest, self.odd, self.crossing, self.partial)
            # Every private tile, else the SBUF ones only (PSUM has few banks).
            for plan in (whole, _only(whole, "sbuf")):
                tiles = {t for loops in plan.values() for ts in loops.values() for t in ts}
                if tiles and _fits(fn, chip, doubled | tiles, lifetimes):
                    doubled |= tiles
                    plans.append((nest, plan))
                    break
        for nest, plan in plans:
            double_buffer(nest, plan)

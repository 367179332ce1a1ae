"""loop-hoist-loads: a load of a constant that a loop repeats unchanged in every
iteration runs once, before the loop (loop-invariant code motion of loads).

Expects loop nests before loop-double-buffer. A `loop.copy` directly in a loop's body
whose source is a `loop.const` (weights, biases) and whose source and destination
accesses do not move with the loop's dimension writes the same bytes into the same
tile in every iteration: a conv whose input does not fit SBUF, loaded band by band,
loads its weight tile again for every band (VGG-19's first convs, 7 bands; a
row-taps conv's weights, one copy per tap group), and each reload waits for the band
before to finish reading the tile, then holds the next band's matmuls back by a
descriptor's latency. The copy moves to just before the loop when

- nothing else in the loop writes the tile (other such copies of it move too, in
  their order), and
- nothing in the loop reads the tile before the last of them (so no iteration read
  what an earlier one or the nest before the loop left there).

Then every iteration reads what the first one read. A copy that moves out of one
loop may move out of the loop around it in turn. Constants never change, so the
bytes are those the loop loaded; nothing moves a copy of a value a nest computes.

    loop.nest "conv" domain [7] order [0] {
      %w = loop.alloc_tile : !loop.tile<sbuf, 64, 576>
      loop.for d0 {
        loop.copy %cw <dram 0, [[9, 64], [1, 576]]> -> %w <sbuf 0, 0, [[1, 64], [1, 576]]>
        loop.copy %x <dram 0 + 28928 * i0, ...> -> %band <...>
        loop.matmul ... %w ... %band ...
  becomes
    loop.nest "conv" domain [7] order [0] {
      %w = loop.alloc_tile : !loop.tile<sbuf, 64, 576>
      loop.copy %cw <dram 0, [[9, 64], [1, 576]]> -> %w <sbuf 0, 0, [[1, 64], [1, 576]]>
      loop.for d0 {
        loop.copy %x <dram 0 + 28928 * i0, ...> -> %band <...>
        loop.matmul ... %w ... %band ...
"""

from __future__ import annotations

from dataclasses import dataclass

from tidal.dialects import loop
from tidal.passes.utils.expect import expect_level
from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass


def _invariant_load(op: Operation, dim: int) -> bool:
    """Is `op` a copy of a constant into a tile whose accesses do not move with `dim`?"""
    if not isinstance(op, loop.CopyOp):
        return False
    if not isinstance(op.src.owner, loop.ConstOp) or not isinstance(op.dst.owner, loop.AllocTileOp):
        return False
    return all(ap.pstart.step(dim) == 0 and ap.offset.step(dim) == 0 for ap in (op.src_ap, op.dst_ap))


def _touches(op: Operation, tile: SSAValue) -> tuple[bool, bool]:
    """(reads, writes) of `tile` by `op` (an op that is not a tile op touches nothing)."""
    if not isinstance(op, loop.TileOp):
        return False, False
    roles = [role for role, value, _ in op.accesses() if value == tile]
    return any(r != "write" for r in roles), "write" in roles


def hoistable(f: loop.ForOp) -> list[loop.CopyOp]:
    """The copies directly in `f`'s body that may run once before it (module
    docstring), in program order."""
    dim = f.dim.value.data
    at = {op: i for i, op in enumerate(f.body.block.walk())}  # program order
    candidates = [op for op in f.body.block.ops if _invariant_load(op, dim)]
    out: list[loop.CopyOp] = []
    for tile in dict.fromkeys(c.dst for c in candidates):
        mine = [c for c in candidates if c.dst == tile]
        last = max(at[c] for c in mine)
        clear = True
        for op, i in at.items():
            reads, writes = _touches(op, tile)
            if (writes and op not in mine) or (reads and i < last):
                clear = False
                break
        if clear:
            out += mine
    return sorted(out, key=at.__getitem__)


def hoist_loads(nest: loop.NestOp) -> int:
    """Move `nest`'s invariant constant loads out of their loops, innermost loops
    first, until none moves; the number of moves."""
    moved = 0
    while True:
        loops = [op for op in nest.walk() if isinstance(op, loop.ForOp)]
        step = 0
        for f in reversed(loops):  # inner loops come after their outer ones in a walk
            parent = f.parent_block()
            assert parent is not None
            for c in hoistable(f):
                c.detach()
                parent.insert_op_before(c, f)
                step += 1
        if not step:
            return moved
        moved += step


@dataclass(frozen=True)
class LoopHoistLoadsPass(ModulePass):
    """Run a load of a constant that a loop repeats unchanged once, before the loop."""

    name = "loop-hoist-loads"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        expect_level(op, self.name, "loop")
        for fn in [f for f in op.body.block.ops if isinstance(f, func.FuncOp)]:
            for nest in [n for n in fn.body.block.ops if isinstance(n, loop.NestOp)]:
                hoist_loads(nest)

"""Building `loop.nest` ops: named dimensions, tiles, and ops placed at loop levels.

Kernels (see `graph_ops.py`) describe a nest by naming its dimensions outermost first,
allocating tiles and putting ops *inside* a dimension's loop (before or after the
next inner loop). Dimensions with trip count 1 are dropped, so a nest only has loops
that iterate; an access that steps along a dropped dimension simply has no step.
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.ir import Operation, SSAValue

from tidal.dialects.accel import AccessAttr, Aff
from tidal.dialects.loop import AllocTileOp, ForOp, NestOp
from tidal.sim.config import ChipConfig

F32 = 4  # bytes per element
TILE_ALIGN_BYTES = 64  # every DRAM buffer and on-chip tile starts on this boundary
# Largest free size of one element-wise / pooling tile, in elements per partition.
FREE_MAX = 2048


def psum_free_max(chip: ChipConfig) -> int:
    """The most fp32 elements per partition one matmul can stream into one PSUM bank."""
    return min(chip.matmul_moving_max, chip.psum_bank_bytes // F32)


def tile_ap(
    dst: SSAValue, space: str, nest: Nest, parts: int, free: Sequence[tuple[int, int]], offset: int = 0
) -> AccessAttr:
    """The access to `parts` partitions of tile `dst` (from partition 0) with free
    dims `free` (element step, count), starting `offset` bytes in."""
    return nest.onchip(space, offset, [(1, parts), *free])


def aligned(nbytes: int) -> int:
    return (nbytes + TILE_ALIGN_BYTES - 1) // TILE_ALIGN_BYTES * TILE_ALIGN_BYTES


def largest_divisor(n: int, limit: int) -> int:
    """The largest divisor of n that is <= limit: tiles are uniform, so a repeat's
    address steps stay affine."""
    for d in range(min(n, limit), 0, -1):
        if n % d == 0:
            return d
    return 1


def thin(count: int, limit: int, slack: int) -> bool:
    """Whether tiling `count` by its largest divisor up to `limit` takes more than
    `slack` times the fewest tiles, ceil(count / limit) (163 over 128 partitions:
    163 tiles of one, not 2): what graph-pad-channels widens and ragged_rows splits."""
    return count // largest_divisor(count, limit) > slack * -(-count // limit)


class Nest:
    """A loop nest under construction."""

    def __init__(self, origin: str, dims: Sequence[tuple[str, int]]):
        self.origin = origin
        self.all_dims = list(dims)
        self.kept = [(name, trip) for name, trip in dims if trip > 1]
        self.index = {name: i for i, (name, _) in enumerate(self.kept)}
        self.tiles: list[Operation] = []
        self.pre: dict[int, list[Operation]] = {}
        self.post: dict[int, list[Operation]] = {}

    # -- addresses ---------------------------------------------------------------

    def aff(self, base: int = 0, **coeffs: int) -> Aff:
        """base + sum(coeff * dim) over the named dims (trip-1 dims contribute 0)."""
        steps = [0] * len(self.kept)
        for name, coeff in coeffs.items():
            if name in self.index:
                steps[self.index[name]] += coeff
        return Aff(base, tuple(steps))

    def dram(self, offset: Aff | int, dims: Sequence[tuple[int, int]]) -> AccessAttr:
        return AccessAttr.get("dram", 0, offset, dims)

    def onchip(
        self, space: str, offset: Aff | int, dims: Sequence[tuple[int, int]], pstart: int = 0
    ) -> AccessAttr:
        return AccessAttr.get(space, pstart, offset, dims)

    # -- tiles and ops -------------------------------------------------------------

    def tile(self, space: str, partitions: int, elems: int) -> SSAValue:
        op = AllocTileOp(space, partitions, elems)
        self.tiles.append(op)
        return op.result

    def level(self, dim: str | None) -> int:
        """Loop depth of an op placed inside the loop of `dim` (None: the nest top)."""
        if dim is None:
            return 0
        names = [name for name, _ in self.all_dims]
        pos = names.index(dim)
        return sum(1 for name, trip in self.all_dims[: pos + 1] if trip > 1)

    def put(self, dim: str | None, *ops: Operation) -> None:
        """Place ops inside `dim`'s loop, before the next inner loop."""
        self.pre.setdefault(self.level(dim), []).extend(ops)

    def put_after(self, dim: str | None, *ops: Operation) -> None:
        """Place ops inside `dim`'s loop, after the next inner loop."""
        self.post.setdefault(self.level(dim), []).extend(ops)

    def zero_at(self, dim: str) -> int:
        """The loop-level `zero_at` for a reduction over `dim`: its domain index, or
        -1 (start every time) when the dimension does not iterate."""
        return self.index.get(dim, -1)

    def build(self) -> NestOp:
        depth = len(self.kept)
        body: list[Operation] = self.pre.get(depth, []) + self.post.get(depth, [])
        for level in range(depth - 1, -1, -1):
            body = (
                self.pre.get(level, [])
                + [ForOp(level, body)]
                + self.post.get(level, [])
            )
        return NestOp(
            self.origin,
            [trip for _, trip in self.kept],
            list(range(depth)),
            self.tiles + body,
        )

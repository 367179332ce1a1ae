"""Data movement nests: copies between DRAM buffers by access pattern (transposes,
concatenation slices). No engine computes; each DMA goes DRAM to DRAM.

A copy is an iteration space (row-major) with an element stride per dim on each
side. Dims that both sides walk contiguously are merged, so a transpose of a
[1, 4, 28, 56, 56] tensor to [1, 28, 4, 56, 56] is one DMA of three dims. Dims beyond
what one access holds become loops of the nest, outermost first; so do leading dims
of a copy larger than `DMA_ELEMS_MAX`, which keeps each DMA a bounded unit of work
the scheduler can overlap, the innermost of them in blocks of as many of its steps as
one DMA holds (a slice of a [12, 196, 198] product to 197 columns: 2 DMAs of 1,176
rows, not 2,352 of one).
"""

from __future__ import annotations

from collections.abc import Sequence
from math import prod

from xdsl.ir import SSAValue

from tidal.dialects.accel import MAX_DIMS
from tidal.dialects.loop import CopyOp, NestOp
from tidal.passes.conversion.kernels.eltwise import coalesce
from tidal.passes.conversion.kernels.nest_builder import F32, Nest, largest_divisor

DMA_ELEMS_MAX = 1 << 18


def contiguous_strides(shape: Sequence[int]) -> list[int]:
    return [prod(shape[i + 1 :]) for i in range(len(shape))]


def dram_copy(
    origin: str,
    src: SSAValue,
    dst: SSAValue,
    sizes: Sequence[int],
    src_strides: Sequence[int],
    dst_strides: Sequence[int],
    *,
    src_offset: int = 0,
    dst_offset: int = 0,
) -> NestOp:
    """dst[i...] = src[i...] over the iteration space `sizes`; strides in elements,
    offsets in bytes."""
    dims, (dst_st, src_st) = coalesce(sizes, [list(dst_strides), list(src_strides)])
    split = 0
    while len(dims) - split > MAX_DIMS or (
        prod(dims[split:]) > DMA_ELEMS_MAX and len(dims) - split > 1
    ):
        split += 1
    if split and len(dims) - split < MAX_DIMS:
        # The innermost looped dim in blocks of as many of its steps as one DMA holds
        # (a slice of [2352, 198] rows to [2352, 197]: 2 DMAs of 1,176 rows, not
        # 2,352 of one row, each paying a descriptor's fixed latency).
        d = dims[split - 1]
        block = largest_divisor(d, max(1, DMA_ELEMS_MAX // prod(dims[split:])))
        if block > 1:
            dims = [*dims[: split - 1], d // block, block, *dims[split:]]
            dst_st, src_st = (
                [*st[: split - 1], st[split - 1] * block, st[split - 1], *st[split:]]
                for st in (dst_st, src_st)
            )
    loops = [(f"l{i}", dims[i]) for i in range(split)]
    nest = Nest(origin, loops)

    def access(strides: list[int], offset: int):
        base = nest.aff(offset, **{f"l{i}": strides[i] * F32 for i in range(split)})
        return nest.dram(base, list(zip(strides[split:], dims[split:], strict=True)))

    copy = CopyOp(src, access(src_st, src_offset), dst, access(dst_st, dst_offset))
    nest.put(loops[-1][0] if loops else None, copy)
    return nest.build()


def transpose(
    origin: str, x: SSAValue, y: SSAValue, in_shape: Sequence[int], perm: Sequence[int]
) -> NestOp:
    """y = x.transpose(perm): a strided read, a contiguous write."""
    in_strides = contiguous_strides(in_shape)
    out_shape = [in_shape[p] for p in perm]
    return dram_copy(
        origin, x, y, out_shape, [in_strides[p] for p in perm], contiguous_strides(out_shape)
    )


def window(
    origin: str,
    x: SSAValue,
    y: SSAValue,
    in_shape: Sequence[int],
    starts: Sequence[int],
    steps: Sequence[int],
    out_shape: Sequence[int],
) -> NestOp:
    """y = x[starts[d]::steps[d]] (the first out_shape[d] of them) along every dim:
    one strided read at an offset, a contiguous write."""
    in_strides = contiguous_strides(in_shape)
    offset = sum(a * st for a, st in zip(starts, in_strides, strict=True)) * F32
    return dram_copy(
        origin, x, y, out_shape,
        [s * st for s, st in zip(steps, in_strides, strict=True)],
        contiguous_strides(out_shape), src_offset=offset,
    )


def concat_slice(
    origin: str,
    x: SSAValue,
    y: SSAValue,
    in_shape: Sequence[int],
    out_shape: Sequence[int],
    axis: int,
    start: int,
) -> NestOp:
    """Copy `x` into `y`'s slice [start, start + in_shape[axis]) along `axis`."""
    out_strides = contiguous_strides(out_shape)
    return dram_copy(
        origin,
        x,
        y,
        in_shape,
        contiguous_strides(in_shape),
        out_strides,
        dst_offset=start * out_strides[axis] * F32,
    )

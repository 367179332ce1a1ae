"""loop-const-layout: store each constant in DRAM in the order its loads read it.

Expects loop nests before loop-allocate. The kernels read a constant (weights,
biases) through access patterns on its ONNX layout: a conv's weight tile puts input
channels on partitions and output channels along the free dim, so each element of a
DMA comes from `Cin x KH x KW` elements away from the last (4-byte runs). Where every
use of a `loop.const` (directly or through `loop.view`s) is the source of a
`loop.copy` and no element is read twice (over all copies and all iterations of the
loops around them), the constant becomes a 1-D buffer holding, copy after copy in
program order, each copy's elements in the order it reads them (its enclosing loops
outermost first, then its access dims row-major): every load reads one contiguous
run per iteration, and the bytes moved are the same. Elements no copy reads are
dropped. A constant that anything else reads, that a copy reads twice (a weight tile
loaded again per band), a splat, or one above `max_bytes` (permuting it holds a
second copy of it while compiling) keeps its layout.

Real DMA engines move long contiguous runs much faster than 4-byte gathers (the AWS
Neuron SDK's DMA bandwidth guide: contiguous payloads of 4 KiB or more to saturate HBM
bandwidth, https://awsdocs-neuron.readthedocs-hosted.com/en/latest/nki/deep-dives/nki-dma-bandwidth-guide.html);
Tidal's hardware model charges bytes, not runs, so this changes no cycle count, only
how much work a gather is for the model and a real chip.

    %w = loop.const dense<...> : tensor<4x2xf32> : memref<4x2xf32>
    loop.nest "fc" domain [] order [] {
      loop.copy %w <dram 0, [[1, 2], [2, 4]]> -> %t <sbuf 0, 0, [[1, 2], [1, 4]]>
  becomes (W transposed once, at compile time)
    %w = loop.const dense<...> : tensor<8xf32> : memref<8xf32>
    loop.nest "fc" domain [] order [] {
      loop.copy %w <dram 0, [[4, 2], [1, 4]]> -> %t <sbuf 0, 0, [[1, 2], [1, 4]]>
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tidal.dialects import loop
from tidal.dialects.accel import AccessAttr, Aff
from tidal.passes.utils.expect import expect_level
from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass

MAX_BYTES = 64 << 20
"""The largest constant laid out again by default: the permuted copy and the original
are both held while it is built (VGG-19's 411 MB classifier weight keeps its layout,
so compile memory stays within bench_memory's bound)."""


@dataclass(frozen=True)
class _Read:
    """One copy reading the constant: its iteration dims (outermost first) with their
    trip counts and the element strides of the pattern, its access counts and
    strides, and its first element."""

    copy: loop.CopyOp
    loop_dims: tuple[int, ...]
    trips: tuple[int, ...]
    loop_strides: tuple[int, ...]
    counts: tuple[int, ...]
    strides: tuple[int, ...]
    first: int

    @property
    def shape(self) -> tuple[int, ...]:
        return (*self.trips, *self.counts)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def view(self, flat: np.ndarray, writeable: bool = False) -> np.ndarray:
        """The elements this copy reads over all its iterations, in reading order, as
        a view of `flat` (the constant's elements, row-major, or an array of as many
        elements)."""
        item = flat.itemsize
        return np.lib.stride_tricks.as_strided(
            flat[self.first :],
            self.shape,
            tuple(item * s for s in (*self.loop_strides, *self.strides)),
            writeable=writeable,
        )


def _loops(op: Operation) -> tuple[loop.NestOp | None, list[int]]:
    """The nest around `op` and the domain dims of the loops around it, outermost
    first."""
    dims: list[int] = []
    parent = op.parent_op()
    while parent is not None and not isinstance(parent, loop.NestOp):
        if isinstance(parent, loop.ForOp):
            dims.append(parent.dim.value.data)
        parent = parent.parent_op()
    return parent, dims[::-1]


def _read(copy: loop.CopyOp) -> _Read | None:
    """`copy`'s reading of its DRAM source in elements, or None when its pattern
    steps along a dim no loop around it iterates or is not element-aligned."""
    nest, dims = _loops(copy)
    ap = copy.src_ap
    if nest is None or ap.space != "dram":
        return None
    offset = ap.offset
    if offset.base % 4 or any(s % 4 for s in offset.steps):
        return None
    if any(s and d not in dims for d, s in enumerate(offset.steps)):
        return None
    domain = nest.domain_val
    return _Read(
        copy,
        tuple(dims),
        tuple(domain[d] for d in dims),
        tuple(offset.step(d) // 4 for d in dims),
        tuple(c for _, c in ap.dims),
        tuple(s for s, _ in ap.dims),
        offset.base // 4,
    )


def _reads(const: loop.ConstOp, order: dict[Operation, int]) -> list[_Read] | None:
    """Every copy that reads `const` (through views too), in program order (`order`:
    each op's position in a walk of the function), or None when something else
    uses it."""
    copies: list[loop.CopyOp] = []
    pending: list[SSAValue] = [const.result]
    while pending:
        value = pending.pop()
        for use in value.uses:
            user = use.operation
            if isinstance(user, loop.ViewOp):
                pending.append(user.result)
            elif isinstance(user, loop.CopyOp) and use.index == 0:
                copies.append(user)
            else:
                return None
    reads = [_read(c) for c in copies]
    if not reads or any(r is None for r in reads):
        return None
    return sorted((r for r in reads if r is not None), key=lambda r: order[r.copy])


def _read_once(reads: list[_Read], elements: int) -> bool:
    """Whether no element is read twice over all the copies' iterations."""
    seen = np.zeros(elements, np.bool_)
    for r in reads:
        r.view(seen, writeable=True)[...] = True
    return int(np.count_nonzero(seen)) == sum(r.size for r in reads)


def _contiguous(counts: tuple[int, ...]) -> list[tuple[int, int]]:
    """Row-major element strides over `counts`, as (stride, count) dims."""
    dims: list[tuple[int, int]] = []
    stride = 1
    for c in reversed(counts):
        dims.append((stride, c))
        stride *= c
    return dims[::-1]


def _in_place(reads: list[_Read]) -> bool:
    """Whether the copies already read the constant in its own order: each one
    row-major contiguous over its iterations, each starting where the last ended."""
    at = 0
    for r in reads:
        want = [s for s, _ in _contiguous(r.shape)]
        if r.first != at or any(
            c > 1 and s != w for s, w, c in zip((*r.loop_strides, *r.strides), want, r.shape)
        ):
            return False
        at += r.size
    return True


def relayout(
    const: loop.ConstOp, order: dict[Operation, int], max_bytes: int = MAX_BYTES
) -> bool:
    """Lay `const` out in its copies' reading order (see the module docstring);
    False, changing nothing, where it does not qualify or is laid out so already.
    `order`: each op's position in a walk of the function."""
    shape = tuple(const.value.get_shape())
    elements = math.prod(shape)
    if len(const.value.data.data) != 4 * elements or 4 * elements > max_bytes:
        return False  # a splat, or too large to hold twice
    reads = _reads(const, order)
    if reads is None or _in_place(reads) or not _read_once(reads, elements):
        return False
    flat = const.to_numpy().reshape(-1)
    total = sum(r.size for r in reads)
    data = np.empty(total, np.float32)
    at = 0
    placed: list[tuple[_Read, int]] = []
    for r in reads:
        data[at : at + r.size].reshape(r.shape)[...] = r.view(flat)
        placed.append((r, at))
        at += r.size
    new = loop.ConstOp(loop.dense_f32(data))
    del data
    new.result.name_hint = const.result.name_hint
    block = const.parent_block()
    assert block is not None
    block.insert_op_before(new, const)
    for r, at in placed:
        per_iteration = math.prod(r.counts)
        steps = [0] * (max(r.loop_dims) + 1 if r.loop_dims else 0)
        inner = per_iteration
        for d, trip in zip(reversed(r.loop_dims), reversed(r.trips), strict=True):
            steps[d] = 4 * inner
            inner *= trip
        copy = r.copy
        copy.operands[0] = new.result
        copy.properties["src_ap"] = AccessAttr.get(
            "dram", 0, Aff(4 * at, tuple(steps)), _contiguous(r.counts)
        )
    _erase_unused(const)
    return True


def _erase_unused(op: Operation) -> None:
    """Erase `op` and the views of it that nothing uses any more."""
    for use in list(op.results[0].uses):
        user = use.operation
        if isinstance(user, loop.ViewOp):
            _erase_unused(user)
    if not op.results[0].uses:
        op.detach()
        op.erase()


@dataclass(frozen=True)
class LoopConstLayoutPass(ModulePass):
    """Store every constant that only copies read, each element once, in the order
    its copies read it (one contiguous run per copy and iteration)."""

    name = "loop-const-layout"

    max_bytes: int = MAX_BYTES
    """Constants larger than this keep their layout (see MAX_BYTES)."""

    def __post_init__(self) -> None:
        if self.max_bytes < 0:
            raise ValueError(f"option 'max_bytes' must be at least 0, got {self.max_bytes}")

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        expect_level(op, self.name, "loop")
        for fn in [f for f in op.body.block.ops if isinstance(f, func.FuncOp)]:
            order = {o: i for i, o in enumerate(fn.walk())}
            for const in [c for c in fn.body.block.ops if isinstance(c, loop.ConstOp)]:
                relayout(const, order, self.max_bytes)

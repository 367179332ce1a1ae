"""Concat by placement: producers write straight into their slice of the result.

graph-to-loop lowers `graph.concat` to a DRAM buffer Y and one copy nest per
operand. When an operand X is an intermediate buffer (a `loop.alloc`, not a
function argument, constant or result) and its slice of Y is one contiguous block
(every dim before the axis has size 1), X need not exist: every access to X, by
the nests that write it and those that read it, is retargeted to Y at the slice's
byte offset, and the copy nest goes. Chained concats (DenseNet's blocks) place
transitively: a placed concat result is itself placed in the next one.

    %x = loop.alloc : memref<1x32x8x8xf32>
    loop.nest "conv" ... { loop.copy %o <...> -> %x <dram 0 + 256 * i0, ...> }
    %y = loop.alloc : memref<1x96x8x8xf32>
    loop.nest "cat.1" ... { loop.copy %x <dram 0, ...> -> %y <dram 8192, ...> }
  becomes
    %y = loop.alloc : memref<1x96x8x8xf32>            (moved to the function top)
    loop.nest "conv" ... { loop.copy %o <...> -> %y <dram 8192 + 256 * i0, ...> }
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.ir import Operation, SSAValue

from tidal.dialects.accel import AccessAttr
from tidal.dialects.loop import AllocOp, NestOp, TileOp, ViewOp


@dataclass
class ConcatCopy:
    """A copy nest of one concat operand: `src` into `dst` at `offset` bytes;
    `contiguous` when the slice is one block of `dst`."""

    nest: NestOp
    src: SSAValue
    dst: SSAValue
    offset: int
    contiguous: bool


def _uses_are_placeable(value: SSAValue) -> bool:
    """Only tile ops and views (recursively) use `value`; none returns it."""
    for use in value.uses:
        user = use.operation
        if isinstance(user, ViewOp):
            if not _uses_are_placeable(user.result):
                return False
        elif not isinstance(user, TileOp):
            return False
    return True


def _retarget(value: SSAValue, target: SSAValue, offset: int) -> None:
    """Point every access to `value` (and to views of it) at `target` + offset."""
    users = list(dict.fromkeys(use.operation for use in value.uses))
    for user in users:
        if isinstance(user, ViewOp):
            _retarget(user.result, target, offset)
            user.detach()
            user.erase()
            continue
        assert isinstance(user, TileOp)
        for operand, prop, _ in user.SLOTS:
            if getattr(user, operand) is not value:
                continue
            ap = user.properties[prop]
            assert isinstance(ap, AccessAttr)
            user.properties[prop] = AccessAttr.get(
                ap.space, ap.pstart, ap.offset + offset, ap.dims
            )
        for index, v in enumerate(list(user.operands)):
            if v is value:
                user.operands[index] = target


def _hoist(alloc: Operation) -> None:
    """Move an allocation to the top of its function, above every retargeted use."""
    block = alloc.parent_block()
    assert block is not None
    first = block.first_op
    if first is alloc or first is None:
        return
    alloc.detach()
    block.insert_op_before(alloc, first)


def place_concat_operands(copies: list[ConcatCopy]) -> int:
    """Place what can be placed (in program order); returns how many copies went."""
    placed = 0
    for copy in copies:
        src = copy.src
        alloc = src.owner
        if not copy.contiguous or not isinstance(alloc, AllocOp) or src is copy.dst:
            continue
        if alloc.parent is None or copy.nest.parent is None:
            continue
        if not _uses_are_placeable(src):
            continue
        copy.nest.detach()
        copy.nest.erase()
        _hoist(copy.dst.owner)  # type: ignore[arg-type]
        _retarget(src, copy.dst, copy.offset)
        alloc.detach()
        alloc.erase()
        placed += 1
    return placed

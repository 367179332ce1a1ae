"""loop-to-accel: allocate DRAM, SBUF and PSUM and turn loop nests into instructions.

Expects one `func.func` on memrefs holding `loop.alloc/const/view/nest` ops (the
output of graph-to-loop). Produces one `accel.program` in *unified order* (one
sequential order across engines, no synchronisation yet; see accel-insert-sync):

- DRAM: inputs, constants and intermediate buffers get byte addresses (views alias);
  the I/O table (`accel.io`) keeps the ONNX names from `tidal.name` arg/result attrs.
- SBUF/PSUM: every tile of a nest gets a region, allocated afresh per nest (the
  synchronisation pass orders reuse across nests); a matmul accumulator stays in one
  PSUM bank. A nest whose tiles do not fit is an error naming the nest and the sizes.
- `loop.for` becomes `accel.repeat`; access offsets become affine in repeat depth.
- DMA queues: loads alternate over all queues but the last, stores use the last.

    loop.copy %x <dram 0 + 512 * i0, ...> -> %t <sbuf 0, 0, ...>
  becomes
    accel.dma 0 <dram 0 + 512 * i0, ...> -> <sbuf 0, 1024, ...> {origin = "fc1"}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import (
    DictionaryAttr,
    MemRefType,
    ModuleOp,
    StringAttr,
    TensorType,
    f32,
)
from xdsl.ir import Block, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import PassFailedException

from tidal.dialects import accel, loop
from tidal.dialects.accel import AccessAttr, Aff
from tidal.passes.conversion.kernels.nest_builder import aligned as _align
from tidal.sim.config import ChipConfig, UnknownChipError, get_chip
from tidal.passes.utils.expect import expect_level


def _name(attrs: object, i: int, default: str) -> str:
    if attrs is None:
        return default
    entry = attrs.data[i]  # type: ignore[attr-defined]
    if isinstance(entry, DictionaryAttr) and isinstance(
        name := entry.data.get("tidal.name"), StringAttr
    ):
        return name.data
    return default


@dataclass
class _Tiles:
    """On-chip regions of one nest's tiles: value -> (space, partition 0, byte base)."""

    chip: ChipConfig
    origin: str
    base: dict[SSAValue, int] = field(default_factory=dict)
    sbuf_top: int = 0
    psum_top: int = 0

    def add(self, tile: loop.AllocTileOp) -> None:
        t = tile.result.type
        space, parts, nbytes = t.space.data, t.partitions.data, t.bytes_per_partition
        limit = self.chip.sbuf_partitions if space == "sbuf" else self.chip.psum_partitions
        if parts > limit:
            self._fail(f"a {parts}-partition {space} tile; the chip has {limit} partitions")
        if space == "sbuf":
            self.base[tile.result] = self.sbuf_top
            self.sbuf_top += _align(nbytes)
            if self.sbuf_top > self.chip.sbuf_partition_bytes:
                self._fail(
                    f"{self.sbuf_top} bytes of SBUF per partition; the chip has "
                    f"{self.chip.sbuf_partition_bytes}"
                )
            return
        bank = self.chip.psum_bank_bytes
        if nbytes > bank:
            self._fail(f"a {nbytes}-byte PSUM accumulator; a bank holds {bank}")
        if self.psum_top % bank + nbytes > bank:
            self.psum_top = (self.psum_top // bank + 1) * bank
        self.base[tile.result] = self.psum_top
        self.psum_top += _align(nbytes)
        if self.psum_top > self.chip.psum_partition_bytes:
            self._fail(
                f"{self.psum_top} bytes of PSUM per partition; the chip has "
                f"{self.chip.psum_partition_bytes}"
            )

    def _fail(self, what: str) -> None:
        raise PassFailedException(
            f"loop-to-accel: nest '{self.origin}' needs {what} (chip '{self.chip.name}')"
        )


@dataclass
class _Lowering:
    chip: ChipConfig
    dram: dict[SSAValue, int]
    next_load_queue: int = 0

    def queue_for(self, dst: AccessAttr) -> int:
        last = self.chip.dma_queues - 1
        if dst.space == "dram" or last == 0:
            return last
        q = self.next_load_queue % last
        self.next_load_queue += 1
        return q

    def nest(self, nest: loop.NestOp) -> list[Operation]:
        origin = nest.origin.data
        tiles = _Tiles(self.chip, origin)
        for op in nest.body.block.ops:
            if isinstance(op, loop.AllocTileOp):
                tiles.add(op)
        order, domain = nest.order_val, nest.domain_val

        def remap(a: Aff, depth: int) -> Aff:
            steps = [a.steps[d] if d < len(a.steps) else 0 for d in order]
            if any(steps[depth:]):
                raise PassFailedException(
                    f"loop-to-accel: nest '{origin}' has an access that steps along "
                    f"a dimension whose loop does not enclose it"
                )
            return Aff(a.base, tuple(steps[:depth]))

        def ap(value: SSAValue, attr: AccessAttr, depth: int) -> AccessAttr:
            base = tiles.base[value] if value in tiles.base else self.dram[value]
            pstart = remap(attr.pstart, depth)
            offset = remap(attr.offset, depth) + base
            return AccessAttr.get(attr.space, pstart, offset, attr.dims)

        def convert(block: Block, depth: int) -> list[Operation]:
            out: list[Operation] = []
            for op in block.ops:
                if isinstance(op, loop.AllocTileOp):
                    continue
                if isinstance(op, loop.ForOp):
                    dim = op.dim.value.data
                    out.append(accel.RepeatOp(domain[dim], convert(op.body.block, depth + 1)))
                    continue
                out.append(self.instruction(op, lambda v, a: ap(v, a, depth), order, origin))
            return out

        return convert(nest.body.block, 0)

    def instruction(self, op: Operation, ap, order: tuple[int, ...], origin: str) -> Operation:
        if isinstance(op, loop.CopyOp):
            dst = ap(op.dst, op.dst_ap)
            return accel.DmaOp(self.queue_for(dst), ap(op.src, op.src_ap), dst, origin=origin)
        if isinstance(op, loop.MatmulOp):
            zero_at = None
            if op.zero_at is not None:
                d = op.zero_at.value.data
                zero_at = -1 if d < 0 else order.index(d)
            return accel.MatmulOp(
                ap(op.acc, op.acc_ap), ap(op.stationary, op.stationary_ap),
                ap(op.moving, op.moving_ap), zero_at=zero_at, origin=origin,
            )
        if isinstance(op, loop.ActOp):
            return accel.ActOp(
                op.func.data, ap(op.dst, op.dst_ap), ap(op.src, op.src_ap),
                scale=op.scale.value.data, bias=op.bias.value.data,
                scale_col=ap(op.scale_col, op.scale_ap) if op.scale_col else None,
                bias_col=ap(op.bias_col, op.bias_ap) if op.bias_col else None,
                origin=origin,
            )
        if isinstance(op, loop.TensorTensorOp):
            return accel.TensorTensorOp(
                op.op.data, ap(op.dst, op.dst_ap), ap(op.a, op.a_ap), ap(op.b, op.b_ap),
                origin=origin,
            )
        if isinstance(op, loop.ReduceOp):
            return accel.ReduceOp(
                op.op.data, ap(op.dst, op.dst_ap), ap(op.src, op.src_ap),
                op.nreduce.value.data, scale=op.scale.value.data, origin=origin,
            )
        if isinstance(op, loop.MemsetOp):
            return accel.MemsetOp(ap(op.dst, op.dst_ap), op.value.value.data, origin=origin)
        raise PassFailedException(f"loop-to-accel: cannot lower '{op.name}' in nest '{origin}'")


def _nbytes(value: SSAValue) -> int:
    return 4 * prod(value.type.get_shape())  # type: ignore[attr-defined]


@dataclass(frozen=True)
class LoopToAccelPass(ModulePass):
    """Allocate memories and lower loop nests to a unified-order accel.program."""

    name = "loop-to-accel"

    chip: str = field(default="default")

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        expect_level(op, self.name, "loop")
        try:
            chip = get_chip(self.chip)
        except UnknownChipError as e:
            raise PassFailedException(f"loop-to-accel: {e}") from None
        funcs = [f for f in op.body.block.ops if isinstance(f, func.FuncOp)]
        if len(funcs) != 1:
            raise PassFailedException(
                f"loop-to-accel: expects one func.func, found {len(funcs)}"
            )
        fn = funcs[0]
        dram: dict[SSAValue, int] = {}
        top = 0

        def place(value: SSAValue) -> int:
            nonlocal top
            dram[value] = top
            top += _align(_nbytes(value))
            return dram[value]

        header: list[Operation] = []
        for i, arg in enumerate(fn.body.block.args):
            if not isinstance(arg.type, MemRefType):
                raise PassFailedException("loop-to-accel: function arguments must be memrefs")
            name = _name(fn.arg_attrs, i, f"arg{i}")
            header.append(accel.IoOp("input", name, place(arg), TensorType(f32, arg.type.get_shape())))
        lowering = _Lowering(chip, dram)
        body: list[Operation] = []
        for inner in fn.body.block.ops:
            if isinstance(inner, loop.ConstOp):
                header.append(accel.ConstOp(place(inner.result), inner.value))
            elif isinstance(inner, loop.AllocOp):
                place(inner.result)
            elif isinstance(inner, loop.ViewOp):
                dram[inner.result] = dram[inner.source]
            elif isinstance(inner, loop.NestOp):
                body += lowering.nest(inner)
            elif isinstance(inner, func.ReturnOp):
                for i, v in enumerate(inner.arguments):
                    name = _name(fn.res_attrs, i, f"result{i}")
                    header.append(accel.IoOp("output", name, dram[v], TensorType(f32, v.type.get_shape())))  # type: ignore[attr-defined]
            else:
                raise PassFailedException(f"loop-to-accel: unexpected '{inner.name}' in the function")
        program = accel.ProgramOp(chip.name, top, header + body)
        fn.detach()
        fn.erase(safe_erase=False)
        op.body.block.add_op(program)

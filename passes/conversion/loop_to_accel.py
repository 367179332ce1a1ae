"""loop-to-accel: turn allocated loop nests into a unified-order accel.program.

Expects one `func.func` on memrefs holding `loop.alloc/const/view/nest` ops whose
addresses loop-allocate has recorded (`tidal.addr` on every buffer and tile,
`tidal.chip` and `tidal.dram_bytes` on the function). Each op becomes its accel op,
one to one, and the function one `accel.program` in *unified order* (one sequential
order across engines, no synchronisation yet; see accel-insert-sync):

- the io table (`accel.io`) at the inputs' and outputs' addresses, with the ONNX names
  of the `tidal.name` argument and result attributes; `loop.const` -> `accel.const`;
- `loop.for` -> `accel.repeat` with the domain's trip count;
- every tile op -> its instruction, with each access rebased on its buffer's address
  and its domain dimensions (`i<k>` = dimension k) renamed to repeat depths (`i<k>` =
  the k-th enclosing repeat) through the nest's loop order;
- `loop.copy` -> `accel.dma` on queue 0: accel-assign-queues chooses the queues.

    loop.copy %x <dram 0 + 512 * i0, ...> -> %t <sbuf 0, 0, ...>   (%t at 1024)
  becomes
    accel.dma 0 <dram 0 + 512 * i0, ...> -> <sbuf 0, 1024, ...> {origin = "fc1"}
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import (
    ArrayAttr,
    DictionaryAttr,
    IntegerAttr,
    MemRefType,
    ModuleOp,
    StringAttr,
    TensorType,
    f32,
)
from xdsl.ir import Attribute, BlockArgument, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.rewriter import InsertPoint
from xdsl.utils.exceptions import PassFailedException

from tidal.dialects import accel, loop
from tidal.dialects.accel import AccessAttr, Aff, AffAttr
from tidal.dialects.graph import numpy_dtype
from tidal.passes.loop.allocate import ADDR, CHIP, DRAM_BYTES
from tidal.passes.utils.expect import PassInputError, expect_level
from tidal.sim.isa import UNREAD_DTYPES
from tidal.targets import UNREAD_INPUTS_ATTR

# The queue every DMA gets here; accel-assign-queues decides the real one.
UNASSIGNED_QUEUE = 0


def _fail(message: str) -> PassFailedException:
    return PassFailedException(f"loop-to-accel: {message}")


def _addr(value: SSAValue) -> int:
    """The address loop-allocate recorded for a buffer or tile."""
    if isinstance(value, BlockArgument):
        owner = value.block.parent_op()
        attrs = owner.arg_attrs if isinstance(owner, func.FuncOp) else None
        attr = attrs.data[value.index].data.get(ADDR) if attrs is not None else None
        what = f"argument {value.index}"
    else:
        owner = value.owner
        attr = owner.attributes.get(ADDR)
        what = f"'{owner.name}'"
    if not isinstance(attr, IntegerAttr):
        assert owner is not None
        message = f"loop-to-accel: {what} has no {ADDR}; run loop-allocate first"
        raise PassInputError(message, owner)
    return attr.value.data


@dataclass(frozen=True)
class _Site:
    """Where a tile op sits: its nest's name and loop order, and its loop depth."""

    origin: str
    order: tuple[int, ...]
    depth: int

    @staticmethod
    def of(op: Operation) -> _Site:
        depth = 0
        parent = op.parent_op()
        while parent is not None and not isinstance(parent, loop.NestOp):
            depth += isinstance(parent, loop.ForOp | accel.RepeatOp)
            parent = parent.parent_op()
        if parent is None:
            raise _fail(f"'{op.name}' is outside a loop.nest")
        return _Site(parent.origin.data, parent.order_val, depth)

    def remap(self, a: Aff) -> Aff:
        """Domain dimensions -> repeat depths."""
        steps = [a.steps[d] if d < len(a.steps) else 0 for d in self.order]
        if any(steps[self.depth :]):
            raise _fail(
                f"nest '{self.origin}' has an access that steps along a dimension "
                "whose loop does not enclose it"
            )
        return Aff(a.base, tuple(steps[: self.depth]))

    def ap(self, value: SSAValue, attr: AccessAttr) -> AccessAttr:
        """`attr` at the buffer's address, affine in repeat depths; the space and the
        dims attributes are the loop access's own (immutable, so shared, not rebuilt)."""
        offset = self.remap(attr.offset) + _addr(value)
        return AccessAttr(
            attr.space_attr, AffAttr(self.remap(attr.pstart)), AffAttr(offset), attr.dims_attr
        )

    def column(
        self, value: SSAValue | None, attr: AccessAttr | None
    ) -> AccessAttr | None:
        return None if value is None or attr is None else self.ap(value, attr)


class LowerCopy(RewritePattern):
    """`loop.copy %x <dram 0, ...> -> %t <sbuf 0, 0, ...>` ->
    `accel.dma 0 <dram 0, ...> -> <sbuf 0, 64, ...>` (with %t at 64)."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: loop.CopyOp, rewriter: PatternRewriter) -> None:
        at = _Site.of(op)
        src, dst = at.ap(op.src, op.src_ap), at.ap(op.dst, op.dst_ap)
        rewriter.replace(op, accel.DmaOp(UNASSIGNED_QUEUE, src, dst, origin=at.origin))


class LowerMatmul(RewritePattern):
    """`loop.matmul %acc <...>, %w <...>, %x <...> {zero_at = d}` -> `accel.matmul
    <...>, <...>, <...> {zero_at = k}`, k the depth of the loop over dimension d."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: loop.MatmulOp, rewriter: PatternRewriter) -> None:
        at = _Site.of(op)
        zero_at = None
        if op.zero_at is not None:
            d = op.zero_at.value.data
            zero_at = -1 if d < 0 else at.order.index(d)
        new = accel.MatmulOp(
            at.ap(op.acc, op.acc_ap),
            at.ap(op.stationary, op.stationary_ap),
            at.ap(op.moving, op.moving_ap),
            zero_at=zero_at,
            origin=at.origin,
        )
        rewriter.replace(op, new)


class LowerAct(RewritePattern):
    """`loop.act "relu" %o <...>, %acc <...> bias(%b) <...>` ->
    `accel.act relu <...>, <...> bias <...>`."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: loop.ActOp, rewriter: PatternRewriter) -> None:
        at = _Site.of(op)
        new = accel.ActOp(
            op.func.data,
            at.ap(op.dst, op.dst_ap),
            at.ap(op.src, op.src_ap),
            scale=op.scale.value.data,
            bias=op.bias.value.data,
            scale_col=at.column(op.scale_col, op.scale_ap),
            bias_col=at.column(op.bias_col, op.bias_ap),
            origin=at.origin,
        )
        rewriter.replace(op, new)


class LowerTensorTensor(RewritePattern):
    """`loop.tensor_tensor "add" %d <...>, %a <...>, %b <...>` ->
    `accel.tensor_tensor add <...>, <...>, <...>`."""

    @op_type_rewrite_pattern
    def match_and_rewrite(
        self, op: loop.TensorTensorOp, rewriter: PatternRewriter
    ) -> None:
        at = _Site.of(op)
        new = accel.TensorTensorOp(
            op.op.data,
            at.ap(op.dst, op.dst_ap),
            at.ap(op.a, op.a_ap),
            at.ap(op.b, op.b_ap),
            scale_col=at.column(op.scale_col, op.scale_ap),
            origin=at.origin,
        )
        rewriter.replace(op, new)


class LowerReduce(RewritePattern):
    """`loop.reduce "max" %d <...>, %s <...> {nreduce = 2}` ->
    `accel.reduce max <...>, <...> over 2`."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: loop.ReduceOp, rewriter: PatternRewriter) -> None:
        at = _Site.of(op)
        dst, src = at.ap(op.dst, op.dst_ap), at.ap(op.src, op.src_ap)
        nreduce, scale = op.nreduce.value.data, op.scale.value.data
        new = accel.ReduceOp(
            op.op.data, dst, src, nreduce, scale=scale, origin=at.origin
        )
        rewriter.replace(op, new)


class LowerMemset(RewritePattern):
    """`loop.memset %t <...> = 0.0 : f32` -> `accel.memset <...>, 0.0`."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: loop.MemsetOp, rewriter: PatternRewriter) -> None:
        at = _Site.of(op)
        new = accel.MemsetOp(
            at.ap(op.dst, op.dst_ap), op.value.value.data, origin=at.origin
        )
        rewriter.replace(op, new)


class LowerRandom(RewritePattern):
    """`loop.random %t <...> in [0.0, 1.0) seed 7` -> `accel.random <...>, 0.0, 1.0 seed 7`."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: loop.RandomOp, rewriter: PatternRewriter) -> None:
        at = _Site.of(op)
        new = accel.RandomOp(
            at.ap(op.dst, op.dst_ap), op.low.value.data, op.high.value.data,
            op.seed.value.data, origin=at.origin,
        )
        rewriter.replace(op, new)


class LowerDropout(RewritePattern):
    """`loop.dropout %d <...>, %s <...> ratio 0.5 seed 7` -> `accel.dropout <...>, <...>
    ratio 0.5 seed 7`."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: loop.DropoutOp, rewriter: PatternRewriter) -> None:
        at = _Site.of(op)
        new = accel.DropoutOp(
            at.ap(op.dst, op.dst_ap), at.ap(op.src, op.src_ap), op.ratio.value.data,
            op.seed.value.data, origin=at.origin,
        )
        rewriter.replace(op, new)


class LowerBernoulli(RewritePattern):
    """`loop.bernoulli %d <...>, %p <...> seed 7` -> `accel.bernoulli <...>, <...> seed 7`."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: loop.BernoulliOp, rewriter: PatternRewriter) -> None:
        at = _Site.of(op)
        new = accel.BernoulliOp(
            at.ap(op.dst, op.dst_ap), at.ap(op.src, op.src_ap), op.seed.value.data,
            origin=at.origin,
        )
        rewriter.replace(op, new)


class LowerFor(RewritePattern):
    """`loop.for d1 { ... }` in a nest of domain [4, 7] -> `accel.repeat 7 { ... }`."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: loop.ForOp, rewriter: PatternRewriter) -> None:
        parent = op.parent_op()
        while parent is not None and not isinstance(parent, loop.NestOp):
            parent = parent.parent_op()
        if parent is None:
            raise _fail("a loop.for is outside a loop.nest")
        count = parent.domain_val[op.dim.value.data]
        body = rewriter.move_region_contents_to_new_regions(op.body)
        rewriter.replace(op, accel.RepeatOp(count, body))


class LowerNest(RewritePattern):
    """`loop.nest "fc1" ... { %t = loop.alloc_tile ... accel ops }` -> the accel ops,
    in place (runs once the nest's body is lowered)."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: loop.NestOp, rewriter: PatternRewriter) -> None:
        block = op.body.block
        for inner in list(block.ops):
            if isinstance(inner, loop.AllocTileOp):
                rewriter.erase(inner)
            elif not isinstance(inner, accel.InstructionOp | accel.RepeatOp):
                raise _fail(f"cannot lower '{inner.name}' in nest '{op.origin.data}'")
        rewriter.inline_block(block, InsertPoint.before(op))
        rewriter.erase(op)


def _name(attrs: Attribute | None, i: int, default: str) -> str:
    if attrs is None:
        return default
    entry = attrs.data[i]  # type: ignore[attr-defined]
    if isinstance(entry, DictionaryAttr) and isinstance(
        name := entry.data.get("tidal.name"), StringAttr
    ):
        return name.data
    return default


def _is_f32(value: SSAValue) -> bool:
    ty = value.type
    return not isinstance(ty, TensorType | MemRefType) or ty.get_element_type() == f32


def _tensor(value: SSAValue) -> TensorType:
    return TensorType(f32, value.type.get_shape())  # type: ignore[attr-defined]


class LowerFunc(RewritePattern):
    """`func.func` of lowered nests -> `accel.program "<tidal.chip>" dram
    <tidal.dram_bytes>` holding the io table, the constants, then the instructions
    (runs once every nest is lowered)."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, fn: func.FuncOp, rewriter: PatternRewriter) -> None:
        chip, dram_bytes = fn.attributes[CHIP], fn.attributes[DRAM_BYTES]
        assert isinstance(chip, StringAttr) and isinstance(dram_bytes, IntegerAttr)
        block = fn.body.block
        # An input of another element type than f32 (a model's unused int64 or
        # float16 input: any op that reads one runs on the host or framework tier)
        # is not the program's: the io table holds f32 tensors.
        header: list[Operation] = [
            accel.IoOp("input", _name(fn.arg_attrs, i, f"arg{i}"), _addr(a), _tensor(a))
            for i, a in enumerate(block.args)
            if _is_f32(a)
        ]
        code: list[Operation] = []
        for op in block.ops:
            if isinstance(op, loop.ConstOp):
                header.append(accel.ConstOp(_addr(op.result), op.value))
            elif isinstance(op, func.ReturnOp):
                header += [
                    accel.IoOp(
                        "output",
                        _name(fn.res_attrs, i, f"result{i}"),
                        _addr(v),
                        _tensor(v),
                    )
                    for i, v in enumerate(op.arguments)
                    if _is_f32(v)  # (an input of another type returned as it is)
                ]
            elif isinstance(op, accel.InstructionOp | accel.RepeatOp):
                code.append(op)
            elif not isinstance(op, loop.AllocOp | loop.ViewOp | loop.AllocTileOp):
                raise _fail(f"unexpected '{op.name}' in the function")
        _check_io_names(header)
        for op in code:
            op.detach()
        program = accel.ProgramOp(chip.data, dram_bytes.value.data, header + code)
        unread = [
            _unread_input(_name(fn.arg_attrs, i, f"arg{i}"), a)
            for i, a in enumerate(block.args)
            if not _is_f32(a)
        ]
        if unread:
            program.attributes[UNREAD_INPUTS_ATTR] = ArrayAttr(unread)
        rewriter.replace(fn, program, safe_erase=False)


def _unread_input(name: str, arg: SSAValue) -> DictionaryAttr:
    """An input the program does not take (`UNREAD_INPUTS_ATTR`): its name, NumPy
    dtype and shape, which tidal-sim checks a feed of it against."""
    ty = arg.type
    assert isinstance(ty, TensorType | MemRefType)
    try:
        dtype = numpy_dtype(ty.get_element_type())
    except KeyError:
        dtype = "other"
    if dtype not in UNREAD_DTYPES:  # (bfloat16: no NumPy type an .npz holds)
        dtype = "other"
    return DictionaryAttr(
        {
            "name": StringAttr(name),
            "dtype": StringAttr(dtype),
            "shape": ArrayAttr([IntegerAttr(d, 64) for d in ty.get_shape()]),
        }
    )


def _check_io_names(header: list[Operation]) -> None:
    """Each input and each output named once (`tidal.name`): the binary's IO table
    finds them by name."""
    for kind in ("input", "output"):
        names = [io.tensor_name.data for io in header if isinstance(io, accel.IoOp) and io.kind.data.value == kind]
        for j, name in enumerate(names):
            if (i := names.index(name)) < j:
                raise _fail(
                    f"{kind}s {i} and {j} are both named '{name}' (tidal.name): the "
                    "binary's IO table names each input and output once"
                )


def _check_allocated(module: ModuleOp, chip: str) -> func.FuncOp:
    funcs = [f for f in module.body.block.ops if isinstance(f, func.FuncOp)]
    if len(funcs) != 1:
        raise PassInputError(
            f"loop-to-accel: expects one func.func, found {len(funcs)}",
            funcs[1] if funcs else module,
        )
    fn = funcs[0]
    allocated = fn.attributes.get(CHIP)
    name = fn.sym_name.data
    if not isinstance(allocated, StringAttr) or not isinstance(
        fn.attributes.get(DRAM_BYTES), IntegerAttr
    ):
        raise PassInputError(
            f"loop-to-accel: @{name} has no addresses ({CHIP}, {DRAM_BYTES}); "
            "run loop-allocate{chip=...} first",
            fn,
        )
    if chip and chip != allocated.data:
        raise PassInputError(
            f"loop-to-accel: @{name} is allocated for chip '{allocated.data}', not '{chip}'",
            fn,
        )
    return fn


@dataclass(frozen=True)
class LoopToAccelPass(ModulePass):
    """Lower allocated loop nests, op by op, to a unified-order accel.program.
    `chip`, if given, must be the chip loop-allocate allocated for."""

    name = "loop-to-accel"

    chip: str = field(default="")

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        expect_level(op, self.name, "loop")
        _check_allocated(op, self.chip)
        patterns = GreedyRewritePatternApplier(
            [
                LowerCopy(),
                LowerMatmul(),
                LowerAct(),
                LowerTensorTensor(),
                LowerReduce(),
                LowerMemset(),
                LowerRandom(),
                LowerDropout(),
                LowerBernoulli(),
                LowerFor(),
                LowerNest(),
                LowerFunc(),
            ]
        )
        # Regions first: a tile op is lowered while its loops still say which
        # dimension they iterate, and a nest or function once its body is lowered.
        PatternRewriteWalker(
            patterns, walk_regions_first=True, apply_recursively=False
        ).rewrite_module(op)

"""The `loop` dialect: tiled loop nests over explicit memory spaces.

A graph op lowers to one `loop.nest`: `loop.for` loops with static trip counts
(a chain, or sibling loops, which at one depth iterate the same dimension) whose
bodies move tiles between DRAM buffers (`memref`) and on-chip tiles
(`!loop.tile<sbuf|psum, partitions, elements>`) and compute on tiles. A tile is
allocated in its nest, or in the function to stay on chip across nests. Every tile op
names the part of each buffer it touches with an access pattern (`#accel.ap`) whose
start and offset are affine in the nest's *domain dimensions*: in loop IR, `i<k>` in
an access pattern is domain dimension k (not loop depth), so interchanging loops only
permutes `order`, never the accesses.

The nest's *symbolic model* is explicit and verified: `domain` (trip count of every
dimension), `order` (which dimension each loop depth iterates, outermost first) and
the access map of every buffer operand (`NestOp.model()`). Fusion and interchange are
decided from it, never from op names.

    %y = loop.alloc : memref<8x512xf32>
    loop.nest "fc1" domain [4, 7] order [0, 1] {
      %acc = loop.alloc_tile : !loop.tile<psum, 128, 8>
      %w = loop.alloc_tile : !loop.tile<sbuf, 128, 128>
      %x = loop.alloc_tile : !loop.tile<sbuf, 128, 8>
      %o = loop.alloc_tile : !loop.tile<sbuf, 128, 8>
      loop.for d0 {
        loop.for d1 {
          loop.copy %wd <dram 512 * i0 + 262144 * i1, [[512, 128], [1, 128]]>
              -> %w <sbuf 0, 0, [[1, 128], [1, 128]]> : memref<784x512xf32> -> !loop.tile<sbuf, 128, 128>
          ...
          loop.matmul %acc <psum 0, 0, [[1, 128], [1, 8]]>, %w <...>, %x <...> {zero_at = 1 : i64} : ...
        }
        loop.act "relu" %o <...>, %acc <...> : ...
        loop.copy %o <...> -> %y <...> : ...
      }
    }
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from tidal.dialects.accel import AccessAttr, Body
from tidal.dialects.chip_enums import (
    ON_CHIP,
    ActFunc,
    ActFuncAttr,
    AluOp,
    AluOpAttr,
    ReduceOpAttr,
    Space,
    SpaceAttr,
)
from tidal.dialects.chip_enums import ReduceOp as ReduceKind
from tidal.sim.spec import Opcode
from xdsl.dialects.builtin import (
    I64,
    BytesAttr,
    DenseArrayBase,
    DenseIntOrFPElementsAttr,
    Float32Type,
    FloatAttr,
    IntAttr,
    IntegerAttr,
    MemRefType,
    StringAttr,
    TensorType,
    f32,
    i64,
)
from xdsl.dialects.func import FuncOp
from xdsl.ir import (
    Attribute,
    Block,
    Data,
    Dialect,
    Operation,
    ParametrizedAttribute,
    SSAValue,
    TypeAttribute,
)
from xdsl.irdl import (
    AnyAttr,
    AttrSizedOperandSegments,
    IRDLAttrConstraint,
    IRDLOperation,
    Operand,
    OptOperand,
    ParsePropInAttrDict,
    irdl_attr_definition,
    irdl_op_definition,
    operand_def,
    opt_operand_def,
    opt_prop_def,
    prop_def,
    region_def,
    result_def,
    traits_def,
)
from xdsl.irdl.declarative_assembly_format import (
    AttributeVariable,
    CustomDirective,
    ParsingState,
    PrintingState,
    UniqueBaseAttributeVariable,
    irdl_custom_directive,
)
from xdsl.parser import AttrParser, Parser
from xdsl.printer import Printer
from xdsl.traits import NoTerminator
from xdsl.utils.exceptions import VerifyException


@irdl_custom_directive
class Quoted(CustomDirective):
    """An enum operand as a string literal, the loop dialect's spelling: `"relu"`
    (the bare name parses too)."""

    value: UniqueBaseAttributeVariable

    def parse(self, parser: Parser, state: ParsingState) -> None:
        self.value.parse(parser, state)

    def print(self, printer: Printer, state: PrintingState, op: IRDLOperation) -> None:
        attr = self.value.get(op)
        assert isinstance(attr, Data)
        state.print_whitespace(printer)
        printer.print_string_literal(str(attr.data))  # pyright: ignore[reportUnknownArgumentType]


@irdl_custom_directive
class DomainDim(CustomDirective):
    """The domain dimension a `loop.for` iterates, as `d<k>`."""

    dim: AttributeVariable

    def parse(self, parser: Parser, state: ParsingState) -> None:
        pos = parser.pos
        name = parser.parse_identifier(" (a domain dimension like 'd0')")
        if not (name.startswith("d") and name[1:].isdigit()):
            parser.raise_error(
                f"expected a domain dimension like 'd0', got '{name}'", pos, parser.pos
            )
        self.dim.set(state, IntegerAttr(int(name[1:]), i64))

    def print(self, printer: Printer, state: PrintingState, op: IRDLOperation) -> None:
        attr = self.dim.get(op)
        assert isinstance(attr, IntegerAttr)
        state.print_whitespace(printer)
        printer.print_string(f"d{attr.value.data}")


@irdl_attr_definition
class TileType(ParametrizedAttribute, TypeAttribute):
    """An on-chip fp32 tile: `!loop.tile<sbuf, 128, 512>` = 128 partitions x 512
    elements in SBUF (or PSUM). Addresses are assigned by loop-to-accel."""

    name = "loop.tile"

    space: SpaceAttr
    partitions: IntAttr
    elems: IntAttr

    def __init__(self, space: str | Space, partitions: int, elems: int):
        super().__init__(SpaceAttr(Space(space)), IntAttr(partitions), IntAttr(elems))

    @property
    def bytes_per_partition(self) -> int:
        return 4 * self.elems.data

    def print_parameters(self, printer: Printer) -> None:
        printer.print_string(
            f"<{self.space.data}, {self.partitions.data}, {self.elems.data}>"
        )

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> tuple[Attribute, ...]:
        with parser.in_angle_brackets():
            space = SpaceAttr.parse_parameter(parser)
            parser.parse_punctuation(",")
            parts = parser.parse_integer(allow_negative=False)
            parser.parse_punctuation(",")
            elems = parser.parse_integer(allow_negative=False)
        return (SpaceAttr(space), IntAttr(parts), IntAttr(elems))

    def verify(self) -> None:
        if self.space.data not in ON_CHIP:
            raise VerifyException(
                f"tile space must be one of {', '.join(ON_CHIP)}, got '{self.space.data}'"
            )
        if self.partitions.data < 1 or self.elems.data < 1:
            raise VerifyException("tile partitions and elements must be positive")


def _check_access(
    op: Operation, value: SSAValue, ap: AccessAttr, what: str, domain: Sequence[int]
) -> None:
    """An access pattern must name its buffer's space and stay inside it for every
    iteration of the enclosing nest (of domain `domain`)."""
    vtype = value.type
    space = vtype.space.data if isinstance(vtype, TileType) else "dram"
    if ap.space != space:
        raise VerifyException(
            f"{op.name}: {what} access is in {ap.space} but its buffer is in {space}"
        )
    pstart, offset = ap.pstart, ap.offset
    if len(pstart.steps) > len(domain) or len(offset.steps) > len(domain):
        raise VerifyException(
            f"{op.name}: {what} access uses a dimension outside the nest's domain"
        )
    lo_p, hi_p = pstart.bounds(domain)
    lo_o, hi_o = offset.bounds(domain)
    # The [stride, count] dims read from the attribute once (AccessAttr.dims builds
    # a tuple per call; this runs for every access after every pass).
    dims = [(d.data[0].data, d.data[1].data) for d in ap.dims_attr.data]
    extent = 4 * sum(s * (c - 1) for s, c in dims[1:]) + 4
    if isinstance(vtype, TileType):
        parts, nbytes = vtype.partitions.data, vtype.bytes_per_partition
        pcount = dims[0][1]
        if lo_p < 0 or hi_p + pcount > parts:
            raise VerifyException(
                f"{op.name}: {what} access reaches partitions "
                f"[{lo_p}, {hi_p + pcount}) of a {parts}-partition tile"
            )
        if lo_o < 0 or hi_o + extent > nbytes:
            raise VerifyException(
                f"{op.name}: {what} access reaches bytes [{lo_o}, {hi_o + extent}) "
                f"of a {nbytes}-byte tile partition"
            )
        return
    if isinstance(vtype, MemRefType):
        total = 4 * math.prod(vtype.get_shape())
        extent += 4 * dims[0][0] * (dims[0][1] - 1)
        if lo_o < 0 or hi_o + extent > total:
            raise VerifyException(
                f"{op.name}: {what} access reaches bytes [{lo_o}, {hi_o + extent}) "
                f"of a {total}-byte buffer"
            )


def enclosing_nest(op: Operation) -> NestOp | None:
    """The loop.nest `op` is inside (at any depth), or None."""
    parent = op.parent_op()
    while parent is not None and not isinstance(parent, NestOp):
        parent = parent.parent_op()
    return parent


# ---------------------------------------------------------------------------
# DRAM buffers
# ---------------------------------------------------------------------------


@irdl_op_definition
class AllocOp(IRDLOperation):
    """A DRAM buffer for an intermediate tensor: `%y = loop.alloc : memref<8x10xf32>`."""

    name = "loop.alloc"
    result = result_def(MemRefType)
    assembly_format = "attr-dict `:` type($result)"

    def __init__(self, type: MemRefType):
        super().__init__(result_types=[type])


@irdl_op_definition
class ConstOp(IRDLOperation):
    """A constant DRAM buffer (weights):
    `%w = loop.const dense<...> : tensor<10xf32> : memref<10xf32>`."""

    name = "loop.const"
    value = prop_def(DenseIntOrFPElementsAttr)
    result = result_def(MemRefType)
    assembly_format = "$value attr-dict `:` type($result)"

    def __init__(self, value: DenseIntOrFPElementsAttr):
        shape = value.get_shape()
        super().__init__(
            properties={"value": value},
            result_types=[MemRefType(f32, shape)],
        )

    def to_numpy(self) -> np.ndarray:
        """The value as a float32 array of the buffer's shape (a splat filled out)."""
        shape = tuple(self.value.get_shape())
        flat = np.frombuffer(self.value.data.data, dtype="<f4")
        if flat.size == 1 and math.prod(shape) != 1:
            return np.full(shape, flat[0], np.float32)
        return flat.reshape(shape).astype(np.float32)

    def verify_(self) -> None:
        if tuple(self.value.get_shape()) != tuple(self.result.type.get_shape()):
            raise VerifyException("loop.const: value and buffer shapes differ")


@irdl_op_definition
class ViewOp(IRDLOperation):
    """The same DRAM bytes seen with another shape (reshape/flatten cost nothing):
    `%v = loop.view %x : memref<1x16x8x8xf32> -> memref<1x1024xf32>`."""

    name = "loop.view"
    source = operand_def(MemRefType)
    result = result_def(MemRefType)
    assembly_format = "$source attr-dict `:` type($source) `->` type($result)"

    def __init__(self, source: SSAValue, type: MemRefType):
        super().__init__(operands=[source], result_types=[type])

    def verify_(self) -> None:
        src = int(np.prod(self.source.type.get_shape()))
        dst = int(np.prod(self.result.type.get_shape()))
        if src != dst:
            raise VerifyException(
                f"loop.view: {src} elements cannot be viewed as {dst} elements"
            )


# ---------------------------------------------------------------------------
# Nests and loops
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Access:
    """One buffer access of a nest's symbolic model."""

    op: str  # the tile op, e.g. "loop.copy"
    role: str  # "read" or "write"
    buffer: SSAValue
    ap: AccessAttr


@dataclass(frozen=True)
class NestModel:
    """The symbolic model of a nest: domain, loop order, affine accesses."""

    domain: tuple[int, ...]
    order: tuple[int, ...]
    accesses: tuple[Access, ...]

    def dram_accesses(self) -> tuple[Access, ...]:
        return tuple(a for a in self.accesses if a.ap.space == "dram")


@irdl_op_definition
class NestOp(IRDLOperation):
    """A loop nest with its symbolic model (see the module docstring):
    `loop.nest "conv1" domain [2, 9] order [0, 1] { ... }`."""

    name = "loop.nest"
    origin = prop_def(StringAttr)
    domain = prop_def(DenseArrayBase[I64])
    order = prop_def(DenseArrayBase[I64])
    body = region_def("single_block")
    traits = traits_def(NoTerminator())
    custom_directives = (Body,)
    assembly_format = "$origin `domain` $domain `order` $order attr-dict-with-keyword custom<Body>($body)"

    def __init__(
        self,
        origin: str,
        domain: Sequence[int],
        order: Sequence[int],
        ops: Sequence[Operation],
    ):
        from xdsl.ir import Region

        super().__init__(
            properties={
                "origin": StringAttr(origin),
                "domain": DenseArrayBase.from_list(i64, domain),
                "order": DenseArrayBase.from_list(i64, order),
            },
            regions=[Region(Block(ops))],
        )

    @property
    def domain_val(self) -> tuple[int, ...]:
        return tuple(int(v) for v in self.domain.get_values())

    @property
    def order_val(self) -> tuple[int, ...]:
        return tuple(int(v) for v in self.order.get_values())

    def loop_paths(self) -> list[list[ForOp]]:
        """Every chain of loops from an outer loop of the nest down to a loop with no
        loop in its body, outermost first (one path per innermost loop; sibling loops
        start paths of their own)."""

        def paths(block: Block) -> list[list[ForOp]]:
            out: list[list[ForOp]] = []
            for op in block.ops:
                if isinstance(op, ForOp):
                    out += [[op, *rest] for rest in paths(op.body.block) or [[]]]
            return out

        return paths(self.body.block)

    def loop_chain(self) -> list[ForOp]:
        """The loops of a nest that holds a single chain of them, outermost first."""
        paths = self.loop_paths()
        if len(paths) > 1:
            raise ValueError(
                f"loop.nest '{self.origin.data}' holds {len(paths)} loop paths, "
                "not one chain"
            )
        return paths[0] if paths else []

    def model(self) -> NestModel:
        accesses: list[Access] = []
        for op in self.walk():
            if isinstance(op, TileOp):
                for role, value, ap in op.accesses():
                    accesses.append(Access(op.name, role, value, ap))
        return NestModel(self.domain_val, self.order_val, tuple(accesses))

    def verify_(self) -> None:
        domain, order = self.domain_val, self.order_val
        if any(t < 1 for t in domain):
            raise VerifyException("loop.nest: every domain trip count must be >= 1")
        if sorted(order) != list(range(len(domain))):
            raise VerifyException(
                f"loop.nest: order {list(order)} is not a permutation of the "
                f"{len(domain)} domain dimensions"
            )
        # Every loop at depth k iterates dimension order[k] (sibling loops at one
        # depth iterate the same dimension), and some path iterates all of them.
        paths = [[loop.dim.value.data for loop in p] for p in self.loop_paths()]
        for dims in paths:
            for depth, dim in enumerate(dims):
                if depth >= len(order):
                    raise VerifyException(
                        f"loop.nest: a loop at depth {depth} iterates d{dim} but order "
                        f"{list(order)} has no depth {depth}"
                    )
                if dim != order[depth]:
                    raise VerifyException(
                        f"loop.nest: a loop at depth {depth} iterates d{dim} but order "
                        f"says d{order[depth]}"
                    )
        longest = max(paths, key=len, default=[])
        if len(longest) != len(order):
            raise VerifyException(
                f"loop.nest: loops iterate dimensions {longest} but order says {list(order)}"
            )


@irdl_op_definition
class ForOp(IRDLOperation):
    """A loop over one domain dimension of the enclosing nest, from 0 to its trip
    count: `loop.for d1 { ... }`."""

    name = "loop.for"
    dim = prop_def(IntegerAttr)
    body = region_def("single_block")
    traits = traits_def(NoTerminator())
    custom_directives = (DomainDim, Body)
    assembly_format = (
        "custom<DomainDim>($dim) custom<Body>($body) attr-dict-with-keyword"
    )

    def __init__(self, dim: int, ops: Sequence[Operation]):
        from xdsl.ir import Region

        super().__init__(
            properties={"dim": IntegerAttr(dim, i64)}, regions=[Region(Block(ops))]
        )

    def verify_(self) -> None:
        nest = enclosing_nest(self)
        if nest is None:
            raise VerifyException("loop.for must be inside a loop.nest")
        if not 0 <= self.dim.value.data < len(nest.domain_val):
            raise VerifyException(
                f"loop.for: d{self.dim.value.data} is not a dimension of the nest"
            )


# ---------------------------------------------------------------------------
# Tiles and tile ops
# ---------------------------------------------------------------------------


@irdl_op_definition
class AllocTileOp(IRDLOperation):
    """An on-chip tile: `%t = loop.alloc_tile : !loop.tile<sbuf, 128, 512>`. Inside
    a `loop.nest` it is live for that nest; directly in a `func.func` body it is live
    across the nests that use it (a tensor kept on chip from one nest to the next)."""

    name = "loop.alloc_tile"
    result = result_def(TileType)
    assembly_format = "attr-dict `:` type($result)"

    def __init__(self, space: str, partitions: int, elems: int):
        super().__init__(result_types=[TileType(space, partitions, elems)])

    def verify_(self) -> None:
        if enclosing_nest(self) is None and not isinstance(self.parent_op(), FuncOp):
            raise VerifyException(
                "loop.alloc_tile must be inside a loop.nest or directly in a func.func"
            )


def accessed(constraint: IRDLAttrConstraint = TileType) -> tuple[Operand, AccessAttr]:
    """A buffer operand and the access pattern (`<name>_ap`) naming the part of it a
    tile op touches, declared together: `dst, dst_ap = accessed()`."""
    return operand_def(constraint), prop_def(AccessAttr)


def opt_accessed() -> tuple[OptOperand, AccessAttr | None]:
    """An optional tile operand and its access pattern, present together."""
    return opt_operand_def(TileType), opt_prop_def(AccessAttr)


Slots = tuple[tuple[str, str, str], ...]


def slots(**roles: str) -> Slots:
    """A tile op's `SLOTS`, from the role of each buffer operand in order:
    `slots(src="read", dst="write")`. Operand `x` has access pattern `x_ap`
    (a column `x_col`: `x_ap`)."""
    return tuple(
        (name, name.removesuffix("_col") + "_ap", role) for name, role in roles.items()
    )


class TileOp(IRDLOperation):
    """Base of the ops that touch buffers through access patterns. `OPCODE` names the
    instruction the op becomes (its datasheet entry, `tidal.sim.spec.INSTRUCTIONS`:
    engine, cost and NumPy semantics)."""

    OPCODE: ClassVar[Opcode]
    # (operand field, access-pattern prop, role) for every buffer the op touches.
    SLOTS: ClassVar[Slots] = ()

    def accesses(self) -> list[tuple[str, SSAValue, AccessAttr]]:
        out: list[tuple[str, SSAValue, AccessAttr]] = []
        for operand, prop, role in self.SLOTS:
            value = getattr(self, operand)
            ap = self.properties.get(prop)
            if value is not None and isinstance(ap, AccessAttr):
                out.append((role, value, ap))
        return out

    def verify_(self) -> None:
        nest = enclosing_nest(self)
        if nest is None:
            raise VerifyException(f"{self.name} must be inside a loop.nest")
        domain = nest.domain_val
        for operand, prop, _ in self.SLOTS:
            value = getattr(self, operand)
            ap = self.properties.get(prop)
            if (value is None) != (ap is None):
                raise VerifyException(
                    f"{self.name}: operand '{operand}' and access '{prop}' go together"
                )
            if value is not None:
                assert isinstance(ap, AccessAttr)
                _check_access(self, value, ap, operand, domain)
        self.verify_tile_op()

    def verify_tile_op(self) -> None:
        pass

    def ap(self, prop: str) -> AccessAttr:
        attr = self.properties[prop]
        assert isinstance(attr, AccessAttr)
        return attr


def _same_shape(op: Operation, a: AccessAttr, b: AccessAttr, what: str) -> None:
    if a.pcount != b.pcount or a.free_elements != b.free_elements:
        raise VerifyException(
            f"{op.name}: {what} have different shapes "
            f"({a.pcount}x{a.free_elements} vs {b.pcount}x{b.free_elements})"
        )


@irdl_op_definition
class CopyOp(TileOp):
    """Copy a box of elements (a DMA): `loop.copy %x <dram ...> -> %t <sbuf ...>`.
    Elements go in row-major order of the two access patterns."""

    name = "loop.copy"
    OPCODE: ClassVar[Opcode] = Opcode.DMA
    src, src_ap = accessed(AnyAttr())
    dst, dst_ap = accessed(AnyAttr())
    SLOTS: ClassVar[Slots] = slots(src="read", dst="write")
    assembly_format = (
        "$src $src_ap `->` $dst $dst_ap attr-dict `:` type($src) `->` type($dst)"
    )

    def __init__(
        self, src: SSAValue, src_ap: AccessAttr, dst: SSAValue, dst_ap: AccessAttr
    ):
        super().__init__(
            operands=[src, dst], properties={"src_ap": src_ap, "dst_ap": dst_ap}
        )

    def verify_tile_op(self) -> None:
        if self.src_ap.num_elements != self.dst_ap.num_elements:
            raise VerifyException(
                f"loop.copy: source has {self.src_ap.num_elements} elements, "
                f"destination {self.dst_ap.num_elements}"
            )


@irdl_op_definition
class MatmulOp(TileOp):
    """acc[M, N] (+)= stationary[K, M]^T @ moving[K, N] on the PE array, K on
    partitions. `zero_at = d` starts a fresh sum when domain dim d is 0; without it
    the op accumulates."""

    name = "loop.matmul"
    OPCODE: ClassVar[Opcode] = Opcode.MATMUL
    acc, acc_ap = accessed()
    stationary, stationary_ap = accessed()
    moving, moving_ap = accessed()
    zero_at = opt_prop_def(IntegerAttr)
    irdl_options = (ParsePropInAttrDict(),)
    SLOTS: ClassVar[Slots] = slots(acc="write", stationary="read", moving="read")
    assembly_format = (
        "$acc $acc_ap `,` $stationary $stationary_ap `,` $moving $moving_ap "
        "attr-dict `:` type($acc) `,` type($stationary) `,` type($moving)"
    )

    def __init__(
        self,
        acc: SSAValue,
        acc_ap: AccessAttr,
        stationary: SSAValue,
        stationary_ap: AccessAttr,
        moving: SSAValue,
        moving_ap: AccessAttr,
        zero_at: int | None,
    ):
        props: dict[str, Attribute] = {
            "acc_ap": acc_ap,
            "stationary_ap": stationary_ap,
            "moving_ap": moving_ap,
        }
        if zero_at is not None:
            props["zero_at"] = IntegerAttr(zero_at, i64)
        super().__init__(operands=[acc, stationary, moving], properties=props)

    def verify_tile_op(self) -> None:
        k = self.stationary_ap.pcount
        m = self.stationary_ap.free_elements
        n = self.moving_ap.free_elements
        if self.moving_ap.pcount != k:
            raise VerifyException(
                f"loop.matmul: contraction mismatch, stationary has {k} partitions "
                f"and moving {self.moving_ap.pcount}"
            )
        if self.acc_ap.pcount != m or self.acc_ap.free_elements != n:
            raise VerifyException(
                f"loop.matmul: accumulator is {self.acc_ap.pcount}x"
                f"{self.acc_ap.free_elements}, expected {m}x{n}"
            )
        if self.acc.type.space.data != "psum":
            raise VerifyException("loop.matmul: the accumulator must be a psum tile")


@irdl_op_definition
class ActOp(TileOp):
    """dst = func(src * scale + bias) on the ACT engine; scale and bias are
    immediates or per-partition columns:
    `loop.act "relu" %o <...>, %acc <...> bias %b <...> : ...`."""

    name = "loop.act"
    OPCODE: ClassVar[Opcode] = Opcode.ACT
    func = prop_def(ActFuncAttr)
    dst, dst_ap = accessed()
    src, src_ap = accessed()
    scale_col, scale_ap = opt_accessed()
    bias_col, bias_ap = opt_accessed()
    scale = prop_def(FloatAttr)
    bias = prop_def(FloatAttr)
    irdl_options = (
        AttrSizedOperandSegments(as_property=True),
        ParsePropInAttrDict(),
    )
    SLOTS: ClassVar[Slots] = slots(
        dst="write", src="read", scale_col="read", bias_col="read"
    )
    custom_directives = (Quoted,)
    assembly_format = (
        "custom<Quoted>($func) $dst $dst_ap `,` $src $src_ap "
        "(`scale` `(` $scale_col^ `:` type($scale_col) `)` $scale_ap)? "
        "(`bias` `(` $bias_col^ `:` type($bias_col) `)` $bias_ap)? "
        "attr-dict `:` type($dst) `,` type($src)"
    )

    def __init__(
        self,
        func: str | ActFunc,
        dst: SSAValue,
        dst_ap: AccessAttr,
        src: SSAValue,
        src_ap: AccessAttr,
        *,
        scale: float = 1.0,
        bias: float = 0.0,
        scale_col: tuple[SSAValue, AccessAttr] | None = None,
        bias_col: tuple[SSAValue, AccessAttr] | None = None,
    ):
        props: dict[str, Attribute] = {
            "func": ActFuncAttr(ActFunc(func)),
            "dst_ap": dst_ap,
            "src_ap": src_ap,
            "scale": FloatAttr(scale, f32),
            "bias": FloatAttr(bias, f32),
        }
        if scale_col is not None:
            props["scale_ap"] = scale_col[1]
        if bias_col is not None:
            props["bias_ap"] = bias_col[1]
        super().__init__(
            operands=[
                dst,
                src,
                [scale_col[0]] if scale_col else [],
                [bias_col[0]] if bias_col else [],
            ],
            properties=props,
        )

    def verify_tile_op(self) -> None:
        if self.dst.type.space.data != "sbuf":
            raise VerifyException("loop.act: the destination must be an sbuf tile")
        _same_shape(self, self.dst_ap, self.src_ap, "source and destination")
        for name in ("scale_ap", "bias_ap"):
            col = self.properties.get(name)
            if isinstance(col, AccessAttr) and (
                col.pcount != self.dst_ap.pcount or col.free_elements != 1
            ):
                raise VerifyException(
                    f"loop.act: {name[:-3]} column must be {self.dst_ap.pcount}x1"
                )


@irdl_op_definition
class TensorTensorOp(TileOp):
    """dst = (a * scale) <op> b element-wise on the POOL engine, scale a
    per-partition column of a when given (a multiply-add in one instruction):
    `loop.tensor_tensor "add" %d <...>, %a <...>, %b <...> : ...`,
    `loop.tensor_tensor "add" %d <...>, %a <...>, %d <...> scale (%w : ...) <...> : ...`."""

    name = "loop.tensor_tensor"
    OPCODE: ClassVar[Opcode] = Opcode.TENSOR_TENSOR
    op = prop_def(AluOpAttr)
    dst, dst_ap = accessed()
    a, a_ap = accessed()
    b, b_ap = accessed()
    scale_col, scale_ap = opt_accessed()
    irdl_options = (AttrSizedOperandSegments(as_property=True),)
    SLOTS: ClassVar[Slots] = slots(dst="write", a="read", b="read", scale_col="read")
    custom_directives = (Quoted,)
    assembly_format = (
        "custom<Quoted>($op) $dst $dst_ap `,` $a $a_ap `,` $b $b_ap "
        "(`scale` `(` $scale_col^ `:` type($scale_col) `)` $scale_ap)? attr-dict "
        "`:` type($dst) `,` type($a) `,` type($b)"
    )

    def __init__(
        self,
        op: str | AluOp,
        dst: SSAValue,
        dst_ap: AccessAttr,
        a: SSAValue,
        a_ap: AccessAttr,
        b: SSAValue,
        b_ap: AccessAttr,
        *,
        scale_col: tuple[SSAValue, AccessAttr] | None = None,
    ):
        props: dict[str, Attribute] = {
            "op": AluOpAttr(AluOp(op)),
            "dst_ap": dst_ap,
            "a_ap": a_ap,
            "b_ap": b_ap,
        }
        if scale_col is not None:
            props["scale_ap"] = scale_col[1]
        super().__init__(
            operands=[dst, a, b, [scale_col[0]] if scale_col else []],
            properties=props,
        )

    def verify_tile_op(self) -> None:
        _same_shape(self, self.dst_ap, self.a_ap, "destination and first operand")
        _same_shape(self, self.dst_ap, self.b_ap, "destination and second operand")
        col = self.scale_ap
        if (self.scale_col is None) != (col is None):
            raise VerifyException("loop.tensor_tensor: a scale column needs its access pattern and back")
        if col is not None and (col.pcount != self.a_ap.pcount or col.free_elements != 1):
            raise VerifyException(f"loop.tensor_tensor: scale column must be {self.a_ap.pcount}x1")


@irdl_op_definition
class ReduceOp(TileOp):
    """Reduce the innermost `nreduce` free dims of src (add or max), times `scale`,
    on the POOL engine: pooling windows and row reductions."""

    name = "loop.reduce"
    OPCODE: ClassVar[Opcode] = Opcode.REDUCE
    op = prop_def(ReduceOpAttr)
    dst, dst_ap = accessed()
    src, src_ap = accessed()
    nreduce = prop_def(IntegerAttr)
    scale = prop_def(FloatAttr)
    irdl_options = (ParsePropInAttrDict(),)
    SLOTS: ClassVar[Slots] = slots(dst="write", src="read")
    custom_directives = (Quoted,)
    assembly_format = (
        "custom<Quoted>($op) $dst $dst_ap `,` $src $src_ap attr-dict "
        "`:` type($dst) `,` type($src)"
    )

    def __init__(
        self,
        op: str | ReduceKind,
        dst: SSAValue,
        dst_ap: AccessAttr,
        src: SSAValue,
        src_ap: AccessAttr,
        nreduce: int,
        scale: float = 1.0,
    ):
        super().__init__(
            operands=[dst, src],
            properties={
                "op": ReduceOpAttr(ReduceKind(op)),
                "dst_ap": dst_ap,
                "src_ap": src_ap,
                "nreduce": IntegerAttr(nreduce, i64),
                "scale": FloatAttr(scale, f32),
            },
        )

    def verify_tile_op(self) -> None:
        n = self.nreduce.value.data
        free = self.src_ap.dims[1:]
        if not 1 <= n <= len(free):
            raise VerifyException(
                f"loop.reduce: cannot reduce {n} of the source's {len(free)} free dims"
            )
        kept = int(np.prod([c for _, c in free[: len(free) - n]]))
        if (
            self.dst_ap.pcount != self.src_ap.pcount
            or self.dst_ap.free_elements != kept
        ):
            raise VerifyException(
                f"loop.reduce: destination must be {self.src_ap.pcount}x{kept}"
            )


@irdl_op_definition
class MemsetOp(TileOp):
    """Fill a tile region with a constant (padding): `loop.memset %t <...> = 0.0`."""

    name = "loop.memset"
    OPCODE: ClassVar[Opcode] = Opcode.MEMSET
    dst, dst_ap = accessed()
    value = prop_def(FloatAttr)
    SLOTS: ClassVar[Slots] = slots(dst="write")
    assembly_format = "$dst $dst_ap `=` $value attr-dict `:` type($dst)"

    def __init__(self, dst: SSAValue, dst_ap: AccessAttr, value: float):
        super().__init__(
            operands=[dst],
            properties={"dst_ap": dst_ap, "value": FloatAttr(value, f32)},
        )


def _check_seed(op: Operation, seed: IntegerAttr) -> None:
    if not -(2**31) <= seed.value.data < 2**31:
        raise VerifyException(f"{op.name}: seed {seed.value.data} does not fit 32 bits")


@irdl_op_definition
class RandomOp(TileOp):
    """Fill a tile region with pseudo-random numbers uniform in [low, high) from the
    POOL lanes' generators (`tidal.sim.spec.rng`):
    `loop.random %t <...> seed 7 low 0.0 : f32 high 1.0 : f32 : ...`."""

    name = "loop.random"
    OPCODE: ClassVar[Opcode] = Opcode.RANDOM
    dst, dst_ap = accessed()
    low = prop_def(FloatAttr)
    high = prop_def(FloatAttr)
    seed = prop_def(IntegerAttr[I64])
    SLOTS: ClassVar[Slots] = slots(dst="write")
    assembly_format = (
        "$dst $dst_ap `seed` $seed `low` $low `high` $high attr-dict `:` type($dst)"
    )

    def __init__(self, dst: SSAValue, dst_ap: AccessAttr, low: float, high: float, seed: int):
        super().__init__(
            operands=[dst],
            properties={
                "dst_ap": dst_ap,
                "low": FloatAttr(low, f32),
                "high": FloatAttr(high, f32),
                "seed": IntegerAttr(seed, i64),
            },
        )

    def verify_tile_op(self) -> None:
        low, high = self.low.value.data, self.high.value.data
        if not (math.isfinite(low) and math.isfinite(high) and low <= high):
            raise VerifyException(f"loop.random: bounds [{low}, {high}) are not finite and ordered")
        _check_seed(self, self.seed)


@irdl_op_definition
class DropoutOp(TileOp):
    """Training-mode dropout on the POOL engine: dst = src / (1 - ratio) where the
    lane's next pseudo-random number is >= ratio, else 0:
    `loop.dropout %d <...>, %s <...> seed 7 ratio 0.25 : f32 : ...`."""

    name = "loop.dropout"
    OPCODE: ClassVar[Opcode] = Opcode.DROPOUT
    dst, dst_ap = accessed()
    src, src_ap = accessed()
    ratio = prop_def(FloatAttr)
    seed = prop_def(IntegerAttr[I64])
    SLOTS: ClassVar[Slots] = slots(dst="write", src="read")
    assembly_format = (
        "$dst $dst_ap `,` $src $src_ap `seed` $seed `ratio` $ratio attr-dict "
        "`:` type($dst) `,` type($src)"
    )

    def __init__(
        self,
        dst: SSAValue,
        dst_ap: AccessAttr,
        src: SSAValue,
        src_ap: AccessAttr,
        ratio: float,
        seed: int,
    ):
        super().__init__(
            operands=[dst, src],
            properties={
                "dst_ap": dst_ap,
                "src_ap": src_ap,
                "ratio": FloatAttr(ratio, f32),
                "seed": IntegerAttr(seed, i64),
            },
        )

    def verify_tile_op(self) -> None:
        _same_shape(self, self.dst_ap, self.src_ap, "source and destination")
        if not 0.0 <= self.ratio.value.data < 1.0:
            raise VerifyException(f"loop.dropout: ratio must be in [0, 1), got {self.ratio.value.data}")
        _check_seed(self, self.seed)


@irdl_op_definition
class BernoulliOp(TileOp):
    """1.0 where the lane's next pseudo-random number is below src (a probability),
    else 0.0, on the POOL engine:
    `loop.bernoulli %d <...>, %p <...> seed 7 : ...`."""

    name = "loop.bernoulli"
    OPCODE: ClassVar[Opcode] = Opcode.BERNOULLI
    dst, dst_ap = accessed()
    src, src_ap = accessed()
    seed = prop_def(IntegerAttr[I64])
    SLOTS: ClassVar[Slots] = slots(dst="write", src="read")
    assembly_format = (
        "$dst $dst_ap `,` $src $src_ap `seed` $seed attr-dict `:` type($dst) `,` type($src)"
    )

    def __init__(self, dst: SSAValue, dst_ap: AccessAttr, src: SSAValue, src_ap: AccessAttr, seed: int):
        super().__init__(
            operands=[dst, src],
            properties={"dst_ap": dst_ap, "src_ap": src_ap, "seed": IntegerAttr(seed, i64)},
        )

    def verify_tile_op(self) -> None:
        _same_shape(self, self.dst_ap, self.src_ap, "source and destination")
        _check_seed(self, self.seed)


def dense_f32(array: np.ndarray) -> DenseIntOrFPElementsAttr:
    """A dense f32 attribute built from bytes (never from Python lists)."""
    arr = np.ascontiguousarray(array, dtype=np.float32)
    return DenseIntOrFPElementsAttr(
        TensorType(Float32Type(), arr.shape), BytesAttr(arr.tobytes())
    )


Loop = Dialect(
    "loop",
    [
        AllocOp,
        ConstOp,
        ViewOp,
        NestOp,
        ForOp,
        AllocTileOp,
        CopyOp,
        MatmulOp,
        ActOp,
        TensorTensorOp,
        ReduceOp,
        MemsetOp,
        RandomOp,
        DropoutOp,
        BernoulliOp,
    ],
    [TileType],
)

"""The `accel` dialect: the accelerator's instruction set, one op per instruction.

An `accel.program` holds the program's DRAM inputs/outputs (`accel.io`), its constants
(`accel.const`) and its instructions, either in one sequential *unified order* across
engines or, after `accel-split-streams`, as one `accel.stream` per engine. Repetition
stays structured: `accel.repeat` runs its body `count` times, and the addresses of the
instructions inside are affine in the repeat indices (`i0` = outermost, see `Aff`), so
IR size grows with layers, not with instructions; the binary encoder expands repeats.

    accel.program "small" dram 65536 {
      accel.io input "x" at 0 : tensor<32x8xf32>
      accel.repeat 4 {
        accel.dma 0 <dram 0 + 128 * i0, [[8, 32], [1, 8]]> -> <sbuf 0, 0, [[1, 32], [1, 8]]>
        accel.matmul <psum 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 64, [[1, 32], [1, 32]]>, <sbuf 0, 0, [[1, 32], [1, 8]]> {zero_at = -1 : i64}
      }
    }

Memory operands are `#accel.ap<space pstart, offset, dims>` (`AccessAttr`), exactly
the hardware's access records with affine partition start and byte offset.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import StrEnum

import numpy as np
from tidal.dialects.affine_expr import Aff, format_aff, parse_aff
from tidal.dialects.chip_enums import (
    ActFunc,
    ActFuncAttr,
    AluOp,
    AluOpAttr,
    CmpOp,
    CmpOpAttr,
    EngineAttr,
    EvalInput,
    EvalInputAttr,
    ReduceOpAttr,
    Space,
    SpaceAttr,
    engine_sort_key,
    enum_attr,
)
from tidal.dialects.chip_enums import ReduceOp as ReduceKind
from tidal.sim.isa import const_overlap
from tidal.sim.spec import ACCESS_DIMS, Engine, Instr, Kind, Role, by_mnemonic
from tidal.sim.spec import engine_name as spec_engine_name
from xdsl.dialects.builtin import (
    I64,
    ArrayAttr,
    BytesAttr,
    DenseIntOrFPElementsAttr,
    DenseResourceAttr,
    Float32Type,
    FloatAttr,
    IntAttr,
    IntegerAttr,
    StringAttr,
    TensorType,
    i64,
)
from xdsl.ir import (
    Attribute,
    Block,
    Data,
    Dialect,
    Operation,
    Region,
)
from xdsl.irdl import (
    IRDLOperation,
    ParametrizedAttribute,
    ParsePropInAttrDict,
    irdl_attr_definition,
    irdl_op_definition,
    opt_prop_def,
    prop_def,
    region_def,
    traits_def,
)
from xdsl.irdl.declarative_assembly_format import (
    AttributeVariable,
    CustomDirective,
    ParsingState,
    PrintingState,
    RegionVariable,
    irdl_custom_directive,
)
from xdsl.parser import AttrParser, Parser
from xdsl.printer import Printer
from xdsl.traits import NoTerminator
from xdsl.utils.exceptions import VerifyException
from xdsl.utils.mlir_lexer import MLIRTokenKind

__all__ = [
    "Accel",
    "BernoulliOp",
    "AccessAttr",
    "ActOp",
    "Aff",
    "AffAttr",
    "ConstOp",
    "DmaOp",
    "EvalOp",
    "DropoutOp",
    "HaltOp",
    "InstructionOp",
    "IoKind",
    "IoKindAttr",
    "IoOp",
    "MatmulOp",
    "MemsetOp",
    "NopOp",
    "OverwriteOp",
    "ProgramOp",
    "RandomOp",
    "RefillOp",
    "ReduceOp",
    "RepeatOp",
    "SignalOp",
    "StreamOp",
    "TensorTensorOp",
    "WaitOp",
    "engine_sort_key",
    "repeat_depth",
]

MAX_DIMS = ACCESS_DIMS  # (stride, count) pairs an access record holds


# ---------------------------------------------------------------------------
# Attributes
# ---------------------------------------------------------------------------


@irdl_attr_definition
class AffAttr(Data[Aff]):
    """An affine expression of the enclosing repeat indices: `#accel.aff<3 + 2 * i0>`."""

    name = "accel.aff"

    @classmethod
    def parse_parameter(cls, parser: AttrParser) -> Aff:
        with parser.in_angle_brackets():
            return parse_aff(parser)

    def print_parameter(self, printer: Printer) -> None:
        printer.print_string(f"<{format_aff(self.data)}>")


def _parse_dims(parser: AttrParser) -> list[tuple[int, int]]:
    def pair() -> tuple[int, int]:
        pos = parser.pos
        values = parser.parse_comma_separated_list(
            AttrParser.Delimiter.SQUARE,
            lambda: parser.parse_integer(allow_boolean=False),
        )
        if len(values) != 2:
            parser.raise_error("expected a [stride, count] pair", pos, parser.pos)
        return values[0], values[1]

    return parser.parse_comma_separated_list(AttrParser.Delimiter.SQUARE, pair)


def _fmt_dims(dims: Sequence[tuple[int, int]]) -> str:
    return "[" + ", ".join(f"[{s}, {c}]" for s, c in dims) + "]"


@irdl_attr_definition
class AccessAttr(ParametrizedAttribute):
    """A memory operand: space, partition start, byte offset and up to 5 (stride,
    count) dims in elements, dim 0 being the partition dim (stride 1 on chip).

        #accel.ap<sbuf 0, 1024 + 512 * i0, [[1, 128], [1, 32]]>
        #accel.ap<dram 4096 + 3136 * i0, [[784, 128], [1, 32]]>

    DRAM accesses have no partition start (it is 0); their dim 0 is an ordinary
    strided dim.
    """

    name = "accel.ap"

    space_attr: SpaceAttr
    pstart_attr: AffAttr
    offset_attr: AffAttr
    dims_attr: ArrayAttr[ArrayAttr[IntAttr]]

    @staticmethod
    def get(
        space: str | Space,
        pstart: int | Aff,
        offset: int | Aff,
        dims: Sequence[tuple[int, int]],
    ) -> AccessAttr:
        """`space` is a `Space` or its name (ValueError if it names none)."""
        return AccessAttr(
            SpaceAttr(Space(space)),
            AffAttr(Aff.of(pstart)),
            AffAttr(Aff.of(offset)),
            ArrayAttr(ArrayAttr((IntAttr(int(s)), IntAttr(int(c)))) for s, c in dims),
        )

    @property
    def space(self) -> Space:
        return self.space_attr.data

    @property
    def pstart(self) -> Aff:
        return self.pstart_attr.data

    @property
    def offset(self) -> Aff:
        return self.offset_attr.data

    @property
    def dims(self) -> tuple[tuple[int, int], ...]:
        # Kept beside the parameters once read (the attribute is immutable; the
        # dependence and allocation passes read the dims of each access thousands
        # of times). Not a dataclass field: equality and hashing ignore it.
        dims = self.__dict__.get("_dims")
        if dims is None:
            dims = self.__dict__["_dims"] = tuple(
                (p.data[0].data, p.data[1].data) for p in self.dims_attr.data
            )
        return dims

    @property
    def pcount(self) -> int:
        return self.dims[0][1]

    @property
    def free_counts(self) -> tuple[int, ...]:
        return tuple(c for _, c in self.dims[1:])

    @property
    def free_elements(self) -> int:
        return math.prod(c for _, c in self.dims[1:])

    @property
    def num_elements(self) -> int:
        return self.pcount * self.free_elements

    @property
    def depth(self) -> int:
        """Repeat indices used by the start and offset (max index + 1)."""
        return max(self.pstart.depth, self.offset.depth)

    def __str__(self) -> str:
        return self.text()

    def text(self) -> str:
        """The parameters as printed: `<sbuf 0, 0, [[1, 32], [1, 8]]>`."""
        start = "" if self.space == "dram" else f"{format_aff(self.pstart)}, "
        return (
            f"<{self.space} {start}{format_aff(self.offset)}, {_fmt_dims(self.dims)}>"
        )

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> Sequence[Attribute]:
        start = parser.pos
        with parser.in_angle_brackets():
            space = SpaceAttr.parse_parameter(parser)
            pstart = Aff(0)
            if space != "dram":
                pstart = parse_aff(parser)
                parser.parse_punctuation(",")
            offset = parse_aff(parser)
            parser.parse_punctuation(",")
            dims = _parse_dims(parser)
        # (what `verify` checks, said here at the access's file position: the
        # attribute verifies as it is made, where no position is known)
        if (why := _access_error(space, pstart, dims, offset)) is not None:
            parser.raise_error(why, start, parser.pos)
        return (
            SpaceAttr(space),
            AffAttr(pstart),
            AffAttr(offset),
            ArrayAttr(ArrayAttr((IntAttr(s), IntAttr(c))) for s, c in dims),
        )

    def print_parameters(self, printer: Printer) -> None:
        printer.print_string(self.text())

    def verify(self) -> None:
        if any(len(p.data) != 2 for p in self.dims_attr.data):
            raise VerifyException("access dims must be [stride, count] pairs")
        if (why := _access_error(self.space, self.pstart, self.dims, self.offset)) is not None:
            raise VerifyException(why)


WORD_MIN, WORD_MAX = -(2**31), 2**31 - 1
"""The range of a record word of the binary (`tidal.sim.isa`): every number of an
instruction (a stride, a count, a start, an offset and their steps per repeat
iteration, a repeat's count) is one."""


def _fits_word(x: int) -> bool:
    return WORD_MIN <= x <= WORD_MAX


def _access_error(
    space: str, pstart: Aff, dims: Sequence[tuple[int, int]], offset: Aff = Aff(0)
) -> str | None:
    """Why an access of these parts is malformed, or None."""
    if not 1 <= len(dims) <= MAX_DIMS:
        return f"access must have 1 to {MAX_DIMS} dims, got {len(dims)}"
    if any(c < 1 for _, c in dims):
        return f"access dim counts must be >= 1, got {_fmt_dims(dims)}"
    if not all(_fits_word(s) and _fits_word(c) for s, c in dims):
        return f"access dims must fit 32-bit words ({WORD_MIN} to {WORD_MAX}), got {_fmt_dims(dims)}"
    for what, aff in (("partition start", pstart), ("offset", offset)):
        if not all(_fits_word(x) for x in (aff.base, *aff.steps)):
            return f"access {what} must fit 32-bit words ({WORD_MIN} to {WORD_MAX}), got {format_aff(aff)}"
    if space == "dram" and pstart != Aff(0):
        return "a dram access has no partition start (must be 0)"
    if space != "dram" and dims[0][0] != 1:
        return f"on-chip access partition dim stride must be 1, got {dims[0][0]}"
    return None


def _access(what: str, ap: AccessAttr, allowed: Sequence[str]) -> None:
    if ap.space not in allowed:
        raise VerifyException(
            f"{what} must be in {' or '.join(allowed)}, got {ap.space}"
        )


# ---------------------------------------------------------------------------
# Text helpers shared by the custom formats
# ---------------------------------------------------------------------------


def _f32(x: float) -> float:
    return float(np.float32(x))


def format_f32(x: float) -> str:
    """Shortest text that reads back as the same fp32; inf/nan as their bits."""
    if not math.isfinite(x):
        bits = int(np.array([x], dtype=np.float32).view(np.uint32)[0])
        return f"0x{bits:08X}"
    s = str(np.float32(x))
    mantissa, e, exponent = s.partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    return mantissa + e + exponent


def parse_f32(parser: AttrParser) -> float:
    tok = parser._current_token  # pyright: ignore[reportPrivateUsage]
    if tok.kind == MLIRTokenKind.INTEGER_LIT and tok.text.lower().startswith("0x"):
        bits = parser.parse_integer(allow_boolean=False)
        return float(np.array([bits], dtype=np.uint32).view(np.float32)[0])
    pos = parser.pos
    value = parser.parse_number()
    with np.errstate(over="ignore"):
        single = float(np.float32(value))
    if math.isfinite(value) and not math.isfinite(single):
        # (a NaN or an infinity is written by its bits, as format_f32 prints it)
        parser.raise_error(f"{value} is out of the fp32 range", pos, parser.pos)
    return single


def _parse_access(parser: AttrParser) -> AccessAttr:
    return AccessAttr.new(AccessAttr.parse_parameters(parser))


# Custom directives of the declarative formats: the pieces whose text is not an
# attribute's own (fp32 immediates as `format_f32` spells them, an immediate-or-column
# operand, `>= <aff>`, a body whose empty block prints as `{}`, constant data).


@irdl_custom_directive
class F32(CustomDirective):
    """An fp32 `FloatAttr` as `format_f32` prints it: `0.5`, `3.0e+20`, `0xFF800000`."""

    value: AttributeVariable

    def is_anchorable(self) -> bool:
        return self.value.is_optional

    def is_present(self, op: IRDLOperation) -> bool:
        return self.value.is_present(op)

    def parse(self, parser: Parser, state: ParsingState) -> None:
        self.value.set(state, FloatAttr(parse_f32(parser), 32))

    def print(self, printer: Printer, state: PrintingState, op: IRDLOperation) -> None:
        attr = self.value.get(op)
        assert isinstance(attr, FloatAttr)
        state.print_whitespace(printer)
        printer.print_string(format_f32(attr.value.data))


@irdl_custom_directive
class ImmOrColumn(CustomDirective):
    """An ACT scale or bias: an fp32 immediate (`0.5`) or a per-partition column
    (`<sbuf 0, 64, [[1, 32], [1, 1]]>`), held in two optional properties."""

    imm: AttributeVariable
    col: AttributeVariable

    def is_anchorable(self) -> bool:
        return True

    def is_present(self, op: IRDLOperation) -> bool:
        return self.imm.is_present(op) or self.col.is_present(op)

    def parse(self, parser: Parser, state: ParsingState) -> None:
        if parser._current_token.kind == MLIRTokenKind.LESS:  # pyright: ignore[reportPrivateUsage]
            self.col.set(state, _parse_access(parser))
        else:
            self.imm.set(state, FloatAttr(parse_f32(parser), 32))

    def print(self, printer: Printer, state: PrintingState, op: IRDLOperation) -> None:
        state.print_whitespace(printer)
        col = self.col.get(op)
        if isinstance(col, AccessAttr):
            printer.print_string(col.text())
            return
        imm = self.imm.get(op)
        assert isinstance(imm, FloatAttr)
        printer.print_string(format_f32(imm.value.data))


@irdl_custom_directive
class AtLeast(CustomDirective):
    """`>= <aff>`: the value an `accel.wait` waits for (`>=` is two tokens to the lexer)."""

    value: AttributeVariable

    def parse(self, parser: Parser, state: ParsingState) -> None:
        parser.parse_punctuation(">")
        parser.parse_punctuation("=")
        self.value.set(state, AffAttr(parse_aff(parser)))

    def print(self, printer: Printer, state: PrintingState, op: IRDLOperation) -> None:
        attr = self.value.get(op)
        assert isinstance(attr, AffAttr)
        state.print_whitespace(printer)
        printer.print_string(f">= {format_aff(attr.data)}")


@irdl_custom_directive
class Body(CustomDirective):
    """A single-block region without block arguments: `{ ... }`, and `{}` for none."""

    body: RegionVariable

    def parse(self, parser: Parser, state: ParsingState) -> None:
        region = parser.parse_region()
        if not region.blocks:
            region.add_block(Block())
        self.body.set(state, region)

    def print(self, printer: Printer, state: PrintingState, op: IRDLOperation) -> None:
        state.print_whitespace(printer)
        printer.print_region(
            self.body.get(op), print_entry_block_args=False, print_empty_block=False
        )


@irdl_custom_directive
class ConstData(CustomDirective):
    """`dense<...> : tensor<...xf32>`; says how to get the data back when it was elided."""

    value: AttributeVariable

    def parse(self, parser: Parser, state: ParsingState) -> None:
        pos = parser.pos
        value = parser.parse_attribute()
        if not isinstance(value, DenseIntOrFPElementsAttr):
            elided = (
                isinstance(value, DenseResourceAttr)
                and value.resource_handle.data == "__elided__"
            )
            hint = (
                " (tidal-objdump elides large constants; --full-constants prints them)"
                if elided
                else ""
            )
            parser.raise_error(
                f"expected dense<...> : tensor<...xf32>{hint}", pos, parser.pos
            )
        self.value.set(state, value)

    def print(self, printer: Printer, state: PrintingState, op: IRDLOperation) -> None:
        state.print_whitespace(printer)
        printer.print_attribute(self.value.get(op))  # pyright: ignore[reportArgumentType]


def _region_of(ops: Sequence[Operation] | Region) -> Region:
    if isinstance(ops, Region):
        return ops
    return Region(Block(ops))


def repeat_depth(op: Operation) -> int:
    """Number of accel.repeat ops enclosing `op` inside its stream or program."""
    depth = 0
    parent = op.parent_op()
    while isinstance(parent, RepeatOp):
        depth += 1
        parent = parent.parent_op()
    return depth


def _int(v: int) -> IntegerAttr:
    return IntegerAttr(int(v), i64)


# ---------------------------------------------------------------------------
# Structure: program, io, const, stream, repeat
# ---------------------------------------------------------------------------


class IoKind(StrEnum):
    """Whether an `accel.io` tensor is a program input or output."""

    INPUT = "input"
    OUTPUT = "output"


IoKindAttr = enum_attr(IoKind, "accel.io_kind", "io kind")


@irdl_op_definition
class ProgramOp(IRDLOperation):
    """A whole accelerator program for the chip preset `chip`, using `dram_bytes` of
    DRAM. Holds accel.io and accel.const ops and either instructions and repeats in
    one unified order, or only accel.stream ops (one per engine).

        accel.program "default" dram 1048576 {
          accel.io input "x" at 0 : tensor<8x784xf32>
          accel.stream dma0 {
            accel.dma 0 <dram 0, [[784, 8], [1, 784]]> -> <sbuf 0, 0, [[1, 8], [1, 784]]>
          }
        }
    """

    name = "accel.program"

    chip = prop_def(StringAttr)
    dram_bytes = prop_def(IntegerAttr[I64])
    body = region_def("single_block")

    traits = traits_def(NoTerminator())
    custom_directives = (Body,)
    assembly_format = (
        "$chip `dram` $dram_bytes attr-dict-with-keyword custom<Body>($body)"
    )

    def __init__(self, chip: str, dram_bytes: int, ops: Sequence[Operation] | Region):
        super().__init__(
            properties={"chip": StringAttr(chip), "dram_bytes": _int(dram_bytes)},
            regions=[_region_of(ops)],
        )

    @property
    def is_split(self) -> bool:
        """No instruction or repeat outside an accel.stream (an empty program is)."""
        return not any(
            isinstance(op, InstructionOp | RepeatOp) for op in self.body.block.ops
        )

    @property
    def self_modifying(self) -> bool:
        """Whether the program rewrites its own instructions (accel.eval and
        accel.overwrite: a loop's early exit), which passes that move or fold waits
        leave alone."""
        return any(isinstance(op, EvalOp | OverwriteOp) for op in self.walk())

    @property
    def streams(self) -> list[StreamOp]:
        return [op for op in self.body.block.ops if isinstance(op, StreamOp)]

    def verify_(self) -> None:
        if self.dram_bytes.value.data <= 0:
            raise VerifyException("dram_bytes must be positive")
        kinds = {"stream": 0, "code": 0}
        engines: set[str] = set()
        for op in self.body.block.ops:
            if isinstance(op, IoOp | ConstOp):
                continue
            if isinstance(op, StreamOp):
                kinds["stream"] += 1
                if op.engine in engines:
                    raise VerifyException(
                        f"two accel.stream ops for engine {op.engine}"
                    )
                engines.add(op.engine)
            elif isinstance(op, InstructionOp | RepeatOp):
                kinds["code"] += 1
            else:
                raise VerifyException(
                    f"accel.program may not contain {op.name} "
                    "(only io, const, stream, repeat and instructions)"
                )
        if kinds["stream"] and kinds["code"]:
            raise VerifyException(
                "accel.program mixes accel.stream ops with instructions outside streams"
            )
        spans = [  # (a dynamic dim, which accel.io refuses, counts as none here)
            (what, op.addr.value.data,
             op.addr.value.data + 4 * math.prod(max(d, 0) for d in ty.get_shape()), const)
            for op in self.body.block.ops
            if isinstance(op, ConstOp) or (isinstance(op, IoOp) and op.kind.data.value == "input")
            for what, ty, const in [
                ("accel.const", op.value.type, True) if isinstance(op, ConstOp)
                else (f"accel.io '{op.tensor_name.data}'", op.type, False)
            ]
        ]
        if (why := const_overlap(spans)) is not None:
            raise VerifyException(why)


@irdl_op_definition
class IoOp(IRDLOperation):
    """A program input or output: a dense fp32 tensor at a DRAM byte address.

    accel.io input "x" at 0 : tensor<8x784xf32>
    accel.io output "y" at 25088 : tensor<8x10xf32>
    """

    name = "accel.io"

    kind = prop_def(IoKindAttr)
    tensor_name = prop_def(StringAttr, prop_name="name")
    addr = prop_def(IntegerAttr[I64])
    type = prop_def(TensorType)
    assembly_format = "$kind $name `at` $addr `:` $type attr-dict"

    def __init__(self, kind: str | IoKind, name: str, addr: int, type: TensorType):
        super().__init__(
            properties={
                "kind": IoKindAttr(IoKind(kind)),
                "name": StringAttr(name),
                "addr": _int(addr),
                "type": type,
            }
        )

    def verify_(self) -> None:
        if self.addr.value.data < 0:
            raise VerifyException("io address must be >= 0")
        if not isinstance(self.type.element_type, Float32Type):
            raise VerifyException("io tensors must be f32")
        shape = list(self.type.get_shape())
        if not all(0 <= d <= WORD_MAX for d in shape):
            # (the binary's IO table holds each dim within 32 bits)
            dims = ", ".join("?" if d < 0 else str(d) for d in shape)
            raise VerifyException(f"io tensor shape [{dims}] must be static, each dim in [0, 2^31)")


@irdl_op_definition
class ConstOp(IRDLOperation):
    """Constant fp32 data placed in DRAM at a byte address before the program runs.

    accel.const at 4096 dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>
    """

    name = "accel.const"

    addr = prop_def(IntegerAttr[I64])
    value = prop_def(DenseIntOrFPElementsAttr)
    custom_directives = (ConstData,)
    assembly_format = "`at` $addr custom<ConstData>($value) attr-dict"

    def __init__(self, addr: int, value: DenseIntOrFPElementsAttr):
        super().__init__(properties={"addr": _int(addr), "value": value})

    @staticmethod
    def from_numpy(addr: int, array: np.ndarray) -> ConstOp:
        data = np.ascontiguousarray(array, dtype="<f4")
        type = TensorType(Float32Type(), data.shape)
        return ConstOp(addr, DenseIntOrFPElementsAttr(type, BytesAttr(data.tobytes())))

    def to_numpy(self) -> np.ndarray:
        shape = self.value.get_shape()
        return np.frombuffer(self.value.data.data, dtype="<f4").reshape(shape).copy()

    def verify_(self) -> None:
        if self.addr.value.data < 0:
            raise VerifyException("const address must be >= 0")
        if not isinstance(self.value.get_element_type(), Float32Type):
            raise VerifyException("const data must be f32")


@irdl_op_definition
class StreamOp(IRDLOperation):
    """The instructions of one engine, in its program order (repeats kept).

    accel.stream pe {
      accel.matmul <psum 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 32]]>, <sbuf 0, 128, [[1, 32], [1, 8]]> {zero_at = -1 : i64}
    }
    """

    name = "accel.stream"

    engine_attr = prop_def(EngineAttr, prop_name="engine")
    body = region_def("single_block")

    traits = traits_def(NoTerminator())
    custom_directives = (Body,)
    assembly_format = "$engine attr-dict-with-keyword custom<Body>($body)"

    def __init__(self, engine: str, ops: Sequence[Operation] | Region):
        super().__init__(
            properties={"engine": EngineAttr(engine)}, regions=[_region_of(ops)]
        )

    @property
    def engine(self) -> str:
        return self.engine_attr.data

    def verify_(self) -> None:
        if not isinstance(self.parent_op(), ProgramOp):
            raise VerifyException("accel.stream must be directly inside accel.program")
        for op in self.body.walk():
            if op is self:
                continue
            if not isinstance(op, InstructionOp | RepeatOp):
                raise VerifyException(
                    f"accel.stream may only contain instructions and repeats, got {op.name}"
                )
            if isinstance(op, InstructionOp) and op.engine_name() != self.engine:
                raise VerifyException(
                    f"{op.name} runs on engine {op.engine_name()}, "
                    f"not on this stream's engine {self.engine}"
                )


@irdl_op_definition
class RepeatOp(IRDLOperation):
    """Runs its body `count` times; instructions inside address memory with affine
    expressions of the repeat indices (`i0` = the outermost enclosing repeat).

        accel.repeat 4 {
          accel.dma 1 <dram 0 + 512 * i0, [[1, 1], [1, 128]]> -> <sbuf 0, 0 + 512 * i0, [[1, 1], [1, 128]]>
        }
    """

    name = "accel.repeat"

    count_attr = prop_def(IntegerAttr[I64], prop_name="count")
    body = region_def("single_block")

    traits = traits_def(NoTerminator())
    custom_directives = (Body,)
    assembly_format = "$count attr-dict-with-keyword custom<Body>($body)"

    def __init__(self, count: int, ops: Sequence[Operation] | Region):
        super().__init__(properties={"count": _int(count)}, regions=[_region_of(ops)])

    @property
    def count(self) -> int:
        return self.count_attr.value.data

    def verify_(self) -> None:
        if not 1 <= self.count <= WORD_MAX:
            raise VerifyException(f"repeat count must be 1 to {WORD_MAX}, got {self.count}")
        if not isinstance(self.parent_op(), ProgramOp | StreamOp | RepeatOp):
            raise VerifyException(
                "accel.repeat must be inside accel.program, accel.stream or accel.repeat"
            )
        for op in self.body.block.ops:
            if not isinstance(op, InstructionOp | RepeatOp):
                raise VerifyException(
                    f"accel.repeat may only contain instructions and repeats, got {op.name}"
                )


# ---------------------------------------------------------------------------
# Instructions
# ---------------------------------------------------------------------------


class InstructionOp(IRDLOperation):
    """Base of every instruction op. `signal`: semaphore incremented by 1 when the
    instruction completes; `origin`: the source graph op, for debugging and traces;
    `wait_sem` and `wait_value` (both or neither; never on accel.wait itself): the
    instruction issues only once semaphore `wait_sem` >= `wait_value`, a wait folded
    into the instruction (accel-fold-waits)::

        accel.act ... {wait_sem = 3 : i64, wait_value = #accel.aff<2 + 1 * i0>}
    """

    signal = opt_prop_def(IntegerAttr[I64])
    origin = opt_prop_def(StringAttr)
    wait_sem = opt_prop_def(IntegerAttr[I64])
    wait_value = opt_prop_def(AffAttr)
    # Properties the format does not show (signal, origin, wait, zero_at) go in its
    # trailing attribute dictionary.
    irdl_options = (ParsePropInAttrDict(),)

    def _init(
        self, props: dict[str, Attribute | None], signal: int | None, origin: str | None
    ) -> None:
        props["signal"] = None if signal is None else _int(signal)
        props["origin"] = None if origin is None else StringAttr(origin)
        IRDLOperation.__init__(self, properties=props)

    @classmethod
    def entry(cls) -> Instr:
        """The instruction's datasheet entry (`tidal.sim.spec`): its engine, operand
        fields with read/write roles and allowed spaces, cost and semantics."""
        return by_mnemonic(cls.name)

    def engine_name(self) -> str:
        """The engine that runs the instruction (the entry's engine kind)."""
        kind = self.entry().engine
        assert kind is not None, f"{self.name} names its engine"
        return kind.value

    def _memory_operands(self, role: Role) -> list[AccessAttr]:
        out: list[AccessAttr] = []
        for f in self.entry().fields:
            if f.role is not role:
                continue
            ap = getattr(
                self, f.ir_name if f.kind is Kind.ACCESS else f"{f.ir_name}_col"
            )
            if ap is not None:
                out.append(ap)
        return out

    def reads(self) -> list[AccessAttr]:
        """The memory operands the entry marks read (scalar columns included)."""
        return self._memory_operands(Role.READ)

    def writes(self) -> list[AccessAttr]:
        return self._memory_operands(Role.WRITE)

    def accesses(self) -> list[AccessAttr]:
        """Every memory operand, in record order."""
        return self.writes() + [a for a in self.reads() if a not in self.writes()]

    def affine_values(self) -> list[Aff]:
        """Every affine value of the instruction (to check repeat depth)."""
        out: list[Aff] = []
        for ap in self.accesses():
            out += [ap.pstart, ap.offset]
        if self.wait_value is not None:
            out.append(self.wait_value.data)
        return out

    def set_signal(self, sem: int) -> None:
        self.signal = _int(sem)

    @property
    def wait(self) -> tuple[int, Aff] | None:
        """(semaphore, value) of the wait folded into the instruction, if any."""
        if self.wait_sem is None or self.wait_value is None:
            return None
        return self.wait_sem.value.data, self.wait_value.data

    def set_wait(self, sem: int, value: int | Aff) -> None:
        self.wait_sem = _int(sem)
        self.wait_value = AffAttr(Aff.of(value))

    @classmethod
    def _memory_fields(cls) -> tuple[tuple[str, bool, tuple[Space, ...], str], ...]:
        """`(property, optional, allowed spaces, name in messages)` of each memory
        operand field, in record order; worked out once per op class."""
        plan = _MEMORY_FIELDS.get(cls.name)
        if plan is None:
            short = cls.name.removeprefix("accel.")
            plan = tuple(
                (f.ir_name, False, f.spaces, f"{short} {f.name}")
                if f.kind is Kind.ACCESS
                else (f"{f.ir_name}_col", True, f.spaces, f"{short} {f.name} column")
                for f in cls.entry().fields
                if f.kind is Kind.ACCESS or f.kind is Kind.SCALAR
            )
            _MEMORY_FIELDS[cls.name] = plan
        return plan

    def _checked_accesses(self) -> int:
        """Check that every memory operand is in a space its datasheet field allows;
        the repeat indices the operands use (max index + 1). One pass over the
        fields: verification runs after every pass, on every instruction."""
        used = 0
        for prop, optional, spaces, what in self._memory_fields():
            ap = getattr(self, prop)
            if ap is None and optional:
                continue
            if ap.space not in spaces:
                _access(what, ap, spaces)
            used = max(used, ap.pstart.depth, ap.offset.depth)
        return used

    def verify_operands(self) -> None:
        """Ops add their shape checks here (the spaces are checked before)."""

    def verify_(self) -> None:
        if self.signal is not None and self.signal.value.data < 0:
            raise VerifyException(
                f"signal semaphore must be >= 0, got {self.signal.value.data}"
            )
        for v in self.affine_values():  # (each a word, or words, of the record)
            if not all(WORD_MIN <= x <= WORD_MAX for x in (v.base, *v.steps)):
                raise VerifyException(f"affine value {v} does not fit the binary's 32-bit words")
        if shadow := sorted(set(self.attributes) & set(type(self).get_irdl_definition().properties)):
            # (`{scale = "abc"}` after an act: kept as an attribute no pass reads)
            raise VerifyException(
                f"attribute '{shadow[0]}' names one of the op's own fields; "
                "write it in the op's syntax"
            )
        for sem in (self.signal, self.wait_sem, getattr(self, "sem", None)):
            if isinstance(sem, IntegerAttr) and not sem.value.data <= WORD_MAX:
                raise VerifyException(f"semaphore {sem.value.data} does not fit the binary's 32-bit words")
        used = self._checked_accesses()
        if (self.wait_sem is None) != (self.wait_value is None):
            raise VerifyException("wait_sem and wait_value go together")
        if self.wait_sem is not None and self.wait_value is not None:
            if isinstance(self, WaitOp):
                raise VerifyException("accel.wait cannot carry a folded wait")
            if self.wait_sem.value.data < 0:
                raise VerifyException(
                    f"wait semaphore must be >= 0, got {self.wait_sem.value.data}"
                )
            used = max(used, self.wait_value.data.depth)
        self.verify_operands()
        parent = self.parent_op()
        if parent is not None and not isinstance(
            parent, ProgramOp | StreamOp | RepeatOp
        ):
            raise VerifyException(
                f"{self.name} must be inside accel.program, accel.stream or accel.repeat"
            )
        if used:  # the enclosing repeats (repeat_depth) must provide i0 .. i<used-1>
            depth = 0
            while isinstance(parent, RepeatOp):
                depth += 1
                parent = parent.parent_op()
            if used > depth:
                raise VerifyException(
                    f"{self.name} uses repeat index i{used - 1} but is nested in "
                    f"{depth} accel.repeat op(s)"
                )


_MEMORY_FIELDS: dict[str, tuple[tuple[str, bool, tuple[Space, ...], str], ...]] = {}


def _check_onchip_same_shape(what: str, dst: AccessAttr, src: AccessAttr) -> None:
    if dst.pcount != src.pcount:
        raise VerifyException(
            f"{what} partition counts differ: dst {dst.pcount}, src {src.pcount}"
        )
    if dst.free_elements != src.free_elements:
        raise VerifyException(
            f"{what} free element counts differ: dst {dst.free_elements}, "
            f"src {src.free_elements}"
        )


@irdl_op_definition
class DmaOp(InstructionOp):
    """Copies the i-th element of `src` to the i-th element of `dst` on DMA queue
    `queue` (engine dma<queue>); any spaces.

        accel.dma 0 <dram 0, [[784, 32], [1, 8]]> -> <sbuf 0, 0, [[1, 32], [1, 8]]> {signal = 3 : i64, origin = "gemm0"}
    """

    name = "accel.dma"

    queue = prop_def(IntegerAttr[I64])
    src = prop_def(AccessAttr)
    dst = prop_def(AccessAttr)
    assembly_format = "$queue $src `->` $dst attr-dict"

    def __init__(
        self,
        queue: int,
        src: AccessAttr,
        dst: AccessAttr,
        *,
        signal: int | None = None,
        origin: str | None = None,
    ):
        self._init({"queue": _int(queue), "src": src, "dst": dst}, signal, origin)

    def engine_name(self) -> str:
        return spec_engine_name(Engine.DMA0 + self.queue.value.data)

    def verify_operands(self) -> None:
        super().verify_operands()
        if self.queue.value.data < 0:
            raise VerifyException(
                f"dma queue must be >= 0, got {self.queue.value.data}"
            )
        if self.src.num_elements != self.dst.num_elements:
            raise VerifyException(
                f"dma element counts differ: src {self.src.num_elements}, "
                f"dst {self.dst.num_elements}"
            )


@irdl_op_definition
class MatmulOp(InstructionOp):
    """dst[M, N] (+)= stationary[K, M]^T @ moving[K, N] on the PE array: K is the
    partition count of stationary and moving, M the free size of stationary (the
    partitions of dst), N the free size of moving and dst.

    `zero_at` absent: accumulate into dst; -1: overwrite; L >= 0: overwrite exactly
    when the index i_L of enclosing repeat L is 0 (accumulate over the rest).

        accel.matmul <psum 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 32]]>, <sbuf 0, 128, [[1, 32], [1, 8]]> {zero_at = 0 : i64}
    """

    name = "accel.matmul"

    dst = prop_def(AccessAttr)
    stationary = prop_def(AccessAttr)
    moving = prop_def(AccessAttr)
    zero_at = opt_prop_def(IntegerAttr[I64])
    assembly_format = "$dst `,` $stationary `,` $moving attr-dict"

    def __init__(
        self,
        dst: AccessAttr,
        stationary: AccessAttr,
        moving: AccessAttr,
        *,
        zero_at: int | None = None,
        signal: int | None = None,
        origin: str | None = None,
    ):
        props: dict[str, Attribute | None] = {
            "dst": dst,
            "stationary": stationary,
            "moving": moving,
            "zero_at": None if zero_at is None else _int(zero_at),
        }
        self._init(props, signal, origin)

    @property
    def zero_at_level(self) -> int | None:
        return None if self.zero_at is None else self.zero_at.value.data

    def reads(self) -> list[AccessAttr]:
        acc = [] if self.zero_at_level == -1 else [self.dst]  # accumulating reads dst
        return [*super().reads(), *acc]

    def verify_operands(self) -> None:
        super().verify_operands()
        k_s, k_m = self.stationary.pcount, self.moving.pcount
        if k_s != k_m:
            raise VerifyException(
                f"matmul contraction sizes differ: stationary has {k_s} partitions, "
                f"moving {k_m}"
            )
        if self.stationary.free_elements != self.dst.pcount:
            raise VerifyException(
                f"matmul M mismatch: stationary free size {self.stationary.free_elements}"
                f" != dst partitions {self.dst.pcount}"
            )
        if self.moving.free_elements != self.dst.free_elements:
            raise VerifyException(
                f"matmul N mismatch: moving free size {self.moving.free_elements}"
                f" != dst free size {self.dst.free_elements}"
            )
        level = self.zero_at_level
        if level is not None and level < -1:
            raise VerifyException(
                f"matmul zero_at must be -1 or a repeat level, got {level}"
            )
        if level is not None and level >= 0 and level >= repeat_depth(self):
            raise VerifyException(
                f"matmul zero_at = {level} names repeat level i{level}, but the "
                f"instruction is nested in {repeat_depth(self)} accel.repeat op(s)"
            )


@irdl_op_definition
class ActOp(InstructionOp):
    """dst = func(src * scale + bias) on the ACT engine, element-wise. scale and bias
    are fp32 immediates or per-partition fp32 columns (one element per partition).

        accel.act relu <sbuf 0, 0, [[1, 32], [1, 8]]>, <psum 0, 0, [[1, 32], [1, 8]]> scale 0.5 bias <sbuf 0, 64, [[1, 32], [1, 1]]>
    """

    name = "accel.act"

    func = prop_def(ActFuncAttr)
    dst = prop_def(AccessAttr)
    src = prop_def(AccessAttr)
    scale = opt_prop_def(FloatAttr)
    bias = opt_prop_def(FloatAttr)
    scale_col = opt_prop_def(AccessAttr)
    bias_col = opt_prop_def(AccessAttr)
    custom_directives = (ImmOrColumn,)
    assembly_format = (
        "$func $dst `,` $src (`scale` custom<ImmOrColumn>($scale, $scale_col)^)? "
        "(`bias` custom<ImmOrColumn>($bias, $bias_col)^)? attr-dict"
    )

    def __init__(
        self,
        func: str | ActFunc,
        dst: AccessAttr,
        src: AccessAttr,
        *,
        scale: float = 1.0,
        bias: float = 0.0,
        scale_col: AccessAttr | None = None,
        bias_col: AccessAttr | None = None,
        signal: int | None = None,
        origin: str | None = None,
    ):
        props: dict[str, Attribute | None] = {
            "func": ActFuncAttr(ActFunc(func)),
            "dst": dst,
            "src": src,
            "scale": None if scale_col or scale == 1.0 else FloatAttr(float(scale), 32),
            "bias": None if bias_col or bias == 0.0 else FloatAttr(float(bias), 32),
            "scale_col": scale_col,
            "bias_col": bias_col,
        }
        self._init(props, signal, origin)

    @property
    def scale_value(self) -> float:
        return 1.0 if self.scale is None else self.scale.value.data

    @property
    def bias_value(self) -> float:
        return 0.0 if self.bias is None else self.bias.value.data

    def verify_operands(self) -> None:
        super().verify_operands()
        _check_onchip_same_shape("act", self.dst, self.src)
        for what, imm, col in (
            ("scale", self.scale, self.scale_col),
            ("bias", self.bias, self.bias_col),
        ):
            if col is None:
                continue
            if imm is not None:
                raise VerifyException(
                    f"act has both an immediate {what} and a {what} column"
                )
            if col.pcount != self.dst.pcount or col.free_elements != 1:
                raise VerifyException(
                    f"act {what} column must have one element on each of the "
                    f"{self.dst.pcount} dst partitions"
                )


@irdl_op_definition
class TensorTensorOp(InstructionOp):
    """dst = (a * scale) <op> b element-wise on the POOL engine (add, sub, mul, max,
    min); `scale`, when given, is an fp32 immediate or a per-partition fp32 column
    of a (NKI's scalar_tensor_tensor: a multiply-add in one instruction).

    accel.tensor_tensor add <sbuf 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 32, [[1, 32], [1, 8]]>, <sbuf 0, 64, [[1, 32], [1, 8]]>
    accel.tensor_tensor add <sbuf 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 32, [[1, 32], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]> scale <sbuf 0, 96, [[1, 32], [1, 1]]>
    """

    name = "accel.tensor_tensor"

    op = prop_def(AluOpAttr)
    dst = prop_def(AccessAttr)
    a = prop_def(AccessAttr)
    b = prop_def(AccessAttr)
    scale = opt_prop_def(FloatAttr)
    scale_col = opt_prop_def(AccessAttr)
    custom_directives = (ImmOrColumn,)
    assembly_format = (
        "$op $dst `,` $a `,` $b (`scale` custom<ImmOrColumn>($scale, $scale_col)^)? attr-dict"
    )

    def __init__(
        self,
        op: str | AluOp,
        dst: AccessAttr,
        a: AccessAttr,
        b: AccessAttr,
        *,
        scale: float = 1.0,
        scale_col: AccessAttr | None = None,
        signal: int | None = None,
        origin: str | None = None,
    ):
        self._init(
            {
                "op": AluOpAttr(AluOp(op)),
                "dst": dst,
                "a": a,
                "b": b,
                "scale": None if scale_col or scale == 1.0 else FloatAttr(float(scale), 32),
                "scale_col": scale_col,
            },
            signal,
            origin,
        )

    @property
    def scale_value(self) -> float:
        return 1.0 if self.scale is None else self.scale.value.data

    def verify_operands(self) -> None:
        super().verify_operands()
        _check_onchip_same_shape("tensor_tensor a", self.dst, self.a)
        _check_onchip_same_shape("tensor_tensor b", self.dst, self.b)
        col = self.scale_col
        if col is None:
            return
        if self.scale is not None:
            raise VerifyException("tensor_tensor has both an immediate scale and a scale column")
        if col.pcount != self.a.pcount or col.free_elements != 1:
            raise VerifyException(
                f"tensor_tensor scale column must have one element on each of the "
                f"{self.a.pcount} partitions of a"
            )


@irdl_op_definition
class ReduceOp(InstructionOp):
    """Reduces the innermost `nreduce` free dims of src with add or max (times
    `scale`) into dst on the POOL engine, per partition.

        accel.reduce add <sbuf 0, 0, [[1, 32], [1, 1]]>, <sbuf 0, 64, [[1, 32], [1, 49]]> over 1 scale 0.0204082
    """

    name = "accel.reduce"

    op = prop_def(ReduceOpAttr)
    dst = prop_def(AccessAttr)
    src = prop_def(AccessAttr)
    nreduce = prop_def(IntegerAttr[I64])
    scale = opt_prop_def(FloatAttr)
    custom_directives = (F32,)
    assembly_format = (
        "$op $dst `,` $src `over` $nreduce (`scale` custom<F32>($scale)^)? attr-dict"
    )

    def __init__(
        self,
        op: str | ReduceKind,
        dst: AccessAttr,
        src: AccessAttr,
        nreduce: int,
        *,
        scale: float = 1.0,
        signal: int | None = None,
        origin: str | None = None,
    ):
        props: dict[str, Attribute | None] = {
            "op": ReduceOpAttr(ReduceKind(op)),
            "dst": dst,
            "src": src,
            "nreduce": _int(nreduce),
            "scale": None if scale == 1.0 else FloatAttr(float(scale), 32),
        }
        self._init(props, signal, origin)

    @property
    def scale_value(self) -> float:
        return 1.0 if self.scale is None else self.scale.value.data

    def verify_operands(self) -> None:
        super().verify_operands()
        n = self.nreduce.value.data
        free = self.src.free_counts
        if not 1 <= n <= len(free):
            raise VerifyException(
                f"reduce over {n} dims, but src has {len(free)} free dim(s)"
            )
        if self.dst.pcount != self.src.pcount:
            raise VerifyException(
                f"reduce partition counts differ: dst {self.dst.pcount}, "
                f"src {self.src.pcount}"
            )
        kept = math.prod(free[: len(free) - n])
        if self.dst.free_elements != kept:
            raise VerifyException(
                f"reduce dst free size {self.dst.free_elements} != {kept} "
                "(the product of the src's non-reduced free counts)"
            )


@irdl_op_definition
class MemsetOp(InstructionOp):
    """Fills dst with an fp32 value on the POOL engine.

    accel.memset <sbuf 0, 0, [[1, 32], [1, 64]]>, 0xFF800000
    """

    name = "accel.memset"

    dst = prop_def(AccessAttr)
    value = prop_def(FloatAttr)
    custom_directives = (F32,)
    assembly_format = "$dst `,` custom<F32>($value) attr-dict"

    def __init__(
        self,
        dst: AccessAttr,
        value: float,
        *,
        signal: int | None = None,
        origin: str | None = None,
    ):
        self._init({"dst": dst, "value": FloatAttr(float(value), 32)}, signal, origin)


def _check_seed(seed: IntegerAttr) -> None:
    if not -(2**31) <= seed.value.data < 2**31:
        raise VerifyException(f"seed {seed.value.data} does not fit 32 bits")


@irdl_op_definition
class RandomOp(InstructionOp):
    """Fills dst with pseudo-random numbers uniform in [low, high) from the POOL lanes'
    generators, seeded by `seed` (`tidal.sim.spec.rng`).

    accel.random <sbuf 0, 0, [[1, 32], [1, 64]]>, 0.0, 1.0 seed 7
    """

    name = "accel.random"

    dst = prop_def(AccessAttr)
    low = prop_def(FloatAttr)
    high = prop_def(FloatAttr)
    seed = prop_def(IntegerAttr[I64])
    custom_directives = (F32,)
    assembly_format = "$dst `,` custom<F32>($low) `,` custom<F32>($high) `seed` $seed attr-dict"

    def __init__(
        self,
        dst: AccessAttr,
        low: float,
        high: float,
        seed: int,
        *,
        signal: int | None = None,
        origin: str | None = None,
    ):
        props: dict[str, Attribute | None] = {
            "dst": dst,
            "low": FloatAttr(float(low), 32),
            "high": FloatAttr(float(high), 32),
            "seed": _int(seed),
        }
        self._init(props, signal, origin)

    def verify_operands(self) -> None:
        super().verify_operands()
        low, high = self.low.value.data, self.high.value.data
        if not (math.isfinite(low) and math.isfinite(high) and low <= high):
            raise VerifyException(f"random bounds [{low}, {high}) are not finite and ordered")
        _check_seed(self.seed)


@irdl_op_definition
class DropoutOp(InstructionOp):
    """Training-mode dropout on the POOL engine: dst = src / (1 - ratio) where the
    lane's next pseudo-random number (as accel.random's, seeded by `seed`) is >=
    ratio, else 0.

    accel.dropout <sbuf 0, 0, [[1, 32], [1, 64]]>, <sbuf 0, 256, [[1, 32], [1, 64]]> ratio 0.25 seed 7
    """

    name = "accel.dropout"

    dst = prop_def(AccessAttr)
    src = prop_def(AccessAttr)
    ratio = prop_def(FloatAttr)
    seed = prop_def(IntegerAttr[I64])
    custom_directives = (F32,)
    assembly_format = "$dst `,` $src `ratio` custom<F32>($ratio) `seed` $seed attr-dict"

    def __init__(
        self,
        dst: AccessAttr,
        src: AccessAttr,
        ratio: float,
        seed: int,
        *,
        signal: int | None = None,
        origin: str | None = None,
    ):
        props: dict[str, Attribute | None] = {
            "dst": dst,
            "src": src,
            "ratio": FloatAttr(float(ratio), 32),
            "seed": _int(seed),
        }
        self._init(props, signal, origin)

    def verify_operands(self) -> None:
        super().verify_operands()
        _check_onchip_same_shape("dropout src", self.dst, self.src)
        if not 0.0 <= self.ratio.value.data < 1.0:
            raise VerifyException(f"dropout ratio must be in [0, 1), got {self.ratio.value.data}")
        _check_seed(self.seed)


@irdl_op_definition
class EvalOp(InstructionOp):
    """A loop's evaluation instruction (early exit, seed 000) on a DMA queue: reads
    a and b, reduces `input` (a, |a|, a - b or |a - b|) with `reduce` and writes 1.0 to dst if the result `cmp` `threshold` holds (the loop
    goes on), else 0.0. (A mean compares the sum with threshold times the count.)

    accel.eval 0 max abs_a_minus_b lt <dram 64, [[1, 1]]>, <dram 0, [[1, 8]]>, <dram 32, [[1, 8]]> threshold 1.0e-03
    """

    name = "accel.eval"

    queue = prop_def(IntegerAttr[I64])
    reduce = prop_def(ReduceOpAttr)
    input = prop_def(EvalInputAttr)
    cmp = prop_def(CmpOpAttr)
    dst = prop_def(AccessAttr)
    a = prop_def(AccessAttr)
    b = prop_def(AccessAttr)
    threshold = prop_def(FloatAttr)
    custom_directives = (F32,)
    assembly_format = (
        "$queue $reduce $input $cmp $dst `,` $a `,` $b `threshold` custom<F32>($threshold) "
        "attr-dict"
    )

    def __init__(
        self,
        queue: int,
        reduce: str | ReduceKind,
        input: str | EvalInput,
        cmp: str | CmpOp,
        dst: AccessAttr,
        a: AccessAttr,
        b: AccessAttr,
        threshold: float,
        *,
        signal: int | None = None,
        origin: str | None = None,
    ):
        props: dict[str, Attribute | None] = {
            "queue": _int(queue),
            "reduce": ReduceOpAttr(ReduceKind(reduce)),
            "input": EvalInputAttr(EvalInput(input)),
            "cmp": CmpOpAttr(CmpOp(cmp)),
            "dst": dst,
            "a": a,
            "b": b,
            "threshold": FloatAttr(float(threshold), 32),
        }
        self._init(props, signal, origin)

    def engine_name(self) -> str:
        return spec_engine_name(Engine.DMA0 + self.queue.value.data)

    def verify_operands(self) -> None:
        super().verify_operands()
        if self.dst.num_elements != 1:
            raise VerifyException(f"eval dst must be one element, got {self.dst.num_elements}")
        if self.a.num_elements != self.b.num_elements:
            raise VerifyException(
                f"eval a and b hold {self.a.num_elements} and {self.b.num_elements} elements"
            )


@irdl_op_definition
class OverwriteOp(InstructionOp):
    """A loop's overwrite instruction (early exit, seed 000) on a DMA queue: after
    the queue's earlier descriptors, unless flag[0] is nonzero (the loop goes on),
    copies src over dst (NOP records over the loop's following blocks).

    accel.overwrite 0 <dram 4096, [[1, 480]]>, <dram 8192, [[1, 480]]> unless <dram 64, [[1, 1]]>
    """

    name = "accel.overwrite"

    queue = prop_def(IntegerAttr[I64])
    dst = prop_def(AccessAttr)
    src = prop_def(AccessAttr)
    flag = prop_def(AccessAttr)
    assembly_format = "$queue $dst `,` $src `unless` $flag attr-dict"

    def __init__(
        self,
        queue: int,
        dst: AccessAttr,
        src: AccessAttr,
        flag: AccessAttr,
        *,
        signal: int | None = None,
        origin: str | None = None,
    ):
        props: dict[str, Attribute | None] = {
            "queue": _int(queue), "dst": dst, "src": src, "flag": flag,
        }
        self._init(props, signal, origin)

    def engine_name(self) -> str:
        return spec_engine_name(Engine.DMA0 + self.queue.value.data)

    def verify_operands(self) -> None:
        super().verify_operands()
        if self.flag.num_elements != 1:
            raise VerifyException(f"overwrite flag must be one element, got {self.flag.num_elements}")
        if self.src.num_elements != self.dst.num_elements:
            raise VerifyException(
                f"overwrite src and dst hold {self.src.num_elements} and {self.dst.num_elements} elements"
            )


@irdl_op_definition
class BernoulliOp(InstructionOp):
    """1.0 where the lane's next pseudo-random number (as accel.random's, seeded by
    `seed`) is below src (a probability), else 0.0, on the POOL engine.

    accel.bernoulli <sbuf 0, 0, [[1, 32], [1, 64]]>, <sbuf 0, 256, [[1, 32], [1, 64]]> seed 7
    """

    name = "accel.bernoulli"

    dst = prop_def(AccessAttr)
    src = prop_def(AccessAttr)
    seed = prop_def(IntegerAttr[I64])
    assembly_format = "$dst `,` $src `seed` $seed attr-dict"

    def __init__(
        self, dst: AccessAttr, src: AccessAttr, seed: int, *,
        signal: int | None = None, origin: str | None = None,
    ):
        self._init({"dst": dst, "src": src, "seed": _int(seed)}, signal, origin)

    def verify_operands(self) -> None:
        super().verify_operands()
        _check_onchip_same_shape("bernoulli src", self.dst, self.src)
        _check_seed(self.seed)


class _EngineOp(InstructionOp):
    """A sync/control instruction that names its engine; with no other operand
    (nop, halt) it is `accel.<op> <engine>`."""

    engine = prop_def(EngineAttr)
    assembly_format = "$engine attr-dict"

    def __init__(
        self, engine: str, *, signal: int | None = None, origin: str | None = None
    ):
        self._init({"engine": EngineAttr(engine)}, signal, origin)

    def engine_name(self) -> str:
        return self.engine.data


@irdl_op_definition
class WaitOp(_EngineOp):
    """Blocks `engine` until semaphore `sem` >= `value` (affine in the repeat indices).

    accel.wait pe sem 3 >= 2 + 1 * i0
    """

    name = "accel.wait"

    sem = prop_def(IntegerAttr[I64])
    value = prop_def(AffAttr)
    custom_directives = (AtLeast,)
    assembly_format = "$engine `sem` $sem custom<AtLeast>($value) attr-dict"

    def __init__(
        self,
        engine: str,
        sem: int,
        value: int | Aff,
        *,
        signal: int | None = None,
        origin: str | None = None,
    ):
        props: dict[str, Attribute | None] = {
            "engine": EngineAttr(engine),
            "sem": _int(sem),
            "value": AffAttr(Aff.of(value)),
        }
        self._init(props, signal, origin)

    def affine_values(self) -> list[Aff]:
        return [self.value.data]

    def _checked_accesses(self) -> int:
        return self.value.data.depth  # a wait has no memory operand

    def verify_operands(self) -> None:
        if self.sem.value.data < 0:
            raise VerifyException(f"semaphore must be >= 0, got {self.sem.value.data}")


@irdl_op_definition
class SignalOp(_EngineOp):
    """Increments semaphore `sem` once `engine` reaches it.

    accel.signal act sem 3
    """

    name = "accel.signal"

    sem = prop_def(IntegerAttr[I64])
    assembly_format = "$engine `sem` $sem attr-dict"

    def __init__(
        self,
        engine: str,
        sem: int,
        *,
        signal: int | None = None,
        origin: str | None = None,
    ):
        self._init({"engine": EngineAttr(engine), "sem": _int(sem)}, signal, origin)

    def verify_operands(self) -> None:
        if self.sem.value.data < 0:
            raise VerifyException(f"semaphore must be >= 0, got {self.sem.value.data}")


@irdl_op_definition
class NopOp(_EngineOp):
    """Does nothing on `engine` (a slot that self-modifying code may overwrite).

    accel.nop pool
    """

    name = "accel.nop"


@irdl_op_definition
class RefillOp(_EngineOp):
    """Self-refill: `engine` starts loading section `section` of its own stream into
    its instruction buffer, from that entry of its DMA ring in DRAM (the binary's
    META self_refill; targets/refill.py makes them, docs/self-refill.md).

    accel.refill act section 3
    """

    name = "accel.refill"

    section = prop_def(IntegerAttr[I64])
    assembly_format = "$engine `section` $section attr-dict"

    def __init__(
        self,
        engine: str,
        section: int,
        *,
        signal: int | None = None,
        origin: str | None = None,
    ):
        self._init({"engine": EngineAttr(engine), "section": _int(section)}, signal, origin)

    def verify_operands(self) -> None:
        if self.section.value.data < 0:
            raise VerifyException(f"section must be >= 0, got {self.section.value.data}")


@irdl_op_definition
class HaltOp(_EngineOp):
    """Stops `engine`; the binary encoder ends every stream with one.

    accel.halt dma0
    """

    name = "accel.halt"


Accel = Dialect(
    "accel",
    [
        ProgramOp,
        IoOp,
        ConstOp,
        StreamOp,
        RepeatOp,
        DmaOp,
        MatmulOp,
        ActOp,
        TensorTensorOp,
        ReduceOp,
        MemsetOp,
        BernoulliOp,
        RandomOp,
        DropoutOp,
        WaitOp,
        SignalOp,
        NopOp,
        EvalOp,
        OverwriteOp,
        RefillOp,
        HaltOp,
    ],
    [
        AffAttr,
        AccessAttr,
        IoKindAttr,
        ActFuncAttr,
        AluOpAttr,
        ReduceOpAttr,
        CmpOpAttr,
        EvalInputAttr,
        SpaceAttr,
        EngineAttr,
    ],
)

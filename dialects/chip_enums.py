"""The chip's operand enums as xDSL attributes, shared by the `loop` and `accel` dialects.

Each concept is one `enum.StrEnum` in the chip's datasheet (`tidal.sim.spec`); here it
is wrapped once as an `EnumAttribute`, so both dialects (and every pass) name the same
members and a new member appears in the IR without touching this file. In a custom
format the attribute prints as its bare member (`relu`); in the generic form it is
`#accel<act_func relu>`. Engines are not a closed set (one `dmaN` per DMA queue), so
`EngineAttr` holds a name and checks it with the datasheet's naming rule::

    accel.act relu <sbuf 0, 0, [[1, 32], [1, 8]]>, <psum 0, 0, [[1, 32], [1, 8]]>
    "test.op"() {f = #accel<act_func exp>, e = #accel<engine dma3>} : () -> ()
"""

from __future__ import annotations

import types
from enum import StrEnum
from typing import ClassVar, TypeVar

from tidal.sim.spec import (
    ActFunc,
    AluOp,
    CmpOp,
    EvalInput,
    ReduceOp,
    Space,
    engine_sort_key,
    is_engine,
)
from tidal.sim.spec.opcodes import ON_CHIP  # the spaces of SBUF and PSUM
from xdsl.dialects.utils import EnumAttribute
from xdsl.ir import Data, SpacedOpaqueSyntaxAttribute
from xdsl.irdl import irdl_attr_definition
from xdsl.parser import AttrParser
from xdsl.printer import Printer
from xdsl.utils.exceptions import VerifyException

__all__ = [
    "ON_CHIP",
    "ActFunc",
    "ActFuncAttr",
    "AluOp",
    "AluOpAttr",
    "CmpOp",
    "CmpOpAttr",
    "EngineAttr",
    "EvalInput",
    "EvalInputAttr",
    "ParseMember",
    "ReduceOp",
    "ReduceOpAttr",
    "Space",
    "SpaceAttr",
    "engine_sort_key",
    "enum_attr",
    "is_engine",
]

E = TypeVar("E", bound=StrEnum)


class ParseMember:
    """Parses a member with a one-line error naming the concept and its members
    (a mixin before `EnumAttribute`, which allows only direct subclasses)."""

    what: ClassVar[str]
    enum_type: ClassVar[type[StrEnum]]

    @classmethod
    def parse_parameter(cls, parser: AttrParser) -> StrEnum:
        pos = parser.pos
        value = parser.parse_optional_identifier_or_str_literal()
        members = ", ".join(cls.enum_type)
        if value is None:
            parser.raise_error(f"expected a {cls.what} ({members})")
        if value not in cls.enum_type.__members__.values():
            parser.raise_error(
                f"unknown {cls.what} '{value}' ({members})", pos, parser.pos
            )
        return cls.enum_type(value)


def enum_attr(enum_type: type[E], name: str, what: str) -> type[EnumAttribute[E]]:
    """The `EnumAttribute` of `enum_type`, called `name` in the IR, whose parse errors
    name the concept `what` and list its members; its docstring is the enum's."""

    def body(ns: dict[str, object]) -> None:
        doc = f"`{name}`: {enum_type.__doc__}"
        ns.update(name=name, what=what, __doc__=doc, __module__=__name__)

    bases = (ParseMember, EnumAttribute[enum_type], SpacedOpaqueSyntaxAttribute)
    cls = types.new_class(f"{enum_type.__name__}Attr", bases, exec_body=body)
    return irdl_attr_definition(cls)


ActFuncAttr = enum_attr(ActFunc, "accel.act_func", "activation")
AluOpAttr = enum_attr(AluOp, "accel.alu_op", "tensor_tensor op")
ReduceOpAttr = enum_attr(ReduceOp, "accel.reduce_op", "reduce op")
CmpOpAttr = enum_attr(CmpOp, "accel.cmp_op", "comparison")
EvalInputAttr = enum_attr(EvalInput, "accel.eval_input", "eval input")
SpaceAttr = enum_attr(Space, "accel.space", "memory space")


@irdl_attr_definition
class EngineAttr(Data[str], SpacedOpaqueSyntaxAttribute):
    """An engine by name: `pe`, `act`, `pool`, `dma0`, `dma1`, ... (the datasheet's
    naming and numbering, `tidal.sim.spec.engine_from_name`)."""

    name = "accel.engine"
    EXPECTED: ClassVar[str] = "pe, act, pool, dma0, dma1, ..."

    @classmethod
    def parse_parameter(cls, parser: AttrParser) -> str:
        pos = parser.pos
        name = parser.parse_identifier(f" (an engine: {cls.EXPECTED})")
        if not is_engine(name):
            parser.raise_error(
                f"unknown engine '{name}' ({cls.EXPECTED})", pos, parser.pos
            )
        return name

    def print_parameter(self, printer: Printer) -> None:
        printer.print_string(self.data)

    def verify(self) -> None:
        if not is_engine(self.data):
            raise VerifyException(f"unknown engine '{self.data}' ({self.EXPECTED})")

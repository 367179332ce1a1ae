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

from enum import StrEnum
from typing import ClassVar

from tidal.sim.spec import ActFunc, AluOp, ReduceOp, Space, engine_sort_key, is_engine
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
    "EngineAttr",
    "ParseMember",
    "ReduceOp",
    "ReduceOpAttr",
    "Space",
    "SpaceAttr",
    "engine_sort_key",
    "is_engine",
]


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


@irdl_attr_definition
class ActFuncAttr(ParseMember, EnumAttribute[ActFunc], SpacedOpaqueSyntaxAttribute):
    """The activation function of `loop.act` and `accel.act`."""

    name = "accel.act_func"
    what = "activation"


@irdl_attr_definition
class AluOpAttr(ParseMember, EnumAttribute[AluOp], SpacedOpaqueSyntaxAttribute):
    """The elementwise op of `loop.tensor_tensor` and `accel.tensor_tensor`."""

    name = "accel.alu_op"
    what = "tensor_tensor op"


@irdl_attr_definition
class ReduceOpAttr(ParseMember, EnumAttribute[ReduceOp], SpacedOpaqueSyntaxAttribute):
    """The reduction of `loop.reduce` and `accel.reduce`."""

    name = "accel.reduce_op"
    what = "reduce op"


@irdl_attr_definition
class SpaceAttr(ParseMember, EnumAttribute[Space], SpacedOpaqueSyntaxAttribute):
    """The memory space of an access pattern (`#accel.ap`) or a tile (`!loop.tile`)."""

    name = "accel.space"
    what = "memory space"


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

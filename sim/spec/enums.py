"""The enumerations of the Tidal instruction set, each written once.

Every concept that an instruction operand names (an activation function, an ALU op, a
memory space, ...) is one `enum.StrEnum`: a member's value is the lower-case name the
IR prints (``relu``, ``add``, ``sbuf``) and its `code` the number the binary stores.
The codes are part of the binary format and never change; a new member takes a new
code. The dialects import these enums (as xDSL `EnumAttribute`s), the encoder writes
`member.code`, the decoder reads `Enum.from_code(word)`::

    >>> ActFunc.RELU.code, ActFunc("relu") is ActFunc.RELU, ActFunc.from_code(1)
    (1, True, <ActFunc.RELU: 'relu'>)

Engines are numbered here too: `pe`, `act`, `pool`, then one `dmaN` per DMA queue.
"""

from __future__ import annotations

import enum
import re
from typing import Self

__all__ = [
    "ActFunc",
    "CmpOp",
    "EvalInput",
    "AluOp",
    "Coded",
    "Engine",
    "EngineKind",
    "Opcode",
    "ReduceOp",
    "ScalarMode",
    "Space",
    "engine_from_name",
    "engine_kind",
    "engine_name",
    "engine_sort_key",
    "is_engine",
]


_BY_CODE: dict[type[Coded], dict[int, Coded]] = {}


class Coded(enum.StrEnum):
    """A StrEnum whose members also carry their binary `code`: declare members as
    ``NAME = "name", code``."""

    code: int

    def __new__(cls, value: str, code: int) -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.code = code
        return member

    @classmethod
    def from_code(cls, code: int) -> Self:
        """The member stored as `code`; ValueError if none is."""
        by_code = _BY_CODE.get(cls)
        if by_code is None:
            by_code = _BY_CODE[cls] = {m.code: m for m in cls}
        member = by_code.get(code)
        if member is None:
            raise ValueError(f"no {cls.__name__} has code {code}")
        return member  # pyright: ignore[reportReturnType]

    @classmethod
    def codes(cls) -> tuple[int, ...]:
        return tuple(m.code for m in cls)


class Opcode(enum.IntEnum):
    """Word 0 of an instruction record."""

    NOP = 0
    HALT = 1
    WAIT = 2  # block until semaphore >= value
    SIGNAL = 3  # increment semaphore
    DMA = 4
    MATMUL = 5
    ACT = 6
    TENSOR_TENSOR = 7
    REDUCE = 8
    MEMSET = 9
    RANDOM = 10  # POOL: uniform pseudo-random numbers
    DROPOUT = 11  # POOL: training-mode dropout from pseudo-random numbers
    REFILL = 12  # any engine: load a section of its own stream (self-refill)
    EVAL = 13  # DMA queue: evaluate a loop's condition into a flag
    OVERWRITE = 14  # DMA queue: unless the flag is set, copy src over dst (early exit)
    BERNOULLI = 15  # POOL: 1.0 with probability src, else 0.0, from pseudo-random numbers


class Space(Coded):
    """The memory an access addresses."""

    DRAM = "dram", 0
    SBUF = "sbuf", 1
    PSUM = "psum", 2


class ActFunc(Coded):
    """The activation engine's functions (`accel.act`'s `func`)."""

    IDENTITY = "identity", 0
    RELU = "relu", 1
    EXP = "exp", 2
    RECIPROCAL = "reciprocal", 3
    SIGMOID = "sigmoid", 4
    TANH = "tanh", 5
    LOG = "log", 6  # natural logarithm (a LUT function, like exp)
    GELU = "gelu", 7  # GELU, tanh approximation (NKI: nki.language.gelu_apprx_tanh)
    ERF = "erf", 8  # the Gauss error function
    SOFTPLUS = "softplus", 9  # log(1 + exp(x))
    RSQRT = "rsqrt", 10  # 1 / sqrt(x)
    SQRT = "sqrt", 11
    CLIP01 = "clip01", 12  # min(max(y, 0), 1): exact, no table (hard sigmoid, clip)
    SILU = "silu", 13  # x sigmoid(x) (NKI: nki.language.silu), a LUT function
    GELU_ERF = "gelu_erf", 14  # x Phi(x), GELU's erf form (NKI: nki.language.gelu)


class AluOp(Coded):
    """The elementwise binary ops of `accel.tensor_tensor`."""

    ADD = "add", 0
    SUB = "sub", 1
    MUL = "mul", 2
    MAX = "max", 3
    MIN = "min", 4


class ReduceOp(Coded):
    """The reductions of `accel.reduce`; stored with the code of the same AluOp."""

    ADD = "add", 0
    MAX = "max", 3


class CmpOp(Coded):
    """The comparisons of `accel.eval`: reduced value <cmp> threshold."""

    LT = "lt", 0
    LE = "le", 1
    GT = "gt", 2
    GE = "ge", 3


class EvalInput(Coded):
    """What `accel.eval` reduces: a, |a|, a - b or |a - b|, element-wise."""

    A = "a", 0
    ABS_A = "abs_a", 1
    A_MINUS_B = "a_minus_b", 2
    ABS_A_MINUS_B = "abs_a_minus_b", 3


class ScalarMode(Coded):
    """Where an ACT scale or bias comes from."""

    IMM = "imm", 0  # an immediate fp32
    COLUMN = "column", 1  # one fp32 per partition, read from an on-chip column


class EngineKind(Coded):
    """The kind of engine an instruction runs on; `code` is the first engine number
    of the kind (DMA queue q is engine ``EngineKind.DMA.code + q``)."""

    PE = "pe", 0
    ACT = "act", 1
    POOL = "pool", 2
    DMA = "dma", 3


class Engine(enum.IntEnum):
    """Engine numbers as the binary stores them (word 1, a stream section's arg)."""

    PE = 0
    ACT = 1
    POOL = 2
    DMA0 = 3  # DMA queue q is engine DMA0 + q


_DMA_NAME = re.compile(r"dma(\d+)$")


def engine_name(engine: int) -> str:
    """``pe``, ``act``, ``pool``, ``dma0``, ``dma1``, ... for engine number `engine`."""
    if engine >= Engine.DMA0:
        return f"dma{engine - Engine.DMA0}"
    return EngineKind.from_code(engine).value


def engine_from_name(name: str) -> int:
    """The engine number of `name` (inverse of `engine_name`); KeyError if not one."""
    m = _DMA_NAME.match(name)
    if m is not None:
        return Engine.DMA0 + int(m.group(1))
    try:
        kind = EngineKind(name)
    except ValueError:
        raise KeyError(name) from None
    if kind is EngineKind.DMA:  # a queue number is required
        raise KeyError(name)
    return kind.code


def is_engine(name: str) -> bool:
    try:
        engine_from_name(name)
    except KeyError:
        return False
    return True


def engine_sort_key(name: str) -> int:
    """pe, act, pool, dma0, dma1, ... (the binary's engine numbering)."""
    return engine_from_name(name)


def engine_kind(engine: int) -> EngineKind:
    """The kind of engine number `engine`."""
    return EngineKind.DMA if engine >= Engine.DMA0 else EngineKind.from_code(engine)

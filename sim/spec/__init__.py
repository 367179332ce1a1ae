"""The datasheet of the Tidal accelerator: the one description of its instruction set.

`tidal.sim.spec.enums` names every operand concept once (a `StrEnum` of the IR names,
each member with its binary code) and numbers the engines; `tidal.sim.spec.opcodes`
has one `Instr` entry per opcode: operand fields with their roles and spaces, the cost
formula and the NumPy semantics. The compiler (dialects, encoder, decoder, cost
analysis) and the hardware model (loader, machine, race checker) both read them from
here. Imports only the standard library and NumPy, so `tidal.sim` runs a binary
without the compiler::

    from tidal.sim.spec import INSTRUCTIONS, ActFunc, Opcode, engine_name
    ActFunc("relu").code  # 1, the word the binary stores
    INSTRUCTIONS[Opcode.ACT].mnemonic  # "accel.act"
    engine_name(3)  # "dma0"
"""

from tidal.sim.spec.enums import (
    ActFunc,
    AluOp,
    Coded,
    Engine,
    EngineKind,
    Opcode,
    ReduceOp,
    ScalarMode,
    Space,
    engine_from_name,
    engine_kind,
    engine_name,
    engine_sort_key,
    is_engine,
)
from tidal.sim.spec.opcodes import (
    ACCESS_DIMS,
    ACCESS_WORDS,
    ACT_FUNCTIONS,
    ALU_FUNCTIONS,
    ELEM_BYTES,
    FLAG_SIGNAL,
    FLAG_START,
    INSTRUCTIONS,
    OPERAND_BASE,
    RECORD_BYTES,
    RECORD_WORDS,
    SCALAR_PARTS,
    W_DEBUG,
    W_ENGINE,
    W_FLAGS,
    W_OPCODE,
    W_SIGNAL,
    Field,
    Instr,
    Kind,
    Role,
    Shapes,
    bits_f32,
    by_mnemonic,
    f32_bits,
)

__all__ = [
    "ACCESS_DIMS",
    "ACCESS_WORDS",
    "ACT_FUNCTIONS",
    "ALU_FUNCTIONS",
    "ELEM_BYTES",
    "FLAG_SIGNAL",
    "FLAG_START",
    "INSTRUCTIONS",
    "OPERAND_BASE",
    "RECORD_BYTES",
    "RECORD_WORDS",
    "SCALAR_PARTS",
    "W_DEBUG",
    "W_ENGINE",
    "W_FLAGS",
    "W_OPCODE",
    "W_SIGNAL",
    "ActFunc",
    "AluOp",
    "Coded",
    "Engine",
    "EngineKind",
    "Field",
    "Instr",
    "Kind",
    "Opcode",
    "ReduceOp",
    "Role",
    "ScalarMode",
    "Shapes",
    "Space",
    "bits_f32",
    "by_mnemonic",
    "engine_from_name",
    "engine_kind",
    "engine_name",
    "engine_sort_key",
    "f32_bits",
    "is_engine",
]

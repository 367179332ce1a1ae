"""The datasheet of the Tidal accelerator: the one description of its instruction set.

The enums (`tidal.sim.spec.enums`) name every operand concept once, with its binary
code; both the compiler (dialects, encoder, cost analysis) and the hardware model
(loader, machine, trace) read them from here. Imports only the standard library and
NumPy, so `tidal.sim` runs a binary without the compiler::

    from tidal.sim.spec import ActFunc, engine_name
    ActFunc("relu").code  # 1, the word the binary stores
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

__all__ = [
    "ActFunc",
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

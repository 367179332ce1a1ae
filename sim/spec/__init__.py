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

from tidal.sim.spec import enums, opcodes
from tidal.sim.spec.enums import *
from tidal.sim.spec.opcodes import *

# The names of the submodules, each listed once there.
__all__: list[str] = []
__all__ += enums.__all__
__all__ += opcodes.__all__

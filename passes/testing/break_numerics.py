"""test-break-numerics: a deliberately wrong pass, to show --check-numerics at work.

Turns the first `loop.act "relu"` into `"identity"` (a miscompile that keeps the IR
valid), so `tidal-opt --check-numerics` must name this pass as the first to change
the result. Test-only; never part of a pipeline.
"""

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from tidal.dialects.chip_enums import ActFunc, ActFuncAttr
from tidal.dialects.loop import ActOp


@dataclass(frozen=True)
class BreakNumericsForTestPass(ModulePass):
    name = "test-break-numerics"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for act in op.walk():
            if isinstance(act, ActOp) and act.func.data == ActFunc.RELU:
                act.func = ActFuncAttr(ActFunc.IDENTITY)
                return

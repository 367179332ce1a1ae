"""test-break-ir: a deliberately wrong pass, to show the verifier catching a pass
that produces invalid IR, after that pass (`--verify-each`) or after the pipeline.

Appends `func.func @test_break_ir` with an empty body (a block without its
terminator) to the module: IR the verifier refuses, which no pass after it reads,
so the pipeline runs on to its end. Test-only; never part of a pipeline.

    $ env TIDAL_TEST_PASSES=1 tidal-opt graph.mlir -p 'test-break-ir'
    tidal-opt: error: verifier failed after pass 'test-break-ir': Operation func.func
    contains empty block in single-block region that expects at least a terminator
"""

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.dialects.func import FuncOp
from xdsl.passes import ModulePass


@dataclass(frozen=True)
class BreakIRForTestPass(ModulePass):
    name = "test-break-ir"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        op.body.block.add_op(FuncOp("test_break_ir", ((), ())))

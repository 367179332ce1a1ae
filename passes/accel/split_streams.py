"""accel-split-streams: one accel.stream per engine out of a unified-order program.

Expects an accel.program whose instructions and repeats sit directly in its body, in
one sequential program order across engines (as loop-to-accel emits them). Each engine
that has instructions gets an accel.stream holding them in that order, with the repeat
structure kept: a repeat is cloned into every stream that has instructions inside it,
and dropped from the others, so an instruction's repeat depth (the `iK` of its affine
addresses and `zero_at`) keeps its meaning. Streams come in the binary's engine order
(pe, act, pool, dma0, dma1, ...); io and const ops stay at program level. A program
that is already split is left alone.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.rewriter import InsertPoint

from tidal.dialects.accel import (
    InstructionOp,
    ProgramOp,
    RepeatOp,
    StreamOp,
    engine_sort_key,
)
from tidal.passes.utils.expect import expect_level


def _engines(ops: Iterable[Operation]) -> list[str]:
    found: set[str] = set()
    for top in ops:
        for op in top.walk():
            if isinstance(op, InstructionOp):
                found.add(op.engine_name())
    return sorted(found, key=engine_sort_key)


def _select(ops: Iterable[Operation], engine: str) -> list[Operation]:
    """Clones of `engine`'s instructions in order, inside clones of their repeats."""
    out: list[Operation] = []
    for op in ops:
        if isinstance(op, RepeatOp):
            body = _select(op.body.block.ops, engine)
            if body:
                repeat = RepeatOp(op.count, body)
                repeat.attributes |= op.attributes
                out.append(repeat)
        elif isinstance(op, InstructionOp) and op.engine_name() == engine:
            out.append(op.clone())
    return out


class SplitProgramPattern(RewritePattern):
    """Unified order -> one stream per engine::

        accel.program "small" dram 65536 {
          accel.repeat 2 {
            accel.dma 0 <dram 0 + 128 * i0, ...> -> <sbuf 0, 0, ...>
            accel.matmul <psum 0, 0, ...>, <sbuf 0, 64, ...>, <sbuf 0, 0, ...>
          }
        }
        ->
        accel.program "small" dram 65536 {
          accel.stream pe {
            accel.repeat 2 {
              accel.matmul <psum 0, 0, ...>, <sbuf 0, 64, ...>, <sbuf 0, 0, ...>
            }
          }
          accel.stream dma0 {
            accel.repeat 2 {
              accel.dma 0 <dram 0 + 128 * i0, ...> -> <sbuf 0, 0, ...>
            }
          }
        }
    """

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: ProgramOp, rewriter: PatternRewriter) -> None:
        if op.is_split:
            return
        block = op.body.block
        code = [o for o in block.ops if isinstance(o, InstructionOp | RepeatOp)]
        streams = [StreamOp(e, _select(code, e)) for e in _engines(code)]
        for o in code:
            rewriter.erase(o)
        rewriter.insert(streams, InsertPoint.at_end(block))


@dataclass(frozen=True)
class AccelSplitStreamsPass(ModulePass):
    """Split each unified-order accel.program into one accel.stream per engine."""

    name = "accel-split-streams"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        expect_level(op, self.name, "accel")
        PatternRewriteWalker(SplitProgramPattern(), apply_recursively=False).rewrite_module(op)

"""What a pass expects of its input: the IR level, checked before the pass touches
anything, so that a pass run on the wrong level says what it expects and where the
input differs, instead of failing deep inside or silently changing nothing.

    $ tidal-opt model.mlir -p accel-insert-sync        # model.mlir is graph-level
    tidal-opt: error: model.mlir:2:8: accel-insert-sync: expects accel-level IR (an
    accel.program, from loop-to-accel); found 'graph.relu'

The error carries the offending op (`PassInputError.op`) so that a tool that parsed
the input can name its file:line:col.
"""

from __future__ import annotations

from math import prod
from typing import Literal

from xdsl.dialects import func
from xdsl.dialects.builtin import MemRefType, ModuleOp, StringAttr, TensorType, f32
from xdsl.ir import Operation
from xdsl.utils.exceptions import PassFailedException

from tidal.dialects.accel import InstructionOp, ProgramOp, WaitOp
from tidal.dialects.graph import ConstantOfShapeOp, ConstantOp, OnnxValueType

Level = Literal["graph", "loop", "accel"]

# What each level is, in words, and the dialects whose ops it cannot hold (ops of
# other dialects are left to the pass: graph-partition, for one, places or refuses
# ops it does not know by name).
_LEVELS: dict[Level, tuple[str, frozenset[str]]] = {
    "graph": (
        "graph-level IR (func.func on tensors with graph ops)",
        frozenset({"loop", "accel"}),
    ),
    "loop": (
        "loop-level IR (func.func on memrefs with loop nests, from graph-to-loop)",
        frozenset({"graph", "accel"}),
    ),
    "accel": (
        "accel-level IR (an accel.program, from loop-to-accel)",
        frozenset({"graph", "loop", "func"}),
    ),
}


class PassInputError(PassFailedException):
    """A pass was given IR it does not apply to; `op` is where the input differs."""

    def __init__(self, message: str, op: Operation):
        super().__init__(message)
        self.op = op


def expect_level(module: ModuleOp, pass_name: str, level: Level) -> None:
    """Raise PassInputError if `module` holds ops of another level of Tidal's, or
    (graph and loop levels) a function whose arguments are not tensors or memrefs,
    or (accel level) no accel.program. An empty module belongs to every level."""
    what, foreign = _LEVELS[level]
    # Graph level: tensors, and the sequences, optionals and maps framework-tier ops
    # take (`!graph.onnx_value`).
    arg_type = {"graph": (TensorType, OnnxValueType), "loop": MemRefType}.get(level)
    found_program = False
    for op in module.walk():
        if op is module:
            continue
        if op.name.split(".")[0] in foreign:
            raise PassInputError(f"{pass_name}: expects {what}; found '{op.name}'", op)
        if arg_type is not None and isinstance(op, func.FuncOp):
            if len(op.body.blocks) != 1:
                # A declaration (`func.func private @f(...)`) has nothing to compile;
                # Tidal's functions are one block (no unstructured control flow).
                has = "no body (a declaration)" if not op.body.blocks else (
                    f"{len(op.body.blocks)} blocks (Tidal compiles functions of one block)"
                )
                raise PassInputError(
                    f"{pass_name}: expects {what}; function @{op.sym_name.data} has {has}",
                    op,
                )
            for arg in op.body.block.args:
                if not isinstance(arg.type, arg_type):
                    raise PassInputError(
                        f"{pass_name}: expects {what}; function @{op.sym_name.data} "
                        f"takes {arg.type}",
                        op,
                    )
        found_program |= isinstance(op, ProgramOp)
    if level == "accel" and not found_program and module.body.block.first_op:
        raise PassInputError(
            f"{pass_name}: expects {what}; the module holds no accel.program",
            module.body.block.first_op,
        )


def accel_programs(module: ModuleOp, pass_name: str) -> list[ProgramOp]:
    """The accel.program ops of `module`, after `expect_level(module, pass_name,
    "accel")`: what every accel-level pass runs over."""
    expect_level(module, pass_name, "accel")
    return [p for p in module.walk() if isinstance(p, ProgramOp)]


def expect_unsynchronised(program: ProgramOp, split: str, synchronised: str) -> None:
    """`program` in unified order with no wait (of its own or folded into an
    instruction) and no signal yet, else PassInputError with message `split` (the
    program is split into streams) or `synchronised` (naming the first wait or
    signalling instruction)."""
    if program.streams:  # (a program without instructions is not split)
        raise PassInputError(split, program)
    for op in program.walk():
        if isinstance(op, WaitOp) or (
            isinstance(op, InstructionOp) and (op.signal is not None or op.wait is not None)
        ):
            raise PassInputError(synchronised, op)


def unfit_tensor(op: Operation, dram_bytes: int, chip: str, only_f32: bool = False) -> str | None:
    """Why one of `op`'s static tensors (its results, its regions' block arguments)
    cannot be compiled: it has no elements, or alone it needs more than `dram_bytes`
    of DRAM (4 bytes an element; `chip` names whose); None when none is. `only_f32`:
    other element types are skipped (they stay on the host, with the framework tier)."""
    for value in [*op.results, *(a for r in op.regions for b in r.blocks for a in b.args)]:
        ty = value.type
        if not isinstance(ty, TensorType) or any(d < 0 for d in ty.get_shape()):
            continue
        if only_f32 and ty.element_type != f32:
            continue
        nbytes = 4 * prod(ty.get_shape())
        if nbytes == 0:
            return f"{ty} has no elements (Tidal compiles non-empty tensors)"
        if nbytes > dram_bytes:
            return f"{ty} takes {nbytes} bytes, more than the {dram_bytes} bytes of DRAM of {chip}"
    return None


def expect_tensors_fit(module: ModuleOp, pass_name: str, dram_bytes: int, chip: str) -> None:
    """Raise PassInputError at the first op with an f32 tensor that `unfit_tensor`
    refuses: the passes below compile non-empty tensors that fit the chip."""
    for op in module.walk():
        if (why := unfit_tensor(op, dram_bytes, chip, only_f32=True)) is not None:
            raise PassInputError(f"{pass_name}: {why}", op)


def expect_constants_fit(
    module: ModuleOp, pass_name: str, dram_bytes: int, chip: str
) -> None:
    """Raise PassInputError if a graph constant (a `graph.constant`, splat or not, or
    a `graph.constant_of_shape`), or all of them together, would not fit `dram_bytes`
    of DRAM. Sizes come from the result types in exact integers, before any pass
    expands a splat or a fill into an array (a 40000x40000 fill is 6.4 GB)."""
    total = 0
    for op in module.walk():
        if not isinstance(op, ConstantOp | ConstantOfShapeOp):
            continue
        ty = op.result.type
        assert isinstance(ty, TensorType)
        nbytes = 4 * prod(ty.get_shape())
        total += nbytes
        if total > dram_bytes:
            origin = op.attributes.get("tidal.origin")
            name = f"'{origin.data}' " if isinstance(origin, StringAttr) else ""
            whole = "" if nbytes == total else f" (all constants so far: {total} bytes)"
            raise PassInputError(
                f"{pass_name}: constant {name}({op.name} {ty}) needs {nbytes} bytes"
                f"{whole}, more than the {dram_bytes} bytes of DRAM of {chip}",
                op,
            )

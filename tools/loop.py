"""Compiling a model that is a `graph.loop` (ONNX Loop): its body once through the
pipeline, then its blocks laid out by `targets.loop_program.unroll_loop`
(docs/early-exit.md). tidal-compile and tidal-run call `loop_of` and, for a loop,
`compile_loop`."""

from __future__ import annotations

from collections.abc import Collection

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp, StringAttr

from tidal.dialects import graph
from tidal.passes.pipeline import compile_module
from tidal.passes.utils.expect import PassInputError
from tidal.sim import isa
from tidal.sim.config import get_chip
from tidal.targets.binary import to_program
from tidal.targets.loop_program import LoopSpec, unroll_loop

__all__ = ["compile_loop", "loop_of"]


def _main(module: ModuleOp) -> func.FuncOp | None:
    return next(
        (op for op in module.body.block.ops if isinstance(op, func.FuncOp) and op.sym_name.data == "main"),
        None,
    )


def loop_of(module: ModuleOp) -> graph.LoopOp | None:
    """The graph.loop the model's main function is, or None when it has none.
    Raises PassInputError (naming the op) when a loop is not the whole model: one
    loop of main's input, returned (ops around a loop are not supported yet)."""
    main = _main(module)
    if main is None:
        return None
    loops = [op for op in main.walk() if isinstance(op, graph.LoopOp)]
    if not loops:
        return None
    loop = loops[0]
    ops = list(main.body.block.ops)
    args = list(main.body.block.args)
    ret = ops[-1]
    if not (
        len(ops) == 2
        and ops[0] is loop
        and len(args) == 1
        and loop.input is args[0]
        and isinstance(ret, func.ReturnOp)
        and list(ret.arguments) == [loop.result]
    ):
        raise PassInputError(
            "a graph.loop must be the whole model (one loop of the model's input, "
            "returned): ops around a loop are not supported yet",
            loop,
        )
    return loop


def _body_module(module: ModuleOp, loop: graph.LoopOp) -> ModuleOp:
    """The loop's body as a model of its own: @main with the loop model's input and
    output names."""
    name = loop.body.root_reference.data
    body = next(
        (op for op in module.body.block.ops if isinstance(op, func.FuncOp) and op.sym_name.data == name),
        None,
    )
    if body is None:
        raise PassInputError(f"graph.loop's body @{name} is not a function of the module", loop)
    main = _main(module)
    assert main is not None
    step = body.clone()
    step.sym_name = StringAttr("main")
    step.arg_attrs = main.arg_attrs
    step.res_attrs = main.res_attrs
    inputs, outputs = step.function_type.inputs.data, step.function_type.outputs.data
    if list(inputs) != [loop.input.type] or list(outputs) != [loop.result.type]:
        raise PassInputError(
            f"graph.loop's body @{name} must take and return the loop's tensor type", loop
        )
    return ModuleOp([step])


def compile_loop(
    module: ModuleOp, loop: graph.LoopOp, chip: str, ctx: Context, *,
    disabled: Collection[str] = (), verify_each: bool = False,
) -> isa.Program:
    """The early-exit program of a loop model: the body lowered once, then its
    `max_trips` blocks. Raises PassInputError (the loop does not fit) or the
    pipeline's errors."""
    step = _body_module(module, loop)
    compile_module(step, chip, ctx, disabled=disabled, verify_each=verify_each)
    spec = LoopSpec(
        loop.max_trips.value.data, loop.reduce.data, loop.input_kind.data, loop.cmp.data,
        loop.threshold.value.data,
    )
    try:
        return unroll_loop(to_program(step), get_chip(chip), spec)
    except ValueError as e:
        raise PassInputError(str(e), loop) from None

"""Loop level: an interpreter of loop nests over DRAM buffers and symbolic tiles
(`eval_loop`), and the access-pattern views it shares with the accel interpreter.

Every tile op runs the NumPy semantics of its instruction in the chip's datasheet
(`tidal.sim.spec.INSTRUCTIONS`), the same function the hardware model runs: an
activation or ALU op is defined once, there. A tile allocated in the function is
memory allocated once that keeps its contents from one nest to the next; a nest's
own tiles start at zero with the nest."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from tidal.dialects import loop
from tidal.dialects.accel import AccessAttr
from tidal.passes.interpreters.common import Arrays, CannotEvaluate
from tidal.passes.interpreters.graph import _function, signature
from tidal.sim.spec import FLAG_START, INSTRUCTIONS, Opcode
from tidal.sim.spec.rng import RngState
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, SSAValue

# ---------------------------------------------------------------------------
# access patterns over NumPy memories (shared by the loop and accel interpreters)
# ---------------------------------------------------------------------------


def view(memory: np.ndarray, ap: AccessAttr, env: Sequence[int]) -> np.ndarray:
    """The elements `ap` names in `memory` (flat for DRAM, [partitions, elements]
    on chip), as a writable strided view; bounds are checked first."""
    offset = ap.offset.at(env)
    if offset % 4:
        raise CannotEvaluate(f"unaligned offset {offset} in {ap}")
    counts = [c for _, c in ap.dims]
    if memory.ndim == 1:
        strides = [s for s, _ in ap.dims]
        base = offset // 4
        last = base + sum(s * (c - 1) for s, c in ap.dims)
        if base < 0 or last >= memory.size or min(strides) < 0:
            raise CannotEvaluate(f"{ap} leaves its {memory.size}-element buffer")
        return np.lib.stride_tricks.as_strided(
            memory[base:], counts, [4 * s for s in strides]
        )
    pstart = ap.pstart.at(env)
    col = offset // 4
    free = ap.dims[1:]
    last = col + sum(s * (c - 1) for s, c in free)
    if (
        pstart < 0
        or pstart + counts[0] > memory.shape[0]
        or col < 0
        or last >= memory.shape[1]
    ):
        raise CannotEvaluate(
            f"{ap} leaves its {memory.shape[0]}x{memory.shape[1]} buffer"
        )
    row = memory.strides[0]
    return np.lib.stride_tricks.as_strided(
        memory[pstart:, col:], counts, [row, *(4 * s for s, _ in free)]
    )


def run_instruction(
    opcode: Opcode, values: Mapping[str, Any], start: bool = False
) -> None:
    """Apply the datasheet's NumPy semantics of `opcode` (`tidal.sim.spec`, the ones
    the hardware model runs) to operand views; `start`: a matmul overwrites."""
    semantics = INSTRUCTIONS[opcode].semantics
    assert semantics is not None, opcode
    semantics(values, FLAG_START if start else 0)


def _column(view_: np.ndarray) -> np.ndarray:
    return view_.reshape(view_.shape[0], 1)


# ---------------------------------------------------------------------------
# loop level
# ---------------------------------------------------------------------------


def eval_loop(module: ModuleOp, inputs: Mapping[str, np.ndarray]) -> Arrays:
    fn = _function(module)
    shapes, outs = signature(module)
    rng = RngState(0)  # grows to the partitions the tiles use
    mem: dict[SSAValue, np.ndarray] = {
        a: np.array(inputs[n], np.float32).ravel()
        for n, a in zip(shapes, fn.body.block.args)
    }
    for op in fn.body.block.ops:
        if isinstance(op, loop.ConstOp):
            mem[op.result] = _dense(op.value)
        elif isinstance(op, loop.AllocOp):
            mem[op.result] = np.zeros(
                int(np.prod(op.result.type.get_shape())), np.float32
            )
        elif isinstance(op, loop.ViewOp):
            mem[op.result] = mem[op.source]
        elif isinstance(op, loop.AllocTileOp):
            mem[op.result] = _tile(op)
        elif isinstance(op, loop.NestOp):
            _run_nest(op, mem, rng)
        elif isinstance(op, func.ReturnOp):
            return {
                n: mem[v].reshape(v.type.get_shape()).copy()  # type: ignore[attr-defined]
                for n, v in zip(outs, op.arguments)
            }
        else:
            raise CannotEvaluate(f"loop level: unexpected '{op.name}'")
    raise CannotEvaluate("function has no return")


def _dense(value) -> np.ndarray:
    return np.frombuffer(value.data.data, np.float32).copy()


def _tile(op: loop.AllocTileOp) -> np.ndarray:
    t = op.result.type
    return np.zeros((t.partitions.data, t.elems.data), np.float32)


def _run_nest(nest: loop.NestOp, mem: dict[SSAValue, np.ndarray], rng: RngState) -> None:
    """Run a nest's loops (a chain or siblings) over DRAM buffers and the tiles of the
    function (kept in `mem` across nests) and of the nest (dropped after it)."""
    tiles = dict(mem)
    for op in nest.walk():
        if isinstance(op, loop.AllocTileOp):
            tiles[op.result] = _tile(op)
    env = [0] * len(nest.domain_val)
    domain = nest.domain_val

    def run(block: Block) -> None:
        for op in block.ops:
            if isinstance(op, loop.ForOp):
                d = op.dim.value.data
                for i in range(domain[d]):
                    env[d] = i
                    run(op.body.block)
                env[d] = 0
            elif isinstance(op, loop.TileOp):
                _loop_op(op, tiles, env, rng)

    run(nest.body.block)


def _loop_op(
    op: loop.TileOp, mem: dict[SSAValue, np.ndarray], env: list[int], rng: RngState
) -> None:
    v = lambda value, prop: view(mem[value], op.ap(prop), env)
    if isinstance(op, loop.CopyOp):
        run_instruction(
            op.OPCODE, {"dst": v(op.dst, "dst_ap"), "src": v(op.src, "src_ap")}
        )
    elif isinstance(op, loop.MatmulOp):
        z = op.zero_at.value.data if op.zero_at is not None else None
        views = {
            "dst": v(op.acc, "acc_ap"),
            "stationary": v(op.stationary, "stationary_ap"),
            "moving": v(op.moving, "moving_ap"),
        }
        run_instruction(
            op.OPCODE, views, start=z is not None and (z < 0 or env[z] == 0)
        )
    elif isinstance(op, loop.ActOp):
        scale = (
            _column(v(op.scale_col, "scale_ap"))
            if op.scale_col
            else op.scale.value.data
        )
        bias = _column(v(op.bias_col, "bias_ap")) if op.bias_col else op.bias.value.data
        views = {"dst": v(op.dst, "dst_ap"), "src": v(op.src, "src_ap")}
        run_instruction(
            op.OPCODE, views | {"func": op.func.data, "scale": scale, "bias": bias}
        )
    elif isinstance(op, loop.TensorTensorOp):
        views = {"dst": v(op.dst, "dst_ap"), "a": v(op.a, "a_ap"), "b": v(op.b, "b_ap")}
        scale = _column(v(op.scale_col, "scale_ap")) if op.scale_col else 1.0
        run_instruction(op.OPCODE, views | {"op": op.op.data, "scale": scale})
    elif isinstance(op, loop.ReduceOp):
        views = {"dst": v(op.dst, "dst_ap"), "src": v(op.src, "src_ap")}
        run_instruction(
            op.OPCODE,
            views
            | {
                "op": op.op.data,
                "nreduce": op.nreduce.value.data,
                "scale_imm": op.scale.value.data,
            },
        )
    elif isinstance(op, loop.MemsetOp):
        run_instruction(
            op.OPCODE, {"dst": v(op.dst, "dst_ap"), "value": op.value.value.data}
        )
    elif isinstance(op, loop.RandomOp | loop.DropoutOp | loop.BernoulliOp):
        # The POOL lanes' generators, one state for the whole run (as the machine's);
        # tiles sit at partition 0 until allocation, so lanes are the access's.
        views = {"dst": v(op.dst, "dst_ap"), "seed": op.seed.value.data}
        views |= {"rng": rng, "lane0": op.dst_ap.pstart.at(env)}
        if isinstance(op, loop.RandomOp):
            views |= {"low": op.low.value.data, "high": op.high.value.data}
        elif isinstance(op, loop.BernoulliOp):
            views |= {"src": v(op.src, "src_ap")}
        else:
            views |= {"src": v(op.src, "src_ap"), "ratio": op.ratio.value.data}
        run_instruction(op.OPCODE, views)
    else:
        raise CannotEvaluate(f"loop level: no interpreter for '{op.name}'")

"""Accel level: a sequential interpreter of a unified-order program, waits ignored
(`eval_accel`), and the binary of a split program run on the hardware model
(`eval_binary`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from tidal.dialects import accel
from tidal.passes.interpreters.common import Arrays, CannotEvaluate
from tidal.passes.interpreters.loop import _column, _dense, run_instruction, view
from tidal.sim.spec import ActFunc, Kind, Opcode, by_mnemonic
from tidal.sim.spec.lut import LutTable, tables_for
from tidal.sim.spec.rng import RngState
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block

# ---------------------------------------------------------------------------
# accel level, unified order: sequential
# ---------------------------------------------------------------------------


def _program(module: ModuleOp) -> accel.ProgramOp:
    programs = [op for op in module.body.block.ops if isinstance(op, accel.ProgramOp)]
    if len(programs) != 1:
        raise CannotEvaluate(f"expects one accel.program, found {len(programs)}")
    return programs[0]


def eval_accel(module: ModuleOp, inputs: Mapping[str, np.ndarray]) -> Arrays:
    """Run a unified-order program sequentially in program order (waits are no-ops:
    this is the order the synchronisation must preserve), on memories sized by the
    chip preset the program names."""
    from tidal.sim.config import get_chip

    program = _program(module)
    chip = get_chip(program.chip.data)
    dram = np.zeros(_dram_bytes(program) // 4 + 1, np.float32)
    mems = {
        "dram": dram,
        "sbuf": np.zeros(
            (chip.sbuf_partitions, chip.sbuf_partition_bytes // 4), np.float32
        ),
        "psum": np.zeros(
            (chip.psum_partitions, chip.psum_partition_bytes // 4), np.float32
        ),
    }
    luts = tables_for(chip.act_lut_intervals)
    rng = RngState(max(chip.sbuf_partitions, chip.psum_partitions))
    outputs: list[accel.IoOp] = []
    for op in program.body.block.ops:
        if isinstance(op, accel.IoOp):
            n = int(np.prod(op.type.get_shape()))
            at = op.addr.value.data // 4
            if op.kind.data == "input":
                dram[at : at + n] = np.asarray(
                    inputs[op.tensor_name.data], np.float32
                ).ravel()
            else:
                outputs.append(op)
        elif isinstance(op, accel.ConstOp):
            data = _dense(op.value)
            at = op.addr.value.data // 4
            dram[at : at + data.size] = data
    env: list[int] = []

    def run(block: Block) -> None:
        for op in block.ops:
            if isinstance(op, accel.RepeatOp):
                env.append(0)
                for i in range(op.count):
                    env[-1] = i
                    run(op.body.block)
                env.pop()
            elif isinstance(op, accel.StreamOp):
                raise CannotEvaluate(
                    "program is split into streams: use the hardware model"
                )
            elif isinstance(op, accel.InstructionOp):
                _accel_op(op, mems, env, luts, rng)

    run(program.body.block)
    return {
        o.tensor_name.data: dram[o.addr.value.data // 4 :][
            : int(np.prod(o.type.get_shape()))
        ]
        .reshape(o.type.get_shape())
        .copy()
        for o in outputs
    }


def _dram_bytes(program: accel.ProgramOp) -> int:
    for name in ("dram_bytes", "dram"):
        attr = program.properties.get(name)
        if attr is not None:
            return attr.value.data  # type: ignore[attr-defined]
    raise CannotEvaluate("accel.program has no DRAM size")


def _accel_op(
    op: accel.InstructionOp,
    mems: dict[str, np.ndarray],
    env: list[int],
    luts: Mapping[ActFunc, LutTable],
    rng: RngState,
) -> None:
    """Read the operands the datasheet entry of `op` lists (as the encoder does) and
    run its semantics; sync instructions (wait, signal, nop, halt) have none, as
    program order already holds."""
    entry = by_mnemonic(op.name)
    if entry.semantics is None:
        return
    v = lambda ap: view(mems[ap.space], ap, env)
    values: dict[str, Any] = {}
    for f in entry.fields:
        attr = getattr(op, f.ir_name)
        if f.kind is Kind.ACCESS:
            values[f.name] = v(attr)
        elif f.kind is Kind.ENUM:
            values[f.name] = attr.data
        elif f.kind is Kind.SCALAR:
            col = getattr(op, f"{f.ir_name}_col")
            imm = f.default if attr is None else attr.value.data
            values[f.name] = imm if col is None else _column(v(col))
        elif f.kind is Kind.F32:
            values[f.name] = f.default if attr is None else attr.value.data
        else:
            values[f.name] = attr.value.data
    if entry.opcode is Opcode.ACT:  # ACT evaluates from the chip's tables, as the machine
        values["lut"] = luts
    elif entry.opcode in (Opcode.RANDOM, Opcode.DROPOUT, Opcode.BERNOULLI):  # POOL's generators
        values["rng"] = rng
        values["lane0"] = op.dst.pstart.at(env)
    z = op.zero_at_level if isinstance(op, accel.MatmulOp) else None
    run_instruction(
        entry.opcode, values, start=z is not None and (z < 0 or env[z] == 0)
    )


# ---------------------------------------------------------------------------
# split accel level: the binary on the hardware model
# ---------------------------------------------------------------------------


def eval_binary(module: ModuleOp, inputs: Mapping[str, np.ndarray]) -> Arrays:
    """The binary of `module` run on the hardware model. `inputs` are the model's: an
    input the program does not take (one no node reads, which the compiler drops, as
    Hugging Face exports keep `token_type_ids`) is left out, as onnxruntime accepts
    it; a fed constant input stays, for the machine's message."""
    from tidal.sim.isa import decode_container
    from tidal.sim.machine import run_program
    from tidal.targets.binary import encode

    program = decode_container(encode(module))
    takes = {str(e["name"]) for e in program.inputs}
    constants = set(program.meta.get("constant_inputs", ()))  # type: ignore[arg-type]
    fed = {k: v for k, v in inputs.items() if k in takes or k in constants}
    outputs, _ = run_program(program, fed)
    return outputs

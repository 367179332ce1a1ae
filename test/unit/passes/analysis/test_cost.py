"""The cost analysis against the hardware model: a hand-built binary with every
instruction, run with a trace, decoded back to accel IR; each instruction's cost by
the analysis equals the cycles the machine kept its engine busy, exactly, and the
per-engine sums equal the machine's busy cycles, with one weight buffer in the PE
array and with two."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from tidal.dialects.accel import (
    AccessAttr,
    ActOp,
    Aff,
    DmaOp,
    InstructionOp,
    MatmulOp,
    ProgramOp,
    RepeatOp,
    StreamOp,
)
from tidal.passes.analysis.cost import instruction_cost, program_cost
from tidal.sim import isa
from tidal.sim.config import SMALL, ChipConfig
from tidal.sim.isa import (
    Access,
    ActFunc,
    AluOp,
    Engine,
    Opcode,
    ReduceOp,
    ScalarMode,
    Space,
)
from tidal.sim.isa import make_record as rec
from tidal.sim.machine import run_program
from tidal.targets.binary import decode, encode
from xdsl.dialects.builtin import ModuleOp

P, F = 32, 48  # partitions and free size of the tiles
# The small chip with one stationary buffer and with two (F > pe_weight_load_cycles:
# with two, a reload behind an F-column matmul exposes nothing).
CHIPS = [replace(SMALL, pe_weight_buffers=b) for b in (1, 2)]


def _sbuf(offset: int, free: int = F) -> Access:
    return Access(Space.SBUF, 0, offset, ((1, P), (1, free)))


def _dram(offset: int) -> Access:
    return Access(Space.DRAM, 0, offset, ((F, P), (1, F)))


def _binary() -> bytes:
    """x -> SBUF; three matmuls (the second keeps the first's stationary operand, the
    third brings a new one); relu with an immediate scale and a column bias; add,
    reduce, memset; the sum back to DRAM. Semaphores order the engines so that no two
    transfers share DRAM bandwidth."""
    psum = Access(Space.PSUM, 0, 0, ((1, P), (1, F)))
    mm = {"dst": psum, "moving": _sbuf(0)}
    dma0 = Engine.DMA0
    streams = {
        dma0: [
            rec(Opcode.DMA, dma0, signal=0, src=_dram(0), dst=_sbuf(0)),
            rec(Opcode.WAIT, dma0, sem=3, value=1),
            rec(Opcode.DMA, dma0, src=_sbuf(8192), dst=_dram(P * F * 4)),
        ],
        Engine.PE: [
            rec(Opcode.WAIT, Engine.PE, sem=0, value=1),
            rec(
                Opcode.MATMUL,
                Engine.PE,
                flags=isa.FLAG_START,
                stationary=_sbuf(0, P),
                **mm,
            ),
            rec(Opcode.MATMUL, Engine.PE, stationary=_sbuf(0, P), **mm),
            rec(Opcode.MATMUL, Engine.PE, signal=1, stationary=_sbuf(256, P), **mm),
        ],
        Engine.ACT: [
            rec(Opcode.WAIT, Engine.ACT, sem=1, value=1),
            rec(
                Opcode.ACT,
                Engine.ACT,
                signal=2,
                dst=_sbuf(4096),
                src=psum,
                func=ActFunc.RELU,
                scale_mode=ScalarMode.IMM,
                scale_imm=0.5,
                bias_mode=ScalarMode.COLUMN,
                bias_space=Space.SBUF,
                bias_pstart=0,
                bias_offset=0,
            ),
        ],
        Engine.POOL: [
            rec(Opcode.WAIT, Engine.POOL, sem=2, value=1),
            rec(
                Opcode.TENSOR_TENSOR,
                Engine.POOL,
                dst=_sbuf(8192),
                a=_sbuf(4096),
                b=_sbuf(0),
                op=AluOp.ADD,
            ),
            rec(
                Opcode.REDUCE,
                Engine.POOL,
                dst=_sbuf(12288, 1),
                src=_sbuf(8192),
                op=ReduceOp.MAX,
                nreduce=1,
                scale_imm=1.0,
            ),
            rec(Opcode.MEMSET, Engine.POOL, dst=_sbuf(16384), value=2.0),
            rec(Opcode.NOP, Engine.POOL),
            rec(Opcode.SIGNAL, Engine.POOL, sem=3),
        ],
    }
    for engine, records in streams.items():
        records.append(rec(Opcode.HALT, engine))
    io = {"addr": 0, "shape": [P, F], "dtype": "float32"}
    program = isa.Program(
        chip="small",
        streams={e: np.stack(r) for e, r in streams.items()},
        consts=[],
        inputs=[{"name": "x", **io}],
        outputs=[{"name": "y", **io, "addr": P * F * 4}],
        meta={"dram_bytes": 1 << 16},
    )
    return isa.encode_container(program)


@pytest.fixture(scope="module", params=CHIPS, ids=lambda c: f"{c.pe_weight_buffers}buf")
def run(
    request: pytest.FixtureRequest,
) -> tuple[ProgramOp, dict[str, object], ChipConfig]:
    chip = request.param
    data = _binary()
    x = np.random.default_rng(0).standard_normal((P, F)).astype(np.float32)
    _, stats = run_program(isa.decode_container(data), {"x": x}, chip, trace=True)
    module = decode(data)
    assert isinstance(module, ModuleOp)
    program = next(op for op in module.ops if isinstance(op, ProgramOp))
    return program, stats, chip


def test_each_instruction_costs_what_the_machine_charges(
    run: tuple[ProgramOp, dict, ChipConfig],
) -> None:
    program, stats, chip = run
    ops = {
        s.engine: [op for op in s.body.block.ops if isinstance(op, InstructionOp)]
        for s in program.streams
    }
    seen: set[str] = set()
    stationary, behind = None, None
    for t in stats["trace"]:
        op = ops[t["engine"]][t["index"]]
        busy = t["end"] - t["start"]
        if isinstance(op, MatmulOp):
            reload = op.stationary != stationary
            cost = instruction_cost(op, chip, reload=reload, behind=behind)
            stationary, behind = op.stationary, instruction_cost(op, chip, reload=False)
        else:
            cost = instruction_cost(op, chip)
        assert cost == busy, (t, op.name)
        seen.add(op.name)
    every = {
        "accel.dma",
        "accel.matmul",
        "accel.act",
        "accel.tensor_tensor",
        "accel.reduce",
    }
    assert (
        every
        | {"accel.memset", "accel.wait", "accel.signal", "accel.nop", "accel.halt"}
        <= seen
    )


def test_matmul_pays_a_weight_load_only_for_a_new_stationary(
    run: tuple[ProgramOp, dict, ChipConfig],
) -> None:
    _, stats, chip = run
    pe = [t["end"] - t["start"] for t in stats["trace"] if t["opcode"] == "MATMUL"]
    load = chip.pe_weight_load_cycles + chip.pe_fill_drain_cycles
    # N = 48 > pe_min_cycles; with two buffers the third matmul's load hides behind
    # the second's 48 columns (> 32 load cycles).
    third = F + load if chip.pe_weight_buffers == 1 else F
    assert pe == [F + load, F, third]


def test_program_cost_is_the_machines_busy_time_per_engine(
    run: tuple[ProgramOp, dict, ChipConfig],
) -> None:
    program, stats, chip = run
    costs = program_cost(program, chip)
    engines = stats["engines"]
    assert isinstance(engines, dict)
    busy = {name: s["busy_cycles"] for name, s in engines.items() if s["instructions"]}
    assert costs == busy
    dma = chip.dma_fixed_latency_cycles + P * F * 4 / chip.dram_bytes_per_cycle
    assert costs["dma0"] == 2 * dma + chip.sync_cycles  # two transfers and a wait


def _repeats(stationary_step: int) -> ProgramOp:
    """repeat 4 { dma in; repeat 3 { matmul }; relu }, unified, on the small chip; the
    matmul's stationary offset moves by `stationary_step` bytes per inner iteration."""
    tile = [(1, P), (1, F)]
    psum = AccessAttr.get("psum", 0, 0, tile)
    st = AccessAttr.get("sbuf", 0, Aff(0, (0, stationary_step)), [(1, P), (1, P)])
    body = [
        DmaOp(
            0,
            AccessAttr.get("dram", 0, Aff(0, (P * F * 4,)), [(F, P), (1, F)]),
            AccessAttr.get("sbuf", 0, 4096, tile),
        ),
        RepeatOp(3, [MatmulOp(psum, st, AccessAttr.get("sbuf", 0, 8192, tile))]),
        ActOp("relu", AccessAttr.get("sbuf", 0, 12288, tile), psum),
    ]
    return ProgramOp("small", 1 << 20, [RepeatOp(4, body)])


@pytest.mark.parametrize("chip", CHIPS, ids=lambda c: f"{c.pe_weight_buffers}buf")
@pytest.mark.parametrize("moves", [False, True])
def test_program_cost_multiplies_by_trip_counts(moves: bool, chip: ChipConfig) -> None:
    costs = program_cost(_repeats(1024 if moves else 0), chip)
    dma = chip.dma_fixed_latency_cycles + P * F * 4 / chip.dram_bytes_per_cycle
    act = chip.act_fixed_cycles + F
    load = chip.pe_weight_load_cycles + chip.pe_fill_drain_cycles
    # One weight load for a stationary operand that stays put, one per matmul else;
    # with two buffers all but the first hide behind the previous matmul's F columns.
    loads = 12 if moves and chip.pe_weight_buffers == 1 else 1
    pe = 12 * F + loads * load
    assert costs == {"dma0": 4 * dma, "pe": pe, "act": 4 * act}


@pytest.mark.parametrize("chip", CHIPS, ids=lambda c: f"{c.pe_weight_buffers}buf")
@pytest.mark.parametrize(
    ("outer", "inner"), [(0, 0), (1024, 0), (0, 1024), (1024, 256)]
)
def test_program_cost_of_repeats_equals_that_of_the_expanded_program(
    outer: int, inner: int, chip: ChipConfig
) -> None:
    """The two-iteration walk over repeats charges the weight loads that the
    expanded (decoded) program has, one matmul after another, each behind the
    streaming of the matmul before it (the fixed one streams 16 columns, less than a
    load)."""
    tile = [(1, P), (1, F)]
    psum = AccessAttr.get("psum", 0, 0, tile)
    moving = AccessAttr.get("sbuf", 0, 32768, tile)
    short_tile = [(1, P), (1, chip.pe_min_cycles)]
    short = AccessAttr.get("sbuf", 0, 32768, short_tile)
    short_psum = AccessAttr.get("psum", 0, 0, short_tile)
    moves = AccessAttr.get("sbuf", 0, Aff(0, (outer, inner)), [(1, P), (1, P)])
    fixed = AccessAttr.get("sbuf", 0, 16384, [(1, P), (1, P)])
    pe = [
        RepeatOp(
            2,
            [
                RepeatOp(3, [MatmulOp(psum, moves, moving)]),
                MatmulOp(short_psum, fixed, short),
                RepeatOp(2, [MatmulOp(psum, moves, moving)]),
            ],
        )
    ]
    act = [RepeatOp(5, [ActOp("exp", AccessAttr.get("sbuf", 0, 40960, tile), psum)])]
    program = ProgramOp("small", 1 << 16, [StreamOp("pe", pe), StreamOp("act", act)])
    module = ModuleOp([program])
    flat = next(op for op in decode(encode(module)).ops if isinstance(op, ProgramOp))
    assert program_cost(program, chip) == program_cost(flat, chip)
    if outer == inner == 0:  # loads: the first, then into and out of `fixed`, twice
        load = chip.pe_weight_load_cycles + chip.pe_fill_drain_cycles
        streaming = 10 * F + 2 * chip.pe_min_cycles
        if chip.pe_weight_buffers == 1:
            loads = 5 * load
        else:  # into `fixed` behind F columns: 0; out of it behind pe_min_cycles
            loads = load + 2 * (chip.pe_weight_load_cycles - chip.pe_min_cycles)
        assert program_cost(program, chip)["pe"] == streaming + loads

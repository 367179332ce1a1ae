"""What the loader rejects before anything runs, and how it says so."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from tidal.sim import isa
from tidal.sim.config import DEFAULT, SMALL
from tidal.sim.isa import Engine, Opcode, make_record
from tidal.sim.machine import LoadError, run_program

DMA0 = Engine.DMA0


def load_error(program: isa.Program, chip: object = None) -> str:
    with pytest.raises(LoadError) as info:
        run_program(program, {}, chip)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message
    return message


def test_out_of_range_sbuf_partition(mk: SimpleNamespace) -> None:
    bad = make_record(
        Opcode.DMA,
        DMA0,
        src=mk.dram(0, (1, 4)),
        dst=mk.sbuf(SMALL.sbuf_partitions - 2, 4, 0, (1, 1)),
    )
    program = mk.build({DMA0: [make_record(Opcode.NOP, DMA0), bad]})
    message = load_error(program)
    assert message.startswith(
        "stream dma0, instruction 1 (DMA): dst: SBUF partitions [30, 34)"
    )
    assert "32 partitions" in message


def test_out_of_range_dram_address(mk: SimpleNamespace) -> None:
    bad = make_record(
        Opcode.DMA, DMA0, src=mk.dram(4096, (1, 8)), dst=mk.sbuf(0, 8, 0, (1, 1))
    )
    message = load_error(mk.build({DMA0: [bad]}, dram_bytes=4096))
    assert message == (
        "stream dma0, instruction 0 (DMA): src: DRAM bytes [4096, 4128) outside the "
        "program's 4096-byte DRAM"
    )


def test_out_of_range_sbuf_bytes(mk: SimpleNamespace) -> None:
    last = SMALL.sbuf_partition_bytes - 4
    ok = make_record(
        Opcode.MEMSET, Engine.POOL, dst=mk.sbuf(0, 1, last, (1, 1)), value=1.0
    )
    bad = make_record(
        Opcode.MEMSET, Engine.POOL, dst=mk.sbuf(0, 1, last, (1, 2)), value=1.0
    )
    run_program(mk.build({Engine.POOL: [ok]}), {})
    message = load_error(mk.build({Engine.POOL: [ok, bad]}))
    assert "instruction 1 (MEMSET): dst: SBUF bytes" in message


def test_the_earliest_bad_instruction_is_reported(mk: SimpleNamespace) -> None:
    bad_sem = make_record(Opcode.SIGNAL, Engine.POOL, sem=SMALL.num_semaphores)
    bad_dst = make_record(Opcode.MEMSET, Engine.POOL, dst=mk.sbuf(40, 1), value=0.0)
    message = load_error(mk.build({Engine.POOL: [bad_dst, bad_sem]}))
    assert "instruction 0 (MEMSET)" in message
    message = load_error(mk.build({Engine.POOL: [bad_sem, bad_dst]}))
    assert (
        message == "stream pool, instruction 0 (SIGNAL): semaphore 32 outside [0, 32)"
    )


def test_chip_mismatch(mk: SimpleNamespace) -> None:
    program = mk.build({DMA0: [make_record(Opcode.NOP, DMA0)]})
    assert load_error(program, DEFAULT) == (
        "binary was compiled for chip 'small', simulator configured for 'default'"
    )


def test_unknown_chip(mk: SimpleNamespace) -> None:
    program = mk.build({DMA0: [make_record(Opcode.NOP, DMA0)]}, chip="huge")
    assert "unknown chip preset 'huge'" in load_error(program)


def test_dma_queue_missing_on_chip(mk: SimpleNamespace) -> None:
    q = DMA0 + SMALL.dma_queues
    program = mk.build({q: [make_record(Opcode.NOP, q)]})
    assert "stream for engine 5" in load_error(program)


@pytest.mark.parametrize(
    ("engine", "record", "expected"),
    [
        (
            Engine.ACT,
            make_record(Opcode.MEMSET, Engine.ACT, value=0.0),
            "instruction 0 (MEMSET): cannot run on engine act",
        ),
        (
            Engine.PE,
            make_record(Opcode.NOP, Engine.ACT),
            "engine word 1 does not match the stream's engine 0",
        ),
        (
            Engine.PE,
            make_record(Opcode.NOP, Engine.PE, signal=99),
            "signal semaphore 99 outside [0, 32)",
        ),
        (
            Engine.PE,
            make_record(Opcode.NOP, Engine.PE, debug=0),
            "debug id 0 outside the debug table (0 entries)",
        ),
    ],
)
def test_header_checks(
    mk: SimpleNamespace, engine: int, record: np.ndarray, expected: str
) -> None:
    assert expected in load_error(mk.build({engine: [record]}))


def test_unknown_opcode(mk: SimpleNamespace) -> None:
    record = make_record(Opcode.NOP, Engine.PE)
    record[isa.W_OPCODE] = 77
    assert load_error(mk.build({Engine.PE: [record]})) == (
        "stream pe, instruction 0 (opcode 77): unknown opcode 77"
    )


def test_operand_sizes_must_agree(mk: SimpleNamespace) -> None:
    dma = make_record(
        Opcode.DMA, DMA0, src=mk.dram(0, (1, 8)), dst=mk.sbuf(0, 4, 0, (1, 1))
    )
    assert "src has 8 elements (8,), dst has 4 (4, 1)" in load_error(
        mk.build({DMA0: [dma]})
    )
    mm = make_record(
        Opcode.MATMUL,
        Engine.PE,
        dst=mk.psum(0, 4, 0, (1, 8)),
        stationary=mk.sbuf(0, 4, 0, (1, 4)),
        moving=mk.sbuf(0, 3, 64, (1, 8)),
    )
    assert "moving spans 3 partitions, stationary K=4" in load_error(
        mk.build({Engine.PE: [mm]})
    )


def test_matmul_operand_spaces(mk: SimpleNamespace) -> None:
    mm = make_record(
        Opcode.MATMUL,
        Engine.PE,
        dst=mk.sbuf(0, 4, 0, (1, 8)),
        stationary=mk.sbuf(0, 4, 0, (1, 4)),
        moving=mk.sbuf(0, 4, 64, (1, 8)),
    )
    assert "dst must be in PSUM, not SBUF" in load_error(mk.build({Engine.PE: [mm]}))


def test_io_table_outside_dram(mk: SimpleNamespace) -> None:
    program = mk.build(
        {DMA0: [make_record(Opcode.NOP, DMA0)]},
        outputs=[mk.io("y", 4000, (4, 8))],
        dram_bytes=4096,
    )
    assert load_error(program).startswith("output 'y' occupies DRAM bytes [4000, 4128)")


def test_missing_dram_size(mk: SimpleNamespace) -> None:
    program = mk.build({DMA0: [make_record(Opcode.NOP, DMA0)]})
    program.meta = {}
    assert "'dram_bytes'" in load_error(program)

"""Instructions live in the modelled DRAM: the loader lays the streams out as an
instruction image, each engine fetches real bytes from it into its ring and decodes
what it fetched, so a DMA that rewrites instruction memory changes what runs; a
rewritten record must be a NOP or a record the loader validated for that engine."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from tidal.sim import isa
from tidal.sim.config import SMALL
from tidal.sim.isa import Engine, Opcode, make_record
from tidal.sim.loader import IMAGE_ALIGN, instruction_image
from tidal.sim.machine import ExecutionError, LoadError, run_program

POOL, DMA0 = Engine.POOL, Engine.DMA0
IMAGE = 16384  # where the tests put the instruction image, inside the 64 KiB DRAM
TARGET = 36  # the POOL record the DMA rewrites: in its third fetch block (16 records)
CONST = 12288  # the replacement record's constant, below the image


def _program(mk: SimpleNamespace, replacement: np.ndarray | None, instr_base: int | None = IMAGE):
    """POOL fills a 4x8 tile with 1.0, waits for DMA0, runs NOPs up to record TARGET,
    which fills the tile with 5.0, then signals; DMA0 first copies `replacement` (a
    constant at CONST) over POOL's record TARGET in the image, then stores the tile.
    Output 1.0 everywhere if the rewrite took, 5.0 if not."""
    tile = mk.sbuf(0, 4, 0, (1, 8))
    pool = [
        make_record(Opcode.MEMSET, POOL, dst=tile, value=1.0),
        make_record(Opcode.WAIT, POOL, sem=0, value=1),
    ]
    pool += [make_record(Opcode.NOP, POOL) for _ in range(TARGET - len(pool))]
    pool += [make_record(Opcode.MEMSET, POOL, dst=tile, value=5.0), make_record(Opcode.SIGNAL, POOL, sem=1)]
    consts = []
    dma0 = []
    if replacement is not None:
        consts = [(CONST, replacement.astype("<i4").view(np.uint8).reshape(-1))]
        # POOL's stream is the first of the image (engines in order: POOL, then DMA0)
        dst = IMAGE + TARGET * isa.RECORD_BYTES
        dma0.append(make_record(
            Opcode.DMA, DMA0, src=mk.dram(CONST, (1, isa.RECORD_WORDS)),
            dst=mk.dram(dst, (1, isa.RECORD_WORDS)), signal=0,
        ))
    else:
        dma0.append(make_record(Opcode.SIGNAL, DMA0, sem=0))
    dma0 += [
        make_record(Opcode.WAIT, DMA0, sem=1, value=1),
        make_record(Opcode.DMA, DMA0, src=tile, dst=mk.dram(0, (8, 4), (1, 8))),
    ]
    return mk.build(
        {POOL: pool, DMA0: dma0}, outputs=[mk.io("y", 0, (4, 8))], consts=consts,
        instr_base=instr_base,
    )


def test_the_program_runs_as_written_without_a_rewrite(mk: SimpleNamespace) -> None:
    out, stats = run_program(_program(mk, None), {})
    np.testing.assert_array_equal(out["y"], np.full((4, 8), 5.0, np.float32))
    assert stats["instr_fetch"]["overwritten_records"] == 0
    assert stats["instr_fetch"]["transfers"] >= 3  # POOL's 38 records: three blocks


def test_a_dma_that_writes_a_nop_over_an_instruction_changes_what_runs(mk: SimpleNamespace) -> None:
    out, stats = run_program(_program(mk, make_record(Opcode.NOP, POOL)), {})
    np.testing.assert_array_equal(out["y"], np.full((4, 8), 1.0, np.float32))
    assert stats["instr_fetch"]["overwritten_records"] == 1
    assert stats["engines"]["pool"]["instructions"] == 38


def test_a_record_the_loader_validated_may_replace_another(mk: SimpleNamespace) -> None:
    """Record 0 of POOL's stream (fill with 1.0) written over record TARGET."""
    tile = mk.sbuf(0, 4, 0, (1, 8))
    out, _ = run_program(_program(mk, make_record(Opcode.MEMSET, POOL, dst=tile, value=1.0)), {})
    np.testing.assert_array_equal(out["y"], np.full((4, 8), 1.0, np.float32))


def test_an_unchecked_record_cannot_be_smuggled_in(mk: SimpleNamespace) -> None:
    tile = mk.sbuf(0, 4, 0, (1, 8))
    for bad in (
        make_record(Opcode.MEMSET, POOL, dst=tile, value=7.0),  # a value no record has
        make_record(Opcode.NOP, POOL, signal=3),  # a NOP that signals is not a NOP
        make_record(Opcode.NOP, DMA0),  # another engine's NOP
        np.full(isa.RECORD_WORDS, -1, np.int32),  # garbage
    ):
        with pytest.raises(ExecutionError, match=r"pool fetched record 36 from DRAM byte \d+: it is neither"):
            run_program(_program(mk, bad), {})


def test_an_image_outside_the_program_s_dram_is_out_of_its_dmas_reach(mk: SimpleNamespace) -> None:
    """Without META instr_base the image follows the program's DRAM: the same DMA
    writes data memory, and the program runs as written."""
    out, stats = run_program(_program(mk, make_record(Opcode.NOP, POOL), instr_base=None), {})
    np.testing.assert_array_equal(out["y"], np.full((4, 8), 5.0, np.float32))
    assert stats["instr_fetch"]["overwritten_records"] == 0


def test_the_image_layout(mk: SimpleNamespace) -> None:
    program = _program(mk, None)
    layout = instruction_image(program, SMALL, 1 << 16)
    assert layout[POOL] == IMAGE
    assert layout[DMA0] == IMAGE + -(-38 * isa.RECORD_BYTES // IMAGE_ALIGN) * IMAGE_ALIGN
    program.meta.pop("instr_base")
    outside = instruction_image(program, SMALL, 1 << 16)
    assert outside[POOL] == 1 << 16  # after the program's DRAM


@pytest.mark.parametrize(
    ("base", "message"),
    [
        (100, "must be a non-negative multiple of 64"),
        ("x", "must be a non-negative multiple of 64"),
        ((1 << 16) - 128, r"instruction image takes DRAM bytes \[65408, \d+\), past the program's 65536-byte DRAM"),
        (CONST, rf"constant 0 occupies DRAM bytes \[{CONST}, {CONST + isa.RECORD_BYTES}\), inside the instruction image"),
        (0, r"output 'y' occupies DRAM bytes \[0, 128\), inside the instruction image"),
    ],
)
def test_the_loader_refuses_a_bad_image(mk: SimpleNamespace, base: object, message: str) -> None:
    program = _program(mk, make_record(Opcode.NOP, POOL))
    program.meta["instr_base"] = base
    with pytest.raises(LoadError, match=message):
        run_program(program, {})

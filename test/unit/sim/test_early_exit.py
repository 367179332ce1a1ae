"""The early-exit instructions (seed 000, "reducing neural network processing"
by overwriting later blocks of a loop with NOPs): EVAL computes a loop's condition on
the chip, OVERWRITE (unless the condition holds) makes its DMA queue write NOP
records over the following blocks in the instruction image, so they do nothing.

The program here is written by hand (the compiler's ONNX Loop lowering is not built
yet): POOL runs up to four blocks, each doubling a tile and storing it; after each
block DMA0 evaluates max(tile) < threshold and, if it fails, NOPs POOL's remaining
blocks. The fewer blocks run, the fewer cycles."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from tidal.sim import isa
from tidal.sim.config import SMALL
from tidal.sim.isa import AluOp, CmpOp, Engine, EvalInput, Opcode, ReduceOp, make_record
from tidal.sim.loader import IMAGE_ALIGN, instruction_image
from tidal.sim.machine import LoadError, run_program

POOL, DMA0 = Engine.POOL, Engine.DMA0
IMAGE = 1 << 18  # the instruction image, inside the program's 512 KiB DRAM
BLOCKS = 4
GAP = 40  # NOPs after each block's wait: the fetch logic (32-record buffer) cannot reach the next block early
FLAG = 1 << 16  # the flag word in DRAM, after the 64 KiB output
NOPS = FLAG + 64  # a constant of NOP records: POOL's, then DMA0's
WORK = 8  # POOL instructions per block: 7 maxima of the tile with itself, then the doubling


def _program(mk: SimpleNamespace, threshold: float) -> isa.Program:
    """POOL: blocks of (double the tile, signal, wait for the decision, GAP NOPs);
    DMA0: blocks of (wait for POOL, store the tile, wait for the store, EVAL, OVERWRITE POOL's and its
    own remaining blocks unless the loop goes on, signal the decision, GAP NOPs).
    The NOPs keep each engine's fetch logic from reaching its next block before the
    decision (a self-refilling program would REFILL it after the decision instead)."""
    tile = mk.sbuf(0, 32, 0, (1, 512))
    out = mk.dram(0, (512, 32), (1, 512))
    head = mk.dram(0, (1, 8))  # EVAL reads the first 8 elements
    flag = mk.dram(FLAG, (1, 1))
    gap = lambda engine: [make_record(Opcode.NOP, engine) for _ in range(GAP)]
    pool = [make_record(Opcode.MEMSET, POOL, dst=tile, value=1.0)]
    pool_starts = []
    for k in range(BLOCKS):
        pool_starts.append(len(pool))
        pool += [
            *[make_record(Opcode.TENSOR_TENSOR, POOL, dst=tile, a=tile, b=tile, op=AluOp.MAX)
              for _ in range(WORK - 1)],
            make_record(Opcode.TENSOR_TENSOR, POOL, dst=tile, a=tile, b=tile, op=AluOp.ADD, signal=0),
            make_record(Opcode.WAIT, POOL, sem=1, value=k + 1),  # the decision after block k
            *gap(POOL),
        ]
    per_block = 6 + GAP  # DMA0's records per block
    dma_starts = [k * per_block for k in range(BLOCKS)]
    ends = {POOL: len(pool), DMA0: BLOCKS * per_block}  # the streams' lengths
    # where the loader puts each stream (engine order, each 64-byte aligned)
    image = {POOL: IMAGE, DMA0: IMAGE + -(-len(pool) * isa.RECORD_BYTES // IMAGE_ALIGN) * IMAGE_ALIGN}
    nops_at = {POOL: NOPS, DMA0: NOPS + ends[POOL] * isa.RECORD_BYTES}

    def overwrite(engine: int, first: int, signal: int = -1) -> np.ndarray:
        words = (ends[engine] - first) * isa.RECORD_WORDS
        return make_record(
            Opcode.OVERWRITE, DMA0, dst=mk.dram(image[engine] + first * isa.RECORD_BYTES, (1, words)),
            src=mk.dram(nops_at[engine], (1, words)), flag=flag, signal=signal,
        )

    dma0 = []
    for k in range(BLOCKS):
        dma0 += [
            make_record(Opcode.WAIT, DMA0, sem=0, value=k + 1),
            make_record(Opcode.DMA, DMA0, src=tile, dst=out, signal=2),
            # descriptors of a queue overlap: EVAL must not read before the store lands
            make_record(Opcode.WAIT, DMA0, sem=2, value=k + 1),
            make_record(
                Opcode.EVAL, DMA0, dst=flag, a=head, b=head,
                reduce=ReduceOp.MAX, input=EvalInput.A, cmp=CmpOp.LT, threshold=threshold,
            ),
        ]
        if k + 1 < BLOCKS:
            dma0 += [overwrite(POOL, pool_starts[k + 1]), overwrite(DMA0, dma_starts[k + 1], signal=1)]
        else:
            dma0 += [make_record(Opcode.NOP, DMA0), make_record(Opcode.SIGNAL, DMA0, sem=1)]
        dma0 += gap(DMA0)
    nops = np.concatenate([
        np.tile(make_record(Opcode.NOP, engine), (ends[engine], 1)) for engine in (POOL, DMA0)
    ]).astype("<i4")
    program = mk.build(
        {POOL: pool, DMA0: dma0}, outputs=[mk.io("y", 0, (32, 512))],
        consts=[(NOPS, nops.view(np.uint8).reshape(-1))], instr_base=IMAGE, dram_bytes=1 << 19,
    )
    assert instruction_image(program, SMALL, 1 << 19) == image
    return program


@pytest.mark.parametrize(("threshold", "runs"), [(100.0, 4), (10.0, 4), (7.0, 3), (3.0, 2), (1.5, 1)])
def test_the_loop_exits_after_the_first_block_whose_condition_fails(mk, threshold: float, runs: int) -> None:
    """Block k (from 1) doubles the tile to 2^k; the loop goes on while 2^k <
    threshold, for four blocks at most."""
    out, stats = run_program(_program(mk, threshold), {})
    np.testing.assert_array_equal(out["y"], np.full((32, 512), 2.0**runs, np.float32))
    assert stats["instr_fetch"]["overwrites"] == (2 if runs < BLOCKS else 0)  # POOL's, DMA0's
    # the remaining blocks' POOL work and wait, DMA0's six (one of them a NOP already)
    assert stats["instr_fetch"]["overwritten_records"] == max(0, (BLOCKS - runs) * (WORK + 1 + 6) - 1)


def test_cycles_fall_with_earlier_exits(mk) -> None:
    cycles = [run_program(_program(mk, t), {})[1]["cycles"] for t in (100.0, 7.0, 3.0, 1.5)]
    assert cycles[0] > cycles[1] > cycles[2] > cycles[3]


def test_the_trace_shows_the_nop_blocks(mk) -> None:
    _, stats = run_program(_program(mk, 1.5), {}, trace=True)
    pool = [t for t in stats["trace"] if t["engine"] == "pool"]
    # block 1 adds once; blocks 2..4 were overwritten: their adds and waits are NOPs
    assert sum(t["opcode"] == "TENSOR_TENSOR" for t in pool) == WORK
    assert sum(t["opcode"] == "WAIT" for t in pool) == 1
    assert sum(t["opcode"] == "NOP" for t in pool) == BLOCKS * GAP + (BLOCKS - 1) * (WORK + 1)


def test_the_loader_wants_one_element_flags(mk) -> None:
    program = _program(mk, 3.0)
    recs = program.streams[DMA0]
    at = isa.OPERANDS[Opcode.EVAL]["dst"]
    eval_rows = np.flatnonzero(recs[:, isa.W_OPCODE] == Opcode.EVAL)
    recs[eval_rows[0], at : at + isa.ACCESS_WORDS] = mk.dram(FLAG, (1, 2)).words()
    with pytest.raises(LoadError, match=r"\(EVAL\): dst must be one element, not 2"):
        run_program(program, {})

"""Instruction fetch: streams reach finite per-engine buffers through refill transfers
that share the DRAM bandwidth with data DMAs; an engine whose next record is missing
stalls, and the stalls show in the stats and the trace."""

from __future__ import annotations

import math

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

from tidal.sim.config import SMALL, ChipConfig
from tidal.sim.isa import RECORD_BYTES, AluOp, Engine, Opcode, make_record
from tidal.sim.machine import run_program
from tidal.sim.trace import chrome_trace

DMA0 = Engine.DMA0
BW, LATENCY = SMALL.dram_bytes_per_cycle, SMALL.dma_fixed_latency_cycles


def tiny(buffer_records: int = 4, block_records: int = 2) -> ChipConfig:
    """The small chip with an instruction buffer of a few records."""
    return dataclasses.replace(
        SMALL,
        instr_buffer_bytes=buffer_records * RECORD_BYTES,
        instr_fetch_block_bytes=block_records * RECORD_BYTES,
    )


def test_refills_one_block_at_a_time_when_the_engine_outruns_them(
    mk: SimpleNamespace,
) -> None:
    """8 one-cycle NOPs, blocks of 2: every block costs a whole fetch (latency +
    2 records at full bandwidth) and the engine waits for each."""
    n, block = 8, 2
    program = mk.build({Engine.POOL: [make_record(Opcode.NOP, Engine.POOL)] * n})
    _, stats = run_program(program, {}, tiny(4, block), trace=True)
    per_block = LATENCY + block * RECORD_BYTES / BW
    assert stats["cycles"] == (n // block) * per_block + block * SMALL.sync_cycles
    pool = stats["engines"]["pool"]
    assert pool["busy_cycles"] == n * SMALL.sync_cycles
    assert pool["fetch_stall_cycles"] == stats["cycles"] - n * SMALL.sync_cycles
    assert stats["fetch_stall_cycles"] == pool["fetch_stall_cycles"]
    assert stats["instr_fetch"] == {"bytes": n * RECORD_BYTES, "transfers": n // block, "overwritten_records": 0, "overwrites": 0, "host_bytes": block * RECORD_BYTES, "refill_bytes": 0}
    fetches = [(f["first"], f["count"]) for f in stats["fetch_trace"]]
    assert fetches == [(0, 2), (2, 2), (4, 2), (6, 2)]
    stalls = [s for s in stats["stall_trace"] if s["kind"] == "fetch"]
    assert [s["index"] for s in stalls] == [0, 2, 4, 6]


def test_a_refill_starts_as_soon_as_the_ring_has_room(mk: SimpleNamespace) -> None:
    """Slow instructions: the ring (4 records) takes two blocks at once; the third
    block waits until the first two records have run, and never stalls the engine."""
    free = 1000
    memset = make_record(
        Opcode.MEMSET, Engine.POOL, dst=mk.sbuf(0, 1, 0, (1, free)), value=1.0
    )
    _, stats = run_program(
        mk.build({Engine.POOL: [memset] * 6}), {}, tiny(4, 2), trace=True
    )
    cost = SMALL.pool_fixed_cycles + free
    first = LATENCY + 2 * RECORD_BYTES / BW
    starts = [f["start"] for f in stats["fetch_trace"]]
    assert starts == [0, first, first + 2 * cost]
    # the fill only (engine stats in whole cycles: a fill of 2 records of 208 bytes
    # at 64 bytes per cycle is 6.5 cycles past the latency)
    assert stats["engines"]["pool"]["fetch_stall_cycles"] == math.ceil(first)
    assert stats["cycles"] == math.ceil(first + 6 * cost)


def test_refills_share_dram_bandwidth_with_data_dmas(mk: SimpleNamespace) -> None:
    """A refill whose data phase lies inside a data DMA's slows it by exactly the
    refill's bytes over the bandwidth (both get half while they overlap)."""
    nbytes = 4 * 4096
    load = make_record(
        Opcode.DMA, DMA0, src=mk.dram(0, (1, 4096)), dst=mk.sbuf(0, 1, 0, (1, 4096))
    )
    nops = [make_record(Opcode.NOP, Engine.POOL)] * 4  # two blocks of 2
    _, alone = run_program(mk.build({DMA0: [load]}), {}, tiny(4, 2), trace=True)
    _, shared = run_program(
        mk.build({DMA0: [load], Engine.POOL: nops}), {}, tiny(4, 2), trace=True
    )
    [dma_alone] = [t for t in alone["trace"] if t["engine"] == "dma0"]
    [dma_shared] = [t for t in shared["trace"] if t["engine"] == "dma0"]
    assert dma_alone["end"] - dma_alone["start"] == LATENCY + nbytes / BW
    refill = shared["fetch_trace"][-1]
    assert refill["engine"] == "pool" and refill["first"] == 2
    # The refill's data phase lies inside the DMA's.
    assert dma_shared["start"] < refill["start"]
    assert refill["end"] < dma_shared["end"]
    assert dma_shared["end"] - dma_shared["start"] == pytest.approx(
        LATENCY + (nbytes + 2 * RECORD_BYTES) / BW
    )


def test_program_larger_than_the_buffer_runs_correctly(mk: SimpleNamespace) -> None:
    """y = 20 x, as 20 additions on POOL, through a 4-record instruction buffer."""
    x = np.arange(32, dtype=np.float32).reshape(4, 8) / 7
    tile, acc = mk.sbuf(0, 4, 0, (1, 8)), mk.sbuf(0, 4, 64, (1, 8))

    def add(**kw: int) -> np.ndarray:  # acc += tile
        tt = Opcode.TENSOR_TENSOR
        return make_record(tt, Engine.POOL, dst=acc, a=acc, b=tile, op=AluOp.ADD, **kw)

    adds = [add(debug=0) for _ in range(20)]
    program = mk.build(
        {
            DMA0: [
                make_record(
                    Opcode.DMA,
                    DMA0,
                    signal=0,
                    src=mk.dram(0, (8, 4), (1, 8)),
                    dst=tile,
                ),
                make_record(Opcode.WAIT, DMA0, sem=1, value=1),
                make_record(
                    Opcode.DMA, DMA0, src=acc, dst=mk.dram(256, (8, 4), (1, 8))
                ),
            ],
            Engine.POOL: [
                make_record(Opcode.MEMSET, Engine.POOL, dst=acc, value=0.0),
                make_record(Opcode.WAIT, Engine.POOL, sem=0, value=1),
                *adds[:-1],
                add(signal=1),
            ],
        },
        inputs=[mk.io("x", 0, (4, 8))],
        outputs=[mk.io("y", 256, (4, 8))],
        debug=["accumulate"],
    )
    chip = tiny(4, 2)
    outputs, stats = run_program(program, {"x": x}, chip, trace=True)
    expected = np.zeros_like(x)
    for _ in range(20):
        expected += x
    np.testing.assert_array_equal(outputs["y"], expected)
    pool = stats["engines"]["pool"]
    assert pool["instructions"] == 22
    first_fill = LATENCY + 2 * RECORD_BYTES / BW  # shared with dma0's fill, at most
    assert pool["fetch_stall_cycles"] > 2 * first_fill  # refills, not just the fill
    assert stats["instr_fetch"]["transfers"] == 11 + 2  # pool 22/2, dma0 3 -> 2
    # The same stalls in the Chrome trace, on pool's track, and every refill on
    # pool's fetch track.
    events = chrome_trace(stats, chip)["traceEvents"]
    tracks = {
        e["args"]["name"]: e["tid"] for e in events if e["name"] == "thread_name"
    }
    stalls = [
        e
        for e in events
        if e.get("name") == "stall: fetch" and e["tid"] == tracks["pool"]
    ]
    assert len(stalls) >= 2
    us = 1e6 / chip.clock_hz
    assert sum(e["dur"] for e in stalls) == pytest.approx(  # (stats: whole cycles)
        pool["fetch_stall_cycles"] * us, abs=2 * us
    )
    refills = [
        e
        for e in events
        if e.get("name") == "FETCH" and e["tid"] == tracks["pool fetch"]
    ]
    assert len(refills) == 11
    adds_traced = [
        e for e in events if e.get("name") == "TENSOR_TENSOR" and e["args"]["source"]
    ]
    assert len(adds_traced) == 19
    assert adds_traced[0]["args"]["source"] == "accumulate"
    # Slices on one track never overlap once Perfetto rounds them to nanoseconds
    # (overlapping, non-nested slices would be misnested on import).
    by_track: dict[int, list[tuple[int, int]]] = {}
    for e in events:
        if e["ph"] == "X":
            t0 = round(e["ts"] * 1000)
            by_track.setdefault(e["tid"], []).append((t0, t0 + round(e["dur"] * 1000)))
    for spans in by_track.values():
        spans.sort()
        for (_, end), (start, _) in zip(spans, spans[1:]):
            assert end <= start

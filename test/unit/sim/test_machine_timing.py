"""Timing of the event-driven model: costs, semaphores, DMA sharing, deadlock."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from tidal.sim.config import SMALL
from tidal.sim.isa import ActFunc, Engine, Opcode, ScalarMode, make_record
from tidal.sim.machine import DeadlockError, run_program

DMA0, DMA1 = Engine.DMA0, Engine.DMA0 + 1


def spans(stats: dict[str, Any], engine: str) -> list[tuple[float, float]]:
    """(start, end) of each instruction `engine` ran, from the trace."""
    return [(t["start"], t["end"]) for t in stats["trace"] if t["engine"] == engine]


def _producer_consumer(mk: SimpleNamespace, with_wait: bool) -> Any:
    """POOL fills a big tile (slow) and signals; DMA0 copies one row of it out."""
    free = 1024
    fill = make_record(
        Opcode.MEMSET, Engine.POOL, signal=0, dst=mk.sbuf(0, 1, 0, (1, free)), value=7.0
    )
    copy = make_record(
        Opcode.DMA, DMA0, src=mk.sbuf(0, 1, 0, (1, 4)), dst=mk.dram(0, (4, 1), (1, 4))
    )
    dma_stream = [make_record(Opcode.WAIT, DMA0, sem=0, value=1)] if with_wait else []
    program = mk.build(
        {Engine.POOL: [fill], DMA0: [*dma_stream, copy]},
        outputs=[mk.io("y", 0, (1, 4))],
    )
    return run_program(program, {}, trace=True)


def test_waiting_consumer_sees_producer_data_and_starts_after_it(
    mk: SimpleNamespace,
) -> None:
    outputs, stats = _producer_consumer(mk, with_wait=True)
    np.testing.assert_array_equal(outputs["y"], np.full((1, 4), 7.0, np.float32))
    [(_, fill_end)] = spans(stats, "pool")
    assert fill_end == SMALL.pool_fixed_cycles + 1024
    (_, wait_end), (copy_start, copy_end) = spans(stats, "dma0")
    assert wait_end == fill_end + SMALL.sync_cycles
    assert copy_start == wait_end
    assert (
        copy_end
        == copy_start + SMALL.dma_fixed_latency_cycles + 16 / SMALL.dram_bytes_per_cycle
    )
    assert stats["cycles"] == int(np.ceil(copy_end))


def test_without_the_wait_the_consumer_reads_stale_data(mk: SimpleNamespace) -> None:
    outputs, _ = _producer_consumer(mk, with_wait=False)
    np.testing.assert_array_equal(outputs["y"], np.zeros((1, 4), np.float32))


def _dma_program(mk: SimpleNamespace, sizes: dict[int, int]) -> Any:
    """One DRAM->SBUF descriptor of `elements` fp32 on each queue in `sizes`."""
    streams = {
        DMA0 + q: [
            make_record(
                Opcode.DMA,
                DMA0 + q,
                src=mk.dram(0, (1, n)),
                dst=mk.sbuf(q, 1, 0, (1, n)),
            )
        ]
        for q, n in sizes.items()
    }
    return run_program(mk.build(streams), {}, trace=True)


def test_concurrent_dmas_share_dram_bandwidth(mk: SimpleNamespace) -> None:
    n = 4096
    nbytes = 4 * n
    _, alone = _dma_program(mk, {0: n})
    _, both = _dma_program(mk, {0: n, 1: n})
    bw, latency = SMALL.dram_bytes_per_cycle, SMALL.dma_fixed_latency_cycles
    assert alone["cycles"] == latency + nbytes / bw
    # Two equal transfers at half the bandwidth each: each takes twice as long.
    assert both["cycles"] - alone["cycles"] == nbytes / bw
    assert both["engines"]["dma0"]["busy_cycles"] == latency + 2 * nbytes / bw


def test_finishing_transfer_gives_its_bandwidth_back(mk: SimpleNamespace) -> None:
    small, big = 1024, 4096
    _, stats = _dma_program(mk, {0: small, 1: big})
    bw, latency = SMALL.dram_bytes_per_cycle, SMALL.dma_fixed_latency_cycles
    [(_, small_end)] = spans(stats, "dma0")
    [(_, big_end)] = spans(stats, "dma1")
    # Shared until the small one is done, then the big one runs at full bandwidth.
    shared = 4 * small / (bw / 2)
    assert small_end == pytest.approx(latency + shared)
    assert big_end == pytest.approx(latency + shared + (4 * big - 4 * small) / bw)


def test_matmul_pays_weight_load_only_when_stationary_changes(
    mk: SimpleNamespace,
) -> None:
    k, m, n = 4, 4, 8
    mm = [
        make_record(
            Opcode.MATMUL,
            Engine.PE,
            flags=2,
            dst=mk.psum(0, m, 0, (1, n)),
            stationary=mk.sbuf(0, k, st, (1, m)),
            moving=mk.sbuf(0, k, 64, (1, n)),
        )
        for st in (0, 0, 16)
    ]
    _, stats = run_program(mk.build({Engine.PE: mm}), {})
    issue = max(n, SMALL.pe_min_cycles)
    assert (
        stats["engines"]["pe"]["busy_cycles"]
        == 3 * issue + 2 * SMALL.pe_weight_load_cycles
    )
    assert stats["macs"] == 3 * k * m * n
    expected_util = stats["macs"] / (stats["cycles"] * SMALL.pe_rows * SMALL.pe_cols)
    assert stats["pe_utilization"] == pytest.approx(expected_util)


def test_act_cost(mk: SimpleNamespace) -> None:
    free = 100
    act = make_record(
        Opcode.ACT,
        Engine.ACT,
        src=mk.sbuf(0, 3, 0, (1, free)),
        dst=mk.sbuf(0, 3, 512, (1, free)),
        func=int(ActFunc.RELU),
        scale_mode=int(ScalarMode.IMM),
        scale_imm=1.0,
        bias_mode=int(ScalarMode.IMM),
    )
    _, stats = run_program(mk.build({Engine.ACT: [act]}), {})
    assert stats["cycles"] == SMALL.act_fixed_cycles + free
    assert stats["seconds"] == stats["cycles"] / SMALL.clock_hz
    assert stats["chip"] == "small"


def test_deadlock_names_engines_and_semaphores(mk: SimpleNamespace) -> None:
    program = mk.build(
        {
            Engine.PE: [make_record(Opcode.WAIT, Engine.PE, sem=3, value=1)],
            Engine.ACT: [make_record(Opcode.WAIT, Engine.ACT, sem=4, value=2)],
            Engine.POOL: [make_record(Opcode.SIGNAL, Engine.POOL, sem=4)],
        }
    )
    with pytest.raises(DeadlockError) as info:
        run_program(program, {})
    message = str(info.value)
    assert "pe at instruction 0 waits for semaphore 3 >= 1 (it is 0)" in message
    assert "act at instruction 0 waits for semaphore 4 >= 2 (it is 1)" in message
    assert "\n" not in message


def test_halt_ends_the_stream(mk: SimpleNamespace) -> None:
    never = make_record(Opcode.WAIT, Engine.POOL, sem=0, value=1)
    program = mk.build(
        {
            Engine.POOL: [
                make_record(Opcode.NOP, Engine.POOL),
                make_record(Opcode.HALT, Engine.POOL),
                never,
            ]
        }
    )
    _, stats = run_program(program, {})
    assert stats["instructions"] == {"pool": 2}
    assert stats["cycles"] == SMALL.sync_cycles

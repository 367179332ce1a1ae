"""Timing of the event-driven model: event order, costs, semaphores, DMA sharing,
deadlock. Every stream's records reach its instruction buffer by a fetch transfer
first, so times are measured from an instruction's own start where the fill does not
matter, and the fill itself is checked where it does."""

from __future__ import annotations

import math

from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from tidal.sim.config import SMALL
from tidal.sim.isa import RECORD_BYTES, ActFunc, Engine, Opcode, ScalarMode, make_record
from tidal.sim.machine import DeadlockError, run_program

DMA0, DMA1 = Engine.DMA0, Engine.DMA0 + 1
BW, LATENCY = SMALL.dram_bytes_per_cycle, SMALL.dma_fixed_latency_cycles


def spans(stats: dict[str, Any], engine: str) -> list[tuple[float, float]]:
    """(start, end) of each instruction `engine` ran, from the trace."""
    return [(t["start"], t["end"]) for t in stats["trace"] if t["engine"] == engine]


def fill(records: int) -> float:
    """When the first block of a stream of `records` arrives, fetched alone."""
    return LATENCY + records * RECORD_BYTES / BW


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
    [(fill_start, fill_end)] = spans(stats, "pool")
    assert fill_end - fill_start == SMALL.pool_fixed_cycles + 1024
    (_, wait_end), (copy_start, copy_end) = spans(stats, "dma0")
    assert wait_end == fill_end + SMALL.sync_cycles
    assert copy_start == wait_end
    assert copy_end == copy_start + LATENCY + 16 / BW
    assert stats["cycles"] == int(np.ceil(copy_end))
    # The WAIT parked from when its record arrived until the MEMSET signalled.
    [stall] = [s for s in stats["stall_trace"] if s["kind"] == "semaphore"]
    assert (stall["engine"], stall["index"], stall["semaphore"]) == ("dma0", 0, 0)
    assert stall["end"] == fill_end
    dma0 = stats["engines"]["dma0"]
    assert dma0["semaphore_wait_cycles"] == round(fill_end - stall["start"])
    assert stats["semaphore_wait_cycles"] == dma0["semaphore_wait_cycles"]
    assert stats["wait_instructions"] == dma0["wait_instructions"] == 1


def test_a_folded_wait_holds_its_instruction_until_the_signal(
    mk: SimpleNamespace,
) -> None:
    """The wait as words of the copy's record (US11175919B1): the copy issues when
    the MEMSET signals, without a WAIT record and its sync_cycles; the stall is the
    copy's own (instruction 0)."""
    free = 1024
    fill = make_record(
        Opcode.MEMSET, Engine.POOL, signal=0, dst=mk.sbuf(0, 1, 0, (1, free)), value=7.0
    )
    copy = make_record(
        Opcode.DMA, DMA0, wait=(0, 1), src=mk.sbuf(0, 1, 0, (1, 4)), dst=mk.dram(0, (4, 1), (1, 4))
    )
    program = mk.build({Engine.POOL: [fill], DMA0: [copy]}, outputs=[mk.io("y", 0, (1, 4))])
    outputs, stats = run_program(program, {}, trace=True)
    np.testing.assert_array_equal(outputs["y"], np.full((1, 4), 7.0, np.float32))
    [(_, fill_end)] = spans(stats, "pool")
    [(copy_start, copy_end)] = spans(stats, "dma0")
    assert copy_start == fill_end
    assert copy_end == copy_start + LATENCY + 16 / BW
    [stall] = [s for s in stats["stall_trace"] if s["kind"] == "semaphore"]
    assert (stall["engine"], stall["index"], stall["end"]) == ("dma0", 0, fill_end)
    assert stats["engines"]["dma0"]["instructions"] == 1
    assert stats["wait_instructions"] == stats["engines"]["dma0"]["wait_instructions"] == 0


def test_a_folded_wait_already_met_costs_nothing(mk: SimpleNamespace) -> None:
    """ACT's second instruction waits for a signal its first gave: it follows it
    at once; one that waits for a third signal of two deadlocks, named."""
    tile = mk.sbuf(0, 4, 0, (1, 8))

    def act(**kw: Any) -> Any:
        return make_record(Opcode.ACT, Engine.ACT, dst=tile, src=tile, func=ActFunc.RELU, **kw)

    program = mk.build({Engine.ACT: [act(signal=1), act(wait=(1, 1))]})
    _, stats = run_program(program, {}, trace=True)
    (_, first_end), (second_start, _) = spans(stats, "act")
    assert second_start == first_end
    stuck = mk.build({Engine.ACT: [act(signal=1), act(signal=1), act(wait=(1, 3))]})
    with pytest.raises(DeadlockError, match="act at instruction 2 waits for semaphore 1 >= 3"):
        run_program(stuck, {})


def test_without_the_wait_the_consumer_reads_stale_data(mk: SimpleNamespace) -> None:
    outputs, _ = _producer_consumer(mk, with_wait=False)
    np.testing.assert_array_equal(outputs["y"], np.zeros((1, 4), np.float32))


def test_events_happen_in_time_order_and_ties_in_issue_order(
    mk: SimpleNamespace,
) -> None:
    """Three engines whose instructions end at interleaved times: the trace (in
    completion order) follows simulated time, whatever order events were pushed in,
    and equal times complete in the order they were scheduled."""
    nop = {e: make_record(Opcode.NOP, e) for e in (Engine.ACT, Engine.POOL)}
    memset = make_record(
        Opcode.MEMSET, Engine.POOL, dst=mk.sbuf(0, 1, 0, (1, 40)), value=1.0
    )
    act = make_record(
        Opcode.ACT,
        Engine.ACT,
        src=mk.sbuf(1, 1, 0, (1, 20)),
        dst=mk.sbuf(1, 1, 512, (1, 20)),
        func=ActFunc.IDENTITY,
        scale_imm=1.0,
    )
    program = mk.build(
        {Engine.ACT: [act, nop[Engine.ACT], act], Engine.POOL: [memset, nop[Engine.POOL]]}
    )
    _, stats = run_program(program, {}, trace=True)
    ends = [t["end"] for t in stats["trace"]]
    assert ends == sorted(ends)
    # Both streams' fills are equal (3 and 2 records are fetched together, then
    # the 3-record one alone), so the engines start apart by one record's time.
    t_act = LATENCY + 2 * 2 * RECORD_BYTES / BW + RECORD_BYTES / BW
    t_pool = LATENCY + 2 * 2 * RECORD_BYTES / BW
    act_cost, pool_cost = SMALL.act_fixed_cycles + 20, SMALL.pool_fixed_cycles + 40
    expected = sorted(
        [
            (t_act + act_cost, "act", 0),
            (t_act + act_cost + 1, "act", 1),
            (t_act + 2 * act_cost + 1, "act", 2),
            (t_pool + pool_cost, "pool", 0),
            (t_pool + pool_cost + 1, "pool", 1),
        ]
    )
    assert [(t["end"], t["engine"], t["index"]) for t in stats["trace"]] == expected


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
    [(start, end)] = spans(alone, "dma0")
    assert start == fill(1)
    assert end - start == LATENCY + nbytes / BW
    # Two equal transfers that start together at half the bandwidth each: each
    # takes nbytes / bw longer than one alone.
    [(s0, e0)], [(s1, e1)] = spans(both, "dma0"), spans(both, "dma1")
    assert s0 == s1
    assert e0 == e1 == s0 + LATENCY + 2 * nbytes / BW
    assert (e0 - s0) - (end - start) == nbytes / BW
    assert both["engines"]["dma0"]["busy_cycles"] == LATENCY + 2 * nbytes / BW
    assert both["dma_bytes_per_queue"] == {"dma0": nbytes, "dma1": nbytes}


def test_finishing_transfer_gives_its_bandwidth_back(mk: SimpleNamespace) -> None:
    small, big = 1024, 4096
    _, stats = _dma_program(mk, {0: small, 1: big})
    [(start, small_end)] = spans(stats, "dma0")
    [(big_start, big_end)] = spans(stats, "dma1")
    assert big_start == start
    # Shared until the small one is done, then the big one runs at full bandwidth.
    shared = 4 * small / (BW / 2)
    assert small_end - start == pytest.approx(LATENCY + shared)
    assert big_end - start == pytest.approx(
        LATENCY + shared + (4 * big - 4 * small) / BW
    )


@pytest.mark.parametrize("buffers", [1, 2])
def test_matmul_pays_weight_load_and_fill_drain_only_when_stationary_changes(
    mk: SimpleNamespace, buffers: int
) -> None:
    """One buffer: every new stationary operand pays load + fill/drain, as before the
    second buffer existed. Two: the first (empty array) pays both; the next shifts in
    behind the previous matmul's pe_min_cycles of streaming, exposing the rest of
    its load and no fill/drain."""
    chip = replace(SMALL, pe_weight_buffers=buffers)
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
    _, stats = run_program(mk.build({Engine.PE: mm}), {}, chip)
    issue = max(n, SMALL.pe_min_cycles)
    load = SMALL.pe_weight_load_cycles + SMALL.pe_fill_drain_cycles
    second = load if buffers == 1 else SMALL.pe_weight_load_cycles - issue
    assert stats["engines"]["pe"]["busy_cycles"] == 3 * issue + load + second
    assert stats["macs"] == 3 * k * m * n
    expected_util = stats["macs"] / (stats["cycles"] * SMALL.pe_rows * SMALL.pe_cols)
    assert stats["pe_mac_utilization"] == pytest.approx(expected_util)
    assert stats["moved_roofline_cycles"] == int(np.ceil(3 * k * m * n / (32 * 32)))


@pytest.mark.parametrize("buffers", [1, 2])
def test_matmul_reloads_weights_rewritten_in_the_same_slot(
    mk: SimpleNamespace, buffers: int
) -> None:
    """A compiler reuses one SBUF slot for every weight tile: new data there is a
    weight load even though the access pattern repeats (found by the SCALE-Sim
    comparison, docs/scalesim-comparison.md). The data landed after the previous
    matmul took its operand, so with two buffers nothing of that load is hidden."""
    chip = replace(SMALL, pe_weight_buffers=buffers)
    k, m, n = 4, 4, 8

    def matmul(sem_wait: int | None) -> list:
        recs = []
        if sem_wait is not None:
            recs.append(make_record(Opcode.WAIT, Engine.PE, sem=0, value=sem_wait))
        recs.append(
            make_record(
                Opcode.MATMUL, Engine.PE, flags=2, signal=1,
                dst=mk.psum(0, m, 0, (1, n)),
                stationary=mk.sbuf(0, k, 0, (1, m)),
                moving=mk.sbuf(0, k, 64, (1, n)),
            )
        )
        return recs

    load = SMALL.pe_weight_load_cycles + SMALL.pe_fill_drain_cycles
    issue = max(n, SMALL.pe_min_cycles)
    # Same slot, nothing written in between: one load.
    _, stats = run_program(mk.build({Engine.PE: matmul(None) + matmul(None)}), {}, chip)
    assert stats["engines"]["pe"]["busy_cycles"] == 2 * issue + load
    # A DMA writes the slot between the two matmuls: two loads.
    refill = [
        make_record(Opcode.WAIT, Engine.DMA0, sem=1, value=1),
        make_record(
            Opcode.DMA, Engine.DMA0, signal=0,
            src=mk.dram(0, (m, k), (1, m)), dst=mk.sbuf(0, k, 0, (1, m)),
        ),
    ]
    program = mk.build({Engine.PE: matmul(None) + matmul(1), Engine.DMA0: refill})
    _, stats = run_program(program, {}, chip)
    second = load if buffers == 1 else SMALL.pe_weight_load_cycles
    busy = 2 * issue + load + second + SMALL.sync_cycles
    assert stats["engines"]["pe"]["busy_cycles"] == busy


def test_a_load_longer_than_the_previous_streaming_shows_the_rest(
    mk: SimpleNamespace,
) -> None:
    """Two buffers: a matmul streaming n >= pe_weight_load_cycles columns hides the
    next operand's whole load; the same program on one buffer pays it in full."""
    k, m = 4, 4
    n = 2 * SMALL.pe_weight_load_cycles
    mm = [
        make_record(
            Opcode.MATMUL,
            Engine.PE,
            flags=2,
            dst=mk.psum(0, m, 0, (1, n)),
            stationary=mk.sbuf(0, k, st, (1, m)),
            moving=mk.sbuf(0, k, 64, (1, n)),
        )
        for st in (0, 16, 32)
    ]
    load = SMALL.pe_weight_load_cycles + SMALL.pe_fill_drain_cycles
    busy = {}
    for buffers in (1, 2):
        chip = replace(SMALL, pe_weight_buffers=buffers)
        _, stats = run_program(mk.build({Engine.PE: mm}), {}, chip)
        busy[buffers] = stats["engines"]["pe"]["busy_cycles"]
    assert busy == {1: 3 * n + 3 * load, 2: 3 * n + load}


def test_act_cost_after_the_initial_fill(mk: SimpleNamespace) -> None:
    free = 100
    act = make_record(
        Opcode.ACT,
        Engine.ACT,
        src=mk.sbuf(0, 3, 0, (1, free)),
        dst=mk.sbuf(0, 3, 512, (1, free)),
        func=ActFunc.RELU,
        scale_mode=ScalarMode.IMM,
        scale_imm=1.0,
        bias_mode=ScalarMode.IMM,
    )
    _, stats = run_program(mk.build({Engine.ACT: [act]}), {})
    # The one record arrives by a fetch of its own before the ACT can start.
    # (reported in whole cycles: a 208-byte record takes 3.25 cycles of 64 B/cycle)
    assert stats["cycles"] == math.ceil(fill(1) + SMALL.act_fixed_cycles + free)
    assert stats["seconds"] == stats["cycles"] / SMALL.clock_hz
    assert stats["chip"] == "small"
    act_stats = stats["engines"]["act"]
    assert act_stats["busy_cycles"] == SMALL.act_fixed_cycles + free
    assert act_stats["fetch_stall_cycles"] == math.ceil(SMALL.act_fixed_cycles + free + fill(1)) - act_stats["busy_cycles"]
    assert act_stats["idle_cycles"] == 0
    assert stats["instr_fetch"] == {"bytes": RECORD_BYTES, "transfers": 1, "overwritten_records": 0, "overwrites": 0, "host_bytes": RECORD_BYTES, "refill_bytes": 0}
    for name in ("pe", "pool", "dma0", "dma1"):  # every engine is listed
        assert stats["engines"][name]["idle_cycles"] == stats["cycles"]


def test_busy_stall_and_idle_add_up_to_cycles(mk: SimpleNamespace) -> None:
    _, stats = _producer_consumer(mk, with_wait=True)
    for name, e in stats["engines"].items():
        assert e["busy_cycles"] + e["stall_cycles"] + e["idle_cycles"] == stats[
            "cycles"
        ], name
        assert e["stall_cycles"] == e["fetch_stall_cycles"] + e["semaphore_wait_cycles"]
        assert e["busy_fraction"] == pytest.approx(e["busy_cycles"] / stats["cycles"])


def test_deadlock_names_engines_instructions_and_semaphores(
    mk: SimpleNamespace,
) -> None:
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
    assert message.startswith("deadlock: ")
    assert "pe at instruction 0 waits for semaphore 3 >= 1 (it is 0)" in message
    assert "act at instruction 0 waits for semaphore 4 >= 2 (it is 1)" in message
    assert message.endswith("finished: pool")
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
    assert stats["instructions"]["pool"] == 2
    assert stats["cycles"] == math.ceil(fill(3) + SMALL.sync_cycles)

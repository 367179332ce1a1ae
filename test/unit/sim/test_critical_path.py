"""The critical path (`run_program(critical_path=True)`, `tidal-sim --critical-path`):
it follows what started each instruction back from the last one, so it covers the
run's cycles exactly once and lists only the chain the end waits for."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from tidal.sim import isa
from tidal.sim.critical import summary
from tidal.sim.isa import ActFunc, Engine, Opcode, make_record
from tidal.sim.machine import run_program

DMA0, DMA1 = Engine.DMA0, Engine.DMA0 + 1


def _covered(path: dict[str, Any]) -> float:
    return sum(path["engines"].values()) + sum(path["fetch"].values()) + path["gaps"]


def _spans(stats: dict[str, Any], engine: str) -> list[tuple[float, float]]:
    return [(t["start"], t["end"]) for t in stats["trace"] if t["engine"] == engine]


def _two_chains(mk: SimpleNamespace) -> Any:
    """POOL fills a 2048-element tile (slow) and signals; DMA0 waits, then stores a
    row of it. ACT, independently, takes the relu of 16 elements (fast) and DMA1 stores
    it after a wait on ACT's signal. Sources name each chain."""
    pool = make_record(
        Opcode.MEMSET, Engine.POOL, signal=0, dst=mk.sbuf(0, 1, 0, (1, 2048)), value=3.0, debug=0
    )
    act = make_record(
        Opcode.ACT, Engine.ACT, func=ActFunc.RELU, signal=1, dst=mk.sbuf(1, 1, 0, (1, 16)),
        src=mk.sbuf(1, 1, 64, (1, 16)), debug=1,
    )
    store0 = make_record(
        Opcode.DMA, DMA0, src=mk.sbuf(0, 1, 0, (1, 4)), dst=mk.dram(0, (4, 1), (1, 4)),
        wait=(0, 1), debug=0,
    )
    store1 = make_record(
        Opcode.DMA, DMA1, src=mk.sbuf(1, 1, 0, (1, 4)), dst=mk.dram(16, (4, 1), (1, 4)),
        wait=(1, 1), debug=1,
    )
    program = mk.build(
        {Engine.POOL: [pool], Engine.ACT: [act], DMA0: [store0], DMA1: [store1]},
        outputs=[mk.io("y", 0, (1, 4)), mk.io("z", 16, (1, 4))],
        debug=["slow", "fast"],
    )
    return run_program(program, {}, trace=True, critical_path=True)


def test_the_path_is_the_chain_the_end_waits_for(mk: SimpleNamespace) -> None:
    outputs, stats = _two_chains(mk)
    np.testing.assert_array_equal(outputs["y"], np.full((1, 4), 3.0, np.float32))
    path = stats["critical_path"]
    [(pool_start, pool_end)] = _spans(stats, "pool")
    [(store_start, store_end)] = _spans(stats, "dma0")
    assert path["cycles"] == store_end == max(t["end"] for t in stats["trace"])
    # POOL's memset, then the store it released; nothing of the ACT chain.
    assert path["engines"] == {"pool": round(pool_end - pool_start), "dma0": round(store_end - store_start)}
    assert path["instructions"] == 2
    assert {(s["engine"], s["source"], s["opcode"]) for s in path["sources"]} == {
        ("pool", "slow", "MEMSET"), ("dma0", "slow", "DMA")
    }
    # The store started when the memset's signal reached it.
    assert store_start == pool_end
    # Before the memset: POOL's instruction fetch (the stream's first block).
    assert path["fetch"] == {"pool": round(pool_start)}
    assert abs(_covered(path) - path["cycles"]) <= len(path["engines"]) + 1


def test_a_queue_issues_behind_the_descriptor_before_it(mk: SimpleNamespace) -> None:
    """Two loads on one queue issue together (depth > 1) and retire in order; a
    third waits for ACT, which waits for both. The path runs from the ACT back
    through the later load's retirement, and that load's start is the first
    load's issue, not its end: the first load's span is not on the path."""
    load = [
        make_record(
            Opcode.DMA, DMA0, src=mk.dram(0, (64, 1), (1, 64 * n)), dst=mk.sbuf(0, 1, 256 * k, (1, 64 * n)),
            signal=2, debug=k,
        )
        for k, n in ((0, 1), (1, 8))
    ]
    act = make_record(
        Opcode.ACT, Engine.ACT, func=ActFunc.RELU, dst=mk.sbuf(1, 1, 0, (1, 4)), src=mk.sbuf(0, 1, 256, (1, 4)),
        wait=(2, 2), signal=3, debug=2,
    )
    program = mk.build(
        {DMA0: load, Engine.ACT: [act]},
        inputs=[mk.io("x", 0, (1, 512))],
        debug=["small load", "big load", "relu"],
    )
    _, stats = run_program(program, {"x": np.ones((1, 512), np.float32)}, trace=True, critical_path=True)
    path = stats["critical_path"]
    assert {s["source"] for s in path["sources"]} == {"big load", "relu"}
    assert abs(_covered(path) - path["cycles"]) <= 3


def test_off_by_default_and_the_same_cycles_on(mk: SimpleNamespace) -> None:
    _, plain = run_program(_program_of_two_chains(mk), {})
    _, traced = run_program(_program_of_two_chains(mk), {}, critical_path=True)
    assert "critical_path" not in plain
    assert traced["cycles"] == plain["cycles"]


def _program_of_two_chains(mk: SimpleNamespace) -> isa.Program:
    pool = make_record(Opcode.MEMSET, Engine.POOL, signal=0, dst=mk.sbuf(0, 1, 0, (1, 512)), value=1.0)
    store = make_record(
        Opcode.DMA, DMA0, src=mk.sbuf(0, 1, 0, (1, 4)), dst=mk.dram(0, (4, 1), (1, 4)), wait=(0, 1)
    )
    return mk.build({Engine.POOL: [pool], DMA0: [store]}, outputs=[mk.io("y", 0, (1, 4))])


def test_summary_line() -> None:
    path = {
        "cycles": 1000.0,
        "engines": {"pe": 500, "dma0": 300, "dma1": 100, "act": 2},
        "fetch": {"pe": 50},
        "gaps": 48,
        "sources": [{"engine": "pe", "source": "conv1", "opcode": "MATMUL", "cycles": 400}],
    }
    assert summary(path) == "pe 50%, dma 40% (dma0 30%), fetch 5%, gaps 5%; top: pe conv1 40%"
    assert summary({}) == "no instructions"


def test_tidal_sim_prints_it_and_writes_it_to_the_stats(mk: SimpleNamespace, tmp_path: Path) -> None:
    binary = tmp_path / "p.tbin"
    binary.write_bytes(isa.encode_container(_program_of_two_chains(mk)))
    inputs = tmp_path / "in.npz"
    np.savez(inputs)
    stats = tmp_path / "stats.json"
    result = subprocess.run(
        [sys.executable, "-m", "tidal.tools.tidal_sim", str(binary), "--inputs", str(inputs),
         "--outputs", str(tmp_path / "out.npz"), "--stats", str(stats), "--critical-path"],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].startswith("tidal-sim: critical path: pool ")
    assert any("MEMSET" in line for line in lines[2:])
    written = json.loads(stats.read_text())
    assert written["critical_path"]["engines"]["pool"] > 0
    assert written["cycles"] - 1 < written["critical_path"]["cycles"] <= written["cycles"]


def test_a_rerun_has_its_own_path(mk: SimpleNamespace) -> None:
    """On a machine that ran before, the path runs from the rerun's start: its cycles
    are the rerun's, not the machine's clock."""
    from tidal.sim.config import get_chip
    from tidal.sim.machine import Machine

    machine = Machine(_program_of_two_chains(mk), get_chip("small"), critical_path=True)
    machine.load_inputs({})
    first = machine.run()["critical_path"]
    again = machine.rerun({})
    second = again["critical_path"]
    assert again["runs"][-1]["cycles"] - 1 < second["cycles"] <= again["runs"][-1]["cycles"]
    assert second["cycles"] < again["cycles"]  # the machine's clock counts both runs
    assert abs(_covered(second) - second["cycles"]) <= 3
    assert second["engines"].keys() == first["engines"].keys()

"""NumPy's BLAS runs on one thread while the hardware model runs, unless asked.

The probe replaces MEMSET's semantics (the datasheet entry the machine reads) with one
that asks threadpoolctl, from inside the run, how many threads the BLAS pool has. The
surrounding process is first set to 2 threads, so a machine that left the pool alone
would report 2."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits
from tidal.sim import isa
from tidal.sim.isa import Engine, Opcode, make_record
from tidal.sim.machine import run_program
from tidal.sim.spec import INSTRUCTIONS
from tidal.tools import tidal_sim


def _blas_threads() -> list[int]:
    return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]


@pytest.fixture
def outside_two_threads() -> Any:
    """The process runs BLAS on 2 threads around the test (skip without a BLAS
    pool that accepts 2)."""
    with threadpool_limits(limits=2, user_api="blas"):
        if not _blas_threads() or set(_blas_threads()) != {2}:
            pytest.skip("no BLAS thread pool that runs on 2 threads")
        yield


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """BLAS thread counts MEMSET's semantics saw, one list per instruction run."""
    calls: list[list[int]] = []
    entry = INSTRUCTIONS[Opcode.MEMSET]
    semantics = entry.semantics
    assert semantics is not None

    def probe(values: Mapping[str, Any], flags: int) -> None:
        calls.append(_blas_threads())
        semantics(values, flags)

    monkeypatch.setitem(
        INSTRUCTIONS, Opcode.MEMSET, dataclasses.replace(entry, semantics=probe)
    )
    return calls


@pytest.fixture
def fill(mk: SimpleNamespace) -> isa.Program:
    """POOL fills a (4, 8) tile with 3.0; DMA0 stores it as output y."""
    tile = mk.sbuf(0, 4, 0, (1, 8))
    return mk.build(
        {
            Engine.POOL: [
                make_record(Opcode.MEMSET, Engine.POOL, signal=0, dst=tile, value=3.0)
            ],
            Engine.DMA0: [
                make_record(Opcode.WAIT, Engine.DMA0, sem=0, value=1),
                make_record(
                    Opcode.DMA, Engine.DMA0, src=tile, dst=mk.dram(0, (8, 4), (1, 8))
                ),
            ],
        },
        outputs=[mk.io("y", 0, (4, 8))],
    )


@pytest.mark.usefixtures("outside_two_threads")
def test_one_blas_thread_inside_the_run_by_default(
    fill: isa.Program, seen: list[list[int]]
) -> None:
    outputs, _ = run_program(fill, {})
    np.testing.assert_array_equal(outputs["y"], np.full((4, 8), 3.0, np.float32))
    assert seen == [[1] * len(seen[0])]
    assert set(_blas_threads()) == {2}  # restored after the run


@pytest.mark.usefixtures("outside_two_threads")
def test_blas_threads_asked_for(fill: isa.Program, seen: list[list[int]]) -> None:
    run_program(fill, {}, blas_threads=2)
    assert seen == [[2] * len(seen[0])]


def test_blas_threads_below_one_is_refused(fill: isa.Program) -> None:
    with pytest.raises(ValueError, match="blas_threads must be from 1 to 1024, got 0"):
        run_program(fill, {}, blas_threads=0)
    with pytest.raises(ValueError, match="from 1 to 1024, got 1025"):
        run_program(fill, {}, blas_threads=1025)


@pytest.mark.usefixtures("outside_two_threads")
def test_tidal_sim_passes_blas_threads_through(
    fill: isa.Program, seen: list[list[int]], tmp_path: Path, capsys: Any
) -> None:
    binary = tmp_path / "fill.tbin"
    binary.write_bytes(isa.encode_container(fill))
    np.savez(tmp_path / "in.npz")
    common = [str(binary), "--inputs", str(tmp_path / "in.npz")]
    assert tidal_sim.main([*common, "--outputs", str(tmp_path / "a.npz")]) == 0
    assert (
        tidal_sim.main(
            [*common, "--outputs", str(tmp_path / "b.npz"), "--blas-threads", "2"]
        )
        == 0
    )
    assert [set(s) for s in seen] == [{1}, {2}]
    with pytest.raises(SystemExit):
        tidal_sim.main(
            [*common, "--outputs", str(tmp_path / "c.npz"), "--blas-threads", "0"]
        )
    assert "'0': expected a whole number from 1 to 1024" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        tidal_sim.main(
            [*common, "--outputs", str(tmp_path / "c.npz"), "--blas-threads", "1000000"]
        )
    assert "'1000000': expected a whole number from 1 to 1024" in capsys.readouterr().err
    assert not (tmp_path / "c.npz").exists()

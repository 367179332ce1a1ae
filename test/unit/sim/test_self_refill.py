"""Self-refill (seed 003): the compiler splits each stream into sections that the
engine loads itself with REFILL instructions from a DMA ring in DRAM; the last
section loads the first again, so that a second inference needs no host load.
targets/refill.py makes them, the loader checks them, the machine runs them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from tidal.sim import isa
from tidal.sim.config import SMALL
from tidal.sim.errors import DeadlockError, ExecutionError, LoadError
from tidal.sim.isa import Engine, Opcode
from tidal.sim.machine import Machine, run_program
from tidal.targets.refill import RING_ENTRY, section_records, self_refill
from tidal.tools.tidal_compile import compile_to_program

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def cnn(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, np.ndarray], isa.Program]:
    """The example CNN compiled for the small chip (its PE and DMA streams are many
    times its 32-record instruction buffer), its inputs and its plain program."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("models", ROOT / "examples" / "models.py")
    assert spec is not None and spec.loader is not None
    models = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(models)
    model = models.make_cnn()
    path = tmp_path_factory.mktemp("cnn") / "cnn.onnx"
    import onnx

    onnx.save(model, path)
    return str(path), models.make_inputs(model), compile_to_program(str(path), "small")


def _reference(path: str, inputs: dict[str, np.ndarray]) -> np.ndarray:
    return ort.InferenceSession(path).run(None, inputs)[0]


def test_sections_start_with_their_refill_and_the_last_loads_the_first(cnn) -> None:
    _, _, plain = cnn
    refilled = self_refill(plain, SMALL)
    size = section_records(SMALL)
    assert size == 16
    multi = 0
    for engine, recs in refilled.streams.items():
        n = len(recs)
        if len(plain.streams[engine]) <= size:  # fits one section: as it was, no REFILL
            np.testing.assert_array_equal(recs, plain.streams[engine])
            continue
        multi += 1
        starts = list(range(0, n, size))
        assert len(starts) % 2 == 0  # section 0 and the last in different halves
        targets = [int(recs[i, isa.W_OPCODE]) == Opcode.REFILL for i in starts]
        assert all(targets)
        word = isa.OPERANDS[Opcode.REFILL]["section"]
        assert [int(recs[i, word]) for i in starts] == [*range(1, len(starts)), 0]
        assert (recs[:, isa.W_OPCODE] == Opcode.REFILL).sum() == len(starts)
        # the plain stream's records, in order, once the REFILLs and NOP padding go
        body = recs[(recs[:, isa.W_OPCODE] != Opcode.REFILL)]
        pad = (body[:, isa.W_OPCODE] == Opcode.NOP).sum() - (plain.streams[engine][:, isa.W_OPCODE] == Opcode.NOP).sum()
        assert pad in (0, size - 1)
        kept = body[body[:, isa.W_OPCODE] != Opcode.NOP]
        np.testing.assert_array_equal(kept, plain.streams[engine][plain.streams[engine][:, isa.W_OPCODE] != Opcode.NOP])
    assert multi >= 2  # PE and DMA queue 0 at least
    # the ring: one entry per section, pointing at its records in the image
    ring = refilled.meta["self_refill"]["ring"]
    consts = dict(refilled.consts)
    for engine, recs in refilled.streams.items():
        entries = consts[ring[str(engine)]].view("<i4").reshape(-1, RING_ENTRY)
        assert list(entries[:, 1]) == list(range(0, len(recs), size))
        assert entries[:, 2].sum() == len(recs)


def test_a_self_refilling_program_computes_the_same(cnn) -> None:
    path, inputs, plain = cnn
    out_plain, st_plain = run_program(plain, inputs)
    out, stats = run_program(self_refill(plain, SMALL), inputs)
    for name in out_plain:
        np.testing.assert_array_equal(out[name], out_plain[name])
    np.testing.assert_allclose(out["logits"], _reference(path, inputs), rtol=1e-3, atol=1e-5)
    fetch = stats["instr_fetch"]
    assert fetch["refill_bytes"] > 5 * fetch["host_bytes"] > 0  # the engines load it
    assert st_plain["instr_fetch"]["refill_bytes"] == 0


def test_a_second_inference_needs_no_host_load(cnn) -> None:
    path, inputs, plain = cnn
    rng = np.random.default_rng(9)
    second = {k: rng.standard_normal(v.shape).astype(np.float32) for k, v in inputs.items()}
    for program, host_again in ((self_refill(plain, SMALL), False), (plain, True)):
        m = Machine(program, SMALL)
        m.load_inputs(inputs)
        m.run()
        first = m.read_outputs()
        stats = m.rerun(second)
        again = m.read_outputs()
        np.testing.assert_allclose(first["logits"], _reference(path, inputs), rtol=1e-3, atol=1e-5)
        np.testing.assert_allclose(again["logits"], _reference(path, second), rtol=1e-3, atol=1e-5)
        runs = stats["runs"]
        assert len(runs) == 2 and runs[0]["host_instr_bytes"] > 0
        # a plain program larger than the buffers must be reloaded from its start
        assert (runs[1]["host_instr_bytes"] > 0) == host_again


def test_the_loader_checks_the_sections(cnn) -> None:
    _, inputs, plain = cnn
    refilled = self_refill(plain, SMALL)
    stray = isa.Program(**{**refilled.__dict__, "meta": {k: v for k, v in refilled.meta.items() if k != "self_refill"}})
    with pytest.raises(LoadError, match=r"\(REFILL\): the program has no DMA ring"):
        run_program(stray, inputs)
    too_big = isa.Program(**{**refilled.__dict__, "meta": {**refilled.meta, "self_refill": {**refilled.meta["self_refill"], "section_records": 17}}})
    with pytest.raises(LoadError, match="'section_records' from 2 to 16"):
        run_program(too_big, inputs)
    streams = {e: r.copy() for e, r in refilled.streams.items()}
    streams[Engine.PE][0, isa.OPERANDS[Opcode.REFILL]["section"]] = 999
    bad = isa.Program(**{**refilled.__dict__, "streams": streams})
    with pytest.raises(LoadError, match=r"stream pe, instruction 0 \(REFILL\): section 999 is not one of its"):
        run_program(bad, inputs)


def test_a_rewritten_ring_entry_is_refused_or_starves_the_engine(cnn) -> None:
    _, inputs, plain = cnn
    refilled = self_refill(plain, SMALL)
    ring = refilled.meta["self_refill"]["ring"][str(Engine.PE)]
    consts = [(a, d.copy()) for a, d in refilled.consts]
    for i, (addr, data) in enumerate(consts):
        if addr == ring:
            entries = data.view("<i4").reshape(-1, RING_ENTRY)
            entries[1, 2] = 10_000  # section 1: more records than a section
    broken = isa.Program(**{**refilled.__dict__, "consts": consts})
    with pytest.raises(ExecutionError, match="pe REFILL of section 1: its DMA ring entry"):
        run_program(broken, inputs)
    for i, (addr, data) in enumerate(consts):
        if addr == ring:
            entries = data.view("<i4").reshape(-1, RING_ENTRY)
            entries[1] = entries[0]  # section 1's entry loads section 0 again
    starved = isa.Program(**{**refilled.__dict__, "consts": consts})
    with pytest.raises(DeadlockError, match="pe at instruction 16 waits for a section no REFILL loads"):
        run_program(starved, inputs)


def test_refilling_twice_is_refused(cnn) -> None:
    with pytest.raises(ValueError, match="already refills itself"):
        self_refill(self_refill(cnn[2], SMALL), SMALL)

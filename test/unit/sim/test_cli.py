"""tidal-sim as a subprocess: results, one-line errors, nothing half-written."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from tidal.sim import isa
from tidal.sim.isa import Engine, Opcode, make_record

DMA0 = Engine.DMA0


def tidal_sim(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tidal.tools.tidal_sim", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def binary(mk: SimpleNamespace, tmp_path: Path) -> Path:
    """y = x (2, 3), copied through SBUF."""
    program = mk.build(
        {
            DMA0: [
                make_record(
                    Opcode.DMA,
                    DMA0,
                    src=mk.dram(0, (3, 2), (1, 3)),
                    dst=mk.sbuf(0, 2, 0, (1, 3)),
                ),
                make_record(
                    Opcode.DMA,
                    DMA0,
                    src=mk.sbuf(0, 2, 0, (1, 3)),
                    dst=mk.dram(64, (3, 2), (1, 3)),
                ),
            ]
        },
        inputs=[mk.io("x", 0, (2, 3))],
        outputs=[mk.io("y", 64, (2, 3))],
    )
    path = tmp_path / "copy.tbin"
    path.write_bytes(isa.encode_container(program))
    return path


def test_summary_and_stats_compare_with_the_ideal_roofline(
    binary: Path, tmp_path: Path
) -> None:
    """A binary whose META holds the model's work (as tidal-compile writes it): the
    stats carry the ideal figures and the summary line says how far the run is."""
    program = isa.decode_container(binary.read_bytes())
    program.meta["model"] = {"macs": 0, "weight_bytes": 0, "input_bytes": 24, "output_bytes": 24}
    binary.write_bytes(isa.encode_container(program))
    stats = tmp_path / "stats.json"
    x = np.zeros((2, 3), np.float32)
    result = tidal_sim(
        binary, "--inputs", write_inputs(tmp_path, x=x), "--outputs", tmp_path / "o.npz",
        "--stats", stats,
    )
    assert result.returncode == 0, result.stderr
    s = json.loads(stats.read_text())
    # 48 bytes at 64 bytes per cycle: one cycle; both copies move them all.
    assert (s["ideal_roofline_cycles"], s["ideal_bound"]) == (1, "memory")
    assert (s["model_macs"], s["model_min_dram_bytes"]) == (0, 48)
    assert s["ideal_ratio"] == s["cycles"] and s["model_mac_utilization"] == 0.0
    assert s["dram_over_min"] == 1.0
    assert f"{s['cycles']} cycles ({s['cycles']:.1f}× the ideal roofline), " in result.stdout


def write_inputs(tmp_path: Path, **arrays: np.ndarray) -> Path:
    path = tmp_path / "in.npz"
    np.savez(path, **arrays)  # type: ignore[arg-type]
    return path


def assert_failed(result: subprocess.CompletedProcess[str], *paths: Path) -> str:
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tidal-sim: error: ")
    for path in paths:
        assert not path.exists()
    assert not list(path.parent.glob(".tidal-sim-*"))
    return lines[0]


def test_runs_and_writes_outputs_and_stats(binary: Path, tmp_path: Path) -> None:
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    out, stats = tmp_path / "out.npz", tmp_path / "stats.json"
    result = tidal_sim(
        binary,
        "--inputs",
        write_inputs(tmp_path, x=x),
        "--outputs",
        out,
        "--stats",
        stats,
    )
    assert result.returncode == 0, result.stderr
    assert "cycles" in result.stdout and "PE MAC utilisation" in result.stdout
    assert "ideal roofline" not in result.stdout  # a binary without META "model"
    with np.load(out) as npz:
        np.testing.assert_array_equal(npz["y"], x)
    assert json.loads(stats.read_text())["instructions"] == {
        "pe": 0,
        "act": 0,
        "pool": 0,
        "dma0": 2,
        "dma1": 0,
    }


def test_missing_input(binary: Path, tmp_path: Path) -> None:
    out, stats = tmp_path / "out.npz", tmp_path / "stats.json"
    inputs = write_inputs(tmp_path, z=np.zeros((2, 3), np.float32))
    line = assert_failed(
        tidal_sim(binary, "--inputs", inputs, "--outputs", out, "--stats", stats),
        out,
        stats,
    )
    assert line == f"tidal-sim: error: {inputs}: missing input 'x' (the program takes: x (2, 3); given: z)"


def test_wrong_shape(binary: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.npz"
    inputs = write_inputs(tmp_path, x=np.zeros((3, 2), np.float32))
    line = assert_failed(tidal_sim(binary, "--inputs", inputs, "--outputs", out), out)
    assert line == f"tidal-sim: error: {inputs}: input 'x': expected shape (2, 3), got (3, 2)"


def test_corrupt_binary(binary: Path, tmp_path: Path) -> None:
    data = bytearray(binary.read_bytes())
    data[-1] ^= 0xFF
    binary.write_bytes(bytes(data))
    out = tmp_path / "out.npz"
    inputs = write_inputs(tmp_path, x=np.zeros((2, 3), np.float32))
    line = assert_failed(tidal_sim(binary, "--inputs", inputs, "--outputs", out), out)
    assert "checksum mismatch" in line


def test_unreadable_inputs(binary: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.npz"
    missing = tmp_path / "nope.npz"
    line = assert_failed(tidal_sim(binary, "--inputs", missing, "--outputs", out), out)
    assert "cannot read inputs" in line


@pytest.mark.parametrize(
    ("chip", "message"),
    [
        (
            "default",
            "binary was compiled for chip 'small', simulator configured for 'default'",
        ),
        ("huge", "--chip: unknown chip preset 'huge'"),
    ],
)
def test_chip_option(binary: Path, tmp_path: Path, chip: str, message: str) -> None:
    out = tmp_path / "out.npz"
    inputs = write_inputs(tmp_path, x=np.zeros((2, 3), np.float32))
    line = assert_failed(
        tidal_sim(binary, "--inputs", inputs, "--outputs", out, "--chip", chip), out
    )
    assert message in line


def test_failed_run_keeps_previous_outputs_untouched(
    binary: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.npz"
    out.write_bytes(b"previous")
    inputs = write_inputs(tmp_path, x=np.zeros((3, 2), np.float32))
    result = tidal_sim(binary, "--inputs", inputs, "--outputs", out)
    assert result.returncode == 1
    assert out.read_bytes() == b"previous"


def test_a_deadlocking_program_is_one_line_and_writes_nothing(
    mk: SimpleNamespace, tmp_path: Path
) -> None:
    """PE waits for a semaphore nobody signals: the run ends with the deadlock
    report (engine, instruction, semaphore) as one line, no outputs, no stats."""
    program = mk.build(
        {Engine.PE: [make_record(Opcode.WAIT, Engine.PE, sem=5, value=1)]},
        outputs=[mk.io("y", 0, (2, 3))],
    )
    path = tmp_path / "stuck.tbin"
    path.write_bytes(isa.encode_container(program))
    out, stats = tmp_path / "out.npz", tmp_path / "stats.json"
    inputs = write_inputs(tmp_path)
    result = tidal_sim(path, "--inputs", inputs, "--outputs", out, "--stats", stats)
    line = assert_failed(result, out, stats)
    assert line.startswith("tidal-sim: error: deadlock: ")
    assert "pe at instruction 0 waits for semaphore 5 >= 1 (it is 0)" in line


# --------------------------------------------------------------------------- loader


def _bad_address(mk: SimpleNamespace) -> bytes:
    """A DMA reading past the program's DRAM."""
    program = mk.build(
        {
            DMA0: [
                make_record(
                    Opcode.DMA,
                    DMA0,
                    src=mk.dram(4096, (1, 8)),
                    dst=mk.sbuf(0, 8, 0, (1, 1)),
                )
            ]
        },
        dram_bytes=4096,
    )
    return isa.encode_container(program)


def _unknown_chip(mk: SimpleNamespace) -> bytes:
    return isa.encode_container(
        mk.build({DMA0: [make_record(Opcode.NOP, DMA0)]}, chip="tiny")
    )


def _corrupt(data: bytes, how: str, mk: SimpleNamespace) -> bytes:
    if how == "truncated":
        return data[:-8]
    if how == "truncated header":
        return data[:20]
    if how == "flipped byte":
        flipped = bytearray(data)
        flipped[len(data) // 2] ^= 0x01
        return bytes(flipped)
    if how == "wrong version":
        return data[:8] + struct.pack("<I", isa.VERSION + 1) + data[12:]
    if how == "bad magic":
        return b"NOTTIDAL" + data[8:]
    if how == "out-of-range address":
        return _bad_address(mk)
    assert how == "unknown chip"
    return _unknown_chip(mk)


REJECTIONS = {
    "truncated": "copy.tbin: offset 60: truncated or padded body",
    "truncated header": "copy.tbin: offset 0: truncated header (20 bytes, need 60)",
    "flipped byte": "copy.tbin: offset 60: checksum mismatch (corrupt file)",
    "wrong version": "copy.tbin: offset 8: unsupported version 4 (this build reads 3)",
    "bad magic": "copy.tbin: offset 0: bad magic b'NOTTIDAL' (not a Tidal binary)",
    "out-of-range address": (
        "stream dma0, instruction 0 (DMA): src: DRAM bytes [4096, 4128) outside the "
        "program's 4096-byte DRAM"
    ),
    "unknown chip": "unknown chip preset 'tiny' (known: default, small)",
}


@pytest.mark.parametrize("how", list(REJECTIONS))
def test_loader_rejects_before_anything_runs(
    how: str, binary: Path, tmp_path: Path, mk: SimpleNamespace
) -> None:
    binary.write_bytes(_corrupt(binary.read_bytes(), how, mk))
    out, stats, trace = tmp_path / "out.npz", tmp_path / "s.json", tmp_path / "t.json"
    inputs = write_inputs(tmp_path, x=np.zeros((2, 3), np.float32))
    args = ["--outputs", out, "--stats", stats, "--trace", trace]
    line = assert_failed(
        tidal_sim(binary, "--inputs", inputs, *args), out, stats, trace
    )
    assert line.startswith("tidal-sim: error: ")
    assert REJECTIONS[how] in line, line


def test_each_rejection_has_its_own_message() -> None:
    messages = list(REJECTIONS.values())
    for i, a in enumerate(messages):
        for b in messages[i + 1 :]:
            assert a not in b and b not in a


# --------------------------------------------------------------------------- observability


@pytest.fixture
def racy(mk: SimpleNamespace, tmp_path: Path) -> Path:
    """POOL fills a tile and signals; DMA0 stores it, with or without waiting (the
    `wait` variants); the debug table names both ops."""

    tile = mk.sbuf(0, 4, 0, (1, 256))
    for wait in (True, False):
        program = mk.fill_then_store(
            tile,
            tile,
            mk.dram(0, (256, 4), (1, 256)),
            wait,
            value=3.0,
            output=mk.io("y", 0, (4, 256)),
            debug=["fill", "store"],
        )
        name = "synced.tbin" if wait else "racy.tbin"
        (tmp_path / name).write_bytes(isa.encode_container(program))
    return tmp_path / "racy.tbin"


def test_check_races_fails_with_one_line(racy: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.npz"
    inputs = write_inputs(tmp_path)
    synced = racy.with_name("synced.tbin")
    ok = tidal_sim(synced, "--inputs", inputs, "--outputs", out, "--check-races")
    assert ok.returncode == 0, ok.stderr
    out.unlink()
    line = assert_failed(
        tidal_sim(racy, "--inputs", inputs, "--outputs", out, "--check-races"), out
    )
    assert line.startswith("tidal-sim: error: race at cycle ")
    assert "dma0 instruction 0 (DMA, op 'store') reads SBUF" in line
    assert "pool instruction 0 (MEMSET, op 'fill')" in line
    # Without --check-races the same binary runs (and reads stale data).
    assert tidal_sim(racy, "--inputs", inputs, "--outputs", out).returncode == 0


def test_check_races_says_so_when_there_is_none(racy: Path, tmp_path: Path) -> None:
    """A clean check is not silent: it counts the on-chip accesses it checked (the
    MEMSET's dst and the store's src; the WAIT and the DRAM side have none)."""
    out, stats = tmp_path / "out.npz", tmp_path / "s.json"
    synced = racy.with_name("synced.tbin")
    args = ["--inputs", write_inputs(tmp_path), "--outputs", out, "--stats", stats]
    result = tidal_sim(synced, *args, "--check-races")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith("tidal-sim: ")
    assert lines[1] == "tidal-sim: no races in 2 on-chip accesses"
    assert json.loads(stats.read_text())["race_check"] == {"accesses": 2}
    plain = tidal_sim(synced, *args)
    assert "races" not in plain.stdout
    assert "race_check" not in json.loads(stats.read_text())


def run_synced(racy: Path, tmp_path: Path, *args: str | Path) -> None:
    """tidal-sim runs the synced program of `racy` on written inputs, with `args`."""
    synced = racy.with_name("synced.tbin")
    inputs, out = write_inputs(tmp_path), tmp_path / "o.npz"
    result = tidal_sim(synced, "--inputs", inputs, "--outputs", out, *args)
    assert result.returncode == 0, result.stderr


def test_trace_is_chrome_trace_event_json(racy: Path, tmp_path: Path) -> None:
    trace, stats = tmp_path / "trace.json", tmp_path / "s.json"
    run_synced(racy, tmp_path, "--stats", stats, "--trace", trace)
    doc = json.loads(trace.read_text())
    assert isinstance(doc, dict) and isinstance(doc["traceEvents"], list)
    events = doc["traceEvents"]
    assert {e["ph"] for e in events} == {"X", "M"}
    names = {
        (e["pid"], e["tid"]): e["args"]["name"]
        for e in events
        if e["ph"] == "M" and e["name"] == "thread_name"
    }
    engines = ["pe", "act", "pool", "dma0", "dma1"]
    assert sorted(names.values()) == sorted(engines + [f"{e} fetch" for e in engines])
    slices = [e for e in events if e["ph"] == "X"]
    for e in slices:
        for key in ("name", "ts", "dur", "pid", "tid"):
            assert key in e, (key, e)
        assert isinstance(e["ts"], (int, float)) and isinstance(e["dur"], (int, float))
        assert e["dur"] >= 0 and e["ts"] >= 0
        assert (e["pid"], e["tid"]) in names  # every slice is on a named track
    track = {v: k for k, v in names.items()}
    instructions = [e for e in slices if e.get("cat") == "instruction"]
    assert sorted(e["name"] for e in instructions) == ["DMA", "MEMSET", "WAIT"]
    [memset] = [e for e in instructions if e["name"] == "MEMSET"]
    assert (memset["pid"], memset["tid"]) == track["pool"]
    assert memset["args"]["source"] == "fill" and memset["args"]["index"] == 0
    # 1 GHz clock: 1 cycle is 0.001 us.
    assert memset["dur"] == pytest.approx((16 + 256) * 1e-3)
    fetches = [e for e in slices if e["name"] == "FETCH"]
    assert {names[(e["pid"], e["tid"])] for e in fetches} == {"pool fetch", "dma0 fetch"}
    [wait] = [e for e in slices if e["name"] == "stall: semaphore 0"]
    assert (wait["pid"], wait["tid"]) == track["dma0"]
    # The stats file has the summary, not the trace.
    summary = json.loads(stats.read_text())
    assert "trace" not in summary and "stall_trace" not in summary


def test_stats_has_per_engine_busy_stall_idle(racy: Path, tmp_path: Path) -> None:
    stats = tmp_path / "s.json"
    run_synced(racy, tmp_path, "--stats", stats)
    s = json.loads(stats.read_text())
    for key in (
        "cycles",
        "seconds",
        "macs",
        "instructions",
        "pe_mac_utilization",
        "dma_bytes",
        "chip",
        "moved_roofline_cycles",
        "fetch_stall_cycles",
        "semaphore_wait_cycles",
        "dma_bytes_per_queue",
        "instr_fetch",
    ):
        assert key in s, key
    assert set(s["engines"]) == {"pe", "act", "pool", "dma0", "dma1"}
    for name, e in s["engines"].items():
        assert e["busy_cycles"] + e["stall_cycles"] + e["idle_cycles"] == s["cycles"]
        assert e["stall_cycles"] == e["fetch_stall_cycles"] + e["semaphore_wait_cycles"]
        assert e["busy_fraction"] == e["busy_cycles"] / s["cycles"], name
        assert "utilization" not in e  # one name per meaning: see pe_mac_utilization
    assert s["dma_bytes_per_queue"] == {"dma0": 4 * 1024, "dma1": 0}
    assert s["engines"]["dma0"]["semaphore_wait_cycles"] > 0
    assert s["moved_roofline_cycles"] == 64  # 4 KiB at 64 bytes per cycle, no MACs


def test_plot_writes_a_png(racy: Path, tmp_path: Path) -> None:
    plot = tmp_path / "timeline.png"
    run_synced(racy, tmp_path, "--plot", plot)
    data = plot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 10_000


def test_what_if_changes_the_costs_not_the_outputs(binary: Path, tmp_path: Path) -> None:
    """--what-if runs the same binary on the preset with a cost changed: here DRAM a
    hundred times as fast and descriptors without their fixed latency, so the two
    copies take fewer cycles; the outputs are the same and the stats and summary
    say which costs were changed."""
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    inputs = write_inputs(tmp_path, x=x)
    runs = {}
    for name, extra in (("base", []), ("fast", ["--what-if", "dram_bytes_per_cycle=6400", "--what-if", "dma_fixed_latency_cycles=0"])):
        out, stats = tmp_path / f"{name}.npz", tmp_path / f"{name}.json"
        result = tidal_sim(binary, "--inputs", inputs, "--outputs", out, "--stats", stats, *extra)
        assert result.returncode == 0, result.stderr
        with np.load(out) as npz:
            np.testing.assert_array_equal(npz["y"], x)
        runs[name] = (json.loads(stats.read_text()), result.stdout)
    (base, base_line), (fast, fast_line) = runs["base"], runs["fast"]
    assert fast["cycles"] < base["cycles"]
    assert "what_if" not in base and "what-if" not in base_line
    assert fast["what_if"] == {"dram_bytes_per_cycle": 6400.0, "dma_fixed_latency_cycles": 0}
    assert "on chip 'small' (what-if dram_bytes_per_cycle=6400, dma_fixed_latency_cycles=0)" in fast_line


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("sbuf_partitions=64", "'sbuf_partitions' is not a cost a what-if may change"),
        ("dma_queue_depth=8", "'dma_queue_depth' is not a cost a what-if may change"),
        ("dram_bytes_per_cycle=0", "dram_bytes_per_cycle must be 0.001 to 1e+09, not 0"),
        ("dram_bytes_per_cycle=1e-300", "dram_bytes_per_cycle must be 0.001 to 1e+09"),
        ("dma_fixed_latency_cycles=1e12", "dma_fixed_latency_cycles must be a whole number of 0 to 2147483647"),
        ("dram_bytes_per_cycle=nan", "dram_bytes_per_cycle must be finite"),
        ("act_fixed_cycles=2.5", "act_fixed_cycles must be a whole number of 0 to"),
        ("pe_min_cycles=-1", "pe_min_cycles must be a whole number of 0 to"),
        ("pe_weight_buffers=3", "pe_weight_buffers must be 1 or 2, not 3"),
        ("sync_cycles=fast", "'fast' is not a number"),
        ("sync_cycles", "expected FIELD=VALUE"),
    ],
)
def test_bad_what_if_is_one_line_and_writes_nothing(
    binary: Path, tmp_path: Path, item: str, message: str
) -> None:
    out = tmp_path / "out.npz"
    inputs = write_inputs(tmp_path, x=np.zeros((2, 3), np.float32))
    line = assert_failed(tidal_sim(binary, "--inputs", inputs, "--outputs", out, "--what-if", item), out)
    assert message in line


def test_a_what_if_field_given_twice_is_refused(binary: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.npz"
    inputs = write_inputs(tmp_path, x=np.zeros((2, 3), np.float32))
    line = assert_failed(
        tidal_sim(binary, "--inputs", inputs, "--outputs", out, "--what-if", "sync_cycles=1", "--what-if", "sync_cycles=2"), out
    )
    assert "sync_cycles is given twice" in line

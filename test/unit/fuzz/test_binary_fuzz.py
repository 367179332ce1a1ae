"""Fuzzed binaries (the short run of `bench/fuzz.py --binaries`): mutated `.tbin`
files must end in a clean error (BinaryFormatError, a SimError, or tidal-objdump's
one-line error) or a clean run, never another exception, a hang, or a run over its
budget of CPU time and memory (a small file must not cost much).

The regression tests below are the minimal inputs of the bugs the long run found,
built byte by byte: JSON sections of the wrong type or nested too deep escaped
decode_container as TypeError/RecursionError, and tidal-objdump decoded records the
hardware model refuses (then VerifyException, KeyError, OverflowError, ... escaped).
The container now checks the JSON sections' form, and objdump runs the loader.
"""

from __future__ import annotations

import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
import fuzz  # noqa: E402

from tidal.sim import isa  # noqa: E402
from tidal.sim.errors import SimError  # noqa: E402
from tidal.sim.isa import Access, Opcode, Program, SectionKind, Space  # noqa: E402
from tidal.sim.machine import run_program  # noqa: E402

@pytest.fixture(scope="module")
def seeds() -> list[fuzz.Seed]:
    return fuzz.binary_seeds(count=3)


def describe(tally: fuzz.Tally) -> str:
    """Every failure (crash, hang, over-budget) with its count."""
    return "; ".join(f"{n}x {sig}" for sig, n in tally.crashes.most_common())


@pytest.mark.slow  # the short fuzzing run: make test, not make check
def test_fuzzed_binaries_load_and_run_cleanly(seeds: list[fuzz.Seed]) -> None:
    tally = fuzz.fuzz_binaries(600, 0, 5.0, 0, None, seeds)
    assert tally.tried == 600
    assert tally.bad == 0, describe(tally)


@pytest.mark.slow  # the short fuzzing run: make test, not make check
def test_fuzzed_binaries_objdump_cleanly(seeds: list[fuzz.Seed]) -> None:
    tally = fuzz.fuzz_binaries(200, 1, 5.0, 1, None, seeds)
    assert tally.bad == 0, describe(tally)


def test_seeds_run_and_mutations_reach_the_hardware_model(seeds: list[fuzz.Seed]) -> None:
    """The unmutated seeds run; the mutations get past the checksum to the loader
    and the simulator, not only to the container checks."""
    for s in seeds:
        assert fuzz.run_sim(s.data, dict(s.inputs)) == "ran"
    tally = fuzz.fuzz_binaries(300, 2, 5.0, 0, None, seeds)
    assert tally.outcomes["ran"] > 20
    assert tally.outcomes["LoadError"] > 20
    assert tally.outcomes["BinaryFormatError"] < tally.tried * 0.7
    assert tally.bad == 0, describe(tally)


def test_size_mutators_reach_the_loaders_bounds(seeds: list[fuzz.Seed]) -> None:
    """The access-size, IO-shape and aliasing mutators make programs the loader
    refuses for their size (not only for something else), without failures."""
    rng = np.random.default_rng(5)
    refusals: list[str] = []
    for k in range(150):
        s = seeds[k % len(seeds)]
        program = isa.decode_container(s.data)
        name = list(fuzz.STRUCTURED)[-3 + k % 3]
        fuzz.STRUCTURED[name](rng, program)
        try:
            run_program(isa.decode_container(isa.encode_container(program)), dict(s.inputs))
        except SimError as e:
            refusals.append(str(e))
    for bound in ("elements per partition", "DRAM elements", "bytes of DRAM",
                  "elements, more than the"):
        assert any(bound in r for r in refusals), bound


# ------------------------------------------------------------------ budgets


def test_an_input_over_its_cpu_budget_is_a_failure(
    seeds: list[fuzz.Seed], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that ends cleanly but takes longer than its budget counts, is named
    and saved, like a crash (it used to be dropped silently)."""

    def slow(data: bytes, inputs: dict[str, np.ndarray]) -> str:
        end = time.process_time() + 0.05
        while time.process_time() < end:
            pass
        return "ran"

    monkeypatch.setattr(fuzz, "run_sim", slow)
    tally = fuzz.fuzz_binaries(3, 0, 5.0, 0, None, seeds, budget=fuzz.Budget(0.01, 1e6))
    assert tally.outcomes["over-budget"] == 3 and tally.bad == 3
    for sig in tally.crashes:  # one signature per seed
        assert sig.startswith("sim: over budget (") and "s CPU > 0.01" in sig, sig


def test_an_input_out_of_memory_is_a_failure(
    seeds: list[fuzz.Seed], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def greedy(data: bytes, inputs: dict[str, np.ndarray]) -> str:
        raise MemoryError("Unable to allocate 8.00 GiB")

    monkeypatch.setattr(fuzz, "run_sim", greedy)
    tally = fuzz.fuzz_binaries(2, 0, 5.0, 0, tmp_path, seeds)
    assert tally.outcomes["over-budget"] == 2 and tally.bad == 2
    for sig, example in tally.examples.items():
        assert sig.startswith("sim: MemoryError at "), sig
        assert Path(example.split()[0]).is_file()  # the input is kept


@pytest.mark.skipif(not fuzz.PeakMemory().available, reason="needs /proc/self/clear_refs")
def test_peak_memory_of_one_input() -> None:
    meter = fuzz.Meter(fuzz.Budget(100.0, 32))
    meter.start()
    assert meter.over() is None
    meter.start()
    block = np.ones(64 * 2**20 // 8)  # 64 MiB, touched
    over = meter.over()
    assert over is not None and "MiB > 32" in over, over
    del block
    meter.start()
    assert meter.over() is None  # measured per input, not since the process began


@pytest.mark.parametrize("script", ["fuzz.py", "bench_sim.py"])
def test_bench_scripts_have_a_help(script: str, tmp_path: Path) -> None:
    """--help prints usage and exits 0 without doing anything (no directory named
    --help, no fuzzing, no benchmark)."""
    bench = Path(__file__).resolve().parents[3] / "bench"
    r = subprocess.run(
        [sys.executable, str(bench / script), "--help"], cwd=tmp_path,
        capture_output=True, text=True, timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"usage: {script}") and r.stderr == ""
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ regressions


def container(*sections: tuple[int, int, bytes], chip: bytes = b"small") -> bytes:
    """A container with these raw (kind, arg, payload) sections and a correct CRC."""
    offset = isa.HEADER.size + isa.SECTION.size * len(sections)
    table, payload = b"", b""
    for kind, arg, data in sections:
        table += isa.SECTION.pack(kind, arg, offset + len(payload), len(data))
        payload += data + b"\0" * (-len(data) % 8)
    body = table + payload
    header = isa.HEADER.pack(
        isa.MAGIC, isa.VERSION, chip, len(sections), zlib.crc32(body), len(body)
    )
    return header + body


def one_dma(src: Access, dst: Access, debug: list[object] | None = None) -> bytes:
    record = isa.make_record(Opcode.DMA, 3, src=src, dst=dst, debug=0 if debug else -1)
    program = Program(
        chip="small", streams={3: record[None, :]}, consts=[], inputs=[], outputs=[],
        debug=debug or [], meta={"dram_bytes": 4096},  # type: ignore[arg-type]
    )
    return isa.encode_container(program)


def loads_cleanly(data: bytes) -> None:
    """decode_container + run_program end in a clean error or a run."""
    try:
        run_program(isa.decode_container(data), {})
    except (isa.BinaryFormatError, SimError):
        pass


DRAM4 = Access(Space.DRAM, 0, 0, ((1, 4), (1, 1)))
SBUF4 = Access(Space.SBUF, 0, 0, ((1, 4), (1, 1)))

# (id, payload): a JSON section of the wrong shape. Hex of the IO one, for the record:
# 544944414c42494e01000000736d616c6c00...0001000000 41044a2d 2000000000000000
# 03000000 00000000 5400000000000000 0200000000000000 5b5d000000000000
JSON_CASES = [
    ("io-is-a-list", SectionKind.IO, b"[]", "IO section is not an object"),
    ("io-inputs-not-a-list", SectionKind.IO, b'{"inputs": 1, "outputs": []}',
     "IO 'inputs' is not a list"),
    ("debug-not-a-list", SectionKind.DEBUG, b"1", "DEBUG section is not a list of strings"),
    ("meta-not-an-object", SectionKind.META, b"[1]", "META section is not an object"),
    ("json-nested-too-deep", SectionKind.DEBUG, b"[" * 100000 + b"]" * 100000,
     "JSON nested too deep"),
]


@pytest.mark.parametrize(("kind", "payload", "message"), [c[1:] for c in JSON_CASES],
                         ids=[c[0] for c in JSON_CASES])
def test_json_section_of_the_wrong_type(kind: int, payload: bytes, message: str) -> None:
    data = container((kind, 0, payload))
    with pytest.raises(isa.BinaryFormatError, match=message) as e:
        isa.decode_container(data)
    assert str(e.value).startswith(f"offset {isa.HEADER.size + isa.SECTION.size}: ")
    loads_cleanly(data)


OBJDUMP_CASES = [
    ("partition-stride-9", one_dma(DRAM4, Access(Space.SBUF, 0, 0, ((9, 4), (1, 1))))),
    ("partition-stride-3-of-one", one_dma(DRAM4, Access(Space.SBUF, 0, 0, ((3, 1), (1, 4))))),
    ("negative-count", one_dma(DRAM4, Access(Space.SBUF, 0, 0, ((1, 4), (1, -1))))),
    ("dram-pstart-1", one_dma(Access(Space.DRAM, 1, 0, ((1, 4), (1, 1))), SBUF4)),
    ("dram-bytes-inf", container((SectionKind.META, 0, b'{"dram_bytes": 1e400}'))),
    ("dram-bytes-string", container((SectionKind.META, 0, b'{"dram_bytes": "x"}'))),
    ("dram-bytes-null", container((SectionKind.META, 0, b'{"dram_bytes": null}'))),
    ("io-entry-without-shape",
     container((SectionKind.IO, 0, b'{"inputs": [{"name": "x", "addr": 0}], "outputs": []}'))),
    ("io-entry-a-string", container((SectionKind.IO, 0, b'{"inputs": ["x"], "outputs": []}'))),
    ("debug-entry-a-float", one_dma(DRAM4, SBUF4, debug=[1.5])),
]


@pytest.mark.parametrize("data", [c[1] for c in OBJDUMP_CASES], ids=[c[0] for c in OBJDUMP_CASES])
def test_objdump_of_a_bad_record_or_table(data: bytes, tmp_path: Path) -> None:
    loads_cleanly(data)  # the hardware model refuses these cleanly
    assert fuzz.run_objdump(data, str(tmp_path / "bad.tbin")) == "BinaryFormatError"


def test_mutators_keep_sizes_sane() -> None:
    """Every mutator runs on tiny and empty-ish inputs without failing itself."""
    rng = np.random.default_rng(0)
    for data in (b"", b"TIDALBIN", container((SectionKind.META, 0, b"{}"))):
        for _ in range(50):
            out, names = fuzz.mutate_binary(rng, data)
            assert isinstance(out, bytes) and names


def test_a_hang_inside_one_c_call_is_reported_not_waited_for(tmp_path: Path) -> None:
    """SIGALRM cannot interrupt a NumPy loop over 2^40 elements (the old loader's
    stride-0 MEMSET): the watchdog reports the input and ends the run instead of
    hanging the fuzzer for hours."""
    bench = Path(__file__).resolve().parents[3] / "bench"
    code = (
        f"import sys; sys.path.insert(0, {str(bench)!r}); import fuzz, numpy as np\n"
        "with fuzz.time_budget(0.2, lambda: print('saved the input', flush=True)):\n"
        "    np.broadcast_to(np.float32(1), (1 << 40,)).sum()\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=120, cwd=tmp_path)  # the loop itself would take hours
    assert r.returncode == 3 and r.stdout == "saved the input\n", (r.returncode, r.stderr)

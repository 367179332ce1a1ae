"""Fuzzing the binary loader, the hardware model and the IR parser: mutated inputs
must end in a clean error or a clean run, never a crash or a hang.

    .venv/bin/python bench/fuzz.py --binaries 20000 --ir 5000 --seed 0

Binaries: a few models compiled for chip 'small' (`compile_to_bytes`) are mutated
(bit flips, byte and int32 overwrites, truncations, extensions, section-table and
header fields set to bad or huge values, swapped sections, records inserted,
deleted, duplicated or scrambled, IO/META/DEBUG JSON, constants and ACT lookup
tables (LUT section: dropped, renumbered, resized, bad ranges, base values and
coefficients) corrupted, RANDOM and DROPOUT records added with extreme ratios,
bounds and seeds, the instruction image moved inside the program's DRAM (META
instr_base) where its DMAs rewrite it, EVAL and OVERWRITE records added; and,
aimed at the loader's bounds on the work of a run, access counts and strides set to
huge, 0, 2^31-1 or negative values, stride-0 dims with huge counts, IO shapes with
huge, zero or many dims, many outputs aliasing all of DRAM) and, mostly, the CRC and
body length are fixed up so that the mutation reaches past the checksum. Each input goes through `decode_container` and `run_program` (what
tidal-sim and tidal-run do) and, every `--objdump-every`th, `targets.binary.decode`
(what tidal-objdump does). Clean: a run, or a `BinaryFormatError` / `SimError`.

IR: each `// -----` chunk of the lit tests under test/filecheck and a few random
graphs at graph level are mutated (lines deleted, duplicated or swapped, numbers
changed, characters deleted, junk tokens inserted, SSA names swapped) and run
through `tidal.tools.tidal_opt.main` in-process with a pipeline fitting the chunk's
level. Clean: exit 0, or exit 1 with one line `tidal-opt: error: ...` on stderr.

Every input runs under a time limit (`--timeout`, SIGALRM); over it is a hang. An
input that ends (cleanly or not) but used more than its budget, `--budget` seconds of
CPU or `--memory-budget-mb` of peak memory above what the process held before it,
or that ran out of the process's address space (MemoryError), is over-budget: a
failure like a crash, since a small file must not cost much. Anything else is a
crash. Failing inputs are saved under out/fuzz/ and the run goes on. Prints how many
inputs were tried and how many ended each way.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import io
import os
import re
import resource
import signal
import struct
import sys
import tempfile
import threading
import time
import traceback
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "examples"))

from tidal.sim import isa  # noqa: E402
from tidal.sim.config import SMALL  # noqa: E402
from tidal.sim.errors import SimError  # noqa: E402
from tidal.sim.isa import BinaryFormatError, decode_container, encode_container  # noqa: E402
from tidal.sim.machine import run_program  # noqa: E402

HEADER = isa.HEADER.size  # 60
SECTION = isa.SECTION.size  # 24
# Header field offsets: magic 0, version 8, chip 12, nsections 44, crc32 48, body 52.
OFF_VERSION, OFF_CHIP, OFF_NSEC, OFF_CRC, OFF_BODY = 8, 12, 44, 48, 52

INT32 = [0, 1, -1, 2, 3, 4, 5, 7, 8, 9, 12, 16, 31, 32, 33, 47, 48, 63, 64, 127, 128,
         255, 256, 511, 512, 513, 1023, 1024, 4095, 4096, 8192, 65535, 65536, 1 << 20,
         1 << 24, 1 << 30, 2**31 - 1, -(2**31), -2, -4, -32, -65536]
UINT64 = [0, 1, 7, 8, 24, 60, 61, 84, 192, 4096, 2**31 - 1, 2**31, 2**32 - 1, 2**32,
          2**48, 2**63 - 1, 2**63, 2**64 - 1]
# Random graphs used as seeds draw from a fixed op list, so that adding op entries to
# randgraph does not change the fuzz inputs of a given --seed.
SEED_OPS = ["Relu", "Add", "Mul", "Reshape", "Softmax", "Gemm", "MaxPool", "Conv",
            "Concat", "BatchNormalization", "AveragePool", "Transpose"]
BYTES = [0x00, 0x01, 0x7F, 0x80, 0xFF, 0xFE, 0x20, 0x22, 0x5B, 0x7B, 0x2C, 0x30]


def pick(rng: np.random.Generator, options: list[Any]) -> Any:
    """One of `options` as the Python object (rng.choice would make a NumPy array of
    them, losing big integers and trailing NUL bytes)."""
    return options[int(rng.integers(0, len(options)))]


class Hang(BaseException):
    """The time budget ran out (a BaseException, so that no `except Exception`
    in the code under test swallows it)."""


def save_input(directory: Path, name: str, data: bytes, note: str) -> str:
    """Write a failing input to `directory`/`name`; say where it is and `note` (what
    it came from)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_bytes(data)
    return f"{path} ({note})"


def stuck(stage: str, timeout: float, save: Callable[[], str]) -> None:
    """What `time_budget`'s watchdog reports before it ends the process."""
    print(f"!! {stage}stuck in C code past {2 * timeout:g} s: {save()}", flush=True)


@contextlib.contextmanager
def time_budget(seconds: float, stuck: Callable[[], None] | None = None) -> Iterator[None]:
    """Raise Hang after `seconds`. A signal handler runs only between Python
    bytecodes, so a hang inside one C call (a NumPy loop over 2^40 elements) never
    sees it: after twice the time a watchdog thread calls `stuck` (which should save
    the input and report it) and ends the process with status 3."""

    def expire(signum: int, frame: Any) -> None:
        raise Hang()

    def watchdog() -> None:
        if stuck is not None:
            stuck()
        os._exit(3)

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    dog = threading.Timer(2 * seconds, watchdog)
    dog.daemon = True
    dog.start()
    try:
        yield
    finally:
        dog.cancel()
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def where(e: BaseException) -> str:
    """`Type at file:line` of the innermost frame: the signature a crash groups by."""
    frames = traceback.extract_tb(e.__traceback__)
    last = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return f"{type(e).__name__}{last}"


@dataclass
class Tally:
    tried: int = 0
    outcomes: collections.Counter[str] = field(default_factory=collections.Counter)
    mutations: collections.Counter[str] = field(default_factory=collections.Counter)
    crashes: collections.Counter[str] = field(default_factory=collections.Counter)
    examples: dict[str, str] = field(default_factory=dict)  # signature -> saved file
    start: float = field(default_factory=time.perf_counter)

    @property
    def bad(self) -> int:
        return sum(self.outcomes[k] for k in FAILURES)

    def fail(self, sig: str, save: Callable[[], str] | None) -> None:
        """Count a failure under its signature; keep the first example of each."""
        self.crashes[sig] += 1
        if save is not None and sig not in self.examples:
            self.examples[sig] = save()

    def progress(self, what: str, count: int) -> None:
        """One line: how far the run is and its failures so far."""
        print(f"[{what} {self.tried}/{count}] {time.perf_counter() - self.start:.0f} s "
              + " ".join(f"{k}={self.outcomes[k]}" for k in FAILURES), flush=True)


FAILURES = ("crash", "hang", "over-budget")


@dataclass(frozen=True)
class Budget:
    """What one input may cost: CPU seconds, and peak resident memory (MiB) above
    what the process held when the input started."""

    seconds: float = 5.0
    # The most a program the loader admits can hold on chip 'small' (the seeds'):
    # its DRAM (1 GiB), the outputs copied out of it (at most as much), one DMA's
    # reshaping copy (at most as much), plus room for the tools themselves.
    memory_mb: float = 3 * 1024 + 512


class PeakMemory:
    """Peak resident memory of this process since the last `reset` (Linux: VmHWM,
    which writing 5 to /proc/self/clear_refs resets). Elsewhere `peak` is 0 and only
    the address-space limit catches an input that asks for too much."""

    def __init__(self) -> None:
        self.available = self._clear() and self._status("VmHWM") > 0

    @staticmethod
    def _clear() -> bool:
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            return True
        except OSError:
            return False

    @staticmethod
    def _status(key: str) -> int:
        """A /proc/self/status field in bytes (0 if unknown)."""
        try:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith(key + ":"):
                        return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def reset(self) -> int:
        """Start measuring; returns the resident memory now (bytes)."""
        if not self.available:
            return 0
        self._clear()
        return self._status("VmRSS")

    def peak(self) -> int:
        return self._status("VmHWM") if self.available else 0


def over_budget(budget: Budget, seconds: float, peak_bytes: int) -> str | None:
    """What went over the budget, or None."""
    over = []
    if seconds > budget.seconds:
        over.append(f"{seconds:.1f} s CPU > {budget.seconds:g}")
    if peak_bytes > budget.memory_mb * 2**20:
        over.append(f"{peak_bytes / 2**20:.0f} MiB > {budget.memory_mb:g}")
    return ", ".join(over) or None


# ======================================================================= binaries


@dataclass
class Seed:
    name: str
    data: bytes
    inputs: dict[str, np.ndarray]


def binary_seeds(count: int = 5) -> list[Seed]:
    """Binaries for chip 'small': a small MLP (also in self-refilling sections), the
    example CNN (when `count` allows), and random graphs from randgraph that
    compile."""
    import onnx
    from models import make_cnn, make_inputs, make_mlp

    import randgraph
    from tidal.tools.files import ToolError
    from tidal.tools.tidal_compile import compile_to_bytes

    models: list[tuple[str, Any, dict[str, np.ndarray]]] = []
    mlp = make_mlp(batch=4, sizes=(40, 24, 10))
    models.append(("mlp", mlp, make_inputs(mlp)))
    if count >= 4:
        cnn = make_cnn()
        models.append(("cnn", cnn, make_inputs(cnn)))
    i = 0
    while len(models) < count and i < 100:
        case = randgraph.case_from_seed([12345, i], 6, SEED_OPS)
        i += 1
        if len(case.ops) >= 3:
            models.append((f"randgraph{i - 1}", case.model, case.inputs))
    seeds: list[Seed] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, model, inputs in models:
            path = os.path.join(tmp, f"{name}.onnx")
            onnx.save(model, path)
            try:
                seeds.append(Seed(name, compile_to_bytes(path, "small"), inputs))
            except ToolError:
                continue
    if seeds:  # the first in self-refilling sections (REFILL records, a DMA ring)
        from tidal.sim.config import SMALL
        from tidal.targets.refill import self_refill

        first = seeds[0]
        refilled = self_refill(isa.decode_container(first.data), SMALL)
        seeds.insert(1, Seed(f"{first.name}-refill", isa.encode_container(refilled), first.inputs))
    return seeds[:count] if len(seeds) > count else seeds


def _sections(data: bytes) -> list[tuple[int, int, int, int, int]]:
    """(table entry position, kind, arg, offset, size) of every readable entry."""
    if len(data) < HEADER:
        return []
    nsec = struct.unpack_from("<I", data, OFF_NSEC)[0]
    out = []
    for i in range(min(nsec, 64)):
        at = HEADER + i * SECTION
        if at + SECTION > len(data):
            break
        out.append((at, *isa.SECTION.unpack_from(data, at)))
    return out


def fix_header(data: bytearray, body_too: bool) -> None:
    """Recompute the CRC (and the body length) so the mutation reaches the parser."""
    if len(data) < HEADER:
        return
    if body_too:
        struct.pack_into("<Q", data, OFF_BODY, len(data) - HEADER)
    struct.pack_into("<I", data, OFF_CRC, zlib.crc32(bytes(data[HEADER:])))


# -- raw mutators: (rng, bytearray) -> None, in place


def m_bitflip(rng: np.random.Generator, d: bytearray) -> None:
    for _ in range(int(rng.integers(1, 17))):
        pos = int(rng.integers(0, len(d)))
        d[pos] ^= 1 << int(rng.integers(0, 8))


def m_bytes(rng: np.random.Generator, d: bytearray) -> None:
    for _ in range(int(rng.integers(1, 9))):
        pos = int(rng.integers(0, len(d)))
        d[pos] = int(pick(rng, BYTES)) if rng.random() < 0.6 else int(rng.integers(0, 256))


def _interesting_int32(rng: np.random.Generator, current: int) -> int:
    r = rng.random()
    if r < 0.6:
        return int(pick(rng, INT32))
    if r < 0.85:
        return int(np.clip(current + int(rng.integers(-4, 5)) * int(pick(rng, [1, 4, 48, 192])),
                           -(2**31), 2**31 - 1))
    return int(rng.integers(-(2**31), 2**31))


def m_word(rng: np.random.Generator, d: bytearray) -> None:
    """Overwrite int32 words of records (any field: opcode, engine, semaphores,
    access spaces, partitions, offsets, strides, counts, immediates)."""
    streams = [s for s in _sections(d) if s[1] == isa.SectionKind.STREAM and s[4] >= 192]
    for _ in range(int(rng.integers(1, 4))):
        if streams and rng.random() < 0.9:
            _, _, _, off, size = streams[int(rng.integers(0, len(streams)))]
            nrec = size // isa.RECORD_BYTES
            pos = off + int(rng.integers(0, nrec)) * isa.RECORD_BYTES + 4 * int(rng.integers(0, 48))
        else:
            pos = 4 * int(rng.integers(0, len(d) // 4))
        if pos + 4 <= len(d):
            cur = struct.unpack_from("<i", d, pos)[0]
            struct.pack_into("<i", d, pos, _interesting_int32(rng, cur))


def m_truncate(rng: np.random.Generator, d: bytearray) -> None:
    cuts = [0, 1, 8, 12, 44, 48, 52, HEADER - 1, HEADER, HEADER + 1]
    cuts += [s[0] + k for s in _sections(d) for k in (0, 8, 23)]
    cuts += [s[3] + s[4] - k for s in _sections(d) for k in (1, 4, 192)]
    n = int(pick(rng, cuts)) if rng.random() < 0.5 else int(rng.integers(0, len(d)))
    del d[max(0, min(n, len(d) - 1)) :]


def m_extend(rng: np.random.Generator, d: bytearray) -> None:
    n = int(pick(rng, [1, 4, 8, 24, 192, 1000]))
    d += bytes(n) if rng.random() < 0.5 else rng.integers(0, 256, n, dtype=np.uint8).tobytes()


def _u64(rng: np.random.Generator, current: int, size: int) -> int:
    r = rng.random()
    if r < 0.5:
        return int(pick(rng, UINT64))
    if r < 0.8:
        return min(max(0, current + int(pick(rng, [-192, -24, -8, -1, 1, 8, 192]))), 2**64 - 1)
    return int(rng.integers(0, max(size, 1) + 1))


def m_section(rng: np.random.Generator, d: bytearray) -> None:
    """Bad section lengths, offsets, kinds or args (engines)."""
    entries = _sections(d)
    if not entries:
        return m_bytes(rng, d)
    at, kind, arg, off, size = entries[int(rng.integers(0, len(entries)))]
    field_ = int(rng.integers(0, 4))
    if field_ == 0:
        kind = int(pick(rng, [0, 1, 2, 3, 4, 5, 6, 255, 2**32 - 1]))
    elif field_ == 1:
        arg = int(pick(rng, [0, 1, 2, 3, 4, 5, 6, 7, 31, 2**31, 2**32 - 1]))
    elif field_ == 2:
        off = _u64(rng, off, len(d))
    else:
        size = _u64(rng, size, len(d))
    isa.SECTION.pack_into(d, at, kind, arg, off, size)


def m_swap_sections(rng: np.random.Generator, d: bytearray) -> None:
    entries = _sections(d)
    if len(entries) < 2:
        return m_section(rng, d)
    i, j = rng.choice(len(entries), 2, replace=False)
    a, b = entries[int(i)], entries[int(j)]
    if rng.random() < 0.5:  # swap whole entries
        isa.SECTION.pack_into(d, a[0], *b[1:])
        isa.SECTION.pack_into(d, b[0], *a[1:])
    else:  # swap the payload locations only: each kind reads the other's bytes
        isa.SECTION.pack_into(d, a[0], a[1], a[2], b[3], b[4])
        isa.SECTION.pack_into(d, b[0], b[1], b[2], a[3], a[4])


def m_header(rng: np.random.Generator, d: bytearray) -> None:
    """Huge or off-by-one counts, versions, body lengths, chip names."""
    if len(d) < HEADER:
        return
    which = int(rng.integers(0, 5))
    if which == 0:
        nsec = struct.unpack_from("<I", d, OFF_NSEC)[0]
        new = int(pick(rng, [0, 1, nsec - 1, nsec + 1, nsec + 2, 1000, 2**31, 2**32 - 1]))
        struct.pack_into("<I", d, OFF_NSEC, new % 2**32)
    elif which == 1:
        struct.pack_into("<I", d, OFF_VERSION, int(pick(rng, [0, 2, 2**32 - 1])))
    elif which == 2:
        body = struct.unpack_from("<Q", d, OFF_BODY)[0]
        struct.pack_into("<Q", d, OFF_BODY, _u64(rng, body, len(d)))
    elif which == 3:
        name = pick(rng, [b"default", b"", b"big", b"\xff\xfe", b"small\x00x", b"x" * 32])
        d[OFF_CHIP : OFF_CHIP + 32] = bytes(name[:32]).ljust(32, b"\0")
    else:
        d[0 : 8] = pick(rng, [b"TIDALBIX", b"\0" * 8, b"tidalbin"])


RAW: dict[str, Callable[[np.random.Generator, bytearray], None]] = {
    "bitflip": m_bitflip,
    "bytes": m_bytes,
    "word": m_word,
    "truncate": m_truncate,
    "extend": m_extend,
    "section": m_section,
    "swap-sections": m_swap_sections,
    "header": m_header,
}


# -- structured mutators: decode, change the program, re-encode (CRC consistent)


def _random_record(rng: np.random.Generator, like: np.ndarray | None) -> np.ndarray:
    if like is not None and rng.random() < 0.6:
        rec = like.copy()
        for _ in range(int(rng.integers(1, 4))):
            w = int(rng.integers(0, isa.RECORD_WORDS))
            rec[w] = _interesting_int32(rng, int(rec[w]))
        return rec
    rec = np.zeros(isa.RECORD_WORDS, np.int32)
    rec[0] = int(rng.integers(0, len(isa.Opcode) + 2))
    rec[1] = int(rng.integers(-1, 8))
    rec[3] = int(pick(rng, [-1, 0, 1, 31, 32]))
    rec[4] = int(pick(rng, [-1, 0, 1, 1000]))
    for w in range(5, isa.RECORD_WORDS):
        rec[w] = int(pick(rng, INT32)) if rng.random() < 0.5 else int(rng.integers(0, 64))
    return rec


def _json_value(rng: np.random.Generator) -> Any:
    return pick(rng, [None, True, -1, 0, 3, 2**40, 1.5, "x", "", [], {}, [1, 2], {"a": 1},
                      -(2**63), 1e308])


def _mutate_json(rng: np.random.Generator, value: Any, depth: int = 0) -> Any:
    if isinstance(value, dict) and value and rng.random() < 0.8:
        key = list(value)[int(rng.integers(0, len(value)))]
        out = dict(value)
        r = rng.random()
        if r < 0.2:
            del out[key]
        elif r < 0.3:
            out[f"{key}_"] = _json_value(rng)
        else:
            out[key] = _mutate_json(rng, value[key], depth + 1)
        return out
    if isinstance(value, list) and value and rng.random() < 0.8:
        out = list(value)
        i = int(rng.integers(0, len(out)))
        r = rng.random()
        if r < 0.2:
            del out[i]
        elif r < 0.35:
            out.insert(i, out[i])
        else:
            out[i] = _mutate_json(rng, out[i], depth + 1)
        return out
    if isinstance(value, int) and not isinstance(value, bool) and rng.random() < 0.7:
        return int(pick(rng, [0, -1, 1, value + 1, value - 1, value + 4, value * 2,
                               value * 1000, 2**31, 2**40, 2**64, -(2**63)]))
    if isinstance(value, str) and rng.random() < 0.7:
        return str(pick(rng, ["", "float64", "float32", value + "x", "input", "\u00e9", "x" * 300]))
    return _json_value(rng)


def s_records(rng: np.random.Generator, p: isa.Program) -> None:
    """Insert, delete, duplicate, swap or scramble records of one stream."""
    if not p.streams:
        p.streams[int(rng.integers(0, 5))] = _random_record(rng, None)[None, :]
        return
    engine = list(p.streams)[int(rng.integers(0, len(p.streams)))]
    recs = [r for r in p.streams[engine]]
    like = recs[int(rng.integers(0, len(recs)))] if recs else None
    op = int(rng.integers(0, 5))
    i = int(rng.integers(0, len(recs) + 1))
    if op == 0 or not recs:
        for _ in range(int(rng.integers(1, 4))):
            recs.insert(i, _random_record(rng, like))
    elif op == 1:
        del recs[min(i, len(recs) - 1)]
    elif op == 2:
        recs.insert(i, recs[min(i, len(recs) - 1)].copy())
    elif op == 3 and len(recs) >= 2:
        a, b = rng.choice(len(recs), 2, replace=False)
        recs[int(a)], recs[int(b)] = recs[int(b)], recs[int(a)]
    else:
        recs[min(i, len(recs) - 1)] = _random_record(rng, like)
    p.streams[engine] = np.array(recs, np.int32).reshape(-1, isa.RECORD_WORDS)


def s_engines(rng: np.random.Generator, p: isa.Program) -> None:
    """Move a stream to another (or a nonexistent) engine, or drop it."""
    if not p.streams:
        return
    engine = list(p.streams)[int(rng.integers(0, len(p.streams)))]
    recs = p.streams.pop(engine)
    if rng.random() < 0.8:
        p.streams[int(pick(rng, [0, 1, 2, 3, 4, 5, 6, 100, 2**31 - 1]))] = recs


def s_io(rng: np.random.Generator, p: isa.Program) -> None:
    io = _mutate_json(rng, {"inputs": p.inputs, "outputs": p.outputs})
    p.inputs = io.get("inputs", []) if isinstance(io, dict) else []  # type: ignore[assignment]
    p.outputs = io.get("outputs", []) if isinstance(io, dict) else []  # type: ignore[assignment]


def s_meta(rng: np.random.Generator, p: isa.Program) -> None:
    meta = _mutate_json(rng, p.meta)
    p.meta = meta if isinstance(meta, dict) else {"dram_bytes": meta}


def s_debug(rng: np.random.Generator, p: isa.Program) -> None:
    debug = _mutate_json(rng, p.debug)
    p.debug = debug if isinstance(debug, list) else [debug]


def s_consts(rng: np.random.Generator, p: isa.Program) -> None:
    if not p.consts:
        p.consts.append((int(pick(rng, UINT64)), np.zeros(4, np.uint8)))
        return
    i = int(rng.integers(0, len(p.consts)))
    addr, data = p.consts[i]
    r = rng.random()
    if r < 0.5:
        addr = int(pick(rng, UINT64)) if rng.random() < 0.5 else max(0, addr + int(pick(rng, [-4, -1, 1, 2, 4096])))
    elif r < 0.8:
        data = data[: int(rng.integers(0, len(data) + 1))]
    else:
        data = np.concatenate([data, rng.integers(0, 256, int(pick(rng, [1, 3, 4, 1 << 16])), dtype=np.uint8)])
    p.consts[i] = (min(addr, 2**64 - 1), data)


# -- aimed at the loader's bounds on the work of a run: sizes of accesses and IO

HUGE_COUNTS = [1 << 16, 1 << 20, 1 << 30, 2**31 - 1]
SIZE_WORDS = [0, 1, 2, -1, -2, -(2**31), 2**31 - 1, 1 << 16, 1 << 20, 1 << 30]
SMALL_DRAM = SMALL.dram_bytes  # the seeds' chip: the largest DRAM a program may have


def _access_words(p: isa.Program) -> list[tuple[int, int, int]]:
    """(engine, record, first word) of every access operand of every record."""
    out = []
    for engine, recs in p.streams.items():
        for r, rec in enumerate(recs):
            op = int(rec[isa.W_OPCODE])
            if op not in isa.OPERANDS:
                continue
            out += [(engine, r, i) for f, i in isa.OPERANDS[isa.Opcode(op)].items()
                    if f in isa.ACCESS_FIELDS]
    return out


def s_access_sizes(rng: np.random.Generator, p: isa.Program) -> None:
    """An access's counts or strides set to huge, 0, 2^31-1 or negative values, or
    one to three dims broadcast (stride 0) with huge counts; sometimes on every
    access of the record alike, so that their element counts still agree and the
    loader's size bounds are what refuses them."""
    accesses = _access_words(p)
    if not accesses:
        return s_records(rng, p)
    engine, r, i = accesses[int(rng.integers(0, len(accesses)))]
    recs = p.streams[engine].copy()
    rec = recs[r]
    kind = int(rng.integers(0, 3))
    targets = [i]
    if kind == 2 or rng.random() < 0.4:
        targets = [j for e, k, j in accesses if (e, k) == (engine, r)]
    # Broadcasts go on free dims (dim 0 of an on-chip access must have stride 1).
    first = 1 if kind == 2 and rng.random() < 0.9 else 0
    picked = rng.choice(np.arange(first, isa.ACCESS_DIMS), int(rng.integers(1, 4)), replace=False)
    dims = [int(d) for d in picked]
    values = [int(pick(rng, SIZE_WORDS)) for _ in dims]
    huge = [int(pick(rng, HUGE_COUNTS)) for _ in dims]
    for j in targets:
        for d, value, count in zip(dims, values, huge, strict=True):
            if kind == 0:  # a count
                rec[j + 4 + 2 * d] = value
            elif kind == 1:  # a stride
                rec[j + 3 + 2 * d] = value
            else:  # broadcast: stride 0, a huge count
                rec[j + 3 + 2 * d], rec[j + 4 + 2 * d] = 0, count
    p.streams[engine] = recs


def s_io_shapes(rng: np.random.Generator, p: isa.Program) -> None:
    """An IO entry's shape with huge dims (a size past int64), a zero dim, too many
    dims, or exactly one element more than DRAM holds."""
    tables = [t for t in (p.inputs, p.outputs) if t]
    if not tables:
        p.outputs.append({"name": "y", "addr": 0, "shape": [1], "dtype": "float32"})
        tables = [p.outputs]
    table = tables[int(rng.integers(0, len(tables)))]
    k = int(rng.integers(0, len(table)))
    entry = dict(table[k]) if isinstance(table[k], dict) else {}
    shape = entry.get("shape") if isinstance(entry.get("shape"), list) else [1]
    dram = p.meta.get("dram_bytes")
    words = dram // 4 if isinstance(dram, int) and dram > 0 else 1 << 20
    entry["shape"] = pick(rng, [
        [1 << 30, 1 << 30, 16],  # 2^64: 0 in int64
        [2**31 - 1] * 3,
        [2**31 - 1] * int(rng.integers(4, 33)),
        [*shape, 2**31 - 1],
        [0, *shape],
        [1] * int(rng.integers(33, 80)),
        [words + 1],
        [words],
    ])
    table[k] = entry


def s_alias_outputs(rng: np.random.Generator, p: isa.Program) -> None:
    """Many outputs at address 0, each all of DRAM (sometimes after growing DRAM to
    the chip's largest), or splitting it between them exactly."""
    if rng.random() < 0.3:
        p.meta["dram_bytes"] = SMALL_DRAM
    dram = p.meta.get("dram_bytes")
    words = dram // 4 if isinstance(dram, int) and dram > 0 else 1 << 20
    n = int(pick(rng, [2, 3, 16, 1000]))
    each = words if rng.random() < 0.8 or words > (1 << 24) else words // n
    p.outputs = list(p.outputs) + [
        {"name": f"alias{i}", "addr": 0, "shape": [each], "dtype": "float32"}
        for i in range(n)
    ]


def s_luts(rng: np.random.Generator, p: isa.Program) -> None:
    """Corrupt the ACT lookup tables: drop one, renumber it (to an unknown code or one
    without a table), change its range, its row count (few, many, none), a base value
    or a coefficient (NaN, inf, huge), or add a duplicate-like second table."""
    if not p.luts:
        p.luts[int(pick(rng, [2, 1, 99, -1 & 0xFFFFFFFF]))] = (0.0, 1.0, np.zeros((4, 5), np.float32))
        return
    code = int(pick(rng, sorted(p.luts)))
    lo, hi, rows = p.luts[code]
    rows = rows.copy()
    r = rng.random()
    if r < 0.15:
        del p.luts[code]
        return
    if r < 0.3:
        del p.luts[code]
        p.luts[int(pick(rng, [0, 1, 7, 11, 12, 255, 2**32 - 1]))] = (lo, hi, rows)
        return
    if r < 0.45:
        lo, hi = pick(rng, [(hi, lo), (lo, lo), (lo - 1, hi), (float("nan"), hi), (lo, float("inf"))])
    elif r < 0.6:
        n = int(pick(rng, [0, 1, len(rows) - 1, len(rows) + 1, 4 * len(rows)]))
        rows = np.resize(rows, (max(n, 0), 5)).astype(np.float32)
    elif r < 0.85 and len(rows):
        i, j = int(rng.integers(0, len(rows))), int(rng.integers(0, 5))
        rows[i, j] = np.float32(pick(rng, [np.nan, np.inf, -np.inf, 3.4e38, 0.0, rows[i, j] * 1.0001]))
    else:
        p.luts[int(pick(rng, [c for c in range(12) if c not in p.luts] or [12]))] = (lo, hi, rows)
    p.luts[code] = (lo, hi, rows)


def s_rng(rng: np.random.Generator, p: isa.Program) -> None:
    """Add a RANDOM, DROPOUT or BERNOULLI record to the POOL stream (before its HALT), on the
    on-chip access of another record or a random one, with extreme ratios, bounds and
    seeds (NaN, inf, negative, >= 1, huge)."""
    pool = p.streams.get(isa.Engine.POOL)
    records = [] if pool is None else list(pool)
    onchip = [
        rec[i : i + isa.ACCESS_WORDS].copy()
        for recs in p.streams.values() for rec in recs
        for i in _access_starts(int(rec[0]))
        if rec[i] in (1, 2)
    ]
    access = pick(rng, onchip) if onchip and rng.random() < 0.8 else np.array(
        [int(pick(rng, [1, 2, 0, 7])), int(rng.integers(-1, 40)), int(pick(rng, INT32)),
         *[int(pick(rng, [1, 0, -1, 8, 1 << 20])) for _ in range(2 * isa.ACCESS_DIMS)]],
        np.int32,
    )
    special = [0.0, 0.5, 0.999, 1.0, 1.5, -0.5, float("nan"), float("inf"), -float("inf"), 3.4e38]
    seed = int(pick(rng, INT32))
    if rng.random() < 0.2:
        rec = isa.make_record(isa.Opcode.BERNOULLI, isa.Engine.POOL, seed=seed)
        words = [("dst", access), ("src", pick(rng, onchip) if onchip else access)]
    elif rng.random() < 0.5:
        rec = isa.make_record(isa.Opcode.DROPOUT, isa.Engine.POOL, ratio=float(pick(rng, special)), seed=seed)
        words = [("dst", access), ("src", pick(rng, onchip) if onchip else access)]
    else:
        rec = isa.make_record(
            isa.Opcode.RANDOM, isa.Engine.POOL, low=float(pick(rng, special)),
            high=float(pick(rng, special)), seed=seed,
        )
        words = [("dst", access)]
    layout = isa.OPERANDS[isa.Opcode(int(rec[0]))]
    for name, acc in words:
        rec[layout[name] : layout[name] + isa.ACCESS_WORDS] = acc
    at = max(0, len(records) - 1) if records else 0
    records.insert(at, rec)
    p.streams[isa.Engine.POOL] = np.stack(records).astype(np.int32)


def s_instr_base(rng: np.random.Generator, p: isa.Program) -> None:
    """Put the instruction image inside the program's DRAM (META instr_base) at a good
    or bad address, so that the program's DMAs may rewrite its instructions with
    whatever they carry."""
    size = p.meta.get("dram_bytes", 0)
    size = size if isinstance(size, int) else 0
    aligned = int(rng.integers(0, max(1, size // 64))) * 64
    p.meta["instr_base"] = pick(rng, [aligned, aligned, 0, aligned + 4, -64, size, 2**62, "0", None])
    if p.meta["instr_base"] is None:
        del p.meta["instr_base"]


def s_exit_records(rng: np.random.Generator, p: isa.Program) -> None:
    """Add an EVAL and an OVERWRITE to a DMA queue's stream (before its HALT), on
    accesses of other records or DRAM words of the program, with random reductions,
    comparisons and thresholds (NaN, inf); the OVERWRITE's destination is sometimes
    the instruction image (with META instr_base set inside the program's DRAM)."""
    queues = [e for e in p.streams if e >= isa.Engine.DMA0] or [isa.Engine.DMA0]
    q = int(pick(rng, queues))
    records = list(p.streams.get(q, np.zeros((0, isa.RECORD_WORDS), np.int32)))
    size = p.meta.get("dram_bytes", 4096)
    size = size if isinstance(size, int) and size > 64 else 4096
    word = lambda n: isa.Access(isa.Space.DRAM, 0, int(rng.integers(0, size // 4)) * 4, ((1, n),))
    n = int(pick(rng, [1, 8, 48, 1 << 20]))
    a = word(n)
    ev = isa.make_record(
        isa.Opcode.EVAL, q, dst=word(int(pick(rng, [1, 1, 2]))), a=a, b=pick(rng, [a, word(n)]),
        reduce=pick(rng, list(isa.ReduceOp)), input=pick(rng, list(isa.EvalInput)),
        cmp=pick(rng, list(isa.CmpOp)),
        threshold=float(pick(rng, [0.0, 1.0, -1.0, float("nan"), float("inf"), 1e30])),
    )
    if rng.random() < 0.5:
        p.meta["instr_base"] = (size // 2) // 64 * 64
    count = int(pick(rng, [48, 96, 480]))
    ow = isa.make_record(
        isa.Opcode.OVERWRITE, q, dst=word(count), src=word(count), flag=word(int(pick(rng, [1, 1, 3]))),
        signal=int(pick(rng, [-1, 0, 1])),
    )
    at = max(0, len(records) - 1)
    records[at:at] = [ev, ow]
    p.streams[q] = np.stack(records).astype(np.int32)


def _access_starts(opcode: int) -> list[int]:
    """The first word of each access operand of an opcode's record (none if unknown)."""
    try:
        entry = isa.INSTRUCTIONS[isa.Opcode(opcode)]
    except ValueError:
        return []
    return [entry.layout[f.name] for f in entry.accesses]


STRUCTURED: dict[str, Callable[[np.random.Generator, isa.Program], None]] = {
    "records": s_records,
    "engines": s_engines,
    "io-json": s_io,
    "meta-json": s_meta,
    "debug-json": s_debug,
    "consts": s_consts,
    "luts": s_luts,
    "rng-records": s_rng,
    "instr-base": s_instr_base,
    "exit-records": s_exit_records,
    "access-sizes": s_access_sizes,
    "io-shapes": s_io_shapes,
    "alias-outputs": s_alias_outputs,
}


def s_json_garbage(rng: np.random.Generator, d: bytearray) -> None:
    """Replace a JSON section's payload by other JSON or non-JSON bytes."""
    entries = [e for e in _sections(d) if e[1] in (3, 4, 5)]
    if not entries:
        return m_bytes(rng, d)
    at, kind, arg, off, size = entries[int(rng.integers(0, len(entries)))]
    if off < at + SECTION or off + size > len(d):  # overlaps its table entry, or past the end
        return m_bytes(rng, d)
    payload = pick(rng, [b"[]", b"{}", b"null", b"1", b'"x"', b"{", b"\xff\xfe",
                         b'{"inputs": 1, "outputs": []}', b"[" * 5000 + b"]" * 5000,
                         b'{"dram_bytes": 1e400}', b"NaN"])
    d[off : off + size] = payload
    isa.SECTION.pack_into(d, at, kind, arg, off, len(payload))


RAW["json-garbage"] = s_json_garbage


def mutate_binary(rng: np.random.Generator, data: bytes) -> tuple[bytes, list[str]]:
    """1-3 mutations; after raw ones, the CRC (and body length) are usually fixed."""
    names: list[str] = []
    d = bytearray(data)
    if rng.random() < 0.35:
        try:
            program = decode_container(data)
            for _ in range(int(rng.integers(1, 3))):
                name = list(STRUCTURED)[int(rng.integers(0, len(STRUCTURED)))]
                STRUCTURED[name](rng, program)
                names.append(name)
            d = bytearray(encode_container(program))
        except (BinaryFormatError, ValueError, TypeError, OverflowError, struct.error,
                AssertionError):
            names.append("unencodable")  # the mutated program does not encode: raw only
    for _ in range(int(rng.integers(0 if names else 1, 3))):
        name = list(RAW)[int(rng.integers(0, len(RAW)))]
        if len(d) < 8:  # nothing left to mutate but by extending
            name = "extend"
        RAW[name](rng, d)
        names.append(name)
    if names and any(n in RAW for n in names) and rng.random() < 0.85:
        fix_header(d, body_too=rng.random() < 0.7)
        names.append("crc-fixed")
    return bytes(d), names


def run_sim(data: bytes, inputs: dict[str, np.ndarray]) -> str:
    """What tidal-sim / tidal-run do with a binary: 'ran', or the clean error's class
    name (BinaryFormatError, LoadError, InputError, DeadlockError, ExecutionError).
    Any other exception propagates: a crash."""
    try:
        run_program(decode_container(data), inputs)
    except BinaryFormatError:
        return "BinaryFormatError"
    except SimError as e:
        return type(e).__name__
    return "ran"


class Unclean(Exception):
    """A tool that exited without a traceback but not cleanly either."""


def run_objdump(data: bytes, path: str) -> str:
    """tidal-objdump in-process on `data` (written to `path`): 'decoded', or
    'BinaryFormatError' for exit 1 with one line `tidal-objdump: error: ...`.
    Raises Unclean for any other exit, and lets exceptions propagate."""
    from tidal.tools.tidal_objdump import main

    Path(path).write_bytes(data)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([path])
    lines = [ln for ln in err.getvalue().splitlines() if ln.strip()]
    if code == 0 and not lines:
        return "decoded"
    if code == 1 and len(lines) == 1 and lines[0].startswith("tidal-objdump: error: "):
        return "BinaryFormatError"
    raise Unclean(f"exit {code}: {(lines or ['(no message)'])[-1][:100]}")


class Meter:
    """The CPU time and peak memory of one input (see `Budget`)."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.memory = PeakMemory()
        self.cpu = 0.0
        self.rss = 0

    def start(self) -> None:
        self.rss = self.memory.reset()
        self.cpu = time.process_time()

    def over(self) -> str | None:
        """What the input since `start` used beyond its budget, or None."""
        peak = self.memory.peak() - self.rss if self.memory.available else 0
        return over_budget(self.budget, time.process_time() - self.cpu, peak)


def fuzz_binaries(
    count: int, seed: int, timeout: float, objdump_every: int, outdir: Path | None,
    seeds: list[Seed] | None = None, progress: bool = False, budget: Budget = Budget(),
) -> Tally:
    seeds = seeds or binary_seeds()
    rng = np.random.default_rng([seed, 1])
    tally, meter = Tally(), Meter(budget)
    tmp = tempfile.TemporaryDirectory()
    tbin = os.path.join(tmp.name, "input.tbin")
    for i in range(count):
        s = seeds[int(rng.integers(0, len(seeds)))]
        data, names = mutate_binary(rng, s.data)
        tally.tried += 1
        tally.mutations.update(names)
        stage = "sim"

        def save() -> str:
            note = f"from {s.name}, {'+'.join(names)}"
            return save_input(outdir or Path(tmp.name), f"binary-{seed}-{i}.tbin", data, note)

        meter.start()
        try:
            with time_budget(timeout, lambda: stuck(f"{stage}: ", timeout, save)):
                outcome = run_sim(data, dict(s.inputs))
                if objdump_every > 0 and i % objdump_every == 0:
                    stage = "objdump"
                    tally.outcomes[f"objdump {run_objdump(data, tbin)}"] += 1
        except Hang:
            outcome, sig = "hang", f"{stage}: hang on {s.name}"
        except MemoryError as e:  # past the address-space limit: it asked for too much
            outcome, sig = "over-budget", f"{stage}: {where(e)}"
        except Unclean as e:
            outcome, sig = "crash", f"{stage}: {e}"
        except Exception as e:  # noqa: BLE001 - every escape counts
            outcome, sig = "crash", f"{stage}: {where(e)}"
        else:
            over = meter.over()
            if over is not None:
                outcome, sig = "over-budget", f"{stage}: over budget ({over}) from {s.name}"
        tally.outcomes[outcome] += 1
        if outcome in FAILURES:
            tally.fail(sig, save if outdir is not None else None)
        if progress and (i + 1) % 1000 == 0:
            tally.progress("binaries", count)
    tmp.cleanup()
    return tally


# ============================================================================ IR


@dataclass
class IrSeed:
    name: str
    text: str
    args: list[str]  # tidal-opt arguments after the input file


def _level_args(text: str) -> list[str]:
    if "graph." in text and "func.func" in text:
        return ["-p", "tidal-lower{chip=small}", "-t", "tbin-listing"]
    if "loop.nest" in text:
        return ["-p", "loop-allocate{chip=small},loop-to-accel,accel-assign-queues,accel-insert-sync,"
                "accel-split-streams",
                "-t", "tbin-listing"]
    if "accel.program" in text:
        return ["-p", "accel-insert-sync,accel-split-streams", "-t", "tbin-listing"]
    return []


def ir_seeds(graphs: int = 4) -> list[IrSeed]:
    """Every `// -----` chunk of test/filecheck/**.mlir, with the pipeline of its
    level, and a few random graphs imported to graph level."""
    seeds: list[IrSeed] = []
    for path in sorted((ROOT / "test" / "filecheck").rglob("*.mlir")):
        if "Output" in path.parts:
            continue
        chunks = path.read_text().split("// -----")
        for k, chunk in enumerate(chunks):
            if "func.func" in chunk or "builtin.module" in chunk or "accel." in chunk \
                    or "loop." in chunk or "graph." in chunk:
                rel = path.relative_to(ROOT)
                seeds.append(IrSeed(f"{rel}#{k}", chunk, _level_args(chunk)))
    if graphs:
        import randgraph
        from tidal.targets.onnx_import import import_onnx

        i = 0
        while graphs and i < 200:
            case = randgraph.case_from_seed([777, i], 4, SEED_OPS)
            i += 1
            try:
                text = str(import_onnx(case.model))
            except Exception:  # noqa: BLE001 - a seed that does not import is skipped
                continue
            if len(text) < 12000:
                seeds.append(IrSeed(f"randgraph{i - 1}", text, _level_args(text)))
                graphs -= 1
    return seeds


JUNK = ["%", "{", "}", "(", ")", "<", ">", ":", ",", "x", "tensor<", "!loop.tile<", '"',
        "@", "^bb0", "-", "0x", "dense<", "f32", "i64", "graph.add", "loop.for",
        "accel.repeat", "\n", "//", "#", "[", "]", "=", "->", "%0", "unit", "\\", "\x00",
        "\u00e9", "?", "*", "!", "-1", "0", "99999999999999999999", "1.0e+999", "nan",
        "tensor<*xf32>", "tensor<?x3xf32>", "memref<4xf32>", "<sbuf 0, 0, [[1, 32]]>",
        "{tidal.origin = 1}", "i0", "inf", "func.return", "}\n}", "loop.nest \"x\""]
NUMBER = re.compile(r"(?<![\w%#@.^])-?\d+(\.\d+)?([eE][+-]?\d+)?(?![\w.])")
WIDTH = re.compile(r"\b([iuf])(\d+)\b")
DIM = re.compile(r"(?<=[<x])\d+(?=x)")  # a dimension of tensor<4x5xf32>, memref<...>
NUMBERS = ["0", "-1", "1", "2", "3", "7", "31", "32", "33", "64", "512", "513", "2048",
           "4096", "65536", "2147483647", "2147483648", "4294967296", "-2147483649",
           "99999999999999999999", "1.5", "-0.0", "1.0e+308", "1e-45"]
WIDTHS = ["0", "1", "3", "8", "16", "31", "33", "65", "128", "1000", "65536", "2147483648"]


def _lines(rng: np.random.Generator, text: str, kind: str) -> str:
    lines = text.split("\n")
    i, j = int(rng.integers(0, len(lines))), int(rng.integers(0, len(lines)))
    if kind == "delete-line":
        del lines[i]
    elif kind == "duplicate-line":
        lines.insert(i, lines[j])
    else:
        lines[i], lines[j] = lines[j], lines[i]
    return "\n".join(lines)


def _number(rng: np.random.Generator, text: str) -> str:
    found = list(NUMBER.finditer(text))
    if not found:
        return text
    m = found[int(rng.integers(0, len(found)))]
    old = m.group()
    if rng.random() < 0.6 or not old.lstrip("-").isdigit():
        new = str(pick(rng, NUMBERS))
    else:
        new = str(int(old) + int(rng.integers(-2, 3)))
    return text[: m.start()] + new + text[m.end() :]


def _width(rng: np.random.Generator, text: str) -> str:
    found = list(WIDTH.finditer(text))
    if not found:
        return text
    m = found[int(rng.integers(0, len(found)))]
    return text[: m.start(2)] + str(pick(rng, WIDTHS)) + text[m.end(2) :]


def _dim(rng: np.random.Generator, text: str) -> str:
    found = list(DIM.finditer(text))
    if not found:
        return text
    m = found[int(rng.integers(0, len(found)))]
    new = pick(rng, ["0", "1", "2", "3", "33", "513", "65536", "2147483648"])
    if rng.random() < 0.5:
        new = str(max(0, int(m.group()) + int(rng.integers(-2, 3))))
    return text[: m.start()] + new + text[m.end() :]


def _delete_chars(rng: np.random.Generator, text: str) -> str:
    pos = int(rng.integers(0, len(text) + 1))
    return text[:pos] + text[pos + int(rng.integers(1, 9)) :]


def _swap_ssa(rng: np.random.Generator, text: str) -> str:
    names = sorted(set(re.findall(r"%[\w.]+", text)))
    if len(names) < 2:
        return text
    a, b = (names[int(k)] for k in rng.choice(len(names), 2, replace=False))
    spots = [m.start() for m in re.finditer(re.escape(a) + r"(?![\w.])", text)]
    if not spots:
        return text
    pos = spots[int(rng.integers(0, len(spots)))]
    return text[:pos] + b + text[pos + len(a) :]


def _junk(rng: np.random.Generator, text: str, tokens: list[str]) -> str:
    pos = int(rng.integers(0, len(text) + 1))
    return text[:pos] + str(pick(rng, tokens)) + text[pos:]


TEXT_MUTATIONS = ["delete-line", "duplicate-line", "swap-lines", "number", "number",
                  "dim", "width", "delete-chars", "swap-ssa", "junk", "junk"]


def mutate_text(rng: np.random.Generator, text: str) -> tuple[str, list[str]]:
    """1-3 mutations of `text` and their names."""
    out, names = text, []
    for _ in range(int(rng.integers(1, 4))):
        kind = pick(rng, TEXT_MUTATIONS)
        names.append(kind)
        if kind in ("delete-line", "duplicate-line", "swap-lines"):
            out = _lines(rng, out, kind)
        elif kind == "number":
            out = _number(rng, out)
        elif kind == "width":
            out = _width(rng, out)
        elif kind == "dim":
            out = _dim(rng, out)
        elif kind == "delete-chars":
            out = _delete_chars(rng, out)
        elif kind == "swap-ssa":
            out = _swap_ssa(rng, out)
        else:
            out = _junk(rng, out, JUNK)
    return out, names


def run_opt(path: str, args: list[str]) -> tuple[int | None, str, str]:
    """tidal-opt in-process: (exit code, stdout, stderr). Exceptions propagate."""
    from tidal.tools.tidal_opt import main

    out, err = io.StringIO(), io.StringIO()
    code: int | None = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([path, *args])
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) or e.code is None else 1
    return code, out.getvalue(), err.getvalue()


def classify_opt(code: int | None, err: str) -> str:
    if code in (0, None) and "Traceback" not in err:
        return "ok"
    lines = [ln for ln in err.splitlines() if ln.strip()]
    if code == 1 and len(lines) == 1 and lines[0].startswith("tidal-opt: error: "):
        return "clean-error"
    return "unclean"


def fuzz_ir(
    count: int, seed: int, timeout: float, outdir: Path | None,
    seeds: list[IrSeed] | None = None, progress: bool = False, budget: Budget = Budget(),
) -> Tally:
    seeds = seeds or ir_seeds()
    rng = np.random.default_rng([seed, 2])
    tally, meter = Tally(), Meter(budget)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "input.mlir")
        for i in range(count):
            s = seeds[int(rng.integers(0, len(seeds)))]
            text, names = mutate_text(rng, s.text)
            args = s.args if rng.random() < 0.8 else []
            Path(path).write_text(text, encoding="utf-8", errors="surrogatepass")
            tally.tried += 1
            tally.mutations.update(names)
            sig = ""

            def save() -> str:
                note = f"from {s.name}, {'+'.join(names)}; tidal-opt {' '.join(args)}"
                raw = text.encode("utf-8", errors="surrogatepass")
                return save_input(outdir or Path(tmp), f"ir-{seed}-{i}.mlir", raw, note)

            meter.start()
            try:
                with time_budget(timeout, lambda: stuck("", timeout, save)):
                    code, _, err = run_opt(path, args)
                outcome = classify_opt(code, err)
                if outcome == "unclean":
                    lines = [ln for ln in err.splitlines() if ln.strip()]
                    sig = f"exit {code}: {(lines[-1] if lines else '(no message)')[:100]}"
                    outcome = "crash"
                elif (over := meter.over()) is not None:
                    outcome, sig = "over-budget", f"over budget ({over}) from {s.name}"
            except Hang:
                outcome, sig = "hang", f"hang on {s.name}"
            except MemoryError as e:  # past the address-space limit
                outcome, sig = "over-budget", where(e)
            except Exception as e:  # noqa: BLE001 - every escape counts
                outcome, sig = "crash", where(e)
            tally.outcomes[outcome] += 1
            if sig:
                tally.fail(sig, save if outdir is not None else None)
            if progress and (i + 1) % 500 == 0:
                tally.progress("ir", count)
    return tally


# ========================================================================== main


def report(title: str, tally: Tally, seconds: float) -> None:
    print(f"\n{title}: {tally.tried} inputs in {seconds:.1f} s "
          f"({tally.tried / max(seconds, 1e-9):.0f}/s)")
    for k, v in sorted(tally.outcomes.items(), key=lambda kv: -kv[1]):
        print(f"  {k:<20} {v}")
    print(f"  not a clean error or run: {tally.bad} "
          f"(crashes {tally.outcomes['crash']}, hangs {tally.outcomes['hang']}, "
          f"over-budget {tally.outcomes['over-budget']})")
    print("  mutations: " + ", ".join(f"{k} {v}" for k, v in tally.mutations.most_common()))
    for sig, n in tally.crashes.most_common():
        print(f"  !! {n}x {sig}: e.g. {tally.examples.get(sig, '-')}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Exit status 1 if any input crashed, hung or went over its budget.",
    )
    parser.add_argument("--binaries", type=int, default=0, help="mutated binaries to try")
    parser.add_argument("--ir", type=int, default=0, help="mutated IR texts to try")
    parser.add_argument("--seed", type=int, default=0,
                        help="random seed of the mutations (default 0)")
    parser.add_argument("--timeout", type=float, default=20.0,
                        help="wall seconds per input before it counts as a hang (default 20)")
    parser.add_argument("--budget", type=float, default=Budget.seconds,
                        help="CPU seconds an input may take; more is over-budget "
                             f"(default {Budget.seconds:g})")
    parser.add_argument("--memory-budget-mb", type=float, default=Budget.memory_mb,
                        help="peak memory (MiB) an input may add; more is over-budget "
                             f"(default {Budget.memory_mb:g}: what a program the loader "
                             "admits on chip 'small' may hold)")
    parser.add_argument("--max-memory-gb", type=float, default=6.0,
                        help="address-space limit of this process (a mutated size that asks "
                             "for more ends in MemoryError, over-budget, not in the OOM "
                             "killer; default 6)")
    parser.add_argument("--objdump-every", type=int, default=10,
                        help="also decode every Nth binary as tidal-objdump does (0: never)")
    parser.add_argument("--out", default="out/fuzz",
                        help="directory for the failing inputs (default out/fuzz)")
    args = parser.parse_args(argv)
    budget = Budget(args.budget, args.memory_budget_mb)
    limit = int(args.max_memory_gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
    bad = 0
    if args.binaries:
        start = time.perf_counter()
        seeds = binary_seeds()
        print("binary seeds: " + ", ".join(f"{s.name} ({len(s.data)} bytes)" for s in seeds))
        tally = fuzz_binaries(args.binaries, args.seed, args.timeout, args.objdump_every,
                              Path(args.out), seeds, progress=True, budget=budget)
        report(f"binaries (seed {args.seed})", tally, time.perf_counter() - start)
        bad += tally.bad
    if args.ir:
        start = time.perf_counter()
        seeds_ir = ir_seeds()
        print(f"IR seeds: {len(seeds_ir)} chunks")
        tally = fuzz_ir(args.ir, args.seed, args.timeout, Path(args.out), seeds_ir,
                        progress=True, budget=budget)
        report(f"IR (seed {args.seed})", tally, time.perf_counter() - start)
        bad += tally.bad
    return int(bad > 0)


if __name__ == "__main__":
    sys.exit(main())

"""The binary container of the Tidal accelerator and the record helpers: the pure side.

Shared by the encoder (`tidal.targets.binary`) and the hardware model (`tidal.sim`).
Imports nothing but NumPy and the standard library, so a binary can be decoded and run
without the compiler. The instruction set itself (record layout, opcodes, operand
fields, enums) is the datasheet in `tidal.sim.spec`; the names below are its aliases
for the code that reads records::

    rec = make_record(Opcode.ACT, Engine.ACT, dst=..., src=..., func=ActFunc.RELU)
    OPERANDS[Opcode.ACT]["func"]  # 33, the word of the func field
"""

from __future__ import annotations

import enum
import json
import math
import os
import stat
import struct
import zlib
from dataclasses import dataclass, field
from collections.abc import Iterator, Mapping, Sequence
from typing import BinaryIO

import numpy as np
from tidal.sim import spec
from tidal.sim.spec import *
from tidal.sim.spec.lut import LUT_COLUMNS, LUT_SPECS, build_table

# The datasheet's names, and the container's own.
__all__: list[str] = [
    "ACCESS_FIELDS",
    "OPERANDS",
    "Access",
    "BinaryFormatError",
    "Program",
    "SectionKind",
    "access_of",
    "decode_container",
    "encode_container",
    "lut_tables",
    "make_record",
    "write_container",
]
__all__ += spec.__all__

# Word index of each operand field, per opcode (a scalar's parts as `<name>_<part>`).
OPERANDS: dict[Opcode, dict[str, int]] = {op: e.layout for op, e in INSTRUCTIONS.items()}
# The names of access fields, over every opcode.
ACCESS_FIELDS = frozenset(f.name for e in INSTRUCTIONS.values() for f in e.accesses)


@dataclass(frozen=True)
class Access:
    """A decoded memory operand (see the module docstring)."""

    space: Space
    pstart: int
    offset: int  # bytes
    dims: tuple[tuple[int, int], ...]  # (stride, count) in elements; dims[0] = partition

    @property
    def pcount(self) -> int:
        return self.dims[0][1]

    @property
    def free_shape(self) -> tuple[int, ...]:
        return tuple(c for _, c in self.dims[1:])

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(c for _, c in self.dims)

    @property
    def num_elements(self) -> int:
        return math.prod(self.shape)

    def words(self) -> list[int]:
        dims = list(self.dims) + [(0, 1)] * (ACCESS_DIMS - len(self.dims))
        out = [Space(self.space).code, self.pstart, self.offset]
        for s, c in dims:
            out += [s, c]
        return out

    @staticmethod
    def from_words(w: np.ndarray | list[int]) -> Access:
        dims = [(int(w[3 + 2 * i]), int(w[4 + 2 * i])) for i in range(ACCESS_DIMS)]
        while len(dims) > 1 and dims[-1] == (0, 1):
            dims.pop()
        return Access(Space.from_code(int(w[0])), int(w[1]), int(w[2]), tuple(dims))


def access_of(record: np.ndarray, name: str) -> Access:
    op = Opcode(int(record[W_OPCODE]))
    i = OPERANDS[op][name]
    return Access.from_words(record[i : i + ACCESS_WORDS])


# ---------------------------------------------------------------------------
# Container
# ---------------------------------------------------------------------------

MAGIC = b"TIDALBIN"
VERSION = 3  # 3: the folded wait in header words 5 and 6
CHIP_NAME_BYTES = 32
# magic, version, chip name, section count, payload crc32, payload bytes
HEADER = struct.Struct(f"<8sI{CHIP_NAME_BYTES}sIIQ")
SECTION = struct.Struct("<IIQQ")  # kind, arg, offset (from file start), size


class SectionKind(enum.IntEnum):
    STREAM = 1  # arg = engine; payload = n records
    CONST = 2  # payload = repeated (dram addr u64, nbytes u64, bytes padded to 8)
    IO = 3  # JSON: {"inputs": [...], "outputs": [...]} with name, addr, shape, dtype
    DEBUG = 4  # JSON list of strings, indexed by an instruction's debug id
    META = 5  # JSON: dram_bytes, semaphores, program name, ...
    LUT = 6  # repeated: func code u32, rows u32, lo f32, hi f32, rows x 5 f32


# A LUT table's header: the ActFunc code, its row count, its range [lo, hi).
LUT_HEADER = struct.Struct("<IIff")


# META "model": the model's work counted on its graph (see docs/binary-format.md),
# from which the stats give the ideal roofline.
MODEL_KEYS = ("macs", "weight_bytes", "input_bytes", "output_bytes")


class BinaryFormatError(ValueError):
    """A binary that cannot be loaded; the message names the byte offset."""


@dataclass
class Program:
    """A decoded binary: everything the hardware model needs, nothing of the compiler."""

    chip: str
    streams: dict[int, np.ndarray]  # engine -> (n, RECORD_WORDS) int32
    consts: list[tuple[int, np.ndarray]]  # (dram byte address, uint8 data)
    inputs: list[dict[str, object]]
    outputs: list[dict[str, object]]
    debug: list[str] = field(default_factory=list)
    meta: dict[str, object] = field(default_factory=dict)
    # ACT lookup tables, by ActFunc code: (lo, hi, rows (n, 5) float32); see
    # tidal.sim.spec.lut. The loader checks them against the chip.
    luts: dict[int, tuple[float, float, np.ndarray]] = field(default_factory=dict)


def _bytes_of(array: np.ndarray) -> memoryview:
    """The bytes of `array` in memory order, a view when it is contiguous."""
    return memoryview(np.ascontiguousarray(array).reshape(-1).view(np.uint8))


def container_parts(program: Program) -> list[bytes | memoryview]:
    """The binary as a list of byte strings to write in order: the header, the
    section table, then each section's pieces and padding. Constants and records are
    views of the program's arrays, not copies, so a writer never holds the file
    whole (a model's weights are most of it)."""
    sections: list[tuple[int, int, list[bytes | memoryview]]] = []
    for engine in sorted(program.streams):
        recs = np.ascontiguousarray(program.streams[engine], dtype="<i4")
        assert recs.ndim == 2 and recs.shape[1] == RECORD_WORDS
        sections.append((SectionKind.STREAM, engine, [_bytes_of(recs)]))
    consts: list[bytes | memoryview] = []
    for addr, data in program.consts:
        raw = _bytes_of(data)
        consts += [struct.pack("<QQ", addr, raw.nbytes), raw, b"\0" * (-raw.nbytes % 8)]
    sections.append((SectionKind.CONST, 0, consts))
    io = {"inputs": program.inputs, "outputs": program.outputs}
    sections.append((SectionKind.IO, 0, [json.dumps(io).encode()]))
    sections.append((SectionKind.DEBUG, 0, [json.dumps(program.debug).encode()]))
    sections.append((SectionKind.META, 0, [json.dumps(program.meta).encode()]))
    if program.luts:  # a program without table functions has no LUT section
        luts: list[bytes | memoryview] = []
        for code in sorted(program.luts):
            lo, hi, rows = program.luts[code]
            rows = np.ascontiguousarray(rows, dtype="<f4")
            assert rows.ndim == 2 and rows.shape[1] == LUT_COLUMNS
            luts += [LUT_HEADER.pack(code, rows.shape[0], lo, hi), _bytes_of(rows)]
        sections.append((SectionKind.LUT, 0, luts))

    offset = HEADER.size + SECTION.size * len(sections)
    table = bytearray()
    payload: list[bytes | memoryview] = []
    for kind, arg, pieces in sections:
        size = sum(memoryview(p).nbytes for p in pieces)
        table += SECTION.pack(kind, arg, offset, size)
        payload += [*pieces, b"\0" * (-size % 8)]
        offset += size + (-size % 8)
    body = [bytes(table), *payload]
    crc = 0
    for piece in body:
        crc = zlib.crc32(piece, crc)
    body_len = offset - HEADER.size
    chip = program.chip.encode()
    assert len(chip) <= CHIP_NAME_BYTES
    return [HEADER.pack(MAGIC, VERSION, chip, len(sections), crc, body_len), *body]


_ACT_FUNC_WORD = INSTRUCTIONS[Opcode.ACT].layout["func"]


def lut_tables(
    streams: Mapping[int, np.ndarray], intervals: int
) -> dict[int, tuple[float, float, np.ndarray]]:
    """The LUT section a program with these streams needs on a chip of `intervals`
    table rows: a table for every function its ACT instructions evaluate from one
    (`tidal.sim.spec.lut`), none for the others (relu, identity)."""
    records = streams.get(Engine.ACT)
    if records is None:
        return {}
    act = records[records[:, W_OPCODE] == Opcode.ACT]
    out: dict[int, tuple[float, float, np.ndarray]] = {}
    for code in sorted(set(act[:, _ACT_FUNC_WORD].tolist())):
        func = ActFunc.from_code(code)
        if func in LUT_SPECS:
            table = build_table(func, intervals)
            out[code] = (table.lo, table.hi, table.rows)
    return out


def write_container(program: Program, f: BinaryIO) -> int:
    """Write the binary of `program` to the file object `f` piece by piece (no copy
    of the whole file in memory); returns the number of bytes written. The bytes
    are exactly `encode_container(program)`."""
    written = 0
    for piece in container_parts(program):
        view = memoryview(piece).cast("B")
        written += view.nbytes
        while view.nbytes:  # a raw (unbuffered) file may take part of a piece
            view = view[f.write(view) :]
    return written


def encode_container(program: Program) -> bytes:
    """The binary of `program` as one bytes object (see `write_container`)."""
    return b"".join(container_parts(program))


def read_container(f: BinaryIO) -> bytes:
    """A binary's bytes from `f`, read as far as its header allows: a file whose first
    bytes are not a Tidal binary's header, or whose size is not the one the header
    states, is refused (BinaryFormatError) before its body is read; what is read is
    then for `decode_container`."""
    head = f.read(HEADER.size)
    if len(head) < HEADER.size:
        return head  # (decode_container: a truncated header)
    magic, _, _, _, _, body_len = HEADER.unpack(head)
    if magic != MAGIC:
        raise BinaryFormatError(f"offset 0: bad magic {magic!r} (not a Tidal binary)")
    try:
        st = os.fstat(f.fileno())
        size = st.st_size if stat.S_ISREG(st.st_mode) else None
    except (OSError, AttributeError, ValueError):  # (not a file: a stream in memory)
        size = None
    if size is not None and size - HEADER.size != body_len:
        raise BinaryFormatError(
            f"offset {HEADER.size}: truncated or padded body "
            f"({size - HEADER.size} bytes, header says {body_len})"
        )
    return head + f.read(body_len + 1)  # (one more: a padded stream is refused too)


def decode_container(data: bytes) -> Program:
    """Parse and validate a binary; raises BinaryFormatError naming the byte offset."""
    if len(data) < HEADER.size:
        raise BinaryFormatError(
            f"offset 0: truncated header ({len(data)} bytes, need {HEADER.size})"
        )
    magic, version, chip_raw, nsec, crc, body_len = HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        raise BinaryFormatError(f"offset 0: bad magic {magic!r} (not a Tidal binary)")
    if version != VERSION:
        raise BinaryFormatError(
            f"offset 8: unsupported version {version} (this build reads {VERSION})"
        )
    body = data[HEADER.size :]
    if len(body) != body_len:
        raise BinaryFormatError(
            f"offset {HEADER.size}: truncated or padded body "
            f"({len(body)} bytes, header says {body_len})"
        )
    if zlib.crc32(body) != crc:
        raise BinaryFormatError(f"offset {HEADER.size}: checksum mismatch (corrupt file)")
    name, _, padding = chip_raw.partition(b"\0")
    if padding.strip(b"\0") or not name.isascii() or not name.decode().isprintable():
        raise BinaryFormatError(
            f"offset 12: the chip name field {chip_raw.rstrip(bytes(1))!r} is not a printable "
            "ASCII name padded with NUL bytes (corrupt file)"
        )
    chip = name.decode()
    program = Program(chip=chip, streams={}, consts=[], inputs=[], outputs=[])
    seen: set[tuple[int, int]] = set()
    for i in range(nsec):
        at = HEADER.size + i * SECTION.size
        if at + SECTION.size > len(data):
            raise BinaryFormatError(f"offset {at}: section table runs past end of file")
        kind, arg, off, size = SECTION.unpack_from(data, at)
        # one STREAM per engine and one IO, DEBUG and META section (a second would
        # silently replace the first); CONST and LUT sections add up
        once = (kind, arg if kind == SectionKind.STREAM else 0)
        if kind in (SectionKind.STREAM, SectionKind.IO, SectionKind.DEBUG, SectionKind.META):
            if once in seen:
                what = f"STREAM for engine {arg}" if kind == SectionKind.STREAM else SectionKind(kind).name
                raise BinaryFormatError(f"offset {at}: section {i} is a second {what} section")
            seen.add(once)
        if off + size > len(data) or off < HEADER.size:
            raise BinaryFormatError(
                f"offset {at}: section {i} [{off}, {off + size}) outside the file"
            )
        chunk = data[off : off + size]
        try:
            _read_section(program, SectionKind(kind), arg, chunk, off)
        except BinaryFormatError:
            raise
        except RecursionError:
            raise BinaryFormatError(f"offset {off}: section {i} JSON nested too deep") from None
        except (ValueError, KeyError, UnicodeDecodeError, struct.error) as e:
            raise BinaryFormatError(f"offset {off}: bad section {i} ({e})") from None
    return program


def _read_section(program: Program, kind: SectionKind, arg: int, chunk: bytes, off: int) -> None:
    if kind is SectionKind.STREAM:
        if len(chunk) % RECORD_BYTES:
            raise BinaryFormatError(
                f"offset {off}: stream size {len(chunk)} is not a multiple of {RECORD_BYTES}"
            )
        recs = np.frombuffer(chunk, dtype="<i4").reshape(-1, RECORD_WORDS)
        program.streams[arg] = recs.astype(np.int32)
    elif kind is SectionKind.CONST:
        pos = 0
        while pos < len(chunk):
            addr, n = struct.unpack_from("<QQ", chunk, pos)
            pos += 16
            if pos + n > len(chunk):
                raise BinaryFormatError(f"offset {off + pos}: constant runs past its section")
            program.consts.append((addr, np.frombuffer(chunk, np.uint8, n, pos).copy()))
            pos += n + (-n % 8)
    elif kind is SectionKind.IO:
        io = json.loads(chunk)
        if not isinstance(io, dict) or set(io) != {"inputs", "outputs"}:
            raise BinaryFormatError(
                f"offset {off}: IO section is not an object of 'inputs' and 'outputs'"
            )
        program.inputs = _io_table(io["inputs"], "inputs", off)
        program.outputs = _io_table(io["outputs"], "outputs", off)
    elif kind is SectionKind.DEBUG:
        debug = json.loads(chunk)
        if not isinstance(debug, list) or not all(isinstance(s, str) for s in debug):
            raise BinaryFormatError(f"offset {off}: DEBUG section is not a list of strings")
        program.debug = debug
    elif kind is SectionKind.LUT:
        pos = 0
        while pos < len(chunk):
            if pos + LUT_HEADER.size > len(chunk):
                raise BinaryFormatError(f"offset {off + pos}: truncated LUT table header")
            code, n, lo, hi = LUT_HEADER.unpack_from(chunk, pos)
            pos += LUT_HEADER.size
            size = n * LUT_COLUMNS * 4
            if pos + size > len(chunk):
                raise BinaryFormatError(f"offset {off + pos}: LUT table runs past its section")
            if code in program.luts:
                raise BinaryFormatError(f"offset {off + pos}: a second LUT table for function {code}")
            rows = np.frombuffer(chunk, "<f4", n * LUT_COLUMNS, pos).reshape(n, LUT_COLUMNS)
            program.luts[code] = (lo, hi, rows.astype(np.float32))
            pos += size
    elif kind is SectionKind.META:
        meta = json.loads(chunk)
        if not isinstance(meta, dict):
            raise BinaryFormatError(f"offset {off}: META section is not an object")
        size = meta.get("dram_bytes")
        if not isinstance(size, int) or isinstance(size, bool) or not 0 < size < 2**63:
            raise BinaryFormatError(
                f"offset {off}: META 'dram_bytes' must be a positive integer, got {size!r}"
            )
        model = meta.get("model")
        if model is not None and not (
            isinstance(model, dict)
            and set(model) == set(MODEL_KEYS)
            and all(
                isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**63
                for v in model.values()
            )
        ):
            raise BinaryFormatError(
                f"offset {off}: META 'model' must be an object of non-negative integers "
                f"{', '.join(MODEL_KEYS)}, got {model!r}"
            )
        _check_unread_inputs(meta.get("unread_inputs"), off)
        program.meta = meta


def _io_table(table: object, what: str, off: int) -> list[dict[str, object]]:
    """The IO section's `what` list, each entry checked for form: a string name, an
    integer address, a shape of non-negative integers and a dtype string (whether
    they fit the program's DRAM is the loader's check)."""
    for bad, entry in _objects(table, f"offset {off}: IO '{what}'"):
        name, addr, shape, dtype = (entry.get(k) for k in ("name", "addr", "shape", "dtype"))
        _check_name(name, bad)
        if not isinstance(addr, int) or isinstance(addr, bool) or not 0 <= addr < 2**63:
            raise BinaryFormatError(f"{bad} ('{name}') has no address in [0, 2^63)")
        _check_shape(shape, f"{bad} ('{name}')")
        if not isinstance(dtype, str):
            raise BinaryFormatError(f"{bad} ('{name}') has no string 'dtype'")
    return table


IO_NAME_MAX = 4096
"""The most characters of an input's or output's name (the importer's limit: the
names key the arrays of an .npz, whose member names hold at most 65,535 bytes)."""


def io_name_problem(name: str) -> str | None:
    """Why `name` cannot name an input or output, or None: more than IO_NAME_MAX
    characters, or a control character (NumPy cuts an .npz key at a NUL)."""
    if len(name) > IO_NAME_MAX:
        return f"a name of {len(name)} characters (at most {IO_NAME_MAX}: names key .npz files)"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return f"a control character in its name {name!r:.60} (names key .npz files)"
    return None


def _check_name(name: object, what: str) -> None:
    """An IO name: a string that `io_name_problem` accepts."""
    if not isinstance(name, str):
        raise BinaryFormatError(f"{what} has no string 'name'")
    if (why := io_name_problem(name)) is not None:
        raise BinaryFormatError(f"{what} has a name that no .npz can key: {why}")


def _objects(entries: object, what: str) -> Iterator[tuple[str, dict[str, object]]]:
    """Each entry of the JSON list `entries` (`what` names the list) with the prefix
    of its errors; BinaryFormatError unless it is a list of objects."""
    if not isinstance(entries, list):
        raise BinaryFormatError(f"{what} is not a list")
    for i, entry in enumerate(entries):
        bad = f"{what} entry {i}"
        if not isinstance(entry, dict):
            raise BinaryFormatError(f"{bad} is not an object")
        yield bad, entry


def const_overlap(spans: Sequence[tuple[str, int, int, bool]]) -> str | None:
    """Why DRAM spans (what, lo, hi, is a constant) overlap where one of the two is a
    constant, or None. Callers pass the constants and the inputs: a constant under
    an input would be overwritten by it, one under another constant is ambiguous;
    inputs may share bytes, and an output may be a constant's bytes (a model that
    returns a constant), which the run only reads."""
    top: tuple[str, int, int, bool] | None = None  # the span reaching highest so far
    for span in sorted(spans, key=lambda s: s[1]):
        what, lo, hi, const = span
        if hi <= lo:
            continue
        if top is not None and lo < top[2] and (const or top[3]):
            return f"{what} at DRAM bytes [{lo}, {hi}) overlaps {top[0]} at [{top[1]}, {top[2]})"
        if top is None or hi > top[2]:
            top = span
    return None


def _check_shape(shape: object, what: str) -> None:
    """A shape in JSON: a list of integers in [0, 2^31)."""
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 2**31 for d in shape
    ):
        raise BinaryFormatError(f"{what} has a bad 'shape' {shape!r}"[:200])


def _check_unread_inputs(entries: object, off: int) -> None:
    """META's "unread_inputs" (absent, or a list of {name, dtype, shape}: the model's
    inputs the program does not take, which a caller may feed and the machine
    ignores), checked for form: a string name, a NumPy dtype name and a shape of
    non-negative integers."""
    if entries is None:
        return
    for bad, entry in _objects(entries, f"offset {off}: META 'unread_inputs'"):
        name, dtype, shape = (entry.get(k) for k in ("name", "dtype", "shape"))
        _check_name(name, bad)
        if dtype not in UNREAD_DTYPES:
            raise BinaryFormatError(
                f"{bad} ('{name}') has dtype {dtype!r}"[:200] + f" (one of: {', '.join(sorted(UNREAD_DTYPES))})"
            )
        _check_shape(shape, f"{bad} ('{name}')")


UNREAD_DTYPES = frozenset(
    {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
     "float16", "float64", "str", "other"}
)
"""The element types an input the program does not read may have (META
"unread_inputs"): the NumPy names of ONNX's non-float32 tensor types that an .npz
holds; an input of another type (bfloat16, a sequence) is named "other", which any
array matches."""


def make_record(
    opcode: Opcode,
    engine: int,
    *,
    signal: int = -1,
    debug: int = -1,
    flags: int = 0,
    wait: tuple[int, int] | None = None,
    **operands: Access | float,
) -> np.ndarray:
    """One instruction record. Access fields take an Access, enum fields a member (or
    its code), fp32 immediates a float (stored as bits), the rest ints; unknown field
    names are an error. A scalar field given no part is its default immediate.
    `wait=(sem, value)`: the instruction issues once semaphore `sem` >= `value`."""
    rec = np.zeros(RECORD_WORDS, dtype=np.int32)
    rec[W_OPCODE], rec[W_ENGINE], rec[W_FLAGS] = int(opcode), engine, flags
    rec[W_SIGNAL], rec[W_DEBUG] = signal, debug
    rec[W_WAIT_SEM], rec[W_WAIT_VALUE] = wait if wait is not None else (-1, 0)
    layout = OPERANDS[opcode]
    for f in INSTRUCTIONS[opcode].fields:
        if f.kind is Kind.SCALAR and not any(k.startswith(f"{f.name}_") for k in operands):
            rec[layout[f"{f.name}_mode"]] = ScalarMode.IMM.code
            rec[layout[f"{f.name}_imm"]] = f32_bits(f.default)
    for name, value in operands.items():
        if name not in layout:
            raise KeyError(f"{opcode.name} has no operand '{name}'")
        i = layout[name]
        if isinstance(value, Access):
            rec[i : i + ACCESS_WORDS] = value.words()
        elif isinstance(value, Coded):
            rec[i] = value.code
        elif isinstance(value, float):
            rec[i] = f32_bits(value)
        else:
            rec[i] = int(value)
    return rec

"""The binary target: accel IR <-> `.tbin` container (see docs/binary-format.md).

`encode(module) -> bytes` takes a module holding one split accel.program (one
accel.stream per engine, see accel-split-streams), checks every instruction against
the limits of the chip preset the program names, expands each accel.repeat with NumPy
and writes the container of `tidal.sim.isa`. `encode_to(module, f)` writes the same
bytes to a file object piece by piece, never holding the file whole (a model's
weights are most of it, and the constants are views of the IR's bytes);
`to_program(module)` is the checked, expanded program before it is written.
`decode(bytes) -> ModuleOp` gives back an accel.program with flat (expanded)
streams, constant addresses and the origins from the debug table, so
`decode(encode(m))` is what the hardware runs, in IR.

Both directions read the instruction set from the datasheet (`tidal.sim.spec`): an
instruction's operand fields, in record order, with their kinds, become the words of
its record (an access's space, partition start, offset and dims; an enum member's
code; an fp32 immediate's bits) and come back as the accel op's properties of the
same names; nothing here is written per opcode but MATMUL's start flag and shape
limits.

Expansion never loops over instances in Python: each instruction becomes a template
record plus, per enclosing repeat level, an array of word increments (the affine steps
of its access starts/offsets and of WAIT values); a repeat of count c turns its body's
(n, words) template into (c * n, words) with one broadcast add, level by level outward.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from math import prod
from typing import IO, BinaryIO, ClassVar

import numpy as np
from tidal.dialects.accel import (
    Accel,
    AccessAttr,
    Aff,
    AffAttr,
    ConstOp,
    HaltOp,
    InstructionOp,
    IoOp,
    MatmulOp,
    ProgramOp,
    RepeatOp,
    StreamOp,
)
from tidal.sim import isa
from tidal.sim.config import ChipConfig, UnknownChipError, get_chip
from tidal.sim.errors import LoadError
from tidal.sim.spec import (
    INSTRUCTIONS,
    SCALAR_PARTS,
    Engine,
    EngineKind,
    Field,
    Instr,
    Kind,
    Opcode,
    ScalarMode,
    Space,
    by_mnemonic,
    engine_from_name,
    engine_name,
    f32_bits,
)
from tidal.targets import CONSTANT_INPUTS_ATTR, UNREAD_INPUTS_ATTR
from xdsl.context import Context
from xdsl.dialects.builtin import (
    ArrayAttr,
    DictionaryAttr,
    Float32Type,
    IntegerAttr,
    ModuleOp,
    StringAttr,
    TensorType,
)
from xdsl.ir import Operation
from xdsl.printer import Printer
from xdsl.utils.exceptions import DiagnosticException
from xdsl.utils.target import Target

# A module attribute: the model's work counted on the graph as imported (a dictionary
# of integers: macs, weight_bytes, input_bytes, output_bytes; see
# passes/analysis/model_work.py), attached by tidal-compile and tidal-run before the
# passes. The encoder copies it into META as "model", from which the simulator's
# stats give the model's ideal roofline.
MODEL_WORK_ATTR = "tidal.model_work"

W = isa.RECORD_WORDS
_INT32 = (-(2**31), 2**31 - 1)


class EncodeError(ValueError):
    """A program that cannot be encoded for its chip; the message names the
    instruction (its origin) and the limit it breaks."""


# ---------------------------------------------------------------------------
# Encoding one instruction: a template record and its affine words
# ---------------------------------------------------------------------------


def _who(op: InstructionOp) -> str:
    origin = f"'{op.origin.data}' " if op.origin is not None else ""
    return f"instruction {origin}({op.name})"


def _access(ap: AccessAttr) -> isa.Access:
    return isa.Access(Space(ap.space), ap.pstart.base, ap.offset.base, ap.dims)


@dataclass
class _Template:
    """One instruction as a record (repeat indices at 0) and its affine words."""

    record: np.ndarray
    affine: list[tuple[int, Aff]] = field(default_factory=list)
    zero_at: int = -1  # pending MATMUL zero_at repeat level, -1 for none


def _entry(op: InstructionOp) -> Instr:
    try:
        return by_mnemonic(op.name)
    except KeyError:
        raise EncodeError(f"{_who(op)}: no encoding for {op.name}") from None


def _f32(op: InstructionOp, f: Field) -> float:
    """An fp32 immediate property, or the field's default where the op omits it."""
    attr = getattr(op, f.ir_name)
    return float(f.default if attr is None else attr.value.data)


@dataclass(frozen=True)
class _Plan:
    """How one opcode's record is filled, worked out once per opcode from its
    datasheet entry: each field with its word index (a scalar's five parts'
    indices), and the properties that name semaphores."""

    entry: Instr
    fields: tuple[tuple[Field, int, tuple[int, ...]], ...]
    semaphores: tuple[str, ...]


_PLANS: dict[str, _Plan] = {}


def _plan(op: InstructionOp) -> _Plan:
    plan = _PLANS.get(op.name)
    if plan is None:
        entry = _entry(op)
        lay = entry.layout
        fields = tuple(
            (
                f,
                lay.get(f.name, -1),
                tuple(lay[f"{f.name}_{part}"] for part in SCALAR_PARTS)
                if f.kind is Kind.SCALAR
                else (),
            )
            for f in entry.fields
        )
        sems = tuple(f.ir_name for f in entry.fields if f.kind is Kind.SEMAPHORE)
        plan = _PLANS[op.name] = _Plan(entry, fields, sems)
    return plan


def _template(op: InstructionOp, chip: ChipConfig, debug: int) -> _Template:
    plan = _plan(op)
    entry = plan.entry
    _check_limits(op, plan, chip)
    engine = engine_from_name(op.engine_name())
    signal = -1 if op.signal is None else op.signal.value.data
    flags = isa.FLAG_SIGNAL if signal >= 0 else 0
    t = _Template(np.zeros(0))
    affine = t.affine
    # The words of isa.make_record, written in the same order (an int that does not
    # fit raises the same OverflowError at the same field).
    rec = np.zeros(W, dtype=np.int32)
    rec[isa.W_OPCODE], rec[isa.W_ENGINE] = int(entry.opcode), engine
    rec[isa.W_SIGNAL], rec[isa.W_DEBUG] = signal, debug
    rec[isa.W_WAIT_SEM] = -1
    if op.wait_sem is not None and op.wait_value is not None:
        rec[isa.W_WAIT_SEM] = op.wait_sem.value.data
        rec[isa.W_WAIT_VALUE] = op.wait_value.data.base
        affine.append((isa.W_WAIT_VALUE, op.wait_value.data))
    for f, word, parts in plan.fields:
        kind = f.kind
        if kind is Kind.SCALAR:
            col = getattr(op, f"{f.ir_name}_col")
            mode, imm, space, pstart, offset = parts
            if col is None:
                rec[mode] = ScalarMode.IMM.code
                rec[imm] = f32_bits(_f32(op, f))
                continue
            rec[mode] = ScalarMode.COLUMN.code
            rec[space] = col.space.code
            rec[pstart] = col.pstart.base
            rec[offset] = col.offset.base
            affine += [(pstart, col.pstart), (offset, col.offset)]
            continue
        if kind is Kind.F32:
            rec[word] = f32_bits(_f32(op, f))
            continue
        attr = getattr(op, f.ir_name)
        if kind is Kind.ACCESS:
            rec[word : word + isa.ACCESS_WORDS] = _access(attr).words()
            affine += [(word + 1, attr.pstart), (word + 2, attr.offset)]
        elif kind is Kind.ENUM:
            assert f.enum is not None
            rec[word] = f.enum(attr.data).code
        elif isinstance(attr, AffAttr):  # an int that steps with the repeats
            rec[word] = attr.data.base
            affine.append((word, attr.data))
        else:
            rec[word] = int(attr.value.data)
    if isinstance(op, MatmulOp) and op.zero_at_level is not None:
        flags |= isa.FLAG_START
        t.zero_at = op.zero_at_level
    rec[isa.W_FLAGS] = flags
    t.record = rec
    return t


def _check_limits(op: InstructionOp, plan: _Plan, chip: ChipConfig) -> None:
    """Static per-instruction limits of the chip (addresses are checked per instance
    after expansion)."""

    def need(ok: bool, what: str) -> None:
        if not ok:
            raise EncodeError(f"{_who(op)} on chip '{chip.name}': {what}")

    entry = plan.entry
    nsem = chip.num_semaphores
    for attr in (op.signal, op.wait_sem):
        if attr is not None:
            sem = attr.value.data
            need(sem < nsem, f"semaphore {sem} >= num_semaphores {nsem}")
    for name in plan.semaphores:
        sem = getattr(op, name).value.data
        need(sem < nsem, f"semaphore {sem} >= num_semaphores {nsem}")
    name = op.engine_name()
    need(
        engine_from_name(name) < Engine.DMA0 + chip.dma_queues,
        f"engine {name}: only {chip.dma_queues} dma queues",
    )
    if entry.lanes is not None:
        attr, acc = entry.lanes
        p, lanes = getattr(op, acc).pcount, getattr(chip, attr)
        need(p <= lanes, f"{op.name} on {p} partitions exceeds {attr} {lanes}")
    if isinstance(op, MatmulOp):
        k, m, n = op.moving.pcount, op.dst.pcount, op.moving.free_elements
        need(k <= chip.pe_rows, f"matmul K = {k} exceeds pe_rows {chip.pe_rows}")
        need(m <= chip.pe_cols, f"matmul M = {m} exceeds pe_cols {chip.pe_cols}")
        need(
            n <= chip.matmul_moving_max,
            f"matmul N = {n} exceeds matmul_moving_max {chip.matmul_moving_max}",
        )


# ---------------------------------------------------------------------------
# Repeat expansion
# ---------------------------------------------------------------------------


@dataclass
class _Code:
    """Records of a block at repeat depth L: values with the L outer indices at 0,
    `steps[k]` the increment per unit of outer index k, `zero_at` the MATMUL start
    level still to resolve (< L) or -1."""

    records: np.ndarray  # (n, W) int64
    steps: np.ndarray  # (L, n, W) int64
    zero_at: np.ndarray  # (n,) int64


@dataclass
class _Encoder:
    chip: ChipConfig
    debug: dict[str, int] = field(default_factory=dict)

    def debug_id(self, op: InstructionOp) -> int:
        if op.origin is None:
            return -1
        return self.debug.setdefault(op.origin.data, len(self.debug))

    def block(self, ops: Iterable[Operation], level: int) -> _Code:
        parts = [
            self.repeat(op, level) if isinstance(op, RepeatOp) else self.one(op, level)
            for op in ops
        ]
        if not parts:
            return _Code(
                np.zeros((0, W), np.int64), np.zeros((level, 0, W), np.int64), np.zeros(0, np.int64)
            )
        return _Code(
            np.concatenate([p.records for p in parts]),
            np.concatenate([p.steps for p in parts], axis=1),
            np.concatenate([p.zero_at for p in parts]),
        )

    def one(self, op: Operation, level: int) -> _Code:
        if not isinstance(op, InstructionOp):
            raise EncodeError(f"{op.name} cannot appear in an accel.stream")
        try:
            t = _template(op, self.chip, self.debug_id(op))
        except OverflowError as e:  # a record field is a 32-bit word
            raise EncodeError(f"{_who(op)}: a field does not fit in 32 bits ({e})") from None
        steps = np.zeros((level, 1, W), np.int64)
        for word, aff in t.affine:
            if aff.depth > level:
                raise EncodeError(f"{_who(op)}: uses i{aff.depth - 1} at repeat depth {level}")
            steps[: aff.depth, 0, word] = aff.steps
        return _Code(t.record.astype(np.int64)[None], steps, np.array([t.zero_at], np.int64))

    def repeat(self, op: RepeatOp, level: int) -> _Code:
        body = self.block(op.body.block.ops, level + 1)
        count, n = op.count, len(body.records)
        j = np.arange(count, dtype=np.int64)
        records = (body.records[None] + j[:, None, None] * body.steps[level][None]).reshape(-1, W)
        zero_at = np.tile(body.zero_at, count)
        # MATMUL zero_at = level: start (overwrite) only in the instance with i_level = 0.
        hit = zero_at == level
        later = hit & (np.repeat(j, n) > 0)
        records[later, isa.W_FLAGS] &= ~isa.FLAG_START
        zero_at[hit] = -1
        return _Code(records, np.tile(body.steps[:level], (1, count, 1)), zero_at)


# ---------------------------------------------------------------------------
# Per-instance address checks (vectorised over the expanded records)
# ---------------------------------------------------------------------------


def _bounds_error(
    records: np.ndarray, bad: np.ndarray, engine: str, debug: list[str], what: str
) -> EncodeError:
    i = int(np.flatnonzero(bad)[0])
    rec = records[i]
    dbg = int(rec[isa.W_DEBUG])
    origin = f"'{debug[dbg]}' " if 0 <= dbg < len(debug) else ""
    mnemonic = INSTRUCTIONS[Opcode(int(rec[isa.W_OPCODE]))].mnemonic
    return EncodeError(
        f"instruction {origin}({mnemonic}) on stream {engine}, record {i}: {what}"
    )


def _check_bounds(
    records: np.ndarray, engine: str, chip: ChipConfig, dram_bytes: int, debug: list[str]
) -> None:
    limits = {
        Space.SBUF: (chip.sbuf_partitions, chip.sbuf_partition_bytes),
        Space.PSUM: (chip.psum_partitions, chip.psum_partition_bytes),
    }
    opcodes = records[:, isa.W_OPCODE]
    for opcode, entry in INSTRUCTIONS.items():
        recs = records[opcodes == opcode]
        if not len(recs):
            continue
        for access in entry.accesses:
            name, word = access.name, entry.layout[access.name]
            acc = recs[:, word : word + isa.ACCESS_WORDS]
            space, pstart, offset = acc[:, 0], acc[:, 1], acc[:, 2]
            strides, counts = acc[:, 3::2], acc[:, 4::2]
            span = (counts - 1) * strides
            dram = space == Space.DRAM.code
            first = np.where(dram[:, None], 0, 1)  # on chip, dim 0 is the partitions
            mask = np.arange(isa.ACCESS_DIMS)[None] >= first
            lo = offset + isa.ELEM_BYTES * np.where(mask, np.minimum(span, 0), 0).sum(1)
            hi = offset + isa.ELEM_BYTES * (np.where(mask, np.maximum(span, 0), 0).sum(1) + 1)

            def fail(bad: np.ndarray, what: Callable[[int], str], name: str = name) -> None:
                if not bad.any():
                    return
                k = int(np.flatnonzero(bad)[0])
                full = np.zeros(len(records), bool)
                full[np.flatnonzero(opcodes == opcode)[k]] = True
                raise _bounds_error(records, full, engine, debug, f"{name} {what(k)}")

            fail(
                ~np.isin(space, Space.codes()),
                lambda k: f"has unknown memory space {space[k]}",
            )
            fail(
                offset % isa.ELEM_BYTES != 0,
                lambda k: f"byte offset {offset[k]} is not a multiple of {isa.ELEM_BYTES}",
            )
            fail(
                (strides < 0).any(1),
                lambda k: f"has a negative stride in {acc[k, 3::2].tolist()}",
            )
            fail(lo < 0, lambda k: f"starts at byte {lo[k]}, below 0")
            fail(
                dram & (hi > dram_bytes),
                lambda k: f"DRAM bytes [{lo[k]}, {hi[k]}) run past the program's {dram_bytes}",
            )
            for sp, (parts, pbytes) in limits.items():
                on = space == sp.code
                sname = sp.value
                fail(
                    on & ((pstart < 0) | (pstart + counts[:, 0] > parts)),
                    lambda k: f"partitions [{pstart[k]}, {pstart[k] + counts[k, 0]}) "
                    f"exceed the {parts} {sname} partitions",
                )
                fail(
                    on & (hi > pbytes),
                    lambda k: f"bytes [{lo[k]}, {hi[k]}) run past the {pbytes} bytes "
                    f"of an {sname} partition",
                )


# ---------------------------------------------------------------------------
# encode / decode
# ---------------------------------------------------------------------------


def _program(module: ModuleOp) -> ProgramOp:
    programs = [op for op in module.ops if isinstance(op, ProgramOp)]
    if len(programs) != 1:
        raise EncodeError(f"expected one accel.program in the module, found {len(programs)}")
    return programs[0]


def to_program(module: ModuleOp) -> isa.Program:
    """The module's split accel.program, checked against its chip and expanded: the
    container `encode` writes, before it is written. Its constants are views of the
    module's data, not copies (a model's weights are most of a binary). Raises
    EncodeError; writing the result (`isa.write_container`) cannot fail but for I/O."""
    program = _program(module)
    if not program.is_split:
        raise EncodeError("accel.program is not split into streams; run accel-split-streams")
    try:
        chip = get_chip(program.chip.data)
    except UnknownChipError as e:
        raise EncodeError(str(e)) from None
    dram_bytes = program.dram_bytes.value.data
    if dram_bytes > chip.dram_bytes:
        raise EncodeError(
            f"accel.program needs {dram_bytes} DRAM bytes, chip '{chip.name}' has {chip.dram_bytes}"
        )
    if len(program.chip.data.encode()) > isa.CHIP_NAME_BYTES:
        raise EncodeError(f"chip name longer than {isa.CHIP_NAME_BYTES} bytes")

    enc = _Encoder(chip)
    streams: dict[int, np.ndarray] = {}
    for stream in program.streams:
        engine = engine_from_name(stream.engine)
        if engine >= Engine.DMA0 + chip.dma_queues:
            raise EncodeError(
                f"accel.stream {stream.engine}: chip '{chip.name}' has {chip.dma_queues} dma queues"
            )
        if engine in streams:
            raise EncodeError(f"two accel.stream ops for engine {stream.engine}")
        ops = list(stream.body.block.ops)
        # Every stream ends in HALT; a stream that already does (decoded) gets no second.
        if not ops or not isinstance(ops[-1], HaltOp):
            ops.append(HaltOp(stream.engine))
        records = enc.block(ops, 0).records
        if records.size and (records.min() < _INT32[0] or records.max() > _INT32[1]):
            raise EncodeError(f"stream {stream.engine}: a record word overflows int32")
        _check_bounds(records, stream.engine, chip, dram_bytes, list(enc.debug))
        streams[engine] = records.astype(np.int32)

    inputs: list[dict[str, object]] = []
    outputs: list[dict[str, object]] = []
    consts: list[tuple[int, np.ndarray]] = []
    for op in program.body.block.ops:
        if isinstance(op, IoOp):
            shape = list(op.type.get_shape())
            nbytes = isa.ELEM_BYTES * int(np.prod(shape))
            _check_dram(op.addr.value.data, nbytes, dram_bytes, f"io '{op.tensor_name.data}'")
            entry: dict[str, object] = {
                "name": op.tensor_name.data,
                "addr": op.addr.value.data,
                "shape": shape,
                "dtype": "float32",
            }
            (inputs if op.kind.data == "input" else outputs).append(entry)
        elif isinstance(op, ConstOp):
            data = _const_bytes(op)
            _check_dram(op.addr.value.data, data.size, dram_bytes, "const")
            consts.append((op.addr.value.data, data))
    meta: dict[str, object] = {"dram_bytes": dram_bytes, "program": "main"}
    constants = module.attributes.get(CONSTANT_INPUTS_ATTR)
    if isinstance(constants, ArrayAttr):
        meta["constant_inputs"] = [s.data for s in constants.data if isinstance(s, StringAttr)]
    if unread := _unread_inputs(program):
        meta["unread_inputs"] = unread
    work = module.attributes.get(MODEL_WORK_ATTR)
    if isinstance(work, DictionaryAttr):
        meta["model"] = {
            k: v.value.data for k, v in work.data.items() if isinstance(v, IntegerAttr)
        }
    return isa.Program(
        program.chip.data, streams, consts, inputs, outputs, list(enc.debug), meta,
        isa.lut_tables(streams, chip.act_lut_intervals),
    )


def _unread_inputs(program: ProgramOp) -> list[dict[str, object]]:
    """The program's UNREAD_INPUTS_ATTR as the metadata's "unread_inputs" entries."""
    unread = program.attributes.get(UNREAD_INPUTS_ATTR)
    if not isinstance(unread, ArrayAttr):
        return []
    out: list[dict[str, object]] = []
    for entry in unread.data:
        assert isinstance(entry, DictionaryAttr)
        name, dtype, shape = (entry.data[k] for k in ("name", "dtype", "shape"))
        assert isinstance(name, StringAttr) and isinstance(dtype, StringAttr) and isinstance(shape, ArrayAttr)
        out.append(
            {"name": name.data, "dtype": dtype.data, "shape": [d.value.data for d in shape.data]}  # pyright: ignore
        )
    return out


def _unread_attr(entries: object) -> ArrayAttr:
    """The metadata's "unread_inputs" (checked by the container's decoder) as
    UNREAD_INPUTS_ATTR."""
    assert isinstance(entries, list)
    return ArrayAttr(
        [
            DictionaryAttr(
                {
                    "name": StringAttr(e["name"]),
                    "dtype": StringAttr(e["dtype"]),
                    "shape": ArrayAttr([IntegerAttr(d, 64) for d in e["shape"]]),
                }
            )
            for e in entries
        ]
    )


def _const_bytes(op: ConstOp) -> np.ndarray:
    """The constant's fp32 data as a uint8 view of the IR's bytes (no copy), or
    expanded from a splat (`dense<1.0> : tensor<4xf32>`)."""
    raw = op.value.data.data
    shape = op.value.get_shape()
    if len(raw) == isa.ELEM_BYTES * prod(shape):
        return np.frombuffer(raw, np.uint8)
    if len(raw) == isa.ELEM_BYTES:
        return np.full(shape, np.frombuffer(raw, "<f4")[0], "<f4").view(np.uint8).reshape(-1)
    raise EncodeError(f"accel.const at {op.addr.value.data}: {len(raw)} bytes for shape {shape}")


def encode(module: ModuleOp) -> bytes:
    """The `.tbin` container of the module's split accel.program, as bytes."""
    return isa.encode_container(to_program(module))


def encode_to(module: ModuleOp, f: BinaryIO) -> int:
    """Write the `.tbin` container of the module's split accel.program to `f`
    without holding the file in memory; returns its size. The bytes are exactly
    `encode(module)`'s. Every check runs before the first byte is written."""
    return isa.write_container(to_program(module), f)


def _check_dram(addr: int, nbytes: int, dram_bytes: int, what: str) -> None:
    if addr < 0 or addr + nbytes > dram_bytes:
        raise EncodeError(
            f"{what} at [{addr}, {addr + nbytes}) is outside the program's {dram_bytes} DRAM bytes"
        )


def _ap(rec: np.ndarray, word: int) -> AccessAttr:
    a = isa.Access.from_words(rec[word : word + isa.ACCESS_WORDS])
    return AccessAttr.get(a.space, a.pstart, a.offset, a.dims)


_OP_CLASSES: dict[str, type[InstructionOp]] = {
    cls.name: cls for cls in Accel.operations if issubclass(cls, InstructionOp)
}


def _instruction(rec: np.ndarray, debug: list[str]) -> InstructionOp:
    """The accel op of one record: each datasheet field becomes the constructor
    keyword of the same name (`Field.ir_name`)."""
    entry = INSTRUCTIONS[Opcode(int(rec[isa.W_OPCODE]))]
    engine = int(rec[isa.W_ENGINE])
    signal = int(rec[isa.W_SIGNAL])
    dbg = int(rec[isa.W_DEBUG])
    if dbg >= len(debug):
        raise ValueError(f"debug id {dbg} past the {len(debug)}-entry debug table")
    kw: dict[str, object] = {
        "signal": signal if signal >= 0 else None,
        "origin": debug[dbg] if dbg >= 0 else None,
    }
    wait_sem = int(rec[isa.W_WAIT_SEM])
    if entry.engine is None:
        kw["engine"] = engine_name(engine)
    elif entry.engine is EngineKind.DMA:
        kw["queue"] = engine - Engine.DMA0
    lay = entry.layout
    for f in entry.fields:
        if f.kind is Kind.SCALAR:
            mode, imm, space, pstart, offset = (
                int(rec[lay[f"{f.name}_{part}"]]) for part in SCALAR_PARTS
            )
            if ScalarMode.from_code(mode) is ScalarMode.IMM:
                kw[f.ir_name] = isa.bits_f32(imm)
                continue
            parts = int(rec[lay[f.of] + 4])  # the covered access's partition count
            kw[f"{f.ir_name}_col"] = AccessAttr.get(
                Space.from_code(space), pstart, offset, [(1, parts), (1, 1)]
            )
            continue
        value = int(rec[lay[f.name]])
        if f.kind is Kind.ACCESS:
            kw[f.ir_name] = _ap(rec, lay[f.name])
        elif f.kind is Kind.ENUM:
            assert f.enum is not None
            kw[f.ir_name] = f.enum.from_code(value)
        elif f.kind is Kind.F32:
            kw[f.ir_name] = isa.bits_f32(value)
        else:
            kw[f.ir_name] = value
    if entry.opcode is Opcode.MATMUL:
        kw["zero_at"] = -1 if rec[isa.W_FLAGS] & isa.FLAG_START else None
    op = _OP_CLASSES[entry.mnemonic](**kw)
    if wait_sem >= 0:
        op.set_wait(wait_sem, int(rec[isa.W_WAIT_VALUE]))
    return op


def decode(data: bytes) -> ModuleOp:
    """The accel.program of a `.tbin`, streams flat (expanded), HALTs kept. Raises
    isa.BinaryFormatError for a file or record that cannot be read: the container's
    checks, then the hardware model's loader checks every record against the chip
    preset the binary names (what `tidal-sim` would refuse, this refuses too)."""
    from tidal.sim.loader import validate_program  # decoding only: not on encode's path

    prog = isa.decode_container(data)
    try:
        validate_program(prog, get_chip(prog.chip))
    except (LoadError, UnknownChipError) as e:
        raise isa.BinaryFormatError(str(e)) from None
    ops: list[Operation] = []
    for kind, entries in (("input", prog.inputs), ("output", prog.outputs)):
        for e in entries:
            shape = [int(d) for d in e["shape"]]  # pyright: ignore[reportGeneralTypeIssues]
            ops.append(IoOp(kind, str(e["name"]), int(e["addr"]), TensorType(Float32Type(), shape)))  # pyright: ignore[reportArgumentType]
    for addr, raw in prog.consts:
        if raw.size % isa.ELEM_BYTES:
            raise isa.BinaryFormatError(f"constant at DRAM {addr}: {raw.size} bytes is not fp32 data")
        ops.append(ConstOp.from_numpy(addr, raw.view("<f4")))
    for engine in sorted(prog.streams):
        name = engine_name(engine)
        body: list[Operation] = []
        for i, rec in enumerate(prog.streams[engine]):
            try:
                body.append(_instruction(rec, prog.debug))
            except (ValueError, KeyError, IndexError, DiagnosticException) as e:
                raise isa.BinaryFormatError(f"stream {name}, record {i}: {e}") from None
        ops.append(StreamOp(name, body))
    dram_bytes = int(prog.meta.get("dram_bytes", 0))  # pyright: ignore[reportArgumentType]
    program = ProgramOp(prog.chip, dram_bytes, ops)
    if "unread_inputs" in prog.meta:
        program.attributes[UNREAD_INPUTS_ATTR] = _unread_attr(prog.meta["unread_inputs"])
    module = ModuleOp([program])
    try:
        module.verify()
    except DiagnosticException as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise isa.BinaryFormatError(f"decoded program does not verify: {first}") from None
    return module


@dataclass(frozen=True)
class TbinListingTarget(Target):
    """Encodes the module and prints the decoded program (what tidal-objdump shows),
    so lit can check a pipeline down to the binary."""

    name: ClassVar[str] = "tbin-listing"

    def emit(self, ctx: Context, module: ModuleOp, output: IO[str]) -> None:
        Printer(stream=output).print_op(decode(encode(module)))
        output.write("\n")

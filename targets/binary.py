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
from xdsl.context import Context
from xdsl.dialects.builtin import ArrayAttr, Float32Type, ModuleOp, StringAttr, TensorType
from xdsl.ir import Operation
from xdsl.printer import Printer
from xdsl.utils.exceptions import DiagnosticException
from xdsl.utils.target import Target

from tidal.dialects.accel import (
    AccessAttr,
    ActOp,
    Aff,
    ConstOp,
    DmaOp,
    HaltOp,
    InstructionOp,
    IoOp,
    MatmulOp,
    MemsetOp,
    NopOp,
    ProgramOp,
    ReduceOp,
    RepeatOp,
    SignalOp,
    StreamOp,
    TensorTensorOp,
    WaitOp,
)
from tidal.sim import isa
from tidal.sim.config import ChipConfig, UnknownChipError, get_chip
from tidal.sim.errors import LoadError
from tidal.sim.loader import validate_program
from tidal.targets import CONSTANT_INPUTS_ATTR

W = isa.RECORD_WORDS
_SPACE = {"dram": isa.Space.DRAM, "sbuf": isa.Space.SBUF, "psum": isa.Space.PSUM}
_SPACE_NAME = {v: k for k, v in _SPACE.items()}
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
    return isa.Access(_SPACE[ap.space], ap.pstart.base, ap.offset.base, ap.dims)


@dataclass
class _Template:
    """One instruction as a record (repeat indices at 0) and its affine words."""

    record: np.ndarray
    affine: list[tuple[int, Aff]] = field(default_factory=list)
    zero_at: int = -1  # pending MATMUL zero_at repeat level, -1 for none


def _with_accesses(t: _Template, opcode: isa.Opcode, **aps: AccessAttr) -> None:
    for name, ap in aps.items():
        word = isa.OPERANDS[opcode][name]
        t.affine += [(word + 1, ap.pstart), (word + 2, ap.offset)]


def _template(op: InstructionOp, chip: ChipConfig, debug: int) -> _Template:
    _check_limits(op, chip)
    engine = isa.engine_from_name(op.engine_name())
    signal = -1 if op.signal is None else op.signal.value.data
    flags = isa.FLAG_SIGNAL if signal >= 0 else 0
    head = {"signal": signal, "debug": debug}

    if isinstance(op, DmaOp):
        rec = isa.make_record(
            isa.Opcode.DMA, engine, flags=flags, **head, src=_access(op.src), dst=_access(op.dst)
        )
        t = _Template(rec)
        _with_accesses(t, isa.Opcode.DMA, src=op.src, dst=op.dst)
        return t
    if isinstance(op, MatmulOp):
        level = op.zero_at_level
        if level is not None:
            flags |= isa.FLAG_START
        rec = isa.make_record(
            isa.Opcode.MATMUL,
            engine,
            flags=flags,
            **head,
            dst=_access(op.dst),
            stationary=_access(op.stationary),
            moving=_access(op.moving),
        )
        t = _Template(rec, zero_at=-1 if level is None else level)
        _with_accesses(
            t, isa.Opcode.MATMUL, dst=op.dst, stationary=op.stationary, moving=op.moving
        )
        return t
    if isinstance(op, ActOp):
        fields: dict[str, isa.Access | int | float] = {
            "dst": _access(op.dst),
            "src": _access(op.src),
            "func": int(isa.ActFunc[op.func.data.upper()]),
        }
        t = _Template(np.zeros(0))
        for what, imm, col in (
            ("scale", op.scale_value, op.scale_col),
            ("bias", op.bias_value, op.bias_col),
        ):
            if col is None:
                fields[f"{what}_mode"] = int(isa.ScalarMode.IMM)
                fields[f"{what}_imm"] = float(imm)
                continue
            fields[f"{what}_mode"] = int(isa.ScalarMode.COLUMN)
            fields[f"{what}_space"] = int(_SPACE[col.space])
            fields[f"{what}_pstart"] = col.pstart.base
            fields[f"{what}_offset"] = col.offset.base
            layout = isa.OPERANDS[isa.Opcode.ACT]
            t.affine += [
                (layout[f"{what}_pstart"], col.pstart),
                (layout[f"{what}_offset"], col.offset),
            ]
        t.record = isa.make_record(isa.Opcode.ACT, engine, flags=flags, **head, **fields)
        _with_accesses(t, isa.Opcode.ACT, dst=op.dst, src=op.src)
        return t
    if isinstance(op, TensorTensorOp):
        rec = isa.make_record(
            isa.Opcode.TENSOR_TENSOR,
            engine,
            flags=flags,
            **head,
            dst=_access(op.dst),
            a=_access(op.a),
            b=_access(op.b),
            op=int(isa.AluOp[op.op.data.upper()]),
        )
        t = _Template(rec)
        _with_accesses(t, isa.Opcode.TENSOR_TENSOR, dst=op.dst, a=op.a, b=op.b)
        return t
    if isinstance(op, ReduceOp):
        rec = isa.make_record(
            isa.Opcode.REDUCE,
            engine,
            flags=flags,
            **head,
            dst=_access(op.dst),
            src=_access(op.src),
            op=int(isa.AluOp[op.op.data.upper()]),
            nreduce=op.nreduce.value.data,
            scale_imm=float(op.scale_value),
        )
        t = _Template(rec)
        _with_accesses(t, isa.Opcode.REDUCE, dst=op.dst, src=op.src)
        return t
    if isinstance(op, MemsetOp):
        rec = isa.make_record(
            isa.Opcode.MEMSET,
            engine,
            flags=flags,
            **head,
            dst=_access(op.dst),
            value=float(op.value.value.data),
        )
        t = _Template(rec)
        _with_accesses(t, isa.Opcode.MEMSET, dst=op.dst)
        return t
    if isinstance(op, WaitOp):
        value = op.value.data
        rec = isa.make_record(
            isa.Opcode.WAIT, engine, flags=flags, **head, sem=op.sem.value.data, value=value.base
        )
        return _Template(rec, [(isa.OPERANDS[isa.Opcode.WAIT]["value"], value)])
    if isinstance(op, SignalOp):
        rec = isa.make_record(
            isa.Opcode.SIGNAL, engine, flags=flags, **head, sem=op.sem.value.data
        )
        return _Template(rec)
    if isinstance(op, NopOp | HaltOp):
        opcode = isa.Opcode.NOP if isinstance(op, NopOp) else isa.Opcode.HALT
        return _Template(isa.make_record(opcode, engine, flags=flags, **head))
    raise EncodeError(f"{_who(op)}: no encoding for {op.name}")


def _check_limits(op: InstructionOp, chip: ChipConfig) -> None:
    """Static per-instruction limits of the chip (addresses are checked per instance
    after expansion)."""
    where = f"{_who(op)} on chip '{chip.name}'"

    def need(ok: bool, what: str) -> None:
        if not ok:
            raise EncodeError(f"{where}: {what}")

    sems = [op.signal.value.data] if op.signal is not None else []
    if isinstance(op, WaitOp | SignalOp):
        sems.append(op.sem.value.data)
    for sem in sems:
        need(sem < chip.num_semaphores, f"semaphore {sem} >= num_semaphores {chip.num_semaphores}")
    if isinstance(op, DmaOp):
        queue = op.queue.value.data
        need(queue < chip.dma_queues, f"dma queue {queue} >= dma_queues {chip.dma_queues}")
    elif isinstance(op, MatmulOp):
        k, m, n = op.moving.pcount, op.dst.pcount, op.moving.free_elements
        need(k <= chip.pe_rows, f"matmul K = {k} exceeds pe_rows {chip.pe_rows}")
        need(m <= chip.pe_cols, f"matmul M = {m} exceeds pe_cols {chip.pe_cols}")
        need(
            n <= chip.matmul_moving_max,
            f"matmul N = {n} exceeds matmul_moving_max {chip.matmul_moving_max}",
        )
    elif isinstance(op, ActOp):
        p = op.dst.pcount
        need(p <= chip.act_lanes, f"act on {p} partitions exceeds act_lanes {chip.act_lanes}")
    elif isinstance(op, TensorTensorOp | ReduceOp | MemsetOp):
        p = op.dst.pcount
        need(p <= chip.pool_lanes, f"pool op on {p} partitions exceeds pool_lanes {chip.pool_lanes}")
    if isinstance(op, WaitOp | SignalOp | NopOp | HaltOp):
        name = op.engine_name()
        if name.startswith("dma"):
            need(int(name[3:]) < chip.dma_queues, f"engine {name}: only {chip.dma_queues} dma queues")


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
    opname = isa.Opcode(int(rec[isa.W_OPCODE])).name.lower()
    return EncodeError(
        f"instruction {origin}(accel.{opname}) on stream {engine}, record {i}: {what}"
    )


def _check_bounds(
    records: np.ndarray, engine: str, chip: ChipConfig, dram_bytes: int, debug: list[str]
) -> None:
    limits = {
        isa.Space.SBUF: (chip.sbuf_partitions, chip.sbuf_partition_bytes),
        isa.Space.PSUM: (chip.psum_partitions, chip.psum_partition_bytes),
    }
    opcodes = records[:, isa.W_OPCODE]
    for opcode, layout in isa.OPERANDS.items():
        recs = records[opcodes == opcode]
        if not len(recs):
            continue
        for name, word in layout.items():
            if name not in isa.ACCESS_FIELDS:
                continue
            acc = recs[:, word : word + isa.ACCESS_WORDS]
            space, pstart, offset = acc[:, 0], acc[:, 1], acc[:, 2]
            strides, counts = acc[:, 3::2], acc[:, 4::2]
            span = (counts - 1) * strides
            dram = space == isa.Space.DRAM
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
                ~np.isin(space, list(_SPACE.values())),
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
                on = space == sp
                sname = _SPACE_NAME[sp]
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
        engine = isa.engine_from_name(stream.engine)
        if engine >= isa.Engine.DMA0 + chip.dma_queues:
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
    return isa.Program(
        program.chip.data, streams, consts, inputs, outputs, list(enc.debug), meta
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


def _ap(rec: np.ndarray, name: str) -> AccessAttr:
    a = isa.access_of(rec, name)
    space = _SPACE_NAME[isa.Space(a.space)]
    return AccessAttr.get(space, a.pstart, a.offset, a.dims)


def _instruction(rec: np.ndarray, debug: list[str]) -> InstructionOp:
    opcode = isa.Opcode(int(rec[isa.W_OPCODE]))
    engine = isa.engine_name(int(rec[isa.W_ENGINE]))
    signal = int(rec[isa.W_SIGNAL])
    dbg = int(rec[isa.W_DEBUG])
    if dbg >= len(debug):
        raise ValueError(f"debug id {dbg} past the {len(debug)}-entry debug table")
    kw: dict[str, int | str | None] = {
        "signal": signal if signal >= 0 else None,
        "origin": debug[dbg] if dbg >= 0 else None,
    }
    f = isa.OPERANDS[opcode]
    word = lambda name: int(rec[f[name]])  # noqa: E731
    imm = lambda name: isa.bits_f32(word(name))  # noqa: E731
    if opcode is isa.Opcode.DMA:
        queue = int(rec[isa.W_ENGINE]) - isa.Engine.DMA0
        return DmaOp(queue, _ap(rec, "src"), _ap(rec, "dst"), **kw)  # pyright: ignore[reportArgumentType]
    if opcode is isa.Opcode.MATMUL:
        zero_at = -1 if rec[isa.W_FLAGS] & isa.FLAG_START else None
        return MatmulOp(
            _ap(rec, "dst"), _ap(rec, "stationary"), _ap(rec, "moving"), zero_at=zero_at, **kw  # pyright: ignore[reportArgumentType]
        )
    if opcode is isa.Opcode.ACT:
        dst = _ap(rec, "dst")
        scalars: dict[str, float | AccessAttr | None] = {}
        for what in ("scale", "bias"):
            if isa.ScalarMode(word(f"{what}_mode")) is isa.ScalarMode.IMM:
                scalars[what] = imm(f"{what}_imm")
                continue
            space = _SPACE_NAME[isa.Space(word(f"{what}_space"))]
            scalars[f"{what}_col"] = AccessAttr.get(
                space, word(f"{what}_pstart"), word(f"{what}_offset"), [(1, dst.pcount), (1, 1)]
            )
        func = isa.ActFunc(word("func")).name.lower()
        return ActOp(func, dst, _ap(rec, "src"), **scalars, **kw)  # pyright: ignore[reportArgumentType]
    if opcode is isa.Opcode.TENSOR_TENSOR:
        op = isa.AluOp(word("op")).name.lower()
        return TensorTensorOp(op, _ap(rec, "dst"), _ap(rec, "a"), _ap(rec, "b"), **kw)  # pyright: ignore[reportArgumentType]
    if opcode is isa.Opcode.REDUCE:
        op = isa.AluOp(word("op")).name.lower()
        return ReduceOp(
            op, _ap(rec, "dst"), _ap(rec, "src"), word("nreduce"), scale=imm("scale_imm"), **kw  # pyright: ignore[reportArgumentType]
        )
    if opcode is isa.Opcode.MEMSET:
        return MemsetOp(_ap(rec, "dst"), imm("value"), **kw)  # pyright: ignore[reportArgumentType]
    if opcode is isa.Opcode.WAIT:
        return WaitOp(engine, word("sem"), word("value"), **kw)  # pyright: ignore[reportArgumentType]
    if opcode is isa.Opcode.SIGNAL:
        return SignalOp(engine, word("sem"), **kw)  # pyright: ignore[reportArgumentType]
    if opcode is isa.Opcode.NOP:
        return NopOp(engine, **kw)  # pyright: ignore[reportArgumentType]
    return HaltOp(engine, **kw)  # pyright: ignore[reportArgumentType]


def decode(data: bytes) -> ModuleOp:
    """The accel.program of a `.tbin`, streams flat (expanded), HALTs kept. Raises
    isa.BinaryFormatError for a file or record that cannot be read: the container's
    checks, then the hardware model's loader checks every record against the chip
    preset the binary names (what `tidal-sim` would refuse, this refuses too)."""
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
        name = isa.engine_name(engine)
        body: list[Operation] = []
        for i, rec in enumerate(prog.streams[engine]):
            try:
                body.append(_instruction(rec, prog.debug))
            except (ValueError, KeyError, IndexError, DiagnosticException) as e:
                raise isa.BinaryFormatError(f"stream {name}, record {i}: {e}") from None
        ops.append(StreamOp(name, body))
    dram_bytes = int(prog.meta.get("dram_bytes", 0))  # pyright: ignore[reportArgumentType]
    module = ModuleOp([ProgramOp(prog.chip, dram_bytes, ops)])
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

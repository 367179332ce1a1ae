"""The event-driven hardware model of the Tidal accelerator.

Time jumps from event to event on a heap; there is no loop over cycles. Each engine
(PE, ACT, POOL, one per DMA queue) runs its instruction stream in order. A compute
engine runs one instruction at a time: it issues an instruction, the instruction's
cost (from the `ChipConfig` and its operand sizes) schedules a completion event, and
at completion the functional effect is computed with NumPy on the modelled memories,
the signal semaphore is incremented and the next instruction issues. A DMA queue
issues its descriptors in order without waiting for the earlier ones to finish, up to
`dma_queue_depth` in flight; each takes effect when its data has moved, and they
retire (count, signal) in issue order, so a semaphore count covers every earlier
descriptor of the queue. Any other instruction of a queue but a WAIT (a HALT, a
SIGNAL) issues only once every earlier descriptor retired. A WAIT whose semaphore is
too low parks the engine (a queue: its later instructions) until a signal raises it;
so does an instruction whose record carries a folded wait (its wait words), which
then issues as soon as the signal arrives.

Every engine reads its stream from a finite instruction buffer: a ring of
`instr_buffer_bytes` that the engine's instruction-fetch DMA refills from DRAM in
blocks of `instr_fetch_block_bytes` as soon as there is room. An engine whose next
record has not arrived stalls. Data descriptors and instruction fetches alike pay a
fixed latency and then share the DRAM bandwidth equally with every other transfer in
its data phase (processor sharing); a start or finish re-times the others through
versioned events, so stale finish events are simply dropped.

With `check_races`, every SBUF/PSUM access of an instruction is compared, when it
issues, with those of the instructions in flight on the other engines and of the
other descriptors in flight on its own queue: an overlap
where either side writes raises `RaceError`. Bounding boxes first; where they meet,
the exact byte sets as merged interval lists (never one entry per element).

What an instruction is comes from the datasheet (`tidal.sim.spec`): its operand
fields and their read/write roles, its cost formula and its NumPy semantics. The
machine decodes the fields straight from the int32 words into NumPy views and values;
the loader (`tidal.sim.loader`) has already checked every field, so nothing here
re-validates. What is the machine's own is time: engines, semaphores, instruction
fetch, DRAM bandwidth sharing, which stationary operand the PE array holds.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import deque
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import numpy as np
from tidal.sim import isa
from tidal.sim.config import ChipConfig, UnknownChipError, get_chip
from tidal.sim import critical
from tidal.sim.critical import START as CRITICAL_START
from tidal.sim.critical import Node
from tidal.sim.errors import (
    DeadlockError,
    ExecutionError,
    InputError,
    LoadError,
    RaceError,
    SimError,
)
from tidal.sim.inputs import check_inputs, unread_inputs
from tidal.sim.loader import (
    RING_ENTRY_BYTES,
    instruction_image,
    refill_sections,
    validate_program,
)
from tidal.sim.spec.lut import LutTable
from tidal.sim.spec.rng import RngState
from tidal.sim.spec import (
    INSTRUCTIONS,
    ActFunc,
    EngineKind,
    Instr,
    Kind,
    Opcode,
    Role,
    ScalarMode,
    Space,
    engine_from_name,
    engine_kind,
    matmul_load_cycles,
)

__all__ = [
    "DeadlockError",
    "ExecutionError",
    "InputError",
    "LoadError",
    "BLAS_THREADS_MAX",
    "Machine",
    "RaceError",
    "SimError",
    "engine_names",
    "run_program",
]

# The most threads NumPy's BLAS may be given while the machine runs: more than any
# host has cores, so it only refuses a typo (OpenBLAS would start what it was asked).
BLAS_THREADS_MAX = 1024

# Event kinds.
_DONE = 0  # an instruction completes
_DMA_DATA = 1  # a DMA descriptor's fixed latency is over: its data phase starts
_DMA_END = 2  # a DMA data phase may be over (if its version is still current)
_FETCH_DATA = 3  # an instruction fetch's fixed latency is over
_FETCH_END = 4  # an instruction fetch may be over (if its version is still current)
_ISSUE = 5  # the wait folded into an engine's next instruction is satisfied: it issues

_F32 = np.float32
_DIMS = isa.ACCESS_DIMS
_W_OP, _W_FLAGS, _W_SIGNAL, _W_DEBUG, _W_WAIT_SEM, _W_WAIT_VALUE = (
    isa.W_OPCODE,
    isa.W_FLAGS,
    isa.W_SIGNAL,
    isa.W_DEBUG,
    isa.W_WAIT_SEM,
    isa.W_WAIT_VALUE,
)
_DRAM = Space.DRAM.code
_COLUMN = ScalarMode.COLUMN.code
_ACCESS_WORDS = isa.ACCESS_WORDS
# Opcodes as plain ints: comparing with an int is several times cheaper than with
# an IntEnum member, on the path every instruction takes.
_WAIT, _HALT, _SIGNAL, _MATMUL, _ACT, _REFILL, _OVERWRITE = (
    int(Opcode.WAIT),
    int(Opcode.HALT),
    int(Opcode.SIGNAL),
    int(Opcode.MATMUL),
    int(Opcode.ACT),
    int(Opcode.REFILL),
    int(Opcode.OVERWRITE),
)
_REFILL_SECTION = INSTRUCTIONS[Opcode.REFILL].layout["section"]
# The instructions that draw from POOL's generators, with the word of dst's first
# partition (an access is space, partition start, offset, dims).
_RNG_LANE0 = {
    int(op): INSTRUCTIONS[op].layout["dst"] + 1
    for op in (Opcode.RANDOM, Opcode.DROPOUT, Opcode.BERNOULLI)
}
_WAIT_SEM = INSTRUCTIONS[Opcode.WAIT].layout["sem"]
_WAIT_VALUE = INSTRUCTIONS[Opcode.WAIT].layout["value"]
_STATIONARY = INSTRUCTIONS[Opcode.MATMUL].layout["stationary"]
assert _DIMS == 5 and isa.ACCESS_WORDS == 13  # _box writes the dims out
# Views of distinct accesses a machine keeps for reuse (an access pattern recurs:
# a tile is written and read many times); past this many it starts afresh.
_VIEWS_KEPT = 1 << 16
_ROW_PAD_WORDS = 32  # 128 bytes: two cache lines between consecutive partitions' rows
_ACCESS, _ENUM, _F32_KIND, _SCALAR = Kind.ACCESS, Kind.ENUM, Kind.F32, Kind.SCALAR

Action = Callable[[], None]
Row = list[int]  # one instruction record's words

# Per opcode, how to decode its operand fields: (name, kind, word, enum, word of the
# access a scalar column's partitions follow).
_Plan = tuple[tuple[str, Kind, int, Any, int], ...]


def _plan(entry: Instr) -> _Plan:
    lay = entry.layout
    out: list[tuple[str, Kind, int, Any, int]] = []
    for f in entry.fields:
        word = lay[f"{f.name}_mode" if f.kind is Kind.SCALAR else f.name]
        out.append((f.name, f.kind, word, f.enum, lay[f.of] if f.of else -1))
    return tuple(out)


_PLANS: dict[int, _Plan] = {op: _plan(e) for op, e in INSTRUCTIONS.items()}


class _Decoder:
    """What the machine reads of one opcode's datasheet entry on every instruction,
    gathered once per machine (so a machine runs the table as it was when made)."""

    __slots__ = (
        "cost",
        "descriptor",
        "macs",
        "matmul",
        "opcode",
        "plan",
        "raced",
        "semantics",
        "transfer_bytes",
    )

    def __init__(self, entry: Instr) -> None:
        op = int(entry.opcode)
        self.opcode = op
        self.plan = _PLANS[op]
        self.cost = entry.cost
        self.semantics = entry.semantics
        self.macs = entry.macs
        self.transfer_bytes = entry.transfer_bytes
        self.descriptor = entry.transfer_bytes is not None
        self.matmul = op == _MATMUL
        self.raced = bool(_ACCESSES[op] or _COLUMNS[op])  # what race checks compare


class _Transfer:
    """One DMA descriptor's or instruction fetch's transfer: its bytes and, in its
    data phase, its share of the DRAM bandwidth. `version` counts its re-timings; an
    end event of an older version is stale."""

    __slots__ = (
        "bytes_left",
        "desc",
        "end_kind",
        "engine",
        "last",
        "nbytes",
        "rate",
        "version",
    )

    def __init__(self, engine: _Engine, end_kind: int) -> None:
        self.engine = engine
        self.desc: _Desc | None = None  # the descriptor it moves (DMA queues)
        self.end_kind = end_kind
        self.nbytes = 0
        self.bytes_left = 0.0
        self.rate = 0.0
        self.last = 0.0
        self.version = 0


class _Fetch(_Transfer):
    """An engine's instruction-fetch DMA: records from DRAM into the engine's
    instruction buffer."""

    __slots__ = ("addr", "count", "first", "start")

    def __init__(self, engine: _Engine) -> None:
        super().__init__(engine, _FETCH_END)
        self.first = 0  # first record of the transfer
        self.count = 0  # records in the transfer
        self.addr = 0  # DRAM byte address the records come from
        self.start = 0.0


class _Desc:
    """One DMA descriptor issued by a queue and not yet retired: its record, when it
    issued, its effect (run when its data phase ends), its transfer and (race
    checking) its on-chip accesses. Quacks like `_Engine` where a trace, race or
    error message names "engine, instruction"."""

    __slots__ = ("action", "cause", "done", "footprint", "name", "node", "pc", "row", "start", "transfer")

    def __init__(self, e: _Engine, row: Row, start: float) -> None:
        self.name = e.name
        self.cause = e.cause  # (critical path) what let it issue
        self.node: Node | None = None  # (critical path) set when it retires
        self.pc = e.pc
        self.row = row
        self.start = start
        self.action: Action | None = None
        self.footprint: list[_Touch] | None = None
        self.done = False
        self.transfer = _Transfer(e, _DMA_END)
        self.transfer.desc = self


class _Engine:
    """The run state of one engine: its stream, its instruction buffer, its DMA
    descriptors in flight (a DMA queue) and what it has done."""

    __slots__ = (
        "action",
        "active_since",
        "allowed",
        "base",
        "pending",
        "ring_at",
        "slots",
        "tags",
        "block",
        "buffer",
        "busy",
        "capacity",
        "cause",
        "count",
        "depth",
        "dma_bytes",
        "drain_since",
        "drained_at",
        "eid",
        "fetch",
        "fetch_since",
        "fetch_stall",
        "fetched",
        "fetching",
        "flight",
        "footprint",
        "full_since",
        "n",
        "name",
        "parked_since",
        "pc",
        "records",
        "requested",
        "row",
        "sem_wait",
        "start",
        "waiting",
        "waits",
    )

    def __init__(self, eid: int, records: np.ndarray, chip: ChipConfig) -> None:
        self.eid = eid
        self.name = isa.engine_name(eid)
        self.records = records
        self.n = len(records)
        # The words of instruction pc, decoded when it issues (one short list per
        # instruction is cheaper than a list per record up front).
        self.row: Row = []
        self.pc = 0
        self.start = 0.0  # when the current instruction started running
        # (critical path) what let the current instruction start (sim.critical)
        self.cause: tuple[str, Any] = CRITICAL_START
        self.busy = 0.0
        self.count = 0
        self.waits = 0  # WAIT instructions run (a wait folded into another is not one)
        self.waiting: tuple[int, int] | None = None  # (semaphore, value) when parked
        self.parked_since = 0.0
        self.sem_wait = 0.0
        self.action: Action | None = None
        # A DMA queue's descriptors issued and not yet retired, oldest first, at
        # most `depth` of them (0 on compute engines); since when it has had some
        # (active_since) or last had none (drained_at), and since when it has held
        # back its next instruction for a free slot (full_since) or, an instruction
        # that is not a descriptor, for every descriptor to retire (drain_since).
        self.depth = (
            chip.dma_queue_depth
            if engine_kind(eid) is EngineKind.DMA
            else 0
        )
        self.flight: deque[_Desc] = deque()
        self.active_since = 0.0
        self.drained_at = 0.0
        self.full_since = -1.0
        self.drain_since = -1.0
        self.dma_bytes = 0
        # The instruction buffer: records [pc, fetched) are in it, [fetched,
        # requested) are on their way; a ring of `capacity` records.
        self.capacity = chip.instr_buffer_bytes // isa.RECORD_BYTES
        self.block = chip.instr_fetch_block_bytes // isa.RECORD_BYTES
        self.fetched = 0
        self.requested = 0
        self.fetching = False
        self.fetch = _Fetch(self)
        self.fetch_since = -1.0  # when the engine began waiting for a fetch, or -1
        self.fetch_stall = 0.0
        # The ring's records as fetched from the instruction image at `base` (set by
        # the machine): record i sits in slot i % capacity, and the engine decodes it
        # from there. `allowed`: the record bytes a rewritten image may hold (the
        # binary's records of this engine and a NOP), built on the first mismatch.
        self.buffer = np.zeros((max(1, min(self.capacity, self.n)), isa.RECORD_WORDS), np.int32)
        self.base = 0
        self.allowed: set[bytes] | None = None
        # Ring slots the records cycle through (the buffer's records; with
        # self-refill two sections); the DMA ring of a self-refilling stream (its
        # address, or -1: the hardware's fetch logic refills it) and the sections its
        # REFILLs asked for while a load was on its way.
        self.slots = self.capacity
        self.ring_at = -1
        self.pending: deque[int] = deque()
        # (Self-refill) which record each slot holds (-1: none): an engine runs
        # record pc only from a slot that holds it.
        self.tags = np.full(0, -1, np.int64)
        # (Race checking) the on-chip accesses of the instruction in flight.
        self.footprint: list[_Touch] | None = None


# One on-chip access of an instruction, for race checking: space, partitions
# [p0, p1), bytes [b0, b1) (bounding), writes?, operand name, word of the access in
# the record (-1 for an ACT scale/bias column).
_Touch = tuple[int, int, int, int, int, bool, str, int]
# Per opcode, its accesses as (name, word, writes?), reads first (the datasheet's
# roles), and its scalar columns as (name, word of the mode, word of the access whose
# partitions the column covers): what the race checker compares.
_ACCESSES: dict[int, tuple[tuple[str, int, bool], ...]] = {
    op: tuple(
        (f.name, e.layout[f.name], f.role is Role.WRITE)
        for f in sorted(e.accesses, key=lambda f: f.role is Role.WRITE)
    )
    for op, e in INSTRUCTIONS.items()
}
_COLUMNS: dict[int, tuple[tuple[str, int, int], ...]] = {
    op: tuple(
        (f.name, e.layout[f"{f.name}_mode"], e.layout[f.of])
        for f in e.fields
        if f.kind is Kind.SCALAR
    )
    for op, e in INSTRUCTIONS.items()
}
# Opcodes that may write SBUF (where the PE array's stationary operand comes from),
# with the word of that access.
_SBUF_WRITES: dict[int, int] = {
    op: e.layout[f.name]
    for op, e in INSTRUCTIONS.items()
    for f in e.accesses
    if f.role is Role.WRITE and Space.SBUF in f.spaces
}


def _box(w: Row, i: int) -> tuple[int, int, int, int, int] | None:
    """Bounding box (space, p0, p1, b0, b1) of the on-chip access at word i."""
    if w[i] == _DRAM:
        return None
    # The furthest element of dims 1..4, each (stride, count) (written out: a
    # generator here was a tenth of the machine's own time).
    reach = (
        w[i + 5] * (w[i + 6] - 1)
        + w[i + 7] * (w[i + 8] - 1)
        + w[i + 9] * (w[i + 10] - 1)
        + w[i + 11] * (w[i + 12] - 1)
    )
    p0, b0 = w[i + 1], w[i + 2]
    return (w[i], p0, p0 + w[i + 4], b0, b0 + 4 * reach + 4)


def _boxes_meet(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    return a[0] == b[0] and a[1] < b[2] and b[1] < a[2] and a[3] < b[4] and b[3] < a[4]


def _footprint(w: Row) -> list[_Touch]:
    """The SBUF/PSUM accesses of record w (DRAM accesses are not race-checked)."""
    op = w[_W_OP]
    out: list[_Touch] = []
    for field, i, write in _ACCESSES[op]:
        if w[i] == _DRAM:
            continue
        reach = sum(w[i + 3 + 2 * d] * (w[i + 4 + 2 * d] - 1) for d in range(1, _DIMS))
        p0, b0 = w[i + 1], w[i + 2]
        out.append((w[i], p0, p0 + w[i + 4], b0, b0 + 4 * reach + 4, write, field, i))
    for name, i, of in _COLUMNS[op]:
        if w[i] == _COLUMN:  # mode, imm, space, pstart, offset
            p0, b0 = w[i + 3], w[i + 4]
            out.append((w[i + 2], p0, p0 + w[of + 4], b0, b0 + 4, False, name, -1))
    return out


def _merge(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The union of intervals [starts[i], ends[i]) as sorted, disjoint, non-touching
    intervals."""
    order = np.argsort(starts, kind="stable")
    starts, ends = starts[order], ends[order]
    reach = np.maximum.accumulate(ends)
    # A new interval begins where a start lies past everything before it.
    first = np.ones(len(starts), bool)
    first[1:] = starts[1:] > reach[:-1]
    heads = np.flatnonzero(first)
    tails = np.append(heads[1:], len(starts)) - 1
    return starts[heads], reach[tails]


def _intervals(w: Row, t: _Touch) -> tuple[np.ndarray, np.ndarray]:
    """The bytes (within a partition) that touch t reaches, exactly, as sorted
    disjoint intervals (starts, ends).

    Dims are added innermost stride first: a dim whose stride lies within the extent
    built so far extends one interval (the common, dense case: a handful of
    intervals); otherwise the intervals are repeated at each of its steps and merged.
    The intervals are never more than the access's elements per partition, which the
    loader bounds by the partition's size."""
    i = t[7]
    if i < 0:
        return np.array([t[3]], np.int64), np.array([t[4]], np.int64)
    dims = sorted(
        (4 * w[i + 3 + 2 * d], w[i + 4 + 2 * d])
        for d in range(1, _DIMS)
        if w[i + 4 + 2 * d] > 1 and w[i + 3 + 2 * d] > 0
    )
    starts, ends = np.zeros(1, np.int64), np.full(1, 4, np.int64)
    for step, count in dims:
        if len(starts) == 1 and step <= ends[0]:
            ends = ends + step * (count - 1)
            continue
        shifts = step * np.arange(count, dtype=np.int64)
        starts, ends = _merge(
            (starts[None, :] + shifts[:, None]).ravel(),
            (ends[None, :] + shifts[:, None]).ravel(),
        )
    offset = w[i + 2]
    return starts + offset, ends + offset


def _really_overlap(wa: Row, a: _Touch, wb: Row, b: _Touch) -> bool:
    """Whether two touches whose bounding boxes overlap share a byte (strided
    accesses may interleave without touching the same bytes): a merge of their
    sorted interval lists, never a list of their elements."""
    sa, ea = _intervals(wa, a)
    sb, eb = _intervals(wb, b)
    # For each interval of a, the first interval of b that ends after it starts.
    j = np.searchsorted(eb, sa, side="right")
    inside = j < len(sb)
    return bool(np.any(sb[j[inside]] < ea[inside]))


def _whole_cycles(t: float) -> int:
    """A time as whole cycles: rounding noise of the DMA sharing arithmetic is
    dropped, a genuine fraction of a cycle rounds up."""
    r = round(t)
    return int(r) if abs(t - r) < 1e-6 else math.ceil(t)


def engine_names(chip: ChipConfig) -> list[str]:
    """Every engine of `chip`, in engine order: pe, act, pool, dma0, dma1, ..."""
    return [isa.engine_name(e) for e in range(isa.Engine.DMA0 + chip.dma_queues)]


class Machine:
    """One chip loaded with one program. `run()` once; then read the outputs."""

    def __init__(
        self,
        program: isa.Program,
        chip: ChipConfig,
        *,
        trace: bool = False,
        check_races: bool = False,
        critical_path: bool = False,
    ) -> None:
        dram_bytes = validate_program(program, chip)
        self.program = program
        self.chip = chip
        # The instruction image: each stream's records in DRAM, which the engines
        # fetch and decode (a DMA that rewrites them changes what runs).
        self.image = instruction_image(program, chip, dram_bytes)
        image_end = max(
            (at + len(program.streams[e]) * isa.RECORD_BYTES for e, at in self.image.items()),
            default=0,
        )
        self.dram = np.zeros(max(dram_bytes, image_end), np.uint8)
        # Each on-chip memory is a (partitions, words) array whose rows are padded by
        # _ROW_PAD_WORDS: with rows a power-of-two multiple of 4 KiB apart, every
        # partition's row of an access falls in the same cache sets, and NumPy reading
        # a 128-partition view (a matmul's operands) runs about 3x slower. Only the
        # host's memory layout changes; self.sbuf and self.psum are the unpadded views.
        self._onchip_rows: list[np.ndarray] = [
            np.empty((0, 0), _F32),
            np.zeros((chip.sbuf_partitions, chip.sbuf_partition_bytes // 4 + _ROW_PAD_WORDS), _F32),
            np.zeros((chip.psum_partitions, chip.psum_partition_bytes // 4 + _ROW_PAD_WORDS), _F32),
        ]
        self.sbuf = self._onchip_rows[1][:, : chip.sbuf_partition_bytes // 4]
        self.psum = self._onchip_rows[2][:, : chip.psum_partition_bytes // 4]
        # Indexed by Space; DRAM is addressed through self.dram, never through this.
        self._onchip: list[np.ndarray] = [np.empty((0, 0), _F32), self.sbuf, self.psum]
        self.sems = [0] * chip.num_semaphores
        self.engines = [
            _Engine(eid, program.streams[eid], chip)
            for eid in sorted(program.streams)
        ]
        self.now = 0.0
        self.end = 0.0
        self.macs = 0
        self.dma_bytes = 0
        self.dma_dram_bytes = 0  # bytes of descriptors with a DRAM end
        self.fetch_bytes = 0
        self.fetch_transfers = 0
        self.trace: list[dict[str, Any]] | None = [] if trace else None
        self.fetch_trace: list[dict[str, Any]] | None = [] if trace else None
        self.stall_trace: list[dict[str, Any]] | None = [] if trace else None
        # (critical path) every instruction run, with what let it start, and the
        # last one to end so far, whose signal a woken wait owes its start to.
        self.nodes: list[Node] | None = [] if critical_path else None
        self._signaller: Node | None = None
        self._run_start = 0.0
        self.check_races = check_races
        self.race_accesses = 0  # (race checking) on-chip accesses checked
        # (race checking) engines mid-instruction and DMA descriptors in flight
        self._in_flight: list[_Engine | _Desc] = []
        self._heap: list[tuple[float, int, int, Any, int]] = []
        self._seq = itertools.count(1)  # ties in time pop in push order
        # Indexed by opcode (the loader checked every record's).
        self._decoders = [_Decoder(INSTRUCTIONS[Opcode(op)]) for op in range(len(Opcode))]
        self._views: dict[tuple[int, ...], np.ndarray] = {}  # by access words
        self._waiters: dict[int, list[_Engine]] = {}
        self._dma_active: list[_Transfer] = []
        self._pe_stationary: Row | None = None
        self._pe_weights: tuple[int, int, int, int, int] | None = None
        # Streaming cycles of the last matmul, behind which the next stationary
        # operand may shift in (matmul_load_cycles); None before the first matmul.
        self._pe_behind: float | None = None
        for addr, data in program.consts:
            self.dram[addr : addr + data.nbytes] = data.view(np.uint8).reshape(-1)
        for e in self.engines:
            e.base = self.image[e.eid]
            raw = np.ascontiguousarray(e.records, dtype="<i4").view(np.uint8).reshape(-1)
            self.dram[e.base : e.base + raw.nbytes] = raw
        self.overwritten = 0  # fetched records that differ from the binary's
        self.overwrites = 0  # OVERWRITE instructions that copied (early exits taken)
        # Self-refill (META self_refill): the engines load their own sections.
        refill = refill_sections(program, chip, dram_bytes, self.image)
        self.self_refill = refill is not None
        if refill is not None:
            size = int(program.meta["self_refill"]["section_records"])  # type: ignore[index]
            for e in self.engines:
                e.ring_at = refill[e.eid][0]
                e.slots = 2 * size
                e.buffer = np.zeros((2 * size, isa.RECORD_WORDS), np.int32)
                e.tags = np.full(2 * size, -1, np.int64)
        self.host_fetch_bytes = 0  # instruction bytes loaded because the host started a run
        self.refill_bytes = 0  # instruction bytes the engines' REFILLs loaded
        self.runs: list[dict[str, Any]] = []
        # POOL's generators (RANDOM, DROPOUT): a counter per lane, from 0 each run.
        self._rng = RngState(max(chip.sbuf_partitions, chip.psum_partitions))
        # ACT's lookup tables, loaded with the program (the loader checked them).
        self._luts = {
            ActFunc.from_code(code): LutTable(ActFunc.from_code(code), lo, hi, rows)
            for code, (lo, hi, rows) in program.luts.items()
        }

    # -- host side ---------------------------------------------------------

    def check_inputs(self, inputs: Mapping[str, np.ndarray]) -> None:
        """Raise InputError unless `inputs` match the input table (names, shapes,
        dtypes), as `load_inputs` needs them."""
        constants = self.program.meta.get("constant_inputs")
        check_inputs(
            {str(e["name"]): _io_shape(e) for e in self.program.inputs},
            inputs,
            [c for c in constants if isinstance(c, str)] if isinstance(constants, list) else (),
            unread=unread_inputs(self.program),
        )

    def load_inputs(self, inputs: Mapping[str, np.ndarray]) -> None:
        """Check `inputs` against the input table and copy them into DRAM."""
        self.check_inputs(inputs)
        for entry in self.program.inputs:
            name = str(entry["name"])
            raw = np.ascontiguousarray(inputs[name]).view(np.uint8).reshape(-1)
            addr = _io_addr(entry)
            self.dram[addr : addr + raw.size] = raw

    def read_outputs(self) -> dict[str, np.ndarray]:
        """The output table's tensors, copied out of DRAM."""
        return {
            str(e["name"]): np.ndarray(
                _io_shape(e), _F32, self.dram, _io_addr(e)
            ).copy()
            for e in self.program.outputs
        }

    # -- event kernel ------------------------------------------------------

    def run(self, blas_threads: int | None = None) -> dict[str, Any]:
        """Run every stream to its end; return the stats dict.

        NumPy's BLAS runs on `blas_threads` threads meanwhile (None: one). The
        machine's matmuls are small and many: on a machine whose cores are busy, a
        second BLAS thread costs far more in hand-offs than it gains (a 128x128x448
        matmul, 0.5 ms on one thread, took 16 ms of CPU on two)."""
        # Imported here: tools that only import this module do not pay for it.
        from threadpoolctl import threadpool_limits

        threads = 1 if blas_threads is None else blas_threads
        if not 1 <= threads <= BLAS_THREADS_MAX:
            raise ValueError(
                f"blas_threads must be from 1 to {BLAS_THREADS_MAX}, got {threads}"
            )
        heap = self._heap
        start, host0, fetch0 = self.now, self.host_fetch_bytes, self.fetch_bytes
        if self.nodes is not None:
            self.nodes.clear()
            self._run_start = start
            for e in self.engines:
                e.cause = CRITICAL_START
        with (
            threadpool_limits(limits=threads, user_api="blas"),
            np.errstate(all="ignore"),  # hardware makes inf/nan silently
        ):
            for engine in self.engines:
                self._start_engine(engine)
            pop, complete = heapq.heappop, self._complete
            while heap:
                self.now, _, kind, obj, version = pop(heap)
                if kind == _DONE:
                    complete(obj)
                elif kind == _DMA_DATA or kind == _FETCH_DATA:
                    self._transfer_begin(obj)
                elif kind == _ISSUE:
                    self._issue(obj)
                elif version != obj.version:
                    continue  # re-timed since: a later event stands for it
                elif kind == _DMA_END:
                    self._dma_end(obj)
                else:
                    self._fetch_end(obj)
        parked = [e for e in self.engines if e.waiting is not None]
        if parked or any(e.pc < e.n for e in self.engines):  # (self-refill: starved)
            raise DeadlockError(self._deadlock_message(parked))
        self.runs.append(
            {
                "cycles": _whole_cycles(self.end - start),
                "host_instr_bytes": self.host_fetch_bytes - host0,
                "instr_fetch_bytes": self.fetch_bytes - fetch0,
            }
        )
        return self._stats()

    def _start_engine(self, e: _Engine) -> None:
        """The host starts e at its first instruction: with self-refill it loads
        section 0 unless the last run's final REFILL left it in the buffer; else the
        fetch logic fills the buffer (from the start unless the whole stream is
        still there)."""
        if self.self_refill:
            if e.n and e.tags[0] != 0:  # section 0 is not in the buffer
                self._refill(e, 0, host=True)
        else:
            self._maybe_fetch(e)
        self._issue(e)

    def rerun(self, inputs: Mapping[str, np.ndarray], blas_threads: int | None = None) -> dict[str, Any]:
        """Run the program again, on `inputs`, on the machine as the last run left it
        (DRAM, instruction buffers, generators): the host writes the inputs, the
        hardware zeroes the semaphores and starts every engine at its first
        instruction. What instructions the host had to load shows in
        `runs[-1]["host_instr_bytes"]` (0 for a self-refilling program)."""
        self.load_inputs(inputs)
        self.sems = [0] * self.chip.num_semaphores
        for e in self.engines:
            e.pc = 0
            if not self.self_refill:
                # The fetch logic starts again from the first record, unless the
                # whole stream is still in the buffer.
                whole = e.n <= e.capacity
                e.requested = e.fetched = e.n if whole else 0
        return self.run(blas_threads)

    def _push(self, time: float, kind: int, obj: Any, version: int = 0) -> None:
        heapq.heappush(self._heap, (time, next(self._seq), kind, obj, version))

    def _issue(self, e: _Engine) -> None:
        """Start e's next instruction, or stall e on its instruction fetch or on an
        unsatisfied WAIT."""
        pc = e.pc
        if pc >= e.n:
            return
        now = self.now
        if pc >= e.fetched if e.ring_at < 0 else e.tags[pc % e.slots] != pc:
            e.fetch_since = now
            return
        row = e.row = e.buffer[pc % e.slots].tolist()
        op = row[_W_OP]
        if op == _WAIT:  # most instructions: decoded here, by its fixed words
            e.start = now
            e.action = None
            e.waits += 1
            sem, value = row[_WAIT_SEM], row[_WAIT_VALUE]
            if self.sems[sem] >= value:
                heapq.heappush(
                    self._heap,
                    (now + self.chip.sync_cycles, next(self._seq), _DONE, e, 0),
                )
            else:
                self._park(e, sem, value)
            return
        sem = row[_W_WAIT_SEM]
        if sem >= 0 and self.sems[sem] < row[_W_WAIT_VALUE]:
            # A wait folded into the instruction (US11175919B1): the engine (a
            # queue: its later instructions) holds it until the semaphore is
            # reached, then issues it at no further cost.
            self._park(e, sem, row[_W_WAIT_VALUE])
            return
        dec = self._decoders[op]
        if e.flight and op != _REFILL:  # a REFILL needs no earlier descriptor done
            if not dec.descriptor:
                # Anything but a descriptor or a wait (a halt, a signal) follows
                # every earlier descriptor of the queue.
                e.drain_since = now
                return
            if len(e.flight) >= e.depth:
                e.full_since = now  # until the oldest descriptor retires
                return
        e.start = now
        if op == _HALT:
            self._halt(e, row)
            return
        if dec.descriptor:
            self._issue_dma(e, dec, row)
            return
        cost, e.action, _ = self._prepare(dec, row)
        if op == _REFILL:
            e.action = partial(self._refill, e, row[_REFILL_SECTION])
        heapq.heappush(self._heap, (now + cost, next(self._seq), _DONE, e, 0))
        if self.check_races and dec.raced:
            self._check_races(e, row)

    def _issue_dma(self, e: _Engine, dec: _Decoder, row: Row) -> None:
        """Start a descriptor on queue e (fixed latency, then shared bandwidth) and
        go on to the queue's next instruction: up to `depth` descriptors are in
        flight at once."""
        d = _Desc(e, row, self.now)
        _, d.action, shapes = self._prepare(dec, row)
        d.transfer.nbytes = dec.transfer_bytes(shapes)
        self._push(
            self.now + self.chip.dma_fixed_latency_cycles, _DMA_DATA, d.transfer
        )
        if not e.flight:
            e.active_since = self.now
        e.flight.append(d)
        if self.check_races and dec.raced:
            self._check_races(d, row)
        if self.nodes is not None:
            e.cause = ("issued", d)  # the next one may issue now too
        e.pc += 1
        if e.requested < e.n and not e.fetching:
            self._maybe_fetch(e)  # its record's slot is free now
        self._issue(e)

    def _park(self, e: _Engine, sem: int, value: int) -> None:
        """e's WAIT finds semaphore `sem` below `value`: e waits for a signal."""
        e.waiting = (sem, value)
        e.parked_since = self.now
        self._waiters.setdefault(sem, []).append(e)

    def _halt(self, e: _Engine, row: Row) -> None:
        e.count += 1
        self._record(e, row)
        if self.nodes is not None:
            self._node(e, row)
        self._signal(row[_W_SIGNAL])
        e.pc = e.n

    def _effect(self, x: _Engine | _Desc) -> None:
        """x's instruction ends now: apply its effect to the memories."""
        row = x.row
        if x.action is not None:
            try:
                x.action()
            except (ValueError, FloatingPointError, IndexError) as err:
                raise ExecutionError(
                    f"{x.name} instruction {x.pc} ({Opcode(row[_W_OP]).name}): {err}"
                ) from None
            x.action = None
        if x.footprint is not None:
            self._in_flight.remove(x)
            x.footprint = None
        if self._pe_weights is not None and row[_W_OP] in _SBUF_WRITES:
            # New data in the array's weight slot: the next matmul reloads it, even
            # with the same access pattern.
            dst = _box(row, _SBUF_WRITES[row[_W_OP]])
            if dst is not None and _boxes_meet(dst, self._pe_weights):
                self._pe_stationary = self._pe_weights = None
                # The new data landed after the last matmul took its operand: no
                # streaming of it hides their load.
                self._pe_behind = 0.0

    def _outside_flight(self, e: _Engine, since: float) -> float:
        """Where the part of [since, now] in which queue e had no descriptor in
        flight begins (now if it has some): that part alone counts as e's stall
        or as a wait's own busy time, the rest is already busy. `since` on a
        compute engine."""
        if e.flight:
            return self.now
        return max(since, e.drained_at)

    def _complete(self, e: _Engine) -> None:
        """e's instruction ends now: apply its effect, signal, issue the next."""
        row = e.row
        now = self.now
        if (
            e.action is not None
            or e.footprint is not None
            or (self._pe_weights is not None and row[_W_OP] in _SBUF_WRITES)
        ):
            self._effect(e)
        # As _outside_flight(e, e.start), on the path every instruction takes.
        since = e.start
        if e.flight:
            since = now
        elif e.drained_at > since:
            since = e.drained_at
        e.busy += now - since
        e.count += 1
        if now > self.end:
            self.end = now
        if self.trace is not None:
            self._record(e, row)
        if self.nodes is not None:
            e.cause = ("done", self._node(e, row))
        if row[_W_SIGNAL] >= 0:
            self._signal(row[_W_SIGNAL])
        e.pc += 1
        if e.requested < e.n and not e.fetching:
            self._maybe_fetch(e)  # its record's slot is free now
        self._issue(e)

    def _record(self, e: _Engine | _Desc, row: Row) -> None:
        if self.now > self.end:
            self.end = self.now
        if self.trace is not None:
            self.trace.append(
                {
                    "engine": e.name,
                    "index": e.pc,
                    "opcode": Opcode(row[_W_OP]).name,
                    "start": e.start,
                    "end": self.now,
                    "source": self._source(row),
                }
            )

    def _node(self, x: _Engine | _Desc, row: Row) -> Node:
        """(Critical path) record x's instruction, ending now, as a node; it is the
        signaller of the waits its signal wakes."""
        assert self.nodes is not None
        node = (x.name, x.start, self.now, row[_W_DEBUG], row[_W_OP], x.cause)
        self.nodes.append(node)
        self._signaller = node
        return node

    def _source(self, row: Row) -> str | None:
        """The record's source op from the debug table, or None."""
        return self.program.debug[row[_W_DEBUG]] if row[_W_DEBUG] >= 0 else None

    def _stalled(self, e: _Engine, kind: str, since: float, **what: Any) -> None:
        """(Trace) e could not issue instruction e.pc from `since` until now."""
        if self.stall_trace is not None:  # (callers on hot paths test it first)
            self.stall_trace.append(
                {
                    "engine": e.name,
                    "index": e.pc,
                    "kind": kind,
                    "start": since,
                    "end": self.now,
                    **what,
                }
            )

    def _signal(self, sem: int) -> None:
        """Increment semaphore `sem` (if >= 0) and wake the waits it satisfies."""
        if sem < 0:
            return
        self.sems[sem] += 1
        waiters = self._waiters.get(sem)
        if not waiters:
            return
        level = self.sems[sem]
        still: list[_Engine] = []
        for e in waiters:
            assert e.waiting is not None
            if e.waiting[1] <= level:
                e.waiting = None
                e.sem_wait += self.now - self._outside_flight(e, e.parked_since)
                if self.stall_trace is not None:
                    self._stalled(e, "semaphore", e.parked_since, semaphore=sem)
                e.start = self.now
                if self.nodes is not None:
                    e.cause = ("done", self._signaller)
                if e.row[_W_OP] == _WAIT:
                    self._push(self.now + self.chip.sync_cycles, _DONE, e)
                else:  # a folded wait: the instruction itself issues now
                    self._push(self.now, _ISSUE, e)
            else:
                still.append(e)
        self._waiters[sem] = still

    def _deadlock_message(self, parked: list[_Engine]) -> str:
        parts = []
        for e in parked:
            assert e.waiting is not None
            sem, value = e.waiting
            source = self._source(e.row)
            op = f" (op '{source}')" if source is not None else ""
            parts.append(
                f"{e.name} at instruction {e.pc}{op} waits for semaphore {sem} "
                f">= {value} (it is {self.sems[sem]})"
            )
        for e in self.engines:
            if e.waiting is None and e.pc < e.n:  # (self-refill) starved of its section
                parts.append(f"{e.name} at instruction {e.pc} waits for a section no REFILL loads")
        done = [e.name for e in self.engines if e.waiting is None and e.pc >= e.n]
        tail = f"; finished: {', '.join(done)}" if done else ""
        return (
            "deadlock: no remaining instruction signals what these engines wait "
            "for: " + "; ".join(parts) + tail
        )

    # -- race checking -----------------------------------------------------

    def _check_races(self, e: _Engine | _Desc, row: Row) -> None:
        """Compare e's on-chip accesses with those in flight on other engines and
        with the other descriptors in flight on its own DMA queue."""
        mine = _footprint(row)
        if not mine:
            return
        self.race_accesses += len(mine)
        for other in self._in_flight:
            theirs = other.footprint
            assert theirs is not None
            for a in mine:
                for b in theirs:
                    if (
                        a[0] == b[0]
                        and (a[5] or b[5])
                        and a[1] < b[2]
                        and b[1] < a[2]
                        and a[3] < b[4]
                        and b[3] < a[4]
                        and _really_overlap(row, a, other.row, b)
                    ):
                        raise RaceError(self._race_message(e, a, other, b))
        e.footprint = mine
        self._in_flight.append(e)

    def _race_message(
        self, e: _Engine | _Desc, a: _Touch, other: _Engine | _Desc, b: _Touch
    ) -> str:
        def who(x: _Engine | _Desc) -> str:
            row = x.row
            source = self._source(row)
            op = f", op '{source}'" if source is not None else ", no source op"
            return f"{x.name} instruction {x.pc} ({Opcode(row[_W_OP]).name}{op})"

        def what(t: _Touch) -> str:
            verb = "writes" if t[5] else "reads"
            return (
                f"{verb} {Space.from_code(t[0]).name} partitions [{t[1]}, {t[2]}) "
                f"bytes [{t[3]}, {t[4]}) ({t[6]})"
            )

        return (
            f"race at cycle {self.now:g}: {who(e)} {what(a)} while {who(other)}, "
            f"in flight since cycle {other.start:g}, {what(b)}"
        )

    # -- instruction fetch -------------------------------------------------

    def _maybe_fetch(self, e: _Engine) -> None:
        """Start e's next instruction fetch if records remain, none is on its way,
        and the ring has room for the block."""
        if e.fetching or e.requested >= e.n or e.pc >= e.n or e.ring_at >= 0:
            return
        count = min(e.block, e.n - e.requested)
        if e.requested + count - e.pc > e.capacity:
            return
        f = e.fetch
        f.first, f.count = e.requested, count
        f.addr = e.base + f.first * isa.RECORD_BYTES
        if f.first == 0:  # the host started the engine: the initial fill
            self.host_fetch_bytes += count * isa.RECORD_BYTES
        f.nbytes = count * isa.RECORD_BYTES
        f.start = self.now
        e.requested += count
        e.fetching = True
        self._push(self.now + self.chip.dma_fixed_latency_cycles, _FETCH_DATA, f)

    def _ring_entry(self, e: _Engine, section: int) -> np.ndarray:
        """Entry `section` of e's DMA ring as DRAM holds it now: int32 address, first
        record, record count."""
        at = e.ring_at + section * RING_ENTRY_BYTES
        return self.dram[at : at + RING_ENTRY_BYTES].view("<i4").astype(np.int64)

    def _refill(self, e: _Engine, section: int, host: bool = False) -> None:
        """e loads section `section` of its stream as its DMA ring's entry says: a
        transfer like an instruction fetch into the ring slots of those records.
        One load is on its way at a time; later ones wait their turn."""
        if e.fetching:
            e.pending.append(section)
            return
        addr, first, count = (int(v) for v in self._ring_entry(e, section))
        if not (
            0 <= first and 1 <= count <= e.slots // 2 and first + count <= e.n
            and 0 <= addr and addr + count * isa.RECORD_BYTES <= len(self.dram)
        ):
            raise ExecutionError(
                f"{e.name} REFILL of section {section}: its DMA ring entry (address "
                f"{addr}, records {first}..{first + count - 1}) is not a section of its "
                f"{e.n}-record stream in DRAM"
            )
        f = e.fetch
        f.first, f.count, f.addr = first, count, addr
        f.nbytes = count * isa.RECORD_BYTES
        f.start = self.now
        if host:
            self.host_fetch_bytes += f.nbytes
        else:
            self.refill_bytes += f.nbytes
        e.fetching = True
        self._push(self.now + self.chip.dma_fixed_latency_cycles, _FETCH_DATA, f)

    def _fetch_end(self, f: _Fetch) -> None:
        self._transfer_end(f)
        e = f.engine
        self._copy_fetched(e, f.first, f.count, f.addr)
        e.fetching = False
        if e.ring_at < 0:
            e.fetched = e.requested
        self.fetch_bytes += f.nbytes
        self.fetch_transfers += 1
        if self.fetch_trace is not None:
            self.fetch_trace.append(
                {
                    "engine": e.name,
                    "start": f.start,
                    "end": self.now,
                    "first": f.first,
                    "count": f.count,
                    "bytes": f.nbytes,
                }
            )
        if e.pending:
            self._refill(e, e.pending.popleft())
        if e.fetch_since >= 0 and (
            e.pc < e.fetched if e.ring_at < 0 else e.tags[e.pc % e.slots] == e.pc
        ):
            e.fetch_stall += self.now - self._outside_flight(e, e.fetch_since)
            self._stalled(e, "fetch", e.fetch_since)
            if self.nodes is not None:
                e.cause = ("fetch", (e.fetch_since, e.cause))
            e.fetch_since = -1.0
            self._issue(e)
        self._maybe_fetch(e)

    def _copy_fetched(self, e: _Engine, first: int, count: int, at: int) -> None:
        """Records [first, first + count) arrive from DRAM byte `at`: their bytes, as
        DRAM holds them now, go into e's ring. A record that differs from the
        binary's must be one the loader validated for e (any of its stream's) or a
        NOP: rewriting instruction memory cannot smuggle in an unchecked record."""
        got = self.dram[at : at + count * isa.RECORD_BYTES].view("<i4").reshape(count, -1)
        want = e.records[first : first + count]
        if not np.array_equal(got, want):
            if e.allowed is None:
                nop = isa.make_record(Opcode.NOP, e.eid)
                e.allowed = {r.tobytes() for r in e.records.astype("<i4")} | {nop.astype("<i4").tobytes()}
            for k in np.flatnonzero((got != want).any(axis=1)):
                if got[k].tobytes() not in e.allowed:
                    raise ExecutionError(
                        f"{e.name} fetched record {first + k} from DRAM byte "
                        f"{at + k * isa.RECORD_BYTES}: it is neither a record the loader "
                        "validated for this engine nor a NOP (instruction memory was "
                        "overwritten with an unchecked record)"
                    )
                self.overwritten += 1
        slots = np.arange(first, first + count) % e.slots
        e.buffer[slots] = got
        if e.ring_at >= 0:
            e.tags[slots] = np.arange(first, first + count)

    # -- DMA bandwidth sharing --------------------------------------------

    def _transfer_begin(self, t: _Transfer) -> None:
        """t's fixed latency is over: it joins the transfers sharing DRAM."""
        self._dma_settle()
        t.bytes_left = float(t.nbytes)
        self._dma_active.append(t)
        self._dma_reschedule()

    def _transfer_end(self, t: _Transfer) -> None:
        self._dma_settle()
        self._dma_active.remove(t)
        self._dma_reschedule()

    def _dma_end(self, t: _Transfer) -> None:
        """A descriptor's data has moved: apply it, then retire the queue's
        descriptors that are done, oldest first, each signalling as it retires (so
        a semaphore count covers every earlier descriptor of the queue), and let
        the queue issue into the freed slots."""
        self._transfer_end(t)
        e, d = t.engine, t.desc
        assert d is not None
        self.dma_bytes += t.nbytes
        e.dma_bytes += t.nbytes
        row = d.row
        if any(row[i] == _DRAM for _, i, _ in _ACCESSES[row[_W_OP]]):
            self.dma_dram_bytes += t.nbytes
        self._effect(d)
        d.done = True
        flight = e.flight
        while flight and flight[0].done:
            x = flight.popleft()
            e.count += 1
            self._record(x, x.row)
            if self.nodes is not None:
                x.node = self._node(x, x.row)
            self._signal(x.row[_W_SIGNAL])
        if flight:
            if e.full_since < 0 or len(flight) >= e.depth:
                return
            since, e.full_since = e.full_since, -1.0
            self._stalled(e, "queue", since)
        else:
            e.busy += self.now - e.active_since
            e.drained_at = self.now
            if e.full_since >= 0:
                since, e.full_since = e.full_since, -1.0
                self._stalled(e, "queue", since)
            elif e.drain_since >= 0:
                since, e.drain_since = e.drain_since, -1.0
                self._stalled(e, "drain", since)
            else:
                return
        if self.nodes is not None:  # the queue was full or draining: a retirement frees it
            e.cause = ("done", self._signaller)
        self._issue(e)

    def _dma_settle(self) -> None:
        """Charge every active transfer for the bytes it moved since its last update."""
        now = self.now
        for a in self._dma_active:
            a.bytes_left -= a.rate * (now - a.last)
            a.last = now

    def _dma_reschedule(self) -> None:
        """Split the DRAM bandwidth equally and re-time every active transfer."""
        active = self._dma_active
        if not active:
            return
        rate = self.chip.dram_bytes_per_cycle / len(active)
        for a in active:
            a.rate = rate
            a.last = self.now
            a.version += 1
            finish = self.now + max(a.bytes_left, 0.0) / rate
            self._push(finish, a.end_kind, a, a.version)

    # -- decoding ----------------------------------------------------------

    def _view(self, w: Row, i: int) -> np.ndarray:
        """The NumPy view of the access at word i of record w (no copy), made once
        per distinct access (its words) and kept: views only name memory, and
        semantics write through them, never reshape them in place."""
        key = tuple(w[i : i + _ACCESS_WORDS])
        view = self._views.get(key)
        if view is None:
            if len(self._views) >= _VIEWS_KEPT:
                self._views.clear()
            view = self._views[key] = self._new_view(w[i : i + _ACCESS_WORDS])
        return view

    def _new_view(self, a: Row) -> np.ndarray:
        """The view of access words `a` (space, pstart, offset, (stride, count) x 5).

        Trailing unused dims (stride 0, count 1) are dropped, as in
        `isa.Access.from_words`, so REDUCE's innermost dims are the real ones.
        """
        k = _DIMS
        while k > 1 and a[1 + 2 * k] == 0 and a[2 + 2 * k] == 1:
            k -= 1
        shape = a[4 : 4 + 2 * k : 2]
        if a[0] == _DRAM:
            strides = [4 * s for s in a[3 : 3 + 2 * k : 2]]
            return np.ndarray(shape, _F32, self.dram, a[2], strides)
        mem = self._onchip_rows[a[0]]
        row_bytes = mem.strides[0]
        strides = [row_bytes] + [4 * s for s in a[5 : 3 + 2 * k : 2]]
        return np.ndarray(shape, _F32, mem, a[1] * row_bytes + a[2], strides)

    def _scalar(self, w: Row, i: int, parts: int) -> float | np.ndarray:
        """A scalar field at word i (mode, imm, space, pstart, offset): an immediate,
        or a (parts, 1) column view."""
        if w[i] != _COLUMN:
            return isa.bits_f32(w[i + 1])
        mem = self._onchip[w[i + 2]]
        p0, col = w[i + 3], w[i + 4] // 4
        return mem[p0 : p0 + parts, col : col + 1]

    # -- per-instruction cost and effect, from the datasheet ----------------

    def _prepare(self, dec: _Decoder, w: Row) -> tuple[float, Action, dict[str, Any]]:
        """(cycles, action run at completion, access shapes) of record w: its fields
        decoded into views and values, its cost and semantics from its entry."""
        values: dict[str, Any] = {}
        shapes: dict[str, tuple[int, ...]] = {}
        views = self._views
        for name, kind, i, enum, of in dec.plan:
            if kind is _ACCESS:
                # As self._view(w, i), without the call.
                key = tuple(w[i : i + _ACCESS_WORDS])
                view = views.get(key)
                if view is None:
                    view = self._view(w, i)
                values[name] = view
                shapes[name] = view.shape
            elif kind is _ENUM:
                values[name] = enum.from_code(w[i])
            elif kind is _F32_KIND:
                values[name] = isa.bits_f32(w[i])
            elif kind is _SCALAR:
                values[name] = self._scalar(w, i, w[of + 4])
            else:
                values[name] = w[i]
        cost = dec.cost(self.chip, shapes, False)
        if dec.matmul:
            stationary = w[_STATIONARY : _STATIONARY + _ACCESS_WORDS]
            streaming = cost
            if stationary != self._pe_stationary:
                cost += matmul_load_cycles(self.chip, self._pe_behind)
                self._pe_stationary = stationary
                self._pe_weights = _box(w, _STATIONARY)
            self._pe_behind = streaming
        if dec.macs is not None:
            self.macs += dec.macs(shapes)
        if dec.opcode == _OVERWRITE:
            # The DMA engine reads the flag first: while the loop goes on it copies
            # nothing, which costs a descriptor's fixed latency only.
            if float(values["flag"].reshape(-1)[0]) != 0.0:
                return self.chip.dma_fixed_latency_cycles, _nothing, shapes
            self.overwrites += 1
        if dec.semantics is not None:
            if dec.opcode == _ACT:
                values["lut"] = self._luts
            elif dec.opcode in _RNG_LANE0:
                values["rng"] = self._rng
                values["lane0"] = w[_RNG_LANE0[dec.opcode]]
            return cost, partial(dec.semantics, values, w[_W_FLAGS]), shapes
        if dec.opcode == _SIGNAL:
            return cost, partial(self._signal, values["sem"]), shapes
        return cost, _nothing, shapes

    # -- results -----------------------------------------------------------

    def _stats(self) -> dict[str, Any]:
        chip = self.chip
        cycles = _whole_cycles(self.end)
        by_name = {e.name: e for e in self.engines}
        engines: dict[str, dict[str, Any]] = {}
        for name in engine_names(chip):
            e = by_name.get(name)
            busy, fetch, sem = (e.busy, e.fetch_stall, e.sem_wait) if e else (0, 0, 0)
            # Rounded cumulatively so that busy + stall + idle == cycles exactly.
            busy_c = _whole_cycles(busy)
            fetch_c = _whole_cycles(busy + fetch) - busy_c
            sem_c = _whole_cycles(busy + fetch + sem) - busy_c - fetch_c
            stats_e: dict[str, Any] = {
                "busy_cycles": busy_c,
                "stall_cycles": fetch_c + sem_c,
                "idle_cycles": cycles - busy_c - fetch_c - sem_c,
                "fetch_stall_cycles": fetch_c,
                "semaphore_wait_cycles": sem_c,
                "busy_fraction": busy_c / cycles if cycles else 0.0,
                "instructions": e.count if e else 0,
                "wait_instructions": e.waits if e else 0,
            }
            if engine_kind(engine_from_name(name)) is EngineKind.DMA:
                stats_e["dma_bytes"] = e.dma_bytes if e else 0
            engines[name] = stats_e
        pe_per_cycle = chip.pe_rows * chip.pe_cols
        peak = cycles * pe_per_cycle
        moved_roofline = max(
            self.macs / pe_per_cycle, self.dma_dram_bytes / chip.dram_bytes_per_cycle
        )
        stats: dict[str, Any] = {
            "cycles": cycles,
            "seconds": cycles / chip.clock_hz,
            "macs": self.macs,
            "dma_bytes": self.dma_bytes,
            "dma_dram_bytes": self.dma_dram_bytes,
            "dma_bytes_per_queue": {
                n: s["dma_bytes"] for n, s in engines.items() if "dma_bytes" in s
            },
            "instructions": {name: s["instructions"] for name, s in engines.items()},
            "wait_instructions": sum(s["wait_instructions"] for s in engines.values()),
            "engines": engines,
            "pe_mac_utilization": self.macs / peak if peak else 0.0,
            "moved_roofline_cycles": _whole_cycles(moved_roofline),
            "fetch_stall_cycles": sum(s["fetch_stall_cycles"] for s in engines.values()),
            "semaphore_wait_cycles": sum(
                s["semaphore_wait_cycles"] for s in engines.values()
            ),
            "instr_fetch": {
                "bytes": self.fetch_bytes,
                "transfers": self.fetch_transfers,
                # fetched records that differed from the binary's (rewritten in DRAM)
                "overwritten_records": self.overwritten,
                # OVERWRITE instructions that copied (a loop's early exit taken)
                "overwrites": self.overwrites,
                # loaded because the host started a run (the first blocks or sections)
                # and, with self-refill, by the engines' own REFILLs
                "host_bytes": self.host_fetch_bytes,
                "refill_bytes": self.refill_bytes,
            },
            "chip": chip.name,
        }
        if len(self.runs) > 1:  # Machine.rerun: each run's cycles and host loads
            stats["runs"] = [dict(r) for r in self.runs]
        model = self.program.meta.get("model")
        if isinstance(model, dict):  # the decoder checked its form
            stats.update(ideal_stats(model, cycles, self.dma_dram_bytes, chip))
        if self.check_races:
            stats["race_check"] = {"accesses": self.race_accesses}
        if self.nodes is not None:
            stats["critical_path"] = critical.critical_path(
                self.nodes, self.program.debug, lambda op: Opcode(op).name, self._run_start
            )
        if self.trace is not None:
            stats["trace"] = self.trace
            stats["fetch_trace"] = self.fetch_trace
            stats["stall_trace"] = self.stall_trace
        return stats


def ideal_stats(
    model: Mapping[str, int], cycles: int, dma_dram_bytes: int, chip: ChipConfig
) -> dict[str, Any]:
    """The stats that compare a run with the model's ideal roofline, from the
    model's work as META "model" holds it (macs, weight_bytes, input_bytes,
    output_bytes, counted on the graph) and the run's cycles and DRAM bytes:

        ideal = ceil(max(macs / (pe_rows * pe_cols),
                         (weight + input + output bytes) / dram_bytes_per_cycle))

    A ratio whose denominator is 0 is 0.0, as `pe_mac_utilization` for 0 cycles."""
    pe_per_cycle = chip.pe_rows * chip.pe_cols
    min_bytes = model["weight_bytes"] + model["input_bytes"] + model["output_bytes"]
    compute = model["macs"] / pe_per_cycle
    memory = min_bytes / chip.dram_bytes_per_cycle
    ideal = math.ceil(max(compute, memory))
    return {
        "model_macs": model["macs"],
        "model_min_dram_bytes": min_bytes,
        "ideal_roofline_cycles": ideal,
        "ideal_bound": "compute" if compute >= memory else "memory",
        "ideal_ratio": cycles / ideal if ideal else 0.0,
        "model_mac_utilization": model["macs"] / (cycles * pe_per_cycle) if cycles else 0.0,
        "dram_over_min": dma_dram_bytes / min_bytes if min_bytes else 0.0,
    }


def _io_shape(entry: Mapping[str, object]) -> tuple[int, ...]:
    shape = entry["shape"]
    assert isinstance(shape, list)  # the loader checked the IO table
    return tuple(int(d) for d in shape)


def _io_addr(entry: Mapping[str, object]) -> int:
    addr = entry["addr"]
    assert isinstance(addr, int)
    return addr


def _nothing() -> None:
    return


def run_program(
    program: isa.Program,
    inputs: Mapping[str, np.ndarray],
    chip: ChipConfig | None = None,
    *,
    trace: bool = False,
    check_races: bool = False,
    blas_threads: int | None = None,
    critical_path: bool = False,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Load `program` on `chip` (default: the preset the binary names), run it on
    `inputs` and return (outputs by name, stats).

    With `trace`, stats["trace"] lists every instruction's engine, index, opcode,
    start, end (cycles) and source (its debug-table string, or None);
    stats["fetch_trace"] every instruction fetch (engine, start, end, first record,
    count, bytes); stats["stall_trace"] every stall (engine, index of the
    instruction held back, kind "fetch" or "semaphore", start, end, semaphore).
    With `check_races`, overlapping SBUF/PSUM accesses in flight on two engines at
    once, one of them a write, raise `RaceError`, and stats["race_check"] counts the
    on-chip accesses checked (`{"accesses": n}`). With `critical_path`,
    stats["critical_path"] is the run's critical path (`tidal.sim.critical`): its
    cycles per engine and its source ops with the most. NumPy's BLAS runs on
    `blas_threads` threads during the run (None: one; see `Machine.run`)."""
    if chip is None:
        try:
            chip = get_chip(program.chip)
        except UnknownChipError as err:
            raise LoadError(str(err)) from None
    machine = Machine(program, chip, trace=trace, check_races=check_races, critical_path=critical_path)
    machine.load_inputs(inputs)
    stats = machine.run(blas_threads)
    return machine.read_outputs(), stats

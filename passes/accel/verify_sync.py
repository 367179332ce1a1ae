"""accel-verify-sync: prove that a program's semaphores synchronise its engines.

Changes nothing. Checks an `accel.program` (unified order or split into streams) or
a decoded binary (`tidal.sim.isa.Program`, what tidal-sim runs) for the three ways
its signals and waits can be wrong, and reports the engine, the instruction (its
index in the engine's expanded stream, as the binary and the hardware model count
it) and the source op:

- a wait that nothing can satisfy: the whole program signals its semaphore fewer
  times than the wait's value (in some iteration of its repeats);
- a deadlock: engines stuck at waits whose signals sit behind other stuck waits;
- a race: two instructions that touch a common byte (SBUF, PSUM or DRAM), at least
  one writing, with no chain of signals and waits that orders them.

The program is run abstractly, counts only: every engine goes through its expanded
stream in order and passes a wait once the semaphore's count reaches the value;
signals count at completion. Counts only ever grow, so this run reaches every wait
that any execution reaches, and an engine left at a wait is stuck in every
execution. The same run gives happens-before as vector clocks (per engine, how many
of its instructions have surely completed): a compute engine (pe, act, pool) runs
one instruction at a time; a DMA queue issues in order with up to
`chip.dma_queue_depth` descriptors in flight, retires them (counts, signals) in
program order, and a wait in it holds back only the queue's later instructions (any
other instruction, a signal or a halt, issues once every earlier descriptor retired);
a wait on semaphore s >= v surely follows the k-th signal of s by
engine B when the other engines signal s fewer than v - k + 1 times in all. Two
instructions race when neither's clock covers the other and their exact footprints
(`tidal.passes.analysis.footprint`) meet; only concurrent pairs are compared, as a
band per pair of engines, bounding boxes in NumPy first.

    problems = verify_sync(program_op, get_chip("default"))   # [] when synchronised
    $ tidal-opt prog.mlir -p accel-verify-sync
    tidal-opt: error: prog.mlir:5:5: accel-verify-sync: race: act instruction 0
    (accel.act) reads sbuf partitions [0, 32) bytes [0, 16) while dma0 instruction 0
    (accel.dma) writes sbuf partitions [0, 32) bytes [0, 16), and no wait orders them
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
from tidal.dialects.accel import (
    Aff,
    InstructionOp,
    ProgramOp,
    RepeatOp,
    SignalOp,
    WaitOp,
)
from tidal.passes.analysis.footprint import ELEM_BYTES, Footprint, Term, overlaps
from tidal.passes.utils.expect import PassInputError, accel_programs
from tidal.sim import isa
from tidal.sim.config import ChipConfig, UnknownChipError, get_chip
from tidal.sim.spec import INSTRUCTIONS, Kind, Opcode, Role, ScalarMode, Space
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, Operation
from xdsl.passes import ModulePass

# One memory access of an instruction instance: space code, partition start, byte
# offset, (stride, count) dims in elements (dim 0 the partitions on chip), written?
Access = tuple[int, int, int, tuple[tuple[int, int], ...], bool]
Clock = tuple[int, ...]

_DRAM = Space.DRAM.code
_PAIR_CHUNK = 1 << 20  # candidate access pairs tested in NumPy at once
_MAX_PROBLEMS = 20


@dataclass(frozen=True)
class SyncProblem:
    """One thing wrong: `kind` is unsatisfied, deadlock or race; `instructions` the
    (engine, index in its expanded stream) it names, `op` the IR op of the first
    (None for a decoded binary)."""

    kind: str
    message: str
    instructions: tuple[tuple[str, int], ...]
    op: Operation | None = None

    def __str__(self) -> str:
        return self.message


class SyncError(Exception):
    """Raised by callers that want the problems as an exception (its message is
    the first one's)."""

    def __init__(self, problems: list[SyncProblem]) -> None:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{problems[0]}{more}")
        self.problems = problems


@dataclass
class _Stream:
    """One engine's expanded stream: per instance its wait (semaphore, value), the
    semaphores it signals, whether it takes a DMA queue slot (a descriptor), its
    accesses and what names it in messages."""

    engine: str
    waits: list[tuple[int, int] | None] = field(default_factory=list)
    # True for a WAIT instruction, False for one that only carries a folded wait
    # (it issues once the wait holds, then runs as any other instruction).
    pure: list[bool] = field(default_factory=list)
    signals: list[tuple[int, ...]] = field(default_factory=list)
    slots: list[bool] = field(default_factory=list)
    accesses: list[tuple[Access, ...]] = field(default_factory=list)
    refs: list[tuple[object, tuple[int, ...]]] = field(default_factory=list)

    @property
    def is_dma(self) -> bool:
        return self.engine.startswith("dma")


# ---------------------------------------------------------------------------
# Front ends: IR (either form) and decoded binaries
# ---------------------------------------------------------------------------

_Template = tuple[
    tuple[int, Aff] | None,
    tuple[int, ...],
    bool,
    tuple[tuple[int, Aff, Aff, tuple[tuple[int, int], ...], bool], ...],
]


def _op_template(op: InstructionOp) -> _Template:
    wait = (op.sem.value.data, op.value.data) if isinstance(op, WaitOp) else op.wait
    signals = () if op.signal is None else (op.signal.value.data,)
    if isinstance(op, SignalOp):
        signals = (op.sem.value.data, *signals)
    writes = op.writes()
    accesses = tuple(
        (Space(ap.space).code, ap.pstart, ap.offset, ap.dims, ap in writes)
        for ap in op.accesses()
    )
    return wait, signals, op.name == "accel.dma", accesses


def _at(aff: Aff, idx: tuple[int, ...]) -> int:
    return aff.base + sum(s * i for s, i in zip(aff.steps, idx))


def _expand(
    block: Block, idx: tuple[int, ...]
) -> Iterator[tuple[InstructionOp, tuple[int, ...]]]:
    for op in block.ops:
        if isinstance(op, RepeatOp):
            for i in range(op.count):
                yield from _expand(op.body.block, (*idx, i))
        elif isinstance(op, InstructionOp):
            yield op, idx


EXPANDED_MAX = 1 << 20
"""The most instructions an accel.program may run, its repeats expanded, for the
checker to run it abstractly (about 1.3 KB and 40 us of the checker's each: 1.3 GB
and 40 s at this bound); the zoo's largest runs tens of thousands."""


def expanded_count(block: Block, times: int = 1) -> int:
    """How many instructions `block` runs, its repeats expanded, `times` over."""
    n = 0
    for op in block.ops:
        if isinstance(op, RepeatOp):
            n += expanded_count(op.body.block, times * op.count)
        elif isinstance(op, InstructionOp):
            n += times
    return n


def _ir_streams(program: ProgramOp) -> list[_Stream]:
    """The engines' expanded streams of an accel.program, split or not (a unified
    order's engine stream is its instructions of that engine, in order). Raises
    PassInputError when they would hold more than EXPANDED_MAX instructions."""
    blocks = [s.body.block for s in program.streams] or [program.body.block]
    total = sum(expanded_count(b) for b in blocks)
    if total > EXPANDED_MAX:
        raise PassInputError(
            f"the program runs {total:,} instructions once its repeats are expanded, more "
            f"than the synchronisation checker's {EXPANDED_MAX:,}",
            program,
        )
    streams: dict[str, _Stream] = {}
    templates: dict[int, _Template] = {}
    for block in blocks:
        for op, idx in _expand(block, ()):
            t = templates.get(id(op))
            if t is None:
                t = templates[id(op)] = _op_template(op)
            engine = op.engine_name()
            st = streams.get(engine)
            if st is None:
                st = streams[engine] = _Stream(engine)
            wait, signals, slot, accesses = t
            st.waits.append(None if wait is None else (wait[0], _at(wait[1], idx)))
            st.pure.append(isinstance(op, WaitOp))
            st.signals.append(signals)
            st.slots.append(slot)
            st.accesses.append(
                tuple((c, _at(p, idx), _at(o, idx), d, w) for c, p, o, d, w in accesses)
            )
            st.refs.append((op, idx))
    return sorted(streams.values(), key=lambda s: isa.engine_from_name(s.engine))


def _record_plan(opcode: Opcode) -> tuple[tuple[int, bool, int], ...]:
    """(word, written?, -1) of each access field of an opcode's records, and
    (mode word, False, word of the access it covers) of each scalar field."""
    entry = INSTRUCTIONS[opcode]
    lay = entry.layout
    out = [(lay[f.name], f.role is Role.WRITE, -1) for f in entry.accesses]
    out += [
        (lay[f"{f.name}_mode"], False, lay[f.of])
        for f in entry.fields
        if f.kind is Kind.SCALAR
    ]
    return tuple(out)


def _record_streams(program: isa.Program) -> list[_Stream]:
    """The engines' streams of a decoded binary (already expanded)."""
    plans = {op: _record_plan(op) for op in INSTRUCTIONS}
    wait_sem = INSTRUCTIONS[Opcode.WAIT].layout["sem"]
    wait_value = INSTRUCTIONS[Opcode.WAIT].layout["value"]
    signal_sem = INSTRUCTIONS[Opcode.SIGNAL].layout["sem"]
    column = ScalarMode.COLUMN.code
    out: list[_Stream] = []
    for engine in sorted(program.streams):
        st = _Stream(isa.engine_name(engine))
        for row in program.streams[engine].tolist():
            op = row[isa.W_OPCODE]
            sig = row[isa.W_SIGNAL]
            signals = () if sig < 0 else (sig,)
            if op == Opcode.SIGNAL:
                signals = (row[signal_sem], *signals)
            accesses: list[Access] = []
            for i, write, of in plans[op]:
                if of < 0:  # space, pstart, offset, then (stride, count) pairs
                    end = i + 3 + 2 * isa.ACCESS_DIMS
                    dims = tuple(zip(row[i + 3 : end : 2], row[i + 4 : end + 1 : 2]))
                    accesses.append((row[i], row[i + 1], row[i + 2], dims, write))
                elif row[i] == column:  # mode, imm, space, pstart, offset
                    dims = ((1, row[of + 4]), (1, 1))
                    accesses.append((row[i + 2], row[i + 3], row[i + 4], dims, False))
            if op == Opcode.WAIT:
                st.waits.append((row[wait_sem], row[wait_value]))
            elif row[isa.W_WAIT_SEM] >= 0:
                st.waits.append((row[isa.W_WAIT_SEM], row[isa.W_WAIT_VALUE]))
            else:
                st.waits.append(None)
            st.pure.append(op == Opcode.WAIT)
            st.signals.append(signals)
            st.slots.append(op == Opcode.DMA)
            st.accesses.append(tuple(accesses))
            debug = row[isa.W_DEBUG]
            source = program.debug[debug] if 0 <= debug < len(program.debug) else None
            st.refs.append(((Opcode(op).name, source), ()))
        out.append(st)
    return out


def _describe(st: _Stream, k: int) -> tuple[str, Operation | None]:
    ref, idx = st.refs[k]
    if isinstance(ref, InstructionOp):
        origin = f", op '{ref.origin.data}'" if ref.origin is not None else ""
        at = ", ".join(f"i{n}={i}" for n, i in enumerate(idx))
        at = f", at {at}" if at else ""
        return f"{st.engine} instruction {k} ({ref.name}{origin}{at})", ref
    assert isinstance(ref, tuple)
    name, source = ref
    origin = f", op '{source}'" if source is not None else ""
    return f"{st.engine} instruction {k} ({name}{origin})", None


# ---------------------------------------------------------------------------
# The abstract run: unsatisfiable waits, deadlocks, happens-before
# ---------------------------------------------------------------------------


def _join(a: Clock, b: Clock) -> Clock:
    return tuple(map(max, a, b))


def _with(c: Clock, e: int, n: int) -> Clock:
    return (*c[:e], n, *c[e + 1 :])


def _unsatisfiable(streams: list[_Stream], totals: dict[int, int]) -> list[SyncProblem]:
    out: list[SyncProblem] = []
    for st in streams:
        for k, w in enumerate(st.waits):
            if w is not None and w[1] > totals.get(w[0], 0):
                who, op = _describe(st, k)
                given = totals.get(w[0], 0)
                why = (
                    f"the whole program signals semaphore {w[0]} only {given} times"
                    if given
                    else f"no instruction signals semaphore {w[0]}"
                )
                out.append(
                    SyncProblem(
                        "unsatisfied",
                        f"{who} waits for semaphore {w[0]} >= {w[1]}, but {why}",
                        ((st.engine, k),),
                        op,
                    )
                )
                break  # the first per engine: the rest of the stream never runs
    return out


def _run(
    streams: list[_Stream], depth: int, implied: set[tuple[int, int]] | None = None
) -> tuple[list[list[Clock]], list[SyncProblem]]:
    """Run the streams abstractly; (clock at each instruction's start, per engine),
    and the deadlock found, if any. `implied` collects (engine, index) of every wait
    instance that orders nothing its engine's clock did not already order."""
    n = len(streams)
    sig_at: dict[int, list[list[int]]] = {}  # semaphore -> per engine, signalling k
    for e, st in enumerate(streams):
        for k, sems in enumerate(st.signals):
            for s in sems:
                sig_at.setdefault(s, [[] for _ in range(n)])[e].append(k)
    totals = {s: sum(map(len, per)) for s, per in sig_at.items()}
    zero: Clock = (0,) * n
    start: list[list[Clock]] = [[] for _ in range(n)]
    retire: list[list[Clock]] = [[] for _ in range(n)]
    after: list[Clock] = [zero] * n  # what the engine's next instruction inherits
    slots: list[list[int]] = [[] for _ in range(n)]
    count: dict[int, int] = {}
    parked: dict[int, list[tuple[int, int]]] = {}  # semaphore -> (value, engine)
    ready = list(range(n))
    while ready:
        e = ready.pop()
        st = streams[e]
        dma = st.is_dma
        for k in range(len(start[e]), len(st.waits)):
            clock = after[e]
            w = st.waits[k]
            pure = st.pure[k]
            if dma and st.slots[k] and len(slots[e]) >= depth:  # a slot frees
                clock = _join(clock, retire[e][slots[e][-depth]])
            elif dma and k and not pure and not st.slots[k]:  # a signal, a halt:
                clock = _join(clock, retire[e][k - 1])  # after every descriptor
            done = clock
            if w is not None:
                s, v = w
                if count.get(s, 0) < v:
                    parked.setdefault(s, []).append((v, e))
                    break
                for b, ks in enumerate(sig_at.get(s, ())):
                    g = v - (totals[s] - len(ks))  # B's signals surely counted
                    if g >= 1:
                        done = _join(done, retire[b][ks[g - 1]])
                if implied is not None and pure and done == clock:
                    implied.add((e, k))
            # A folded wait's instruction starts once its wait holds.
            start[e].append(clock if pure else done)
            if dma:
                prev = retire[e][k - 1] if k else zero
                retire[e].append(_with(_join(done, prev), e, k + 1))
                if st.slots[k]:  # issued: the next one issues after it
                    slots[e].append(k)
                    after[e] = done
                else:  # a wait (or signal, nop) holds back the later instructions
                    after[e] = done
            else:
                after[e] = _with(done, e, k + 1)
                retire[e].append(after[e])
            for s in st.signals[k]:
                c = count[s] = count.get(s, 0) + 1
                waiters = parked.get(s)
                if waiters:
                    ready += [x for v, x in waiters if v <= c]
                    parked[s] = [(v, x) for v, x in waiters if v > c]
    stuck = [e for e in range(n) if len(start[e]) < len(streams[e].waits)]
    if not stuck:
        return start, []
    parts: list[str] = []
    first: Operation | None = None
    for e in stuck:
        st = streams[e]
        k = len(start[e])
        wait = st.waits[k]
        assert wait is not None  # only a wait stops an engine
        s, v = wait
        who, op = _describe(st, k)
        first = first or op
        behind = [
            streams[b].engine
            for b in stuck
            if any(j >= len(start[b]) for j in sig_at[s][b])
        ]
        parts.append(
            f"{who} waits for semaphore {s} >= {v}, which stays at "
            f"{count.get(s, 0)}: the signals it lacks come after the stuck wait of "
            f"{', '.join(behind)}"
        )
    named = tuple((streams[e].engine, len(start[e])) for e in stuck)
    message = "deadlock: " + "; ".join(parts)
    return start, [SyncProblem("deadlock", message, named, first)]


# ---------------------------------------------------------------------------
# Races: concurrent pairs with overlapping bytes
# ---------------------------------------------------------------------------


@dataclass
class _Table:
    """Every access of one engine as NumPy columns, in instruction order; `first[k]`
    is the row of instruction k's first access."""

    inst: np.ndarray
    cols: np.ndarray  # (rows, 6): space, p0, p1, b0, b1, written
    first: np.ndarray
    rows: list[Access]

    @staticmethod
    def of(st: _Stream) -> _Table:
        inst: list[int] = []
        cols: list[tuple[int, int, int, int, int, int]] = []
        rows: list[Access] = []
        for k, accesses in enumerate(st.accesses):
            for a in accesses:
                space, p, off, dims, write = a
                if space == _DRAM:
                    p0, p1, free = 0, 1, dims
                else:
                    p0, p1, free = p, p + dims[0][1], dims[1:]
                lo = hi = off
                for s, c in free:
                    reach = ELEM_BYTES * s * (c - 1)
                    if reach < 0:
                        lo += reach
                    else:
                        hi += reach
                inst.append(k)
                cols.append((space, p0, p1, lo, hi + ELEM_BYTES, int(write)))
                rows.append(a)
        arr = np.array(cols, dtype=np.int64).reshape(-1, 6)
        insts = np.array(inst, dtype=np.int64)
        first = np.searchsorted(insts, np.arange(len(st.accesses) + 1))
        return _Table(insts, arr, first, rows)


def _footprint(a: Access) -> Footprint:
    space, p, off, dims, _ = a
    if space == _DRAM:
        free = tuple(Term(0, ELEM_BYTES * s, c) for s, c in dims)
    else:
        free = (Term(1, 0, dims[0][1]),)
        free += tuple(Term(0, ELEM_BYTES * s, c) for s, c in dims[1:])
    return Footprint(Space.from_code(space).value, p, off, free, ())


def _candidates(
    ta: _Table, tb: _Table, lo: np.ndarray, hi: np.ndarray
) -> Iterator[tuple[int, int]]:
    """(row of a, row of b) whose instructions are concurrent (b's instruction in
    [lo, hi) of a's) and whose boxes meet, one of them writing."""
    if not len(ta.inst) or not len(tb.inst):
        return
    begin = tb.first[lo[ta.inst]]
    end = tb.first[np.maximum(hi, lo)[ta.inst]]
    counts = end - begin
    rows = np.flatnonzero(counts)
    if not len(rows):
        return
    cum = np.cumsum(counts[rows])
    at = 0
    while at < len(rows):
        base = cum[at - 1] if at else 0
        stop = int(np.searchsorted(cum, base + _PAIR_CHUNK, side="right"))
        stop = max(stop, at + 1)
        chunk = rows[at:stop]
        n = counts[chunk]
        ia = np.repeat(chunk, n)
        offsets = np.repeat(np.cumsum(n) - n, n)
        ib = np.repeat(begin[chunk], n) + (np.arange(int(n.sum())) - offsets)
        a, b = ta.cols[ia], tb.cols[ib]
        meet = (
            (a[:, 0] == b[:, 0])
            & ((a[:, 5] | b[:, 5]) == 1)
            & (a[:, 1] < b[:, 2])
            & (b[:, 1] < a[:, 2])
            & (a[:, 3] < b[:, 4])
            & (b[:, 3] < a[:, 4])
        )
        yield from zip(ia[meet].tolist(), ib[meet].tolist())
        at = stop


def _races(
    streams: list[_Stream], start: list[list[Clock]], depth: int
) -> list[SyncProblem]:
    tables = [_Table.of(st) for st in streams]
    clocks = [np.array(c, dtype=np.int64).reshape(-1, len(streams)) for c in start]
    prints: dict[tuple[int, int], Footprint] = {}

    def exact(e: int, row: int) -> Footprint:
        f = prints.get((e, row))
        if f is None:
            f = prints[e, row] = _footprint(tables[e].rows[row])
        return f

    out: list[SyncProblem] = []
    for a, sa in enumerate(streams):
        n = len(sa.waits)
        for b in range(a, len(streams)):
            if b == a and not (sa.is_dma and depth > 1):
                continue  # a compute engine, or a queue of depth 1: in order
            lo = clocks[a][:, b]
            if b == a:
                hi = np.arange(n)
            else:
                hi = np.searchsorted(clocks[b][:, a], np.arange(n), side="right")
            seen: set[tuple[int, int]] = set()
            for x, y in _candidates(tables[a], tables[b], lo, hi):
                i, j = int(tables[a].inst[x]), int(tables[b].inst[y])
                if (i, j) in seen or not overlaps(exact(a, x), exact(b, y)):
                    continue
                seen.add((i, j))
                out.append(_race(streams, tables, (a, x), (b, y)))
                if len(out) >= _MAX_PROBLEMS:
                    return out
    return out


def _race(
    streams: list[_Stream], tables: list[_Table], x: tuple[int, int], y: tuple[int, int]
) -> SyncProblem:
    def side(e: int, row: int) -> tuple[str, Operation | None]:
        t = tables[e]
        space, p0, p1, b0, b1, w = t.cols[row].tolist()
        who, op = _describe(streams[e], int(t.inst[row]))
        what = "partitions" if space != _DRAM else ""
        where = f"partitions [{p0}, {p1}) " if what else ""
        verb = "writes" if w else "reads"
        return (
            f"{who} {verb} {Space.from_code(space).value} {where}bytes [{b0}, {b1})",
            op,
        )

    (first, op), (second, _) = side(*x), side(*y)
    named = tuple((streams[e].engine, int(tables[e].inst[row])) for e, row in (x, y))
    message = f"race: {first} while {second}, and no wait orders them"
    return SyncProblem("race", message, named, op)


# ---------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------


def _totals(streams: list[_Stream]) -> dict[int, int]:
    """How many times the whole program signals each semaphore."""
    totals: dict[int, int] = {}
    for st in streams:
        for sems in st.signals:
            for s in sems:
                totals[s] = totals.get(s, 0) + 1
    return totals


def _check(streams: list[_Stream], chip: ChipConfig) -> list[SyncProblem]:
    problems = _unsatisfiable(streams, _totals(streams))
    if problems:
        return problems
    depth = chip.dma_queue_depth
    start, problems = _run(streams, depth)
    if problems:
        return problems
    return _races(streams, start, depth)


def verify_sync(
    program: ProgramOp | isa.Program, chip: ChipConfig | None = None
) -> list[SyncProblem]:
    """Every synchronisation problem of `program` (an accel.program, unified or
    split, or a decoded binary) on `chip` (default: the preset it names), [] when
    there is none; see the module docstring. Raises UnknownChipError for an unknown
    preset."""
    if isinstance(program, ProgramOp):
        chip = chip or get_chip(program.chip.data)
        return _check(_ir_streams(program), chip)
    chip = chip or get_chip(program.chip)
    return _check(_record_streams(program), chip)


def implied_waits(program: ProgramOp, chip: ChipConfig | None = None) -> set[WaitOp]:
    """The wait ops of `program` none of whose instances orders anything: at each,
    the engine already follows, through earlier waits and the signals behind them,
    every instruction the wait would make it follow. Erasing them all changes no
    instruction's happens-before (each one's contribution was already in the clock
    it joins), so a program that `verify_sync` passes still passes. Empty for a
    program with a wait nothing can satisfy or that deadlocks (accel-verify-sync
    reports those)."""
    chip = chip or get_chip(program.chip.data)
    streams = _ir_streams(program)
    if _unsatisfiable(streams, _totals(streams)):
        return set()
    implied: set[tuple[int, int]] = set()
    _, problems = _run(streams, chip.dma_queue_depth, implied)
    if problems:
        return set()
    always: dict[int, bool] = {}
    ops: dict[int, WaitOp] = {}
    for e, st in enumerate(streams):
        for k, (op, _) in enumerate(st.refs):
            if isinstance(op, WaitOp):
                ops[id(op)] = op
                always[id(op)] = always.get(id(op), True) and (e, k) in implied
    return {ops[i] for i, yes in always.items() if yes}


def checked(run: Callable[..., object]) -> Callable[..., object]:
    """`run` (as `tidal.sim.machine.run_program(program, inputs, chip, ...)`) that
    first proves the binary's synchronisation, raising SyncError if it is wrong."""

    def run_checked(program: isa.Program, *args: object, **kwargs: object) -> object:
        chip = args[1] if len(args) > 1 else kwargs.get("chip")
        problems = verify_sync(program, chip if isinstance(chip, ChipConfig) else None)
        if problems:
            raise SyncError(problems)
        return run(program, *args, **kwargs)

    return run_checked


@dataclass(frozen=True)
class AccelVerifySyncPass(ModulePass):
    """Fail, naming engine, instruction and op, on an unsatisfiable wait, a
    deadlock or a race; change nothing."""

    name = "accel-verify-sync"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for program in accel_programs(op, self.name):
            try:
                problems = verify_sync(program)
            except UnknownChipError as e:
                raise PassInputError(f"{self.name}: {e}", program) from None
            if problems:
                raise PassInputError(
                    f"{self.name}: {SyncError(problems)}", problems[0].op or program
                )

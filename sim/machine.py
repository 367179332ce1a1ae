"""The event-driven hardware model of the Tidal accelerator.

Time jumps from event to event on a heap; there is no loop over cycles. Each engine
(PE, ACT, POOL, one per DMA queue) runs its instruction stream in order, one
instruction at a time: it issues an instruction, the instruction's cost (from the
`ChipConfig` and its operand sizes) schedules a completion event, and at completion
the functional effect is computed with NumPy on the modelled memories, the signal
semaphore is incremented and the next instruction issues. A WAIT whose semaphore is
too low parks the engine until a signal raises it. DMA descriptors pay a fixed latency
and then share the DRAM bandwidth equally with every other transfer in its data phase
(processor sharing); a start or finish re-times the others through versioned events,
so stale finish events are simply dropped.

Instructions are decoded straight from their int32 words (see `tidal.sim.isa`); the
loader (`tidal.sim.loader`) has already checked every field, so nothing here
re-validates.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from tidal.sim import isa
from tidal.sim.config import ChipConfig, UnknownChipError, get_chip
from tidal.sim.errors import (
    DeadlockError,
    ExecutionError,
    InputError,
    LoadError,
    SimError,
)
from tidal.sim.isa import Opcode, Space
from tidal.sim.loader import validate_program

__all__ = [
    "DeadlockError",
    "ExecutionError",
    "InputError",
    "LoadError",
    "Machine",
    "SimError",
    "run_program",
]

# Event kinds.
_DONE = 0  # an instruction completes
_DMA_DATA = 1  # a DMA descriptor's fixed latency is over: its data phase starts
_DMA_END = 2  # a DMA data phase may be over (if its version is still current)

_F32 = np.float32
_DIMS = isa.ACCESS_DIMS
_W_OP, _W_FLAGS, _W_SIGNAL, _W_DEBUG = (
    isa.W_OPCODE,
    isa.W_FLAGS,
    isa.W_SIGNAL,
    isa.W_DEBUG,
)
_OPS = isa.OPERANDS

_ACT_FUNCS: dict[int, Callable[[np.ndarray], np.ndarray]] = {
    isa.ActFunc.IDENTITY: lambda y: y,
    isa.ActFunc.RELU: lambda y: np.maximum(y, _F32(0)),
    isa.ActFunc.EXP: np.exp,
    isa.ActFunc.RECIPROCAL: np.reciprocal,
    isa.ActFunc.SIGMOID: lambda y: _F32(1) / (_F32(1) + np.exp(-y)),
    isa.ActFunc.TANH: np.tanh,
}
_ALU_OPS: dict[int, np.ufunc] = {
    isa.AluOp.ADD: np.add,
    isa.AluOp.SUB: np.subtract,
    isa.AluOp.MUL: np.multiply,
    isa.AluOp.MAX: np.maximum,
    isa.AluOp.MIN: np.minimum,
}

Action = Callable[[], None]


class _Engine:
    """The run state of one engine and, for a DMA queue, of its current transfer."""

    __slots__ = (
        "action",
        "busy",
        "bytes_left",
        "count",
        "eid",
        "last",
        "name",
        "nbytes",
        "pc",
        "rate",
        "rows",
        "start",
        "version",
        "waiting",
    )

    def __init__(self, eid: int, rows: list[list[int]]) -> None:
        self.eid = eid
        self.name = isa.engine_name(eid)
        self.rows = rows
        self.pc = 0
        self.start = 0.0  # when the current instruction started running
        self.busy = 0.0
        self.count = 0
        self.waiting: tuple[int, int] | None = None  # (semaphore, value) when parked
        self.action: Action | None = None
        self.nbytes = 0
        self.bytes_left = 0.0
        self.rate = 0.0
        self.last = 0.0
        self.version = 0


def _whole_cycles(t: float) -> int:
    """A time as whole cycles: rounding noise of the DMA sharing arithmetic is
    dropped, a genuine fraction of a cycle rounds up."""
    r = round(t)
    return int(r) if abs(t - r) < 1e-6 else math.ceil(t)


class Machine:
    """One chip loaded with one program. `run()` once; then read the outputs."""

    def __init__(
        self, program: isa.Program, chip: ChipConfig, *, trace: bool = False
    ) -> None:
        dram_bytes = validate_program(program, chip)
        self.program = program
        self.chip = chip
        self.dram = np.zeros(dram_bytes, np.uint8)
        self.sbuf = np.zeros(
            (chip.sbuf_partitions, chip.sbuf_partition_bytes // 4), _F32
        )
        self.psum = np.zeros(
            (chip.psum_partitions, chip.psum_partition_bytes // 4), _F32
        )
        # Indexed by Space; DRAM is addressed through self.dram, never through this.
        self._onchip: list[np.ndarray] = [np.empty((0, 0), _F32), self.sbuf, self.psum]
        self.sems = [0] * chip.num_semaphores
        self.engines = [
            _Engine(eid, program.streams[eid].tolist())
            for eid in sorted(program.streams)
        ]
        self.now = 0.0
        self.end = 0.0
        self.macs = 0
        self.dma_bytes = 0
        self.trace: list[dict[str, Any]] | None = [] if trace else None
        self._heap: list[tuple[float, int, int, _Engine, int]] = []
        self._seq = 0
        self._waiters: dict[int, list[_Engine]] = {}
        self._dma_active: list[_Engine] = []
        self._pe_stationary: list[int] | None = None
        self._prepare: dict[int, Callable[[list[int]], tuple[float, Action]]] = {
            Opcode.NOP: self._prep_sync,
            Opcode.SIGNAL: self._prep_signal,
            Opcode.MATMUL: self._prep_matmul,
            Opcode.ACT: self._prep_act,
            Opcode.TENSOR_TENSOR: self._prep_tensor_tensor,
            Opcode.REDUCE: self._prep_reduce,
            Opcode.MEMSET: self._prep_memset,
        }
        for addr, data in program.consts:
            self.dram[addr : addr + data.nbytes] = data.view(np.uint8).reshape(-1)

    # -- host side ---------------------------------------------------------

    def load_inputs(self, inputs: Mapping[str, np.ndarray]) -> None:
        """Check `inputs` against the input table and copy them into DRAM."""
        expected = [str(e["name"]) for e in self.program.inputs]
        takes = f"(the program takes: {', '.join(expected) or 'no inputs'})"
        for name in expected:
            if name not in inputs:
                raise InputError(f"missing input '{name}' {takes}")
        for name in inputs:
            if name not in expected:
                raise InputError(f"unknown input '{name}' {takes}")
        for entry in self.program.inputs:
            name = str(entry["name"])
            _check_input(name, _io_shape(entry), inputs[name])
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

    def run(self) -> dict[str, Any]:
        """Run every stream to its end; return the stats dict."""
        heap = self._heap
        with np.errstate(all="ignore"):  # hardware makes inf/nan silently
            for engine in self.engines:
                self._issue(engine)
            while heap:
                self.now, _, kind, engine, version = heapq.heappop(heap)
                if kind == _DONE:
                    self._complete(engine)
                elif kind == _DMA_DATA:
                    self._dma_begin_data(engine)
                elif version == engine.version:
                    self._dma_end_data(engine)
        parked = [e for e in self.engines if e.waiting is not None]
        if parked:
            raise DeadlockError(self._deadlock_message(parked))
        return self._stats()

    def _push(self, time: float, kind: int, engine: _Engine, version: int = 0) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (time, self._seq, kind, engine, version))

    def _issue(self, e: _Engine) -> None:
        """Start e's next instruction, or park e on an unsatisfied WAIT."""
        if e.pc >= len(e.rows):
            return
        row = e.rows[e.pc]
        op = row[_W_OP]
        e.start = self.now
        if op == Opcode.WAIT:
            self._issue_wait(e, row)
        elif op == Opcode.HALT:
            self._halt(e, row)
        elif op == Opcode.DMA:
            e.nbytes, e.action = self._prep_dma(row)
            self._push(self.now + self.chip.dma_fixed_latency_cycles, _DMA_DATA, e)
        else:
            cost, e.action = self._prepare[op](row)
            self._push(self.now + cost, _DONE, e)

    def _issue_wait(self, e: _Engine, row: list[int]) -> None:
        lay = _OPS[Opcode.WAIT]
        sem, value = row[lay["sem"]], row[lay["value"]]
        e.action = None
        if self.sems[sem] >= value:
            self._push(self.now + self.chip.sync_cycles, _DONE, e)
            return
        e.waiting = (sem, value)
        self._waiters.setdefault(sem, []).append(e)

    def _halt(self, e: _Engine, row: list[int]) -> None:
        e.count += 1
        self._record(e, row)
        self._signal(row[_W_SIGNAL])
        e.pc = len(e.rows)

    def _complete(self, e: _Engine) -> None:
        """e's instruction ends now: apply its effect, signal, issue the next."""
        row = e.rows[e.pc]
        if e.action is not None:
            try:
                e.action()
            except (ValueError, FloatingPointError, IndexError) as err:
                raise ExecutionError(
                    f"{e.name} instruction {e.pc} ({Opcode(row[_W_OP]).name}): {err}"
                ) from None
            e.action = None
        e.busy += self.now - e.start
        e.count += 1
        self._record(e, row)
        self._signal(row[_W_SIGNAL])
        e.pc += 1
        self._issue(e)

    def _record(self, e: _Engine, row: list[int]) -> None:
        self.end = max(self.end, self.now)
        if self.trace is not None:
            self.trace.append(
                {
                    "engine": e.name,
                    "index": e.pc,
                    "opcode": Opcode(row[_W_OP]).name,
                    "start": e.start,
                    "end": self.now,
                    "source": self.program.debug[row[_W_DEBUG]]
                    if row[_W_DEBUG] >= 0
                    else None,
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
                e.start = self.now
                self._push(self.now + self.chip.sync_cycles, _DONE, e)
            else:
                still.append(e)
        self._waiters[sem] = still

    def _deadlock_message(self, parked: list[_Engine]) -> str:
        parts = []
        for e in parked:
            assert e.waiting is not None
            sem, value = e.waiting
            parts.append(
                f"{e.name} at instruction {e.pc} waits for semaphore {sem} >= {value} "
                f"(it is {self.sems[sem]})"
            )
        return "deadlock: " + "; ".join(parts)

    # -- DMA bandwidth sharing --------------------------------------------

    def _dma_begin_data(self, e: _Engine) -> None:
        self._dma_settle()
        e.bytes_left = float(e.nbytes)
        self._dma_active.append(e)
        self._dma_reschedule()

    def _dma_end_data(self, e: _Engine) -> None:
        self._dma_settle()
        self._dma_active.remove(e)
        self._dma_reschedule()
        self.dma_bytes += e.nbytes
        self._complete(e)

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
            self._push(finish, _DMA_END, a, a.version)

    # -- decoding ----------------------------------------------------------

    def _view(self, w: list[int], i: int) -> np.ndarray:
        """The NumPy view of the access at word i of record w (no copy).

        Trailing unused dims (stride 0, count 1) are dropped, as in
        `isa.Access.from_words`, so REDUCE's innermost dims are the real ones.
        """
        k = _DIMS
        while k > 1 and w[i + 1 + 2 * k] == 0 and w[i + 2 + 2 * k] == 1:
            k -= 1
        shape = w[i + 4 : i + 4 + 2 * k : 2]
        if w[i] == Space.DRAM:
            strides = [4 * s for s in w[i + 3 : i + 3 + 2 * k : 2]]
            return np.ndarray(shape, _F32, self.dram, w[i + 2], strides)
        mem = self._onchip[w[i]]
        row_bytes = mem.strides[0]
        strides = [row_bytes] + [4 * s for s in w[i + 5 : i + 3 + 2 * k : 2]]
        return np.ndarray(shape, _F32, mem, w[i + 1] * row_bytes + w[i + 2], strides)

    def _column(
        self, w: list[int], lay: dict[str, int], prefix: str, parts: int
    ) -> float | np.ndarray:
        """An ACT scale or bias: an immediate, or a (parts, 1) column view."""
        if w[lay[f"{prefix}_mode"]] == isa.ScalarMode.IMM:
            return isa.bits_f32(w[lay[f"{prefix}_imm"]])
        mem = self._onchip[w[lay[f"{prefix}_space"]]]
        p0, col = w[lay[f"{prefix}_pstart"]], w[lay[f"{prefix}_offset"]] // 4
        return mem[p0 : p0 + parts, col : col + 1]

    # -- per-opcode cost and effect: (cycles, action run at completion) -----

    def _prep_sync(self, w: list[int]) -> tuple[float, Action]:
        return self.chip.sync_cycles, _nothing

    def _prep_signal(self, w: list[int]) -> tuple[float, Action]:
        sem = w[_OPS[Opcode.SIGNAL]["sem"]]
        return self.chip.sync_cycles, lambda: self._signal(sem)

    def _prep_dma(self, w: list[int]) -> tuple[int, Action]:
        lay = _OPS[Opcode.DMA]
        src, dst = self._view(w, lay["src"]), self._view(w, lay["dst"])

        def move() -> None:
            dst[...] = src.reshape(dst.shape)

        return src.size * isa.ELEM_BYTES, move

    def _prep_matmul(self, w: list[int]) -> tuple[float, Action]:
        lay = _OPS[Opcode.MATMUL]
        i = lay["stationary"]
        st = self._view(w, i)
        mv, dst = self._view(w, lay["moving"]), self._view(w, lay["dst"])
        k = st.shape[0]
        m, n = st.size // k, mv.size // k
        chip = self.chip
        cost = max(n, chip.pe_min_cycles)
        stationary = w[i : i + isa.ACCESS_WORDS]
        if stationary != self._pe_stationary:
            cost += chip.pe_weight_load_cycles
            self._pe_stationary = stationary
        start = bool(w[_W_FLAGS] & isa.FLAG_START)

        def matmul() -> None:
            r = (st.reshape(k, m).T @ mv.reshape(k, n)).reshape(dst.shape)
            if start:
                dst[...] = r
            else:
                np.add(dst, r, out=dst)
            self.macs += k * m * n

        return cost, matmul

    def _prep_act(self, w: list[int]) -> tuple[float, Action]:
        lay = _OPS[Opcode.ACT]
        src, dst = self._view(w, lay["src"]), self._view(w, lay["dst"])
        parts = src.shape[0]
        free = src.size // parts
        scale = self._column(w, lay, "scale", parts)
        bias = self._column(w, lay, "bias", parts)
        func = _ACT_FUNCS[w[lay["func"]]]

        def act() -> None:
            y = src.reshape(parts, free)
            if not (isinstance(scale, float) and scale == 1.0):
                y = y * scale
            if not (isinstance(bias, float) and bias == 0.0):
                y = y + bias
            dst[...] = func(y).reshape(dst.shape)

        chip = self.chip
        return chip.act_fixed_cycles + math.ceil(
            free / chip.act_elems_per_cycle_per_lane
        ), act

    def _pool_cost(self, view: np.ndarray) -> float:
        free = view.size // view.shape[0]
        chip = self.chip
        return chip.pool_fixed_cycles + math.ceil(
            free / chip.pool_elems_per_cycle_per_lane
        )

    def _prep_tensor_tensor(self, w: list[int]) -> tuple[float, Action]:
        lay = _OPS[Opcode.TENSOR_TENSOR]
        a, b, dst = (self._view(w, lay[f]) for f in ("a", "b", "dst"))
        ufunc = _ALU_OPS[w[lay["op"]]]

        def tensor_tensor() -> None:
            ufunc(a.reshape(dst.shape), b.reshape(dst.shape), out=dst)

        return self._pool_cost(dst), tensor_tensor

    def _prep_reduce(self, w: list[int]) -> tuple[float, Action]:
        lay = _OPS[Opcode.REDUCE]
        src, dst = self._view(w, lay["src"]), self._view(w, lay["dst"])
        nreduce = w[lay["nreduce"]]
        axes = tuple(range(src.ndim - nreduce, src.ndim))
        use_max = w[lay["op"]] == isa.AluOp.MAX
        scale = isa.bits_f32(w[lay["scale_imm"]])

        def reduce() -> None:
            r = (
                np.max(src, axis=axes)
                if use_max
                else np.sum(src, axis=axes, dtype=_F32)
            )
            if scale != 1.0:
                r = r * scale
            dst[...] = np.reshape(r, dst.shape)

        return self._pool_cost(src), reduce

    def _prep_memset(self, w: list[int]) -> tuple[float, Action]:
        lay = _OPS[Opcode.MEMSET]
        dst = self._view(w, lay["dst"])
        value = _F32(isa.bits_f32(w[lay["value"]]))

        def memset() -> None:
            dst[...] = value

        return self._pool_cost(dst), memset

    # -- results -----------------------------------------------------------

    def _stats(self) -> dict[str, Any]:
        chip = self.chip
        cycles = _whole_cycles(self.end)
        engines = {
            e.name: {"busy_cycles": _whole_cycles(e.busy), "instructions": e.count}
            for e in self.engines
        }
        peak = cycles * chip.pe_rows * chip.pe_cols
        stats: dict[str, Any] = {
            "cycles": cycles,
            "seconds": cycles / chip.clock_hz,
            "macs": self.macs,
            "dma_bytes": self.dma_bytes,
            "instructions": {name: s["instructions"] for name, s in engines.items()},
            "engines": engines,
            "pe_utilization": self.macs / peak if peak else 0.0,
            "chip": chip.name,
        }
        if self.trace is not None:
            stats["trace"] = self.trace
        return stats


def _io_shape(entry: Mapping[str, object]) -> tuple[int, ...]:
    shape = entry["shape"]
    assert isinstance(shape, list)  # the loader checked the IO table
    return tuple(int(d) for d in shape)


def _io_addr(entry: Mapping[str, object]) -> int:
    addr = entry["addr"]
    assert isinstance(addr, int)
    return addr


def _check_input(name: str, shape: tuple[int, ...], value: object) -> None:
    """Raise InputError unless `value` is a float32 array of `shape`."""
    if not isinstance(value, np.ndarray):
        raise InputError(
            f"input '{name}': expected a float32 array of shape {shape}, "
            f"got {type(value).__name__}"
        )
    if value.dtype != _F32:
        raise InputError(f"input '{name}': expected dtype float32, got {value.dtype}")
    if value.shape != shape:
        raise InputError(f"input '{name}': expected shape {shape}, got {value.shape}")


def _nothing() -> None:
    return


def run_program(
    program: isa.Program,
    inputs: Mapping[str, np.ndarray],
    chip: ChipConfig | None = None,
    *,
    trace: bool = False,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Load `program` on `chip` (default: the preset the binary names), run it on
    `inputs` and return (outputs by name, stats). With `trace`, stats["trace"] lists
    every instruction's engine, index, opcode, start, end (cycles) and source (its
    debug-table string, or None)."""
    if chip is None:
        try:
            chip = get_chip(program.chip)
        except UnknownChipError as err:
            raise LoadError(str(err)) from None
    machine = Machine(program, chip, trace=trace)
    machine.load_inputs(inputs)
    stats = machine.run()
    return machine.read_outputs(), stats

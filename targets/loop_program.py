"""A loop with a data-dependent exit, compiled into blocks that stop early by
self-modifying code (seed 000; docs/early-exit.md).

`unroll_loop(body, chip, loop)` takes the binary of one step of the loop (its one
input is the loop-carried tensor v, its one output the next v) and lays out
`max_trips` blocks of it:

- every engine runs its body records once per block (each block's WAITs offset by
  the signals the blocks before it give), then signals `done`;
- after each block but the last, the decision queue (the last DMA queue) waits for
  every engine's `done`, EVALuates the condition on the new v (and the old one) into
  a flag, copies the new v over the input for the next block, and, one OVERWRITE per
  engine, unless the loop goes on, writes NOPs over every engine's following blocks
  in the instruction image (their REFILLs kept), the last signalling `decision`;
- every engine's block ends with `WAIT decision` and the REFILL of its next block's
  first section: the streams are in self-refilling sections (targets/refill.py) cut
  at block boundaries, so no engine fetches a block before it is decided.

The result is the output after the block whose condition failed (or the last)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tidal.sim import isa
from tidal.sim.config import ChipConfig
from tidal.sim.loader import IMAGE_ALIGN
from tidal.sim.spec import CmpOp, Engine, EvalInput, Opcode, ReduceOp
from tidal.targets.refill import place_sections, section_records

__all__ = ["LoopSpec", "unroll_loop"]

_OPC, _SIG = isa.W_OPCODE, isa.W_SIGNAL
_WAIT_SEM, _WAIT_VALUE = isa.OPERANDS[Opcode.WAIT]["sem"], isa.OPERANDS[Opcode.WAIT]["value"]
_SIGNAL_SEM = isa.OPERANDS[Opcode.SIGNAL]["sem"]


@dataclass(frozen=True)
class LoopSpec:
    """graph.loop's properties: go on while reduce(input) cmp threshold."""

    max_trips: int
    reduce: str  # max | add | mean
    input: str  # a | abs_a | a_minus_b | abs_a_minus_b (a: the new v, b: the old)
    cmp: str  # lt | le | gt | ge
    threshold: float


def _align(n: int) -> int:
    return -(-n // IMAGE_ALIGN) * IMAGE_ALIGN


def _dram(addr: int, n: int) -> isa.Access:
    return isa.Access(isa.Space.DRAM, 0, addr, ((1, n),))


def _signals(streams: dict[int, np.ndarray]) -> dict[int, int]:
    """Signals per semaphore one run of the streams gives."""
    out: dict[int, int] = {}
    for recs in streams.values():
        for r in recs:
            if r[_SIG] >= 0:
                out[int(r[_SIG])] = out.get(int(r[_SIG]), 0) + 1
            if r[_OPC] == Opcode.SIGNAL:
                out[int(r[_SIGNAL_SEM])] = out.get(int(r[_SIGNAL_SEM]), 0) + 1
    return out


def _used_semaphores(streams: dict[int, np.ndarray]) -> set[int]:
    used = set(_signals(streams))
    for recs in streams.values():
        used |= {int(s) for s in recs[recs[:, _OPC] == Opcode.WAIT][:, _WAIT_SEM]}
        used |= {int(s) for s in recs[:, isa.W_WAIT_SEM] if s >= 0}  # folded waits
    return used


def unroll_loop(body: isa.Program, chip: ChipConfig, loop: LoopSpec) -> isa.Program:
    """The early-exit program of `loop` around one step `body` (module docstring).
    Raises ValueError when the body is not one input and one output of one shape,
    there are not three semaphores free, or the chip's DRAM cannot hold it."""
    if len(body.inputs) != 1 or len(body.outputs) != 1:
        raise ValueError("a loop body must have one input and one output (the loop-carried tensor)")
    v_in, v_out = body.inputs[0], body.outputs[0]
    if list(v_in["shape"]) != list(v_out["shape"]):  # type: ignore[call-overload]
        raise ValueError(f"the loop-carried tensor changes shape: {v_in['shape']} -> {v_out['shape']}")
    n = int(np.prod(v_in["shape"]))  # type: ignore[arg-type]
    in_at, out_at = int(v_in["addr"]), int(v_out["addr"])  # type: ignore[call-overload]
    steps = {e: r[r[:, _OPC] != Opcode.HALT] for e, r in body.streams.items()}
    queues = [e for e in steps if e >= Engine.DMA0] or [int(Engine.DMA0)]
    decider = max(queues)
    steps.setdefault(decider, np.zeros((0, isa.RECORD_WORDS), np.int32))
    engines = sorted(steps)
    free = [s for s in range(chip.num_semaphores) if s not in _used_semaphores(steps)]
    if len(free) < 3:
        raise ValueError("a loop needs three semaphores its body does not use")
    done, evaluated, decision = free[:3]
    per_block = _signals(steps)
    trips = loop.max_trips
    threshold = loop.threshold * (n if loop.reduce == "mean" else 1)
    size = section_records(chip)
    data = _align(int(body.meta["dram_bytes"]))  # type: ignore[arg-type]
    flag_at = data

    # Pass 1: each engine's blocks (OVERWRITE records as placeholders), in sections.
    overwrite_at: list[tuple[int, int, int]] = []  # (index in the decider's stream, block, engine)
    streams: dict[int, np.ndarray] = {}
    block_start: dict[int, list[int]] = {}
    blocks_end: dict[int, int] = {}
    sections: dict[int, list[tuple[int, int]]] = {}  # (first record, count) per section
    for e in engines:
        recs: list[np.ndarray] = []
        secs: list[tuple[int, int]] = []
        starts: list[int] = []
        for k in range(trips):
            block = steps[e].copy()
            waits = block[:, _OPC] == Opcode.WAIT
            for i in np.flatnonzero(waits):
                block[i, _WAIT_VALUE] += k * per_block.get(int(block[i, _WAIT_SEM]), 0)
            for i in np.flatnonzero(block[:, isa.W_WAIT_SEM] >= 0):  # folded waits
                block[i, isa.W_WAIT_VALUE] += k * per_block.get(int(block[i, isa.W_WAIT_SEM]), 0)
            tail = [isa.make_record(Opcode.SIGNAL, e, sem=done)]
            if k + 1 < trips:
                if e == decider:
                    form = EvalInput(loop.input)
                    a, b = (out_at, in_at) if form in (EvalInput.A_MINUS_B, EvalInput.ABS_A_MINUS_B) else (out_at, out_at)
                    tail += [
                        isa.make_record(Opcode.WAIT, e, sem=done, value=len(engines) * (k + 1)),
                        isa.make_record(
                            Opcode.EVAL, e, dst=_dram(flag_at, 1), a=_dram(a, n), b=_dram(b, n),
                            reduce=ReduceOp.MAX if loop.reduce == "max" else ReduceOp.ADD,
                            input=form, cmp=CmpOp(loop.cmp), threshold=float(threshold),
                            signal=evaluated,
                        ),
                        isa.make_record(Opcode.WAIT, e, sem=evaluated, value=k + 1),
                        isa.make_record(Opcode.DMA, e, src=_dram(out_at, n), dst=_dram(in_at, n)),
                    ]
                    for target in engines:  # placeholders: pass 2 fills them in
                        tail.append(np.zeros(isa.RECORD_WORDS, np.int32))
                        overwrite_at.append((-1, k, target))
                tail.append(isa.make_record(Opcode.WAIT, e, sem=decision, value=k + 1))
            records = np.concatenate([block, np.stack(tail)]) if len(block) else np.stack(tail)
            chunks = [records[i : i + size - 1] for i in range(0, len(records), size - 1)]
            starts.append(len(recs))
            for j, c in enumerate(chunks):
                offset = len(recs)
                last = j == len(chunks) - 1
                if not last:  # REFILL the next section while this one runs
                    recs.append(isa.make_record(Opcode.REFILL, e, section=len(secs) + 1))
                recs.extend(c)
                if last:  # after the block's decision: REFILL the next block
                    recs.append(isa.make_record(Opcode.REFILL, e, section=len(secs) + 1))
                secs.append((offset, len(recs) - offset))
        blocks_end[e] = len(recs)
        recs.append(isa.make_record(Opcode.HALT, e))
        secs.append((blocks_end[e], 1))
        streams[e] = np.stack(recs).astype(np.int32)
        block_start[e] = starts
        sections[e] = secs
    # Where the decider's placeholders are: the zero records, in order.
    holes = [int(i) for i in np.flatnonzero(~streams[decider].any(axis=1))]
    assert len(holes) == len(overwrite_at), (len(holes), len(overwrite_at))
    overwrite_at = [(i, k, t) for i, (_, k, t) in zip(holes, overwrite_at, strict=True)]

    # Pass 2: DRAM layout: the flag, each engine's NOP image and ring, then the image.
    at = flag_at + IMAGE_ALIGN
    nops_at: dict[int, int] = {}
    consts = list(body.consts)
    for e in engines:
        first = block_start[e][1] if trips > 1 else blocks_end[e]
        tail = streams[e][first : blocks_end[e]].copy()
        keep = tail[:, _OPC] == Opcode.REFILL
        tail[~keep] = isa.make_record(Opcode.NOP, e)
        nops_at[e] = at
        consts.append((at, tail.astype("<i4").view(np.uint8).reshape(-1)))
        at = _align(at + tail.nbytes)
    program, image = place_sections(
        body, streams, sections, consts, at, chip, f"the loop's {trips} blocks"
    )
    for index, k, target in overwrite_at:
        first = block_start[target][k + 1]
        count = (blocks_end[target] - first) * isa.RECORD_WORDS
        src = nops_at[target] + (first - block_start[target][1]) * isa.RECORD_BYTES
        last = target == engines[-1]
        streams[decider][index] = isa.make_record(
            Opcode.OVERWRITE, decider, dst=_dram(image[target] + first * isa.RECORD_BYTES, count),
            src=_dram(src, count), flag=_dram(flag_at, 1), signal=decision if last else -1,
        )
    return program

"""accel-verify-sync's happens-before: DMA queues with several descriptors in flight
(the depth window, signals retiring in order, a wait holding back only the later
instructions, a signal draining the queue), semaphores signalled by several engines,
the binary's records agreeing with the IR, and the vector clocks checked against an
explicit event graph on random programs."""

from __future__ import annotations

import dataclasses
import random
from collections import deque

import pytest
from tidal.dialects.accel import (
    AccessAttr,
    ActOp,
    Aff,
    DmaOp,
    InstructionOp,
    MatmulOp,
    ProgramOp,
    RepeatOp,
    SignalOp,
    TensorTensorOp,
    WaitOp,
)
from tidal.passes.accel import verify_sync as vs
from tidal.passes.accel.fold_waits import fold_waits
from tidal.passes.accel.split_streams import AccelSplitStreamsPass
from tidal.passes.accel.verify_sync import AccelVerifySyncPass, verify_sync
from tidal.passes.utils.expect import PassInputError
from tidal.sim.config import SMALL, ChipConfig
from tidal.sim.isa import engine_from_name
from tidal.targets.binary import to_program
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp

SEM = {name: engine_from_name(name) for name in ("pe", "act", "pool", "dma0", "dma1")}


def chip(depth: int) -> ChipConfig:
    return dataclasses.replace(SMALL, dma_queue_depth=depth)


def tile(k: int, space: str = "sbuf") -> AccessAttr:
    """Tile k: 32 partitions of 8 fp32 (8 partitions of 8 in PSUM)."""
    if space == "psum":
        return AccessAttr.get("psum", 0, 32 * k, [(1, 8), (1, 8)])
    return AccessAttr.get("sbuf", 0, 1024 * k, [(1, 32), (1, 8)])


def dram(k: int) -> AccessAttr:
    return AccessAttr.get("dram", 0, 1024 * k, [(8, 32), (1, 8)])


def load(queue: int, k: int, signal: str | None = None) -> DmaOp:
    sem = None if signal is None else SEM[signal]
    return DmaOp(queue, dram(k), tile(k), signal=sem)


def reads(
    engine: str, k: int, dst: int = 9, signal: str | None = None
) -> InstructionOp:
    """An instruction of `engine` reading SBUF tile k, writing tile `dst`."""
    sem = None if signal is None else SEM[signal]
    if engine == "pe":
        return MatmulOp(tile(dst % 4, "psum"), tile(k), tile(k), zero_at=-1, signal=sem)
    if engine == "act":
        return ActOp("relu", tile(dst), tile(k), signal=sem)
    return TensorTensorOp("add", tile(dst), tile(k), tile(k), signal=sem)


def program(*ops: InstructionOp) -> ProgramOp:
    return ProgramOp("small", 1 << 16, list(ops))


def races(prog: ProgramOp, depth: int) -> set[frozenset[tuple[str, int]]]:
    problems = verify_sync(prog, chip(depth))
    assert all(p.kind == "race" for p in problems), problems
    return {frozenset(p.instructions) for p in problems}


def pair(a: str, i: int, b: str, j: int) -> frozenset[tuple[str, int]]:
    return frozenset({(a, i), (b, j)})


def test_queue_depth_window_orders_descriptors_depth_apart():
    """Three loads into the same tile on one queue: in order at depth 1; at depth 2
    the third issues once the first retired, but overlaps the second."""
    prog = program(load(0, 0), load(0, 0), load(0, 0))
    assert races(prog, 1) == set()
    assert races(prog, 2) == {pair("dma0", 1, "dma0", 0), pair("dma0", 2, "dma0", 1)}
    assert races(prog, 3) == {
        pair("dma0", 1, "dma0", 0),
        pair("dma0", 2, "dma0", 1),
        pair("dma0", 2, "dma0", 0),
    }


def test_a_wait_on_the_queues_own_semaphore_orders_its_descriptors():
    ordered = program(load(0, 0, "dma0"), WaitOp("dma0", SEM["dma0"], 1), load(0, 0))
    assert races(ordered, 4) == set()
    assert races(program(load(0, 0, "dma0"), load(0, 0)), 4) == {
        pair("dma0", 1, "dma0", 0)
    }


def test_a_queues_signals_retire_in_order():
    """PE waits for the second load's signal: the first load, which does not
    signal, has retired before it."""
    prog = program(
        load(0, 0),
        load(0, 1, "dma0"),
        WaitOp("pe", SEM["dma0"], 1),
        reads("pe", 0),
    )
    assert races(prog, 4) == set()


def test_a_wait_in_a_queue_holds_back_only_its_later_instructions():
    """dma0 waits for ACT's read of tile 0: the load behind the wait is ordered
    after the read, the one before it is not."""
    before = program(
        reads("act", 0, signal="act"), load(0, 0), WaitOp("dma0", SEM["act"], 1)
    )
    after = program(
        reads("act", 0, signal="act"), WaitOp("dma0", SEM["act"], 1), load(0, 0)
    )
    assert races(before, 4) == {pair("act", 0, "dma0", 0)}
    assert races(after, 4) == set()


def test_a_signal_on_a_queue_follows_every_earlier_descriptor():
    prog = program(
        load(0, 0),
        SignalOp("dma0", 7),
        WaitOp("pe", 7, 1),
        reads("pe", 0),
    )
    assert races(prog, 4) == set()


def test_a_semaphore_two_engines_signal_orders_only_what_its_count_forces():
    """ACT and POOL each signal semaphore 7 once: a count of 1 may be either's, a
    count of 2 is both."""

    def prog(value: int) -> ProgramOp:
        return program(
            ActOp("relu", tile(0), tile(5), signal=7),
            TensorTensorOp("add", tile(1), tile(5), tile(5), signal=7),
            WaitOp("pe", 7, value),
            reads("pe", 0),
            reads("pe", 1, dst=10),
        )

    assert races(prog(1), 1) == {pair("pe", 1, "act", 0), pair("pe", 2, "pool", 0)}
    assert races(prog(2), 1) == set()


def test_unsatisfied_and_deadlock_name_the_waits():
    unsatisfied = verify_sync(
        program(load(0, 0, "dma0"), WaitOp("act", SEM["dma0"], 2))
    )
    assert [(p.kind, p.instructions) for p in unsatisfied] == [
        ("unsatisfied", (("act", 0),))
    ]
    deadlock = verify_sync(
        program(
            WaitOp("pe", SEM["act"], 1),
            reads("pe", 0, signal="pe"),
            WaitOp("act", SEM["pe"], 1),
            reads("act", 1, signal="act"),
        )
    )
    assert [(p.kind, p.instructions) for p in deadlock] == [
        ("deadlock", (("pe", 0), ("act", 0)))
    ]


def test_the_binary_gives_the_problems_of_the_ir():
    prog = program(
        load(0, 0, "dma0"),
        WaitOp("act", SEM["dma0"], 1),
        reads("act", 0, dst=1),
        load(1, 1),  # overwrites what ACT writes, unordered
    )
    module = ModuleOp([prog])
    AccelSplitStreamsPass().apply(Context(), module)
    ir = verify_sync(prog, chip(1))
    binary = verify_sync(to_program(module), chip(1))
    assert [p.instructions for p in ir] == [(("act", 1), ("dma1", 0))]
    assert [p.instructions for p in binary] == [p.instructions for p in ir]
    assert "act instruction 1 (accel.act" in ir[0].message
    assert "act instruction 1 (ACT" in binary[0].message


def test_the_pass_fails_at_the_op_and_changes_nothing_otherwise():
    bad = program(load(0, 0), reads("act", 0))
    with pytest.raises(PassInputError, match="race: act instruction 0") as err:
        AccelVerifySyncPass().apply(Context(), ModuleOp([bad]))
    assert isinstance(err.value.op, ActOp)
    good = ModuleOp(
        [program(load(0, 0, "dma0"), WaitOp("act", SEM["dma0"], 1), reads("act", 0))]
    )
    text = str(good)
    AccelVerifySyncPass().apply(Context(), good)
    assert str(good) == text
    unknown = ModuleOp([ProgramOp("tiny", 1 << 16, [load(0, 0)])])
    with pytest.raises(PassInputError, match="unknown chip preset 'tiny'"):
        AccelVerifySyncPass().apply(Context(), unknown)


# ---------------------------------------------------------------------------
# The vector clocks against an explicit event graph, on random programs
# ---------------------------------------------------------------------------

ENGINES = ("pe", "act", "pool", "dma0", "dma1")


def random_program(rng: random.Random) -> ProgramOp:
    """Instructions in a unified order on five engines, over four SBUF tiles and two
    DRAM tiles; a random half signal their engine's semaphore, and random waits ask
    for at most the signals the unified order has given so far (so the unified
    order is an execution: no deadlock)."""
    given = dict.fromkeys(ENGINES, 0)
    ops: list[InstructionOp] = []
    for _ in range(rng.randint(4, 24)):
        engine = rng.choice(ENGINES)
        if rng.random() < 0.5:
            other = rng.choice(ENGINES)
            if given[other]:
                ops.append(WaitOp(engine, SEM[other], rng.randint(1, given[other])))
        signal = engine if rng.random() < 0.5 else None
        sem = None if signal is None else SEM[signal]
        a, b = rng.randrange(4), rng.randrange(4)
        if engine.startswith("dma"):
            queue = int(engine[3:])
            src, dst = rng.choice(
                [(dram(a % 2), tile(b)), (tile(a), dram(b % 2)), (tile(a), tile(b))]
            )
            ops.append(DmaOp(queue, src, dst, signal=sem))
            if rng.random() < 0.1:
                ops.append(SignalOp(engine, SEM[engine]))
                given[engine] += 1
        elif engine == "pe":
            ops.append(
                MatmulOp(tile(b % 2, "psum"), tile(a), tile(a), zero_at=-1, signal=sem)
            )
        elif engine == "act":
            ops.append(ActOp("relu", tile(b), tile(a), signal=sem))
        else:
            ops.append(
                TensorTensorOp(
                    "add", tile(b), tile(a), tile(rng.randrange(4)), signal=sem
                )
            )
        if signal is not None:
            given[signal] += 1
    return program(*ops)


def reference_races(prog: ProgramOp, depth: int) -> set[frozenset[tuple[str, int]]]:
    """Races from an explicit graph of events (start S, a wait's pass D, retire R
    per instruction) and reachability, the rules of the module docstring written
    out edge by edge."""
    streams: dict[str, list[InstructionOp]] = {}
    for op in prog.body.block.ops:
        assert isinstance(op, InstructionOp)
        streams.setdefault(op.engine_name(), []).append(op)

    def sems(op: InstructionOp) -> list[int]:
        out = [op.signal.value.data] if op.signal is not None else []
        return out + ([op.sem.value.data] if isinstance(op, SignalOp) else [])

    signallers: dict[int, dict[str, list[int]]] = {}
    for engine, ops in streams.items():
        for k, op in enumerate(ops):
            for s in sems(op):
                signallers.setdefault(s, {}).setdefault(engine, []).append(k)
    edges: dict[tuple[str, str, int], list[tuple[str, str, int]]] = {}

    def edge(a: tuple[str, str, int], b: tuple[str, str, int]) -> None:
        edges.setdefault(a, []).append(b)

    for e, ops in streams.items():
        dma = e.startswith("dma")
        slots: list[int] = []
        for k, op in enumerate(ops):
            wait = isinstance(op, WaitOp)
            edge(("S", e, k), ("D" if wait else "R", e, k))
            if wait:
                edge(("D", e, k), ("R", e, k))
                s, v = op.sem.value.data, op.value.data.base
                by = signallers.get(s, {})
                total = sum(map(len, by.values()))
                for b, ks in by.items():
                    g = v - (total - len(ks))
                    if g >= 1:
                        edge(("R", b, ks[g - 1]), ("D", e, k))
            if isinstance(op, DmaOp):
                if len(slots) >= depth:  # a slot frees when that one retires
                    edge(("R", e, slots[-depth]), ("S", e, k))
                slots.append(k)
            if not k:
                continue
            if not dma:
                edge(("R", e, k - 1), ("S", e, k))
                continue
            edge(("S", e, k - 1), ("S", e, k))
            edge(("R", e, k - 1), ("R", e, k))
            if isinstance(ops[k - 1], WaitOp):
                edge(("D", e, k - 1), ("S", e, k))
            if not wait and not isinstance(op, DmaOp):
                edge(("R", e, k - 1), ("S", e, k))

    def reach(start: tuple[str, str, int]) -> set[tuple[str, str, int]]:
        seen, todo = {start}, deque([start])
        while todo:
            for nxt in edges.get(todo.popleft(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    insts = [(e, k, op) for e, ops in streams.items() for k, op in enumerate(ops)]
    after = {(e, k): reach(("R", e, k)) for e, k, _ in insts}
    out: set[frozenset[tuple[str, int]]] = set()
    for x, (e, k, op) in enumerate(insts):
        for f, j, other in insts[:x]:
            if (e == f and not e.startswith("dma")) or not conflict(op, other):
                continue
            if ("S", e, k) in after[f, j] or ("S", f, j) in after[e, k]:
                continue
            out.add(pair(e, k, f, j))
    return out


def conflict(x: InstructionOp, y: InstructionOp) -> bool:
    """Do x and y touch the same tile, one writing? (Tiles are disjoint boxes.)"""
    wx, wy = x.writes(), y.writes()
    return any(
        (a in wx or b in wy) and a.space == b.space and a.offset == b.offset
        for a in x.accesses()
        for b in y.accesses()
    )


@pytest.mark.parametrize("depth", [1, 2, 4])
def test_vector_clocks_match_an_explicit_event_graph(depth, monkeypatch):
    monkeypatch.setattr(vs, "_MAX_PROBLEMS", 1 << 20)
    rng = random.Random(depth)
    found = 0
    for _ in range(150):
        prog = random_program(rng)
        expected = reference_races(prog, depth)
        assert races(prog, depth) == expected, str(prog)
        found += bool(expected)
    assert 20 < found < 150  # the programs are a mix of racy and synchronised ones


def test_waits_in_a_repeat_expand_per_iteration():
    """A wait inside a repeat asks for a value affine in the index: the read of
    iteration i0 needs i0 + 1 loads; with i0 it overlaps its own iteration's load."""

    def prog(value: Aff) -> ProgramOp:
        at = AccessAttr.get("sbuf", 0, Aff(0, (32,)), [(1, 32), (1, 8)])
        load = DmaOp(0, dram(0), at, signal=SEM["dma0"])
        read = ActOp("relu", tile(9), at)
        return ProgramOp(
            "small",
            1 << 16,
            [RepeatOp(4, [load, WaitOp("act", SEM["dma0"], value), read])],
        )

    assert races(prog(Aff(1, (1,))), 4) == set()
    assert races(prog(Aff(0, (1,))), 4) == {
        pair("act", 2 * i + 1, "dma0", i) for i in range(4)
    }


def _race_ops(prog: ProgramOp, depth: int) -> set[frozenset[tuple[int, tuple[int, ...]]]]:
    """The races of `prog`, each named by its two instructions as (op id, repeat
    indices): names that survive a pass which erases other ops."""
    refs = {st.engine: st.refs for st in vs._ir_streams(prog)}
    problems = verify_sync(prog, chip(depth))
    assert all(p.kind == "race" for p in problems), problems
    return {
        frozenset((id(refs[e][k][0]), refs[e][k][1]) for e, k in p.instructions)
        for p in problems
    }


@pytest.mark.parametrize("split", [False, True])
def test_folding_waits_keeps_every_race(split, monkeypatch):
    """accel-fold-waits moves waits into the instructions they hold back: on random
    programs (unified or split into streams, queue depths 1 to 4) the races found
    are the same pairs of instructions before and after, and the binary of the
    folded program (its wait words) gives the IR's problems."""
    monkeypatch.setattr(vs, "_MAX_PROBLEMS", 1 << 20)
    rng = random.Random(11 + split)
    folded = racy = 0
    for _ in range(150):
        prog = random_program(rng)
        module = ModuleOp([prog])
        if split:
            AccelSplitStreamsPass().apply(Context(), module)
        depth = rng.choice([1, 2, 4])
        before = _race_ops(prog, depth)
        folded += fold_waits(prog)
        assert _race_ops(prog, depth) == before, str(prog)
        racy += bool(before)
        if split:
            ir = [p.instructions for p in verify_sync(prog, chip(depth))]
            binary = verify_sync(to_program(module), chip(depth))
            assert sorted(p.instructions for p in binary) == sorted(ir)
    assert folded > 150 and 20 < racy < 150


def test_a_program_too_long_to_check_is_refused_before_it_is_expanded(monkeypatch):
    """The checker runs the program abstractly, every repeat expanded: one whose
    expansion holds more than EXPANDED_MAX instructions (a repeat of 2^31 - 1
    iterations here) is a PassInputError naming the count, found by arithmetic on
    the repeats before anything is expanded."""
    prog = program(load(0, 0, "act"), RepeatOp(2**31 - 1, [reads("act", 0)]))
    assert vs.expanded_count(prog.body.block) == 2**31
    with pytest.raises(PassInputError, match="runs 2,147,483,648 instructions once its repeats are expanded"):
        verify_sync(prog, chip(1))
    monkeypatch.setattr(vs, "EXPANDED_MAX", 2)
    with pytest.raises(PassInputError, match="runs 3 instructions"):
        verify_sync(program(load(0, 0, "act"), RepeatOp(2, [reads("act", 0)])), chip(1))

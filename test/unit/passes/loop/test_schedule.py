"""loop-schedule's parts: dependences from overlapping DRAM bytes, and the list
schedule's choice among ready nests (earliest start, then the longest chain)."""

import random

import pytest

from tidal.passes.loop.schedule import NestInfo, dependences, list_schedule
from xdsl.dialects.builtin import i64
from xdsl.ir import SSAValue


class _Buffer(SSAValue):
    def __init__(self) -> None:
        super().__init__(i64)

    @property
    def owner(self):  # pragma: no cover - not walked here
        raise AttributeError


def _info(accesses, cycles, latency=0.0) -> NestInfo:
    return NestInfo(None, accesses, cycles, latency)  # type: ignore[arg-type]


def test_only_overlapping_bytes_with_a_write_make_a_dependence():
    x, y = _Buffer(), _Buffer()
    infos = [
        _info([(x, 0, 99, False), (y, 0, 99, True)], {"act": 10}),  # writes y[0:100]
        _info([(y, 100, 199, True)], {"act": 10}),  # the other half of y
        _info([(y, 50, 149, False)], {"act": 10}),  # reads both halves
        _info([(x, 0, 99, False)], {"pool": 10}),  # reads x only: no one writes it
        _info([(y, 0, 59, True)], {"act": 10}),  # rewrites what 0 wrote and 2 read
    ]
    assert dependences(infos) == [set(), set(), {0, 1}, set(), {0, 2}]


def test_the_ready_nest_that_starts_earliest_goes_first_ties_to_the_longer_chain():
    """0 -> 1 (long) -> 3 and 2 -> 3: after 0, nest 2 can start at once while 1
    waits for 0's result (its latency): 0, 2, 1, 3. At the start 0 and 2 are both
    ready at cycle 0; 0 heads the longer chain and goes first."""
    infos = [
        _info([], {"act": 100}, latency=2800),
        _info([], {"pe": 5000}),
        _info([], {"act": 100}),
        _info([], {"pe": 10}),
    ]
    preds = [set(), {0}, set(), {1, 2}]
    assert list_schedule(infos, preds) == [0, 2, 1, 3]
    # a chain keeps its order
    assert list_schedule(infos[:2], [set(), {0}]) == [0, 1]


def test_a_byte_range_covers_negative_strides():
    """An access walking down from its offset reaches below it: the range starts
    there, so a nest touching those bytes is not taken for independent."""
    from tidal.dialects.accel import AccessAttr
    from tidal.passes.loop.schedule import _byte_range

    up = AccessAttr.get("dram", 0, 400, [(4, 8), (1, 4)])
    down = AccessAttr.get("dram", 0, 400, [(-4, 8), (1, 4)])
    assert _byte_range(up, ()) == (400, 400 + (28 + 3) * 4 + 3)
    assert _byte_range(down, ()) == (400 - 28 * 4, 400 + 3 * 4 + 3)


def _rescanning_schedule(infos, preds, staged=True):
    """The list schedule as the docstring states it, every ready nest's start
    recomputed at every step (quadratic in the ready nests: a fan-out of 2,000
    took 10 s): the reference `list_schedule` must agree with."""
    n = len(infos)
    succs = [[] for _ in range(n)]
    for j, ps in enumerate(preds):
        for i in ps:
            succs[i].append(j)
    bottom = [0.0] * n
    for i in range(n - 1, -1, -1):
        bottom[i] = infos[i].duration + max((bottom[j] for j in succs[i]), default=0.0)
    engines = ("pe", "act", "pool", "dma")
    free = dict.fromkeys(engines, 0.0)
    finish = [0.0] * n
    waiting = [len(ps) for ps in preds]
    ready = {i for i in range(n) if waiting[i] == 0}
    order = []

    def start(i):
        after = max((finish[p] for p in preds[i]), default=0.0)
        cycles = infos[i].cycles
        if not staged or not infos[i].lead:
            at = max([after, *(free[e] for e in engines if cycles.get(e))])
            return at, at
        dma = max(after, free["dma"]) if cycles.get("dma") else after
        compute = [e for e in engines if e != "dma" and cycles.get(e)]
        if not compute:
            return dma, dma
        return dma, max([after + infos[i].lead, *(free[e] for e in compute)])

    while ready:
        best = min(ready, key=lambda i: (start(i)[1], -bottom[i], i))
        dma_at, at = start(best)
        cycles = infos[best].cycles
        for e, c in cycles.items():
            free[e] = (dma_at if e == "dma" else at) + c
        done = max([dma_at + cycles.get("dma", 0.0), *(at + c for e, c in cycles.items() if e != "dma")])
        finish[best] = done + infos[best].latency
        ready.remove(best)
        order.append(best)
        for j in succs[best]:
            waiting[j] -= 1
            if waiting[j] == 0:
                ready.add(j)
    return order


@pytest.mark.parametrize("seed", range(40))
def test_the_schedule_is_the_rescanning_one_on_random_graphs(seed):
    """Random DAGs of nests on random engine sets (some with a lead, coarse cycle
    counts so that starts tie often), staged and not: the same order as
    rescanning every ready nest at every step."""
    rng = random.Random(seed)
    n = rng.randint(1, 60)
    infos = []
    for _ in range(n):
        engines = [e for e in ("pe", "act", "pool", "dma") if rng.random() < 0.45]
        info = _info([], {e: float(rng.choice((10, 20, 40, 80))) for e in engines},
                     latency=float(rng.choice((0, 0, 100))))
        info.lead = float(rng.choice((0, 0, 30)))
        infos.append(info)
    wide = rng.random() < 0.3  # a fan-out: many nests ready at once
    preds = [
        {i for i in range(j) if rng.random() < (0.02 if wide else 0.15)} for j in range(n)
    ]
    for staged in (True, False):
        assert list_schedule(infos, preds, staged) == _rescanning_schedule(infos, preds, staged)


def _pairwise_dependences(infos):
    """Every earlier nest with overlapping bytes of one buffer, one of the two
    writing: what `dependences` computed before its sweep (n^2 pairs)."""
    return [
        {
            i for i in range(j)
            for buf, lo, hi, write in infos[j].accesses
            for buf2, lo2, hi2, write2 in infos[i].accesses
            if buf is buf2 and (write or write2) and lo <= hi2 and lo2 <= hi
        }
        for j in range(len(infos))
    ]


def _closure(preds):
    reach = []
    for ps in preds:
        r = set(ps)
        for p in ps:
            r |= reach[p]
        reach.append(r)
    return reach


@pytest.mark.parametrize("seed", range(40))
def test_the_sweep_keeps_the_pairwise_closure_and_schedule(seed):
    """Random nests over a few buffers (overlapping, nested and repeated byte
    ranges, reads and writes, some nests reading and writing one range): the
    sweep's dependences are a subset of the pairwise ones with the same closure, and
    the list schedule on them is the same, staged and not."""
    rng = random.Random(seed)
    buffers = [_Buffer() for _ in range(rng.randint(1, 3))]
    infos = []
    for _ in range(rng.randint(1, 50)):
        accesses = []
        for _ in range(rng.randint(0, 3)):
            lo = rng.randrange(0, 200, 4)
            accesses.append((rng.choice(buffers), lo, lo + rng.choice((3, 39, 99, 399)), rng.random() < 0.5))
        info = _info(accesses, {rng.choice(("pe", "act", "pool", "dma")): float(rng.choice((10, 40)))},
                     latency=float(rng.choice((0, 100))))
        info.lead = float(rng.choice((0, 30)))
        infos.append(info)
    swept, pairs = dependences(infos), _pairwise_dependences(infos)
    assert all(s <= p for s, p in zip(swept, pairs, strict=True))
    assert _closure(swept) == _closure(pairs)
    for staged in (True, False):
        assert list_schedule(infos, swept, staged) == list_schedule(infos, pairs, staged)


def test_columns_of_a_concatenation_make_a_chain():
    """n nests each writing one column of a row-major [8, n] buffer: their byte
    ranges all overlap, so every pair was a dependence (n^2: a Concat of 5,000
    inputs took 53 s to compile). The sweep gives each the one before it."""
    out = _Buffer()
    n = 300
    infos = [_info([(out, 4 * c, 4 * c + 7 * 4 * n + 3, True)], {"dma": 10.0}) for c in range(n)]
    assert dependences(infos) == [set(), *({c - 1} for c in range(1, n))]

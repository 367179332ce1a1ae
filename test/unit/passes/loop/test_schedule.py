"""loop-schedule's parts: dependences from overlapping DRAM bytes, and the list
schedule's choice among ready nests (earliest start, then the longest chain)."""

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

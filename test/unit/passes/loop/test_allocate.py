"""The liveness allocator of loop-allocate: overlapping lifetimes never share a byte,
disjoint ones reuse, PSUM regions stay inside a bank, and a tile used across nests
keeps its region while the nests between allocate around it."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from xdsl.context import Context
from xdsl.dialects.builtin import Builtin, IntegerAttr
from xdsl.dialects.func import Func
from xdsl.parser import Parser

from tidal.dialects.accel import Accel
from tidal.dialects.loop import AllocTileOp, Loop
from tidal.passes.loop.allocate import ADDR, LinearScan, LoopAllocatePass, Region
from tidal.sim.config import get_chip

# (first, length, nbytes): lifetimes as top-level positions, sorted by first below.
_requests = st.lists(
    st.tuples(st.integers(0, 12), st.integers(0, 4), st.integers(1, 3000)),
    max_size=30,
)


def _place_all(scan: LinearScan, requests: list[tuple[int, int, int]]) -> list[Region]:
    return [
        scan.place(first, first + length, nbytes)
        for first, length, nbytes in sorted(requests, key=lambda r: r[0])
    ]


def _live_together(a: Region, b: Region) -> bool:
    return a.first <= b.last and b.first <= a.last


@given(_requests)
def test_overlapping_lifetimes_never_share_bytes(requests: list[tuple[int, int, int]]):
    regions = _place_all(LinearScan(), requests)
    for i, a in enumerate(regions):
        assert a.start % 64 == 0 and a.end - a.start >= 1
        for b in regions[i + 1 :]:
            if _live_together(a, b):
                assert a.end <= b.start or b.end <= a.start, (a, b)


def _lowest_or_highest_gap(requests, top):
    """The placements LinearScan's docstring states, every live region rescanned
    in order of start at each placement: the reference for its sorted live list."""
    live, out = [], []
    for first, length, nbytes in sorted(requests, key=lambda r: r[0]):
        live = [r for r in live if r.last >= first]
        size = (nbytes + 63) // 64 * 64
        if top:
            end = top
            for r in sorted(live, key=lambda r: r.start, reverse=True):
                if r.end + size <= end:
                    break
                end = min(end, r.start)
            start = end - size
        else:
            start = 0
            for r in sorted(live, key=lambda r: r.start):
                if start + size <= r.start:
                    break
                start = max(start, r.end)
        region = Region(first, first + length, start, start + size)
        live.append(region)
        out.append(region)
    return out


@pytest.mark.parametrize("top", [0, 1 << 16], ids=["lowest", "highest"])
@given(requests=_requests)
def test_placements_are_the_rescanning_ones(top: int, requests: list[tuple[int, int, int]]):
    scan = LinearScan()
    placed = [
        scan.place(first, first + length, nbytes, top)
        for first, length, nbytes in sorted(requests, key=lambda r: r[0])
    ]
    assert placed == _lowest_or_highest_gap(requests, top)


@pytest.mark.parametrize("rotate", [0, 8192], ids=["from-0", "rotated"])
@given(requests=_requests)
def test_psum_regions_stay_inside_one_bank(rotate: int, requests: list[tuple[int, int, int]]):
    """With `rotate` (round a partition of 8192 bytes) or without: no region crosses
    a bank, and regions live at once never share a byte."""
    bank = 2048
    sized = [(first, length, min(nbytes, bank)) for first, length, nbytes in requests]
    regions = _place_all(LinearScan(bank_bytes=bank, rotate=rotate), sized)
    for (_, _, nbytes), region in zip(sorted(sized, key=lambda r: r[0]), regions):
        assert region.start // bank == (region.start + nbytes - 1) // bank, region
    for i, a in enumerate(regions):
        for b in regions[i + 1 :]:
            if _live_together(a, b):
                assert a.end <= b.start or b.end <= a.start, (a, b)


def test_rotated_psum_regions_go_round_the_partition():
    """Each nest's accumulator from the end of the last one placed (the next bank
    when it would cross one), back to 0 when the partition ends, past a region
    still live there; without room anywhere, above every live region as without
    `rotate` (where loop-allocate reports that PSUM is full)."""
    scan = LinearScan(bank_bytes=2048, rotate=8192)
    starts = [scan.place(n, n, size).start for n, size in enumerate((400, 1200, 800, 2048, 2048))]
    assert starts == [0, 448, 2048, 4096, 6144]
    keep = scan.place(5, 7, 512)  # wraps round to 0 and stays live until 7
    assert keep.start == 0
    assert scan.place(6, 6, 256).start == 512  # the cursor: right above it
    assert scan.place(7, 7, 2048).start == 2048  # a whole bank: the next one
    assert scan.place(8, 8, 64).start == 4096
    full = LinearScan(bank_bytes=2048, rotate=4096)
    assert [full.place(0, 1, 2048).start, full.place(0, 1, 2048).start] == [0, 2048]
    assert full.place(1, 1, 64).start == 4096  # no room: above every live one


def test_disjoint_lifetimes_reuse_the_same_bytes():
    scan = LinearScan()
    assert [scan.place(i, i, 1000).start for i in range(4)] == [0, 0, 0, 0]


def test_one_nest_stacks_its_tiles_in_definition_order():
    """Tiles live for their nest: each nest starts from 0 and stacks its tiles,
    64-byte aligned (the allocation loop-to-accel made before liveness)."""
    scan = LinearScan()
    nests = [[48, 16, 100], [4, 4]]
    starts = [
        [scan.place(n, n, size).start for size in tiles]
        for n, tiles in enumerate(nests)
    ]
    assert starts == [[0, 64, 128], [0, 64]]


def test_a_region_live_across_nests_keeps_its_bytes():
    scan = LinearScan()
    keep = scan.place(0, 3, 256)  # used by the nests at positions 1 and 3
    inside = [scan.place(pos, pos, 64) for pos in (1, 2, 3)]
    after = scan.place(4, 4, 64)
    assert keep.start == 0
    assert all(r.start >= keep.end for r in inside)
    assert after.start == 0


def test_a_psum_region_that_would_cross_a_bank_starts_the_next_bank():
    scan = LinearScan(bank_bytes=2048)
    assert [scan.place(0, 0, n).start for n in (400, 1700, 16)] == [0, 2048, 3776]


def test_regions_come_in_order_of_their_first_position():
    scan = LinearScan()
    scan.place(2, 3, 64)
    with pytest.raises(ValueError, match="in order of their first position"):
        scan.place(1, 3, 64)
    with pytest.raises(ValueError, match="ends before it starts"):
        scan.place(3, 2, 64)
    with pytest.raises(ValueError, match="do not fit a 2048-byte bank"):
        LinearScan(bank_bytes=2048).place(0, 0, 4096)


_ACROSS_NESTS = """
func.func @main(%x: memref<32x32xf32>) -> memref<32x32xf32> {
  %y = loop.alloc : memref<32x32xf32>
  %keep = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
  loop.nest "a" domain [] order [] {
    %t = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
    loop.copy %x <dram 0, [[32, 32], [1, 32]]> -> %keep <sbuf 0, 0, [[1, 32], [1, 32]]> : memref<32x32xf32> -> !loop.tile<sbuf, 32, 32>
  }
  loop.nest "b" domain [] order [] {
    %mid = loop.alloc_tile : !loop.tile<sbuf, 32, 8>
    %acc = loop.alloc_tile : !loop.tile<psum, 32, 8>
  }
  loop.nest "c" domain [] order [] {
    loop.copy %keep <sbuf 0, 0, [[1, 32], [1, 32]]> -> %y <dram 0, [[32, 32], [1, 32]]> : !loop.tile<sbuf, 32, 32> -> memref<32x32xf32>
  }
  loop.nest "d" domain [] order [] {
    %after = loop.alloc_tile : !loop.tile<sbuf, 32, 8>
  }
  func.return %y : memref<32x32xf32>
}
"""


def test_the_pass_keeps_a_tile_used_by_two_nests_apart_from_the_nests_between():
    """A function-level tile, live across nests a to c, keeps its region while the
    nests' own tiles reuse the bytes above it."""
    ctx = Context()
    for dialect in (Builtin, Func, Loop, Accel):
        ctx.load_dialect(dialect)
    module = Parser(ctx, _ACROSS_NESTS).parse_module()
    module.verify()
    LoopAllocatePass(chip="small", overlap=False).apply(ctx, module)
    addr: dict[str, int] = {}
    for op in module.walk():
        if isinstance(op, AllocTileOp):
            attr = op.attributes[ADDR]
            assert isinstance(attr, IntegerAttr)
            addr[op.result.name_hint or ""] = attr.value.data
    # %keep is 128 bytes per partition and live over nests a to c.
    assert addr == {"keep": 0, "t": 128, "mid": 128, "acc": 0, "after": 0}


def test_sbuf_regions_reuse_the_gap_a_dead_tensor_left():
    """Tensors kept on chip in a chain (each written by one nest and read by the
    next) do not climb: a dead one's bytes are reused below a live one."""
    scan = LinearScan()
    a = scan.place(0, 2, 1024)  # written at 1, read at 2
    b = scan.place(2, 4, 1024)  # written at 3 (above a), read at 4
    c = scan.place(4, 6, 1024)  # a is dead: c reuses its bytes
    assert (a.start, b.start, c.start) == (0, 1024, 0)
    d = scan.place(4, 4, 2048)  # does not fit the gap between c and b: above b
    assert d.start == 2048


def _weights_program(nests: int, elems: int | list[int]) -> str:
    """`nests` nests, each loading a constant into a weight tile and %x into a
    tile of its own, `elems` fp32 per partition each (or nest i `elems[i]`)."""
    sizes = elems if isinstance(elems, list) else [elems] * nests
    most = max(sizes)  # %x and %c: each nest reads the first elements of each row
    body = []
    for i, elems in enumerate(sizes):
        body.append(
            f"""  loop.nest "n{i}" domain [] order [] {{
    %w{i} = loop.alloc_tile : !loop.tile<sbuf, 32, {elems}>
    %t{i} = loop.alloc_tile : !loop.tile<sbuf, 32, {elems}>
    loop.copy %c <dram 0, [[{most}, 32], [1, {elems}]]> -> %w{i} <sbuf 0, 0, [[1, 32], [1, {elems}]]> : memref<32x{most}xf32> -> !loop.tile<sbuf, 32, {elems}>
    loop.copy %x <dram 0, [[{most}, 32], [1, {elems}]]> -> %t{i} <sbuf 0, 0, [[1, 32], [1, {elems}]]> : memref<32x{most}xf32> -> !loop.tile<sbuf, 32, {elems}>
  }}"""
        )
    nl = "\n"
    return f"""
func.func @main(%x: memref<32x{most}xf32>) {{
  %c = loop.const dense<1.0> : tensor<32x{most}xf32> : memref<32x{most}xf32>
{nl.join(body)}
  func.return
}}
"""


def _addresses(text: str, **options) -> dict[str, int]:
    ctx = Context()
    for dialect in (Builtin, Func, Loop, Accel):
        ctx.load_dialect(dialect)
    module = Parser(ctx, text).parse_module()
    module.verify()
    LoopAllocatePass(chip="small", overlap=False, **options).apply(ctx, module)
    out = {}
    for op in module.walk():
        if isinstance(op, AllocTileOp):
            attr = op.attributes[ADDR]
            assert isinstance(attr, IntegerAttr)
            out[op.result.name_hint or ""] = attr.value.data
    return out


def test_weight_tiles_are_reserved_as_many_nests_ahead_as_fit():
    """prefetch: a tile only constants fill lives from earlier nests on, so no tile
    of those nests shares its bytes. Four nests of two 4 KiB tiles on the small
    chip's 64 KiB: every weight tile from the first nest on (4 + 1 tiles live at
    once; %t0 took the bytes after %w0, placed before %w1 reserved from nest 0). With 13 KiB tiles five would take 65 KiB: the placement falls back to
    fewer nests ahead (PREFETCH_DISTANCES), here two. Without prefetch each nest's
    tiles reuse the same bytes."""
    small = _addresses(_weights_program(4, 1024), fill=False)
    assert [small[f"w{i}"] for i in range(4)] == [0, 8192, 12288, 16384]
    assert small["t0"] == 4096 and small["t3"] == 0  # %w0's bytes, free by then
    big = _addresses(_weights_program(4, 3328), fill=False)
    w = [big[f"w{i}"] for i in range(4)]
    assert len(set(w[:3])) == 3 and len(set(w[1:])) == 3  # any three in a row apart
    off = _addresses(_weights_program(4, 3328), prefetch=False)
    assert {off[f"w{i}"] for i in range(4)} == {0}


def test_fill_reserves_each_weight_tile_as_far_ahead_as_sbuf_holds_it():
    """fill: six nests of 4 KiB tiles but the fourth, whose weights and input take
    32 KiB each, all of the small chip's 64 KiB. No distance fits every nest (the
    fourth's own tiles leave no byte for the fifth's weights), so without fill no
    weight tile is reserved ahead. With fill each goes as far back as the bytes
    live at every nest it passes stay within FILL_MARGINS of a partition, earlier
    layers' first: the first four weight tiles from the first nest on (48 KiB live
    there), the fifth only from its own nest (it cannot pass the fourth), the sixth
    from the fifth."""
    sizes = [1024, 1024, 1024, 8192, 1024, 1024]
    filled = _addresses(_weights_program(6, sizes))
    assert len({filled[f"w{i}"] for i in range(4)} | {filled["t0"]}) == 5  # all live at n0
    assert filled["w4"] == filled["w3"] or filled["w4"] == filled["t3"]  # n3's bytes, free at n4
    assert filled["w5"] != filled["t4"] and filled["w5"] != filled["w4"]  # live from n4
    plain = _addresses(_weights_program(6, sizes), fill=False)
    assert {plain[f"w{i}"] for i in range(6)} == {0}  # distance 0: each reuses the same bytes


def test_a_region_placed_from_the_top_takes_the_highest_gap():
    """`top`: the highest gap that ends at or below it, so a long-lived region does
    not split the bytes below it; a negative start when none fits."""
    scan = LinearScan()
    low = scan.place(0, 5, 1000)  # [0, 1024)
    high = scan.place(0, 5, 1000, top=8192)
    assert (low.start, high.start, high.end) == (0, 7168, 8192)
    under = scan.place(1, 1, 2048, top=8192)  # below `high`, above `low`
    assert (under.start, under.end) == (5120, 7168)
    assert scan.place(2, 2, 4096).start == 1024  # the lowest gap, between them
    assert scan.place(2, 2, 8192, top=8192).start < 0


def test_a_tile_that_pushed_a_kept_tensor_up_keeps_its_own_lifetime():
    """With overlap, a nest's tile %a (20 KiB, live at position 1) would rather live
    until position 3; a tensor %k kept from 2 to 5 then goes above it, and the 40
    KiB tile %b at 5 fits neither below %k (20 KiB) nor above it (24 KiB). No tile
    that took a longer lifetime is live at 5 itself, so the placement looks at the
    starts of the tiles still in place (%k's, 2): %a takes its own lifetime, %k
    goes to 0 and %b above it (VGG-19 on the default chip failed so)."""
    from tidal.passes.loop.allocate import _place_tiles

    chip = get_chip("small")
    kib = 1024 // 4  # fp32 per KiB
    a, k, b = (AllocTileOp("sbuf", 32, n * kib) for n in (20, 20, 40))
    _place_tiles(None, chip, [(a, 1, 1, 3), (k, 2, 5, 5), (b, 5, 5, 5)])  # type: ignore[arg-type]
    assert [op.attributes[ADDR].value.data for op in (a, k, b)] == [0, 0, 20 * 1024]  # type: ignore[attr-defined]

"""Race checking: overlapping SBUF/PSUM accesses in flight on two engines at once,
one of them a write, raise RaceError naming both sides; synchronised programs (hand
built and compiled) run clean."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import onnx
import pytest
from harness import example
from tidal.sim import isa
from tidal.sim.config import SMALL
from tidal.sim.isa import Access, Engine, Opcode, Space, decode_container, make_record
from tidal.sim.machine import (
    LoadError,
    RaceError,
    SimError,
    _footprint,
    _intervals,
    _really_overlap,
    run_program,
)
from tidal.tools.tidal_compile import compile_to_bytes

DMA0 = Engine.DMA0


def _memset_then_copy(mk: SimpleNamespace, with_wait: bool) -> object:
    """POOL fills a big tile (slow) and signals; DMA0 copies one row of it out,
    after waiting for the signal or not."""
    return mk.fill_then_store(
        mk.sbuf(0, 1, 0, (1, 1024)),
        mk.sbuf(0, 1, 0, (1, 4)),
        mk.dram(0, (4, 1), (1, 4)),
        with_wait,
        value=7.0,
        output=mk.io("y", 0, (1, 4)),
        debug=["relu1", "store_y"],
    )


def test_read_while_a_write_is_in_flight_is_a_race(mk: SimpleNamespace) -> None:
    with pytest.raises(RaceError) as info:
        run_program(_memset_then_copy(mk, with_wait=False), {}, check_races=True)
    message = str(info.value)
    assert isinstance(info.value, SimError)
    assert message == (
        "race at cycle 206.5: dma0 instruction 0 (DMA, op 'store_y') reads SBUF "
        "partitions [0, 1) bytes [0, 16) (src) while pool instruction 0 (MEMSET, "
        "op 'relu1'), in flight since cycle 206.5, writes SBUF partitions [0, 1) "
        "bytes [0, 4096) (dst)"
    )


def test_the_missing_wait_is_the_only_difference(mk: SimpleNamespace) -> None:
    outputs, _ = run_program(_memset_then_copy(mk, with_wait=True), {}, check_races=True)
    np.testing.assert_array_equal(outputs["y"], np.full((1, 4), 7.0, np.float32))
    # Without checking, the racy program runs and reads stale data.
    outputs, _ = run_program(_memset_then_copy(mk, with_wait=False), {})
    np.testing.assert_array_equal(outputs["y"], np.zeros((1, 4), np.float32))


def test_write_while_a_read_is_in_flight_is_a_race(mk: SimpleNamespace) -> None:
    """DMA0 stores a tile (slow) while POOL overwrites part of it: write after read.
    (POOL's two records arrive after DMA0's one, so the store is already running.)"""
    store = make_record(
        Opcode.DMA,
        DMA0,
        src=mk.sbuf(2, 4, 64, (1, 256)),
        dst=mk.dram(0, (256, 4), (1, 256)),
    )
    clobber = make_record(
        Opcode.MEMSET, Engine.POOL, dst=mk.sbuf(5, 3, 1000, (1, 8)), value=0.0
    )
    nop = make_record(Opcode.NOP, Engine.POOL)
    program = mk.build({DMA0: [store], Engine.POOL: [nop, clobber]})
    with pytest.raises(RaceError) as info:
        run_program(program, {}, check_races=True)
    message = str(info.value)
    assert message == (
        "race at cycle 210.75: pool instruction 1 (MEMSET, no source op) writes SBUF "
        "partitions [5, 8) bytes [1000, 1032) (dst) while dma0 instruction 0 (DMA, "
        "no source op), in flight since cycle 206.5, reads SBUF partitions [2, 6) "
        "bytes [64, 1088) (src)"
    )


def _two_engines(mk: SimpleNamespace, pool_dst: object, act_dst: object) -> object:
    """POOL and ACT each write a tile at the same time."""
    memset = make_record(Opcode.MEMSET, Engine.POOL, dst=pool_dst, value=1.0)
    act = make_record(
        Opcode.ACT,
        Engine.ACT,
        src=mk.sbuf(16, 4, 0, (1, 64)),
        dst=act_dst,
        scale_imm=1.0,
    )
    return mk.build({Engine.POOL: [memset], Engine.ACT: [act]})


def test_interleaved_strided_accesses_do_not_race(mk: SimpleNamespace) -> None:
    """Even and odd columns of the same rows: the bounding boxes overlap, the
    elements do not."""
    even = mk.sbuf(0, 4, 0, (2, 64))
    odd = mk.sbuf(0, 4, 4, (2, 64))
    run_program(_two_engines(mk, even, odd), {}, check_races=True)
    with pytest.raises(RaceError):
        run_program(_two_engines(mk, even, mk.sbuf(0, 4, 8, (2, 64))), {}, check_races=True)


def test_concurrent_reads_and_disjoint_memories_do_not_race(
    mk: SimpleNamespace,
) -> None:
    tile = mk.sbuf(0, 4, 0, (1, 64))
    # ACT reads tile (its src) while POOL reads it too (TENSOR_TENSOR a, b).
    act = make_record(
        Opcode.ACT, Engine.ACT, src=tile, dst=mk.sbuf(0, 4, 512, (1, 64)), scale_imm=1.0
    )
    tt = make_record(
        Opcode.TENSOR_TENSOR,
        Engine.POOL,
        dst=mk.psum(0, 4, 0, (1, 64)),  # same offsets, other memory
        a=tile,
        b=tile,
        op=0,
    )
    run_program(mk.build({Engine.ACT: [act], Engine.POOL: [tt]}), {}, check_races=True)


def _fill_then_add(tile: Access) -> list[np.ndarray]:
    """POOL: MEMSET `tile`, then TENSOR_TENSOR `tile` = `tile` + `tile`."""
    return [
        make_record(Opcode.MEMSET, Engine.POOL, dst=tile, value=1.0),
        make_record(Opcode.TENSOR_TENSOR, Engine.POOL, dst=tile, a=tile, b=tile, op=0),
    ]


def test_the_same_engine_never_races_with_itself(mk: SimpleNamespace) -> None:
    program = mk.build({Engine.POOL: _fill_then_add(mk.sbuf(0, 4, 0, (1, 64)))})
    run_program(program, {}, check_races=True)


def test_clean_run_counts_the_accesses_checked(mk: SimpleNamespace) -> None:
    """MEMSET (1 access), ACT (src, dst), TENSOR_TENSOR (a, b, dst): 6 checked."""
    program = mk.build(
        {
            Engine.POOL: _fill_then_add(mk.sbuf(0, 4, 0, (1, 64))),
            Engine.ACT: [
                make_record(
                    Opcode.ACT,
                    Engine.ACT,
                    src=mk.sbuf(8, 4, 0, (1, 64)),
                    dst=mk.sbuf(8, 4, 512, (1, 64)),
                    scale_imm=1.0,
                )
            ],
        }
    )
    _, stats = run_program(program, {}, check_races=True)
    assert stats["race_check"] == {"accesses": 6}
    _, stats = run_program(program, {})
    assert "race_check" not in stats


# --------------------------------------------------------------------------- intervals


def _row(acc: Access) -> list[int]:
    return make_record(Opcode.MEMSET, Engine.POOL, dst=acc, value=0.0).tolist()


def _bytes_of(acc: Access) -> np.ndarray:
    """Every byte offset (within a partition) the access reaches, by brute force."""
    starts = np.array([acc.offset], np.int64)
    for stride, count in acc.dims[1:]:
        starts = (starts[:, None] + 4 * stride * np.arange(count)).ravel()
    return np.unique((starts[:, None] + np.arange(4)).ravel())


def test_intervals_are_the_exact_byte_sets() -> None:
    """Random strided accesses (strides 0..12, counts 1..6, four free dims): the
    interval lists cover exactly the bytes brute force finds, and two accesses
    overlap by intervals exactly when their byte sets intersect."""
    rng = np.random.default_rng(7)

    def draw() -> Access:
        dims = tuple(
            (int(rng.integers(0, 13)), int(rng.integers(1, 7))) for _ in range(4)
        )
        return Access(Space.SBUF, 0, 4 * int(rng.integers(0, 400)), ((1, 1), *dims))

    overlapping = 0
    for _ in range(400):
        a, b = draw(), draw()
        wa, wb = _row(a), _row(b)
        [ta], [tb] = _footprint(wa), _footprint(wb)
        starts, ends = _intervals(wa, ta)
        assert np.all(starts[1:] > ends[:-1])  # sorted, disjoint, not touching
        covered = np.unique(np.concatenate([np.arange(s, e) for s, e in zip(starts, ends)]))
        np.testing.assert_array_equal(covered, _bytes_of(a))
        expected = bool(np.intersect1d(_bytes_of(a), _bytes_of(b)).size)
        assert _really_overlap(wa, ta, wb, tb) == expected
        overlapping += expected
    assert 50 < overlapping < 350  # both outcomes are exercised


def test_a_partition_repeated_through_stride_0_is_one_interval() -> None:
    """The worst the loader admits (a partition's worth of elements per access)
    stays a handful of intervals when dense or broadcast; only a genuinely sparse
    access has one interval per element."""
    per_partition = SMALL.sbuf_partition_bytes // 4
    dense = Access(Space.SBUF, 0, 0, ((1, 32), (1, 128), (128, per_partition // 128)))
    broadcast = Access(Space.SBUF, 0, 0, ((1, 32), (0, 1 << 7), (1, 8), (0, 16)))
    sparse = Access(Space.SBUF, 0, 4, ((1, 32), (2, per_partition // 2)))
    for acc, n in ((dense, 1), (broadcast, 1), (sparse, per_partition // 2)):
        w = _row(acc)
        [t] = _footprint(w)
        starts, _ = _intervals(w, t)
        assert len(starts) == n


def test_crafted_1kb_racy_program_is_refused_or_checked_by_intervals(
    mk: SimpleNamespace,
) -> None:
    """The 1 KB binary that made --check-races allocate 32 GiB (2^32 elements
    through stride 0, one element per entry) is refused by the loader; the largest
    accesses it admits race-check by intervals: a partition's worth of elements
    writing 128 words over and over (stride 0 outside) against a write of four of
    them is a race; a stride-2 write of the even words of the whole partition
    against the odd words is not."""
    per_partition = SMALL.sbuf_partition_bytes // 4
    bomb = make_record(
        Opcode.MEMSET,
        Engine.POOL,
        dst=mk.sbuf(0, 32, 0, (0, 1 << 16), (0, 1 << 16)),
        value=1.0,
    )
    store = make_record(
        Opcode.DMA, DMA0, src=mk.sbuf(0, 32, 0, (1, 16)), dst=mk.dram(0, (16, 32), (1, 16))
    )
    program = mk.build({Engine.POOL: [bomb], DMA0: [store]})
    assert len(isa.encode_container(program)) < 1024
    with pytest.raises(LoadError, match="4294967296 elements per partition"):
        run_program(program, {}, check_races=True)

    def pair(pool_dst: Access, act_dst: Access) -> isa.Program:
        """POOL writes pool_dst while ACT writes act_dst (from PSUM)."""
        src = mk.psum(0, 1, 0, (1, act_dst.num_elements))
        return mk.build(
            {
                Engine.POOL: [make_record(Opcode.MEMSET, Engine.POOL, dst=pool_dst, value=1.0)],
                Engine.ACT: [
                    make_record(Opcode.ACT, Engine.ACT, src=src, dst=act_dst, scale_imm=1.0)
                ],
            }
        )

    repeated = mk.sbuf(0, 32, 0, (0, per_partition // 128), (1, 128))
    with pytest.raises(RaceError):
        run_program(pair(repeated, mk.sbuf(0, 1, 256, (1, 4))), {}, check_races=True)
    evens = mk.sbuf(0, 32, 0, (2, per_partition // 2))
    run_program(pair(evens, mk.sbuf(0, 1, 4, (2, 2))), {}, check_races=True)
    with pytest.raises(RaceError):
        run_program(pair(evens, mk.sbuf(0, 1, 8, (2, 2))), {}, check_races=True)


# --------------------------------------------------------------------------- compiled


@pytest.mark.parametrize("chip", ["small", "default"])
@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_compiled_examples_are_race_free(model: str, chip: str, tmp_path: Path) -> None:
    """The compiler's synchronisation must order every conflicting access."""
    models = example("models")
    onnx_model = {"mlp": models.make_mlp, "cnn": models.make_cnn}[model]()
    path = tmp_path / f"{model}.onnx"
    onnx.save(onnx_model, path)
    program = decode_container(compile_to_bytes(str(path), chip))
    inputs = models.make_inputs(onnx_model)
    checked, stats = run_program(program, inputs, check_races=True)
    plain, _ = run_program(program, inputs)
    for name in plain:
        np.testing.assert_array_equal(checked[name], plain[name])
    assert stats["chip"] == chip

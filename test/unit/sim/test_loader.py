"""What the loader rejects before anything runs, and how it says so."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from tidal.sim import isa
from tidal.sim.config import DEFAULT, SMALL
from tidal.sim.isa import Access, Engine, Opcode, make_record
from tidal.sim.loader import validate_program
from tidal.sim.machine import LoadError, run_program

DMA0 = Engine.DMA0


def load_error(program: isa.Program, chip: object = None) -> str:
    with pytest.raises(LoadError) as info:
        run_program(program, {}, chip)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message
    return message


def test_out_of_range_sbuf_partition(mk: SimpleNamespace) -> None:
    bad = make_record(
        Opcode.DMA,
        DMA0,
        src=mk.dram(0, (1, 4)),
        dst=mk.sbuf(SMALL.sbuf_partitions - 2, 4, 0, (1, 1)),
    )
    program = mk.build({DMA0: [make_record(Opcode.NOP, DMA0), bad]})
    message = load_error(program)
    assert message.startswith(
        "stream dma0, instruction 1 (DMA): dst: SBUF partitions [30, 34)"
    )
    assert "32 partitions" in message


def test_out_of_range_dram_address(mk: SimpleNamespace) -> None:
    bad = make_record(
        Opcode.DMA, DMA0, src=mk.dram(4096, (1, 8)), dst=mk.sbuf(0, 8, 0, (1, 1))
    )
    message = load_error(mk.build({DMA0: [bad]}, dram_bytes=4096))
    assert message == (
        "stream dma0, instruction 0 (DMA): src: DRAM bytes [4096, 4128) outside the "
        "program's 4096-byte DRAM"
    )


def test_out_of_range_sbuf_bytes(mk: SimpleNamespace) -> None:
    last = SMALL.sbuf_partition_bytes - 4
    ok = make_record(
        Opcode.MEMSET, Engine.POOL, dst=mk.sbuf(0, 1, last, (1, 1)), value=1.0
    )
    bad = make_record(
        Opcode.MEMSET, Engine.POOL, dst=mk.sbuf(0, 1, last, (1, 2)), value=1.0
    )
    run_program(mk.build({Engine.POOL: [ok]}), {})
    message = load_error(mk.build({Engine.POOL: [ok, bad]}))
    assert "instruction 1 (MEMSET): dst: SBUF bytes" in message


def test_the_earliest_bad_instruction_is_reported(mk: SimpleNamespace) -> None:
    bad_sem = make_record(Opcode.SIGNAL, Engine.POOL, sem=SMALL.num_semaphores)
    bad_dst = make_record(Opcode.MEMSET, Engine.POOL, dst=mk.sbuf(40, 1), value=0.0)
    message = load_error(mk.build({Engine.POOL: [bad_dst, bad_sem]}))
    assert "instruction 0 (MEMSET)" in message
    message = load_error(mk.build({Engine.POOL: [bad_sem, bad_dst]}))
    assert (
        message == "stream pool, instruction 0 (SIGNAL): semaphore 32 outside [0, 32)"
    )


def test_chip_mismatch(mk: SimpleNamespace) -> None:
    program = mk.build({DMA0: [make_record(Opcode.NOP, DMA0)]})
    assert load_error(program, DEFAULT) == (
        "binary was compiled for chip 'small', simulator configured for 'default'"
    )


def test_unknown_chip(mk: SimpleNamespace) -> None:
    program = mk.build({DMA0: [make_record(Opcode.NOP, DMA0)]}, chip="huge")
    assert "unknown chip preset 'huge'" in load_error(program)


def test_dma_queue_missing_on_chip(mk: SimpleNamespace) -> None:
    q = DMA0 + SMALL.dma_queues
    program = mk.build({q: [make_record(Opcode.NOP, q)]})
    assert "stream for engine 5" in load_error(program)


@pytest.mark.parametrize(
    ("engine", "record", "expected"),
    [
        (
            Engine.ACT,
            make_record(Opcode.MEMSET, Engine.ACT, value=0.0),
            "instruction 0 (MEMSET): cannot run on engine act",
        ),
        (
            Engine.PE,
            make_record(Opcode.NOP, Engine.ACT),
            "engine word 1 does not match the stream's engine 0",
        ),
        (
            Engine.PE,
            make_record(Opcode.NOP, Engine.PE, signal=99),
            "signal semaphore 99 outside [0, 32)",
        ),
        (
            Engine.PE,
            make_record(Opcode.NOP, Engine.PE, debug=0),
            "debug id 0 outside the debug table (0 entries)",
        ),
        (
            Engine.PE,
            make_record(Opcode.NOP, Engine.PE, wait=(32, 1)),
            "wait semaphore 32 outside [0, 32)",
        ),
        (
            Engine.PE,
            make_record(Opcode.NOP, Engine.PE, wait=(-5, 1)),
            "wait semaphore -5 outside [0, 32)",
        ),
        (
            Engine.PE,
            make_record(Opcode.WAIT, Engine.PE, sem=1, value=1, wait=(2, 1)),
            "instruction 0 (WAIT): a WAIT cannot carry a folded wait",
        ),
    ],
)
def test_header_checks(
    mk: SimpleNamespace, engine: int, record: np.ndarray, expected: str
) -> None:
    assert expected in load_error(mk.build({engine: [record]}))


def test_unknown_opcode(mk: SimpleNamespace) -> None:
    record = make_record(Opcode.NOP, Engine.PE)
    record[isa.W_OPCODE] = 77
    assert load_error(mk.build({Engine.PE: [record]})) == (
        "stream pe, instruction 0 (opcode 77): unknown opcode 77"
    )


def test_operand_sizes_must_agree(mk: SimpleNamespace) -> None:
    dma = make_record(
        Opcode.DMA, DMA0, src=mk.dram(0, (1, 8)), dst=mk.sbuf(0, 4, 0, (1, 1))
    )
    assert "src has 8 elements (8,), dst has 4 (4, 1)" in load_error(
        mk.build({DMA0: [dma]})
    )
    mm = _matmul(mk, mk.psum(0, 4, 0, (1, 8)), moving=mk.sbuf(0, 3, 64, (1, 8)))
    assert "moving spans 3 partitions, stationary K=4" in load_error(
        mk.build({Engine.PE: [mm]})
    )


def _matmul(mk: SimpleNamespace, dst: Access, moving: Access) -> np.ndarray:
    """A MATMUL of a [4, 4] SBUF stationary tile by `moving` into `dst`."""
    stationary = mk.sbuf(0, 4, 0, (1, 4))
    return make_record(
        Opcode.MATMUL, Engine.PE, dst=dst, stationary=stationary, moving=moving
    )


def test_matmul_operand_spaces(mk: SimpleNamespace) -> None:
    mm = _matmul(mk, mk.sbuf(0, 4, 0, (1, 8)), moving=mk.sbuf(0, 4, 64, (1, 8)))
    assert "dst must be in PSUM, not SBUF" in load_error(mk.build({Engine.PE: [mm]}))


def test_io_table_outside_dram(mk: SimpleNamespace) -> None:
    program = mk.build(
        {DMA0: [make_record(Opcode.NOP, DMA0)]},
        outputs=[mk.io("y", 4000, (4, 8))],
        dram_bytes=4096,
    )
    assert load_error(program).startswith("output 'y' occupies DRAM bytes [4000, 4128)")


def test_missing_dram_size(mk: SimpleNamespace) -> None:
    program = mk.build({DMA0: [make_record(Opcode.NOP, DMA0)]})
    program.meta = {}
    assert "'dram_bytes'" in load_error(program)


# --------------------------------------------------------------------------- bounds
# Tiny binaries that asked for hours of work or gigabytes of memory: the loader bounds
# every access by its memory's size in elements (however its strides repeat them) and
# the outputs together by the program's DRAM, in exact integer arithmetic.

BIG = 1 << 20  # two dims of it: 2^40 elements


def test_stride_0_memset_of_2_40_elements_is_refused(mk: SimpleNamespace) -> None:
    """A 4-byte footprint written 2^40 times (the loop ran for hours)."""
    bomb = make_record(
        Opcode.MEMSET, Engine.POOL, dst=mk.sbuf(0, 1, 0, (0, BIG), (0, BIG)), value=1.0
    )
    program = mk.build({Engine.POOL: [bomb]})
    assert len(isa.encode_container(program)) < 1024
    assert load_error(program) == (
        "stream pool, instruction 0 (MEMSET): dst: 1099511627776 elements per "
        "partition (1, 1048576, 1048576), more than the 16384 of a 65536-byte SBUF "
        "partition"
    )


def test_on_chip_element_bound_is_exact(mk: SimpleNamespace) -> None:
    """Exactly a partition's worth of elements through stride 0 runs; one more is
    refused. (Counts whose product wraps int64 to a small number are refused too.)"""
    per_partition = SMALL.sbuf_partition_bytes // 4

    def memset(*free: tuple[int, int]) -> isa.Program:
        dst = mk.sbuf(0, 2, 0, *free)
        return mk.build({Engine.POOL: [make_record(Opcode.MEMSET, Engine.POOL, dst=dst, value=2.0)]})

    run_program(memset((0, per_partition)), {})
    run_program(memset((0, 128), (1, per_partition // 128)), {})
    assert "16385 elements per partition" in load_error(memset((0, per_partition + 1)))
    # 2^16 * 2^16 * 2^16 * 2^16 = 2^64: 0 in int64 arithmetic.
    wraps = memset((0, 1 << 16), (0, 1 << 16), (0, 1 << 16), (0, 1 << 16))
    assert "18446744073709551616 elements per partition" in load_error(wraps)


def test_stride_0_dma_of_2_40_elements_is_refused(mk: SimpleNamespace) -> None:
    """Both sides broadcast one element 2^40 times (the copy needed 4 TiB)."""
    bomb = make_record(
        Opcode.DMA,
        DMA0,
        src=mk.dram(0, (0, BIG), (0, BIG)),
        dst=mk.sbuf(0, 1, 0, (0, BIG), (0, BIG)),
    )
    program = mk.build({DMA0: [bomb]})
    assert len(isa.encode_container(program)) < 1024
    sbuf = SMALL.sbuf_partitions * SMALL.sbuf_partition_bytes
    assert load_error(program) == (
        "stream dma0, instruction 0 (DMA): src: 1099511627776 DRAM elements "
        f"(1048576, 1048576), more than the {sbuf // 4} of the program's 65536-byte "
        f"DRAM or the chip's {sbuf}-byte SBUF"
    )


def test_reshaping_dram_to_dram_copy_of_8_gb_is_refused(mk: SimpleNamespace) -> None:
    """2^31 elements: a 256 KiB row read 2^15 times through stride 0 and reshaped
    (NumPy copied all 8 GB before writing)."""
    bomb = make_record(
        Opcode.DMA,
        DMA0,
        src=mk.dram(0, (0, 1 << 15), (1, 1 << 16)),
        dst=mk.dram(0, (0, 1 << 16), (1, 1 << 15)),
    )
    program = mk.build({DMA0: [bomb]}, dram_bytes=SMALL.dram_bytes)
    assert load_error(program) == (
        "stream dma0, instruction 0 (DMA): src: 2147483648 DRAM elements "
        "(32768, 65536), more than the 268435456 of the program's 1073741824-byte DRAM"
    )


def test_dram_element_bound_is_exact(mk: SimpleNamespace) -> None:
    """A DRAM-to-DRAM copy of all of DRAM runs and is right; a stride-0 copy (a
    broadcast) may repeat elements up to what the chip's SBUF holds, more than this
    small program's DRAM (a broadcast into a whole SBUF tile), and one element more
    is refused."""
    n = 1 << 10
    x = np.arange(n, dtype=np.float32)

    def copy(count: int, stride: int) -> isa.Program:
        rec = make_record(
            Opcode.DMA, DMA0, src=mk.dram(0, (stride, count)), dst=mk.dram(0, (stride, count))
        )
        return mk.build(
            {DMA0: [rec]}, inputs=[mk.io("x", 0, (n,))], outputs=[mk.io("y", 0, (n,))],
            dram_bytes=4 * n,
        )

    outputs, _ = run_program(copy(n, 1), {"x": x})
    np.testing.assert_array_equal(outputs["y"], x)
    run_program(copy(n, 0), {"x": x})
    sbuf = SMALL.sbuf_partitions * SMALL.sbuf_partition_bytes // 4
    run_program(copy(sbuf, 0), {"x": x})
    assert f"src: {sbuf + 1} DRAM elements" in load_error(copy(sbuf + 1, 0))


def test_outputs_aliasing_all_of_dram_are_refused(mk: SimpleNamespace) -> None:
    """Each output is the whole 1 GiB DRAM: reading them out took 1 GiB per output
    (and a file of as many)."""
    whole = (SMALL.dram_bytes // 4,)
    outputs = [mk.io(f"y{i}", 0, whole) for i in range(16)]
    program = mk.build(
        {DMA0: [make_record(Opcode.NOP, DMA0)]}, outputs=outputs, dram_bytes=SMALL.dram_bytes
    )
    assert len(isa.encode_container(program)) < 2048
    assert load_error(program) == (
        "outputs take 2147483648 bytes up to output 'y1' (entry 1), more than "
        "chip 'small''s 1073741824 bytes of DRAM"
    )


def test_outputs_that_together_fill_dram_load(mk: SimpleNamespace) -> None:
    program = mk.build(
        {DMA0: [make_record(Opcode.NOP, DMA0)]},
        outputs=[mk.io("a", 0, (8, 4)), mk.io("b", 0, (8, 4))],
        dram_bytes=256,
    )
    outputs, _ = run_program(program, {})
    assert set(outputs) == {"a", "b"}


def test_aliasing_outputs_may_exceed_a_small_program_dram(mk: SimpleNamespace) -> None:
    """Outputs that are one tensor under several names (a model returning its input
    three times) alias legitimately: bounded by the chip's DRAM, not the program's."""
    program = mk.build(
        {DMA0: [make_record(Opcode.NOP, DMA0)]},
        outputs=[mk.io(n, 0, (2, 4)) for n in "xzu"],
        dram_bytes=64,
    )
    outputs, _ = run_program(program, {})
    assert set(outputs) == {"x", "z", "u"}


@pytest.mark.parametrize(
    ("shape", "count"),
    [
        ([1 << 30, 1 << 30, 16], "18446744073709551616 elements"),  # 2^64: 0 in int64
        ([2**31 - 1] * 3, f"{(2**31 - 1) ** 3} elements"),
        ([0, 1 << 10, 1 << 3], None),  # zero elements, small dims: fits
        # Zero elements, but NumPy cannot form the shape: the run crashed after
        # (fuzzing, seed 7, input 10165, had twenty such dims).
        ([0] + [2**31 - 1] * 3, f"no elements, but {(2**31 - 1) ** 3} in its non-zero dims"),
        ([1 << 30, 0, 1 << 30], f"no elements, but {1 << 60} in its non-zero dims"),
    ],
)
def test_io_shape_whose_size_overflows_int64(
    mk: SimpleNamespace, shape: list[int], count: str | None
) -> None:
    """The shape passed the loader (np.prod wrapped) and the run crashed after."""
    program = mk.build(
        {DMA0: [make_record(Opcode.NOP, DMA0)]},
        outputs=[{"name": "y", "addr": 0, "shape": shape, "dtype": "float32"}],
    )
    if count is None:
        outputs, _ = run_program(program, {})
        assert outputs["y"].shape == tuple(shape)
        return
    assert load_error(program) == (
        f"output 'y' has shape {shape} of {count}, more than the 16384 of "
        "the program's 65536-byte DRAM"
    )


def test_io_rank_is_bounded(mk: SimpleNamespace) -> None:
    program = mk.build(
        {DMA0: [make_record(Opcode.NOP, DMA0)]}, outputs=[mk.io("y", 0, (1,) * 40)]
    )
    assert load_error(program) == "output 'y' has 40 dims, at most 32 are supported"


def test_the_largest_dram_of_the_default_chip_loads(mk: SimpleNamespace) -> None:
    """Nearly 4 GiB, all of the default chip's DRAM but 1 KiB left for the
    instruction image (a clipped size must stay above it): the loader accepts it and its
    bounds use it (no machine is built: that would allocate the 4 GiB). The whole 4
    GiB leaves no room for the instructions."""
    size = DEFAULT.dram_bytes - 1024
    whole = size // 4
    program = mk.build(
        {DMA0: [make_record(Opcode.DMA, DMA0, src=mk.dram(0, (0, whole)), dst=mk.dram(0, (1, whole)))]},
        outputs=[mk.io("y", 0, (whole,))],
        chip="default",
        dram_bytes=size,
    )
    assert validate_program(program, DEFAULT) == size
    program.outputs.append(mk.io("z", 0, (257,)))  # outputs over the chip's DRAM
    with pytest.raises(LoadError, match="outputs take 4294967300 bytes"):
        validate_program(program, DEFAULT)
    program.outputs.pop()
    program.meta["dram_bytes"] = DEFAULT.dram_bytes
    with pytest.raises(LoadError, match=r"instruction image takes DRAM bytes \[4294967296, \d+\), past chip 'default''s"):
        validate_program(program, DEFAULT)

"""Chip presets: the one place where the accelerator's sizes, costs and clock live.

The compiler (`tidal.passes`, `tidal.targets`) and the hardware model (`tidal.sim`) both
read a `ChipConfig` from here by preset name, so changing a preset never needs a code
change elsewhere. Every latency and bandwidth carries its unit in its name, and each
preset says where its numbers come from.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace

from tidal.sim.isa import RECORD_BYTES

MAX_LUT_INTERVALS = 1 << 16  # rows of one ACT table (bounds the LUT section a loader reads)


@dataclass(frozen=True)
class ChipConfig:
    """One chip preset. Sizes are in bytes or counts, times in cycles of `clock_hz`,
    rates per cycle; where each number of a preset comes from is said beside it."""

    name: str

    # PE array: rows = contraction dim (SBUF partitions of the stationary operand),
    # cols = output partitions (PSUM partitions).
    pe_rows: int
    pe_cols: int
    # Largest moving (streamed) free size of one matmul instruction: one PSUM bank
    # of fp32 per partition.
    matmul_moving_max: int

    # On-chip memories (partitioned: partition p of every buffer sits beside lane p).
    sbuf_partitions: int
    sbuf_partition_bytes: int
    psum_partitions: int
    psum_partition_bytes: int
    psum_banks: int

    # Engine lanes (one lane per partition).
    act_lanes: int
    pool_lanes: int

    # DMA: several queues sharing one DRAM bandwidth.
    dma_queues: int
    dram_bytes_per_cycle: float  # shared by every transfer in its data phase
    dma_fixed_latency_cycles: int  # per descriptor, before its data moves
    # Descriptors one queue may have in flight at once (issued in order, each paying
    # its fixed latency, retiring in order); 1 = one at a time.
    dma_queue_depth: int
    dram_bytes: int

    # Costs per instruction (docs/hardware-model.md has the formulas).
    pe_min_cycles: int  # a matmul issues at least this many cycles
    pe_weight_load_cycles: int  # shifting a new stationary operand into the array
    pe_fill_drain_cycles: int  # pipeline skew paid with each new stationary operand
    # Stationary-operand buffers in the array: 1 = a new operand shifts in after the
    # previous matmul drains; 2 = it shifts into the idle buffer while the previous
    # matmul streams (`tidal.sim.spec.matmul_load_cycles` has the rule).
    pe_weight_buffers: int
    act_elems_per_cycle_per_lane: float
    act_fixed_cycles: int
    # Rows of each ACT lookup table (exp, sigmoid, tanh, ... : `tidal.sim.spec.lut`):
    # the tables' resolution. The compiler generates tables of this many rows and the
    # loader refuses others; accuracy per resolution in docs/lut.md.
    act_lut_intervals: int
    pool_elems_per_cycle_per_lane: float
    pool_fixed_cycles: int
    sync_cycles: int  # a wait that is already satisfied, a signal, a nop

    # Instruction buffers: one ring per engine, refilled from DRAM by fetch
    # transfers of `instr_fetch_block_bytes` (records of isa.RECORD_BYTES) that pay
    # `dma_fixed_latency_cycles` and share `dram_bytes_per_cycle` with data DMAs.
    instr_buffer_bytes: int
    instr_fetch_block_bytes: int

    # Semaphores available to programs.
    num_semaphores: int

    clock_hz: float

    def __post_init__(self) -> None:
        record = RECORD_BYTES
        if not record <= self.instr_fetch_block_bytes <= self.instr_buffer_bytes:
            raise ValueError(
                f"chip '{self.name}': instr_fetch_block_bytes "
                f"{self.instr_fetch_block_bytes} must hold at least one {record}-byte "
                f"record and fit instr_buffer_bytes {self.instr_buffer_bytes}"
            )
        if self.dma_queue_depth < 1:
            raise ValueError(
                f"chip '{self.name}': dma_queue_depth must be at least 1, not "
                f"{self.dma_queue_depth}"
            )
        if not 1 <= self.act_lut_intervals <= MAX_LUT_INTERVALS:
            raise ValueError(
                f"chip '{self.name}': act_lut_intervals must be 1 to {MAX_LUT_INTERVALS}, "
                f"not {self.act_lut_intervals}"
            )
        if self.pe_weight_buffers not in (1, 2):
            raise ValueError(
                f"chip '{self.name}': pe_weight_buffers must be 1 or 2, not "
                f"{self.pe_weight_buffers}"
            )
        if self.psum_partition_bytes % self.psum_banks:
            raise ValueError(
                f"chip '{self.name}': {self.psum_banks} PSUM banks do not divide "
                f"{self.psum_partition_bytes} bytes"
            )

    @property
    def psum_bank_bytes(self) -> int:
        return self.psum_partition_bytes // self.psum_banks

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


# After public AWS NeuronCore-v2 figures (Trainium / Inferentia2): the "NeuronCore-v2
# Architecture" and "Trainium/Inferentia2 Architecture Guide for NKI" pages of the AWS
# Neuron SDK documentation, and the `nki.isa.nc_matmul` reference. Numbers that the
# documentation does not publish are marked "assumed" with the reasoning.
DEFAULT = ChipConfig(
    name="default",
    # Tensor Engine: a 128x128 systolic array (nc_matmul: partition (contraction)
    # size <= 128, stationary free size <= 128, moving free size <= 512).
    pe_rows=128,
    pe_cols=128,
    matmul_moving_max=512,
    # SBUF 24 MiB = 128 partitions x 192 KiB; PSUM 2 MiB = 128 partitions x 16 KiB
    # in 8 banks of 2 KiB (512 fp32 per partition per bank) (NKI architecture guide).
    sbuf_partitions=128,
    sbuf_partition_bytes=192 * 1024,
    psum_partitions=128,
    psum_partition_bytes=16 * 1024,
    psum_banks=8,
    # Scalar (ACT) and Vector/GpSimd (POOL) engines: one lane per partition.
    act_lanes=128,
    pool_lanes=128,
    # A device has 32 DMA engines for 2 cores; a program here sees 4 queues (assumed:
    # enough for the compiler's alternating-semaphore double buffering).
    dma_queues=4,
    # HBM: 820 GB/s per two-core device -> 410 GB/s per core; at 1.4 GHz,
    # 410e9 / 1.4e9 ~= 290 bytes per cycle.
    dram_bytes_per_cycle=290.0,
    # ~1 us of fixed cost per DMA descriptor (assumed, the order of magnitude NKI
    # profiles show for small transfers): 1.4e9 * 1e-6 = 1400 cycles.
    dma_fixed_latency_cycles=1400,
    # "Each NeuronCore (v2-v4) is paired with 16 DMA engines", which "can operate in
    # parallel to compute" (AWS Neuron SDK, "Introduction to Direct Memory Access
    # (DMA) with NKI"): spread over the 4 queues a program sees here, 4 engines per
    # queue, each moving one descriptor at a time, so 4 descriptors of a queue are in
    # flight at once, their fixed latencies overlapping. The same page says each
    # transfer "ends with a semaphore update"; that a queue's updates come in issue
    # order is assumed (it lets a count cover every earlier transfer of the queue).
    dma_queue_depth=4,
    dram_bytes=1 << 32,
    # Each engine instruction has a fixed startup cost of ~64 cycles (NKI performance
    # guide); a matmul streams one moving column per cycle, so it takes max(N, 64).
    pe_min_cycles=64,
    # A new stationary operand shifts in one row per cycle (pe_rows cycles), and the
    # array's skew fills and drains in pe_rows + pe_cols - 2 cycles: the per-fold
    # cost of a weight-stationary array as SCALE-Sim models it (2*Sr + Sc - 2 + N).
    pe_weight_load_cycles=128,
    pe_fill_drain_cycles=128 + 128 - 2,
    # Two stationary buffers, as in the TPU v1 matrix unit (Jouppi et al., "In-Datacenter
    # Performance Analysis of a Tensor Processing Unit", ISCA 2017, section 2): "The
    # matrix unit holds one 64 KiB tile of weights plus one for double-buffering (to
    # hide the 256 cycles it takes to shift a tile in)", and "The weights are
    # preloaded, and take effect with the advancing wave alongside the first data of a
    # new block." So the next operand shifts in while the current matmul streams and no
    # fill/drain bubble separates them; only load time the previous matmul's streaming
    # does not cover is exposed (docs/hardware-model.md). The NeuronCore-v2 documents
    # cited above do not say how the Tensor Engine stages its stationary operand.
    pe_weight_buffers=2,
    # 1 element per lane per cycle plus the ~64-cycle fixed instruction cost (NKI
    # performance guide).
    act_elems_per_cycle_per_lane=1.0,
    act_fixed_cycles=64,
    # ACT evaluates exp, sigmoid, tanh and the other non-linear functions from
    # per-function tables (NKI documents "valid input ranges" for its activation
    # functions, and the mapping-table seed, US patent "hardware computations of
    # mathematical functions", a table of base values with per-interval parameters).
    # The table size is not published: 256 intervals (assumed) bring every function
    # within about 2 float32 ulps (docs/lut.md). Costs do not depend on the function.
    act_lut_intervals=256,
    pool_elems_per_cycle_per_lane=1.0,
    pool_fixed_cycles=64,
    # A semaphore update is one cycle (assumed).
    sync_cycles=1,
    # Instruction buffer sizes are not published: 256 KiB per engine (1260 records)
    # is assumed; refilled in halves, a double-buffered ring as in the self-refill
    # seed (US10592250B1).
    instr_buffer_bytes=256 * 1024,
    instr_fetch_block_bytes=128 * 1024,
    num_semaphores=32,
    # 1.4 GHz NeuronCore-v2 clock.
    clock_hz=1.4e9,
)

# A scaled-down chip for fast tests: a 32x32 array and 32 partitions force the
# compiler's tiling paths on small tensors, and a 32-record instruction buffer makes
# every real program run through refills. Costs keep the default's formulas (fixed
# costs scaled by 32/128), bandwidth and clock are round numbers; a number not given
# here is the default's.
SMALL = replace(
    DEFAULT,
    name="small",
    # The array, both memories and both engines are 32 lanes wide.
    **dict.fromkeys(
        (
            "pe_rows",
            "pe_cols",
            "sbuf_partitions",
            "psum_partitions",
            "act_lanes",
            "pool_lanes",
        ),
        32,
    ),
    **dict.fromkeys(("pe_min_cycles", "act_fixed_cycles", "pool_fixed_cycles"), 16),
    act_lut_intervals=64,  # a coarser table: tests run the compiler at two resolutions
    pe_weight_load_cycles=32,  # pe_rows
    pe_fill_drain_cycles=32 + 32 - 2,  # pe_rows + pe_cols - 2
    # pe_weight_buffers: the default's 2 (the same array design, scaled; tests that
    # need the single-buffered array replace it with 1).
    sbuf_partition_bytes=64 * 1024,
    psum_partition_bytes=8 * 1024,
    psum_banks=4,
    dma_queues=2,
    # dma_queue_depth: the default's 4 (tests of the one-at-a-time queue replace it
    # with 1).
    dram_bytes_per_cycle=64.0,
    dma_fixed_latency_cycles=200,
    dram_bytes=1 << 30,
    instr_buffer_bytes=32 * RECORD_BYTES,
    instr_fetch_block_bytes=16 * RECORD_BYTES,
    clock_hz=1.0e9,
)

PRESETS: dict[str, ChipConfig] = {c.name: c for c in (DEFAULT, SMALL)}


class UnknownChipError(ValueError):
    pass


def get_chip(name: str) -> ChipConfig:
    """The preset called `name`; raises UnknownChipError naming the known presets."""
    try:
        return PRESETS[name]
    except KeyError:
        known = ", ".join(sorted(PRESETS))
        raise UnknownChipError(
            f"unknown chip preset '{name}' (known: {known})"
        ) from None


WHAT_IF_FIELDS: tuple[str, ...] = (
    "dram_bytes_per_cycle",
    "dma_fixed_latency_cycles",
    "pe_min_cycles",
    "pe_weight_load_cycles",
    "pe_fill_drain_cycles",
    "pe_weight_buffers",
    "act_elems_per_cycle_per_lane",
    "act_fixed_cycles",
    "pool_elems_per_cycle_per_lane",
    "pool_fixed_cycles",
    "sync_cycles",
)
"""The costs `what_if` may change: rates and latencies, which move only when
instructions end. Sizes, lanes, queues, queue depths, buffers and the clock stay the
preset's: a program is compiled for them (its tiles, semaphores and synchronisation
assume them), and a queue deeper than the one it was synchronised for would race."""

WHAT_IF_RATES = (1e-3, 1e9)
"""The range of a what-if rate (bytes or elements per cycle): from a thousandth of
the presets' slowest to far beyond any limit a program meets."""
WHAT_IF_CYCLES_MAX = 2**31 - 1
"""The largest what-if cycle count (a record word's)."""

_RATES = ("dram_bytes_per_cycle", "act_elems_per_cycle_per_lane", "pool_elems_per_cycle_per_lane")


def what_if(chip: ChipConfig, changes: Mapping[str, float]) -> ChipConfig:
    """`chip` with some of its costs changed (`WHAT_IF_FIELDS`), to ask what binds a
    program: e.g. `{"dram_bytes_per_cycle": 2900.0}` runs it as if DRAM were ten
    times as fast. The name stays the preset's (binaries name the chip they were
    compiled for); raises ValueError naming a field that may not change or a value
    out of range (rates within WHAT_IF_RATES, cycle counts whole and 0 to
    WHAT_IF_CYCLES_MAX, `pe_weight_buffers` 1 or 2)."""
    out: dict[str, float | int] = {}
    for name, value in changes.items():
        if name not in WHAT_IF_FIELDS:
            raise ValueError(
                f"'{name}' is not a cost a what-if may change (one of: {', '.join(WHAT_IF_FIELDS)})"
            )
        v = float(value)
        if not math.isfinite(v):
            raise ValueError(f"{name} must be finite, not {value}")
        if name in _RATES:
            if not WHAT_IF_RATES[0] <= v <= WHAT_IF_RATES[1]:
                raise ValueError(f"{name} must be {WHAT_IF_RATES[0]:g} to {WHAT_IF_RATES[1]:g}, not {value}")
            out[name] = v
            continue
        if v != int(v) or not 0 <= v <= WHAT_IF_CYCLES_MAX:
            raise ValueError(f"{name} must be a whole number of 0 to {WHAT_IF_CYCLES_MAX}, not {value}")
        out[name] = int(v)
    return replace(chip, **out)

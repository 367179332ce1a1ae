"""Chip presets: the one place where the accelerator's sizes, costs and clock live.

The compiler (`tidal.passes`, `tidal.targets`) and the hardware model (`tidal.sim`) both
read a `ChipConfig` from here by preset name, so changing a preset never needs a code
change elsewhere. Every latency and bandwidth carries its unit in its name.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ChipConfig:
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
    dram_bytes_per_cycle: float
    dma_fixed_latency_cycles: int
    dram_bytes: int

    # Costs per instruction.
    pe_min_cycles: int  # a matmul issues at least this many cycles (pipeline depth)
    pe_weight_load_cycles: int  # loading a new stationary operand (fill/drain)
    act_elems_per_cycle_per_lane: float
    act_fixed_cycles: int
    pool_elems_per_cycle_per_lane: float
    pool_fixed_cycles: int
    sync_cycles: int  # a wait that is already satisfied, a signal, a nop

    # Instruction buffers (one per engine), in bytes.
    instr_buffer_bytes: int

    # Semaphores available to programs.
    num_semaphores: int

    clock_hz: float

    @property
    def psum_bank_bytes(self) -> int:
        return self.psum_partition_bytes // self.psum_banks

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


# After public AWS NeuronCore-v2 figures (Trainium / Inferentia2 "NeuronCore-v2"
# architecture pages of the AWS Neuron SDK documentation): 128x128 systolic PE array,
# SBUF 24 MiB as 128 partitions x 192 KiB, PSUM 2 MiB as 128 partitions x 16 KiB in
# 8 banks of 2 KiB (512 fp32), matmul moving free size <= 512, 1.4 GHz.
# DRAM bandwidth: ~410 GB/s of HBM per NeuronCore (820 GB/s per two-core trn1 chip)
# -> 410e9 / 1.4e9 ~= 290 bytes per cycle. DMA fixed latency ~2 us per descriptor
# chain in published NKI profiles; we charge ~1.4k cycles. The PE issue floor of 64
# cycles and the ACT/POOL fixed overheads follow the NKI performance guide (an
# instruction has a fixed ~64-cycle startup cost); 1 element per lane per cycle.
DEFAULT = ChipConfig(
    name="default",
    pe_rows=128,
    pe_cols=128,
    matmul_moving_max=512,
    sbuf_partitions=128,
    sbuf_partition_bytes=192 * 1024,
    psum_partitions=128,
    psum_partition_bytes=16 * 1024,
    psum_banks=8,
    act_lanes=128,
    pool_lanes=128,
    dma_queues=4,
    dram_bytes_per_cycle=290.0,
    dma_fixed_latency_cycles=1400,
    dram_bytes=1 << 32,
    pe_min_cycles=64,
    pe_weight_load_cycles=128,
    act_elems_per_cycle_per_lane=1.0,
    act_fixed_cycles=64,
    pool_elems_per_cycle_per_lane=1.0,
    pool_fixed_cycles=64,
    sync_cycles=1,
    instr_buffer_bytes=256 * 1024,
    num_semaphores=32,
    clock_hz=1.4e9,
)

# A scaled-down chip for fast tests: a 32x32 array and 32 partitions force the
# compiler's tiling paths on small tensors. Costs keep the default's ratios.
SMALL = ChipConfig(
    name="small",
    pe_rows=32,
    pe_cols=32,
    matmul_moving_max=512,
    sbuf_partitions=32,
    sbuf_partition_bytes=64 * 1024,
    psum_partitions=32,
    psum_partition_bytes=8 * 1024,
    psum_banks=4,
    act_lanes=32,
    pool_lanes=32,
    dma_queues=2,
    dram_bytes_per_cycle=64.0,
    dma_fixed_latency_cycles=200,
    dram_bytes=1 << 30,
    pe_min_cycles=16,
    pe_weight_load_cycles=32,
    act_elems_per_cycle_per_lane=1.0,
    act_fixed_cycles=16,
    pool_elems_per_cycle_per_lane=1.0,
    pool_fixed_cycles=16,
    sync_cycles=1,
    instr_buffer_bytes=64 * 1024,
    num_semaphores=32,
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

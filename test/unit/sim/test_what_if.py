"""tidal.sim.config.what_if: a preset with some of its costs changed."""

from __future__ import annotations

from dataclasses import fields

import pytest

from tidal.sim.config import DEFAULT, SMALL, WHAT_IF_FIELDS, ChipConfig, what_if


def test_changes_only_the_named_costs_and_keeps_the_name() -> None:
    chip = what_if(DEFAULT, {"dram_bytes_per_cycle": 2900.0, "act_fixed_cycles": 0.0})
    assert chip.name == "default"  # binaries name the preset they were compiled for
    assert chip.dram_bytes_per_cycle == 2900.0
    assert chip.act_fixed_cycles == 0 and isinstance(chip.act_fixed_cycles, int)
    changed = {f.name for f in fields(ChipConfig) if getattr(chip, f.name) != getattr(DEFAULT, f.name)}
    assert changed == {"dram_bytes_per_cycle", "act_fixed_cycles"}
    assert what_if(SMALL, {}) == SMALL


def test_only_rates_and_latencies_may_change() -> None:
    """Nothing a program is compiled for (sizes, lanes, queues and their depth,
    buffers, semaphores, the clock, the LUT resolution) is a what-if field, and
    every what-if field is a field of the chip."""
    names = {f.name for f in fields(ChipConfig)}
    assert set(WHAT_IF_FIELDS) <= names
    for fixed in (
        "pe_rows", "pe_cols", "matmul_moving_max", "sbuf_partitions", "sbuf_partition_bytes",
        "psum_partitions", "psum_partition_bytes", "psum_banks", "act_lanes", "pool_lanes",
        "dma_queues", "dma_queue_depth", "dram_bytes", "act_lut_intervals",
        "instr_buffer_bytes", "instr_fetch_block_bytes", "num_semaphores", "clock_hz", "name",
    ):
        assert fixed not in WHAT_IF_FIELDS
        with pytest.raises(ValueError, match=f"'{fixed}' is not a cost a what-if may change"):
            what_if(DEFAULT, {fixed: 1.0})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"pool_elems_per_cycle_per_lane": -1.0}, "must be 0.001 to"),
        ({"pool_elems_per_cycle_per_lane": float("inf")}, "must be finite"),
        ({"dma_fixed_latency_cycles": 0.5}, "whole number"),
        ({"pe_weight_buffers": 0.0}, "pe_weight_buffers must be 1 or 2"),
    ],
)
def test_values_out_of_range_are_refused(changes: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        what_if(DEFAULT, changes)

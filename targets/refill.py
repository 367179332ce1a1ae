"""Self-refill (seed 003, US10592250B1 "Self-refill for instruction buffer", and
US10664282B1 "Runtime augmentation of engine instructions"): the compiler splits
each engine's stream into sections and adds the instructions by which the engine
itself loads its next section from a DMA ring in DRAM, instead of the hardware's
fetch logic; the last section loads the first again, so that a second inference
runs without the host loading anything.

`self_refill(program, chip)` rewrites an encoded program:

- each stream (its HALT included) is cut into sections of `S - 1` records, `S =
  instr_buffer_bytes // 208 // 2` (half the buffer: one section runs while the next
  loads), padded with a NOP section before the last when their number is odd (so
  that section 0 and the last use different halves of the buffer);
- section i starts with `REFILL (i + 1) mod K`: it loads the next section while its
  own runs, and the last one loads section 0 for the next run (a stream that fits
  one section is that section alone, without a REFILL: it stays in the buffer);
- the DMA ring: per engine, K entries of three int32 (DRAM byte address of the
  section's records, its first record's index in the stream, its record count), a
  constant after the program's data;
- the instruction image follows the ring, inside the program's DRAM (META
  `instr_base`), and META `self_refill` = {"section_records": S, "ring": {engine
  number: ring address}}.

The hardware model then loads only section 0 of each stream when the program
starts; everything else is the engines' own REFILLs (docs/self-refill.md)."""

from __future__ import annotations

import numpy as np

from tidal.sim import isa
from tidal.sim.config import ChipConfig
from tidal.sim.loader import IMAGE_ALIGN, instruction_image
from tidal.sim.spec import Opcode

__all__ = ["RING_ENTRY", "place_sections", "ring_bytes", "section_records", "self_refill"]

RING_ENTRY = 3  # int32 words of a ring entry: address, first record, record count


def ring_bytes(image_at: int, sections: list[tuple[int, int]]) -> np.ndarray:
    """A DMA ring's bytes: per section (first record, record count) of a stream whose
    image starts at DRAM byte `image_at`, the int32 triple (address, first, count)."""
    ring = np.array(
        [(image_at + first * isa.RECORD_BYTES, first, count) for first, count in sections], "<i4"
    ).reshape(-1, RING_ENTRY)
    return ring.view(np.uint8).reshape(-1)


def section_records(chip: ChipConfig) -> int:
    """Records per section: half the instruction buffer."""
    return chip.instr_buffer_bytes // isa.RECORD_BYTES // 2


def _align(n: int) -> int:
    return -(-n // IMAGE_ALIGN) * IMAGE_ALIGN


def _sections(records: np.ndarray, engine: int, size: int) -> list[np.ndarray]:
    """The stream cut into sections of `size` records, each starting with its REFILL,
    an even number of them."""
    if len(records) <= size:  # one section: it stays in the buffer, nothing to refill
        return [records]
    body = size - 1
    chunks = [records[i : i + body] for i in range(0, len(records), body)]
    if len(chunks) % 2:
        # A section of NOPs before the last, so that the last runs from the other half
        # of the buffer than section 0, which it loads for the next run (every section
        # but the last is whole, so section i runs from half i mod 2).
        chunks.insert(len(chunks) - 1, np.tile(isa.make_record(Opcode.NOP, engine), (body, 1)))
    k = len(chunks)
    return [
        np.concatenate([isa.make_record(Opcode.REFILL, engine, section=(i + 1) % k)[None, :], c])
        for i, c in enumerate(chunks)
    ]


def self_refill(program: isa.Program, chip: ChipConfig) -> isa.Program:
    """`program` with its streams in self-refilling sections, its DMA ring and its
    instruction image in its DRAM (module docstring). Raises ValueError when the
    chip's DRAM cannot hold them or the buffer has no room for two sections."""
    size = section_records(chip)
    if size < 2:
        raise ValueError(
            f"chip '{chip.name}': an instruction buffer of {chip.instr_buffer_bytes} bytes "
            "cannot hold two sections of two records"
        )
    if any(
        int(r[isa.W_OPCODE]) == Opcode.REFILL for recs in program.streams.values() for r in recs
    ):
        raise ValueError("the program already refills itself (it has REFILL records)")
    sections = {e: _sections(recs, e, size) for e, recs in program.streams.items()}
    streams = {e: np.concatenate(secs).astype(np.int32) for e, secs in sections.items()}
    spans: dict[int, list[tuple[int, int]]] = {}
    for e, secs in sections.items():
        starts = np.cumsum([0, *(len(sec) for sec in secs)])[:-1]
        spans[e] = [(int(f), len(sec)) for f, sec in zip(starts, secs, strict=True)]
    out, _ = place_sections(
        program, streams, spans, list(program.consts),
        _align(int(program.meta["dram_bytes"])), chip,  # type: ignore[arg-type]
        "the program, its DMA ring and its instructions",
    )
    return out


def place_sections(
    like: isa.Program,
    streams: dict[int, np.ndarray],
    sections: dict[int, list[tuple[int, int]]],
    consts: list[tuple[int, np.ndarray]],
    at: int,
    chip: ChipConfig,
    what: str,
) -> tuple[isa.Program, dict[int, int]]:
    """A self-refilling program of `streams` cut into `sections` (first record, count
    per section, per engine): each engine's DMA ring from DRAM byte `at` on, then the
    instruction image (META instr_base), `like`'s IO, debug table, META and tables,
    and `consts` with the rings appended. Returns it with the image's layout (engine
    -> address). Raises ValueError, naming `what`, when the chip's DRAM cannot hold
    it."""
    ring_at: dict[int, int] = {}
    for e in sorted(streams):
        ring_at[e] = at
        at += _align(len(sections[e]) * RING_ENTRY * 4)
    meta = {k: v for k, v in like.meta.items() if k not in ("instr_base", "self_refill")}
    meta["instr_base"] = at
    image_end = at + sum(_align(len(r) * isa.RECORD_BYTES) for r in streams.values())
    if image_end > chip.dram_bytes:
        raise ValueError(
            f"{what} need {image_end} bytes of DRAM, chip '{chip.name}' has {chip.dram_bytes}"
        )
    meta["dram_bytes"] = image_end
    out = isa.Program(
        like.chip, streams, consts, like.inputs, like.outputs, like.debug, meta, dict(like.luts)
    )
    image = instruction_image(out, chip, image_end)
    for e in sorted(streams):
        out.consts.append((ring_at[e], ring_bytes(image[e], sections[e])))
    meta["self_refill"] = {
        "section_records": section_records(chip),
        "ring": {str(e): a for e, a in ring_at.items()},
        "sections": {str(e): len(s) for e, s in sections.items()},
    }
    return out, image

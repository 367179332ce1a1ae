"""Helpers for hand-built programs on the 'small' chip (32 partitions, 2 DMA queues).

Tests get them through the `mk` fixture (`mk.sbuf`, `mk.psum`, `mk.dram`, `mk.io`,
`mk.build`): with --import-mode=importlib a conftest cannot be imported by name.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from tidal.sim import isa
from tidal.sim.config import PRESETS
from tidal.sim.isa import Access, Space

DRAM_BYTES = 1 << 16


def sbuf(pstart: int, pcount: int, offset: int = 0, *free: tuple[int, int]) -> Access:
    """An SBUF access: partitions [pstart, pstart+pcount), free dims (stride, count)."""
    return Access(Space.SBUF, pstart, offset, ((1, pcount), *free))


def psum(pstart: int, pcount: int, offset: int = 0, *free: tuple[int, int]) -> Access:
    return Access(Space.PSUM, pstart, offset, ((1, pcount), *free))


def dram(offset: int, *dims: tuple[int, int]) -> Access:
    """A DRAM access at byte `offset`; every dim, the first included, is strided."""
    return Access(Space.DRAM, 0, offset, tuple(dims))


def io(name: str, addr: int, shape: tuple[int, ...]) -> dict[str, object]:
    return {"name": name, "addr": addr, "shape": list(shape), "dtype": "float32"}


def build(
    streams: dict[int, list[np.ndarray]],
    inputs: list[dict[str, object]] | None = None,
    outputs: list[dict[str, object]] | None = None,
    consts: list[tuple[int, np.ndarray]] | None = None,
    chip: str = "small",
    dram_bytes: int = DRAM_BYTES,
    debug: list[str] | None = None,
    luts: bool = True,
    instr_base: int | None = None,
) -> isa.Program:
    """build({engine: [records]}, inputs=[io...], outputs=[io...]) -> a Program that
    went through encode_container/decode_container; with the ACT tables its records
    need at the chip's resolution, as the encoder ships them, unless not `luts`;
    `instr_base` puts the instruction image inside the program's DRAM."""
    stacked = {e: np.stack(recs) for e, recs in streams.items()}
    program = isa.Program(
        chip=chip,
        streams=stacked,
        consts=list(consts or []),
        inputs=list(inputs or []),
        outputs=list(outputs or []),
        debug=list(debug or []),
        meta={"dram_bytes": dram_bytes}
        | ({} if instr_base is None else {"instr_base": instr_base}),
        # (an unknown preset is the loader's error to report: no tables then)
        luts=isa.lut_tables(stacked, PRESETS[chip].act_lut_intervals)
        if luts and chip in PRESETS
        else {},
    )
    return isa.decode_container(isa.encode_container(program))


def fill_then_store(
    tile: Access,
    src: Access,
    dst: Access,
    wait: bool,
    value: float,
    output: dict[str, object],
    debug: list[str],
) -> isa.Program:
    """POOL fills `tile` with `value` and signals semaphore 0; DMA0 stores `src` to
    `dst` (the `output`), after waiting for the signal when `wait`, else racing the
    fill. `debug` names the two ops."""
    fill = isa.make_record(
        isa.Opcode.MEMSET, isa.Engine.POOL, signal=0, debug=0, dst=tile, value=value
    )
    store = isa.make_record(isa.Opcode.DMA, isa.Engine.DMA0, debug=1, src=src, dst=dst)
    wait_for = isa.make_record(isa.Opcode.WAIT, isa.Engine.DMA0, sem=0, value=1)
    return build(
        {
            isa.Engine.POOL: [fill],
            isa.Engine.DMA0: [wait_for, store] if wait else [store],
        },
        outputs=[output],
        debug=debug,
    )


@pytest.fixture
def mk() -> SimpleNamespace:
    """The helpers above, for tests to call."""
    helpers = (sbuf, psum, dram, io, build, fill_then_store)
    return SimpleNamespace(**{helper.__name__: helper for helper in helpers})

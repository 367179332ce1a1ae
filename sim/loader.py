"""Load-time validation of a decoded program against a chip config.

Everything the machine later trusts is checked here, once, with NumPy over the record
arrays of each stream (one pass per opcode, not one per instruction): engines exist on
the chip, opcodes are known and run on their engine, semaphores and debug ids are in
range, every access lies inside its memory, operand sizes agree, the IO table and
constants fit the program's DRAM, and the ACT lookup tables are the datasheet's
functions at the chip's resolution, one for every function an ACT instruction
evaluates from a table, and the instruction image (`instruction_image`: where each
stream lives in DRAM, from which the engines fetch) fits. A failure raises `LoadError` naming the stream, the
instruction index and what is out of range (the earliest bad instruction of the
stream is reported). Which opcodes an engine runs, every operand field's kind and
bounds, the spaces an access may name and the operands that must agree in size come
from the datasheet (`tidal.sim.spec`); only MATMUL's and REDUCE's shape rules are
written here.

The loader also bounds the work of the run before any of it is done: an access
touches at most as many elements as its memory holds (on chip: at most the chip's
partitions, each at most `*_partition_bytes / 4` elements; in DRAM at most the
larger of the program's DRAM and the chip's SBUF, in elements: a broadcast read may
repeat a small tensor over a whole SBUF tile), however its strides repeat them, and the outputs together hold at
most the program's DRAM. Every view, copy and reduction of the machine is then no
bigger than a memory it has already allocated. Sizes are computed in exact integer
arithmetic: products of int32 counts are clipped at `_CLIP` step by step (exact below
it, and `_CLIP` is above every limit), IO shapes with Python integers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from tidal.sim import isa
from tidal.sim.config import ChipConfig
from tidal.sim.errors import LoadError
from tidal.sim.spec.lut import LUT_SPECS, TableError, check_table
from tidal.sim.spec import (
    INSTRUCTIONS,
    ActFunc,
    Engine,
    Instr,
    Kind,
    Opcode,
    ScalarMode,
    Space,
    engine_kind,
)

_VALID_OPCODES = np.array([int(op) for op in Opcode])
_SPACE_CODES = Space.codes()
# Products of record fields (element counts, extents in elements) are clipped here:
# above the size in elements of any memory the loader accepts (a program's DRAM is at
# most the chip's, and `_dram_bytes` refuses more), and small enough that a clipped
# value times an int32 field stays below 2^63. (A clipped extent, times 4 bytes, is
# past every memory's end in bytes too.)
_CLIP = 1 << 32
# Rank limit of an IO tensor (NumPy's own limit is 64 in 2.x, 32 before).
_MAX_IO_RANK = 32


def _clipped_prod(columns: np.ndarray) -> np.ndarray:
    """Row products of an (n, k) int64 array of int32 values, negatives counted as 0,
    clipped at _CLIP after every step: exact wherever the true product is below
    _CLIP, and _CLIP wherever it is not."""
    out = np.ones(len(columns), np.int64)
    for col in np.maximum(columns, 0).T:
        out = np.minimum(out * col, _CLIP)
    return out


def _exact_prod(values: object) -> int:
    """The product of int32 values as a Python int (for messages: a handful of
    factors, never a long list)."""
    return math.prod(int(v) for v in values)  # type: ignore[union-attr]


def _allowed(engine: int) -> list[Instr]:
    """The entries of the opcodes an engine can run."""
    kind = engine_kind(engine)
    return [e for e in INSTRUCTIONS.values() if e.engine in (None, kind)]


def validate_program(program: isa.Program, chip: ChipConfig) -> int:
    """Check `program` against `chip`; return the program's DRAM size in bytes."""
    if program.chip != chip.name:
        raise LoadError(
            f"binary was compiled for chip '{program.chip}', "
            f"simulator configured for '{chip.name}'"
        )
    dram_bytes = _dram_bytes(program, chip)
    _check_luts(program, chip)
    for engine in sorted(program.streams):
        _check_stream(engine, program.streams[engine], program, chip, dram_bytes)
    _check_io(program, dram_bytes, chip)
    _check_consts(program, dram_bytes)
    image = instruction_image(program, chip, dram_bytes)
    refill_sections(program, chip, dram_bytes, image)
    return dram_bytes


RING_ENTRY_BYTES = 12  # a DMA ring entry: int32 address, first record, record count


def refill_sections(
    program: isa.Program, chip: ChipConfig, dram_bytes: int, image: dict[int, int]
) -> dict[int, tuple[int, int]] | None:
    """A self-refilling program's sections (META `self_refill`, targets/refill.py and
    targets/loop_program.py; its optional `sections` counts each engine's where they
    are not all whole):
    engine -> (its DMA ring's address, its number of sections), or None for a program
    the hardware's fetch logic refills. Checks the section size (at most half the
    instruction buffer), that the image is in the program's DRAM, each ring inside
    it, outside the image, and that every REFILL names a section of its ring; a
    REFILL in a program without `self_refill` is refused. Raises LoadError."""
    spec = program.meta.get("self_refill")
    refill = int(Opcode.REFILL)
    word = INSTRUCTIONS[Opcode.REFILL].layout["section"]
    if spec is None:
        for engine, recs in sorted(program.streams.items()):
            hits = np.flatnonzero(recs[:, isa.W_OPCODE] == refill)
            if hits.size:
                raise LoadError(
                    f"stream {isa.engine_name(engine)}, instruction {int(hits[0])} (REFILL): "
                    "the program has no DMA ring (META 'self_refill')"
                )
        return None
    half = chip.instr_buffer_bytes // isa.RECORD_BYTES // 2
    size = spec.get("section_records") if isinstance(spec, dict) else None
    rings = spec.get("ring") if isinstance(spec, dict) else None
    if not isinstance(size, int) or isinstance(size, bool) or not 2 <= size <= half:
        raise LoadError(
            f"META 'self_refill' must give 'section_records' from 2 to {half} (half the "
            f"instruction buffer) and a 'ring' per engine, got {spec!r}"[:300]
        )
    if "instr_base" not in program.meta:
        raise LoadError("a self-refilling program needs its instructions in its DRAM (META 'instr_base')")
    if not isinstance(rings, dict):
        raise LoadError(f"META 'self_refill' 'ring' must map engines to addresses, got {rings!r}"[:300])
    image_start = min(image.values(), default=dram_bytes)
    out: dict[int, tuple[int, int]] = {}
    for engine, recs in sorted(program.streams.items()):
        name = isa.engine_name(engine)
        at = rings.get(str(engine))
        counts = spec.get("sections", {})
        count = counts.get(str(engine), -(-len(recs) // size)) if isinstance(counts, dict) else None
        if not isinstance(count, int) or isinstance(count, bool) or not -(-len(recs) // size) <= count <= max(1, len(recs)):
            raise LoadError(
                f"stream {name}: META 'self_refill' 'sections' must be from "
                f"{-(-len(recs) // size)} to {len(recs)}, got {count!r}"
            )
        if not isinstance(at, int) or isinstance(at, bool) or at < 0 or at % 4:
            raise LoadError(f"stream {name}: its DMA ring address must be a 4-aligned byte, got {at!r}")
        end = at + count * RING_ENTRY_BYTES
        if end > image_start:
            raise LoadError(
                f"stream {name}: its DMA ring [{at}, {end}) is not below the instruction image "
                f"at {image_start}"
            )
        hits = np.flatnonzero((recs[:, isa.W_OPCODE] == refill) & ((recs[:, word] < 0) | (recs[:, word] >= count)))
        if hits.size:
            raise LoadError(
                f"stream {name}, instruction {int(hits[0])} (REFILL): section "
                f"{int(recs[hits[0], word])} is not one of its {count}"
            )
        out[engine] = (at, count)
    return out


IMAGE_ALIGN = 64  # bytes: where each engine's stream starts in the instruction image


def instruction_image(program: isa.Program, chip: ChipConfig, dram_bytes: int) -> dict[int, int]:
    """Where each engine's stream lives in DRAM: engine -> byte address of its first
    record. The streams are laid out in engine order, each at a multiple of
    IMAGE_ALIGN, from META `instr_base` when the program gives one (inside its own
    DRAM, so that its DMAs may rewrite instructions: self-modifying code), else from
    the first aligned byte after the program's DRAM (out of its DMAs' reach). The
    image must fit the chip's DRAM and, inside the program's DRAM, must not overlap a
    constant or an input or output. Raises LoadError."""
    base = program.meta.get("instr_base")
    inside = base is not None
    if inside and (
        not isinstance(base, int) or isinstance(base, bool) or base < 0 or base % IMAGE_ALIGN
    ):
        raise LoadError(
            f"program metadata 'instr_base' must be a non-negative multiple of "
            f"{IMAGE_ALIGN}, got {base!r}"
        )
    at = base if inside else -(-dram_bytes // IMAGE_ALIGN) * IMAGE_ALIGN
    layout: dict[int, int] = {}
    for engine in sorted(program.streams):
        layout[engine] = at
        at += -(-len(program.streams[engine]) * isa.RECORD_BYTES // IMAGE_ALIGN) * IMAGE_ALIGN
    start = base if inside else min(layout.values(), default=at)
    limit = dram_bytes if inside else chip.dram_bytes
    if at > limit:
        where = "the program's" if inside else f"chip '{chip.name}''s"
        raise LoadError(
            f"the instruction image takes DRAM bytes [{start}, {at}), past {where} "
            f"{limit}-byte DRAM"
        )
    if inside:
        spans = [(f"constant {i}", a, a + d.nbytes) for i, (a, d) in enumerate(program.consts)]
        spans += [
            (f"{kind} '{e['name']}'", int(e["addr"]), int(e["addr"]) + 4 * math.prod(e["shape"]))  # type: ignore[arg-type]
            for kind, table in (("input", program.inputs), ("output", program.outputs))
            for e in table
        ]
        for what, lo, hi in spans:
            if lo < at and start < hi:
                raise LoadError(
                    f"{what} occupies DRAM bytes [{lo}, {hi}), inside the instruction "
                    f"image [{start}, {at})"
                )
    return layout


def _dram_bytes(program: isa.Program, chip: ChipConfig) -> int:
    size = program.meta.get("dram_bytes")
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0 or size % 4:
        raise LoadError(
            "program metadata 'dram_bytes' must be a positive multiple of 4, "
            f"got {size!r}"
        )
    if size > chip.dram_bytes:
        raise LoadError(
            f"program needs {size} bytes of DRAM, "
            f"chip '{chip.name}' has {chip.dram_bytes}"
        )
    assert size // 4 < _CLIP  # every preset's DRAM is at most 16 GiB; see _CLIP
    return size


# ---------------------------------------------------------------------------
# Streams
# ---------------------------------------------------------------------------


@dataclass
class _Problems:
    """The earliest problem found so far in one stream: (instruction index, what)."""

    best: tuple[int, str] | None = None

    def add(
        self, bad: np.ndarray, where: np.ndarray, describe: Callable[[int], str]
    ) -> None:
        """Record the first True of `bad`; `where` maps its positions to instruction
        indices and `describe(k)` says what is wrong at position k."""
        hits = np.flatnonzero(bad)
        if hits.size == 0:
            return
        k = int(hits[0])
        index = int(where[k])
        if self.best is None or index < self.best[0]:
            self.best = (index, describe(k))


@dataclass
class _Acc:
    """One access operand of a group of records, as column arrays (int64)."""

    name: str
    space: np.ndarray
    pstart: np.ndarray
    offset: np.ndarray
    strides: np.ndarray  # (n, ACCESS_DIMS)
    counts: np.ndarray  # (n, ACCESS_DIMS)

    @property
    def pcount(self) -> np.ndarray:
        return self.counts[:, 0]

    @property
    def elements(self) -> np.ndarray:
        """Element count of each access, clipped at _CLIP (see `_clipped_prod`)."""
        return _clipped_prod(self.counts)

    @property
    def free_elements(self) -> np.ndarray:
        """Elements per partition (the product of dims 1..), clipped at _CLIP."""
        return _clipped_prod(self.counts[:, 1:])

    def shape(self, k: int) -> tuple[int, ...]:
        """Access k's shape, without trailing unused (stride 0, count 1) dims."""
        dims = [
            (int(s), int(c))
            for s, c in zip(self.strides[k], self.counts[k], strict=True)
        ]
        while len(dims) > 1 and dims[-1] == (0, 1):
            dims.pop()
        return tuple(c for _, c in dims)


def _space_name(space: int) -> str:
    return Space.from_code(space).name if space in _SPACE_CODES else f"space {space}"


def _check_stream(
    engine: int,
    records: np.ndarray,
    program: isa.Program,
    chip: ChipConfig,
    dram_bytes: int,
) -> None:
    num_engines = Engine.DMA0 + chip.dma_queues
    if not 0 <= engine < num_engines:
        raise LoadError(
            f"stream for engine {engine}: chip '{chip.name}' has engines "
            f"0..{num_engines - 1} (pe, act, pool, dma0..dma{chip.dma_queues - 1})"
        )
    name = isa.engine_name(engine)
    if records.ndim != 2 or records.shape[1] != isa.RECORD_WORDS:
        raise LoadError(
            f"stream {name}: records have shape {records.shape}, "
            f"expected (n, {isa.RECORD_WORDS})"
        )
    recs = records.astype(np.int64)
    found = _Problems()
    _check_headers(found, recs, engine, chip, len(program.debug))
    opcodes = recs[:, isa.W_OPCODE]
    for entry in _allowed(engine):
        where = np.flatnonzero(opcodes == entry.opcode)
        if where.size:
            _check_operands(found, entry, recs[where], where, chip, dram_bytes)
            if entry.opcode is Opcode.ACT:
                _check_tables_present(found, entry, recs[where], where, program)
            elif entry.opcode in (Opcode.RANDOM, Opcode.DROPOUT):
                _check_rng_fields(found, entry, recs[where], where)
            elif entry.opcode in (Opcode.EVAL, Opcode.OVERWRITE):
                _check_one_element(found, entry, recs[where], where)
    if found.best is not None:
        index, what = found.best
        raise LoadError(
            f"stream {name}, instruction {index} "
            f"({_opcode_name(int(opcodes[index]))}): {what}"
        )


def _check_luts(program: isa.Program, chip: ChipConfig) -> None:
    """Every table of the LUT section is one the datasheet knows, at the chip's
    resolution (`tidal.sim.spec.lut.check_table`)."""
    for code, (lo, hi, rows) in sorted(program.luts.items()):
        try:
            func = ActFunc.from_code(code)
            check_table(func, lo, hi, rows, chip.act_lut_intervals)
        except (ValueError, TableError) as e:
            raise LoadError(f"LUT section, table of function {code}: {e}") from None


def _check_tables_present(
    found: _Problems, entry: Instr, recs: np.ndarray, where: np.ndarray, program: isa.Program
) -> None:
    """An ACT instruction whose function the engine evaluates from a table needs that
    table in the binary."""
    col = recs[:, entry.layout["func"]]
    need = np.array([c for c in ActFunc.codes() if ActFunc.from_code(c) in LUT_SPECS])
    found.add(
        np.isin(col, need) & ~np.isin(col, list(program.luts) or [-1]),
        where,
        lambda k: f"function '{ActFunc.from_code(int(col[k]))}' has no table in the "
        "binary's LUT section (a binary from before tables were shipped: recompile it)",
    )


def _f32_column(recs: np.ndarray, word: int) -> np.ndarray:
    return recs[:, word].astype(np.int32).view(np.float32)


def _check_rng_fields(found: _Problems, entry: Instr, recs: np.ndarray, where: np.ndarray) -> None:
    """DROPOUT's ratio in [0, 1); RANDOM's bounds finite and ordered (as the accel
    verifier requires)."""
    if entry.opcode is Opcode.DROPOUT:
        ratio = _f32_column(recs, entry.layout["ratio"])
        with np.errstate(invalid="ignore"):
            bad = ~((ratio >= 0) & (ratio < 1))
        found.add(bad, where, lambda k: f"ratio {float(ratio[k])} is not in [0, 1)")
    else:
        low = _f32_column(recs, entry.layout["low"])
        high = _f32_column(recs, entry.layout["high"])
        with np.errstate(invalid="ignore"):
            bad = ~(np.isfinite(low) & np.isfinite(high) & (low <= high))
        found.add(
            bad, where,
            lambda k: f"bounds [{float(low[k])}, {float(high[k])}) are not finite and ordered",
        )


def _check_one_element(found: _Problems, entry: Instr, recs: np.ndarray, where: np.ndarray) -> None:
    """EVAL's dst and OVERWRITE's flag are one element."""
    name = "dst" if entry.opcode is Opcode.EVAL else "flag"
    at = entry.layout[name]
    elements = _clipped_prod(recs[:, at + 4 : at + isa.ACCESS_WORDS : 2])
    found.add(elements != 1, where, lambda k: f"{name} must be one element, not {int(elements[k])}")


def _opcode_name(op: int) -> str:
    return Opcode(op).name if op in _VALID_OPCODES else f"opcode {op}"


def _check_headers(
    found: _Problems, recs: np.ndarray, engine: int, chip: ChipConfig, ndebug: int
) -> None:
    rows = np.arange(len(recs))
    opcodes = recs[:, isa.W_OPCODE]
    valid = np.isin(opcodes, _VALID_OPCODES)
    found.add(~valid, rows, lambda k: f"unknown opcode {opcodes[k]}")
    allowed = np.array([int(e.opcode) for e in _allowed(engine)])
    found.add(
        valid & ~np.isin(opcodes, allowed),
        rows,
        lambda k: f"cannot run on engine {isa.engine_name(engine)}",
    )
    eng = recs[:, isa.W_ENGINE]
    found.add(
        eng != engine,
        rows,
        lambda k: f"engine word {eng[k]} does not match the stream's engine {engine}",
    )
    sig = recs[:, isa.W_SIGNAL]
    found.add(
        (sig < -1) | (sig >= chip.num_semaphores),
        rows,
        lambda k: f"signal semaphore {sig[k]} outside [0, {chip.num_semaphores})",
    )
    wait = recs[:, isa.W_WAIT_SEM]
    found.add(
        (wait < -1) | (wait >= chip.num_semaphores),
        rows,
        lambda k: f"wait semaphore {wait[k]} outside [0, {chip.num_semaphores})",
    )
    found.add(
        (wait >= 0) & (opcodes == int(Opcode.WAIT)),
        rows,
        lambda k: "a WAIT cannot carry a folded wait (wait semaphore word set)",
    )
    dbg = recs[:, isa.W_DEBUG]
    found.add(
        (dbg < -1) | (dbg >= ndebug),
        rows,
        lambda k: f"debug id {dbg[k]} outside the debug table ({ndebug} entries)",
    )


def _access(
    found: _Problems,
    recs: np.ndarray,
    where: np.ndarray,
    entry: Instr,
    name: str,
    chip: ChipConfig,
    dram_bytes: int,
) -> _Acc:
    """Decode access `name` of every record in `recs` and check it is in bounds."""
    i = entry.layout[name]
    w = recs[:, i : i + isa.ACCESS_WORDS]
    acc = _Acc(name, w[:, 0], w[:, 1], w[:, 2], w[:, 3::2], w[:, 4::2])
    space, pstart, off, strides, counts = (
        acc.space,
        acc.pstart,
        acc.offset,
        acc.strides,
        acc.counts,
    )
    found.add(
        ~np.isin(space, _SPACE_CODES),
        where,
        lambda k: f"{name}: unknown memory space {space[k]}",
    )
    found.add(
        (counts < 1).any(axis=1),
        where,
        lambda k: f"{name}: dim counts {acc.shape(k)} must all be >= 1",
    )
    found.add(
        (strides < 0).any(axis=1),
        where,
        lambda k: f"{name}: negative stride in {tuple(int(s) for s in strides[k])}",
    )
    found.add(
        (off < 0) | (off % 4 != 0),
        where,
        lambda k: f"{name}: byte offset {off[k]} is not a non-negative multiple of 4",
    )
    # Extents in elements per dim, each clipped at _CLIP (stride * (count - 1) is
    # below 2^62; five of them summed might not be below 2^63): exact wherever the
    # access could be in bounds. Negative strides and counts were reported above.
    reach = np.minimum(np.maximum(strides, 0) * np.maximum(counts - 1, 0), _CLIP)
    free_end = off + 4 * reach[:, 1:].sum(axis=1) + 4
    dram_end = off + 4 * reach.sum(axis=1) + 4
    _check_on_chip(
        found,
        acc,
        where,
        Space.SBUF,
        chip.sbuf_partitions,
        chip.sbuf_partition_bytes,
        free_end,
    )
    _check_on_chip(
        found,
        acc,
        where,
        Space.PSUM,
        chip.psum_partitions,
        chip.psum_partition_bytes,
        free_end,
    )
    dram = space == Space.DRAM.code
    found.add(
        dram & (pstart != 0),
        where,
        lambda k: f"{name}: DRAM access with partition start {pstart[k]} (must be 0)",
    )
    program = f"the program's {dram_bytes}-byte DRAM"
    # A read may repeat a small tensor by stride 0 (a broadcast) over a whole SBUF
    # tile, more elements than a small program's DRAM holds: the bound on elements is
    # the larger of the program's DRAM and the chip's SBUF, either of which the
    # machine has allocated.
    sbuf_bytes = chip.sbuf_partitions * chip.sbuf_partition_bytes
    elements = max(dram_bytes, sbuf_bytes)
    of = program if elements == dram_bytes else f"{program} or the chip's {sbuf_bytes}-byte SBUF"
    _check_fits(found, acc, where, Space.DRAM, dram_end, dram_bytes, program, of, elements)
    return acc


def _end(acc: _Acc, k: int, first: int) -> int:
    """End byte of access k over its dims from `first` (0: in DRAM; 1: within a
    partition), exactly (for a message)."""
    steps = zip(acc.strides[k, first:], acc.counts[k, first:], strict=True)
    return int(acc.offset[k]) + 4 * sum(int(s) * (int(c) - 1) for s, c in steps) + 4


def _check_fits(
    found: _Problems,
    acc: _Acc,
    where: np.ndarray,
    space: Space,
    end: np.ndarray,
    nbytes: int,
    outside: str,
    of: str,
    element_bytes: int | None = None,
) -> None:
    """The accesses in `space` (DRAM, or within a partition on chip) end (bytes `end`)
    inside `nbytes` and, however their strides repeat elements, touch at most as many
    as `element_bytes` (default `nbytes`) holds: this bounds the machine's views,
    copies and loops."""
    name, mine = acc.name, acc.space == space.code
    first = 0 if space is Space.DRAM else 1  # on chip, dim 0 is the partitions
    found.add(
        mine & (end > nbytes),
        where,
        lambda k: (
            f"{name}: {space.name} bytes [{acc.offset[k]}, {_end(acc, k, first)}) "
            f"outside {outside}"
        ),
    )
    limit = (nbytes if element_bytes is None else element_bytes) // 4
    elements = acc.elements if first == 0 else acc.free_elements
    what = "DRAM elements" if first == 0 else "elements per partition"
    found.add(
        mine & (elements > limit),
        where,
        lambda k: (
            f"{name}: {_exact_prod(acc.counts[k, first:])} {what} {acc.shape(k)}, "
            f"more than the {limit} of {of}"
        ),
    )


def _check_on_chip(
    found: _Problems,
    acc: _Acc,
    where: np.ndarray,
    space: Space,
    partitions: int,
    partition_bytes: int,
    free_end: np.ndarray,
) -> None:
    name, pstart, pcount = acc.name, acc.pstart, acc.pcount
    mine = acc.space == space.code
    found.add(
        mine & (acc.strides[:, 0] != 1),  # as the accel dialect: even for one partition
        where,
        lambda k: (
            f"{name}: {space.name} partition stride {acc.strides[k, 0]} (must be 1)"
        ),
    )
    found.add(
        mine & ((pstart < 0) | (pstart + pcount > partitions)),
        where,
        lambda k: (
            f"{name}: {space.name} partitions [{pstart[k]}, {pstart[k] + pcount[k]}) "
            f"outside the chip's {partitions} partitions"
        ),
    )
    outside = f"the {partition_bytes}-byte partition"
    of = f"a {partition_bytes}-byte {space.name} partition"
    _check_fits(found, acc, where, space, free_end, partition_bytes, outside, of)


def _require_space(
    found: _Problems, acc: _Acc, where: np.ndarray, allowed: tuple[Space, ...]
) -> None:
    names = " or ".join(s.name for s in allowed)
    found.add(
        ~np.isin(acc.space, [s.code for s in allowed]),
        where,
        lambda k: (
            f"{acc.name} must be in {names}, not {_space_name(int(acc.space[k]))}"
        ),
    )


def _same_elements(found: _Problems, a: _Acc, b: _Acc, where: np.ndarray) -> None:
    # Clipped counts compare exactly: an access of _CLIP or more elements is over
    # its memory's bound, which `_access` reported first.
    found.add(
        a.elements != b.elements,
        where,
        lambda k: (
            f"{a.name} has {_exact_prod(a.counts[k])} elements {a.shape(k)}, "
            f"{b.name} has {_exact_prod(b.counts[k])} {b.shape(k)}"
        ),
    )


def _check_enum(
    found: _Problems,
    recs: np.ndarray,
    where: np.ndarray,
    entry: Instr,
    field: str,
    allowed: tuple[int, ...],
) -> np.ndarray:
    col = recs[:, entry.layout[field]]
    found.add(
        ~np.isin(col, allowed),
        where,
        lambda k: f"{field} {col[k]} is not one of {sorted(allowed)}",
    )
    return col


def _check_lanes(
    found: _Problems, acc: _Acc, where: np.ndarray, lanes: int, unit: str
) -> None:
    found.add(
        acc.pcount > lanes,
        where,
        lambda k: (
            f"{acc.name} spans {acc.pcount[k]} partitions, the {unit} has {lanes} lanes"
        ),
    )


# ---------------------------------------------------------------------------
# Operand checks: the datasheet's fields, then the shape rules of MATMUL and REDUCE
# ---------------------------------------------------------------------------


def _check_operands(
    found: _Problems,
    entry: Instr,
    recs: np.ndarray,
    where: np.ndarray,
    chip: ChipConfig,
    dram: int,
) -> None:
    """Every field of `entry` in the records of that opcode (`where`: their indices)."""
    accs = {f.name: _access(found, recs, where, entry, f.name, chip, dram) for f in entry.accesses}
    for f in entry.accesses:
        if len(f.spaces) < len(_SPACE_CODES):
            _require_space(found, accs[f.name], where, f.spaces)
    for a, b in entry.same_elements:
        _same_elements(found, accs[a], accs[b], where)
    if entry.lanes is not None and entry.engine is not None:
        attr, name = entry.lanes
        _check_lanes(found, accs[name], where, getattr(chip, attr), f"{entry.engine.name} engine")
    scalars = [f for f in entry.fields if f.kind is Kind.SCALAR]
    for f in entry.fields:
        if f.kind is Kind.ENUM:
            assert f.enum is not None
            _check_enum(found, recs, where, entry, f.name, f.enum.codes())
        elif f.kind is Kind.SEMAPHORE:
            _check_sem(found, recs[:, entry.layout[f.name]], where, chip)
    for f in scalars:
        _check_enum(found, recs, where, entry, f"{f.name}_mode", ScalarMode.codes())
    for f in scalars:
        _check_column(found, recs, where, entry, f.name, accs[f.of].pcount, chip)
    rule = _SHAPE_RULES.get(entry.opcode)
    if rule is not None:
        rule(found, recs, where, accs, chip)


def _check_sem(found: _Problems, sem: np.ndarray, where: np.ndarray, chip: ChipConfig) -> None:
    found.add(
        (sem < 0) | (sem >= chip.num_semaphores),
        where,
        lambda k: f"semaphore {sem[k]} outside [0, {chip.num_semaphores})",
    )


def _check_column(
    found: _Problems,
    recs: np.ndarray,
    where: np.ndarray,
    entry: Instr,
    prefix: str,
    partitions: np.ndarray,
    chip: ChipConfig,
) -> None:
    """A COLUMN-mode scalar: one fp32 per partition on chip, in bounds."""
    lay = entry.layout
    mode = recs[:, lay[f"{prefix}_mode"]]
    space = recs[:, lay[f"{prefix}_space"]]
    pstart = recs[:, lay[f"{prefix}_pstart"]]
    off = recs[:, lay[f"{prefix}_offset"]]
    column = mode == ScalarMode.COLUMN.code
    psum = space == Space.PSUM.code
    nparts = np.where(psum, chip.psum_partitions, chip.sbuf_partitions)
    nbytes = np.where(psum, chip.psum_partition_bytes, chip.sbuf_partition_bytes)
    allowed = entry.field(prefix).spaces
    names = " or ".join(s.name for s in allowed)
    found.add(
        column & ~np.isin(space, [s.code for s in allowed]),
        where,
        lambda k: f"{prefix} column must be in {names}, not {_space_name(int(space[k]))}",
    )
    found.add(
        column & ((pstart < 0) | (pstart + partitions > nparts)),
        where,
        lambda k: (
            f"{prefix} column partitions [{pstart[k]}, {pstart[k] + partitions[k]}) "
            f"outside the chip's {nparts[k]} partitions"
        ),
    )
    found.add(
        column & ((off < 0) | (off % 4 != 0) | (off + 4 > nbytes)),
        where,
        lambda k: (
            f"{prefix} column byte offset {off[k]} outside the {nbytes[k]}-byte "
            "partition or not a multiple of 4"
        ),
    )


def _matmul_shapes(
    found: _Problems,
    recs: np.ndarray,
    where: np.ndarray,
    accs: dict[str, _Acc],
    chip: ChipConfig,
) -> None:
    dst, st, mv = accs["dst"], accs["stationary"], accs["moving"]
    k_rows = st.pcount
    # Exact: an SBUF access has pcount * (elements per partition) elements.
    m_cols = st.free_elements
    n_free = mv.free_elements
    found.add(
        k_rows > chip.pe_rows,
        where,
        lambda k: (
            f"contraction K={k_rows[k]} exceeds the PE array's {chip.pe_rows} rows"
        ),
    )
    found.add(
        m_cols > chip.pe_cols,
        where,
        lambda k: (
            f"stationary M={int(m_cols[k])} exceeds the PE array's "
            f"{chip.pe_cols} columns"
        ),
    )
    found.add(
        mv.pcount != k_rows,
        where,
        lambda k: f"moving spans {mv.pcount[k]} partitions, stationary K={k_rows[k]}",
    )
    found.add(
        n_free > chip.matmul_moving_max,
        where,
        lambda k: (
            f"moving free size N={int(n_free[k])} exceeds {chip.matmul_moving_max}"
        ),
    )
    # m, n < 2^31 wherever the checks above pass; the product cannot overflow.
    mn = np.minimum(m_cols, 1 << 31) * np.minimum(n_free, 1 << 31)
    found.add(
        (dst.pcount != m_cols) | (dst.elements != mn),
        where,
        lambda k: (
            f"dst {dst.shape(k)} is not M={int(m_cols[k])} partitions "
            f"x N={int(n_free[k])} elements"
        ),
    )


def _reduce_shapes(
    found: _Problems,
    recs: np.ndarray,
    where: np.ndarray,
    accs: dict[str, _Acc],
    chip: ChipConfig,
) -> None:
    dst, src = accs["dst"], accs["src"]
    nreduce = recs[:, INSTRUCTIONS[Opcode.REDUCE].layout["nreduce"]]
    # Rank without trailing unused (stride 0, count 1) dims, as Access.from_words.
    used = (src.strides != 0) | (src.counts != 1)
    used[:, 0] = True
    rank = isa.ACCESS_DIMS - np.argmax(used[:, ::-1], axis=1)
    found.add(
        (nreduce < 0) | (nreduce > rank - 1),
        where,
        lambda k: (
            f"nreduce {nreduce[k]} outside [0, {rank[k] - 1}] for src {src.shape(k)}"
        ),
    )
    dims = np.arange(isa.ACCESS_DIMS)
    reduced = dims[None, :] >= (rank - nreduce)[:, None]
    kept = _clipped_prod(np.where(reduced, 1, src.counts))
    found.add(
        dst.elements != kept,
        where,
        lambda k: (
            f"dst has {_exact_prod(dst.counts[k])} elements, reducing src "
            f"{src.shape(k)} over {nreduce[k]} dims leaves {int(kept[k])}"
        ),
    )


_SHAPE_RULES: dict[
    Opcode,
    Callable[[_Problems, np.ndarray, np.ndarray, dict[str, _Acc], ChipConfig], None],
] = {Opcode.MATMUL: _matmul_shapes, Opcode.REDUCE: _reduce_shapes}


# ---------------------------------------------------------------------------
# IO table and constants
# ---------------------------------------------------------------------------


def _check_io(program: isa.Program, dram_bytes: int, chip: ChipConfig) -> None:
    """Every IO entry inside the program's DRAM, and the outputs together no bigger
    than the chip's DRAM: they are copied out of DRAM after the run (and written to
    a file), so outputs that alias the same bytes must not multiply it. (The bound
    is the chip's, not the program's: a model whose outputs are its input under
    several names aliases legitimately and may exceed a small program's DRAM.)"""
    names: set[tuple[str, str]] = set()
    for kind, table in (("input", program.inputs), ("output", program.outputs)):
        total = 0
        for i, entry in enumerate(table):
            name, addr, nbytes = _io_entry(kind, i, entry, dram_bytes)
            if (kind, name) in names:
                raise LoadError(f"{kind} '{name}' appears twice in the IO table")
            names.add((kind, name))
            if addr % 4 or addr < 0 or addr + nbytes > dram_bytes:
                raise LoadError(
                    f"{kind} '{name}' occupies DRAM bytes [{addr}, {addr + nbytes}), "
                    f"outside the program's {dram_bytes}-byte DRAM or not 4-aligned"
                )
            total += nbytes
            if kind == "output" and total > chip.dram_bytes:
                raise LoadError(
                    f"outputs take {total} bytes up to output '{name}' (entry {i}), "
                    f"more than chip '{chip.name}''s {chip.dram_bytes} bytes of DRAM"
                )


def _io_entry(
    kind: str, i: int, entry: object, dram_bytes: int
) -> tuple[str, int, int]:
    """(name, address, size in bytes) of one IO table entry, checked for form and
    for a size that `dram_bytes` can hold."""
    if not isinstance(entry, dict):
        raise LoadError(f"{kind} table entry {i} is not an object")
    name, addr, shape, dtype = (
        entry.get(k) for k in ("name", "addr", "shape", "dtype")
    )
    if not isinstance(name, str):
        raise LoadError(f"{kind} table entry {i} has no string 'name'")
    if not isinstance(addr, int):
        raise LoadError(f"{kind} '{name}' has no integer 'addr'")
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise LoadError(f"{kind} '{name}' has a bad 'shape' {shape!r}"[:200])
    if len(shape) > _MAX_IO_RANK:
        raise LoadError(
            f"{kind} '{name}' has {len(shape)} dims, at most {_MAX_IO_RANK} are supported"
        )
    if dtype != "float32":
        raise LoadError(
            f"{kind} '{name}' has dtype {dtype!r}; only 'float32' is supported"
        )
    # Python integers, clipped step by step (a long shape of huge dims would make a
    # huge integer): exact up to the DRAM's size. The non-zero dims are bounded too,
    # zero-sized shape or not: NumPy refuses to form a shape whose non-zero dims
    # overflow its index type, even when another dim is 0.
    spread, limit = 1, dram_bytes // 4 + 1
    for d in shape:
        spread = min(spread * max(d, 1), limit)
    if spread == limit:
        counted = math.prod(d for d in shape if d)
        what = (
            f"{counted} elements"
            if 0 not in shape
            else f"no elements, but {counted} in its non-zero dims"
        )
        raise LoadError(
            f"{kind} '{name}' has shape {shape} of {what}, more than the "
            f"{dram_bytes // 4} of the program's {dram_bytes}-byte DRAM"[:300]
        )
    return name, addr, 0 if 0 in shape else 4 * spread


def _check_consts(program: isa.Program, dram_bytes: int) -> None:
    for i, (addr, data) in enumerate(program.consts):
        if addr < 0 or addr + data.nbytes > dram_bytes:
            raise LoadError(
                f"constant {i} occupies DRAM bytes [{addr}, {addr + data.nbytes}), "
                f"outside the program's {dram_bytes}-byte DRAM"
            )
    spans = [(f"constant {i}", a, a + d.nbytes, True) for i, (a, d) in enumerate(program.consts)]
    spans += [  # (outputs may be a constant's bytes: see const_overlap)
        (f"input '{e['name']}'", int(e["addr"]), int(e["addr"]) + 4 * math.prod(e["shape"]), False)  # type: ignore[arg-type]
        for e in program.inputs
    ]
    if (why := isa.const_overlap(spans)) is not None:
        raise LoadError(why)

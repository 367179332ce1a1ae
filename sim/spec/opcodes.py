"""One entry per opcode: the instruction set as data.

Each `Instr` says everything the rest of Tidal needs to know about one instruction:
its accel op name, opcode number and engine; its operand fields in record order
(width, kind, read/write role and allowed memory spaces of accesses, enum type); its
cost in cycles on a chip; and its NumPy semantics over views of the operands. The
encoder and decoder (`tidal.targets.binary`), the loader, the machine and its race
checker (`tidal.sim`) and the cost analysis (`tidal.passes.analysis.cost`) all read
`INSTRUCTIONS`; none restates a field, role or formula::

    >>> act = INSTRUCTIONS[Opcode.ACT]
    >>> act.mnemonic, act.engine, [f.name for f in act.fields]
    ('accel.act', <EngineKind.ACT: 'act'>, ['dst', 'src', 'func', 'scale', 'bias'])
    >>> act.layout["func"], act.layout["scale_mode"]
    (33, 34)

Record layout
-------------
Every instruction is a fixed-width record of `RECORD_WORDS` little-endian int32 words::

    word 0  opcode            (Opcode)
    word 1  engine            (Engine: PE, ACT, POOL, DMA0.. one per DMA queue)
    word 2  flags             (FLAG_*)
    word 3  signal semaphore  (-1: none; else incremented by 1 when the instruction completes)
    word 4  debug id          (-1: none; else index into the debug table)
    word 5  wait semaphore    (-1: none; else the instruction issues only once it is
                               >= word 6: a wait folded into the instruction)
    word 6  wait value
    word 7.. operands         (the entry's fields, in order)

The wait words follow US11175919B1 ("Synchronization of concurrent computation
engines", Amazon): an instruction such as a matrix multiply "can include an optional
parameter" that makes the engine wait for a value in a semaphore register before it
executes, so that an explicit wait instruction is not needed. A WAIT record carries
none (its own operands are its condition).

An *access* field takes `ACCESS_WORDS` words::

    space, partition start, byte offset, then 5 (stride, count) pairs

Strides and counts are in elements (fp32). Dim 0 is the partition dim: for SBUF/PSUM
its stride must be 1 (partition units) and the start is the first partition; for DRAM
the partition dim is an ordinary strided dim and the start is 0. Unused trailing dims
have count 1. A *scalar* field (ACT's scale and bias) takes 5 words: a `ScalarMode`,
an fp32 immediate, and the space, partition start and byte offset of a column of one
fp32 per partition.

Costs
-----
`Instr.cost(chip, shapes, reload)` is a pure function of the chip and the shapes of
the access operands (`{"src": (partitions, *free), ...}`); `reload` says the PE array
must load a new stationary operand into an empty array (MATMUL only: the machine
tracks which operand it holds). With two weight buffers a load can hide behind the
previous matmul's streaming: `matmul_load_cycles(chip, behind)` is what it exposes, and
the machine charges `cost(chip, shapes, False) + matmul_load_cycles(chip, behind)`::

    matmul_load_cycles(DEFAULT, None)  # 128 + 254: nothing to hide behind
    matmul_load_cycles(DEFAULT, 64)  # 64 with 2 buffers, 128 + 254 with 1

A DMA's cost is its uncontended time: the machine shares DRAM bandwidth among
the transfers in flight (`Instr.transfer_bytes`), so a DMA alone on the chip takes
exactly its cost.

Adding an activation function: a member of `ActFunc` (`tidal.sim.spec.enums`) and its
NumPy function in `ACT_FUNCTIONS` below; an instruction: an `Opcode` member and an
entry in `INSTRUCTIONS`.
"""

from __future__ import annotations

import enum
import math
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
from tidal.sim.spec.lut import LUT_SPECS, evaluate
from tidal.sim.spec.lut import exact as lut_exact
from tidal.sim.spec.enums import (
    ActFunc,
    AluOp,
    CmpOp,
    EvalInput,
    Coded,
    EngineKind,
    Opcode,
    ReduceOp,
    Space,
)

if TYPE_CHECKING:  # the chip presets import the record size from here
    from tidal.sim.config import ChipConfig

__all__ = [
    "ACCESS_DIMS",
    "ACCESS_WORDS",
    "ACT_FUNCTIONS",
    "ALU_FUNCTIONS",
    "ELEM_BYTES",
    "FLAG_SIGNAL",
    "FLAG_START",
    "INSTRUCTIONS",
    "OPERAND_BASE",
    "RECORD_BYTES",
    "RECORD_WORDS",
    "SCALAR_PARTS",
    "W_DEBUG",
    "W_ENGINE",
    "W_FLAGS",
    "W_OPCODE",
    "W_SIGNAL",
    "W_WAIT_SEM",
    "W_WAIT_VALUE",
    "Field",
    "Instr",
    "Kind",
    "Role",
    "Shapes",
    "bits_f32",
    "by_mnemonic",
    "f32_bits",
    "matmul_load_cycles",
]

RECORD_WORDS = 52
RECORD_BYTES = RECORD_WORDS * 4
ACCESS_DIMS = 5
ACCESS_WORDS = 3 + 2 * ACCESS_DIMS
ELEM_BYTES = 4  # fp32 is the only element type of this version

# Header words.
W_OPCODE, W_ENGINE, W_FLAGS, W_SIGNAL, W_DEBUG, W_WAIT_SEM, W_WAIT_VALUE = range(7)
OPERAND_BASE = 7

FLAG_SIGNAL = 1 << 0  # (informative; the signal word decides)
FLAG_START = 1 << 1  # MATMUL: overwrite the PSUM accumulator instead of adding

# The words of a scalar field, each named `<field>_<part>` in the layout.
SCALAR_PARTS = ("mode", "imm", "space", "pstart", "offset")

_F32 = np.float32

Shapes = Mapping[str, tuple[int, ...]]
"""The shape of each access operand: (partitions, *free counts)."""


def f32_bits(x: float) -> int:
    return struct.unpack("<i", struct.pack("<f", x))[0]


def bits_f32(b: int) -> float:
    return struct.unpack("<f", struct.pack("<i", int(b)))[0]


class Kind(enum.StrEnum):
    """What an operand field holds."""

    ACCESS = "access"  # ACCESS_WORDS words: a memory operand
    ENUM = "enum"  # one word: the code of a member of the field's enum
    INT = "int"  # one word: a signed integer
    SEMAPHORE = "semaphore"  # one word: a semaphore index below chip.num_semaphores
    F32 = "f32"  # one word: the bits of an fp32 immediate
    SCALAR = "scalar"  # SCALAR_PARTS words: an fp32 immediate or a per-partition column


class Role(enum.StrEnum):
    READ = "read"
    WRITE = "write"


ON_CHIP = (Space.SBUF, Space.PSUM)
ANY_SPACE = (Space.DRAM, Space.SBUF, Space.PSUM)


@dataclass(frozen=True)
class Field:
    """One operand field of an instruction record.

    `ir` is the accel op's property (and constructor keyword) when it is not `name`;
    `default` the value an F32 or SCALAR field takes when the op omits it; `of` (SCALAR)
    the access whose partitions the column covers."""

    name: str
    kind: Kind
    role: Role | None = None
    spaces: tuple[Space, ...] = ANY_SPACE
    enum: type[Coded] | None = None
    ir: str | None = None
    default: float = 0.0
    of: str = ""

    @property
    def width(self) -> int:
        if self.kind is Kind.ACCESS:
            return ACCESS_WORDS
        if self.kind is Kind.SCALAR:
            return len(SCALAR_PARTS)
        return 1

    @property
    def ir_name(self) -> str:
        return self.ir or self.name


def access(name: str, role: Role, spaces: tuple[Space, ...] = ANY_SPACE) -> Field:
    return Field(name, Kind.ACCESS, role, spaces)


CostFn = Callable[["ChipConfig", Shapes, bool], float]
SemanticsFn = Callable[[Mapping[str, Any], int], None]


@dataclass(frozen=True)
class Instr:
    """The datasheet entry of one opcode.

    `engine` is the kind of engine that runs it (None: any engine, as the sync
    instructions). `lanes_of` names the access whose partitions the engine's lanes
    (`<engine>_lanes` of the ChipConfig) bound. `same_elements` lists pairs of accesses
    that hold as many elements. `semantics(values, flags)` applies the instruction to
    NumPy views: `values` maps each access to its view (trailing unused dims dropped),
    an enum field to its member, an int to its value, an F32 to a float, a SCALAR to
    a float or a (partitions, 1) column view. `transfer_bytes` (DMA) is what the
    instruction moves over the shared DRAM bandwidth; `macs` (MATMUL) its
    multiply-accumulates."""

    opcode: Opcode
    engine: EngineKind | None
    fields: tuple[Field, ...]
    cost: CostFn
    semantics: SemanticsFn | None = None
    lanes_of: str = ""
    same_elements: tuple[tuple[str, str], ...] = ()
    transfer_bytes: Callable[[Shapes], int] | None = None
    macs: Callable[[Shapes], int] | None = None
    summary: str = ""

    @property
    def mnemonic(self) -> str:
        """The accel op: `accel.<opcode>` (`accel.tensor_tensor`)."""
        return f"accel.{self.opcode.name.lower()}"

    @property
    def lanes(self) -> tuple[str, str] | None:
        """`(ChipConfig attribute, access)`: the engine's lanes bound the partitions
        of access `lanes_of` (`("act_lanes", "src")`)."""
        if not self.lanes_of or self.engine is None:
            return None
        return f"{self.engine.value}_lanes", self.lanes_of

    @cached_property
    def layout(self) -> dict[str, int]:
        """Word index of each field (a scalar's parts as `<name>_<part>`)."""
        pos = OPERAND_BASE
        out: dict[str, int] = {}
        for f in self.fields:
            if f.kind is Kind.SCALAR:
                for k, part in enumerate(SCALAR_PARTS):
                    out[f"{f.name}_{part}"] = pos + k
            else:
                out[f.name] = pos
            pos += f.width
        return out

    @property
    def words(self) -> int:
        """Record words the header and operands take."""
        return OPERAND_BASE + sum(f.width for f in self.fields)

    @cached_property
    def accesses(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.kind is Kind.ACCESS)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.mnemonic} has no field '{name}'")


# ---------------------------------------------------------------------------
# Costs (cycles): docs/hardware-model.md explains each formula
# ---------------------------------------------------------------------------


def _free(shape: tuple[int, ...]) -> int:
    """Elements per partition of an access of `shape`."""
    return math.prod(shape) // shape[0]


def _sync_cost(chip: ChipConfig, shapes: Shapes, reload: bool) -> float:
    return chip.sync_cycles


def _halt_cost(chip: ChipConfig, shapes: Shapes, reload: bool) -> float:
    return 0


def _dma_bytes(shapes: Shapes) -> int:
    return math.prod(shapes["src"]) * ELEM_BYTES


def _dma_cost(chip: ChipConfig, shapes: Shapes, reload: bool) -> float:
    return (
        chip.dma_fixed_latency_cycles + _dma_bytes(shapes) / chip.dram_bytes_per_cycle
    )


def matmul_load_cycles(chip: ChipConfig, behind: float | None) -> float:
    """PE cycles a matmul adds to its streaming to load a new stationary operand.

    `behind` is how many cycles the previous matmul on the PE stream streamed after the
    new operand was in SBUF (None: no previous matmul, the array is empty). With one
    weight buffer the new operand shifts in after the previous one drains:
    `pe_weight_load_cycles + pe_fill_drain_cycles` whatever `behind` is. With two it
    shifts into the idle buffer while the previous matmul streams and takes effect
    with the first wave of the new data, so no fill/drain bubble is exposed, only the
    load time the previous streaming did not cover:
    `max(0, pe_weight_load_cycles - behind)` (sim/config.py cites the source)."""
    if chip.pe_weight_buffers == 1 or behind is None:
        return chip.pe_weight_load_cycles + chip.pe_fill_drain_cycles
    return max(0.0, chip.pe_weight_load_cycles - behind)


def _matmul_cost(chip: ChipConfig, shapes: Shapes, reload: bool) -> float:
    cost = max(_free(shapes["moving"]), chip.pe_min_cycles)
    if reload:
        cost += matmul_load_cycles(chip, None)
    return cost


def _matmul_macs(shapes: Shapes) -> int:
    st = shapes["stationary"]
    return st[0] * _free(st) * _free(shapes["moving"])


def _act_cost(chip: ChipConfig, shapes: Shapes, reload: bool) -> float:
    return chip.act_fixed_cycles + math.ceil(
        _free(shapes["src"]) / chip.act_elems_per_cycle_per_lane
    )


def _pool_cost(of: str) -> CostFn:
    """The POOL engine's cost: fixed plus the elements per partition of `of`."""

    def cost(chip: ChipConfig, shapes: Shapes, reload: bool) -> float:
        return chip.pool_fixed_cycles + math.ceil(
            _free(shapes[of]) / chip.pool_elems_per_cycle_per_lane
        )

    return cost


# ---------------------------------------------------------------------------
# Semantics (NumPy over views)
# ---------------------------------------------------------------------------

ACT_FUNCTIONS: dict[ActFunc, Callable[[np.ndarray], np.ndarray]] = {
    ActFunc.IDENTITY: lambda y: y,
    ActFunc.RELU: lambda y: np.maximum(y, _F32(0)),
    ActFunc.EXP: np.exp,
    ActFunc.RECIPROCAL: np.reciprocal,
    ActFunc.SIGMOID: lambda y: _F32(1) / (_F32(1) + np.exp(-y)),
    ActFunc.TANH: np.tanh,
    ActFunc.LOG: np.log,
    # 0.5 y (1 + tanh(sqrt(2/pi) (y + 0.044715 y^3))), as the AWS Neuron ACT engine's
    # gelu_apprx_tanh (https://awsdocs-neuron.readthedocs-hosted.com/general/nki/api/
    # generated/nki.language.gelu_apprx_tanh.html); same ACT cost as every function.
    ActFunc.GELU: lambda y: _F32(0.5) * y * (
        _F32(1) + np.tanh(_F32(0.7978845608028654) * (y + _F32(0.044715) * y * y * y))
    ),
    ActFunc.CLIP01: lambda y: np.clip(y, _F32(0), _F32(1)),
    **{
        f: (lambda f: lambda y: lut_exact(f, y).astype(_F32))(f)
        for f in (
            ActFunc.ERF, ActFunc.SOFTPLUS, ActFunc.SILU, ActFunc.GELU_ERF, ActFunc.RSQRT,
            ActFunc.SQRT,
        )
    },
}
"""Each function computed exactly (in float32; erf, softplus, silu, gelu_erf, rsqrt and
sqrt via float64): what the loop interpreter runs. The engine evaluates every
function of `LUT_SPECS` from the binary's tables instead (`tidal.sim.spec.lut`)."""
ALU_FUNCTIONS: dict[AluOp, np.ufunc] = {
    AluOp.ADD: np.add,
    AluOp.SUB: np.subtract,
    AluOp.MUL: np.multiply,
    AluOp.MAX: np.maximum,
    AluOp.MIN: np.minimum,
}


def _dma(v: Mapping[str, Any], flags: int) -> None:
    dst = v["dst"]
    dst[...] = v["src"].reshape(dst.shape)


def _matmul(v: Mapping[str, Any], flags: int) -> None:
    st, mv, dst = v["stationary"], v["moving"], v["dst"]
    k = st.shape[0]
    m, n = st.size // k, mv.size // k
    # Both operands are first copied to contiguous arrays: BLAS reading the views in
    # place (one row per partition, a partition's whole memory apart) runs about 3x
    # slower than the copy and the multiply on the copies together.
    st = np.ascontiguousarray(st).reshape(k, m)
    mv = np.ascontiguousarray(mv).reshape(k, n)
    r = (st.T @ mv).reshape(dst.shape)
    if flags & FLAG_START:
        dst[...] = r
    else:
        np.add(dst, r, out=dst)


def _act(v: Mapping[str, Any], flags: int) -> None:
    """`v["lut"]`, when given, maps each table function to the `LutTable` the engine
    evaluates it with (the machine passes the binary's, the accel interpreter the
    chip's); without it the functions are computed exactly (`ACT_FUNCTIONS`)."""
    src, dst, scale, bias = v["src"], v["dst"], v["scale"], v["bias"]
    parts = src.shape[0]
    y = src.reshape(parts, src.size // parts)
    if not (isinstance(scale, float) and scale == 1.0):
        y = y * scale
    if not (isinstance(bias, float) and bias == 0.0):
        y = y + bias
    func, tables = v["func"], v.get("lut")
    if tables is not None and func in LUT_SPECS:  # the engine: the program's tables
        out = evaluate(tables[func], y)
    else:  # the reference (an interpreter that has no chip)
        out = ACT_FUNCTIONS[func](y)
    dst[...] = out.reshape(dst.shape)


def _tensor_tensor(v: Mapping[str, Any], flags: int) -> None:
    dst, scale = v["dst"], v.get("scale", 1.0)
    a = v["a"].reshape(dst.shape)
    if not (isinstance(scale, float) and scale == 1.0):
        parts = a.shape[0]
        col = scale if isinstance(scale, float) else scale.reshape(parts)
        a = (a.reshape(parts, -1) * (col if isinstance(col, float) else col[:, None])).reshape(dst.shape)
    ALU_FUNCTIONS[v["op"]](a, v["b"].reshape(dst.shape), out=dst)


_MAX_WINDOW = 64  # reduced elements per output up to which MAX goes position by position


def _reduce(v: Mapping[str, Any], flags: int) -> None:
    src, dst, scale = v["src"], v["dst"], v["scale_imm"]
    axes = tuple(range(src.ndim - v["nreduce"], src.ndim))
    window = src.shape[src.ndim - v["nreduce"] :]
    if v["op"] is ReduceOp.MAX and 1 < math.prod(window) <= _MAX_WINDOW:
        # A pooling window: one np.maximum per window position over the whole
        # output (in row-major window order) instead of NumPy's reduction over short
        # strided axes, which costs about 20x more on a 112x112x64 3x3 max-pool.
        positions = np.ndindex(*window)
        r = np.array(src[(..., *next(positions))])
        for at in positions:
            np.maximum(r, src[(..., *at)], out=r)
    elif v["op"] is ReduceOp.MAX:
        r = np.max(src, axis=axes)
    else:
        r = np.sum(src, axis=axes, dtype=_F32)
    if scale != 1.0:
        r = r * scale
    dst[...] = np.reshape(r, dst.shape)


def _memset(v: Mapping[str, Any], flags: int) -> None:
    v["dst"][...] = _F32(v["value"])


_COMPARE = {CmpOp.LT: np.less, CmpOp.LE: np.less_equal, CmpOp.GT: np.greater, CmpOp.GE: np.greater_equal}


def _eval(v: Mapping[str, Any], flags: int) -> None:
    """dst[0] = 1.0 if reduce(input) <cmp> threshold else 0.0 (in float64)."""
    a = np.asarray(v["a"], np.float64).reshape(-1)
    form = v["input"]
    y = a - np.asarray(v["b"], np.float64).reshape(-1) if form in (
        EvalInput.A_MINUS_B, EvalInput.ABS_A_MINUS_B) else a
    if form in (EvalInput.ABS_A, EvalInput.ABS_A_MINUS_B):
        y = np.abs(y)
    r = y.sum() if v["reduce"] is ReduceOp.ADD else y.max()
    held = bool(_COMPARE[v["cmp"]](r, v["threshold"]))
    v["dst"].reshape(-1)[0] = _F32(1.0 if held else 0.0)


def _overwrite(v: Mapping[str, Any], flags: int) -> None:
    """Unless the flag holds (a loop's condition to go on), dst = src."""
    if float(v["flag"].reshape(-1)[0]) == 0.0:
        dst = v["dst"]
        dst[...] = v["src"].reshape(dst.shape)


def _eval_bytes(shapes: Shapes) -> int:
    return (math.prod(shapes["a"]) + math.prod(shapes["b"])) * ELEM_BYTES


def _eval_cost(chip: ChipConfig, shapes: Shapes, reload: bool) -> float:
    return chip.dma_fixed_latency_cycles + _eval_bytes(shapes) / chip.dram_bytes_per_cycle


# RANDOM and DROPOUT draw from the POOL lanes' generators (`tidal.sim.spec.rng`):
# `v["rng"]` is the engine's RngState and `v["lane0"]` the first partition of `dst`,
# which whoever runs the instruction (machine, interpreters) passes.


def _random(v: Mapping[str, Any], flags: int) -> None:
    dst = v["dst"]
    u = v["rng"].uniform(v["seed"], v["lane0"], dst.shape)
    low, high = _F32(v["low"]), _F32(v["high"])
    dst[...] = low + (high - low) * u


def _bernoulli(v: Mapping[str, Any], flags: int) -> None:
    dst = v["dst"]
    u = v["rng"].uniform(v["seed"], v["lane0"], dst.shape)
    dst[...] = np.where(u < v["src"].reshape(dst.shape), _F32(1.0), _F32(0.0))


def _dropout(v: Mapping[str, Any], flags: int) -> None:
    dst, ratio = v["dst"], v["ratio"]
    keep = v["rng"].uniform(v["seed"], v["lane0"], dst.shape) >= _F32(ratio)
    # ONNX Dropout: data * mask / (1 - ratio), divided in float32 as onnxruntime does;
    # every element dropped at ratio >= 1 (the verifiers refuse it, the loader not)
    with np.errstate(divide="ignore", invalid="ignore"):
        kept = v["src"].reshape(dst.shape) / (_F32(1.0) - _F32(ratio))
    dst[...] = np.where(keep, kept, _F32(0.0))


# ---------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------

R, W = Role.READ, Role.WRITE
_SEM = Field("sem", Kind.SEMAPHORE)


def _on_chip(dst: str, *reads: str) -> tuple[Field, ...]:
    """The on-chip accesses of an ACT or POOL instruction: `dst` written, `reads`
    read, in record order."""
    return (access(dst, W, ON_CHIP), *(access(name, R, ON_CHIP) for name in reads))


_ENTRIES = (
    Instr(Opcode.NOP, None, (), _sync_cost, summary="does nothing"),
    Instr(Opcode.HALT, None, (), _halt_cost, summary="ends the engine's stream"),
    Instr(
        Opcode.WAIT,
        None,
        (_SEM, Field("value", Kind.INT)),
        _sync_cost,
        summary="blocks until semaphore `sem` >= `value`",
    ),
    Instr(
        Opcode.SIGNAL, None, (_SEM,), _sync_cost, summary="increments semaphore `sem`"
    ),
    Instr(
        Opcode.DMA,
        EngineKind.DMA,
        (access("src", R), access("dst", W)),
        _dma_cost,
        _dma,
        same_elements=(("src", "dst"),),
        transfer_bytes=_dma_bytes,
        summary="copies the i-th element of src to the i-th element of dst",
    ),
    Instr(
        Opcode.MATMUL,
        EngineKind.PE,
        (
            access("dst", W, (Space.PSUM,)),
            access("stationary", R, (Space.SBUF,)),
            access("moving", R, (Space.SBUF,)),
        ),
        _matmul_cost,
        _matmul,
        macs=_matmul_macs,
        summary="dst[M, N] (+)= stationary[K, M]^T @ moving[K, N] (FLAG_START: =)",
    ),
    Instr(
        Opcode.ACT,
        EngineKind.ACT,
        (
            *_on_chip("dst", "src"),
            Field("func", Kind.ENUM, enum=ActFunc),
            Field("scale", Kind.SCALAR, R, ON_CHIP, default=1.0, of="src"),
            Field("bias", Kind.SCALAR, R, ON_CHIP, default=0.0, of="src"),
        ),
        _act_cost,
        _act,
        lanes_of="src",
        same_elements=(("src", "dst"),),
        summary="dst = func(src * scale + bias), element-wise",
    ),
    # `scale` is NKI's scalar_tensor_tensor, (data <op0> operand0) <op1> operand1 with
    # op0 a multiply by "a compile-time constant scalar ... or a tile of shape
    # (data.shape[0], 1)", on the Vector Engine, "approximately the same latency as
    # a regular tensor_tensor instruction" (AWS Neuron SDK, nki.isa.scalar_tensor_tensor):
    # the same cost as without it.
    Instr(
        Opcode.TENSOR_TENSOR,
        EngineKind.POOL,
        (
            *_on_chip("dst", "a", "b"),
            Field("op", Kind.ENUM, enum=AluOp),
            Field("scale", Kind.SCALAR, R, ON_CHIP, default=1.0, of="a"),
        ),
        _pool_cost("dst"),
        _tensor_tensor,
        lanes_of="a",
        same_elements=(("a", "b"), ("a", "dst")),
        summary="dst = (a * scale) <op> b, element-wise (scale an immediate or a "
        "per-partition column)",
    ),
    Instr(
        Opcode.REDUCE,
        EngineKind.POOL,
        (
            *_on_chip("dst", "src"),
            Field("op", Kind.ENUM, enum=ReduceOp),
            Field("nreduce", Kind.INT),
            Field("scale_imm", Kind.F32, ir="scale", default=1.0),
        ),
        _pool_cost("src"),
        _reduce,
        lanes_of="src",
        summary="dst = scale * (add or max of src over its innermost nreduce dims)",
    ),
    Instr(
        Opcode.MEMSET,
        EngineKind.POOL,
        (*_on_chip("dst"), Field("value", Kind.F32)),
        _pool_cost("dst"),
        _memset,
        lanes_of="dst",
        summary="fills dst with value",
    ),
    Instr(
        Opcode.REFILL,
        None,
        (Field("section", Kind.INT),),
        _sync_cost,
        summary="starts loading section `section` of the engine's own stream into its "
        "instruction buffer, from the entry of that number of its DMA ring (self-refill)",
    ),
    Instr(
        Opcode.EVAL,
        EngineKind.DMA,
        (
            access("dst", W),
            access("a", R),
            access("b", R),
            Field("reduce", Kind.ENUM, enum=ReduceOp),
            Field("input", Kind.ENUM, enum=EvalInput),
            Field("cmp", Kind.ENUM, enum=CmpOp),
            Field("threshold", Kind.F32),
        ),
        _eval_cost,
        _eval,
        same_elements=(("a", "b"),),
        transfer_bytes=_eval_bytes,
        summary="dst[0] = 1.0 if reduce(input of a, b) <cmp> threshold else 0.0 (a mean "
        "compares the sum with threshold * count): "
        "a loop's condition to go on (a descriptor that reads a and b)",
    ),
    Instr(
        Opcode.OVERWRITE,
        EngineKind.DMA,
        (access("dst", W), access("src", R), access("flag", R)),
        _dma_cost,
        _overwrite,
        same_elements=(("src", "dst"),),
        summary="unless flag[0] is nonzero, copies src over dst (NOPs over the following "
        "blocks of a loop: early exit); the queue's earlier descriptors finish first",
    ),
    Instr(
        Opcode.RANDOM,
        EngineKind.POOL,
        (
            *_on_chip("dst"),
            Field("low", Kind.F32),
            Field("high", Kind.F32, default=1.0),
            Field("seed", Kind.INT),
        ),
        _pool_cost("dst"),
        _random,
        lanes_of="dst",
        summary="dst = low + (high - low) * u, u uniform in [0, 1) from the lanes' generators",
    ),
    Instr(
        Opcode.BERNOULLI,
        EngineKind.POOL,
        (*_on_chip("dst", "src"), Field("seed", Kind.INT)),
        _pool_cost("dst"),
        _bernoulli,
        lanes_of="dst",
        same_elements=(("src", "dst"),),
        summary="dst = 1.0 where u < src (a probability), else 0.0 (u as RANDOM's)",
    ),
    Instr(
        Opcode.DROPOUT,
        EngineKind.POOL,
        (*_on_chip("dst", "src"), Field("ratio", Kind.F32), Field("seed", Kind.INT)),
        _pool_cost("dst"),
        _dropout,
        lanes_of="dst",
        same_elements=(("src", "dst"),),
        summary="dst = src / (1 - ratio) where u >= ratio, else 0 (u as RANDOM's)",
    ),
)

INSTRUCTIONS: dict[Opcode, Instr] = {e.opcode: e for e in _ENTRIES}
_BY_MNEMONIC = {e.mnemonic: e for e in _ENTRIES}


def by_mnemonic(name: str) -> Instr:
    """The entry of accel op `name` (`"accel.act"`); KeyError if none."""
    return _BY_MNEMONIC[name]


def _check_table() -> None:
    for e in _ENTRIES:
        assert e.words <= RECORD_WORDS, e.mnemonic
        for f in e.fields:
            assert (f.kind is Kind.ENUM) == (f.enum is not None), (e.mnemonic, f.name)
    assert set(INSTRUCTIONS) == set(Opcode)


_check_table()

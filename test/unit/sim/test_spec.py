"""The datasheet (`tidal.sim.spec`): complete, laid out within a record, enum codes
fixed (they are the binary format), each entry's semantics and cost as written."""

from __future__ import annotations

import doctest
import math
from dataclasses import replace

import numpy as np
import pytest
from tidal.sim.config import DEFAULT, SMALL, ChipConfig
from tidal.sim.spec.lut import LUT_SPECS, LutTable, build_table
from tidal.sim.spec import (
    ACT_FUNCTIONS,
    ALU_FUNCTIONS,
    FLAG_START,
    INSTRUCTIONS,
    OPERAND_BASE,
    RECORD_WORDS,
    W_WAIT_SEM,
    W_WAIT_VALUE,
    ActFunc,
    AluOp,
    CmpOp,
    Engine,
    EngineKind,
    EvalInput,
    Kind,
    Opcode,
    ReduceOp,
    Role,
    ScalarMode,
    Space,
    by_mnemonic,
    engine_from_name,
    engine_kind,
    engine_name,
    engine_sort_key,
    is_engine,
    matmul_load_cycles,
)


def test_every_opcode_has_one_entry_named_after_its_accel_op() -> None:
    assert set(INSTRUCTIONS) == set(Opcode)
    for op, entry in INSTRUCTIONS.items():
        assert entry.opcode is op
        assert entry.mnemonic == f"accel.{op.name.lower()}"
        assert by_mnemonic(entry.mnemonic) is entry
    with pytest.raises(KeyError):
        by_mnemonic("accel.gemm")


def test_fields_tile_the_record_from_the_operand_base() -> None:
    for entry in INSTRUCTIONS.values():
        assert entry.words <= RECORD_WORDS, entry.mnemonic
        pos = OPERAND_BASE
        for f in entry.fields:
            first = f"{f.name}_mode" if f.kind is Kind.SCALAR else f.name
            assert entry.layout[first] == pos, (entry.mnemonic, f.name)
            pos += f.width
        words = sorted(entry.layout.values())
        assert len(set(words)) == len(words)


def test_today_s_layouts_are_kept() -> None:
    """The binary format (version 3): these word indices are what existing binaries
    hold. Version 2 grew records from 48 to 52 words for the tensor_tensor scale;
    version 3 put the folded wait (semaphore, value) in header words 5 and 6, the
    operands two words later."""
    assert RECORD_WORDS == 52 and OPERAND_BASE == 7
    assert (W_WAIT_SEM, W_WAIT_VALUE) == (5, 6)
    lay = {op: INSTRUCTIONS[op].layout for op in Opcode}
    assert lay[Opcode.WAIT] == {"sem": 7, "value": 8}
    assert lay[Opcode.DMA] == {"src": 7, "dst": 20}
    assert lay[Opcode.MATMUL] == {"dst": 7, "stationary": 20, "moving": 33}
    assert lay[Opcode.ACT]["func"] == 33
    assert [
        lay[Opcode.ACT][f"bias_{p}"]
        for p in ("mode", "imm", "space", "pstart", "offset")
    ] == [
        39,
        40,
        41,
        42,
        43,
    ]
    assert lay[Opcode.TENSOR_TENSOR]["op"] == 46
    assert [lay[Opcode.TENSOR_TENSOR][f"scale_{p}"] for p in ("mode", "imm", "space", "pstart", "offset")] == [
        47, 48, 49, 50, 51,
    ]
    assert lay[Opcode.REDUCE] == {
        "dst": 7,
        "src": 20,
        "op": 33,
        "nreduce": 34,
        "scale_imm": 35,
    }
    assert lay[Opcode.MEMSET] == {"dst": 7, "value": 20}


def test_enum_codes_are_stable_and_unique() -> None:
    expected = {
        Space: {"dram": 0, "sbuf": 1, "psum": 2},
        ActFunc: {
            "identity": 0,
            "relu": 1,
            "exp": 2,
            "reciprocal": 3,
            "sigmoid": 4,
            "tanh": 5,
            "log": 6,
            "gelu": 7,
            "erf": 8,
            "softplus": 9,
            "rsqrt": 10,
            "sqrt": 11,
            "clip01": 12,
            "silu": 13,
            "gelu_erf": 14,
        },
        AluOp: {"add": 0, "sub": 1, "mul": 2, "max": 3, "min": 4},
        ReduceOp: {"add": 0, "max": 3},  # stored with the AluOp code of the same name
        ScalarMode: {"imm": 0, "column": 1},
        CmpOp: {"lt": 0, "le": 1, "gt": 2, "ge": 3},
        EvalInput: {"a": 0, "abs_a": 1, "a_minus_b": 2, "abs_a_minus_b": 3},
        EngineKind: {"pe": 0, "act": 1, "pool": 2, "dma": 3},
    }
    for enum, codes in expected.items():
        assert {m.value: m.code for m in enum} == codes, enum.__name__
        assert len(set(enum.codes())) == len(enum)
        for member in enum:
            assert enum.from_code(member.code) is member
            assert enum(member.value) is member
    assert {op.name: int(op) for op in Opcode} == {
        "NOP": 0,
        "HALT": 1,
        "WAIT": 2,
        "SIGNAL": 3,
        "DMA": 4,
        "MATMUL": 5,
        "ACT": 6,
        "TENSOR_TENSOR": 7,
        "REDUCE": 8,
        "MEMSET": 9,
        "RANDOM": 10,
        "DROPOUT": 11,
        "REFILL": 12,
        "EVAL": 13,
        "OVERWRITE": 14,
        "BERNOULLI": 15,
    }
    with pytest.raises(ValueError, match="no ActFunc has code 99"):
        ActFunc.from_code(99)


def test_engine_names_and_numbers() -> None:
    names = ["pe", "act", "pool", "dma0", "dma1", "dma7"]
    numbers = [0, 1, 2, 3, 4, 10]
    assert [engine_name(n) for n in numbers] == names
    assert [engine_from_name(n) for n in names] == numbers
    assert (
        sorted(["dma7", "pool", "dma0", "pe", "dma1", "act"], key=engine_sort_key)
        == names
    )
    assert [engine_kind(n) for n in (0, 1, 2, 3, 9)] == [
        EngineKind.PE,
        EngineKind.ACT,
        EngineKind.POOL,
        EngineKind.DMA,
        EngineKind.DMA,
    ]
    assert int(Engine.DMA0) == EngineKind.DMA.code
    for bad in ("dma", "dmax", "PE", "gpsimd", ""):
        assert not is_engine(bad)
        with pytest.raises(KeyError):
            engine_from_name(bad)


def test_every_enum_member_has_its_numpy_function() -> None:
    assert set(ACT_FUNCTIONS) == set(ActFunc)
    assert set(ALU_FUNCTIONS) == set(AluOp)


def test_fields_declare_what_readers_need() -> None:
    for entry in INSTRUCTIONS.values():
        for f in entry.fields:
            assert (f.enum is not None) == (f.kind is Kind.ENUM), (
                entry.mnemonic,
                f.name,
            )
            if f.kind in (Kind.ACCESS, Kind.SCALAR):
                assert f.role is not None and f.spaces
            if f.kind is Kind.SCALAR:
                assert entry.field(f.of).kind is Kind.ACCESS
        if entry.lanes is not None:
            attr, name = entry.lanes
            assert hasattr(SMALL, attr) and entry.field(name).kind is Kind.ACCESS
        writes = [f for f in entry.accesses if f.role is Role.WRITE]
        assert len(writes) == (1 if entry.accesses else 0), entry.mnemonic
        assert (entry.semantics is None) == (not entry.accesses), entry.mnemonic


# -- semantics: each entry on a small example, against NumPy written here -----

RNG = np.random.default_rng(0)


def _rand(*shape: int) -> np.ndarray:
    return RNG.uniform(0.5, 2.0, shape).astype(np.float32)


def _run(opcode: Opcode, flags: int = 0, /, **values: object) -> None:
    semantics = INSTRUCTIONS[opcode].semantics
    assert semantics is not None
    semantics(values, flags)


def test_dma_copies_in_element_order() -> None:
    src, dst = _rand(4, 6), np.zeros((2, 3, 4), np.float32)
    _run(Opcode.DMA, src=src, dst=dst)
    np.testing.assert_array_equal(dst, src.reshape(2, 3, 4))


@pytest.mark.parametrize("start", [True, False])
def test_matmul_overwrites_or_accumulates(start: bool) -> None:
    st, mv = _rand(8, 3), _rand(8, 5)
    dst = _rand(3, 5)
    before = dst.copy()
    _run(Opcode.MATMUL, FLAG_START if start else 0, stationary=st, moving=mv, dst=dst)
    want = st.T @ mv + (0 if start else before)
    np.testing.assert_allclose(dst, want, rtol=1e-6)


@pytest.mark.parametrize("func", list(ActFunc))
def test_act_applies_func_to_scaled_and_biased_src(func: ActFunc) -> None:
    src, dst = _rand(4, 6), np.zeros((4, 6), np.float32)
    bias = _rand(4, 1)
    _run(Opcode.ACT, src=src, dst=dst, func=func, scale=0.5, bias=bias)
    y = src * np.float32(0.5) + bias
    want = {
        ActFunc.IDENTITY: y,
        ActFunc.RELU: np.maximum(y, 0),
        ActFunc.EXP: np.exp(y),
        ActFunc.RECIPROCAL: 1 / y,
        ActFunc.SIGMOID: 1 / (1 + np.exp(-y)),
        ActFunc.TANH: np.tanh(y),
        ActFunc.LOG: np.log(y),
        ActFunc.GELU: 0.5 * y * (1 + np.tanh(np.sqrt(2 / np.pi) * (y + 0.044715 * y**3))),
        ActFunc.ERF: np.vectorize(math.erf)(y.astype(np.float64)),
        ActFunc.SOFTPLUS: np.log1p(np.exp(y.astype(np.float64))),
        ActFunc.RSQRT: 1 / np.sqrt(y),
        ActFunc.SQRT: np.sqrt(y),
        ActFunc.CLIP01: np.clip(y, 0, 1),
        ActFunc.SILU: y / (1 + np.exp(-y.astype(np.float64))),
        ActFunc.GELU_ERF: 0.5 * y * (1 + np.vectorize(math.erf)(y.astype(np.float64) / math.sqrt(2))),
    }[func]
    np.testing.assert_allclose(dst, want, rtol=1e-6)


@pytest.mark.parametrize("func", sorted(LUT_SPECS, key=lambda f: f.code))
def test_act_with_tables_evaluates_them(func: ActFunc) -> None:
    """Given `lut` (as the machine and the accel interpreter give it), ACT computes
    from the tables, not the exact function: with a table whose cubic is a
    constant 7 the output is 7 wherever the table is used."""
    src, dst = np.full((4, 6), 1.5, np.float32), np.zeros((4, 6), np.float32)
    table = build_table(func, 16)
    fake = table.rows.copy()
    fake[:, 1:] = 0
    fake[:, 1] = 7.0
    tables = {func: LutTable(func, table.lo, table.hi, fake)}
    _run(Opcode.ACT, src=src, dst=dst, func=func, scale=1.0, bias=0.0, lut=tables)
    exact = np.zeros_like(dst)
    _run(Opcode.ACT, src=src, dst=exact, func=func, scale=1.0, bias=0.0)
    assert not np.allclose(dst, exact)
    # 1.5: inside every range; exp(1.5) = 2^2 * g(u), log(1.5) = g(1.5) + 0 ln 2, ...
    scale = {ActFunc.EXP: 4.0, ActFunc.RECIPROCAL: 1.0, ActFunc.LOG: 1.0}.get(func, 1.0)
    np.testing.assert_allclose(dst, 7.0 * scale)


@pytest.mark.parametrize("op", list(AluOp))
def test_tensor_tensor(op: AluOp) -> None:
    a, b, dst = _rand(3, 4), _rand(3, 4), np.zeros((3, 4), np.float32)
    _run(Opcode.TENSOR_TENSOR, a=a, b=b, dst=dst, op=op)
    want = {
        AluOp.ADD: a + b,
        AluOp.SUB: a - b,
        AluOp.MUL: a * b,
        AluOp.MAX: np.maximum(a, b),
        AluOp.MIN: np.minimum(a, b),
    }[op]
    np.testing.assert_array_equal(dst, want)


@pytest.mark.parametrize(("op", "scale"), [(ReduceOp.ADD, 0.25), (ReduceOp.MAX, 1.0)])
def test_reduce_over_the_innermost_dims(op: ReduceOp, scale: float) -> None:
    src, dst = _rand(3, 2, 4, 5), np.zeros((3, 2), np.float32)
    _run(Opcode.REDUCE, src=src, dst=dst, op=op, nreduce=2, scale_imm=scale)
    want = src.sum(axis=(2, 3)) * scale if op is ReduceOp.ADD else src.max(axis=(2, 3))
    np.testing.assert_allclose(dst, want, rtol=1e-6)


def test_memset_fills() -> None:
    dst = _rand(2, 7)
    _run(Opcode.MEMSET, dst=dst, value=-3.5)
    assert (dst == np.float32(-3.5)).all()


# -- costs: the formulas of docs/hardware-model.md ----------------------------


@pytest.mark.parametrize("chip", [SMALL, DEFAULT], ids=lambda c: c.name)
def test_costs_follow_the_documented_formulas(chip: ChipConfig) -> None:
    def cost(op: Opcode, reload: bool = False, **shapes: tuple[int, ...]) -> float:
        return INSTRUCTIONS[op].cost(chip, shapes, reload)

    tile = (32, 4, 100)  # 400 elements per partition
    assert (
        cost(Opcode.NOP) == cost(Opcode.SIGNAL) == cost(Opcode.WAIT) == chip.sync_cycles
    )
    assert cost(Opcode.HALT) == 0
    assert cost(Opcode.DMA, src=(7, 9), dst=(63,)) == (
        chip.dma_fixed_latency_cycles + 63 * 4 / chip.dram_bytes_per_cycle
    )
    assert cost(Opcode.ACT, src=tile, dst=tile) == chip.act_fixed_cycles + math.ceil(
        400 / chip.act_elems_per_cycle_per_lane
    )
    pool = chip.pool_fixed_cycles + math.ceil(400 / chip.pool_elems_per_cycle_per_lane)
    assert cost(Opcode.TENSOR_TENSOR, dst=tile, a=tile, b=tile) == pool
    assert cost(Opcode.REDUCE, src=tile, dst=(32, 1)) == pool  # by the source's size
    assert cost(Opcode.MEMSET, dst=tile) == pool
    mm = {"dst": (8, 400), "stationary": (32, 8), "moving": (32, 400)}
    assert cost(Opcode.MATMUL, **mm) == 400
    load = chip.pe_weight_load_cycles + chip.pe_fill_drain_cycles
    assert cost(Opcode.MATMUL, True, **mm) == 400 + load
    # A reload behind the previous matmul's streaming: all of it with one buffer, the
    # uncovered load time with two (nothing to hide behind: all of it).
    one, two = (replace(chip, pe_weight_buffers=b) for b in (1, 2))
    for behind in (None, 0, 20, chip.pe_weight_load_cycles, 1000):
        assert matmul_load_cycles(one, behind) == load
    assert matmul_load_cycles(two, None) == load
    assert matmul_load_cycles(two, 0) == chip.pe_weight_load_cycles
    assert matmul_load_cycles(two, 20) == chip.pe_weight_load_cycles - 20
    assert matmul_load_cycles(two, chip.pe_weight_load_cycles) == 0
    assert matmul_load_cycles(two, 1000) == 0
    assert chip.pe_weight_buffers == 2  # both presets (sim/config.py)
    small = {"dst": (8, 2), "stationary": (32, 8), "moving": (32, 2)}
    assert cost(Opcode.MATMUL, **small) == chip.pe_min_cycles
    assert INSTRUCTIONS[Opcode.MATMUL].macs is not None
    assert INSTRUCTIONS[Opcode.MATMUL].macs(mm) == 32 * 8 * 400
    assert INSTRUCTIONS[Opcode.DMA].transfer_bytes is not None
    assert INSTRUCTIONS[Opcode.DMA].transfer_bytes({"src": (7, 9)}) == 252


def test_module_examples_hold() -> None:
    from tidal.sim.spec import enums, opcodes

    for module in (enums, opcodes):
        failed, tried = doctest.testmod(module)
        assert tried and not failed, module.__name__

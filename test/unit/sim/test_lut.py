"""ACT's lookup tables (`tidal.sim.spec.lut`): their accuracy against float64 NumPy
at both presets' resolutions, IEEE special values, how the tables travel in the
binary's LUT section, and what the loader refuses."""

from __future__ import annotations

import math
import struct
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from tidal.sim import isa
from tidal.sim.config import DEFAULT, SMALL
from tidal.sim.isa import Access, ActFunc, Engine, Opcode, ScalarMode, make_record
from tidal.sim.machine import LoadError, run_program
from tidal.sim.spec.lut import (
    ACCURACY,
    LUT_COLUMNS,
    LUT_SPECS,
    Reduction,
    TableError,
    build_table,
    check_table,
    evaluate,
    worst_error,
)

FUNCS = sorted(LUT_SPECS, key=lambda f: f.code)

# float64 references written here, independent of the module's own.
REFERENCE = {
    ActFunc.EXP: np.exp,
    ActFunc.SIGMOID: lambda x: 1 / (1 + np.exp(-x)),
    ActFunc.TANH: np.tanh,
    ActFunc.GELU: lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3))),
    ActFunc.ERF: np.vectorize(math.erf),
    ActFunc.SOFTPLUS: lambda x: np.logaddexp(0, x),
    ActFunc.SILU: lambda x: x * (0.5 + 0.5 * np.tanh(0.5 * x)),  # x sigmoid(x)
    ActFunc.GELU_ERF: lambda x: 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2))),
    ActFunc.LOG: np.log,
    ActFunc.RECIPROCAL: lambda x: 1 / x,
    ActFunc.RSQRT: lambda x: 1 / np.sqrt(x),
    ActFunc.SQRT: np.sqrt,
}


def samples(func: ActFunc, n: int = 1 << 15) -> np.ndarray:
    """Inputs over and past the table's range (both signs where defined), plus every
    interval boundary and its float32 neighbour below."""
    spec = LUT_SPECS[func]
    rng = np.random.default_rng(func.code)
    if spec.reduction is Reduction.RANGE:
        span = spec.hi - spec.lo
        x = rng.uniform(spec.lo - span / 2, spec.hi + span / 2, n)
    elif func is ActFunc.EXP:
        x = rng.uniform(-87, 88, n)
    else:
        x = np.exp(rng.uniform(-69, 69, n))  # 1e-30 .. 1e30
        if func is ActFunc.RECIPROCAL:
            x = x * rng.choice([-1, 1], n)
    x = x.astype(np.float32)
    if spec.reduction is Reduction.RANGE:
        edges = np.linspace(spec.lo, spec.hi, 257).astype(np.float32)
        x = np.concatenate([x, edges, np.nextafter(edges, np.float32(-np.inf))])
    return x


def error(func: ActFunc, x: np.ndarray, y: np.ndarray) -> float:
    """The error of the kind ACCURACY names, against this file's references."""
    return worst_error(func, y, REFERENCE[func](x.astype(np.float64)))


@pytest.mark.parametrize("func", FUNCS)
def test_default_resolution_meets_the_documented_accuracy(func: ActFunc) -> None:
    x = samples(func)
    y = evaluate(build_table(func, DEFAULT.act_lut_intervals), x)
    assert y.dtype == np.float32 and y.shape == x.shape
    assert error(func, x, y) <= ACCURACY[func][1]


@pytest.mark.parametrize("func", FUNCS)
def test_small_chip_resolution_is_coarser_but_bounded(func: ActFunc) -> None:
    """64 rows (the 'small' preset): within 2e-5 of every function (docs/lut.md);
    the range functions lose accuracy with fewer rows, as a table should."""
    x = samples(func)
    coarse = error(func, x, evaluate(build_table(func, SMALL.act_lut_intervals), x))
    assert coarse <= 2e-5
    if func in (ActFunc.SIGMOID, ActFunc.TANH, ActFunc.SOFTPLUS):
        fine = error(func, x, evaluate(build_table(func, DEFAULT.act_lut_intervals), x))
        assert fine < coarse / 4


def test_one_row_tables_are_poor() -> None:
    """The table is what computes: a one-interval tanh cannot follow the function."""
    x = samples(ActFunc.TANH)
    assert error(ActFunc.TANH, x, evaluate(build_table(ActFunc.TANH, 1), x)) > 0.1


@pytest.mark.parametrize(
    ("func", "x", "want"),
    [
        (ActFunc.EXP, [np.inf, -np.inf, np.nan, 89.0, -104.0, 0.0], [np.inf, 0.0, np.nan, np.inf, 0.0, 1.0]),
        # far past the exponent range (x - max of logits near 1e30): 0 and inf, not the
        # inf and -inf a reduction of lost bits gave
        (ActFunc.EXP, [-3e23, -1e10, -3e38, 1e10, 3e23, 3e38], [0.0, 0.0, 0.0, np.inf, np.inf, np.inf]),
        (ActFunc.LOG, [0.0, -0.0, -1.0, np.inf, np.nan, 1.0], [-np.inf, -np.inf, np.nan, np.inf, np.nan, 0.0]),
        (ActFunc.RECIPROCAL, [0.0, -0.0, np.inf, -np.inf, np.nan], [np.inf, -np.inf, 0.0, -0.0, np.nan]),
        (ActFunc.RSQRT, [0.0, -1.0, np.inf, np.nan, 4.0], [np.inf, np.nan, 0.0, np.nan, 0.5]),
        (ActFunc.SQRT, [0.0, -1.0, np.inf, np.nan, 16.0], [0.0, np.nan, np.inf, np.nan, 4.0]),
        (ActFunc.SIGMOID, [np.inf, -np.inf, np.nan], [1.0, 0.0, np.nan]),
        (ActFunc.TANH, [np.inf, -np.inf, np.nan], [1.0, -1.0, np.nan]),
        (ActFunc.ERF, [np.inf, -np.inf, np.nan], [1.0, -1.0, np.nan]),
        (ActFunc.SOFTPLUS, [np.inf, -np.inf, 1e30], [np.inf, 0.0, 1e30]),
        (ActFunc.GELU, [np.inf, -np.inf, -1e30], [np.inf, 0.0, 0.0]),
    ],
)
def test_special_values_follow_ieee(func: ActFunc, x: list[float], want: list[float]) -> None:
    y = evaluate(build_table(func, 256), np.array(x, np.float32))
    np.testing.assert_allclose(y, np.array(want, np.float32), rtol=1e-6)
    assert list(np.signbit(y[np.isinf(y)])) == list(np.signbit(np.array(want)[np.isinf(want)]))


def test_subnormal_inputs_reduce_exactly() -> None:
    x = np.array([1e-40, 3e-45], np.float32)  # subnormal float32
    for func in (ActFunc.LOG, ActFunc.SQRT):
        y = evaluate(build_table(func, 256), x)
        np.testing.assert_allclose(y, REFERENCE[func](x.astype(np.float64)), rtol=2e-6)


def test_tables_are_deterministic_and_rows_are_midpoints() -> None:
    a = build_table(ActFunc.TANH, 128)
    b = build_table.__wrapped__(ActFunc.TANH, 128)  # not the cached object
    np.testing.assert_array_equal(a.rows, b.rows)
    h = (a.hi - a.lo) / 128
    np.testing.assert_allclose(a.rows[:, 0], a.lo + (np.arange(128) + 0.5) * h, rtol=1e-6)
    assert a.rows.shape == (128, LUT_COLUMNS) and a.rows.dtype == np.float32


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: (t.lo - 1, t.hi, t.rows), "datasheet's range"),
        (lambda t: (t.lo, t.hi, t.rows[:-1]), "chip's resolution is 64"),
        (lambda t: (t.lo, t.hi, t.rows[::-1].copy()), "midpoints"),
        (lambda t: (t.lo, t.hi, np.where(np.arange(5) == 3, np.nan, t.rows).astype(np.float32)), "non-finite"),
    ],
)
def test_check_table_refuses(change, message: str) -> None:
    table = build_table(ActFunc.SIGMOID, 64)
    with pytest.raises(TableError, match=message):
        check_table(ActFunc.SIGMOID, *change(table), 64)
    with pytest.raises(TableError, match="not a table function"):
        check_table(ActFunc.RELU, table.lo, table.hi, table.rows, 64)


def test_config_bounds_the_resolution() -> None:
    with pytest.raises(ValueError, match="act_lut_intervals"):
        replace(SMALL, act_lut_intervals=0)


# ---------------------------------------------------------------- in the binary


def _sigmoid_program(mk: SimpleNamespace, luts: bool = True) -> isa.Program:
    """y = sigmoid(x) on a 4x8 tile of the small chip."""
    p, f = 4, 8
    tile = mk.sbuf(0, p, 0, (1, f))
    return mk.build(
        {
            Engine.DMA0: [
                make_record(Opcode.DMA, Engine.DMA0, src=mk.dram(0, (f, p), (1, f)), dst=tile, signal=0),
                make_record(Opcode.WAIT, Engine.DMA0, sem=1, value=1),
                make_record(Opcode.DMA, Engine.DMA0, src=tile, dst=mk.dram(256, (f, p), (1, f))),
            ],
            Engine.ACT: [
                make_record(Opcode.WAIT, Engine.ACT, sem=0, value=1),
                make_record(
                    Opcode.ACT, Engine.ACT, dst=tile, src=tile, func=ActFunc.SIGMOID,
                    scale_mode=ScalarMode.IMM, scale_imm=1.0, bias_mode=ScalarMode.IMM,
                    bias_imm=0.0, signal=1,
                ),
            ],
        },
        inputs=[mk.io("x", 0, (p, f))],
        outputs=[mk.io("y", 256, (p, f))],
        luts=luts,
    )


def test_the_binary_carries_the_tables_the_program_needs(mk: SimpleNamespace) -> None:
    program = _sigmoid_program(mk)
    assert sorted(program.luts) == [ActFunc.SIGMOID.code]
    lo, hi, rows = program.luts[ActFunc.SIGMOID.code]
    np.testing.assert_array_equal(rows, build_table(ActFunc.SIGMOID, SMALL.act_lut_intervals).rows)
    x = np.linspace(-20, 20, 32, dtype=np.float32).reshape(4, 8)
    out, _ = run_program(program, {"x": x})
    np.testing.assert_allclose(out["y"], 1 / (1 + np.exp(-x.astype(np.float64))), atol=2e-5)


def test_the_machine_computes_with_the_binary_s_table(mk: SimpleNamespace) -> None:
    """A table with other (valid) coefficients changes what the machine computes."""
    program = _sigmoid_program(mk)
    lo, hi, rows = program.luts[ActFunc.SIGMOID.code]
    rows = rows.copy()
    rows[:, 1:] = 0.0
    rows[:, 1] = 0.25  # every interval's cubic: the constant 0.25
    program.luts[ActFunc.SIGMOID.code] = (lo, hi, rows)
    x = np.linspace(-5, 5, 32, dtype=np.float32).reshape(4, 8)
    out, _ = run_program(program, {"x": x})
    np.testing.assert_array_equal(out["y"], np.full((4, 8), 0.25, np.float32))


def test_loader_refuses_a_missing_table(mk: SimpleNamespace) -> None:
    program = _sigmoid_program(mk, luts=False)
    with pytest.raises(LoadError, match=r"stream act, instruction 1 \(ACT\): function 'sigmoid' has no table"):
        run_program(program, {"x": np.zeros((4, 8), np.float32)})


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda luts, code: luts.update({99: luts[code]}), "table of function 99: no ActFunc has code 99"),
        (lambda luts, code: luts.update({ActFunc.RELU.code: luts[code]}), "'relu' is not a table function"),
        (lambda luts, code: luts.update({code: (luts[code][0], luts[code][1], build_table(ActFunc.SIGMOID, 256).rows)}), "resolution is 64 rows"),
        (lambda luts, code: luts.update({code: (-1.0, 1.0, luts[code][2])}), "datasheet's range"),
    ],
)
def test_loader_refuses_bad_tables(mk: SimpleNamespace, edit, message: str) -> None:
    program = _sigmoid_program(mk)
    edit(program.luts, ActFunc.SIGMOID.code)
    program = isa.decode_container(isa.encode_container(program))
    with pytest.raises(LoadError, match=message) as info:
        run_program(program, {"x": np.zeros((4, 8), np.float32)})
    assert str(info.value).startswith("LUT section, table of function")


def _lut_section(data: bytes) -> tuple[int, int, int]:
    """(table entry offset, payload offset, size) of the LUT section."""
    nsec = isa.HEADER.unpack_from(data, 0)[3]
    for i in range(nsec):
        at = isa.HEADER.size + i * isa.SECTION.size
        kind, _, off, size = isa.SECTION.unpack_from(data, at)
        if kind == isa.SectionKind.LUT:
            return at, off, size
    raise AssertionError("no LUT section")


def _refix_crc(data: bytearray) -> bytes:
    body = bytes(data[isa.HEADER.size :])
    magic, version, chip, nsec, _, _ = isa.HEADER.unpack_from(data, 0)
    data[: isa.HEADER.size] = isa.HEADER.pack(magic, version, chip, nsec, __import__("zlib").crc32(body), len(body))
    return bytes(data)


def test_truncated_or_duplicated_tables_are_format_errors(mk: SimpleNamespace) -> None:
    data = bytearray(isa.encode_container(_sigmoid_program(mk)))
    at, off, size = _lut_section(data)
    short = bytearray(data)
    kind, arg, _, _ = isa.SECTION.unpack_from(short, at)
    short[at : at + isa.SECTION.size] = isa.SECTION.pack(kind, arg, off, size - 4)
    with pytest.raises(isa.BinaryFormatError, match="LUT table runs past its section"):
        isa.decode_container(_refix_crc(short))
    header = bytearray(data)
    header[at : at + isa.SECTION.size] = isa.SECTION.pack(kind, arg, off, 8)
    with pytest.raises(isa.BinaryFormatError, match="truncated LUT table header"):
        isa.decode_container(_refix_crc(header))
    # the same table twice
    program = _sigmoid_program(mk)
    twice = bytearray(isa.encode_container(program))
    at, off, size = _lut_section(twice)
    payload = bytes(twice[off : off + size])
    assert struct.unpack_from("<I", payload)[0] == ActFunc.SIGMOID.code
    program2 = isa.Program(
        program.chip, program.streams, program.consts, program.inputs, program.outputs,
        program.debug, program.meta,
    )
    blob = bytearray(isa.encode_container(program2))  # no LUT section; add one of two tables
    nsec = isa.HEADER.unpack_from(blob, 0)[3]
    table = blob[isa.HEADER.size : isa.HEADER.size + nsec * isa.SECTION.size]
    rest = blob[isa.HEADER.size + nsec * isa.SECTION.size :]
    shift = isa.SECTION.size
    entries = bytearray()
    for i in range(nsec):
        k, a, o, s = isa.SECTION.unpack_from(table, i * isa.SECTION.size)
        entries += isa.SECTION.pack(k, a, o + shift, s)
    end = isa.HEADER.size + len(entries) + shift + len(rest)
    entries += isa.SECTION.pack(isa.SectionKind.LUT, 0, end, 2 * len(payload))
    out = bytearray(isa.HEADER.size) + entries + rest + payload + payload
    magic, version, chip, _, _, _ = isa.HEADER.unpack_from(blob, 0)
    out[: isa.HEADER.size] = isa.HEADER.pack(magic, version, chip, nsec + 1, 0, 0)
    with pytest.raises(isa.BinaryFormatError, match="a second LUT table for function 4"):
        isa.decode_container(_refix_crc(out))


def test_programs_without_table_functions_have_no_lut_section(mk: SimpleNamespace) -> None:
    tile: Access = mk.sbuf(0, 4, 0, (1, 8))
    program = mk.build(
        {Engine.ACT: [make_record(Opcode.ACT, Engine.ACT, dst=tile, src=tile, func=ActFunc.RELU,
                                  scale_mode=ScalarMode.IMM, scale_imm=1.0,
                                  bias_mode=ScalarMode.IMM, bias_imm=0.0)]},
    )
    assert program.luts == {}
    data = isa.encode_container(program)
    with pytest.raises(AssertionError, match="no LUT section"):
        _lut_section(data)

"""Numerics of every opcode on the hardware model, against NumPy."""

from __future__ import annotations

from types import SimpleNamespace

import math

import numpy as np
import pytest

from tidal.sim import isa
from tidal.sim.isa import ActFunc, AluOp, Engine, Opcode, ReduceOp, ScalarMode, make_record
from tidal.sim.machine import InputError, run_program
from tidal.sim.spec.lut import LUT_SPECS

DMA0, DMA1 = Engine.DMA0, Engine.DMA0 + 1
RNG = np.random.default_rng(0)


def rand(*shape: int, lo: float = -2.0, hi: float = 2.0) -> np.ndarray:
    return RNG.uniform(lo, hi, shape).astype(np.float32)


def dma(src: isa.Access, dst: isa.Access, **kw: int) -> np.ndarray:
    return make_record(Opcode.DMA, DMA0, src=src, dst=dst, **kw)


def wait(engine: int, sem: int, value: int) -> np.ndarray:
    return make_record(Opcode.WAIT, engine, sem=sem, value=value)


def load(
    mk: SimpleNamespace, addr: int, rows: int, cols: int, off: int = 0, **kw: int
) -> np.ndarray:
    """DMA a contiguous (rows, cols) DRAM tensor at `addr` to SBUF partitions."""
    return dma(
        mk.dram(addr, (cols, rows), (1, cols)), mk.sbuf(0, rows, off, (1, cols)), **kw
    )


def act_record(
    src: isa.Access, dst: isa.Access, func: ActFunc, **scalars: object
) -> np.ndarray:
    """ACT `func` from `src` to `dst` that signals semaphore 1; `scalars` give its
    scale and bias (mode, and an immediate or an SBUF column)."""
    return make_record(
        Opcode.ACT, Engine.ACT, signal=1, src=src, dst=dst, func=func, **scalars
    )


def store(
    mk: SimpleNamespace, src: isa.Access, addr: int, rows: int, cols: int, **kw: int
) -> np.ndarray:
    return dma(src, mk.dram(addr, (cols, rows), (1, cols)), **kw)


def test_dma_transposing_round_trip(mk: SimpleNamespace) -> None:
    x = rand(8, 16)
    # Partition p, element j of the SBUF tile is x[j, p]: the source walks columns.
    to_sbuf = dma(mk.dram(0, (1, 16), (16, 8)), mk.sbuf(0, 16, 0, (1, 8)))
    to_dram = store(mk, mk.sbuf(0, 16, 0, (1, 8)), 1024, 16, 8)
    program = mk.build(
        {DMA0: [to_sbuf, to_dram]},
        inputs=[mk.io("x", 0, (8, 16))],
        outputs=[mk.io("y", 1024, (16, 8))],
    )
    outputs, stats = run_program(program, {"x": x})
    np.testing.assert_array_equal(outputs["y"], x.T)
    assert outputs["y"].dtype == np.float32
    assert stats["instructions"] == {"pe": 0, "act": 0, "pool": 0, "dma0": 2, "dma1": 0}
    assert stats["dma_bytes"] == 2 * x.nbytes
    assert stats["dma_bytes_per_queue"] == {"dma0": 2 * x.nbytes, "dma1": 0}


def test_matmul_start_then_accumulate(mk: SimpleNamespace) -> None:
    k, m, n = 8, 4, 6
    w, x1, x2 = rand(k, m), rand(k, n), rand(k, n)
    st = mk.sbuf(0, k, 0, (1, m))
    mv1, mv2 = mk.sbuf(0, k, 64, (1, n)), mk.sbuf(0, k, 128, (1, n))
    acc = mk.psum(0, m, 0, (1, n))

    def matmul(**kw: object) -> np.ndarray:  # acc (+)= st^T @ moving
        return make_record(Opcode.MATMUL, Engine.PE, dst=acc, stationary=st, **kw)

    program = mk.build(
        {
            DMA0: [
                load(mk, 0, k, m),
                load(mk, 256, k, n, off=64),
                load(mk, 512, k, n, off=128, signal=0),
                wait(DMA0, 1, 1),
                store(mk, acc, 1024, m, n),
            ],
            Engine.PE: [
                wait(Engine.PE, 0, 1),
                matmul(flags=isa.FLAG_START, moving=mv1),
                matmul(signal=1, moving=mv2),
            ],
        },
        inputs=[
            mk.io("w", 0, (k, m)),
            mk.io("x1", 256, (k, n)),
            mk.io("x2", 512, (k, n)),
        ],
        outputs=[mk.io("y", 1024, (m, n))],
    )
    outputs, stats = run_program(program, {"w": w, "x1": x1, "x2": x2})
    np.testing.assert_allclose(outputs["y"], w.T @ x1 + w.T @ x2, rtol=1e-5, atol=1e-5)
    assert stats["macs"] == 2 * k * m * n
    assert stats["engines"]["pe"]["instructions"] == 3


def _act_reference(func: ActFunc, y: np.ndarray) -> np.ndarray:
    return {
        ActFunc.IDENTITY: lambda: y,
        ActFunc.RELU: lambda: np.maximum(y, 0),
        ActFunc.EXP: lambda: np.exp(y),
        ActFunc.RECIPROCAL: lambda: 1 / y,
        ActFunc.SIGMOID: lambda: 1 / (1 + np.exp(-y)),
        ActFunc.TANH: lambda: np.tanh(y),
        ActFunc.LOG: lambda: np.log(y),
        ActFunc.GELU: lambda: 0.5 * y * (1 + np.tanh(np.sqrt(2 / np.pi) * (y + 0.044715 * y**3))),
        ActFunc.ERF: lambda: np.vectorize(math.erf)(y),
        ActFunc.SOFTPLUS: lambda: np.log1p(np.exp(y)),
        ActFunc.RSQRT: lambda: 1 / np.sqrt(y),
        ActFunc.SQRT: lambda: np.sqrt(y),
        ActFunc.CLIP01: lambda: np.clip(y, 0, 1),
        ActFunc.SILU: lambda: y / (1 + np.exp(-y)),
        ActFunc.GELU_ERF: lambda: 0.5 * y * (1 + np.vectorize(math.erf)(y / math.sqrt(2))),
    }[func]()


# The small chip's 64-row ACT tables are within 1.1e-5 of every function
# (docs/lut.md); relu and identity are exact.
def _act_atol(func: ActFunc) -> float:
    return 2e-5 if func in LUT_SPECS else 1e-6


@pytest.mark.parametrize("func", list(ActFunc))
def test_act_with_column_scale_and_bias(mk: SimpleNamespace, func: ActFunc) -> None:
    p, f = 8, 5
    # Positive pre-activations keep RECIPROCAL away from 0; RELU still sees negatives
    # through the bias below.
    x = rand(p, f, lo=0.5, hi=2.0)
    scale = rand(p, 1, lo=0.5, hi=1.5)
    bias = (
        rand(p, 1, lo=0.1, hi=0.5)
        if func is not ActFunc.RELU
        else rand(p, 1, lo=-2, hi=-1)
    )
    act = act_record(
        mk.sbuf(0, p, 0, (1, f)),
        mk.psum(0, p, 0, (1, f)),
        func,
        scale_mode=ScalarMode.COLUMN,
        scale_space=isa.Space.SBUF,
        scale_pstart=0,
        scale_offset=4 * f,
        bias_mode=ScalarMode.COLUMN,
        bias_space=isa.Space.SBUF,
        bias_pstart=0,
        bias_offset=4 * (f + 1),
    )
    program = mk.build(
        {
            DMA0: [
                load(mk, 0, p, f),
                load(mk, 512, p, 1, off=4 * f),
                load(mk, 768, p, 1, off=4 * (f + 1), signal=0),
                wait(DMA0, 1, 1),
                store(mk, mk.psum(0, p, 0, (1, f)), 1024, p, f),
            ],
            Engine.ACT: [wait(Engine.ACT, 0, 1), act],
        },
        inputs=[
            mk.io("x", 0, (p, f)),
            mk.io("s", 512, (p, 1)),
            mk.io("b", 768, (p, 1)),
        ],
        outputs=[mk.io("y", 1024, (p, f))],
    )
    outputs, _ = run_program(program, {"x": x, "s": scale, "b": bias})
    np.testing.assert_allclose(
        outputs["y"], _act_reference(func, x * scale + bias), rtol=1e-6, atol=_act_atol(func)
    )


def test_act_with_immediate_scale_and_bias(mk: SimpleNamespace) -> None:
    p, f = 4, 6
    x = rand(p, f)
    act = act_record(
        mk.sbuf(0, p, 0, (1, f)),
        mk.sbuf(0, p, 64, (1, f)),
        ActFunc.TANH,
        scale_mode=ScalarMode.IMM,
        scale_imm=0.5,
        bias_mode=ScalarMode.IMM,
        bias_imm=-0.25,
    )
    program = mk.build(
        {
            DMA0: [
                load(mk, 0, p, f, signal=0),
                wait(DMA0, 1, 1),
                store(mk, mk.sbuf(0, p, 64, (1, f)), 1024, p, f),
            ],
            Engine.ACT: [wait(Engine.ACT, 0, 1), act],
        },
        inputs=[mk.io("x", 0, (p, f))],
        outputs=[mk.io("y", 1024, (p, f))],
    )
    outputs, _ = run_program(program, {"x": x})
    np.testing.assert_allclose(
        outputs["y"], np.tanh(x * 0.5 - 0.25), rtol=1e-6, atol=_act_atol(ActFunc.TANH)
    )


@pytest.mark.parametrize(
    ("op", "ref"),
    [
        (AluOp.ADD, np.add),
        (AluOp.SUB, np.subtract),
        (AluOp.MUL, np.multiply),
        (AluOp.MAX, np.maximum),
        (AluOp.MIN, np.minimum),
    ],
)
def test_tensor_tensor(mk: SimpleNamespace, op: AluOp, ref: np.ufunc) -> None:
    p, f = 6, 10
    a, b = rand(p, f), rand(p, f)
    tt = make_record(
        Opcode.TENSOR_TENSOR,
        Engine.POOL,
        signal=1,
        op=op,
        a=mk.sbuf(0, p, 0, (1, f)),
        b=mk.sbuf(0, p, 64, (1, f)),
        dst=mk.sbuf(0, p, 128, (1, f)),
    )
    program = mk.build(
        {
            DMA0: [
                load(mk, 0, p, f),
                load(mk, 512, p, f, off=64, signal=0),
                wait(DMA0, 1, 1),
                store(mk, mk.sbuf(0, p, 128, (1, f)), 1024, p, f),
            ],
            Engine.POOL: [wait(Engine.POOL, 0, 1), tt],
        },
        inputs=[mk.io("a", 0, (p, f)), mk.io("b", 512, (p, f))],
        outputs=[mk.io("y", 1024, (p, f))],
    )
    outputs, _ = run_program(program, {"a": a, "b": b})
    np.testing.assert_array_equal(outputs["y"], ref(a, b))


@pytest.mark.parametrize("mode", [ScalarMode.COLUMN, ScalarMode.IMM])
def test_tensor_tensor_scale(mk: SimpleNamespace, mode: ScalarMode) -> None:
    """dst = (a * scale) <op> b: a per-partition column (the depthwise taps' sum +=
    window * weight, in place: b is dst) or an immediate."""
    p, f = 6, 10
    a, b, col = rand(p, f), rand(p, f), rand(p, 1)
    scalar = (
        {"scale_mode": mode, "scale_space": isa.Space.SBUF, "scale_pstart": 0, "scale_offset": 4 * 2 * f}
        if mode is ScalarMode.COLUMN
        else {"scale_mode": mode, "scale_imm": -0.75}
    )
    tt = make_record(
        Opcode.TENSOR_TENSOR,
        Engine.POOL,
        signal=1,
        op=AluOp.ADD,
        a=mk.sbuf(0, p, 0, (1, f)),
        b=mk.sbuf(0, p, 4 * f, (1, f)),
        dst=mk.sbuf(0, p, 4 * f, (1, f)),
        **scalar,
    )
    program = mk.build(
        {
            DMA0: [
                load(mk, 0, p, f),
                load(mk, 512, p, f, off=4 * f),
                load(mk, 1536, p, 1, off=4 * 2 * f, signal=0),
                wait(DMA0, 1, 1),
                store(mk, mk.sbuf(0, p, 4 * f, (1, f)), 1024, p, f),
            ],
            Engine.POOL: [wait(Engine.POOL, 0, 1), tt],
        },
        inputs=[mk.io("a", 0, (p, f)), mk.io("b", 512, (p, f)), mk.io("s", 1536, (p, 1))],
        outputs=[mk.io("y", 1024, (p, f))],
    )
    outputs, _ = run_program(program, {"a": a, "b": b, "s": col})
    scale = col if mode is ScalarMode.COLUMN else np.float32(-0.75)
    np.testing.assert_allclose(outputs["y"], a * scale + b, rtol=1e-6)


@pytest.mark.parametrize(("op", "scale"), [(ReduceOp.MAX, 1.0), (ReduceOp.ADD, 0.25)])
def test_reduce_as_2x2_pooling_window(
    mk: SimpleNamespace, op: ReduceOp, scale: float
) -> None:
    c, h, w = 4, 4, 6
    x = rand(c, h, w)
    # (channel, oh, ow, kh, kw) over a channel-per-partition (h*w) tile.
    window = mk.sbuf(0, c, 0, (2 * w, h // 2), (2, w // 2), (w, 2), (1, 2))
    red = make_record(
        Opcode.REDUCE,
        Engine.POOL,
        signal=1,
        src=window,
        dst=mk.sbuf(0, c, 256, (1, (h // 2) * (w // 2))),
        op=op,
        nreduce=2,
        scale_imm=scale,
    )
    out_free = (h // 2) * (w // 2)
    program = mk.build(
        {
            DMA0: [
                load(mk, 0, c, h * w, signal=0),
                wait(DMA0, 1, 1),
                store(mk, mk.sbuf(0, c, 256, (1, out_free)), 1024, c, out_free),
            ],
            Engine.POOL: [wait(Engine.POOL, 0, 1), red],
        },
        inputs=[mk.io("x", 0, (c, h, w))],
        outputs=[mk.io("y", 1024, (c, h // 2, w // 2))],
    )
    outputs, _ = run_program(program, {"x": x})
    blocks = x.reshape(c, h // 2, 2, w // 2, 2)
    expected = (
        blocks.max(axis=(2, 4)) if op is ReduceOp.MAX else blocks.sum(axis=(2, 4)) * scale
    )
    np.testing.assert_allclose(outputs["y"], expected, rtol=1e-6)


def test_memset(mk: SimpleNamespace) -> None:
    p, f = 5, 7
    program = mk.build(
        {
            Engine.POOL: [
                make_record(
                    Opcode.MEMSET,
                    Engine.POOL,
                    signal=0,
                    dst=mk.sbuf(2, p, 32, (1, f)),
                    value=-1.5,
                )
            ],
            DMA0: [wait(DMA0, 0, 1), store(mk, mk.sbuf(2, p, 32, (1, f)), 0, p, f)],
        },
        outputs=[mk.io("y", 0, (p, f))],
    )
    outputs, _ = run_program(program, {})
    np.testing.assert_array_equal(outputs["y"], np.full((p, f), -1.5, np.float32))


def test_dram_to_dram_broadcast_read(mk: SimpleNamespace) -> None:
    """A stride-0 source dim repeats one row."""
    row = rand(1, 5)
    copy = dma(mk.dram(0, (0, 3), (1, 5)), mk.dram(64, (5, 3), (1, 5)))
    program = mk.build(
        {DMA0: [copy]}, inputs=[mk.io("r", 0, (1, 5))], outputs=[mk.io("y", 64, (3, 5))]
    )
    outputs, _ = run_program(program, {"r": row})
    np.testing.assert_array_equal(outputs["y"], np.repeat(row, 3, axis=0))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({}, "missing input 'x'"),
        (
            {"x": np.zeros((3, 2), np.float32)},
            "input 'x': expected shape (2, 3), got (3, 2)",
        ),
        ({"x": np.zeros((2, 3))}, "input 'x': expected dtype float32, got float64"),
        (
            {"x": np.zeros((2, 3), np.float32), "z": np.zeros(1, np.float32)},
            "unknown input 'z'",
        ),
    ],
)
def test_input_errors(
    mk: SimpleNamespace, value: dict[str, np.ndarray], message: str
) -> None:
    program = mk.build(
        {DMA0: [make_record(Opcode.NOP, DMA0)]}, inputs=[mk.io("x", 0, (2, 3))]
    )
    with pytest.raises(InputError) as info:
        run_program(program, value)
    assert message in str(info.value)
    assert "\n" not in str(info.value)

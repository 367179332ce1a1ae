"""POOL's pseudo-random numbers (`tidal.sim.spec.rng`) and the RANDOM and DROPOUT
instructions: distribution, reproducibility, independence of seeds and lanes, and the
instructions on the hardware model and the accel-level interpreter."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from xdsl.context import Context

from tidal.passes.accel.insert_sync import AccelInsertSyncPass
from tidal.passes.accel.split_streams import AccelSplitStreamsPass
from tidal.passes.interpreters.accel import eval_accel, eval_binary
from tidal.passes.pipeline import run_passes
from tidal.sim.isa import Engine, Opcode, make_record
from tidal.sim.machine import run_program
from tidal.sim.spec.rng import RngState
from tidal.tools.common import context, parse_and_verify


def test_uniform_is_uniform() -> None:
    """2^20 numbers in [0, 1): each of 64 bins within 5 sigma of its expected count
    (a chi-square would pass by construction; this fails on a biased generator), mean
    and variance of U(0, 1), and no correlation between neighbours along a lane or
    across lanes."""
    u = RngState(128).uniform(12345, 0, (128, 8192)).astype(np.float64)
    assert u.min() >= 0.0 and u.max() < 1.0
    counts = np.bincount((u * 64).astype(int).ravel(), minlength=64)
    expected = u.size / 64
    assert np.abs(counts - expected).max() < 5 * np.sqrt(expected)
    assert abs(u.mean() - 0.5) < 5 * np.sqrt(1 / 12 / u.size)
    assert abs(u.var() - 1 / 12) < 1e-3
    for a, b in ((u[:, :-1], u[:, 1:]), (u[:-1], u[1:])):
        assert abs(np.corrcoef(a.ravel(), b.ravel())[0, 1]) < 5 / np.sqrt(a.size)


def test_reproducible_for_a_seed_and_different_across_seeds() -> None:
    a = RngState(32).uniform(7, 0, (32, 100))
    np.testing.assert_array_equal(a, RngState(32).uniform(7, 0, (32, 100)))
    b = RngState(32).uniform(8, 0, (32, 100))
    assert (a == b).mean() < 0.01
    # the counters advance: a second draw with the same seed is new numbers
    state = RngState(32)
    first, second = state.uniform(7, 0, (32, 100)), state.uniform(7, 0, (32, 100))
    assert (first == second).mean() < 0.01
    assert list(state.counters) == [200] * 32


def test_lanes_are_independent_of_the_instruction_s_width() -> None:
    """A lane draws the same numbers whether the instruction covers 3 partitions or
    all of them: each lane has its own counter."""
    wide = RngState(32).uniform(5, 0, (32, 10))
    narrow = RngState(32).uniform(5, 4, (3, 10))
    np.testing.assert_array_equal(narrow, wide[4:7])


def _rng_program(mk: SimpleNamespace, ratio: float, seed: int) -> object:
    """POOL: dropout of x (32 x 64) with `ratio`, then a random fill in [-2, 3)."""
    p, f = 32, 64
    x_tile, y_tile, r_tile = (mk.sbuf(0, p, off, (1, f)) for off in (0, 256, 512))
    dma0 = Engine.DMA0
    return mk.build(
        {
            dma0: [
                make_record(Opcode.DMA, dma0, src=mk.dram(0, (f, p), (1, f)), dst=x_tile, signal=0),
                make_record(Opcode.WAIT, dma0, sem=1, value=2),
                make_record(Opcode.DMA, dma0, src=y_tile, dst=mk.dram(8192, (f, p), (1, f))),
                make_record(Opcode.DMA, dma0, src=r_tile, dst=mk.dram(16384, (f, p), (1, f))),
            ],
            Engine.POOL: [
                make_record(Opcode.WAIT, Engine.POOL, sem=0, value=1),
                make_record(Opcode.DROPOUT, Engine.POOL, dst=y_tile, src=x_tile, ratio=ratio, seed=seed, signal=1),
                make_record(Opcode.RANDOM, Engine.POOL, dst=r_tile, low=-2.0, high=3.0, seed=seed, signal=1),
            ],
        },
        inputs=[mk.io("x", 0, (p, f))],
        outputs=[mk.io("y", 8192, (p, f)), mk.io("r", 16384, (p, f))],
    )


@pytest.mark.parametrize("ratio", [0.0, 0.1, 0.5, 0.9])
def test_dropout_on_the_machine(mk: SimpleNamespace, ratio: float) -> None:
    x = np.random.default_rng(0).uniform(0.5, 2.0, (32, 64)).astype(np.float32)  # no zeros
    out, stats = run_program(_rng_program(mk, ratio, 11), {"x": x})
    y = out["y"]
    kept = y != 0
    # the mask rate: within 5 sigma of the ratio over 2048 elements
    assert abs((1 - kept.mean()) - ratio) <= 5 * np.sqrt(ratio * (1 - ratio) / x.size) + 1e-9
    # kept elements are x / (1 - ratio) exactly, in float32 (as onnxruntime divides)
    np.testing.assert_array_equal(y[kept], x[kept] / (np.float32(1) - np.float32(ratio)))
    r = out["r"]
    assert r.min() >= -2.0 and r.max() < 3.0 and abs(r.mean() - 0.5) < 0.2
    assert stats["engines"]["pool"]["instructions"] >= 3


def test_machine_runs_are_reproducible_and_seeds_differ(mk: SimpleNamespace) -> None:
    x = np.ones((32, 64), np.float32)
    a, _ = run_program(_rng_program(mk, 0.5, 11), {"x": x})
    b, _ = run_program(_rng_program(mk, 0.5, 11), {"x": x})
    c, _ = run_program(_rng_program(mk, 0.5, 12), {"x": x})
    np.testing.assert_array_equal(a["y"], b["y"])
    np.testing.assert_array_equal(a["r"], b["r"])
    assert (a["y"] != c["y"]).mean() > 0.3 and (a["r"] != c["r"]).mean() > 0.99


PROGRAM = """
accel.program "small" dram 8192 {
  accel.io input "x" at 0 : tensor<32x8xf32>
  accel.io output "y" at 1024 : tensor<32x8xf32>
  accel.io output "r" at 2048 : tensor<32x8xf32>
  accel.dma 0 <dram 0, [[8, 32], [1, 8]]> -> <sbuf 0, 0, [[1, 32], [1, 8]]>
  accel.dropout <sbuf 0, 64, [[1, 32], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]> ratio 0.5 seed 3
  accel.random <sbuf 4, 128, [[1, 20], [1, 8]]>, 0.0, 1.0 seed 3
  accel.random <sbuf 0, 128, [[1, 4], [1, 8]]>, 0.0, 1.0 seed 3
  accel.random <sbuf 24, 128, [[1, 8], [1, 8]]>, 0.0, 1.0 seed 3
  accel.dma 1 <sbuf 0, 64, [[1, 32], [1, 8]]> -> <dram 1024, [[8, 32], [1, 8]]>
  accel.dma 1 <sbuf 0, 128, [[1, 32], [1, 8]]> -> <dram 2048, [[8, 32], [1, 8]]>
}
"""


def test_accel_interpreter_and_machine_draw_the_same_numbers() -> None:
    """The sequential interpreter and the hardware model keep one generator per lane,
    starting at 0 each run: the same program gives the same bits; partial-partition
    instructions (lanes 4..23, then 0..3, then 24..31) draw from their own lanes."""
    module = parse_and_verify(context(), PROGRAM, "rng.mlir")
    x = np.random.default_rng(1).standard_normal((32, 8)).astype(np.float32)
    sequential = eval_accel(module, {"x": x})
    run_passes([AccelInsertSyncPass(), AccelSplitStreamsPass()], module, Context())
    on_machine = eval_binary(module, {"x": x})
    for name in ("y", "r"):
        np.testing.assert_array_equal(sequential[name], on_machine[name])
    # every lane drew 8 for the dropout, then 8 for its random fill
    state = RngState(32)
    state.uniform(3, 0, (32, 8))
    np.testing.assert_array_equal(on_machine["r"], state.uniform(3, 0, (32, 8)))


@pytest.mark.parametrize(
    ("opcode", "fields", "message"),
    [
        (Opcode.DROPOUT, {"ratio": 1.0}, r"instruction 0 \(DROPOUT\): ratio 1.0 is not in \[0, 1\)"),
        (Opcode.DROPOUT, {"ratio": float("nan")}, r"ratio nan is not in \[0, 1\)"),
        (Opcode.RANDOM, {"low": 2.0, "high": 1.0}, r"\(RANDOM\): bounds \[2.0, 1.0\) are not finite"),
        (Opcode.RANDOM, {"low": 0.0, "high": float("inf")}, r"bounds \[0.0, inf\)"),
    ],
)
def test_loader_refuses_bad_rng_fields(mk: SimpleNamespace, opcode, fields, message) -> None:
    from tidal.sim.machine import LoadError

    tile = mk.sbuf(0, 4, 0, (1, 8))
    operands = {"dst": tile, "src": tile} if opcode is Opcode.DROPOUT else {"dst": tile}
    program = mk.build({Engine.POOL: [make_record(opcode, Engine.POOL, seed=1, **operands, **fields)]})
    with pytest.raises(LoadError, match=message):
        run_program(program, {})

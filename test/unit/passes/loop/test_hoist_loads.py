"""loop-hoist-loads: which constant loads leave their loop, and that the nest computes
what it did (the loop-level interpreter, before and after, against NumPy)."""

from pathlib import Path

import numpy as np
from tidal.dialects import loop
from tidal.passes.interpreters.loop import eval_loop
from tidal.passes.loop.hoist_loads import LoopHoistLoadsPass, hoistable
from tidal.tools.common import context
from xdsl.context import Context
from xdsl.parser import Parser

NEST = (Path(__file__).parents[3] / "filecheck/passes/loop/loop-hoist-loads.mlir").read_text()


def _parsed():
    text = "\n".join(ln for ln in NEST.splitlines() if not ln.startswith("//"))
    return Parser(context(), text).parse_module()


def test_only_the_invariant_load_of_an_untouched_tile_moves():
    module = _parsed()
    [f] = [op for op in module.walk() if isinstance(op, loop.ForOp)]
    assert [c.dst.name_hint for c in hoistable(f)] == ["wt"]


def test_the_hoisted_nest_computes_the_same():
    """out = (early: the nest's leftover on iteration 0, 2 after) + x + 2 + w-slice +
    relu(2), per iteration; the leftover is zeros in the interpreter, so iteration 0
    differs from the others, and it must stay so after the pass."""
    x = np.random.default_rng(0).standard_normal((4, 16, 8)).astype(np.float32)
    module = _parsed()
    before = eval_loop(module, {"input": x})["out"]
    LoopHoistLoadsPass().apply(Context(), module)
    module.verify()
    after = eval_loop(module, {"input": x})["out"]
    np.testing.assert_array_equal(after, before)
    moving = np.zeros((16, 8), np.float32)
    moving[:, :4] = 2.0
    for i in range(4):
        early = 0.0 if i == 0 else 4.0  # %early + %early: the load comes after the read
        np.testing.assert_allclose(after[i], early + x[i] + 2.0 + moving + 2.0, rtol=1e-6)

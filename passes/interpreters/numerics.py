"""Numerical checking between passes: run the IR at any level on the same inputs.

Four executors, each independent of the passes it checks (one module each):

- graph level: a NumPy reference for every graph op (`eval_graph`);
- loop level: an interpreter of loop nests over DRAM buffers and symbolic tiles
  (`eval_loop`);
- accel level in unified order: a sequential interpreter of the instructions in
  program order, waits ignored (`eval_accel`);
- accel level split into streams: the binary encoder and the hardware model, with
  engines running concurrently (`eval_binary`).

`NumericsChecker` runs the right one after each pass and reports the first pass whose
outputs disagree with the graph-level reference (or with the module as given). It is
a callback of the pass driver (`tidal.passes.pipeline.run_passes`):

    checker = NumericsChecker(random_inputs(module))
    compile_module(module, "small", callbacks=[checker])  # NumericsMismatch names the pass
    checker.log  # ["numerics: graph level evaluated (reference)", ...]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from tidal.dialects import accel, graph, loop
from tidal.passes.interpreters.accel import eval_accel, eval_binary
from tidal.passes.interpreters.common import Arrays, CannotEvaluate
from tidal.passes.interpreters.graph import eval_graph, signature
from tidal.passes.interpreters.loop import eval_loop, view
from tidal.passes.pipeline import PassCallback
from tidal.sim.inputs import check_inputs
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation
from xdsl.passes import ModulePass

__all__ = [
    "Arrays", "CannotEvaluate", "NumericsChecker", "NumericsMismatch", "eval_accel",
    "eval_binary", "eval_graph", "eval_loop", "evaluate", "level", "random_inputs",
    "signature", "view",
]

# ---------------------------------------------------------------------------
# the checker
# ---------------------------------------------------------------------------


def level(module: ModuleOp) -> str:
    ops = {op.name.split(".")[0] for op in module.walk()}
    if "accel" in ops:
        split = any(isinstance(op, accel.StreamOp) for op in module.walk())
        return "binary" if split else "accel"
    if "loop" in ops:
        return "loop"
    return "graph"


def evaluate(module: ModuleOp, inputs: Mapping[str, np.ndarray]) -> Arrays:
    """The module's outputs on `inputs`, by the interpreter of its level; NaN and
    infinities come out silently (as on the hardware: a model whose weights make
    them, a negative BatchNorm variance, agrees with itself)."""
    with np.errstate(all="ignore"):
        match level(module):
            case "graph":
                return eval_graph(module, inputs)
            case "loop":
                return eval_loop(module, inputs)
            case "accel":
                return eval_accel(module, inputs)
            case _:
                return eval_binary(module, inputs)


def random_inputs(module: ModuleOp, seed: int = 0) -> Arrays:
    """Seeded inputs of the module's shapes and dtypes: normal floats; integers 0 and
    1 (valid indices and counts of any non-empty dim); bools at random."""
    shapes, _ = signature(module)
    dtypes = _input_dtypes(module)
    rng = np.random.default_rng(seed)
    out: Arrays = {}
    for n, s in shapes.items():
        if s is None:
            raise CannotEvaluate(
                f"input '{n}' is a sequence, an optional or a map: the numerics "
                "checker feeds tensors only"
            )
        dtype = np.dtype(dtypes.get(n, "float32"))
        if dtype.kind == "f":
            out[n] = rng.standard_normal(s).astype(dtype)
        elif dtype.kind == "b":
            out[n] = rng.random(s) < 0.5
        else:
            out[n] = rng.integers(0, 2, s).astype(dtype)
    return out


def _input_dtypes(module: ModuleOp) -> dict[str, str]:
    """Input dtypes of a graph-level module (float32 for the levels below)."""
    from tidal.passes.interpreters.graph import input_dtypes

    try:
        return input_dtypes(module)
    except (KeyError, AttributeError):
        return {}


def _draws_random(op: Operation) -> bool:
    """A training-mode dropout or a random fill, at any level."""
    if isinstance(op, graph.DropoutOp):
        return op.training_val
    return isinstance(
        op,
        graph.RandomUniformLikeOp | graph.BernoulliOp | loop.RandomOp | loop.DropoutOp
        | loop.BernoulliOp | accel.RandomOp | accel.DropoutOp | accel.BernoulliOp,
    )


class NumericsMismatch(Exception):
    """A pass changed what the program computes; the message names the pass."""


@dataclass
class NumericsChecker(PassCallback):
    """Evaluate the module after every pass and compare with the first evaluation.

    `tolerance`: max|err| <= tolerance * max|reference| per output."""

    inputs: Mapping[str, np.ndarray]
    tolerance: float = 1e-3
    reference: Arrays | None = None
    log: list[str] = field(default_factory=list)

    def start(self, module: ModuleOp) -> None:
        """Evaluate the reference. Raises InputError (one line naming the input, what
        the module takes and what was given) if the inputs do not fit the module."""
        if level(module) in ("graph", "loop"):
            check_inputs(signature(module)[0], self.inputs, dtypes=_input_dtypes(module))
        if random := next((op for op in module.walk() if _draws_random(op)), None):
            raise CannotEvaluate(
                f"'{random.name}' draws pseudo-random numbers, which differ between "
                "the host reference and the chip's generators: the numerics checker "
                "cannot compare a program that has one"
            )
        self.reference = evaluate(module, self.inputs)
        self.log.append(f"numerics: {level(module)} level evaluated (reference)")

    def begin(self, passes: Sequence[ModulePass], module: ModuleOp) -> None:
        """As a driver callback: `start` on the module as given, unless done."""
        if self.reference is None:
            self.start(module)

    def after(self, pass_: ModulePass | str, module: ModuleOp) -> None:
        """Evaluate `module` as `pass_` (a pass, or a name for a step that is not
        one) left it; NumericsMismatch if an output is missing or differs."""
        assert self.reference is not None, "NumericsChecker.start was not called"
        pass_name = pass_ if isinstance(pass_, str) else pass_.name
        got = evaluate(module, self.inputs)
        for name, ref in self.reference.items():
            if name not in got:
                raise NumericsMismatch(f"numerics: after '{pass_name}', output '{name}' is missing")
            r, g = np.asarray(ref, np.float64), np.asarray(got[name], np.float64)
            finite = np.isfinite(r)
            # NaN and infinities where the reference has them (a model whose own
            # weights make them) agree; anywhere else they differ.
            specials_agree = (
                r.shape == g.shape
                and bool(np.array_equal(np.isnan(r), np.isnan(g)))
                and bool(np.array_equal(r[np.isinf(r)], g[np.isinf(r)]))
            )
            with np.errstate(invalid="ignore", over="ignore"):
                err = float(np.abs(g[finite] - r[finite]).max()) if specials_agree and finite.any() else 0.0
                bound = self.tolerance * (float(np.abs(r[finite]).max()) if finite.any() else 0.0) + 1e-6
            if not specials_agree:
                why = "has NaN or infinity where the reference has none (or none where it has)"
            elif not err <= bound:  # also catches NaN
                why = f"max|err| {err:.3g} > {bound:.3g}"
            else:
                continue
            raise NumericsMismatch(
                f"numerics: '{pass_name}' changed the result: output '{name}' {why} "
                f"({level(module)} level vs reference)"
            )
        self.log.append(f"numerics: after '{pass_name}' ({level(module)} level): agrees")

"""The ACT engine's lookup tables against float64 NumPy: the worst error of each
table function over its input range, at several resolutions (`act_lut_intervals`).

    python bench/lut_accuracy.py [--intervals 64,128,256,512]

Prints a markdown table (docs/lut.md shows it): for each function the sampled input
range, the kind of error (`sim/spec/lut.py` ACCURACY: absolute for the bounded functions,
relative for exp, reciprocal, rsqrt and sqrt, |err| / max(1, |f(x)|) for gelu,
gelu_erf, softplus, silu and log), and the worst error at each resolution. The inputs
are 2^20 evenly spaced float32 points over the range plus the float32 neighbours of
every interval boundary (where a row hands over to the next); for exp, reciprocal,
rsqrt and sqrt the spacing is logarithmic over the magnitudes shown.
"""

from __future__ import annotations

import argparse

import numpy as np

from tidal.sim.spec import ActFunc
from tidal.sim.spec.lut import ACCURACY, LUT_SPECS, build_table, evaluate, exact, worst_error

# The inputs each function is measured on: (description, sampler).
_N = 1 << 20


def _linear(lo: float, hi: float) -> np.ndarray:
    return np.linspace(lo, hi, _N, dtype=np.float64).astype(np.float32)


def _magnitudes(lo: float, hi: float, signed: bool) -> np.ndarray:
    x = np.geomspace(lo, hi, _N, dtype=np.float64).astype(np.float32)
    return np.concatenate([x, -x]) if signed else x


SAMPLES: dict[ActFunc, tuple[str, np.ndarray]] = {
    ActFunc.EXP: ("[-87, 88]", _linear(-87.0, 88.0)),
    ActFunc.SIGMOID: ("[-30, 30]", _linear(-30.0, 30.0)),
    ActFunc.TANH: ("[-15, 15]", _linear(-15.0, 15.0)),
    ActFunc.GELU: ("[-10, 10]", _linear(-10.0, 10.0)),
    ActFunc.ERF: ("[-6, 6]", _linear(-6.0, 6.0)),
    ActFunc.SOFTPLUS: ("[-30, 30]", _linear(-30.0, 30.0)),
    ActFunc.SILU: ("[-30, 30]", _linear(-30.0, 30.0)),
    ActFunc.GELU_ERF: ("[-10, 10]", _linear(-10.0, 10.0)),
    ActFunc.LOG: ("[1e-30, 1e30]", _magnitudes(1e-30, 1e30, False)),
    ActFunc.RECIPROCAL: ("±[1e-30, 1e30]", _magnitudes(1e-30, 1e30, True)),
    ActFunc.RSQRT: ("[1e-30, 1e30]", _magnitudes(1e-30, 1e30, False)),
    ActFunc.SQRT: ("[1e-30, 1e30]", _magnitudes(1e-30, 1e30, False)),
}


def table_error(func: ActFunc, intervals: int) -> float:
    """The worst error of `func`'s table at `intervals` rows over its samples, of the
    kind ACCURACY names."""
    x = SAMPLES[func][1]
    spec = LUT_SPECS[func]
    edges = (spec.lo + np.arange(intervals + 1) * (spec.hi - spec.lo) / intervals).astype(np.float32)
    if spec.reduction == "range":
        x = np.concatenate([x, edges, np.nextafter(edges, np.float32(-np.inf))])
    y = evaluate(build_table(func, intervals), x)
    return worst_error(func, y, exact(func, x.astype(np.float64)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intervals", default="64,128,256,512")
    args = parser.parse_args()
    sizes = [int(s) for s in args.intervals.split(",")]
    print("| function | reduction | inputs | error | " + " | ".join(f"{n} rows" for n in sizes) + " | bound (256) |")
    print("|---|---|---|---|" + "---|" * len(sizes) + "---|")
    for func, spec in LUT_SPECS.items():
        kind, bound = ACCURACY[func]
        errs = " | ".join(f"{table_error(func, n):.2e}" for n in sizes)
        print(f"| {func} | {spec.reduction} | {SAMPLES[func][0]} | {kind} | {errs} | {bound:.0e} |")


if __name__ == "__main__":
    main()

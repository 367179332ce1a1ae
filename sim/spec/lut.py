"""The activation engine's lookup tables: how ACT evaluates exp, sigmoid, tanh, gelu
(both forms), erf, softplus, silu, log, reciprocal, rsqrt and sqrt.

After the mapping-table seed (US patent "hardware computations of mathematical
functions", ../shared/seeds/001): a table maps each *base value* of a function's
input range to parameters of the function there; the engine selects, from the input,
the base value of its interval and computes the output from the distance to that base
value and the interval's parameters. Here each of `intervals` equal intervals of a
range `[lo, hi)` has one row `(base, c0, c1, c2, c3)`: `base` is the interval's
midpoint and `c0 + d (c1 + d (c2 + d c3))`, `d = u - base`, a cubic in the distance
fitted (least squares on Chebyshev points, in float64) to the function on the interval.
The row count is the chip's `act_lut_intervals` (its resolution); the compiler
generates the tables (`build_table`) and ships them in the binary's `LUT` section; the
loader checks them (`check_table`) and the engine evaluates with them
(`evaluate`), in float32.

What the engine tabulates is a function `g` of a reduced variable `u`; how `u` comes
from the input `x` and the output from `g(u)` is the function's *reduction*, a fixed
circuit of the datasheet (`LUT_SPECS`):

- `range`: `u = x` on `[lo, hi)`; outside, the function's asymptote (sigmoid 0 and 1,
  tanh and erf -1 and 1, gelu (both forms), softplus and silu 0 and x);
- `exp2`: `x log2(e) = k + u` with `u` in `[0, 1)`, `exp(x) = 2^k g(u)`, `g = 2^u`
  (the exponent field takes `k`: overflow is inf, underflow 0);
- `mantissa`: `|x| = u 2^e` with `u` in `[1, 2)`: `log x = g(u) + e ln 2`,
  `1 / x = sign(x) g(u) 2^-e`;
- `mantissa4`: `x = u 4^j` with `u` in `[1, 4)`: `rsqrt x = g(u) 2^-j`,
  `sqrt x = g(u) 2^j`.

Special inputs follow IEEE arithmetic as NumPy does: NaN in, NaN out; log of 0 is
-inf, of a negative NaN; 1/0 is inf with the sign of the zero; rsqrt(0) is inf;
sqrt and rsqrt of a negative are NaN. `ACCURACY` is each table's measured worst error
at the default resolution (absolute for the bounded functions, relative for the
others), `test/unit/sim/test_lut.py` holds the tables to it and `docs/lut.md` shows it::

    table = build_table(ActFunc.TANH, 256)
    evaluate(table, np.array([0.5], np.float32))  # ~ tanh(0.5), |err| < 1e-6
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache

import numpy as np
from tidal.sim.spec.enums import ActFunc

__all__ = [
    "ACCURACY",
    "LUT_COLUMNS",
    "LUT_SPECS",
    "LutSpec",
    "LutTable",
    "Reduction",
    "TableError",
    "build_table",
    "check_table",
    "evaluate",
    "exact",
    "tables_for",
    "worst_error",
]

LUT_COLUMNS = 5  # base, c0, c1, c2, c3
_DEGREE = LUT_COLUMNS - 2
_FIT_POINTS = 16  # Chebyshev points per interval the cubic is fitted on

_F32 = np.float32
_LN2 = math.log(2.0)
_LOG2E = 1.0 / _LN2
# ln 2 = _LN2_HI + _LN2_LO, the high part with 12 significant bits (k * _LN2_HI is
# exact in float32 for |k| < 2^12, the whole exponent range).
_LN2_HI = _F32(0.693145751953125)
_LN2_LO = _F32(_LN2 - 0.693145751953125)


class Reduction(enum.StrEnum):
    """How the engine reduces an input to the table's variable (module docstring)."""

    RANGE = "range"
    EXP2 = "exp2"
    MANTISSA = "mantissa"
    MANTISSA4 = "mantissa4"


Fn = Callable[[np.ndarray], np.ndarray]


def _erf(x: np.ndarray) -> np.ndarray:
    return np.frompyfunc(math.erf, 1, 1)(np.asarray(x, np.float64)).astype(np.float64)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def _gelu(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def _softplus(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return np.logaddexp(0.0, x)


def _gelu_erf(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def _silu(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    with np.errstate(over="ignore"):
        return x / (1.0 + np.exp(-x))


def _zero(x: np.ndarray) -> np.ndarray:
    return np.zeros_like(x)


def _one(x: np.ndarray) -> np.ndarray:
    return np.ones_like(x)


def _minus_one(x: np.ndarray) -> np.ndarray:
    return -np.ones_like(x)


def _same(x: np.ndarray) -> np.ndarray:
    return x


@dataclass(frozen=True)
class LutSpec:
    """The datasheet's part of one table function: its reduction, the range `[lo, hi)`
    of the tabulated variable, the tabulated `g` (float64), for `range` functions the
    value below and above the range, and the function itself in float64 (`exact`,
    the reference the table is measured against)."""

    func: ActFunc
    reduction: Reduction
    lo: float
    hi: float
    g: Fn
    exact: Fn
    below: Fn | None = None
    above: Fn | None = None


def _spec(func: ActFunc, lo: float, hi: float, f: Fn, below: Fn, above: Fn) -> LutSpec:
    return LutSpec(func, Reduction.RANGE, lo, hi, f, f, below, above)


def _exact_log(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(np.asarray(x, np.float64))


def _exact_reciprocal(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return 1.0 / np.asarray(x, np.float64)


def _exact_rsqrt(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1.0 / np.sqrt(np.asarray(x, np.float64))


def _exact_sqrt(x: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.sqrt(np.asarray(x, np.float64))


def _exact_exp(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return np.exp(np.asarray(x, np.float64))


# The ranges: past them the asymptote is within 1e-8 of the function (sigmoid(-18)
# = 1.5e-8, 1 - tanh(9.5) = 1.1e-8, 1 - erf(4) = 1.5e-8, softplus(-18) = 1.5e-8,
# |gelu(-6)| = 1.3e-7 with the tanh form's tail, 5.9e-9 with the erf form's (and
# 6 - gelu(6) as much), |silu(-20)| = 4.1e-8 and
# 16 - silu(16) = 1.8e-6, 1.1e-7 of 16).
LUT_SPECS: dict[ActFunc, LutSpec] = {
    s.func: s
    for s in (
        LutSpec(ActFunc.EXP, Reduction.EXP2, 0.0, 1.0, lambda u: np.exp2(u), _exact_exp),
        _spec(ActFunc.SIGMOID, -18.0, 18.0, _sigmoid, _zero, _one),
        _spec(ActFunc.TANH, -9.5, 9.5, lambda x: np.tanh(x), _minus_one, _one),
        _spec(ActFunc.GELU, -6.0, 6.0, _gelu, _zero, _same),
        _spec(ActFunc.ERF, -4.0, 4.0, _erf, _minus_one, _one),
        _spec(ActFunc.SOFTPLUS, -18.0, 18.0, _softplus, _zero, _same),
        _spec(ActFunc.SILU, -20.0, 16.0, _silu, _zero, _same),
        _spec(ActFunc.GELU_ERF, -6.0, 6.0, _gelu_erf, _zero, _same),
        LutSpec(ActFunc.LOG, Reduction.MANTISSA, 1.0, 2.0, lambda u: np.log(u), _exact_log),
        LutSpec(
            ActFunc.RECIPROCAL, Reduction.MANTISSA, 1.0, 2.0, lambda u: 1.0 / u,
            _exact_reciprocal,
        ),
        LutSpec(
            ActFunc.RSQRT, Reduction.MANTISSA4, 1.0, 4.0, lambda u: 1.0 / np.sqrt(u),
            _exact_rsqrt,
        ),
        LutSpec(ActFunc.SQRT, Reduction.MANTISSA4, 1.0, 4.0, np.sqrt, _exact_sqrt),
    )
}

# Worst error of each table at the default resolution (256 intervals) over the inputs
# `bench/lut_accuracy.py` samples, with headroom: "abs" absolute (the bounded
# functions), "rel" relative, "mixed" |err| / max(1, |f(x)|) (absolute near zero,
# relative where the output is large: float32 cannot do better there). docs/lut.md
# has the measured table at every resolution.
ACCURACY: dict[ActFunc, tuple[str, float]] = {
    ActFunc.EXP: ("rel", 4e-7),
    ActFunc.SIGMOID: ("abs", 2e-7),
    ActFunc.TANH: ("abs", 2e-7),
    ActFunc.GELU: ("mixed", 2e-7),
    ActFunc.ERF: ("abs", 2e-7),
    ActFunc.SOFTPLUS: ("mixed", 2e-7),
    ActFunc.SILU: ("mixed", 2e-7),
    ActFunc.GELU_ERF: ("mixed", 2e-7),
    ActFunc.LOG: ("mixed", 2e-7),
    ActFunc.RECIPROCAL: ("rel", 3e-7),
    ActFunc.RSQRT: ("rel", 3e-7),
    ActFunc.SQRT: ("rel", 3e-7),
}


def worst_error(func: ActFunc, got: np.ndarray, ref: np.ndarray) -> float:
    """The worst error of `got` against the float64 `ref`, of the kind ACCURACY
    names for `func` (absolute, relative, or |err| / max(1, |ref|))."""
    err = np.abs(np.asarray(got, np.float64) - ref)
    kind = ACCURACY[func][0]
    if kind == "rel":
        err = err / np.abs(ref)
    elif kind == "mixed":
        err = err / np.maximum(1.0, np.abs(ref))
    return float(err.max())


def exact(func: ActFunc, x: np.ndarray) -> np.ndarray:
    """The function itself, in float64 (what a table approximates)."""
    return LUT_SPECS[func].exact(x)


class TableError(ValueError):
    """A LUT section table that does not fit the datasheet or the chip."""


@dataclass(frozen=True)
class LutTable:
    """One function's table: `rows` is (intervals, LUT_COLUMNS) float32, row i the
    base value (midpoint) of interval i of `[lo, hi)` and its cubic's coefficients."""

    func: ActFunc
    lo: float
    hi: float
    rows: np.ndarray

    @property
    def intervals(self) -> int:
        return int(self.rows.shape[0])


def _bases(spec: LutSpec, intervals: int) -> np.ndarray:
    """The base values (interval midpoints) as float32: what the selection circuit's
    rows must hold."""
    h = (spec.hi - spec.lo) / intervals
    return (spec.lo + (np.arange(intervals, dtype=np.float64) + 0.5) * h).astype(_F32)


@cache
def build_table(func: ActFunc, intervals: int) -> LutTable:
    """The table the compiler ships for `func` at `intervals` rows: per interval, the
    cubic in the distance to its float32 base value fitted to the function in float64
    on Chebyshev points, rounded to float32."""
    spec = LUT_SPECS[func]
    if intervals < 1:
        raise TableError(f"a table needs at least one interval, not {intervals}")
    h = (spec.hi - spec.lo) / intervals
    bases = _bases(spec, intervals)
    # Chebyshev points of the first kind on [-h/2, h/2].
    k = np.arange(_FIT_POINTS, dtype=np.float64)
    nodes = np.cos((2 * k + 1) * math.pi / (2 * _FIT_POINTS)) * (h / 2)
    rows = np.empty((intervals, LUT_COLUMNS), np.float64)
    rows[:, 0] = bases
    for i, base in enumerate(bases.astype(np.float64)):
        mid = spec.lo + (i + 0.5) * h
        u = mid + nodes
        d = u - base
        coeffs = np.polyfit(d, spec.g(u), _DEGREE)  # highest power first
        rows[i, 1:] = coeffs[::-1]
    out = rows.astype(_F32)
    out.setflags(write=False)
    return LutTable(func, spec.lo, spec.hi, out)


def tables_for(intervals: int) -> Mapping[ActFunc, LutTable]:
    """Every table function's table at `intervals` rows (what an interpreter uses to
    compute as the chip does)."""
    return {f: build_table(f, intervals) for f in LUT_SPECS}


def check_table(func: ActFunc, lo: float, hi: float, rows: np.ndarray, intervals: int) -> None:
    """What the loader checks of a LUT section table: the function has a table in the
    datasheet, the range is the datasheet's, there are the chip's `intervals` rows of
    LUT_COLUMNS, the base values are the intervals' midpoints (the selection circuit
    picks a row by position) and every coefficient is finite. Raises TableError."""
    spec = LUT_SPECS.get(func)
    if spec is None:
        raise TableError(f"'{func}' is not a table function of the ACT engine")
    if (_F32(lo), _F32(hi)) != (_F32(spec.lo), _F32(spec.hi)):
        raise TableError(
            f"'{func}' table covers [{lo}, {hi}), the datasheet's range is "
            f"[{spec.lo}, {spec.hi})"
        )
    if rows.shape != (intervals, LUT_COLUMNS):
        raise TableError(
            f"'{func}' table has {rows.shape[0]} rows of {rows.shape[1] if rows.ndim > 1 else 0} "
            f"values, the chip's resolution is {intervals} rows of {LUT_COLUMNS}"
        )
    if not np.array_equal(rows[:, 0], _bases(spec, intervals)):
        raise TableError(f"'{func}' table's base values are not its intervals' midpoints")
    if not np.isfinite(rows).all():
        raise TableError(f"'{func}' table has a non-finite coefficient")


def _cubic(table: LutTable, u: np.ndarray) -> np.ndarray:
    """Select each u's row and evaluate its cubic, in float32."""
    n = table.intervals
    scale = _F32(n / (table.hi - table.lo))
    with np.errstate(invalid="ignore"):
        pos = np.floor((u - _F32(table.lo)) * scale)
    idx = np.clip(np.nan_to_num(pos, nan=0.0), 0, n - 1).astype(np.intp)
    r = table.rows[idx]
    d = u - r[..., 0]
    return r[..., 1] + d * (r[..., 2] + d * (r[..., 3] + d * r[..., 4]))


def evaluate(table: LutTable, x: np.ndarray) -> np.ndarray:
    """ACT's output for inputs `x` with `table`, in float32, of x's shape."""
    spec = LUT_SPECS[table.func]
    x = np.asarray(x, _F32)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        if spec.reduction is Reduction.RANGE:
            assert spec.below is not None and spec.above is not None
            g = _cubic(table, x)
            y = np.where(x < _F32(table.lo), spec.below(x), np.where(x >= _F32(table.hi), spec.above(x), g))
            return np.where(np.isnan(x), x, y).astype(_F32)
        if spec.reduction is Reduction.EXP2:
            # Cody and Waite's reduction: k = floor(x log2 e), then r = x - k ln 2 with
            # ln 2 split in a high part of few bits (k * _LN2_HI is exact) and the
            # rest, so r keeps its bits however large k is; u = r log2 e in [0, 1).
            t = x * _F32(_LOG2E)
            k = np.floor(t)
            r = (x - k * _LN2_HI) - k * _LN2_LO
            u = r * _F32(_LOG2E)  # NaN for +-inf and NaN
            g = _cubic(table, np.where(np.isfinite(u), u, _F32(0)))
            # 2^k for |k| past the float32 exponent range is inf or 0 anyway.
            kk = np.clip(np.nan_to_num(k, nan=0.0), -300, 300).astype(np.int32)
            y = np.ldexp(g, kk).astype(_F32)
            # Past the exponent range (|t| >= 2^24 even loses r's bits): 0 or inf.
            y = np.where(t >= _F32(256), _F32(np.inf), y)
            y = np.where(t <= _F32(-256), _F32(0), y)
            return np.where(np.isnan(x), x, y).astype(_F32)
        mag = np.abs(x)
        m, e = np.frexp(mag)  # mag = m 2^e, m in [0.5, 1) (0 for 0 and inf? see below)
        u = m * _F32(2)
        e = e - 1
        if spec.reduction is Reduction.MANTISSA4:
            odd = (e & 1).astype(bool)
            u = np.where(odd, u * _F32(2), u)
            e = np.where(odd, e - 1, e)
        ok = np.isfinite(mag) & (mag > 0)
        g = _cubic(table, np.where(ok, u, _F32(table.lo)))
        func = table.func
        if func is ActFunc.LOG:
            y = g + e.astype(_F32) * _F32(_LN2)
            y = np.where(mag == 0, _F32(-np.inf), y)
            y = np.where(x == np.inf, _F32(np.inf), y)
            y = np.where(x < 0, _F32(np.nan), y)
        elif func is ActFunc.RECIPROCAL:
            y = np.copysign(np.ldexp(g, -e), x)
            y = np.where(mag == 0, np.copysign(_F32(np.inf), x), y)
            y = np.where(np.isinf(x), np.copysign(_F32(0), x), y)
        else:
            half = e // 2
            y = np.ldexp(g, -half if func is ActFunc.RSQRT else half)
            if func is ActFunc.RSQRT:
                y = np.where(mag == 0, _F32(np.inf), y)
                y = np.where(x == np.inf, _F32(0), y)
            else:
                y = np.where(mag == 0, x, y)  # sqrt(-0) = -0
                y = np.where(x == np.inf, _F32(np.inf), y)
            y = np.where(x < 0, _F32(np.nan), y)
        return np.where(np.isnan(x), x, y).astype(_F32)

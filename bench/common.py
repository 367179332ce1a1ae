"""What the benchmarks share: the example models, best-of-N timing, the error
against the peer and the Markdown table they print.

A benchmark runs as a script, so bench/ is on `sys.path` and it imports this module
by name:

    from common import best, example, figures, max_rel_err, print_table

    models = example("models")  # examples/models.py (examples/ is not a package)
    seconds, median, result = best(lambda: run_program(...), repeat=3)
"""

from __future__ import annotations

import importlib
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def example(name: str) -> ModuleType:
    """examples/<name>.py as a module (`models`, `zoo`)."""
    if str(ROOT / "examples") not in sys.path:
        sys.path.insert(0, str(ROOT / "examples"))
    return importlib.import_module(name)


def best(fn: Callable[[], T], repeat: int) -> tuple[float, float, T]:
    """(best, median) wall seconds of `repeat` calls, and the last result."""
    times: list[float] = []
    result: Any = None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times), result


def max_rel_err(
    outputs: Mapping[str, np.ndarray], ref: Iterable[tuple[str, np.ndarray]]
) -> float:
    """The worst max|out - ref| / max|ref| over the (name, reference) pairs."""
    return max(
        float(np.abs(outputs[name] - r).max() / np.abs(r).max()) for name, r in ref
    )


def figures(
    stats: Mapping[str, Any], compile_s: float, sim_s: float, ort_s: float, err: float
) -> dict[str, str]:
    """The columns every benchmark reports for a model: compile and simulate wall
    time, simulated cycles, how many times the model's ideal roofline they are
    (`ideal_ratio`; "-" for a binary without the model's work in its META) and PE
    utilisation (from `run_program`'s `stats`), onnxruntime's wall time on the same
    inputs (the peer) and the worst relative error against it."""
    return {
        "compile s": f"{compile_s:.2f}",
        "cycles": f"{stats['cycles']:,}",
        "× ideal": ratio(stats["ideal_ratio"]) if "ideal_ratio" in stats else "-",
        "PE MAC util": f"{100 * stats['pe_mac_utilization']:.2f}%",
        "sim ms": f"{1e3 * sim_s:,.1f}",
        "onnxruntime ms": f"{1e3 * ort_s:.3f}",
        "sim / ort": f"{sim_s / ort_s:,.1f}x",
        "max rel err": f"{err:.1e}",
    }


def ratio(x: float) -> str:
    """A ratio as the tables show it: "18.9×" (two decimals below 10: "1.07×")."""
    return f"{x:,.1f}×" if x >= 10 else f"{x:.2f}×"


def print_table(rows: list[dict[str, Any]]) -> None:
    """The rows (one dict per model, the same keys) as a Markdown table."""
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(str(row[k]) for k in keys) + " |")

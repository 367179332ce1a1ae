"""ONNX conformance: onnx's own backend test cases run through Tidal's ONNX backend
(`tidal.targets.backend`), as onnx's test runner drives onnxruntime, with a
per-operator table like onnx-mlir's and onnxruntime's op support tables.

    python bench/conformance.py                       # all four suites -> docs/conformance.md
    python bench/conformance.py --suites pytorch-converted,pytorch-operator --no-write
    python bench/conformance.py --suites node --only relu,conv --jobs 2

Suites: `node` (one operator per case, generated in memory by onnx), the
`pytorch-converted` and `pytorch-operator` models and the `simple` models that the
onnx package ships. A case passes when every output of every data set agrees with
onnx's expected values within the case's tolerances (rtol, atol); it is *fully on the
accelerator* when, besides, no op ran on the host or framework tier. A case that
takes more than --timeout seconds fails as a timeout. Each case runs in a worker
process (--jobs), so one that exhausts memory or crashes fails alone.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUITES = ("node", "pytorch-converted", "pytorch-operator", "simple")


@dataclass
class Result:
    suite: str
    name: str
    ops: tuple[str, ...]
    status: str  # pass | fail | error | timeout
    accel_only: bool
    tiers: dict[str, int]
    detail: str
    seconds: float


def _cases(suite: str):
    from onnx.backend.test.loader import load_model_tests

    return load_model_tests(kind=suite)


def _data_sets(case) -> list[tuple[list, list]]:
    """(inputs, expected outputs) of each data set, in graph order."""
    import glob

    import onnx
    from onnx import numpy_helper

    if case.data_sets is not None:
        # onnx keeps a value NumPy has no dtype for (float8, int4, bfloat16) as a
        # TensorProto; its own runner converts each, as here.
        def array(value):
            return numpy_helper.to_array(value) if isinstance(value, onnx.TensorProto) else value

        return [([array(v) for v in i], [array(v) for v in o]) for i, o in case.data_sets]
    sets = []
    for d in sorted(glob.glob(os.path.join(case.model_dir, "test_data_set_*"))):
        def read(kind: str) -> list:
            files = sorted(glob.glob(os.path.join(d, f"{kind}_*.pb")),
                           key=lambda f: int(re.findall(r"(\d+)\.pb$", f)[0]))
            return [numpy_helper.to_array(onnx.load_tensor(f)) for f in files]
        sets.append((read("input"), read("output")))
    return sets


def _model(case):
    import onnx

    if case.model is not None:
        return case.model
    return onnx.load(os.path.join(case.model_dir, "model.onnx"))


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout()


def _compare(got: object, ref: object, rtol: float, atol: float, where: str) -> None:
    """AssertionError unless `got` matches `ref`: arrays within the tolerances,
    string arrays equal, sequences (lists) element by element, maps (dicts) key by
    key, an empty optional (None) by None, as onnx's own backend test runner
    compares them."""
    import numpy as np

    if isinstance(ref, list):
        if not isinstance(got, list) or len(got) != len(ref):
            raise AssertionError(f"{where}: {type(got).__name__}, expected a sequence of {len(ref)}")
        for k, (g, r) in enumerate(zip(got, ref, strict=True)):
            _compare(g, r, rtol, atol, f"{where}[{k}]")
        return
    if isinstance(ref, dict):
        if not isinstance(got, dict) or set(got) != set(ref):
            raise AssertionError(f"{where}: keys differ from the expected map's")
        for k in ref:
            _compare(got[k], ref[k], rtol, atol, f"{where}[{k!r}]")
        return
    if ref is None or got is None:
        if ref is not got:
            raise AssertionError(f"{where}: {got!r}, expected {ref!r}")
        return
    ref_a, got_a = np.asarray(ref), np.asarray(got)
    if got_a.shape != ref_a.shape:
        raise AssertionError(f"{where}: shape {got_a.shape}, expected {ref_a.shape}")
    if ref_a.dtype == object or ref_a.dtype.kind in "US":  # strings: equal
        def text(a: np.ndarray) -> list[object]:
            return [x.decode() if isinstance(x, bytes) else x for x in a.ravel().tolist()]

        if text(got_a) != text(ref_a):
            raise AssertionError(f"{where}: strings differ: {text(got_a)[:4]}, expected {text(ref_a)[:4]}")
        return
    np.testing.assert_allclose(got_a, ref_a, rtol=rtol, atol=atol)


def run_case(args: tuple[str, int, str, int]) -> Result:
    """Run case number `index` of `suite` (`name` for the record)."""
    suite, index, chip, timeout = args
    case = _cases(suite)[index]
    start = time.perf_counter()
    ops: tuple[str, ...] = ()
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(timeout)
    try:
        from tidal.targets.backend import TidalBackend, TidalBackendError

        model = _model(case)
        ops = tuple(dict.fromkeys(n.op_type for n in model.graph.node))
        rep = TidalBackend.prepare(model, chip=chip)
        tiers = {"accel": 0, "host": 0, "framework": 0}
        for inputs, expected in _data_sets(case):
            outputs = rep.run(inputs)
            placement = rep.stats.get("placement", {})
            for t in tiers:
                tiers[t] = max(tiers[t], int(placement.get(t, 0)))
            for i, (got, ref) in enumerate(zip(outputs, expected, strict=True)):
                _compare(got, ref, case.rtol, case.atol, f"output {i}")
        accel_only = tiers["host"] == 0 and tiers["framework"] == 0
        return Result(suite, case.name, ops, "pass", accel_only, tiers, "", time.perf_counter() - start)
    except _Timeout:
        return Result(suite, case.name, ops, "timeout", False, {}, f"over {timeout} s", time.perf_counter() - start)
    except AssertionError as e:
        line = next((s.strip() for s in str(e).splitlines() if s.strip()), "mismatch")
        return Result(suite, case.name, ops, "fail", False, {}, line[:160], time.perf_counter() - start)
    except (TidalBackendError, Exception) as e:  # noqa: BLE001 - recorded, not raised
        line = next((s.strip() for s in str(e).splitlines() if s.strip()), type(e).__name__)
        return Result(suite, case.name, ops, "error", False, {}, f"{type(e).__name__}: {line[:160]}",
                      time.perf_counter() - start)
    finally:
        signal.alarm(0)


def _op_of(result: Result, twins: dict[str, str]) -> str:
    """The operator a node case tests: its graph's op if it has one node, else that
    of its non-expanded twin (test_x_expanded tests x's function body)."""
    base = re.sub(r"_expanded(_ver\d+)?$", "", result.name)
    if base != result.name and base in twins:
        return twins[base]
    return result.ops[0] if len(result.ops) == 1 else (twins.get(base) or "+".join(result.ops[:2]))


def summarise(results: list[Result]) -> dict[str, tuple[int, int, int]]:
    """Per suite: (cases, passing, passing fully on the accelerator)."""
    out: dict[str, tuple[int, int, int]] = {}
    for suite in dict.fromkeys(r.suite for r in results):
        rs = [r for r in results if r.suite == suite]
        out[suite] = (len(rs), sum(r.status == "pass" for r in rs),
                      sum(r.status == "pass" and r.accel_only for r in rs))
    return out


def write_table(results: list[Result], path: Path, chip: str, seconds: float) -> None:
    import onnx
    import onnxruntime

    lines = [
        "# ONNX conformance",
        "",
        "onnx's backend test cases run through Tidal's ONNX backend (`tidal.targets.backend`,",
        "tidal-run on the hardware model) and compared with onnx's expected outputs within",
        "each case's tolerances. Written by `python bench/conformance.py` "
        f"(chip `{chip}`, onnx {onnx.__version__}, onnxruntime {onnxruntime.__version__}, "
        f"{seconds:.0f} s on this 2-core machine).",
        "",
        "**pass**: every output agrees. **on accel**: it passes with every op on the",
        "accelerator (no host or framework-tier op). The rest pass with some ops on the host",
        "tier (NumPy) or the framework tier (onnxruntime runs the extracted subgraph).",
        "",
        "| suite | cases | pass | on accel |",
        "|---|---:|---:|---:|",
    ]
    summary = summarise(results)
    for suite, (n, ok, acc) in summary.items():
        lines.append(f"| {suite} | {n} | {ok} ({100 * ok / n:.0f}%) | {acc} ({100 * acc / n:.0f}%) |")
    if "pytorch-converted" in summary and "pytorch-operator" in summary:
        n = sum(summary[s][0] for s in ("pytorch-converted", "pytorch-operator"))
        ok = sum(summary[s][1] for s in ("pytorch-converted", "pytorch-operator"))
        acc = sum(summary[s][2] for s in ("pytorch-converted", "pytorch-operator"))
        lines.append(f"| pytorch-converted + pytorch-operator | {n} | {ok} ({100 * ok / n:.0f}%) "
                     f"| {acc} ({100 * acc / n:.0f}%) |")
    node = [r for r in results if r.suite == "node"]
    if node:
        twins = {r.name: r.ops[0] for r in node if len(r.ops) == 1}
        per_op: dict[str, list[Result]] = defaultdict(list)
        for r in node:
            per_op[_op_of(r, twins)].append(r)
        lines += [
            "",
            "## The node suite, per operator",
            "",
            "Cases of each operator (its `_expanded` cases, which test the operator's",
            "function body, counted with it); a failure's reason is the first failing case's.",
            "",
            "| operator | cases | pass | on accel | first failure |",
            "|---|---:|---:|---:|---|",
        ]
        for op in sorted(per_op, key=str.lower):
            rs = per_op[op]
            ok = sum(r.status == "pass" for r in rs)
            acc = sum(r.status == "pass" and r.accel_only for r in rs)
            bad = next((r for r in rs if r.status != "pass"), None)
            why = "" if bad is None else f"`{bad.name}`: {bad.detail}".replace("|", "\\|")
            lines.append(f"| {op} | {len(rs)} | {ok} | {acc} | {why} |")
    others = [r for r in results if r.suite != "node" and r.status != "pass"]
    if others:
        lines += ["", "## Model cases that fail", "", "| suite | case | why |", "|---|---|---|"]
        for r in others:
            detail = r.detail.replace("|", "\\|")
            lines.append(f"| {r.suite} | `{r.name}` | {r.status}: {detail} |")
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suites", default=",".join(SUITES),
                        help=f"comma-separated suites ({', '.join(SUITES)})")
    parser.add_argument("--only", help="comma-separated substrings: run only cases whose name has one")
    parser.add_argument("--chip", default="default", help="chip preset")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--timeout", type=int, default=120, help="seconds per case")
    parser.add_argument("--output", default=str(ROOT / "docs" / "conformance.md"),
                        help="the table to write")
    parser.add_argument("--no-write", action="store_true", help="print the summary only")
    parser.add_argument("--min-pass", type=float, default=0.0,
                        help="exit 1 unless this fraction of the cases passes")
    parser.add_argument("--min-accel", type=float, default=0.0,
                        help="exit 1 unless this fraction passes fully on the accelerator")
    args = parser.parse_args(argv)
    suites = [s.strip() for s in args.suites.split(",") if s.strip()]
    for s in suites:
        if s not in SUITES:
            parser.error(f"unknown suite '{s}' (known: {', '.join(SUITES)})")
    only = [o.strip().lower() for o in (args.only or "").split(",") if o.strip()]
    jobs: list[tuple[str, int, str, int]] = []
    for suite in suites:
        for i, case in enumerate(_cases(suite)):
            if not only or any(o in case.name.lower() for o in only):
                jobs.append((suite, i, args.chip, args.timeout))
    start = time.perf_counter()
    results: list[Result] = []
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for n, r in enumerate(pool.map(run_case, jobs, chunksize=4), 1):
            results.append(r)
            if r.status != "pass":
                print(f"[{n}/{len(jobs)}] {r.suite} {r.name}: {r.status}: {r.detail}", file=sys.stderr)
    seconds = time.perf_counter() - start
    total = len(results)
    passed = sum(r.status == "pass" for r in results)
    accel = sum(r.status == "pass" and r.accel_only for r in results)
    for suite, (n, ok, acc) in summarise(results).items():
        print(f"{suite}: {ok}/{n} pass, {acc}/{n} fully on the accelerator")
    print(f"all: {passed}/{total} pass, {accel}/{total} fully on the accelerator ({seconds:.0f} s)")
    if not args.no_write:
        write_table(results, Path(args.output), args.chip, seconds)
        print(f"wrote {args.output}")
    if total and (passed / total < args.min_pass or accel / total < args.min_accel):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Differential testing: random ONNX graphs compiled and simulated by Tidal, compared
with onnxruntime.

    .venv/bin/python bench/difftest.py --graphs 2000 --seed 0 [--chip small] [--jobs 2]
        [--disable-opt NAME ...]

With `--disable-opt NAME` (repeatable, or `all`: the names of `tidal-compile
--disable-opt`), every graph is compiled with those optimisations off, so each one's
off path is checked against onnxruntime on random graphs too.

Graph i is drawn by `randgraph` from a NumPy generator seeded with (seed, i), so any
graph of a run can be regenerated alone (`--only i`). Each output must satisfy
max|tidal - ort| <= 1e-3 * max|ort| + 1e-6 (non-finite values where and only where
onnxruntime has the same ones; on a chip with coarser ACT tables than the default's,
1e-6 becomes four times their worst documented error: `abs_tol`). Outcomes:

- ok: every output agrees;
- mismatch: an output disagrees (wrong shape, non-finite or over the tolerance);
- rejected: a clean, known limitation (a ToolError saying the graph does not fit);
- refused: any other ToolError (a one-line error on a graph the generator considers
  supported: a bug or a missing feature, reported like a crash);
- crash: any other exception (a Python traceback a user would see);
- unsynced: accel-verify-sync's checker (`tidal.passes.accel.verify_sync`),
  run on every program before the hardware model runs it, finds a wait nothing
  satisfies, a deadlock or a race;
- invalid: onnxruntime refuses the graph (a generator bug, not Tidal's).

A failing graph is saved under out/difftest/ and reduced (`reduce_case`: outputs
dropped, intermediate tensors cut into graph inputs fed with onnxruntime's values
for them, shape-preserving nodes bypassed) to a minimal graph that fails the same
way, saved as `.min.onnx`, its inputs `.min.npz` and Python code `.min.py` for a
regression test; the run goes on. Prints counts of graphs, nodes (by op type), ops
Tidal placed on the host, and each outcome.
"""

from __future__ import annotations

import argparse
import collections
import functools
import multiprocessing
import re
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import helper

sys.path.insert(0, str(Path(__file__).resolve().parent))
import randgraph  # noqa: E402

REL_TOL = 1e-3
ABS_TOL = 1e-6
# ToolError messages of the compiler's fit checks (graph-to-loop, loop-allocate).
FIT = re.compile(r"needs \d+ bytes|exceeds? |does not fit")
FAILURES = ("mismatch", "refused", "crash", "unsynced", "invalid")


@dataclass
class Outcome:
    kind: str  # ok | mismatch | rejected | refused | crash | invalid
    detail: str = ""
    host_ops: int = 0  # ops Tidal placed on the host tier (NumPy), not the chip
    framework_ops: int = 0  # ops onnxruntime ran (the framework tier)

    def signature(self) -> str:
        """What a reduced graph must keep failing with."""
        if self.kind in ("mismatch", "ok"):
            return self.kind
        return f"{self.kind}: {re.sub(r'[0-9]+', 'N', self.detail.split(' (at ')[0])[:80]}"


def reference(model: onnx.ModelProto, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """onnxruntime's outputs (CPU, one thread, graph optimisations off)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 4  # its errors come back as exceptions
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(
        model.SerializeToString(), opts, providers=["CPUExecutionProvider"]
    )
    names = [o.name for o in model.graph.output]
    return dict(zip(names, session.run(names, inputs), strict=True))


@functools.cache
def abs_tol(chip: str) -> float:
    """ABS_TOL, or on a chip whose ACT tables are coarser than the default's 256 rows
    the worst documented error of any of its tables (`bench/lut_accuracy.py`'s
    `table_error`; the small chip's 64-row silu table is 1.6e-5 from silu(0) = 0),
    whichever is larger: an output near zero made by a table function differs from
    onnxruntime's by as much as the table does, times TABLE_ERROR_GAIN for the ops
    after it (seed 2040, graph 118: silu(0) divided by 0.5, 2.9e-5)."""
    from lut_accuracy import SAMPLES, table_error

    from tidal.sim.config import get_chip

    rows = get_chip(chip).act_lut_intervals
    if rows >= 256:
        return ABS_TOL
    return max(ABS_TOL, TABLE_ERROR_GAIN * max(table_error(func, rows) for func in SAMPLES))


TABLE_ERROR_GAIN = 4
"""How much the ops after a table function may scale its error in a random graph: a
Div's divisor is at least 0.5 there (`randgraph._div`), so each Div doubles it; 4
allows two, or a Mul by a weight up to 4 (near zero the relative term of the
tolerance gives no room)."""


def compare(got: dict[str, np.ndarray], ref: dict[str, np.ndarray], tol: float = ABS_TOL) -> str:
    """'' if every output agrees, else what is wrong with the first that does not."""
    if sorted(got) != sorted(ref):
        return f"outputs {sorted(got)} != reference {sorted(ref)}"
    for name, r in ref.items():
        g = np.asarray(got[name])
        if g.shape != r.shape:
            return f"{name}: shape {g.shape} != reference {r.shape}"
        finite = np.isfinite(r)
        if not np.array_equal(np.isfinite(g), finite) or not np.array_equal(
            g[~finite], r[~finite], equal_nan=True
        ):
            return f"{name}: non-finite values where the reference has none (or other ones)"
        diff = np.abs(g[finite].astype(np.float64) - r[finite].astype(np.float64))
        err = float(np.max(diff, initial=0))
        scale = float(np.max(np.abs(r[finite]), initial=0))
        if err > REL_TOL * scale + tol:
            return f"{name}: max|err| {err:.3g} > {REL_TOL} * max|ref| {scale:.3g} + {tol:.3g}"
    return ""


def run_case(case: randgraph.Case, chip: str, disabled: Sequence[str] = ()) -> Outcome:
    """Compile and simulate `case` on `chip` (the optimisations `disabled` off),
    compare with onnxruntime."""
    from tidal.passes.accel.verify_sync import SyncError, checked
    from tidal.tools import tidal_run
    from tidal.tools.files import ToolError
    from tidal.tools.tidal_run import run_model

    try:
        ref = reference(case.model, case.inputs)
    except Exception as e:  # noqa: BLE001 - the generator made a graph ort refuses
        return Outcome("invalid", f"onnxruntime: {e}".splitlines()[0])
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "model.onnx")
        onnx.save(case.model, path)
        run = tidal_run.run_program  # proved synchronised before each run
        tidal_run.run_program = checked(run)
        try:
            got, stats = run_model(path, dict(case.inputs), chip, disabled=disabled)
        except SyncError as e:
            return Outcome("unsynced", str(e).replace(path, "model.onnx"))
        except ToolError as e:
            message = str(e).replace(path, "model.onnx")
            return Outcome("rejected" if FIT.search(message) else "refused", message)
        except Exception as e:  # noqa: BLE001 - counting every escape is the point
            frames = traceback.extract_tb(e.__traceback__)
            where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
            return Outcome("crash", f"{type(e).__name__}: {e} (at {where})".splitlines()[0])
        finally:
            tidal_run.run_program = run
    host = int(stats.get("placement", {}).get("host", 0))
    framework = int(stats.get("placement", {}).get("framework", 0))
    problem = compare(got, ref, abs_tol(chip))
    return Outcome("mismatch" if problem else "ok", problem, host, framework)


# ----------------------------------------------------------------------- reduction


def _shapes(model: onnx.ModelProto) -> dict[str, tuple[int, ...]]:
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    g = inferred.graph
    return {
        v.name: tuple(d.dim_value for d in v.type.tensor_type.shape.dim)
        for v in [*g.input, *g.value_info, *g.output]
    }


def _rebuild(
    model: onnx.ModelProto, nodes: list[onnx.NodeProto], inputs: dict[str, tuple[int, ...]],
    outputs: list[str], shapes: dict[str, tuple[int, ...]],
) -> onnx.ModelProto:
    """The model with these nodes, inputs and outputs; dead nodes, initializers and
    inputs dropped."""
    live, kept = set(outputs), []
    for n in reversed(nodes):
        if any(o in live for o in n.output):
            kept.append(n)
            live.update(n.input)
    kept.reverse()
    inits = {
        t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer if t.name in live
    }
    ins = {k: v for k, v in inputs.items() if k in live and k not in inits}
    return randgraph.make_model(kept, ins, {o: shapes[o] for o in outputs}, inits)


def reduce_case(
    case: randgraph.Case, fails: Callable[[randgraph.Case], bool], budget: int = 200
) -> randgraph.Case:
    """A small case that still `fails`, by graph-level delta debugging: keep one output,
    cut intermediate tensors into graph inputs (fed with onnxruntime's values for
    them, so the data stay what they were), bypass nodes whose input has their output's
    shape. At most `budget` calls of `fails`."""
    calls = 0

    def attempt(candidate: randgraph.Case) -> bool:
        nonlocal calls
        if calls >= budget:
            return False
        calls += 1
        try:
            return fails(candidate)
        except Exception:  # noqa: BLE001 - a broken candidate is just not kept
            return False

    def make(model: onnx.ModelProto, values: dict[str, np.ndarray]) -> randgraph.Case:
        names = {v.name for v in model.graph.input}
        ops = [n.op_type for n in model.graph.node if n.op_type != "Constant"]
        return randgraph.Case(model, {k: v for k, v in values.items() if k in names}, ops)

    best = case
    shapes = _shapes(best.model)
    outputs = [o.name for o in best.model.graph.output]
    for out in outputs if len(outputs) > 1 else []:
        trial = make(_rebuild(best.model, list(best.model.graph.node), shapes_in(best, shapes),
                              [out], shapes), best.inputs)
        if attempt(trial):
            best = trial
            break
    progress = True
    while progress and calls < budget:
        progress = False
        nodes = list(best.model.graph.node)
        outs = [o.name for o in best.model.graph.output]
        inits = {t.name for t in best.model.graph.initializer}
        produced = [o for n in nodes for o in n.output if o not in inits]
        # Cut: make a produced tensor a graph input carrying its reference values.
        for name in reversed(produced):
            if name in outs or calls >= budget:
                continue
            try:
                values = _intermediate(best, name, shapes)
            except Exception:  # noqa: BLE001
                continue
            ins = {**shapes_in(best, shapes), name: shapes[name]}
            rewired = [n for n in nodes if name not in n.output]
            trial = make(_rebuild(best.model, rewired, ins, outs, shapes),
                         {**best.inputs, name: values})
            if len(trial.model.graph.node) < len(nodes) and attempt(trial):
                best, progress = trial, True
                break
        if progress:
            continue
        # Bypass: a node whose first input has its output's shape.
        for n in reversed(nodes):
            if calls >= budget or not n.input or not n.output:
                continue
            src, dst = n.input[0], n.output[0]
            if src not in shapes or shapes.get(src) != shapes.get(dst) or dst in outs:
                continue
            rewired = []
            for m in nodes:
                if m is n:
                    continue
                m2 = onnx.NodeProto()
                m2.CopyFrom(m)
                m2.input[:] = [src if i == dst else i for i in m.input]
                rewired.append(m2)
            trial = make(_rebuild(best.model, rewired, shapes_in(best, shapes), outs, shapes),
                         best.inputs)
            if attempt(trial):
                best, progress = trial, True
                break
    return best


def shapes_in(case: randgraph.Case, shapes: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
    inits = {t.name for t in case.model.graph.initializer}
    return {v.name: shapes[v.name] for v in case.model.graph.input if v.name not in inits}


def _intermediate(case: randgraph.Case, name: str, shapes: dict[str, tuple[int, ...]]) -> np.ndarray:
    """onnxruntime's value of tensor `name` on the case's inputs."""
    model = onnx.ModelProto()
    model.CopyFrom(case.model)
    del model.graph.output[:]
    model.graph.output.append(
        helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, list(shapes[name]))
    )
    return reference(model, case.inputs)[name]


# ------------------------------------------------------------------------- driver


@dataclass
class Result:
    index: int
    ops: list[str]
    outcome: Outcome


def _work(job: tuple[int, int, str, int, list[str] | None, tuple[str, ...]]) -> Result:
    seed, index, chip, max_nodes, ops, disabled = job
    try:
        case = randgraph.case_from_seed([seed, index], max_nodes, ops)
    except Exception as e:  # noqa: BLE001 - a generator bug: count it, go on
        return Result(index, [], Outcome("invalid", f"generator: {type(e).__name__}: {e}"))
    return Result(index, case.ops, run_case(case, chip, disabled))


def save(
    case: randgraph.Case, outcome: Outcome, stem: Path, chip: str, budget: int, disabled: Sequence[str] = ()
) -> None:
    """Save a failing case and its reduction (`stem`.onnx, .min.onnx/.npz/.py)."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(case.model, f"{stem}.onnx")
    want = outcome.signature()
    small = reduce_case(case, lambda c: run_case(c, chip, disabled).signature() == want, budget)
    again = run_case(small, chip, disabled)
    onnx.save(small.model, f"{stem}.min.onnx")
    np.savez(f"{stem}.min.npz", **small.inputs)
    Path(f"{stem}.min.py").write_text(
        f"# {again.kind} on chip '{chip}': {again.detail}\n# {small.describe()}\n"
        f"{randgraph.to_python(small.model)}\n"
    )
    print(f"  saved {stem}.onnx; reduced to {small.describe()} ({stem}.min.*): "
          f"{again.kind}: {again.detail}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--graphs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chip", default="small")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--max-nodes", type=int, default=randgraph.MAX_NODES)
    parser.add_argument("--ops", help="comma-separated op types to draw from (default: all)")
    parser.add_argument("--only", type=int, help="run graph INDEX alone (and reduce it if it fails)")
    parser.add_argument("--reduce-budget", type=int, default=200,
                        help="runs to spend reducing each failure (0: save it unreduced)")
    parser.add_argument("--out", default="out/difftest")
    parser.add_argument("--disable-opt", action="append", default=[], metavar="NAME",
                        help="compile with this optimisation off (repeatable; 'all': every one)")
    args = parser.parse_args(argv)
    from tidal.passes.pipeline import UnknownOptimization, check_optimizations

    try:
        check_optimizations(args.disable_opt)
    except UnknownOptimization as e:
        parser.error(str(e))
    disabled = tuple(args.disable_opt)
    ops = args.ops.split(",") if args.ops else None
    stem = lambda i: Path(args.out) / f"seed{args.seed}-graph{i}-{args.chip}"  # noqa: E731

    if args.only is not None:
        case = randgraph.case_from_seed([args.seed, args.only], args.max_nodes, ops)
        print(randgraph.to_python(case.model))
        outcome = run_case(case, args.chip, disabled)
        print(f"graph {args.only}: {case.describe()}: {outcome.kind} {outcome.detail}")
        if outcome.kind in FAILURES:
            save(case, outcome, stem(args.only), args.chip, args.reduce_budget, disabled)
        return int(outcome.kind in FAILURES)

    jobs = [(args.seed, i, args.chip, args.max_nodes, ops, disabled) for i in range(args.graphs)]
    start = time.perf_counter()
    kinds: collections.Counter[str] = collections.Counter()
    by_op: collections.Counter[str] = collections.Counter()
    reasons: collections.Counter[str] = collections.Counter()
    host_ops = graphs_with_host_ops = framework_ops = graphs_with_framework_ops = 0
    failures: list[Result] = []
    ctx = multiprocessing.get_context("forkserver")
    pool: Any = ctx.Pool(args.jobs) if args.jobs > 1 else None
    results = pool.imap_unordered(_work, jobs, chunksize=4) if pool else map(_work, jobs)
    for done, r in enumerate(results, 1):
        kinds[r.outcome.kind] += 1
        by_op.update(r.ops)
        host_ops += r.outcome.host_ops
        graphs_with_host_ops += r.outcome.host_ops > 0
        framework_ops += r.outcome.framework_ops
        graphs_with_framework_ops += r.outcome.framework_ops > 0
        if r.outcome.kind == "rejected":
            reasons[re.sub(r"\d+", "N", r.outcome.detail.split(": ", 1)[-1])[:90]] += 1
        if r.outcome.kind in FAILURES:
            failures.append(r)
            print(f"graph {r.index}: {r.outcome.kind}: {r.outcome.detail}", flush=True)
        if done % 250 == 0:
            print(f"[{done}/{args.graphs}] {time.perf_counter() - start:.0f} s "
                  + " ".join(f"{k}={v}" for k, v in sorted(kinds.items())), flush=True)
    if pool:
        pool.close()
        pool.join()
    wall = time.perf_counter() - start

    for r in sorted(failures, key=lambda r: r.index):
        if r.outcome.detail.startswith("generator: "):
            continue  # nothing to save: the generator itself failed
        case = randgraph.case_from_seed([args.seed, r.index], args.max_nodes, ops)
        save(case, r.outcome, stem(r.index), args.chip, args.reduce_budget, disabled)

    off = f", off: {', '.join(disabled)}" if disabled else ""
    print(f"\ndifftest: seed {args.seed}, chip {args.chip}, {args.jobs} worker(s){off}")
    print(f"graphs     {args.graphs}")
    print(f"ops        {sum(by_op.values())} nodes: "
          + ", ".join(f"{k} {v}" for k, v in by_op.most_common()))
    print(f"host tier  {host_ops} ops in {graphs_with_host_ops} graphs ran on the host (NumPy)")
    print(f"framework  {framework_ops} ops in {graphs_with_framework_ops} graphs ran in onnxruntime")
    for kind in ("ok", "mismatch", "crash", "unsynced", "refused", "rejected", "invalid"):
        print(f"{kind:<10} {kinds[kind]}")
    for reason, n in reasons.most_common():
        print(f"  rejected {n}x: {reason}")
    print(f"wall time  {wall:.1f} s ({args.graphs / wall:.1f} graphs/s)")
    return int(any(kinds[k] for k in FAILURES))


if __name__ == "__main__":
    sys.exit(main())

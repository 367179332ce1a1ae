"""Peak memory of tidal-compile against the model's weight bytes: one Markdown row
per model.

Each model (the onnx light zoo with seeded random weights, `examples/zoo.py`; VGG-19
by default, the largest) is compiled by `tidal-compile MODEL.onnx -o OUT.tbin` in a
child process. Its peak resident set size is the kernel's `ru_maxrss` for that child
(`os.wait4`; this process stays small so as not to count, see `_peak_of`): the whole
process, Python, NumPy, onnx, xDSL and the compiler included. The weight bytes are the data of the model's initializers. A first row
gives the same peak for a process that only imports the compiler (the fixed cost).

    .venv/bin/python bench/bench_memory.py [--chip default] [--dir DIR] [NAME ...]
    .venv/bin/python bench/bench_memory.py --all     # the nine zoo models

Exit status 1 if a named model's peak exceeds `--max-ratio` (default 2) times its
weights; `--all` is a survey (small models' peaks are their IR and the imports).
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MB = 1e6

_WEIGHT_BYTES = """
import math, sys
import onnx
from tidal.targets.onnx_weights import load_model
model = load_model(sys.argv[1], load_external_data=False)  # the weights stay on disk
print(sum(
    math.prod(t.dims) * onnx.helper.tensor_dtype_to_np_dtype(t.data_type).itemsize
    for t in model.graph.initializer
))
"""


def _run(command: list[str]) -> str:
    """The output of `command`; SystemExit with its error if it fails."""
    run = subprocess.run(command, capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {run.stderr.strip()}")
    return run.stdout


def weight_bytes(path: Path) -> int:
    """The bytes of the model's initializers, from their shapes and element types."""
    return int(_run([sys.executable, "-c", _WEIGHT_BYTES, str(path)]))


def _peak_of(command: list[str]) -> tuple[int, float]:
    """Run `command`; its peak RSS in bytes and its wall time.

    A child's ru_maxrss starts at its parent's RSS when it is spawned (Linux counts
    the address space it leaves at exec), so this process stays small: it loads no
    model and imports neither NumPy nor onnx, and checks that it is smaller than
    what it reports."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            message = err.read().decode(errors="replace").strip()
            raise SystemExit(f"{' '.join(command)} failed: {message}")
    peak = usage.ru_maxrss * 1024  # Linux reports kilobytes
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    if own >= peak:
        raise SystemExit(f"this process's peak ({own} bytes) hides the child's ({peak})")
    return peak, seconds


def zoo_models() -> list[str]:
    """examples/zoo.py's MODELS, asked of a child (this process stays small)."""
    code = "import sys; sys.path.insert(0, sys.argv[1]); import zoo; print(*zoo.MODELS)"
    return _run([sys.executable, "-c", code, str(ROOT / "examples")]).split()


def model_file(name: str, directory: Path) -> Path:
    """The zoo model `name` in `directory`, written there (in a child process) if
    it is not there yet."""
    path = directory / f"{name}.onnx"
    if not path.exists():
        _run([sys.executable, str(ROOT / "examples" / "zoo.py"), str(directory), name])
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Peak RSS of tidal-compile per model, against its weight bytes."
    )
    parser.add_argument(
        "names", nargs="*", metavar="NAME",
        help="zoo models (default: vgg19; see examples/zoo.py)",
    )
    parser.add_argument("--all", action="store_true", help="all nine zoo models")
    parser.add_argument("--chip", default="default", help="chip preset (default: default)")
    parser.add_argument(
        "--dir", type=Path,
        help="where the models are written, or reused if already there (default: a "
        "temporary directory)",
    )
    parser.add_argument(
        "--max-ratio", type=float,
        help="fail if a peak exceeds this many times the weight bytes (default: 2 for "
        "the models named, no check with --all: a small model's peak is its IR and the "
        "imports, not its weights)",
    )
    args = parser.parse_args(argv)
    models = zoo_models()
    names = models if args.all else args.names or ["vgg19"]
    max_ratio = args.max_ratio if args.max_ratio is not None or args.all else 2.0
    if unknown := [n for n in names if n not in models]:
        parser.error(f"unknown model '{unknown[0]}' (known: {', '.join(models)})")

    with tempfile.TemporaryDirectory() as scratch:
        directory = args.dir or Path(scratch)
        directory.mkdir(parents=True, exist_ok=True)
        base, _ = _peak_of([sys.executable, "-c", "import tidal.tools.tidal_compile"])
        print("| model | weights MB | peak RSS MB | peak / weights | compile s | binary MB |")
        print("|---|---|---|---|---|---|")
        print(f"| (imports only) | 0 | {base / MB:,.0f} | | | |")
        over: list[str] = []
        for name in names:
            path = model_file(name, directory)
            weights = weight_bytes(path)
            out = Path(scratch) / f"{name}.tbin"
            command = [
                sys.executable, "-m", "tidal.tools.tidal_compile",
                str(path), "-o", str(out), "--chip", args.chip,
            ]
            peak, seconds = _peak_of(command)
            ratio = peak / weights if weights else math.inf
            print(
                f"| {name} | {weights / MB:,.0f} | {peak / MB:,.0f} | {ratio:.2f}x | "
                f"{seconds:.1f} | {out.stat().st_size / MB:,.0f} |",
                flush=True,
            )
            out.unlink()
            if max_ratio is not None and ratio > max_ratio:
                over.append(f"{name} ({ratio:.2f}x)")
    if over:
        print(f"peak above {max_ratio}x the weights: {', '.join(over)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

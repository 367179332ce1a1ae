"""Compile wall time against IREE's, for the same ONNX file in the same run, and where
Tidal's compile time goes: per-pass CPU time and the verifier's.

The model (ResNet-50 of the onnx light zoo with seeded random weights by default,
`examples/zoo.py`, written by a child process) is compiled as a user compiles it,
each command a child process timed wall-clock (and its CPU seconds, all threads,
steadier on a shared machine), the run of least wall time of `--repeat`:

- Tidal: `tidal-compile MODEL.onnx -o OUT.tbin` (and with `--verify-each`, which
  verifies after every pass as every compile did before issue 12);
- IREE (`pip install iree-base-compiler`, the `bench` extra): `iree-import-onnx
  MODEL.onnx --opset-version 17 -o X.mlir`, then `iree-compile X.mlir
  --iree-hal-target-device=local --iree-hal-local-target-device-backends=llvm-cpu
  --iree-llvmcpu-target-cpu=host -o X.vmfb`. Without IREE installed its columns say
  so and the rest runs.

The second table runs the lowering pipeline in this process on the imported model
(`run_passes` with `PassTimes` first, then `Verify`): each pass's CPU seconds, and the
verifier's CPU seconds when it runs once after the pipeline (the default) and after
every pass (`--verify-each`).

    .venv/bin/python bench/bench_compile.py [--chip default] [--repeat 3] [--dir DIR] [NAME]

The figures are wall and CPU times on a shared machine: compare within one run.
Tidal's modules start from bytecode, as an installed package's do: `make` compiles
them when it installs the checkout (an editable install would leave it to the
first import, which writes nothing where PYTHONDONTWRITEBYTECODE is set, and every
tool start would then compile ~100 modules, ~0.4 s); IREE's importer is a pip-
installed Python package, its bytecode written by pip.

Measured for issue 12 (item 5, verifying once), ResNet-50, best of 3, on the loaded
2-core machine (IREE 3.13.0); `--verify-each` is what every compile did before:

    compile                       wall s  CPU s
    tidal-compile                   2.98   3.04
    tidal-compile --verify-each     4.21   4.23
    iree-import-onnx                2.89   3.02
    iree-compile                   23.19  24.53
    IREE import + compile          26.08  27.55
    Tidal / IREE                   0.11x  0.11x

    verifier CPU s: 0.19 once after the pipeline, 1.01 after every pass (of 2.27 s
    of passes); VGG-19: 0.08 and 0.52
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the venv's console scripts, as a user runs them

IREE_COMPILE_FLAGS = [
    "--iree-hal-target-device=local",
    "--iree-hal-local-target-device-backends=llvm-cpu",
    "--iree-llvmcpu-target-cpu=host",  # without it, iree-compile warns of a generic CPU
]


Times = tuple[float, float]  # wall seconds, CPU seconds (user + system, all threads)


def _run(command: list[str]) -> Times:
    """Wall and CPU seconds of `command` (the CPU of the child, from `os.wait4`);
    SystemExit with its last error line if it fails."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            lines = err.read().decode(errors="replace").strip().splitlines()
            raise SystemExit(f"{' '.join(command)} failed: {lines[-1] if lines else status}")
    return wall, usage.ru_utime + usage.ru_stime


def model_file(name: str, directory: Path) -> Path:
    """The zoo model `name` in `directory`, written there (by examples/zoo.py in a
    child process) if it is not there yet."""
    path = directory / f"{name}.onnx"
    if not path.exists():
        _run([sys.executable, str(ROOT / "examples" / "zoo.py"), str(directory), name])
    return path


def tool(name: str) -> str | None:
    """The console script `name`: beside this interpreter, else on PATH, else None."""
    beside = BIN / name
    return str(beside) if beside.exists() else shutil.which(name)


def tidal_seconds(model: Path, out: Path, chip: str, *flags: str) -> Times:
    return _run([tool("tidal-compile") or "tidal-compile", str(model), "-o", str(out),
                 "--chip", chip, *flags])


def iree_seconds(model: Path, scratch: Path) -> tuple[Times, Times] | None:
    """The times of IREE's import and compile of `model`, or None without IREE."""
    importer, compiler = tool("iree-import-onnx"), tool("iree-compile")
    if importer is None or compiler is None:
        return None
    mlir, vmfb = scratch / "iree.mlir", scratch / "iree.vmfb"
    imported = _run([importer, str(model), "--opset-version", "17", "-o", str(mlir)])
    compiled = _run([compiler, str(mlir), *IREE_COMPILE_FLAGS, "-o", str(vmfb)])
    mlir.unlink()
    vmfb.unlink()
    return imported, compiled


def pass_cpu(model: Path, chip: str, each: bool) -> tuple[dict[str, float], float]:
    """CPU seconds of each pass of the lowering pipeline on `model`, and of the
    verifier (once at the end, or after every pass with `each`)."""
    from tidal.passes.pipeline import PassTimes, Verify, lowering_passes, run_passes
    from tidal.tools.common import import_model

    module = import_model(str(model))
    timer, verify = PassTimes(), Verify(each=each)
    run_passes(lowering_passes(chip), module, callbacks=[timer, verify])
    return timer.cpu, verify.seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", nargs="?", default="resnet50",
                        help="zoo model (default: resnet50; see examples/zoo.py)")
    parser.add_argument("--chip", default="default", help="chip preset (default, small)")
    parser.add_argument("--repeat", type=int, default=3, help="runs to take the best of")
    parser.add_argument("--dir", type=Path, help="where the model is written, or reused "
                        "if already there (default: a temporary directory)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        directory = args.dir or scratch
        directory.mkdir(parents=True, exist_ok=True)
        model = model_file(args.name, directory)
        out = scratch / "out.tbin"
        once: list[Times] = []
        each: list[Times] = []
        iree: list[tuple[Times, Times]] = []
        for _ in range(args.repeat):  # interleaved, so that a busy spell hits each alike
            once.append(tidal_seconds(model, out, args.chip))
            each.append(tidal_seconds(model, out, args.chip, "--verify-each"))
            if (timed := iree_seconds(model, scratch)) is not None:
                iree.append(timed)

        print(f"{args.name}, chip {args.chip}: the run of least wall time of {args.repeat}\n")
        rows = [("tidal-compile", min(once)), ("tidal-compile --verify-each", min(each))]
        if iree:
            imported, compiled = min(iree, key=lambda t: t[0][0] + t[1][0])
            total = (imported[0] + compiled[0], imported[1] + compiled[1])
            rows += [("iree-import-onnx", imported), ("iree-compile", compiled),
                     ("IREE import + compile", total)]
        print("| compile | wall s | CPU s |")
        print("|---|---:|---:|")
        for name, (wall, cpu) in rows:
            print(f"| {name} | {wall:.2f} | {cpu:.2f} |")
        if iree:
            tidal = min(once)
            print(f"| Tidal / IREE | {tidal[0] / total[0]:.2f}x | {tidal[1] / total[1]:.2f}x |")
        else:
            print("\nIREE is not installed (pip install iree-base-compiler, the 'bench' "
                  "extra): its rows are skipped")
        print()

        runs = [(pass_cpu(model, args.chip, False), pass_cpu(model, args.chip, True))
                for _ in range(args.repeat)]
    print(f"CPU seconds per pass (median of {args.repeat}), and the verifier's\n")
    print("| pass | CPU s |")
    print("|---|---:|")
    for name in runs[0][0][0]:
        print(f"| {name} | {statistics.median(r[0][0][name] for r in runs):.3f} |")
    total = statistics.median(sum(r[0][0].values()) for r in runs)
    print(f"| all passes | {total:.3f} |")
    print(f"| verify once after the pipeline | {statistics.median(r[0][1] for r in runs):.3f} |")
    print(f"| verify after every pass (--verify-each) | "
          f"{statistics.median(r[1][1] for r in runs):.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

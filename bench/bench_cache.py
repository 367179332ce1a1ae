"""What the compiled-segment cache saves: every zoo model compiled without a cache,
cold (an empty cache: the whole pipeline runs and the entry is stored) and warm (the
same command again: import, the graph passes up to graph-partition, the key, and the
entry copied out), each as a user runs it, `tidal-compile MODEL.onnx -o OUT.tbin
--cache-dir DIR`, a child process timed wall-clock. The three binaries must be
byte-identical (the script stops otherwise).

Columns: wall seconds without a cache, cold and warm; cold over warm and no cache
over warm; the entry's size on disk. What a warm compile still spends is reading and
importing the ONNX file, the graph passes, hashing the weights into the key and
copying the binary out.

    .venv/bin/python bench/bench_cache.py DIR [--chip default] [NAME ...]

DIR holds the zoo's ONNX files (`python examples/zoo.py DIR` writes them; this
script writes the missing ones the same way). Wall times on a shared machine:
compare within one run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, example, print_table

BIN = Path(sys.executable).parent


def model_file(name: str, directory: Path) -> Path:
    """The zoo model `name` in `directory`, written there (by examples/zoo.py in a
    child process) if it is not there yet."""
    path = directory / f"{name}.onnx"
    if not path.exists():
        subprocess.run([sys.executable, str(ROOT / "examples" / "zoo.py"), str(directory), name],
                       check=True, stdout=subprocess.DEVNULL)
    return path


def compile_seconds(model: Path, out: Path, chip: str, cache: Path | None) -> tuple[float, str]:
    """Wall seconds of one tidal-compile with the cache in `cache` (None: without
    one), and its cache line; SystemExit with its error if it fails."""
    command = [str(BIN / "tidal-compile"), str(model), "-o", str(out), "--chip", chip]
    command += ["--cache-dir", str(cache)] if cache else ["--no-cache"]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {done.stderr.strip()}")
    line = next((ln for ln in done.stderr.splitlines() if ": cache " in ln), "")
    return seconds, line


def sources() -> str:
    """The compiler's identity in the key, computed afresh (not once per process):
    an edit of the tree between the cold and the warm compile makes the warm one
    miss, rightly, and the model is measured again."""
    from tidal.tools.cache_key import compiler_version

    return compiler_version.__wrapped__()


def bench(name: str, directory: Path, chip: str, tries: int = 5) -> dict[str, str]:
    model = model_file(name, directory)
    for _ in range(tries):
        before = sources()
        row = measure(name, model, chip)
        if row is not None:
            return row
        if sources() == before:
            raise SystemExit(f"{name}: the warm compile missed, the sources unchanged")
        print(f"{name}: the sources changed during the measurement; again", file=sys.stderr)
    raise SystemExit(f"{name}: the sources changed during each of {tries} measurements")


def measure(name: str, model: Path, chip: str) -> dict[str, str] | None:
    """The row of `model`, or None if the warm compile missed."""
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        cache = scratch / "cache"
        plain_s, _ = compile_seconds(model, scratch / "plain.tbin", chip, None)
        cold_s, cold_line = compile_seconds(model, scratch / "cold.tbin", chip, cache)
        warm_s, warm_line = compile_seconds(model, scratch / "warm.tbin", chip, cache)
        if "cache miss, stored" not in cold_line:
            raise SystemExit(f"{name}: expected a miss, got {cold_line!r}")
        if "cache hit" not in warm_line:
            return None
        plain = (scratch / "plain.tbin").read_bytes()
        if plain != (scratch / "cold.tbin").read_bytes() or plain != (scratch / "warm.tbin").read_bytes():
            raise SystemExit(f"{name}: a cached compile's binary differs from the plain one")
        [entry] = cache.glob("*.tcache")
        entry_mb = entry.stat().st_size / 1e6
    return {
        "model": name,
        "no cache s": f"{plain_s:.2f}",
        "cold s": f"{cold_s:.2f}",
        "warm s": f"{warm_s:.2f}",
        "cold / warm": f"{cold_s / warm_s:.1f}x",
        "no cache / warm": f"{plain_s / warm_s:.1f}x",
        "entry MB": f"{entry_mb:.1f}",
    }


def main(argv: list[str] | None = None) -> int:
    zoo = example("zoo")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path, help="directory of the zoo's ONNX files "
                        "(missing ones are written there by examples/zoo.py)")
    parser.add_argument("--chip", default="default", help="chip preset (default, small)")
    parser.add_argument("models", nargs="*", default=list(zoo.MODELS),
                        help="zoo models (default: all nine)")
    args = parser.parse_args(argv)
    unknown = [m for m in args.models if m not in zoo.MODELS]
    if unknown:
        parser.error(f"unknown zoo model '{unknown[0]}' (known: {', '.join(zoo.MODELS)})")
    args.dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.models:
        rows.append(bench(name, args.dir, args.chip))
        print(rows[-1], file=sys.stderr, flush=True)
    print(f"chip '{args.chip}'; every cold and warm binary byte-identical to the one "
          "compiled without a cache\n")
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())

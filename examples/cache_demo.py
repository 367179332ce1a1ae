"""The compiled-segment cache at work (docs/cache.md): a model compiled twice (a miss
that stores, then a hit), the same model with every tensor and node renamed (a hit,
renamed), tidal-run taking the same entry, and tidal-cache looking in. Every step is
a real command a user can run by hand; the binaries are compared byte for byte.

    python examples/cache_demo.py OUTDIR     # writes models, binaries and OUTDIR/cache
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
from tidal.sim.isa import decode_container

sys.path.insert(0, str(Path(__file__).parent))
from models import make_cnn, make_inputs  # noqa: E402

BIN = Path(sys.executable).parent


def run(*args: str | Path) -> str:
    """Run a Tidal tool from this interpreter's bin, echoing it as a user in the
    current directory would type it, then what it printed; returns its stderr (where
    the cache says what it did). SystemExit with its error if it fails."""
    shown = [os.path.relpath(a) if isinstance(a, Path) else a for a in args]
    print("$", shlex.join(shown))
    done = subprocess.run([str(BIN / args[0]), *map(str, args[1:])],
                          capture_output=True, text=True, check=False)
    print(done.stdout + done.stderr, end="", flush=True)
    if done.returncode != 0:
        raise SystemExit(f"{shown[0]} failed with status {done.returncode}")
    return done.stderr


def renamed(model: onnx.ModelProto) -> onnx.ModelProto:
    """`model` with every tensor and node renamed (`t0`, `t1`, ... and `n0`, ...)."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    graph = copy.graph
    names: dict[str, str] = {}

    def new(name: str) -> str:
        return names.setdefault(name, f"t{len(names)}") if name else name

    for value in [*graph.input, *graph.output, *graph.value_info]:
        value.name = new(value.name)
    for tensor in graph.initializer:
        tensor.name = new(tensor.name)
    for i, node in enumerate(graph.node):
        node.name = f"n{i}"
        node.input[:] = [new(n) for n in node.input]
        node.output[:] = [new(n) for n in node.output]
    return copy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="directory for the files it writes")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    cache = out / "cache"
    model = make_cnn()
    onnx.save(model, out / "cnn.onnx")
    other = renamed(model)
    onnx.save(other, out / "cnn-renamed.onnx")
    np.savez(out / "cnn-inputs.npz", **make_inputs(model))

    chip = ["--chip", "small", "--cache-dir", cache]
    said = [
        run("tidal-compile", out / "cnn.onnx", "-o", out / "cold.tbin", *chip),
        run("tidal-compile", out / "cnn.onnx", "-o", out / "warm.tbin", *chip),
        run("tidal-compile", out / "cnn-renamed.onnx", "-o", out / "renamed.tbin", *chip),
        run("tidal-run", out / "cnn.onnx", "--inputs", out / "cnn-inputs.npz",
            "--outputs", out / "cnn-outputs.npz", *chip),
    ]
    run("tidal-cache", "list", "--cache-dir", cache)
    run("tidal-cache", "stats", "--cache-dir", cache)

    expected = ["cache miss, stored", "cache hit", "cache hit", "cache: 1 hits, 0 misses"]
    ok = all(e in s for e, s in zip(expected, said, strict=True))
    same = (out / "cold.tbin").read_bytes() == (out / "warm.tbin").read_bytes()
    print(f"\nwarm binary byte-identical to the cold one: {same}")
    io = decode_container((out / "renamed.tbin").read_bytes())
    names = [e["name"] for e in io.inputs + io.outputs]
    weights = {t.name for t in other.graph.initializer}
    wanted = [v.name for v in other.graph.input if v.name not in weights]
    wanted += [v.name for v in other.graph.output]
    print(f"the renamed model's binary (a hit) names its inputs and outputs {names}")
    ok = ok and same and names == wanted
    print("\nthe cache did what it says" if ok else "\nUNEXPECTED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""`make demo`: compile two models Tidal generates, run them on the hardware model and
compare with onnxruntime. Every step is a real command a user can run by hand."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).parent))
from models import make_cnn, make_inputs, make_mlp  # noqa: E402

BIN = Path(sys.executable).parent
OUT = Path(__file__).resolve().parent.parent / "out" / "demo"


def run(*args: str | Path) -> None:
    """Run a Tidal tool from this interpreter's bin, echoing it with paths as a user
    in the current directory would type them."""
    shown = [os.path.relpath(a) if isinstance(a, Path) else a for a in args]
    print("$", shlex.join(shown))
    subprocess.run([str(BIN / args[0]), *map(str, args[1:])], check=True)


def demo(out: Path, name: str, model: onnx.ModelProto, chip: str) -> bool:
    onnx_path, tbin = out / f"{name}.onnx", out / f"{name}-{chip}.tbin"
    inputs_path, outputs_path = out / f"{name}-inputs.npz", out / f"{name}-{chip}-outputs.npz"
    stats_path = out / f"{name}-{chip}-stats.json"
    onnx.save(model, onnx_path)
    inputs = make_inputs(model)
    np.savez(inputs_path, **inputs)

    print(f"\n== {name} on chip '{chip}' ==")
    run("tidal-compile", onnx_path, "-o", tbin, "--chip", chip)
    run("tidal-sim", tbin, "--inputs", inputs_path, "--outputs", outputs_path,
        "--stats", stats_path)

    reference = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    names = [o.name for o in reference.get_outputs()]
    expected = dict(zip(names, reference.run(None, inputs)))
    stats = json.loads(stats_path.read_text())
    ok = True
    with np.load(outputs_path) as got:
        for key, ref in expected.items():
            err = float(np.abs(got[key] - ref).max())
            bound = 1e-3 * float(np.abs(ref).max())
            ok &= err <= bound
            print(f"output '{key}' {tuple(ref.shape)}: max|err| = {err:.2e} vs onnxruntime "
                  f"(bound {bound:.2e}) -> {'agrees' if err <= bound else 'DISAGREES'}")
    busy = ", ".join(f"{e} {v['busy_cycles']}" for e, v in stats["engines"].items())
    print(f"cycles {stats['cycles']} ({stats['seconds'] * 1e6:.1f} us at the preset's clock), "
          f"MACs {stats['macs']}, PE MAC utilisation {100 * stats['pe_mac_utilization']:.2f}%")
    print(f"busy cycles per engine: {busy}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Compile two example models, run them on the hardware model and "
        "compare with onnxruntime (what `make demo` runs)."
    )
    parser.add_argument(
        "--out", type=Path, default=OUT,
        help=f"directory for the files it writes (default: {os.path.relpath(OUT)})",
    )
    args = parser.parse_args(argv)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    results = [
        demo(out, "mlp", make_mlp(), "default"),
        demo(out, "cnn", make_cnn(), "default"),
        demo(out, "cnn", make_cnn(), "small"),
    ]
    print("\nall outputs agree with onnxruntime" if all(results) else "\nMISMATCH")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())

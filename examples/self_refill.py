"""Self-refill and a second inference without the host: the example CNN is compiled
for the small chip (a 32-record instruction buffer, so its streams are many times
their buffers) with and without --self-refill, and each binary runs two inferences
on one loaded machine, compared with onnxruntime; prints what instructions the host
had to load for each run.

    .venv/bin/python examples/self_refill.py

docs/self-refill.md explains the sections and the DMA ring.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from models import make_cnn, make_inputs
from tidal.sim.config import SMALL
from tidal.sim.machine import Machine
from tidal.targets.refill import self_refill
from tidal.tools.tidal_compile import compile_to_program


def main() -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    model = make_cnn()
    first = make_inputs(model)
    rng = np.random.default_rng(1)
    second = {k: rng.standard_normal(v.shape).astype(np.float32) for k, v in first.items()}
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "cnn.onnx")
        onnx.save(model, path)
        session = ort.InferenceSession(path)
        plain = compile_to_program(path, "small")
        for name, program in (("hardware refill", plain), ("self-refill", self_refill(plain, SMALL))):
            machine = Machine(program, SMALL)
            machine.load_inputs(first)
            machine.run()
            out1 = machine.read_outputs()
            stats = machine.rerun(second)
            out2 = machine.read_outputs()
            errs = []
            for inputs, out in ((first, out1), (second, out2)):
                ref = session.run(None, inputs)[0]
                errs.append(float(np.abs(out["logits"] - ref).max() / np.abs(ref).max()))
            runs = stats["runs"]
            print(
                f"{name:15s} " + "; ".join(
                    f"run {i + 1}: {r['cycles']} cycles, host loaded {r['host_instr_bytes']} B, "
                    f"rel err {e:.1e}" for i, (r, e) in enumerate(zip(runs, errs))
                ) + f"; REFILLs loaded {stats['instr_fetch']['refill_bytes']} B"
            )
            ok &= max(errs) < 1e-3
            if name == "self-refill":
                ok &= runs[1]["host_instr_bytes"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

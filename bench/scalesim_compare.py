"""Fidelity check: Tidal's PE compute cycles against SCALE-Sim's compute cycles.

For a 1024x1024x1024 GEMM and six ResNet-50 convolutions (batch 1), on a 128x128
weight-stationary array:

- Tidal: a single-op ONNX model (opset 13, float32, seeded random weights) is compiled
  for the `default` chip and the binary run twice on seeded random inputs: with one
  stationary-weight buffer in the PE array (`pe_weight_buffers=1`, the array SCALE-Sim
  models, where a fold's weights load after the previous fold drains) and with the
  preset's two (the next weights shift in while the current matmul streams; source in
  sim/config.py). "PE cycles" is the PE engine's busy time
  (`stats["engines"]["pe"]["busy_cycles"]`, which excludes waiting for DMA). The
  outputs are checked against onnxruntime (max |err| / max |ref|).
- SCALE-Sim (PyPI `scalesim`, the `bench` extra): one run over a topology of the same
  layers, dataflow `ws`, a 128x128 array and SRAMs large enough that no layer stalls;
  "compute cycles" is the compute report's `Total Cycles` (stall cycles are checked
  to be 0, so it is pure compute). It has no option for double-buffered weights in the
  array (compute/systolic_compute_ws.py puts an ArrayHeight-cycle weight-load gap
  before every fold), so the one-buffer run is the like-for-like comparison.

Both sides are split into closed-form parts and the script fails if they do not
reproduce the measured number: Tidal's PE busy time into streaming, exposed weight
loads (each checked against `matmul_load_cycles` in sim/spec) and sync instructions,
read from the run's trace; SCALE-Sim's into its per-fold WS timing. docs/scalesim-
comparison.md explains the differences.

    .venv/bin/python bench/scalesim_compare.py [--only NAME ...] [--keep DIR]

Prints Markdown tables. A benchmark, not part of `make test`.
"""

from __future__ import annotations

import argparse
import builtins
import contextlib
import csv
import io
import math
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, replace
from importlib.metadata import version
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from tidal.dialects.accel import InstructionOp, MatmulOp, ProgramOp
from tidal.passes.analysis.cost import instruction_cost
from tidal.sim.config import ChipConfig, get_chip
from tidal.sim.isa import decode_container
from tidal.sim.machine import run_program
from tidal.sim.spec import matmul_load_cycles
from tidal.targets.binary import decode
from tidal.tools.tidal_compile import compile_to_bytes

CHIP = "default"
OPSET = 13
SEED = 0
MAX_REL_ERR = 1e-3


@dataclass(frozen=True)
class Layer:
    name: str
    where: str  # where it sits in ResNet-50 (torchvision v1.5 naming)
    kind: str  # "gemm" or "conv"
    # gemm: Y[m, n] = A[m, k] @ B[k, n]
    m: int = 0
    k: int = 0
    n: int = 0
    # conv: square input h x h, cin -> cout, square kernel r x r, stride, symmetric pad
    h: int = 0
    cin: int = 0
    cout: int = 0
    r: int = 0
    stride: int = 1
    pad: int = 0

    @property
    def oh(self) -> int:
        return (self.h + 2 * self.pad - self.r) // self.stride + 1

    @property
    def macs(self) -> int:
        if self.kind == "gemm":
            return self.m * self.k * self.n
        return self.oh * self.oh * self.r * self.r * self.cin * self.cout

    @property
    def shape(self) -> str:
        if self.kind == "gemm":
            return f"GEMM M={self.m} K={self.k} N={self.n}"
        return (
            f"{self.r}x{self.r}/{self.stride} {self.cin}->{self.cout}, "
            f"{self.h}x{self.h} pad {self.pad} -> {self.oh}x{self.oh}"
        )


LAYERS = [
    Layer("gemm1024", "-", "gemm", m=1024, k=1024, n=1024),
    Layer("conv1", "stem conv1", "conv", h=224, cin=3, cout=64, r=7, stride=2, pad=3),
    Layer("res2_1x1", "layer1.0.conv1", "conv", h=56, cin=64, cout=64, r=1),
    Layer("res2_3x3", "layer1.0.conv2", "conv", h=56, cin=64, cout=64, r=3, pad=1),
    Layer("res3_3x3s2", "layer2.0.conv2", "conv", h=56, cin=128, cout=128, r=3, stride=2, pad=1),
    Layer("res4_1x1", "layer3.0.conv3", "conv", h=14, cin=256, cout=1024, r=1),
    Layer("res5_3x3", "layer4.1.conv2", "conv", h=7, cin=512, cout=512, r=3, pad=1),
]


# --------------------------------------------------------------------------- Tidal


def onnx_model(layer: Layer) -> tuple[onnx.ModelProto, str, tuple[int, ...]]:
    """A single-op model with seeded He-initialised weights; (model, input, shape)."""
    rng = np.random.default_rng(SEED)
    if layer.kind == "gemm":
        w = (rng.standard_normal((layer.k, layer.n)) * np.sqrt(2.0 / layer.k)).astype(np.float32)
        node = helper.make_node("Gemm", ["a", "w"], ["y"])
        x_name, x_shape, y_shape = "a", (layer.m, layer.k), (layer.m, layer.n)
    else:
        fan_in = layer.cin * layer.r * layer.r
        w = rng.standard_normal((layer.cout, layer.cin, layer.r, layer.r))
        w = (w * np.sqrt(2.0 / fan_in)).astype(np.float32)
        node = helper.make_node(
            "Conv", ["x", "w"], ["y"],
            kernel_shape=[layer.r, layer.r],
            strides=[layer.stride, layer.stride],
            pads=[layer.pad] * 4,
        )
        x_name = "x"
        x_shape = (1, layer.cin, layer.h, layer.h)
        y_shape = (1, layer.cout, layer.oh, layer.oh)
    graph = helper.make_graph(
        [node], layer.name,
        [helper.make_tensor_value_info(x_name, TensorProto.FLOAT, list(x_shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(y_shape))],
        [numpy_helper.from_array(w, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    onnx.checker.check_model(model)
    return model, x_name, x_shape


# One stationary buffer: the array SCALE-Sim models (each fold's weights load after the
# previous fold drains). The `default` preset has two (sim/config.py).
SINGLE = 1


def chips() -> dict[int, ChipConfig]:
    """The `default` chip with one stationary buffer (SCALE-Sim's array) and as it is."""
    chip = get_chip(CHIP)
    return {SINGLE: replace(chip, pe_weight_buffers=SINGLE), chip.pe_weight_buffers: chip}


def pe_breakdown(
    layer: Layer, program: ProgramOp, stats: dict, chip: ChipConfig
) -> dict[str, object]:
    """The PE busy time of one run split into streaming (every MATMUL's
    max(N, pe_min_cycles)), exposed weight loads and sync instructions, each MATMUL's
    load checked against the rule of sim/spec (matmul_load_cycles): nothing, into an
    empty array, behind the previous matmul's streaming, or after a write (behind 0)."""
    ops = {
        st.engine: [op for op in st.body.block.ops if isinstance(op, InstructionOp)]
        for st in program.streams
    }
    streaming, sync, behind = 0, 0, None
    loads: Counter[int] = Counter()
    matmuls = 0
    for e in stats["trace"]:
        if e["engine"] != "pe":
            continue
        busy = e["end"] - e["start"]
        op = ops["pe"][e["index"]]
        if not isinstance(op, MatmulOp):
            sync += round(busy)
            continue
        issue = instruction_cost(op, chip, reload=False)
        exposed = round(busy - issue)  # start and end are floats (DMA sharing)
        allowed = {0, matmul_load_cycles(chip, None), matmul_load_cycles(chip, 0)}
        if behind is not None:
            allowed.add(matmul_load_cycles(chip, behind))
        if exposed not in allowed:
            raise SystemExit(
                f"{layer.name}: a MATMUL took {busy} cycles, {exposed} over its "
                f"streaming, not a load sim/spec's matmul_load_cycles allows {allowed}"
            )
        matmuls += 1
        streaming += issue
        if exposed:
            loads[int(exposed)] += 1
        behind = issue
    busy = stats["engines"]["pe"]["busy_cycles"]
    if round(streaming + sum(c * n for c, n in loads.items()) + sync) != busy:
        raise SystemExit(f"{layer.name}: the PE breakdown does not add up to {busy}")
    return {
        "pe_cycles": busy,
        "cycles": stats["cycles"],
        "matmuls": matmuls,
        "streaming": round(streaming),
        "loads": dict(sorted(loads.items(), reverse=True)),
        "sync": round(sync),
    }


def loads_text(loads: dict[int, int]) -> str:
    return " + ".join(f"{n} x {c}" for c, n in loads.items()) or "0"


def run_tidal(layer: Layer, workdir: Path) -> dict[int, dict[str, object]]:
    """Compile the layer once and run it on each chip of chips(); per buffer count,
    the PE breakdown plus the error against onnxruntime."""
    import onnxruntime as ort

    model, x_name, x_shape = onnx_model(layer)
    path = workdir / f"{layer.name}.onnx"
    onnx.save(model, path)
    data = compile_to_bytes(str(path), CHIP)
    program = decode_container(data)
    module = decode(data)
    ir = next(op for op in module.ops if isinstance(op, ProgramOp))
    x = np.random.default_rng(SEED + 1).standard_normal(x_shape).astype(np.float32)
    ref = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        None, {x_name: x}
    )[0]
    results = {}
    for buffers, chip in chips().items():
        outputs, stats = run_program(program, {x_name: x}, chip, trace=True)
        err = float(np.abs(outputs["y"] - ref).max() / np.abs(ref).max())
        if not err <= MAX_REL_ERR:
            raise SystemExit(f"{layer.name}: Tidal output differs from onnxruntime ({err:.2e})")
        if stats["macs"] != layer.macs:
            raise SystemExit(f"{layer.name}: Tidal did {stats['macs']} MACs, expected {layer.macs}")
        results[buffers] = {**pe_breakdown(layer, ir, stats, chip), "err": err}
    return results


# ----------------------------------------------------------------------- SCALE-Sim

SCALESIM_CONFIG = """\
[general]
run_name = tidal_ws128

[architecture_presets]
ArrayHeight = {rows}
ArrayWidth = {cols}
IfmapSramSzkB = {sram_kb}
FilterSramSzkB = {sram_kb}
OfmapSramSzkB = {sram_kb}
IfmapOffset = 0
FilterOffset = 10000000
OfmapOffset = 20000000
Bandwidth = {cols}
Dataflow = ws
ReadRequestBuffer = 32
WriteRequestBuffer = 32

[layout]
IfmapCustomLayout = False
IfmapSRAMBankBandwidth = {cols}
IfmapSRAMBankNum = 1
IfmapSRAMBankPort = 2
FilterCustomLayout = False
FilterSRAMBankBandwidth = {cols}
FilterSRAMBankNum = 1
FilterSRAMBankPort = 2

[sparsity]
SparsitySupport = false
SparseRep = ellpack_block
OptimizedMapping = false
BlockSize = 8
RandomNumberGeneratorSeed = 40

[run_presets]
InterfaceBandwidth = CALC
UseRamulatorTrace = False
"""
# 64 MiB per SRAM (word size 1 byte in SCALE-Sim): larger than every operand here
# (the biggest is the GEMM's 1 Mi-word input), so nothing is evicted or re-fetched.
SRAM_KB = 65536


def topology_row(layer: Layer) -> list[object]:
    """A SCALE-Sim conv topology row. SCALE-Sim does not pad and rounds the output
    size up (ceil((H - R + S) / S)), so it gets the padded input cropped to the rows
    the windows read, (OH - 1) * S + R: same output size, same MACs, same im2col."""
    if layer.kind == "gemm":  # a 1x1 conv: M pixels, K channels, N filters
        return [layer.name, layer.m, 1, 1, 1, layer.k, layer.n, 1]
    hin = (layer.oh - 1) * layer.stride + layer.r
    return [layer.name, hin, hin, layer.r, layer.r, layer.cin, layer.cout, layer.stride]


def _patch_scalesim_for_numpy_2_4() -> None:
    """scalesim 3.0.0 computes `int(max(list_of_1_element_arrays))` in
    double_buffered_scratchpad_mem.py, which NumPy >= 2.4 rejects ("only
    0-dimensional arrays can be converted to Python scalars"; upstream PR
    scalesim-project/SCALE-Sim#162 replaces it with np.max). Give that module a
    `max` that returns a 1-element array's value; the numbers are unchanged."""
    import scalesim.memory.double_buffered_scratchpad_mem as dbsp

    def _max(*args, **kwargs):
        result = builtins.max(*args, **kwargs)
        if isinstance(result, np.ndarray) and result.size == 1:
            return result.item()
        return result

    dbsp.max = _max


def run_scalesim(layers: list[Layer], workdir: Path, chip: ChipConfig) -> list[dict[str, object]]:
    _patch_scalesim_for_numpy_2_4()
    from scalesim.scale_sim import scalesim

    cfg = workdir / "scalesim.cfg"
    cfg.write_text(
        SCALESIM_CONFIG.format(rows=chip.pe_rows, cols=chip.pe_cols, sram_kb=SRAM_KB)
    )
    topo = workdir / "topology.csv"
    with topo.open("w") as f:
        f.write("Layer name,IFMAP Height,IFMAP Width,Filter Height,Filter Width,"
                "Channels,Num Filter,Strides,\n")
        for layer in layers:
            f.write(",".join(str(v) for v in topology_row(layer)) + ",\n")
    layout = workdir / "layout.csv"  # required by the API; unused without custom layouts
    layout.write_text("Layer name,\n")

    with contextlib.redirect_stdout(io.StringIO()):
        sim = scalesim(
            save_disk_space=True, verbose=False,
            config=str(cfg), topology=str(topo), layout=str(layout),
        )
        sim.run_scale(top_path=str(workdir / "scalesim_out"))

    report = workdir / "scalesim_out" / "tidal_ws128" / "COMPUTE_REPORT.csv"
    with report.open() as f:
        rows = [[c.strip() for c in row] for row in csv.reader(f)][1:]
    results = []
    R, C = chip.pe_rows, chip.pe_cols
    for layer, row, obj in zip(layers, rows, sim.runner.single_layer_sim_object_list):
        cycles, stalls = int(row[2]), int(row[3])
        comp = obj.compute_system
        folds = comp.row_fold * comp.col_fold
        formula = folds * (2 * R + C - 2 + comp.T) - 1
        if stalls != 0:
            raise SystemExit(f"{layer.name}: SCALE-Sim stalled {stalls} cycles; raise SRAM_KB")
        if formula != cycles:
            raise SystemExit(
                f"{layer.name}: SCALE-Sim's {cycles} cycles differ from the fold formula "
                f"{folds} x ({2 * R + C - 2} + {comp.T}) - 1 = {formula}"
            )
        results.append({
            "cycles": cycles,
            "row_fold": comp.row_fold,
            "col_fold": comp.col_fold,
            "Sr": comp.Sr,
            "Sc": comp.Sc,
            "T": comp.T,
            "mapping_eff": float(row[5]),
            "macs": obj.topo.get_layer_mac_ops(obj.layer_id),
        })
    return results


# --------------------------------------------------------------------------- report


def table(headers: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", metavar="NAME",
                        help=f"layers to run ({', '.join(l.name for l in LAYERS)})")
    parser.add_argument("--keep", metavar="DIR",
                        help="write the models and SCALE-Sim's inputs/outputs here "
                             "(default: a temporary directory, removed afterwards)")
    args = parser.parse_args(argv)
    layers = [l for l in LAYERS if not args.only or l.name in args.only]
    if not layers:
        parser.error("no such layer")
    chip = get_chip(CHIP)

    with contextlib.ExitStack() as stack:
        if args.keep:
            workdir = Path(args.keep)
            workdir.mkdir(parents=True, exist_ok=True)
        else:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="scalesim_cmp_")))
        t0 = time.perf_counter()
        tidal = [run_tidal(layer, workdir) for layer in layers]
        t1 = time.perf_counter()
        scale = run_scalesim(layers, workdir, chip)
        t2 = time.perf_counter()

    main_rows, tidal_rows, scale_rows = [], [], []
    R, C = chip.pe_rows, chip.pe_cols
    double = chip.pe_weight_buffers
    for layer, t, s in zip(layers, tidal, scale):
        if s["macs"] != layer.macs:
            raise SystemExit(f"{layer.name}: SCALE-Sim counts {s['macs']} MACs, expected {layer.macs}")
        one, two = t[SINGLE], t[double]
        r1, r2 = one["pe_cycles"] / s["cycles"], two["pe_cycles"] / s["cycles"]
        folds = s["row_fold"] * s["col_fold"]
        # SCALE-Sim's folds on a double-buffered array: the first pays its load and
        # skew, each later one only the load its predecessor's T columns do not hide
        # (the rule of sim/spec applied by hand; SCALE-Sim has no such option).
        db = (2 * R + C - 2) + folds * s["T"] + (folds - 1) * max(0, R - s["T"]) - 1
        rdb = two["pe_cycles"] / db
        main_rows.append([
            layer.name, layer.shape, f"{layer.macs:,}", f"{s['cycles']:,}",
            f"{one['pe_cycles']:,}", f"{r1:.3f} ({100 * (r1 - 1):+.1f}%)",
            f"{two['pe_cycles']:,}", f"{r2:.3f} ({100 * (r2 - 1):+.1f}%)",
            f"{db:,}", f"{rdb:.3f} ({100 * (rdb - 1):+.1f}%)",
            f"{math.ceil(layer.macs / (R * C)):,}",
            f"{one['cycles']:,} / {two['cycles']:,}", f"{max(one['err'], two['err']):.1e}",
        ])
        for buffers, b in ((SINGLE, one), (double, two)):
            tidal_rows.append([
                layer.name, buffers, b["matmuls"],
                (f"{b['streaming']:,} + ({loads_text(b['loads'])}) + {b['sync']}"
                f" = {b['pe_cycles']:,}"),
            ])
        scale_rows.append([
            layer.name, f"{s['Sr']} x {s['Sc']}", s["T"], f"{s['row_fold']} x {s['col_fold']}",
            (f"{s['row_fold'] * s['col_fold']} x ({2 * R + C - 2}"
            f" + {s['T']}) - 1 = {s['cycles']:,}"),
            f"{s['mapping_eff']:.1f}%",
        ])

    print(f"Tidal chip '{CHIP}' ({R}x{C}, pe_min_cycles={chip.pe_min_cycles}, "
          f"pe_weight_load_cycles={chip.pe_weight_load_cycles}, pe_fill_drain_cycles="
          f"{chip.pe_fill_drain_cycles}, pe_weight_buffers {SINGLE} and {double}); "
          f"SCALE-Sim {version('scalesim')} ws {R}x{C}, "
          f"SRAMs {SRAM_KB} kB, bandwidth mode CALC\n")
    print(table(
        ["layer", "shape", "MACs", "SCALE-Sim compute cycles",
         f"Tidal PE cycles, {SINGLE} buffer", "ratio to SCALE-Sim",
         f"Tidal PE cycles, {double} buffers", "ratio to SCALE-Sim",
         "SCALE-Sim folds, double-buffered (derived)", "ratio to derived",
         f"ideal MACs/({R}x{C})", f"Tidal total cycles ({SINGLE} / {double})",
         "Tidal max rel err"],
        main_rows,
    ))
    print("\nTidal PE busy = streaming (matmuls x max(N, pe_min_cycles)) + exposed "
          "weight loads (count x cycles: 382 into an empty array or with one buffer; "
          "with two, max(0, 128 - the previous matmul's streaming), 128 after a write "
          "into the held weights) + sync instructions on PE\n")
    print(table(["layer", "weight buffers", "matmuls", "Tidal PE busy"], tidal_rows))
    print("\nSCALE-Sim folds, double-buffered (derived, not a SCALE-Sim output) = "
          "(2R + C - 2) + folds x T + (folds - 1) x max(0, R - T) - 1\n")
    print("\nSCALE-Sim WS = row folds x col folds x (2R + C - 2 + T) - 1, "
          "row folds = ceil(Sr / R), col folds = ceil(Sc / C)\n")
    print(table(["layer", "Sr x Sc (im2col)", "T (ofmap pixels)", "folds",
                 "SCALE-Sim compute cycles", "mapping efficiency"], scale_rows))
    print(f"\nwall time: Tidal {t1 - t0:.1f} s, SCALE-Sim {t2 - t1:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

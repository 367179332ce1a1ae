"""tidal-run MODEL --inputs IN.npz --outputs OUT.npz [--stats S.json] [--chip P]
[--verify-each] [--disable-opt NAME] [--blas-threads N] [--cache-dir DIR]: compile a
model and run it: accelerator code on the hardware model, ops placed on the host
(graph-partition) with NumPy, ONNX nodes Tidal does not import (the framework tier)
with onnxruntime, in program order. Each compiled segment goes to the
hardware model as the program tidal-compile would write (`to_program`, checked by the
encoder and the loader alike), without the round trip through the container's bytes,
which would copy the weights three times. With a cache (--cache-dir, or
$TIDAL_CACHE_DIR), each accelerator segment is looked up and stored on its own
(docs/cache.md)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Collection, Mapping
from typing import Any

import numpy as np
import onnx
from xdsl.context import Context
from xdsl.ir import BlockArgument
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import DiagnosticException

from tidal.passes.analysis.model_work import macs_by_placement
from tidal.passes.graph.host_split import constant_results, result_names, split_host
from tidal.passes.graph.partition import GraphPartitionPass, placement_counts
from tidal.dialects.graph import OnnxNodeOp, OnnxValueType
from tidal.passes.interpreters.graph import input_dtypes, string_inputs
from tidal.passes.interpreters.numerics import signature
from tidal.passes.pipeline import PlacementReport, Verify, lowering_passes, run_passes, split_after
from tidal.sim import isa
from tidal.sim.config import PRESETS, UnknownChipError, get_chip
from tidal.sim.errors import InputError, SimError
from tidal.sim.inputs import check_inputs
from tidal.sim.machine import ideal_stats, run_program
from tidal.targets.binary import EncodeError, to_program
from tidal.targets.framework import FrameworkError
from tidal.targets.onnx_ops import host_eval
from tidal.tools.cache import Cache, CacheError, add_cache_options, cache_from_args
from tidal.tools.common import (
    add_blas_threads,
    add_dim_option,
    add_disable_opt,
    add_verify_each,
    attach_model_work,
    check_chip_option,
    context,
    dims_of,
    disabled_opts,
    ideal_note,
    import_model,
    load_model,
    model_files,
)
from tidal.tools.loop import compile_loop, loop_of
from tidal.tools.files import (
    NpzArrays,
    ToolError,
    at,
    check_paths,
    fail,
    npz_payload,
    open_npz,
    tool_main,
    write_files,
)

TOOL = "tidal-run"


def _passthrough(module: ModuleOp) -> dict[str, str]:
    """{output name: input name} for each output that is an input of another dtype
    than float32 (or a string tensor) returned as it is: the accelerator's program carries float32
    tensors only (loop-to-accel leaves it out), so tidal-run returns the array fed."""
    fn = next(op for op in module.body.block.ops if isinstance(op, func.FuncOp))
    inputs, outs = signature(module)
    inputs = list(inputs)
    dtypes = input_dtypes(module)
    ret = fn.body.block.last_op
    assert ret is not None
    return {
        outs[k]: inputs[v.index]
        for k, v in enumerate(ret.operands)
        if isinstance(v, BlockArgument) and dtypes.get(inputs[v.index]) != "float32"
    }


def _one_tensor_function(module: ModuleOp, path: str) -> None:
    """ToolError unless the graph-level .mlir `module` is what tidal-run runs: one
    func.func at the top level, whose arguments and results are tensors."""
    fns = [op for op in module.body.block.ops if isinstance(op, func.FuncOp)]
    if len(fns) != 1:
        raise ToolError(f"{path}: tidal-run runs one func.func at the top level, found {len(fns)}")
    fn = fns[0]
    kinds = [("argument", t) for t in fn.function_type.inputs.data]
    kinds += [("result", t) for t in fn.function_type.outputs.data]
    for i, (kind, ty) in enumerate(kinds):
        if not isinstance(ty, TensorType | OnnxValueType):
            n = i if kind == "argument" else i - len(fn.function_type.inputs.data)
            raise ToolError(f"{path}: @{fn.sym_name.data}'s {kind} {n} is {ty}, not a tensor")


def _tensor_io_only(module: ModuleOp, path: str) -> None:
    """ToolError naming the first graph input or output that is not a tensor (a
    sequence, an optional or a map; string tensors are arrays of str): tidal-run
    reads and writes .npz arrays; the
    Python API (`tidal.targets.backend`) takes and gives such values as onnxruntime
    does."""
    fn = next(op for op in module.body.block.ops if isinstance(op, func.FuncOp))
    ins, outs = signature(module)
    ret = fn.body.block.last_op
    assert ret is not None
    io = [("input", n, a) for n, a in zip(ins, fn.body.block.args)]
    io += [("output", n, v) for n, v in zip(outs, ret.operands)]
    for kind, name, value in io:
        if isinstance(value.type, OnnxValueType) and value.type.text != "tensor(string)":
            hint = ""
            owner = value.owner
            if isinstance(owner, OnnxNodeOp) and owner.op_type_val == "ZipMap":
                hint = (
                    "; a scikit-learn classifier exported by skl2onnx with "
                    "options={'zipmap': False} gives its probabilities as a tensor"
                )
            raise ToolError(
                f"{path}: {kind} '{name}' is {value.type.text}: tidal-run "
                f"{'reads' if kind == 'input' else 'writes'} the arrays of an .npz file "
                f"(the Python API, tidal.targets.backend, takes and gives such values){hint}"
            )


def _simulate(
    program: isa.Program, inputs: dict[str, np.ndarray], chip: str, blas_threads: int | None
):
    """Run `program` on `inputs`: the constants of a program `to_program` made are
    views of the IR's bytes, copied once, into the hardware model's DRAM. The
    inputs were checked against the model; those the program does not take (an
    unused input of another dtype than float32) are left out."""
    takes = {str(e["name"]) for e in program.inputs}
    inputs = {n: v for n, v in inputs.items() if n in takes}
    try:
        return run_program(program, inputs, get_chip(chip), blas_threads=blas_threads)
    except SimError as e:
        raise ToolError(str(e)) from None


class _Lowering:
    """The passes after graph-partition, run on one accelerator segment (or the
    whole module) at a time, through the cache when there is one."""

    def __init__(
        self,
        passes: list[ModulePass],
        ctx: Context,
        chip: str,
        disabled: Collection[str],
        verify_each: bool,
        cache: Cache | None,
        model: str,
    ) -> None:
        self.passes, self.ctx, self.chip, self.disabled = passes, ctx, chip, disabled
        self.verify_each, self.cache, self.model = verify_each, cache, model
        self.log: list[str] = []

    def program(self, module: ModuleOp) -> isa.Program:
        def lower() -> isa.Program:
            run_passes(self.passes, module, self.ctx, [Verify(self.verify_each)])
            return to_program(module)

        if self.cache is None:
            return lower()
        from tidal.tools.cache_key import segment_key

        keyed = segment_key(module, self.chip, self.disabled)
        program, status = self.cache.fetch(
            keyed, lower, model=self.model, lookup=not self.verify_each,
            warn=lambda line: self.log.append(f"warning: {line}"),
        )
        self.log.append(f"cache {status}: {keyed.key[:12]}")
        return program


def _merge(total: dict[str, Any], stats: dict[str, Any]) -> None:
    """Add one segment's stats into the running total (numbers add up)."""
    for key, value in stats.items():
        if isinstance(value, dict):
            _merge(total.setdefault(key, {}), value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            total[key] = total.get(key, 0) + value
        else:
            total.setdefault(key, value)


def run_model(
    path: str | onnx.ModelProto,
    inputs: dict[str, np.ndarray],
    chip: str = "default",
    disabled: Collection[str] = (),
    verify_each: bool = False,
    blas_threads: int | None = None,
    cache: Cache | None = None,
    cache_log: list[str] | None = None,
    dims: Mapping[str, int] | None = None,
    tensors_only: bool = False,
):
    """Compile `path` for `chip` (with the optimisations named in `disabled` off)
    and run it: (outputs by name, stats). A model's dynamic dimensions take the
    sizes in `dims`, else those the `inputs` have there. The module is verified
    after the passes up to graph-partition and after those of each accelerator segment, and after
    every pass with `verify_each`. NumPy's BLAS runs on `blas_threads` threads
    while the hardware model runs (None: one). With a `cache`, each accelerator
    segment's program is taken from it or stored in it (not looked up with
    `verify_each`, which asks for the lowering to be checked); the stats gain
    `cache` (hits and misses) and `cache_log` a line per segment. Graph inputs and
    outputs that are sequences, optionals or maps are taken and given as onnxruntime
    does (lists of arrays, None, dicts); with `tensors_only` (the tool, whose files
    are .npz) such a model is a ToolError before anything runs."""
    ctx = context()
    if isinstance(path, onnx.ModelProto):  # a loaded model (the ONNX backend's)
        at(f"importing model '{path.graph.name or '<unnamed>'}'")
        module = import_model(path, overrides=inputs, dims=dims)
        path = f"model '{path.graph.name or '<unnamed>'}'"
    else:
        at(f"importing {path}")
        module = load_model(path, ctx, overrides=inputs, dims=dims)
        if path.endswith(".mlir"):
            _one_tensor_function(module, path)
    if tensors_only:
        _tensor_io_only(module, str(path))
    # The whole model's work, on the graph as loaded: the binary of a model without
    # host segments carries it; with host segments, the merged stats take it here.
    work = attach_model_work(module)
    if not path.endswith(".mlir"):  # inputs fed into initializers are constants now
        from tidal.targets.onnx_import import constant_inputs

        fed = set(constant_inputs(module))
        if isinstance(inputs, NpzArrays):  # (no array is read before its name is checked)
            inputs = inputs.without(fed)
        else:
            inputs = {n: v for n, v in inputs.items() if n not in fed}
    strings = string_inputs(module)  # declared shapes, which their type lacks
    check_inputs(
        {**signature(module)[0], **strings}, inputs, dtypes={**input_dtypes(module), **dict.fromkeys(strings, "str")}
    )  # names the input
    passthrough = _passthrough(module)
    try:
        loop = loop_of(module)
        if loop is not None:  # a loop model: its body lowered once, its blocks on the chip
            at(f"compiling {path}")
            program = compile_loop(module, loop, chip, ctx, disabled=disabled, verify_each=verify_each)
            at(f"simulating {path}")
            try:
                outputs, stats = run_program(program, inputs, get_chip(chip), blas_threads=blas_threads)
            except SimError as e:
                raise ToolError(str(e)) from None
            stats["placement"] = {
                "accel": 1, "host": 0, "framework": 0, "reject": 0,
                "host_ops": [], "framework_ops": [], "reject_ops": [],
            }
            stats["segments"] = ["accel"]
            return outputs, stats
    except (DiagnosticException, UnknownChipError, EncodeError) as e:
        raise ToolError(f"{path}: {e}") from None
    # Up to graph-partition on the whole model, the rest on each accelerator segment.
    whole, per_segment = split_after(lowering_passes(chip, disabled), GraphPartitionPass)
    report = PlacementReport()
    lowering = _Lowering(per_segment, ctx, chip, disabled, verify_each, cache, path)
    try:
        run_passes(whole, module, ctx, [Verify(verify_each), report])
        placement = placement_counts(report.rows)
        placement["macs"] = macs_by_placement(module)
        segments = split_host(module)
        if segments is None:
            program = lowering.program(module)
            outputs, stats = _simulate(program, inputs, chip, blas_threads)
            outputs.update({out: inputs[name] for out, name in passthrough.items()})
            stats["placement"] = placement
            stats["segments"] = ["accel"]
            _cache_stats(stats, cache, lowering.log, cache_log)
            return outputs, stats
        fn = next(op for op in module.body.block.ops if isinstance(op, func.FuncOp))
        wanted = result_names(fn)
        env = dict(inputs)
        # A model whose ops all run on the host is a valid run of zero cycles.
        total: dict[str, Any] = {"cycles": 0, "seconds": 0.0, "macs": 0}
        for seg in segments:
            missing = [n for n in seg.inputs if n not in env and n not in seg.constants]
            if missing:
                raise ToolError(f"missing input '{missing[0]}'")
            # host and framework segments read constants directly
            values = {
                n: env[n] if n in env else seg.constants[n].to_numpy()  # type: ignore[attr-defined]
                for n in seg.inputs
            } if seg.kind != "accel" else {}
            if seg.kind == "host":
                args = [values[n] for n in seg.inputs]
                env[seg.outputs[0]] = np.asarray(host_eval(seg.op, *args), np.float32)
                continue
            if seg.kind == "framework":
                assert seg.framework is not None
                feeds = values
                at(f"running {path}'s framework-tier nodes in onnxruntime")
                try:
                    env.update(seg.framework(feeds))
                except FrameworkError as e:
                    raise ToolError(f"{path}: {e}") from None
                continue
            assert seg.module is not None
            at(f"compiling {path}")
            program = lowering.program(seg.module)
            seg_inputs = {n: env[n] for n in seg.inputs}
            at(f"simulating {path}")
            outputs, stats = _simulate(program, seg_inputs, chip, blas_threads)
            env.update(outputs)
            _merge(total, stats)
    except (DiagnosticException, UnknownChipError, EncodeError) as e:
        raise ToolError(f"{path}: {e}") from None
    config = get_chip(chip)
    cycles = total.get("cycles", 0)
    total["pe_mac_utilization"] = (
        total.get("macs", 0) / (cycles * config.pe_rows * config.pe_cols) if cycles else 0.0
    )
    for engine in total.get("engines", {}).values():  # fractions do not add: recompute
        engine["busy_fraction"] = engine["busy_cycles"] / cycles if cycles else 0.0
    total.update(ideal_stats(work.as_dict(), cycles, total.get("dma_dram_bytes", 0), config))
    total["chip"] = config.name
    total["placement"] = placement
    total["segments"] = [s.kind for s in segments]
    _cache_stats(total, cache, lowering.log, cache_log)
    for name, const in constant_results(fn).items():  # folded results: no segment's
        env.setdefault(name, const.to_numpy())  # type: ignore[attr-defined]
    return {declared: env[source] for declared, source in wanted}, total


def _cache_stats(
    stats: dict[str, Any], cache: Cache | None, log: list[str], cache_log: list[str] | None
) -> None:
    if cache is None:
        return
    stats["cache"] = {"hits": cache.hits, "misses": cache.misses}
    if cache_log is not None:
        cache_log.extend(log)


@tool_main(TOOL)
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=TOOL, description=__doc__)
    parser.add_argument("model", help="ONNX model (.onnx) or graph-level IR (.mlir)")
    parser.add_argument("--inputs", required=True, help=".npz keyed by the model's input names")
    parser.add_argument("--outputs", required=True, help=".npz to write, keyed by output names")
    parser.add_argument("--stats", help="JSON file for cycles, utilisation, the ideal roofline, placement, per-engine counts")
    parser.add_argument("--chip", default="default", help=f"chip preset ({', '.join(PRESETS)})")
    add_dim_option(parser, fed=True)
    add_disable_opt(parser)
    add_verify_each(parser)
    add_blas_threads(parser)
    add_cache_options(parser)
    args = parser.parse_args(argv)
    cache_log: list[str] = []
    try:
        check_chip_option(args.chip)
        check_paths([*model_files(args.model), args.inputs], [args.outputs, args.stats])
        try:
            cache = cache_from_args(args)
        except CacheError as e:
            raise ToolError(str(e)) from None
        outputs, stats = run_model(
            args.model, open_npz(args.inputs), args.chip,
            disabled_opts(args.disable_opt), args.verify_each, args.blas_threads,
            cache=cache, cache_log=cache_log, dims=dims_of(args), tensors_only=True,
        )
        payloads = [(args.outputs, npz_payload(outputs))]
        if args.stats:
            payloads.append((args.stats, json.dumps(stats, indent=2).encode()))
        at(f"writing {args.outputs}")
        write_files(payloads)
    except InputError as e:
        fail(TOOL, f"{args.inputs}: {e}")
    except ToolError as e:
        fail(TOOL, str(e))
    for line in cache_log:
        print(f"{TOOL}: {line}", file=sys.stderr)
    if cache is not None:
        hits, misses = stats["cache"]["hits"], stats["cache"]["misses"]
        print(f"{TOOL}: cache: {hits} hits, {misses} misses in {cache.directory}",
              file=sys.stderr)
    host, framework = stats["placement"]["host"], stats["placement"]["framework"]
    on_framework = f", {framework} on onnxruntime (framework tier)" if framework else ""
    if not stats["placement"]["accel"]:  # no cycles to speak of, nor a roofline ratio
        print(f"{TOOL}: no op on the accelerator: {host} on the host{on_framework} -> {args.outputs}")
        return
    print(
        f"{TOOL}: {stats['cycles']} cycles{ideal_note(stats)}, PE MAC utilisation "
        f"{100 * stats['pe_mac_utilization']:.2f}%, {stats['placement']['accel']} ops on the "
        f"accelerator, {host} on the host{on_framework} -> {args.outputs}"
    )


if __name__ == "__main__":
    main()

"""Numerical checking between passes: run the IR at any level on the same inputs.

Four executors, each independent of the passes it checks:

- graph level: a NumPy reference for every graph op (`eval_graph`);
- loop level: an interpreter of loop nests over DRAM buffers and symbolic tiles
  (`eval_loop`);
- accel level in unified order: a sequential interpreter of the instructions in
  program order, waits ignored (`eval_accel`);
- accel level split into streams: the binary encoder and the hardware model, with
  engines running concurrently (`eval_binary`).

`NumericsChecker` runs the right one after each pass and reports the first pass whose
outputs disagree with the graph-level reference (or with the module as given).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from xdsl.dialects import func
from xdsl.dialects.builtin import DictionaryAttr, ModuleOp, StringAttr
from xdsl.ir import Block, Operation, SSAValue

from tidal.dialects import accel, graph, loop
from tidal.dialects.accel import AccessAttr
from tidal.sim.inputs import check_inputs

Arrays = dict[str, np.ndarray]


class CannotEvaluate(Exception):
    """The IR holds something an evaluator does not know; the message says what."""


# ---------------------------------------------------------------------------
# graph level: a NumPy reference
# ---------------------------------------------------------------------------


def _conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, op: graph.Conv2dOp) -> np.ndarray:
    (sh, sw), (dh, dw), g = op.strides_val, op.dilations_val, op.group_val
    pt, pl, pb, pr = op.pads_val
    x = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    n, c, h, wd = x.shape
    cout, cg, kh, kw = w.shape
    oh = (h - (kh - 1) * dh - 1) // sh + 1
    ow = (wd - (kw - 1) * dw - 1) // sw + 1
    out = np.zeros((n, cout, oh, ow), np.float64)
    per = cout // g
    for grp in range(g):
        xs = x[:, grp * cg : (grp + 1) * cg]
        ws = w[grp * per : (grp + 1) * per].astype(np.float64)
        for r in range(kh):
            for s in range(kw):
                win = xs[:, :, r * dh : r * dh + sh * (oh - 1) + 1 : sh, s * dw : s * dw + sw * (ow - 1) + 1 : sw]
                out[:, grp * per : (grp + 1) * per] += np.einsum("nchw,oc->nohw", win, ws[:, :, r, s])
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out.astype(np.float32)


def _maxpool(x: np.ndarray, op: graph.MaxPoolOp) -> np.ndarray:
    (kh, kw), (sh, sw) = op.kernel_shape_val, op.strides_val
    pt, pl, pb, pr = op.pads_val
    x = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)), constant_values=-np.inf)
    oh = (x.shape[2] - kh) // sh + 1
    ow = (x.shape[3] - kw) // sw + 1
    out = np.full(x.shape[:2] + (oh, ow), -np.inf, np.float32)
    for r in range(kh):
        for s in range(kw):
            out = np.maximum(out, x[:, :, r : r + sh * (oh - 1) + 1 : sh, s : s + sw * (ow - 1) + 1 : sw])
    return out


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return (e / e.sum(axis=axis, keepdims=True)).astype(np.float32)


def _gemm(op: graph.GemmOp, a: np.ndarray, b: np.ndarray, c: np.ndarray | None) -> np.ndarray:
    a = a.T if op.trans_a_val else a
    b = b.T if op.trans_b_val else b
    y = op.alpha_val * (a.astype(np.float64) @ b)
    if c is not None:
        y = y + op.beta_val * c
    return y.astype(np.float32)


GRAPH_EVAL: dict[type[Operation], Callable[..., np.ndarray]] = {
    graph.ConstantOp: lambda op: op.to_numpy(),
    graph.MatMulOp: lambda op, a, b: (a.astype(np.float64) @ b).astype(np.float32),
    graph.GemmOp: lambda op, a, b, c=None: _gemm(op, a, b, c),
    graph.Conv2dOp: lambda op, x, w, b=None: _conv2d(x, w, b, op),
    graph.AddOp: lambda op, a, b: a + b,
    graph.MulOp: lambda op, a, b: a * b,
    graph.ReluOp: lambda op, x: np.maximum(x, 0),
    graph.MaxPoolOp: lambda op, x: _maxpool(x, op),
    graph.ReshapeOp: lambda op, x: x.reshape(op.result.type.get_shape()),
    graph.FlattenOp: lambda op, x: x.reshape(op.result.type.get_shape()),
    graph.SoftmaxOp: lambda op, x: _softmax(x, op.axis_val),
}


def _function(module: ModuleOp) -> func.FuncOp:
    funcs = [op for op in module.body.block.ops if isinstance(op, func.FuncOp)]
    if len(funcs) != 1:
        raise CannotEvaluate(f"expects one func.func, found {len(funcs)}")
    return funcs[0]


def _names(attrs: object, n: int, prefix: str) -> list[str]:
    out = []
    for i in range(n):
        entry = attrs.data[i] if attrs is not None else None  # type: ignore[attr-defined]
        name = entry.data.get("tidal.name") if isinstance(entry, DictionaryAttr) else None
        out.append(name.data if isinstance(name, StringAttr) else f"{prefix}{i}")
    return out


def signature(module: ModuleOp) -> tuple[dict[str, tuple[int, ...]], list[str]]:
    """Input names with shapes, and output names, of a graph- or loop-level module."""
    fn = _function(module)
    ins = _names(fn.arg_attrs, len(fn.body.block.args), "arg")
    ret = fn.body.block.last_op
    outs = _names(fn.res_attrs, len(ret.operands) if ret else 0, "result")
    shapes = {n: tuple(a.type.get_shape()) for n, a in zip(ins, fn.body.block.args)}  # type: ignore[attr-defined]
    return shapes, outs


def eval_graph(module: ModuleOp, inputs: Mapping[str, np.ndarray]) -> Arrays:
    from tidal.passes.graph.partition import host_kernels  # the zoo ops' NumPy kernels

    rules = host_kernels()
    fn = _function(module)
    shapes, outs = signature(module)
    env: dict[SSAValue, np.ndarray] = dict(zip(fn.body.block.args, (inputs[n] for n in shapes)))
    for op in fn.body.block.ops:
        if isinstance(op, func.ReturnOp):
            return {n: env[v] for n, v in zip(outs, op.arguments)}
        rule = rules.get(type(op))
        if rule is None:
            raise CannotEvaluate(f"no NumPy reference for '{op.name}'")
        env[op.results[0]] = np.asarray(rule(op, *(env[v] for v in op.operands)), np.float32)
    raise CannotEvaluate("function has no return")


# ---------------------------------------------------------------------------
# access patterns over NumPy memories (shared by the loop and accel interpreters)
# ---------------------------------------------------------------------------


def view(memory: np.ndarray, ap: AccessAttr, env: Sequence[int]) -> np.ndarray:
    """The elements `ap` names in `memory` (flat for DRAM, [partitions, elements]
    on chip), as a writable strided view; bounds are checked first."""
    offset = ap.offset.at(env)
    if offset % 4:
        raise CannotEvaluate(f"unaligned offset {offset} in {ap}")
    counts = [c for _, c in ap.dims]
    if memory.ndim == 1:
        strides = [s for s, _ in ap.dims]
        base = offset // 4
        last = base + sum(s * (c - 1) for s, c in ap.dims)
        if base < 0 or last >= memory.size or min(strides) < 0:
            raise CannotEvaluate(f"{ap} leaves its {memory.size}-element buffer")
        return np.lib.stride_tricks.as_strided(memory[base:], counts, [4 * s for s in strides])
    pstart = ap.pstart.at(env)
    col = offset // 4
    free = ap.dims[1:]
    last = col + sum(s * (c - 1) for s, c in free)
    if pstart < 0 or pstart + counts[0] > memory.shape[0] or col < 0 or last >= memory.shape[1]:
        raise CannotEvaluate(f"{ap} leaves its {memory.shape[0]}x{memory.shape[1]} buffer")
    row = memory.strides[0]
    return np.lib.stride_tricks.as_strided(
        memory[pstart:, col:], counts, [row, *(4 * s for s, _ in free)]
    )


_FUNCS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "identity": lambda x: x,
    "relu": lambda x: np.maximum(x, 0),
    "exp": np.exp,
    "reciprocal": lambda x: 1.0 / x,
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "tanh": np.tanh,
    "log": np.log,
}
_ALU: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "max": np.maximum, "min": np.minimum,
}


def _copy(dst: np.ndarray, src: np.ndarray) -> None:
    dst[...] = np.ascontiguousarray(src).reshape(dst.shape)


def _matmul(dst: np.ndarray, stat: np.ndarray, mov: np.ndarray, start: bool) -> None:
    k = stat.shape[0]
    r = stat.reshape(k, -1).T @ mov.reshape(k, -1)
    r = r.reshape(dst.shape)
    if start:
        dst[...] = r
    else:
        dst += r


def _act(fn: str, dst: np.ndarray, src: np.ndarray, scale, bias) -> None:
    p = dst.shape[0]
    x = np.ascontiguousarray(src).reshape(p, -1)
    y = _FUNCS[fn](x * scale + bias).astype(np.float32)
    dst[...] = y.reshape(dst.shape)


def _tensor_tensor(op: str, dst: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
    p = dst.shape[0]
    dst[...] = _ALU[op](a.reshape(p, -1), b.reshape(p, -1)).reshape(dst.shape)


def _reduce(op: str, dst: np.ndarray, src: np.ndarray, nreduce: int, scale: float) -> None:
    axes = tuple(range(src.ndim - nreduce, src.ndim))
    r = (src.max(axis=axes) if op == "max" else src.sum(axis=axes)) * np.float32(scale)
    dst[...] = r.reshape(dst.shape)


def _column(view_: np.ndarray) -> np.ndarray:
    return view_.reshape(view_.shape[0], 1)


# ---------------------------------------------------------------------------
# loop level
# ---------------------------------------------------------------------------


def eval_loop(module: ModuleOp, inputs: Mapping[str, np.ndarray]) -> Arrays:
    fn = _function(module)
    shapes, outs = signature(module)
    mem: dict[SSAValue, np.ndarray] = {
        a: np.array(inputs[n], np.float32).ravel() for n, a in zip(shapes, fn.body.block.args)
    }
    for op in fn.body.block.ops:
        if isinstance(op, loop.ConstOp):
            mem[op.result] = _dense(op.value)
        elif isinstance(op, loop.AllocOp):
            mem[op.result] = np.zeros(int(np.prod(op.result.type.get_shape())), np.float32)
        elif isinstance(op, loop.ViewOp):
            mem[op.result] = mem[op.source]
        elif isinstance(op, loop.NestOp):
            _run_nest(op, mem)
        elif isinstance(op, func.ReturnOp):
            return {
                n: mem[v].reshape(v.type.get_shape()).copy()  # type: ignore[attr-defined]
                for n, v in zip(outs, op.arguments)
            }
        else:
            raise CannotEvaluate(f"loop level: unexpected '{op.name}'")
    raise CannotEvaluate("function has no return")


def _dense(value) -> np.ndarray:
    return np.frombuffer(value.data.data, np.float32).copy()


def _run_nest(nest: loop.NestOp, mem: dict[SSAValue, np.ndarray]) -> None:
    tiles = dict(mem)
    for op in nest.body.block.ops:
        if isinstance(op, loop.AllocTileOp):
            t = op.result.type
            tiles[op.result] = np.zeros((t.partitions.data, t.elems.data), np.float32)
    env = [0] * len(nest.domain_val)
    domain = nest.domain_val

    def run(block: Block) -> None:
        for op in block.ops:
            if isinstance(op, loop.ForOp):
                d = op.dim.value.data
                for i in range(domain[d]):
                    env[d] = i
                    run(op.body.block)
                env[d] = 0
            elif isinstance(op, loop.TileOp):
                _loop_op(op, tiles, env)

    run(nest.body.block)


def _loop_op(op: loop.TileOp, mem: dict[SSAValue, np.ndarray], env: list[int]) -> None:
    v = lambda value, prop: view(mem[value], op.ap(prop), env)  # noqa: E731
    if isinstance(op, loop.CopyOp):
        _copy(v(op.dst, "dst_ap"), v(op.src, "src_ap"))
    elif isinstance(op, loop.MatmulOp):
        z = op.zero_at.value.data if op.zero_at is not None else None
        start = z is not None and (z < 0 or env[z] == 0)
        _matmul(v(op.acc, "acc_ap"), v(op.stationary, "stationary_ap"), v(op.moving, "moving_ap"), start)
    elif isinstance(op, loop.ActOp):
        scale = _column(v(op.scale_col, "scale_ap")) if op.scale_col else op.scale.value.data
        bias = _column(v(op.bias_col, "bias_ap")) if op.bias_col else op.bias.value.data
        _act(op.func.data, v(op.dst, "dst_ap"), v(op.src, "src_ap"), scale, bias)
    elif isinstance(op, loop.TensorTensorOp):
        _tensor_tensor(op.op.data, v(op.dst, "dst_ap"), v(op.a, "a_ap"), v(op.b, "b_ap"))
    elif isinstance(op, loop.ReduceOp):
        _reduce(op.op.data, v(op.dst, "dst_ap"), v(op.src, "src_ap"), op.nreduce.value.data, op.scale.value.data)
    elif isinstance(op, loop.MemsetOp):
        v(op.dst, "dst_ap")[...] = op.value.value.data
    else:
        raise CannotEvaluate(f"loop level: no interpreter for '{op.name}'")


# ---------------------------------------------------------------------------
# accel level, unified order: sequential
# ---------------------------------------------------------------------------


def _program(module: ModuleOp) -> accel.ProgramOp:
    programs = [op for op in module.body.block.ops if isinstance(op, accel.ProgramOp)]
    if len(programs) != 1:
        raise CannotEvaluate(f"expects one accel.program, found {len(programs)}")
    return programs[0]


def eval_accel(module: ModuleOp, inputs: Mapping[str, np.ndarray]) -> Arrays:
    """Run a unified-order program sequentially in program order (waits are no-ops:
    this is the order the synchronisation must preserve), on memories sized by the
    chip preset the program names."""
    from tidal.sim.config import get_chip

    program = _program(module)
    chip = get_chip(program.chip.data)
    dram = np.zeros(_dram_bytes(program) // 4 + 1, np.float32)
    mems = {
        "dram": dram,
        "sbuf": np.zeros((chip.sbuf_partitions, chip.sbuf_partition_bytes // 4), np.float32),
        "psum": np.zeros((chip.psum_partitions, chip.psum_partition_bytes // 4), np.float32),
    }
    outputs: list[accel.IoOp] = []
    for op in program.body.block.ops:
        if isinstance(op, accel.IoOp):
            n = int(np.prod(op.type.get_shape()))
            at = op.addr.value.data // 4
            if op.kind.data == "input":
                dram[at : at + n] = np.asarray(inputs[op.tensor_name.data], np.float32).ravel()
            else:
                outputs.append(op)
        elif isinstance(op, accel.ConstOp):
            data = _dense(op.value)
            at = op.addr.value.data // 4
            dram[at : at + data.size] = data
    env: list[int] = []

    def run(block: Block) -> None:
        for op in block.ops:
            if isinstance(op, accel.RepeatOp):
                env.append(0)
                for i in range(op.count):
                    env[-1] = i
                    run(op.body.block)
                env.pop()
            elif isinstance(op, accel.StreamOp):
                raise CannotEvaluate("program is split into streams: use the hardware model")
            elif isinstance(op, accel.InstructionOp):
                _accel_op(op, mems, env)

    run(program.body.block)
    return {
        o.tensor_name.data: dram[o.addr.value.data // 4 :][: int(np.prod(o.type.get_shape()))]
        .reshape(o.type.get_shape()).copy()
        for o in outputs
    }


def _dram_bytes(program: accel.ProgramOp) -> int:
    for name in ("dram_bytes", "dram"):
        attr = program.properties.get(name)
        if attr is not None:
            return attr.value.data  # type: ignore[attr-defined]
    raise CannotEvaluate("accel.program has no DRAM size")


def _accel_op(op: accel.InstructionOp, mems: dict[str, np.ndarray], env: list[int]) -> None:
    v = lambda ap: view(mems[ap.space], ap, env)  # noqa: E731
    if isinstance(op, accel.DmaOp):
        _copy(v(op.dst), v(op.src))
    elif isinstance(op, accel.MatmulOp):
        z = op.zero_at_level
        start = z is not None and (z < 0 or env[z] == 0)
        _matmul(v(op.dst), v(op.stationary), v(op.moving), start)
    elif isinstance(op, accel.ActOp):
        scale = _column(v(op.scale_col)) if op.scale_col else op.scale_value
        bias = _column(v(op.bias_col)) if op.bias_col else op.bias_value
        _act(op.func.data, v(op.dst), v(op.src), scale, bias)
    elif isinstance(op, accel.TensorTensorOp):
        _tensor_tensor(op.op.data, v(op.dst), v(op.a), v(op.b))
    elif isinstance(op, accel.ReduceOp):
        _reduce(op.op.data, v(op.dst), v(op.src), op.nreduce.value.data, op.scale_value)
    elif isinstance(op, accel.MemsetOp):
        v(op.dst)[...] = op.value.value.data
    # wait, signal, nop, halt: nothing to compute in program order


# ---------------------------------------------------------------------------
# split accel level: the binary on the hardware model
# ---------------------------------------------------------------------------


def eval_binary(module: ModuleOp, inputs: Mapping[str, np.ndarray]) -> Arrays:
    from tidal.sim.isa import decode_container
    from tidal.sim.machine import run_program
    from tidal.targets.binary import encode

    outputs, _ = run_program(decode_container(encode(module)), inputs)
    return outputs


# ---------------------------------------------------------------------------
# the checker
# ---------------------------------------------------------------------------


def level(module: ModuleOp) -> str:
    ops = {op.name.split(".")[0] for op in module.walk()}
    if "accel" in ops:
        split = any(isinstance(op, accel.StreamOp) for op in module.walk())
        return "binary" if split else "accel"
    if "loop" in ops:
        return "loop"
    return "graph"


def evaluate(module: ModuleOp, inputs: Mapping[str, np.ndarray]) -> Arrays:
    match level(module):
        case "graph":
            return eval_graph(module, inputs)
        case "loop":
            return eval_loop(module, inputs)
        case "accel":
            return eval_accel(module, inputs)
        case _:
            return eval_binary(module, inputs)


def random_inputs(module: ModuleOp, seed: int = 0) -> Arrays:
    shapes, _ = signature(module)
    rng = np.random.default_rng(seed)
    return {n: rng.standard_normal(s).astype(np.float32) for n, s in shapes.items()}


class NumericsMismatch(Exception):
    """A pass changed what the program computes; the message names the pass."""


@dataclass
class NumericsChecker:
    """Evaluate the module after every pass and compare with the first evaluation.

    `tolerance`: max|err| <= tolerance * max|reference| per output."""

    inputs: Mapping[str, np.ndarray]
    tolerance: float = 1e-3
    reference: Arrays | None = None
    log: list[str] = field(default_factory=list)

    def start(self, module: ModuleOp) -> None:
        """Evaluate the reference. Raises InputError (one line naming the input, what
        the module takes and what was given) if the inputs do not fit the module."""
        if level(module) in ("graph", "loop"):
            check_inputs(signature(module)[0], self.inputs)
        self.reference = evaluate(module, self.inputs)
        self.log.append(f"numerics: {level(module)} level evaluated (reference)")

    def after(self, pass_name: str, module: ModuleOp) -> None:
        assert self.reference is not None
        got = evaluate(module, self.inputs)
        for name, ref in self.reference.items():
            if name not in got:
                raise NumericsMismatch(f"numerics: after '{pass_name}', output '{name}' is missing")
            err = float(np.abs(got[name] - ref).max()) if ref.size else 0.0
            bound = self.tolerance * float(np.abs(ref).max()) + 1e-6
            if not err <= bound:  # also catches NaN
                raise NumericsMismatch(
                    f"numerics: '{pass_name}' changed the result: output '{name}' "
                    f"max|err| {err:.3g} > {bound:.3g} ({level(module)} level vs reference)"
                )
        self.log.append(f"numerics: after '{pass_name}' ({level(module)} level): agrees")

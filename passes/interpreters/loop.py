"""Loop level: an interpreter of loop nests over DRAM buffers and symbolic tiles
(`eval_loop`), and the access-pattern views and instruction semantics it shares with
the accel interpreter."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
from tidal.dialects import loop
from tidal.dialects.accel import AccessAttr
from tidal.passes.interpreters.common import Arrays, CannotEvaluate
from tidal.passes.interpreters.graph import _function, signature
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, SSAValue

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



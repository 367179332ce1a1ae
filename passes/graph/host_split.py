"""Split a partitioned graph function into accelerator segments and host ops.

Expects a graph-level module after graph-partition (every op has `tidal.placement`).
Consecutive accelerator ops form one segment, a function of its own (its arguments
are the tensors it reads from outside, its results the tensors used after it, all
named with `tidal.name`), which compiles to its own binary; each host op runs with
NumPy (its op registry entry's reference, `onnx_ops.host_eval`). `tidal-run` runs the segments in order over a
table of named tensors. Constants are cloned into every accelerator segment that
uses them and read directly by host ops.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xdsl.dialects import func
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, ModuleOp, StringAttr
from xdsl.ir import Block, Operation, Region, SSAValue

from tidal.dialects import graph
from tidal.passes.graph.partition import PLACEMENT


@dataclass
class Segment:
    """`kind` accel: `module` holds one func.func; host: `op` is the graph op."""

    kind: str
    inputs: list[str]
    outputs: list[str]
    module: ModuleOp | None = None
    op: Operation | None = None
    constants: dict[str, Operation] = field(default_factory=dict)


def _is_host(op: Operation) -> bool:
    attr = op.attributes.get(PLACEMENT)
    return isinstance(attr, StringAttr) and attr.data == "host"


def _names(fn: func.FuncOp) -> dict[SSAValue, str]:
    """A unique name for every tensor: ONNX names for arguments and results."""
    names: dict[SSAValue, str] = {}
    for i, arg in enumerate(fn.body.block.args):
        entry = fn.arg_attrs.data[i] if fn.arg_attrs else None
        name = entry.data.get("tidal.name") if isinstance(entry, DictionaryAttr) else None
        names[arg] = name.data if isinstance(name, StringAttr) else f"arg{i}"
    ret = fn.body.block.last_op
    assert isinstance(ret, func.ReturnOp)
    for i, v in enumerate(ret.arguments):
        entry = fn.res_attrs.data[i] if fn.res_attrs else None
        name = entry.data.get("tidal.name") if isinstance(entry, DictionaryAttr) else None
        if v not in names:
            names[v] = name.data if isinstance(name, StringAttr) else f"result{i}"
    for n, op in enumerate(fn.body.block.ops):
        for r in op.results:
            names.setdefault(r, f"%{n}.{r.index}")
    return names


def result_names(fn: func.FuncOp) -> list[str]:
    names = _names(fn)
    ret = fn.body.block.last_op
    return [names[v] for v in ret.operands]  # type: ignore[union-attr]


def _named(names: list[str]) -> ArrayAttr[DictionaryAttr]:
    return ArrayAttr([DictionaryAttr({"tidal.name": StringAttr(n)}) for n in names])


def _accel_segment(ops: list[Operation], names: dict[SSAValue, str], used_later: set[SSAValue]) -> Segment:
    defined = {r for op in ops for r in op.results}
    inputs: list[SSAValue] = []
    constants: list[Operation] = []
    for op in ops:
        for v in op.operands:
            if v in defined or v in inputs:
                continue
            owner = v.owner
            if isinstance(owner, graph.ConstantOp):
                if owner not in constants:
                    constants.append(owner)
            else:
                inputs.append(v)
    outputs = [r for op in ops for r in op.results if r in used_later]
    block = Block(arg_types=[v.type for v in inputs])
    mapper: dict[SSAValue, SSAValue] = dict(zip(inputs, block.args))
    for c in constants:
        block.add_op(c.clone(value_mapper=mapper))
    for op in ops:
        block.add_op(op.clone(value_mapper=mapper))
    block.add_op(func.ReturnOp(*(mapper[v] for v in outputs)))
    fn = func.FuncOp(
        "main",
        ([v.type for v in inputs], [v.type for v in outputs]),
        Region(block),
        arg_attrs=_named([names[v] for v in inputs]),
        res_attrs=_named([names[v] for v in outputs]),
    )
    return Segment(
        "accel", [names[v] for v in inputs], [names[v] for v in outputs], module=ModuleOp([fn])
    )


def split_host(module: ModuleOp) -> list[Segment] | None:
    """The segments of the module's function in order, or None when no op is on
    the host (then the whole module is one accelerator program)."""
    fn = next(op for op in module.body.block.ops if isinstance(op, func.FuncOp))
    body = [op for op in fn.body.block.ops if not isinstance(op, func.ReturnOp)]
    if not any(_is_host(op) for op in body):
        return None
    names = _names(fn)
    ret = fn.body.block.last_op
    assert isinstance(ret, func.ReturnOp)

    groups: list[list[Operation]] = []
    for op in body:
        if isinstance(op, graph.ConstantOp):
            continue
        if _is_host(op) or not groups or _is_host(groups[-1][0]):
            groups.append([op])
        else:
            groups[-1].append(op)

    segments: list[Segment] = []
    for i, group in enumerate(groups):
        later = {v for g in groups[i + 1 :] for op in g for v in op.operands}
        later |= set(ret.arguments)
        if _is_host(group[0]):
            op = group[0]
            consts = {
                names[v]: v.owner for v in op.operands if isinstance(v.owner, graph.ConstantOp)
            }
            segments.append(
                Segment(
                    "host",
                    [names[v] for v in op.operands],
                    [names[r] for r in op.results],
                    op=op,
                    constants=consts,  # type: ignore[arg-type]
                )
            )
        else:
            segments.append(_accel_segment(group, names, later))
    return segments

"""Split a partitioned graph function into accelerator segments, host ops and
framework segments.

Expects a graph-level module after graph-partition (every op has `tidal.placement`).
The ops are first ordered so that each tier's ops run together where dependences
allow (a topological order that stays on the current tier while it has ready ops,
ties by program order). Consecutive accelerator ops then form one segment, a function
of its own (its arguments are the tensors it reads from outside, its results the
tensors used after it, all named with `tidal.name`), which compiles to its own
binary; each host op runs with NumPy (its op registry entry's reference,
`onnx_ops.host_eval`); consecutive framework ops (`graph.onnx_node`) form one ONNX
model that onnxruntime runs (`targets/framework.FrameworkModel`). `tidal-run` runs
the segments in order over a table of named tensors. Constants are cloned into every
accelerator segment that uses them and read directly by host and framework segments.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xdsl.dialects import func
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, ModuleOp, StringAttr
from xdsl.ir import Block, Operation, Region, SSAValue

from tidal.dialects import graph
from tidal.passes.graph.partition import PLACEMENT
from tidal.targets.framework import FrameworkModel


@dataclass
class Segment:
    """`kind` accel: `module` holds one func.func; host: `op` is the graph op;
    framework: `framework` runs the ops (`ops`) with onnxruntime."""

    kind: str
    inputs: list[str]
    outputs: list[str]
    module: ModuleOp | None = None
    op: Operation | None = None
    constants: dict[str, Operation] = field(default_factory=dict)
    ops: list[Operation] = field(default_factory=list)
    framework: FrameworkModel | None = None


def _tier(op: Operation) -> str:
    attr = op.attributes.get(PLACEMENT)
    return attr.data if isinstance(attr, StringAttr) else "accel"


def _is_host(op: Operation) -> bool:
    return _tier(op) == "host"


def tier_order(ops: list[Operation]) -> list[Operation]:
    """`ops` (a block's, in a valid order) reordered so that each tier's ops run
    together where the dependences allow: among the ops whose operands are all
    defined, the first in program order on the current tier runs next; when the
    tier has none, the first ready op of any tier."""
    index = {op: i for i, op in enumerate(ops)}
    waiting = {
        op: {v.owner for v in op.operands if v.owner in index} for op in ops
    }
    users: dict[Operation, list[Operation]] = {op: [] for op in ops}
    for op, deps in waiting.items():
        for d in deps:
            users[d].append(op)  # type: ignore[index]
    ready = sorted((op for op in ops if not waiting[op]), key=index.__getitem__)
    order: list[Operation] = []
    tier = _tier(ready[0]) if ready else "accel"
    while ready:
        pick = next((op for op in ready if _tier(op) == tier), ready[0])
        tier = _tier(pick)
        ready.remove(pick)
        order.append(pick)
        for user in users[pick]:
            waiting[user].discard(pick)
            if not waiting[user]:
                ready.append(user)
        ready.sort(key=index.__getitem__)
    assert len(order) == len(ops), "the ops' dependences have a cycle"
    return order


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


def result_names(fn: func.FuncOp) -> list[tuple[str, str]]:
    """Each result's declared name (`tidal.name`) and the name of the value the
    segments compute for it: the two differ where one value is returned under
    several names (an Identity, a Tile by ones) or is an input. A constant result
    (folded by graph-canonicalize) is no segment's: `constant_results` has it."""
    names = _names(fn)
    ret = fn.body.block.last_op
    assert isinstance(ret, func.ReturnOp)
    declared = []
    for i, v in enumerate(ret.operands):
        entry = fn.res_attrs.data[i] if fn.res_attrs else None
        name = entry.data.get("tidal.name") if isinstance(entry, DictionaryAttr) else None
        declared.append((name.data if isinstance(name, StringAttr) else f"result{i}", names[v]))
    return declared


def constant_results(fn: func.FuncOp) -> dict[str, Operation]:
    """The function's results that are constants, by the name `result_names` gives
    their values (no segment computes them)."""
    names = _names(fn)
    ret = fn.body.block.last_op
    assert isinstance(ret, func.ReturnOp)
    return {
        names[v]: v.owner for v in ret.operands if isinstance(v.owner, graph.ConstantOp)
    }


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


def _framework_segment(
    ops: list[Operation], names: dict[SSAValue, str], used_later: set[SSAValue]
) -> Segment:
    defined = {r for op in ops for r in op.results}
    inputs = list(dict.fromkeys(v for op in ops for v in op.operands if v not in defined))
    outputs = [r for op in ops for r in op.results if r in used_later]
    runner = FrameworkModel(
        ops,  # type: ignore[arg-type]
        [(names[v], v) for v in inputs],
        [(names[v], v) for v in outputs],
    )
    constants = {names[v]: v.owner for v in inputs if isinstance(v.owner, graph.ConstantOp)}
    return Segment(
        "framework",
        [names[v] for v in inputs],
        [names[v] for v in outputs],
        constants=constants,  # type: ignore[arg-type]
        ops=ops,
        framework=runner,
    )


def split_host(module: ModuleOp) -> list[Segment] | None:
    """The segments of the module's function in order, or None when every op is on
    the accelerator (then the whole module is one accelerator program)."""
    fn = next(op for op in module.body.block.ops if isinstance(op, func.FuncOp))
    body = [op for op in fn.body.block.ops if not isinstance(op, func.ReturnOp)]
    if all(_tier(op) == "accel" for op in body):
        return None
    names = _names(fn)
    ret = fn.body.block.last_op
    assert isinstance(ret, func.ReturnOp)

    groups: list[list[Operation]] = []
    for op in tier_order([op for op in body if not isinstance(op, graph.ConstantOp)]):
        if _is_host(op) or not groups or _tier(groups[-1][0]) != _tier(op):
            groups.append([op])
        else:
            groups[-1].append(op)

    segments: list[Segment] = []
    for i, group in enumerate(groups):
        later = {v for g in groups[i + 1 :] for op in g for v in op.operands}
        later |= set(ret.arguments)
        if _tier(group[0]) == "framework":
            segments.append(_framework_segment(group, names, later))
        elif _is_host(group[0]):
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

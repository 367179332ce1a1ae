"""graph-partition: place every graph op on the accelerator, on the host, or refuse it.

Hierarchical partitioning (after the seed patent "hierarchical partitioning of
operators"): each op goes to the first tier that can run it.

1. `accel`: the op registry (`targets/onnx_ops.py`) names a kernel for it and the
   kernel's `plan` for the chip preset is a `TilePlan` (its tiles fit); nothing is
   lowered to decide.
2. `host`: the registry has a NumPy reference for it; the reason is the kernel's
   `Refusal` (or that there is no kernel), saying why the accelerator cannot.
3. `framework`: a `graph.onnx_node`, which the importer made of an ONNX node that no
   builder imports (or whose values are not static f32 tensors); tidal-run runs it,
   with its neighbours of the same tier, as an ONNX model in onnxruntime. Its reason
   is the importer's (`tidal.reason`).
4. `reject`: nothing can; the pass fails naming the op, its origin and why.

Expects graph ops on static f32 tensors, after graph-canonicalize. Every op except
constants gets two discardable attributes:

    %y = graph.lrn %x {size = 5 : i64, tidal.origin = "norm1",
                       tidal.placement = "accel",
                       tidal.reason = "PE band matmul and ACT; tiles fit chip 'default'"} : ...

`placement_report(module)` lists them (annotating first if needed) for tools.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.ir import Operation
from xdsl.utils.exceptions import PassFailedException

from tidal.dialects import graph
from tidal.passes.conversion.kernels.base import first_producer, options_for
from tidal.passes.conversion.kernels.plan import DEFAULT_OPTIONS, TilePlan
from tidal.passes.utils.chip import ChipPass
from tidal.passes.utils.expect import expect_level
from tidal.sim.config import ChipConfig, get_chip
from tidal.targets import onnx_ops

PLACEMENT = "tidal.placement"
REASON = "tidal.reason"


def _origin(op: Operation) -> str:
    attr = op.attributes.get("tidal.origin")
    return attr.data if isinstance(attr, StringAttr) else op.name


@dataclass
class Partitioner:
    """Places ops for one chip by asking each op's kernel for its plan."""

    chip_name: str

    @cached_property
    def chip(self) -> ChipConfig:
        return get_chip(self.chip_name)

    def place(self, op: Operation) -> tuple[str, str]:
        if isinstance(op, graph.FRAMEWORK_OPS):
            given = op.attributes.get(REASON)
            why = given.data if isinstance(given, StringAttr) else "an ONNX node Tidal does not import"
            return "framework", why
        if not isinstance(op, graph.GraphOp | graph.ConstantOfShapeOp):
            return "reject", f"'{op.name}' is not a graph op"
        entry = onnx_ops.graph_entry(op)
        if entry is None or entry.kernel is None:
            why_not = f"no accelerator lowering for '{op.name}'"
        else:
            planned = entry.kernel.plan(op, self.chip, options_for(op, first_producer(op), DEFAULT_OPTIONS))
            if isinstance(planned, TilePlan):
                engines = entry.engines or ""
                if engines.startswith("a "):  # views and constants: no tiles
                    return "accel", engines
                return "accel", f"{engines}; tiles fit chip '{self.chip_name}'"
            why_not = planned.reason
        if entry is not None and entry.host is not None:
            return "host", why_not
        return "reject", why_not


def _placeable(fn: func.FuncOp) -> list[Operation]:
    return [
        op
        for op in fn.body.block.ops
        if not isinstance(op, graph.ConstantOp | func.ReturnOp)
    ]


def annotate(module: ModuleOp, chip: str = "default") -> list[Operation]:
    """Set `tidal.placement` and `tidal.reason` on every op; returns the ops."""
    partitioner = Partitioner(chip)
    ops: list[Operation] = []
    for fn in module.walk():
        if not isinstance(fn, func.FuncOp):
            continue
        for op in _placeable(fn):
            placement, reason = partitioner.place(op)
            op.attributes[PLACEMENT] = StringAttr(placement)
            op.attributes[REASON] = StringAttr(reason)
            ops.append(op)
    return ops


def placement_report(module: ModuleOp, chip: str = "default") -> list[dict[str, str]]:
    """One row per op (constants aside), in program order: `op` (the graph op's
    name), `origin` (the ONNX node), `placement` (accel | host | framework | reject) and
    `reason`. Annotates the module first when graph-partition has not run."""
    rows: list[dict[str, str]] = []
    for fn in module.walk():
        if not isinstance(fn, func.FuncOp):
            continue
        ops = _placeable(fn)
        if any(PLACEMENT not in op.attributes for op in ops):
            annotate(module, chip)
        for op in ops:
            rows.append(
                {
                    "op": op.name,
                    "origin": _origin(op),
                    "placement": op.attributes[PLACEMENT].data,  # type: ignore[union-attr]
                    "reason": op.attributes[REASON].data,  # type: ignore[union-attr]
                }
            )
    return rows


def placement_counts(rows: Sequence[dict[str, str]]) -> dict[str, Any]:
    """For stats: ops per placement and the host and rejected ops by origin.

        {"accel": 120, "host": 0, "framework": 0, "reject": 0, "host_ops": [],
         "framework_ops": [], "reject_ops": []}
    """
    counts: dict[str, Any] = {"accel": 0, "host": 0, "framework": 0, "reject": 0}
    for row in rows:
        counts[row["placement"]] += 1
    counts["host_ops"] = [r["origin"] for r in rows if r["placement"] == "host"]
    counts["framework_ops"] = [r["origin"] for r in rows if r["placement"] == "framework"]
    counts["reject_ops"] = [r["origin"] for r in rows if r["placement"] == "reject"]
    return counts


@dataclass(frozen=True)
class GraphPartitionPass(ChipPass):
    """Place every graph op on the accelerator, the host or nowhere (then fail)."""

    name = "graph-partition"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        expect_level(op, self.name, "graph")
        for placed in annotate(op, self.chip):
            if placed.attributes[PLACEMENT] == StringAttr("reject"):
                reason = placed.attributes[REASON].data  # type: ignore[union-attr]
                raise PassFailedException(
                    f"graph-partition: '{_origin(placed)}' ({placed.name}) cannot run "
                    f"on the accelerator or the host: {reason}"
                )


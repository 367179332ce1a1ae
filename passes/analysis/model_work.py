"""The work a model asks of a chip, counted from the graph's shapes: the MACs of its
PE-array ops and the bytes that must cross DRAM at least once, and from them the
model's ideal roofline on a chip:

    ideal = max(macs / (pe_rows * pe_cols),
                (weight + input + output bytes) / dram_bytes_per_cycle)

No program for the model can run faster than that: every MAC needs a PE cell for one
cycle, and every weight, input and output byte crosses DRAM at least once. It is a
property of the model, not of the program: a worse program moves more bytes and runs
more cycles but keeps the same ideal (the simulator's `moved_roofline_cycles`, from
what a program executes and moves, rises with it).

    work = model_work(import_onnx(make_cnn()))  # on the module as imported
    work.macs             # 557056: conv1 221184 + conv2 294912 + fc 40960
    work.min_dram_bytes   # 181776: weights 169448 + input 12288 + output 40
    work.ideal_cycles(get_chip("default"))  # 627 = ceil(181776 / 290), vs 34 of MACs
    work.bound(get_chip("default"))         # "memory"

Count it on the graph as imported, before graph-canonicalize folds BatchNorm into
the convolutions: the weights are those of the user's file. The tools attach it to
the module as a dictionary attribute (`to_attr`, `from_attr`) so that it survives
the passes and reaches the binary's metadata.
"""

from __future__ import annotations

import math
from itertools import accumulate
from dataclasses import dataclass, fields
from typing import Literal

from tidal.dialects.graph import ConstantOp, Conv2dOp, GemmOp, MatMulOp, OnnxNodeOp
from tidal.sim.config import ChipConfig
from xdsl.dialects import func
from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    DictionaryAttr,
    StringAttr,
    IntegerAttr,
    ModuleOp,
    TensorType,
    i64,
)
from xdsl.ir import Attribute, Operation, SSAValue

Bound = Literal["compute", "memory"]


@dataclass(frozen=True)
class ModelWork:
    """MACs of the model's PE-array ops and the bytes of its weights (constants that
    ops use), inputs and outputs."""

    macs: int
    weight_bytes: int
    input_bytes: int
    output_bytes: int

    @property
    def min_dram_bytes(self) -> int:
        """Bytes every program must move through DRAM: each weight, input and output
        byte once."""
        return self.weight_bytes + self.input_bytes + self.output_bytes

    def _terms(self, chip: ChipConfig) -> tuple[float, float]:
        return (
            self.macs / (chip.pe_rows * chip.pe_cols),
            self.min_dram_bytes / chip.dram_bytes_per_cycle,
        )

    def ideal_cycles(self, chip: ChipConfig) -> int:
        """The ideal roofline on `chip`, in whole cycles (rounded up)."""
        return math.ceil(max(self._terms(chip)))

    def bound(self, chip: ChipConfig) -> Bound:
        """Which term of the ideal roofline is the larger on `chip` ("compute" on a
        tie)."""
        compute, memory = self._terms(chip)
        return "compute" if compute >= memory else "memory"

    def as_dict(self) -> dict[str, int]:
        """The four counts by field name, as the binary's META `model` holds them."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def to_attr(self) -> DictionaryAttr:
        """The counts as a dictionary of i64 attributes (a module attribute)."""
        return DictionaryAttr({k: IntegerAttr(v, i64) for k, v in self.as_dict().items()})

    @staticmethod
    def from_attr(attr: Attribute) -> ModelWork | None:
        """The counts `to_attr` wrote, or None when `attr` is not such a dictionary."""
        if not isinstance(attr, DictionaryAttr):
            return None
        values: dict[str, int] = {}
        for f in fields(ModelWork):
            v = attr.data.get(f.name)
            if not isinstance(v, IntegerAttr):
                return None
            values[f.name] = v.value.data
        return ModelWork(**values)


def _nbytes(ty: Attribute) -> int:
    """Bytes of a static tensor type (f32 on the chip; framework-tier values may be
    int64, bool, ...); 0 for a shape known only at run time."""
    if not isinstance(ty, TensorType) or DYNAMIC_INDEX in ty.get_shape():
        return 0
    width = ty.get_element_type().bitwidth  # pyright: ignore[reportAttributeAccessIssue]
    return math.prod(ty.get_shape()) * max(1, width // 8)


def op_macs(op: Operation) -> int:
    """Multiply-accumulates of one graph op on the PE array (0 for any other op):

    - conv2d: N * Cout * OH * OW * (Cin / group) * KH * KW
    - gemm, matmul: M * N * K

    Only these count because the ideal's compute term is the PE array's peak
    (pe_rows * pe_cols MACs a cycle): element-wise ops, pools, softmax and
    normalisations run on the vector engines (ACT, POOL) alongside the PE array, so
    an ideal schedule hides them, and a bias add or a BatchNorm is no MAC of a
    matrix product.
    """
    if isinstance(op, Conv2dOp):
        n, cout, oh, ow = _shape(op.result)
        _, cin_per_group, kh, kw = _shape(op.weight)
        return n * cout * oh * ow * cin_per_group * kh * kw
    if isinstance(op, GemmOp | MatMulOp):
        lhs = op.a if isinstance(op, GemmOp) else op.lhs
        a = _shape(lhs)
        k = a[0] if isinstance(op, GemmOp) and op.trans_a_val else a[-1]
        return math.prod(_shape(op.result)) * k
    if isinstance(op, OnnxNodeOp):
        return _onnx_node_macs(op)
    return 0


def _onnx_node_macs(op: OnnxNodeOp) -> int:
    """MACs of a framework-tier MatMul (batched too), Gemm or Conv (any rank) whose
    shapes are static; 0 for other nodes and for shapes known only at run time."""
    types = [v.type for v in (*op.args, *op.outs)]
    if not all(isinstance(t, TensorType) and DYNAMIC_INDEX not in t.get_shape() for t in types):
        return 0
    out = tuple(op.outs[0].type.get_shape())  # type: ignore[attr-defined]
    ins = [tuple(v.type.get_shape()) for v in op.args]  # type: ignore[attr-defined]
    kind = op.op_type_val
    if kind == "MatMul" and len(ins) == 2 and ins[0]:
        return math.prod(out) * ins[0][-1]
    if kind == "Gemm" and len(ins) >= 2 and len(ins[0]) == 2:
        import onnx

        node = onnx.load_from_string(op.model_bytes()).graph.node[0]
        trans_a = any(a.name == "transA" and a.i for a in node.attribute)
        return math.prod(out) * ins[0][0 if trans_a else 1]
    if kind == "Conv" and len(ins) >= 2 and len(ins[1]) >= 3:
        return math.prod(out) * math.prod(ins[1][1:])
    return 0


def _shape(value: SSAValue) -> tuple[int, ...]:
    ty = value.type
    assert isinstance(ty, TensorType)
    return tuple(ty.get_shape())


def model_work(module: ModuleOp) -> ModelWork:
    """The work of a graph-level module (func.func of graph ops): MACs of its
    conv2d, gemm and matmul ops (`op_macs`), bytes of the constants that ops use
    (a constant without a user is not loaded), and bytes of the functions' arguments
    and results."""
    macs = weight_bytes = input_bytes = output_bytes = 0
    for op in module.walk():
        if isinstance(op, ConstantOp):
            if op.result.uses:
                weight_bytes += _nbytes(op.result.type)
        elif isinstance(op, func.FuncOp):
            input_bytes += sum(_nbytes(t) for t in op.function_type.inputs.data)
            output_bytes += sum(_nbytes(t) for t in op.function_type.outputs.data)
        else:
            macs += op_macs(op)
    return ModelWork(macs, weight_bytes, input_bytes, output_bytes)


def capacity_bound_cycles(module: ModuleOp, chip: ChipConfig) -> int:
    """A tighter lower bound than the ideal roofline when a model's weights do not
    fit on chip: cycles, at least `model_work(module).ideal_cycles(chip)`.

    The weights of layers that have not started can only wait in SBUF and PSUM.
    Take the PE-array ops (`op_macs`) in program order, c_i their cycles at the
    array's peak and w_i the bytes of the constants they use first, and a schedule
    that runs them in that order with at most two neighbours in flight (layer k
    starts once layer k - 2 has finished: a layer-by-layer schedule, as Tidal's
    nests run, the next one's first tiles beside this one's last; for a graph with
    branches, in the order the graph lists its ops). When layer k - 2 finishes, no less than
    sum(c_i, i <= k - 2) cycles in, layers k on have not started, so at most
    `capacity` (the chip's SBUF and PSUM bytes) of their weights are loaded, and
    the rest still has to cross DRAM:

        cycles >= max over k of  sum(c_i, i < k - 1) + (sum(w_i, i >= k) - capacity) / dram_bytes_per_cycle

    A property of the model and the chip, like the ideal. VGG-19 on the default
    chip: its classifier's 478 MB of weights stream after its convolutions' compute,
    1.40x the ideal; a model whose weights fit on chip gets the ideal itself.

        capacity_bound_cycles(import_onnx(vgg19), get_chip("default"))  # 2,786,860
    """
    peak = chip.pe_rows * chip.pe_cols
    capacity = (
        chip.sbuf_partitions * chip.sbuf_partition_bytes
        + chip.psum_partitions * chip.psum_partition_bytes
    )
    steps: list[tuple[float, int]] = []  # (PE cycles at peak, new weight bytes)
    seen: set[int] = set()
    for op in module.walk():
        macs = op_macs(op)
        if not macs:
            continue
        fresh = 0
        for operand in op.operands:
            owner = operand.owner
            if isinstance(owner, ConstantOp) and id(owner) not in seen:
                seen.add(id(owner))
                fresh += _nbytes(owner.result.type)
        steps.append((macs / peak, fresh))
    best = float(model_work(module).ideal_cycles(chip))
    # compute[j]: cycles of the ops before j; weights[k]: bytes of the ops from k on
    compute = list(accumulate((c for c, _ in steps), initial=0.0))
    weights = list(accumulate((w for _, w in reversed(steps)), initial=0))[::-1]
    for k in range(len(steps) + 1):
        streamed = max(0, weights[k] - capacity) / chip.dram_bytes_per_cycle
        best = max(best, compute[max(0, k - 1)] + streamed)
    return math.ceil(best)


def macs_by_placement(module: ModuleOp) -> dict[str, int]:
    """The model's MACs (`op_macs`) by the tier graph-partition placed each op on:
    {"accel": ..., "host": ..., "framework": ...}."""
    out = {"accel": 0, "host": 0, "framework": 0}
    for op in module.walk():
        placement = op.attributes.get("tidal.placement")
        if isinstance(placement, StringAttr) and placement.data in out:
            out[placement.data] += op_macs(op)
    return out

"""ONNX import: an ONNX model (opset 9 or later) -> a module of `graph` ops.

The result is one function over static f32 tensors:

    builtin.module {
      func.func @main(%input: tensor<8x784xf32> {tidal.name = "input"})
          -> (tensor<8x10xf32> {tidal.name = "probs"}) {
        %w = graph.constant dense<...> : tensor<512x784xf32>
        %h = graph.gemm %input, %w, %b {trans_b = 1 : i64, tidal.origin = "fc1"} : ...
        ...
        func.return %probs : tensor<8x10xf32>
      }
    }

Function arguments are the graph inputs that are not initializers (old-style graphs
list their initializers as inputs too), results the graph outputs; both carry their
ONNX names as `tidal.name`. Every op carries the ONNX node
it came from as `tidal.origin` (the node name, or `<OpType>_<index>` if unnamed).
Float initializers and Constant nodes become `graph.constant` where they are used as
data; integer constants used as shapes (Reshape's) are folded. Graph inputs must have
static shapes; every other shape comes from ONNX shape inference, or, where that left
a dimension symbolic, from the graph op's own inference. The checker and shape
inference see the model without its large weights (declared as inputs), so that a
500 MB model is not serialised twice. Ops that inference makes trivial (Dropout,
ConstantOfShape, Unsqueeze, BatchNormalization) are imported as graph ops and folded
by graph-canonicalize. Anything unsupported raises `OnnxImportError` with one line
naming the node, the tensor or the file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from math import prod
from typing import Any, NoReturn

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import numpy_helper
from tidal.dialects.graph import (
    AddOp,
    AvgPoolOp,
    BatchNormOp,
    ConcatOp,
    ConstantOfShapeOp,
    ConstantOp,
    Conv2dOp,
    DropoutOp,
    FlattenOp,
    GemmOp,
    GlobalAvgPoolOp,
    LRNOp,
    MatMulOp,
    MaxPoolOp,
    MulOp,
    ReluOp,
    ReshapeOp,
    SoftmaxOp,
    SumOp,
    TransposeOp,
    UnsqueezeOp,
)
from xdsl.dialects.builtin import (
    ArrayAttr,
    DictionaryAttr,
    ModuleOp,
    StringAttr,
    TensorType,
    f32,
)
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.utils.exceptions import VerifyException

MIN_OPSET = 9


class OnnxImportError(ValueError):
    """An ONNX model that Tidal cannot import; the message is one line."""


class _UnknownShape(OnnxImportError):
    """A tensor whose shape ONNX did not infer statically."""


# --------------------------------------------------------------------------- loading


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def _load(
    model: onnx.ModelProto | str | os.PathLike[str],
) -> tuple[onnx.ModelProto, str]:
    """The model and the label its errors start with (its path, or its graph name)."""
    if isinstance(model, onnx.ModelProto):
        return model, f"model '{model.graph.name or '<unnamed>'}'"
    label = os.fspath(model)
    try:
        return onnx.load(label), label  # also reads external weight files
    except OSError as e:
        raise OnnxImportError(f"{label}: cannot read ({e.strerror or e})") from None
    except (DecodeError, ValueError, RuntimeError) as e:
        raise OnnxImportError(
            f"{label}: not a valid ONNX model ({_first_line(e)})"
        ) from None


# Float initializers above this many bytes are left out of checking and inference.
_SKELETON_BYTES = 4096


def _skeleton(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model with its large float initializers turned into typed graph inputs.

    The checker and shape inference serialise the whole model, weights included (a
    second or more per 100 MB); they need only the weights' types, which an input
    declares as well. Integer initializers (shapes that inference reads) stay.
    """
    graph = model.graph
    big = [
        t
        for t in graph.initializer
        if t.data_type == onnx.TensorProto.FLOAT
        and (len(t.raw_data) > _SKELETON_BYTES or len(t.float_data) * 4 > _SKELETON_BYTES)
    ]
    if not big:
        return model
    names = {t.name for t in big}
    skeleton = onnx.ModelProto()
    skeleton.CopyFrom(model)
    kept = [t for t in skeleton.graph.initializer if t.name not in names]
    del skeleton.graph.initializer[:]
    skeleton.graph.initializer.extend(kept)
    declared = {i.name for i in skeleton.graph.input}
    skeleton.graph.input.extend(
        onnx.helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
        for t in big
        if t.name not in declared
    )
    return skeleton


def _check_and_infer(model: onnx.ModelProto, label: str) -> onnx.ModelProto:
    """Check the model, then return it with every intermediate shape inferred (the
    large weights are only declared: see `_skeleton`)."""
    try:
        skeleton = _skeleton(model)
        onnx.checker.check_model(skeleton)
        return onnx.shape_inference.infer_shapes(skeleton, strict_mode=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as e:
        raise OnnxImportError(
            f"{label}: not a valid ONNX model ({_first_line(e)})"
        ) from None


def _opset(model: onnx.ModelProto, label: str) -> int:
    version = next(
        (o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0
    )
    if version < MIN_OPSET:
        raise OnnxImportError(
            f"{label}: unsupported opset {version} (need {MIN_OPSET} or later)"
        )
    return version


# ----------------------------------------------------------------------------- types


def _tensor_type(name: str, type_proto: onnx.TypeProto | None) -> TensorType:
    """The static f32 tensor type of an ONNX value, or OnnxImportError naming it."""
    if type_proto is None or not type_proto.HasField("tensor_type"):
        raise _UnknownShape(f"tensor '{name}' has no inferred type")
    tensor = type_proto.tensor_type
    if tensor.elem_type != onnx.TensorProto.FLOAT:
        elem = onnx.TensorProto.DataType.Name(tensor.elem_type)
        raise OnnxImportError(
            f"tensor '{name}' has element type {elem} (only FLOAT is supported)"
        )
    if not tensor.HasField("shape"):
        raise _UnknownShape(f"tensor '{name}' has an unknown rank")
    dims = [
        str(d.dim_value) if d.HasField("dim_value") else (d.dim_param or "?")
        for d in tensor.shape.dim
    ]
    if not all(d.isdigit() and int(d) > 0 for d in dims):
        raise _UnknownShape(
            f"tensor '{name}' has a dynamic shape [{', '.join(dims)}] "
            "(all shapes must be static)"
        )
    return TensorType(f32, [int(d) for d in dims])


def _name_hint(onnx_name: str) -> str | None:
    """An SSA name close to the ONNX name, so the IR reads like the model."""
    hint = re.sub(r"[^A-Za-z0-9_$.-]", "_", onnx_name)
    if not hint:
        return None
    return hint if not hint[0].isdigit() else f"v{hint}"


# ------------------------------------------------------------------------ the importer


class _Importer:
    """Walks the (topologically ordered) ONNX nodes, appending graph ops to one block."""

    def __init__(
        self, model: onnx.ModelProto, opset: int, initializers: Sequence[onnx.TensorProto]
    ):
        graph = model.graph
        self.graph = graph
        self.opset = opset
        self.types: dict[str, onnx.TypeProto] = {
            vi.name: vi.type for vi in [*graph.input, *graph.value_info, *graph.output]
        }
        self.consts: dict[str, np.ndarray] = {}
        for t in initializers:
            try:
                self.consts[t.name] = numpy_helper.to_array(t)
            except (ValueError, TypeError) as e:
                raise OnnxImportError(
                    f"initializer '{t.name}': malformed data ({_first_line(e)})"
                ) from None
        self.const_origin: dict[str, str] = {name: name for name in self.consts}
        self.values: dict[str, SSAValue] = {}
        self.used: set[str] = {o.name for o in graph.output}
        self.used.update(name for node in graph.node for name in node.input)
        self.block = Block()

    def run(self) -> ModuleOp:
        inputs = [i for i in self.graph.input if i.name not in self.consts]
        for graph_input in inputs:
            arg = self.block.insert_arg(
                _tensor_type(graph_input.name, graph_input.type), len(self.block.args)
            )
            arg.name_hint = _name_hint(graph_input.name)
            self.values[graph_input.name] = arg
        for index, node in enumerate(self.graph.node):
            self._convert(_Node(self, node, index))
        outputs = [self.value(o.name, None) for o in self.graph.output]
        self.block.add_op(ReturnOp(*outputs))
        func = FuncOp(
            "main",
            (self.block.arg_types, [v.type for v in outputs]),
            Region(self.block),
            arg_attrs=_name_attrs(i.name for i in inputs),
            res_attrs=_name_attrs(o.name for o in self.graph.output),
        )
        module = ModuleOp([func])
        module.verify()
        return module

    def _convert(self, node: _Node) -> None:
        op_type = node.proto.op_type
        if node.proto.domain not in ("", "ai.onnx"):
            node.fail("unsupported operator")
        if op_type == "Constant":
            self.consts[node.proto.output[0]] = _constant_value(node)
            self.const_origin[node.proto.output[0]] = node.label
            return
        converter = _CONVERTERS.get(op_type)
        if converter is None:
            node.fail("unsupported operator")
        try:
            result = converter(node)
        except VerifyException as e:  # a builder's shape inference
            node.fail(str(e))
        if result is not None:
            self.values[node.proto.output[0]] = result

    def value(self, name: str, node: _Node | None) -> SSAValue:
        """The SSA value of an ONNX tensor, materialising constants at first use."""
        if name in self.values:
            return self.values[name]
        if name not in self.consts:
            raise OnnxImportError(f"tensor '{name}' is not produced by any node")
        array = self.consts[name]
        if array.dtype != np.float32:
            message = (
                f"tensor '{name}' has element type {array.dtype} as data "
                "(only float32 is supported)"
            )
            if node is not None:
                node.fail(message)
            raise OnnxImportError(message)
        constant = ConstantOp.from_numpy(array)
        constant.attributes["tidal.origin"] = StringAttr(self.const_origin[name])
        constant.result.name_hint = _name_hint(name)
        self.block.add_op(constant)
        self.values[name] = constant.result
        return constant.result


def _name_attrs(names: Any) -> ArrayAttr[DictionaryAttr]:
    return ArrayAttr(
        [DictionaryAttr({"tidal.name": StringAttr(name)}) for name in names]
    )


@dataclass
class _Node:
    """One ONNX node being converted: its operands, attributes and diagnostics."""

    importer: _Importer
    proto: onnx.NodeProto
    index: int

    @property
    def label(self) -> str:
        return self.proto.name or f"{self.proto.op_type}_{self.index}"

    def fail(self, message: str) -> NoReturn:
        raise OnnxImportError(
            f"node '{self.label}' (op {self.proto.op_type}): {message}"
        )

    def unsupported(self, attribute: str, value: object) -> NoReturn:
        self.fail(f"unsupported attribute {attribute}={value}")

    # -- operands

    def has_input(self, i: int) -> bool:
        return i < len(self.proto.input) and self.proto.input[i] != ""

    def input(self, i: int) -> SSAValue:
        if not self.has_input(i):
            self.fail(f"missing input #{i}")
        return self.importer.value(self.proto.input[i], self)

    def optional_input(self, i: int) -> SSAValue | None:
        return self.input(i) if self.has_input(i) else None

    def const_input(self, i: int) -> np.ndarray:
        if not self.has_input(i) or self.proto.input[i] not in self.importer.consts:
            self.fail(f"input #{i} must be a constant")
        return self.importer.consts[self.proto.input[i]]

    def input_shape(self, i: int) -> tuple[int, ...]:
        ty = self.input(i).type
        assert isinstance(ty, TensorType)
        return ty.get_shape()

    # -- attributes

    def attr(self, name: str, default: Any) -> Any:
        for a in self.proto.attribute:
            if a.name == name:
                value = onnx.helper.get_attribute_value(a)
                return value.decode() if isinstance(value, bytes) else value
        return default

    def ints(self, name: str, default: Sequence[int]) -> tuple[int, ...]:
        return tuple(int(v) for v in self.attr(name, default))

    # -- results

    def out_type(self, i: int = 0) -> TensorType | None:
        """The type ONNX inferred for output `i`, or None where ONNX left it dynamic
        (the inputs are static, so the op's builder infers it instead)."""
        name = self.proto.output[i]
        try:
            return _tensor_type(name, self.importer.types.get(name))
        except _UnknownShape:
            return None
        except OnnxImportError as e:
            self.fail(str(e))

    def emit(self, op: Operation, output: str | None = None) -> SSAValue:
        """Append `op` tagged with this node, check it, and return its result."""
        try:
            op.verify()
        except VerifyException as e:
            self.fail(str(e))
        op.attributes["tidal.origin"] = StringAttr(self.label)
        op.results[0].name_hint = _name_hint(output or self.proto.output[0])
        self.importer.block.add_op(op)
        return op.results[0]

    def reject_used_output(self, i: int) -> None:
        if i < len(self.proto.output) and self.proto.output[i] in self.importer.used:
            self.fail(f"unsupported use of output #{i} '{self.proto.output[i]}'")

    def alias_input(self) -> None:
        """Bind output 0 to input 0 (Identity, inference Dropout)."""
        source, target = self.proto.input[0], self.proto.output[0]
        if source in self.importer.consts and source not in self.importer.values:
            self.importer.consts[target] = self.importer.consts[source]
            self.importer.const_origin[target] = self.importer.const_origin[source]
            return
        self.importer.values[target] = self.input(0)


# ------------------------------------------------------------------------ converters


def _constant_value(node: _Node) -> np.ndarray:
    for a in node.proto.attribute:
        if a.name == "value":
            return numpy_helper.to_array(a.t)
        if a.name in ("value_float", "value_floats"):
            return np.array(onnx.helper.get_attribute_value(a), dtype=np.float32)
        if a.name in ("value_int", "value_ints"):
            return np.array(onnx.helper.get_attribute_value(a), dtype=np.int64)
        node.fail(f"unsupported attribute {a.name}")
    node.fail("missing value attribute")


def _explicit_pads(
    node: _Node,
    spatial: Sequence[int],
    kernel: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
) -> tuple[int, ...]:
    """ONNX pads (top, left, bottom, right), resolving auto_pad."""
    auto_pad = node.attr("auto_pad", "NOTSET")
    if auto_pad == "NOTSET":
        return node.ints("pads", (0,) * (2 * len(spatial)))
    if auto_pad == "VALID":
        return (0,) * (2 * len(spatial))
    if auto_pad not in ("SAME_UPPER", "SAME_LOWER"):
        node.unsupported("auto_pad", auto_pad)
    begins: list[int] = []
    ends: list[int] = []
    for size, k, s, d in zip(spatial, kernel, strides, dilations, strict=False):
        out = -(-size // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
        begin = total // 2 if auto_pad == "SAME_UPPER" else total - total // 2
        begins.append(begin)
        ends.append(total - begin)
    return (*begins, *ends)


def _check_2d(node: _Node, shape: Sequence[int]) -> None:
    if len(shape) != 4:
        node.fail(f"unsupported input rank {len(shape)} (only 2-D NCHW)")


def _conv(node: _Node) -> SSAValue:
    x_shape, w_shape = node.input_shape(0), node.input_shape(1)
    _check_2d(node, x_shape)
    kernel = w_shape[2:]
    if node.ints("kernel_shape", kernel) != kernel:
        node.fail(
            f"kernel_shape {list(node.ints('kernel_shape', kernel))} does not "
            f"match the weight shape {list(w_shape)}"
        )
    strides = node.ints("strides", (1, 1))
    dilations = node.ints("dilations", (1, 1))
    pads = _explicit_pads(node, x_shape[2:], kernel, strides, dilations)
    return node.emit(
        Conv2dOp(
            node.input(0),
            node.input(1),
            node.optional_input(2),
            strides=strides,
            pads=pads,
            dilations=dilations,
            group=int(node.attr("group", 1)),
            result_type=node.out_type(),
        )
    )


def _gemm(node: _Node) -> SSAValue:
    return node.emit(
        GemmOp(
            node.input(0),
            node.input(1),
            node.optional_input(2),
            alpha=float(node.attr("alpha", 1.0)),
            beta=float(node.attr("beta", 1.0)),
            trans_a=bool(node.attr("transA", 0)),
            trans_b=bool(node.attr("transB", 0)),
            result_type=node.out_type(),
        )
    )


def _matmul(node: _Node) -> SSAValue:
    ranks = (len(node.input_shape(0)), len(node.input_shape(1)))
    if ranks != (2, 2):
        node.fail(f"unsupported operand ranks {ranks[0]} and {ranks[1]} (only 2-D)")
    return node.emit(MatMulOp(node.input(0), node.input(1), node.out_type()))


def _add(node: _Node) -> SSAValue:
    return node.emit(AddOp(node.input(0), node.input(1), node.out_type()))


def _mul(node: _Node) -> SSAValue:
    return node.emit(MulOp(node.input(0), node.input(1), node.out_type()))


def _relu(node: _Node) -> SSAValue:
    return node.emit(ReluOp(node.input(0), node.out_type()))


def _maxpool(node: _Node) -> SSAValue:
    x_shape = node.input_shape(0)
    _check_2d(node, x_shape)
    for name in ("ceil_mode", "storage_order"):
        if (value := node.attr(name, 0)) != 0:
            node.unsupported(name, value)
    dilations = node.ints("dilations", (1, 1))
    if any(d != 1 for d in dilations):
        node.unsupported("dilations", list(dilations))
    node.reject_used_output(1)
    kernel = node.ints("kernel_shape", ())
    strides = node.ints("strides", (1, 1))
    pads = _explicit_pads(node, x_shape[2:], kernel, strides, (1, 1))
    return node.emit(
        MaxPoolOp(
            node.input(0),
            kernel_shape=kernel,
            strides=strides,
            pads=pads,
            result_type=node.out_type(),
        )
    )


def _reshape(node: _Node) -> SSAValue:
    in_shape = node.input_shape(0)
    requested = [int(d) for d in node.const_input(1).reshape(-1)]
    allow_zero = int(node.attr("allowzero", 0))
    if allow_zero and 0 in requested:
        node.unsupported("allowzero", allow_zero)
    shape = [
        in_shape[i] if d == 0 and i < len(in_shape) else d
        for i, d in enumerate(requested)
    ]
    if shape.count(-1) > 1 or any(d == 0 or d < -1 for d in shape):
        node.fail(f"invalid shape {requested} for input shape {list(in_shape)}")
    if -1 in shape:
        known = prod(d for d in shape if d != -1)
        shape[shape.index(-1)] = prod(in_shape) // known
    return node.emit(ReshapeOp(node.input(0), shape))


def _flatten(node: _Node) -> SSAValue:
    rank = len(node.input_shape(0))
    axis = int(node.attr("axis", 1))
    axis = axis + rank if axis < 0 else axis
    return node.emit(FlattenOp(node.input(0), axis, node.out_type()))


def _softmax(node: _Node) -> SSAValue:
    """Opset 13 normalises along one axis; before 13, Softmax coerces the input to
    2-D at `axis` and normalises each row: a reshape sandwich unless axis is last."""
    shape = node.input_shape(0)
    rank = len(shape)
    axis = int(node.attr("axis", -1 if node.importer.opset >= 13 else 1))
    axis = axis + rank if axis < 0 else axis
    if node.importer.opset >= 13 or axis == rank - 1:
        return node.emit(SoftmaxOp(node.input(0), axis, node.out_type()))
    rows = node.proto.output[0] + ".rows"
    flat = node.emit(
        ReshapeOp(node.input(0), (prod(shape[:axis]), prod(shape[axis:]))), rows
    )
    normalised = node.emit(SoftmaxOp(flat, 1), rows)
    return node.emit(ReshapeOp(normalised, node.out_type() or shape))


def _identity(node: _Node) -> None:
    node.alias_input()


def _dropout(node: _Node) -> SSAValue:
    """Inference dropout: `graph.dropout` (the identity), which canonicalisation
    drops; the ratio is an attribute before opset 12 and an input from 12 on."""
    node.reject_used_output(1)
    if node.has_input(2):
        training = node.const_input(2)
        if training.any():
            node.fail("unsupported training_mode=1 (inference only)")
    if node.attr("is_test", 1) == 0:  # opset < 7 spelled inference this way
        node.unsupported("is_test", 0)
    ratio = float(node.attr("ratio", 0.5))
    if node.has_input(1):
        ratio = float(node.const_input(1).reshape(-1)[0])
    return node.emit(DropoutOp(node.input(0), ratio, node.out_type()))


def _batchnorm(node: _Node) -> SSAValue:
    for i in range(1, 5):
        node.reject_used_output(i)
    if (mode := int(node.attr("training_mode", 0))) != 0:
        node.unsupported("training_mode", mode)
    if (spatial := int(node.attr("spatial", 1))) != 1:
        node.unsupported("spatial", spatial)
    return node.emit(
        BatchNormOp(
            node.input(0),
            node.input(1),
            node.input(2),
            node.input(3),
            node.input(4),
            epsilon=float(node.attr("epsilon", 1e-5)),
            result_type=node.out_type(),
        )
    )


def _avgpool(node: _Node) -> SSAValue:
    x_shape = node.input_shape(0)
    _check_2d(node, x_shape)
    if (value := node.attr("ceil_mode", 0)) != 0:
        node.unsupported("ceil_mode", value)
    dilations = node.ints("dilations", (1, 1))
    if any(d != 1 for d in dilations):
        node.unsupported("dilations", list(dilations))
    kernel = node.ints("kernel_shape", ())
    strides = node.ints("strides", (1, 1))
    pads = _explicit_pads(node, x_shape[2:], kernel, strides, (1, 1))
    return node.emit(
        AvgPoolOp(
            node.input(0),
            kernel_shape=kernel,
            strides=strides,
            pads=pads,
            count_include_pad=bool(node.attr("count_include_pad", 0)),
            result_type=node.out_type(),
        )
    )


def _global_avgpool(node: _Node) -> SSAValue:
    _check_2d(node, node.input_shape(0))
    return node.emit(GlobalAvgPoolOp(node.input(0), node.out_type()))


def _axis(node: _Node, axis: int, rank: int) -> int:
    if not -rank <= axis < rank:
        node.fail(f"axis {axis} is out of range for rank {rank}")
    return axis + rank if axis < 0 else axis


def _concat(node: _Node) -> SSAValue:
    axis = _axis(node, int(node.attr("axis", 1)), len(node.input_shape(0)))
    inputs = [node.input(i) for i in range(len(node.proto.input)) if node.has_input(i)]
    return node.emit(ConcatOp(inputs, axis, node.out_type()))


def _transpose(node: _Node) -> SSAValue:
    rank = len(node.input_shape(0))
    perm = node.ints("perm", tuple(range(rank - 1, -1, -1)))
    return node.emit(TransposeOp(node.input(0), perm, node.out_type()))


def _lrn(node: _Node) -> SSAValue:
    _check_2d(node, node.input_shape(0))
    return node.emit(
        LRNOp(
            node.input(0),
            size=int(node.attr("size", 0)),
            alpha=float(node.attr("alpha", 1e-4)),
            beta=float(node.attr("beta", 0.75)),
            bias=float(node.attr("bias", 1.0)),
            result_type=node.out_type(),
        )
    )


def _sum(node: _Node) -> SSAValue:
    inputs = [node.input(i) for i in range(len(node.proto.input)) if node.has_input(i)]
    if not inputs:
        node.fail("missing input #0")
    return node.emit(SumOp(inputs, node.out_type()))


def _unsqueeze_axes(node: _Node, in_rank: int) -> tuple[int, ...]:
    if node.importer.opset >= 13:
        axes = tuple(int(a) for a in node.const_input(1).reshape(-1))
    else:
        axes = node.ints("axes", ())
    rank = in_rank + len(axes)
    return tuple(sorted(a + rank if a < 0 else a for a in axes))


def _unsqueeze(node: _Node) -> SSAValue | None:
    """Float data: `graph.unsqueeze` (canonicalisation folds it on constants, makes
    it a view otherwise). Integer constants (shape arithmetic) fold here."""
    source = node.proto.input[0]
    consts = node.importer.consts
    if source in consts and consts[source].dtype != np.float32:
        array = consts[source]
        axes = _unsqueeze_axes(node, array.ndim)
        consts[node.proto.output[0]] = np.expand_dims(array, axes)
        node.importer.const_origin[node.proto.output[0]] = node.label
        return None
    axes = _unsqueeze_axes(node, len(node.input_shape(0)))
    return node.emit(UnsqueezeOp(node.input(0), axes, node.out_type()))


def _constant_of_shape(node: _Node) -> SSAValue | None:
    """A float fill is `graph.constant_of_shape` (canonicalisation folds it to a splat
    constant); any other element type is folded here as shape data."""
    shape = tuple(int(d) for d in node.const_input(0).reshape(-1))
    if any(d < 1 for d in shape):
        node.fail(f"unsupported shape {list(shape)} (every dim must be positive)")
    fill = np.zeros(1, np.float32)
    for a in node.proto.attribute:
        if a.name == "value":
            fill = numpy_helper.to_array(a.t).reshape(-1)
    if fill.dtype != np.float32:
        node.importer.consts[node.proto.output[0]] = np.full(shape, fill[0], fill.dtype)
        node.importer.const_origin[node.proto.output[0]] = node.label
        return None
    return node.emit(ConstantOfShapeOp(shape, float(fill[0])))


_CONVERTERS: dict[str, Callable[[_Node], SSAValue | None]] = {
    "Conv": _conv,
    "Gemm": _gemm,
    "MatMul": _matmul,
    "Add": _add,
    "Mul": _mul,
    "Relu": _relu,
    "MaxPool": _maxpool,
    "Reshape": _reshape,
    "Flatten": _flatten,
    "Softmax": _softmax,
    "Identity": _identity,
    "Dropout": _dropout,
    "BatchNormalization": _batchnorm,
    "AveragePool": _avgpool,
    "GlobalAveragePool": _global_avgpool,
    "Concat": _concat,
    "Transpose": _transpose,
    "LRN": _lrn,
    "Sum": _sum,
    "Unsqueeze": _unsqueeze,
    "ConstantOfShape": _constant_of_shape,
}


# -------------------------------------------------------------------------------- API


def import_onnx(model: onnx.ModelProto | str | os.PathLike[str]) -> ModuleOp:
    """Import an ONNX model (a ModelProto or a path to a .onnx file) into the graph
    dialect. Raises `OnnxImportError` with a one-line message."""
    proto, label = _load(model)
    inferred = _check_and_infer(proto, label)
    return _Importer(inferred, _opset(proto, label), proto.graph.initializer).run()

"""ONNX import: an ONNX model (opset 9 or later; older ones are upgraded) -> a module
of `graph` ops.

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
500 MB model is not serialised twice (and the weights are read once each, from the
file into their constants: `onnx_weights.py`). Ops that inference makes trivial (Dropout,
ConstantOfShape, Unsqueeze, BatchNormalization) are imported as graph ops and folded
by graph-canonicalize. Anything unsupported raises `OnnxImportError` with one line
naming the node, the tensor or the file.

Sizes are computed from shapes, in exact integers, before any array is made: every
tensor must fit the chip's DRAM, and the model's constants, inputs and outputs
together too: the DRAM of the chip the caller names, else of the largest preset (the
encoder checks the chosen chip's again). External data must be a file
inside the model's directory holding exactly the bytes its tensor's shape needs.
Models of opsets older than 9 are upgraded with onnx's version converter; opsets
newer than the installed onnx knows are refused. What the importer did on its own
(an upgrade, a deduplicated output) is listed by `import_notes(module)`.

Following onnxruntime, an initializer that is also a graph input (IR version 4 or
later) is a default that a feed may override: it stays a constant, unless
`overrides` gives a value for its name; `constant_inputs(module)` names them.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import math
import os
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from math import prod
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import onnx
import onnx.inliner
import onnx.version_converter
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message
from onnx import external_data_helper, numpy_helper
from tidal.dialects.accel import WORD_MAX, WORD_MIN
from tidal.dialects.graph import (
    ActivationOp,
    AddOp,
    BernoulliOp,
    AvgPoolOp,
    BatchNormOp,
    ConcatOp,
    ConstantOfShapeOp,
    ConstantOp,
    Conv2dOp,
    DropoutOp,
    LoopOp,
    LogSoftmaxOp,
    RandomUniformLikeOp,
    FlattenOp,
    GemmOp,
    GlobalAvgPoolOp,
    LRNOp,
    DivOp,
    MatMulOp,
    MaxOp,
    MaxPoolOp,
    MinOp,
    MulOp,
    PiecewiseLinearOp,
    ReluOp,
    ReshapeOp,
    SliceOp,
    SoftmaxOp,
    SubOp,
    SumOp,
    TransposeOp,
    UnsqueezeOp,
)
from tidal.sim.config import PRESETS, ChipConfig
from tidal.sim.isa import io_name_problem
from tidal.targets import CONSTANT_INPUTS_ATTR
from tidal.dialects.graph import OnnxNodeOp, OnnxValueType, numpy_dtype
from tidal.targets import framework
from tidal.targets.onnx_ops import onnx_entry
from tidal.targets.onnx_weights import load_model
from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    UnrankedTensorType,
    ArrayAttr,
    DictionaryAttr,
    IntegerAttr,
    ModuleOp,
    StringAttr,
    TensorType,
    f32,
    i32,
    i64,
)
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Attribute, Block, BlockArgument, Operation, Region, SSAValue
from xdsl.utils.exceptions import VerifyException

MIN_OPSET = 9
# Module attributes: what the importer did on its own, and the graph inputs it
# compiled as constants (initializers that a feed may override).
NOTES_ATTR = "tidal.import_notes"


class OnnxImportError(ValueError):
    """An ONNX model that Tidal cannot import; the message is one line."""


class _UnknownShape(OnnxImportError):
    """A tensor whose shape ONNX did not infer statically."""


class _TooBig(OnnxImportError):
    """A tensor that does not fit the chip's DRAM: refused on every tier."""


# --------------------------------------------------------------------------- loading


_MESSAGE_CHARS = 400

MAX_DIM = 2**63 - 1
"""The largest size an ONNX dimension holds (TensorShapeProto's dim_value is int64)."""


def _one_line(error: BaseException) -> str:
    """The error's message on one line (onnx's checker puts the node it names on the
    lines after the first), cut at _MESSAGE_CHARS."""
    text = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
    if not text:
        return type(error).__name__
    return text if len(text) <= _MESSAGE_CHARS else text[: _MESSAGE_CHARS - 3] + "..."


class _Dram:
    """The DRAM a model must fit in, and how much of it the constants, inputs and
    outputs met so far take. Sizes come from shapes, in exact integers, before
    anything of that size is made."""

    def __init__(self, chip: ChipConfig | None):
        largest = max(PRESETS.values(), key=lambda c: c.dram_bytes)
        self.bytes = (chip or largest).dram_bytes
        self.where = (
            f"the {self.bytes} bytes of DRAM of chip '{chip.name}'"
            if chip is not None
            else f"the {self.bytes} bytes of DRAM of the largest chip preset "
            f"('{largest.name}')"
        )
        self.used = 0

    def too_big(self, nbytes: int, what: str) -> str | None:
        """Why a tensor of `nbytes` cannot exist on the chip, or None."""
        if nbytes > self.bytes:
            return f"{what} needs {nbytes} bytes, more than {self.where}"
        return None

    def take(self, nbytes: int, what: str) -> str | None:
        """Count a tensor that lives in DRAM with all the others; why it does not
        fit, or None."""
        if (why := self.too_big(nbytes, what)) is not None:
            return why
        self.used += nbytes
        if self.used > self.bytes:
            return (
                f"{what} ({nbytes} bytes) brings the model's constants, inputs and "
                f"outputs to {self.used} bytes, more than {self.where}"
            )
        return None


def _itemsize(data_type: int) -> int:
    try:
        return onnx.helper.tensor_dtype_to_np_dtype(data_type).itemsize
    except (KeyError, ValueError, TypeError):
        return 1  # an undefined type, which the checker refuses


def _describe(dims: Sequence[int], data_type: int) -> str:
    try:
        elem = onnx.TensorProto.DataType.Name(data_type)
    except ValueError:
        elem = str(data_type)
    return f"{elem} {list(dims)}"


def _all_tensors(graph: onnx.GraphProto) -> Iterator[onnx.TensorProto]:
    """Every tensor of the graph: initializers and node attributes, subgraphs too."""
    yield from graph.initializer
    for node in graph.node:
        for a in node.attribute:
            if a.HasField("t"):
                yield a.t
            yield from a.tensors
            if a.HasField("g"):
                yield from _all_tensors(a.g)
            for g in a.graphs:
                yield from _all_tensors(g)


def _external_path(base_dir: str, location: str) -> tuple[str, str | None]:
    """(the real path of the external data `location` of a model in `base_dir`, why
    it cannot be read or None): it must be a relative path to a regular file inside
    the model's directory."""
    if not location:
        return "", "external data without a location"
    if os.path.isabs(location) or os.path.splitdrive(location)[0]:
        return "", (
            f"external data location '{location}' is an absolute path "
            "(it must be relative to the model's directory)"
        )
    if "\0" in location:
        return "", f"external data location {location!r} is not a valid path"
    directory = os.path.realpath(base_dir)
    path = os.path.realpath(os.path.join(directory, location))
    if os.path.commonpath([directory, path]) != directory:
        return path, f"external data location '{location}' is outside the model's directory '{base_dir}'"
    if not os.path.isfile(path):
        missing = "does not exist" if not os.path.exists(path) else "is not a regular file"
        return path, f"external data file '{location}' {missing}"
    return path, None


def _external_file(
    tensor: onnx.TensorProto, label: str, base_dir: str | None, nbytes: int
) -> None:
    """Refuse external data that is not a file inside the model's directory holding
    exactly the tensor's `nbytes` (so that reading it is bounded)."""
    info = {e.key: e.value for e in tensor.external_data}
    where = f"{label}: tensor '{tensor.name}'"
    location = info.get("location", "")
    if tensor.data_type == onnx.TensorProto.STRING:
        raise OnnxImportError(f"{where}: a string tensor's data cannot be external (ONNX keeps strings in the model)")
    if base_dir is None:
        raise OnnxImportError(
            f"{where} keeps its data in external file '{location}', which an "
            "in-memory model cannot reach (import the model from its path)"
        )
    path, why = _external_path(base_dir, location)
    if why is not None:
        raise OnnxImportError(f"{where}: {why}")
    try:
        offset = int(info.get("offset", "0"))
        length = int(info["length"]) if "length" in info else None
    except ValueError:
        raise OnnxImportError(
            f"{where}: external data offset or length is not an integer"
        ) from None
    for key, value in (("offset", offset), ("length", length)):
        if value is not None and value < 0:
            raise OnnxImportError(f"{where}: external data {key} {value} is negative")
    size = os.path.getsize(path)
    length = max(size - offset, 0) if length is None else length
    if offset + length > size:
        raise OnnxImportError(
            f"{where}: external data [{offset}, {offset + length}) is outside "
            f"'{location}' ({size} bytes)"
        )
    if length != nbytes:
        raise OnnxImportError(
            f"{where}: external data in '{location}' is {length} bytes at offset "
            f"{offset}, {_describe(tensor.dims, tensor.data_type)} needs {nbytes}"
        )


def _check_tensors(
    model: onnx.ModelProto, label: str, base_dir: str | None, dram: _Dram
) -> None:
    """Size every tensor from its shape before any is read or converted, and check
    where external data lives."""
    for tensor in _all_tensors(model.graph):
        if any(d < 0 for d in tensor.dims):
            raise OnnxImportError(
                f"{label}: tensor '{tensor.name}' has negative dims {list(tensor.dims)}"
            )
        nbytes = prod(tensor.dims) * _itemsize(tensor.data_type)
        what = f"tensor '{tensor.name}' ({_describe(tensor.dims, tensor.data_type)})"
        if (why := dram.take(nbytes, what)) is not None:
            raise OnnxImportError(f"{label}: {why}")
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            _external_file(tensor, label, base_dir, nbytes)


def _load(
    model: onnx.ModelProto | str | os.PathLike[str], dram: _Dram
) -> tuple[onnx.ModelProto, str]:
    """The model and the label its errors start with (its path, or its graph name).
    Every tensor is sized (`dram`) and external data checked before it is read."""
    if isinstance(model, onnx.ModelProto):
        _check_text(model, "model")
        label = f"model '{model.graph.name or '<unnamed>'}'"
        _check_io_names(model.graph, label)
        _check_node_names(model.graph, label)
        _check_tensors(model, label, None, dram)
        return model, label
    label = os.fspath(model)
    try:
        proto = load_model(label, load_external_data=False)  # weights stay on disk
    except OSError as e:
        raise OnnxImportError(f"{label}: cannot read ({e.strerror or e})") from None
    except (DecodeError, ValueError, RuntimeError) as e:
        raise OnnxImportError(
            f"{label}: not a valid ONNX model ({_one_line(e)})"
        ) from None
    _check_text(proto, label)
    _check_io_names(proto.graph, label)
    _check_node_names(proto.graph, label)
    base_dir = os.path.dirname(label) or os.curdir
    _check_tensors(proto, label, base_dir, dram)
    initializers = len(proto.graph.initializer)  # _all_tensors yields them first
    try:  # float initializers are read by _Importer, once each (onnx_weights.py)
        for i, t in enumerate(_all_tensors(proto.graph)):
            weight = i < initializers and t.data_type == onnx.TensorProto.FLOAT
            if external_data_helper.uses_external_data(t) and not weight:
                external_data_helper.load_external_data_for_tensor(t, base_dir)
    except (OSError, ValueError, onnx.checker.ValidationError) as e:
        raise OnnxImportError(
            f"{label}: cannot read external data ({_one_line(e)})"
        ) from None
    return proto, label


def _check_text(message: Message, label: str) -> None:
    """Raise OnnxImportError naming the first text field of `message` (a name, an op
    type, a domain, a doc string, in any nested message) that is not valid UTF-8,
    which protobuf then hands over as bytes and every later step would trip on.
    Only text and message fields are read: bytes (tensor data, string attributes)
    and numbers are not text, and reading a tensor's data would copy it."""
    string, nested = FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_MESSAGE
    todo: list[tuple[Message, str]] = [(message, "")]
    while todo:
        msg, where = todo.pop()
        for field in msg.DESCRIPTOR.fields:
            if field.type != string and field.type != nested:
                continue
            path = f"{where}.{field.name}" if where else field.name
            if _repeated(field):
                values = list(enumerate(getattr(msg, field.name)))
            elif msg.HasField(field.name):
                values = [(None, getattr(msg, field.name))]
            else:
                continue
            for i, v in values:
                at = path if i is None else f"{path}[{i}]"
                if field.type == nested:
                    todo.append((v, at))
                elif not isinstance(v, str):
                    raise OnnxImportError(
                        f"{label}: not a valid ONNX model ({at} is not valid UTF-8 text: {bytes(v)[:40]!r})"
                    )


def _check_io_names(graph: onnx.GraphProto, label: str) -> None:
    """Refuse a graph input or output name that no .npz can key
    (`isa.io_name_problem`, the binary loader's rule)."""
    for kind, values in (("input", graph.input), ("output", graph.output)):
        for i, v in enumerate(values):
            if (why := io_name_problem(v.name)) is not None:
                raise OnnxImportError(f"{label}: graph {kind} {i} has {why}")


def _check_node_names(graph: onnx.GraphProto, label: str) -> None:
    """Refuse two nodes of one graph (the main graph or a subgraph) given the same
    name: onnxruntime refuses such a model ("two nodes with same node name"), and
    Tidal's messages name nodes by their names. (Unnamed nodes are many; each gets
    a label of its own.)"""
    todo = [graph]
    while todo:
        g = todo.pop()
        seen: dict[str, int] = {}
        for i, node in enumerate(g.node):
            if node.name and node.name in seen:
                where = "the graph" if g is graph else f"subgraph '{g.name}'"
                raise OnnxImportError(
                    f"{label}: nodes {seen[node.name]} and {i} of {where} are both named "
                    f"'{node.name}' (node names are unique in a graph; onnxruntime refuses this model)"
                )
            seen.setdefault(node.name, i)
            for attr in node.attribute:
                todo.extend(_attribute_graphs(attr))


def _attribute_graphs(attr: onnx.AttributeProto) -> list[onnx.GraphProto]:
    """The subgraphs an attribute holds (an If's branch, a Loop's body): its `g`, or
    its `graphs`."""
    return [attr.g] if attr.HasField("g") else list(attr.graphs)


def _all_nodes(graph: onnx.GraphProto) -> Iterator[onnx.NodeProto]:
    """Every node of `graph` and of its nodes' subgraphs (If branches, Loop bodies)."""
    for node in graph.node:
        yield node
        for attr in node.attribute:
            for sub in _attribute_graphs(attr):
                yield from _all_nodes(sub)


_EINSUM_TERM = r"[A-Za-z]*(?:\.\.\.)?[A-Za-z]*"
_EINSUM_EQUATION = re.compile(rf"{_EINSUM_TERM}(?:,{_EINSUM_TERM})*(?:->{_EINSUM_TERM})?")


def _einsum_problem(node: onnx.NodeProto) -> str | None:
    """Why an Einsum's equation is not one: onnx's shape inference loops forever, in
    C++ where no signal reaches Python, on a '-' or a lone '.' among the input terms
    ("a-b,bc->"). A term is letters with at most one '...', one per input."""
    attr = next((a for a in node.attribute if a.name == "equation"), None)
    if attr is None:
        return None  # (the checker names a missing attribute)
    try:
        text = attr.s.decode()
    except UnicodeDecodeError:
        text = "\ufffd"  # (not an equation either)
    equation = "".join(text.split())
    terms = equation.split("->")[0].split(",")
    if _EINSUM_EQUATION.fullmatch(equation) and len(terms) == len(node.input):
        return None
    return (
        f"equation {text!r} is not an einsum equation for {len(node.input)} input(s) "
        "(one term of letters per input, at most one '...' each, separated by ',', "
        "then optionally '->' and the output's term)"
    )


def _random_problem(node: onnx.NodeProto) -> str | None:
    """Why a random op's distribution is not one: onnxruntime aborts the process (a
    libstdc++ assertion) on a uniform range that is not ordered and finite, or a
    normal whose scale is not positive and finite."""
    numbers = (onnx.AttributeProto.FLOAT, onnx.AttributeProto.INT)
    values = {a.name: float(a.f if a.type == numbers[0] else a.i) for a in node.attribute if a.type in numbers}
    if node.op_type.startswith("RandomUniform"):
        low, high = values.get("low", 0.0), values.get("high", 1.0)
        if not (math.isfinite(low) and math.isfinite(high) and low <= high):
            return f"low {low} and high {high} are not finite and ordered"
    else:
        mean, scale = values.get("mean", 0.0), values.get("scale", 1.0)
        if not (math.isfinite(mean) and math.isfinite(scale) and scale > 0):
            return f"mean {mean} and scale {scale}: the scale must be positive and both finite"
    return None


def _split_problem(node: onnx.NodeProto) -> str | None:
    """Why a Split's `num_outputs` (opset 18) is not its number of outputs, which
    onnxruntime refuses and Tidal split by."""
    count = next((a.i for a in node.attribute if a.name == "num_outputs"), None)
    if count is not None and count != len(node.output):
        return f"num_outputs {count} but {len(node.output)} outputs"
    return None


_NODE_CHECKS: dict[str, Callable[[onnx.NodeProto], str | None]] = {
    "Einsum": _einsum_problem,
    "Split": _split_problem,
    "RandomUniform": _random_problem, "RandomUniformLike": _random_problem,
    "RandomNormal": _random_problem, "RandomNormalLike": _random_problem,
}
"""Checks of ONNX nodes made before onnx's shape inference or onnxruntime sees
them: attributes that hang the one or abort the other, rather than fail."""


def _check_nodes(graph: onnx.GraphProto, label: str) -> None:
    """OnnxImportError naming the first node (in subgraphs too) that a `_NODE_CHECKS`
    check refuses."""
    for i, top in enumerate(graph.node):
        inner = (n for a in top.attribute for g in _attribute_graphs(a) for n in _all_nodes(g))
        for node in itertools.chain([top], inner):
            check = _NODE_CHECKS.get(node.op_type) if node.domain in ("", "ai.onnx") else None
            if check is None or (why := check(node)) is None:
                continue
            where = top.name or f"{top.op_type}_{i}"
            name = (
                f"node '{node.name or where}'" if node is top or node.name
                else f"a node of a subgraph of node '{where}'"
            )
            raise OnnxImportError(f"{label}: {name} (op {node.op_type}): {why}")


def _onnx_domain_named(proto: onnx.ModelProto) -> onnx.ModelProto:
    """The model with the ONNX domain's long name "ai.onnx" (on nodes, in the opset
    imports) written as the empty name the checker and the converters expect, as
    onnxruntime reads it (a copy when anything changes)."""
    if not any(o.domain == "ai.onnx" for o in proto.opset_import) and not any(
        n.domain == "ai.onnx" for n in _all_nodes(proto.graph)
    ):
        return proto
    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    for node in _all_nodes(copy.graph):
        if node.domain == "ai.onnx":
            node.domain = ""
    versions = [o.version for o in copy.opset_import if o.domain in ("", "ai.onnx")]
    kept = [o for o in copy.opset_import if o.domain not in ("", "ai.onnx")]
    del copy.opset_import[:]
    copy.opset_import.extend(kept)
    if versions:
        copy.opset_import.append(onnx.helper.make_opsetid("", max(versions)))
    return copy


ORT_ONNX_DOMAIN = "tidal.onnxruntime-onnx"
"""The domain the importer gives the nodes of `_ORT_ONNX_OPS` while it reads a
model: onnx's checker and shape inference do not know them in the ONNX domain at
the model's opset, onnxruntime's symbolic shape inference types them as it types its
com.microsoft ops, and their framework-tier payloads take the ONNX domain back."""

_ORT_ONNX_OPS: dict[str, tuple[int, int | None]] = {
    "LayerNormalization": (1, 17),
    "SimplifiedLayerNormalization": (1, None),
    "GroupNormalization": (18, 21),
}
"""Operators onnxruntime runs in the ONNX domain at opsets [from, to) where onnx's
checker refuses them (to None: at every opset from `from`): its transformers
optimizer writes LayerNormalization into models of opsets before 17 (onnxruntime's
own version 1 is ONNX's LayerNormalization-17) and SimplifiedLayerNormalization (an
RMS norm) into any; GroupNormalization-18, whose scale and bias are per group,
onnx deprecates (its checker refuses it until opset 21 redefines them per channel)
and onnxruntime runs."""


def _ort_onnx_ops(proto: onnx.ModelProto, opset: int) -> tuple[onnx.ModelProto, list[str]]:
    """The model with each node of `_ORT_ONNX_OPS` that onnx's checker refuses at
    `opset` in ORT_ONNX_DOMAIN (a copy when there is any), and their op types."""
    def foreign(node: onnx.NodeProto) -> bool:
        if node.domain != "" or node.op_type not in _ORT_ONNX_OPS:
            return False
        start, end = _ORT_ONNX_OPS[node.op_type]
        return start <= opset and (end is None or opset < end)

    if not any(foreign(n) for n in _all_nodes(proto.graph)):
        return proto, []
    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    kinds: list[str] = []
    for node in _all_nodes(copy.graph):
        if foreign(node):
            node.domain = ORT_ONNX_DOMAIN
            kinds.append(node.op_type)
    copy.opset_import.append(onnx.helper.make_opsetid(ORT_ONNX_DOMAIN, 1))
    return copy, list(dict.fromkeys(kinds))


def _densified(proto: onnx.ModelProto, label: str, dram: _Dram) -> onnx.ModelProto:
    """The model with each of its graph's sparse initializers as a dense one (a copy
    when there are any): the dense size is checked against `dram` first, and each
    index against the shape."""
    if not proto.graph.sparse_initializer:
        return proto
    dense = onnx.ModelProto()
    dense.CopyFrom(proto)
    for sparse in dense.graph.sparse_initializer:
        name, dims = sparse.values.name, [int(d) for d in sparse.dims]
        what = f"sparse initializer '{name}' ({_describe(dims, sparse.values.data_type)} dense)"
        if any(d < 0 for d in dims):
            raise OnnxImportError(f"{label}: {what} has negative dims")
        if (why := dram.take(prod(dims) * _itemsize(sparse.values.data_type), what)) is not None:
            raise OnnxImportError(f"{label}: {why}")
        try:
            values = numpy_helper.to_array(sparse.values).reshape(-1)
            indices = numpy_helper.to_array(sparse.indices).astype(np.int64)
            flat = indices.reshape(-1) if indices.ndim <= 1 else np.ravel_multi_index(indices.T, dims)
            array = np.zeros(prod(dims), values.dtype)
            if flat.shape != values.shape or (flat.size and not 0 <= flat.min() <= flat.max() < array.size):
                raise ValueError(f"{flat.size} indices in [0, {array.size}) for {values.size} values")
            array[flat] = values
        except (ValueError, TypeError, KeyError) as e:
            raise OnnxImportError(f"{label}: {what}: bad indices or values ({_one_line(e)})") from None
        dense.graph.initializer.append(numpy_helper.from_array(array.reshape(dims), name))
    del dense.graph.sparse_initializer[:]
    return dense


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
        and (len(t.raw_data) > _SKELETON_BYTES or len(t.float_data) * 4 > _SKELETON_BYTES
             or external_data_helper.uses_external_data(t))
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


def _inline_functions(proto: onnx.ModelProto, label: str) -> onnx.ModelProto:
    """The model with its local functions (ModelProto.functions: an exporter's
    modules as functions, a custom domain's composite ops) inlined into the graph,
    as onnxruntime does when it loads the model. The framework tier runs extracted
    subgraphs, which would lose the definitions. Refused when inlining would make
    more than INLINE_NODES_MAX nodes (functions that each call the next twice double
    at every level) or a function calls itself."""
    if proto.functions:
        _check_inlined_size(proto, label)
        proto = _with_attribute_defaults(proto)
    try:
        return onnx.inliner.inline_local_functions(proto)
    except Exception as e:  # noqa: BLE001 - onnx raises several types for bad functions
        raise OnnxImportError(
            f"{label}: cannot inline its local functions ({_one_line(e)})"
        ) from None


def _with_attribute_defaults(proto: onnx.ModelProto) -> onnx.ModelProto:
    """The model with each call of a local function given the defaults the function
    declares (`FunctionProto.attribute_proto`) for the attributes the call leaves
    out. onnx's inliner drops a referenced attribute the call does not set, default
    or not, so a LeakyRelu(alpha=@slope) of a function declaring slope=0.7 ran with
    LeakyRelu's own 0.01; onnxruntime applies the default."""
    defaults = {(f.domain, f.name, f.overload): f.attribute_proto for f in proto.functions if f.attribute_proto}
    if not defaults:
        return proto
    copy = onnx.ModelProto()
    copy.CopyFrom(proto)

    def visit(nodes: Iterable[onnx.NodeProto]) -> None:
        for node in nodes:
            given = {a.name for a in node.attribute}
            for default in defaults.get((node.domain, node.op_type, node.overload), ()):
                if default.name not in given:
                    node.attribute.append(default)
            for attr in node.attribute:
                for sub in _attribute_graphs(attr):
                    visit(sub.node)

    visit(copy.graph.node)
    for function in copy.functions:
        visit(function.node)
    return copy


INLINE_NODES_MAX = 1 << 20
"""The most nodes a model's graph may hold once its local functions are inlined."""


def _check_inlined_size(proto: onnx.ModelProto, label: str) -> None:
    """OnnxImportError unless the graph, its local functions inlined, has at most
    INLINE_NODES_MAX nodes and no function calls itself (directly or not)."""
    functions = {(f.domain, f.name, f.overload): f for f in proto.functions}
    sizes: dict[tuple[str, str, str], int] = {}
    open_calls: list[tuple[str, str, str]] = []

    def size(nodes: Iterable[onnx.NodeProto]) -> int:
        total = 0
        for node in nodes:
            key = (node.domain, node.op_type, node.overload)
            if key not in functions:
                total += 1
                for attr in node.attribute:  # (an If's or Loop's body may call too)
                    for sub in _attribute_graphs(attr):
                        total += size(sub.node)
            elif key in sizes:
                total += sizes[key]
            elif key in open_calls:
                raise OnnxImportError(f"{label}: local function '{key[1]}' calls itself")
            else:
                open_calls.append(key)
                sizes[key] = size(functions[key].node)
                open_calls.pop()
                if sizes[key] > INLINE_NODES_MAX:
                    raise OnnxImportError(
                        f"{label}: local function '{key[1]}' inlines to {sizes[key]:,} nodes "
                        f"(at most {INLINE_NODES_MAX:,})"
                    )
                total += sizes[key]
            if total > INLINE_NODES_MAX:
                raise OnnxImportError(
                    f"{label}: inlining its local functions makes more than "
                    f"{INLINE_NODES_MAX:,} nodes (at a call of '{node.op_type}')"
                )
        return total

    size(proto.graph.node)


def _named_dims(graph: onnx.GraphProto) -> Iterator[onnx.TensorShapeProto.Dimension]:
    """Every named dynamic dimension (dim_param) of the graph's inputs, outputs and
    value infos, in that order."""
    for vi in [*graph.input, *graph.output, *graph.value_info]:
        if vi.type.HasField("tensor_type") and vi.type.tensor_type.HasField("shape"):
            for d in vi.type.tensor_type.shape.dim:
                if d.HasField("dim_param") and d.dim_param:
                    yield d


def dynamic_dims(model: onnx.ModelProto) -> list[str]:
    """The names of the model's dynamic dimensions (dim_param: "N", "batch_size",
    "sequence_length"), in order of first use by a graph input, output or value."""
    return list(dict.fromkeys(d.dim_param for d in _named_dims(model.graph)))


def _fed_dims(
    model: onnx.ModelProto, fed: Mapping[str, np.ndarray], label: str
) -> dict[str, int]:
    """Sizes of named dynamic dimensions that arrays fed for graph inputs give. An
    input whose array has another rank gives none (its check names it later); one
    name given two sizes is refused."""
    out: dict[str, tuple[int, str]] = {}
    for vi in model.graph.input:
        value = fed.get(vi.name)
        if value is None or not vi.type.HasField("tensor_type"):
            continue
        dims = vi.type.tensor_type.shape.dim
        shape = np.shape(value)
        if len(shape) != len(dims):
            continue
        for d, size in zip(dims, shape, strict=True):
            if d.HasField("dim_param") and d.dim_param:
                had = out.get(d.dim_param)
                if had is not None and had[0] != size:
                    raise OnnxImportError(
                        f"{label}: dimension '{d.dim_param}' is {had[0]} in input "
                        f"'{had[1]}' but {size} in input '{vi.name}'"
                    )
                out.setdefault(d.dim_param, (int(size), vi.name))
    return {name: size for name, (size, _) in out.items()}


def _bound_dims(
    proto: onnx.ModelProto, dims: Mapping[str, int], fed: Mapping[str, np.ndarray], label: str
) -> dict[str, int]:
    """Sizes for the model's named dynamic dimensions: `dims` (given by name:
    tidal-compile --dim), else the sizes that the arrays fed for its inputs have
    (tidal-run's inputs). Names the model does not have are refused."""
    named = dynamic_dims(proto)
    if not named:
        if dims:
            raise OnnxImportError(
                f"{label}: no dimension named '{next(iter(dims))}' (every shape is static)"
            )
        return {}
    unknown = [n for n in dims if n not in named]
    if unknown:
        raise OnnxImportError(
            f"{label}: no dimension named '{unknown[0]}' (its dynamic dimensions: "
            f"{', '.join(named)})"
        )
    for name, size in dims.items():
        if not 1 <= size <= MAX_DIM:
            raise OnnxImportError(
                f"{label}: dimension '{name}' = {size}: a size is from 1 to {MAX_DIM} "
                "(an ONNX dimension is a signed 64-bit integer)"
            )
    return {**_fed_dims(proto, fed, label), **dims}


def _with_dims(proto: onnx.ModelProto, sizes: Mapping[str, int]) -> None:
    """Fix the named dimensions of `sizes` in every graph input, output and value."""
    for d in list(_named_dims(proto.graph)):
        if d.dim_param in sizes:
            size = sizes[d.dim_param]
            d.Clear()
            d.dim_value = size


def _live_nodes(graph: onnx.GraphProto) -> list[bool]:
    """For each node of `graph` (in its topological order), whether a graph output
    depends on it."""
    wanted = {o.name for o in graph.output}
    live = [False] * len(graph.node)
    for i in reversed(range(len(graph.node))):
        node = graph.node[i]
        if any(name and name in wanted for name in node.output):
            live[i] = True
            wanted.update(framework.node_inputs(node))
    return live


def _string_info(v: onnx.ValueInfoProto) -> bool:
    """Whether value info `v` declares a string tensor (whose shape Tidal never
    needs: only onnxruntime reads one)."""
    return v.type.HasField("tensor_type") and v.type.tensor_type.elem_type == onnx.TensorProto.STRING


def _bare(v: onnx.ValueInfoProto) -> bool:
    """Whether value info `v` declares no type, or a tensor type without a shape."""
    if not v.HasField("type"):
        return True
    return v.type.HasField("tensor_type") and not v.type.tensor_type.HasField("shape")


def _typed_outputs(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model with each graph output that declares no type or no shape given the
    one shape inference finds, and each such value_info entry (a hint) dropped:
    onnxruntime runs such a model, onnx's checker refuses it. The model itself when
    every one is declared; a graph input without a shape is left (`_with_fed_shapes`)."""
    graph = model.graph
    if not any(_bare(v) for v in [*graph.output, *graph.value_info]):
        return model
    fixed = onnx.ModelProto()
    fixed.CopyFrom(model)
    kept = [v for v in fixed.graph.value_info if not _bare(v)]
    del fixed.graph.value_info[:]
    fixed.graph.value_info.extend(kept)
    try:
        inferred = _infer_shapes(fixed)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError):
        return fixed  # the checker says what is wrong
    found = {v.name: v for v in inferred.graph.output}
    for v in fixed.graph.output:
        if _bare(v) and v.name in found and not _bare(found[v.name]):
            v.type.CopyFrom(found[v.name].type)
    return fixed


def _with_fed_shapes(proto: onnx.ModelProto, fed: Mapping[str, np.ndarray]) -> bool:
    """Give each graph input that declares no shape the shape of the array fed for
    it, and each of its dimensions that has neither a size nor a name (a "?") the
    array's size there; an array of another rank than an input with such
    dimensions declares is refused here, naming both (the import would otherwise
    stop at the unsized dimension). Whether anything changed."""
    changed = False
    for vi in proto.graph.input:
        value = fed.get(vi.name)
        if value is None or not vi.type.HasField("tensor_type"):
            continue
        shape = np.shape(value)
        tensor = vi.type.tensor_type
        if not tensor.HasField("shape"):
            tensor.shape.SetInParent()
            for size in shape:
                tensor.shape.dim.add().dim_value = int(size)
            changed = True
            continue
        if len(tensor.shape.dim) != len(shape):
            if all(d.HasField("dim_value") for d in tensor.shape.dim):
                continue  # (a static input: the input check names the difference)
            dims = [str(d.dim_value) if d.HasField("dim_value") else (d.dim_param or "?") for d in tensor.shape.dim]
            raise OnnxImportError(
                f"input '{vi.name}': the model declares rank {len(dims)} ([{', '.join(dims)}]), "
                f"the array fed for it has shape {list(shape)}"
            )
        for d, size in zip(tensor.shape.dim, shape, strict=True):
            if not d.HasField("dim_value") and not d.dim_param:
                d.dim_value = int(size)
                changed = True
    return changed


def _unsized(proto: onnx.ModelProto, fed: Mapping[str, np.ndarray]) -> bool:
    """Whether `_with_fed_shapes` would change a graph input of `proto`."""
    probe = onnx.ModelProto()
    probe.graph.input.extend(proto.graph.input)
    return _with_fed_shapes(probe, fed)


def _infer_shapes(model: onnx.ModelProto, **options: bool) -> onnx.ModelProto:
    """onnx's shape inference, whose C++ also fails with ValueError or RuntimeError
    on some malformed models (a Loop without its body: "vector::reserve"): those
    are InferenceErrors here, as the others are."""
    skeleton, large, added = _without_large_initializers(model)
    # An unnamed node is named as the importer labels it while inference runs, so
    # that its errors say which node ("(op_type:Expand, node name: Expand_3)").
    nodes = skeleton.graph.node
    unnamed = [i for i, node in enumerate(nodes) if not node.name]
    for i in unnamed:
        nodes[i].name = f"{nodes[i].op_type}_{i}"
    try:
        inferred = onnx.shape_inference.infer_shapes(skeleton, **options)
    except (ValueError, RuntimeError) as e:
        raise onnx.shape_inference.InferenceError(f"shape inference failed: {_one_line(e)}") from None
    finally:
        for i in unnamed:
            nodes[i].name = ""
    for i in unnamed:  # (inference keeps the nodes in their order)
        inferred.graph.node[i].name = ""
    if large:  # the weights back, in their places; the stand-in inputs out
        for value in [i for i in inferred.graph.input if i.name in added]:
            inferred.graph.input.remove(value)
        small = iter(list(inferred.graph.initializer))
        weights = [t if i in large else next(small) for i, t in enumerate(model.graph.initializer)]
        del inferred.graph.initializer[:]
        inferred.graph.initializer.extend(weights)
    return inferred


INFER_INITIALIZER_MAX = 1 << 16
"""Initializers of more elements go to onnx's shape inference as graph inputs of
their type and shape, not as data: inference serializes the model and parses its
result again, four copies of every weight (a folded Range to 2^26 took 5.8 GB),
and reads values only of small tensors (a Reshape's shape, a Slice's starts)."""


def _repeated(field: FieldDescriptor) -> bool:
    # (`label` before protobuf 5.28 deprecated it)
    return field.is_repeated if hasattr(field, "is_repeated") else field.label == FieldDescriptor.LABEL_REPEATED


def _without_large_initializers(model: onnx.ModelProto) -> tuple[onnx.ModelProto, set[int], set[str]]:
    """(`model` with each initializer of more than INFER_INITIALIZER_MAX elements
    replaced by a graph input of its type and shape, those initializers' positions,
    the names of the inputs added: none where an input of the name exists);
    `model` itself when it has none."""
    large = {i for i, t in enumerate(model.graph.initializer) if prod(t.dims) > INFER_INITIALIZER_MAX}
    if not large:
        return model, large, set()
    skeleton = onnx.ModelProto()
    for owner, copy in ((model, skeleton), (model.graph, skeleton.graph)):
        for field, value in owner.ListFields():
            if field.name == "graph":
                continue  # (the graph: the loop's second step)
            if field.name == "initializer":
                copy.initializer.extend(t for i, t in enumerate(value) if i not in large)
            elif _repeated(field):
                getattr(copy, field.name).extend(value)
            elif field.message_type is not None:
                getattr(copy, field.name).CopyFrom(value)
            else:
                setattr(copy, field.name, value)
    inputs = {v.name for v in model.graph.input}
    added: set[str] = set()
    for i in sorted(large):
        t = model.graph.initializer[i]
        if t.name not in inputs | added:
            skeleton.graph.input.append(onnx.helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
            added.add(t.name)
    return skeleton, large, added


def _infer_strict(model: onnx.ModelProto) -> onnx.ModelProto:
    """Strict shape inference with data propagation, or where data propagation
    itself fails, without it: onnx 1.23 propagates the values of Unsqueezes of a
    Range to the wrong rank and then refuses a valid Add (what a dynamic-axes
    export's attention mask computes, fed another batch), a model onnxruntime
    runs. The first error stands when inference fails without it too. Without it
    also where a long constant Range or a long vector (`_long_vector`, seen by
    inference without it, which costs little) would make it hold gigabytes."""
    if _long_constant_range(model.graph):
        return _infer_shapes(model, strict_mode=True, data_prop=False)
    try:
        plain = _infer_shapes(model, strict_mode=True, data_prop=False)
    except onnx.shape_inference.InferenceError:
        plain = None
    if plain is not None and _long_vector(plain.graph):
        return plain
    try:
        return _infer_shapes(model, strict_mode=True, data_prop=True)
    except onnx.shape_inference.InferenceError:
        if plain is None:
            raise
        return plain


PROPAGATE_MAX = 1 << 16
"""The most elements of a Range on constants that onnx's data propagation may
carry: it holds each propagated value as a protobuf dimension (about 80 bytes), so
a Range to 2^26 took 5 GB inside shape inference before any size check."""


def _long_vector(graph: onnx.GraphProto) -> bool:
    """Whether a tensor of `graph` (an input, an initializer, or a value inference
    typed) has rank 1 and more than PROPAGATE_MAX elements: onnx's data propagation
    gives one such read by an Add, a Concat, a Gather... a protobuf dimension per
    element (about 150 bytes: an input of [2^24] added to a scalar took 2.4 GB)."""
    values = [*graph.input, *graph.value_info, *graph.output]
    for value in values:
        if value.type.WhichOneof("value") != "tensor_type" or not value.type.tensor_type.HasField("shape"):
            continue
        dims = value.type.tensor_type.shape.dim
        if len(dims) == 1 and dims[0].HasField("dim_value") and dims[0].dim_value > PROPAGATE_MAX:
            return True
    return any(len(t.dims) == 1 and t.dims[0] > PROPAGATE_MAX for t in graph.initializer)


def _long_constant_range(graph: onnx.GraphProto) -> bool:
    """Whether a Range of `graph` whose start, limit and delta are scalar constants
    (initializers or Constant nodes) has more than PROPAGATE_MAX elements."""
    values: dict[str, np.ndarray] = {}
    for t in graph.initializer:
        if not t.dims and t.data_location != onnx.TensorProto.EXTERNAL:
            values[t.name] = numpy_helper.to_array(t)
    for node in graph.node:
        if node.op_type == "Constant" and node.output and node.attribute:
            a = node.attribute[0]
            if a.name == "value" and a.HasField("t") and not a.t.dims:
                values[node.output[0]] = numpy_helper.to_array(a.t)
            elif a.name in ("value_int", "value_float"):
                values[node.output[0]] = np.array(a.i if a.name == "value_int" else a.f)
    for node in graph.node:
        if node.op_type != "Range" or len(node.input) != 3 or not all(n in values for n in node.input):
            continue
        try:
            start, limit, delta = (float(values[n]) for n in node.input)
            count = math.ceil((limit - start) / delta) if delta else 0
        except (TypeError, ValueError, OverflowError, ZeroDivisionError):
            continue
        if count > PROPAGATE_MAX:
            return True
    return False


def _with_contrib_rounds(inferred: onnx.ModelProto) -> onnx.ModelProto:
    """`inferred` (shape inference's output) with the types of contrib ops' outputs
    (`_with_contrib_types`) and shape inference again after each round that added
    some, `_CONTRIB_ROUNDS` at most."""
    for _ in range(_CONTRIB_ROUNDS):  # the values after them get theirs too
        if not _with_contrib_types(inferred):
            break
        inferred = _infer_strict(inferred)
    return inferred


_INTEGER_INPUTS: dict[tuple[str, str], tuple[int, ...]] = {
    ("com.microsoft", "Attention"): (3,),  # mask_index: made a float mask on onnxruntime
}
"""Inputs of integer data that an op's builder takes itself (by a framework-tier op
of its own), by (domain, op type): the node is not sent whole to the framework tier
for them."""


_CONTRIB_ROUNDS = 8
"""How many times inference and `_with_contrib_types` alternate at most: a contrib op
typed lets onnx type the values after it, which may feed the next contrib op."""


def _typed_by_onnxruntime(model: onnx.ModelProto, error: Exception) -> onnx.ModelProto:
    """`model` inferred strictly after the outputs of its nodes outside the ONNX
    domain that onnx leaves untyped got onnxruntime's types (`_with_contrib_types`):
    an ai.onnx.ml opset-1 TreeEnsembleClassifier, which skl2onnx writes, has no type
    inference in onnx, and strict inference fails at the node reading its output.
    `error` (strict inference's first) is raised when that does not help."""
    loose = _infer_shapes(model, strict_mode=False, data_prop=True)
    if not _with_contrib_types(loose):
        raise error
    try:
        return _infer_strict(loose)
    except onnx.shape_inference.InferenceError:
        raise error from None


def _check_and_infer(model: onnx.ModelProto, label: str) -> onnx.ModelProto:
    """Check the model, then return it with every intermediate shape inferred (the
    large weights are only declared: see `_skeleton`; outputs without a declared
    type or shape get the inferred ones: `_typed_outputs`)."""
    skeleton = None
    try:
        skeleton = _typed_outputs(_skeleton(model))
        onnx.checker.check_model(skeleton)
        skeleton, resized = _resize_sizes_as_onnxruntime(skeleton)
        try:
            inferred = _infer_strict(skeleton)
        except onnx.shape_inference.InferenceError as first:
            # value_info is a hint: one that contradicts what the nodes compute (a
            # stale shape an editing tool left) is dropped, as onnxruntime takes the
            # inferred shape; the error stands if inference still fails without them.
            hintless = _without_hints(skeleton)
            try:
                if hintless is None:
                    raise first
                inferred = _infer_strict(hintless)
            except onnx.shape_inference.InferenceError:
                inferred = _typed_by_onnxruntime(skeleton, first)
            else:
                _check_hint_types(skeleton, inferred, label)
        _check_type_parameters(inferred, label)
        _restore_nodes(inferred, resized)
        return _with_contrib_rounds(inferred)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as e:
        where = _shapeless(model.graph) if "'shape'" in str(e) else None
        if where is not None and where.startswith("input "):
            raise OnnxImportError(
                f"{label}: {where} declares no shape (tidal-run takes it from the array "
                "fed for the input; a compiled model needs it in the file)"
            ) from None
        if where is not None and skeleton is not None:
            # An output left without a shape because inference stopped at a node that
            # is wrong (a Gemm whose K differs): strict inference names that node.
            try:
                _infer_strict(skeleton)
            except onnx.shape_inference.InferenceError as at_node:
                raise OnnxImportError(f"{label}: not a valid ONNX model ({_one_line(at_node)})") from None
            except (onnx.checker.ValidationError, ValueError, RuntimeError):
                pass
            else:
                if where.startswith("output "):  # every node inferred, this one shapeless
                    producer = _producer_note(model, where)
                    raise OnnxImportError(
                        f"{label}: {where}{producer} has no shape that shape inference finds (as "
                        "when it depends on the data: an If whose branches give different "
                        "shapes, a Loop that grows a value); a compiled model has static shapes"
                    ) from None
        raise OnnxImportError(
            f"{label}: not a valid ONNX model ({where + ': ' if where else ''}{_one_line(e)})"
        ) from None


def _resize_sizes_as_onnxruntime(
    model: onnx.ModelProto,
) -> tuple[onnx.ModelProto, dict[int, tuple[onnx.NodeProto, str]]]:
    """The model for shape inference with each Resize of constant scales given the
    sizes onnxruntime computes, the float32 product truncated, and {node index:
    (the original node, the sizes initializer added)} to restore afterwards
    (`_restore_nodes`). onnx's inference takes the product in double: a 10-pixel
    axis scaled by 1.3 (tf2onnx's Resizing(13)) is 12 there and 13 in onnxruntime,
    which the model's declared output agrees with, so strict inference refused the
    model at the first node after. The model itself when no Resize qualifies."""
    graph = model.graph
    candidates = [
        i for i, n in enumerate(graph.node)
        if n.op_type == "Resize" and n.domain in ("", "ai.onnx") and len(n.input) >= 3 and n.input[2]
        and (len(n.input) < 4 or not n.input[3])
    ]
    if not candidates:
        return model, {}
    values = {t.name: t for t in graph.initializer}
    values.update(
        (n.output[0], a.t) for n in graph.node if n.op_type == "Constant" and n.output
        for a in n.attribute if a.name == "value" and a.HasField("t")
    )
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    for value in probe.graph.output:  # (the declared shapes are what may disagree)
        if value.type.HasField("tensor_type"):
            value.type.tensor_type.ClearField("shape")
    del probe.graph.value_info[:]
    try:
        probe = onnx.shape_inference.infer_shapes(probe)
    except Exception:  # noqa: BLE001 - the strict inference after it reports the model
        return model, {}
    shapes = {
        v.name: [d.dim_value if d.HasField("dim_value") else None for d in v.type.tensor_type.shape.dim]
        for v in [*probe.graph.input, *probe.graph.value_info]
        if v.type.HasField("tensor_type") and v.type.tensor_type.HasField("shape")
    }
    patched = None
    resized: dict[int, tuple[onnx.NodeProto, str]] = {}
    for i in candidates:
        node = graph.node[i]
        scales_t, shape = values.get(node.input[2]), shapes.get(node.input[0])
        if scales_t is None or shape is None or None in shape:
            continue
        try:
            scales = numpy_helper.to_array(scales_t).reshape(-1)
        except Exception:  # noqa: BLE001 - a malformed tensor: the builder reports it
            continue
        axes = next((list(a.ints) for a in node.attribute if a.name == "axes"), list(range(len(shape))))
        if scales.dtype != np.float32 or len(scales) != len(axes) or not np.all(np.isfinite(scales) & (scales > 0)):
            continue  # (the builder names what is wrong)
        axes = [a + len(shape) if a < 0 else a for a in axes]
        if any(not 0 <= a < len(shape) for a in axes):
            continue
        products = [_resized_length(sc, shape[a]) for sc, a in zip(scales, axes)]
        if not all(np.isfinite(p) and p < 2**31 for p in products):
            continue
        sizes = [int(p) for p in products]
        if sizes == [math.floor(float(sc) * shape[a]) for sc, a in zip(scales, axes)]:
            continue  # (inference computes the same)
        if patched is None:
            patched = onnx.ModelProto()
            patched.CopyFrom(model)
        name = f"{node.name or node.output[0]}.onnxruntime_sizes"
        patched.graph.initializer.append(numpy_helper.from_array(np.array(sizes, np.int64), name))
        copy = patched.graph.node[i]
        inputs = [*copy.input[:2], "", name]
        del copy.input[:]
        copy.input.extend(inputs)
        resized[i] = (node, name)
    return (patched, resized) if patched is not None else (model, {})


def _resized_length(scale: float, length: int) -> np.float32:
    """An axis's length scaled as onnxruntime's Resize sizes it: the float32 product,
    which the caller truncates."""
    return np.float32(scale) * np.float32(length)


def _restore_nodes(model: onnx.ModelProto, resized: Mapping[int, tuple[onnx.NodeProto, str]]) -> None:
    """Undo `_resize_sizes_as_onnxruntime` in the inferred `model` (inference keeps
    the nodes in their order): each Resize as written, the sizes it was given gone."""
    if not resized:
        return
    added = {name for _, name in resized.values()}
    for i, (node, _) in resized.items():
        model.graph.node[i].CopyFrom(node)
    kept = [t for t in model.graph.initializer if t.name not in added]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)


def _producer_note(model: onnx.ModelProto, where: str) -> str:
    """' (of node 'n', op T)' for the graph output `where` ("output 'y'") names, with
    why inference cannot see into the node when its op is one neither ONNX nor a
    local function of the model defines, or ' (which no node produces)' (a local
    function that leaves its output unset, once inlined)."""
    name = where.split("'", 2)[1] if where.count("'") >= 2 else ""
    node = next((n for n in model.graph.node if name in n.output), None)
    if node is None:
        inputs = {v.name for v in model.graph.input} | {t.name for t in model.graph.initializer}
        return "" if name in inputs else " (which no node produces)"
    label = node.name or f"{node.op_type}_{list(model.graph.node).index(node)}"
    domain = node.domain or ""
    if (domain, node.op_type) in {(f.domain, f.name) for f in model.functions}:
        return f" (of node '{label}', op {node.op_type})"
    if domain in ("", "ai.onnx") and not onnx.defs.has(node.op_type, domain):
        return f" (of node '{label}', op {node.op_type}, which ONNX does not define)"
    if domain not in ("", "ai.onnx", "com.microsoft"):
        return (
            f" (of node '{label}', op {node.op_type} of domain '{domain}', which no local "
            "function of the model defines)"
        )
    return f" (of node '{label}', op {node.op_type})"


_KNOWN_ELEMENTS = frozenset(v for v in onnx.TensorProto.DataType.values() if v)


def _element_types(model: onnx.ModelProto) -> dict[str, int]:
    """Each typed value of the main graph (inputs, value_info, outputs) by name: its
    element type code."""
    return {
        v.name: v.type.tensor_type.elem_type
        for v in [*model.graph.input, *model.graph.value_info, *model.graph.output]
        if v.type.HasField("tensor_type")
    }


def _check_type_parameters(model: onnx.ModelProto, label: str) -> None:
    """OnnxImportError naming the first node of the main graph whose inputs bound to
    one type parameter of its schema have different element types (a Clip of float
    data with an int64 bound): onnx's inference leaves them be, onnxruntime refuses
    the model ("Type parameter (T) of Optype (Clip) bound to different types")."""
    types = _element_types(model) | {t.name: t.data_type for t in model.graph.initializer}
    opsets = {o.domain or "": o.version for o in model.opset_import}
    for i, node in enumerate(model.graph.node):
        domain = node.domain or ""
        if domain not in ("", "ai.onnx"):
            continue
        try:
            schema = onnx.defs.get_schema(node.op_type, opsets.get("", 1), "")
        except onnx.defs.SchemaError:
            continue
        params = {t.type_param_str for t in schema.type_constraints}
        formal = list(schema.inputs)
        bound: dict[str, tuple[str, int]] = {}
        for j, name in enumerate(node.input):
            if not name or not formal:
                continue
            param = formal[min(j, len(formal) - 1)]
            if j >= len(formal) and param.option != onnx.defs.OpSchema.FormalParameterOption.Variadic:
                continue
            elem = types.get(name, 0)
            if param.type_str not in params or elem not in _KNOWN_ELEMENTS or not param.is_homogeneous:
                continue  # (a Scan's or Loop's variadic operands may differ; an unknown
                # data type is named as malformed data later)
            first = bound.setdefault(param.type_str, (name, elem))
            if first[1] != elem:
                what = node.name or f"{node.op_type}_{i}"
                raise OnnxImportError(
                    f"{label}: node '{what}' (op {node.op_type}): inputs '{first[0]}' "
                    f"({onnx.TensorProto.DataType.Name(first[1])}) and '{name}' "
                    f"({onnx.TensorProto.DataType.Name(elem)}) are both of its type "
                    f"{param.type_str}, which must be one type (onnxruntime refuses the model)"
                )


def _check_hint_types(model: onnx.ModelProto, inferred: onnx.ModelProto, label: str) -> None:
    """OnnxImportError if a value_info entry of `model` declares an element type that
    differs from the one inference gives the value without it: a stale shape is a
    hint dropped (onnxruntime takes the inferred one), but onnxruntime refuses a
    declared type its node does not compute ("Type (tensor(int64)) of output arg (c)
    ... does not match")."""
    found = _element_types(inferred)
    producers = {name: node for node in model.graph.node for name in node.output}
    for v in model.graph.value_info:
        declared = v.type.tensor_type.elem_type if v.type.HasField("tensor_type") else 0
        computed = found.get(v.name, 0)
        if declared and computed and declared != computed and v.name in producers:
            node = producers[v.name]
            raise OnnxImportError(
                f"{label}: value_info declares '{v.name}' "
                f"{onnx.TensorProto.DataType.Name(declared)}, but node "
                f"'{node.name or node.op_type}' ({node.op_type}) computes "
                f"{onnx.TensorProto.DataType.Name(computed)} (onnxruntime refuses a "
                "declared type that contradicts its node)"
            )


def _without_hints(model: onnx.ModelProto) -> onnx.ModelProto | None:
    """A copy of the model without the value_info of values that nodes of the ONNX
    domain compute (shape inference gives theirs), or None when there is none."""
    computed = {
        name for node in model.graph.node if node.domain in ("", "ai.onnx") for name in node.output
    }
    if not any(v.name in computed for v in model.graph.value_info):
        return None
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    kept = [v for v in copy.graph.value_info if v.name not in computed]
    del copy.graph.value_info[:]
    copy.graph.value_info.extend(kept)
    return copy


def _ort_symbolic_types(model: onnx.ModelProto) -> onnx.ModelProto | None:
    """The model with the types onnxruntime's symbolic shape inference finds, or None.

    Where it cannot type every value, onnxruntime saves what it found as
    "sym_shape_infer_temp.onnx" with its tensors in external files named by UUIDs,
    in the working directory, then raises: it runs in a temporary directory of its
    own (the user's directory is never written), and the partial result it saved is
    read back from there."""
    import contextlib
    import tempfile

    try:
        from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference
    except ImportError:  # pragma: no cover - a dependency of the package
        return None
    with tempfile.TemporaryDirectory(prefix="tidal-shapes-") as tmp, contextlib.chdir(tmp):
        try:
            return SymbolicShapeInference.infer_shapes(model, auto_merge=True)
        except Exception:  # its own failure: what it saved, if anything
            partial = Path(tmp) / "sym_shape_infer_temp.onnx"
            if not partial.is_file():
                return None
            try:
                return onnx.load(str(partial), load_external_data=False)
            except Exception:  # an unreadable partial result: none
                return None


def _with_contrib_types(model: onnx.ModelProto) -> bool:
    """Give the outputs of nodes outside the ONNX domain (onnxruntime's
    com.microsoft ops: BiasGelu, FusedConv, SkipLayerNormalization, Attention, as its
    transformers optimizer writes them) that onnx's shape inference left untyped the
    types onnxruntime's own symbolic shape inference finds, as value_info. Whether
    any was added."""
    graph = model.graph
    typed = {v.name for v in [*graph.input, *graph.value_info, *graph.output] if not _bare(v) or _string_info(v)}
    typed.update(t.name for t in graph.initializer)
    missing = {
        name for node in graph.node if node.domain not in ("", "ai.onnx")
        for name in node.output if name and name not in typed
    }
    if not missing:
        return False
    found = _ort_symbolic_types(model)
    # Static shapes only: a dim onnxruntime names (its "unk__1" where it could not
    # merge two) would make every value after it dynamic; `_types_by_running`
    # types those outputs from the static shapes of the node's inputs instead.
    added = [] if found is None else [
        v for v in found.graph.value_info
        if v.name in missing and v.type.HasField("tensor_type") and not _bare(v)
        and all(d.HasField("dim_value") for d in v.type.tensor_type.shape.dim)
    ]
    graph.value_info.extend(added)
    known = [v.SerializeToString() for v in graph.value_info]
    ran = [v for v in _types_by_running(model, missing - {v.name for v in added}) if v.SerializeToString() not in known]
    graph.value_info.extend(ran)
    return bool(added or ran)


_RUN_ELEMENTS = 1 << 24
"""`_types_by_running` runs a node only on inputs of at most this many elements in
all (zeros: 64 MB of float32)."""


def _types_by_running(model: onnx.ModelProto, missing: set[str]) -> list[onnx.ValueInfoProto]:
    """value_info for the outputs in `missing` of nodes outside the ONNX domain that no
    shape inference typed (a com.microsoft SkipLayerNormalization whose Mean output is
    used, which its builder refuses), from one onnxruntime run of the node alone on zeros of its inputs'
    static types (a string tensor's elements one letter), in graph order (a node
    typed so types the next one's inputs); a string output gets its element type
    only (its shape is the data's).
    A dynamic input dim runs as 1, and the node's outputs then get their element
    types only (no shape). Nodes with an untyped input, or inputs over
    `_RUN_ELEMENTS` (counted before any is made), stay untyped; so do those
    onnxruntime fails on. A shape that depends on the data is
    caught when the model runs: the framework tier checks every output's shape
    against its declared one."""
    if not missing:
        return []
    import onnxruntime as ort

    graph = model.graph
    types = {v.name: v.type for v in [*graph.input, *graph.value_info, *graph.output] if v.HasField("type")}
    inits = {t.name: t for t in graph.initializer}
    added: list[onnx.ValueInfoProto] = []
    for node in graph.node:
        outputs = [o for o in node.output if o]
        if node.domain in ("", "ai.onnx") or not any(o in missing for o in outputs):
            continue
        shapes = _static_inputs(node, types, inits)
        if shapes is None:
            continue  # an untyped input
        # A dynamic dim runs as 1; its outputs then get their element types only.
        guessed = any(min(d, default=0) < 0 for _, d, _ in shapes)
        shapes = [(n, [max(x, 1) for x in d], t) for n, d, t in shapes]
        if sum(prod(d) for _, d, _ in shapes) > _RUN_ELEMENTS:
            continue  # too many elements to make
        alone = onnx.helper.make_model(
            onnx.helper.make_graph(
                [node], "typing", [onnx.helper.make_value_info(n, types[n]) for n, _, _ in shapes],
                [onnx.helper.make_empty_tensor_value_info(o) for o in outputs],
                [inits[n] for n in dict.fromkeys(node.input) if n in inits],
            ),
            opset_imports=list(model.opset_import),
        )
        alone.ir_version = model.ir_version
        options = ort.SessionOptions()
        options.log_severity_level = 4
        try:
            with framework.address_space_budget(framework.MEMORY_BUDGET):
                session = ort.InferenceSession(
                    alone.SerializeToString(), options, providers=["CPUExecutionProvider"]
                )
                values = framework.run_session(session, None, {n: _typing_input(d, t) for n, d, t in shapes})
        except Exception:  # onnxruntime's own failure: the outputs stay untyped
            continue
        for name, value in zip(outputs, values, strict=False):
            if name in missing and isinstance(value, np.ndarray):
                if value.dtype == object or guessed:  # the type, not the shape
                    elem = onnx.helper.np_dtype_to_tensor_dtype(value.dtype) if value.dtype != object else onnx.TensorProto.STRING
                    vi = onnx.helper.make_tensor_value_info(name, elem, None)
                else:
                    vi = onnx.helper.make_tensor_value_info(
                        name, onnx.helper.np_dtype_to_tensor_dtype(value.dtype), list(value.shape)
                    )
                added.append(vi)
                types[name] = vi.type
    return added


def _typing_input(dims: list[int], dtype: np.dtype) -> np.ndarray:
    """An input for typing a node by running it: zeros, or for a string tensor (an
    object array in onnxruntime) a one-letter word in every element."""
    if dtype == object:
        return np.full(dims, "a", dtype=object)
    return np.zeros(dims, dtype)


def _static_inputs(
    node: onnx.NodeProto, types: Mapping[str, onnx.TypeProto], inits: Mapping[str, object]
) -> list[tuple[str, list[int], np.dtype]] | None:
    """(name, dims, dtype) of each input of `node` that is not an initializer (a
    dynamic dim -1; an unranked input two of them), or None when one has no tensor
    type or an element type NumPy lacks."""
    out = []
    for name in dict.fromkeys(n for n in node.input if n and n not in inits):
        ty = types.get(name)
        if ty is None or not ty.HasField("tensor_type"):
            return None
        dims = [d.dim_value if d.HasField("dim_value") else -1 for d in ty.tensor_type.shape.dim]
        if not ty.tensor_type.HasField("shape"):
            dims = [-1, -1]  # unranked: tried as a matrix (what ai.onnx.ml's ops take)
        try:
            dtype = onnx.helper.tensor_dtype_to_np_dtype(ty.tensor_type.elem_type)
        except (KeyError, ValueError):
            return None
        out.append((name, dims, dtype))
    return out


def _shapeless(graph: onnx.GraphProto) -> str | None:
    """The first graph input, output or value_info whose tensor type has no shape
    (onnx's checker says "Field 'shape' of 'type' is required" without naming it)."""
    for kind, values in (("input", graph.input), ("output", graph.output), ("value_info", graph.value_info)):
        for v in values:
            if v.type.HasField("tensor_type") and not v.type.tensor_type.HasField("shape"):
                return f"{kind} '{v.name}'"
    return None


ONNX_DOMAIN_DEFAULT_OPSET = 17
"""The ONNX-domain opset a model that imports none is read at (one whose nodes are
all of other domains, ai.onnx.ml's say: valid ONNX, and onnxruntime runs it); only
the Identity nodes that join framework-tier payloads are of the ONNX domain then."""


def _only_other_domains(model: onnx.ModelProto) -> bool:
    """Whether `model` imports no ONNX-domain opset and no node of its graph (or of
    a subgraph) is of the ONNX domain."""
    if any(o.domain in ("", "ai.onnx") for o in model.opset_import):
        return False
    return all(node.domain not in ("", "ai.onnx") for node in _all_nodes(model.graph))


def _opset(model: onnx.ModelProto, label: str) -> int:
    """The model's ONNX opset, refused if newer than the installed onnx knows (its
    checker would judge the model by older rules)."""
    version = next(
        (o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None
    )
    if version is None:
        raise OnnxImportError(
            f"{label}: not a valid ONNX model (it imports no opset of the ONNX domain)"
        )
    known = onnx.defs.onnx_opset_version()
    if version > known:
        raise OnnxImportError(
            f"{label}: opset {version} is newer than the installed onnx "
            f"{onnx.__version__} knows (opset {known} at most)"
        )
    return version


def _converter_complaint(error: BaseException) -> str:
    """The version converter's message without its C++ assertion prefix."""
    message = _one_line(error)
    return re.sub(r"^.*?Assertion `.*?` failed: ", "", message)


def _upgrade(
    model: onnx.ModelProto, version: int, label: str
) -> tuple[onnx.ModelProto, list[onnx.TensorProto]]:
    """The model converted to MIN_OPSET by onnx's version converter, and its
    initializers. The converter serialises the model, so it converts the skeleton;
    the large weights it left out are the original ones."""
    try:
        converted = onnx.version_converter.convert_version(_declared(_skeleton(model)), MIN_OPSET)
    except (RuntimeError, ValueError, onnx.checker.ValidationError, onnx.version_converter.ConvertError, onnx.shape_inference.InferenceError) as e:
        raise OnnxImportError(
            f"{label}: opset {version} cannot be upgraded to opset {MIN_OPSET} "
            f"(onnx version converter: {_converter_complaint(e)})"
        ) from None
    _check_signature_kept(model, converted, version, label)
    kept = {t.name for t in converted.graph.initializer}
    initializers = [*converted.graph.initializer]
    initializers += [t for t in model.graph.initializer if t.name not in kept]
    if version < 7:
        initializers = _channel_slopes(model, initializers)
    return converted, initializers


def _declared(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model with every initializer also a graph input, as IR version 3 requires
    and onnx's version converter expects of such a model ("Input s is undefined!"
    for a Reshape's shape that is only an initializer; onnxruntime runs the model).
    The importer takes an initializer listed as an input as the constant it is."""
    if model.ir_version >= 4:
        return model
    declared = {i.name for i in model.graph.input}
    missing = [t for t in model.graph.initializer if t.name not in declared]
    if not missing:
        return model
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    copy.graph.input.extend(
        onnx.helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in missing
    )
    return copy


def _check_signature_kept(
    model: onnx.ModelProto, converted: onnx.ModelProto, version: int, label: str
) -> None:
    """OnnxImportError unless the upgrade kept every graph input's and output's type:
    onnx's converter takes Scan 8's batch axis out of the graph's own inputs and
    outputs ([1, 2] became [2]), so the model it returns is not the one given."""
    for kind in ("input", "output"):
        given = {v.name: v.type for v in getattr(model.graph, kind)}
        for value in getattr(converted.graph, kind):
            if value.name in given and not _refines(value.type, given[value.name]):
                raise OnnxImportError(
                    f"{label}: opset {version} cannot be upgraded to opset {MIN_OPSET}: "
                    f"onnx's version converter changes graph {kind} '{value.name}' from "
                    f"{_type_text(given[value.name])} to {_type_text(value.type)}"
                )


def _refines(new: onnx.TypeProto, old: onnx.TypeProto) -> bool:
    """Whether tensor type `new` is `old` or `old` with more of its shape known: the
    same element type, and where `old` has a shape, the same rank and each dim
    `old` gives by value the same (inference may fill in an output's shape that
    the model left open)."""
    if new == old:
        return True
    if new.WhichOneof("value") != "tensor_type" or old.WhichOneof("value") != "tensor_type":
        return False
    a, b = new.tensor_type, old.tensor_type
    if a.elem_type != b.elem_type:
        return False
    if not b.HasField("shape"):
        return True
    if not a.HasField("shape") or len(a.shape.dim) != len(b.shape.dim):
        return False
    return all(
        not d.HasField("dim_value") or (n.HasField("dim_value") and n.dim_value == d.dim_value)
        for n, d in zip(a.shape.dim, b.shape.dim)
    )


def _type_text(type_proto: onnx.TypeProto) -> str:
    """A tensor type as `float [1, 2]` (dims by value or name, `?` if neither)."""
    if not type_proto.HasField("tensor_type"):
        return framework.onnx_type_text(type_proto) or "an unknown type"
    tensor = type_proto.tensor_type
    elem = onnx.TensorProto.DataType.Name(tensor.elem_type).lower()
    if not tensor.HasField("shape"):
        return f"{elem} of unknown shape"
    dims = [str(d.dim_value) if d.HasField("dim_value") else (d.dim_param or "?") for d in tensor.shape.dim]
    return f"{elem} [{', '.join(dims)}]"


def _channel_slopes(
    model: onnx.ModelProto, initializers: list[onnx.TensorProto]
) -> list[onnx.TensorProto]:
    """PRelu before opset 7 applies a slope of C values along the channel dim (1);
    from 7 it broadcasts like NumPy (along the last dim). onnx's version converter
    leaves the slope as it is, so a [C] slope of an input of rank 3 or more is
    reshaped here to [C, 1, ...]."""
    ranks = {
        vi.name: len(vi.type.tensor_type.shape.dim)
        for vi in [*model.graph.input, *model.graph.value_info]
        if vi.type.HasField("tensor_type") and vi.type.tensor_type.HasField("shape")
    }
    slopes = {
        n.input[1]: ranks[n.input[0]]
        for n in model.graph.node
        if n.op_type == "PRelu" and len(n.input) > 1 and ranks.get(n.input[0], 0) >= 3
    }
    out = []
    for t in initializers:
        if t.name in slopes and len(t.dims) == 1:
            array = numpy_helper.to_array(t)
            shaped = array.reshape((-1,) + (1,) * (slopes[t.name] - 2))
            t = numpy_helper.from_array(shaped, t.name)
        out.append(t)
    return out


# ----------------------------------------------------------------------------- types


def _tensor_type(name: str, type_proto: onnx.TypeProto | None) -> TensorType:
    """The static f32 tensor type of an ONNX value (no dim zero: zero-size tensors
    are not supported), or OnnxImportError naming it."""
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
    negative = [i for i, d in enumerate(tensor.shape.dim) if d.HasField("dim_value") and d.dim_value < 0]
    if negative:
        raise OnnxImportError(
            f"tensor '{name}' has shape [{', '.join(dims)}]: dimension {negative[0]} is "
            f"{dims[negative[0]]}, and a size is at least 1"
        )
    if not all(d.isdigit() for d in dims):
        how = (
            "give each named dimension a size, tidal-compile --dim NAME=SIZE, or feed "
            "inputs of that shape to tidal-run"
            if "?" not in dims
            else "a dimension with neither a size nor a name takes the size of the "
            "array that tidal-run feeds for the input; name it in the model to give it "
            "with tidal-compile --dim NAME=SIZE"
        )
        raise _UnknownShape(
            f"tensor '{name}' has a dynamic shape [{', '.join(dims)}] "
            f"(all shapes must be static: {how})"
        )
    if "0" in dims:
        raise OnnxImportError(
            f"tensor '{name}' has shape [{', '.join(dims)}], with no elements "
            "(zero-size tensors are not supported)"
        )
    return TensorType(f32, [int(d) for d in dims])


def _input_type(name: str, type_proto: onnx.TypeProto | None) -> Attribute:
    """A graph input's type: static, of any element type the framework tier carries
    (f32 inputs may reach the accelerator; others only framework-tier ops); a
    sequence, optional or map one an `!graph.onnx_value` (framework-tier ops only)."""
    if (opaque := framework.onnx_value_type(type_proto)) is not None:
        return opaque
    if type_proto is not None and type_proto.HasField("tensor_type"):
        elem = type_proto.tensor_type.elem_type
        if elem != onnx.TensorProto.FLOAT:
            ty = framework.value_type(type_proto)
            if ty is None:
                raise OnnxImportError(
                    f"input '{name}' has element type "
                    f"{onnx.TensorProto.DataType.Name(elem)} (not supported)"
                )
            f32_proto = onnx.TypeProto()
            f32_proto.CopyFrom(type_proto)
            f32_proto.tensor_type.elem_type = onnx.TensorProto.FLOAT
            shape = _static_shape(name, f32_proto)
            assert isinstance(ty, TensorType)
            return TensorType(ty.get_element_type(), shape)
    return TensorType(f32, _static_shape(name, type_proto))


def _static_shape(name: str, type_proto: onnx.TypeProto | None) -> tuple[int, ...]:
    """A graph input's static shape; a zero-size one (which only onnxruntime's
    tier takes) too."""
    try:
        return tuple(_tensor_type(name, type_proto).get_shape())
    except _UnknownShape:
        raise
    except OnnxImportError:
        assert type_proto is not None
        dims = [d.dim_value for d in type_proto.tensor_type.shape.dim]
        if 0 in dims and all(d.HasField("dim_value") for d in type_proto.tensor_type.shape.dim):
            return tuple(dims)
        raise


def _element(ty: Attribute) -> Attribute:
    return ty.element_type if isinstance(ty, UnrankedTensorType) else ty.get_element_type()  # type: ignore[union-attr]


def _is_static_f32(ty: Attribute) -> bool:
    """What the accelerator and host tiers take: f32, static, not empty."""
    return (
        isinstance(ty, TensorType)
        and ty.get_element_type() == f32
        and DYNAMIC_INDEX not in ty.get_shape()
        and 0 not in ty.get_shape()
    )


def _describe_type(ty: Attribute) -> str:
    """'int64 [1, 8]', 'float32 [?, 8]', 'bool (unranked)', 'seq(tensor(float))'."""
    if isinstance(ty, OnnxValueType):
        return ty.text
    elem = numpy_dtype(_element(ty))
    if isinstance(ty, UnrankedTensorType):
        return f"{elem} (unranked)"
    assert isinstance(ty, TensorType)
    dims = ", ".join("?" if d == DYNAMIC_INDEX else str(d) for d in ty.get_shape())
    return f"{elem} [{dims}]"


# Ops never computed at import: their values are drawn at run time.
_NEVER_FOLD = frozenset(
    {"RandomUniform", "RandomNormal", "RandomUniformLike", "RandomNormalLike",
     "Bernoulli", "Multinomial", "Dropout", "Constant", "Identity"}
)


# Data movements whose float results on constant inputs are computed once at import
# rather than imported as copies of constants.
_MOVES = frozenset({"Cast", "Gather", "Slice", "Split", "Squeeze", "Tile", "Pad"})

# Ops whose builders take data of any element type themselves (fold or alias it).
_BUILDERS_FOLD = frozenset({"ConstantOfShape", "Unsqueeze", "Constant", "Identity"})


_WINDOW_ATTRS = frozenset({"kernel_shape", "strides", "pads", "dilations", "output_padding", "output_shape"})
"""A window's attributes (convs, poolings): each value becomes a word of an access
in the binary, so one past 32 bits is refused at its node."""


def _name_hint(onnx_name: str) -> str | None:
    """An SSA name close to the ONNX name, so the IR reads like the model."""
    hint = re.sub(r"[^A-Za-z0-9_$.-]", "_", onnx_name)
    if not hint:
        return None
    # xDSL keeps a name without its `_<digits>` suffix, and each copy of a name
    # (a rewrite replacing a value) strips again: `_0`, `%0` or `/0_1` would become
    # the empty name, which xDSL refuses. A leading digit is refused too.
    if hint[0].isdigit() or re.fullmatch(r"(_\d+)+", hint):
        return f"v{hint}"
    return hint


# ----------------------------------------------------------------------- folding


def _attr(proto: onnx.NodeProto, name: str, default: Any) -> Any:
    for a in proto.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def fold_node(
    proto: onnx.NodeProto,
    consts: Mapping[str, np.ndarray],
    static_shape: Callable[[str], tuple[int, ...] | None],
    types: Mapping[str, onnx.TypeProto],
    opsets: Sequence[onnx.OperatorSetIdProto],
    dram: _Dram,
    builders_fold: bool = False,
) -> dict[str, np.ndarray] | None:
    """The values of `proto`'s outputs when it can be computed at import, else None:
    Shape and Size of a tensor of static shape; a node whose inputs are all
    constants and whose outputs are data other ops read as such (not float, or of
    an op no builder imports: the shape computations of exported transformers,
    casts of constants), by onnx's reference evaluator. Random ops never fold; an
    output must have a static inferred shape and fit the DRAM (`_TooBig` if not).
    With `builders_fold`, integer ConstantOfShape and Unsqueeze fold here too (in
    the import walk their builders do it)."""
    if proto.domain not in ("", "ai.onnx") or proto.op_type in _NEVER_FOLD:
        return None
    if proto.op_type in _BUILDERS_FOLD and not (
        builders_fold and proto.op_type in ("ConstantOfShape", "Unsqueeze")
    ):
        return None
    if any(a.HasField("g") or len(a.graphs) for a in proto.attribute):
        return None
    names = [n for n in proto.input if n]
    outputs = [o for o in proto.output if o]
    if proto.op_type in ("Shape", "Size") and names and names[0] not in consts:
        shape = static_shape(names[0])
        if shape is None:
            return None
        if proto.op_type == "Size":
            return {outputs[0]: np.array(prod(shape), np.int64)}
        rank = len(shape)
        start, end = int(_attr(proto, "start", 0)), _attr(proto, "end", None)
        start = max(0, min(rank, start + rank if start < 0 else start))
        stop = rank if end is None else int(end)
        stop = max(0, min(rank, stop + rank if stop < 0 else stop))
        return {outputs[0]: np.array(shape[start:stop], np.int64)}
    if not names or not all(n in consts for n in names):
        return None
    if proto.op_type == "ConstantOfShape" and np.ndim(consts[names[0]]) != 1:
        return None  # (not a shape: its builder refuses it)
    out_types = [framework.value_type(types.get(o)) for o in outputs]
    if any(framework.is_narrow(ty) for ty in out_types):
        # a bfloat16, float8, int4, ... result: onnxruntime's values, never the
        # reference's, whose rounding differs (a Cast of -2.7 to int4: -3 in
        # onnxruntime, -2 in the reference), so the node runs on the framework
        # tier. (Such inputs convert to wider types exactly: a DequantizeLinear of
        # int4 weights folds.)
        return None
    floats = any(ty is None or _element(ty) == f32 for ty in out_types)
    if (
        floats and onnx_entry(proto.op_type) and proto.op_type not in _MOVES
        and not (builders_fold and _shape_arithmetic(proto, [consts[n] for n in names], out_types))
    ):
        return None  # float data: the builder's graph op (canonicalize folds it)
    for name, ty in zip(outputs, out_types, strict=True):
        if not isinstance(ty, TensorType) or DYNAMIC_INDEX in ty.get_shape():
            return None  # unknown size: not made at import
        dtype = np.dtype(numpy_dtype(ty.get_element_type()))
        what = (
            f"constant of shape {list(ty.get_shape())} ({dtype})"
            if proto.op_type == "ConstantOfShape"
            else f"output '{name}' ({dtype} {list(ty.get_shape())})"
        )
        if (why := dram.too_big(prod(ty.get_shape()) * dtype.itemsize, what)) is not None:
            raise _TooBig(why)
    from onnx.reference import ReferenceEvaluator

    graph = onnx.helper.make_graph(
        [proto], "fold", [],
        [onnx.helper.make_empty_tensor_value_info(o) for o in outputs],
        [numpy_helper.from_array(np.asarray(consts[n]), n) for n in dict.fromkeys(names)],
    )
    model = onnx.helper.make_model(graph, opset_imports=list(opsets))
    # An integer division by zero (Div, Mod) is NumPy's warning and a 0 in the
    # reference, where onnxruntime refuses it: raised here, the node is not folded
    # and onnxruntime decides. Float results (inf, NaN) are the values onnxruntime
    # computes too, so those warnings are silenced.
    integers = any(np.asarray(consts[n]).dtype.kind in "iub" for n in names)
    try:
        with np.errstate(divide="raise" if integers else "ignore", over="ignore", under="ignore", invalid="ignore"):
            values = ReferenceEvaluator(model).run(None, {})
    except Exception:  # (the reference's own exception types)
        values = _fold_by_onnxruntime(model, proto)
        if values is None:  # neither can: onnxruntime runs it (framework tier)
            return None
    return {n: np.asarray(v) for n, v in zip(outputs, values, strict=True)}


def _fold_by_onnxruntime(model: onnx.ModelProto, proto: onnx.NodeProto) -> list[Any] | None:
    """The outputs of one-node `model` (constant inputs) by onnxruntime, for an op
    onnx's reference has no implementation of at the model's opset (DequantizeLinear
    before opset 19: the weights of a QDQ model), or None: onnxruntime runs such a
    node on the framework tier otherwise, so folding it computes the same values
    once, at import. Only ops whose schema onnxruntime knows and whose outputs are
    plain tensors."""
    if proto.op_type not in _ORT_FOLDS:
        return None
    model.ir_version = max(model.ir_version, 8)
    try:
        values = framework.run_constant_model(model)
    except framework.FrameworkError:
        return None
    return values if all(isinstance(v, np.ndarray) for v in values) else None


_ORT_FOLDS = frozenset({
    "DequantizeLinear", "QuantizeLinear",
    # data movement, exact whichever computes it (onnx 1.23's GatherElements fails
    # on an axis of 64 or more entries: RoBERTa's position ids)
    "GatherElements", "GatherND", "Gather", "ScatterElements", "ScatterND", "Slice",
    "Transpose", "Concat", "Expand", "Tile", "Pad", "Where", "Split", "Reshape",
})
"""The ops `_fold_by_onnxruntime` folds: where onnx's reference lacks an opset that
onnxruntime implements, or fails, and the values are the same whichever computes them."""


_FLOAT_SHAPE_CONSTANT = 8
"""The most elements of a float Constant node `_prefold` takes as a folded value,
and of the float results of `_FLOAT_SHAPE_OPS` it folds (shape arithmetic in float:
MobileViT's patch grid, a detection transform's scale)."""

_FLOAT_SHAPE_OPS = frozenset(
    {"Add", "Sub", "Mul", "Div", "Neg", "Abs", "Reciprocal", "Sqrt", "Pow", "Min", "Max",
     "Ceil", "Floor", "Round", "Cast"}
)
"""The scalar arithmetic that computes shapes in float, folded in `_prefold` when its
inputs are constants and its result has at most `_FLOAT_SHAPE_CONSTANT` elements (and
Unsqueeze, Squeeze and Concat of such scalars: a detection transform's Resize sizes)."""


def _shape_arithmetic(
    proto: onnx.NodeProto, inputs: Sequence[np.ndarray], out_types: Sequence[Attribute | None]
) -> bool:
    """Whether a node of constant inputs and float results is scalar arithmetic on
    shapes that `_prefold` folds: an op of `_FLOAT_SHAPE_OPS`, an Unsqueeze or
    Squeeze of a one-element value, or a Concat of non-empty values (Resize's scales
    written as Concat(Constant [1, 1], Constant [2, 2])), whose results have at most
    `_FLOAT_SHAPE_CONSTANT` elements each."""
    op = proto.op_type
    if op not in _FLOAT_SHAPE_OPS and not (
        op in ("Unsqueeze", "Squeeze") and all(a.size == 1 for a in inputs)
    ) and not (op == "Concat" and all(a.size > 0 for a in inputs)):  # (zero-size: left to the tiers)
        return False
    return all(
        isinstance(ty, TensorType) and DYNAMIC_INDEX not in ty.get_shape()
        and prod(ty.get_shape()) <= _FLOAT_SHAPE_CONSTANT
        for ty in out_types
    )


def _prefold(
    model: onnx.ModelProto, label: str, dram: _Dram, rounds: int = 64,
    fed: Collection[str] = (),
) -> tuple[onnx.ModelProto, list[onnx.TensorProto], dict[str, np.ndarray]]:
    """Fold what `fold_node` can over the (inferred) skeleton, then infer shapes
    again with the folded values as initializers, so that shapes computed in the
    graph (Shape -> Gather -> Concat -> Reshape, Expand by a computed shape) become
    static; repeated while a round folds something. Returns the model, the folded
    values as initializers, and the folded values of more than
    INFER_INITIALIZER_MAX elements as arrays: those go to inference as graph inputs
    of their shape meanwhile, never into the protobuf (which copied each one about
    five times: Range(0, 2^26) folded and cast peaked at 5 GB). Integer Constant
    nodes count as folded values. The initializers named in `fed` are not constants
    here: the caller feeds them (`_Importer.override`), so what reads them is
    computed from the values fed."""
    folded: list[onnx.TensorProto] = []
    held: dict[str, np.ndarray] = {}
    for _ in range(rounds):
        graph = model.graph
        consts: dict[str, np.ndarray] = dict(held)
        for t in graph.initializer:
            if t.name in fed:
                continue
            try:
                consts[t.name] = numpy_helper.to_array(t)
            except (ValueError, TypeError, KeyError):
                continue
        types = {vi.name: vi.type for vi in [*graph.input, *graph.value_info, *graph.output]}

        def static_shape(name: str) -> tuple[int, ...] | None:
            if name in consts:
                return tuple(consts[name].shape)
            ty = framework.value_type(types.get(name))
            if isinstance(ty, TensorType) and DYNAMIC_INDEX not in ty.get_shape():
                return tuple(ty.get_shape())
            return None

        keep, new = [], {}
        for node in graph.node:
            value = None
            if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
                t = next((a.t for a in node.attribute if a.name == "value"), None)
                if t is not None and t.data_type != onnx.TensorProto.FLOAT:
                    try:
                        value = {node.output[0]: numpy_helper.to_array(t)}
                    except (ValueError, TypeError, KeyError):
                        value = None
                elif t is not None and prod(t.dims) <= _FLOAT_SHAPE_CONSTANT:
                    # A few float elements: read by what folds (scalar arithmetic on
                    # shapes, Cast(Ceil(h / 2.0) * 2.0), as MobileViT and detection
                    # exports write); the node stays for the rest.
                    try:
                        consts[node.output[0]] = numpy_helper.to_array(t)
                    except (ValueError, TypeError, KeyError):
                        pass
            else:
                try:
                    value = fold_node(
                        node, consts, static_shape, types, model.opset_import, dram,
                        builders_fold=True,
                    )
                except _TooBig as e:
                    name = node.name or node.op_type
                    raise _TooBig(f"node '{name}' (op {node.op_type}): {e}") from None
            if value is None:
                keep.append(node)
                continue
            consts.update(value)
            new.update(value)
        if not new:
            break
        arrays = {n: np.asarray(v) for n, v in new.items()}
        large = {n: v for n, v in arrays.items() if _held_apart(v)}
        tensors = [numpy_helper.from_array(v, n) for n, v in arrays.items() if n not in large]
        folded += tensors
        held.update(large)
        rebuilt = onnx.ModelProto()
        rebuilt.CopyFrom(model)
        del rebuilt.graph.node[:]
        rebuilt.graph.node.extend(keep)
        rebuilt.graph.initializer.extend(tensors)
        rebuilt.graph.input.extend(
            onnx.helper.make_tensor_value_info(n, onnx.helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
            for n, v in large.items()
        )
        del rebuilt.graph.value_info[:]
        try:
            # The contrib ops' types go with the value_info: found again, now that the
            # folded shapes may have made their inputs static.
            model = _with_contrib_rounds(
                _infer_strict(rebuilt)
            )
        except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as e:
            raise OnnxImportError(f"{label}: not a valid ONNX model ({_one_line(e)})") from None
    if held:  # the stand-in inputs out: the importer has the values
        stand_ins = [i for i in model.graph.input if i.name in held]
        for value in stand_ins:
            model.graph.input.remove(value)
    return model, folded, held


def _held_apart(value: np.ndarray) -> bool:
    """Whether `_prefold` keeps a folded value as an array, out of the protobuf: one
    of more than INFER_INITIALIZER_MAX numbers or booleans."""
    return value.size > INFER_INITIALIZER_MAX and value.dtype.kind in "biuf"


# ------------------------------------------------------------------------ the importer


class _Importer:
    """Walks the (topologically ordered) ONNX nodes, appending graph ops to one block."""

    def __init__(
        self,
        model: onnx.ModelProto,
        opset: int,
        initializers: Sequence[onnx.TensorProto],
        *,
        dram: _Dram,
        declared_inputs: Sequence[str] = (),
        ir_version: int = onnx.IR_VERSION,
        notes: Sequence[str] = (),
        base_dir: str = "",
        values: Mapping[str, np.ndarray] | None = None,
    ):
        graph = model.graph
        self.dram = dram
        self.notes = list(notes)
        self.graph = graph
        self.opset = opset
        self.types: dict[str, onnx.TypeProto] = {
            vi.name: vi.type for vi in [*graph.input, *graph.value_info, *graph.output]
        }
        self.consts: dict[str, np.ndarray] = {}
        for t in initializers:
            try:
                self.consts[t.name] = numpy_helper.to_array(t, base_dir)  # read once
            except (ValueError, TypeError, KeyError) as e:
                raise OnnxImportError(
                    f"initializer '{t.name}': malformed data ({_one_line(e)})"
                ) from None
            except (OSError, onnx.checker.ValidationError) as e:
                raise OnnxImportError(
                    f"initializer '{t.name}': cannot read external data ({_one_line(e)})"
                ) from None
        self.consts.update(values or {})  # (folded values held as arrays: `_prefold`)
        self.const_origin: dict[str, str] = {name: name for name in self.consts}
        # onnxruntime: from IR version 4 on, an initializer that is also a graph
        # input is a default value that a feed may override.
        self.ir_version = ir_version
        self.constant_inputs = (
            [n for n in declared_inputs if n in self.consts] if ir_version >= 4 else []
        )
        self.values: dict[str, SSAValue] = {}
        # Nodes no graph output depends on are left out (onnxruntime runs them for
        # nothing; one on the framework tier would be asked for no output).
        self.live = _live_nodes(graph)
        self.used: set[str] = {o.name for o in graph.output}
        self.used.update(
            name for node, live in zip(graph.node, self.live, strict=True) if live
            for name in framework.node_inputs(node)
        )
        self.block = Block()
        self.extra_funcs: list[FuncOp] = []  # Loop bodies, functions beside main
        self.opset_imports = list(model.opset_import)
        # Values a builder made from constants alone, and the node that made each
        # (`_fold_derived`).
        self.derived: dict[str, onnx.NodeProto] = {}
        # Set when the model's opset could not be upgraded: every node then runs on
        # the framework tier, in its own opset, with this reason.
        self.fallback_all: str | None = None

    def override(self, overrides: Mapping[str, object]) -> None:
        """Replace overridable initializers by the values fed for their names; other
        names are graph inputs or no tensor at all, for the caller to check."""
        for name in overrides:  # (a value is read only for a name that is fed)
            if name not in self.consts:
                continue
            value = overrides[name]
            if name not in self.constant_inputs:
                why = (
                    f"the model's IR version {self.ir_version} makes initializers "
                    "constants (from IR version 4 on, an initializer that is also a "
                    "graph input may be fed)"
                    if self.ir_version < 4
                    else "the model does not list it as a graph input"
                )
                raise OnnxImportError(
                    f"input '{name}' is an initializer that cannot be fed: {why}"
                )
            initial = self.consts[name]
            expected = f"a float32 array of shape {initial.shape}"
            if initial.dtype != np.float32:
                raise OnnxImportError(
                    f"input '{name}' overrides an initializer of dtype {initial.dtype} "
                    "(only float32 initializers can be overridden)"
                )
            if not isinstance(value, np.ndarray):
                raise OnnxImportError(
                    f"input '{name}': expected {expected}, got {type(value).__name__}"
                )
            if value.dtype != np.float32:
                raise OnnxImportError(
                    f"input '{name}': expected dtype float32, got {value.dtype} "
                    "(inputs are never cast; convert with .astype(np.float32))"
                )
            if value.shape != initial.shape:
                raise OnnxImportError(
                    f"input '{name}': expected shape {initial.shape}, got {value.shape} "
                    "(the shape of the initializer it overrides)"
                )
            self.consts[name] = value

    def run(self) -> ModuleOp:
        inputs = [i for i in self.graph.input if i.name not in self.consts]
        for graph_input in inputs:
            ty = _input_type(graph_input.name, graph_input.type)
            self._take(ty, f"input '{graph_input.name}'", None)
            arg = self.block.insert_arg(ty, len(self.block.args))
            arg.name_hint = _name_hint(graph_input.name)
            self.values[graph_input.name] = arg
        if dead := self.live.count(False):
            self.notes.append(f"{dead} node(s) whose outputs no graph output needs left out")
        for index, node in enumerate(self.graph.node):
            if not self.live[index]:
                continue
            self._convert(_Node(self, node, index))
        names = list(dict.fromkeys(o.name for o in self.graph.output))
        for name in names:
            if (times := sum(o.name == name for o in self.graph.output)) > 1:
                self.notes.append(f"output '{name}' is listed {times} times: one output")
        outputs = [self._output(name) for name in names]
        for name, v in zip(names, outputs, strict=True):
            if not isinstance(v, BlockArgument):  # an input already counted
                self._take(v.type, f"output '{name}'", None)
        self.block.add_op(ReturnOp(*outputs))
        func = FuncOp(
            "main",
            (self.block.arg_types, [v.type for v in outputs]),
            Region(self.block),
            arg_attrs=_input_attrs(inputs),
            res_attrs=_name_attrs(names),
        )
        module = ModuleOp([func, *self.extra_funcs])
        if self.notes:
            module.attributes[NOTES_ATTR] = ArrayAttr([StringAttr(n) for n in self.notes])
        if self.constant_inputs:
            module.attributes[CONSTANT_INPUTS_ATTR] = ArrayAttr(
                [StringAttr(n) for n in self.constant_inputs]
            )
        module.verify()
        return module

    def _output(self, name: str) -> SSAValue:
        """A graph output's value; one that is constant data of another type than
        f32 (or empty) is made by a Constant node on the framework tier."""
        if name not in self.values and name in self.consts:
            array = self.consts[name]
            if array.dtype != np.float32 or array.size == 0:
                node = onnx.helper.make_node(
                    "Constant", [], [name], name=self.const_origin.get(name, name),
                    value=numpy_helper.from_array(array, name),
                )
                ty = onnx.helper.make_tensor_type_proto(
                    onnx.helper.np_dtype_to_tensor_dtype(array.dtype), list(array.shape)
                )
                self.types.setdefault(name, ty)
                self._framework(
                    _Node(self, node, len(self.graph.node)),
                    f"a graph output that is constant {array.dtype} data",
                )
        return self.value(name, None)

    def _take(self, ty: Attribute, what: str, node: _Node | None) -> None:
        """Count a tensor of type `ty` that lives in DRAM for the whole run (an f32
        one: other values live on the host, with the framework tier)."""
        if not _is_static_f32(ty):
            return
        assert isinstance(ty, TensorType)
        nbytes = prod(ty.get_shape()) * 4
        shape = list(ty.get_shape())
        if any(d < 0 for d in shape):  # (onnx's inference of a window past its input)
            _fail(f"{what} has a negative size in ONNX shape inference's shape {shape}", node, OnnxImportError)
        if (why := self.dram.take(nbytes, f"{what} {shape}")) is not None:
            _fail(why, node, _TooBig)

    def _convert(self, node: _Node) -> None:
        """Fold `node` as data, else import it with its registry entry's builder,
        else make it a framework-tier op (onnxruntime runs it) saying why."""
        if self._fold(node):
            return
        op_type = node.proto.op_type
        onnx_domain = node.proto.domain in ("", "ai.onnx", ORT_ONNX_DOMAIN)
        entry = onnx_entry(op_type, "" if onnx_domain else node.proto.domain)
        if self.fallback_all is not None:
            reason = self.fallback_all
        elif entry is None:
            domain = f" of domain '{node.proto.domain}'" if not onnx_domain else ""
            reason = f"Tidal has no kernel or NumPy reference for ONNX op {op_type}{domain}"
        else:
            reason = self._not_f32(node)
        if reason is None:
            assert entry is not None
            mark = self.block.last_op
            try:
                result = entry.build(node)
            except _TooBig:
                raise
            except (OnnxImportError, VerifyException) as e:  # unsupported attributes, data
                reason = re.sub(r"^node '.*?' \(op \w+\): ", "", _one_line(e))
                while self.block.last_op is not mark:  # what the builder left
                    dead = self.block.last_op
                    assert dead is not None
                    for name in [n for n, v in self.values.items() if v.owner is dead]:
                        del self.values[name]  # a constant it materialised
                    dead.detach()
                    dead.erase(safe_erase=False)
            else:
                if result is not None:
                    self.values[node.proto.output[0]] = result
                if self._from_constants(node):
                    self.derived.update((o, node.proto) for o in node.proto.output if o)
                return
        if self._fold_derived(node):
            return
        self._framework(node, reason)

    def _from_constants(self, node: _Node) -> bool:
        """Whether every input of `node` is a constant or made from constants alone."""
        names = framework.node_inputs(node.proto)
        return bool(names) and all(
            n in self.derived or (n in self.consts and not isinstance(self.values.get(n), BlockArgument))
            for n in names
        )

    def _fold_derived(self, node: _Node) -> bool:
        """A node the tiers would hand to onnxruntime, or a builder refused, whose
        inputs are made from constants alone (by float ops a builder imported as
        graph ops: T5's relative-position buckets before their Cast to int64, BEiT's
        and Swin v2's bias tables before the Gather of a constant index): its outputs
        computed at import by onnxruntime over the nodes that make its inputs, as
        onnxruntime folds them when it loads the model. False when it cannot."""
        if self.fallback_all is not None or not self._from_constants(node):
            return False
        if not any(n in self.derived for n in framework.node_inputs(node.proto)):
            return False  # (all constants: fold_node's to decide)
        nodes: list[onnx.NodeProto] = []  # the producers, each after its inputs'
        needed: dict[str, np.ndarray] = {}
        seen: set[int] = set()
        stack = [(name, False) for name in reversed(framework.node_inputs(node.proto))]
        while stack:  # (depth first, without recursion: a chain may be long)
            name, done = stack.pop()
            producer = self.derived.get(name)
            if producer is None:
                needed[name] = self.consts[name]
            elif done:
                nodes.append(producer)
            elif id(producer) not in seen:
                seen.add(id(producer))
                stack.append((name, True))
                stack.extend((n, False) for n in reversed(framework.node_inputs(producer)))
        outputs = [o for o in node.proto.output if o]
        for name in outputs:
            ty = framework.value_type(self.types.get(name))
            if not isinstance(ty, TensorType) or DYNAMIC_INDEX in ty.get_shape():
                return False
            nbytes = prod(ty.get_shape()) * np.dtype(numpy_dtype(ty.get_element_type())).itemsize
            if self.dram.too_big(nbytes, f"output '{name}'") is not None:
                return False
        graph = onnx.helper.make_graph(
            [*nodes, node.proto], "fold", [],
            [onnx.helper.make_empty_tensor_value_info(o) for o in outputs],
            [numpy_helper.from_array(np.asarray(a), n) for n, a in needed.items()],
        )
        model = onnx.helper.make_model(graph, opset_imports=self.opset_imports)
        model.ir_version = max(self.ir_version, 8)
        try:
            values = framework.run_constant_model(model)
        except framework.FrameworkError:
            return False
        if not all(isinstance(v, np.ndarray) for v in values):
            return False
        for name, value in zip(outputs, values, strict=True):
            self.consts[name] = value
            self.const_origin[name] = node.label
        return True

    def _not_f32(self, node: _Node) -> str | None:
        """Why the accelerator and host tiers cannot take `node`'s values: an input
        or output that is not a static f32 tensor (integer indices, masks, float64,
        a shape ONNX left dynamic); None if they can."""
        indices = _INTEGER_INPUTS.get((node.proto.domain, node.proto.op_type), ())
        own = {node.proto.input[i] for i in indices if i < len(node.proto.input)}
        for name in framework.node_inputs(node.proto):
            if name in own:
                continue  # its builder hands it to onnxruntime itself
            if name in self.values:
                ty = self.values[name].type
                if not _is_static_f32(ty):
                    return f"input '{name}' is {_describe_type(ty)} (the accelerator and host tiers take static, non-empty f32 tensors)"
            # Constants of other types are data a builder reads (shapes, axes); one
            # that a builder takes as a tensor fails it (`value`): framework tier.
        if node.proto.op_type in _BUILDERS_FOLD:
            return None  # an integer output is data its builder makes
        for name in node.proto.output:
            if not name or name not in self.types:
                continue
            if (opaque := framework.onnx_value_type(self.types[name])) is not None:
                return f"output '{name}' is {opaque.text}"
            ty = framework.value_type(self.types[name])
            if ty is not None and _element(ty) != f32:
                return f"output '{name}' is {_describe_type(ty)}"
        return None

    def _fold(self, node: _Node) -> bool:
        """Compute `node` at import (`fold_node`), its values then constants."""
        def static_shape(name: str) -> tuple[int, ...] | None:
            if name in self.values:
                ty = self.values[name].type
            else:
                ty = framework.value_type(self.types.get(name))
            if isinstance(ty, TensorType) and DYNAMIC_INDEX not in ty.get_shape():
                return tuple(ty.get_shape())
            return None

        try:
            folded = fold_node(
                node.proto, {n: a for n, a in self.consts.items() if n not in self.values},
                static_shape, self.types, self.opset_imports, self.dram,
            )
        except _TooBig as e:
            node.fail(str(e), _TooBig)
        if folded is None:
            return False
        for name, value in folded.items():
            self.consts[name] = value
            self.const_origin[name] = node.label
        return True

    def _framework(self, node: _Node, reason: str) -> None:
        """`node` as a `graph.onnx_node` run by onnxruntime: its f32 constant inputs
        are graph constants (weights held once), its other constants inlined."""
        proto = node.proto
        operands: list[tuple[str, SSAValue]] = []
        inlined: dict[str, np.ndarray] = {}
        for name in framework.node_inputs(proto):
            if name in self.values:
                operands.append((name, self.values[name]))
            elif name in self.consts:
                array = self.consts[name]
                # (a scalar stays a scalar, inlined: as a graph constant it would be
                # [1], and a QGemm refuses a [1] scale beside a scalar zero point)
                if array.dtype == np.float32 and array.size > 0 and array.ndim > 0:
                    operands.append((name, self.value(name, node)))
                else:
                    inlined[name] = array
            else:
                node.fail(f"input '{name}' is not produced by any node")
        results: list[tuple[str, Attribute]] = []
        proto = onnx.NodeProto()
        proto.CopyFrom(node.proto)
        if proto.domain == ORT_ONNX_DOMAIN:  # onnxruntime runs it in the ONNX domain
            proto.domain = ""
        for i, name in enumerate(proto.output):
            if not name:
                continue
            ty = framework.value_type(self.types.get(name)) or framework.onnx_value_type(
                self.types.get(name)
            )
            if ty is None and name not in self.used:
                # An output nothing reads, of a type ONNX did not infer: not an output
                # of the payload graph, but still of its node (blanked, a
                # BatchNormalization-9 would still count it and onnxruntime run the
                # training mode the named outputs select without anywhere to write it:
                # a segmentation fault).
                continue
            if ty is None:
                given = self.types.get(name)
                code = given.tensor_type.elem_type if given is not None and given.HasField("tensor_type") else 0
                if code:
                    try:
                        elem = onnx.TensorProto.DataType.Name(code)
                    except ValueError:
                        elem = f"code {code}"
                    node.fail(
                        f"output '{name}' has element type {elem}, which Tidal does not "
                        "carry (complex numbers)"
                    )
                node.fail(
                    f"output '{name}': ONNX shape inference gave it no tensor type "
                    "(Tidal needs every tensor's element type)"
                )
            results.append((name, ty))
        opsets = [o for o in self.opset_imports if o.domain != ORT_ONNX_DOMAIN]
        op = framework.node_op(proto, operands, inlined, results, opsets, self.ir_version)
        op.attributes["tidal.origin"] = StringAttr(node.label)
        op.attributes["tidal.reason"] = StringAttr(reason)
        try:
            op.verify()
        except VerifyException as e:
            node.fail(str(e))
        self.block.add_op(op)
        for (name, _), result in zip(results, op.results, strict=True):
            result.name_hint = _name_hint(name)
            self.values[name] = result

    def value(self, name: str, node: _Node | None) -> SSAValue:
        """The SSA value of an ONNX tensor, materialising constants at first use."""
        if name in self.values:
            return self.values[name]
        if name not in self.consts:
            raise OnnxImportError(f"tensor '{name}' is not produced by any node")
        array = self.consts[name]
        if array.dtype != np.float32:
            _fail(
                f"tensor '{name}' has element type {array.dtype} as data "
                "(only float32 is supported)",
                node,
            )
        if array.size == 0:
            _fail(
                f"tensor '{name}' has shape {list(array.shape)}, with no elements "
                "(zero-size tensors are not supported)",
                node,
            )
        constant = ConstantOp.from_numpy(array)
        constant.attributes["tidal.origin"] = StringAttr(self.const_origin[name])
        constant.result.name_hint = _name_hint(name)
        self.block.add_op(constant)
        self.values[name] = constant.result
        return constant.result


def _fail(message: str, node: _Node | None, cls: type[OnnxImportError] = OnnxImportError) -> NoReturn:
    if node is not None:
        node.fail(message, cls)
    raise cls(message)


def _input_attrs(inputs: list[onnx.ValueInfoProto]) -> ArrayAttr[DictionaryAttr]:
    """Each input's name; a string tensor's declared static shape too
    (`tidal.shape`: its `!graph.onnx_value` type has none), which tidal-run checks
    what it feeds against."""
    out: list[DictionaryAttr] = []
    for i in inputs:
        entry: dict[str, Attribute] = {"tidal.name": StringAttr(i.name)}
        tensor = i.type.tensor_type
        if (
            i.type.HasField("tensor_type") and tensor.elem_type == onnx.TensorProto.STRING
            and tensor.HasField("shape") and all(d.HasField("dim_value") for d in tensor.shape.dim)
        ):
            entry["tidal.shape"] = ArrayAttr([IntegerAttr(d.dim_value, i64) for d in tensor.shape.dim])
        out.append(DictionaryAttr(entry))
    return ArrayAttr(out)


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

    def fail(self, message: str, cls: type[OnnxImportError] = OnnxImportError) -> NoReturn:
        raise cls(f"node '{self.label}' (op {self.proto.op_type}): {message}")

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
        values = tuple(int(v) for v in self.attr(name, default))
        if name in _WINDOW_ATTRS and any(not WORD_MIN <= v <= WORD_MAX for v in values):
            self.fail(f"{name} {list(values)} (each within 32 bits, as the binary's words are)")
        return values

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
            op.drop_all_references()  # it never joins the block
            self.fail(str(e))
        ty = op.results[0].type
        assert isinstance(ty, TensorType)
        shape = list(ty.get_shape())
        if (why := self.importer.dram.too_big(prod(shape) * 4, f"result {shape}")) is not None:
            self.fail(why, _TooBig)
        op.attributes["tidal.origin"] = StringAttr(self.label)
        op.results[0].name_hint = _name_hint(output or self.proto.output[0])
        self.importer.block.add_op(op)
        return op.results[0]

    def check_size(self, shape: Sequence[int], what: str) -> None:
        """Refuse (on every tier) a float32 tensor of `shape` that could not fit the
        chip's DRAM, before the importer materialises one (a constant it makes)."""
        if (why := self.importer.dram.too_big(prod(shape) * 4, f"{what} {list(shape)}")) is not None:
            self.fail(why, _TooBig)

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
# One builder per ONNX op type: `build_<op>(node)` appends the graph ops for `node`
# and returns the value of its output (None when it folded the output as data). The
# op registry, `targets/onnx_ops.py`, says which builder imports which op type.


def _constant_value(node: _Node) -> np.ndarray:
    """The value of a Constant node (a `value` tensor was sized with the model's
    tensors; a list of numbers is sized here)."""
    for a in node.proto.attribute:
        if a.name == "value":
            try:
                return numpy_helper.to_array(a.t)
            except (ValueError, TypeError, KeyError) as e:
                node.fail(f"malformed value ({_one_line(e)})")
        if a.name in ("value_float", "value_floats"):
            value = np.array(onnx.helper.get_attribute_value(a), dtype=np.float32)
        elif a.name in ("value_int", "value_ints"):
            value = np.array(onnx.helper.get_attribute_value(a), dtype=np.int64)
        else:
            node.fail(f"unsupported attribute {a.name}")
        if (why := node.importer.dram.take(value.nbytes, "constant")) is not None:
            node.fail(why, _TooBig)
        return value
    node.fail("missing value attribute")


def build_constant(node: _Node) -> None:
    """A Constant node's value is held as data, made a `graph.constant` where a node
    uses it as a float tensor (`_Importer.value`) and folded where it is a shape."""
    node.importer.consts[node.proto.output[0]] = _constant_value(node)
    node.importer.const_origin[node.proto.output[0]] = node.label


def _auto_pad(node: _Node) -> str:
    """The node's auto_pad. A Conv's is refused beside explicit pads, which ONNX says
    "cannot be used simultaneously" and onnxruntime refuses; a pooling's wins over
    them, as in onnxruntime, which takes such a pooling."""
    auto_pad = node.attr("auto_pad", "NOTSET")
    conv = node.proto.op_type in ("Conv", "ConvTranspose")
    if conv and auto_pad != "NOTSET" and any(a.name == "pads" for a in node.proto.attribute):
        node.fail(f"auto_pad {auto_pad} and explicit pads {list(node.ints('pads', ()))} cannot both be given")
    return auto_pad


def _explicit_pads(
    node: _Node,
    spatial: Sequence[int],
    kernel: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
) -> tuple[int, ...]:
    """ONNX pads (top, left, bottom, right), resolving auto_pad."""
    auto_pad = _auto_pad(node)
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


def _lift_1d(node: _Node, i: int) -> SSAValue:
    """Input `i` of a 1-D conv or pool, [N, C, L] (a weight [O, C/g, K]), as a 2-D
    one, [N, C, 1, L]: a view (on a constant weight, canonicalize folds it)."""
    shape = node.input_shape(i)
    lifted = (*shape[:2], 1, *shape[2:])
    return node.emit(ReshapeOp(node.input(i), lifted), f"{node.proto.input[i]}.2d")


def _ints_1d(node: _Node, name: str, default: Sequence[int], rank: int) -> tuple[int, ...]:
    """An attribute of a 1-D conv or pool in 2-D form: (1, v) and pads (0, b, 0, e)."""
    values = node.ints(name, default)
    if rank != 3:
        return values
    if name == "pads":
        return (0, values[0], 0, values[1])
    return (1, *values)


def _depth_planes(
    node: _Node, x: SSAValue, pad: tuple[int, int], fill: float, out: str
) -> SSAValue:
    """[N, C, D, H, W] padded along D with `fill`, as [N * Dp, C, H, W] planes."""
    n, c, d, h, w = x.type.get_shape()  # type: ignore[attr-defined]
    if pad != (0, 0):
        blocks = []
        for side, count in zip(("front", "back"), pad, strict=True):
            if count:
                name = f"{out}.{side}"
                node.importer.consts[name] = np.full((n, c, count, h, w), fill, np.float32)
                node.importer.const_origin[name] = node.label
                blocks.append((side, node.importer.value(name, node)))
        parts = [v for side, v in blocks if side == "front"] + [x] + [v for side, v in blocks if side == "back"]
        x = node.emit(ConcatOp(parts, 2), f"{out}.padded")
        d += pad[0] + pad[1]
    planes = node.emit(TransposeOp(x, (0, 2, 1, 3, 4)), f"{out}.planes")
    return node.emit(ReshapeOp(planes, (n * d, c, h, w)), f"{out}.planes2d")


def _depth_taps(
    node: _Node, results: Sequence[SSAValue], n: int, depth: int, kernel: int,
    stride: int, dilation: int, out_depth: int, out: str,
) -> list[SSAValue]:
    """Tap k of a depth window: the 2-D results ([N * depth, C, H, W]: one per tap,
    or one shared by all) at input depths k * dilation + od * stride, od <
    out_depth, as [N, OD, C, H, W] (graph.slice)."""
    taps = []
    for k in range(kernel):
        r = results[k] if len(results) > 1 else results[0]
        c, h, w = r.type.get_shape()[1:]  # type: ignore[attr-defined]
        stacked = node.emit(ReshapeOp(r, (n, depth, c, h, w)), f"{out}.stacked{k}")
        taps.append(_window(
            node, stacked, [0, k * dilation, 0, 0, 0],
            [n, k * dilation + (out_depth - 1) * stride + 1, c, h, w],
            [1, stride, 1, 1, 1], f"{out}.tap{k}",
        ))
    return taps


def _conv3d(node: _Node, x_shape: Sequence[int], w_shape: Sequence[int]) -> SSAValue:
    """A 3-D conv from 2-D convs: the input's depth planes (padded) are a batch of
    images; each depth tap of the (constant) weights is a 2-D conv over all of them,
    and output depth od sums tap k's result at input depth od * stride + k * dilation
    (graph.slice, graph.sum); the bias rides on tap 0."""
    weights = node.proto.input[1]
    if weights not in node.importer.consts:
        node.fail("a 3-D conv needs constant weights")
    w_all = node.importer.consts[weights]
    kernel = w_shape[2:]
    strides = node.ints("strides", (1, 1, 1))
    dilations = node.ints("dilations", (1, 1, 1))
    pads = _explicit_pads(node, x_shape[2:], kernel, strides, dilations)
    out = node.proto.output[0]
    n, _, depth = x_shape[:3]
    padded = depth + pads[0] + pads[3]
    out_depth = (padded - (kernel[0] - 1) * dilations[0] - 1) // strides[0] + 1
    planes = _depth_planes(node, node.input(0), (pads[0], pads[3]), 0.0, out)
    results = []
    for k in range(kernel[0]):
        name = f"{weights}.tap{k}"
        node.importer.consts[name] = np.ascontiguousarray(w_all[:, :, k])
        node.importer.const_origin[name] = node.label
        conv = Conv2dOp(
            planes, node.importer.value(name, node), node.optional_input(2) if k == 0 else None,
            strides=strides[1:], pads=(pads[1], pads[2], pads[4], pads[5]),
            dilations=dilations[1:], group=int(node.attr("group", 1)),
        )
        results.append(node.emit(conv, f"{out}.conv{k}"))
    taps = _depth_taps(node, results, n, padded, kernel[0], strides[0], dilations[0], out_depth, out)
    total = taps[0] if len(taps) == 1 else node.emit(SumOp(taps), f"{out}.sum")
    return node.emit(TransposeOp(total, (0, 2, 1, 3, 4), node.out_type()))


def build_conv(node: _Node) -> SSAValue:
    """2-D Conv; a 1-D one ([N, C, L]) as a 2-D conv of height 1 between views; a
    3-D one from 2-D convs over its depth planes (`_conv3d`)."""
    x_shape, w_shape = node.input_shape(0), node.input_shape(1)
    rank = len(x_shape)
    if rank == 5:
        return _conv3d(node, x_shape, w_shape)
    if rank != 3:
        _check_2d(node, x_shape)
    kernel = w_shape[2:]
    if node.ints("kernel_shape", kernel) != kernel:
        node.fail(
            f"kernel_shape {list(node.ints('kernel_shape', kernel))} does not "
            f"match the weight shape {list(w_shape)}"
        )
    strides = node.ints("strides", (1,) * len(kernel))
    dilations = node.ints("dilations", (1,) * len(kernel))
    pads = _explicit_pads(node, x_shape[2:], kernel, strides, dilations)
    x, w = node.input(0), node.input(1)
    if rank == 3:  # height 1: the 2-D kernels
        x, w = _lift_1d(node, 0), _lift_1d(node, 1)
        strides, dilations = (1, *strides), (1, *dilations)
        pads = (0, pads[0], 0, pads[1])
    out = node.out_type()
    conv = Conv2dOp(
        x,
        w,
        node.optional_input(2),
        strides=strides,
        pads=pads,
        dilations=dilations,
        group=int(node.attr("group", 1)),
        result_type=None if rank == 3 else out,
    )
    if rank != 3:
        return node.emit(conv)
    y = node.emit(conv, f"{node.proto.output[0]}.2d")
    n, o, _, length = y.type.get_shape()  # type: ignore[attr-defined]
    return node.emit(ReshapeOp(y, (n, o, length)))


def build_conv_transpose(node: _Node) -> SSAValue:
    """ConvTranspose, 1-D and 2-D, with constant weights [C, O/g, kh, kw]: a kernel
    as large as its stride, unpadded and undilated (a U-Net's 2x2 stride 2), is a
    1x1 conv to O * kh * kw channels whose blocks a transpose between views moves
    into place (the pixels' outputs do not overlap); any other, the conv it is the
    gradient of: the input with stride - 1 zeros between its pixels (copies joined
    with zeros), the padding (k - 1) d - pad on each side (plus output_padding at the
    end; a negative one crops), and a stride-1 conv by the weights flipped and
    transposed per group. Not output_shape or auto_pad other than NOTSET and VALID."""
    x_shape = node.input_shape(0)
    rank = len(x_shape)
    if rank not in (3, 4):
        node.fail(f"a rank-{rank} input (only 1-D and 2-D ConvTranspose)")
    weights = node.const_input(1)
    if weights.dtype != np.float32 or weights.ndim != rank:
        node.fail(f"weights of shape {list(weights.shape)} and type {weights.dtype}")
    spatial = rank - 2
    kernel = tuple(int(k) for k in weights.shape[2:])
    if node.ints("kernel_shape", kernel) != kernel:
        node.fail(f"kernel_shape {list(node.ints('kernel_shape', kernel))} does not match the weights {list(weights.shape)}")
    if node.attr("output_shape", None) is not None:
        node.unsupported("output_shape", list(node.ints("output_shape", ())))
    auto_pad = _auto_pad(node)
    if auto_pad not in ("NOTSET", "VALID"):
        node.unsupported("auto_pad", auto_pad)
    strides = node.ints("strides", (1,) * spatial)
    dilations = node.ints("dilations", (1,) * spatial)
    extra = node.ints("output_padding", (0,) * spatial)
    pads = node.ints("pads", (0,) * 2 * spatial) if auto_pad == "NOTSET" else (0,) * 2 * spatial
    group = int(node.attr("group", 1))
    c = x_shape[1]
    if group < 1 or c % group or weights.shape[0] != c or min(strides + dilations) < 1:
        node.fail(f"group {group}, strides {list(strides)}, dilations {list(dilations)} for {c} input channels "
                  f"and weights {list(weights.shape)}")
    if any(not 0 <= e < max(s, d) for e, s, d in zip(extra, strides, dilations)):
        node.fail(f"output_padding {list(extra)} (each below its stride or dilation)")
    x = node.input(0)
    out = node.proto.output[0]
    if rank == 3:  # height 1
        x = node.emit(ReshapeOp(x, (x_shape[0], c, 1, x_shape[2])), f"{out}.2d")
        weights = weights[:, :, None, :]
        kernel, strides, dilations, extra = (1, *kernel), (1, *strides), (1, *dilations), (0, *extra)
        pads = (0, pads[0], 0, pads[1])
    n, _, h, w = x.type.get_shape()  # type: ignore[attr-defined]
    o = weights.shape[1] * group
    (kh, kw), (sh, sw), (dh, dw) = kernel, strides, dilations
    size = [s * (i - 1) + e + (k - 1) * d + 1 - p0 - p1
            for i, s, e, k, d, p0, p1 in zip((h, w), strides, extra, kernel, dilations, pads[:2], pads[2:])]
    final = (n, o, *size) if rank == 4 else (n, o, size[1])
    known = node.out_type()
    if known is not None and tuple(known.get_shape()) != final:
        node.fail(f"output shape {list(known.get_shape())}, where the attributes give {list(final)}")
    if min(size) < 1:
        node.fail(f"an empty output {list(final)}")
    node.check_size(final, "result")
    bias = node.optional_input(2)
    if (kh, kw) == (sh, sw) and (dh, dw) == (1, 1) and not any(pads) and not any(extra) and group == 1:
        # y[o, i kh + a, j kw + b] = sum_c x[c, i, j] w[c, o, a, b]: channels (o, a, b)
        name = f"{out}.blocks.w"
        node.importer.consts[name] = np.ascontiguousarray(
            weights.transpose(1, 2, 3, 0).reshape(o * kh * kw, c, 1, 1)
        )
        node.importer.const_origin[name] = node.label
        blocks = node.emit(
            Conv2dOp(x, node.importer.value(name, node), None, strides=(1, 1), pads=(0, 0, 0, 0),
                     dilations=(1, 1), group=1),
            f"{out}.blocks",
        )
        split = node.emit(ReshapeOp(blocks, (n, o, kh, kw, h, w)), f"{out}.split")
        moved = node.emit(TransposeOp(split, (0, 1, 4, 2, 5, 3)), f"{out}.moved")
        y = node.emit(ReshapeOp(moved, (n, o, h * kh, w * kw)), f"{out}.placed")
        if bias is not None:
            column = node.emit(ReshapeOp(bias, (o, 1, 1)), f"{out}.bias")
            y = node.emit(AddOp(y, column), f"{out}.biased")
        return node.emit(ReshapeOp(y, final))
    for axis, s in ((2, sh), (3, sw)):
        if s > 1:
            x = _spread(node, x, axis, s, f"{out}.spread{axis}")
    lo = [(k - 1) * d - p for k, d, p in zip(kernel, dilations, pads[:2])]
    hi = [(k - 1) * d - p + e for k, d, p, e in zip(kernel, dilations, pads[2:], extra)]
    if min(lo + hi) < 0:  # a padding larger than the kernel's reach crops
        shape = list(x.type.get_shape())  # type: ignore[attr-defined]
        starts = [0, 0, max(0, -lo[0]), max(0, -lo[1])]
        ends = [shape[0], shape[1], shape[2] - max(0, -hi[0]), shape[3] - max(0, -hi[1])]
        x = _window(node, x, starts, ends, [1] * 4, f"{out}.cropped")
    cg, og = c // group, o // group
    flipped = (
        weights.reshape(group, cg, og, kh, kw).transpose(0, 2, 1, 3, 4).reshape(o, cg, kh, kw)[:, :, ::-1, ::-1]
    )
    name = f"{out}.flipped.w"
    node.importer.consts[name] = np.ascontiguousarray(flipped)
    node.importer.const_origin[name] = node.label
    y = node.emit(
        Conv2dOp(x, node.importer.value(name, node), bias, strides=(1, 1),
                 pads=(max(0, lo[0]), max(0, lo[1]), max(0, hi[0]), max(0, hi[1])),
                 dilations=(dh, dw), group=group),
        f"{out}.conv",
    )
    return node.emit(ReshapeOp(y, final))


def _spread(node: _Node, x: SSAValue, axis: int, stride: int, hint: str) -> SSAValue:
    """x with stride - 1 zeros between its elements along `axis` ([.., L, ..] ->
    [.., (L - 1) stride + 1, ..]): x joined with zeros along a new axis after it,
    merged, and the trailing zeros sliced off."""
    shape = list(x.type.get_shape())  # type: ignore[attr-defined]
    length = shape[axis]
    single = node.emit(ReshapeOp(x, (*shape[: axis + 1], 1, *shape[axis + 1 :])), f"{hint}.single")
    zeros = node.emit(
        ConstantOfShapeOp((*shape[: axis + 1], stride - 1, *shape[axis + 1 :]), 0.0), f"{hint}.zeros"
    )
    joined = node.emit(ConcatOp([single, zeros], axis + 1), f"{hint}.joined")
    merged = node.emit(ReshapeOp(joined, (*shape[:axis], length * stride, *shape[axis + 1 :])), f"{hint}.merged")
    ends = list(shape)
    ends[axis] = (length - 1) * stride + 1
    return _window(node, merged, [0] * len(shape), ends, [1] * len(shape), hint)


def build_gemm(node: _Node) -> SSAValue:
    beta = float(node.attr("beta", 1.0))
    return node.emit(
        GemmOp(
            node.input(0),
            node.input(1),
            # beta = 0 drops C, NaNs and infinities included, as onnxruntime and
            # onnx's reference implementation do (0 x NaN would be NaN).
            node.optional_input(2) if beta != 0.0 else None,
            alpha=float(node.attr("alpha", 1.0)),
            beta=beta,
            trans_a=bool(node.attr("transA", 0)),
            trans_b=bool(node.attr("transB", 0)),
            result_type=node.out_type(),
        )
    )


def build_matmul(node: _Node) -> SSAValue:
    """2-D operands: graph.matmul. An [..., M, K] input times a [K, N] matrix (a
    linear layer of a transformer): one [prod(...) * M, K] x [K, N] matmul between
    two views. Equal batch dims on both sides: a batched graph.matmul (attention).
    Other ranks and broadcasts are not imported (the framework tier runs them)."""
    a_shape, b_shape = node.input_shape(0), node.input_shape(1)
    ranks = (len(a_shape), len(b_shape))
    if ranks == (2, 2) or (ranks[0] == ranks[1] and a_shape[:-2] == b_shape[:-2] and ranks[0] > 2):
        return node.emit(MatMulOp(node.input(0), node.input(1), node.out_type()))
    if ranks[0] > 2 and ranks[1] == 2:
        rows = node.proto.output[0] + ".rows"
        flat = node.emit(ReshapeOp(node.input(0), (prod(a_shape[:-1]), a_shape[-1])), rows)
        product = node.emit(MatMulOp(flat, node.input(1)), rows)
        return node.emit(ReshapeOp(product, (*a_shape[:-1], b_shape[-1])))
    node.fail(
        f"unsupported operand shapes {list(a_shape)} and {list(b_shape)} (2-D, "
        "[..., M, K] x [K, N], or equal batch dims)"
    )


def build_einsum(node: _Node) -> SSAValue:
    """Einsum of two operands that is a batched matrix product ("bhqd,bhkd->bhqk",
    "bij,jk->bik", "ij,kj->ik"): every index is in both inputs and the output (a
    batch dim), in both inputs only (contracted) or in one input and the output
    (free). The inputs are transposed to [batch, free, contracted] and [batch,
    contracted, free], reshaped to [B, M, K] and [B, K, N] ([M, K] and [K, N]
    without batch dims), multiplied by one graph.matmul, and the product reshaped
    and transposed to the output's order. Other equations (one or three operands,
    an index summed within one operand or repeated, an ellipsis, broadcast sizes)
    are not imported (the framework tier runs them)."""
    equation = str(node.attr("equation", "")).replace(" ", "")
    terms, arrow, out = equation.partition("->")
    inputs = terms.split(",")
    if (
        not arrow or len(inputs) != 2 or len(node.proto.input) != 2
        or not all(t.isalpha() and len(set(t)) == len(t) for t in (*inputs, out))
    ):
        node.fail(f"unsupported equation '{equation}' (two operands, letters, an explicit output)")
    a, b = inputs
    shapes = (node.input_shape(0), node.input_shape(1))
    if (len(a), len(b)) != (len(shapes[0]), len(shapes[1])):
        node.fail(f"equation '{equation}' does not match the ranks of its inputs {[list(s) for s in shapes]}")
    size: dict[str, int] = {}
    for term, shape in zip(inputs, shapes, strict=True):
        for letter, dim in zip(term, shape, strict=True):
            if size.setdefault(letter, dim) != dim:
                node.fail(f"index '{letter}' of '{equation}' has sizes {size[letter]} and {dim}")
    if any(c not in out and (c not in a or c not in b) for c in a + b) or any(c not in a + b for c in out):
        node.fail(f"unsupported equation '{equation}' (an index summed within one operand, or new in the output)")
    batch = [c for c in out if c in a and c in b]
    free_a = [c for c in a if c in out and c not in b]
    free_b = [c for c in b if c in out and c not in a]
    contracted = [c for c in a if c in b and c not in out]
    name = node.proto.output[0]

    def arranged(value: SSAValue, term: str, order: list[str], shape: tuple[int, ...], tag: str) -> SSAValue:
        perm = tuple(term.index(c) for c in order)
        if perm != tuple(range(len(term))):
            value = node.emit(TransposeOp(value, perm, None), f"{name}.{tag}")
        return node.emit(ReshapeOp(value, shape), f"{name}.{tag}")

    count = lambda letters: prod(size[c] for c in letters)
    lead = (count(batch),) if batch else ()
    lhs = arranged(node.input(0), a, batch + free_a + contracted, (*lead, count(free_a), count(contracted)), "a")
    rhs = arranged(node.input(1), b, batch + contracted + free_b, (*lead, count(contracted), count(free_b)), "b")
    product = node.emit(MatMulOp(lhs, rhs), f"{name}.product")
    order = batch + free_a + free_b
    perm = tuple(order.index(c) for c in out)
    if perm == tuple(range(len(out))):  # already in the output's order: a view
        return node.emit(ReshapeOp(product, tuple(size[c] for c in out)))
    product = node.emit(ReshapeOp(product, tuple(size[c] for c in order)), f"{name}.product")
    return node.emit(TransposeOp(product, perm, node.out_type()))


def build_add(node: _Node) -> SSAValue:
    return node.emit(AddOp(node.input(0), node.input(1), node.out_type()))


def build_mul(node: _Node) -> SSAValue:
    return node.emit(MulOp(node.input(0), node.input(1), node.out_type()))


def build_relu(node: _Node) -> SSAValue:
    return node.emit(ReluOp(node.input(0), node.out_type()))


# ONNX op -> graph.activation function.
ACTIVATIONS = {
    "Exp": "exp",
    "Log": "log",
    "Reciprocal": "reciprocal",
    "Sqrt": "sqrt",
    "Sigmoid": "sigmoid",
    "Tanh": "tanh",
    "Erf": "erf",
    "Softplus": "softplus",
}


def build_activation(node: _Node) -> SSAValue:
    """Exp, Log, Reciprocal, Sqrt, Sigmoid, Tanh, Erf, Softplus: graph.activation."""
    return node.emit(ActivationOp(node.input(0), ACTIVATIONS[node.proto.op_type], node.out_type()))


def _build_pool(
    node: _Node, pool: Callable[..., Operation], zero_attributes: Sequence[str]
) -> SSAValue:
    """MaxPool and AveragePool: 2-D input (1-D as height 1 between views), each of
    `zero_attributes` at its default 0, dilations 1, no use of a second output
    (MaxPool's Indices); `pool` makes the op from the window (kernel_shape, strides,
    pads with auto_pad resolved)."""
    x_shape = node.input_shape(0)
    rank = len(x_shape)
    if rank not in (3, 5):
        _check_2d(node, x_shape)
    for name in zero_attributes:
        if (value := node.attr(name, 0)) != 0:
            node.unsupported(name, value)
    dilations = node.ints("dilations", (1,) * (rank - 2))
    if any(d != 1 for d in dilations):
        node.unsupported("dilations", list(dilations))
    node.reject_used_output(1)
    kernel = node.ints("kernel_shape", ())
    strides = node.ints("strides", (1,) * (rank - 2))
    pads = _explicit_pads(node, x_shape[2:], kernel, strides, (1,) * (rank - 2))
    if pool is MaxPoolOp and node.attr("ceil_mode", 0):
        pads = _ceil_pads(x_shape[2:], kernel, strides, pads)
    if rank == 5:
        return _pool3d(node, pool, x_shape, kernel, strides, pads)
    x = node.input(0)
    if rank == 3:
        x = _lift_1d(node, 0)
        kernel, strides, pads = (1, *kernel), (1, *strides), (0, pads[0], 0, pads[1])
    op = pool(
        x,
        kernel_shape=kernel,
        strides=strides,
        pads=pads,
        result_type=None if rank == 3 else node.out_type(),
    )
    if rank != 3:
        return node.emit(op)
    y = node.emit(op, f"{node.proto.output[0]}.2d")
    n, c, _, length = y.type.get_shape()  # type: ignore[attr-defined]
    return node.emit(ReshapeOp(y, (n, c, length)))


def _pool3d(
    node: _Node, pool: Callable[..., Operation], x_shape: Sequence[int],
    kernel: Sequence[int], strides: Sequence[int], pads: Sequence[int],
) -> SSAValue:
    """A 3-D pool from a 2-D one over the depth planes (padded with -inf for max,
    0 for average): the maximum (graph.max) or mean (graph.sum, then 1/KD) of its
    depth taps. Average pooling with depth padding counts the padding
    (count_include_pad), else it is not imported."""
    is_max = pool is MaxPoolOp
    depth_pad = (pads[0], pads[3])
    if not is_max and depth_pad != (0, 0) and not node.attr("count_include_pad", 0):
        node.fail("a 3-D average pool with depth padding needs count_include_pad=1")
    out = node.proto.output[0]
    n, _, depth = x_shape[:3]
    padded = depth + sum(depth_pad)
    out_depth = (padded - kernel[0]) // strides[0] + 1
    planes = _depth_planes(node, node.input(0), depth_pad, -math.inf if is_max else 0.0, out)
    pooled = node.emit(
        pool(planes, kernel_shape=kernel[1:], strides=strides[1:], pads=(pads[1], pads[2], pads[4], pads[5])),
        f"{out}.pooled",
    )
    taps = _depth_taps(node, [pooled], n, padded, kernel[0], strides[0], 1, out_depth, out)
    if is_max:
        total = taps[0]
        for k, tap in enumerate(taps[1:], 1):
            total = node.emit(MaxOp(total, tap), f"{out}.max{k}")
    else:
        total = taps[0] if len(taps) == 1 else node.emit(SumOp(taps), f"{out}.sum")
        if kernel[0] > 1:
            total = _affine(node, total, 1.0 / kernel[0], 0.0, f"{out}.mean")
    return node.emit(TransposeOp(total, (0, 2, 1, 3, 4), node.out_type()))


def _ceil_pads(
    spatial: Sequence[int], kernel: Sequence[int], strides: Sequence[int], pads: Sequence[int]
) -> tuple[int, ...]:
    """MaxPool's ceil_mode as end padding (with -inf, which max ignores): each output
    size rounded up, less a last window that would start past the input and its
    leading pad (onnxruntime's rule), then as much end padding as that window
    needs."""
    n = len(spatial)
    begin, end = list(pads[:n]), list(pads[n:])
    for i, (size, k, st) in enumerate(zip(spatial, kernel, strides, strict=True)):
        out = -(-(size + begin[i] + end[i] - k) // st) + 1
        if (out - 1) * st >= size + begin[i]:
            out -= 1
        end[i] = max(end[i], (out - 1) * st + k - size - begin[i])
    return (*begin, *end)


def build_maxpool(node: _Node) -> SSAValue:
    """MaxPool; with ceil_mode, rounded-up windows read end padding (`_ceil_pads`)."""
    return _build_pool(node, MaxPoolOp, ("storage_order",))


def build_reshape(node: _Node) -> SSAValue:
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


def build_flatten(node: _Node) -> SSAValue:
    rank = len(node.input_shape(0))
    axis = int(node.attr("axis", 1))
    axis = axis + rank if axis < 0 else axis
    return node.emit(FlattenOp(node.input(0), axis, node.out_type()))


def build_softmax(node: _Node) -> SSAValue:
    """Opset 13 normalises along one axis; before 13, Softmax coerces the input to
    2-D at `axis` and normalises each row: a reshape sandwich unless axis is last."""
    return _softmax(node, node.input(0), node.out_type())


def _softmax(
    node: _Node, x: SSAValue, out: TensorType | None, hint: str | None = None,
    op: Callable[..., Operation] = SoftmaxOp,
) -> SSAValue:
    shape = x.type.get_shape()  # type: ignore[attr-defined]
    rank = len(shape)
    axis = int(node.attr("axis", -1 if node.importer.opset >= 13 else 1))
    axis = axis + rank if axis < 0 else axis
    if node.importer.opset >= 13 or axis == rank - 1:
        return node.emit(op(x, axis, out), hint)
    rows = node.proto.output[0] + ".rows"
    flat = node.emit(ReshapeOp(x, (prod(shape[:axis]), prod(shape[axis:]))), rows)
    normalised = node.emit(op(flat, 1), rows)
    return node.emit(ReshapeOp(normalised, out or shape), hint)


def build_log_softmax(node: _Node) -> SSAValue:
    """graph.log_softmax (the opset rules of Softmax: before 13, rows of the input
    coerced to 2-D at `axis`)."""
    return _softmax(node, node.input(0), node.out_type(), op=LogSoftmaxOp)


# ------------------------------------------------------ element-wise arithmetic


def _scalar(node: _Node, i: int, numeric: bool = False) -> float | None:
    """Input `i`'s value when it is a float32 constant (with `numeric`, of any integer
    or float type) holding one element that does not widen the result (a scalar,
    [1], [1, 1], ...), else None."""
    name = node.proto.input[i] if i < len(node.proto.input) else ""
    array = node.importer.consts.get(name)
    if name in node.importer.values or array is None or array.size != 1:
        return None
    if array.dtype != np.float32 and not (numeric and array.dtype.kind in "iuf"):
        return None
    other = node.input_shape(1 - i) if len(node.proto.input) == 2 else ()
    if array.ndim > len(other):
        return None
    return float(array.reshape(-1)[0])


def _affine(node: _Node, x: SSAValue, scale: float, shift: float, hint: str | None = None) -> SSAValue:
    return node.emit(PiecewiseLinearOp(x, "affine", scale, shift), hint)


def build_sub(node: _Node) -> SSAValue:
    """a - b; a scalar constant on either side is ACT's scale and bias."""
    if (c := _scalar(node, 1)) is not None:
        return _affine(node, node.input(0), 1.0, -c)
    if (c := _scalar(node, 0)) is not None:
        return _affine(node, node.input(1), -1.0, c)
    return node.emit(SubOp(node.input(0), node.input(1), node.out_type()))


def build_div(node: _Node) -> SSAValue:
    """a / b; a constant divisor is a product by its reciprocal (a scalar one ACT's
    scale), else POOL's product by ACT's reciprocal of b."""
    c = _scalar(node, 1)
    if c is not None and c != 0.0 and math.isfinite(1.0 / c):
        return _affine(node, node.input(0), 1.0 / c, 0.0)
    divisor = node.proto.input[1]
    consts = node.importer.consts
    if divisor in consts and divisor not in node.importer.values and consts[divisor].dtype == np.float32:
        with np.errstate(divide="ignore"):
            inverse = (1.0 / consts[divisor].astype(np.float64)).astype(np.float32)
        if np.all(np.isfinite(inverse)):
            name = f"{divisor}.reciprocal"
            consts[name] = inverse
            node.importer.const_origin[name] = node.label
            return node.emit(MulOp(node.input(0), node.importer.value(name, node), node.out_type()))
    return node.emit(DivOp(node.input(0), node.input(1), node.out_type()))


def _chain(node: _Node, op: Callable[..., Operation]) -> SSAValue:
    """Max, Min: n inputs as a chain of pairwise ops (one input: itself)."""
    names = [n for n in node.proto.input if n]
    value = node.input(0)
    for i in range(1, len(names)):
        last = i == len(names) - 1
        value = node.emit(
            op(value, node.input(i), node.out_type() if last else None),
            None if last else f"{node.proto.output[0]}.{i}",
        )
    return value


def build_max(node: _Node) -> SSAValue:
    return _chain(node, MaxOp)


def build_min(node: _Node) -> SSAValue:
    return _chain(node, MinOp)


def build_where(node: _Node) -> SSAValue | None:
    """Where of a constant condition with a constant on one side (an attention mask:
    the scores where the mask keeps them, a constant such as float32's lowest
    elsewhere): a Max and a Min of the other side against bounds that are the
    constant where it is selected and -inf, +inf where the other side is, each
    broadcast to the output. Exact, also for infinities; a NaN where the constant is
    selected gives NaN (onnxruntime gives the constant). A condition that is not
    constant, or two sides that are not, is onnxruntime's."""
    names = node.proto.input
    consts = node.importer.consts
    if len(names) != 3 or names[0] not in consts:
        node.fail("a condition that is not a constant (Tidal selects by a constant mask)")
    x_const, y_const = names[1] in consts, names[2] in consts
    cond = np.asarray(consts[names[0]]).astype(bool)
    if x_const and y_const:  # all constant: data
        consts[node.proto.output[0]] = np.where(cond, consts[names[1]], consts[names[2]])
        node.importer.const_origin[node.proto.output[0]] = node.label
        return None
    if not (x_const or y_const):
        node.fail("both sides computed (Tidal selects between a value and a constant)")
    side, fixed = (2, consts[names[1]]) if x_const else (1, consts[names[2]])
    taken = cond if side == 1 else ~cond  # where the computed side is selected
    value = node.input(side)
    shape = np.broadcast_shapes(cond.shape, node.input_shape(side), np.shape(fixed))
    fixed = np.broadcast_to(np.asarray(fixed, np.float32), shape)
    taken = np.broadcast_to(taken, shape)
    out = node.proto.output[0]
    for op, free, suffix in ((MaxOp, -np.inf, "lower"), (MinOp, np.inf, "upper")):
        name = f"{out}.{suffix}"
        consts[name] = np.where(taken, np.float32(free), fixed).astype(np.float32)
        node.importer.const_origin[name] = node.label
        last = op is MinOp
        value = node.emit(
            op(value, node.importer.value(name, node), node.out_type() if last else None),
            None if last else f"{out}.{suffix}.out",
        )
    return value


def build_neg(node: _Node) -> SSAValue:
    return _affine(node, node.input(0), -1.0, 0.0)


def build_abs(node: _Node) -> SSAValue:
    """|x| = max(x, -x): leaky_relu with alpha -1 (exact)."""
    return node.emit(PiecewiseLinearOp(node.input(0), "leaky_relu", -1.0, 0.0, node.out_type()))


def build_elu(node: _Node) -> SSAValue:
    """Elu: relu(x) + alpha (exp(min(x, 0)) - 1), min(x, 0) a clip to [-inf, 0] (not
    x - relu(x), which is NaN at +inf); Celu divides min(x, 0) by alpha first; Selu
    scales Elu by gamma."""
    op_type = node.proto.op_type
    default_alpha = {"Elu": 1.0, "Celu": 1.0, "Selu": 1.6732632423543772848170429916717}[op_type]
    alpha = float(node.attr("alpha", default_alpha))
    if op_type == "Celu" and alpha == 0.0:
        node.fail("alpha must not be 0")
    out = node.proto.output[0]
    x = node.input(0)
    r = node.emit(ReluOp(x), f"{out}.pos")
    m = node.emit(PiecewiseLinearOp(x, "clip", -math.inf, 0.0), f"{out}.neg")
    if op_type == "Celu":
        m = _affine(node, m, 1.0 / alpha, 0.0, f"{out}.scaled")
    e = node.emit(ActivationOp(m, "exp"), f"{out}.exp")
    tail = _affine(node, e, alpha, -alpha, f"{out}.tail")
    if op_type != "Selu":
        return node.emit(AddOp(r, tail, node.out_type()))
    gamma = float(node.attr("gamma", 1.0507009873554804934193349852946))
    elu = node.emit(AddOp(r, tail), f"{out}.elu")
    return _affine(node, elu, gamma, 0.0)


def build_prelu(node: _Node) -> SSAValue:
    """relu(x) + slope min(x, 0), the slope broadcast to x (min(x, 0) a clip to
    [-inf, 0]: x - relu(x) is NaN at +inf)."""
    out = node.proto.output[0]
    x = node.input(0)
    r = node.emit(ReluOp(x), f"{out}.pos")
    m = node.emit(PiecewiseLinearOp(x, "clip", -math.inf, 0.0), f"{out}.neg")
    scaled = node.emit(MulOp(m, node.input(1)), f"{out}.scaled")
    return node.emit(AddOp(r, scaled, node.out_type()))


def build_gelu(node: _Node) -> SSAValue:
    """Gelu (opset 20): approximate="tanh" is ACT's gelu function (the tanh form);
    "none" (the default), x (1 + erf(x / sqrt 2)) / 2, its gelu_erf function."""
    approximate = node.attr("approximate", "none")
    if isinstance(approximate, bytes):
        approximate = approximate.decode()
    x = node.input(0)
    if approximate == "tanh":
        return node.emit(ActivationOp(x, "gelu", node.out_type()))
    if approximate != "none":
        node.unsupported("approximate", approximate)
    return _gelu_erf(node, x)


def _gelu_erf(node: _Node, x: SSAValue) -> SSAValue:
    """x (1 + erf(x / sqrt 2)) / 2: ACT's gelu_erf table."""
    return node.emit(ActivationOp(x, "gelu_erf", node.out_type()))


def build_softsign(node: _Node) -> SSAValue:
    """x / (1 + |x|)."""
    out = node.proto.output[0]
    x = node.input(0)
    a = node.emit(PiecewiseLinearOp(x, "leaky_relu", -1.0, 0.0), f"{out}.abs")
    d = _affine(node, a, 1.0, 1.0, f"{out}.den")
    return node.emit(DivOp(x, d, node.out_type()))


def build_pow(node: _Node) -> SSAValue:
    """x ** c for a constant scalar c in 1, 2, 3 (products), 0.5, -0.5, -1 (ACT's
    sqrt, rsqrt, reciprocal); c of any numeric type (the exponent's type is its own
    in ONNX: torch writes x ** 3 with an int64 3)."""
    c = _scalar(node, 1, numeric=True)
    if c is None:
        node.fail("only a constant scalar exponent is supported")
    x = node.input(0)
    out = node.proto.output[0]
    if c == 1.0:
        return _affine(node, x, 1.0, 0.0)
    if c in (2.0, 3.0):
        sq = node.emit(MulOp(x, x, node.out_type() if c == 2.0 else None), None if c == 2.0 else f"{out}.sq")
        return sq if c == 2.0 else node.emit(MulOp(sq, x, node.out_type()))
    funcs = {0.5: "sqrt", -0.5: "rsqrt", -1.0: "reciprocal"}
    if c in funcs:
        return node.emit(ActivationOp(x, funcs[c], node.out_type()))
    node.fail(f"unsupported exponent {c} (1, 2, 3, 0.5, -0.5 or -1)")


def _row_mean(node: _Node, x: SSAValue, hint: str) -> SSAValue:
    """The mean over the last dim of x, keeping it ([..., K] -> [..., 1]): a product
    with a constant column of 1/K on the PE array (between views)."""
    shape = x.type.get_shape()  # type: ignore[attr-defined]
    k = shape[-1]
    name = f"{hint}.ones"
    node.check_size((k, 1), f"constant '{name}'")
    node.importer.consts[name] = np.full((k, 1), 1.0 / k, np.float32)
    node.importer.const_origin[name] = node.label
    rows = node.emit(ReshapeOp(x, (prod(shape[:-1]), k)), f"{hint}.rows")
    mean = node.emit(MatMulOp(rows, node.importer.value(name, node)), f"{hint}.sum")
    return node.emit(ReshapeOp(mean, (*shape[:-1], 1)), hint)


def _normalize_rows(node: _Node, x: SSAValue, eps: float, out: str) -> SSAValue:
    """(x - mean) / sqrt(var + eps) over the last dim: mean and variance by
    `_row_mean` (PE), rsqrt on ACT, the rest element-wise with broadcasting."""
    mean = _row_mean(node, x, f"{out}.mean")
    centered = node.emit(SubOp(x, mean), f"{out}.centered")
    square = node.emit(MulOp(centered, centered), f"{out}.square")
    var = _row_mean(node, square, f"{out}.var")
    shifted = _affine(node, var, 1.0, eps, f"{out}.var_eps")
    rstd = node.emit(ActivationOp(shifted, "rsqrt"), f"{out}.rstd")
    return node.emit(MulOp(centered, rstd), f"{out}.normed")


def build_reduce(node: _Node) -> SSAValue:
    """ReduceSum and ReduceMean: the reduced axes moved last (a transpose, unless they
    are), the rest as rows, and one product with a constant column of 1 (or 1/K) on
    the PE array; keepdims as a view. Axes constant (an attribute where the opset
    has it so). ReduceSumSquare and ReduceL2 sum x * x first (ReduceL2 then takes
    ACT's sqrt), ReduceL1 sums |x|."""
    op_type = node.proto.op_type
    out = node.proto.output[0]
    x = node.input(0)
    if op_type in ("ReduceSumSquare", "ReduceL2"):
        x = node.emit(MulOp(x, x), f"{out}.squares")
    elif op_type == "ReduceL1":
        x = node.emit(PiecewiseLinearOp(x, "leaky_relu", -1.0, 0.0), f"{out}.abs")
    x, rows, k, final = _reduced_last(node, x, 13 if op_type == "ReduceSum" else 18)
    stages = _reduce_stages(k)
    total = x
    for i, part in enumerate(stages):
        name = f"{out}.ones" if i == 0 else f"{out}.ones{i}"
        last = i == len(stages) - 1
        node.check_size((part, 1), f"constant '{name}'")
        node.importer.consts[name] = np.full((part, 1), 1.0 / k if op_type == "ReduceMean" and last else 1.0, np.float32)
        node.importer.const_origin[name] = node.label
        flat = node.emit(ReshapeOp(total, (rows * prod(stages[i + 1 :]), part)), f"{out}.rows" + (f"{i}" if i else ""))
        total = node.emit(MatMulOp(flat, node.importer.value(name, node)), f"{out}.col" + (f"{i}" if i else ""))
    if op_type == "ReduceL2":
        total = node.emit(ActivationOp(total, "sqrt"), f"{out}.sqrt")
    return node.emit(ReshapeOp(total, final))


REDUCE_ONES_MAX = 1 << 16
"""The longest column of ones a ReduceSum or ReduceMean multiplies by in one product."""


def _reduce_stages(k: int) -> list[int]:
    """The reduced elements K of a sum as factors of at most REDUCE_ONES_MAX each,
    innermost first, summed one product after another: a column of ones as long as
    the input (a whole-tensor sum) doubled the memory and DRAM the input takes. A
    factor past the limit stays where K has no divisor to split it by."""
    stages = []
    while k > REDUCE_ONES_MAX:
        d = next((d for d in range(REDUCE_ONES_MAX, 1, -1) if k % d == 0), 1)
        if d == 1:
            break
        stages.append(d)
        k //= d
    return [*stages, k]


def _reduced_last(
    node: _Node, x: SSAValue, axes_input_from: int
) -> tuple[SSAValue, int, int, tuple[int, ...]]:
    """A Reduce* node's input `x` with the reduced axes moved last (a transpose,
    unless they are): (that value, the rows, K the reduced elements of each, the
    result's shape with keepdims or without). The axes are constant: an input from
    opset `axes_input_from`, an attribute before; none means all of them."""
    shape = node.input_shape(0)
    rank = len(shape)
    if node.importer.opset >= axes_input_from:
        axes = [int(a) for a in node.const_input(1).reshape(-1)] if node.has_input(1) else []
    else:
        axes = list(node.ints("axes", ()))
    if not axes:
        if node.attr("noop_with_empty_axes", 0):
            node.fail("noop_with_empty_axes with no axes (an identity) is not imported")
        axes = list(range(rank))
    axes = sorted({a + rank if a < 0 else a for a in axes})
    kept = [a for a in range(rank) if a not in axes]
    if kept + axes != list(range(rank)):
        x = node.emit(TransposeOp(x, (*kept, *axes)), f"{node.proto.output[0]}.moved")
    if node.attr("keepdims", 1):
        final = tuple(1 if a in axes else d for a, d in enumerate(shape))
    else:
        final = tuple(shape[a] for a in kept)
    return x, prod(shape[a] for a in kept), prod(shape[a] for a in axes), final


def build_reduce_max(node: _Node) -> SSAValue:
    """ReduceMax and ReduceMin: the reduced axes moved last (a transpose, unless they
    are), the rest as the channels of a [1, rows, 1, K] view, and a max pooling of
    window 1 x K (POOL); ReduceMin as -max(-x). Axes constant (an input from opset
    18); keepdims as a view."""
    op_type = node.proto.op_type
    out = node.proto.output[0]
    x = node.input(0)
    if op_type == "ReduceMin":
        x = _affine(node, x, -1.0, 0.0, f"{out}.neg")
    x, rows, k, final = _reduced_last(node, x, 18)
    flat = node.emit(ReshapeOp(x, (1, rows, 1, k)), f"{out}.rows")
    top = node.emit(MaxPoolOp(flat, kernel_shape=(1, k), strides=(1, 1)), f"{out}.max")
    if op_type == "ReduceMin":
        top = node.emit(ReshapeOp(top, final), f"{out}.negmin")
        return _affine(node, top, -1.0, 0.0)
    return node.emit(ReshapeOp(top, final))


def build_instance_norm(node: _Node) -> SSAValue:
    """InstanceNormalization of [N, C, ...]: LayerNorm's arithmetic over each
    channel's plane (a view [N, C, H*W]), then the per-channel scale and bias."""
    shape = node.input_shape(0)
    if len(shape) < 3:
        node.fail(f"unsupported input rank {len(shape)} (at least 3)")
    out = node.proto.output[0]
    n, c = shape[:2]
    plane = node.emit(ReshapeOp(node.input(0), (n, c, prod(shape[2:]))), f"{out}.planes")
    normed = _normalize_rows(node, plane, float(node.attr("epsilon", 1e-5)), out)
    back = node.emit(ReshapeOp(normed, shape), f"{out}.image")
    per_channel = (c,) + (1,) * (len(shape) - 2)
    scale = node.emit(ReshapeOp(node.input(1), per_channel), f"{out}.scale")
    bias = node.emit(ReshapeOp(node.input(2), per_channel), f"{out}.bias")
    scaled = node.emit(MulOp(back, scale), f"{out}.scaled")
    return node.emit(AddOp(scaled, bias, node.out_type()))


# ------------------------------------------------ onnxruntime's contrib operators


def _fused_activation(node: _Node, y: SSAValue) -> SSAValue:
    """onnxruntime's fused `activation` (FusedConv, FusedGemm) of `y`, with its
    parameters (LeakyRelu: alpha; Clip: min, max; HardSigmoid: alpha, beta):
    FusedConv's `activation_params`, FusedGemm's `activation_alpha` and
    `activation_beta`."""
    act = node.attr("activation", "")
    if node.proto.op_type == "FusedGemm":
        given = [node.attr("activation_alpha", None), node.attr("activation_beta", None)]
    else:
        given = list(node.attr("activation_params", []))

    def param(i: int, default: float) -> float:
        return float(given[i]) if len(given) > i and given[i] is not None else default

    out = node.out_type()
    if act == "Relu":
        return node.emit(ReluOp(y, out))
    if act in ("Sigmoid", "Tanh"):
        return node.emit(ActivationOp(y, act.lower(), out))
    if act == "LeakyRelu":
        return node.emit(PiecewiseLinearOp(y, "leaky_relu", param(0, 0.01), 0.0, out))
    if act == "HardSigmoid":
        return node.emit(PiecewiseLinearOp(y, "hard_sigmoid", param(0, 0.2), param(1, 0.5), out))
    if act == "Clip":
        lo, hi = param(0, -math.inf), param(1, math.inf)
        if not lo < hi:
            node.fail(f"Clip activation: min {lo} must be below max {hi}")
        return node.emit(PiecewiseLinearOp(y, "clip", lo, hi, out))
    node.unsupported("activation", act)


def build_fused(node: _Node) -> SSAValue:
    """onnxruntime's FusedConv and FusedGemm: the Conv (plus its Z input, the sum
    fused into it, when given) or the Gemm, then the fused activation
    (`_fused_activation`)."""
    if node.proto.op_type == "FusedConv":
        y = build_conv(node)
        if node.has_input(3):
            y = node.emit(AddOp(y, node.input(3), node.out_type()), f"{node.proto.output[0]}.sum")
    else:
        y = build_gemm(node)
    return _fused_activation(node, y) if node.attr("activation", "") else y


def build_fused_matmul(node: _Node) -> SSAValue:
    """onnxruntime's FusedMatMul: alpha (A B); transA/transB on 2-D operands as a
    Gemm; the batch transposes are not imported."""
    for name in ("transBatchA", "transBatchB"):
        if node.attr(name, 0):
            node.unsupported(name, node.attr(name, 0))
    alpha = float(node.attr("alpha", 1.0))
    trans_a, trans_b = bool(node.attr("transA", 0)), bool(node.attr("transB", 0))
    if trans_a or trans_b:
        if len(node.input_shape(0)) != 2 or len(node.input_shape(1)) != 2:
            node.fail("transA/transB on operands of rank other than 2")
        return node.emit(
            GemmOp(node.input(0), node.input(1), None, alpha=alpha, beta=1.0,
                   trans_a=trans_a, trans_b=trans_b, result_type=node.out_type())
        )
    y = build_matmul(node)
    return y if alpha == 1.0 else _affine(node, y, alpha, 0.0)


def build_contrib_gelu(node: _Node) -> SSAValue:
    """onnxruntime's Gelu (the erf form), BiasGelu (of A + B), FastGelu (the tanh
    form, ACT's gelu, of X + bias when given) and QuickGelu (x sigmoid(alpha x),
    alpha 1.702 by default)."""
    op_type = node.proto.op_type
    out = node.proto.output[0]
    x = node.input(0)
    if op_type in ("BiasGelu", "FastGelu") and node.has_input(1):
        x = node.emit(AddOp(x, node.input(1)), f"{out}.biased")
    if op_type == "FastGelu":
        return node.emit(ActivationOp(x, "gelu", node.out_type()))
    if op_type == "QuickGelu":
        scaled = _affine(node, x, float(node.attr("alpha", 1.702)), 0.0, f"{out}.scaled")
        gate = node.emit(ActivationOp(scaled, "sigmoid"), f"{out}.gate")
        return node.emit(MulOp(x, gate, node.out_type()))
    return _gelu_erf(node, x)


def build_skip_norm(node: _Node) -> SSAValue:
    """onnxruntime's SkipLayerNormalization (inputs: input, skip, gamma, beta, bias)
    and SkipSimplifiedLayerNormalization (input, skip, gamma, bias): the norm over
    the last axis of input + skip (+ bias), times gamma (+ beta); the sum is bound
    to output 3 when one is named; the mean and inverse-std outputs are not
    imported."""
    node.reject_used_output(1)
    node.reject_used_output(2)
    out = node.proto.output[0]
    simplified = node.proto.op_type == "SkipSimplifiedLayerNormalization"
    total = node.emit(AddOp(node.input(0), node.input(1)), f"{out}.sum")
    bias = 3 if simplified else 4
    if node.has_input(bias):
        total = node.emit(AddOp(total, node.input(bias)), f"{out}.sum_bias")
    if len(node.proto.output) > 3 and node.proto.output[3]:
        node.importer.values[node.proto.output[3]] = total
    eps = float(node.attr("epsilon", 1e-12 if not simplified else 1e-6))
    y = (_rms_rows if simplified else _normalize_rows)(node, total, eps, out)
    last = simplified or not node.has_input(3)
    y = node.emit(MulOp(y, node.input(2), node.out_type() if last else None), None if last else f"{out}.scaled")
    if last:
        return y
    return node.emit(AddOp(y, node.input(3), node.out_type()))


def build_attention(node: _Node) -> SSAValue:
    """onnxruntime's Attention (its transformers optimizer's fused self-attention):
    the packed Q|K|V projection (one [B*S, H] x [H, 3H] matmul, plus the bias), each
    of Q, K, V a slice viewed as [B, N, S, dh] heads, the scores Q K^T times `scale`
    (1/sqrt(dh) by default) on the PE array, plus the mask, a softmax over the keys,
    times V, the heads joined back to [B, S, H]. The mask (`mask_index`: int32 key
    lengths [B], right padding, or a raw [B, S] mask of 1s and 0s) becomes an additive
    [B, 1, 1, S] float mask of 0 and `mask_filter_value` in onnxruntime (a
    framework-tier op: integer data); `unidirectional` adds a causal constant. No
    past state, attention bias, rotary embedding or unequal qkv_hidden_sizes."""
    for i, what in ((4, "past"), (5, "attention_bias"), (6, "past_sequence_length")):
        if node.has_input(i):
            node.fail(f"the {what} input is not imported")
    node.reject_used_output(1)
    if node.attr("do_rotary", 0):
        node.unsupported("do_rotary", node.attr("do_rotary", 0))
    shape = node.input_shape(0)
    if len(shape) != 3:
        node.fail(f"unsupported input rank {len(shape)} (3: batch, sequence, hidden)")
    b, s, h = shape
    heads = int(node.attr("num_heads", 0))
    if heads <= 0 or h % heads:
        node.fail(f"num_heads {heads} does not divide the hidden size {h}")
    sizes = list(node.attr("qkv_hidden_sizes", [h, h, h]))
    if sizes != [h, h, h] or node.input_shape(1) != (h, 3 * h):
        node.fail(f"unsupported packed weights {list(node.input_shape(1))} (qkv_hidden_sizes {sizes})")
    dh = h // heads
    scale = float(node.attr("scale", 0.0)) or 1.0 / math.sqrt(dh)
    filler = float(node.attr("mask_filter_value", -10000.0))
    out = node.proto.output[0]
    rows = node.emit(ReshapeOp(node.input(0), (b * s, h)), f"{out}.rows")
    qkv = node.emit(MatMulOp(rows, node.input(1)), f"{out}.qkv")
    if node.has_input(2):
        qkv = node.emit(AddOp(qkv, node.input(2)), f"{out}.qkv_bias")

    def heads_of(i: int, perm: tuple[int, ...], name: str) -> SSAValue:
        part = node.emit(SliceOp(qkv, (0, i * h), (b * s, (i + 1) * h)), f"{out}.{name}")
        four = node.emit(ReshapeOp(part, (b, s, heads, dh)), f"{out}.{name}4")
        return node.emit(TransposeOp(four, perm), f"{out}.{name}t")

    q = heads_of(0, (0, 2, 1, 3), "q")
    k = heads_of(1, (0, 2, 3, 1), "k")
    v = heads_of(2, (0, 2, 1, 3), "v")
    scores = node.emit(MatMulOp(q, k), f"{out}.scores")
    scores = _affine(node, scores, scale, 0.0, f"{out}.scaled")
    if node.has_input(3):
        scores = node.emit(AddOp(scores, _attention_mask(node, b, s, filler)), f"{out}.masked")
    if node.attr("unidirectional", 0):
        scores = _causal(node, scores, s, s, filler)
    weights = node.emit(SoftmaxOp(scores, 3), f"{out}.weights")
    context = node.emit(MatMulOp(weights, v), f"{out}.context")
    joined = node.emit(TransposeOp(context, (0, 2, 1, 3)), f"{out}.joined")
    return node.emit(ReshapeOp(joined, (b, s, h)))


ATTENTION_MASKED = float(np.finfo(np.float32).min) / 2
"""The score a masked key gets in ONNX Attention (a boolean mask's False, is_causal's
future keys): softmax gives it weight 0, as -inf does, and adding it to any score
stays finite."""


def build_onnx_attention(node: _Node) -> SSAValue:
    """ONNX Attention (opset 23; what PyTorch's exporter writes for
    scaled_dot_product_attention and nn.MultiheadAttention there): Q, K, V as 4-D
    [B, heads, S, dh], or 3-D [B, S, heads x dh] viewed so by `q_num_heads` and
    `kv_num_heads`; with fewer K/V heads than Q heads (grouped-query attention)
    each K/V head repeated for its group; the scores Q K^T times `scale`
    (1/sqrt(dh) by default) on the PE array, plus the mask (a float mask added; a
    constant boolean one made 0 / ATTENTION_MASKED at import), `is_causal`'s
    upper-left-aligned causal constant, a softmax over the keys, times V. No past
    state, padded K/V lengths (opset 24), softcap, sliding window (opset 25), other
    attributes or extra outputs: those nodes run on the framework tier."""
    for i, what in ((4, "past_key"), (5, "past_value"), (6, "nonpad_kv_seqlen")):
        if node.has_input(i):
            node.fail(f"the {what} input is not imported")
    for i in (1, 2, 3):
        node.reject_used_output(i)
    if float(node.attr("softcap", 0.0)):
        node.unsupported("softcap", node.attr("softcap", 0.0))
    for name in ("left_window_size", "right_window_size"):  # (opset 25's sliding window)
        if int(node.attr(name, -1)) != -1:
            node.unsupported(name, node.attr(name, -1))
    known = {"is_causal", "kv_num_heads", "q_num_heads", "qk_matmul_output_mode", "scale", "softcap",
             "softmax_precision", "left_window_size", "right_window_size"}
    if unknown := sorted({a.name for a in node.proto.attribute} - known):
        node.fail(f"attribute '{unknown[0]}' is not imported")
    q_shape, k_shape, v_shape = (node.input_shape(i) for i in range(3))
    if not len(q_shape) == len(k_shape) == len(v_shape) or len(q_shape) not in (3, 4):
        node.fail(f"unsupported input ranks {len(q_shape)}, {len(k_shape)}, {len(v_shape)} (all 3 or all 4)")
    out = node.proto.output[0]

    def heads(i: int, shape: tuple[int, ...], count: int, name: str) -> SSAValue:
        """Input i as [B, heads, S, d]."""
        if len(shape) == 4:
            return node.input(i)
        b, seq, width = shape
        if count <= 0 or width % count:
            node.fail(f"{name}: {count} heads do not divide its width {width}")
        four = node.emit(ReshapeOp(node.input(i), (b, seq, count, width // count)), f"{out}.{name}4")
        return node.emit(TransposeOp(four, (0, 2, 1, 3)), f"{out}.{name}h")

    hq_attr, hkv_attr = int(node.attr("q_num_heads", 0)), int(node.attr("kv_num_heads", 0))
    q = heads(0, q_shape, hq_attr, "q")
    k = heads(1, k_shape, hkv_attr, "k")
    v = heads(2, v_shape, hkv_attr, "v")
    b, hq, s, dh = q.type.get_shape()  # type: ignore[attr-defined]
    _, hkv, t, dk = k.type.get_shape()  # type: ignore[attr-defined]
    dv = v.type.get_shape()[3]  # type: ignore[attr-defined]
    if dk != dh or v.type.get_shape()[:3] != (b, hkv, t) or k.type.get_shape()[0] != b:  # type: ignore[attr-defined]
        node.fail(f"Q {list(q.type.get_shape())}, K {list(k.type.get_shape())} and V {list(v.type.get_shape())} do not agree")  # type: ignore[attr-defined]
    if hkv <= 0 or hq % hkv:
        node.fail(f"{hkv} K/V heads do not divide {hq} query heads")
    if hq != hkv:  # grouped-query attention: each K/V head for hq / hkv query heads
        group = hq // hkv

        def repeat(x: SSAValue, d: int, name: str) -> SSAValue:
            flat = node.emit(ReshapeOp(x, (b, hkv, 1, t * d)), f"{out}.{name}1")
            copies = node.emit(ConcatOp([flat] * group, 2), f"{out}.{name}g")
            return node.emit(ReshapeOp(copies, (b, hq, t, d)), f"{out}.{name}r")

        k, v = repeat(k, dh, "kr"), repeat(v, dv, "vr")
    kt = node.emit(TransposeOp(k, (0, 1, 3, 2)), f"{out}.kt")
    scores = node.emit(MatMulOp(q, kt), f"{out}.scores")
    scale = float(node.attr("scale", 0.0)) or 1.0 / math.sqrt(dh)
    scores = _affine(node, scores, scale, 0.0, f"{out}.scaled")
    if node.has_input(3):
        name = node.proto.input[3]
        if name in node.importer.consts and node.importer.consts[name].dtype == np.bool_:
            bias = f"{out}.mask"
            node.importer.consts[bias] = np.where(node.importer.consts[name], 0.0, ATTENTION_MASKED).astype(np.float32)
            node.importer.const_origin[bias] = node.label
            mask = node.importer.value(bias, node)
        else:
            mask = node.input(3)
            ty = mask.type
            if not isinstance(ty, TensorType) or ty.get_element_type() != f32:
                node.fail(f"attn_mask of type {_describe_type(ty)} (a float mask, or a constant boolean one)")
        scores = node.emit(AddOp(scores, mask), f"{out}.masked")
    if node.attr("is_causal", 0):
        scores = _causal(node, scores, s, t, ATTENTION_MASKED)
    weights = node.emit(SoftmaxOp(scores, 3), f"{out}.weights")
    if len(q_shape) == 4:
        return node.emit(MatMulOp(weights, v, node.out_type()))
    context = node.emit(MatMulOp(weights, v), f"{out}.context")
    joined = node.emit(TransposeOp(context, (0, 2, 1, 3)), f"{out}.joined")
    return node.emit(ReshapeOp(joined, node.out_type() or (b, s, hq * dv)))


def _causal(node: _Node, scores: SSAValue, s: int, t: int, filler: float) -> SSAValue:
    """`scores` [.., s, t] plus the upper-left-aligned causal constant: `filler` where
    a key comes after its query (j > i), 0 elsewhere."""
    out = node.proto.output[0]
    causal = f"{out}.causal"
    node.importer.consts[causal] = np.triu(np.full((s, t), filler, np.float32), 1).reshape(1, 1, s, t)
    node.importer.const_origin[causal] = node.label
    return node.emit(AddOp(scores, node.importer.value(causal, node)), f"{out}.causal_masked")


def _attention_mask(node: _Node, b: int, s: int, filler: float) -> SSAValue:
    """Attention's `mask_index` as an additive [B, 1, 1, S] float mask (0 where a key is
    kept, `filler` where it is masked), made in onnxruntime: one framework-tier op of
    a few ONNX nodes (the lengths [B] as a column, Less than it of the key positions;
    Equal to 0 for a raw [B, S] mask; Where; Reshape)."""
    name = node.proto.input[3]
    value = node.importer.values.get(name)
    if value is None:
        node.fail("a constant mask_index is not imported")
    ty = value.type
    if not isinstance(ty, TensorType) or ty.get_element_type() != i32:
        node.fail(f"mask_index of type {ty} (int32 lengths [B] or mask [B, S])")
    out = f"{node.proto.output[0]}.mask"
    helper, T = onnx.helper, onnx.TensorProto
    consts = {
        f"{out}.zero": np.array(0.0, np.float32),
        f"{out}.filler": np.array(filler, np.float32),
        f"{out}.shape": np.array([b, 1, 1, s], np.int64),
    }
    # In the model's own ONNX opset, which the payloads it is joined with declare
    # (nodes whose form is the same from opset 11 on: Reshape, not Unsqueeze).
    opset = node.importer.opset
    if opset < 11:
        node.fail(f"an attention mask at opset {opset} (from 11)")
    if ty.get_shape() == (b,):  # key lengths: keys at positions >= length are masked
        consts[f"{out}.positions"] = np.arange(s, dtype=np.int32).reshape(1, s)
        consts[f"{out}.column"] = np.array([b, 1], np.int64)
        nodes = [
            helper.make_node("Reshape", [name, f"{out}.column"], [f"{out}.lengths"]),
            helper.make_node("Less", [f"{out}.positions", f"{out}.lengths"], [f"{out}.keep"]),
            helper.make_node("Where", [f"{out}.keep", f"{out}.zero", f"{out}.filler"], [f"{out}.add"]),
        ]
    elif ty.get_shape() == (b, s):  # 1 keeps a key, 0 masks it
        consts[f"{out}.izero"] = np.array(0, np.int32)
        nodes = [
            helper.make_node("Equal", [name, f"{out}.izero"], [f"{out}.masked"]),
            helper.make_node("Where", [f"{out}.masked", f"{out}.filler", f"{out}.zero"], [f"{out}.add"]),
        ]
    else:
        node.fail(f"mask_index of shape {list(ty.get_shape())} (lengths [B] or a mask [B, S])")
    nodes.append(helper.make_node("Reshape", [f"{out}.add", f"{out}.shape"], [out]))
    graph = helper.make_graph(
        nodes, f"{node.label}.mask",
        [helper.make_tensor_value_info(name, T.INT32, list(ty.get_shape()))],
        [helper.make_tensor_value_info(out, T.FLOAT, [b, 1, 1, s])],
        [numpy_helper.from_array(a, n) for n, a in consts.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = node.importer.ir_version
    op = OnnxNodeOp(
        "AttentionMask", [value], [TensorType(f32, (b, 1, 1, s))], [name], [out],
        model.SerializeToString(),
    )
    op.attributes["tidal.reason"] = StringAttr(
        "an attention mask made from integer data (onnxruntime, the framework tier)"
    )
    return node.emit(op, out)


def build_bias_add(node: _Node) -> SSAValue:
    """onnxruntime's BiasAdd: X + bias + skip."""
    out = node.proto.output[0]
    biased = node.emit(AddOp(node.input(0), node.input(1)), f"{out}.biased")
    return node.emit(AddOp(biased, node.input(2), node.out_type()))


def build_group_norm(node: _Node) -> SSAValue:
    """GroupNormalization of [N, C, ...] in G groups: LayerNorm's arithmetic over each
    group's channels and planes (a view [N, G, C/G * H*W]), then a scale and bias per
    channel (from opset 21; before, per group: GroupNormalization-18, whose constant
    scale and bias are repeated over each group's channels at import)."""
    shape = node.input_shape(0)
    if len(shape) < 3:
        node.fail(f"unsupported input rank {len(shape)} (at least 3)")
    out = node.proto.output[0]
    n, c = shape[:2]
    groups = int(node.attr("num_groups", 0))
    if groups <= 0 or c % groups:
        node.fail(f"num_groups {groups} does not divide the {c} channels")
    rows = node.emit(ReshapeOp(node.input(0), (n, groups, c // groups * prod(shape[2:]))), f"{out}.groups")
    normed = _normalize_rows(node, rows, float(node.attr("epsilon", 1e-5)), out)
    back = node.emit(ReshapeOp(normed, shape), f"{out}.image")
    per_channel = (c,) + (1,) * (len(shape) - 2)
    params = []
    for i, what in ((1, "scale"), (2, "bias")):
        name = node.proto.input[i]
        if node.importer.opset < 21:  # per group: repeated over each group's channels
            values = node.importer.consts.get(name)
            if values is None or name in node.importer.values:
                node.fail(f"a per-group {what} computed at run time (opset {node.importer.opset})")
            wide = f"{out}.{what}_per_channel"
            node.importer.consts[wide] = np.repeat(np.asarray(values, np.float32).reshape(groups), c // groups)
            node.importer.const_origin[wide] = node.label
            value = node.importer.value(wide, node)
        else:
            value = node.input(i)
        params.append(node.emit(ReshapeOp(value, per_channel), f"{out}.{what}"))
    scaled = node.emit(MulOp(back, params[0]), f"{out}.scaled")
    return node.emit(AddOp(scaled, params[1], node.out_type()))


def build_layer_norm(node: _Node) -> SSAValue:
    """LayerNormalization over the last axis: mean and variance as products with a
    column of 1/K on the PE array, rsqrt on ACT, the rest element-wise (sub, mul,
    add with broadcasting); the optional Mean and InvStdDev outputs are not
    imported."""
    _last_axis_only(node)
    node.reject_used_output(1)
    node.reject_used_output(2)
    out = node.proto.output[0]
    y = _normalize_rows(node, node.input(0), float(node.attr("epsilon", 1e-5)), out)
    if node.has_input(1):
        last = not node.has_input(2)
        y = node.emit(MulOp(y, node.input(1), node.out_type() if last else None), None if last else f"{out}.scaled")
    if node.has_input(2):
        y = node.emit(AddOp(y, node.input(2), node.out_type()))
    return y


def build_rms_norm(node: _Node) -> SSAValue:
    """RMSNormalization (opset 23) and onnxruntime's SimplifiedLayerNormalization
    over the last axis: x / sqrt(mean(x * x) + epsilon) * scale, the mean of squares
    a product with a column of 1/K on the PE array, rsqrt on ACT, the rest
    element-wise; onnxruntime's optional inverse-RMS output is not imported."""
    _last_axis_only(node)
    node.reject_used_output(1)
    out = node.proto.output[0]
    y = _rms_rows(node, node.input(0), float(node.attr("epsilon", 1e-5)), out)
    return node.emit(MulOp(y, node.input(1), node.out_type()))


def _last_axis_only(node: _Node) -> None:
    """Refuse a norm whose `axis` attribute is not the input's last axis."""
    rank = len(node.input_shape(0))
    axis = int(node.attr("axis", -1))
    axis = axis + rank if axis < 0 else axis
    if axis != rank - 1:
        node.fail(f"unsupported axis {axis} (only the last)")


def _rms_rows(node: _Node, x: SSAValue, eps: float, out: str) -> SSAValue:
    """x / sqrt(mean(x * x) + eps) over the last dim: the mean of squares by
    `_row_mean` (PE), rsqrt on ACT, the products element-wise."""
    square = node.emit(MulOp(x, x), f"{out}.square")
    mean = _row_mean(node, square, f"{out}.mean_square")
    shifted = _affine(node, mean, 1.0, eps, f"{out}.eps")
    rrms = node.emit(ActivationOp(shifted, "rsqrt"), f"{out}.rrms")
    return node.emit(MulOp(x, rrms), f"{out}.normed")


def build_cast(node: _Node) -> SSAValue | None:
    """A Cast of f32 data to f32 aliases its input (casts of constants are folded at
    import; the others are integer or bool data, on the framework tier)."""
    if int(node.attr("to", 0)) != onnx.TensorProto.FLOAT:
        node.fail("only a cast of float32 to float32 is imported (others: framework tier)")
    source = node.proto.input[0]
    consts = node.importer.consts
    if source in consts and source not in node.importer.values and consts[source].dtype != np.float32:
        node.fail(f"a cast of {consts[source].dtype} data")  # fold_node computes these
    node.alias_input()
    return None


def build_gather(node: _Node) -> SSAValue:
    """Gather by constant indices: each run of consecutive indices a graph.slice along
    the axis, runs joined by graph.concat, a scalar index's axis dropped by a view.
    Indices computed at run time (embedding lookups) are not imported."""
    shape = node.input_shape(0)
    rank = len(shape)
    axis = _axis(node, int(node.attr("axis", 0)), rank)
    indices = node.const_input(1)
    flat = [int(i) + shape[axis] if int(i) < 0 else int(i) for i in indices.reshape(-1)]
    if not flat or any(not 0 <= i < shape[axis] for i in flat):
        node.fail(f"indices {indices.reshape(-1).tolist()} outside dim {axis} of size {shape[axis]}")
    out = node.proto.output[0]
    y = _runs_along(node, node.input(0), axis, flat, out, f"{out}.joined")
    final = (*shape[:axis], *indices.shape, *shape[axis + 1 :])
    if tuple(y.type.get_shape()) == final:  # type: ignore[attr-defined]
        return y
    return node.emit(ReshapeOp(y, final))


def build_squeeze(node: _Node) -> SSAValue:
    """A view: the size-1 dims named by `axes` (all of them when absent) dropped."""
    shape = node.input_shape(0)
    if node.importer.opset >= 13:
        axes = tuple(int(a) for a in node.const_input(1).reshape(-1)) if node.has_input(1) else None
    else:
        axes = node.ints("axes", ()) or None
    rank = len(shape)
    if axes is None:
        axes = tuple(i for i, d in enumerate(shape) if d == 1)
    axes = tuple(a + rank if a < 0 else a for a in axes)
    if any(not 0 <= a < rank or shape[a] != 1 for a in axes):
        node.fail(f"axes {list(axes)} do not name size-1 dims of {list(shape)}")
    kept = tuple(d for i, d in enumerate(shape) if i not in axes)
    return node.emit(ReshapeOp(node.input(0), kept))


def build_identity(node: _Node) -> None:
    node.alias_input()


def _seed(node: _Node) -> int:
    """The `seed` attribute (a float in ONNX; by default the node's index), whole and
    within 32 bits: a NaN or infinite seed is refused, not a traceback."""
    value = node.attr("seed", node.index)
    if not (isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))):
        node.fail(f"seed {value} is not a finite number")
    seed = int(value)
    if not -(2**31) <= seed < 2**31:
        node.fail(f"seed {seed} does not fit 32 bits")
    return seed


def build_dropout(node: _Node) -> SSAValue:
    """`graph.dropout`: in inference the identity, which canonicalisation drops; with
    a constant true `training_mode` (opset 12 on) random zeroing and scaling on the
    POOL engine, seeded by the node's `seed` attribute (by default the node's index,
    so that two dropouts of a model draw different masks and a run is reproducible).
    The ratio is an attribute before opset 12 and an input from 12 on; the mask
    output is not supported."""
    node.reject_used_output(1)
    training = bool(node.has_input(2) and node.const_input(2).any())
    if node.attr("is_test", 1) == 0:  # opset < 7 spelled inference this way
        node.unsupported("is_test", 0)
    ratio = float(node.attr("ratio", 0.5))
    if node.has_input(1):
        ratio = float(node.const_input(1).reshape(-1)[0])
    if not 0.0 <= ratio < 1.0:
        node.fail(f"ratio {ratio} is not in [0, 1)")
    seed = _seed(node)
    return node.emit(
        DropoutOp(node.input(0), ratio, node.out_type(), training=training, seed=seed)
    )


def build_random_uniform_like(node: _Node) -> SSAValue:
    """RandomUniformLike: numbers uniform in [low, high) of the input's shape, from the
    POOL engine's generators; `seed` (a float in ONNX) truncated to an integer, by
    default the node's index. float32 outputs only."""
    dtype = node.attr("dtype", None)
    if dtype is not None and int(dtype) != 1:  # TensorProto.FLOAT
        node.unsupported("dtype", int(dtype))
    low, high = float(node.attr("low", 0.0)), float(node.attr("high", 1.0))  # (checked: `_random_problem`)
    seed = _seed(node)
    return node.emit(RandomUniformLikeOp(node.input(0), low, high, seed, node.out_type()))


def build_piecewise_linear(node: _Node) -> SSAValue:
    """Clip (min and max as attributes before opset 11, optional constant inputs from
    11), HardSigmoid (alpha 0.2, beta 0.5 by default), HardSwish, LeakyRelu (alpha
    0.01 by default): graph.piecewise_linear."""
    op = node.proto.op_type
    if op == "Clip":
        lo, hi = float(node.attr("min", -math.inf)), float(node.attr("max", math.inf))
        given = {n: any(a.name == n for a in node.proto.attribute) for n in ("min", "max")}
        for i, name in ((1, "min"), (2, "max")):
            if node.has_input(i):
                given[name] = True
                value = node.const_input(i).reshape(-1)
                if value.size != 1:
                    node.fail(f"{name} must be a scalar")
                if i == 1:
                    lo = float(value[0])
                else:
                    hi = float(value[0])
        if not lo < hi:
            node.fail(f"min {lo} must be below max {hi}")
        if not all(given.values()):
            return _clip_to_float32(node, lo, hi, given)
        kind, alpha, beta = "clip", lo, hi
    elif op == "HardSigmoid":
        kind, alpha, beta = "hard_sigmoid", float(node.attr("alpha", 0.2)), float(node.attr("beta", 0.5))
    elif op == "HardSwish":
        kind, alpha, beta = "hard_swish", 1.0 / 6.0, 0.5
    else:
        kind, alpha, beta = "leaky_relu", float(node.attr("alpha", 0.01)), 0.0
    return node.emit(PiecewiseLinearOp(node.input(0), kind, alpha, beta, node.out_type()))


_F32_MAX = float(np.finfo(np.float32).max)


def _clip_to_float32(node: _Node, lo: float, hi: float, given: Mapping[str, bool]) -> SSAValue:
    """Clip with a bound left out: ONNX's default is float32's lowest or max, not an
    infinity (onnxruntime clips inf to 3.4e38 and -inf to -3.4e38; NaN stays NaN):
    the clip on the bound given, then a Min and a Max with float32's limits on the
    sides left out (the clip lowers through ACT's relu and clip01, which would lose
    every finite value against a bound of 3.4e38)."""
    out = node.proto.output[0]
    x = node.input(0)
    if given["min"] or given["max"]:
        x = node.emit(PiecewiseLinearOp(x, "clip", lo, hi), f"{out}.given")
    sides = [(MinOp, _F32_MAX, "f32max")] if not given["max"] else []
    sides += [(MaxOp, -_F32_MAX, "f32lowest")] if not given["min"] else []
    for k, (op, bound, suffix) in enumerate(sides):
        name = f"{out}.{suffix}"
        node.importer.consts[name] = np.array(bound, np.float32)
        node.importer.const_origin[name] = node.label
        last = k == len(sides) - 1
        x = node.emit(
            op(x, node.importer.value(name, node), node.out_type() if last else None),
            None if last else f"{out}.{suffix}.out",
        )
    return x


def build_bernoulli(node: _Node) -> SSAValue:
    """Bernoulli: 1.0 with the input's probability, else 0.0, from the POOL engine's
    generators; `seed` (a float in ONNX) truncated to an integer, by default the
    node's index. float32 outputs only."""
    dtype = node.attr("dtype", None)
    if dtype is not None and int(dtype) != 1:  # TensorProto.FLOAT
        node.unsupported("dtype", int(dtype))
    seed = _seed(node)
    return node.emit(BernoulliOp(node.input(0), seed, node.out_type()))


# A Loop body's condition: compare op -> (graph.loop cmp, the cmp with sides swapped).
_LOOP_COMPARES = {
    "Less": ("lt", "gt"), "LessOrEqual": ("le", "ge"),
    "Greater": ("gt", "lt"), "GreaterOrEqual": ("ge", "le"),
}
_LOOP_REDUCES = {"ReduceMax": "max", "ReduceSum": "add", "ReduceMean": "mean"}


MAX_LOOP_TRIPS = 4096
"""The largest maximum trip count a Loop runs on the accelerator with: its program
holds that many copies of the body (targets/loop_program.py; 100,000 trips of a
3x4 body made a 1.5 GB binary in a minute). Past it the framework tier runs it."""


def build_loop(node: _Node) -> SSAValue:
    """ONNX Loop with a static maximum trip count, one loop-carried float tensor, no
    scan outputs, and a body whose condition is `Less|LessOrEqual|Greater|
    GreaterOrEqual(ReduceMax|ReduceSum|ReduceMean([Abs](x)), constant)` (either side)
    over all elements, x the new v or new v - old v: `graph.loop` of a body function
    made from the body's other nodes (docs/early-exit.md)."""
    proto = node.proto
    if len(proto.input) != 3 or len(proto.output) != 1:
        node.fail("only a Loop with one loop-carried tensor and no scan outputs is supported")
    trips = node.const_input(0).reshape(-1)
    if trips.size != 1 or int(trips[0]) < 1:
        node.fail("the maximum trip count M must be a constant of at least 1")
    if int(trips[0]) > MAX_LOOP_TRIPS:
        node.fail(
            f"a maximum trip count of {int(trips[0])} unrolls to as many copies of the body; "
            f"at most {MAX_LOOP_TRIPS}"
        )
    if proto.input[1] and not bool(node.const_input(1).reshape(-1)[0]):
        node.fail("the initial condition must be a constant true")
    body = node.attr("body", None)
    if body is None or len(body.input) != 3 or len(body.output) != 2:
        node.fail("the body must take (iteration, condition, v) and give (condition, v)")
    _, cond_in, v_in = (i.name for i in body.input)
    cond_out, v_out = (o.name for o in body.output)
    made = {o: n for n in body.node for o in n.output}
    consts = {t.name: numpy_helper.to_array(t) for t in body.initializer}
    for n in body.node:
        if n.op_type == "Constant" and n.attribute:
            consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)

    def scalar(name: str) -> float | None:
        value = consts.get(name, node.importer.consts.get(name))
        return float(np.asarray(value).reshape(-1)[0]) if value is not None and np.size(value) == 1 else None

    compare = made.get(cond_out)
    if compare is None or compare.op_type not in _LOOP_COMPARES:
        node.fail("the body's condition must be Less, LessOrEqual, Greater or GreaterOrEqual")
    lhs, rhs = compare.input
    cmp, swapped = _LOOP_COMPARES[compare.op_type]
    if scalar(rhs) is not None:
        reduced, threshold = lhs, scalar(rhs)
    elif scalar(lhs) is not None:
        reduced, threshold, cmp = rhs, scalar(lhs), swapped
    else:
        node.fail("the body's condition must compare a reduction with a constant")
    reduce_node = made.get(reduced)
    if reduce_node is None or reduce_node.op_type not in _LOOP_REDUCES:
        node.fail("the body's condition must reduce with ReduceMax, ReduceSum or ReduceMean")
    if len(reduce_node.input) > 1 or any(a.name == "axes" for a in reduce_node.attribute):
        node.fail("the condition's reduction must be over all elements (no axes)")
    used = [compare, reduce_node]
    x = reduce_node.input[0]
    absolute = x in made and made[x].op_type == "Abs"
    if absolute:
        used.append(made[x])
        x = made[x].input[0]
    if x == v_out:
        form = "abs_a" if absolute else "a"
    elif x in made and made[x].op_type == "Sub" and (
        list(made[x].input) == [v_out, v_in] or (absolute and list(made[x].input) == [v_in, v_out])
    ):
        used.append(made[x])
        form = "abs_a_minus_b" if absolute else "a_minus_b"
    else:
        node.fail("the condition must reduce the new v, or the new v minus the old one")
    rest = [n for n in body.node if n not in used and not (n.op_type == "Constant" and n.output[0] in (rhs, lhs))]
    needed = {i for n in rest for i in n.input} | {v_out}
    if cond_in in needed or body.input[0].name in needed:
        node.fail("the body's v may not depend on the iteration number or the condition")
    outer = [
        numpy_helper.from_array(node.importer.consts[name], name)
        for name in sorted(needed) if name in node.importer.consts and name not in consts
    ]
    v_type = node.importer.types.get(proto.input[2])
    if v_type is None:
        node.fail("the loop-carried tensor has no known type")
    step = onnx.helper.make_model(
        onnx.helper.make_graph(
            rest, f"{node.label}_body",
            [onnx.helper.make_value_info(v_in, v_type)],
            [onnx.helper.make_value_info(v_out, v_type)],
            [*[t for t in body.initializer if t.name in needed], *outer],
        ),
        opset_imports=[onnx.helper.make_opsetid("", node.importer.opset)],
    )
    try:
        step_module = import_onnx(step)
    except OnnxImportError as e:
        node.fail(f"its body: {e}")
    (step_fn,) = [op for op in step_module.body.block.ops if isinstance(op, FuncOp)]
    name = f"loop_body_{node.index}"
    step_fn.sym_name = StringAttr(name)
    step_fn.detach()
    node.importer.extra_funcs.append(step_fn)
    reduce = _LOOP_REDUCES[reduce_node.op_type]
    return node.emit(
        LoopOp(node.input(2), name, int(trips[0]), reduce, form, cmp, float(threshold), node.out_type())
    )


def build_batchnorm(node: _Node) -> SSAValue:
    for i in range(1, 5):
        node.reject_used_output(i)
    if (mode := int(node.attr("training_mode", 0))) != 0:
        node.unsupported("training_mode", mode)
    stats = [o for o in node.proto.output[1:] if o]
    if stats and node.importer.opset < 14 and not int(node.attr("is_test", 0)):
        # Before opset 14 the outputs after Y are what selects training mode
        # (BatchNormalization-9: "Output case #1: Y, mean, var, saved_mean,
        # saved_var (training mode)"), in which Y is normalised with the batch's
        # own mean and variance, as onnxruntime does, not the running ones.
        node.fail(
            f"training mode (outputs {', '.join(repr(o) for o in stats)} after Y, opset "
            f"{node.importer.opset}) is not supported: Tidal normalises with the running "
            "mean and variance only"
        )
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


def build_avgpool(node: _Node) -> SSAValue:
    count_include_pad = bool(node.attr("count_include_pad", 0))
    return _build_pool(
        node, partial(AvgPoolOp, count_include_pad=count_include_pad), ("ceil_mode",)
    )


def _global_planes(node: _Node) -> tuple[SSAValue, tuple[int, ...] | None]:
    """A global pooling's input as NCHW: itself when 2-D; [N, C, 1, L] when 1-D or 3-D
    (L the spatial elements: a view), with the result shape it is viewed back to
    ([N, C, 1] or [N, C, 1, 1, 1]), else None."""
    shape = node.input_shape(0)
    if len(shape) == 4:
        return node.input(0), None
    if len(shape) < 3:
        _check_2d(node, shape)
    planes = (*shape[:2], 1, prod(shape[2:]))
    return node.emit(ReshapeOp(node.input(0), planes), f"{node.proto.output[0]}.planes"), (*shape[:2], *[1] * (len(shape) - 2))


def build_global_maxpool(node: _Node) -> SSAValue:
    """GlobalMaxPool: a max pooling whose window is the whole plane (1-D and 3-D
    inputs as one row of their spatial elements)."""
    x, final = _global_planes(node)
    shape = x.type.get_shape()  # type: ignore[attr-defined]
    pooled = MaxPoolOp(x, kernel_shape=shape[2:], strides=(1, 1), pads=(0, 0, 0, 0),
                       result_type=node.out_type() if final is None else None)
    if final is None:
        return node.emit(pooled)
    return node.emit(ReshapeOp(node.emit(pooled, f"{node.proto.output[0]}.max"), final))


def build_global_avgpool(node: _Node) -> SSAValue:
    """GlobalAveragePool: the mean over the plane (1-D and 3-D inputs as one row of
    their spatial elements)."""
    x, final = _global_planes(node)
    if final is None:
        return node.emit(GlobalAvgPoolOp(x, node.out_type()))
    mean = node.emit(GlobalAvgPoolOp(x), f"{node.proto.output[0]}.mean")
    return node.emit(ReshapeOp(mean, final))


def _axis(node: _Node, axis: int, rank: int) -> int:
    if not -rank <= axis < rank:
        node.fail(f"axis {axis} is out of range for rank {rank}")
    return axis + rank if axis < 0 else axis


def build_concat(node: _Node) -> SSAValue:
    """Zero-size constant operands add nothing to a concatenation: they are left
    out (a zero-size tensor is refused anywhere else)."""
    consts = node.importer.consts
    indices = [
        i
        for i in range(len(node.proto.input))
        if node.has_input(i)
        and not (node.proto.input[i] in consts and consts[node.proto.input[i]].size == 0)
    ]
    if not indices:
        node.fail("every input is a zero-size tensor (zero-size tensors are not supported)")
    axis = _axis(node, int(node.attr("axis", 1)), len(node.input_shape(indices[0])))
    inputs = [node.input(i) for i in indices]
    return node.emit(ConcatOp(inputs, axis, node.out_type()))


# ------------------------------------------------------------ slices and copies


def _window(node: _Node, x: SSAValue, starts, ends, steps, hint: str | None = None, out=None) -> SSAValue:
    """graph.slice of `x`, or `x` itself when the window is all of it."""
    shape = x.type.get_shape()  # type: ignore[attr-defined]
    if list(starts) == [0] * len(shape) and list(ends) == list(shape) and set(steps) <= {1}:
        return x
    return node.emit(SliceOp(x, starts, ends, steps, out), hint)


def build_slice(node: _Node) -> SSAValue:
    """Constant starts, ends, axes and positive steps (attributes before opset 10):
    graph.slice with ONNX's clamping; a negative step or an empty result is not
    imported."""
    shape = node.input_shape(0)
    rank = len(shape)
    if node.importer.opset >= 10:
        starts = [int(v) for v in node.const_input(1).reshape(-1)]
        ends = [int(v) for v in node.const_input(2).reshape(-1)]
        axes = [int(v) for v in node.const_input(3).reshape(-1)] if node.has_input(3) else list(range(len(starts)))
        steps = [int(v) for v in node.const_input(4).reshape(-1)] if node.has_input(4) else [1] * len(starts)
    else:
        starts, ends = list(node.ints("starts", ())), list(node.ints("ends", ()))
        axes = list(node.ints("axes", tuple(range(len(starts)))))
        steps = [1] * len(starts)
    lo, hi, st = [0] * rank, list(shape), [1] * rank
    for a, b, axis, step in zip(starts, ends, axes, steps, strict=True):
        axis = axis + rank if axis < 0 else axis
        size = shape[axis]
        if step < 1:
            node.fail(f"unsupported step {step} (only positive steps)")
        a = max(0, min(size, a + size if a < 0 else a))
        b = max(0, min(size, b + size if b < 0 else b))
        if b <= a:
            node.fail(f"an empty slice of axis {axis} (zero-size tensors are not supported)")
        lo[axis], hi[axis], st[axis] = a, b, step
    return _window(node, node.input(0), lo, hi, st, out=node.out_type())


def build_split(node: _Node) -> SSAValue:
    """One graph.slice per output, along `axis`: sizes from `split` (an attribute
    before opset 13, an input from 13), else equal parts (opset 18's num_outputs:
    the last part smaller)."""
    shape = node.input_shape(0)
    axis = _axis(node, int(node.attr("axis", 0)), len(shape))
    outputs = list(node.proto.output)
    if node.importer.opset >= 13:
        sizes = [int(v) for v in node.const_input(1).reshape(-1)] if node.has_input(1) else None
    else:
        sizes = list(node.ints("split", ())) or None
    if sizes is None:
        parts = len(outputs)
        each = -(-shape[axis] // parts)
        sizes = [min(each, shape[axis] - i * each) for i in range(parts)]
    if len(sizes) != len(outputs) or sum(sizes) != shape[axis] or min(sizes) < 1:
        node.fail(f"split sizes {sizes} do not cut dim {shape[axis]} into {len(outputs)} parts")
    x = node.input(0)
    first = None
    start = 0
    for name, size in zip(outputs, sizes, strict=True):
        lo, hi = [0] * len(shape), list(shape)
        lo[axis], hi[axis] = start, start + size
        value = _window(node, x, lo, hi, [1] * len(shape), name)
        if name:
            node.importer.values[name] = value
        first = value if first is None else first
        start += size
    assert first is not None
    return first


MAX_CONCAT_PIECES = 256
"""Pad (edge, reflect) and Tile join one slice or copy per padded element or repeat
(graph.concat); past this many on an axis the node runs on the framework tier
instead (each piece is an op of its own, and 10,000 of them take minutes to
lower)."""


def build_pad(node: _Node) -> SSAValue:
    """Pad: constant (a constant block), edge (the border slice repeated) and reflect
    (single slices mirrored) along each padded axis, joined by graph.concat; a
    negative pad crops (a slice). Pads, value and axes constant (attributes before
    opset 11)."""
    shape = node.input_shape(0)
    rank = len(shape)
    mode = node.attr("mode", "constant")
    if mode not in ("constant", "edge", "reflect"):
        node.unsupported("mode", mode)
    if node.importer.opset >= 11:
        pads = [int(v) for v in node.const_input(1).reshape(-1)]
        value = float(node.const_input(2).reshape(-1)[0]) if node.has_input(2) else 0.0
        axes = [int(v) for v in node.const_input(3).reshape(-1)] if node.has_input(3) else list(range(rank))
    else:
        pads, value, axes = list(node.ints("pads", ())), float(node.attr("value", 0.0)), list(range(rank))
    axes = [a + rank if a < 0 else a for a in axes]
    if len(pads) != 2 * len(axes):
        node.fail(f"{len(pads)} pads for {len(axes)} axes")
    x = node.input(0)
    out = node.proto.output[0]
    for i, axis in enumerate(axes):
        before, after = pads[i], pads[i + len(axes)]
        cur = list(x.type.get_shape())  # type: ignore[attr-defined]
        if before < 0 or after < 0:  # crop first
            lo, hi = [0] * rank, list(cur)
            lo[axis], hi[axis] = max(0, -before), cur[axis] - max(0, -after)
            if hi[axis] <= lo[axis]:
                node.fail("the pads crop the input to nothing")
            x = _window(node, x, lo, hi, [1] * rank, f"{out}.crop{axis}")
            cur = list(x.type.get_shape())  # type: ignore[attr-defined]
            before, after = max(0, before), max(0, after)
        if before == after == 0:
            continue
        if mode == "reflect" and max(before, after) >= cur[axis]:
            node.fail(f"reflect pads {before}, {after} need more than {cur[axis]} elements")
        if mode != "constant" and before + after > MAX_CONCAT_PIECES:
            node.fail(
                f"{mode} pads {before}, {after} on axis {axis} take one slice per padded "
                f"element, more than {MAX_CONCAT_PIECES}"
            )

        def piece(index: int) -> SSAValue:
            lo, hi = [0] * rank, list(cur)
            lo[axis], hi[axis] = index, index + 1
            return _window(node, x, lo, hi, [1] * rank, f"{out}.{axis}.{index}")

        def block(count: int) -> SSAValue:
            dims = list(cur)
            dims[axis] = count
            name = f"{out}.fill{axis}.{count}"
            if (why := node.importer.dram.too_big(prod(dims) * 4, f"pad fill {dims}")) is not None:
                node.fail(why, _TooBig)
            node.importer.consts[name] = np.full(dims, value, np.float32)
            node.importer.const_origin[name] = node.label
            return node.importer.value(name, node)

        if mode == "constant":
            head = [block(before)] if before else []
            tail = [block(after)] if after else []
        elif mode == "edge":
            head, tail = [piece(0)] * before, [piece(cur[axis] - 1)] * after
        else:
            head = [piece(j) for j in range(before, 0, -1)]
            tail = [piece(cur[axis] - 2 - j) for j in range(after)]
        last = i == len(axes) - 1 or all(
            pads[j] == pads[j + len(axes)] == 0 for j in range(i + 1, len(axes))
        )
        x = node.emit(ConcatOp([*head, x, *tail], axis, node.out_type() if last else None),
                      None if last else f"{out}.pad{axis}")
    return x


def build_tile(node: _Node) -> SSAValue:
    """Constant repeats: the input concatenated with itself along each axis."""
    repeats = [int(v) for v in node.const_input(1).reshape(-1)]
    x = node.input(0)
    if len(repeats) != len(node.input_shape(0)) or min(repeats) < 1:
        node.fail(f"repeats {repeats} do not fit rank {len(node.input_shape(0))}")
    if max(repeats) > MAX_CONCAT_PIECES:
        node.fail(
            f"repeats {repeats} take one copy of the input per repeat, more than "
            f"{MAX_CONCAT_PIECES} on an axis"
        )
    axes = [a for a, r in enumerate(repeats) if r > 1]
    for k, axis in enumerate(axes):
        last = k == len(axes) - 1
        x = node.emit(
            ConcatOp([x] * repeats[axis], axis, node.out_type() if last else None),
            None if last else f"{node.proto.output[0]}.tile{axis}",
        )
    return x


def build_transpose(node: _Node) -> SSAValue:
    rank = len(node.input_shape(0))
    perm = node.ints("perm", tuple(range(rank - 1, -1, -1)))
    return node.emit(TransposeOp(node.input(0), perm, node.out_type()))


def build_depth_to_space(node: _Node) -> SSAValue:
    """DepthToSpace and SpaceToDepth of [N, C, H, W] by `blocksize` b: the reshape,
    transpose and reshape that the ONNX definition gives (its mode DCR or CRD):
    views around one graph.transpose."""
    shape = node.input_shape(0)
    if len(shape) != 4:
        node.fail(f"a rank-{len(shape)} input (only [N, C, H, W])")
    n, c, h, w = shape
    b = int(node.attr("blocksize", 0))
    out = node.proto.output[0]
    mode = node.attr("mode", "DCR")
    if mode not in ("DCR", "CRD"):
        node.unsupported("mode", mode)
    if node.proto.op_type == "SpaceToDepth":
        if b < 1 or h % b or w % b:
            node.fail(f"blocksize {b} does not divide H {h} and W {w}")
        split: tuple[int, ...] = (n, c, h // b, b, w // b, b)
        # DCR: channel (bh * b + bw) * C + c; CRD (a mode since opset 28): c * b * b + bh * b + bw
        perm: tuple[int, ...] = (0, 3, 5, 1, 2, 4) if mode == "DCR" else (0, 1, 3, 5, 2, 4)
        final = (n, c * b * b, h // b, w // b)
    else:
        if b < 1 or c % (b * b):
            node.fail(f"blocksize {b}: b * b does not divide C {c}")
        if mode == "DCR":
            split, perm = (n, b, b, c // (b * b), h, w), (0, 3, 4, 1, 5, 2)
        else:
            split, perm = (n, c // (b * b), b, b, h, w), (0, 1, 4, 2, 5, 3)
        final = (n, c // (b * b), h * b, w * b)
    blocks = node.emit(ReshapeOp(node.input(0), split), f"{out}.blocks")
    moved = node.emit(TransposeOp(blocks, perm), f"{out}.moved")
    return node.emit(ReshapeOp(moved, final))


RESIZE_MATRIX_MAX = 1 << 22
"""The most elements of one axis's interpolation matrix (16 MB of constant) a
linear or cubic Resize is imported with."""


def build_resize(node: _Node) -> SSAValue:
    """Resize (opset 10 on) and Upsample with constant scales or sizes, axis by axis
    (Resize is separable; `targets/onnx_resize.py` computes each axis's map as
    onnxruntime does). A nearest axis is a copy pattern: each index repeated k
    times is the input joined k times along a new axis after it (graph.concat,
    a view either side), a stride a strided graph.slice, other index maps at most
    64 runs of consecutive indices sliced and joined. A linear or cubic axis is one
    matmul by its constant [in, out] weights, the axis moved last and back by
    transposes. Refused (the framework tier runs it): tf_crop_and_resize,
    antialiasing a shrinking axis, keep_aspect_ratio_policy other than stretch,
    and maps whose rounding or length onnxruntime and ONNX disagree on."""
    from tidal.targets.onnx_resize import ResizeError, axis_map, axis_nearest

    shape = node.input_shape(0)
    rank = len(shape)
    opset = node.importer.opset
    op_type = node.proto.op_type
    mode = node.attr("mode", "nearest")
    if op_type == "Upsample" or opset < 11:  # Upsample's and Resize-10's semantics
        transform, nearest_mode = "asymmetric", "simple"
        if node.has_input(1):
            scales = [float(v) for v in node.const_input(1).reshape(-1)]
        else:
            scales = [float(v) for v in node.attr("scales", [])]
        if len(scales) != rank:
            node.fail(f"{len(scales)} scales for a rank-{rank} input")
        axes = list(range(rank))
        sizes = None
    else:
        transform = node.attr("coordinate_transformation_mode", "half_pixel")
        nearest_mode = node.attr("nearest_mode", "round_prefer_floor")
        if transform == "tf_crop_and_resize":
            node.unsupported("coordinate_transformation_mode", transform)
        policy = node.attr("keep_aspect_ratio_policy", "stretch")
        if policy != "stretch":
            node.unsupported("keep_aspect_ratio_policy", policy)
        axes = [int(a) + rank if int(a) < 0 else int(a) for a in node.ints("axes", range(rank))]
        if sorted(set(axes)) != sorted(axes) or any(not 0 <= a < rank for a in axes):
            node.fail(f"axes {list(node.ints('axes', ()))} of a rank-{rank} input")
        scales_in = node.const_input(2).reshape(-1) if node.has_input(2) else np.zeros(0)
        sizes_in = node.const_input(3).reshape(-1) if node.has_input(3) else np.zeros(0)
        if scales_in.size and sizes_in.size:
            node.fail("both scales and sizes are given")
        if sizes_in.size:
            if sizes_in.size != len(axes):
                node.fail(f"{sizes_in.size} sizes for {len(axes)} axes")
            sizes = [int(v) for v in sizes_in]
            if any(o < 1 for o in sizes):
                node.fail(f"sizes {sizes} (each at least 1)")
            scales = [float(np.float32(o) / np.float32(shape[a])) for o, a in zip(sizes, axes)]
        elif scales_in.size == len(axes):
            scales, sizes = [float(v) for v in scales_in], None
        else:
            node.fail(f"{scales_in.size} scales for {len(axes)} axes (and no sizes)")
    if not all(math.isfinite(sc) and sc > 0 for sc in scales):
        node.fail(f"scales {scales} (each positive and finite)")
    if sizes is None:  # onnxruntime: the float32 product, truncated
        sizes = [int(_resized_length(sc, shape[a])) for sc, a in zip(scales, axes)]
    final = list(shape)
    for a, o in zip(axes, sizes):
        final[a] = o
    known = node.out_type()
    if known is not None and list(known.get_shape()) != final:
        node.fail(f"output shape {list(known.get_shape())}, where the scales give {final}")
    if any(o < 1 for o in final):
        node.fail(f"an empty output {final}")
    node.check_size(final, "result")
    x = node.input(0)
    out = node.proto.output[0]
    if tuple(final) == tuple(shape):  # onnxruntime copies the input whatever the scales
        return node.emit(ReshapeOp(x, tuple(final)))
    # The last axis first: its matmul needs no transpose.
    for a, scale, o in sorted(zip(axes, scales, sizes), key=lambda t: -t[0]):
        n_in = x.type.get_shape()[a]  # type: ignore[attr-defined]
        if scale == 1.0 and o == n_in:  # onnxruntime leaves such an axis as it is (and,
            # when no axis changes length, the whole input, whatever the scales)
            continue
        if mode != "nearest" and n_in * o > RESIZE_MATRIX_MAX:
            node.fail(f"a {n_in} -> {o} {mode} axis ({n_in * o} weights; at most {RESIZE_MATRIX_MAX})")
        try:
            if mode == "nearest":
                index = axis_nearest(
                    transform=transform, nearest_mode=nearest_mode, in_len=n_in, out_len=o, scale=scale
                )
            else:
                w = axis_map(
                    mode=mode, transform=transform, in_len=n_in, out_len=o, scale=scale,
                    cubic_coeff_a=float(node.attr("cubic_coeff_a", -0.75)),
                    exclude_outside=bool(node.attr("exclude_outside", 0)),
                    antialias=bool(node.attr("antialias", 0)),
                )
        except ResizeError as e:
            node.fail(str(e))
        hint = f"{out}.axis{a}"
        if mode == "nearest":
            if not np.array_equal(index, np.arange(n_in)):
                x = _pick_along(node, x, a, index, hint)
        elif not (w.shape[0] == w.shape[1] and np.array_equal(w, np.eye(n_in))):
            x = _matmul_along(node, x, a, w, hint)
    if tuple(x.type.get_shape()) != tuple(final):  # type: ignore[attr-defined]
        node.fail(f"lowered to {list(x.type.get_shape())}, not {final}")  # type: ignore[attr-defined]
    return node.emit(ReshapeOp(x, tuple(final)))


def _pick_along(node: _Node, x: SSAValue, axis: int, index: np.ndarray, hint: str) -> SSAValue:
    """x's elements along `axis` at `index` (a nearest resize's copies): a repeat as
    k copies joined along a new axis, a stride as a strided slice, else at most 64
    runs of consecutive indices sliced and joined."""
    shape = list(x.type.get_shape())  # type: ignore[attr-defined]
    n, o = shape[axis], len(index)
    rank = len(shape)
    if o % n == 0 and np.array_equal(index, np.repeat(np.arange(n), o // n)):
        k = o // n
        single = node.emit(ReshapeOp(x, (*shape[: axis + 1], 1, *shape[axis + 1 :])), f"{hint}.single")
        joined = node.emit(ConcatOp([single] * k, axis + 1), f"{hint}.copies")
        return node.emit(ReshapeOp(joined, (*shape[:axis], o, *shape[axis + 1 :])), hint)
    step = int(index[1] - index[0]) if o > 1 else 1
    if step >= 1 and np.array_equal(index, index[0] + step * np.arange(o)):
        lo, hi, steps = [0] * rank, list(shape), [1] * rank
        lo[axis], hi[axis], steps[axis] = int(index[0]), int(index[-1]) + 1, step
        return _window(node, x, lo, hi, steps, hint)
    return _runs_along(node, x, axis, [int(v) for v in index], hint, hint)


def _runs_along(node: _Node, x: SSAValue, axis: int, index: Sequence[int], hint: str, joined: str) -> SSAValue:
    """x's elements along `axis` at `index` (in range): each run of consecutive
    indices a graph.slice, the runs joined by graph.concat; at most 64 runs."""
    runs: list[list[int]] = []
    for i in index:
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    if len(runs) > 64:
        node.fail(f"{len(runs)} separate index runs (at most 64 are imported as slices)")
    shape = list(x.type.get_shape())  # type: ignore[attr-defined]
    pieces = []
    for k, run in enumerate(runs):
        lo, hi = [0] * len(shape), list(shape)
        lo[axis], hi[axis] = run[0], run[-1] + 1
        pieces.append(_window(node, x, lo, hi, [1] * len(shape), f"{hint}.run{k}"))
    return pieces[0] if len(pieces) == 1 else node.emit(ConcatOp(pieces, axis), joined)


def _matmul_along(node: _Node, x: SSAValue, axis: int, w: np.ndarray, hint: str) -> SSAValue:
    """out = w @ x along `axis` (w [out, in]): the axis moved last (a transpose,
    unless it is), the rest as rows, one product with the constant w^T, and back."""
    shape = list(x.type.get_shape())  # type: ignore[attr-defined]
    rank = len(shape)
    perm = [d for d in range(rank) if d != axis] + [axis]
    moved = x if axis == rank - 1 else node.emit(TransposeOp(x, tuple(perm)), f"{hint}.moved")
    moved_shape = [shape[d] for d in perm]
    name = f"{hint}.weights"
    node.importer.consts[name] = np.ascontiguousarray(w.T, dtype=np.float32)
    node.importer.const_origin[name] = node.label
    rows = node.emit(ReshapeOp(moved, (prod(moved_shape[:-1]), shape[axis])), f"{hint}.rows")
    product = node.emit(MatMulOp(rows, node.importer.value(name, node)), f"{hint}.product")
    moved_shape[-1] = w.shape[0]
    y = node.emit(ReshapeOp(product, tuple(moved_shape)), f"{hint}.resized")
    if axis == rank - 1:
        return y
    back = [perm.index(d) for d in range(rank)]
    return node.emit(TransposeOp(y, tuple(back)), hint)


def build_lrn(node: _Node) -> SSAValue:
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


def build_sum(node: _Node) -> SSAValue:
    """Sum, and Mean as the sum times 1/n (ACT)."""
    inputs = [node.input(i) for i in range(len(node.proto.input)) if node.has_input(i)]
    if not inputs:
        node.fail("missing input #0")
    if node.proto.op_type == "Sum":
        return node.emit(SumOp(inputs, node.out_type()))
    total = node.emit(SumOp(inputs), f"{node.proto.output[0]}.sum")
    return _affine(node, total, 1.0 / len(inputs), 0.0)


def build_expand(node: _Node) -> SSAValue:
    """Expand of a float tensor to a constant shape: x + zeros of the result's shape
    (Add's NumPy broadcasting; the zeros a splat constant_of_shape)."""
    shape = node.const_input(1)  # the shape must be constant (refused otherwise, named)
    x = node.input(0)
    out_type = node.out_type()
    if out_type is None:  # ONNX left it dynamic (a shape through an Identity): broadcast
        assert isinstance(x.type, TensorType)
        try:
            dims = np.broadcast_shapes(tuple(x.type.get_shape()), tuple(int(d) for d in shape.reshape(-1)))
        except ValueError:
            node.fail(
                f"shape {[int(d) for d in shape.reshape(-1)]} does not broadcast "
                f"with the input's {list(x.type.get_shape())}"
            )
        out_type = TensorType(x.type.element_type, dims)
    zeros = node.emit(ConstantOfShapeOp(tuple(out_type.get_shape()), 0.0), f"{node.proto.output[0]}.zeros")
    return node.emit(AddOp(x, zeros, out_type))


def _unsqueeze_axes(node: _Node, in_rank: int) -> tuple[int, ...]:
    if node.importer.opset >= 13:
        axes = tuple(int(a) for a in node.const_input(1).reshape(-1))
    else:
        axes = node.ints("axes", ())
    rank = in_rank + len(axes)
    return tuple(sorted(a + rank if a < 0 else a for a in axes))


def build_unsqueeze(node: _Node) -> SSAValue | None:
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


def build_constant_of_shape(node: _Node) -> SSAValue | None:
    """A float fill is `graph.constant_of_shape` (canonicalisation folds it to a splat
    constant); any other element type is folded here as shape data."""
    given = node.const_input(0)
    if given.ndim != 1:  # (onnxruntime's kernel refuses it: "Must have a valid input shape")
        node.fail(f"the shape input must be a 1-D tensor, not one of rank {given.ndim}")
    shape = tuple(int(d) for d in given)
    if any(d < 1 for d in shape):
        node.fail(f"unsupported shape {list(shape)} (every dim must be positive)")
    fill = np.zeros(1, np.float32)
    for a in node.proto.attribute:
        if a.name == "value":
            fill = numpy_helper.to_array(a.t).reshape(-1)
    if fill.size != 1:
        node.fail(f"value must hold one element, not {fill.size}")
    what = f"constant of shape {list(shape)} ({fill.dtype})"
    if (why := node.importer.dram.take(prod(shape) * fill.itemsize, what)) is not None:
        node.fail(why, _TooBig)  # sized before it is made: np.full could take gigabytes
    if fill.dtype != np.float32:
        node.importer.consts[node.proto.output[0]] = np.full(shape, fill[0], fill.dtype)
        node.importer.const_origin[node.proto.output[0]] = node.label
        return None
    return node.emit(ConstantOfShapeOp(shape, float(fill[0])))




# -------------------------------------------------------------------------------- API


def _base_dir(model: onnx.ModelProto | str | os.PathLike[str], label: str) -> str:
    """Where the model's external data (its weights left in the file too) is."""
    return "" if isinstance(model, onnx.ModelProto) else os.path.dirname(label) or os.curdir


def data_files(path: str | os.PathLike[str]) -> list[str]:
    """The files other than `path` that importing the model at `path` reads: its
    external data files (paths as the model names them, joined to its directory).
    Cheap (the weights are not read); a model that cannot be read lists none, and
    the import reports why. Tools refuse to write over these, as over the model."""
    try:
        proto = load_model(path, load_external_data=False)
    except (OSError, DecodeError, ValueError, RuntimeError):
        return []
    base_dir = os.path.dirname(os.fspath(path)) or os.curdir
    found: dict[str, None] = {}
    for tensor in _all_tensors(proto.graph):
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            info = {e.key: e.value for e in tensor.external_data}
            location = info.get("location", "")
            # (one the import refuses, the import names with its tensor: not
            # listed, so that no earlier check names it alone)
            if _external_path(base_dir, location)[1] is None:
                found[os.path.join(base_dir, location)] = None
    model = os.path.realpath(path)
    return [f for f in found if os.path.realpath(f) != model]


def import_onnx(
    model: onnx.ModelProto | str | os.PathLike[str],
    *,
    overrides: Mapping[str, np.ndarray] | None = None,
    chip: ChipConfig | None = None,
    dims: Mapping[str, int] | None = None,
) -> ModuleOp:
    """Import an ONNX model (a ModelProto or a path to a .onnx file) into the graph
    dialect. Raises `OnnxImportError` with a one-line message.

    `overrides` maps names to values fed for them: those naming an initializer that
    is also a graph input (IR version 4 or later) replace it, as in onnxruntime;
    other names are left to the caller. Sizes are checked against `chip`'s DRAM, or
    the largest preset's when the chip is not known yet. A model exported with
    dynamic dimensions (dim_param: a batch "N", a "sequence_length") is compiled
    for fixed sizes: `dims` gives them by name, and the arrays in `overrides` that
    feed graph inputs give those of their inputs (`dims` first)."""
    dram = _Dram(chip)
    proto, label = _load(model, dram)
    with _located(label):
        importer = _prepared(model, proto, label, dram, overrides, dims)
    importer.override(overrides or {})  # (its errors are the values', not the model's)
    with _located(label):
        return importer.run()


@contextlib.contextmanager
def _located(label: str) -> Iterator[None]:
    """Errors a node or a tensor raises name it, not the model: each message leaving
    this block starts with the model's path (or graph name), as _load's do."""
    try:
        yield
    except OnnxImportError as e:
        message = str(e)
        if message.startswith(f"{label}: "):
            raise
        raise type(e)(f"{label}: {message}") from None


def _subgraph_reads(node: onnx.NodeProto) -> set[str]:
    """The names the subgraphs of `node` (If's branches, Loop's and Scan's bodies)
    read, at any depth: what it reads from the graph around it besides its inputs."""
    names: set[str] = set()
    for attr in node.attribute:
        for g in _attribute_graphs(attr):
            for inner in g.node:
                names.update(inner.input)
                names |= _subgraph_reads(inner)
    return names


def _toposorted(graph: onnx.GraphProto) -> list[int] | None:
    """The indices of `graph`'s nodes in a topological order that keeps theirs where
    it can (a ready node of lower index first), or None when they already are in one
    or no order exists (a cycle, a name nothing produces: the checker says which)."""
    nodes = list(graph.node)
    producer: dict[str, int] = {}
    for i, n in enumerate(nodes):
        for o in n.output:
            if o:
                producer.setdefault(o, i)
    deps = [
        {producer[x] for x in (*n.input, *_subgraph_reads(n)) if x in producer} - {i}
        for i, n in enumerate(nodes)
    ]
    if all(d < i for i, ds in enumerate(deps) for d in ds):
        return None
    users: list[list[int]] = [[] for _ in nodes]
    for i, ds in enumerate(deps):
        for d in ds:
            users[d].append(i)
    waiting = [len(ds) for ds in deps]
    ready = [i for i, w in enumerate(waiting) if w == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for u in users[i]:
            waiting[u] -= 1
            if waiting[u] == 0:
                heapq.heappush(ready, u)
    return order if len(order) == len(nodes) else None


def _prepared(
    model: onnx.ModelProto | str | os.PathLike[str],
    proto: onnx.ModelProto,
    label: str,
    dram: _Dram,
    overrides: Mapping[str, np.ndarray] | None,
    dims: Mapping[str, int] | None,
) -> _Importer:
    """import_onnx's work once the model is loaded (`_load`), up to the importer
    that builds the module."""
    proto = _densified(_onnx_domain_named(proto), label, dram)
    functions = [f"{f.domain}.{f.name}" if f.domain else f.name for f in proto.functions]
    if functions:
        proto = _inline_functions(proto, label)
    _check_nodes(proto.graph, label)
    sizes = _bound_dims(proto, dims or {}, overrides or {}, label)
    if sizes or _unsized(proto, overrides or {}):
        if proto is model:  # the caller's: left as it was
            copy = onnx.ModelProto()
            copy.CopyFrom(proto)
            proto = copy
        _with_dims(proto, sizes)
        _with_fed_shapes(proto, overrides or {})
    order = _toposorted(proto.graph)
    if order is not None:  # a graph-surgery tool's output: onnxruntime sorts it too
        if proto is model:  # the caller's: left as it was
            copy = onnx.ModelProto()
            copy.CopyFrom(proto)
            proto = copy
        nodes = list(proto.graph.node)
        del proto.graph.node[:]
        proto.graph.node.extend(nodes[i] for i in order)
    if _only_other_domains(proto):
        if proto is model:  # the caller's: left as it was
            copy = onnx.ModelProto()
            copy.CopyFrom(proto)
            proto = copy
        proto.opset_import.append(onnx.helper.make_opsetid("", ONNX_DOMAIN_DEFAULT_OPSET))
    opset = _opset(proto, label)
    proto, ort_ops = _ort_onnx_ops(proto, opset)
    graph_model, initializers, notes = proto, list(proto.graph.initializer), []
    if ort_ops:
        notes.append(
            f"{', '.join(ort_ops)} in the ONNX domain at opset {opset}: onnxruntime's own "
            "(as its transformers optimizer writes them), read as onnxruntime reads them"
        )
    if functions:
        notes.append(f"local functions inlined: {', '.join(functions)}")
    fallback_all = None
    if opset < MIN_OPSET:
        try:
            graph_model, initializers = _upgrade(proto, opset, label)
        except OnnxImportError as e:  # onnxruntime runs the model in its own opset
            fallback_all = str(e).removeprefix(f"{label}: ")
            notes.append(f"{fallback_all}: every node runs on the framework tier")
        else:
            notes.append(
                f"opset {opset} upgraded to opset {MIN_OPSET} by onnx's version converter"
            )
            opset = MIN_OPSET
    inferred = _check_and_infer(graph_model, label)
    if not inferred.graph.output:
        raise OnnxImportError(f"{label}: the graph has no outputs (nothing to compute)")
    if fallback_all is None:
        inferred, folded, held = _prefold(inferred, label, dram, fed=set(overrides or ()))
        initializers += folded
    else:
        held = {}
    importer = _Importer(
        inferred,
        opset,
        initializers,
        dram=dram,
        declared_inputs=[i.name for i in proto.graph.input],
        ir_version=proto.ir_version,
        notes=notes,
        base_dir=_base_dir(model, label),
        values=held,
    )
    importer.fallback_all = fallback_all
    return importer


def _strings(module: ModuleOp, attr: str) -> list[str]:
    value = module.attributes.get(attr)
    if not isinstance(value, ArrayAttr):
        return []
    return [s.data for s in value.data if isinstance(s, StringAttr)]


def import_notes(module: ModuleOp) -> list[str]:
    """What the importer did on its own to `module`'s model, one line each (an
    upgraded opset, a deduplicated output), for `tidal-compile --report`."""
    return _strings(module, NOTES_ATTR)


def constant_inputs(module: ModuleOp) -> list[str]:
    """The graph inputs compiled as constants: initializers that a feed may override
    (pass the fed values as `overrides`)."""
    return _strings(module, CONSTANT_INPUTS_ATTR)

"""The `graph` dialect: whole-tensor neural-network operators on static f32 tensors.

This is the level that ONNX import produces. Every op works on builtin ranked
tensors (`tensor<1x3x32x32xf32>`) with a static shape and f32 elements, has a single
result named `result`, and carries its parameters as properties whose names mirror
ONNX's attributes. Each verifier infers the result shape from the operands and
properties and rejects a result type that disagrees.

Each op's builder takes its operands, its parameters as plain Python values and an
optional `result_type`; when the result type is omitted it is inferred, by the rule
the verifier checks (`inferred_shape`). Each property `p` has a Python accessor
`p_val` returning plain Python values (ints, floats, bools, tuples of ints), which is
what passes should read.

Example:

    %w = graph.constant dense<...> : tensor<10x784xf32>
    %y = graph.gemm %x, %w {trans_b = 1 : i64} : (tensor<8x784xf32>, tensor<10x784xf32>) -> tensor<8x10xf32>
    %p = graph.softmax %y {axis = 1 : i64} : (tensor<8x10xf32>) -> tensor<8x10xf32>
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
import functools
import math
from math import prod
from typing import Any, ClassVar

import numpy as np
from xdsl.dialects.builtin import (
    ArrayAttr,
    BFloat16Type,
    Float4E2M1FNType,
    Float8E4M3FNType,
    Float8E4M3FNUZType,
    Float8E5M2FNUZType,
    Float8E5M2Type,
    Float8E8M0FNUType,
    BytesAttr,
    Float16Type,
    Float64Type,
    IntegerType,
    Signedness,
    UnrankedTensorType,
    DenseArrayBase as _DenseArrayBase,
    StringAttr,
    SymbolRefAttr,
    DenseArrayBase,
    DenseIntOrFPElementsAttr,
    Float32Type,
    FloatAttr,
    IntegerAttr,
    TensorType,
    f32,
    i32,
    i64,
)
from xdsl.ir import Attribute, Dialect, Operation, ParametrizedAttribute, SSAValue, TypeAttribute
from xdsl.irdl import (
    AnyAttr,
    AttrSizedOperandSegments,
    IRDLOperation,
    ParamAttrConstraint,
    ParsePropInAttrDict,
    VarConstraint,
    irdl_attr_definition,
    irdl_op_definition,
    operand_def,
    opt_operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.parser import Parser, UnresolvedOperand
from xdsl.printer import Printer
from xdsl.rewriter import Rewriter
from xdsl.traits import ConstantLike, Pure
from xdsl.utils.exceptions import VerifyException

Shape = tuple[int, ...]
F32Tensor = TensorType[Float32Type]
Value = SSAValue | Operation
"""What a builder takes as an operand: a value, or the op that defines it."""


# --------------------------------------------------------------------------- helpers


def _i64_array(values: Sequence[int]) -> DenseArrayBase:
    return DenseArrayBase.from_list(i64, [int(v) for v in values])


def _i64(value: int) -> IntegerAttr:
    return IntegerAttr(int(value), i64)


def _ints(attr: DenseArrayBase) -> tuple[int, ...]:
    return tuple(int(v) for v in attr.get_values())


def _scalar_value(name: str, kind: Callable[[Any], object]) -> property:
    """`op.<name>_val`: the integer or float property `name` as a Python `kind`."""
    return property(lambda op: kind(getattr(op, name).value.data))


def _array_value(name: str) -> property:
    """`op.<name>_val`: the i64 array property `name` as a tuple of ints."""
    return property(lambda op: _ints(getattr(op, name)))


def _fmt(shape: Sequence[int]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def _shape(value: SSAValue | Operation) -> Shape:
    """The static shape of a tensor value (builders call this before verification)."""
    ty = SSAValue.get(value).type
    if not isinstance(ty, TensorType):
        raise VerifyException(f"expected a tensor operand, got {ty}")
    return ty.get_shape()


def _f32_tensor(shape: Sequence[int]) -> F32Tensor:
    return TensorType(f32, shape)


def _check_f32_static(what: str, ty: Attribute) -> None:
    if not isinstance(ty, TensorType) or ty.get_element_type() != f32:
        raise VerifyException(f"{what} must be a tensor of f32, got {ty}")
    if any(d < 0 for d in ty.get_shape()):
        raise VerifyException(f"{what} must have a static shape, got {ty}")


def _check_len(name: str, values: Sequence[int], length: int) -> None:
    if len(values) != length:
        raise VerifyException(f"{name} must have {length} elements, got {len(values)}")


def _check_rank(what: str, shape: Shape, rank: int) -> None:
    if len(shape) != rank:
        raise VerifyException(f"{what} must have rank {rank}, got shape {_fmt(shape)}")


def _check_window(strides: Sequence[int], pads: Sequence[int]) -> None:
    _check_len("strides", strides, 2)
    _check_len("pads", pads, 4)
    if any(s < 1 for s in strides):
        raise VerifyException(f"strides must be positive, got {_fmt(strides)}")
    if any(p < 0 for p in pads):
        raise VerifyException(f"pads must be non-negative, got {_fmt(pads)}")


def _window_out(size: int, kernel: int, stride: int, pad: int) -> int:
    """Output extent of a sliding window (floor rounding, as ONNX ceil_mode=0)."""
    return (size + pad - kernel) // stride + 1


# ---------------------------------------------------------------- shape inference


def _broadcast_shape(lhs: Shape, rhs: Shape) -> Shape:
    """NumPy/ONNX multidirectional broadcasting."""
    rank = max(len(lhs), len(rhs))
    lhs_full = (1,) * (rank - len(lhs)) + lhs
    rhs_full = (1,) * (rank - len(rhs)) + rhs
    out: list[int] = []
    for a, b in zip(lhs_full, rhs_full, strict=False):
        if a != b and a != 1 and b != 1:
            raise VerifyException(
                f"operand shapes {_fmt(lhs)} and {_fmt(rhs)} are not broadcastable"
            )
        out.append(b if a == 1 else a)
    return tuple(out)


def _matmul_shape(lhs: Shape, rhs: Shape) -> Shape:
    if len(lhs) < 2 or len(lhs) != len(rhs):
        raise VerifyException(
            f"lhs and rhs must have one rank of at least 2, got {_fmt(lhs)} and {_fmt(rhs)}"
        )
    if lhs[:-2] != rhs[:-2]:
        raise VerifyException(f"batch dimensions differ: lhs {_fmt(lhs)}, rhs {_fmt(rhs)}")
    if lhs[-1] != rhs[-2]:
        raise VerifyException(
            f"contraction dimensions differ: lhs {_fmt(lhs)}, rhs {_fmt(rhs)}"
        )
    return (*lhs[:-1], rhs[-1])


def _gemm_shape(
    a: Shape, b: Shape, c: Shape | None, trans_a: bool, trans_b: bool
) -> Shape:
    _check_rank("a", a, 2)
    _check_rank("b", b, 2)
    m, k = (a[1], a[0]) if trans_a else a
    kb, n = (b[1], b[0]) if trans_b else b
    if k != kb:
        raise VerifyException(
            f"contraction dimensions differ: a {_fmt(a)} (trans_a={int(trans_a)}), "
            f"b {_fmt(b)} (trans_b={int(trans_b)})"
        )
    if c is not None and (
        len(c) > 2
        or any(d not in (1, full) for d, full in zip(c[::-1], (n, m), strict=False))
    ):
        raise VerifyException(
            f"c of shape {_fmt(c)} is not broadcastable to {_fmt((m, n))}"
        )
    return (m, n)


def _conv2d_shape(
    x: Shape,
    w: Shape,
    bias: Shape | None,
    strides: Sequence[int],
    pads: Sequence[int],
    dilations: Sequence[int],
    group: int,
) -> Shape:
    _check_rank("input", x, 4)
    _check_rank("weight", w, 4)
    _check_window(strides, pads)
    _check_len("dilations", dilations, 2)
    if any(d < 1 for d in dilations):
        raise VerifyException(f"dilations must be positive, got {_fmt(dilations)}")
    if group < 1 or x[1] % group or w[0] % group:
        raise VerifyException(
            f"group {group} must be positive and divide the input channels "
            f"({x[1]}) and output channels ({w[0]})"
        )
    if w[1] * group != x[1]:
        raise VerifyException(
            f"weight {_fmt(w)} expects {w[1] * group} input channels "
            f"(group {group}), input {_fmt(x)} has {x[1]}"
        )
    if bias is not None and bias != (w[0],):
        raise VerifyException(f"bias must have shape {_fmt((w[0],))}, got {_fmt(bias)}")
    spatial = tuple(
        _window_out(
            x[2 + i],
            dilations[i] * (w[2 + i] - 1) + 1,
            strides[i],
            pads[i] + pads[i + 2],
        )
        for i in range(2)
    )
    if any(d < 1 for d in spatial):
        raise VerifyException(
            f"the window does not fit: input {_fmt(x)}, weight {_fmt(w)}"
        )
    return (x[0], w[0], *spatial)


def _pool_shape(
    x: Shape, kernel: Sequence[int], strides: Sequence[int], pads: Sequence[int]
) -> Shape:
    _check_rank("input", x, 4)
    _check_len("kernel_shape", kernel, 2)
    _check_window(strides, pads)
    if any(k < 1 for k in kernel):
        raise VerifyException(f"kernel_shape must be positive, got {_fmt(kernel)}")
    if any(pads[i] >= kernel[i % 2] for i in range(4)):
        raise VerifyException(
            f"pads {_fmt(pads)} must be smaller than kernel_shape {_fmt(kernel)}"
        )
    spatial = tuple(
        _window_out(x[2 + i], kernel[i], strides[i], pads[i] + pads[i + 2])
        for i in range(2)
    )
    if any(d < 1 for d in spatial):
        raise VerifyException(
            f"the window does not fit: input {_fmt(x)}, kernel_shape {_fmt(kernel)}"
        )
    return (x[0], x[1], *spatial)


def _global_pool_shape(x: Shape) -> Shape:
    _check_rank("input", x, 4)
    return (x[0], x[1], 1, 1)


def _per_channel_shape(x: Shape, params: Sequence[tuple[str, Shape]]) -> Shape:
    if len(x) < 2:
        raise VerifyException(f"input must have rank 2 or more, got shape {_fmt(x)}")
    for name, shape in params:
        if shape != (x[1],):
            raise VerifyException(
                f"{name} must have shape {_fmt((x[1],))} (the channels of input "
                f"{_fmt(x)}), got {_fmt(shape)}"
            )
    return x


def _concat_shape(shapes: Sequence[Shape], axis: int) -> Shape:
    if not shapes:
        raise VerifyException("expected at least one operand")
    first = shapes[0]
    if not 0 <= axis < len(first):
        raise VerifyException(f"axis {axis} is out of range [0, {len(first) - 1}]")
    for shape in shapes[1:]:
        if len(shape) != len(first) or any(
            a != b for i, (a, b) in enumerate(zip(shape, first)) if i != axis
        ):
            raise VerifyException(
                f"operand shapes {_fmt(first)} and {_fmt(shape)} differ outside "
                f"axis {axis}"
            )
    return (*first[:axis], sum(s[axis] for s in shapes), *first[axis + 1 :])


def _transpose_shape(x: Shape, perm: Sequence[int]) -> Shape:
    if sorted(perm) != list(range(len(x))):
        raise VerifyException(
            f"perm {_fmt(perm)} is not a permutation of the {len(x)} dimensions "
            f"of {_fmt(x)}"
        )
    return tuple(x[p] for p in perm)


def _lrn_shape(x: Shape, size: int) -> Shape:
    _check_rank("input", x, 4)
    if size < 1:
        raise VerifyException(f"size must be positive, got {size}")
    return x


def _sum_shape(shapes: Sequence[Shape]) -> Shape:
    if not shapes:
        raise VerifyException("expected at least one operand")
    out = shapes[0]
    for shape in shapes[1:]:
        out = _broadcast_shape(out, shape)
    return out


def _unsqueeze_shape(x: Shape, axes: Sequence[int]) -> Shape:
    rank = len(x) + len(axes)
    if len(set(axes)) != len(axes) or any(not 0 <= a < rank for a in axes):
        raise VerifyException(
            f"axes {_fmt(axes)} must be distinct and in [0, {rank - 1}]"
        )
    rest = iter(x)
    return tuple(1 if i in axes else next(rest) for i in range(rank))


def _flatten_shape(x: Shape, axis: int) -> Shape:
    if not 0 <= axis <= len(x):
        raise VerifyException(f"axis {axis} is out of range [0, {len(x)}]")
    return (prod(x[:axis]), prod(x[axis:]))


def _softmax_shape(x: Shape, axis: int) -> Shape:
    if not 0 <= axis < len(x):
        raise VerifyException(f"axis {axis} is out of range [0, {len(x) - 1}]")
    return x


def _reshape_shape(x: Shape, new: Shape) -> Shape:
    if prod(x) != prod(new):
        raise VerifyException(
            f"cannot reshape {_fmt(x)} ({prod(x)} elements) to {_fmt(new)} "
            f"({prod(new)} elements)"
        )
    return new


# ----------------------------------------------------------------------------- ops


@irdl_op_definition
class ConstantOp(IRDLOperation):
    """A constant f32 tensor (weights, biases, folded ONNX constants).

    Build it from NumPy with `ConstantOp.from_numpy(arr)` and read it back with
    `to_numpy()`; the data is kept as raw little-endian bytes.

        %c = graph.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
    """

    name = "graph.constant"

    _T: ClassVar = VarConstraint("T", AnyAttr())
    value = prop_def(ParamAttrConstraint(DenseIntOrFPElementsAttr, (_T, AnyAttr())))
    result = result_def(_T)

    traits = traits_def(Pure(), ConstantLike())

    assembly_format = "$value attr-dict"

    def __init__(self, value: DenseIntOrFPElementsAttr):
        super().__init__(properties={"value": value}, result_types=[value.get_type()])

    @staticmethod
    def from_numpy(array: np.ndarray) -> ConstantOp:
        """A constant holding `array`, converted to float32. An array that views a
        whole `bytes` object (`np.frombuffer(raw, "<f4")`, as ONNX weights are read)
        shares it instead of copying: a large model's weights are held once."""
        data = np.ascontiguousarray(array, dtype="<f4")
        base = data.base
        while isinstance(base, np.ndarray):
            base = base.base
        # bytes are immutable, so sharing them is safe
        whole = isinstance(base, bytes) and len(base) == data.nbytes
        return ConstantOp.from_bytes(base if whole else data.tobytes(), data.shape)

    @staticmethod
    def from_bytes(raw: bytes, shape: Sequence[int]) -> ConstantOp:
        """A constant of `shape` over `raw`, its little-endian f32 values in row-major
        order, held as given (not copied)."""
        if len(raw) != 4 * prod(shape):
            raise ValueError(f"{len(raw)} bytes are not {_fmt(shape)} f32 values")
        ty = _f32_tensor(tuple(shape))
        return ConstantOp(DenseIntOrFPElementsAttr(ty, BytesAttr(raw)))

    def to_numpy(self) -> np.ndarray:
        """The value as a writable float32 array of the result's shape."""
        shape = self.value.get_shape()
        flat = np.frombuffer(self.value.data.data, dtype="<f4")
        if flat.size == 1 and prod(shape) != 1:  # a splat
            return np.full(shape, flat[0], dtype=np.float32)
        return flat.reshape(shape).astype(np.float32, copy=True)

    def verify_(self) -> None:
        try:
            _check_f32_static("value", self.value.get_type())
        except VerifyException as e:
            raise VerifyException(f"'{self.name}' op {e}") from None


class GraphOp(IRDLOperation, ABC):
    """Common base of the computing ops: f32 static operands, inferred result shape.

    Every one has one result, `result`. Subclasses declare their operands and
    properties and implement `inferred_shape()`, which raises `VerifyException` for
    operands or properties that do not fit together. Their builders go through
    `_build`, so that a builder infers the result type with the verifier's rule.
    """

    result = result_def(TensorType)

    irdl_options = (ParsePropInAttrDict(),)
    traits = traits_def(Pure())
    assembly_format = "operands attr-dict `:` functional-type(operands, results)"

    @abstractmethod
    def inferred_shape(self) -> Shape: ...

    def _build(
        self,
        operands: Sequence[Value | Sequence[Value]],
        result_type: TensorType | None,
        properties: Mapping[str, Attribute] | None = None,
    ) -> None:
        """Build the op with `result_type`, or with the inferred one when it is None.
        Operands or properties that do not fit together raise `VerifyException` (its
        message without the op's name) and leave no op behind."""
        super().__init__(
            operands=operands,
            result_types=[_f32_tensor(()) if result_type is None else result_type],
            properties=dict(properties or {}),
        )
        try:
            shape = self.inferred_shape()
        except VerifyException:
            self.drop_all_references()
            raise
        if result_type is None:
            Rewriter.replace_value_with_new_type(self.results[0], _f32_tensor(shape))

    def verify_(self) -> None:
        try:
            self._verify_shapes()
        except VerifyException as e:
            raise VerifyException(f"'{self.name}' op {e}") from None

    def _verify_shapes(self) -> None:
        for name, _ in self.get_irdl_definition().operands:
            value = getattr(self, name)
            values = value if isinstance(value, Sequence) else [value]
            for v in values:
                if v is not None:
                    _check_f32_static(f"operand '{name}'", v.type)
        result_type = self.results[0].type
        _check_f32_static("result", result_type)
        assert isinstance(result_type, TensorType)
        expected, got = self.inferred_shape(), result_type.get_shape()
        if expected != got:
            raise VerifyException(
                f"result shape {_fmt(got)} does not match the inferred shape "
                f"{_fmt(expected)}"
            )


class _UnaryOp(GraphOp, ABC):
    """A graph op on one tensor, `input`. The builder here serves the ops without
    parameters; the others define their own."""

    input = operand_def(TensorType)

    def __init__(self, input: Value, result_type: TensorType | None = None):
        self._build([input], result_type)


ShapeOfArray = Callable[[Shape, tuple[int, ...]], Shape]


class _ArrayUnaryOp(_UnaryOp, ABC):
    """A unary op with one i64 array property, named by `ARRAY` (`perm`, `axes`),
    from which `SHAPE(input shape, array)` gives the result shape."""

    ARRAY: ClassVar[str]
    SHAPE: ClassVar[ShapeOfArray]

    def __init__(
        self, input: Value, array: Sequence[int], result_type: TensorType | None = None
    ):
        self._build([input], result_type, {self.ARRAY: _i64_array(array)})

    def inferred_shape(self) -> Shape:
        array = _ints(self.properties[self.ARRAY])
        return type(self).SHAPE(_shape(self.input), array)


class _VariadicOp(GraphOp, ABC):
    """A graph op on one or more tensors, `inputs`."""

    inputs = var_operand_def(TensorType)

    def input_shapes(self) -> list[Shape]:
        return [_shape(v) for v in self.inputs]


class _WindowOp(GraphOp, ABC):
    """The sliding-window properties a convolution and the pools share: `strides`
    and `pads` (ONNX order: top, left, bottom, right)."""

    strides = prop_def(DenseArrayBase.constr(i64), _i64_array((1, 1)))
    strides_val = _array_value("strides")
    pads = prop_def(DenseArrayBase.constr(i64), _i64_array((0, 0, 0, 0)))
    pads_val = _array_value("pads")


class _PoolOp(_WindowOp, ABC):
    """2-D pooling on NCHW input (ceil_mode 0, no dilation) over `kernel_shape`."""

    input = operand_def(TensorType)

    kernel_shape = prop_def(DenseArrayBase.constr(i64))
    kernel_shape_val = _array_value("kernel_shape")

    def __init__(
        self,
        input: Value,
        *,
        kernel_shape: Sequence[int],
        strides: Sequence[int] = (1, 1),
        pads: Sequence[int] = (0, 0, 0, 0),
        result_type: TensorType | None = None,
    ):
        properties = self._window(kernel_shape, strides, pads)
        self._build([input], result_type, properties)

    @staticmethod
    def _window(
        kernel_shape: Sequence[int], strides: Sequence[int], pads: Sequence[int]
    ) -> dict[str, Attribute]:
        return {
            "kernel_shape": _i64_array(kernel_shape),
            "strides": _i64_array(strides),
            "pads": _i64_array(pads),
        }

    def _window_shape(self) -> Shape:
        return _pool_shape(
            _shape(self.input),
            _ints(self.kernel_shape),
            _ints(self.strides),
            _ints(self.pads),
        )


class _BinaryOp(GraphOp, ABC):
    """A graph op on two tensors, `lhs` and `rhs`, with no parameter."""

    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)

    def __init__(self, lhs: Value, rhs: Value, result_type: TensorType | None = None):
        self._build([lhs, rhs], result_type)


@irdl_op_definition
class MatMulOp(_BinaryOp):
    """Matrix product: [M, K] x [K, N] -> [M, N], or batched over equal leading
    dims, [..., M, K] x [..., K, N] -> [..., M, N] (attention's Q·Kᵀ and ·V).

    %r = graph.matmul %a, %b : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
    %s = graph.matmul %q, %k : (tensor<1x4x16x16xf32>, tensor<1x4x16x16xf32>) -> tensor<1x4x16x16xf32>
    """

    name = "graph.matmul"

    def inferred_shape(self) -> Shape:
        return _matmul_shape(_shape(self.lhs), _shape(self.rhs))


@irdl_op_definition
class GemmOp(GraphOp):
    """ONNX Gemm: alpha * op(a) @ op(b) + beta * c, with op() an optional transpose.

    `c` is optional and unidirectionally broadcastable to [M, N]. Properties left at
    their defaults (alpha = beta = 1.0, trans_a = trans_b = 0) are not printed.

        %r = graph.gemm %x, %w, %b {trans_b = 1 : i64} : (tensor<8x784xf32>, tensor<512x784xf32>, tensor<512xf32>) -> tensor<8x512xf32>
    """

    name = "graph.gemm"

    a = operand_def(TensorType)
    b = operand_def(TensorType)
    c = opt_operand_def(TensorType)

    alpha = prop_def(FloatAttr[Float32Type], FloatAttr(1.0, f32))
    alpha_val = _scalar_value("alpha", float)
    beta = prop_def(FloatAttr[Float32Type], FloatAttr(1.0, f32))
    beta_val = _scalar_value("beta", float)
    trans_a = prop_def(IntegerAttr.constr(type=i64), _i64(0))
    trans_a_val = _scalar_value("trans_a", bool)
    trans_b = prop_def(IntegerAttr.constr(type=i64), _i64(0))
    trans_b_val = _scalar_value("trans_b", bool)
    activation = opt_prop_def(StringAttr)
    """A fused activation applied to the result (FUSED_ACTIVATIONS), absent: none."""

    def __init__(
        self,
        a: Value,
        b: Value,
        c: Value | None = None,
        *,
        alpha: float = 1.0,
        beta: float = 1.0,
        trans_a: bool = False,
        trans_b: bool = False,
        activation: str | None = None,
        result_type: TensorType | None = None,
    ):
        properties = {
            "alpha": FloatAttr(alpha, f32),
            "beta": FloatAttr(beta, f32),
            "trans_a": _i64(trans_a),
            "trans_b": _i64(trans_b),
            **_activation_props(activation),
        }
        self._build([a, b, [] if c is None else [c]], result_type, properties)

    @property
    def activation_val(self) -> str | None:
        return None if self.activation is None else self.activation.data

    def inferred_shape(self) -> Shape:
        _check_activation(self)
        for name in ("trans_a", "trans_b"):
            flag = getattr(self, name).value.data
            if flag not in (0, 1):
                raise VerifyException(f"{name} must be 0 or 1, got {flag}")
        c_shape = None if self.c is None else _shape(self.c)
        return _gemm_shape(
            _shape(self.a), _shape(self.b), c_shape, self.trans_a_val, self.trans_b_val
        )


@irdl_op_definition
class Conv2dOp(_WindowOp):
    """2-D convolution (ONNX Conv) on NCHW input with [Cout, Cin/group, kh, kw] weights.

    `pads` is in ONNX order (top, left, bottom, right); `bias` ([Cout]) is optional.
    Properties at their defaults (strides 1, pads 0, dilations 1, group 1,
    interleave 0) are not printed. `interleave` B > 0 (group > 1) reads each group's
    input channels from blocks of B interleaved across the groups: input channel
    a * B + i of group q (i < B) is channel (a * group + q) * B + i of the input
    (`interleaved_channels`), which is how graph-fold-shuffle takes a channel shuffle
    into the grouped conv that reads it. graph-fuse-epilogue may add an `addend` (a tensor of the result's shape)
    and an `activation`: the result is then activation(conv + bias + addend).

        %r = graph.conv2d %x, %w, %b addend %s {activation = "relu"} : (tensor<1x8x4x4xf32>, tensor<8x8x1x1xf32>, tensor<8xf32>, tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>

        %r = graph.conv2d %x, %w, %b {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x3x32x32xf32>, tensor<8x3x3x3xf32>, tensor<8xf32>) -> tensor<1x8x32x32xf32>
    """

    name = "graph.conv2d"

    input = operand_def(TensorType)
    weight = operand_def(TensorType)
    bias = opt_operand_def(TensorType)
    addend = opt_operand_def(TensorType)
    """A tensor of the result's shape added to the result before the activation
    (graph-fuse-epilogue folds a residual add into the conv)."""

    group = prop_def(IntegerAttr.constr(type=i64), _i64(1))
    group_val = _scalar_value("group", int)
    dilations = prop_def(DenseArrayBase.constr(i64), _i64_array((1, 1)))
    dilations_val = _array_value("dilations")
    activation = opt_prop_def(StringAttr)
    """A fused activation applied last (FUSED_ACTIVATIONS), absent: none."""
    interleave = prop_def(IntegerAttr.constr(type=i64), _i64(0))
    """0: group q reads input channels [q Cin/group, (q+1) Cin/group); B > 0: the
    groups' input channels interleaved in blocks of B (`interleaved_channels`)."""
    interleave_val = _scalar_value("interleave", int)

    irdl_options = (AttrSizedOperandSegments(as_property=True), ParsePropInAttrDict())
    assembly_format = None

    def __init__(
        self,
        input: Value,
        weight: Value,
        bias: Value | None = None,
        *,
        strides: Sequence[int] = (1, 1),
        pads: Sequence[int] = (0, 0, 0, 0),
        dilations: Sequence[int] = (1, 1),
        group: int = 1,
        addend: Value | None = None,
        activation: str | None = None,
        result_type: TensorType | None = None,
        interleave: int = 0,
    ):
        properties = {
            "strides": _i64_array(strides),
            "pads": _i64_array(pads),
            "dilations": _i64_array(dilations),
            "group": _i64(group),
            "interleave": _i64(interleave),
            **_activation_props(activation),
        }
        operands = [
            input, weight, [] if bias is None else [bias], [] if addend is None else [addend]
        ]
        self._build(operands, result_type, properties)

    @property
    def activation_val(self) -> str | None:
        return None if self.activation is None else self.activation.data

    # The generic declarative format cannot place two optional operands; this one
    # keeps the syntax of the other graph ops and names the addend:
    #   graph.conv2d %x, %w[, %b] [addend %r] {props} : (types) -> type
    def print(self, printer: Printer) -> None:
        printer.print_string(" ")
        printer.print_list(
            [self.input, self.weight, *([self.bias] if self.bias else [])],
            printer.print_operand,
        )
        if self.addend is not None:
            printer.print_string(" addend ")
            printer.print_operand(self.addend)
        op_def = self.get_irdl_definition()
        shown = {
            name: value
            for name, value in self.properties.items()
            if name != AttrSizedOperandSegments.attribute_name
            and value != op_def.properties[name].default_value
        }
        printer.print_op_attributes(self.attributes | shown)
        printer.print_string(" : ")
        printer.print_function_type(
            [o.type for o in self.operands], [r.type for r in self.results]
        )

    @classmethod
    def parse(cls, parser: Parser) -> Conv2dOp:
        pos = parser.pos
        unresolved: list[UnresolvedOperand] = parser.parse_comma_separated_list(
            parser.Delimiter.NONE, parser.parse_unresolved_operand
        )
        if len(unresolved) not in (2, 3):
            parser.raise_error(
                f"expected input, weight and an optional bias, got {len(unresolved)} operands",
                pos,
            )
        addend: list[UnresolvedOperand] = []
        if parser.parse_optional_keyword("addend") is not None:
            addend = [parser.parse_unresolved_operand()]
        attrs = dict(parser.parse_optional_attr_dict())
        parser.parse_punctuation(":")
        type_pos = parser.pos
        ftype = parser.parse_function_type()
        names = unresolved + addend
        if len(ftype.inputs.data) != len(names) or len(ftype.outputs.data) != 1:
            parser.raise_error(
                f"expected {len(names)} operand types and one result type", type_pos
            )
        values = parser.resolve_operands(names, ftype.inputs.data, type_pos)
        op_def = cls.get_irdl_definition()
        properties = {k: attrs.pop(k) for k in list(attrs) if k in op_def.properties}
        properties[AttrSizedOperandSegments.attribute_name] = _DenseArrayBase.from_list(
            i32, [1, 1, len(unresolved) - 2, len(addend)]
        )
        return cls.create(
            operands=values,
            result_types=list(ftype.outputs.data),
            properties=properties,
            attributes=attrs,
        )

    def inferred_shape(self) -> Shape:
        _check_activation(self)
        bias_shape = None if self.bias is None else _shape(self.bias)
        shape = _conv2d_shape(
            _shape(self.input),
            _shape(self.weight),
            bias_shape,
            _ints(self.strides),
            _ints(self.pads),
            _ints(self.dilations),
            self.group_val,
        )
        if self.addend is not None and _shape(self.addend) != shape:
            raise VerifyException(
                f"addend shape {_fmt(_shape(self.addend))} must be the result's {_fmt(shape)}"
            )
        block, cg = self.interleave_val, _shape(self.weight)[1]
        if block < 0 or (block and (self.group_val < 2 or cg % block)):
            raise VerifyException(
                f"interleave {block} must be 0, or, with more than one group, a "
                f"positive divisor of the group's input channels ({cg})"
            )
        return shape


def interleaved_channels(channels: int, group: int, block: int) -> list[int]:
    """For each input channel of a conv of `group` groups, in group order (group q's
    channels q Cin/group .. (q+1) Cin/group - 1), the input channel it reads when the
    groups are interleaved in blocks of `block` (Conv2dOp's `interleave`; 0: itself):
    `interleaved_channels(8, 2, 2)` is `[0, 1, 4, 5, 2, 3, 6, 7]`."""
    if not block:
        return list(range(channels))
    per = channels // group
    return [
        ((c // block) * group + q) * block + c % block for q in range(group) for c in range(per)
    ]


FUSED_ACTIVATIONS = ("relu", "clip01", "silu", "gelu_erf", "gelu", "sigmoid")
"""The activations a conv2d or gemm can apply to its result on the way out of the
accumulator (graph-fuse-epilogue folds a following graph op of that name into it:
a relu, a clip to [0, 1] (graph-fold-clip, or a hard sigmoid), a `graph.activation`
silu, gelu_erf, gelu or sigmoid)."""


def _check_activation(op: IRDLOperation) -> None:
    attr = op.properties.get("activation")
    if attr is not None:
        assert isinstance(attr, StringAttr)
        if attr.data not in FUSED_ACTIVATIONS:
            known = ", ".join(FUSED_ACTIVATIONS)
            raise VerifyException(f"activation '{attr.data}' is not one of: {known}")


def _activation_props(activation: str | None) -> dict[str, Attribute]:
    return {} if activation is None else {"activation": StringAttr(activation)}


class _BroadcastBinaryOp(_BinaryOp, ABC):
    """An element-wise op on two tensors with NumPy/ONNX broadcasting."""

    def inferred_shape(self) -> Shape:
        return _broadcast_shape(_shape(self.lhs), _shape(self.rhs))


@irdl_op_definition
class AddOp(_BroadcastBinaryOp):
    """Element-wise sum with NumPy/ONNX multidirectional broadcasting.

    %r = graph.add %x, %b : (tensor<8x16xf32>, tensor<16xf32>) -> tensor<8x16xf32>
    """

    name = "graph.add"


@irdl_op_definition
class MulOp(_BroadcastBinaryOp):
    """Element-wise product with NumPy/ONNX multidirectional broadcasting.

    %r = graph.mul %x, %s : (tensor<1x8x4x4xf32>, tensor<8x1x1xf32>) -> tensor<1x8x4x4xf32>
    """

    name = "graph.mul"


@irdl_op_definition
class SubOp(_BroadcastBinaryOp):
    """Element-wise difference lhs - rhs, with broadcasting (POOL).

    %r = graph.sub %x, %m : (tensor<2x16xf32>, tensor<2x1xf32>) -> tensor<2x16xf32>
    """

    name = "graph.sub"


@irdl_op_definition
class DivOp(_BroadcastBinaryOp):
    """Element-wise quotient lhs / rhs, with broadcasting: lhs times ACT's
    reciprocal of rhs (its lookup table, within 2 ulp).

    %r = graph.div %x, %s : (tensor<2x16xf32>, tensor<2x1xf32>) -> tensor<2x16xf32>
    """

    name = "graph.div"


@irdl_op_definition
class MaxOp(_BroadcastBinaryOp):
    """Element-wise maximum, with broadcasting (POOL).

    %r = graph.max %x, %y : (tensor<2x16xf32>, tensor<16xf32>) -> tensor<2x16xf32>
    """

    name = "graph.max"


@irdl_op_definition
class MinOp(_BroadcastBinaryOp):
    """Element-wise minimum, with broadcasting (POOL).

    %r = graph.min %x, %y : (tensor<2x16xf32>, tensor<16xf32>) -> tensor<2x16xf32>
    """

    name = "graph.min"


@irdl_op_definition
class ReluOp(_UnaryOp):
    """Element-wise max(x, 0).

    %r = graph.relu %x : (tensor<8x512xf32>) -> tensor<8x512xf32>
    """

    name = "graph.relu"

    def inferred_shape(self) -> Shape:
        return _shape(self.input)


@irdl_op_definition
class MaxPoolOp(_PoolOp):
    """2-D max pooling (ONNX MaxPool, ceil_mode 0, no dilation) on NCHW input.

    `pads` is in ONNX order (top, left, bottom, right); padded positions never win.
    Defaults (strides 1, pads 0) are not printed.

        %r = graph.maxpool %x {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>} : (tensor<1x8x32x32xf32>) -> tensor<1x8x16x16xf32>
    """

    name = "graph.maxpool"

    def inferred_shape(self) -> Shape:
        return self._window_shape()


@irdl_op_definition
class ReshapeOp(_UnaryOp):
    """Reinterpret the elements (row-major) in a new static shape, given by the
    result type.

        %r = graph.reshape %x : (tensor<2x3x4xf32>) -> tensor<6x4xf32>
    """

    name = "graph.reshape"

    def __init__(self, input: Value, result_type: TensorType | Sequence[int]):
        if not isinstance(result_type, TensorType):
            result_type = _f32_tensor(tuple(result_type))
        self._build([input], result_type)

    @property
    def shape_val(self) -> Shape:
        """The new shape (the result type's)."""
        return _shape(self.result)

    def inferred_shape(self) -> Shape:
        return _reshape_shape(_shape(self.input), self.shape_val)


@irdl_op_definition
class FlattenOp(_UnaryOp):
    """ONNX Flatten: [d0, ..., dn) -> [prod(d[:axis]), prod(d[axis:])].

    `axis` is in [0, rank]; the default, 1, is not printed.

        %r = graph.flatten %x : (tensor<1x16x8x8xf32>) -> tensor<1x1024xf32>
    """

    name = "graph.flatten"

    axis = prop_def(IntegerAttr.constr(type=i64), _i64(1))
    axis_val = _scalar_value("axis", int)

    def __init__(
        self, input: Value, axis: int = 1, result_type: TensorType | None = None
    ):
        self._build([input], result_type, {"axis": _i64(axis)})

    def inferred_shape(self) -> Shape:
        return _flatten_shape(_shape(self.input), self.axis_val)


class _AlongAxisOp(_UnaryOp, ABC):
    """A normalisation along one non-negative `axis` (softmax, log-softmax)."""

    axis = prop_def(IntegerAttr.constr(type=i64))
    axis_val = _scalar_value("axis", int)

    def __init__(self, input: Value, axis: int, result_type: TensorType | None = None):
        self._build([input], result_type, {"axis": _i64(axis)})

    def inferred_shape(self) -> Shape:
        return _softmax_shape(_shape(self.input), self.axis_val)


@irdl_op_definition
class SoftmaxOp(_AlongAxisOp):
    """Softmax along one axis (ONNX opset-13 semantics); `axis` is non-negative.

    %r = graph.softmax %x {axis = 1 : i64} : (tensor<8x10xf32>) -> tensor<8x10xf32>
    """

    name = "graph.softmax"


@irdl_op_definition
class LogSoftmaxOp(_AlongAxisOp):
    """Log-softmax along one axis (ONNX opset-13 semantics): x - max - log(sum(exp(x -
    max))), finite wherever x is (log of the softmax would underflow to -inf).

    %r = graph.log_softmax %x {axis = 1 : i64} : (tensor<8x10xf32>) -> tensor<8x10xf32>
    """

    name = "graph.log_softmax"


@irdl_op_definition
class BatchNormOp(GraphOp):
    """Inference batch normalisation (ONNX BatchNormalization) over channels (dim 1):
    (x - mean) / sqrt(var + epsilon) * scale + bias, every parameter of shape [C].
    The default epsilon (1e-5) is not printed.

        %r = graph.batchnorm %x, %s, %b, %m, %v : (tensor<1x8x4x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<1x8x4x4xf32>
    """

    name = "graph.batchnorm"

    input = operand_def(TensorType)
    scale = operand_def(TensorType)
    bias = operand_def(TensorType)
    mean = operand_def(TensorType)
    var = operand_def(TensorType)

    epsilon = prop_def(FloatAttr[Float32Type], FloatAttr(1e-5, f32))
    epsilon_val = _scalar_value("epsilon", float)

    def __init__(
        self,
        input: Value,
        scale: Value,
        bias: Value,
        mean: Value,
        var: Value,
        *,
        epsilon: float = 1e-5,
        result_type: TensorType | None = None,
    ):
        operands = [input, scale, bias, mean, var]
        self._build(operands, result_type, {"epsilon": FloatAttr(epsilon, f32)})

    def inferred_shape(self) -> Shape:
        eps = self.epsilon_val
        if not (math.isfinite(eps) and eps >= 0):
            raise VerifyException(f"epsilon {eps} must be finite and non-negative")
        params = ("scale", "bias", "mean", "var")
        named = [(name, _shape(getattr(self, name))) for name in params]
        return _per_channel_shape(_shape(self.input), named)


@irdl_op_definition
class ChannelAffineOp(GraphOp):
    """A per-channel scale and shift, then an optional activation (FUSED_ACTIVATIONS):
    y = activation(x * scale[c] + shift[c]) along dim 1 (NCHW or NC), `scale` and
    `shift` of shape [C]. graph-fuse-affine makes it from a per-channel constant mul
    and add (an unfolded BatchNorm) and the relu after them: one ACT instruction per
    tile instead of three element-wise nests.

        %y = graph.channel_affine %x, %s, %t {activation = "relu"} : (tensor<1x8x4x4xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<1x8x4x4xf32>
    """

    name = "graph.channel_affine"

    input = operand_def(TensorType)
    scale = operand_def(TensorType)
    shift = operand_def(TensorType)

    activation = opt_prop_def(StringAttr)
    """A fused activation applied last (FUSED_ACTIVATIONS), absent: none."""

    def __init__(
        self,
        input: Value,
        scale: Value,
        shift: Value,
        *,
        activation: str | None = None,
        result_type: TensorType | None = None,
    ):
        self._build([input, scale, shift], result_type, _activation_props(activation))

    @property
    def activation_val(self) -> str | None:
        return None if self.activation is None else self.activation.data

    def inferred_shape(self) -> Shape:
        _check_activation(self)
        named = [(name, _shape(getattr(self, name))) for name in ("scale", "shift")]
        return _per_channel_shape(_shape(self.input), named)


@irdl_op_definition
class AvgPoolOp(_PoolOp):
    """2-D average pooling (ONNX AveragePool, ceil_mode 0) on NCHW input.

    `pads` is in ONNX order (top, left, bottom, right). With `count_include_pad = 0`
    (the ONNX default) padded positions are left out of each window's count; with 1
    every window divides by kh * kw. Defaults (strides 1, pads 0,
    count_include_pad 0) are not printed.

        %r = graph.avgpool %x {kernel_shape = array<i64: 3, 3>, pads = array<i64: 1, 1, 1, 1>} : (tensor<1x8x7x7xf32>) -> tensor<1x8x7x7xf32>
    """

    name = "graph.avgpool"

    count_include_pad = prop_def(IntegerAttr.constr(type=i64), _i64(0))
    count_include_pad_val = _scalar_value("count_include_pad", bool)

    def __init__(
        self,
        input: Value,
        *,
        count_include_pad: bool = False,
        kernel_shape: Sequence[int],
        strides: Sequence[int] = (1, 1),
        pads: Sequence[int] = (0, 0, 0, 0),
        result_type: TensorType | None = None,
    ):
        properties = self._window(kernel_shape, strides, pads)
        properties["count_include_pad"] = _i64(int(count_include_pad))
        self._build([input], result_type, properties)

    def inferred_shape(self) -> Shape:
        flag = int(self.count_include_pad.value.data)
        if flag not in (0, 1):
            raise VerifyException(f"count_include_pad must be 0 or 1, got {flag}")
        return self._window_shape()


@irdl_op_definition
class GlobalAvgPoolOp(_UnaryOp):
    """The mean over the spatial dims of NCHW input (ONNX GlobalAveragePool).

    %r = graph.global_avgpool %x : (tensor<1x1024x7x7xf32>) -> tensor<1x1024x1x1xf32>
    """

    name = "graph.global_avgpool"

    def inferred_shape(self) -> Shape:
        return _global_pool_shape(_shape(self.input))


@irdl_op_definition
class ConcatOp(_VariadicOp):
    """Concatenation along a non-negative `axis` (ONNX Concat); the operands agree
    on every other dim.

        %r = graph.concat %a, %b {axis = 1 : i64} : (tensor<1x64x8x8xf32>, tensor<1x32x8x8xf32>) -> tensor<1x96x8x8xf32>
    """

    name = "graph.concat"

    axis = prop_def(IntegerAttr.constr(type=i64))
    axis_val = _scalar_value("axis", int)

    def __init__(
        self,
        inputs: Sequence[Value],
        axis: int,
        result_type: TensorType | None = None,
    ):
        self._build([list(inputs)], result_type, {"axis": _i64(axis)})

    def inferred_shape(self) -> Shape:
        return _concat_shape(self.input_shapes(), self.axis_val)


@irdl_op_definition
class TransposeOp(_ArrayUnaryOp):
    """Permute the dims (ONNX Transpose): result dim i is input dim perm[i].

    %r = graph.transpose %x {perm = array<i64: 0, 2, 1, 3, 4>} : (tensor<1x4x28x8x8xf32>) -> tensor<1x28x4x8x8xf32>
    """

    name = "graph.transpose"

    perm = prop_def(DenseArrayBase.constr(i64))
    perm_val = _array_value("perm")
    ARRAY: ClassVar[str] = "perm"
    SHAPE: ClassVar[ShapeOfArray] = staticmethod(_transpose_shape)


@irdl_op_definition
class SliceOp(_UnaryOp):
    """A strided window of the input: along every dim d, elements starts[d],
    starts[d] + steps[d], ... below ends[d] (0 <= start < end <= size, step >= 1),
    as ONNX Slice and Split (and the pieces of Pad, Tile and 3-D convs) import. A
    DRAM-to-DRAM copy by access pattern.

    %r = graph.slice %x {starts = array<i64: 0, 2>, ends = array<i64: 4, 8>, steps = array<i64: 1, 2>} : (tensor<4x8xf32>) -> tensor<4x3xf32>
    """

    name = "graph.slice"

    starts = prop_def(DenseArrayBase.constr(i64))
    ends = prop_def(DenseArrayBase.constr(i64))
    steps = prop_def(DenseArrayBase.constr(i64))
    starts_val = _array_value("starts")
    ends_val = _array_value("ends")
    steps_val = _array_value("steps")

    def __init__(
        self,
        input: Value,
        starts: Sequence[int],
        ends: Sequence[int],
        steps: Sequence[int] | None = None,
        result_type: TensorType | None = None,
    ):
        steps = [1] * len(starts) if steps is None else steps
        props = {"starts": _i64_array(starts), "ends": _i64_array(ends), "steps": _i64_array(steps)}
        self._build([input], result_type, props)

    def inferred_shape(self) -> Shape:
        shape = _shape(self.input)
        starts, ends, steps = self.starts_val, self.ends_val, self.steps_val
        for name, values in (("starts", starts), ("ends", ends), ("steps", steps)):
            _check_len(name, values, len(shape))
        out = []
        for d, (size, a, b, s) in enumerate(zip(shape, starts, ends, steps, strict=True)):
            if s < 1 or not 0 <= a < b <= size:
                raise VerifyException(
                    f"dim {d}: start {a}, end {b}, step {s} is not a window of size {size} "
                    "(0 <= start < end <= size, step >= 1)"
                )
            out.append(-(-(b - a) // s))
        return tuple(out)


@irdl_op_definition
class LRNOp(_UnaryOp):
    """Local response normalisation across channels (ONNX LRN) on NCHW input:
    y = x / (bias + alpha / size * sum of x^2 over `size` neighbouring channels)^beta.
    Defaults (alpha 1e-4, beta 0.75, bias 1.0) are not printed.

        %r = graph.lrn %x {size = 5 : i64} : (tensor<1x96x55x55xf32>) -> tensor<1x96x55x55xf32>
    """

    name = "graph.lrn"

    size = prop_def(IntegerAttr.constr(type=i64))
    size_val = _scalar_value("size", int)
    alpha = prop_def(FloatAttr[Float32Type], FloatAttr(1e-4, f32))
    alpha_val = _scalar_value("alpha", float)
    beta = prop_def(FloatAttr[Float32Type], FloatAttr(0.75, f32))
    beta_val = _scalar_value("beta", float)
    bias = prop_def(FloatAttr[Float32Type], FloatAttr(1.0, f32))
    bias_val = _scalar_value("bias", float)

    def __init__(
        self,
        input: Value,
        *,
        size: int,
        alpha: float = 1e-4,
        beta: float = 0.75,
        bias: float = 1.0,
        result_type: TensorType | None = None,
    ):
        properties = {
            "size": _i64(size),
            "alpha": FloatAttr(alpha, f32),
            "beta": FloatAttr(beta, f32),
            "bias": FloatAttr(bias, f32),
        }
        self._build([input], result_type, properties)

    def inferred_shape(self) -> Shape:
        params = (self.alpha_val, self.beta_val, self.bias_val)
        if not all(math.isfinite(v) for v in params):
            raise VerifyException(f"alpha, beta and bias {', '.join(map(str, params))} must be finite")
        return _lrn_shape(_shape(self.input), self.size_val)


@irdl_op_definition
class SumOp(_VariadicOp):
    """Element-wise sum of one or more operands with NumPy/ONNX broadcasting (ONNX
    Sum); one nest adds them all, with no intermediate tensors.

        %r = graph.sum %a, %b, %c : (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>, tensor<8x1x1xf32>) -> tensor<1x8x4x4xf32>
    """

    name = "graph.sum"

    def __init__(self, inputs: Sequence[Value], result_type: TensorType | None = None):
        self._build([list(inputs)], result_type)

    def inferred_shape(self) -> Shape:
        return _sum_shape(self.input_shapes())


@irdl_op_definition
class UnsqueezeOp(_ArrayUnaryOp):
    """Insert size-1 dims at `axes` (of the result; ONNX Unsqueeze): a view of the
    same elements. Canonicalisation folds it on constants and makes it a reshape
    otherwise.

        %r = graph.unsqueeze %b {axes = array<i64: 1, 2>} : (tensor<64xf32>) -> tensor<64x1x1xf32>
    """

    name = "graph.unsqueeze"

    axes = prop_def(DenseArrayBase.constr(i64))
    axes_val = _array_value("axes")
    ARRAY: ClassVar[str] = "axes"
    SHAPE: ClassVar[ShapeOfArray] = staticmethod(_unsqueeze_shape)


@irdl_op_definition
class RandomUniformLikeOp(_UnaryOp):
    """ONNX RandomUniformLike: numbers uniform in [low, high) of the input's shape
    (its values are not read), drawn from the POOL engine's generators seeded by
    `seed`. Defaults (low 0, high 1, seed 0) are not printed.

        %r = graph.random_uniform_like %x {high = 2.000000e+00 : f32, seed = 3 : i64} : (tensor<4x8xf32>) -> tensor<4x8xf32>
    """

    name = "graph.random_uniform_like"

    low = prop_def(FloatAttr[Float32Type], FloatAttr(0.0, f32))
    low_val = _scalar_value("low", float)
    high = prop_def(FloatAttr[Float32Type], FloatAttr(1.0, f32))
    high_val = _scalar_value("high", float)
    seed = prop_def(IntegerAttr.constr(type=i64), _i64(0))
    seed_val = _scalar_value("seed", int)

    def __init__(
        self,
        input: Value,
        low: float = 0.0,
        high: float = 1.0,
        seed: int = 0,
        result_type: TensorType | None = None,
    ):
        props = {"low": FloatAttr(low, f32), "high": FloatAttr(high, f32), "seed": _i64(seed)}
        self._build([input], result_type, props)

    def inferred_shape(self) -> Shape:
        low, high = self.low_val, self.high_val
        if not (math.isfinite(low) and math.isfinite(high) and low <= high):
            raise VerifyException(f"bounds [{low}, {high}) are not finite and ordered")
        if not -(2**31) <= self.seed_val < 2**31:
            raise VerifyException(f"seed {self.seed_val} does not fit 32 bits")
        return _shape(self.input)


@irdl_op_definition
class BernoulliOp(_UnaryOp):
    """ONNX Bernoulli: 1.0 with the probability the input gives, element by element,
    else 0.0, drawn from the POOL engine's generators seeded by `seed` (default 0,
    not printed).

        %r = graph.bernoulli %p {seed = 3 : i64} : (tensor<4x8xf32>) -> tensor<4x8xf32>
    """

    name = "graph.bernoulli"

    seed = prop_def(IntegerAttr.constr(type=i64), _i64(0))
    seed_val = _scalar_value("seed", int)

    def __init__(self, input: Value, seed: int = 0, result_type: TensorType | None = None):
        self._build([input], result_type, {"seed": _i64(seed)})

    def inferred_shape(self) -> Shape:
        if not -(2**31) <= self.seed_val < 2**31:
            raise VerifyException(f"seed {self.seed_val} does not fit 32 bits")
        return _shape(self.input)


PIECEWISE_KINDS = ("clip", "hard_sigmoid", "hard_swish", "leaky_relu", "affine")


@irdl_op_definition
class PiecewiseLinearOp(_UnaryOp):
    """A piecewise-linear element-wise function, as ONNX Clip (`alpha` = min, `beta` =
    max, either may be infinite), HardSigmoid (max(0, min(1, alpha x + beta))),
    HardSwish (x · HardSigmoid(x) with alpha 1/6, beta 1/2), LeakyRelu (x, or
    alpha x below 0; Abs is alpha -1) and `affine` (alpha x + beta: Neg, a scalar
    constant added, subtracted, multiplied or divided by) import. ACT computes them with `clip01`, `relu` and `identity`
    and its scale and bias (POOL multiplies or takes the maximum where x is needed
    twice).

        %r = graph.piecewise_linear %x {kind = "clip", alpha = 0.000000e+00 : f32, beta = 6.000000e+00 : f32} : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
    """

    name = "graph.piecewise_linear"

    kind = prop_def(StringAttr)
    alpha = prop_def(FloatAttr[Float32Type])
    beta = prop_def(FloatAttr[Float32Type])

    def __init__(self, input: Value, kind: str, alpha: float, beta: float, result_type: TensorType | None = None):
        props = {"kind": StringAttr(kind), "alpha": FloatAttr(alpha, f32), "beta": FloatAttr(beta, f32)}
        self._build([input], result_type, props)

    @property
    def params(self) -> tuple[str, float, float]:
        return self.kind.data, self.alpha.value.data, self.beta.value.data

    def inferred_shape(self) -> Shape:
        kind, alpha, beta = self.params
        if kind not in PIECEWISE_KINDS:
            raise VerifyException(f"kind '{kind}' is not one of: {', '.join(PIECEWISE_KINDS)}")
        if kind == "clip":
            if math.isnan(alpha) or math.isnan(beta) or not alpha < beta:
                raise VerifyException(f"clip bounds [{alpha}, {beta}] must be ordered, min below max")
        elif not (math.isfinite(alpha) and math.isfinite(beta)):
            raise VerifyException(f"{kind} parameters {alpha}, {beta} must be finite")
        return _shape(self.input)


LOOP_REDUCES = ("max", "add", "mean")
LOOP_INPUTS = ("a", "abs_a", "a_minus_b", "abs_a_minus_b")
LOOP_COMPARES = ("lt", "le", "gt", "ge")


@irdl_op_definition
class LoopOp(_UnaryOp):
    """A loop with a data-dependent exit and a static maximum trip count (ONNX Loop
    with one loop-carried tensor): v = body(v) runs up to `max_trips` times and goes on
    while `reduce`(`input`) `cmp` `threshold` holds, where `input` is a (the new v),
    |a|, a - b or |a - b| (b the v before the step). `body` names a func.func of the
    module taking and returning a tensor of the input's type. The compiler lays out
    `max_trips` blocks that stop early by overwriting the following ones with NOPs
    (docs/early-exit.md).

        %r = graph.loop %x {body = @step, max_trips = 8 : i64, reduce = "max", input = "abs_a_minus_b", cmp = "gt", threshold = 1.000000e-03 : f32} : (tensor<4x8xf32>) -> tensor<4x8xf32>
    """

    name = "graph.loop"

    body = prop_def(SymbolRefAttr)
    max_trips = prop_def(IntegerAttr.constr(type=i64))
    reduce = prop_def(StringAttr)
    input_kind = prop_def(StringAttr, prop_name="input")
    cmp = prop_def(StringAttr)
    threshold = prop_def(FloatAttr[Float32Type])

    def __init__(
        self,
        input: Value,
        body: str,
        max_trips: int,
        reduce: str,
        input_kind: str,
        cmp: str,
        threshold: float,
        result_type: TensorType | None = None,
    ):
        props = {
            "body": SymbolRefAttr(body),
            "max_trips": _i64(max_trips),
            "reduce": StringAttr(reduce),
            "input": StringAttr(input_kind),
            "cmp": StringAttr(cmp),
            "threshold": FloatAttr(threshold, f32),
        }
        self._build([input], result_type, props)

    def inferred_shape(self) -> Shape:
        for what, value, known in (
            ("reduce", self.reduce.data, LOOP_REDUCES),
            ("input", self.input_kind.data, LOOP_INPUTS),
            ("cmp", self.cmp.data, LOOP_COMPARES),
        ):
            if value not in known:
                raise VerifyException(f"{what} '{value}' is not one of: {', '.join(known)}")
        if self.max_trips.value.data < 1:
            raise VerifyException(f"max_trips must be at least 1, got {self.max_trips.value.data}")
        if not math.isfinite(self.threshold.value.data):
            raise VerifyException(f"threshold {self.threshold.value.data} is not finite")
        return _shape(self.input)


ACTIVATION_FUNCTIONS = (
    "exp", "log", "reciprocal", "sqrt", "rsqrt", "sigmoid", "tanh", "erf", "softplus", "gelu",
    "silu", "gelu_erf",
)
"""The functions of `graph.activation`: those the ACT engine evaluates from its lookup
tables (`tidal.sim.spec.lut`), each an ONNX op but rsqrt, gelu (the tanh form), silu
(x sigmoid(x)) and gelu_erf (x Phi(x)), which graph-fuse-epilogue makes of the ops
that compute them."""


@irdl_op_definition
class ActivationOp(_UnaryOp):
    """An element-wise non-linear function (ACTIVATION_FUNCTIONS), as the ONNX ops
    Exp, Log, Reciprocal, Sqrt, Sigmoid, Tanh, Erf and Softplus import.

    %r = graph.activation %x {func = "sigmoid"} : (tensor<8x512xf32>) -> tensor<8x512xf32>
    """

    name = "graph.activation"

    func = prop_def(StringAttr)

    def __init__(self, input: Value, func: str, result_type: TensorType | None = None):
        self._build([input], result_type, {"func": StringAttr(func)})

    @property
    def func_val(self) -> str:
        return self.func.data

    def inferred_shape(self) -> Shape:
        if self.func.data not in ACTIVATION_FUNCTIONS:
            known = ", ".join(ACTIVATION_FUNCTIONS)
            raise VerifyException(f"func '{self.func.data}' is not one of: {known}")
        return _shape(self.input)


@irdl_op_definition
class ConstantOfShapeOp(GraphOp):
    """A tensor of the result's shape filled with `value` (ONNX ConstantOfShape with
    a constant shape); canonicalisation folds it to a splat `graph.constant`.

        %r = graph.constant_of_shape {value = 2.000000e-02 : f32} : tensor<64x3x7x7xf32>
    """

    name = "graph.constant_of_shape"

    assembly_format = "attr-dict `:` type($result)"

    value = prop_def(FloatAttr[Float32Type], FloatAttr(0.0, f32))
    value_val = _scalar_value("value", float)

    def __init__(self, shape: Sequence[int] | TensorType, value: float = 0.0):
        ty = shape if isinstance(shape, TensorType) else _f32_tensor(tuple(shape))
        self._build([], ty, {"value": FloatAttr(value, f32)})

    def inferred_shape(self) -> Shape:
        return _shape(self.result)


@irdl_op_definition
class DropoutOp(_UnaryOp):
    """ONNX Dropout. In inference (`training` 0, the default) the identity, `ratio`
    kept for the record, and canonicalisation drops it. With `training` 1 each
    element is kept, scaled by 1 / (1 - ratio), or zeroed, by pseudo-random numbers
    of the POOL engine seeded by `seed` (a run is reproducible for a seed). Defaults
    (ratio 0.5, training 0, seed 0) are not printed.

        %r = graph.dropout %x {ratio = 4.000000e-01 : f32} : (tensor<1x1024xf32>) -> tensor<1x1024xf32>
        %t = graph.dropout %x {training = 1 : i64, seed = 7 : i64} : (tensor<1x1024xf32>) -> tensor<1x1024xf32>
    """

    name = "graph.dropout"

    ratio = prop_def(FloatAttr[Float32Type], FloatAttr(0.5, f32))
    ratio_val = _scalar_value("ratio", float)
    training = prop_def(IntegerAttr.constr(type=i64), _i64(0))
    training_val = _scalar_value("training", bool)
    seed = prop_def(IntegerAttr.constr(type=i64), _i64(0))
    seed_val = _scalar_value("seed", int)

    def __init__(
        self,
        input: Value,
        ratio: float = 0.5,
        result_type: TensorType | None = None,
        *,
        training: bool = False,
        seed: int = 0,
    ):
        self._build(
            [input],
            result_type,
            {"ratio": FloatAttr(ratio, f32), "training": _i64(int(training)), "seed": _i64(seed)},
        )

    def inferred_shape(self) -> Shape:
        ratio = self.ratio_val
        if not 0.0 <= ratio < 1.0:
            raise VerifyException(f"ratio must be in [0, 1), got {ratio}")
        if self.training.value.data not in (0, 1):
            raise VerifyException(f"training must be 0 or 1, got {self.training.value.data}")
        if not -(2**31) <= self.seed.value.data < 2**31:
            raise VerifyException(f"seed {self.seed.value.data} does not fit 32 bits")
        return _shape(self.input)


# ------------------------------------------------------------- the framework tier

# The element types a value of the framework tier may have, by NumPy dtype name; the
# accelerator and host tiers take f32 only.
_ELEMENT_TYPES: dict[str, Callable[[], Attribute]] = {
    "float32": lambda: f32,
    "float64": Float64Type,
    "float16": Float16Type,
    "bfloat16": BFloat16Type,
    # ONNX's 8- and 4-bit floats (ml_dtypes' names): framework-tier values only,
    # exchanged with onnxruntime through float32 (targets/framework.py)
    "float8_e4m3fn": Float8E4M3FNType,
    "float8_e4m3fnuz": Float8E4M3FNUZType,
    "float8_e5m2": Float8E5M2Type,
    "float8_e5m2fnuz": Float8E5M2FNUZType,
    "float8_e8m0fnu": Float8E8M0FNUType,
    "float4_e2m1fn": Float4E2M1FNType,
    "bool": lambda: IntegerType(1),
    # (int2, int4 and their unsigned kinds: exchanged through int8 and uint8)
    **{f"int{n}": (lambda n=n: IntegerType(n)) for n in (2, 4, 8, 16, 32, 64)},
    **{f"uint{n}": (lambda n=n: IntegerType(n, Signedness.UNSIGNED)) for n in (2, 4, 8, 16, 32, 64)},
}


@functools.cache
def carried_element_types() -> frozenset[Attribute]:
    """Every element type a framework-tier tensor may have."""
    return frozenset(make() for make in _ELEMENT_TYPES.values())


def element_type(dtype: str) -> Attribute:
    """The builtin element type of a NumPy dtype name ('float32', 'int64', 'bool',
    ...); KeyError for one the framework tier does not carry (strings, complex)."""
    return _ELEMENT_TYPES[dtype]()


def numpy_dtype(element: Attribute) -> str:
    """The NumPy dtype name of a builtin element type (the inverse of
    `element_type`); KeyError for others."""
    for name, make in _ELEMENT_TYPES.items():
        if make() == element:
            return name
    raise KeyError(str(element))


ONNX_ELEMENTS = frozenset(
    {
        "float", "double", "float16", "bfloat16", "int8", "int16", "int32", "int64",
        "uint8", "uint16", "uint32", "uint64", "bool", "string", "complex64",
        "complex128",
    }
)
"""The element types an `!graph.onnx_value` may name (ONNX's type-string names: the
`TensorProto.DataType` names in lower case)."""


def parse_onnx_type(text: str) -> tuple[object, ...]:
    """ONNX's type string of a value (`tensor(float)`, `seq(tensor(int64))`,
    `optional(seq(tensor(float)))`, `map(int64,tensor(float))`) as nested tuples:
    ("tensor", elem), ("seq", t), ("optional", t), ("map", key elem, t). ValueError
    naming what is wrong."""

    def value(at: int) -> tuple[tuple[object, ...], int]:
        for kind in ("tensor", "seq", "optional", "map"):
            if text.startswith(kind + "(", at):
                at += len(kind) + 1
                break
        else:
            raise ValueError(f"expected tensor(, seq(, optional( or map( at offset {at} of '{text}'")
        if kind == "tensor":
            end = text.find(")", at)
            if end < 0 or text[at:end] not in ONNX_ELEMENTS:
                raise ValueError(f"unknown element type at offset {at} of '{text}'")
            return ("tensor", text[at:end]), end + 1
        if kind == "map":
            comma = text.find(",", at)
            key = text[at:comma] if comma >= 0 else ""
            if key not in ONNX_ELEMENTS:
                raise ValueError(f"unknown map key type at offset {at} of '{text}'")
            inner, at = value(comma + 1)
            out: tuple[object, ...] = ("map", key, inner)
        else:
            inner, at = value(at)
            out = (kind, inner)
        if not text.startswith(")", at):
            raise ValueError(f"expected ')' at offset {at} of '{text}'")
        return out, at + 1

    parsed, end = value(0)
    if end != len(text):
        raise ValueError(f"unexpected '{text[end:]}' after the type in '{text}'")
    return parsed


@irdl_attr_definition
class OnnxValueType(ParametrizedAttribute, TypeAttribute):
    """A value of an ONNX type that no builtin type names: a sequence, an optional, a
    map, or a tensor of strings, named by ONNX's type string. Only framework-tier ops (`graph.onnx_node`) make
    and read one; tidal-run hands it from one onnxruntime run to the next as
    onnxruntime gives it (a list of arrays, an array or None, a dict).

        %s = graph.onnx_node "SplitToSequence" %x {...} : (tensor<1x8xf32>) -> !graph.onnx_value<"seq(tensor(float))">
    """

    name = "graph.onnx_value"

    onnx_type: StringAttr

    def __init__(self, onnx_type: str | StringAttr):
        super().__init__(onnx_type if isinstance(onnx_type, StringAttr) else StringAttr(onnx_type))

    @property
    def text(self) -> str:
        return self.onnx_type.data

    def print_parameters(self, printer: Printer) -> None:
        with printer.in_angle_brackets():
            printer.print_string_literal(self.onnx_type.data)

    @classmethod
    def parse_parameters(cls, parser: Parser) -> list[Attribute]:  # type: ignore[override]
        with parser.in_angle_brackets():
            start = parser.pos
            text = parser.parse_str_literal("an ONNX type string")
            if (why := _onnx_value_error(text)) is not None:
                parser.raise_error(f"!graph.onnx_value: {why}", start, parser.pos)
        return [StringAttr(text)]

    def verify(self) -> None:
        if (why := _onnx_value_error(self.onnx_type.data)) is not None:
            raise VerifyException(f"!graph.onnx_value: {why}")


def _onnx_value_error(text: str) -> str | None:
    """Why `text` is not the type string of a sequence, optional, map or string
    tensor; None if it is."""
    try:
        parsed = parse_onnx_type(text)
    except ValueError as e:
        return str(e)
    if parsed[0] == "tensor" and parsed[1] != "string":
        return f"'{text}' is a tensor (a builtin tensor type)"
    return None


@irdl_op_definition
class OnnxNodeOp(IRDLOperation):
    """ONNX nodes that neither the accelerator nor Tidal's NumPy kernels run: the
    framework tier of hierarchical partitioning, run by onnxruntime (tidal-run groups
    the maximal runs of such ops into one extracted ONNX model each).

    `model` is an ONNX model (base64 of its serialised `ModelProto`) holding the node
    (and, inlined as initializers, its constant inputs that are not f32), whose graph
    inputs are the op's operands in order, named by `inputs`, and whose graph outputs
    are its results, named by `outputs` (the ONNX names). Operands and results may
    have any element type the ONNX model uses (int64 indices, bool masks, float64)
    and dynamic dims; the accelerator and host tiers see only f32 static tensors.

        %y = graph.onnx_node "Elu" %x {inputs = ["x"], outputs = ["y"], model = "CAk..."} : (tensor<1x8xf32>) -> tensor<1x8xf32>

    `tidal.reason` (set by the importer) says why the op is on this tier.
    """

    name = "graph.onnx_node"

    args = var_operand_def(TensorType | UnrankedTensorType | OnnxValueType)
    outs = var_result_def(TensorType | UnrankedTensorType | OnnxValueType)
    op_type = prop_def(StringAttr)
    input_names = prop_def(ArrayAttr[StringAttr], prop_name="inputs")
    output_names = prop_def(ArrayAttr[StringAttr], prop_name="outputs")
    model = prop_def(StringAttr)

    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = "$op_type operands attr-dict `:` functional-type(operands, results)"

    def __init__(
        self,
        op_type: str,
        operands: Sequence[Value],
        result_types: Sequence[Attribute],
        inputs: Sequence[str],
        outputs: Sequence[str],
        model: bytes,
    ):
        import base64

        super().__init__(
            operands=[list(operands)],
            result_types=[list(result_types)],
            properties={
                "op_type": StringAttr(op_type),
                "inputs": ArrayAttr([StringAttr(n) for n in inputs]),
                "outputs": ArrayAttr([StringAttr(n) for n in outputs]),
                "model": StringAttr(base64.b64encode(model).decode("ascii")),
            },
        )

    @property
    def op_type_val(self) -> str:
        return self.op_type.data

    @property
    def inputs_val(self) -> tuple[str, ...]:
        return tuple(a.data for a in self.input_names.data)

    @property
    def outputs_val(self) -> tuple[str, ...]:
        return tuple(a.data for a in self.output_names.data)

    def model_bytes(self) -> bytes:
        """The serialised ONNX `ModelProto` (for `onnx.load_from_string`)."""
        import base64

        return base64.b64decode(self.model.data, validate=True)

    def verify_(self) -> None:
        import binascii

        def fail(message: str) -> None:
            raise VerifyException(f"'{self.name}' op {message}")

        for what, names, values in (
            ("inputs", self.inputs_val, self.args),
            ("outputs", self.outputs_val, self.outs),
        ):
            if len(names) != len(values):
                fail(f"names {len(names)} {what} for {len(values)} {'operands' if what == 'inputs' else 'results'}")
            if len(set(names)) != len(names) or "" in names:
                fail(f"{what} must be distinct non-empty names, got {list(names)}")
            for v in values:
                ty = v.type
                if isinstance(ty, OnnxValueType):
                    continue  # verified with its type
                elem = ty.element_type if isinstance(ty, UnrankedTensorType) else ty.get_element_type()  # type: ignore[union-attr]
                try:
                    numpy_dtype(elem)
                except KeyError:
                    fail(f"{what}: element type {elem} is not one the framework tier carries")
        if not self.outs:
            fail("must have at least one result")
        try:
            self.model_bytes()
        except (binascii.Error, ValueError):
            fail("model is not base64 (a serialised ONNX ModelProto)")


FRAMEWORK_OPS = (OnnxNodeOp,)
"""Graph ops of the framework tier."""


Graph = Dialect(
    "graph",
    [
        OnnxNodeOp,
        LogSoftmaxOp,
        SliceOp,
        SubOp,
        DivOp,
        MaxOp,
        MinOp,
        ConstantOp,
        MatMulOp,
        GemmOp,
        Conv2dOp,
        AddOp,
        MulOp,
        ReluOp,
        MaxPoolOp,
        ReshapeOp,
        FlattenOp,
        SoftmaxOp,
        BatchNormOp,
        ChannelAffineOp,
        AvgPoolOp,
        GlobalAvgPoolOp,
        ConcatOp,
        TransposeOp,
        LRNOp,
        SumOp,
        UnsqueezeOp,
        ConstantOfShapeOp,
        DropoutOp,
        RandomUniformLikeOp,
        ActivationOp,
        LoopOp,
        BernoulliOp,
        PiecewiseLinearOp,
    ],
    [OnnxValueType],
)

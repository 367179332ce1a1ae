"""The framework tier: ONNX nodes that neither the accelerator nor Tidal's NumPy
kernels run, run by onnxruntime as extracted ONNX models (the third tier of the seed's
hierarchical partitioning, after the accelerator and the host).

The importer makes each such node a `graph.onnx_node` whose `model` holds the node,
its constant inputs that are not f32 (as initializers) and its graph inputs and
outputs (`node_op`). `FrameworkModel` joins a run of such ops into one ONNX model,
binding each op's inputs to the outputs of the ops before it, and runs it with an
onnxruntime session made once:

    run = FrameworkModel(ops, inputs, outputs)   # ops: graph.onnx_node ops in order
    run({"x": array, ...})                       # {"y": array, ...}

Values keep the element type ONNX gives them (int64 indices, bool masks, float64);
only f32 tensors cross to the other tiers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cached_property
from typing import Any

import ml_dtypes  # noqa: F401  (NumPy's names of bfloat16, float8 and int4)
import numpy as np
from xdsl.dialects.builtin import DYNAMIC_INDEX, StringAttr, TensorType, UnrankedTensorType
from xdsl.ir import Attribute, SSAValue

from tidal.sim.inputs import RAW_DTYPES, as_declared
from tidal.dialects.graph import (
    ONNX_ELEMENTS,
    OnnxNodeOp,
    OnnxValueType,
    element_type,
    numpy_dtype,
    parse_onnx_type,
)


class FrameworkError(RuntimeError):
    """onnxruntime could not build or run a framework-tier model (one line)."""


# ------------------------------------------------------------------------- types


def value_type(type_proto: Any) -> Attribute | None:
    """The builtin tensor type of an ONNX `TypeProto` (dynamic dims `?`, no shape
    unranked), or None for one the framework tier does not carry (no tensor type,
    strings, sequences)."""
    import onnx

    if type_proto is None or not type_proto.HasField("tensor_type"):
        return None
    tensor = type_proto.tensor_type
    try:
        dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type)
        elem = element_type("bfloat16" if "bfloat16" in str(dtype) else dtype.name)
    except (KeyError, ValueError, TypeError):
        return None
    if not tensor.HasField("shape"):
        return UnrankedTensorType(elem)
    dims = [d.dim_value if d.HasField("dim_value") else DYNAMIC_INDEX for d in tensor.shape.dim]
    return TensorType(elem, dims)


def onnx_type_text(type_proto: Any) -> str | None:
    """ONNX's type string of a `TypeProto` (`seq(tensor(float))`: element types by
    name, shapes left out), or None for a type the framework tier does not carry
    (a sparse tensor, an element type it does not know, no type)."""
    import onnx

    def element(code: int) -> str | None:
        try:
            name = onnx.TensorProto.DataType.Name(code).lower()
        except ValueError:
            return None
        return name if name in ONNX_ELEMENTS else None

    which = type_proto.WhichOneof("value") if type_proto is not None else None
    if which == "tensor_type":
        elem = element(type_proto.tensor_type.elem_type)
        return f"tensor({elem})" if elem else None
    if which in ("sequence_type", "optional_type"):
        inner_proto = getattr(type_proto, which).elem_type
        inner = onnx_type_text(inner_proto)
        kind = "seq" if which == "sequence_type" else "optional"
        return f"{kind}({inner})" if inner else None
    if which == "map_type":
        key, inner = element(type_proto.map_type.key_type), onnx_type_text(type_proto.map_type.value_type)
        return f"map({key},{inner})" if key and inner else None
    return None


def onnx_value_type(type_proto: Any) -> OnnxValueType | None:
    """The `!graph.onnx_value` of a sequence, optional, map or string tensor
    `TypeProto`; None for another tensor (`value_type`) or a type the framework tier
    does not carry."""
    text = onnx_type_text(type_proto)
    if text is None or (text.startswith("tensor(") and text != "tensor(string)"):
        return None
    return OnnxValueType(text)


def type_proto_of(text: str) -> Any:
    """The `TypeProto` of ONNX type string `text` (`parse_onnx_type`'s grammar)."""
    import onnx

    def build(t: tuple[object, ...]) -> Any:
        if t[0] == "tensor":
            return onnx.helper.make_tensor_type_proto(_element_code(str(t[1])), None)
        if t[0] == "seq":
            return onnx.helper.make_sequence_type_proto(build(t[1]))  # type: ignore[arg-type]
        if t[0] == "optional":
            return onnx.helper.make_optional_type_proto(build(t[1]))  # type: ignore[arg-type]
        return onnx.helper.make_map_type_proto(_element_code(str(t[1])), build(t[2]))  # type: ignore[arg-type]

    return build(parse_onnx_type(text))


def _element_code(name: str) -> int:
    import onnx

    return onnx.TensorProto.DataType.Value(name.upper())


def _value_info(name: str, ty: Attribute) -> Any:
    import onnx

    if isinstance(ty, OnnxValueType):
        return onnx.helper.make_value_info(name, type_proto_of(ty.text))
    if isinstance(ty, UnrankedTensorType):
        elem, shape = ty.element_type, None
    else:
        assert isinstance(ty, TensorType)
        elem = ty.get_element_type()
        shape = [None if d == DYNAMIC_INDEX else d for d in ty.get_shape()]
    dtype = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(numpy_dtype(elem)))
    return onnx.helper.make_tensor_value_info(name, dtype, shape)


def _with_element(ty: Attribute, element: Attribute) -> Attribute:
    """Tensor type `ty` with element type `element`."""
    if isinstance(ty, UnrankedTensorType):
        return UnrankedTensorType(element)
    assert isinstance(ty, TensorType)
    return TensorType(element, ty.get_shape())


def _element(ty: Attribute) -> Attribute:
    assert isinstance(ty, TensorType | UnrankedTensorType)
    return ty.get_element_type()


def _cast(source: str, name: str, dtype: str) -> Any:
    """A Cast of tensor `source` to NumPy dtype `dtype`, named `name`."""
    import onnx

    to = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    return onnx.helper.make_node("Cast", [source], [name], to=to)


_TRAPPING = ("int32", "int64")
"""The element types whose division the CPU traps on (narrower ones are divided as
int, after C's promotions, and their quotient only wraps)."""


def _without_division_trap(node: Any, types: Mapping[str, Attribute], initializers: dict[str, Any]) -> list[Any]:
    """`node`, or for an integer Div or Mod (fmod 0) of int32 or int64 the nodes that
    compute it without dividing by -1: the CPU traps on the smallest integer divided
    by -1 (SIGFPE), and onnxruntime with it, killing the process that runs the
    framework tier. Where the divisor is -1 it divides by 1 and negates (the
    quotient wraps, as two's complement arithmetic does: ONNX leaves it undefined);
    a remainder by -1 is 0, as by 1."""
    import onnx

    if node.op_type not in ("Div", "Mod") or node.domain not in ("", "ai.onnx") or len(node.input) != 2:
        return [node]
    if node.op_type == "Mod" and any(a.name == "fmod" and a.i for a in node.attribute):
        return [node]
    ty = types.get(node.input[1])
    if not isinstance(ty, (TensorType, UnrankedTensorType)):
        return [node]
    try:
        dtype = numpy_dtype(ty.get_element_type() if isinstance(ty, TensorType) else ty.element_type)
    except KeyError:
        return [node]
    if dtype not in _TRAPPING:
        return [node]
    out, b = node.output[0], node.input[1]
    minus_one, one = f"{out}.tidal_minus_one", f"{out}.tidal_one"
    for name, value in ((minus_one, -1), (one, 1)):
        initializers.setdefault(name, onnx.numpy_helper.from_array(np.array(value, dtype), name))
    by_minus_one, divisor = f"{out}.tidal_by_minus_one", f"{out}.tidal_divisor"
    guard = [
        onnx.helper.make_node("Equal", [b, minus_one], [by_minus_one]),
        onnx.helper.make_node("Where", [by_minus_one, one, b], [divisor]),
    ]
    safe = onnx.NodeProto()
    safe.CopyFrom(node)
    safe.input[1] = divisor
    if node.op_type == "Mod":
        return [*guard, safe]
    quotient, sign = f"{out}.tidal_quotient", f"{out}.tidal_sign"
    safe.output[0] = quotient
    safe.name = f"{node.name}.quotient" if node.name else ""  # (names are unique)
    return [
        *guard, safe,
        onnx.helper.make_node("Where", [by_minus_one, minus_one, one], [sign]),
        onnx.helper.make_node("Mul", [quotient, sign], [out], name=node.name),
    ]


def outer_names(graph: Any) -> list[str]:
    """The names a subgraph (an If branch, a Loop or Scan body) reads from outside
    itself, in order of first use."""
    defined = {i.name for i in graph.input} | {t.name for t in graph.initializer}
    used: list[str] = []
    for node in graph.node:
        for name in node.input:
            if name and name not in defined and name not in used:
                used.append(name)
        for attr in node.attribute:
            for sub in [attr.g] if attr.HasField("g") else list(attr.graphs):
                for name in outer_names(sub):
                    if name not in defined and name not in used:
                        used.append(name)
        defined.update(node.output)
    return used


def node_inputs(node: Any) -> list[str]:
    """Every tensor `node` reads: its inputs, then what its subgraphs read from the
    enclosing graph."""
    names = [n for n in node.input if n]
    for attr in node.attribute:
        for sub in [attr.g] if attr.HasField("g") else list(attr.graphs):
            names += [n for n in outer_names(sub) if n not in names]
    return list(dict.fromkeys(names))


def node_op(
    node: Any,
    operands: Sequence[tuple[str, SSAValue]],
    constants: Mapping[str, np.ndarray],
    results: Sequence[tuple[str, Attribute]],
    opsets: Sequence[Any],
    ir_version: int,
) -> OnnxNodeOp:
    """The `graph.onnx_node` of ONNX `node`: `operands` (name, value) are its graph
    inputs, `constants` (name -> array) its inlined initializers, `results`
    (name, type) its outputs; `opsets` the model's `opset_import`."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.helper.make_graph(
        [node],
        node.name or node.op_type,
        [_value_info(name, v.type) for name, v in operands],
        [_value_info(name, ty) for name, ty in results],
        [numpy_helper.from_array(np.asarray(a), name) for name, a in constants.items()],
    )
    # The Identity nodes that join payloads (`FrameworkModel`) take sequences and
    # optionals from opset 16 on.
    opaque = any(isinstance(ty, OnnxValueType) for ty in [*(v.type for _, v in operands), *(t for _, t in results)])
    floor = IDENTITY_OPAQUE_OPSET if opaque else OLDEST_OPSET
    model = onnx.helper.make_model(graph, opset_imports=lowest_opsets(node, opsets, floor))
    model.ir_version = ir_version
    return OnnxNodeOp(
        node.op_type,
        [v for _, v in operands],
        [ty for _, ty in results],
        [name for name, _ in operands],
        [name for name, _ in results],
        model.SerializeToString(),
    )


OLDEST_OPSET = 7
"""The oldest ONNX opset a framework-tier payload is given (onnxruntime's oldest)."""
IDENTITY_OPAQUE_OPSET = 16
"""The oldest at which Identity takes sequences and optionals."""


def lowest_opsets(node: Any, opsets: Sequence[Any], floor: int = OLDEST_OPSET) -> list[Any]:
    """`opsets` (a model's `opset_import`) with the ONNX domain's version lowered to
    the oldest at which `node` and every node of its subgraphs have the schema they
    have at the declared version (at least `floor`): the same operator, which
    an onnxruntime older than the model's opset also implements: a node of a model
    exported for opset 28 whose schema dates from opset 14 declares opset 14, which
    an onnxruntime whose newest opset is older than 28 loads (onnx's node tests of
    SwiGLU's expansion). Other domains are kept."""
    import onnx

    declared = {o.domain: o.version for o in opsets}
    if "" not in declared:
        return list(opsets)
    need = floor

    def visit(n: Any) -> bool:
        nonlocal need
        if n.domain in ("", "ai.onnx"):
            try:
                schema = onnx.defs.get_schema(n.op_type, declared[""], "")
            except onnx.defs.SchemaError:
                return False  # not an ONNX operator at this opset: keep the declared one
            need = max(need, schema.since_version)
        for attr in n.attribute:
            for sub in [attr.g] if attr.HasField("g") else list(attr.graphs):
                if not all(visit(inner) for inner in sub.node):
                    return False
        return True

    if not visit(node) or need >= declared[""]:
        return list(opsets)
    return [
        onnx.helper.make_opsetid("", need) if o.domain == "" else o for o in opsets
    ]


# ------------------------------------------------------------------- running


# How much more address space onnxruntime may take while a framework segment runs:
# the largest chip preset's DRAM, the bound every other tensor of a model meets.
MEMORY_BUDGET = 4 << 30


@contextmanager
def address_space_budget(extra: int) -> Iterator[None]:
    """Limit this process's address space to its current size plus `extra` bytes
    (RLIMIT_AS, where the platform has it) for the duration; restored after."""
    try:
        import resource

        with open("/proc/self/statm", encoding="ascii") as f:
            size = int(f.read().split()[0]) * resource.getpagesize()
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, OSError, ValueError, AttributeError):
        yield  # no limit to set here
        return
    limit = size + extra
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    if soft != resource.RLIM_INFINITY and soft < limit:
        yield  # already tighter
        return
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


# How long an interrupted Run may take to notice RunOptions.terminate.
_TERMINATE_WAIT_S = 5.0


def run_session(
    session: Any, names: Sequence[str] | None, feeds: Mapping[str, Any], run_options: Any = None
) -> list[Any]:
    """`session.run(names, feeds, run_options)` on a worker thread while this one
    waits, so that SIGINT and SIGTERM still reach the tools' handlers (`tool_main`):
    Python runs a signal handler only between bytecodes of the main thread, and a
    Run inside onnxruntime (a Loop of 2^40 iterations) never returns to them. On
    such an interruption the Run is told to stop (RunOptions.terminate) and the
    exception goes on once the Run has stopped (or after _TERMINATE_WAIT_S; the
    worker is a daemon, so the process can exit without it)."""
    import onnxruntime as ort

    if run_options is None:
        run_options = ort.RunOptions()
    result: dict[str, Any] = {}
    done = threading.Event()  # (not Thread.join: an interrupted join forgets the thread)

    def work() -> None:
        try:
            result["values"] = session.run(names, feeds, run_options)
        except BaseException as e:  # handed to the waiting thread
            result["error"] = e
        finally:
            done.set()

    threading.Thread(target=work, name="onnxruntime-run", daemon=True).start()
    try:
        done.wait()  # a lock wait that signals interrupt
    except BaseException:
        run_options.terminate = True  # checked between kernels and Loop iterations
        done.wait(_TERMINATE_WAIT_S)  # a Run torn down at exit aborts the process
        raise
    if "error" in result:
        raise result["error"]
    return result["values"]


# The joined model's own input and output names (the callers' names may be any).
_INPUT, _OUTPUT = "tidal.input.{}", "tidal.output.{}"


_EXCHANGED = {
    name: "int8" if name.startswith("int") else "uint8" if name.startswith("uint") else "float32"
    for name in RAW_DTYPES
}
"""The element types onnxruntime's Python binding neither takes nor gives correctly
("Numpy_type 256 can't be converted to MLDataType" for bfloat16; float8 comes back as
its uint8 bit patterns), by the wider type each crosses it as. Every value of such a
type is a value of the wider one, so the crossing is exact both ways: the model
casts such an input to its type as its first node and such an output to the wider
type as its last, and the caller's arrays are converted with ml_dtypes."""


def _feed(value: Any, ty: Attribute) -> Any:
    """A caller's value for an input of type `ty`, as onnxruntime's binding takes it:
    one of a narrow type (raw records an .npz kept, or ml_dtypes' arrays) widened."""
    wide = _exchange_dtype(ty)
    if wide is None:
        return value
    return as_declared(np.asarray(value), numpy_dtype(_element(ty))).astype(wide)


def is_narrow(ty: Attribute | None) -> bool:
    """Whether `ty` is a tensor of one of RAW_DTYPES (bfloat16, float8, int4, ...)."""
    return ty is not None and _exchange_dtype(ty) is not None


def _exchange_dtype(ty: Attribute) -> str | None:
    """The NumPy dtype a tensor of type `ty` crosses onnxruntime's binding as when it
    cannot cross as itself (`_EXCHANGED`), else None."""
    if not isinstance(ty, TensorType | UnrankedTensorType):
        return None
    try:
        return _EXCHANGED.get(numpy_dtype(ty.get_element_type()))
    except KeyError:
        return None


class FrameworkModel:
    """One ONNX model from a run of `graph.onnx_node` ops (in program order):
    `inputs` are the values it reads from outside the run, `outputs` those it
    returns; both are named by the caller (`input_names`, `output_names`)."""

    def __init__(
        self,
        ops: Sequence[OnnxNodeOp],
        inputs: Sequence[tuple[str, SSAValue]],
        outputs: Sequence[tuple[str, SSAValue]],
    ):
        self.ops = list(ops)
        self.inputs = list(inputs)
        self.outputs = list(outputs)

    @cached_property
    def model(self) -> Any:
        """The joined ONNX model. Each op's payload names its inputs and outputs by
        ONNX names; an Identity binds a name to the value it stands for wherever the
        two differ (a caller's name, another op's output)."""
        import onnx

        produced: dict[SSAValue, str] = {}  # value -> a name that holds it
        bound: dict[str, SSAValue] = {}
        nodes: list[Any] = []
        initializers: dict[str, Any] = {}
        names: set[str] = set()  # of the nodes
        opsets: dict[str, int] = {}
        ir_version = 3
        graph_inputs = []
        self._input_names: list[str] = []
        for i, (_, value) in enumerate(self.inputs):
            name = _INPUT.format(i)
            if isinstance(value.type, OnnxValueType):
                # Named as the ops read it: an Identity takes sequences and
                # optionals only from opset 16 on, and the ops may be older.
                name = next(
                    (n for op in self.ops for n, v in zip(op.inputs_val, op.args, strict=True) if v is value),
                    name,
                )
            self._input_names.append(name)
            if (wide := _exchange_dtype(value.type)) is not None:
                self._input_names[-1] = f"{name}.{wide}"
                graph_inputs.append(_value_info(f"{name}.{wide}", _with_element(value.type, element_type(wide))))
                nodes.append(_cast(f"{name}.{wide}", name, numpy_dtype(_element(value.type))))
            else:
                graph_inputs.append(_value_info(name, value.type))
            produced[value] = name
            bound[name] = value

        def bind(name: str, value: SSAValue) -> None:
            if name in bound:
                if bound[name] is not value:
                    raise FrameworkError(f"framework tier: tensor name '{name}' stands for two values")
                return
            source = produced.get(value)
            if source is None:
                raise FrameworkError(f"framework tier: no value for input '{name}'")
            nodes.append(onnx.helper.make_node("Identity", [source], [name]))
            bound[name] = value

        for op in self.ops:
            payload = onnx.load_from_string(op.model_bytes())
            ir_version = max(ir_version, payload.ir_version)
            for o in payload.opset_import:
                opsets[o.domain] = max(opsets.get(o.domain, 0), o.version)
            for name, value in zip(op.inputs_val, op.args, strict=True):
                bind(name, value)
            for t in payload.graph.initializer:
                initializers.setdefault(t.name, t)
            origin = op.attributes.get("tidal.origin")
            for node in payload.graph.node:
                if not node.name and isinstance(origin, StringAttr):
                    # onnxruntime's messages name the node then; names are unique (an
                    # Attention's parts share its label)
                    node.name = origin.data
                    k = 1
                    while node.name in names:
                        node.name, k = f"{origin.data}.{k}", k + 1
                if node.name:
                    names.add(node.name)
            types = dict(zip(op.inputs_val, (v.type for v in op.args), strict=True))
            for node in payload.graph.node:
                nodes.extend(_without_division_trap(node, types, initializers))
            for name, value in zip(op.outputs_val, op.outs, strict=True):
                bound[name] = value
                produced[value] = name
        graph_outputs = []
        self._output_names: list[str] = []
        for i, (caller, value) in enumerate(self.outputs):
            name = _OUTPUT.format(i)
            source = produced.get(value)
            if source is None:
                raise FrameworkError(f"framework tier: no value for output '{caller}'")
            if isinstance(value.type, OnnxValueType):
                # The producer's own name (as for inputs: no Identity); listed once.
                self._output_names.append(source)
                if source not in [o.name for o in graph_outputs]:
                    graph_outputs.append(_value_info(source, value.type))
                continue
            self._output_names.append(name)
            if (wide := _exchange_dtype(value.type)) is not None:
                nodes.append(_cast(source, name, wide))
                graph_outputs.append(_value_info(name, _with_element(value.type, element_type(wide))))
            else:
                nodes.append(onnx.helper.make_node("Identity", [source], [name]))
                graph_outputs.append(_value_info(name, value.type))
        graph = onnx.helper.make_graph(
            nodes, "framework", graph_inputs, graph_outputs, list(initializers.values())
        )
        model = onnx.helper.make_model(
            graph, opset_imports=[onnx.helper.make_opsetid(d, v) for d, v in opsets.items()]
        )
        model.ir_version = ir_version
        return model

    @cached_property
    def session(self) -> Any:
        try:
            import onnxruntime as ort
        except ImportError:  # pragma: no cover - a dependency of the package
            raise FrameworkError(
                "the framework tier needs onnxruntime (pip install onnxruntime)"
            ) from None
        options = ort.SessionOptions()
        options.log_severity_level = 4  # errors come back as exceptions, not log lines
        try:
            return ort.InferenceSession(
                self.model.SerializeToString(), options, providers=["CPUExecutionProvider"]
            )
        except Exception as e:  # onnxruntime raises its own exception types
            raise FrameworkError(f"onnxruntime cannot load {self.describe()}: {_line(e)}") from None

    def describe(self) -> str:
        kinds = ", ".join(dict.fromkeys(op.op_type_val for op in self.ops))
        return f"the framework-tier subgraph of {len(self.ops)} node(s) ({kinds})"

    def __call__(
        self, feeds: Mapping[str, np.ndarray], memory_bytes: int = MEMORY_BUDGET
    ) -> dict[str, np.ndarray]:
        """Run the model on `feeds` (by the callers' input names). onnxruntime may
        allocate at most `memory_bytes` more address space while it runs (a shape
        computed from the data can ask for any size): beyond that its allocation
        fails and the run is a FrameworkError, not an exhausted machine."""
        import onnxruntime as ort

        session = self.session
        run_options = ort.RunOptions()
        run_options.log_severity_level = 4
        try:
            with address_space_budget(memory_bytes):
                names = self._output_names  # (made with the model)
                values = run_session(
                    session,
                    list(dict.fromkeys(names)),
                    {self._input_names[i]: _feed(feeds[n], v.type) for i, (n, v) in enumerate(self.inputs)},
                    run_options,
                )
                by_name = dict(zip(dict.fromkeys(names), values, strict=True))
                values = [by_name[n] for n in names]
        except Exception as e:
            raise FrameworkError(f"onnxruntime failed running {self.describe()}: {_line(e)}") from None
        out = {}
        for (name, value), array in zip(self.outputs, values, strict=True):
            ty = value.type
            if isinstance(ty, OnnxValueType):
                out[name] = array  # a list of arrays, an array or None, a dict
                continue
            array = np.asarray(array)
            if _exchange_dtype(ty) is not None:
                array = array.astype(np.dtype(numpy_dtype(_element(ty))))
            if isinstance(ty, TensorType) and DYNAMIC_INDEX not in ty.get_shape():
                shape = tuple(ty.get_shape())
                if array.shape != shape:
                    if array.size != int(np.prod(shape)):
                        raise FrameworkError(
                            f"onnxruntime gave output '{name}' of {self.describe()} shape "
                            f"{list(array.shape)}, where ONNX shape inference said {list(shape)}"
                        )
                    array = array.reshape(shape)  # a [1] where inference said []
            out[name] = array
        return out


def run_constant_model(model: Any) -> list[Any]:
    """The outputs of `model`, which takes no inputs (a node on constants), by
    onnxruntime within MEMORY_BUDGET; FrameworkError (one line) if it cannot."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4
    try:
        with address_space_budget(MEMORY_BUDGET):
            session = ort.InferenceSession(
                model.SerializeToString(), options, providers=["CPUExecutionProvider"]
            )
            return run_session(session, None, {}, ort.RunOptions())
    except Exception as e:  # onnxruntime raises its own exception types
        raise FrameworkError(f"onnxruntime cannot compute the constant: {_line(e)}") from None


def _line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def run_node(op: OnnxNodeOp, *operands: np.ndarray) -> tuple[np.ndarray, ...]:
    """Run one `graph.onnx_node` on its operand arrays: its results, in order (the
    registry's reference for the op: `eval_graph`, `--check-numerics`)."""
    model = FrameworkModel(
        [op],
        [(str(i), v) for i, v in enumerate(op.args)],
        [(str(i), v) for i, v in enumerate(op.outs)],
    )
    out = model({str(i): a for i, a in enumerate(operands)})
    return tuple(out[str(i)] for i in range(len(op.outs)))

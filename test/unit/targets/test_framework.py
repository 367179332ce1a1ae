"""targets/framework.py: the address-space budget (while a framework segment runs,
onnxruntime, or anything else in the process, may take at most the budget more) and
the ONNX types other than tensors the framework tier carries."""

import sys

import numpy as np
import pytest

from tidal.targets.framework import address_space_budget


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc")
def test_the_budget_bounds_new_allocations_and_is_lifted_after():
    import resource

    before = resource.getrlimit(resource.RLIMIT_AS)
    with address_space_budget(256 << 20):
        with pytest.raises(MemoryError):
            np.empty(2 << 30, np.uint8)  # virtual only: no page is touched
        small = np.empty(16 << 20, np.uint8)
        assert small.nbytes == 16 << 20
    assert resource.getrlimit(resource.RLIMIT_AS) == before
    big = np.empty(2 << 30, np.uint8)  # the limit is gone
    assert big.nbytes == 2 << 30


def test_onnx_type_strings_round_trip_through_type_protos():
    """Sequences, optionals and maps: ONNX's type string of a TypeProto and back;
    tensors have no !graph.onnx_value (builtin tensor types carry them) except
    string tensors, nor do types the framework tier does not carry."""
    import onnx
    from onnx import TensorProto, helper

    from tidal.dialects.graph import OnnxValueType
    from tidal.targets.framework import onnx_type_text, onnx_value_type, type_proto_of

    for text in ("seq(tensor(float))", "optional(seq(tensor(int64)))",
                 "map(int64,tensor(float))", "seq(map(string,tensor(double)))",
                 "optional(tensor(bool))"):
        proto = type_proto_of(text)
        assert onnx_type_text(proto) == text
        assert onnx_value_type(proto) == OnnxValueType(text)
        assert isinstance(proto, onnx.TypeProto)
    tensor = helper.make_tensor_type_proto(TensorProto.FLOAT, [2, 3])
    assert onnx_type_text(tensor) == "tensor(float)" and onnx_value_type(tensor) is None
    # strings have no builtin element type: a string tensor is an !graph.onnx_value
    strings = helper.make_tensor_type_proto(TensorProto.STRING, [2])
    assert onnx_value_type(strings) == OnnxValueType("tensor(string)")
    assert type_proto_of("tensor(string)").tensor_type.elem_type == TensorProto.STRING
    sparse = onnx.TypeProto()
    sparse.sparse_tensor_type.elem_type = TensorProto.FLOAT
    assert onnx_type_text(sparse) is None and onnx_value_type(None) is None


def test_onnx_value_type_verifies_its_string():
    import re
    from xdsl.utils.exceptions import VerifyException

    from tidal.dialects.graph import OnnxValueType

    OnnxValueType("tensor(string)").verify()  # no builtin type holds strings
    for bad, why in (("tensor(float)", "is a tensor"), ("tensor(int64)", "is a tensor"),
                     ("seq(tensor(f32))", "unknown element type"),
                     ("seq(tensor(float)", "expected ')'"), ("seq(tensor(float)))", "unexpected ')'")):
        with pytest.raises(VerifyException, match=re.escape(why)):
            OnnxValueType(bad)


def test_a_payload_takes_the_oldest_opset_of_the_same_schema():
    """A node's payload declares the oldest ONNX opset at which it (and its
    subgraphs' nodes) have the schema they have at the model's opset, so an
    onnxruntime older than the model's opset runs it; never older than `floor`, and
    unchanged where a node is not an ONNX operator at that opset."""
    from onnx import TensorProto, helper

    from tidal.targets.framework import lowest_opsets

    def version(node, declared=28, floor=7):
        out = lowest_opsets(node, [helper.make_opsetid("", declared), helper.make_opsetid("com.x", 1)], floor)
        assert [o.domain for o in out] == ["", "com.x"] and out[1].version == 1
        return out[0].version

    import onnx

    hardmax = helper.make_node("Hardmax", ["x"], ["y"])
    since = onnx.defs.get_schema("Hardmax", 28, "").since_version
    assert version(hardmax) == max(7, since) and version(hardmax, floor=16) == max(16, since)
    assert version(helper.make_node("NotAnOp", ["x"], ["y"])) == 28
    body = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["z"])], "b", [], [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1])]
    )
    cond = helper.make_node("If", ["c"], ["y"], then_branch=body, else_branch=body)
    relu_since = onnx.defs.get_schema("Relu", 28, "").since_version
    if_since = onnx.defs.get_schema("If", 28, "").since_version
    assert version(cond) == max(relu_since, if_since, 7)
    assert version(hardmax, declared=5) == 5  # already at most what it needs


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
@pytest.mark.parametrize("op", ["Div", "Mod"])
def test_the_smallest_integer_by_minus_one_does_not_kill_the_process(tmp_path, dtype, op):
    """An int32 or int64 Div (or Mod) of the type's smallest value by -1 traps on the
    CPU: onnxruntime died with SIGFPE, and tidal-run with it (exit 136, no message).
    The framework tier divides by 1 there and negates (the quotient wraps; a
    remainder is 0); every other element is onnxruntime's."""
    import onnx
    import onnxruntime as ort
    from onnx import helper

    from tidal.tools.tidal_run import run_model

    code = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    graph = helper.make_graph(
        [helper.make_node(op, ["a", "b"], ["y"])], "g",
        [helper.make_tensor_value_info("a", code, [2, 3]), helper.make_tensor_value_info("b", code, [3])],
        [helper.make_tensor_value_info("y", code, [2, 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "div.onnx"
    onnx.save(model, path)
    smallest = np.iinfo(dtype).min
    a = np.array([[smallest, 7, -7], [9, -9, 5]], dtype)
    b = np.array([-1, -3, 2], dtype)
    got, _ = run_model(str(path), {"a": a, "b": b}, "small")
    safe = a.copy()
    safe[0, 0] = 0  # (what onnxruntime can be asked without trapping)
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"a": safe, "b": b})[0]
    assert got["y"].dtype == dtype
    np.testing.assert_array_equal(got["y"].reshape(-1)[1:], want.reshape(-1)[1:])
    assert got["y"][0, 0] == (smallest if op == "Div" else 0)


_NARROW = [
    # (ONNX type, ml_dtypes name, values every one of which the type holds exactly)
    ("BFLOAT16", "bfloat16", [1.5, -2.25, 0.0078125, 2.0**127]),
    ("FLOAT8E4M3FN", "float8_e4m3fn", [1.5, -2.25, 0.015625, 448.0]),
    ("FLOAT8E4M3FNUZ", "float8_e4m3fnuz", [1.5, -2.25, 0.015625, 240.0]),
    ("FLOAT8E5M2", "float8_e5m2", [1.5, -2.5, 0.0078125, 57344.0]),
    ("FLOAT8E5M2FNUZ", "float8_e5m2fnuz", [1.5, -2.5, 0.0078125, 57344.0]),
    ("INT4", "int4", [-8, -1, 0, 7]),
    ("UINT4", "uint4", [0, 1, 9, 15]),
]


def _cast_model(path, src: str, dst: str, opset: int = 21):
    import onnx
    from onnx import TensorProto, helper

    a, b = getattr(TensorProto, src), getattr(TensorProto, dst)
    graph = helper.make_graph(
        [helper.make_node("Cast", ["x"], ["y"], to=b)], "g",
        [helper.make_tensor_value_info("x", a, [4])], [helper.make_tensor_value_info("y", b, [4])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 10
    onnx.save(model, path)
    return str(path)


@pytest.mark.parametrize("onnx_type, dtype, values", _NARROW)
def test_narrow_element_types_cross_to_onnxruntime_exactly(tmp_path, onnx_type, dtype, values):
    """bfloat16, float8 and int4 values on the framework tier: onnxruntime's Python
    binding takes and gives none of them (bfloat16: "Numpy_type 256 can't be
    converted to MLDataType"; float8 came back as its uint8 bit patterns), and
    Tidal refused float8 and int4 models outright. Each crosses as float32 or
    (u)int8 now, cast inside the extracted model, so a Cast from and to the type
    gives exactly the values ml_dtypes gives."""
    import ml_dtypes  # noqa: F401

    from tidal.tools.tidal_run import run_model

    wide = "float32" if "FLOAT" in onnx_type else ("int8" if onnx_type.startswith("INT") else "uint8")
    x = np.array(values, wide)
    narrow = x.astype(dtype)
    to, _ = run_model(_cast_model(tmp_path / "to.onnx", wide.upper().replace("32", ""), onnx_type), {"x": x}, "small")
    assert to["y"].dtype == np.dtype(dtype)
    np.testing.assert_array_equal(to["y"].astype(wide), x)
    back, _ = run_model(_cast_model(tmp_path / "from.onnx", onnx_type, wide.upper().replace("32", "")), {"x": narrow}, "small")
    assert back["y"].dtype == np.dtype(wide)
    np.testing.assert_array_equal(back["y"], x)


def test_an_npz_of_a_narrow_type_is_read_as_the_declared_type(tmp_path):
    """numpy.savez keeps a float8 array as raw one-byte records ('|V1'): tidal-run
    takes such records as the type the model declares, and writes a float8 output
    the same way; an array of another dtype is still refused, with ml_dtypes'
    name in the hint."""
    import ml_dtypes

    from tidal.tools.tidal_run import main

    model = _cast_model(tmp_path / "m.onnx", "FLOAT8E4M3FN", "FLOAT")
    x = np.array([1.5, -2.25, 0.015625, 448.0], np.float32)
    np.savez(tmp_path / "in.npz", x=x.astype(ml_dtypes.float8_e4m3fn))
    assert np.load(tmp_path / "in.npz")["x"].dtype == np.dtype("V1")
    main([model, "--inputs", str(tmp_path / "in.npz"), "--outputs", str(tmp_path / "out.npz")])
    np.testing.assert_array_equal(np.load(tmp_path / "out.npz")["y"], x)
    np.savez(tmp_path / "bad.npz", x=x.astype(np.float16))
    with pytest.raises(SystemExit) as info:
        main([model, "--inputs", str(tmp_path / "bad.npz"), "--outputs", str(tmp_path / "o2.npz")])
    assert info.value.code != 0
    assert not (tmp_path / "o2.npz").exists()


def test_a_constant_cast_to_a_narrow_type_is_onnxruntimes(tmp_path):
    """Casts of constants fold at import, by onnx's reference, which truncates a
    float cast to int4 (-2.7 -> -2) where onnxruntime rounds (-3): a cast whose
    result is bfloat16, float8, int4, ... now runs on the framework tier, so the
    result is onnxruntime's."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    from tidal.tools.tidal_run import run_model

    c = numpy_helper.from_array(np.array([1.3, -2.7, 0.4, 5.0], np.float32), "c")
    graph = helper.make_graph(
        [helper.make_node("Cast", ["c"], ["q"], to=TensorProto.INT4),
         helper.make_node("Cast", ["q"], ["f"], to=TensorProto.FLOAT),
         helper.make_node("Add", ["x", "f"], ["y"])],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])], [c],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    onnx.save(model, tmp_path / "m.onnx")
    x = np.array([0.25, 3.0, -1.0, 2.0], np.float32)
    got, _ = run_model(str(tmp_path / "m.onnx"), {"x": x}, "small")
    want = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_array_equal(got["y"], want)
    np.testing.assert_array_equal(got["y"], x + np.array([1, -3, 0, 5], np.float32))


def test_int4_weights_dequantized_are_constants_on_the_accelerator(tmp_path):
    """Weight-only int4 quantization (DequantizeLinear of an int4 initializer,
    opset 21) folds exactly, int4 to float32 being exact: the model compiles to
    accelerator code, and its result is the float matmul of the dequantized
    weights."""
    import ml_dtypes
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from tidal.targets.onnx_import import import_onnx
    from tidal.dialects import graph as graph_dialect
    from tidal.tools.tidal_run import run_model

    rng = np.random.default_rng(0)
    w = rng.integers(-8, 8, (16, 8)).astype(np.int8)
    weights = helper.make_tensor("w", TensorProto.INT4, [16, 8], w.flatten().tolist())
    scale = numpy_helper.from_array(np.array(0.05, np.float32), "s")
    graph = helper.make_graph(
        [helper.make_node("DequantizeLinear", ["w", "s"], ["wf"]), helper.make_node("MatMul", ["x", "wf"], ["y"])],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 8])], [weights, scale],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    module = import_onnx(model)
    assert not [op for op in module.walk() if isinstance(op, graph_dialect.OnnxNodeOp)]
    onnx.save(model, tmp_path / "m.onnx")
    x = rng.standard_normal((4, 16)).astype(np.float32)
    got, _ = run_model(str(tmp_path / "m.onnx"), {"x": x}, "small")
    dequantized = w.astype(ml_dtypes.int4).astype(np.float32) * np.float32(0.05)
    np.testing.assert_allclose(got["y"], x @ dequantized, rtol=1e-5, atol=1e-6)

"""Hierarchical partitioning's framework tier: an ONNX node that Tidal does not import
(or whose values are not static f32 tensors) runs in onnxruntime inside tidal-run,
the maximal runs of such nodes as one extracted ONNX model each, between accelerator
and host segments; shape computations on constants are folded at import. Every result
is compared with onnxruntime on the whole model."""

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from harness import assert_one_line_error, tool
from onnx import TensorProto, helper, numpy_helper

from tidal.dialects import graph
from tidal.passes.graph.host_split import split_host
from tidal.passes.graph.partition import annotate
from tidal.targets.onnx_import import import_notes, import_onnx


def _save(tmp: Path, name: str, nodes, inputs, outputs, inits=(), opset=17, feeds=None):
    g = helper.make_graph(nodes, name, inputs, outputs, list(inits))
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    path = tmp / f"{name}.onnx"
    onnx.save(model, path)
    np.savez(tmp / f"{name}-in.npz", **feeds)
    return path


def _ref(path: Path, feeds):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, feeds), strict=True))


def _run(path: Path, tmp: Path, *extra: str):
    out, stats = tmp / "out.npz", tmp / "stats.json"
    r = tool("tidal-run", path, "--inputs", path.with_name(path.stem + "-in.npz"),
             "--outputs", out, "--stats", stats, "--chip", "small", *extra)
    assert r.returncode == 0, r.stderr
    return dict(np.load(out)), json.loads(stats.read_text()), r.stdout


def _close(got, ref):
    assert got.dtype == ref.dtype and got.shape == ref.shape
    scale = max(float(np.abs(ref).max()), 1e-30)
    assert float(np.abs(got.astype(np.float64) - ref).max()) <= 1e-3 * scale


def _f32(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _init(name, value):
    return numpy_helper.from_array(np.asarray(value), name)


def test_unsupported_ops_int_indices_and_shape_folding(tmp_path):
    """Conv (accel) -> Round (no kernel) -> Shape/Gather/Unsqueeze/Concat (folded at
    import) -> Reshape (accel view) -> Gather by runtime int64 indices (framework)
    -> Relu (accel)."""
    rng = np.random.default_rng(0)
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], name="conv"),
        helper.make_node("Round", ["c"], ["e"], name="round"),
        helper.make_node("Shape", ["e"], ["s"]),
        helper.make_node("Gather", ["s", "i0"], ["s0"], axis=0),
        helper.make_node("Unsqueeze", ["s0", "ax"], ["s0u"]),
        helper.make_node("Concat", ["s0u", "m1"], ["shp"], axis=0),
        helper.make_node("Reshape", ["e", "shp"], ["r"], name="flat"),
        helper.make_node("Gather", ["r", "idx"], ["g"], axis=1, name="pick"),
        helper.make_node("Relu", ["g"], ["y"], name="relu"),
    ]
    feeds = {"x": rng.standard_normal((1, 4, 6, 6)).astype(np.float32),
             "idx": np.array([5, 100, 7, 287], np.int64)}
    path = _save(
        tmp_path, "mixed", nodes,
        [_f32("x", [1, 4, 6, 6]), helper.make_tensor_value_info("idx", TensorProto.INT64, [4])],
        [_f32("y", [1, 4])],
        [_init("w", rng.standard_normal((8, 4, 3, 3)).astype(np.float32)),
         _init("i0", np.array(0, np.int64)), _init("ax", np.array([0], np.int64)),
         _init("m1", np.array([-1], np.int64))],
        feeds=feeds,
    )
    got, stats, stdout = _run(path, tmp_path)
    _close(got["y"], _ref(path, feeds)["y"])
    placement = stats["placement"]
    assert placement["framework_ops"] == ["round", "pick"]
    assert (placement["accel"], placement["host"], placement["reject"]) == (3, 0, 0)
    assert stats["segments"] == ["accel", "framework", "accel", "framework", "accel"]
    assert "2 on onnxruntime (framework tier)" in stdout
    # The shape computation left no op: folded at import.
    kinds = {op.name for op in import_onnx(path).body.walk()}
    assert "graph.reshape" in kinds and kinds.isdisjoint({"graph.concat"})


def test_a_run_of_framework_ops_is_one_onnx_model_and_tiers_are_grouped(tmp_path):
    """Two independent chains interleaved in the file: Hardmax -> Round (framework)
    on one input, Relu -> Relu (accel) on the other. The ops are ordered by tier, so
    each tier runs once; the two framework ops are one extracted model."""
    nodes = [
        helper.make_node("Hardmax", ["a"], ["a1"], name="hardmax"),
        helper.make_node("Relu", ["b"], ["b1"], name="r1"),
        helper.make_node("Round", ["a1"], ["a2"], name="round"),
        helper.make_node("Relu", ["b1"], ["b2"], name="r2"),
        helper.make_node("Add", ["a2", "b2"], ["y"], name="add"),
    ]
    rng = np.random.default_rng(1)
    feeds = {"a": rng.standard_normal((4, 8)).astype(np.float32),
             "b": rng.standard_normal((4, 8)).astype(np.float32)}
    path = _save(tmp_path, "chains", nodes, [_f32("a", [4, 8]), _f32("b", [4, 8])],
                 [_f32("y", [4, 8])], feeds=feeds)
    got, stats, _ = _run(path, tmp_path)
    _close(got["y"], _ref(path, feeds)["y"])
    assert stats["segments"] == ["framework", "accel"]
    module = import_onnx(path)
    annotate(module, "small")
    segments = split_host(module)
    assert segments is not None
    (fw,) = [s for s in segments if s.kind == "framework"]
    assert [op.op_type_val for op in fw.ops] == ["Hardmax", "Round"]
    assert [n.op_type for n in fw.framework.model.graph.node].count("Hardmax") == 1


def test_float64_values_run_in_onnxruntime_never_cast(tmp_path):
    """A float64 input is never cast: its ops run on the framework tier, and feeding
    float32 for it is refused naming the input."""
    nodes = [
        helper.make_node("Mul", ["d", "d"], ["dd"], name="square"),
        helper.make_node("Cast", ["dd"], ["f"], to=TensorProto.FLOAT, name="cast"),
        helper.make_node("Relu", ["f"], ["y"], name="relu"),
    ]
    feeds = {"d": np.array([[1e-30, -3.0, 2.5]], np.float64)}
    path = _save(tmp_path, "f64", nodes,
                 [helper.make_tensor_value_info("d", TensorProto.DOUBLE, [1, 3])],
                 [_f32("y", [1, 3])], feeds=feeds)
    got, stats, _ = _run(path, tmp_path)
    _close(got["y"], _ref(path, feeds)["y"])
    assert stats["placement"]["framework_ops"] == ["square", "cast"]
    np.savez(tmp_path / "bad.npz", d=feeds["d"].astype(np.float32))
    r = tool("tidal-run", path, "--inputs", tmp_path / "bad.npz", "--outputs",
             tmp_path / "o2.npz")
    assert_one_line_error(r, "tidal-run", "input 'd'", "expected dtype float64", "float32")
    assert not (tmp_path / "o2.npz").exists()


def test_integer_and_bool_outputs(tmp_path):
    """ArgMax (int64) and Greater (bool) outputs come back with their types."""
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="relu"),
        helper.make_node("ArgMax", ["r"], ["am"], axis=1, keepdims=0, name="argmax"),
        helper.make_node("Greater", ["r", "half"], ["gt"], name="gt"),
    ]
    rng = np.random.default_rng(2)
    feeds = {"x": rng.standard_normal((3, 5)).astype(np.float32)}
    path = _save(tmp_path, "ints", nodes, [_f32("x", [3, 5])],
                 [helper.make_tensor_value_info("am", TensorProto.INT64, [3]),
                  helper.make_tensor_value_info("gt", TensorProto.BOOL, [3, 5])],
                 [_init("half", np.array(0.5, np.float32))], feeds=feeds)
    got, _, _ = _run(path, tmp_path)
    ref = _ref(path, feeds)
    assert got["am"].dtype == np.int64 and np.array_equal(got["am"], ref["am"])
    assert got["gt"].dtype == np.bool_ and np.array_equal(got["gt"], ref["gt"])


def test_dynamic_shapes_stay_on_the_framework_tier(tmp_path):
    """NonZero's output size depends on the data: it and what reads it run in
    onnxruntime; the relu before it on the accelerator."""
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="relu"),
        helper.make_node("NonZero", ["r"], ["nz"], name="nonzero"),
        helper.make_node("Transpose", ["nz"], ["t"], perm=[1, 0], name="t"),
        helper.make_node("GatherND", ["r", "t"], ["y"], name="gather"),
    ]
    x = np.array([[1.0, -2.0, 3.0], [-1.0, 0.5, -0.1]], np.float32)
    path = _save(tmp_path, "dyn", nodes, [_f32("x", [2, 3])], [_f32("y", ["k"])],
                 feeds={"x": x})
    got, stats, _ = _run(path, tmp_path)
    np.testing.assert_array_equal(got["y"], _ref(path, {"x": x})["y"])
    assert stats["placement"]["framework_ops"] == ["nonzero", "t", "gather"]
    assert stats["segments"] == ["accel", "framework"]


def test_old_opset_the_converter_cannot_upgrade_runs_in_its_own_opset(tmp_path):
    nodes = [helper.make_node("Dropout", ["x"], ["y"], is_test=0, ratio=0.0)]
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    path = _save(tmp_path, "old", nodes, [_f32("x", [2, 3])], [_f32("y", [2, 3])],
                 opset=6, feeds={"x": x})
    notes = import_notes(import_onnx(path))
    assert notes and "every node runs on the framework tier" in notes[0]
    got, stats, _ = _run(path, tmp_path)
    np.testing.assert_array_equal(got["y"], x)
    assert stats["placement"]["framework"] == 1


def test_onnxruntime_failure_is_one_line_and_writes_nothing(tmp_path):
    """An index out of range fails inside onnxruntime at run time: one line naming
    the model and the extracted subgraph, no traceback, no output file."""
    nodes = [helper.make_node("Gather", ["x", "idx"], ["y"], axis=0, name="pick")]
    feeds = {"x": np.ones((3, 2), np.float32), "idx": np.array([7], np.int64)}
    path = _save(tmp_path, "oob", nodes,
                 [_f32("x", [3, 2]), helper.make_tensor_value_info("idx", TensorProto.INT64, [1])],
                 [_f32("y", [1, 2])], feeds=feeds)
    r = tool("tidal-run", path, "--inputs", tmp_path / "oob-in.npz", "--outputs",
             tmp_path / "o.npz")
    assert_one_line_error(r, "tidal-run", str(path), "onnxruntime failed running",
                          "framework-tier subgraph of 1 node(s) (Gather)")
    assert not (tmp_path / "o.npz").exists()


def test_a_model_whose_ops_all_have_kernels_has_no_framework_ops():
    from harness import example

    module = import_onnx(example("zoo").model_path("squeezenet"))
    assert not any(isinstance(op, graph.OnnxNodeOp) for op in module.body.walk())


def test_one_value_returned_under_two_names_with_segments(tmp_path):
    """difftest --seed 50 --chip small, graph 4137, reduced: a Tile by ones (here an
    Identity too) returns its input under another output name; with host or framework
    segments, tidal-run looked results up by the first name of each value and lost
    the second output."""
    nodes = [
        helper.make_node("Round", ["x"], ["r"], name="round"),
        helper.make_node("Relu", ["r"], ["y1"], name="relu"),
        helper.make_node("Identity", ["y1"], ["y2"], name="same"),
        helper.make_node("Tile", ["y1", "ones"], ["y3"], name="tile"),
    ]
    feeds = {"x": np.random.default_rng(5).standard_normal((2, 3)).astype(np.float32) * 3}
    path = _save(tmp_path, "aliases", nodes, [_f32("x", [2, 3])],
                 [_f32("y1", [2, 3]), _f32("y2", [2, 3]), _f32("y3", [2, 3])],
                 [_init("ones", np.array([1, 1], np.int64))], feeds=feeds)
    got, stats, _ = _run(path, tmp_path)
    ref = _ref(path, feeds)
    assert sorted(got) == ["y1", "y2", "y3"]
    for name in ref:
        np.testing.assert_array_equal(got[name], ref[name])
    assert stats["placement"]["framework_ops"] == ["round"]


def test_a_data_dependent_allocation_is_bounded(tmp_path):
    """A shape fed at run time (ConstantOfShape of an int64 input) can ask onnxruntime
    for any size: 100000 x 100000 floats (40 GB) fails its allocation under the
    framework tier's address-space budget (one line, nothing written, no exhausted
    machine); a small one runs."""
    nodes = [
        helper.make_node("ConstantOfShape", ["s"], ["c"], value=numpy_helper.from_array(np.array([1.0], np.float32))),
        helper.make_node("ReduceSum", ["c"], ["t"], keepdims=0),
        helper.make_node("Add", ["t", "x"], ["y"]),
    ]
    inputs = [helper.make_tensor_value_info("s", TensorProto.INT64, [2]), _f32("x", [1])]
    path = _save(tmp_path, "bomb", nodes, inputs, [_f32("y", [1])],
                 feeds={"s": np.array([100000, 100000], np.int64), "x": np.ones(1, np.float32)})
    r = tool("tidal-run", path, "--inputs", tmp_path / "bomb-in.npz", "--outputs", tmp_path / "o.npz",
             limit=8 << 30)
    assert_one_line_error(r, "tidal-run", "onnxruntime failed running", "allocate")
    assert not (tmp_path / "o.npz").exists()
    np.savez(tmp_path / "small.npz", s=np.array([100, 100], np.int64), x=np.ones(1, np.float32))
    r = tool("tidal-run", path, "--inputs", tmp_path / "small.npz", "--outputs", tmp_path / "o.npz")
    assert r.returncode == 0, r.stderr
    assert np.load(tmp_path / "o.npz")["y"][0] == 10001.0


def test_batchnorm_9_with_its_statistics_outputs_runs_training_mode_in_onnxruntime(tmp_path):
    """Before opset 14 a BatchNormalization whose outputs after Y are named runs in
    training mode (Y normalised with the batch's own statistics), even when nothing
    reads them: it goes to the framework tier with the outputs still named (blanked,
    onnxruntime 1.x counted them, ran training mode and crashed writing them), and
    tidal-compile refuses it naming the mode."""
    rng = np.random.default_rng(3)
    c = 3
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="relu"),
        helper.make_node("BatchNormalization", ["r", "sc", "bi", "mu", "va"],
                         ["y", "rm", "rv", "sm", "sv"], epsilon=1e-5, name="bn"),
    ]
    bias = rng.standard_normal(c).astype(np.float32)
    inits = [_init("sc", rng.uniform(0.5, 2, c).astype(np.float32)), _init("bi", bias),
             _init("mu", rng.standard_normal(c).astype(np.float32)),
             _init("va", rng.uniform(0.5, 2, c).astype(np.float32))]
    feeds = {"x": rng.standard_normal((2, c, 4, 4)).astype(np.float32)}
    path = _save(tmp_path, "bn9", nodes, [_f32("x", [2, c, 4, 4])], [_f32("y", [2, c, 4, 4])],
                 inits, opset=9, feeds=feeds)
    got, stats, _ = _run(path, tmp_path)
    ref = _ref(path, feeds)["y"]
    _close(got["y"], ref)
    # (training mode indeed: each channel of Y has the batch's zero mean)
    assert float(np.abs(ref.mean(axis=(0, 2, 3)) - bias).max()) < 1e-4
    assert stats["placement"]["framework_ops"] == ["bn"]
    r = tool("tidal-compile", path, "-o", tmp_path / "bn9.tbin")
    assert_one_line_error(r, "tidal-compile", "'bn'", "training mode", "opset 9")
    assert not (tmp_path / "bn9.tbin").exists()


def test_nodes_no_output_needs_are_left_out(tmp_path):
    """Nodes whose results no graph output needs (a framework-tier Round and the
    NonZero after it: an exporter's leftovers) are left out and said in the notes;
    onnxruntime would have been asked for none of their outputs. (A string Constant
    nothing reads is folded away before: a string has no graph type at all.)"""
    nodes = [
        helper.make_node("Round", ["x"], ["dead1"], name="round"),
        helper.make_node("NonZero", ["dead1"], ["dead2"], name="nonzero"),
        helper.make_node("Constant", [], ["s"], name="label",
                         value=helper.make_tensor("s", TensorProto.STRING, [1], [b"cat"])),
        helper.make_node("Relu", ["x"], ["y"], name="relu"),
    ]
    feeds = {"x": np.linspace(-2, 2, 8, dtype=np.float32).reshape(2, 4)}
    path = _save(tmp_path, "dead", nodes, [_f32("x", [2, 4])], [_f32("y", [2, 4])], feeds=feeds)
    got, stats, _ = _run(path, tmp_path)
    _close(got["y"], _ref(path, feeds)["y"])
    assert stats["placement"]["framework_ops"] == []
    assert "2 node(s) whose outputs no graph output needs left out" in import_notes(import_onnx(path))


def test_a_contrib_op_without_value_info_gets_onnxruntimes_types(tmp_path):
    """A com.microsoft op Tidal has no builder for (MultiHeadAttention) between two
    MatMuls with no value_info for its output (as onnxruntime's transformers
    optimizer writes models): onnx's shape inference knows no type for it,
    onnxruntime's symbolic shape inference does, so the op runs on the framework
    tier and the MatMuls on the accelerator; a BiasGelu after it, typed the same
    way, is imported as the operators it fuses (on the accelerator)."""
    rng = np.random.default_rng(5)
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["m"], name="mm1"),
        helper.make_node("MultiHeadAttention", ["m", "m", "m"], ["a"], domain="com.microsoft",
                         name="mha", num_heads=2),
        helper.make_node("BiasGelu", ["a", "b"], ["g"], domain="com.microsoft", name="gelu"),
        helper.make_node("MatMul", ["g", "w2"], ["y"], name="mm2"),
    ]
    inits = [_init("w", rng.standard_normal((8, 16)).astype(np.float32)),
             _init("b", rng.standard_normal(16).astype(np.float32)),
             _init("w2", rng.standard_normal((16, 4)).astype(np.float32))]
    graph = helper.make_graph(nodes, "contrib", [_f32("x", [2, 5, 8])], [_f32("y", [2, 5, 4])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.microsoft", 1)])
    path = tmp_path / "contrib.onnx"
    onnx.save(model, path)
    feeds = {"x": rng.standard_normal((2, 5, 8)).astype(np.float32)}
    np.savez(tmp_path / "contrib-in.npz", **feeds)
    got, stats, _ = _run(path, tmp_path)
    _close(got["y"], _ref(path, feeds)["y"])
    assert stats["placement"]["framework_ops"] == ["mha"]


def _seq_type(elem=TensorProto.FLOAT):
    return helper.make_sequence_type_proto(helper.make_tensor_type_proto(elem, None))


def test_sequences_pass_between_framework_ops(tmp_path):
    """SequenceConstruct / SequenceInsert / SequenceAt / SequenceLength /
    SequenceErase / ConcatFromSequence: the sequences are `!graph.onnx_value`s
    between framework-tier ops; the tensors they give (f32, int64) are compared with
    onnxruntime on the whole model."""
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="relu"),
        helper.make_node("Sigmoid", ["x"], ["q"], name="sigmoid"),
        helper.make_node("SequenceConstruct", ["r", "q"], ["s"], name="make"),
        helper.make_node("SequenceInsert", ["s", "x"], ["s2"], name="insert"),
        helper.make_node("SequenceAt", ["s2", "i1"], ["a"], name="at"),
        helper.make_node("SequenceLength", ["s2"], ["n"], name="length"),
        helper.make_node("SequenceErase", ["s2", "i0"], ["s3"], name="erase"),
        helper.make_node("ConcatFromSequence", ["s3"], ["c"], axis=1, name="concat"),
        helper.make_node("Tanh", ["a"], ["y"], name="tanh"),
    ]
    rng = np.random.default_rng(7)
    feeds = {"x": rng.standard_normal((1, 8, 4, 4)).astype(np.float32)}
    path = _save(
        tmp_path, "seqs", nodes, [_f32("x", [1, 8, 4, 4])],
        [_f32("y", [1, 8, 4, 4]), _f32("c", [1, 16, 4, 4]),
         helper.make_tensor_value_info("n", TensorProto.INT64, [])],
        [_init("i1", np.array(1, np.int64)), _init("i0", np.array(0, np.int64))],
        opset=18, feeds=feeds,
    )
    got, stats, _ = _run(path, tmp_path)
    ref = _ref(path, feeds)
    for name in ("y", "c", "n"):
        _close(got[name], ref[name])
    assert {"make", "insert", "at", "length", "erase", "concat"} <= set(stats["placement"]["framework_ops"])
    types = {
        str(r.type) for op in import_onnx(path).body.walk()
        if isinstance(op, graph.OnnxNodeOp) for r in op.outs
    }
    assert '!graph.onnx_value<"seq(tensor(float))">' in types


def test_a_sequence_crosses_an_accelerator_segment(tmp_path):
    """SplitToSequence (framework), then an accelerator chain on the input, then
    SequenceInsert of its result (framework): the ops' order by tier puts the two
    framework ops in different segments, so the sequence waits in tidal-run's table
    as onnxruntime gave it (a list of arrays) and is fed back to the second run."""
    nodes = [
        helper.make_node("SplitToSequence", ["x", "sp"], ["s"], axis=1, name="split"),
        helper.make_node("Relu", ["x"], ["r"], name="relu"),
        helper.make_node("Exp", ["r"], ["e"], name="exp"),
        helper.make_node("SequenceInsert", ["s", "e"], ["s2"], name="insert"),
        helper.make_node("ConcatFromSequence", ["s2"], ["y"], axis=1, name="concat"),
    ]
    rng = np.random.default_rng(8)
    feeds = {"x": rng.standard_normal((1, 8, 4, 4)).astype(np.float32)}
    path = _save(tmp_path, "cross", nodes, [_f32("x", [1, 8, 4, 4])], [_f32("y", [1, 16, 4, 4])],
                 [_init("sp", np.array([4, 4], np.int64))], feeds=feeds)
    got, stats, _ = _run(path, tmp_path)
    _close(got["y"], _ref(path, feeds)["y"])
    assert stats["segments"] == ["framework", "accel", "framework"]


def test_optionals_pass_between_framework_ops(tmp_path):
    """Optional -> OptionalHasElement (a bool output) / OptionalGetElement -> Relu."""
    nodes = [
        helper.make_node("Optional", ["x"], ["o"], name="wrap"),
        helper.make_node("OptionalHasElement", ["o"], ["has"], name="has"),
        helper.make_node("OptionalGetElement", ["o"], ["g"], name="get"),
        helper.make_node("Relu", ["g"], ["y"], name="relu"),
    ]
    feeds = {"x": np.linspace(-1, 1, 32, dtype=np.float32).reshape(1, 2, 4, 4)}
    path = _save(tmp_path, "opt", nodes, [_f32("x", [1, 2, 4, 4])],
                 [_f32("y", [1, 2, 4, 4]), helper.make_tensor_value_info("has", TensorProto.BOOL, [])],
                 opset=18, feeds=feeds)
    got, _, _ = _run(path, tmp_path)
    ref = _ref(path, feeds)
    _close(got["y"], ref["y"])
    assert got["has"].dtype == np.bool_ and bool(got["has"]) is True


def test_a_sequence_graph_input_or_output_is_refused_in_one_line(tmp_path):
    """tidal-run reads and writes .npz arrays: a graph input or output that is a
    sequence is refused naming it and its type, and nothing is written."""
    out_path = _save(
        tmp_path, "seqout", [helper.make_node("SplitToSequence", ["x"], ["s"], axis=1)],
        [_f32("x", [1, 2, 3])], [helper.make_value_info("s", _seq_type())],
        feeds={"x": np.ones((1, 2, 3), np.float32)},
    )
    in_path = _save(
        tmp_path, "seqin", [helper.make_node("ConcatFromSequence", ["sin"], ["y"], axis=0)],
        [helper.make_value_info("sin", _seq_type())], [_f32("y", [2, 3])],
        feeds={"sin": np.ones((1, 2, 3), np.float32)},
    )
    for path, what in ((out_path, "output 's' is seq(tensor(float))"),
                       (in_path, "input 'sin' is seq(tensor(float))")):
        out = tmp_path / f"{path.stem}-o.npz"
        r = tool("tidal-run", path, "--inputs", path.with_name(path.stem + "-in.npz"),
                 "--outputs", out)
        assert_one_line_error(r, "tidal-run", str(path), what)
        assert not out.exists()


def test_a_zipmap_output_is_refused_with_the_exporter_option_that_avoids_it(tmp_path):
    """skl2onnx's classifiers end in ZipMap, a sequence of maps per sample: refused as
    an output, the message naming skl2onnx's option that exports a tensor instead."""
    nodes = [
        helper.make_node("Softmax", ["x"], ["p"], axis=1),
        helper.make_node("ArgMax", ["p"], ["label"], axis=1, keepdims=0),
        helper.make_node("ZipMap", ["p"], ["probs"], domain="ai.onnx.ml", classlabels_int64s=[0, 1, 2]),
    ]
    probs = helper.make_sequence_type_proto(
        helper.make_map_type_proto(TensorProto.INT64, helper.make_tensor_type_proto(TensorProto.FLOAT, None))
    )
    g = helper.make_graph(nodes, "zm", [_f32("x", [2, 3])],
                          [helper.make_tensor_value_info("label", TensorProto.INT64, [2]),
                           helper.make_value_info("probs", probs)])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17),
                                                helper.make_opsetid("ai.onnx.ml", 3)])
    path = tmp_path / "zm.onnx"
    onnx.save(model, path)
    np.savez(tmp_path / "zm-in.npz", x=np.ones((2, 3), np.float32))
    r = tool("tidal-run", path, "--inputs", tmp_path / "zm-in.npz", "--outputs", tmp_path / "o.npz")
    assert_one_line_error(r, "tidal-run", "output 'probs' is seq(map(int64,tensor(float)))",
                          "options={'zipmap': False}")
    assert not (tmp_path / "o.npz").exists()


def test_the_python_api_takes_and_gives_sequences(tmp_path):
    """Through the ONNX backend (tidal.targets.backend) a graph input or output may be
    a sequence: a list of arrays in, a list of arrays out, as onnxruntime takes and
    gives them. Opset 11, where Identity (which joins framework payloads) takes no
    sequences: the sequence input is named as its reader reads it."""
    from tidal.targets.backend import TidalBackend

    nodes = [
        helper.make_node("SequenceInsert", ["seq", "t"], ["s2"], name="insert"),
        helper.make_node("ConcatFromSequence", ["s2"], ["y"], axis=0, name="concat"),
        helper.make_node("SplitToSequence", ["y"], ["parts"], axis=0, name="split"),
        helper.make_node("Relu", ["t"], ["r"], name="relu"),
    ]
    graph_ = helper.make_graph(
        nodes, "seqio", [helper.make_value_info("seq", _seq_type()), _f32("t", [2, 3])],
        [_f32("y", [6, 3]), helper.make_value_info("parts", _seq_type()), _f32("r", [2, 3])],
    )
    model = helper.make_model(graph_, opset_imports=[helper.make_opsetid("", 11)])
    onnx.checker.check_model(model, full_check=True)
    rng = np.random.default_rng(9)
    seq = [rng.standard_normal((2, 3)).astype(np.float32) for _ in range(2)]
    t = rng.standard_normal((2, 3)).astype(np.float32)
    got = TidalBackend.run_model(model, [seq, t], chip="small")
    ref = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {"seq": seq, "t": t}
    )
    _close(got.y, ref[0])
    _close(got.r, ref[2])
    assert isinstance(got.parts, list) and len(got.parts) == len(ref[1]) == 6
    for g, r in zip(got.parts, ref[1], strict=True):
        _close(g, r)


def test_onnxruntimes_shape_inference_writes_nothing_in_the_working_directory(tmp_path, monkeypatch):
    """Where onnxruntime's symbolic shape inference cannot type every value it saves
    what it found ("sym_shape_infer_temp.onnx" and its tensors as UUID-named .data
    files) in the working directory, then raises: the importer runs it in a
    temporary directory of its own and reads the partial result back from there.
    A SkipLayerNormalization whose Mean output is used (which no builder takes and
    neither inference types) gets its outputs' types from one onnxruntime run of the
    node alone, runs on the framework tier and agrees with onnxruntime; the working
    directory stays empty."""
    from tidal.tools.tidal_run import run_model

    rng = np.random.default_rng(6)
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["m"], name="mm"),
        helper.make_node("SkipLayerNormalization", ["m", "s", "g"], ["n", "mean"],
                         domain="com.microsoft", name="skip"),
        helper.make_node("Relu", ["mean"], ["r"], name="relu"),
    ]
    inits = [_init("w", rng.standard_normal((8, 16)).astype(np.float32)),
             _init("s", rng.standard_normal((2, 5, 16)).astype(np.float32)),
             _init("g", rng.standard_normal(16).astype(np.float32))]
    graph = helper.make_graph(nodes, "skip", [_f32("x", [2, 5, 8])],
                              [_f32("n", [2, 5, 16]), _f32("r", [2, 5, 1])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.microsoft", 1)])
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    feeds = {"x": rng.standard_normal((2, 5, 8)).astype(np.float32)}
    got, stats = run_model(model, feeds, "small")
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    for name, ref in zip(["n", "r"], session.run(["n", "r"], feeds), strict=True):
        _close(got[name], ref)
    assert stats["placement"]["framework_ops"] == ["skip"]
    assert list(cwd.iterdir()) == []


def _str(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.STRING, shape)


def test_string_tensors_in_and_out(tmp_path):
    """String tensors (!graph.onnx_value<"tensor(string)">) pass between
    framework-tier ops, in from an .npz array of str and out as one (no pickles:
    np.load reads it as is), a string input returned as it is too; the floats
    computed from them run on the accelerator. Equal takes strings from opset 19."""
    nodes = [
        helper.make_node("LabelEncoder", ["s"], ["code"], domain="ai.onnx.ml",
                         keys_strings=["cat", "dog"], values_int64s=[1, 2], default_int64=0),
        helper.make_node("Cast", ["code"], ["cf"], to=TensorProto.FLOAT),
        helper.make_node("Relu", ["cf"], ["z"]),
        helper.make_node("Equal", ["s", "dog"], ["eq"]),
        helper.make_node("Cast", ["eq"], ["ef"], to=TensorProto.FLOAT),
        helper.make_node("Sigmoid", ["ef"], ["isdog"]),
        helper.make_node("LabelEncoder", ["code"], ["name"], domain="ai.onnx.ml",
                         keys_int64s=[0, 1, 2], values_strings=["?", "CAT", "DOG"]),
    ]
    g = helper.make_graph(
        nodes, "strings", [_str("s", [4])],
        [_f32("z", [4]), _f32("isdog", [4]), _str("name", [4]), _str("s", [4])],
        [helper.make_tensor("dog", TensorProto.STRING, [1], [b"dog"])],
    )
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 19), helper.make_opsetid("ai.onnx.ml", 2)])
    onnx.checker.check_model(model, full_check=True)
    path = tmp_path / "strings.onnx"
    onnx.save(model, path)
    feeds = {"s": np.array(["dog", "cat", "eel", "dog"])}
    np.savez(tmp_path / "strings-in.npz", **feeds)
    got, stats, _ = _run(path, tmp_path)
    ref = _ref(path, feeds)
    _close(got["z"], ref["z"])
    _close(got["isdog"], ref["isdog"])
    assert got["name"].dtype.kind == "U" and got["name"].tolist() == ref["name"].tolist() == ["DOG", "CAT", "?", "DOG"]
    assert got["s"].tolist() == feeds["s"].tolist()
    assert stats["placement"]["accel"] >= 2 and stats["placement"]["framework"] >= 4


def test_a_string_input_of_another_dtype_or_shape_is_refused_in_one_line(tmp_path):
    """What is fed for a string input is checked before anything runs: an array of
    str (NumPy's str dtype, or objects) of the shape the model declares."""
    node = helper.make_node("LabelEncoder", ["s"], ["code"], domain="ai.onnx.ml",
                            keys_strings=["a"], values_int64s=[1], default_int64=0)
    g = helper.make_graph([node], "strin", [_str("s", [3])],
                          [helper.make_tensor_value_info("code", TensorProto.INT64, [3])])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 2)])
    path = tmp_path / "strin.onnx"
    onnx.save(model, path)
    for feed, why in ((np.zeros(3, np.float32), "input 's': expected an array of str (an ONNX string tensor), got float32"),
                      (np.array(["a", "b"]), "input 's': expected shape (3,), got (2,)")):
        np.savez(tmp_path / "in.npz", s=feed)
        r = tool("tidal-run", path, "--inputs", tmp_path / "in.npz", "--outputs", tmp_path / "o.npz")
        assert_one_line_error(r, "tidal-run", why)
        assert not (tmp_path / "o.npz").exists()


def test_the_python_api_takes_and_gives_string_tensors():
    """Through the ONNX backend a string tensor goes in as an array of str and comes
    out as onnxruntime gives it (an object array of str)."""
    from tidal.targets.backend import TidalBackend

    nodes = [
        helper.make_node("StringNormalizer", ["s"], ["u"], case_change_action="UPPER", locale="C.UTF-8"),
        helper.make_node("Relu", ["x"], ["y"]),
    ]
    g = helper.make_graph(nodes, "api", [_str("s", [2]), _f32("x", [2])], [_str("u", [2]), _f32("y", [2])])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    got = TidalBackend.run_model(model, [np.array(["ab", "Cd"]), np.array([-1, 2], np.float32)], chip="small")
    assert got.u.tolist() == ["AB", "CD"]
    _close(got.y, np.array([0, 2], np.float32))


def test_models_quantized_by_onnxruntime_run(tmp_path):
    """A small CNN quantized by onnxruntime's own tools (`quantize_static` in QDQ and
    QOperator formats, `quantize_dynamic`) agrees with onnxruntime. The QOperator
    model's per-tensor scales are scalar constants: a QGemm refused them as graph
    constants ([1] beside its scalar zero points, "zero point and scale of input b
    should have same shape size"); scalar constants are inlined as they are."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic, quantize_static

    rng = np.random.default_rng(0)
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("GlobalAveragePool", ["r"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "w2", "b2"], ["y"], transB=1),
    ]
    inits = [_init("w1", rng.standard_normal((16, 3, 3, 3)).astype(np.float32) * 0.3),
             _init("b1", rng.standard_normal(16).astype(np.float32) * 0.1),
             _init("w2", rng.standard_normal((10, 16)).astype(np.float32) * 0.3),
             _init("b2", rng.standard_normal(10).astype(np.float32) * 0.1)]
    x = rng.standard_normal((1, 3, 16, 16)).astype(np.float32)
    source = _save(tmp_path, "f32", nodes, [_f32("x", [1, 3, 16, 16])], [_f32("y", [1, 10])], inits, feeds={"x": x})

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.data = iter([{"x": rng.standard_normal((1, 3, 16, 16)).astype(np.float32)} for _ in range(4)])

        def get_next(self):
            return next(self.data, None)

    for name, quantize in (
        ("qdq", lambda src, dst: quantize_static(src, dst, Reader(), quant_format=QuantFormat.QDQ)),
        ("qop", lambda src, dst: quantize_static(src, dst, Reader(), quant_format=QuantFormat.QOperator)),
        ("dyn", lambda src, dst: quantize_dynamic(src, dst, weight_type=QuantType.QInt8)),
    ):
        path = tmp_path / f"{name}.onnx"
        quantize(str(source), str(path))
        np.savez(tmp_path / f"{name}-in.npz", x=x)
        got, _, _ = _run(path, tmp_path)
        _close(got["y"], _ref(path, {"x": x})["y"])


# ------------------------------------------- shapes that exporters compute in the graph


def _i64(name, value):
    return numpy_helper.from_array(np.asarray(value, np.int64), name)


def test_an_expand_whose_shape_onnx_leaves_dynamic_is_broadcast_at_import(tmp_path):
    """torchvision swin_v2_t (TorchScript export) expands a [1] zero by an
    initializer read through an Identity, which onnx's inference leaves dynamic: the
    builder crashed on the missing type (AttributeError); it broadcasts itself."""
    x = np.random.default_rng(0).standard_normal(8).astype(np.float32)
    nodes = [
        helper.make_node("Identity", ["shape0"], ["shape"]),
        helper.make_node("Expand", ["zero", "shape"], ["zeros"]),
        helper.make_node("Add", ["x", "zeros"], ["y"]),
    ]
    path = _save(tmp_path, "expand", nodes, [_f32("x", [8])], [_f32("y", None)],
                 [_init("zero", np.zeros(1, np.float32)), _i64("shape0", [8])], feeds={"x": x})
    got, stats, _ = _run(path, tmp_path)
    _close(got["y"], _ref(path, {"x": x})["y"])
    assert stats["placement"]["framework_ops"] == []


def test_float_shape_arithmetic_folds_so_the_reshape_runs_on_the_accelerator(tmp_path):
    """MobileViT and torchvision's detection transforms compute shapes in float
    (Cast(Ceil(4.0) * 2.0)); unfolded, the Reshape's shape stayed dynamic and every op
    after it went to onnxruntime (MobileViT: 582 of 662 ops)."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 8, 4, 4)).astype(np.float32)
    const = lambda n, v: helper.make_node("Constant", [], [n], value=numpy_helper.from_array(np.asarray(v), n))  # noqa: E731
    nodes = [
        const("c4", np.float32(4.0)), helper.make_node("Ceil", ["c4"], ["ce"]), const("c2", np.float32(2.0)),
        helper.make_node("Mul", ["ce", "c2"], ["m"]), helper.make_node("Cast", ["m"], ["mi"], to=TensorProto.INT64),
        const("ax", np.array([0], np.int64)), helper.make_node("Unsqueeze", ["mi", "ax"], ["mu"]),
        const("one", np.array([1], np.int64)), const("neg", np.array([-1], np.int64)),
        helper.make_node("Concat", ["one", "mu", "neg"], ["shape"], axis=0),
        helper.make_node("Reshape", ["x", "shape"], ["r"]), helper.make_node("MatMul", ["r", "w"], ["mm"]),
        helper.make_node("Relu", ["mm"], ["y"]),
    ]
    w = rng.standard_normal((16, 16)).astype(np.float32)
    path = _save(tmp_path, "floatshape", nodes, [_f32("x", [1, 8, 4, 4])], [_f32("y", [1, 8, 16])],
                 [_init("w", w)], feeds={"x": x})
    got, stats, _ = _run(path, tmp_path)
    _close(got["y"], _ref(path, {"x": x})["y"])
    assert stats["placement"]["framework_ops"] == []


def test_a_failure_of_onnx_data_propagation_does_not_refuse_a_valid_model(tmp_path):
    """A dynamic-axes export's attention-mask arithmetic fed another batch: onnx 1.23's
    data propagation gives the Unsqueezes of two Ranges the wrong rank and strict
    inference refused the Add ("Invalid rank for Add broadcasting: (8) vs (2)"),
    which onnxruntime runs; inference without data propagation types it."""
    x = np.random.default_rng(3).standard_normal((2, 1, 1, 8)).astype(np.float32)
    inits = [_i64("rq", np.arange(8)), _i64("rb", np.arange(2))] + [_i64(f"a{k}", [k]) for k in range(4)]
    nodes = [
        helper.make_node("Unsqueeze", ["rq", "a0"], ["q1"]), helper.make_node("Unsqueeze", ["q1", "a1"], ["q2"]),
        helper.make_node("Unsqueeze", ["q2", "a2"], ["q3"]),
        helper.make_node("Unsqueeze", ["rb", "a1"], ["b1"]), helper.make_node("Unsqueeze", ["b1", "a2"], ["b2"]),
        helper.make_node("Unsqueeze", ["b2", "a3"], ["b3"]),
        helper.make_node("Add", ["q3", "b3"], ["s"]), helper.make_node("Cast", ["s"], ["sf"], to=TensorProto.FLOAT),
        helper.make_node("Add", ["x", "sf"], ["y"]),
    ]
    path = _save(tmp_path, "dataprop", nodes, [_f32("x", [2, 1, 1, 8])], [_f32("y", [2, 1, 1, 8])], inits,
                 feeds={"x": x})
    got, _, _ = _run(path, tmp_path)
    _close(got["y"], _ref(path, {"x": x})["y"])

"""Reading an .onnx file with its weights left on disk (targets/onnx_weights.py), and
the importer holding each weight once (graph.constant shares the bytes read)."""

import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from xdsl.printer import Printer

from tidal.dialects import graph
from tidal.targets.onnx_import import OnnxImportError, import_onnx
from tidal.targets.onnx_weights import load_model

RNG = np.random.default_rng(7)
W = RNG.standard_normal((32, 48), dtype=np.float32)  # 6 KB: left in the file
B = RNG.standard_normal(32, dtype=np.float32)  # 128 bytes: kept in the proto
SHAPE = np.array([1, 32] + [1] * 1000, np.int64)  # 8 KB, but not float: kept


def _model() -> onnx.ModelProto:
    nodes = [
        helper.make_node("Gemm", ["x", "w", "b"], ["h"], transB=1, name="fc"),
        helper.make_node("Relu", ["h"], ["y"], name="relu"),
    ]
    inits = [
        numpy_helper.from_array(W, "w"),
        numpy_helper.from_array(B, "b"),
        numpy_helper.from_array(SHAPE, "unused_shape"),
    ]
    g = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 48])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 32])],
        inits,
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def _save(path: Path) -> Path:
    onnx.save(_model(), path)
    return path


def _external(t: onnx.TensorProto) -> dict[str, str]:
    return {e.key: e.value for e in t.external_data}


def test_large_float_weights_stay_in_the_file(tmp_path: Path):
    path = _save(tmp_path / "m.onnx")
    model = load_model(path)
    w, b, shape = model.graph.initializer
    assert w.data_location == TensorProto.EXTERNAL and not w.HasField("raw_data")
    info = _external(w)
    assert info["location"] == "m.onnx"
    offset, length = int(info["offset"]), int(info["length"])
    assert path.read_bytes()[offset : offset + length] == W.astype("<f4").tobytes()
    # the small float and the non-float initializers are parsed as usual
    assert b.data_location == TensorProto.DEFAULT and b.HasField("raw_data")
    assert shape.data_location == TensorProto.DEFAULT and shape.HasField("raw_data")
    np.testing.assert_array_equal(numpy_helper.to_array(w, str(tmp_path)), W)
    np.testing.assert_array_equal(numpy_helper.to_array(b), B)
    np.testing.assert_array_equal(numpy_helper.to_array(shape), SHAPE)


def test_the_rest_of_the_model_is_what_onnx_load_reads(tmp_path: Path):
    path = _save(tmp_path / "m.onnx")
    ours, theirs = load_model(path), onnx.load(path)
    w = ours.graph.initializer[0]
    w.ClearField("external_data")
    w.ClearField("data_location")
    theirs.graph.initializer[0].ClearField("raw_data")
    assert ours.SerializeToString() == theirs.SerializeToString()


def test_importing_the_file_is_importing_the_model(tmp_path: Path):
    """Weights read from the file (left there by load_model) give the IR that the
    in-memory model gives (onnx's own reading)."""
    path = _save(tmp_path / "m.onnx")
    module = import_onnx(path)
    consts = {
        op.attributes["tidal.origin"].data: op  # pyright: ignore[reportAttributeAccessIssue]
        for op in module.walk()
        if isinstance(op, graph.ConstantOp)
    }
    np.testing.assert_array_equal(consts["w"].to_numpy(), W)
    np.testing.assert_array_equal(consts["b"].to_numpy(), B)

    def text(m: object) -> str:
        from io import StringIO

        out = StringIO()
        Printer(stream=out).print_op(m)  # pyright: ignore[reportArgumentType]
        return out.getvalue()

    assert text(module) == text(import_onnx(_model()))


def test_constant_from_numpy_shares_a_whole_bytes_object():
    raw = W.astype("<f4").tobytes()
    shared = graph.ConstantOp.from_numpy(np.frombuffer(raw, "<f4").reshape(W.shape))
    assert shared.value.data.data is raw
    writable = W.copy()
    copied = graph.ConstantOp.from_numpy(writable)
    writable[0, 0] += 1.0  # the constant holds its own copy of a writable array
    np.testing.assert_array_equal(copied.to_numpy(), W)
    part = graph.ConstantOp.from_numpy(np.frombuffer(raw, "<f4")[:8])
    assert part.value.data.data == raw[:32]
    with pytest.raises(ValueError, match="12 bytes are not \\[2, 2\\] f32 values"):
        graph.ConstantOp.from_bytes(bytes(12), [2, 2])


def test_a_model_symlinked_from_another_directory_is_read_whole(tmp_path: Path):
    """External data is named relative to the model's directory; a model that lives
    elsewhere cannot name its own weights, so it is read as onnx.load reads it."""
    (tmp_path / "real").mkdir()
    (tmp_path / "link").mkdir()
    target = _save(tmp_path / "real" / "m.onnx")
    link = tmp_path / "link" / "m.onnx"
    link.symlink_to(target)
    w = load_model(link).graph.initializer[0]
    assert w.data_location == TensorProto.DEFAULT and w.HasField("raw_data")
    module = import_onnx(link)
    (c,) = [op for op in module.walk() if isinstance(op, graph.ConstantOp) and op.to_numpy().shape == W.shape]
    np.testing.assert_array_equal(c.to_numpy(), W)


def test_a_symlink_in_the_same_directory_names_the_real_file(tmp_path: Path):
    _save(tmp_path / "real.onnx")
    os.symlink("real.onnx", tmp_path / "alias.onnx")
    w = load_model(tmp_path / "alias.onnx").graph.initializer[0]
    assert _external(w)["location"] == "real.onnx"
    np.testing.assert_array_equal(numpy_helper.to_array(w, str(tmp_path)), W)


def test_weights_of_the_wrong_size_are_left_to_onnx(tmp_path: Path):
    """raw_data that does not match the dims is not described as external data:
    the importer reports it as the malformed initializer it is."""
    model = _model()
    model.graph.initializer[0].raw_data = W.tobytes()[:-4]
    path = tmp_path / "bad.onnx"
    onnx.save(model, path)
    assert load_model(path).graph.initializer[0].HasField("raw_data")
    with pytest.raises(OnnxImportError, match="initializer 'w'") as e:
        import_onnx(path)
    assert "external" not in str(e.value)


def test_a_truncated_file_is_onnx_loads_error(tmp_path: Path):
    path = _save(tmp_path / "m.onnx")
    data = path.read_bytes()
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(Exception) as ours:
        load_model(cut)
    with pytest.raises(Exception) as theirs:
        onnx.load(cut)
    assert type(ours.value) is type(theirs.value)
    with pytest.raises(OnnxImportError, match="not a valid ONNX model"):
        import_onnx(cut)


def test_real_external_data_is_read_by_the_importer(tmp_path: Path):
    path = tmp_path / "ext.onnx"
    onnx.save(
        _model(), path, save_as_external_data=True, location="weights.bin", size_threshold=1024
    )
    w = load_model(path, load_external_data=False).graph.initializer[0]
    assert _external(w)["location"] == "weights.bin"
    module = import_onnx(path)
    (c,) = [op for op in module.walk() if isinstance(op, graph.ConstantOp) and op.to_numpy().shape == W.shape]
    np.testing.assert_array_equal(c.to_numpy(), W)


def _load_or_error(load, path: Path) -> onnx.ModelProto | type:  # noqa: ANN001
    try:
        return load(path)
    except Exception as e:  # noqa: BLE001 - the kind of error is what is compared
        return type(e)


def test_mutated_files_read_as_onnx_load_reads_them(tmp_path: Path):
    """300 seeded byte mutations of a model (flips, cuts, insertions, truncations):
    load_model fails with onnx.load's kind of error, or reads the same model and the
    same weights (the scanner never reads a file differently from protobuf)."""
    import random
    import warnings

    rng = random.Random(9)
    base = _model().SerializeToString()
    path = tmp_path / "f.onnx"
    agreed = 0
    for _ in range(300):
        data = bytearray(base)
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(data))
            kind = rng.random()
            if kind < 0.5:
                data[at] = rng.randrange(256)
            elif kind < 0.7:
                del data[at : at + rng.randint(1, 50)]
            elif kind < 0.85:
                data[at:at] = rng.randbytes(rng.randint(1, 8))
            else:
                del data[at:]
        path.write_bytes(data)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = _load_or_error(onnx.load, path)
            ours = _load_or_error(load_model, path)
        if not isinstance(theirs, onnx.ModelProto) or not isinstance(ours, onnx.ModelProto):
            assert ours == theirs
            continue
        for a, b in zip(theirs.graph.initializer, ours.graph.initializer, strict=True):
            if b.data_location == TensorProto.EXTERNAL:
                np.testing.assert_array_equal(
                    numpy_helper.to_array(b, str(tmp_path)), numpy_helper.to_array(a)
                )
                b.ClearField("external_data")
                b.ClearField("data_location")
                a.ClearField("raw_data")
        assert ours.SerializeToString() == theirs.SerializeToString()
        agreed += 1
    assert agreed > 30  # enough mutations leave a readable model to compare

"""Transformer building blocks on the accelerator, compared with onnxruntime: the
linear layers of a [batch, sequence, features] tensor (one 2-D matmul between two
views) and multi-head attention's batched matmuls (Q·Kᵀ, softmax, ·V), every op on
the accelerator, on both chip presets."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from tidal.tools.tidal_run import run_model


def _attention(seq: int, dim: int, heads: int, seed: int = 0) -> tuple[onnx.ModelProto, np.ndarray]:
    rng = np.random.default_rng(seed)
    dh = dim // heads

    def weight(name: str) -> onnx.TensorProto:
        return numpy_helper.from_array((rng.standard_normal((dim, dim)) / np.sqrt(dim)).astype(np.float32), name)

    nodes = [
        helper.make_node("MatMul", ["x", "wq"], ["q"]),
        helper.make_node("MatMul", ["x", "wk"], ["k"]),
        helper.make_node("MatMul", ["x", "wv"], ["v"]),
        helper.make_node("Reshape", ["q", "s4"], ["q4"]),
        helper.make_node("Transpose", ["q4"], ["qt"], perm=[0, 2, 1, 3]),
        helper.make_node("Reshape", ["k", "s4"], ["k4"]),
        helper.make_node("Transpose", ["k4"], ["kt"], perm=[0, 2, 3, 1]),
        helper.make_node("Reshape", ["v", "s4"], ["v4"]),
        helper.make_node("Transpose", ["v4"], ["vt"], perm=[0, 2, 1, 3]),
        helper.make_node("MatMul", ["qt", "kt"], ["scores"]),
        helper.make_node("Mul", ["scores", "scale"], ["scaled"]),
        helper.make_node("Softmax", ["scaled"], ["p"], axis=-1),
        helper.make_node("MatMul", ["p", "vt"], ["o"]),
        helper.make_node("Transpose", ["o"], ["ot"], perm=[0, 2, 1, 3]),
        helper.make_node("Reshape", ["ot", "s3"], ["o3"]),
        helper.make_node("MatMul", ["o3", "wo"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "attention",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, seq, dim])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, seq, dim])],
        [weight("wq"), weight("wk"), weight("wv"), weight("wo"),
         numpy_helper.from_array(np.array([1, seq, heads, dh], np.int64), "s4"),
         numpy_helper.from_array(np.array([1, seq, dim], np.int64), "s3"),
         numpy_helper.from_array(np.array(1 / np.sqrt(dh), np.float32), "scale")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return model, rng.standard_normal((1, seq, dim)).astype(np.float32)


@pytest.mark.parametrize("chip", ["small", "default"])
@pytest.mark.parametrize(("seq", "dim", "heads"), [(16, 32, 4), (8, 64, 2)])
def test_attention_block_runs_entirely_on_the_accelerator(chip, seq, dim, heads):
    model, x = _attention(seq, dim, heads)
    ref = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    out, stats = run_model(model, {"x": x}, chip)
    got = out["y"]
    assert got.shape == ref.shape
    assert float(np.abs(got - ref).max()) <= 1e-3 * float(np.abs(ref).max())
    placement = stats["placement"]
    assert placement["host"] == 0 and placement["framework"] == 0
    # every MAC of the model on the PE array: 4 linear layers and 2 batched products
    macs = 4 * seq * dim * dim + 2 * heads * seq * seq * (dim // heads)
    assert placement["macs"] == {"accel": macs, "host": 0, "framework": 0}
    assert stats["macs"] == macs


def _norm_model(op: str, opset: int, outputs: int = 1, use_extra: bool = False) -> tuple[onnx.ModelProto, np.ndarray]:
    """x [2, 6, 32] -> `op` over the last axis (scale, and a bias for
    LayerNormalization) -> MatMul; with `use_extra`, its second output (Mean, or
    onnxruntime's inverse RMS) is an output of the graph as well."""
    rng = np.random.default_rng(3)
    inputs = ["x", "g", "b"] if op == "LayerNormalization" else ["x", "g"]
    names = ["n", "extra"][:outputs]
    nodes = [helper.make_node(op, inputs, names, axis=-1, epsilon=1e-5),
             helper.make_node("MatMul", ["n", "w"], ["y"])]
    outs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 6, 16])]
    if use_extra:
        nodes.append(helper.make_node("Relu", ["extra"], ["e"]))
        outs.append(helper.make_tensor_value_info("e", TensorProto.FLOAT, [2, 6, 1]))
    inits = [numpy_helper.from_array(rng.random(32).astype(np.float32) + 0.5, "g"),
             numpy_helper.from_array(rng.standard_normal(32).astype(np.float32), "b"),
             numpy_helper.from_array(rng.standard_normal((32, 16)).astype(np.float32) / 6, "w")]
    graph = helper.make_graph(nodes, "norm", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 6, 32])],
                              outs, inits[: len(inputs) - 1] + inits[2:])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    return model, rng.standard_normal((2, 6, 32)).astype(np.float32)


@pytest.mark.parametrize(
    ("op", "opset", "outputs", "use_extra", "on_accel"),
    [
        # onnxruntime's own LayerNormalization in the ONNX domain before opset 17 (its
        # transformers optimizer writes it so): ONNX's LayerNormalization-17.
        ("LayerNormalization", 13, 1, False, True),
        # ... with its Mean output used: onnxruntime runs it, in the ONNX domain.
        ("LayerNormalization", 14, 2, True, False),
        # onnxruntime's SimplifiedLayerNormalization (an RMS norm), and ONNX's own
        # RMSNormalization from opset 23.
        ("SimplifiedLayerNormalization", 17, 1, False, True),
        ("SimplifiedLayerNormalization", 14, 2, True, False),
        ("RMSNormalization", 23, 1, False, True),
    ],
)
def test_layer_and_rms_norms_as_onnxruntime_reads_them(op, opset, outputs, use_extra, on_accel):
    model, x = _norm_model(op, opset, outputs, use_extra)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    ref = dict(zip(names, session.run(None, {"x": x}), strict=True))
    out, stats = run_model(model, {"x": x}, "small")
    for name in names:
        assert out[name].shape == ref[name].shape
        assert float(np.abs(out[name] - ref[name]).max()) <= 1e-3 * float(np.abs(ref[name]).max())
    framework = stats["placement"]["framework"]
    assert (framework == 0) == on_accel, stats["placement"]


@pytest.mark.parametrize(
    ("opset", "fed", "on_accel"),
    [
        (21, False, True),  # scale and bias per channel
        (18, False, True),  # per group (onnx deprecates it; onnxruntime runs it): repeated
        (18, True, False),  # per group, fed at run time: onnxruntime runs it
    ],
)
def test_group_normalization(opset, fed, on_accel):
    rng = np.random.default_rng(5)
    c, groups = 12, 3
    n = c if opset >= 21 else groups
    scale = (rng.random(n) + 0.5).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32)
    x_info = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, 5, 6])
    inputs = [x_info]
    inits = [numpy_helper.from_array(bias, "b")]
    if fed:
        inputs.append(helper.make_tensor_value_info("s", TensorProto.FLOAT, [n]))
    else:
        inits.append(numpy_helper.from_array(scale, "s"))
    graph = helper.make_graph(
        [helper.make_node("GroupNormalization", ["x", "s", "b"], ["y"], num_groups=groups, epsilon=1e-5)],
        "gn", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, c, 5, 6])], inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    feeds = {"x": rng.standard_normal((1, c, 5, 6)).astype(np.float32)}
    if fed:
        feeds["s"] = scale
    ref = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    out, stats = run_model(model, feeds, "small")
    assert float(np.abs(out["y"] - ref).max()) <= 1e-3 * float(np.abs(ref).max())
    assert (stats["placement"]["framework"] == 0) == on_accel, stats["placement"]


@pytest.mark.parametrize(
    ("mask", "attrs"),
    [
        (None, {}),
        ("lengths", {}),  # mask_index [B]: key lengths, right padding
        ("raw", {}),  # mask_index [B, S]: 1 keeps a key, 0 masks it
        (None, {"unidirectional": 1}),  # causal
        ("lengths", {"scale": 0.3, "mask_filter_value": -500.0}),
    ],
)
def test_onnxruntime_fused_attention_on_the_accelerator(mask, attrs):
    """com.microsoft Attention (onnxruntime's transformers optimizer's fused
    self-attention): the projections, scores, softmax and context on the
    accelerator; an integer mask made a float additive one by a framework-tier op of
    its own (the only op on onnxruntime)."""
    rng = np.random.default_rng(2)
    b, s, h, heads = 2, 8, 32, 4
    inputs = ["x", "w", "bias"] + (["m"] if mask else [])
    node = helper.make_node("Attention", inputs, ["y"], domain="com.microsoft", num_heads=heads, **attrs)
    infos = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [b, s, h])]
    feeds = {"x": rng.standard_normal((b, s, h)).astype(np.float32)}
    if mask == "lengths":
        infos.append(helper.make_tensor_value_info("m", TensorProto.INT32, [b]))
        feeds["m"] = np.array([5, 8], np.int32)
    elif mask == "raw":
        infos.append(helper.make_tensor_value_info("m", TensorProto.INT32, [b, s]))
        feeds["m"] = (rng.random((b, s)) > 0.3).astype(np.int32)
    graph = helper.make_graph(
        [node], "attention", infos, [helper.make_tensor_value_info("y", TensorProto.FLOAT, [b, s, h])],
        [numpy_helper.from_array((rng.standard_normal((h, 3 * h)) / 6).astype(np.float32), "w"),
         numpy_helper.from_array((rng.standard_normal(3 * h) / 10).astype(np.float32), "bias")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    ref = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    out, stats = run_model(model, feeds, "small")
    assert float(np.abs(out["y"] - ref).max()) <= 1e-3 * float(np.abs(ref).max())
    placement = stats["placement"]
    assert placement["framework"] == (1 if mask else 0), placement
    assert placement["macs"]["framework"] == 0 and placement["macs"]["accel"] > 0


@pytest.mark.parametrize(
    ("form", "attrs", "mask", "past", "on_accel"),
    [
        ("4d", {}, None, False, True),
        ("4d", {"is_causal": 1}, None, False, True),
        ("4d-gqa", {"is_causal": 1, "scale": 0.2}, None, False, True),  # 4 query heads, 2 K/V heads
        ("3d", {"q_num_heads": 4, "kv_num_heads": 4}, "float", False, True),
        ("3d-gqa", {"q_num_heads": 4, "kv_num_heads": 1}, "bool", False, True),  # a constant boolean mask
        ("4d", {}, None, True, False),  # past state: onnxruntime runs the node
    ],
)
def test_onnx_attention_on_the_accelerator(form, attrs, mask, past, on_accel):
    """ONNX Attention (opset 23, what PyTorch's exporter writes for
    scaled_dot_product_attention there): scores, mask, causal constant, softmax and
    context on the accelerator, grouped K/V heads repeated; with past state the node
    runs on the framework tier. Every form agrees with onnxruntime."""
    rng = np.random.default_rng(5)
    b, s, dh = 2, 6, 8
    hq, hkv = 4, (2 if form == "4d-gqa" else attrs.get("kv_num_heads", 4))
    if form.startswith("4d"):
        shapes = {"q": [b, hq, s, dh], "k": [b, hkv, s, dh], "v": [b, hkv, s, dh]}
        y = [b, hq, s, dh]
    else:
        shapes = {"q": [b, s, hq * dh], "k": [b, s, hkv * dh], "v": [b, s, hkv * dh]}
        y = [b, s, hq * dh]
    feeds = {n: rng.standard_normal(sh).astype(np.float32) for n, sh in shapes.items()}
    inputs, inits, outputs = ["q", "k", "v"], [], ["y"]
    infos = [helper.make_tensor_value_info(n, TensorProto.FLOAT, sh) for n, sh in shapes.items()]
    if mask == "float":
        inputs.append("m")
        inits.append(numpy_helper.from_array((rng.standard_normal((s, s)) * 2).astype(np.float32), "m"))
    elif mask == "bool":
        inputs.append("m")
        keep = rng.random((b, 1, s, s)) > 0.3
        keep[..., 0] = True  # every query keeps a key
        inits.append(numpy_helper.from_array(keep, "m"))
    graph_outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, y)]
    if past:  # (onnxruntime needs the present state outputs with a past)
        inputs += ["", "pk", "pv"]
        outputs += ["present_k", "present_v"]
        for n in ("pk", "pv"):
            infos.append(helper.make_tensor_value_info(n, TensorProto.FLOAT, [b, hkv, 3, dh]))
            feeds[n] = rng.standard_normal((b, hkv, 3, dh)).astype(np.float32)
        graph_outputs += [helper.make_tensor_value_info(n, TensorProto.FLOAT, [b, hkv, 3 + s, dh])
                          for n in ("present_k", "present_v")]
    node = helper.make_node("Attention", inputs, outputs, **attrs)
    graph = helper.make_graph([node], "attention", infos, graph_outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 23)])
    ref = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    out, stats = run_model(model, feeds, "small")
    assert float(np.abs(out["y"] - ref).max()) <= 1e-3 * float(np.abs(ref).max())
    assert (stats["placement"]["framework"] == 0) == on_accel, stats["placement"]

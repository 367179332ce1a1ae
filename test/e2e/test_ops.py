"""Per-operator numerics end to end: a one-op (or tiny) ONNX model is compiled for a
chip preset, run on the hardware model through `run_model`, and compared with
onnxruntime.

Shapes are chosen to exercise the compiler's tiling on the 'small' chip (32x32 PE
array, 32 partitions): channel counts of 48 and 96, contraction sizes above 32, odd
spatial sizes. A few cases also run on 'default' (128x128).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from tidal.passes.conversion.kernels.conv import ConvShape, StationaryTiles, plan_conv2d
from tidal.passes.conversion.kernels.plan import KernelOptions
from tidal.passes.conversion.kernels.depthwise import plan_depthwise, tap_rects
from tidal.passes.graph.dense_groups import merge_factor
from tidal.sim.config import get_chip
from harness import assert_close
from onnx import TensorProto, helper, numpy_helper
from tidal.tools.tidal_run import run_model

OPSET = 13


# ------------------------------------------------------------------------- helpers


def named(cases: Sequence[tuple], *names: str) -> list:
    """The rows of a case table (each row's first item is its name) as pytest
    parameters with that name as id: all rows, or only those `names`."""
    params = [pytest.param(c, id=c[0]) for c in cases if not names or c[0] in names]
    assert not names or len(params) == len(names), (names, [p.id for p in params])
    return params


def weight(rng: np.random.Generator, shape: Sequence[int], fan_in: int) -> np.ndarray:
    return (rng.standard_normal(tuple(shape)) * np.sqrt(2.0 / fan_in)).astype(
        np.float32
    )


ORT_ONNX_OPS = {"SimplifiedLayerNormalization"}
"""Operators onnxruntime registers in the ONNX domain that onnx does not define."""
MS = "com.microsoft"
NUMPY_REFERENCES = {
    # onnxruntime implements BiasAdd for CUDA only: X + bias + skip (its contrib spec)
    "com.microsoft.BiasAdd": lambda feeds, w: feeds["x"] + w["b"] + feeds["s"],
}


def build(
    nodes: list[onnx.NodeProto],
    inputs: dict[str, Sequence[int]],
    outputs: Sequence[str],
    weights: dict[str, np.ndarray] | None = None,
    opset: int = OPSET,
    shapes: dict[str, Sequence[int]] | None = None,
) -> onnx.ModelProto:
    """A checked model; the graph outputs' shapes come from ONNX shape inference, or
    from `shapes` where it gives none (a Loop's outputs)."""
    initializers = [numpy_helper.from_array(a, n) for n, a in (weights or {}).items()]
    graph = helper.make_graph(
        nodes,
        "test",
        [
            helper.make_tensor_value_info(n, TensorProto.FLOAT, list(s))
            for n, s in inputs.items()
        ],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in outputs],
        initializers,
    )
    contrib = any(node.domain == MS for node in nodes)
    opsets = [helper.make_opsetid("", opset)] + ([helper.make_opsetid(MS, 1)] if contrib else [])
    model = helper.make_model(graph, opset_imports=opsets)
    # onnxruntime's own operators (in the ONNX domain or com.microsoft): onnx's
    # checker and inference do not know them (their outputs' shapes come from
    # `shapes`).
    onnx_known = not contrib and not any(node.op_type in ORT_ONNX_OPS for node in nodes)
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=onnx_known)
    known = {v.name: v for v in [*inferred.graph.value_info, *inferred.graph.output]}
    del model.graph.output[:]
    for name in outputs:
        dims = [d.dim_value for d in known[name].type.tensor_type.shape.dim]
        if shapes and name in shapes and not (dims and all(d > 0 for d in dims)):
            dims = list(shapes[name])
        assert dims and all(d > 0 for d in dims), (name, dims)
        model.graph.output.append(
            helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)
        )
    if onnx_known:
        onnx.checker.check_model(model)
    return model


def random_inputs(
    model: onnx.ModelProto, seed: int = 1, scale: float = 1.0
) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    consts = {t.name for t in model.graph.initializer}
    return {
        v.name: (
            rng.standard_normal(
                tuple(d.dim_value for d in v.type.tensor_type.shape.dim)
            )
            * scale
        ).astype(np.float32)
        for v in model.graph.input
        if v.name not in consts
    }


def check(
    model: onnx.ModelProto,
    tmp_path: Path,
    chip: str = "small",
    inputs: dict[str, np.ndarray] | None = None,
    computes: bool = True,
    disabled: Sequence[str] = (),
) -> tuple[dict[str, np.ndarray], dict]:
    """Run `model` on `chip` (with the optimisations `disabled` off) and on
    onnxruntime; compare every output; return the outputs and the stats. A model
    that `computes` must take some cycles (a pure view may take none)."""
    path = tmp_path / "model.onnx"
    onnx.save(model, path)
    if inputs is None:
        inputs = random_inputs(model)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in model.graph.output]
    refs = dict(zip(names, session.run(names, inputs), strict=True))
    outputs, stats = run_model(str(path), inputs, chip, disabled=disabled)
    assert sorted(outputs) == sorted(names)
    for name in names:
        assert_close(outputs[name], refs[name])
    assert stats["cycles"] > 0 if computes else stats["cycles"] >= 0
    return outputs, stats


# ---------------------------------------------------------------------------- Conv

# (id, N, C, H, W, Cout, kernel, strides, pads (t, l, b, r), dilations, group, bias)
CONV_CASES = [
    ("1x1-c48-odd", 1, 48, 7, 9, 40, 1, 1, (0, 0, 0, 0), 1, 1, True),
    ("1x1-s2-nobias", 1, 16, 9, 7, 8, 1, 2, (0, 0, 0, 0), 1, 1, False),
    ("3x3-c3-p1", 1, 3, 7, 9, 8, 3, 1, (1, 1, 1, 1), 1, 1, True),
    ("3x3-p0-nobias", 1, 8, 9, 7, 12, 3, 1, (0, 0, 0, 0), 1, 1, False),
    ("3x3-s2-asym", 1, 8, 9, 11, 16, 3, 2, (0, 1, 1, 2), 1, 1, True),
    ("3x3-c48-tiled", 1, 48, 7, 9, 48, 3, 1, (1, 1, 1, 1), 1, 1, True),
    ("3x3-c96-s2", 1, 96, 9, 7, 96, 3, 2, (1, 1, 1, 1), 1, 1, False),
    ("3x3-batch2", 2, 8, 7, 9, 16, 3, 1, (1, 0, 2, 1), 1, 1, True),
    ("3x3-dil2-p2", 1, 8, 11, 9, 8, 3, 1, (2, 2, 2, 2), 2, 1, True),
    ("3x3-dil2-s2-asym", 1, 4, 13, 11, 6, 3, 2, (1, 2, 0, 1), 2, 1, False),
    ("5x5-p2", 1, 6, 9, 7, 10, 5, 1, (2, 2, 2, 2), 1, 1, True),
    ("5x5-s2-asym", 1, 4, 11, 13, 8, 5, 2, (2, 1, 1, 2), 1, 1, True),
    ("5x5-c48-p0", 1, 48, 9, 9, 36, 5, 1, (0, 0, 0, 0), 1, 1, False),
    ("group2", 1, 8, 7, 9, 12, 3, 1, (1, 1, 1, 1), 1, 2, True),
    ("group4-c48", 1, 48, 7, 9, 48, 3, 1, (1, 1, 1, 1), 1, 4, True),
    ("group4-s2-nobias", 1, 16, 9, 7, 8, 3, 2, (1, 0, 0, 1), 1, 4, False),
    ("group2-1x1-c96", 1, 96, 5, 7, 64, 1, 1, (0, 0, 0, 0), 1, 2, True),
    ("depthwise-c48", 1, 48, 7, 9, 48, 3, 1, (1, 1, 1, 1), 1, 48, True),
    ("depthwise-c96-s2", 1, 96, 9, 7, 96, 3, 2, (1, 1, 1, 1), 1, 96, False),
    ("depthwise-mult2", 1, 8, 7, 9, 16, 3, 1, (1, 1, 1, 1), 1, 8, True),
    ("depthwise-5x5-dil2", 1, 16, 11, 9, 16, 5, 1, (4, 4, 4, 4), 2, 16, True),
    ("depthwise-c33-edge", 1, 33, 5, 5, 33, 3, 1, (1, 1, 1, 1), 1, 33, True),
    ("group3-c33", 1, 33, 5, 5, 66, 3, 1, (1, 1, 1, 1), 1, 3, True),
    ("stride3", 1, 5, 11, 13, 7, 3, 3, (1, 1, 1, 1), 1, 1, True),
    ("kernel-covers-input", 1, 4, 2, 2, 4, 3, 1, (1, 1, 1, 1), 1, 1, True),
    ("1x1-output", 1, 8, 3, 3, 8, 3, 1, (0, 0, 0, 0), 1, 1, True),
]


def conv_model(
    n, c, h, w, cout, k, stride, pads, dilation, group, bias, seed=0
) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    fan_in = (c // group) * k * k
    weights = {"w": weight(rng, (cout, c // group, k, k), fan_in)}
    names = ["x", "w"]
    if bias:
        weights["b"] = rng.uniform(-0.5, 0.5, cout).astype(np.float32)
        names.append("b")
    node = helper.make_node(
        "Conv",
        names,
        ["y"],
        kernel_shape=[k, k],
        strides=[stride, stride],
        pads=list(pads),
        dilations=[dilation, dilation],
        group=group,
    )
    return build([node], {"x": (n, c, h, w)}, ["y"], weights)


def weighted_conv(
    x_shape: Sequence[int], w_shape: Sequence[int], seed: int, **attributes
) -> onnx.ModelProto:
    """x -> Conv(x, w) -> y with a seeded He-scaled weight `w` of `w_shape` (OIHW;
    the kernel shape is its last two dims) and the other Conv `attributes`."""
    rng = np.random.default_rng(seed)
    node = helper.make_node(
        "Conv", ["x", "w"], ["y"], kernel_shape=list(w_shape[2:]), **attributes
    )
    fan_in = int(np.prod(w_shape[1:]))
    return build([node], {"x": x_shape}, ["y"], {"w": weight(rng, w_shape, fan_in)})


@pytest.mark.parametrize("case", named(CONV_CASES))
def test_conv(case, tmp_path):
    _, n, c, h, w, cout, k, stride, pads, dilation, group, _ = case
    _, stats = check(conv_model(*case[1:]), tmp_path)
    span = dilation * (k - 1) + 1
    out_h = (h + pads[0] + pads[2] - span) // stride + 1
    out_w = (w + pads[1] + pads[3] - span) // stride + 1
    want = n * cout * (c // group) * k * k * out_h * out_w
    assert stats["model_macs"] == want  # the ideal roofline's count, from the shapes
    # depthwise convs run on ACT and POOL (kernels/depthwise.py: the datasheet charges
    # the vector form less) but for the channel tiles the plan hands the PE array
    # (diagonal matmuls, tc x tc MACs per pixel of each tap's rectangle), the others
    # on the PE array, every MAC once, except that a conv of a few groups of fewer
    # input channels than the PE rows runs as one block-diagonal conv
    # (graph-dense-groups: m neighbouring groups merged into one block-diagonal
    # group where that takes the fewest matmuls, m times the MACs);
    # a padded conv that reads its input in place (conv_inplace) runs each tap over
    # the outputs whose window stays inside the image, skipping the padding's MACs
    chip = get_chip(stats["chip"])
    depthwise = group > 1 and c // group == 1 and cout == group
    m = (
        merge_factor(group, c // group, cout, chip.pe_rows, chip.pe_cols)
        if 1 < group <= 8 and not depthwise else 1
    )
    if depthwise:
        shape = ConvShape(
            (n, c, h + pads[0] + pads[2], w + pads[1] + pads[3]), (cout, 1, k, k), (n, cout, out_h, out_w),
            (stride, stride), (dilation, dilation), group, tuple(pads),
        )
        plan = plan_depthwise(chip, "c", shape, halo=True, inplace=True, pe_split=True, fma=True, pe_rows=True)
        rb = plan.pe_rb

        def on_pe(rows: int) -> int:  # a tile's pixels x taps on the PE, over its first `rows` rows
            return sum(
                ny * nx for b0 in range(0, rows, rb or out_h) for _, (ny, nx), _, _ in tap_rects(shape, (b0, b0 + rb))
            ) if rb else 0

        pe_macs = plan.pe_tiles * on_pe(out_h) + on_pe(plan.pe_rows)
        assert stats["macs"] == plan.tc * plan.tc * pe_macs
    else:
        g = group // m
        shape = ConvShape(
            (n, c, h + pads[0] + pads[2], w + pads[1] + pads[3]), (cout, c // g, k, k), (n, cout, out_h, out_w),
            (stride, stride), (dilation, dilation), g, tuple(pads),
        )
        plan = plan_conv2d(chip, "c", shape, KernelOptions(ragged_tiles=False))
        if isinstance(plan, StationaryTiles) and plan.inplace:
            taps = sum(ny * nx for _, (ny, nx), _, _ in tap_rects(shape))
            assert stats["macs"] == n * cout * (c // g) * taps
        else:
            assert stats["macs"] == want * m


@pytest.mark.parametrize(
    "case",
    named(CONV_CASES, "3x3-c96-s2", "group4-c48", "5x5-s2-asym", "depthwise-c48"),
)
def test_conv_default_chip(case, tmp_path):
    check(conv_model(*case[1:]), tmp_path, chip="default")


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER", "VALID"])
def test_conv_auto_pad(auto_pad, tmp_path):
    model = weighted_conv(
        (1, 4, 8, 9), (6, 4, 3, 3), 3, strides=[2, 2], auto_pad=auto_pad
    )
    check(model, tmp_path)


# ------------------------------------------------------------------------- MaxPool

# (id, shape, kernel, strides, pads)
POOL_CASES = [
    ("2x2-s2", (1, 8, 8, 10), 2, 2, (0, 0, 0, 0)),
    ("2x2-s2-odd-c48", (1, 48, 7, 9), 2, 2, (0, 0, 0, 0)),
    ("3x3-s2-p1", (1, 8, 9, 7), 3, 2, (1, 1, 1, 1)),
    ("3x3-s2-p1-c96", (2, 96, 7, 9), 3, 2, (1, 1, 1, 1)),
    ("3x3-s1", (1, 8, 7, 9), 3, 1, (0, 0, 0, 0)),
    ("3x3-s1-asym", (1, 40, 7, 9), 3, 1, (1, 0, 0, 1)),
]


def maxpool_node(x: str, y: str, k: int, stride: int, pads) -> onnx.NodeProto:
    """A square MaxPool `x` -> `y` with one stride for both axes."""
    return helper.make_node(
        "MaxPool",
        [x],
        [y],
        kernel_shape=[k, k],
        strides=[stride, stride],
        pads=list(pads),
    )


def maxpool_model(shape, k, stride, pads) -> onnx.ModelProto:
    return build([maxpool_node("x", "y", k, stride, pads)], {"x": shape}, ["y"])


@pytest.mark.parametrize("case", named(POOL_CASES))
def test_maxpool(case, tmp_path):
    check(maxpool_model(*case[1:]), tmp_path)


def test_maxpool_rectangular(tmp_path):
    node = helper.make_node(
        "MaxPool", ["x"], ["y"], kernel_shape=[1, 3], strides=[1, 2], pads=[0, 1, 0, 1]
    )
    check(build([node], {"x": (1, 40, 4, 9)}, ["y"]), tmp_path)


def test_conv_rectangular_kernel(tmp_path):
    model = weighted_conv(
        (1, 4, 9, 8),
        (6, 4, 1, 5),
        10,
        strides=[2, 1],
        pads=[0, 2, 1, 0],
        dilations=[2, 1],
    )
    check(model, tmp_path)


def test_maxpool_all_negative_with_padding(tmp_path):
    """Padding must act as -inf, not 0: all inputs negative."""
    model = maxpool_model((1, 8, 7, 9), 3, 2, (1, 1, 1, 1))
    x = -np.abs(random_inputs(model)["x"]) - 1.0
    out, _ = check(model, tmp_path, inputs={"x": x})
    assert np.all(out["y"] < 0)


def test_maxpool_default_chip(tmp_path):
    check(maxpool_model((2, 96, 7, 9), 3, 2, (1, 1, 1, 1)), tmp_path, chip="default")


@pytest.mark.parametrize("chip", ["small", "default"])
def test_returned_reflect_pad_pooled(chip, tmp_path):
    """A reflect pad whose output is returned and pooled (difftest seed 92, graph
    115, reduced): the pad writes its reflected column from a buffer kept on chip,
    and the pooling reads the output's kept copy, whose twin of that write must read
    the kept buffer too (it read a DRAM buffer nobody wrote: zeros)."""
    nodes = [
        helper.make_node("Pad", ["x", "p"], ["pad"], mode="reflect"),
        helper.make_node("MaxPool", ["pad"], ["y"], kernel_shape=[2, 1], pads=[1, 0, 0, 0], strides=[3, 2]),
    ]
    model = build(nodes, {"x": (1, 6, 1, 4)}, ["pad", "y"], {"p": np.array([0, 0, 0, 0, 0, 0, 0, 1], np.int64)})
    check(model, tmp_path, chip=chip)


# ---------------------------------------------------------------------------- Gemm


def gemm_model(
    m: int,
    k: int,
    n: int,
    trans_a: int = 0,
    trans_b: int = 0,
    alpha: float = 1.0,
    beta: float = 1.0,
    c_shape: Sequence[int] | None = (-1,),
    seed: int = 0,
) -> onnx.ModelProto:
    """Y = alpha * A' @ B' + beta * C with A an input, B and C initializers.
    c_shape (-1,) means [N]; None means no C."""
    rng = np.random.default_rng(seed)
    b_shape = (n, k) if trans_b else (k, n)
    weights = {"b": weight(rng, b_shape, k)}
    names = ["a", "b"]
    if c_shape is not None:
        shape = tuple(n if d == -1 else d for d in c_shape)
        weights["c"] = rng.uniform(-1, 1, shape).astype(np.float32)
        names.append("c")
    node = helper.make_node(
        "Gemm", names, ["y"], alpha=alpha, beta=beta, transA=trans_a, transB=trans_b
    )
    a_shape = (k, m) if trans_a else (m, k)
    return build([node], {"a": a_shape}, ["y"], weights)


GEMM_CASES = [
    # (id, M, K, N, transA, transB, alpha, beta, C shape)
    ("mlp-fc1", 8, 784, 512, 0, 1, 1.0, 1.0, (-1,)),
    ("mlp-fc1-noT", 8, 784, 512, 0, 0, 1.0, 1.0, (-1,)),
    ("small-noT", 5, 33, 7, 0, 0, 1.0, 1.0, (-1,)),
    ("small-tB", 5, 33, 7, 0, 1, 1.0, 1.0, (-1,)),
    ("small-tA", 5, 33, 7, 1, 0, 1.0, 1.0, (-1,)),
    ("small-tAtB", 5, 33, 7, 1, 1, 1.0, 1.0, (-1,)),
    ("alpha-beta", 5, 33, 7, 0, 0, 0.5, 2.0, (-1,)),
    ("alpha-beta-tAtB", 5, 33, 7, 1, 1, -1.5, 0.25, (-1,)),
    ("C-MxN", 5, 33, 7, 0, 1, 1.0, 1.0, (5, 7)),
    ("C-MxN-beta", 5, 33, 7, 1, 0, 0.75, -2.0, (5, 7)),
    ("C-Mx1", 5, 33, 7, 0, 0, 1.0, 1.0, (5, 1)),
    ("C-Mx1-beta", 5, 33, 7, 0, 1, 2.0, 3.0, (5, 1)),
    ("C-scalar", 5, 33, 7, 0, 0, 1.0, 1.0, (1,)),
    ("C-scalar-beta", 5, 33, 7, 1, 1, 1.0, -0.5, (1,)),
    ("C-1xN", 5, 33, 7, 0, 0, 1.0, 1.0, (1, 7)),
    ("no-C", 5, 33, 7, 0, 1, 1.0, 1.0, None),
    ("no-C-alpha", 5, 33, 7, 1, 0, 3.0, 1.0, None),
    ("tiled-M40-N70", 40, 100, 70, 0, 0, 1.0, 1.0, (-1,)),
    ("tiled-tA-M40", 40, 100, 70, 1, 1, 0.5, 0.5, (40, 70)),
    ("tiled-C-Mx1", 40, 65, 33, 0, 1, 1.0, 1.0, (40, 1)),
    ("C-1x1", 5, 33, 7, 0, 0, 1.0, 2.0, (1, 1)),
    ("beta0", 5, 33, 7, 0, 0, 1.0, 0.0, (5, 7)),
    ("N600-over-one-bank", 8, 64, 600, 0, 1, 1.0, 1.0, (-1,)),
]


@pytest.mark.parametrize("case", named(GEMM_CASES))
def test_gemm(case, tmp_path):
    _, m, k, n = case[:4]
    _, stats = check(gemm_model(*case[1:]), tmp_path)
    assert stats["macs"] == m * k * n


@pytest.mark.parametrize(
    "case", named(GEMM_CASES, "mlp-fc1", "alpha-beta-tAtB", "C-Mx1", "tiled-tA-M40")
)
def test_gemm_default_chip(case, tmp_path):
    check(gemm_model(*case[1:]), tmp_path, chip="default")


def test_gemm_both_operands_are_inputs(tmp_path):
    """B (and C) as runtime inputs rather than initializers."""
    node = helper.make_node("Gemm", ["a", "b", "c"], ["y"], transB=1, alpha=0.5)
    model = build([node], {"a": (6, 40), "b": (9, 40), "c": (9,)}, ["y"])
    check(model, tmp_path)


def test_gemm_beta_zero_drops_a_nan_bias(tmp_path):
    """beta = 0 drops C, so a C of NaN and infinity adds nothing (as onnxruntime and
    onnx's reference implementation: 0 x NaN would be NaN everywhere)."""
    rng = np.random.default_rng(4)
    node = helper.make_node("Gemm", ["a", "b", "c"], ["y"], beta=0.0)
    c = np.array([np.nan, np.inf, -np.inf, 1.0, np.nan], np.float32)
    model = build([node], {"a": (3, 4)}, ["y"], {"b": weight(rng, (4, 5), 4), "c": c})
    outputs, _ = check(model, tmp_path)
    assert np.isfinite(outputs["y"]).all()


# -------------------------------------------------------------------------- MatMul


@pytest.mark.parametrize(
    "m,k,n", [(5, 33, 7), (8, 784, 10), (40, 100, 70), (1, 1, 1), (33, 1, 65)]
)
def test_matmul_constant_rhs(m, k, n, tmp_path):
    rng = np.random.default_rng(0)
    node = helper.make_node("MatMul", ["a", "b"], ["y"])
    model = build([node], {"a": (m, k)}, ["y"], {"b": weight(rng, (k, n), k)})
    check(model, tmp_path)


@pytest.mark.parametrize("m,k,n", [(5, 33, 7), (40, 70, 36)])
def test_matmul_both_inputs(m, k, n, tmp_path):
    node = helper.make_node("MatMul", ["a", "b"], ["y"])
    check(build([node], {"a": (m, k), "b": (k, n)}, ["y"]), tmp_path)


def test_matmul_constant_lhs(tmp_path):
    rng = np.random.default_rng(0)
    node = helper.make_node("MatMul", ["a", "b"], ["y"])
    model = build([node], {"b": (33, 7)}, ["y"], {"a": weight(rng, (40, 33), 33)})
    check(model, tmp_path)


def test_matmul_default_chip(tmp_path):
    node = helper.make_node("MatMul", ["a", "b"], ["y"])
    check(build([node], {"a": (40, 200), "b": (200, 150)}, ["y"]), tmp_path, "default")


# ---------------------------------------------------------------------------- Relu


@pytest.mark.parametrize(
    "shape", [(2, 3, 4, 5), (40, 70), (1, 48, 7, 9), (7,), (1, 1)], ids=str
)
def test_relu(shape, tmp_path):
    node = helper.make_node("Relu", ["x"], ["y"])
    check(build([node], {"x": shape}, ["y"]), tmp_path)


# ----------------------------------------------------------------------- Add / Mul

BROADCASTS = [
    ("same-4d", (2, 3, 4, 5), (2, 3, 4, 5)),
    ("same-2d-tiled", (40, 70), (40, 70)),
    ("trailing-vector", (2, 3, 4, 5), (5,)),
    ("channel", (2, 3, 4, 5), (3, 1, 1)),
    ("outer", (4, 1), (1, 6)),
    ("scalar-like", (2, 3, 4, 5), (1,)),
    ("vector-first", (5,), (2, 3, 4, 5)),
    ("nchw-bias", (1, 48, 7, 9), (1, 48, 1, 1)),
    ("row-col", (40, 1), (40, 70)),
]


@pytest.mark.parametrize("op", ["Add", "Mul"])
@pytest.mark.parametrize("case", named(BROADCASTS))
def test_binary_both_inputs(op, case, tmp_path):
    _, a, b = case
    node = helper.make_node(op, ["a", "b"], ["y"])
    check(build([node], {"a": a, "b": b}, ["y"]), tmp_path)


@pytest.mark.parametrize("op", ["Add", "Mul"])
@pytest.mark.parametrize(
    "case", named(BROADCASTS, "trailing-vector", "channel", "outer", "scalar-like")
)
def test_binary_constant_rhs(op, case, tmp_path):
    _, a, b = case
    rng = np.random.default_rng(5)
    node = helper.make_node(op, ["a", "b"], ["y"])
    const = rng.standard_normal(b).astype(np.float32)
    check(build([node], {"a": a}, ["y"], {"b": const}), tmp_path)


def test_binary_same_input_twice(tmp_path):
    nodes = [
        helper.make_node("Mul", ["x", "x"], ["sq"]),
        helper.make_node("Add", ["sq", "x"], ["y"]),
    ]
    check(build(nodes, {"x": (3, 50)}, ["y"]), tmp_path)


@pytest.mark.parametrize("op", ["Add", "Mul"])
def test_binary_default_chip(op, tmp_path):
    node = helper.make_node(op, ["a", "b"], ["y"])
    model = build([node], {"a": (2, 3, 4, 5), "b": (3, 1, 1)}, ["y"])
    check(model, tmp_path, chip="default")


# ------------------------------------------------------------------------- Softmax

SOFTMAX_CASES = [
    ("2d-last", (8, 10), -1),
    ("2d-last-wide", (5, 700), -1),
    ("2d-tall", (40, 12), 1),
    ("3d-last", (2, 3, 40), -1),
    ("3d-axis1", (2, 3, 40), 1),
    ("3d-axis1-tall", (2, 48, 5), 1),
    ("3d-axis0", (3, 4, 5), 0),
    ("4d-axis1", (1, 8, 3, 5), 1),
]


@pytest.mark.parametrize("case", named(SOFTMAX_CASES))
def test_softmax(case, tmp_path):
    _, shape, axis = case
    node = helper.make_node("Softmax", ["x"], ["y"], axis=axis)
    out, _ = check(build([node], {"x": shape}, ["y"]), tmp_path)
    np.testing.assert_allclose(out["y"].sum(axis=axis), 1.0, rtol=1e-4)


def test_softmax_large_logits_are_stable(tmp_path):
    """Inputs around +-500 overflow exp() unless the row max is subtracted."""
    node = helper.make_node("Softmax", ["x"], ["y"], axis=-1)
    model = build([node], {"x": (4, 20)}, ["y"])
    x = random_inputs(model, scale=300.0)
    check(model, tmp_path, inputs=x)


@pytest.mark.parametrize("chip", ["small", "default"])
def test_softmax_default_and_small(chip, tmp_path):
    node = helper.make_node("Softmax", ["x"], ["y"], axis=1)
    check(build([node], {"x": (2, 40, 6)}, ["y"]), tmp_path, chip=chip)


# -------------------------------------------------------------- Reshape / Flatten


def _int64(values: Sequence[int]) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def test_conv_flatten_gemm(tmp_path):
    rng = np.random.default_rng(0)
    nodes = [
        helper.make_node(
            "Conv", ["x", "w", "cb"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]
        ),
        helper.make_node("Flatten", ["c"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], transB=1),
    ]
    weights = {
        "w": weight(rng, (6, 3, 3, 3), 27),
        "cb": rng.uniform(-0.3, 0.3, 6).astype(np.float32),
        "fw": weight(rng, (10, 6 * 7 * 9), 6 * 7 * 9),
        "fb": rng.uniform(-0.3, 0.3, 10).astype(np.float32),
    }
    check(build(nodes, {"x": (1, 3, 7, 9)}, ["y"], weights), tmp_path)


def test_conv_reshape_gemm_batch2(tmp_path):
    rng = np.random.default_rng(1)
    nodes = [
        helper.make_node(
            "Conv", ["x", "w"], ["c"], kernel_shape=[3, 3], strides=[2, 2]
        ),
        helper.make_node("Reshape", ["c", "shape"], ["r"]),
        helper.make_node("Gemm", ["r", "fw"], ["y"]),
    ]
    # x [2, 4, 9, 7] -> c [2, 8, 4, 3] -> r [2, 96] -> y [2, 5]
    weights = {
        "w": weight(rng, (8, 4, 3, 3), 36),
        "shape": _int64([2, -1]),
        "fw": weight(rng, (96, 5), 96),
    }
    check(build(nodes, {"x": (2, 4, 9, 7)}, ["y"], weights), tmp_path)


def test_gemm_reshape_softmax(tmp_path):
    rng = np.random.default_rng(2)
    nodes = [
        helper.make_node("Gemm", ["x", "w", "b"], ["g"]),
        helper.make_node("Reshape", ["g", "shape"], ["r"]),
        helper.make_node("Softmax", ["r"], ["y"], axis=-1),
    ]
    weights = {
        "w": weight(rng, (20, 48), 20),
        "b": rng.uniform(-1, 1, 48).astype(np.float32),
        "shape": _int64([0, 4, 12]),
    }
    check(build(nodes, {"x": (6, 20)}, ["y"], weights), tmp_path)


def test_reshape_then_relu_output_shape(tmp_path):
    nodes = [
        helper.make_node("Reshape", ["x", "shape"], ["r"]),
        helper.make_node("Relu", ["r"], ["y"]),
    ]
    model = build(nodes, {"x": (2, 3, 4, 5)}, ["y"], {"shape": _int64([6, -1])})
    out, _ = check(model, tmp_path)
    assert out["y"].shape == (6, 20)


@pytest.mark.parametrize("axis", [0, 1, 2, 3, -1])
def test_flatten_axes(axis, tmp_path):
    nodes = [
        helper.make_node("Relu", ["x"], ["r"]),
        helper.make_node("Flatten", ["r"], ["y"], axis=axis),
    ]
    check(build(nodes, {"x": (2, 3, 4, 5)}, ["y"]), tmp_path)


@pytest.mark.parametrize("op", ["Flatten", "Identity"])
def test_view_of_an_input_is_the_graph_output(op, tmp_path):
    """No arithmetic at all: the program may alias the output to the input."""
    node = helper.make_node(
        op, ["x"], ["y"], **({"axis": 1} if op == "Flatten" else {})
    )
    out, _ = check(build([node], {"x": (2, 3, 4, 5)}, ["y"]), tmp_path, computes=False)
    assert out["y"].shape == ((2, 60) if op == "Flatten" else (2, 3, 4, 5))


def test_wide_conv_pool_flatten_gemm(tmp_path):
    """48 channels split over partitions on 'small': Flatten must still read them in
    NCHW order."""
    rng = np.random.default_rng(7)
    nodes = [
        helper.make_node(
            "Conv", ["x", "w"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]
        ),
        helper.make_node("MaxPool", ["c"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("Gemm", ["f", "fw"], ["y"], transB=1),
    ]
    weights = {
        "w": weight(rng, (48, 3, 3, 3), 27),
        "fw": weight(rng, (10, 48 * 5 * 7), 48 * 35),
    }
    check(build(nodes, {"x": (1, 3, 10, 14)}, ["y"], weights), tmp_path)


def test_gemm_reshape_conv(tmp_path):
    """A 2-D result reshaped to NCHW (40 channels) and convolved."""
    rng = np.random.default_rng(8)
    nodes = [
        helper.make_node("Gemm", ["x", "w"], ["g"]),
        helper.make_node("Reshape", ["g", "shape"], ["r"]),
        helper.make_node(
            "Conv", ["r", "cw"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]
        ),
    ]
    weights = {
        "w": weight(rng, (20, 40 * 3 * 3), 20),
        "shape": _int64([2, 40, 3, 3]),
        "cw": weight(rng, (36, 40, 3, 3), 360),
    }
    check(build(nodes, {"x": (2, 20)}, ["y"], weights), tmp_path)


@pytest.mark.parametrize("axis", [1, -1])
def test_conv_reshape_softmax(axis, tmp_path):
    """[1, 40, 5, 7] -> [1, 40, 35] -> Softmax over channels or over positions."""
    rng = np.random.default_rng(9)
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[1, 1]),
        helper.make_node("Reshape", ["c", "shape"], ["r"]),
        helper.make_node("Softmax", ["r"], ["y"], axis=axis),
    ]
    weights = {"w": weight(rng, (40, 8, 1, 1), 8), "shape": _int64([1, 40, 35])}
    check(build(nodes, {"x": (1, 8, 5, 7)}, ["y"], weights), tmp_path)


# -------------------------------------------------------------------------- chains


def chain_model(seed: int = 0) -> onnx.ModelProto:
    """Conv -> Relu -> MaxPool -> Conv (+ Relu), 48 channels so 'small' tiles them."""
    rng = np.random.default_rng(seed)
    nodes = [
        helper.make_node(
            "Conv", ["x", "w1", "b1"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]
        ),
        helper.make_node("Relu", ["c1"], ["r1"]),
        maxpool_node("r1", "p1", 3, 2, (1, 1, 1, 1)),
        helper.make_node(
            "Conv", ["p1", "w2", "b2"], ["c2"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]
        ),
        helper.make_node("Relu", ["c2"], ["y"]),
    ]
    weights = {
        "w1": weight(rng, (48, 3, 3, 3), 27),
        "b1": rng.uniform(-0.2, 0.2, 48).astype(np.float32),
        "w2": weight(rng, (40, 48, 3, 3), 48 * 9),
        "b2": rng.uniform(-0.1, 0.1, 40).astype(np.float32),
    }
    return build(nodes, {"x": (1, 3, 13, 11)}, ["y"], weights)


@pytest.mark.parametrize("chip", ["small", "default"])
def test_conv_relu_maxpool_conv(chip, tmp_path):
    check(chain_model(), tmp_path, chip=chip)


@pytest.mark.parametrize("chip", ["small", "default"])
def test_banded_stem_conv_pool(chip, tmp_path):
    """ShuffleNet's stem in small: a 3-channel 3x3 stride-2 conv whose output rows go
    side by side in bands on the PE array (conv-bands), relu, then a 3x3 stride-2
    max pooling in bands (pool-bands) and a 1x1 conv; on the default chip the conv's
    output stays on chip in the band layout (keep-bands: 4 bands of 24 channels),
    the pooling's band loads from it in pieces."""
    rng = np.random.default_rng(8)
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("MaxPool", ["r"], ["m"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["m", "w2"], ["y"], kernel_shape=[1, 1]),
    ]
    weights = {"w": weight(rng, (24, 3, 3, 3), 27), "w2": weight(rng, (16, 24, 1, 1), 24)}
    check(build(nodes, {"x": (1, 3, 128, 128)}, ["y"], weights), tmp_path, chip=chip)


def test_two_outputs_and_intermediate_output(tmp_path):
    """An intermediate value that is also a graph output, plus a residual Add."""
    rng = np.random.default_rng(4)
    nodes = [
        helper.make_node("Gemm", ["x", "w1"], ["h"], transB=1),
        helper.make_node("Relu", ["h"], ["r"]),
        helper.make_node("Add", ["r", "x"], ["res"]),
        helper.make_node("MatMul", ["res", "w2"], ["y"]),
    ]
    weights = {"w1": weight(rng, (36, 36), 36), "w2": weight(rng, (36, 10), 36)}
    check(build(nodes, {"x": (5, 36)}, ["h", "y"], weights), tmp_path)


def test_depthwise_separable_block(tmp_path):
    """Depthwise 3x3 -> Relu -> pointwise 1x1 -> Relu, 48 -> 64 channels."""
    rng = np.random.default_rng(6)
    nodes = [
        helper.make_node(
            "Conv", ["x", "dw"], ["d"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=48
        ),
        helper.make_node("Relu", ["d"], ["dr"]),
        helper.make_node("Conv", ["dr", "pw", "pb"], ["p"], kernel_shape=[1, 1]),
        helper.make_node("Relu", ["p"], ["y"]),
    ]
    weights = {
        "dw": weight(rng, (48, 1, 3, 3), 9),
        "pw": weight(rng, (64, 48, 1, 1), 48),
        "pb": rng.uniform(-0.1, 0.1, 64).astype(np.float32),
    }
    check(build(nodes, {"x": (1, 48, 7, 9)}, ["y"], weights), tmp_path)


# ------------------------------------------------------- the light-zoo operators


def _vec(rng: np.random.Generator, n: int, lo: float, hi: float) -> np.ndarray:
    return rng.uniform(lo, hi, n).astype(np.float32)


def _bn_weights(rng: np.random.Generator, c: int, prefix: str = "bn") -> dict[str, np.ndarray]:
    return {
        f"{prefix}_s": _vec(rng, c, 0.8, 1.2),
        f"{prefix}_b": _vec(rng, c, -0.1, 0.1),
        f"{prefix}_m": _vec(rng, c, -0.1, 0.1),
        f"{prefix}_v": _vec(rng, c, 0.5, 1.5),
    }


def _bn(x: str, y: str, prefix: str = "bn") -> onnx.NodeProto:
    params = [f"{prefix}_{p}" for p in "sbmv"]
    return helper.make_node("BatchNormalization", [x, *params], [y], epsilon=1e-3)


@pytest.mark.parametrize("after_conv", [True, False], ids=["folded-into-conv", "alone"])
def test_batchnorm(after_conv, tmp_path):
    rng = np.random.default_rng(20)
    weights = _bn_weights(rng, 48)
    nodes = [_bn("c" if after_conv else "x", "y")]
    if after_conv:
        weights["w"] = weight(rng, (48, 8, 3, 3), 72)
        nodes.insert(0, helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]))
    shape = (1, 8, 7, 9) if after_conv else (2, 48, 5, 7)
    check(build(nodes, {"x": shape}, ["y"], weights, opset=9), tmp_path)


# (id, shape, kernel, strides, pads, count_include_pad)
AVGPOOL_CASES = [
    ("3x3-s1-p1-exclude", (1, 48, 7, 9), 3, 1, (1, 1, 1, 1), 0),
    ("3x3-s1-p1-include", (1, 48, 7, 9), 3, 1, (1, 1, 1, 1), 1),
    ("3x3-s2-p1-exclude", (2, 8, 9, 7), 3, 2, (1, 1, 1, 1), 0),
    ("7x7-head-asym", (1, 40, 6, 6), 7, 1, (0, 0, 1, 1), 0),  # Inception v1's head
    ("2x2-s2-nopad", (1, 96, 8, 10), 2, 2, (0, 0, 0, 0), 0),
    ("7x7-nopad", (1, 36, 7, 7), 7, 1, (0, 0, 0, 0), 0),
]


@pytest.mark.parametrize("case", named(AVGPOOL_CASES))
def test_avgpool(case, tmp_path):
    _, shape, k, stride, pads, include = case
    node = helper.make_node(
        "AveragePool",
        ["x"],
        ["y"],
        kernel_shape=[k, k],
        strides=[stride, stride],
        pads=list(pads),
        count_include_pad=include,
    )
    check(build([node], {"x": shape}, ["y"]), tmp_path)


@pytest.mark.parametrize(
    "shape", [(1, 40, 7, 7), (2, 48, 13, 13), (1, 20, 48, 50)], ids=str
)
def test_global_avgpool(shape, tmp_path):
    """Planes above 2048 pixels (48 x 50) are summed in chunks."""
    node = helper.make_node("GlobalAveragePool", ["x"], ["y"])
    check(build([node], {"x": shape}, ["y"]), tmp_path)


@pytest.mark.parametrize(
    ("c", "size", "alpha", "beta", "bias"),
    [
        (48, 5, 1e-4, 0.75, 1.0),  # AlexNet's, two channel tiles on the small chip
        (96, 5, 5e-4, 0.75, 2.0),  # ZFNet's, three tiles
        (20, 3, 0.3, 0.5, 1.5),  # a big alpha: (bias + s) far from 1
        (16, 1, 0.2, 1.0, 1.0),
    ],
    ids=["alexnet", "zfnet", "strong", "size1"],
)
def test_lrn(c, size, alpha, beta, bias, tmp_path):
    node = helper.make_node(
        "LRN", ["x"], ["y"], size=size, alpha=alpha, beta=beta, bias=bias
    )
    check(build([node], {"x": (1, c, 5, 7)}, ["y"], opset=9), tmp_path)


def test_lrn_default_chip(tmp_path):
    node = helper.make_node("LRN", ["x"], ["y"], size=5, alpha=1e-4, beta=0.75, bias=1.0)
    check(build([node], {"x": (1, 256, 9, 9)}, ["y"], opset=9), tmp_path, "default")


@pytest.mark.parametrize("c", [163, 131])
def test_lrn_over_a_channel_count_without_a_large_divisor(c, tmp_path):
    """163 and 131 (primes) are widened by graph-pad-channels to 2 tiles of 82 and
    66 (a zero channel), instead of c tiles of one channel; the same as
    onnxruntime."""
    node = helper.make_node("LRN", ["x"], ["y"], size=5, alpha=1e-3, beta=0.75, bias=1.0)
    check(build([node], {"x": (1, c, 9, 9)}, ["y"], opset=9), tmp_path, "default")


@pytest.mark.parametrize(
    ("cin", "cout", "k", "stride"), [(163, 64, 3, 1), (64, 163, 3, 1), (131, 137, 3, 2), (163, 163, 1, 1)]
)
def test_conv_over_channel_counts_without_a_large_divisor(cin, cout, k, stride, tmp_path):
    """Thin channel counts (primes over 128: one channel a tile) are widened by
    graph-pad-channels with zero channels, weight columns and rows (a relu after
    the conv: its zero channels stay zero and are cut off); the same as
    onnxruntime."""
    rng = np.random.default_rng(cin + cout)
    weights = {"w": weight(rng, (cout, cin, k, k), cin * k * k), "b": weight(rng, (cout,), 1)}
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[k // 2] * 4, strides=[stride, stride]),
        helper.make_node("Relu", ["c"], ["y"]),
    ]
    check(build(nodes, {"x": (1, cin, 9, 9)}, ["y"], weights), tmp_path, "default")


def test_residual_conv_over_a_thin_channel_count(tmp_path):
    """relu(conv(x) + x) over 163 channels: the addend is the conv's input, widened
    once by the same concatenation; the same as onnxruntime."""
    rng = np.random.default_rng(163)
    weights = {"w": weight(rng, (163, 163, 3, 3), 163 * 9), "b": weight(rng, (163,), 1)}
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c", "x"], ["a"]),
        helper.make_node("Relu", ["a"], ["y"]),
    ]
    check(build(nodes, {"x": (1, 163, 7, 7)}, ["y"], weights), tmp_path, "default")


def test_grouped_conv_over_thin_groups(tmp_path):
    """Two groups of 163 channels (a prime) become one dense conv of
    block-diagonal weight, widened to 327 channels (3 tiles of 109, not 163 of
    2); the same as onnxruntime."""
    rng = np.random.default_rng(326)
    weights = {"w": weight(rng, (326, 163, 3, 3), 163 * 9)}
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1], group=2)]
    check(build(nodes, {"x": (1, 326, 6, 6)}, ["y"], weights), tmp_path, "default")


def _thin_channelwise_model(case: str) -> onnx.ModelProto:
    rng = np.random.default_rng(len(case))
    if case == "norm-pools":  # a batch norm, relu, max, average and global average pooling of 163
        c = 163
        weights = {
            "s": rng.uniform(0.5, 1.5, c).astype(np.float32), "t": weight(rng, (c,), 1),
            "m": weight(rng, (c,), 1), "v": rng.uniform(0.5, 1.5, c).astype(np.float32),
        }
        nodes = [
            helper.make_node("BatchNormalization", ["x", "s", "t", "m", "v"], ["n"]),
            helper.make_node("Relu", ["n"], ["r"]),
            helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
            helper.make_node("AveragePool", ["p"], ["a"], kernel_shape=[2, 2], strides=[2, 2]),
            helper.make_node("GlobalAveragePool", ["a"], ["y"]),
        ]
        return build(nodes, {"x": (1, c, 17, 17)}, ["y", "a"], weights)
    if case == "depthwise":  # relu(depthwise(x) + x) over 131
        c = 131
        weights = {"w": weight(rng, (c, 1, 3, 3), 9), "b": weight(rng, (c,), 1)}
        nodes = [
            helper.make_node("Conv", ["x", "w", "b"], ["d"], pads=[1, 1, 1, 1], group=c),
            helper.make_node("Add", ["d", "x"], ["a"]),
            helper.make_node("Relu", ["a"], ["y"]),
        ]
        return build(nodes, {"x": (1, c, 9, 9)}, ["y"], weights)
    # a thin conv's output (64 -> 163, widened by pad_thin_convs) pooled: the
    # poolings read the conv's widened result, not a slice of it
    weights = {"w": weight(rng, (163, 64, 3, 3), 64 * 9), "b": weight(rng, (163,), 1)}
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("GlobalAveragePool", ["p"], ["y"]),
    ]
    return build(nodes, {"x": (1, 64, 12, 12)}, ["y"], weights)


@pytest.mark.parametrize("case", ["norm-pools", "depthwise", "conv-pools"])
def test_channelwise_ops_over_a_thin_channel_count(case, tmp_path):
    """Poolings, a batch norm and a depthwise conv over 163 or 131 channels (primes:
    one channel a tile) are widened by graph-pad-channels to 2 tiles (a zero
    channel, zero scale, shift, weights and bias there) and read back by a slice;
    the same as onnxruntime, in a few dozen instructions where each tile of one
    channel took its own (the 163-channel max pooling alone ran 4,243)."""
    _, stats = check(_thin_channelwise_model(case), tmp_path, "default")
    assert sum(stats["instructions"].values()) < 200, stats["instructions"]


@pytest.mark.parametrize(
    ("m", "k", "n", "trans_a", "trans_b"),
    [(163, 1009, 997, False, True), (17, 251, 139, True, False), (5, 137, 131, False, True)],
)
def test_gemm_over_dims_without_a_large_divisor(m, k, n, trans_a, trans_b, tmp_path):
    """Thin contraction and output-column counts (primes over 128) are widened by
    graph-pad-channels with zeros on both operands and the bias; the same as
    onnxruntime (with alpha, beta and a relu after)."""
    rng = np.random.default_rng(m + k + n)
    b_shape = (n, k) if trans_b else (k, n)
    weights = {"w": weight(rng, b_shape, k), "c": weight(rng, (n,), 1)}
    nodes = [
        helper.make_node("Gemm", ["x", "w", "c"], ["g"], transA=int(trans_a), transB=int(trans_b), alpha=0.5, beta=2.0),
        helper.make_node("Relu", ["g"], ["y"]),
    ]
    check(build(nodes, {"x": (k, m) if trans_a else (m, k)}, ["y"], weights), tmp_path, "default")


@pytest.mark.parametrize(
    ("a_shape", "b_shape"),
    [((12, 196, 64), (12, 64, 197)), ((12, 197, 197), (12, 197, 64)), ((2, 12, 197, 64), (64, 131))],
)
def test_batched_matmul_over_dims_without_a_large_divisor(a_shape, b_shape, tmp_path):
    """A batched matmul's thin output columns (N) or contraction (K), as a ViT's
    attention over 197 tokens makes (q k^T, then the probabilities times v), are
    widened by graph-pad-channels with zeros on the last two dims of each operand
    and the result sliced back (in a few DMAs, each many rows); the same as
    onnxruntime, in a few hundred instructions where one-column tiles took about
    19,000 (2.1 million cycles for the first)."""
    rng = np.random.default_rng(sum(a_shape) + sum(b_shape))
    inputs = {"a": rng.standard_normal(a_shape).astype(np.float32)}
    weights = {}
    if len(b_shape) == 2:
        weights["b"] = weight(rng, b_shape, b_shape[0])
    else:
        inputs["b"] = rng.standard_normal(b_shape).astype(np.float32)
    node = helper.make_node("MatMul", ["a", "b"], ["y"])
    model = build([node], {k: v.shape for k, v in inputs.items()}, ["y"], weights)
    _, stats = check(model, tmp_path, "default", inputs=inputs)
    assert sum(stats["instructions"].values()) < 1000, stats["instructions"]


def _thin_rows_model(case: str) -> onnx.ModelProto:
    rng = np.random.default_rng(len(case))
    if case == "layer-norm":  # a ViT's 197 tokens of 768
        weights = {"s": rng.uniform(0.5, 1.5, 768).astype(np.float32), "b": weight(rng, (768,), 1)}
        node = helper.make_node("LayerNormalization", ["x", "s", "b"], ["y"], axis=-1, epsilon=1e-6)
        return build([node], {"x": (1, 197, 768)}, ["y"], weights, opset=17)
    if case == "softmax":  # its attention probabilities
        node = helper.make_node("Softmax", ["x"], ["y"], axis=-1)
        return build([node], {"x": (1, 12, 197, 197)}, ["y"], opset=17)
    if case == "log-softmax-inner":  # rows along the inner dim: 2 x 263 of 40
        node = helper.make_node("LogSoftmax", ["x"], ["y"], axis=1)
        return build([node], {"x": (2, 40, 263)}, ["y"], opset=17)
    if case == "bias-scale":  # a ViT MLP's bias over [1, 197, 3072], then GELU's 0.5
        weights = {"b": weight(rng, (3072,), 1), "h": np.array(0.5, np.float32)}
        nodes = [helper.make_node("Add", ["x", "b"], ["a"]), helper.make_node("Mul", ["a", "h"], ["y"])]
        return build(nodes, {"x": (1, 197, 3072)}, ["y"], weights, opset=17)
    nodes = [  # a row-broadcast operand over 257 rows (ViT-L/14's tokens)
        helper.make_node("ReduceMean", ["x"], ["m"], axes=[-1]),
        helper.make_node("Sub", ["x", "m"], ["y"]),
    ]
    return build(nodes, {"x": (1, 257, 96)}, ["y"], opset=13)


@pytest.mark.parametrize("case", ["layer-norm", "softmax", "log-softmax-inner", "row-broadcast", "bias-scale"])
def test_thin_row_counts(case, tmp_path):
    """Element-wise and softmax nests whose rows have no large divisor under the
    partitions (197, 257 and 263 are primes; 12 x 197 = 2,364 rows have 12) run as
    whole tiles of 128 rows and one of the rest (ragged-rows), not one tile per row
    or per 24; the same as onnxruntime, in a few hundred instructions (the layer
    norm took 4,997, the softmax 1,582)."""
    _, stats = check(_thin_rows_model(case), tmp_path, "default")
    assert sum(stats["instructions"].values()) < 400, stats["instructions"]


def test_concat_by_placement_and_by_copy(tmp_path):
    """Producers write into their slice (conv, relu); an input and a value also used
    elsewhere are copied; a concat feeds another (DenseNet's chain)."""
    rng = np.random.default_rng(21)
    weights = {"w1": weight(rng, (12, 8, 1, 1), 8), "w2": weight(rng, (6, 8, 3, 3), 72)}
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["a"]),
        helper.make_node("Relu", ["a"], ["r"]),
        helper.make_node("Conv", ["x", "w2"], ["b"], pads=[1, 1, 1, 1]),
        helper.make_node("Concat", ["r", "b", "x"], ["c1"], axis=1),
        helper.make_node("Relu", ["c1"], ["rc"]),
        helper.make_node("Concat", ["c1", "rc"], ["c2"], axis=1),
        helper.make_node("Concat", ["b", "b"], ["c3"], axis=3),
    ]
    outputs = ["c2", "r", "c3"]
    check(build(nodes, {"x": (1, 8, 5, 7)}, outputs, weights, opset=9), tmp_path)


def test_concat_batch2_is_copied(tmp_path):
    nodes = [
        helper.make_node("Relu", ["x"], ["r"]),
        helper.make_node("Concat", ["r", "y"], ["c"], axis=1),
    ]
    check(build(nodes, {"x": (2, 40, 3, 3), "y": (2, 8, 3, 3)}, ["c"]), tmp_path)


@pytest.mark.parametrize(
    ("shape", "perm"),
    [
        ((1, 4, 28, 6, 6), (0, 2, 1, 3, 4)),  # ShuffleNet's channel shuffle
        ((40, 70), (1, 0)),
        ((2, 3, 4, 5), (3, 1, 0, 2)),
        ((2, 3, 4, 5, 6, 7), (5, 4, 3, 2, 1, 0)),  # more dims than one DMA holds
    ],
    ids=["shuffle", "2d", "4d", "6d-reversed"],
)
def test_transpose(shape, perm, tmp_path):
    node = helper.make_node("Transpose", ["x"], ["y"], perm=list(perm))
    check(build([node], {"x": shape}, ["y"]), tmp_path, computes=False)


def test_channel_shuffle_block(tmp_path):
    """Reshape -> Transpose -> Reshape between grouped convs, as ShuffleNet does."""
    rng = np.random.default_rng(22)
    weights = {
        "w1": weight(rng, (24, 6, 1, 1), 6),
        "w2": weight(rng, (24, 1, 3, 3), 9),
        "s5": np.array([1, 4, 6, 5, 5], np.int64),
        "s4": np.array([1, 24, 5, 5], np.int64),
    }
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["g"], group=4),
        helper.make_node("Reshape", ["g", "s5"], ["g5"]),
        helper.make_node("Transpose", ["g5"], ["t5"], perm=[0, 2, 1, 3, 4]),
        helper.make_node("Reshape", ["t5", "s4"], ["sh"]),
        helper.make_node("Conv", ["sh", "w2"], ["y"], group=24, pads=[1, 1, 1, 1]),
    ]
    check(build(nodes, {"x": (1, 24, 5, 5)}, ["y"], weights, opset=9), tmp_path)


def test_sum_of_three_with_broadcast(tmp_path):
    node = helper.make_node("Sum", ["a", "b", "c"], ["y"])
    model = build([node], {"a": (1, 48, 5, 7), "b": (1, 48, 5, 7), "c": (48, 1, 1)}, ["y"], opset=9)
    check(model, tmp_path)


def test_densenet_style_block(tmp_path):
    """Concat -> BatchNorm -> Mul/Add by unsqueezed per-channel scales -> Relu ->
    Conv, and Dropout, ConstantOfShape and Unsqueeze on the way (opset 9)."""
    rng = np.random.default_rng(23)
    weights = {
        **_bn_weights(rng, 16),
        "sc": _vec(rng, 16, 0.8, 1.2),
        "sh": _vec(rng, 16, -0.1, 0.1),
        "w": weight(rng, (8, 16, 3, 3), 144),
        "wshape": np.array([8], np.int64),
    }
    fill = helper.make_tensor("value", TensorProto.FLOAT, [1], [0.05])
    nodes = [
        helper.make_node("Relu", ["x"], ["r"]),
        helper.make_node("Concat", ["x", "r"], ["c"], axis=1),
        _bn("c", "n"),
        helper.make_node("Unsqueeze", ["sc"], ["sc3"], axes=[1, 2]),
        helper.make_node("Mul", ["n", "sc3"], ["m"]),
        helper.make_node("Unsqueeze", ["sh"], ["sh3"], axes=[1, 2]),
        helper.make_node("Add", ["m", "sh3"], ["a"]),
        helper.make_node("Relu", ["a"], ["ra"]),
        helper.make_node("Dropout", ["ra"], ["d"], ratio=0.3),
        helper.make_node("ConstantOfShape", ["wshape"], ["bias"], value=fill),
        helper.make_node("Conv", ["d", "w", "bias"], ["y"], pads=[1, 1, 1, 1]),
    ]
    check(build(nodes, {"x": (1, 8, 6, 6)}, ["y"], weights, opset=9), tmp_path)


# ------------------------------------------- the op registry's NumPy references

_F = TensorProto.FLOAT


def _const(name: str, array: np.ndarray) -> onnx.NodeProto:
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(array))


def _reference_cases(rng: np.random.Generator) -> dict[str, tuple]:
    """One small model per ONNX op type of the registry: (nodes, inputs, outputs,
    weights, opset)."""
    w = lambda *s: rng.standard_normal(s).astype(np.float32)
    n = helper.make_node
    return {
        "Constant": ([_const("c", w(2, 3)), n("Add", ["x", "c"], ["y"])], {"x": (2, 3)}, ["y"], {}, OPSET),
        "Conv": (
            [n("Conv", ["x", "w", "b"], ["y"], pads=[1, 0, 1, 2], strides=[2, 1], dilations=[1, 2], group=2)],
            {"x": (1, 4, 7, 6)}, ["y"], {"w": w(6, 2, 3, 2), "b": w(6)}, OPSET,
        ),
        "Gemm": (
            [n("Gemm", ["x", "w", "c"], ["y"], transB=1, alpha=0.5, beta=2.0)],
            {"x": (3, 4)}, ["y"], {"w": w(5, 4), "c": w(5)}, OPSET,
        ),
        "MatMul": ([n("MatMul", ["x", "w"], ["y"])], {"x": (3, 4)}, ["y"], {"w": w(4, 5)}, OPSET),
        "Einsum": (
            [n("Einsum", ["x", "k"], ["y"], equation="bhqd,bhkd->bhqk")], {"x": (1, 2, 5, 8), "k": (1, 2, 7, 8)},
            ["y"], {}, OPSET,
        ),
        "Add": ([n("Add", ["x", "b"], ["y"])], {"x": (2, 3, 4)}, ["y"], {"b": w(3, 1)}, OPSET),
        "Mul": ([n("Mul", ["x", "b"], ["y"])], {"x": (2, 3, 4)}, ["y"], {"b": w(4)}, OPSET),
        "Relu": ([n("Relu", ["x"], ["y"])], {"x": (2, 5)}, ["y"], {}, OPSET),
        "Sum": ([n("Sum", ["x", "b", "x"], ["y"])], {"x": (2, 3)}, ["y"], {"b": w(1, 3)}, OPSET),
        "MaxPool": (
            [n("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])],
            {"x": (1, 2, 7, 6)}, ["y"], {}, OPSET,
        ),
        "AveragePool": (
            [n("AveragePool", ["x"], ["y"], kernel_shape=[3, 2], pads=[1, 1, 1, 0])],
            {"x": (1, 2, 5, 6)}, ["y"], {}, OPSET,
        ),
        "GlobalAveragePool": ([n("GlobalAveragePool", ["x"], ["y"])], {"x": (1, 3, 4, 5)}, ["y"], {}, OPSET),
        "Softmax": ([n("Softmax", ["x"], ["y"], axis=1)], {"x": (2, 3, 4)}, ["y"], {}, 11),
        "LRN": ([n("LRN", ["x"], ["y"], size=3, alpha=0.5, bias=2.0)], {"x": (1, 5, 3, 3)}, ["y"], {}, OPSET),
        "BatchNormalization": (
            [n("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"])],
            {"x": (1, 3, 2, 2)}, ["y"],
            {"s": w(3), "b": w(3), "m": w(3), "v": np.abs(w(3)) + 0.5}, OPSET,
        ),
        "Concat": ([n("Concat", ["x", "c"], ["y"], axis=1)], {"x": (2, 3)}, ["y"], {"c": w(2, 2)}, OPSET),
        "Transpose": ([n("Transpose", ["x"], ["y"], perm=[2, 0, 1])], {"x": (2, 3, 4)}, ["y"], {}, OPSET),
        "Reshape": (
            [n("Reshape", ["x", "s"], ["y"])], {"x": (2, 3, 4)}, ["y"], {"s": _int64([4, -1])}, OPSET,
        ),
        "Flatten": ([n("Flatten", ["x"], ["y"], axis=2)], {"x": (2, 3, 4)}, ["y"], {}, OPSET),
        "Unsqueeze": (
            [n("Unsqueeze", ["x", "a"], ["y"])], {"x": (2, 3)}, ["y"], {"a": _int64([0, 3])}, OPSET,
        ),
        "Dropout": ([n("Dropout", ["x"], ["y"], seed=1)], {"x": (2, 3)}, ["y"], {}, OPSET),
        "ConstantOfShape": (
            [
                n("ConstantOfShape", ["s"], ["c"], value=helper.make_tensor("v", _F, [1], [1.5])),
                n("Mul", ["x", "c"], ["y"]),
            ],
            {"x": (2, 3)}, ["y"], {"s": _int64([2, 3])}, OPSET,
        ),
        "Identity": ([n("Identity", ["x"], ["i"]), n("Relu", ["i"], ["y"])], {"x": (2, 3)}, ["y"], {}, OPSET),
        **{
            op: ([n(op, ["x"], ["y"])], {"x": (2, 5)}, ["y"], {}, OPSET)
            for op in ("Exp", "Log", "Reciprocal", "Sqrt", "Sigmoid", "Tanh", "Erf", "Softplus")
        },
        "Loop": _loop_case(),
        "Clip": (
            [n("Clip", ["x", "lo", "hi"], ["y"])], {"x": (2, 5)}, ["y"],
            {"lo": np.array(-0.5, np.float32), "hi": np.array(0.7, np.float32)}, OPSET,
        ),
        "HardSigmoid": ([n("HardSigmoid", ["x"], ["y"], alpha=0.3, beta=0.4)], {"x": (2, 5)}, ["y"], {}, OPSET),
        "HardSwish": ([n("HardSwish", ["x"], ["y"])], {"x": (2, 5)}, ["y"], {}, 14),
        "Gelu": ([n("Gelu", ["x"], ["y"])], {"x": (2, 5)}, ["y"], {}, 20),
        "Mean": ([n("Mean", ["x", "b", "c"], ["y"])], {"x": (2, 3)}, ["y"], {"b": w(3), "c": w(2, 1)}, OPSET),
        "Expand": ([n("Expand", ["x", "s"], ["y"])], {"x": (3, 1)}, ["y"], {"s": _int64([2, 3, 4])}, OPSET),
        "GlobalMaxPool": ([n("GlobalMaxPool", ["x"], ["y"])], {"x": (1, 3, 4, 5)}, ["y"], {}, OPSET),
        "LeakyRelu": ([n("LeakyRelu", ["x"], ["y"], alpha=0.2)], {"x": (2, 5)}, ["y"], {}, OPSET),
        "Bernoulli": (
            [n("Bernoulli", ["x"], ["y"], seed=5.0)], {"x": (40, 50)}, ["y"], {}, 15,
        ),
        "RandomUniformLike": (
            [n("RandomUniformLike", ["x"], ["y"], low=-1.0, high=2.0, seed=3.0)],
            {"x": (40, 50)}, ["y"], {}, OPSET,
        ),
        "Sub": ([n("Sub", ["x", "b"], ["y"])], {"x": (2, 3, 4)}, ["y"], {"b": w(3, 1)}, OPSET),
        "Div": ([n("Div", ["x", "b"], ["y"])], {"x": (2, 3, 4), "b": (4,)}, ["y"], {}, OPSET),
        "Max": ([n("Max", ["x", "b", "c"], ["y"])], {"x": (2, 3)}, ["y"], {"b": w(3), "c": w(2, 1)}, OPSET),
        "Min": ([n("Min", ["x", "b"], ["y"])], {"x": (2, 3)}, ["y"], {"b": w(3)}, OPSET),
        **{
            op: ([n(op, ["x"], ["y"], **attrs)], {"x": (2, 5)}, ["y"], {}, OPSET)
            for op, attrs in (("Neg", {}), ("Abs", {}), ("Elu", {"alpha": 0.5}), ("Celu", {"alpha": 1.5}),
                              ("Selu", {}), ("Softsign", {}), ("LogSoftmax", {"axis": 1}))
        },
        "PRelu": ([n("PRelu", ["x", "s"], ["y"])], {"x": (1, 3, 2, 2)}, ["y"], {"s": w(3, 1, 1)}, OPSET),
        "Where": (
            [n("Where", ["m", "x", "f"], ["y"])], {"x": (2, 4, 4)}, ["y"],
            {"m": np.tril(np.ones((4, 4), bool)), "f": np.array(-1e4, np.float32)}, OPSET,
        ),
        "Pow": ([n("Pow", ["x", "e"], ["y"])], {"x": (2, 5)}, ["y"], {"e": np.array(3.0, np.float32)}, OPSET),
        "Squeeze": ([n("Squeeze", ["x", "a"], ["y"])], {"x": (2, 1, 3)}, ["y"], {"a": _int64([1])}, OPSET),
        "Slice": (
            [n("Slice", ["x", "s", "e", "a", "p"], ["y"])], {"x": (4, 6)}, ["y"],
            {"s": _int64([1]), "e": _int64([6]), "a": _int64([1]), "p": _int64([2])}, OPSET,
        ),
        "Split": (
            [n("Split", ["x", "s"], ["y", "z"], axis=1)], {"x": (2, 5)}, ["y", "z"],
            {"s": _int64([2, 3])}, OPSET,
        ),
        "Pad": (
            [n("Pad", ["x", "p"], ["y"], mode="reflect")], {"x": (3, 4)}, ["y"],
            {"p": _int64([1, 2, 0, 1])}, OPSET,
        ),
        "Tile": ([n("Tile", ["x", "r"], ["y"])], {"x": (2, 3)}, ["y"], {"r": _int64([2, 2])}, OPSET),
        "Cast": ([n("Cast", ["x"], ["c"], to=_F), n("Relu", ["c"], ["y"])], {"x": (2, 3)}, ["y"], {}, OPSET),
        "ConvTranspose": (
            [n("ConvTranspose", ["x", "w", "b"], ["y"], strides=[2, 2], pads=[1, 0, 0, 1], output_padding=[1, 0])],
            {"x": (1, 4, 3, 4)}, ["y"], {"w": w(4, 3, 3, 2), "b": w(3)}, OPSET,
        ),
        "Resize": (
            [n("Resize", ["x", "", "s"], ["y"], mode="linear")], {"x": (1, 2, 3, 4)}, ["y"],
            {"s": np.array([1, 1, 2, 1.5], np.float32)}, OPSET,
        ),
        "Upsample": (
            [n("Upsample", ["x", "s"], ["y"])], {"x": (1, 2, 3, 4)}, ["y"],
            {"s": np.array([1, 1, 2, 3], np.float32)}, 9,
        ),
        "DepthToSpace": ([n("DepthToSpace", ["x"], ["y"], blocksize=2)], {"x": (1, 8, 2, 3)}, ["y"], {}, OPSET),
        "SpaceToDepth": ([n("SpaceToDepth", ["x"], ["y"], blocksize=2)], {"x": (1, 2, 4, 6)}, ["y"], {}, OPSET),
        "Gather": (
            [n("Gather", ["x", "i"], ["y"], axis=1)], {"x": (2, 5)}, ["y"], {"i": _int64([4, 0, 1])}, OPSET,
        ),
        "ReduceSum": ([n("ReduceSum", ["x", "a"], ["y"])], {"x": (2, 3, 4)}, ["y"], {"a": _int64([1])}, OPSET),
        "ReduceMean": ([n("ReduceMean", ["x"], ["y"], axes=[0, 2], keepdims=0)], {"x": (2, 3, 4)}, ["y"], {}, OPSET),
        "ReduceSumSquare": ([n("ReduceSumSquare", ["x"], ["y"], axes=[1])], {"x": (2, 3, 4)}, ["y"], {}, OPSET),
        "ReduceL1": ([n("ReduceL1", ["x"], ["y"], axes=[2], keepdims=0)], {"x": (2, 3, 4)}, ["y"], {}, OPSET),
        "ReduceL2": ([n("ReduceL2", ["x"], ["y"], axes=[0, 2])], {"x": (2, 3, 4)}, ["y"], {}, OPSET),
        "ReduceMax": ([n("ReduceMax", ["x"], ["y"], axes=[1])], {"x": (2, 3, 4)}, ["y"], {}, OPSET),
        "ReduceMin": ([n("ReduceMin", ["x"], ["y"], axes=[0, 2], keepdims=0)], {"x": (2, 3, 4)}, ["y"], {}, OPSET),
        "InstanceNormalization": (
            [n("InstanceNormalization", ["x", "s", "b"], ["y"])], {"x": (1, 3, 2, 4)}, ["y"],
            {"s": w(3), "b": w(3)}, OPSET,
        ),
        "LayerNormalization": (
            [n("LayerNormalization", ["x", "s", "b"], ["y"], epsilon=1e-3)], {"x": (2, 3, 8)}, ["y"],
            {"s": w(8), "b": w(8)}, 17,
        ),
        "GroupNormalization": (
            [n("GroupNormalization", ["x", "s", "b"], ["y"], num_groups=2, epsilon=1e-3)],
            {"x": (1, 4, 2, 3)}, ["y"], {"s": w(4), "b": w(4)}, 21, {"y": (1, 4, 2, 3)},
        ),
        "RMSNormalization": (
            [n("RMSNormalization", ["x", "s"], ["y"], epsilon=1e-3)], {"x": (2, 3, 8)}, ["y"],
            {"s": w(8)}, 23,
        ),
        # onnxruntime's contrib operators (com.microsoft)
        "com.microsoft.FusedConv": (
            [n("FusedConv", ["x", "w", "b", "z"], ["y"], domain=MS, activation="LeakyRelu",
               activation_params=[0.2], pads=[1, 1, 1, 1])],
            {"x": (1, 3, 5, 5), "z": (1, 4, 5, 5)}, ["y"], {"w": w(4, 3, 3, 3), "b": w(4)}, OPSET,
            {"y": (1, 4, 5, 5)},
        ),
        "com.microsoft.FusedGemm": (
            [n("FusedGemm", ["x", "w", "c"], ["y"], domain=MS, transB=1, activation="HardSigmoid",
               activation_alpha=0.3, activation_beta=0.4)],
            {"x": (3, 4)}, ["y"], {"w": w(5, 4), "c": w(5)}, OPSET, {"y": (3, 5)},
        ),
        "com.microsoft.FusedMatMul": (
            [n("FusedMatMul", ["x", "w"], ["y"], domain=MS, alpha=0.5)],
            {"x": (2, 3, 4)}, ["y"], {"w": w(4, 5)}, OPSET, {"y": (2, 3, 5)},
        ),
        "com.microsoft.Gelu": ([n("Gelu", ["x"], ["y"], domain=MS)], {"x": (2, 8)}, ["y"], {}, OPSET, {"y": (2, 8)}),
        "com.microsoft.BiasGelu": (
            [n("BiasGelu", ["x", "b"], ["y"], domain=MS)], {"x": (2, 8)}, ["y"], {"b": w(8)}, OPSET, {"y": (2, 8)},
        ),
        "com.microsoft.FastGelu": (
            [n("FastGelu", ["x", "b"], ["y"], domain=MS)], {"x": (2, 8)}, ["y"], {"b": w(8)}, OPSET, {"y": (2, 8)},
        ),
        "com.microsoft.QuickGelu": (
            [n("QuickGelu", ["x"], ["y"], domain=MS, alpha=1.5)], {"x": (2, 8)}, ["y"], {}, OPSET, {"y": (2, 8)},
        ),
        "com.microsoft.SkipLayerNormalization": (
            [n("SkipLayerNormalization", ["x", "s", "g", "b", "c"], ["y"], domain=MS, epsilon=1e-5)],
            {"x": (2, 3, 8), "s": (2, 3, 8)}, ["y"], {"g": w(8), "b": w(8), "c": w(8)}, OPSET, {"y": (2, 3, 8)},
        ),
        "com.microsoft.SkipSimplifiedLayerNormalization": (
            [n("SkipSimplifiedLayerNormalization", ["x", "s", "g"], ["y"], domain=MS, epsilon=1e-5)],
            {"x": (2, 3, 8), "s": (2, 3, 8)}, ["y"], {"g": w(8)}, OPSET, {"y": (2, 3, 8)},
        ),
        # ONNX Attention (opset 23): grouped K/V heads, causal
        "Attention": (
            [n("Attention", ["q", "k", "v"], ["y"], is_causal=1)],
            {"q": (1, 4, 6, 8), "k": (1, 2, 6, 8), "v": (1, 2, 6, 8)}, ["y"], {}, 23, {"y": (1, 4, 6, 8)},
        ),
        "com.microsoft.Attention": (
            [n("Attention", ["x", "w", "b"], ["y"], domain=MS, num_heads=2, unidirectional=1)],
            {"x": (2, 4, 8)}, ["y"], {"w": w(8, 24), "b": w(24)}, OPSET, {"y": (2, 4, 8)},
        ),
        "com.microsoft.BiasAdd": (
            [n("BiasAdd", ["x", "b", "s"], ["y"], domain=MS)],
            {"x": (2, 3, 8), "s": (2, 3, 8)}, ["y"], {"b": w(8)}, OPSET, {"y": (2, 3, 8)},
        ),
        # onnxruntime's own, in the ONNX domain (its transformers optimizer's RMS norm)
        "SimplifiedLayerNormalization": (
            [n("SimplifiedLayerNormalization", ["x", "s"], ["y"], epsilon=1e-3)], {"x": (2, 3, 8)}, ["y"],
            {"s": w(8)}, 17, {"y": (2, 3, 8)},
        ),
    }


def _loop_case() -> tuple:
    """A Loop of v <- tanh(0.5 v) while max|v_new - v| > 0.05, at most 6 times."""
    body = helper.make_graph(
        [
            helper.make_node("Mul", ["v_in", "h"], ["s"]),
            helper.make_node("Tanh", ["s"], ["v_out"]),
            helper.make_node("Sub", ["v_out", "v_in"], ["d"]),
            helper.make_node("Abs", ["d"], ["a"]),
            helper.make_node("ReduceMax", ["a"], ["m"], keepdims=0),
            helper.make_node("Greater", ["m", "eps"], ["cond_out"]),
        ],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_in", _F, [2, 3])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_out", _F, [2, 3])],
        [numpy_helper.from_array(np.array(0.5, np.float32), "h"),
         numpy_helper.from_array(np.array(0.05, np.float32), "eps")],
    )
    node = helper.make_node("Loop", ["M", "", "x"], ["y"], body=body)
    return ([node], {"x": (2, 3)}, ["y"], {"M": np.array(6, np.int64)}, OPSET, {"y": (2, 3)})


# Ops whose outputs are random numbers: the host reference and onnxruntime draw from
# different generators, so their cases compare range and mean, not values.
RANDOM_OPS = {"RandomUniformLike", "Bernoulli"}


def test_every_registry_entry_has_a_reference_case():
    from tidal.targets.onnx_ops import ENTRIES

    cases = _reference_cases(np.random.default_rng(0))
    assert sorted(cases) == sorted(
        f"{e.domain}.{name}" if e.domain else name for e in ENTRIES for name in e.onnx_ops
    )


@pytest.mark.parametrize("op_type", sorted(_reference_cases(np.random.default_rng(0))))
def test_registry_host_reference_agrees_with_onnxruntime(op_type):
    """The model imported (no canonicalisation, so every graph op stays) and run by
    `eval_graph`, which calls each op's registry `host` reference, against
    onnxruntime; the op's own graph op must be among those it ran."""
    from tidal.passes.interpreters.graph import eval_graph
    from tidal.targets.onnx_import import import_onnx
    from tidal.targets.onnx_ops import graph_entry, onnx_entry

    rng = np.random.default_rng(3)
    nodes, inputs, outputs, weights, opset, *shapes = _reference_cases(rng)[op_type]
    model = build(nodes, inputs, outputs, weights, opset, *shapes)
    feeds = random_inputs(model, seed=4)
    module = import_onnx(model)
    ran = {graph_entry(op) for op in module.walk() if op.dialect_name() == "graph"}
    domain, _, name = op_type.rpartition(".")
    entry = onnx_entry(name, domain)
    assert entry is not None
    assert entry.graph_op is None or entry in ran
    got = eval_graph(module, feeds)
    if op_type in NUMPY_REFERENCES:  # onnxruntime's CPU provider does not run it
        refs = [NUMPY_REFERENCES[op_type](feeds, weights)]
    else:
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        refs = session.run(outputs, feeds)
    for name, ref in zip(outputs, refs, strict=True):
        assert got[name].dtype == np.float32
        if op_type == "RandomUniformLike":  # U(-1, 2) from both, by different generators
            for r in (got[name], ref):
                assert r.shape == ref.shape and r.min() >= -1.0 and r.max() < 2.0
                assert abs(r.mean() - 0.5) < 5 * np.sqrt(0.75 / r.size)
            continue
        if op_type == "Bernoulli":
            # 1 with probability p (the ONNX spec and onnx.reference; onnxruntime 1.32
            # gives 1 with probability 1 - p, so it is not the reference here)
            p = np.clip(feeds["x"], 0, 1)
            r = got[name]
            assert set(np.unique(r)) <= {0.0, 1.0}
            assert abs(r.mean() - p.mean()) < 5 * np.sqrt(0.25 / r.size)
            continue
        np.testing.assert_allclose(got[name], ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("disabled", [(), ("pad-channels",)], ids=["widened", "pad-channels-off"])
def test_shufflenet_unit_widened_channels(tmp_path, disabled):
    """A ShuffleNet 14x14 unit over 272 channels (1x1 conv, relu, 3x3 depthwise
    conv, 4-group 1x1 conv, residual add, relu) on the default chip, the depthwise
    conv's result an output too: graph-pad-channels widens the depthwise conv's
    input and output to 384 channels (3 tiles of 128, not 4 of 68) and the output
    reads a slice of them; the same numbers as onnxruntime with and without it."""
    rng = np.random.default_rng(31)
    c = 272
    weights = {
        "w1": weight(rng, (c, c, 1, 1), c), "b1": _vec(rng, c, -0.1, 0.1),
        "wd": weight(rng, (c, 1, 3, 3), 9), "bd": _vec(rng, c, -0.1, 0.1),
        "w2": weight(rng, (c, c // 4, 1, 1), c // 4), "b2": _vec(rng, c, -0.1, 0.1),
    }
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["a"]),
        helper.make_node("Relu", ["a"], ["ra"]),
        helper.make_node("Conv", ["ra", "wd", "bd"], ["d"], group=c, pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["d", "w2", "b2"], ["g"], group=4),
        helper.make_node("Add", ["g", "x"], ["s"]),
        helper.make_node("Relu", ["s"], ["y"]),
    ]
    model = build(nodes, {"x": (1, c, 14, 14)}, ["y", "d"], weights)
    check(model, tmp_path, chip="default", disabled=disabled)


@pytest.mark.parametrize("disabled", [(), ("avgpool-in-place",)], ids=["in-place", "padded"])
@pytest.mark.parametrize(
    "c, hw, kernel, stride, cip",
    [(136, 28, 3, 2, 0), (192, 28, 3, 1, 0), (24, 56, 3, 2, 1), (272, 14, 3, 2, 0)],
    ids=["shufflenet-28", "inception-s1", "bands-count-pad", "shufflenet-14"],
)
def test_average_pool_in_place(tmp_path, disabled, c, hw, kernel, stride, cip):
    """Average pools with pads 1 on the default chip, read where their input lies
    (avgpool-in-place: column and row sums of the taps inside the plane, times a map
    of reciprocal window counts; 24 channels in 4 bands side by side) after a 1x1
    conv that writes the kept input, or over zero-padded planes: the same numbers as
    onnxruntime either way."""
    rng = np.random.default_rng(43)
    weights = {"w": weight(rng, (c, c, 1, 1), c), "b": _vec(rng, c, -0.1, 0.1)}
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["a"]),
        helper.make_node(
            "AveragePool", ["a"], ["y"], kernel_shape=[kernel, kernel], strides=[stride, stride],
            pads=[1, 1, 1, 1], count_include_pad=cip,
        ),
    ]
    model = build(nodes, {"x": (1, c, hw, hw)}, ["y"], weights)
    check(model, tmp_path, chip="default", disabled=disabled)


@pytest.mark.parametrize("disabled", [(), ("pool-bands-pipeline",)], ids=["pieces", "whole"])
def test_stem_conv_bands_and_pool_in_pieces(tmp_path, disabled):
    """ShuffleNet's stem on the default chip: a 3x3 stride-2 conv of 24 channels
    (tap-packed, 4 bands side by side: conv-bands), relu, and a 3x3 stride-2 max pool
    that reads the conv's kept band layout in place (pool-bands, keep-bands) in 4
    pieces of output rows behind the conv's evacuations (pool-bands-pipeline), or in
    one; the same numbers as onnxruntime either way."""
    rng = np.random.default_rng(41)
    weights = {"w": weight(rng, (24, 3, 3, 3), 27), "b": _vec(rng, 24, -0.1, 0.1)}
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("MaxPool", ["r"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
    ]
    model = build(nodes, {"x": (1, 3, 224, 224)}, ["y"], weights)
    check(model, tmp_path, chip="default", disabled=disabled)


@pytest.mark.parametrize(
    "disabled",
    [(), ("interleave-shuffle",), ("depthwise-pool-first",)],
    ids=["interleave", "fold", "act-first-tap"],
)
def test_shufflenet_unit_interleaved_groups(tmp_path, disabled):
    """A ShuffleNet 7x7 unit over 544 channels (4-group 1x1 conv, relu, channel
    shuffle, 3x3 depthwise conv, 4-group 1x1 conv, residual add, relu) on the default
    chip: graph-fold-shuffle takes the shuffle into the second conv (pairs of groups
    reading interleaved 68-channel blocks, the stationary nest loading every block
    into its slot), or, with interleave-shuffle off, into the first (made dense);
    the depthwise conv's vector tiles start with POOL's first tap plus the broadcast
    bias (depthwise-pool-first), or, with it off, ACT's; the same numbers as
    onnxruntime every way."""
    rng = np.random.default_rng(37)
    c, h = 544, 7
    weights = {
        "w1": weight(rng, (c, c // 4, 1, 1), c // 4), "b1": _vec(rng, c, -0.1, 0.1),
        "wd": weight(rng, (c, 1, 3, 3), 9), "bd": _vec(rng, c, -0.1, 0.1),
        "w2": weight(rng, (c, c // 4, 1, 1), c // 4), "b2": _vec(rng, c, -0.1, 0.1),
        "s5": np.array([1, 4, c // 4, h, h], np.int64), "s4": np.array([1, c, h, h], np.int64),
    }
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["a"], group=4),
        helper.make_node("Relu", ["a"], ["r"]),
        helper.make_node("Reshape", ["r", "s5"], ["r5"]),
        helper.make_node("Transpose", ["r5"], ["t5"], perm=[0, 2, 1, 3, 4]),
        helper.make_node("Reshape", ["t5", "s4"], ["s"]),
        helper.make_node("Conv", ["s", "wd", "bd"], ["d"], group=c, pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["d", "w2", "b2"], ["g"], group=4),
        helper.make_node("Add", ["g", "x"], ["p"]),
        helper.make_node("Relu", ["p"], ["y"]),
    ]
    model = build(nodes, {"x": (1, c, h, h)}, ["y"], weights)
    check(model, tmp_path, chip="default", disabled=disabled)


@pytest.mark.parametrize(
    "cin, cout, groups, block, k, hw",
    [(16, 8, 2, 8, 1, 6), (24, 12, 3, 4, 3, 10), (64, 32, 2, 16, 3, 128)],
    ids=["1x1", "3x3-halo", "3x3-bands"],
)
def test_conv_interleaved_groups(tmp_path, cin, cout, groups, block, k, hw):
    """graph.conv2d with `interleave` (written as graph-level IR, weights and bias
    as arguments) on the default chip gives onnxruntime's Gather of the channels in
    `interleaved_channels` order followed by the grouped Conv: a 1x1 conv, a padded
    3x3 conv whose input fits SBUF whole (the halo tile), and one of 128x128 pixels
    that runs in bands of rows."""
    from tidal.dialects.graph import interleaved_channels

    rng = np.random.default_rng(cin + k)
    pad = k // 2
    x_shape, w_shape = (1, cin, hw, hw), (cout, cin // groups, k, k)
    y_shape = (1, cout, hw, hw)

    def t(shape):
        return f"tensor<{'x'.join(map(str, shape))}xf32>"

    text = f"""func.func @main(%x: {t(x_shape)}, %w: {t(w_shape)}, %b: {t((cout,))}) -> {t(y_shape)} {{
  %y = graph.conv2d %x, %w, %b {{pads = array<i64: {pad}, {pad}, {pad}, {pad}>, group = {groups} : i64, interleave = {block} : i64}} : ({t(x_shape)}, {t(w_shape)}, {t((cout,))}) -> {t(y_shape)}
  func.return %y : {t(y_shape)}
}}
"""
    path = tmp_path / "conv.mlir"
    path.write_text(text)
    inputs = {
        "x": rng.standard_normal(x_shape).astype(np.float32),
        "w": weight(rng, w_shape, w_shape[1] * k * k),
        "b": _vec(rng, cout, -0.1, 0.1),
    }
    order = np.array(interleaved_channels(cin, groups, block), np.int64)
    nodes = [
        helper.make_node("Gather", ["x", "order"], ["xg"], axis=1),
        helper.make_node("Conv", ["xg", "w", "b"], ["y"], group=groups, pads=[pad] * 4),
    ]
    model = build(nodes, {"x": x_shape, "w": w_shape, "b": (cout,)}, ["y"], {"order": order})
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (ref,) = session.run(["y"], inputs)
    outputs, stats = run_model(str(path), {f"arg{i}": v for i, v in enumerate(inputs.values())}, "default")
    assert stats["segments"] == ["accel"]  # the kernel ran it, not the host
    assert_close(outputs["result0"], ref)


@pytest.mark.parametrize("disabled", [(), ("im2col-clip",)], ids=["clipped", "padded"])
@pytest.mark.parametrize("chip", ["small", "default"])
def test_padded_stems_load_a_clipped_im2col(tmp_path, chip, disabled):
    """Tap-packed convs that pad: on the default chip a 7x7 stride-2 stem (two packs
    of 25 taps, the second starting inside a kernel column), a dilated 3x3 conv with
    asymmetric pads in 3 bands, ShuffleNet's 3x3 stride-2 stem in bands; on the
    small chip the first two take row copies instead. With im2col-clip each tap's
    window comes from the unpadded input, clipped to the outputs inside the image,
    the rest zeroed in SBUF; off, from a copy padded in DRAM. The same numbers as
    onnxruntime either way."""
    rng = np.random.default_rng(43)
    weights = {
        "w1": weight(rng, (16, 3, 7, 7), 147), "b1": _vec(rng, 16, -0.1, 0.1),
        "w2": weight(rng, (8, 4, 3, 3), 36),
        "w3": weight(rng, (24, 3, 3, 3), 27),
    }
    nodes = [
        helper.make_node("Conv", ["x1", "w1", "b1"], ["c1"], strides=[2, 2], pads=[3, 3, 3, 3]),
        helper.make_node("Relu", ["c1"], ["y1"]),
        helper.make_node("Conv", ["x2", "w2"], ["y2"], dilations=[2, 2], pads=[2, 0, 1, 3]),
        helper.make_node("Conv", ["x3", "w3"], ["y3"], strides=[2, 2], pads=[1, 1, 1, 1]),
    ]
    shapes = {"x1": (1, 3, 96, 96), "x2": (1, 4, 64, 61), "x3": (1, 3, 96, 96)}
    check(build(nodes, shapes, ["y1", "y2", "y3"], weights), tmp_path, chip=chip, disabled=disabled)


@pytest.mark.parametrize(
    "disabled", [(), ("conv-band-input",), ("pool-bands-pipeline",)], ids=["band-input", "copied", "pool-whole"]
)
def test_a_1x1_conv_reads_the_stem_pools_bands(tmp_path, disabled):
    """ShuffleNet's stem and first grouped 1x1 conv on the default chip: the max pool
    leaves its output in 4 bands of 24 channels side by side; the 1x1 conv (4
    groups of 6 -> 28, made dense) reads that layout in place (conv-band-input), per
    piece of rows the pool finishes one matmul per band against the weights on that
    band's rows, or (off) copies it out of the bands first; the same numbers as
    onnxruntime either way."""
    rng = np.random.default_rng(44)
    weights = {
        "w": weight(rng, (24, 3, 3, 3), 27), "b": _vec(rng, 24, -0.1, 0.1),
        "w2": weight(rng, (112, 6, 1, 1), 6), "b2": _vec(rng, 112, -0.1, 0.1),
    }
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("MaxPool", ["r"], ["m"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["m", "w2", "b2"], ["g"], group=4),
        helper.make_node("Relu", ["g"], ["y"]),
    ]
    model = build(nodes, {"x": (1, 3, 224, 224)}, ["y"], weights)
    check(model, tmp_path, chip="default", disabled=disabled)


@pytest.mark.parametrize("disabled", [(), ("const-layout",)], ids=["reading-order", "onnx-layout"])
def test_constants_stored_in_reading_order(tmp_path, disabled):
    """A 3x3 conv of two input-channel tiles and two output tiles, then a Gemm
    (transB) to 300 classes on the default chip: with const-layout their weights
    are stored as the loads read them (each weight tile one contiguous run per
    partition); the same numbers as onnxruntime either way."""
    rng = np.random.default_rng(45)
    weights = {
        "w": weight(rng, (200, 160, 3, 3), 160 * 9), "b": _vec(rng, 200, -0.1, 0.1),
        "fc": weight(rng, (300, 200 * 16), 200 * 16), "fcb": _vec(rng, 300, -0.1, 0.1),
    }
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Flatten", ["r"], ["f"]),
        helper.make_node("Gemm", ["f", "fc", "fcb"], ["y"], transB=1),
    ]
    model = build(nodes, {"x": (1, 160, 4, 4)}, ["y"], weights)
    check(model, tmp_path, chip="default", disabled=disabled)


def _dense_block(seed: int, c0: int, size: int, layers: int) -> onnx.ModelProto:
    """`layers` DenseNet layers (BN-ReLU, 1x1 conv to 128 channels, BN-ReLU, 3x3 conv
    to 32 channels, concatenated with the layer's input) on a c0-channel input."""
    rng = np.random.default_rng(seed)
    weights: dict[str, np.ndarray] = {}
    nodes = []
    x, c = "x", c0
    for i in range(layers):
        weights |= {
            f"s{i}": _vec(rng, c, 0.5, 1.5), f"t{i}": _vec(rng, c, -0.2, 0.2),
            f"w{i}": weight(rng, (128, c, 1, 1), c), f"u{i}": _vec(rng, 128, 0.5, 1.5),
            f"v{i}": _vec(rng, 128, -0.2, 0.2), f"k{i}": weight(rng, (32, 128, 3, 3), 128 * 9),
        }
        for name in (f"s{i}", f"t{i}"):
            weights[name] = weights[name].reshape(1, c, 1, 1)
        for name in (f"u{i}", f"v{i}"):
            weights[name] = weights[name].reshape(1, 128, 1, 1)
        nodes += [
            helper.make_node("Mul", [x, f"s{i}"], [f"a{i}"]),
            helper.make_node("Add", [f"a{i}", f"t{i}"], [f"b{i}"]),
            helper.make_node("Relu", [f"b{i}"], [f"r{i}"]),
            helper.make_node("Conv", [f"r{i}", f"w{i}"], [f"h{i}"]),
            helper.make_node("Mul", [f"h{i}", f"u{i}"], [f"m{i}"]),
            helper.make_node("Add", [f"m{i}", f"v{i}"], [f"n{i}"]),
            helper.make_node("Relu", [f"n{i}"], [f"q{i}"]),
            helper.make_node("Conv", [f"q{i}", f"k{i}"], [f"g{i}"], pads=[1, 1, 1, 1]),
            helper.make_node("Concat", [x, f"g{i}"], [f"y{i}"], axis=1),
        ]
        x, c = f"y{i}", c + 32
    return build(nodes, {"x": (1, c0, size, size)}, [x], weights)


@pytest.mark.parametrize("disabled", [(), ("row-pack",), ("row-pack", "conv-in-place")], ids=["packed", "rows", "packed-padded"])
def test_a_dense_block_packs_rows_of_its_narrow_convs(tmp_path, disabled):
    """Two DenseNet layers on the default chip (BN-ReLU, 1x1 conv to 128 channels,
    BN-ReLU, 3x3 conv to 32 channels, concatenated with the input): each 3x3 conv
    computes 4 adjacent output rows per matmul (row-pack), in place or on a padded
    input, each group's rows stored into the concatenation by a copy of its own;
    the same numbers as onnxruntime, packed or not."""
    check(_dense_block(46, 64, 28, 2), tmp_path, chip="default", disabled=disabled)


@pytest.mark.parametrize("chip", ["default", "small"])
@pytest.mark.parametrize("disabled", [(), ("psum-rotate",)], ids=["rotate", "from-0"])
def test_a_dense_block_with_accumulators_round_psum(tmp_path, chip, disabled):
    """Four DenseNet layers on 14x14 planes (the 1x1 convs read 2 to 3 tiles of the
    concatenation): each nest's accumulator goes where the last one's ends, round
    PSUM (psum-rotate), so a 1x1 conv's first matmuls, on the concatenation's
    older channels, need not wait until the 3x3 conv's accumulator has been
    evacuated; the same numbers as onnxruntime with and without."""
    check(_dense_block(47, 224, 14, 4), tmp_path, chip=chip, disabled=disabled)


@pytest.mark.parametrize(
    "disabled", [(), ("halo-chunks",), ("conv-in-place",)], ids=["pieces", "whole", "pieces-padded"]
)
def test_a_fire_module_loads_its_3x3_input_in_pieces(tmp_path, disabled):
    """A SqueezeNet fire module on the default chip (1x1 squeeze to 16 channels,
    1x1 and 3x3 expands to 64, concatenated) then a ResNet-style 64-channel 3x3 conv
    with a residual add, on 27x27 pixels: each 3x3 conv loads its input's
    zero-bordered plane and row-taps' shifted copies in pieces that end with its row
    blocks (halo-chunks), so its first blocks start while the rest land; the same
    numbers as onnxruntime in pieces or whole, and with every halo a padded plane
    (conv-in-place off)."""
    rng = np.random.default_rng(47)
    size = 27
    weights = {
        "sq": weight(rng, (16, 64, 1, 1), 64), "sqb": _vec(rng, 16, -0.1, 0.1),
        "e1": weight(rng, (64, 16, 1, 1), 16), "e1b": _vec(rng, 64, -0.1, 0.1),
        "e3": weight(rng, (64, 16, 3, 3), 16 * 9), "e3b": _vec(rng, 64, -0.1, 0.1),
        "r": weight(rng, (64, 128, 1, 1), 128),
        "k": weight(rng, (64, 64, 3, 3), 64 * 9), "kb": _vec(rng, 64, -0.1, 0.1),
    }
    nodes = [
        helper.make_node("Conv", ["x", "sq", "sqb"], ["s"]),
        helper.make_node("Relu", ["s"], ["sr"]),
        helper.make_node("Conv", ["sr", "e1", "e1b"], ["a"]),
        helper.make_node("Relu", ["a"], ["ar"]),
        helper.make_node("Conv", ["sr", "e3", "e3b"], ["b"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["b"], ["br"]),
        helper.make_node("Concat", ["ar", "br"], ["f"], axis=1),
        helper.make_node("Conv", ["f", "r"], ["q"]),
        helper.make_node("Relu", ["q"], ["qr"]),
        helper.make_node("Conv", ["qr", "k", "kb"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c", "x"], ["y"]),
    ]
    model = build(nodes, {"x": (1, 64, size, size)}, ["y"], weights)
    check(model, tmp_path, chip="default", disabled=disabled)


@pytest.mark.parametrize("disabled", [(), ("conv-reader-bands",)], ids=["bands", "plane"])
def test_a_resnet_stem_writes_the_bands_its_pool_reads(tmp_path, disabled):
    """ResNet's stem on the default chip (7x7 stride 2, 3 -> 64 channels, ReLU) and
    its 3x3 stride-2 max pool, on 128x128 pixels, then a 1x1 conv of the pooled
    tensor and a 1x1 conv to 256 channels (a reader of the plane): the stem writes 2
    bands of rows side by side on the PE columns (conv-reader-bands), which the pool
    reads where they lie; the same numbers as onnxruntime with the bands and
    without."""
    rng = np.random.default_rng(53)
    weights = {
        "w": weight(rng, (64, 3, 7, 7), 3 * 49), "b": _vec(rng, 64, -0.1, 0.1),
        "a": weight(rng, (64, 64, 1, 1), 64), "c": weight(rng, (256, 64, 1, 1), 64),
    }
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["s"], kernel_shape=[7, 7], strides=[2, 2], pads=[3] * 4),
        helper.make_node("Relu", ["s"], ["r"]),
        helper.make_node("MaxPool", ["r"], ["m"], kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4),
        helper.make_node("Conv", ["m", "a"], ["y1"]),
        helper.make_node("Conv", ["m", "c"], ["y2"]),
    ]
    model = build(nodes, {"x": (1, 3, 128, 128)}, ["y1", "y2"], weights)
    check(model, tmp_path, chip="default", disabled=disabled)

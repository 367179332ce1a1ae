"""The op registry: one entry per supported ONNX operator, holding everything Tidal
knows about it, so that adding an operator is one entry (plus its graph op and, for
the accelerator, its kernel):

- `onnx`: the ONNX op type (and `also`, further ONNX types the same builder imports
  into the same graph op, as the activation functions into `graph.activation`), and
  `opsets`: what differs between opsets (None for a graph op that only passes make,
  such as `graph.channel_affine`);
- `builder`: the importer's builder (in `targets/onnx_import.py`), node -> graph ops
  (None when there is no ONNX op);
- `graph_op`: the graph op it imports into (None when it only aliases or folds);
- `host`: the NumPy reference, `host(op, *operand_arrays) -> array`, which the host
  tier, `eval_graph` (`--check-numerics` at graph level) and the tests run;
- `kernel`: the accelerator kernel (`passes/conversion/kernels/graph_ops.py`), whose
  `plan` graph-partition asks and whose `emit` graph-to-loop runs; None if host-only;
- `engines`: what runs it on the accelerator, as `--report` says.

    entry = graph_entry(graph.SoftmaxOp)   # or onnx_entry("Softmax"), onnx_entry("FusedConv", "com.microsoft")
    entry.host(op, x)                      # NumPy
    entry.kernel.plan(op, chip)            # TilePlan | Refusal

Read by the importer (`onnx_entry`), graph-partition, the graph interpreter and
graph-to-loop (`graph_entry`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.dialects.func import FuncOp
from xdsl.ir import Operation, SSAValue

from tidal.dialects import graph
from tidal.passes.conversion.kernels import graph_ops as kernels
from tidal.passes.conversion.kernels.channel_affine import CHANNEL_AFFINE
from tidal.passes.conversion.kernels.graph_ops import Kernel
from tidal.sim.spec import ActFunc
from tidal.sim.spec.lut import exact as lut_exact

HostFn = Callable[..., np.ndarray]


@dataclass(frozen=True)
class OpEntry:
    """Everything about one ONNX operator (see the module docstring)."""

    onnx: str | None
    builder: str | None  # the name of its builder in targets/onnx_import.py
    graph_op: type[Operation] | None = None
    host: HostFn | None = None
    kernel: Kernel | None = None
    engines: str | None = None
    opsets: str = ""
    # Further ONNX ops the same builder imports into the same graph op (the ONNX
    # activation functions, each a `graph.activation` function).
    also: tuple[str, ...] = ()
    # The operators' domain: "" for ONNX's, "com.microsoft" for onnxruntime's
    # contrib operators (what its transformers optimizer and saved optimized models
    # hold: FusedConv, SkipLayerNormalization, BiasGelu, ...).
    domain: str = ""

    @property
    def onnx_ops(self) -> tuple[str, ...]:
        """Every ONNX op type this entry imports."""
        return () if self.onnx is None else (self.onnx, *self.also)

    def build(self, node: Any) -> SSAValue | None:
        """Import the ONNX `node` (an `onnx_import._Node`) with the builder: its
        graph ops are appended, its output's value returned (None when the output
        was folded as data). The builder is looked up by name so that the passes
        reading the registry do not load onnx."""
        from tidal.targets import onnx_import

        assert self.builder is not None, f"'{self.graph_op}' has no ONNX builder"
        return getattr(onnx_import, self.builder)(node)


# ------------------------------------------------------------ host references


# The NumPy form of each graph.FUSED_ACTIVATIONS entry, applied in float64.
_FUSED: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "relu": lambda y: np.maximum(y, 0.0),
    "clip01": lambda y: np.clip(y, 0.0, 1.0),
    "silu": lambda y: lut_exact(ActFunc.SILU, y),
    "gelu_erf": lambda y: lut_exact(ActFunc.GELU_ERF, y),
    "gelu": lambda y: lut_exact(ActFunc.GELU, y),
    "sigmoid": lambda y: lut_exact(ActFunc.SIGMOID, y),
}


def _activate(activation: str | None, y: np.ndarray) -> np.ndarray:
    return y if activation is None else _FUSED[activation](y)


def _conv2d(op: graph.Conv2dOp, x: np.ndarray, w: np.ndarray, *rest: np.ndarray) -> np.ndarray:
    """rest: the bias, then the addend, each when the op has it."""
    b = rest[0] if op.bias is not None else None
    addend = rest[-1] if op.addend is not None else None
    (sh, sw), (dh, dw), g = op.strides_val, op.dilations_val, op.group_val
    pt, pl, pb, pr = op.pads_val
    if op.interleave_val:  # each group's channels, gathered from their blocks
        x = x[:, graph.interleaved_channels(x.shape[1], g, op.interleave_val)]
    x = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    n, _, h, wd = x.shape
    cout, cg, kh, kw = w.shape
    oh = (h - (kh - 1) * dh - 1) // sh + 1
    ow = (wd - (kw - 1) * dw - 1) // sw + 1
    out = np.zeros((n, cout, oh, ow), np.float64)
    per = cout // g
    for grp in range(g):
        xs = x[:, grp * cg : (grp + 1) * cg]
        ws = w[grp * per : (grp + 1) * per].astype(np.float64)
        for r in range(kh):
            for s in range(kw):
                win = xs[:, :, r * dh : r * dh + sh * (oh - 1) + 1 : sh, s * dw : s * dw + sw * (ow - 1) + 1 : sw]
                out[:, grp * per : (grp + 1) * per] += np.einsum("nchw,oc->nohw", win, ws[:, :, r, s])
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    if addend is not None:
        out += addend
    return _activate(op.activation_val, out).astype(np.float32)


def _gemm(op: graph.GemmOp, a: np.ndarray, b: np.ndarray, c: np.ndarray | None = None) -> np.ndarray:
    a = a.T if op.trans_a_val else a
    b = b.T if op.trans_b_val else b
    y = op.alpha_val * (a.astype(np.float64) @ b)
    if c is not None:
        y = y + op.beta_val * c
    return _activate(op.activation_val, y).astype(np.float32)


def _maxpool(op: graph.MaxPoolOp, x: np.ndarray) -> np.ndarray:
    (kh, kw), (sh, sw) = op.kernel_shape_val, op.strides_val
    pt, pl, pb, pr = op.pads_val
    x = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)), constant_values=-np.inf)
    oh = (x.shape[2] - kh) // sh + 1
    ow = (x.shape[3] - kw) // sw + 1
    out = np.full(x.shape[:2] + (oh, ow), -np.inf, np.float32)
    for r in range(kh):
        for s in range(kw):
            out = np.maximum(out, x[:, :, r : r + sh * (oh - 1) + 1 : sh, s : s + sw * (ow - 1) + 1 : sw])
    return out


def _avgpool(op: graph.AvgPoolOp, x: np.ndarray) -> np.ndarray:
    (kh, kw), (sh, sw) = op.kernel_shape_val, op.strides_val
    pt, pl, pb, pr = op.pads_val
    pad = ((0, 0), (0, 0), (pt, pb), (pl, pr))
    xp = np.pad(x.astype(np.float64), pad)
    ones = np.pad(np.ones(x.shape[2:]), pad[2:], constant_values=op.count_include_pad_val)
    oh, ow = op.result.type.get_shape()[2:]

    def windows(a: np.ndarray) -> np.ndarray:
        return sum(
            a[..., i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw]
            for i in range(kh)
            for j in range(kw)
        )

    return (windows(xp) / windows(ones)).astype(np.float32)


def _softmax(op: graph.SoftmaxOp, x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=op.axis_val, keepdims=True))
    return (e / e.sum(axis=op.axis_val, keepdims=True)).astype(np.float32)


def _log_softmax(op: graph.LogSoftmaxOp, x: np.ndarray) -> np.ndarray:
    x64 = x.astype(np.float64)
    shifted = x64 - x64.max(axis=op.axis_val, keepdims=True)
    return (shifted - np.log(np.exp(shifted).sum(axis=op.axis_val, keepdims=True))).astype(np.float32)


def _batchnorm(op: graph.BatchNormOp, x, scale, bias, mean, var) -> np.ndarray:
    c = (1, -1) + (1,) * (x.ndim - 2)
    inv = scale / np.sqrt(var + np.float32(op.epsilon_val))
    return ((x - mean.reshape(c)) * inv.reshape(c) + bias.reshape(c)).astype(np.float32)


def _channel_affine(
    op: graph.ChannelAffineOp, x: np.ndarray, scale: np.ndarray, shift: np.ndarray
) -> np.ndarray:
    c = (1, -1) + (1,) * (x.ndim - 2)
    y = x.astype(np.float64) * scale.reshape(c) + shift.reshape(c)
    return _activate(op.activation_val, y).astype(np.float32)


def _lrn(op: graph.LRNOp, x: np.ndarray) -> np.ndarray:
    size, c = op.size_val, x.shape[1]
    sq = np.pad(x.astype(np.float64) ** 2, ((0, 0), ((size - 1) // 2, size // 2), (0, 0), (0, 0)))
    window = sum(sq[:, i : i + c] for i in range(size))
    scale = (op.bias_val + op.alpha_val / size * window) ** op.beta_val
    return (x / scale).astype(np.float32)


def _dropout(op: graph.DropoutOp, x: np.ndarray) -> np.ndarray:
    """Inference: the identity. Training: NumPy's generator seeded by the op's seed
    (the host tier's own random numbers, not the POOL engine's)."""
    if not op.training_val:
        return x
    keep = np.random.default_rng(op.seed_val & 0xFFFFFFFF).random(x.shape) >= op.ratio_val
    return np.where(keep, x / (np.float32(1) - np.float32(op.ratio_val)), np.float32(0))


def _piecewise_linear(op: graph.PiecewiseLinearOp, x: np.ndarray) -> np.ndarray:
    kind, alpha, beta = op.params
    x64 = x.astype(np.float64)
    if kind == "clip":
        y = np.clip(x64, alpha, beta)
    elif kind == "hard_sigmoid":
        y = np.clip(alpha * x64 + beta, 0.0, 1.0)
    elif kind == "hard_swish":
        y = x64 * np.clip(x64 / 6.0 + 0.5, 0.0, 1.0)
    elif kind == "affine":
        y = alpha * x64 + beta
    else:
        y = np.where(x64 >= 0, x64, alpha * x64)
    return y.astype(np.float32)


def _bernoulli(op: graph.BernoulliOp, p: np.ndarray) -> np.ndarray:
    """NumPy's generator seeded by the op's seed (not the POOL engine's numbers)."""
    u = np.random.default_rng(op.seed_val & 0xFFFFFFFF).random(p.shape)
    return (u < p).astype(np.float32)


def _random_uniform_like(op: graph.RandomUniformLikeOp, x: np.ndarray) -> np.ndarray:
    """NumPy's generator seeded by the op's seed (not the POOL engine's numbers)."""
    u = np.random.default_rng(op.seed_val & 0xFFFFFFFF).random(x.shape)
    return (op.low_val + (op.high_val - op.low_val) * u).astype(np.float32)


def _loop(op: graph.LoopOp, x: np.ndarray) -> np.ndarray:
    """The loop in NumPy: the body function (evaluated op by op) up to max_trips
    times, while the condition holds."""
    from tidal.passes.interpreters.graph import eval_graph

    module = op.parent_op()
    while module is not None and not isinstance(module, ModuleOp):
        module = module.parent_op()
    name = op.body.root_reference.data
    body = next(
        (f for f in (module.body.block.ops if module else ()) if isinstance(f, FuncOp) and f.sym_name.data == name),
        None,
    )
    if body is None:
        raise ValueError(f"graph.loop's body @{name} is not in the module")
    step = body.clone()
    step.sym_name = StringAttr("main")
    step_module = ModuleOp([step])
    (arg,) = [n for n in _arg_names(step)]
    compare = {"lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal}[op.cmp.data]
    v = x
    for _ in range(op.max_trips.value.data):
        (new,) = eval_graph(step_module, {arg: v}).values()
        d = new.astype(np.float64) - (v if "minus" in op.input_kind.data else 0)
        if "abs" in op.input_kind.data:
            d = np.abs(d)
        r = {"max": d.max(), "add": d.sum(), "mean": d.mean()}[op.reduce.data]
        v = new
        if not compare(r, op.threshold.value.data):
            break
    return v


def _arg_names(fn: FuncOp) -> list[str]:
    from tidal.passes.interpreters.graph import signature

    return list(signature(ModuleOp([fn.clone()]))[0])


def _activation(op: graph.ActivationOp, x: np.ndarray) -> np.ndarray:
    """The function in float64 (the accelerator evaluates it from ACT's tables)."""
    return lut_exact(ActFunc(op.func_val), x.astype(np.float64)).astype(np.float32)


def _onnx_node(op: graph.OnnxNodeOp, *operands: np.ndarray) -> tuple[np.ndarray, ...]:
    """The framework tier: onnxruntime runs the node (its results in order); a node
    onnxruntime cannot load or run cannot be evaluated (one line, as any other)."""
    from tidal.passes.interpreters.common import CannotEvaluate
    from tidal.targets.framework import FrameworkError, run_node

    try:
        return run_node(op, *operands)
    except FrameworkError as e:
        raise CannotEvaluate(str(e)) from None


def _to_result_shape(op: Operation, x: np.ndarray) -> np.ndarray:
    return x.reshape(op.results[0].type.get_shape())  # type: ignore[attr-defined]


# ------------------------------------------------------------------ the table

ENTRIES: tuple[OpEntry, ...] = (
    OpEntry(
        "Constant", "build_constant", graph.ConstantOp,
        host=lambda op: op.to_numpy(),
        kernel=kernels.CONSTANT,
        engines="a DRAM constant",
        opsets="float data becomes graph.constant where used (initializers too); "
        "integer data is folded as shapes",
    ),
    OpEntry(
        "Conv", "build_conv", graph.Conv2dOp, _conv2d, kernels.CONV,
        "PE array, filter taps accumulated in PSUM",
        opsets="2-D only; auto_pad resolved to explicit pads",
    ),
    OpEntry("Gemm", "build_gemm", graph.GemmOp, _gemm, kernels.GEMM, "PE array"),
    OpEntry(
        "MatMul", "build_matmul", graph.MatMulOp,
        lambda op, a, b: (a.astype(np.float64) @ b).astype(np.float32),
        kernels.GEMM, "PE array", opsets="2-D; [..., M, K] x [K, N] as one 2-D product; batched with equal batch dims",
    ),
    OpEntry(
        "Einsum", "build_einsum",
        opsets="two operands whose equation is a batched matrix product (batch, free and "
        "contracted indices): transposes, reshapes and one graph.matmul",
    ),
    OpEntry("Add", "build_add", graph.AddOp, lambda op, a, b: a + b, kernels.ELTWISE, "POOL tensor-tensor"),
    OpEntry("Mul", "build_mul", graph.MulOp, lambda op, a, b: a * b, kernels.ELTWISE, "POOL tensor-tensor"),
    OpEntry(
        "Sub", "build_sub", graph.SubOp, lambda op, a, b: a - b, kernels.ELTWISE,
        "POOL tensor-tensor", opsets="a scalar constant operand: ACT's scale and bias",
    ),
    OpEntry(
        "Div", "build_div", graph.DivOp,
        lambda op, a, b: (a.astype(np.float64) / b).astype(np.float32), kernels.ELTWISE,
        "ACT reciprocal (lookup table), POOL product",
        opsets="a constant divisor: a product by its reciprocal (a scalar: ACT's scale)",
    ),
    OpEntry(
        "Max", "build_max", graph.MaxOp, lambda op, a, b: np.maximum(a, b), kernels.ELTWISE,
        "POOL tensor-tensor", opsets="n inputs: a chain of pairwise maxima",
    ),
    OpEntry(
        "Min", "build_min", graph.MinOp, lambda op, a, b: np.minimum(a, b), kernels.ELTWISE,
        "POOL tensor-tensor", opsets="n inputs: a chain of pairwise minima",
    ),
    # ONNX ops imported as several graph ops (each on the accelerator); no graph op
    # of their own. `opsets` says what they become.
    OpEntry("Neg", "build_neg", opsets="piecewise_linear affine: -x (ACT's scale)"),
    OpEntry(
        "Where", "build_where",
        opsets="a constant condition and a constant on one side: max and min against "
        "bounds that are the constant where it is selected, -inf and +inf elsewhere",
    ),
    OpEntry("Abs", "build_abs", opsets="piecewise_linear leaky_relu, alpha -1: max(x, -x)"),
    OpEntry("Elu", "build_elu", opsets="relu(x) + alpha (exp(min(x, 0)) - 1): relu, clip, exp, affine, add"),
    OpEntry("Celu", "build_elu", opsets="as Elu, with exp(min(x, 0) / alpha)"),
    OpEntry("Selu", "build_elu", opsets="gamma Elu(x; alpha): Elu's ops, then affine"),
    OpEntry("PRelu", "build_prelu", opsets="relu(x) + slope min(x, 0): relu, clip, mul, add"),
    OpEntry("Softsign", "build_softsign", opsets="x / (1 + |x|): abs, div"),
    OpEntry(
        "Gelu", "build_gelu",
        opsets='opset 20: approximate "tanh" is ACT\'s gelu; "none" (x (1 + erf(x / sqrt 2)) / 2) '
        "its gelu_erf",
    ),
    OpEntry(
        "Pow", "build_pow",
        opsets="a constant scalar exponent: 1, 2, 3 (products), 0.5 (sqrt), -0.5 (rsqrt), "
        "-1 (reciprocal); other exponents on the framework tier",
    ),
    OpEntry(
        "LogSoftmax", "build_log_softmax", graph.LogSoftmaxOp, _log_softmax, kernels.SOFTMAX,
        "ACT exp and log, POOL reductions",
        opsets="before 13, normalises rows of the input coerced to 2-D at `axis`",
    ),
    OpEntry("Squeeze", "build_squeeze", opsets="a view (reshape); axes an attribute before 13, an input from 13"),
    OpEntry(
        "Slice", "build_slice", graph.SliceOp,
        lambda op, x: np.ascontiguousarray(
            x[tuple(slice(a, b, s) for a, b, s in zip(op.starts_val, op.ends_val, op.steps_val))]
        ),
        kernels.SLICE, "DMA access pattern",
        opsets="constant starts, ends, axes, positive steps (attributes before 10)",
    ),
    OpEntry("Split", "build_split", opsets="one graph.slice per output"),
    OpEntry(
        "Pad", "build_pad",
        opsets="constant, edge, reflect: constant blocks or slices joined by graph.concat; "
        "negative pads crop",
    ),
    OpEntry("Tile", "build_tile", opsets="constant repeats: graph.concat of the input with itself"),
    OpEntry("Cast", "build_cast", opsets="float32 to float32 aliases its input; other casts: folded or framework tier"),
    OpEntry(
        "ConvTranspose", "build_conv_transpose",
        opsets="1-D and 2-D, constant weights: kernel = stride (unpadded) a 1x1 conv and a "
        "transpose between views; else zeros between the pixels and a conv by the flipped "
        "weights; not output_shape or SAME auto_pad",
    ),
    OpEntry(
        "Resize", "build_resize",
        opsets="constant scales or sizes, axis by axis: nearest as copies (repeats joined, "
        "strides sliced), linear and cubic as a matmul by the axis's weights; not "
        "tf_crop_and_resize, antialias when shrinking or keep_aspect_ratio_policy",
        also=("Upsample",),
    ),
    OpEntry(
        "DepthToSpace", "build_depth_to_space",
        opsets="[N, C, H, W], DCR or CRD: the definition's reshape, transpose and reshape",
        also=("SpaceToDepth",),
    ),
    OpEntry(
        "Gather", "build_gather",
        opsets="constant indices: slices of consecutive runs joined by graph.concat; runtime "
        "indices (embeddings) on the framework tier",
    ),
    OpEntry(
        "ReduceSum", "build_reduce",
        opsets="constant axes (an input from 13 for ReduceSum, 18 for ReduceMean): the axes "
        "moved last, one matmul by a column of ones or 1/K (PE); keepdims a view; "
        "ReduceSumSquare and ReduceL2 (then sqrt on ACT) square first, ReduceL1 takes |x|",
        also=("ReduceMean", "ReduceSumSquare", "ReduceL1", "ReduceL2"),
    ),
    OpEntry(
        "ReduceMax", "build_reduce_max",
        opsets="constant axes (an input from 18): the axes moved last, a max pooling of "
        "window 1 x K over [1, rows, 1, K] (POOL); ReduceMin as -max(-x)",
        also=("ReduceMin",),
    ),
    OpEntry(
        "InstanceNormalization", "build_instance_norm",
        opsets="LayerNormalization's arithmetic over each channel's plane, then the "
        "per-channel scale and bias",
    ),
    OpEntry(
        "GroupNormalization", "build_group_norm",
        opsets="LayerNormalization's arithmetic over each group's channels and planes, "
        "then a per-channel scale and bias (per group before opset 21: constant, "
        "repeated over the group's channels)",
    ),
    OpEntry(
        "LayerNormalization", "build_layer_norm",
        opsets="last axis: mean and variance as matmuls by a 1/K column (PE), rsqrt (ACT), "
        "sub, mul, add (POOL); no Mean or InvStdDev output",
    ),
    OpEntry(
        "RMSNormalization", "build_rms_norm",
        opsets="last axis (opset 23; onnxruntime's SimplifiedLayerNormalization alike): "
        "the mean of squares as a matmul by a 1/K column (PE), rsqrt (ACT), two muls "
        "(POOL); no inverse-RMS output",
        also=("SimplifiedLayerNormalization",),
    ),
    OpEntry(
        "Attention", "build_onnx_attention",
        opsets="opset 23: 4-D or 3-D (q_num_heads, kv_num_heads) Q, K, V, K/V heads "
        "repeated for grouped queries, scores Q K^T times scale (PE), a float mask added "
        "or a constant boolean one, is_causal's constant, softmax, times V; no past "
        "state, softcap or extra outputs",
    ),
    # onnxruntime's contrib operators (com.microsoft), as its transformers optimizer
    # and its saved optimized models write them: each imported as the ONNX
    # operators it fuses.
    OpEntry(
        "FusedConv", "build_fused", domain="com.microsoft",
        opsets="Conv (plus its Z input), then its `activation` (Relu, Tanh, Sigmoid, "
        "LeakyRelu, Clip, HardSigmoid with `activation_params`); FusedGemm: Gemm, then "
        "the activation (`activation_alpha`, `activation_beta`)",
        also=("FusedGemm",),
    ),
    OpEntry(
        "FusedMatMul", "build_fused_matmul", domain="com.microsoft",
        opsets="MatMul times `alpha`; transA/transB on 2-D operands (a Gemm); no "
        "transBatchA/transBatchB",
    ),
    OpEntry(
        "Gelu", "build_contrib_gelu", domain="com.microsoft",
        opsets="Gelu (erf form: ACT's gelu_erf); BiasGelu: of A + B; FastGelu: the tanh form, of X + bias "
        "when given; QuickGelu: x sigmoid(alpha x)",
        also=("BiasGelu", "FastGelu", "QuickGelu"),
    ),
    OpEntry(
        "SkipLayerNormalization", "build_skip_norm", domain="com.microsoft",
        opsets="LayerNormalization (SkipSimplifiedLayerNormalization: the RMS norm) of "
        "input + skip (+ bias) over the last axis; the sum output when used, no mean "
        "or inverse-std outputs",
        also=("SkipSimplifiedLayerNormalization",),
    ),
    OpEntry(
        "Attention", "build_attention", domain="com.microsoft",
        opsets="the packed Q|K|V projection, heads as views, scores (scale, mask from "
        "mask_index lengths [B] or a raw [B, S] mask made on the framework tier, "
        "unidirectional's causal constant), softmax, context (PE, ACT, POOL); no past, "
        "attention_bias or rotary embedding",
    ),
    OpEntry(
        "BiasAdd", "build_bias_add", domain="com.microsoft",
        opsets="X + bias + skip (element-wise, broadcasting)",
    ),
    OpEntry("Relu", "build_relu", graph.ReluOp, lambda op, x: np.maximum(x, 0), kernels.ELTWISE, "ACT"),
    OpEntry(
        "Sigmoid", "build_activation", graph.ActivationOp, _activation, kernels.ELTWISE,
        "ACT lookup table",
        also=("Exp", "Log", "Reciprocal", "Sqrt", "Tanh", "Erf", "Softplus"),
    ),
    OpEntry("Mean", "build_sum", opsets="the sum times 1/n: sum, affine"),
    OpEntry(
        "Expand", "build_expand",
        opsets="float input, constant shape: x + zeros of the result's shape (Add's broadcasting)",
    ),
    OpEntry(
        "Sum", "build_sum", graph.SumOp,
        lambda op, *xs: np.sum(np.broadcast_arrays(*xs), axis=0, dtype=np.float32),
        kernels.ELTWISE, "POOL tensor-tensor, one nest",
    ),
    OpEntry(
        "MaxPool", "build_maxpool", graph.MaxPoolOp, _maxpool, kernels.POOL,
        "POOL window reduction", opsets="no ceil_mode, dilations or indices output",
    ),
    OpEntry(
        "AveragePool", "build_avgpool", graph.AvgPoolOp, _avgpool, kernels.POOL,
        "POOL window reduction", opsets="count_include_pad; no ceil_mode or dilations",
    ),
    OpEntry(
        "GlobalMaxPool", "build_global_maxpool",
        opsets="2-D input: a max pooling whose window is the whole plane",
    ),
    OpEntry(
        "GlobalAveragePool", "build_global_avgpool", graph.GlobalAvgPoolOp,
        lambda op, x: x.mean(axis=(2, 3), keepdims=True, dtype=np.float64).astype(np.float32),
        kernels.GLOBAL_AVGPOOL, "POOL reduction",
    ),
    OpEntry(
        "Softmax", "build_softmax", graph.SoftmaxOp, _softmax, kernels.SOFTMAX,
        "ACT exp and POOL reductions",
        opsets="before 13, normalises rows of the input coerced to 2-D at `axis` "
        "(imported as reshape, softmax, reshape unless axis is the last)",
    ),
    OpEntry("LRN", "build_lrn", graph.LRNOp, _lrn, kernels.LRN, "PE band matmul and ACT"),
    OpEntry(
        "BatchNormalization", "build_batchnorm", graph.BatchNormOp, _batchnorm,
        opsets="inference only; graph-canonicalize folds it into the preceding conv "
        "or rewrites it as a scale and shift",
    ),
    OpEntry(
        None, None, graph.ChannelAffineOp, _channel_affine, CHANNEL_AFFINE,
        "ACT, one instruction per tile",
        opsets="no ONNX op: graph-fuse-affine makes it from a per-channel scale, "
        "shift and relu",
    ),
    OpEntry(
        "Concat", "build_concat", graph.ConcatOp,
        lambda op, *xs: np.concatenate(xs, axis=op.axis_val),
        kernels.CONCAT, "DRAM placement (DMA where a copy is needed)",
    ),
    OpEntry(
        "Transpose", "build_transpose", graph.TransposeOp,
        lambda op, x: np.ascontiguousarray(x.transpose(op.perm_val)),
        kernels.TRANSPOSE, "DMA access pattern",
    ),
    OpEntry(
        "Reshape", "build_reshape", graph.ReshapeOp, _to_result_shape, kernels.VIEW,
        "a view (free)", opsets="the shape is a constant input from opset 5",
    ),
    OpEntry("Flatten", "build_flatten", graph.FlattenOp, _to_result_shape, kernels.VIEW, "a view (free)"),
    OpEntry(
        "Unsqueeze", "build_unsqueeze", graph.UnsqueezeOp, _to_result_shape, kernels.VIEW,
        "a view (free)", opsets="axes are an attribute before 13, an input from 13",
    ),
    OpEntry(
        "Dropout", "build_dropout", graph.DropoutOp, _dropout, kernels.ELTWISE,
        "a view (free); in training mode POOL's pseudo-random numbers",
        opsets="the ratio is an attribute before 12, an input from 12; training_mode "
        "a constant input (from 12); no mask output",
    ),
    OpEntry(
        "RandomUniformLike", "build_random_uniform_like", graph.RandomUniformLikeOp,
        _random_uniform_like, kernels.ELTWISE, "POOL's pseudo-random numbers",
        opsets="float32 output only; the seed (a float) truncated to an integer",
    ),
    OpEntry(
        "ConstantOfShape", "build_constant_of_shape", graph.ConstantOfShapeOp,
        lambda op: np.full(op.result.type.get_shape(), op.value_val, np.float32),
        kernels.CONSTANT_OF_SHAPE, "a DRAM constant",
        opsets="a float fill is a graph op; other element types fold as shape data",
    ),
    OpEntry(
        "Clip", "build_piecewise_linear", graph.PiecewiseLinearOp, _piecewise_linear,
        kernels.ELTWISE, "ACT (clip01, relu, identity), POOL for HardSwish and LeakyRelu",
        opsets="Clip's min and max: attributes before 11, constant inputs from 11",
        also=("HardSigmoid", "HardSwish", "LeakyRelu"),
    ),
    OpEntry(
        "Bernoulli", "build_bernoulli", graph.BernoulliOp, _bernoulli, kernels.ELTWISE,
        "POOL's pseudo-random numbers",
        opsets="float32 output only; the seed (a float) truncated to an integer",
    ),
    OpEntry(
        "Loop", "build_loop", graph.LoopOp, _loop, None, None,
        opsets="a constant maximum trip count, one loop-carried float tensor, no scan "
        "outputs; the condition a reduction of the new v (or new minus old) compared "
        "with a constant; the model must be the loop (early exit, docs/early-exit.md)",
    ),
    OpEntry("Identity", "build_identity", opsets="aliases its input; no graph op"),
    OpEntry(
        None, None, graph.OnnxNodeOp, _onnx_node, None, "onnxruntime (the framework tier)",
        opsets="no registry entry of its own: the importer makes it of any ONNX node "
        "that no builder imports, or whose values are not static f32 tensors",
    ),
)


@cache
def _by_onnx() -> dict[tuple[str, str], OpEntry]:
    return {(e.domain, name): e for e in ENTRIES for name in e.onnx_ops}


@cache
def _by_graph_op() -> dict[type[Operation], OpEntry]:
    return {e.graph_op: e for e in ENTRIES if e.graph_op is not None}


def onnx_entry(op_type: str, domain: str = "") -> OpEntry | None:
    """The entry of an op type of `domain` ("" the ONNX domain, "com.microsoft"
    onnxruntime's contrib operators), or None when Tidal does not import it."""
    return _by_onnx().get(("" if domain == "ai.onnx" else domain, op_type))


def graph_entry(op: Operation | type[Operation]) -> OpEntry | None:
    """The entry whose graph op `op` is (an op or its class), or None."""
    return _by_graph_op().get(op if isinstance(op, type) else type(op))


def host_eval(op: Operation, *operands: np.ndarray) -> np.ndarray:
    """Run one graph op with its NumPy reference (the host tier)."""
    entry = graph_entry(op)
    if entry is None or entry.host is None or isinstance(op, graph.FRAMEWORK_OPS):
        raise KeyError(f"no NumPy reference for '{op.name}'")
    return np.asarray(entry.host(op, *operands), dtype=np.float32)

"""ONNX Resize (and Upsample) along one axis, as data: Resize is separable, so each
resized axis is a linear map of that axis alone, out[y] = sum_i W[y, i] in[i]. This
module computes that map from the node's attributes, the way onnxruntime's CPU
kernel does, so that the importer can lower the axis to a copy pattern (nearest) or
one matmul by the constant W (linear, cubic).

    axis_map(mode="linear", transform="half_pixel", in_len=4, out_len=8, scale=2.0)
    # -> [8, 4] float64 weights, each row summing to 1

Every mode is refused (ResizeError, with the reason) where onnxruntime's result is
not that map or is not pinned down by it: `tf_crop_and_resize` (an extrapolation
value is not linear), antialiasing when an axis shrinks, and half_pixel_symmetric
where ONNX's float `scale * in_len` and onnxruntime's integer output length differ
(align_corners reads the integer length in both).
"""

from __future__ import annotations

import numpy as np

TRANSFORMS = frozenset(
    {
        "half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
        "asymmetric", "tf_half_pixel_for_nn",
    }
)
NEAREST_MODES = frozenset({"round_prefer_floor", "round_prefer_ceil", "floor", "ceil", "simple"})


class ResizeError(ValueError):
    """A resize this module does not express as a per-axis map (the reason)."""


def source_coords(transform: str, in_len: int, out_len: int, scale: float, dtype: type) -> np.ndarray:
    """The input coordinate each output index maps to (ONNX's
    coordinate_transformation_mode), computed in `dtype` (float32 as onnxruntime
    does, float64 to see whether a rounding depends on it)."""
    y = np.arange(out_len, dtype=dtype)
    s, half = dtype(scale), dtype(0.5)
    # ONNX's float length scale * in_len is the integer one (up to the float32 scale's
    # rounding: 1.7 is 1.70000005)
    exact = abs(np.float64(scale) * in_len - out_len) <= 1e-6 * out_len
    if transform == "asymmetric":
        return y / s
    if transform == "tf_half_pixel_for_nn":
        return (y + half) / s
    if transform == "half_pixel":
        return (y + half) / s - half
    if transform == "pytorch_half_pixel":
        if out_len == 1:  # (onnxruntime: 0, the ONNX reference: -0.5; same index for linear and nearest)
            return np.zeros(1, dtype)
        return (y + half) / s - half
    if transform == "align_corners":  # (onnxruntime reads the integer output length)
        if out_len == 1:
            return np.zeros(1, dtype)
        return y * dtype(in_len - 1) / dtype(out_len - 1)
    if not exact:
        raise ResizeError(
            f"{transform} with scale {scale} over {in_len} elements gives {out_len}, not "
            f"{np.float64(scale) * in_len} (ONNX and onnxruntime then map differently)"
        )
    if transform == "half_pixel_symmetric":  # the same as half_pixel when exact
        return (y + half) / s - half
    raise ResizeError(f"unsupported coordinate_transformation_mode {transform}")


def nearest_indices(
    transform: str, nearest_mode: str, in_len: int, out_len: int, scale: float
) -> np.ndarray:
    """The input index each output index copies (mode "nearest"). "simple" is
    Resize-10's and Upsample's: the floor when upsampling, the ceiling when
    downsampling. ResizeError where float32 and float64 coordinates round to
    different indices (onnxruntime's float32 rounding is then what decides)."""
    picked = []
    for dtype in (np.float32, np.float64):
        x = source_coords(transform, in_len, out_len, scale, dtype)
        # a coordinate within rounding of where the index changes, not on it
        # (1/6 is not a float: 0.5 / (1/6) is 2.9999999 or 3.0000002 by how it is
        # computed): onnxruntime's exact float operations decide, so refuse
        edge = x if nearest_mode in ("simple", "floor", "ceil") else x - dtype(0.5)
        near = np.abs(edge - np.round(edge))
        if np.any((near > 0) & (near < 1e-4)):
            raise ResizeError(
                f"nearest indices for scale {scale} over {in_len} elements depend on "
                "float rounding"
            )
        if nearest_mode == "simple":
            i = np.ceil(x) if scale < 1 else np.floor(x)
        elif nearest_mode == "floor":
            i = np.floor(x)
        elif nearest_mode == "ceil":
            i = np.ceil(x)
        else:
            tie = x - np.floor(x) == dtype(0.5)
            rounded = np.floor(x + dtype(0.5))
            i = np.where(tie, np.floor(x) if nearest_mode == "round_prefer_floor" else np.ceil(x), rounded)
        picked.append(np.clip(i, 0, in_len - 1).astype(np.int64))
    if not np.array_equal(*picked):
        raise ResizeError(
            f"nearest indices for scale {scale} over {in_len} elements depend on float rounding"
        )
    return picked[0]


def _check_axis(transform: str, in_len: int, out_len: int, scale: float) -> None:
    if transform not in TRANSFORMS:
        raise ResizeError(f"unsupported coordinate_transformation_mode {transform}")
    if not scale > 0 or out_len < 1 or in_len < 1:
        raise ResizeError(f"scale {scale} from {in_len} to {out_len} elements")


def axis_nearest(*, transform: str, nearest_mode: str, in_len: int, out_len: int, scale: float) -> np.ndarray:
    """The input index each output index of a nearest axis copies (`axis_map`'s
    nearest rows, without the matrix)."""
    _check_axis(transform, in_len, out_len, scale)
    if nearest_mode not in NEAREST_MODES:
        raise ResizeError(f"unsupported nearest_mode {nearest_mode}")
    if in_len == 1:
        return np.zeros(out_len, np.int64)
    return nearest_indices(transform, nearest_mode, in_len, out_len, scale)


def axis_map(
    *,
    mode: str,
    transform: str,
    in_len: int,
    out_len: int,
    scale: float,
    nearest_mode: str = "round_prefer_floor",
    cubic_coeff_a: float = -0.75,
    exclude_outside: bool = False,
    antialias: bool = False,
) -> np.ndarray:
    """W [out_len, in_len] (float64) of one resized axis: out = W @ in along it."""
    _check_axis(transform, in_len, out_len, scale)
    if antialias and scale < 1 and mode != "nearest":
        raise ResizeError("antialias when an axis shrinks")
    if in_len == 1:  # every tap is the one element, weights summing to 1
        return np.ones((out_len, 1))
    w = np.zeros((out_len, in_len))
    rows = np.arange(out_len)
    if mode == "nearest":
        w[rows, axis_nearest(transform=transform, nearest_mode=nearest_mode, in_len=in_len,
                             out_len=out_len, scale=scale)] = 1.0
        return w
    if mode == "cubic" and transform == "pytorch_half_pixel" and out_len == 1:
        raise ResizeError("cubic pytorch_half_pixel to one element (ONNX and onnxruntime differ)")
    x = source_coords(transform, in_len, out_len, scale, np.float32).astype(np.float64)
    if mode == "linear":
        x = np.clip(x, 0, in_len - 1)  # onnxruntime clamps the coordinate
    base = np.floor(x)
    t = x - base
    if mode == "linear":
        taps, weights = [base, base + 1], [1 - t, t]
    elif mode == "cubic":
        a = float(cubic_coeff_a)
        u = 1 - t
        taps = [base - 1, base, base + 1, base + 2]
        weights = [
            ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a,
            ((a + 2) * t - (a + 3)) * t * t + 1,
            ((a + 2) * u - (a + 3)) * u * u + 1,
            ((a * (u + 1) - 5 * a) * (u + 1) + 8 * a) * (u + 1) - 4 * a,
        ]
    else:
        raise ResizeError(f"unsupported mode {mode}")
    if exclude_outside:
        inside = [(i >= 0) & (i <= in_len - 1) for i in taps]
        weights = [np.where(ok, wt, 0.0) for ok, wt in zip(inside, weights)]
        total = sum(weights)
        weights = [wt / np.where(total == 0, 1.0, total) for wt in weights]
    for i, wt in zip(taps, weights):
        np.add.at(w, (rows, np.clip(i, 0, in_len - 1).astype(np.int64)), wt)
    return w

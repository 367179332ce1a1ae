"""Checking a caller's input arrays against what a program takes: the one check that
the hardware model, `--check-numerics` and tidal-run all apply, so that a wrong key,
dtype or shape reads the same everywhere (one line naming the input, what was
expected and what was given)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING

import ml_dtypes  # noqa: F401  (NumPy's names of RAW_DTYPES)
import numpy as np

from tidal.sim.errors import InputError

if TYPE_CHECKING:
    from tidal.sim.isa import Program


def check_inputs(
    expected: Mapping[str, tuple[int, ...] | None],
    given: Mapping[str, object],
    constants: Collection[str] = (),
    dtypes: Mapping[str, str] | None = None,
    unread: Mapping[str, tuple[tuple[int, ...], str]] | None = None,
) -> None:
    """Raise InputError unless `given` holds exactly the names of `expected`, each an
    array of its shape and dtype (`dtypes`, by name; float32 where not named); a
    name whose shape is None (a sequence, an optional or a map, which onnxruntime
    checks) any value; dtype "str" (a string tensor) any array of str, of its shape
    where one is given.
    Values are never cast: a float64 array is refused where float32 is expected
    (silently rounding a caller's data would hide the mismatch). `constants` names
    inputs the compiler made constants, so that feeding one says so. `unread`
    (name: shape and dtype) names the model's inputs the program does not take (an
    int64 `token_type_ids` no accelerator op reads): fed, one is checked as the
    model declares it and otherwise ignored; left out, nothing is missing."""
    dtypes = dtypes or {}
    unread = unread or {}
    takes = ", ".join(
        f"{n} {tuple(s)}" if s is not None else f"{n} (a sequence, optional or map)"
        for n, s in expected.items()
    ) or "no inputs"
    for name in expected:
        if name not in given:
            raise InputError(
                f"missing input '{name}' (the program takes: {takes}; "
                f"given: {', '.join(given) or 'nothing'})"
            )
    for name in given:
        if name in constants and name not in expected:
            raise InputError(
                f"input '{name}' was compiled as a constant (an initializer the model "
                "also lists as an input); tidal-run feeds it, as onnxruntime does "
                f"(the program takes: {takes})"
            )
        if name in unread and name not in expected:
            _check_unread(name, given[name], *unread[name])
            continue
        if name not in expected:
            raise InputError(f"unknown input '{name}' (the program takes: {takes})")
    for name, shape in expected.items():
        value = given[name]
        dtype = dtypes.get(name, "float32")
        if dtype == "str":  # a string tensor: any str dtype, and its declared shape
            if not isinstance(value, np.ndarray) or value.dtype.kind not in "UO":
                got = value.dtype if isinstance(value, np.ndarray) else type(value).__name__
                raise InputError(f"input '{name}': expected an array of str (an ONNX string tensor), got {got}")
            if shape is not None and value.shape != tuple(shape):
                raise InputError(f"input '{name}': expected shape {tuple(shape)}, got {value.shape}")
            continue
        if shape is None:  # onnxruntime, which takes it, checks its type
            continue
        if not isinstance(value, np.ndarray):
            raise InputError(
                f"input '{name}': expected a {dtype} array of shape {tuple(shape)}, "
                f"got {type(value).__name__}"
            )
        if value.dtype != np.dtype(dtype) and not is_raw_records(value, dtype):
            module = "ml_dtypes" if dtype in RAW_DTYPES else "np"
            raise InputError(
                f"input '{name}': expected dtype {dtype}, got {value.dtype} "
                f"(inputs are never cast; convert with .astype({module}.{dtype}))"
            )
        if value.shape != tuple(shape):
            raise InputError(
                f"input '{name}': expected shape {tuple(shape)}, got {value.shape}"
            )



RAW_DTYPES = frozenset(
    {"bfloat16", "float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz",
     "float8_e8m0fnu", "float4_e2m1fn", "int4", "uint4", "int2", "uint2"}
)
"""ONNX's element types that NumPy knows only through ml_dtypes: `numpy.savez` keeps
such an array as raw records of its item size ('|V2' for bfloat16, '|V1' for the
others), which `is_raw_records` takes as the declared type (`as_declared`)."""


def is_raw_records(value: np.ndarray, dtype: str) -> bool:
    """Whether `value` is an array of raw records that an .npz made of an array of
    `dtype` (one of RAW_DTYPES): same item size, no fields."""
    return (
        dtype in RAW_DTYPES
        and value.dtype.kind == "V"
        and value.dtype.names is None
        and value.dtype.itemsize == np.dtype(dtype).itemsize
    )


def as_declared(value: np.ndarray, dtype: str) -> np.ndarray:
    """`value` as `dtype`: raw records (`is_raw_records`) viewed as it, any other
    array unchanged."""
    return value.view(np.dtype(dtype)) if is_raw_records(value, dtype) else value


def unread_inputs(program: Program) -> dict[str, tuple[tuple[int, ...], str]]:
    """META's "unread_inputs" of a decoded program (the container's decoder checked
    their form): name -> (shape, dtype)."""
    entries = program.meta.get("unread_inputs")
    return {
        str(e["name"]): (tuple(int(d) for d in e["shape"]), str(e["dtype"]))
        for e in (entries if isinstance(entries, list) else ())
    }


def _check_unread(name: str, value: object, shape: tuple[int, ...], dtype: str) -> None:
    """A fed input the program does not read: refused only where it is not what the
    model declares (its dtype, where NumPy names it, and its shape)."""
    what = f"input '{name}' (a model input the program does not read)"
    if not isinstance(value, np.ndarray):
        raise InputError(f"{what}: expected an array, got {type(value).__name__}")
    if dtype == "str":
        if value.dtype.kind not in "UO":
            raise InputError(f"{what}: expected an array of str, got {value.dtype}")
    elif dtype != "other" and value.dtype != np.dtype(dtype):  # (sim/isa.py: UNREAD_DTYPES)
        raise InputError(f"{what}: expected dtype {dtype}, got {value.dtype}")
    if value.shape != tuple(shape):
        raise InputError(f"{what}: expected shape {tuple(shape)}, got {value.shape}")

"""tidal-run hands `to_program`'s program to the hardware model without writing and
reading the container: that program must be the one a decoded binary gives (same
streams, constants, tables, debug strings and metadata), with its constants still
views of the IR, and run to the same outputs and stats."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from tidal.dialects.accel import ConstOp
from tidal.passes.pipeline import compile_module
from tidal.sim import isa
from tidal.sim.machine import run_program
from tidal.targets.binary import encode, to_program
from tidal.targets.onnx_import import import_onnx


def _cnn():
    path = Path(__file__).resolve().parents[3] / "examples" / "models.py"
    spec = importlib.util.spec_from_file_location("tidal_examples_models", path)
    assert spec is not None and spec.loader is not None
    models = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(models)
    return models.make_cnn()


def test_the_program_in_memory_is_the_decoded_binary_and_runs_alike():
    module = compile_module(import_onnx(_cnn()), "small")
    direct = to_program(module)
    decoded = isa.decode_container(encode(module))
    assert direct.chip == decoded.chip
    assert direct.inputs == decoded.inputs and direct.outputs == decoded.outputs
    assert direct.debug == decoded.debug and direct.meta == decoded.meta
    assert direct.streams.keys() == decoded.streams.keys()
    for engine, records in direct.streams.items():
        assert records.dtype == decoded.streams[engine].dtype
        np.testing.assert_array_equal(records, decoded.streams[engine])
    assert [a for a, _ in direct.consts] == [a for a, _ in decoded.consts]
    for (_, data), (_, raw) in zip(direct.consts, decoded.consts, strict=True):
        np.testing.assert_array_equal(data, raw)
    # the weights are not copied on the way: each constant views its IR bytes
    irs = [op.value.data.data for op in module.walk() if isinstance(op, ConstOp)]
    assert all(
        any(np.shares_memory(data, np.frombuffer(b, np.uint8)) for b in irs)
        for _, data in direct.consts
    )

    (entry,) = direct.inputs
    shape = tuple(entry["shape"])  # type: ignore[arg-type]
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    out_direct, stats_direct = run_program(direct, {str(entry["name"]): x})
    out_decoded, stats_decoded = run_program(decoded, {str(entry["name"]): x})
    assert out_direct.keys() == out_decoded.keys()
    for name in out_direct:
        np.testing.assert_array_equal(out_direct[name], out_decoded[name])
    assert stats_direct == stats_decoded

"""compile_module's progress lines and placement report; TerminalProgress."""

from __future__ import annotations

import io

import numpy as np
from onnx import TensorProto, helper, numpy_helper
from tidal.passes.pipeline import TerminalProgress, compile_module, lowering_passes
from tidal.targets.onnx_import import import_onnx


def _module():
    w = np.ones((4, 3, 1, 1), np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
            helper.make_node("Relu", ["c"], ["y"], name="relu"),
        ],
        "m",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 4, 4])],
        [numpy_helper.from_array(w, "w")],
    )
    return import_onnx(helper.make_model(graph))


def test_progress_per_pass_and_report():
    lines: list[str] = []
    report: list[dict] = []
    compile_module(_module(), "small", progress=lines.append, report=report)
    names = [p.name for p in lowering_passes("small")]
    assert lines[:-1] == [f"[{i}/{len(names)}] {n}" for i, n in enumerate(names, start=1)]
    assert lines[-1].startswith("compiled in ")
    assert [(r["origin"], r["placement"]) for r in report] == [("conv", "accel"), ("relu", "accel")]


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_progress_overwrites_one_line_and_is_quiet_off_a_terminal():
    tty = _Tty()
    with TerminalProgress("tidal-compile", tty) as progress:
        compile_module(_module(), "small", progress=progress)
    text = tty.getvalue()
    assert text.startswith("\r\x1b[Ktidal-compile: [1/")
    assert text.endswith(" s\n")
    assert text.count("\n") == 1
    pipe = io.StringIO()
    with TerminalProgress("tidal-compile", pipe) as progress:
        compile_module(_module(), "small", progress=progress)
    assert pipe.getvalue() == ""

"""Tidal as an ONNX backend (`onnx.backend.base.Backend`), so that onnx's backend
test runner, and any code written against that interface, drives Tidal as it drives
onnxruntime:

    from tidal.targets.backend import TidalBackend
    rep = TidalBackend.prepare(model, chip="small")   # a ModelProto
    outputs = rep.run([x])                            # or {"input": x}
    rep.stats["placement"]                            # which tier ran each op

    import onnx.backend.test
    tests = onnx.backend.test.BackendTest(TidalBackend, __name__)

`run` is `tidal-run` on the model: every op the accelerator can take runs on the
hardware model, the rest on the host tier (NumPy) or the framework tier
(onnxruntime). The last run's stats (cycles, placement per tier, MACs per tier) are
`rep.stats`. Errors are `TidalBackendError` with tidal-run's one-line message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import onnx
from onnx.backend.base import Backend, BackendRep, namedtupledict

from tidal.sim.config import PRESETS


class TidalBackendError(RuntimeError):
    """The model could not be compiled or run (tidal-run's one-line message)."""


class TidalRep(BackendRep):
    """A prepared model: `run(inputs)` compiles and runs it for the chip."""

    def __init__(self, model: onnx.ModelProto, chip: str, disabled: Sequence[str] = ()):
        self.model = model
        self.chip = chip
        self.disabled = tuple(disabled)
        initializers = {t.name for t in model.graph.initializer}
        self.input_names = [i.name for i in model.graph.input if i.name not in initializers]
        self.output_names = list(dict.fromkeys(o.name for o in model.graph.output))
        self.stats: dict[str, Any] = {}

    def run(self, inputs: Any, **kwargs: Any) -> tuple[Any, ...]:
        from tidal.tools.files import ToolError
        from tidal.tools.tidal_run import run_model

        if isinstance(inputs, Mapping):
            feeds = dict(inputs)
        else:
            arrays = [inputs] if isinstance(inputs, np.ndarray) else list(inputs)
            feeds = dict(zip(self.input_names, arrays, strict=False))
        # A sequence (a list), a map (a dict) or an absent optional (None) goes to
        # onnxruntime's tier as it is; anything else is a tensor.
        feeds = {
            n: v if isinstance(v, list | dict) or v is None else np.asarray(v)
            for n, v in feeds.items()
        }
        try:
            outputs, self.stats = run_model(self.model, feeds, self.chip, self.disabled)
        except ToolError as e:
            raise TidalBackendError(str(e)) from None
        except Exception as e:  # the importer's and the simulator's own errors
            from tidal.sim.errors import InputError

            if isinstance(e, InputError):
                raise TidalBackendError(str(e)) from None
            raise
        return namedtupledict("Outputs", self.output_names)(
            *[outputs[n] for n in self.output_names]
        )


class TidalBackend(Backend):
    """The ONNX backend interface over tidal-run (CPU: the hardware model runs in
    this process). `prepare(model, device="CPU", chip="default", disable=())`."""

    @classmethod
    def is_compatible(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs: Any) -> bool:
        return cls.supports_device(device)

    @classmethod
    def prepare(
        cls, model: onnx.ModelProto, device: str = "CPU", **kwargs: Any
    ) -> TidalRep:
        super().prepare(model, device, **kwargs)  # the onnx checker
        chip = kwargs.get("chip", "default")
        if chip not in PRESETS:
            raise TidalBackendError(f"unknown chip '{chip}' (known: {', '.join(PRESETS)})")
        return TidalRep(model, chip, kwargs.get("disable", ()))

    @classmethod
    def run_model(
        cls, model: onnx.ModelProto, inputs: Any, device: str = "CPU", **kwargs: Any
    ) -> tuple[Any, ...]:
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(
        cls,
        node: onnx.NodeProto,
        inputs: Any,
        device: str = "CPU",
        outputs_info: Sequence[tuple[Any, tuple[int, ...]]] | None = None,
        **kwargs: Any,
    ) -> tuple[Any, ...] | None:
        """One node on arrays: a model of the node alone, its types from the arrays
        (and `outputs_info`, (dtype, shape) per output, where given)."""
        arrays = [np.asarray(a) for a in inputs]
        names = [n for n in node.input if n]
        graph_inputs = [
            onnx.helper.make_tensor_value_info(
                n, onnx.helper.np_dtype_to_tensor_dtype(a.dtype), a.shape
            )
            for n, a in zip(names, arrays, strict=False)
        ]
        graph_outputs = []
        for i, name in enumerate(o for o in node.output if o):
            if outputs_info is not None and i < len(outputs_info):
                dtype, shape = outputs_info[i]
                graph_outputs.append(onnx.helper.make_tensor_value_info(
                    name, onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype)), shape))
            else:
                graph_outputs.append(onnx.helper.make_empty_tensor_value_info(name))
        opset = kwargs.pop("opset_version", onnx.defs.onnx_opset_version())
        model = onnx.helper.make_model(
            onnx.helper.make_graph([node], "node", graph_inputs, graph_outputs),
            opset_imports=[onnx.helper.make_opsetid(node.domain or "", opset)],
        )
        model = onnx.shape_inference.infer_shapes(model)
        return cls.run_model(model, arrays, device, **kwargs)

    @classmethod
    def supports_device(cls, device: str) -> bool:
        return device.upper() == "CPU"


prepare = TidalBackend.prepare
run_model = TidalBackend.run_model
run_node = TidalBackend.run_node
supports_device = TidalBackend.supports_device

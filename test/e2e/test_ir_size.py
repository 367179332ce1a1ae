"""IR size grows with layers, not instructions: a ResNet-50-sized network lowers to a
few thousand accel ops, and repeats carry the rest (expanded only when encoding)."""

import importlib.util
from pathlib import Path

from xdsl.context import Context

from tidal.dialects.accel import InstructionOp, RepeatOp
from tidal.passes.pipeline import compile_module
from tidal.targets.onnx_import import import_onnx

_spec = importlib.util.spec_from_file_location(
    "tidal_example_models", Path(__file__).resolve().parents[2] / "examples" / "models.py"
)
models = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(models)


def test_resnet50_sized_network_stays_a_few_thousand_accel_ops():
    model = models.make_resnet50_trunk()
    convs = sum(1 for n in model.graph.node if n.op_type == "Conv")
    assert convs == 54  # ResNet-50's 53 plus the 1x1 head

    module = import_onnx(model)
    compile_module(module, "default", Context())
    ops = sum(1 for _ in module.walk())
    assert ops < 6000, f"{ops} accel ops for a ResNet-50-sized network"

    # The repeats stand for more instructions than there are ops: 3,502 ops for
    # 4,183 instructions (before issue 11's dataflow work, 3,181 ops for 58,245; the
    # convs now unroll taps and PSUM-bank blocks to keep weights stationary, and
    # move data in fewer, larger descriptors; issue 12's accel-prune-waits erased
    # about half the waits, most of them inside repeats, and accel-schedule peels
    # repeats of at most 8 iterations so other nests' instructions can go between
    # them; accel-hoist-waits moved the waits that every iteration of a repeat
    # repeated out of it: 5,213 instructions before; the binary expands every repeat
    # anyway).
    expanded = 0
    for stream in module.walk():
        if not isinstance(stream, InstructionOp):
            continue
        count, parent = 1, stream.parent_op()
        while parent is not None:
            if isinstance(parent, RepeatOp):
                count *= parent.count
            parent = parent.parent_op()
        expanded += count
    assert expanded > 1.15 * ops

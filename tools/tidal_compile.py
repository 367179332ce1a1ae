"""tidal-compile MODEL.onnx|MODEL.mlir -o OUT.tbin [--chip PRESET] [--check-numerics]:
compile a model to a Tidal binary."""

from __future__ import annotations

import argparse
import sys

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.utils.exceptions import DiagnosticException

from tidal.passes.numerics import (
    CannotEvaluate,
    NumericsChecker,
    NumericsMismatch,
    random_inputs,
)
from tidal.passes.pipeline import compile_module, lowering_passes
from tidal.sim.config import PRESETS, UnknownChipError
from tidal.targets.binary import EncodeError, encode
from tidal.tools.common import context, load_model
from tidal.tools.files import ToolError, fail, read_npz, write_files

TOOL = "tidal-compile"


def _lower_checked(module: ModuleOp, chip: str, ctx: Context, inputs_path: str | None) -> None:
    """Lower pass by pass, running the IR after each (see passes/numerics.py)."""
    inputs = read_npz(inputs_path) if inputs_path else random_inputs(module)
    checker = NumericsChecker(inputs)
    checker.start(module)
    for p in lowering_passes(chip):
        p.apply(ctx, module)
        module.verify()
        checker.after(p.name, module)
    for line in checker.log:
        print(line, file=sys.stderr)


def compile_to_bytes(
    path: str, chip: str, *, check_numerics: bool = False, inputs: str | None = None
) -> bytes:
    """Import, lower and encode a model; raises ToolError with one line."""
    ctx = context()
    module = load_model(path, ctx)
    try:
        if check_numerics:
            _lower_checked(module, chip, ctx, inputs)
        else:
            compile_module(module, chip, ctx)
        return encode(module)
    except (DiagnosticException, UnknownChipError, EncodeError, NumericsMismatch, CannotEvaluate) as e:
        raise ToolError(f"{path}: {e}") from None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=TOOL, description=__doc__)
    parser.add_argument("model", help="ONNX model (.onnx) or graph-level IR (.mlir)")
    parser.add_argument("-o", "--output", required=True, help="binary to write (.tbin)")
    parser.add_argument("--chip", default="default", help=f"chip preset ({', '.join(PRESETS)})")
    parser.add_argument(
        "--check-numerics",
        action="store_true",
        help="run the IR after every pass and stop at the first pass that changes the result",
    )
    parser.add_argument("--inputs", help=".npz inputs for --check-numerics (default: seeded random)")
    args = parser.parse_args(argv)
    try:
        data = compile_to_bytes(
            args.model, args.chip, check_numerics=args.check_numerics, inputs=args.inputs
        )
        write_files([(args.output, data)])
    except ToolError as e:
        fail(TOOL, str(e))
    print(f"{TOOL}: wrote {args.output} ({len(data)} bytes, chip '{args.chip}')")


if __name__ == "__main__":
    main()

"""tidal-compile MODEL.onnx|MODEL.mlir -o OUT.tbin [--chip PRESET]: compile to a binary."""

from __future__ import annotations

import argparse

from xdsl.utils.exceptions import DiagnosticException

from tidal.passes.pipeline import compile_module
from tidal.sim.config import PRESETS, UnknownChipError
from tidal.targets.binary import EncodeError, encode
from tidal.tools.common import context, load_model
from tidal.tools.files import ToolError, fail, write_files

TOOL = "tidal-compile"


def compile_to_bytes(path: str, chip: str) -> bytes:
    """Import, lower and encode a model; raises ToolError with one line."""
    ctx = context()
    module = load_model(path, ctx)
    try:
        compile_module(module, chip, ctx)
        return encode(module)
    except (DiagnosticException, UnknownChipError, EncodeError) as e:
        raise ToolError(f"{path}: {e}") from None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=TOOL, description=__doc__)
    parser.add_argument("model", help="ONNX model (.onnx) or graph-level IR (.mlir)")
    parser.add_argument("-o", "--output", required=True, help="binary to write (.tbin)")
    parser.add_argument("--chip", default="default", help=f"chip preset ({', '.join(PRESETS)})")
    args = parser.parse_args(argv)
    try:
        data = compile_to_bytes(args.model, args.chip)
        write_files([(args.output, data)])
    except ToolError as e:
        fail(TOOL, str(e))
    print(f"{TOOL}: wrote {args.output} ({len(data)} bytes, chip '{args.chip}')")


if __name__ == "__main__":
    main()

"""tidal-import MODEL.onnx [-o OUT.mlir] [--chip PRESET]: an ONNX model as graph-dialect
IR text, the input of `tidal-opt` and `tidal-compile` (as `mlir-translate
--import-...` is for an MLIR tool).

Without `-o` the text goes to standard output. The model's weights are printed in
full (hex `dense<"0x...">` literals), so the text compiles to the same binary as the
ONNX file. Sizes are checked against the chip's DRAM (`--chip`; by default the largest
preset's). What the importer did on its own (an upgraded opset, a deduplicated
output) is printed to stderr as `tidal-import: note: ...`.

Bad input ends in one line `tidal-import: error: <where>: <what>` and exit status 1,
with no output file written.
"""

from __future__ import annotations

import argparse
import sys
from io import StringIO
from collections.abc import Mapping

from xdsl.printer import Printer

from tidal.sim.config import PRESETS, UnknownChipError, get_chip
from tidal.targets.onnx_import import OnnxImportError, import_notes, import_onnx
from tidal.tools.common import add_dim_option, check_chip_option, dims_of, model_files
from tidal.tools.files import ToolError, check_paths, fail, tool_main, write_files

TOOL = "tidal-import"


def import_to_text(
    path: str, chip: str | None = None, dims: Mapping[str, int] | None = None
) -> tuple[str, list[str]]:
    """The graph IR of the ONNX model at `path` (its dynamic dimensions sized by
    `dims`), and the importer's notes. Raises ToolError with one line."""
    try:
        module = import_onnx(path, chip=get_chip(chip) if chip else None, dims=dims)
    except (OnnxImportError, UnknownChipError) as e:
        raise ToolError(str(e)) from None
    text = StringIO()
    Printer(stream=text).print_op(module)
    text.write("\n")
    return text.getvalue(), import_notes(module)


@tool_main(TOOL)
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog=TOOL, description="Import an ONNX model as graph-dialect IR text."
    )
    parser.add_argument("model", help="ONNX model (.onnx)")
    parser.add_argument("-o", "--output", help="IR text to write (default: standard output)")
    parser.add_argument(
        "--chip",
        help=f"check sizes against this preset's DRAM ({', '.join(PRESETS)}; "
        "default: the largest)",
    )
    add_dim_option(parser)
    args = parser.parse_args(argv)
    try:
        check_chip_option(args.chip)
        check_paths(model_files(args.model), [args.output])
        text, notes = import_to_text(args.model, args.chip, dims_of(args))
        for note in notes:
            print(f"{TOOL}: note: {note}", file=sys.stderr)
        if args.output is None:
            sys.stdout.write(text)
            sys.stdout.flush()
            return
        write_files([(args.output, text.encode())])
    except ToolError as e:
        fail(TOOL, str(e))
    except BrokenPipeError:  # e.g. piped into `head`
        sys.stderr.close()
        return
    print(f"{TOOL}: wrote {args.output} ({len(text)} bytes)")


if __name__ == "__main__":
    main()

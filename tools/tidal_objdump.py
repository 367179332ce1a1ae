"""tidal-objdump: print a `.tbin` binary as accel IR (its streams flat, one op per record).

    tidal-objdump model.tbin                    # weights elided
    tidal-objdump model.tbin --full-constants   # every constant's data

A constant of more than ELIDE_ELEMENTS elements that is not a splat is printed as
`dense_resource<__elided__> : tensor<...>`, as MLIR's printer does with
`--mlir-elide-elementsattrs-if-larger` (xDSL's printer has no such option): an MLP's
listing is then a few kilobytes instead of megabytes of hex. The elided listing is for
reading; `--full-constants` prints IR that parses back to the same program.

A file that cannot be read ends in one line `tidal-objdump: error: <message>` on
stderr and exit status 1.
"""

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from io import StringIO

from xdsl.dialects.builtin import DenseIntOrFPElementsAttr
from xdsl.ir import Attribute
from xdsl.printer import Printer

from tidal.sim.isa import BinaryFormatError, read_container
from tidal.targets.binary import decode
from tidal.tools.files import ToolError, check_paths, tool_main

# Elements a constant may have and still be printed whole (a bias of a small layer).
ELIDE_ELEMENTS = 16


def _is_splat(attr: DenseIntOrFPElementsAttr) -> bool:
    """All elements equal, compared as bytes (xDSL's `is_splat` unpacks every element
    into a Python list first)."""
    data = attr.data.data
    size = len(data) // max(len(attr), 1)
    return len(data) == 0 or data == data[:size] * (len(data) // size)


@dataclass(eq=False, repr=False)
class ElidingPrinter(Printer):
    """A Printer that elides dense constants of more than `elide_elements` elements,
    splats excepted (they print as one value anyway)."""

    elide_elements: int = ELIDE_ELEMENTS

    def print_attribute(self, attribute: Attribute) -> None:
        if (
            isinstance(attribute, DenseIntOrFPElementsAttr)
            and len(attribute) > self.elide_elements
            and not _is_splat(attribute)
        ):
            self.print_string("dense_resource<__elided__> : ")
            self.print_attribute(attribute.get_type())
            return
        super().print_attribute(attribute)


@tool_main("tidal-objdump")
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tidal-objdump", description="Print a Tidal binary as accel IR."
    )
    parser.add_argument("file", help="a .tbin file")
    parser.add_argument(
        "--full-constants",
        action="store_true",
        help=f"print the data of every constant (default: constants of more than "
        f"{ELIDE_ELEMENTS} elements that are not splats print as "
        "dense_resource<__elided__>)",
    )
    args = parser.parse_args(argv)
    try:
        check_paths([args.file], [])
    except ToolError as e:
        print(f"tidal-objdump: error: {e}", file=sys.stderr)
        return 1
    try:
        with open(args.file, "rb") as f:
            data = read_container(f)
        module = decode(data)
    except (OSError, BinaryFormatError) as e:
        message = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        message = " ".join(message.split())  # one line, whatever the binary's text holds
        print(f"tidal-objdump: error: {args.file}: {message}", file=sys.stderr)
        return 1
    text = StringIO()
    printer = Printer(stream=text) if args.full_constants else ElidingPrinter(stream=text)
    printer.print_op(module)
    try:
        sys.stdout.write(text.getvalue() + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. piped into `head`
        sys.stderr.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

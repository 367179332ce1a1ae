"""tidal-objdump: print a `.tbin` binary as accel IR (its streams flat, one op per record).

    tidal-objdump model.tbin

A file that cannot be read ends in one line `tidal-objdump: error: <message>` on
stderr and exit status 1.
"""

import argparse
import sys
from collections.abc import Sequence
from io import StringIO

from xdsl.printer import Printer

from tidal.sim.isa import BinaryFormatError
from tidal.targets.binary import decode


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tidal-objdump", description="Print a Tidal binary as accel IR."
    )
    parser.add_argument("file", help="a .tbin file")
    args = parser.parse_args(argv)
    try:
        with open(args.file, "rb") as f:
            data = f.read()
        module = decode(data)
    except (OSError, BinaryFormatError) as e:
        message = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        print(f"tidal-objdump: error: {args.file}: {message}", file=sys.stderr)
        return 1
    text = StringIO()
    Printer(stream=text).print_op(module)
    try:
        sys.stdout.write(text.getvalue() + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. piped into `head`
        sys.stderr.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""tidal-opt: xdsl-opt with Tidal's dialects, passes and targets.

Tidal registers itself once, through its `xdsl.universe` entry point, which
xDSLOptMain already reads. This tool adds what a user of an opt tool expects on top:
verifier errors located at file:line:col, and one-line errors (exit 1, no traceback)
for bad IR, unknown passes, bad pass options and failing passes.
"""

from __future__ import annotations

import argparse
import sys
from typing import IO

from xdsl.dialects.builtin import ModuleOp
from xdsl.utils.exceptions import DiagnosticException, ParseError
from xdsl.xdsl_opt_main import xDSLOptMain

from tidal.passes.numerics import CannotEvaluate, NumericsChecker, NumericsMismatch, random_inputs
from tidal.passes.quiet import quiet_diagnostics
from tidal.sim.config import UnknownChipError
from tidal.tools.common import _located, parse_and_verify
from tidal.tools.files import ToolError, fail, read_npz

TOOL = "tidal-opt"


class TidalOptMain(xDSLOptMain):
    version_format = "tidal-opt (xDSL {xdsl_version})"

    def register_all_arguments(self, arg_parser: argparse.ArgumentParser) -> None:
        super().register_all_arguments(arg_parser)
        arg_parser.add_argument(
            "--check-numerics",
            action="store_true",
            help="run the IR after every pass (graph/loop/accel levels with NumPy, "
            "split programs on the hardware model) and report the first pass whose "
            "outputs disagree with the input module's",
        )
        arg_parser.add_argument(
            "--numerics-inputs",
            help=".npz of inputs for --check-numerics (default: seeded random)",
        )

    def apply_passes(self, prog: ModuleOp) -> None:
        with quiet_diagnostics():  # errors without megabytes of weights printed in
            self._apply_passes(prog)

    def _apply_passes(self, prog: ModuleOp) -> None:
        if not self.args.check_numerics:
            return super().apply_passes(prog)
        inputs = (
            read_npz(self.args.numerics_inputs)
            if self.args.numerics_inputs
            else random_inputs(prog)
        )
        checker = NumericsChecker(inputs)
        checker.start(prog)
        for p in self.pipeline.passes:
            p.apply(self.ctx, prog)
            prog.verify()
            checker.after(p.name, prog)
        for line in checker.log:
            print(line, file=sys.stderr)

    def parse_chunk(self, chunk: IO[bytes], file_extension: str, start_offset: int = 0):
        if file_extension != "mlir":
            return super().parse_chunk(chunk, file_extension, start_offset)
        text = chunk.read().decode()
        return parse_and_verify(self.ctx, text, self.get_input_name(), start_offset)


def main(argv: list[str] | None = None) -> None:
    try:
        TidalOptMain(description="Tidal modular optimizer driver", args=argv).run()
    except ParseError as e:
        fail(TOOL, _located(str(e)))
    except (ToolError, NumericsMismatch, CannotEvaluate) as e:
        fail(TOOL, str(e))
    except DiagnosticException as e:
        fail(TOOL, str(e))
    except (UnknownChipError, ValueError, KeyError) as e:
        # Pipeline text errors: unknown passes, bad or unknown options.
        fail(TOOL, str(e).strip("'\""))
    except FileNotFoundError as e:
        fail(TOOL, f"{e.filename}: {e.strerror}")
    sys.exit(0)


if __name__ == "__main__":
    main()

"""tidal-opt: xdsl-opt with Tidal's dialects, passes and targets.

Tidal registers itself once, through its `xdsl.universe` entry point, which
xDSLOptMain already reads. This tool adds what a user of an opt tool expects on top:
ONNX models as input (imported to graph-level IR, as tidal-import does), errors
located at file:line:col (verifier errors, and passes given IR of the wrong level),
one-line errors (exit 1, no traceback) for bad IR, bad pipelines, unknown passes, bad
pass options and failing passes, and `-o` written whole or not at all, never over
the input.

Verification is xdsl-opt's: the module is verified after every pass named in `-p`
(unless --disable-verify), and a failure names the pass ("verifier failed after pass
'graph-to-loop': ..."). `tidal-lower` is one pass there, verified as a whole;
--verify-each verifies after each of its own passes too (`tidal-lower{verify_each=true}`),
as tidal-compile --verify-each does.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import version
from io import StringIO
from typing import IO, get_type_hints

from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation
from xdsl.passes import ModulePass, PassPipelineCallbackType
from xdsl.utils.exceptions import (
    ArgSpecParseError,
    DiagnosticException,
    ParseError,
    VerifyException,
)
from xdsl.xdsl_opt_main import xDSLOptMain

from tidal.passes.interpreters.numerics import CannotEvaluate, NumericsMismatch
from tidal.passes.pipeline import (
    Callback,
    PassCallback,
    TidalLowerPass,
    run_passes,
    verifier_failed,
)
from tidal.passes.utils.expect import PassInputError
from tidal.sim.config import UnknownChipError
from tidal.targets import get_all_targets
from tidal.tools.common import (
    _located,
    import_model,
    model_files,
    numerics_checker,
    parse_and_verify,
)
from tidal.tools.files import ToolError, check_paths, fail, tool_main, write_files

TOOL = "tidal-opt"


class _Kept(StringIO):
    """The output text, kept when xDSLOptMain closes its output stream, so that the
    file is written only once every chunk has gone through."""

    def close(self) -> None:
        pass


TIDAL_TARGETS = frozenset(get_all_targets())


class TidalOptMain(xDSLOptMain):
    version_format = f"tidal-opt {version('tidal')} (xDSL {{xdsl_version}})"

    def __init__(self, *args, **kwargs) -> None:
        self.starts: dict[Operation, str] = {}  # where each parsed op starts
        self._output = _Kept()
        super().__init__(*args, **kwargs)

    def register_all_targets(self) -> None:
        """Textual MLIR and Tidal's own targets only: xDSL's others (llvm, riscv-asm,
        wgsl, ...) print dialects Tidal's IR never reaches and failed or printed
        nothing on it."""
        super().register_all_targets()
        self.available_targets = {
            name: factory
            for name, factory in self.available_targets.items()
            if name == "mlir" or name in TIDAL_TARGETS
        }

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
        arg_parser.add_argument(
            "--verify-each",
            action="store_true",
            help="verify after every pass inside tidal-lower too (every pass named "
            "in -p is verified unless --disable-verify)",
        )

    def register_all_frontends(self) -> None:
        super().register_all_frontends()
        self.available_frontends["onnx"] = self._import_onnx

    def _import_onnx(self, chunk: IO[bytes]) -> ModuleOp:
        if self.args.input_file is not None:
            return import_model(self.args.input_file)
        import onnx

        return import_model(onnx.load_model_from_string(chunk.read()))

    def run(self) -> None:
        out, path = self.args.output_file, self.args.input_file
        if path and os.path.isdir(path):
            raise ToolError(f"cannot read '{path}': it is a directory")
        models = model_files(path) if path else []
        if self.args.numerics_inputs is not None and not self.args.check_numerics:
            raise ToolError("--numerics-inputs feeds --check-numerics, which is not given")
        check_paths([*models, self.args.numerics_inputs], [out])
        extension = os.path.splitext(path)[1].lstrip(".") if path else "mlir"
        if not self.args.frontend and extension not in self.available_frontends:
            raise ToolError(
                f"{path}: unrecognized file extension '{extension}' (tidal-opt reads "
                f"{', '.join('.' + e for e in self.available_frontends)}; "
                "--frontend names the reader)"
            )
        super().run()
        text = self._output.getvalue()
        # (with --verify-diagnostics or --parsing-diagnostics, a chunk that failed
        # prints its diagnostic instead of a module: when none gave a module, an
        # existing output file is left as it was, not emptied)
        if out is not None and text:
            write_files([(out, text.encode())])

    def prepare_output(self) -> IO[str]:
        return sys.stdout if self.args.output_file is None else self._output

    def setup_pipeline(self) -> None:
        """xdsl-opt's pipeline, a bad option value named by its pass and option
        (xDSL says "Incompatible types: given ('maybe',), expected <class 'bool'>")."""
        if twice := _option_twice(self.args.passes):
            raise ToolError(twice)
        try:
            super().setup_pipeline()
        except ValueError as e:
            raise ToolError(_option_error(self.args.passes, self.available_passes, e)) from None

    def apply_passes(self, prog: ModuleOp) -> None:
        """The parsed pipeline through Tidal's pass driver: xdsl-opt's own callback
        (verification unless --disable-verify, its failure named after the pass as
        `Verify` names it; --print-between-passes, --time-passes), then the numerics
        checker with --check-numerics. --verify-each reaches inside tidal-lower."""
        if self.args.verify_each and self.args.disable_verify:
            raise ToolError("--verify-each and --disable-verify exclude each other")
        passes = [
            dataclasses.replace(p, verify_each=True)
            if self.args.verify_each and isinstance(p, TidalLowerPass) else p
            for p in self.pipeline.passes
        ]
        running = _Running()
        callbacks: list[Callback] = [running]
        if (between := self.pipeline.callback) is not None:
            callbacks.append(_naming_the_pass(between))
        checker = None
        if self.args.check_numerics:
            checker = numerics_checker(prog, self.args.numerics_inputs)
            callbacks.append(checker)
        try:
            run_passes(passes, prog, self.ctx, callbacks)
        except AssertionError as e:
            # An internal check of a pass (xDSL's apply-pdl-interp on a module
            # without PDL patterns): one line naming the pass, not a traceback.
            raise ToolError(
                f"pass '{running.name}' failed on this input (an internal check of "
                f"the pass: {str(e) or 'no message'})"
            ) from None
        if checker is not None:
            for line in checker.log:
                print(line, file=sys.stderr)

    def parse_chunk(self, chunk: IO[bytes], file_extension: str, start_offset: int = 0):
        if file_extension != "mlir":
            return super().parse_chunk(chunk, file_extension, start_offset)
        try:
            text = chunk.read().decode()
        except UnicodeDecodeError as e:
            raise ToolError(
                f"{self.get_input_name()}: not UTF-8 text (byte offset {e.start})"
            ) from None
        return parse_and_verify(
            self.ctx, text, self.get_input_name(), start_offset, starts=self.starts
        )

    def located(self, error: PassInputError) -> str:
        """A pass-input error prefixed with where its op was parsed."""
        where = self.starts.get(error.op)
        return f"{where}: {error}" if where else str(error)


class _Running(PassCallback):
    """The name of the pass running now, for a failure's message."""

    def __init__(self) -> None:
        self.name: str | None = None

    def begin(self, passes: Sequence[ModulePass], module: ModuleOp) -> None:
        self.name = passes[0].name if passes else None

    def before(self, pass_: ModulePass, module: ModuleOp) -> None:
        self.name = pass_.name


def _naming_the_pass(callback: PassPipelineCallbackType) -> PassPipelineCallbackType:
    """xdsl-opt's callback, whose verifier failure says after which pass it came
    ("verifier failed after pass 'graph-to-loop': ...", as `Verify` says it)."""

    def named(previous: ModulePass | None, module: ModuleOp, next_pass: ModulePass | None):
        try:
            callback(previous, module, next_pass)
        except VerifyException as e:
            when = f"after pass '{previous.name}'" if previous else "before the first pass"
            raise verifier_failed(e, when) from None

    return named


_OPTION_KINDS: dict[object, str] = {
    bool: "true or false",
    int: "a whole number",
    float: "a number",
    str: "a string",
}


def _option_error(
    pipeline: str, available: dict[str, Callable[[], type[ModulePass]]], error: ValueError
) -> str:
    """`error`, raised making the passes of `pipeline`, as "pass 'P', option 'O':
    'V' is not a bool" where one option's value has the wrong type, else prefixed
    with the pass it came from."""
    from xdsl.utils.arg_spec import _convert_arg_to_type, parse_pipeline

    for spec in parse_pipeline(pipeline):
        if spec.name not in available:
            continue
        cls = available[spec.name]()
        try:
            cls.from_pass_spec(spec)
        except ValueError as e:
            hints = get_type_hints(cls)
            for name, value in spec.normalize_parameter_names().parameters.items():
                if name not in hints:
                    continue
                try:
                    _convert_arg_to_type(value, hints[name])
                except ValueError:
                    given = f"'{' '.join(str(v) for v in value)}'" if value else "no value"
                    want = _OPTION_KINDS.get(hints[name], str(hints[name]))
                    return f"pass '{spec.name}', option '{name}': expected {want}, got {given}"
            return f"pass '{spec.name}': {e}"
    return str(error)


def _option_twice(pipeline: str) -> str | None:
    """"pass 'P': option 'O' given twice" for the first option that one pass of
    `pipeline` is given twice (as MLIR's pass options refuse it; xDSL keeps the
    last), else None. A syntax error is left to xDSL's parser."""
    from xdsl.utils.arg_spec import PipelineLexer, SpecTokenKind

    kinds = SpecTokenKind
    lexer = PipelineLexer(pipeline)
    name, seen, depth, key_next = "", set[str](), 0, False
    try:
        while (token := lexer.lex()).kind is not kinds.EOF:
            kind, text = token.kind, token.span.text
            if kind is kinds.L_BRACE:
                depth, seen = depth + 1, set()
            elif kind is kinds.R_BRACE:
                depth -= 1
            elif kind is kinds.IDENT and not depth:
                name = text
            elif kind is kinds.IDENT and key_next:
                option = text.replace("-", "_")
                if option in seen:
                    return f"pass '{name}': option '{option}' given twice"
                seen.add(option)
            key_next = depth > 0 and kind in (kinds.L_BRACE, kinds.SPACE)
    except ArgSpecParseError:
        return None
    return None


def _pipeline_error(error: ArgSpecParseError) -> str:
    """xDSL's pipeline syntax error (several lines: a header, `pass-pipeline:1:C`, the
    text, a caret, the message) as one line naming the pipeline and the column."""
    lines = [ln for ln in str(error).splitlines() if ln.strip()]
    where = next((ln for ln in lines if ln.startswith("pass-pipeline:")), "")
    column = where.rsplit(":", 1)[-1] if where else "?"
    text = lines[2] if len(lines) > 2 else ""
    return f"pass pipeline '{text}', column {column}: {lines[-1].strip()}"


@tool_main(TOOL)
def main(argv: list[str] | None = None) -> None:
    opt: TidalOptMain | None = None
    try:
        opt = TidalOptMain(description="Tidal modular optimizer driver", args=argv)
        opt.run()
    except ArgSpecParseError as e:
        fail(TOOL, _pipeline_error(e))
    except ParseError as e:
        fail(TOOL, _located(str(e)))
    except PassInputError as e:
        fail(TOOL, opt.located(e) if opt is not None else str(e))
    except (ToolError, NumericsMismatch, CannotEvaluate) as e:
        fail(TOOL, str(e))
    except DiagnosticException as e:
        fail(TOOL, str(e))
    except KeyError as e:  # an unknown pass or pass option
        fail(TOOL, str(e.args[0]) if e.args else str(e))
    except (UnknownChipError, ValueError) as e:  # a bad pass option value
        fail(TOOL, str(e))
    except FileNotFoundError as e:
        fail(TOOL, f"{e.filename}: {e.strerror}")
    sys.exit(0)


if __name__ == "__main__":
    main()

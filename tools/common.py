"""Shared plumbing of the compiler tools: loading a model (ONNX or IR) with
located errors, and the numerics checker that `--check-numerics` adds to the pass
driver. No compiler logic lives here; file handling is in files.py."""

from __future__ import annotations

import argparse

import dataclasses
import math
from pathlib import Path
from typing import TYPE_CHECKING

from xdsl.context import Context
from xdsl.dialects.builtin import UNKNOWN_LOC, AnyFloat, Builtin, ModuleOp
from xdsl.dialects.func import Func
from xdsl.parser import Parser
from xdsl.ir import Block, BlockArgument, Operation
from xdsl.utils.exceptions import DiagnosticException, ParseError, VerifyException
from xdsl.utils.lexer import Span
from xdsl.utils.mlir_lexer import MLIRTokenKind

from tidal.dialects import get_all_dialects
from tidal.dialects.graph import carried_element_types
from tidal.tools import xdsl_fixes  # noqa: F401 - xDSL lexer fix
from tidal.tools.files import MLIR_MAX_BYTES, ToolError, check_read_once, check_source, open_npz

if TYPE_CHECKING:
    from collections.abc import Mapping

    import numpy as np
    import onnx

    from tidal.passes.analysis.model_work import ModelWork
    from tidal.passes.interpreters.numerics import NumericsChecker

# MLIR's IntegerType::kMaxWidth.
MAX_INTEGER_WIDTH = (1 << 24) - 1
# Elements of one dense literal (VGG-19's largest weight has 102,760,448).
MAX_DENSE_ELEMENTS = 1 << 27
MAX_LIST_ELEMENTS = 1 << 18
"""The most elements of a dense literal in list form (`LocatingParser`)."""


def context() -> Context:
    ctx = Context()
    ctx.load_dialect(Builtin)
    ctx.load_dialect(Func)
    for name, factory in get_all_dialects().items():
        ctx.register_dialect(name, factory)
    return ctx


class LocatingParser(Parser):
    """A parser that remembers where each operation starts, so that a verifier
    error can name file:line:col (xDSL does not attach source locations itself)."""

    def __init__(self, ctx: Context, text: str, name: str, line_offset: int = 0):
        super().__init__(ctx, text, name)
        self.line_offset = line_offset
        self.starts: dict[Operation, str] = {}
        self._list_elements = 0  # of the dense literal being parsed
        self._counted = (0, 0)  # (a text position, the newlines before it)

    def _parse_optional_integer_or_float_type(self):  # pyright: ignore[reportIncompatibleMethodOverride]
        """As xDSL, but an integer width past MLIR's limit (IntegerType::kMaxWidth) is
        a parse error (xDSL computes a width's value range as Python ints, so
        `i2147483647` costs gigabytes or a MemoryError), and so is a float type xDSL
        cannot print (f80, f128, tf32: a verifier error printing the module would
        fail) unless the framework tier carries it (f8E4M3FN and the other 8- and
        4-bit floats of ONNX, which no constant of Tidal's IR has)."""
        token = self._current_token
        if token.kind == MLIRTokenKind.BARE_IDENT and (
            m := self._builtin_integer_type_regex.match(token.text)
        ):
            if int(m.group(1)) > MAX_INTEGER_WIDTH:
                self.raise_error(
                    f"integer bitwidth is limited to {MAX_INTEGER_WIDTH} bits", token.span
                )
        found = super()._parse_optional_integer_or_float_type()
        if isinstance(found, AnyFloat) and found not in carried_element_types():
            try:
                found.format  # noqa: B018 - xDSL cannot pack, so not print, f80, f128, tf32
            except (NotImplementedError, AttributeError):
                self.raise_error(f"float type {token.text} is not supported", token.span)
        return found

    def parse_dense_int_or_fp_elements_attr(self, type):  # pyright: ignore[reportIncompatibleMethodOverride]
        """As xDSL, counting the elements of a list-form literal
        (`_parse_tensor_literal_element`) and checking a hex one's length."""
        self._list_elements = 0
        span = self._current_token.span
        found = super().parse_dense_int_or_fp_elements_attr(type)
        # (a hex literal of a length no element size divides passed xDSL's count,
        # len // size, and failed later when printed, without a location)
        size = getattr(found.get_element_type(), "compile_time_size", None)
        if isinstance(size, int) and size > 0 and len(found.data.data) % size:
            raise ParseError(
                span,
                f"dense literal of {len(found.data.data)} bytes: not a whole number of "
                f"{size}-byte {found.get_element_type()} elements",
            )
        return found

    def _parse_tensor_literal_element(self):  # pyright: ignore[reportIncompatibleMethodOverride]
        """As xDSL, but a list-form dense literal holds at most MAX_LIST_ELEMENTS
        elements: xDSL keeps each as a Python object of about 350 bytes, so the
        MLIR_MAX_BYTES of `[0, 0, ...]` would take tens of gigabytes (50 MB of text:
        3.5 GB and 203 s). The hex form, which the printer writes past 100 elements,
        has no such cost."""
        self._list_elements += 1
        if self._list_elements > MAX_LIST_ELEMENTS:
            self.raise_error(
                f"dense literal in list form with more than {MAX_LIST_ELEMENTS} elements "
                '(give a constant this large in the hex form, dense<"0x...">, as tidal-opt prints it)'
            )
        return super()._parse_tensor_literal_element()

    def _parse_dense_literal_type(self):  # pyright: ignore[reportIncompatibleMethodOverride]
        """As xDSL, but a dense literal's type may hold at most MAX_DENSE_ELEMENTS
        elements: xDSL expands a splat into a Python list of that many values, so
        `dense<1.0> : tensor<2147483648xf32>` would take tens of gigabytes."""
        span = self._current_token.span
        found = super()._parse_dense_literal_type()
        elements = math.prod(found.get_shape())
        if elements > MAX_DENSE_ELEMENTS:
            self.raise_error(
                f"dense literal of {elements} elements: more than {MAX_DENSE_ELEMENTS} "
                "(512 MiB of f32), Tidal's limit for one constant", span
            )
        return found

    def parse_optional_operation(self) -> Operation | None:
        span = self._current_token.span
        op = super().parse_optional_operation()
        if op is not None:
            line, col = self._line_col(span)
            self.starts[op] = f"{span.input.name}:{line + span.line_offset + self.line_offset}:{col}"
        return op

    def _parse_optional_block_arg_list(self, block: Block):  # pyright: ignore[reportIncompatibleMethodOverride]
        """As xDSL, but the arguments are given to the block at once: xDSL's
        `Block.insert_arg` rebuilds the block's tuple of arguments for each one, so
        a block of 40,000 arguments took 13 s, 200,000 past two minutes."""
        if self._current_token.kind != MLIRTokenKind.L_PAREN:
            return None
        args: list[BlockArgument] = []
        first = len(block.args)

        def parse_argument() -> None:
            name = self._parse_token(MLIRTokenKind.PERCENT_IDENT, "block argument expected").span
            self.parse_punctuation(":")
            arg_type = self.parse_attribute()
            location = self.parse_optional_location()
            arg = BlockArgument(arg_type, block, first + len(args), location or UNKNOWN_LOC)
            args.append(arg)
            self._register_ssa_definition(name.text[1:], (arg,), name)

        try:
            self.parse_comma_separated_list(self.Delimiter.PAREN, parse_argument)
        finally:
            block._args = (*block.args, *args)  # pyright: ignore[reportPrivateUsage]
        return block

    def _line_col(self, span: Span) -> tuple[int, int]:
        """(line, column) of `span`'s start in its input, as `Span.get_location`
        gives them, counting newlines on from the last op's start: ops come in text
        order, and counting from the start of the text for each op made parsing
        quadratic (100,000 top-level ops: 73 s)."""
        content, newline, start = span.input.content, span.input.newline, span.start
        pos, lines = self._counted
        if start < pos:
            pos, lines = 0, 0
        lines += content.count(newline, pos, start)
        self._counted = (start, lines)
        line_start = content.rfind(newline, 0, start) + 1
        return lines + 1, start - line_start + 1


def parse_and_verify(
    ctx: Context,
    text: str,
    name: str,
    line_offset: int = 0,
    starts: dict[Operation, str] | None = None,
) -> ModuleOp:
    """Parse and verify MLIR text. A verifier failure is re-raised as one
    VerifyException whose message starts with the failing op's file:line:col.
    `starts`, if given, receives where each parsed op starts (for later errors).
    ToolError for text larger than MLIR_MAX_BYTES."""
    if len(text) > MLIR_MAX_BYTES:
        raise ToolError(
            f"{name}: {len(text):,} characters of MLIR, more than the {MLIR_MAX_BYTES:,} the "
            "tools parse (xDSL's parser needs about 60 times the text in memory; give the "
            "model as its .onnx file)"
        )
    parser = LocatingParser(ctx, text, name, line_offset)
    if starts is not None:
        parser.starts = starts
    try:
        try:
            module = parser.parse_module()
        except RecursionError:
            span = parser._current_token.span  # pyright: ignore[reportPrivateUsage]
            raise ParseError(span, "nested too deeply to parse") from None
        except (NotImplementedError, OverflowError, ValueError, ZeroDivisionError) as e:
            # An attribute xDSL parses but cannot build (array<i128: 1>, whose element
            # width has no struct format; array<i0: 0>, a division by the width in
            # bytes): an error where the parser stands.
            span = parser._current_token.span  # pyright: ignore[reportPrivateUsage]
            raise ParseError(span, f"cannot build this attribute: {e}") from None
        except VerifyException as e:
            # An attribute's verifier refusing it as the parser builds it (300 : i8, a
            # loop tile in dram): still a verifier's error (--verify-diagnostics prints
            # it), now with where the parser stands.
            span = parser._current_token.span  # pyright: ignore[reportPrivateUsage]
            at = dataclasses.replace(span, line_offset=line_offset).get_location()
            raise VerifyException(f"{name}:{at.line}:{at.col}: {_first_line(str(e))}") from None
    except ParseError as e:
        e.span = dataclasses.replace(e.span, line_offset=line_offset)
        raise
    try:
        module.verify()
    except VerifyException as whole:
        for op in module.walk():
            try:
                op.verify(verify_nested_ops=False)
            except VerifyException as e:
                where = parser.starts.get(op, name)
                raise VerifyException(f"{where}: {_first_line(str(e))}") from None
        raise VerifyException(f"{name}: {_first_line(str(whole))}") from None
    except RecursionError:
        raise VerifyException(f"{name}: nested too deeply to verify") from None
    _check_defined_before_use(module, parser.starts, name)
    _check_tidal_attributes(module, parser.starts, name)
    return module


def _check_tidal_attributes(module: ModuleOp, starts: Mapping[Operation, str], name: str) -> None:
    """Tidal's discardable attributes, which no op verifier reads, of the kind the
    passes read: `tidal.origin` (an op's label in every message) a string, and
    `tidal.name` (a function input's or output's name, which keys the .npz files)
    a string that names one (`io_name_problem`). VerifyException at the op's
    file:line:col otherwise."""
    from xdsl.dialects.builtin import StringAttr
    from xdsl.dialects.func import FuncOp

    from tidal.sim.isa import io_name_problem

    for op in module.walk():
        where = starts.get(op, name)
        origin = op.attributes.get("tidal.origin")
        if origin is not None and not isinstance(origin, StringAttr):
            raise VerifyException(f"{where}: 'tidal.origin' must be a string, got {origin}")
        if not isinstance(op, FuncOp):
            continue
        names: dict[str, dict[str, int]] = {"input": {}, "output": {}}
        for kind, attrs in (("input", op.arg_attrs), ("output", op.res_attrs)):
            for i, entry in enumerate(attrs.data if attrs is not None else ()):
                given = entry.data.get("tidal.name")
                if given is None:
                    continue
                if not isinstance(given, StringAttr):
                    raise VerifyException(f"{where}: {kind} {i}'s 'tidal.name' must be a string, got {given}")
                why = io_name_problem(given.data) if given.data else "an empty name"
                if why is not None:
                    raise VerifyException(f"{where}: {kind} {i}'s 'tidal.name' cannot name it: {why}")
                if given.data in names[kind]:
                    raise VerifyException(
                        f"{where}: {kind}s {names[kind][given.data]} and {i} are both named '{given.data}'"
                    )
                names[kind][given.data] = i
        returned = _returned_arguments(op)
        for out, i in names["output"].items():
            arg = names["input"].get(out)
            if arg is not None and returned.get(i) != arg:
                raise VerifyException(
                    f"{where}: output {i} is named '{out}' as input {arg} is, but is another value "
                    "(an output may share an input's name only by returning that input)"
                )


def _returned_arguments(func: Operation) -> dict[int, int]:
    """Which of `func`'s block arguments each result returns directly (result index
    -> argument index)."""
    from xdsl.ir import BlockArgument

    body = func.regions[0].blocks
    if len(body) != 1 or body[0].last_op is None:
        return {}
    return {
        i: v.index for i, v in enumerate(body[0].last_op.operands) if isinstance(v, BlockArgument)
    }


def _check_defined_before_use(module: ModuleOp, starts: Mapping[Operation, str], name: str) -> None:
    """Every operand of an op in a single-block region is a value defined before
    the op: an argument of its block or of an enclosing one, or a result of an
    earlier op there (MLIR's dominance rule, which xDSL's verifier does not check;
    regions of several blocks are left to the verifier). VerifyException at the
    op's file:line:col otherwise."""

    def check(op: Operation, visible: frozenset[object]) -> None:
        for region in op.regions:
            if len(region.blocks) != 1:
                continue
            block = region.blocks[0]
            seen = set(visible) | set(block.args)
            for inner in block.ops:
                for operand in inner.operands:
                    if operand not in seen:
                        where = starts.get(inner, name)
                        what = f"%{operand.name_hint}" if operand.name_hint else "an operand"
                        raise VerifyException(
                            f"{where}: {inner.name}: {what} is used before it is defined"
                        )
                if inner.regions:
                    check(inner, frozenset(seen))
                seen.update(inner.results)

    check(module, frozenset())


def _first_line(message: str) -> str:
    lines = [ln for ln in message.splitlines() if ln.strip()]
    return lines[0] if lines else message


def model_files(path: str) -> list[str]:
    """Every file that loading the model at `path` reads: the model and, for ONNX,
    its external data files (for check_paths: none of them may be overwritten).
    The model itself is checked readable first (`check_source`: not a device, not
    past its kind's size), as finding its data files reads it."""
    check_source(path)
    check_read_once(path, "a model is read more than once")
    if path.endswith(".mlir"):
        return [path]
    from tidal.targets.onnx_import import data_files

    return [path, *data_files(path)]


def load_model(
    path: str,
    ctx: Context,
    overrides: Mapping[str, np.ndarray] | None = None,
    starts: dict[Operation, str] | None = None,
    dims: Mapping[str, int] | None = None,
) -> ModuleOp:
    """An ONNX model (.onnx) or graph-level IR (.mlir) as a module; `overrides` and
    `dims` as in `import_onnx` (values fed for inputs, sizes of named dynamic
    dimensions); `starts` receives where each op of an .mlir file starts
    (file:line:col, for errors that passes raise later)."""
    if path.endswith(".mlir"):
        if dims:
            raise ToolError(f"{path}: --dim sizes an ONNX model's dynamic dimensions; IR shapes are static")
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as e:
            raise ToolError(f"{path}: {e.strerror}") from None
        except UnicodeDecodeError as e:
            raise ToolError(f"{path}: not UTF-8 text (byte offset {e.start})") from None
        located: dict[Operation, str] = {} if starts is None else starts
        try:
            module = parse_and_verify(ctx, text, path, starts=located)
        except ParseError as e:
            raise ToolError(_located(str(e))) from None
        except DiagnosticException as e:
            raise ToolError(str(e)) from None
        _check_compilable(module, located, path)
        return module
    return import_model(path, overrides, dims)


def _check_compilable(module: ModuleOp, starts: Mapping[Operation, str], path: str) -> None:
    """What the passes assume of a graph-level .mlir model that the verifier does
    not check: every func.func has a body (not a declaration), and no tensor is
    empty or larger than the largest chip's DRAM. ToolError at the op's
    file:line:col."""
    from xdsl.dialects.func import FuncOp

    from tidal.passes.utils.expect import unfit_tensor
    from tidal.sim.config import PRESETS

    dram = max(c.dram_bytes for c in PRESETS.values())
    for op in module.walk():
        where = starts.get(op, path)
        if isinstance(op, FuncOp) and not op.body.blocks:
            raise ToolError(f"{where}: func.func @{op.sym_name.data} is a declaration (no body): nothing to compile")
        if (why := unfit_tensor(op, dram, "the largest chip preset")) is not None:
            raise ToolError(f"{where}: {why}")


def attach_model_work(module: ModuleOp) -> ModelWork:
    """The work of the graph-level `module` as loaded (`model_work`: before any pass
    folds BatchNorm, so the weights are the file's), attached as its
    `tidal.model_work` attribute, which the passes keep and the encoder writes into
    the binary's META (`model`), from which the simulator's stats give the ideal
    roofline."""
    from tidal.passes.analysis.model_work import model_work
    from tidal.targets.binary import MODEL_WORK_ATTR

    work = model_work(module)
    module.attributes[MODEL_WORK_ATTR] = work.to_attr()
    return work


def ideal_note(stats: Mapping[str, object]) -> str:
    """" (4.6× the ideal roofline)" for a summary line after the cycles, or "" when
    the stats have no ideal figures (a binary without META "model")."""
    ratio = stats.get("ideal_roofline_cycles") and stats.get("ideal_ratio")
    return f" ({ratio:.1f}× the ideal roofline)" if isinstance(ratio, float) else ""


def import_model(
    model: str | onnx.ModelProto,
    overrides: Mapping[str, np.ndarray] | None = None,
    dims: Mapping[str, int] | None = None,
) -> ModuleOp:
    """An ONNX model (a path or a loaded proto) as graph-level IR; ToolError (one
    line naming the node, tensor or file) for anything the importer refuses."""
    from tidal.targets.onnx_import import OnnxImportError, import_onnx

    try:
        return import_onnx(model, overrides=overrides, dims=dims)
    except OnnxImportError as e:
        raise ToolError(str(e)) from None


def numerics_checker(module: ModuleOp, inputs_path: str | None) -> NumericsChecker:
    """A `NumericsChecker` (a pass-driver callback) started on `module`, with the
    inputs of the .npz at `inputs_path` or seeded random ones; ToolError naming the
    file for inputs that do not fit the module."""
    from tidal.passes.interpreters.numerics import NumericsChecker, random_inputs
    from tidal.sim.errors import InputError

    checker = NumericsChecker(open_npz(inputs_path) if inputs_path else random_inputs(module))
    try:
        checker.start(module)
    except InputError as e:
        raise ToolError(f"{inputs_path}: {e}") from None
    return checker


def _located(message: str) -> str:
    """xDSL parse errors span several lines (location, source line, caret line,
    message, then sometimes more source context): fold them into one line that
    starts with file:line:col and carries the message under the first caret."""
    lines = [ln for ln in message.splitlines() if ln.strip()]
    if len(lines) < 2 or ":" not in lines[0]:
        return lines[0] if lines else message
    carets = [i for i, ln in enumerate(lines) if set(ln.strip()) == {"^"}]
    text = lines[carets[0] + 1] if carets and carets[0] + 1 < len(lines) else lines[-1]
    return f"{lines[0]}: {text.strip()}"




def add_disable_opt(parser: argparse.ArgumentParser) -> None:
    """`--disable-opt NAME[,NAME]` (repeatable; `all`): switch off optimisations of
    the lowering pipeline (`tidal.passes.pipeline.OPTIMIZATIONS`)."""
    from tidal.passes.pipeline import OPTIMIZATIONS

    parser.add_argument(
        "--disable-opt",
        action="append",
        default=[],
        metavar="NAME[,NAME]",
        help="switch off an optimisation (" + ", ".join(OPTIMIZATIONS) + ", or all)",
    )


def check_chip_option(name: str | None) -> None:
    """ToolError "--chip: unknown chip preset 'x' (known: ...)" unless `name` (the
    tool's `--chip`, None when not given) names a preset: checked before the tool
    reads anything, and named after the option that gave it."""
    from tidal.sim.config import UnknownChipError, get_chip

    if name is None:
        return
    try:
        get_chip(name)
    except UnknownChipError as e:
        raise ToolError(f"--chip: {e}") from None


def _dim(text: str) -> tuple[str, int]:
    from tidal.targets.onnx_import import MAX_DIM  # (imports onnx: only with --dim)

    name, eq, size = text.partition("=")
    if not eq or not name or not size.isdigit() or not 1 <= int(size) <= MAX_DIM:
        raise argparse.ArgumentTypeError(
            f"'{text}': expected NAME=SIZE, SIZE a whole number from 1 to {MAX_DIM} "
            "(--dim N=1)"
        )
    return name, int(size)


def add_dim_option(parser: argparse.ArgumentParser, fed: bool = False) -> None:
    """`--dim NAME=SIZE` (repeatable): the size of an ONNX model's named dynamic
    dimension (a batch "N", a "sequence_length"), which the compiled program fixes.
    `fed`: the tool also takes the sizes from the inputs it is given."""
    extra = "; default: the size the --inputs arrays have there" if fed else ""
    parser.add_argument(
        "--dim", action="append", default=[], type=_dim, metavar="NAME=SIZE",
        help=f"size of the model's dynamic dimension NAME (repeatable{extra})",
    )


def dims_of(args: argparse.Namespace) -> dict[str, int]:
    """The `--dim` sizes by name; one name given twice with two sizes is refused."""
    out: dict[str, int] = {}
    for name, size in args.dim:
        if out.get(name, size) != size:
            raise ToolError(f"--dim {name} given twice: {out[name]} and {size}")
        out[name] = size
    return out


def _blas_threads(text: str) -> int:
    from tidal.sim.machine import BLAS_THREADS_MAX

    if not text.isdigit() or not 1 <= int(text) <= BLAS_THREADS_MAX:
        raise argparse.ArgumentTypeError(
            f"'{text}': expected a whole number from 1 to {BLAS_THREADS_MAX}"
        )
    return int(text)


def add_blas_threads(parser: argparse.ArgumentParser) -> None:
    """`--blas-threads N`: threads NumPy's BLAS may use while the hardware model
    runs (the tools' default, None, is one: `Machine.run`)."""
    parser.add_argument(
        "--blas-threads", type=_blas_threads, metavar="N",
        help="threads NumPy's BLAS may use while the hardware model runs (default 1)",
    )


def add_verify_each(parser: argparse.ArgumentParser) -> None:
    """`--verify-each`: verify the module after every pass of the lowering pipeline
    (a failure names the pass), not only once after the last (the default)."""
    parser.add_argument(
        "--verify-each",
        action="store_true",
        help="verify the IR after every pass, naming the pass that broke it "
        "(default: once, after the last pass)",
    )


def disabled_opts(values: list[str]) -> frozenset[str]:
    """The names given to `--disable-opt`, checked; ToolError names an unknown one."""
    from tidal.passes.pipeline import UnknownOptimization, check_optimizations

    names = [n.strip() for v in values for n in v.split(",") if n.strip()]
    try:
        return check_optimizations(names)
    except UnknownOptimization as e:
        raise ToolError(f"--disable-opt: {e}") from None

"""Workarounds for xDSL 0.74 problems that fuzzing the IR parser found, applied when
Tidal's tools (and the universe xdsl-opt loads) are imported. Each keeps the
language xDSL accepts unchanged; test/unit/fuzz/test_ir_fuzz.py holds the inputs.

- The lexer's string-literal regex nests a `+` inside a `*`, so an unterminated
  string literal backtracks exponentially (30 characters: seconds; 60: forever).
  The same language with possessive quantifiers (Python 3.11) matches in linear
  time and without backtracking state: one character per `*` iteration, as this
  fix had it before, held about 115 bytes of the regex engine's stack per
  character (a 64 MB hex dense literal: 7.4 GB to lex).
- An integer dense array in an op's declarative format (`loop.nest ... domain
  [99999999999999999999]`) is packed without a range check, so an element that does
  not fit the element type is a `struct.error` traceback; it becomes a parse error
  at the array.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable

from xdsl.ir import Attribute
from xdsl.irdl.declarative_assembly_format import DenseArrayAttributeVariable
from xdsl.parser import Parser
from xdsl.utils.mlir_lexer import MLIRLexer

STRING_LITERAL = re.compile(r'"(?:[^"\\\n\v\f]++|\\(?:["nt\\]|[0-9A-Fa-f]{2}))*+"')


def _checked_dense_array(
    parse_attr: Callable[[DenseArrayAttributeVariable, Parser], Attribute | None],
) -> Callable[[DenseArrayAttributeVariable, Parser], Attribute | None]:
    def parse(self: DenseArrayAttributeVariable, parser: Parser) -> Attribute | None:
        start = parser.pos
        try:
            return parse_attr(self, parser)
        except struct.error:
            parser.raise_error(
                f"an element of the array does not fit {self.elt_type}", start, parser.pos
            )

    return parse


def apply() -> None:
    MLIRLexer._unescaped_characters_regex = STRING_LITERAL  # pyright: ignore[reportPrivateUsage]
    if not getattr(DenseArrayAttributeVariable.parse_attr, "_tidal_checked", False):
        checked = _checked_dense_array(DenseArrayAttributeVariable.parse_attr)
        checked._tidal_checked = True  # type: ignore[attr-defined]
        DenseArrayAttributeVariable.parse_attr = checked  # type: ignore[method-assign]


apply()

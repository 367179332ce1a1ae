"""Workarounds for xDSL 0.74 problems that fuzzing the IR parser found, applied when
Tidal's tools (and the universe xdsl-opt loads) are imported. Each keeps the
language xDSL accepts unchanged; test/unit/fuzz/test_ir_fuzz.py holds the inputs.

- The lexer's string-literal regex nests a `+` inside a `*`, so an unterminated
  string literal backtracks exponentially (30 characters: seconds; 60: forever).
  The same language without the nested quantifier matches in linear time.
"""

from __future__ import annotations

import re

from xdsl.utils.mlir_lexer import MLIRLexer

STRING_LITERAL = re.compile(r'"(?:[^"\\\n\v\f]|\\(?:["nt\\]|[0-9A-Fa-f]{2}))*"')


def apply() -> None:
    MLIRLexer._unescaped_characters_regex = STRING_LITERAL  # pyright: ignore[reportPrivateUsage]


apply()

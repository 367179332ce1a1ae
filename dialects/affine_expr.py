"""`Aff`: the affine address expressions of the accel dialect, and their text form.

An `Aff` is `base + sum(steps[k] * i_k)` over the indices of the `accel.repeat` ops
that enclose an instruction (`i0` is the outermost). It is plain Python data so the
binary encoder can expand repeats from it with NumPy; `parse_aff`/`format_aff` give the
text form used inside `#accel.ap<...>` and by `accel.wait`::

    3
    3 + 2 * i0
    1024 + 512 * i0 + -8 * i2
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from xdsl.parser import AttrParser
from xdsl.utils.mlir_lexer import MLIRTokenKind


@dataclass(frozen=True)
class Aff:
    """`base + sum(steps[k] * i_k)`; trailing zero steps are dropped, so equal
    expressions compare (and hash) equal."""

    base: int
    steps: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        steps = tuple(int(s) for s in self.steps)
        while steps and steps[-1] == 0:
            steps = steps[:-1]
        object.__setattr__(self, "base", int(self.base))
        object.__setattr__(self, "steps", steps)

    @staticmethod
    def of(x: int | Aff) -> Aff:
        return x if isinstance(x, Aff) else Aff(x)

    @property
    def is_const(self) -> bool:
        return not self.steps

    @property
    def depth(self) -> int:
        """How many enclosing repeat indices the expression uses (max index + 1)."""
        return len(self.steps)

    def step(self, k: int) -> int:
        return self.steps[k] if k < len(self.steps) else 0

    def __add__(self, other: int | Aff) -> Aff:
        other = Aff.of(other)
        n = max(len(self.steps), len(other.steps))
        steps = tuple(self.step(k) + other.step(k) for k in range(n))
        return Aff(self.base + other.base, steps)

    __radd__ = __add__

    def scaled(self, k: int) -> Aff:
        return Aff(self.base * k, tuple(s * k for s in self.steps))

    def at(self, indices: Sequence[int]) -> int:
        """The value at repeat indices `indices` (missing trailing indices are 0)."""
        if len(indices) < len(self.steps):
            indices = list(indices) + [0] * (len(self.steps) - len(indices))
        return self.base + sum(s * i for s, i in zip(self.steps, indices))

    def bounds(self, trips: Sequence[int]) -> tuple[int, int]:
        """Smallest and largest value over indices 0 <= i_k < trips[k]."""
        lo = hi = self.base
        for step, trip in zip(self.steps, trips):
            span = step * (trip - 1)
            lo, hi = lo + min(0, span), hi + max(0, span)
        return lo, hi

    def __str__(self) -> str:
        return format_aff(self)


def format_aff(aff: Aff) -> str:
    terms = [str(aff.base)]
    terms += [f"{s} * i{k}" for k, s in enumerate(aff.steps) if s != 0]
    return " + ".join(terms)


def _parse_term(parser: AttrParser) -> tuple[int, int | None]:
    """`c`, `c * iK` or `iK`: (coefficient, index or None for a constant)."""
    if (ident := parser.parse_optional_identifier()) is not None:
        return 1, _index_of(parser, ident)
    value = parser.parse_integer(allow_boolean=False)
    if parser._parse_optional_token(MLIRTokenKind.STAR) is None:  # pyright: ignore[reportPrivateUsage]
        return value, None
    ident = parser.parse_identifier(" (a repeat index i0, i1, ...)")
    return value, _index_of(parser, ident)


# Highest repeat index the parser takes: far deeper than any loop or repeat nest, and
# it bounds the step list `parse_aff` builds (an index is a list position).
MAX_INDEX = 63


def _index_of(parser: AttrParser, ident: str) -> int:
    if ident[:1] != "i" or not ident[1:].isdigit():
        parser.raise_error(f"expected a repeat index i0, i1, ..., got '{ident}'")
    if len(ident) > 4 or int(ident[1:]) > MAX_INDEX:
        parser.raise_error(f"repeat index '{ident}' is past i{MAX_INDEX}")
    return int(ident[1:])


def parse_aff(parser: AttrParser) -> Aff:
    """term (`+` term)*, each term `c`, `c * iK` or `iK`; terms may repeat."""
    base = 0
    steps: list[int] = []
    while True:
        coeff, index = _parse_term(parser)
        if index is None:
            base += coeff
        else:
            steps += [0] * (index + 1 - len(steps))
            steps[index] += coeff
        if parser._parse_optional_token(MLIRTokenKind.PLUS) is None:  # pyright: ignore[reportPrivateUsage]
            return Aff(base, tuple(steps))

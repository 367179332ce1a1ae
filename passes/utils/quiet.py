"""Errors without the module attached.

xDSL attaches the whole top-level module, printed in generic form, to every error
raised by a verifier or inside a rewrite pattern. With hundreds of megabytes of
weights (VGG-19 has 548 MB) that print takes minutes and gigabytes, only to be cut
to one line by the tools. Inside `quiet_diagnostics()` such errors are raised with
their own message only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

from xdsl.ir import IRNode
from xdsl.utils.diagnostic import Diagnostic


def _raise_only(self: Diagnostic, ir: IRNode, underlying_error: Exception) -> NoReturn:
    raise underlying_error


@contextmanager
def quiet_diagnostics() -> Iterator[None]:
    original = Diagnostic.raise_exception
    Diagnostic.raise_exception = _raise_only  # type: ignore[method-assign]
    try:
        yield
    finally:
        Diagnostic.raise_exception = original  # type: ignore[method-assign]

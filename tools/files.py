"""File plumbing of the command-line tools: one-line errors, reading .npz inputs,
writing outputs whole or not at all. Pure Python and NumPy (no xDSL), so that
tidal-sim runs a binary without the compiler."""

from __future__ import annotations

import io
import os
import sys
import tempfile
import zipfile
from typing import NoReturn

import numpy as np


class ToolError(Exception):
    """An error to report as one line, without a traceback."""


def fail(tool: str, message: str) -> NoReturn:
    first = message.strip().splitlines()[0] if message.strip() else "unknown error"
    print(f"{tool}: error: {first}", file=sys.stderr)
    raise SystemExit(1)


def read_npz(path: str) -> dict[str, np.ndarray]:
    """The arrays of an .npz archive; ToolError (one line) for anything else."""
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ToolError(f"inputs file '{path}' holds one array, not an .npz archive")
        with loaded as npz:
            return {name: npz[name] for name in npz.files}
    except OSError as err:
        raise ToolError(f"cannot read inputs '{path}': {err.strerror or err}") from None
    except (ValueError, EOFError, zipfile.BadZipFile) as err:
        raise ToolError(f"cannot read inputs '{path}': {err}") from None


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]
    return buf.getvalue()


def write_files(payloads: list[tuple[str, bytes]]) -> None:
    """Write every file or none: each goes to a temporary file beside its target
    (with the mode the umask gives a new file), and only when all are written are
    they renamed into place. ToolError (one line) if any cannot be written."""
    umask = os.umask(0)
    os.umask(umask)
    staged: list[tuple[str, str]] = []
    path = ""
    try:
        for path, data in payloads:
            directory = os.path.dirname(os.path.abspath(path))
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tidal-", suffix=".tmp")
            staged.append((tmp, path))
            os.fchmod(fd, 0o666 & ~umask)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        for tmp, path in staged:
            os.replace(tmp, path)
    except OSError as err:
        raise ToolError(f"cannot write '{path}': {err.strerror or err}") from None
    finally:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)

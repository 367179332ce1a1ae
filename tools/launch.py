"""The console scripts' entry points. Each imports its tool inside a handler for
Ctrl-C, so that an interrupt during the imports (about half a second: xDSL, onnx,
NumPy) ends the program as one later does, with `<tool>: interrupted` and status
130, not with a KeyboardInterrupt traceback through whatever module was loading.
Nothing heavy is imported here.
"""

from __future__ import annotations

import importlib
import signal
import sys


def _launch(tool: str, module: str) -> None:
    try:
        main = importlib.import_module(module).main
    except KeyboardInterrupt:
        print(f"{tool}: interrupted", file=sys.stderr)
        raise SystemExit(128 + signal.SIGINT) from None
    sys.exit(main())


def tidal_opt() -> None:
    _launch("tidal-opt", "tidal.tools.tidal_opt")


def tidal_compile() -> None:
    _launch("tidal-compile", "tidal.tools.tidal_compile")


def tidal_sim() -> None:
    _launch("tidal-sim", "tidal.tools.tidal_sim")


def tidal_objdump() -> None:
    _launch("tidal-objdump", "tidal.tools.tidal_objdump")


def tidal_run() -> None:
    _launch("tidal-run", "tidal.tools.tidal_run")


def tidal_import() -> None:
    _launch("tidal-import", "tidal.tools.tidal_import")


def tidal_cache() -> None:
    _launch("tidal-cache", "tidal.tools.tidal_cache")

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
from collections.abc import Callable


def _launch(tool: str, module: str) -> None:
    try:
        main = importlib.import_module(module).main
    except KeyboardInterrupt:
        print(f"{tool}: interrupted", file=sys.stderr)
        raise SystemExit(128 + signal.SIGINT) from None
    sys.exit(main())


def _entry(tool: str) -> Callable[[], None]:
    """The entry point of `tool` (tidal-opt: tidal.tools.tidal_opt's main)."""

    def start() -> None:
        _launch(tool, f"tidal.tools.{tool.replace('-', '_')}")

    start.__name__ = tool.replace("-", "_")
    return start


tidal_opt = _entry("tidal-opt")
tidal_compile = _entry("tidal-compile")
tidal_sim = _entry("tidal-sim")
tidal_objdump = _entry("tidal-objdump")
tidal_run = _entry("tidal-run")
tidal_import = _entry("tidal-import")
tidal_cache = _entry("tidal-cache")

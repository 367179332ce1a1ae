"""The console scripts start through `tidal.tools.launch`, which imports each tool
only inside a handler for Ctrl-C: interrupted while NumPy, onnx and xDSL load (about
half a second), a tool said `interrupted` and exited 130 only once its main had
started, and printed a KeyboardInterrupt traceback through whatever module was
loading before that."""

from __future__ import annotations

import importlib
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from tidal.tools import launch

ROOT = Path(__file__).resolve().parents[3]
SCRIPTS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]


def test_every_console_script_starts_through_the_launcher():
    assert sorted(SCRIPTS) == sorted(
        f"tidal-{m.name.removeprefix('tidal_').removesuffix('.py')}" for m in (ROOT / "tools").glob("tidal_*.py")
    )
    for script, target in SCRIPTS.items():
        module, function = target.split(":")
        assert module == "tidal.tools.launch", script
        assert function == script.replace("-", "_")
        assert callable(getattr(launch, function))


def test_the_launcher_imports_nothing_heavy():
    code = "import sys, tidal.tools.launch; print(sorted(m for m in ('numpy', 'onnx', 'xdsl') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_ctrl_c_while_a_tool_imports_is_one_line_and_status_130(monkeypatch, capsys):
    def interrupted(name: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(importlib, "import_module", interrupted)
    with pytest.raises(SystemExit) as exit_:
        launch.tidal_compile()
    assert exit_.value.code == 130
    assert capsys.readouterr().err == "tidal-compile: interrupted\n"


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_each_launcher_runs_its_tool(script):
    function = SCRIPTS[script].split(":")[1]
    code = f"import sys; sys.argv = [{script!r}, '--help']; from tidal.tools.launch import {function}; {function}()"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: {script}"), result.stdout[:200]

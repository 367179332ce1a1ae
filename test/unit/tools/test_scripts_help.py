"""Every script under examples/ and bench/ (a .py file with a `__main__` block) takes
its arguments with argparse: `--help` prints a usage and exits 0, and creates
nothing, neither in the directory it runs in nor in the checkout
(`examples/models.py --help` used to create a directory named `--help`, and
`examples/demo.py --help` ran the whole demo).

The scripts run as `python SCRIPT --help` would run them (`runpy` with `__main__`,
`sys.argv` and `sys.path[0]` set as the interpreter sets them), one after the other in
one subprocess, so that onnx and xDSL are imported once instead of once per script.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SCRIPTS = sorted(
    path.relative_to(ROOT).as_posix()
    for folder in ("examples", "bench")
    for path in (ROOT / folder).glob("*.py")
    if 'if __name__ == "__main__":' in path.read_text(encoding="utf-8")
)
# Where a script could write by itself: the checkout, less what tools and tests
# write there anyway (caches, the virtualenv, lit's outputs).
NOT_WATCHED = {".git", ".venv", "__pycache__", ".pytest_cache", ".hypothesis", "Output"}

HARNESS = r"""
import contextlib, io, json, os, runpy, sys
results = {}
for script, cwd in zip(sys.argv[1::2], sys.argv[2::2]):
    os.chdir(cwd)
    sys.argv = [script, "--help"]
    sys.path.insert(0, os.path.dirname(script))
    out, err = io.StringIO(), io.StringIO()
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            runpy.run_path(script, run_name="__main__")
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException as e:
        code, err = 1, io.StringIO(f"{type(e).__name__}: {e}")
    finally:
        sys.path.remove(os.path.dirname(script))
    results[script] = [code, out.getvalue()[:200], err.getvalue()[-400:]]
print(json.dumps(results))
"""


def checkout_files() -> set[str]:
    found: set[str] = set()
    for directory, subdirs, files in os.walk(ROOT):
        subdirs[:] = [d for d in subdirs if d not in NOT_WATCHED]
        rel = Path(directory).relative_to(ROOT)
        found.update((rel / name).as_posix() for name in [*files, *subdirs])
    return found


def test_the_scripts_are_found():
    assert {"examples/models.py", "examples/demo.py", "bench/difftest.py"} <= set(SCRIPTS)


def test_help_prints_usage_and_creates_nothing(tmp_path: Path):
    cwds = {script: tmp_path / script.replace("/", "-") for script in SCRIPTS}
    for cwd in cwds.values():
        cwd.mkdir()
    before = checkout_files()
    args = [a for s in SCRIPTS for a in (str(ROOT / s), str(cwds[s]))]
    run = subprocess.run(
        [sys.executable, "-c", HARNESS, *args], capture_output=True, text=True,
        timeout=600, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert run.returncode == 0, run.stderr[-2000:]
    results = json.loads(run.stdout.splitlines()[-1])
    bad = []
    for script in SCRIPTS:
        code, out, err = results[str(ROOT / script)]
        if code != 0 or not out.startswith("usage: "):
            bad.append(f"{script}: exit {code}, stdout {out[:60]!r}, stderr {err[-200:]!r}")
        if created := sorted(p.name for p in cwds[script].iterdir()):
            bad.append(f"{script}: created {created} in its working directory")
    created = checkout_files() - before
    assert not bad and not created, "\n".join([*bad, f"created in the checkout: {sorted(created)}"])

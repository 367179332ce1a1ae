"""docs/extending.md's worked examples run as written, so that the guide cannot drift
from the code it teaches.

The rule (stated in the guide too): the blocks of docs/extending.md are taken in
order, in a temporary copy of the checkout,

- a block whose info string holds `file=PATH` (```python file=passes/x.py) is the
  whole text of PATH, written there;
- a ```diff block is applied with `git apply` (all its hunks or none);
- a ```sh block runs with `bash -euo pipefail` from the top of the copy, the
  virtualenv's bin first on PATH and the copy's packages first on PYTHONPATH (so the
  tools, lit and the `xdsl.universe` entry point see the patched Tidal);
- a ```sh block just after `<!-- doc-test: pip-install DIR ... -->` is not run: the
  package in DIR is installed the way pip would make it visible, a
  `NAME-VERSION.dist-info` with its METADATA and entry_points.txt (read from DIR's
  pyproject.toml) on PYTHONPATH beside DIR itself, so no wheel is built and the
  virtualenv is not touched;
- any other block (```text output) is prose; a python, toml, mlir or diff block that
  cannot be run by these rules fails the test.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from doc_blocks import ROOT, copy_checkout, fenced_blocks

DOC = ROOT / "docs" / "extending.md"
PACKAGES = ("dialects", "passes", "targets", "sim", "tools")  # tidal.<folder>
INSTALL_MARKER = re.compile(r"<!--\s*doc-test:\s*pip-install\s+(\S+).*-->")


@dataclass
class Block:
    line: int  # 1-based line of the opening fence
    lang: str
    file: str | None
    text: str
    install: str | None  # DIR of a pip-install marker just before the block


def blocks(markdown: str) -> list[Block]:
    found: list[Block] = []
    for f in fenced_blocks(markdown):
        file = re.search(r"\bfile=(\S+)", f.info)
        marker = INSTALL_MARKER.fullmatch(f.before)
        found.append(Block(
            f.line, f.lang, file.group(1) if file else None, f.text + "\n",
            marker.group(1) if marker else None,
        ))
    return found


def install_like_pip(package: Path, site: Path) -> None:
    """What `pip install -e package` makes visible to importlib.metadata: a dist-info
    with the project's name, version and entry points (the package directory itself
    goes on PYTHONPATH, as an editable install puts it on sys.path)."""
    project = tomllib.loads((package / "pyproject.toml").read_text())["project"]
    name, version = project["name"], project["version"]
    info = site / f"{re.sub(r'[-_.]+', '_', name)}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    )
    groups = project.get("entry-points", {})
    (info / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in points.items()) + "\n"
        for group, points in groups.items()
    ))


def test_blocks_are_found_and_every_one_is_runnable():
    found = blocks(DOC.read_text(encoding="utf-8"))
    kinds = {(b.lang, b.file is not None) for b in found}
    assert {("python", True), ("diff", False), ("sh", False), ("mlir", True)} <= kinds
    for b in found:
        runnable = b.file is not None or b.lang in ("diff", "sh")
        assert runnable or b.lang in ("text", ""), (
            f"docs/extending.md:{b.line}: a ```{b.lang} block without file= is not run"
        )
    assert sum(b.install is not None for b in found) == 1


def test_worked_examples_run(tmp_path: Path):
    repo, src, site = tmp_path / "tidal", tmp_path / "src", tmp_path / "site"
    copy_checkout(repo)
    (src / "tidal").mkdir(parents=True)  # tidal.<folder> from the copy, ahead of the checkout
    for folder in PACKAGES:
        (src / "tidal" / folder).symlink_to(repo / folder, target_is_directory=True)
    pythonpath = [str(src)]
    environ = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), environ.get("PATH", "")])
    environ["PYTHONDONTWRITEBYTECODE"] = "1"

    for b in blocks(DOC.read_text(encoding="utf-8")):
        where = f"docs/extending.md:{b.line}"
        if b.file is not None:
            path = repo / b.file
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(b.text, encoding="utf-8")
        elif b.lang == "diff":
            run = subprocess.run(
                ["git", "apply", "--recount", "-C1", "-"], cwd=repo, input=b.text,
                capture_output=True, text=True, check=False,
            )
            assert run.returncode == 0, (
                f"{where}: the diff no longer applies (the code it patches moved):\n{run.stderr}"
            )
        elif b.lang == "sh" and b.install is not None:
            install_like_pip(repo / b.install, site)
            pythonpath += [str(repo / b.install), str(site)]
        elif b.lang == "sh":
            environ["PYTHONPATH"] = os.pathsep.join(pythonpath)
            run = subprocess.run(
                ["bash", "-c", "set -euo pipefail\n" + b.text], cwd=repo, env=environ,
                capture_output=True, text=True, timeout=900, check=False,
            )
            if run.returncode != 0:
                pytest.fail(f"{where}: exit {run.returncode}\n{run.stdout[-2000:]}\n{run.stderr[-3000:]}")

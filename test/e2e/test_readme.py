"""The README's commands run as written, so that they cannot drift from the tools.

The rule: every shell block of README.md (a fence opened with ```sh, ```bash or
```shell) runs, in the README's order, as one bash script (`set -euo pipefail`, so
any non-zero exit fails the test) in a temporary copy of the checkout whose `.venv` is
a link to the virtualenv running the tests, with that virtualenv's bin first on PATH.
The copy keeps the checkout clean of the files the commands write.

A block is skipped only when the line just before its fence is a marker comment
`<!-- test_readme: skip ... -->`, and only if every command in it is a `make` target:
the set-up block (`make demo`, `make check`, `make test`), which is what this test
runs inside of.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from doc_blocks import ROOT, copy_checkout, fenced_blocks, git

SHELLS = ("sh", "bash", "shell")
SKIP_MARKER = re.compile(r"<!--\s*test_readme:\s*skip\b.*-->")


@dataclass
class Block:
    line: int  # 1-based line of the opening fence
    text: str
    skipped: bool


def shell_blocks(markdown: str) -> list[Block]:
    """The shell blocks of a Markdown text, in order."""
    return [
        Block(f.line, f.text, bool(SKIP_MARKER.fullmatch(f.before)))
        for f in fenced_blocks(markdown)
        if f.lang in SHELLS
    ]


def commands(block: Block) -> list[str]:
    return [
        ln.split("#", 1)[0].strip()
        for ln in block.text.splitlines()
        if ln.split("#", 1)[0].strip()
    ]


def files_under(top: Path) -> set[str]:
    found: set[str] = set()
    for directory, subdirs, files in os.walk(top):
        subdirs[:] = [d for d in subdirs if d != ".venv"]
        rel = Path(directory).relative_to(top)
        found.update((rel / name).as_posix() for name in files)
    return found


def test_shell_blocks_are_found_and_skips_follow_the_rule():
    """The extraction on a small text (so the rule itself is tested), and the README
    has blocks to run."""
    text = (
        "<!-- test_readme: skip (set-up) -->\n```sh\nmake demo   # x\n```\n"
        "```python\nprint(1)\n```\n```sh\necho a  # run\n\necho b\n```\n"
    )
    blocks = shell_blocks(text)
    assert [(b.line, b.skipped) for b in blocks] == [(2, True), (8, False)]
    assert commands(blocks[1]) == ["echo a", "echo b"]
    readme = shell_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    assert [b for b in readme if not b.skipped and commands(b)], "README has no command to run"


def test_skipped_blocks_hold_only_make_targets():
    for block in shell_blocks((ROOT / "README.md").read_text(encoding="utf-8")):
        if block.skipped:
            bad = [c for c in commands(block) if not re.fullmatch(r"make( [\w=.-]+)*", c)]
            assert not bad, f"README.md:{block.line}: a skipped block runs {bad}"


def test_readme_commands_run_as_written(tmp_path: Path):
    venv = Path(sys.prefix)
    if not (venv / "bin" / "activate").exists():
        pytest.skip(f"not run from a virtualenv ({sys.prefix} has no bin/activate)")
    work = tmp_path / "tidal"
    copy_checkout(work)
    copied = files_under(work)
    (work / ".venv").symlink_to(venv, target_is_directory=True)
    script = [
        "set -euo pipefail",
        """trap 'echo "README command failed (exit $?): $BASH_COMMAND" >&2' ERR""",
    ]
    for block in shell_blocks((work / "README.md").read_text(encoding="utf-8")):
        if not block.skipped:
            script += [f"echo '== README.md block at line {block.line}' >&2", block.text]
    environ = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    environ["PATH"] = os.pathsep.join([str(venv / "bin"), environ.get("PATH", "")])
    environ["MPLBACKEND"] = "Agg"
    run = subprocess.run(
        ["bash", "-c", "\n".join(script)], cwd=work, env=environ,
        capture_output=True, text=True, timeout=1800, check=False,
    )
    if run.returncode != 0:
        tail = "\n".join(run.stderr.splitlines()[-20:])
        pytest.fail(f"a README command failed (exit {run.returncode}):\n{tail}")

    # What the commands wrote is ignored by git (.gitignore), so that following the
    # README leaves `git status` clean.
    created = sorted(files_under(work) - copied)
    assert created, "the README's commands wrote no file"
    ignored = git("check-ignore", "--no-index", "--stdin", stdin="\n".join(created))
    if ignored is not None:
        shown = sorted(set(created) - set(ignored.stdout.splitlines()))
        assert not shown, f"README commands leave files git does not ignore: {shown}"


def test_gitignore_hides_no_tracked_file():
    tracked_but_ignored = git("ls-files", "--cached", "--ignored", "--exclude-standard")
    if tracked_but_ignored is None:
        pytest.skip("not a git checkout")
    assert tracked_but_ignored.stdout.split() == []

"""What the tests that run documentation share (test_readme.py,
test_docs_extending.py): the fenced blocks of a Markdown text, and a copy of the
checkout to run them in, so that the checkout stays clean."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Never copied: version control, the virtualenv, caches and build outputs.
NOT_COPIED = {".git", ".venv", "__pycache__", ".pytest_cache", ".hypothesis", "Output", "build"}


@dataclass
class Fence:
    """One fenced block: ```LANG INFO ... ```."""

    line: int  # 1-based line of the opening fence
    lang: str
    info: str  # the rest of the opening line
    text: str  # the lines inside, joined, without a final newline
    before: str  # the line just above the fence, stripped ("" for the first line)


def fenced_blocks(markdown: str) -> list[Fence]:
    """Every fenced block of a Markdown text, in order."""
    found: list[Fence] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        fence = re.fullmatch(r"\s*```(\w*)\s*(.*)", lines[i])
        if not fence:
            i += 1
            continue
        end = i + 1
        while end < len(lines) and not re.fullmatch(r"\s*```\s*", lines[end]):
            end += 1
        found.append(Fence(
            i + 1, fence.group(1), fence.group(2), "\n".join(lines[i + 1 : end]),
            lines[i - 1].strip() if i > 0 else "",
        ))
        i = end + 1
    return found


def git(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str] | None:
    """git in the checkout, or None outside a git checkout or without git."""
    if not (ROOT / ".git").exists() or not shutil.which("git"):
        return None
    return subprocess.run(
        ["git", "-C", str(ROOT), *args], input=stdin, capture_output=True, text=True,
        check=False,
    )


def copy_checkout(dest: Path) -> None:
    """The files a clone has (tracked, and new ones not ignored), or, outside a git
    checkout, everything but NOT_COPIED and *.egg-info."""
    listed = git("ls-files", "-z", "--cached", "--others", "--exclude-standard")
    if listed is None or listed.returncode != 0:
        shutil.copytree(
            ROOT, dest, symlinks=True,
            ignore=shutil.ignore_patterns(*NOT_COPIED, "*.egg-info"),
        )
        return
    for name in listed.stdout.split("\0"):
        source = ROOT / name
        if not name or not source.is_file() or NOT_COPIED & set(Path(name).parts):
            continue
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, dest / name)

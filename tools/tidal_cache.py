"""tidal-cache list|stats|verify|clear [--cache-dir DIR]: look into, check or empty
the cache of compiled accelerator segments that `tidal-compile --cache-dir` and
`tidal-run --cache-dir` fill (docs/cache.md). The directory defaults to
$TIDAL_CACHE_DIR, else $XDG_CACHE_HOME/tidal, else ~/.cache/tidal; one that does not
exist is an empty cache; an empty --cache-dir is refused. `list` and `stats` read
the entries' headers; `verify` also reads every binary and checks it as a hit does
(container checksum, SHA-256), naming each broken entry and exiting 1 if there is
one (a broken entry is a miss, replaced by the next store). `clear` removes the
cache's entries and nothing else in the directory."""

from __future__ import annotations

import argparse
import time

from tidal.tools.cache import Cache, CacheError, Entry, checked_cache_dir, default_dir
from tidal.tools.files import escaped, fail, tool_main

TOOL = "tidal-cache"


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


def _count(n: int) -> str:
    return f"{n} entry" if n == 1 else f"{n} entries"


def _when(created: float) -> str:
    """`created` (seconds since the epoch) as local time; "?" for a time the
    platform cannot show (the cache's header check keeps such times out)."""
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(created))
    except (ValueError, OverflowError, OSError):
        return "?"


def list_lines(entries: list[Entry]) -> list[str]:
    """One line per entry: key prefix, size, created, chip, compile seconds and the
    model it came from (or why the entry cannot be read), header text escaped."""
    lines: list[str] = []
    for e in entries:
        if e.error:
            why = escaped(e.error, backslash=True)
            lines.append(f"{e.key[:12]}  {_size(e.file_bytes):>9}  unreadable: {why}")
            continue
        lines.append(
            f"{e.key[:12]}  {_size(e.file_bytes):>9}  {_when(e.created)}  "
            f"{escaped(e.chip, backslash=True):<8}  {e.compile_seconds:6.2f} s  "
            f"{escaped(e.model, backslash=True) or '-'}"
        )
    return lines


@tool_main(TOOL)
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=TOOL, description=__doc__)
    parser.add_argument(
        "command", choices=("list", "stats", "verify", "clear"),
        help="list: one line per entry; stats: entries and bytes; verify: read every "
        "binary and name the broken entries; clear: remove the entries",
    )
    parser.add_argument("--cache-dir", metavar="DIR",
                        help=f"the cache directory (default: {default_dir()})")
    args = parser.parse_args(argv)
    try:
        cache = Cache(checked_cache_dir(args.cache_dir) or default_dir())
        if args.command == "clear":
            removed, freed = cache.clear()
            print(f"{TOOL}: removed {_count(removed)} ({_size(freed)}) from {cache.directory}")
            return
        entries = cache.entries(verify=args.command == "verify")
    except CacheError as e:
        fail(TOOL, str(e))
    if args.command == "verify":
        broken = [e for e in entries if e.error]
        for line in list_lines(broken):
            print(line)
        print(f"{cache.directory}: {_count(len(entries))} verified, {len(broken)} broken")
        if broken:
            raise SystemExit(1)
        return
    if args.command == "list":
        for line in list_lines(entries):
            print(line)
        return
    total = sum(e.file_bytes for e in entries)
    bad = sum(1 for e in entries if e.error)
    unreadable = f", {bad} unreadable" if bad else ""
    print(f"{cache.directory}: {_count(len(entries))}{unreadable}, {total} bytes ({_size(total)})")


if __name__ == "__main__":
    main()

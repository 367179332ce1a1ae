"""Self-refill end to end: the example a user runs (docs/self-refill.md)."""

from __future__ import annotations


def test_the_self_refill_example_runs() -> None:
    """examples/self_refill.py, as docs/self-refill.md tells a user to run it."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, str(root / "examples" / "self_refill.py")],
        capture_output=True, text=True, timeout=300, cwd=root,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "run 2: " in done.stdout and "host loaded 0 B" in done.stdout

"""Self-refill end to end: the example a user runs (docs/self-refill.md)."""

from __future__ import annotations

from harness import run_example


def test_the_self_refill_example_runs() -> None:
    """examples/self_refill.py, as docs/self-refill.md tells a user to run it."""
    out = run_example("self_refill")
    assert "run 2: " in out and "host loaded 0 B" in out

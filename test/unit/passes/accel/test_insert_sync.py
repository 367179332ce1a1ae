"""accel-insert-sync's per-iteration counts (`per_iteration`): the affine count that
covers what each iteration of a waiter's own repeat needs without passing what the
whole repeat waits for (the lit test accel-insert-sync-iteration.mlir shows the
waits in a program and accel-verify-sync proving them)."""

from tidal.passes.accel.insert_sync import _fit


def test_fit_is_exact_for_sources_in_iteration_order():
    assert _fit([1, 2, 3, 4], 4) == (1, 1)
    assert _fit([3, 5, 7], 7) == (3, 2)


def test_fit_covers_every_iteration_and_stays_under_the_whole_count():
    counts = [2, 2, 5, 6]  # not affine: the smallest step that covers all within 6
    base, step = _fit(counts, 6)
    assert step > 0 and all(base + step * i >= c for i, c in enumerate(counts))
    assert base + step * (len(counts) - 1) <= 6


def test_iterations_that_need_nothing_do_not_constrain_the_count():
    assert _fit([None, 2, 3, None], 4) == (1, 1)


def test_no_fit_keeps_the_whole_count():
    assert _fit([4, 3, 2, 1], 4) is None  # reversed order: no step above 0
    assert _fit([4, 4, 4], 4) is None  # every iteration needs everything
    assert _fit([1, 4], 3) is None  # the last would need more than the whole count
    assert _fit([None, None], 2) is None
    assert _fit([1], 1) is None  # one iteration: nothing to gain

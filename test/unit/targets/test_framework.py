"""targets/framework.py's address-space budget: while a framework segment runs,
onnxruntime (or anything else in the process) may take at most the budget more."""

import sys

import numpy as np
import pytest

from tidal.targets.framework import _address_space_budget


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc")
def test_the_budget_bounds_new_allocations_and_is_lifted_after():
    import resource

    before = resource.getrlimit(resource.RLIMIT_AS)
    with _address_space_budget(256 << 20):
        with pytest.raises(MemoryError):
            np.empty(2 << 30, np.uint8)  # virtual only: no page is touched
        small = np.empty(16 << 20, np.uint8)
        assert small.nbytes == 16 << 20
    assert resource.getrlimit(resource.RLIMIT_AS) == before
    big = np.empty(2 << 30, np.uint8)  # the limit is gone
    assert big.nbytes == 2 << 30

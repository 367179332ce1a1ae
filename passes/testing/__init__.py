"""Test-only passes (`test-...`): passes built to check the checkers, never part of a
pipeline. As MLIR builds its test passes into a separate library that only the test
build of mlir-opt links, these are not in the public registry: `tidal-opt --help` and
`xdsl-opt --help` list them only when the environment variable TIDAL_TEST_PASSES is 1
(the lit substitution `TIDAL_TEST_OPT` in test/filecheck/lit.cfg runs
tidal-opt with it).

`get_test_passes()` is their registry, shaped like `tidal.passes.get_all_passes()`.
"""

from collections.abc import Callable

from xdsl.passes import ModulePass


def get_test_passes() -> dict[str, Callable[[], type[ModulePass]]]:
    def test_break_numerics():
        from tidal.passes.testing.break_numerics import BreakNumericsForTestPass

        return BreakNumericsForTestPass

    def test_break_ir():
        from tidal.passes.testing.break_ir import BreakIRForTestPass

        return BreakIRForTestPass

    return {
        "test-break-numerics": test_break_numerics,
        "test-break-ir": test_break_ir,
    }

"""Tidal's passes. `get_all_passes()` is the one registry: pass name -> lazy factory."""

from collections.abc import Callable

from xdsl.passes import ModulePass


def get_all_passes() -> dict[str, Callable[[], type[ModulePass]]]:
    def graph_canonicalize():
        from tidal.passes.graph_canonicalize import GraphCanonicalizePass

        return GraphCanonicalizePass

    def graph_partition():
        from tidal.passes.graph_partition import GraphPartitionPass

        return GraphPartitionPass

    def graph_to_loop():
        from tidal.passes.graph_to_loop import GraphToLoopPass

        return GraphToLoopPass

    def loop_to_accel():
        from tidal.passes.loop_to_accel import LoopToAccelPass

        return LoopToAccelPass

    def accel_insert_sync():
        from tidal.passes.accel_insert_sync import AccelInsertSyncPass

        return AccelInsertSyncPass

    def accel_split_streams():
        from tidal.passes.accel_split_streams import AccelSplitStreamsPass

        return AccelSplitStreamsPass

    def tidal_lower():
        from tidal.passes.pipeline import TidalLowerPass

        return TidalLowerPass

    def test_break_numerics():
        from tidal.passes.test_break_numerics import BreakNumericsForTestPass

        return BreakNumericsForTestPass

    return {
        "graph-to-loop": graph_to_loop,
        "loop-to-accel": loop_to_accel,
        "accel-insert-sync": accel_insert_sync,
        "accel-split-streams": accel_split_streams,
        "tidal-lower": tidal_lower,
        "test-break-numerics": test_break_numerics,
        "graph-canonicalize": graph_canonicalize,
        "graph-partition": graph_partition,
    }

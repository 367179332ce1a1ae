"""Tidal's passes. `get_all_passes()` is the one registry: pass name -> lazy factory.

Test-only passes (`test-...`, in `tidal.passes.testing`) join it only when the
environment variable TIDAL_TEST_PASSES is 1, so that `tidal-opt --help` and
`xdsl-opt --help` do not offer a pass built to miscompile."""

import os
from collections.abc import Callable

from xdsl.passes import ModulePass

TEST_PASSES_VARIABLE = "TIDAL_TEST_PASSES"


def get_all_passes() -> dict[str, Callable[[], type[ModulePass]]]:
    def graph_canonicalize():
        from tidal.passes.graph.canonicalize import GraphCanonicalizePass

        return GraphCanonicalizePass

    def graph_fuse_epilogue():
        from tidal.passes.graph.fuse_epilogue import GraphFuseEpiloguePass

        return GraphFuseEpiloguePass

    def graph_fuse_affine():
        from tidal.passes.graph.fuse_affine import GraphFuseAffinePass

        return GraphFuseAffinePass

    def graph_fold_shuffle():
        from tidal.passes.graph.fold_shuffle import GraphFoldShufflePass

        return GraphFoldShufflePass

    def graph_dense_groups():
        from tidal.passes.graph.dense_groups import GraphDenseGroupsPass

        return GraphDenseGroupsPass

    def graph_pad_channels():
        from tidal.passes.graph.pad_channels import GraphPadChannelsPass

        return GraphPadChannelsPass

    def graph_split_cout():
        from tidal.passes.graph.split_cout import GraphSplitCoutPass

        return GraphSplitCoutPass

    def graph_merge_siblings():
        from tidal.passes.graph.merge_siblings import GraphMergeSiblingsPass

        return GraphMergeSiblingsPass

    def graph_fold_clip():
        from tidal.passes.graph.fold_clip import GraphFoldClipPass

        return GraphFoldClipPass

    def graph_sink_transposes():
        from tidal.passes.graph.sink_transposes import GraphSinkTransposesPass

        return GraphSinkTransposesPass

    def graph_fold_pad():
        from tidal.passes.graph.fold_pad import GraphFoldPadPass

        return GraphFoldPadPass

    def graph_swap_avgpool():
        from tidal.passes.graph.swap_avgpool import GraphSwapAvgPoolPass

        return GraphSwapAvgPoolPass

    def graph_partition():
        from tidal.passes.graph.partition import GraphPartitionPass

        return GraphPartitionPass

    def graph_to_loop():
        from tidal.passes.conversion.graph_to_loop import GraphToLoopPass

        return GraphToLoopPass

    def loop_to_accel():
        from tidal.passes.conversion.loop_to_accel import LoopToAccelPass

        return LoopToAccelPass

    def loop_allocate():
        from tidal.passes.loop.allocate import LoopAllocatePass

        return LoopAllocatePass

    def loop_const_layout():
        from tidal.passes.loop.const_layout import LoopConstLayoutPass

        return LoopConstLayoutPass

    def loop_hoist_loads():
        from tidal.passes.loop.hoist_loads import LoopHoistLoadsPass

        return LoopHoistLoadsPass

    def loop_double_buffer():
        from tidal.passes.loop.double_buffer import LoopDoubleBufferPass

        return LoopDoubleBufferPass

    def loop_schedule():
        from tidal.passes.loop.schedule import LoopSchedulePass

        return LoopSchedulePass

    def loop_keep_on_chip():
        from tidal.passes.loop.keep_on_chip import LoopKeepOnChipPass

        return LoopKeepOnChipPass

    def accel_assign_queues():
        from tidal.passes.accel.assign_queues import AccelAssignQueuesPass

        return AccelAssignQueuesPass

    def accel_insert_sync():
        from tidal.passes.accel.insert_sync import AccelInsertSyncPass

        return AccelInsertSyncPass

    def accel_hoist_waits():
        from tidal.passes.accel.hoist_waits import AccelHoistWaitsPass

        return AccelHoistWaitsPass

    def accel_prune_waits():
        from tidal.passes.accel.prune_waits import AccelPruneWaitsPass

        return AccelPruneWaitsPass

    def accel_fold_waits():
        from tidal.passes.accel.fold_waits import AccelFoldWaitsPass

        return AccelFoldWaitsPass

    def accel_schedule():
        from tidal.passes.accel.schedule import AccelSchedulePass

        return AccelSchedulePass

    def accel_split_streams():
        from tidal.passes.accel.split_streams import AccelSplitStreamsPass

        return AccelSplitStreamsPass

    def accel_verify_sync():
        from tidal.passes.accel.verify_sync import AccelVerifySyncPass

        return AccelVerifySyncPass

    def tidal_lower():
        from tidal.passes.pipeline import TidalLowerPass

        return TidalLowerPass

    passes = {
        "graph-to-loop": graph_to_loop,
        "loop-to-accel": loop_to_accel,
        "accel-insert-sync": accel_insert_sync,
        "accel-split-streams": accel_split_streams,
        "accel-verify-sync": accel_verify_sync,
        "tidal-lower": tidal_lower,
        "graph-canonicalize": graph_canonicalize,
        "graph-fold-clip": graph_fold_clip,
        "graph-fuse-epilogue": graph_fuse_epilogue,
        "graph-fuse-affine": graph_fuse_affine,
        "graph-fold-shuffle": graph_fold_shuffle,
        "graph-dense-groups": graph_dense_groups,
        "graph-pad-channels": graph_pad_channels,
        "graph-split-cout": graph_split_cout,
        "graph-merge-siblings": graph_merge_siblings,
        "graph-swap-avgpool": graph_swap_avgpool,
        "graph-sink-transposes": graph_sink_transposes,
        "graph-fold-pad": graph_fold_pad,
        "graph-partition": graph_partition,
        "loop-allocate": loop_allocate,
        "loop-schedule": loop_schedule,
        "loop-keep-on-chip": loop_keep_on_chip,
        "loop-hoist-loads": loop_hoist_loads,
        "loop-double-buffer": loop_double_buffer,
        "loop-const-layout": loop_const_layout,
        "accel-schedule": accel_schedule,
        "accel-assign-queues": accel_assign_queues,
        "accel-hoist-waits": accel_hoist_waits,
        "accel-prune-waits": accel_prune_waits,
        "accel-fold-waits": accel_fold_waits,
    }
    if os.environ.get(TEST_PASSES_VARIABLE) == "1":
        from tidal.passes.testing import get_test_passes

        passes.update(get_test_passes())
    return passes

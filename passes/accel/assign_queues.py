"""accel-assign-queues: choose the DMA queue of every accel.dma.

Expects an accel.program in unified order (as loop-to-accel emits it, every DMA on
queue 0), before accel-insert-sync: synchronisation waits for engines, and a DMA's
queue is its engine. Walking the program in order, a DMA that writes DRAM (a store)
goes on the chip's last queue, and every other DMA (loads, on-chip copies) on the
other queues in turn, so that loads overlap with each other and with stores; with
`balance`, on the one of them that has the fewest bytes so far, so that a few large
loads among many small ones (a stem's im2col) do not pile up on one queue. With
`weights` (and at least three queues), a load of constant data (its source inside an
`accel.const`: weights, biases; if the program has any) goes on queue 0 and the other
loads on the queues between: a queue runs its DMAs in order, so a weight load, which waits for nothing
but the reuse of its tile, is never stuck behind a load of activations that waits for
the layer producing them, and the next layer's weights stream in while this one
computes. With `pair` as well, in a program whose constant loads are at least twice
its other loads, more than SBUF holds, and whose stores are under a tenth of them
(`_weight_bound`: ResNet-50, VGG-19, AlexNet, ZFNet; not Inception or DenseNet,
whose weights are a smaller share and whose stores would queue behind weights, nor
a model whose weights fit on chip at once, whose loads never wait for a tile),
constant loads alternate between queue 0 and the stores'
queue, which is otherwise mostly idle: each queue runs its loads in order, so a load
that waits for its tile to be freed holds up every other weight load, not all of
them. A chip with one queue puts every DMA on it. Queues already chosen are chosen
again by the same rule, so running the pass twice changes nothing.

    accel.program "small" dram 5952 {          (the small chip has two queues)
      accel.dma 0 <dram 0, ...> -> <sbuf 0, 0, ...>
      accel.dma 0 <dram 512, ...> -> <sbuf 0, 64, ...>
      accel.dma 0 <sbuf 0, 128, ...> -> <dram 1024, ...>
  becomes
      accel.dma 0 <dram 0, ...> -> <sbuf 0, 0, ...>
      accel.dma 0 <dram 512, ...> -> <sbuf 0, 64, ...>
      accel.dma 1 <sbuf 0, 128, ...> -> <dram 1024, ...>
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, i64
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from tidal.dialects.accel import ConstOp, DmaOp, ProgramOp, RepeatOp
from tidal.passes.utils.expect import PassInputError, expect_level, expect_unsynchronised
from tidal.sim.config import UnknownChipError, get_chip


def queue_order(
    stores: list[bool],
    queues: int,
    weights: list[bool] | None = None,
    pair: bool = False,
    sizes: list[int] | None = None,
) -> list[int]:
    """The queue of each DMA in program order, given which ones are stores and
    (optionally) which ones load constants; with `pair`, constant loads alternate
    between queue 0 and the stores' queue. The other loads take their queues in
    turn, or, given each DMA's bytes (`sizes`), the one with the fewest bytes so
    far (the lowest such):
    `queue_order([False, False, True, False], 3)` is `[0, 1, 2, 0]`;
    `queue_order([False, False, True, False], 4, [True, False, False, False])` is
    `[0, 1, 3, 2]`;
    `queue_order([False, False, True, False], 4, [True, False, False, True], True)`
    is `[0, 1, 3, 3]`;
    `queue_order([False] * 4, 3, sizes=[8, 1, 1, 1])` is `[0, 1, 1, 1]` where in
    turn it is `[0, 1, 0, 1]`."""
    last = queues - 1
    # Queue 0 for constants, when there are some to load.
    own = weights is not None and any(weights) and queues >= 3
    out: list[int] = []
    loads = constants = 0
    moved = [0] * queues  # bytes of the other loads put on each queue
    for i, store in enumerate(stores):
        if store or last == 0:
            out.append(last)
        elif own and weights[i]:
            out.append(last if pair and constants % 2 else 0)
            constants += 1
        else:
            first = 1 if own else 0
            if sizes is None:
                queue = first + loads % (last - first)
            else:
                queue = min(range(first, last), key=lambda q: (moved[q], q))
                moved[queue] += sizes[i]
            out.append(queue)
            loads += 1
    return out


def _loads_constant(dma: DmaOp, consts: list[tuple[int, int]]) -> bool:
    """Does `dma` copy from a constant in DRAM to the chip?"""
    if dma.src.space != "dram" or dma.dst.space == "dram":
        return False
    base = dma.src.offset.base
    return any(lo <= base < hi for lo, hi in consts)


PAIR_STORE_SHARE = 0.1
"""With `pair`, constant loads share the stores' queue only when the program stores
less than this fraction of the bytes it loads from constants, loads at least
PAIR_WEIGHT_SHARE times as much from constants as from anything else, and its
constants do not fit SBUF together (`_weight_bound`)."""

PAIR_WEIGHT_SHARE = 5.0
"""See PAIR_STORE_SHARE. Measured on the default chip (bench/bench_dataflow.py):
ResNet-50 loads 8.4 times as many constant bytes as other bytes, AlexNet, ZFNet-512
and VGG-19 over 40 times, where pairing gains up to 4 % (ZFNet) or costs at most
1 % (VGG-19); DenseNet-121 4.3 times and Inception v2 2.1 times (since its average
pools read their input in place, avgpool-in-place, instead of copying it), where it
cost 2 % (DenseNet) and 25 % (Inception v2: its stores queue behind the weights).
Before this threshold was 2.0 (Inception v2 then loaded 1.4 times as many)."""


def _bytes(dma: DmaOp) -> int:
    """Bytes `dma` moves over all the iterations of its repeats."""
    times, parent = 1, dma.parent_op()
    while isinstance(parent, RepeatOp):
        times, parent = times * parent.count, parent.parent_op()
    return 4 * dma.src.num_elements * times


def _weight_bound(
    dmas: list[DmaOp], stores: list[bool], weights: list[bool], sbuf_bytes: int
) -> bool:
    """Whether the weights' stream dominates the program's DMA traffic, the stores'
    queue is mostly idle (PAIR_STORE_SHARE), and the weights do not fit SBUF
    together (`sbuf_bytes`), so their loads wait for tiles to be freed."""
    moved = [_bytes(d) for d in dmas]
    constant = sum(b for b, w in zip(moved, weights, strict=True) if w)
    stored = sum(b for b, s in zip(moved, stores, strict=True) if s)
    other = sum(moved) - constant - stored
    return stored < PAIR_STORE_SHARE * constant and constant > max(PAIR_WEIGHT_SHARE * other, sbuf_bytes)


class AssignQueuesPattern(RewritePattern):
    """Set the queue of every DMA of a unified-order program (module docstring)."""

    def __init__(self, weights: bool, pair: bool = False, balance: bool = False) -> None:
        super().__init__()
        self.weights = weights
        self.pair = pair
        self.balance = balance

    @op_type_rewrite_pattern
    def match_and_rewrite(self, program: ProgramOp, rewriter: PatternRewriter) -> None:
        expect_unsynchronised(
            program,
            "accel-assign-queues: the program is split into streams, whose "
            "engines fix the queues; assign queues before accel-split-streams",
            "accel-assign-queues: the program is synchronised (waits and "
            "signals name DMA queues); assign queues before accel-insert-sync",
        )
        try:
            chip = get_chip(program.chip.data)
        except UnknownChipError as e:
            raise PassInputError(f"accel-assign-queues: {e}", program) from None
        queues = chip.dma_queues
        sbuf_bytes = chip.sbuf_partitions * chip.sbuf_partition_bytes
        dmas = [op for op in program.walk() if isinstance(op, DmaOp)]
        weights = None
        if self.weights:
            consts = [
                (c.addr.value.data, c.addr.value.data + 4 * _elements(c))
                for c in program.body.block.ops
                if isinstance(c, ConstOp)
            ]
            weights = [_loads_constant(dma, consts) for dma in dmas]
        stores = [dma.dst.space == "dram" for dma in dmas]
        pair = self.pair and weights is not None and _weight_bound(dmas, stores, weights, sbuf_bytes)
        sizes = [_bytes(d) for d in dmas] if self.balance else None
        chosen = queue_order(stores, queues, weights, pair, sizes)
        for dma, queue in zip(dmas, chosen, strict=True):
            if dma.queue.value.data != queue:
                dma.queue = IntegerAttr(queue, i64)
                rewriter.notify_op_modified(dma)


def _elements(const: ConstOp) -> int:
    return math.prod(const.value.get_type().get_shape())


@dataclass(frozen=True)
class AccelAssignQueuesPass(ModulePass):
    """Put stores on the last DMA queue, constant loads on the first (`weights`)
    and spread the other DMAs over the rest."""

    name = "accel-assign-queues"

    weights: bool = True
    """Constant loads on a queue of their own (with at least three queues)."""

    pair: bool = True
    """With `weights`, in a program whose DMA traffic the weights dominate, more than
    SBUF holds, and that stores little (`_weight_bound`), constant loads alternate between their queue
    and the stores' one: a queue runs in order, so a weight load that waits for its
    tile's reuse holds up only every other weight load behind it."""

    balance: bool = True
    """Each load that is not a constant's on the queue with the fewest such bytes
    so far (over its repeats' iterations), instead of the queues in turn: loads
    of very different sizes (a stem's im2col pieces) then split the bytes evenly."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        expect_level(op, self.name, "accel")
        PatternRewriteWalker(
            AssignQueuesPattern(self.weights, self.pair, self.balance), apply_recursively=False
        ).rewrite_module(op)

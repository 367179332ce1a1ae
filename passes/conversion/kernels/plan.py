"""What a kernel decides before it builds anything: a `TilePlan` (how an op is tiled
for a chip, one `NestPlan` per nest it will emit) or a `Refusal` (why this chip cannot
hold it, in the words graph-partition's report and graph-to-loop's error show).

Planning builds no IR and raises nothing, so graph-partition can ask every op
whether it fits without lowering it, and graph-to-loop emits from the same plan:

    planned = CONV.plan(conv_op, get_chip("small"))
    if isinstance(planned, Refusal):
        print(planned.reason)  # 'c': output rows of 600 pixels exceed one PSUM bank ...
    else:
        planned.nests[-1].sbuf_bytes  # bytes per SBUF partition of the conv nest
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

from xdsl.ir import Operation, SSAValue

from tidal.passes.conversion.kernels.concat_placement import ConcatCopy
from tidal.passes.conversion.kernels.nest_builder import F32, aligned
from tidal.sim.config import ChipConfig


@dataclass(frozen=True)
class KernelOptions:
    """The kernel-level optimisations graph-to-loop applies, each on by default and
    switchable (`graph-to-loop{stationary=false}`, `tidal-compile --disable-opt
    stationary`) so that its effect can be measured (`bench/bench_dataflow.py`).
    With an optimisation off, a kernel tiles as it did before that optimisation.

    - `eltwise_partitions`: element-wise nests put the coalesced dim that fills the
      most partitions on partitions (off: always the second-to-last one, which for
      a flat 56x56x256 tensor split into chunks is the 4 chunks).
    - `eltwise_channels`: an element-wise nest beside a conv, a pooling or a
      per-channel affine (`eltwise.beside_channel_nests`) over an NCHW tensor whose
      channel tiles fill at least CHANNEL_MIN_PARTITIONS partitions puts the
      channels on partitions and each channel's plane on the free dim, the layout
      of the nests around it, so loop-keep-on-chip keeps its operands and result
      on chip (EfficientNet-B0's SiLUs and squeeze-excitations, MobileNet v3's
      hard-swishes) (kernels/eltwise.py).
    - `stationary`: convolutions keep each weight tile stationary across output row
      blocks accumulating in several PSUM banks, and read each input band once for
      all output-channel tiles.
    - `pack_taps`: convolutions whose input channels fill few PE rows put several
      filter taps on the rows (im2col by DMA of shifted windows).
    - `depthwise`: depthwise convolutions (one input channel per group) run as
      block-diagonal matmuls over many channels at once (kernels/depthwise.py)
      instead of one single-row matmul per channel and tap.
    - `depthwise_inplace`: a depthwise conv on ACT and POOL whose channel tiles all
      fit SBUF reads its input unpadded, as it lies: each filter tap runs over the
      rectangle of outputs whose window stays inside the image, so no padded copy is
      made and loop-keep-on-chip can let the nest read the producer's tile itself.
    - `depthwise_pe_split`: in place, with constant weights, the PE array takes as
      many channel tiles (diagonal matmuls from a constant of diagonals) as evens
      the engines' load by the datasheet, while ACT and POOL run the others.
    - `depthwise_split_context`: that split counts, on each engine, the cycles the
      datasheet charges the nest that wrote the layer's input (already lowered:
      ShuffleNet's and MobileNet's 1x1 convs before each depthwise one), whose
      matmuls and evacuations run beside the layer's tiles. ShuffleNet's 7x7 layers
      follow a 544-channel conv of 8.5 k PE cycles: all their tiles go to ACT and
      POOL instead of 3 of 8 to the PE array.
    - `gemm_small_m`: matmuls with few rows (batch-1 fully connected layers) keep the
      activations stationary and stream the weights as the moving operand, 512
      columns per matmul across the PSUM banks, in large weight descriptors.
    - `gemm_resident`: an activations-stationary matmul (`gemm_small_m`) whose
      weights fit half an SBUF partition loads every K step into a buffer of its
      own instead of two rotating ones, so no weight load waits for a matmul and
      the loads can run ahead of the layer (prefetch-weights).
    - `pool_halo`: padded poolings load the unpadded input band into an SBUF tile
      whose borders hold the fill value, instead of a padded copy in DRAM.
    - `dma_merge`: fewer, larger DMA descriptors: a weights-stationary gemm loads
      every n-tile's bias column at once; LRN and global average pooling load
      (and store) whole planes of every channel tile at once (kernels/norm.py,
      `merge=`; graph_ops' kernels are still to pass it).
    - `ragged_tiles`: a channel count that the partitions do not divide (DenseNet's
      992-channel concatenations) runs as full tiles of 128 channels and a partial
      last one, in the stationary conv's input channels and in channel_affine,
      instead of uniform tiles of its largest divisor under 128 (8 x 124). Every
      nest then puts channel c on partition c % 128, so a tensor that nests of
      different channel counts read and write stays on chip (loop-keep-on-chip).
      graph-to-loop keeps it on only where the input was written in such tiles
      (`base.options_for`: a channel_affine of a concatenation, a conv of a
      channel_affine); a conv's output tiles are its largest divisor, which a
      uniform reader matches.
    - `pool_ragged`: with `ragged_tiles`, a whole-plane pooling reads its input in
      128-channel tiles and a partial last one too (one nest for the full tiles,
      one for the partial one: kernels/pool.py `ragged_parts`), where that input
      lies in such tiles (`base.options_for`: a concatenation whose pieces do not
      start on its uniform tiles, or a pooling of one), and so do the convs that
      read such a pooling: no copies that move channels between partitions to the
      pooling's uniform tiles and back (Inception's pool branches).
    - `pool_separable`: a max pooling over whole planes (with `pool_halo`) takes
      the maximum over the window's rows of maxima over its columns, element-wise
      maxima of shifted views on POOL, instead of one reduction over every window
      element (kernels/pool.py).
    - `conv_bands`: a tap-packed conv (`pack_taps`) of one output tile whose taps
      all fit one pack puts bands of output rows side by side on the PE rows and
      columns (a block-diagonal stationary operand of its weights repeated per
      band), so one matmul and one evacuation do several bands (kernels/conv.py).
    - `read_addend`: a conv's epilogue adds its addend (a residual) into the output
      tile instead of into the addend's tile, so that tile is only read and
      loop-keep-on-chip lets the add read a kept addend in place of a copy.
    - `im2col_chunks`: a tap-packed conv (`pack_taps`) loads each band's im2col in
      pieces of its matmuls' row groups (of its PSUM blocks when the band is one
      group) instead of one DMA per run of taps over the whole band, so the first
      matmuls wait for their rows only and the array streams while the rest load
      (ResNet-50's 7x7 stem moves 7.4 MB of im2col before its first matmul
      otherwise).
    - `halo_chunks`: a stationary conv that loads its whole input into a
      zero-bordered SBUF plane (a halo, with row-taps' shifted copies or without)
      loads it in pieces that end where its row blocks' windows end (at most
      HALO_PARTS), so the array starts on the first blocks while the rest land
      instead of after the whole input (ResNet-50's 64-channel 3x3 convs wait
      for two 0.8 MB copies otherwise) (kernels/conv.py).
    - `depthwise_pe_rows`: with `depthwise_pe_split`, the PE array may also take the
      first output rows (whole PSUM blocks) of one more channel tile, ACT and POOL
      its other rows, so a layer of one channel tile (or an uneven share) splits
      between the engines (kernels/depthwise.py).
    - `pool_pipeline`: a separable max pooling over whole planes, not banded on
      partitions, runs its maxima in bands of output rows, each band's column
      maxima over only the input rows its windows add, so POOL starts while the
      producer still writes the plane (kernels/pool.py).
    - `pool_bands_pipeline`: a max pooling banded on partitions in place (the
      conv-bands layout) runs each band's rows in pieces of output rows, each
      piece's column maxima over only the band rows its windows add, the halo rows
      and the rows that read them last, so POOL starts on the first rows while the
      conv still evacuates the rest (kernels/pool.py).
    - `avgpool_inplace`: an average pooling over whole planes reads them unpadded
      where they lie, as `pool_inplace` does for max poolings: column sums then row
      sums, each tap over the outputs whose input stays inside the plane (a clipped
      tap adds no padding), then times a map of reciprocal window counts (uniform
      when the padding counts), so a kept input needs no copy into a zero-padded
      plane before POOL can start (kernels/pool.py).
    - `addend_tiles`: a stationary conv of one image, band and row group and at most
      8 output tiles loads each output tile's addend (residual) by a copy of its own
      before its loops, so loop-keep-on-chip may split one whose channels cross the
      kept layout's partition groups (kernels/conv.py).
    - `pool_bands`: a pooling over whole planes (with `pool_halo`) of at most half
      the partitions' channels puts bands of output rows side by side on the
      partitions, each with the input rows its windows read (kernels/pool.py).
    - `row_taps`: a stationary conv, not tap-packed, whose input channels fill at
      most half the PE rows loads its input band again onto the partitions above,
      once per further copy the rows hold (up to the kernel's width), each shifted
      one more column, so one matmul contracts that many adjacent taps of a kernel
      row (ResNet-50's 64-channel 3x3 convs: 6 matmuls per block instead of 9), for
      a copy of the input per tap of a row instead of an im2col of every tap
      (kernels/conv.py).
    - `conv_inplace`: a stationary conv that would pad its whole input in SBUF (a
      halo) reads the unpadded input where it lies instead, each tap over the
      rectangle of each row block whose windows stay inside the image (a tap that
      covers every output first), so the input tile is an exact copy of the input,
      which loop-keep-on-chip replaces by the producer's tile: no SBUF-to-SBUF copy
      into a padded plane before the first matmul (kernels/conv.py).
    - `pool_inplace`: a separable max pooling over whole padded planes (unbanded)
      reads them unpadded where they lie, each column and row tap over the outputs
      whose input stays inside the plane, so a kept input needs no copy into a
      plane of -inf borders (kernels/pool.py).
    - `depthwise_fma`: a depthwise conv's vector form has POOL multiply each tap's
      window by the tap's weight column and add it into the sum in one instruction
      (`tensor_tensor` with a scale column: NKI's scalar_tensor_tensor) instead of
      ACT writing the product for POOL to add, so ACT writes only each tile's first
      tap (kernels/depthwise.py).
    - `depthwise_pool_first`: with `depthwise_fma`, a depthwise conv in place has
      POOL write each vector tile's first tap too (one tensor_tensor: the window
      times its weight column plus the bias column read by a stride-0 broadcast, or
      without a bias the window times the weight column read by a broadcast), so its tiles need nothing from ACT, whose in-order stream
      holds the producer's evacuations, and POOL starts on a tile as soon as the
      producer has evacuated it; the PE/vector split counts POOL's extra tap
      (kernels/depthwise.py).
    - `depthwise_bands`: a depthwise conv of one channel tile of at most half the
      partitions that runs band by band on ACT and POOL (too big to stay whole in
      SBUF) lays bands of output rows side by side on the partitions, each with its
      own input rows and weight columns, so every instruction covers them all
      (MobileNet v2's and EfficientNet-B0's 32 channels at 112x112: 4 bands, a
      quarter of the cycles) (kernels/depthwise.py).
    - `im2col_clip`: a padded tap-packed conv whose im2col is one band of rows (per
      band side by side) loads each tap's window from the unpadded input, clipped
      to the outputs whose input lies inside the image, and zeroes the clipped-off
      elements of the im2col tile by memsets, instead of first copying the input
      into a padded buffer in DRAM (a round trip of the whole input the im2col must
      wait for). Taps go on the PE rows column by column (s-major), so the taps a
      left or right pad clips are one run of partitions (kernels/conv.py).
    - `im2col_reuse`: with `im2col_clip` (one band of rows, or bands on the PE
      columns only), a conv whose kernel columns from C on read the input C
      dilated columns to the right of columns 0 .. kw - C - 1 (C x dw a multiple
      of the column stride) loads the im2col of kernel columns 0 .. C - 1 only,
      each row C x dw / sw outputs wider, and contracts the others against the same
      partitions read that many columns on: a 7x7 stride-2 stem's im2col is 28 taps
      of 114 columns instead of 49 of 112 (ResNet-50's 7.3 MB of loads become 4.2
      MB), still two matmuls per block (kernels/conv.py).
    - `conv_band_input`: a 1x1 conv whose input its writer left
      in bands of rows side by side on the partitions (conv_bands, pool_bands:
      ShuffleNet's stem pool) reads that layout as it lies: per block of a band's
      rows one matmul of every band's partitions against a stationary operand that
      holds the weights on that band's rows and zeros on the others, so
      loop-keep-on-chip lets it read the writer's tile in place, with no copy out
      of the band layout, and it starts on the writer's first rows; each output
      tile (a Cout past the PE columns) from a tile of its own, with a fused
      residual addend loaded per output tile (ResNet-50's 64 -> 256 shortcut
      after its banded stem pool); only when every reader of the input reads the
      bands as they lie (`_readers_take_bands`) (kernels/conv.py).
    - `row_pack`: a stationary conv of stride 1 whose output channels fill at most
      half the PE columns (one output tile, one group, full input-channel tiles, no
      row-taps copies) computes k adjacent output rows per matmul, k = the most
      whose k x Cout columns the array holds (dividing the output height): column
      group j holds the weights of kernel row dy - (k - 1 - j), zeros past the
      kernel's edge, against input row k r + dy, so (KH + k - 1) x KW matmuls of
      OH / k rows replace KH x KW of OH rows (DenseNet's 32-channel 3x3 convs: 18
      of 14 rows instead of 9 of 56); the weights lie once with zero kernel rows
      around them, the stationary operand a strided window of them, and one copy
      per group stores each PSUM block's rows once it is evacuated (kernels/conv.py).
    - `conv_reader_bands`: a tap-packed conv of one output tile whose one reader is a
      pooling that would read k bands of rows side by side on the partitions in
      place (pool-bands; `pool.reads_bands`) writes its output in those k bands:
      with conv-bands' block-diagonal operand when k bands' im2col rows fit the PE
      rows (even k < MIN_CONV_BANDS), else on the PE columns only
      (`StationaryTiles.mbands`: each band's matmuls against the weights in its own
      group of columns). No PE time saved with the columns only, but ACT evacuates
      k bands at once and the pooling runs on k times the lanes (ResNet-50's and
      DenseNet-121's 7x7 stems and 64-channel 3x3 max pools: ACT 14.3 k -> 7.2 k
      cycles, POOL 29.6 k -> 14.4 k) (kernels/conv.py).
    - `affine_pieces`: a merged channel_affine (a batch norm and its activation
      over whole planes) runs its ACTs in pieces of at most FREE_MAX elements of
      the plane, pieces outermost, so a 1x1 conv reading it starts after the first
      piece (DenseNet-121: 434 k -> 425 k cycles) (kernels/channel_affine.py).
    - `affine_split`: a merged channel_affine over a concatenation that only it
      reads runs as two nests, the tiles of the older operands' channels and the
      tiles from the last operand's (`affine_newest`, set per op by graph-to-loop),
      so the first runs while the last operand's layer computes (DenseNet-121's
      transitions) (kernels/channel_affine.py).
    - `ragged_rows`: an element-wise or softmax nest whose rows (its partition
      dim) are thin (`eltwise.THIN_ROWS`: a ViT's 197 tokens, whose largest divisor
      under 128 is 1) runs as whole tiles of the partitions and one tile of the
      rest, two nests (kernels/eltwise.py, kernels/softmax.py); a channel_affine
      over a thin channel count takes `ragged_tiles`' full tiles and a partial one
      whatever wrote its input (kernels/channel_affine.py).
    - `pool_pieces`: a pooling over whole planes that is one reduction (an average
      pooling that does not read in place: a transition's 2x2 stride 2) over a
      plane past FREE_MAX elements runs it in pieces of output rows, each over at
      most FREE_MAX input elements, so its reader (the 1x1 conv that swap-avgpool
      put after it) starts on the first rows (kernels/pool.py).
    - `softmax_spread`: a softmax over one long row (a batch-1 classifier's
      logits) lies spread over the partitions, element t x ts + p on partition p,
      its max and sum taken across them on the PE array against a tile of ones;
      a batch-1 gemm whose one reader is such a softmax writes its row in that
      layout (kernels/softmax.py, kernels/gemm.py).
    - `lrn_pieces`: a merged LRN squares each block of pixels (per channel tile)
      just before the block's matmuls instead of every plane in one instruction
      before the first matmul (kernels/norm.py).
    """

    eltwise_partitions: bool = True
    eltwise_channels: bool = True
    stationary: bool = True
    pack_taps: bool = True
    depthwise: bool = True
    depthwise_inplace: bool = True
    depthwise_pe_split: bool = True
    depthwise_split_context: bool = True
    gemm_small_m: bool = True
    gemm_resident: bool = True
    pool_halo: bool = True
    dma_merge: bool = True
    ragged_tiles: bool = True
    pool_ragged: bool = True
    pool_separable: bool = True
    pool_bands: bool = True
    conv_bands: bool = True
    read_addend: bool = True
    im2col_chunks: bool = True
    row_taps: bool = True
    conv_inplace: bool = True
    pool_inplace: bool = True
    depthwise_fma: bool = True
    depthwise_pool_first: bool = True
    depthwise_bands: bool = True
    depthwise_pe_rows: bool = True
    pool_pipeline: bool = True
    pool_bands_pipeline: bool = True
    avgpool_inplace: bool = True
    addend_tiles: bool = True
    im2col_clip: bool = True
    conv_band_input: bool = True
    row_pack: bool = True
    halo_chunks: bool = True
    conv_reader_bands: bool = True
    affine_pieces: bool = True
    affine_split: bool = True
    ragged_rows: bool = True
    affine_newest: int = 0
    """Not an option: the channels of the last operand of the concatenation this
    op reads, when only it reads it or (graph-to-loop's `affine_split_shared`) its
    planes are past FREE_MAX elements (graph-to-loop sets it per op, with
    `affine_split`); 0 otherwise."""
    eltwise_beside: bool = False
    """Not an option: the op is element-wise and reads or writes a tensor that a
    conv, pooling or per-channel affine also touches (`eltwise.beside_channel_nests`,
    which graph-to-loop evaluates per op before lowering anything, with
    `eltwise_channels`)."""
    pool_pieces: bool = True
    softmax_spread: bool = True
    lrn_pieces: bool = True
    im2col_reuse: bool = True


DEFAULT_OPTIONS = KernelOptions()


@dataclass(frozen=True)
class Refusal:
    """The op cannot run on this chip's accelerator; `reason` is one line naming
    the op (by its origin) and the sizes that do not fit."""

    reason: str


@dataclass(frozen=True)
class NestPlan:
    """The tiling of one nest: its name (the op's origin, or origin.pad), the most
    partitions a tile spans, and the bytes per partition its tiles take in SBUF
    (64-byte aligned each, as loop-allocate places them) and PSUM. Kernels extend
    it with their tile sizes. `narrow` says why the nest uses fewer partitions than
    its tensors could fill (empty when it fills them; the partition check in
    test/unit/passes/conversion/test_partitions.py holds kernels to it)."""

    name: str
    partitions: int
    sbuf_bytes: int
    psum_bytes: int = 0
    narrow: str = ""


N = TypeVar("N", bound=NestPlan)


@dataclass(frozen=True)
class TilePlan:
    """How `op` runs on `chip`: the nests to emit, in order (none for views and
    constants, which cost no tiles)."""

    op: Operation
    chip: ChipConfig
    nests: tuple[NestPlan, ...] = ()
    options: KernelOptions = DEFAULT_OPTIONS

    def nest(self, kind: type[N]) -> N | None:
        """The plan's nest of type `kind` (each kernel emits at most one of each)."""
        return next((n for n in self.nests if isinstance(n, kind)), None)


@dataclass
class Lowered:
    """What a kernel's `emit` returns: the ops that replace the graph op, in order,
    the value that replaces its result, and the concat copies it made (for
    `place_concat_operands`)."""

    ops: list[Operation]
    result: SSAValue
    copies: list[ConcatCopy] = field(default_factory=list[ConcatCopy])


def sbuf_bytes(*tile_elems: int) -> int:
    """Bytes per SBUF partition of tiles of these sizes (elements per partition)."""
    return sum(aligned(e * F32) for e in tile_elems)


def over_sbuf(chip: ChipConfig, origin: str, need: int) -> Refusal | None:
    """A refusal when `need` bytes do not fit one SBUF partition of `chip`."""
    if need <= chip.sbuf_partition_bytes:
        return None
    return Refusal(
        f"'{origin}' needs {need} bytes per SBUF partition, chip "
        f"'{chip.name}' has {chip.sbuf_partition_bytes}"
    )

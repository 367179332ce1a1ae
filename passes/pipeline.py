"""tidal-lower: the named pipeline from graph IR to split accel streams, and the one
pass driver that every tool runs passes through.

    graph-canonicalize, graph-partition{chip=C}, graph-to-loop{chip=C},
    loop-to-accel{chip=C}, accel-insert-sync, accel-split-streams

`tidal-opt -p 'tidal-lower{chip=small}'` runs it; tidal-compile runs the same list.

`run_passes` drives a list of passes with xDSL's `PassPipeline`; what happens between
passes is a list of small callbacks that compose (`Verify`, `Progress`, `PassTimes`,
`PlacementReport`, `NumericsChecker`). The tools verify the module once after the
last pass, and after every pass with `--verify-each` (`Verify(each=True)`):

    report = PlacementReport()
    compile_module(module, "small", callbacks=[Progress(print), report])
    report.rows  # graph-partition's placement of every op, while the graph ops existed

A callback is a `PassCallback` (hooks `begin`, `before(pass_, module)`,
`after(pass_, module)`, `end`, each optional) or a function shaped as xDSL's
`PassPipelineCallbackType` `(previous, module, next)`, such as the one xdsl-opt
builds. A callback that concerns one pass finds it by type
(`isinstance(pass_, GraphPartitionPass)`, so a subclass counts), never by name.
`split_after` cuts a pass list after a pass type, for a caller that runs the start of
the pipeline once and the rest on each part (tidal-run's accelerator segments).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import IO, Self

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass, PassPipeline, PassPipelineCallbackType
from xdsl.utils.exceptions import PassFailedException, VerifyException

from tidal.passes.utils.chip import ChipPass
from tidal.passes.utils.expect import expect_level
from tidal.passes.utils.quiet import quiet_diagnostics


# The optimisations of the lowering pipeline, each on by default and switchable
# (`tidal-compile --disable-opt NAME`, `tidal-lower{disable=NAME,NAME}`) so that its
# effect can be measured (`bench/bench_dataflow.py`): name -> what it does.
OPTIMIZATIONS: dict[str, str] = {
    "eltwise-partitions": "element-wise nests use as many partitions as the tensor allows "
    "(graph-to-loop{eltwise_partitions})",
    "eltwise-channels": "element-wise nests beside convs, poolings and per-channel "
    "affines put an NCHW tensor's channels on partitions, the layout of the nests "
    "around them, so their tensors stay on chip (graph-to-loop{eltwise_channels})",
    "stationary": "convolutions keep weights stationary across output blocks in "
    "several PSUM banks and read each input band once (graph-to-loop{stationary})",
    "pack-taps": "small-channel convolutions put several filter taps on the PE rows "
    "(graph-to-loop{pack_taps})",
    "conv-bands": "tap-packed convs with few output channels (3-channel stems) put "
    "bands of output rows side by side on the PE rows and columns, a block-diagonal "
    "weight per band, so one matmul and one evacuation do several bands "
    "(graph-to-loop{conv_bands})",
    "read-addend": "a conv's epilogue adds its residual addend into the output tile, "
    "never writing the addend's, so a kept addend is read in place instead of copied "
    "(graph-to-loop{read_addend})",
    "im2col-chunks": "a tap-packed conv loads its im2col in pieces of the matmuls' row "
    "groups, so the array starts on the first rows while the rest load "
    "(graph-to-loop{im2col_chunks})",
    "halo-chunks": "a conv that loads its whole input into a zero-bordered plane "
    "(and row-taps' shifted copies) loads it in pieces that end where its row blocks' "
    "windows end, so the array starts on the first blocks while the rest land "
    "(graph-to-loop{halo_chunks})",
    "depthwise-pe-rows": "with depthwise-pe-split, the PE array may also take the "
    "first output rows of one more channel tile of a depthwise conv, ACT and POOL its "
    "other rows, so a one-tile layer splits between the engines "
    "(graph-to-loop{depthwise_pe_rows})",
    "pool-pipeline": "a separable max pooling over whole planes runs its maxima in "
    "bands of output rows, each reading only the input rows its windows need, so POOL "
    "starts while the producer still writes the plane (graph-to-loop{pool_pipeline})",
    "avgpool-in-place": "an average pooling over whole planes reads them unpadded where "
    "they lie (column then row sums, each tap over the outputs whose input stays inside "
    "the plane, then a map of reciprocal window counts), so a kept input needs no copy "
    "into a zero-padded plane (graph-to-loop{avgpool_inplace})",
    "pool-bands-pipeline": "a max pooling banded on partitions, in place in the conv-bands "
    "layout, runs each band's maxima in pieces of output rows, the halo rows last, so "
    "POOL starts while the conv still evacuates (graph-to-loop{pool_bands_pipeline})",
    "im2col-clip": "a padded tap-packed conv (a stem) loads each tap's window of its "
    "im2col from the unpadded input, clipped to the outputs whose input lies inside the "
    "image, zeroing the rest in SBUF, instead of first padding a copy of the input in "
    "DRAM (graph-to-loop{im2col_clip})",
    "im2col-reuse": "with im2col-clip, a conv whose later kernel columns read the input "
    "a multiple of the column stride to the right of its first ones (a 7x7 stride-2 stem: "
    "columns 4-6 are columns 0-2 two outputs on) loads the im2col of its first kernel "
    "columns only, each row that many outputs wider, and contracts the others against the "
    "same partitions read further on: ResNet-50's stem moves 4.2 MB instead of 7.3 MB, "
    "still two matmuls per block (graph-to-loop{im2col_reuse})",
    "conv-band-input": "a 1x1 conv whose input its writer left in bands of rows side by "
    "side on the partitions (a banded stem pool) reads that layout in place, one matmul "
    "per band against the weights on that band's rows, zeros elsewhere "
    "(graph-to-loop{conv_band_input})",
    "addend-tiles": "a stationary conv with few output tiles loads each one's residual "
    "addend by a copy of its own before its loops, so a kept addend may be split "
    "where its channels cross the kept layout's partition groups "
    "(graph-to-loop{addend_tiles})",
    "row-taps": "a conv whose input channels fill at most half the PE rows (and "
    "that packs no taps) loads its input again onto the rows above, one column "
    "further left per copy, so one matmul contracts as many adjacent taps of a "
    "kernel row as copies fit (graph-to-loop{row_taps})",
    "conv-reader-bands": "a tap-packed conv whose one reader, a pooling, reads k bands "
    "of rows side by side on the partitions in place writes its output in those k "
    "bands, even fewer than conv-bands takes alone, and, when k bands' im2col rows do "
    "not fit the PE rows, with each band's im2col in columns of its own against the "
    "weights in that band's group of PE columns: ACT evacuates the bands at once and "
    "the pooling's lanes fill (graph-to-loop{conv_reader_bands})",
    "affine-pieces": "a per-channel scale and shift (a batch norm, with its "
    "activation) over whole planes runs its ACTs in pieces of at most "
    "AFFINE_PIECE elements of the plane, pieces outermost, so a reader that "
    "streams the plane in pixel blocks (a 1x1 conv) starts after the first piece "
    "(graph-to-loop{affine_pieces})",
    "affine-split": "a per-channel scale and shift over a concatenation that only it "
    "reads (a dense block's last, into its transition) runs as two nests, the older "
    "operands' channel tiles and the tiles from the last operand's, so the first "
    "runs while the last operand's layer computes (graph-to-loop{affine_split})",
    "affine-split-shared": "with affine-split, a concatenation that the next one also "
    "reads (a dense block's running one) is split as well where its planes are past "
    "FREE_MAX elements, so the older channels' norm runs while the layer before "
    "computes and the next 1x1 conv's first input tiles are ready when it ends "
    "(graph-to-loop{affine_split_shared})",
    "ragged-rows": "an element-wise or softmax nest whose rows (its partition dim) "
    "have no large divisor under the partitions runs whole tiles of 128 rows and one "
    "of the rest, not tiles of that divisor (a ViT's 197 tokens: 2 tiles, not 197 of "
    "one row); so does a channel_affine over such a channel count "
    "(graph-to-loop{ragged_rows})",
    "pool-pieces": "a pooling over whole planes that is one reduction (a transition's "
    "2x2 stride-2 average) over a plane past FREE_MAX elements runs it in pieces of "
    "output rows, so the conv reading it starts on the first rows "
    "(graph-to-loop{pool_pieces})",
    "softmax-spread": "a softmax over one long row (a classifier's logits) spreads "
    "it over the partitions, element t x ts + p on partition p, and takes the max and "
    "the sum across partitions on the PE array against a tile of ones, instead of "
    "four passes of the whole row on one partition (graph-to-loop{softmax_spread})",
    "lrn-pieces": "an LRN over whole planes squares each block of pixels just before "
    "the block's matmuls (the band's sums across channels) instead of every plane "
    "before the first, so the PE array starts after one block's squares "
    "(graph-to-loop{lrn_pieces})",
    "row-pack": "a stride-1 conv whose output channels fill at most half the PE "
    "columns computes k adjacent output rows per matmul, column group j holding the "
    "weights of kernel row dy - (k - 1 - j) against input row k r + dy, so "
    "(KH + k - 1) x KW matmuls of OH / k rows replace KH x KW of OH rows "
    "(graph-to-loop{row_pack})",
    "conv-in-place": "a conv that would pad its whole input in SBUF reads it "
    "unpadded where it lies, each tap over the outputs whose window stays inside the "
    "image, so a kept input needs no copy into a padded plane "
    "(graph-to-loop{conv_inplace})",
    "pool-in-place": "a max pooling over whole padded planes reads them unpadded where "
    "they lie, each column and row tap over the outputs whose input stays inside the "
    "plane (graph-to-loop{pool_inplace})",
    "depthwise": "depthwise convolutions run as block-diagonal matmuls over many "
    "channels (graph-to-loop{depthwise})",
    "depthwise-in-place": "depthwise convs on ACT and POOL read their input unpadded "
    "where it lies, each tap over the outputs whose window stays inside the image, "
    "instead of padding a copy (graph-to-loop{depthwise_inplace})",
    "depthwise-pe-split": "a depthwise conv in place hands some channel tiles to the "
    "PE array (diagonal matmuls) while ACT and POOL run the others, as many as evens "
    "the engines' load (graph-to-loop{depthwise_pe_split})",
    "depthwise-fma": "a depthwise conv on ACT and POOL has POOL multiply each tap by "
    "its weight column and add it into the sum in one instruction (tensor_tensor with "
    "a scale column) instead of ACT writing each product (graph-to-loop{depthwise_fma})",
    "depthwise-pool-first": "with depthwise-fma, POOL also writes each tile's first tap "
    "(plus the bias, read by a broadcast), so a depthwise conv's tiles wait for nothing "
    "ACT's in-order stream holds (the producer's evacuations) "
    "(graph-to-loop{depthwise_pool_first})",
    "depthwise-bands": "a depthwise conv of one channel tile of at most half the "
    "partitions that runs band by band on ACT and POOL lays several bands of output "
    "rows side by side on the partitions, so each instruction covers them all "
    "(graph-to-loop{depthwise_bands})",
    "depthwise-split-context": "the depthwise split counts, on each engine, the "
    "cycles of the nest that wrote its input (a 1x1 conv's matmuls keep the PE array "
    "busy) when it evens the engines' load (graph-to-loop{depthwise_split_context})",
    "gemm-orientation": "matmuls with few rows keep the activations stationary and "
    "stream the weights in large descriptors (graph-to-loop{gemm_small_m})",
    "gemm-resident-weights": "a batch-1 fully connected layer whose weights fit half "
    "an SBUF partition loads each K step into a buffer of its own, so its weight "
    "loads never wait for its matmuls and run ahead of the layer "
    "(graph-to-loop{gemm_resident})",
    "pool-halo": "padded poolings fill the borders of the input band in SBUF instead "
    "of padding a copy in DRAM (graph-to-loop{pool_halo})",
    "dma-merge": "fewer, larger DMA descriptors: gemm bias columns loaded once, whole "
    "planes for LRN and global average pooling (graph-to-loop{dma_merge})",
    "ragged-tiles": "channel counts that 128 does not divide run as full 128-channel "
    "tiles and a partial last one, so tensors between nests of different channel "
    "counts keep one on-chip layout (graph-to-loop{ragged_tiles}); a conv reads a "
    "concatenation that way when its pieces do not start on its uniform tiles, and a "
    "copy into a kept tensor that crosses partition 128 is split there "
    "(loop-keep-on-chip{split})",
    "ragged-pools": "a pooling whose input lies in 128-channel tiles and a partial "
    "last one (an Inception concatenation, ragged-tiles) pools those tiles where "
    "they lie, and so do the convs that read it, instead of copying them between "
    "partitions into uniform tiles (graph-to-loop{pool_ragged})",
    "separable-pool": "max poolings take the maximum over rows of maxima over columns, "
    "element-wise on POOL, instead of reducing every window element "
    "(graph-to-loop{pool_separable})",
    "pool-bands": "poolings of few channels put bands of output rows side by side on "
    "the partitions, each with the input rows its windows read, so POOL uses more "
    "lanes (graph-to-loop{pool_bands})",
    "list-schedule": "nests are ordered by list scheduling on estimated time: among "
    "the ready ones, the one that starts earliest on its engines, ties to the longest "
    "chain to the end, so independent branches fill each other's gaps (loop-schedule)",
    "staged-schedule": "with list-schedule, a nest whose compute waits for copies of "
    "its input shifted onto more partitions (row-taps) starts its loads at once and its "
    "compute that much later, so a branch ready to compute goes first "
    "(loop-schedule{staged})",
    "engine-schedule": "each engine's instructions follow a list schedule on estimated "
    "time across nests, so an engine starts on the next nest's first tiles while "
    "another finishes this one (accel-schedule)",
    "pe-chains": "in that schedule, ties go to the matmul that continues the PE "
    "array's accumulation group in its PSUM bank (accel-schedule{chains})",
    "schedule-instances": "in that schedule, an instruction that needs only a "
    "repeat's first iterations (a pooling band on a conv's first row blocks) is ready "
    "when they are estimated done, not when the whole repeat is, as instance-waits "
    "lets it start in the machine (accel-schedule{instances})",
    "keep-on-chip": "intermediate tensors stay in SBUF between the nests that write "
    "and read them (loop-keep-on-chip)",
    "keep-outputs": "a returned tensor that later nests read (the logits a softmax "
    "reads) keeps a copy in SBUF for them, beside its store (loop-keep-on-chip{outputs})",
    "keep-forwarded": "deciding what fits SBUF, a writer's tile that forwarding will "
    "replace by the kept tensor does not count (ResNet-50's stem output stays on chip "
    "beside its im2col) (loop-keep-on-chip{forwarded})",
    "keep-bands": "a tensor that a tap-packed conv writes and a pooling reads band by "
    "band stays on chip in their band layout (band b's channels on partitions b x C "
    "onwards), the conv's band stores one copy that forwarding drops "
    "(loop-keep-on-chip{bands})",
    "keep-peel": "a nest whose copies into a tensor cross a boundary between groups of "
    "partitions differently at each iteration of a loop (Inception's 192 channels "
    "written in two tiles of 96 at channel 128 of a concatenation) is split into one "
    "nest per iteration, so the tensor can stay on chip (loop-keep-on-chip{peel})",
    "keep-group-pieces": "a copy of several groups of a kept tensor's rows at once (a "
    "pooling reading a 528-channel concatenation as six tiles of 88 in one copy) that "
    "no layout maps whole becomes one copy per group, each split where it crosses a "
    "group of partitions, so the tensor can stay on chip "
    "(loop-keep-on-chip{group_pieces})",
    "forward-copies": "nests compute from and into the tensors kept on chip instead of "
    "copying them to and from tiles (loop-keep-on-chip{forward})",
    "overlap-nests": "a nest's tiles take other SBUF bytes than the next nest's, so the "
    "next nest's loads need not wait for this one to finish (loop-allocate{overlap})",
    "prefetch-weights": "tiles that hold weights are reserved several nests ahead of "
    "their own (as many as fit), so their loads run ahead on the weights' DMA queue "
    "(loop-allocate{prefetch})",
    "prefetch-fill": "with prefetch-weights, each weight tile is reserved as far ahead "
    "as SBUF holds it, earlier layers' first, instead of one distance for all, which "
    "the layer where SBUF is tightest sets (loop-allocate{fill})",
    "psum-rotate": "each nest's PSUM accumulators go from where the last nest's end, "
    "round the partition, instead of from byte 0, so a nest's first matmuls need not "
    "wait for the last nest's accumulator to be evacuated (loop-allocate{rotate})",
    "sink-transposes": "transposes move down through element-wise ops and "
    "concatenations until they meet another and compose, an identity going (a "
    "TensorFlow export's NHWC <-> NCHW pair around every conv), and one that moves "
    "only dims of size 1 is a reshape; kept where fewer elements are transposed "
    "(graph-sink-transposes)",
    "fold-pad": "a conv reading its input with zeros concatenated along a spatial "
    "dim (an explicit zero Pad: Keras' ZeroPadding2D before a strided conv) reads "
    "the input itself, the zeros in its pads (graph-fold-pad)",
    "fuse-epilogue": "a relu or a residual add after a conv or gemm is applied as its "
    "accumulator is evacuated, with no nest of its own (graph-fuse-epilogue)",
    "relu-through-concat": "a relu after a concatenation becomes the activation of the "
    "convs that produce its operands (a relu of its own for the others unless they are "
    "provably non-negative), so no nest reads and writes the whole concatenation again; "
    "a relu of a provably non-negative value goes (graph-fuse-epilogue{through_concat})",
    "fuse-silu": "x times sigmoid(x), a SiLU as PyTorch exports it (a Sigmoid and a "
    "Mul), is one pass of ACT's silu table instead of a sigmoid on ACT and a multiply on "
    "POOL, and a conv's or gemm's epilogue when it follows one "
    "(graph-fuse-epilogue{silu})",
    "fuse-gelu": "x * 0.5 * (1 + erf(x / sqrt 2)), GELU's erf form as PyTorch and Hugging "
    "Face export it (a scale, Erf, Add, two Muls, in any grouping), is one pass of ACT's "
    "gelu_erf table instead of five nests, and its tanh form (GPT-2's gelu_new) one of "
    "ACT's gelu table instead of nine; a conv's or gemm's epilogue when it follows one "
    "(graph-fuse-epilogue{gelu})",
    "fuse-matmul-bias": "a matmul plus a constant bias along its last dim (nn.Linear "
    "over tokens as PyTorch, Hugging Face and tf2onnx export it: a MatMul, a view, an "
    "Add) is one gemm adding the bias as the accumulator is evacuated, and an activation "
    "after it, or after a bias-free matmul, its epilogue (graph-fuse-epilogue{matmul_bias})",
    "fuse-sigmoid": "a sigmoid of a conv or gemm (EfficientNet's squeeze-and-excite "
    "gates) is its epilogue's activation, one ACT table pass as the accumulator is "
    "evacuated instead of a nest of its own (graph-fuse-epilogue{sigmoid})",
    "fuse-hardswish": "relu6(x + 3) / 6, Keras' hard sigmoid as tf2onnx exports it (an "
    "Add, a Clip, a Mul by 1/6), is one piecewise-linear hard_sigmoid (one ACT clip01), "
    "and x times it one hard_swish, instead of three and four nests "
    "(graph-fuse-epilogue{hard_swish})",
    "fold-shuffle": "a channel shuffle (reshape, transpose, reshape) after a conv "
    "permutes the conv's output channels instead of moving the tensor "
    "(graph-fold-shuffle)",
    "interleave-shuffle": "with fold-shuffle, a channel shuffle that a depthwise conv "
    "and then a grouped conv read is taken by that conv, its groups reading their "
    "channels interleaved, where that takes the PE array fewer cycles than making the "
    "shuffle's grouped producer dense (ShuffleNet's 7x7 units: 48 matmuls, not 80; "
    "graph-fold-shuffle{interleave})",
    "dense-groups": "a grouped conv whose groups have fewer input channels than the "
    "PE array has rows is one dense conv of block-diagonal weight when that takes no "
    "more matmuls than the groups, so its groups need no copies of their own and the "
    "tensors around it keep one channel tiling (graph-dense-groups)",
    "merge-groups": "with dense-groups, neighbouring groups merge into fewer "
    "block-diagonal groups where that takes fewer matmuls than one dense conv or "
    "the groups (4 groups of 34 channels: 2 of 68; graph-dense-groups{partial})",
    "pad-channels": "a tensor whose channel count the partitions do not divide is "
    "widened to whole 128-channel tiles of zero channels where that takes fewer tiles "
    "(ShuffleNet's 272 channels: 3 tiles of 128, not 4 of 68), the convs around it "
    "reading and writing zeros there; an LRN over a channel count without a large "
    "divisor under 128, a dense conv's input or output of one, a gemm's or "
    "matmul's contraction or columns of one, and a pooling's, batch norm's or "
    "depthwise conv's channels of one are widened by "
    "zero channels to the fewest tiles of one size (163: 2 tiles of 82, not 163 of "
    "1) (graph-pad-channels)",
    "swap-avgpool": "an average pooling and a 1x1 conv next to it trade places where "
    "the pooling then covers fewer channel tiles (a pool projection: pool over "
    "the conv's 128 outputs, not its 576 inputs) or the conv fewer pixels (a "
    "transition: conv after a 2x2 stride-2 average) (graph-swap-avgpool)",
    "merge-siblings": "two convs of one input whose results lie side by side in one "
    "concatenation and together fit the PE columns become one conv, the smaller kernel "
    "in the larger with zeros around it: one pass over the input instead of two "
    "(SqueezeNet's fire expands; graph-merge-siblings)",
    "split-cout": "a stride-1 conv whose output channels leave a narrow last tile "
    "(192: two tiles of 96) becomes a conv of the full 128-channel tiles and one of "
    "the rest, concatenated, so the first fills the PE columns and the second takes "
    "row-pack (graph-split-cout)",
    "fold-clip": "a clip to [0, hi] (ReLU6) after a conv or gemm is its epilogue's "
    "clip01 with its weights divided by hi, its readers' weights times hi, instead of a "
    "nest of its own (graph-fold-clip)",
    "fuse-affine": "a per-channel constant scale and shift and the relu after them are "
    "one ACT instruction per tile, channels on partitions (graph-fuse-affine)",
    "double-buffer": "a tile that a loop fills afresh in every iteration gets a second "
    "buffer, the loop unrolled by two, so the next iteration's loads run while this "
    "one computes (loop-double-buffer)",
    "double-buffer-odd": "with double-buffer, an odd trip count of at most 7 whose loop "
    "holds another loop (a conv's 3 output-channel tiles, each accumulating over its "
    "input tiles) is unrolled whole, its tiles alternating between two buffers, so the "
    "PE array fills one PSUM buffer while ACT evacuates the other "
    "(loop-double-buffer{odd})",
    "double-buffer-crossing": "with double-buffer, only a tile that two engines touch "
    "gets a second buffer; one that a single engine writes and reads (an ACT result ACT "
    "reads again, a pooling's running sum) keeps one, since that engine runs in order "
    "and a second buffer would only take SBUF from the weights reserved ahead "
    "(loop-double-buffer{crossing})",
    "hoist-loads": "a load of a constant (weights) that a loop repeats unchanged in "
    "every iteration (a conv loaded band by band reloading its weight tile per band) "
    "runs once, before the loop, when nothing else in the loop writes the tile or reads "
    "it first (loop-hoist-loads)",
    "double-buffer-partial": "with double-buffer, an SBUF tile that several loads fill "
    "between them in each iteration before it is read, each its own block (a row-taps "
    "band, one load per copy on its own partitions), counts as filled afresh when the "
    "blocks hold everything read from it, so it gets a second buffer too "
    "(loop-double-buffer{partial})",
    "const-layout": "each constant that only DMAs read, each element once, is stored in "
    "DRAM in the order they read it, so a weight load reads one contiguous run instead "
    "of 4-byte elements a row apart (the same bytes move: no cycles change in the "
    "hardware model, which charges bytes; the model's gathers, and a real DMA's, get "
    "cheaper) (loop-const-layout)",
    "weight-queue": "loads of constants (weights, biases) have a DMA queue of their own, "
    "so they never queue behind a load that waits for the previous layer "
    "(accel-assign-queues{weights})",
    "weight-queue-pair": "in a program whose DMA traffic its weights dominate, more than "
    "SBUF holds, and that stores little, weight loads alternate between their queue and the stores' one, so a "
    "load waiting for its tile's reuse holds up only every other one behind it "
    "(accel-assign-queues{pair})",
    "balance-queues": "each load that is not a constant's goes on the DMA queue with the "
    "fewest bytes so far (over its repeats), not the next one in turn: a stem's im2col "
    "loads, a few large ones among many small, no longer pile up on one queue "
    "(accel-assign-queues{balance})",
    "hoist-waits": "a wait that every iteration of a repeat repeats (its value does not "
    "grow with the repeat's index) runs once, before the repeat (accel-hoist-waits)",
    "prune-waits": "waits that other waits already imply are erased (the transitive "
    "reduction of the synchronisation, accel-prune-waits)",
    "fold-waits": "a wait goes into the instruction it holds back as that instruction's "
    "wait field, instead of a WAIT record of its own (US11175919B1, accel-fold-waits)",
    "precise-waits": "a wait counts the signals up to the latest instance of the "
    "instruction it depends on, not every earlier signal of that engine "
    "(accel-insert-sync{latest_source})",
    "instance-waits": "with precise-waits, of the repeats a source does not share with "
    "the waiter, the wait counts through the last iteration whose instance conflicts, "
    "not the last iteration: a pooling band waits for the rows it reads "
    "(accel-insert-sync{latest_instance})",
    "iteration-waits": "with instance-waits, an instruction in a repeat of its own (a "
    "matmul accumulating over input tiles) waits in iteration i only for the sources its "
    "instance i conflicts with, by a count affine in i, so it starts on a producer's first "
    "tiles while the producer finishes the rest (accel-insert-sync{per_iteration})",
}


class UnknownOptimization(ValueError):
    pass


def check_optimizations(names: Collection[str]) -> frozenset[str]:
    """`names` as a set, `all` standing for every optimisation; UnknownOptimization
    names the unknown one and lists the known."""
    chosen = set(names)
    if "all" in chosen:
        chosen = (chosen - {"all"}) | set(OPTIMIZATIONS)
    for name in sorted(chosen):
        if name not in OPTIMIZATIONS:
            known = ", ".join(OPTIMIZATIONS)
            raise UnknownOptimization(
                f"unknown optimisation '{name}' (known: {known}, or all)"
            )
    return frozenset(chosen)


def lowering_passes(chip: str, disabled: Collection[str] = ()) -> list[ModulePass]:
    """The lowering pipeline for chip preset `chip`, with the optimisations named in
    `disabled` (keys of OPTIMIZATIONS, or `all`) switched off."""
    from tidal.passes.accel.assign_queues import AccelAssignQueuesPass
    from tidal.passes.accel.fold_waits import AccelFoldWaitsPass
    from tidal.passes.accel.hoist_waits import AccelHoistWaitsPass
    from tidal.passes.accel.insert_sync import AccelInsertSyncPass
    from tidal.passes.accel.prune_waits import AccelPruneWaitsPass
    from tidal.passes.accel.schedule import AccelSchedulePass
    from tidal.passes.accel.split_streams import AccelSplitStreamsPass
    from tidal.passes.accel.verify_sync import AccelVerifySyncPass
    from tidal.passes.graph.canonicalize import GraphCanonicalizePass
    from tidal.passes.graph.dense_groups import GraphDenseGroupsPass
    from tidal.passes.graph.fold_shuffle import GraphFoldShufflePass
    from tidal.passes.graph.fuse_affine import GraphFuseAffinePass
    from tidal.passes.graph.fuse_epilogue import GraphFuseEpiloguePass
    from tidal.passes.graph.pad_channels import GraphPadChannelsPass
    from tidal.passes.graph.sink_transposes import GraphSinkTransposesPass
    from tidal.passes.graph.fold_pad import GraphFoldPadPass
    from tidal.passes.graph.merge_siblings import GraphMergeSiblingsPass
    from tidal.passes.graph.split_cout import GraphSplitCoutPass
    from tidal.passes.graph.swap_avgpool import GraphSwapAvgPoolPass
    from tidal.passes.graph.partition import GraphPartitionPass
    from tidal.passes.conversion.graph_to_loop import GraphToLoopPass
    from tidal.passes.conversion.loop_to_accel import LoopToAccelPass
    from tidal.passes.loop.allocate import LoopAllocatePass
    from tidal.passes.loop.const_layout import LoopConstLayoutPass
    from tidal.passes.loop.hoist_loads import LoopHoistLoadsPass
    from tidal.passes.loop.double_buffer import LoopDoubleBufferPass
    from tidal.passes.loop.keep_on_chip import LoopKeepOnChipPass
    from tidal.passes.loop.schedule import LoopSchedulePass

    off = check_optimizations(disabled)
    from tidal.passes.graph.fold_clip import GraphFoldClipPass

    return [
        *([] if "sink-transposes" in off else [GraphSinkTransposesPass()]),
        *([] if "fold-pad" in off else [GraphFoldPadPass()]),
        GraphCanonicalizePass(),
        *([] if "fold-clip" in off else [GraphFoldClipPass()]),
        *(
            []
            if "fuse-epilogue" in off
            else [
                GraphFuseEpiloguePass(
                    through_concat="relu-through-concat" not in off,
                    silu="fuse-silu" not in off,
                    hard_swish="fuse-hardswish" not in off,
                    sigmoid="fuse-sigmoid" not in off,
                    matmul_bias="fuse-matmul-bias" not in off,
                    gelu="fuse-gelu" not in off,
                )
            ]
        ),
        *([] if "fuse-affine" in off else [GraphFuseAffinePass()]),
        *(
            []
            if "fold-shuffle" in off
            else [GraphFoldShufflePass(chip=chip, interleave="interleave-shuffle" not in off)]
        ),
        *([] if "dense-groups" in off else [GraphDenseGroupsPass(chip=chip, partial="merge-groups" not in off)]),
        *([] if "pad-channels" in off else [GraphPadChannelsPass(chip=chip)]),
        *([] if "swap-avgpool" in off else [GraphSwapAvgPoolPass(chip=chip)]),
        *([] if "split-cout" in off else [GraphSplitCoutPass(chip=chip)]),
        *([] if "merge-siblings" in off else [GraphMergeSiblingsPass(chip=chip)]),
        GraphPartitionPass(chip=chip),
        GraphToLoopPass(
            chip=chip,
            eltwise_partitions="eltwise-partitions" not in off,
            eltwise_channels="eltwise-channels" not in off,
            stationary="stationary" not in off,
            pack_taps="pack-taps" not in off,
            depthwise="depthwise" not in off,
            depthwise_inplace="depthwise-in-place" not in off,
            depthwise_pe_split="depthwise-pe-split" not in off,
            depthwise_split_context="depthwise-split-context" not in off,
            gemm_small_m="gemm-orientation" not in off,
            gemm_resident="gemm-resident-weights" not in off,
            pool_halo="pool-halo" not in off,
            dma_merge="dma-merge" not in off,
            ragged_tiles="ragged-tiles" not in off,
            pool_ragged="ragged-pools" not in off,
            pool_separable="separable-pool" not in off,
            pool_bands="pool-bands" not in off,
            conv_bands="conv-bands" not in off,
            read_addend="read-addend" not in off,
            im2col_chunks="im2col-chunks" not in off,
            row_taps="row-taps" not in off,
            conv_inplace="conv-in-place" not in off,
            pool_inplace="pool-in-place" not in off,
            depthwise_fma="depthwise-fma" not in off,
            depthwise_pool_first="depthwise-pool-first" not in off,
            depthwise_bands="depthwise-bands" not in off,
            depthwise_pe_rows="depthwise-pe-rows" not in off,
            pool_pipeline="pool-pipeline" not in off,
            pool_bands_pipeline="pool-bands-pipeline" not in off,
            avgpool_inplace="avgpool-in-place" not in off,
            addend_tiles="addend-tiles" not in off,
            im2col_clip="im2col-clip" not in off,
            conv_band_input="conv-band-input" not in off,
            row_pack="row-pack" not in off,
            halo_chunks="halo-chunks" not in off,
            conv_reader_bands="conv-reader-bands" not in off,
            affine_pieces="affine-pieces" not in off,
            affine_split="affine-split" not in off,
            affine_split_shared="affine-split-shared" not in off,
            ragged_rows="ragged-rows" not in off,
            pool_pieces="pool-pieces" not in off,
            softmax_spread="softmax-spread" not in off,
            lrn_pieces="lrn-pieces" not in off,
            im2col_reuse="im2col-reuse" not in off,
        ),
        *([] if "list-schedule" in off else [LoopSchedulePass(chip=chip, staged="staged-schedule" not in off)]),
        *(
            []
            if "keep-on-chip" in off
            else [
                LoopKeepOnChipPass(
                    chip=chip,
                    forward="forward-copies" not in off,
                    split="ragged-tiles" not in off,
                    outputs="keep-outputs" not in off,
                    forwarded="keep-forwarded" not in off,
                    bands="keep-bands" not in off,
                    peel="keep-peel" not in off,
                    group_pieces="keep-group-pieces" not in off,
                )
            ]
        ),
        *([] if "hoist-loads" in off else [LoopHoistLoadsPass()]),
        *(
            []
            if "double-buffer" in off
            else [
                LoopDoubleBufferPass(
                    chip=chip,
                    odd="double-buffer-odd" not in off,
                    crossing="double-buffer-crossing" not in off,
                    partial="double-buffer-partial" not in off,
                )
            ]
        ),
        *([] if "const-layout" in off else [LoopConstLayoutPass()]),
        LoopAllocatePass(
            chip=chip,
            overlap="overlap-nests" not in off,
            prefetch="prefetch-weights" not in off,
            fill="prefetch-fill" not in off,
            rotate="psum-rotate" not in off,
        ),
        LoopToAccelPass(chip=chip),
        *(
            []
            if "engine-schedule" in off
            else [AccelSchedulePass(chains="pe-chains" not in off, instances="schedule-instances" not in off)]
        ),
        AccelAssignQueuesPass(
            weights="weight-queue" not in off,
            pair="weight-queue-pair" not in off,
            balance="balance-queues" not in off,
        ),
        AccelInsertSyncPass(
            latest_source="precise-waits" not in off,
            latest_instance="instance-waits" not in off,
            per_iteration="iteration-waits" not in off,
        ),
        AccelSplitStreamsPass(),
        *([] if "hoist-waits" in off else [AccelHoistWaitsPass()]),
        *([] if "prune-waits" in off else [AccelPruneWaitsPass()]),
        *([] if "fold-waits" in off else [AccelFoldWaitsPass()]),
        # Not an optimisation: proves the synchronisation the passes made.
        AccelVerifySyncPass(),
    ]


def split_after(
    passes: Sequence[ModulePass], pass_type: type[ModulePass]
) -> tuple[list[ModulePass], list[ModulePass]]:
    """`passes` cut after the first instance of `pass_type` (a subclass counts): the
    passes up to and including it, and the rest. ValueError if there is none.

        whole, per_part = split_after(lowering_passes(chip), GraphPartitionPass)
    """
    for i, p in enumerate(passes):
        if isinstance(p, pass_type):
            return list(passes[: i + 1]), list(passes[i + 1 :])
    raise ValueError(f"no {pass_type.__name__} among {[p.name for p in passes]}")


class PassCallback:
    """What `run_passes` calls around the passes; a callback overrides the hooks it
    needs. `begin` runs once before the first pass, `before` and `after` around each
    pass, `end` once after the last pass succeeded. An exception raised by a hook
    stops the pipeline, as a failing pass does."""

    def begin(self, passes: Sequence[ModulePass], module: ModuleOp) -> None:
        pass

    def before(self, pass_: ModulePass, module: ModuleOp) -> None:
        pass

    def after(self, pass_: ModulePass, module: ModuleOp) -> None:
        pass

    def end(self, module: ModuleOp) -> None:
        pass


Callback = PassCallback | PassPipelineCallbackType


def _between(callbacks: Sequence[Callback]) -> PassPipelineCallbackType:
    """One xDSL pipeline callback: every `after` of the pass that ran (and every
    xDSL-shaped function), in the order of `callbacks`, then every `before` of the
    next pass."""
    hooks = [c for c in callbacks if isinstance(c, PassCallback)]

    def between(
        previous: ModulePass | None, module: ModuleOp, next_pass: ModulePass | None
    ) -> None:
        for c in callbacks:
            if not isinstance(c, PassCallback):
                c(previous, module, next_pass)
            elif previous is not None:
                c.after(previous, module)
        if next_pass is not None:
            for c in hooks:
                c.before(next_pass, module)

    return between


def run_passes(
    passes: Sequence[ModulePass],
    module: ModuleOp,
    ctx: Context | None = None,
    callbacks: Sequence[Callback] = (),
) -> ModuleOp:
    """Apply `passes` to `module` in place with xDSL's `PassPipeline`, running
    `callbacks` around them (see `PassCallback`); returns the module. Errors are
    raised with their own one-line message (`quiet_diagnostics`), never with the
    module printed in."""
    hooks = [c for c in callbacks if isinstance(c, PassCallback)]
    with quiet_diagnostics():
        for c in hooks:
            c.begin(passes, module)
        PassPipeline(tuple(passes), _between(callbacks)).apply(ctx or Context(), module)
        for c in hooks:
            c.end(module)
    return module


class Verify(PassCallback):
    """Verify the whole module once after the last pass, or after every pass with
    `each` (the tools' `--verify-each`: it names the pass that broke the IR, at the
    cost of one verification per pass, on ResNet-50 1.0 s of CPU instead of 0.2 s
    in a 3 s compile; `bench/bench_compile.py`). A failure is one VerifyException
    line:

        verifier failed after pass 'loop-to-accel': Operation ... does not verify
        verifier failed after the pipeline (last pass 'accel-split-streams';
        --verify-each names the pass that broke it): ...

    `seconds` adds up the CPU time spent verifying (`time.process_time`)."""

    def __init__(self, each: bool = False) -> None:
        self.each = each
        self.seconds = 0.0
        self._last: ModulePass | None = None

    def after(self, pass_: ModulePass, module: ModuleOp) -> None:
        self._last = pass_
        if self.each:
            self._verify(module, f"after pass '{pass_.name}'")

    def end(self, module: ModuleOp) -> None:
        if not self.each and self._last is not None:
            self._verify(
                module,
                f"after the pipeline (last pass '{self._last.name}'; --verify-each "
                "names the pass that broke it)",
            )

    def _verify(self, module: ModuleOp, when: str) -> None:
        started = time.process_time()
        try:
            module.verify()
        except VerifyException as e:
            raise verifier_failed(e, when) from None
        finally:
            self.seconds += time.process_time() - started


def verifier_failed(error: VerifyException, when: str) -> VerifyException:
    """`error` as `Verify` reports it: "verifier failed <when>: <its first line>"."""
    lines = [ln for ln in str(error).splitlines() if ln.strip()]
    return VerifyException(f"verifier failed {when}: {lines[0] if lines else 'invalid IR'}")


class Progress(PassCallback):
    """One line to `show` before each pass ("[3/6] graph-to-loop") and one at the
    end ("compiled in 2.4 s"); `TerminalProgress` shows them on a terminal."""

    def __init__(self, show: Callable[[str], None]):
        self.show = show
        self.total = 0
        self.done = 0
        self.started = 0.0

    def begin(self, passes: Sequence[ModulePass], module: ModuleOp) -> None:
        self.total, self.done, self.started = len(passes), 0, time.perf_counter()

    def before(self, pass_: ModulePass, module: ModuleOp) -> None:
        self.done += 1
        self.show(f"[{self.done}/{self.total}] {pass_.name}")

    def end(self, module: ModuleOp) -> None:
        self.show(f"compiled in {time.perf_counter() - self.started:.1f} s")


class PassTimes(PassCallback):
    """Wall seconds of each pass's `apply`, by pass name, in `seconds`, and its CPU
    seconds (`time.process_time`, steadier on a shared machine) in `cpu` (a pass that
    runs twice adds up). Put it first among the callbacks so that the others' work
    between passes (verification, numerics) is not counted."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._started = (0.0, 0.0)

    def before(self, pass_: ModulePass, module: ModuleOp) -> None:
        self._started = (time.perf_counter(), time.process_time())

    def after(self, pass_: ModulePass, module: ModuleOp) -> None:
        wall, cpu = self._started
        name = pass_.name
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - wall
        self.cpu[name] = self.cpu.get(name, 0.0) + time.process_time() - cpu


class PlacementReport(PassCallback):
    """After graph-partition (any `GraphPartitionPass`), its placement of every op,
    appended to `rows` (see `graph.partition.placement_report`) while the graph ops
    still exist."""

    def __init__(self, rows: list[dict[str, str]] | None = None):
        self.rows: list[dict[str, str]] = rows if rows is not None else []

    def after(self, pass_: ModulePass, module: ModuleOp) -> None:
        from tidal.passes.graph.partition import GraphPartitionPass, placement_report

        if isinstance(pass_, GraphPartitionPass):
            self.rows.extend(placement_report(module, pass_.chip))


@dataclass(frozen=True)
class TidalLowerPass(ChipPass):
    """Run the whole lowering pipeline for chip preset `chip`, with the
    optimisations named in `disable` off (`tidal-lower{chip=small disable=stationary}`).
    Like any pass it leaves verifying its result to its driver (xdsl-opt and
    tidal-opt verify after every pass they run, unless --disable-verify);
    `verify_each=true` (what `tidal-opt --verify-each` sets) verifies after each of
    its own passes too, naming the one that broke the IR."""

    name = "tidal-lower"

    disable: tuple[str, ...] = ()
    verify_each: bool = False

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        expect_level(op, self.name, "graph")
        try:
            passes = lowering_passes(self.chip, self.disable)
        except UnknownOptimization as e:
            raise PassFailedException(f"{self.name}: {e}") from None
        run_passes(passes, op, ctx, [Verify(each=True)] if self.verify_each else [])


def compile_module(
    module: ModuleOp,
    chip: str,
    ctx: Context | None = None,
    *,
    callbacks: Sequence[Callback] = (),
    disabled: Collection[str] = (),
    verify_each: bool = False,
) -> ModuleOp:
    """Lower a graph-level module to split accel streams in place, verifying it
    once at the end (after every pass with `verify_each`, see `Verify`) and running
    `callbacks` (see `run_passes`; after a pass, they follow its verification if
    there is one); returns it. `disabled`
    names optimisations to switch off (see OPTIMIZATIONS). Raises
    PassFailedException or VerifyException (or UnknownChipError,
    UnknownOptimization) with a one-line message."""
    passes = lowering_passes(chip, disabled)
    return run_passes(passes, module, ctx, [Verify(each=verify_each), *callbacks])


class TerminalProgress:
    """Where `Progress` shows its lines: one overwritten line of `stream` (stderr by
    default) when it is a terminal, and nothing otherwise:

        with TerminalProgress("tidal-compile") as progress:
            compile_module(module, chip, ctx, callbacks=[Progress(progress)])
    """

    def __init__(self, prefix: str = "", stream: IO[str] | None = None):
        self.stream = stream if stream is not None else sys.stderr
        self.prefix = f"{prefix}: " if prefix else ""
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.shown = False

    def __call__(self, message: str) -> None:
        if not self.enabled:
            return
        self.stream.write(f"\r\x1b[K{self.prefix}{message}")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
            self.shown = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

// RUN: tidal-opt %s -p 'graph-to-loop{chip=small row_taps=false conv_inplace=false im2col_clip=false row_pack=false halo_chunks=false}' --split-input-file | filecheck %s
// RUN: tidal-opt %s -p 'graph-to-loop{chip=small stationary=false pack_taps=false}' --split-input-file | filecheck %s --check-prefix=OLD
// RUN: tidal-opt %s -p 'graph-to-loop{chip=small row_taps=false conv_inplace=false im2col_chunks=false im2col_clip=false row_pack=false halo_chunks=false}' --split-input-file | filecheck %s --check-prefix=NOCHUNK

// The stationary and tap-packed nests, with row_taps, conv_inplace and row_pack
// off (row_pack would compute two of the 16-channel conv's rows per matmul:
// conv-row-pack.mlir): where
// row_taps is on, the small chip's estimate takes the stems' shifted copies of the
// input instead of their im2col (conv-row-taps.mlir); where conv_inplace is, the
// padded 3x3 conv reads its input unpadded (conv-in-place.mlir).

// A padded 3x3 conv, 24 -> 16 channels on 24x40 pixels, with a fused relu, on the
// small chip. Stationary (default): no pad nest: the whole 26x42 padded plane stays
// in SBUF, its borders zeroed by three memsets (top rows + first left column, each
// right column with the next row's left one, last right column + bottom rows) and
// the unpadded input loaded into the interior by one DMA; the weights of the 9 taps
// load once. The 24 output rows are two blocks of 12 rows (480 fp32), each in its
// own PSUM bank, and for every tap the two blocks' matmuls follow each other with
// the same stationary access (the array loads each tap's weights once). ACT
// evacuates each bank with the bias and relu, one DMA stores all 24 rows.
// CHECK-LABEL: func.func @conv
// CHECK-NOT:     loop.nest "conv.pad"
// CHECK:         loop.nest "conv" domain [] order [] {
// CHECK-NEXT:      %[[A0:.*]] = loop.alloc_tile : !loop.tile<psum, 16, 480>
// CHECK-NEXT:      %[[A1:.*]] = loop.alloc_tile : !loop.tile<psum, 16, 480>
// CHECK-NEXT:      %[[XT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 24, 1092>
// CHECK-NEXT:      %[[WT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 24, 144>
// CHECK-NEXT:      %[[BT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 16, 1>
// CHECK-NEXT:      %[[OUT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 16, 960>
// CHECK-NEXT:      loop.memset %[[XT]] <sbuf 0, 0, {{\[\[}}1, 24], [1, 43]]> = 0.0
// CHECK-NEXT:      loop.memset %[[XT]] <sbuf 0, 332, {{\[\[}}1, 24], [42, 23], [1, 2]]> = 0.0
// CHECK-NEXT:      loop.memset %[[XT]] <sbuf 0, 4196, {{\[\[}}1, 24], [1, 43]]> = 0.0
// CHECK-NEXT:      loop.copy %{{.*}} <dram 0, {{\[\[}}960, 24], [40, 24], [1, 40]]> -> %[[XT]] <sbuf 0, 172, {{\[\[}}1, 24], [42, 24], [1, 40]]>
// CHECK-NEXT:      loop.copy %{{.*}} <dram 0, {{\[\[}}9, 24], [1, 9], [216, 16]]> -> %[[WT]] <sbuf 0, 0, {{\[\[}}1, 24], [1, 144]]>
// CHECK-NEXT:      loop.copy %{{.*}} <dram 0, {{\[\[}}1, 16]]> -> %[[BT]] <sbuf 0, 0, {{\[\[}}1, 16], [1, 1]]>
// CHECK-NEXT:      loop.matmul %[[A0]] <psum 0, 0, {{\[\[}}1, 16], [1, 480]]>, %[[WT]] <sbuf 0, 0, {{\[\[}}1, 24], [1, 16]]>, %[[XT]] <sbuf 0, 0, {{\[\[}}1, 24], [42, 12], [1, 40]]> {zero_at = -1 : i64}
// CHECK-NEXT:      loop.matmul %[[A1]] <psum 0, 0, {{\[\[}}1, 16], [1, 480]]>, %[[WT]] <sbuf 0, 0, {{\[\[}}1, 24], [1, 16]]>, %[[XT]] <sbuf 0, 2016, {{\[\[}}1, 24], [42, 12], [1, 40]]> {zero_at = -1 : i64}
// CHECK-NEXT:      loop.matmul %[[A0]] <psum 0, 0, {{\[\[}}1, 16], [1, 480]]>, %[[WT]] <sbuf 0, 64, {{\[\[}}1, 24], [1, 16]]>, %[[XT]] <sbuf 0, 4, {{\[\[}}1, 24], [42, 12], [1, 40]]> :
// CHECK-NEXT:      loop.matmul %[[A1]] <psum 0, 0, {{\[\[}}1, 16], [1, 480]]>, %[[WT]] <sbuf 0, 64, {{\[\[}}1, 24], [1, 16]]>, %[[XT]] <sbuf 0, 2020, {{\[\[}}1, 24], [42, 12], [1, 40]]> :
// CHECK-COUNT-12:  loop.matmul
// CHECK-NEXT:      loop.matmul %[[A0]] <psum 0, 0, {{\[\[}}1, 16], [1, 480]]>, %[[WT]] <sbuf 0, 512, {{\[\[}}1, 24], [1, 16]]>, %[[XT]] <sbuf 0, 344, {{\[\[}}1, 24], [42, 12], [1, 40]]> :
// CHECK-NEXT:      loop.matmul %[[A1]] <psum 0, 0, {{\[\[}}1, 16], [1, 480]]>, %[[WT]] <sbuf 0, 512, {{\[\[}}1, 24], [1, 16]]>, %[[XT]] <sbuf 0, 2360, {{\[\[}}1, 24], [42, 12], [1, 40]]> :
// CHECK-NEXT:      loop.act "relu" %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 16], [1, 480]]>, %[[A0]] <psum 0, 0, {{\[\[}}1, 16], [1, 480]]> bias(%[[BT]]
// CHECK-NEXT:      loop.act "relu" %[[OUT]] <sbuf 0, 1920, {{\[\[}}1, 16], [1, 480]]>, %[[A1]] <psum 0, 0, {{\[\[}}1, 16], [1, 480]]> bias(%[[BT]]
// CHECK-NEXT:      loop.copy %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 16], [1, 960]]> -> %{{.*}} <dram 0, {{\[\[}}960, 16], [1, 960]]>
// CHECK-NEXT:    }

// Without the two options: the input padded in DRAM by its own nest, then per block
// of 12 output rows (d0) the weights and a 14-row band reloaded and 9 matmuls into
// one bank, each loading its tap's weights.
// OLD-LABEL: func.func @conv
// OLD:         %[[XP:.*]] = loop.alloc : memref<1x24x26x42xf32>
// OLD:         loop.nest "conv.pad" domain [] order [] {
// OLD:         loop.nest "conv" domain [2] order [0] {
// OLD:           loop.for d0 {
// OLD-NEXT:        loop.copy %{{.*}} <dram 0, {{\[\[}}9, 24], [1, 9], [216, 16]]> -> %{{.*}} <sbuf 0, 0, {{\[\[}}1, 24], [1, 144]]>
// OLD-NEXT:        loop.copy %[[XP]] <dram 0 + 2016 * i0, {{\[\[}}1092, 24], [1, 588]]>
// OLD-COUNT-9:     loop.matmul
// OLD-NEXT:        loop.act "relu"
// OLD-NEXT:        loop.copy
// OLD-NEXT:      }
func.func @conv(%x: tensor<1x24x24x40xf32>, %w: tensor<16x24x3x3xf32>, %b: tensor<16xf32>) -> tensor<1x16x24x40xf32> {
  %r = graph.conv2d %x, %w, %b {pads = array<i64: 1, 1, 1, 1>, activation = "relu", tidal.origin = "conv"} : (tensor<1x24x24x40xf32>, tensor<16x24x3x3xf32>, tensor<16xf32>) -> tensor<1x16x24x40xf32>
  func.return %r : tensor<1x16x24x40xf32>
}

// -----

// A 3-channel 7x7 stride-2 stem: 10 taps x 3 channels fill 30 of the 32 PE rows, so
// 5 packs (the last of 9 taps, 27 rows). The im2col tile holds, for pack p at
// p x 64 elements, tap t's window of the padded input on partitions 3t..3t+2,
// strided by 2: one DMA per run of taps within a kernel row (a run is capped so no
// DMA touches more elements than the padded input holds). One matmul per pack
// contracts taps x channels.
// CHECK-LABEL: func.func @stem
// CHECK:         %[[XP:.*]] = loop.alloc : memref<1x3x22x22xf32>
// CHECK:         loop.nest "stem.pad"
// CHECK:         loop.nest "stem" domain [] order [] {
// CHECK-NEXT:      %[[ACC:.*]] = loop.alloc_tile : !loop.tile<psum, 8, 64>
// CHECK-NEXT:      %[[IM:.*]] = loop.alloc_tile : !loop.tile<sbuf, 30, 320>
// CHECK-NEXT:      %[[WT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 30, 40>
// CHECK-NEXT:      %[[OUT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 8, 64>
// CHECK-NEXT:      loop.copy %[[XP]] <dram 0, {{\[\[}}1, 7], [484, 3], [44, 8], [2, 8]]> -> %[[IM]] <sbuf 0, 0, {{\[\[}}1, 21], [1, 64]]>
// CHECK-NEXT:      loop.copy %[[XP]] <dram 88, {{\[\[}}1, 3], [484, 3], [44, 8], [2, 8]]> -> %[[IM]] <sbuf 21, 0, {{\[\[}}1, 9], [1, 64]]>
// CHECK-COUNT-9:   loop.copy %[[XP]]
// CHECK-NEXT:      loop.copy %{{.*}} <dram 0, {{\[\[}}1, 10], [49, 3], [147, 8]]> -> %[[WT]] <sbuf 0, 0, {{\[\[}}1, 30], [1, 8]]>
// CHECK-COUNT-3:   loop.copy
// CHECK-NEXT:      loop.copy %{{.*}} <dram 160, {{\[\[}}1, 9], [49, 3], [147, 8]]> -> %[[WT]] <sbuf 0, 128, {{\[\[}}1, 27], [1, 8]]>
// CHECK-NEXT:      loop.matmul %[[ACC]] <psum 0, 0, {{\[\[}}1, 8], [1, 64]]>, %[[WT]] <sbuf 0, 0, {{\[\[}}1, 30], [1, 8]]>, %[[IM]] <sbuf 0, 0, {{\[\[}}1, 30], [1, 64]]> {zero_at = -1 : i64}
// CHECK-NEXT:      loop.matmul %[[ACC]] <psum 0, 0, {{\[\[}}1, 8], [1, 64]]>, %[[WT]] <sbuf 0, 32, {{\[\[}}1, 30], [1, 8]]>, %[[IM]] <sbuf 0, 256, {{\[\[}}1, 30], [1, 64]]> :
// CHECK-COUNT-2:   loop.matmul
// CHECK-NEXT:      loop.matmul %[[ACC]] <psum 0, 0, {{\[\[}}1, 8], [1, 64]]>, %[[WT]] <sbuf 0, 128, {{\[\[}}1, 27], [1, 8]]>, %[[IM]] <sbuf 0, 1024, {{\[\[}}1, 27], [1, 64]]> :
// CHECK-NEXT:      loop.act "identity" %[[OUT]]
// CHECK-NEXT:      loop.copy %[[OUT]]
// CHECK-NEXT:    }

// Without the options: 49 single-tap matmuls of 3 rows.
// OLD-LABEL: func.func @stem
// OLD:         loop.nest "stem" domain [] order [] {
// OLD-COUNT-49:    loop.matmul %{{.*}} <psum 0, 0, {{\[\[}}1, 8], [1, 64]]>, %{{.*}} <sbuf 0, {{[0-9]+}}, {{\[\[}}1, 3], [1, 8]]>
func.func @stem(%x: tensor<1x3x16x16xf32>, %w: tensor<8x3x7x7xf32>) -> tensor<1x8x8x8xf32> {
  %r = graph.conv2d %x, %w {pads = array<i64: 3, 3, 3, 3>, strides = array<i64: 2, 2>, tidal.origin = "stem"} : (tensor<1x3x16x16xf32>, tensor<8x3x7x7xf32>) -> tensor<1x8x8x8xf32>
  func.return %r : tensor<1x8x8x8xf32>
}

// -----

// A 3-channel 3x3 stem over 64x64 pixels: 9 taps x 3 channels on 27 PE rows, two
// row groups of 32 output rows (4 PSUM blocks of 8 rows each) in one band. With
// im2col_chunks each tap's im2col load comes in two pieces of 32 rows, the first
// rows of every tap first, so the first group's matmuls wait for half the im2col;
// without, one load per tap of all 64 rows.
// CHECK-LABEL: func.func @stem_rows
// CHECK:         loop.nest "stem2" domain [2] order [0] {
// CHECK:           loop.copy %[[XP:.*]] <dram 0, {{\[\[}}4356, 3], [66, 32], [1, 64]]> -> %[[IM:.*]] <sbuf 0, 0, {{\[\[}}1, 3], [1, 2048]]>
// CHECK-COUNT-8:   loop.copy %[[XP]] <dram {{[0-9]+}}, {{\[\[}}4356, 3], [66, 32], [1, 64]]> -> %[[IM]] <sbuf {{[0-9]+}}, 0,
// CHECK-NEXT:      loop.copy %[[XP]] <dram 8448, {{\[\[}}4356, 3], [66, 32], [1, 64]]> -> %[[IM]] <sbuf 0, 8192, {{\[\[}}1, 3], [1, 2048]]>
// CHECK-COUNT-8:   loop.copy %[[XP]] <dram {{[0-9]+}}, {{\[\[}}4356, 3], [66, 32], [1, 64]]> -> %[[IM]] <sbuf {{[0-9]+}}, 8192,
// CHECK:           loop.for d0 {
// NOCHUNK-LABEL: func.func @stem_rows
// NOCHUNK:         loop.nest "stem2" domain [2] order [0] {
// NOCHUNK-COUNT-9:   loop.copy %{{.*}} <dram {{[0-9]+}}, {{\[\[}}4356, 3], [66, 64], [1, 64]]> -> %{{.*}} <sbuf {{[0-9]+}}, 0, {{\[\[}}1, 3], [1, 4096]]>
// NOCHUNK-NEXT:      loop.copy %{{.*}} <dram 0, {{\[\[}}1, 9], [9, 3], [27, 8]]>
func.func @stem_rows(%x: tensor<1x3x64x64xf32>, %w: tensor<8x3x3x3xf32>) -> tensor<1x8x64x64xf32> {
  %r = graph.conv2d %x, %w {pads = array<i64: 1, 1, 1, 1>, tidal.origin = "stem2"} : (tensor<1x3x64x64xf32>, tensor<8x3x3x3xf32>) -> tensor<1x8x64x64xf32>
  func.return %r : tensor<1x8x64x64xf32>
}

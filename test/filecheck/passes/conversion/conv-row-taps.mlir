// RUN: tidal-opt %s -p 'graph-to-loop{chip=small row_pack=false}' --split-input-file | filecheck %s
// RUN: tidal-opt %s -p 'graph-to-loop{chip=small}' --split-input-file | filecheck %s --check-prefix=PACKED
// RUN: tidal-opt %s -p 'graph-to-loop{chip=small row_taps=false conv_inplace=false im2col_clip=false row_pack=false}' --split-input-file | filecheck %s --check-prefix=OFF

// A padded 3x3 conv of 16 channels on the small chip's 32 PE rows (row_taps, with
// row_pack off: PACKED below).
// The padded 14x22 plane lies in SBUF twice: on partitions 0-15 as the stationary
// nest puts it, and on partitions 16-31 one element (one column) to the left, so
// where tap (r, 0)'s window lies below, tap (r, 1)'s lies above. Each copy has its
// own three border memsets (the upper's one element earlier, its first run one
// shorter) and its own DMA of the unpadded input; the weights likewise, the upper
// ones a tap on (8 taps: tap t + 1's weights at tap t's columns). A kernel row is
// then one matmul over 32 rows (taps 0 and 1, 3 and 4, 6 and 7) and one over 16
// (taps 2, 5, 8): 6 matmuls instead of 9, each pair's stationary access at its
// first tap's columns.
// With row_pack too (8 output channels: 4 rows a matmul), the copies stay and each
// of the 6 input rows dy of a packed row is one matmul over 32 rows (taps 0 and 1)
// and one over 16 (tap 2): 12 matmuls of 3 packed rows instead of 6 of 12 rows;
// the weights between 3 zero kernel rows before and after them, zeroed on both
// copies' partitions, copy 1's a tap on at the same columns.
// PACKED-LABEL: func.func @pairs
// PACKED:         loop.memset %{{.*}} <sbuf 0, 0, {{\[\[}}1, 32], [1, 72]]>
// PACKED-NEXT:    loop.memset %{{.*}} <sbuf 0, 576, {{\[\[}}1, 32], [1, 72]]>
// PACKED-NEXT:    loop.copy %w <dram 0, {{\[\[}}9, 16], [1, 9], [144, 8]]> -> %{{.*}} <sbuf 0, 288, {{\[\[}}1, 16], [1, 72]]>
// PACKED-NEXT:    loop.copy %w <dram 4, {{\[\[}}9, 16], [1, 8], [144, 8]]> -> %{{.*}} <sbuf 16, 288, {{\[\[}}1, 16], [1, 64]]>
// PACKED:         loop.matmul %{{.*}} <psum 0, 0, {{\[\[}}1, 32], [1, 60]]>, %{{.*}} <sbuf 0, 0, {{\[\[}}1, 32], [24, 4], [1, 8]]>, %{{.*}} <sbuf 0, 0, {{\[\[}}1, 32], [88, 3], [1, 20]]> {zero_at = -1 : i64}
// PACKED-NEXT:    loop.matmul %{{.*}} <psum 0, 0, {{\[\[}}1, 32], [1, 60]]>, %{{.*}} <sbuf 0, 64, {{\[\[}}1, 16], [24, 4], [1, 8]]>, %{{.*}} <sbuf 0, 8, {{\[\[}}1, 16], [88, 3], [1, 20]]> :
// PACKED-COUNT-10: loop.matmul
// PACKED-NEXT:    loop.act "relu"

// CHECK-LABEL: func.func @pairs
// CHECK:         loop.nest "conv" domain [] order [] {
// CHECK-NEXT:      %[[ACC:.*]] = loop.alloc_tile : !loop.tile<psum, 8, 240>
// CHECK-NEXT:      %[[XT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 308>
// CHECK-NEXT:      %[[WT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 72>
// CHECK:           loop.memset %[[XT]] <sbuf 0, 0, {{\[\[}}1, 16], [1, 23]]>
// CHECK-NEXT:      loop.memset %[[XT]] <sbuf 0, 172, {{\[\[}}1, 16], [22, 11], [1, 2]]>
// CHECK-NEXT:      loop.memset %[[XT]] <sbuf 0, 1140, {{\[\[}}1, 16], [1, 23]]>
// CHECK-NEXT:      loop.memset %[[XT]] <sbuf 16, 0, {{\[\[}}1, 16], [1, 22]]>
// CHECK-NEXT:      loop.memset %[[XT]] <sbuf 16, 168, {{\[\[}}1, 16], [22, 11], [1, 2]]>
// CHECK-NEXT:      loop.memset %[[XT]] <sbuf 16, 1136, {{\[\[}}1, 16], [1, 23]]>
// CHECK-NEXT:      loop.copy %{{.*}} <dram 0, {{\[\[}}240, 16], [20, 12], [1, 20]]> -> %[[XT]] <sbuf 0, 92, {{\[\[}}1, 16], [22, 12], [1, 20]]>
// CHECK-NEXT:      loop.copy %{{.*}} <dram 0, {{\[\[}}240, 16], [20, 12], [1, 20]]> -> %[[XT]] <sbuf 16, 88, {{\[\[}}1, 16], [22, 12], [1, 20]]>
// CHECK-NEXT:      loop.copy %{{.*}} <dram 0, {{\[\[}}9, 16], [1, 9], [144, 8]]> -> %[[WT]] <sbuf 0, 0, {{\[\[}}1, 16], [1, 72]]>
// CHECK-NEXT:      loop.copy %{{.*}} <dram 4, {{\[\[}}9, 16], [1, 8], [144, 8]]> -> %[[WT]] <sbuf 16, 0, {{\[\[}}1, 16], [1, 64]]>
// CHECK-NEXT:      loop.copy
// CHECK-NEXT:      loop.matmul %[[ACC]] <psum 0, 0, {{\[\[}}1, 8], [1, 240]]>, %[[WT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 8]]>, %[[XT]] <sbuf 0, 0, {{\[\[}}1, 32], [22, 12], [1, 20]]> {zero_at = -1 : i64}
// CHECK-NEXT:      loop.matmul %[[ACC]] <psum 0, 0, {{\[\[}}1, 8], [1, 240]]>, %[[WT]] <sbuf 0, 64, {{\[\[}}1, 16], [1, 8]]>, %[[XT]] <sbuf 0, 8, {{\[\[}}1, 16], [22, 12], [1, 20]]> :
// CHECK-NEXT:      loop.matmul %[[ACC]] <psum 0, 0, {{\[\[}}1, 8], [1, 240]]>, %[[WT]] <sbuf 0, 96, {{\[\[}}1, 32], [1, 8]]>, %[[XT]] <sbuf 0, 88, {{\[\[}}1, 32], [22, 12], [1, 20]]> :
// CHECK-NEXT:      loop.matmul %[[ACC]] <psum 0, 0, {{\[\[}}1, 8], [1, 240]]>, %[[WT]] <sbuf 0, 160, {{\[\[}}1, 16], [1, 8]]>, %[[XT]] <sbuf 0, 96, {{\[\[}}1, 16], [22, 12], [1, 20]]> :
// CHECK-NEXT:      loop.matmul %[[ACC]] <psum 0, 0, {{\[\[}}1, 8], [1, 240]]>, %[[WT]] <sbuf 0, 192, {{\[\[}}1, 32], [1, 8]]>, %[[XT]] <sbuf 0, 176, {{\[\[}}1, 32], [22, 12], [1, 20]]> :
// CHECK-NEXT:      loop.matmul %[[ACC]] <psum 0, 0, {{\[\[}}1, 8], [1, 240]]>, %[[WT]] <sbuf 0, 256, {{\[\[}}1, 16], [1, 8]]>, %[[XT]] <sbuf 0, 184, {{\[\[}}1, 16], [22, 12], [1, 20]]> :
// CHECK-NEXT:      loop.act "relu"

// Off (and conv_inplace, row_pack off): one copy of the plane and of the weights on 16
// partitions, 9 matmuls of 16 rows.
// OFF-LABEL: func.func @pairs
// OFF:         %[[XT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 16, 308>
// OFF-COUNT-3:   loop.memset %[[XT]] <sbuf 0,
// OFF-NEXT:      loop.copy %{{.*}} -> %[[XT]] <sbuf 0, 92,
// OFF-NEXT:      loop.copy
// OFF-NEXT:      loop.copy
// OFF-COUNT-9:   loop.matmul %{{.*}}, %{{.*}} <sbuf 0, {{[0-9]+}}, {{\[\[}}1, 16], [1, 8]]>
// OFF-NEXT:      loop.act "relu"
func.func @pairs(%x: tensor<1x16x12x20xf32>, %w: tensor<8x16x3x3xf32>, %b: tensor<8xf32>) -> tensor<1x8x12x20xf32> {
  %r = graph.conv2d %x, %w, %b {pads = array<i64: 1, 1, 1, 1>, activation = "relu", tidal.origin = "conv"} : (tensor<1x16x12x20xf32>, tensor<8x16x3x3xf32>, tensor<8xf32>) -> tensor<1x8x12x20xf32>
  func.return %r : tensor<1x8x12x20xf32>
}

// -----

// A 3-channel 7x7 stride-2 stem on the small chip: with row_taps, 7 copies of the
// padded plane (3 channels each, 21 rows), copy k k columns to the left, make each
// kernel row one matmul: 7 matmuls for 7 loads of the 22x22 plane (its interior;
// the borders zeroed in SBUF), where tap packing would take 5 matmuls but an im2col
// of 49 windows through a pad nest (conv-stationary.mlir); the estimate prefers
// the copies.
// CHECK-LABEL: func.func @stem
// CHECK-NOT:     loop.nest "stem.pad"
// CHECK:         loop.nest "stem" domain [] order [] {
// CHECK:           %[[XT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 21, 484>
// CHECK-COUNT-7:   loop.copy %{{.*}} <dram 0, {{\[\[}}256, 3], [16, 16], [1, 16]]> -> %[[XT]]
// CHECK-COUNT-7:   loop.copy %{{.*}} -> %{{.*}} <sbuf {{[0-9]+}}, 0, {{\[\[}}1, 3], [1, {{[0-9]+}}]]>
// CHECK-NEXT:      loop.matmul %{{.*}}, %{{.*}} <sbuf 0, 0, {{\[\[}}1, 21], [1, 8]]>, %[[XT]] <sbuf 0, 0, {{\[\[}}1, 21], [44, 8], [2, 8]]> {zero_at = -1 : i64}
// CHECK-COUNT-6:   loop.matmul %{{.*}}, %{{.*}} <sbuf 0, {{[0-9]+}}, {{\[\[}}1, 21], [1, 8]]>, %[[XT]] <sbuf 0, {{[0-9]+}}, {{\[\[}}1, 21], [44, 8], [2, 8]]> :
// CHECK-NEXT:      loop.act "identity"
// OFF-LABEL: func.func @stem
// OFF:         loop.nest "stem.pad"
// OFF:         loop.nest "stem" domain [] order [] {
// OFF-COUNT-5:   loop.matmul %{{.*}}, %{{.*}} <sbuf 0, {{[0-9]+}}, {{\[\[}}1, {{30|27}}], [1, 8]]>
func.func @stem(%x: tensor<1x3x16x16xf32>, %w: tensor<8x3x7x7xf32>) -> tensor<1x8x8x8xf32> {
  %r = graph.conv2d %x, %w {pads = array<i64: 3, 3, 3, 3>, strides = array<i64: 2, 2>, tidal.origin = "stem"} : (tensor<1x3x16x16xf32>, tensor<8x3x7x7xf32>) -> tensor<1x8x8x8xf32>
  func.return %r : tensor<1x8x8x8xf32>
}

// RUN: tidal-opt %s -p 'graph-to-loop{chip=small stationary=false pack_taps=false depthwise=false}' --split-input-file | filecheck %s

// Conv nests with the conv optimisations off (--disable-opt stationary,pack-taps,depthwise):
// conv-stationary.mlir shows the same conv with them on (an SBUF halo, no pad nest).

// conv2d 3x3 with pads 1 on 64 input channels (two 32-channel tiles):
// a pad nest first copies x into the middle of a zero-filled [1,64,6,6] DRAM buffer
// (a memset tile copied to the top/bottom rows and left/right columns), then the
// conv nest loops over input-channel tiles (d0) with one matmul per tap; the first
// tap zeroes the accumulator when d0 starts (zero_at = 0). The bias column is loaded
// once and added by ACT after the loop.
// CHECK-LABEL: func.func @conv_pad
// CHECK-SAME:    (%[[X:.*]]: memref<1x64x4x4xf32>, %[[W:.*]]: memref<8x64x3x3xf32>, %[[B:.*]]: memref<8xf32>) -> memref<1x8x4x4xf32> {
// CHECK-NEXT:    %[[Y:.*]] = loop.alloc : memref<1x8x4x4xf32>
// CHECK-NEXT:    %[[XP:.*]] = loop.alloc : memref<1x64x6x6xf32>
// CHECK-NEXT:    loop.nest "conv.pad" domain [2] order [0] {
// CHECK-NEXT:      %[[Z:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 6>
// CHECK-NEXT:      loop.memset %[[Z]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 6]]> = 0.000000e+00 : f32
// CHECK-NEXT:      loop.for d0 {
// CHECK-NEXT:        loop.copy %[[X]] <dram 0 + 2048 * i0, {{\[\[}}16, 32], [4, 4], [1, 4]]> -> %[[XP]] <dram 28 + 4608 * i0, {{\[\[}}36, 32], [6, 4], [1, 4]]>
// CHECK-NEXT:        loop.copy %[[Z]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 6]]> -> %[[XP]] <dram 0 + 4608 * i0, {{\[\[}}36, 32], [1, 6]]>
// CHECK-NEXT:        loop.copy %[[Z]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 6]]> -> %[[XP]] <dram 120 + 4608 * i0, {{\[\[}}36, 32], [1, 6]]>
// CHECK-NEXT:        loop.copy %[[Z]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 4]]> -> %[[XP]] <dram 24 + 4608 * i0, {{\[\[}}36, 32], [6, 4], [1, 1]]>
// CHECK-NEXT:        loop.copy %[[Z]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 4]]> -> %[[XP]] <dram 44 + 4608 * i0, {{\[\[}}36, 32], [6, 4], [1, 1]]>
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK-NEXT:    loop.nest "conv" domain [2] order [0] {
// CHECK-NEXT:      %[[WT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 72>
// CHECK-NEXT:      %[[XT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 36>
// CHECK-NEXT:      %[[ACC:.*]] = loop.alloc_tile : !loop.tile<psum, 8, 16>
// CHECK-NEXT:      %[[OUT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 8, 16>
// CHECK-NEXT:      %[[COL:.*]] = loop.alloc_tile : !loop.tile<sbuf, 8, 1>
// CHECK-NEXT:      loop.copy %[[B]] <dram 0, {{\[\[}}1, 8], [1, 1]]> -> %[[COL]] <sbuf 0, 0, {{\[\[}}1, 8], [1, 1]]>
// CHECK-NEXT:      loop.for d0 {
// CHECK-NEXT:        loop.copy %[[W]] <dram 0 + 1152 * i0, {{\[\[}}9, 32], [1, 9], [576, 8]]> -> %[[WT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 72]]>
// CHECK-NEXT:        loop.copy %[[XP]] <dram 0 + 4608 * i0, {{\[\[}}36, 32], [1, 36]]> -> %[[XT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 36]]>
// CHECK-NEXT:        loop.matmul %[[ACC]] <psum 0, 0, {{\[\[}}1, 8], [1, 16]]>, %[[WT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 8]]>, %[[XT]] <sbuf 0, 0, {{\[\[}}1, 32], [6, 4], [1, 4]]> {zero_at = 0 : i64}
// CHECK-NEXT:        loop.matmul %[[ACC]] <psum 0, 0, {{\[\[}}1, 8], [1, 16]]>, %[[WT]] <sbuf 0, 32, {{\[\[}}1, 32], [1, 8]]>, %[[XT]] <sbuf 0, 4, {{\[\[}}1, 32], [6, 4], [1, 4]]> :
// CHECK-NEXT:        loop.matmul %[[ACC]] <psum 0, 0, {{\[\[}}1, 8], [1, 16]]>, %[[WT]] <sbuf 0, 64, {{\[\[}}1, 32], [1, 8]]>, %[[XT]] <sbuf 0, 8, {{\[\[}}1, 32], [6, 4], [1, 4]]> :
// CHECK-NEXT:        loop.matmul %[[ACC]] <psum 0, 0, {{\[\[}}1, 8], [1, 16]]>, %[[WT]] <sbuf 0, 96, {{\[\[}}1, 32], [1, 8]]>, %[[XT]] <sbuf 0, 24, {{\[\[}}1, 32], [6, 4], [1, 4]]> :
// CHECK-NEXT:        loop.matmul %[[ACC]] <psum 0, 0, {{\[\[}}1, 8], [1, 16]]>, %[[WT]] <sbuf 0, 128, {{\[\[}}1, 32], [1, 8]]>, %[[XT]] <sbuf 0, 28, {{\[\[}}1, 32], [6, 4], [1, 4]]> :
// CHECK-NEXT:        loop.matmul %[[ACC]] <psum 0, 0, {{\[\[}}1, 8], [1, 16]]>, %[[WT]] <sbuf 0, 160, {{\[\[}}1, 32], [1, 8]]>, %[[XT]] <sbuf 0, 32, {{\[\[}}1, 32], [6, 4], [1, 4]]> :
// CHECK-NEXT:        loop.matmul %[[ACC]] <psum 0, 0, {{\[\[}}1, 8], [1, 16]]>, %[[WT]] <sbuf 0, 192, {{\[\[}}1, 32], [1, 8]]>, %[[XT]] <sbuf 0, 48, {{\[\[}}1, 32], [6, 4], [1, 4]]> :
// CHECK-NEXT:        loop.matmul %[[ACC]] <psum 0, 0, {{\[\[}}1, 8], [1, 16]]>, %[[WT]] <sbuf 0, 224, {{\[\[}}1, 32], [1, 8]]>, %[[XT]] <sbuf 0, 52, {{\[\[}}1, 32], [6, 4], [1, 4]]> :
// CHECK-NEXT:        loop.matmul %[[ACC]] <psum 0, 0, {{\[\[}}1, 8], [1, 16]]>, %[[WT]] <sbuf 0, 256, {{\[\[}}1, 32], [1, 8]]>, %[[XT]] <sbuf 0, 56, {{\[\[}}1, 32], [6, 4], [1, 4]]> :
// CHECK-NEXT:      }
// CHECK-NEXT:      loop.act "identity" %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 8], [1, 16]]>, %[[ACC]] <psum 0, 0, {{\[\[}}1, 8], [1, 16]]> bias(%[[COL]] : !loop.tile<sbuf, 8, 1>) <sbuf 0, 0, {{\[\[}}1, 8], [1, 1]]>
// CHECK-NEXT:      loop.copy %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 8], [1, 16]]> -> %[[Y]] <dram 0, {{\[\[}}16, 8], [1, 16]]>
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %[[Y]] : memref<1x8x4x4xf32>
func.func @conv_pad(%x: tensor<1x64x4x4xf32>, %w: tensor<8x64x3x3xf32>, %b: tensor<8xf32>) -> tensor<1x8x4x4xf32> {
  %r = graph.conv2d %x, %w, %b {pads = array<i64: 1, 1, 1, 1>, tidal.origin = "conv"} : (tensor<1x64x4x4xf32>, tensor<8x64x3x3xf32>, tensor<8xf32>) -> tensor<1x8x4x4xf32>
  func.return %r : tensor<1x8x4x4xf32>
}

// -----

// conv2d with group = 2 and stride 2, no pads and no bias: no pad nest; the group
// loop (d0) steps the weight, input and output offsets by one group's slice; the
// moving operand of each tap is a stride-2 window (rows step 2 * 8, columns 2).
// CHECK-LABEL: func.func @conv_group
// CHECK-SAME:    (%[[X:.*]]: memref<1x4x8x8xf32>, %[[W:.*]]: memref<6x2x2x2xf32>) -> memref<1x6x4x4xf32> {
// CHECK-NEXT:    %[[Y:.*]] = loop.alloc : memref<1x6x4x4xf32>
// CHECK-NEXT:    loop.nest "gconv" domain [2] order [0] {
// CHECK-NEXT:      %[[WT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 2, 12>
// CHECK-NEXT:      %[[XT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 2, 64>
// CHECK-NEXT:      %[[ACC:.*]] = loop.alloc_tile : !loop.tile<psum, 3, 16>
// CHECK-NEXT:      %[[OUT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 3, 16>
// CHECK-NEXT:      loop.for d0 {
// CHECK-NEXT:        loop.copy %[[W]] <dram 0 + 96 * i0, {{\[\[}}4, 2], [1, 4], [8, 3]]> -> %[[WT]] <sbuf 0, 0, {{\[\[}}1, 2], [1, 12]]>
// CHECK-NEXT:        loop.copy %[[X]] <dram 0 + 512 * i0, {{\[\[}}64, 2], [1, 64]]> -> %[[XT]] <sbuf 0, 0, {{\[\[}}1, 2], [1, 64]]>
// CHECK-NEXT:        loop.matmul %[[ACC]] <psum 0, 0, {{\[\[}}1, 3], [1, 16]]>, %[[WT]] <sbuf 0, 0, {{\[\[}}1, 2], [1, 3]]>, %[[XT]] <sbuf 0, 0, {{\[\[}}1, 2], [16, 4], [2, 4]]> {zero_at = -1 : i64}
// CHECK-NEXT:        loop.matmul %[[ACC]] <psum 0, 0, {{\[\[}}1, 3], [1, 16]]>, %[[WT]] <sbuf 0, 12, {{\[\[}}1, 2], [1, 3]]>, %[[XT]] <sbuf 0, 4, {{\[\[}}1, 2], [16, 4], [2, 4]]> :
// CHECK-NEXT:        loop.matmul %[[ACC]] <psum 0, 0, {{\[\[}}1, 3], [1, 16]]>, %[[WT]] <sbuf 0, 24, {{\[\[}}1, 2], [1, 3]]>, %[[XT]] <sbuf 0, 32, {{\[\[}}1, 2], [16, 4], [2, 4]]> :
// CHECK-NEXT:        loop.matmul %[[ACC]] <psum 0, 0, {{\[\[}}1, 3], [1, 16]]>, %[[WT]] <sbuf 0, 36, {{\[\[}}1, 2], [1, 3]]>, %[[XT]] <sbuf 0, 36, {{\[\[}}1, 2], [16, 4], [2, 4]]> :
// CHECK-NEXT:        loop.act "identity" %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 3], [1, 16]]>, %[[ACC]] <psum 0, 0, {{\[\[}}1, 3], [1, 16]]> {scale = 1.000000e+00 : f32, bias = 0.000000e+00 : f32}
// CHECK-NEXT:        loop.copy %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 3], [1, 16]]> -> %[[Y]] <dram 0 + 192 * i0, {{\[\[}}16, 3], [1, 16]]>
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %[[Y]] : memref<1x6x4x4xf32>
func.func @conv_group(%x: tensor<1x4x8x8xf32>, %w: tensor<6x2x2x2xf32>) -> tensor<1x6x4x4xf32> {
  %r = graph.conv2d %x, %w {strides = array<i64: 2, 2>, group = 2 : i64, tidal.origin = "gconv"} : (tensor<1x4x8x8xf32>, tensor<6x2x2x2xf32>) -> tensor<1x6x4x4xf32>
  func.return %r : tensor<1x6x4x4xf32>
}

// -----

// Depthwise conv2d (group = channels = 3) with pads 1: a pad nest writes the padded
// input, then one group per channel (d0 over 3), each a single-partition matmul per
// filter tap (nine of them, the first zeroing PSUM) whose moving operand is the tap's
// 4x4 window of the 6x6 padded plane.
// CHECK-LABEL: func.func @conv_depthwise
// CHECK-SAME:    (%[[X:.*]]: memref<1x3x4x4xf32>, %[[W:.*]]: memref<3x1x3x3xf32>) -> memref<1x3x4x4xf32> {
// CHECK:         %[[P:.*]] = loop.alloc : memref<1x3x6x6xf32>
// CHECK:         loop.nest "dw.pad" domain [] order [] {
// CHECK:         loop.nest "dw" domain [3] order [0] {
// CHECK-NEXT:      %[[WT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 1, 9>
// CHECK-NEXT:      %[[XT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 1, 36>
// CHECK-NEXT:      %[[ACC:.*]] = loop.alloc_tile : !loop.tile<psum, 1, 16>
// CHECK-NEXT:      %[[OUT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 1, 16>
// CHECK-NEXT:      loop.for d0 {
// CHECK-NEXT:        loop.copy %[[W]] <dram 0 + 36 * i0, {{\[\[}}9, 1], [1, 9], [9, 1]]> -> %[[WT]]
// CHECK-NEXT:        loop.copy %[[P]] <dram 0 + 144 * i0, {{\[\[}}36, 1], [1, 36]]> -> %[[XT]]
// CHECK-NEXT:        loop.matmul %[[ACC]] <psum 0, 0, {{\[\[}}1, 1], [1, 16]]>, %[[WT]] <sbuf 0, 0, {{\[\[}}1, 1], [1, 1]]>, %[[XT]] <sbuf 0, 0, {{\[\[}}1, 1], [6, 4], [1, 4]]> {zero_at = -1 : i64}
// CHECK-COUNT-7:     loop.matmul %[[ACC]] <psum 0, 0, {{\[\[}}1, 1], [1, 16]]>, %[[WT]] <sbuf 0, {{[0-9]+}}, {{\[\[}}1, 1], [1, 1]]>, %[[XT]] <sbuf 0, {{[0-9]+}}, {{\[\[}}1, 1], [6, 4], [1, 4]]> :
// CHECK-NEXT:        loop.matmul %[[ACC]] <psum 0, 0, {{\[\[}}1, 1], [1, 16]]>, %[[WT]] <sbuf 0, 32, {{\[\[}}1, 1], [1, 1]]>, %[[XT]] <sbuf 0, 56, {{\[\[}}1, 1], [6, 4], [1, 4]]> :
// CHECK-NEXT:        loop.act "identity" %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 1], [1, 16]]>, %[[ACC]]
// CHECK-NEXT:        loop.copy %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 1], [1, 16]]> -> %{{.*}} <dram 0 + 64 * i0, {{\[\[}}16, 1], [1, 16]]>
func.func @conv_depthwise(%x: tensor<1x3x4x4xf32>, %w: tensor<3x1x3x3xf32>) -> tensor<1x3x4x4xf32> {
  %r = graph.conv2d %x, %w {pads = array<i64: 1, 1, 1, 1>, group = 3 : i64, tidal.origin = "dw"} : (tensor<1x3x4x4xf32>, tensor<3x1x3x3xf32>) -> tensor<1x3x4x4xf32>
  func.return %r : tensor<1x3x4x4xf32>
}

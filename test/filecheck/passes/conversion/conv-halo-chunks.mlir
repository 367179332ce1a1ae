// RUN: tidal-opt %s -p 'graph-to-loop{chip=small conv_inplace=false row_pack=false}' --split-input-file | filecheck %s
// RUN: tidal-opt %s -p 'graph-to-loop{chip=small conv_inplace=false row_pack=false halo_chunks=false}' --split-input-file | filecheck %s --check-prefix=OFF

// A padded 3x3 conv, 24 -> 16 channels on 24x40 pixels, on the small chip, its
// whole input in a zero-bordered 26x42 plane (a halo; conv_inplace off). Two PSUM
// blocks of 12 output rows; block 0's windows read input rows 0-12, so with
// halo_chunks the input comes in two pieces: rows 0-12 into plane rows 1-13 (sbuf
// offset 172 = (42 + 1) x 4), then rows 13-23 (DRAM offset 2080 = 13 x 40 x 4)
// into plane rows 14-24 (offset 2356 = (14 x 42 + 1) x 4); block 0's matmuls need
// the first piece only.
// CHECK-LABEL: func.func @conv
// CHECK:         %[[XT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 24, 1092>
// CHECK-COUNT-3:   loop.memset %[[XT]]
// CHECK-NEXT:      loop.copy %x <dram 0, {{\[\[}}960, 24], [40, 13], [1, 40]]> -> %[[XT]] <sbuf 0, 172, {{\[\[}}1, 24], [42, 13], [1, 40]]>
// CHECK-NEXT:      loop.copy %x <dram 2080, {{\[\[}}960, 24], [40, 11], [1, 40]]> -> %[[XT]] <sbuf 0, 2356, {{\[\[}}1, 24], [42, 11], [1, 40]]>
// CHECK-NEXT:      loop.copy %w
// CHECK-COUNT-18:  loop.matmul
// Off: one copy of the whole input.
// OFF-LABEL: func.func @conv
// OFF:         %[[XT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 24, 1092>
// OFF-COUNT-3:   loop.memset %[[XT]]
// OFF-NEXT:      loop.copy %x <dram 0, {{\[\[}}960, 24], [40, 24], [1, 40]]> -> %[[XT]] <sbuf 0, 172, {{\[\[}}1, 24], [42, 24], [1, 40]]>
// OFF-NEXT:      loop.copy %w
func.func @conv(%x: tensor<1x24x24x40xf32>, %w: tensor<16x24x3x3xf32>, %b: tensor<16xf32>) -> tensor<1x16x24x40xf32> {
  %r = graph.conv2d %x, %w, %b {pads = array<i64: 1, 1, 1, 1>, activation = "relu", tidal.origin = "conv"} : (tensor<1x24x24x40xf32>, tensor<16x24x3x3xf32>, tensor<16xf32>) -> tensor<1x16x24x40xf32>
  func.return %r : tensor<1x16x24x40xf32>
}

// -----

// 8 input channels: row-taps lays the input three times on the 24 partitions, copy
// k on partitions 8k onwards, k columns to the left (sbuf offsets 172, 168, 164).
// With halo_chunks each copy comes in the same two pieces, the first piece of
// every copy before the second.
// CHECK-LABEL: func.func @taps
// CHECK:         %[[XT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 24, 1092>
// CHECK-COUNT-9:   loop.memset %[[XT]]
// CHECK-NEXT:      loop.copy %x <dram 0, {{\[\[}}960, 8], [40, 13], [1, 40]]> -> %[[XT]] <sbuf 0, 172, {{\[\[}}1, 8], [42, 13], [1, 40]]>
// CHECK-NEXT:      loop.copy %x <dram 0, {{\[\[}}960, 8], [40, 13], [1, 40]]> -> %[[XT]] <sbuf 8, 168, {{\[\[}}1, 8], [42, 13], [1, 40]]>
// CHECK-NEXT:      loop.copy %x <dram 0, {{\[\[}}960, 8], [40, 13], [1, 40]]> -> %[[XT]] <sbuf 16, 164, {{\[\[}}1, 8], [42, 13], [1, 40]]>
// CHECK-NEXT:      loop.copy %x <dram 2080, {{\[\[}}960, 8], [40, 11], [1, 40]]> -> %[[XT]] <sbuf 0, 2356, {{\[\[}}1, 8], [42, 11], [1, 40]]>
// CHECK-NEXT:      loop.copy %x <dram 2080, {{\[\[}}960, 8], [40, 11], [1, 40]]> -> %[[XT]] <sbuf 8, 2352, {{\[\[}}1, 8], [42, 11], [1, 40]]>
// CHECK-NEXT:      loop.copy %x <dram 2080, {{\[\[}}960, 8], [40, 11], [1, 40]]> -> %[[XT]] <sbuf 16, 2348, {{\[\[}}1, 8], [42, 11], [1, 40]]>
// CHECK-NEXT:      loop.copy %w
// OFF-LABEL: func.func @taps
// OFF-COUNT-9:   loop.memset
// OFF-NEXT:      loop.copy %x <dram 0, {{\[\[}}960, 8], [40, 24], [1, 40]]> -> %{{.*}} <sbuf 0, 172, {{\[\[}}1, 8], [42, 24], [1, 40]]>
// OFF-NEXT:      loop.copy %x <dram 0, {{\[\[}}960, 8], [40, 24], [1, 40]]> -> %{{.*}} <sbuf 8, 168, {{\[\[}}1, 8], [42, 24], [1, 40]]>
// OFF-NEXT:      loop.copy %x <dram 0, {{\[\[}}960, 8], [40, 24], [1, 40]]> -> %{{.*}} <sbuf 16, 164, {{\[\[}}1, 8], [42, 24], [1, 40]]>
// OFF-NEXT:      loop.copy %w
func.func @taps(%x: tensor<1x8x24x40xf32>, %w: tensor<16x8x3x3xf32>) -> tensor<1x16x24x40xf32> {
  %r = graph.conv2d %x, %w {pads = array<i64: 1, 1, 1, 1>, tidal.origin = "taps"} : (tensor<1x8x24x40xf32>, tensor<16x8x3x3xf32>) -> tensor<1x16x24x40xf32>
  func.return %r : tensor<1x16x24x40xf32>
}

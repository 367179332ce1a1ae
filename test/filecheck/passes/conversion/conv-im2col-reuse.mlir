// RUN: tidal-opt %s -p 'graph-to-loop{chip=small}' | filecheck %s
// RUN: tidal-opt %s -p 'graph-to-loop{chip=small im2col_reuse=false}' | filecheck %s --check-prefix=OFF

// A 1-channel 7x7 stride-2 stem padded by 3 on the small chip (32 PE rows): its 49
// taps take two packs either way. Kernel columns 4-6 read the input 4 columns (2
// outputs) to the right of columns 0-2, so the im2col holds the 28 taps of columns
// 0-3 only (column-major: tap (r, s) on partition 7s + r), each of the 8 output
// rows 10 columns wide instead of 8 (columns 8 and 9 are what column s + 4 reads
// at outputs 6 and 7), clipped to the image as im2col-clip does. The weights of
// columns 0-3 go on partitions 0-27, those of columns 4-6 (DRAM offset 16: tap
// (0, 4)) on partitions 0-20 of the next column group; the second matmul
// contracts partitions 0-20 read 2 columns on (byte 8), 8 of each 10-column row.
// CHECK-LABEL: func.func @stem
// CHECK:         loop.nest "stem" domain [] order [] {
// CHECK-NEXT:      %[[ACC:.*]] = loop.alloc_tile : !loop.tile<psum, 4, 64>
// CHECK-NEXT:      %[[XT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 28, 80>
// CHECK-NEXT:      %[[WT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 28, 8>
// CHECK:           loop.copy %x <dram 68, {{\[\[}}32, 6], [2, 8]]> -> %[[XT]] <sbuf 0, 88, {{\[\[}}1, 1], [10, 6], [1, 8]]>
// CHECK:           loop.memset %[[XT]] <sbuf 0, 0, {{\[\[}}1, 1], [1, 20]]> = 0.0
// CHECK:           loop.copy %w <dram 0, {{\[\[}}1, 4], [7, 7], [49, 4]]> -> %[[WT]] <sbuf 0, 0, {{\[\[}}1, 28], [1, 4]]>
// CHECK-NEXT:      loop.copy %w <dram 16, {{\[\[}}1, 3], [7, 7], [49, 4]]> -> %[[WT]] <sbuf 0, 16, {{\[\[}}1, 21], [1, 4]]>
// CHECK:           loop.matmul %[[ACC]] <psum 0, 0, {{\[\[}}1, 4], [1, 64]]>, %[[WT]] <sbuf 0, 0, {{\[\[}}1, 28], [1, 4]]>, %[[XT]] <sbuf 0, 0, {{\[\[}}1, 28], [10, 8], [1, 8]]> {zero_at = -1 : i64}
// CHECK-NEXT:      loop.matmul %[[ACC]] <psum 0, 0, {{\[\[}}1, 4], [1, 64]]>, %[[WT]] <sbuf 0, 16, {{\[\[}}1, 21], [1, 4]]>, %[[XT]] <sbuf 0, 8, {{\[\[}}1, 21], [10, 8], [1, 8]]> :
// CHECK-NEXT:      loop.act "relu"

// Off: every tap loaded, two packs of 25 and 24 taps side by side in the tile's
// columns, each 8 columns a row, the matmuls reading each pack in place.
// OFF-LABEL: func.func @stem
// OFF:         loop.nest "stem" domain [] order [] {
// OFF:           %[[XT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 25, 128>
// OFF:           loop.matmul %{{.*}}, %{{.*}} <sbuf 0, 0, {{\[\[}}1, 25], [1, 4]]>, %[[XT]] <sbuf 0, 0, {{\[\[}}1, 25], [1, 64]]> {zero_at = -1 : i64}
// OFF-NEXT:      loop.matmul %{{.*}}, %{{.*}} <sbuf 0, 16, {{\[\[}}1, 24], [1, 4]]>, %[[XT]] <sbuf 0, 256, {{\[\[}}1, 24], [1, 64]]> :
func.func @stem(%x: tensor<1x1x16x16xf32>, %w: tensor<4x1x7x7xf32>, %b: tensor<4xf32>) -> tensor<1x4x8x8xf32> {
  %r = graph.conv2d %x, %w, %b {strides = array<i64: 2, 2>, pads = array<i64: 3, 3, 3, 3>, activation = "relu", tidal.origin = "stem"} : (tensor<1x1x16x16xf32>, tensor<4x1x7x7xf32>, tensor<4xf32>) -> tensor<1x4x8x8xf32>
  func.return %r : tensor<1x4x8x8xf32>
}

// RUN: tidal-opt %s -p 'graph-to-loop{chip=small}' | filecheck %s
// RUN: tidal-opt %s -p 'graph-to-loop{chip=small im2col_clip=false}' | filecheck %s --check-prefix=OFF

// A 3-channel 3x3 stride-2 stem padded by 1 on the small chip: 9 taps x 3 channels
// = 27 im2col rows, the taps column by column (s-major: tap (r, s) on partitions
// (3s + r) x 3 onwards). Its im2col loads come from the unpadded 16x16 input, each
// run of taps the image clips alike over its own rectangle of the 8x8 outputs:
// tap (0, 0) rows and columns 1-7; taps (1, 0), (2, 0) columns 1-7; tap (0, 1)
// rows 1-7; taps (1, 1), (2, 1) every output; tap (0, 2) rows 1-7; taps (1, 2),
// (2, 2) every output. Memsets zero what they leave: row 0 and column 0 of tap
// (0, 0), column 0 of taps (1, 0), (2, 0), row 0 of taps (0, 1) and (0, 2). The
// weights come column by column too. No pad nest, no padded buffer.
// CHECK-LABEL: func.func @stem
// CHECK-NOT:     loop.nest "stem.pad"
// CHECK:         loop.nest "stem" domain [] order [] {
// CHECK:           %[[XT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 27, 64>
// CHECK-NEXT:      %[[WT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 27, 8>
// CHECK:           loop.copy %x <dram 68, {{\[\[}}256, 3], [32, 7], [2, 7]]> -> %[[XT]] <sbuf 0, 36, {{\[\[}}1, 3], [8, 7], [1, 7]]>
// CHECK-NEXT:      loop.copy %x <dram 4, {{\[\[}}16, 2], [256, 3], [32, 8], [2, 7]]> -> %[[XT]] <sbuf 3, 4, {{\[\[}}1, 6], [8, 8], [1, 7]]>
// CHECK-NEXT:      loop.copy %x <dram 64, {{\[\[}}256, 3], [32, 7], [2, 8]]> -> %[[XT]] <sbuf 9, 32, {{\[\[}}1, 3], [1, 56]]>
// CHECK-NEXT:      loop.copy %x <dram 0, {{\[\[}}16, 2], [256, 3], [32, 8], [2, 8]]> -> %[[XT]] <sbuf 12, 0, {{\[\[}}1, 6], [1, 64]]>
// CHECK-NEXT:      loop.copy %x <dram 68, {{\[\[}}256, 3], [32, 7], [2, 8]]> -> %[[XT]] <sbuf 18, 32, {{\[\[}}1, 3], [1, 56]]>
// CHECK-NEXT:      loop.copy %x <dram 4, {{\[\[}}16, 2], [256, 3], [32, 8], [2, 8]]> -> %[[XT]] <sbuf 21, 0, {{\[\[}}1, 6], [1, 64]]>
// CHECK-NEXT:      loop.memset %[[XT]] <sbuf 0, 0, {{\[\[}}1, 3], [1, 8]]> = 0.0
// CHECK-NEXT:      loop.memset %[[XT]] <sbuf 0, 32, {{\[\[}}1, 3], [8, 7]]> = 0.0
// CHECK-NEXT:      loop.memset %[[XT]] <sbuf 3, 0, {{\[\[}}1, 6], [8, 8]]> = 0.0
// CHECK-NEXT:      loop.memset %[[XT]] <sbuf 9, 0, {{\[\[}}1, 3], [1, 8]]> = 0.0
// CHECK-NEXT:      loop.memset %[[XT]] <sbuf 18, 0, {{\[\[}}1, 3], [1, 8]]> = 0.0
// CHECK-NEXT:      loop.copy %w <dram 0, {{\[\[}}1, 3], [3, 3], [9, 3], [27, 8]]> -> %[[WT]] <sbuf 0, 0, {{\[\[}}1, 27], [1, 8]]>
// CHECK:           loop.matmul %{{.*}}, %[[WT]] <sbuf 0, 0, {{\[\[}}1, 27], [1, 8]]>, %[[XT]] <sbuf 0, 0, {{\[\[}}1, 27], [1, 64]]>
// CHECK-NEXT:      loop.act "relu"

// Off: the input padded into an 18x18 buffer in DRAM first (the pad nest), then
// one im2col DMA per kernel row of taps (row-major) from it, no memsets.
// OFF-LABEL: func.func @stem
// OFF:         %[[XP:.*]] = loop.alloc : memref<1x3x18x18xf32>
// OFF-NEXT:    loop.nest "stem.pad"
// OFF:         loop.nest "stem" domain [] order [] {
// OFF-NOT:       loop.memset
// OFF:           loop.copy %[[XP]] <dram 0, {{\[\[}}1, 3], [324, 3], [36, 8], [2, 8]]> -> %{{.*}} <sbuf 0, 0, {{\[\[}}1, 9], [1, 64]]>
// OFF-NEXT:      loop.copy %[[XP]] <dram 72,
// OFF-NEXT:      loop.copy %[[XP]] <dram 144,
// OFF-NEXT:      loop.copy %w <dram 0, {{\[\[}}1, 9], [9, 3], [27, 8]]>
// OFF:           loop.matmul
func.func @stem(%x: tensor<1x3x16x16xf32>, %w: tensor<8x3x3x3xf32>, %b: tensor<8xf32>) -> tensor<1x8x8x8xf32> {
  %r = graph.conv2d %x, %w, %b {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, activation = "relu", tidal.origin = "stem"} : (tensor<1x3x16x16xf32>, tensor<8x3x3x3xf32>, tensor<8xf32>) -> tensor<1x8x8x8xf32>
  func.return %r : tensor<1x8x8x8xf32>
}

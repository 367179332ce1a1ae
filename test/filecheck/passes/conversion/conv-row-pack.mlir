// RUN: tidal-opt %s -p 'graph-to-loop{chip=small}' | filecheck %s
// RUN: tidal-opt %s -p 'graph-to-loop{chip=small conv_inplace=false}' | filecheck %s --check-prefix=HALO
// RUN: tidal-opt %s -p 'graph-to-loop{chip=small row_pack=false}' | filecheck %s --check-prefix=OFF

// A 3x3 conv of 32 -> 8 channels on the small chip's 32 x 32 array: 8 output
// channels fill a quarter of the PE columns, so row-pack computes 4 adjacent
// output rows per matmul (16 / 4 = 4 packed rows of 16 pixels). Column group j
// (PSUM partitions 8j onwards) holds output row 4r + 3 - j. The weight tile holds
// the kernel rows between 3 zero rows before and after them (9 rows of 3 taps x 8
// channels: 216 elements, the zeros by two memsets, W by one copy at row 3), and
// the stationary operand of input row dy, column kx is the window [[24, 4], [1, 8]]
// at (dy x 3 + kx) x 8: group j reads padded kernel row dy + j. In place (the
// unpadded input as it lies): 18 (dy, kx) rectangles of the packed outputs whose
// input row 4r + dy - 1 and column lie inside the image (stride 4 x 16 = 64
// elements), the full one first (dy = 1, kx = 1: weight bytes 4 x (3 + 1) x 8 =
// 128), starting the sum. The bias lies once per group, and each group's rows
// leave by a copy of their own to rows 4r + 3 - j.
// CHECK-LABEL: loop.nest "conv" domain [] order [] {
// CHECK-NEXT:    %[[ACC:.*]] = loop.alloc_tile : !loop.tile<psum, 32, 64>
// CHECK-NEXT:    %[[X:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 256>
// CHECK-NEXT:    %[[W:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 216>
// CHECK-NEXT:    %[[B:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 1>
// CHECK-NEXT:    %[[O:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 64>
// CHECK-NEXT:    loop.copy %x <dram 0, {{\[\[}}256, 32], [1, 256]]> -> %[[X]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 256]]>
// CHECK-NEXT:    loop.memset %[[W]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 72]]> = 0.0
// CHECK-NEXT:    loop.memset %[[W]] <sbuf 0, 576, {{\[\[}}1, 32], [1, 72]]> = 0.0
// CHECK-NEXT:    loop.copy %w <dram 0, {{\[\[}}9, 32], [1, 9], [288, 8]]> -> %[[W]] <sbuf 0, 288, {{\[\[}}1, 32], [1, 72]]>
// CHECK-NEXT:    loop.copy %b <dram 0, {{\[\[}}1, 8]]> -> %[[B]] <sbuf 0, 0,
// CHECK-NEXT:    loop.copy %b <dram 0, {{\[\[}}1, 8]]> -> %[[B]] <sbuf 8, 0,
// CHECK-NEXT:    loop.copy %b <dram 0, {{\[\[}}1, 8]]> -> %[[B]] <sbuf 16, 0,
// CHECK-NEXT:    loop.copy %b <dram 0, {{\[\[}}1, 8]]> -> %[[B]] <sbuf 24, 0,
// CHECK-NEXT:    loop.matmul %[[ACC]] <psum 0, 0, {{\[\[}}1, 32], [16, 4], [1, 16]]>, %[[W]] <sbuf 0, 128, {{\[\[}}1, 32], [24, 4], [1, 8]]>, %[[X]] <sbuf 0, 0, {{\[\[}}1, 32], [64, 4], [1, 16]]> {zero_at = -1 : i64}
// CHECK-COUNT-17: loop.matmul %[[ACC]] <psum 0, {{[0-9]+}}, {{\[\[}}1, 32], [16, {{[34]}}], [1, {{1[56]}}]]>, %[[W]] <sbuf 0, {{[0-9]+}}, {{\[\[}}1, 32], [24, 4], [1, 8]]>, %[[X]] <sbuf 0, {{[0-9]+}}, {{\[\[}}1, 32], [64, {{[34]}}], [1, {{1[56]}}]]>
// CHECK-NEXT:    loop.act "relu" %[[O]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 64]]>, %[[ACC]] <psum 0, 0, {{\[\[}}1, 32], [1, 64]]> bias(%[[B]]
// CHECK-NEXT:    loop.copy %[[O]] <sbuf 0, 0, {{\[\[}}1, 8], [1, 64]]> -> %r <dram 192, {{\[\[}}256, 8], [64, 4], [1, 16]]>
// CHECK-NEXT:    loop.copy %[[O]] <sbuf 8, 0, {{\[\[}}1, 8], [1, 64]]> -> %r <dram 128, {{\[\[}}256, 8], [64, 4], [1, 16]]>
// CHECK-NEXT:    loop.copy %[[O]] <sbuf 16, 0, {{\[\[}}1, 8], [1, 64]]> -> %r <dram 64, {{\[\[}}256, 8], [64, 4], [1, 16]]>
// CHECK-NEXT:    loop.copy %[[O]] <sbuf 24, 0, {{\[\[}}1, 8], [1, 64]]> -> %r <dram 0, {{\[\[}}256, 8], [64, 4], [1, 16]]>
// CHECK-NEXT:  }

// Without conv-in-place: the input padded in SBUF (18 x 18 planes, borders zeroed),
// and every (dy, kx) one matmul of all 64 packed outputs over input rows 4r + dy
// (stride 4 x 18 = 72), the first starting the sum.
// HALO-LABEL: loop.nest "conv" domain [] order [] {
// HALO:         loop.copy %x <dram 0, {{\[\[}}256, 32], [16, 16], [1, 16]]> -> %{{.*}} <sbuf 0, 76, {{\[\[}}1, 32], [18, 16], [1, 16]]>
// HALO:         loop.matmul %{{.*}} <psum 0, 0, {{\[\[}}1, 32], [1, 64]]>, %{{.*}} <sbuf 0, 0, {{\[\[}}1, 32], [24, 4], [1, 8]]>, %{{.*}} <sbuf 0, 0, {{\[\[}}1, 32], [72, 4], [1, 16]]> {zero_at = -1 : i64}
// HALO-NEXT:    loop.matmul %{{.*}} <psum 0, 0, {{\[\[}}1, 32], [1, 64]]>, %{{.*}} <sbuf 0, 32, {{\[\[}}1, 32], [24, 4], [1, 8]]>, %{{.*}} <sbuf 0, 4, {{\[\[}}1, 32], [72, 4], [1, 16]]> :
// HALO-COUNT-16: loop.matmul
// HALO-NEXT:    loop.act "relu"

// Off: one output row per PE column group, 9 taps of 8 columns over all 16 rows.
// OFF-LABEL: loop.nest "conv" domain [] order [] {
// OFF:         %{{.*}} = loop.alloc_tile : !loop.tile<psum, 8, 256>
// OFF-COUNT-9: loop.matmul %{{.*}} <psum 0, {{[0-9]+}}, {{\[\[}}1, 8],
// OFF-NOT:     loop.matmul
func.func @conv(%x: tensor<1x32x16x16xf32>, %w: tensor<8x32x3x3xf32>, %b: tensor<8xf32>) -> tensor<1x8x16x16xf32> {
  %r = graph.conv2d %x, %w, %b {pads = array<i64: 1, 1, 1, 1>, activation = "relu", tidal.origin = "conv"} : (tensor<1x32x16x16xf32>, tensor<8x32x3x3xf32>, tensor<8xf32>) -> tensor<1x8x16x16xf32>
  func.return %r : tensor<1x8x16x16xf32>
}

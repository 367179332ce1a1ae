// RUN: tidal-opt %s -p 'graph-to-loop{chip=small}' | filecheck %s
// RUN: tidal-opt %s -p 'graph-to-loop{chip=small conv_band_input=false}' | filecheck %s --check-prefix=OFF

// A 3x3 stride-2 max pool of 8 channels on the small chip's 32 partitions runs in
// 4 bands of 4 output rows side by side (pool-bands), each band stored by a copy
// from partitions 8b onwards. The 1x1 conv after it (conv-band-input) loads its
// input in that layout (one copy per band, the same partitions and bytes as the
// pool's stores, which loop-keep-on-chip then forwards), and its stationary
// operand holds W^T once per band: zeros, then W^T on rows 8b onwards at columns
// 16b onwards. Each band's 64 pixels are one matmul over all 32 rows against
// that band's 16 columns (the other bands' rows meet zeros), evacuated to the
// band's rows of the usual output tile.
// CHECK-LABEL: func.func @pool_conv
// CHECK:         loop.copy %{{.*}} <sbuf 24, 0, {{\[\[}}1, 8], [1, 64]]> -> %p <dram 768, {{\[\[}}256, 8], [1, 64]]>
// CHECK:         loop.nest "conv" domain [] order [] {
// CHECK-COUNT-4:   loop.alloc_tile : !loop.tile<psum, 16, 64>
// CHECK-NEXT:      %[[XT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 64>
// CHECK-NEXT:      %[[WT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 64>
// CHECK-NEXT:      %{{.*}} = loop.alloc_tile : !loop.tile<sbuf, 16, 1>
// CHECK-NEXT:      %[[OUT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 16, 256>
// CHECK-NEXT:      loop.copy %p <dram 0, {{\[\[}}256, 8], [1, 64]]> -> %[[XT]] <sbuf 0, 0, {{\[\[}}1, 8], [1, 64]]>
// CHECK-NEXT:      loop.copy %p <dram 256, {{\[\[}}256, 8], [1, 64]]> -> %[[XT]] <sbuf 8, 0, {{\[\[}}1, 8], [1, 64]]>
// CHECK-NEXT:      loop.copy %p <dram 512, {{\[\[}}256, 8], [1, 64]]> -> %[[XT]] <sbuf 16, 0, {{\[\[}}1, 8], [1, 64]]>
// CHECK-NEXT:      loop.copy %p <dram 768, {{\[\[}}256, 8], [1, 64]]> -> %[[XT]] <sbuf 24, 0, {{\[\[}}1, 8], [1, 64]]>
// CHECK-NEXT:      loop.memset %[[WT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 64]]> = 0.0
// CHECK-NEXT:      loop.copy %w <dram 0, {{\[\[}}1, 8], [8, 16]]> -> %[[WT]] <sbuf 0, 0, {{\[\[}}1, 8], [1, 16]]>
// CHECK-NEXT:      loop.copy %w <dram 0, {{\[\[}}1, 8], [8, 16]]> -> %[[WT]] <sbuf 8, 64, {{\[\[}}1, 8], [1, 16]]>
// CHECK-NEXT:      loop.copy %w <dram 0, {{\[\[}}1, 8], [8, 16]]> -> %[[WT]] <sbuf 16, 128, {{\[\[}}1, 8], [1, 16]]>
// CHECK-NEXT:      loop.copy %w <dram 0, {{\[\[}}1, 8], [8, 16]]> -> %[[WT]] <sbuf 24, 192, {{\[\[}}1, 8], [1, 16]]>
// CHECK-NEXT:      loop.copy %b
// CHECK-NEXT:      loop.matmul %{{.*}} <psum 0, 0, {{\[\[}}1, 16], [1, 64]]>, %[[WT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 16]]>, %[[XT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 64]]> {zero_at = -1 : i64}
// CHECK-NEXT:      loop.act "relu" %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 16], [1, 64]]>
// CHECK-NEXT:      loop.matmul %{{.*}}, %[[WT]] <sbuf 0, 64, {{\[\[}}1, 32], [1, 16]]>, %[[XT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 64]]>
// CHECK-NEXT:      loop.act "relu" %[[OUT]] <sbuf 0, 256, {{\[\[}}1, 16], [1, 64]]>
// CHECK-NEXT:      loop.matmul %{{.*}}, %[[WT]] <sbuf 0, 128, {{\[\[}}1, 32], [1, 16]]>, %[[XT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 64]]>
// CHECK-NEXT:      loop.act "relu" %[[OUT]] <sbuf 0, 512, {{\[\[}}1, 16], [1, 64]]>
// CHECK-NEXT:      loop.matmul %{{.*}}, %[[WT]] <sbuf 0, 192, {{\[\[}}1, 32], [1, 16]]>, %[[XT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 64]]>
// CHECK-NEXT:      loop.act "relu" %[[OUT]] <sbuf 0, 768, {{\[\[}}1, 16], [1, 64]]>
// CHECK-NEXT:      loop.copy %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 16], [1, 256]]> -> %r <dram 0, {{\[\[}}256, 16], [1, 256]]>
// CHECK-NEXT:    }

// Off: the whole input on 8 partitions by one copy (an SBUF-to-SBUF copy out of
// the pool's bands once kept on chip), one matmul of 8 rows over all 256 pixels.
// OFF-LABEL: func.func @pool_conv
// OFF:         loop.nest "conv" domain [] order [] {
// OFF:           loop.copy %p <dram 0, {{\[\[}}256, 8], [1, 256]]> -> %{{.*}} <sbuf 0, 0, {{\[\[}}1, 8], [1, 256]]>
// OFF-NEXT:      loop.copy %w
// OFF-NEXT:      loop.copy %b
// OFF-NEXT:      loop.matmul %{{.*}} <psum 0, 0, {{\[\[}}1, 16], [1, 256]]>, %{{.*}} <sbuf 0, 0, {{\[\[}}1, 8], [1, 16]]>
func.func @pool_conv(%x: tensor<1x8x32x32xf32>, %w: tensor<16x8x1x1xf32>, %b: tensor<16xf32>) -> tensor<1x16x16x16xf32> {
  %p = graph.maxpool %x {kernel_shape = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, tidal.origin = "pool"} : (tensor<1x8x32x32xf32>) -> tensor<1x8x16x16xf32>
  %r = graph.conv2d %p, %w, %b {activation = "relu", tidal.origin = "conv"} : (tensor<1x8x16x16xf32>, tensor<16x8x1x1xf32>, tensor<16xf32>) -> tensor<1x16x16x16xf32>
  func.return %r : tensor<1x16x16x16xf32>
}

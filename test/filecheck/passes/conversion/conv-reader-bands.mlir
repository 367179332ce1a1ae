// RUN: tidal-opt %s -p 'graph-to-loop{chip=default im2col_reuse=false}' | filecheck %s
// RUN: tidal-opt %s -p 'graph-to-loop{chip=default conv_reader_bands=false im2col_reuse=false}' | filecheck %s --check-prefix=OFF

// A 7x7 stride-2 stem of 64 channels (147 im2col rows: two packs of 25 and 24
// taps, so conv-bands never bands it) whose one reader, a 3x3 stride-2 max pool,
// would read 2 bands of rows side by side on the 128 partitions in place: the
// stem writes its output in those 2 bands, on the PE columns only (mbands). Band
// b's im2col lies in columns of its own (band 1's after band 0's two packs of 32
// rows x 64), each pack's weights in the middle of three 64-column groups (zeros
// memset around them), and band b's matmuls take the window whose column group b
// holds the weights: band 0 at group 1 (byte 256), band 1 at group 0. Each
// block's 4 matmuls accumulate into one 128-partition PSUM bank, one ACT
// evacuates both bands, and each band's rows leave by a copy of their own. The
// pool reads the 2 bands where they lie (band 1's halo row from band 0's last).
// CHECK-LABEL: func.func @stem_pool
// CHECK:         loop.nest "stem" domain [4] order [0] {
// CHECK-NEXT:      %[[ACC:.*]] = loop.alloc_tile : !loop.tile<psum, 128, 512>
// CHECK-NEXT:      %[[XT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 75, 8192>
// CHECK-NEXT:      %[[WT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 75, 384>
// CHECK:           loop.memset %[[WT]] <sbuf 0, 0, {{\[\[}}1, 75], [1, 384]]> = 0.000000e+00
// CHECK-NEXT:      loop.copy %w <dram 0, {{.*}}> -> %[[WT]] <sbuf 0, 256, {{\[\[}}1, 63], [1, 64]]>
// CHECK:           loop.for d0 {
// CHECK-NEXT:        loop.matmul %[[ACC]] <psum 0, 0, {{\[\[}}1, 128], [1, 512]]>, %[[WT]] <sbuf 0, 256, {{\[\[}}1, 75], [1, 128]]>, %[[XT]] <sbuf 0, 0 + 2048 * i0, {{\[\[}}1, 75], [1, 512]]> {zero_at = -1 : i64}
// CHECK-NEXT:        loop.matmul %[[ACC]] <psum 0, 0, {{\[\[}}1, 128], [1, 512]]>, %[[WT]] <sbuf 0, 0, {{\[\[}}1, 75], [1, 128]]>, %[[XT]] <sbuf 0, 16384 + 2048 * i0, {{\[\[}}1, 75], [1, 512]]>
// CHECK-NEXT:        loop.matmul %[[ACC]] <psum 0, 0, {{\[\[}}1, 128], [1, 512]]>, %[[WT]] <sbuf 0, 1024, {{\[\[}}1, 72], [1, 128]]>, %[[XT]] <sbuf 0, 8192 + 2048 * i0, {{\[\[}}1, 72], [1, 512]]>
// CHECK-NEXT:        loop.matmul %[[ACC]] <psum 0, 0, {{\[\[}}1, 128], [1, 512]]>, %[[WT]] <sbuf 0, 768, {{\[\[}}1, 72], [1, 128]]>, %[[XT]] <sbuf 0, 24576 + 2048 * i0, {{\[\[}}1, 72], [1, 512]]>
// CHECK-NEXT:        loop.act "relu" %[[OUT:.*]] <sbuf 0, 0 + 2048 * i0, {{\[\[}}1, 128], [1, 512]]>, %[[ACC]]
// CHECK-NEXT:        loop.copy %[[OUT]] <sbuf 0, 0 + 2048 * i0, {{\[\[}}1, 64], [1, 512]]> -> %s <dram 0 + 2048 * i0, {{\[\[}}4096, 64], [1, 512]]>
// CHECK-NEXT:        loop.copy %[[OUT]] <sbuf 64, 0 + 2048 * i0, {{\[\[}}1, 64], [1, 512]]> -> %s <dram 8192 + 2048 * i0, {{\[\[}}4096, 64], [1, 512]]>
// CHECK-NEXT:      }
// CHECK:         loop.nest "pool" domain [] order [] {
// CHECK:           loop.copy %s <dram 0, {{\[\[}}4096, 64], [1, 2048]]> -> %{{.*}} <sbuf 0, 0, {{\[\[}}1, 64], [1, 2048]]>
// CHECK-NEXT:      loop.copy %s <dram 8192, {{\[\[}}4096, 64], [1, 2048]]> -> %{{.*}} <sbuf 64, 0, {{\[\[}}1, 64], [1, 2048]]>
// CHECK-NEXT:      loop.copy %s <dram 7936, {{\[\[}}4096, 64], [1, 64]]> -> %{{.*}} <sbuf 64, 0, {{\[\[}}1, 64], [1, 64]]>
// CHECK:           loop.tensor_tensor "max" %{{.*}} <sbuf 0, 0, {{\[\[}}1, 128]

// Off: one band of 64 partitions, 8 row blocks in 8 PSUM banks, the pool over the
// 64-channel plane.
// OFF-LABEL: func.func @stem_pool
// OFF:         loop.nest "stem" domain [] order [] {
// OFF-COUNT-8:     loop.alloc_tile : !loop.tile<psum, 64, 512>
// OFF:             loop.matmul %{{.*}} <psum 0, 0, {{\[\[}}1, 64], [1, 512]]>, %{{.*}} <sbuf 0, 0, {{\[\[}}1, 75], [1, 64]]>
// OFF:         loop.nest "pool"
// OFF-NOT:       <sbuf 64,
// OFF:         func.return
func.func @stem_pool(%x: tensor<1x3x128x128xf32>, %w: tensor<64x3x7x7xf32>, %b: tensor<64xf32>) -> tensor<1x64x32x32xf32> {
  %s = graph.conv2d %x, %w, %b {strides = array<i64: 2, 2>, pads = array<i64: 3, 3, 3, 3>, activation = "relu", tidal.origin = "stem"} : (tensor<1x3x128x128xf32>, tensor<64x3x7x7xf32>, tensor<64xf32>) -> tensor<1x64x64x64xf32>
  %p = graph.maxpool %s {kernel_shape = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, tidal.origin = "pool"} : (tensor<1x64x64x64xf32>) -> tensor<1x64x32x32xf32>
  func.return %p : tensor<1x64x32x32xf32>
}

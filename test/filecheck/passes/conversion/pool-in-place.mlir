// RUN: tidal-opt %s -p 'graph-to-loop{chip=small}' | filecheck %s
// RUN: tidal-opt %s -p 'graph-to-loop{chip=small pool_inplace=false}' | filecheck %s --check-prefix=OFF

// maxpool 3x3 stride 2 pads 1 on 64 channels (two tiles of 32 on the small chip),
// in place (pool_inplace): both tiles' unpadded 8x8 planes are one tile loaded by one
// whole copy (which loop-keep-on-chip replaces by the producer's tile when it keeps
// the input), no -inf fill. Per channel tile, the column maxima of every row: the
// middle column tap (input column 2x, every output) copied, the right one (2x + 1,
// every output) maxed in, the left one (2x - 1) over output columns 1-3 only (offset
// 4 bytes, from input column 1); then the row maxima likewise: rows 2y and 2y + 1
// over every output row, row 2y - 1 over output rows 1-3 (offset 16 bytes).
// CHECK-LABEL: func.func @maxpool
// CHECK:         loop.nest "mp" domain [2] order [0] {
// CHECK-NEXT:      %[[XT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 128>
// CHECK-NEXT:      %[[OUT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
// CHECK-NEXT:      %[[COLS:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
// CHECK-NOT:       loop.memset
// CHECK-NEXT:      loop.copy %{{.*}} <dram 0, {{\[\[}}64, 32], [2048, 2], [1, 64]]> -> %[[XT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 128]]>
// CHECK-NEXT:      loop.for d0 {
// CHECK-NEXT:        loop.tensor_tensor "max" %[[COLS]] <sbuf 0, 0, {{\[\[}}1, 32], [4, 8], [1, 4]]>, %[[XT]] <sbuf 0, 0 + 256 * i0, {{\[\[}}1, 32], [8, 8], [2, 4]]>, %[[XT]] <sbuf 0, 0 + 256 * i0, {{\[\[}}1, 32], [8, 8], [2, 4]]>
// CHECK-NEXT:        loop.tensor_tensor "max" %[[COLS]] <sbuf 0, 0, {{\[\[}}1, 32], [4, 8], [1, 4]]>, %[[COLS]] <sbuf 0, 0, {{\[\[}}1, 32], [4, 8], [1, 4]]>, %[[XT]] <sbuf 0, 4 + 256 * i0, {{\[\[}}1, 32], [8, 8], [2, 4]]>
// CHECK-NEXT:        loop.tensor_tensor "max" %[[COLS]] <sbuf 0, 4, {{\[\[}}1, 32], [4, 8], [1, 3]]>, %[[COLS]] <sbuf 0, 4, {{\[\[}}1, 32], [4, 8], [1, 3]]>, %[[XT]] <sbuf 0, 4 + 256 * i0, {{\[\[}}1, 32], [8, 8], [2, 3]]>
// CHECK-NEXT:        loop.tensor_tensor "max" %[[OUT]] <sbuf 0, 0 + 64 * i0, {{\[\[}}1, 32], [4, 4], [1, 4]]>, %[[COLS]] <sbuf 0, 0, {{\[\[}}1, 32], [8, 4], [1, 4]]>, %[[COLS]] <sbuf 0, 0, {{\[\[}}1, 32], [8, 4], [1, 4]]>
// CHECK-NEXT:        loop.tensor_tensor "max" %[[OUT]] <sbuf 0, 0 + 64 * i0, {{\[\[}}1, 32], [4, 4], [1, 4]]>, %[[OUT]] <sbuf 0, 0 + 64 * i0, {{\[\[}}1, 32], [4, 4], [1, 4]]>, %[[COLS]] <sbuf 0, 16, {{\[\[}}1, 32], [8, 4], [1, 4]]>
// CHECK-NEXT:        loop.tensor_tensor "max" %[[OUT]] <sbuf 0, 16 + 64 * i0, {{\[\[}}1, 32], [4, 3], [1, 4]]>, %[[OUT]] <sbuf 0, 16 + 64 * i0, {{\[\[}}1, 32], [4, 3], [1, 4]]>, %[[COLS]] <sbuf 0, 16, {{\[\[}}1, 32], [8, 3], [1, 4]]>
// CHECK-NEXT:      }
// CHECK-NEXT:      loop.copy %[[OUT]]

// Off: the padded 10x10 planes, filled with -inf, the input copied into their middles.
// OFF-LABEL: func.func @maxpool
// OFF:         %[[XT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 200>
// OFF:         loop.memset %[[XT]] {{.*}} = 0xff800000
// OFF-NEXT:    loop.copy %{{.*}} -> %[[XT]] <sbuf 0, 44,
func.func @maxpool(%x: tensor<1x64x8x8xf32>) -> tensor<1x64x4x4xf32> {
  %r = graph.maxpool %x {kernel_shape = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, tidal.origin = "mp"} : (tensor<1x64x8x8xf32>) -> tensor<1x64x4x4xf32>
  func.return %r : tensor<1x64x4x4xf32>
}

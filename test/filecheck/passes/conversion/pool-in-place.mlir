// RUN: tidal-opt %s -p 'graph-to-loop{chip=small}' | filecheck %s
// RUN: tidal-opt %s -p 'graph-to-loop{chip=small pool_inplace=false}' | filecheck %s --check-prefix=OFF
// RUN: tidal-opt %s -p 'graph-to-loop{chip=small avgpool_inplace=false}' | filecheck %s --check-prefix=AVGOFF

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

// Bands in place: 6 channels of 40x40 in 5 bands of 4 output rows side by side on
// 30 partitions (pool-bands), band b's own 8 input rows loaded by one copy of its
// own onto partitions 6b (no padded planes: loop-keep-on-chip forwards these copies
// when it keeps the input in that band layout, ShuffleNet's stem), the row above
// each band (the band before's last) into a small tile, -inf for the first band.
// Column maxima of the halo row, then of the band's 8 rows (the left tap from output
// column 1 on), into rows 0 and 1-8 of one tile; row maxima over rows 2y, 2y + 1,
// 2y + 2 of it, no row clipped; one store per band.
// CHECK-LABEL: func.func @bands
// CHECK:         %[[XT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 30, 320>
// CHECK-NEXT:    %[[HALO:.*]] = loop.alloc_tile : !loop.tile<sbuf, 30, 40>
// CHECK-NEXT:    %[[COLS:.*]] = loop.alloc_tile : !loop.tile<sbuf, 30, 180>
// CHECK-NEXT:    %[[OUT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 30, 80>
// CHECK-NEXT:    loop.memset %[[HALO]] <sbuf 0, 0, {{\[\[}}1, 6], [1, 40]]> = 0xff800000
// CHECK-NEXT:    loop.copy %x <dram 0, {{\[\[}}1600, 6], [1, 320]]> -> %[[XT]] <sbuf 0, 0, {{\[\[}}1, 6], [1, 320]]>
// CHECK-NEXT:    loop.copy %x <dram 1280, {{\[\[}}1600, 6], [1, 320]]> -> %[[XT]] <sbuf 6, 0, {{\[\[}}1, 6], [1, 320]]>
// CHECK-NEXT:    loop.copy %x <dram 1120, {{\[\[}}1600, 6], [1, 40]]> -> %[[HALO]] <sbuf 6, 0, {{\[\[}}1, 6], [1, 40]]>
// CHECK-COUNT-6: loop.copy %x
// CHECK-NEXT:    loop.tensor_tensor "max" %[[COLS]] <sbuf 0, 0, {{\[\[}}1, 30], [20, 1], [1, 20]]>, %[[HALO]]
// CHECK-COUNT-2: loop.tensor_tensor "max" %[[COLS]] {{.*}} %[[HALO]]
// CHECK-NEXT:    loop.tensor_tensor "max" %[[COLS]] <sbuf 0, 80, {{\[\[}}1, 30], [20, 8], [1, 20]]>, %[[XT]] <sbuf 0, 0, {{\[\[}}1, 30], [40, 8], [2, 20]]>
// CHECK-COUNT-2: loop.tensor_tensor "max" %[[COLS]] {{.*}} %[[XT]]
// CHECK-NEXT:    loop.tensor_tensor "max" %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 30], [20, 4], [1, 20]]>, %[[COLS]] <sbuf 0, 0, {{\[\[}}1, 30], [40, 4], [1, 20]]>, %[[COLS]] <sbuf 0, 80, {{\[\[}}1, 30], [40, 4], [1, 20]]>
// CHECK-NEXT:    loop.tensor_tensor "max" %[[OUT]] {{.*}}, %[[COLS]] <sbuf 0, 160, {{\[\[}}1, 30], [40, 4], [1, 20]]>
// CHECK-COUNT-5: loop.copy %[[OUT]]

// Off: padded band planes filled with -inf, each band's rows and halo row copied in.
// OFF-LABEL: func.func @bands
// OFF:         loop.memset %{{.*}} <sbuf 0, 0, {{\[\[}}1, 30], [1, 378]]>
func.func @bands(%x: tensor<1x6x40x40xf32>) -> tensor<1x6x20x20xf32> {
  %y = graph.maxpool %x {kernel_shape = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, tidal.origin = "mpb"} : (tensor<1x6x40x40xf32>) -> tensor<1x6x20x20xf32>
  func.return %y : tensor<1x6x20x20xf32>
}

// An average pool in place (avgpool-in-place): avgpool 3x3 stride 2 pads 1 over 64
// channels (two tiles of 32), count_include_pad 0. No zero-filled plane: the
// unpadded 8x8 planes by one copy, as the max pool above; column sums (the middle
// tap copied, the right one added, the left one over output columns 1-3), row sums
// likewise, then times the map of reciprocal window counts ([4, 4], a constant
// loaded once, read by every partition: stride 0).
// CHECK-LABEL: func.func @avgpool
// CHECK:         loop.nest "ap" domain [2] order [0] {
// CHECK-NEXT:      %[[XT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 128>
// CHECK-NEXT:      %[[OUT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
// CHECK-NEXT:      %[[COLS:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
// CHECK-NEXT:      %[[MAP:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 16>
// CHECK-NOT:       loop.memset
// CHECK-NEXT:      loop.copy %{{.*}} <dram 0, {{\[\[}}0, 32], [1, 16]]> -> %[[MAP]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 16]]>
// CHECK-NEXT:      loop.copy %{{.*}} <dram 0, {{\[\[}}64, 32], [2048, 2], [1, 64]]> -> %[[XT]]
// CHECK-NEXT:      loop.for d0 {
// CHECK-NEXT:        loop.tensor_tensor "max" %[[COLS]] <sbuf 0, 0, {{\[\[}}1, 32], [4, 8], [1, 4]]>, %[[XT]] <sbuf 0, 0 + 256 * i0, {{\[\[}}1, 32], [8, 8], [2, 4]]>, %[[XT]] <sbuf 0, 0 + 256 * i0,
// CHECK-NEXT:        loop.tensor_tensor "add" %[[COLS]] <sbuf 0, 0, {{\[\[}}1, 32], [4, 8], [1, 4]]>, %[[COLS]] {{.*}}, %[[XT]] <sbuf 0, 4 + 256 * i0,
// CHECK-NEXT:        loop.tensor_tensor "add" %[[COLS]] <sbuf 0, 4, {{\[\[}}1, 32], [4, 8], [1, 3]]>
// CHECK-NEXT:        loop.tensor_tensor "max" %[[OUT]] <sbuf 0, 0 + 64 * i0, {{\[\[}}1, 32], [4, 4], [1, 4]]>, %[[COLS]] <sbuf 0, 0, {{\[\[}}1, 32], [8, 4], [1, 4]]>, %[[COLS]] <sbuf 0, 0,
// CHECK-NEXT:        loop.tensor_tensor "add" %[[OUT]] <sbuf 0, 0 + 64 * i0, {{\[\[}}1, 32], [4, 4], [1, 4]]>, %[[OUT]] {{.*}}, %[[COLS]] <sbuf 0, 16,
// CHECK-NEXT:        loop.tensor_tensor "add" %[[OUT]] <sbuf 0, 16 + 64 * i0, {{\[\[}}1, 32], [4, 3], [1, 4]]>
// CHECK-NEXT:        loop.tensor_tensor "mul" %[[OUT]] <sbuf 0, 0 + 64 * i0, {{\[\[}}1, 32], [1, 16]]>, %[[OUT]] <sbuf 0, 0 + 64 * i0, {{\[\[}}1, 32], [1, 16]]>, %[[MAP]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 16]]>
// CHECK-NEXT:      }

// Off: the padded 10x10 planes filled with zeros, one reduction, then the map.
// AVGOFF-LABEL: func.func @avgpool
// AVGOFF:         loop.memset %{{.*}} <sbuf 0, 0, {{\[\[}}1, 32], [1, 200]]> = 0.000000e+00
// AVGOFF:         loop.reduce "add"
// AVGOFF-NEXT:    loop.tensor_tensor "mul"
func.func @avgpool(%x: tensor<1x64x8x8xf32>) -> tensor<1x64x4x4xf32> {
  %r = graph.avgpool %x {kernel_shape = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, tidal.origin = "ap"} : (tensor<1x64x8x8xf32>) -> tensor<1x64x4x4xf32>
  func.return %r : tensor<1x64x4x4xf32>
}

// RUN: tidal-opt %s -p 'graph-to-loop{chip=small pool_separable=false pool_bands=false}' --split-input-file | filecheck %s
// RUN: tidal-opt %s -p 'graph-to-loop{chip=small pool_inplace=false}' --split-input-file | filecheck %s --check-prefix=SEP
// RUN: tidal-opt %s -p 'graph-to-loop{chip=small pool_halo=false}' --split-input-file | filecheck %s --check-prefix=OFF

// maxpool 3x3 stride 2 pads 1 on 64 channels (two tiles of 32 on the small chip).
// pool_halo (default): one nest; both channel tiles' padded 10x10 planes are one
// tile, filled with -inf (0xff800000) once; one descriptor copies both 8x8 inputs
// into the planes' middles (offset (1 * 10 + 1) * 4 = 44 bytes, 100 elements apart),
// so the borders keep the fill; one reduction per channel tile (d0), one store.
// pool_separable (default): per channel tile, the maximum over the window's 3
// columns of every padded row (two maxima of shifted views, 10 rows x 4 columns, into
// a [32, 40] tile), then over 3 of those rows for each output row (two more, 4 x 4).
// SEP-LABEL: func.func @maxpool
// SEP:           %[[COLS:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 40>
// SEP:           loop.for d0 {
// SEP-NEXT:        loop.tensor_tensor "max" %[[COLS]] <sbuf 0, 0, {{\[\[}}1, 32], [4, 10], [1, 4]]>, %[[XT:.*]] <sbuf 0, 0 + 400 * i0, {{\[\[}}1, 32], [10, 10], [2, 4]]>, %[[XT]] <sbuf 0, 4 + 400 * i0, {{\[\[}}1, 32], [10, 10], [2, 4]]>
// SEP-NEXT:        loop.tensor_tensor "max" %[[COLS]] <sbuf 0, 0, {{\[\[}}1, 32], [4, 10], [1, 4]]>, %[[COLS]] <sbuf 0, 0, {{\[\[}}1, 32], [4, 10], [1, 4]]>, %[[XT]] <sbuf 0, 8 + 400 * i0, {{\[\[}}1, 32], [10, 10], [2, 4]]>
// SEP-NEXT:        loop.tensor_tensor "max" %[[OUT:.*]] <sbuf 0, 0 + 64 * i0, {{\[\[}}1, 32], [4, 4], [1, 4]]>, %[[COLS]] <sbuf 0, 0, {{\[\[}}1, 32], [8, 4], [1, 4]]>, %[[COLS]] <sbuf 0, 16, {{\[\[}}1, 32], [8, 4], [1, 4]]>
// SEP-NEXT:        loop.tensor_tensor "max" %[[OUT]] <sbuf 0, 0 + 64 * i0, {{\[\[}}1, 32], [4, 4], [1, 4]]>, %[[OUT]] <sbuf 0, 0 + 64 * i0, {{\[\[}}1, 32], [4, 4], [1, 4]]>, %[[COLS]] <sbuf 0, 32, {{\[\[}}1, 32], [8, 4], [1, 4]]>
// SEP-NEXT:      }
// SEP-NOT:       loop.reduce

// CHECK-LABEL: func.func @maxpool
// CHECK-SAME:    (%[[X:.*]]: memref<1x64x8x8xf32>) -> memref<1x64x4x4xf32> {
// CHECK-NEXT:    %[[Y:.*]] = loop.alloc : memref<1x64x4x4xf32>
// CHECK-NEXT:    loop.nest "mp" domain [2] order [0] {
// CHECK-NEXT:      %[[XT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 200>
// CHECK-NEXT:      %[[OUT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
// CHECK-NEXT:      loop.memset %[[XT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 200]]> = 0xff800000 : f32
// CHECK-NEXT:      loop.copy %[[X]] <dram 0, {{\[\[}}64, 32], [2048, 2], [8, 8], [1, 8]]> -> %[[XT]] <sbuf 0, 44, {{\[\[}}1, 32], [100, 2], [10, 8], [1, 8]]>
// CHECK-NEXT:      loop.for d0 {
// CHECK-NEXT:        loop.reduce "max" %[[OUT]] <sbuf 0, 0 + 64 * i0, {{\[\[}}1, 32], [1, 16]]>, %[[XT]] <sbuf 0, 0 + 400 * i0, {{\[\[}}1, 32], [20, 4], [2, 4], [10, 3], [1, 3]]> {nreduce = 2 : i64, scale = 1.000000e+00 : f32}
// CHECK-NEXT:      }
// CHECK-NEXT:      loop.copy %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 32]]> -> %[[Y]] <dram 0, {{\[\[}}16, 32], [512, 2], [1, 16]]>
// CHECK-NEXT:    }
//
// pool_halo=false: a pad nest writes a padded copy to DRAM (the input and four
// border copies per channel tile), which the pool nest reads back.
// OFF-LABEL: func.func @maxpool
// OFF:         %[[XP:.*]] = loop.alloc : memref<1x64x10x10xf32>
// OFF-NEXT:    loop.nest "mp.pad" domain [2] order [0] {
// OFF-COUNT-5:     loop.copy
// OFF:         loop.nest "mp" domain [2] order [0] {
// OFF:             loop.copy %[[XP]] <dram 0 + 12800 * i0, {{\[\[}}100, 32], [1, 90]]>
func.func @maxpool(%x: tensor<1x64x8x8xf32>) -> tensor<1x64x4x4xf32> {
  %r = graph.maxpool %x {kernel_shape = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, tidal.origin = "mp"} : (tensor<1x64x8x8xf32>) -> tensor<1x64x4x4xf32>
  func.return %r : tensor<1x64x4x4xf32>
}

// -----

// Average pooling whose padding does not count: borders are 0, and the constant map
// of reciprocal window counts is loaded once, before the loops.
// CHECK-LABEL: func.func @avgpool_exclude_pad
// CHECK:         %[[R:.*]] = loop.const
// CHECK-NEXT:    loop.nest "ap" domain [] order [] {
// CHECK:           loop.memset %{{.*}} = 0.000000e+00 : f32
// CHECK-NEXT:      loop.copy %[[R]] <dram 0, {{\[\[}}0, 8], [1, 16]]>
// CHECK-NEXT:      loop.copy
// CHECK-NEXT:      loop.reduce "add"
// CHECK-NEXT:      loop.tensor_tensor "mul"
// SEP-LABEL: func.func @avgpool_exclude_pad
// SEP:           loop.reduce "add"
// OFF-LABEL: func.func @avgpool_exclude_pad
// OFF:         loop.nest "ap.pad"
func.func @avgpool_exclude_pad(%x: tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32> {
  %r = graph.avgpool %x {kernel_shape = array<i64: 3, 3>, pads = array<i64: 1, 1, 1, 1>, tidal.origin = "ap"} : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  func.return %r : tensor<1x8x4x4xf32>
}

// -----

// Row bands (pool_bands, the default; the CHECK run has it off): 8 channels use 8
// of the small chip's 32 partitions, so the 16 output rows go as 4 bands of 4 rows
// side by side, band b's channels on partitions 8b onwards (banding saves 3/4 of
// the 2,304 elements per partition the reduction reads, more than a load's and a
// store's DMA latency; a 4x4 plane, as in @avgpool_exclude_pad, saves too little
// and stays unbanded). Each band's tile holds the 6 padded rows its windows read,
// filled with 0 once; its real input rows come in by a copy of its own (band 0:
// input rows 0-4 below the top border row, offset (1 * 18 + 1) * 4 = 76; bands 1
// and 2: six rows; band 3: five rows above the bottom border), as do its rows of
// the reciprocal map (256 bytes apart). One reduction and one multiply over all 32
// partitions, one store per band.
// SEP-LABEL: func.func @avgpool_bands
// SEP:           %[[XT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 108>
// SEP-NEXT:      %[[OUT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 64>
// SEP-NEXT:      %[[RT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 64>
// SEP-NEXT:      loop.memset %[[XT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 108]]> = 0.000000e+00
// SEP-NEXT:      loop.copy %{{.*}} <dram 0, {{\[\[}}0, 8], [1, 64]]> -> %[[RT]] <sbuf 0, 0, {{\[\[}}1, 8], [1, 64]]>
// SEP-NEXT:      loop.copy %{{.*}} <dram 256, {{\[\[}}0, 8], [1, 64]]> -> %[[RT]] <sbuf 8, 0, {{\[\[}}1, 8], [1, 64]]>
// SEP-COUNT-2:   loop.copy
// SEP-NEXT:      loop.copy %[[X:.*]] <dram 0, {{\[\[}}256, 8], [16, 5], [1, 16]]> -> %[[XT]] <sbuf 0, 76, {{\[\[}}1, 8], [18, 5], [1, 16]]>
// SEP-NEXT:      loop.copy %[[X]] <dram 192, {{\[\[}}256, 8], [16, 6], [1, 16]]> -> %[[XT]] <sbuf 8, 4, {{\[\[}}1, 8], [18, 6], [1, 16]]>
// SEP-NEXT:      loop.copy %[[X]] <dram 448, {{\[\[}}256, 8], [16, 6], [1, 16]]> -> %[[XT]] <sbuf 16, 4, {{\[\[}}1, 8], [18, 6], [1, 16]]>
// SEP-NEXT:      loop.copy %[[X]] <dram 704, {{\[\[}}256, 8], [16, 5], [1, 16]]> -> %[[XT]] <sbuf 24, 4, {{\[\[}}1, 8], [18, 5], [1, 16]]>
// SEP-NEXT:      loop.reduce "add" %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 64]]>, %[[XT]] <sbuf 0, 0, {{\[\[}}1, 32], [18, 4], [1, 16], [18, 3], [1, 3]]>
// SEP-NEXT:      loop.tensor_tensor "mul" %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 64]]>, %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 64]]>, %[[RT]]
// SEP-NEXT:      loop.copy %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 8], [1, 64]]> -> %[[Y:.*]] <dram 0, {{\[\[}}256, 8], [1, 64]]>
// SEP-COUNT-3:   loop.copy %[[OUT]]
func.func @avgpool_bands(%x: tensor<1x8x16x16xf32>) -> tensor<1x8x16x16xf32> {
  %r = graph.avgpool %x {kernel_shape = array<i64: 3, 3>, pads = array<i64: 1, 1, 1, 1>, tidal.origin = "apb"} : (tensor<1x8x16x16xf32>) -> tensor<1x8x16x16xf32>
  func.return %r : tensor<1x8x16x16xf32>
}

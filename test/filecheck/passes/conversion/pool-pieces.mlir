// RUN: tidal-opt %s -p 'graph-to-loop{chip=small}' | filecheck %s
// RUN: tidal-opt %s -p 'graph-to-loop{chip=small pool_pieces=false}' | filecheck %s --check-prefix=OFF

// pool-pieces: a 2x2 stride-2 average pool of 32 channels of 64x64 (a plane of
// 4,096 elements, past FREE_MAX = 2,048) is one reduction over whole planes; it
// runs in two pieces of 16 output rows, each over the 32 input rows (2,048
// elements) its windows read: the first piece's outputs at 0, its windows from
// input row 0; the second's outputs from byte 16 x 32 x 4 = 2048, its windows from
// input row 32 (byte 32 x 64 x 4 = 8192). A reader of the first rows (the conv
// swap-avgpool put after it) starts after the first piece.
// CHECK-LABEL: func.func @pieces
// CHECK:         loop.nest "pool"
// CHECK:         %[[X:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 4096>
// CHECK-NEXT:    %[[OUT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 1024>
// CHECK-NEXT:    loop.copy
// CHECK-NEXT:    loop.reduce "add" %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 512]]>, %[[X]] <sbuf 0, 0, {{\[\[}}1, 32], [128, 16], [2, 32], [64, 2], [1, 2]]> {nreduce = 2 : i64, scale = 2.500000e-01 : f32}
// CHECK-NEXT:    loop.reduce "add" %[[OUT]] <sbuf 0, 2048, {{\[\[}}1, 32], [1, 512]]>, %[[X]] <sbuf 0, 8192, {{\[\[}}1, 32], [128, 16], [2, 32], [64, 2], [1, 2]]> {nreduce = 2 : i64, scale = 2.500000e-01 : f32}
// CHECK-NEXT:    loop.copy %[[OUT]]

// Off: one reduction over the whole plane.
// OFF-LABEL: func.func @pieces
// OFF:         loop.reduce "add" %{{.*}} <sbuf 0, 0, {{\[\[}}1, 32], [1, 1024]]>, %{{.*}} <sbuf 0, 0, {{\[\[}}1, 32], [128, 32], [2, 32], [64, 2], [1, 2]]>
// OFF-NEXT:    loop.copy
func.func @pieces(%x: tensor<1x32x64x64xf32>) -> tensor<1x32x32x32xf32> {
  %r = graph.avgpool %x {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>, tidal.origin = "pool"} : (tensor<1x32x64x64xf32>) -> tensor<1x32x32x32xf32>
  func.return %r : tensor<1x32x32x32xf32>
}

// A plane within FREE_MAX (32x32) keeps its one reduction.
// CHECK-LABEL: func.func @small_plane
// CHECK:         loop.reduce "add"
// CHECK-NOT:     loop.reduce
func.func @small_plane(%x: tensor<1x32x32x32xf32>) -> tensor<1x32x16x16xf32> {
  %r = graph.avgpool %x {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>, tidal.origin = "pool"} : (tensor<1x32x32x32xf32>) -> tensor<1x32x16x16xf32>
  func.return %r : tensor<1x32x16x16xf32>
}

// RUN: tidal-opt %s -p 'graph-to-loop{chip=small}' | filecheck %s

// graph.sub, max and min are one POOL tensor-tensor op per tile; graph.div takes
// ACT's reciprocal of the divisor's tile, then POOL's product. The [2, 1] operand
// is broadcast by a stride-0 access pattern (2 rows on partitions, 16 free).
// CHECK-LABEL: func.func @binary
// CHECK:         loop.nest "sub"
// CHECK:           loop.tensor_tensor "sub"
// CHECK:         loop.nest "div"
// CHECK:           loop.copy %{{.*}} <dram 0, {{\[\[}}1, 2], [0, 16]]> -> %[[B:.*]] <sbuf
// CHECK-NEXT:      loop.act "reciprocal" %[[B]] {{.*}}, %[[B]]
// CHECK-NEXT:      loop.tensor_tensor "mul"
// CHECK:         loop.nest "max"
// CHECK:           loop.tensor_tensor "max"
// CHECK:         loop.nest "min"
// CHECK:           loop.tensor_tensor "min"
func.func @binary(%x: tensor<2x16xf32>, %m: tensor<2x1xf32>) -> (tensor<2x16xf32>, tensor<2x16xf32>, tensor<2x16xf32>, tensor<2x16xf32>) {
  %s = graph.sub %x, %m {tidal.origin = "sub"} : (tensor<2x16xf32>, tensor<2x1xf32>) -> tensor<2x16xf32>
  %d = graph.div %x, %m {tidal.origin = "div"} : (tensor<2x16xf32>, tensor<2x1xf32>) -> tensor<2x16xf32>
  %a = graph.max %x, %m {tidal.origin = "max"} : (tensor<2x16xf32>, tensor<2x1xf32>) -> tensor<2x16xf32>
  %b = graph.min %x, %m {tidal.origin = "min"} : (tensor<2x16xf32>, tensor<2x1xf32>) -> tensor<2x16xf32>
  func.return %s, %d, %a, %b : tensor<2x16xf32>, tensor<2x16xf32>, tensor<2x16xf32>, tensor<2x16xf32>
}

// A slice is one DMA from DRAM to DRAM: x[1:4:2, 2:8:3] of a [4, 8] tensor starts at
// element 1 * 8 + 2 (40 bytes) and steps 16 elements by row, 3 by column.
// CHECK-LABEL: func.func @slice
// CHECK:         loop.nest "window" domain [] order [] {
// CHECK-NEXT:      loop.copy %{{.*}} <dram 40, {{\[\[}}16, 2], [3, 2]]> -> %{{.*}} <dram 0, {{\[\[}}2, 2], [1, 2]]>
func.func @slice(%x: tensor<4x8xf32>) -> tensor<2x2xf32> {
  %r = graph.slice %x {starts = array<i64: 1, 2>, ends = array<i64: 4, 8>, steps = array<i64: 2, 3>, tidal.origin = "window"} : (tensor<4x8xf32>) -> tensor<2x2xf32>
  func.return %r : tensor<2x2xf32>
}

// graph.log_softmax: rows on partitions; the row maximum, exp(x - max) into a second
// row tile, its sum, ACT's log of it negated, then (x - max) - log(sum) as two ACT
// passes, each with a bias column (x - max first: exact however large the maximum).
// CHECK-LABEL: func.func @log_softmax
// CHECK:         loop.nest "ls"
// CHECK:           loop.reduce "max"
// CHECK-NEXT:      loop.act "identity" {{.*}} {scale = -1.000000e+00 : f32
// CHECK-NEXT:      loop.act "exp"
// CHECK-NEXT:      loop.reduce "add"
// CHECK-NEXT:      loop.act "log"
// CHECK-NEXT:      loop.act "identity" {{.*}} {scale = -1.000000e+00 : f32
// CHECK-NEXT:      loop.act "identity"
// CHECK-NEXT:      loop.act "identity"
// CHECK-NEXT:      loop.copy
func.func @log_softmax(%x: tensor<4x10xf32>) -> tensor<4x10xf32> {
  %r = graph.log_softmax %x {axis = 1 : i64, tidal.origin = "ls"} : (tensor<4x10xf32>) -> tensor<4x10xf32>
  func.return %r : tensor<4x10xf32>
}

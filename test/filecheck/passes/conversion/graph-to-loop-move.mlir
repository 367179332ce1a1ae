// RUN: tidal-opt %s -p 'graph-to-loop{chip=small}' --split-input-file | filecheck %s

// Concat by placement: the relu and the conv write straight into their slices of
// the first concat's result, which is itself placed at offset 0 of the second
// (DenseNet's chain): no buffer of their own, no copy. The function argument %x has
// no producer to redirect, so its slice (byte 216 on) is a DRAM-to-DRAM copy.
// CHECK-LABEL: func.func @concat
// CHECK-SAME:    (%[[X:.*]]: memref<1x4x3x3xf32>, %[[W:.*]]: memref<2x4x1x1xf32>) -> memref<1x10x3x3xf32> {
// CHECK-NEXT:    %[[Z:.*]] = loop.alloc : memref<1x10x3x3xf32>
// CHECK-NEXT:    loop.nest "relu" domain [] order [] {
// CHECK:           loop.copy %{{.*}} -> %[[Z]] <dram 0, {{\[\[}}2, 18], [1, 2]]>
// CHECK-NEXT:    }
// CHECK-NEXT:    loop.nest "conv" domain [] order [] {
// CHECK:           loop.copy %[[Z]] <dram 0, {{\[\[}}9, 4], [1, 9]]> -> %{{.*}}
// CHECK:           loop.copy %{{.*}} -> %[[Z]] <dram 144, {{\[\[}}9, 2], [1, 9]]>
// CHECK-NEXT:    }
// CHECK-NEXT:    loop.nest "cat2.1" domain [] order [] {
// CHECK-NEXT:      loop.copy %[[X]] <dram 0, {{\[\[}}1, 36]]> -> %[[Z]] <dram 216, {{\[\[}}1, 36]]> : memref<1x4x3x3xf32> -> memref<1x10x3x3xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %[[Z]] : memref<1x10x3x3xf32>
func.func @concat(%x: tensor<1x4x3x3xf32>, %w: tensor<2x4x1x1xf32>) -> tensor<1x10x3x3xf32> {
  %r = graph.relu %x {tidal.origin = "relu"} : (tensor<1x4x3x3xf32>) -> tensor<1x4x3x3xf32>
  %c = graph.conv2d %r, %w {tidal.origin = "conv"} : (tensor<1x4x3x3xf32>, tensor<2x4x1x1xf32>) -> tensor<1x2x3x3xf32>
  %y = graph.concat %r, %c {axis = 1 : i64, tidal.origin = "cat"} : (tensor<1x4x3x3xf32>, tensor<1x2x3x3xf32>) -> tensor<1x6x3x3xf32>
  %z = graph.concat %y, %x {axis = 1 : i64, tidal.origin = "cat2"} : (tensor<1x6x3x3xf32>, tensor<1x4x3x3xf32>) -> tensor<1x10x3x3xf32>
  func.return %z : tensor<1x10x3x3xf32>
}

// -----

// With a batch of 2 a slice is two blocks: both operands are copied, row by row
// (a stride of 12 elements in, 24 out).
// CHECK-LABEL: func.func @concat_batch2
// CHECK:         %[[R:.*]] = loop.alloc : memref<2x3x4xf32>
// CHECK:         %[[Y:.*]] = loop.alloc : memref<2x6x4xf32>
// CHECK-NEXT:    loop.nest "cat.0" domain [] order [] {
// CHECK-NEXT:      loop.copy %[[R]] <dram 0, {{\[\[}}12, 2], [1, 12]]> -> %[[Y]] <dram 0, {{\[\[}}24, 2], [1, 12]]>
// CHECK:         loop.nest "cat.1" domain [] order [] {
// CHECK-NEXT:      loop.copy %{{.*}} <dram 0, {{\[\[}}12, 2], [1, 12]]> -> %[[Y]] <dram 48, {{\[\[}}24, 2], [1, 12]]>
func.func @concat_batch2(%a: tensor<2x3x4xf32>) -> tensor<2x6x4xf32> {
  %r = graph.relu %a {tidal.origin = "relu"} : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  %y = graph.concat %r, %a {axis = 1 : i64, tidal.origin = "cat"} : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x6x4xf32>
  func.return %y : tensor<2x6x4xf32>
}

// -----

// A transpose is one strided DMA: ShuffleNet's channel shuffle reads 28 x 4 blocks
// of 36 pixels with strides (36, 1008) and writes them contiguously.
// CHECK-LABEL: func.func @transpose
// CHECK-SAME:    (%[[X:.*]]: memref<1x4x28x6x6xf32>) -> memref<1x28x4x6x6xf32> {
// CHECK-NEXT:    %[[T:.*]] = loop.alloc : memref<1x28x4x6x6xf32>
// CHECK-NEXT:    loop.nest "shuffle" domain [] order [] {
// CHECK-NEXT:      loop.copy %[[X]] <dram 0, {{\[\[}}36, 28], [1008, 4], [1, 36]]> -> %[[T]] <dram 0, {{\[\[}}144, 28], [36, 4], [1, 36]]> : memref<1x4x28x6x6xf32> -> memref<1x28x4x6x6xf32>
// CHECK-NEXT:    }
func.func @transpose(%x: tensor<1x4x28x6x6xf32>) -> tensor<1x28x4x6x6xf32> {
  %t = graph.transpose %x {perm = array<i64: 0, 2, 1, 3, 4>, tidal.origin = "shuffle"} : (tensor<1x4x28x6x6xf32>) -> tensor<1x28x4x6x6xf32>
  func.return %t : tensor<1x28x4x6x6xf32>
}

// -----

// An n-ary sum is one nest: all operands loaded (the vector broadcast by a stride-0
// partition dim), added into one tile, stored once.
// CHECK-LABEL: func.func @sum
// CHECK:         loop.nest "sum" domain [] order [] {
// CHECK:           loop.copy %{{.*}} <dram 0, {{\[\[}}0, 4], [1, 8]]> -> %[[C:.*]] <sbuf
// CHECK-NEXT:      loop.tensor_tensor "add" %[[O:.*]] <{{.*}}>, %{{.*}} <{{.*}}>, %{{.*}} <{{.*}}>
// CHECK-NEXT:      loop.tensor_tensor "add" %[[O]] <{{.*}}>, %[[O]] <{{.*}}>, %[[C]] <{{.*}}>
// CHECK-NEXT:      loop.copy %[[O]]
func.func @sum(%a: tensor<4x8xf32>, %b: tensor<4x8xf32>, %c: tensor<8xf32>) -> tensor<4x8xf32> {
  %s = graph.sum %a, %b, %c {tidal.origin = "sum"} : (tensor<4x8xf32>, tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  func.return %s : tensor<4x8xf32>
}

// -----

// A copy past DMA_ELEMS_MAX elements loops over its leading dim in blocks of as
// many rows as one DMA holds: a slice of 600 rows of 1,000 to 999 is 3 DMAs of 200
// rows (262,144 / 999 = 262 rows at most, 200 the largest divisor of 600 under
// it), not 600 DMAs of one row, each paying a descriptor's fixed latency.
// CHECK-LABEL: func.func @big_slice
// CHECK:         loop.nest "cut" domain [3] order [0] {
// CHECK-NEXT:      loop.for d0 {
// CHECK-NEXT:        loop.copy %{{.*}} <dram 0 + 800000 * i0, {{\[\[}}1000, 200], [1, 999]]> -> %{{.*}} <dram 0 + 799200 * i0, {{\[\[}}999, 200], [1, 999]]>
func.func @big_slice(%x: tensor<1x600x1000xf32>) -> tensor<1x600x999xf32> {
  %y = graph.slice %x {starts = array<i64: 0, 0, 0>, ends = array<i64: 1, 600, 999>, steps = array<i64: 1, 1, 1>, tidal.origin = "cut"} : (tensor<1x600x1000xf32>) -> tensor<1x600x999xf32>
  func.return %y : tensor<1x600x999xf32>
}

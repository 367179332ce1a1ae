// RUN: tidal-opt %s -p 'graph-to-loop{chip=small pool_halo=false dma_merge=false}' --split-input-file | filecheck %s

// Padded poolings here pad in DRAM (pool_halo=false); pool-halo.mlir shows the
// halos they get by default.

// Average pooling with padding that does not count (ONNX's default): the input is
// zero-padded in DRAM, POOL sums each 3x3 window (scale 1), and a constant map of
// reciprocal window counts (1/4 in the corners, 1/6 on the edges, 1/9 inside),
// broadcast over the channel partitions by a stride-0 DMA, multiplies the sums.
// CHECK-LABEL: func.func @avgpool_exclude_pad
// CHECK-SAME:    (%[[X:.*]]: memref<1x8x4x4xf32>) -> memref<1x8x4x4xf32> {
// CHECK-NEXT:    %[[Y:.*]] = loop.alloc : memref<1x8x4x4xf32>
// CHECK-NEXT:    %[[R:.*]] = loop.const dense<{{\[\[}}2.500000e-01, 0.166666672, 0.166666672, 2.500000e-01], [0.166666672, 0.111111112, 0.111111112, 0.166666672], [0.166666672, 0.111111112, 0.111111112, 0.166666672], [2.500000e-01, 0.166666672, 0.166666672, 2.500000e-01]]> : tensor<4x4xf32> : memref<4x4xf32>
// CHECK-NEXT:    %[[P:.*]] = loop.alloc : memref<1x8x6x6xf32>
// CHECK-NEXT:    loop.nest "ap.pad" domain [] order [] {
// CHECK:           loop.memset %{{.*}} = 0.000000e+00 : f32
// CHECK:         loop.nest "ap" domain [] order [] {
// CHECK-NEXT:      %[[XT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 8, 36>
// CHECK-NEXT:      %[[O:.*]] = loop.alloc_tile : !loop.tile<sbuf, 8, 16>
// CHECK-NEXT:      %[[RT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 8, 16>
// CHECK-NEXT:      loop.copy %[[P]] <dram 0, {{\[\[}}36, 8], [1, 36]]> -> %[[XT]]
// CHECK-NEXT:      loop.reduce "add" %[[O]] <sbuf 0, 0, {{\[\[}}1, 8], [1, 16]]>, %[[XT]] <sbuf 0, 0, {{\[\[}}1, 8], [6, 4], [1, 4], [6, 3], [1, 3]]> {nreduce = 2 : i64, scale = 1.000000e+00 : f32}
// CHECK-NEXT:      loop.copy %[[R]] <dram 0, {{\[\[}}0, 8], [1, 16]]> -> %[[RT]] <sbuf 0, 0, {{\[\[}}1, 8], [1, 16]]>
// CHECK-NEXT:      loop.tensor_tensor "mul" %[[O]] <{{.*}}>, %[[O]] <{{.*}}>, %[[RT]] <{{.*}}>
// CHECK-NEXT:      loop.copy %[[O]] <sbuf 0, 0, {{\[\[}}1, 8], [1, 16]]> -> %[[Y]] <dram 0, {{\[\[}}16, 8], [1, 16]]>
func.func @avgpool_exclude_pad(%x: tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32> {
  %r = graph.avgpool %x {kernel_shape = array<i64: 3, 3>, pads = array<i64: 1, 1, 1, 1>, tidal.origin = "ap"} : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  func.return %r : tensor<1x8x4x4xf32>
}

// -----

// Without padding (or with count_include_pad = 1) every window divides by kh * kw:
// the reduction's scale.
// CHECK-LABEL: func.func @avgpool_no_pad
// CHECK-NOT:     loop.const
// CHECK:         loop.reduce "add" %{{.*}}, %{{.*}} <sbuf 0, 0, {{\[\[}}1, 8], [8, 2], [2, 2], [4, 2], [1, 2]]> {nreduce = 2 : i64, scale = 2.500000e-01 : f32}
// CHECK-NOT:     loop.tensor_tensor
// CHECK:         func.return
func.func @avgpool_no_pad(%x: tensor<1x8x4x4xf32>) -> tensor<1x8x2x2xf32> {
  %r = graph.avgpool %x {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>, tidal.origin = "ap2"} : (tensor<1x8x4x4xf32>) -> tensor<1x8x2x2xf32>
  func.return %r : tensor<1x8x2x2xf32>
}

// -----

// CHECK-LABEL: func.func @avgpool_include_pad
// CHECK:         loop.nest "ap3.pad"
// CHECK:         loop.reduce "add" {{.*}} {nreduce = 2 : i64, scale = 0.111111112 : f32}
// CHECK-NOT:     loop.tensor_tensor
func.func @avgpool_include_pad(%x: tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32> {
  %r = graph.avgpool %x {kernel_shape = array<i64: 3, 3>, pads = array<i64: 1, 1, 1, 1>, count_include_pad = 1 : i64, tidal.origin = "ap3"} : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  func.return %r : tensor<1x8x4x4xf32>
}

// -----

// Global average pooling: a row per (image, channel) on partitions (40 rows -> two
// tiles of 20); the 2400-pixel plane is summed in two chunks of 1200 into a column
// of partial sums (offset 4 * i1), then one reduction scaled by 1/2400.
// CHECK-LABEL: func.func @global
// CHECK-SAME:    (%[[X:.*]]: memref<1x40x48x50xf32>) -> memref<1x40x1x1xf32> {
// CHECK-NEXT:    %[[Y:.*]] = loop.alloc : memref<1x40x1x1xf32>
// CHECK-NEXT:    loop.nest "gap" domain [2, 2] order [0, 1] {
// CHECK-NEXT:      %[[XT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 20, 1200>
// CHECK-NEXT:      %[[PART:.*]] = loop.alloc_tile : !loop.tile<sbuf, 20, 2>
// CHECK-NEXT:      %[[O:.*]] = loop.alloc_tile : !loop.tile<sbuf, 20, 1>
// CHECK-NEXT:      loop.for d0 {
// CHECK-NEXT:        loop.for d1 {
// CHECK-NEXT:          loop.copy %[[X]] <dram 0 + 192000 * i0 + 4800 * i1, {{\[\[}}2400, 20], [1, 1200]]> -> %[[XT]]
// CHECK-NEXT:          loop.reduce "add" %[[PART]] <sbuf 0, 0 + 4 * i1, {{\[\[}}1, 20], [1, 1]]>, %[[XT]] <sbuf 0, 0, {{\[\[}}1, 20], [1, 1200]]> {nreduce = 1 : i64, scale = 1.000000e+00 : f32}
// CHECK-NEXT:        }
// CHECK-NEXT:        loop.reduce "add" %[[O]] <sbuf 0, 0, {{\[\[}}1, 20], [1, 1]]>, %[[PART]] <sbuf 0, 0, {{\[\[}}1, 20], [1, 2]]> {nreduce = 1 : i64, scale = 0.000416666677 : f32}
// CHECK-NEXT:        loop.copy %[[O]] <sbuf 0, 0, {{\[\[}}1, 20], [1, 1]]> -> %[[Y]] <dram 0 + 80 * i0, {{\[\[}}1, 20], [1, 1]]>
func.func @global(%x: tensor<1x40x48x50xf32>) -> tensor<1x40x1x1xf32> {
  %r = graph.global_avgpool %x {tidal.origin = "gap"} : (tensor<1x40x48x50xf32>) -> tensor<1x40x1x1xf32>
  func.return %r : tensor<1x40x1x1xf32>
}

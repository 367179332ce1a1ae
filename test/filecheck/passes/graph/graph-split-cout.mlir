// RUN: tidal-opt %s -p 'graph-split-cout{chip=default}' | filecheck %s

// A 3x3 stride-1 conv to 192 channels (two tiles of 96 columns) whose result a
// concatenation reads: a conv of 128 channels (full columns) and one of 64 (row-pack,
// 14 rows even), each with its slice of the weights and bias and the activation,
// joined by graph.concat in place of the result.
// CHECK-LABEL: func.func @split
// CHECK:         %[[W0:.*]] = graph.constant dense<5.000000e-01> : tensor<128x64x3x3xf32>
// CHECK-NEXT:    %[[B0:.*]] = graph.constant dense<2.500000e-01> : tensor<128xf32>
// CHECK-NEXT:    %[[A:.*]] = graph.conv2d %x, %[[W0]], %[[B0]] {tidal.origin = "conv2.0", pads = array<i64: 1, 1, 1, 1>, activation = "relu"} : {{.*}} -> tensor<1x128x14x14xf32>
// CHECK-NEXT:    %[[W1:.*]] = graph.constant dense<5.000000e-01> : tensor<64x64x3x3xf32>
// CHECK-NEXT:    %[[B1:.*]] = graph.constant dense<2.500000e-01> : tensor<64xf32>
// CHECK-NEXT:    %[[C:.*]] = graph.conv2d %x, %[[W1]], %[[B1]] {tidal.origin = "conv2.1", pads = array<i64: 1, 1, 1, 1>, activation = "relu"} : {{.*}} -> tensor<1x64x14x14xf32>
// CHECK-NEXT:    %y = graph.concat %[[A]], %[[C]] {tidal.origin = "conv2", axis = 1 : i64} : (tensor<1x128x14x14xf32>, tensor<1x64x14x14xf32>) -> tensor<1x192x14x14xf32>
// CHECK-NEXT:    graph.concat %y, %x
func.func @split(%x: tensor<1x64x14x14xf32>) -> tensor<1x256x14x14xf32> {
  %w = graph.constant dense<0.5> : tensor<192x64x3x3xf32>
  %b = graph.constant dense<0.25> : tensor<192xf32>
  %y = graph.conv2d %x, %w, %b {pads = array<i64: 1, 1, 1, 1>, activation = "relu", tidal.origin = "conv2"} : (tensor<1x64x14x14xf32>, tensor<192x64x3x3xf32>, tensor<192xf32>) -> tensor<1x192x14x14xf32>
  %z = graph.concat %y, %x {axis = 1 : i64} : (tensor<1x192x14x14xf32>, tensor<1x64x14x14xf32>) -> tensor<1x256x14x14xf32>
  func.return %z : tensor<1x256x14x14xf32>
}

// 320 channels at 7 rows (odd: no row-pack) still split: 128 + 128 + 64 columns
// are 3 tiles against 4 of 80.
// CHECK-LABEL: func.func @fewer_tiles
// CHECK:         graph.conv2d {{.*}} -> tensor<1x256x7x7xf32>
// CHECK:         graph.conv2d {{.*}} -> tensor<1x64x7x7xf32>
// CHECK:         graph.concat
func.func @fewer_tiles(%x: tensor<1x64x7x7xf32>) -> tensor<1x384x7x7xf32> {
  %w = graph.constant dense<0.5> : tensor<320x64x3x3xf32>
  %y = graph.conv2d %x, %w {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x64x7x7xf32>, tensor<320x64x3x3xf32>) -> tensor<1x320x7x7xf32>
  %z = graph.concat %y, %x {axis = 1 : i64} : (tensor<1x320x7x7xf32>, tensor<1x64x7x7xf32>) -> tensor<1x384x7x7xf32>
  func.return %z : tensor<1x384x7x7xf32>
}

// Kept whole, though a concatenation reads each: 192 channels at 13 rows (two
// tiles either way, and no k >= 2 divides 13); stride 2; a 1x1 kernel; a rest of 96
// (over half the columns); a fused addend. And a pooling reader (pools tile channels
// uniformly: the split would cost a copy of the whole tensor into their layout).
// CHECK-LABEL: func.func @kept
// CHECK-NOT:     tensor<1x128x
// CHECK-NOT:     tensor<1x64x13x13xf32>) -> tensor<1x64x
// CHECK:         func.return
func.func @kept(%x: tensor<1x64x13x13xf32>, %e: tensor<1x64x28x28xf32>, %h: tensor<1x64x14x14xf32>, %s: tensor<1x192x28x28xf32>) -> (tensor<1x256x13x13xf32>, tensor<1x256x14x14xf32>, tensor<1x256x28x28xf32>, tensor<1x288x28x28xf32>, tensor<1x192x14x14xf32>, tensor<1x256x28x28xf32>) {
  %w = graph.constant dense<0.5> : tensor<192x64x3x3xf32>
  %w1 = graph.constant dense<0.5> : tensor<192x64x1x1xf32>
  %w2 = graph.constant dense<0.5> : tensor<224x64x3x3xf32>
  %a = graph.conv2d %x, %w {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x64x13x13xf32>, tensor<192x64x3x3xf32>) -> tensor<1x192x13x13xf32>
  %a2 = graph.concat %a, %x {axis = 1 : i64} : (tensor<1x192x13x13xf32>, tensor<1x64x13x13xf32>) -> tensor<1x256x13x13xf32>
  %b = graph.conv2d %e, %w {pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 2, 2>} : (tensor<1x64x28x28xf32>, tensor<192x64x3x3xf32>) -> tensor<1x192x14x14xf32>
  %b2 = graph.concat %b, %h {axis = 1 : i64} : (tensor<1x192x14x14xf32>, tensor<1x64x14x14xf32>) -> tensor<1x256x14x14xf32>
  %c = graph.conv2d %e, %w1 : (tensor<1x64x28x28xf32>, tensor<192x64x1x1xf32>) -> tensor<1x192x28x28xf32>
  %c2 = graph.concat %c, %e {axis = 1 : i64} : (tensor<1x192x28x28xf32>, tensor<1x64x28x28xf32>) -> tensor<1x256x28x28xf32>
  %d = graph.conv2d %e, %w2 {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x64x28x28xf32>, tensor<224x64x3x3xf32>) -> tensor<1x224x28x28xf32>
  %d2 = graph.concat %d, %e {axis = 1 : i64} : (tensor<1x224x28x28xf32>, tensor<1x64x28x28xf32>) -> tensor<1x288x28x28xf32>
  %p = graph.conv2d %e, %w {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x64x28x28xf32>, tensor<192x64x3x3xf32>) -> tensor<1x192x28x28xf32>
  %q = graph.maxpool %p {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>} : (tensor<1x192x28x28xf32>) -> tensor<1x192x14x14xf32>
  %r = graph.conv2d %e, %w addend %s {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x64x28x28xf32>, tensor<192x64x3x3xf32>, tensor<1x192x28x28xf32>) -> tensor<1x192x28x28xf32>
  %r2 = graph.concat %r, %e {axis = 1 : i64} : (tensor<1x192x28x28xf32>, tensor<1x64x28x28xf32>) -> tensor<1x256x28x28xf32>
  func.return %a2, %b2, %c2, %d2, %q, %r2 : tensor<1x256x13x13xf32>, tensor<1x256x14x14xf32>, tensor<1x256x28x28xf32>, tensor<1x288x28x28xf32>, tensor<1x192x14x14xf32>, tensor<1x256x28x28xf32>
}

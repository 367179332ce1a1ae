// RUN: tidal-opt %s -p 'graph-swap-avgpool{chip=default}' | filecheck %s

// A 1x1 conv (with bias) then a 2x2 stride-2 average (DenseNet's transition): the
// average first, over the conv's 256 input channels, then the conv over a quarter
// of the pixels with the same weights and bias.
// CHECK-LABEL: func.func @transition
// CHECK:         %[[P:.*]] = graph.avgpool %x {tidal.origin = "pool", kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>} : (tensor<1x256x8x8xf32>) -> tensor<1x256x4x4xf32>
// CHECK-NEXT:    %y = graph.conv2d %[[P]], %w, %b {tidal.origin = "conv"} : (tensor<1x256x4x4xf32>, tensor<128x256x1x1xf32>, tensor<128xf32>) -> tensor<1x128x4x4xf32>
// CHECK-NEXT:    func.return %y
func.func @transition(%x: tensor<1x256x8x8xf32>) -> tensor<1x128x4x4xf32> {
  %w = graph.constant dense<0.5> : tensor<128x256x1x1xf32>
  %b = graph.constant dense<0.25> : tensor<128xf32>
  %c = graph.conv2d %x, %w, %b {tidal.origin = "conv"} : (tensor<1x256x8x8xf32>, tensor<128x256x1x1xf32>, tensor<128xf32>) -> tensor<1x128x8x8xf32>
  %y = graph.avgpool %c {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>, tidal.origin = "pool"} : (tensor<1x128x8x8xf32>) -> tensor<1x128x4x4xf32>
  func.return %y : tensor<1x128x4x4xf32>
}

// Kept: a relu between (fused into the conv: it must come after the average);
// overlapping windows (3x3 stride 2); padding; a 3x3 conv; a conv with a second
// reader.
// CHECK-LABEL: func.func @kept
// CHECK-COUNT-5: graph.conv2d %x
// CHECK:         func.return
func.func @kept(%x: tensor<1x64x8x8xf32>) -> (tensor<1x32x4x4xf32>, tensor<1x32x3x3xf32>, tensor<1x32x5x5xf32>, tensor<1x32x4x4xf32>, tensor<1x32x4x4xf32>, tensor<1x32x8x8xf32>) {
  %w = graph.constant dense<0.5> : tensor<32x64x1x1xf32>
  %w3 = graph.constant dense<0.5> : tensor<32x64x3x3xf32>
  %a = graph.conv2d %x, %w {activation = "relu"} : (tensor<1x64x8x8xf32>, tensor<32x64x1x1xf32>) -> tensor<1x32x8x8xf32>
  %a2 = graph.avgpool %a {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>} : (tensor<1x32x8x8xf32>) -> tensor<1x32x4x4xf32>
  %b = graph.conv2d %x, %w : (tensor<1x64x8x8xf32>, tensor<32x64x1x1xf32>) -> tensor<1x32x8x8xf32>
  %b2 = graph.avgpool %b {kernel_shape = array<i64: 3, 3>, strides = array<i64: 2, 2>} : (tensor<1x32x8x8xf32>) -> tensor<1x32x3x3xf32>
  %c = graph.conv2d %x, %w : (tensor<1x64x8x8xf32>, tensor<32x64x1x1xf32>) -> tensor<1x32x8x8xf32>
  %c2 = graph.avgpool %c {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>} : (tensor<1x32x8x8xf32>) -> tensor<1x32x5x5xf32>
  %d = graph.conv2d %x, %w3 {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x64x8x8xf32>, tensor<32x64x3x3xf32>) -> tensor<1x32x8x8xf32>
  %d2 = graph.avgpool %d {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>} : (tensor<1x32x8x8xf32>) -> tensor<1x32x4x4xf32>
  %e = graph.conv2d %x, %w : (tensor<1x64x8x8xf32>, tensor<32x64x1x1xf32>) -> tensor<1x32x8x8xf32>
  %e2 = graph.avgpool %e {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>} : (tensor<1x32x8x8xf32>) -> tensor<1x32x4x4xf32>
  func.return %a2, %b2, %c2, %d2, %e2, %e : tensor<1x32x4x4xf32>, tensor<1x32x3x3xf32>, tensor<1x32x5x5xf32>, tensor<1x32x4x4xf32>, tensor<1x32x4x4xf32>, tensor<1x32x8x8xf32>
}

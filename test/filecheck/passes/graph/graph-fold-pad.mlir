// RUN: tidal-opt %s -p graph-fold-pad | filecheck %s

// Keras' ZeroPadding2D before a stride-2 depthwise conv, as the importer builds
// it: a row of zeros below (a concat along dim 2), then a column on the right
// (dim 3). Both go into the conv's pads (bottom 0 -> 1, right 1 -> 2); the
// concatenations have no reader left and go.
// CHECK-LABEL: func.func @zero_padding
// CHECK-NEXT:    %w = graph.constant dense<2.500000e-01> : tensor<16x1x3x3xf32>
// CHECK-NEXT:    %c = graph.conv2d %x, %w {strides = array<i64: 2, 2>, pads = array<i64: 0, 1, 1, 2>, group = 16 : i64} : (tensor<1x16x8x8xf32>, tensor<16x1x3x3xf32>) -> tensor<1x16x4x5xf32>
// CHECK-NEXT:    func.return %c
func.func @zero_padding(%x: tensor<1x16x8x8xf32>) -> tensor<1x16x4x5xf32> {
  %rows = graph.constant dense<0.0> : tensor<1x16x1x8xf32>
  %p1 = graph.concat %x, %rows {axis = 2 : i64} : (tensor<1x16x8x8xf32>, tensor<1x16x1x8xf32>) -> tensor<1x16x9x8xf32>
  %cols = graph.constant dense<0.0> : tensor<1x16x9x1xf32>
  %p2 = graph.concat %p1, %cols {axis = 3 : i64} : (tensor<1x16x9x8xf32>, tensor<1x16x9x1xf32>) -> tensor<1x16x9x9xf32>
  %w = graph.constant dense<0.25> : tensor<16x1x3x3xf32>
  %c = graph.conv2d %p2, %w {strides = array<i64: 2, 2>, pads = array<i64: 0, 1, 0, 1>, group = 16 : i64} : (tensor<1x16x9x9xf32>, tensor<16x1x3x3xf32>) -> tensor<1x16x4x5xf32>
  func.return %c : tensor<1x16x4x5xf32>
}

// Zeros on both sides of one dim (2 above, 1 below); the padded value has another
// reader, which keeps it.
// CHECK-LABEL: func.func @both_sides
// CHECK:         %p = graph.concat %top, %x, %bottom
// CHECK:         %c = graph.conv2d %x, %w {pads = array<i64: 2, 0, 1, 0>}
// CHECK-NEXT:    func.return %c, %p
func.func @both_sides(%x: tensor<1x4x5x5xf32>) -> (tensor<1x8x6x3xf32>, tensor<1x4x8x5xf32>) {
  %top = graph.constant dense<0.0> : tensor<1x4x2x5xf32>
  %bottom = graph.constant dense<0.0> : tensor<1x4x1x5xf32>
  %p = graph.concat %top, %x, %bottom {axis = 2 : i64} : (tensor<1x4x2x5xf32>, tensor<1x4x5x5xf32>, tensor<1x4x1x5xf32>) -> tensor<1x4x8x5xf32>
  %w = graph.constant dense<0.5> : tensor<8x4x3x3xf32>
  %c = graph.conv2d %p, %w : (tensor<1x4x8x5xf32>, tensor<8x4x3x3xf32>) -> tensor<1x8x6x3xf32>
  func.return %c, %p : tensor<1x8x6x3xf32>, tensor<1x4x8x5xf32>
}

// Kept: a pad value other than zero; zeros along the channels; a concatenation of
// two tensors; three rows of zeros above a 3x3 kernel (a window wholly in the
// padding); a max pooling (its padding is -inf, not zero).
// CHECK-LABEL: func.func @kept
// CHECK-COUNT-4: graph.conv2d %p
// CHECK:         graph.maxpool %z
func.func @kept(%x: tensor<1x4x5x5xf32>, %y: tensor<1x4x1x5xf32>) -> (tensor<1x8x4x3xf32>, tensor<1x8x3x3xf32>, tensor<1x8x4x3xf32>, tensor<1x8x6x3xf32>, tensor<1x4x5x5xf32>) {
  %w = graph.constant dense<0.5> : tensor<8x4x3x3xf32>
  %ones = graph.constant dense<1.0> : tensor<1x4x1x5xf32>
  %p1 = graph.concat %x, %ones {axis = 2 : i64} : (tensor<1x4x5x5xf32>, tensor<1x4x1x5xf32>) -> tensor<1x4x6x5xf32>
  %c1 = graph.conv2d %p1, %w : (tensor<1x4x6x5xf32>, tensor<8x4x3x3xf32>) -> tensor<1x8x4x3xf32>
  %zc = graph.constant dense<0.0> : tensor<1x4x5x5xf32>
  %p2 = graph.concat %x, %zc {axis = 1 : i64} : (tensor<1x4x5x5xf32>, tensor<1x4x5x5xf32>) -> tensor<1x8x5x5xf32>
  %w2 = graph.constant dense<0.5> : tensor<8x8x3x3xf32>
  %c2 = graph.conv2d %p2, %w2 : (tensor<1x8x5x5xf32>, tensor<8x8x3x3xf32>) -> tensor<1x8x3x3xf32>
  %p3 = graph.concat %x, %y {axis = 2 : i64} : (tensor<1x4x5x5xf32>, tensor<1x4x1x5xf32>) -> tensor<1x4x6x5xf32>
  %c3 = graph.conv2d %p3, %w : (tensor<1x4x6x5xf32>, tensor<8x4x3x3xf32>) -> tensor<1x8x4x3xf32>
  %three = graph.constant dense<0.0> : tensor<1x4x3x5xf32>
  %p4 = graph.concat %three, %x {axis = 2 : i64} : (tensor<1x4x3x5xf32>, tensor<1x4x5x5xf32>) -> tensor<1x4x8x5xf32>
  %c4 = graph.conv2d %p4, %w : (tensor<1x4x8x5xf32>, tensor<8x4x3x3xf32>) -> tensor<1x8x6x3xf32>
  %zr = graph.constant dense<0.0> : tensor<1x4x1x5xf32>
  %z = graph.concat %x, %zr {axis = 2 : i64} : (tensor<1x4x5x5xf32>, tensor<1x4x1x5xf32>) -> tensor<1x4x6x5xf32>
  %m = graph.maxpool %z {kernel_shape = array<i64: 2, 1>} : (tensor<1x4x6x5xf32>) -> tensor<1x4x5x5xf32>
  func.return %c1, %c2, %c3, %c4, %m : tensor<1x8x4x3xf32>, tensor<1x8x3x3xf32>, tensor<1x8x4x3xf32>, tensor<1x8x6x3xf32>, tensor<1x4x5x5xf32>
}

// A TensorFlow export pads its NHWC input before the transpose to NCHW: the
// transpose moves above the two concatenations (their zeros transposed with it,
// the axes 1 and 2 of NHWC becoming 2 and 3), which the conv then takes.
// CHECK-LABEL: func.func @nhwc_input
// CHECK-NEXT:    %[[T:.*]] = graph.transpose %x {tidal.origin = "to_nchw", perm = array<i64: 0, 3, 1, 2>} : (tensor<1x8x8x4xf32>) -> tensor<1x4x8x8xf32>
// CHECK-NEXT:    %w = graph.constant
// CHECK-NEXT:    %c = graph.conv2d %[[T]], %w {strides = array<i64: 2, 2>, group = 4 : i64, pads = array<i64: 0, 0, 1, 1>}
// CHECK-NEXT:    func.return %c
func.func @nhwc_input(%x: tensor<1x8x8x4xf32>) -> tensor<1x4x4x4xf32> {
  %rows = graph.constant dense<0.0> : tensor<1x1x8x4xf32>
  %p1 = graph.concat %x, %rows {axis = 1 : i64} : (tensor<1x8x8x4xf32>, tensor<1x1x8x4xf32>) -> tensor<1x9x8x4xf32>
  %cols = graph.constant dense<0.0> : tensor<1x9x1x4xf32>
  %p2 = graph.concat %p1, %cols {axis = 2 : i64} : (tensor<1x9x8x4xf32>, tensor<1x9x1x4xf32>) -> tensor<1x9x9x4xf32>
  %t = graph.transpose %p2 {perm = array<i64: 0, 3, 1, 2>, tidal.origin = "to_nchw"} : (tensor<1x9x9x4xf32>) -> tensor<1x4x9x9xf32>
  %w = graph.constant dense<0.5> : tensor<4x1x3x3xf32>
  %c = graph.conv2d %t, %w {strides = array<i64: 2, 2>, group = 4 : i64} : (tensor<1x4x9x9xf32>, tensor<4x1x3x3xf32>) -> tensor<1x4x4x4xf32>
  func.return %c : tensor<1x4x4x4xf32>
}

// Kept: the transposed padding is also returned (not every reader a conv), and a
// padding of the channels (dim 3 of NHWC, dim 1 once transposed).
// CHECK-LABEL: func.func @nhwc_kept
// CHECK:         graph.transpose %p
// CHECK:         graph.transpose %q
func.func @nhwc_kept(%x: tensor<1x8x8x4xf32>) -> (tensor<1x4x7x8xf32>, tensor<1x4x9x8xf32>, tensor<1x4x6x6xf32>) {
  %rows = graph.constant dense<0.0> : tensor<1x1x8x4xf32>
  %p = graph.concat %x, %rows {axis = 1 : i64} : (tensor<1x8x8x4xf32>, tensor<1x1x8x4xf32>) -> tensor<1x9x8x4xf32>
  %t = graph.transpose %p {perm = array<i64: 0, 3, 1, 2>} : (tensor<1x9x8x4xf32>) -> tensor<1x4x9x8xf32>
  %w = graph.constant dense<0.5> : tensor<4x4x3x1xf32>
  %c = graph.conv2d %t, %w : (tensor<1x4x9x8xf32>, tensor<4x4x3x1xf32>) -> tensor<1x4x7x8xf32>
  %ch = graph.constant dense<0.0> : tensor<1x8x8x2xf32>
  %q = graph.concat %x, %ch {axis = 3 : i64} : (tensor<1x8x8x4xf32>, tensor<1x8x8x2xf32>) -> tensor<1x8x8x6xf32>
  %u = graph.transpose %q {perm = array<i64: 0, 3, 1, 2>} : (tensor<1x8x8x6xf32>) -> tensor<1x6x8x8xf32>
  %v = graph.constant dense<0.5> : tensor<4x6x3x3xf32>
  %d = graph.conv2d %u, %v : (tensor<1x6x8x8xf32>, tensor<4x6x3x3xf32>) -> tensor<1x4x6x6xf32>
  func.return %c, %t, %d : tensor<1x4x7x8xf32>, tensor<1x4x9x8xf32>, tensor<1x4x6x6xf32>
}

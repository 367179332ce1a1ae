// RUN: tidal-opt %s -p graph-sink-transposes | filecheck %s

// A TensorFlow export's conv block (tf2onnx): NHWC -> NCHW before each conv, back
// after it, the batch norm's per-channel scale, hard swish (its first operand read
// twice) and a Pad's zeros (a concat) in NHWC between. The pair between the convs
// cancels: the scale becomes a [1, 16, 1, 1] constant, the zeros' block and the
// concat's axis move to NCHW (dim 1 of NHWC is dim 2). The input's transpose and
// the returned one stay.
// CHECK-LABEL: func.func @conv_block
// CHECK-NEXT:    %t0 = graph.transpose %x {tidal.origin = "in", perm = array<i64: 0, 3, 1, 2>}
// CHECK-NEXT:    %w = graph.constant
// CHECK-NEXT:    %c = graph.conv2d %t0, %w
// CHECK-NEXT:    %s = graph.constant dense<{{\[\[\[\[}}1.000000e+00]], {{\[\[}}2.000000e+00]]{{.*}} : tensor<1x16x1x1xf32>
// CHECK-NEXT:    %m = graph.mul %c, %s {tidal.origin = "bn_mul"} : (tensor<1x16x8x8xf32>, tensor<1x16x1x1xf32>) -> tensor<1x16x8x8xf32>
// CHECK-NEXT:    %three = graph.constant dense<3.000000e+00> : tensor<1x1x1x1xf32>
// CHECK-NEXT:    %a = graph.add %m, %three {tidal.origin = "hs_add"} : (tensor<1x16x8x8xf32>, tensor<1x1x1x1xf32>) -> tensor<1x16x8x8xf32>
// CHECK-NEXT:    %cl = graph.piecewise_linear %a {{.*}} : (tensor<1x16x8x8xf32>) -> tensor<1x16x8x8xf32>
// CHECK-NEXT:    %hs = graph.mul %m, %cl {tidal.origin = "hs_mul"} : (tensor<1x16x8x8xf32>, tensor<1x16x8x8xf32>) -> tensor<1x16x8x8xf32>
// CHECK-NEXT:    %zr = graph.constant dense<0.000000e+00> : tensor<1x16x1x8xf32>
// CHECK-NEXT:    %p = graph.concat %hs, %zr {tidal.origin = "pad", axis = 2 : i64} : (tensor<1x16x8x8xf32>, tensor<1x16x1x8xf32>) -> tensor<1x16x9x8xf32>
// CHECK-NEXT:    %v = graph.constant
// CHECK-NEXT:    %d = graph.conv2d %p, %v
// CHECK-NEXT:    %t3 = graph.transpose %d {perm = array<i64: 0, 2, 3, 1>}
// CHECK-NEXT:    func.return %t3
func.func @conv_block(%x: tensor<1x8x8x3xf32>) -> tensor<1x4x4x4xf32> {
  %t0 = graph.transpose %x {perm = array<i64: 0, 3, 1, 2>, tidal.origin = "in"} : (tensor<1x8x8x3xf32>) -> tensor<1x3x8x8xf32>
  %w = graph.constant dense<0.5> : tensor<16x3x3x3xf32>
  %c = graph.conv2d %t0, %w {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x3x8x8xf32>, tensor<16x3x3x3xf32>) -> tensor<1x16x8x8xf32>
  %t1 = graph.transpose %c {perm = array<i64: 0, 2, 3, 1>, tidal.origin = "out"} : (tensor<1x16x8x8xf32>) -> tensor<1x8x8x16xf32>
  %s = graph.constant dense<[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0]> : tensor<16xf32>
  %m = graph.mul %t1, %s {tidal.origin = "bn_mul"} : (tensor<1x8x8x16xf32>, tensor<16xf32>) -> tensor<1x8x8x16xf32>
  %three = graph.constant dense<3.0> : tensor<1xf32>
  %a = graph.add %m, %three {tidal.origin = "hs_add"} : (tensor<1x8x8x16xf32>, tensor<1xf32>) -> tensor<1x8x8x16xf32>
  %cl = graph.piecewise_linear %a {kind = "clip", alpha = 0.0 : f32, beta = 6.0 : f32, tidal.origin = "hs_clip"} : (tensor<1x8x8x16xf32>) -> tensor<1x8x8x16xf32>
  %hs = graph.mul %m, %cl {tidal.origin = "hs_mul"} : (tensor<1x8x8x16xf32>, tensor<1x8x8x16xf32>) -> tensor<1x8x8x16xf32>
  %zr = graph.constant dense<0.0> : tensor<1x1x8x16xf32>
  %p = graph.concat %hs, %zr {axis = 1 : i64, tidal.origin = "pad"} : (tensor<1x8x8x16xf32>, tensor<1x1x8x16xf32>) -> tensor<1x9x8x16xf32>
  %t2 = graph.transpose %p {perm = array<i64: 0, 3, 1, 2>, tidal.origin = "dw_in"} : (tensor<1x9x8x16xf32>) -> tensor<1x16x9x8xf32>
  %v = graph.constant dense<0.25> : tensor<4x16x3x3xf32>
  %d = graph.conv2d %t2, %v {strides = array<i64: 2, 2>, pads = array<i64: 0, 1, 0, 1>} : (tensor<1x16x9x8xf32>, tensor<4x16x3x3xf32>) -> tensor<1x4x4x4xf32>
  %t3 = graph.transpose %d {perm = array<i64: 0, 2, 3, 1>} : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
  func.return %t3 : tensor<1x4x4x4xf32>
}

// A squeeze-and-excite gate: the image's transpose and the gate's (which moves dims
// of size 1 only) share the perm, so the multiply runs in NCHW and the pair goes.
// CHECK-LABEL: func.func @squeeze_excite
// CHECK-NEXT:    %r = graph.relu %g : (tensor<1x16x1x1xf32>) -> tensor<1x16x1x1xf32>
// CHECK-NEXT:    %m = graph.mul %x, %r : (tensor<1x16x6x6xf32>, tensor<1x16x1x1xf32>) -> tensor<1x16x6x6xf32>
// CHECK-NEXT:    func.return %m
func.func @squeeze_excite(%x: tensor<1x16x6x6xf32>, %g: tensor<1x16x1x1xf32>) -> tensor<1x16x6x6xf32> {
  %t = graph.transpose %x {perm = array<i64: 0, 2, 3, 1>} : (tensor<1x16x6x6xf32>) -> tensor<1x6x6x16xf32>
  %gt = graph.transpose %g {perm = array<i64: 0, 2, 3, 1>} : (tensor<1x16x1x1xf32>) -> tensor<1x1x1x16xf32>
  %r = graph.relu %gt : (tensor<1x1x1x16xf32>) -> tensor<1x1x1x16xf32>
  %m = graph.mul %t, %r : (tensor<1x6x6x16xf32>, tensor<1x1x1x16xf32>) -> tensor<1x6x6x16xf32>
  %b = graph.transpose %m {perm = array<i64: 0, 3, 1, 2>} : (tensor<1x6x6x16xf32>) -> tensor<1x16x6x6xf32>
  func.return %b : tensor<1x16x6x6xf32>
}

// A broadcast operand that is not a constant gets a transpose of its own (here, of
// dims of size 1: a reshape); the operands keep their order.
// CHECK-LABEL: func.func @small_operand
// CHECK-NEXT:    %[[G:.*]] = graph.reshape %g : (tensor<16xf32>) -> tensor<1x16x1x1xf32>
// CHECK-NEXT:    %{{.*}} = graph.sub %[[G]], %x : (tensor<1x16x1x1xf32>, tensor<1x16x6x6xf32>) -> tensor<1x16x6x6xf32>
// CHECK-NEXT:    func.return
func.func @small_operand(%x: tensor<1x16x6x6xf32>, %g: tensor<16xf32>) -> tensor<1x16x6x6xf32> {
  %t = graph.transpose %x {perm = array<i64: 0, 2, 3, 1>} : (tensor<1x16x6x6xf32>) -> tensor<1x6x6x16xf32>
  %m = graph.sub %g, %t : (tensor<16xf32>, tensor<1x6x6x16xf32>) -> tensor<1x6x6x16xf32>
  %b = graph.transpose %m {perm = array<i64: 0, 3, 1, 2>} : (tensor<1x6x6x16xf32>) -> tensor<1x16x6x6xf32>
  func.return %b : tensor<1x16x6x6xf32>
}

// Two transposes in a row are one; an element-wise op moves above a transpose that
// then stays (it is returned), the same number of elements transposed.
// CHECK-LABEL: func.func @compose
// CHECK-NEXT:    %b = graph.transpose %x {perm = array<i64: 2, 0, 1>} : (tensor<2x3x4xf32>) -> tensor<4x2x3xf32>
// CHECK-NEXT:    %e = graph.activation %x {func = "exp"} : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
// CHECK-NEXT:    %[[E:.*]] = graph.transpose %e {perm = array<i64: 1, 0, 2>} : (tensor<2x3x4xf32>) -> tensor<3x2x4xf32>
// CHECK-NEXT:    func.return %b, %[[E]]
func.func @compose(%x: tensor<2x3x4xf32>) -> (tensor<4x2x3xf32>, tensor<3x2x4xf32>) {
  %a = graph.transpose %x {perm = array<i64: 1, 2, 0>} : (tensor<2x3x4xf32>) -> tensor<3x4x2xf32>
  %b = graph.transpose %a {perm = array<i64: 1, 2, 0>} : (tensor<3x4x2xf32>) -> tensor<4x2x3xf32>
  %c = graph.transpose %x {perm = array<i64: 1, 0, 2>} : (tensor<2x3x4xf32>) -> tensor<3x2x4xf32>
  %e = graph.activation %c {func = "exp"} : (tensor<3x2x4xf32>) -> tensor<3x2x4xf32>
  func.return %b, %e : tensor<4x2x3xf32>, tensor<3x2x4xf32>
}

// A transpose of dims of size 1 is a reshape, and two reshapes are one.
// CHECK-LABEL: func.func @unit_dims
// CHECK-NEXT:    %r = graph.reshape %x : (tensor<4x1x1xf32>) -> tensor<1x2x2xf32>
// CHECK-NEXT:    func.return %r
func.func @unit_dims(%x: tensor<4x1x1xf32>) -> tensor<1x2x2xf32> {
  %t = graph.transpose %x {perm = array<i64: 1, 2, 0>} : (tensor<4x1x1xf32>) -> tensor<1x1x4xf32>
  %r = graph.reshape %t : (tensor<1x1x4xf32>) -> tensor<1x2x2xf32>
  func.return %r : tensor<1x2x2xf32>
}

// Kept: the transpose would move through the relu and stop at the reshape while
// the return keeps the original, two copies for one; the function is unchanged.
// CHECK-LABEL: func.func @kept_blocked
// CHECK-NEXT:    %t = graph.transpose %x
// CHECK-NEXT:    %r = graph.relu %t
// CHECK-NEXT:    %f = graph.reshape %r
// CHECK-NEXT:    func.return %t, %f
func.func @kept_blocked(%x: tensor<1x16x6x6xf32>) -> (tensor<1x6x6x16xf32>, tensor<1x576xf32>) {
  %t = graph.transpose %x {perm = array<i64: 0, 2, 3, 1>} : (tensor<1x16x6x6xf32>) -> tensor<1x6x6x16xf32>
  %r = graph.relu %t : (tensor<1x6x6x16xf32>) -> tensor<1x6x6x16xf32>
  %f = graph.reshape %r : (tensor<1x6x6x16xf32>) -> tensor<1x576xf32>
  func.return %t, %f : tensor<1x6x6x16xf32>, tensor<1x576xf32>
}

// Kept: a broadcast operand's transpose would move onto the larger result.
// CHECK-LABEL: func.func @kept_broadcast
// CHECK-NEXT:    %t = graph.transpose %x
// CHECK-NEXT:    %m = graph.add %t, %y
// CHECK-NEXT:    func.return %m
func.func @kept_broadcast(%x: tensor<2x6x1x16xf32>, %y: tensor<6x2x5x16xf32>) -> tensor<6x2x5x16xf32> {
  %t = graph.transpose %x {perm = array<i64: 1, 0, 2, 3>} : (tensor<2x6x1x16xf32>) -> tensor<6x2x1x16xf32>
  %m = graph.add %t, %y : (tensor<6x2x1x16xf32>, tensor<6x2x5x16xf32>) -> tensor<6x2x5x16xf32>
  func.return %m : tensor<6x2x5x16xf32>
}

// Kept: the other operand of the add is as large as the result and no transpose,
// so the add keeps its place; the pair around the relu still cancels.
// CHECK-LABEL: func.func @kept_full_operand
// CHECK-NEXT:    %t = graph.transpose %x
// CHECK-NEXT:    %a = graph.add %t, %y
// CHECK-NEXT:    %r0 = graph.relu %x
// CHECK-NEXT:    func.return %a, %r0
func.func @kept_full_operand(%x: tensor<1x16x6x6xf32>, %y: tensor<1x6x6x16xf32>) -> (tensor<1x6x6x16xf32>, tensor<1x16x6x6xf32>) {
  %t = graph.transpose %x {perm = array<i64: 0, 2, 3, 1>} : (tensor<1x16x6x6xf32>) -> tensor<1x6x6x16xf32>
  %a = graph.add %t, %y : (tensor<1x6x6x16xf32>, tensor<1x6x6x16xf32>) -> tensor<1x6x6x16xf32>
  %r0 = graph.relu %t : (tensor<1x6x6x16xf32>) -> tensor<1x6x6x16xf32>
  %r = graph.transpose %r0 {perm = array<i64: 0, 3, 1, 2>} : (tensor<1x6x6x16xf32>) -> tensor<1x16x6x6xf32>
  func.return %a, %r : tensor<1x6x6x16xf32>, tensor<1x16x6x6xf32>
}

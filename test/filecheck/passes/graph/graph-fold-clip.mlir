// RUN: tidal-opt %s -p graph-fold-clip | filecheck %s

// MobileNet v2's inverted residual: a 1x1 expansion, ReLU6, a 3x3 depthwise conv,
// ReLU6, a 1x1 projection. Each clip becomes its producer's clip01 with the
// producer's weights and bias divided by 6, and its reader's weights times 6 (the
// depthwise conv is both: 0.5 x 6 / 6). The replaced constants are gone.
// CHECK-LABEL: func.func @inverted_residual
// CHECK-NEXT:    %[[W:.*]] = graph.constant dense<5.000000e-01> : tensor<8x8x1x1xf32>
// CHECK-NEXT:    %[[B:.*]] = graph.constant dense<2.500000e-01> : tensor<8xf32>
// CHECK-NEXT:    %r = graph.conv2d %x, %[[W]], %[[B]] {tidal.origin = "expand", tidal.fused = ["relu6"], activation = "clip01"}
// CHECK-NEXT:    %[[DW:.*]] = graph.constant dense<5.000000e-01> : tensor<8x1x3x3xf32>
// CHECK-NEXT:    %r2 = graph.conv2d %r, %[[DW]] {tidal.origin = "depthwise", tidal.fused = ["relu6_2"], group = 8 : i64, pads = array<i64: 1, 1, 1, 1>, activation = "clip01"}
// CHECK-NEXT:    %[[PW:.*]] = graph.constant dense<1.500000e+00> : tensor<4x8x1x1xf32>
// CHECK-NEXT:    %p = graph.conv2d %r2, %[[PW]] {tidal.origin = "project"}
// CHECK-NEXT:    func.return %p
func.func @inverted_residual(%x: tensor<1x8x6x6xf32>) -> tensor<1x4x6x6xf32> {
  %w = graph.constant dense<3.0> : tensor<8x8x1x1xf32>
  %b = graph.constant dense<1.5> : tensor<8xf32>
  %c = graph.conv2d %x, %w, %b {tidal.origin = "expand"} : (tensor<1x8x6x6xf32>, tensor<8x8x1x1xf32>, tensor<8xf32>) -> tensor<1x8x6x6xf32>
  %r = graph.piecewise_linear %c {kind = "clip", alpha = 0.0 : f32, beta = 6.0 : f32, tidal.origin = "relu6"} : (tensor<1x8x6x6xf32>) -> tensor<1x8x6x6xf32>
  %dw = graph.constant dense<0.5> : tensor<8x1x3x3xf32>
  %d = graph.conv2d %r, %dw {group = 8 : i64, pads = array<i64: 1, 1, 1, 1>, tidal.origin = "depthwise"} : (tensor<1x8x6x6xf32>, tensor<8x1x3x3xf32>) -> tensor<1x8x6x6xf32>
  %r2 = graph.piecewise_linear %d {kind = "clip", alpha = 0.0 : f32, beta = 6.0 : f32, tidal.origin = "relu6_2"} : (tensor<1x8x6x6xf32>) -> tensor<1x8x6x6xf32>
  %pw = graph.constant dense<0.25> : tensor<4x8x1x1xf32>
  %p = graph.conv2d %r2, %pw {tidal.origin = "project"} : (tensor<1x8x6x6xf32>, tensor<4x8x1x1xf32>) -> tensor<1x4x6x6xf32>
  func.return %p : tensor<1x4x6x6xf32>
}

// Through a max pooling, a global average pooling and a flatten to a gemm, which
// takes the factor in its alpha (0.5 x 6); a clip to [0, 4] after that gemm divides
// its alpha (to 0.5 x 6 / 4) and its c (not a constant here: its beta) by 4 and
// multiplies the next gemm's alpha by 4; a gemm with a constant c divides c instead.
// CHECK-LABEL: func.func @classifier
// CHECK:         %r = graph.conv2d %x, %{{.*}} {tidal.fused = ["graph.piecewise_linear"], activation = "clip01"}
// CHECK-NEXT:    %m = graph.maxpool %r
// CHECK-NEXT:    %g = graph.global_avgpool %m
// CHECK-NEXT:    %f = graph.flatten %g
// CHECK-NEXT:    %h = graph.gemm %f, %fw, %fb {tidal.fused = ["graph.piecewise_linear"], alpha = 7.500000e-01 : f32, beta = 2.500000e-01 : f32, activation = "clip01"}
// CHECK-NEXT:    %[[C:.*]] = graph.constant dense<5.000000e-01> : tensor<3xf32>
// CHECK-NEXT:    %y = graph.gemm %h, %gw, %[[C]] {tidal.fused = ["graph.piecewise_linear"], alpha = 2.000000e+00 : f32, activation = "clip01"}
// CHECK-NEXT:    %z = graph.gemm %y, %zw {alpha = 2.000000e+00 : f32}
func.func @classifier(%x: tensor<1x8x6x6xf32>, %fw: tensor<8x10xf32>, %fb: tensor<10xf32>, %gw: tensor<10x3xf32>, %zw: tensor<3x2xf32>) -> tensor<1x2xf32> {
  %w = graph.constant dense<3.0> : tensor<8x8x1x1xf32>
  %c = graph.conv2d %x, %w : (tensor<1x8x6x6xf32>, tensor<8x8x1x1xf32>) -> tensor<1x8x6x6xf32>
  %r = graph.piecewise_linear %c {kind = "clip", alpha = 0.0 : f32, beta = 6.0 : f32} : (tensor<1x8x6x6xf32>) -> tensor<1x8x6x6xf32>
  %m = graph.maxpool %r {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>} : (tensor<1x8x6x6xf32>) -> tensor<1x8x3x3xf32>
  %g = graph.global_avgpool %m : (tensor<1x8x3x3xf32>) -> tensor<1x8x1x1xf32>
  %f = graph.flatten %g : (tensor<1x8x1x1xf32>) -> tensor<1x8xf32>
  %h0 = graph.gemm %f, %fw, %fb {alpha = 0.5 : f32} : (tensor<1x8xf32>, tensor<8x10xf32>, tensor<10xf32>) -> tensor<1x10xf32>
  %h = graph.piecewise_linear %h0 {kind = "clip", alpha = 0.0 : f32, beta = 4.0 : f32} : (tensor<1x10xf32>) -> tensor<1x10xf32>
  %gc = graph.constant dense<1.0> : tensor<3xf32>
  %y0 = graph.gemm %h, %gw, %gc : (tensor<1x10xf32>, tensor<10x3xf32>, tensor<3xf32>) -> tensor<1x3xf32>
  %y = graph.piecewise_linear %y0 {kind = "clip", alpha = 0.0 : f32, beta = 2.0 : f32} : (tensor<1x3xf32>) -> tensor<1x3xf32>
  %z = graph.gemm %y, %zw : (tensor<1x3xf32>, tensor<3x2xf32>) -> tensor<1x2xf32>
  func.return %z : tensor<1x2xf32>
}

// Kept: a clip whose value is returned; one read by an add; a lower bound that
// is not 0 (it would not pass through zero padding); a producer with a second
// reader; a producer that has an activation already; a reader conv that reads the
// clipped value as its addend.
// CHECK-LABEL: func.func @kept
// CHECK-COUNT-6: graph.piecewise_linear
// CHECK-NOT:     clip01
// CHECK:         func.return
func.func @kept(%x: tensor<1x8x6x6xf32>) -> (tensor<1x8x6x6xf32>, tensor<1x8x6x6xf32>, tensor<1x8x6x6xf32>, tensor<1x8x6x6xf32>, tensor<1x8x6x6xf32>, tensor<1x8x6x6xf32>) {
  %w = graph.constant dense<3.0> : tensor<8x8x1x1xf32>
  %a = graph.conv2d %x, %w : (tensor<1x8x6x6xf32>, tensor<8x8x1x1xf32>) -> tensor<1x8x6x6xf32>
  %ar = graph.piecewise_linear %a {kind = "clip", alpha = 0.0 : f32, beta = 6.0 : f32} : (tensor<1x8x6x6xf32>) -> tensor<1x8x6x6xf32>
  %b = graph.conv2d %x, %w : (tensor<1x8x6x6xf32>, tensor<8x8x1x1xf32>) -> tensor<1x8x6x6xf32>
  %br = graph.piecewise_linear %b {kind = "clip", alpha = 0.0 : f32, beta = 6.0 : f32} : (tensor<1x8x6x6xf32>) -> tensor<1x8x6x6xf32>
  %bs = graph.add %br, %x : (tensor<1x8x6x6xf32>, tensor<1x8x6x6xf32>) -> tensor<1x8x6x6xf32>
  %c = graph.conv2d %x, %w : (tensor<1x8x6x6xf32>, tensor<8x8x1x1xf32>) -> tensor<1x8x6x6xf32>
  %cr = graph.piecewise_linear %c {kind = "clip", alpha = -1.0 : f32, beta = 1.0 : f32} : (tensor<1x8x6x6xf32>) -> tensor<1x8x6x6xf32>
  %cs = graph.conv2d %cr, %w : (tensor<1x8x6x6xf32>, tensor<8x8x1x1xf32>) -> tensor<1x8x6x6xf32>
  %d = graph.conv2d %x, %w : (tensor<1x8x6x6xf32>, tensor<8x8x1x1xf32>) -> tensor<1x8x6x6xf32>
  %dr = graph.piecewise_linear %d {kind = "clip", alpha = 0.0 : f32, beta = 6.0 : f32} : (tensor<1x8x6x6xf32>) -> tensor<1x8x6x6xf32>
  %ds = graph.conv2d %dr, %w addend %d : (tensor<1x8x6x6xf32>, tensor<8x8x1x1xf32>, tensor<1x8x6x6xf32>) -> tensor<1x8x6x6xf32>
  %e = graph.conv2d %x, %w {activation = "relu"} : (tensor<1x8x6x6xf32>, tensor<8x8x1x1xf32>) -> tensor<1x8x6x6xf32>
  %er = graph.piecewise_linear %e {kind = "clip", alpha = 0.0 : f32, beta = 6.0 : f32} : (tensor<1x8x6x6xf32>) -> tensor<1x8x6x6xf32>
  %es = graph.conv2d %er, %w : (tensor<1x8x6x6xf32>, tensor<8x8x1x1xf32>) -> tensor<1x8x6x6xf32>
  %f = graph.conv2d %x, %w : (tensor<1x8x6x6xf32>, tensor<8x8x1x1xf32>) -> tensor<1x8x6x6xf32>
  %fr = graph.piecewise_linear %f {kind = "clip", alpha = 0.0 : f32, beta = 6.0 : f32} : (tensor<1x8x6x6xf32>) -> tensor<1x8x6x6xf32>
  %fs = graph.conv2d %x, %w addend %fr : (tensor<1x8x6x6xf32>, tensor<8x8x1x1xf32>, tensor<1x8x6x6xf32>) -> tensor<1x8x6x6xf32>
  func.return %ar, %bs, %cs, %ds, %es, %fs : tensor<1x8x6x6xf32>, tensor<1x8x6x6xf32>, tensor<1x8x6x6xf32>, tensor<1x8x6x6xf32>, tensor<1x8x6x6xf32>, tensor<1x8x6x6xf32>
}

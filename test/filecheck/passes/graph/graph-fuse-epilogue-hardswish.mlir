// RUN: tidal-opt %s -p graph-fuse-epilogue | filecheck %s
// RUN: tidal-opt %s -p 'graph-fuse-epilogue{hard_swish=false}' | filecheck %s --check-prefix=OFF

// Keras' hard_swish as tf2onnx exports it: x * (relu6(x + 3) * (1/6)). The add,
// the clip and the scale become one hard_sigmoid (alpha 1/6, beta 3/6), and x times
// it one hard_swish, which lists the four ops it replaced.
// CHECK-LABEL: func.func @keras_hard_swish
// CHECK-NEXT:    %y = graph.piecewise_linear %x {tidal.origin = "mul", tidal.fused = ["add", "relu6", "truediv"], kind = "hard_swish", alpha = 0.166666672 : f32, beta = 5.000000e-01 : f32} : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
// CHECK-NEXT:    func.return %y
// OFF-LABEL: func.func @keras_hard_swish
// OFF-NEXT:    graph.constant
// OFF-NEXT:    graph.add
// OFF-NEXT:    graph.piecewise_linear %a {{.*}}kind = "clip"
// OFF-NEXT:    graph.constant
// OFF-NEXT:    graph.mul
// OFF-NEXT:    graph.mul
func.func @keras_hard_swish(%x: tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32> {
  %three = graph.constant dense<3.0> : tensor<1x1x1x1xf32>
  %a = graph.add %x, %three {tidal.origin = "add"} : (tensor<1x8x4x4xf32>, tensor<1x1x1x1xf32>) -> tensor<1x8x4x4xf32>
  %c = graph.piecewise_linear %a {kind = "clip", alpha = 0.0 : f32, beta = 6.0 : f32, tidal.origin = "relu6"} : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  %sixth = graph.constant dense<0.166666672> : tensor<1x1x1x1xf32>
  %h = graph.mul %c, %sixth {tidal.origin = "truediv"} : (tensor<1x8x4x4xf32>, tensor<1x1x1x1xf32>) -> tensor<1x8x4x4xf32>
  %y = graph.mul %x, %h {tidal.origin = "mul"} : (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  func.return %y : tensor<1x8x4x4xf32>
}

// A squeeze-and-excite gate whose + 3 went into the conv's bias, divided by 6 (a
// piecewise affine, as the importer builds a Div by a scalar): a hard_sigmoid of
// alpha 1/6, beta 0.
// CHECK-LABEL: func.func @gate
// CHECK-NEXT:    %h = graph.piecewise_linear %g {tidal.origin = "div", tidal.fused = ["relu6"], kind = "hard_sigmoid", alpha = 0.166666672 : f32, beta = 0.000000e+00 : f32}
// CHECK-NEXT:    func.return %h
func.func @gate(%g: tensor<1x8x1x1xf32>) -> tensor<1x8x1x1xf32> {
  %c = graph.piecewise_linear %g {kind = "clip", alpha = 0.0 : f32, beta = 6.0 : f32, tidal.origin = "relu6"} : (tensor<1x8x1x1xf32>) -> tensor<1x8x1x1xf32>
  %h = graph.piecewise_linear %c {kind = "affine", alpha = 0.166666672 : f32, beta = 0.0 : f32, tidal.origin = "div"} : (tensor<1x8x1x1xf32>) -> tensor<1x8x1x1xf32>
  func.return %h : tensor<1x8x1x1xf32>
}

// clip(2x + 1, 0, 4) / 4 = clip01(x / 2 + 1 / 4); the scale may come first.
// CHECK-LABEL: func.func @affine_inside
// CHECK-NEXT:    %h = graph.piecewise_linear %x {{.*}}kind = "hard_sigmoid", alpha = 5.000000e-01 : f32, beta = 2.500000e-01 : f32}
// CHECK-NEXT:    func.return %h
func.func @affine_inside(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %a = graph.piecewise_linear %x {kind = "affine", alpha = 2.0 : f32, beta = 1.0 : f32} : (tensor<2x8xf32>) -> tensor<2x8xf32>
  %c = graph.piecewise_linear %a {kind = "clip", alpha = 0.0 : f32, beta = 4.0 : f32} : (tensor<2x8xf32>) -> tensor<2x8xf32>
  %q = graph.constant dense<0.25> : tensor<1xf32>
  %h = graph.mul %q, %c : (tensor<1xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  func.return %h : tensor<2x8xf32>
}

// Kept: a scale that is not 1 / hi (0.5 of a clip to 6), a lower bound other than
// 0, a clip that something else reads too.
// CHECK-LABEL: func.func @kept
// CHECK-NOT:     hard_sigmoid
// CHECK:         func.return
func.func @kept(%x: tensor<1x8x4x4xf32>) -> (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>) {
  %c = graph.piecewise_linear %x {kind = "clip", alpha = 0.0 : f32, beta = 6.0 : f32} : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  %half = graph.constant dense<0.5> : tensor<1xf32>
  %h = graph.mul %c, %half : (tensor<1x8x4x4xf32>, tensor<1xf32>) -> tensor<1x8x4x4xf32>
  %c2 = graph.piecewise_linear %x {kind = "clip", alpha = 1.0 : f32, beta = 6.0 : f32} : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  %sixth = graph.constant dense<0.166666672> : tensor<1xf32>
  %h2 = graph.mul %c2, %sixth : (tensor<1x8x4x4xf32>, tensor<1xf32>) -> tensor<1x8x4x4xf32>
  %c3 = graph.piecewise_linear %x {kind = "clip", alpha = 0.0 : f32, beta = 6.0 : f32} : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  %h3 = graph.mul %c3, %sixth : (tensor<1x8x4x4xf32>, tensor<1xf32>) -> tensor<1x8x4x4xf32>
  %y = graph.add %h3, %c3 : (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  func.return %h, %h2, %y : tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>
}

// A hard sigmoid of a conv (a squeeze-and-excite gate) is the conv's clip01
// epilogue: weights times alpha (0.5 x 0.25), bias times alpha plus beta
// (2 x 0.25 + 0.5); a conv without a bias gets one of beta.
// CHECK-LABEL: func.func @gate_epilogue
// CHECK-NEXT:    %[[W:.*]] = graph.constant dense<1.250000e-01> : tensor<4x4x1x1xf32>
// CHECK-NEXT:    %[[B:.*]] = graph.constant dense<1.000000e+00> : tensor<4xf32>
// CHECK-NEXT:    %h = graph.conv2d %x, %[[W]], %[[B]] {tidal.origin = "conv", tidal.fused = ["hsig"], activation = "clip01"}
// CHECK-NEXT:    %[[V:.*]] = graph.constant dense<1.250000e-01> : tensor<4x4x1x1xf32>
// CHECK-NEXT:    %[[D:.*]] = graph.constant dense<5.000000e-01> : tensor<4xf32>
// CHECK-NEXT:    %h2 = graph.conv2d %h, %[[V]], %[[D]] {tidal.fused = ["graph.piecewise_linear"], activation = "clip01"}
// CHECK-NEXT:    func.return %h2
// OFF-LABEL: func.func @gate_epilogue
// OFF:         graph.piecewise_linear %c {{.*}}kind = "hard_sigmoid"
func.func @gate_epilogue(%x: tensor<1x4x1x1xf32>) -> tensor<1x4x1x1xf32> {
  %w = graph.constant dense<0.5> : tensor<4x4x1x1xf32>
  %b = graph.constant dense<2.0> : tensor<4xf32>
  %c = graph.conv2d %x, %w, %b {tidal.origin = "conv"} : (tensor<1x4x1x1xf32>, tensor<4x4x1x1xf32>, tensor<4xf32>) -> tensor<1x4x1x1xf32>
  %h = graph.piecewise_linear %c {kind = "hard_sigmoid", alpha = 0.25 : f32, beta = 0.5 : f32, tidal.origin = "hsig"} : (tensor<1x4x1x1xf32>) -> tensor<1x4x1x1xf32>
  %c2 = graph.conv2d %h, %w : (tensor<1x4x1x1xf32>, tensor<4x4x1x1xf32>) -> tensor<1x4x1x1xf32>
  %h2 = graph.piecewise_linear %c2 {kind = "hard_sigmoid", alpha = 0.25 : f32, beta = 0.5 : f32} : (tensor<1x4x1x1xf32>) -> tensor<1x4x1x1xf32>
  func.return %h2 : tensor<1x4x1x1xf32>
}

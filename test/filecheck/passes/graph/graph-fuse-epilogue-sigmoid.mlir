// RUN: tidal-opt %s -p graph-fuse-epilogue | filecheck %s
// RUN: tidal-opt %s -p 'graph-fuse-epilogue{sigmoid=false}' | filecheck %s --check-prefix=OFF

// A squeeze-and-excite gate as EfficientNet has it: global average, a 1x1 conv with
// silu, a 1x1 conv, a sigmoid, the scale. The sigmoid is the second conv's
// activation (ACT's table as the accumulator is evacuated).
// CHECK-LABEL: func.func @gate
// CHECK:         %[[G:.*]] = graph.conv2d %r, %w2, %b2 {tidal.origin = "expand", tidal.fused = ["sig"], activation = "sigmoid"}
// CHECK-NEXT:    %y = graph.mul %x, %[[G]]
// OFF-LABEL: func.func @gate
// OFF:         %u = graph.conv2d %r, %w2, %b2 {tidal.origin = "expand"}
// OFF-NEXT:    %s = graph.activation %u {tidal.origin = "sig", func = "sigmoid"}
func.func @gate(%x: tensor<1x16x8x8xf32>, %w1: tensor<4x16x1x1xf32>, %w2: tensor<16x4x1x1xf32>, %b2: tensor<16xf32>) -> tensor<1x16x8x8xf32> {
  %g = graph.global_avgpool %x : (tensor<1x16x8x8xf32>) -> tensor<1x16x1x1xf32>
  %q = graph.conv2d %g, %w1 : (tensor<1x16x1x1xf32>, tensor<4x16x1x1xf32>) -> tensor<1x4x1x1xf32>
  %r = graph.activation %q {func = "silu"} : (tensor<1x4x1x1xf32>) -> tensor<1x4x1x1xf32>
  %u = graph.conv2d %r, %w2, %b2 {tidal.origin = "expand"} : (tensor<1x4x1x1xf32>, tensor<16x4x1x1xf32>, tensor<16xf32>) -> tensor<1x16x1x1xf32>
  %s = graph.activation %u {func = "sigmoid", tidal.origin = "sig"} : (tensor<1x16x1x1xf32>) -> tensor<1x16x1x1xf32>
  %y = graph.mul %x, %s : (tensor<1x16x8x8xf32>, tensor<1x16x1x1xf32>) -> tensor<1x16x8x8xf32>
  func.return %y : tensor<1x16x8x8xf32>
}

// A sigmoid of a conv that the conv's result also multiplies is a SiLU, not a
// sigmoid epilogue (the conv has two readers).
// CHECK-LABEL: func.func @silu_first
// CHECK-NEXT:    %y = graph.conv2d %x, %w {tidal.fused = ["graph.activation", "graph.activation"], activation = "silu"}
// CHECK-NEXT:    func.return %y
func.func @silu_first(%x: tensor<1x4x4x4xf32>, %w: tensor<8x4x1x1xf32>) -> tensor<1x8x4x4xf32> {
  %c = graph.conv2d %x, %w : (tensor<1x4x4x4xf32>, tensor<8x4x1x1xf32>) -> tensor<1x8x4x4xf32>
  %s = graph.activation %c {func = "sigmoid"} : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  %y = graph.mul %c, %s : (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  func.return %y : tensor<1x8x4x4xf32>
}

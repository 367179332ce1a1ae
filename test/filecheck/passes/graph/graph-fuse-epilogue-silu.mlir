// RUN: tidal-opt %s -p graph-fuse-epilogue --split-input-file | filecheck %s
// RUN: tidal-opt %s -p 'graph-fuse-epilogue{silu=false}' --split-input-file | filecheck %s --check-prefix=OFF

// A SiLU as PyTorch exports it, x * sigmoid(x) after a conv: one silu activation,
// which the conv then takes as its epilogue. The conv keeps its origin and lists
// the sigmoid and the mul in tidal.fused.
// CHECK-LABEL: func.func @conv_silu
// CHECK-SAME:    (%[[X:.*]]: tensor<1x3x4x4xf32>, %[[W:.*]]: tensor<8x3x3x3xf32>, %[[B:.*]]: tensor<8xf32>)
// CHECK-NEXT:    %[[R:.*]] = graph.conv2d %[[X]], %[[W]], %[[B]] {tidal.origin = "conv", tidal.fused = ["sig", "mul"], pads = array<i64: 1, 1, 1, 1>, activation = "silu"} : (tensor<1x3x4x4xf32>, tensor<8x3x3x3xf32>, tensor<8xf32>) -> tensor<1x8x4x4xf32>
// CHECK-NEXT:    func.return %[[R]]
// OFF-LABEL: func.func @conv_silu
// OFF-NEXT:    graph.conv2d
// OFF-NEXT:    graph.activation %{{.*}} {tidal.origin = "sig", func = "sigmoid"}
// OFF-NEXT:    graph.mul
func.func @conv_silu(%x: tensor<1x3x4x4xf32>, %w: tensor<8x3x3x3xf32>, %b: tensor<8xf32>) -> tensor<1x8x4x4xf32> {
  %c = graph.conv2d %x, %w, %b {pads = array<i64: 1, 1, 1, 1>, tidal.origin = "conv"} : (tensor<1x3x4x4xf32>, tensor<8x3x3x3xf32>, tensor<8xf32>) -> tensor<1x8x4x4xf32>
  %s = graph.activation %c {func = "sigmoid", tidal.origin = "sig"} : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  %y = graph.mul %c, %s {tidal.origin = "mul"} : (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  func.return %y : tensor<1x8x4x4xf32>
}

// The gate first (sigmoid(x) * x), after a gemm.
// CHECK-LABEL: func.func @gemm_silu_gate_first
// CHECK-NEXT:    %[[R:.*]] = graph.gemm %{{.*}} {tidal.origin = "fc", tidal.fused = ["sig", "mul"], trans_b = 1 : i64, activation = "silu"}
// CHECK-NEXT:    func.return %[[R]]
func.func @gemm_silu_gate_first(%x: tensor<2x16xf32>, %w: tensor<4x16xf32>, %b: tensor<4xf32>) -> tensor<2x4xf32> {
  %g = graph.gemm %x, %w, %b {trans_b = 1 : i64, tidal.origin = "fc"} : (tensor<2x16xf32>, tensor<4x16xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  %s = graph.activation %g {func = "sigmoid", tidal.origin = "sig"} : (tensor<2x4xf32>) -> tensor<2x4xf32>
  %y = graph.mul %s, %g {tidal.origin = "mul"} : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  func.return %y : tensor<2x4xf32>
}

// -----

// Not after a conv (an add's result): one silu activation of its own, which
// element-wise lowering runs as one ACT pass.
// CHECK-LABEL: func.func @add_silu
// CHECK-SAME:    (%[[A:.*]]: tensor<1x8x4x4xf32>, %[[B:.*]]: tensor<1x8x4x4xf32>)
// CHECK-NEXT:    %[[S:.*]] = graph.add %[[A]], %[[B]]
// CHECK-NEXT:    %[[Y:.*]] = graph.activation %[[S]] {tidal.origin = "mul", tidal.fused = ["sig"], func = "silu"} : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
// CHECK-NEXT:    func.return %[[Y]]
func.func @add_silu(%a: tensor<1x8x4x4xf32>, %b: tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32> {
  %s = graph.add %a, %b {tidal.origin = "add"} : (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  %g = graph.activation %s {func = "sigmoid", tidal.origin = "sig"} : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  %y = graph.mul %s, %g {tidal.origin = "mul"} : (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  func.return %y : tensor<1x8x4x4xf32>
}

// The sigmoid has another use: it stays, the mul still becomes a silu; the conv's
// result then has two uses (the sigmoid and the silu), so the silu stays an op.
// CHECK-LABEL: func.func @gate_also_returned
// CHECK:         %[[C:.*]] = graph.conv2d
// CHECK-NOT:     activation =
// CHECK-NEXT:    %[[G:.*]] = graph.activation %[[C]] {tidal.origin = "sig", func = "sigmoid"}
// CHECK-NEXT:    %[[Y:.*]] = graph.activation %[[C]] {tidal.origin = "mul", tidal.fused = ["sig"], func = "silu"}
// CHECK-NEXT:    func.return %[[Y]], %[[G]]
func.func @gate_also_returned(%x: tensor<1x8x4x4xf32>, %w: tensor<8x8x1x1xf32>) -> (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>) {
  %c = graph.conv2d %x, %w {tidal.origin = "conv"} : (tensor<1x8x4x4xf32>, tensor<8x8x1x1xf32>) -> tensor<1x8x4x4xf32>
  %g = graph.activation %c {func = "sigmoid", tidal.origin = "sig"} : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  %y = graph.mul %c, %g {tidal.origin = "mul"} : (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  func.return %y, %g : tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>
}

// -----

// Left alone: a squeeze-excitation's broadcast scale (x * sigmoid(s) of another
// value), a sigmoid of another value than the mul's other operand, and a tanh
// gate.
// CHECK-LABEL: func.func @not_silu
// CHECK-NOT:     "silu"
// CHECK:         func.return
func.func @not_silu(%x: tensor<1x8x4x4xf32>, %v: tensor<1x8x1x1xf32>, %z: tensor<1x8x4x4xf32>) -> (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>) {
  %gv = graph.activation %v {func = "sigmoid"} : (tensor<1x8x1x1xf32>) -> tensor<1x8x1x1xf32>
  %se = graph.mul %x, %gv : (tensor<1x8x4x4xf32>, tensor<1x8x1x1xf32>) -> tensor<1x8x4x4xf32>
  %gz = graph.activation %z {func = "sigmoid"} : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  %other = graph.mul %x, %gz : (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  %t = graph.activation %x {func = "tanh"} : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  %tg = graph.mul %x, %t : (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  func.return %se, %other, %tg : tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>
}

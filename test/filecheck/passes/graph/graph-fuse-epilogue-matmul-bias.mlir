// RUN: tidal-opt %s -p graph-fuse-epilogue | filecheck %s
// RUN: tidal-opt %s -p 'graph-fuse-epilogue{matmul_bias=false}' | filecheck %s --check-prefix=OFF

// nn.Linear over tokens as PyTorch exports it: the tokens flattened to rows, a
// MatMul, the rows viewed as [1, S, N] again, a bias Add. One gemm with the bias,
// viewed back; the GELU after it (a table activation) moves above the view and
// becomes the gemm's activation.
// CHECK-LABEL: func.func @linear_gelu
// CHECK-NEXT:    %rows = graph.reshape %x : (tensor<1x17x64xf32>) -> tensor<17x64xf32>
// CHECK-NEXT:    %[[B:.*]] = graph.constant dense<5.000000e-01> : tensor<32xf32>
// CHECK-NEXT:    %[[G:.*]] = graph.gemm %rows, %w, %[[B]] {tidal.origin = "matmul", tidal.fused = ["add", "gelu"], activation = "gelu_erf"} : (tensor<17x64xf32>, tensor<64x32xf32>, tensor<32xf32>) -> tensor<17x32xf32>
// CHECK-NEXT:    %[[V:.*]] = graph.reshape %[[G]] : (tensor<17x32xf32>) -> tensor<1x17x32xf32>
// CHECK-NEXT:    func.return %[[V]]
// OFF-LABEL: func.func @linear_gelu
// OFF:         graph.matmul
// OFF-NEXT:    graph.reshape
// OFF-NEXT:    graph.constant
// OFF-NEXT:    graph.add
// OFF-NEXT:    graph.activation
func.func @linear_gelu(%x: tensor<1x17x64xf32>, %w: tensor<64x32xf32>) -> tensor<1x17x32xf32> {
  %rows = graph.reshape %x : (tensor<1x17x64xf32>) -> tensor<17x64xf32>
  %m = graph.matmul %rows, %w {tidal.origin = "matmul"} : (tensor<17x64xf32>, tensor<64x32xf32>) -> tensor<17x32xf32>
  %v = graph.reshape %m : (tensor<17x32xf32>) -> tensor<1x17x32xf32>
  %b = graph.constant dense<0.5> : tensor<32xf32>
  %a = graph.add %b, %v {tidal.origin = "add"} : (tensor<32xf32>, tensor<1x17x32xf32>) -> tensor<1x17x32xf32>
  %g = graph.activation %a {func = "gelu_erf", tidal.origin = "gelu"} : (tensor<1x17x32xf32>) -> tensor<1x17x32xf32>
  func.return %g : tensor<1x17x32xf32>
}

// A 2-D MatMul and a [1, N] bias (Keras' Dense as tf2onnx exports it), then a relu.
// CHECK-LABEL: func.func @dense_relu
// CHECK-NEXT:    %[[B:.*]] = graph.constant dense<1.000000e+00> : tensor<10xf32>
// CHECK-NEXT:    %r = graph.gemm %x, %w, %[[B]] {{{.*}}activation = "relu"} : (tensor<4x20xf32>, tensor<20x10xf32>, tensor<10xf32>) -> tensor<4x10xf32>
// CHECK-NEXT:    func.return %r
func.func @dense_relu(%x: tensor<4x20xf32>, %w: tensor<20x10xf32>) -> tensor<4x10xf32> {
  %m = graph.matmul %x, %w : (tensor<4x20xf32>, tensor<20x10xf32>) -> tensor<4x10xf32>
  %b = graph.constant dense<1.0> : tensor<1x10xf32>
  %a = graph.add %m, %b : (tensor<4x10xf32>, tensor<1x10xf32>) -> tensor<4x10xf32>
  %r = graph.relu %a : (tensor<4x10xf32>) -> tensor<4x10xf32>
  func.return %r : tensor<4x10xf32>
}

// Kept: a bias that varies along the rows (not a bias of the last dim), a matmul
// with a second reader, a view that changes the last dim, a bias that broadcasts
// the product to a larger shape.
// CHECK-LABEL: func.func @kept
// CHECK-NOT:     graph.gemm
// CHECK:         func.return
func.func @kept(%x: tensor<4x20xf32>, %w: tensor<20x10xf32>) -> (tensor<4x10xf32>, tensor<4x10xf32>, tensor<4x10xf32>, tensor<2x20xf32>, tensor<3x4x10xf32>) {
  %m = graph.matmul %x, %w : (tensor<4x20xf32>, tensor<20x10xf32>) -> tensor<4x10xf32>
  %rows = graph.constant dense<1.0> : tensor<4x1xf32>
  %a = graph.add %m, %rows : (tensor<4x10xf32>, tensor<4x1xf32>) -> tensor<4x10xf32>
  %m2 = graph.matmul %x, %w : (tensor<4x20xf32>, tensor<20x10xf32>) -> tensor<4x10xf32>
  %b = graph.constant dense<1.0> : tensor<10xf32>
  %a2 = graph.add %m2, %b : (tensor<4x10xf32>, tensor<10xf32>) -> tensor<4x10xf32>
  %m3 = graph.matmul %x, %w : (tensor<4x20xf32>, tensor<20x10xf32>) -> tensor<4x10xf32>
  %v3 = graph.reshape %m3 : (tensor<4x10xf32>) -> tensor<2x20xf32>
  %b20 = graph.constant dense<1.0> : tensor<20xf32>
  %a3 = graph.add %v3, %b20 : (tensor<2x20xf32>, tensor<20xf32>) -> tensor<2x20xf32>
  %m4 = graph.matmul %x, %w : (tensor<4x20xf32>, tensor<20x10xf32>) -> tensor<4x10xf32>
  %big = graph.constant dense<1.0> : tensor<3x1x10xf32>
  %a4 = graph.add %m4, %big : (tensor<4x10xf32>, tensor<3x1x10xf32>) -> tensor<3x4x10xf32>
  func.return %a, %a2, %m2, %a3, %a4 : tensor<4x10xf32>, tensor<4x10xf32>, tensor<4x10xf32>, tensor<2x20xf32>, tensor<3x4x10xf32>
}

// A bias-free linear and its activation (T5's feed-forward layer): the matmul that
// only a relu reads (here through a view) is a gemm, whose epilogue the relu joins.
// A matmul before a tanh (no epilogue function) stays.
// CHECK-LABEL: func.func @bias_free
// CHECK-NEXT:    %[[G:.*]] = graph.gemm %x, %w {tidal.fused = ["graph.relu"], activation = "relu"} : (tensor<4x20xf32>, tensor<20x10xf32>) -> tensor<4x10xf32>
// CHECK-NEXT:    %{{.*}} = graph.reshape %[[G]] : (tensor<4x10xf32>) -> tensor<1x4x10xf32>
// CHECK-NEXT:    %m2 = graph.matmul %x, %w
// CHECK-NEXT:    %t = graph.activation %m2 {func = "tanh"}
// OFF-LABEL: func.func @bias_free
// OFF-NEXT:    graph.matmul
func.func @bias_free(%x: tensor<4x20xf32>, %w: tensor<20x10xf32>) -> (tensor<1x4x10xf32>, tensor<4x10xf32>) {
  %m = graph.matmul %x, %w : (tensor<4x20xf32>, tensor<20x10xf32>) -> tensor<4x10xf32>
  %v = graph.reshape %m : (tensor<4x10xf32>) -> tensor<1x4x10xf32>
  %r = graph.relu %v : (tensor<1x4x10xf32>) -> tensor<1x4x10xf32>
  %m2 = graph.matmul %x, %w : (tensor<4x20xf32>, tensor<20x10xf32>) -> tensor<4x10xf32>
  %t = graph.activation %m2 {func = "tanh"} : (tensor<4x10xf32>) -> tensor<4x10xf32>
  func.return %r, %t : tensor<1x4x10xf32>, tensor<4x10xf32>
}

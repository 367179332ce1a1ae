// RUN: tidal-opt %s -p graph-fuse-epilogue --split-input-file | filecheck %s
// RUN: tidal-opt %s -p 'graph-fuse-epilogue{gelu=false}' --split-input-file | filecheck %s --check-prefix=OFF

// GELU's erf form as PyTorch's nn.GELU() exports it (x / sqrt 2 imports as a scalar
// multiple): one gelu_erf activation; the ops it replaces are listed in tidal.fused.
// CHECK-LABEL: func.func @torch_gelu
// CHECK-SAME:    (%[[X:.*]]: tensor<1x16x64xf32>)
// CHECK-NEXT:    %[[Y:.*]] = graph.activation %[[X]] {tidal.origin = "mul2", tidal.fused = ["div", "erf", "add", "mul1"], func = "gelu_erf"} : (tensor<1x16x64xf32>) -> tensor<1x16x64xf32>
// CHECK-NEXT:    func.return %[[Y]]
// OFF-LABEL: func.func @torch_gelu
// OFF:         graph.activation %{{.*}} {tidal.origin = "erf", func = "erf"}
// OFF-NOT:     gelu_erf
func.func @torch_gelu(%x: tensor<1x16x64xf32>) -> tensor<1x16x64xf32> {
  %d = graph.piecewise_linear %x {tidal.origin = "div", kind = "affine", alpha = 0.707106769 : f32, beta = 0.000000e+00 : f32} : (tensor<1x16x64xf32>) -> tensor<1x16x64xf32>
  %e = graph.activation %d {tidal.origin = "erf", func = "erf"} : (tensor<1x16x64xf32>) -> tensor<1x16x64xf32>
  %one = graph.constant dense<1.000000e+00> : tensor<1xf32>
  %a = graph.add %e, %one {tidal.origin = "add"} : (tensor<1x16x64xf32>, tensor<1xf32>) -> tensor<1x16x64xf32>
  %m = graph.mul %x, %a {tidal.origin = "mul1"} : (tensor<1x16x64xf32>, tensor<1x16x64xf32>) -> tensor<1x16x64xf32>
  %half = graph.constant dense<5.000000e-01> : tensor<1xf32>
  %y = graph.mul %m, %half {tidal.origin = "mul2"} : (tensor<1x16x64xf32>, tensor<1xf32>) -> tensor<1x16x64xf32>
  func.return %y : tensor<1x16x64xf32>
}

// Hugging Face's form, x * 0.5 first, the constant 1 on the left, x / sqrt 2 as a
// multiply by a splat: the same activation.
// CHECK-LABEL: func.func @hf_gelu
// CHECK-SAME:    (%[[X:.*]]: tensor<2x8xf32>)
// CHECK-NEXT:    %[[Y:.*]] = graph.activation %[[X]] {{{.*}}func = "gelu_erf"}
// CHECK-NEXT:    func.return %[[Y]]
func.func @hf_gelu(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %half = graph.constant dense<5.000000e-01> : tensor<f32>
  %h = graph.mul %x, %half : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %k = graph.constant dense<0.707106769> : tensor<2x8xf32>
  %d = graph.mul %k, %x : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %e = graph.activation %d {func = "erf"} : (tensor<2x8xf32>) -> tensor<2x8xf32>
  %one = graph.constant dense<1.000000e+00> : tensor<1xf32>
  %a = graph.add %one, %e : (tensor<1xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %y = graph.mul %h, %a : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  func.return %y : tensor<2x8xf32>
}

// After a gemm (a transformer MLP's first layer exported as Gemm): the gemm's
// activation.
// CHECK-LABEL: func.func @gemm_gelu
// CHECK-NEXT:    %[[R:.*]] = graph.gemm %{{.*}} {tidal.origin = "fc", tidal.fused = [{{.*}}"g"], trans_b = 1 : i64, activation = "gelu_erf"}
// CHECK-NEXT:    func.return %[[R]]
func.func @gemm_gelu(%x: tensor<2x16xf32>, %w: tensor<4x16xf32>, %b: tensor<4xf32>) -> tensor<2x4xf32> {
  %g = graph.gemm %x, %w, %b {trans_b = 1 : i64, tidal.origin = "fc"} : (tensor<2x16xf32>, tensor<4x16xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  %d = graph.piecewise_linear %g {kind = "affine", alpha = 0.707106769 : f32, beta = 0.000000e+00 : f32} : (tensor<2x4xf32>) -> tensor<2x4xf32>
  %e = graph.activation %d {func = "erf"} : (tensor<2x4xf32>) -> tensor<2x4xf32>
  %a = graph.piecewise_linear %e {kind = "affine", alpha = 1.000000e+00 : f32, beta = 1.000000e+00 : f32} : (tensor<2x4xf32>) -> tensor<2x4xf32>
  %h = graph.piecewise_linear %g {kind = "affine", alpha = 5.000000e-01 : f32, beta = 0.000000e+00 : f32} : (tensor<2x4xf32>) -> tensor<2x4xf32>
  %y = graph.mul %h, %a {tidal.origin = "g"} : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  func.return %y : tensor<2x4xf32>
}

// -----

// The erf gate also returned: it stays, the product still becomes gelu_erf of x.
// CHECK-LABEL: func.func @gate_also_returned
// CHECK:         %[[A:.*]] = graph.add
// CHECK-NEXT:    %[[Y:.*]] = graph.activation %{{.*}} {{{.*}}func = "gelu_erf"}
// CHECK-NEXT:    func.return %[[Y]], %[[A]]
func.func @gate_also_returned(%x: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>) {
  %d = graph.piecewise_linear %x {kind = "affine", alpha = 0.707106769 : f32, beta = 0.000000e+00 : f32} : (tensor<4x8xf32>) -> tensor<4x8xf32>
  %e = graph.activation %d {func = "erf"} : (tensor<4x8xf32>) -> tensor<4x8xf32>
  %one = graph.constant dense<1.000000e+00> : tensor<1xf32>
  %a = graph.add %e, %one : (tensor<4x8xf32>, tensor<1xf32>) -> tensor<4x8xf32>
  %m = graph.mul %x, %a : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %half = graph.constant dense<5.000000e-01> : tensor<1xf32>
  %y = graph.mul %m, %half : (tensor<4x8xf32>, tensor<1xf32>) -> tensor<4x8xf32>
  func.return %y, %a : tensor<4x8xf32>, tensor<4x8xf32>
}

// -----

// Left alone: a scale other than 1 / sqrt 2 inside the erf, a factor other than 0.5,
// the erf of another value than the one multiplied, and a product whose inner
// x * (1 + erf) is also returned.
// CHECK-LABEL: func.func @not_gelu
// CHECK-NOT:     gelu_erf
// CHECK:         func.return
func.func @not_gelu(%x: tensor<4x8xf32>, %z: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>) {
  %one = graph.constant dense<1.000000e+00> : tensor<1xf32>
  %half = graph.constant dense<5.000000e-01> : tensor<1xf32>
  %d1 = graph.piecewise_linear %x {kind = "affine", alpha = 0.699999988 : f32, beta = 0.000000e+00 : f32} : (tensor<4x8xf32>) -> tensor<4x8xf32>
  %e1 = graph.activation %d1 {func = "erf"} : (tensor<4x8xf32>) -> tensor<4x8xf32>
  %a1 = graph.add %e1, %one : (tensor<4x8xf32>, tensor<1xf32>) -> tensor<4x8xf32>
  %m1 = graph.mul %x, %a1 : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %y1 = graph.mul %m1, %half : (tensor<4x8xf32>, tensor<1xf32>) -> tensor<4x8xf32>
  %d2 = graph.piecewise_linear %x {kind = "affine", alpha = 0.707106769 : f32, beta = 0.000000e+00 : f32} : (tensor<4x8xf32>) -> tensor<4x8xf32>
  %e2 = graph.activation %d2 {func = "erf"} : (tensor<4x8xf32>) -> tensor<4x8xf32>
  %a2 = graph.add %e2, %one : (tensor<4x8xf32>, tensor<1xf32>) -> tensor<4x8xf32>
  %m2 = graph.mul %x, %a2 : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %quarter = graph.constant dense<2.500000e-01> : tensor<1xf32>
  %y2 = graph.mul %m2, %quarter : (tensor<4x8xf32>, tensor<1xf32>) -> tensor<4x8xf32>
  %m3 = graph.mul %z, %a2 : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %y3 = graph.mul %m3, %half : (tensor<4x8xf32>, tensor<1xf32>) -> tensor<4x8xf32>
  %m4 = graph.mul %x, %a2 : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %y4 = graph.mul %m4, %half : (tensor<4x8xf32>, tensor<1xf32>) -> tensor<4x8xf32>
  func.return %y1, %y2, %y3, %y4, %m4 : tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>
}

// -----

// GPT-2's gelu_new, the tanh form (x^3 as Pow imports it, x * x * x): one gelu, ACT's
// table of that form.
// CHECK-LABEL: func.func @gpt2_gelu
// CHECK-SAME:    (%[[X:.*]]: tensor<16x256xf32>)
// CHECK-NEXT:    %[[Y:.*]] = graph.activation %[[X]] {tidal.origin = "mul3", tidal.fused = ["mul0", "sq", "cube", "mul1", "add0", "mul2", "tanh", "add1"], func = "gelu"}
// CHECK-NEXT:    func.return %[[Y]]
// OFF-LABEL: func.func @gpt2_gelu
// OFF:         func = "tanh"
func.func @gpt2_gelu(%x: tensor<16x256xf32>) -> tensor<16x256xf32> {
  %half = graph.constant dense<5.000000e-01> : tensor<1xf32>
  %h = graph.mul %x, %half {tidal.origin = "mul0"} : (tensor<16x256xf32>, tensor<1xf32>) -> tensor<16x256xf32>
  %sq = graph.mul %x, %x {tidal.origin = "sq"} : (tensor<16x256xf32>, tensor<16x256xf32>) -> tensor<16x256xf32>
  %cube = graph.mul %sq, %x {tidal.origin = "cube"} : (tensor<16x256xf32>, tensor<16x256xf32>) -> tensor<16x256xf32>
  %k = graph.constant dense<4.471500e-02> : tensor<1xf32>
  %c = graph.mul %cube, %k {tidal.origin = "mul1"} : (tensor<16x256xf32>, tensor<1xf32>) -> tensor<16x256xf32>
  %s = graph.add %x, %c {tidal.origin = "add0"} : (tensor<16x256xf32>, tensor<16x256xf32>) -> tensor<16x256xf32>
  %r = graph.constant dense<0.797884583> : tensor<1xf32>
  %u = graph.mul %s, %r {tidal.origin = "mul2"} : (tensor<16x256xf32>, tensor<1xf32>) -> tensor<16x256xf32>
  %t = graph.activation %u {tidal.origin = "tanh", func = "tanh"} : (tensor<16x256xf32>) -> tensor<16x256xf32>
  %one = graph.constant dense<1.000000e+00> : tensor<1xf32>
  %a = graph.add %t, %one {tidal.origin = "add1"} : (tensor<16x256xf32>, tensor<1xf32>) -> tensor<16x256xf32>
  %y = graph.mul %h, %a {tidal.origin = "mul3"} : (tensor<16x256xf32>, tensor<16x256xf32>) -> tensor<16x256xf32>
  func.return %y : tensor<16x256xf32>
}

// Left alone: a cubic coefficient other than 0.044715, and x^2 in place of x^3.
// CHECK-LABEL: func.func @not_gelu_tanh
// CHECK-NOT:     func = "gelu"
// CHECK:         func.return
func.func @not_gelu_tanh(%x: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>) {
  %half = graph.constant dense<5.000000e-01> : tensor<1xf32>
  %one = graph.constant dense<1.000000e+00> : tensor<1xf32>
  %r = graph.constant dense<0.797884583> : tensor<1xf32>
  %k1 = graph.constant dense<5.000000e-02> : tensor<1xf32>
  %k2 = graph.constant dense<4.471500e-02> : tensor<1xf32>
  %h1 = graph.mul %x, %half : (tensor<4x8xf32>, tensor<1xf32>) -> tensor<4x8xf32>
  %sq1 = graph.mul %x, %x : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %cube1 = graph.mul %sq1, %x : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %c1 = graph.mul %cube1, %k1 : (tensor<4x8xf32>, tensor<1xf32>) -> tensor<4x8xf32>
  %s1 = graph.add %x, %c1 : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %u1 = graph.mul %s1, %r : (tensor<4x8xf32>, tensor<1xf32>) -> tensor<4x8xf32>
  %t1 = graph.activation %u1 {func = "tanh"} : (tensor<4x8xf32>) -> tensor<4x8xf32>
  %a1 = graph.add %t1, %one : (tensor<4x8xf32>, tensor<1xf32>) -> tensor<4x8xf32>
  %y1 = graph.mul %h1, %a1 : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %h2 = graph.mul %x, %half : (tensor<4x8xf32>, tensor<1xf32>) -> tensor<4x8xf32>
  %sq2 = graph.mul %x, %x : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %c2 = graph.mul %sq2, %k2 : (tensor<4x8xf32>, tensor<1xf32>) -> tensor<4x8xf32>
  %s2 = graph.add %x, %c2 : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %u2 = graph.mul %s2, %r : (tensor<4x8xf32>, tensor<1xf32>) -> tensor<4x8xf32>
  %t2 = graph.activation %u2 {func = "tanh"} : (tensor<4x8xf32>) -> tensor<4x8xf32>
  %a2 = graph.add %t2, %one : (tensor<4x8xf32>, tensor<1xf32>) -> tensor<4x8xf32>
  %y2 = graph.mul %h2, %a2 : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  func.return %y1, %y2 : tensor<4x8xf32>, tensor<4x8xf32>
}

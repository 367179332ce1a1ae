// RUN: tidal-opt %s -p graph-dense-groups --split-input-file | filecheck %s
// RUN: tidal-opt %s -p 'graph-dense-groups{partial=false}' --split-input-file | filecheck %s --check-prefix=ALL
// RUN: tidal-opt %s -p graph-dense-groups --split-input-file --check-numerics -o /dev/null 2>&1 | filecheck %s --check-prefix=NUM

// A conv of two groups of two input channels (fewer than the 128 PE rows): one
// dense conv whose weight holds each group's block on the diagonal, zeros
// elsewhere; bias, addend, strides, pads and activation unchanged; the old weight
// goes.

// CHECK-LABEL: func.func @grouped(
// CHECK-NEXT:    %b = graph.constant
// CHECK-NEXT:    %0 = graph.constant dense<{{\[\[\[\[}}1.000000e+00]], {{\[\[}}2.000000e+00]], {{\[\[}}0.000000e+00]], {{\[\[}}0.000000e+00]]], {{\[\[\[}}3.000000e+00]], {{\[\[}}4.000000e+00]], {{\[\[}}0.000000e+00]], {{\[\[}}0.000000e+00]]], {{\[\[\[}}0.000000e+00]], {{\[\[}}0.000000e+00]], {{\[\[}}5.000000e+00]], {{\[\[}}6.000000e+00]]], {{\[\[\[}}0.000000e+00]], {{\[\[}}0.000000e+00]], {{\[\[}}7.000000e+00]], {{\[\[}}8.000000e+00]]]]> : tensor<4x4x1x1xf32>
// CHECK-NEXT:    %y = graph.conv2d %x, %0, %b addend %a {strides = array<i64: 2, 2>, activation = "relu"} : (tensor<1x4x4x4xf32>, tensor<4x4x1x1xf32>, tensor<4xf32>, tensor<1x4x2x2xf32>) -> tensor<1x4x2x2xf32>
// CHECK-NEXT:    func.return %y
func.func @grouped(%x: tensor<1x4x4x4xf32>, %a: tensor<1x4x2x2xf32>) -> tensor<1x4x2x2xf32> {
  %w = graph.constant dense<[[[[1.0]], [[2.0]]], [[[3.0]], [[4.0]]], [[[5.0]], [[6.0]]], [[[7.0]], [[8.0]]]]> : tensor<4x2x1x1xf32>
  %b = graph.constant dense<[0.5, 0.25, -0.5, -0.25]> : tensor<4xf32>
  %y = graph.conv2d %x, %w, %b addend %a {group = 2 : i64, strides = array<i64: 2, 2>, activation = "relu"} : (tensor<1x4x4x4xf32>, tensor<4x2x1x1xf32>, tensor<4xf32>, tensor<1x4x2x2xf32>) -> tensor<1x4x2x2xf32>
  func.return %y : tensor<1x4x2x2xf32>
}

// -----

// Left alone: a depthwise conv (one channel per group: kernels/depthwise.py runs
// it), a conv of more than 8 groups (its weight would grow more than 8 times), and
// a conv whose weight is not a constant.

// CHECK-LABEL: func.func @kept(
// CHECK:         graph.conv2d %x, %dw {group = 4 : i64}
// CHECK:         graph.conv2d %x16, %w16 {group = 16 : i64}
// CHECK:         graph.conv2d %x, %wv {group = 2 : i64}
// CHECK:         func.return
func.func @kept(%x: tensor<1x4x3x3xf32>, %x16: tensor<1x32x3x3xf32>, %wv: tensor<4x2x1x1xf32>) -> (tensor<1x4x3x3xf32>, tensor<1x16x3x3xf32>, tensor<1x4x3x3xf32>) {
  %dw = graph.constant dense<1.0> : tensor<4x1x1x1xf32>
  %d = graph.conv2d %x, %dw {group = 4 : i64} : (tensor<1x4x3x3xf32>, tensor<4x1x1x1xf32>) -> tensor<1x4x3x3xf32>
  %w16 = graph.constant dense<0.5> : tensor<16x2x1x1xf32>
  %g = graph.conv2d %x16, %w16 {group = 16 : i64} : (tensor<1x32x3x3xf32>, tensor<16x2x1x1xf32>) -> tensor<1x16x3x3xf32>
  %v = graph.conv2d %x, %wv {group = 2 : i64} : (tensor<1x4x3x3xf32>, tensor<4x2x1x1xf32>) -> tensor<1x4x3x3xf32>
  func.return %d, %g, %v : tensor<1x4x3x3xf32>, tensor<1x16x3x3xf32>, tensor<1x4x3x3xf32>
}

// -----

// Four groups of 68 channels (272 in all, as ShuffleNet's 14x14 units): 4 grouped
// matmuls per pixel block, against 2 x (2 x 2) merged in pairs and 3 x 3 dense.
// Left alone. Four groups of 34 (136, the 28x28 units): merged in pairs, two groups
// of 68 whose weights hold their two groups' 68x34 blocks on the diagonal (2
// matmuls, against 4 grouped and 2 x 2 dense). Four groups of 28 (112): one dense
// conv (1 matmul).

// CHECK-LABEL: func.func @by_matmuls(
// CHECK:         graph.conv2d %x272, %w68 {group = 4 : i64}
// CHECK:         %[[M:.*]] = graph.constant {{.*}} : tensor<136x68x1x1xf32>
// CHECK-NEXT:    graph.conv2d %x136, %[[M]] {group = 2 : i64} :
// CHECK:         %[[D:.*]] = graph.constant {{.*}} : tensor<112x112x1x1xf32>
// CHECK-NEXT:    graph.conv2d %x112, %[[D]] :
// CHECK:         func.return

// Without `partial` (--disable-opt merge-groups), all or none: the 136-channel conv
// becomes one dense conv (2 x 2 matmuls, no more than the 4 groups').

// ALL-LABEL: func.func @by_matmuls(
// ALL:         graph.conv2d %x272, %w68 {group = 4 : i64}
// ALL:         %[[M:.*]] = graph.constant {{.*}} : tensor<136x136x1x1xf32>
// ALL-NEXT:    graph.conv2d %x136, %[[M]] :
// ALL:         %[[D:.*]] = graph.constant {{.*}} : tensor<112x112x1x1xf32>
// ALL-NEXT:    graph.conv2d %x112, %[[D]] :
func.func @by_matmuls(%x272: tensor<1x272x2x2xf32>, %x136: tensor<1x136x2x2xf32>, %x112: tensor<1x112x2x2xf32>) -> (tensor<1x272x2x2xf32>, tensor<1x136x2x2xf32>, tensor<1x112x2x2xf32>) {
  %w68 = graph.constant dense<0.5> : tensor<272x68x1x1xf32>
  %a = graph.conv2d %x272, %w68 {group = 4 : i64} : (tensor<1x272x2x2xf32>, tensor<272x68x1x1xf32>) -> tensor<1x272x2x2xf32>
  %w34 = graph.constant dense<0.25> : tensor<136x34x1x1xf32>
  %b = graph.conv2d %x136, %w34 {group = 4 : i64} : (tensor<1x136x2x2xf32>, tensor<136x34x1x1xf32>) -> tensor<1x136x2x2xf32>
  %w28 = graph.constant dense<0.125> : tensor<112x28x1x1xf32>
  %c = graph.conv2d %x112, %w28 {group = 4 : i64} : (tensor<1x112x2x2xf32>, tensor<112x28x1x1xf32>) -> tensor<1x112x2x2xf32>
  func.return %a, %b, %c : tensor<1x272x2x2xf32>, tensor<1x136x2x2xf32>, tensor<1x112x2x2xf32>
}

// NUM: numerics: after 'graph-dense-groups' (graph level): agrees
// NUM: numerics: after 'graph-dense-groups' (graph level): agrees
// NUM: numerics: after 'graph-dense-groups' (graph level): agrees

// RUN: tidal-opt %s -p graph-fold-shuffle --split-input-file | filecheck %s
// RUN: tidal-opt %s -p graph-fold-shuffle --split-input-file --check-numerics -o /dev/null 2>&1 | filecheck %s --check-prefix=NUM

// A channel shuffle of two groups (reshape, transpose, reshape) after a conv of two
// groups: the conv computes its channels in shuffled order, old channels 0, 2, 1,
// 3, its weight block-diagonal over both groups (one group now), its bias
// permuted; the reshapes, the transpose and the old constants go.

// CHECK-LABEL: func.func @shuffled(
// CHECK-NEXT:    %0 = graph.constant dense<{{\[\[\[\[}}1.000000e+00]], {{\[\[}}0.000000e+00]]], {{\[\[\[}}0.000000e+00]], {{\[\[}}3.000000e+00]]], {{\[\[\[}}2.000000e+00]], {{\[\[}}0.000000e+00]]], {{\[\[\[}}0.000000e+00]], {{\[\[}}4.000000e+00]]]]> : tensor<4x2x1x1xf32>
// CHECK-NEXT:    %1 = graph.constant dense<[5.000000e-01, -5.000000e-01, 2.500000e-01, -2.500000e-01]> : tensor<4xf32>
// CHECK-NEXT:    %y = graph.conv2d %x, %0, %1 {activation = "relu"} : (tensor<1x2x3x3xf32>, tensor<4x2x1x1xf32>, tensor<4xf32>) -> tensor<1x4x3x3xf32>
// CHECK-NEXT:    func.return %y
func.func @shuffled(%x: tensor<1x2x3x3xf32>) -> tensor<1x4x3x3xf32> {
  %w = graph.constant dense<[[[[1.0]]], [[[2.0]]], [[[3.0]]], [[[4.0]]]]> : tensor<4x1x1x1xf32>
  %b = graph.constant dense<[0.5, 0.25, -0.5, -0.25]> : tensor<4xf32>
  %c = graph.conv2d %x, %w, %b {group = 2 : i64, activation = "relu"} : (tensor<1x2x3x3xf32>, tensor<4x1x1x1xf32>, tensor<4xf32>) -> tensor<1x4x3x3xf32>
  %r = graph.reshape %c : (tensor<1x4x3x3xf32>) -> tensor<1x2x2x3x3xf32>
  %t = graph.transpose %r {perm = array<i64: 0, 2, 1, 3, 4>} : (tensor<1x2x2x3x3xf32>) -> tensor<1x2x2x3x3xf32>
  %y = graph.reshape %t : (tensor<1x2x2x3x3xf32>) -> tensor<1x4x3x3xf32>
  func.return %y : tensor<1x4x3x3xf32>
}

// -----

// Left alone: the conv's result has another use (it is returned too), and a
// transpose that is not a shuffle (it swaps the spatial dims).

// CHECK-LABEL: func.func @kept(
// CHECK:         graph.transpose
// CHECK:         graph.transpose
// CHECK:         func.return
func.func @kept(%x: tensor<1x2x3x3xf32>) -> (tensor<1x4x3x3xf32>, tensor<1x4x3x3xf32>, tensor<1x4x3x3xf32>) {
  %w = graph.constant dense<[[[[1.0]]], [[[2.0]]], [[[3.0]]], [[[4.0]]]]> : tensor<4x1x1x1xf32>
  %c = graph.conv2d %x, %w {group = 2 : i64} : (tensor<1x2x3x3xf32>, tensor<4x1x1x1xf32>) -> tensor<1x4x3x3xf32>
  %r = graph.reshape %c : (tensor<1x4x3x3xf32>) -> tensor<1x2x2x3x3xf32>
  %t = graph.transpose %r {perm = array<i64: 0, 2, 1, 3, 4>} : (tensor<1x2x2x3x3xf32>) -> tensor<1x2x2x3x3xf32>
  %y = graph.reshape %t : (tensor<1x2x2x3x3xf32>) -> tensor<1x4x3x3xf32>
  %d = graph.conv2d %x, %w {group = 2 : i64} : (tensor<1x2x3x3xf32>, tensor<4x1x1x1xf32>) -> tensor<1x4x3x3xf32>
  %r2 = graph.reshape %d : (tensor<1x4x3x3xf32>) -> tensor<1x2x2x3x3xf32>
  %t2 = graph.transpose %r2 {perm = array<i64: 0, 1, 2, 4, 3>} : (tensor<1x2x2x3x3xf32>) -> tensor<1x2x2x3x3xf32>
  %z = graph.reshape %t2 : (tensor<1x2x2x3x3xf32>) -> tensor<1x4x3x3xf32>
  func.return %y, %c, %z : tensor<1x4x3x3xf32>, tensor<1x4x3x3xf32>, tensor<1x4x3x3xf32>
}

// NUM: numerics: after 'graph-fold-shuffle' (graph level): agrees
// NUM: numerics: after 'graph-fold-shuffle' (graph level): agrees

// RUN: tidal-opt %s -p graph-fold-shuffle --split-input-file | filecheck %s
// RUN: tidal-opt %s -p graph-fold-shuffle --split-input-file --check-numerics -o /dev/null 2>&1 | filecheck %s --check-prefix=NUM
// RUN: tidal-opt %s -p 'graph-fold-shuffle{interleave=false}' --split-input-file | filecheck %s --check-prefix=OFF

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

// -----

// A shuffle of a function argument (no conv to fold it into) that a depthwise conv
// and then a 2-group conv read: the depthwise conv runs on the unshuffled channels,
// its weights permuted (channel o takes the weight of o's shuffled position: 1, 3,
// 5, 7, 2, 4, 6, 8), and the grouped conv reads its groups interleaved in blocks of
// 2 (group 0 channels 0, 1, 4, 5: the shuffle's 0, 2, 1, 3), its weight's columns
// permuted to match (c0, c2, c1, c3). With interleave off the shuffle stays.

// CHECK-LABEL: func.func @interleaved(
// CHECK-NEXT:    %b = graph.constant dense<[5.000000e-01, 2.500000e-01, -5.000000e-01, -2.500000e-01]>
// CHECK-NEXT:    %0 = graph.constant dense<{{\[\[\[\[}}1.000000e+00]]], {{\[\[\[}}3.000000e+00]]], {{\[\[\[}}5.000000e+00]]], {{\[\[\[}}7.000000e+00]]], {{\[\[\[}}2.000000e+00]]], {{\[\[\[}}4.000000e+00]]], {{\[\[\[}}6.000000e+00]]], {{\[\[\[}}8.000000e+00]]]]> : tensor<8x1x1x1xf32>
// CHECK-NEXT:    %1 = graph.constant dense<{{\[\[\[\[}}1.000000e+00]], {{\[\[}}3.000000e+00]], {{\[\[}}2.000000e+00]], {{\[\[}}4.000000e+00]]], {{\[\[\[}}5.000000e+00]], {{\[\[}}7.000000e+00]], {{\[\[}}6.000000e+00]], {{\[\[}}8.000000e+00]]], {{\[\[\[}}9.000000e+00]], {{\[\[}}1.100000e+01]], {{\[\[}}1.000000e+01]], {{\[\[}}1.200000e+01]]], {{\[\[\[}}1.300000e+01]], {{\[\[}}1.500000e+01]], {{\[\[}}1.400000e+01]], {{\[\[}}1.600000e+01]]]]> : tensor<4x4x1x1xf32>
// CHECK-NEXT:    %d = graph.conv2d %x, %0 {group = 8 : i64} : (tensor<1x8x3x3xf32>, tensor<8x1x1x1xf32>) -> tensor<1x8x3x3xf32>
// CHECK-NEXT:    %y = graph.conv2d %d, %1, %b {group = 2 : i64, interleave = 2 : i64, activation = "relu"} : (tensor<1x8x3x3xf32>, tensor<4x4x1x1xf32>, tensor<4xf32>) -> tensor<1x4x3x3xf32>
// CHECK-NEXT:    func.return %y
// OFF-LABEL: func.func @interleaved(
// OFF:         graph.transpose
// OFF-NOT:     interleave
func.func @interleaved(%x: tensor<1x8x3x3xf32>) -> tensor<1x4x3x3xf32> {
  %r = graph.reshape %x : (tensor<1x8x3x3xf32>) -> tensor<1x2x4x3x3xf32>
  %t = graph.transpose %r {perm = array<i64: 0, 2, 1, 3, 4>} : (tensor<1x2x4x3x3xf32>) -> tensor<1x4x2x3x3xf32>
  %s = graph.reshape %t : (tensor<1x4x2x3x3xf32>) -> tensor<1x8x3x3xf32>
  %wd = graph.constant dense<[[[[1.0]]], [[[2.0]]], [[[3.0]]], [[[4.0]]], [[[5.0]]], [[[6.0]]], [[[7.0]]], [[[8.0]]]]> : tensor<8x1x1x1xf32>
  %d = graph.conv2d %s, %wd {group = 8 : i64} : (tensor<1x8x3x3xf32>, tensor<8x1x1x1xf32>) -> tensor<1x8x3x3xf32>
  %w = graph.constant dense<[[[[1.0]], [[2.0]], [[3.0]], [[4.0]]], [[[5.0]], [[6.0]], [[7.0]], [[8.0]]], [[[9.0]], [[10.0]], [[11.0]], [[12.0]]], [[[13.0]], [[14.0]], [[15.0]], [[16.0]]]]> : tensor<4x4x1x1xf32>
  %b = graph.constant dense<[0.5, 0.25, -0.5, -0.25]> : tensor<4xf32>
  %y = graph.conv2d %d, %w, %b {group = 2 : i64, activation = "relu"} : (tensor<1x8x3x3xf32>, tensor<4x4x1x1xf32>, tensor<4xf32>) -> tensor<1x4x3x3xf32>
  func.return %y : tensor<1x4x3x3xf32>
}

// NUM: numerics: after 'graph-fold-shuffle' (graph level): agrees
// NUM: numerics: after 'graph-fold-shuffle' (graph level): agrees
// NUM: numerics: after 'graph-fold-shuffle' (graph level): agrees

// RUN: tidal-opt %s -p graph-canonicalize --split-input-file | filecheck %s

// Weight fills fold to splat constants; views of constants are constants (the same
// bytes, another type); an unsqueeze of data is a reshape; dropout is dropped.
// CHECK-LABEL: func.func @constants_and_views
// CHECK-SAME:    (%[[X:.*]]: tensor<4xf32>)
// CHECK-NEXT:    %[[F:.*]] = graph.constant dense<2.000000e-02> : tensor<2x3xf32> {tidal.origin = "fill"}
// CHECK-NEXT:    %[[U:.*]] = graph.constant dense<{{\[\[\[}}1.000000e+00]], {{\[\[}}2.000000e+00]]]> : tensor<2x1x1xf32> {tidal.origin = "v"}
// CHECK-NEXT:    %[[T:.*]] = graph.constant dense<{{\[\[}}1.000000e+00, 3.000000e+00], [2.000000e+00, 4.000000e+00]]> : tensor<2x2xf32> {tidal.origin = "m"}
// CHECK-NEXT:    %[[R:.*]] = graph.reshape %[[X]] {tidal.origin = "u"} : (tensor<4xf32>) -> tensor<1x4xf32>
// CHECK-NEXT:    func.return %[[F]], %[[U]], %[[T]], %[[R]]
func.func @constants_and_views(%x: tensor<4xf32>) -> (tensor<2x3xf32>, tensor<2x1x1xf32>, tensor<2x2xf32>, tensor<1x4xf32>) {
  %f = graph.constant_of_shape {value = 0.02 : f32, tidal.origin = "fill"} : tensor<2x3xf32>
  %v = graph.constant dense<[1.0, 2.0]> : tensor<2xf32> {tidal.origin = "v"}
  %u = graph.unsqueeze %v {axes = array<i64: 1, 2>} : (tensor<2xf32>) -> tensor<2x1x1xf32>
  %m = graph.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32> {tidal.origin = "m"}
  %t = graph.transpose %m {perm = array<i64: 1, 0>} : (tensor<2x2xf32>) -> tensor<2x2xf32>
  %d = graph.dropout %x {ratio = 0.4 : f32} : (tensor<4xf32>) -> tensor<4xf32>
  %r = graph.unsqueeze %d {axes = array<i64: 0>, tidal.origin = "u"} : (tensor<4xf32>) -> tensor<1x4xf32>
  func.return %f, %u, %t, %r : tensor<2x3xf32>, tensor<2x1x1xf32>, tensor<2x2xf32>, tensor<1x4xf32>
}

// -----

// BatchNorm after a single-use conv folds into its weights and bias:
// s = scale / sqrt(var + eps) = [4, 3] / sqrt([3, 0] + 1) = [2, 3],
// w' = w * s = [2, 3], b' = (b - mean) * s + beta = [0, -1.5] + [0, 1] = [0, -0.5].
// CHECK-LABEL: func.func @bn_into_conv
// CHECK-SAME:    (%[[X:.*]]: tensor<1x1x2x2xf32>)
// CHECK-NEXT:    %[[W:.*]] = graph.constant dense<{{\[\[\[\[}}2.000000e+00]]], {{\[\[\[}}3.000000e+00]]]]> : tensor<2x1x1x1xf32>
// CHECK-NEXT:    %[[B:.*]] = graph.constant dense<[0.000000e+00, -5.000000e-01]> : tensor<2xf32>
// CHECK-NEXT:    %[[Y:.*]] = graph.conv2d %[[X]], %[[W]], %[[B]] {tidal.origin = "conv"} : (tensor<1x1x2x2xf32>, tensor<2x1x1x1xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
// CHECK-NEXT:    func.return %[[Y]]
func.func @bn_into_conv(%x: tensor<1x1x2x2xf32>) -> tensor<1x2x2x2xf32> {
  %w = graph.constant dense<1.0> : tensor<2x1x1x1xf32>
  %b = graph.constant dense<[0.5, -0.5]> : tensor<2xf32>
  %c = graph.conv2d %x, %w, %b {tidal.origin = "conv"} : (tensor<1x1x2x2xf32>, tensor<2x1x1x1xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
  %scale = graph.constant dense<[4.0, 3.0]> : tensor<2xf32>
  %beta = graph.constant dense<[0.0, 1.0]> : tensor<2xf32>
  %mean = graph.constant dense<[0.5, 0.0]> : tensor<2xf32>
  %var = graph.constant dense<[3.0, 0.0]> : tensor<2xf32>
  %y = graph.batchnorm %c, %scale, %beta, %mean, %var {epsilon = 1.0 : f32, tidal.origin = "bn"} : (tensor<1x2x2x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
  func.return %y : tensor<1x2x2x2xf32>
}

// -----

// BatchNorm with no conv before it (or after a conv whose result is used twice) is
// a per-channel mul then add with [C, 1, 1] constants.
// CHECK-LABEL: func.func @bn_alone
// CHECK-SAME:    (%[[X:.*]]: tensor<1x2x3x3xf32>)
// CHECK-NEXT:    %[[S:.*]] = graph.constant dense<{{\[\[\[}}2.000000e+00]], {{\[\[}}3.000000e+00]]]> : tensor<2x1x1xf32> {tidal.origin = "bn"}
// CHECK-NEXT:    %[[T:.*]] = graph.constant dense<{{\[\[\[}}-1.000000e+00]], {{\[\[}}1.000000e+00]]]> : tensor<2x1x1xf32> {tidal.origin = "bn"}
// CHECK-NEXT:    %[[M:.*]] = graph.mul %[[X]], %[[S]] {tidal.origin = "bn"} : (tensor<1x2x3x3xf32>, tensor<2x1x1xf32>) -> tensor<1x2x3x3xf32>
// CHECK-NEXT:    %[[A:.*]] = graph.add %[[M]], %[[T]] {tidal.origin = "bn"} : (tensor<1x2x3x3xf32>, tensor<2x1x1xf32>) -> tensor<1x2x3x3xf32>
// CHECK-NEXT:    func.return %[[A]]
func.func @bn_alone(%x: tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32> {
  %scale = graph.constant dense<[4.0, 3.0]> : tensor<2xf32>
  %beta = graph.constant dense<[0.0, 1.0]> : tensor<2xf32>
  %mean = graph.constant dense<[0.5, 0.0]> : tensor<2xf32>
  %var = graph.constant dense<[3.0, 0.0]> : tensor<2xf32>
  %y = graph.batchnorm %x, %scale, %beta, %mean, %var {epsilon = 1.0 : f32, tidal.origin = "bn"} : (tensor<1x2x3x3xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x3x3xf32>
  func.return %y : tensor<1x2x3x3xf32>
}

// -----

// DenseNet's scale layer after a conv: the per-channel mul and add fold into the
// conv (w * [2, 3], b * [2, 3] + [1, 1]); a constant-free BatchNorm stays.
// CHECK-LABEL: func.func @scale_into_conv
// CHECK-SAME:    (%[[X:.*]]: tensor<1x1x2x2xf32>, %[[P:.*]]: tensor<2xf32>)
// CHECK-NEXT:    %[[W:.*]] = graph.constant dense<{{\[\[\[\[}}2.000000e+00]]], {{\[\[\[}}3.000000e+00]]]]> : tensor<2x1x1x1xf32>
// CHECK-NEXT:    %[[B:.*]] = graph.constant dense<1.000000e+00> : tensor<2xf32>
// CHECK-NEXT:    %[[Y:.*]] = graph.conv2d %[[X]], %[[W]], %[[B]] {tidal.origin = "conv"}
// CHECK-NEXT:    %[[N:.*]] = graph.batchnorm %[[Y]], %[[P]], %[[P]], %[[P]], %[[P]]
// CHECK-NEXT:    func.return %[[N]]
func.func @scale_into_conv(%x: tensor<1x1x2x2xf32>, %p: tensor<2xf32>) -> tensor<1x2x2x2xf32> {
  %w = graph.constant dense<1.0> : tensor<2x1x1x1xf32>
  %c = graph.conv2d %x, %w {tidal.origin = "conv"} : (tensor<1x1x2x2xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x2x2xf32>
  %s = graph.constant dense<[[[2.0]], [[3.0]]]> : tensor<2x1x1xf32>
  %m = graph.mul %c, %s : (tensor<1x2x2x2xf32>, tensor<2x1x1xf32>) -> tensor<1x2x2x2xf32>
  %t = graph.constant dense<1.0> : tensor<1x2x1x1xf32>
  %a = graph.add %t, %m : (tensor<1x2x1x1xf32>, tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %n = graph.batchnorm %a, %p, %p, %p, %p : (tensor<1x2x2x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
  func.return %n : tensor<1x2x2x2xf32>
}

// -----

// Constant chains: mul(mul(x, 2), 3) = mul(x, 6); (y + 1) * 2 = y * 2 + 2, whose
// add then merges with the next (+ 0.5); constants alone are computed.
// CHECK-LABEL: func.func @chains
// CHECK-SAME:    (%[[X:.*]]: tensor<4xf32>, %[[Y:.*]]: tensor<4xf32>)
// CHECK-DAG:     %[[C6:.*]] = graph.constant dense<6.000000e+00> : tensor<1xf32>
// CHECK-DAG:     %[[C2:.*]] = graph.constant dense<2.000000e+00> : tensor<1xf32>
// CHECK-DAG:     %[[C25:.*]] = graph.constant dense<2.500000e+00> : tensor<1xf32>
// CHECK-DAG:     %[[C5:.*]] = graph.constant dense<5.000000e+00> : tensor<4xf32>
// CHECK-DAG:     %[[M6:.*]] = graph.mul %[[X]], %[[C6]] : (tensor<4xf32>, tensor<1xf32>) -> tensor<4xf32>
// CHECK-DAG:     %[[M2:.*]] = graph.mul %[[Y]], %[[C2]] : (tensor<4xf32>, tensor<1xf32>) -> tensor<4xf32>
// CHECK-DAG:     %[[A:.*]] = graph.add %[[M2]], %[[C25]] : (tensor<4xf32>, tensor<1xf32>) -> tensor<4xf32>
// CHECK:         func.return %[[M6]], %[[A]], %[[C5]]
func.func @chains(%x: tensor<4xf32>, %y: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) {
  %two = graph.constant dense<2.0> : tensor<1xf32>
  %three = graph.constant dense<3.0> : tensor<1xf32>
  %one = graph.constant dense<1.0> : tensor<1xf32>
  %half = graph.constant dense<0.5> : tensor<1xf32>
  %m1 = graph.mul %x, %two : (tensor<4xf32>, tensor<1xf32>) -> tensor<4xf32>
  %m2 = graph.mul %three, %m1 : (tensor<1xf32>, tensor<4xf32>) -> tensor<4xf32>
  %a1 = graph.add %y, %one : (tensor<4xf32>, tensor<1xf32>) -> tensor<4xf32>
  %b1 = graph.mul %a1, %two : (tensor<4xf32>, tensor<1xf32>) -> tensor<4xf32>
  %c1 = graph.add %b1, %half : (tensor<4xf32>, tensor<1xf32>) -> tensor<4xf32>
  %k = graph.constant dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>
  %k2 = graph.constant dense<[4.0, 3.0, 2.0, 1.0]> : tensor<4xf32>
  %k3 = graph.add %k, %k2 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %m2, %c1, %k3 : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
}

// -----

// Sums: one operand is its operand, two an add; a single-use add feeding an add
// merges into one n-ary sum; an add used twice stays.
// CHECK-LABEL: func.func @sums
// CHECK-SAME:    (%[[A:.*]]: tensor<4xf32>, %[[B:.*]]: tensor<4xf32>, %[[C:.*]]: tensor<4xf32>)
// CHECK-NEXT:    %[[S:.*]] = graph.sum %[[A]], %[[B]], %[[C]] {tidal.origin = "outer"} : (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
// CHECK-NEXT:    %[[T:.*]] = graph.add %[[A]], %[[B]] {tidal.origin = "two"} : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
// CHECK-NEXT:    %[[U:.*]] = graph.add %[[T]], %[[C]] : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
// CHECK-NEXT:    func.return %[[A]], %[[S]], %[[T]], %[[U]]
func.func @sums(%a: tensor<4xf32>, %b: tensor<4xf32>, %c: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) {
  %one = graph.sum %a : (tensor<4xf32>) -> tensor<4xf32>
  %inner = graph.add %a, %b : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %outer = graph.add %inner, %c {tidal.origin = "outer"} : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %two = graph.sum %a, %b {tidal.origin = "two"} : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %u = graph.add %two, %c : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %one, %outer, %two, %u : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
}

// -----

// A tree of single-use adds merges into one sum at its root, its leaves in order
// (built once, not one level at a time); a root with a constant operand stops the
// merge there: the tree below it merges on its own.
// CHECK-LABEL: func.func @sum_trees
// CHECK-SAME:    (%[[A:.*]]: tensor<4xf32>, %[[B:.*]]: tensor<4xf32>, %[[C:.*]]: tensor<4xf32>, %[[D:.*]]: tensor<4xf32>, %[[E:.*]]: tensor<4xf32>)
// CHECK:         %[[S:.*]] = graph.sum %[[A]], %[[B]], %[[C]], %[[D]], %[[E]] {tidal.origin = "root"}
// CHECK:         %[[T:.*]] = graph.sum %[[A]], %[[B]], %[[C]] {tidal.origin = "below"}
// CHECK-NEXT:    %[[K:.*]] = graph.constant
// CHECK-NEXT:    %[[U:.*]] = graph.add %[[T]], %[[K]]
// CHECK-NOT:     graph.add
// CHECK:         func.return %[[S]], %[[U]]
func.func @sum_trees(%a: tensor<4xf32>, %b: tensor<4xf32>, %c: tensor<4xf32>, %d: tensor<4xf32>, %e: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %ab = graph.add %a, %b : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %abc = graph.add %ab, %c : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %de = graph.add %d, %e : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %root = graph.add %abc, %de {tidal.origin = "root"} : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %ab2 = graph.add %a, %b : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %below = graph.add %ab2, %c {tidal.origin = "below"} : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %k = graph.constant dense<1.0> : tensor<4xf32>
  %top = graph.add %below, %k : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %root, %top : tensor<4xf32>, tensor<4xf32>
}

// -----

// A training-mode dropout is not the identity: it stays.
// CHECK-LABEL: func.func @training_dropout
// CHECK-NEXT:    %[[D:.*]] = graph.dropout %{{.*}} {training = 1 : i64, seed = 4 : i64}
// CHECK-NEXT:    func.return %[[D]]
func.func @training_dropout(%x: tensor<4xf32>) -> tensor<4xf32> {
  %d = graph.dropout %x {training = 1 : i64, seed = 4 : i64} : (tensor<4xf32>) -> tensor<4xf32>
  func.return %d : tensor<4xf32>
}

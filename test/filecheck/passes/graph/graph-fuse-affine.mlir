// RUN: tidal-opt %s -p graph-fuse-affine --split-input-file | filecheck %s

// An unfolded BatchNorm (per-channel mul, add) and the relu after it: one
// channel_affine with [C] scale and shift, the mul's origin, the others in tidal.fused.
// CHECK-LABEL: func.func @bn_relu
// CHECK-SAME:    (%[[X:.*]]: tensor<1x4x2x2xf32>)
// CHECK-NEXT:    %[[S:.*]] = graph.constant dense<[1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00]> : tensor<4xf32> {tidal.origin = "bn"}
// CHECK-NEXT:    %[[T:.*]] = graph.constant dense<[5.000000e-01, -5.000000e-01, 1.500000e+00, -1.500000e+00]> : tensor<4xf32> {tidal.origin = "bn"}
// CHECK-NEXT:    %[[R:.*]] = graph.channel_affine %[[X]], %[[S]], %[[T]] {tidal.origin = "bn", tidal.fused = ["bn_add", "relu"], activation = "relu"} : (tensor<1x4x2x2xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x4x2x2xf32>
// CHECK-NEXT:    func.return %[[R]]
func.func @bn_relu(%x: tensor<1x4x2x2xf32>) -> tensor<1x4x2x2xf32> {
  %s = graph.constant dense<[[[1.0]], [[2.0]], [[3.0]], [[4.0]]]> : tensor<4x1x1xf32>
  %t = graph.constant dense<[[[0.5]], [[-0.5]], [[1.5]], [[-1.5]]]> : tensor<4x1x1xf32>
  %m = graph.mul %x, %s {tidal.origin = "bn"} : (tensor<1x4x2x2xf32>, tensor<4x1x1xf32>) -> tensor<1x4x2x2xf32>
  %a = graph.add %m, %t {tidal.origin = "bn_add"} : (tensor<1x4x2x2xf32>, tensor<4x1x1xf32>) -> tensor<1x4x2x2xf32>
  %r = graph.relu %a {tidal.origin = "relu"} : (tensor<1x4x2x2xf32>) -> tensor<1x4x2x2xf32>
  func.return %r : tensor<1x4x2x2xf32>
}

// A mul alone ([1, C, 1, 1] constant on the left), an add alone (a scalar shift),
// and an add then a relu on an NC tensor ([C] constant).
// CHECK-LABEL: func.func @alone
// CHECK-SAME:    (%[[X:.*]]: tensor<1x2x3x3xf32>, %[[V:.*]]: tensor<3x2xf32>)
// CHECK-NEXT:    %[[S:.*]] = graph.constant dense<[2.000000e+00, 3.000000e+00]> : tensor<2xf32> {tidal.origin = "mul"}
// CHECK-NEXT:    %[[Z:.*]] = graph.constant dense<0.000000e+00> : tensor<2xf32> {tidal.origin = "mul"}
// CHECK-NEXT:    %[[M:.*]] = graph.channel_affine %[[X]], %[[S]], %[[Z]] {tidal.origin = "mul"} : (tensor<1x2x3x3xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x3x3xf32>
// CHECK-NEXT:    %[[O:.*]] = graph.constant dense<1.000000e+00> : tensor<2xf32> {tidal.origin = "add"}
// CHECK-NEXT:    %[[H:.*]] = graph.constant dense<5.000000e-01> : tensor<2xf32> {tidal.origin = "add"}
// CHECK-NEXT:    %[[A:.*]] = graph.channel_affine %[[M]], %[[O]], %[[H]] {tidal.origin = "add"} : (tensor<1x2x3x3xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x3x3xf32>
// CHECK-NEXT:    %[[O2:.*]] = graph.constant dense<1.000000e+00> : tensor<2xf32> {tidal.origin = "fc_add"}
// CHECK-NEXT:    %[[B:.*]] = graph.constant dense<[1.000000e+00, -1.000000e+00]> : tensor<2xf32> {tidal.origin = "fc_add"}
// CHECK-NEXT:    %[[N:.*]] = graph.channel_affine %[[V]], %[[O2]], %[[B]] {tidal.origin = "fc_add", tidal.fused = ["fc_relu"], activation = "relu"} : (tensor<3x2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<3x2xf32>
// CHECK-NEXT:    func.return %[[A]], %[[M]], %[[N]]
func.func @alone(%x: tensor<1x2x3x3xf32>, %v: tensor<3x2xf32>) -> (tensor<1x2x3x3xf32>, tensor<1x2x3x3xf32>, tensor<3x2xf32>) {
  %s = graph.constant dense<[[[[2.0]], [[3.0]]]]> : tensor<1x2x1x1xf32>
  %h = graph.constant dense<0.5> : tensor<f32>
  %b = graph.constant dense<[1.0, -1.0]> : tensor<2xf32>
  %m = graph.mul %s, %x {tidal.origin = "mul"} : (tensor<1x2x1x1xf32>, tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %a = graph.add %m, %h {tidal.origin = "add"} : (tensor<1x2x3x3xf32>, tensor<f32>) -> tensor<1x2x3x3xf32>
  %n = graph.add %v, %b {tidal.origin = "fc_add"} : (tensor<3x2xf32>, tensor<2xf32>) -> tensor<3x2xf32>
  %r = graph.relu %n {tidal.origin = "fc_relu"} : (tensor<3x2xf32>) -> tensor<3x2xf32>
  func.return %a, %m, %r : tensor<1x2x3x3xf32>, tensor<1x2x3x3xf32>, tensor<3x2xf32>
}

// -----

// Left alone: a relu alone, a mul by a tensor that is not a constant, a constant
// that varies along H, a constant that broadcasts x, and a relu of an affine
// that has another use.
// CHECK-LABEL: func.func @left_alone
// CHECK-NEXT:    %[[P:.*]] = graph.constant
// CHECK-NEXT:    %[[Q:.*]] = graph.constant
// CHECK-NEXT:    %[[R:.*]] = graph.relu %{{.*}} {tidal.origin = "relu"}
// CHECK-NEXT:    %[[M:.*]] = graph.mul %{{.*}}, %{{.*}} {tidal.origin = "data"}
// CHECK-NEXT:    %[[H:.*]] = graph.mul %{{.*}}, %[[P]] {tidal.origin = "rows"}
// CHECK-NEXT:    %[[B:.*]] = graph.add %{{.*}}, %[[Q]] {tidal.origin = "wide"}
// CHECK-NEXT:    %[[S:.*]] = graph.constant {{.*}} {tidal.origin = "shared"}
// CHECK-NEXT:    %[[Z:.*]] = graph.constant {{.*}} {tidal.origin = "shared"}
// CHECK-NEXT:    %[[A:.*]] = graph.channel_affine %{{.*}}, %[[S]], %[[Z]] {tidal.origin = "shared"}
// CHECK-NEXT:    %[[U:.*]] = graph.relu %[[A]] {tidal.origin = "shared_relu"}
// CHECK-NEXT:    func.return %[[R]], %[[M]], %[[H]], %[[B]], %[[A]], %[[U]]
func.func @left_alone(%x: tensor<1x2x3x3xf32>, %y: tensor<1x2x3x3xf32>, %z: tensor<1x2x1x1xf32>) -> (tensor<1x2x3x3xf32>, tensor<1x2x3x3xf32>, tensor<1x2x3x3xf32>, tensor<1x2x3x3xf32>, tensor<1x2x3x3xf32>, tensor<1x2x3x3xf32>) {
  %c = graph.constant dense<[[[2.0]], [[3.0]]]> : tensor<2x1x1xf32>
  %p = graph.constant dense<[[1.0], [2.0], [3.0]]> : tensor<3x1xf32>
  %q = graph.constant dense<1.0> : tensor<1x2x3x3xf32>
  %r = graph.relu %x {tidal.origin = "relu"} : (tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %m = graph.mul %x, %y {tidal.origin = "data"} : (tensor<1x2x3x3xf32>, tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %h = graph.mul %x, %p {tidal.origin = "rows"} : (tensor<1x2x3x3xf32>, tensor<3x1xf32>) -> tensor<1x2x3x3xf32>
  %b = graph.add %z, %q {tidal.origin = "wide"} : (tensor<1x2x1x1xf32>, tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %a = graph.mul %x, %c {tidal.origin = "shared"} : (tensor<1x2x3x3xf32>, tensor<2x1x1xf32>) -> tensor<1x2x3x3xf32>
  %u = graph.relu %a {tidal.origin = "shared_relu"} : (tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  func.return %r, %m, %h, %b, %a, %u : tensor<1x2x3x3xf32>, tensor<1x2x3x3xf32>, tensor<1x2x3x3xf32>, tensor<1x2x3x3xf32>, tensor<1x2x3x3xf32>, tensor<1x2x3x3xf32>
}

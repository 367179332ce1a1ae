// RUN: tidal-opt %s -p graph-fuse-epilogue --split-input-file | filecheck %s
// RUN: tidal-opt %s -p 'graph-fuse-epilogue{through_concat=false}' --split-input-file | filecheck %s --check-prefix=NOCAT
// RUN: tidal-opt %s -p graph-fuse-epilogue --split-input-file --check-numerics -o /dev/null 2>&1 | filecheck %s --check-prefix=NUM

// A relu after a concatenation (ShuffleNet's downsampling unit: a conv branch and
// an average-pool branch): the conv takes the relu as its activation, the pool's
// result gets a relu of its own, and the concat of the two is the result. Left
// alone when no operand is a fusable conv or gemm, or with through_concat=false.
// CHECK-LABEL: func.func @relu_concat
// CHECK-NEXT:    %w = graph.constant
// CHECK-NEXT:    %c = graph.conv2d %x, %w {tidal.origin = "c", tidal.fused = ["r"], activation = "relu"}
// CHECK-NEXT:    %p = graph.avgpool %x
// CHECK-NEXT:    %0 = graph.relu %p {tidal.origin = "r.1"}
// CHECK-NEXT:    %r = graph.concat %c, %0 {tidal.origin = "cat", axis = 1 : i64}
// CHECK-NEXT:    %q = graph.concat %p, %p
// CHECK-NEXT:    %s = graph.relu %q
// CHECK-NEXT:    func.return %r, %s
// NOCAT-LABEL: func.func @relu_concat
// NOCAT:         graph.concat
// NOCAT-NEXT:    %r = graph.relu
// NUM: numerics: after 'graph-fuse-epilogue' (graph level): agrees
func.func @relu_concat(%x: tensor<1x4x4x4xf32>) -> (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>) {
  %w = graph.constant dense<0.5> : tensor<4x4x1x1xf32>
  %c = graph.conv2d %x, %w {tidal.origin = "c"} : (tensor<1x4x4x4xf32>, tensor<4x4x1x1xf32>) -> tensor<1x4x4x4xf32>
  %p = graph.avgpool %x {kernel_shape = array<i64: 3, 3>, pads = array<i64: 1, 1, 1, 1>, tidal.origin = "p"} : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
  %cat = graph.concat %c, %p {axis = 1 : i64, tidal.origin = "cat"} : (tensor<1x4x4x4xf32>, tensor<1x4x4x4xf32>) -> tensor<1x8x4x4xf32>
  %r = graph.relu %cat {tidal.origin = "r"} : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  %q = graph.concat %p, %p {axis = 1 : i64} : (tensor<1x4x4x4xf32>, tensor<1x4x4x4xf32>) -> tensor<1x8x4x4xf32>
  %s = graph.relu %q : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  func.return %r, %s : tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>
}

// -----

// The pool branch of a real downsampling unit averages the previous unit's relu
// output: provably non-negative, so it needs no relu of its own; and a relu of
// such a value (a max pooling of a relu'd conv) goes altogether.
// CHECK-LABEL: func.func @non_negative
// CHECK:         %c = graph.conv2d %a, %w {tidal.origin = "c", tidal.fused = ["r"], activation = "relu"}
// CHECK-NEXT:    %p = graph.avgpool %a
// CHECK-NEXT:    %r = graph.concat %c, %p {tidal.origin = "cat", axis = 1 : i64}
// CHECK-NEXT:    %d = graph.conv2d %a, %w {activation = "relu"}
// CHECK-NEXT:    %mp = graph.maxpool %d
// CHECK-NEXT:    func.return %r, %mp
// NOCAT-LABEL: func.func @non_negative
// NOCAT:         graph.relu
// NOCAT:         graph.relu
// NUM: numerics: after 'graph-fuse-epilogue' (graph level): agrees
func.func @non_negative(%x: tensor<1x4x4x4xf32>) -> (tensor<1x8x4x4xf32>, tensor<1x4x2x2xf32>) {
  %a = graph.relu %x : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
  %w = graph.constant dense<-0.5> : tensor<4x4x1x1xf32>
  %c = graph.conv2d %a, %w {tidal.origin = "c"} : (tensor<1x4x4x4xf32>, tensor<4x4x1x1xf32>) -> tensor<1x4x4x4xf32>
  %p = graph.avgpool %a {kernel_shape = array<i64: 3, 3>, pads = array<i64: 1, 1, 1, 1>, tidal.origin = "p"} : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
  %cat = graph.concat %c, %p {axis = 1 : i64, tidal.origin = "cat"} : (tensor<1x4x4x4xf32>, tensor<1x4x4x4xf32>) -> tensor<1x8x4x4xf32>
  %r = graph.relu %cat {tidal.origin = "r"} : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  %d = graph.conv2d %a, %w {activation = "relu"} : (tensor<1x4x4x4xf32>, tensor<4x4x1x1xf32>) -> tensor<1x4x4x4xf32>
  %mp = graph.maxpool %d {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>} : (tensor<1x4x4x4xf32>) -> tensor<1x4x2x2xf32>
  %m = graph.relu %mp : (tensor<1x4x2x2xf32>) -> tensor<1x4x2x2xf32>
  func.return %r, %m : tensor<1x8x4x4xf32>, tensor<1x4x2x2xf32>
}

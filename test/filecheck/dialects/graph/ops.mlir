// RUN: TIDAL_ROUNDTRIP
// RUN: TIDAL_GENERIC_ROUNDTRIP

// Every graph op, in custom syntax, survives printing and parsing in both the
// custom and the generic form. Properties at their default values are elided.

// CHECK-LABEL: func.func @constant
func.func @constant() -> (tensor<2x2xf32>, tensor<2x3xf32>) {
  // CHECK-NEXT: %[[C:.*]] = graph.constant dense<{{\[\[}}1.000000e+00, 2.000000e+00], [3.000000e+00, 4.000000e+00]]> : tensor<2x2xf32>
  %c = graph.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  // CHECK-NEXT: %[[S:.*]] = graph.constant dense<1.500000e+00> : tensor<2x3xf32>
  %s = graph.constant dense<1.5> : tensor<2x3xf32>
  // CHECK-NEXT: func.return %[[C]], %[[S]]
  func.return %c, %s : tensor<2x2xf32>, tensor<2x3xf32>
}

// CHECK-LABEL: func.func @matmul
// CHECK-SAME: (%[[A:.*]]: tensor<4x8xf32>, %[[B:.*]]: tensor<8x16xf32>)
func.func @matmul(%a: tensor<4x8xf32>, %b: tensor<8x16xf32>) -> tensor<4x16xf32> {
  // CHECK-NEXT: %[[R:.*]] = graph.matmul %[[A]], %[[B]] : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %r = graph.matmul %a, %b : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  // CHECK-NEXT: func.return %[[R]]
  func.return %r : tensor<4x16xf32>
}

// CHECK-LABEL: func.func @batched_matmul
func.func @batched_matmul(%q: tensor<1x4x16x8xf32>, %k: tensor<1x4x8x16xf32>) -> tensor<1x4x16x16xf32> {
  // CHECK-NEXT: %{{.*}} = graph.matmul %{{.*}}, %{{.*}} : (tensor<1x4x16x8xf32>, tensor<1x4x8x16xf32>) -> tensor<1x4x16x16xf32>
  %s = graph.matmul %q, %k : (tensor<1x4x16x8xf32>, tensor<1x4x8x16xf32>) -> tensor<1x4x16x16xf32>
  func.return %s : tensor<1x4x16x16xf32>
}

// CHECK-LABEL: func.func @gemm
// CHECK-SAME: (%[[X:.*]]: tensor<8x784xf32>, %[[W:.*]]: tensor<512x784xf32>, %[[B:.*]]: tensor<512xf32>, %[[AT:.*]]: tensor<3x5xf32>, %[[BT:.*]]: tensor<3x7xf32>)
func.func @gemm(%x: tensor<8x784xf32>, %w: tensor<512x784xf32>, %b: tensor<512xf32>,
                %at: tensor<3x5xf32>, %bt: tensor<3x7xf32>) -> (tensor<8x512xf32>, tensor<5x7xf32>, tensor<8x512xf32>) {
  // CHECK-NEXT: %[[R:.*]] = graph.gemm %[[X]], %[[W]], %[[B]] {trans_b = 1 : i64} : (tensor<8x784xf32>, tensor<512x784xf32>, tensor<512xf32>) -> tensor<8x512xf32>
  %r = graph.gemm %x, %w, %b {trans_b = 1 : i64} : (tensor<8x784xf32>, tensor<512x784xf32>, tensor<512xf32>) -> tensor<8x512xf32>
  // CHECK-NEXT: %[[R2:.*]] = graph.gemm %[[AT]], %[[BT]] {trans_a = 1 : i64, alpha = 5.000000e-01 : f32, beta = 2.000000e+00 : f32} : (tensor<3x5xf32>, tensor<3x7xf32>) -> tensor<5x7xf32>
  %r2 = graph.gemm %at, %bt {trans_a = 1 : i64, alpha = 0.5 : f32, beta = 2.0 : f32} : (tensor<3x5xf32>, tensor<3x7xf32>) -> tensor<5x7xf32>
  // Explicit defaults are elided when printed.
  // CHECK-NEXT: %[[R3:.*]] = graph.gemm %[[X]], %[[W]] {trans_b = 1 : i64} : (tensor<8x784xf32>, tensor<512x784xf32>) -> tensor<8x512xf32>
  %r3 = graph.gemm %x, %w {alpha = 1.0 : f32, trans_a = 0 : i64, trans_b = 1 : i64} : (tensor<8x784xf32>, tensor<512x784xf32>) -> tensor<8x512xf32>
  // CHECK-NEXT: func.return %[[R]], %[[R2]], %[[R3]]
  func.return %r, %r2, %r3 : tensor<8x512xf32>, tensor<5x7xf32>, tensor<8x512xf32>
}

// A fused epilogue (graph-fuse-epilogue): an addend and an activation, with and
// without a bias; the addend is named, so either optional operand may be absent.
// CHECK-LABEL: func.func @conv2d_epilogue
// CHECK-SAME: (%[[X:.*]]: tensor<1x8x4x4xf32>, %[[W:.*]]: tensor<8x8x1x1xf32>, %[[B:.*]]: tensor<8xf32>, %[[S:.*]]: tensor<1x8x4x4xf32>)
func.func @conv2d_epilogue(%x: tensor<1x8x4x4xf32>, %w: tensor<8x8x1x1xf32>, %b: tensor<8xf32>,
                           %s: tensor<1x8x4x4xf32>) -> (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>, tensor<8x8xf32>) {
  // CHECK-NEXT: %[[R:.*]] = graph.conv2d %[[X]], %[[W]], %[[B]] addend %[[S]] {activation = "relu"} : (tensor<1x8x4x4xf32>, tensor<8x8x1x1xf32>, tensor<8xf32>, tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  %r = graph.conv2d %x, %w, %b addend %s {activation = "relu"} : (tensor<1x8x4x4xf32>, tensor<8x8x1x1xf32>, tensor<8xf32>, tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  // CHECK-NEXT: %[[R2:.*]] = graph.conv2d %[[R]], %[[W]] addend %[[S]] : (tensor<1x8x4x4xf32>, tensor<8x8x1x1xf32>, tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  %r2 = graph.conv2d %r, %w addend %s : (tensor<1x8x4x4xf32>, tensor<8x8x1x1xf32>, tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  // CHECK-NEXT: %[[WF:.*]] = graph.reshape %[[W]]
  %wf = graph.reshape %w {shape = array<i64: 8, 8>} : (tensor<8x8x1x1xf32>) -> tensor<8x8xf32>
  // CHECK-NEXT: %[[G:.*]] = graph.gemm %[[WF]], %[[WF]], %[[B]] {trans_b = 1 : i64, activation = "relu"} : (tensor<8x8xf32>, tensor<8x8xf32>, tensor<8xf32>) -> tensor<8x8xf32>
  %g = graph.gemm %wf, %wf, %b {trans_b = 1 : i64, activation = "relu"} : (tensor<8x8xf32>, tensor<8x8xf32>, tensor<8xf32>) -> tensor<8x8xf32>
  // CHECK-NEXT: func.return %[[R]], %[[R2]], %[[G]]
  func.return %r, %r2, %g : tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>, tensor<8x8xf32>
}

// The clip01 activation (graph-fold-clip: a ReLU6 folded into the epilogue).
// CHECK-LABEL: func.func @clip01_epilogue
// CHECK-NEXT: %[[C:.*]] = graph.conv2d %{{.*}}, %{{.*}}, %{{.*}} {activation = "clip01"} : (tensor<1x8x4x4xf32>, tensor<8x8x1x1xf32>, tensor<8xf32>) -> tensor<1x8x4x4xf32>
// CHECK-NEXT: %{{.*}} = graph.gemm %{{.*}}, %{{.*}} {activation = "clip01"} : (tensor<2x8xf32>, tensor<8x4xf32>) -> tensor<2x4xf32>
func.func @clip01_epilogue(%x: tensor<1x8x4x4xf32>, %w: tensor<8x8x1x1xf32>, %b: tensor<8xf32>,
                           %a: tensor<2x8xf32>, %v: tensor<8x4xf32>) -> (tensor<1x8x4x4xf32>, tensor<2x4xf32>) {
  %c = graph.conv2d %x, %w, %b {activation = "clip01"} : (tensor<1x8x4x4xf32>, tensor<8x8x1x1xf32>, tensor<8xf32>) -> tensor<1x8x4x4xf32>
  %g = graph.gemm %a, %v {activation = "clip01"} : (tensor<2x8xf32>, tensor<8x4xf32>) -> tensor<2x4xf32>
  func.return %c, %g : tensor<1x8x4x4xf32>, tensor<2x4xf32>
}

// CHECK-LABEL: func.func @conv2d
// CHECK-SAME: (%[[X:.*]]: tensor<1x3x32x32xf32>, %[[W:.*]]: tensor<8x3x3x3xf32>, %[[B:.*]]: tensor<8xf32>, %[[G:.*]]: tensor<8x1x3x3xf32>)
func.func @conv2d(%x: tensor<1x3x32x32xf32>, %w: tensor<8x3x3x3xf32>, %b: tensor<8xf32>,
                  %g: tensor<8x1x3x3xf32>) -> (tensor<1x8x32x32xf32>, tensor<1x8x30x30xf32>, tensor<1x8x7x8xf32>) {
  // CHECK-NEXT: %[[R:.*]] = graph.conv2d %[[X]], %[[W]], %[[B]] {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x3x32x32xf32>, tensor<8x3x3x3xf32>, tensor<8xf32>) -> tensor<1x8x32x32xf32>
  %r = graph.conv2d %x, %w, %b {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x3x32x32xf32>, tensor<8x3x3x3xf32>, tensor<8xf32>) -> tensor<1x8x32x32xf32>
  // CHECK-NEXT: %[[R2:.*]] = graph.conv2d %[[X]], %[[W]] : (tensor<1x3x32x32xf32>, tensor<8x3x3x3xf32>) -> tensor<1x8x30x30xf32>
  %r2 = graph.conv2d %x, %w : (tensor<1x3x32x32xf32>, tensor<8x3x3x3xf32>) -> tensor<1x8x30x30xf32>
  %y = graph.conv2d %x, %w : (tensor<1x3x32x32xf32>, tensor<8x3x3x3xf32>) -> tensor<1x8x30x30xf32>
  // CHECK: %[[R3:.*]] = graph.conv2d %{{.*}}, %[[G]] {strides = array<i64: 4, 4>, pads = array<i64: 0, 1, 2, 0>, dilations = array<i64: 2, 1>, group = 8 : i64} : (tensor<1x8x30x30xf32>, tensor<8x1x3x3xf32>) -> tensor<1x8x7x8xf32>
  %r3 = graph.conv2d %y, %g {strides = array<i64: 4, 4>, pads = array<i64: 0, 1, 2, 0>, dilations = array<i64: 2, 1>, group = 8 : i64} : (tensor<1x8x30x30xf32>, tensor<8x1x3x3xf32>) -> tensor<1x8x7x8xf32>
  // CHECK-NEXT: func.return %[[R]], %[[R2]], %[[R3]]
  func.return %r, %r2, %r3 : tensor<1x8x32x32xf32>, tensor<1x8x30x30xf32>, tensor<1x8x7x8xf32>
}

// Two groups reading interleaved blocks of 2 channels: group 0 reads channels 0, 1,
// 4, 5 and group 1 channels 2, 3, 6, 7 (graph-fold-shuffle's form of a shuffle).
// CHECK-LABEL: func.func @conv2d_interleave
func.func @conv2d_interleave(%x: tensor<1x8x4x4xf32>, %w: tensor<6x4x1x1xf32>) -> tensor<1x6x4x4xf32> {
  // CHECK-NEXT: %{{.*}} = graph.conv2d %{{.*}}, %{{.*}} {group = 2 : i64, interleave = 2 : i64} : (tensor<1x8x4x4xf32>, tensor<6x4x1x1xf32>) -> tensor<1x6x4x4xf32>
  %r = graph.conv2d %x, %w {group = 2 : i64, interleave = 2 : i64} : (tensor<1x8x4x4xf32>, tensor<6x4x1x1xf32>) -> tensor<1x6x4x4xf32>
  func.return %r : tensor<1x6x4x4xf32>
}

// CHECK-LABEL: func.func @add_mul
// CHECK-SAME: (%[[X:.*]]: tensor<1x8x4x4xf32>, %[[S:.*]]: tensor<8x1x1xf32>, %[[C:.*]]: tensor<3x1xf32>, %[[R:.*]]: tensor<5xf32>)
func.func @add_mul(%x: tensor<1x8x4x4xf32>, %s: tensor<8x1x1xf32>, %c: tensor<3x1xf32>,
                   %r: tensor<5xf32>) -> (tensor<1x8x4x4xf32>, tensor<3x5xf32>) {
  // CHECK-NEXT: %[[M:.*]] = graph.mul %[[X]], %[[S]] : (tensor<1x8x4x4xf32>, tensor<8x1x1xf32>) -> tensor<1x8x4x4xf32>
  %m = graph.mul %x, %s : (tensor<1x8x4x4xf32>, tensor<8x1x1xf32>) -> tensor<1x8x4x4xf32>
  // CHECK-NEXT: %[[A:.*]] = graph.add %[[M]], %[[X]] : (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  %a = graph.add %m, %x : (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  // CHECK-NEXT: %[[O:.*]] = graph.add %[[C]], %[[R]] : (tensor<3x1xf32>, tensor<5xf32>) -> tensor<3x5xf32>
  %o = graph.add %c, %r : (tensor<3x1xf32>, tensor<5xf32>) -> tensor<3x5xf32>
  // CHECK-NEXT: func.return %[[A]], %[[O]]
  func.return %a, %o : tensor<1x8x4x4xf32>, tensor<3x5xf32>
}

// CHECK-LABEL: func.func @relu
func.func @relu(%x: tensor<8x512xf32>) -> tensor<8x512xf32> {
  // CHECK-NEXT: %[[R:.*]] = graph.relu %{{.*}} : (tensor<8x512xf32>) -> tensor<8x512xf32>
  %r = graph.relu %x : (tensor<8x512xf32>) -> tensor<8x512xf32>
  // CHECK-NEXT: func.return %[[R]]
  func.return %r : tensor<8x512xf32>
}

// CHECK-LABEL: func.func @activation
func.func @activation(%x: tensor<8x512xf32>) -> (tensor<8x512xf32>, tensor<8x512xf32>) {
  // CHECK-NEXT: %[[S:.*]] = graph.activation %{{.*}} {func = "sigmoid"} : (tensor<8x512xf32>) -> tensor<8x512xf32>
  %s = graph.activation %x {func = "sigmoid"} : (tensor<8x512xf32>) -> tensor<8x512xf32>
  // CHECK-NEXT: %[[E:.*]] = graph.activation %[[S]] {func = "erf"} : (tensor<8x512xf32>) -> tensor<8x512xf32>
  %e = graph.activation %s {func = "erf"} : (tensor<8x512xf32>) -> tensor<8x512xf32>
  // CHECK-NEXT: func.return %[[S]], %[[E]]
  func.return %s, %e : tensor<8x512xf32>, tensor<8x512xf32>
}

// CHECK-LABEL: func.func @maxpool
func.func @maxpool(%x: tensor<1x8x32x32xf32>) -> (tensor<1x8x16x16xf32>, tensor<1x8x32x32xf32>) {
  // CHECK-NEXT: %[[R:.*]] = graph.maxpool %{{.*}} {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>} : (tensor<1x8x32x32xf32>) -> tensor<1x8x16x16xf32>
  %r = graph.maxpool %x {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>} : (tensor<1x8x32x32xf32>) -> tensor<1x8x16x16xf32>
  // CHECK-NEXT: %[[R2:.*]] = graph.maxpool %{{.*}} {kernel_shape = array<i64: 3, 3>, pads = array<i64: 1, 1, 1, 1>} : (tensor<1x8x32x32xf32>) -> tensor<1x8x32x32xf32>
  %r2 = graph.maxpool %x {kernel_shape = array<i64: 3, 3>, pads = array<i64: 1, 1, 1, 1>} : (tensor<1x8x32x32xf32>) -> tensor<1x8x32x32xf32>
  // CHECK-NEXT: func.return %[[R]], %[[R2]]
  func.return %r, %r2 : tensor<1x8x16x16xf32>, tensor<1x8x32x32xf32>
}

// CHECK-LABEL: func.func @reshape_flatten
func.func @reshape_flatten(%x: tensor<2x3x4x5xf32>) -> (tensor<6x20xf32>, tensor<2x60xf32>, tensor<1x120xf32>, tensor<120xf32>) {
  // CHECK-NEXT: %[[F:.*]] = graph.flatten %{{.*}} {axis = 2 : i64} : (tensor<2x3x4x5xf32>) -> tensor<6x20xf32>
  %f = graph.flatten %x {axis = 2 : i64} : (tensor<2x3x4x5xf32>) -> tensor<6x20xf32>
  // CHECK-NEXT: %[[F1:.*]] = graph.flatten %{{.*}} : (tensor<2x3x4x5xf32>) -> tensor<2x60xf32>
  %f1 = graph.flatten %x : (tensor<2x3x4x5xf32>) -> tensor<2x60xf32>
  // CHECK-NEXT: %[[F0:.*]] = graph.flatten %{{.*}} {axis = 0 : i64} : (tensor<2x3x4x5xf32>) -> tensor<1x120xf32>
  %f0 = graph.flatten %x {axis = 0 : i64} : (tensor<2x3x4x5xf32>) -> tensor<1x120xf32>
  // CHECK-NEXT: %[[R:.*]] = graph.reshape %[[F]] : (tensor<6x20xf32>) -> tensor<120xf32>
  %r = graph.reshape %f : (tensor<6x20xf32>) -> tensor<120xf32>
  // CHECK-NEXT: func.return %[[F]], %[[F1]], %[[F0]], %[[R]]
  func.return %f, %f1, %f0, %r : tensor<6x20xf32>, tensor<2x60xf32>, tensor<1x120xf32>, tensor<120xf32>
}

// CHECK-LABEL: func.func @softmax
func.func @softmax(%x: tensor<2x3x4xf32>) -> tensor<2x3x4xf32> {
  // CHECK-NEXT: %[[R:.*]] = graph.softmax %{{.*}} {axis = 1 : i64} : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  %r = graph.softmax %x {axis = 1 : i64} : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  // CHECK-NEXT: func.return %[[R]]
  func.return %r : tensor<2x3x4xf32>
}

// Discardable attributes (the importer's tidal.origin) live beside the properties.
// CHECK-LABEL: func.func @origin
func.func @origin(%x: tensor<4xf32>) -> tensor<4xf32> {
  // CHECK-NEXT: graph.relu %{{.*}} {tidal.origin = "relu1"} : (tensor<4xf32>) -> tensor<4xf32>
  %r = graph.relu %x {tidal.origin = "relu1"} : (tensor<4xf32>) -> tensor<4xf32>
  // CHECK-NEXT: graph.constant dense<0.000000e+00> : tensor<4xf32> {tidal.origin = "zero"}
  %z = graph.constant dense<0.0> : tensor<4xf32> {tidal.origin = "zero"}
  %s = graph.add %r, %z : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %s : tensor<4xf32>
}

// CHECK-LABEL: func.func @batchnorm
// CHECK-SAME: (%[[X:.*]]: tensor<1x8x4x4xf32>, %[[P:.*]]: tensor<8xf32>)
func.func @batchnorm(%x: tensor<1x8x4x4xf32>, %p: tensor<8xf32>) -> (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>) {
  // CHECK-NEXT: %[[R:.*]] = graph.batchnorm %[[X]], %[[P]], %[[P]], %[[P]], %[[P]] : (tensor<1x8x4x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<1x8x4x4xf32>
  %r = graph.batchnorm %x, %p, %p, %p, %p : (tensor<1x8x4x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<1x8x4x4xf32>
  // CHECK-NEXT: %[[E:.*]] = graph.batchnorm %[[X]], %[[P]], %[[P]], %[[P]], %[[P]] {epsilon = 1.000000e-03 : f32} : (tensor<1x8x4x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<1x8x4x4xf32>
  %e = graph.batchnorm %x, %p, %p, %p, %p {epsilon = 1.0e-3 : f32} : (tensor<1x8x4x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<1x8x4x4xf32>
  // CHECK-NEXT: func.return %[[R]], %[[E]]
  func.return %r, %e : tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>
}

// CHECK-LABEL: func.func @pools
func.func @pools(%x: tensor<1x8x7x7xf32>) -> (tensor<1x8x7x7xf32>, tensor<1x8x3x3xf32>, tensor<1x8x1x1xf32>) {
  // CHECK-NEXT: %[[A:.*]] = graph.avgpool %{{.*}} {kernel_shape = array<i64: 3, 3>, pads = array<i64: 1, 1, 1, 1>} : (tensor<1x8x7x7xf32>) -> tensor<1x8x7x7xf32>
  %a = graph.avgpool %x {kernel_shape = array<i64: 3, 3>, pads = array<i64: 1, 1, 1, 1>} : (tensor<1x8x7x7xf32>) -> tensor<1x8x7x7xf32>
  // CHECK-NEXT: %[[B:.*]] = graph.avgpool %{{.*}} {kernel_shape = array<i64: 3, 3>, strides = array<i64: 2, 2>, count_include_pad = 1 : i64} : (tensor<1x8x7x7xf32>) -> tensor<1x8x3x3xf32>
  %b = graph.avgpool %x {kernel_shape = array<i64: 3, 3>, strides = array<i64: 2, 2>, count_include_pad = 1 : i64} : (tensor<1x8x7x7xf32>) -> tensor<1x8x3x3xf32>
  // CHECK-NEXT: %[[G:.*]] = graph.global_avgpool %{{.*}} : (tensor<1x8x7x7xf32>) -> tensor<1x8x1x1xf32>
  %g = graph.global_avgpool %x : (tensor<1x8x7x7xf32>) -> tensor<1x8x1x1xf32>
  // CHECK-NEXT: func.return %[[A]], %[[B]], %[[G]]
  func.return %a, %b, %g : tensor<1x8x7x7xf32>, tensor<1x8x3x3xf32>, tensor<1x8x1x1xf32>
}

// CHECK-LABEL: func.func @concat_transpose
// CHECK-SAME: (%[[A:.*]]: tensor<1x4x8x8xf32>, %[[B:.*]]: tensor<1x2x8x8xf32>, %[[T:.*]]: tensor<1x4x3x2x2xf32>)
func.func @concat_transpose(%a: tensor<1x4x8x8xf32>, %b: tensor<1x2x8x8xf32>, %t: tensor<1x4x3x2x2xf32>) -> (tensor<1x10x8x8xf32>, tensor<1x3x4x2x2xf32>) {
  // CHECK-NEXT: %[[C:.*]] = graph.concat %[[A]], %[[B]], %[[A]] {axis = 1 : i64} : (tensor<1x4x8x8xf32>, tensor<1x2x8x8xf32>, tensor<1x4x8x8xf32>) -> tensor<1x10x8x8xf32>
  %c = graph.concat %a, %b, %a {axis = 1 : i64} : (tensor<1x4x8x8xf32>, tensor<1x2x8x8xf32>, tensor<1x4x8x8xf32>) -> tensor<1x10x8x8xf32>
  // CHECK-NEXT: %[[P:.*]] = graph.transpose %[[T]] {perm = array<i64: 0, 2, 1, 3, 4>} : (tensor<1x4x3x2x2xf32>) -> tensor<1x3x4x2x2xf32>
  %p = graph.transpose %t {perm = array<i64: 0, 2, 1, 3, 4>} : (tensor<1x4x3x2x2xf32>) -> tensor<1x3x4x2x2xf32>
  // CHECK-NEXT: func.return %[[C]], %[[P]]
  func.return %c, %p : tensor<1x10x8x8xf32>, tensor<1x3x4x2x2xf32>
}

// CHECK-LABEL: func.func @lrn
func.func @lrn(%x: tensor<1x16x5x5xf32>) -> (tensor<1x16x5x5xf32>, tensor<1x16x5x5xf32>) {
  // CHECK-NEXT: %[[L:.*]] = graph.lrn %{{.*}} {size = 5 : i64} : (tensor<1x16x5x5xf32>) -> tensor<1x16x5x5xf32>
  %l = graph.lrn %x {size = 5 : i64} : (tensor<1x16x5x5xf32>) -> tensor<1x16x5x5xf32>
  // CHECK-NEXT: %[[M:.*]] = graph.lrn %{{.*}} {size = 3 : i64, alpha = 5.000000e-04 : f32, beta = 5.000000e-01 : f32, bias = 2.000000e+00 : f32} : (tensor<1x16x5x5xf32>) -> tensor<1x16x5x5xf32>
  %m = graph.lrn %x {size = 3 : i64, alpha = 5.0e-4 : f32, beta = 0.5 : f32, bias = 2.0 : f32} : (tensor<1x16x5x5xf32>) -> tensor<1x16x5x5xf32>
  // CHECK-NEXT: func.return %[[L]], %[[M]]
  func.return %l, %m : tensor<1x16x5x5xf32>, tensor<1x16x5x5xf32>
}

// CHECK-LABEL: func.func @sum_unsqueeze_dropout
// CHECK-SAME: (%[[X:.*]]: tensor<1x8x4x4xf32>, %[[V:.*]]: tensor<8xf32>)
func.func @sum_unsqueeze_dropout(%x: tensor<1x8x4x4xf32>, %v: tensor<8xf32>) -> (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>) {
  // CHECK-NEXT: %[[U:.*]] = graph.unsqueeze %[[V]] {axes = array<i64: 1, 2>} : (tensor<8xf32>) -> tensor<8x1x1xf32>
  %u = graph.unsqueeze %v {axes = array<i64: 1, 2>} : (tensor<8xf32>) -> tensor<8x1x1xf32>
  // CHECK-NEXT: %[[S:.*]] = graph.sum %[[X]], %[[U]], %[[X]] : (tensor<1x8x4x4xf32>, tensor<8x1x1xf32>, tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  %s = graph.sum %x, %u, %x : (tensor<1x8x4x4xf32>, tensor<8x1x1xf32>, tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  // CHECK-NEXT: %[[D:.*]] = graph.dropout %[[S]] {ratio = 4.000000e-01 : f32} : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  %d = graph.dropout %s {ratio = 0.4 : f32} : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  // CHECK-NEXT: %[[D2:.*]] = graph.dropout %[[S]] : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  %d2 = graph.dropout %s : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  // CHECK-NEXT: func.return %[[D]], %[[D2]]
  func.return %d, %d2 : tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>
}

// Training-mode dropout and a random fill keep their seeds; defaults are not printed.
// CHECK-LABEL: func.func @random
func.func @random(%x: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>) {
  // CHECK-NEXT: %[[D:.*]] = graph.dropout %{{.*}} {ratio = 2.500000e-01 : f32, training = 1 : i64, seed = 7 : i64} : (tensor<4x8xf32>) -> tensor<4x8xf32>
  %d = graph.dropout %x {ratio = 0.25 : f32, training = 1 : i64, seed = 7 : i64} : (tensor<4x8xf32>) -> tensor<4x8xf32>
  // CHECK-NEXT: %[[R:.*]] = graph.random_uniform_like %[[D]] {high = 2.000000e+00 : f32, seed = 3 : i64} : (tensor<4x8xf32>) -> tensor<4x8xf32>
  %r = graph.random_uniform_like %d {low = 0.0 : f32, high = 2.0 : f32, seed = 3 : i64} : (tensor<4x8xf32>) -> tensor<4x8xf32>
  // CHECK-NEXT: %[[B:.*]] = graph.bernoulli %[[R]] {seed = 4 : i64} : (tensor<4x8xf32>) -> tensor<4x8xf32>
  %b = graph.bernoulli %r {seed = 4 : i64} : (tensor<4x8xf32>) -> tensor<4x8xf32>
  // CHECK-NEXT: func.return %[[D]], %[[B]]
  func.return %d, %b : tensor<4x8xf32>, tensor<4x8xf32>
}

// A loop names its body function; the compiler lays out its blocks (early exit).
// CHECK-LABEL: func.func @loop
func.func @loop(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // CHECK-NEXT: %[[R:.*]] = graph.loop %{{.*}} {body = @step, max_trips = 8 : i64, reduce = "max", input = "abs_a_minus_b", cmp = "gt", threshold = 1.000000e-03 : f32} : (tensor<4x8xf32>) -> tensor<4x8xf32>
  %r = graph.loop %x {body = @step, max_trips = 8 : i64, reduce = "max", input = "abs_a_minus_b", cmp = "gt", threshold = 1.0e-03 : f32} : (tensor<4x8xf32>) -> tensor<4x8xf32>
  // CHECK-NEXT: func.return %[[R]]
  func.return %r : tensor<4x8xf32>
}

// CHECK-LABEL: func.func @step
func.func @step(%v: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %h = graph.activation %v {func = "tanh"} : (tensor<4x8xf32>) -> tensor<4x8xf32>
  func.return %h : tensor<4x8xf32>
}

// CHECK-LABEL: func.func @piecewise_linear
func.func @piecewise_linear(%x: tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32> {
  // CHECK-NEXT: %[[C:.*]] = graph.piecewise_linear %{{.*}} {kind = "clip", alpha = 0.000000e+00 : f32, beta = 6.000000e+00 : f32} : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  %c = graph.piecewise_linear %x {kind = "clip", alpha = 0.0 : f32, beta = 6.0 : f32} : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  // CHECK-NEXT: %[[S:.*]] = graph.piecewise_linear %[[C]] {kind = "hard_swish", alpha = 0.166666672 : f32, beta = 5.000000e-01 : f32}
  %s = graph.piecewise_linear %c {kind = "hard_swish", alpha = 0.166666672 : f32, beta = 0.5 : f32} : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  // CHECK-NEXT: func.return %[[S]]
  func.return %s : tensor<1x8x4x4xf32>
}

// CHECK-LABEL: func.func @channel_affine
// CHECK-SAME: (%[[X:.*]]: tensor<1x8x4x4xf32>, %[[P:.*]]: tensor<8xf32>, %[[V:.*]]: tensor<2x8xf32>)
func.func @channel_affine(%x: tensor<1x8x4x4xf32>, %p: tensor<8xf32>, %v: tensor<2x8xf32>) -> (tensor<1x8x4x4xf32>, tensor<2x8xf32>) {
  // CHECK-NEXT: %[[R:.*]] = graph.channel_affine %[[X]], %[[P]], %[[P]] {activation = "relu"} : (tensor<1x8x4x4xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<1x8x4x4xf32>
  %r = graph.channel_affine %x, %p, %p {activation = "relu"} : (tensor<1x8x4x4xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<1x8x4x4xf32>
  // CHECK-NEXT: %[[N:.*]] = graph.channel_affine %[[V]], %[[P]], %[[P]] : (tensor<2x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  %n = graph.channel_affine %v, %p, %p : (tensor<2x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  // CHECK-NEXT: func.return %[[R]], %[[N]]
  func.return %r, %n : tensor<1x8x4x4xf32>, tensor<2x8xf32>
}

// CHECK-LABEL: func.func @constant_of_shape
func.func @constant_of_shape() -> (tensor<2x3xf32>, tensor<4xf32>) {
  // CHECK-NEXT: %[[C:.*]] = graph.constant_of_shape {value = 2.000000e-02 : f32} : tensor<2x3xf32>
  %c = graph.constant_of_shape {value = 0.02 : f32} : tensor<2x3xf32>
  // CHECK-NEXT: %[[Z:.*]] = graph.constant_of_shape : tensor<4xf32>
  %z = graph.constant_of_shape : tensor<4xf32>
  // CHECK-NEXT: func.return %[[C]], %[[Z]]
  func.return %c, %z : tensor<2x3xf32>, tensor<4xf32>
}

// The framework tier: ONNX nodes onnxruntime runs, on values of any element type
// and dynamic shapes (model: the node as a serialised ONNX model, base64).
// CHECK-LABEL: func.func @onnx_node
// CHECK-SAME: (%[[T:.*]]: tensor<10x4xf32>, %[[I:.*]]: tensor<3xi64>, %[[M:.*]]: tensor<2x3xf32>)
func.func @onnx_node(%t: tensor<10x4xf32>, %i: tensor<3xi64>, %m: tensor<2x3xf32>) -> (tensor<3x4xf32>, tensor<2x?xi64>) {
  // CHECK-NEXT: %[[G:.*]] = graph.onnx_node "Gather" %[[T]], %[[I]] {inputs = ["table", "ids"], outputs = ["rows"], model = "CAg6dQonCgV0YWJsZQoDaWRzEgRyb3dzIgZHYXRoZXIqCwoEYXhpcxgAoAECEgZHYXRoZXJaFwoFdGFibGUSDgoMCAESCAoCCAoKAggEWhEKA2lkcxIKCggIBxIECgIIA2IWCgRyb3dzEg4KDAgBEggKAggDCgIIBEIECgAQEQ=="} : (tensor<10x4xf32>, tensor<3xi64>) -> tensor<3x4xf32>
  %g = graph.onnx_node "Gather" %t, %i {inputs = ["table", "ids"], outputs = ["rows"], model = "CAg6dQonCgV0YWJsZQoDaWRzEgRyb3dzIgZHYXRoZXIqCwoEYXhpcxgAoAECEgZHYXRoZXJaFwoFdGFibGUSDgoMCAESCAoCCAoKAggEWhEKA2lkcxIKCggIBxIECgIIA2IWCgRyb3dzEg4KDAgBEggKAggDCgIIBEIECgAQEQ=="} : (tensor<10x4xf32>, tensor<3xi64>) -> tensor<3x4xf32>
  // CHECK-NEXT: %[[N:.*]] = graph.onnx_node "NonZero" %[[M]] {inputs = ["m"], outputs = ["nz"], model = "CAg6RAoQCgFtEgJueiIHTm9uWmVybxIHTm9uWmVyb1oTCgFtEg4KDAgBEggKAggCCgIIA2ISCgJuehIMCgoIBxIGCgIIAgoAQgQKABAR"} : (tensor<2x3xf32>) -> tensor<2x?xi64>
  %n = graph.onnx_node "NonZero" %m {inputs = ["m"], outputs = ["nz"], model = "CAg6RAoQCgFtEgJueiIHTm9uWmVybxIHTm9uWmVyb1oTCgFtEg4KDAgBEggKAggCCgIIA2ISCgJuehIMCgoIBxIGCgIIAgoAQgQKABAR"} : (tensor<2x3xf32>) -> tensor<2x?xi64>
  // CHECK-NEXT: func.return %[[G]], %[[N]]
  func.return %g, %n : tensor<3x4xf32>, tensor<2x?xi64>
}

// Values of ONNX types other than tensors (sequences, optionals, maps) pass between
// framework-tier ops as !graph.onnx_value, named by ONNX's type string.
// CHECK-LABEL: func.func @onnx_value
// CHECK-SAME: (%[[X:.*]]: tensor<4x2xf32>)
func.func @onnx_value(%x: tensor<4x2xf32>) -> tensor<4x2xf32> {
  // CHECK-NEXT: %[[S:.*]] = graph.onnx_node "SplitToSequence" %[[X]] {inputs = ["x"], outputs = ["s"], model = ""} : (tensor<4x2xf32>) -> !graph.onnx_value<"seq(tensor(float))">
  %s = graph.onnx_node "SplitToSequence" %x {inputs = ["x"], outputs = ["s"], model = ""} : (tensor<4x2xf32>) -> !graph.onnx_value<"seq(tensor(float))">
  // CHECK-NEXT: %[[O:.*]] = graph.onnx_node "Optional" %[[S]] {inputs = ["s"], outputs = ["o"], model = ""} : (!graph.onnx_value<"seq(tensor(float))">) -> !graph.onnx_value<"optional(seq(tensor(float)))">
  %o = graph.onnx_node "Optional" %s {inputs = ["s"], outputs = ["o"], model = ""} : (!graph.onnx_value<"seq(tensor(float))">) -> !graph.onnx_value<"optional(seq(tensor(float)))">
  // CHECK-NEXT: %[[M:.*]] = graph.onnx_node "Build" %[[X]] {inputs = ["x"], outputs = ["m"], model = ""} : (tensor<4x2xf32>) -> !graph.onnx_value<"map(int64,tensor(float))">
  %m = graph.onnx_node "Build" %x {inputs = ["x"], outputs = ["m"], model = ""} : (tensor<4x2xf32>) -> !graph.onnx_value<"map(int64,tensor(float))">
  // CHECK-NEXT: %[[Y:.*]] = graph.onnx_node "Join" %[[O]], %[[M]] {inputs = ["o", "m"], outputs = ["y"], model = ""} : (!graph.onnx_value<"optional(seq(tensor(float)))">, !graph.onnx_value<"map(int64,tensor(float))">) -> tensor<4x2xf32>
  %y = graph.onnx_node "Join" %o, %m {inputs = ["o", "m"], outputs = ["y"], model = ""} : (!graph.onnx_value<"optional(seq(tensor(float)))">, !graph.onnx_value<"map(int64,tensor(float))">) -> tensor<4x2xf32>
  // CHECK-NEXT: func.return %[[Y]]
  func.return %y : tensor<4x2xf32>
}

// A string tensor has no builtin element type: !graph.onnx_value<"tensor(string)">,
// a function argument and result too (only framework-tier ops read and make one).
// CHECK-LABEL: func.func @string_tensor
// CHECK-SAME: (%[[S:.*]]: !graph.onnx_value<"tensor(string)">) -> (tensor<3xi64>, !graph.onnx_value<"tensor(string)">)
func.func @string_tensor(%s: !graph.onnx_value<"tensor(string)">) -> (tensor<3xi64>, !graph.onnx_value<"tensor(string)">) {
  // CHECK-NEXT: %[[C:.*]] = graph.onnx_node "LabelEncoder" %[[S]] {inputs = ["s"], outputs = ["c"], model = ""} : (!graph.onnx_value<"tensor(string)">) -> tensor<3xi64>
  %c = graph.onnx_node "LabelEncoder" %s {inputs = ["s"], outputs = ["c"], model = ""} : (!graph.onnx_value<"tensor(string)">) -> tensor<3xi64>
  // CHECK-NEXT: %[[U:.*]] = graph.onnx_node "StringNormalizer" %[[S]] {inputs = ["s"], outputs = ["u"], model = ""} : (!graph.onnx_value<"tensor(string)">) -> !graph.onnx_value<"tensor(string)">
  %u = graph.onnx_node "StringNormalizer" %s {inputs = ["s"], outputs = ["u"], model = ""} : (!graph.onnx_value<"tensor(string)">) -> !graph.onnx_value<"tensor(string)">
  // CHECK-NEXT: func.return %[[C]], %[[U]]
  func.return %c, %u : tensor<3xi64>, !graph.onnx_value<"tensor(string)">
}

// CHECK-LABEL: func.func @binary
func.func @binary(%x: tensor<2x16xf32>, %m: tensor<2x1xf32>, %v: tensor<16xf32>) -> (tensor<2x16xf32>, tensor<2x16xf32>, tensor<2x16xf32>, tensor<2x16xf32>) {
  // CHECK-NEXT: %{{.*}} = graph.sub %{{.*}}, %{{.*}} : (tensor<2x16xf32>, tensor<2x1xf32>) -> tensor<2x16xf32>
  %s = graph.sub %x, %m : (tensor<2x16xf32>, tensor<2x1xf32>) -> tensor<2x16xf32>
  // CHECK-NEXT: %{{.*}} = graph.div %{{.*}}, %{{.*}} : (tensor<2x16xf32>, tensor<2x1xf32>) -> tensor<2x16xf32>
  %d = graph.div %x, %m : (tensor<2x16xf32>, tensor<2x1xf32>) -> tensor<2x16xf32>
  // CHECK-NEXT: %{{.*}} = graph.max %{{.*}}, %{{.*}} : (tensor<2x16xf32>, tensor<16xf32>) -> tensor<2x16xf32>
  %a = graph.max %x, %v : (tensor<2x16xf32>, tensor<16xf32>) -> tensor<2x16xf32>
  // CHECK-NEXT: %{{.*}} = graph.min %{{.*}}, %{{.*}} : (tensor<2x16xf32>, tensor<16xf32>) -> tensor<2x16xf32>
  %b = graph.min %x, %v : (tensor<2x16xf32>, tensor<16xf32>) -> tensor<2x16xf32>
  func.return %s, %d, %a, %b : tensor<2x16xf32>, tensor<2x16xf32>, tensor<2x16xf32>, tensor<2x16xf32>
}

// CHECK-LABEL: func.func @slice
func.func @slice(%x: tensor<4x8xf32>) -> tensor<4x3xf32> {
  // CHECK-NEXT: %{{.*}} = graph.slice %{{.*}} {starts = array<i64: 0, 2>, ends = array<i64: 4, 8>, steps = array<i64: 1, 2>} : (tensor<4x8xf32>) -> tensor<4x3xf32>
  %r = graph.slice %x {starts = array<i64: 0, 2>, ends = array<i64: 4, 8>, steps = array<i64: 1, 2>} : (tensor<4x8xf32>) -> tensor<4x3xf32>
  func.return %r : tensor<4x3xf32>
}

// CHECK-LABEL: func.func @affine
func.func @affine(%x: tensor<4xf32>) -> tensor<4xf32> {
  // CHECK-NEXT: %{{.*}} = graph.piecewise_linear %{{.*}} {kind = "affine", alpha = -1.000000e+00 : f32, beta = 5.000000e-01 : f32}
  %r = graph.piecewise_linear %x {kind = "affine", alpha = -1.0 : f32, beta = 0.5 : f32} : (tensor<4xf32>) -> tensor<4xf32>
  func.return %r : tensor<4xf32>
}

// CHECK-LABEL: func.func @log_softmax
func.func @log_softmax(%x: tensor<8x10xf32>) -> tensor<8x10xf32> {
  // CHECK-NEXT: %{{.*}} = graph.log_softmax %{{.*}} {axis = 1 : i64} : (tensor<8x10xf32>) -> tensor<8x10xf32>
  %r = graph.log_softmax %x {axis = 1 : i64} : (tensor<8x10xf32>) -> tensor<8x10xf32>
  func.return %r : tensor<8x10xf32>
}

// ONNX's narrow element types on the framework tier (onnxruntime takes and gives
// them cast to f32 or (u)i8 inside the extracted model): float8, float4, int4, int2.
// CHECK-LABEL: func.func @narrow_elements
// CHECK-SAME: (%[[X:.*]]: tensor<2x8xf8E4M3FN>, %[[Q:.*]]: tensor<4xi4>, %[[U:.*]]: tensor<4xui2>) -> (tensor<2x8xf4E2M1FN>, tensor<4xbf16>)
func.func @narrow_elements(%x: tensor<2x8xf8E4M3FN>, %q: tensor<4xi4>, %u: tensor<4xui2>) -> (tensor<2x8xf4E2M1FN>, tensor<4xbf16>) {
  // CHECK-NEXT: %[[F:.*]] = graph.onnx_node "Cast" %[[X]] {inputs = ["x"], outputs = ["f"], model = ""} : (tensor<2x8xf8E4M3FN>) -> tensor<2x8xf4E2M1FN>
  %f = graph.onnx_node "Cast" %x {inputs = ["x"], outputs = ["f"], model = ""} : (tensor<2x8xf8E4M3FN>) -> tensor<2x8xf4E2M1FN>
  // CHECK-NEXT: %[[B:.*]] = graph.onnx_node "Add" %[[Q]], %[[U]] {inputs = ["q", "u"], outputs = ["b"], model = ""} : (tensor<4xi4>, tensor<4xui2>) -> tensor<4xbf16>
  %b = graph.onnx_node "Add" %q, %u {inputs = ["q", "u"], outputs = ["b"], model = ""} : (tensor<4xi4>, tensor<4xui2>) -> tensor<4xbf16>
  // CHECK-NEXT: func.return %[[F]], %[[B]]
  func.return %f, %b : tensor<2x8xf4E2M1FN>, tensor<4xbf16>
}

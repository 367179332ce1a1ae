// RUN: tidal-opt %s -p 'graph-merge-siblings{chip=default}' --split-input-file | filecheck %s

// SqueezeNet's fire expand: a 1x1 and a 3x3 conv (pad 1) of one input, 64 outputs
// each at 55 rows (odd: no row-pack), side by side in a concatenation: one 3x3 conv
// of 128 outputs, the 1x1 weights at the centre tap, the biases concatenated, the
// concatenation gone.
// CHECK-LABEL: func.func @fire
// CHECK-NEXT:    %[[W:.*]] = graph.constant dense<{{.*}}> : tensor<128x16x3x3xf32>
// CHECK-NEXT:    %[[B:.*]] = graph.constant dense<{{.*}}> : tensor<128xf32>
// CHECK-NEXT:    %[[C:.*]] = graph.conv2d %x, %[[W]], %[[B]] {tidal.origin = "e1+e3", pads = array<i64: 1, 1, 1, 1>, activation = "relu"} : {{.*}} -> tensor<1x128x55x55xf32>
// CHECK-NEXT:    func.return %[[C]]
func.func @fire(%x: tensor<1x16x55x55xf32>) -> tensor<1x128x55x55xf32> {
  %w1 = graph.constant dense<0.5> : tensor<64x16x1x1xf32>
  %b1 = graph.constant dense<0.25> : tensor<64xf32>
  %w3 = graph.constant dense<0.125> : tensor<64x16x3x3xf32>
  %b3 = graph.constant dense<-0.25> : tensor<64xf32>
  %a = graph.conv2d %x, %w1, %b1 {activation = "relu", tidal.origin = "e1"} : (tensor<1x16x55x55xf32>, tensor<64x16x1x1xf32>, tensor<64xf32>) -> tensor<1x64x55x55xf32>
  %c = graph.conv2d %x, %w3, %b3 {pads = array<i64: 1, 1, 1, 1>, activation = "relu", tidal.origin = "e3"} : (tensor<1x16x55x55xf32>, tensor<64x16x3x3xf32>, tensor<64xf32>) -> tensor<1x64x55x55xf32>
  %y = graph.concat %a, %c {axis = 1 : i64} : (tensor<1x64x55x55xf32>, tensor<1x64x55x55xf32>) -> tensor<1x128x55x55xf32>
  func.return %y : tensor<1x128x55x55xf32>
}

// -----

// Among other operands, the merged conv takes the pair's place.
// CHECK-LABEL: func.func @among_others
// CHECK:         %[[C:.*]] = graph.conv2d %x, {{.*}} -> tensor<1x96x13x13xf32>
// CHECK-NEXT:    %y = graph.concat %x, %[[C]] {axis = 1 : i64} : (tensor<1x32x13x13xf32>, tensor<1x96x13x13xf32>) -> tensor<1x128x13x13xf32>
func.func @among_others(%x: tensor<1x32x13x13xf32>) -> tensor<1x128x13x13xf32> {
  %w1 = graph.constant dense<0.5> : tensor<48x32x1x1xf32>
  %w3 = graph.constant dense<0.125> : tensor<48x32x3x3xf32>
  %a = graph.conv2d %x, %w1 : (tensor<1x32x13x13xf32>, tensor<48x32x1x1xf32>) -> tensor<1x48x13x13xf32>
  %c = graph.conv2d %x, %w3 {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x32x13x13xf32>, tensor<48x32x3x3xf32>) -> tensor<1x48x13x13xf32>
  %y = graph.concat %x, %a, %c {axis = 1 : i64} : (tensor<1x32x13x13xf32>, tensor<1x48x13x13xf32>, tensor<1x48x13x13xf32>) -> tensor<1x128x13x13xf32>
  func.return %y : tensor<1x128x13x13xf32>
}

// -----

// Left apart: more outputs than the PE columns together (fire4's 128 + 128); a
// 3x3 conv that row-pack takes (56 rows: 2 rows of 64 channels per matmul); different
// activations; a result with a second reader; different inputs.
// CHECK-LABEL: func.func @left_apart
// CHECK-COUNT-10: graph.conv2d
// CHECK-NOT:     graph.conv2d
func.func @left_apart(%x: tensor<1x16x27x27xf32>, %x2: tensor<1x16x27x27xf32>, %z: tensor<1x16x56x56xf32>) -> (tensor<1x256x27x27xf32>, tensor<1x128x56x56xf32>, tensor<1x128x27x27xf32>, tensor<1x128x27x27xf32>, tensor<1x64x27x27xf32>, tensor<1x128x27x27xf32>) {
  %w1 = graph.constant dense<0.5> : tensor<128x16x1x1xf32>
  %w3 = graph.constant dense<0.125> : tensor<128x16x3x3xf32>
  %a = graph.conv2d %x, %w1 : (tensor<1x16x27x27xf32>, tensor<128x16x1x1xf32>) -> tensor<1x128x27x27xf32>
  %c = graph.conv2d %x, %w3 {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x16x27x27xf32>, tensor<128x16x3x3xf32>) -> tensor<1x128x27x27xf32>
  %wide = graph.concat %a, %c {axis = 1 : i64} : (tensor<1x128x27x27xf32>, tensor<1x128x27x27xf32>) -> tensor<1x256x27x27xf32>
  %v1 = graph.constant dense<0.5> : tensor<64x16x1x1xf32>
  %v3 = graph.constant dense<0.125> : tensor<64x16x3x3xf32>
  %p = graph.conv2d %z, %v1 : (tensor<1x16x56x56xf32>, tensor<64x16x1x1xf32>) -> tensor<1x64x56x56xf32>
  %q = graph.conv2d %z, %v3 {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x16x56x56xf32>, tensor<64x16x3x3xf32>) -> tensor<1x64x56x56xf32>
  %packed = graph.concat %p, %q {axis = 1 : i64} : (tensor<1x64x56x56xf32>, tensor<1x64x56x56xf32>) -> tensor<1x128x56x56xf32>
  %u1 = graph.constant dense<0.5> : tensor<64x16x1x1xf32>
  %u3 = graph.constant dense<0.125> : tensor<64x16x3x3xf32>
  %r = graph.conv2d %x, %u1 {activation = "relu"} : (tensor<1x16x27x27xf32>, tensor<64x16x1x1xf32>) -> tensor<1x64x27x27xf32>
  %s = graph.conv2d %x, %u3 {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x16x27x27xf32>, tensor<64x16x3x3xf32>) -> tensor<1x64x27x27xf32>
  %acts = graph.concat %r, %s {axis = 1 : i64} : (tensor<1x64x27x27xf32>, tensor<1x64x27x27xf32>) -> tensor<1x128x27x27xf32>
  %t1 = graph.constant dense<0.5> : tensor<64x16x1x1xf32>
  %t3 = graph.constant dense<0.125> : tensor<64x16x3x3xf32>
  %t = graph.conv2d %x, %t1 : (tensor<1x16x27x27xf32>, tensor<64x16x1x1xf32>) -> tensor<1x64x27x27xf32>
  %o = graph.conv2d %x, %t3 {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x16x27x27xf32>, tensor<64x16x3x3xf32>) -> tensor<1x64x27x27xf32>
  %twice = graph.concat %t, %o {axis = 1 : i64} : (tensor<1x64x27x27xf32>, tensor<1x64x27x27xf32>) -> tensor<1x128x27x27xf32>
  %d1 = graph.constant dense<0.5> : tensor<64x16x1x1xf32>
  %d3 = graph.constant dense<0.125> : tensor<64x16x3x3xf32>
  %d = graph.conv2d %x, %d1 : (tensor<1x16x27x27xf32>, tensor<64x16x1x1xf32>) -> tensor<1x64x27x27xf32>
  %e = graph.conv2d %x2, %d3 {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x16x27x27xf32>, tensor<64x16x3x3xf32>) -> tensor<1x64x27x27xf32>
  %inputs = graph.concat %d, %e {axis = 1 : i64} : (tensor<1x64x27x27xf32>, tensor<1x64x27x27xf32>) -> tensor<1x128x27x27xf32>
  func.return %wide, %packed, %acts, %twice, %t, %inputs : tensor<1x256x27x27xf32>, tensor<1x128x56x56xf32>, tensor<1x128x27x27xf32>, tensor<1x128x27x27xf32>, tensor<1x64x27x27xf32>, tensor<1x128x27x27xf32>
}

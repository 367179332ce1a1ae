// RUN: tidal-opt %s -p graph-pad-channels --split-input-file | filecheck %s
// RUN: tidal-opt %s -p graph-pad-channels --split-input-file --check-numerics -o /dev/null 2>&1 | filecheck %s --check-prefix=NUM

// A ShuffleNet 14x14 unit over 272 channels (4 tiles of 68): the depthwise conv's
// input and output become 384 channels (3 tiles of 128). The 1x1 conv writing them
// gets zero weight rows and bias for channels 272..383, the depthwise conv zero
// weights (384 groups), the 4-group conv reading them one dense conv of
// block-diagonal weight with zero columns there. The graph's second result reads a
// slice of the real channels. The residual add's tensors (a function argument)
// keep their 272 channels.

// CHECK-LABEL: func.func @unit(
// CHECK:         %[[A:.*]] = graph.conv2d %x, %{{.*}}, %{{.*}} {activation = "relu"} : (tensor<1x272x14x14xf32>, tensor<384x272x1x1xf32>, tensor<384xf32>) -> tensor<1x384x14x14xf32>
// CHECK:         %[[D:.*]] = graph.conv2d %[[A]], %{{.*}}, %{{.*}} {pads = array<i64: 1, 1, 1, 1>, group = 384 : i64} : (tensor<1x384x14x14xf32>, tensor<384x1x3x3xf32>, tensor<384xf32>) -> tensor<1x384x14x14xf32>
// CHECK-NEXT:    %[[S:.*]] = graph.slice %[[D]] {starts = array<i64: 0, 0, 0, 0>, ends = array<i64: 1, 272, 14, 14>, steps = array<i64: 1, 1, 1, 1>} : (tensor<1x384x14x14xf32>) -> tensor<1x272x14x14xf32>
// CHECK:         %[[Y:.*]] = graph.conv2d %[[D]], %{{.*}}, %b2 addend %x {activation = "relu"} : (tensor<1x384x14x14xf32>, tensor<272x384x1x1xf32>, tensor<272xf32>, tensor<1x272x14x14xf32>) -> tensor<1x272x14x14xf32>
// CHECK-NEXT:    func.return %[[Y]], %[[S]]

// NUM: numerics: after 'graph-pad-channels' (graph level): agrees
// NUM: numerics: after 'graph-pad-channels' (graph level): agrees
func.func @unit(%x: tensor<1x272x14x14xf32>) -> (tensor<1x272x14x14xf32>, tensor<1x272x14x14xf32>) {
  %w1 = graph.constant dense<0.01> : tensor<272x272x1x1xf32>
  %b1 = graph.constant dense<0.1> : tensor<272xf32>
  %a = graph.conv2d %x, %w1, %b1 {activation = "relu"} : (tensor<1x272x14x14xf32>, tensor<272x272x1x1xf32>, tensor<272xf32>) -> tensor<1x272x14x14xf32>
  %wd = graph.constant dense<0.125> : tensor<272x1x3x3xf32>
  %bd = graph.constant dense<-0.05> : tensor<272xf32>
  %d = graph.conv2d %a, %wd, %bd {pads = array<i64: 1, 1, 1, 1>, group = 272 : i64} : (tensor<1x272x14x14xf32>, tensor<272x1x3x3xf32>, tensor<272xf32>) -> tensor<1x272x14x14xf32>
  %w2 = graph.constant dense<0.02> : tensor<272x68x1x1xf32>
  %b2 = graph.constant dense<0.5> : tensor<272xf32>
  %y = graph.conv2d %d, %w2, %b2 addend %x {group = 4 : i64, activation = "relu"} : (tensor<1x272x14x14xf32>, tensor<272x68x1x1xf32>, tensor<272xf32>, tensor<1x272x14x14xf32>) -> tensor<1x272x14x14xf32>
  func.return %y, %d : tensor<1x272x14x14xf32>, tensor<1x272x14x14xf32>
}

// -----

// Left alone: 136 channels (2 tiles of 68 or of 128 and 8: no fewer); 544 channels
// at 7x7 whose 4-group conv would grow its weights 4.7 times (more DMA cycles than
// the depthwise conv's 3 fewer tiles save); a depthwise conv whose input is a
// function argument (its channels are the caller's).

// CHECK-LABEL: func.func @kept(
// CHECK:         graph.conv2d %x136, %{{.*}} : (tensor<1x136x14x14xf32>, tensor<136x136x1x1xf32>) -> tensor<1x136x14x14xf32>
// CHECK:         graph.conv2d %{{.*}}, %{{.*}} {pads = array<i64: 1, 1, 1, 1>, group = 136 : i64} : (tensor<1x136x14x14xf32>
// CHECK:         graph.conv2d %x544, %{{.*}} : (tensor<1x544x7x7xf32>, tensor<544x544x1x1xf32>) -> tensor<1x544x7x7xf32>
// CHECK:         graph.conv2d %{{.*}}, %{{.*}} {pads = array<i64: 1, 1, 1, 1>, group = 544 : i64} : (tensor<1x544x7x7xf32>
// CHECK:         graph.conv2d %{{.*}}, %{{.*}} {group = 4 : i64} : (tensor<1x544x7x7xf32>, tensor<544x136x1x1xf32>) -> tensor<1x544x7x7xf32>
// CHECK:         graph.conv2d %x272, %{{.*}} {pads = array<i64: 1, 1, 1, 1>, group = 272 : i64} : (tensor<1x272x14x14xf32>
// CHECK-NOT:     graph.slice
func.func @kept(%x136: tensor<1x136x14x14xf32>, %x544: tensor<1x544x7x7xf32>, %x272: tensor<1x272x14x14xf32>) -> (tensor<1x136x14x14xf32>, tensor<1x544x7x7xf32>, tensor<1x272x14x14xf32>) {
  %w136 = graph.constant dense<0.01> : tensor<136x136x1x1xf32>
  %a = graph.conv2d %x136, %w136 : (tensor<1x136x14x14xf32>, tensor<136x136x1x1xf32>) -> tensor<1x136x14x14xf32>
  %wd136 = graph.constant dense<0.1> : tensor<136x1x3x3xf32>
  %d136 = graph.conv2d %a, %wd136 {pads = array<i64: 1, 1, 1, 1>, group = 136 : i64} : (tensor<1x136x14x14xf32>, tensor<136x1x3x3xf32>) -> tensor<1x136x14x14xf32>
  %w544 = graph.constant dense<0.01> : tensor<544x544x1x1xf32>
  %b = graph.conv2d %x544, %w544 : (tensor<1x544x7x7xf32>, tensor<544x544x1x1xf32>) -> tensor<1x544x7x7xf32>
  %wd544 = graph.constant dense<0.1> : tensor<544x1x3x3xf32>
  %d544 = graph.conv2d %b, %wd544 {pads = array<i64: 1, 1, 1, 1>, group = 544 : i64} : (tensor<1x544x7x7xf32>, tensor<544x1x3x3xf32>) -> tensor<1x544x7x7xf32>
  %wg = graph.constant dense<0.02> : tensor<544x136x1x1xf32>
  %g = graph.conv2d %d544, %wg {group = 4 : i64} : (tensor<1x544x7x7xf32>, tensor<544x136x1x1xf32>) -> tensor<1x544x7x7xf32>
  %wd272 = graph.constant dense<0.1> : tensor<272x1x3x3xf32>
  %d272 = graph.conv2d %x272, %wd272 {pads = array<i64: 1, 1, 1, 1>, group = 272 : i64} : (tensor<1x272x14x14xf32>, tensor<272x1x3x3xf32>) -> tensor<1x272x14x14xf32>
  func.return %d136, %g, %d272 : tensor<1x136x14x14xf32>, tensor<1x544x7x7xf32>, tensor<1x272x14x14xf32>
}

// -----

// An LRN over 163 channels (a prime: the uniform tiling takes 163 tiles of one
// channel, 163 x 163 banded matmuls per pixel block) reads its input widened to
// 164 channels (2 tiles of 82) by a zero constant, and the model's channels come
// back through a slice. An LRN over 192 channels (2 tiles of 96) stays as it is.

// CHECK-LABEL: func.func @lrn(
// CHECK:         %[[Z:.*]] = graph.constant dense<0.000000e+00> : tensor<1x1x9x9xf32>
// CHECK-NEXT:    %[[W:.*]] = graph.concat %x, %[[Z]] {axis = 1 : i64} : (tensor<1x163x9x9xf32>, tensor<1x1x9x9xf32>) -> tensor<1x164x9x9xf32>
// CHECK-NEXT:    %[[L:.*]] = graph.lrn %[[W]] {size = 5 : i64, alpha = 1.000000e-03 : f32} : (tensor<1x164x9x9xf32>) -> tensor<1x164x9x9xf32>
// CHECK-NEXT:    %[[S:.*]] = graph.slice %[[L]] {starts = array<i64: 0, 0, 0, 0>, ends = array<i64: 1, 163, 9, 9>, steps = array<i64: 1, 1, 1, 1>} : (tensor<1x164x9x9xf32>) -> tensor<1x163x9x9xf32>
// CHECK-NEXT:    %[[K:.*]] = graph.lrn %k {size = 3 : i64} : (tensor<1x192x9x9xf32>) -> tensor<1x192x9x9xf32>
// CHECK-NEXT:    func.return %[[S]], %[[K]]

// NUM: numerics: after 'graph-pad-channels' (graph level): agrees
func.func @lrn(%x: tensor<1x163x9x9xf32>, %k: tensor<1x192x9x9xf32>) -> (tensor<1x163x9x9xf32>, tensor<1x192x9x9xf32>) {
  %y = graph.lrn %x {size = 5 : i64, alpha = 1.000000e-03 : f32} : (tensor<1x163x9x9xf32>) -> tensor<1x163x9x9xf32>
  %z = graph.lrn %k {size = 3 : i64} : (tensor<1x192x9x9xf32>) -> tensor<1x192x9x9xf32>
  func.return %y, %z : tensor<1x163x9x9xf32>, tensor<1x192x9x9xf32>
}

// -----

// A dense conv of 131 channels to 137 (both thin: 131 tiles of one channel and 137
// of one) reads its input widened to 132 by a zero constant (2 tiles of 66), with
// zero weight columns there, and writes 138 channels (2 of 69), zero weight rows
// and bias, read back through a slice. A conv of 192 channels stays.

// CHECK-LABEL: func.func @thin(
// CHECK:         %[[Z:.*]] = graph.constant dense<0.000000e+00> : tensor<1x1x6x6xf32>
// CHECK-NEXT:    %[[W:.*]] = graph.concat %x, %[[Z]] {axis = 1 : i64} : (tensor<1x131x6x6xf32>, tensor<1x1x6x6xf32>) -> tensor<1x132x6x6xf32>
// CHECK-NEXT:    %[[B:.*]] = graph.constant {{.*}} : tensor<138xf32>
// CHECK-NEXT:    %[[K:.*]] = graph.constant {{.*}} : tensor<138x132x3x3xf32>
// CHECK-NEXT:    %[[C:.*]] = graph.conv2d %[[W]], %[[K]], %[[B]] {pads = array<i64: 1, 1, 1, 1>, activation = "relu"} : (tensor<1x132x6x6xf32>, tensor<138x132x3x3xf32>, tensor<138xf32>) -> tensor<1x138x6x6xf32>
// CHECK-NEXT:    %[[S:.*]] = graph.slice %[[C]] {starts = array<i64: 0, 0, 0, 0>, ends = array<i64: 1, 137, 6, 6>, steps = array<i64: 1, 1, 1, 1>} : (tensor<1x138x6x6xf32>) -> tensor<1x137x6x6xf32>
// CHECK:         graph.conv2d %k, %{{.*}} : (tensor<1x192x6x6xf32>, tensor<192x192x1x1xf32>) -> tensor<1x192x6x6xf32>

// NUM: numerics: after 'graph-pad-channels' (graph level): agrees
func.func @thin(%x: tensor<1x131x6x6xf32>, %k: tensor<1x192x6x6xf32>) -> (tensor<1x137x6x6xf32>, tensor<1x192x6x6xf32>) {
  %w = graph.constant dense<0.01> : tensor<137x131x3x3xf32>
  %b = graph.constant dense<-0.2> : tensor<137xf32>
  %y = graph.conv2d %x, %w, %b {pads = array<i64: 1, 1, 1, 1>, activation = "relu"} : (tensor<1x131x6x6xf32>, tensor<137x131x3x3xf32>, tensor<137xf32>) -> tensor<1x137x6x6xf32>
  %v = graph.constant dense<0.02> : tensor<192x192x1x1xf32>
  %z = graph.conv2d %k, %v : (tensor<1x192x6x6xf32>, tensor<192x192x1x1xf32>) -> tensor<1x192x6x6xf32>
  func.return %y, %z : tensor<1x137x6x6xf32>, tensor<1x192x6x6xf32>
}

// -----

// A gemm of thin K (131, a prime: 131 rows of one) and N (137): A's columns and
// B's rows widened to 132 (a concatenation with zeros for A, a zero-padded
// constant for B), B's columns and C to 138, the result read back by a slice. A
// matmul over K = 139 widens its lhs the same way; its N = 16 stays.

// CHECK-LABEL: func.func @gemm(
// CHECK:         %[[Z:.*]] = graph.constant dense<0.000000e+00> : tensor<4x1xf32>
// CHECK-NEXT:    %[[A:.*]] = graph.concat %x, %[[Z]] {axis = 1 : i64} : (tensor<4x131xf32>, tensor<4x1xf32>) -> tensor<4x132xf32>
// CHECK-NEXT:    %[[B2:.*]] = graph.constant {{.*}} : tensor<132x138xf32>
// CHECK-NEXT:    %[[C:.*]] = graph.constant {{.*}} : tensor<138xf32>
// CHECK-NEXT:    %[[G:.*]] = graph.gemm %[[A]], %[[B2]], %[[C]] : (tensor<4x132xf32>, tensor<132x138xf32>, tensor<138xf32>) -> tensor<4x138xf32>
// CHECK-NEXT:    %[[S:.*]] = graph.slice %[[G]] {starts = array<i64: 0, 0>, ends = array<i64: 4, 137>, steps = array<i64: 1, 1>} : (tensor<4x138xf32>) -> tensor<4x137xf32>
// CHECK:         graph.concat %q, %{{.*}} {axis = 1 : i64} : (tensor<3x139xf32>, tensor<3x1xf32>) -> tensor<3x140xf32>
// CHECK:         %[[M:.*]] = graph.matmul %{{.*}}, %{{.*}} : (tensor<3x140xf32>, tensor<140x16xf32>) -> tensor<3x16xf32>
// CHECK-NEXT:    func.return %[[S]], %[[M]]

// NUM: numerics: after 'graph-pad-channels' (graph level): agrees
func.func @gemm(%x: tensor<4x131xf32>, %q: tensor<3x139xf32>) -> (tensor<4x137xf32>, tensor<3x16xf32>) {
  %w = graph.constant dense<0.03> : tensor<131x137xf32>
  %c = graph.constant dense<0.5> : tensor<137xf32>
  %y = graph.gemm %x, %w, %c : (tensor<4x131xf32>, tensor<131x137xf32>, tensor<137xf32>) -> tensor<4x137xf32>
  %v = graph.constant dense<0.02> : tensor<139x16xf32>
  %z = graph.matmul %q, %v : (tensor<3x139xf32>, tensor<139x16xf32>) -> tensor<3x16xf32>
  func.return %y, %z : tensor<4x137xf32>, tensor<3x16xf32>
}

// -----

// Ops that keep each channel to itself over a thin count: a batch norm (with its
// relu), a max pooling and a global average pooling of 163 channels (163 tiles of
// one channel) share one widening to 164 (2 tiles of 82): the affine's scale and
// shift take zeros there, so its added channels stay zero and each pooling reads
// the widened tensor before it, not a slice of it; one slice at the end. A
// depthwise conv of 131 takes zero weights for its added channel (2 tiles of 66).

// CHECK-LABEL: func.func @thin_channelwise(
// CHECK:         %[[Z:.*]] = graph.constant dense<0.000000e+00> : tensor<1x1x9x9xf32>
// CHECK-NEXT:    %[[W:.*]] = graph.concat %x, %[[Z]] {axis = 1 : i64} : (tensor<1x163x9x9xf32>, tensor<1x1x9x9xf32>) -> tensor<1x164x9x9xf32>
// CHECK:         %[[A:.*]] = graph.channel_affine %[[W]], %{{.*}}, %{{.*}} {activation = "relu"} : (tensor<1x164x9x9xf32>, tensor<164xf32>, tensor<164xf32>) -> tensor<1x164x9x9xf32>
// CHECK-NEXT:    %[[P:.*]] = graph.maxpool %[[A]] {{.*}} : (tensor<1x164x9x9xf32>) -> tensor<1x164x5x5xf32>
// CHECK-NEXT:    %[[G:.*]] = graph.global_avgpool %[[P]] : (tensor<1x164x5x5xf32>) -> tensor<1x164x1x1xf32>
// CHECK-NEXT:    %[[S:.*]] = graph.slice %[[G]] {starts = array<i64: 0, 0, 0, 0>, ends = array<i64: 1, 163, 1, 1>, steps = array<i64: 1, 1, 1, 1>} : (tensor<1x164x1x1xf32>) -> tensor<1x163x1x1xf32>
// CHECK:         %[[D:.*]] = graph.concat %d, %{{.*}} {axis = 1 : i64} : (tensor<1x131x8x8xf32>, tensor<1x1x8x8xf32>) -> tensor<1x132x8x8xf32>
// CHECK:         %[[C:.*]] = graph.conv2d %[[D]], %{{.*}} {pads = array<i64: 1, 1, 1, 1>, group = 132 : i64} : (tensor<1x132x8x8xf32>, tensor<132x1x3x3xf32>) -> tensor<1x132x8x8xf32>
// CHECK-NEXT:    %[[E:.*]] = graph.slice %[[C]] {{.*}} -> tensor<1x131x8x8xf32>
// CHECK-NEXT:    func.return %[[S]], %[[E]]

// NUM: numerics: after 'graph-pad-channels' (graph level): agrees
func.func @thin_channelwise(%x: tensor<1x163x9x9xf32>, %d: tensor<1x131x8x8xf32>) -> (tensor<1x163x1x1xf32>, tensor<1x131x8x8xf32>) {
  %s = graph.constant dense<0.5> : tensor<163xf32>
  %t = graph.constant dense<-0.1> : tensor<163xf32>
  %a = graph.channel_affine %x, %s, %t {activation = "relu"} : (tensor<1x163x9x9xf32>, tensor<163xf32>, tensor<163xf32>) -> tensor<1x163x9x9xf32>
  %p = graph.maxpool %a {kernel_shape = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>} : (tensor<1x163x9x9xf32>) -> tensor<1x163x5x5xf32>
  %g = graph.global_avgpool %p : (tensor<1x163x5x5xf32>) -> tensor<1x163x1x1xf32>
  %w = graph.constant dense<0.1> : tensor<131x1x3x3xf32>
  %e = graph.conv2d %d, %w {pads = array<i64: 1, 1, 1, 1>, group = 131 : i64} : (tensor<1x131x8x8xf32>, tensor<131x1x3x3xf32>) -> tensor<1x131x8x8xf32>
  func.return %g, %e : tensor<1x163x1x1xf32>, tensor<1x131x8x8xf32>
}

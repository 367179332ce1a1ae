// RUN: tidal-opt %s -p 'graph-to-loop{chip=default},loop-keep-on-chip{chip=default}' | filecheck %s
// RUN: tidal-opt %s -p 'graph-to-loop{chip=default},loop-keep-on-chip{chip=default}' --check-numerics -o /dev/null 2>&1 | filecheck %s --check-prefix=NUM

// A per-channel scale (a squeeze-excitation's, [1, 64, 1, 1]) of a conv's output:
// a column broadcast along the free dim. A tanh of a conv's output that nothing but
// the function's return reads lays out by channels too (graph-to-loop finds the
// element-wise ops beside convs before it lowers any, so the conv already lowered
// still counts). Element-wise ops with no conv, pooling
// or per-channel affine beside them (a channels-last transformer block's) keep
// the flat layout, as do channel tiles of fewer than 32 partitions.
// NUM-COUNT-2: agrees
// CHECK-LABEL: func.func @scale_and_flat
// CHECK:         loop.nest "se"
// CHECK:           loop.copy %g <dram 0, {{\[\[}}1, 64], [0, 1024]]>
// CHECK:         loop.nest "after"
// CHECK:           loop.act "tanh" %{{.*}} <sbuf 0, 0, {{\[\[}}1, 64], [1, 1024]]>
// CHECK:         loop.nest "alone"
// CHECK:           loop.act "tanh" %{{.*}} <sbuf 0, 0, {{\[\[}}1, 128], [1, 512]]>
// CHECK:         loop.nest "narrow"
// CHECK:           loop.act "tanh" %{{.*}} <sbuf 0, 0, {{\[\[}}1, 128], [1, 128]]>
func.func @scale_and_flat(%x: tensor<1x64x32x32xf32>, %g: tensor<1x64x1x1xf32>, %t: tensor<1x64x32x32xf32>, %n: tensor<1x16x32x32xf32>) -> (tensor<1x64x32x32xf32>, tensor<1x64x32x32xf32>, tensor<1x16x32x32xf32>, tensor<1x64x32x32xf32>) {
  %w = graph.constant dense<0.25> : tensor<64x64x1x1xf32>
  %c = graph.conv2d %x, %w {tidal.origin = "c"} : (tensor<1x64x32x32xf32>, tensor<64x64x1x1xf32>) -> tensor<1x64x32x32xf32>
  %se = graph.mul %c, %g {tidal.origin = "se"} : (tensor<1x64x32x32xf32>, tensor<1x64x1x1xf32>) -> tensor<1x64x32x32xf32>
  %at = graph.activation %c {func = "tanh", tidal.origin = "after"} : (tensor<1x64x32x32xf32>) -> tensor<1x64x32x32xf32>
  %a = graph.activation %t {func = "tanh", tidal.origin = "alone"} : (tensor<1x64x32x32xf32>) -> tensor<1x64x32x32xf32>
  %w16 = graph.constant dense<0.25> : tensor<16x16x1x1xf32>
  %nc = graph.conv2d %n, %w16 {tidal.origin = "nc"} : (tensor<1x16x32x32xf32>, tensor<16x16x1x1xf32>) -> tensor<1x16x32x32xf32>
  %na = graph.activation %nc {func = "tanh", tidal.origin = "narrow"} : (tensor<1x16x32x32xf32>) -> tensor<1x16x32x32xf32>
  func.return %se, %a, %na, %at : tensor<1x64x32x32xf32>, tensor<1x64x32x32xf32>, tensor<1x16x32x32xf32>, tensor<1x64x32x32xf32>
}

// RUN: tidal-opt %s -p 'graph-to-loop{chip=default}' | filecheck %s
// RUN: tidal-opt %s -p 'graph-to-loop{chip=default pool_ragged=false}' | filecheck %s --check-prefix=UNIFORM

// pool_ragged: a pooling of a concatenation whose second piece starts inside a
// uniform tile (112 + 24 = 136 channels, uniform tiles of 68) pools the full
// 128-channel tile and the partial one of 8 in a nest each, where the concatenation
// lies (channel c on partition c % 128: a conv of it reads it that way too), and
// the conv that reads the pooling reads it ragged as well. UNIFORM
// (pool_ragged=false): two tiles of 68 in one nest, and the conv reads those.
// CHECK-LABEL: func.func @pool_of_unaligned
// CHECK:         loop.nest "mp" domain [] order [] {
// CHECK:           loop.copy %x <dram 0, {{\[\[}}16, 128], [1, 16]]> -> %[[IN:.*]] <sbuf 0, 0, {{\[\[}}1, 128], [1, 16]]>
// CHECK:           loop.tensor_tensor "max" {{.*}}, %[[IN]] <sbuf 0, 0, {{\[\[}}1, 128], [4, 4], [1, 4]]>
// CHECK:           loop.copy %{{.*}} <sbuf 0, 0, {{\[\[}}1, 128], [1, 16]]> -> %p <dram 0, {{\[\[}}16, 128], [1, 16]]>
// CHECK-NEXT:    }
// CHECK-NEXT:    loop.nest "mp" domain [] order [] {
// CHECK:           loop.copy %x <dram 8192, {{\[\[}}16, 8], [1, 16]]> -> %[[TAIL:.*]] <sbuf 0, 0, {{\[\[}}1, 8], [1, 16]]>
// CHECK:           loop.tensor_tensor "max" {{.*}}, %[[TAIL]] <sbuf 0, 0, {{\[\[}}1, 8], [4, 4], [1, 4]]>
// CHECK:           loop.copy %{{.*}} <sbuf 0, 0, {{\[\[}}1, 8], [1, 16]]> -> %p <dram 8192, {{\[\[}}16, 8], [1, 16]]>
// CHECK:         loop.nest "proj"
// CHECK:           loop.copy %p <dram 0, {{\[\[}}16, 128], [1, 16]]>
// CHECK-NEXT:      loop.copy %p <dram 8192, {{\[\[}}16, 8], [1, 16]]>
// UNIFORM-LABEL: func.func @pool_of_unaligned
// UNIFORM:         loop.nest "mp" domain [2] order [0] {
// UNIFORM:           loop.copy %x <dram 0, {{\[\[}}16, 68], [1088, 2], [1, 16]]>
// UNIFORM-NOT:     loop.nest "mp"
// UNIFORM:         loop.nest "proj" domain [2] order [0] {
// UNIFORM:           loop.copy %p <dram 0, {{\[\[}}16, 68], [1, 16]]>
func.func @pool_of_unaligned(%a: tensor<1x112x4x4xf32>, %b: tensor<1x24x4x4xf32>) -> tensor<1x8x4x4xf32> {
  %x = graph.concat %a, %b {axis = 1 : i64, tidal.origin = "cat"} : (tensor<1x112x4x4xf32>, tensor<1x24x4x4xf32>) -> tensor<1x136x4x4xf32>
  %p = graph.maxpool %x {kernel_shape = array<i64: 3, 3>, strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, tidal.origin = "mp"} : (tensor<1x136x4x4xf32>) -> tensor<1x136x4x4xf32>
  %w = graph.constant dense<0.25> : tensor<8x136x1x1xf32>
  %r = graph.conv2d %p, %w {tidal.origin = "proj"} : (tensor<1x136x4x4xf32>, tensor<8x136x1x1xf32>) -> tensor<1x8x4x4xf32>
  func.return %r : tensor<1x8x4x4xf32>
}

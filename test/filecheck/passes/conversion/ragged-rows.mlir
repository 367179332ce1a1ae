// RUN: tidal-opt %s -p 'graph-to-loop{chip=default}' --split-input-file | filecheck %s
// RUN: tidal-opt %s -p 'graph-to-loop{chip=default ragged_rows=false}' --split-input-file | filecheck %s --check-prefix=OFF
// RUN: tidal-opt %s -p 'graph-to-loop{chip=default}' --split-input-file --check-numerics -o /dev/null 2>&1 | filecheck %s --check-prefix=NUM

// ragged_rows: 197 rows (a ViT's tokens, a prime) on partitions take tiles of
// their largest divisor up to 128, one row each. An element-wise op (a layer
// norm's centring, a row-broadcast operand) and a softmax over them run as two
// nests instead: one tile of 128 rows, then one of the other 69 (byte 32,768 of
// the 64-column operands on, 512 of the broadcast column). Off, one nest of 197
// one-row tiles.

// CHECK-LABEL: func.func @rows
// CHECK:         loop.nest "sub" domain [] order [] {
// CHECK:           loop.copy %a <dram 0, {{\[\[}}64, 128], [1, 64]]> -> %{{.*}} <sbuf 0, 0, {{\[\[}}1, 128], [1, 64]]>
// CHECK:           loop.copy %b <dram 0, {{\[\[}}1, 128], [0, 64]]>
// CHECK:           loop.tensor_tensor "sub"
// CHECK:         loop.nest "sub" domain [] order [] {
// CHECK:           loop.copy %a <dram 32768, {{\[\[}}64, 69], [1, 64]]> -> %{{.*}} <sbuf 0, 0, {{\[\[}}1, 69], [1, 64]]>
// CHECK:           loop.copy %b <dram 512, {{\[\[}}1, 69], [0, 64]]>
// CHECK:           loop.copy %{{.*}} -> %y <dram 32768, {{\[\[}}64, 69], [1, 64]]>
// CHECK:         loop.nest "softmax" domain [] order [] {
// CHECK:           loop.copy %s <dram 0, {{\[\[}}40, 128], [1, 40]]>
// CHECK:         loop.nest "softmax" domain [] order [] {
// CHECK:           loop.copy %s <dram 20480, {{\[\[}}40, 69], [1, 40]]>
// CHECK:           loop.copy %{{.*}} -> %z <dram 20480, {{\[\[}}40, 69], [1, 40]]>

// OFF-LABEL: func.func @rows
// OFF:         loop.nest "sub" domain [197] order [0] {
// OFF-NOT:     loop.nest "sub"
// OFF:         loop.nest "softmax" domain [197] order [0] {
// OFF-NOT:     loop.nest "softmax"

// NUM: numerics: after 'graph-to-loop' (loop level): agrees
func.func @rows(%a: tensor<197x64xf32>, %b: tensor<197x1xf32>, %s: tensor<197x40xf32>) -> (tensor<197x64xf32>, tensor<197x40xf32>) {
  %y = graph.sub %a, %b {tidal.origin = "sub"} : (tensor<197x64xf32>, tensor<197x1xf32>) -> tensor<197x64xf32>
  %z = graph.softmax %s {axis = 1 : i64, tidal.origin = "softmax"} : (tensor<197x40xf32>) -> tensor<197x40xf32>
  func.return %y, %z : tensor<197x64xf32>, tensor<197x40xf32>
}

// -----

// A bias over [1, 197, 3072] (3,072 split by FREE_MAX into 2 x 1,536): the rows
// are the dim that fills the partitions (128 with ragged_rows, against 2 for the
// split of the columns by their largest divisor), 2 x (128 + 69) tiles. A
// channel_affine whose "channels" are 197 tokens (fuse-affine's form of a scalar
// scale: GELU's 0.5) takes a tile of 128 and one of 69 too. Off, 197 of each.

// CHECK-LABEL: func.func @bias
// CHECK:         loop.nest "bias" domain [2] order [0] {
// CHECK:           loop.copy %m <dram 0 + 6144 * i0, {{\[\[}}3072, 128], [1, 1536]]>
// CHECK:         loop.nest "bias" domain [2] order [0] {
// CHECK:           loop.copy %m <dram 1572864 + 6144 * i0, {{\[\[}}3072, 69], [1, 1536]]>
// CHECK:         loop.nest "half" domain [] order [] {
// CHECK:           loop.copy %h <dram 0, {{\[\[}}64, 128], [8192, 1], [1, 64]]>
// CHECK:           loop.copy %h <dram 32768, {{\[\[}}64, 69], [1, 64]]>

// OFF-LABEL: func.func @bias
// OFF:         loop.nest "bias" domain [197] order [0] {
// OFF:         loop.nest "half" domain [197] order [0] {

// NUM: numerics: after 'graph-to-loop' (loop level): agrees
func.func @bias(%m: tensor<1x197x3072xf32>, %b: tensor<3072xf32>, %h: tensor<1x197x64xf32>) -> (tensor<1x197x3072xf32>, tensor<1x197x64xf32>) {
  %y = graph.add %m, %b {tidal.origin = "bias"} : (tensor<1x197x3072xf32>, tensor<3072xf32>) -> tensor<1x197x3072xf32>
  %s = graph.constant dense<0.5> : tensor<197xf32>
  %t = graph.constant dense<0.0> : tensor<197xf32>
  %z = graph.channel_affine %h, %s, %t {tidal.origin = "half"} : (tensor<1x197x64xf32>, tensor<197xf32>, tensor<197xf32>) -> tensor<1x197x64xf32>
  func.return %y, %z : tensor<1x197x3072xf32>, tensor<1x197x64xf32>
}

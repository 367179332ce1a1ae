// RUN: tidal-opt %s -p 'graph-to-loop{chip=default affine_split=false}' --split-input-file | filecheck %s
// RUN: tidal-opt %s -p 'graph-to-loop{chip=default ragged_tiles=false affine_split=false}' --split-input-file | filecheck %s --check-prefix=UNIFORM
// RUN: tidal-opt %s -p 'graph-to-loop{chip=default addend_tiles=false}' --split-input-file | filecheck %s --check-prefix=ADDEND

// ragged_tiles: 160 channels run as a full tile of 128 and one of 32, channel c on
// partition c % 128, where the input was written in 128-channel-aligned tiles (a
// concatenation read by a channel_affine, a channel_affine read by a conv: DenseNet),
// so that the tensor keeps one on-chip layout; without it (and for a conv reading
// another conv's output, whose tiles are its largest divisor), two uniform tiles of 80.

// channel_affine of a concatenation: the last tile has a tile, a load, an ACT and a
// store of its own, and its scale and shift are column 1 of the [128, 2] column tiles
// (one nest: affine_split off, which would make the last tile a nest of its own,
// channel-affine.mlir's @split).
// CHECK-LABEL: func.func @affine
// CHECK:         loop.nest "bn" domain [] order [] {
// CHECK:           loop.copy %s <dram 0, [[1, 128], [128, 1]]> -> %0 <sbuf 0, 0, [[1, 128], [1, 1]]>
// CHECK-NEXT:      loop.copy %s <dram 512, [[1, 32], [1, 1]]> -> %0 <sbuf 0, 4, [[1, 32], [1, 1]]>
// CHECK:           loop.copy %x <dram 0, [[4, 128], [512, 1], [1, 4]]> -> %2 <sbuf 0, 0, [[1, 128], [1, 4]]>
// CHECK-NEXT:      loop.copy %x <dram 2048, [[4, 32], [1, 4]]> -> %3 <sbuf 0, 0, [[1, 32], [1, 4]]>
// CHECK-NEXT:      loop.act "relu" %2 <sbuf 0, 0, [[1, 128], [1, 4]]>, %2 <sbuf 0, 0, [[1, 128], [1, 4]]> scale(%0 : !loop.tile<sbuf, 128, 2>) <sbuf 0, 0, [[1, 128], [1, 1]]>
// CHECK-NEXT:      loop.act "relu" %3 <sbuf 0, 0, [[1, 32], [1, 4]]>, %3 <sbuf 0, 0, [[1, 32], [1, 4]]> scale(%0 : !loop.tile<sbuf, 128, 2>) <sbuf 0, 4, [[1, 32], [1, 1]]>
// CHECK-NEXT:      loop.copy %2 <sbuf 0, 0, [[1, 128], [1, 4]]> -> %r <dram 0, [[4, 128], [512, 1], [1, 4]]>
// CHECK-NEXT:      loop.copy %3 <sbuf 0, 0, [[1, 32], [1, 4]]> -> %r <dram 2048, [[4, 32], [1, 4]]>
// UNIFORM-LABEL: func.func @affine
// UNIFORM:         loop.copy %x <dram 0, [[4, 80], [320, 2], [1, 4]]>
func.func @affine(%a: tensor<1x128x2x2xf32>, %b: tensor<1x32x2x2xf32>) -> tensor<1x160x2x2xf32> {
  %x = graph.concat %a, %b {axis = 1 : i64, tidal.origin = "cat"} : (tensor<1x128x2x2xf32>, tensor<1x32x2x2xf32>) -> tensor<1x160x2x2xf32>
  %s = graph.constant dense<2.0> : tensor<160xf32>
  %t = graph.constant dense<0.5> : tensor<160xf32>
  %r = graph.channel_affine %x, %s, %t {activation = "relu", tidal.origin = "bn"} : (tensor<1x160x2x2xf32>, tensor<160xf32>, tensor<160xf32>) -> tensor<1x160x2x2xf32>
  func.return %r : tensor<1x160x2x2xf32>
}

// -----

// The stationary conv of a channel_affine's result: the partial input-channel
// tile's load, weights and matmul come after the full tile's, accumulating onto it
// (no zero_at).
// CHECK-LABEL: func.func @conv
// CHECK:         loop.nest "c"
// CHECK:         loop.copy %a <dram 0, [[4, 128], [1, 4]]> -> %4 <sbuf 0, 0, [[1, 128], [1, 4]]>
// CHECK-NEXT:    loop.copy %a <dram 2048, [[4, 32], [1, 4]]> -> %4 <sbuf 0, 16, [[1, 32], [1, 4]]>
// CHECK-NEXT:    loop.copy %w <dram 0, [[1, 128], [160, 8]]> -> %5 <sbuf 0, 0, [[1, 128], [1, 8]]>
// CHECK-NEXT:    loop.copy %w <dram 512, [[1, 32], [1, 1], [160, 8]]> -> %5 <sbuf 0, 32, [[1, 32], [1, 8]]>
// CHECK-NEXT:    loop.matmul %3 <psum 0, 0, [[1, 8], [1, 4]]>, %5 <sbuf 0, 0, [[1, 128], [1, 8]]>, %4 <sbuf 0, 0, [[1, 128], [2, 2], [1, 2]]> {zero_at = -1 : i64}
// CHECK-NEXT:    loop.matmul %3 <psum 0, 0, [[1, 8], [1, 4]]>, %5 <sbuf 0, 32, [[1, 32], [1, 8]]>, %4 <sbuf 0, 16, [[1, 32], [2, 2], [1, 2]]> :
// UNIFORM-LABEL: func.func @conv
// UNIFORM:         loop.nest "c"
// UNIFORM:         loop.for d0 {
// UNIFORM-NEXT:      loop.matmul {{.*}} <sbuf 0, 0 + 32 * i0, [[1, 80], [1, 8]]>
func.func @conv(%x: tensor<1x160x2x2xf32>) -> tensor<1x8x2x2xf32> {
  %s = graph.constant dense<2.0> : tensor<160xf32>
  %t = graph.constant dense<0.5> : tensor<160xf32>
  %a = graph.channel_affine %x, %s, %t {activation = "relu", tidal.origin = "bn"} : (tensor<1x160x2x2xf32>, tensor<160xf32>, tensor<160xf32>) -> tensor<1x160x2x2xf32>
  %w = graph.constant dense<0.25> : tensor<8x160x1x1xf32>
  %r = graph.conv2d %a, %w {tidal.origin = "c"} : (tensor<1x160x2x2xf32>, tensor<8x160x1x1xf32>) -> tensor<1x8x2x2xf32>
  func.return %r : tensor<1x8x2x2xf32>
}

// -----

// A conv reading another conv's output (tiles of its largest divisor) keeps
// uniform tiles of 80.
// CHECK-LABEL: func.func @conv_of_conv
// CHECK:         loop.nest "c2"
// CHECK:         loop.for d0 {
// CHECK-NEXT:      loop.matmul {{.*}} <sbuf 0, 0 + 32 * i0, [[1, 80], [1, 8]]>
func.func @conv_of_conv(%x: tensor<1x16x2x2xf32>) -> tensor<1x8x2x2xf32> {
  %w1 = graph.constant dense<0.25> : tensor<160x16x1x1xf32>
  %a = graph.conv2d %x, %w1 {tidal.origin = "c1"} : (tensor<1x16x2x2xf32>, tensor<160x16x1x1xf32>) -> tensor<1x160x2x2xf32>
  %w = graph.constant dense<0.25> : tensor<8x160x1x1xf32>
  %r = graph.conv2d %a, %w {tidal.origin = "c2"} : (tensor<1x160x2x2xf32>, tensor<8x160x1x1xf32>) -> tensor<1x8x2x2xf32>
  func.return %r : tensor<1x8x2x2xf32>
}

// -----

// A concatenation whose second piece starts inside a uniform tile (112 + 24 = 136
// channels, uniform tiles of 68) read by a conv: the conv reads it ragged, a full
// tile of 128 channels and a partial one of 8 (the pieces' copies then fit the
// 128-channel layout loop-keep-on-chip keeps it in).
// CHECK-LABEL: func.func @unaligned
// CHECK:         loop.nest "cu"
// CHECK:         loop.matmul {{.*}} <sbuf 0, 0, {{\[\[}}1, 128], [2, 2], [1, 2]]> {zero_at = -1 : i64}
// CHECK-NEXT:    loop.matmul {{.*}} <sbuf 0, 16, {{\[\[}}1, 8], [2, 2], [1, 2]]> :
func.func @unaligned(%a: tensor<1x112x2x2xf32>, %b: tensor<1x24x2x2xf32>) -> tensor<1x8x2x2xf32> {
  %x = graph.concat %a, %b {axis = 1 : i64, tidal.origin = "cat"} : (tensor<1x112x2x2xf32>, tensor<1x24x2x2xf32>) -> tensor<1x136x2x2xf32>
  %w = graph.constant dense<0.25> : tensor<8x136x1x1xf32>
  %r = graph.conv2d %x, %w {tidal.origin = "cu"} : (tensor<1x136x2x2xf32>, tensor<8x136x1x1xf32>) -> tensor<1x8x2x2xf32>
  func.return %r : tensor<1x8x2x2xf32>
}

// -----

// The same concatenation also added as a residual by a later conv (ShuffleNet's
// stride-2 unit and the unit after it): the first conv still reads it ragged, and
// the second loads each of its two output tiles' addends by a copy of its own, with
// constant addresses, before its loop (addend-tiles): loop-keep-on-chip can then
// split the second one where its channels 68-135 cross partition 128 of a kept
// 128-channel layout (a copy in the loop walks both tiles alike and cannot be), so
// a kept concatenation takes that layout and neither the first conv's input nor
// the writers' tiles are copied across partitions (ShuffleNet). ADDEND
// (addend_tiles=false): one copy in the loop.
// CHECK-LABEL: func.func @unaligned_residual
// CHECK:         loop.nest "c1"
// CHECK:         loop.copy %x <dram 0, {{\[\[}}4, 128], [1, 4]]>
// CHECK-NEXT:    loop.copy %x <dram 2048, {{\[\[}}4, 8], [1, 4]]>
// CHECK:         loop.nest "c2" domain [2] order [0] {
// CHECK:           loop.copy %x <dram 0, {{\[\[}}4, 68], [1, 4]]> -> %[[ADD:.*]] <sbuf 0, 0, {{\[\[}}1, 68], [1, 4]]>
// CHECK-NEXT:      loop.copy %x <dram 1088, {{\[\[}}4, 68], [1, 4]]> -> %[[ADD]] <sbuf 0, 16, {{\[\[}}1, 68], [1, 4]]>
// CHECK-NEXT:      loop.for d0 {
// CHECK:             loop.tensor_tensor "add" {{.*}}, %[[ADD]] <sbuf 0, 0 + 16 * i0, {{\[\[}}1, 68], [1, 4]]>
// ADDEND-LABEL: func.func @unaligned_residual
// ADDEND:         loop.nest "c2" domain [2] order [0] {
// ADDEND:           loop.for d0 {
// ADDEND:             loop.copy %x <dram 0 + 1088 * i0, {{\[\[}}4, 68], [1, 4]]>
func.func @unaligned_residual(%a: tensor<1x112x2x2xf32>, %b: tensor<1x24x2x2xf32>) -> tensor<1x136x2x2xf32> {
  %x = graph.concat %a, %b {axis = 1 : i64, tidal.origin = "cat"} : (tensor<1x112x2x2xf32>, tensor<1x24x2x2xf32>) -> tensor<1x136x2x2xf32>
  %w1 = graph.constant dense<0.25> : tensor<136x136x1x1xf32>
  %h = graph.conv2d %x, %w1 {tidal.origin = "c1", activation = "relu"} : (tensor<1x136x2x2xf32>, tensor<136x136x1x1xf32>) -> tensor<1x136x2x2xf32>
  %w2 = graph.constant dense<0.5> : tensor<136x68x1x1xf32>
  %r = graph.conv2d %h, %w2 addend %x {tidal.origin = "c2", group = 2 : i64, activation = "relu"} : (tensor<1x136x2x2xf32>, tensor<136x68x1x1xf32>, tensor<1x136x2x2xf32>) -> tensor<1x136x2x2xf32>
  func.return %r : tensor<1x136x2x2xf32>
}

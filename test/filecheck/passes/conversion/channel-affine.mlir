// RUN: tidal-opt %s -p 'graph-to-loop{chip=default}' | filecheck %s
// RUN: tidal-opt %s -p 'graph-to-loop{chip=default dma_merge=false}' | filecheck %s --check-prefix=CHUNK
// RUN: tidal-opt %s -p 'graph-to-loop{chip=default affine_pieces=false}' | filecheck %s --check-prefix=WHOLE
// RUN: tidal-opt %s -p 'graph-to-loop{chip=default affine_split=false}' | filecheck %s --check-prefix=NOSPLIT
// RUN: tidal-opt %s -p 'graph-to-loop{chip=default affine_split_shared=false}' | filecheck %s --check-prefix=NOSHARED

// graph.channel_affine: channels on partitions (256 -> two tiles of 128), the scale
// and shift loaded once as [128, 2] columns, one ACT per channel tile:
// relu(x * scale column + shift column). Merged: the image's planes of both channel
// tiles in one load and one store, rows of H * W = 16 on partitions.
// CHECK-LABEL: func.func @affine
// CHECK-SAME:    (%[[X:.*]]: memref<1x256x4x4xf32>)
// CHECK:         %[[S:.*]] = loop.const {{.*}} : memref<256xf32>
// CHECK-NEXT:    %[[T:.*]] = loop.const {{.*}} : memref<256xf32>
// CHECK-NEXT:    %[[R:.*]] = loop.alloc : memref<1x256x4x4xf32>
// CHECK-NEXT:    loop.nest "bn" domain [2] order [0] {
// CHECK-NEXT:      %[[SC:.*]] = loop.alloc_tile : !loop.tile<sbuf, 128, 2>
// CHECK-NEXT:      %[[SH:.*]] = loop.alloc_tile : !loop.tile<sbuf, 128, 2>
// CHECK-NEXT:      %[[XT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 128, 32>
// CHECK-NEXT:      loop.copy %[[S]] <dram 0, [[1, 128], [128, 2]]> -> %[[SC]] <sbuf 0, 0, [[1, 128], [1, 2]]>
// CHECK-NEXT:      loop.copy %[[T]] <dram 0, [[1, 128], [128, 2]]> -> %[[SH]] <sbuf 0, 0, [[1, 128], [1, 2]]>
// CHECK-NEXT:      loop.copy %[[X]] <dram 0, [[16, 128], [2048, 2], [1, 16]]> -> %[[XT]] <sbuf 0, 0, [[1, 128], [1, 32]]>
// CHECK-NEXT:      loop.for d0 {
// CHECK-NEXT:        loop.act "relu" %[[XT]] <sbuf 0, 0 + 64 * i0, [[1, 128], [1, 16]]>, %[[XT]] <sbuf 0, 0 + 64 * i0, [[1, 128], [1, 16]]> scale(%[[SC]] : !loop.tile<sbuf, 128, 2>) <sbuf 0, 0 + 4 * i0, [[1, 128], [1, 1]]> bias(%[[SH]] : !loop.tile<sbuf, 128, 2>) <sbuf 0, 0 + 4 * i0, [[1, 128], [1, 1]]>
// CHECK-NEXT:      }
// CHECK-NEXT:      loop.copy %[[XT]] <sbuf 0, 0, [[1, 128], [1, 32]]> -> %[[R]] <dram 0, [[16, 128], [2048, 2], [1, 16]]>
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %[[R]]

// Unmerged: per channel tile a load, the ACT and a store of its rows.
// CHUNK:         loop.nest "bn" domain [2] order [0] {
// CHUNK:           %[[XT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 128, 16>
// CHUNK:           loop.for d0 {
// CHUNK-NEXT:        loop.copy %{{.*}} <dram 0 + 8192 * i0, [[16, 128], [1, 16]]> -> %[[XT]] <sbuf 0, 0, [[1, 128], [1, 16]]>
// CHUNK-NEXT:        loop.act "relu" %[[XT]] <sbuf 0, 0, [[1, 128], [1, 16]]>, %[[XT]] <sbuf 0, 0, [[1, 128], [1, 16]]> scale({{.*}}) <sbuf 0, 0 + 4 * i0, [[1, 128], [1, 1]]> bias({{.*}}) <sbuf 0, 0 + 4 * i0, [[1, 128], [1, 1]]>
// CHUNK-NEXT:        loop.copy %[[XT]] <sbuf 0, 0, [[1, 128], [1, 16]]> -> %{{.*}} <dram 0 + 8192 * i0, [[16, 128], [1, 16]]>
// CHUNK-NEXT:      }
func.func @affine(%x: tensor<1x256x4x4xf32>) -> tensor<1x256x4x4xf32> {
  %s = graph.constant dense<2.0> : tensor<256xf32>
  %t = graph.constant dense<0.5> : tensor<256xf32>
  %r = graph.channel_affine %x, %s, %t {activation = "relu", tidal.origin = "bn"} : (tensor<1x256x4x4xf32>, tensor<256xf32>, tensor<256xf32>) -> tensor<1x256x4x4xf32>
  func.return %r : tensor<1x256x4x4xf32>
}

// affine-pieces: a merged plane of 4096 elements (past FREE_MAX) runs its ACTs in
// two pieces of 2048, pieces outermost and the two channel tiles of 80 inside, so a
// reader streaming the plane's pixels waits for the first piece of every tile only.
// Off: one ACT per channel tile over the whole plane.
// CHECK-LABEL: func.func @pieces
// CHECK:         loop.nest "bn" domain [2, 2] order [0, 1] {
// CHECK:           loop.copy %{{.*}} <dram 0, [[4096, 80], [327680, 2], [1, 4096]]> -> %[[XT:.*]] <sbuf 0, 0, [[1, 80], [1, 8192]]>
// CHECK-NEXT:      loop.for d0 {
// CHECK-NEXT:        loop.for d1 {
// CHECK-NEXT:          loop.act "relu" %[[XT]] <sbuf 0, 0 + 8192 * i0 + 16384 * i1, [[1, 80], [1, 2048]]>, %[[XT]] <sbuf 0, 0 + 8192 * i0 + 16384 * i1, [[1, 80], [1, 2048]]> scale({{.*}}) <sbuf 0, 0 + 4 * i1, [[1, 80], [1, 1]]>
// WHOLE-LABEL:   func.func @pieces
// WHOLE:         loop.nest "bn" domain [2] order [0] {
// WHOLE:           loop.for d0 {
// WHOLE-NEXT:        loop.act "relu" %[[XT:.*]] <sbuf 0, 0 + 16384 * i0, [[1, 80], [1, 4096]]>, %[[XT]] <sbuf 0, 0 + 16384 * i0, [[1, 80], [1, 4096]]>
func.func @pieces(%x: tensor<1x160x64x64xf32>) -> tensor<1x160x64x64xf32> {
  %s = graph.constant dense<2.0> : tensor<160xf32>
  %t = graph.constant dense<0.5> : tensor<160xf32>
  %r = graph.channel_affine %x, %s, %t {activation = "relu", tidal.origin = "bn"} : (tensor<1x160x64x64xf32>, tensor<160xf32>, tensor<160xf32>) -> tensor<1x160x64x64xf32>
  func.return %r : tensor<1x160x64x64xf32>
}

// affine-split: a batch norm that alone reads a concatenation (a dense block's
// last, into its transition) runs as two nests: the tiles of the older operand's
// channels (0-127: one load of both tiles, channels 0-127 only) and the tile from
// the one holding the newest channels (128-135, its scale and shift from channel
// 128 on), so the first reads nothing the last operand's writer writes. Off: one
// nest over every tile (the partial one too).
// CHECK-LABEL: func.func @split
// CHECK:         loop.nest "bn" domain [] order [] {
// CHECK:           loop.copy %{{.*}} <dram 0, [[1, 128], [128, 1]]>
// CHECK:           loop.copy %{{.*}} <dram 0, [[16, 128], [2048, 1], [1, 16]]>
// CHECK:           loop.act "relu"
// CHECK:           loop.copy %{{.*}} -> %[[R:.*]] <dram 0, [[16, 128], [2048, 1], [1, 16]]>
// CHECK:         loop.nest "bn" domain [] order [] {
// CHECK:           loop.copy %{{.*}} <dram 512, [[1, 8], [8, 1]]>
// CHECK:           loop.copy %{{.*}} <dram 8192, [[16, 8], [128, 1], [1, 16]]>
// CHECK:           loop.act "relu"
// CHECK:           loop.copy %{{.*}} -> %[[R]] <dram 8192, [[16, 8], [128, 1], [1, 16]]>
// NOSPLIT-LABEL: func.func @split
// NOSPLIT:       loop.nest "bn"
// NOSPLIT-NOT:   loop.nest "bn"
func.func @split(%a: tensor<1x128x4x4xf32>, %b: tensor<1x8x4x4xf32>) -> tensor<1x136x4x4xf32> {
  %c = graph.concat %a, %b {axis = 1 : i64} : (tensor<1x128x4x4xf32>, tensor<1x8x4x4xf32>) -> tensor<1x136x4x4xf32>
  %s = graph.constant dense<2.0> : tensor<136xf32>
  %t = graph.constant dense<0.5> : tensor<136xf32>
  %r = graph.channel_affine %c, %s, %t {activation = "relu", tidal.origin = "bn"} : (tensor<1x136x4x4xf32>, tensor<136xf32>, tensor<136xf32>) -> tensor<1x136x4x4xf32>
  func.return %r : tensor<1x136x4x4xf32>
}

// affine-split-shared: a concatenation that another op also reads (a dense
// block's running one, which the next concatenation takes whole) is split too
// when its planes are past FREE_MAX elements (48 x 48 = 2,304): the tiles of the
// older channels (0-127) and the tile holding the newest (128-135). Off, one
// nest; on 4 x 4 planes, one nest either way.
// CHECK-LABEL: func.func @split_shared
// CHECK:         loop.nest "bn2" domain [2] order [0] {
// CHECK:           loop.act "relu"
// CHECK:         loop.nest "bn2" domain [2] order [0] {
// CHECK:           loop.act "relu"
// CHECK-LABEL: func.func @shared_small
// CHECK:         loop.nest "bn3"
// CHECK-NOT:     loop.nest "bn3"
// NOSHARED-LABEL: func.func @split_shared
// NOSHARED:       loop.nest "bn2"
// NOSHARED-NOT:   loop.nest "bn2"
func.func @split_shared(%a: tensor<1x128x48x48xf32>, %b: tensor<1x8x48x48xf32>) -> (tensor<1x136x48x48xf32>, tensor<1x136x48x48xf32>) {
  %c = graph.concat %a, %b {axis = 1 : i64} : (tensor<1x128x48x48xf32>, tensor<1x8x48x48xf32>) -> tensor<1x136x48x48xf32>
  %s = graph.constant dense<2.0> : tensor<136xf32>
  %t = graph.constant dense<0.5> : tensor<136xf32>
  %r = graph.channel_affine %c, %s, %t {activation = "relu", tidal.origin = "bn2"} : (tensor<1x136x48x48xf32>, tensor<136xf32>, tensor<136xf32>) -> tensor<1x136x48x48xf32>
  func.return %r, %c : tensor<1x136x48x48xf32>, tensor<1x136x48x48xf32>
}

func.func @shared_small(%a: tensor<1x128x4x4xf32>, %b: tensor<1x8x4x4xf32>) -> (tensor<1x136x4x4xf32>, tensor<1x136x4x4xf32>) {
  %c = graph.concat %a, %b {axis = 1 : i64} : (tensor<1x128x4x4xf32>, tensor<1x8x4x4xf32>) -> tensor<1x136x4x4xf32>
  %s = graph.constant dense<2.0> : tensor<136xf32>
  %t = graph.constant dense<0.5> : tensor<136xf32>
  %r = graph.channel_affine %c, %s, %t {activation = "relu", tidal.origin = "bn3"} : (tensor<1x136x4x4xf32>, tensor<136xf32>, tensor<136xf32>) -> tensor<1x136x4x4xf32>
  func.return %r, %c : tensor<1x136x4x4xf32>, tensor<1x136x4x4xf32>
}

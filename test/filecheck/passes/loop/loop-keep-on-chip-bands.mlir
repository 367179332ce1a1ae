// RUN: tidal-opt %s -p 'loop-keep-on-chip{chip=small forward=false}' | filecheck %s
// RUN: tidal-opt %s -p 'loop-keep-on-chip{chip=small}' | filecheck %s --check-prefix=FWD
// RUN: tidal-opt %s -p 'loop-keep-on-chip{chip=small bands=false}' | filecheck %s --check-prefix=OFF

// A conv-bands nest ("c") writes a 4-channel 4x3 image in 2 bands of 2 rows, band b's
// channels on partitions 4b onwards of its tile %o, one store per band; a pool-bands
// nest ("p") reads it in bands of 3 rows (the rows a band's windows read: band 1's
// first row is band 0's last), band b on partitions 4b onwards of %x. Kept in that
// band layout (8 partitions of 2 rows x 3): the two stores are one copy of the whole
// tile (consecutive partitions on both sides), band 0's load maps whole and band 1's
// load is two copies, its first row from partitions 0-3 (row 1 of band 0), its other
// two from partitions 4-7.
// CHECK-LABEL: func.func @main(
// CHECK-NEXT:    %y = loop.alloc_tile : !loop.tile<sbuf, 8, 6>
// CHECK:         loop.nest "c"
// CHECK:           loop.copy %o <sbuf 0, 0, {{\[\[}}1, 8], [1, 6]]> -> %y <sbuf 0, 0, {{\[\[}}1, 8], [1, 6]]>
// CHECK-NEXT:    }
// CHECK:         loop.nest "p"
// CHECK-NEXT:      %x = loop.alloc_tile
// CHECK-NEXT:      loop.copy %y <sbuf 0, 0, {{\[\[}}1, 4], [3, 2], [1, 3]]> -> %x <sbuf 0, 0, {{\[\[}}1, 4], [3, 2], [1, 3]]>
// CHECK-NEXT:      loop.copy %y <sbuf 0, 12, {{\[\[}}1, 4], [0, 1], [1, 3]]> -> %x <sbuf 4, 0, {{\[\[}}1, 4], [3, 1], [1, 3]]>
// CHECK-NEXT:      loop.copy %y <sbuf 4, 0, {{\[\[}}1, 4], [3, 2], [1, 3]]> -> %x <sbuf 4, 12, {{\[\[}}1, 4], [3, 2], [1, 3]]>

// Forwarded: "c" evacuates straight into the kept tile, no copy left in it.
// FWD-LABEL: func.func @main(
// FWD:         loop.nest "c"
// FWD-NOT:       %o = 
// FWD:           loop.act "relu" %y <sbuf 0, 0, {{\[\[}}1, 8], [1, 6]]>, %i
// FWD-NEXT:    }

// Without keep-bands: the regular layout (the 4 channels on 4 partitions, 12 rows
// each), the band stores and loads copies between partitions.
// OFF-LABEL: func.func @main(
// OFF-NEXT:    %y = loop.alloc_tile : !loop.tile<sbuf, 4, 12>
// OFF:           loop.copy %o <sbuf 0, 0, {{\[\[}}1, 4], [1, 6]]> -> %y <sbuf 0, 0, {{\[\[}}1, 4], [1, 6]]>
// OFF-NEXT:      loop.copy %o <sbuf 4, 0, {{\[\[}}1, 4], [1, 6]]> -> %y <sbuf 0, 24, {{\[\[}}1, 4], [1, 6]]>
func.func @main(%in: memref<1x4x4x3xf32>) -> memref<1x4x4x3xf32> {
  %y = loop.alloc : memref<1x4x4x3xf32>
  loop.nest "c" domain [] order [] {
    %i = loop.alloc_tile : !loop.tile<sbuf, 8, 6>
    %o = loop.alloc_tile : !loop.tile<sbuf, 8, 6>
    loop.copy %in <dram 0, [[6, 8], [1, 6]]> -> %i <sbuf 0, 0, [[1, 8], [1, 6]]> : memref<1x4x4x3xf32> -> !loop.tile<sbuf, 8, 6>
    loop.act "relu" %o <sbuf 0, 0, [[1, 8], [1, 6]]>, %i <sbuf 0, 0, [[1, 8], [1, 6]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 8, 6>, !loop.tile<sbuf, 8, 6>
    loop.copy %o <sbuf 0, 0, [[1, 4], [1, 6]]> -> %y <dram 0, [[12, 4], [1, 6]]> : !loop.tile<sbuf, 8, 6> -> memref<1x4x4x3xf32>
    loop.copy %o <sbuf 4, 0, [[1, 4], [1, 6]]> -> %y <dram 24, [[12, 4], [1, 6]]> : !loop.tile<sbuf, 8, 6> -> memref<1x4x4x3xf32>
  }
  %z = loop.alloc : memref<1x4x4x3xf32>
  loop.nest "p" domain [] order [] {
    %x = loop.alloc_tile : !loop.tile<sbuf, 8, 9>
    loop.copy %y <dram 0, [[12, 4], [3, 2], [1, 3]]> -> %x <sbuf 0, 0, [[1, 4], [3, 2], [1, 3]]> : memref<1x4x4x3xf32> -> !loop.tile<sbuf, 8, 9>
    loop.copy %y <dram 12, [[12, 4], [3, 3], [1, 3]]> -> %x <sbuf 4, 0, [[1, 4], [3, 3], [1, 3]]> : memref<1x4x4x3xf32> -> !loop.tile<sbuf, 8, 9>
    loop.act "relu" %x <sbuf 0, 0, [[1, 8], [1, 9]]>, %x <sbuf 0, 0, [[1, 8], [1, 9]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 8, 9>, !loop.tile<sbuf, 8, 9>
    loop.copy %x <sbuf 0, 0, [[1, 4], [1, 6]]> -> %z <dram 0, [[12, 4], [1, 6]]> : !loop.tile<sbuf, 8, 9> -> memref<1x4x4x3xf32>
    loop.copy %x <sbuf 4, 0, [[1, 4], [1, 6]]> -> %z <dram 24, [[12, 4], [1, 6]]> : !loop.tile<sbuf, 8, 9> -> memref<1x4x4x3xf32>
  }
  func.return %z : memref<1x4x4x3xf32>
}

// The same 2 bands written in the writer's loop (conv-bands' row groups, the
// default chip's stem blocks): each band's store takes 2 rows an iteration, its
// DRAM offset stepping 2 rows; within its band the kept layout steps alike
// (`BandLayout.map`), so the two stores are still one copy of the whole tile,
// stepping in the kept tile, which forwarding drops (the ACT writes the kept tile).
// CHECK-LABEL: func.func @steps(
// CHECK-NEXT:    %y = loop.alloc_tile : !loop.tile<sbuf, 8, 12>
// CHECK:           loop.copy %o <sbuf 0, 0, {{\[\[}}1, 8], [1, 6]]> -> %y <sbuf 0, 0 + 24 * i0, {{\[\[}}1, 8], [1, 6]]>
// CHECK-NEXT:    }
// CHECK:         loop.nest "p"
// CHECK-NEXT:      %x = loop.alloc_tile
// CHECK-NEXT:      loop.copy %y <sbuf 0, 0, {{\[\[}}1, 8], [1, 12]]> -> %x <sbuf 0, 0, {{\[\[}}1, 8], [1, 12]]>
// FWD-LABEL: func.func @steps(
// FWD:         loop.nest "c"
// FWD-NOT:       %o =
// FWD:             loop.act "relu" %y <sbuf 0, 0 + 24 * i0, {{\[\[}}1, 8], [1, 6]]>, %i
// OFF-LABEL: func.func @steps(
// OFF-NEXT:    %y = loop.alloc_tile : !loop.tile<sbuf, 4, 24>
// OFF:             loop.copy %o <sbuf 4, 0, {{\[\[}}1, 4], [1, 6]]> -> %y <sbuf 0, 48 + 24 * i0, {{\[\[}}1, 4], [1, 6]]>
func.func @steps(%in: memref<8x12xf32>) -> memref<1x4x8x3xf32> {
  %y = loop.alloc : memref<1x4x8x3xf32>
  loop.nest "c" domain [2] order [0] {
    %i = loop.alloc_tile : !loop.tile<sbuf, 8, 6>
    %o = loop.alloc_tile : !loop.tile<sbuf, 8, 6>
    loop.for d0 {
      loop.copy %in <dram 0 + 24 * i0, [[12, 8], [1, 6]]> -> %i <sbuf 0, 0, [[1, 8], [1, 6]]> : memref<8x12xf32> -> !loop.tile<sbuf, 8, 6>
      loop.act "relu" %o <sbuf 0, 0, [[1, 8], [1, 6]]>, %i <sbuf 0, 0, [[1, 8], [1, 6]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 8, 6>, !loop.tile<sbuf, 8, 6>
      loop.copy %o <sbuf 0, 0, [[1, 4], [1, 6]]> -> %y <dram 0 + 24 * i0, [[24, 4], [1, 6]]> : !loop.tile<sbuf, 8, 6> -> memref<1x4x8x3xf32>
      loop.copy %o <sbuf 4, 0, [[1, 4], [1, 6]]> -> %y <dram 48 + 24 * i0, [[24, 4], [1, 6]]> : !loop.tile<sbuf, 8, 6> -> memref<1x4x8x3xf32>
    }
  }
  %z = loop.alloc : memref<1x4x8x3xf32>
  loop.nest "p" domain [] order [] {
    %x = loop.alloc_tile : !loop.tile<sbuf, 8, 12>
    loop.copy %y <dram 0, [[24, 4], [1, 12]]> -> %x <sbuf 0, 0, [[1, 4], [1, 12]]> : memref<1x4x8x3xf32> -> !loop.tile<sbuf, 8, 12>
    loop.copy %y <dram 48, [[24, 4], [1, 12]]> -> %x <sbuf 4, 0, [[1, 4], [1, 12]]> : memref<1x4x8x3xf32> -> !loop.tile<sbuf, 8, 12>
    loop.act "relu" %x <sbuf 0, 0, [[1, 8], [1, 12]]>, %x <sbuf 0, 0, [[1, 8], [1, 12]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 8, 12>, !loop.tile<sbuf, 8, 12>
    loop.copy %x <sbuf 0, 0, [[1, 4], [1, 12]]> -> %z <dram 0, [[24, 4], [1, 12]]> : !loop.tile<sbuf, 8, 12> -> memref<1x4x8x3xf32>
    loop.copy %x <sbuf 4, 0, [[1, 4], [1, 12]]> -> %z <dram 48, [[24, 4], [1, 12]]> : !loop.tile<sbuf, 8, 12> -> memref<1x4x8x3xf32>
  }
  func.return %z : memref<1x4x8x3xf32>
}

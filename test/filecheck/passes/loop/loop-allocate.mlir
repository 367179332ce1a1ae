// RUN: tidal-opt %s -p 'loop-allocate{chip=small overlap=false rotate=false}' | filecheck %s

// loop-allocate changes no op: it records addresses as `tidal.addr` attributes.
// - DRAM: the input first, then constants and buffers in program order, each on a
//   64-byte boundary (the 48-byte bias pads to 64: %h lands at 5184); the view %hv
//   aliases %h; the function records the chip and the DRAM used.
// - SBUF/PSUM: a tile lives for its nest. Within "fc" the tiles stack in definition
//   order (wt 0, xt 64, o 128, col 192); "relu" runs after "fc" has ended, so its
//   tiles reuse the same bytes from 0.
// - PSUM (rotate=false: every nest from byte 0; loop-allocate-rotate.mlir has the
//   default): a tile stays inside one 2048-byte bank. In "banks", %p1 (1728 bytes from
//   448) would cross the first bank's end and starts the second bank at 2048; %p2
//   goes above it (the hole at 448 is not filled).

// CHECK-LABEL: func.func @main(
// CHECK-SAME:    %x: memref<8x64xf32> {tidal.name = "input", tidal.addr = 0 : i64}
// CHECK-SAME:    attributes {tidal.chip = "small", tidal.dram_bytes = 5952 : i64}
// CHECK-NEXT:    %w = loop.const dense<5.000000e-01> : tensor<64x12xf32> {tidal.addr = 2048 : i64} : memref<64x12xf32>
// CHECK-NEXT:    %b = loop.const dense<2.500000e-01> : tensor<12xf32> {tidal.addr = 5120 : i64} : memref<12xf32>
// CHECK-NEXT:    %h = loop.alloc {tidal.addr = 5184 : i64} : memref<8x12xf32>
// CHECK-NEXT:    %hv = loop.view %h {tidal.addr = 5184 : i64} : memref<8x12xf32> -> memref<96xf32>
// CHECK-NEXT:    %y = loop.alloc {tidal.addr = 5568 : i64} : memref<8x12xf32>
// CHECK-NEXT:    loop.nest "fc" domain [2, 2] order [1, 0] {
// CHECK-NEXT:      %acc = loop.alloc_tile {tidal.addr = 0 : i64} : !loop.tile<psum, 12, 4>
// CHECK-NEXT:      %wt = loop.alloc_tile {tidal.addr = 0 : i64} : !loop.tile<sbuf, 32, 12>
// CHECK-NEXT:      %xt = loop.alloc_tile {tidal.addr = 64 : i64} : !loop.tile<sbuf, 32, 4>
// CHECK-NEXT:      %o = loop.alloc_tile {tidal.addr = 128 : i64} : !loop.tile<sbuf, 12, 4>
// CHECK-NEXT:      %col = loop.alloc_tile {tidal.addr = 192 : i64} : !loop.tile<sbuf, 12, 1>
// CHECK-NEXT:      loop.copy %b <dram 0, {{\[\[}}1, 12], [1, 1]]> -> %col <sbuf 0, 0, {{\[\[}}1, 12], [1, 1]]>
// CHECK:         loop.nest "relu" domain [] order [] {
// CHECK-NEXT:      %t = loop.alloc_tile {tidal.addr = 0 : i64} : !loop.tile<sbuf, 32, 3>
// CHECK-NEXT:      %r = loop.alloc_tile {tidal.addr = 64 : i64} : !loop.tile<sbuf, 32, 3>
// CHECK:         loop.nest "banks" domain [] order [] {
// CHECK-NEXT:      %p0 = loop.alloc_tile {tidal.addr = 0 : i64} : !loop.tile<psum, 12, 100>
// CHECK-NEXT:      %p1 = loop.alloc_tile {tidal.addr = 2048 : i64} : !loop.tile<psum, 12, 425>
// CHECK-NEXT:      %p2 = loop.alloc_tile {tidal.addr = 3776 : i64} : !loop.tile<psum, 12, 4>
// CHECK-NEXT:      %s = loop.alloc_tile {tidal.addr = 0 : i64} : !loop.tile<sbuf, 12, 4>
// CHECK:         func.return %y : memref<8x12xf32>
func.func @main(%x: memref<8x64xf32> {tidal.name = "input"}) -> (memref<8x12xf32> {tidal.name = "out"}) {
  %w = loop.const dense<0.5> : tensor<64x12xf32> : memref<64x12xf32>
  %b = loop.const dense<0.25> : tensor<12xf32> : memref<12xf32>
  %h = loop.alloc : memref<8x12xf32>
  %hv = loop.view %h : memref<8x12xf32> -> memref<96xf32>
  %y = loop.alloc : memref<8x12xf32>
  loop.nest "fc" domain [2, 2] order [1, 0] {
    %acc = loop.alloc_tile : !loop.tile<psum, 12, 4>
    %wt = loop.alloc_tile : !loop.tile<sbuf, 32, 12>
    %xt = loop.alloc_tile : !loop.tile<sbuf, 32, 4>
    %o = loop.alloc_tile : !loop.tile<sbuf, 12, 4>
    %col = loop.alloc_tile : !loop.tile<sbuf, 12, 1>
    loop.copy %b <dram 0, [[1, 12], [1, 1]]> -> %col <sbuf 0, 0, [[1, 12], [1, 1]]> : memref<12xf32> -> !loop.tile<sbuf, 12, 1>
    loop.for d1 {
      loop.for d0 {
        loop.copy %w <dram 0 + 1536 * i0, [[12, 32], [1, 12]]> -> %wt <sbuf 0, 0, [[1, 32], [1, 12]]> : memref<64x12xf32> -> !loop.tile<sbuf, 32, 12>
        loop.copy %x <dram 0 + 128 * i0 + 1024 * i1, [[1, 32], [64, 4]]> -> %xt <sbuf 0, 0, [[1, 32], [1, 4]]> : memref<8x64xf32> -> !loop.tile<sbuf, 32, 4>
        loop.matmul %acc <psum 0, 0, [[1, 12], [1, 4]]>, %wt <sbuf 0, 0, [[1, 32], [1, 12]]>, %xt <sbuf 0, 0, [[1, 32], [1, 4]]> {zero_at = 0 : i64} : !loop.tile<psum, 12, 4>, !loop.tile<sbuf, 32, 12>, !loop.tile<sbuf, 32, 4>
      }
      loop.act "identity" %o <sbuf 0, 0, [[1, 12], [1, 4]]>, %acc <psum 0, 0, [[1, 12], [1, 4]]> bias(%col : !loop.tile<sbuf, 12, 1>) <sbuf 0, 0, [[1, 12], [1, 1]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 12, 4>, !loop.tile<psum, 12, 4>
      loop.copy %o <sbuf 0, 0, [[1, 12], [1, 4]]> -> %h <dram 0 + 192 * i1, [[1, 12], [12, 4]]> : !loop.tile<sbuf, 12, 4> -> memref<8x12xf32>
    }
  }
  loop.nest "relu" domain [] order [] {
    %t = loop.alloc_tile : !loop.tile<sbuf, 32, 3>
    %r = loop.alloc_tile : !loop.tile<sbuf, 32, 3>
    loop.copy %hv <dram 0, [[3, 32], [1, 3]]> -> %t <sbuf 0, 0, [[1, 32], [1, 3]]> : memref<96xf32> -> !loop.tile<sbuf, 32, 3>
    loop.act "relu" %r <sbuf 0, 0, [[1, 32], [1, 3]]>, %t <sbuf 0, 0, [[1, 32], [1, 3]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 32, 3>, !loop.tile<sbuf, 32, 3>
    loop.copy %r <sbuf 0, 0, [[1, 32], [1, 3]]> -> %y <dram 0, [[3, 32], [1, 3]]> : !loop.tile<sbuf, 32, 3> -> memref<8x12xf32>
  }
  loop.nest "banks" domain [] order [] {
    %p0 = loop.alloc_tile : !loop.tile<psum, 12, 100>
    %p1 = loop.alloc_tile : !loop.tile<psum, 12, 425>
    %p2 = loop.alloc_tile : !loop.tile<psum, 12, 4>
    %s = loop.alloc_tile : !loop.tile<sbuf, 12, 4>
    loop.act "identity" %s <sbuf 0, 0, [[1, 12], [1, 4]]>, %p2 <psum 0, 0, [[1, 12], [1, 4]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 12, 4>, !loop.tile<psum, 12, 4>
  }
  func.return %y : memref<8x12xf32>
}

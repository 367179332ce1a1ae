// RUN: tidal-opt %s -p 'loop-to-accel' | filecheck %s
// RUN: tidal-opt %s -p 'loop-to-accel{chip=small}' | filecheck %s

// Allocated loop nests (the output of loop-allocate{chip=small}) become one
// unified-order accel.program, op by op:
// - the program takes the chip and DRAM size loop-allocate recorded; the io table
//   the inputs' and outputs' addresses and the tidal.name names; loop.const becomes
//   accel.const at its address; the view %hv reads at %h's address.
// - "fc" iterates d1 outside d0 (order [1, 0]): loop.for -> accel.repeat with the
//   domain's trip counts, domain index i0 (K) becomes repeat depth i1 and i1 (M)
//   becomes i0, offsets are rebased on each buffer's or tile's tidal.addr, and
//   zero_at = d0 becomes repeat depth 1.
// - A tensor_tensor's scale column (in "sum") is rebased like any other access.
// - Every DMA is on queue 0: accel-assign-queues chooses the queues.

// CHECK-LABEL: accel.program "small" dram 5952 {
// CHECK-NEXT:    accel.io input "input" at 0 : tensor<8x64xf32>
// CHECK-NEXT:    accel.const at 2048 dense<5.000000e-01> : tensor<64x12xf32>
// CHECK-NEXT:    accel.const at 5120 dense<2.500000e-01> : tensor<12xf32>
// CHECK-NEXT:    accel.io output "out" at 5568 : tensor<8x12xf32>
// CHECK-NEXT:    accel.dma 0 <dram 5120, {{\[\[}}1, 12], [1, 1]]> -> <sbuf 0, 192, {{\[\[}}1, 12], [1, 1]]> {origin = "fc"}
// CHECK-NEXT:    accel.repeat 2 {
// CHECK-NEXT:      accel.repeat 2 {
// CHECK-NEXT:        accel.dma 0 <dram 2048 + 1536 * i1, {{\[\[}}12, 32], [1, 12]]> -> <sbuf 0, 0, {{\[\[}}1, 32], [1, 12]]> {origin = "fc"}
// CHECK-NEXT:        accel.dma 0 <dram 0 + 1024 * i0 + 128 * i1, {{\[\[}}1, 32], [64, 4]]> -> <sbuf 0, 64, {{\[\[}}1, 32], [1, 4]]> {origin = "fc"}
// CHECK-NEXT:        accel.matmul <psum 0, 0, {{\[\[}}1, 12], [1, 4]]>, <sbuf 0, 0, {{\[\[}}1, 32], [1, 12]]>, <sbuf 0, 64, {{\[\[}}1, 32], [1, 4]]> {zero_at = 1 : i64, origin = "fc"}
// CHECK-NEXT:      }
// CHECK-NEXT:      accel.act identity <sbuf 0, 128, {{\[\[}}1, 12], [1, 4]]>, <psum 0, 0, {{\[\[}}1, 12], [1, 4]]> bias <sbuf 0, 192, {{\[\[}}1, 12], [1, 1]]> {origin = "fc"}
// CHECK-NEXT:      accel.dma 0 <sbuf 0, 128, {{\[\[}}1, 12], [1, 4]]> -> <dram 5184 + 192 * i0, {{\[\[}}1, 12], [12, 4]]> {origin = "fc"}
// CHECK-NEXT:    }
// CHECK-NEXT:    accel.dma 0 <dram 5184, {{\[\[}}3, 32], [1, 3]]> -> <sbuf 0, 0, {{\[\[}}1, 32], [1, 3]]> {origin = "relu"}
// CHECK-NEXT:    accel.act relu <sbuf 0, 64, {{\[\[}}1, 32], [1, 3]]>, <sbuf 0, 0, {{\[\[}}1, 32], [1, 3]]> {origin = "relu"}
// CHECK-NEXT:    accel.tensor_tensor max <sbuf 0, 64, {{\[\[}}1, 32], [1, 3]]>, <sbuf 0, 64, {{\[\[}}1, 32], [1, 3]]>, <sbuf 0, 0, {{\[\[}}1, 32], [1, 3]]> {origin = "relu"}
// CHECK-NEXT:    accel.dma 0 <sbuf 0, 64, {{\[\[}}1, 32], [1, 3]]> -> <dram 5568, {{\[\[}}3, 32], [1, 3]]> {origin = "relu"}
// CHECK-NEXT:    accel.memset <sbuf 0, 128, {{\[\[}}1, 32], [1, 1]]>, 0.0 {origin = "sum"}
// CHECK-NEXT:    accel.reduce add <sbuf 0, 128, {{\[\[}}1, 32], [1, 1]]>, <sbuf 0, 0, {{\[\[}}1, 32], [1, 3]]> over 1 scale 0.5 {origin = "sum"}
// CHECK-NEXT:    accel.tensor_tensor add <sbuf 0, 0, {{\[\[}}1, 32], [1, 3]]>, <sbuf 0, 0, {{\[\[}}1, 32], [1, 3]]>, <sbuf 0, 0, {{\[\[}}1, 32], [1, 3]]> scale <sbuf 0, 128, {{\[\[}}1, 32], [1, 1]]> {origin = "sum"}
// CHECK-NEXT:    accel.random <sbuf 0, 0, {{\[\[}}1, 32], [1, 3]]>, -1.0, 1.0 seed 9 {origin = "rng"}
// CHECK-NEXT:    accel.dropout <sbuf 0, 64, {{\[\[}}1, 32], [1, 3]]>, <sbuf 0, 0, {{\[\[}}1, 32], [1, 3]]> ratio 0.5 seed 9 {origin = "rng"}
// CHECK-NEXT:    accel.bernoulli <sbuf 0, 64, {{\[\[}}1, 32], [1, 3]]>, <sbuf 0, 0, {{\[\[}}1, 32], [1, 3]]> seed 8 {origin = "rng"}
// CHECK-NEXT:  }
// CHECK-NOT:   func.func
func.func @main(%x: memref<8x64xf32> {tidal.name = "input", tidal.addr = 0 : i64}) -> (memref<8x12xf32> {tidal.name = "out"}) attributes {tidal.chip = "small", tidal.dram_bytes = 5952 : i64} {
  %w = loop.const dense<0.5> : tensor<64x12xf32> {tidal.addr = 2048 : i64} : memref<64x12xf32>
  %b = loop.const dense<0.25> : tensor<12xf32> {tidal.addr = 5120 : i64} : memref<12xf32>
  %h = loop.alloc {tidal.addr = 5184 : i64} : memref<8x12xf32>
  %hv = loop.view %h {tidal.addr = 5184 : i64} : memref<8x12xf32> -> memref<96xf32>
  %y = loop.alloc {tidal.addr = 5568 : i64} : memref<8x12xf32>
  loop.nest "fc" domain [2, 2] order [1, 0] {
    %acc = loop.alloc_tile {tidal.addr = 0 : i64} : !loop.tile<psum, 12, 4>
    %wt = loop.alloc_tile {tidal.addr = 0 : i64} : !loop.tile<sbuf, 32, 12>
    %xt = loop.alloc_tile {tidal.addr = 64 : i64} : !loop.tile<sbuf, 32, 4>
    %o = loop.alloc_tile {tidal.addr = 128 : i64} : !loop.tile<sbuf, 12, 4>
    %col = loop.alloc_tile {tidal.addr = 192 : i64} : !loop.tile<sbuf, 12, 1>
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
    %t = loop.alloc_tile {tidal.addr = 0 : i64} : !loop.tile<sbuf, 32, 3>
    %r = loop.alloc_tile {tidal.addr = 64 : i64} : !loop.tile<sbuf, 32, 3>
    loop.copy %hv <dram 0, [[3, 32], [1, 3]]> -> %t <sbuf 0, 0, [[1, 32], [1, 3]]> : memref<96xf32> -> !loop.tile<sbuf, 32, 3>
    loop.act "relu" %r <sbuf 0, 0, [[1, 32], [1, 3]]>, %t <sbuf 0, 0, [[1, 32], [1, 3]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 32, 3>, !loop.tile<sbuf, 32, 3>
    loop.tensor_tensor "max" %r <sbuf 0, 0, [[1, 32], [1, 3]]>, %r <sbuf 0, 0, [[1, 32], [1, 3]]>, %t <sbuf 0, 0, [[1, 32], [1, 3]]> : !loop.tile<sbuf, 32, 3>, !loop.tile<sbuf, 32, 3>, !loop.tile<sbuf, 32, 3>
    loop.copy %r <sbuf 0, 0, [[1, 32], [1, 3]]> -> %y <dram 0, [[3, 32], [1, 3]]> : !loop.tile<sbuf, 32, 3> -> memref<8x12xf32>
  }
  loop.nest "sum" domain [] order [] {
    %t = loop.alloc_tile {tidal.addr = 0 : i64} : !loop.tile<sbuf, 32, 3>
    %s = loop.alloc_tile {tidal.addr = 128 : i64} : !loop.tile<sbuf, 32, 1>
    loop.memset %s <sbuf 0, 0, [[1, 32], [1, 1]]> = 0.0 : f32 : !loop.tile<sbuf, 32, 1>
    loop.reduce "add" %s <sbuf 0, 0, [[1, 32], [1, 1]]>, %t <sbuf 0, 0, [[1, 32], [1, 3]]> {nreduce = 1 : i64, scale = 0.5 : f32} : !loop.tile<sbuf, 32, 1>, !loop.tile<sbuf, 32, 3>
    loop.tensor_tensor "add" %t <sbuf 0, 0, [[1, 32], [1, 3]]>, %t <sbuf 0, 0, [[1, 32], [1, 3]]>, %t <sbuf 0, 0, [[1, 32], [1, 3]]> scale(%s : !loop.tile<sbuf, 32, 1>) <sbuf 0, 0, [[1, 32], [1, 1]]> : !loop.tile<sbuf, 32, 3>, !loop.tile<sbuf, 32, 3>, !loop.tile<sbuf, 32, 3>
  }
  loop.nest "rng" domain [] order [] {
    %t = loop.alloc_tile {tidal.addr = 0 : i64} : !loop.tile<sbuf, 32, 3>
    %d = loop.alloc_tile {tidal.addr = 64 : i64} : !loop.tile<sbuf, 32, 3>
    loop.random %t <sbuf 0, 0, [[1, 32], [1, 3]]> seed 9 low -1.0 : f32 high 1.0 : f32 : !loop.tile<sbuf, 32, 3>
    loop.dropout %d <sbuf 0, 0, [[1, 32], [1, 3]]>, %t <sbuf 0, 0, [[1, 32], [1, 3]]> seed 9 ratio 0.5 : f32 : !loop.tile<sbuf, 32, 3>, !loop.tile<sbuf, 32, 3>
    loop.bernoulli %d <sbuf 0, 0, [[1, 32], [1, 3]]>, %t <sbuf 0, 0, [[1, 32], [1, 3]]> seed 8 : !loop.tile<sbuf, 32, 3>, !loop.tile<sbuf, 32, 3>
  }
  func.return %y : memref<8x12xf32>
}

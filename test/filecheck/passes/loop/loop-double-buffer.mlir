// RUN: tidal-opt %s -p 'loop-double-buffer{chip=small}' | filecheck %s
// RUN: tidal-opt %s -p 'loop-double-buffer{chip=small},loop-allocate{chip=small},loop-to-accel{chip=small}' | filecheck %s --check-prefix=ACCEL

// "fc": %wt and %xt are loaded whole in every iteration of the d0 loop, %acc and
// %o are written whole (a fresh sum, an ACT) in every iteration of d1; %col is
// loaded once before the loops. Inner loop first: d0 (2 iterations) becomes one
// iteration of its body twice, the odd copy on %wt_1/%xt_1, its accesses at
// 2 * i0 + 1 (DRAM 1536 and 128 on), its matmul accumulating (no zero_at); then
// d1 likewise, the odd copy on %acc_1 and %o_1. Domain [2, 2] -> [1, 1].

// CHECK-LABEL: loop.nest "fc" domain [1, 1] order [1, 0] {
// CHECK-NEXT:    %acc = loop.alloc_tile : !loop.tile<psum, 12, 4>
// CHECK-NEXT:    %acc_1 = loop.alloc_tile : !loop.tile<psum, 12, 4>
// CHECK-NEXT:    %wt = loop.alloc_tile : !loop.tile<sbuf, 32, 12>
// CHECK-NEXT:    %wt_1 = loop.alloc_tile : !loop.tile<sbuf, 32, 12>
// CHECK-NEXT:    %xt = loop.alloc_tile : !loop.tile<sbuf, 32, 4>
// CHECK-NEXT:    %xt_1 = loop.alloc_tile : !loop.tile<sbuf, 32, 4>
// CHECK-NEXT:    %o = loop.alloc_tile : !loop.tile<sbuf, 12, 4>
// CHECK-NEXT:    %o_1 = loop.alloc_tile : !loop.tile<sbuf, 12, 4>
// CHECK-NEXT:    %col = loop.alloc_tile : !loop.tile<sbuf, 12, 1>
// CHECK-NEXT:    loop.copy %b
// CHECK-NEXT:    loop.for d1 {
// CHECK-NEXT:      loop.for d0 {
// CHECK-NEXT:        loop.copy %w <dram 0 + 3072 * i0, {{.*}} -> %wt <sbuf 0, 0,
// CHECK-NEXT:        loop.copy %x <dram 0 + 256 * i0 + 2048 * i1, {{.*}} -> %xt <sbuf 0, 0,
// CHECK-NEXT:        loop.matmul %acc <{{.*}}>, %wt <{{.*}}>, %xt <{{.*}}> {zero_at = 0 : i64}
// CHECK-NEXT:        loop.copy %w <dram 1536 + 3072 * i0, {{.*}} -> %wt_1 <sbuf 0, 0,
// CHECK-NEXT:        loop.copy %x <dram 128 + 256 * i0 + 2048 * i1, {{.*}} -> %xt_1 <sbuf 0, 0,
// CHECK-NEXT:        loop.matmul %acc <{{.*}}>, %wt_1 <{{.*}}>, %xt_1 <{{.*}}> :
// CHECK-NEXT:      }
// CHECK-NEXT:      loop.act "identity" %o <{{.*}}>, %acc <{{.*}}> bias(%col
// CHECK-NEXT:      loop.copy %o <{{.*}}> -> %h <dram 0 + 384 * i1,
// CHECK-NEXT:      loop.for d0 {
// CHECK-NEXT:        loop.copy %w <dram 0 + 3072 * i0, {{.*}} -> %wt <sbuf 0, 0,
// CHECK-NEXT:        loop.copy %x <dram 1024 + 256 * i0 + 2048 * i1, {{.*}} -> %xt <sbuf 0, 0,
// CHECK-NEXT:        loop.matmul %acc_1 <{{.*}}>, %wt <{{.*}}>, %xt <{{.*}}> {zero_at = 0 : i64}
// CHECK-NEXT:        loop.copy %w <dram 1536 + 3072 * i0, {{.*}} -> %wt_1 <sbuf 0, 0,
// CHECK-NEXT:        loop.copy %x <dram 1152 + 256 * i0 + 2048 * i1, {{.*}} -> %xt_1 <sbuf 0, 0,
// CHECK-NEXT:        loop.matmul %acc_1 <{{.*}}>, %wt_1 <{{.*}}>, %xt_1 <{{.*}}> :
// CHECK-NEXT:      }
// CHECK-NEXT:      loop.act "identity" %o_1 <{{.*}}>, %acc_1 <{{.*}}> bias(%col
// CHECK-NEXT:      loop.copy %o_1 <{{.*}}> -> %h <dram 192 + 384 * i1,
// CHECK-NEXT:    }
// CHECK-NEXT:  }

// "relu": %t and %r are private to d0 (3 iterations), %s carries a sum across them
// and keeps one buffer. One iteration pair in the loop (domain [1]), and iteration 2
// after it, on the first buffers, with no step along d0.

// CHECK-LABEL: loop.nest "relu" domain [1] order [0] {
// CHECK-NEXT:    %t = loop.alloc_tile
// CHECK-NEXT:    %t_1 = loop.alloc_tile
// CHECK-NEXT:    %r = loop.alloc_tile
// CHECK-NEXT:    %r_1 = loop.alloc_tile
// CHECK-NEXT:    %s = loop.alloc_tile
// CHECK-NEXT:    loop.memset %s
// CHECK-NEXT:    loop.for d0 {
// CHECK-NEXT:      loop.copy %h <dram 0 + 8 * i0, {{.*}} -> %t <
// CHECK-NEXT:      loop.act "relu" %r <{{.*}}>, %t <
// CHECK-NEXT:      loop.tensor_tensor "add" %s <{{.*}}>, %s <{{.*}}>, %r <
// CHECK-NEXT:      loop.copy %r <{{.*}}> -> %y <dram 0 + 8 * i0,
// CHECK-NEXT:      loop.copy %h <dram 4 + 8 * i0, {{.*}} -> %t_1 <
// CHECK-NEXT:      loop.act "relu" %r_1 <{{.*}}>, %t_1 <
// CHECK-NEXT:      loop.tensor_tensor "add" %s <{{.*}}>, %s <{{.*}}>, %r_1 <
// CHECK-NEXT:      loop.copy %r_1 <{{.*}}> -> %y <dram 4 + 8 * i0,
// CHECK-NEXT:    }
// CHECK-NEXT:    loop.copy %h <dram 8, {{.*}} -> %t <
// CHECK-NEXT:    loop.act "relu" %r <{{.*}}>, %t <
// CHECK-NEXT:    loop.tensor_tensor "add" %s <{{.*}}>, %s <{{.*}}>, %r <
// CHECK-NEXT:    loop.copy %r <{{.*}}> -> %y <dram 8,
// CHECK-NEXT:  }

// Lowered, the two buffers of %t are two SBUF regions; the relu loop is a repeat of
// 1 (loading into each in turn) followed by the last iteration, back in the first.
// ACCEL-LABEL: accel.program "small"
// ACCEL:         accel.memset {{.*}} {origin = "relu"}
// ACCEL-NEXT:    accel.repeat 1 {
// ACCEL-NEXT:      accel.dma 0 <dram {{[0-9]+}} + 8 * i0, {{.*}}> -> <sbuf 0, [[T:[0-9]+]], {{.*}} {origin = "relu"}
// ACCEL:           accel.dma 0 <dram {{[0-9]+}} + 8 * i0, {{.*}}> -> <sbuf 0, [[T1:[0-9]+]], {{.*}} {origin = "relu"}
// ACCEL-NEXT:      accel.act relu
// ACCEL-NEXT:      accel.tensor_tensor add
// ACCEL-NEXT:      accel.dma 0 <sbuf
// ACCEL-NEXT:    }
// ACCEL-NEXT:    accel.dma 0 <dram {{[0-9]+}}, {{.*}}> -> <sbuf 0, [[T]], {{.*}} {origin = "relu"}

func.func @main(%x: memref<8x64xf32> {tidal.name = "input"}) -> (memref<8x12xf32> {tidal.name = "out"}) {
  %w = loop.const dense<0.5> : tensor<64x12xf32> : memref<64x12xf32>
  %b = loop.const dense<0.25> : tensor<12xf32> : memref<12xf32>
  %h = loop.alloc : memref<8x12xf32>
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
  loop.nest "relu" domain [3] order [0] {
    %t = loop.alloc_tile : !loop.tile<sbuf, 32, 1>
    %r = loop.alloc_tile : !loop.tile<sbuf, 32, 1>
    %s = loop.alloc_tile : !loop.tile<sbuf, 32, 1>
    loop.memset %s <sbuf 0, 0, [[1, 32], [1, 1]]> = 0.0 : f32 : !loop.tile<sbuf, 32, 1>
    loop.for d0 {
      loop.copy %h <dram 0 + 4 * i0, [[3, 32], [1, 1]]> -> %t <sbuf 0, 0, [[1, 32], [1, 1]]> : memref<8x12xf32> -> !loop.tile<sbuf, 32, 1>
      loop.act "relu" %r <sbuf 0, 0, [[1, 32], [1, 1]]>, %t <sbuf 0, 0, [[1, 32], [1, 1]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 32, 1>, !loop.tile<sbuf, 32, 1>
      loop.tensor_tensor "add" %s <sbuf 0, 0, [[1, 32], [1, 1]]>, %s <sbuf 0, 0, [[1, 32], [1, 1]]>, %r <sbuf 0, 0, [[1, 32], [1, 1]]> : !loop.tile<sbuf, 32, 1>, !loop.tile<sbuf, 32, 1>, !loop.tile<sbuf, 32, 1>
      loop.copy %r <sbuf 0, 0, [[1, 32], [1, 1]]> -> %y <dram 0 + 4 * i0, [[3, 32], [1, 1]]> : !loop.tile<sbuf, 32, 1> -> memref<8x12xf32>
    }
  }
  func.return %y : memref<8x12xf32>
}

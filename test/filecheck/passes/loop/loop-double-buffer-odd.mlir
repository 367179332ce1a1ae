// RUN: tidal-opt %s -p 'loop-double-buffer{chip=small}' | filecheck %s
// RUN: tidal-opt %s -p 'loop-double-buffer{chip=small odd=false}' | filecheck %s --check-prefix=OFF

// "fc3": %acc and %o are private to d1, whose 3 iterations each hold a d0 loop (a
// sum over 2 input tiles). The inner d0 loop first, by two as always; then d1: an
// odd trip count whose last iteration cannot run after the loop (its d0 loop would
// sit at d1's depth), so it is unrolled whole: three copies of the body at
// 3 * i1 + k (x's rows 512 bytes on per copy, h's 96), on %acc, %acc_1, %acc in
// turn, so the array accumulates into one PSUM buffer while ACT evacuates the
// other. Every copy keeps its fresh sum over d0 (zero_at = 0). Domain [2, 3] -> [1, 1].

// CHECK-LABEL: loop.nest "fc3" domain [1, 1] order [1, 0] {
// CHECK-NEXT:    %acc = loop.alloc_tile : !loop.tile<psum, 12, 2>
// CHECK-NEXT:    %acc_1 = loop.alloc_tile : !loop.tile<psum, 12, 2>
// CHECK:         %o = loop.alloc_tile : !loop.tile<sbuf, 12, 2>
// CHECK-NEXT:    %o_1 = loop.alloc_tile : !loop.tile<sbuf, 12, 2>
// CHECK-NEXT:    loop.for d1 {
// CHECK-NEXT:      loop.for d0 {
// CHECK-NEXT:        loop.copy %w <dram 0 + 3072 * i0, {{.*}} -> %wt <
// CHECK-NEXT:        loop.copy %x <dram 0 + 256 * i0 + 1536 * i1, {{.*}} -> %xt <
// CHECK-NEXT:        loop.matmul %acc <{{.*}}>, %wt <{{.*}}>, %xt <{{.*}}> {zero_at = 0 : i64}
// CHECK-NEXT:        loop.copy %w <dram 1536 + 3072 * i0, {{.*}} -> %wt_1 <
// CHECK-NEXT:        loop.copy %x <dram 128 + 256 * i0 + 1536 * i1, {{.*}} -> %xt_1 <
// CHECK-NEXT:        loop.matmul %acc <{{.*}}>, %wt_1 <{{.*}}>, %xt_1 <{{.*}}> :
// CHECK-NEXT:      }
// CHECK-NEXT:      loop.act "relu" %o <{{.*}}>, %acc <
// CHECK-NEXT:      loop.copy %o <{{.*}}> -> %h <dram 0 + 288 * i1,
// CHECK-NEXT:      loop.for d0 {
// CHECK-NEXT:        loop.copy %w <dram 0 + 3072 * i0, {{.*}} -> %wt <
// CHECK-NEXT:        loop.copy %x <dram 512 + 256 * i0 + 1536 * i1, {{.*}} -> %xt <
// CHECK-NEXT:        loop.matmul %acc_1 <{{.*}}>, %wt <{{.*}}>, %xt <{{.*}}> {zero_at = 0 : i64}
// CHECK-NEXT:        loop.copy %w <dram 1536 + 3072 * i0, {{.*}} -> %wt_1 <
// CHECK-NEXT:        loop.copy %x <dram 640 + 256 * i0 + 1536 * i1, {{.*}} -> %xt_1 <
// CHECK-NEXT:        loop.matmul %acc_1 <{{.*}}>, %wt_1 <{{.*}}>, %xt_1 <{{.*}}> :
// CHECK-NEXT:      }
// CHECK-NEXT:      loop.act "relu" %o_1 <{{.*}}>, %acc_1 <
// CHECK-NEXT:      loop.copy %o_1 <{{.*}}> -> %h <dram 96 + 288 * i1,
// CHECK-NEXT:      loop.for d0 {
// CHECK-NEXT:        loop.copy %w <dram 0 + 3072 * i0, {{.*}} -> %wt <
// CHECK-NEXT:        loop.copy %x <dram 1024 + 256 * i0 + 1536 * i1, {{.*}} -> %xt <
// CHECK-NEXT:        loop.matmul %acc <{{.*}}>, %wt <{{.*}}>, %xt <{{.*}}> {zero_at = 0 : i64}
// CHECK-NEXT:        loop.copy %w <dram 1536 + 3072 * i0, {{.*}} -> %wt_1 <
// CHECK-NEXT:        loop.copy %x <dram 1152 + 256 * i0 + 1536 * i1, {{.*}} -> %xt_1 <
// CHECK-NEXT:        loop.matmul %acc <{{.*}}>, %wt_1 <{{.*}}>, %xt_1 <{{.*}}> :
// CHECK-NEXT:      }
// CHECK-NEXT:      loop.act "relu" %o <{{.*}}>, %acc <
// CHECK-NEXT:      loop.copy %o <{{.*}}> -> %h <dram 192 + 288 * i1,
// CHECK-NEXT:    }
// CHECK-NEXT:  }

// With odd=false, d1 keeps its 3 iterations and one buffer of %acc and %o; only d0
// is unrolled.
// OFF-LABEL: loop.nest "fc3" domain [1, 3] order [1, 0] {
// OFF-NOT:     %acc_1
// OFF:         loop.for d1 {
// OFF-NEXT:      loop.for d0 {
// OFF:           loop.matmul %acc <{{.*}}>, %wt_1 <
// OFF-NEXT:      }
// OFF-NEXT:      loop.act "relu" %o <{{.*}}>, %acc <
// OFF-NEXT:      loop.copy %o <{{.*}}> -> %h <dram 0 + 96 * i1,
// OFF-NEXT:    }
// OFF-NEXT:  }

func.func @main(%x: memref<8x64xf32> {tidal.name = "input"}) -> (memref<6x12xf32> {tidal.name = "out"}) {
  %w = loop.const dense<0.5> : tensor<64x12xf32> : memref<64x12xf32>
  %h = loop.alloc : memref<6x12xf32>
  loop.nest "fc3" domain [2, 3] order [1, 0] {
    %acc = loop.alloc_tile : !loop.tile<psum, 12, 2>
    %wt = loop.alloc_tile : !loop.tile<sbuf, 32, 12>
    %xt = loop.alloc_tile : !loop.tile<sbuf, 32, 2>
    %o = loop.alloc_tile : !loop.tile<sbuf, 12, 2>
    loop.for d1 {
      loop.for d0 {
        loop.copy %w <dram 0 + 1536 * i0, [[12, 32], [1, 12]]> -> %wt <sbuf 0, 0, [[1, 32], [1, 12]]> : memref<64x12xf32> -> !loop.tile<sbuf, 32, 12>
        loop.copy %x <dram 0 + 128 * i0 + 512 * i1, [[1, 32], [64, 2]]> -> %xt <sbuf 0, 0, [[1, 32], [1, 2]]> : memref<8x64xf32> -> !loop.tile<sbuf, 32, 2>
        loop.matmul %acc <psum 0, 0, [[1, 12], [1, 2]]>, %wt <sbuf 0, 0, [[1, 32], [1, 12]]>, %xt <sbuf 0, 0, [[1, 32], [1, 2]]> {zero_at = 0 : i64} : !loop.tile<psum, 12, 2>, !loop.tile<sbuf, 32, 12>, !loop.tile<sbuf, 32, 2>
      }
      loop.act "relu" %o <sbuf 0, 0, [[1, 12], [1, 2]]>, %acc <psum 0, 0, [[1, 12], [1, 2]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 12, 2>, !loop.tile<psum, 12, 2>
      loop.copy %o <sbuf 0, 0, [[1, 12], [1, 2]]> -> %h <dram 0 + 96 * i1, [[1, 12], [12, 2]]> : !loop.tile<sbuf, 12, 2> -> memref<6x12xf32>
    }
  }
  func.return %h : memref<6x12xf32>
}

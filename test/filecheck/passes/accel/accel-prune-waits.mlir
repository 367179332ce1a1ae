// RUN: tidal-opt %s -p accel-prune-waits | filecheck %s
// RUN: tidal-opt %s -p accel-prune-waits,accel-verify-sync | filecheck %s

// accel-prune-waits erases a wait when the engine's earlier waits already order what
// it would order. Semaphores are engine ids: pe 0, act 1, pool 2, dma0 3.

// (a) The matmul reads the loaded tile and ACT's result. Its wait for ACT comes
// first, and ACT waited for the load, so its wait for the load orders nothing more:
// erased. ACT's own wait for the load stays (nothing before it orders the load).
accel.program "small" dram 65536 attributes {test = "implied"} {
  accel.dma 0 <dram 0, [[8, 32], [1, 8]]> -> <sbuf 0, 0, [[1, 32], [1, 8]]> {signal = 3 : i64}
  accel.wait act sem 3 >= 1
  accel.act relu <sbuf 0, 64, [[1, 32], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]> {signal = 1 : i64}
  accel.wait pe sem 1 >= 1
  accel.wait pe sem 3 >= 1
  accel.matmul <psum 0, 0, [[1, 8], [1, 8]]>, <sbuf 0, 64, [[1, 32], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]> {zero_at = -1 : i64}
}

// CHECK-LABEL: accel.program "small" dram 65536 attributes {test = "implied"} {
// CHECK-NEXT:    accel.dma 0 {{.*}} {signal = 3 : i64}
// CHECK-NEXT:    accel.wait act sem 3 >= 1
// CHECK-NEXT:    accel.act relu {{.*}} {signal = 1 : i64}
// CHECK-NEXT:    accel.wait pe sem 1 >= 1
// CHECK-NEXT:    accel.matmul
// CHECK-NEXT:  }

// (b) Across iterations: the DMA of iteration i0 overwrites the tile the matmul of
// i0 - 1 read (WAR, pe >= i0) and waits for its own queue's previous DMA (WAW,
// dma0 >= i0), which that matmul had itself waited for: erased. (In the other
// order the wait on the queue comes first and orders the previous DMA itself:
// accel-insert-sync puts waits on compute engines first.)
accel.program "small" dram 65536 attributes {test = "repeat"} {
  accel.repeat 4 {
    accel.wait dma0 sem 0 >= 0 + 1 * i0
    accel.wait dma0 sem 3 >= 0 + 1 * i0
    accel.dma 0 <dram 0 + 1024 * i0, [[8, 32], [1, 8]]> -> <sbuf 0, 0, [[1, 32], [1, 8]]> {signal = 3 : i64}
    accel.wait pe sem 3 >= 1 + 1 * i0
    accel.matmul <psum 0, 0 + 32 * i0, [[1, 8], [1, 8]]>, <sbuf 0, 1024, [[1, 32], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]> {zero_at = -1 : i64, signal = 0 : i64}
  }
}

// CHECK-LABEL: accel.program "small" dram 65536 attributes {test = "repeat"} {
// CHECK-NEXT:    accel.repeat 4 {
// CHECK-NEXT:      accel.wait dma0 sem 0 >= 0 + 1 * i0
// CHECK-NEXT:      accel.dma 0
// CHECK-NEXT:      accel.wait pe sem 3 >= 1 + 1 * i0
// CHECK-NEXT:      accel.matmul
// CHECK-NEXT:    }
// CHECK-NEXT:  }

// RUN: not tidal-opt %s -p accel-verify-sync 2>&1 | filecheck %s

// A wait that no signal can satisfy: the loads signal dma0's semaphore 4 times in
// all, the matmul of iteration i0 waits for 2 + i0 signals, 5 at i0 = 3.

// CHECK: tidal-opt: error: {{.*}}verify-sync-unsatisfied.mlir:[[# @LINE + 6]]:5: accel-verify-sync: pe instruction 6 (accel.wait, at i0=3) waits for semaphore 3 >= 5, but the whole program signals semaphore 3 only 4 times
accel.program "small" dram 65536 {
  accel.repeat 4 {
    accel.dma 0 <dram 0 + 1024 * i0, [[8, 32], [1, 8]]> -> <sbuf 0, 0 + 32 * i0, [[1, 32], [1, 8]]> {signal = 3 : i64}
  }
  accel.repeat 4 {
    accel.wait pe sem 3 >= 2 + 1 * i0
    accel.matmul <psum 0, 0 + 32 * i0, [[1, 8], [1, 8]]>, <sbuf 0, 1024, [[1, 32], [1, 8]]>, <sbuf 0, 0 + 32 * i0, [[1, 32], [1, 8]]> {zero_at = -1 : i64}
  }
}

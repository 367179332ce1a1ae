// RUN: not tidal-opt %s -p accel-verify-sync 2>&1 | filecheck %s

// A wait on a semaphore that no instruction signals: ACT would wait forever.

// CHECK: tidal-opt: error: {{.*}}verify-sync-unsignalled.mlir:[[# @LINE + 3]]:3: accel-verify-sync: act instruction 0 (accel.wait) waits for semaphore 3 >= 1, but no instruction signals semaphore 3
accel.program "small" dram 65536 {
  accel.dma 0 <dram 0, [[8, 32], [1, 8]]> -> <sbuf 0, 0, [[1, 32], [1, 8]]>
  accel.wait act sem 3 >= 1
  accel.act relu <sbuf 0, 1024, [[1, 32], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]>
}

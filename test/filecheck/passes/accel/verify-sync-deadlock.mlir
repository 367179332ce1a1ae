// RUN: not tidal-opt %s -p accel-verify-sync 2>&1 | filecheck %s

// A circular wait: PE waits for ACT's signal, which ACT gives only after waiting for
// PE's. Every wait can be satisfied by the signals the program has, yet neither
// engine ever gets there.

// CHECK: tidal-opt: error: {{.*}}verify-sync-deadlock.mlir:[[# @LINE + 2]]:3: accel-verify-sync: deadlock: pe instruction 0 (accel.wait) waits for semaphore 1 >= 1, which stays at 0: the signals it lacks come after the stuck wait of act; act instruction 1 (accel.wait) waits for semaphore 0 >= 1, which stays at 0: the signals it lacks come after the stuck wait of pe
accel.program "small" dram 65536 {
  accel.wait pe sem 1 >= 1
  accel.matmul <psum 0, 0, [[1, 8], [1, 8]]>, <sbuf 0, 1024, [[1, 32], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]> {zero_at = -1 : i64, signal = 0 : i64}
  accel.act relu <sbuf 0, 4096, [[1, 32], [1, 8]]>, <sbuf 0, 3072, [[1, 32], [1, 8]]>
  accel.wait act sem 0 >= 1
  accel.act relu <sbuf 0, 2048, [[1, 32], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]> {signal = 1 : i64}
}

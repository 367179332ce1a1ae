// RUN: tidal-opt %s -p accel-prune-waits | filecheck %s
// RUN: not tidal-opt %s -p accel-prune-waits,accel-verify-sync 2>&1 | filecheck %s --check-prefix=VERIFY

// A program whose synchronisation is broken (a wait nothing signals) is left as it
// is: accel-prune-waits reasons only about programs that run, and accel-verify-sync
// reports the problem.
// CHECK-LABEL: accel.program "small" dram 4096 {
// CHECK-NEXT:    accel.wait pe sem 3 >= 1
// CHECK-NEXT:    accel.wait pe sem 1 >= 1
// CHECK-NEXT:    accel.memset
// CHECK-NEXT:  }
// VERIFY: tidal-opt: error: {{.*}}:{{[0-9]+}}:{{[0-9]+}}: accel-verify-sync: pe instruction 0 (accel.wait) waits for semaphore 3 >= 1, but no instruction signals semaphore 3
accel.program "small" dram 4096 {
  accel.wait pe sem 3 >= 1
  accel.wait pe sem 1 >= 1
  accel.memset <sbuf 0, 0, [[1, 4], [1, 1]]>, 0.0
}

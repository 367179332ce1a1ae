// RUN: not tidal-opt %s -p accel-verify-sync 2>&1 | filecheck %s
// RUN: not tidal-opt %s -p accel-split-streams,accel-verify-sync 2>&1 | filecheck %s --check-prefix=SPLIT
// RUN: tidal-opt %s -p accel-insert-sync,accel-verify-sync,accel-split-streams,accel-verify-sync | filecheck %s --check-prefix=SYNCED

// A missing wait: ACT reads the tile the load writes, and nothing orders the two.
// The error names both engines and instructions (the index in the engine's stream)
// and the source ops; it is located at the first instruction's op. Split into
// streams, the ops are new (no location), the message the same. accel-insert-sync
// adds the wait, and the program verifies.

// CHECK: tidal-opt: error: {{.*}}verify-sync-race.mlir:[[# @LINE + 5]]:3: accel-verify-sync: race: act instruction 0 (accel.act, op 'relu') reads sbuf partitions [0, 32) bytes [0, 32) while dma0 instruction 0 (accel.dma, op 'load') writes sbuf partitions [0, 32) bytes [0, 32), and no wait orders them
// SPLIT: tidal-opt: error: accel-verify-sync: race: act instruction 0 (accel.act, op 'relu') reads sbuf partitions [0, 32) bytes [0, 32) while dma0 instruction 0 (accel.dma, op 'load') writes
accel.program "small" dram 65536 {
  accel.io input "x" at 0 : tensor<32x8xf32>
  accel.dma 0 <dram 0, [[8, 32], [1, 8]]> -> <sbuf 0, 0, [[1, 32], [1, 8]]> {origin = "load"}
  accel.act relu <sbuf 0, 1024, [[1, 32], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]> {origin = "relu"}
}

// SYNCED:      accel.stream act {
// SYNCED-NEXT:   accel.wait act sem 3 >= 1
// SYNCED-NEXT:   accel.act relu
// SYNCED-NEXT: }
// SYNCED-NEXT: accel.stream dma0 {
// SYNCED-NEXT:   accel.dma 0 {{.*}} {origin = "load", signal = 3 : i64}
// SYNCED-NEXT: }

// RUN: not tidal-opt %s -p accel-verify-sync 2>&1 | filecheck %s

// A wait one iteration short: the load of iteration i0 overwrites the tile the
// matmul of iteration i0 - 1 reads, but waits only for i0 - 1 matmuls (from i0 = 1
// on). The error names the iteration (repeat indices) of each instruction.

// CHECK: tidal-opt: error: {{.*}}verify-sync-race-iteration.mlir:[[# @LINE + 6]]:5: accel-verify-sync: race: pe instruction 1 (accel.matmul, op 'mm', at i0=0) reads sbuf partitions [0, 32) bytes [0, 32) while dma0 instruction 3 (accel.dma, op 'load', at i0=1) writes sbuf partitions [0, 32) bytes [0, 32), and no wait orders them (and 5 more)
accel.program "small" dram 65536 {
  accel.repeat 4 {
    accel.wait dma0 sem 0 >= -1 + 1 * i0
    accel.dma 0 <dram 0 + 1024 * i0, [[8, 32], [1, 8]]> -> <sbuf 0, 0, [[1, 32], [1, 8]]> {signal = 3 : i64, origin = "load"}
    accel.wait pe sem 3 >= 1 + 1 * i0
    accel.matmul <psum 0, 0 + 32 * i0, [[1, 8], [1, 8]]>, <sbuf 0, 1024, [[1, 32], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]> {zero_at = -1 : i64, signal = 0 : i64, origin = "mm"}
  }
}

// RUN: not tidal-opt %s -p accel-verify-sync 2>&1 | filecheck %s

// DRAM counts too: queue 1 loads back a DRAM tile that queue 0 stores, unordered.

// CHECK: tidal-opt: error: {{.*}}verify-sync-race-dram.mlir:[[# @LINE + 2]]:3: accel-verify-sync: race: dma0 instruction 0 (accel.dma, op 'store') writes dram bytes [4096, 5120) while dma1 instruction 0 (accel.dma, op 'reload') reads dram bytes [4096, 5120), and no wait orders them
accel.program "small" dram 65536 {
  accel.dma 0 <sbuf 0, 0, [[1, 32], [1, 8]]> -> <dram 4096, [[8, 32], [1, 8]]> {origin = "store"}
  accel.dma 1 <dram 4096, [[8, 32], [1, 8]]> -> <sbuf 0, 1024, [[1, 32], [1, 8]]> {origin = "reload"}
}

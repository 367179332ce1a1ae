// RUN: not tidal-opt %s -p 'loop-to-accel{chip=small}' --split-input-file 2>&1 | filecheck %s
// RUN: tidal-opt %s -p 'loop-to-accel{chip=small}' --split-input-file --verify-diagnostics | filecheck %s --check-prefix=DIAG

// loop-to-accel reads the addresses loop-allocate records; it refuses input that
// has none, or that was allocated for another chip, in one line.

// CHECK-NOT: Traceback
// CHECK: tidal-opt: error: {{.*}}loop-to-accel-errors.mlir:11:1: loop-to-accel: @unallocated has no addresses (tidal.chip, tidal.dram_bytes); run loop-allocate{chip=...} first
// CHECK-NOT: loop-to-accel
// DIAG: loop-to-accel: @unallocated has no addresses (tidal.chip, tidal.dram_bytes); run loop-allocate{chip=...} first
func.func @unallocated(%x: memref<4x8xf32>) -> memref<4x8xf32> {
  func.return %x : memref<4x8xf32>
}

// -----

// DIAG: loop-to-accel: @other is allocated for chip 'default', not 'small'
func.func @other(%x: memref<4x8xf32> {tidal.addr = 0 : i64}) -> memref<4x8xf32> attributes {tidal.chip = "default", tidal.dram_bytes = 128 : i64} {
  func.return %x : memref<4x8xf32>
}

// -----

// A tile without an address: the module was changed after loop-allocate ran.
// DIAG: loop-to-accel: 'loop.alloc_tile' has no tidal.addr; run loop-allocate first
func.func @partial(%x: memref<4x8xf32> {tidal.addr = 0 : i64}) -> memref<4x8xf32> attributes {tidal.chip = "small", tidal.dram_bytes = 128 : i64} {
  loop.nest "late" domain [] order [] {
    %t = loop.alloc_tile : !loop.tile<sbuf, 4, 8>
    loop.copy %x <dram 0, [[8, 4], [1, 8]]> -> %t <sbuf 0, 0, [[1, 4], [1, 8]]> : memref<4x8xf32> -> !loop.tile<sbuf, 4, 8>
  }
  func.return %x : memref<4x8xf32>
}

// -----

// A copy outside the loop over d0 steps along d0: it has no repeat index to use.
// DIAG: loop-to-accel: nest 'outside' has an access that steps along a dimension whose loop does not enclose it
func.func @outside(%x: memref<4x8xf32> {tidal.addr = 0 : i64}) -> memref<4x8xf32> attributes {tidal.chip = "small", tidal.dram_bytes = 128 : i64} {
  loop.nest "outside" domain [2] order [0] {
    %t = loop.alloc_tile {tidal.addr = 0 : i64} : !loop.tile<sbuf, 2, 8>
    loop.copy %x <dram 0 + 64 * i0, [[8, 2], [1, 8]]> -> %t <sbuf 0, 0, [[1, 2], [1, 8]]> : memref<4x8xf32> -> !loop.tile<sbuf, 2, 8>
    loop.for d0 {
      loop.copy %t <sbuf 0, 0, [[1, 2], [1, 8]]> -> %x <dram 0 + 64 * i0, [[8, 2], [1, 8]]> : !loop.tile<sbuf, 2, 8> -> memref<4x8xf32>
    }
  }
  func.return %x : memref<4x8xf32>
}

// RUN: tidal-opt %s -p 'loop-schedule{chip=small}' | filecheck %s
// RUN: tidal-opt %s -p 'loop-schedule{chip=small}' --split-input-file | filecheck %s --check-prefix=CHAIN
// RUN: tidal-opt %s -p 'loop-schedule{chip=small}' --split-input-file | filecheck %s --check-prefix=STAGED
// RUN: tidal-opt %s -p 'loop-schedule{chip=small staged=false}' --split-input-file | filecheck %s --check-prefix=FLAT

// "b" needs "a"'s %p and runs long (64 ACTs); "c" needs only the input and writes
// the other half of %y (disjoint bytes: no dependence on "b"). After "a", "c" can
// start at once while "b" waits for "a"'s store: list scheduling puts "c" first.
// %y moves down to its first user, "c".
// CHECK-LABEL: func.func @main(
// CHECK-NEXT:    %p = loop.alloc : memref<32x16xf32>
// CHECK-NEXT:    loop.nest "a"
// CHECK:         %y = loop.alloc : memref<64x16xf32>
// CHECK-NEXT:    loop.nest "c"
// CHECK:         loop.nest "b"
// CHECK:         func.return %y
func.func @main(%x: memref<32x16xf32>) -> memref<64x16xf32> {
  %p = loop.alloc : memref<32x16xf32>
  loop.nest "a" domain [] order [] {
    %t = loop.alloc_tile : !loop.tile<sbuf, 32, 16>
    loop.copy %x <dram 0, [[16, 32], [1, 16]]> -> %t <sbuf 0, 0, [[1, 32], [1, 16]]> : memref<32x16xf32> -> !loop.tile<sbuf, 32, 16>
    loop.act "relu" %t <sbuf 0, 0, [[1, 32], [1, 16]]>, %t <sbuf 0, 0, [[1, 32], [1, 16]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 32, 16>, !loop.tile<sbuf, 32, 16>
    loop.copy %t <sbuf 0, 0, [[1, 32], [1, 16]]> -> %p <dram 0, [[16, 32], [1, 16]]> : !loop.tile<sbuf, 32, 16> -> memref<32x16xf32>
  }
  %y = loop.alloc : memref<64x16xf32>
  loop.nest "b" domain [64] order [0] {
    %u = loop.alloc_tile : !loop.tile<sbuf, 32, 16>
    loop.copy %p <dram 0, [[16, 32], [1, 16]]> -> %u <sbuf 0, 0, [[1, 32], [1, 16]]> : memref<32x16xf32> -> !loop.tile<sbuf, 32, 16>
    loop.for d0 {
      loop.act "exp" %u <sbuf 0, 0, [[1, 32], [1, 16]]>, %u <sbuf 0, 0, [[1, 32], [1, 16]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 32, 16>, !loop.tile<sbuf, 32, 16>
    }
    loop.copy %u <sbuf 0, 0, [[1, 32], [1, 16]]> -> %y <dram 0, [[16, 32], [1, 16]]> : !loop.tile<sbuf, 32, 16> -> memref<64x16xf32>
  }
  loop.nest "c" domain [] order [] {
    %v = loop.alloc_tile : !loop.tile<sbuf, 32, 16>
    loop.copy %x <dram 0, [[16, 32], [1, 16]]> -> %v <sbuf 0, 0, [[1, 32], [1, 16]]> : memref<32x16xf32> -> !loop.tile<sbuf, 32, 16>
    loop.tensor_tensor "max" %v <sbuf 0, 0, [[1, 32], [1, 16]]>, %v <sbuf 0, 0, [[1, 32], [1, 16]]>, %v <sbuf 0, 0, [[1, 32], [1, 16]]> : !loop.tile<sbuf, 32, 16>, !loop.tile<sbuf, 32, 16>, !loop.tile<sbuf, 32, 16>
    loop.copy %v <sbuf 0, 0, [[1, 32], [1, 16]]> -> %y <dram 2048, [[16, 32], [1, 16]]> : !loop.tile<sbuf, 32, 16> -> memref<64x16xf32>
  }
  func.return %y : memref<64x16xf32>
}

// -----

// A chain (each nest reads the previous one's result) keeps its order.
// CHAIN-LABEL: func.func @chain(
// CHAIN:         loop.nest "first"
// CHAIN:         loop.nest "second"
// CHAIN:         loop.nest "third"
func.func @chain(%x: memref<32x16xf32>) -> memref<32x16xf32> {
  %p = loop.alloc : memref<32x16xf32>
  %q = loop.alloc : memref<32x16xf32>
  %r = loop.alloc : memref<32x16xf32>
  loop.nest "first" domain [] order [] {
    %t = loop.alloc_tile : !loop.tile<sbuf, 32, 16>
    loop.copy %x <dram 0, [[16, 32], [1, 16]]> -> %t <sbuf 0, 0, [[1, 32], [1, 16]]> : memref<32x16xf32> -> !loop.tile<sbuf, 32, 16>
    loop.copy %t <sbuf 0, 0, [[1, 32], [1, 16]]> -> %p <dram 0, [[16, 32], [1, 16]]> : !loop.tile<sbuf, 32, 16> -> memref<32x16xf32>
  }
  loop.nest "second" domain [] order [] {
    %t = loop.alloc_tile : !loop.tile<sbuf, 32, 16>
    loop.copy %p <dram 0, [[16, 32], [1, 16]]> -> %t <sbuf 0, 0, [[1, 32], [1, 16]]> : memref<32x16xf32> -> !loop.tile<sbuf, 32, 16>
    loop.copy %t <sbuf 0, 0, [[1, 32], [1, 16]]> -> %q <dram 0, [[16, 32], [1, 16]]> : !loop.tile<sbuf, 32, 16> -> memref<32x16xf32>
  }
  loop.nest "third" domain [] order [] {
    %t = loop.alloc_tile : !loop.tile<sbuf, 32, 16>
    loop.copy %q <dram 0, [[16, 32], [1, 16]]> -> %t <sbuf 0, 0, [[1, 32], [1, 16]]> : memref<32x16xf32> -> !loop.tile<sbuf, 32, 16>
    loop.copy %t <sbuf 0, 0, [[1, 32], [1, 16]]> -> %r <dram 0, [[16, 32], [1, 16]]> : !loop.tile<sbuf, 32, 16> -> memref<32x16xf32>
  }
  func.return %r : memref<32x16xf32>
}

// -----

// After "a", two branches read its %p: "long" (32 ACTs) copies %p onto partitions
// 0, 32 and 64 (as row-taps shifts an input) and computes only once those copies
// land; "short" (4 ACTs) loads %p as it is. Staged (the default), "long"'s loads
// start at once but its ACTs a descriptor latency and the shifted copies' bytes
// later, so "short", ready to compute, goes first. Without `staged` both start
// together and the longer chain ("long") goes first.
// STAGED-LABEL: func.func @staged(
// STAGED:         loop.nest "a"
// STAGED:         loop.nest "short"
// STAGED:         loop.nest "long"
// FLAT-LABEL: func.func @staged(
// FLAT:         loop.nest "a"
// FLAT:         loop.nest "long"
// FLAT:         loop.nest "short"
func.func @staged(%x: memref<32x16xf32>) -> memref<64x16xf32> {
  %p = loop.alloc : memref<32x16xf32>
  loop.nest "a" domain [] order [] {
    %t = loop.alloc_tile : !loop.tile<sbuf, 32, 16>
    loop.copy %x <dram 0, [[16, 32], [1, 16]]> -> %t <sbuf 0, 0, [[1, 32], [1, 16]]> : memref<32x16xf32> -> !loop.tile<sbuf, 32, 16>
    loop.act "relu" %t <sbuf 0, 0, [[1, 32], [1, 16]]>, %t <sbuf 0, 0, [[1, 32], [1, 16]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 32, 16>, !loop.tile<sbuf, 32, 16>
    loop.copy %t <sbuf 0, 0, [[1, 32], [1, 16]]> -> %p <dram 0, [[16, 32], [1, 16]]> : !loop.tile<sbuf, 32, 16> -> memref<32x16xf32>
  }
  %y = loop.alloc : memref<64x16xf32>
  loop.nest "long" domain [32] order [0] {
    %u = loop.alloc_tile : !loop.tile<sbuf, 96, 16>
    loop.copy %p <dram 0, [[16, 32], [1, 16]]> -> %u <sbuf 0, 0, [[1, 32], [1, 16]]> : memref<32x16xf32> -> !loop.tile<sbuf, 96, 16>
    loop.copy %p <dram 4, [[16, 32], [1, 15]]> -> %u <sbuf 32, 0, [[1, 32], [1, 15]]> : memref<32x16xf32> -> !loop.tile<sbuf, 96, 16>
    loop.copy %p <dram 8, [[16, 32], [1, 14]]> -> %u <sbuf 64, 0, [[1, 32], [1, 14]]> : memref<32x16xf32> -> !loop.tile<sbuf, 96, 16>
    loop.for d0 {
      loop.act "exp" %u <sbuf 0, 0, [[1, 96], [1, 16]]>, %u <sbuf 0, 0, [[1, 96], [1, 16]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 96, 16>, !loop.tile<sbuf, 96, 16>
    }
    loop.copy %u <sbuf 0, 0, [[1, 32], [1, 16]]> -> %y <dram 0, [[16, 32], [1, 16]]> : !loop.tile<sbuf, 96, 16> -> memref<64x16xf32>
  }
  loop.nest "short" domain [4] order [0] {
    %v = loop.alloc_tile : !loop.tile<sbuf, 32, 16>
    loop.copy %p <dram 0, [[16, 32], [1, 16]]> -> %v <sbuf 0, 0, [[1, 32], [1, 16]]> : memref<32x16xf32> -> !loop.tile<sbuf, 32, 16>
    loop.for d0 {
      loop.act "exp" %v <sbuf 0, 0, [[1, 32], [1, 16]]>, %v <sbuf 0, 0, [[1, 32], [1, 16]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 32, 16>, !loop.tile<sbuf, 32, 16>
    }
    loop.copy %v <sbuf 0, 0, [[1, 32], [1, 16]]> -> %y <dram 2048, [[16, 32], [1, 16]]> : !loop.tile<sbuf, 32, 16> -> memref<64x16xf32>
  }
  func.return %y : memref<64x16xf32>
}

// RUN: tidal-opt %s -p 'loop-allocate{chip=small}' | filecheck %s

// Two nests whose tiles take 40 KiB of the small chip's 64 KiB per partition each
// cannot keep their tiles apart: loop-allocate falls back to lifetimes that end
// with each nest, and both start at 0.

// CHECK: %a = loop.alloc_tile {tidal.addr = 0 : i64} : !loop.tile<sbuf, 32, 10240>
// CHECK: %b = loop.alloc_tile {tidal.addr = 0 : i64} : !loop.tile<sbuf, 32, 10240>
func.func @main(%x: memref<32x10240xf32>) -> memref<32x10240xf32> {
  %y = loop.alloc : memref<32x10240xf32>
  loop.nest "a" domain [] order [] {
    %a = loop.alloc_tile : !loop.tile<sbuf, 32, 10240>
    loop.copy %x <dram 0, [[10240, 32], [1, 10240]]> -> %a <sbuf 0, 0, [[1, 32], [1, 10240]]> : memref<32x10240xf32> -> !loop.tile<sbuf, 32, 10240>
    loop.copy %a <sbuf 0, 0, [[1, 32], [1, 10240]]> -> %y <dram 0, [[10240, 32], [1, 10240]]> : !loop.tile<sbuf, 32, 10240> -> memref<32x10240xf32>
  }
  loop.nest "b" domain [] order [] {
    %b = loop.alloc_tile : !loop.tile<sbuf, 32, 10240>
    loop.copy %y <dram 0, [[10240, 32], [1, 10240]]> -> %b <sbuf 0, 0, [[1, 32], [1, 10240]]> : memref<32x10240xf32> -> !loop.tile<sbuf, 32, 10240>
    loop.copy %b <sbuf 0, 0, [[1, 32], [1, 10240]]> -> %y <dram 0, [[10240, 32], [1, 10240]]> : !loop.tile<sbuf, 32, 10240> -> memref<32x10240xf32>
  }
  func.return %y : memref<32x10240xf32>
}

// RUN: tidal-opt %s -p 'loop-allocate{chip=small overlap=false}' | filecheck %s

// One allocator runs across nests: a tile is live from the top-level op that defines
// it to the last one that uses it. A tile allocated in the function (not in a nest)
// stays on chip across nests, the allocation a pass keeping a tensor in SBUF gets:
// - %keep (defined in the function, used by "a" and "c") takes 0 to 128 for nests
//   "a" to "c";
// - "a" and "c" allocate above it, and so does "b", which does not use %keep but
//   runs while it is live: %mid does not overlap it;
// - "d" runs after %keep's last use and reuses its bytes from 0.

// RUN: tidal-opt %s -p 'loop-allocate{chip=small}' | filecheck %s --check-prefix=OVERLAP
// With overlap (the default), a nest's tiles stay live until the next nest ends:
// "b"'s %mid goes above "a"'s %t (so nothing "b" writes waits for "a" to finish
// reading %t), "c"'s %u reuses %t's bytes ("a" is two nests back), "d"'s %after
// reuses %keep's bytes (%keep is dead after "c"; %u lives on over "d").
// OVERLAP:       %keep = loop.alloc_tile {tidal.addr = 0 : i64}
// OVERLAP:       %t = loop.alloc_tile {tidal.addr = 128 : i64}
// OVERLAP:       %mid = loop.alloc_tile {tidal.addr = 256 : i64}
// OVERLAP:       %u = loop.alloc_tile {tidal.addr = 128 : i64}
// OVERLAP:       %after = loop.alloc_tile {tidal.addr = 0 : i64}

// CHECK-LABEL: func.func @main(
// CHECK:         %keep = loop.alloc_tile {tidal.addr = 0 : i64} : !loop.tile<sbuf, 32, 32>
// CHECK:         loop.nest "a"
// CHECK-NEXT:      %t = loop.alloc_tile {tidal.addr = 128 : i64} : !loop.tile<sbuf, 32, 32>
// CHECK:         loop.nest "b"
// CHECK-NEXT:      %mid = loop.alloc_tile {tidal.addr = 128 : i64} : !loop.tile<sbuf, 32, 4>
// CHECK:         loop.nest "c"
// CHECK-NEXT:      %u = loop.alloc_tile {tidal.addr = 128 : i64} : !loop.tile<sbuf, 32, 32>
// CHECK:         loop.nest "d"
// CHECK-NEXT:      %after = loop.alloc_tile {tidal.addr = 0 : i64} : !loop.tile<sbuf, 32, 4>
func.func @main(%x: memref<32x32xf32>) -> memref<32x32xf32> {
  %y = loop.alloc : memref<32x32xf32>
  %z = loop.alloc : memref<32x4xf32>
  %keep = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
  loop.nest "a" domain [] order [] {
    %t = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
    loop.copy %x <dram 0, [[32, 32], [1, 32]]> -> %t <sbuf 0, 0, [[1, 32], [1, 32]]> : memref<32x32xf32> -> !loop.tile<sbuf, 32, 32>
    loop.act "relu" %keep <sbuf 0, 0, [[1, 32], [1, 32]]>, %t <sbuf 0, 0, [[1, 32], [1, 32]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 32, 32>, !loop.tile<sbuf, 32, 32>
  }
  loop.nest "b" domain [] order [] {
    %mid = loop.alloc_tile : !loop.tile<sbuf, 32, 4>
    loop.memset %mid <sbuf 0, 0, [[1, 32], [1, 4]]> = 0.0 : f32 : !loop.tile<sbuf, 32, 4>
    loop.copy %mid <sbuf 0, 0, [[1, 32], [1, 4]]> -> %z <dram 0, [[4, 32], [1, 4]]> : !loop.tile<sbuf, 32, 4> -> memref<32x4xf32>
  }
  loop.nest "c" domain [] order [] {
    %u = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
    loop.act "exp" %u <sbuf 0, 0, [[1, 32], [1, 32]]>, %keep <sbuf 0, 0, [[1, 32], [1, 32]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 32, 32>, !loop.tile<sbuf, 32, 32>
    loop.copy %u <sbuf 0, 0, [[1, 32], [1, 32]]> -> %y <dram 0, [[32, 32], [1, 32]]> : !loop.tile<sbuf, 32, 32> -> memref<32x32xf32>
  }
  loop.nest "d" domain [] order [] {
    %after = loop.alloc_tile : !loop.tile<sbuf, 32, 4>
    loop.memset %after <sbuf 0, 0, [[1, 32], [1, 4]]> = 1.0 : f32 : !loop.tile<sbuf, 32, 4>
    loop.copy %after <sbuf 0, 0, [[1, 32], [1, 4]]> -> %z <dram 0, [[4, 32], [1, 4]]> : !loop.tile<sbuf, 32, 4> -> memref<32x4xf32>
  }
  func.return %y : memref<32x32xf32>
}

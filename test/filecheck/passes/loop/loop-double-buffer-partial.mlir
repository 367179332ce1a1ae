// RUN: tidal-opt %s -p 'loop-double-buffer{chip=default}' | filecheck %s
// RUN: tidal-opt %s -p 'loop-double-buffer{chip=default partial=false}' | filecheck %s --check-prefix=OFF

// A row-taps band as VGG-19's 64-channel 224x224 conv loads it: two loads fill %b,
// one per copy (partitions 0-63, and 64-127 one column on, an element shorter),
// before the add reads its elements 0-7 on every partition. With `partial` the two
// blocks hold all that is read, so %b is filled afresh each iteration and gets a
// second buffer: the next band's loads need not wait for this band's reader. %c
// is loaded the same way but read at elements 1-8, and element 8 of partitions
// 64-127 no load of the iteration writes: it keeps one buffer. %o, written whole
// by the add, is doubled either way.
// CHECK-LABEL: loop.nest "bands" domain [2] order [0] {
// CHECK-NEXT:    %b = loop.alloc_tile
// CHECK-NEXT:    %b_1 = loop.alloc_tile
// CHECK-NEXT:    %c = loop.alloc_tile
// CHECK-NEXT:    %o = loop.alloc_tile
// CHECK-NEXT:    %o_1 = loop.alloc_tile
// CHECK-NEXT:    loop.for d0 {
// CHECK-NEXT:      loop.copy %x <dram 0 + 4608 * i0, {{.*}} -> %b <sbuf 0, 0,
// CHECK-NEXT:      loop.copy %x <dram 4 + 4608 * i0, {{.*}} -> %b <sbuf 64, 0,
// CHECK:           loop.tensor_tensor "add" %o <{{.*}}>, %b <{{.*}}>, %c <
// CHECK:           loop.copy %x <dram 2304 + 4608 * i0, {{.*}} -> %b_1 <sbuf 0, 0,
// CHECK-NEXT:      loop.copy %x <dram 2308 + 4608 * i0, {{.*}} -> %b_1 <sbuf 64, 0,
// CHECK:           loop.tensor_tensor "add" %o_1 <{{.*}}>, %b_1 <{{.*}}>, %c <

// partial=false: only a tile whose first toucher fills it whole is doubled.
// OFF-LABEL: loop.nest "bands" domain [2] order [0] {
// OFF-NEXT:    %b = loop.alloc_tile
// OFF-NEXT:    %c = loop.alloc_tile
// OFF-NEXT:    %o = loop.alloc_tile
// OFF-NEXT:    %o_1 = loop.alloc_tile
// OFF:           loop.tensor_tensor "add" %o_1 <{{.*}}>, %b <{{.*}}>, %c <

func.func @main(%x: memref<4x64x9xf32> {tidal.name = "input"}) -> (memref<4x64x8xf32> {tidal.name = "out"}) {
  %y = loop.alloc : memref<4x64x8xf32>
  loop.nest "bands" domain [4] order [0] {
    %b = loop.alloc_tile : !loop.tile<sbuf, 128, 9>
    %c = loop.alloc_tile : !loop.tile<sbuf, 128, 9>
    %o = loop.alloc_tile : !loop.tile<sbuf, 128, 8>
    loop.for d0 {
      loop.copy %x <dram 0 + 2304 * i0, [[9, 64], [1, 9]]> -> %b <sbuf 0, 0, [[1, 64], [1, 9]]> : memref<4x64x9xf32> -> !loop.tile<sbuf, 128, 9>
      loop.copy %x <dram 4 + 2304 * i0, [[9, 64], [1, 8]]> -> %b <sbuf 64, 0, [[1, 64], [1, 8]]> : memref<4x64x9xf32> -> !loop.tile<sbuf, 128, 9>
      loop.copy %x <dram 0 + 2304 * i0, [[9, 64], [1, 9]]> -> %c <sbuf 0, 0, [[1, 64], [1, 9]]> : memref<4x64x9xf32> -> !loop.tile<sbuf, 128, 9>
      loop.copy %x <dram 4 + 2304 * i0, [[9, 64], [1, 8]]> -> %c <sbuf 64, 0, [[1, 64], [1, 8]]> : memref<4x64x9xf32> -> !loop.tile<sbuf, 128, 9>
      loop.tensor_tensor "add" %o <sbuf 0, 0, [[1, 128], [1, 8]]>, %b <sbuf 0, 0, [[1, 128], [1, 8]]>, %c <sbuf 0, 4, [[1, 128], [1, 8]]> : !loop.tile<sbuf, 128, 8>, !loop.tile<sbuf, 128, 9>, !loop.tile<sbuf, 128, 9>
      loop.copy %o <sbuf 0, 0, [[1, 64], [1, 8]]> -> %y <dram 0 + 2048 * i0, [[8, 64], [1, 8]]> : !loop.tile<sbuf, 128, 8> -> memref<4x64x8xf32>
    }
  }
  func.return %y : memref<4x64x8xf32>
}

// RUN: tidal-opt %s -p 'loop-double-buffer{chip=small}' | filecheck %s
// RUN: tidal-opt %s -p 'loop-double-buffer{chip=small crossing=false}' | filecheck %s --check-prefix=ALL

// %t (a DMA writes it, ACT reads it) and %v (ACT writes it, a DMA reads it) are
// private to d0 and touched by two engines: each gets a second buffer, so the next
// iteration's load runs while ACT works on this one's and the store of this one's
// result while ACT writes the next. %u is private to d0 too, but only ACT touches
// it, in order: a second buffer would overlap nothing, so it keeps one.
// CHECK-LABEL: loop.nest "act2" domain [2] order [0] {
// CHECK-NEXT:    %t = loop.alloc_tile
// CHECK-NEXT:    %t_1 = loop.alloc_tile
// CHECK-NEXT:    %u = loop.alloc_tile
// CHECK-NEXT:    %v = loop.alloc_tile
// CHECK-NEXT:    %v_1 = loop.alloc_tile
// CHECK-NEXT:    loop.for d0 {
// CHECK-NEXT:      loop.copy %x <dram 0 + 256 * i0, {{.*}} -> %t <
// CHECK-NEXT:      loop.act "relu" %u <{{.*}}>, %t <
// CHECK-NEXT:      loop.act "exp" %v <{{.*}}>, %u <
// CHECK-NEXT:      loop.copy %v <{{.*}}> -> %y <dram 0 + 256 * i0,
// CHECK-NEXT:      loop.copy %x <dram 128 + 256 * i0, {{.*}} -> %t_1 <
// CHECK-NEXT:      loop.act "relu" %u <{{.*}}>, %t_1 <
// CHECK-NEXT:      loop.act "exp" %v_1 <{{.*}}>, %u <
// CHECK-NEXT:      loop.copy %v_1 <{{.*}}> -> %y <dram 128 + 256 * i0,
// CHECK-NEXT:    }
// CHECK-NEXT:  }

// crossing=false: every private tile that fits gets a second buffer, %u as well.
// ALL-LABEL: loop.nest "act2" domain [2] order [0] {
// ALL-NEXT:    %t = loop.alloc_tile
// ALL-NEXT:    %t_1 = loop.alloc_tile
// ALL-NEXT:    %u = loop.alloc_tile
// ALL-NEXT:    %u_1 = loop.alloc_tile
// ALL-NEXT:    %v = loop.alloc_tile
// ALL-NEXT:    %v_1 = loop.alloc_tile
// ALL:           loop.act "relu" %u_1 <{{.*}}>, %t_1 <
// ALL-NEXT:      loop.act "exp" %v_1 <{{.*}}>, %u_1 <

func.func @main(%x: memref<4x32xf32> {tidal.name = "input"}) -> (memref<4x32xf32> {tidal.name = "out"}) {
  %y = loop.alloc : memref<4x32xf32>
  loop.nest "act2" domain [4] order [0] {
    %t = loop.alloc_tile : !loop.tile<sbuf, 32, 1>
    %u = loop.alloc_tile : !loop.tile<sbuf, 32, 1>
    %v = loop.alloc_tile : !loop.tile<sbuf, 32, 1>
    loop.for d0 {
      loop.copy %x <dram 0 + 128 * i0, [[1, 32], [1, 1]]> -> %t <sbuf 0, 0, [[1, 32], [1, 1]]> : memref<4x32xf32> -> !loop.tile<sbuf, 32, 1>
      loop.act "relu" %u <sbuf 0, 0, [[1, 32], [1, 1]]>, %t <sbuf 0, 0, [[1, 32], [1, 1]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 32, 1>, !loop.tile<sbuf, 32, 1>
      loop.act "exp" %v <sbuf 0, 0, [[1, 32], [1, 1]]>, %u <sbuf 0, 0, [[1, 32], [1, 1]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 32, 1>, !loop.tile<sbuf, 32, 1>
      loop.copy %v <sbuf 0, 0, [[1, 32], [1, 1]]> -> %y <dram 0 + 128 * i0, [[1, 32], [1, 1]]> : !loop.tile<sbuf, 32, 1> -> memref<4x32xf32>
    }
  }
  func.return %y : memref<4x32xf32>
}

// RUN: tidal-opt %s -p 'loop-keep-on-chip{chip=small}' | filecheck %s
// RUN: tidal-opt %s -p 'loop-keep-on-chip{chip=small forwarded=false}' | filecheck %s --check-prefix=OFF

// The small chip has 64 KiB per partition. "a" holds %big (40 KiB), its input tile
// %s (4 KiB) and %t (16 KiB), which it stores whole into %h; keeping %h takes
// another 16 KiB per partition: 76 KiB with %t, too much. But forwarding replaces
// %t by the kept %h (its only use is the store), so with `forwarded` the fit
// counts 60 KiB and %h stays on chip: "a" applies its relu into %h, "b" reads it.
// Without, %h stays in DRAM.
// CHECK-LABEL: func.func @main(
// CHECK-NEXT:    %h = loop.alloc_tile : !loop.tile<sbuf, 32, 4096>
// CHECK:         loop.nest "a"
// CHECK-NOT:       %t = loop.alloc_tile
// CHECK:           loop.act "relu" %h <sbuf 0, 0 + 4096 * i0, [[1, 32], [1, 1024]]>, %s
// CHECK:         loop.nest "b"
// CHECK:           loop.act "exp" %w <sbuf 0, 0, [[1, 32], [1, 1024]]>, %h <sbuf 0, 0 + 4096 * i0, [[1, 32], [1, 1024]]>
// OFF-LABEL: func.func @main(
// OFF-NEXT:    %h = loop.alloc : memref<1x128x32x32xf32>
// OFF:           loop.copy %t <sbuf 0, 0 + 4096 * i0, [[1, 32], [1, 1024]]> -> %h <dram
func.func @main(%x: memref<1x128x32x32xf32>) -> memref<1x128x32x32xf32> {
  %h = loop.alloc : memref<1x128x32x32xf32>
  %y = loop.alloc : memref<1x128x32x32xf32>
  loop.nest "a" domain [4] order [0] {
    %big = loop.alloc_tile : !loop.tile<sbuf, 32, 10240>
    %s = loop.alloc_tile : !loop.tile<sbuf, 32, 1024>
    %t = loop.alloc_tile : !loop.tile<sbuf, 32, 4096>
    loop.memset %big <sbuf 0, 0, [[1, 32], [1, 10240]]> = 0.0 : f32 : !loop.tile<sbuf, 32, 10240>
    loop.for d0 {
      loop.copy %x <dram 131072 * i0, [[1024, 32], [1, 1024]]> -> %s <sbuf 0, 0, [[1, 32], [1, 1024]]> : memref<1x128x32x32xf32> -> !loop.tile<sbuf, 32, 1024>
      loop.act "relu" %t <sbuf 0, 4096 * i0, [[1, 32], [1, 1024]]>, %s <sbuf 0, 0, [[1, 32], [1, 1024]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 32, 4096>, !loop.tile<sbuf, 32, 1024>
      loop.copy %t <sbuf 0, 4096 * i0, [[1, 32], [1, 1024]]> -> %h <dram 131072 * i0, [[1024, 32], [1, 1024]]> : !loop.tile<sbuf, 32, 4096> -> memref<1x128x32x32xf32>
    }
  }
  loop.nest "b" domain [4] order [0] {
    %u = loop.alloc_tile : !loop.tile<sbuf, 32, 1024>
    %w = loop.alloc_tile : !loop.tile<sbuf, 32, 1024>
    loop.for d0 {
      loop.copy %h <dram 131072 * i0, [[1024, 32], [1, 1024]]> -> %u <sbuf 0, 0, [[1, 32], [1, 1024]]> : memref<1x128x32x32xf32> -> !loop.tile<sbuf, 32, 1024>
      loop.act "exp" %w <sbuf 0, 0, [[1, 32], [1, 1024]]>, %u <sbuf 0, 0, [[1, 32], [1, 1024]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 32, 1024>, !loop.tile<sbuf, 32, 1024>
      loop.copy %w <sbuf 0, 0, [[1, 32], [1, 1024]]> -> %y <dram 131072 * i0, [[1024, 32], [1, 1024]]> : !loop.tile<sbuf, 32, 1024> -> memref<1x128x32x32xf32>
    }
  }
  func.return %y : memref<1x128x32x32xf32>
}

// RUN: tidal-opt %s -p 'loop-keep-on-chip{chip=small forward=false}' --split-input-file | filecheck %s

// %h (64 channels of 4x4, written by "a", read by "b", each copy a row of 16
// elements per partition, 32 channels per loop step) stays in SBUF: 32 partitions,
// two groups of 16 elements each; the step of 2048 DRAM bytes (32 rows) becomes 64
// bytes of the partition. %odd is read 8 elements per partition (half a row), which
// no layout both copies agree on gives: it stays in DRAM. %y is returned: DRAM.

// CHECK-LABEL: func.func @main(
// CHECK-NEXT:    %h = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
// CHECK-NEXT:    %odd = loop.alloc : memref<1x32x4x4xf32>
// CHECK-NEXT:    %y = loop.alloc : memref<1x64x4x4xf32>
// CHECK:         loop.nest "a"
// CHECK:           loop.copy %t <sbuf 0, 0, [[1, 32], [1, 16]]> -> %h <sbuf 0, 0 + 64 * i0, [[1, 32], [1, 16]]> : !loop.tile<sbuf, 32, 16> -> !loop.tile<sbuf, 32, 32>
// CHECK-NEXT:      loop.copy %t <sbuf 0, 0, [[1, 32], [1, 16]]> -> %odd <dram 0, [[16, 32], [1, 16]]>
// CHECK:         loop.nest "b"
// CHECK:           loop.copy %h <sbuf 0, 0 + 64 * i0, [[1, 32], [1, 16]]> -> %u <sbuf 0, 0, [[1, 32], [1, 16]]> : !loop.tile<sbuf, 32, 32> -> !loop.tile<sbuf, 32, 16>
// CHECK-NEXT:      loop.copy %odd <dram 0, [[8, 32], [1, 8]]>
// CHECK:           loop.copy %u <sbuf 0, 0, [[1, 32], [1, 16]]> -> %y <dram 0 + 2048 * i0, [[16, 32], [1, 16]]>
func.func @main(%x: memref<1x64x4x4xf32>) -> memref<1x64x4x4xf32> {
  %h = loop.alloc : memref<1x64x4x4xf32>
  %odd = loop.alloc : memref<1x32x4x4xf32>
  %y = loop.alloc : memref<1x64x4x4xf32>
  loop.nest "a" domain [2] order [0] {
    %t = loop.alloc_tile : !loop.tile<sbuf, 32, 16>
    loop.for d0 {
      loop.copy %x <dram 2048 * i0, [[16, 32], [1, 16]]> -> %t <sbuf 0, 0, [[1, 32], [1, 16]]> : memref<1x64x4x4xf32> -> !loop.tile<sbuf, 32, 16>
      loop.act "relu" %t <sbuf 0, 0, [[1, 32], [1, 16]]>, %t <sbuf 0, 0, [[1, 32], [1, 16]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 32, 16>, !loop.tile<sbuf, 32, 16>
      loop.copy %t <sbuf 0, 0, [[1, 32], [1, 16]]> -> %h <dram 2048 * i0, [[16, 32], [1, 16]]> : !loop.tile<sbuf, 32, 16> -> memref<1x64x4x4xf32>
      loop.copy %t <sbuf 0, 0, [[1, 32], [1, 16]]> -> %odd <dram 0, [[16, 32], [1, 16]]> : !loop.tile<sbuf, 32, 16> -> memref<1x32x4x4xf32>
    }
  }
  loop.nest "b" domain [2] order [0] {
    %u = loop.alloc_tile : !loop.tile<sbuf, 32, 16>
    %v = loop.alloc_tile : !loop.tile<sbuf, 32, 8>
    loop.for d0 {
      loop.copy %h <dram 2048 * i0, [[16, 32], [1, 16]]> -> %u <sbuf 0, 0, [[1, 32], [1, 16]]> : memref<1x64x4x4xf32> -> !loop.tile<sbuf, 32, 16>
      loop.copy %odd <dram 0, [[8, 32], [1, 8]]> -> %v <sbuf 0, 0, [[1, 32], [1, 8]]> : memref<1x32x4x4xf32> -> !loop.tile<sbuf, 32, 8>
      loop.act "exp" %u <sbuf 0, 0, [[1, 32], [1, 16]]>, %u <sbuf 0, 0, [[1, 32], [1, 16]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 32, 16>, !loop.tile<sbuf, 32, 16>
      loop.copy %u <sbuf 0, 0, [[1, 32], [1, 16]]> -> %y <dram 2048 * i0, [[16, 32], [1, 16]]> : !loop.tile<sbuf, 32, 16> -> memref<1x64x4x4xf32>
    }
  }
  func.return %y : memref<1x64x4x4xf32>
}

// -----

// A view of the buffer (a reshape) is read like the buffer: both go on chip, the
// view disappears. The reader walks the flat [64, 16] view with one row per
// partition, as the writer does; the 64 rows need two groups on 32 partitions.

// CHECK-LABEL: func.func @view(
// CHECK-NEXT:    %h = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
// CHECK-NOT:     loop.view
// CHECK:         loop.copy %t <sbuf 0, 0, [[1, 32], [1, 16]]> -> %h <sbuf 0, 0, [[1, 32], [1, 16]]>
// CHECK:         loop.copy %h <sbuf 0, 64, [[1, 32], [1, 16]]> -> %u <sbuf 0, 0, [[1, 32], [1, 16]]>
func.func @view(%x: memref<1x64x4x4xf32>) -> memref<64x16xf32> {
  %h = loop.alloc : memref<1x64x4x4xf32>
  %flat = loop.view %h : memref<1x64x4x4xf32> -> memref<64x16xf32>
  %y = loop.alloc : memref<64x16xf32>
  loop.nest "a" domain [] order [] {
    %t = loop.alloc_tile : !loop.tile<sbuf, 32, 16>
    loop.copy %x <dram 0, [[16, 32], [1, 16]]> -> %t <sbuf 0, 0, [[1, 32], [1, 16]]> : memref<1x64x4x4xf32> -> !loop.tile<sbuf, 32, 16>
    loop.copy %t <sbuf 0, 0, [[1, 32], [1, 16]]> -> %h <dram 0, [[16, 32], [1, 16]]> : !loop.tile<sbuf, 32, 16> -> memref<1x64x4x4xf32>
    loop.copy %t <sbuf 0, 0, [[1, 32], [1, 16]]> -> %h <dram 2048, [[16, 32], [1, 16]]> : !loop.tile<sbuf, 32, 16> -> memref<1x64x4x4xf32>
  }
  loop.nest "b" domain [] order [] {
    %u = loop.alloc_tile : !loop.tile<sbuf, 32, 16>
    loop.copy %flat <dram 2048, [[16, 32], [1, 16]]> -> %u <sbuf 0, 0, [[1, 32], [1, 16]]> : memref<64x16xf32> -> !loop.tile<sbuf, 32, 16>
    loop.copy %u <sbuf 0, 0, [[1, 32], [1, 16]]> -> %y <dram 0, [[16, 32], [1, 16]]> : !loop.tile<sbuf, 32, 16> -> memref<64x16xf32>
  }
  func.return %y : memref<64x16xf32>
}

// RUN: tidal-opt %s -p 'loop-keep-on-chip{chip=small}' | filecheck %s
// RUN: tidal-opt %s -p 'loop-keep-on-chip{chip=small forward=false}' | filecheck %s --check-prefix=COPY

// With the tensor %h kept on chip, "a"'s ACT writes it in place of %t (the store
// copy goes, and %t with it), and "b"'s ACT reads it in place of %u (the load copy
// goes): the same elements, at %h's addresses (the loop step of 64 bytes included).
// "b"'s %w is written after being read by its store: it stays.

// CHECK-LABEL: func.func @main(
// CHECK-NEXT:    %h = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
// CHECK:         loop.nest "a"
// CHECK-NEXT:      %s = loop.alloc_tile
// CHECK-NEXT:      loop.for d0 {
// CHECK-NEXT:        loop.copy %x <dram 0 + 2048 * i0, [[16, 32], [1, 16]]> -> %s
// CHECK-NEXT:        loop.act "relu" %h <sbuf 0, 0 + 64 * i0, [[1, 32], [1, 16]]>, %s <sbuf 0, 0, [[1, 32], [1, 16]]>
// CHECK-NEXT:      }
// CHECK:         loop.nest "b"
// CHECK-NEXT:      %w = loop.alloc_tile
// CHECK-NEXT:      loop.for d0 {
// CHECK-NEXT:        loop.act "exp" %w <sbuf 0, 0, [[1, 32], [1, 16]]>, %h <sbuf 0, 0 + 64 * i0, [[1, 32], [1, 16]]>
// CHECK-NEXT:        loop.copy %w <sbuf 0, 0, [[1, 32], [1, 16]]> -> %y

// COPY:          loop.act "relu" %t <sbuf 0, 0, [[1, 32], [1, 16]]>, %s
// COPY-NEXT:     loop.copy %t <sbuf 0, 0, [[1, 32], [1, 16]]> -> %h <sbuf 0, 0 + 64 * i0, [[1, 32], [1, 16]]>
// COPY:          loop.copy %h <sbuf 0, 0 + 64 * i0, [[1, 32], [1, 16]]> -> %u <sbuf 0, 0, [[1, 32], [1, 16]]>
// COPY-NEXT:     loop.act "exp" %w <sbuf 0, 0, [[1, 32], [1, 16]]>, %u
func.func @main(%x: memref<1x64x4x4xf32>) -> memref<1x64x4x4xf32> {
  %h = loop.alloc : memref<1x64x4x4xf32>
  %y = loop.alloc : memref<1x64x4x4xf32>
  loop.nest "a" domain [2] order [0] {
    %s = loop.alloc_tile : !loop.tile<sbuf, 32, 16>
    %t = loop.alloc_tile : !loop.tile<sbuf, 32, 16>
    loop.for d0 {
      loop.copy %x <dram 2048 * i0, [[16, 32], [1, 16]]> -> %s <sbuf 0, 0, [[1, 32], [1, 16]]> : memref<1x64x4x4xf32> -> !loop.tile<sbuf, 32, 16>
      loop.act "relu" %t <sbuf 0, 0, [[1, 32], [1, 16]]>, %s <sbuf 0, 0, [[1, 32], [1, 16]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 32, 16>, !loop.tile<sbuf, 32, 16>
      loop.copy %t <sbuf 0, 0, [[1, 32], [1, 16]]> -> %h <dram 2048 * i0, [[16, 32], [1, 16]]> : !loop.tile<sbuf, 32, 16> -> memref<1x64x4x4xf32>
    }
  }
  loop.nest "b" domain [2] order [0] {
    %u = loop.alloc_tile : !loop.tile<sbuf, 32, 16>
    %w = loop.alloc_tile : !loop.tile<sbuf, 32, 16>
    loop.for d0 {
      loop.copy %h <dram 2048 * i0, [[16, 32], [1, 16]]> -> %u <sbuf 0, 0, [[1, 32], [1, 16]]> : memref<1x64x4x4xf32> -> !loop.tile<sbuf, 32, 16>
      loop.act "exp" %w <sbuf 0, 0, [[1, 32], [1, 16]]>, %u <sbuf 0, 0, [[1, 32], [1, 16]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 32, 16>, !loop.tile<sbuf, 32, 16>
      loop.copy %w <sbuf 0, 0, [[1, 32], [1, 16]]> -> %y <dram 2048 * i0, [[16, 32], [1, 16]]> : !loop.tile<sbuf, 32, 16> -> memref<1x64x4x4xf32>
    }
  }
  func.return %y : memref<1x64x4x4xf32>
}

// RUN: tidal-opt %s -p 'loop-keep-on-chip{chip=small forward=false}' | filecheck %s
// RUN: tidal-opt %s -p 'loop-keep-on-chip{chip=small}' | filecheck %s --check-prefix=FWD
// RUN: tidal-opt %s -p 'loop-keep-on-chip{chip=small outputs=false}' | filecheck %s --check-prefix=OFF

// %h is returned (logits) and read by the next nest (a softmax): it stays a DRAM
// buffer written as before, and a kept copy %h_kept in SBUF follows each store; "b"
// reads the kept copy instead of loading what "a" stored. %y is returned and read
// by no nest: DRAM only.
// CHECK-LABEL: func.func @main(
// CHECK-NEXT:    %h_kept = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
// CHECK-NEXT:    %h = loop.alloc : memref<1x64x4x4xf32>
// CHECK-NEXT:    %y = loop.alloc : memref<1x64x4x4xf32>
// CHECK:         loop.nest "a"
// CHECK:           loop.copy %t <sbuf 0, 0, [[1, 32], [1, 16]]> -> %h <dram 0 + 2048 * i0, [[16, 32], [1, 16]]>
// CHECK-NEXT:      loop.copy %t <sbuf 0, 0, [[1, 32], [1, 16]]> -> %h_kept <sbuf 0, 0 + 64 * i0, [[1, 32], [1, 16]]>
// CHECK:         loop.nest "b"
// CHECK:           loop.copy %h_kept <sbuf 0, 0 + 64 * i0, [[1, 32], [1, 16]]> -> %u <sbuf 0, 0, [[1, 32], [1, 16]]>
// CHECK:           loop.copy %u <sbuf 0, 0, [[1, 32], [1, 16]]> -> %y <dram
// CHECK:         func.return %h, %y

// Forwarded, "a" loads its input into the kept copy, applies its relu there and
// stores the logits from it; "b" still copies them into its own tile (its exp
// writes that tile).
// FWD-LABEL: func.func @main(
// FWD:         loop.nest "a"
// FWD-NEXT:      loop.for d0 {
// FWD-NEXT:        loop.copy %x <dram 0 + 2048 * i0, [[16, 32], [1, 16]]> -> %h_kept <sbuf 0, 0 + 64 * i0, [[1, 32], [1, 16]]>
// FWD-NEXT:        loop.act "relu" %h_kept <sbuf 0, 0 + 64 * i0, [[1, 32], [1, 16]]>, %h_kept
// FWD-NEXT:        loop.copy %h_kept <sbuf 0, 0 + 64 * i0, [[1, 32], [1, 16]]> -> %h <dram 0 + 2048 * i0, [[16, 32], [1, 16]]>
// FWD-NEXT:      }
// FWD:         loop.nest "b"
// FWD:           loop.copy %h_kept <sbuf 0, 0 + 64 * i0, [[1, 32], [1, 16]]> -> %u

// OFF-LABEL: func.func @main(
// OFF-NEXT:    %h = loop.alloc : memref<1x64x4x4xf32>
// OFF:         loop.nest "b"
// OFF:           loop.copy %h <dram 0 + 2048 * i0, [[16, 32], [1, 16]]> -> %u
func.func @main(%x: memref<1x64x4x4xf32>) -> (memref<1x64x4x4xf32>, memref<1x64x4x4xf32>) {
  %h = loop.alloc : memref<1x64x4x4xf32>
  %y = loop.alloc : memref<1x64x4x4xf32>
  loop.nest "a" domain [2] order [0] {
    %t = loop.alloc_tile : !loop.tile<sbuf, 32, 16>
    loop.for d0 {
      loop.copy %x <dram 2048 * i0, [[16, 32], [1, 16]]> -> %t <sbuf 0, 0, [[1, 32], [1, 16]]> : memref<1x64x4x4xf32> -> !loop.tile<sbuf, 32, 16>
      loop.act "relu" %t <sbuf 0, 0, [[1, 32], [1, 16]]>, %t <sbuf 0, 0, [[1, 32], [1, 16]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 32, 16>, !loop.tile<sbuf, 32, 16>
      loop.copy %t <sbuf 0, 0, [[1, 32], [1, 16]]> -> %h <dram 2048 * i0, [[16, 32], [1, 16]]> : !loop.tile<sbuf, 32, 16> -> memref<1x64x4x4xf32>
    }
  }
  loop.nest "b" domain [2] order [0] {
    %u = loop.alloc_tile : !loop.tile<sbuf, 32, 16>
    loop.for d0 {
      loop.copy %h <dram 2048 * i0, [[16, 32], [1, 16]]> -> %u <sbuf 0, 0, [[1, 32], [1, 16]]> : memref<1x64x4x4xf32> -> !loop.tile<sbuf, 32, 16>
      loop.act "exp" %u <sbuf 0, 0, [[1, 32], [1, 16]]>, %u <sbuf 0, 0, [[1, 32], [1, 16]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 32, 16>, !loop.tile<sbuf, 32, 16>
      loop.copy %u <sbuf 0, 0, [[1, 32], [1, 16]]> -> %y <dram 2048 * i0, [[16, 32], [1, 16]]> : !loop.tile<sbuf, 32, 16> -> memref<1x64x4x4xf32>
    }
  }
  func.return %h, %y : memref<1x64x4x4xf32>, memref<1x64x4x4xf32>
}

// RUN: tidal-opt %s -p 'loop-keep-on-chip{chip=small}' | filecheck %s

// Two more ways a nest uses kept tensors in place of its tiles:
// - "b" loads %h into %u, updates it in place (one ACT per channel tile, the loop
//   stepping past each tile's extent) and stores it to %g: the ACT reads %h and
//   writes %g, and both copies and %u go (channel_affine's load, ACT, store).
// - "c" fills %v from %g by two copies (two channel tiles) at the same shift of
//   addresses: its ACT reads %g, and both copies go (a conv's input-channel tiles).

// CHECK-LABEL: func.func @main(
// CHECK:         loop.nest "b"
// CHECK-NEXT:      loop.for d0 {
// CHECK-NEXT:        loop.act "exp" %g <sbuf 0, 0 + 64 * i0, [[1, 32], [1, 16]]>, %h <sbuf 0, 0 + 64 * i0, [[1, 32], [1, 16]]>
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK-NEXT:    loop.nest "c"
// CHECK-NEXT:      %w = loop.alloc_tile
// CHECK-NEXT:      loop.act "relu" %w <sbuf 0, 0, [[1, 32], [1, 32]]>, %g <sbuf 0, 0, [[1, 32], [1, 32]]>
// CHECK-NEXT:      loop.copy %w

// Not here: "b"'s ACT touches the same elements in every iteration (reading %h
// and writing %g would lose the first update), so only its store goes (the ACT
// updates %g in place after a copy); "c"'s two copies shift by different amounts.

// CHECK-LABEL: func.func @twice(
// CHECK:         loop.nest "b"
// CHECK-NEXT:      loop.copy %h <sbuf 0, 0, [[1, 32], [1, 16]]> -> %g <sbuf 0, 0, [[1, 32], [1, 16]]>
// CHECK-NEXT:      loop.for d0 {
// CHECK-NEXT:        loop.act "exp" %g <sbuf 0, 0, [[1, 32], [1, 16]]>, %g <sbuf 0, 0, [[1, 32], [1, 16]]>
// CHECK:         loop.nest "c"
// CHECK-NEXT:      %v = loop.alloc_tile
// CHECK-NEXT:      loop.copy %g <sbuf 0, 0, [[1, 32], [1, 8]]> -> %v <sbuf 0, 0, [[1, 32], [1, 8]]>
// CHECK-NEXT:      loop.copy %g <sbuf 0, 32, [[1, 32], [1, 8]]> -> %v <sbuf 0, 0, [[1, 32], [1, 8]]>

// A store whose tile window steps with the loop ("p" fills %o's two halves, one per
// iteration, each stored to its channel tile of %k): the window's shift to %k is
// the same in every iteration, so the ACT writes %k at the stepping address.
// CHECK-LABEL: func.func @affine(
// CHECK:         loop.nest "p"
// CHECK-NEXT:      %s = loop.alloc_tile
// CHECK-NEXT:      loop.for d0 {
// CHECK-NEXT:        loop.copy %x
// CHECK-NEXT:        loop.act "relu" %k <sbuf 0, 0 + 64 * i0, [[1, 32], [1, 16]]>, %s
// CHECK-NEXT:      }

// The update in pieces ("b": two pieces of 8 elements, outermost, inside them the
// two channel tiles of 16, channel_affine's affine-pieces): no element is touched
// twice, so the ACT reads %h and writes %g in place. In @overlap the pieces step by
// 4 elements and overlap: the copies stay.
// CHECK-LABEL: func.func @pieces(
// CHECK:         loop.nest "b"
// CHECK-NEXT:      loop.for d0 {
// CHECK-NEXT:        loop.for d1 {
// CHECK-NEXT:          loop.act "exp" %g <sbuf 0, 0 + 32 * i0 + 64 * i1, [[1, 32], [1, 8]]>, %h <sbuf 0, 0 + 32 * i0 + 64 * i1, [[1, 32], [1, 8]]>
// CHECK-LABEL: func.func @overlap(
// CHECK:         loop.nest "b"
// CHECK-NEXT:      loop.copy %h
// CHECK-NEXT:      loop.for d0 {
// CHECK-NEXT:        loop.for d1 {
// CHECK-NEXT:          loop.act "exp" %g <sbuf 0, 0 + 16 * i0 + 64 * i1, [[1, 32], [1, 8]]>, %g <sbuf 0, 0 + 16 * i0 + 64 * i1, [[1, 32], [1, 8]]>

func.func @main(%x: memref<1x64x4x4xf32>) -> memref<1x64x4x4xf32> {
  %h = loop.alloc : memref<1x64x4x4xf32>
  %g = loop.alloc : memref<1x64x4x4xf32>
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
    %u = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
    loop.copy %h <dram 0, [[16, 32], [512, 2], [1, 16]]> -> %u <sbuf 0, 0, [[1, 32], [1, 32]]> : memref<1x64x4x4xf32> -> !loop.tile<sbuf, 32, 32>
    loop.for d0 {
      loop.act "exp" %u <sbuf 0, 0 + 64 * i0, [[1, 32], [1, 16]]>, %u <sbuf 0, 0 + 64 * i0, [[1, 32], [1, 16]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 32, 32>, !loop.tile<sbuf, 32, 32>
    }
    loop.copy %u <sbuf 0, 0, [[1, 32], [1, 32]]> -> %g <dram 0, [[16, 32], [512, 2], [1, 16]]> : !loop.tile<sbuf, 32, 32> -> memref<1x64x4x4xf32>
  }
  loop.nest "c" domain [] order [] {
    %v = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
    %w = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
    loop.copy %g <dram 0, [[16, 32], [1, 16]]> -> %v <sbuf 0, 0, [[1, 32], [1, 16]]> : memref<1x64x4x4xf32> -> !loop.tile<sbuf, 32, 32>
    loop.copy %g <dram 2048, [[16, 32], [1, 16]]> -> %v <sbuf 0, 64, [[1, 32], [1, 16]]> : memref<1x64x4x4xf32> -> !loop.tile<sbuf, 32, 32>
    loop.act "relu" %w <sbuf 0, 0, [[1, 32], [1, 32]]>, %v <sbuf 0, 0, [[1, 32], [1, 32]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 32, 32>, !loop.tile<sbuf, 32, 32>
    loop.copy %w <sbuf 0, 0, [[1, 32], [1, 32]]> -> %y <dram 0, [[16, 32], [512, 2], [1, 16]]> : !loop.tile<sbuf, 32, 32> -> memref<1x64x4x4xf32>
  }
  func.return %y : memref<1x64x4x4xf32>
}


func.func @twice(%x: memref<1x32x4x4xf32>) -> memref<1x32x4x4xf32> {
  %h = loop.alloc : memref<1x32x4x4xf32>
  %g = loop.alloc : memref<1x32x4x4xf32>
  %y = loop.alloc : memref<1x32x4x4xf32>
  loop.nest "a" domain [] order [] {
    %s = loop.alloc_tile : !loop.tile<sbuf, 32, 16>
    loop.copy %x <dram 0, [[16, 32], [1, 16]]> -> %s <sbuf 0, 0, [[1, 32], [1, 16]]> : memref<1x32x4x4xf32> -> !loop.tile<sbuf, 32, 16>
    loop.copy %s <sbuf 0, 0, [[1, 32], [1, 16]]> -> %h <dram 0, [[16, 32], [1, 16]]> : !loop.tile<sbuf, 32, 16> -> memref<1x32x4x4xf32>
  }
  loop.nest "b" domain [2] order [0] {
    %u = loop.alloc_tile : !loop.tile<sbuf, 32, 16>
    loop.copy %h <dram 0, [[16, 32], [1, 16]]> -> %u <sbuf 0, 0, [[1, 32], [1, 16]]> : memref<1x32x4x4xf32> -> !loop.tile<sbuf, 32, 16>
    loop.for d0 {
      loop.act "exp" %u <sbuf 0, 0, [[1, 32], [1, 16]]>, %u <sbuf 0, 0, [[1, 32], [1, 16]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 32, 16>, !loop.tile<sbuf, 32, 16>
    }
    loop.copy %u <sbuf 0, 0, [[1, 32], [1, 16]]> -> %g <dram 0, [[16, 32], [1, 16]]> : !loop.tile<sbuf, 32, 16> -> memref<1x32x4x4xf32>
  }
  loop.nest "c" domain [] order [] {
    %v = loop.alloc_tile : !loop.tile<sbuf, 32, 16>
    loop.copy %g <dram 0, [[16, 32], [1, 8]]> -> %v <sbuf 0, 0, [[1, 32], [1, 8]]> : memref<1x32x4x4xf32> -> !loop.tile<sbuf, 32, 16>
    loop.copy %g <dram 32, [[16, 32], [1, 8]]> -> %v <sbuf 0, 0, [[1, 32], [1, 8]]> : memref<1x32x4x4xf32> -> !loop.tile<sbuf, 32, 16>
    loop.copy %v <sbuf 0, 0, [[1, 32], [1, 16]]> -> %y <dram 0, [[16, 32], [1, 16]]> : !loop.tile<sbuf, 32, 16> -> memref<1x32x4x4xf32>
  }
  func.return %y : memref<1x32x4x4xf32>
}

func.func @affine(%x: memref<1x64x4x4xf32>) -> memref<1x64x4x4xf32> {
  %k = loop.alloc : memref<1x64x4x4xf32>
  %y = loop.alloc : memref<1x64x4x4xf32>
  loop.nest "p" domain [2] order [0] {
    %s = loop.alloc_tile : !loop.tile<sbuf, 32, 16>
    %o = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
    loop.for d0 {
      loop.copy %x <dram 2048 * i0, [[16, 32], [1, 16]]> -> %s <sbuf 0, 0, [[1, 32], [1, 16]]> : memref<1x64x4x4xf32> -> !loop.tile<sbuf, 32, 16>
      loop.act "relu" %o <sbuf 0, 64 * i0, [[1, 32], [1, 16]]>, %s <sbuf 0, 0, [[1, 32], [1, 16]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 32, 32>, !loop.tile<sbuf, 32, 16>
      loop.copy %o <sbuf 0, 64 * i0, [[1, 32], [1, 16]]> -> %k <dram 2048 * i0, [[16, 32], [1, 16]]> : !loop.tile<sbuf, 32, 32> -> memref<1x64x4x4xf32>
    }
  }
  loop.nest "q" domain [] order [] {
    %u = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
    %w = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
    loop.copy %k <dram 0, [[16, 32], [512, 2], [1, 16]]> -> %u <sbuf 0, 0, [[1, 32], [1, 32]]> : memref<1x64x4x4xf32> -> !loop.tile<sbuf, 32, 32>
    loop.act "exp" %w <sbuf 0, 0, [[1, 32], [1, 32]]>, %u <sbuf 0, 0, [[1, 32], [1, 32]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 32, 32>, !loop.tile<sbuf, 32, 32>
    loop.copy %w <sbuf 0, 0, [[1, 32], [1, 32]]> -> %y <dram 0, [[16, 32], [512, 2], [1, 16]]> : !loop.tile<sbuf, 32, 32> -> memref<1x64x4x4xf32>
  }
  func.return %y : memref<1x64x4x4xf32>
}

func.func @pieces(%x: memref<1x64x4x4xf32>) -> memref<1x64x4x4xf32> {
  %h = loop.alloc : memref<1x64x4x4xf32>
  %g = loop.alloc : memref<1x64x4x4xf32>
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
  loop.nest "b" domain [2, 2] order [0, 1] {
    %u = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
    loop.copy %h <dram 0, [[16, 32], [512, 2], [1, 16]]> -> %u <sbuf 0, 0, [[1, 32], [1, 32]]> : memref<1x64x4x4xf32> -> !loop.tile<sbuf, 32, 32>
    loop.for d0 {
      loop.for d1 {
        loop.act "exp" %u <sbuf 0, 0 + 32 * i0 + 64 * i1, [[1, 32], [1, 8]]>, %u <sbuf 0, 0 + 32 * i0 + 64 * i1, [[1, 32], [1, 8]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 32, 32>, !loop.tile<sbuf, 32, 32>
      }
    }
    loop.copy %u <sbuf 0, 0, [[1, 32], [1, 32]]> -> %g <dram 0, [[16, 32], [512, 2], [1, 16]]> : !loop.tile<sbuf, 32, 32> -> memref<1x64x4x4xf32>
  }
  loop.nest "c" domain [] order [] {
    %v = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
    %w = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
    loop.copy %g <dram 0, [[16, 32], [512, 2], [1, 16]]> -> %v <sbuf 0, 0, [[1, 32], [1, 32]]> : memref<1x64x4x4xf32> -> !loop.tile<sbuf, 32, 32>
    loop.act "relu" %w <sbuf 0, 0, [[1, 32], [1, 32]]>, %v <sbuf 0, 0, [[1, 32], [1, 32]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 32, 32>, !loop.tile<sbuf, 32, 32>
    loop.copy %w <sbuf 0, 0, [[1, 32], [1, 32]]> -> %y <dram 0, [[16, 32], [512, 2], [1, 16]]> : !loop.tile<sbuf, 32, 32> -> memref<1x64x4x4xf32>
  }
  func.return %y : memref<1x64x4x4xf32>
}

func.func @overlap(%x: memref<1x64x4x4xf32>) -> memref<1x64x4x4xf32> {
  %h = loop.alloc : memref<1x64x4x4xf32>
  %g = loop.alloc : memref<1x64x4x4xf32>
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
  loop.nest "b" domain [2, 2] order [0, 1] {
    %u = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
    loop.copy %h <dram 0, [[16, 32], [512, 2], [1, 16]]> -> %u <sbuf 0, 0, [[1, 32], [1, 32]]> : memref<1x64x4x4xf32> -> !loop.tile<sbuf, 32, 32>
    loop.for d0 {
      loop.for d1 {
        loop.act "exp" %u <sbuf 0, 0 + 16 * i0 + 64 * i1, [[1, 32], [1, 8]]>, %u <sbuf 0, 0 + 16 * i0 + 64 * i1, [[1, 32], [1, 8]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 32, 32>, !loop.tile<sbuf, 32, 32>
      }
    }
    loop.copy %u <sbuf 0, 0, [[1, 32], [1, 32]]> -> %g <dram 0, [[16, 32], [512, 2], [1, 16]]> : !loop.tile<sbuf, 32, 32> -> memref<1x64x4x4xf32>
  }
  loop.nest "c" domain [] order [] {
    %v = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
    %w = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
    loop.copy %g <dram 0, [[16, 32], [512, 2], [1, 16]]> -> %v <sbuf 0, 0, [[1, 32], [1, 32]]> : memref<1x64x4x4xf32> -> !loop.tile<sbuf, 32, 32>
    loop.act "relu" %w <sbuf 0, 0, [[1, 32], [1, 32]]>, %v <sbuf 0, 0, [[1, 32], [1, 32]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 32, 32>, !loop.tile<sbuf, 32, 32>
    loop.copy %w <sbuf 0, 0, [[1, 32], [1, 32]]> -> %y <dram 0, [[16, 32], [512, 2], [1, 16]]> : !loop.tile<sbuf, 32, 32> -> memref<1x64x4x4xf32>
  }
  func.return %y : memref<1x64x4x4xf32>
}

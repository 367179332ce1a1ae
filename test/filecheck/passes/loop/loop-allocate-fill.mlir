// RUN: tidal-opt %s -p 'loop-allocate{chip=small overlap=false}' | filecheck %s
// RUN: tidal-opt %s -p 'loop-allocate{chip=small overlap=false fill=false}' | filecheck %s --check-prefix=OFF

// fill: "b"'s weights and input take 31 KiB each of the small chip's 64 KiB, so
// "c"'s weight tile cannot be live during "b", and no distance ahead fits every
// nest: without fill (OFF) no weight tile is reserved ahead and "b"'s %wb reuses
// "a"'s bytes (its load waits for "a"). With fill each weight tile goes back as
// far as the bytes live at the nests it passes stay within 90 % of a partition:
// %wb from "a" on (39 KiB live there), in the highest gap (65536 - 31744), so
// "b"'s %tb takes the bytes below it once "a" is done; %wc still cannot pass "b".

// CHECK:      loop.nest "a"
// CHECK-NEXT:   %wa = loop.alloc_tile {tidal.addr = 0 : i64}
// CHECK-NEXT:   %ta = loop.alloc_tile {tidal.addr = 4096 : i64}
// CHECK:      loop.nest "b"
// CHECK-NEXT:   %wb = loop.alloc_tile {tidal.addr = 33792 : i64}
// CHECK-NEXT:   %tb = loop.alloc_tile {tidal.addr = 0 : i64}
// CHECK:      loop.nest "c"
// CHECK-NEXT:   %wc = loop.alloc_tile {tidal.addr = 0 : i64}

// OFF:        loop.nest "b"
// OFF-NEXT:     %wb = loop.alloc_tile {tidal.addr = 0 : i64}
// OFF-NEXT:     %tb = loop.alloc_tile {tidal.addr = 31744 : i64}
func.func @main(%x: memref<32x7936xf32>) {
  %c = loop.const dense<0.5> : tensor<32x7936xf32> : memref<32x7936xf32>
  loop.nest "a" domain [] order [] {
    %wa = loop.alloc_tile : !loop.tile<sbuf, 32, 1024>
    %ta = loop.alloc_tile : !loop.tile<sbuf, 32, 1024>
    loop.copy %c <dram 0, [[7936, 32], [1, 1024]]> -> %wa <sbuf 0, 0, [[1, 32], [1, 1024]]> : memref<32x7936xf32> -> !loop.tile<sbuf, 32, 1024>
    loop.copy %x <dram 0, [[7936, 32], [1, 1024]]> -> %ta <sbuf 0, 0, [[1, 32], [1, 1024]]> : memref<32x7936xf32> -> !loop.tile<sbuf, 32, 1024>
  }
  loop.nest "b" domain [] order [] {
    %wb = loop.alloc_tile : !loop.tile<sbuf, 32, 7936>
    %tb = loop.alloc_tile : !loop.tile<sbuf, 32, 7936>
    loop.copy %c <dram 0, [[7936, 32], [1, 7936]]> -> %wb <sbuf 0, 0, [[1, 32], [1, 7936]]> : memref<32x7936xf32> -> !loop.tile<sbuf, 32, 7936>
    loop.copy %x <dram 0, [[7936, 32], [1, 7936]]> -> %tb <sbuf 0, 0, [[1, 32], [1, 7936]]> : memref<32x7936xf32> -> !loop.tile<sbuf, 32, 7936>
  }
  loop.nest "c" domain [] order [] {
    %wc = loop.alloc_tile : !loop.tile<sbuf, 32, 1024>
    %tc = loop.alloc_tile : !loop.tile<sbuf, 32, 1024>
    loop.copy %c <dram 0, [[7936, 32], [1, 1024]]> -> %wc <sbuf 0, 0, [[1, 32], [1, 1024]]> : memref<32x7936xf32> -> !loop.tile<sbuf, 32, 1024>
    loop.copy %x <dram 0, [[7936, 32], [1, 1024]]> -> %tc <sbuf 0, 0, [[1, 32], [1, 1024]]> : memref<32x7936xf32> -> !loop.tile<sbuf, 32, 1024>
  }
  func.return
}

// RUN: tidal-opt %s -p 'loop-keep-on-chip{chip=default forward=false}' | filecheck %s
// RUN: tidal-opt %s -p 'loop-keep-on-chip{chip=default forward=false peel=false}' | filecheck %s --check-prefix=NOPEEL

// Inception's concatenation: 128 channels from nest "a", then 192 channels that
// nest "b" writes at channel 128 in two tiles of 96, a loop over d0. The reader
// takes channels 0-255 as two groups of 128 rows in one copy, so only 128
// partitions (channel c on partition c % 128) suit it. There the first tile of "b"
// lands on partitions 0-95 of the second group, but the second runs from partition
// 96 of the second group into the third: the loop's copy steps across the boundary
// differently at each iteration, so no layout holds the tensor. The pass splits "b"
// into one nest per iteration (the loop's trip count 1, its iteration folded into
// every access); then the first copy maps whole and the second splits where it
// crosses (rows 0-31 to partitions 96-127, rows 32-95 to partitions 0-63 of the
// third group, 16 bytes further along), and the tensor stays on chip.
// CHECK-LABEL: func.func @concat(
// CHECK-NEXT:    %h = loop.alloc_tile : !loop.tile<sbuf, 128, 12>
// CHECK:         loop.nest "a" domain [1]
// CHECK:           loop.copy %ta <sbuf 0, 0, [[1, 128], [1, 4]]> -> %h <sbuf 0, 0, [[1, 128], [1, 4]]>
// CHECK:         loop.nest "b" domain [1] order [0]
// CHECK:           loop.copy %z <dram 0, [[4, 96], [1, 4]]> -> %tb <sbuf 0, 0, [[1, 96], [1, 4]]>
// CHECK-NEXT:      loop.copy %tb <sbuf 0, 0, [[1, 96], [1, 4]]> -> %h <sbuf 0, 16, [[1, 96], [1, 4]]>
// CHECK:         loop.nest "b" domain [1] order [0]
// CHECK:           loop.copy %z <dram 1536, [[4, 96], [1, 4]]> -> %[[T:.*]] <sbuf 0, 16, [[1, 96], [1, 4]]>
// CHECK-NEXT:      loop.copy %[[T]] <sbuf 0, 16, [[1, 32], [1, 4]]> -> %h <sbuf 96, 16, [[1, 32], [1, 4]]>
// CHECK-NEXT:      loop.copy %[[T]] <sbuf 32, 16, [[1, 64], [1, 4]]> -> %h <sbuf 0, 32, [[1, 64], [1, 4]]>
// CHECK:         loop.nest "c"
// CHECK:           loop.copy %h <sbuf 0, 0, [[1, 128], [4, 2], [1, 4]]> -> %u
// CHECK-NEXT:      loop.copy %h <sbuf 0, 32, [[1, 64], [1, 4]]> -> %v
// Without peeling the tensor stays in DRAM and "b" keeps its loop.
// NOPEEL-LABEL: func.func @concat(
// NOPEEL-NEXT:    %h = loop.alloc : memref<1x320x2x2xf32>
// NOPEEL:         loop.nest "b" domain [2] order [0]
// NOPEEL-NOT:     loop.nest "b"
func.func @concat(%x: memref<1x128x2x2xf32>, %z: memref<1x192x2x2xf32>) -> memref<1x320x2x2xf32> {
  %h = loop.alloc : memref<1x320x2x2xf32>
  %y = loop.alloc : memref<1x320x2x2xf32>
  loop.nest "a" domain [1] order [0] {
    %ta = loop.alloc_tile : !loop.tile<sbuf, 128, 4>
    loop.for d0 {
      loop.copy %x <dram 0, [[4, 128], [1, 4]]> -> %ta <sbuf 0, 0, [[1, 128], [1, 4]]> : memref<1x128x2x2xf32> -> !loop.tile<sbuf, 128, 4>
      loop.copy %ta <sbuf 0, 0, [[1, 128], [1, 4]]> -> %h <dram 0, [[4, 128], [1, 4]]> : !loop.tile<sbuf, 128, 4> -> memref<1x320x2x2xf32>
    }
  }
  loop.nest "b" domain [2] order [0] {
    %tb = loop.alloc_tile : !loop.tile<sbuf, 96, 8>
    loop.for d0 {
      loop.copy %z <dram 0 + 1536 * i0, [[4, 96], [1, 4]]> -> %tb <sbuf 0, 0 + 16 * i0, [[1, 96], [1, 4]]> : memref<1x192x2x2xf32> -> !loop.tile<sbuf, 96, 8>
      loop.copy %tb <sbuf 0, 0 + 16 * i0, [[1, 96], [1, 4]]> -> %h <dram 2048 + 1536 * i0, [[4, 96], [1, 4]]> : !loop.tile<sbuf, 96, 8> -> memref<1x320x2x2xf32>
    }
  }
  loop.nest "c" domain [1] order [0] {
    %u = loop.alloc_tile : !loop.tile<sbuf, 128, 8>
    %v = loop.alloc_tile : !loop.tile<sbuf, 64, 4>
    loop.for d0 {
      loop.copy %h <dram 0, [[4, 128], [512, 2], [1, 4]]> -> %u <sbuf 0, 0, [[1, 128], [4, 2], [1, 4]]> : memref<1x320x2x2xf32> -> !loop.tile<sbuf, 128, 8>
      loop.copy %h <dram 4096, [[4, 64], [1, 4]]> -> %v <sbuf 0, 0, [[1, 64], [1, 4]]> : memref<1x320x2x2xf32> -> !loop.tile<sbuf, 64, 4>
      loop.copy %u <sbuf 0, 0, [[1, 128], [4, 2], [1, 4]]> -> %y <dram 0, [[4, 128], [512, 2], [1, 4]]> : !loop.tile<sbuf, 128, 8> -> memref<1x320x2x2xf32>
      loop.copy %v <sbuf 0, 0, [[1, 64], [1, 4]]> -> %y <dram 4096, [[4, 64], [1, 4]]> : !loop.tile<sbuf, 64, 4> -> memref<1x320x2x2xf32>
    }
  }
  func.return %y : memref<1x320x2x2xf32>
}

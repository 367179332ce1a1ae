// RUN: tidal-opt %s -p 'loop-keep-on-chip{chip=default forward=false}' | filecheck %s
// RUN: tidal-opt %s -p 'loop-keep-on-chip{chip=default forward=false group_pieces=false}' | filecheck %s --check-prefix=NOGROUPS

// 256 channels of 4x4 written as two groups of 128 rows in one copy, read as two
// tiles of 96 channels in one copy (Inception's poolings read a concatenation in
// tiles of its largest divisor under 128, all at once) and 64 more. No layout maps
// every copy whole or split once: 128 partitions suit the writer, but the reader's
// second tile of 96 runs from partition 96 into the next group. With group pieces
// the reader's copy becomes one copy per tile of 96, the second split where it
// crosses: channels 96-127 from partitions 96-127, channels 128-191 from
// partitions 0-63 of the second group (64 bytes along), each into the matching
// partitions and offset of the reader's tile.
// CHECK-LABEL: func.func @groups(
// CHECK-NEXT:    %h = loop.alloc_tile : !loop.tile<sbuf, 128, 32>
// CHECK:         loop.nest "a"
// CHECK:           loop.copy %ta <sbuf 0, 0, [[1, 128], [16, 2], [1, 16]]> -> %h <sbuf 0, 0, [[1, 128], [16, 2], [1, 16]]>
// CHECK:         loop.nest "c"
// CHECK:           loop.copy %h <sbuf 0, 0, [[1, 96], [1, 16]]> -> %u <sbuf 0, 0, [[1, 96], [1, 16]]>
// CHECK-NEXT:      loop.copy %h <sbuf 96, 0, [[1, 32], [1, 16]]> -> %u <sbuf 0, 64, [[1, 32], [1, 16]]>
// CHECK-NEXT:      loop.copy %h <sbuf 0, 64, [[1, 64], [1, 16]]> -> %u <sbuf 32, 64, [[1, 64], [1, 16]]>
// CHECK-NEXT:      loop.copy %h <sbuf 64, 64, [[1, 64], [1, 16]]> -> %v <sbuf 0, 0, [[1, 64], [1, 16]]>
// Without them the tensor stays in DRAM.
// NOGROUPS-LABEL: func.func @groups(
// NOGROUPS-NEXT:    %h = loop.alloc : memref<1x256x4x4xf32>
func.func @groups(%x: memref<1x256x4x4xf32>) -> memref<1x256x4x4xf32> {
  %h = loop.alloc : memref<1x256x4x4xf32>
  %y = loop.alloc : memref<1x256x4x4xf32>
  loop.nest "a" domain [1] order [0] {
    %ta = loop.alloc_tile : !loop.tile<sbuf, 128, 32>
    loop.for d0 {
      loop.copy %x <dram 0, [[16, 128], [2048, 2], [1, 16]]> -> %ta <sbuf 0, 0, [[1, 128], [16, 2], [1, 16]]> : memref<1x256x4x4xf32> -> !loop.tile<sbuf, 128, 32>
      loop.copy %ta <sbuf 0, 0, [[1, 128], [16, 2], [1, 16]]> -> %h <dram 0, [[16, 128], [2048, 2], [1, 16]]> : !loop.tile<sbuf, 128, 32> -> memref<1x256x4x4xf32>
    }
  }
  loop.nest "c" domain [1] order [0] {
    %u = loop.alloc_tile : !loop.tile<sbuf, 96, 32>
    %v = loop.alloc_tile : !loop.tile<sbuf, 64, 16>
    loop.for d0 {
      loop.copy %h <dram 0, [[16, 96], [1536, 2], [1, 16]]> -> %u <sbuf 0, 0, [[1, 96], [1, 32]]> : memref<1x256x4x4xf32> -> !loop.tile<sbuf, 96, 32>
      loop.copy %h <dram 12288, [[16, 64], [1, 16]]> -> %v <sbuf 0, 0, [[1, 64], [1, 16]]> : memref<1x256x4x4xf32> -> !loop.tile<sbuf, 64, 16>
      loop.copy %u <sbuf 0, 0, [[1, 96], [1, 32]]> -> %y <dram 0, [[16, 96], [1536, 2], [1, 16]]> : !loop.tile<sbuf, 96, 32> -> memref<1x256x4x4xf32>
      loop.copy %v <sbuf 0, 0, [[1, 64], [1, 16]]> -> %y <dram 12288, [[16, 64], [1, 16]]> : !loop.tile<sbuf, 64, 16> -> memref<1x256x4x4xf32>
    }
  }
  func.return %y : memref<1x256x4x4xf32>
}

// RUN: tidal-opt %s -p 'loop-keep-on-chip{chip=default forward=false}' | filecheck %s
// RUN: tidal-opt %s -p 'loop-keep-on-chip{chip=default forward=false split=false}' | filecheck %s --check-prefix=NOSPLIT

// A concatenation of 112 and 24 channels (2x2 pixels each) read as a 128-channel
// tile and an 8-channel one (ShuffleNet's first unit, read ragged). On 128
// partitions, channel c on partition c % 128, every copy maps but the second
// writer's: its 24 rows start on partition 112 and run into the next group. The
// pass splits that copy where it crosses: rows 0-15 go to partitions 112-127 of the
// first group, rows 16-23 to partitions 0-7 of the second (16 bytes further along
// each partition), each piece taking the matching partitions of the writer's tile.
// CHECK-LABEL: func.func @concat(
// CHECK-NEXT:    %h = loop.alloc_tile : !loop.tile<sbuf, 128, 8>
// CHECK:         loop.nest "a"
// CHECK:           loop.copy %ta <sbuf 0, 0, [[1, 112], [1, 4]]> -> %h <sbuf 0, 0, [[1, 112], [1, 4]]>
// CHECK:         loop.nest "b"
// CHECK:           loop.copy %tb <sbuf 0, 0, [[1, 16], [1, 4]]> -> %h <sbuf 112, 0, [[1, 16], [1, 4]]>
// CHECK-NEXT:      loop.copy %tb <sbuf 16, 0, [[1, 8], [1, 4]]> -> %h <sbuf 0, 16, [[1, 8], [1, 4]]>
// CHECK-NOT:       loop.copy %tb
// CHECK:         loop.nest "c"
// CHECK:           loop.copy %h <sbuf 0, 0, [[1, 128], [1, 4]]> -> %u0
// CHECK-NEXT:      loop.copy %h <sbuf 0, 16, [[1, 8], [1, 4]]> -> %u1
// Without splitting no layout suits every copy: the tensor stays in DRAM.
// NOSPLIT-LABEL: func.func @concat(
// NOSPLIT-NEXT:    %h = loop.alloc : memref<1x136x2x2xf32>
func.func @concat(%x: memref<1x112x2x2xf32>, %z: memref<1x24x2x2xf32>) -> memref<1x136x2x2xf32> {
  %h = loop.alloc : memref<1x136x2x2xf32>
  %y = loop.alloc : memref<1x136x2x2xf32>
  loop.nest "a" domain [1] order [0] {
    %ta = loop.alloc_tile : !loop.tile<sbuf, 112, 4>
    loop.for d0 {
      loop.copy %x <dram 0, [[4, 112], [1, 4]]> -> %ta <sbuf 0, 0, [[1, 112], [1, 4]]> : memref<1x112x2x2xf32> -> !loop.tile<sbuf, 112, 4>
      loop.copy %ta <sbuf 0, 0, [[1, 112], [1, 4]]> -> %h <dram 0, [[4, 112], [1, 4]]> : !loop.tile<sbuf, 112, 4> -> memref<1x136x2x2xf32>
    }
  }
  loop.nest "b" domain [1] order [0] {
    %tb = loop.alloc_tile : !loop.tile<sbuf, 24, 4>
    loop.for d0 {
      loop.copy %z <dram 0, [[4, 24], [1, 4]]> -> %tb <sbuf 0, 0, [[1, 24], [1, 4]]> : memref<1x24x2x2xf32> -> !loop.tile<sbuf, 24, 4>
      loop.copy %tb <sbuf 0, 0, [[1, 24], [1, 4]]> -> %h <dram 1792, [[4, 24], [1, 4]]> : !loop.tile<sbuf, 24, 4> -> memref<1x136x2x2xf32>
    }
  }
  loop.nest "c" domain [1] order [0] {
    %u0 = loop.alloc_tile : !loop.tile<sbuf, 128, 4>
    %u1 = loop.alloc_tile : !loop.tile<sbuf, 8, 4>
    loop.for d0 {
      loop.copy %h <dram 0, [[4, 128], [1, 4]]> -> %u0 <sbuf 0, 0, [[1, 128], [1, 4]]> : memref<1x136x2x2xf32> -> !loop.tile<sbuf, 128, 4>
      loop.copy %h <dram 2048, [[4, 8], [1, 4]]> -> %u1 <sbuf 0, 0, [[1, 8], [1, 4]]> : memref<1x136x2x2xf32> -> !loop.tile<sbuf, 8, 4>
      loop.copy %u0 <sbuf 0, 0, [[1, 128], [1, 4]]> -> %y <dram 0, [[4, 128], [1, 4]]> : !loop.tile<sbuf, 128, 4> -> memref<1x136x2x2xf32>
      loop.copy %u1 <sbuf 0, 0, [[1, 8], [1, 4]]> -> %y <dram 2048, [[4, 8], [1, 4]]> : !loop.tile<sbuf, 8, 4> -> memref<1x136x2x2xf32>
    }
  }
  func.return %y : memref<1x136x2x2xf32>
}

// RUN: tidal-opt %s -p 'loop-keep-on-chip{chip=small forward=false}' | filecheck %s

// A returned buffer worth a kept copy (%p, read by "m") whose second writer copies
// from a buffer kept on chip (%c, as a reflect pad's last column, through DRAM
// before): the kept copy's twin of that writer reads %c's tile, as the writer
// itself does, and no DRAM buffer of %c is left behind unwritten. (%p comes before
// %c in the function, so the shadow is rewritten after %c either way.)
// CHECK-LABEL: func.func @main(
// CHECK-NOT:     %c{{.*}} = loop.alloc :
// CHECK:         loop.nest "p1"
// CHECK-NEXT:      loop.copy %[[C:c]] <sbuf 0, 0, {{\[\[}}1, 6]]> -> %p <dram 16, {{\[\[}}5, 6]]>
// CHECK-NEXT:      loop.copy %[[C]] <sbuf 0, 0, {{\[\[}}1, 6]]> -> %p_kept <sbuf 0, 16, {{\[\[}}1, 6]]>
// CHECK:         loop.nest "m"
// CHECK-NEXT:      %t = loop.alloc_tile
// CHECK-NEXT:      loop.copy %p_kept <sbuf 0, 0, {{\[\[}}1, 6], [1, 5]]> -> %t
func.func @main(%x: memref<1x6x1x4xf32>) -> (memref<1x6x1x5xf32>, memref<1x6x1x5xf32>) {
  %p = loop.alloc : memref<1x6x1x5xf32>
  loop.nest "p0" domain [] order [] {
    loop.copy %x <dram 0, [[4, 6], [1, 4]]> -> %p <dram 0, [[5, 6], [1, 4]]> : memref<1x6x1x4xf32> -> memref<1x6x1x5xf32>
  }
  %c = loop.alloc : memref<1x6x1x1xf32>
  loop.nest "c" domain [] order [] {
    loop.copy %x <dram 8, [[4, 6]]> -> %c <dram 0, [[1, 6]]> : memref<1x6x1x4xf32> -> memref<1x6x1x1xf32>
  }
  loop.nest "p1" domain [] order [] {
    loop.copy %c <dram 0, [[1, 6]]> -> %p <dram 16, [[5, 6]]> : memref<1x6x1x1xf32> -> memref<1x6x1x5xf32>
  }
  %y = loop.alloc : memref<1x6x1x5xf32>
  loop.nest "m" domain [] order [] {
    %t = loop.alloc_tile : !loop.tile<sbuf, 6, 5>
    loop.copy %p <dram 0, [[5, 6], [1, 5]]> -> %t <sbuf 0, 0, [[1, 6], [1, 5]]> : memref<1x6x1x5xf32> -> !loop.tile<sbuf, 6, 5>
    loop.act "relu" %t <sbuf 0, 0, [[1, 6], [1, 5]]>, %t <sbuf 0, 0, [[1, 6], [1, 5]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 6, 5>, !loop.tile<sbuf, 6, 5>
    loop.copy %t <sbuf 0, 0, [[1, 6], [1, 5]]> -> %y <dram 0, [[5, 6], [1, 5]]> : !loop.tile<sbuf, 6, 5> -> memref<1x6x1x5xf32>
  }
  func.return %p, %y : memref<1x6x1x5xf32>, memref<1x6x1x5xf32>
}

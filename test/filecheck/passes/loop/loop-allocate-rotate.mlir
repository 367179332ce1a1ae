// RUN: tidal-opt %s -p 'loop-allocate{chip=small overlap=false}' | filecheck %s
// RUN: tidal-opt %s -p 'loop-allocate{chip=small overlap=false rotate=false}' | filecheck %s --check-prefix=OFF

// loop-allocate{rotate} (the default): each nest's PSUM accumulators go from where
// the last one placed ends, within a bank, round the partition (the small chip's
// 8 KiB: four banks of 2 KiB), so consecutive nests' accumulators take different
// bytes and a nest's first matmul need not wait for the evacuation of the last
// nest's. Without it (OFF) every nest's accumulator starts at byte 0.
// - "a" 448 bytes at 0; "b" (1216) right above it at 448; "c" (832) would cross
//   the first bank's end at 1664, so it starts the second bank at 2048.
// - "d" and "e" fill a bank each (2048 bytes): 4096 and 6144, the last bank.
// - "f" finds no room above 8192 and wraps round to byte 0.
// - SBUF is not affected: each nest's evacuation target at 0 (overlap=false).

// CHECK:      loop.nest "a"
// CHECK-NEXT:   %pa = loop.alloc_tile {tidal.addr = 0 : i64} : !loop.tile<psum, 12, 100>
// CHECK-NEXT:   %sa = loop.alloc_tile {tidal.addr = 0 : i64} : !loop.tile<sbuf, 12, 100>
// CHECK:      loop.nest "b"
// CHECK-NEXT:   %pb = loop.alloc_tile {tidal.addr = 448 : i64} : !loop.tile<psum, 12, 300>
// CHECK-NEXT:   %sb = loop.alloc_tile {tidal.addr = 0 : i64} : !loop.tile<sbuf, 12, 300>
// CHECK:      loop.nest "c"
// CHECK-NEXT:   %pc = loop.alloc_tile {tidal.addr = 2048 : i64} : !loop.tile<psum, 12, 200>
// CHECK-NEXT:   %sc = loop.alloc_tile {tidal.addr = 0 : i64} : !loop.tile<sbuf, 12, 200>
// CHECK:      loop.nest "d"
// CHECK-NEXT:   %pd = loop.alloc_tile {tidal.addr = 4096 : i64} : !loop.tile<psum, 12, 512>
// CHECK-NEXT:   %sd = loop.alloc_tile {tidal.addr = 0 : i64} : !loop.tile<sbuf, 12, 512>
// CHECK:      loop.nest "e"
// CHECK-NEXT:   %pe = loop.alloc_tile {tidal.addr = 6144 : i64} : !loop.tile<psum, 12, 512>
// CHECK-NEXT:   %se = loop.alloc_tile {tidal.addr = 0 : i64} : !loop.tile<sbuf, 12, 512>
// CHECK:      loop.nest "f"
// CHECK-NEXT:   %pf = loop.alloc_tile {tidal.addr = 0 : i64} : !loop.tile<psum, 12, 100>
// CHECK-NEXT:   %sf = loop.alloc_tile {tidal.addr = 0 : i64} : !loop.tile<sbuf, 12, 100>
// OFF:        loop.nest "a"
// OFF-NEXT:     %pa = loop.alloc_tile {tidal.addr = 0 : i64} : !loop.tile<psum, 12, 100>
// OFF:        loop.nest "b"
// OFF-NEXT:     %pb = loop.alloc_tile {tidal.addr = 0 : i64} : !loop.tile<psum, 12, 300>
// OFF:        loop.nest "c"
// OFF-NEXT:     %pc = loop.alloc_tile {tidal.addr = 0 : i64} : !loop.tile<psum, 12, 200>
// OFF:        loop.nest "d"
// OFF-NEXT:     %pd = loop.alloc_tile {tidal.addr = 0 : i64} : !loop.tile<psum, 12, 512>
// OFF:        loop.nest "e"
// OFF-NEXT:     %pe = loop.alloc_tile {tidal.addr = 0 : i64} : !loop.tile<psum, 12, 512>
// OFF:        loop.nest "f"
// OFF-NEXT:     %pf = loop.alloc_tile {tidal.addr = 0 : i64} : !loop.tile<psum, 12, 100>

func.func @main(%x: memref<12x4xf32> {tidal.name = "input"}) -> (memref<12x4xf32> {tidal.name = "out"}) {
  loop.nest "a" domain [] order [] {
    %pa = loop.alloc_tile : !loop.tile<psum, 12, 100>
    %sa = loop.alloc_tile : !loop.tile<sbuf, 12, 100>
    loop.act "relu" %sa <sbuf 0, 0, [[1, 12], [1, 100]]>, %pa <psum 0, 0, [[1, 12], [1, 100]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 12, 100>, !loop.tile<psum, 12, 100>
  }
  loop.nest "b" domain [] order [] {
    %pb = loop.alloc_tile : !loop.tile<psum, 12, 300>
    %sb = loop.alloc_tile : !loop.tile<sbuf, 12, 300>
    loop.act "relu" %sb <sbuf 0, 0, [[1, 12], [1, 300]]>, %pb <psum 0, 0, [[1, 12], [1, 300]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 12, 300>, !loop.tile<psum, 12, 300>
  }
  loop.nest "c" domain [] order [] {
    %pc = loop.alloc_tile : !loop.tile<psum, 12, 200>
    %sc = loop.alloc_tile : !loop.tile<sbuf, 12, 200>
    loop.act "relu" %sc <sbuf 0, 0, [[1, 12], [1, 200]]>, %pc <psum 0, 0, [[1, 12], [1, 200]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 12, 200>, !loop.tile<psum, 12, 200>
  }
  loop.nest "d" domain [] order [] {
    %pd = loop.alloc_tile : !loop.tile<psum, 12, 512>
    %sd = loop.alloc_tile : !loop.tile<sbuf, 12, 512>
    loop.act "relu" %sd <sbuf 0, 0, [[1, 12], [1, 512]]>, %pd <psum 0, 0, [[1, 12], [1, 512]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 12, 512>, !loop.tile<psum, 12, 512>
  }
  loop.nest "e" domain [] order [] {
    %pe = loop.alloc_tile : !loop.tile<psum, 12, 512>
    %se = loop.alloc_tile : !loop.tile<sbuf, 12, 512>
    loop.act "relu" %se <sbuf 0, 0, [[1, 12], [1, 512]]>, %pe <psum 0, 0, [[1, 12], [1, 512]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 12, 512>, !loop.tile<psum, 12, 512>
  }
  loop.nest "f" domain [] order [] {
    %pf = loop.alloc_tile : !loop.tile<psum, 12, 100>
    %sf = loop.alloc_tile : !loop.tile<sbuf, 12, 100>
    loop.act "relu" %sf <sbuf 0, 0, [[1, 12], [1, 100]]>, %pf <psum 0, 0, [[1, 12], [1, 100]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 12, 100>, !loop.tile<psum, 12, 100>
  }
  func.return %x : memref<12x4xf32>
}

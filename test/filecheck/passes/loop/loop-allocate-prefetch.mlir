// RUN: tidal-opt %s -p 'loop-allocate{chip=small overlap=false fill=false}' | filecheck %s
// RUN: tidal-opt %s -p 'loop-allocate{chip=small overlap=false prefetch=false}' | filecheck %s --check-prefix=OFF
// RUN: tidal-opt %s -p 'loop-allocate{chip=small overlap=false fill=false},loop-to-accel{chip=small},accel-assign-queues,accel-insert-sync' | filecheck %s --check-prefix=SYNC
// RUN: tidal-opt %s -p 'loop-allocate{chip=small overlap=false}' | filecheck %s --check-prefix=FILL

// prefetch: "b"'s weight tile %w (only a constant fills it) is reserved from the
// first nest on, so it takes other bytes than "a"'s %a and its load waits for
// nothing; "b"'s %t, filled from %y, still reuses %a's bytes. Without prefetch %w
// reuses them too, and its load must wait for "a" to finish reading %a. With fill
// (the default, loop-allocate-fill.mlir) %w is reserved from "a" on too, in the
// highest gap of the partition.
// FILL:       loop.nest "b"
// FILL-NEXT:    %w = loop.alloc_tile {tidal.addr = 65472 : i64}
// FILL-NEXT:    %t = loop.alloc_tile {tidal.addr = 0 : i64}

// CHECK:      loop.nest "a"
// CHECK-NEXT:   %a = loop.alloc_tile {tidal.addr = 0 : i64}
// CHECK:      loop.nest "b"
// CHECK-NEXT:   %w = loop.alloc_tile {tidal.addr = 64 : i64}
// CHECK-NEXT:   %t = loop.alloc_tile {tidal.addr = 0 : i64}

// OFF:        loop.nest "b"
// OFF-NEXT:     %w = loop.alloc_tile {tidal.addr = 0 : i64}
// OFF-NEXT:     %t = loop.alloc_tile {tidal.addr = 64 : i64}

// In the unified program "b"'s weight load follows "a"'s store with no wait before it;
// "b"'s load of %y waits for "a"'s store (and its own queue's earlier DMA).
// SYNC:       accel.dma 1 <sbuf 0, 0, {{\[\[}}1, 32], [1, 16]]> -> <dram 4096, {{.*}}origin = "a"
// SYNC-NEXT:  accel.dma 0 <dram 2048, {{\[\[}}16, 32], [1, 16]]> -> <sbuf 0, 64, {{\[\[}}1, 32], [1, 16]]> {origin = "b"}
// SYNC-NEXT:  accel.wait
// SYNC:       accel.dma 0 <dram 4096
func.func @main(%x: memref<32x16xf32>) -> memref<32x16xf32> {
  %c = loop.const dense<0.5> : tensor<32x16xf32> : memref<32x16xf32>
  %y = loop.alloc : memref<32x16xf32>
  %z = loop.alloc : memref<32x16xf32>
  loop.nest "a" domain [] order [] {
    %a = loop.alloc_tile : !loop.tile<sbuf, 32, 16>
    loop.copy %x <dram 0, [[16, 32], [1, 16]]> -> %a <sbuf 0, 0, [[1, 32], [1, 16]]> : memref<32x16xf32> -> !loop.tile<sbuf, 32, 16>
    loop.copy %a <sbuf 0, 0, [[1, 32], [1, 16]]> -> %y <dram 0, [[16, 32], [1, 16]]> : !loop.tile<sbuf, 32, 16> -> memref<32x16xf32>
  }
  loop.nest "b" domain [] order [] {
    %w = loop.alloc_tile : !loop.tile<sbuf, 32, 16>
    %t = loop.alloc_tile : !loop.tile<sbuf, 32, 16>
    loop.copy %c <dram 0, [[16, 32], [1, 16]]> -> %w <sbuf 0, 0, [[1, 32], [1, 16]]> : memref<32x16xf32> -> !loop.tile<sbuf, 32, 16>
    loop.copy %y <dram 0, [[16, 32], [1, 16]]> -> %t <sbuf 0, 0, [[1, 32], [1, 16]]> : memref<32x16xf32> -> !loop.tile<sbuf, 32, 16>
    loop.tensor_tensor add %t <sbuf 0, 0, [[1, 32], [1, 16]]>, %t <sbuf 0, 0, [[1, 32], [1, 16]]>, %w <sbuf 0, 0, [[1, 32], [1, 16]]> : !loop.tile<sbuf, 32, 16>, !loop.tile<sbuf, 32, 16>, !loop.tile<sbuf, 32, 16>
    loop.copy %t <sbuf 0, 0, [[1, 32], [1, 16]]> -> %z <dram 0, [[16, 32], [1, 16]]> : !loop.tile<sbuf, 32, 16> -> memref<32x16xf32>
  }
  func.return %z : memref<32x16xf32>
}

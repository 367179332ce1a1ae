// RUN: tidal-opt %s -p accel-insert-sync | filecheck %s
// RUN: tidal-opt %s -p 'accel-insert-sync{exact=false prune_signals=false}' | filecheck %s --check-prefix=BOX
// RUN: tidal-opt %s -p 'accel-insert-sync{latest_source=false}' | filecheck %s --check-prefix=ALL

// Engine semaphores are the engine ids: pe 0, act 1, pool 2, dma0 3, dma1 4. Before
// an instruction X on engine A, for each other engine B with a conflicting access
// that may run before X (one of the two writes), the pass inserts
// `accel.wait A sem B >= <signalling B instructions up to the latest such
// instruction before X>` and marks those B instructions with `signal = B`.

// (a) RAW: a DMA load, then a matmul reading the loaded tile. The DMA signals dma0's
// semaphore (3) and the matmul waits for one signal.
accel.program "small" dram 65536 attributes {test = "raw"} {
  accel.io input "x" at 0 : tensor<32x8xf32>
  accel.dma 0 <dram 0, [[8, 32], [1, 8]]> -> <sbuf 0, 0, [[1, 32], [1, 8]]> {origin = "load"}
  accel.matmul <psum 0, 0, [[1, 8], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]> {zero_at = -1 : i64}
}

// CHECK-LABEL: accel.program "small" dram 65536 attributes {test = "raw"} {
// CHECK-NEXT:    accel.io input "x" at 0 : tensor<32x8xf32>
// CHECK-NEXT:    accel.dma 0 <dram 0, {{\[\[}}8, 32], [1, 8]]> -> <sbuf 0, 0, {{\[\[}}1, 32], [1, 8]]> {origin = "load", signal = 3 : i64}
// CHECK-NEXT:    accel.wait pe sem 3 >= 1
// CHECK-NEXT:    accel.matmul <psum 0, 0, {{\[\[}}1, 8], [1, 8]]>, <sbuf 0, 0, {{\[\[}}1, 32], [1, 8]]>, <sbuf 0, 0, {{\[\[}}1, 32], [1, 8]]> {zero_at = -1 : i64}
// CHECK-NEXT:  }

// (b) WAR across iterations: iteration i0's DMA overwrites the tile the matmul read
// in iteration i0 - 1, so the DMA waits for i0 matmuls (and the matmul, RAW, for
// i0 + 1 DMAs). Both waits are one op inside the repeat, affine in i0. The small
// chip's queues have several descriptors in flight, so the DMA also waits on its own
// queue's semaphore for the previous iteration's DMA (WAW on the tile; the matmul's
// wait, placed first, implies it: accel-prune-waits erases it).
accel.program "small" dram 65536 attributes {test = "war"} {
  accel.repeat 4 {
    accel.dma 0 <dram 0 + 1024 * i0, [[8, 32], [1, 8]]> -> <sbuf 0, 0, [[1, 32], [1, 8]]>
    accel.matmul <psum 0, 0 + 32 * i0, [[1, 8], [1, 8]]>, <sbuf 0, 1024, [[1, 32], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]> {zero_at = -1 : i64}
  }
}

// CHECK-LABEL: accel.program "small" dram 65536 attributes {test = "war"} {
// CHECK-NEXT:    accel.repeat 4 {
// CHECK-NEXT:      accel.wait dma0 sem 0 >= 0 + 1 * i0
// CHECK-NEXT:      accel.wait dma0 sem 3 >= 0 + 1 * i0
// CHECK-NEXT:      accel.dma 0 <dram 0 + 1024 * i0, {{\[\[}}8, 32], [1, 8]]> -> <sbuf 0, 0, {{\[\[}}1, 32], [1, 8]]> {signal = 3 : i64}
// CHECK-NEXT:      accel.wait pe sem 3 >= 1 + 1 * i0
// CHECK-NEXT:      accel.matmul <psum 0, 0 + 32 * i0, {{\[\[}}1, 8], [1, 8]]>, <sbuf 0, 1024, {{\[\[}}1, 32], [1, 8]]>, <sbuf 0, 0, {{\[\[}}1, 32], [1, 8]]> {zero_at = -1 : i64, signal = 0 : i64}
// CHECK-NEXT:    }
// CHECK-NEXT:  }

// (c) No conflict, no sync: the DMA writes partitions 0-15 at bytes 0-31, ACT reads
// bytes 512-543 and writes 1024-1055, POOL touches partitions 16-31 only.
accel.program "small" dram 65536 attributes {test = "disjoint"} {
  accel.dma 0 <dram 0, [[8, 16], [1, 8]]> -> <sbuf 0, 0, [[1, 16], [1, 8]]>
  accel.act relu <sbuf 0, 1024, [[1, 32], [1, 8]]>, <sbuf 0, 512, [[1, 32], [1, 8]]>
  accel.tensor_tensor add <sbuf 16, 2048, [[1, 16], [1, 8]]>, <sbuf 16, 0, [[1, 16], [1, 8]]>, <sbuf 16, 0, [[1, 16], [1, 8]]>
}

// CHECK-LABEL: accel.program "small" dram 65536 attributes {test = "disjoint"} {
// CHECK-NEXT:    accel.dma 0 <dram 0, {{\[\[}}8, 16], [1, 8]]> -> <sbuf 0, 0, {{\[\[}}1, 16], [1, 8]]>{{$}}
// CHECK-NEXT:    accel.act relu <sbuf 0, 1024, {{\[\[}}1, 32], [1, 8]]>, <sbuf 0, 512, {{\[\[}}1, 32], [1, 8]]>{{$}}
// CHECK-NEXT:    accel.tensor_tensor add <sbuf 16, 2048, {{\[\[}}1, 16], [1, 8]]>, <sbuf 16, 0, {{\[\[}}1, 16], [1, 8]]>, <sbuf 16, 0, {{\[\[}}1, 16], [1, 8]]>{{$}}
// CHECK-NEXT:  }

// (d) ACT evacuates a PSUM accumulator after a repeat of 3 matmuls: one wait after
// the repeat, counting all 3 matmul signals.
accel.program "small" dram 65536 attributes {test = "psum"} {
  accel.repeat 3 {
    accel.matmul <psum 0, 0, [[1, 8], [1, 8]]>, <sbuf 0, 0 + 32 * i0, [[1, 32], [1, 8]]>, <sbuf 0, 1024, [[1, 32], [1, 8]]> {zero_at = 0 : i64}
  }
  accel.act identity <sbuf 0, 2048, [[1, 8], [1, 8]]>, <psum 0, 0, [[1, 8], [1, 8]]>
}

// CHECK-LABEL: accel.program "small" dram 65536 attributes {test = "psum"} {
// CHECK-NEXT:    accel.repeat 3 {
// CHECK-NEXT:      accel.matmul <psum 0, 0, {{\[\[}}1, 8], [1, 8]]>, <sbuf 0, 0 + 32 * i0, {{\[\[}}1, 32], [1, 8]]>, <sbuf 0, 1024, {{\[\[}}1, 32], [1, 8]]> {zero_at = 0 : i64, signal = 0 : i64}
// CHECK-NEXT:    }
// CHECK-NEXT:    accel.wait act sem 0 >= 3
// CHECK-NEXT:    accel.act identity <sbuf 0, 2048, {{\[\[}}1, 8], [1, 8]]>, <psum 0, 0, {{\[\[}}1, 8], [1, 8]]>{{$}}
// CHECK-NEXT:  }

// (d') The same inside an outer repeat of 2: ACT waits for 3 + 3 * i0 matmuls, and
// the next accumulation (WAR on PSUM) waits for the previous evacuation: i0 ACTs.
accel.program "small" dram 65536 attributes {test = "nested"} {
  accel.repeat 2 {
    accel.repeat 3 {
      accel.matmul <psum 0, 0, [[1, 8], [1, 8]]>, <sbuf 0, 0 + 32 * i1, [[1, 32], [1, 8]]>, <sbuf 0, 1024, [[1, 32], [1, 8]]> {zero_at = 1 : i64}
    }
    accel.act identity <sbuf 0, 2048, [[1, 8], [1, 8]]>, <psum 0, 0, [[1, 8], [1, 8]]>
  }
}

// CHECK-LABEL: accel.program "small" dram 65536 attributes {test = "nested"} {
// CHECK-NEXT:    accel.repeat 2 {
// CHECK-NEXT:      accel.repeat 3 {
// CHECK-NEXT:        accel.wait pe sem 1 >= 0 + 1 * i0
// CHECK-NEXT:        accel.matmul <psum 0, 0, {{\[\[}}1, 8], [1, 8]]>, <sbuf 0, 0 + 32 * i1, {{\[\[}}1, 32], [1, 8]]>, <sbuf 0, 1024, {{\[\[}}1, 32], [1, 8]]> {zero_at = 1 : i64, signal = 0 : i64}
// CHECK-NEXT:      }
// CHECK-NEXT:      accel.wait act sem 0 >= 3 + 3 * i0
// CHECK-NEXT:      accel.act identity <sbuf 0, 2048, {{\[\[}}1, 8], [1, 8]]>, <psum 0, 0, {{\[\[}}1, 8], [1, 8]]> {signal = 1 : i64}
// CHECK-NEXT:    }
// CHECK-NEXT:  }

// (e) Conflicts are judged on exact footprints: dma0 writes the even elements of a
// row and dma1 the odd ones, so neither waits for the other although their bounding
// boxes overlap (on boxes, option exact=false, dma1 waits for dma0). ACT reads
// the whole row and waits for both.
accel.program "small" dram 65536 attributes {test = "interleave"} {
  accel.dma 0 <dram 0, [[64, 16], [1, 32]]> -> <sbuf 0, 0, [[1, 16], [2, 32]]>
  accel.dma 1 <dram 4096, [[64, 16], [1, 32]]> -> <sbuf 0, 4, [[1, 16], [2, 32]]>
  accel.act relu <sbuf 0, 512, [[1, 16], [1, 64]]>, <sbuf 0, 0, [[1, 16], [1, 64]]>
}

// CHECK-LABEL: accel.program "small" dram 65536 attributes {test = "interleave"} {
// CHECK-NEXT:    accel.dma 0 {{.*}} {signal = 3 : i64}
// CHECK-NEXT:    accel.dma 1 {{.*}} {signal = 4 : i64}
// CHECK-NEXT:    accel.wait act sem 3 >= 1
// CHECK-NEXT:    accel.wait act sem 4 >= 1
// CHECK-NEXT:    accel.act relu
// CHECK-NEXT:  }

// BOX-LABEL: accel.program "small" dram 65536 attributes {test = "interleave"} {
// BOX-NEXT:    accel.dma 0 {{.*}} {signal = 3 : i64}
// BOX-NEXT:    accel.wait dma1 sem 3 >= 1
// BOX-NEXT:    accel.dma 1 {{.*}} {signal = 4 : i64}
// BOX:         accel.act relu

// (f) Only the last of a queue's sources signals: the three loads run in order on
// dma0, so ACT waiting for the third load's signal (count 1) has waited for all
// three (prune_signals=false: every source signals and ACT waits for 3).
accel.program "small" dram 65536 attributes {test = "last-signals"} {
  accel.dma 0 <dram 0, [[8, 8], [1, 8]]> -> <sbuf 0, 0, [[1, 8], [1, 8]]>
  accel.dma 0 <dram 512, [[8, 8], [1, 8]]> -> <sbuf 8, 0, [[1, 8], [1, 8]]>
  accel.dma 0 <dram 1024, [[8, 8], [1, 8]]> -> <sbuf 16, 0, [[1, 8], [1, 8]]>
  accel.act relu <sbuf 0, 64, [[1, 24], [1, 8]]>, <sbuf 0, 0, [[1, 24], [1, 8]]>
}

// CHECK-LABEL: accel.program "small" dram 65536 attributes {test = "last-signals"} {
// CHECK-NEXT:    accel.dma 0 {{.*}}[1, 8]]>{{$}}
// CHECK-NEXT:    accel.dma 0 {{.*}}[1, 8]]>{{$}}
// CHECK-NEXT:    accel.dma 0 {{.*}} {signal = 3 : i64}
// CHECK-NEXT:    accel.wait act sem 3 >= 1
// CHECK-NEXT:    accel.act relu

// BOX-LABEL: accel.program "small" dram 65536 attributes {test = "last-signals"} {
// BOX-NEXT:    accel.dma 0 {{.*}} {signal = 3 : i64}
// BOX-NEXT:    accel.dma 0 {{.*}} {signal = 3 : i64}
// BOX-NEXT:    accel.dma 0 {{.*}} {signal = 3 : i64}
// BOX-NEXT:    accel.wait act sem 3 >= 3
// BOX-NEXT:    accel.act relu

// (g) A wait counts up to the latest instance of its source, not every signal of
// the source's engine before it: the first store waits for the first ACT (act >= 1)
// although the second ACT, which the second store needs, signals before it in
// program order (latest_source=false: the first store waits for both, act >= 2).
accel.program "small" dram 65536 attributes {test = "latest"} {
  accel.dma 0 <dram 0, [[8, 32], [1, 8]]> -> <sbuf 0, 0, [[1, 32], [1, 8]]>
  accel.act relu <sbuf 0, 64, [[1, 32], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]>
  accel.act relu <sbuf 0, 128, [[1, 32], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]>
  accel.dma 1 <sbuf 0, 64, [[1, 32], [1, 8]]> -> <dram 4096, [[8, 32], [1, 8]]>
  accel.dma 1 <sbuf 0, 128, [[1, 32], [1, 8]]> -> <dram 8192, [[8, 32], [1, 8]]>
}

// CHECK-LABEL: accel.program "small" dram 65536 attributes {test = "latest"} {
// CHECK:         accel.act relu <sbuf 0, 64, {{.*}} {signal = 1 : i64}
// CHECK-NEXT:    accel.act relu <sbuf 0, 128, {{.*}} {signal = 1 : i64}
// CHECK-NEXT:    accel.wait dma1 sem 1 >= 1
// CHECK-NEXT:    accel.dma 1 <sbuf 0, 64,
// CHECK-NEXT:    accel.wait dma1 sem 1 >= 2
// CHECK-NEXT:    accel.dma 1 <sbuf 0, 128,

// ALL-LABEL: accel.program "small" dram 65536 attributes {test = "latest"} {
// ALL:         accel.wait dma1 sem 1 >= 2
// ALL-NEXT:    accel.dma 1 <sbuf 0, 64,
// ALL-NEXT:    accel.dma 1 <sbuf 0, 128,

// (h) The small chip's DMA queues have several descriptors in flight, so a queue
// does not order its own DMAs: an on-chip copy on dma0 of the tile an earlier dma0
// load writes waits on dma0's own semaphore for the load.
accel.program "small" dram 65536 attributes {test = "same-queue"} {
  accel.dma 0 <dram 0, [[8, 32], [1, 8]]> -> <sbuf 0, 0, [[1, 32], [1, 8]]>
  accel.dma 0 <sbuf 0, 0, [[1, 32], [1, 8]]> -> <sbuf 0, 256, [[1, 32], [1, 8]]>
}

// CHECK-LABEL: accel.program "small" dram 65536 attributes {test = "same-queue"} {
// CHECK-NEXT:    accel.dma 0 <dram 0, {{.*}} {signal = 3 : i64}
// CHECK-NEXT:    accel.wait dma0 sem 3 >= 1
// CHECK-NEXT:    accel.dma 0 <sbuf 0, 0,
// CHECK-NEXT:  }

// (waw-queue) Two DMAs of one queue write the same bytes in each iteration and
// nothing reads them between: the second waits for the first (WAW; the queue has
// several descriptors in flight), the first for the second of the iteration before.
// The first DMA's signal is needed although the second is a later source of the
// second's own next instance: that instance runs after the first of its iteration,
// not before it (difftest seed 911, graph 271: a conv's input copy per image in a
// loop unrolled by two, on a 1x1 image whose shifted copy no matmul reads).
accel.program "small" dram 65536 attributes {test = "waw-queue"} {
  accel.io input "x" at 0 : tensor<64x8xf32>
  accel.repeat 4 {
    accel.dma 0 <dram 0 + 64 * i0, [[1, 8]]> -> <sbuf 0, 0, [[1, 8], [1, 1]]>
    accel.dma 0 <dram 32 + 64 * i0, [[1, 8]]> -> <sbuf 0, 0, [[1, 8], [1, 1]]>
  }
}

// CHECK-LABEL: accel.program "small" dram 65536 attributes {test = "waw-queue"} {
// CHECK:         accel.repeat 4 {
// CHECK-NEXT:      accel.wait dma0 sem 3 >= 0 + 2 * i0
// CHECK-NEXT:      accel.dma 0 <dram 0 + 64 * i0, {{\[\[}}1, 8]]> -> <sbuf 0, 0, {{\[\[}}1, 8], [1, 1]]> {signal = 3 : i64}
// CHECK-NEXT:      accel.wait dma0 sem 3 >= 1 + 2 * i0
// CHECK-NEXT:      accel.dma 0 <dram 32 + 64 * i0, {{\[\[}}1, 8]]> -> <sbuf 0, 0, {{\[\[}}1, 8], [1, 1]]> {signal = 3 : i64}
// CHECK-NEXT:    }

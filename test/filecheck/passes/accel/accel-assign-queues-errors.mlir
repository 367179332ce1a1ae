// RUN: tidal-opt %s -p accel-assign-queues --split-input-file --verify-diagnostics | filecheck %s

// A DMA's queue is its engine: once the program is synchronised (waits and signals
// count per engine) or split into one stream per engine, the pass refuses to move
// DMAs between queues.

// CHECK: accel-assign-queues: the program is synchronised (waits and signals name DMA queues); assign queues before accel-insert-sync
accel.program "small" dram 4096 {
  accel.dma 0 <dram 0, [[1, 32], [1, 4]]> -> <sbuf 0, 0, [[1, 32], [1, 4]]> {signal = 3 : i64}
  accel.wait act sem 3 >= 1
  accel.act relu <sbuf 0, 128, [[1, 32], [1, 4]]>, <sbuf 0, 0, [[1, 32], [1, 4]]>
}

// -----

// A wait folded into an instruction (accel-fold-waits) counts too.
// CHECK: accel-assign-queues: the program is synchronised (waits and signals name DMA queues); assign queues before accel-insert-sync
accel.program "small" dram 4096 {
  accel.dma 0 <dram 0, [[1, 32], [1, 4]]> -> <sbuf 0, 0, [[1, 32], [1, 4]]>
  accel.act relu <sbuf 0, 128, [[1, 32], [1, 4]]>, <sbuf 0, 0, [[1, 32], [1, 4]]> {wait_sem = 3 : i64, wait_value = #accel.aff<1>}
}

// -----

// CHECK: accel-assign-queues: the program is split into streams, whose engines fix the queues; assign queues before accel-split-streams
accel.program "small" dram 4096 {
  accel.stream dma0 {
    accel.dma 0 <dram 0, [[1, 32], [1, 4]]> -> <sbuf 0, 0, [[1, 32], [1, 4]]>
  }
}

// -----

// CHECK: accel-assign-queues: unknown chip preset 'tiny'
accel.program "tiny" dram 4096 {
  accel.dma 0 <dram 0, [[1, 32], [1, 4]]> -> <sbuf 0, 0, [[1, 32], [1, 4]]>
}

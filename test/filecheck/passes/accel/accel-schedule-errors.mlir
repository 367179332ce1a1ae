// RUN: tidal-opt %s -p accel-schedule --split-input-file --verify-diagnostics | filecheck %s

// The schedule orders the unified program before synchronisation: waits count
// signals in program order, and a split program has no order across engines.

// CHECK: accel-schedule: the program is synchronised (its waits count signals in program order); schedule before accel-insert-sync
accel.program "default" dram 1048576 {
  accel.dma 0 <dram 0, [[1, 32], [1, 4]]> -> <sbuf 0, 0, [[1, 32], [1, 4]]> {signal = 3 : i64}
  accel.wait act sem 3 >= 1
  accel.act relu <sbuf 0, 128, [[1, 32], [1, 4]]>, <sbuf 0, 0, [[1, 32], [1, 4]]>
}

// -----

// CHECK: accel-schedule: the program is split into streams; schedule the unified order, before accel-split-streams
accel.program "default" dram 1048576 {
  accel.stream dma0 {
    accel.dma 0 <dram 0, [[1, 32], [1, 4]]> -> <sbuf 0, 0, [[1, 32], [1, 4]]>
  }
}

// -----

// CHECK: accel-schedule: unknown chip preset 'tiny'
accel.program "tiny" dram 4096 {
  accel.dma 0 <dram 0, [[1, 32], [1, 4]]> -> <sbuf 0, 0, [[1, 32], [1, 4]]>
  accel.act relu <sbuf 0, 128, [[1, 32], [1, 4]]>, <sbuf 0, 0, [[1, 32], [1, 4]]>
}

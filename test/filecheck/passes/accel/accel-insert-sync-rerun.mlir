// RUN: tidal-opt %s -p accel-insert-sync,accel-insert-sync --split-input-file | filecheck %s
// RUN: tidal-opt %s -p accel-insert-sync,accel-split-streams,accel-insert-sync --split-input-file --verify-diagnostics | filecheck %s --check-prefix=SPLIT

// A signal the input already carries is counted: the matmul must wait for both
// DMA0 signals (the second DMA writes what the matmul reads). Running the pass twice
// adds nothing.

// CHECK-LABEL: accel.program "small"
// CHECK-NEXT:    accel.dma 0 {{.*}} {signal = 3 : i64}
// CHECK-NEXT:    accel.dma 0 {{.*}} {signal = 3 : i64}
// CHECK-NEXT:    accel.wait pe sem 3 >= 2
// CHECK-NEXT:    accel.matmul
// CHECK-NEXT:  }
accel.program "small" dram 65536 {
  accel.dma 0 <dram 0, [[8, 32], [1, 8]]> -> <sbuf 0, 4096, [[1, 32], [1, 8]]> {signal = 3 : i64}
  accel.dma 0 <dram 0, [[8, 32], [1, 8]]> -> <sbuf 0, 0, [[1, 32], [1, 8]]>
  accel.matmul <psum 0, 0, [[1, 8], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]> {zero_at = -1 : i64}
}

// SPLIT: accel-insert-sync: expects a unified-order accel.program; this one is already split into streams

// RUN: tidal-opt %s -p accel-verify-sync | filecheck %s
// RUN: tidal-opt %s -p accel-split-streams,accel-verify-sync | filecheck %s --check-prefix=SPLIT
// RUN: tidal-opt %s -p accel-split-streams | tidal-opt -p accel-verify-sync | filecheck %s --check-prefix=SPLIT

// accel-verify-sync changes nothing on a synchronised program, in unified order or
// split into streams.

// (a) WAR across iterations, synchronised as accel-insert-sync does it: the load of
// iteration i0 waits for the matmuls of the earlier iterations (pe's semaphore 0),
// the matmul for the loads up to its own (dma0's semaphore 3).
accel.program "small" dram 65536 attributes {test = "war"} {
  accel.repeat 4 {
    accel.wait dma0 sem 0 >= 0 + 1 * i0
    accel.dma 0 <dram 0 + 1024 * i0, [[8, 32], [1, 8]]> -> <sbuf 0, 0, [[1, 32], [1, 8]]> {signal = 3 : i64}
    accel.wait pe sem 3 >= 1 + 1 * i0
    accel.matmul <psum 0, 0 + 32 * i0, [[1, 8], [1, 8]]>, <sbuf 0, 1024, [[1, 32], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]> {zero_at = -1 : i64, signal = 0 : i64}
  }
}

// CHECK-LABEL: accel.program "small" dram 65536 attributes {test = "war"} {
// CHECK-NEXT:    accel.repeat 4 {
// CHECK-NEXT:      accel.wait dma0 sem 0 >= 0 + 1 * i0
// CHECK-NEXT:      accel.dma 0 <dram 0 + 1024 * i0, {{\[\[}}8, 32], [1, 8]]> -> <sbuf 0, 0, {{\[\[}}1, 32], [1, 8]]> {signal = 3 : i64}
// CHECK-NEXT:      accel.wait pe sem 3 >= 1 + 1 * i0
// CHECK-NEXT:      accel.matmul <psum 0, 0 + 32 * i0, {{\[\[}}1, 8], [1, 8]]>, <sbuf 0, 1024, {{\[\[}}1, 32], [1, 8]]>, <sbuf 0, 0, {{\[\[}}1, 32], [1, 8]]> {zero_at = -1 : i64, signal = 0 : i64}
// CHECK-NEXT:    }
// CHECK-NEXT:  }

// SPLIT-LABEL: accel.program "small" dram 65536 attributes {test = "war"} {
// SPLIT-NEXT:    accel.stream pe {
// SPLIT-NEXT:      accel.repeat 4 {
// SPLIT-NEXT:        accel.wait pe sem 3 >= 1 + 1 * i0
// SPLIT-NEXT:        accel.matmul
// SPLIT-NEXT:      }
// SPLIT-NEXT:    }
// SPLIT-NEXT:    accel.stream dma0 {
// SPLIT-NEXT:      accel.repeat 4 {
// SPLIT-NEXT:        accel.wait dma0 sem 0 >= 0 + 1 * i0
// SPLIT-NEXT:        accel.dma 0
// SPLIT-NEXT:      }
// SPLIT-NEXT:    }
// SPLIT-NEXT:  }

// (b) Ordered through a third engine: POOL reads the loaded tile after waiting for
// ACT, which waited for the load.
accel.program "small" dram 65536 attributes {test = "transitive"} {
  accel.dma 0 <dram 0, [[8, 32], [1, 8]]> -> <sbuf 0, 0, [[1, 32], [1, 8]]> {signal = 3 : i64}
  accel.wait act sem 3 >= 1
  accel.act relu <sbuf 0, 1024, [[1, 32], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]> {signal = 1 : i64}
  accel.wait pool sem 1 >= 1
  accel.tensor_tensor add <sbuf 0, 2048, [[1, 32], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 1024, [[1, 32], [1, 8]]>
}

// CHECK-LABEL: accel.program "small" dram 65536 attributes {test = "transitive"} {
// CHECK-NEXT:    accel.dma 0
// CHECK-NEXT:    accel.wait act sem 3 >= 1
// CHECK-NEXT:    accel.act relu
// CHECK-NEXT:    accel.wait pool sem 1 >= 1
// CHECK-NEXT:    accel.tensor_tensor add
// CHECK-NEXT:  }

// (c) Exact footprints: the load writes the even elements of each row, ACT reads
// the odd ones. Their bounding boxes meet, their bytes do not: no wait is needed.
accel.program "small" dram 65536 attributes {test = "interleaved"} {
  accel.dma 0 <dram 0, [[8, 32], [1, 4]]> -> <sbuf 0, 0, [[1, 32], [2, 4]]>
  accel.act relu <sbuf 0, 1024, [[1, 32], [1, 4]]>, <sbuf 0, 4, [[1, 32], [2, 4]]>
}

// CHECK-LABEL: accel.program "small" dram 65536 attributes {test = "interleaved"} {
// CHECK-NEXT:    accel.dma 0 <dram 0, {{\[\[}}8, 32], [1, 4]]> -> <sbuf 0, 0, {{\[\[}}1, 32], [2, 4]]>
// CHECK-NEXT:    accel.act relu <sbuf 0, 1024, {{\[\[}}1, 32], [1, 4]]>, <sbuf 0, 4, {{\[\[}}1, 32], [2, 4]]>
// CHECK-NEXT:  }

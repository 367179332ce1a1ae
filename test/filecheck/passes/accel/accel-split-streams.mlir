// RUN: tidal-opt %s -p accel-split-streams | filecheck %s
// RUN: tidal-opt %s -p accel-split-streams,accel-split-streams | filecheck %s

// One sequential order across engines -> one stream per engine, in engine order
// (pe, act, pool, dma0, dma1), each in program order; io and const stay at the top.
accel.program "small" dram 65536 attributes {test = "basic"} {
  accel.io input "x" at 0 : tensor<32x8xf32>
  accel.dma 1 <dram 0, [[8, 32], [1, 8]]> -> <sbuf 0, 0, [[1, 32], [1, 8]]> {signal = 0 : i64, origin = "load"}
  accel.const at 4096 dense<1.0> : tensor<4xf32>
  accel.wait pe sem 0 >= 1
  accel.matmul <psum 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 64, [[1, 32], [1, 32]]>, <sbuf 0, 0, [[1, 32], [1, 8]]> {zero_at = -1 : i64, signal = 1 : i64}
  accel.wait act sem 1 >= 1
  accel.act relu <sbuf 0, 0, [[1, 32], [1, 8]]>, <psum 0, 0, [[1, 32], [1, 8]]> {signal = 2 : i64, origin = "relu0"}
  accel.wait dma0 sem 2 >= 1
  accel.dma 0 <sbuf 0, 0, [[1, 32], [1, 8]]> -> <dram 1024, [[8, 32], [1, 8]]>
}

// CHECK-LABEL: accel.program "small" dram 65536 attributes {test = "basic"} {
// CHECK-NEXT:    accel.io input "x" at 0 : tensor<32x8xf32>
// CHECK-NEXT:    accel.const at 4096
// CHECK-NEXT:    accel.stream pe {
// CHECK-NEXT:      accel.wait pe sem 0 >= 1
// CHECK-NEXT:      accel.matmul [[PSUM:<psum 0, 0, [^>]*>]], <sbuf 0, 64, {{.*}}> {zero_at = -1 : i64, signal = 1 : i64}
// CHECK-NEXT:    }
// CHECK-NEXT:    accel.stream act {
// CHECK-NEXT:      accel.wait act sem 1 >= 1
// CHECK-NEXT:      accel.act relu [[ACT_DST:<sbuf 0, 0, [^>]*>]], [[PSUM]] {signal = 2 : i64, origin = "relu0"}
// CHECK-NEXT:    }
// CHECK-NEXT:    accel.stream dma0 {
// CHECK-NEXT:      accel.wait dma0 sem 2 >= 1
// CHECK-NEXT:      accel.dma 0 [[ACT_DST]] -> <dram 1024, {{.*}}>
// CHECK-NEXT:    }
// CHECK-NEXT:    accel.stream dma1 {
// CHECK-NEXT:      accel.dma 1 <dram 0, {{.*}}> -> [[ACT_DST]] {signal = 0 : i64, origin = "load"}
// CHECK-NEXT:    }
// CHECK-NEXT:  }

// Nested repeats: each stream keeps the repeats that hold its instructions, so the
// i0/i1 indices keep their meaning; a repeat with nothing for an engine is dropped
// from that stream, and a repeat empty for every engine disappears.
accel.program "small" dram 65536 attributes {test = "nested"} {
  accel.repeat 4 {
    accel.dma 0 <dram 0 + 1024 * i0, [[8, 32], [1, 8]]> -> <sbuf 0, 0 + 32 * i0, [[1, 32], [1, 8]]>
    accel.repeat 2 attributes {tag = "inner"} {
      accel.matmul <psum 0, 0 + 32 * i1, [[1, 32], [1, 8]]>, <sbuf 0, 512 + 128 * i1, [[1, 32], [1, 32]]>, <sbuf 0, 0 + 32 * i0, [[1, 32], [1, 8]]> {zero_at = 0 : i64}
    }
    accel.repeat 3 {
      accel.act exp <sbuf 0, 4096 + 32 * i0 + 4 * i1, [[1, 32], [1, 1]]>, <sbuf 0, 0, [[1, 32], [1, 1]]>
      accel.repeat 5 {
      }
    }
  }
  accel.repeat 7 {
  }
  accel.nop pool
}

// CHECK-LABEL: accel.program "small" dram 65536 attributes {test = "nested"} {
// CHECK-NEXT:    accel.stream pe {
// CHECK-NEXT:      accel.repeat 4 {
// CHECK-NEXT:        accel.repeat 2 attributes {tag = "inner"} {
// CHECK-NEXT:          accel.matmul <psum 0, 0 + 32 * i1, {{.*}}>, <sbuf 0, 512 + 128 * i1, {{.*}}>, <sbuf 0, 0 + 32 * i0, {{.*}}> {zero_at = 0 : i64}
// CHECK-NEXT:        }
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK-NEXT:    accel.stream act {
// CHECK-NEXT:      accel.repeat 4 {
// CHECK-NEXT:        accel.repeat 3 {
// CHECK-NEXT:          accel.act exp <sbuf 0, 4096 + 32 * i0 + 4 * i1, {{.*}}>, <sbuf 0, 0, {{.*}}>
// CHECK-NEXT:        }
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK-NEXT:    accel.stream pool {
// CHECK-NEXT:      accel.nop pool
// CHECK-NEXT:    }
// CHECK-NEXT:    accel.stream dma0 {
// CHECK-NEXT:      accel.repeat 4 {
// CHECK-NEXT:        accel.dma 0 <dram 0 + 1024 * i0, {{.*}}> -> <sbuf 0, 0 + 32 * i0, {{.*}}>
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK-NEXT:  }

// An already split program is left alone (the stream order is not changed either).
accel.program "small" dram 65536 attributes {test = "split"} {
  accel.stream dma0 {
    accel.nop dma0
  }
  accel.stream pe {
    accel.nop pe
  }
}

// CHECK-LABEL: accel.program "small" dram 65536 attributes {test = "split"} {
// CHECK-NEXT:    accel.stream dma0 {
// CHECK-NEXT:      accel.nop dma0
// CHECK-NEXT:    }
// CHECK-NEXT:    accel.stream pe {
// CHECK-NEXT:      accel.nop pe
// CHECK-NEXT:    }
// CHECK-NEXT:  }

// A program without instructions stays as it is.
accel.program "small" dram 65536 attributes {test = "empty"} {
  accel.io output "y" at 0 : tensor<4xf32>
}

// CHECK-LABEL: accel.program "small" dram 65536 attributes {test = "empty"} {
// CHECK-NEXT:    accel.io output "y" at 0 : tensor<4xf32>
// CHECK-NEXT:  }

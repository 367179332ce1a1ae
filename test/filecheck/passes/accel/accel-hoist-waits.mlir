// RUN: tidal-opt %s -p accel-hoist-waits | filecheck %s
// RUN: tidal-opt %s -p accel-hoist-waits,accel-verify-sync | filecheck %s

// accel-hoist-waits moves a wait out of its repeat when every iteration after the
// first repeats a condition the first already met (semaphores only count up): its
// value's step in the repeat's index is at most 0, it signals nothing, and no
// instruction of its engine comes before it in the body. Semaphores are engine ids:
// pe 0, act 1, pool 2, dma0 3.

// (a) Each of the 4 matmuls waited for the same load: the wait runs once, before
// the repeat. The act's wait, for the matmul of its own iteration, grows with i0
// and stays.
accel.program "small" dram 65536 attributes {test = "invariant"} {
  accel.stream pe {
    accel.repeat 4 {
      accel.wait pe sem 3 >= 1
      accel.matmul <psum 0, 0 + 32 * i0, [[1, 8], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 1024, [[1, 32], [1, 8]]> {zero_at = -1 : i64, signal = 0 : i64}
    }
  }
  accel.stream act {
    accel.repeat 4 {
      accel.wait act sem 0 >= 1 + 1 * i0
      accel.act relu <sbuf 0, 2048 + 32 * i0, [[1, 8], [1, 8]]>, <psum 0, 0 + 32 * i0, [[1, 8], [1, 8]]>
    }
  }
  accel.stream dma0 {
    accel.dma 0 <dram 0, [[8, 32], [1, 8]]> -> <sbuf 0, 1024, [[1, 32], [1, 8]]> {signal = 3 : i64}
  }
}

// CHECK-LABEL: accel.program "small" dram 65536 attributes {test = "invariant"} {
// CHECK-NEXT:    accel.stream pe {
// CHECK-NEXT:      accel.wait pe sem 3 >= 1
// CHECK-NEXT:      accel.repeat 4 {
// CHECK-NEXT:        accel.matmul
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK-NEXT:    accel.stream act {
// CHECK-NEXT:      accel.repeat 4 {
// CHECK-NEXT:        accel.wait act sem 0 >= 1 + 1 * i0
// CHECK-NEXT:        accel.act

// (b) Nested repeats: the inner wait depends on i0 only, so it leaves the inner
// repeat (and stays in the outer one, where it grows); the wait that depends on
// nothing leaves both, and keeps its place before the other one. A wait with a
// negative step takes its first (largest) value, here a constant: it leaves both too.
accel.program "small" dram 65536 attributes {test = "nested"} {
  accel.stream pe {
    accel.repeat 2 {
      accel.repeat 3 {
        accel.wait pe sem 1 >= 1 + 1 * i0
        accel.wait pe sem 3 >= 2
        accel.wait pe sem 2 >= 5 + -1 * i1
        accel.matmul <psum 0, 0 + 32 * i0, [[1, 8], [1, 8]]>, <sbuf 0, 0 + 64 * i1, [[1, 32], [1, 8]]>, <sbuf 0, 1024, [[1, 32], [1, 8]]> {zero_at = 1 : i64}
      }
    }
  }
  accel.stream act {
    accel.repeat 2 {
      accel.act relu <sbuf 0, 2048, [[1, 8], [1, 8]]>, <sbuf 0, 4096, [[1, 8], [1, 8]]> {signal = 1 : i64}
    }
  }
  accel.stream pool {
    accel.repeat 5 {
      accel.memset <sbuf 0, 3072, [[1, 8], [1, 8]]>, 0.0 {signal = 2 : i64}
    }
  }
  accel.stream dma0 {
    accel.dma 0 <dram 0, [[8, 32], [1, 8]]> -> <sbuf 0, 1024, [[1, 32], [1, 8]]> {signal = 3 : i64}
    accel.dma 0 <dram 0, [[8, 32], [1, 8]]> -> <sbuf 0, 6144, [[1, 32], [1, 8]]> {signal = 3 : i64}
  }
}

// CHECK-LABEL: accel.program "small" dram 65536 attributes {test = "nested"} {
// CHECK-NEXT:    accel.stream pe {
// CHECK-NEXT:      accel.wait pe sem 3 >= 2
// CHECK-NEXT:      accel.wait pe sem 2 >= 5
// CHECK-NEXT:      accel.repeat 2 {
// CHECK-NEXT:        accel.wait pe sem 1 >= 1 + 1 * i0
// CHECK-NEXT:        accel.repeat 3 {
// CHECK-NEXT:          accel.matmul
// CHECK-NEXT:        }
// CHECK-NEXT:      }
// CHECK-NEXT:    }

// (c) What stays: a wait after an instruction of its engine in the body (moving it
// would hold that instruction back in the first iteration), and a wait that signals.
accel.program "small" dram 65536 attributes {test = "kept"} {
  accel.stream pe {
    accel.repeat 2 {
      accel.matmul <psum 0, 0, [[1, 8], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 2048, [[1, 32], [1, 8]]> {zero_at = -1 : i64}
      accel.wait pe sem 3 >= 1
      accel.matmul <psum 0, 64, [[1, 8], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 1024, [[1, 32], [1, 8]]> {zero_at = -1 : i64}
    }
    accel.repeat 2 {
      accel.wait pe sem 3 >= 1 {signal = 0 : i64}
      accel.matmul <psum 0, 128, [[1, 8], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 1024, [[1, 32], [1, 8]]> {zero_at = -1 : i64}
    }
  }
  accel.stream dma0 {
    accel.dma 0 <dram 0, [[8, 32], [1, 8]]> -> <sbuf 0, 1024, [[1, 32], [1, 8]]> {signal = 3 : i64}
  }
}

// CHECK-LABEL: accel.program "small" dram 65536 attributes {test = "kept"} {
// CHECK-NEXT:    accel.stream pe {
// CHECK-NEXT:      accel.repeat 2 {
// CHECK-NEXT:        accel.matmul
// CHECK-NEXT:        accel.wait pe sem 3 >= 1
// CHECK-NEXT:        accel.matmul
// CHECK-NEXT:      }
// CHECK-NEXT:      accel.repeat 2 {
// CHECK-NEXT:        accel.wait pe sem 3 >= 1 {signal = 0 : i64}
// CHECK-NEXT:        accel.matmul

// (d) Self-modifying programs are left alone (an accel.overwrite may rewrite the
// records a later instance of the wait runs).
// CHECK-LABEL: accel.program "small" dram 65536 attributes {test = "self-modifying"} {
// CHECK:           accel.repeat 2 {
// CHECK-NEXT:        accel.wait pe sem 3 >= 1
accel.program "small" dram 65536 attributes {test = "self-modifying"} {
  accel.stream pe {
    accel.repeat 2 {
      accel.wait pe sem 3 >= 1
      accel.matmul <psum 0, 0, [[1, 8], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 1024, [[1, 32], [1, 8]]> {zero_at = -1 : i64}
    }
  }
  accel.stream dma0 {
    accel.dma 0 <dram 0, [[8, 32], [1, 8]]> -> <sbuf 0, 1024, [[1, 32], [1, 8]]> {signal = 3 : i64}
    accel.overwrite 0 <dram 4096, [[1, 48]]>, <dram 8192, [[1, 48]]> unless <dram 64, [[1, 1]]>
  }
}

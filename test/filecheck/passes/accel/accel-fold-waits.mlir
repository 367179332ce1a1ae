// RUN: tidal-opt %s -p accel-fold-waits | filecheck %s
// RUN: tidal-opt %s -p accel-fold-waits,accel-verify-sync | filecheck %s

// accel-fold-waits moves a wait into its engine's next instruction in the same block
// (the instruction's wait_sem and wait_value, US11175919B1): the engine issues it
// once the semaphore holds, as it did after the wait. A wait just before a repeat
// goes into its engine's first instruction of the body (semaphores only count up, so
// the later iterations find it satisfied). What stays a record of its own: a wait
// before another wait (an instruction holds one condition), a wait whose next
// instruction already holds one, a wait that signals, a wait that ends its block.
// Semaphores are engine ids: pe 0, act 1, pool 2, dma0 3.

// (a) Folds: each wait into the instruction after it, inside a repeat (the value
// steps with i0, and so does the field) and on a DMA queue (the store after it).
accel.program "small" dram 65536 attributes {test = "adjacent"} {
  accel.stream pe {
    accel.repeat 4 {
      accel.wait pe sem 3 >= 1 + 1 * i0
      accel.matmul <psum 0, 0 + 32 * i0, [[1, 8], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 1024 + 64 * i0, [[1, 32], [1, 8]]> {zero_at = -1 : i64, signal = 0 : i64}
    }
  }
  accel.stream act {
    accel.repeat 4 {
      accel.wait act sem 0 >= 1 + 1 * i0
      accel.act relu <sbuf 0, 2048 + 32 * i0, [[1, 8], [1, 8]]>, <psum 0, 0 + 32 * i0, [[1, 8], [1, 8]]> {signal = 1 : i64}
    }
  }
  accel.stream dma0 {
    accel.repeat 4 {
      accel.dma 0 <dram 0 + 1024 * i0, [[8, 32], [1, 8]]> -> <sbuf 0, 1024 + 64 * i0, [[1, 32], [1, 8]]> {signal = 3 : i64}
    }
    accel.wait dma0 sem 1 >= 4
    accel.dma 0 <sbuf 0, 2048, [[1, 8], [1, 32]]> -> <dram 8192, [[32, 8], [1, 32]]>
  }
}

// CHECK-LABEL: accel.program "small" dram 65536 attributes {test = "adjacent"} {
// CHECK-NEXT:    accel.stream pe {
// CHECK-NEXT:      accel.repeat 4 {
// CHECK-NEXT:        accel.matmul {{.*}} {zero_at = -1 : i64, signal = 0 : i64, wait_sem = 3 : i64, wait_value = #accel.aff<1 + 1 * i0>}
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK-NEXT:    accel.stream act {
// CHECK-NEXT:      accel.repeat 4 {
// CHECK-NEXT:        accel.act relu {{.*}} {signal = 1 : i64, wait_sem = 0 : i64, wait_value = #accel.aff<1 + 1 * i0>}
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK-NEXT:    accel.stream dma0 {
// CHECK-NEXT:      accel.repeat 4 {
// CHECK-NEXT:        accel.dma 0 {{.*}} {signal = 3 : i64}
// CHECK-NEXT:      }
// CHECK-NEXT:      accel.dma 0 <sbuf 0, 2048, {{.*}} {wait_sem = 1 : i64, wait_value = #accel.aff<4>}
// CHECK-NEXT:    }

// (b) Before a repeat: pe's wait goes into the first matmul of the inner repeat (its
// engine's first instruction of the body, two repeats down); the act's wait cannot,
// since the act heading its repeat's body holds a wait of its own (folded first).
accel.program "small" dram 65536 attributes {test = "repeat"} {
  accel.stream pe {
    accel.wait pe sem 3 >= 1
    accel.repeat 2 {
      accel.repeat 2 {
        accel.matmul <psum 0, 0 + 32 * i0, [[1, 8], [1, 8]]>, <sbuf 0, 0 + 64 * i1, [[1, 32], [1, 8]]>, <sbuf 0, 1024, [[1, 32], [1, 8]]> {zero_at = 1 : i64}
      }
      accel.nop pe {signal = 0 : i64}
    }
  }
  accel.stream act {
    accel.wait act sem 3 >= 1
    accel.repeat 2 {
      accel.wait act sem 0 >= 1 + 1 * i0
      accel.act relu <sbuf 0, 2048 + 32 * i0, [[1, 8], [1, 8]]>, <psum 0, 0 + 32 * i0, [[1, 8], [1, 8]]>
    }
  }
  accel.stream dma0 {
    accel.dma 0 <dram 0, [[8, 32], [1, 8]]> -> <sbuf 0, 1024, [[1, 32], [1, 8]]> {signal = 3 : i64}
  }
}

// CHECK-LABEL: accel.program "small" dram 65536 attributes {test = "repeat"} {
// CHECK-NEXT:    accel.stream pe {
// CHECK-NEXT:      accel.repeat 2 {
// CHECK-NEXT:        accel.repeat 2 {
// CHECK-NEXT:          accel.matmul {{.*}} {zero_at = 1 : i64, wait_sem = 3 : i64, wait_value = #accel.aff<1>}
// CHECK-NEXT:        }
// CHECK-NEXT:        accel.nop pe {signal = 0 : i64}
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK-NEXT:    accel.stream act {
// CHECK-NEXT:      accel.wait act sem 3 >= 1
// CHECK-NEXT:      accel.repeat 2 {
// CHECK-NEXT:        accel.act relu {{.*}} {wait_sem = 0 : i64, wait_value = #accel.aff<1 + 1 * i0>}
// CHECK-NEXT:      }
// CHECK-NEXT:    }

// (c) What stays: of two waits in a row the second folds and the first stays; a wait
// that signals stays; a wait at the end of its stream stays.
accel.program "small" dram 65536 attributes {test = "stays"} {
  accel.stream pe {
    accel.wait pe sem 3 >= 1
    accel.wait pe sem 2 >= 1
    accel.matmul <psum 0, 0, [[1, 8], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 1024, [[1, 32], [1, 8]]> {zero_at = -1 : i64, signal = 0 : i64}
    accel.wait pe sem 1 >= 1 {signal = 0 : i64}
    accel.matmul <psum 0, 64, [[1, 8], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 1024, [[1, 32], [1, 8]]> {zero_at = -1 : i64}
    accel.wait pe sem 1 >= 2
  }
  accel.stream act {
    accel.act relu <sbuf 0, 2048, [[1, 8], [1, 8]]>, <sbuf 0, 4096, [[1, 8], [1, 8]]> {signal = 1 : i64}
    accel.act relu <sbuf 0, 2048, [[1, 8], [1, 8]]>, <sbuf 0, 4096, [[1, 8], [1, 8]]> {signal = 1 : i64}
  }
  accel.stream pool {
    accel.memset <sbuf 0, 3072, [[1, 8], [1, 8]]>, 0.0 {signal = 2 : i64}
  }
  accel.stream dma0 {
    accel.dma 0 <dram 0, [[8, 32], [1, 8]]> -> <sbuf 0, 1024, [[1, 32], [1, 8]]> {signal = 3 : i64}
  }
}

// CHECK-LABEL: accel.program "small" dram 65536 attributes {test = "stays"} {
// CHECK-NEXT:    accel.stream pe {
// CHECK-NEXT:      accel.wait pe sem 3 >= 1
// CHECK-NEXT:      accel.matmul {{.*}} {zero_at = -1 : i64, signal = 0 : i64, wait_sem = 2 : i64, wait_value = #accel.aff<1>}
// CHECK-NEXT:      accel.wait pe sem 1 >= 1 {signal = 0 : i64}
// CHECK-NEXT:      accel.matmul {{.*}} {zero_at = -1 : i64}
// CHECK-NEXT:      accel.wait pe sem 1 >= 2
// CHECK-NEXT:    }

// (d) A unified order (not yet split into streams): the wait goes into its engine's
// next instruction even with other engines' instructions between them.
accel.program "small" dram 65536 attributes {test = "unified"} {
  accel.dma 0 <dram 0, [[8, 32], [1, 8]]> -> <sbuf 0, 1024, [[1, 32], [1, 8]]> {signal = 3 : i64}
  accel.wait pe sem 3 >= 1
  accel.memset <sbuf 0, 3072, [[1, 8], [1, 8]]>, 0.0
  accel.matmul <psum 0, 0, [[1, 8], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 1024, [[1, 32], [1, 8]]> {zero_at = -1 : i64}
}

// CHECK-LABEL: accel.program "small" dram 65536 attributes {test = "unified"} {
// CHECK-NEXT:    accel.dma 0
// CHECK-NEXT:    accel.memset
// CHECK-NEXT:    accel.matmul {{.*}} {zero_at = -1 : i64, wait_sem = 3 : i64, wait_value = #accel.aff<1>}
// CHECK-NEXT:  }

// (e) A program with self-modifying instructions is left alone.
accel.program "small" dram 65536 attributes {test = "self-modifying"} {
  accel.stream dma1 {
    accel.wait dma1 sem 3 >= 1
    accel.overwrite 1 <dram 4096, [[1, 480]]>, <dram 8192, [[1, 480]]> unless <dram 64, [[1, 1]]>
  }
  accel.stream dma0 {
    accel.dma 0 <dram 0, [[8, 32], [1, 8]]> -> <sbuf 0, 1024, [[1, 32], [1, 8]]> {signal = 3 : i64}
  }
}

// CHECK-LABEL: accel.program "small" dram 65536 attributes {test = "self-modifying"} {
// CHECK-NEXT:    accel.stream dma1 {
// CHECK-NEXT:      accel.wait dma1 sem 3 >= 1
// CHECK-NEXT:      accel.overwrite

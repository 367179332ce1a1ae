// RUN: tidal-opt %s -p accel-assign-queues --split-input-file | filecheck %s
// RUN: tidal-opt %s -p accel-assign-queues,accel-assign-queues --split-input-file | filecheck %s
// RUN: tidal-opt %s -p 'accel-assign-queues{weights=false}' --split-input-file | filecheck %s --check-prefix=ROUND
// RUN: tidal-opt %s -p 'accel-assign-queues{pair=false}' --split-input-file | filecheck %s --check-prefix=NOPAIR
// RUN: tidal-opt %s -p 'accel-assign-queues{balance=false}' --split-input-file | filecheck %s --check-prefix=TURN

// loop-to-accel leaves every DMA on queue 0. In program order, a DMA that writes
// DRAM (a store) goes on the last queue and every other DMA (loads, on-chip copies)
// on the other queues in turn; running the pass twice changes nothing.

// The small chip has two queues: stores on 1, every other DMA on 0.
// CHECK-LABEL: accel.program "small" dram 4096 {
// CHECK-NEXT:    accel.dma 0 <dram 0, {{.*}}> -> <sbuf 0, 0, {{.*}}>
// CHECK-NEXT:    accel.dma 0 <dram 512, {{.*}}> -> <sbuf 0, 64, {{.*}}>
// CHECK-NEXT:    accel.act relu
// CHECK-NEXT:    accel.dma 1 <sbuf 0, 128, {{.*}}> -> <dram 1024, {{.*}}>
// CHECK-NEXT:  }
accel.program "small" dram 4096 {
  accel.dma 0 <dram 0, [[1, 32], [1, 4]]> -> <sbuf 0, 0, [[1, 32], [1, 4]]>
  accel.dma 0 <dram 512, [[1, 32], [1, 4]]> -> <sbuf 0, 64, [[1, 32], [1, 4]]>
  accel.act relu <sbuf 0, 128, [[1, 32], [1, 4]]>, <sbuf 0, 0, [[1, 32], [1, 4]]>
  accel.dma 0 <sbuf 0, 128, [[1, 32], [1, 4]]> -> <dram 1024, [[1, 32], [1, 4]]>
}

// -----

// The default chip has four: loads take 0, 1, 2 in turn across repeats (the turn
// counts DMAs in the program text, not their executions), stores take 3; an
// on-chip copy counts as a load.
// CHECK-LABEL: accel.program "default" dram 8192 {
// CHECK-NEXT:    accel.dma 0 <dram 0,
// CHECK-NEXT:    accel.repeat 2 {
// CHECK-NEXT:      accel.dma 1 <dram 64 + 128 * i0,
// CHECK-NEXT:      accel.dma 2 <dram 2048 + 128 * i0,
// CHECK-NEXT:      accel.dma 3 <sbuf 0, 0, {{.*}}> -> <dram 4096 + 128 * i0,
// CHECK-NEXT:      accel.dma 0 <sbuf 0, 0, {{.*}}> -> <sbuf 0, 64,
// CHECK-NEXT:    }
// CHECK-NEXT:    accel.dma 1 <dram 6144,
// CHECK-NEXT:    accel.dma 3 <sbuf 0, 64, {{.*}}> -> <dram 6400,
// CHECK-NEXT:  }
accel.program "default" dram 8192 {
  accel.dma 0 <dram 0, [[1, 4], [1, 4]]> -> <sbuf 0, 0, [[1, 4], [1, 4]]>
  accel.repeat 2 {
    accel.dma 0 <dram 64 + 128 * i0, [[1, 4], [1, 4]]> -> <sbuf 0, 0, [[1, 4], [1, 4]]>
    accel.dma 0 <dram 2048 + 128 * i0, [[1, 4], [1, 4]]> -> <sbuf 0, 0, [[1, 4], [1, 4]]>
    accel.dma 0 <sbuf 0, 0, [[1, 4], [1, 4]]> -> <dram 4096 + 128 * i0, [[1, 4], [1, 4]]>
    accel.dma 0 <sbuf 0, 0, [[1, 4], [1, 4]]> -> <sbuf 0, 64, [[1, 4], [1, 4]]>
  }
  accel.dma 0 <dram 6144, [[1, 4], [1, 4]]> -> <sbuf 0, 0, [[1, 4], [1, 4]]>
  accel.dma 0 <sbuf 0, 64, [[1, 4], [1, 4]]> -> <dram 6400, [[1, 4], [1, 4]]>
}

// -----

// A program without instructions (its outputs are its inputs) has nothing to assign.
// CHECK-LABEL: accel.program "small" dram 4096 {
// CHECK-NEXT:    accel.io input "x" at 0 : tensor<4xf32>
// CHECK-NEXT:    accel.io output "x" at 0 : tensor<4xf32>
// CHECK-NEXT:  }
accel.program "small" dram 4096 {
  accel.io input "x" at 0 : tensor<4xf32>
  accel.io output "x" at 0 : tensor<4xf32>
}

// -----

// Loads of constants (their source inside an accel.const: weights, biases) take
// queue 0 of their own, the other loads 1 and 2 in turn, stores 3: a weight load
// never waits in its queue behind a load of activations. With weights=false,
// every load takes 0, 1, 2 in turn.
// CHECK-LABEL: accel.program "default" dram 16384 {
// CHECK-NEXT:    accel.const at 1024
// CHECK-NEXT:    accel.dma 1 <dram 0,
// CHECK-NEXT:    accel.dma 0 <dram 1024,
// CHECK-NEXT:    accel.dma 2 <dram 16,
// CHECK-NEXT:    accel.dma 0 <dram 1040,
// CHECK-NEXT:    accel.dma 3 <sbuf 0, 0, {{.*}}> -> <dram 4096,
// CHECK-NEXT:    accel.dma 1 <dram 32,
// CHECK-NEXT:  }
// ROUND-LABEL: accel.program "default" dram 16384 {
// ROUND-NEXT:    accel.const at 1024
// ROUND-NEXT:    accel.dma 0 <dram 0,
// ROUND-NEXT:    accel.dma 1 <dram 1024,
// ROUND-NEXT:    accel.dma 2 <dram 16,
// ROUND-NEXT:    accel.dma 0 <dram 1040,
// ROUND-NEXT:    accel.dma 3 <sbuf 0, 0, {{.*}}> -> <dram 4096,
// ROUND-NEXT:    accel.dma 1 <dram 32,
// ROUND-NEXT:  }
accel.program "default" dram 16384 {
  accel.const at 1024 dense<5.000000e-01> : tensor<16xf32>
  accel.dma 0 <dram 0, [[1, 4], [1, 4]]> -> <sbuf 0, 0, [[1, 4], [1, 4]]>
  accel.dma 0 <dram 1024, [[1, 4], [1, 4]]> -> <sbuf 0, 64, [[1, 4], [1, 4]]>
  accel.dma 0 <dram 16, [[1, 4], [1, 4]]> -> <sbuf 0, 128, [[1, 4], [1, 4]]>
  accel.dma 0 <dram 1040, [[1, 4], [1, 3]]> -> <sbuf 0, 192, [[1, 4], [1, 3]]>
  accel.dma 0 <sbuf 0, 0, [[1, 4], [1, 4]]> -> <dram 4096, [[1, 4], [1, 4]]>
  accel.dma 0 <dram 32, [[1, 4], [1, 4]]> -> <sbuf 0, 256, [[1, 4], [1, 4]]>
}

// -----

// Weight-bound (`pair`): in 8 iterations the constant loads move 32 MiB (2 MiB
// each, twice), more than the default chip's 24 MiB of SBUF holds, the other load
// 64 bytes, the store 16, under a tenth of the constants' bytes: constant loads
// alternate between queue 0 and the stores' queue 3, so the second does not wait in
// line behind the first. With pair=false both take queue 0. (The case above stores
// 64 bytes against 112 of constants, which fit on chip anyway: no pair.)
// CHECK-LABEL: accel.program "default" dram 8388608 attributes {test = "pair"} {
// CHECK:         accel.dma 1 <dram 0,
// CHECK-NEXT:    accel.repeat 8 {
// CHECK-NEXT:      accel.dma 0 <dram 1024,
// CHECK-NEXT:      accel.dma 3 <dram 1280,
// CHECK-NEXT:    }
// CHECK-NEXT:    accel.dma 3 <sbuf 0, 0, {{.*}}> -> <dram 8384512,
// NOPAIR-LABEL: accel.program "default" dram 8388608 attributes {test = "pair"} {
// NOPAIR:         accel.dma 1 <dram 0,
// NOPAIR-NEXT:    accel.repeat 8 {
// NOPAIR-NEXT:      accel.dma 0 <dram 1024,
// NOPAIR-NEXT:      accel.dma 0 <dram 1280,
// NOPAIR-NEXT:    }
// NOPAIR-NEXT:    accel.dma 3 <sbuf 0, 0, {{.*}}> -> <dram 8384512,
accel.program "default" dram 8388608 attributes {test = "pair"} {
  accel.const at 1024 dense<5.000000e-01> : tensor<128xf32>
  accel.dma 0 <dram 0, [[1, 4], [1, 4]]> -> <sbuf 0, 64, [[1, 4], [1, 4]]>
  accel.repeat 8 {
    accel.dma 0 <dram 1024, [[4096, 128], [1, 4096]]> -> <sbuf 0, 4096, [[1, 128], [1, 4096]]>
    accel.dma 0 <dram 1280, [[4096, 128], [1, 4096]]> -> <sbuf 0, 32768, [[1, 128], [1, 4096]]>
  }
  accel.dma 0 <sbuf 0, 0, [[1, 4], [1, 1]]> -> <dram 8384512, [[1, 4], [1, 1]]>
}

// -----

// Loads of different sizes: each goes on the load queue with the fewest bytes so far
// (counting a repeat's iterations), the lowest on a tie. The first load moves 8 KB
// over its 4 iterations, so queue 0 takes nothing more until the others catch up;
// with balance=false the loads take 0, 1, 2 in turn whatever they move.
// CHECK-LABEL: accel.program "default" dram 65536 {
// CHECK-NEXT:    accel.repeat 4 {
// CHECK-NEXT:      accel.dma 0 <dram 0 + 2048 * i0,
// CHECK-NEXT:    }
// CHECK-NEXT:    accel.dma 1 <dram 8192,
// CHECK-NEXT:    accel.dma 2 <dram 8256,
// CHECK-NEXT:    accel.dma 1 <dram 8320,
// CHECK-NEXT:    accel.dma 2 <dram 8384,
// CHECK-NEXT:    accel.dma 3 <sbuf
// CHECK-NEXT:  }
// TURN-LABEL: accel.program "default" dram 65536 {
// TURN-NEXT:    accel.repeat 4 {
// TURN-NEXT:      accel.dma 0 <dram 0 + 2048 * i0,
// TURN-NEXT:    }
// TURN-NEXT:    accel.dma 1 <dram 8192,
// TURN-NEXT:    accel.dma 2 <dram 8256,
// TURN-NEXT:    accel.dma 0 <dram 8320,
// TURN-NEXT:    accel.dma 1 <dram 8384,
// TURN-NEXT:    accel.dma 3 <sbuf
accel.program "default" dram 65536 {
  accel.repeat 4 {
    accel.dma 0 <dram 0 + 2048 * i0, [[16, 32], [1, 16]]> -> <sbuf 0, 0, [[1, 32], [1, 16]]>
  }
  accel.dma 0 <dram 8192, [[1, 16], [1, 1]]> -> <sbuf 0, 64, [[1, 16], [1, 1]]>
  accel.dma 0 <dram 8256, [[1, 16], [1, 1]]> -> <sbuf 0, 68, [[1, 16], [1, 1]]>
  accel.dma 0 <dram 8320, [[1, 16], [1, 1]]> -> <sbuf 0, 72, [[1, 16], [1, 1]]>
  accel.dma 0 <dram 8384, [[1, 16], [1, 1]]> -> <sbuf 0, 76, [[1, 16], [1, 1]]>
  accel.dma 0 <sbuf 0, 0, [[1, 32], [1, 16]]> -> <dram 16384, [[16, 32], [1, 16]]>
}

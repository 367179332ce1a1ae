// RUN: tidal-opt %s -p accel-schedule --split-input-file | filecheck %s
// RUN: tidal-opt %s -p 'accel-schedule{peel=false}' --split-input-file | filecheck %s --check-prefix=NOPEEL
// RUN: tidal-opt %s -p 'accel-schedule{chains=false}' --split-input-file | filecheck %s --check-prefix=NOCHAINS
// RUN: tidal-opt %s -p 'accel-schedule{instances=false}' --split-input-file | filecheck %s --check-prefix=NOINST

// Two output tiles of a layer (a matmul over two K steps, then ACT evacuates the
// PSUM tile), then a second layer on ACT that reads them. In program order ACT
// evacuates both tiles before the next layer starts on the first. The schedule
// peels the small repeat (one item per output tile) and lets ACT run the next
// layer's first instruction while the PE array computes the second tile.
// CHECK-LABEL: accel.program "default"
// CHECK-NEXT:    accel.repeat 2 {
// CHECK-NEXT:      accel.matmul <psum 0, 0, {{.*}}>, <sbuf 0, 0 + 512 * i0, {{.*}}>, <sbuf 0, 4096 + 2048 * i0, {{.*}}> {zero_at = 0 : i64}
// CHECK-NEXT:    }
// CHECK-NEXT:    accel.repeat 2 {
// CHECK-NEXT:      accel.matmul <psum 0, 2048, {{.*}}> {zero_at = 0 : i64}
// CHECK-NEXT:    }
// CHECK-NEXT:    accel.act relu <sbuf 0, 8192, {{.*}}>, <psum 0, 0,
// CHECK-NEXT:    accel.act exp <sbuf 0, 16384, {{.*}}>, <sbuf 0, 8192,
// CHECK-NEXT:    accel.act relu <sbuf 0, 10240, {{.*}}>, <psum 0, 2048,
// CHECK-NEXT:    accel.act exp <sbuf 0, 18432, {{.*}}>, <sbuf 0, 10240,
// CHECK-NEXT:  }
// Without peeling the repeat is one item: ACT's order cannot change.
// NOPEEL-LABEL: accel.program "default"
// NOPEEL-NEXT:    accel.repeat 2 {
// NOPEEL:         accel.act exp <sbuf 0, 16384,
// NOPEEL-NEXT:    accel.act exp <sbuf 0, 18432,
accel.program "default" dram 1048576 {
  accel.repeat 2 {
    accel.repeat 2 {
      accel.matmul <psum 0, 2048 * i0, [[1, 128], [1, 512]]>, <sbuf 0, 512 * i1, [[1, 128], [1, 128]]>, <sbuf 0, 4096 + 2048 * i1, [[1, 128], [1, 512]]> {zero_at = 1 : i64}
    }
    accel.act relu <sbuf 0, 8192 + 2048 * i0, [[1, 128], [1, 512]]>, <psum 0, 2048 * i0, [[1, 128], [1, 512]]>
  }
  accel.act exp <sbuf 0, 16384, [[1, 128], [1, 512]]>, <sbuf 0, 8192, [[1, 128], [1, 512]]>
  accel.act exp <sbuf 0, 18432, [[1, 128], [1, 512]]>, <sbuf 0, 10240, [[1, 128], [1, 512]]>
}

// -----

// A repeat of one iteration (loop-double-buffer unrolls a loop of 3 output tiles
// whole into one) is peeled too, so its output tiles are items of their own: ACT
// runs the next layer's exp on the first tile while the PE array computes the
// second, as above. Its index is bound (0) and the inner repeats' indices and
// zero_at levels move up.
// CHECK-LABEL: accel.program "default"
// CHECK-NEXT:    accel.repeat 2 {
// CHECK-NEXT:      accel.matmul <psum 0, 0, {{.*}}>, <sbuf 0, 0 + 512 * i0, {{.*}}>, <sbuf 0, 4096 + 2048 * i0, {{.*}}> {zero_at = 0 : i64}
// CHECK-NEXT:    }
// CHECK-NEXT:    accel.repeat 2 {
// CHECK-NEXT:      accel.matmul <psum 0, 2048, {{.*}}>, <sbuf 0, 1024 + 512 * i0, {{.*}}> {zero_at = 0 : i64}
// CHECK-NEXT:    }
// CHECK-NEXT:    accel.act relu <sbuf 0, 8192, {{.*}}>, <psum 0, 0,
// CHECK-NEXT:    accel.act exp <sbuf 0, 16384, {{.*}}>, <sbuf 0, 8192,
// CHECK-NEXT:    accel.act relu <sbuf 0, 10240, {{.*}}>, <psum 0, 2048,
// CHECK-NEXT:    accel.act exp <sbuf 0, 18432, {{.*}}>, <sbuf 0, 10240,
// CHECK-NEXT:  }
// NOPEEL-LABEL: accel.program "default"
// NOPEEL-NEXT:    accel.repeat 1 {
// NOPEEL:         accel.act exp <sbuf 0, 16384,
// NOPEEL-NEXT:    accel.act exp <sbuf 0, 18432,
accel.program "default" dram 1048576 {
  accel.repeat 1 {
    accel.repeat 2 {
      accel.matmul <psum 0, 0, [[1, 128], [1, 512]]>, <sbuf 0, 512 * i1, [[1, 128], [1, 128]]>, <sbuf 0, 4096 + 2048 * i1, [[1, 128], [1, 512]]> {zero_at = 1 : i64}
    }
    accel.act relu <sbuf 0, 8192, [[1, 128], [1, 512]]>, <psum 0, 0, [[1, 128], [1, 512]]>
    accel.repeat 2 {
      accel.matmul <psum 0, 2048, [[1, 128], [1, 512]]>, <sbuf 0, 1024 + 512 * i1, [[1, 128], [1, 128]]>, <sbuf 0, 4096 + 2048 * i1, [[1, 128], [1, 512]]> {zero_at = 1 : i64}
    }
    accel.act relu <sbuf 0, 10240, [[1, 128], [1, 512]]>, <psum 0, 2048, [[1, 128], [1, 512]]>
  }
  accel.act exp <sbuf 0, 16384, [[1, 128], [1, 512]]>, <sbuf 0, 8192, [[1, 128], [1, 512]]>
  accel.act exp <sbuf 0, 18432, [[1, 128], [1, 512]]>, <sbuf 0, 10240, [[1, 128], [1, 512]]>
}

// -----

// Peeling binds the repeat index: a matmul that overwrites its PSUM tile at the
// peeled level (zero_at = 0) overwrites in the first copy (zero_at = -1) and
// accumulates in the others (no zero_at).
// CHECK-LABEL: accel.program "default"
// CHECK-NEXT:    accel.matmul <psum 0, 0, {{.*}}>, <sbuf 0, 0, {{.*}}>, <sbuf 0, 4096, {{.*}}> {zero_at = -1 : i64}
// CHECK-NEXT:    accel.matmul <psum 0, 0, {{.*}}>, <sbuf 0, 512, {{.*}}>, <sbuf 0, 6144, {{.*}}>
// CHECK-NOT:     zero_at
// CHECK-NEXT:    accel.act relu
accel.program "default" dram 1048576 {
  accel.repeat 2 {
    accel.matmul <psum 0, 0, [[1, 128], [1, 512]]>, <sbuf 0, 512 * i0, [[1, 128], [1, 128]]>, <sbuf 0, 4096 + 2048 * i0, [[1, 128], [1, 512]]> {zero_at = 0 : i64}
  }
  accel.act relu <sbuf 0, 8192, [[1, 128], [1, 512]]>, <psum 0, 0, [[1, 128], [1, 512]]>
}

// -----

// DMAs keep their order (the queues are chosen from it), while an independent
// instruction moves ahead of one that waits for a load: the relu reads nothing
// the DMAs write, so it runs first; the exp waits for the first load, the store
// for the exp.
// CHECK-LABEL: accel.program "default"
// CHECK-NEXT:    accel.dma 0 <dram 0,
// CHECK-NEXT:    accel.dma 0 <dram 262144,
// CHECK-NEXT:    accel.act relu
// CHECK-NEXT:    accel.act exp
// CHECK-NEXT:    accel.dma 0 <sbuf 0, 8192, {{.*}}> -> <dram 524288,
accel.program "default" dram 1048576 {
  accel.dma 0 <dram 0, [[512, 128], [1, 512]]> -> <sbuf 0, 4096, [[1, 128], [1, 512]]>
  accel.act exp <sbuf 0, 8192, [[1, 128], [1, 512]]>, <sbuf 0, 4096, [[1, 128], [1, 512]]>
  accel.dma 0 <dram 262144, [[512, 128], [1, 512]]> -> <sbuf 0, 12288, [[1, 128], [1, 512]]>
  accel.dma 0 <sbuf 0, 8192, [[1, 128], [1, 512]]> -> <dram 524288, [[512, 128], [1, 512]]>
  accel.act relu <sbuf 0, 16384, [[1, 128], [1, 512]]>, <sbuf 0, 20480, [[1, 128], [1, 512]]>
}

// -----

// A WAR dependence holds: the second exp overwrites what the first reads, so it
// stays after it although it is independent otherwise.
// CHECK-LABEL: accel.program "default"
// CHECK-NEXT:    accel.dma 0 <dram 0,
// CHECK-NEXT:    accel.act exp <sbuf 0, 8192, {{.*}}>, <sbuf 0, 4096,
// CHECK-NEXT:    accel.act exp <sbuf 0, 4096, {{.*}}>, <sbuf 0, 16384,
accel.program "default" dram 1048576 {
  accel.dma 0 <dram 0, [[512, 128], [1, 512]]> -> <sbuf 0, 4096, [[1, 128], [1, 512]]>
  accel.act exp <sbuf 0, 8192, [[1, 128], [1, 512]]>, <sbuf 0, 4096, [[1, 128], [1, 512]]>
  accel.act exp <sbuf 0, 4096, [[1, 128], [1, 512]]>, <sbuf 0, 16384, [[1, 128], [1, 512]]>
}

// -----

// Random numbers come from the lanes' generators in program order: a program
// with accel.random keeps its order.
// CHECK-LABEL: accel.program "default"
// CHECK-NEXT:    accel.dma 0 <dram 0,
// CHECK-NEXT:    accel.act exp
// CHECK-NEXT:    accel.random
accel.program "default" dram 1048576 {
  accel.dma 0 <dram 0, [[512, 128], [1, 512]]> -> <sbuf 0, 4096, [[1, 128], [1, 512]]>
  accel.act exp <sbuf 0, 8192, [[1, 128], [1, 512]]>, <sbuf 0, 4096, [[1, 128], [1, 512]]>
  accel.random <sbuf 0, 16384, [[1, 128], [1, 512]]>, 0.0, 1.0 seed 7
}

// -----

// Two accumulation groups of two matmuls, one per PSUM bank, each evacuated by ACT.
// After the first group's first matmul, its second and the other group's first can
// start at the same time; the other group has the longer chain behind it. With
// `chains` (the default) the tie goes to the matmul that continues the array's
// group: the first group finishes, ACT evacuates it while the array runs the
// second. Without, the groups interleave and both evacuations wait for the end.
// CHECK-LABEL: accel.program "default" dram 2097152
// CHECK-NEXT:    accel.matmul <psum 0, 0, {{.*}}>, <sbuf 0, 0,
// CHECK-NEXT:    accel.matmul <psum 0, 0, {{.*}}>, <sbuf 0, 512,
// CHECK-NEXT:    accel.matmul <psum 0, 2048, {{.*}}>, <sbuf 0, 1024,
// CHECK-NEXT:    accel.act relu <sbuf 0, 8192,
// CHECK-NEXT:    accel.matmul <psum 0, 2048, {{.*}}>, <sbuf 0, 1536,
// CHECK-NEXT:    accel.act relu <sbuf 0, 10240,
// NOCHAINS-LABEL: accel.program "default" dram 2097152
// NOCHAINS-NEXT:    accel.matmul <psum 0, 0, {{.*}}>, <sbuf 0, 0,
// NOCHAINS-NEXT:    accel.matmul <psum 0, 2048, {{.*}}>, <sbuf 0, 1024,
// NOCHAINS-NEXT:    accel.matmul <psum 0, 0, {{.*}}>, <sbuf 0, 512,
// NOCHAINS-NEXT:    accel.matmul <psum 0, 2048, {{.*}}>, <sbuf 0, 1536,
// NOCHAINS-NEXT:    accel.act relu <sbuf 0, 8192,
// NOCHAINS-NEXT:    accel.act relu <sbuf 0, 10240,
accel.program "default" dram 2097152 {
  accel.matmul <psum 0, 0, [[1, 128], [1, 256]]>, <sbuf 0, 0, [[1, 128], [1, 128]]>, <sbuf 0, 4096, [[1, 128], [1, 256]]> {zero_at = -1 : i64}
  accel.matmul <psum 0, 0, [[1, 128], [1, 256]]>, <sbuf 0, 512, [[1, 128], [1, 128]]>, <sbuf 0, 6144, [[1, 128], [1, 256]]>
  accel.act relu <sbuf 0, 8192, [[1, 128], [1, 256]]>, <psum 0, 0, [[1, 128], [1, 256]]>
  accel.matmul <psum 0, 2048, [[1, 128], [1, 256]]>, <sbuf 0, 1024, [[1, 128], [1, 128]]>, <sbuf 0, 4096, [[1, 128], [1, 256]]> {zero_at = -1 : i64}
  accel.matmul <psum 0, 2048, [[1, 128], [1, 256]]>, <sbuf 0, 1536, [[1, 128], [1, 128]]>, <sbuf 0, 6144, [[1, 128], [1, 256]]>
  accel.act relu <sbuf 0, 10240, [[1, 128], [1, 256]]>, <psum 0, 2048, [[1, 128], [1, 256]]>
}

// -----

// A repeat of 16 row blocks (past PEEL_MAX: one item) writes one block of rows per
// iteration; of the two POOL instructions after it, the second reads the first
// block only. With `instances` it is ready after the repeat's first iteration in
// the estimate (as instance-waits lets it start in the machine), so POOL runs it
// first; without, both wait for the whole repeat and keep their order.
// CHECK-LABEL: accel.program "default"
// CHECK:         accel.tensor_tensor max <sbuf 0, 83968, {{.*}}>, <sbuf 0, 40960,
// CHECK-NEXT:    accel.tensor_tensor max <sbuf 0, 81920, {{.*}}>, <sbuf 0, 71680,
// NOINST-LABEL:  accel.program "default"
// NOINST:        accel.tensor_tensor max <sbuf 0, 81920, {{.*}}>, <sbuf 0, 71680,
// NOINST-NEXT:   accel.tensor_tensor max <sbuf 0, 83968, {{.*}}>, <sbuf 0, 40960,
accel.program "default" dram 1048576 {
  accel.repeat 16 {
    accel.matmul <psum 0, 0, [[1, 128], [1, 512]]>, <sbuf 0, 0, [[1, 128], [1, 128]]>, <sbuf 0, 4096 + 2048 * i0, [[1, 128], [1, 512]]> {zero_at = 0 : i64}
    accel.act relu <sbuf 0, 40960 + 2048 * i0, [[1, 128], [1, 512]]>, <psum 0, 0, [[1, 128], [1, 512]]>
  }
  accel.tensor_tensor max <sbuf 0, 81920, [[1, 128], [1, 512]]>, <sbuf 0, 71680, [[1, 128], [1, 512]]>, <sbuf 0, 71680, [[1, 128], [1, 512]]>
  accel.tensor_tensor max <sbuf 0, 83968, [[1, 128], [1, 512]]>, <sbuf 0, 40960, [[1, 128], [1, 512]]>, <sbuf 0, 40960, [[1, 128], [1, 512]]>
}

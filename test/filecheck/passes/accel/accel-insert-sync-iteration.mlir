// RUN: tidal-opt %s -p accel-insert-sync --split-input-file | filecheck %s
// RUN: tidal-opt %s -p 'accel-insert-sync{per_iteration=false}' --split-input-file | filecheck %s --check-prefix=WHOLE
// RUN: tidal-opt %s -p 'accel-insert-sync,accel-split-streams,accel-hoist-waits,accel-prune-waits,accel-fold-waits,accel-verify-sync' --split-input-file | filecheck %s --check-prefix=VERIFIED

// per_iteration: ACT evacuates a layer's four tiles one by one (bytes 64 x k of 32
// partitions, as accel-schedule leaves a peeled loop), and the next layer's matmul
// accumulates over them in a repeat of its own, tile i0 in iteration i0. Iteration
// i0 conflicts with the (i0 + 1)-th evacuation only, so every evacuation signals and
// the wait inside the repeat counts 1 + i0: the PE array starts on the first tile
// while ACT still evacuates the others. Without the option (WHOLE) the repeat waits
// for the last evacuation (the only one that signals) before its first iteration.
// Folded (VERIFIED), the matmul carries the affine wait, and accel-verify-sync
// proves it.

// CHECK-LABEL: accel.program "small" dram 65536 attributes {test = "in order"} {
// CHECK-COUNT-4: accel.act relu {{.*}} {signal = 1 : i64}
// CHECK-NEXT:    accel.repeat 4 {
// CHECK-NEXT:      accel.wait pe sem 1 >= 1 + 1 * i0
// CHECK-NEXT:      accel.matmul

// WHOLE-LABEL: accel.program "small" dram 65536 attributes {test = "in order"} {
// WHOLE-NEXT:    accel.act relu <sbuf 0, 0, {{.*}}>, <sbuf 0, 4096, {{.*}}]>{{$}}
// WHOLE:         accel.act relu <sbuf 0, 192, {{.*}}> {signal = 1 : i64}
// WHOLE-NEXT:    accel.repeat 4 {
// WHOLE-NEXT:      accel.wait pe sem 1 >= 1{{$}}
// WHOLE-NEXT:      accel.matmul

// VERIFIED-LABEL: accel.program "small" dram 65536 attributes {test = "in order"} {
// VERIFIED:        accel.matmul {{.*}} {zero_at = 0 : i64, wait_sem = 1 : i64, wait_value = #accel.aff<1 + 1 * i0>}
accel.program "small" dram 65536 attributes {test = "in order"} {
  accel.act relu <sbuf 0, 0, [[1, 32], [1, 16]]>, <sbuf 0, 4096, [[1, 32], [1, 16]]>
  accel.act relu <sbuf 0, 64, [[1, 32], [1, 16]]>, <sbuf 0, 4160, [[1, 32], [1, 16]]>
  accel.act relu <sbuf 0, 128, [[1, 32], [1, 16]]>, <sbuf 0, 4224, [[1, 32], [1, 16]]>
  accel.act relu <sbuf 0, 192, [[1, 32], [1, 16]]>, <sbuf 0, 4288, [[1, 32], [1, 16]]>
  accel.repeat 4 {
    accel.matmul <psum 0, 0, [[1, 16], [1, 16]]>, <sbuf 0, 8192 + 64 * i0, [[1, 32], [1, 16]]>, <sbuf 0, 0 + 64 * i0, [[1, 32], [1, 16]]> {zero_at = 0 : i64}
  }
}

// -----

// Evacuated in the reverse order, iteration i0 needs the (4 - i0)-th signal: no
// count affine in i0 with a step above 0 covers that within the 4 the whole repeat
// waits for, so the repeat keeps one count for all its iterations.
// CHECK-LABEL: accel.program "small" dram 65536 attributes {test = "reversed"} {
// CHECK:         accel.repeat 4 {
// CHECK-NEXT:      accel.wait pe sem 1 >= 4{{$}}
// CHECK-NEXT:      accel.matmul
accel.program "small" dram 65536 attributes {test = "reversed"} {
  accel.act relu <sbuf 0, 192, [[1, 32], [1, 16]]>, <sbuf 0, 4288, [[1, 32], [1, 16]]>
  accel.act relu <sbuf 0, 128, [[1, 32], [1, 16]]>, <sbuf 0, 4224, [[1, 32], [1, 16]]>
  accel.act relu <sbuf 0, 64, [[1, 32], [1, 16]]>, <sbuf 0, 4160, [[1, 32], [1, 16]]>
  accel.act relu <sbuf 0, 0, [[1, 32], [1, 16]]>, <sbuf 0, 4096, [[1, 32], [1, 16]]>
  accel.repeat 4 {
    accel.matmul <psum 0, 0, [[1, 16], [1, 16]]>, <sbuf 0, 8192 + 64 * i0, [[1, 32], [1, 16]]>, <sbuf 0, 0 + 64 * i0, [[1, 32], [1, 16]]> {zero_at = 0 : i64}
  }
}

// -----

// Two repeats of its own: every output tile (i0) accumulates over the four
// evacuated tiles (i1). Iteration (i0, i1) needs the (i1 + 1)-th evacuation whatever
// i0 is: the count steps along the inner repeat only.
// CHECK-LABEL: accel.program "small" dram 65536 attributes {test = "two levels"} {
// CHECK:         accel.repeat 2 {
// CHECK-NEXT:      accel.repeat 4 {
// CHECK-NEXT:        accel.wait pe sem 1 >= 1 + 1 * i1
// CHECK-NEXT:        accel.matmul
// WHOLE-LABEL: accel.program "small" dram 65536 attributes {test = "two levels"} {
// WHOLE:             accel.wait pe sem 1 >= 1{{$}}
// VERIFIED-LABEL: accel.program "small" dram 65536 attributes {test = "two levels"} {
// VERIFIED:        accel.matmul {{.*}} wait_value = #accel.aff<1 + 1 * i1>}
accel.program "small" dram 65536 attributes {test = "two levels"} {
  accel.act relu <sbuf 0, 0, [[1, 32], [1, 16]]>, <sbuf 0, 4096, [[1, 32], [1, 16]]>
  accel.act relu <sbuf 0, 64, [[1, 32], [1, 16]]>, <sbuf 0, 4160, [[1, 32], [1, 16]]>
  accel.act relu <sbuf 0, 128, [[1, 32], [1, 16]]>, <sbuf 0, 4224, [[1, 32], [1, 16]]>
  accel.act relu <sbuf 0, 192, [[1, 32], [1, 16]]>, <sbuf 0, 4288, [[1, 32], [1, 16]]>
  accel.repeat 2 {
    accel.repeat 4 {
      accel.matmul <psum 0, 2048 * i0, [[1, 16], [1, 16]]>, <sbuf 0, 8192 + 1024 * i0 + 64 * i1, [[1, 32], [1, 16]]>, <sbuf 0, 0 + 64 * i1, [[1, 32], [1, 16]]> {zero_at = 1 : i64}
    }
  }
}

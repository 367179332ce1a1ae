// RUN: tidal-opt %s -p accel-insert-sync | filecheck %s
// RUN: tidal-opt %s -p 'accel-insert-sync{latest_instance=false}' | filecheck %s --check-prefix=LAST
// RUN: tidal-opt %s -p 'accel-insert-sync,accel-split-streams,accel-verify-sync' | filecheck %s --check-prefix=VERIFIED

// latest_instance: a producer in a repeat of its own writes a plane block by block
// (ACT, 4 iterations, block i0 at bytes 64 x i0 of 32 partitions); a consumer after
// the repeat that reads only the first two blocks (POOL, bytes 0-127) waits for the
// second iteration's signal (act sem 1 >= 2), not the fourth, so it may start while
// ACT still writes the rest; the consumer of the last block waits for all four.
// Without the option (LAST), both wait for the repeat's last iteration.
accel.program "small" dram 65536 attributes {test = "latest"} {
  accel.repeat 4 {
    accel.act relu <sbuf 0, 0 + 64 * i0, [[1, 32], [1, 16]]>, <sbuf 0, 4096 + 64 * i0, [[1, 32], [1, 16]]>
  }
  accel.tensor_tensor max <sbuf 0, 8192, [[1, 32], [1, 32]]>, <sbuf 0, 0, [[1, 32], [1, 32]]>, <sbuf 0, 0, [[1, 32], [1, 32]]>
  accel.tensor_tensor max <sbuf 0, 8320, [[1, 32], [1, 16]]>, <sbuf 0, 192, [[1, 32], [1, 16]]>, <sbuf 0, 192, [[1, 32], [1, 16]]>
}

// CHECK-LABEL: accel.program "small" dram 65536 attributes {test = "latest"} {
// CHECK-NEXT:    accel.repeat 4 {
// CHECK-NEXT:      accel.act relu <sbuf 0, 0 + 64 * i0, {{\[\[}}1, 32], [1, 16]]>, <sbuf 0, 4096 + 64 * i0, {{\[\[}}1, 32], [1, 16]]> {signal = 1 : i64}
// CHECK-NEXT:    }
// CHECK-NEXT:    accel.wait pool sem 1 >= 2
// CHECK-NEXT:    accel.tensor_tensor max <sbuf 0, 8192, {{\[\[}}1, 32], [1, 32]]>
// CHECK-NEXT:    accel.wait pool sem 1 >= 4
// CHECK-NEXT:    accel.tensor_tensor max <sbuf 0, 8320, {{\[\[}}1, 32], [1, 16]]>

// LAST-LABEL: accel.program "small" dram 65536 attributes {test = "latest"} {
// LAST:          accel.wait pool sem 1 >= 4
// LAST-NEXT:     accel.tensor_tensor max <sbuf 0, 8192,
// LAST-NOT:      accel.wait

// VERIFIED:      accel.stream pool {
// VERIFIED-NEXT:   accel.wait pool sem 1 >= 2

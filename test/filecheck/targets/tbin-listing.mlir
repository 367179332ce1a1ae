// RUN: tidal-opt %s -t tbin-listing | filecheck %s
// RUN: tidal-opt %s -p accel-split-streams -t tbin-listing | filecheck %s

// The listing is the decoded binary: repeats expanded (i0 = outer, i1 = inner),
// constant addresses, zero_at resolved per instance (-1 where the PE starts a new
// accumulation), origins from the debug table, a HALT closing each stream.
accel.program "small" dram 65536 {
  accel.io input "x" at 0 : tensor<32x8xf32>
  accel.io output "y" at 1024 : tensor<32x8xf32>
  accel.const at 4096 dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>
  accel.stream pe {
    accel.repeat 2 {
      accel.wait pe sem 0 >= 3 + 3 * i0
      accel.repeat 3 {
        accel.matmul <psum 0, 0 + 32 * i0, [[1, 32], [1, 8]]>, <sbuf 0, 64 + 128 * i1, [[1, 32], [1, 32]]>, <sbuf 0, 0 + 32 * i1, [[1, 32], [1, 8]]> {zero_at = 1 : i64, origin = "fc1"}
      }
    }
  }
  accel.stream dma1 {
    accel.repeat 2 {
      accel.repeat 3 {
        accel.dma 1 <dram 0 + 96 * i0 + 32 * i1, [[8, 32], [1, 8]]> -> <sbuf 0, 0 + 32 * i1, [[1, 32], [1, 8]]> {signal = 0 : i64, origin = "x"}
      }
    }
  }
}

// CHECK:      accel.program "small" dram 65536 {
// CHECK-NEXT:   accel.io input "x" at 0 : tensor<32x8xf32>
// CHECK-NEXT:   accel.io output "y" at 1024 : tensor<32x8xf32>
// CHECK-NEXT:   accel.const at 4096 dense<[1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00]> : tensor<4xf32>
// CHECK-NEXT:   accel.stream pe {
// CHECK-NEXT:     accel.wait pe sem 0 >= 3
// CHECK-NEXT:     accel.matmul <psum 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 64, [[1, 32], [1, 32]]>, <sbuf 0, 0, [[1, 32], [1, 8]]> {zero_at = -1 : i64, origin = "fc1"}
// CHECK-NEXT:     accel.matmul <psum 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 192, [[1, 32], [1, 32]]>, <sbuf 0, 32, [[1, 32], [1, 8]]> {origin = "fc1"}
// CHECK-NEXT:     accel.matmul <psum 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 320, [[1, 32], [1, 32]]>, <sbuf 0, 64, [[1, 32], [1, 8]]> {origin = "fc1"}
// CHECK-NEXT:     accel.wait pe sem 0 >= 6
// CHECK-NEXT:     accel.matmul <psum 0, 32, [[1, 32], [1, 8]]>, <sbuf 0, 64, [[1, 32], [1, 32]]>, <sbuf 0, 0, [[1, 32], [1, 8]]> {zero_at = -1 : i64, origin = "fc1"}
// CHECK-NEXT:     accel.matmul <psum 0, 32, [[1, 32], [1, 8]]>, <sbuf 0, 192, [[1, 32], [1, 32]]>, <sbuf 0, 32, [[1, 32], [1, 8]]> {origin = "fc1"}
// CHECK-NEXT:     accel.matmul <psum 0, 32, [[1, 32], [1, 8]]>, <sbuf 0, 320, [[1, 32], [1, 32]]>, <sbuf 0, 64, [[1, 32], [1, 8]]> {origin = "fc1"}
// CHECK-NEXT:     accel.halt pe
// CHECK-NEXT:   }
// CHECK-NEXT:   accel.stream dma1 {
// CHECK-NEXT:     accel.dma 1 <dram 0, [[8, 32], [1, 8]]> -> <sbuf 0, 0, [[1, 32], [1, 8]]> {signal = 0 : i64, origin = "x"}
// CHECK-NEXT:     accel.dma 1 <dram 32, [[8, 32], [1, 8]]> -> <sbuf 0, 32, [[1, 32], [1, 8]]> {signal = 0 : i64, origin = "x"}
// CHECK-NEXT:     accel.dma 1 <dram 64, [[8, 32], [1, 8]]> -> <sbuf 0, 64, [[1, 32], [1, 8]]> {signal = 0 : i64, origin = "x"}
// CHECK-NEXT:     accel.dma 1 <dram 96, [[8, 32], [1, 8]]> -> <sbuf 0, 0, [[1, 32], [1, 8]]> {signal = 0 : i64, origin = "x"}
// CHECK-NEXT:     accel.dma 1 <dram 128, [[8, 32], [1, 8]]> -> <sbuf 0, 32, [[1, 32], [1, 8]]> {signal = 0 : i64, origin = "x"}
// CHECK-NEXT:     accel.dma 1 <dram 160, [[8, 32], [1, 8]]> -> <sbuf 0, 64, [[1, 32], [1, 8]]> {signal = 0 : i64, origin = "x"}
// CHECK-NEXT:     accel.halt dma1
// CHECK-NEXT:   }
// CHECK-NEXT: }

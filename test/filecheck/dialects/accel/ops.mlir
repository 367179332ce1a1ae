// RUN: TIDAL_ROUNDTRIP
// RUN: TIDAL_GENERIC_ROUNDTRIP

// A unified-order program: io, const, nested repeats, every instruction op.
accel.program "small" dram 65536 {
  accel.io input "x" at 0 : tensor<32x8xf32>
  accel.io output "y" at 1024 : tensor<32x8xf32>
  accel.const at 4096 dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>
  accel.dma 0 <dram 0, [[8, 32], [1, 8]]> -> <sbuf 0, 0, [[1, 32], [1, 8]]> {signal = 3 : i64, origin = "gemm0"}
  accel.repeat 4 {
    accel.wait pe sem 3 >= 1 + 1 * i0
    accel.repeat 2 {
      accel.matmul <psum 0, 0 + 32 * i0, [[1, 32], [1, 8]]>, <sbuf 0, 64 + 128 * i1, [[1, 32], [1, 32]]>, <sbuf 0, 0, [[1, 32], [1, 8]]> {zero_at = 1 : i64}
    }
    accel.dma 1 <dram 4096 + 3136 * i0, [[784, 16], [1, 32]]> -> <sbuf 16, 1024 + 512 * i0, [[1, 16], [1, 32]]>
  }
  accel.matmul <psum 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 64, [[1, 32], [1, 32]]>, <sbuf 0, 0, [[1, 32], [1, 8]]> {zero_at = -1 : i64}
  accel.matmul <psum 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 64, [[1, 32], [1, 32]]>, <sbuf 0, 0, [[1, 32], [1, 8]]>
  accel.matmul <psum 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 64, [[1, 32], [1, 32]]>, <sbuf 0, 0, [[1, 32], [1, 8]]> {wait_sem = 3 : i64, wait_value = #accel.aff<5>}
  accel.repeat 3 {
    accel.act relu <sbuf 0, 1024 + 512 * i0 + -8 * i0, [[1, 32], [1, 8]]>, <psum 0, 0, [[1, 32], [1, 8]]> {wait_sem = 1 : i64, wait_value = #accel.aff<2 + 1 * i0>}
  }
  accel.act exp <sbuf 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 32, [[1, 32], [2, 4], [1, 2]]> scale 0.5 bias -1.25 {origin = "softmax"}
  accel.act sigmoid <sbuf 0, 0, [[1, 32], [1, 8]]>, <psum 0, 0, [[1, 32], [1, 8]]> scale <sbuf 0, 96, [[1, 32], [1, 1]]> bias <sbuf 0, 100, [[1, 32], [1, 1]]>
  accel.act identity <psum 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]> bias 3.0e+20
  accel.act log <sbuf 0, 0, [[1, 32], [1, 8]]>, <psum 0, 0, [[1, 32], [1, 8]]> bias 2.0
  accel.act gelu <sbuf 0, 0, [[1, 32], [1, 8]]>, <psum 0, 0, [[1, 32], [1, 8]]>
  accel.act erf <sbuf 0, 0, [[1, 32], [1, 8]]>, <psum 0, 0, [[1, 32], [1, 8]]> scale 0.70710677
  accel.act softplus <sbuf 0, 0, [[1, 32], [1, 8]]>, <psum 0, 0, [[1, 32], [1, 8]]>
  accel.act rsqrt <sbuf 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 32, [[1, 32], [1, 8]]> bias 1.0e-05
  accel.act sqrt <sbuf 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 32, [[1, 32], [1, 8]]>
  accel.act clip01 <sbuf 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 32, [[1, 32], [1, 8]]> scale 0.2 bias 0.5
  accel.tensor_tensor add <sbuf 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 32, [[1, 32], [1, 8]]>, <sbuf 0, 64, [[1, 32], [1, 8]]>
  accel.tensor_tensor max <sbuf 0, 0, [[1, 32], [1, 8]]>, <psum 0, 32, [[1, 32], [1, 8]]>, <sbuf 0, 64, [[1, 32], [8, 1], [1, 8]]> {signal = 0 : i64}
  accel.tensor_tensor add <sbuf 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 32, [[1, 32], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]> scale <sbuf 0, 96, [[1, 32], [1, 1]]>
  accel.tensor_tensor sub <sbuf 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 32, [[1, 32], [1, 8]]>, <sbuf 0, 64, [[1, 32], [1, 8]]> scale 0.5
  accel.reduce add <sbuf 0, 0, [[1, 32], [1, 1]]>, <sbuf 0, 64, [[1, 32], [7, 7], [1, 7]]> over 2 scale 0.02
  accel.reduce max <sbuf 0, 0, [[1, 32], [1, 7]]>, <sbuf 0, 64, [[1, 32], [7, 7], [1, 7]]> over 1
  accel.random <sbuf 0, 0, [[1, 32], [1, 8]]>, -1.0, 2.0 seed 7
  accel.dropout <sbuf 0, 0, [[1, 32], [1, 8]]>, <psum 0, 0, [[1, 32], [1, 8]]> ratio 0.25 seed -3 {origin = "drop"}
  accel.bernoulli <sbuf 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 32, [[1, 32], [1, 8]]> seed 5
  accel.eval 0 max abs_a_minus_b lt <dram 64, [[1, 1]]>, <dram 0, [[1, 8]]>, <dram 32, [[1, 8]]> threshold 0.001
  accel.overwrite 1 <dram 4096, [[1, 480]]>, <dram 8192, [[1, 480]]> unless <dram 64, [[1, 1]]> {signal = 2 : i64}
  accel.memset <sbuf 0, 0, [[1, 32], [1, 64]]>, 0.0
  accel.memset <sbuf 0, 0, [[1, 32], [1, 64]]>, 0xFF800000
  accel.signal act sem 5
  accel.nop pool
  accel.halt dma0
}

// CHECK:      accel.program "small" dram 65536 {
// CHECK-NEXT:   accel.io input "x" at 0 : tensor<32x8xf32>
// CHECK-NEXT:   accel.io output "y" at 1024 : tensor<32x8xf32>
// CHECK-NEXT:   accel.const at 4096 dense<[1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00]> : tensor<4xf32>
// CHECK-NEXT:   accel.dma 0 <dram 0, [[8, 32], [1, 8]]> -> <sbuf 0, 0, [[1, 32], [1, 8]]> {signal = 3 : i64, origin = "gemm0"}
// CHECK-NEXT:   accel.repeat 4 {
// CHECK-NEXT:     accel.wait pe sem 3 >= 1 + 1 * i0
// CHECK-NEXT:     accel.repeat 2 {
// CHECK-NEXT:       accel.matmul <psum 0, 0 + 32 * i0, [[1, 32], [1, 8]]>, <sbuf 0, 64 + 128 * i1, [[1, 32], [1, 32]]>, <sbuf 0, 0, [[1, 32], [1, 8]]> {zero_at = 1 : i64}
// CHECK-NEXT:     }
// CHECK-NEXT:     accel.dma 1 <dram 4096 + 3136 * i0, [[784, 16], [1, 32]]> -> <sbuf 16, 1024 + 512 * i0, [[1, 16], [1, 32]]>
// CHECK-NEXT:   }
// CHECK-NEXT:   accel.matmul <psum 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 64, [[1, 32], [1, 32]]>, <sbuf 0, 0, [[1, 32], [1, 8]]> {zero_at = -1 : i64}
// CHECK-NEXT:   accel.matmul <psum 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 64, [[1, 32], [1, 32]]>, <sbuf 0, 0, [[1, 32], [1, 8]]>
// CHECK-NEXT:   accel.matmul <psum 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 64, [[1, 32], [1, 32]]>, <sbuf 0, 0, [[1, 32], [1, 8]]> {wait_sem = 3 : i64, wait_value = #accel.aff<5>}
// CHECK-NEXT:   accel.repeat 3 {
// CHECK-NEXT:     accel.act relu <sbuf 0, 1024 + 504 * i0, [[1, 32], [1, 8]]>, <psum 0, 0, [[1, 32], [1, 8]]> {wait_sem = 1 : i64, wait_value = #accel.aff<2 + 1 * i0>}
// CHECK-NEXT:   }
// CHECK-NEXT:   accel.act exp <sbuf 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 32, [[1, 32], [2, 4], [1, 2]]> scale 0.5 bias -1.25 {origin = "softmax"}
// CHECK-NEXT:   accel.act sigmoid <sbuf 0, 0, [[1, 32], [1, 8]]>, <psum 0, 0, [[1, 32], [1, 8]]> scale <sbuf 0, 96, [[1, 32], [1, 1]]> bias <sbuf 0, 100, [[1, 32], [1, 1]]>
// CHECK-NEXT:   accel.act identity <psum 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]> bias 3.0e+20
// CHECK-NEXT:   accel.act log <sbuf 0, 0, [[1, 32], [1, 8]]>, <psum 0, 0, [[1, 32], [1, 8]]> bias 2.0
// CHECK-NEXT:   accel.act gelu <sbuf 0, 0, [[1, 32], [1, 8]]>, <psum 0, 0, [[1, 32], [1, 8]]>
// CHECK-NEXT:   accel.act erf <sbuf 0, 0, [[1, 32], [1, 8]]>, <psum 0, 0, [[1, 32], [1, 8]]> scale 0.70710677
// CHECK-NEXT:   accel.act softplus <sbuf 0, 0, [[1, 32], [1, 8]]>, <psum 0, 0, [[1, 32], [1, 8]]>
// CHECK-NEXT:   accel.act rsqrt <sbuf 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 32, [[1, 32], [1, 8]]> bias 1.0e-05
// CHECK-NEXT:   accel.act sqrt <sbuf 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 32, [[1, 32], [1, 8]]>
// CHECK-NEXT:   accel.act clip01 <sbuf 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 32, [[1, 32], [1, 8]]> scale 0.2 bias 0.5
// CHECK-NEXT:   accel.tensor_tensor add <sbuf 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 32, [[1, 32], [1, 8]]>, <sbuf 0, 64, [[1, 32], [1, 8]]>
// CHECK-NEXT:   accel.tensor_tensor max <sbuf 0, 0, [[1, 32], [1, 8]]>, <psum 0, 32, [[1, 32], [1, 8]]>, <sbuf 0, 64, [[1, 32], [8, 1], [1, 8]]> {signal = 0 : i64}
// CHECK-NEXT:   accel.tensor_tensor add <sbuf 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 32, [[1, 32], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]> scale <sbuf 0, 96, [[1, 32], [1, 1]]>
// CHECK-NEXT:   accel.tensor_tensor sub <sbuf 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 32, [[1, 32], [1, 8]]>, <sbuf 0, 64, [[1, 32], [1, 8]]> scale 0.5
// CHECK-NEXT:   accel.reduce add <sbuf 0, 0, [[1, 32], [1, 1]]>, <sbuf 0, 64, [[1, 32], [7, 7], [1, 7]]> over 2 scale 0.02
// CHECK-NEXT:   accel.reduce max <sbuf 0, 0, [[1, 32], [1, 7]]>, <sbuf 0, 64, [[1, 32], [7, 7], [1, 7]]> over 1
// CHECK-NEXT:   accel.random <sbuf 0, 0, [[1, 32], [1, 8]]>, -1.0, 2.0 seed 7
// CHECK-NEXT:   accel.dropout <sbuf 0, 0, [[1, 32], [1, 8]]>, <psum 0, 0, [[1, 32], [1, 8]]> ratio 0.25 seed -3 {origin = "drop"}
// CHECK-NEXT:   accel.bernoulli <sbuf 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 32, [[1, 32], [1, 8]]> seed 5
// CHECK-NEXT:   accel.eval 0 max abs_a_minus_b lt <dram 64, [[1, 1]]>, <dram 0, [[1, 8]]>, <dram 32, [[1, 8]]> threshold 0.001
// CHECK-NEXT:   accel.overwrite 1 <dram 4096, [[1, 480]]>, <dram 8192, [[1, 480]]> unless <dram 64, [[1, 1]]> {signal = 2 : i64}
// CHECK-NEXT:   accel.memset <sbuf 0, 0, [[1, 32], [1, 64]]>, 0.0
// CHECK-NEXT:   accel.memset <sbuf 0, 0, [[1, 32], [1, 64]]>, 0xFF800000
// CHECK-NEXT:   accel.signal act sem 5
// CHECK-NEXT:   accel.nop pool
// CHECK-NEXT:   accel.halt dma0
// CHECK-NEXT: }

// A split program: one stream per engine, repeats kept, attributes on structure ops.
accel.program "default" dram 4294967296 attributes {note = "split"} {
  accel.io input "x" at 0 : tensor<128x4xf32>
  accel.stream pe {
    accel.refill pe section 1
    accel.repeat 2 attributes {tag = 1 : i64} {
      accel.wait pe sem 0 >= 1 + 1 * i0
      accel.matmul <psum 0, 0, [[1, 128], [1, 4]]>, <sbuf 0, 0, [[1, 128], [1, 128]]>, <sbuf 0, 512 + 16 * i0, [[1, 128], [1, 4]]> {zero_at = -1 : i64, signal = 1 : i64}
    }
  }
  accel.stream act {
  }
  accel.stream dma3 {
    accel.repeat 2 {
      accel.dma 3 <dram 0 + 2048 * i0, [[4, 128], [1, 4]]> -> <sbuf 0, 512 + 16 * i0, [[1, 128], [1, 4]]> {signal = 0 : i64}
    }
  }
}

// CHECK:      accel.program "default" dram 4294967296 attributes {note = "split"} {
// CHECK-NEXT:   accel.io input "x" at 0 : tensor<128x4xf32>
// CHECK-NEXT:   accel.stream pe {
// CHECK-NEXT:     accel.refill pe section 1
// CHECK-NEXT:     accel.repeat 2 attributes {tag = 1 : i64} {
// CHECK-NEXT:       accel.wait pe sem 0 >= 1 + 1 * i0
// CHECK-NEXT:       accel.matmul <psum 0, 0, [[1, 128], [1, 4]]>, <sbuf 0, 0, [[1, 128], [1, 128]]>, <sbuf 0, 512 + 16 * i0, [[1, 128], [1, 4]]> {zero_at = -1 : i64, signal = 1 : i64}
// CHECK-NEXT:     }
// CHECK-NEXT:   }
// CHECK-NEXT:   accel.stream act {
// CHECK-NEXT:   }
// CHECK-NEXT:   accel.stream dma3 {
// CHECK-NEXT:     accel.repeat 2 {
// CHECK-NEXT:       accel.dma 3 <dram 0 + 2048 * i0, [[4, 128], [1, 4]]> -> <sbuf 0, 512 + 16 * i0, [[1, 128], [1, 4]]> {signal = 0 : i64}
// CHECK-NEXT:     }
// CHECK-NEXT:   }
// CHECK-NEXT: }

// The affine attribute on its own, and index forms the parser accepts.
"test.op"() {a = #accel.aff<3 + 2 * i0>, b = #accel.aff<i1 + 4 + -2 * i1>, c = #accel.aff<7>, d = #accel.ap<psum 1 + 1 * i0, 0, [[1, 4]]>} : () -> ()

// CHECK: "test.op"() {a = #accel.aff<3 + 2 * i0>, b = #accel.aff<4 + -1 * i1>, c = #accel.aff<7>, d = #accel.ap<psum 1 + 1 * i0, 0, [[1, 4]]>} : () -> ()

// An output that is a constant's bytes (a model returning a constant) verifies:
// only a constant under an input or another constant is refused.
accel.program "small" dram 65536 {
  accel.const at 64 dense<[1.0]> : tensor<1xf32>
  accel.io output "c" at 64 : tensor<1xf32>
}

// CHECK:      accel.program "small" dram 65536 {
// CHECK-NEXT:   accel.const at 64 dense<1.000000e+00> : tensor<1xf32>
// CHECK-NEXT:   accel.io output "c" at 64 : tensor<1xf32>
// CHECK-NEXT: }

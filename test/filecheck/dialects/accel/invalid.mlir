// RUN: tidal-opt %s --split-input-file --verify-diagnostics --parsing-diagnostics | filecheck %s
// (the access errors are parse errors, at the access: --parsing-diagnostics prints them)

accel.program "small" dram 65536 {
  accel.dma 0 <sbuf 0, 0, [[1, 1], [1, 1], [1, 1], [1, 1], [1, 1], [1, 1]]> -> <sbuf 0, 0, [[1, 32], [1, 8]]>
}

// CHECK: access must have 1 to 5 dims, got 6

// -----

accel.program "small" dram 65536 {
  accel.dma 0 <sbuf 0, 0, [[1, 32], [1, 0]]> -> <sbuf 0, 0, [[1, 32], [1, 8]]>
}

// CHECK: access dim counts must be >= 1, got [[1, 32], [1, 0]]

// -----

accel.program "small" dram 65536 {
  accel.dma 0 <sbuf 0, 0, [[2, 32], [1, 8]]> -> <sbuf 0, 0, [[1, 32], [1, 8]]>
}

// CHECK: on-chip access partition dim stride must be 1, got 2

// -----

accel.program "small" dram 0 {
}

// CHECK: dram_bytes must be positive

// -----

accel.program "small" dram 64 {
  accel.stream pe {
  }
  accel.stream pe {
  }
}

// CHECK: two accel.stream ops for engine pe

// -----

accel.program "small" dram 65536 {
  "test.op"() : () -> ()
}

// CHECK: accel.program may not contain test.op (only io, const, stream, repeat and instructions)

// -----

accel.program "small" dram 65536 {
  accel.stream pe {
  }
  accel.nop pe
}

// CHECK: accel.program mixes accel.stream ops with instructions outside streams

// -----

accel.program "small" dram 65536 {
  accel.io input "x" at -4 : tensor<4xf32>
}

// CHECK: io address must be >= 0

// -----

accel.program "small" dram 65536 {
  accel.io input "x" at 0 : tensor<4xi32>
}

// CHECK: io tensors must be f32

// -----

accel.program "small" dram 65536 {
  accel.const at -8 dense<1.0> : tensor<4xf32>
}

// CHECK: const address must be >= 0

// -----

accel.program "small" dram 65536 {
  accel.const at 0 dense<1> : tensor<4xi32>
}

// CHECK: const data must be f32

// -----

accel.stream pe {
}

// CHECK: accel.stream must be directly inside accel.program

// -----

accel.program "small" dram 65536 {
  accel.stream pe {
    "test.op"() : () -> ()
  }
}

// CHECK: accel.stream may only contain instructions and repeats, got test.op

// -----

accel.program "small" dram 65536 {
  accel.stream pe {
    accel.repeat 2 {
      accel.nop act
    }
  }
}

// CHECK: accel.nop runs on engine act, not on this stream's engine pe

// -----

accel.program "small" dram 65536 {
  accel.repeat 0 {
  }
}

// CHECK: repeat count must be 1 to 2147483647, got 0

// -----

accel.repeat 2 {
}

// CHECK: accel.repeat must be inside accel.program, accel.stream or accel.repeat

// -----

accel.program "small" dram 65536 {
  accel.repeat 2 {
    accel.io input "x" at 0 : tensor<4xf32>
  }
}

// CHECK: accel.repeat may only contain instructions and repeats, got accel.io

// -----

accel.program "small" dram 65536 {
  accel.nop pe {signal = -1 : i64}
}

// CHECK: signal semaphore must be >= 0, got -1

// -----

accel.nop pe

// CHECK: accel.nop must be inside accel.program, accel.stream or accel.repeat

// -----

accel.program "small" dram 65536 {
  accel.repeat 2 {
    accel.dma 0 <dram 0 + 32 * i0 + 4 * i1, [[8, 32], [1, 8]]> -> <sbuf 0, 0, [[1, 32], [1, 8]]>
  }
}

// CHECK: accel.dma uses repeat index i1 but is nested in 1 accel.repeat op(s)

// -----

accel.program "small" dram 65536 {
  accel.wait act sem 0 >= 1 + 1 * i0
}

// CHECK: accel.wait uses repeat index i0 but is nested in 0 accel.repeat op(s)

// -----

accel.program "small" dram 65536 {
  accel.dma -1 <sbuf 0, 0, [[1, 32], [1, 8]]> -> <sbuf 0, 0, [[1, 32], [1, 8]]>
}

// CHECK: dma queue must be >= 0, got -1

// -----

accel.program "small" dram 65536 {
  accel.dma 0 <sbuf 0, 0, [[1, 32], [1, 8]]> -> <sbuf 0, 0, [[1, 32], [1, 9]]>
}

// CHECK: dma element counts differ: src 256, dst 288

// -----

accel.program "small" dram 65536 {
  accel.matmul <sbuf 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 64, [[1, 32], [1, 32]]>, <sbuf 0, 0, [[1, 32], [1, 8]]>
}

// CHECK: matmul dst must be in psum, got sbuf

// -----

accel.program "small" dram 65536 {
  accel.matmul <psum 0, 0, [[1, 32], [1, 8]]>, <psum 0, 64, [[1, 32], [1, 32]]>, <sbuf 0, 0, [[1, 32], [1, 8]]>
}

// CHECK: matmul stationary must be in sbuf, got psum

// -----

accel.program "small" dram 65536 {
  accel.matmul <psum 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 64, [[1, 32], [1, 32]]>, <dram 0, [[8, 32], [1, 8]]>
}

// CHECK: matmul moving must be in sbuf, got dram

// -----

accel.program "small" dram 65536 {
  accel.matmul <psum 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 64, [[1, 16], [1, 32]]>, <sbuf 0, 0, [[1, 32], [1, 8]]>
}

// CHECK: matmul contraction sizes differ: stationary has 16 partitions, moving 32

// -----

accel.program "small" dram 65536 {
  accel.matmul <psum 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 64, [[1, 32], [1, 16]]>, <sbuf 0, 0, [[1, 32], [1, 8]]>
}

// CHECK: matmul M mismatch: stationary free size 16 != dst partitions 32

// -----

accel.program "small" dram 65536 {
  accel.matmul <psum 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 64, [[1, 32], [1, 32]]>, <sbuf 0, 0, [[1, 32], [1, 4]]>
}

// CHECK: matmul N mismatch: moving free size 4 != dst free size 8

// -----

accel.program "small" dram 65536 {
  accel.matmul <psum 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 64, [[1, 32], [1, 32]]>, <sbuf 0, 0, [[1, 32], [1, 8]]> {zero_at = -2 : i64}
}

// CHECK: matmul zero_at must be -1 or a repeat level, got -2

// -----

accel.program "small" dram 65536 {
  accel.repeat 2 {
    accel.matmul <psum 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 64, [[1, 32], [1, 32]]>, <sbuf 0, 0, [[1, 32], [1, 8]]> {zero_at = 1 : i64}
  }
}

// CHECK: matmul zero_at = 1 names repeat level i1, but the instruction is nested in 1 accel.repeat op(s)

// -----

accel.program "small" dram 65536 {
  accel.act relu <dram 0, [[8, 32], [1, 8]]>, <psum 0, 0, [[1, 32], [1, 8]]>
}

// CHECK: act dst must be in sbuf or psum, got dram

// -----

accel.program "small" dram 65536 {
  accel.act relu <sbuf 0, 0, [[1, 32], [1, 8]]>, <dram 0, [[8, 32], [1, 8]]>
}

// CHECK: act src must be in sbuf or psum, got dram

// -----

accel.program "small" dram 65536 {
  accel.act relu <sbuf 0, 0, [[1, 32], [1, 8]]>, <psum 0, 0, [[1, 16], [1, 16]]>
}

// CHECK: act partition counts differ: dst 32, src 16

// -----

accel.program "small" dram 65536 {
  accel.act relu <sbuf 0, 0, [[1, 32], [1, 8]]>, <psum 0, 0, [[1, 32], [1, 4]]>
}

// CHECK: act free element counts differ: dst 8, src 4

// -----

accel.program "small" dram 65536 {
  // The custom syntax cannot say both; the generic form can.
  "accel.act"() <{func = #accel<act_func relu>, dst = #accel.ap<sbuf 0, 0, [[1, 32], [1, 8]]>, src = #accel.ap<psum 0, 0, [[1, 32], [1, 8]]>, scale = 2.0 : f32, scale_col = #accel.ap<sbuf 0, 96, [[1, 32], [1, 1]]>}> : () -> ()
}

// CHECK: act has both an immediate scale and a scale column

// -----

accel.program "small" dram 65536 {
  accel.act relu <sbuf 0, 0, [[1, 32], [1, 8]]>, <psum 0, 0, [[1, 32], [1, 8]]> bias <sbuf 0, 96, [[1, 32], [1, 2]]>
}

// CHECK: act bias column must have one element on each of the 32 dst partitions

// -----

accel.program "small" dram 65536 {
  accel.act relu <sbuf 0, 0, [[1, 32], [1, 8]]>, <psum 0, 0, [[1, 32], [1, 8]]> scale <dram 0, [[1, 32], [1, 1]]>
}

// CHECK: act scale column must be in sbuf or psum, got dram

// -----

accel.program "small" dram 65536 {
  accel.tensor_tensor add <sbuf 0, 0, [[1, 32], [1, 8]]>, <dram 0, [[8, 32], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]>
}

// CHECK: tensor_tensor a must be in sbuf or psum, got dram

// -----

accel.program "small" dram 65536 {
  accel.tensor_tensor add <sbuf 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 7]]>
}

// CHECK: tensor_tensor b free element counts differ: dst 8, src 7

// -----

accel.program "small" dram 65536 {
  accel.reduce add <sbuf 0, 0, [[1, 32], [1, 1]]>, <sbuf 0, 0, [[1, 32], [1, 8]]> over 2
}

// CHECK: reduce over 2 dims, but src has 1 free dim(s)

// -----

accel.program "small" dram 65536 {
  accel.reduce add <sbuf 0, 0, [[1, 16], [1, 1]]>, <sbuf 0, 0, [[1, 32], [1, 8]]> over 1
}

// CHECK: reduce partition counts differ: dst 16, src 32

// -----

accel.program "small" dram 65536 {
  accel.reduce add <sbuf 0, 0, [[1, 32], [1, 2]]>, <sbuf 0, 0, [[1, 32], [4, 4], [1, 4]]> over 1
}

// CHECK: reduce dst free size 2 != 4 (the product of the src's non-reduced free counts)

// -----

accel.program "small" dram 65536 {
  accel.reduce add <dram 0, [[1, 32], [1, 1]]>, <sbuf 0, 0, [[1, 32], [1, 8]]> over 1
}

// CHECK: reduce dst must be in sbuf or psum, got dram

// -----

accel.program "small" dram 65536 {
  accel.memset <dram 0, [[1, 32]]>, 0.0
}

// CHECK: memset dst must be in sbuf or psum, got dram

// -----

accel.program "small" dram 65536 {
  accel.wait pe sem -1 >= 1
}

// CHECK: semaphore must be >= 0, got -1

// -----

accel.program "small" dram 65536 {
  accel.signal pe sem -3
}

// CHECK: semaphore must be >= 0, got -3

// -----

accel.program "small" dram 65536 {
  accel.dropout <sbuf 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 64, [[1, 32], [1, 8]]> ratio 1.5 seed 1
}

// CHECK: dropout ratio must be in [0, 1), got 1.5

// -----

accel.program "small" dram 65536 {
  accel.dropout <sbuf 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 64, [[1, 16], [1, 8]]> ratio 0.5 seed 1
}

// CHECK: dropout src

// -----

accel.program "small" dram 65536 {
  accel.random <dram 0, [[1, 32]]>, 0.0, 1.0 seed 1
}

// CHECK: random dst must be in sbuf or psum, got dram

// -----

accel.program "small" dram 65536 {
  accel.random <sbuf 0, 0, [[1, 32], [1, 8]]>, 1.0, 0.0 seed 1
}

// CHECK: random bounds [1.0, 0.0) are not finite and ordered

// -----

accel.program "small" dram 65536 {
  accel.refill act section -1
}

// CHECK: section must be >= 0, got -1

// -----

accel.program "small" dram 65536 {
  accel.eval 0 max a lt <dram 64, [[1, 2]]>, <dram 0, [[1, 8]]>, <dram 32, [[1, 8]]> threshold 1.0
}

// CHECK: eval dst must be one element, got 2

// -----

accel.program "small" dram 65536 {
  accel.eval 0 add abs_a ge <dram 64, [[1, 1]]>, <dram 0, [[1, 8]]>, <dram 32, [[1, 4]]> threshold 1.0
}

// CHECK: eval a and b hold 8 and 4 elements

// -----

accel.program "small" dram 65536 {
  accel.overwrite 0 <dram 4096, [[1, 48]]>, <dram 8192, [[1, 48]]> unless <dram 64, [[1, 3]]>
}

// CHECK: overwrite flag must be one element, got 3

// -----

accel.program "small" dram 65536 {
  accel.tensor_tensor add <sbuf 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 32, [[1, 32], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]> scale <sbuf 0, 96, [[1, 16], [1, 1]]>
}

// CHECK: tensor_tensor scale column must have one element on each of the 32 partitions of a

// -----

accel.program "small" dram 65536 {
  accel.tensor_tensor add <sbuf 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 32, [[1, 32], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]> scale <dram 0, [[1, 32], [1, 1]]>
}

// CHECK: tensor_tensor scale column must be in sbuf or psum, got dram

// -----

accel.program "small" dram 65536 {
  accel.nop pe {wait_sem = 3 : i64}
}

// CHECK: wait_sem and wait_value go together

// -----

accel.program "small" dram 65536 {
  accel.nop pe {wait_sem = -2 : i64, wait_value = #accel.aff<1>}
}

// CHECK: wait semaphore must be >= 0, got -2

// -----

accel.program "small" dram 65536 {
  accel.wait pe sem 1 >= 1 {wait_sem = 2 : i64, wait_value = #accel.aff<1>}
}

// CHECK: accel.wait cannot carry a folded wait

// -----

accel.program "small" dram 65536 {
  accel.nop pe {wait_sem = 2 : i64, wait_value = #accel.aff<1 + 1 * i0>}
}

// CHECK: accel.nop uses repeat index i0 but is nested in 0 accel.repeat op(s)

// -----

accel.program "small" dram 65536 {
  accel.act relu <sbuf 0, 0, [[1, 32], [9223372036854775807, 8]]>, <sbuf 0, 64, [[1, 32], [1, 8]]>
}

// CHECK: access dims must fit 32-bit words (-2147483648 to 2147483647), got [[1, 32], [9223372036854775807, 8]]

// -----

accel.program "small" dram 65536 {
  accel.act relu <sbuf 0, 4294967296, [[1, 32], [1, 8]]>, <sbuf 0, 64, [[1, 32], [1, 8]]>
}

// CHECK: access offset must fit 32-bit words (-2147483648 to 2147483647), got 4294967296

// -----

accel.program "small" dram 65536 {
  accel.repeat 2147483648 {
    accel.act relu <sbuf 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 64, [[1, 32], [1, 8]]>
  }
}

// CHECK: repeat count must be 1 to 2147483647, got 2147483648

// -----

// An io tensor of a dynamic or a 2^40 dim: the binary's IO table holds 32-bit
// dims (it failed at the encoder, by a byte offset of the binary).
accel.program "small" dram 65536 {
  accel.io input "x" at 0 : tensor<?x8xf32>
}

// CHECK: io tensor shape [?, 8] must be static, each dim in [0, 2^31)

// -----

// A wait value past 32 bits (it failed at the encoder, without a line).
accel.program "small" dram 65536 {
  accel.stream pe {
    accel.wait pe sem 2 >= 1180591620717411303424
  }
}

// CHECK: affine value 1180591620717411303424 does not fit the binary's 32-bit words

// -----

// A constant under an input (the input's bytes would overwrite it) was accepted.
accel.program "small" dram 65536 {
  accel.io input "x" at 0 : tensor<4x8xf32>
  accel.const at 64 dense<[1.0, 2.0]> : tensor<2xf32>
}

// CHECK: accel.const at DRAM bytes [64, 72) overlaps accel.io 'x' at [0, 128)

// -----

// A field of the op written in its attribute dictionary was kept as an attribute
// that nothing reads (the act ran with scale 1.0).
accel.program "small" dram 65536 {
  accel.act exp <sbuf 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 32, [[1, 32], [1, 8]]> {scale = "abc"}
}

// CHECK: attribute 'scale' names one of the op's own fields; write it in the op's syntax

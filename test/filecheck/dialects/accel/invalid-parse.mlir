// RUN: tidal-opt %s --split-input-file --parsing-diagnostics | filecheck %s

// Names the parser rejects: every enum operand (activation, ALU op, reduction, io
// kind, memory space) and engine is checked against the chip's datasheet as it is read.
accel.program "small" dram 65536 {
  accel.io inout "x" at 0 : tensor<4xf32>
}

// CHECK: unknown io kind 'inout' (input, output)

// -----

accel.program "small" dram 65536 {
  accel.stream tpu {
  }
}

// CHECK: unknown engine 'tpu' (pe, act, pool, dma0, dma1, ...)

// -----

accel.program "small" dram 65536 {
  accel.act softsign <sbuf 0, 0, [[1, 32], [1, 8]]>, <psum 0, 0, [[1, 32], [1, 8]]>
}

// CHECK: unknown activation 'softsign' (identity, relu, exp, reciprocal, sigmoid, tanh, log, gelu, erf, softplus, rsqrt, sqrt, clip01, silu, gelu_erf)

// -----

accel.program "small" dram 65536 {
  accel.tensor_tensor div <sbuf 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]>, <sbuf 0, 0, [[1, 32], [1, 8]]>
}

// CHECK: unknown tensor_tensor op 'div' (add, sub, mul, max, min)

// -----

accel.program "small" dram 65536 {
  accel.reduce min <sbuf 0, 0, [[1, 32], [1, 1]]>, <sbuf 0, 0, [[1, 32], [1, 8]]> over 1
}

// CHECK: unknown reduce op 'min' (add, max)

// -----

accel.program "small" dram 65536 {
  accel.halt gpu
}

// CHECK: unknown engine 'gpu' (pe, act, pool, dma0, dma1, ...)

// -----

accel.program "small" dram 65536 {
  accel.memset <hbm 0, 0, [[1, 32], [1, 8]]>, 0.0
}

// CHECK: unknown memory space 'hbm' (dram, sbuf, psum)

// -----

accel.program "small" dram 65536 {
  accel.wait dma sem 0 >= 1
}

// CHECK: unknown engine 'dma' (pe, act, pool, dma0, dma1, ...)

// -----

accel.program "small" dram 65536 {
  accel.eval 0 max a eq <dram 64, [[1, 1]]>, <dram 0, [[1, 8]]>, <dram 0, [[1, 8]]> threshold 1.0
}

// CHECK: unknown comparison 'eq' (lt, le, gt, ge)

// -----

// An fp32 immediate past the fp32 range (an infinity or a NaN is written by its
// bits, 0x7F800000): it was encoded as an infinity, with NumPy's overflow warning.
accel.program "small" dram 65536 {
  accel.memset <sbuf 0, 0, [[1, 4], [1, 8]]>, 1.0e+300
}

// CHECK: 1e+300 is out of the fp32 range

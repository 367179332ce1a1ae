// RUN: tidal-opt %s --split-input-file --parsing-diagnostics | filecheck %s

// Names the parser rejects: loop ops take the chip's enums (`tidal.sim.spec`) as the
// accel ops do, quoted or bare.
func.func @f(%x: memref<8x64xf32>) {
  loop.nest "n" domain [2] order [0] {
    %t = loop.alloc_tile : !loop.tile<sbuf, 32, 8>
    %p = loop.alloc_tile : !loop.tile<psum, 32, 8>
    %w = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
    loop.for d0 {
      loop.act "softsign" %t <sbuf 0, 0, [[1, 32], [1, 8]]>, %p <psum 0, 0, [[1, 32], [1, 8]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 32, 8>, !loop.tile<psum, 32, 8>
    }
  }
  func.return
}
// CHECK: unknown activation 'softsign' (identity, relu, exp, reciprocal, sigmoid, tanh, log, gelu, erf, softplus, rsqrt, sqrt, clip01, silu, gelu_erf)

// -----

func.func @f(%x: memref<8x64xf32>) {
  loop.nest "n" domain [2] order [0] {
    %t = loop.alloc_tile : !loop.tile<sbuf, 32, 8>
    %p = loop.alloc_tile : !loop.tile<psum, 32, 8>
    %w = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
    loop.for d0 {
      loop.tensor_tensor "div" %t <sbuf 0, 0, [[1, 32], [1, 8]]>, %t <sbuf 0, 0, [[1, 32], [1, 8]]>, %t <sbuf 0, 0, [[1, 32], [1, 8]]> : !loop.tile<sbuf, 32, 8>, !loop.tile<sbuf, 32, 8>, !loop.tile<sbuf, 32, 8>
    }
  }
  func.return
}
// CHECK: unknown tensor_tensor op 'div' (add, sub, mul, max, min)

// -----

func.func @f(%x: memref<8x64xf32>) {
  loop.nest "n" domain [2] order [0] {
    %t = loop.alloc_tile : !loop.tile<sbuf, 32, 8>
    %p = loop.alloc_tile : !loop.tile<psum, 32, 8>
    %w = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
    loop.for d0 {
      loop.reduce "min" %t <sbuf 0, 0, [[1, 32], [1, 1]]>, %t <sbuf 0, 0, [[1, 32], [1, 8]]> {nreduce = 1 : i64, scale = 1.0 : f32} : !loop.tile<sbuf, 32, 8>, !loop.tile<sbuf, 32, 8>
    }
  }
  func.return
}
// CHECK: unknown reduce op 'min' (add, max)

// -----

func.func @f() {
  loop.nest "n" domain [1] order [0] {
    %t = loop.alloc_tile : !loop.tile<hbm, 32, 8>
  }
  func.return
}
// CHECK: unknown memory space 'hbm' (dram, sbuf, psum)

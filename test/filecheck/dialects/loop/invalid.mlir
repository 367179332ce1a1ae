// RUN: TIDAL_VERIFY_DIAG

// One case per verifier rule of the loop dialect.

func.func @f() {
  %t = loop.alloc_tile : !loop.tile<dram, 4, 4>
  func.return
}
// CHECK: tile space must be one of sbuf, psum, got 'dram'

// -----

%t = loop.alloc_tile : !loop.tile<sbuf, 4, 4>
// CHECK: loop.alloc_tile must be inside a loop.nest or directly in a func.func

// -----

func.func @f() {
  %c = loop.const dense<1.0> : tensor<4xf32> : memref<8xf32>
  func.return
}
// CHECK: loop.const: value and buffer shapes differ

// -----

func.func @f(%x: memref<8x64xf32>) {
  %v = loop.view %x : memref<8x64xf32> -> memref<500xf32>
  func.return
}
// CHECK: loop.view: 512 elements cannot be viewed as 500 elements

// -----

func.func @f(%x: memref<8x64xf32>) {
  loop.nest "n" domain [0] order [0] {

  }
  func.return
}
// CHECK: loop.nest: every domain trip count must be >= 1

// -----

func.func @f(%x: memref<8x64xf32>) {
  loop.nest "n" domain [2] order [1] {

  }
  func.return
}
// CHECK: loop.nest: order [1] is not a permutation of the 1 domain dimensions

// -----

func.func @f(%x: memref<8x64xf32>) {
  loop.nest "n" domain [2] order [0] {

  }
  func.return
}
// CHECK: loop.nest: loops iterate dimensions [] but order says [0]

// -----

func.func @f(%x: memref<8x64xf32>) {
  loop.nest "n" domain [2, 2] order [0, 1] {
    loop.for d0 {
      loop.for d1 {
      }
    }
    loop.for d1 {
    }
  }
  func.return
}
// CHECK: loop.nest: a loop at depth 0 iterates d1 but order says d0

// -----

func.func @f(%x: memref<8x64xf32>) {
  loop.nest "n" domain [2, 2] order [0, 1] {
    loop.for d0 {
      loop.for d1 {
      }
      loop.for d0 {
      }
    }
  }
  func.return
}
// CHECK: loop.nest: a loop at depth 1 iterates d0 but order says d1

// -----

func.func @f(%x: memref<8x64xf32>) {
  loop.nest "n" domain [2] order [0] {
    loop.for d0 {
      loop.for d0 {
      }
    }
  }
  func.return
}
// CHECK: loop.nest: a loop at depth 1 iterates d0 but order [0] has no depth 1

// -----

func.func @f(%x: memref<8x64xf32>) {
  loop.nest "n" domain [2, 2] order [0, 1] {
    loop.for d0 {
    }
    loop.for d0 {
    }
  }
  func.return
}
// CHECK: loop.nest: loops iterate dimensions [0] but order says [0, 1]

// -----

func.func @f(%x: memref<8x64xf32>) {
  loop.nest "n" domain [2] order [3] {
    loop.for d3 {
    }
  }
  func.return
}
// CHECK: loop.nest: order [3] is not a permutation of the 1 domain dimensions

// -----

func.func @f() {
  loop.for d0 {
  }
  func.return
}
// CHECK: loop.for must be inside a loop.nest

// -----

func.func @f(%x: memref<8x64xf32>) {
  loop.nest "n" domain [2] order [0] {
    %t = loop.alloc_tile : !loop.tile<sbuf, 32, 8>
    %p = loop.alloc_tile : !loop.tile<psum, 32, 8>
    %w = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
    loop.for d0 {
      loop.copy %x <sbuf 0, 0, [[1, 8], [1, 8]]> -> %t <sbuf 0, 0, [[1, 8], [1, 8]]> : memref<8x64xf32> -> !loop.tile<sbuf, 32, 8>
    }
  }
  func.return
}
// CHECK: loop.copy: src access is in sbuf but its buffer is in dram

// -----

func.func @f(%x: memref<8x64xf32>) {
  loop.nest "n" domain [2] order [0] {
    %t = loop.alloc_tile : !loop.tile<sbuf, 32, 8>
    %p = loop.alloc_tile : !loop.tile<psum, 32, 8>
    %w = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
    loop.for d0 {
      loop.copy %x <dram 0, [[64, 8], [1, 8]]> -> %t <sbuf 0 + 16 * i0, 0, [[1, 32], [1, 8]]> : memref<8x64xf32> -> !loop.tile<sbuf, 32, 8>
    }
  }
  func.return
}
// CHECK: loop.copy: dst access reaches partitions [0, 48) of a 32-partition tile

// -----

func.func @f(%x: memref<8x64xf32>) {
  loop.nest "n" domain [2] order [0] {
    %t = loop.alloc_tile : !loop.tile<sbuf, 32, 8>
    %p = loop.alloc_tile : !loop.tile<psum, 32, 8>
    %w = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
    loop.for d0 {
      loop.copy %x <dram 0, [[64, 8], [1, 8]]> -> %t <sbuf 0, 4, [[1, 8], [1, 8]]> : memref<8x64xf32> -> !loop.tile<sbuf, 32, 8>
    }
  }
  func.return
}
// CHECK: loop.copy: dst access reaches bytes [4, 36) of a 32-byte tile partition

// -----

func.func @f(%x: memref<8x64xf32>) {
  loop.nest "n" domain [2] order [0] {
    %t = loop.alloc_tile : !loop.tile<sbuf, 32, 8>
    %p = loop.alloc_tile : !loop.tile<psum, 32, 8>
    %w = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
    loop.for d0 {
      loop.copy %x <dram 0 + 2048 * i0, [[64, 8], [1, 8]]> -> %t <sbuf 0, 0, [[1, 8], [1, 8]]> : memref<8x64xf32> -> !loop.tile<sbuf, 32, 8>
    }
  }
  func.return
}
// CHECK: loop.copy: src access reaches bytes [0, 3872) of a 2048-byte buffer

// -----

func.func @f(%x: memref<8x64xf32>) {
  loop.nest "n" domain [2] order [0] {
    %t = loop.alloc_tile : !loop.tile<sbuf, 32, 8>
    %p = loop.alloc_tile : !loop.tile<psum, 32, 8>
    %w = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
    loop.for d0 {
      loop.copy %x <dram 0 + 4 * i1, [[64, 8], [1, 8]]> -> %t <sbuf 0, 0, [[1, 8], [1, 8]]> : memref<8x64xf32> -> !loop.tile<sbuf, 32, 8>
    }
  }
  func.return
}
// CHECK: loop.copy: src access uses a dimension outside the nest's domain

// -----

func.func @f(%x: memref<8x64xf32>) {
  loop.nest "n" domain [2] order [0] {
    %t = loop.alloc_tile : !loop.tile<sbuf, 32, 8>
    %p = loop.alloc_tile : !loop.tile<psum, 32, 8>
    %w = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
    loop.for d0 {
      loop.copy %x <dram 0, [[64, 8], [1, 4]]> -> %t <sbuf 0, 0, [[1, 8], [1, 8]]> : memref<8x64xf32> -> !loop.tile<sbuf, 32, 8>
    }
  }
  func.return
}
// CHECK: loop.copy: source has 32 elements, destination 64

// -----

func.func @f(%x: memref<8x64xf32>) {
  loop.nest "n" domain [2] order [0] {
    %t = loop.alloc_tile : !loop.tile<sbuf, 32, 8>
    %p = loop.alloc_tile : !loop.tile<psum, 32, 8>
    %w = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
    loop.for d0 {
      loop.matmul %p <psum 0, 0, [[1, 32], [1, 8]]>, %w <sbuf 0, 0, [[1, 32], [1, 32]]>, %t <sbuf 0, 0, [[1, 16], [1, 8]]> : !loop.tile<psum, 32, 8>, !loop.tile<sbuf, 32, 32>, !loop.tile<sbuf, 32, 8>
    }
  }
  func.return
}
// CHECK: loop.matmul: contraction mismatch, stationary has 32 partitions and moving 16

// -----

func.func @f(%x: memref<8x64xf32>) {
  loop.nest "n" domain [2] order [0] {
    %t = loop.alloc_tile : !loop.tile<sbuf, 32, 8>
    %p = loop.alloc_tile : !loop.tile<psum, 32, 8>
    %w = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
    loop.for d0 {
      loop.matmul %p <psum 0, 0, [[1, 16], [1, 8]]>, %w <sbuf 0, 0, [[1, 32], [1, 32]]>, %t <sbuf 0, 0, [[1, 32], [1, 8]]> : !loop.tile<psum, 32, 8>, !loop.tile<sbuf, 32, 32>, !loop.tile<sbuf, 32, 8>
    }
  }
  func.return
}
// CHECK: loop.matmul: accumulator is 16x8, expected 32x8

// -----

func.func @f(%x: memref<8x64xf32>) {
  loop.nest "n" domain [2] order [0] {
    %t = loop.alloc_tile : !loop.tile<sbuf, 32, 8>
    %p = loop.alloc_tile : !loop.tile<psum, 32, 8>
    %w = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
    loop.for d0 {
      loop.matmul %t <sbuf 0, 0, [[1, 32], [1, 8]]>, %w <sbuf 0, 0, [[1, 32], [1, 32]]>, %t <sbuf 0, 0, [[1, 32], [1, 8]]> : !loop.tile<sbuf, 32, 8>, !loop.tile<sbuf, 32, 32>, !loop.tile<sbuf, 32, 8>
    }
  }
  func.return
}
// CHECK: loop.matmul: the accumulator must be a psum tile

// -----

func.func @f(%x: memref<8x64xf32>) {
  loop.nest "n" domain [2] order [0] {
    %t = loop.alloc_tile : !loop.tile<sbuf, 32, 8>
    %p = loop.alloc_tile : !loop.tile<psum, 32, 8>
    %w = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
    loop.for d0 {
      loop.act "relu" %p <psum 0, 0, [[1, 32], [1, 8]]>, %p <psum 0, 0, [[1, 32], [1, 8]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<psum, 32, 8>, !loop.tile<psum, 32, 8>
    }
  }
  func.return
}
// CHECK: loop.act: the destination must be an sbuf tile

// -----

func.func @f(%x: memref<8x64xf32>) {
  loop.nest "n" domain [2] order [0] {
    %t = loop.alloc_tile : !loop.tile<sbuf, 32, 8>
    %p = loop.alloc_tile : !loop.tile<psum, 32, 8>
    %w = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
    loop.for d0 {
      loop.act "relu" %t <sbuf 0, 0, [[1, 32], [1, 8]]>, %p <psum 0, 0, [[1, 32], [1, 4]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 32, 8>, !loop.tile<psum, 32, 8>
    }
  }
  func.return
}
// CHECK: loop.act: source and destination have different shapes (32x8 vs 32x4)

// -----

func.func @f(%x: memref<8x64xf32>) {
  loop.nest "n" domain [2] order [0] {
    %t = loop.alloc_tile : !loop.tile<sbuf, 32, 8>
    %p = loop.alloc_tile : !loop.tile<psum, 32, 8>
    %w = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
    loop.for d0 {
      loop.act "relu" %t <sbuf 0, 0, [[1, 32], [1, 8]]>, %p <psum 0, 0, [[1, 32], [1, 8]]> bias(%t : !loop.tile<sbuf, 32, 8>) <sbuf 0, 0, [[1, 32], [1, 2]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 32, 8>, !loop.tile<psum, 32, 8>
    }
  }
  func.return
}
// CHECK: loop.act: bias column must be 32x1

// -----

func.func @f(%x: memref<8x64xf32>) {
  loop.nest "n" domain [2] order [0] {
    %t = loop.alloc_tile : !loop.tile<sbuf, 32, 8>
    %p = loop.alloc_tile : !loop.tile<psum, 32, 8>
    %w = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
    loop.for d0 {
      loop.tensor_tensor "add" %t <sbuf 0, 0, [[1, 32], [1, 8]]>, %t <sbuf 0, 0, [[1, 32], [1, 8]]>, %t <sbuf 0, 0, [[1, 16], [1, 8]]> : !loop.tile<sbuf, 32, 8>, !loop.tile<sbuf, 32, 8>, !loop.tile<sbuf, 32, 8>
    }
  }
  func.return
}
// CHECK: loop.tensor_tensor: destination and second operand have different shapes (32x8 vs 16x8)

// -----

func.func @f(%x: memref<8x64xf32>) {
  loop.nest "n" domain [2] order [0] {
    %t = loop.alloc_tile : !loop.tile<sbuf, 32, 8>
    loop.for d0 {
      loop.tensor_tensor "add" %t <sbuf 0, 0, [[1, 32], [1, 8]]>, %t <sbuf 0, 0, [[1, 32], [1, 8]]>, %t <sbuf 0, 0, [[1, 32], [1, 8]]> scale(%t : !loop.tile<sbuf, 32, 8>) <sbuf 0, 0, [[1, 32], [1, 2]]> : !loop.tile<sbuf, 32, 8>, !loop.tile<sbuf, 32, 8>, !loop.tile<sbuf, 32, 8>
    }
  }
  func.return
}
// CHECK: loop.tensor_tensor: scale column must be 32x1

// -----

func.func @f(%x: memref<8x64xf32>) {
  loop.nest "n" domain [2] order [0] {
    %t = loop.alloc_tile : !loop.tile<sbuf, 32, 8>
    %p = loop.alloc_tile : !loop.tile<psum, 32, 8>
    %w = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
    loop.for d0 {
      loop.reduce "max" %t <sbuf 0, 0, [[1, 32], [1, 1]]>, %t <sbuf 0, 0, [[1, 32], [1, 8]]> {nreduce = 2 : i64, scale = 1.0 : f32} : !loop.tile<sbuf, 32, 8>, !loop.tile<sbuf, 32, 8>
    }
  }
  func.return
}
// CHECK: loop.reduce: cannot reduce 2 of the source's 1 free dims

// -----

func.func @f(%x: memref<8x64xf32>) {
  loop.nest "n" domain [2] order [0] {
    %t = loop.alloc_tile : !loop.tile<sbuf, 32, 8>
    %p = loop.alloc_tile : !loop.tile<psum, 32, 8>
    %w = loop.alloc_tile : !loop.tile<sbuf, 32, 32>
    loop.for d0 {
      loop.reduce "max" %t <sbuf 0, 0, [[1, 32], [1, 2]]>, %t <sbuf 0, 0, [[1, 32], [1, 8]]> {nreduce = 1 : i64, scale = 1.0 : f32} : !loop.tile<sbuf, 32, 8>, !loop.tile<sbuf, 32, 8>
    }
  }
  func.return
}
// CHECK: loop.reduce: destination must be 32x1

// -----

func.func @f() {
  loop.nest "n" domain [] order [] {
    %t = loop.alloc_tile : !loop.tile<sbuf, 16, 8>
    loop.dropout %t <sbuf 0, 0, [[1, 16], [1, 8]]>, %t <sbuf 0, 0, [[1, 16], [1, 8]]> seed 3 ratio 1.0 : f32 : !loop.tile<sbuf, 16, 8>, !loop.tile<sbuf, 16, 8>
  }
  func.return
}
// CHECK: loop.dropout: ratio must be in [0, 1), got 1.0

// -----

func.func @f() {
  loop.nest "n" domain [] order [] {
    %t = loop.alloc_tile : !loop.tile<sbuf, 16, 8>
    loop.dropout %t <sbuf 0, 0, [[1, 16], [1, 8]]>, %t <sbuf 0, 0, [[1, 8], [1, 8]]> seed 3 ratio 0.5 : f32 : !loop.tile<sbuf, 16, 8>, !loop.tile<sbuf, 16, 8>
  }
  func.return
}
// CHECK: loop.dropout: source and destination have different shapes (16x8 vs 8x8)

// -----

func.func @f() {
  loop.nest "n" domain [] order [] {
    %t = loop.alloc_tile : !loop.tile<sbuf, 16, 8>
    loop.random %t <sbuf 0, 0, [[1, 16], [1, 8]]> seed 3 low 2.0 : f32 high 1.0 : f32 : !loop.tile<sbuf, 16, 8>
  }
  func.return
}
// CHECK: loop.random: bounds [2.0, 1.0) are not finite and ordered

// -----

func.func @f() {
  loop.nest "n" domain [] order [] {
    %t = loop.alloc_tile : !loop.tile<sbuf, 16, 8>
    loop.random %t <sbuf 0, 0, [[1, 16], [1, 8]]> seed 4294967296 low 0.0 : f32 high 1.0 : f32 : !loop.tile<sbuf, 16, 8>
  }
  func.return
}
// CHECK: loop.random: seed 4294967296 does not fit 32 bits

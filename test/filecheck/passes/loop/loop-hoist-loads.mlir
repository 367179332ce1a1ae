// RUN: tidal-opt %s -p loop-hoist-loads | filecheck %s

// Four loads of the constant %w in d0's body, one of an input. %wt's does not move
// with d0 and nothing else in the loop touches %wt before it: it runs once, before
// the loop. %moving's moves with d0 (it steps 4 bytes an iteration); ACT writes
// %again in the loop too; %early is read before its load, so iteration 0 read what
// the nest left there; %xt's source is an input, not a constant: all four stay.
// CHECK-LABEL: loop.nest "hoist" domain [4] order [0] {
// CHECK:         %o = loop.alloc_tile
// CHECK-NEXT:    loop.copy %w <dram 0, [[8, 16], [1, 8]]> -> %wt <sbuf 0, 0,
// CHECK-NEXT:    loop.for d0 {
// CHECK-NEXT:      loop.copy %w <dram 0 + 4 * i0, {{.*}} -> %moving <
// CHECK-NEXT:      loop.copy %w <dram 0, {{.*}} -> %again <
// CHECK-NEXT:      loop.act "relu" %again
// CHECK-NEXT:      loop.tensor_tensor "add" %o <{{.*}}>, %early <
// CHECK-NEXT:      loop.copy %w <dram 0, {{.*}} -> %early <
// CHECK-NEXT:      loop.copy %x <dram 0 + 512 * i0, {{.*}} -> %xt <
// CHECK-NOT:       -> %wt
// CHECK:         }

func.func @main(%x: memref<4x16x8xf32> {tidal.name = "input"}) -> (memref<4x16x8xf32> {tidal.name = "out"}) {
  %w = loop.const dense<2.0> : tensor<16x8xf32> : memref<16x8xf32>
  %y = loop.alloc : memref<4x16x8xf32>
  loop.nest "hoist" domain [4] order [0] {
    %wt = loop.alloc_tile : !loop.tile<sbuf, 16, 8>
    %moving = loop.alloc_tile : !loop.tile<sbuf, 16, 8>
    %again = loop.alloc_tile : !loop.tile<sbuf, 16, 8>
    %early = loop.alloc_tile : !loop.tile<sbuf, 16, 8>
    %xt = loop.alloc_tile : !loop.tile<sbuf, 16, 8>
    %o = loop.alloc_tile : !loop.tile<sbuf, 16, 8>
    loop.for d0 {
      loop.copy %w <dram 0, [[8, 16], [1, 8]]> -> %wt <sbuf 0, 0, [[1, 16], [1, 8]]> : memref<16x8xf32> -> !loop.tile<sbuf, 16, 8>
      loop.copy %w <dram 0 + 4 * i0, [[8, 16], [1, 4]]> -> %moving <sbuf 0, 0, [[1, 16], [1, 4]]> : memref<16x8xf32> -> !loop.tile<sbuf, 16, 8>
      loop.copy %w <dram 0, [[8, 16], [1, 8]]> -> %again <sbuf 0, 0, [[1, 16], [1, 8]]> : memref<16x8xf32> -> !loop.tile<sbuf, 16, 8>
      loop.act "relu" %again <sbuf 0, 0, [[1, 16], [1, 8]]>, %again <sbuf 0, 0, [[1, 16], [1, 8]]> {scale = 1.0 : f32, bias = 0.0 : f32} : !loop.tile<sbuf, 16, 8>, !loop.tile<sbuf, 16, 8>
      loop.tensor_tensor "add" %o <sbuf 0, 0, [[1, 16], [1, 8]]>, %early <sbuf 0, 0, [[1, 16], [1, 8]]>, %early <sbuf 0, 0, [[1, 16], [1, 8]]> : !loop.tile<sbuf, 16, 8>, !loop.tile<sbuf, 16, 8>, !loop.tile<sbuf, 16, 8>
      loop.copy %w <dram 0, [[8, 16], [1, 8]]> -> %early <sbuf 0, 0, [[1, 16], [1, 8]]> : memref<16x8xf32> -> !loop.tile<sbuf, 16, 8>
      loop.copy %x <dram 0 + 512 * i0, [[8, 16], [1, 8]]> -> %xt <sbuf 0, 0, [[1, 16], [1, 8]]> : memref<4x16x8xf32> -> !loop.tile<sbuf, 16, 8>
      loop.tensor_tensor "add" %o <sbuf 0, 0, [[1, 16], [1, 8]]>, %o <sbuf 0, 0, [[1, 16], [1, 8]]>, %xt <sbuf 0, 0, [[1, 16], [1, 8]]> : !loop.tile<sbuf, 16, 8>, !loop.tile<sbuf, 16, 8>, !loop.tile<sbuf, 16, 8>
      loop.tensor_tensor "add" %o <sbuf 0, 0, [[1, 16], [1, 8]]>, %o <sbuf 0, 0, [[1, 16], [1, 8]]>, %wt <sbuf 0, 0, [[1, 16], [1, 8]]> : !loop.tile<sbuf, 16, 8>, !loop.tile<sbuf, 16, 8>, !loop.tile<sbuf, 16, 8>
      loop.tensor_tensor "add" %o <sbuf 0, 0, [[1, 16], [1, 8]]>, %o <sbuf 0, 0, [[1, 16], [1, 8]]>, %moving <sbuf 0, 0, [[1, 16], [1, 8]]> : !loop.tile<sbuf, 16, 8>, !loop.tile<sbuf, 16, 8>, !loop.tile<sbuf, 16, 8>
      loop.tensor_tensor "add" %o <sbuf 0, 0, [[1, 16], [1, 8]]>, %o <sbuf 0, 0, [[1, 16], [1, 8]]>, %again <sbuf 0, 0, [[1, 16], [1, 8]]> : !loop.tile<sbuf, 16, 8>, !loop.tile<sbuf, 16, 8>, !loop.tile<sbuf, 16, 8>
      loop.copy %o <sbuf 0, 0, [[1, 16], [1, 8]]> -> %y <dram 0 + 512 * i0, [[8, 16], [1, 8]]> : !loop.tile<sbuf, 16, 8> -> memref<4x16x8xf32>
    }
  }
  func.return %y : memref<4x16x8xf32>
}

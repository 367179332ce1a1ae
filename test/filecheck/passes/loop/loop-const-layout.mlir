// RUN: tidal-opt %s -p loop-const-layout | filecheck %s
// RUN: tidal-opt %s -p 'loop-const-layout{max_bytes=16}' | filecheck %s --check-prefix=SMALL

// "fc" loads W^T (input features on partitions) from W [2 out, 4 in]: element by
// element, 4 elements apart. Laid out in the order the copy reads it, W^T is one
// contiguous run: [1, 5, 2, 6, 3, 7, 4, 8], read as [[2, 4], [1, 2]].
// CHECK:       %w = loop.const dense<[1.000000e+00, 5.000000e+00, 2.000000e+00, 6.000000e+00, 3.000000e+00, 7.000000e+00, 4.000000e+00, 8.000000e+00]> : tensor<8xf32> : memref<8xf32>
// CHECK-NOT:   loop.const {{.*}}tensor<2x4xf32>

// %u is read a column per iteration of d0 through a view: columns become runs of 4,
// one after the other (the loop step 4 elements = 16 bytes); the view goes.
// CHECK:       %u = loop.const dense<[0.000000e+00, 3.000000e+00, 6.000000e+00, 9.000000e+00, 1.000000e+00, 4.000000e+00, 7.000000e+00, 1.000000e+01, 2.000000e+00, 5.000000e+00, 8.000000e+00, 1.100000e+01]> : tensor<12xf32> : memref<12xf32>
// CHECK-NOT:   loop.view

// %b is read by two nests (the same elements twice) and %c already in its own
// order: both keep their layout.
// CHECK:       %b = loop.const dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf32> : memref<2xf32>
// CHECK:       %c = loop.const dense<{{\[\[}}1.000000e+00, 2.000000e+00], [3.000000e+00, 4.000000e+00]]> : tensor<2x2xf32> : memref<2x2xf32>

// CHECK-LABEL: loop.nest "fc" domain [] order [] {
// CHECK:         loop.copy %w <dram 0, {{\[\[}}2, 4], [1, 2]]> -> %wt <sbuf 0, 0, {{\[\[}}1, 4], [1, 2]]> : memref<8xf32> -> !loop.tile<sbuf, 4, 2>
// CHECK:         loop.copy %b <dram 0, {{\[\[}}1, 2], [1, 1]]>
// CHECK:         loop.copy %c <dram 0, {{\[\[}}2, 2], [1, 2]]>
// CHECK-LABEL: loop.nest "cols" domain [3] order [0] {
// CHECK:           loop.copy %u <dram 0 + 16 * i0, {{\[\[}}1, 4], [1, 1]]> -> %t <sbuf 0, 0, {{\[\[}}1, 4], [1, 1]]> : memref<12xf32> -> !loop.tile<sbuf, 4, 1>
// CHECK-LABEL: loop.nest "bias" domain [] order [] {
// CHECK:         loop.copy %b <dram 0, {{\[\[}}1, 2], [1, 1]]>

// With max_bytes=16, only constants of at most 16 bytes change: none here does.
// SMALL:       %w = loop.const {{.*}} : tensor<2x4xf32> : memref<2x4xf32>
// SMALL:       %u = loop.const {{.*}} : tensor<4x3xf32> : memref<4x3xf32>
// SMALL:       %uv = loop.view %u
// SMALL:       loop.copy %w <dram 0, {{\[\[}}1, 4], [4, 2]]>

func.func @main(%x: memref<4x2xf32> {tidal.name = "input"}) -> (memref<4x2xf32> {tidal.name = "out"}) {
  %w = loop.const dense<[[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]]> : tensor<2x4xf32> : memref<2x4xf32>
  %u = loop.const dense<[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0], [9.0, 10.0, 11.0]]> : tensor<4x3xf32> : memref<4x3xf32>
  %uv = loop.view %u : memref<4x3xf32> -> memref<12xf32>
  %b = loop.const dense<[1.0, 2.0]> : tensor<2xf32> : memref<2xf32>
  %c = loop.const dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32> : memref<2x2xf32>
  %y = loop.alloc : memref<4x2xf32>
  loop.nest "fc" domain [] order [] {
    %wt = loop.alloc_tile : !loop.tile<sbuf, 4, 2>
    %bt = loop.alloc_tile : !loop.tile<sbuf, 2, 1>
    %ct = loop.alloc_tile : !loop.tile<sbuf, 2, 2>
    loop.copy %w <dram 0, [[1, 4], [4, 2]]> -> %wt <sbuf 0, 0, [[1, 4], [1, 2]]> : memref<2x4xf32> -> !loop.tile<sbuf, 4, 2>
    loop.copy %b <dram 0, [[1, 2], [1, 1]]> -> %bt <sbuf 0, 0, [[1, 2], [1, 1]]> : memref<2xf32> -> !loop.tile<sbuf, 2, 1>
    loop.copy %c <dram 0, [[2, 2], [1, 2]]> -> %ct <sbuf 0, 0, [[1, 2], [1, 2]]> : memref<2x2xf32> -> !loop.tile<sbuf, 2, 2>
    loop.copy %wt <sbuf 0, 0, [[1, 4], [1, 2]]> -> %y <dram 0, [[2, 4], [1, 2]]> : !loop.tile<sbuf, 4, 2> -> memref<4x2xf32>
  }
  loop.nest "cols" domain [3] order [0] {
    %t = loop.alloc_tile : !loop.tile<sbuf, 4, 1>
    loop.for d0 {
      loop.copy %uv <dram 0 + 4 * i0, [[3, 4], [1, 1]]> -> %t <sbuf 0, 0, [[1, 4], [1, 1]]> : memref<12xf32> -> !loop.tile<sbuf, 4, 1>
    }
  }
  loop.nest "bias" domain [] order [] {
    %bt2 = loop.alloc_tile : !loop.tile<sbuf, 2, 1>
    loop.copy %b <dram 0, [[1, 2], [1, 1]]> -> %bt2 <sbuf 0, 0, [[1, 2], [1, 1]]> : memref<2xf32> -> !loop.tile<sbuf, 2, 1>
  }
  func.return %y : memref<4x2xf32>
}

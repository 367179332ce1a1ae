// RUN: tidal-opt %s -p 'graph-to-loop{chip=small gemm_small_m=false pool_separable=false pool_bands=false}' --split-input-file | filecheck %s

// The matmuls here keep the weights stationary (gemm_small_m=false); gemm-small-m.mlir
// shows the activations-stationary nests small M gets by default.

// The small chip: a 32x32 PE array, 32 SBUF partitions, PSUM banks of 512 fp32.
// DRAM offsets are in bytes, access dims are (stride, count) in elements with the
// partition dim first; `i<d>` is the loop index of domain dim d.

// A constant becomes a DRAM constant; the signature turns into memrefs.
// CHECK-LABEL: func.func @constant() -> memref<2x2xf32> {
// CHECK-NEXT:    %[[C:.*]] = loop.const dense<{{\[\[}}1.000000e+00, 2.000000e+00], [3.000000e+00, 4.000000e+00]]> : tensor<2x2xf32> : memref<2x2xf32>
// CHECK-NEXT:    func.return %[[C]] : memref<2x2xf32>
func.func @constant() -> tensor<2x2xf32> {
  %c = graph.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  func.return %c : tensor<2x2xf32>
}

// -----

// Reshapes and flattens are free: views of the same buffer, no nest.
// CHECK-LABEL: func.func @views
// CHECK-SAME:    (%[[X:.*]]: memref<2x3x4xf32>) -> (memref<6x4xf32>, memref<24xf32>) {
// CHECK-NEXT:    %[[F:.*]] = loop.view %[[X]] : memref<2x3x4xf32> -> memref<6x4xf32>
// CHECK-NEXT:    %[[R:.*]] = loop.view %[[X]] : memref<2x3x4xf32> -> memref<24xf32>
// CHECK-NEXT:    func.return %[[F]], %[[R]] : memref<6x4xf32>, memref<24xf32>
func.func @views(%x: tensor<2x3x4xf32>) -> (tensor<6x4xf32>, tensor<24xf32>) {
  %f = graph.flatten %x {axis = 2 : i64} : (tensor<2x3x4xf32>) -> tensor<6x4xf32>
  %r = graph.reshape %x : (tensor<2x3x4xf32>) -> tensor<24xf32>
  func.return %f, %r : tensor<6x4xf32>, tensor<24xf32>
}

// -----

// matmul [4,64] x [64,48]: N = 48 splits into two 24-column tiles (d0), K = 64 into
// two 32-row tiles (d1, the reduction: zero_at = 1); the trip-1 M dim is dropped.
// B tiles are stationary (K on partitions), A^T tiles are moving (a strided DMA),
// PSUM holds Y^T [24, 4], written back with a transposing pattern after the K loop.
// CHECK-LABEL: func.func @matmul
// CHECK-SAME:    (%[[A:.*]]: memref<4x64xf32>, %[[B:.*]]: memref<64x48xf32>) -> memref<4x48xf32> {
// CHECK-NEXT:    %[[Y:.*]] = loop.alloc : memref<4x48xf32>
// CHECK-NEXT:    loop.nest "mm" domain [2, 2] order [0, 1] {
// CHECK-NEXT:      %[[ACC:.*]] = loop.alloc_tile : !loop.tile<psum, 24, 4>
// CHECK-NEXT:      %[[WT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 24>
// CHECK-NEXT:      %[[XT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 4>
// CHECK-NEXT:      %[[OUT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 24, 4>
// CHECK-NEXT:      loop.for d0 {
// CHECK-NEXT:        loop.for d1 {
// CHECK-NEXT:          loop.copy %[[B]] <dram 0 + 96 * i0 + 6144 * i1, {{\[\[}}48, 32], [1, 24]]> -> %[[WT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 24]]>
// CHECK-NEXT:          loop.copy %[[A]] <dram 0 + 128 * i1, {{\[\[}}1, 32], [64, 4]]> -> %[[XT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 4]]>
// CHECK-NEXT:          loop.matmul %[[ACC]] <psum 0, 0, {{\[\[}}1, 24], [1, 4]]>, %[[WT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 24]]>, %[[XT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 4]]> {zero_at = 1 : i64}
// CHECK-NEXT:        }
// CHECK-NEXT:        loop.act "identity" %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 24], [1, 4]]>, %[[ACC]] <psum 0, 0, {{\[\[}}1, 24], [1, 4]]> {scale = 1.000000e+00 : f32, bias = 0.000000e+00 : f32}
// CHECK-NEXT:        loop.copy %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 24], [1, 4]]> -> %[[Y]] <dram 0 + 96 * i0, {{\[\[}}1, 24], [48, 4]]>
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %[[Y]] : memref<4x48xf32>
func.func @matmul(%a: tensor<4x64xf32>, %b: tensor<64x48xf32>) -> tensor<4x48xf32> {
  %r = graph.matmul %a, %b {tidal.origin = "mm"} : (tensor<4x64xf32>, tensor<64x48xf32>) -> tensor<4x48xf32>
  func.return %r : tensor<4x48xf32>
}

// -----

// gemm with trans_b and a bias vector: B^T is read with a transposing pattern, the
// bias (constant along M) is loaded as a per-partition column and added by ACT
// while it evacuates PSUM. Every dim has one trip, so the nest has no loops.
// CHECK-LABEL: func.func @gemm_bias
// CHECK-SAME:    (%[[X:.*]]: memref<4x32xf32>, %[[W:.*]]: memref<16x32xf32>, %[[B:.*]]: memref<16xf32>) -> memref<4x16xf32> {
// CHECK-NEXT:    %[[Y:.*]] = loop.alloc : memref<4x16xf32>
// CHECK-NEXT:    loop.nest "fc" domain [] order [] {
// CHECK-NEXT:      %[[ACC:.*]] = loop.alloc_tile : !loop.tile<psum, 16, 4>
// CHECK-NEXT:      %[[WT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 16>
// CHECK-NEXT:      %[[XT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 4>
// CHECK-NEXT:      %[[OUT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 16, 4>
// CHECK-NEXT:      %[[COL:.*]] = loop.alloc_tile : !loop.tile<sbuf, 16, 1>
// CHECK-NEXT:      loop.copy %[[W]] <dram 0, {{\[\[}}1, 32], [32, 16]]> -> %[[WT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 16]]>
// CHECK-NEXT:      loop.copy %[[X]] <dram 0, {{\[\[}}1, 32], [32, 4]]> -> %[[XT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 4]]>
// CHECK-NEXT:      loop.matmul %[[ACC]] <psum 0, 0, {{\[\[}}1, 16], [1, 4]]>, %[[WT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 16]]>, %[[XT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 4]]> {zero_at = -1 : i64}
// CHECK-NEXT:      loop.copy %[[B]] <dram 0, {{\[\[}}1, 16], [1, 1]]> -> %[[COL]] <sbuf 0, 0, {{\[\[}}1, 16], [1, 1]]>
// CHECK-NEXT:      loop.act "identity" %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 16], [1, 4]]>, %[[ACC]] <psum 0, 0, {{\[\[}}1, 16], [1, 4]]> bias(%[[COL]] : !loop.tile<sbuf, 16, 1>) <sbuf 0, 0, {{\[\[}}1, 16], [1, 1]]> {scale = 1.000000e+00 : f32, bias = 0.000000e+00 : f32}
// CHECK-NEXT:      loop.copy %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 16], [1, 4]]> -> %[[Y]] <dram 0, {{\[\[}}1, 16], [16, 4]]>
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %[[Y]] : memref<4x16xf32>
func.func @gemm_bias(%x: tensor<4x32xf32>, %w: tensor<16x32xf32>, %b: tensor<16xf32>) -> tensor<4x16xf32> {
  %r = graph.gemm %x, %w, %b {trans_b = 1 : i64, tidal.origin = "fc"} : (tensor<4x32xf32>, tensor<16x32xf32>, tensor<16xf32>) -> tensor<4x16xf32>
  func.return %r : tensor<4x16xf32>
}

// -----

// gemm with trans_a, alpha, beta and a full [M, N] C: A^T is already [K, M] in DRAM
// (a plain pattern), C^T is loaded, scaled by beta on ACT, alpha scales the PSUM
// evacuation and POOL adds the two.
// CHECK-LABEL: func.func @gemm_full_c
// CHECK-SAME:    (%[[A:.*]]: memref<8x4xf32>, %[[B:.*]]: memref<8x16xf32>, %[[C:.*]]: memref<4x16xf32>) -> memref<4x16xf32> {
// CHECK-NEXT:    %[[Y:.*]] = loop.alloc : memref<4x16xf32>
// CHECK-NEXT:    loop.nest "g" domain [] order [] {
// CHECK-NEXT:      %[[ACC:.*]] = loop.alloc_tile : !loop.tile<psum, 16, 4>
// CHECK-NEXT:      %[[WT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 8, 16>
// CHECK-NEXT:      %[[XT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 8, 4>
// CHECK-NEXT:      %[[OUT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 16, 4>
// CHECK-NEXT:      %[[CT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 16, 4>
// CHECK-NEXT:      loop.copy %[[B]] <dram 0, {{\[\[}}16, 8], [1, 16]]> -> %[[WT]] <sbuf 0, 0, {{\[\[}}1, 8], [1, 16]]>
// CHECK-NEXT:      loop.copy %[[A]] <dram 0, {{\[\[}}4, 8], [1, 4]]> -> %[[XT]] <sbuf 0, 0, {{\[\[}}1, 8], [1, 4]]>
// CHECK-NEXT:      loop.matmul %[[ACC]] <psum 0, 0, {{\[\[}}1, 16], [1, 4]]>, %[[WT]] <sbuf 0, 0, {{\[\[}}1, 8], [1, 16]]>, %[[XT]] <sbuf 0, 0, {{\[\[}}1, 8], [1, 4]]> {zero_at = -1 : i64}
// CHECK-NEXT:      loop.copy %[[C]] <dram 0, {{\[\[}}1, 16], [16, 4]]> -> %[[CT]] <sbuf 0, 0, {{\[\[}}1, 16], [1, 4]]>
// CHECK-NEXT:      loop.act "identity" %[[CT]] <sbuf 0, 0, {{\[\[}}1, 16], [1, 4]]>, %[[CT]] <sbuf 0, 0, {{\[\[}}1, 16], [1, 4]]> {scale = 2.000000e+00 : f32, bias = 0.000000e+00 : f32}
// CHECK-NEXT:      loop.act "identity" %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 16], [1, 4]]>, %[[ACC]] <psum 0, 0, {{\[\[}}1, 16], [1, 4]]> {scale = 5.000000e-01 : f32, bias = 0.000000e+00 : f32}
// CHECK-NEXT:      loop.tensor_tensor "add" %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 16], [1, 4]]>, %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 16], [1, 4]]>, %[[CT]] <sbuf 0, 0, {{\[\[}}1, 16], [1, 4]]>
// CHECK-NEXT:      loop.copy %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 16], [1, 4]]> -> %[[Y]] <dram 0, {{\[\[}}1, 16], [16, 4]]>
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %[[Y]] : memref<4x16xf32>
func.func @gemm_full_c(%a: tensor<8x4xf32>, %b: tensor<8x16xf32>, %c: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %r = graph.gemm %a, %b, %c {trans_a = 1 : i64, alpha = 0.5 : f32, beta = 2.0 : f32, tidal.origin = "g"} : (tensor<8x4xf32>, tensor<8x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  func.return %r : tensor<4x16xf32>
}

// -----

// relu on [8, 64]: the 512 contiguous elements coalesce to one dim, split as
// 32 partitions x 16 elements.
// CHECK-LABEL: func.func @relu
// CHECK-SAME:    (%[[X:.*]]: memref<8x64xf32>) -> memref<8x64xf32> {
// CHECK-NEXT:    %[[Y:.*]] = loop.alloc : memref<8x64xf32>
// CHECK-NEXT:    loop.nest "r" domain [] order [] {
// CHECK-NEXT:      %[[IN:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 16>
// CHECK-NEXT:      %[[OUT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 16>
// CHECK-NEXT:      loop.copy %[[X]] <dram 0, {{\[\[}}16, 32], [1, 16]]> -> %[[IN]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 16]]>
// CHECK-NEXT:      loop.act "relu" %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 16]]>, %[[IN]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 16]]>
// CHECK-NEXT:      loop.copy %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 16]]> -> %[[Y]] <dram 0, {{\[\[}}16, 32], [1, 16]]>
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %[[Y]] : memref<8x64xf32>
func.func @relu(%x: tensor<8x64xf32>) -> tensor<8x64xf32> {
  %r = graph.relu %x {tidal.origin = "r"} : (tensor<8x64xf32>) -> tensor<8x64xf32>
  func.return %r : tensor<8x64xf32>
}

// -----

// graph.activation lowers as relu does, to one ACT instruction per tile with the
// op's function (evaluated from the chip's lookup table).
// CHECK-LABEL: func.func @activation
// CHECK-SAME:    (%[[X:.*]]: memref<8x64xf32>) -> memref<8x64xf32> {
// CHECK-NEXT:    %[[Y:.*]] = loop.alloc : memref<8x64xf32>
// CHECK-NEXT:    loop.nest "t" domain [] order [] {
// CHECK-NEXT:      %[[IN:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 16>
// CHECK-NEXT:      %[[OUT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 16>
// CHECK-NEXT:      loop.copy %[[X]] <dram 0, {{\[\[}}16, 32], [1, 16]]> -> %[[IN]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 16]]>
// CHECK-NEXT:      loop.act "tanh" %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 16]]>, %[[IN]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 16]]>
// CHECK-NEXT:      loop.copy %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 16]]> -> %[[Y]] <dram 0, {{\[\[}}16, 32], [1, 16]]>
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %[[Y]] : memref<8x64xf32>
func.func @activation(%x: tensor<8x64xf32>) -> tensor<8x64xf32> {
  %r = graph.activation %x {func = "tanh", tidal.origin = "t"} : (tensor<8x64xf32>) -> tensor<8x64xf32>
  func.return %r : tensor<8x64xf32>
}

// -----

// A training-mode dropout and a random fill: one POOL instruction per tile, drawing
// from the lanes' generators with the op's seed (the random fill reads no input).
// CHECK-LABEL: func.func @random
// CHECK:         loop.nest "d" domain [] order [] {
// CHECK-NEXT:      %[[IN:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 16>
// CHECK-NEXT:      %[[OUT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 16>
// CHECK-NEXT:      loop.copy %{{.*}} -> %[[IN]]
// CHECK-NEXT:      loop.dropout %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 16]]>, %[[IN]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 16]]> seed 7 ratio 2.500000e-01 : f32
// CHECK-NEXT:      loop.copy %[[OUT]]
// CHECK:         loop.nest "r" domain [] order [] {
// CHECK-NEXT:      %[[T:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 16>
// CHECK-NEXT:      loop.random %[[T]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 16]]> seed 3 low -1.000000e+00 : f32 high 1.000000e+00 : f32
// CHECK-NEXT:      loop.copy %[[T]]
func.func @random(%x: tensor<8x64xf32>) -> (tensor<8x64xf32>, tensor<8x64xf32>) {
  %d = graph.dropout %x {ratio = 0.25 : f32, training = 1 : i64, seed = 7 : i64, tidal.origin = "d"} : (tensor<8x64xf32>) -> tensor<8x64xf32>
  %r = graph.random_uniform_like %x {low = -1.0 : f32, seed = 3 : i64, tidal.origin = "r"} : (tensor<8x64xf32>) -> tensor<8x64xf32>
  func.return %d, %r : tensor<8x64xf32>, tensor<8x64xf32>
}

// -----

// Bernoulli: one POOL instruction per tile, reading the probabilities.
// CHECK-LABEL: func.func @bernoulli
// CHECK:         loop.nest "b" domain [] order [] {
// CHECK-NEXT:      %[[IN:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 16>
// CHECK-NEXT:      %[[OUT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 16>
// CHECK-NEXT:      loop.copy %{{.*}} -> %[[IN]]
// CHECK-NEXT:      loop.bernoulli %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 16]]>, %[[IN]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 16]]> seed 5
// CHECK-NEXT:      loop.copy %[[OUT]]
func.func @bernoulli(%p: tensor<8x64xf32>) -> tensor<8x64xf32> {
  %b = graph.bernoulli %p {seed = 5 : i64, tidal.origin = "b"} : (tensor<8x64xf32>) -> tensor<8x64xf32>
  func.return %b : tensor<8x64xf32>
}

// -----

// Clip(0, 6) (ReLU6) is ACT clip01 of x/6 then ACT identity times 6; HardSwish is
// ACT clip01 of x/6 + 1/2 into a second tile, then POOL multiplies by x.
// CHECK-LABEL: func.func @piecewise
// CHECK:         loop.nest "c" domain [] order [] {
// CHECK:           loop.act "clip01" %[[O:.*]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 16]]>, %{{.*}} {scale = 0.166666672 : f32, bias = -0.000000e+00 : f32}
// CHECK-NEXT:      loop.act "identity" %[[O]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 16]]>, %[[O]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 16]]> {scale = 6.000000e+00 : f32, bias = 0.000000e+00 : f32}
// CHECK:         loop.nest "s" domain [] order [] {
// CHECK:           loop.act "clip01" %[[T:.*]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 16]]>, %[[X:.*]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 16]]> {scale = 0.166666672 : f32, bias = 5.000000e-01 : f32}
// CHECK-NEXT:      loop.tensor_tensor "mul" %{{.*}}, %[[X]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 16]]>, %[[T]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 16]]>
func.func @piecewise(%x: tensor<8x64xf32>) -> (tensor<8x64xf32>, tensor<8x64xf32>) {
  %c = graph.piecewise_linear %x {kind = "clip", alpha = 0.0 : f32, beta = 6.0 : f32, tidal.origin = "c"} : (tensor<8x64xf32>) -> tensor<8x64xf32>
  %s = graph.piecewise_linear %x {kind = "hard_swish", alpha = 0.166666672 : f32, beta = 0.5 : f32, tidal.origin = "s"} : (tensor<8x64xf32>) -> tensor<8x64xf32>
  func.return %c, %s : tensor<8x64xf32>, tensor<8x64xf32>
}

// -----

// add with broadcasting [1,8,4,4] + [8,1,1]: channels on partitions, the 4x4
// pixels coalesce to 16 free elements; the per-channel operand is read with a
// stride-0 free dim.
// CHECK-LABEL: func.func @add_broadcast
// CHECK-SAME:    (%[[X:.*]]: memref<1x8x4x4xf32>, %[[S:.*]]: memref<8x1x1xf32>) -> memref<1x8x4x4xf32> {
// CHECK-NEXT:    %[[Y:.*]] = loop.alloc : memref<1x8x4x4xf32>
// CHECK-NEXT:    loop.nest "add" domain [] order [] {
// CHECK-NEXT:      %[[XT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 8, 16>
// CHECK-NEXT:      %[[ST:.*]] = loop.alloc_tile : !loop.tile<sbuf, 8, 16>
// CHECK-NEXT:      %[[OUT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 8, 16>
// CHECK-NEXT:      loop.copy %[[X]] <dram 0, {{\[\[}}16, 8], [1, 16]]> -> %[[XT]] <sbuf 0, 0, {{\[\[}}1, 8], [1, 16]]>
// CHECK-NEXT:      loop.copy %[[S]] <dram 0, {{\[\[}}1, 8], [0, 16]]> -> %[[ST]] <sbuf 0, 0, {{\[\[}}1, 8], [1, 16]]>
// CHECK-NEXT:      loop.tensor_tensor "add" %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 8], [1, 16]]>, %[[XT]] <sbuf 0, 0, {{\[\[}}1, 8], [1, 16]]>, %[[ST]] <sbuf 0, 0, {{\[\[}}1, 8], [1, 16]]>
// CHECK-NEXT:      loop.copy %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 8], [1, 16]]> -> %[[Y]] <dram 0, {{\[\[}}16, 8], [1, 16]]>
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %[[Y]] : memref<1x8x4x4xf32>
func.func @add_broadcast(%x: tensor<1x8x4x4xf32>, %s: tensor<8x1x1xf32>) -> tensor<1x8x4x4xf32> {
  %r = graph.add %x, %s {tidal.origin = "add"} : (tensor<1x8x4x4xf32>, tensor<8x1x1xf32>) -> tensor<1x8x4x4xf32>
  func.return %r : tensor<1x8x4x4xf32>
}

// -----

// mul of two [2, 64]: 128 contiguous elements as 32 partitions x 4.
// CHECK-LABEL: func.func @mul
// CHECK-SAME:    (%[[X:.*]]: memref<2x64xf32>, %[[Z:.*]]: memref<2x64xf32>) -> memref<2x64xf32> {
// CHECK-NEXT:    %[[Y:.*]] = loop.alloc : memref<2x64xf32>
// CHECK-NEXT:    loop.nest "mul" domain [] order [] {
// CHECK-NEXT:      %[[XT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 4>
// CHECK-NEXT:      %[[ZT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 4>
// CHECK-NEXT:      %[[OUT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 4>
// CHECK-NEXT:      loop.copy %[[X]] <dram 0, {{\[\[}}4, 32], [1, 4]]> -> %[[XT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 4]]>
// CHECK-NEXT:      loop.copy %[[Z]] <dram 0, {{\[\[}}4, 32], [1, 4]]> -> %[[ZT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 4]]>
// CHECK-NEXT:      loop.tensor_tensor "mul" %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 4]]>, %[[XT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 4]]>, %[[ZT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 4]]>
// CHECK-NEXT:      loop.copy %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 4]]> -> %[[Y]] <dram 0, {{\[\[}}4, 32], [1, 4]]>
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %[[Y]] : memref<2x64xf32>
func.func @mul(%x: tensor<2x64xf32>, %z: tensor<2x64xf32>) -> tensor<2x64xf32> {
  %r = graph.mul %x, %z {tidal.origin = "mul"} : (tensor<2x64xf32>, tensor<2x64xf32>) -> tensor<2x64xf32>
  func.return %r : tensor<2x64xf32>
}

// -----

// maxpool 3x3 stride 2 with pads (top 1, left 1): the padded 5x5 plane is a tile
// filled with -inf (0xff800000) before the input is copied into its middle (a halo,
// no padded copy in DRAM; pool_halo=false pads in DRAM as conv does), then POOL
// reduces over the last two dims of a 4-dim window (pool_separable=false here; the
// default's maxima of rows of column maxima are in pool-halo.mlir).
// CHECK-LABEL: func.func @maxpool
// CHECK-SAME:    (%[[X:.*]]: memref<1x4x4x4xf32>) -> memref<1x4x2x2xf32> {
// CHECK-NEXT:    %[[Y:.*]] = loop.alloc : memref<1x4x2x2xf32>
// CHECK-NEXT:    loop.nest "pool" domain [] order [] {
// CHECK-NEXT:      %[[XT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 4, 25>
// CHECK-NEXT:      %[[OUT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 4, 4>
// CHECK-NEXT:      loop.memset %[[XT]] <sbuf 0, 0, {{\[\[}}1, 4], [1, 25]]> = 0xff800000 : f32
// CHECK-NEXT:      loop.copy %[[X]] <dram 0, {{\[\[}}16, 4], [4, 4], [1, 4]]> -> %[[XT]] <sbuf 0, 24, {{\[\[}}1, 4], [5, 4], [1, 4]]>
// CHECK-NEXT:      loop.reduce "max" %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 4], [1, 4]]>, %[[XT]] <sbuf 0, 0, {{\[\[}}1, 4], [10, 2], [2, 2], [5, 3], [1, 3]]> {nreduce = 2 : i64, scale = 1.000000e+00 : f32}
// CHECK-NEXT:      loop.copy %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 4], [1, 4]]> -> %[[Y]] <dram 0, {{\[\[}}4, 4], [1, 4]]>
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %[[Y]] : memref<1x4x2x2xf32>
func.func @maxpool(%x: tensor<1x4x4x4xf32>) -> tensor<1x4x2x2xf32> {
  %r = graph.maxpool %x {kernel_shape = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 0, 0>, tidal.origin = "pool"} : (tensor<1x4x4x4xf32>) -> tensor<1x4x2x2xf32>
  func.return %r : tensor<1x4x2x2xf32>
}

// -----

// softmax on the last axis of [64, 10]: rows on partitions, two 32-row tiles (d0);
// max, -max, exp(x - max) with a bias column into a second row (EXP: the loaded row
// is only read), sum, reciprocal, scale by a column.
// CHECK-LABEL: func.func @softmax_last
// CHECK-SAME:    (%[[X:.*]]: memref<64x10xf32>) -> memref<64x10xf32> {
// CHECK-NEXT:    %[[Y:.*]] = loop.alloc : memref<64x10xf32>
// CHECK-NEXT:    loop.nest "sm" domain [2] order [0] {
// CHECK-NEXT:      %[[ROW:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 10>
// CHECK-NEXT:      %[[MAX:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 1>
// CHECK-NEXT:      %[[NEG:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 1>
// CHECK-NEXT:      %[[SUM:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 1>
// CHECK-NEXT:      %[[REC:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 1>
// CHECK-NEXT:      %[[EXP:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 10>
// CHECK-NEXT:      loop.for d0 {
// CHECK-NEXT:        loop.copy %[[X]] <dram 0 + 1280 * i0, {{\[\[}}10, 32], [1, 10]]> -> %[[ROW]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 10]]>
// CHECK-NEXT:        loop.reduce "max" %[[MAX]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 1]]>, %[[ROW]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 10]]> {nreduce = 1 : i64, scale = 1.000000e+00 : f32}
// CHECK-NEXT:        loop.act "identity" %[[NEG]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 1]]>, %[[MAX]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 1]]> {scale = -1.000000e+00 : f32, bias = 0.000000e+00 : f32}
// CHECK-NEXT:        loop.act "exp" %[[EXP]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 10]]>, %[[ROW]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 10]]> bias(%[[NEG]] : !loop.tile<sbuf, 32, 1>) <sbuf 0, 0, {{\[\[}}1, 32], [1, 1]]>
// CHECK-NEXT:        loop.reduce "add" %[[SUM]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 1]]>, %[[EXP]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 10]]> {nreduce = 1 : i64, scale = 1.000000e+00 : f32}
// CHECK-NEXT:        loop.act "reciprocal" %[[REC]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 1]]>, %[[SUM]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 1]]>
// CHECK-NEXT:        loop.act "identity" %[[EXP]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 10]]>, %[[EXP]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 10]]> scale(%[[REC]] : !loop.tile<sbuf, 32, 1>) <sbuf 0, 0, {{\[\[}}1, 32], [1, 1]]>
// CHECK-NEXT:        loop.copy %[[EXP]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 10]]> -> %[[Y]] <dram 0 + 1280 * i0, {{\[\[}}10, 32], [1, 10]]>
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %[[Y]] : memref<64x10xf32>
func.func @softmax_last(%x: tensor<64x10xf32>) -> tensor<64x10xf32> {
  %r = graph.softmax %x {axis = 1 : i64, tidal.origin = "sm"} : (tensor<64x10xf32>) -> tensor<64x10xf32>
  func.return %r : tensor<64x10xf32>
}

// -----

// softmax on the middle axis of [2, 3, 4]: the 4 inner positions go on partitions
// and the axis (stride 4) becomes the free dim; the outer dim is the loop (d0).
// CHECK-LABEL: func.func @softmax_middle
// CHECK-SAME:    (%[[X:.*]]: memref<2x3x4xf32>) -> memref<2x3x4xf32> {
// CHECK-NEXT:    %[[Y:.*]] = loop.alloc : memref<2x3x4xf32>
// CHECK-NEXT:    loop.nest "sm1" domain [2] order [0] {
// CHECK-NEXT:      %[[ROW:.*]] = loop.alloc_tile : !loop.tile<sbuf, 4, 3>
// CHECK-COUNT-4:   loop.alloc_tile : !loop.tile<sbuf, 4, 1>
// CHECK-NEXT:      %[[EXP:.*]] = loop.alloc_tile : !loop.tile<sbuf, 4, 3>
// CHECK-NEXT:      loop.for d0 {
// CHECK-NEXT:        loop.copy %[[X]] <dram 0 + 48 * i0, {{\[\[}}1, 4], [4, 3]]> -> %[[ROW]] <sbuf 0, 0, {{\[\[}}1, 4], [1, 3]]>
// CHECK-NEXT:        loop.reduce "max" %{{.*}} <sbuf 0, 0, {{\[\[}}1, 4], [1, 1]]>, %[[ROW]] <sbuf 0, 0, {{\[\[}}1, 4], [1, 3]]> {nreduce = 1 : i64
// CHECK-NEXT:        loop.act "identity"
// CHECK-NEXT:        loop.act "exp" %[[EXP]] {{.*}}, %[[ROW]]
// CHECK-NEXT:        loop.reduce "add"
// CHECK-NEXT:        loop.act "reciprocal"
// CHECK-NEXT:        loop.act "identity" %[[EXP]]
// CHECK-NEXT:        loop.copy %[[EXP]] <sbuf 0, 0, {{\[\[}}1, 4], [1, 3]]> -> %[[Y]] <dram 0 + 48 * i0, {{\[\[}}1, 4], [4, 3]]>
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %[[Y]] : memref<2x3x4xf32>
func.func @softmax_middle(%x: tensor<2x3x4xf32>) -> tensor<2x3x4xf32> {
  %r = graph.softmax %x {axis = 1 : i64, tidal.origin = "sm1"} : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  func.return %r : tensor<2x3x4xf32>
}

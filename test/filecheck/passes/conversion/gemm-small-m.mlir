// RUN: tidal-opt %s -p 'graph-to-loop{chip=small}' | filecheck %s
// RUN: tidal-opt %s -p 'graph-to-loop{chip=small gemm_small_m=false}' | filecheck %s --check-prefix=OFF

// A batch-1 fully connected layer, y[1, 1024] = x[1, 128] @ w[1024, 128]^T + b, on the
// small chip (32x32 PE array, PSUM banks of 512 fp32).
//
// gemm_small_m (default): X^T is loaded once as [32 K rows, 4 K steps] and each K
// step's column is the stationary operand; each K step loads all 1024 weight columns
// in one descriptor and streams them as two 512-column matmuls, one PSUM bank each
// (Y rows, not Y^T). K steps come in pairs into two weight buffers (offsets 0 and
// 4096), so only the first of a pair starts the sums (zero_at); the bias row is
// loaded once and added on POOL as PSUM is evacuated; Y is stored in one descriptor.
// CHECK-LABEL: func.func @fc
// CHECK-SAME:    (%[[X:.*]]: memref<1x128xf32>, %[[W:.*]]: memref<1024x128xf32>, %[[B:.*]]: memref<1024xf32>) -> memref<1x1024xf32> {
// CHECK-NEXT:    %[[Y:.*]] = loop.alloc : memref<1x1024xf32>
// CHECK-NEXT:    loop.nest "fc" domain [2] order [0] {
// CHECK-NEXT:      %[[XT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 4>
// CHECK-NEXT:      %[[WT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 2048>
// CHECK-NEXT:      %[[ACC0:.*]] = loop.alloc_tile : !loop.tile<psum, 1, 512>
// CHECK-NEXT:      %[[ACC1:.*]] = loop.alloc_tile : !loop.tile<psum, 1, 512>
// CHECK-NEXT:      %[[OUT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 1, 1024>
// CHECK-NEXT:      %[[CT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 1, 1024>
// CHECK-NEXT:      loop.copy %[[X]] <dram 0, {{\[\[}}1, 32], [32, 4], [128, 1]]> -> %[[XT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 4]]>
// CHECK-NEXT:      loop.copy %[[B]] <dram 0, {{\[\[}}1024, 1], [1, 1024]]> -> %[[CT]] <sbuf 0, 0, {{\[\[}}1, 1], [1, 1024]]>
// CHECK-NEXT:      loop.for d0 {
// CHECK-NEXT:        loop.copy %[[W]] <dram 0 + 256 * i0, {{\[\[}}1, 32], [128, 1024]]> -> %[[WT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 1024]]>
// CHECK-NEXT:        loop.matmul %[[ACC0]] <psum 0, 0, {{\[\[}}1, 1], [1, 512]]>, %[[XT]] <sbuf 0, 0 + 8 * i0, {{\[\[}}1, 32], [1, 1]]>, %[[WT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 512]]> {zero_at = 0 : i64}
// CHECK-NEXT:        loop.matmul %[[ACC1]] <psum 0, 0, {{\[\[}}1, 1], [1, 512]]>, %[[XT]] <sbuf 0, 0 + 8 * i0, {{\[\[}}1, 32], [1, 1]]>, %[[WT]] <sbuf 0, 2048, {{\[\[}}1, 32], [1, 512]]> {zero_at = 0 : i64}
// CHECK-NEXT:        loop.copy %[[W]] <dram 128 + 256 * i0, {{\[\[}}1, 32], [128, 1024]]> -> %[[WT]] <sbuf 0, 4096, {{\[\[}}1, 32], [1, 1024]]>
// CHECK-NEXT:        loop.matmul %[[ACC0]] <psum 0, 0, {{\[\[}}1, 1], [1, 512]]>, %[[XT]] <sbuf 0, 4 + 8 * i0, {{\[\[}}1, 32], [1, 1]]>, %[[WT]] <sbuf 0, 4096, {{\[\[}}1, 32], [1, 512]]> :
// CHECK-NEXT:        loop.matmul %[[ACC1]] <psum 0, 0, {{\[\[}}1, 1], [1, 512]]>, %[[XT]] <sbuf 0, 4 + 8 * i0, {{\[\[}}1, 32], [1, 1]]>, %[[WT]] <sbuf 0, 6144, {{\[\[}}1, 32], [1, 512]]> :
// CHECK-NEXT:      }
// CHECK-NEXT:      loop.tensor_tensor "add" %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 1], [1, 512]]>, %[[ACC0]] <psum 0, 0, {{\[\[}}1, 1], [1, 512]]>, %[[CT]] <sbuf 0, 0, {{\[\[}}1, 1], [1, 512]]>
// CHECK-NEXT:      loop.tensor_tensor "add" %[[OUT]] <sbuf 0, 2048, {{\[\[}}1, 1], [1, 512]]>, %[[ACC1]] <psum 0, 0, {{\[\[}}1, 1], [1, 512]]>, %[[CT]] <sbuf 0, 2048, {{\[\[}}1, 1], [1, 512]]>
// CHECK-NEXT:      loop.copy %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 1], [1, 1024]]> -> %[[Y]] <dram 0, {{\[\[}}1024, 1], [1, 1024]]>
// CHECK-NEXT:    }
//
// gemm_small_m=false: 32 weight tiles of [32, 32] stationary, each streaming one
// column of X^T, over 4 K steps: 128 one-column matmuls and 256 small descriptors.
// OFF-LABEL: func.func @fc
// OFF:         loop.nest "fc" domain [32, 4] order [0, 1] {
// OFF:             loop.copy %{{.*}} <dram 0 + 16384 * i0 + 128 * i1, {{\[\[}}1, 32], [128, 32]]>
// OFF-NEXT:        loop.copy %{{.*}} <dram 0 + 128 * i1, {{\[\[}}1, 32], [128, 1]]>
// OFF-NEXT:        loop.matmul %{{.*}} <psum 0, 0, {{\[\[}}1, 32], [1, 1]]>, %{{.*}} <sbuf 0, 0, {{\[\[}}1, 32], [1, 32]]>, %{{.*}} <sbuf 0, 0, {{\[\[}}1, 32], [1, 1]]> {zero_at = 1 : i64}
func.func @fc(%x: tensor<1x128xf32>, %w: tensor<1024x128xf32>, %b: tensor<1024xf32>) -> tensor<1x1024xf32> {
  %r = graph.gemm %x, %w, %b {trans_b = 1 : i64, tidal.origin = "fc"} : (tensor<1x128xf32>, tensor<1024x128xf32>, tensor<1024xf32>) -> tensor<1x1024xf32>
  func.return %r : tensor<1x1024xf32>
}

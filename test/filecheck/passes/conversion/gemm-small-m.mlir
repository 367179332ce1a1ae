// RUN: tidal-opt %s -p 'graph-to-loop{chip=small}' | filecheck %s
// RUN: tidal-opt %s -p 'graph-to-loop{chip=small gemm_small_m=false}' | filecheck %s --check-prefix=OFF

// A batch-1 fully connected layer, y[1, 1024] = x[1, 256] @ w[1024, 256]^T + b, on the
// small chip (32x32 PE array, PSUM banks of 512 fp32): 8 K steps of 32 rows.
//
// gemm_small_m (default): X^T is loaded once as [32 K rows, 8 K steps] and step t's
// column is the stationary operand; each step loads all 1024 weight columns in one
// descriptor and streams them as two 512-column matmuls, one PSUM bank each (Y rows,
// not Y^T). Two weight buffers (offsets 0 and 4096), the loads one step ahead:
// step 0 before the loop (then X^T, on another DMA queue), the loop (3 iterations
// of 2 steps) loads steps 2i + 1 and 2i + 2 each before the matmuls of the step
// before, and steps 6 and 7 follow it; only step 0 starts the sums (zero_at). The
// bias row is loaded once and added on POOL as PSUM is evacuated; Y is one store.
// CHECK-LABEL: func.func @fc
// CHECK-SAME:    (%[[X:.*]]: memref<1x256xf32>, %[[W:.*]]: memref<1024x256xf32>, %[[B:.*]]: memref<1024xf32>) -> memref<1x1024xf32> {
// CHECK-NEXT:    %[[Y:.*]] = loop.alloc : memref<1x1024xf32>
// CHECK-NEXT:    loop.nest "fc" domain [3] order [0] {
// CHECK-NEXT:      %[[XT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 8>
// CHECK-NEXT:      %[[WT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 32, 2048>
// CHECK-NEXT:      %[[ACC0:.*]] = loop.alloc_tile : !loop.tile<psum, 1, 512>
// CHECK-NEXT:      %[[ACC1:.*]] = loop.alloc_tile : !loop.tile<psum, 1, 512>
// CHECK-NEXT:      %[[OUT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 1, 1024>
// CHECK-NEXT:      %[[CT:.*]] = loop.alloc_tile : !loop.tile<sbuf, 1, 1024>
// CHECK-NEXT:      loop.copy %[[B]] <dram 0, {{\[\[}}1024, 1], [1, 1024]]> -> %[[CT]] <sbuf 0, 0, {{\[\[}}1, 1], [1, 1024]]>
// CHECK-NEXT:      loop.copy %[[W]] <dram 0, {{\[\[}}1, 32], [256, 1024]]> -> %[[WT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 1024]]>
// CHECK-NEXT:      loop.copy %[[X]] <dram 0, {{\[\[}}1, 32], [32, 8], [256, 1]]> -> %[[XT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 8]]>
// CHECK-NEXT:      loop.for d0 {
// CHECK-NEXT:        loop.copy %[[W]] <dram 128 + 256 * i0, {{\[\[}}1, 32], [256, 1024]]> -> %[[WT]] <sbuf 0, 4096, {{\[\[}}1, 32], [1, 1024]]>
// CHECK-NEXT:        loop.matmul %[[ACC0]] <psum 0, 0, {{\[\[}}1, 1], [1, 512]]>, %[[XT]] <sbuf 0, 0 + 8 * i0, {{\[\[}}1, 32], [1, 1]]>, %[[WT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 512]]> {zero_at = 0 : i64}
// CHECK-NEXT:        loop.matmul %[[ACC1]] <psum 0, 0, {{\[\[}}1, 1], [1, 512]]>, %[[XT]] <sbuf 0, 0 + 8 * i0, {{\[\[}}1, 32], [1, 1]]>, %[[WT]] <sbuf 0, 2048, {{\[\[}}1, 32], [1, 512]]> {zero_at = 0 : i64}
// CHECK-NEXT:        loop.copy %[[W]] <dram 256 + 256 * i0, {{\[\[}}1, 32], [256, 1024]]> -> %[[WT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 1024]]>
// CHECK-NEXT:        loop.matmul %[[ACC0]] <psum 0, 0, {{\[\[}}1, 1], [1, 512]]>, %[[XT]] <sbuf 0, 4 + 8 * i0, {{\[\[}}1, 32], [1, 1]]>, %[[WT]] <sbuf 0, 4096, {{\[\[}}1, 32], [1, 512]]> :
// CHECK-NEXT:        loop.matmul %[[ACC1]] <psum 0, 0, {{\[\[}}1, 1], [1, 512]]>, %[[XT]] <sbuf 0, 4 + 8 * i0, {{\[\[}}1, 32], [1, 1]]>, %[[WT]] <sbuf 0, 6144, {{\[\[}}1, 32], [1, 512]]> :
// CHECK-NEXT:      }
// CHECK-NEXT:      loop.copy %[[W]] <dram 896, {{\[\[}}1, 32], [256, 1024]]> -> %[[WT]] <sbuf 0, 4096, {{\[\[}}1, 32], [1, 1024]]>
// CHECK-NEXT:      loop.matmul %[[ACC0]] <psum 0, 0, {{\[\[}}1, 1], [1, 512]]>, %[[XT]] <sbuf 0, 24, {{\[\[}}1, 32], [1, 1]]>, %[[WT]] <sbuf 0, 0, {{\[\[}}1, 32], [1, 512]]> :
// CHECK-NEXT:      loop.matmul %[[ACC1]] <psum 0, 0, {{\[\[}}1, 1], [1, 512]]>, %[[XT]] <sbuf 0, 24, {{\[\[}}1, 32], [1, 1]]>, %[[WT]] <sbuf 0, 2048, {{\[\[}}1, 32], [1, 512]]> :
// CHECK-NEXT:      loop.matmul %[[ACC0]] <psum 0, 0, {{\[\[}}1, 1], [1, 512]]>, %[[XT]] <sbuf 0, 28, {{\[\[}}1, 32], [1, 1]]>, %[[WT]] <sbuf 0, 4096, {{\[\[}}1, 32], [1, 512]]> :
// CHECK-NEXT:      loop.matmul %[[ACC1]] <psum 0, 0, {{\[\[}}1, 1], [1, 512]]>, %[[XT]] <sbuf 0, 28, {{\[\[}}1, 32], [1, 1]]>, %[[WT]] <sbuf 0, 6144, {{\[\[}}1, 32], [1, 512]]> :
// CHECK-NEXT:      loop.tensor_tensor "add" %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 1], [1, 512]]>, %[[ACC0]] <psum 0, 0, {{\[\[}}1, 1], [1, 512]]>, %[[CT]] <sbuf 0, 0, {{\[\[}}1, 1], [1, 512]]>
// CHECK-NEXT:      loop.tensor_tensor "add" %[[OUT]] <sbuf 0, 2048, {{\[\[}}1, 1], [1, 512]]>, %[[ACC1]] <psum 0, 0, {{\[\[}}1, 1], [1, 512]]>, %[[CT]] <sbuf 0, 2048, {{\[\[}}1, 1], [1, 512]]>
// CHECK-NEXT:      loop.copy %[[OUT]] <sbuf 0, 0, {{\[\[}}1, 1], [1, 1024]]> -> %[[Y]] <dram 0, {{\[\[}}1024, 1], [1, 1024]]>
// CHECK-NEXT:    }
//
// gemm_small_m=false: 32 weight tiles of [32, 32] stationary, each streaming one
// column of X^T, over 8 K steps: 256 one-column matmuls and 512 small descriptors.
// OFF-LABEL: func.func @fc
// OFF:         loop.nest "fc" domain [32, 8] order [0, 1] {
// OFF:             loop.copy %{{.*}} <dram 0 + 32768 * i0 + 128 * i1, {{\[\[}}1, 32], [256, 32]]>
// OFF-NEXT:        loop.copy %{{.*}} <dram 0 + 128 * i1, {{\[\[}}1, 32], [256, 1]]>
// OFF-NEXT:        loop.matmul %{{.*}} <psum 0, 0, {{\[\[}}1, 32], [1, 1]]>, %{{.*}} <sbuf 0, 0, {{\[\[}}1, 32], [1, 32]]>, %{{.*}} <sbuf 0, 0, {{\[\[}}1, 32], [1, 1]]> {zero_at = 1 : i64}
func.func @fc(%x: tensor<1x256xf32>, %w: tensor<1024x256xf32>, %b: tensor<1024xf32>) -> tensor<1x1024xf32> {
  %r = graph.gemm %x, %w, %b {trans_b = 1 : i64, tidal.origin = "fc"} : (tensor<1x256xf32>, tensor<1024x256xf32>, tensor<1024xf32>) -> tensor<1x1024xf32>
  func.return %r : tensor<1x1024xf32>
}
